//! KuCoin spot: level-2 diffs synchronised against the REST snapshot `sequence`, ticker,
//! matches. Symbols `BTC-USDT`.
//!
//! Files: [`wire`] (formats, real samples, doc links), [`book`] (the calibration rules),
//! [`instruments`] (specs from `GET /api/v1/symbols`), [`protocol`] (bullet token, URL,
//! subscriptions, `{"type":"ping"}` every `pingInterval`). No `orders.rs` yet.
//!
//! The `trade.ticker` channel is throttled (at most every 100 ms) and so lags the diffs: it is
//! parsed and validated but not used as the top of book (counted in `unknown_messages`);
//! `verify-book` compares it with the rebuilt book where the sequences match.
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

/// Buffer sizes of a KuCoin handler: levels per side of a REST snapshot (the full book:
/// thousands on busy symbols), changes in one diff message, and what is buffered per
/// instrument while waiting for a snapshot.
pub const LIMITS: Limits = Limits::per_message(20_000, 0).buffering(4096, 4096, 16_384);

/// KuCoin's wire format and handler rules (the [`WireFormat`] of [`KucoinHandler`]); symbols
/// `BTC-USDT`, in any case.
pub struct Kucoin {
    book: Buffers,
    limits: Limits,
    /// Price-"0" (sequence-only) change entries skipped so far.
    pub zero_price_entries: u64,
    /// Book sizes truncated to the instrument's decimals so far ([`wire::size_floor`]).
    pub truncated_sizes: u64,
}

impl Kucoin {
    /// Buffers for what `limits` allows in one message and per book.
    pub fn new(limits: &Limits) -> Kucoin {
        Kucoin {
            book: Buffers::new(limits),
            limits: *limits,
            zero_price_entries: 0,
            truncated_sizes: 0,
        }
    }
}

/// Market-data handler for one KuCoin spot venue.
pub type KucoinHandler = Handler<Kucoin>;

impl WireFormat for Kucoin {
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
        let m = wire::parse(raw, &st.symbols, &mut self.book)?;
        let (c, id) = (&*st.counters, st.symbols.get(m.inst).id);
        match m.kind {
            Kind::L2Update => {
                VenueCounters::inc(&c.depth_updates);
                self.zero_price_entries += m.zero_price_entries as u64;
                self.truncated_sizes += m.truncated_sizes as u64;
                let r = Range::new(m.seq_start, m.seq);
                st.books[m.inst].on_diff(id, r, &self.book.changes, sink, c);
            }
            Kind::Match => {
                VenueCounters::inc(&c.trades);
                let side = if m.taker_buy { Side::Buy } else { Side::Sell };
                sink.trade(id, m.seq, Price(m.px), Qty(m.qty), side);
            }
            Kind::Ticker | Kind::Control | Kind::Error | Kind::Other => {
                return Err(WireError::Unknown)
            }
        }
        Ok(())
    }

    /// The snapshot body does not name its symbol: the fetcher tags it.
    fn on_snapshot(
        &mut self,
        raw: &[u8],
        k: Option<usize>,
        cx: Ctx<'_, '_, SeqSync>,
    ) -> Result<(), WireError> {
        let cut = &mut self.truncated_sizes;
        rest_snapshot(k, cx, &mut self.book, |sc, book| {
            let (seq, n) = wire::parse_snapshot(raw, sc, book)?;
            *cut += n as u64;
            Ok(seq)
        })
    }
}

/// A configured KuCoin spot venue (one market, one protocol).
#[derive(Clone, Debug)]
pub struct KucoinVenue;

/// Resolve a `[venues.<name>]` section with `exchange = "kucoin"`: `market`, `protocol` and
/// `book_depth` are not used.
pub fn configure(o: &VenueOptions) -> Result<Arc<dyn Venue>, KeyError> {
    crate::venues::no_market(Exchange::Kucoin, o)?;
    crate::venues::no_protocol(Exchange::Kucoin, o)?;
    crate::venues::no_depth(Exchange::Kucoin, o, "level2 diffs over a REST snapshot")?;
    Ok(Arc::new(KucoinVenue))
}

