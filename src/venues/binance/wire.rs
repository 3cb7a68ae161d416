//! Binance wire formats (spot, USDⓈ-M, COIN-M market streams and REST depth snapshots),
//! parsed with sonic-rs straight into fixed point, with no allocation.
//!
//! Sources:
//! - spot streams: <https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams>
//! - USDⓈ-M streams: <https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams>
//! - COIN-M streams: <https://developers.binance.com/docs/derivatives/coin-margined-futures/websocket-market-streams>
//! - REST depth: `GET /api/v3/depth`, `/fapi/v1/depth`, `/dapi/v1/depth`
//!
//! Real samples (from `../shared/data/binance/`, 2024-08-08):
//! ```text
//! {"stream":"btcusdt@bookTicker","data":{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000","a":"61837.64000000","A":"1.54698000"}}
//! {"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1723161255308,"s":"BTCUSDT","U":50093239203,"u":50093239207,"b":[["55653.87000000","0.00000000"]],"a":[["61838.04000000","0.32332000"]]}}
//! {"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1723161256299,"T":1723161256298,"s":"BTCUSDT","U":5123107832006,"u":5123107837557,"pu":5123107831937,"b":[["58710.20","0.014"]],"a":[["61800.30","3.330"]]}}
//! {"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}}
//! {"stream":"btcusd_perp@bookTicker","data":{"u":1007198632021,"e":"bookTicker","s":"BTCUSD_PERP","ps":"BTCUSD","b":"61804.7","B":"35","a":"61804.8","A":"1645","T":1723161257465,"E":1723161257476}}
//! {"lastUpdateId":50093239218,"bids":[["61837.63000000","3.78826000"],...],"asks":[...]}
//! ```
//!
//! Partial book (`../shared/data/triangle/`, 2025-08-31; top 5 per side, cut here):
//! ```text
//! {"stream":"ethbtc@depth5@100ms","data":{"lastUpdateId":8397416438,"bids":[["0.04100000","59.12780000"],...],"asks":[["0.04101000","7.64360000"],...]}}
//! ```
#![forbid(unsafe_code)]

use crate::types::Side;
use crate::venues::symbols::SymbolTable;
use crate::venues::wire_util::{
    read_json, skip_rest, Buffers, ChangesSeed, DecSeed, LevelsSeed, Object, ObjectSeed, Scale,
    WireError,
};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess};

/// Which stream a message came from (from the `stream` name's suffix).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum StreamKind {
    /// `<sym>@bookTicker`.
    BookTicker,
    /// `<sym>@depth`, `@depth@100ms`, `@depth@0ms`, ...
    Depth,
    /// `<sym>@depth5`, `@depth10`, `@depth20`, each also with `@100ms` / `@1000ms` (spot) or
    /// `@250ms` / `@500ms` (futures): partial book, the full top N levels at one update id
    /// (`lastUpdateId` + `bids`/`asks` on spot, `u` + `b`/`a` on futures).
    PartialDepth,
    /// `<sym>@trade`.
    Trade,
    /// `<sym>@aggTrade`.
    AggTrade,
    /// Anything else (kline, markPrice, ...): counted as unknown.
    #[default]
    Other,
}

impl StreamKind {
    /// Classify the part of a stream name after the first `@`.
    pub fn from_suffix(s: &str) -> StreamKind {
        if s == "bookTicker" {
            StreamKind::BookTicker
        } else if s == "depth" || s.starts_with("depth@") {
            StreamKind::Depth
        } else if is_partial_depth(s) {
            StreamKind::PartialDepth
        } else if s == "trade" {
            StreamKind::Trade
        } else if s == "aggTrade" {
            StreamKind::AggTrade
        } else {
            StreamKind::Other
        }
    }
}

/// True for a partial-book stream suffix: `depth5`, `depth10` or `depth20`, alone or followed
/// by an `@<speed>` suffix.
pub fn is_partial_depth(suffix: &str) -> bool {
    let name = suffix.split_once('@').map_or(suffix, |(n, _)| n);
    matches!(name, "depth5" | "depth10" | "depth20")
}

