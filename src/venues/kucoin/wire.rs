//! KuCoin spot WebSocket messages (`/market/level2`, `/market/ticker`, `/market/match`, control
//! messages) and the REST level-2 snapshot, parsed with sonic-rs into fixed point, no allocation.
//!
//! Sources: KuCoin API docs (2023 snapshot of <https://docs.kucoin.com>, "Level-2 Market Data",
//! "Symbol Ticker", "Match Execution Data", "Get Full Order Book(aggregated)");
//! `../shared/docs/exchanges.md` §9.
//!
//! The envelope puts `topic` (which names the symbol, hence the decimal scale) *after* `data`,
//! so `data` is kept as raw text in a first pass and parsed once the symbol is known
//! ([`crate::venues::raw_json`]).
//!
//! Real samples (`../shared/data/recorded/KUCOIN.ws.1.0` and `KUCOIN.http.0.0`, 2021-04-25):
//! ```text
//! {"data":{"sequenceStart":1613277183875,"symbol":"BCHSV-USDT","changes":{"asks":[["244.351","150","1613277183875"]],"bids":[]},"sequenceEnd":1613277183875},"subject":"trade.l2update","topic":"/market/level2:BCHSV-USDT","type":"message"}
//! {"data":{"sequenceStart":1613277183874,"symbol":"BCHSV-USDT","changes":{"asks":[["0","0","1613277183874"]],"bids":[]},"sequenceEnd":1613277183874},"subject":"trade.l2update","topic":"/market/level2:BCHSV-USDT","type":"message"}
//! {"data":{"sequence":"1612844051653","bestAsk":"0.00028717","size":"0.01745248","bestBidSize":"3.70422021","price":"0.00028676","time":1619378326323,"bestAskSize":"14.04274325","bestBid":"0.00028678"},"subject":"trade.ticker","topic":"/market/ticker:SNX-BTC","type":"message"}
//! {"data":{"symbol":"DAPPT-BTC","sequence":"1612701563869","side":"buy","size":"81.8814","price":"0.0000001117","takerOrderId":"6085c097587c2000060cde57","time":"1619378327739050725","type":"match","makerOrderId":"6085c06144b3790006512a4d","tradeId":"6085c09769bc506996295e36"},"subject":"trade.l3match","topic":"/market/match:DAPPT-BTC","type":"message"}
//! {"id":"NSkIrWGB1s","type":"welcome"}
//! {"code":"200000","data":{"time":1619378326628,"sequence":"1613277183892","bids":[["242.649","5"],…],"asks":[…]}}
//! ```
//! A change is `[price, size, sequence]`; size `"0"` deletes the level; price `"0"` is a
//! sequence-only entry (no book change) and is skipped. Change entries are absolute.
//!
//! Sizes finer than the instrument's quantity decimals occur in KuCoin's aggregated book
//! (recorded BCHSV-USDT snapshot: `["0.121","0.00019434546"]`, 11 decimals for an 8-decimal
//! asset): book sizes are therefore read with [`size_floor`], which truncates the extra digits
//! (a positive size never becomes 0) and counts it; prices stay exact.
#![forbid(unsafe_code)]

use crate::book::Level;
use crate::fixed_point::{parse_decimal, Dec, DecimalError};
use crate::types::Side;
use crate::venues::raw_json::{parse_with, RawJson};
use crate::venues::seq_book::SeqLevel;
use crate::venues::symbols::SymbolTable;
use crate::venues::wire_util::{
    read_json_lazy, Array, ArraySeed, Buffers, Object, ObjectSeed, Scale, WireError,
};
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess};

/// What a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Kind {
    /// `trade.l2update`: a book diff.
    L2Update,
    /// `trade.ticker`: best bid/ask with the book sequence.
    Ticker,
    /// `trade.l3match`: a trade.
    Match,
    /// `welcome`, `ack`, `pong`: connection control.
    Control,
    /// `type: "error"`: the venue refused something.
    Error,
    /// Any other topic (candles, level2Depth5, ...).
    #[default]
    Other,
}

