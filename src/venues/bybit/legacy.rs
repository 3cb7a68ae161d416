//! Bybit's pre-v5 public WebSocket (API v2, retired): `orderBookL2_25.{symbol}` and
//! `trade.{symbol}` on `wss://stream.bybit.com/realtime` (inverse) and `/realtime_public`
//! (USDT perpetuals). Kept to read the 2021 recordings as what they are; live connections use
//! v5 ([`super::BybitHandler`]).
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
//! Sync rules of this feed: the book is the top 25 levels per side, keyed by level `id` (one id
//! per price, so the price is the key here). A delta's `cross_seq` must be greater than the
//! previous one; every `delete` and `update` must name a level the book has, every `insert` one
//! it has not (the exchange deletes levels that leave the top 25 itself). A message that breaks
//! these rules proves a lost message: the book is invalidated and resynced. On both recordings
//! every one of the 4,268 deltas keeps them.
#![forbid(unsafe_code)]

use crate::book::Level;
use crate::event::InvalidReason;
use crate::feed::{EventSink, VenueCounters, VenueHandler};
use crate::ring::RawMeta;
use crate::types::{InstrumentId, Side, VenueId};
use crate::venues::symbols::{InstrumentRef, SymbolTable};
use crate::venues::wire_util::{skip_rest, BoundedSeq, RawDecSeed, Scale};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::sync::Arc;

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

/// One trade.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Trade {
    /// `cross_seq` of the trade (inverse), else 0.
    pub seq: u64,
    /// Price.
    pub px: i64,
    /// Size.
    pub qty: i64,
    /// Taker side is buy.
    pub taker_buy: bool,
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
    /// Trades.
    pub trades: Vec<Trade>,
}

/// Why a frame gave no market data.
#[derive(Debug, PartialEq, Eq)]
pub enum WireError {
    /// Not JSON, wrong shape, bad number, missing field.
    Malformed,
    /// Subscription reply, pong.
    Event,
    /// A topic or symbol this handler does not serve.
    Unknown,
}

/// Parse one frame of the v2 public feed.
pub fn parse(raw: &[u8], symbols: &SymbolTable, buf: &mut Buffers) -> Result<Msg, WireError> {
    buf.entries.clear();
    buf.trades.clear();
    let mut msg = Msg::default();
    let mut st = 0u8;
    let mut de = sonic_rs::Deserializer::from_slice(raw);
    let r = Top {
        symbols,
        msg: &mut msg,
        buf,
        st: &mut st,
    }
    .deserialize(&mut de);
    match st {
        1 => return Err(WireError::Event),
        2 => return Err(WireError::Unknown),
        _ => {}
    }
    if r.is_err() || de.end().is_err() {
        return Err(WireError::Malformed);
    }
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
    st: &'a mut u8,
}