/// Fields of one stream message (flat; which are set depends on the kind). The levels of a depth
/// update go to [`Buffers::changes`], bids and asks in message order; those of a partial book
/// to [`Buffers::bids`] and [`Buffers::asks`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamMsg {
    /// Stream kind.
    pub kind: StreamKind,
    /// Index of the instrument in the handler's table.
    pub inst: usize,
    /// `U`: first update id in a depth event.
    pub first_id: u64,
    /// `u`: final update id (depth, bookTicker).
    pub last_id: u64,
    /// `pu`: final update id of the previous depth event (futures only).
    pub prev_id: Option<u64>,
    /// bookTicker `b`.
    pub bid_px: i64,
    /// bookTicker `B`.
    pub bid_qty: i64,
    /// bookTicker `a`.
    pub ask_px: i64,
    /// bookTicker `A`.
    pub ask_qty: i64,
    /// Trade id `t` (or aggregate id `a`).
    pub trade_id: u64,
    /// Trade price.
    pub px: i64,
    /// Trade quantity.
    pub qty: i64,
    /// `m`: buyer is the maker (the aggressor sold).
    pub buyer_maker: bool,
    /// `E` event time, ms.
    pub event_ms: u64,
    /// Fields seen, as bits (to check required fields).
    pub seen: u32,
}

pub(super) const F_U: u32 = 1;
pub(super) const F_UU: u32 = 2;
pub(super) const F_PU: u32 = 4;
pub(super) const F_B: u32 = 8;
pub(super) const F_BQ: u32 = 16;
pub(super) const F_A: u32 = 32;
pub(super) const F_AQ: u32 = 64;
pub(super) const F_T: u32 = 128;
pub(super) const F_P: u32 = 256;
pub(super) const F_Q: u32 = 512;
pub(super) const F_M: u32 = 1024;
pub(super) const F_LEVELS_B: u32 = 2048;
pub(super) const F_LEVELS_A: u32 = 4096;

/// Parse one combined-stream message `{"stream":..., "data":{...}}`: [`WireError::Unknown`] for
/// a stream this handler does not use (or a control reply), [`WireError::UnknownSymbol`] for a
/// symbol `symbols` lacks (stream names spell it in lower case: the table must ignore case).
/// The hand scanner ([`super::scan`]) reads the usual messages; whatever it does not read
/// with certainty goes through [`parse_stream_sonic`], which gives the same result for what
/// both read.
#[inline]
pub fn parse_stream(
    raw: &[u8],
    symbols: &SymbolTable,
    levels: &mut Buffers,
) -> Result<StreamMsg, WireError> {
    match super::scan::scan_stream(raw, symbols, levels) {
        Some(m) => Ok(m),
        None => parse_stream_sonic(raw, symbols, levels),
    }
}

/// [`parse_stream`] through sonic-rs alone (the fallback of the hand scanner, and its reference
/// in the differential test and fuzz target).
pub fn parse_stream_sonic(
    raw: &[u8],
    symbols: &SymbolTable,
    levels: &mut Buffers,
) -> Result<StreamMsg, WireError> {
    let mut de = sonic_rs::Deserializer::from_slice(raw);
    let mut msg = StreamMsg::default();
    let parsed = seed_stream(&mut de, symbols, levels, &mut msg)?;
    if !parsed || de.end().is_err() {
        return Err(WireError::Malformed);
    }
    check_stream(msg)
}

/// [`parse_stream`] driven by any serde JSON deserializer instead of sonic-rs: the same seeds,
/// checks and output, except that the caller checks that nothing follows the message. The
/// component benchmark compares JSON libraries with it (`bench/components/json.rs`).
#[inline]
pub fn parse_stream_de<'de, D: Deserializer<'de>>(
    de: D,
    symbols: &SymbolTable,
    levels: &mut Buffers,
) -> Result<StreamMsg, WireError> {
    let mut msg = StreamMsg::default();
    if !seed_stream(de, symbols, levels, &mut msg)? {
        return Err(WireError::Malformed);
    }
    check_stream(msg)
}

/// Run the envelope seed; `Ok(parsed)` unless the stream or symbol is unknown.
#[inline(always)]
fn seed_stream<'de, D: Deserializer<'de>>(
    de: D,
    symbols: &SymbolTable,
    levels: &mut Buffers,
    msg: &mut StreamMsg,
) -> Result<bool, WireError> {
    levels.changes.clear();
    levels.bids.clear();
    levels.asks.clear();
    let mut status = None;
    let parsed = Object(EnvelopeSeed {
        symbols,
        msg,
        levels,
        status: &mut status,
    })
    .deserialize(de)
    .is_ok();
    match status {
        Some(e) => Err(e),
        None => Ok(parsed),
    }
}

