//! Live mode end to end, with no internet and no real money: `arbot replay-server` is a
//! Binance exchange (the three recordings of `configs/live-loopback.toml` as its books,
//! signed REST order entry, accounts, user-data streams) and `arbot run --live` trades
//! against it through its real live path: HMAC-signed orders over keep-alive HTTP, the user
//! stream, the venue clock offset, the rate budget, cancels and queries of orders in doubt,
//! and the end-of-run reconciliation.
//!
//! One run carries one of each order fault the exchange can inject (a 503 after the order
//! was placed, a swallowed request, a connection closed without an answer, fills only on the
//! user stream, a partial fill, a 429, a reject) plus a clock 2 s ahead of ours. What must
//! hold afterwards, each checked against the exchange's own ledger (`--ledger-out`), not the
//! engine's word:
//! - every fault fired;
//! - no order of ours is open on the exchange;
//! - the engine's reconciliation says OK: per venue and asset, the balance change the
//!   exchange reports equals the change the engine's fills and fees make; positions equal;
//! - per order, the engine's final journal row (`orders.jsonl`) has the exchange's executed
//!   quantity and notional;
//! - the orders the exchange received are exactly those the engine journals as sent.
//!
//! Keys: the public key pair of Binance's signing examples (the loopback exchange's default),
//! given to the engine through the environment as a real run would.

use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

const KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";

