//! The whole threaded pipeline on the real recordings: accounting, the per-pair maximum
//! gross spreads against a straightforward computation from the bookTicker messages,
//! determinism, and (VIP fees) trades whose PnL adds up from their legs and whose every fill
//! was available in the recorded book when the order would have arrived.

mod common;

use common::refbook::RefBook;
use serde_json::Value;
use std::collections::HashMap;

fn run(cfg: &str, tag: &str) -> (Value, std::path::PathBuf) {
    let setup = common::setup(cfg);
    let out = common::tmp(tag);
    let r = arbot::engine::run_replay(&setup, &out).unwrap();
    let report = arbot::report::build(&setup, cfg, &r);
    (report, out)
}

fn without_timing(mut v: Value) -> Value {
    let o = v.as_object_mut().unwrap();
    o.remove("latency_ns");
    o.remove("run");
    v
}

/// Max over merged events of (bid_sell / ask_buy − 1)·1e4 from each venue's top of book, as an
/// independently rebuilt book gives it: the latest bookTicker while its update id is at least
/// the depth book's, else the depth book's best levels.
fn straightforward_max_spreads() -> HashMap<(String, String), f64> {
    let files = common::binance_files();
    let lines: Vec<Vec<(u64, String)>> = files.iter().map(|(_, p)| common::read_lines(p)).collect();
    let merged = common::merge(&lines);
    let mut books: Vec<RefBook> = files.iter().map(|(n, _)| RefBook::for_venue(n)).collect();
    let mut max: HashMap<(String, String), f64> = HashMap::new();
    for (fi, _, json) in merged {
        books[fi].on(json);
        if !json.contains("@bookTicker") && !json.contains("@depth") {
            continue;
        }
        for a in 0..files.len() {
            for b in 0..files.len() {
                if a == b {
                    continue;
                }
                if let (Some((_, ask)), Some((bid, _))) = (books[a].top(), books[b].top()) {
                    let s = (bid / ask - 1.0) * 1e4;
                    let e = max
                        .entry((files[a].0.to_string(), files[b].0.to_string()))
                        .or_insert(f64::MIN);
                    if s > *e {
                        *e = s;
                    }
                }
            }
        }
    }
    max
}