/// Required fields of the parsed kind.
#[inline(always)]
pub(crate) fn check_stream(msg: StreamMsg) -> Result<StreamMsg, WireError> {
    let need = match msg.kind {
        StreamKind::BookTicker => F_UU | F_B | F_BQ | F_A | F_AQ,
        StreamKind::Depth => F_U | F_UU,
        StreamKind::PartialDepth => F_UU | F_LEVELS_B | F_LEVELS_A,
        StreamKind::Trade | StreamKind::AggTrade => F_T | F_P | F_Q | F_M,
        StreamKind::Other => 0,
    };
    if msg.seen & need != need {
        return Err(WireError::MissingField(missing_name(need & !msg.seen)));
    }
    if msg.kind == StreamKind::Depth && msg.seen & (F_LEVELS_A | F_LEVELS_B) == 0 {
        return Err(WireError::MissingField("b/a"));
    }
    Ok(msg)
}

fn missing_name(bits: u32) -> &'static str {
    for (b, n) in [
        (F_LEVELS_B, "bids"),
        (F_LEVELS_A, "asks"),
        (F_U, "U"),
        (F_UU, "u"),
        (F_B, "b"),
        (F_BQ, "B"),
        (F_A, "a"),
        (F_AQ, "A"),
        (F_T, "t"),
        (F_P, "p"),
        (F_Q, "q"),
        (F_M, "m"),
    ] {
        if bits & b != 0 {
            return n;
        }
    }
    "?"
}

struct EnvelopeSeed<'a> {
    symbols: &'a SymbolTable,
    msg: &'a mut StreamMsg,
    levels: &'a mut Buffers,
    status: &'a mut Option<WireError>,
}

impl<'de> ObjectSeed<'de> for EnvelopeSeed<'_> {
    type Value = ();
    const EXPECTING: &'static str = "a combined-stream envelope";
    fn visit<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut scale: Option<Scale> = None;
        while let Some(k) = map.next_key::<&str>()? {
            match k {
                "stream" => {
                    let name: &str = map.next_value()?;
                    let (sym, suffix) = name.split_once('@').unwrap_or((name, ""));
                    self.msg.kind = StreamKind::from_suffix(suffix);
                    // not ours: skip the rest without building an error (that would allocate)
                    let skip = if self.msg.kind == StreamKind::Other {
                        Some(WireError::Unknown)
                    } else {
                        match self.symbols.find(sym) {
                            Some((i, s)) => {
                                self.msg.inst = i;
                                scale = Some(s);
                                None
                            }
                            None => Some(WireError::UnknownSymbol),
                        }
                    };
                    if skip.is_some() {
                        *self.status = skip;
                        return skip_rest(&mut map);
                    }
                }
                "data" => {
                    let Some(scale) = scale else {
                        return Err(de::Error::custom("data before stream"));
                    };
                    map.next_value_seed(Object(DataSeed {
                        scale,
                        msg: &mut *self.msg,
                        levels: &mut *self.levels,
                    }))?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if scale.is_none() {
            // a well-formed object without `stream`: a control reply such as
            // `{"result":null,"id":1}`; counted as unknown, no error built
            *self.status = Some(WireError::Unknown);
        }
        Ok(())
    }
}

struct DataSeed<'a> {
    scale: Scale,
    msg: &'a mut StreamMsg,
    levels: &'a mut Buffers,
}

