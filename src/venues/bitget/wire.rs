//! Bitget public WebSocket messages, v2 (today's `wss://ws.bitget.com/v2/ws/public`) and v1
//! spot (`wss://ws.bitget.com/spot/v1/stream`, the recording's): `books` (snapshot + updates with
//! a CRC32 `checksum`, v2 also `seq`), `trade`, acks/errors. Parsed with sonic-rs into fixed
//! point without allocation.
//!
//! Sources: <https://www.bitget.com/api-doc/common/websocket-intro>,
//! <https://www.bitget.com/api-doc/spot/websocket/public/Depth-Channel>;
//! `../shared/docs/exchanges.md` §11 (the v2 field list is UNCONFIRMED there; the checksum rule
//! is the OKX one, verified on the v1 recording).
//!
//! Real samples (`../shared/data/recorded/BITGET.ws.1.0`, 2022-04-07, v1; the book cut to 2
//! levels per side, its checksum is the real message's):
//! ```text
//! {"action":"update","arg":{"instType":"sp","channel":"books","instId":"CULTUSDT"},"data":[{"asks":[["0.00003614","600000"],["0.00004010","0"]],"bids":[["0.00003471","200000"]],"checksum":-1816604544,"ts":"1649290077611"}]}
//! {"action":"update","arg":{"instType":"sp","channel":"trade","instId":"HOTUSDT"},"data":[["1649290077777","0.005613","890.8","buy"]]}
//! {"event":"subscribe","arg":{"instType":"sp","channel":"books","instId":"CULTUSDT"}}
//! ```
//! v2 (doc shape): `{"action":"snapshot","arg":{"instType":"SPOT","channel":"books","instId":"BTCUSDT"},
//! "data":[{"asks":[["27000.5","8.760"]],"bids":[["27000.0","2.71"]],"checksum":0,"seq":123,"ts":"1695716059516"}],"ts":1695716059516}`;
//! v2 trades `{"ts":"…","price":"…","size":"…","side":"buy","tradeId":"…"}`.
//! Prices and sizes are strings; the checksum is computed over them as sent, so each level
//! keeps its text's fractional digits.
#![forbid(unsafe_code)]

use crate::fixed_point::parse_decimal;
use crate::venues::raw_json::{parse_with, RawJson};
use crate::venues::symbols::SymbolTable;
use crate::venues::wire_util::{
    read_json_lazy, Array, ArraySeed, Buffers, LevelsSeed, Object, ObjectSeed, Scale, Trade,
    WireError,
};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// What a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Kind {
    /// `books` snapshot.
    BookSnapshot,
    /// `books` update.
    BookUpdate,
    /// `trade` update (new trades; the `snapshot` of recent trades is history, not used).
    Trades,
    /// `{"event":"subscribe"|"unsubscribe"|"login",…}`, text `pong`.
    Control,
    /// `{"event":"error",…}`.
    Error,
    /// Other channels (`ticker`, `candle1m`, ...) and the trade history snapshot.
    #[default]
    Other,
}

/// Parsed fields; levels and trades (id: `tradeId` (v2), else the trade time in ms: v1 sends
/// no id) go to [`Buffers`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Msg {
    /// Kind.
    pub kind: Kind,
    /// Handler index of the instrument.
    pub inst: usize,
    /// Book `checksum` (signed CRC32), if sent.
    pub checksum: Option<i64>,
    /// Book `seq` (v2).
    pub seq: Option<u64>,
    /// Book `pseq`: `seq` of the previous update, when sent.
    pub pseq: Option<u64>,
    /// Book `ts`, ms.
    pub ts_ms: u64,
}

#[derive(Default)]
struct Env<'de> {
    action: &'de str,
    event: &'de str,
    channel: &'de str,
    inst_id: &'de str,
    data: Option<RawJson<'de>>,
}

struct EnvSeed<'a, 'de>(&'a mut Env<'de>);

