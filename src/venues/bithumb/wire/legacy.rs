//! Bithumb's legacy WebSocket (`protocol = "legacy"`): `wss://pubwss.bithumb.com/pub/ws`
//! (`BTC_KRW` symbols): `orderbooksnapshot` (full book, 30 levels), `orderbookdepth` (level
//! changes, absolute quantities, no sequence), `transaction` (trades), `ticker`, and status
//! replies (`../shared/docs/exchanges.md` §8).
//!
//! Source: <https://apidocs.bithumb.com/v1.2.0/reference/빗썸-거래소-정보-수신>.
//!
//! Real samples (`../shared/data/recorded/BITHUMB.ws.1.0`, 2021-06-02, legacy feed):
//! ```text
//! {"status":"0000","resmsg":"Connected Successfully"}
//! {"type":"transaction","content":{"list":[{"buySellGb":"2","contPrice":"3.908","contQty":"12365.191","contAmt":"48323.166","contDtm":"2021-06-02 08:43:34.555058","updn":"dn","symbol":"CON_KRW"}]}}
//! ```
//! Documented shapes (not in the recording):
//! ```text
//! {"type":"orderbooksnapshot","content":{"symbol":"BTC_KRW","datetime":"1580268255864325","asks":[["10593000","1.11223318"]],"bids":[["10532000","0.5"]]}}
//! {"type":"orderbookdepth","content":{"list":[{"symbol":"BTC_KRW","orderType":"ask","price":"10593000","quantity":"1.11223318","total":"3"}],"datetime":1580268255864325}}
//! ```
//! `datetime` is µs since the epoch; `contDtm` is Korean local time (UTC+9) with µs.
//! `buySellGb`: `1` = sell, `2` = buy (the taker's side; mapping UNCONFIRMED by a primary doc).
#![forbid(unsafe_code)]

use crate::book::Level;
use crate::types::Side;
use crate::venues::raw_json::{parse_with, RawJson};
use crate::venues::symbols::SymbolTable;
use crate::venues::wire_util::{
    read_json_lazy, Array, ArraySeed, Buffers, LevelsSeed, Object, ObjectSeed, WireError,
};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// Legacy message type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Kind {
    /// Full book of one symbol.
    Snapshot,
    /// Level changes (any symbols).
    Depth,
    /// Trades (any symbols).
    Transaction,
    /// 24 h ticker.
    Ticker,
    /// `{"status":"0000","resmsg":...}`.
    Status,
    /// A status other than `0000` (e.g. `5100 Invalid Filter Syntax`).
    Error,
    /// Anything else.
    #[default]
    Other,
}

/// One trade or one level change, for instrument `inst` (handler index).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Item {
    /// Handler index of the instrument.
    pub inst: usize,
    /// Trade: taker side. Change: book side.
    pub side: Side,
    /// Price and quantity (absolute; 0 deletes a level).
    pub lvl: Level,
    /// Trade: µs since the epoch of `contDtm` (used as the trade id; Bithumb sends none).
    pub t_us: u64,
}

/// Parsed legacy message; levels and items go to the handler's buffers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Msg {
    /// Type.
    pub kind: Kind,
    /// Snapshot: instrument index.
    pub inst: usize,
    /// `datetime`, µs (snapshot, depth).
    pub t_us: u64,
}

#[derive(Default)]
struct Top<'de> {
    kind: Kind,
    content: Option<RawJson<'de>>,
    status: Option<&'de str>,
}

struct TopSeed<'a, 'de>(&'a mut Top<'de>);

