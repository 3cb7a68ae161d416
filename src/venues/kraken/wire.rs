//! Kraken spot WebSocket messages, v1 (arrays, the 2021 recordings) and v2 (objects, today's
//! default), parsed with sonic-rs straight into fixed point, without allocation.
//!
//! Sources:
//! - v1 book <https://docs.kraken.com/api/docs/websocket-v1/book>, trade
//!   <https://docs.kraken.com/api/docs/websocket-v1/trade>, ticker
//!   <https://docs.kraken.com/api/docs/websocket-v1/ticker>, heartbeat/ping
//!   <https://docs.kraken.com/api/docs/websocket-v1/ping>;
//! - v2 book <https://docs.kraken.com/api/docs/websocket-v2/book>, trade
//!   <https://docs.kraken.com/api/docs/websocket-v2/trade>, heartbeat
//!   <https://docs.kraken.com/api/docs/websocket-v2/heartbeat>;
//! - checksums <https://docs.kraken.com/api/docs/guides/spot-ws-book-v1>,
//!   <https://docs.kraken.com/api/docs/guides/spot-ws-book-v2>.
//!
//! v1 real samples (`../shared/data/recorded/KRAKEN.ws.48.0`–`50.0`, 2021-04-17):
//! ```text
//! [1360,{"as":[["0.000022900","13355.87450757","1618678123.481570"],...],"bs":[...]},"book-1000","ADA/XBT"]
//! [1920,{"b":[["0.043110","20270.49268141","1618678133.384500"]],"c":"43621407"},"book-1000","SC/EUR"]
//! [992,{"a":[["354.55000000","0.00000000","1618678145.766178"]]},{"b":[["353.99000000","1.20000000","1618678145.766206"]],"c":"2262426390"},"book-1000","XMR/USD"]
//! [993,[["354.11000000","0.89594024","1618678142.557535","s","l",""]],"trade","XMR/USD"]
//! [1668,{"a":["13.253900",35,"35.72892241"],"b":["13.232900",185,"185.18432037"],"c":["13.253900","3.71672000"],...},"ticker","WAVES/EUR"]
//! {"event":"heartbeat"}
//! ```
//! v1 arrays are read from the end (doc: the last element is the pair, the one before it the
//! channel name): the pair is found first by a byte scan of the tail, so the instrument's scale
//! is known before any level is parsed. Book levels `[price, volume, timestamp(, "r")]` are
//! strings; volume `0` deletes; the checksum `"c"` (quoted u32) sits in the last dict of an
//! update; snapshots (`"as"`/`"bs"`) carry none.
//!
//! v2 doc sample (prices and quantities are JSON numbers, read from the raw token):
//! ```text
//! {"channel":"book","type":"update","data":[{"symbol":"MATIC/USD","bids":[{"price":0.5657,"qty":1098.3947558}],"asks":[],"checksum":2114181697,"timestamp":"2023-10-06T17:35:55.440295Z"}]}
//! {"channel":"trade","type":"update","data":[{"symbol":"MATIC/USD","side":"buy","price":0.5147,"qty":6423.46326,"ord_type":"limit","trade_id":4665846,"timestamp":"2023-09-25T07:48:36.925533Z"}]}
//! {"channel":"heartbeat"}
//! ```
#![forbid(unsafe_code)]

use crate::book::Level;
use crate::venues::symbols::SymbolTable;
use crate::venues::wire_util::{skip_rest, BoundedSeq, DecSeed, LevelsSeed, RawDecSeed, Scale};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// What a frame carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Kind {
    /// Book snapshot (v1 `as`/`bs`, v2 `type:"snapshot"`).
    BookSnapshot,
    /// Book update.
    BookUpdate,
    /// Trades.
    Trades,
    /// v1 ticker (best bid/ask with whole-lot and lot volume).
    Ticker,
    /// Nothing for the book.
    #[default]
    Other,
}

/// One trade.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Trade {
    /// v2 `trade_id`; v1 has none: the trade time in µs.
    pub trade_id: u64,
    /// Price.
    pub px: i64,
    /// Volume.
    pub qty: i64,
    /// Taker side is buy.
    pub taker_buy: bool,
}