/// Parsed fields (the changes of a diff and the levels of a snapshot go to [`Buffers`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Msg {
    /// Kind.
    pub kind: Kind,
    /// Handler index of the instrument.
    pub inst: usize,
    /// Diff: `sequenceStart`.
    pub seq_start: u64,
    /// Diff: `sequenceEnd`; ticker and match: `sequence`; snapshot: `sequence`.
    pub seq: u64,
    /// Ticker best bid price / size, best ask price / size.
    pub bbo: [i64; 4],
    /// Match: price, size.
    pub px: i64,
    /// Match size.
    pub qty: i64,
    /// Match: the taker bought.
    pub taker_buy: bool,
    /// Diff: price-"0" entries skipped.
    pub zero_price_entries: u32,
    /// Book sizes truncated to the instrument's decimals ([`size_floor`]).
    pub truncated_sizes: u32,
}

#[derive(Default)]
struct Env<'de> {
    typ: &'de str,
    subject: &'de str,
    topic: &'de str,
    data: Option<RawJson<'de>>,
    code: Option<&'de str>,
}

struct EnvSeed<'a, 'de>(&'a mut Env<'de>);

impl<'de> ObjectSeed<'de> for EnvSeed<'_, 'de> {
    type Value = ();
    const EXPECTING: &'static str = "a KuCoin message object";
    fn visit<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        let e = self.0;
        while let Some(k) = m.next_key::<&str>()? {
            match k {
                "type" => e.typ = m.next_value()?,
                "subject" => e.subject = m.next_value()?,
                "topic" => e.topic = m.next_value()?,
                "data" => e.data = Some(m.next_value()?),
                "code" => e.code = Some(m.next_value::<RawJson<'de>>()?.num_text()),
                _ => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// Parse one WebSocket message (the changes of a diff go to `book.changes`).
pub fn parse(raw: &[u8], syms: &SymbolTable, book: &mut Buffers) -> Result<Msg, WireError> {
    book.changes.clear();
    let mut env = Env::default();
    read_json_lazy(raw, Object(EnvSeed(&mut env)))?;
    let mut msg = Msg::default();
    match env.typ {
        "message" => {}
        "welcome" | "ack" | "pong" => {
            msg.kind = Kind::Control;
            return Ok(msg);
        }
        "error" => {
            msg.kind = Kind::Error;
            return Ok(msg);
        }
        "" => return Err(WireError::MissingField("type")),
        _ => return Ok(msg),
    }
    msg.kind = match env.subject {
        "trade.l2update" => Kind::L2Update,
        "trade.ticker" => Kind::Ticker,
        "trade.l3match" | "match" => Kind::Match,
        _ => return Ok(msg),
    };
    let sym = env
        .topic
        .rsplit_once(':')
        .map(|(_, s)| s)
        .ok_or(WireError::MissingField("topic"))?;
    let (k, sc) = syms.find(sym).ok_or(WireError::UnknownSymbol)?;
    msg.inst = k;
    let data = env.data.ok_or(WireError::MissingField("data"))?;
    let mut d = Data::default();
    parse_with(
        data,
        Object(DataSeed {
            d: &mut d,
            sc,
            changes: &mut book.changes,
            zeros: &mut msg.zero_price_entries,
            truncated: &mut msg.truncated_sizes,
        }),
    )
    .map_err(|_| WireError::Malformed)?;
    let dec = |r: Option<RawJson<'_>>, s: u32, name: &'static str| -> Result<i64, WireError> {
        r.ok_or(WireError::MissingField(name))?
            .dec(s)
            .map(|x| x.value)
            .map_err(|_| WireError::Malformed)
    };
    match msg.kind {
        Kind::L2Update => {
            msg.seq_start = d
                .seq_start
                .ok_or(WireError::MissingField("sequenceStart"))?;
            msg.seq = d.seq_end.ok_or(WireError::MissingField("sequenceEnd"))?;
            if !d.changes_seen {
                return Err(WireError::MissingField("changes"));
            }
            if msg.seq < msg.seq_start {
                return Err(WireError::Malformed);
            }
        }
        Kind::Ticker => {
            msg.seq = d.seq.ok_or(WireError::MissingField("sequence"))?;
            let size = |r: Option<RawJson<'_>>, name: &'static str| -> Result<i64, WireError> {
                let r = r.ok_or(WireError::MissingField(name))?;
                size_floor(r.num_text(), sc.qty_dec)
                    .map(|(d, _)| d.value)
                    .map_err(|_| WireError::Malformed)
            };
            msg.bbo = [
                dec(d.best_bid, sc.price_dec, "bestBid")?,
                size(d.best_bid_size, "bestBidSize")?,
                dec(d.best_ask, sc.price_dec, "bestAsk")?,
                size(d.best_ask_size, "bestAskSize")?,
            ];
            if msg.bbo.iter().any(|v| *v < 0) {
                return Err(WireError::Malformed);
            }
        }
        Kind::Match => {
            msg.seq = d.seq.ok_or(WireError::MissingField("sequence"))?;
            msg.px = dec(d.price, sc.price_dec, "price")?;
            msg.qty = dec(d.size, sc.qty_dec, "size")?;
            if msg.px <= 0 || msg.qty <= 0 {
                return Err(WireError::Malformed);
            }
            msg.taker_buy = match d.side.ok_or(WireError::MissingField("side"))? {
                "buy" => true,
                "sell" => false,
                _ => return Err(WireError::Malformed),
            };
        }
        _ => {}
    }
    Ok(msg)
}

#[derive(Default)]
struct Data<'de> {
    seq_start: Option<u64>,
    seq_end: Option<u64>,
    seq: Option<u64>,
    changes_seen: bool,
    best_bid: Option<RawJson<'de>>,
    best_bid_size: Option<RawJson<'de>>,
    best_ask: Option<RawJson<'de>>,
    best_ask_size: Option<RawJson<'de>>,
    price: Option<RawJson<'de>>,
    size: Option<RawJson<'de>>,
    side: Option<&'de str>,
}

struct DataSeed<'a, 'de> {
    d: &'a mut Data<'de>,
    sc: Scale,
    changes: &'a mut Vec<SeqLevel>,
    zeros: &'a mut u32,
    truncated: &'a mut u32,
}

fn seq_of<E: de::Error>(r: RawJson<'_>) -> Result<u64, E> {
    r.u64()
        .ok_or_else(|| E::custom("sequence is not an unsigned integer"))
}

impl<'de> ObjectSeed<'de> for DataSeed<'_, 'de> {
    type Value = ();
    const EXPECTING: &'static str = "a data object";
    fn visit<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        let d = self.d;
        while let Some(k) = m.next_key::<&str>()? {
            match k {
                "sequenceStart" => d.seq_start = Some(seq_of(m.next_value()?)?),
                "sequenceEnd" => d.seq_end = Some(seq_of(m.next_value()?)?),
                "sequence" => d.seq = Some(seq_of(m.next_value()?)?),
                "changes" => {
                    m.next_value_seed(Object(ChangesSeed {
                        sc: self.sc,
                        out: &mut *self.changes,
                        zeros: &mut *self.zeros,
                        truncated: &mut *self.truncated,
                    }))?;
                    d.changes_seen = true;
                }
                "bestBid" => d.best_bid = Some(m.next_value()?),
                "bestBidSize" => d.best_bid_size = Some(m.next_value()?),
                "bestAsk" => d.best_ask = Some(m.next_value()?),
                "bestAskSize" => d.best_ask_size = Some(m.next_value()?),
                "price" => d.price = Some(m.next_value()?),
                "size" => d.size = Some(m.next_value()?),
                "side" => d.side = Some(m.next_value()?),
                _ => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct ChangesSeed<'a> {
    sc: Scale,
    out: &'a mut Vec<SeqLevel>,
    zeros: &'a mut u32,
    truncated: &'a mut u32,
}

impl<'de> ObjectSeed<'de> for ChangesSeed<'_> {
    type Value = ();
    const EXPECTING: &'static str = "a changes object {asks, bids}";
    fn visit<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while let Some(k) = m.next_key::<&str>()? {
            let side = match k {
                "asks" => Side::Sell,
                "bids" => Side::Buy,
                _ => {
                    m.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            m.next_value_seed(Array(SideSeed {
                sc: self.sc,
                side,
                out: &mut *self.out,
                zeros: &mut *self.zeros,
                truncated: &mut *self.truncated,
            }))?;
        }
        Ok(())
    }
}

struct SideSeed<'a> {
    sc: Scale,
    side: Side,
    out: &'a mut Vec<SeqLevel>,
    zeros: &'a mut u32,
    truncated: &'a mut u32,
}

impl<'de> ArraySeed<'de> for SideSeed<'_> {
    type Value = ();
    const EXPECTING: &'static str = "an array of [price, size, sequence]";
    fn visit<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        while let Some((px, sz, seq)) = s.next_element::<(&'de str, &'de str, &'de str)>()? {
            let p = parse_decimal(px.as_bytes(), self.sc.price_dec).map_err(de::Error::custom)?;
            let (q, cut) = size_floor(sz, self.sc.qty_dec).map_err(de::Error::custom)?;
            let seq: u64 = RawJson(seq)
                .u64()
                .ok_or_else(|| de::Error::custom("bad change sequence"))?;
            if p.value < 0 || q.value < 0 {
                return Err(de::Error::custom("negative price or size"));
            }
            if p.value == 0 {
                *self.zeros += 1; // sequence-only entry: no book change
                continue;
            }
            *self.truncated += cut as u32;
            if self.out.len() == self.out.capacity() {
                return Err(de::Error::custom("too many changes in one message"));
            }
            self.out.push(SeqLevel {
                side: self.side,
                lvl: Level {
                    px: p.value,
                    qty: q.value,
                    px_frac: p.frac,
                    qty_frac: q.frac,
                },
                seq,
            });
        }
        Ok(())
    }
}

/// A book size at `scale`, exactly when possible, else truncated to `scale` digits (kept ≥ 1
/// unit when positive). Returns the value and whether it was truncated. Plain decimals only.
pub fn size_floor(s: &str, scale: u32) -> Result<(Dec, bool), DecimalError> {
    match parse_decimal(s.as_bytes(), scale) {
        Err(DecimalError::TooPrecise) => {
            let (i, f) = s.split_once('.').ok_or(DecimalError::TooPrecise)?;
            let keep = &s[..i.len() + 1 + f.len().min(scale as usize)];
            let mut d = parse_decimal(keep.as_bytes(), scale)?;
            if d.value == 0 {
                d.value = 1; // positive on the wire: keep the level
            }
            d.frac = scale.min(255) as u8;
            Ok((d, true))
        }
        r => r.map(|d| (d, false)),
    }
}

/// Parse a REST level-2 snapshot `{"code":"200000","data":{"sequence":..,"bids":..,"asks":..}}`
/// (or its `data` object alone) at `scale`. Returns the snapshot `sequence` and the number of
/// sizes truncated ([`size_floor`]); levels go to `book.bids/asks`.
pub fn parse_snapshot(
    raw: &[u8],
    scale: Scale,
    book: &mut Buffers,
) -> Result<(u64, u32), WireError> {
    book.bids.clear();
    book.asks.clear();
    let mut env = Env::default();
    read_json_lazy(raw, Object(EnvSeed(&mut env)))?;
    let data = match (env.code, env.data) {
        (Some("200000"), Some(d)) => d,
        (Some(_), _) => return Err(WireError::Refused),
        (None, _) => match std::str::from_utf8(raw) {
            Ok(s) => RawJson(s),
            Err(_) => return Err(WireError::Malformed),
        },
    };
    let mut seq = None;
    let mut truncated = 0u32;
    parse_with(
        data,
        Object(SnapSeed {
            sc: scale,
            book,
            seq: &mut seq,
            truncated: &mut truncated,
        }),
    )
    .map_err(|_| WireError::Malformed)?;
    Ok((seq.ok_or(WireError::MissingField("sequence"))?, truncated))
}

struct SnapSeed<'a> {
    sc: Scale,
    book: &'a mut Buffers,
    seq: &'a mut Option<u64>,
    truncated: &'a mut u32,
}

struct SnapLevelsSeed<'a> {
    sc: Scale,
    out: &'a mut Vec<Level>,
    truncated: &'a mut u32,
}

