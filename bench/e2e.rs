//! End-to-end latency harness (R7.2): the real pipeline on the real recordings.
//!
//! `cargo bench --bench e2e` (full) or `cargo bench --bench e2e -- --quick` (CI, < 1 min).
//!
//! It runs [`arbot::engine::run_replay`] — the production threads: replay reader → byte ring →
//! feed thread(s) (Binance parse + book sync) → SPSC → detection (books, spatial detection,
//! risk gate, fill simulator) → SPSC → execution (order encoding + HMAC signing) — on the three
//! Binance recordings of `../shared/data/binance/`, in three scenarios:
//!
//! - `throughput`: as fast as possible, no limit on messages in flight: messages/s of the whole
//!   pipeline (latency then includes the backlog the replay itself creates);
//! - `latency`: as fast as possible with one message in the pipeline at a time (like a live feed
//!   whose messages arrive ~2 ms apart): per-stage latency without self-made queueing;
//! - `recorded`: at the recorded pace (a slice with `--quick`): idle gaps as on a live feed, so
//!   the wait strategy's wake-up cost shows.
//!
//! Stages (ns, raw-counter stamps, see `src/engine.rs`): `feed_parse` (hand-off to the feed
//! thread → events pushed), `md_queue` (pushed → dequeued by detection), `tick_to_detect`,
//! `tick_to_signal` and its split over the messages that signalled (`signal_parse`,
//! `signal_queue`, `signal_detect`), `intent_queue` (signal → intent dequeued by execution), `order_encode`
//! (one leg's request built + signed), `tick_to_order` (hand-off → both legs' signed bytes
//! ready). The hand-off is when the feed thread takes the raw message, i.e. after the socket
//! read / TLS / WebSocket framing a live feed would add (see `performance.md` for those).
//!
//! Output: a table per scenario, per-stage HdrHistogram percentile-distribution files
//! (`<out>/<scenario>/<stage>.hgrm`, values in µs), and — last line — one JSON object:
//! `{"tick_to_order_ns": {...}, "msgs_per_s": ..., "stages": {...}, ...}`.
//!
//! Replay differs from a live run in one way that shows here: for determinism the detection
//! thread lets data time pass a simulated order's arrival only after the execution thread has
//! answered everything it was sent (fills go through execution), so the message after a trade
//! can wait for one extra thread round trip; live and paper runs do not wait.
//!
//! Exit status: 0 if every scenario ran and accounted for every message; 1 otherwise.
#![forbid(unsafe_code)]

use arbot::config::{self, Setup};
use arbot::engine::RunResult;
use arbot::feed::VenueCounters;
use arbot::replay::Pace;
use arbot::stats::Latency;
use arbot::tools::tuning_check::{self, CoreMap, Host, MachineFacts};
use arbot::wait::WaitKind;
use clap::Parser;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// End-to-end latency benchmark on the recorded Binance data.
#[derive(Parser, Debug)]
#[command(name = "e2e")]
struct Args {
    /// CI mode: recorded pace on a slice only; finishes in well under a minute.
    #[arg(long)]
    quick: bool,
    /// Benchmark config (thresholds open so that signals reach order encoding).
    #[arg(long, default_value = "bench/configs/e2e.toml")]
    config: PathBuf,
    /// Core map of this machine (tuning/coremaps/<machine>.toml): thread cores and wait.
    #[arg(long)]
    coremap: Option<PathBuf>,
    /// Override the wait strategy: spin, spin-yield or park.
    #[arg(long)]
    wait: Option<String>,
    /// Keep `wait = spin` even with fewer free CPUs than spinning threads.
    #[arg(long)]
    force_spin: bool,
    /// Output directory (histogram files, run logs).
    #[arg(long, default_value = "out/bench")]
    out: PathBuf,
    /// Messages replayed at recorded pace (0 = the whole recording, ~6 min at speed 1).
    /// Default: 8000 (~15 s of data) with --quick, else 0.
    #[arg(long)]
    recorded_messages: Option<u64>,
    /// Speed-up of the recorded pace (2.0 = twice as fast).
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Scenarios to run, comma-separated (throughput, latency, recorded). Default: all.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
    /// Benchmark-name filters passed by `cargo bench NAME`: run only if one matches "e2e".
    #[arg(hide = true)]
    filters: Vec<String>,
}