/// A parsed frame (levels and trades in [`Buffers`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Msg {
    /// What it is.
    pub kind: Kind,
    /// Handler index of the pair.
    pub inst: usize,
    /// v2 (objects) rather than v1 (arrays).
    pub v2: bool,
    /// The book checksum, when sent.
    pub checksum: Option<u32>,
    /// v1 book depth from the channel name (`book-1000` → 1000).
    pub depth: u32,
    /// Ticker best bid (price, lot volume).
    pub bid: Option<(i64, i64)>,
    /// Ticker best ask (price, lot volume).
    pub ask: Option<(i64, i64)>,
}

/// Reused buffers of one handler.
#[derive(Debug)]
pub struct Buffers {
    /// Bid levels of the last book message, in message order.
    pub bids: Vec<Level>,
    /// Ask levels of the last book message, in message order.
    pub asks: Vec<Level>,
    /// Trades of the last trade message.
    pub trades: Vec<Trade>,
}

impl Buffers {
    /// Room for `levels` levels per side and `trades` trades per message.
    pub fn with_capacity(levels: usize, trades: usize) -> Buffers {
        Buffers {
            bids: Vec::with_capacity(levels),
            asks: Vec::with_capacity(levels),
            trades: Vec::with_capacity(trades),
        }
    }
    fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
        self.trades.clear();
    }
}

/// Why a frame gave no market data.
#[derive(Debug, PartialEq, Eq)]
pub enum WireError {
    /// Not JSON, wrong shape, bad number, missing field.
    Malformed,
    /// Control message: heartbeat, systemStatus, subscriptionStatus, pong, v2 method replies.
    Event,
    /// A channel or pair this handler does not serve.
    Unknown,
}

/// Parse one text frame, v1 or v2.
pub fn parse(raw: &[u8], symbols: &SymbolTable, buf: &mut Buffers) -> Result<Msg, WireError> {
    buf.clear();
    let first = raw.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        Some(b'[') => parse_v1(raw, symbols, buf),
        Some(b'{') => parse_object(raw, symbols, buf),
        _ => Err(WireError::Malformed),
    }
}

/// The last two strings of a v1 array `[..., "channel", "pair"]`, found by scanning back from
/// the closing bracket (names contain no quotes or escapes).
fn v1_tail(raw: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut end = raw.len();
    while end > 0 && raw[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    let s = raw.get(..end)?.strip_suffix(b"]")?;
    let s = trim_end(s).strip_suffix(b"\"")?;
    let q = s.iter().rposition(|b| *b == b'"')?;
    let pair = &s[q + 1..];
    let s = trim_end(&s[..q]).strip_suffix(b",")?;
    let s = trim_end(s).strip_suffix(b"\"")?;
    let q = s.iter().rposition(|b| *b == b'"')?;
    Some((&s[q + 1..], pair))
}

fn trim_end(s: &[u8]) -> &[u8] {
    let mut e = s.len();
    while e > 0 && s[e - 1].is_ascii_whitespace() {
        e -= 1;
    }
    &s[..e]
}

fn parse_v1(raw: &[u8], symbols: &SymbolTable, buf: &mut Buffers) -> Result<Msg, WireError> {
    let (chan, pair) = v1_tail(raw).ok_or(WireError::Malformed)?;
    let (kind, depth) = if let Some(d) = chan.strip_prefix(b"book-") {
        let d = std::str::from_utf8(d)
            .ok()
            .and_then(|d| d.parse::<u32>().ok())
            .ok_or(WireError::Malformed)?;
        (Kind::BookUpdate, d)
    } else if chan == b"book" {
        (Kind::BookUpdate, 0)
    } else if chan == b"trade" {
        (Kind::Trades, 0)
    } else if chan == b"ticker" {
        (Kind::Ticker, 0)
    } else {
        return Err(WireError::Unknown);
    };
    let (inst, scale) = symbols.find(pair).ok_or(WireError::Unknown)?;
    let mut msg = Msg {
        kind,
        inst,
        depth,
        ..Msg::default()
    };
    let mut de = sonic_rs::Deserializer::from_slice(raw);
    let r = V1Array {
        scale,
        msg: &mut msg,
        buf,
    }
    .deserialize(&mut de);
    if r.is_err() || de.end().is_err() {
        return Err(WireError::Malformed);
    }
    match msg.kind {
        Kind::BookUpdate if buf.bids.is_empty() && buf.asks.is_empty() => Err(WireError::Malformed),
        Kind::BookUpdate if msg.checksum.is_none() => Err(WireError::Malformed),
        Kind::Ticker if msg.bid.is_none() || msg.ask.is_none() => Err(WireError::Malformed),
        _ => Ok(msg),
    }
}

struct V1Array<'a> {
    scale: Scale,
    msg: &'a mut Msg,
    buf: &'a mut Buffers,
}

