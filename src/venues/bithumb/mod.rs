//! Bithumb (KRW and BTC markets): the current Upbit-compatible public WebSocket (`market =
//! "v1"`, the default: `KRW-BTC` codes, `orderbook`/`trade`, parsed by
//! [`crate::venues::upbit::wire`]) and the legacy feed (`market = "legacy"`: `BTC_KRW`
//! symbols, `orderbooksnapshot`/`orderbookdepth`/`transaction`, parsed by [`wire`]).
//!
//! Files: [`wire`] (legacy formats, samples, doc links), [`book`] (which book rule applies),
//! [`instruments`] (specs from `GET /public/ticker/ALL_{KRW,BTC}`), [`protocol`]
//! (connection, subscriptions, keep-alive). No `orders.rs` yet.
//!
//! Books are snapshot-only ([`crate::venues::upbit::book::SnapshotBook`]): every
//! `orderbook` / `orderbooksnapshot` message replaces the book; legacy `orderbookdepth`
//! changes are applied on top of the last snapshot (they carry no sequence, so a lost change
//! is not detectable until the next snapshot replaces the book).
//!
//! A configured symbol may be written either way (`BTC_KRW` or `KRW-BTC`); both spellings
//! are accepted on the wire.
#![forbid(unsafe_code)]

pub mod book;
pub mod instruments;
pub mod protocol;
pub mod wire;

pub use crate::venues::binance::InstrumentRef;

use crate::feed::protocol::VenueProtocol;
use crate::feed::{EventSink, VenueCounters, VenueHandler};
use crate::instrument::InstrumentDef;
use crate::ring::RawMeta;
use crate::types::{InstrumentId, Side, VenueId};
use crate::venues::upbit::{self, book::SnapshotBook, Inst, Table};
use crate::venues::{Exchange, KeyError, Venue, VenueCtx, VenueOptions};
use std::sync::Arc;

/// Which Bithumb WebSocket generation a venue speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feed {
    /// `wss://ws-api.bithumb.com/websocket/v1`, Upbit-compatible (default).
    V1,
    /// `wss://pubwss.bithumb.com/pub/ws` (legacy; the recording's).
    Legacy,
}

/// The feed of a venue's options: `market = "v1"` (default) or `"legacy"`.
pub fn feed_of(o: &VenueOptions) -> Result<Feed, KeyError> {
    match o.market.as_deref() {
        None | Some("v1") => Ok(Feed::V1),
        Some("legacy") => Ok(Feed::Legacy),
        Some(m) => Err(KeyError::new(
            "market",
            format!("unknown bithumb market {m:?} (v1, legacy)"),
        )),
    }
}

/// A configured Bithumb venue on one feed generation.
#[derive(Clone, Debug)]
pub struct BithumbVenue {
    /// Which WebSocket generation.
    pub feed: Feed,
}

/// Resolve a `[venues.<name>]` section with `exchange = "bithumb"`: `market` picks the feed
/// generation (`v1`, default, or `legacy`); `protocol` and `book_depth` are not used.
pub fn configure(o: &VenueOptions) -> Result<Arc<dyn Venue>, KeyError> {
    crate::venues::no_protocol(Exchange::Bithumb, o)?;
    crate::venues::no_depth(Exchange::Bithumb, o, "full orderbook snapshots")?;
    Ok(Arc::new(BithumbVenue { feed: feed_of(o)? }))
}

impl Venue for BithumbVenue {
    fn exchange(&self) -> Exchange {
        Exchange::Bithumb
    }

    fn parse_instruments(
        &self,
        venue_name: &str,
        text: &str,
    ) -> Result<Vec<InstrumentDef>, String> {
        instruments::parse_tickers(text, venue_name)
    }

    fn handler(
        &self,
        ctx: &VenueCtx<'_>,
        counters: Arc<VenueCounters>,
    ) -> Result<Box<dyn VenueHandler>, String> {
        Ok(Box::new(BithumbHandler::new(
            ctx.id,
            self.feed,
            ctx.instrument_refs(),
            counters,
        )))
    }