#[test]
fn main_job_accounts_for_every_message_and_explains_no_trades() {
    let (rep, out) = run("replay.toml", "main");
    for (name, path) in common::binance_files() {
        let lines = common::read_lines(&path).len() as u64;
        let v = &rep["venues"][name];
        assert_eq!(v["messages"], lines, "{name}");
        for k in [
            "gaps",
            "parse_errors",
            "resyncs",
            "invalid_book_events",
            "ring_full",
            "unknown_messages",
        ] {
            assert_eq!(v[k], 0, "{name}.{k}");
        }
        assert_eq!(v["snapshots"], 1);
        assert_eq!(v["syncs"], 1);
    }
    assert_eq!(rep["data"]["messages_applied"], 41249 + 93954 + 48270);
    assert_eq!(rep["data"]["merge_skips"], 0);
    assert_eq!(rep["trades"]["attempted"], 0);
    let why = rep["why_no_trades"]
        .as_str()
        .expect("report must say why nothing traded");
    assert!(
        why.contains("max gross spread") && why.contains("taker fees"),
        "{why}"
    );
    // per-pair max gross spread equals the straightforward computation
    let want = straightforward_max_spreads();
    let pairs = rep["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 6);
    for p in pairs {
        let k = (
            p["buy_venue"].as_str().unwrap().to_string(),
            p["sell_venue"].as_str().unwrap().to_string(),
        );
        let got = p["max_gross_spread_bps"].as_f64().unwrap();
        let w = want[&k];
        assert!(
            (got - w).abs() < 1e-3,
            "{k:?}: engine {got} vs bookTicker {w}"
        );
        assert_eq!(p["signals"], 0);
    }
    // files written
    for f in ["arbot.log", "signals.jsonl", "trades.jsonl"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let log = std::fs::read_to_string(out.join("arbot.log")).unwrap();
    assert_eq!(log.matches("book_synced").count(), 3);
    assert!(log.contains("final_stats"));
}

#[test]
fn replay_is_deterministic() {
    let (a, da) = run("replay-vip.toml", "det-a");
    let (b, db) = run("replay-vip.toml", "det-b");
    for f in ["signals.jsonl", "trades.jsonl"] {
        let (x, y) = (
            std::fs::read(da.join(f)).unwrap(),
            std::fs::read(db.join(f)).unwrap(),
        );
        assert!(!x.is_empty(), "{f} empty");
        assert!(x == y, "{f} differs between two runs");
    }
    let (wa, wb) = (without_timing(a.clone()), without_timing(b));
    if wa != wb {
        for (k, v) in wa.as_object().unwrap() {
            if wb[k] != *v {
                eprintln!("DIFF {k}:\n  a={v}\n  b={}", wb[k]);
            }
        }
    }
    assert_eq!(wa, wb);
    assert!(a["trades"]["attempted"].as_u64().unwrap() > 0);
}

#[test]
fn vip_trades_add_up_and_every_fill_was_in_the_book() {
    let (rep, out) = run("replay-vip.toml", "vip");
    let trades: Vec<Value> = std::fs::read_to_string(out.join("trades.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!trades.is_empty(), "the VIP config must trade on this data");
    assert_eq!(
        trades.len() as u64,
        rep["trades"]["attempted"].as_u64().unwrap()
    );
    let filled = trades.iter().filter(|t| t["status"] == "filled").count();
    assert!(filled >= 1, "at least one trade with both legs filled");
    let (mut sum_net, mut sum_fees) = (0.0, 0.0);
    for t in &trades {
        let legs = t["legs"].as_array().unwrap();
        assert!(legs.len() >= 2);
        let (mut gross, mut fees) = (0.0, 0.0);
        for l in legs {
            let q = l["quote_qty"].as_f64().unwrap();
            let b = l["base_qty"].as_f64().unwrap();
            if b > 0.0 {
                let p = l["price"].as_f64().unwrap();
                assert!(
                    (p * b - q).abs() < 1e-6 * q.max(1.0),
                    "quote = price × base: {l}"
                );
            }
            // fills add up to the filled quantity
            let fq: f64 = l["fills"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f[1].as_f64().unwrap())
                .sum();
            assert!((fq - l["filled_qty"].as_f64().unwrap()).abs() < 1e-9, "{l}");
            gross += if l["side"] == "sell" { q } else { -q };
            fees += l["fee_usd"].as_f64().unwrap();
        }
        // legs, plus the residual (lot-rounding leftover) marked at the last fill price
        let resid = t["residual_base_qty"].as_f64().unwrap();
        let mark = legs
            .iter()
            .rev()
            .find(|l| l["base_qty"].as_f64().unwrap() > 0.0)
            .map(|l| l["price"].as_f64().unwrap())
            .unwrap_or(0.0);
        let resid_mark = t["residual_mark_usd"].as_f64().unwrap();
        assert!((resid_mark - resid * mark).abs() < 1e-6, "{t}");
        assert!(
            resid.abs() < 0.002,
            "residual above one COIN-M contract's worth: {t}"
        );
        gross += resid_mark;
        assert!(
            (gross - t["gross_pnl_usd"].as_f64().unwrap()).abs() < 1e-6,
            "{t}"
        );
        assert!((fees - t["fees_usd"].as_f64().unwrap()).abs() < 1e-6, "{t}");
        assert!(
            (gross - fees - t["net_pnl_usd"].as_f64().unwrap()).abs() < 1e-6,
            "{t}"
        );
        if t["status"] == "filled" {
            assert_eq!(legs.len(), 2);
            assert!(legs.iter().all(|l| l["status"] == "filled"));
            assert_eq!(legs[0]["side"], "buy");
            assert_eq!(legs[1]["side"], "sell");
        }
        sum_net += t["net_pnl_usd"].as_f64().unwrap();
        sum_fees += fees;
    }
    assert!((sum_net - rep["trades"]["net_pnl_usd"].as_f64().unwrap()).abs() < 1e-4);
    assert!((sum_fees - rep["trades"]["fees_usd"].as_f64().unwrap()).abs() < 1e-4);

    // every fill against an independently rebuilt book at the time the leg met the venue's
    // book (its `book_view_ns`: arrival + feed latency): the state after every merged message
    // received before that time
    let files = common::binance_files();
    let lines: Vec<Vec<(u64, String)>> = files.iter().map(|(_, p)| common::read_lines(p)).collect();
    let merged = common::merge(&lines);
    let mut legs: Vec<(u64, Value)> = trades
        .iter()
        .flat_map(|t| {
            t["legs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| (l["book_view_ns"].as_u64().unwrap(), l.clone()))
        })
        .collect();
    legs.sort_by_key(|(a, _)| *a);
    let mut books: Vec<RefBook> = files.iter().map(|(n, _)| RefBook::for_venue(n)).collect();
    let mut li = 0;
    let mut checked = 0;
    for (fi, recv, json) in
        merged
            .iter()
            .copied()
            .chain(std::iter::once((usize::MAX, u64::MAX, "")))
    {
        while li < legs.len() && legs[li].0 < recv {
            let l = &legs[li].1;
            let vi = files
                .iter()
                .position(|(n, _)| *n == l["venue"].as_str().unwrap())
                .unwrap();
            let b = &books[vi];
            let buy = l["side"] == "buy";
            let limit = l["limit_price"].as_f64();
            let mut prev: Option<f64> = None;
            for f in l["fills"].as_array().unwrap() {
                let (px, q) = (f[0].as_f64().unwrap(), f[1].as_f64().unwrap());
                let vis = b.visible(buy, px);
                assert!(
                    q <= vis + 1e-9,
                    "fill {q} @ {px} > visible {vis} at {}: {l}",
                    legs[li].0
                );
                if let Some(lim) = limit {
                    assert!(
                        if buy {
                            px <= lim + 1e-9
                        } else {
                            px >= lim - 1e-9
                        },
                        "fill beyond limit: {l}"
                    );
                }
                if let Some(p) = prev {
                    assert!(if buy { px > p } else { px < p }, "fills best first: {l}");
                }
                prev = Some(px);
                checked += 1;
            }
            li += 1;
        }
        if fi != usize::MAX {
            books[fi].on(json);
        }
    }
    assert_eq!(li, legs.len());
    assert!(checked >= trades.len(), "checked {checked} fills");
}
