//! The loop every book verifier shares: one venue handler (the engine's parser and sync
//! rules) writing events into a vector, applied to a [`Market`] (the engine's books, checksum
//! verification and validation), with the counts `verify-book` reports. The venue verifiers
//! (`okx.rs`, `kraken.rs`, ...) add what is venue-specific: the instrument list, the input
//! order, and the best bid/offer comparisons their data allows.
#![forbid(unsafe_code)]

use super::VerifyReport;
use crate::book::L2Book;
use crate::book::Market;
use crate::event::{MdEvent, MdKind};
use crate::feed::{EventSink, VenueCounters, VenueHandler};
use crate::instrument::{InstrumentKind, InstrumentSpec};
use crate::ring::RawMeta;
use crate::types::{Amount, InstrumentId, Price, Qty, VenueId, AMOUNT_ONE};
use crate::venues::symbols::InstrumentRef;
use crate::venues::wire_util::Scale;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Decimals used by the verifiers when the venue's instrument list is not beside the
/// recording: as fine as any price or size the recordings carry, so no level is refused for
/// its precision (the v1/OKX checksums rebuild the exchange's text from each level's own
/// digits, not from this scale), and coarse enough for the largest recorded values (a Kraken
/// ask at 9,999,999,997) to fit in `i64`.
pub const GENEROUS_DEC: u32 = 8;

/// The REST instrument list recorded with a session: `NAME.0` beside `NAME.ws.N.0`.
pub fn instrument_file(path: &std::path::Path) -> Option<std::path::PathBuf> {
    let fname = path.file_name()?.to_str()?;
    let (name, _) = fname.split_once(".ws.")?;
    let p = path.with_file_name(format!("{name}.0"));
    p.is_file().then_some(p)
}

/// Specs for `symbols`: from `defs` (the venue's instrument list) where it has the symbol,
/// else at `fallback` decimals. Ids are positions.
pub fn specs_for(
    venue: &str,
    symbols: &[String],
    defs: &[crate::instrument::InstrumentDef],
    fallback: Scale,
) -> Vec<InstrumentSpec> {
    let mut out = generic_specs(venue, symbols, fallback);
    for (i, s) in out.iter_mut().enumerate() {
        if let Some(d) = defs.iter().find(|d| d.symbol == s.symbol) {
            if let Ok(spec) = d.to_spec(InstrumentId(i as u16), VenueId(0)) {
                *s = spec;
            }
        }
    }
    out
}

/// Specs for `symbols` at `dec` decimals (ids = positions).
pub fn generic_specs(venue: &str, symbols: &[String], dec: Scale) -> Vec<InstrumentSpec> {
    symbols
        .iter()
        .enumerate()
        .map(|(i, s)| InstrumentSpec {
            id: InstrumentId(i as u16),
            venue: VenueId(0),
            venue_name: venue.to_string(),
            symbol: s.clone(),
            base: String::new(),
            quote: String::new(),
            kind: InstrumentKind::Spot,
            price_dec: dec.price_dec,
            qty_dec: dec.qty_dec,
            tick_size: Price(1),
            lot_size: Qty(1),
            min_qty: Qty(1),
            max_qty: Qty(i64::MAX),
            min_notional: Amount(0),
            contract_size: Amount(AMOUNT_ONE),
        })
        .collect()
}

/// Handler references for `specs`.
pub fn refs(specs: &[InstrumentSpec]) -> Vec<InstrumentRef> {
    specs
        .iter()
        .map(|s| InstrumentRef {
            id: s.id,
            symbol: s.symbol.clone(),
            scale: Scale {
                price_dec: s.price_dec,
                qty_dec: s.qty_dec,
            },
        })
        .collect()
}

/// One handler + the engine's books.
pub struct Driver {
    /// The venue handler.
    pub handler: Box<dyn VenueHandler>,
    /// Books, checksum and validation counters.
    pub market: Market,
    counters: Arc<VenueCounters>,
    events: Vec<MdEvent>,
    seen_book: BTreeSet<u16>,
    seq: u64,
}

