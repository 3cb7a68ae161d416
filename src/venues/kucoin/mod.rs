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
use wire::{Book, Kind, SymbolTable, WireError};

/// Sizes of the handler's preallocated buffers.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Levels per side of a REST snapshot (the full book: thousands on busy symbols).
    pub max_snapshot_levels: usize,
    /// Changes in one diff message.
    pub max_changes_per_msg: usize,
    /// Diffs buffered per instrument while waiting for a snapshot.
    pub max_buffered_diffs: usize,
    /// Changes buffered per instrument while waiting for a snapshot.
    pub max_buffered_changes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_snapshot_levels: 20_000,
            max_changes_per_msg: 4096,
            max_buffered_diffs: 4096,
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

/// Market-data handler for one KuCoin spot venue.
pub struct KucoinHandler {
    venue: VenueId,
    insts: Vec<InstState>,
    book: Book,
    counters: Arc<VenueCounters>,
    /// Price-"0" (sequence-only) change entries skipped so far.
    pub zero_price_entries: u64,
    /// Book sizes truncated to the instrument's decimals so far ([`wire::size_floor`]).
    pub truncated_sizes: u64,
}

impl KucoinHandler {
    /// A handler for `instruments` (symbols `BTC-USDT`).
    pub fn new(
        venue: VenueId,
        instruments: Vec<InstrumentRef>,
        limits: Limits,
        counters: Arc<VenueCounters>,
    ) -> KucoinHandler {
        KucoinHandler {
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
            book: Book::with_capacity(limits.max_changes_per_msg, limits.max_snapshot_levels),
            counters,
            zero_price_entries: 0,
            truncated_sizes: 0,
        }
    }

    /// Sequence the book of handler instrument `k` is at, if synced.
    pub fn book_seq(&self, k: usize) -> Option<u64> {
        self.insts.get(k).and_then(|i| i.sync.book_id())
    }

    fn on_snapshot(&mut self, raw: &[u8], meta: &RawMeta, sink: &mut EventSink<'_>) {
        let c = &*self.counters;
        VenueCounters::inc(&c.snapshots);
        // the snapshot body does not name its symbol: the fetcher tags it
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
        match wire::parse_snapshot(raw, st.r.scale, &mut self.book) {
            Ok((seq, cut)) => {
                self.truncated_sizes += cut as u64;
                st.sync
                    .on_snapshot(st.r.id, seq, &self.book.bids, &self.book.asks, sink, c);
            }
            Err(_) => {
                VenueCounters::inc(&c.snapshots_rejected);
                VenueCounters::inc(&c.parse_errors);
            }
        }
    }
}

impl VenueHandler for KucoinHandler {
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
        match wire::parse(raw, &Table(&self.insts), &mut self.book) {
            Ok(m) => match m.kind {
                Kind::L2Update => {
                    VenueCounters::inc(&c.depth_updates);
                    self.zero_price_entries += m.zero_price_entries as u64;
                    self.truncated_sizes += m.truncated_sizes as u64;
                    let st = &mut self.insts[m.inst];
                    st.sync.on_diff(
                        st.r.id,
                        Range {
                            first: m.seq_start,
                            last: m.seq,
                        },
                        &self.book.changes,
                        sink,
                        c,
                    );
                }
                Kind::Match => {
                    VenueCounters::inc(&c.trades);
                    let side = if m.taker_buy { Side::Buy } else { Side::Sell };
                    sink.trade(self.insts[m.inst].r.id, m.seq, m.px, m.qty, side);
                }
                Kind::Ticker | Kind::Control | Kind::Error | Kind::Other => {
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
            Limits::default(),
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

    fn handler() -> KucoinHandler {
        KucoinHandler::new(
            VenueId(3),
            vec![
                InstrumentRef {
                    id: InstrumentId(10),
                    symbol: "BCHSV-USDT".into(),
                    scale: Scale {
                        price_dec: 10,
                        qty_dec: 8,
                    },
                },
                InstrumentRef {
                    id: InstrumentId(11),
                    symbol: "SNX-BTC".into(),
                    scale: Scale {
                        price_dec: 10,
                        qty_dec: 8,
                    },
                },
            ],
            Limits::default(),
            Arc::new(VenueCounters::default()),
        )
    }

    fn feed(h: &mut KucoinHandler, msg: &str, snapshot_of: Option<u16>) -> Vec<MdEvent> {
        let meta = RawMeta {
            tag: match snapshot_of {
                Some(i) => tag::make(3, true, i as u32),
                None => tag::make(3, false, tag::NO_INSTRUMENT),
            },
            ..RawMeta::default()
        };
        let mut v = vec![];
        let mut sink = EventSink::to_vec(&mut v);
        sink.begin(VenueId(3), &meta, 0);
        h.on_message(msg.as_bytes(), &meta, &mut sink);
        sink.end();
        v
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
        assert_eq!(h.book_seq(0), Some(1613277183894));
        assert_eq!(h.zero_price_entries, 1);
        assert_eq!(VenueCounters::get(&h.counters.gaps), 0);
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
        assert_eq!(VenueCounters::get(&h.counters.gaps), 1);
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
        assert_eq!(VenueCounters::get(&h.counters.unknown_messages), 1);
        assert_eq!(VenueCounters::get(&h.counters.parse_errors), 0);
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
        for (i, c) in cases.iter().enumerate() {
            let ev = feed(&mut h, c, None);
            assert_eq!((ev.len(), ev[0].kind), (1, MdKind::Noop), "case {i}");
        }
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
            VenueCounters::get(&h.counters.parse_errors),
            cases.len() as u64 + 2
        );
        assert_eq!(VenueCounters::get(&h.counters.snapshots_rejected), 1);
    }
}