impl<'de> DeserializeSeed<'de> for Top<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Top<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Bybit v2 object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut scale: Option<Scale> = None;
        let mut book = false;
        while let Some(k) = map.next_key::<&str>()? {
            match k {
                "success" | "ret_msg" | "request" | "op" => {
                    map.next_value::<IgnoredAny>()?;
                    *self.st = 1;
                    return skip_rest(&mut map);
                }
                "topic" => {
                    let t: &str = map.next_value()?;
                    let (fam, sym) = t.split_once('.').unwrap_or((t, ""));
                    match fam {
                        "orderBookL2_25" | "orderBook_200" => book = true,
                        "trade" => self.msg.kind = Kind::Trades,
                        _ => {
                            *self.st = 2;
                            return skip_rest(&mut map);
                        }
                    }
                    match self.symbols.find(sym.as_bytes()) {
                        Some((i, s)) => {
                            self.msg.inst = i;
                            scale = Some(s);
                        }
                        None => {
                            *self.st = 2;
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
                            elem: TradeSeed(sc),
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
            elem: EntrySeed(self.scale, Op::Snapshot),
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
                elem: EntrySeed(self.scale, op),
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

impl<'de> DeserializeSeed<'de> for EntrySeed {
    type Value = Entry;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Entry, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EntrySeed {
    type Value = Entry;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a level object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entry, A::Error> {
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

impl<'de> DeserializeSeed<'de> for TradeSeed {
    type Value = Trade;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Trade, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TradeSeed {
    type Value = Trade;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a trade object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Trade, A::Error> {
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
                "cross_seq" => t.seq = map.next_value_seed(U64Any)?,
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

/// Prices present on one side of a legacy book (at most `cap`), for the consistency rules.
#[derive(Debug)]
struct Present {
    px: Vec<i64>,
}

impl Present {
    fn with_capacity(cap: usize) -> Present {
        Present {
            px: Vec::with_capacity(cap),
        }
    }
    fn has(&self, p: i64) -> bool {
        self.px.contains(&p)
    }
    fn add(&mut self, p: i64) -> bool {
        if self.px.len() == self.px.capacity() || self.has(p) {
            return false;
        }
        self.px.push(p);
        true
    }
    fn remove(&mut self, p: i64) -> bool {
        match self.px.iter().position(|x| *x == p) {
            Some(i) => {
                self.px.swap_remove(i);
                true
            }
            None => false,
        }
    }
}

/// Sync state of one legacy book.
#[derive(Debug)]
pub struct LegacySync {
    last: Option<u64>,
    bids: Present,
    asks: Present,
    want_resync: bool,
}

impl LegacySync {
    /// Waiting for a snapshot; books up to `cap` levels per side.
    pub fn new(cap: usize) -> LegacySync {
        LegacySync {
            last: None,
            bids: Present::with_capacity(cap),
            asks: Present::with_capacity(cap),
            want_resync: false,
        }
    }

    fn side(&mut self, s: Side) -> &mut Present {
        match s {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    fn emit(sink: &mut EventSink<'_>, inst: InstrumentId, entries: &[Entry], snap: bool) {
        for e in entries {
            let l = e.level;
            sink.level(inst, e.side, l.px, l.qty, (l.px_frac, l.qty_frac), snap);
        }
    }

    fn gap(&mut self, inst: InstrumentId, sink: &mut EventSink<'_>, c: &VenueCounters) {
        VenueCounters::inc(&c.gaps);
        VenueCounters::inc(&c.resyncs);
        sink.invalid(inst, InvalidReason::Gap);
        self.last = None;
        self.want_resync = true;
    }

    /// A snapshot replaces the book. A snapshot that lists a price twice (or more levels than
    /// the book can hold) is refused: false.
    pub fn on_snapshot(
        &mut self,
        inst: InstrumentId,
        cross_seq: u64,
        entries: &[Entry],
        sink: &mut EventSink<'_>,
        c: &VenueCounters,
    ) -> bool {
        if self.last.is_some() {
            VenueCounters::inc(&c.resyncs);
        }
        self.bids.px.clear();
        self.asks.px.clear();
        for e in entries {
            if !self.side(e.side).add(e.level.px) {
                VenueCounters::inc(&c.snapshots_rejected);
                self.last = None;
                self.want_resync = true;
                return false;
            }
        }
        sink.clear(inst, cross_seq);
        Self::emit(sink, inst, entries, true);
        sink.commit(inst, cross_seq, true, (0, 0));
        self.last = Some(cross_seq);
        self.want_resync = false;
        VenueCounters::inc(&c.syncs);
        true
    }

    /// A delta: applied only if it keeps the feed's rules (see the module doc).
    pub fn on_delta(
        &mut self,
        inst: InstrumentId,
        cross_seq: u64,
        entries: &[Entry],
        sink: &mut EventSink<'_>,
        c: &VenueCounters,
    ) -> bool {
        let Some(last) = self.last else {
            VenueCounters::inc(&c.stale_diffs);
            return false;
        };
        if cross_seq <= last {
            self.gap(inst, sink, c);
            return false;
        }
        for e in entries {
            let p = e.level.px;
            let ok = match e.op {
                Op::Delete => self.side(e.side).remove(p),
                Op::Update => self.side(e.side).has(p),
                Op::Insert => self.side(e.side).add(p),
                Op::Snapshot => false,
            };
            if !ok {
                self.gap(inst, sink, c);
                return false;
            }
        }
        Self::emit(sink, inst, entries, false);
        sink.commit(inst, cross_seq, false, (0, 0));
        self.last = Some(cross_seq);
        true
    }
}

/// Market-data handler for one legacy (v2) Bybit connection.
pub struct LegacyHandler {
    venue: VenueId,
    symbols: SymbolTable,
    sync: Vec<LegacySync>,
    buf: Buffers,
    counters: Arc<VenueCounters>,
}

impl LegacyHandler {
    /// A handler for `instruments` (wire symbol `BTCUSD`, `BCHUSDT`); books of up to
    /// `levels` levels per side (25 for `orderBookL2_25`).
    pub fn new(
        venue: VenueId,
        instruments: Vec<InstrumentRef>,
        levels: usize,
        counters: Arc<VenueCounters>,
    ) -> LegacyHandler {
        let n = instruments.len();
        LegacyHandler {
            venue,
            symbols: SymbolTable::new(instruments),
            sync: (0..n).map(|_| LegacySync::new(levels)).collect(),
            buf: Buffers {
                entries: Vec::with_capacity(4 * levels.max(200)),
                trades: Vec::with_capacity(1024),
            },
            counters,
        }
    }
}

impl VenueHandler for LegacyHandler {
    fn venue(&self) -> VenueId {
        self.venue
    }

    fn counters(&self) -> &Arc<VenueCounters> {
        &self.counters
    }

    fn on_message(&mut self, raw: &[u8], _meta: &RawMeta, sink: &mut EventSink<'_>) {
        let c = &*self.counters;
        let m = match parse(raw, &self.symbols, &mut self.buf) {
            Ok(m) => m,
            Err(WireError::Event) | Err(WireError::Unknown) => {
                VenueCounters::inc(&c.unknown_messages);
                return;
            }
            Err(WireError::Malformed) => {
                VenueCounters::inc(&c.parse_errors);
                return;
            }
        };
        let id = self.symbols.get(m.inst).id;
        let cs = m.cross_seq.unwrap_or(0);
        match m.kind {
            Kind::Snapshot => {
                VenueCounters::inc(&c.snapshots);
                self.sync[m.inst].on_snapshot(id, cs, &self.buf.entries, sink, c);
            }
            Kind::Delta => {
                VenueCounters::inc(&c.depth_updates);
                self.sync[m.inst].on_delta(id, cs, &self.buf.entries, sink, c);
            }
            Kind::Trades => {
                for t in &self.buf.trades {
                    VenueCounters::inc(&c.trades);
                    let side = if t.taker_buy { Side::Buy } else { Side::Sell };
                    sink.trade(id, t.seq, t.px, t.qty, side);
                }
            }
            Kind::Other => VenueCounters::inc(&c.unknown_messages),
        }
    }

    fn on_disconnect(&mut self, sink: &mut EventSink<'_>) {
        for (k, st) in self.sync.iter_mut().enumerate() {
            if st.last.is_some() {
                sink.invalid(self.symbols.get(k).id, InvalidReason::Disconnected);
            }
            st.last = None;
        }
    }

    fn snapshot_wanted(&mut self, out: &mut dyn FnMut(InstrumentId)) {
        for (k, st) in self.sync.iter_mut().enumerate() {
            if std::mem::take(&mut st.want_resync) {
                out(self.symbols.get(k).id);
            }
        }
    }
}
