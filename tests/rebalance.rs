//! Inventory per venue (R5.1) and the rebalancing plan (R5.2) on the shared Binance
//! recordings: `configs/replay-rebalance.toml` (the VIP replay with its exposure limits lifted,
//! watching BTC on spot/COIN-M and USDT on spot/USDⓈ-M at 50/50 with a 30 % threshold) trades
//! spot BTC away until the spot venue's shares drift past the threshold.
//!
//! The test recomputes every watched balance after every trade from `trades.jsonl` on its own
//! (spot legs move base and quote; a derivative leg's realised PnL and fee move its margin
//! wallet, with its own average-cost bookkeeping in `f64`), and requires: a plan line exactly
//! after the trades that leave an asset beyond the threshold (the first one marked `crossed`),
//! none otherwise; the plan's balances, drifts, transfer amount, direction, network (the
//! cheapest that fits, read from `configs/networks.toml` here), fee and time equal to its own;
//! the report's `inventory` equal to its balances and positions at the end.

mod common;

use std::collections::BTreeMap;

use arbot::config::ThreadMode;
use serde_json::Value;

const THRESHOLD_PCT: f64 = 30.0;

fn run(tag: &str, sets: &[&str]) -> (Value, std::path::PathBuf) {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let mut setup =
        arbot::config::load_with(&common::root().join("configs/replay-rebalance.toml"), &sets)
            .unwrap_or_else(|e| panic!("{e}"));
    setup.cfg.threads.mode = ThreadMode::Single;
    let out = common::tmp(tag);
    let r = arbot::engine::run(&setup, &out).unwrap();
    (arbot::report::build(&setup, tag, &r), out)
}

