//! Upbit WebSocket quotation messages (`orderbook`, `trade`, `ticker`, keep-alive status and
//! errors) in both field formats, `DEFAULT` (`orderbook_units`, `ask_price`, `code`, ...) and
//! `SIMPLE` (`obu`, `ap`, `cd`, ...). Bithumb's current public WebSocket uses the same messages
//! (see [`crate::venues::bithumb`]).
//!
//! Sources: <https://docs.upbit.com/reference/websocket-orderbook>,
//! <https://docs.upbit.com/kr/v1.6.4/reference/websocket-trade>,
//! <https://docs.upbit.com/reference/connection>; `../shared/docs/exchanges.md` §7.1.
//!
//! Prices and sizes are JSON numbers (doubles on Upbit's side): they are read from their text
//! into fixed point ([`crate::venues::raw_json`]), never through `f64`. Frames are binary
//! WebSocket frames holding UTF-8 JSON.
//!
//! Real samples (`../shared/data/recorded/UPBIT.ws.62.0`, 2021-04-17, SIMPLE format; the
//! orderbook cut to 2 of its 15 units):
//! ```text
//! {"ty":"orderbook","cd":"KRW-LAMB","tms":1618678262640,"tas":25752275.55420627,"tbs":14407925.20098682,"obu":[{"ap":127.0,"bp":126.0,"as":280460.37885666,"bs":688682.44561413},{"ap":128.0,"bp":125.0,"as":502824.98156754,"bs":1924299.53689703}],"st":"REALTIME"}
//! {"ty":"trade","cd":"KRW-LAMB","tms":1618678262712,"td":"2021-04-17","ttm":"16:51:02","ttms":1618678262000,"tp":127.0,"tv":46.48838371,"ab":"BID","pcp":123.00000000,"c":"RISE","cp":4.00000000,"sid":1618678262000003,"st":"REALTIME"}
//! ```
//! DEFAULT format (doc): `{"type":"orderbook","code":"KRW-BTC","timestamp":1746601573804,
//! "total_ask_size":4.79,"total_bid_size":2.65,"orderbook_units":[{"ask_price":137002000,
//! "bid_price":137001000,"ask_size":0.106,"bid_size":0.037}],"stream_type":"REALTIME","level":0}`.
#![forbid(unsafe_code)]

use crate::book::Level;
use crate::venues::raw_json::{parse_with, RawJson};
use crate::venues::symbols::SymbolTable;
use crate::venues::wire_util::{
    read_json_lazy, Array, ArraySeed, Buffers, Object, ObjectSeed, Scale, WireError,
};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// Message type (`type` / `ty`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Kind {
    /// Full top-N book.
    Orderbook,
    /// Public trade.
    Trade,
    /// 24 h ticker (no best bid/ask in it).
    Ticker,
    /// `{"status":"UP"}`: answer to a keep-alive.
    Status,
    /// `{"error":{"name":...,"message":...}}`: the venue refused a request.
    Error,
    /// Anything else.
    #[default]
    Other,
}

/// Fields of one message; levels of an orderbook go to the handler's [`Buffers`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Msg<'de> {
    /// Message type.
    pub kind: Kind,
    /// Market code (`KRW-BTC`, `BTC-XTZ`).
    pub code: &'de str,
    /// `timestamp` / `tms`, ms.
    pub ts_ms: u64,
    /// Trade price (scaled).
    pub px: i64,
    /// Trade volume (scaled).
    pub qty: i64,
    /// Aggressor is the buyer (`ask_bid` = `BID`).
    pub buy_aggressor: bool,
    /// `sequential_id` / `sid`.
    pub trade_id: u64,
}

/// First pass: kind, code, scalar fields; scale-dependent values kept as raw text.
#[derive(Default)]
struct Top<'de> {
    kind: Kind,
    code: &'de str,
    ts_ms: Option<u64>,
    units: Option<RawJson<'de>>,
    px: Option<RawJson<'de>>,
    qty: Option<RawJson<'de>>,
    ab: Option<&'de str>,
    sid: Option<u64>,
}

struct TopSeed<'a, 'de>(&'a mut Top<'de>);

