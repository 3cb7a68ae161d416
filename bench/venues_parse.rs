//! Per-venue parse cost on the real recordings: every received message of a session through
//! the venue's handler (wire parse + book-sync rules + event emission into a preallocated
//! vector), timed over whole-file passes. Prints ns per message (median pass) per venue.
//!
//! Run: `cargo bench --bench venues_parse` (release profile, LTO). Machine-dependent: quote the
//! figures with the machine they were measured on.
#![forbid(unsafe_code)]

use arbot::event::MdEvent;
use arbot::feed::{tag, EventSink, VenueCounters, VenueHandler};
use arbot::ring::RawMeta;
use arbot::tools::verify::driver::{self, GENEROUS_DEC};
use arbot::tools::verify::{read_recording, RecLine};
use arbot::types::VenueId;
use arbot::venues::wire_util::Scale;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

const PASSES: usize = 31;

fn data(rel: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/recorded")
        .join(rel);
    assert!(p.is_file(), "recording missing: {}", p.display());
    p
}

fn received(p: &Path) -> (Vec<RecLine>, Vec<Vec<u8>>) {
    let lines = read_recording(p).expect("readable recording");
    let msgs = lines
        .iter()
        .filter_map(|l| match l {
            RecLine::Recv { payload, .. } => Some(payload.clone()),
            _ => None,
        })
        .collect();
    (lines, msgs)
}

fn specs(venue: &str, lines: &[RecLine], key: &str) -> Vec<arbot::venues::symbols::InstrumentRef> {
    let syms = driver::symbols_by_key(lines, key);
    driver::refs(&driver::generic_specs(
        venue,
        &syms,
        Scale {
            price_dec: GENEROUS_DEC,
            qty_dec: GENEROUS_DEC,
        },
    ))
}

fn measure(name: &str, msgs: &[Vec<u8>], mut make: impl FnMut() -> Box<dyn VenueHandler>) {
    let mut events: Vec<MdEvent> = Vec::with_capacity(1 << 21);
    let tg = tag::make(0, false, tag::NO_INSTRUMENT);
    let mut per_pass = Vec::with_capacity(PASSES);
    let mut errors = 0;
    for _ in 0..PASSES {
        let mut h = make();
        events.clear();
        let mut sink = EventSink::to_vec(&mut events);
        let t0 = Instant::now();
        for (i, m) in msgs.iter().enumerate() {
            let meta = RawMeta {
                recv_ns: 0,
                tag: tg,
                seq: i as u64,
            };
            sink.begin(VenueId(0), &meta, 0);
            h.on_message(m, &meta, &mut sink);
            sink.end();
        }
        per_pass.push(t0.elapsed().as_nanos() as f64 / msgs.len() as f64);
        errors = VenueCounters::get(&h.counters().parse_errors);
    }
    per_pass.sort_by(|a, b| a.total_cmp(b));
    let bytes: usize = msgs.iter().map(Vec::len).sum();
    println!(
        "{name:<28} {:>6} msgs  {:>6} B/msg  median {:>8.0} ns/msg  min {:>8.0}  max {:>8.0}  parse_errors {errors}",
        msgs.len(),
        bytes / msgs.len().max(1),
        per_pass[PASSES / 2],
        per_pass[0],
        per_pass[PASSES - 1],
    );
}

fn main() {
    use arbot::venues::{binance, bybit, coinbase, kraken, okx};
    println!("venue handler cost per message (parse + sync + events), {PASSES} passes per file");

    let (l, m) = received(&data("OKX.ws.1.0"));
    let r = specs("okx", &l, "instId");
    measure("okx (OKX.ws.1.0)", &m, || {
        Box::new(okx::OkxHandler::new(
            VenueId(0),
            r.clone(),
            okx::Okx::new(&okx::LIMITS),
            Arc::new(VenueCounters::default()),
        ))
    });

    let (l, m) = received(&data("KRAKEN.ws.50.0"));
    let r = specs("kraken", &l, "pair");
    measure("kraken v1 (KRAKEN.ws.50.0)", &m, || {
        Box::new(kraken::KrakenHandler::new(
            VenueId(0),
            r.clone(),
            kraken::Kraken::new(100, &kraken::LIMITS),
            Arc::new(VenueCounters::default()),
        ))
    });

    let (l, m) = received(&data("COINBASE.ws.28.0"));
    let r = specs("coinbase", &l, "product_id");
    measure("coinbase (COINBASE.ws.28.0)", &m, || {
        Box::new(coinbase::CoinbaseHandler::new(
            VenueId(0),
            r.clone(),
            coinbase::Coinbase::new(&coinbase::LIMITS),
            Arc::new(VenueCounters::default()),
        ))
    });

    for f in ["BYBIT.ws.25.0", "BYBIT.ws.26.0"] {
        let (l, m) = received(&data(f));
        let r = specs("bybit", &l, "symbol");
        measure(&format!("bybit v2 ({f})"), &m, || {
            Box::new(bybit::LegacyHandler::new(
                VenueId(0),
                r.clone(),
                bybit::V2::new(25),
                Arc::new(VenueCounters::default()),
            ))
        });
    }

    let (l, m) = received(&data("bybit_v5_XRPUSDT_ob500_20241201.data"));
    let r = specs("bybit", &l, "s");
    measure("bybit v5 (ob500 .data)", &m, || {
        Box::new(bybit::BybitHandler::new(
            VenueId(0),
            r.clone(),
            bybit::V5::new(&bybit::LIMITS),
            Arc::new(VenueCounters::default()),
        ))
    });

    // reference: Binance futures session through the existing Binance handler (stream
    // messages only; its REST snapshots are in BINANCE_FUTURES.http.0.0)
    let (_, m) = received(&data("BINANCE_FUTURES.ws.1.0"));
    let syms: Vec<String> = {
        let mut s: Vec<String> = Vec::new();
        for msg in &m {
            if let Some(rest) = msg.strip_prefix(b"{\"stream\":\"") {
                if let Some(end) = rest.iter().position(|b| *b == b'@') {
                    let x = String::from_utf8_lossy(&rest[..end]).to_ascii_uppercase();
                    if !s.contains(&x) {
                        s.push(x);
                    }
                }
            }
        }
        s
    };
    let br: Vec<arbot::venues::symbols::InstrumentRef> = syms
        .iter()
        .enumerate()
        .map(|(i, s)| arbot::venues::symbols::InstrumentRef {
            id: arbot::types::InstrumentId(i as u16),
            symbol: s.clone(),
            scale: Scale {
                price_dec: 8,
                qty_dec: 8,
            },
        })
        .collect();
    measure("binance usdm (BINANCE_FUTURES)", &m, || {
        Box::new(binance::BinanceHandler::new(
            VenueId(0),
            br.clone(),
            binance::Binance::new(binance::Market::Usdm, &binance::LIMITS),
            Arc::new(VenueCounters::default()),
        ))
    });
}
