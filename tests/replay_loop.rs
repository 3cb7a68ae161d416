//! A looped replay (`replay.loops`, what `scripts/soak.sh` runs for 24 h of data time) on the
//! real recordings (`configs/replay-vip.toml`, which finds opportunities and trades): each pass
//! is the recording again, later in data time, with every book
//! resynced at the boundary from the recording's own snapshots. So the second pass must see
//! the same books as the first: the same messages and events per venue, the same syncs, and
//! the same opportunities (pair, gross and net spread) at the same places of the recording.

mod common;

use serde_json::Value;
use std::collections::BTreeMap;

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(loops: u32, tag: &str) -> (Value, Vec<Value>) {
    let cfg = root().join("configs/replay-vip.toml");
    let setup = arbot::config::load_with(&cfg, &[format!("replay.loops={loops}")])
        .unwrap_or_else(|e| panic!("{e}"));
    let out = common::tmp(tag);
    let r = arbot::engine::run(&setup, &out).unwrap();
    let report = arbot::report::build(&setup, "configs/replay-vip.toml", &r);
    let signals = std::fs::read_to_string(out.join("signals.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let _ = std::fs::remove_dir_all(&out);
    (report, signals)
}

/// What a signal found, without when or what became of it: (message index within its pass,
/// buy venue, sell venue, "buy price sell price", "gross bps net bps").
fn found(s: &Value, base: u64) -> (u64, String, String, String, String) {
    (
        s["md"]["trigger_msg_seq"].as_u64().unwrap() - base,
        s["buy_venue"].to_string(),
        s["sell_venue"].to_string(),
        format!("{} {}", s["buy_price"], s["sell_price"]),
        format!("{} {}", s["gross_spread_bps"], s["net_spread_bps"]),
    )
}

#[test]
fn the_second_pass_of_a_looped_replay_sees_the_books_of_the_first() {
    let (one, sig1) = run(1, "loop1");
    let (two, sig2) = run(2, "loop2");
    let loops = &two["data"]["loops"];
    assert_eq!(loops["passes_played"], 2, "{loops}");
    assert_eq!(loops["passes_asked"], 2, "{loops}");
    assert!(one["data"]["loops"].is_null());
    // the period is the recording's span plus the 1 ms gap
    let files1 = one["data"]["files"].as_array().unwrap();
    let first = files1
        .iter()
        .map(|f| f["first_ns"].as_u64().unwrap())
        .min()
        .unwrap();
    let last = files1
        .iter()
        .map(|f| f["last_ns"].as_u64().unwrap())
        .max()
        .unwrap();
    let period = loops["period_ns"].as_u64().unwrap();
    assert_eq!(period, last - first + arbot::replay::LOOP_GAP_NS);
    for (f1, f2) in files1.iter().zip(two["data"]["files"].as_array().unwrap()) {
        assert_eq!(
            f2["lines"].as_u64().unwrap(),
            2 * f1["lines"].as_u64().unwrap()
        );
        assert_eq!(f2["first_ns"], f1["first_ns"]);
        assert_eq!(
            f2["last_ns"].as_u64().unwrap(),
            f1["last_ns"].as_u64().unwrap() + period
        );
    }
    // per venue: twice the messages, events and snapshots; no more gaps or parse errors
    let v1 = one["venues"].as_object().unwrap();
    let v2 = two["venues"].as_object().unwrap();
    assert!(!v1.is_empty());
    for (name, a) in v1 {
        let b = &v2[name];
        for k in [
            "messages",
            "bbo_updates",
            "depth_updates",
            "trades",
            "snapshots",
        ] {
            assert_eq!(
                b[k].as_u64().unwrap(),
                2 * a[k].as_u64().unwrap(),
                "{name} {k}: one pass {a}, two {b}"
            );
        }
        for k in ["gaps", "parse_errors"] {
            assert_eq!(b[k], a[k], "{name} {k}");
        }
        // at the boundary the book goes invalid until the recording's snapshot: a message in
        // between may meet an invalid book once (on the first pass the book was not yet synced)
        let (ia, ib) = (
            a["invalid_book_events"].as_u64().unwrap(),
            b["invalid_book_events"].as_u64().unwrap(),
        );
        assert!(ib >= 2 * ia && ib <= 2 * ia + 1, "{name}: {ia} then {ib}");
        assert!(a["snapshots"].as_u64().unwrap() > 0, "{name}: {a}");
    }
    // the opportunities: the first pass's, then the same again (message indices counted from
    // the pass's start: one index between passes is the resync)
    let pass_len: u64 = files1.iter().map(|f| f["lines"].as_u64().unwrap()).sum();
    assert!(!sig1.is_empty(), "the VIP-fee replay finds opportunities");
    let f1: Vec<_> = sig1.iter().map(|s| found(s, 0)).collect();
    let (p1, p2): (Vec<&Value>, Vec<&Value>) = sig2
        .iter()
        .partition(|s| s["md"]["trigger_msg_seq"].as_u64().unwrap() < pass_len);
    let f2a: Vec<_> = p1.iter().map(|s| found(s, 0)).collect();
    let f2b: Vec<_> = p2.iter().map(|s| found(s, pass_len + 1)).collect();
    assert_eq!(f2a, f1, "the first pass of two is the plain replay");
    let by_pair = |v: &[(u64, String, String, String, String)]| {
        let mut m: BTreeMap<(String, String), usize> = BTreeMap::new();
        for s in v {
            *m.entry((s.1.clone(), s.2.clone())).or_default() += 1;
        }
        m
    };
    assert_eq!(
        f2b,
        f1,
        "the second pass finds what the first found, where it found it (per pair: first {:?}, second {:?})",
        by_pair(&f1),
        by_pair(&f2b)
    );
    // the second pass's times are the first's plus the period
    for (a, b) in sig1.iter().zip(&p2) {
        assert_eq!(
            b["detected_ns"].as_u64().unwrap(),
            a["detected_ns"].as_u64().unwrap() + period
        );
    }
}

#[test]
fn a_looped_replay_is_refused_where_it_cannot_run() {
    let cfg = root().join("configs/replay-vip.toml");
    for (sets, why) in [
        (vec!["replay.loops=0"], "≥ 1"),
        (
            vec!["replay.loops=2", "threads.mode=\"threaded\""],
            "single-thread",
        ),
        (
            vec!["replay.loops=2", "replay.pace=\"recorded\""],
            "single-thread",
        ),
    ] {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        let e = match arbot::config::load_with(&cfg, &sets) {
            Ok(_) => panic!("{sets:?} was accepted"),
            Err(e) => e.to_string(),
        };
        assert!(
            e.contains("replay.loops") && e.contains(why),
            "{sets:?}: {e}"
        );
    }
}
