//! Shared driver of the Upbit, Bithumb, KuCoin, Gate.io and Bitget verifiers: builds generic
//! specs for the symbols a recording holds, feeds every received message and REST snapshot (in
//! receive-time order) through the venue's real [`VenueHandler`] and the detection side's
//! [`Market`] (the engine's code path: checksums are verified there), and keeps the book's best
//! bid/ask at every commit for the venue-specific BBO checks.
#![forbid(unsafe_code)]

use super::{RecLine, VerifyReport};
use crate::book::Market;
use crate::event::{MdEvent, MdKind};
use crate::feed::{tag, EventSink, VenueCounters, VenueHandler};
use crate::instrument::InstrumentSpec;
use crate::ring::RawMeta;
use crate::types::VenueId;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

pub use super::driver::{generic_specs as specs, refs};

/// Best bid price, its quantity, best ask price, its quantity.
pub type Top = [i64; 4];

/// One input of the session: receive time, ring tag (snapshot flag + instrument), bytes.
pub type Input<'a> = (u64, u32, &'a [u8]);

/// Received stream messages, plus REST snapshots whose instrument `snap_inst` can tell from the
/// URL (`None`: not a snapshot of a known symbol, still fed untagged so nothing is dropped),
/// sorted by receive time (stable).
pub fn inputs<'a>(
    lines: &'a [RecLine],
    http: &'a [RecLine],
    snap_inst: &dyn Fn(&str) -> Option<u16>,
) -> Vec<Input<'a>> {
    let mut input: Vec<Input<'a>> = Vec::new();
    for l in lines {
        if let RecLine::Recv { t_ns, payload } = l {
            input.push((*t_ns, tag::make(0, false, tag::NO_INSTRUMENT), payload));
        }
    }
    for l in http {
        if let RecLine::Http { url, t_ns, body } = l {
            let t = match snap_inst(url) {
                Some(i) => tag::make(0, true, i as u32),
                None => tag::make(0, true, tag::NO_INSTRUMENT),
            };
            input.push((*t_ns, t, body));
        }
    }
    input.sort_by_key(|x| x.0);
    input
}

/// What a session leaves for the venue-specific checks.
pub struct Outcome {
    /// Books and their health (checksums counted here).
    pub market: Market,
    /// Book best bid and ask after each commit, by (instrument, update id).
    pub commit_top: HashMap<(u16, u64), Top>,
    /// The venue's own best bid/offer events, by (instrument, update id).
    pub bbo: HashMap<(u16, u64), Top>,
    /// Commits whose book failed the full R1.3 validation.
    pub invalid_commits: u64,
}

/// Run `input` through `h` and a [`Market`] over `specs`; fills the message counts of `rep`.
pub fn run(
    h: &mut dyn VenueHandler,
    specs: Vec<InstrumentSpec>,
    input: &[Input<'_>],
    rep: &mut VerifyReport,
) -> Outcome {
    let n = specs.len();
    let mut market = Market::from_specs(specs, 1, &vec![5000; n]);
    let mut events: Vec<MdEvent> = Vec::with_capacity(8192);
    let mut out_top = HashMap::new();
    let mut bbo = HashMap::new();
    let mut seen_book: BTreeSet<u16> = BTreeSet::new();
    let mut invalid_commits = 0;
    for (seq, (t, tg, data)) in input.iter().enumerate() {
        rep.messages += 1;
        events.clear();
        let meta = RawMeta {
            recv_ns: *t,
            tag: *tg,
            seq: seq as u64,
        };
        {
            let mut sink = EventSink::to_vec(&mut events);
            sink.begin(VenueId(0), &meta, 0);
            VenueCounters::inc(&h.counters().messages);
            h.on_message(data, &meta, &mut sink);
            sink.end();
        }
        let mut book_msg = false;
        for ev in &events {
            market.apply(ev, &mut |_| {});
            match ev.kind {
                MdKind::BookClear | MdKind::BookLevel => book_msg = true,
                MdKind::BookCommit => {
                    book_msg = true;
                    seen_book.insert(ev.instrument.0);
                    let b = &market.books[ev.instrument.idx()];
                    if let (Some(bb), Some(ba)) = (b.depth_best_bid(), b.depth_best_ask()) {
                        out_top.insert(
                            (ev.instrument.0, ev.venue_seq),
                            [bb.px, bb.qty, ba.px, ba.qty],
                        );
                    }
                    if b.validate_full().is_err() {
                        invalid_commits += 1;
                    }
                }
                MdKind::Bbo => {
                    bbo.insert(
                        (ev.instrument.0, ev.venue_seq),
                        [ev.p0, ev.q0, ev.p1, ev.q1],
                    );
                }
                _ => {}
            }
        }
        if book_msg {
            rep.book_messages += 1;
        }
    }
    let c: &Arc<VenueCounters> = h.counters();
    let g = VenueCounters::get;
    rep.instruments = seen_book.len() as u64;
    rep.gaps = g(&c.gaps);
    rep.resyncs = g(&c.resyncs);
    rep.parse_errors = g(&c.parse_errors);
    rep.unknown_messages = g(&c.unknown_messages);
    rep.checksums_ok = market.health[0].checksums_ok;
    rep.checksum_mismatches = market.health[0].checksum_mismatches;
    // an invalid book cannot match anything (as in the Binance verifier)
    rep.bbo_mismatches += invalid_commits;
    Outcome {
        market,
        commit_top: out_top,
        bbo,
        invalid_commits,
    }
}

/// Compare venue BBOs (prices and quantities) with the book top at the same (instrument,
/// update id).
pub fn check_bbo(
    commit_top: &HashMap<(u16, u64), Top>,
    bbo: &HashMap<(u16, u64), Top>,
    rep: &mut VerifyReport,
) {
    for (k, top) in commit_top {
        if let Some(t) = bbo.get(k) {
            rep.bbo_checks += 1;
            if t != top {
                rep.bbo_mismatches += 1;
            }
        }
    }
}

/// Sorted, de-duplicated symbols.
pub fn sorted(s: BTreeSet<String>) -> Vec<String> {
    s.into_iter().collect()
}

/// Value of query parameter `key` in `url`.
pub fn query_param<'a>(url: &'a str, key: &str) -> Option<&'a str> {
    let q = url.split_once('?')?.1;
    q.split('&').find_map(|kv| {
        kv.split_once('=')
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v)
    })
}
