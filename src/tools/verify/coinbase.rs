//! `verify-book` for Coinbase sessions (`COINBASE.ws.28.0`, Exchange feed; Advanced Trade
//! recordings too): every message through [`crate::venues::coinbase::CoinbaseHandler`] and the
//! engine's books. Exchange `level2` has neither sequence numbers nor checksums, so the gap
//! and checksum counts can only be 0 there; the venue's own best bid/ask is the check.
//!
//! BBO check (Exchange feed). A `ticker` is sent with every match and gives the best bid/ask
//! right after that match, stamped with the matching engine's `time` (µs); every `l2update`
//! carries the same engine's `time`. Level2 has no `sequence`, so time is the only link, and
//! it only identifies one book state when the instant is unambiguous. A ticker of product P
//! at time T is compared with the book after P's `l2update` at T only if exactly one
//! `l2update` and exactly one ticker of P carry T (a taker order that sweeps several levels
//! produces several tickers and level changes within one µs, whose intermediate states the
//! level2 stream does not show). Tickers older than the book's first update (sent on
//! subscribe) have no update at their time and are not compared. On the 2021 recording this
//! leaves 57 of 107 tickers; an independent reconstruction (Python, decimal arithmetic) agrees
//! on all 57.
#![forbid(unsafe_code)]

use super::driver::{self, Driver, GENEROUS_DEC};
use super::{RecLine, VerifyReport};
use crate::event::MdKind;
use crate::feed::{tag, VenueCounters};
use crate::venues::coinbase::instruments::parse_products;
use crate::venues::coinbase::wire::{self, Buffers};
use crate::venues::coinbase::{Coinbase, CoinbaseHandler, LIMITS};
use crate::venues::symbols::SymbolTable;
use crate::venues::wire_util::Scale;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// Best bid and ask prices.
type Top = (i64, i64);

/// Verify one Coinbase session (`path` locates `COINBASE.0`, the products list of the run).
pub fn verify(path: &Path, lines: &[RecLine], rep: &mut VerifyReport) {
    let syms = driver::symbols_by_key(lines, "product_id");
    let mut syms_sent: Vec<String> = Vec::new();
    for l in lines {
        if let RecLine::Sent { payload, .. } = l {
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(payload) {
                for p in v["product_ids"].as_array().into_iter().flatten() {
                    if let Some(p) = p.as_str() {
                        if !syms.iter().chain(&syms_sent).any(|x| x == p) {
                            syms_sent.push(p.to_string());
                        }
                    }
                }
            }
        }
    }
    let syms: Vec<String> = syms.into_iter().chain(syms_sent).collect();
    let defs = driver::instrument_file(path)
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| parse_products(&t, "coinbase").ok())
        .unwrap_or_default();
    let specs = driver::specs_for(
        "coinbase",
        &syms,
        &defs,
        Scale {
            price_dec: GENEROUS_DEC,
            qty_dec: GENEROUS_DEC,
        },
    );
    let refs = driver::refs(&specs);
    let table = SymbolTable::new(refs.clone());
    let counters = Arc::new(VenueCounters::default());
    let h = CoinbaseHandler::new(
        crate::types::VenueId(0),
        refs,
        Coinbase::new(&LIMITS),
        counters.clone(),
    );
    let mut d = Driver::new(Box::new(h), counters, specs, 100_000);
    let tg = tag::make(0, false, tag::NO_INSTRUMENT);
    // (instrument, time µs) → (l2 commits at that time, book top after the last of them)
    let mut commits: HashMap<(u16, u64), (u32, Option<Top>)> = HashMap::new();
    // (instrument, time µs) → (tickers at that time, best bid/ask of the last)
    let mut tickers: HashMap<(u16, u64), (u32, Top)> = HashMap::new();
    let mut tbuf = Buffers::with_capacity(16, 4, 4);
    for l in lines {
        let RecLine::Recv { t_ns, payload } = l else {
            continue;
        };
        let advanced = payload.starts_with(b"{\"channel\"");
        d.feed(*t_ns, tg, payload, rep, &mut |ev, b| {
            if ev.kind == MdKind::BookCommit && !advanced && ev.venue_seq != 0 {
                let e = commits
                    .entry((ev.instrument.0, ev.venue_seq))
                    .or_insert((0, None));
                e.0 += 1;
                e.1 = b
                    .depth_best_bid()
                    .zip(b.depth_best_ask())
                    .map(|(bb, ba)| (bb.px, ba.px));
            }
        });
        if !advanced && payload.starts_with(b"{\"type\":\"ticker\"") {
            if let Ok(m) = wire::parse(payload, &table, &mut tbuf) {
                let t = tbuf.ticker;
                if m.has_ticker && t.time_us != 0 {
                    let id = table.get(t.inst).id.0;
                    let e = tickers.entry((id, t.time_us)).or_insert((0, (0, 0)));
                    e.0 += 1;
                    e.1 = (t.bid_px, t.ask_px);
                }
            }
        }
    }
    for (k, (n_tick, top)) in &tickers {
        if *n_tick != 1 {
            continue;
        }
        if let Some((1, Some(book_top))) = commits.get(k) {
            rep.bbo_checks += 1;
            if book_top != top {
                rep.bbo_mismatches += 1;
            }
        }
    }
    d.finish(rep);
}