impl<'de> DeserializeSeed<'de> for V1Array<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for V1Array<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a v1 channel array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        // [0] channelID (deprecated, not used)
        seq.next_element::<IgnoredAny>()?
            .ok_or_else(|| de::Error::custom("empty array"))?;
        let mut payloads = 0;
        loop {
            let more = seq.next_element_seed(V1Element {
                scale: self.scale,
                msg: &mut *self.msg,
                buf: &mut *self.buf,
            })?;
            match more {
                Some(true) => payloads += 1,
                Some(false) => {} // channel name or pair
                None => break,
            }
        }
        if payloads == 0 {
            return Err(de::Error::custom("no payload"));
        }
        Ok(())
    }
}

/// One element after the channel id: a payload (dict or array) → `true`; a string → `false`.
struct V1Element<'a> {
    scale: Scale,
    msg: &'a mut Msg,
    buf: &'a mut Buffers,
}

impl<'de> DeserializeSeed<'de> for V1Element<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for V1Element<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a v1 payload")
    }
    fn visit_borrowed_str<E: de::Error>(self, _s: &'de str) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_str<E: de::Error>(self, _s: &str) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let sc = self.scale;
        match self.msg.kind {
            Kind::BookSnapshot | Kind::BookUpdate => {
                while let Some(k) = map.next_key::<&str>()? {
                    match k {
                        "as" | "bs" | "a" | "b" => {
                            let snap = k.len() == 2;
                            if snap {
                                self.msg.kind = Kind::BookSnapshot;
                            }
                            let out = if k.starts_with('a') {
                                &mut self.buf.asks
                            } else {
                                &mut self.buf.bids
                            };
                            map.next_value_seed(LevelsSeed { scale: sc, out })?;
                        }
                        "c" => {
                            let s: &str = map.next_value()?;
                            self.msg.checksum = Some(
                                s.parse::<u32>()
                                    .map_err(|_| de::Error::custom("bad checksum"))?,
                            );
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
            }
            Kind::Ticker => {
                while let Some(k) = map.next_key::<&str>()? {
                    match k {
                        "a" => self.msg.ask = Some(map.next_value_seed(TickerSide(sc))?),
                        "b" => self.msg.bid = Some(map.next_value_seed(TickerSide(sc))?),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
            }
            _ => return Err(de::Error::custom("unexpected dict")),
        }
        Ok(true)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        if self.msg.kind != Kind::Trades {
            return Err(de::Error::custom("unexpected array"));
        }
        loop {
            if self.buf.trades.len() == self.buf.trades.capacity() {
                if seq.next_element::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::custom("too many trades in one message"));
                }
                return Ok(true);
            }
            match seq.next_element_seed(V1Trade(self.scale))? {
                Some(t) => self.buf.trades.push(t),
                None => return Ok(true),
            }
        }
    }
}

/// v1 ticker `"a": [price, wholeLotVolume, lotVolume]` → (price, lot volume).
struct TickerSide(Scale);

impl<'de> DeserializeSeed<'de> for TickerSide {
    type Value = (i64, i64);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(i64, i64), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for TickerSide {
    type Value = (i64, i64);
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("[price, wholeLotVolume, lotVolume]")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(i64, i64), A::Error> {
        let px = seq
            .next_element_seed(DecSeed(self.0.price_dec))?
            .ok_or_else(|| de::Error::custom("no price"))?;
        seq.next_element::<IgnoredAny>()?
            .ok_or_else(|| de::Error::custom("no whole-lot volume"))?;
        let vol = seq
            .next_element_seed(DecSeed(self.0.qty_dec))?
            .ok_or_else(|| de::Error::custom("no lot volume"))?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok((px.value, vol.value))
    }
}

/// v1 trade `[price, volume, time, side, orderType, misc]`.
struct V1Trade(Scale);

impl<'de> DeserializeSeed<'de> for V1Trade {
    type Value = Trade;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Trade, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for V1Trade {
    type Value = Trade;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a v1 trade array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Trade, A::Error> {
        let miss = || de::Error::custom("short trade");
        let px = seq
            .next_element_seed(DecSeed(self.0.price_dec))?
            .ok_or_else(miss)?;
        let qty = seq
            .next_element_seed(DecSeed(self.0.qty_dec))?
            .ok_or_else(miss)?;
        let time = seq.next_element_seed(DecSeed(6))?.ok_or_else(miss)?;
        let side: &str = seq.next_element()?.ok_or_else(miss)?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        let taker_buy = match side {
            "b" => true,
            "s" => false,
            _ => return Err(de::Error::custom("bad side")),
        };
        if px.value <= 0 || qty.value <= 0 || time.value < 0 {
            return Err(de::Error::custom("non-positive trade"));
        }
        Ok(Trade {
            trade_id: time.value as u64,
            px: px.value,
            qty: qty.value,
            taker_buy,
        })
    }
}

enum Status {
    Ok,
    Event,
    Unknown,
}

fn parse_object(raw: &[u8], symbols: &SymbolTable, buf: &mut Buffers) -> Result<Msg, WireError> {
    let mut msg = Msg {
        v2: true,
        ..Msg::default()
    };
    let mut st = Status::Ok;
    let mut n_data = 0u32;
    let mut de = sonic_rs::Deserializer::from_slice(raw);
    let r = V2Top {
        symbols,
        msg: &mut msg,
        buf,
        st: &mut st,
        n_data: &mut n_data,
    }
    .deserialize(&mut de);
    match st {
        Status::Event => return Err(WireError::Event),
        Status::Unknown => return Err(WireError::Unknown),
        Status::Ok => {}
    }
    if r.is_err() || de.end().is_err() {
        return Err(WireError::Malformed);
    }
    match msg.kind {
        Kind::BookSnapshot | Kind::BookUpdate if n_data != 1 || msg.checksum.is_none() => {
            Err(WireError::Malformed)
        }
        Kind::Trades if n_data == 0 => Err(WireError::Malformed),
        Kind::Other => Err(WireError::Malformed),
        _ => Ok(msg),
    }
}

struct V2Top<'a> {
    symbols: &'a SymbolTable,
    msg: &'a mut Msg,
    buf: &'a mut Buffers,
    st: &'a mut Status,
    n_data: &'a mut u32,
}

impl<'de> DeserializeSeed<'de> for V2Top<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for V2Top<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Kraken object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut channel: Option<&'de str> = None;
        let mut ty: Option<&'de str> = None;
        while let Some(k) = map.next_key::<&str>()? {
            match k {
                // v1 control messages and v2 method replies (subscribe acks, pong)
                "event" | "method" => {
                    map.next_value::<IgnoredAny>()?;
                    *self.st = Status::Event;
                    return skip_rest(&mut map);
                }
                "channel" => {
                    let c: &str = map.next_value()?;
                    match c {
                        "book" | "trade" => channel = Some(c),
                        "heartbeat" | "status" => {
                            *self.st = Status::Event;
                            return skip_rest(&mut map);
                        }
                        _ => {
                            *self.st = Status::Unknown;
                            return skip_rest(&mut map);
                        }
                    }
                }
                "type" => ty = Some(map.next_value()?),
                "data" => {
                    let Some(c) = channel else {
                        return Err(de::Error::custom("data before channel"));
                    };
                    self.msg.kind = match (c, ty) {
                        ("book", Some("snapshot")) => Kind::BookSnapshot,
                        ("book", Some("update")) => Kind::BookUpdate,
                        ("trade", Some("snapshot" | "update")) => Kind::Trades,
                        _ => return Err(de::Error::custom("data before type")),
                    };
                    map.next_value_seed(V2Data {
                        symbols: self.symbols,
                        msg: &mut *self.msg,
                        buf: &mut *self.buf,
                        st: &mut *self.st,
                        n: &mut *self.n_data,
                    })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct V2Data<'a> {
    symbols: &'a SymbolTable,
    msg: &'a mut Msg,
    buf: &'a mut Buffers,
    st: &'a mut Status,
    n: &'a mut u32,
}

impl<'de> DeserializeSeed<'de> for V2Data<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for V2Data<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a data array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        loop {
            if self.msg.kind == Kind::Trades && self.buf.trades.len() == self.buf.trades.capacity()
            {
                if seq.next_element::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::custom("too many trades in one message"));
                }
                return Ok(());
            }
            let got = seq.next_element_seed(V2Elem {
                symbols: self.symbols,
                msg: &mut *self.msg,
                buf: &mut *self.buf,
                st: &mut *self.st,
            })?;
            if got.is_none() {
                return Ok(());
            }
            *self.n += 1;
        }
    }
}

struct V2Elem<'a> {
    symbols: &'a SymbolTable,
    msg: &'a mut Msg,
    buf: &'a mut Buffers,
    st: &'a mut Status,
}

