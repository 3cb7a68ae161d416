//! `verify-book` for Kraken sessions, WS v1 (`KRAKEN.ws.48.0` trades, `.49.0` tickers,
//! `.50.0` book-1000) or v2: every message through [`crate::venues::kraken::KrakenHandler`]
//! and the engine's books; each checksum is verified after the book is cut to the subscribed
//! depth (v1: every update; v2: snapshots and updates).
//!
//! BBO checks: none. The recordings put the book and the ticker on different connections
//! (`.50.0` and `.49.0`), and neither v1 tickers nor v1 book messages carry an id that would
//! tie a ticker to one book state; comparing them would compare unrelated moments.
#![forbid(unsafe_code)]

use super::driver::{self, Driver, GENEROUS_DEC};
use super::{RecLine, VerifyReport};
use crate::feed::{tag, VenueCounters};
use crate::venues::kraken::instruments::parse_asset_pairs;
use crate::venues::kraken::{Kraken, KrakenHandler, LIMITS};
use crate::venues::wire_util::Scale;
use std::path::Path;
use std::sync::Arc;

/// Pairs subscribed in the session (`"pair":[...]` of the client's frames, `"pair":"..."` of
/// the acks, v2 `"symbol"`).
fn pairs(lines: &[RecLine]) -> Vec<String> {
    let mut out = driver::symbols_by_key(lines, "pair");
    for s in driver::symbols_by_key(lines, "symbol") {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    for l in lines {
        if let RecLine::Sent { payload, .. } = l {
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(payload) else {
                continue;
            };
            let list = v
                .get("pair")
                .or_else(|| v.get("params").and_then(|p| p.get("symbol")));
            for p in list.and_then(|x| x.as_array()).into_iter().flatten() {
                if let Some(p) = p.as_str() {
                    if !out.iter().any(|x| x == p) {
                        out.push(p.to_string());
                    }
                }
            }
        }
    }
    out
}

/// Verify one Kraken session (`path` locates `KRAKEN.0`, whose `pair_decimals` /
/// `lot_decimals` give the scales; v2 checksums need them).
pub fn verify(path: &Path, lines: &[RecLine], rep: &mut VerifyReport) {
    let syms = pairs(lines);
    let defs = driver::instrument_file(path)
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| parse_asset_pairs(&t, "kraken").ok())
        .unwrap_or_default();
    let specs = driver::specs_for(
        "kraken",
        &syms,
        &defs,
        Scale {
            price_dec: GENEROUS_DEC,
            qty_dec: GENEROUS_DEC,
        },
    );
    let counters = Arc::new(VenueCounters::default());
    let h = KrakenHandler::new(
        crate::types::VenueId(0),
        driver::refs(&specs),
        Kraken::new(crate::venues::kraken::DEFAULT_DEPTH, &LIMITS),
        counters.clone(),
    );
    // room beyond the deepest subscription, so levels pushed out inside one message survive
    // until the commit cuts the book to depth
    let mut d = Driver::new(Box::new(h), counters, specs, 2000);
    let tg = tag::make(0, false, tag::NO_INSTRUMENT);
    for l in lines {
        if let RecLine::Recv { t_ns, payload } = l {
            d.feed(*t_ns, tg, payload, rep, &mut |_, _| {});
        }
    }
    d.finish(rep);
}
