//! Coinbase WebSocket market data, both feeds, parsed with sonic-rs straight into fixed point
//! without allocation:
//! - **Advanced Trade** (today's default, `wss://advanced-trade-ws.coinbase.com`): envelope
//!   `{"channel":..,"client_id":..,"timestamp":..,"sequence_num":N,"events":[...]}`; channels
//!   `l2_data` (subscribed as `level2`), `market_trades`, `ticker`, `heartbeats`,
//!   `subscriptions`. Docs:
//!   <https://docs.cdp.coinbase.com/coinbase-app/advanced-trade-apis/websocket/websocket-channels>.
//! - **Exchange** feed (`wss://ws-feed.exchange.coinbase.com`, formerly
//!   `ws-feed.pro.coinbase.com`; what the 2021 recording holds): flat messages with `type`
//!   `snapshot`, `l2update`, `ticker`, `match`/`last_match`, `heartbeat`, `subscriptions`,
//!   `error`. Docs: <https://docs.cdp.coinbase.com/exchange/websocket-feed/channels>.
//!
//! Real samples (`../shared/data/recorded/COINBASE.ws.28.0`, 2021-04-17):
//! ```text
//! {"type":"snapshot","product_id":"BAND-GBP","asks":[["14.8024","12.77"],...],"bids":[...]}
//! {"type":"l2update","product_id":"SKL-BTC","changes":[["sell","0.00001306","660.5"]],"time":"2021-04-17T16:43:37.075687Z"}
//! {"type":"ticker","sequence":333938798,"product_id":"BAND-GBP","price":"14.7775","open_24h":"14.6647","volume_24h":"94381.28000000","low_24h":"14.3691","high_24h":"16.55","volume_30d":"2295579.57000000","best_bid":"14.7550","best_ask":"14.8060","side":"buy","time":"2021-04-17T16:43:30.244075Z","trade_id":881613,"last_size":"0.04"}
//! {"type":"match","trade_id":280232,"maker_order_id":"2a0da34e-61f7-4c36-88e5-c9dd15927b16","taker_order_id":"3c82abaa-c01e-4608-be59-6a1e69742891","side":"sell","size":"985","price":"0.00001305","product_id":"SKL-BTC","sequence":177100030,"time":"2021-04-17T16:43:37.089723Z"}
//! ```
//! Advanced Trade doc shape:
//! `{"channel":"l2_data","client_id":"","timestamp":"2023-02-09T20:32:50.714964855Z","sequence_num":0,"events":[{"type":"snapshot","product_id":"BTC-USD","updates":[{"side":"bid","event_time":"1970-01-01T00:00:00Z","price_level":"21921.73","new_quantity":"0.06317902"}]}]}`.
//!
//! Sizes are absolute; `"0"` removes the level. `side` of a match / market trade is the
//! **maker's** side (Exchange docs: "the side field indicates the maker order side").
#![forbid(unsafe_code)]

use crate::book::Level;
use crate::fixed_point::Dec;
use crate::types::Side;
use crate::venues::symbols::SymbolTable;
use crate::venues::wire_util::{dec, skip_rest, BoundedSeq, DecSeed, Scale};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// Microseconds since the epoch of an RFC 3339 UTC time (`2021-04-17T16:43:37.075687Z`;
/// digits beyond µs are dropped). `None` if it is not one.
pub fn iso8601_us(s: &[u8]) -> Option<u64> {
    fn num(s: &[u8]) -> Option<u64> {
        if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(s.iter().fold(0u64, |a, c| a * 10 + (c - b'0') as u64))
    }
    if s.len() < 20 || s[4] != b'-' || s[7] != b'-' || s[10] != b'T' || s[13] != b':' {
        return None;
    }
    if s[16] != b':' || *s.last()? != b'Z' {
        return None;
    }
    let (y, mo, d) = (num(&s[0..4])?, num(&s[5..7])?, num(&s[8..10])?);
    let (h, mi, sec) = (num(&s[11..13])?, num(&s[14..16])?, num(&s[17..19])?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut us = 0u64;
    let rest = &s[19..s.len() - 1];
    if !rest.is_empty() {
        let frac = rest.strip_prefix(b".")?;
        num(frac)?;
        for i in 0..6 {
            us = us * 10 + frac.get(i).map(|c| (c - b'0') as u64).unwrap_or(0);
        }
    }
    // days from civil (H. Hinnant's algorithm), proleptic Gregorian
    let (y, mo) = (y as i64, mo as i64);
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    if days < 0 {
        return None;
    }
    Some(((days as u64 * 86_400 + h * 3600 + mi * 60 + sec) * 1_000_000) + us)
}

/// What one book group of a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BookKind {
    /// Full book for the product.
    Snapshot,
    /// Changes.
    Update,
}

