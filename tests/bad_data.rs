//! Loud bad data (issue 18, item 1): an instrument spec that disagrees with the data (a tick of
//! 1.0 on USDⓈ-M BTCUSDT, whose wire prices carry 0.10 steps) makes the venue unhealthy at its
//! first messages; the replay exits non-zero naming the instrument and the field, and the
//! report counts it. `--allow-bad-data` accepts it on purpose; the right spec runs clean.

mod common;

use serde_json::Value;
use std::process::Command;

/// configs/replay.toml cut to its first 30,000 messages, with `edit` applied; run it.
fn run(tag: &str, edit: impl Fn(String) -> String, args: &[&str]) -> (i32, String, Value) {
    let dir = common::tmp(tag);
    let src = std::fs::read_to_string(common::root().join("configs/replay.toml")).unwrap();
    let src = src
        .replace("lead_msgs = 1\n", "lead_msgs = 0\nmax_messages = 30_000\n")
        .replace(
            "\"../shared/",
            &format!("\"{}/../shared/", common::root().display()),
        );
    let cfg = dir.join("cfg.toml");
    std::fs::write(&cfg, edit(src)).unwrap();
    let out = dir.join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_arbot"))
        .args(["run", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(&out)
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("report.json"))
            .unwrap_or_else(|e| panic!("no report ({e}): {stderr}")),
    )
    .unwrap();
    let log = std::fs::read_to_string(out.join("arbot.log")).unwrap_or_default();
    (o.status.code().unwrap_or(-1), stderr + &log, report)
}

/// The USDⓈ-M instrument with a tick of 1.0 instead of 0.10.
fn wrong_tick(s: String) -> String {
    let usdm = "venue = \"binance-usdm\"\nsymbol = \"BTCUSDT\"";
    let at = s.find(usdm).expect("usdm instrument");
    let (head, tail) = s.split_at(at);
    format!(
        "{head}{}",
        tail.replacen("tick_size = \"0.10\"", "tick_size = \"1.0\"", 1)
    )
}

#[test]
fn a_tick_finer_than_the_spec_is_loud() {
    let (code, text, report) = run("bad-data-tick", wrong_tick, &[]);
    assert_eq!(code, 3, "exit status 3 on bad data: {text}");
    // the error names the venue, the instrument and the field
    let line = text
        .lines()
        .find(|l| l.contains("arbot: error: venue binance-usdm has bad data"))
        .unwrap_or_else(|| panic!("no bad-data error: {text}"));
    assert!(
        line.contains("instrument binance-usdm:BTCUSDT field price"),
        "{line}"
    );
    assert!(line.contains("tick_size"), "{line}");
    assert!(line.contains("needs 1 decimal"), "{line}");
    // the log says it too, at the first messages (the check after the first 100)
    let logged = text
        .lines()
        .find(|l| l.contains("bad_data venue=binance-usdm"))
        .unwrap_or_else(|| panic!("no bad_data log line: {text}"));
    assert!(logged.contains("ERROR"), "{logged}");
    assert!(logged.contains("field price"), "{logged}");
    let v = &report["venues"]["binance-usdm"];
    assert_eq!(v["bad_data"], true, "{v}");
    assert!(v["parse_errors"].as_u64().unwrap() > 1000, "{v}");
    assert!(v["parse_error_share_pct"].as_f64().unwrap() > 50.0, "{v}");
    assert!(v["bad_data_error"]
        .as_str()
        .unwrap()
        .contains("field price"));
    // the other venues are fine
    assert_eq!(report["venues"]["binance-spot"]["bad_data"], false);
    assert_eq!(report["venues"]["binance-coinm"]["bad_data"], false);
}

#[test]
fn allow_bad_data_accepts_it_on_purpose() {
    let (code, text, report) = run("bad-data-allowed", wrong_tick, &["--allow-bad-data"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("arbot: error: venue binance-usdm has bad data"),
        "{text}"
    );
    assert_eq!(report["venues"]["binance-usdm"]["bad_data"], true);
}

#[test]
fn the_right_spec_runs_clean() {
    let (code, text, report) = run("bad-data-clean", |s| s, &[]);
    assert_eq!(code, 0, "{text}");
    assert!(!text.contains("bad_data"), "{text}");
    for v in ["binance-spot", "binance-usdm", "binance-coinm"] {
        assert_eq!(report["venues"][v]["bad_data"], false, "{v}");
        assert_eq!(report["venues"][v]["parse_errors"], 0, "{v}");
    }
}
