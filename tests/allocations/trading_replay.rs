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
