//! Binance: spot (`stream.binance.com`), USDⓈ-M (`fstream.binance.com`) and COIN-M
//! (`dstream.binance.com`) market data; order encoding and signing.
//!
//! Files (the same in every venue folder):
//! - [`wire`]: raw message formats with real samples and doc links; zero-allocation parsing.
//! - [`book`]: the venue's book-sync rules (snapshot + diffs, `U`/`u`/`pu`).
//! - [`orders`]: order request encoding and HMAC-SHA256 signing into reused buffers.
//! - [`instruments`]: specs from the venue's instrument endpoint (`exchangeInfo`).
//! - [`protocol`]: live connection protocol (stream URLs, keep-alive, REST snapshot URLs).
//!
//! Best bid/ask of a Binance venue is its latest `bookTicker`; the depth book gives the levels
//! behind it ([`crate::book::L2Book::walk`]).
#![forbid(unsafe_code)]

pub mod book;
pub mod instruments;
pub mod orders;
pub mod protocol;
pub mod wire;

use crate::feed::protocol::VenueProtocol;
use crate::feed::{tag, EventSink, Skip, VenueCounters, VenueHandler};
use crate::instrument::InstrumentDef;
use crate::ring::RawMeta;
use crate::types::{InstrumentId, Side, VenueId};
use crate::venues::wire_util::Scale;
use crate::venues::{Exchange, KeyError, OrderEntry, Venue, VenueCtx, VenueOptions};
use book::{DepthSync, DiffIds, SyncRule};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use wire::{Levels, StreamKind, SymbolTable, WireError};

/// Which Binance market.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Market {
    /// Spot (`/api/v3`).
    Spot,
    /// USDⓈ-M futures (`/fapi/v1`).
    Usdm,
    /// COIN-M futures (`/dapi/v1`).
    Coinm,
}

/// The Binance market of a venue's options (`market = "spot" | "usdm" | "coinm"`).
pub fn market_of(o: &VenueOptions) -> Result<Market, KeyError> {
    match o.market.as_deref() {
        Some("spot") => Ok(Market::Spot),
        Some("usdm") => Ok(Market::Usdm),
        Some("coinm") => Ok(Market::Coinm),
        Some(other) => Err(KeyError::new(
            "market",
            format!("unknown binance market {other:?} (spot, usdm, coinm)"),
        )),
        None => Err(KeyError::new(
            "market",
            "required for binance: spot, usdm or coinm",
        )),
    }
}

/// The venue's instruments as the order encoder sees them.
fn order_symbols(ctx: &VenueCtx<'_>) -> Vec<orders::OrderSymbol> {
    ctx.instruments()
        .map(|i| orders::OrderSymbol {
            symbol: i.symbol.clone(),
            scale: Scale {
                price_dec: i.price_dec,
                qty_dec: i.qty_dec,
            },
            base: i.base.clone(),
            quote: i.quote.clone(),
        })
        .collect()
}

/// A configured Binance venue: one market.
#[derive(Clone, Debug)]
pub struct BinanceVenue {
    /// Which market.
    pub market: Market,
    options: VenueOptions,
}

/// Resolve a `[venues.<name>]` section with `exchange = "binance"`.
pub fn configure(o: &VenueOptions) -> Result<Arc<dyn Venue>, KeyError> {
    if let Some(p) = o.protocol.as_deref() {
        return Err(KeyError::new(
            "protocol",
            format!("binance has one protocol; remove `protocol = {p:?}`"),
        ));
    }
    if o.book_depth.is_some() {
        return Err(KeyError::new(
            "book_depth",
            "not used for binance (diff depth + REST snapshot of `snapshot_limit` levels)",
        ));
    }
    Ok(Arc::new(BinanceVenue {
        market: market_of(o)?,
        options: o.clone(),
    }))
}

impl Venue for BinanceVenue {
    fn exchange(&self) -> Exchange {
        Exchange::Binance
    }

    fn parse_instruments(
        &self,
        venue_name: &str,
        text: &str,
    ) -> Result<Vec<InstrumentDef>, String> {
        let first = text.lines().next().unwrap_or("");
        instruments::parse_exchange_info(first, self.market, venue_name)
    }

