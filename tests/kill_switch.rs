//! The kill switch and a clean stop (R4.5, R6.7) on the real binary, in the middle of a
//! trading replay at 20× the recorded pace: the kill-switch file appearing, SIGUSR1 and SIGTERM
//! each stop the run; every order ends in a final state (none left open), nothing is sent after
//! the stop, the journals and the report are written and say why.
//!
//! (The simulated cancel of orders still on their way is checked deterministically in
//! `engine::core`'s unit tests: `a_stop_cancels_the_orders_on_their_way_and_sends_nothing_more`.)

mod common;

use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

fn spawn(out: &Path) -> Child {
    spawn_with(out, &[])
}

/// `extra`: more `--set` overrides.
fn spawn_with(out: &Path, extra: &[String]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_arbot"))
        .args([
            "run",
            "--config",
            common::root()
                .join("configs/replay-vip.toml")
                .to_str()
                .unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--json",
            "--set",
            "venues.binance-spot.balances={USDT=10000000.0,BTC=200.0}",
            "--set",
            "venues.binance-usdm.balances={USDT=10000000.0}",
            "--set",
            "venues.binance-coinm.balances={BTC=200.0}",
            "--set",
            "risk.max_exposure_per_venue_usd=1e7",
            "--set",
            "risk.max_total_exposure_usd=1e7",
            "--set",
            "risk.max_position_per_coin_usd=1e7",
            "--set",
            "risk.max_consecutive_losses=1000000",
            "--set",
            "replay.pace=\"recorded\"",
            "--set",
            "replay.speed=20.0",
        ])
        .args(extra.iter().flat_map(|e| ["--set", e.as_str()]))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

fn lines(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Wait until `n` trades are journaled (the run is trading), at most 120 s.
fn wait_trades(out: &Path, n: usize) {
    let t0 = Instant::now();
    while lines(&out.join("trades.jsonl")).len() < n {
        assert!(t0.elapsed() < Duration::from_secs(120), "no trades");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_exit(c: &mut Child) -> i32 {
    let t0 = Instant::now();
    loop {
        if let Some(s) = c.try_wait().unwrap() {
            return s.code().unwrap_or(-1);
        }
        if t0.elapsed() > Duration::from_secs(120) {
            let _ = c.kill();
            panic!("the run did not stop");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every order's transitions end in a final state; returns (orders, final states by name).
fn every_order_final(out: &Path) -> (usize, HashMap<String, usize>) {
    let mut last: HashMap<String, String> = HashMap::new();
    for o in lines(&out.join("orders.jsonl")) {
        last.insert(
            o["client_order_id"].to_string(),
            o["state"].as_str().unwrap().into(),
        );
    }
    let mut by = HashMap::new();
    for (id, s) in &last {
        assert!(
            matches!(s.as_str(), "filled" | "cancelled" | "rejected" | "expired"),
            "order {id} left {s}"
        );
        *by.entry(s.clone()).or_insert(0) += 1;
    }
    (last.len(), by)
}

fn check_stopped(out: &Path, cause: &str) -> Value {
    let rep: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(rep["stop"]["stopped_by"], cause, "{}", rep["stop"]);
    assert_eq!(rep["risk"]["in_flight_at_end"], 0);
    let applied = rep["data"]["messages_applied"].as_u64().unwrap();
    assert!(
        applied < 183_473,
        "stopped before the end of the data: {applied}"
    );
    // the stop is a breaker transition to `stopped`, journaled with its message
    let b = lines(&out.join("breaker.jsonl"));
    let last = b.last().expect("a breaker line");
    assert_eq!(
        (last["to"].as_str(), last["cause"].as_str()),
        (Some("stopped"), Some(cause))
    );
    let at = last["ts_ns"].as_u64().unwrap();
    // nothing sent after it, every order final
    for o in lines(&out.join("orders.jsonl")) {
        if o["state"] == "sent" {
            assert!(
                o["ts_ns"].as_u64().unwrap() <= at,
                "sent after the stop: {o}"
            );
        }
    }
    let (n, by) = every_order_final(out);
    assert!(n > 0, "the run traded before the stop");
    let trades = lines(&out.join("trades.jsonl"));
    assert_eq!(
        trades.len() as u64,
        rep["trades"]["attempted"].as_u64().unwrap()
    );
    eprintln!(
        "{cause}: stopped at message {applied}, {} trades, {n} orders all final {by:?}, report written",
        trades.len()
    );
    rep
}

fn tmp(tag: &str) -> PathBuf {
    common::tmp(tag)
}

#[test]
fn the_kill_switch_file_stops_a_trading_replay() {
    let out = tmp("kill-file");
    let mut c = spawn(&out);
    wait_trades(&out, 3);
    std::fs::write(out.join("KILL"), b"stop").unwrap();
    assert_eq!(wait_exit(&mut c), 0);
    check_stopped(&out, "kill_switch_file");
}

#[test]
fn sigusr1_kills_and_sigterm_stops_cleanly() {
    for (sig, cause, tag) in [
        (libc::SIGUSR1, "kill_signal", "kill-usr1"),
        (libc::SIGTERM, "terminate", "stop-term"),
    ] {
        let out = tmp(tag);
        let mut c = spawn(&out);
        wait_trades(&out, 2);
        // SAFETY: kill(2) on the child we spawned and still own; no memory is involved.
        assert_eq!(unsafe { libc::kill(c.id() as i32, sig) }, 0);
        assert_eq!(wait_exit(&mut c), 0);
        check_stopped(&out, cause);
    }
}

#[test]
fn a_kill_switch_file_present_at_start_stops_before_any_trade() {
    // `run.kill_switch_file` set to a path elsewhere (absolute)
    let file = tmp("kill-at-start-file").join("arbot.kill");
    let set = format!("run.kill_switch_file={:?}", file.display().to_string());
    let fast = [
        set.clone(),
        "replay.pace=\"max\"".to_string(),
        "replay.max_messages=30000".to_string(),
    ];
    std::fs::write(&file, b"").unwrap();
    let out = tmp("kill-at-start");
    let mut c = spawn_with(&out, &fast);
    assert_eq!(wait_exit(&mut c), 0);
    let rep: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(rep["stop"]["stopped_by"], "kill_switch_file");
    assert_eq!(rep["trades"]["attempted"], 0);
    // with the setting pointing there, a `KILL` in the output directory is not the switch
    std::fs::remove_file(&file).unwrap();
    let out = tmp("kill-elsewhere");
    std::fs::write(out.join("KILL"), b"").unwrap();
    let mut c = spawn_with(&out, &fast);
    assert_eq!(wait_exit(&mut c), 0);
    let rep: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(rep["stop"]["stopped_by"], Value::Null);
    assert!(rep["trades"]["attempted"].as_u64().unwrap() > 0);
}