impl<'de> ObjectSeed<'de> for EnvSeed<'_, 'de> {
    type Value = ();
    const EXPECTING: &'static str = "a Bitget message object";
    fn visit<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        let e = self.0;
        while let Some(k) = m.next_key::<&str>()? {
            match k {
                "action" => e.action = m.next_value()?,
                "event" => e.event = m.next_value()?,
                "data" => e.data = Some(m.next_value()?),
                "arg" => m.next_value_seed(Object(ArgSeed(&mut *e)))?,
                _ => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct ArgSeed<'a, 'de>(&'a mut Env<'de>);

impl<'de> ObjectSeed<'de> for ArgSeed<'_, 'de> {
    type Value = ();
    const EXPECTING: &'static str = "an arg object";
    fn visit<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while let Some(k) = m.next_key::<&str>()? {
            match k {
                "channel" => self.0.channel = m.next_value()?,
                "instId" => self.0.inst_id = m.next_value()?,
                _ => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// Parse one message (the text frame `pong` included).
pub fn parse(raw: &[u8], syms: &SymbolTable, bufs: &mut Buffers) -> Result<Msg, WireError> {
    bufs.clear();
    let mut msg = Msg::default();
    if raw.trim_ascii() == b"pong" {
        msg.kind = Kind::Control;
        return Ok(msg);
    }
    let mut env = Env::default();
    read_json_lazy(raw, Object(EnvSeed(&mut env)))?;
    match env.event {
        "" => {}
        "error" => {
            msg.kind = Kind::Error;
            return Ok(msg);
        }
        _ => {
            msg.kind = Kind::Control;
            return Ok(msg);
        }
    }
    msg.kind = match (env.channel, env.action) {
        ("books", "snapshot") => Kind::BookSnapshot,
        ("books", "update") => Kind::BookUpdate,
        ("trade", "update") => Kind::Trades,
        (_, "") => return Err(WireError::MissingField("action")),
        _ => return Ok(msg),
    };
    if env.inst_id.is_empty() {
        return Err(WireError::MissingField("instId"));
    }
    let (k, sc) = syms.find(env.inst_id).ok_or(WireError::UnknownSymbol)?;
    msg.inst = k;
    let data = env.data.ok_or(WireError::MissingField("data"))?;
    if msg.kind == Kind::Trades {
        parse_with(
            data,
            Array(TradesSeed {
                sc,
                out: &mut bufs.trades,
            }),
        )
        .map_err(|_| WireError::Malformed)?;
        return Ok(msg);
    }
    let mut n = 0usize;
    parse_with(
        data,
        Array(BookArraySeed {
            sc,
            msg: &mut msg,
            bufs: &mut *bufs,
            n: &mut n,
        }),
    )
    .map_err(|_| WireError::Malformed)?;
    if n != 1 {
        return Err(WireError::Malformed); // one book per message
    }
    if msg.kind == Kind::BookSnapshot
        && bufs.bids.iter().chain(bufs.asks.iter()).any(|l| l.qty == 0)
    {
        return Err(WireError::Malformed);
    }
    Ok(msg)
}

struct BookArraySeed<'a> {
    sc: Scale,
    msg: &'a mut Msg,
    bufs: &'a mut Buffers,
    n: &'a mut usize,
}

impl<'de> ArraySeed<'de> for BookArraySeed<'_> {
    type Value = ();
    const EXPECTING: &'static str = "a data array with one book";
    fn visit<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        while s
            .next_element_seed(Object(BookSeed {
                sc: self.sc,
                msg: &mut *self.msg,
                bufs: &mut *self.bufs,
            }))?
            .is_some()
        {
            *self.n += 1;
        }
        Ok(())
    }
}

struct BookSeed<'a> {
    sc: Scale,
    msg: &'a mut Msg,
    bufs: &'a mut Buffers,
}

impl<'de> ObjectSeed<'de> for BookSeed<'_> {
    type Value = ();
    const EXPECTING: &'static str = "a book object";
    fn visit<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        let mut sides = (false, false);
        while let Some(k) = m.next_key::<&str>()? {
            match k {
                "asks" | "a" => {
                    m.next_value_seed(LevelsSeed {
                        scale: self.sc,
                        out: &mut self.bufs.asks,
                    })?;
                    sides.1 = true;
                }
                "bids" | "b" => {
                    m.next_value_seed(LevelsSeed {
                        scale: self.sc,
                        out: &mut self.bufs.bids,
                    })?;
                    sides.0 = true;
                }
                "checksum" => {
                    let c: i64 = m.next_value()?;
                    if !(i32::MIN as i64..=u32::MAX as i64).contains(&c) {
                        return Err(de::Error::custom("checksum out of 32-bit range"));
                    }
                    // signed CRC32; a venue that sends it unsigned gets the same bits
                    self.msg.checksum = Some(c as i32 as i64);
                }
                "seq" => {
                    let r: RawJson<'de> = m.next_value()?;
                    self.msg.seq = Some(r.u64().ok_or_else(|| de::Error::custom("bad seq"))?);
                }
                "pseq" => {
                    let r: RawJson<'de> = m.next_value()?;
                    self.msg.pseq = Some(r.u64().ok_or_else(|| de::Error::custom("bad pseq"))?);
                }
                "ts" => {
                    let r: RawJson<'de> = m.next_value()?;
                    self.msg.ts_ms = r.u64().ok_or_else(|| de::Error::custom("bad ts"))?;
                }
                _ => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
        }
        if sides != (true, true) {
            return Err(de::Error::custom("book without asks or bids"));
        }
        Ok(())
    }
}

struct TradesSeed<'a> {
    sc: Scale,
    out: &'a mut Vec<Trade>,
}

