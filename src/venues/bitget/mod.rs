//! Bitget spot: `books` (snapshot + updates with CRC32 checksum, v2 `seq`) and `trade`, on the
//! v2 public socket (today's) or the v1 spot socket (the recording's; same messages but
//! `instType: "sp"`, no `seq`, trades as arrays). Symbols `BTCUSDT` (v1 REST `BTCUSDT_SPBL` is
//! accepted too).
//!
//! Files: [`wire`] (formats, real samples, doc links), [`book`] (snapshot/update/seq rules;
//! the checksum itself is [`crate::venues::checksum`]'s `Top25Interleaved`, checked on the
//! detection side), [`instruments`] (specs from v1 `products` / v2 `symbols`), [`protocol`]
//! (URL, subscriptions, text `ping` every 30 s, 24 h rotation). No `orders.rs` yet.
//!
//! The `ticker` channel has no sizes in v1 and is throttled in v2: parsed as "other", not used
//! as the top of book.
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
use crate::venues::wire_util::Scale;
use crate::venues::{Exchange, KeyError, Venue, VenueCtx, VenueOptions};
use book::ChecksumBook;
use std::sync::Arc;
use wire::{Bufs, Kind, SymbolTable, WireError};

/// Levels per side one message may hold (v2 `books` snapshots are full depth).
pub const MAX_LEVELS: usize = 5000;
/// Trades one message may hold.
pub const MAX_TRADES: usize = 1024;

/// The WebSocket `instId` of a configured symbol (`BTCUSDT_SPBL` → `BTCUSDT`).
pub fn ws_inst_id(symbol: &str) -> &str {
    symbol.strip_suffix("_SPBL").unwrap_or(symbol)
}

struct InstState {
    r: InstrumentRef,
    book: ChecksumBook,
}

struct Table<'a>(&'a [InstState]);

impl SymbolTable for Table<'_> {
    fn find(&self, inst_id: &str) -> Option<(usize, Scale)> {
        self.0
            .iter()
            .position(|i| ws_inst_id(&i.r.symbol).eq_ignore_ascii_case(inst_id))
            .map(|k| (k, self.0[k].r.scale))
    }
}

/// Market-data handler for one Bitget spot venue.
pub struct BitgetHandler {
    venue: VenueId,
    insts: Vec<InstState>,
    bufs: Bufs,
    counters: Arc<VenueCounters>,
}

impl BitgetHandler {
    /// A handler for `instruments`.
    pub fn new(
        venue: VenueId,
        instruments: Vec<InstrumentRef>,
        counters: Arc<VenueCounters>,
    ) -> BitgetHandler {
        BitgetHandler {
            venue,
            insts: instruments
                .into_iter()
                .map(|r| InstState {
                    r,
                    book: ChecksumBook::default(),
                })
                .collect(),
            bufs: Bufs::with_capacity(MAX_LEVELS, MAX_TRADES),
            counters,
        }
    }

    /// True while handler instrument `k` holds a snapshot without a gap since.
    pub fn synced(&self, k: usize) -> bool {
        self.insts.get(k).is_some_and(|i| i.book.synced())
    }
}

impl VenueHandler for BitgetHandler {
    fn venue(&self) -> VenueId {
        self.venue
    }

    fn counters(&self) -> &Arc<VenueCounters> {
        &self.counters
    }