impl<'de> ArraySeed<'de> for SnapLevelsSeed<'_> {
    type Value = ();
    const EXPECTING: &'static str = "an array of [price, size]";
    fn visit<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        while let Some((px, sz)) = s.next_element::<(&'de str, &'de str)>()? {
            let p = parse_decimal(px.as_bytes(), self.sc.price_dec).map_err(de::Error::custom)?;
            let (q, cut) = size_floor(sz, self.sc.qty_dec).map_err(de::Error::custom)?;
            *self.truncated += cut as u32;
            if p.value <= 0 || q.value <= 0 {
                return Err(de::Error::custom(
                    "snapshot level with non-positive price or size",
                ));
            }
            if self.out.len() == self.out.capacity() {
                return Err(de::Error::custom("too many levels in one snapshot"));
            }
            self.out.push(Level {
                px: p.value,
                qty: q.value,
                px_frac: p.frac,
                qty_frac: q.frac,
            });
        }
        Ok(())
    }
}

impl<'de> ObjectSeed<'de> for SnapSeed<'_> {
    type Value = ();
    const EXPECTING: &'static str = "a level-2 snapshot object";
    fn visit<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        let mut seen = (false, false);
        while let Some(k) = m.next_key::<&str>()? {
            match k {
                "sequence" => *self.seq = Some(seq_of(m.next_value()?)?),
                "bids" => {
                    m.next_value_seed(Array(SnapLevelsSeed {
                        sc: self.sc,
                        out: &mut self.book.bids,
                        truncated: &mut *self.truncated,
                    }))?;
                    seen.0 = true;
                }
                "asks" => {
                    m.next_value_seed(Array(SnapLevelsSeed {
                        sc: self.sc,
                        out: &mut self.book.asks,
                        truncated: &mut *self.truncated,
                    }))?;
                    seen.1 = true;
                }
                _ => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
        }
        if seen != (true, true) {
            return Err(de::Error::custom("snapshot without bids or asks"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venues::testing;

    fn syms() -> SymbolTable {
        testing::table(&["BCHSV-USDT", "SNX-BTC", "DAPPT-BTC"], 10, 8)
    }

    /// Room for `changes` diff changes and `levels` snapshot levels per side.
    fn book(changes: usize, levels: usize) -> Buffers {
        let mut b = Buffers::with_capacity(levels, 0);
        b.changes = Vec::with_capacity(changes);
        b
    }

    #[test]
    fn l2update_skips_price_zero_entries() {
        let mut b = book(8, 8);
        let m = parse(br#"{"data":{"sequenceStart":1613277183874,"symbol":"BCHSV-USDT","changes":{"asks":[["0","0","1613277183874"]],"bids":[]},"sequenceEnd":1613277183874},"subject":"trade.l2update","topic":"/market/level2:BCHSV-USDT","type":"message"}"#, &syms(), &mut b).unwrap();
        assert_eq!(
            (m.kind, m.seq_start, m.seq, m.zero_price_entries),
            (Kind::L2Update, 1613277183874, 1613277183874, 1)
        );
        assert!(b.changes.is_empty());
        let m = parse(br#"{"data":{"sequenceStart":1613277183875,"symbol":"BCHSV-USDT","changes":{"asks":[["244.351","150","1613277183875"]],"bids":[]},"sequenceEnd":1613277183875},"subject":"trade.l2update","topic":"/market/level2:BCHSV-USDT","type":"message"}"#, &syms(), &mut b).unwrap();
        assert_eq!(m.zero_price_entries, 0);
        assert_eq!(b.changes.len(), 1);
        let c = b.changes[0];
        assert_eq!(
            (c.side, c.lvl.px, c.lvl.qty, c.seq),
            (Side::Sell, 2_443_510_000_000, 15_000_000_000, 1613277183875)
        );
        assert_eq!((c.lvl.px_frac, c.lvl.qty_frac), (3, 0));
    }

    #[test]
    fn ticker_and_match() {
        let mut b = book(8, 8);
        let m = parse(br#"{"data":{"sequence":"1612844051653","bestAsk":"0.00028717","size":"0.01745248","bestBidSize":"3.70422021","price":"0.00028676","time":1619378326323,"bestAskSize":"14.04274325","bestBid":"0.00028678"},"subject":"trade.ticker","topic":"/market/ticker:SNX-BTC","type":"message"}"#, &syms(), &mut b).unwrap();
        assert_eq!((m.kind, m.seq), (Kind::Ticker, 1612844051653));
        assert_eq!(m.bbo, [2_867_800, 370_422_021, 2_871_700, 1_404_274_325]);
        let m = parse(br#"{"data":{"symbol":"DAPPT-BTC","sequence":"1612701563869","side":"buy","size":"81.8814","price":"0.0000001117","takerOrderId":"6085c097587c2000060cde57","time":"1619378327739050725","type":"match","makerOrderId":"6085c06144b3790006512a4d","tradeId":"6085c09769bc506996295e36"},"subject":"trade.l3match","topic":"/market/match:DAPPT-BTC","type":"message"}"#, &syms(), &mut b).unwrap();
        assert_eq!(
            (m.kind, m.seq, m.px, m.qty, m.taker_buy),
            (Kind::Match, 1612701563869, 1117, 8_188_140_000, true)
        );
    }

    #[test]
    fn control_unknown_and_errors() {
        let mut b = book(1, 1);
        assert_eq!(
            parse(br#"{"id":"NSkIrWGB1s","type":"welcome"}"#, &syms(), &mut b)
                .unwrap()
                .kind,
            Kind::Control
        );
        assert_eq!(
            parse(br#"{"id":"1","type":"ack"}"#, &syms(), &mut b)
                .unwrap()
                .kind,
            Kind::Control
        );
        assert_eq!(
            parse(
                br#"{"id":"1","type":"error","code":404,"data":"topic not found"}"#,
                &syms(),
                &mut b
            )
            .unwrap()
            .kind,
            Kind::Error
        );
        assert_eq!(parse(br#"{"data":{"symbol":"DAPPT-BTC","candles":["1"]},"subject":"trade.candles.add","topic":"/market/candles:DAPPT-BTC_1min","type":"message"}"#, &syms(), &mut b).unwrap().kind, Kind::Other);
        let l2 = r#"{"data":{"sequenceStart":5,"symbol":"SNX-BTC","changes":{"asks":[["1.5","2","5"]],"bids":[]},"sequenceEnd":5},"subject":"trade.l2update","topic":"/market/level2:SNX-BTC","type":"message"}"#;
        assert!(parse(l2.as_bytes(), &syms(), &mut b).is_ok());
        for (m, want) in [
            (
                l2.replace("SNX-BTC\",\"type", "ETH-BTC\",\"type"),
                WireError::UnknownSymbol,
            ),
            (
                l2.replace("\"sequenceEnd\":5", "\"sequenceEnd\":4"),
                WireError::Malformed,
            ),
            (
                l2.replace(",\"sequenceEnd\":5", ""),
                WireError::MissingField("sequenceEnd"),
            ),
            (
                l2.replace(
                    "\"changes\":{\"asks\":[[\"1.5\",\"2\",\"5\"]],\"bids\":[]},",
                    "",
                ),
                WireError::MissingField("changes"),
            ),
            (
                l2.replace("[\"1.5\",\"2\",\"5\"]", "[\"1.5\",\"2\"]"),
                WireError::Malformed,
            ),
            (l2.replace("\"1.5\"", "\"x\""), WireError::Malformed),
            (
                l2.replace("\"2\",\"5\"", "\"-2\",\"5\""),
                WireError::Malformed,
            ),
            (
                l2.replace(
                    "[[\"1.5\",\"2\",\"5\"]]",
                    "[[\"1.5\",\"2\",\"5\"],[\"1.6\",\"2\",\"5\"]]",
                ),
                WireError::Malformed,
            ), // capacity 1
            (
                l2.replace("\"type\":\"message\"", "\"typ\":\"message\""),
                WireError::MissingField("type"),
            ),
            (l2[..50].to_string(), WireError::Malformed),
        ] {
            assert_eq!(
                parse(m.as_bytes(), &syms(), &mut b).map(|x| x.kind),
                Err(want),
                "{m}"
            );
        }
    }

    #[test]
    fn sizes_are_exact_or_truncated_never_zeroed() {
        assert_eq!(
            size_floor("1.5", 2).unwrap(),
            (
                Dec {
                    value: 150,
                    frac: 1
                },
                false
            )
        );
        assert_eq!(size_floor("0.00019434546", 8).unwrap().0.value, 19_434);
        assert_eq!(
            size_floor("0.000000001", 8).unwrap(),
            (Dec { value: 1, frac: 8 }, true)
        );
        assert_eq!(
            size_floor("0.000000000", 8).unwrap().0.value,
            0,
            "zero stays zero (exact)"
        );
        assert!(size_floor("1e-12", 8).is_err(), "no exponent forms");
        assert!(size_floor("x", 8).is_err());
    }

    #[test]
    fn rest_snapshot() {
        let mut b = book(1, 4);
        let s = parse_snapshot(
            br#"{"code":"200000","data":{"time":1619378326628,"sequence":"1613277183892","bids":[["242.649","5"],["242.646","0.68148185"]],"asks":[["242.951","4.51280965"]]}}"#,
            Scale { price_dec: 10, qty_dec: 8 },
            &mut b,
        )
        .unwrap();
        assert_eq!(s, (1613277183892, 0));
        assert_eq!((b.bids.len(), b.asks.len()), (2, 1));
        // the real deep ask of that snapshot: 11 size decimals on an 8-decimal asset
        let s = parse_snapshot(
            br#"{"code":"200000","data":{"sequence":"1613277183892","bids":[],"asks":[["0.121","0.00019434546"],["1000","21.66556272"]]}}"#,
            Scale { price_dec: 3, qty_dec: 8 },
            &mut b,
        )
        .unwrap();
        assert_eq!(s, (1613277183892, 1));
        assert_eq!(
            (b.asks[0].px, b.asks[0].qty, b.asks[0].qty_frac),
            (121, 19_434, 8)
        );
        assert_eq!(
            parse_snapshot(br#"{"code":"400100","msg":"x"}"#, Scale::default(), &mut b),
            Err(WireError::Refused)
        );
        assert_eq!(
            parse_snapshot(
                br#"{"sequence":"7","bids":[],"asks":[]}"#,
                Scale::default(),
                &mut b
            ),
            Ok((7, 0))
        );
        assert_eq!(
            parse_snapshot(
                br#"{"code":"200000","data":{"bids":[],"asks":[]}}"#,
                Scale::default(),
                &mut b
            ),
            Err(WireError::MissingField("sequence"))
        );
        assert_eq!(
            parse_snapshot(
                br#"{"code":"200000","data":{"sequence":"1","bids":[]}}"#,
                Scale::default(),
                &mut b
            ),
            Err(WireError::Malformed)
        );
    }
}
