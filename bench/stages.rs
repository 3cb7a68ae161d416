//! One engine stage at a time over the shared Binance recordings, for instruction counts under
//! `valgrind --tool=callgrind` (`bench/callgrind.sh` runs it; alone it prints wall times).
//!
//! `cargo bench --bench stages -- <stage> [--config C] [--messages N]`, stage one of:
//! - `parse`: every message through its venue's handler (Binance wire parse + book-sync rules,
//!   events into a vector), inside `stage_parse`;
//! - `book`: the events of every message applied to the run's books (`Market::apply`), inside
//!   `stage_book`;
//! - `core`: the same events through the detection core (books + spatial detection + risk gate;
//!   with `configs/replay.toml` nothing passes the fees, so nothing is encoded), inside
//!   `stage_core`; detection = core − book;
//! - `orders`: the single-thread replay of the benchmark config `bench/configs/e2e.toml` (fees
//!   and thresholds zeroed so orders are sent), whose orders are encoded and HMAC-signed by
//!   the Binance encoder's `place` (callgrind collects inside it). Run alone it also prints the
//!   compute part of tick-to-order: on one thread there is no hand-off, so the executor's
//!   tick-to-order (market-data hand-off → both legs' signed bytes) is parse + book + detection
//!   + risk gate + encode + sign.
//!
//! The input is read, inflated and merged before any stage function runs, and the events a
//! stage needs are made beforehand by a separate handler pass, so a stage function holds only
//! its own work. Each `stage_*` function is `#[inline(never)]`: callgrind's `--toggle-collect`
//! names it.
#![forbid(unsafe_code)]

use arbot::config::Setup;
use arbot::engine::core::{CoreOutput, DetectionCore};
use arbot::event::MdEvent;
use arbot::exec::ToExec;
use arbot::feed::{EventSink, VenueCounters, VenueHandler};
use arbot::journal::ColdMsg;
use arbot::replay::{MemoryReplay, MergedSource};
use arbot::types::{InstrumentId, VenueId};
use clap::Parser;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Stage runner for instruction counts.
#[derive(Parser, Debug)]
#[command(name = "stages")]
struct Args {
    /// parse, book, core or orders.
    stage: String,
    /// Config (replay files, venues, instruments); `orders` defaults to bench/configs/e2e.toml.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Messages (merge order) to use; 0 = all.
    #[arg(long, default_value_t = 0)]
    messages: usize,
    /// Ignored (cargo bench passes `--bench`).
    #[arg(long, hide = true)]
    bench: bool,
}

struct Discard {
    to_exec: u64,
}

impl CoreOutput for Discard {
    fn to_exec(&mut self, _m: ToExec) {
        self.to_exec += 1;
    }
    fn cold(&mut self, m: ColdMsg) {
        black_box(&m);
    }
    fn resync(&mut self, _venue: VenueId, _instrument: InstrumentId) {}
}

fn handlers(setup: &Setup) -> Vec<Box<dyn VenueHandler>> {
    setup
        .venues
        .iter()
        .map(|v| {
            setup
                .handler(v.id, Arc::new(VenueCounters::default()))
                .unwrap()
        })
        .collect()
}

/// Every message through its handler; events appended to `events`. Returns messages.
#[inline(never)]
fn stage_parse(
    mem: &mut MemoryReplay,
    hs: &mut [Box<dyn VenueHandler>],
    events: &mut Vec<MdEvent>,
    limit: usize,
) -> usize {
    let mut sink = EventSink::to_vec(events);
    let mut n = 0;
    while let Some((venue, meta, payload)) = mem.peek() {
        if n == limit {
            break;
        }
        sink.begin(venue, &meta, 0);
        hs[venue.idx()].on_message(payload, &meta, &mut sink);
        sink.end();
        let _ = mem.advance(true);
        n += 1;
    }
    n
}

