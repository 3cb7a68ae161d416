//! No allocation on the hot threads after start-up (design rule 1, R7.1): a counting global
//! allocator counts every allocation made while a thread is inside its hot loop
//! (`arbot::alloc_probe::enter_hot` … `leave_hot`), over a whole replay that trades.

use crate::common;

#[test]
fn hot_threads_do_not_allocate_during_a_trading_replay() {
    let _serial = common::alloc::exclusive();
    // 1. the probe can fire: an allocation inside a hot section is counted
    let seen = std::thread::spawn(|| {
        let before = common::alloc::hot();
        arbot::alloc_probe::enter_hot();
        let v: Vec<u8> = Vec::with_capacity(64);
        std::hint::black_box(&v);
        arbot::alloc_probe::leave_hot();
        common::alloc::hot() - before
    })
    .join()
    .unwrap();
    assert!(seen >= 1, "probe must count a hot allocation");

    // 2. a whole replay that trades: nothing on the hot threads
    let setup = common::setup("replay-vip.toml");
    let out = common::tmp("alloc");
    let hot_before = common::alloc::hot();
    let before = common::alloc::all();
    let r = arbot::engine::run_replay(&setup, &out).unwrap();
    let total = common::alloc::all() - before;
    assert!(
        r.det.trades.attempted > 0,
        "the run must exercise the trade path"
    );
    assert!(r.det.messages > 180_000);
    assert!(total > 1000, "counting allocator not active? {total}");
    assert_eq!(
        common::alloc::hot() - hot_before,
        0,
        "allocations on hot threads"
    );
}

#[test]
fn hot_threads_do_not_allocate_while_trading_triangles_and_a_statistical_pair() {
    let _serial = common::alloc::exclusive();
    let root = common::root();
    let text = std::fs::read_to_string(root.join("configs/replay-triangle.toml"))
        .unwrap()
        .replace("taker_fee_bps = 10.0 ", "taker_fee_bps = 0.0 ")
        .replace("min_profit_bps = 15.0 ", "min_profit_bps = 1.0 ");
    let tri = arbot::config::resolve(arbot::config::parse(&text, "tri").unwrap(), &root).unwrap();
    for (setup, tag) in [
        (tri, "alloc-tri"),
        (common::setup("replay-stat.toml"), "alloc-stat"),
    ] {
        let out = common::tmp(tag);
        let hot_before = common::alloc::hot();
        let r = arbot::engine::run_replay(&setup, &out).unwrap();
        assert!(r.det.trades.attempted > 0, "{tag}: the run must trade");
        assert_eq!(
            common::alloc::hot() - hot_before,
            0,
            "{tag}: allocations on hot threads"
        );
    }
}

#[test]
fn hot_threads_do_not_allocate_while_copying_books_and_balances_for_the_rebalancing_plan() {
    // R5.2: after every trade the detection thread copies the watched balances and book tops
    // into the cold ring; the plan is computed on the cold side
    let _serial = common::alloc::exclusive();
    let setup = common::setup("replay-rebalance.toml");
    let out = common::tmp("alloc-rebalance");
    let hot_before = common::alloc::hot();
    let r = arbot::engine::run_replay(&setup, &out).unwrap();
    assert!(r.det.trades.attempted > 10, "the run must trade");
    assert!(
        r.logger.rebalance_lines > 0,
        "the plan must be exercised: {} lines",
        r.logger.rebalance_lines
    );
    assert_eq!(
        common::alloc::hot() - hot_before,
        0,
        "allocations on hot threads"
    );
}
