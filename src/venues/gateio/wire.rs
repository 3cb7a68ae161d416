//! Gate.io spot WebSocket v4 messages (`spot.order_book_update`, `spot.book_ticker`,
//! `spot.trades`, acks/pongs/errors) and the REST snapshot `GET /api/v4/spot/order_book
//! ?with_id=true`, parsed with sonic-rs into fixed point without allocation.
//!
//! Sources: <https://www.gate.com/docs/developers/apiv4/ws/en> (Spot WebSocket v4.0.0),
//! <https://www.gate.com/docs/developers/apiv4/en> ("Retrieve order book");
//! `../shared/docs/exchanges.md` §10.
//!
//! `result` is kept as raw text in a first pass (the channel decides its shape), and inside it
//! `b`/`a` are parsed once the symbol `s` is known, whatever the key order.
//!
//! Real samples (`../shared/data/recorded/GATEIO.ws.1.0`, 2021-04-22; the first cut to 2 levels):
//! ```text
//! {"time":1619093533,"channel":"spot.order_book_update","event":"update","result":{"t":1619093533020,"e":"depthUpdate","E":1619093533,"s":"FAST_USDT","U":1130669,"u":1138115,"b":[["10.28","36.50154112"],["10.23","0"]],"a":[["10.33","0.2411"]]}}
//! {"time":1619093543,"channel":"spot.trades","event":"update","result":{"id":816995772,"create_time":1619093543,"create_time_ms":"1619093543708.2642","side":"sell","currency_pair":"DIS_USDT","amount":"0.2010000000","price":"121.5800000000"}}
//! {"time":1619093532,"channel":"spot.order_book_update","event":"subscribe","result":{"status":"success"}}
//! ```
//! Documented (not in the recording): `spot.book_ticker` result
//! `{"t":1606293275123,"u":48733182,"s":"BTC_USDT","b":"19177.79","B":"0.0003341504","a":"19179.38","A":"0.09"}`;
//! `full: true` in an `order_book_update` result marks a full snapshot; the REST snapshot
//! `{"id":123456,"current":1623898993123,"update":1623898993121,"asks":[["1.52","1.151"]],"bids":[["1.17","201.863"]]}`.
#![forbid(unsafe_code)]

use crate::book::Level;
use crate::fixed_point::parse_decimal;
use crate::types::Side;
use crate::venues::raw_json::{parse_with, RawJson};
use crate::venues::seq_book::SeqLevel;
use crate::venues::symbols::SymbolTable;
use crate::venues::wire_util::{
    read_json_lazy, Array, ArraySeed, Buffers, LevelsSeed, Object, ObjectSeed, Scale, WireError,
};
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess};

/// What a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Kind {
    /// `spot.order_book_update` diff.
    BookUpdate,
    /// `spot.order_book_update` with `full: true`: a full book.
    BookFull,
    /// `spot.book_ticker`: best bid/ask with update id `u`.
    BookTicker,
    /// `spot.trades`.
    Trade,
    /// Subscribe/unsubscribe acks, `spot.pong`.
    Control,
    /// A non-null `error`.
    Error,
    /// Other channels (`spot.tickers`, `spot.candlesticks`, ...).
    #[default]
    Other,
}

/// Parsed fields; levels and diff changes go to [`Buffers`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Msg {
    /// Kind.
    pub kind: Kind,
    /// Handler index of the instrument.
    pub inst: usize,
    /// Diff `U`.
    pub first: u64,
    /// Diff / full book / book ticker `u`; trade `id`.
    pub last: u64,
    /// Book ticker: bid px, bid qty, ask px, ask qty.
    pub bbo: [i64; 4],
    /// Trade price.
    pub px: i64,
    /// Trade amount.
    pub qty: i64,
    /// Trade: the taker bought.
    pub taker_buy: bool,
}

#[derive(Default)]
struct Env<'de> {
    channel: &'de str,
    event: &'de str,
    result: Option<RawJson<'de>>,
    error: bool,
}

struct EnvSeed<'a, 'de>(&'a mut Env<'de>);

