//! Bybit's pre-v5 public WebSocket (API v2, retired): `orderBookL2_25.{symbol}` and
//! `trade.{symbol}` on `wss://stream.bybit.com/realtime` (inverse) and `/realtime_public`
//! (USDT perpetuals). Kept to read the 2021 recordings as what they are; live connections use
//! v5 ([`super::v5`], [`crate::venues::bybit::BybitHandler`]).
//!
//! Format (API v2 docs, "orderBookL2_25", archived at
//! <https://bybit-exchange.github.io/docs/inverse/#t-websocketorderbook25>), real samples from
//! `../shared/data/recorded/BYBIT.ws.25.0` / `.26.0` (2021-04-17):
//! ```text
//! {"topic":"orderBookL2_25.BCHUSDT","type":"snapshot","data":{"order_book":[{"price":"1053.05","symbol":"BCHUSDT","id":"10530500","side":"Buy","size":2.63},...]},"cross_seq":"864131773","timestamp_e6":"1618677786389362"}
//! {"topic":"orderBookL2_25.EOSUSD","type":"snapshot","data":[{"price":"7.943","symbol":"EOSUSD","id":79430,"side":"Buy","size":154219},...],"cross_seq":1225777224,"timestamp_e6":1618677786558146}
//! {"topic":"orderBookL2_25.BTCUSD","type":"delta","data":{"delete":[{"price":"60604.00","symbol":"BTCUSD","id":606040000,"side":"Buy"}],"update":[{"price":"60616.50","symbol":"BTCUSD","id":606165000,"side":"Buy","size":8297714}],"insert":[{"price":"60590.50","symbol":"BTCUSD","id":605905000,"side":"Buy","size":7500}],"transactTimeE6":0},"cross_seq":5938954563,"timestamp_e6":1618677785537915}
//! {"topic":"trade.BTCUSD","data":[{"trade_time_ms":1618677786614,"timestamp":"2021-04-17T16:43:06.000Z","symbol":"BTCUSD","side":"Sell","size":4,"price":60621.5,"tick_direction":"PlusTick","trade_id":"5ffb8b77-900c-507d-97a2-0922557ffe54","cross_seq":5938955347}]}
//! ```
//! Sizes are JSON numbers (USDT perpetuals: decimals written by a float printer, e.g.
//! `25.900002`), prices strings or numbers: both are read from the raw token, never through
//! `f64`, and kept exactly as sent. `cross_seq` is a string on `/realtime_public` and a number
//! on `/realtime`.
//!
//! Its sync rules are in [`crate::venues::bybit::book`] ([`crate::venues::bybit::book::LegacySync`]).
#![forbid(unsafe_code)]

use crate::book::Level;
use crate::types::Side;
use crate::venues::symbols::SymbolTable;
use crate::venues::wire_util::{
    read_json, skip_rest, BoundedSeq, Object, ObjectSeed, RawDecSeed, Scale, Trade, WireError,
};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// What a level entry does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Part of a snapshot.
    Snapshot,
    /// Remove the level.
    Delete,
    /// Change the size of an existing level.
    Update,
    /// Add a new level.
    Insert,
}

/// One level entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Operation.
    pub op: Op,
    /// Book side.
    pub side: Side,
    /// Level (quantity 0 for deletes).
    pub level: Level,
}

/// Kind of frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Kind {
    /// Order-book snapshot.
    Snapshot,
    /// Order-book delta.
    Delta,
    /// Trades.
    Trades,
    /// Nothing.
    #[default]
    Other,
}

/// A parsed frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Msg {
    /// Kind.
    pub kind: Kind,
    /// Handler index.
    pub inst: usize,
    /// `cross_seq`.
    pub cross_seq: Option<u64>,
}

/// Reused buffers.
#[derive(Debug)]
pub struct Buffers {
    /// Level entries in message order.
    pub entries: Vec<Entry>,
    /// Trades (id = the trade's `cross_seq` on the inverse feed, else 0).
    pub trades: Vec<Trade>,
}