/// One product's book data inside a message (Exchange: the whole message; Advanced Trade:
/// one `events[]` entry). Its levels are `levels[start..end]` of [`Buffers`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BookGroup {
    /// Handler index of the product.
    pub inst: usize,
    /// Snapshot or update.
    pub kind: BookKind,
    /// First level.
    pub start: usize,
    /// One past the last level.
    pub end: usize,
    /// `time` of an l2update, µs (0 when absent).
    pub time_us: u64,
}

/// One public trade.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Trade {
    /// Handler index of the product.
    pub inst: usize,
    /// `trade_id`.
    pub trade_id: u64,
    /// Price.
    pub px: i64,
    /// Size.
    pub qty: i64,
    /// Maker side (`Buy` = a resting bid was hit, the aggressor sold).
    pub maker_side: Side,
}

/// The venue's own best bid/ask (Exchange `ticker`, sent on every match; Advanced Trade
/// `ticker` events).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ticker {
    /// Handler index of the product.
    pub inst: usize,
    /// `sequence` (Exchange; per product, shared with the full channel) or 0.
    pub sequence: u64,
    /// `time` µs (Exchange) or 0.
    pub time_us: u64,
    /// Best bid price.
    pub bid_px: i64,
    /// Best ask price.
    pub ask_px: i64,
}

/// What a frame held.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Msg {
    /// Advanced Trade envelope (else Exchange feed).
    pub advanced: bool,
    /// Advanced Trade `sequence_num`.
    pub sequence_num: Option<u64>,
    /// Heartbeat / subscriptions: nothing for the books.
    pub control: bool,
    /// A ticker (in [`Buffers::ticker`]).
    pub has_ticker: bool,
}

/// Reused buffers of one handler.
#[derive(Debug)]
pub struct Buffers {
    /// Book groups of the last message.
    pub groups: Vec<BookGroup>,
    /// Levels of the last message, with their side, in message order.
    pub levels: Vec<(Side, Level)>,
    /// Trades of the last message.
    pub trades: Vec<Trade>,
    /// Ticker of the last message.
    pub ticker: Ticker,
}

impl Buffers {
    /// Room for `levels` levels, `groups` products and `trades` trades per message.
    pub fn with_capacity(levels: usize, groups: usize, trades: usize) -> Buffers {
        Buffers {
            groups: Vec::with_capacity(groups),
            levels: Vec::with_capacity(levels),
            trades: Vec::with_capacity(trades),
            ticker: Ticker::default(),
        }
    }
    fn clear(&mut self) {
        self.groups.clear();
        self.levels.clear();
        self.trades.clear();
        self.ticker = Ticker::default();
    }
}

/// Why a frame gave no market data.
#[derive(Debug, PartialEq, Eq)]
pub enum WireError {
    /// Not JSON, wrong shape, bad number, missing field.
    Malformed,
    /// A product or channel this handler does not serve.
    Unknown,
}

/// Parse one frame of either feed.
pub fn parse(raw: &[u8], symbols: &SymbolTable, buf: &mut Buffers) -> Result<Msg, WireError> {
    buf.clear();
    let mut msg = Msg::default();
    let mut unknown = false;
    let mut de = sonic_rs::Deserializer::from_slice(raw);
    let r = Top {
        symbols,
        msg: &mut msg,
        buf,
        unknown: &mut unknown,
    }
    .deserialize(&mut de);
    if unknown {
        return Err(WireError::Unknown);
    }
    if r.is_err() || de.end().is_err() {
        return Err(WireError::Malformed);
    }
    Ok(msg)
}

const CAP_ERR: &str = "message larger than the preallocated buffers";

fn cap_err<E: de::Error>() -> E {
    de::Error::custom(CAP_ERR)
}