    fn handler(
        &self,
        ctx: &VenueCtx<'_>,
        counters: Arc<VenueCounters>,
    ) -> Result<Box<dyn VenueHandler>, String> {
        Ok(Box::new(BinanceHandler::new(
            ctx.id,
            self.market,
            ctx.instrument_refs(),
            Limits {
                max_levels_per_msg: self.options.book_levels.max(1000),
                ..Limits::default()
            },
            counters,
        )))
    }

    fn protocol(&self, ctx: &VenueCtx<'_>) -> Result<Box<dyn VenueProtocol>, String> {
        Ok(Box::new(protocol::BinanceProtocol::new(
            self.market,
            ctx.options,
            ctx.symbols(),
        )))
    }

    fn bbo_shares_book_seq(&self) -> bool {
        // `bookTicker` `u` is the order book's updateId, the id space of depth `u`
        true
    }

    fn order_entry(
        &self,
        ctx: &VenueCtx<'_>,
        api_key: &str,
        secret: &[u8],
    ) -> Option<Box<dyn OrderEntry>> {
        let base = self
            .options
            .rest_url
            .as_deref()
            .unwrap_or(self.market.rest_base());
        // a bad `rest_url` was refused at config load; fall back to the public base otherwise
        let base = orders::RestBase::parse(base)
            .or_else(|_| orders::RestBase::parse(self.market.rest_base()))
            .ok()?;
        Some(Box::new(orders::BinanceOrders::new(
            self.market,
            base,
            order_symbols(ctx),
            api_key,
            secret,
        )))
    }

    fn sign_request(
        &self,
        creds: &crate::venues::Credentials,
        r: &crate::venues::SignRequest,
    ) -> Result<Vec<u8>, String> {
        orders::sign_request(self.market, creds, r)
    }

    fn account_api(
        &self,
        ctx: &VenueCtx<'_>,
        creds: &crate::venues::Credentials,
        recv_window_ms: u32,
        ca_file: Option<&std::path::Path>,
    ) -> Option<Result<Box<dyn crate::venues::AccountApi>, String>> {
        let rest = self
            .options
            .rest_url
            .as_deref()
            .unwrap_or(self.market.rest_base());
        let ws = self
            .options
            .ws_url
            .as_deref()
            .unwrap_or(self.market.ws_base());
        Some(
            orders::BinanceAccount::new(
                self.market,
                rest,
                ws,
                &creds.api_key,
                &creds.secret,
                order_symbols(ctx),
                recv_window_ms,
                ca_file,
            )
            .map(|a| Box::new(a) as Box<dyn crate::venues::AccountApi>),
        )
    }
}

impl Market {
    /// Book-sync rule of this market.
    pub fn sync_rule(self) -> SyncRule {
        match self {
            Market::Spot => SyncRule::Spot,
            Market::Usdm | Market::Coinm => SyncRule::Futures,
        }
    }
    /// Public WebSocket base URL (combined streams: append `/stream?streams=a/b`).
    pub fn ws_base(self) -> &'static str {
        match self {
            Market::Spot => "wss://stream.binance.com:9443",
            Market::Usdm => "wss://fstream.binance.com",
            Market::Coinm => "wss://dstream.binance.com",
        }
    }
    /// REST base URL.
    pub fn rest_base(self) -> &'static str {
        match self {
            Market::Spot => "https://api.binance.com",
            Market::Usdm => "https://fapi.binance.com",
            Market::Coinm => "https://dapi.binance.com",
        }
    }
    /// REST depth path.
    pub fn depth_path(self) -> &'static str {
        match self {
            Market::Spot => "/api/v3/depth",
            Market::Usdm => "/fapi/v1/depth",
            Market::Coinm => "/dapi/v1/depth",
        }
    }
    /// REST order path.
    pub fn order_path(self) -> &'static str {
        match self {
            Market::Spot => "/api/v3/order",
            Market::Usdm => "/fapi/v1/order",
            Market::Coinm => "/dapi/v1/order",
        }
    }
}

pub use crate::venues::symbols::InstrumentRef;

struct InstState {
    r: InstrumentRef,
    stream_sym: String,
    sync: DepthSync,
    /// Partial-book streams (`depth5/10/20`): update id of the top-N snapshot the book holds.
    partial: Option<u64>,
}

struct Table<'a>(&'a [InstState]);

