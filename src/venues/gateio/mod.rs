//! Gate.io spot (API v4): `spot.order_book_update` diffs synchronised against the REST snapshot
//! `id`, `spot.book_ticker` (best bid/offer, the top of book), `spot.trades`. Symbols `BTC_USDT`.
//!
//! Files: [`wire`] (formats, real samples, doc links), [`book`] (the `U`/`u` rules),
//! [`instruments`] (specs from `GET /api/v4/spot/currency_pairs`), [`protocol`] (URL,
//! subscriptions with `time`, keep-alive). No `orders.rs` yet. The faster `spot.obu`
//! ("order book v2") channel is not implemented.
#![forbid(unsafe_code)]

pub mod book;
pub mod instruments;
pub mod protocol;
pub mod wire;

pub use crate::venues::binance::InstrumentRef;

use crate::feed::protocol::VenueProtocol;
use crate::feed::{tag, EventSink, VenueCounters, VenueHandler};
use crate::instrument::InstrumentDef;
use crate::ring::RawMeta;
use crate::types::{InstrumentId, Side, VenueId};
use crate::venues::seq_book::{Range, SeqSync};
use crate::venues::wire_util::Scale;
use crate::venues::{Exchange, KeyError, Venue, VenueCtx, VenueOptions};
use std::sync::Arc;
use wire::{Bufs, Kind, SymbolTable, WireError};

/// Sizes of the handler's preallocated buffers.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Levels per side in one message (REST snapshots and `full` books).
    pub max_levels_per_msg: usize,
    /// Diffs buffered per instrument while waiting for a snapshot.
    pub max_buffered_diffs: usize,
    /// Changes buffered per instrument while waiting for a snapshot.
    pub max_buffered_changes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_levels_per_msg: 5000,
            max_buffered_diffs: 1024,
            max_buffered_changes: 16_384,
        }
    }
}

struct InstState {
    r: InstrumentRef,
    sync: SeqSync,
}

struct Table<'a>(&'a [InstState]);

impl SymbolTable for Table<'_> {
    fn find(&self, sym: &str) -> Option<(usize, Scale)> {
        self.0
            .iter()
            .position(|i| i.r.symbol == sym || i.r.symbol.eq_ignore_ascii_case(sym))
            .map(|k| (k, self.0[k].r.scale))
    }
}

/// Market-data handler for one Gate.io spot venue.
pub struct GateHandler {
    venue: VenueId,
    insts: Vec<InstState>,
    bufs: Bufs,
    counters: Arc<VenueCounters>,
}

impl GateHandler {
    /// A handler for `instruments` (symbols `BTC_USDT`).
    pub fn new(
        venue: VenueId,
        instruments: Vec<InstrumentRef>,
        limits: Limits,
        counters: Arc<VenueCounters>,
    ) -> GateHandler {
        GateHandler {
            venue,
            insts: instruments
                .into_iter()
                .map(|r| InstState {
                    r,
                    sync: SeqSync::new(
                        book::RULE,
                        limits.max_buffered_diffs,
                        limits.max_buffered_changes,
                    ),
                })
                .collect(),
            bufs: Bufs::with_capacity(limits.max_levels_per_msg),
            counters,
        }
    }

    /// Update id the book of handler instrument `k` is at, if synced.
    pub fn book_id(&self, k: usize) -> Option<u64> {
        self.insts.get(k).and_then(|i| i.sync.book_id())
    }

    fn on_snapshot(&mut self, raw: &[u8], meta: &RawMeta, sink: &mut EventSink<'_>) {
        let c = &*self.counters;
        VenueCounters::inc(&c.snapshots);
        let k = match tag::instrument(meta.tag) {
            Some(id) => self.insts.iter().position(|i| i.r.id.0 == id),
            None if self.insts.len() == 1 => Some(0),
            None => None,
        };
        let Some(k) = k else {
            VenueCounters::inc(&c.snapshots_rejected);
            VenueCounters::inc(&c.parse_errors);
            return;
        };
        let st = &mut self.insts[k];
        match wire::parse_snapshot(raw, st.r.scale, &mut self.bufs) {
            Ok(id) => {
                st.sync
                    .on_snapshot(st.r.id, id, &self.bufs.bids, &self.bufs.asks, sink, c);
            }
            Err(_) => {
                VenueCounters::inc(&c.snapshots_rejected);
                VenueCounters::inc(&c.parse_errors);
            }
        }
    }
}

impl VenueHandler for GateHandler {
    fn venue(&self) -> VenueId {
        self.venue
    }

    fn counters(&self) -> &Arc<VenueCounters> {
        &self.counters
    }