impl Driver {
    /// `handler` must write into `counters`; books keep `levels` levels per side.
    pub fn new(
        handler: Box<dyn VenueHandler>,
        counters: Arc<VenueCounters>,
        specs: Vec<InstrumentSpec>,
        levels: usize,
    ) -> Driver {
        let n = specs.len();
        Driver {
            handler,
            market: Market::from_specs(specs, 1, &vec![levels; n]),
            counters,
            events: Vec::with_capacity(8192),
            seen_book: BTreeSet::new(),
            seq: 0,
        }
    }

    /// Feed one received message (`tag` as the feed thread would set it). After each book
    /// commit and each best bid/offer event, `on_event` sees the event and its instrument's
    /// book as it is now. A synced book that fails full validation (crossed, unordered) counts
    /// as a BBO mismatch: it cannot match anything the venue says.
    pub fn feed(
        &mut self,
        t_ns: u64,
        tag: u32,
        data: &[u8],
        rep: &mut VerifyReport,
        on_event: &mut dyn FnMut(&MdEvent, &L2Book),
    ) {
        rep.messages += 1;
        self.events.clear();
        let meta = RawMeta {
            recv_ns: t_ns,
            tag,
            seq: self.seq,
        };
        self.seq += 1;
        {
            let mut sink = EventSink::to_vec(&mut self.events);
            sink.begin(VenueId(0), &meta, 0);
            VenueCounters::inc(&self.counters.messages);
            self.handler.on_message(data, &meta, &mut sink);
            sink.end();
        }
        let mut book_msg = false;
        for ev in &self.events {
            self.market.apply(ev, &mut |_| {});
            match ev.kind {
                MdKind::BookClear | MdKind::BookLevel => book_msg = true,
                MdKind::BookCommit => {
                    book_msg = true;
                    self.seen_book.insert(ev.instrument.0);
                    let b = &self.market.books[ev.instrument.idx()];
                    if b.synced && b.validate_full().is_err() {
                        rep.bbo_mismatches += 1;
                    }
                    on_event(ev, b);
                }
                MdKind::Bbo => on_event(ev, &self.market.books[ev.instrument.idx()]),
                _ => {}
            }
        }
        if book_msg {
            rep.book_messages += 1;
        }
    }

    /// Copy the handler's and the books' counts into the report.
    pub fn finish(&self, rep: &mut VerifyReport) {
        let g = VenueCounters::get;
        let c = &self.counters;
        rep.instruments = self.seen_book.len() as u64;
        rep.gaps = g(&c.gaps);
        rep.resyncs = g(&c.resyncs);
        rep.parse_errors = g(&c.parse_errors);
        rep.unknown_messages = g(&c.unknown_messages);
        rep.checksums_ok = self.market.health[0].checksums_ok;
        rep.checksum_mismatches = self.market.health[0].checksum_mismatches;
    }

    /// The handler's counters.
    pub fn counters(&self) -> &VenueCounters {
        &self.counters
    }
}

/// Venue symbols named in the client's subscription frames and in received messages under
/// `key` (`"instId"`, `"product_id"`, ...), in first-seen order.
pub fn symbols_by_key(lines: &[super::RecLine], key: &str) -> Vec<String> {
    let pat = format!("\"{key}\":\"");
    let mut out: Vec<String> = Vec::new();
    let mut add = |s: &str| {
        if !s.is_empty() && !out.iter().any(|x| x == s) {
            out.push(s.to_string());
        }
    };
    for l in lines {
        let p = match l {
            super::RecLine::Sent { payload, .. } | super::RecLine::Recv { payload, .. } => payload,
            _ => continue,
        };
        let text = String::from_utf8_lossy(p);
        let mut rest: &str = &text;
        while let Some(i) = rest.find(&pat) {
            rest = &rest[i + pat.len()..];
            if let Some(end) = rest.find('"') {
                add(&rest[..end]);
                rest = &rest[end..];
            }
        }
    }
    out
}