struct Scenario {
    name: &'static str,
    what: String,
    pace: Pace,
    speed: f64,
    lead: u64,
    max_messages: u64,
}

fn stage_hists(r: &RunResult) -> [(&'static str, &Latency); 10] {
    let l = &r.det.lat;
    let e = &r.exec;
    [
        ("feed_parse", &l.feed),
        ("md_queue", &l.md_queue),
        ("tick_to_detect", &l.tick_to_detect),
        ("tick_to_signal", &l.tick_to_signal),
        ("signal_parse", &l.signal_parse),
        ("signal_queue", &l.signal_queue),
        ("signal_detect", &l.signal_detect),
        ("intent_queue", &e.intent_hop),
        ("order_encode", &e.encode),
        ("tick_to_order", &e.tick_to_order),
    ]
}

/// Where tick-to-order time goes, for the messages that led to an order, from the medians of
/// each stage over those messages (separate distributions, so they add up only roughly; the
/// signed remainder says how far): parse, ring hop to detection (with waiting), book updates +
/// detection up to the signal, signal → execution (risk gate, ring hop, wake-up), both legs
/// encoded and signed.
fn budget(r: &RunResult) -> Vec<(&'static str, i64)> {
    let l = &r.det.lat;
    let p = |x: &Latency| x.summary().p50 as i64;
    let parts = [
        ("feed_parse", p(&l.signal_parse)),
        ("md_queue", p(&l.signal_queue)),
        ("book_and_detect", p(&l.signal_detect)),
        ("risk_gate_and_hop_to_exec", p(&r.exec.intent_hop)),
        ("encode_sign_both_legs", 2 * p(&r.exec.encode)),
    ];
    let order = p(&r.exec.tick_to_order);
    let sum: i64 = parts.iter().map(|(_, v)| v).sum();
    let mut v = parts.to_vec();
    v.push(("remainder", order - sum));
    v.push(("tick_to_order", order));
    v
}

fn summary_json(l: &Latency) -> Value {
    let s = l.summary();
    json!({"count": s.count, "p50": s.p50, "p90": s.p90, "p99": s.p99, "p999": s.p999,
           "p9999": s.p9999, "max": s.max, "mean": s.mean})
}

fn load_setup(path: &Path, root: &Path) -> Result<Setup, String> {
    let p = if path.is_absolute() || path.exists() {
        path.to_path_buf()
    } else {
        root.join(path)
    };
    let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
    let cfg = config::parse(&text, &p.display().to_string()).map_err(|e| e.to_string())?;
    // data paths in bench configs are relative to the repository root
    config::resolve(cfg, root).map_err(|e| format!("{}: {e}", p.display()))
}

fn expected_messages(setup: &Setup, limit: u64) -> Result<u64, String> {
    let mut n = 0u64;
    for f in &setup.replay_files {
        let file =
            std::fs::File::open(&f.path).map_err(|e| format!("{}: {e}", f.path.display()))?;
        let mut rd = std::io::BufReader::new(flate2::read::MultiGzDecoder::new(file));
        let mut line = Vec::new();
        use std::io::BufRead;
        loop {
            line.clear();
            let k = rd
                .read_until(b'\n', &mut line)
                .map_err(|e| format!("{}: {e}", f.path.display()))?;
            if k == 0 {
                break;
            }
            if line.iter().any(|b| !b.is_ascii_whitespace()) {
                n += 1;
            }
        }
    }
    Ok(if limit > 0 { n.min(limit) } else { n })
}

fn machine_lines(f: &MachineFacts, setup: &Setup, map: Option<&str>, notes: &[String]) -> String {
    let mut s = format!(
        "machine: {} — {} logical CPUs, {} usable ({}), {} NUMA node(s){}, kernel {}, load average {}\n",
        f.cpu_model,
        f.logical_cpus,
        f.allowed_count,
        f.allowed_cpus,
        f.numa_nodes,
        if f.hypervisor { ", VIRTUAL MACHINE" } else { "" },
        f.kernel,
        f.loadavg
    );
    s.push_str(&format!(
        "host tuning: isolated cores {}, nohz_full {}, governor {} (full check: arbot tuning-check)\n",
        f.isolated_cpus, f.nohz_full_cpus, f.governor
    ));
    let feeds: Vec<String> = setup
        .feeds
        .iter()
        .map(|(n, vs, c)| {
            format!(
                "{n}[{}]@{}",
                vs.len(),
                c.map(|c| c.to_string()).unwrap_or_else(|| "any".into())
            )
        })
        .collect();
    let t = &setup.cfg.threads;
    s.push_str(&format!(
        "threads: {} feed thread(s) {}, detect@{}, exec@{}, replay reader and logger unpinned; wait = {}; core map: {}\n",
        setup.feeds.len(),
        feeds.join(" "),
        t.detection_core.map(|c| c.to_string()).unwrap_or_else(|| "any".into()),
        t.execution_core.map(|c| c.to_string()).unwrap_or_else(|| "any".into()),
        t.wait.as_str(),
        map.unwrap_or("none (config layout)")
    ));
    for n in notes {
        s.push_str(&format!("  note: {n}\n"));
    }
    s
}

fn run() -> Result<bool, String> {
    let args = Args::parse();
    if !args.filters.is_empty() && !args.filters.iter().any(|f| "e2e".contains(f.as_str())) {
        println!("e2e: skipped (filter {:?})", args.filters);
        return Ok(true);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut setup = load_setup(&args.config, &root)?;
    let mut notes = Vec::new();
    let map_label = args.coremap.as_ref().map(|p| p.display().to_string());
    if let Some(p) = &args.coremap {
        let m = CoreMap::load(p)?;
        notes.extend(m.apply(&mut setup));
    }
    if let Some(w) = &args.wait {
        setup.cfg.threads.wait = match w.as_str() {
            "spin" => WaitKind::Spin,
            "spin-yield" => WaitKind::SpinYield,
            "park" => WaitKind::Park,
            other => return Err(format!("--wait {other}: expected spin, spin-yield or park")),
        };
    }
    let host = Host::system();
    let facts = tuning_check::facts(&host);
    // hot threads that would spin: feeds + detection + execution (+ the replay reader)
    let spinning = setup.feeds.len() + 2;
    if setup.cfg.threads.wait == WaitKind::Spin
        && facts.allowed_count <= spinning
        && !args.force_spin
    {
        notes.push(format!(
            "wait = spin with {spinning} hot threads + reader + logger on {} CPUs would time-share spinning threads; using spin-yield (--force-spin to insist)",
            facts.allowed_count
        ));
        setup.cfg.threads.wait = WaitKind::SpinYield;
    }
    if let Some(l1) = facts
        .loadavg
        .split_whitespace()
        .next()
        .and_then(|x| x.parse::<f64>().ok())
    {
        if l1 >= 0.5 * facts.allowed_count as f64 {
            notes.push(format!(
                "load average {l1} on {} CPUs before the run: other processes compete for the cores",
                facts.allowed_count
            ));
        }
    }
    let rec_n = args
        .recorded_messages
        .unwrap_or(if args.quick { 8000 } else { 0 });
    if !(args.speed.is_finite() && args.speed > 0.0) {
        return Err("--speed must be > 0".into());
    }
    let all = [
        Scenario {
            name: "throughput",
            what: "pace max, no limit on messages in flight (latency includes the replay's own backlog)".into(),
            pace: Pace::Max,
            speed: 1.0,
            lead: 0,
            max_messages: 0,
        },
        Scenario {
            name: "latency",
            what: "pace max, one message in the pipeline at a time (per-message latency, no self-made queueing)".into(),
            pace: Pace::Max,
            speed: 1.0,
            lead: 1,
            max_messages: 0,
        },
        Scenario {
            name: "recorded",
            what: format!(
                "recorded pace ×{} on {} (idle gaps as on a live feed)",
                args.speed,
                if rec_n == 0 {
                    "the whole recording".to_string()
                } else {
                    format!("the first {rec_n} messages")
                }
            ),
            pace: Pace::Recorded,
            speed: args.speed,
            lead: 0,
            max_messages: rec_n,
        },
    ];
    for o in &args.only {
        if !all.iter().any(|s| s.name == o) {
            return Err(format!(
                "--only {o}: expected throughput, latency or recorded"
            ));
        }
    }
    let scenarios: Vec<&Scenario> = all
        .iter()
        .filter(|s| args.only.is_empty() || args.only.iter().any(|o| o == s.name))
        .collect();

    println!(
        "arbot end-to-end benchmark{} — config {}",
        if args.quick { " (--quick)" } else { "" },
        args.config.display()
    );
    print!(
        "{}",
        machine_lines(&facts, &setup, map_label.as_deref(), &notes)
    );
    let shared = facts.shared_machine();
    if shared {
        println!(
            "NOT COLOCATION NUMBERS: {}; threads share CPUs with each other and with other work, so expect tails far above an isolated box's",
            facts.shared_reasons().join(", ")
        );
    }
    let d = &setup.cfg.detection;
    let thresholds = format!(
        "min net spread {} bps, min profit {} USD, min depth {} USD, min confidence {}, re-entry cooldown {} ms, taker fees {:?} bps",
        d.min_net_spread_bps,
        d.min_profit_usd,
        d.min_depth_usd,
        d.min_confidence,
        d.reentry_cooldown_ns / 1_000_000,
        setup.venues.iter().map(|v| v.cfg.taker_fee_bps).collect::<Vec<_>>()
    );
    println!(
        "thresholds: {thresholds} — set so that crossed books reach the risk gate and order encoding: this EXERCISES THE ORDER PATH, it is not a trading config; the pipeline code is the production code"
    );

    println!(
        "replay lockstep: detection waits for execution's answers before data time passes a simulated order's arrival (determinism), so messages right after a trade can include one extra thread round trip; live/paper runs do not wait"
    );
    let full_n = expected_messages(&setup, 0)?;
    let mut ok = true;
    let mut results = serde_json::Map::new();
    let mut headline: Option<(Value, Value)> = None;
    let mut msgs_per_s: Option<f64> = None;
    let mut pinned_all = Vec::new();
    for sc in scenarios {
        let mut s = setup.clone();
        {
            let rp = s
                .cfg
                .replay
                .as_mut()
                .ok_or("bench config has no [replay] section")?;
            rp.pace = sc.pace;
            rp.speed = sc.speed;
            rp.lead_msgs = sc.lead;
            rp.max_messages = sc.max_messages;
        }
        let want = if sc.max_messages > 0 {
            full_n.min(sc.max_messages)
        } else {
            full_n
        };
        let dir = args.out.join(sc.name);
        println!("\n== {}: {}", sc.name, sc.what);
        let r = arbot::engine::run_replay(&s, &dir.join("run")).map_err(|e| e.to_string())?;
        let wall_s = r.wall_ns as f64 / 1e9;
        let mps = r.det.messages as f64 / wall_s.max(1e-9);
        let feed_full: u64 = r
            .counters
            .iter()
            .map(|c| VenueCounters::get(&c.ring_full))
            .sum();
        let signals: u64 = r.det.signal_status.iter().sum();
        println!(
            "messages {} in {:.3} s wall = {:.0} msgs/s; signals {}, intents {}, orders signed {}, trades {}",
            r.det.messages,
            wall_s,
            mps,
            signals,
            r.exec.stats.intents,
            r.exec.stats.orders,
            r.det.trades.attempted
        );
        println!(
            "queue full: feed→detect {}, detect→exec {}, exec→detect {}, journal records dropped {}",
            feed_full,
            r.det.exec_ring_full,
            r.exec.stats.ring_full,
            r.det.journal_dropped + r.exec.stats.journal_dropped
        );
        let pins: Vec<String> = r
            .pinned
            .iter()
            .map(|(n, c, p)| match c {
                Some(c) => format!("{n}@{c}:{}", if *p { "pinned" } else { "NOT pinned" }),
                None => format!("{n}:unpinned"),
            })
            .collect();
        println!("pinning: {}", pins.join(", "));
        pinned_all = r
            .pinned
            .iter()
            .map(|(n, c, p)| json!({"thread": n, "core": c, "pinned": p}))
            .collect();
        println!(
            "{:<15} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}   (ns)",
            "stage", "count", "p50", "p90", "p99", "p99.9", "p99.99", "max"
        );
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut stages = serde_json::Map::new();
        for (name, h) in stage_hists(&r) {
            let x = h.summary();
            println!(
                "{:<15} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}",
                name, x.count, x.p50, x.p90, x.p99, x.p999, x.p9999, x.max
            );
            let f = dir.join(format!("{name}.hgrm"));
            std::fs::write(&f, h.percentile_distribution(1000.0))
                .map_err(|e| format!("{}: {e}", f.display()))?;
            stages.insert(name.to_string(), summary_json(h));
        }
        println!(
            "percentile distributions (µs): {}/<stage>.hgrm",
            dir.display()
        );
        let budget = budget(&r);
        println!(
            "tick-to-order budget (medians of the stage distributions; they add up only roughly): {}",
            budget
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        // the run must account for every message and reach the order path
        let mut problems = Vec::new();
        if r.det.messages != want {
            problems.push(format!(
                "{} messages applied, expected {want}",
                r.det.messages
            ));
        }
        let parse_errors: u64 = r
            .counters
            .iter()
            .map(|c| VenueCounters::get(&c.parse_errors) + VenueCounters::get(&c.gaps))
            .sum();
        if parse_errors > 0 {
            problems.push(format!("{parse_errors} parse errors / gaps"));
        }
        if r.exec.tick_to_order.summary().count == 0 {
            problems.push("no order reached encoding (tick_to_order is empty)".into());
        }
        if !problems.is_empty() {
            ok = false;
            println!("FAILED: {}", problems.join("; "));
        }
        let tto = summary_json(&r.exec.tick_to_order);
        if sc.name == "latency" || headline.is_none() {
            headline = Some((tto.clone(), Value::Object(stages.clone())));
        }
        if sc.name == "throughput" || msgs_per_s.is_none() {
            msgs_per_s = Some(mps);
        }
        results.insert(
            sc.name.to_string(),
            json!({
                "what": sc.what,
                "messages": r.det.messages,
                "wall_s": wall_s,
                "msgs_per_s": mps.round(),
                "signals": signals,
                "orders": r.exec.stats.orders,
                "trades": r.det.trades.attempted,
                "queue_full": {
                    "feed_to_detect": feed_full,
                    "detect_to_exec": r.det.exec_ring_full,
                    "exec_to_detect": r.exec.stats.ring_full,
                    "journal_dropped": r.det.journal_dropped + r.exec.stats.journal_dropped,
                },
                "stages": stages,
                "budget_p50_ns": budget.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
                "hgrm_dir": dir.display().to_string(),
                "ok": problems.is_empty(),
            }),
        );
    }
    let after = tuning_check::facts(&host);
    let (tto, stages) = headline.unwrap_or((Value::Null, Value::Null));
    let out = json!({
        "tick_to_order_ns": tto,
        "msgs_per_s": msgs_per_s.map(|x| x.round()),
        "stages": stages,
        "scenarios": results,
        "machine": {
            "cpu_model": facts.cpu_model,
            "logical_cpus": facts.logical_cpus,
            "usable_cpus": facts.allowed_cpus,
            "hypervisor": facts.hypervisor,
            "isolated_cpus": facts.isolated_cpus,
            "nohz_full_cpus": facts.nohz_full_cpus,
            "governor": facts.governor,
            "loadavg_before": facts.loadavg,
            "loadavg_after": after.loadavg,
            "wait": setup.cfg.threads.wait.as_str(),
            "threads": pinned_all,
            "coremap": map_label,
            "colocation_numbers": !shared,
            "note": if shared { format!("not colocation numbers: {}", facts.shared_reasons().join(", ")) } else { "isolated cores".to_string() },
        },
        "thresholds": format!("{thresholds}: exercises the order path, not a trading config"),
        "quick": args.quick,
        "ok": ok,
    });
    println!();
    println!("{}", headline_first(&out).map_err(|e| e.to_string())?);
    Ok(ok)
}

/// The summary as one JSON line with `tick_to_order_ns`, `msgs_per_s` and `stages` first
/// (serde_json sorts object keys), then the rest.
fn headline_first(v: &Value) -> Result<String, serde_json::Error> {
    let mut rest = v.as_object().cloned().unwrap_or_default();
    let mut s = String::from("{");
    for k in ["tick_to_order_ns", "msgs_per_s", "stages"] {
        let x = rest.remove(k).unwrap_or(Value::Null);
        s.push_str(&format!(
            "{}:{},",
            serde_json::to_string(k)?,
            serde_json::to_string(&x)?
        ));
    }
    if rest.is_empty() {
        s.pop();
        s.push('}');
    } else {
        let tail = serde_json::to_string(&Value::Object(rest))?;
        s.push_str(&tail[1..]);
    }
    Ok(s)
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("e2e: {e}");
            ExitCode::from(1)
        }
    }
}