impl SymbolTable for Table<'_> {
    fn find_stream(&self, sym: &str) -> Option<(usize, Scale)> {
        self.0
            .iter()
            .position(|i| i.stream_sym == sym || i.stream_sym.eq_ignore_ascii_case(sym))
            .map(|k| (k, self.0[k].r.scale))
    }
    fn find_symbol(&self, sym: &str) -> Option<(usize, Scale)> {
        self.0
            .iter()
            .position(|i| i.r.symbol.eq_ignore_ascii_case(sym))
            .map(|k| (k, self.0[k].r.scale))
    }
}

/// Sizes of the handler's preallocated buffers.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Levels per side in one message (snapshots are the largest: up to 5,000).
    pub max_levels_per_msg: usize,
    /// Diffs buffered per instrument while waiting for a snapshot.
    pub max_buffered_diffs: usize,
    /// Levels buffered per instrument while waiting for a snapshot.
    pub max_buffered_levels: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_levels_per_msg: 5000,
            max_buffered_diffs: 4096,
            max_buffered_levels: 65536,
        }
    }
}

/// Market-data handler for one Binance venue (one market, any number of symbols).
pub struct BinanceHandler {
    venue: VenueId,
    market: Market,
    insts: Vec<InstState>,
    levels: Levels,
    counters: Arc<VenueCounters>,
}

impl BinanceHandler {
    /// A handler for `instruments` of `market` on `venue`.
    pub fn new(
        venue: VenueId,
        market: Market,
        instruments: Vec<InstrumentRef>,
        limits: Limits,
        counters: Arc<VenueCounters>,
    ) -> BinanceHandler {
        let insts = instruments
            .into_iter()
            .map(|r| InstState {
                stream_sym: r.symbol.to_ascii_lowercase(),
                sync: DepthSync::new(
                    market.sync_rule(),
                    limits.max_buffered_diffs,
                    limits.max_buffered_levels,
                ),
                partial: None,
                r,
            })
            .collect();
        BinanceHandler {
            venue,
            market,
            insts,
            levels: Levels::with_capacity(limits.max_levels_per_msg),
            counters,
        }
    }

    /// The market.
    pub fn market(&self) -> Market {
        self.market
    }

    /// Update id the book of instrument `k` (handler index) is synced at.
    pub fn book_id(&self, k: usize) -> Option<u64> {
        self.insts.get(k).and_then(|i| i.sync.book_id())
    }

    fn on_snapshot(&mut self, raw: &[u8], meta: &RawMeta, sink: &mut EventSink<'_>) {
        let c = &*self.counters;
        VenueCounters::inc(&c.snapshots);
        let table = Table(&self.insts);
        let hint = match tag::instrument(meta.tag) {
            Some(id) => self
                .insts
                .iter()
                .position(|i| i.r.id.0 == id)
                .map(|k| (k, self.insts[k].r.scale)),
            None if self.insts.len() == 1 => Some((0, self.insts[0].r.scale)),
            None => None,
        };
        match wire::parse_snapshot(raw, &table, hint, &mut self.levels) {
            Ok(s) => {
                let k = s.inst.unwrap_or(0);
                let st = &mut self.insts[k];
                st.sync.on_snapshot(
                    st.r.id,
                    s.last_update_id,
                    &self.levels.bids,
                    &self.levels.asks,
                    sink,
                    c,
                );
            }
            Err(WireError::UnknownSymbol) => {
                VenueCounters::inc(&c.snapshots_rejected);
                VenueCounters::inc(&c.parse_errors);
                sink.skipped(Skip::ParseError, raw);
            }
            Err(_) => {
                VenueCounters::inc(&c.parse_errors);
                sink.skipped(Skip::ParseError, raw);
            }
        }
    }
}

impl VenueHandler for BinanceHandler {
    fn venue(&self) -> VenueId {
        self.venue
    }

    fn counters(&self) -> &Arc<VenueCounters> {
        &self.counters
    }