    fn protocol(&self, ctx: &VenueCtx<'_>) -> Result<Box<dyn VenueProtocol>, String> {
        let symbols = ctx.symbols();
        let names: Vec<String> = symbols.iter().map(|(_, s)| s.clone()).collect();
        Ok(crate::venues::adapt(
            protocol::BithumbProtocol::new(self.feed, ctx.name(), &names),
            ctx,
            symbols,
            |_, _, _| Vec::new(),
        ))
    }
}

/// The other spelling of a Bithumb symbol: `BTC_KRW` ⇄ `KRW-BTC`.
pub fn alias(symbol: &str) -> String {
    if let Some((b, q)) = symbol.split_once('_') {
        format!("{q}-{b}")
    } else if let Some((q, b)) = symbol.split_once('-') {
        format!("{b}_{q}")
    } else {
        String::new()
    }
}

/// Trades and level changes one message may hold.
pub const MAX_ITEMS: usize = 256;

/// Market-data handler for one Bithumb venue.
pub struct BithumbHandler {
    venue: VenueId,
    feed: Feed,
    insts: Vec<Inst>,
    up_levels: upbit::wire::Levels,
    bufs: wire::Bufs,
    scratch: Vec<(Side, crate::book::Level)>,
    counters: Arc<VenueCounters>,
}

impl BithumbHandler {
    /// A handler for `instruments` (either spelling) on `feed`.
    pub fn new(
        venue: VenueId,
        feed: Feed,
        instruments: Vec<InstrumentRef>,
        counters: Arc<VenueCounters>,
    ) -> BithumbHandler {
        BithumbHandler {
            venue,
            feed,
            insts: instruments
                .into_iter()
                .map(|r| Inst {
                    alias: alias(&r.symbol),
                    r,
                    book: SnapshotBook::default(),
                })
                .collect(),
            up_levels: upbit::wire::Levels::with_capacity(upbit::MAX_UNITS),
            bufs: wire::Bufs::with_capacity(upbit::MAX_UNITS, MAX_ITEMS),
            scratch: Vec::with_capacity(MAX_ITEMS),
            counters,
        }
    }

    /// The feed generation.
    pub fn feed(&self) -> Feed {
        self.feed
    }

    fn on_legacy(&mut self, raw: &[u8], sink: &mut EventSink<'_>) {
        let c = &*self.counters;
        match wire::parse(raw, &Table(&self.insts), &mut self.bufs) {
            Ok(m) => match m.kind {
                wire::Kind::Snapshot => {
                    VenueCounters::inc(&c.depth_updates);
                    VenueCounters::inc(&c.snapshots);
                    let st = &mut self.insts[m.inst];
                    st.book
                        .replace(st.r.id, m.t_us, &self.bufs.bids, &self.bufs.asks, sink, c);
                }
                wire::Kind::Depth => {
                    VenueCounters::inc(&c.depth_updates);
                    book::apply_depth(
                        &mut self.insts,
                        &self.bufs.items,
                        m.t_us,
                        &mut self.scratch,
                        sink,
                        c,
                    );
                }
                wire::Kind::Transaction => {
                    for it in &self.bufs.items {
                        VenueCounters::inc(&c.trades);
                        sink.trade(
                            self.insts[it.inst].r.id,
                            it.t_us,
                            it.lvl.px,
                            it.lvl.qty,
                            it.side,
                        );
                    }
                }
                wire::Kind::Ticker | wire::Kind::Status | wire::Kind::Error | wire::Kind::Other => {
                    VenueCounters::inc(&c.unknown_messages)
                }
            },
            Err(wire::WireError::UnknownSymbol) => VenueCounters::inc(&c.unknown_messages),
            Err(_) => VenueCounters::inc(&c.parse_errors),
        }
    }
}

impl VenueHandler for BithumbHandler {
    fn venue(&self) -> VenueId {
        self.venue
    }

