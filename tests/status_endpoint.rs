//! The status endpoint (R6.4): a paced replay of `configs/replay-vip.toml` with `[status]` on
//! is scraped while it runs and after it ended (`status.linger_ms`); `/metrics` passes
//! `promtool check metrics` (Debian `prometheus`; required under CI, skipped with a printed
//! reason elsewhere when not installed) and its values equal `report.json`'s.
mod common;

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// GET `path` from `addr`: (status code, body). `None` while nothing listens.
fn get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let (head, body) = buf.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, body.to_string()))
}

/// `promtool check metrics` on `text`: `Some(output)` when it ran (and it must pass), `None`
/// when promtool is not installed (only allowed outside CI).
fn promtool(text: &str) -> Option<String> {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "promtool is required under CI (Debian package prometheus; .ci/run installs it): {e}"
            );
            println!("SKIPPED the promtool check: promtool not installed ({e}); apt-get install prometheus");
            return None;
        }
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        o.status.success(),
        "promtool check metrics failed:\n{out}\n---\n{text}"
    );
    Some(out)
}

/// Samples of a Prometheus text exposition: `name{labels}` → value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.parse::<f64>().unwrap())
        })
        .collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn metrics_scraped_during_a_replay_pass_promtool_and_equal_the_report() {
    let out = common::tmp("status");
    let addr = format!("127.0.0.1:{}", free_port());
    // the first ~70 s of the recording at 35× (about 2 s, threaded: the single-thread replay
    // path does not pace): trades happen within it
    let mut child = Command::new(env!("CARGO_BIN_EXE_arbot"))
        .args(["run", "--config", "configs/replay-vip.toml", "--out"])
        .arg(&out)
        .args([
            "--set",
            &format!("status.bind=\"{addr}\""),
            "--set",
            "status.linger_ms=2000",
            "--set",
            "replay.pace=\"recorded\"",
            "--set",
            "replay.speed=35",
            "--set",
            "replay.max_messages=36000",
            // the threaded path keeps the recorded pace
            "--set",
            "threads.mode=\"threaded\"",
        ])
        .current_dir(common::root())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // during the run
    let t0 = Instant::now();
    let mut during = None;
    while t0.elapsed() < Duration::from_secs(60) {
        if let Some((code, body)) = get(&addr, "/health") {
            let h: Value = serde_json::from_str(&body).unwrap();
            if h["run"] == "running" && h["messages_applied"].as_u64().unwrap_or(0) > 1000 {
                assert_eq!(code, 200, "{body}");
                assert_eq!(h["healthy"], true, "{body}");
                assert_eq!(h["mode"], "replay");
                let (c, m) = get(&addr, "/metrics").unwrap();
                assert_eq!(c, 200);
                during = Some(m);
                break;
            }
            assert!(
                h["run"] == "running",
                "ended before a scrape during the run: {body}"
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let during = during.expect("no scrape while the replay ran");
    let ran = promtool(&during);
    let d = samples(&during);
    assert_eq!(d["arbot_up{mode=\"replay\"}"], 1.0);
    assert!(d["arbot_messages_applied_total"] > 1000.0);
    // after the end: the final figures, served while status.linger_ms lasts
    let (fin_health, fin) = loop {
        assert!(
            t0.elapsed() < Duration::from_secs(90),
            "the run did not end"
        );
        let (code, body) = get(&addr, "/health").expect("server gone before the final scrape");
        let h: Value = serde_json::from_str(&body).unwrap();
        if h["run"] == "ended" {
            assert_eq!(code, 200, "{body}");
            break (h, get(&addr, "/metrics").unwrap().1);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    if ran.is_some() {
        promtool(&fin);
    }
    let positions: Value = serde_json::from_str(&get(&addr, "/positions").unwrap().1).unwrap();
    let executions: Value = serde_json::from_str(&get(&addr, "/executions").unwrap().1).unwrap();
    let signals: Value = serde_json::from_str(&get(&addr, "/signals").unwrap().1).unwrap();
    let orders: Value = serde_json::from_str(&get(&addr, "/orders").unwrap().1).unwrap();
    assert_eq!(get(&addr, "/nothing").unwrap().0, 404);
    let st = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(st.success(), "{err}");
    assert!(
        get(&addr, "/health").is_none(),
        "still serving after the process ended"
    );

    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let m = samples(&fin);
    assert_eq!(m["arbot_up{mode=\"replay\"}"], 0.0);
    assert_eq!(
        m["arbot_messages_applied_total"],
        r["data"]["messages_applied"].as_f64().unwrap()
    );
    assert_eq!(
        fin_health["messages_applied"],
        r["data"]["messages_applied"]
    );
    for (v, x) in r["venues"].as_object().unwrap() {
        for (metric, key) in [
            ("arbot_feed_messages_total", "messages"),
            ("arbot_feed_events_total", "events"),
            ("arbot_feed_bbo_updates_total", "bbo_updates"),
            ("arbot_feed_depth_updates_total", "depth_updates"),
            ("arbot_feed_gaps_total", "gaps"),
            ("arbot_feed_resyncs_total", "resyncs"),
            ("arbot_feed_parse_errors_total", "parse_errors"),
        ] {
            assert_eq!(
                m[&format!("{metric}{{venue=\"{v}\"}}")],
                x[key].as_f64().unwrap(),
                "{metric} {v}"
            );
        }
        assert_eq!(m[&format!("arbot_books_not_synced{{venue=\"{v}\"}}")], 0.0);
    }
    // signals by status, trades by status
    let by = r["signals"]["by_status"].as_object().unwrap();
    assert!(!by.is_empty());
    for (k, n) in by {
        assert_eq!(
            m[&format!("arbot_signals_total{{status=\"{k}\"}}")],
            n.as_f64().unwrap(),
            "signals {k}"
        );
    }
    let t = &r["trades"];
    assert!(t["attempted"].as_u64().unwrap() >= 3, "{t}");
    for (k, key) in [
        ("filled", "filled"),
        ("one_leg", "one_leg"),
        ("missed", "missed"),
    ] {
        let want = t[key].as_f64().unwrap();
        let got = m
            .get(&format!("arbot_trades_total{{status=\"{k}\"}}"))
            .copied()
            .unwrap_or(0.0);
        assert_eq!(got, want, "trades {k}");
    }
    let close = |a: f64, b: f64, what: &str| assert!((a - b).abs() < 1e-6, "{what}: {a} vs {b}");
    close(
        m["arbot_pnl_mark_to_market_usd"],
        r["pnl"]["mark_to_market_usd"].as_f64().unwrap(),
        "mark to market",
    );
    close(
        m["arbot_fees_usd_total"],
        r["trades"]["fees_usd"].as_f64().unwrap(),
        "fees",
    );
    close(
        m["arbot_trades_net_pnl_usd"],
        r["trades"]["net_pnl_usd"].as_f64().unwrap(),
        "trades' net",
    );
    // positions: the report's open inventory (net base change per instrument)
    for o in r["pnl"]["open_inventory"].as_array().unwrap() {
        let (v, s) = (o["venue"].as_str().unwrap(), o["symbol"].as_str().unwrap());
        let want = o["base_qty"].as_f64().unwrap();
        close(
            m[&format!("arbot_position_base{{venue=\"{v}\",symbol=\"{s}\"}}")],
            want,
            "position metric",
        );
        let p = positions["positions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["venue"] == v && p["symbol"] == s)
            .unwrap_or_else(|| panic!("/positions lacks {v} {s}: {positions}"));
        close(p["base_qty"].as_f64().unwrap(), want, "/positions");
    }
    // per-stage latency: the detection side's counts at the end equal the report's
    for stage in ["feed_parse", "md_queue", "tick_to_detect", "tick_to_signal"] {
        assert_eq!(
            m[&format!("arbot_latency_seconds_count{{stage=\"{stage}\"}}")],
            r["latency_ns"][stage]["count"].as_f64().unwrap(),
            "{stage}"
        );
        let p50 = m[&format!("arbot_latency_seconds{{stage=\"{stage}\",quantile=\"0.5\"}}")];
        // seconds in the exposition, whole ns in the report: equal once rounded to the ns
        assert_eq!(
            (p50 * 1e9).round(),
            r["latency_ns"][stage]["p50"].as_f64().unwrap(),
            "{stage}: {p50} s"
        );
    }
    // the recent lists: the journals' last lines
    let trades_jsonl = std::fs::read_to_string(out.join("trades.jsonl")).unwrap();
    let ids: Vec<u64> = trades_jsonl
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_u64()
                .unwrap()
        })
        .collect();
    let got: Vec<u64> = executions
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_u64().unwrap())
        .collect();
    assert_eq!(
        got, ids,
        "/executions: every trade (fewer than status.recent)"
    );
    let sig_text = std::fs::read_to_string(out.join("signals.jsonl")).unwrap();
    assert_eq!(
        signals.as_array().unwrap().len(),
        sig_text.lines().count().min(100),
        "the last status.recent (100) signals"
    );
    let last_signal: Value = serde_json::from_str(sig_text.lines().last().unwrap()).unwrap();
    assert_eq!(signals.as_array().unwrap().last().unwrap(), &last_signal);
    assert!(!orders.as_array().unwrap().is_empty());
    let _ = std::fs::remove_dir_all(&out);
}