impl<'de> ObjectSeed<'de> for TopSeed<'_, 'de> {
    type Value = ();
    const EXPECTING: &'static str = "an Upbit message object";
    fn visit<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        let t = self.0;
        while let Some(k) = m.next_key::<&str>()? {
            match k {
                "ty" | "type" => {
                    t.kind = match m.next_value::<&str>()? {
                        "orderbook" => Kind::Orderbook,
                        "trade" => Kind::Trade,
                        "ticker" => Kind::Ticker,
                        _ => Kind::Other,
                    }
                }
                "cd" | "code" => t.code = m.next_value()?,
                "tms" | "timestamp" => t.ts_ms = Some(m.next_value()?),
                "obu" | "orderbook_units" => t.units = Some(m.next_value()?),
                "tp" | "trade_price" => t.px = Some(m.next_value()?),
                "tv" | "trade_volume" => t.qty = Some(m.next_value()?),
                "ab" | "ask_bid" => t.ab = Some(m.next_value()?),
                "sid" | "sequential_id" => t.sid = Some(m.next_value()?),
                "status" => {
                    m.next_value::<IgnoredAny>()?;
                    if t.kind == Kind::Other {
                        t.kind = Kind::Status;
                    }
                }
                "error" => {
                    m.next_value::<IgnoredAny>()?;
                    t.kind = Kind::Error;
                }
                _ => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// Parse one message: its fields and the handler index of its market code (`usize::MAX` for
/// status, error and unknown messages). Orderbook levels are written to `levels.bids/asks`
/// (cleared first), best first; [`WireError::UnknownSymbol`] for a code `codes` lacks.
pub fn parse<'de>(
    raw: &'de [u8],
    codes: &SymbolTable,
    levels: &mut Buffers,
) -> Result<(Msg<'de>, usize), WireError> {
    levels.bids.clear();
    levels.asks.clear();
    let mut top = Top::default();
    read_json_lazy(raw, Object(TopSeed(&mut top)))?;
    let mut msg = Msg {
        kind: top.kind,
        code: top.code,
        ..Msg::default()
    };
    match top.kind {
        Kind::Status | Kind::Error | Kind::Other => return Ok((msg, usize::MAX)),
        _ => {}
    }
    if top.code.is_empty() {
        return Err(WireError::MissingField("code"));
    }
    let Some((k, sc)) = codes.find(top.code) else {
        return Err(WireError::UnknownSymbol);
    };
    match top.kind {
        Kind::Orderbook => {
            msg.ts_ms = top.ts_ms.ok_or(WireError::MissingField("timestamp"))?;
            let units = top
                .units
                .ok_or(WireError::MissingField("orderbook_units"))?;
            parse_with(
                units,
                Array(UnitsSeed {
                    scale: sc,
                    levels: &mut *levels,
                }),
            )
            .map_err(|_| WireError::Malformed)?;
        }
        Kind::Trade => {
            let px = top.px.ok_or(WireError::MissingField("trade_price"))?;
            let qty = top.qty.ok_or(WireError::MissingField("trade_volume"))?;
            msg.px = px
                .dec(sc.price_dec)
                .map_err(|_| WireError::Malformed)?
                .value;
            msg.qty = qty.dec(sc.qty_dec).map_err(|_| WireError::Malformed)?.value;
            if msg.px <= 0 || msg.qty <= 0 {
                return Err(WireError::Malformed);
            }
            msg.buy_aggressor = match top.ab.ok_or(WireError::MissingField("ask_bid"))? {
                "BID" => true,
                "ASK" => false,
                _ => return Err(WireError::Malformed),
            };
            msg.trade_id = top.sid.ok_or(WireError::MissingField("sequential_id"))?;
            msg.ts_ms = top.ts_ms.unwrap_or(0);
        }
        Kind::Ticker => {
            // nothing for the book; the price must still be a number at the instrument's scale
            if let Some(px) = top.px {
                msg.px = px
                    .dec(sc.price_dec)
                    .map_err(|_| WireError::Malformed)?
                    .value;
            }
            msg.ts_ms = top.ts_ms.unwrap_or(0);
        }
        _ => {}
    }
    Ok((msg, k))
}

struct UnitsSeed<'a> {
    scale: Scale,
    levels: &'a mut Buffers,
}

impl<'de> ArraySeed<'de> for UnitsSeed<'_> {
    type Value = ();
    const EXPECTING: &'static str = "an array of orderbook units";
    fn visit<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        let sc = self.scale;
        while let Some(u) = s.next_element::<Unit<'de>>()? {
            let lv = |p: Option<RawJson<'de>>,
                      q: Option<RawJson<'de>>|
             -> Result<Option<Level>, A::Error> {
                let (Some(p), Some(q)) = (p, q) else {
                    return Err(de::Error::custom("orderbook unit without price or size"));
                };
                let p = p.dec(sc.price_dec).map_err(de::Error::custom)?;
                let q = q.dec(sc.qty_dec).map_err(de::Error::custom)?;
                if p.value < 0 || q.value < 0 {
                    return Err(de::Error::custom("negative price or size"));
                }
                if q.value == 0 {
                    return Ok(None); // an empty slot (a side shorter than N)
                }
                if p.value == 0 {
                    return Err(de::Error::custom("size at price 0"));
                }
                Ok(Some(Level {
                    px: p.value,
                    qty: q.value,
                    px_frac: p.frac,
                    qty_frac: q.frac,
                }))
            };
            let a = lv(u.ap, u.a_sz)?;
            let b = lv(u.bp, u.b_sz)?;
            for (l, out) in [(a, &mut self.levels.asks), (b, &mut self.levels.bids)] {
                if let Some(l) = l {
                    if out.len() == out.capacity() {
                        return Err(de::Error::custom("too many levels in one message"));
                    }
                    out.push(l);
                }
            }
        }
        Ok(())
    }
}