    fn counters(&self) -> &Arc<VenueCounters> {
        &self.counters
    }

    fn on_message(&mut self, raw: &[u8], _meta: &RawMeta, sink: &mut EventSink<'_>) {
        match self.feed {
            Feed::Legacy => self.on_legacy(raw, sink),
            Feed::V1 => {
                let parsed = upbit::wire::parse(raw, &Table(&self.insts), &mut self.up_levels);
                upbit::apply_parsed(
                    parsed,
                    &self.up_levels,
                    &mut self.insts,
                    sink,
                    &self.counters,
                );
            }
        }
    }

    fn on_disconnect(&mut self, sink: &mut EventSink<'_>) {
        for st in &mut self.insts {
            st.book.on_disconnect(st.r.id, sink);
        }
    }

    fn snapshot_wanted(&mut self, _out: &mut dyn FnMut(InstrumentId)) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{MdEvent, MdKind};
    use crate::venues::wire_util::Scale;

    fn handler(feed: Feed) -> BithumbHandler {
        let sc = Scale {
            price_dec: 8,
            qty_dec: 8,
        };
        BithumbHandler::new(
            VenueId(1),
            feed,
            vec![
                InstrumentRef {
                    id: InstrumentId(0),
                    symbol: "GOM2_KRW".into(),
                    scale: sc,
                },
                InstrumentRef {
                    id: InstrumentId(1),
                    symbol: "KRW-BTC".into(),
                    scale: sc,
                },
            ],
            Arc::new(VenueCounters::default()),
        )
    }

    fn feed(h: &mut BithumbHandler, msg: &str) -> Vec<MdEvent> {
        let mut v = vec![];
        let mut sink = EventSink::to_vec(&mut v);
        sink.begin(VenueId(1), &RawMeta::default(), 0);
        h.on_message(msg.as_bytes(), &RawMeta::default(), &mut sink);
        sink.end();
        v
    }

    #[test]
    fn aliases() {
        assert_eq!(alias("BTC_KRW"), "KRW-BTC");
        assert_eq!(alias("KRW-BTC"), "BTC_KRW");
        assert_eq!(alias("BTCKRW"), "");
    }

    // the real recording's last message: four trades in one frame
    const TX: &str = r#"{"type":"transaction","content":{"list":[{"buySellGb":"2","contPrice":"7.524","contQty":"76999.569","contAmt":"579344.757","contDtm":"2021-06-02 08:43:42.240601","updn":"up","symbol":"GOM2_KRW"},{"buySellGb":"2","contPrice":"7.525","contQty":"537","contAmt":"4040.925","contDtm":"2021-06-02 08:43:42.241208","updn":"up","symbol":"GOM2_KRW"},{"buySellGb":"2","contPrice":"7.525","contQty":"524","contAmt":"3943.100","contDtm":"2021-06-02 08:43:42.241810","updn":"dn","symbol":"GOM2_KRW"},{"buySellGb":"1","contPrice":"7.525","contQty":"556","contAmt":"4183.900","contDtm":"2021-06-02 08:43:43.188333","updn":"dn","symbol":"GOM2_KRW"}]}}"#;

    #[test]
    fn legacy_transactions_become_trades() {
        let mut h = handler(Feed::Legacy);
        let ev = feed(&mut h, TX);
        assert_eq!(ev.len(), 4);
        assert!(ev
            .iter()
            .all(|e| e.kind == MdKind::Trade && e.instrument == InstrumentId(0)));
        assert_eq!(
            ev.iter().map(|e| e.side).collect::<Vec<_>>(),
            vec![Side::Buy, Side::Buy, Side::Buy, Side::Sell]
        );
        assert_eq!((ev[1].p0, ev[1].q0), (752_500_000, 53_700_000_000));
        assert_eq!(ev[3].venue_seq, 1_622_591_023_188_333);
        assert!(ev[3].is_last() && !ev[2].is_last());
        assert_eq!(
            feed(
                &mut h,
                r#"{"status":"0000","resmsg":"Filter Registered Successfully"}"#
            )[0]
            .kind,
            MdKind::Noop
        );
        assert_eq!(VenueCounters::get(&h.counters.trades), 4);
        assert_eq!(VenueCounters::get(&h.counters.unknown_messages), 1);
    }

