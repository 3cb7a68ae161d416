//! `verify-book` for Binance spot and futures recordings: the cryptofeed sessions
//! (`BINANCE.ws.1.0` + `BINANCE.http.0.0`, `BINANCE_FUTURES.*`) and the gz files of
//! `../shared/data/binance/`. Runs [`crate::venues::binance::BinanceHandler`] and
//! [`crate::book::Market`], exactly as the engine does.
//!
//! BBO check: the book's best bid/ask after a depth commit with final update id `u` against
//! the `bookTicker` with the same `u` (both describe the book right after update `u`).
#![forbid(unsafe_code)]

use super::{RecLine, VerifyReport};
use crate::book::Market;
use crate::event::{MdEvent, MdKind};
use crate::feed::{tag, EventSink, VenueCounters, VenueHandler};
use crate::instrument::InstrumentKind;
use crate::ring::RawMeta;
use crate::types::VenueId;
use crate::venues::binance::{Binance, BinanceHandler, Market as BMarket, LIMITS};
use crate::venues::symbols::InstrumentRef;
use crate::venues::wire_util::Scale;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// Decimals used when the instrument list is not known: Binance sends at most 8.
const DEC: u32 = 8;

fn symbols(lines: &[RecLine], http: &[RecLine]) -> BTreeSet<String> {
    let mut s = BTreeSet::new();
    let mut add_stream = |name: &str| {
        if let Some((sym, _)) = name.split_once('@') {
            s.insert(sym.to_ascii_uppercase());
        }
    };
    for l in lines {
        match l {
            RecLine::Connect { url, .. } => {
                if let Some((_, q)) = url.split_once("streams=") {
                    for st in q.split('/') {
                        add_stream(st);
                    }
                }
            }
            RecLine::Recv { payload, .. } => {
                // `{"stream":"btcusdt@depth@100ms",...`
                if let Some(rest) = payload.strip_prefix(b"{\"stream\":\"") {
                    if let Some(end) = rest.iter().position(|b| *b == b'"') {
                        add_stream(&String::from_utf8_lossy(&rest[..end]));
                    }
                }
            }
            _ => {}
        }
    }
    for h in http {
        if let RecLine::Http { url, .. } = h {
            if let Some(sym) = url
                .split("symbol=")
                .nth(1)
                .and_then(|r| r.split('&').next())
            {
                s.insert(sym.to_ascii_uppercase());
            }
        }
    }
    s
}

/// Verify one Binance session.
pub fn verify(venue: &str, lines: &[RecLine], http: &[RecLine], rep: &mut VerifyReport) {
    let market = if venue == "binance" {
        BMarket::Spot
    } else {
        BMarket::Usdm
    };
    let syms: Vec<String> = symbols(lines, http).into_iter().collect();
    let mut specs = super::driver::generic_specs(
        venue,
        &syms,
        Scale {
            price_dec: DEC,
            qty_dec: DEC,
        },
    );
    if market != BMarket::Spot {
        for sp in &mut specs {
            sp.kind = InstrumentKind::LinearPerp;
        }
    }
    let counters = Arc::new(VenueCounters::default());
    let mut h = BinanceHandler::new(
        VenueId(0),
        specs
            .iter()
            .map(|s| InstrumentRef {
                id: s.id,
                symbol: s.symbol.clone(),
                scale: Scale {
                    price_dec: DEC,
                    qty_dec: DEC,
                },
            })
            .collect(),
        Binance::new(market, &LIMITS),
        counters.clone(),
    );
    let mut m = Market::from_specs(specs.clone(), 1, &vec![5000; specs.len()]);
    // time-ordered input: received stream messages and REST snapshots (stable for equal times)
    let mut input: Vec<(u64, u32, &[u8])> = Vec::new();
    for l in lines {
        if let RecLine::Recv { t_ns, payload } = l {
            input.push((*t_ns, tag::make(0, false, tag::NO_INSTRUMENT), payload));
        }
    }
    for l in http {
        if let RecLine::Http { url, t_ns, body } = l {
            let sym = url
                .split("symbol=")
                .nth(1)
                .and_then(|r| r.split('&').next())
                .unwrap_or("");
            let inst = syms
                .iter()
                .position(|s| s.eq_ignore_ascii_case(sym))
                .map(|i| i as u32)
                .unwrap_or(tag::NO_INSTRUMENT);
            input.push((*t_ns, tag::make(0, true, inst), body));
        }
    }
    input.sort_by_key(|x| x.0);
    let mut events: Vec<MdEvent> = Vec::with_capacity(8192);
    let mut commit_top: HashMap<(u16, u64), (i64, i64)> = HashMap::new();
    let mut ticker: HashMap<(u16, u64), (i64, i64)> = HashMap::new();
    let mut seen_book: BTreeSet<u16> = BTreeSet::new();
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
            h.on_message(data, &meta, &mut sink);
            sink.end();
        }
        let mut book_msg = false;
        for ev in &events {
            m.apply(ev, &mut |_| {});
            match ev.kind {
                MdKind::BookClear | MdKind::BookLevel => book_msg = true,
                MdKind::BookCommit => {
                    book_msg = true;
                    seen_book.insert(ev.instrument.0);
                    let b = &m.books[ev.instrument.idx()];
                    if let (Some(bb), Some(ba)) = (b.depth_best_bid(), b.depth_best_ask()) {
                        commit_top.insert((ev.instrument.0, ev.venue_seq), (bb.px, ba.px));
                    }
                    if b.validate_full().is_err() {
                        rep.bbo_mismatches += 1; // an invalid book cannot match anything
                    }
                }
                MdKind::Bbo => {
                    ticker.insert((ev.instrument.0, ev.venue_seq), (ev.p0, ev.p1));
                }
                _ => {}
            }
        }
        if book_msg {
            rep.book_messages += 1;
        }
    }
    for (k, top) in &commit_top {
        if let Some(t) = ticker.get(k) {
            rep.bbo_checks += 1;
            if t != top {
                rep.bbo_mismatches += 1;
            }
        }
    }
    let g = VenueCounters::get;
    rep.instruments = seen_book.len() as u64;
    rep.gaps = g(&counters.gaps);
    rep.resyncs = g(&counters.resyncs);
    rep.parse_errors = g(&counters.parse_errors);
    rep.unknown_messages = g(&counters.unknown_messages);
    rep.checksums_ok = m.health[0].checksums_ok;
    rep.checksum_mismatches = m.health[0].checksum_mismatches;
}
