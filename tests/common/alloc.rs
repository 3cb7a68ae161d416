//! The counting global allocator of the allocation tests (design rule 1, R7.1).
//!
//! A test binary installs it with
//! `#[global_allocator] static A: common::alloc::Counting = common::alloc::Counting;`. It counts
//! every allocation ([`all`]) and, apart, those made by a thread inside a hot section
//! (`arbot::alloc_probe::enter_hot` … `leave_hot`, [`hot`]); tests compare the counts before and
//! after the work they measure. The counters are global to the binary: a test that reads them
//! holds [`exclusive`] so the counts it sees are its own.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Counts allocations, then delegates to the system allocator.
pub struct Counting;

static HOT_ALLOCS: AtomicU64 = AtomicU64::new(0);
static ALL_ALLOCS: AtomicU64 = AtomicU64::new(0);
/// Hot allocations still to print a backtrace for ([`trace`]).
static TRACE_LEFT: AtomicU64 = AtomicU64::new(0);

std::thread_local! {
    static IN_TRACE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Print the call stack (arbot frames) of the next `n` hot allocations to stderr: the tool
/// for finding one when an allocation test fails (`ARBOT_ALLOC_TRACE=n` in the tests that
/// offer it).
pub fn trace(n: u64) {
    TRACE_LEFT.store(n, Ordering::Relaxed);
}

fn print_trace() {
    if IN_TRACE.with(|t| t.replace(true)) {
        return;
    }
    TRACE_LEFT.fetch_sub(1, Ordering::Relaxed);
    let bt = std::backtrace::Backtrace::force_capture().to_string();
    let frames: Vec<&str> = bt
        .lines()
        .filter(|l| {
            ["arbot::", "tungstenite", "rustls", "serde", "/src/"]
                .iter()
                .any(|k| l.contains(k))
        })
        .take(16)
        .collect();
    eprintln!("hot allocation:\n{}", frames.join("\n"));
    IN_TRACE.with(|t| t.set(false));
}

impl Counting {
    #[inline]
    fn count() {
        ALL_ALLOCS.fetch_add(1, Ordering::Relaxed);
        if arbot::alloc_probe::is_hot() {
            HOT_ALLOCS.fetch_add(1, Ordering::Relaxed);
            if TRACE_LEFT.load(Ordering::Relaxed) > 0 {
                print_trace();
            }
        }
    }
}

// SAFETY: delegates to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        Self::count();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        Self::count();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, n) }
    }
}

/// Allocations made so far by threads inside a hot section.
pub fn hot() -> u64 {
    HOT_ALLOCS.load(Ordering::Relaxed)
}

/// Allocations made so far by any thread.
pub fn all() -> u64 {
    ALL_ALLOCS.load(Ordering::Relaxed)
}

/// Hold this while measuring: tests of one binary run on parallel threads and share the
/// counters. A test that panicked while holding it does not block the others.
pub fn exclusive() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}
