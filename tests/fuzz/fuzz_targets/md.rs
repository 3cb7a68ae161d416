//! Every venue's market-data parser and book handler, with the engine's books behind them.
//!
//! Input: byte 0 selects the venue (`common::VENUES`); the first line lists the instruments'
//! wire symbols (space-separated); every further line is one received message, a line starting
//! `S ` a REST depth snapshot. The handler must not panic on anything; the books it drives must
//! not panic either (a book that fails validation is the handler's bug, found by the
//! verify-book tests, not here).
#![no_main]

mod common;

use arbot::feed::{tag, VenueCounters};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let mut lines = rest.split(|b| *b == b'\n');
    let syms: Vec<String> = String::from_utf8_lossy(lines.next().unwrap_or_default())
        .split_ascii_whitespace()
        .take(8)
        .map(str::to_string)
        .collect();
    let name = common::VENUES[sel as usize % common::VENUES.len()].0;
    let specs = common::specs(name, &syms);
    let counters = Arc::new(VenueCounters::default());
    let Some(h) = common::handler(sel, &specs, counters.clone()) else {
        return;
    };
    let mut d = arbot::tools::verify::driver::Driver::new(h, counters, specs, 64);
    let mut rep = arbot::tools::verify::VerifyReport::default();
    for (i, line) in lines.enumerate() {
        let (t, msg) = match line.strip_prefix(b"S ") {
            Some(m) => (tag::make(0, true, tag::NO_INSTRUMENT), m),
            None => (0, line),
        };
        d.feed(i as u64 * 1_000_000, t, msg, &mut rep, &mut |_, _| {});
    }
    d.finish(&mut rep);
});