    fn on_message(&mut self, raw: &[u8], meta: &RawMeta, sink: &mut EventSink<'_>) {
        if tag::is_snapshot(meta.tag) {
            return self.on_snapshot(raw, meta, sink);
        }
        let c = &*self.counters;
        match wire::parse(raw, &Table(&self.insts), &mut self.bufs) {
            Ok(m) => match m.kind {
                Kind::BookUpdate => {
                    VenueCounters::inc(&c.depth_updates);
                    let st = &mut self.insts[m.inst];
                    st.sync.on_diff(
                        st.r.id,
                        Range {
                            first: m.first,
                            last: m.last,
                        },
                        &self.bufs.changes,
                        sink,
                        c,
                    );
                }
                Kind::BookFull => {
                    VenueCounters::inc(&c.depth_updates);
                    VenueCounters::inc(&c.snapshots);
                    let st = &mut self.insts[m.inst];
                    st.sync
                        .on_snapshot(st.r.id, m.last, &self.bufs.bids, &self.bufs.asks, sink, c);
                }
                Kind::BookTicker => {
                    VenueCounters::inc(&c.bbo_updates);
                    let [bp, bq, ap, aq] = m.bbo;
                    sink.bbo(self.insts[m.inst].r.id, m.last, (bp, bq), (ap, aq));
                }
                Kind::Trade => {
                    VenueCounters::inc(&c.trades);
                    let side = if m.taker_buy { Side::Buy } else { Side::Sell };
                    sink.trade(self.insts[m.inst].r.id, m.last, m.px, m.qty, side);
                }
                Kind::Control | Kind::Error | Kind::Other => {
                    VenueCounters::inc(&c.unknown_messages)
                }
            },
            Err(WireError::UnknownSymbol) => VenueCounters::inc(&c.unknown_messages),
            Err(_) => VenueCounters::inc(&c.parse_errors),
        }
    }

    fn on_disconnect(&mut self, sink: &mut EventSink<'_>) {
        for st in &mut self.insts {
            st.sync.on_disconnect(st.r.id, sink);
        }
    }

    fn snapshot_wanted(&mut self, out: &mut dyn FnMut(InstrumentId)) {
        for st in &mut self.insts {
            if st.sync.take_snapshot_request() {
                out(st.r.id);
            }
        }
    }
}

/// A configured Gate.io spot (API v4) venue (one market, one protocol).
#[derive(Clone, Debug)]
pub struct GateVenue;

/// Resolve a `[venues.<name>]` section with `exchange = "gateio"`: `market`, `protocol` and
/// `book_depth` are not used.
pub fn configure(o: &VenueOptions) -> Result<Arc<dyn Venue>, KeyError> {
    crate::venues::no_market(Exchange::Gateio, o)?;
    crate::venues::no_protocol(Exchange::Gateio, o)?;
    crate::venues::no_depth(
        Exchange::Gateio,
        o,
        "order_book_update diffs over a REST snapshot",
    )?;
    Ok(Arc::new(GateVenue))
}

impl Venue for GateVenue {
    fn exchange(&self) -> Exchange {
        Exchange::Gateio
    }

    fn parse_instruments(
        &self,
        venue_name: &str,
        text: &str,
    ) -> Result<Vec<InstrumentDef>, String> {
        instruments::parse_currency_pairs(text, venue_name)
    }

    fn handler(
        &self,
        ctx: &VenueCtx<'_>,
        counters: Arc<VenueCounters>,
    ) -> Result<Box<dyn VenueHandler>, String> {
        Ok(Box::new(GateHandler::new(
            ctx.id,
            ctx.instrument_refs(),
            Limits::default(),
            counters,
        )))
    }