fn jsonl(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// One live run against the loopback exchange: its outputs.
struct LiveRun {
    dir: std::path::PathBuf,
    run_dir: std::path::PathBuf,
    ledger: std::path::PathBuf,
    report: Value,
    /// The exchange's end-of-run summary line.
    stats: Value,
    summary: String,
    stderr: String,
}

/// Start `arbot replay-server` as the exchange (with `server_args`, e.g. order faults) on a
/// free port and run `arbot run --live` of `configs/live-loopback.toml` against it.
fn live_run(tag: &str, speed: &str, risk: &str, server_args: &[&str]) -> LiveRun {
    // one live run at a time: each is an exchange and an engine in real time, and two at once
    // on a 2-core machine change what the runs trade (the fault test needs its 16 orders)
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let bin = env!("CARGO_BIN_EXE_arbot");
    let dir = std::env::temp_dir().join(format!("arbot-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ledger = dir.join("ledger.jsonl");
    let mut server = Command::new(bin)
        .args(["replay-server", "--config", "configs/live-loopback.toml"])
        .args(["--bind", "127.0.0.1:0", "--speed", speed, "--linger-s", "8"])
        .arg("--ledger-out")
        .arg(&ledger)
        .args(server_args)
        .env("ARBOT_LOOPBACK_API_KEY", KEY)
        .env("ARBOT_LOOPBACK_API_SECRET", SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start replay-server");
    let mut out = BufReader::new(server.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening ws://")
        .unwrap_or_else(|| panic!("replay-server said {line:?}"))
        .to_string();
    let cfg = std::fs::read_to_string("configs/live-loopback.toml")
        .unwrap()
        .replace("127.0.0.1:9901", &addr)
        .replace("\n[risk]", &format!("\n[risk]\n{risk}"));
    let cfg_path = dir.join("live.toml");
    std::fs::write(&cfg_path, cfg).unwrap();
    let run_dir = dir.join("run");
    let engine = Command::new(bin)
        .args(["run", "--live", "--config"])
        .arg(&cfg_path)
        .arg("--out")
        .arg(&run_dir)
        .env("ARBOT_BINANCE_API_KEY", KEY)
        .env("ARBOT_BINANCE_API_SECRET", SECRET)
        .output()
        .expect("run the engine");
    let summary = String::from_utf8_lossy(&engine.stdout).to_string();
    let stderr = String::from_utf8_lossy(&engine.stderr).to_string();
    let server_status = server.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(
        engine.status.success(),
        "engine failed: {summary}\n{stderr}"
    );
    assert!(server_status.success(), "replay-server failed: {rest}");
    let stats: Value = serde_json::from_str(rest.lines().last().unwrap()).unwrap();
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["mode"], "live", "{summary}");
    LiveRun {
        dir,
        run_dir,
        ledger,
        report,
        stats,
        summary,
        stderr,
    }
}

#[test]
fn live_run_against_the_loopback_exchange_reconciles_through_every_order_fault() {
    // faults on order requests N (every market counts): one of each kind, and the exchange's
    // clock 2 s ahead
    let faults: &[&str] = &[
        "--order-503",
        "2",
        "--swallow-order",
        "4",
        "--disconnect-order",
        "6",
        "--stream-only-fill",
        "8",
        "--partial-fill-order",
        "10",
        "--order-429",
        "12",
        "--reject-order",
        "14",
        "--delay-order",
        "16",
        "--delay-ms",
        "1500",
        "--clock-skew-ms",
        "2000",
    ];
    let r = live_run(
        "live-faults",
        "20",
        // exposure limits 20x the defaults: with the defaults the one-legged trades' inventory
        // stops trading after 10-12 trades (exposure_limit refusals), how many orders that is
        // depends on which trades one-leg, and the eight faults need their 16 orders
        "max_exposure_per_venue_usd = 1_000_000.0\nmax_total_exposure_usd = 2_000_000.0",
        faults,
    );
    let (report, summary, run_dir, ledger) = (&r.report, &r.summary, &r.run_dir, &r.ledger);
    let fired: Vec<&str> = r.stats["order_faults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(
        fired.len(),
        8,
        "every order fault fires once: {fired:?}\n{summary}"
    );
    let rec = &report["live"]["reconciliation"];
    assert_eq!(
        rec["ok"],
        Value::Bool(true),
        "reconciliation: {rec:#}\n{summary}"
    );
    assert!(rec["errors"].as_array().unwrap().is_empty(), "{rec:#}");
    for v in rec["open_orders"].as_array().unwrap() {
        assert!(
            v["client_ids"].as_array().unwrap().is_empty(),
            "left open: {v}"
        );
    }
    // the rows cover every asset with a configured balance and the two futures positions
    let rows = rec["rows"].as_array().unwrap();
    assert!(rows.len() >= 6, "{rows:#?}");
    let live = &report["live"]["venues"];
    let n_orders: u64 = ["binance-spot", "binance-usdm", "binance-coinm"]
        .iter()
        .map(|v| live[v]["orders"]["orders"].as_u64().unwrap())
        .sum();
    assert!(
        n_orders >= 16,
        "the faults need 16 orders; sent {n_orders}\n{summary}"
    );
    // live latency stages, named by what they measure (the socket write is in both)
    let lat = &report["latency_ns"];
    assert!(
        lat["tick_to_wire"]["count"].as_u64().unwrap() > 0,
        "{lat:#}"
    );
    assert!(
        lat["order_encode_sign_write"]["count"].as_u64().unwrap() > 0,
        "{lat:#}"
    );
    assert!(lat.get("order_encode").is_none(), "{lat:#}");
    for v in ["binance-spot", "binance-usdm", "binance-coinm"] {
        assert_eq!(
            live[v]["orders"]["parse_errors"].as_u64(),
            Some(0),
            "{v}: every answer and stream message parsed: {}",
            live[v]["orders"]
        );
    }

    // the exchange's ledger against the engine's journal, order by order
    let market_of = |venue: &str| match venue {
        "binance-spot" => "spot",
        "binance-usdm" => "usdm",
        _ => "coinm",
    };
    let mut last: HashMap<(String, u64), Value> = HashMap::new();
    let mut sent: HashMap<(String, u64), u32> = HashMap::new();
    for e in jsonl(&run_dir.join("orders.jsonl")) {
        let key = (
            market_of(e["venue"].as_str().unwrap()).to_string(),
            e["client_order_id"].as_u64().unwrap(),
        );
        if e["state"] == "sent" {
            *sent.entry(key.clone()).or_default() += 1;
        }
        last.insert(key, e);
    }
    let ledger = jsonl(ledger);
    let mut received = 0;
    for o in &ledger {
        let cid: u64 = o["client_order_id"].as_str().unwrap()[3..].parse().unwrap();
        let key = (o["market"].as_str().unwrap().to_string(), cid);
        received += 1;
        assert_eq!(
            sent.get(&key),
            Some(&1),
            "the exchange has order {key:?} the engine journals as sent once"
        );
        let e = &last[&key];
        let exec = o["executed_qty"].as_f64().unwrap();
        assert!(
            (e["filled_qty"].as_f64().unwrap() - exec).abs() < 1e-9,
            "order {key:?}: engine {e} vs exchange {o}"
        );
        let notional = if key.0 == "coinm" {
            None
        } else {
            Some(o["cum_quote"].as_f64().unwrap())
        };
        if let Some(n) = notional {
            assert!(
                (e["cum_quote"].as_f64().unwrap() - n).abs() < 1e-6,
                "order {key:?}: engine {e} vs exchange {o}"
            );
        }
        let final_state = e["state"].as_str().unwrap();
        assert!(
            ["filled", "expired", "cancelled", "rejected"].contains(&final_state),
            "order {key:?} ends {final_state}"
        );
    }
    // orders the engine sent that the exchange has no order for (a swallowed request, a 429,
    // a reject): each must end final with nothing filled in the journal
    let absent: Vec<_> = sent
        .keys()
        .filter(|k| {
            !ledger.iter().any(|o| {
                o["market"].as_str() == Some(k.0.as_str())
                    && o["client_order_id"]
                        .as_str()
                        .map(|c| c[3..].parse::<u64>().ok())
                        == Some(Some(k.1))
            })
        })
        .cloned()
        .collect();
    for k in &absent {
        let s = last[k]["state"].as_str().unwrap();
        assert!(
            s == "rejected" || s == "expired" || s == "cancelled",
            "order {k:?} never reached the exchange's book and ends {s}"
        );
        assert_eq!(last[k]["filled_qty"].as_f64(), Some(0.0), "{k:?}");
    }
    assert!(received > 0);
    // the secret (and the key) appear in no output: journals, log, report, summary
    let mut outputs = vec![("stdout".to_string(), summary.to_string())];
    outputs.push(("stderr".into(), r.stderr.clone()));
    for e in std::fs::read_dir(run_dir).unwrap() {
        let p = e.unwrap().path();
        let bytes = std::fs::read(&p).unwrap();
        outputs.push((
            p.display().to_string(),
            String::from_utf8_lossy(&bytes).to_string(),
        ));
    }
    assert!(
        outputs.len() >= 6,
        "report, journals, log: {:?}",
        outputs.iter().map(|o| &o.0).collect::<Vec<_>>()
    );
    for (name, text) in &outputs {
        assert!(!text.contains(SECRET), "{name} contains the API secret");
        assert!(!text.contains(KEY), "{name} contains the API key");
    }
    let _ = std::fs::remove_dir_all(&r.dir);
}

#[test]
fn a_418_ban_disables_the_venue_and_the_run_still_reconciles() {
    // the second USDⓈ-M order is answered 418 (an IP ban): the engine sends that venue no
    // more orders for the rest of the run and the others trade on. The end-of-run account
    // call to the banned venue fails while the ban lasts, and the reconciliation says so
    // (an error for that venue, not a pass); every other venue reconciles, none has an order
    // left open
    let r = live_run(
        "live-418",
        "max",
        "",
        &[
            "--order-fault-market",
            "usdm",
            "--order-418",
            "2",
            "--fault-retry-after-s",
            "600",
        ],
    );
    let fired = r.stats["order_faults"].as_array().unwrap();
    assert_eq!(fired.len(), 1, "{fired:?}");
    let v = &r.report["live"]["venues"];
    assert_eq!(v["binance-usdm"]["rate"]["banned_418"], true, "{v:#}");
    assert_eq!(v["binance-spot"]["rate"]["banned_418"], false, "{v:#}");
    // no USDⓈ-M order went out after the ban: the exchange has exactly one (the first; the
    // banned request left no order)
    let usdm = jsonl(&r.ledger)
        .into_iter()
        .filter(|o| o["market"] == "usdm")
        .count();
    assert_eq!(usdm, 1, "{}", r.summary);
    let rec = &r.report["live"]["reconciliation"];
    let errors = rec["errors"].as_array().unwrap();
    assert!(
        errors.iter().all(|e| {
            let e = e.as_str().unwrap();
            e.contains("binance-usdm") && e.contains("418")
        }),
        "{rec:#}"
    );
    assert_eq!(rec["ok"], Value::Bool(errors.is_empty()), "{rec:#}");
    let rows = rec["rows"].as_array().unwrap();
    assert!(rows.iter().any(|x| x["venue"] == "binance-spot"), "{rec:#}");
    for row in rows {
        assert_eq!(row["ok"], true, "{row}\n{}", r.summary);
    }
    for v in rec["open_orders"].as_array().unwrap() {
        assert!(
            v["client_ids"].as_array().unwrap().is_empty(),
            "left open: {v}"
        );
    }
    let _ = std::fs::remove_dir_all(&r.dir);
}

#[test]
fn a_planted_balance_difference_is_found_during_the_run_and_stops_trading_on_that_venue() {
    // after order request 2 (the spot leg of the first trade) the exchange credits 50 USDT to
    // the spot account with no trade: the reconciliation after that trade (R5.1, live, during
    // the run) must find it, log it, and stop trading on binance-spot only; the others trade on
    let r = live_run(
        "live-plant",
        "max",
        "",
        &["--plant-balance", "spot:USDT:50:2"],
    );
    let fired = r.stats["order_faults"].as_array().unwrap();
    assert_eq!(fired.len(), 1, "{fired:?}");
    let rc = &r.report["inventory"]["reconciliation"];
    assert!(rc["checks"].as_u64().unwrap() >= 1, "{rc:#}");
    let halted = rc["halted"].as_array().unwrap();
    assert_eq!(
        halted.len(),
        1,
        "only the planted venue: {rc:#}\n{}",
        r.summary
    );
    let h = &halted[0];
    assert_eq!(h["venue"], "binance-spot", "{h:#}");
    let rows = h["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{h:#}");
    assert_eq!(rows[0]["asset"], "USDT", "{h:#}");
    let diff = rows[0]["diff"].as_f64().unwrap();
    assert!((diff - 50.0).abs() < 1e-6, "the planted 50 USDT: {diff}");
    // the log says so, as an error naming the venue and the asset
    let log = std::fs::read_to_string(r.run_dir.join("arbot.log")).unwrap();
    assert!(
        log.lines().any(
            |l| l.contains("ERROR reconciliation venue=binance-spot asset=USDT")
                && l.contains("trading stopped")
        ),
        "no reconciliation error in the log"
    );
    // no spot order was sent once the detection thread took the venue down (it does so at
    // its next message boundary: allow it 100 ms), while spot signals kept coming and were
    // not traded
    let at = h["at_ns"].as_u64().unwrap();
    let late_spot_orders: Vec<Value> = jsonl(&r.run_dir.join("orders.jsonl"))
        .into_iter()
        .filter(|o| {
            o["venue"] == "binance-spot"
                && o["state"] == "sent"
                && o["ts_ns"].as_u64().unwrap() > at + 100_000_000
        })
        .collect();
    assert!(late_spot_orders.is_empty(), "{late_spot_orders:#?}");
    // spot signals stop at the halt: none detected after it, while the detector kept
    // evaluating the spot pairs and refused them as invalid books (a normal run refuses a few
    // before the first sync only)
    let late_spot_signals = jsonl(&r.run_dir.join("signals.jsonl"))
        .into_iter()
        .filter(|s| {
            s["detected_ns"].as_u64().unwrap_or(0) > at + 100_000_000
                && (s["buy_venue"] == "binance-spot" || s["sell_venue"] == "binance-spot")
        })
        .count();
    assert_eq!(late_spot_signals, 0);
    let spot_invalid: u64 = r.report["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["buy_venue"] == "binance-spot" || p["sell_venue"] == "binance-spot")
        .map(|p| p["skipped"]["invalid_book"].as_u64().unwrap())
        .sum();
    eprintln!("spot pair evaluations refused as invalid books: {spot_invalid}");
    assert!(spot_invalid > 1000, "{spot_invalid}");
    // the other venues went on after the halt: their signals kept coming and were gated by
    // the ordinary limits (position, exposure, slots, the breaker on a losing streak), never
    // as a halted venue (stopped, invalid book).
    // Whether one of them trades depends on how the earlier trades filled, which moves with
    // the machine's load (a loaded run left USDⓈ-M at its position limit), so an order
    // after the halt is printed, not required.
    let later_other: Vec<Value> = jsonl(&r.run_dir.join("signals.jsonl"))
        .into_iter()
        .filter(|s| {
            s["detected_ns"].as_u64().unwrap_or(0) > at + 100_000_000
                && s["buy_venue"] != "binance-spot"
                && s["sell_venue"] != "binance-spot"
        })
        .collect();
    assert!(
        !later_other.is_empty(),
        "no signal on the other venues after the halt\n{}",
        r.summary
    );
    for s in &later_other {
        let why = s["reason"].as_str().unwrap_or("traded");
        assert!(
            !matches!(why, "stopped" | "invalid_book"),
            "a signal on the other venues refused as if they were halted: {s}"
        );
    }
    let later_other_orders = jsonl(&r.run_dir.join("orders.jsonl"))
        .into_iter()
        .filter(|o| {
            o["venue"] != "binance-spot"
                && o["state"] == "sent"
                && o["ts_ns"].as_u64().unwrap() > at + 100_000_000
        })
        .count();
    eprintln!(
        "after the halt: {} signals on the other venues, {later_other_orders} orders sent there",
        later_other.len()
    );
    // the end-of-run reconciliation still sees the difference on spot, and only there
    let rec = &r.report["live"]["reconciliation"];
    for row in rec["rows"].as_array().unwrap() {
        let planted = row["venue"] == "binance-spot" && row["asset"] == "USDT";
        assert_eq!(row["ok"], Value::Bool(!planted), "{row}");
    }
    let _ = std::fs::remove_dir_all(&r.dir);
}