fn lines(p: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A derivative position: signed contracts and signed entry value (linear: USDT paid;
/// inverse: BTC paid), the way an average-cost ledger keeps it.
#[derive(Default, Clone, Copy, Debug)]
struct Pos {
    contracts: f64,
    entry: f64,
}

/// Wallets by (venue, asset) and positions by venue, rebuilt from trade legs.
#[derive(Default)]
struct Ledger {
    wallet: BTreeMap<(String, String), f64>,
    pos: BTreeMap<String, Pos>,
}

impl Ledger {
    fn add(&mut self, venue: &str, asset: &str, x: f64) {
        *self
            .wallet
            .entry((venue.to_string(), asset.to_string()))
            .or_default() += x;
    }
    fn get(&self, venue: &str, asset: &str) -> f64 {
        self.wallet
            .get(&(venue.to_string(), asset.to_string()))
            .copied()
            .unwrap_or(0.0)
    }

    fn leg(&mut self, g: &Value) {
        let units = g["filled_units"].as_i64().unwrap();
        if units == 0 {
            return;
        }
        let venue = g["venue"].as_str().unwrap();
        let buy = g["side"].as_str().unwrap() == "buy";
        let base = g["base_e8"].as_i64().unwrap() as f64 / 1e8;
        let quote = g["quote_e8"].as_i64().unwrap() as f64 / 1e8;
        let fee = g["fee_native_e8"].as_i64().unwrap() as f64 / 1e8;
        let fee_in_quote = match g["fee_asset"].as_str().unwrap() {
            "quote" => true,
            "base" => false,
            other => panic!("fee asset {other} not in this run"),
        };
        match venue {
            "binance-spot" => {
                let s = if buy { 1.0 } else { -1.0 };
                self.add(venue, "BTC", s * base);
                self.add(venue, "USDT", -s * quote);
                if fee_in_quote {
                    self.add(venue, "USDT", -fee);
                } else {
                    self.add(venue, "BTC", -fee);
                }
            }
            "binance-usdm" | "binance-coinm" => {
                let inverse = venue == "binance-coinm";
                // the entry value of a contract is in the margin asset
                let value = if inverse { base } else { quote };
                let d = if buy { units as f64 } else { -(units as f64) };
                let p = self.pos.entry(venue.to_string()).or_default();
                let mut realised = 0.0;
                if p.contracts == 0.0 || p.contracts.signum() == d.signum() {
                    p.contracts += d;
                    p.entry += d.signum() * value;
                } else {
                    let closed = d.abs().min(p.contracts.abs());
                    let entry_closed = p.entry * closed / p.contracts.abs();
                    let exit_closed = value * closed / d.abs();
                    // a long closed: linear gains exit − entry (USDT); inverse gains
                    // entry − exit (BTC: fewer coins buy the same dollars back when the price rose)
                    let long = p.contracts > 0.0;
                    realised = match (inverse, long) {
                        (false, true) => exit_closed - entry_closed,
                        (false, false) => -entry_closed - exit_closed,
                        (true, true) => entry_closed - exit_closed,
                        (true, false) => exit_closed + entry_closed,
                    };
                    p.contracts += d.signum() * closed;
                    p.entry -= entry_closed;
                    let rest = d.abs() - closed;
                    if rest > 0.0 {
                        p.contracts += d.signum() * rest;
                        p.entry += d.signum() * (value - exit_closed);
                    }
                    if p.contracts == 0.0 {
                        p.entry = 0.0;
                    }
                }
                // the fee in the margin asset, at the fill's own price
                let fee_margin = match (inverse, fee_in_quote) {
                    (false, true) | (true, false) => fee,
                    (true, true) => fee * base / quote,
                    (false, false) => fee * quote / base,
                };
                let margin = if inverse { "BTC" } else { "USDT" };
                self.add(venue, margin, realised - fee_margin);
            }
            v => panic!("venue {v} not in this config"),
        }
    }
}

fn close(a: f64, b: f64, what: &str) {
    let tol = 1e-7 + 1e-9 * a.abs().max(b.abs());
    assert!((a - b).abs() <= tol, "{what}: plan {a} vs recomputed {b}");
}

#[test]
fn the_plan_appears_when_the_drift_crosses_the_threshold_with_amounts_from_the_fills() {
    let (report, out) = run("rebalance", &[]);
    let trades = lines(&out.join("trades.jsonl"));
    let plans = lines(&out.join("rebalance.jsonl"));
    assert!(
        trades.len() >= 10,
        "the lifted limits keep it trading: {} trades",
        trades.len()
    );

    // the networks, read here from the shipped file
    let nets: toml::Table = toml::from_str(
        &std::fs::read_to_string(common::root().join("configs/networks.toml")).unwrap(),
    )
    .unwrap();
    let nets = nets["networks"].as_array().unwrap();
    let cheapest = |asset: &str, amount: f64| -> (String, f64, f64, f64) {
        let f = |n: &toml::Value, k: &str| n.get(k).and_then(|x| x.as_float());
        let mut best: Option<(String, f64, f64, f64)> = None;
        for n in nets.iter().filter(|n| n["asset"].as_str() == Some(asset)) {
            let (fee, min, t) = (
                f(n, "withdraw_fee").unwrap(),
                f(n, "withdraw_min").unwrap(),
                f(n, "confirm_time_s").unwrap(),
            );
            if amount < min || f(n, "withdraw_max").is_some_and(|m| amount > m) {
                continue;
            }
            if best.as_ref().is_none_or(|b| (fee, t) < (b.1, b.3)) {
                best = Some((n["network"].as_str().unwrap().to_string(), fee, min, t));
            }
        }
        best.expect("a network fits")
    };

    let watched: [(&str, [&str; 2]); 2] = [
        ("BTC", ["binance-coinm", "binance-spot"]),
        ("USDT", ["binance-spot", "binance-usdm"]),
    ];
    let mut ledger = Ledger::default();
    for (v, a, x) in [
        ("binance-spot", "USDT", 100_000.0),
        ("binance-spot", "BTC", 2.0),
        ("binance-usdm", "USDT", 100_000.0),
        ("binance-coinm", "BTC", 2.0),
    ] {
        ledger.add(v, a, x);
    }
    let mut beyond_before = [false; 2];
    let mut next_plan = 0usize;
    let mut crossed_at: BTreeMap<&str, u64> = BTreeMap::new();
    for t in &trades {
        for g in t["legs"].as_array().unwrap() {
            ledger.leg(g);
        }
        let id = t["id"].as_u64().unwrap();
        for (k, (asset, venues)) in watched.iter().enumerate() {
            let bal = venues.map(|v| ledger.get(v, asset));
            let total: f64 = bal.iter().sum();
            let drift = bal.map(|b| (b / total * 100.0 - 50.0) / 50.0 * 100.0);
            let beyond = drift.iter().any(|d| d.abs() > THRESHOLD_PCT);
            let expect_line = beyond || beyond_before[k];
            if !expect_line {
                continue;
            }
            let p = plans
                .get(next_plan)
                .unwrap_or_else(|| panic!("no plan line for {asset} after trade {id}"));
            next_plan += 1;
            assert_eq!(
                p["trade_id"].as_u64(),
                Some(id),
                "{asset}: plan after the wrong trade: {p}"
            );
            assert_eq!(p["asset"].as_str(), Some(*asset));
            let trigger = match (beyond_before[k], beyond) {
                (false, true) => "crossed",
                (true, true) => "still_beyond",
                _ => "back_within",
            };
            assert_eq!(p["trigger"].as_str(), Some(trigger), "{p}");
            if trigger == "crossed" {
                crossed_at.entry(asset).or_insert(id);
            }
            beyond_before[k] = beyond;
            assert_eq!(p["executed"], false);
            let pv = p["venues"].as_array().unwrap();
            for (j, v) in venues.iter().enumerate() {
                let row = pv.iter().find(|r| r["venue"].as_str() == Some(v)).unwrap();
                close(
                    row["balance"].as_f64().unwrap(),
                    bal[j],
                    &format!("{asset} {v} balance after {id}"),
                );
                assert!(
                    (row["drift_pct"].as_f64().unwrap() - drift[j]).abs() < 1e-3,
                    "{asset} {v} drift"
                );
            }
            let tr = p["transfers"].as_array().unwrap();
            if !beyond {
                assert!(tr.is_empty());
                continue;
            }
            assert_eq!(tr.len(), 1, "two venues: one transfer");
            let tr = &tr[0];
            // from the venue over its target to the one under it, the amount that brings both
            // back to 50 %
            let (from, to) = if bal[0] > bal[1] { (0, 1) } else { (1, 0) };
            let amount = bal[from] - total / 2.0;
            assert_eq!(tr["from"].as_str(), Some(venues[from]));
            assert_eq!(tr["to"].as_str(), Some(venues[to]));
            close(
                tr["amount"].as_f64().unwrap(),
                amount,
                &format!("{asset} amount after {id}"),
            );
            let (net, fee, min, time) = cheapest(asset, amount);
            assert_eq!(
                tr["network"].as_str(),
                Some(net.as_str()),
                "{asset} after {id}"
            );
            assert_eq!(tr["withdraw_fee"].as_f64(), Some(fee));
            assert_eq!(tr["withdraw_min"].as_f64(), Some(min));
            assert_eq!(tr["confirm_time_s"].as_f64(), Some(time));
            close(
                tr["receive_amount"].as_f64().unwrap(),
                amount - fee,
                "receive amount",
            );
            // the trading alternative: priced on both books, a positive cost
            let bt = &tr["by_trading"];
            assert_eq!(bt["available"], true, "{bt}");
            assert!(bt["cost_usd"].as_f64().unwrap() > 0.0, "{bt}");
            let legs = bt["legs"].as_array().unwrap();
            assert_eq!(legs.len(), 2);
            for l in legs {
                let fee_usd = l["fee_usd"].as_f64().unwrap();
                assert!(
                    fee_usd > 0.0 && l["walk_cost_usd"].as_f64().unwrap() >= 0.0,
                    "{l}"
                );
            }
        }
    }
    assert_eq!(
        next_plan,
        plans.len(),
        "plan lines after no trade that leaves a drift: {:?}",
        &plans[next_plan..]
    );
    // both assets cross on this data, BTC first (spot sells BTC every trade; its USDT grows
    // against a USDⓈ-M wallet that only pays fees)
    let (b, u) = (crossed_at["BTC"], crossed_at["USDT"]);
    eprintln!(
        "BTC crossed after trade {b}, USDT after trade {u}; {} plan lines",
        plans.len()
    );
    let pos = |id: u64| {
        trades
            .iter()
            .position(|t| t["id"].as_u64() == Some(id))
            .unwrap()
    };
    assert!(
        pos(b) > 0 && pos(b) < pos(u),
        "BTC crosses mid-run, before USDT"
    );

    // the report: every plan, and the inventory equal to the ledger at the end
    assert_eq!(
        report["rebalance"]["plans_journaled"].as_u64(),
        Some(plans.len() as u64)
    );
    assert_eq!(report["rebalance"]["execute"], false);
    let inv = &report["inventory"]["venues"];
    for ((v, a), x) in &ledger.wallet {
        close(
            inv[v]["balances"][a]["now"].as_f64().unwrap(),
            *x,
            &format!("inventory {v} {a}"),
        );
    }
    for (v, p) in &ledger.pos {
        let rows = inv[v]["positions"].as_array().unwrap();
        if p.contracts == 0.0 {
            assert!(rows.is_empty(), "{v}: {rows:?}");
            continue;
        }
        assert_eq!(rows.len(), 1, "{v}");
        close(
            rows[0]["entry_cost"].as_f64().unwrap(),
            p.entry,
            &format!("{v} entry cost"),
        );
        let units = match v.as_str() {
            "binance-usdm" => p.contracts / 1000.0, // 0.001 BTC lots, 3 decimals
            _ => p.contracts,
        };
        close(rows[0]["qty"].as_f64().unwrap(), units, &format!("{v} qty"));
    }
}

#[test]
fn a_threshold_the_drift_never_reaches_journals_no_plan() {
    // on this data spot's BTC share goes to ~0 %: −100 % drift; 150 % is never passed
    let (report, out) = run("rebalance-quiet", &["rebalance.threshold_pct=150.0"]);
    assert!(report["trades"]["attempted"].as_u64().unwrap() >= 10);
    assert_eq!(
        std::fs::read_to_string(out.join("rebalance.jsonl")).unwrap(),
        ""
    );
    assert_eq!(report["rebalance"]["plans_journaled"].as_u64(), Some(0));
    // the plan at the end is still evaluated (and within the threshold)
    for a in report["rebalance"]["at_end"].as_array().unwrap() {
        assert_eq!(a["beyond"], false, "{a}");
        assert!(a["transfers"].as_array().unwrap().is_empty());
    }
}

#[test]
fn config_errors_name_the_rebalance_key() {
    let path = common::root().join("configs/replay-rebalance.toml");
    let err = |sets: &[&str]| {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        match arbot::config::load_with(&path, &sets) {
            Ok(_) => panic!("{sets:?} accepted"),
            Err(e) => e.to_string(),
        }
    };
    let e = err(&["rebalance.execute=true"]);
    assert!(
        e.contains("rebalance.execute") && e.contains("withdrawals are not built"),
        "{e}"
    );
    let e = err(&["rebalance.threshold_pct=0.0"]);
    assert!(e.contains("rebalance.threshold_pct"), "{e}");
    let e = err(&[
        "rebalance.assets=[{asset=\"BTC\",targets_pct={binance-spot=60.0,binance-coinm=50.0}}]",
    ]);
    assert!(
        e.contains("rebalance.assets[0].targets_pct") && e.contains("110"),
        "{e}"
    );
    let e =
        err(&["rebalance.assets=[{asset=\"BTC\",targets_pct={binance-spot=50.0,nowhere=50.0}}]"]);
    assert!(e.contains("targets_pct.nowhere"), "{e}");
    let e = err(&[
        "rebalance.assets=[{asset=\"ETH\",targets_pct={binance-spot=50.0,binance-coinm=50.0}}]",
    ]);
    assert!(e.contains("neither holds nor trades ETH"), "{e}");
    let e = err(&["rebalance.networks_file=\"configs/replay.toml\""]);
    assert!(e.contains("rebalance.networks_file"), "{e}");
    // a network without its source is refused
    let dir = common::tmp("rebalance-nets");
    let bad = dir.join("nets.toml");
    std::fs::write(
        &bad,
        "as_of = \"2026-12-01\"\nnote = \"x\"\n[[networks]]\nasset = \"BTC\"\nnetwork = \"BTC\"\nwithdraw_fee = 0.0002\nwithdraw_min = 0.001\nconfirm_time_s = 3600.0\nsource = \"\"\nsource_date = \"2026-12-01\"\n",
    )
    .unwrap();
    let e = err(&[&format!("rebalance.networks_file=\"{}\"", bad.display())]);
    assert!(e.contains("source"), "{e}");
    // and the shipped config loads
    arbot::config::load(&path).unwrap_or_else(|e| panic!("{e}"));
}