    #[test]
    fn legacy_snapshot_then_depth_changes() {
        let mut h = handler(Feed::Legacy);
        // depth before any snapshot: nothing to apply it to
        let depth = r#"{"type":"orderbookdepth","content":{"list":[{"symbol":"BTC_KRW","orderType":"bid","price":"10572000","quantity":"0","total":"0"},{"symbol":"BTC_KRW","orderType":"ask","price":"10593000","quantity":"2","total":"1"}],"datetime":"1580268255864326"}}"#;
        assert_eq!(feed(&mut h, depth)[0].kind, MdKind::Noop);
        let snap = r#"{"type":"orderbooksnapshot","content":{"symbol":"BTC_KRW","datetime":"1580268255864325","asks":[["10593000","1.11223318"],["10596000","0.5495"]],"bids":[["10572000","2.3324"],["10571000","1.469"]]}}"#;
        let ev = feed(&mut h, snap);
        assert_eq!(ev.iter().filter(|e| e.kind == MdKind::BookLevel).count(), 4);
        assert_eq!(ev.last().unwrap().kind, MdKind::BookCommit);
        assert_eq!(
            ev.last().unwrap().instrument,
            InstrumentId(1),
            "KRW-BTC configured, BTC_KRW on the wire"
        );
        let ev = feed(&mut h, depth);
        let k: Vec<MdKind> = ev.iter().map(|e| e.kind).collect();
        assert_eq!(
            k,
            vec![MdKind::BookLevel, MdKind::BookLevel, MdKind::BookCommit]
        );
        assert_eq!(
            (ev[0].p0, ev[0].q0, ev[0].side),
            (1_057_200_000_000_000, 0, Side::Buy)
        );
        assert_eq!(ev[2].venue_seq, 1580268255864326);
    }

    #[test]
    fn v1_feed_is_upbit_format() {
        let mut h = handler(Feed::V1);
        let ev = feed(
            &mut h,
            r#"{"type":"orderbook","code":"KRW-BTC","timestamp":1746601573804,"total_ask_size":4.79,"total_bid_size":2.65,"orderbook_units":[{"ask_price":137002000,"bid_price":137001000,"ask_size":0.106,"bid_size":0.037}],"stream_type":"REALTIME","level":0}"#,
        );
        assert_eq!(ev.iter().filter(|e| e.kind == MdKind::BookLevel).count(), 2);
        assert_eq!(ev.last().unwrap().venue_seq, 1746601573804);
        // a legacy message on the v1 feed is well-formed JSON of no known type: unused
        feed(&mut h, TX);
        assert_eq!(VenueCounters::get(&h.counters.unknown_messages), 1);
        assert_eq!(VenueCounters::get(&h.counters.trades), 0);
    }

    #[test]
    fn malformed_legacy_variants_are_counted_never_panic() {
        let mut h = handler(Feed::Legacy);
        let cases = [
            TX[..TX.len() - 3].to_string(),
            TX.replace("\"contQty\":\"537\",", ""),
            TX.replace("7.525", "seven"),
            TX.replace("\"list\":[", "\"list\":{").replace("]}}", "}}}"),
            r#"{"type":"orderbooksnapshot","content":{"symbol":"BTC_KRW","datetime":"x","asks":[],"bids":[]}}"#.into(),
            r#"{"type":"orderbookdepth","content":{"list":[]}}"#.into(),
            "\u{0}".into(),
        ];
        for (i, c) in cases.iter().enumerate() {
            let ev = feed(&mut h, c);
            assert_eq!((ev.len(), ev[0].kind), (1, MdKind::Noop), "case {i}");
        }
        assert_eq!(
            VenueCounters::get(&h.counters.parse_errors),
            cases.len() as u64
        );
    }
}
