//! Backtest speed: the single-thread replay path on the three shared Binance recordings.
//!
//! `cargo bench --bench backtest [-- --passes N --main-runs N --skip-main]`
//!
//! 1. **In memory**: the three recordings of `configs/replay.toml` (spot, USDⓈ-M and COIN-M
//!    BTC, 2024-08-08, 183,473 messages) are read, inflated and merged once into a
//!    [`MemoryReplay`]; then each pass runs the single-thread path
//!    ([`arbot::engine::single::run_single_from`]: Binance parse + book-sync rules, L2 books,
//!    spatial detection, risk gate, fill simulator and execution step on one thread; journals on
//!    the cold logger thread) over it from start to end, whole call timed (setup, logger thread
//!    and result included). Printed: messages per second, median and best pass.
//! 2. **Parse + sync only**: the same messages through the venue handlers alone (events into a
//!    vector), to show what parsing costs of the whole.
//! 3. **Main job**: the built `arbot` binary running `run --config configs/replay.toml --fresh`
//!    (process start, config, gzip inflation, replay, report and journals written), wall time.
//!
//! Last line: one JSON object with every figure. Wall-clock figures on a shared VM move
//! ±50 % between runs; `bench/callgrind.sh` gives instruction counts per message.
#![forbid(unsafe_code)]

use arbot::event::MdEvent;
use arbot::feed::{EventSink, VenueCounters, VenueHandler};
use arbot::replay::{MemoryReplay, MergedSource};
use clap::Parser;
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Single-thread backtest throughput on the shared Binance recordings.
#[derive(Parser, Debug)]
#[command(name = "backtest")]
struct Args {
    /// Config whose replay files and venues are used.
    #[arg(long, default_value = "configs/replay.toml")]
    config: PathBuf,
    /// In-memory passes (the median is reported).
    #[arg(long, default_value_t = 11)]
    passes: usize,
    /// Runs of the main job through the binary (the median is reported).
    #[arg(long, default_value_t = 5)]
    main_runs: usize,
    /// Skip the main-job runs.
    #[arg(long)]
    skip_main: bool,
    /// Output directory of the runs.
    #[arg(long, default_value = "out/bench/backtest")]
    out: PathBuf,
    /// Replay only the files of these venues (repeatable; default: every file of the config).
    #[arg(long)]
    venue: Vec<String>,
    /// Ignored (cargo bench passes `--bench`).
    #[arg(long, hide = true)]
    bench: bool,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let args = Args::parse();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let cfg_path = root.join(&args.config);
    let mut setup = arbot::config::load(&cfg_path).unwrap_or_else(|e| panic!("{e}"));
    setup.cfg.threads.mode = arbot::config::ThreadMode::Single;
    if !args.venue.is_empty() {
        let names: Vec<String> = setup.venues.iter().map(|v| v.name.clone()).collect();
        for v in &args.venue {
            assert!(
                names.contains(v),
                "--venue {v}: not in the config ({names:?})"
            );
        }
        setup
            .replay_files
            .retain(|f| args.venue.contains(&names[f.venue.idx()]));
    }
    let t = Instant::now();
    let mem = MemoryReplay::load(&setup.replay_files).expect("recordings readable");
    let load_s = t.elapsed().as_secs_f64();
    let n = mem.len();
    println!(
        "input: {} messages, {:.1} MB of payload, read + inflated + merged in {:.3} s ({})",
        n,
        mem.payload_bytes() as f64 / 1e6,
        load_s,
        args.config.display()
    );

    // 1. the single-thread path over memory
    let out = root.join(&args.out);
    let mut secs = Vec::with_capacity(args.passes);
    for p in 0..args.passes.max(1) {
        let dir = out.join(format!("mem-{p}"));
        let _ = std::fs::remove_dir_all(&dir);
        let t = Instant::now();
        let r = arbot::engine::single::run_single_from(&setup, &dir, mem.clone())
            .expect("single-thread run");
        secs.push(t.elapsed().as_secs_f64());
        assert_eq!(
            r.det.messages as usize, n,
            "every message reached detection"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
    let best = secs.iter().cloned().fold(f64::INFINITY, f64::min);
    let med = median(&mut secs);
    println!(
        "single-thread path, in memory (parse + sync + book + detect + risk, journals on the \
         cold thread): median {:.1} ms = {:.2} M msgs/s; best {:.1} ms = {:.2} M msgs/s ({} passes)",
        med * 1e3,
        n as f64 / med / 1e6,
        best * 1e3,
        n as f64 / best / 1e6,
        secs.len()
    );

    // 2. handlers only
    let counters: Vec<Arc<VenueCounters>> = setup
        .venues
        .iter()
        .map(|_| Arc::new(VenueCounters::default()))
        .collect();
    let mut events: Vec<MdEvent> = Vec::with_capacity(1 << 10);
    let mut psecs = Vec::new();
    let mut n_events = 0u64;
    for _ in 0..args.passes.max(1) {
        let mut handlers: Vec<Box<dyn VenueHandler>> = setup
            .venues
            .iter()
            .map(|v| setup.handler(v.id, counters[v.id.idx()].clone()).unwrap())
            .collect();
        let mut src = mem.clone();
        n_events = 0;
        let t = Instant::now();
        while let Some((venue, meta, payload)) = src.peek() {
            events.clear();
            let h = &mut handlers[venue.idx()];
            let mut sink = EventSink::to_vec(&mut events);
            sink.begin(venue, &meta, 0);
            h.on_message(payload, &meta, &mut sink);
            sink.end();
            n_events += events.len() as u64;
            src.advance(true).unwrap();
        }
        psecs.push(t.elapsed().as_secs_f64());
    }
    let pmed = median(&mut psecs);
    println!(
        "venue handlers only (parse + book-sync rules, {} events): median {:.1} ms = {:.2} M msgs/s",
        n_events,
        pmed * 1e3,
        n as f64 / pmed / 1e6
    );

    // 3. the main job through the binary
    let mut main_s = Vec::new();
    if !args.skip_main {
        let bin = env!("CARGO_BIN_EXE_arbot");
        let dir = out.join("main");
        for _ in 0..args.main_runs.max(1) {
            let t = Instant::now();
            let st = std::process::Command::new(bin)
                .current_dir(&root)
                .args(["run", "--config"])
                .arg(&args.config)
                .arg("--out")
                .arg(&dir)
                .arg("--fresh")
                .stdout(std::process::Stdio::null())
                .status()
                .expect("arbot binary runs");
            main_s.push(t.elapsed().as_secs_f64());
            assert!(st.success(), "main job failed: {st}");
        }
        let m = median(&mut main_s.clone());
        println!(
            "main job (`arbot run --config {} --fresh`, gzip included): median {:.3} s = {:.2} M msgs/s; runs {:?}",
            args.config.display(),
            m,
            n as f64 / m / 1e6,
            main_s.iter().map(|s| (s * 1000.0).round() / 1000.0).collect::<Vec<_>>()
        );
    }
    let main_med = if main_s.is_empty() {
        None
    } else {
        Some(median(&mut main_s.clone()))
    };
    println!(
        "{}",
        json!({
            "messages": n,
            "in_memory_msgs_per_s": (n as f64 / med).round(),
            "in_memory_best_msgs_per_s": (n as f64 / best).round(),
            "handlers_only_msgs_per_s": (n as f64 / pmed).round(),
            "main_job_s": main_med,
            "main_job_msgs_per_s": main_med.map(|m| (n as f64 / m).round()),
        })
    );
}