/// Parse one frame of the v2 public feed: book data or trades ([`Msg`], entries and trades in
/// `buf`), or why it is none ([`WireError::Event`] for subscription replies and pongs,
/// [`WireError::Unknown`] for a topic or symbol this handler does not serve).
pub fn parse(raw: &[u8], symbols: &SymbolTable, buf: &mut Buffers) -> Result<Msg, WireError> {
    buf.entries.clear();
    buf.trades.clear();
    let mut msg = Msg::default();
    let mut st = None;
    let r = read_json(
        raw,
        Object(Top {
            symbols,
            msg: &mut msg,
            buf,
            st: &mut st,
        }),
    );
    if let Some(e) = st {
        return Err(e);
    }
    r?;
    match msg.kind {
        Kind::Snapshot | Kind::Delta if msg.cross_seq.is_none() => Err(WireError::Malformed),
        Kind::Trades if buf.trades.is_empty() => Err(WireError::Malformed),
        Kind::Other => Err(WireError::Malformed),
        _ => Ok(msg),
    }
}

struct Top<'a> {
    symbols: &'a SymbolTable,
    msg: &'a mut Msg,
    buf: &'a mut Buffers,
    st: &'a mut Option<WireError>,
}

impl<'de> ObjectSeed<'de> for Top<'_> {
    type Value = ();
    const EXPECTING: &'static str = "a Bybit v2 object";
    fn visit<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut scale: Option<Scale> = None;
        let mut book = false;
        while let Some(k) = map.next_key::<&str>()? {
            match k {
                "success" | "ret_msg" | "request" | "op" => {
                    map.next_value::<IgnoredAny>()?;
                    *self.st = Some(WireError::Event);
                    return skip_rest(&mut map);
                }
                "topic" => {
                    let t: &str = map.next_value()?;
                    let (fam, sym) = t.split_once('.').unwrap_or((t, ""));
                    match fam {
                        "orderBookL2_25" | "orderBook_200" => book = true,
                        "trade" => self.msg.kind = Kind::Trades,
                        _ => {
                            *self.st = Some(WireError::Unknown);
                            return skip_rest(&mut map);
                        }
                    }
                    match self.symbols.find(sym.as_bytes()) {
                        Some((i, s)) => {
                            self.msg.inst = i;
                            scale = Some(s);
                        }
                        None => {
                            *self.st = Some(WireError::Unknown);
                            return skip_rest(&mut map);
                        }
                    }
                }
                "type" if book => {
                    self.msg.kind = match map.next_value::<&str>()? {
                        "snapshot" => Kind::Snapshot,
                        "delta" => Kind::Delta,
                        _ => return Err(de::Error::custom("type")),
                    };
                }
                "data" => {
                    let Some(sc) = scale else {
                        return Err(de::Error::custom("data before topic"));
                    };
                    match self.msg.kind {
                        Kind::Trades => map.next_value_seed(BoundedSeq {
                            out: &mut self.buf.trades,
                            elem: Object(TradeSeed(sc)),
                            keep: Some,
                            what: "too many trades in one message",
                        })?,
                        Kind::Snapshot | Kind::Delta => map.next_value_seed(BookData {
                            scale: sc,
                            delta: self.msg.kind == Kind::Delta,
                            out: &mut self.buf.entries,
                        })?,
                        Kind::Other => return Err(de::Error::custom("data before type")),
                    }
                }
                "cross_seq" => self.msg.cross_seq = Some(map.next_value_seed(U64Any)?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// A u64 written as a number or a string.
struct U64Any;

impl<'de> DeserializeSeed<'de> for U64Any {
    type Value = u64;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        let v = RawDecSeed(0).deserialize(d)?;
        u64::try_from(v.value).map_err(|_| de::Error::custom("negative"))
    }
}

/// Snapshot `data` (array, or `{"order_book": [...]}`) or delta `data`
/// (`{"delete":[..],"update":[..],"insert":[..]}`).
struct BookData<'a> {
    scale: Scale,
    delta: bool,
    out: &'a mut Vec<Entry>,
}

impl<'de> DeserializeSeed<'de> for BookData<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for BookData<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("order-book data")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        if self.delta {
            return Err(de::Error::custom("delta data must be an object"));
        }
        BoundedSeq {
            out: self.out,
            elem: Object(EntrySeed(self.scale, Op::Snapshot)),
            keep: Some,
            what: "too many levels in one message",
        }
        .visit_seq(seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut any = false;
        while let Some(k) = map.next_key::<&str>()? {
            let op = match (k, self.delta) {
                ("order_book", false) => Op::Snapshot,
                ("delete", true) => Op::Delete,
                ("update", true) => Op::Update,
                ("insert", true) => Op::Insert,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            any = true;
            map.next_value_seed(BoundedSeq {
                out: &mut *self.out,
                elem: Object(EntrySeed(self.scale, op)),
                keep: Some,
                what: "too many levels in one message",
            })?;
        }
        if !any {
            return Err(de::Error::custom("no levels"));
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
struct EntrySeed(Scale, Op);

impl<'de> ObjectSeed<'de> for EntrySeed {
    type Value = Entry;
    const EXPECTING: &'static str = "a level object";
    fn visit<A: MapAccess<'de>>(self, mut map: A) -> Result<Entry, A::Error> {
        let (mut px, mut qty, mut side) = (None, None, None);
        while let Some(k) = map.next_key::<&str>()? {
            match k {
                "price" => px = Some(map.next_value_seed(RawDecSeed(self.0.price_dec))?),
                "size" => qty = Some(map.next_value_seed(RawDecSeed(self.0.qty_dec))?),
                "side" => {
                    side = Some(match map.next_value::<&str>()? {
                        "Buy" => Side::Buy,
                        "Sell" => Side::Sell,
                        _ => return Err(de::Error::custom("side")),
                    })
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let (Some(px), Some(side)) = (px, side) else {
            return Err(de::Error::custom("level without price or side"));
        };
        let qty = match (self.1, qty) {
            (Op::Delete, _) => None,
            (_, Some(q)) if q.value > 0 => Some(q),
            _ => return Err(de::Error::custom("level without a positive size")),
        };
        if px.value <= 0 {
            return Err(de::Error::custom("non-positive price"));
        }
        Ok(Entry {
            op: self.1,
            side,
            level: Level {
                px: px.value,
                qty: qty.map_or(0, |q| q.value),
                px_frac: px.frac,
                qty_frac: qty.map_or(0, |q| q.frac),
            },
        })
    }
}

#[derive(Clone, Copy)]
struct TradeSeed(Scale);

impl<'de> ObjectSeed<'de> for TradeSeed {
    type Value = Trade;
    const EXPECTING: &'static str = "a trade object";
    fn visit<A: MapAccess<'de>>(self, mut map: A) -> Result<Trade, A::Error> {
        let mut t = Trade::default();
        let mut seen = 0u8;
        while let Some(k) = map.next_key::<&str>()? {
            match k {
                "price" => {
                    t.px = map.next_value_seed(RawDecSeed(self.0.price_dec))?.value;
                    seen |= 1;
                }
                "size" => {
                    t.qty = map.next_value_seed(RawDecSeed(self.0.qty_dec))?.value;
                    seen |= 2;
                }
                "side" => {
                    t.taker_buy = match map.next_value::<&str>()? {
                        "Buy" => true,
                        "Sell" => false,
                        _ => return Err(de::Error::custom("side")),
                    };
                    seen |= 4;
                }
                "cross_seq" => t.id = map.next_value_seed(U64Any)?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if seen != 7 || t.px <= 0 || t.qty <= 0 {
            return Err(de::Error::custom("bad trade"));
        }
        Ok(t)
    }
}
