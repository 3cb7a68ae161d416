//! `verify-book` for OKX v5 sessions (`OKX.ws.1.0`): every `books` message through
//! [`crate::venues::okx::OkxHandler`] and the engine's books; each non-zero `checksum` is
//! verified against the rebuilt book (CRC32 of the top 25 levels interleaved, signed), every
//! `prevSeqId`/`seqId` pair where the feed sends them.
//!
//! BBO checks: none on the 2022 recording, on purpose. Its `tickers` carry neither `seqId` nor
//! anything else that ties them to one `books` message (they are 100 ms samples with their own
//! `ts`), so a comparison would be between unrelated moments. Today's `bbo-tbt` carries `seqId`
//! and is compared with the book commit of the same `seqId` when a recording has both.
#![forbid(unsafe_code)]

use super::driver::{self, Driver, GENEROUS_DEC};
use super::{RecLine, VerifyReport};
use crate::event::MdKind;
use crate::feed::{tag, VenueCounters};
use crate::venues::okx::instruments::parse_instruments;
use crate::venues::okx::{Okx, OkxHandler, LIMITS};
use crate::venues::wire_util::Scale;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// Verify one OKX session (`path` locates `OKX.0`, the instrument lists of the same run,
/// for tick/lot scales).
pub fn verify(path: &Path, lines: &[RecLine], rep: &mut VerifyReport) {
    let syms = driver::symbols_by_key(lines, "instId");
    let defs = driver::instrument_file(path)
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| parse_instruments(&t, "okx").ok())
        .unwrap_or_default();
    let specs = driver::specs_for(
        "okx",
        &syms,
        &defs,
        Scale {
            price_dec: GENEROUS_DEC,
            qty_dec: GENEROUS_DEC,
        },
    );
    let counters = Arc::new(VenueCounters::default());
    let h = OkxHandler::new(
        crate::types::VenueId(0),
        driver::refs(&specs),
        Okx::new(&LIMITS),
        counters.clone(),
    );
    let mut d = Driver::new(Box::new(h), counters, specs, 5000);
    let tg = tag::make(0, false, tag::NO_INSTRUMENT);
    // (instrument, seqId) → book top after that commit; bbo-tbt (instrument, seqId) → top
    let mut commit_top: HashMap<(u16, u64), (i64, i64)> = HashMap::new();
    let mut bbo: HashMap<(u16, u64), (i64, i64)> = HashMap::new();
    for l in lines {
        let RecLine::Recv { t_ns, payload } = l else {
            continue;
        };
        // only messages that carry `seqId` can be tied to each other
        let with_seq = payload.windows(8).any(|w| w == b"\"seqId\":");
        d.feed(*t_ns, tg, payload, rep, &mut |ev, b| {
            if !with_seq {
                return;
            }
            let k = (ev.instrument.0, ev.venue_seq);
            match ev.kind {
                MdKind::BookCommit => {
                    if let (Some(bb), Some(ba)) = (b.depth_best_bid(), b.depth_best_ask()) {
                        commit_top.insert(k, (bb.px, ba.px));
                    }
                }
                MdKind::Bbo => {
                    bbo.insert(k, (ev.p0, ev.p1));
                }
                _ => {}
            }
        });
    }
    for (k, top) in &commit_top {
        if let Some(t) = bbo.get(k) {
            rep.bbo_checks += 1;
            if t != top {
                rep.bbo_mismatches += 1;
            }
        }
    }
    d.finish(rep);
}