/// One `orderbook_units` element, values kept as raw text until the scale applies.
#[derive(Default)]
struct Unit<'de> {
    ap: Option<RawJson<'de>>,
    bp: Option<RawJson<'de>>,
    a_sz: Option<RawJson<'de>>,
    b_sz: Option<RawJson<'de>>,
}

impl<'de> serde::Deserialize<'de> for Unit<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Unit<'de>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Unit<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an orderbook unit object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Unit<'de>, A::Error> {
                let mut u = Unit::default();
                while let Some(k) = m.next_key::<&str>()? {
                    match k {
                        "ap" | "ask_price" => u.ap = Some(m.next_value()?),
                        "bp" | "bid_price" => u.bp = Some(m.next_value()?),
                        "as" | "ask_size" => u.a_sz = Some(m.next_value()?),
                        "bs" | "bid_size" => u.b_sz = Some(m.next_value()?),
                        _ => {
                            m.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(u)
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venues::testing::table;

    /// `KRW-LAMB` at handler index 3, `KRW-BTC` at 4, both at 8 decimals.
    fn codes() -> SymbolTable {
        table(&["KRW-A", "KRW-B", "KRW-C", "KRW-LAMB", "KRW-BTC"], 8, 8)
    }

    #[test]
    fn simple_and_default_orderbooks_parse_the_same() {
        let mut lv = Buffers::with_capacity(30, 0);
        let simple = br#"{"ty":"orderbook","cd":"KRW-LAMB","tms":1618678262640,"tas":25752275.55420627,"tbs":14407925.20098682,"obu":[{"ap":127.0,"bp":126.0,"as":280460.37885666,"bs":688682.44561413},{"ap":128.0,"bp":125.0,"as":502824.98156754,"bs":1924299.53689703}],"st":"REALTIME"}"#;
        let (m, k) = parse(simple, &codes(), &mut lv).unwrap();
        assert_eq!(
            (m.kind, m.code, m.ts_ms, k),
            (Kind::Orderbook, "KRW-LAMB", 1618678262640, 3)
        );
        let a: Vec<(i64, i64)> = lv.asks.iter().map(|l| (l.px, l.qty)).collect();
        assert_eq!(
            a,
            vec![
                (12_700_000_000, 28_046_037_885_666),
                (12_800_000_000, 50_282_498_156_754)
            ]
        );
        assert_eq!(lv.bids[0].px, 12_600_000_000);
        assert_eq!((lv.bids[0].px_frac, lv.bids[0].qty_frac), (1, 8));
        let default = br#"{"type":"orderbook","code":"KRW-LAMB","timestamp":1618678262640,"total_ask_size":25752275.55420627,"total_bid_size":14407925.20098682,"orderbook_units":[{"ask_price":127.0,"bid_price":126.0,"ask_size":280460.37885666,"bid_size":688682.44561413},{"ask_price":128.0,"bid_price":125.0,"ask_size":502824.98156754,"bid_size":1924299.53689703}],"stream_type":"REALTIME","level":0}"#;
        let simple_levels = (lv.bids.clone(), lv.asks.clone());
        let (m2, _) = parse(default, &codes(), &mut lv).unwrap();
        assert_eq!(m2.ts_ms, m.ts_ms);
        assert_eq!((lv.bids.clone(), lv.asks.clone()), simple_levels);
    }

    #[test]
    fn units_before_code_still_parse() {
        let mut lv = Buffers::with_capacity(30, 0);
        let msg = br#"{"obu":[{"ap":1.5,"bp":1.4,"as":1,"bs":2}],"tms":5,"cd":"KRW-LAMB","ty":"orderbook"}"#;
        let (m, _) = parse(msg, &codes(), &mut lv).unwrap();
        assert_eq!(m.kind, Kind::Orderbook);
        assert_eq!(lv.asks[0].px, 150_000_000);
    }

    #[test]
    fn trade_both_formats() {
        let mut lv = Buffers::with_capacity(4, 0);
        let t = br#"{"ty":"trade","cd":"KRW-LAMB","tms":1618678262712,"td":"2021-04-17","ttm":"16:51:02","ttms":1618678262000,"tp":127.0,"tv":46.48838371,"ab":"BID","pcp":123.00000000,"c":"RISE","cp":4.00000000,"sid":1618678262000003,"st":"REALTIME"}"#;
        let (m, _) = parse(t, &codes(), &mut lv).unwrap();
        assert_eq!(
            (m.px, m.qty, m.buy_aggressor, m.trade_id),
            (12_700_000_000, 4_648_838_371, true, 1618678262000003)
        );
        let t = br#"{"type":"trade","code":"KRW-BTC","timestamp":1,"trade_price":137001000,"trade_volume":1.2e-05,"ask_bid":"ASK","sequential_id":17}"#;
        let (m, _) = parse(t, &codes(), &mut lv).unwrap();
        assert_eq!(
            (m.px, m.qty, m.buy_aggressor),
            (13_700_100_000_000_000, 1200, false)
        );
    }

    #[test]
    fn status_error_and_unknown() {
        let mut lv = Buffers::with_capacity(4, 0);
        assert_eq!(
            parse(br#"{"status":"UP"}"#, &codes(), &mut lv)
                .unwrap()
                .0
                .kind,
            Kind::Status
        );
        let e = r#"{"error":{"name":"NO_TICKET","message":"티켓이 존재하지 않거나, 유효하지 않습니다."}}"#;
        assert_eq!(
            parse(e.as_bytes(), &codes(), &mut lv).unwrap().0.kind,
            Kind::Error
        );
        assert_eq!(
            parse(
                br#"{"ty":"orderbook","cd":"KRW-XRP","tms":1,"obu":[]}"#,
                &codes(),
                &mut lv
            ),
            Err(WireError::UnknownSymbol)
        );
    }

    #[test]
    fn malformed() {
        let mut lv = Buffers::with_capacity(2, 0);
        for (m, want) in [
            (&br#"{"ty":"orderbook","cd":"KRW-LAMB","obu":[]}"#[..], WireError::MissingField("timestamp")),
            (br#"{"ty":"orderbook","cd":"KRW-LAMB","tms":1}"#, WireError::MissingField("orderbook_units")),
            (br#"{"ty":"orderbook","tms":1,"obu":[]}"#, WireError::MissingField("code")),
            (br#"{"ty":"orderbook","cd":"KRW-LAMB","tms":1,"obu":[{"ap":"x","bp":1,"as":1,"bs":1}]}"#, WireError::Malformed),
            (br#"{"ty":"orderbook","cd":"KRW-LAMB","tms":1,"obu":[{"ap":1,"as":1,"bs":1}]}"#, WireError::Malformed),
            (br#"{"ty":"orderbook","cd":"KRW-LAMB","tms":1,"obu":[{"ap":-1,"bp":1,"as":1,"bs":1}]}"#, WireError::Malformed),
            (br#"{"ty":"orderbook","cd":"KRW-LAMB","tms":1,"obu":[{"ap":1.123456789,"bp":1,"as":1,"bs":1}]}"#, WireError::Malformed),
            (br#"{"ty":"orderbook","cd":"KRW-LAMB","tms":1,"obu":[{"ap":3,"bp":1,"as":1,"bs":1},{"ap":4,"bp":0.5,"as":1,"bs":1},{"ap":5,"bp":0.4,"as":1,"bs":1}]}"#, WireError::Malformed),
            (br#"{"ty":"trade","cd":"KRW-LAMB","tp":1,"tv":1,"ab":"SIDEWAYS","sid":1}"#, WireError::Malformed),
            (br#"{"ty":"trade","cd":"KRW-LAMB","tp":1,"tv":1,"ab":"BID"}"#, WireError::MissingField("sequential_id")),
            (br#"{"ty":"trade","cd":"KRW-LAMB","tp":0,"tv":1,"ab":"BID","sid":1}"#, WireError::Malformed),
            (br#"{"ty":"trade","cd":"KRW-LA"#, WireError::Malformed),
            (b"", WireError::Malformed),
            (b"[1,2]", WireError::Malformed),
        ] {
            assert_eq!(parse(m, &codes(), &mut lv).map(|x| x.0.kind), Err(want), "{}", String::from_utf8_lossy(m));
        }
        assert_eq!(lv.bids.capacity(), 2, "never grows");
    }
}