    fn on_message(&mut self, raw: &[u8], _meta: &RawMeta, sink: &mut EventSink<'_>) {
        let c = &*self.counters;
        match wire::parse(raw, &Table(&self.insts), &mut self.bufs) {
            Ok(m) => {
                let b = &self.bufs;
                match m.kind {
                    Kind::BookSnapshot => {
                        VenueCounters::inc(&c.snapshots);
                        VenueCounters::inc(&c.depth_updates);
                        let st = &mut self.insts[m.inst];
                        st.book.snapshot(
                            st.r.id, m.seq, m.ts_ms, m.checksum, &b.bids, &b.asks, sink, c,
                        );
                    }
                    Kind::BookUpdate => {
                        VenueCounters::inc(&c.depth_updates);
                        let st = &mut self.insts[m.inst];
                        st.book.update(
                            st.r.id, m.seq, m.pseq, m.ts_ms, m.checksum, &b.bids, &b.asks, sink, c,
                        );
                    }
                    Kind::Trades => {
                        let id = self.insts[m.inst].r.id;
                        for t in &b.trades {
                            VenueCounters::inc(&c.trades);
                            let side = if t.taker_buy { Side::Buy } else { Side::Sell };
                            sink.trade(id, t.id, t.px, t.qty, side);
                        }
                    }
                    Kind::Control | Kind::Error | Kind::Other => {
                        VenueCounters::inc(&c.unknown_messages)
                    }
                }
            }
            Err(WireError::UnknownSymbol) => VenueCounters::inc(&c.unknown_messages),
            Err(_) => VenueCounters::inc(&c.parse_errors),
        }
    }

    fn on_disconnect(&mut self, sink: &mut EventSink<'_>) {
        for st in &mut self.insts {
            st.book.on_disconnect(st.r.id, sink);
        }
    }

    /// Instruments whose `books` channel must be resubscribed (Bitget has no REST sync: the
    /// snapshot comes with the subscription).
    fn snapshot_wanted(&mut self, out: &mut dyn FnMut(InstrumentId)) {
        for st in &mut self.insts {
            if st.book.take_snapshot_request() {
                out(st.r.id);
            }
        }
    }
}

/// A configured Bitget spot venue (one market, one protocol).
#[derive(Clone, Debug)]
pub struct BitgetVenue;

/// Resolve a `[venues.<name>]` section with `exchange = "bitget"`: `market`, `protocol` and
/// `book_depth` are not used.
pub fn configure(o: &VenueOptions) -> Result<Arc<dyn Venue>, KeyError> {
    crate::venues::no_market(Exchange::Bitget, o)?;
    crate::venues::no_protocol(Exchange::Bitget, o)?;
    crate::venues::no_depth(Exchange::Bitget, o, "`books` is the full checksummed book")?;
    Ok(Arc::new(BitgetVenue))
}

impl Venue for BitgetVenue {
    fn exchange(&self) -> Exchange {
        Exchange::Bitget
    }

    fn parse_instruments(
        &self,
        venue_name: &str,
        text: &str,
    ) -> Result<Vec<InstrumentDef>, String> {
        instruments::parse_products(text, venue_name)
    }

    fn handler(
        &self,
        ctx: &VenueCtx<'_>,
        counters: Arc<VenueCounters>,
    ) -> Result<Box<dyn VenueHandler>, String> {
        Ok(Box::new(BitgetHandler::new(
            ctx.id,
            ctx.instrument_refs(),
            counters,
        )))
    }

