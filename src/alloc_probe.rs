//! Marks hot threads so a counting global allocator (in tests and `bench/`) can tell
//! allocations made on the hot path from the rest. The library installs no allocator; it
//! only flips a thread-local flag around each hot loop (after its start-up allocations).
#![forbid(unsafe_code)]

use std::cell::Cell;

thread_local! {
    static HOT: Cell<bool> = const { Cell::new(false) };
}

/// This thread is now in its hot loop: from here on it must not allocate.
pub fn enter_hot() {
    HOT.with(|h| h.set(true));
}

/// This thread left its hot loop (shutdown, report building).
pub fn leave_hot() {
    HOT.with(|h| h.set(false));
}

/// True if the calling thread is in a hot loop. Safe to call from a global allocator:
/// the thread-local is `const`-initialised and has no destructor, so it never allocates.
#[inline]
pub fn is_hot() -> bool {
    HOT.try_with(|h| h.get()).unwrap_or(false)
}

/// Switches the probe off for a cold section inside a hot loop (connection set-up and
/// teardown, which allocate buffers and TLS sessions) and restores it when dropped.
pub struct Cold(bool);

impl Cold {
    /// Leave the hot state until this value is dropped.
    pub fn enter() -> Cold {
        let h = is_hot();
        leave_hot();
        Cold(h)
    }
}

impl Drop for Cold {
    fn drop(&mut self) {
        if self.0 {
            enter_hot();
        }
    }
}