    fn on_message(&mut self, raw: &[u8], meta: &RawMeta, sink: &mut EventSink<'_>) {
        if tag::is_snapshot(meta.tag) || raw.starts_with(b"{\"lastUpdateId\"") {
            return self.on_snapshot(raw, meta, sink);
        }
        let c = &*self.counters;
        let table = Table(&self.insts);
        match wire::parse_stream(raw, &table, &mut self.levels) {
            Ok(m) => {
                let st = &mut self.insts[m.inst];
                match m.kind {
                    StreamKind::BookTicker => {
                        VenueCounters::inc(&c.bbo_updates);
                        sink.bbo(
                            st.r.id,
                            m.last_id,
                            (m.bid_px, m.bid_qty),
                            (m.ask_px, m.ask_qty),
                        );
                    }
                    StreamKind::Depth => {
                        VenueCounters::inc(&c.depth_updates);
                        let ids = DiffIds {
                            first: m.first_id,
                            last: m.last_id,
                            prev: m.prev_id,
                        };
                        if self.market != Market::Spot && ids.prev.is_none() {
                            // futures diffs must carry `pu`; without it continuity is unknowable
                            VenueCounters::inc(&c.parse_errors);
                            sink.skipped(Skip::ParseError, raw);
                            return;
                        }
                        st.sync.on_diff(
                            st.r.id,
                            ids,
                            &self.levels.bids,
                            &self.levels.asks,
                            sink,
                            c,
                        );
                    }
                    StreamKind::PartialDepth => {
                        // a full top-N book at one update id: replace the book (an older or
                        // repeated id than the one held is dropped as stale)
                        VenueCounters::inc(&c.depth_updates);
                        VenueCounters::inc(&c.snapshots);
                        if st.partial.is_some_and(|held| m.last_id <= held) {
                            VenueCounters::inc(&c.stale_diffs);
                            return;
                        }
                        if st.partial.is_none() {
                            VenueCounters::inc(&c.syncs);
                        }
                        st.partial = Some(m.last_id);
                        sink.clear(st.r.id, m.last_id);
                        for l in &self.levels.bids {
                            sink.level(
                                st.r.id,
                                Side::Buy,
                                l.px,
                                l.qty,
                                (l.px_frac, l.qty_frac),
                                true,
                            );
                        }
                        for l in &self.levels.asks {
                            sink.level(
                                st.r.id,
                                Side::Sell,
                                l.px,
                                l.qty,
                                (l.px_frac, l.qty_frac),
                                true,
                            );
                        }
                        sink.commit(st.r.id, m.last_id, true, (0, 0));
                    }
                    StreamKind::Trade | StreamKind::AggTrade => {
                        VenueCounters::inc(&c.trades);
                        let aggressor = if m.buyer_maker { Side::Sell } else { Side::Buy };
                        sink.trade(st.r.id, m.trade_id, m.px, m.qty, aggressor);
                    }
                    StreamKind::Other => VenueCounters::inc(&c.unknown_messages),
                }
            }
            Err(WireError::UnknownStream) | Err(WireError::UnknownSymbol) => {
                VenueCounters::inc(&c.unknown_messages)
            }
            Err(_) => {
                VenueCounters::inc(&c.parse_errors);
                sink.skipped(Skip::ParseError, raw);
            }
        }
    }

    fn on_disconnect(&mut self, sink: &mut EventSink<'_>) {
        for st in &mut self.insts {
            if st.partial.take().is_some() {
                sink.invalid(st.r.id, crate::event::InvalidReason::Disconnected);
            }
            st.sync.on_disconnect(st.r.id, sink);
        }
    }