/// A v1 `["ts","px","sz","side"]` array or a v2 object.
#[derive(Default)]
struct RawTrade<'de> {
    ts: Option<&'de str>,
    id: Option<&'de str>,
    px: Option<&'de str>,
    sz: Option<&'de str>,
    side: Option<&'de str>,
}

impl<'de> serde::Deserialize<'de> for RawTrade<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RawTrade<'de>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawTrade<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a trade array or object")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<RawTrade<'de>, A::Error> {
                let t = RawTrade {
                    ts: s.next_element()?,
                    px: s.next_element()?,
                    sz: s.next_element()?,
                    side: s.next_element()?,
                    id: None,
                };
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(t)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<RawTrade<'de>, A::Error> {
                let mut t = RawTrade::default();
                while let Some(k) = m.next_key::<&str>()? {
                    match k {
                        "ts" => t.ts = Some(m.next_value::<RawJson<'de>>()?.num_text()),
                        "tradeId" => t.id = Some(m.next_value::<RawJson<'de>>()?.num_text()),
                        "price" => t.px = Some(m.next_value()?),
                        "size" => t.sz = Some(m.next_value()?),
                        "side" => t.side = Some(m.next_value()?),
                        _ => {
                            m.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(t)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> ArraySeed<'de> for TradesSeed<'_> {
    type Value = ();
    const EXPECTING: &'static str = "an array of trades";
    fn visit<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        while let Some(t) = s.next_element::<RawTrade<'de>>()? {
            let (Some(px), Some(sz), Some(side)) = (t.px, t.sz, t.side) else {
                return Err(de::Error::custom("trade without price, size or side"));
            };
            let id =
                t.id.or(t.ts)
                    .and_then(|x| RawJson(x).u64())
                    .ok_or_else(|| de::Error::custom("trade without tradeId or ts"))?;
            let p = parse_decimal(px.as_bytes(), self.sc.price_dec).map_err(de::Error::custom)?;
            let q = parse_decimal(sz.as_bytes(), self.sc.qty_dec).map_err(de::Error::custom)?;
            if p.value <= 0 || q.value <= 0 {
                return Err(de::Error::custom("non-positive price or size"));
            }
            let taker_buy = match side {
                "buy" => true,
                "sell" => false,
                _ => return Err(de::Error::custom("unknown side")),
            };
            if self.out.len() == self.out.capacity() {
                return Err(de::Error::custom("too many trades in one message"));
            }
            self.out.push(Trade {
                id,
                px: p.value,
                qty: q.value,
                taker_buy,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venues::testing;

    fn syms() -> SymbolTable {
        testing::table(&["CULTUSDT", "HOTUSDT", "BTCUSDT"], 8, 8)
    }

    const UPD: &str = r#"{"action":"update","arg":{"instType":"sp","channel":"books","instId":"CULTUSDT"},"data":[{"asks":[["0.00003614","600000"],["0.00004010","0"]],"bids":[["0.00003471","200000"]],"checksum":-1816604544,"ts":"1649290077611"}]}"#;

    #[test]
    fn v1_book_update_keeps_text_digits_and_checksum() {
        let mut b = Buffers::with_capacity(8, 8);
        let m = parse(UPD.as_bytes(), &syms(), &mut b).unwrap();
        assert_eq!(
            (m.kind, m.checksum, m.seq, m.ts_ms),
            (Kind::BookUpdate, Some(-1816604544), None, 1649290077611)
        );
        assert_eq!((b.asks.len(), b.bids.len()), (2, 1));
        assert_eq!(
            (b.asks[1].px, b.asks[1].qty, b.asks[1].px_frac),
            (4010, 0, 8),
            "0.00004010: 8 digits as sent"
        );
    }

    #[test]
    fn v1_and_v2_trades_v2_book_fields() {
        let mut b = Buffers::with_capacity(8, 8);
        let m = parse(br#"{"action":"update","arg":{"instType":"sp","channel":"trade","instId":"HOTUSDT"},"data":[["1649290077777","0.005613","890.8","buy"]]}"#, &syms(), &mut b).unwrap();
        assert_eq!(m.kind, Kind::Trades);
        assert_eq!(
            b.trades,
            vec![Trade {
                id: 1649290077777,
                px: 561_300,
                qty: 89_080_000_000,
                taker_buy: true
            }]
        );
        let m = parse(br#"{"action":"update","arg":{"instType":"SPOT","channel":"trade","instId":"BTCUSDT"},"data":[{"ts":"1695709835822","price":"26293.4","size":"0.0013","side":"sell","tradeId":"1000000000"}],"ts":1695709835822}"#, &syms(), &mut b).unwrap();
        assert_eq!(m.kind, Kind::Trades);
        assert_eq!(
            (b.trades[0].id, b.trades[0].taker_buy),
            (1_000_000_000, false)
        );
        let m = parse(br#"{"action":"snapshot","arg":{"instType":"SPOT","channel":"books","instId":"BTCUSDT"},"data":[{"asks":[["27000.5","8.760"]],"bids":[["27000.0","2.71"]],"checksum":0,"seq":123,"pseq":120,"ts":"1695716059516"}],"ts":1695716059516}"#, &syms(), &mut b).unwrap();
        assert_eq!(
            (m.kind, m.checksum, m.seq, m.pseq),
            (Kind::BookSnapshot, Some(0), Some(123), Some(120))
        );
        // the recent-trades snapshot on subscribe is history: not used
        let m = parse(br#"{"action":"snapshot","arg":{"instType":"sp","channel":"trade","instId":"HOTUSDT"},"data":[["1649290077777","0.005613","890.8","buy"]]}"#, &syms(), &mut b).unwrap();
        assert_eq!(m.kind, Kind::Other);
    }

    #[test]
    fn control_and_malformed() {
        let mut b = Buffers::with_capacity(2, 1);
        assert_eq!(parse(b"pong", &syms(), &mut b).unwrap().kind, Kind::Control);
        assert_eq!(parse(br#"{"event":"subscribe","arg":{"instType":"sp","channel":"books","instId":"CULTUSDT"}}"#, &syms(), &mut b).unwrap().kind, Kind::Control);
        assert_eq!(parse(br#"{"event":"error","code":30001,"msg":"instType:sp,channel:books,instId:NOPE doesn't exist"}"#, &syms(), &mut b).unwrap().kind, Kind::Error);
        assert_eq!(parse(br#"{"action":"snapshot","arg":{"instType":"sp","channel":"ticker","instId":"CULTUSDT"},"data":[{"instId":"CULTUSDT","last":"0.00003511","bestBid":"0.000036","bestAsk":"0.000036","ts":1649290076193}]}"#, &syms(), &mut b).unwrap().kind, Kind::Other);
        for (m, want) in [
            (UPD[..UPD.len() - 4].to_string(), WireError::Malformed),
            (
                UPD.replace("CULTUSDT", "DOGEUSDT"),
                WireError::UnknownSymbol,
            ),
            (
                UPD.replace("\"checksum\":-1816604544", "\"checksum\":99999999999"),
                WireError::Malformed,
            ),
            (
                UPD.replace("\"checksum\":-1816604544", "\"checksum\":\"x\""),
                WireError::Malformed,
            ),
            (
                UPD.replace("\"bids\":[[\"0.00003471\",\"200000\"]],", ""),
                WireError::Malformed,
            ),
            (
                UPD.replace("\"0.00003614\"", "\"0.000036145\""),
                WireError::Malformed,
            ),
            (
                UPD.replace("\"action\":\"update\",", ""),
                WireError::MissingField("action"),
            ),
            (
                UPD.replace("\"instId\":\"CULTUSDT\"", "\"x\":1"),
                WireError::MissingField("instId"),
            ),
            (
                UPD.replace("}]}", "},{\"asks\":[],\"bids\":[]}]}"),
                WireError::Malformed,
            ), // two books
            (
                UPD.replace(
                    "[\"0.00004010\",\"0\"]",
                    "[\"0.00004010\",\"0\"],[\"0.00004011\",\"1\"]",
                ),
                WireError::Malformed,
            ), // capacity 2
            (UPD.replace("update", "snapshot"), WireError::Malformed), // size 0 in a snapshot
        ] {
            assert_eq!(
                parse(m.as_bytes(), &syms(), &mut b).map(|x| x.kind),
                Err(want),
                "{m}"
            );
        }
    }
}
