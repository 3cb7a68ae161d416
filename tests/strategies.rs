//! R2.2 and R2.3 on the real recordings, through the whole pipeline (feeds → detection core →
//! risk gate → execution with simulated fills):
//! - triangles on 43 s of Binance spot partial books: the reported cycle returns equal an
//!   independent computation from the raw messages; with zero fees the cycles trade, all
//!   three legs are journaled, and a failed leg is closed back to the start asset;
//! - the statistical pair on the six-minute spot / USDⓈ-M recording: fits, then positions
//!   opened and closed with their PnL in the journals.

mod common;

use arbot::config::{parse, resolve, Setup, ThreadMode};
use serde_json::Value;
use std::collections::HashMap;

const TRIANGLE: &str = "triangle/binance_spot_depth5_btcusdt_ethusdt_ethbtc_20250831.gz";

/// A shipped config with text replaced (each `from` must occur).
fn variant(name: &str, edits: &[(&str, &str)]) -> Setup {
    let mut text = std::fs::read_to_string(common::root().join("configs").join(name)).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "{name}: {from:?} not found");
        text = text.replace(from, to);
    }
    resolve(parse(&text, name).unwrap(), &common::root()).unwrap_or_else(|e| panic!("{e}"))
}

fn run(setup: &Setup, tag: &str) -> (Value, Vec<Value>, Vec<Value>) {
    let dir = common::tmp(tag);
    let r = arbot::engine::run(setup, &dir).unwrap();
    let report = arbot::report::build(setup, tag, &r);
    let lines = |f: &str| -> Vec<Value> {
        std::fs::read_to_string(dir.join(f))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    (report, lines("signals.jsonl"), lines("trades.jsonl"))
}

/// Top-of-book cycle returns over every message, computed here from the raw JSON (f64), the
/// partial books taken as whole snapshots and an older or repeated update id dropped.
fn independent_cycle_max() -> [(f64, f64); 2] {
    let mut tops: HashMap<String, (f64, f64)> = HashMap::new();
    let mut last: HashMap<String, u64> = HashMap::new();
    let fee: f64 = 10.0 / 1e4;
    let mut best = [(f64::MIN, f64::MIN); 2];
    for (_, json) in common::read_lines(&common::data(TRIANGLE)) {
        let v: Value = serde_json::from_str(&json).unwrap();
        let sym = v["stream"]
            .as_str()
            .unwrap()
            .split('@')
            .next()
            .unwrap()
            .to_string();
        let d = &v["data"];
        let id = d["lastUpdateId"].as_u64().unwrap();
        if last.get(&sym).is_some_and(|l| id <= *l) {
            continue;
        }
        last.insert(sym.clone(), id);
        let px = |side: &str| d[side][0][0].as_str().unwrap().parse::<f64>().unwrap();
        tops.insert(sym, (px("bids"), px("asks")));
        if tops.len() < 3 {
            continue;
        }
        let (bu, eu, eb) = (tops["btcusdt"], tops["ethusdt"], tops["ethbtc"]);
        // USDT → BTC → ETH → USDT: buy BTC at its ask, buy ETH with BTC at its ask, sell ETH
        let fwd = eu.0 / (bu.1 * eb.1);
        // USDT → ETH → BTC → USDT: buy ETH, sell it for BTC at the bid, sell BTC
        let rev = eb.0 * bu.0 / eu.1;
        for (k, m) in [fwd, rev].into_iter().enumerate() {
            let gross = (m - 1.0) * 1e4;
            let net = (m * (1.0 - fee).powi(3) - 1.0) * 1e4;
            best[k] = (best[k].0.max(gross), best[k].1.max(net));
        }
    }
    best
}

#[test]
fn triangle_cycle_returns_equal_an_independent_computation() {
    let setup = common::setup("replay-triangle.toml");
    let (report, signals, trades) = run(&setup, "tri-real");
    let v = &report["venues"]["binance-spot"];
    assert_eq!(v["messages"], 1085);
    assert_eq!(
        (v["gaps"].as_u64(), v["parse_errors"].as_u64()),
        (Some(0), Some(0))
    );
    let tri = report["triangles"].as_array().unwrap();
    assert_eq!(tri.len(), 2, "one cycle each way");
    let want = independent_cycle_max();
    for (k, cycle) in [
        ["USDT", "BTC", "ETH", "USDT"],
        ["USDT", "ETH", "BTC", "USDT"],
    ]
    .iter()
    .enumerate()
    {
        let t = tri
            .iter()
            .find(|t| t["cycle"] == serde_json::json!(cycle))
            .unwrap_or_else(|| panic!("{cycle:?} missing"));
        assert_eq!(t["venue"], "binance-spot");
        let (g, n) = (
            t["max_gross_bps"].as_f64().unwrap(),
            t["max_net_bps"].as_f64().unwrap(),
        );
        assert!(
            (g - want[k].0).abs() < 2e-6,
            "{cycle:?} gross {g} vs {}",
            want[k].0
        );
        assert!(
            (n - want[k].1).abs() < 2e-6,
            "{cycle:?} net {n} vs {}",
            want[k].1
        );
        assert_eq!(t["evaluations"], 1083);
        // 0.30 % of fees against at most 3.3 bps: nothing pays at the 0.15 % minimum
        assert_eq!(t["signals"], 0);
        assert!(t["skipped"].is_object());
    }
    assert!(signals.is_empty() && trades.is_empty());
    assert!(report["why_no_trades"]
        .as_str()
        .unwrap()
        .contains("best cycle USDT→ETH→BTC→USDT"));
}

#[test]
fn triangles_trade_three_legs_and_close_a_failed_leg_back_to_the_start_asset() {
    // the same data at zero fees and a 1 bp minimum: the reverse cycle clears it at times
    let setup = variant(
        "replay-triangle.toml",
        &[
            ("taker_fee_bps = 10.0 ", "taker_fee_bps = 0.0 "),
            ("min_profit_bps = 15.0 ", "min_profit_bps = 1.0 "),
        ],
    );
    let (report, signals, trades) = run(&setup, "tri-zero");
    assert!(!signals.is_empty() && !trades.is_empty());
    for s in &signals {
        assert_eq!(s["strategy"], "triangle");
        assert_eq!(
            s["legs"].as_array().unwrap().len(),
            3,
            "R2.5 fields for all three legs"
        );
        for l in s["legs"].as_array().unwrap() {
            for k in [
                "symbol",
                "side",
                "price",
                "limit",
                "qty",
                "fee",
                "book_age_ns",
                "book_update_id",
            ] {
                assert!(!l[k].is_null(), "leg field {k}: {l}");
            }
        }
        assert!(s["net_return_bps"].as_f64().unwrap() >= 1.0);
        assert!(s["end_amount"].as_f64().unwrap() > s["start_amount"].as_f64().unwrap());
    }
    let mut closed = 0;
    for t in &trades {
        let legs = t["legs"].as_array().unwrap();
        assert!(legs.len() >= 3);
        // sent at once: the three legs reach the venue together
        assert_eq!(legs[0]["arrival_ns"], legs[2]["arrival_ns"]);
        if t["status"] == "one_leg" {
            assert!(legs.len() > 3 && legs[3]["unwind"] == true, "{t}");
            closed += 1;
        }
        let (g, f, n) = (
            t["gross_pnl_usd"].as_f64().unwrap(),
            t["fees_usd"].as_f64().unwrap(),
            t["net_pnl_usd"].as_f64().unwrap(),
        );
        assert!((g - f - n).abs() < 1e-6);
    }
    assert!(
        closed >= 1,
        "a partly filled leg was closed by the one-leg policy"
    );
    let tr = &report["trades"];
    assert_eq!(tr["attempted"].as_u64().unwrap() as usize, trades.len());
    assert!(tr["unwinds"].as_u64().unwrap() >= 1);
    // every fill is in the mark-to-market PnL (ETHBTC's BTC flows at the BTCUSDT mid)
    assert!(report["pnl"]["mark_to_market_usd"]
        .as_f64()
        .unwrap()
        .is_finite());
    let rev = report["triangles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["cycle"] == serde_json::json!(["USDT", "ETH", "BTC", "USDT"]))
        .unwrap();
    assert_eq!(rev["traded"].as_u64().unwrap() as usize, trades.len());

    // sequenced by config: each leg leaves when the previous one's result is known
    let seq = variant(
        "replay-triangle.toml",
        &[
            ("taker_fee_bps = 10.0 ", "taker_fee_bps = 0.0 "),
            ("min_profit_bps = 15.0 ", "min_profit_bps = 1.0 "),
            ("send = \"parallel\"", "send = \"sequential\""),
        ],
    );
    let (_, signals, trades) = run(&seq, "tri-seq");
    assert!(!trades.is_empty());
    assert!(signals.iter().all(|s| s["send"] == "sequential"));
    let t = trades
        .iter()
        .find(|t| t["status"] == "filled")
        .expect("a complete cycle");
    let a: Vec<u64> = t["legs"].as_array().unwrap()[..3]
        .iter()
        .map(|l| l["arrival_ns"].as_u64().unwrap())
        .collect();
    assert!(a[0] < a[1] && a[1] < a[2], "legs in sequence: {a:?}");
}

#[test]
fn statistical_replay_opens_and_closes_positions_with_their_pnl_in_the_journals() {
    let mut setup = common::setup("replay-stat.toml");
    setup.cfg.threads.mode = ThreadMode::Single;
    let (report, signals, trades) = run(&setup, "stat");
    let s = &report["stat"];
    let fits = s["fits"].as_array().unwrap();
    assert_eq!(
        fits[0]["samples"], 120,
        "first fit when the warm-up window is full"
    );
    assert_eq!(fits[0]["n_obs"], 120);
    assert!(fits.len() >= 7, "refits every 30 samples");
    assert!(fits.iter().any(|f| f["passed"] == true));
    assert!(
        fits.iter().any(|f| f["passed"] == false),
        "some windows fail the test"
    );
    let samples = s["counts"]["samples"].as_u64().unwrap();
    assert!(
        (330..=361).contains(&samples),
        "{samples} one-second samples in six minutes"
    );
    assert!(s["sample_size_note"].as_str().unwrap().contains("samples"));
    // no position before the first fit (120 samples) passed the test
    let first_fit_ns = fits[0]["at_ns"].as_u64().unwrap();
    let positions = s["positions"].as_array().unwrap();
    let closed: Vec<&Value> = positions
        .iter()
        .filter(|p| p["exit_reason"] != "open")
        .collect();
    assert!(closed.len() >= 2, "{positions:?}");
    for p in positions {
        assert!(p["entry_ns"].as_u64().unwrap() > first_fit_ns);
        assert!(p["entry_z"].as_f64().unwrap().abs() >= 2.0);
    }
    for p in &closed {
        assert!(p["holding_ns"].as_u64().unwrap() > 0);
        assert!(p["exit_ns"].as_u64() > p["entry_ns"].as_u64());
    }
    // the journals: every trade is a pair trade; each closing trade carries its position
    assert!(signals.iter().all(|x| x["strategy"] == "pair"));
    assert!(trades.iter().all(|t| t["strategy"] == "pair"));
    let closes: Vec<&Value> = trades
        .iter()
        .filter(|t| t["position"]["closed"] == true)
        .collect();
    assert_eq!(closes.len(), closed.len());
    let mut sum = 0.0;
    for t in &closes {
        let p = &t["position"];
        assert!(p["holding_ns"].as_u64().unwrap() > 0);
        let net = p["net_pnl_usd"].as_f64().unwrap();
        assert!(
            (net - (p["gross_pnl_usd"].as_f64().unwrap() - p["fees_usd"].as_f64().unwrap())).abs()
                < 1e-6
        );
        sum += net;
    }
    // every trade's own net adds up to the positions' (all closed here or marked)
    let trades_net: f64 = trades
        .iter()
        .map(|t| t["net_pnl_usd"].as_f64().unwrap())
        .sum();
    if positions.len() == closed.len() {
        assert!((trades_net - sum).abs() < 1e-4, "{trades_net} vs {sum}");
        let mtm = report["pnl"]["mark_to_market_usd"].as_f64().unwrap();
        assert!(
            (mtm - sum).abs() < 1e-3,
            "flat at the end: mark to market {mtm} = realised {sum}"
        );
    }
}

#[test]
fn strategy_sections_are_validated_with_the_key_named() {
    let err = |name: &str, from: &str, to: &str| -> String {
        let text = std::fs::read_to_string(common::root().join("configs").join(name)).unwrap();
        assert!(text.contains(from));
        match parse(&text.replace(from, to), name).and_then(|c| resolve(c, &common::root())) {
            Ok(_) => panic!("{to} accepted"),
            Err(e) => e.to_string(),
        }
    };
    let e = err(
        "replay-triangle.toml",
        "start_assets_usd = { USDT = 1.0 }",
        "start_assets_usd = { USDT = -1.0 }",
    );
    assert!(e.contains("triangular.start_assets_usd.USDT"), "{e}");
    let e = err(
        "replay-triangle.toml",
        "start_assets_usd = { USDT = 1.0 }",
        "start_assets_usd = { DOGE = 1.0 }",
    );
    assert!(
        e.contains("triangular.venues[0]") && e.contains("no cycle"),
        "{e}"
    );
    let e = err(
        "replay-triangle.toml",
        "send = \"parallel\"",
        "send = \"later\"",
    );
    assert!(e.contains("send"), "{e}");
    let e = err("replay-stat.toml", "entry_z = 2.0", "entry_z = 0.4");
    assert!(e.contains("stat.entry_z"), "{e}");
    let e = err(
        "replay-stat.toml",
        "fit_window_samples = 120",
        "fit_window_samples = 5",
    );
    assert!(e.contains("stat.fit_window_samples"), "{e}");
    let e = err(
        "replay-stat.toml",
        "x = \"binance-usdm:BTCUSDT\"",
        "x = \"binance-spot:BTCUSDT\"",
    );
    assert!(e.contains("stat.x"), "{e}");
    let e = err(
        "replay-stat.toml",
        "position_notional_usd = 5_000.0",
        "position_notional_usd = 5_000.0\nparams_file = \"nope.json\"",
    );
    assert!(e.contains("stat.params_file"), "{e}");
}

#[test]
fn the_engine_starts_from_a_fit_pair_parameter_file() {
    let c = arbot::detect::stat::klines::fit_files(
        &common::data("klines/binance-usdm-ETHUSDT-1m-2023-10.csv.gz"),
        &common::data("klines/binance-usdm-BTCUSDT-1m-2023-10.csv.gz"),
        Some(1_696_334_400_000),
        Some(1_696_356_000_000),
    )
    .unwrap();
    let dir = common::tmp("params-file");
    let f = dir.join("fit.json");
    std::fs::write(
        &f,
        format!(
            "{{\"hedge_ratio\":{},\"intercept\":{},\"t_stat\":{},\"p_value\":{},\"lags\":{},\"n_obs\":{},\"spread_mean\":{},\"spread_std\":{}}}\n",
            c.hedge_ratio, c.intercept, c.t_stat, c.p_value, c.lags, c.n_obs, c.spread_mean, c.spread_std
        ),
    )
    .unwrap();
    let s = variant(
        "replay-stat.toml",
        &[(
            "position_notional_usd = 5_000.0",
            &format!(
                "position_notional_usd = 5_000.0\nparams_file = {:?}",
                f.display().to_string()
            ),
        )],
    );
    let init = s.stat.as_ref().unwrap().initial.unwrap();
    assert_eq!(init.hedge_ratio, c.hedge_ratio);
    assert!(init.p_value < 0.05);
}
