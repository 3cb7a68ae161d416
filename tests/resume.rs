//! Resume from the journals (R6.7).
//!
//! - The real binary, SIGKILLed in the middle of a trading replay (20× the recorded pace, twice
//!   at different points), restarted with the same `--out`: the final journals are byte for
//!   byte an uninterrupted run's, the report and the mark-to-market PnL equal, no trade lost or
//!   counted twice.
//! - A crash right after a checkpoint with a trade in flight (its orders sent, no answer yet),
//!   half-written last lines in every journal: the trade continues where it was.
//! - Damaged journals: a clear error naming the file and line, never a panic; a half-written
//!   checkpoint line is skipped and counted; a journal shorter than its checkpoint says makes
//!   the resume fall back to an earlier checkpoint; another config is refused.
//! - Paper/live continuation: the state loaded from the journals equals the run's own.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const JOURNALS: [&str; 6] = [
    "signals.jsonl",
    "orders.jsonl",
    "fills.jsonl",
    "trades.jsonl",
    "breaker.jsonl",
    "daily.jsonl",
];

fn sets(paced: bool) -> Vec<String> {
    let mut v: Vec<String> = [
        "venues.binance-spot.balances={USDT=10000000.0,BTC=200.0}",
        "venues.binance-usdm.balances={USDT=10000000.0}",
        "venues.binance-coinm.balances={BTC=200.0}",
        "risk.max_exposure_per_venue_usd=1e7",
        "risk.max_total_exposure_usd=1e7",
        "risk.max_position_per_coin_usd=1e7",
        // the default losing streak of 10 trips the breaker; after 20 s of cooldown one probe
        // at a time: the breaker's state must come back right too
        "risk.breaker_cooldown_ns=20000000000",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if paced {
        v.push("replay.pace=\"recorded\"".into());
        v.push("replay.speed=20.0".into());
    }
    v
}

fn spawn(out: &Path, paced: bool) -> Child {
    let mut args: Vec<String> = vec![
        "run".into(),
        "--config".into(),
        common::root()
            .join("configs/replay-vip.toml")
            .display()
            .to_string(),
        "--out".into(),
        out.display().to_string(),
        "--json".into(),
    ];
    for s in sets(paced) {
        args.push("--set".into());
        args.push(s);
    }
    Command::new(env!("CARGO_BIN_EXE_arbot"))
        .args(&args)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

fn wait_exit(c: &mut Child) -> i32 {
    let t0 = Instant::now();
    loop {
        if let Some(s) = c.try_wait().unwrap() {
            return s.code().unwrap_or(-1);
        }
        assert!(t0.elapsed() < Duration::from_secs(300), "run did not end");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn count(p: &Path) -> usize {
    std::fs::read_to_string(p)
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

fn report(out: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap()
}

/// The report without what may differ between a resumed run and an uninterrupted one
/// (wall-clock figures, the config path, the resume section).
fn comparable(r: &Value) -> Value {
    let mut v = r.clone();
    let o = v.as_object_mut().unwrap();
    for k in ["latency_ns", "run", "config", "resume"] {
        o.remove(k);
    }
    v
}

fn same_outputs(a: &Path, b: &Path) {
    for f in JOURNALS {
        let (x, y) = (
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
        );
        assert!(x == y, "{f} differs from the uninterrupted run's");
    }
    let (ra, rb) = (report(a), report(b));
    assert_eq!(comparable(&ra), comparable(&rb), "report differs");
    assert_eq!(
        ra["pnl"]["mark_to_market_usd"],
        rb["pnl"]["mark_to_market_usd"]
    );
    // no trade lost or counted twice
    let ids = |p: &Path| -> Vec<u64> {
        std::fs::read_to_string(p.join("trades.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["id"]
                    .as_u64()
                    .unwrap()
            })
            .collect()
    };
    let (ia, ib) = (ids(a), ids(b));
    let mut u = ib.clone();
    u.dedup();
    assert_eq!(u.len(), ib.len(), "a trade counted twice");
    assert_eq!(ia, ib);
    assert_eq!(ib.len() as u64, rb["trades"]["attempted"].as_u64().unwrap());
}

fn uninterrupted(tag: &str) -> PathBuf {
    let out = common::tmp(tag);
    let mut c = spawn(&out, false);
    assert_eq!(wait_exit(&mut c), 0);
    out
}

#[test]
fn sigkill_in_the_middle_of_a_trading_replay_then_resume_equals_an_uninterrupted_run() {
    let reference = uninterrupted("resume-ref");
    let total = count(&reference.join("trades.jsonl"));
    assert!(total > 15, "the config trades all along: {total}");
    let out = common::tmp("resume-killed");
    // kill twice: a first run, then its resumed continuation (which catches up at full pace
    // and trades on at 20x); the last restart goes at full pace (the pace is not part of what
    // a resume must keep)
    for (k, at) in [(1, total / 4), (2, total / 2)] {
        let mut c = spawn(&out, true);
        let t0 = Instant::now();
        while count(&out.join("trades.jsonl")) < at {
            assert!(
                t0.elapsed() < Duration::from_secs(240),
                "run {k} does not trade"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        c.kill().unwrap(); // SIGKILL
        let st = c.wait().unwrap();
        assert_eq!(st.code(), None, "killed by a signal");
        let journaled = count(&out.join("trades.jsonl"));
        assert!(journaled < total, "killed before the end");
        assert!(
            !out.join("report.json").exists(),
            "no report from a killed run"
        );
        eprintln!("kill {k}: SIGKILL with {journaled} of {total} trades journaled");
    }
    let mut c = spawn(&out, false);
    assert_eq!(wait_exit(&mut c), 0, "the resumed run completes");
    let rep = report(&out);
    let res = &rep["resume"];
    assert_eq!(res["resumed"], true);
    assert_eq!(res["how"], "replay");
    eprintln!(
        "resumed from checkpoint {} at message {} ({} trades and {} signals in the journals, \
         {} trades in flight at the cut, bytes cut {}, checkpoint lines skipped {})",
        res["checkpoint_seq"],
        res["from_msg"],
        res["trades_loaded"],
        res["signals_loaded"],
        res["in_flight_at_cut"],
        res["bytes_cut"],
        res["checkpoint_lines_skipped"]
    );
    same_outputs(&reference, &out);
    // the breaker's transitions came back with the rest
    assert!(rep["risk"]["limits"]["breaker"]["trips"].as_u64().unwrap() > 0);
}

/// Run the VIP config in-process (single-thread path) into `out`.
fn run_in_process(out: &Path) -> Result<arbot::engine::RunResult, arbot::engine::EngineError> {
    let mut setup = arbot::config::load_with(
        &common::root().join("configs/replay-vip.toml"),
        &sets(false),
    )
    .unwrap();
    setup.cfg.threads.mode = arbot::config::ThreadMode::Single;
    let r = arbot::engine::run(&setup, out)?;
    let rep = arbot::report::build(&setup, "t", &r);
    std::fs::write(
        out.join("report.json"),
        serde_json::to_string_pretty(&rep).unwrap(),
    )
    .unwrap();
    Ok(r)
}

fn copy_dir(a: &Path, b: &Path) {
    let _ = std::fs::remove_dir_all(b);
    std::fs::create_dir_all(b).unwrap();
    for e in std::fs::read_dir(a).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), b.join(e.file_name())).unwrap();
    }
}

/// Crash simulation: keep `checkpoint.jsonl` up to its line `n` (1-based) and add
/// half-written lines to it and to every journal.
fn crash_after_checkpoint(dir: &Path, n: usize) {
    let ck = std::fs::read_to_string(dir.join("checkpoint.jsonl")).unwrap();
    let mut kept: String = ck.lines().take(n).map(|l| format!("{l}\n")).collect();
    kept.push_str("{\"seq\":99,\"ms");
    std::fs::write(dir.join("checkpoint.jsonl"), kept).unwrap();
    for f in &JOURNALS[..5] {
        let mut b = std::fs::read(dir.join(f)).unwrap();
        b.extend_from_slice(b"{\"half\":");
        std::fs::write(dir.join(f), b).unwrap();
    }
    let _ = std::fs::remove_file(dir.join("report.json"));
    let _ = std::fs::remove_file(dir.join("daily.jsonl"));
}

#[test]
fn a_trade_in_flight_at_the_cut_continues_and_damaged_journals_are_refused_clearly() {
    let reference = common::tmp("resume-inproc-ref");
    run_in_process(&reference).unwrap();
    // a checkpoint with a trade in flight: its orders sent, their answers after the cut
    let cks: Vec<Value> = std::fs::read_to_string(reference.join("checkpoint.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (n, ck) = cks
        .iter()
        .enumerate()
        .find(|(_, c)| {
            c["in_flight"].as_u64().unwrap() > 0 && c["trades_done"].as_u64().unwrap() > 5
        })
        .expect("a checkpoint with a trade in flight");
    let out = common::tmp("resume-inflight");
    copy_dir(&reference, &out);
    crash_after_checkpoint(&out, n + 1);
    let r = run_in_process(&out).unwrap();
    assert_eq!(r.resume.in_flight_at_cut, 1);
    assert_eq!(r.resume.from_msg, ck["msg"].as_u64().unwrap());
    assert_eq!(
        r.resume.checkpoint_lines_skipped, 1,
        "the half-written checkpoint line"
    );
    assert!(
        !r.resume.open_orders.is_empty(),
        "orders in flight at the cut"
    );
    for f in &JOURNALS[..5] {
        assert!(
            r.resume.bytes_cut[*f] > 0,
            "{f}: lines after the cut and the half line"
        );
    }
    same_outputs(&reference, &out);

    // a damaged line before the cut: a clear error with the file and line
    let bad = common::tmp("resume-corrupt");
    copy_dir(&reference, &bad);
    let s = std::fs::read_to_string(bad.join("signals.jsonl")).unwrap();
    let mut lines: Vec<&str> = s.lines().collect();
    // same length, so the last checkpoint still fits the file (a shorter file makes the
    // resume fall back to an earlier checkpoint that fits, and re-derive the rest)
    let damaged = format!("X{}", &lines[2][1..]);
    assert_eq!(damaged.len(), lines[2].len());
    lines[2] = &damaged;
    std::fs::write(bad.join("signals.jsonl"), lines.join("\n") + "\n").unwrap();
    let e = run_in_process(&bad).err().expect("refused").to_string();
    assert!(e.contains("signals.jsonl line 3"), "{e}");

    // a journal line that parses but does not match what the data gives
    let edited = common::tmp("resume-edited");
    copy_dir(&reference, &edited);
    let s = std::fs::read_to_string(edited.join("trades.jsonl")).unwrap();
    let first = s.lines().next().unwrap().to_string();
    // same length (an edit that moves the line ends makes the resume fall back to an earlier
    // checkpoint that still fits, and re-derive what follows)
    let changed = first.replacen("\"status\":\"filled\"", "\"status\":\"missed\"", 1);
    assert_ne!(first, changed);
    std::fs::write(edited.join("trades.jsonl"), s.replacen(&first, &changed, 1)).unwrap();
    let e = run_in_process(&edited).err().expect("refused").to_string();
    assert!(e.contains("trades.jsonl") && e.contains("line 1"), "{e}");

    // a journal shorter than its last checkpoint says (lost writes): an earlier cut that fits
    let short = common::tmp("resume-short");
    copy_dir(&reference, &short);
    let t = std::fs::read(short.join("trades.jsonl")).unwrap();
    let cut = t.len() - 200;
    std::fs::write(short.join("trades.jsonl"), &t[..cut]).unwrap();
    let r = run_in_process(&short).unwrap();
    assert!(r.resume.checkpoint_lines_skipped > 0);
    same_outputs(&reference, &short);

    // a missing journal: only the cuts from before it had lines fit
    let missing = common::tmp("resume-missing");
    copy_dir(&reference, &missing);
    std::fs::remove_file(missing.join("fills.jsonl")).unwrap();
    run_in_process(&missing).unwrap();
    same_outputs(&reference, &missing);

    // another config: refused before anything is touched
    let other = common::tmp("resume-other-config");
    copy_dir(&reference, &other);
    let mut setup = arbot::config::load_with(
        &common::root().join("configs/replay-vip.toml"),
        &sets(false),
    )
    .unwrap();
    setup.cfg.risk.max_consecutive_losses = 5;
    assert_eq!(setup.cfg.risk.breaker_cooldown_ns, 20_000_000_000);
    let e = arbot::engine::run(&setup, &other)
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("another config") && e.contains("--fresh"), "{e}");
}

#[test]
fn paper_continuation_loads_the_state_the_journals_give() {
    let out = common::tmp("resume-paper-state");
    let r = run_in_process(&out).unwrap();
    // the same journals, opened as a paper/live run opens them
    let mut setup = arbot::config::load_with(
        &common::root().join("configs/replay-vip.toml"),
        &sets(false),
    )
    .unwrap();
    setup.cfg.mode = arbot::config::Mode::Paper;
    let mut p = arbot::resume::prepare(&setup, &out).unwrap();
    assert_eq!(p.info.how, "continue");
    assert!(p.catch_up.is_none());
    let mut core = arbot::engine::core::DetectionCore::new(&setup);
    p.install(&mut core);
    assert!(
        core.risk.same_holdings(&r.det.risk),
        "balances and positions"
    );
    assert!(core.pnl.same_flows(&r.det.pnl), "cash flows");
    assert_eq!(core.trades, r.det.trades, "trade totals");
    assert_eq!(core.signal_status, r.det.signal_status, "signal counts");
    let (a, b) = (core.risk.limits.snapshot(), r.det.risk.limits.snapshot());
    assert_eq!(
        (
            a.state,
            a.trips,
            a.hwm_e8,
            a.day_start_e8,
            a.consecutive_losses
        ),
        (
            b.state,
            b.trips,
            b.hwm_e8,
            b.day_start_e8,
            b.consecutive_losses
        ),
        "breaker and loss limits"
    );
    assert_eq!(
        core.risk.limits.rate.counts(r.det.market.now_ns),
        r.det.risk.limits.rate.counts(r.det.market.now_ns),
        "trade-rate counters"
    );
    assert!(p.info.open_orders.is_empty());
}
