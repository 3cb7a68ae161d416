//! The detection step without threads: `DetectionCore` driven on one thread (the
//! single-thread replay path, `threads.mode = "single"`) over the real recordings gives the
//! threaded replay's signals, trades and report, byte for byte (latency figures aside).

mod common;

use arbot::config::ThreadMode;
use serde_json::Value;

fn comparable(r: &Value) -> Value {
    let mut v = r.clone();
    let o = v.as_object_mut().unwrap();
    for k in ["latency_ns", "run", "config"] {
        o.remove(k);
    }
    v
}

fn same_as_threaded(cfg: &str, tag: &str, expect_trades: bool) {
    let mut threaded = common::setup(cfg);
    threaded.cfg.threads.mode = ThreadMode::Threaded;
    same_setup_as_threaded(threaded, cfg, tag, expect_trades);
}

fn same_setup_as_threaded(
    mut threaded: arbot::config::Setup,
    cfg: &str,
    tag: &str,
    expect_trades: bool,
) {
    threaded.cfg.threads.mode = ThreadMode::Threaded;
    let mut single = threaded.clone();
    single.cfg.threads.mode = ThreadMode::Single;
    let (dt, ds) = (
        common::tmp(&format!("{tag}-thr")),
        common::tmp(&format!("{tag}-one")),
    );
    let rt = arbot::engine::run(&threaded, &dt).unwrap();
    let rs = arbot::engine::run(&single, &ds).unwrap();
    assert_eq!(rs.pinned.len(), 1, "the single path runs one hot thread");
    assert_eq!(rt.det.messages, rs.det.messages);
    for f in ["signals.jsonl", "trades.jsonl"] {
        let a = std::fs::read(dt.join(f)).unwrap();
        let b = std::fs::read(ds.join(f)).unwrap();
        assert!(
            a == b,
            "{cfg}: {f} differs between threaded and single-thread replay"
        );
        if f == "trades.jsonl" {
            assert_eq!(
                !a.is_empty(),
                expect_trades,
                "{cfg}: trades expected: {expect_trades}"
            );
        }
    }
    let a = arbot::report::build(&threaded, cfg, &rt);
    let b = arbot::report::build(&single, cfg, &rs);
    assert_eq!(comparable(&a), comparable(&b), "{cfg}: report differs");
}

#[test]
fn single_thread_core_equals_threaded_replay_vip() {
    // trades, one-leg unwinds and refusals: the order of work per message must match
    same_as_threaded("replay-vip.toml", "core-vip", true);
}

#[test]
fn single_thread_core_equals_threaded_replay_two_venues() {
    // OKX + Kraken: checksum books, no trading group
    same_as_threaded("replay-okx-kraken.toml", "core-okx-kraken", false);
}

#[test]
fn single_thread_core_equals_threaded_replay_triangles() {
    // the shipped config (no trade at VIP 0 fees) and the zero-fee what-if that trades three
    // legs and closes failed ones
    same_as_threaded("replay-triangle.toml", "core-tri", false);
    let text = std::fs::read_to_string(common::root().join("configs/replay-triangle.toml"))
        .unwrap()
        .replace("taker_fee_bps = 10.0 ", "taker_fee_bps = 0.0 ")
        .replace("min_profit_bps = 15.0 ", "min_profit_bps = 1.0 ");
    let setup = arbot::config::resolve(
        arbot::config::parse(&text, "tri-zero").unwrap(),
        &common::root(),
    )
    .unwrap();
    same_setup_as_threaded(setup, "replay-triangle.toml", "core-tri-zero", true);
}

#[test]
fn single_thread_core_equals_threaded_replay_statistical_pair() {
    // the estimator on its own thread (results applied at the data-time deadline) and inline
    // give the same fits, positions, journals and report
    same_as_threaded("replay-stat.toml", "core-stat", true);
}