impl Venue for KucoinVenue {
    fn sign_request(
        &self,
        creds: &crate::venues::Credentials,
        r: &crate::venues::SignRequest,
    ) -> Result<Vec<u8>, String> {
        orders::sign_request(creds, r)
    }

    fn exchange(&self) -> Exchange {
        Exchange::Kucoin
    }

    fn parse_instruments(
        &self,
        venue_name: &str,
        text: &str,
    ) -> Result<Vec<InstrumentDef>, String> {
        instruments::parse_symbols(text, venue_name)
    }

    fn handler(
        &self,
        ctx: &VenueCtx<'_>,
        counters: Arc<VenueCounters>,
    ) -> Result<Box<dyn VenueHandler>, String> {
        Ok(Box::new(KucoinHandler::new(
            ctx.id,
            ctx.instrument_refs(),
            Kucoin::new(&LIMITS),
            counters,
        )))
    }

    fn protocol(&self, ctx: &VenueCtx<'_>) -> Result<Box<dyn VenueProtocol>, String> {
        let symbols = ctx.symbols();
        Ok(crate::venues::adapt(
            protocol::KucoinProtocol::new(ctx.name(), symbols.clone()),
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

    fn handler() -> KucoinHandler {
        KucoinHandler::new(
            VenueId(3),
            vec![iref(10, "BCHSV-USDT", 10, 8), iref(11, "SNX-BTC", 10, 8)],
            Kucoin::new(&LIMITS),
            Arc::new(VenueCounters::default()),
        )
    }

    fn feed(h: &mut KucoinHandler, msg: &str, snapshot_of: Option<u16>) -> Vec<MdEvent> {
        let t = match snapshot_of {
            Some(i) => tag::make(3, true, i as u32),
            None => tag::make(3, false, tag::NO_INSTRUMENT),
        };
        feed_tagged(h, msg, t)
    }

    fn diff(start: u64, end: u64, asks: &str) -> String {
        format!(
            r#"{{"data":{{"sequenceStart":{start},"symbol":"BCHSV-USDT","changes":{{"asks":{asks},"bids":[]}},"sequenceEnd":{end}}},"subject":"trade.l2update","topic":"/market/level2:BCHSV-USDT","type":"message"}}"#
        )
    }

    #[test]
    fn buffered_diffs_calibrate_against_the_rest_snapshot() {
        let mut h = handler();
        // the real sequence: diffs 874..876 arrive before the snapshot at 892 (KUCOIN.ws.1.0)
        let d874 = diff(
            1613277183874,
            1613277183874,
            r#"[["0","0","1613277183874"]]"#,
        );
        let d875 = diff(
            1613277183875,
            1613277183875,
            r#"[["244.351","150","1613277183875"]]"#,
        );
        for d in [&d874, &d875] {
            assert_eq!(feed(&mut h, d, None)[0].kind, MdKind::Noop, "buffered");
        }
        // a diff straddling the snapshot id: only its change above 892 may be applied
        let straddle = diff(
            1613277183876,
            1613277183894,
            r#"[["242.951","1","1613277183880"],["242.952","2","1613277183894"]]"#,
        );
        feed(&mut h, &straddle, None);
        let snap = r#"{"code":"200000","data":{"time":1619378326628,"sequence":"1613277183892","bids":[["242.649","5"],["242.646","0.68148185"]],"asks":[["242.951","4.51280965"]]}}"#;
        let ev = feed(&mut h, snap, Some(10));
        let k: Vec<MdKind> = ev.iter().map(|e| e.kind).collect();
        // clear, 3 snapshot levels, the one buffered change above 892, commit at 894
        assert_eq!(
            k,
            vec![
                MdKind::BookClear,
                MdKind::BookLevel,
                MdKind::BookLevel,
                MdKind::BookLevel,
                MdKind::BookLevel,
                MdKind::BookCommit
            ]
        );
        assert_eq!((ev[4].p0, ev[4].q0), (2_429_520_000_000, 200_000_000));
        assert_eq!(ev.last().unwrap().venue_seq, 1613277183894);
        assert_eq!(h.book(0).and_then(|b| b.book_id()), Some(1613277183894));
        assert_eq!(h.wire().zero_price_entries, 1);
        assert_eq!(VenueCounters::get(&h.counters().gaps), 0);
        // the next diff continues; a jump is a gap → invalid + snapshot request
        assert_eq!(
            feed(&mut h, &diff(1613277183895, 1613277183895, "[]"), None)
                .last()
                .unwrap()
                .kind,
            MdKind::BookCommit
        );
        let ev = feed(&mut h, &diff(1613277183897, 1613277183897, "[]"), None);
        assert_eq!(ev[0].kind, MdKind::BookInvalid);
        assert_eq!(VenueCounters::get(&h.counters().gaps), 1);
        let mut wanted = vec![];
        h.snapshot_wanted(&mut |i| wanted.push(i));
        assert!(wanted.contains(&InstrumentId(10)));
    }

    #[test]
    fn match_is_a_trade_ticker_is_not_the_top() {
        let mut h = handler();
        let ev = feed(
            &mut h,
            r#"{"data":{"symbol":"SNX-BTC","sequence":"1612844051660","side":"sell","size":"1.5","price":"0.00028678","takerOrderId":"a","time":"1619378327739050725","type":"match","makerOrderId":"b","tradeId":"c"},"subject":"trade.l3match","topic":"/market/match:SNX-BTC","type":"message"}"#,
            None,
        );
        assert_eq!(
            (ev[0].kind, ev[0].side, ev[0].p0, ev[0].venue_seq),
            (MdKind::Trade, Side::Sell, 2_867_800, 1612844051660)
        );
        let ev = feed(
            &mut h,
            r#"{"data":{"sequence":"1612844051653","bestAsk":"0.00028717","size":"0.01745248","bestBidSize":"3.70422021","price":"0.00028676","time":1619378326323,"bestAskSize":"14.04274325","bestBid":"0.00028678"},"subject":"trade.ticker","topic":"/market/ticker:SNX-BTC","type":"message"}"#,
            None,
        );
        assert_eq!(ev[0].kind, MdKind::Noop);
        assert_eq!(VenueCounters::get(&h.counters().unknown_messages), 1);
        assert_eq!(VenueCounters::get(&h.counters().parse_errors), 0);
    }

    #[test]
    fn malformed_variants_are_counted_never_panic() {
        let mut h = handler();
        let d = diff(5, 5, r#"[["1.5","2","5"]]"#);
        let cases = [
            d[..d.len() - 10].to_string(),
            d.replace("\"sequenceStart\":5,", ""),
            d.replace("\"1.5\"", "\"1.5.5\""),
            d.replace("\"1.5\",\"2\",\"5\"", "\"1.5\",\"2\",\"x\""),
            "{\"type\":\"message\",\"subject\":\"trade.l2update\",\"topic\":\"/market/level2:BCHSV-USDT\"}".into(),
            "null".into(),
        ];
        assert_parse_errors(&mut h, &cases);
        // a snapshot nobody asked for (no instrument tag, two instruments) or a REST error
        feed(
            &mut h,
            r#"{"code":"200000","data":{"sequence":"1","bids":[],"asks":[]}}"#,
            None,
        );
        feed(
            &mut h,
            r#"{"code":"429000","msg":"Too Many Requests"}"#,
            Some(10),
        );
        assert_eq!(
            VenueCounters::get(&h.counters().parse_errors),
            cases.len() as u64 + 2
        );
        assert_eq!(VenueCounters::get(&h.counters().snapshots_rejected), 1);
    }
}
