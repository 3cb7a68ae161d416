//! `verify-book` for Bybit:
//! - v5 (`bybit`): the public historical `.data` files (one JSON message per line, no URL
//!   line: the venue is told from the content, `{"topic":"orderbook.…`, or given with
//!   `--venue bybit`) and v5 WebSocket sessions. Checks: `u` + 1 on every delta, books
//!   valid (not crossed, ordered) after every commit.
//! - v2 (`bybit-legacy`, `BYBIT.ws.25.0` `/realtime_public` and `.26.0` `/realtime`, 2021):
//!   `orderBookL2_25` read as what it is. Checks: `cross_seq` rising, every delete/update on a
//!   level the book has, every insert on one it has not (see
//!   [`crate::venues::bybit::wire::v2`]), books valid after every commit.
//!
//! Neither feed has a checksum. BBO checks: none; the recordings hold no ticker stream.
#![forbid(unsafe_code)]

use super::driver::{self, Driver, GENEROUS_DEC};
use super::{RecLine, VerifyReport};
use crate::feed::{tag, VenueCounters, VenueHandler};
use crate::venues::bybit::{BybitHandler, LegacyHandler, LIMITS, V2, V5};
use crate::venues::wire_util::Scale;
use std::sync::Arc;

const SCALE: Scale = Scale {
    price_dec: GENEROUS_DEC,
    qty_dec: GENEROUS_DEC,
};

fn run(
    lines: &[RecLine],
    rep: &mut VerifyReport,
    specs: Vec<crate::instrument::InstrumentSpec>,
    h: Box<dyn VenueHandler>,
    counters: Arc<VenueCounters>,
) {
    let mut d = Driver::new(h, counters, specs, 5000);
    let tg = tag::make(0, false, tag::NO_INSTRUMENT);
    for l in lines {
        if let RecLine::Recv { t_ns, payload } = l {
            d.feed(*t_ns, tg, payload, rep, &mut |_, _| {});
        }
    }
    d.finish(rep);
}

/// Verify one Bybit v5 file.
pub fn verify(lines: &[RecLine], rep: &mut VerifyReport) {
    let syms = driver::symbols_by_key(lines, "s");
    let specs = driver::generic_specs("bybit", &syms, SCALE);
    let counters = Arc::new(VenueCounters::default());
    let h = BybitHandler::new(
        crate::types::VenueId(0),
        driver::refs(&specs),
        V5::new(&LIMITS),
        counters.clone(),
    );
    run(lines, rep, specs, Box::new(h), counters);
}

/// Verify one Bybit v2 (legacy) session.
pub fn verify_legacy(lines: &[RecLine], rep: &mut VerifyReport) {
    let syms = driver::symbols_by_key(lines, "symbol");
    let specs = driver::generic_specs("bybit-legacy", &syms, SCALE);
    let counters = Arc::new(VenueCounters::default());
    let h = LegacyHandler::new(
        crate::types::VenueId(0),
        driver::refs(&specs),
        V2::new(25),
        counters.clone(),
    );
    run(lines, rep, specs, Box::new(h), counters);
}