    fn protocol(&self, ctx: &VenueCtx<'_>) -> Result<Box<dyn VenueProtocol>, String> {
        let symbols = ctx.symbols();
        Ok(crate::venues::adapt(
            protocol::BitgetProtocol::new(symbols.clone()),
            ctx,
            symbols,
            |p, _, i| p.resubscribe_frames(i),
        ))
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::ChecksumKind;
    use crate::detect::Market;
    use crate::event::{MdEvent, MdKind};
    use crate::instrument::{InstrumentKind, InstrumentSpec};
    use crate::types::{Amount, Price, Qty};

    fn spec() -> InstrumentSpec {
        InstrumentSpec {
            id: InstrumentId(0),
            venue: VenueId(0),
            venue_name: "bitget".into(),
            symbol: "CULTUSDT_SPBL".into(),
            base: "CULT".into(),
            quote: "USDT".into(),
            kind: InstrumentKind::Spot,
            price_dec: 8,
            qty_dec: 0,
            tick_size: Price(1),
            lot_size: Qty(1),
            min_qty: Qty(1),
            max_qty: Qty(i64::MAX),
            min_notional: Amount(0),
            contract_size: Amount(100_000_000),
        }
    }

    fn handler() -> BitgetHandler {
        BitgetHandler::new(
            VenueId(0),
            vec![InstrumentRef {
                id: InstrumentId(0),
                symbol: "CULTUSDT_SPBL".into(),
                scale: Scale {
                    price_dec: 8,
                    qty_dec: 0,
                },
            }],
            Arc::new(VenueCounters::default()),
        )
    }

    fn feed(h: &mut BitgetHandler, m: &mut Market, msg: &str) -> Vec<MdEvent> {
        let mut v = vec![];
        let mut sink = EventSink::to_vec(&mut v);
        sink.begin(VenueId(0), &RawMeta::default(), 0);
        h.on_message(msg.as_bytes(), &RawMeta::default(), &mut sink);
        sink.end();
        for e in &v {
            m.apply(e, &mut |_| {});
        }
        v
    }

    /// The first two `books` messages of CULTUSDT in BITGET.ws.1.0, verbatim: the checksums
    /// are Bitget's, checked against the book this code rebuilds.
    fn real_messages() -> (String, String) {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/data/recorded/BITGET.ws.1.0"
        );
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut it = text
            .lines()
            .filter(|l| {
                l.contains(r#""channel":"books","instId":"CULTUSDT"}"#) && l.contains("\"action\"")
            })
            .map(|l| l.split_once(": ").unwrap().1.to_string());
        (it.next().unwrap(), it.next().unwrap())
    }

    #[test]
    fn real_snapshot_and_update_pass_the_checksum() {
        let (snap, upd) = real_messages();
        assert!(
            snap.starts_with(r#"{"action":"snapshot""#) && upd.starts_with(r#"{"action":"update""#)
        );
        let mut h = handler();
        let mut m = Market::from_specs(vec![spec()], 1, &[5000]);
        let ev = feed(&mut h, &mut m, &snap);
        let commit = ev.last().unwrap();
        assert_eq!(
            (commit.kind, commit.p1),
            (MdKind::BookCommit, ChecksumKind::Top25Interleaved as i64)
        );
        assert_eq!(commit.p0, 485516490);
        feed(&mut h, &mut m, &upd);
        assert_eq!(
            (m.health[0].checksums_ok, m.health[0].checksum_mismatches),
            (2, 0)
        );
        assert!(m.books[0].valid);
        // the same update with one size changed: the checksum no longer matches, the book is invalid
        let (_, upd2) = real_messages();
        let bad = upd2.replacen("\"600000\"", "\"600001\"", 1);
        assert_ne!(bad, upd2);
        let mut h = handler();
        let mut m = Market::from_specs(vec![spec()], 1, &[5000]);
        feed(&mut h, &mut m, &snap);
        feed(&mut h, &mut m, &bad);
        assert_eq!(
            (m.health[0].checksums_ok, m.health[0].checksum_mismatches),
            (1, 1)
        );
        assert!(!m.books[0].valid);
    }

    #[test]
    fn malformed_variants_are_counted_never_panic() {
        let (snap, upd) = real_messages();
        let mut h = handler();
        let mut m = Market::from_specs(vec![spec()], 1, &[5000]);
        let cases = [
            snap[..snap.len() / 3].to_string(),
            upd.replace("\"checksum\":-", "\"checksum\":0.5,\"x\":-"), // non-integer checksum
            upd.replacen("\"600000\"", "\"6x0000\"", 1),
            upd.replacen("\"600000\"", "\"600000.5\"", 1), // finer than quantityScale 0
            "{".to_string(),
            "ping".to_string(),
        ];
        for (i, c) in cases.iter().enumerate() {
            let ev = feed(&mut h, &mut m, c);
            assert_eq!((ev.len(), ev[0].kind), (1, MdKind::Noop), "case {i}");
        }
        assert_eq!(
            VenueCounters::get(&h.counters.parse_errors),
            cases.len() as u64
        );
        feed(&mut h, &mut m, "pong");
        assert_eq!(VenueCounters::get(&h.counters.unknown_messages), 1);
        assert_eq!(ws_inst_id("BTCUSDT_SPBL"), "BTCUSDT");
        assert_eq!(ws_inst_id("BTCUSDT"), "BTCUSDT");
    }
}