impl<'de> ObjectSeed<'de> for EnvSeed<'_, 'de> {
    type Value = ();
    const EXPECTING: &'static str = "a Gate.io message object";
    fn visit<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        let e = self.0;
        while let Some(k) = m.next_key::<&str>()? {
            match k {
                "channel" => e.channel = m.next_value()?,
                "event" => e.event = m.next_value()?,
                "result" => e.result = Some(m.next_value()?),
                "error" => e.error = m.next_value::<RawJson<'de>>()?.0 != "null",
                _ => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

#[derive(Default)]
struct Res<'de> {
    sym: Option<&'de str>,
    first: Option<u64>,
    last: Option<u64>,
    id: Option<u64>,
    full: bool,
    b: Option<RawJson<'de>>,
    a: Option<RawJson<'de>>,
    bq: Option<RawJson<'de>>,
    aq: Option<RawJson<'de>>,
    px: Option<RawJson<'de>>,
    amount: Option<RawJson<'de>>,
    side: Option<&'de str>,
}

struct ResSeed<'a, 'de>(&'a mut Res<'de>);

fn uint<E: de::Error>(r: RawJson<'_>) -> Result<u64, E> {
    r.u64().ok_or_else(|| E::custom("not an unsigned integer"))
}

impl<'de> ObjectSeed<'de> for ResSeed<'_, 'de> {
    type Value = ();
    const EXPECTING: &'static str = "a result object";
    fn visit<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        let r = self.0;
        while let Some(k) = m.next_key::<&str>()? {
            match k {
                "s" | "currency_pair" => r.sym = Some(m.next_value()?),
                "U" => r.first = Some(uint(m.next_value()?)?),
                "u" => r.last = Some(uint(m.next_value()?)?),
                "id" => r.id = Some(uint(m.next_value()?)?),
                "full" => r.full = m.next_value()?,
                "b" | "bids" => r.b = Some(m.next_value()?),
                "a" | "asks" => r.a = Some(m.next_value()?),
                "B" => r.bq = Some(m.next_value()?),
                "A" => r.aq = Some(m.next_value()?),
                "price" => r.px = Some(m.next_value()?),
                "amount" => r.amount = Some(m.next_value()?),
                "side" => r.side = Some(m.next_value()?),
                _ => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

fn res_of(raw: RawJson<'_>) -> Result<Res<'_>, WireError> {
    let mut r = Res::default();
    parse_with(raw, Object(ResSeed(&mut r))).map_err(|_| WireError::Malformed)?;
    Ok(r)
}

/// Parse one WebSocket message.
pub fn parse(raw: &[u8], syms: &SymbolTable, bufs: &mut Buffers) -> Result<Msg, WireError> {
    bufs.changes.clear();
    bufs.bids.clear();
    bufs.asks.clear();
    let mut env = Env::default();
    read_json_lazy(raw, Object(EnvSeed(&mut env)))?;
    let mut msg = Msg::default();
    if env.error {
        msg.kind = Kind::Error;
        return Ok(msg);
    }
    if env.channel.is_empty() {
        return Err(WireError::MissingField("channel"));
    }
    if env.event != "update" && env.event != "all" {
        msg.kind = Kind::Control;
        return Ok(msg);
    }
    msg.kind = match env.channel {
        "spot.order_book_update" => Kind::BookUpdate,
        "spot.book_ticker" => Kind::BookTicker,
        "spot.trades" => Kind::Trade,
        _ => return Ok(msg),
    };
    let r = res_of(env.result.ok_or(WireError::MissingField("result"))?)?;
    let sym = r.sym.ok_or(WireError::MissingField("s"))?;
    let (k, sc) = syms.find(sym).ok_or(WireError::UnknownSymbol)?;
    msg.inst = k;
    let dec = |v: Option<RawJson<'_>>, s: u32, name: &'static str| -> Result<i64, WireError> {
        v.ok_or(WireError::MissingField(name))?
            .dec(s)
            .map(|d| d.value)
            .map_err(|_| WireError::Malformed)
    };
    match msg.kind {
        Kind::BookUpdate => {
            msg.last = r.last.ok_or(WireError::MissingField("u"))?;
            let (b, a) = (r.b.unwrap_or_default(), r.a.unwrap_or_default());
            if b.is_empty() && a.is_empty() {
                return Err(WireError::MissingField("b/a"));
            }
            if r.full {
                msg.kind = Kind::BookFull;
                levels(b, sc, &mut bufs.bids)?;
                levels(a, sc, &mut bufs.asks)?;
                if bufs.bids.iter().chain(bufs.asks.iter()).any(|l| l.qty == 0) {
                    return Err(WireError::Malformed);
                }
            } else {
                msg.first = r.first.ok_or(WireError::MissingField("U"))?;
                if msg.first > msg.last {
                    return Err(WireError::Malformed);
                }
                for (raw, side) in [(b, Side::Buy), (a, Side::Sell)] {
                    if !raw.is_empty() {
                        parse_with(
                            raw,
                            Array(ChangesSeed {
                                sc,
                                side,
                                out: &mut bufs.changes,
                            }),
                        )
                        .map_err(|_| WireError::Malformed)?;
                    }
                }
            }
        }
        Kind::BookTicker => {
            msg.last = r.last.ok_or(WireError::MissingField("u"))?;
            msg.bbo = [
                dec(r.b, sc.price_dec, "b")?,
                dec(r.bq, sc.qty_dec, "B")?,
                dec(r.a, sc.price_dec, "a")?,
                dec(r.aq, sc.qty_dec, "A")?,
            ];
            if msg.bbo.iter().any(|v| *v < 0) {
                return Err(WireError::Malformed);
            }
        }
        Kind::Trade => {
            msg.last = r.id.ok_or(WireError::MissingField("id"))?;
            msg.px = dec(r.px, sc.price_dec, "price")?;
            msg.qty = dec(r.amount, sc.qty_dec, "amount")?;
            if msg.px <= 0 || msg.qty <= 0 {
                return Err(WireError::Malformed);
            }
            msg.taker_buy = match r.side.ok_or(WireError::MissingField("side"))? {
                "buy" => true,
                "sell" => false,
                _ => return Err(WireError::Malformed),
            };
        }
        _ => {}
    }
    Ok(msg)
}

fn levels(raw: RawJson<'_>, sc: Scale, out: &mut Vec<Level>) -> Result<(), WireError> {
    if raw.is_empty() {
        return Ok(());
    }
    parse_with(raw, LevelsSeed { scale: sc, out }).map_err(|_| WireError::Malformed)
}

struct ChangesSeed<'a> {
    sc: Scale,
    side: Side,
    out: &'a mut Vec<SeqLevel>,
}

impl<'de> ArraySeed<'de> for ChangesSeed<'_> {
    type Value = ();
    const EXPECTING: &'static str = "an array of [price, amount]";
    fn visit<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        while let Some((px, amt)) = s.next_element::<(&'de str, &'de str)>()? {
            let p = parse_decimal(px.as_bytes(), self.sc.price_dec).map_err(de::Error::custom)?;
            let q = parse_decimal(amt.as_bytes(), self.sc.qty_dec).map_err(de::Error::custom)?;
            if p.value <= 0 || q.value < 0 {
                return Err(de::Error::custom("non-positive price or negative amount"));
            }
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
                seq: 0,
            });
        }
        Ok(())
    }
}

/// Parse a REST snapshot `{"id":…,"asks":…,"bids":…}` at `scale`: returns `id`; levels go to
/// `bufs.bids/asks`.
pub fn parse_snapshot(raw: &[u8], scale: Scale, bufs: &mut Buffers) -> Result<u64, WireError> {
    bufs.bids.clear();
    bufs.asks.clear();
    let s = std::str::from_utf8(raw).map_err(|_| WireError::Malformed)?;
    let r = res_of(RawJson(s))?;
    let id = r.id.ok_or(WireError::MissingField("id"))?;
    let (Some(b), Some(a)) = (r.b, r.a) else {
        return Err(WireError::MissingField("bids/asks"));
    };
    levels(b, scale, &mut bufs.bids)?;
    levels(a, scale, &mut bufs.asks)?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venues::testing;

    /// `FAST_USDT` at handler index 2, at 10 decimals.
    fn syms() -> SymbolTable {
        testing::table(&["DIS_USDT", "BTC_USDT", "FAST_USDT"], 10, 10)
    }

    /// Room for `n` levels per side and `2n` changes (the handler's proportions).
    fn bufs(n: usize) -> Buffers {
        let mut b = Buffers::with_capacity(n, 0);
        b.changes = Vec::with_capacity(2 * n);
        b
    }

    const UPD: &str = r#"{"time":1619093533,"channel":"spot.order_book_update","event":"update","result":{"t":1619093533020,"e":"depthUpdate","E":1619093533,"s":"FAST_USDT","U":1130669,"u":1138115,"b":[["10.28","36.50154112"],["10.23","0"]],"a":[["10.33","0.2411"]]}}"#;

    #[test]
    fn invalid_utf8_inside_a_skipped_value_is_malformed() {
        // fuzz crash (tests/fuzz md): sonic-rs made a `&str` of a lazily skipped value without
        // checking its UTF-8 (a debug assertion; undefined behaviour without it)
        let mut raw = br#"{"time":1619093532,"channel":"spot.candlesticks","event":"subscribe","result":{"st"#.to_vec();
        raw.extend_from_slice(&[0x89; 53]);
        raw.extend_from_slice(br#"atus":"success"}}"#);
        assert_eq!(
            parse(&raw, &syms(), &mut bufs(8)).err(),
            Some(WireError::Malformed)
        );
    }

    #[test]
    fn diff_trade_ack() {
        let mut b = bufs(8);
        let m = parse(UPD.as_bytes(), &syms(), &mut b).unwrap();
        assert_eq!(
            (m.kind, m.inst, m.first, m.last),
            (Kind::BookUpdate, 2, 1130669, 1138115)
        );
        let ch: Vec<(Side, i64, i64)> = b
            .changes
            .iter()
            .map(|c| (c.side, c.lvl.px, c.lvl.qty))
            .collect();
        assert_eq!(
            ch,
            vec![
                (Side::Buy, 102_800_000_000, 365_015_411_200),
                (Side::Buy, 102_300_000_000, 0),
                (Side::Sell, 103_300_000_000, 2_411_000_000)
            ]
        );
        let m = parse(br#"{"time":1619093543,"channel":"spot.trades","event":"update","result":{"id":816995772,"create_time":1619093543,"create_time_ms":"1619093543708.2642","side":"sell","currency_pair":"DIS_USDT","amount":"0.2010000000","price":"121.5800000000"}}"#, &syms(), &mut b).unwrap();
        assert_eq!(
            (m.kind, m.last, m.px, m.qty, m.taker_buy),
            (
                Kind::Trade,
                816995772,
                1_215_800_000_000,
                2_010_000_000,
                false
            )
        );
        let m = parse(br#"{"time":1619093532,"channel":"spot.order_book_update","event":"subscribe","result":{"status":"success"}}"#, &syms(), &mut b).unwrap();
        assert_eq!(m.kind, Kind::Control);
        let m = parse(br#"{"time":1,"channel":"spot.order_book_update","event":"subscribe","error":{"code":2,"message":"unknown currency pair"},"result":null}"#, &syms(), &mut b).unwrap();
        assert_eq!(m.kind, Kind::Error);
        let m = parse(br#"{"time":1619093547,"channel":"spot.tickers","event":"update","result":{"currency_pair":"NEO_BTC","last":"0.0018735","lowest_ask":"0.0018735","highest_bid":"0.0018697"}}"#, &syms(), &mut b).unwrap();
        assert_eq!(m.kind, Kind::Other);
    }

    #[test]
    fn book_ticker_full_book_and_rest_snapshot() {
        let mut b = bufs(8);
        let m = parse(br#"{"time":1606293275,"channel":"spot.book_ticker","event":"update","result":{"t":1606293275123,"u":48733182,"s":"BTC_USDT","b":"19177.79","B":"0.0003341504","a":"19179.38","A":"0.09"}}"#, &syms(), &mut b).unwrap();
        assert_eq!((m.kind, m.last), (Kind::BookTicker, 48733182));
        assert_eq!(
            m.bbo,
            [
                191_777_900_000_000,
                3_341_504,
                191_793_800_000_000,
                900_000_000
            ]
        );
        let m = parse(br#"{"time":1,"channel":"spot.order_book_update","event":"update","result":{"t":1,"full":true,"s":"BTC_USDT","U":1,"u":100,"b":[["1.1","2"]],"a":[["1.2","3"]]}}"#, &syms(), &mut b).unwrap();
        assert_eq!(
            (m.kind, m.last, b.bids.len(), b.asks.len()),
            (Kind::BookFull, 100, 1, 1)
        );
        let id = parse_snapshot(
            br#"{"id":123456,"current":1623898993123,"update":1623898993121,"asks":[["1.52","1.151"],["1.53","1.218"]],"bids":[["1.17","201.863"]]}"#,
            Scale { price_dec: 4, qty_dec: 4 },
            &mut b,
        )
        .unwrap();
        assert_eq!((id, b.asks.len(), b.bids.len()), (123456, 2, 1));
        assert_eq!(
            parse_snapshot(br#"{"asks":[],"bids":[]}"#, Scale::default(), &mut b),
            Err(WireError::MissingField("id"))
        );
        assert_eq!(
            parse_snapshot(br#"{"id":1,"asks":[]}"#, Scale::default(), &mut b),
            Err(WireError::MissingField("bids/asks"))
        );
    }

    #[test]
    fn malformed() {
        let mut b = bufs(1);
        for (m, want) in [
            (UPD[..60].to_string(), WireError::Malformed),
            (
                UPD.replace("\"U\":1130669,", ""),
                WireError::MissingField("U"),
            ),
            (
                UPD.replace("\"u\":1138115,", ""),
                WireError::MissingField("u"),
            ),
            (
                UPD.replace("\"U\":1130669", "\"U\":1138116"),
                WireError::Malformed,
            ),
            (UPD.replace("\"10.28\"", "\"ten\""), WireError::Malformed),
            (UPD.replace("\"10.28\"", "\"-10.28\""), WireError::Malformed),
            (
                UPD.replace("FAST_USDT", "SLOW_USDT"),
                WireError::UnknownSymbol,
            ),
            (
                UPD.replace("\"channel\":\"spot.order_book_update\",", ""),
                WireError::MissingField("channel"),
            ),
            (UPD.to_string(), WireError::Malformed), // 3 changes > capacity 2
            (
                UPD.replace("\"s\":\"FAST_USDT\",", ""),
                WireError::MissingField("s"),
            ),
        ] {
            assert_eq!(
                parse(m.as_bytes(), &syms(), &mut b).map(|x| x.kind),
                Err(want),
                "{m}"
            );
        }
    }
}