/// Every event applied to the books.
#[inline(never)]
fn stage_book(events: &[MdEvent], core: &mut DetectionCore) {
    for ev in events {
        core.market.apply(ev, &mut |l| {
            black_box(l);
        });
    }
}

/// Every event through the detection core.
#[inline(never)]
fn stage_core(events: &[MdEvent], core: &mut DetectionCore, out: &mut Discard) -> u64 {
    let mut ends = 0;
    for ev in events {
        ends += u64::from(core.on_event(ev, 0, out));
    }
    ends
}

fn main() {
    let args = Args::parse();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let default_cfg = if args.stage == "orders" {
        "bench/configs/e2e.toml"
    } else {
        "configs/replay.toml"
    };
    let cfg = root.join(args.config.clone().unwrap_or(default_cfg.into()));
    // data paths in shipped and bench configs are relative to the repository root
    let text = std::fs::read_to_string(&cfg).unwrap_or_else(|e| panic!("{}: {e}", cfg.display()));
    let parsed = arbot::config::parse(&text, &cfg.display().to_string()).unwrap();
    let mut setup = arbot::config::resolve(parsed, &root).unwrap_or_else(|e| panic!("{e}"));
    setup.cfg.threads.mode = arbot::config::ThreadMode::Single;
    let mut mem = MemoryReplay::load(&setup.replay_files).expect("recordings readable");
    let limit = if args.messages == 0 {
        usize::MAX
    } else {
        args.messages
    };
    let t = Instant::now();
    match args.stage.as_str() {
        "parse" => {
            let mut hs = handlers(&setup);
            let mut events = Vec::with_capacity(1 << 20);
            let n = stage_parse(&mut mem, &mut hs, &mut events, limit);
            let s = t.elapsed().as_secs_f64();
            println!(
                "stage parse: messages {n} events {} in {:.1} ms ({:.0} ns/msg)",
                events.len(),
                s * 1e3,
                s * 1e9 / n as f64
            );
        }
        "book" | "core" => {
            let mut hs = handlers(&setup);
            let mut events = Vec::with_capacity(1 << 20);
            let n = stage_parse(&mut mem, &mut hs, &mut events, limit);
            let mut core = DetectionCore::new(&setup);
            let t = Instant::now();
            let mut out = Discard { to_exec: 0 };
            if args.stage == "book" {
                stage_book(&events, &mut core);
            } else {
                let ends = stage_core(&events, &mut core, &mut out);
                assert_eq!(ends as usize, n, "one message end per message");
            }
            let s = t.elapsed().as_secs_f64();
            println!(
                "stage {}: messages {n} events {} in {:.1} ms ({:.0} ns/msg); to execution {}",
                args.stage,
                events.len(),
                s * 1e3,
                s * 1e9 / n as f64,
                out.to_exec
            );
        }
        "orders" => {
            if limit != usize::MAX {
                if let Some(rp) = setup.cfg.replay.as_mut() {
                    rp.max_messages = limit as u64;
                }
            }
            let dir = std::env::temp_dir().join(format!("arbot-stages-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            let r = arbot::engine::single::run_single_from(&setup, &dir, mem).expect("run");
            let _ = std::fs::remove_dir_all(&dir);
            // one thread, no hand-off: tick-to-order is parse + book + detection + risk gate
            // + both legs encoded and signed (+ the single path's own bookkeeping)
            let tto = r.exec.tick_to_order.summary();
            let enc = r.exec.encode.summary();
            println!(
                "compute tick-to-order (single thread, no hand-offs) p50 {} ns p99 {} ns over {} \
                 orders; encode+sign one leg p50 {} ns",
                tto.p50, tto.p99, tto.count, enc.p50
            );
            println!(
                "stage orders: messages {} orders {} in {:.1} ms",
                r.det.messages,
                r.exec.stats.orders,
                t.elapsed().as_secs_f64() * 1e3
            );
        }
        s => {
            eprintln!("unknown stage {s}: parse, book, core or orders");
            std::process::exit(2);
        }
    }
}