impl<'de> ObjectSeed<'de> for DataSeed<'_> {
    type Value = ();
    const EXPECTING: &'static str = "a stream payload object";
    fn visit<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let m = self.msg;
        let sc = self.scale;
        let depth = m.kind == StreamKind::Depth;
        let partial = m.kind == StreamKind::PartialDepth;
        let agg = m.kind == StreamKind::AggTrade;
        while let Some(k) = map.next_key::<&str>()? {
            match k {
                // partial book (spot): the snapshot's update id and its full top N
                "lastUpdateId" if partial => {
                    m.last_id = map.next_value()?;
                    m.seen |= F_UU;
                }
                "bids" if partial => {
                    map.next_value_seed(LevelsSeed {
                        scale: sc,
                        out: &mut self.levels.bids,
                    })?;
                    m.seen |= F_LEVELS_B;
                }
                "asks" if partial => {
                    map.next_value_seed(LevelsSeed {
                        scale: sc,
                        out: &mut self.levels.asks,
                    })?;
                    m.seen |= F_LEVELS_A;
                }
                "U" => {
                    m.first_id = map.next_value()?;
                    m.seen |= F_U;
                }
                "u" => {
                    m.last_id = map.next_value()?;
                    m.seen |= F_UU;
                }
                "pu" => {
                    m.prev_id = Some(map.next_value()?);
                    m.seen |= F_PU;
                }
                "E" => m.event_ms = map.next_value()?,
                // partial book (futures): `b`/`a` are its full top N
                "b" | "a" if partial => {
                    let (out, seen) = if k == "b" {
                        (&mut self.levels.bids, F_LEVELS_B)
                    } else {
                        (&mut self.levels.asks, F_LEVELS_A)
                    };
                    map.next_value_seed(LevelsSeed { scale: sc, out })?;
                    m.seen |= seen;
                }
                "b" | "a" if depth => {
                    let (side, seen) = if k == "b" {
                        (Side::Buy, F_LEVELS_B)
                    } else {
                        (Side::Sell, F_LEVELS_A)
                    };
                    map.next_value_seed(ChangesSeed {
                        scale: sc,
                        side,
                        out: &mut self.levels.changes,
                    })?;
                    m.seen |= seen;
                }
                "b" => {
                    m.bid_px = map.next_value_seed(DecSeed(sc.price_dec))?.value;
                    m.seen |= F_B;
                }
                "B" => {
                    m.bid_qty = map.next_value_seed(DecSeed(sc.qty_dec))?.value;
                    m.seen |= F_BQ;
                }
                "a" if agg => {
                    m.trade_id = map.next_value()?;
                    m.seen |= F_T;
                }
                "a" => {
                    m.ask_px = map.next_value_seed(DecSeed(sc.price_dec))?.value;
                    m.seen |= F_A;
                }
                "A" => {
                    m.ask_qty = map.next_value_seed(DecSeed(sc.qty_dec))?.value;
                    m.seen |= F_AQ;
                }
                "t" => {
                    m.trade_id = map.next_value()?;
                    m.seen |= F_T;
                }
                "p" => {
                    m.px = map.next_value_seed(DecSeed(sc.price_dec))?.value;
                    m.seen |= F_P;
                }
                "q" => {
                    m.qty = map.next_value_seed(DecSeed(sc.qty_dec))?.value;
                    m.seen |= F_Q;
                }
                "m" => {
                    m.buyer_maker = map.next_value()?;
                    m.seen |= F_M;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// A parsed REST depth snapshot (levels in [`Buffers`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SnapshotMsg {
    /// `lastUpdateId`.
    pub last_update_id: u64,
    /// Index of the instrument, when the snapshot names it (`symbol`, COIN-M) or the caller
    /// supplied it.
    pub inst: Option<usize>,
}

/// Parse a REST depth snapshot `{"lastUpdateId":..,"bids":[..],"asks":[..]}`. The instrument
/// comes from `hint` (the fetcher knows what it asked for) or the `symbol` field; its scale is
/// needed before the levels, so when neither is known in advance the single-instrument
/// fallback `default` is used.
pub fn parse_snapshot(
    raw: &[u8],
    symbols: &SymbolTable,
    hint: Option<(usize, Scale)>,
    levels: &mut Buffers,
) -> Result<SnapshotMsg, WireError> {
    levels.bids.clear();
    levels.asks.clear();
    // The scale must be known before the levels; COIN-M puts "symbol" before "bids", and the
    // other venues have no symbol at all, so the hint is required there.
    let mut out = SnapshotMsg::default();
    let mut seen_id = false;
    let r = read_json(
        raw,
        Object(SnapshotSeed {
            symbols,
            scale: hint.map(|h| h.1),
            out: &mut out,
            levels,
            seen_id: &mut seen_id,
        }),
    );
    if let Some((i, _)) = hint {
        out.inst = Some(i);
    }
    r?;
    if !seen_id {
        return Err(WireError::MissingField("lastUpdateId"));
    }
    if out.inst.is_none() {
        return Err(WireError::UnknownSymbol);
    }
    Ok(out)
}

struct SnapshotSeed<'a> {
    symbols: &'a SymbolTable,
    scale: Option<Scale>,
    out: &'a mut SnapshotMsg,
    levels: &'a mut Buffers,
    seen_id: &'a mut bool,
}

impl<'de> ObjectSeed<'de> for SnapshotSeed<'_> {
    type Value = ();
    const EXPECTING: &'static str = "a depth snapshot object";
    fn visit<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(k) = map.next_key::<&str>()? {
            match k {
                "lastUpdateId" => {
                    self.out.last_update_id = map.next_value()?;
                    *self.seen_id = true;
                }
                "symbol" => {
                    let s: &str = map.next_value()?;
                    if let Some((i, sc)) = self.symbols.find(s) {
                        if self.scale.is_none() {
                            self.scale = Some(sc);
                            self.out.inst = Some(i);
                        }
                    }
                }
                "bids" | "asks" => {
                    let Some(scale) = self.scale else {
                        return Err(de::Error::custom("snapshot instrument unknown"));
                    };
                    let out = if k == "bids" {
                        &mut self.levels.bids
                    } else {
                        &mut self.levels.asks
                    };
                    map.next_value_seed(LevelsSeed { scale, out })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}