impl<'de> ObjectSeed<'de> for TopSeed<'_, 'de> {
    type Value = ();
    const EXPECTING: &'static str = "a Bithumb message object";
    fn visit<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while let Some(k) = m.next_key::<&str>()? {
            match k {
                "type" => {
                    self.0.kind = match m.next_value::<&str>()? {
                        "orderbooksnapshot" => Kind::Snapshot,
                        "orderbookdepth" => Kind::Depth,
                        "transaction" => Kind::Transaction,
                        "ticker" => Kind::Ticker,
                        _ => Kind::Other,
                    }
                }
                "content" => self.0.content = Some(m.next_value()?),
                "status" => self.0.status = Some(m.next_value()?),
                _ => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// Parse one legacy message. Snapshot levels go to `book.bids/asks`, trades and changes to
/// `items` (entries for symbols not configured are skipped; a list with none of ours is
/// [`WireError::UnknownSymbol`]).
pub fn parse(
    raw: &[u8],
    codes: &SymbolTable,
    book: &mut Buffers,
    items: &mut Vec<Item>,
) -> Result<Msg, WireError> {
    book.clear();
    items.clear();
    let mut top = Top::default();
    read_json_lazy(raw, Object(TopSeed(&mut top)))?;
    let mut msg = Msg {
        kind: top.kind,
        ..Msg::default()
    };
    if let Some(st) = top.status {
        msg.kind = if st == "0000" {
            Kind::Status
        } else {
            Kind::Error
        };
        return Ok(msg);
    }
    match top.kind {
        Kind::Ticker | Kind::Other | Kind::Status | Kind::Error => return Ok(msg),
        _ => {}
    }
    let content = top.content.ok_or(WireError::MissingField("content"))?;
    let mut c = Content::default();
    parse_with(content, Object(ContentSeed(&mut c))).map_err(|_| WireError::Malformed)?;
    match top.kind {
        Kind::Snapshot => {
            let sym = c.symbol.ok_or(WireError::MissingField("symbol"))?;
            let (k, sc) = codes.find(sym).ok_or(WireError::UnknownSymbol)?;
            msg.inst = k;
            msg.t_us = c
                .datetime
                .and_then(|d| d.u64())
                .ok_or(WireError::MissingField("datetime"))?;
            for (raw, out) in [(c.bids, &mut book.bids), (c.asks, &mut book.asks)] {
                let raw = raw.ok_or(WireError::MissingField("bids/asks"))?;
                parse_with(raw, LevelsSeed { scale: sc, out }).map_err(|_| WireError::Malformed)?;
            }
            // a snapshot holds only resting levels
            if book.bids.iter().chain(book.asks.iter()).any(|l| l.qty == 0) {
                return Err(WireError::Malformed);
            }
        }
        Kind::Depth | Kind::Transaction => {
            let list = c.list.ok_or(WireError::MissingField("list"))?;
            if top.kind == Kind::Depth {
                msg.t_us = c
                    .datetime
                    .and_then(|d| d.u64())
                    .ok_or(WireError::MissingField("datetime"))?;
            }
            let mut seen = 0usize;
            parse_with(
                list,
                Array(ListSeed {
                    codes,
                    trades: top.kind == Kind::Transaction,
                    out: &mut *items,
                    seen: &mut seen,
                }),
            )
            .map_err(|_| WireError::Malformed)?;
            if seen > 0 && items.is_empty() {
                return Err(WireError::UnknownSymbol);
            }
        }
        _ => {}
    }
    Ok(msg)
}

#[derive(Default)]
struct Content<'de> {
    symbol: Option<&'de str>,
    datetime: Option<RawJson<'de>>,
    asks: Option<RawJson<'de>>,
    bids: Option<RawJson<'de>>,
    list: Option<RawJson<'de>>,
}

struct ContentSeed<'a, 'de>(&'a mut Content<'de>);

impl<'de> ObjectSeed<'de> for ContentSeed<'_, 'de> {
    type Value = ();
    const EXPECTING: &'static str = "a content object";
    fn visit<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        let c = self.0;
        while let Some(k) = m.next_key::<&str>()? {
            match k {
                "symbol" => c.symbol = Some(m.next_value()?),
                "datetime" => c.datetime = Some(m.next_value()?),
                "asks" => c.asks = Some(m.next_value()?),
                "bids" => c.bids = Some(m.next_value()?),
                "list" => c.list = Some(m.next_value()?),
                _ => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct ListSeed<'a> {
    codes: &'a SymbolTable,
    trades: bool,
    out: &'a mut Vec<Item>,
    seen: &'a mut usize,
}

#[derive(Default)]
struct Entry<'de> {
    symbol: Option<&'de str>,
    px: Option<&'de str>,
    qty: Option<&'de str>,
    side: Option<&'de str>,
    dtm: Option<&'de str>,
}

impl<'de> serde::Deserialize<'de> for Entry<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Entry<'de>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entry<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list entry")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Entry<'de>, A::Error> {
                let mut e = Entry::default();
                while let Some(k) = m.next_key::<&str>()? {
                    match k {
                        "symbol" => e.symbol = Some(m.next_value()?),
                        "contPrice" | "price" => e.px = Some(m.next_value()?),
                        "contQty" | "quantity" => e.qty = Some(m.next_value()?),
                        "buySellGb" | "orderType" => e.side = Some(m.next_value()?),
                        "contDtm" => e.dtm = Some(m.next_value()?),
                        _ => {
                            m.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(e)
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> ArraySeed<'de> for ListSeed<'_> {
    type Value = ();
    const EXPECTING: &'static str = "a list of entries";
    fn visit<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        use crate::fixed_point::parse_decimal;
        while let Some(e) = s.next_element::<Entry<'de>>()? {
            *self.seen += 1;
            let sym = e
                .symbol
                .ok_or_else(|| de::Error::custom("entry without symbol"))?;
            let (px, qty, side) = match (e.px, e.qty, e.side) {
                (Some(p), Some(q), Some(s)) => (p, q, s),
                _ => return Err(de::Error::custom("entry without price, quantity or side")),
            };
            let side = match (self.trades, side) {
                (true, "1") | (false, "ask") => Side::Sell,
                (true, "2") | (false, "bid") => Side::Buy,
                _ => return Err(de::Error::custom("unknown side")),
            };
            let t_us = match (self.trades, e.dtm) {
                (true, Some(d)) => kst_micros(d).ok_or_else(|| de::Error::custom("bad contDtm"))?,
                (true, None) => return Err(de::Error::custom("trade without contDtm")),
                (false, _) => 0,
            };
            let Some((k, sc)) = self.codes.find(sym) else {
                continue; // another symbol on the same subscription
            };
            let p = parse_decimal(px.as_bytes(), sc.price_dec).map_err(de::Error::custom)?;
            let q = parse_decimal(qty.as_bytes(), sc.qty_dec).map_err(de::Error::custom)?;
            if p.value <= 0 || q.value < 0 || (self.trades && q.value == 0) {
                return Err(de::Error::custom("non-positive price or negative quantity"));
            }
            if self.out.len() == self.out.capacity() {
                return Err(de::Error::custom("too many entries in one message"));
            }
            self.out.push(Item {
                inst: k,
                side,
                lvl: Level {
                    px: p.value,
                    qty: q.value,
                    px_frac: p.frac,
                    qty_frac: q.frac,
                },
                t_us,
            });
        }
        Ok(())
    }
}

/// `"2021-06-02 08:43:34.555058"` (Korean time, UTC+9) → µs since the epoch.
pub fn kst_micros(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut us = 0i64;
    if b.len() > 19 {
        if b[19] != b'.' || b.len() > 26 || b.len() == 20 {
            return None;
        }
        let f = num(20..b.len())?;
        us = f * 10i64.pow((26 - b.len()) as u32);
    }
    // days from civil (proleptic Gregorian), Howard Hinnant's algorithm
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + se - 9 * 3600;
    u64::try_from(secs * 1_000_000 + us).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venues::testing;

    /// `GOM2_KRW` at handler index 0, `BTC_KRW` at 1, both at 8 decimals.
    fn table() -> SymbolTable {
        testing::table(&["GOM2_KRW", "BTC_KRW"], 8, 8)
    }

    struct Bufs {
        book: Buffers,
        items: Vec<Item>,
    }

    impl Bufs {
        fn with_capacity(levels: usize, items: usize) -> Bufs {
            Bufs {
                book: Buffers::with_capacity(levels, 0),
                items: Vec::with_capacity(items),
            }
        }
    }

    #[test]
    fn contdtm_is_korean_time() {
        // recorded at 1622591024.41 s (receive time) for trade time 08:43:42.240601 KST
        assert_eq!(
            kst_micros("2021-06-02 08:43:42.240601"),
            Some(1_622_591_022_240_601)
        );
        assert_eq!(kst_micros("1970-01-01 09:00:00"), Some(0));
        assert_eq!(
            kst_micros("2021-06-02 08:43:42.5"),
            Some(1_622_591_022_500_000)
        );
        for bad in [
            "",
            "2021-06-02",
            "2021-13-02 08:43:42",
            "2021-06-02T08:43:42",
            "2021-06-02 08:43:42.",
            "2021-06-02 08:43:42.1234567",
            "x021-06-02 08:43:42",
        ] {
            assert_eq!(kst_micros(bad), None, "{bad}");
        }
    }

    #[test]
    fn real_transactions_keep_only_configured_symbols() {
        let mut b = Bufs::with_capacity(30, 16);
        let m = parse(
            br#"{"type":"transaction","content":{"list":[{"buySellGb":"2","contPrice":"7.524","contQty":"76999.569","contAmt":"579344.757","contDtm":"2021-06-02 08:43:42.240601","updn":"up","symbol":"GOM2_KRW"},{"buySellGb":"1","contPrice":"7.525","contQty":"556","contAmt":"4183.900","contDtm":"2021-06-02 08:43:43.188333","updn":"dn","symbol":"GOM2_KRW"},{"buySellGb":"1","contPrice":"1","contQty":"1","contDtm":"2021-06-02 08:43:43.188333","symbol":"CON_KRW"}]}}"#,
            &table(),
            &mut b.book,
            &mut b.items,
        )
        .unwrap();
        assert_eq!(m.kind, Kind::Transaction);
        assert_eq!(b.items.len(), 2);
        assert_eq!(
            (b.items[0].side, b.items[0].lvl.px, b.items[0].lvl.qty),
            (Side::Buy, 752_400_000, 7_699_956_900_000)
        );
        assert_eq!(b.items[1].side, Side::Sell);
        assert_eq!(b.items[1].t_us, 1_622_591_023_188_333);
    }

    #[test]
    fn snapshot_and_depth() {
        let mut b = Bufs::with_capacity(30, 16);
        let m = parse(
            br#"{"type":"orderbooksnapshot","content":{"symbol":"BTC_KRW","datetime":"1580268255864325","asks":[["10593000","1.11223318"],["10596000","0.5495"]],"bids":[["10572000","2.3324"]]}}"#,
            &table(),
            &mut b.book,
            &mut b.items,
        )
        .unwrap();
        assert_eq!(
            (m.kind, m.inst, m.t_us),
            (Kind::Snapshot, 1, 1580268255864325)
        );
        assert_eq!((b.book.asks.len(), b.book.bids.len()), (2, 1));
        assert_eq!(b.book.asks[0].px, 1_059_300_000_000_000);
        let m = parse(
            br#"{"type":"orderbookdepth","content":{"list":[{"symbol":"BTC_KRW","orderType":"ask","price":"10593000","quantity":"1.11223318","total":"3"},{"symbol":"BTC_KRW","orderType":"bid","price":"10532000","quantity":"0","total":"0"}],"datetime":1580268255864326}}"#,
            &table(),
            &mut b.book,
            &mut b.items,
        )
        .unwrap();
        assert_eq!((m.kind, m.t_us), (Kind::Depth, 1580268255864326));
        assert_eq!(b.items.len(), 2);
        assert_eq!((b.items[1].side, b.items[1].lvl.qty), (Side::Buy, 0));
    }

    #[test]
    fn status_and_malformed() {
        let mut b = Bufs::with_capacity(2, 2);
        assert_eq!(
            parse(
                br#"{"status":"0000","resmsg":"Connected Successfully"}"#,
                &table(),
                &mut b.book,
                &mut b.items
            )
            .unwrap()
            .kind,
            Kind::Status
        );
        assert_eq!(
            parse(
                br#"{"status":"5100","resmsg":"Invalid Filter Syntax"}"#,
                &table(),
                &mut b.book,
                &mut b.items
            )
            .unwrap()
            .kind,
            Kind::Error
        );
        let tx = r#"{"type":"transaction","content":{"list":[{"buySellGb":"2","contPrice":"3.908","contQty":"12365.191","contAmt":"48323.166","contDtm":"2021-06-02 08:43:34.555058","updn":"dn","symbol":"GOM2_KRW"}]}}"#;
        assert!(parse(tx.as_bytes(), &table(), &mut b.book, &mut b.items).is_ok());
        for (m, want) in [
            (tx[..40].to_string(), WireError::Malformed),
            (tx.replace("\"contPrice\":\"3.908\",", ""), WireError::Malformed),
            (tx.replace("3.908", "3.9x8"), WireError::Malformed),
            (tx.replace("\"buySellGb\":\"2\"", "\"buySellGb\":\"7\""), WireError::Malformed),
            (tx.replace("08:43:34", "8:43:34"), WireError::Malformed),
            (tx.replace("GOM2_KRW", "CON_KRW"), WireError::UnknownSymbol),
            (tx.replace("\"content\"", "\"contents\""), WireError::MissingField("content")),
            (r#"{"type":"orderbooksnapshot","content":{"symbol":"BTC_KRW","asks":[],"bids":[]}}"#.to_string(), WireError::MissingField("datetime")),
            (r#"{"type":"orderbooksnapshot","content":{"symbol":"BTC_KRW","datetime":"1","asks":[["1","0"]],"bids":[]}}"#.to_string(), WireError::Malformed),
            (r#"{"type":"orderbooksnapshot","content":{"symbol":"BTC_KRW","datetime":"1","asks":[["1","1"],["2","1"],["3","1"]],"bids":[]}}"#.to_string(), WireError::Malformed),
        ] {
            assert_eq!(parse(m.as_bytes(), &table(), &mut b.book, &mut b.items).map(|x| x.kind), Err(want), "{m}");
        }
    }
}
