//! The binary: help, config errors (named key, exit 2), missing files, a good run.

mod common;

use std::process::Command;

fn arbot(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_arbot"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn write_cfg(name: &str, text: &str) -> std::path::PathBuf {
    let d = common::tmp(name);
    let p = d.join("c.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn base() -> String {
    std::fs::read_to_string(common::root().join("configs/replay.toml"))
        .unwrap()
        .replace(
            "../shared/data",
            &common::root().join("../shared/data").display().to_string(),
        )
}

#[test]
fn help_explains_itself() {
    let (c, out, _) = arbot(&["--help"]);
    assert_eq!(c, 0);
    assert!(out.contains("run") && out.contains("check-config"));
    let (c, out, _) = arbot(&["run", "--help"]);
    assert_eq!(c, 0);
    assert!(out.contains("--config") && out.contains("--out") && out.contains("report.json"));
}

#[test]
fn config_errors_name_the_key_and_exit_2() {
    let cases = [
        (
            base().replace(
                "taker_fee_bps = 10.0",
                "taker_fee_bps = 10.0\ntaker_fee = 3",
            ),
            "taker_fee",
        ),
        (
            base().replace("min_net_spread_bps = 25.0", "min_net_spread_bps = \"lots\""),
            "min_net_spread_bps",
        ),
        (
            base().replace("max_in_flight = 5", "max_in_flight = 0"),
            "risk.max_in_flight",
        ),
        (
            base().replace("spot_btcusdt_20240808.gz", "nope.gz"),
            "replay.files[0].path",
        ),
        (
            base().replace("tick_size = \"0.01\"", "tick_size = \"-0.01\""),
            "tick_size",
        ),
        (
            base().replace("order_latency_ns = 1_000_000", "order_latency_ns = 0"),
            "order_latency_ns",
        ),
        ("this is = = not toml".to_string(), "c.toml"),
    ];
    for (i, (text, key)) in cases.iter().enumerate() {
        let p = write_cfg(&format!("cfg{i}"), text);
        let (c, _, err) = arbot(&["run", "--config", p.to_str().unwrap()]);
        assert_eq!(c, 2, "case {i}: {err}");
        assert!(
            err.contains(key),
            "case {i}: message should name {key}: {err}"
        );
        let (c, _, _) = arbot(&["check-config", "--config", p.to_str().unwrap()]);
        assert_eq!(c, 2);
    }
    let (c, _, err) = arbot(&["run", "--config", "/nonexistent/x.toml"]);
    assert_eq!(c, 2);
    assert!(err.contains("/nonexistent/x.toml"), "{err}");
    // live mode: a valid config, but it needs --live, and then keys from the environment
    let live = base().replace("mode = \"replay\"", "mode = \"live\"");
    let p = write_cfg("live", &live);
    let (c, _, _) = arbot(&["check-config", "--config", p.to_str().unwrap()]);
    assert_eq!(c, 0, "a live config is valid");
    let (c, _, err) = arbot(&["run", "--config", p.to_str().unwrap()]);
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("mode") && err.contains("--live"), "{err}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_arbot"))
        .args(["run", "--live", "--config", p.to_str().unwrap()])
        .env_remove("ARBOT_BINANCE_API_KEY")
        .env_remove("ARBOT_BINANCE_API_SECRET")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("ARBOT_BINANCE_API_KEY is not set"),
        "a missing key is named before any connection: {err}"
    );
}

#[test]
fn main_job_runs_and_writes_the_report() {
    let out = common::tmp("cli-run");
    let (c, stdout, err) = arbot(&[
        "run",
        "--config",
        "configs/replay.toml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(c, 0, "{err}");
    assert!(stdout.contains("why no trades"), "{stdout}");
    assert!(stdout.contains("binance-spot"));
    let rep: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(rep["mode"], "replay");
    assert!(
        rep["latency_ns"]["tick_to_detect"]["count"]
            .as_u64()
            .unwrap()
            > 100_000
    );
}

#[test]
fn a_closed_stdout_does_not_panic_the_run() {
    // `arbot run ... | head -1` closes the pipe before the summary is printed
    let out = common::tmp("cli-closed-stdout");
    let mut child = Command::new(env!("CARGO_BIN_EXE_arbot"))
        .args(["run", "--config", "configs/replay-triangle.toml", "--out"])
        .arg(&out)
        .current_dir(common::root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away at once
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(out.join("report.json").is_file());
}