struct Top<'a> {
    symbols: &'a SymbolTable,
    msg: &'a mut Msg,
    buf: &'a mut Buffers,
    unknown: &'a mut bool,
}

impl<'de> DeserializeSeed<'de> for Top<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

/// Exchange-feed message types.
#[derive(Clone, Copy, PartialEq, Eq)]
enum XType {
    Snapshot,
    L2Update,
    Ticker,
    Match,
    Control,
}

impl<'de> Visitor<'de> for Top<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Coinbase message object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Exchange-feed state
        let mut xtype: Option<XType> = None;
        let mut prod: Option<(usize, Scale)> = None;
        let mut time_us = 0u64;
        // ticker/match numbers are kept as text until `product_id` (which comes after them in
        // `match` messages) gives the scale
        let (mut px, mut size): (Option<&'de str>, Option<&'de str>) = (None, None);
        let (mut best_bid, mut best_ask): (Option<&'de str>, Option<&'de str>) = (None, None);
        let (mut trade_id, mut sequence) = (None::<u64>, 0u64);
        let mut maker: Option<Side> = None;
        let start = self.buf.levels.len();
        // Advanced Trade state
        let mut channel: Option<&'de str> = None;
        while let Some(k) = map.next_key::<&str>()? {
            match k {
                "type" => {
                    let t: &str = map.next_value()?;
                    xtype = Some(match t {
                        "snapshot" => XType::Snapshot,
                        "l2update" => XType::L2Update,
                        "ticker" => XType::Ticker,
                        "match" | "last_match" => XType::Match,
                        "heartbeat" | "subscriptions" | "error" | "status" => XType::Control,
                        _ => {
                            *self.unknown = true;
                            return skip_rest(&mut map);
                        }
                    });
                }
                "product_id" => {
                    let s: &str = map.next_value()?;
                    match self.symbols.find(s.as_bytes()) {
                        Some(p) => prod = Some(p),
                        None => {
                            *self.unknown = true;
                            return skip_rest(&mut map);
                        }
                    }
                }
                "bids" | "asks" if xtype == Some(XType::Snapshot) => {
                    let Some((_, sc)) = prod else {
                        return Err(de::Error::custom("levels before product_id"));
                    };
                    let side = if k == "bids" { Side::Buy } else { Side::Sell };
                    map.next_value_seed(BoundedSeq {
                        out: &mut self.buf.levels,
                        elem: PxQty(sc, None),
                        keep: |(_, l)| Some((side, l)),
                        what: CAP_ERR,
                    })?;
                }
                "changes" if xtype == Some(XType::L2Update) => {
                    let Some((_, sc)) = prod else {
                        return Err(de::Error::custom("changes before product_id"));
                    };
                    map.next_value_seed(BoundedSeq {
                        out: &mut self.buf.levels,
                        elem: PxQty(sc, Some(())),
                        keep: Some,
                        what: CAP_ERR,
                    })?;
                }
                "time" => {
                    let s: &str = map.next_value()?;
                    time_us = iso8601_us(s.as_bytes()).ok_or_else(|| de::Error::custom("time"))?;
                }
                "price" | "size" | "best_bid" | "best_ask"
                    if matches!(xtype, Some(XType::Ticker | XType::Match)) =>
                {
                    let v = Some(map.next_value::<&'de str>()?);
                    match k {
                        "price" => px = v,
                        "size" => size = v,
                        "best_bid" => best_bid = v,
                        _ => best_ask = v,
                    }
                }
                "side" if xtype == Some(XType::Match) => {
                    maker = Some(match map.next_value::<&str>()? {
                        "buy" => Side::Buy,
                        "sell" => Side::Sell,
                        _ => return Err(de::Error::custom("side")),
                    });
                }
                "trade_id" if xtype == Some(XType::Match) => trade_id = Some(map.next_value()?),
                "sequence" => sequence = map.next_value()?,
                // Advanced Trade envelope
                "channel" => {
                    let c: &str = map.next_value()?;
                    self.msg.advanced = true;
                    match c {
                        "l2_data" | "market_trades" | "ticker" | "ticker_batch" => {
                            channel = Some(c)
                        }
                        "heartbeats" | "subscriptions" | "status" => self.msg.control = true,
                        _ => {
                            *self.unknown = true;
                            return skip_rest(&mut map);
                        }
                    }
                }
                "sequence_num" => self.msg.sequence_num = Some(map.next_value()?),
                "events" => {
                    self.msg.advanced = true;
                    if self.msg.control {
                        map.next_value::<IgnoredAny>()?;
                        continue;
                    }
                    let Some(c) = channel else {
                        return Err(de::Error::custom("events before channel"));
                    };
                    map.next_value_seed(Events {
                        channel: c,
                        symbols: self.symbols,
                        msg: &mut *self.msg,
                        buf: &mut *self.buf,
                        unknown: &mut *self.unknown,
                    })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if self.msg.advanced {
            if channel.is_none() && !self.msg.control {
                return Err(de::Error::custom("no channel"));
            }
            return Ok(());
        }
        let Some(t) = xtype else {
            return Err(de::Error::custom("no type"));
        };
        if t == XType::Control {
            self.msg.control = true;
            return Ok(());
        }
        let Some((inst, sc)) = prod else {
            return Err(de::Error::custom("no product_id"));
        };
        let px_of = |s: Option<&str>| s.map(|s| dec::<A::Error>(s, sc.price_dec)).transpose();
        let (px, best_bid, best_ask) = (px_of(px)?, px_of(best_bid)?, px_of(best_ask)?);
        let size = size.map(|s| dec::<A::Error>(s, sc.qty_dec)).transpose()?;
        match t {
            XType::Snapshot | XType::L2Update => {
                if t == XType::L2Update && (time_us == 0 || self.buf.levels.len() == start) {
                    return Err(de::Error::custom("l2update without time or changes"));
                }
                if self.buf.groups.len() == self.buf.groups.capacity() {
                    return Err(cap_err());
                }
                self.buf.groups.push(BookGroup {
                    inst,
                    kind: if t == XType::Snapshot {
                        BookKind::Snapshot
                    } else {
                        BookKind::Update
                    },
                    start,
                    end: self.buf.levels.len(),
                    time_us,
                });
            }
            XType::Ticker => {
                let (Some(b), Some(a)) = (best_bid, best_ask) else {
                    return Err(de::Error::custom("ticker without best_bid/best_ask"));
                };
                self.msg.has_ticker = true;
                self.buf.ticker = Ticker {
                    inst,
                    sequence,
                    time_us,
                    bid_px: b.value,
                    ask_px: a.value,
                };
            }
            XType::Match => {
                let (Some(p), Some(q), Some(m), Some(id)) = (px, size, maker, trade_id) else {
                    return Err(de::Error::custom("match field missing"));
                };
                if p.value <= 0 || q.value <= 0 {
                    return Err(de::Error::custom("non-positive match"));
                }
                if self.buf.trades.len() == self.buf.trades.capacity() {
                    return Err(cap_err());
                }
                self.buf.trades.push(Trade {
                    inst,
                    trade_id: id,
                    px: p.value,
                    qty: q.value,
                    maker_side: m,
                });
            }
            XType::Control => {}
        }
        Ok(())
    }
}

/// `[price, size]`, or `[side, price, size]` when `.1` is set.
#[derive(Clone, Copy)]
struct PxQty(Scale, Option<()>);

impl<'de> DeserializeSeed<'de> for PxQty {
    type Value = (Side, Level);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(Side, Level), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for PxQty {
    type Value = (Side, Level);
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a level array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(Side, Level), A::Error> {
        let miss = || de::Error::custom("short level");
        let side = if self.1.is_some() {
            match seq.next_element::<&str>()?.ok_or_else(miss)? {
                "buy" => Side::Buy,
                "sell" => Side::Sell,
                _ => return Err(de::Error::custom("side")),
            }
        } else {
            Side::Buy
        };
        let px = seq
            .next_element_seed(DecSeed(self.0.price_dec))?
            .ok_or_else(miss)?;
        let q = seq
            .next_element_seed(DecSeed(self.0.qty_dec))?
            .ok_or_else(miss)?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        level(side, px, q)
    }
}

fn level<E: de::Error>(side: Side, px: Dec, q: Dec) -> Result<(Side, Level), E> {
    if px.value <= 0 || q.value < 0 {
        return Err(E::custom("bad level"));
    }
    Ok((
        side,
        Level {
            px: px.value,
            qty: q.value,
            px_frac: px.frac,
            qty_frac: q.frac,
        },
    ))
}

/// Advanced Trade `events` array.
struct Events<'a> {
    channel: &'a str,
    symbols: &'a SymbolTable,
    msg: &'a mut Msg,
    buf: &'a mut Buffers,
    unknown: &'a mut bool,
}

impl<'de> DeserializeSeed<'de> for Events<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Events<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an events array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(Event {
                channel: self.channel,
                symbols: self.symbols,
                msg: &mut *self.msg,
                buf: &mut *self.buf,
                unknown: &mut *self.unknown,
            })?
            .is_some()
        {}
        Ok(())
    }
}

