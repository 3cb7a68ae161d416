//! No allocation on the hot threads after start-up (design rule 1, R7.1): a counting global
//! allocator counts every allocation made while a thread is inside its hot loop
//! (`arbot::alloc_probe::enter_hot` … `leave_hot`), over a whole replay that trades.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;
static HOT_ALLOCS: AtomicU64 = AtomicU64::new(0);
static ALL_ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: delegates to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALL_ALLOCS.fetch_add(1, Ordering::Relaxed);
        if arbot::alloc_probe::is_hot() {
            HOT_ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALL_ALLOCS.fetch_add(1, Ordering::Relaxed);
        if arbot::alloc_probe::is_hot() {
            HOT_ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

#[test]
fn hot_threads_do_not_allocate_during_a_trading_replay() {
    // 1. the probe can fire: an allocation inside a hot section is counted
    let seen = std::thread::spawn(|| {
        let before = HOT_ALLOCS.load(Ordering::Relaxed);
        arbot::alloc_probe::enter_hot();
        let v: Vec<u8> = Vec::with_capacity(64);
        std::hint::black_box(&v);
        arbot::alloc_probe::leave_hot();
        HOT_ALLOCS.load(Ordering::Relaxed) - before
    })
    .join()
    .unwrap();
    assert!(seen >= 1, "probe must count a hot allocation");

    // 2. a whole replay that trades: nothing on the hot threads
    let setup = common::setup("replay-vip.toml");
    let out = common::tmp("alloc");
    let hot_before = HOT_ALLOCS.load(Ordering::Relaxed);
    let before = ALL_ALLOCS.load(Ordering::Relaxed);
    let r = arbot::engine::run_replay(&setup, &out).unwrap();
    let total = ALL_ALLOCS.load(Ordering::Relaxed) - before;
    assert!(
        r.det.trades.attempted > 0,
        "the run must exercise the trade path"
    );
    assert!(r.det.messages > 180_000);
    assert!(total > 1000, "counting allocator not active? {total}");
    assert_eq!(
        HOT_ALLOCS.load(Ordering::Relaxed) - hot_before,
        0,
        "allocations on hot threads"
    );
}
