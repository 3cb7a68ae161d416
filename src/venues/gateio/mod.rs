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
pub mod orders;
pub mod protocol;
pub mod wire;

use crate::feed::protocol::VenueProtocol;
use crate::feed::{VenueCounters, VenueHandler};
use crate::instrument::InstrumentDef;
use crate::types::{Price, Qty, Side};
use crate::venues::handler::{Ctx, Handler, WireFormat};
use crate::venues::seq_book::{rest_snapshot, Range, SeqSync};
use crate::venues::symbols::{InstrumentRef, SymbolTable};
use crate::venues::wire_util::{Buffers, Limits, WireError};
use crate::venues::{Exchange, KeyError, Venue, VenueCtx, VenueOptions};
use std::sync::Arc;
use wire::Kind;

/// Buffer sizes of a Gate.io handler: levels per side in one message (REST snapshots and
/// `full` books), changes in one diff, and what is buffered per instrument while waiting for a
/// snapshot.
pub const LIMITS: Limits = Limits::per_message(5000, 0).buffering(10_000, 1024, 16_384);

/// Gate.io's wire format and handler rules (the [`WireFormat`] of [`GateHandler`]); symbols
/// `BTC_USDT`, in any case.
pub struct Gate {
    bufs: Buffers,
    limits: Limits,
}

impl Gate {
    /// Buffers for what `limits` allows in one message and per book.
    pub fn new(limits: &Limits) -> Gate {
        let bufs = Buffers::new(limits);
        Gate {
            bufs,
            limits: *limits,
        }
    }
}

/// Market-data handler for one Gate.io spot venue.
pub type GateHandler = Handler<Gate>;

impl WireFormat for Gate {
    type Book = SeqSync;
    const REST_SNAPSHOTS: bool = true;

    fn symbols(&self, refs: Vec<InstrumentRef>) -> SymbolTable {
        SymbolTable::new(refs).case_insensitive()
    }

    fn new_book(&self) -> SeqSync {
        let l = &self.limits;
        SeqSync::new(book::RULE, l.max_buffered_diffs, l.max_buffered_levels)
    }

    fn on_message(&mut self, raw: &[u8], cx: Ctx<'_, '_, SeqSync>) -> Result<(), WireError> {
        let Ctx { st, sink } = cx;
        let m = wire::parse(raw, &st.symbols, &mut self.bufs)?;
        let (c, id) = (&*st.counters, st.symbols.get(m.inst).id);
        let (bids, asks) = (&self.bufs.bids, &self.bufs.asks);
        match m.kind {
            Kind::BookUpdate => {
                VenueCounters::inc(&c.depth_updates);
                let r = Range::new(m.first, m.last);
                st.books[m.inst].on_diff(id, r, &self.bufs.changes, sink, c);
            }
            Kind::BookFull => {
                VenueCounters::inc(&c.depth_updates);
                VenueCounters::inc(&c.snapshots);
                st.books[m.inst].on_snapshot(id, m.last, bids, asks, sink, c);
            }
            Kind::BookTicker => {
                VenueCounters::inc(&c.bbo_updates);
                let [bp, bq, ap, aq] = m.bbo;
                sink.bbo(id, m.last, (Price(bp), Qty(bq)), (Price(ap), Qty(aq)));
            }
            Kind::Trade => {
                VenueCounters::inc(&c.trades);
                let side = if m.taker_buy { Side::Buy } else { Side::Sell };
                sink.trade(id, m.last, Price(m.px), Qty(m.qty), side);
            }
            Kind::Control | Kind::Error | Kind::Other => return Err(WireError::Unknown),
        }
        Ok(())
    }

    /// The snapshot body does not name its pair: the fetcher tags it.
    fn on_snapshot(
        &mut self,
        raw: &[u8],
        k: Option<usize>,
        cx: Ctx<'_, '_, SeqSync>,
    ) -> Result<(), WireError> {
        rest_snapshot(k, cx, &mut self.bufs, |sc, b| {
            wire::parse_snapshot(raw, sc, b)
        })
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
    fn sign_request(
        &self,
        creds: &crate::venues::Credentials,
        r: &crate::venues::SignRequest,
    ) -> Result<Vec<u8>, String> {
        orders::sign_request(creds, r)
    }

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
            Gate::new(&LIMITS),
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
    use crate::feed::tag;
    use crate::types::InstrumentId;
    use crate::types::VenueId;
    use crate::venues::testing::iref;
    use crate::venues::testing::{assert_parse_errors, feed_tagged};

    fn handler() -> GateHandler {
        GateHandler::new(
            VenueId(4),
            vec![iref(20, "FAST_USDT", 10, 10)],
            Gate::new(&LIMITS),
            Arc::new(VenueCounters::default()),
        )
    }

    fn feed(h: &mut GateHandler, msg: &str, snapshot: bool) -> Vec<MdEvent> {
        let t = tag::make(4, snapshot, if snapshot { 20 } else { tag::NO_INSTRUMENT });
        feed_tagged(h, msg, t)
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
        assert_eq!(h.book(0).and_then(|b| b.book_id()), Some(1138120));
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
        assert_eq!(VenueCounters::get(&h.counters().gaps), 1);
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
        assert_eq!(h.book(0).and_then(|b| b.book_id()), Some(500));
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
        assert_parse_errors(&mut h, &cases);
        feed(&mut h, r#"{"label":"INVALID_KEY"}"#, true);
        assert_eq!(
            VenueCounters::get(&h.counters().parse_errors),
            cases.len() as u64 + 1
        );
        assert_eq!(VenueCounters::get(&h.counters().snapshots_rejected), 1);
        feed(
            &mut h,
            r#"{"time":1619093532,"channel":"spot.trades","event":"subscribe","result":{"status":"success"}}"#,
            false,
        );
        assert_eq!(VenueCounters::get(&h.counters().unknown_messages), 1);
    }
}