struct Event<'a> {
    channel: &'a str,
    symbols: &'a SymbolTable,
    msg: &'a mut Msg,
    buf: &'a mut Buffers,
    unknown: &'a mut bool,
}

impl<'de> DeserializeSeed<'de> for Event<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Event<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an event object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut kind: Option<BookKind> = None;
        let mut prod: Option<(usize, Scale)> = None;
        let start = self.buf.levels.len();
        let l2 = self.channel == "l2_data";
        while let Some(k) = map.next_key::<&str>()? {
            match k {
                "type" => {
                    kind = Some(match map.next_value::<&str>()? {
                        "snapshot" => BookKind::Snapshot,
                        "update" => BookKind::Update,
                        _ => return Err(de::Error::custom("event type")),
                    })
                }
                "product_id" if l2 => {
                    let s: &str = map.next_value()?;
                    match self.symbols.find(s.as_bytes()) {
                        Some(p) => prod = Some(p),
                        None => {
                            *self.unknown = true;
                            return skip_rest(&mut map);
                        }
                    }
                }
                "updates" if l2 => {
                    let Some((_, sc)) = prod else {
                        return Err(de::Error::custom("updates before product_id"));
                    };
                    map.next_value_seed(BoundedSeq {
                        out: &mut self.buf.levels,
                        elem: AtUpdate(sc),
                        keep: Some,
                        what: CAP_ERR,
                    })?;
                }
                "trades" if self.channel == "market_trades" => {
                    map.next_value_seed(BoundedSeq {
                        out: &mut self.buf.trades,
                        elem: AtTrade(self.symbols),
                        keep: |t| t,
                        what: CAP_ERR,
                    })?;
                }
                "tickers" if self.channel.starts_with("ticker") => {
                    map.next_value_seed(AtTickers {
                        symbols: self.symbols,
                        msg: &mut *self.msg,
                        out: &mut self.buf.ticker,
                    })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if l2 {
            let (Some(kind), Some((inst, _))) = (kind, prod) else {
                return Err(de::Error::custom("l2 event without type or product"));
            };
            if self.buf.groups.len() == self.buf.groups.capacity() {
                return Err(cap_err());
            }
            self.buf.groups.push(BookGroup {
                inst,
                kind,
                start,
                end: self.buf.levels.len(),
                time_us: 0,
            });
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
struct AtUpdate(Scale);

impl<'de> DeserializeSeed<'de> for AtUpdate {
    type Value = (Side, Level);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(Side, Level), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for AtUpdate {
    type Value = (Side, Level);
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an update object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(Side, Level), A::Error> {
        let (mut side, mut px, mut q) = (None, None, None);
        while let Some(k) = map.next_key::<&str>()? {
            match k {
                "side" => {
                    side = Some(match map.next_value::<&str>()? {
                        "bid" => Side::Buy,
                        "offer" | "ask" => Side::Sell,
                        _ => return Err(de::Error::custom("side")),
                    })
                }
                "price_level" => px = Some(map.next_value_seed(DecSeed(self.0.price_dec))?),
                "new_quantity" => q = Some(map.next_value_seed(DecSeed(self.0.qty_dec))?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let (Some(s), Some(p), Some(q)) = (side, px, q) else {
            return Err(de::Error::custom("update field missing"));
        };
        level(s, p, q)
    }
}

#[derive(Clone, Copy)]
struct AtTrade<'a>(&'a SymbolTable);

impl<'de> DeserializeSeed<'de> for AtTrade<'_> {
    type Value = Option<Trade>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Trade>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for AtTrade<'_> {
    type Value = Option<Trade>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a trade object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Trade>, A::Error> {
        let mut prod: Option<(usize, Scale)> = None;
        let mut other = false;
        let (mut id, mut px, mut q, mut side) = (None, None, None, None);
        while let Some(k) = map.next_key::<&str>()? {
            match k {
                "product_id" => {
                    let s: &str = map.next_value()?;
                    prod = self.0.find(s.as_bytes());
                    other = prod.is_none();
                }
                "trade_id" => {
                    let s: &str = map.next_value()?;
                    id = Some(s.parse::<u64>().unwrap_or(0));
                }
                "price" | "size" if !other => {
                    let Some((_, sc)) = prod else {
                        return Err(de::Error::custom("price before product_id"));
                    };
                    let d = if k == "price" {
                        sc.price_dec
                    } else {
                        sc.qty_dec
                    };
                    let v = map.next_value_seed(DecSeed(d))?;
                    if k == "price" {
                        px = Some(v)
                    } else {
                        q = Some(v)
                    }
                }
                "side" => {
                    side = Some(match map.next_value::<&str>()? {
                        "BUY" => Side::Buy,
                        "SELL" => Side::Sell,
                        _ => return Err(de::Error::custom("side")),
                    })
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if other {
            return Ok(None);
        }
        let (Some((inst, _)), Some(id), Some(p), Some(q), Some(s)) = (prod, id, px, q, side) else {
            return Err(de::Error::custom("trade field missing"));
        };
        if p.value <= 0 || q.value <= 0 {
            return Err(de::Error::custom("non-positive trade"));
        }
        Ok(Some(Trade {
            inst,
            trade_id: id,
            px: p.value,
            qty: q.value,
            maker_side: s,
        }))
    }
}

/// Advanced Trade `tickers`: the last entry of a product we serve is kept.
struct AtTickers<'a> {
    symbols: &'a SymbolTable,
    msg: &'a mut Msg,
    out: &'a mut Ticker,
}

impl<'de> DeserializeSeed<'de> for AtTickers<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for AtTickers<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a tickers array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(t) = seq.next_element_seed(AtTicker(self.symbols))? {
            if let Some(t) = t {
                *self.out = t;
                self.msg.has_ticker = true;
            }
        }
        Ok(())
    }
}

struct AtTicker<'a>(&'a SymbolTable);

impl<'de> DeserializeSeed<'de> for AtTicker<'_> {
    type Value = Option<Ticker>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Ticker>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for AtTicker<'_> {
    type Value = Option<Ticker>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a ticker object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Ticker>, A::Error> {
        let mut prod: Option<(usize, Scale)> = None;
        let mut other = false;
        let (mut b, mut a) = (None, None);
        while let Some(k) = map.next_key::<&str>()? {
            match k {
                "product_id" => {
                    let s: &str = map.next_value()?;
                    prod = self.0.find(s.as_bytes());
                    other = prod.is_none();
                }
                "best_bid" | "best_ask" if !other => {
                    let Some((_, sc)) = prod else {
                        return Err(de::Error::custom("price before product_id"));
                    };
                    let v = map.next_value_seed(DecSeed(sc.price_dec))?;
                    if k == "best_bid" {
                        b = Some(v)
                    } else {
                        a = Some(v)
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if other {
            return Ok(None);
        }
        let (Some((inst, _)), Some(b), Some(a)) = (prod, b, a) else {
            return Err(de::Error::custom("ticker field missing"));
        };
        Ok(Some(Ticker {
            inst,
            sequence: 0,
            time_us: 0,
            bid_px: b.value,
            ask_px: a.value,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_to_micros() {
        assert_eq!(
            iso8601_us(b"2021-04-17T16:43:37.075687Z"),
            Some(1_618_677_817_075_687)
        );
        assert_eq!(iso8601_us(b"1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            iso8601_us(b"2023-02-09T20:32:50.714964855Z"),
            Some(1_675_974_770_714_964)
        );
        assert_eq!(
            iso8601_us(b"2024-02-29T00:00:00.5Z"),
            Some(1_709_164_800_500_000)
        );
        for bad in [
            &b"2021-04-17 16:43:37Z"[..],
            b"2021-13-17T16:43:37Z",
            b"2021-04-17T16:43:37",
            b"2021-04-17T16:43:37.x5Z",
            b"",
        ] {
            assert_eq!(iso8601_us(bad), None);
        }
    }
}