    fn snapshot_wanted(&mut self, out: &mut dyn FnMut(InstrumentId)) {
        for st in &mut self.insts {
            // a partial-book stream is its own snapshot: no REST snapshot for it
            if st.sync.take_snapshot_request() && st.partial.is_none() {
                out(st.r.id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{MdEvent, MdKind};

    fn handler(market: Market) -> BinanceHandler {
        let (sym, scale) = match market {
            Market::Spot => (
                "BTCUSDT",
                Scale {
                    price_dec: 2,
                    qty_dec: 5,
                },
            ),
            Market::Usdm => (
                "BTCUSDT",
                Scale {
                    price_dec: 1,
                    qty_dec: 3,
                },
            ),
            Market::Coinm => (
                "BTCUSD_PERP",
                Scale {
                    price_dec: 1,
                    qty_dec: 0,
                },
            ),
        };
        BinanceHandler::new(
            VenueId(0),
            market,
            vec![InstrumentRef {
                id: InstrumentId(7),
                symbol: sym.into(),
                scale,
            }],
            Limits::default(),
            Arc::new(VenueCounters::default()),
        )
    }

    fn feed(h: &mut BinanceHandler, msg: &str) -> Vec<MdEvent> {
        let mut v = vec![];
        let mut sink = EventSink::to_vec(&mut v);
        sink.begin(VenueId(0), &RawMeta::default(), 0);
        h.on_message(msg.as_bytes(), &RawMeta::default(), &mut sink);
        sink.end();
        v
    }

    #[test]
    fn book_ticker_real_message() {
        let mut h = handler(Market::Spot);
        let ev = feed(
            &mut h,
            r#"{"stream":"btcusdt@bookTicker","data":{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000","a":"61837.64000000","A":"1.54698000"}}"#,
        );
        assert_eq!(ev.len(), 1);
        let e = ev[0];
        assert_eq!(e.kind, MdKind::Bbo);
        assert_eq!(e.instrument, InstrumentId(7));
        assert_eq!(e.venue_seq, 50093239212);
        assert_eq!((e.p0, e.q0, e.p1, e.q1), (6183763, 378826, 6183764, 154698));
        assert!(e.is_last());
    }

    #[test]
    fn coinm_book_ticker_and_trade() {
        let mut h = handler(Market::Coinm);
        let ev = feed(
            &mut h,
            r#"{"stream":"btcusd_perp@bookTicker","data":{"u":1007198632021,"e":"bookTicker","s":"BTCUSD_PERP","ps":"BTCUSD","b":"61804.7","B":"35","a":"61804.8","A":"1645","T":1723161257465,"E":1723161257476}}"#,
        );
        assert_eq!(
            (ev[0].p0, ev[0].q0, ev[0].p1, ev[0].q1),
            (618047, 35, 618048, 1645)
        );
        let ev = feed(
            &mut h,
            r#"{"stream":"btcusd_perp@trade","data":{"e":"trade","E":1723161257687,"T":1723161257679,"s":"BTCUSD_PERP","t":849714402,"p":"61804.8","q":"4","X":"MARKET","m":false}}"#,
        );
        assert_eq!(ev[0].kind, MdKind::Trade);
        assert_eq!((ev[0].p0, ev[0].q0, ev[0].side), (618048, 4, Side::Buy));
        assert_eq!(ev[0].venue_seq, 849714402);
    }

    #[test]
    fn malformed_variants_are_counted_not_panics() {
        let mut h = handler(Market::Spot);
        let good = r#"{"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"1.00","B":"1","a":"2.00","A":"1"}}"#;
        let cases = [
            &good[..good.len() / 2], // truncated
            r#"{"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"1.00","B":"1","a":"2.00"}}"#, // missing A
            r#"{"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"abc","B":"1","a":"2.00","A":"1"}}"#, // non-numeric
            r#"{"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"1.001","B":"1","a":"2.00","A":"1"}}"#, // finer than tick decimals
            r#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","U":1,"u":2,"b":[["1.00"]],"a":[]}}"#, // level without qty
            r#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","U":1,"u":2,"b":[["-1.00","1"]],"a":[]}}"#, // negative price
            r#"{"data":{"u":1},"stream":"btcusdt@bookTicker"}"#, // data before stream
            r#"[1,2,3]"#,
            "",
            "\u{0}\u{1}garbage",
            r#"{"lastUpdateId":"x","bids":[],"asks":[]}"#,
        ];
        for (i, c) in cases.iter().enumerate() {
            let ev = feed(&mut h, c);
            assert_eq!(ev.len(), 1, "case {i}");
            assert_eq!(ev[0].kind, MdKind::Noop, "case {i}");
        }
        assert_eq!(
            VenueCounters::get(&h.counters.parse_errors),
            cases.len() as u64
        );
        // well-formed but not ours: unknown, not an error
        feed(
            &mut h,
            r#"{"stream":"ethusdt@bookTicker","data":{"u":1,"s":"ETHUSDT","b":"1.00","B":"1","a":"2.00","A":"1"}}"#,
        );
        feed(&mut h, r#"{"stream":"btcusdt@kline_1m","data":{}}"#);
        feed(&mut h, r#"{"result":null,"id":1}"#);
        assert_eq!(VenueCounters::get(&h.counters.unknown_messages), 3);
        assert_eq!(
            VenueCounters::get(&h.counters.parse_errors),
            cases.len() as u64
        );
    }

    #[test]
    fn partial_book_stream_replaces_the_book_per_update_id() {
        let mut h = handler(Market::Spot);
        for suffix in ["depth5", "depth10@100ms", "depth20@1000ms"] {
            assert_eq!(StreamKind::from_suffix(suffix), StreamKind::PartialDepth);
        }
        assert_eq!(StreamKind::from_suffix("depth@100ms"), StreamKind::Depth);
        assert_eq!(StreamKind::from_suffix("depth50"), StreamKind::Other);
        // a real spot message (2025-08-31), cut to two levels per side
        let msg = r#"{"stream":"btcusdt@depth5@100ms","data":{"lastUpdateId":75575196322,"bids":[["108370.26000000","0.31813000"],["108370.25000000","0.01195000"]],"asks":[["108370.27000000","8.86858000"],["108370.28000000","0.00025000"]]}}"#;
        let ev = feed(&mut h, msg);
        let kinds: Vec<MdKind> = ev.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            vec![
                MdKind::BookClear,
                MdKind::BookLevel,
                MdKind::BookLevel,
                MdKind::BookLevel,
                MdKind::BookLevel,
                MdKind::BookCommit
            ]
        );
        assert_eq!(ev[0].venue_seq, 75575196322);
        assert_eq!(
            (ev[1].p0, ev[1].q0, ev[1].side),
            (10837026, 31813, Side::Buy)
        );
        assert_eq!((ev[3].p0, ev[3].side), (10837027, Side::Sell));
        assert_eq!(
            ev[5].flags & crate::event::flags::SNAPSHOT,
            crate::event::flags::SNAPSHOT
        );
        // the same id again is stale; a newer one replaces
        assert_eq!(feed(&mut h, msg)[0].kind, MdKind::Noop);
        assert_eq!(VenueCounters::get(&h.counters.stale_diffs), 1);
        let newer = msg.replace("75575196322", "75575196335");
        assert_eq!(feed(&mut h, &newer)[0].kind, MdKind::BookClear);
        // futures spelling: `u` + `b`/`a`
        let mut f = handler(Market::Usdm);
        let fut = r#"{"stream":"btcusdt@depth5@500ms","data":{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":10,"u":12,"pu":9,"b":[["61800.20","2.507"]],"a":[["61800.30","1.000"]]}}"#;
        let ev = feed(&mut f, fut);
        assert_eq!(ev[0].kind, MdKind::BookClear);
        assert_eq!(ev.last().unwrap().venue_seq, 12);
        // a side missing is an error, not a one-sided book
        let bad = r#"{"stream":"btcusdt@depth5","data":{"lastUpdateId":1,"bids":[]}}"#;
        assert_eq!(feed(&mut h, bad)[0].kind, MdKind::Noop);
        assert_eq!(VenueCounters::get(&h.counters.parse_errors), 1);
        assert_eq!(VenueCounters::get(&h.counters.syncs), 1);
    }

    #[test]
    fn snapshot_then_diff_emits_book_events() {
        let mut h = handler(Market::Usdm);
        // diff before snapshot is buffered
        let d1 = r#"{"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":100,"u":110,"pu":99,"b":[["61800.20","2.507"]],"a":[["61800.30","0.000"]]}}"#;
        assert_eq!(feed(&mut h, d1)[0].kind, MdKind::Noop);
        let snap = r#"{"lastUpdateId":105,"E":1,"T":1,"bids":[["61800.20","2.909"],["61800.10","0.696"]],"asks":[["61800.30","1.072"]]}"#;
        let ev = feed(&mut h, snap);
        assert_eq!(VenueCounters::get(&h.counters.parse_errors), 0);
        let kinds: Vec<MdKind> = ev.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            vec![
                MdKind::BookClear,
                MdKind::BookLevel,
                MdKind::BookLevel,
                MdKind::BookLevel,
                MdKind::BookLevel,
                MdKind::BookLevel,
                MdKind::BookCommit
            ]
        );
        assert_eq!(ev.last().unwrap().venue_seq, 110);
        // the buffered diff's ask delete comes after the snapshot's ask
        assert_eq!((ev[5].p0, ev[5].q0, ev[5].side), (618003, 0, Side::Sell));
        assert_eq!(h.book_id(0), Some(110));
        // futures diff without pu is an error
        let no_pu = r#"{"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","U":111,"u":112,"b":[],"a":[]}}"#;
        feed(&mut h, no_pu);
        assert_eq!(VenueCounters::get(&h.counters.parse_errors), 1);
    }
}