    fn protocol(&self, ctx: &VenueCtx<'_>) -> Result<Box<dyn VenueProtocol>, String> {
        let symbols = ctx.symbols();
        Ok(crate::venues::adapt(
            protocol::GateProtocol::new(symbols.clone()),
            ctx,
            symbols,
            |_, _, _| Vec::new(),
        ))
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{MdEvent, MdKind};

    fn handler() -> GateHandler {
        GateHandler::new(
            VenueId(4),
            vec![InstrumentRef {
                id: InstrumentId(20),
                symbol: "FAST_USDT".into(),
                scale: Scale {
                    price_dec: 10,
                    qty_dec: 10,
                },
            }],
            Limits::default(),
            Arc::new(VenueCounters::default()),
        )
    }

    fn feed(h: &mut GateHandler, msg: &str, snapshot: bool) -> Vec<MdEvent> {
        let meta = RawMeta {
            tag: tag::make(4, snapshot, if snapshot { 20 } else { tag::NO_INSTRUMENT }),
            ..RawMeta::default()
        };
        let mut v = vec![];
        let mut sink = EventSink::to_vec(&mut v);
        sink.begin(VenueId(4), &meta, 0);
        h.on_message(msg.as_bytes(), &meta, &mut sink);
        sink.end();
        v
    }

    fn upd(first: u64, last: u64) -> String {
        format!(
            r#"{{"time":1619093533,"channel":"spot.order_book_update","event":"update","result":{{"t":1619093533020,"e":"depthUpdate","E":1619093533,"s":"FAST_USDT","U":{first},"u":{last},"b":[["10.28","36.50154112"],["10.23","0"]],"a":[["10.33","0.2411"]]}}}}"#
        )
    }

    #[test]
    fn rest_snapshot_bridges_buffered_updates_then_exact_chain() {
        let mut h = handler();
        // the real first update of FAST_USDT spans 1130669..1138115
        feed(&mut h, &upd(1130669, 1138115), false);
        feed(&mut h, &upd(1138116, 1138120), false);
        let ev = feed(
            &mut h,
            r#"{"id":1138110,"current":1619093533100,"update":1619093533000,"asks":[["10.33","1"]],"bids":[["10.28","2"]]}"#,
            true,
        );
        assert_eq!(ev[0].kind, MdKind::BookClear);
        assert_eq!(ev.last().unwrap().venue_seq, 1138120);
        assert_eq!(h.book_id(0), Some(1138120));
        assert_eq!(
            feed(&mut h, &upd(1138121, 1138121), false)
                .last()
                .unwrap()
                .kind,
            MdKind::BookCommit
        );
        assert_eq!(
            feed(&mut h, &upd(1138121, 1138125), false)[0].kind,
            MdKind::BookInvalid,
            "U must be prev_u + 1"
        );
        assert_eq!(VenueCounters::get(&h.counters.gaps), 1);
        let mut wanted = vec![];
        h.snapshot_wanted(&mut |i| wanted.push(i));
        assert_eq!(wanted, vec![InstrumentId(20)]);
    }

    #[test]
    fn full_update_replaces_the_book_and_book_ticker_is_the_bbo() {
        let mut h = handler();
        let ev = feed(
            &mut h,
            r#"{"time":1,"channel":"spot.order_book_update","event":"update","result":{"t":1,"full":true,"s":"FAST_USDT","U":1,"u":500,"b":[["10.28","2"]],"a":[["10.33","3"]]}}"#,
            false,
        );
        assert_eq!(ev[0].kind, MdKind::BookClear);
        assert_eq!(h.book_id(0), Some(500));
        assert_eq!(
            feed(&mut h, &upd(501, 502), false).last().unwrap().kind,
            MdKind::BookCommit
        );
        let ev = feed(
            &mut h,
            r#"{"time":1,"channel":"spot.book_ticker","event":"update","result":{"t":1,"u":502,"s":"FAST_USDT","b":"10.28","B":"36.50154112","a":"10.33","A":"0.2411"}}"#,
            false,
        );
        assert_eq!(
            (ev[0].kind, ev[0].venue_seq, ev[0].p0, ev[0].p1),
            (MdKind::Bbo, 502, 102_800_000_000, 103_300_000_000)
        );
    }

    #[test]
    fn malformed_variants_are_counted_never_panic() {
        let mut h = handler();
        let u = upd(1, 2);
        let cases = [
            u[..u.len() - 5].to_string(),
            u.replace("\"10.28\"", "10.28x"),
            u.replace("\"10.33\",\"0.2411\"", "\"10.33\""),
            u.replace("\"u\":2", "\"u\":\"two\""),
            "[]".to_string(),
        ];
        for (i, c) in cases.iter().enumerate() {
            let ev = feed(&mut h, c, false);
            assert_eq!((ev.len(), ev[0].kind), (1, MdKind::Noop), "case {i}");
        }
        feed(&mut h, r#"{"label":"INVALID_KEY"}"#, true);
        assert_eq!(
            VenueCounters::get(&h.counters.parse_errors),
            cases.len() as u64 + 1
        );
        assert_eq!(VenueCounters::get(&h.counters.snapshots_rejected), 1);
        feed(
            &mut h,
            r#"{"time":1619093532,"channel":"spot.trades","event":"subscribe","result":{"status":"success"}}"#,
            false,
        );
        assert_eq!(VenueCounters::get(&h.counters.unknown_messages), 1);
    }
}