impl<'de> DeserializeSeed<'de> for V2Elem<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for V2Elem<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a data element")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut scale: Option<Scale> = None;
        let trade = self.msg.kind == Kind::Trades;
        let mut t = Trade::default();
        let mut seen = 0u8;
        while let Some(k) = map.next_key::<&str>()? {
            match k {
                "symbol" => {
                    let s: &str = map.next_value()?;
                    match self.symbols.find(s.as_bytes()) {
                        Some((i, sc)) => {
                            if scale.is_some() && self.msg.inst != i {
                                return Err(de::Error::custom("two symbols in one message"));
                            }
                            self.msg.inst = i;
                            scale = Some(sc);
                        }
                        None => {
                            *self.st = Status::Unknown;
                            return skip_rest(&mut map);
                        }
                    }
                }
                "bids" | "asks" if !trade => {
                    let Some(sc) = scale else {
                        return Err(de::Error::custom("levels before symbol"));
                    };
                    let out = if k == "bids" {
                        &mut self.buf.bids
                    } else {
                        &mut self.buf.asks
                    };
                    map.next_value_seed(BoundedSeq {
                        out,
                        elem: ObjLevel(sc),
                        keep: Some,
                        what: "too many levels in one message",
                    })?;
                }
                "checksum" if !trade => {
                    let c: u64 = map.next_value()?;
                    self.msg.checksum =
                        Some(u32::try_from(c).map_err(|_| de::Error::custom("checksum > u32"))?);
                }
                "price" | "qty" if trade => {
                    let Some(sc) = scale else {
                        return Err(de::Error::custom("price before symbol"));
                    };
                    if k == "price" {
                        t.px = map.next_value_seed(RawDecSeed(sc.price_dec))?.value;
                        seen |= 1;
                    } else {
                        t.qty = map.next_value_seed(RawDecSeed(sc.qty_dec))?.value;
                        seen |= 2;
                    }
                }
                "side" if trade => {
                    t.taker_buy = match map.next_value::<&str>()? {
                        "buy" => true,
                        "sell" => false,
                        _ => return Err(de::Error::custom("bad side")),
                    };
                    seen |= 4;
                }
                "trade_id" if trade => {
                    t.trade_id = map.next_value()?;
                    seen |= 8;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if scale.is_none() {
            return Err(de::Error::custom("no symbol"));
        }
        if trade {
            if seen != 15 || t.px <= 0 || t.qty <= 0 {
                return Err(de::Error::custom("bad trade"));
            }
            self.buf.trades.push(t);
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
struct ObjLevel(Scale);

impl<'de> DeserializeSeed<'de> for ObjLevel {
    type Value = Level;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Level, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ObjLevel {
    type Value = Level;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("{price, qty}")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Level, A::Error> {
        let (mut px, mut qty) = (None, None);
        while let Some(k) = map.next_key::<&str>()? {
            match k {
                "price" => px = Some(map.next_value_seed(RawDecSeed(self.0.price_dec))?),
                "qty" => qty = Some(map.next_value_seed(RawDecSeed(self.0.qty_dec))?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let (Some(px), Some(qty)) = (px, qty) else {
            return Err(de::Error::custom("level without price or qty"));
        };
        if px.value <= 0 || qty.value < 0 {
            return Err(de::Error::custom("bad level"));
        }
        Ok(Level {
            px: px.value,
            qty: qty.value,
            px_frac: px.frac,
            qty_frac: qty.frac,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_tail_finds_channel_and_pair() {
        assert_eq!(
            v1_tail(br#"[1,{"a":[]},"book-1000","XBT/USD"]"#),
            Some((&b"book-1000"[..], &b"XBT/USD"[..]))
        );
        assert_eq!(
            v1_tail(b"[1, {}, \"trade\" , \"SC/EUR\" ]\n"),
            Some((&b"trade"[..], &b"SC/EUR"[..]))
        );
        assert_eq!(v1_tail(br#"[1,{"a":[]},"XBT/USD"]"#), None);
        assert_eq!(v1_tail(b"[1,2,3]"), None);
        assert_eq!(v1_tail(b""), None);
        assert_eq!(v1_tail(b"]"), None);
    }
}
