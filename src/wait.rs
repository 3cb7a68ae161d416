//! Wait strategies for hot threads with nothing to do (R7.4): the choice is configuration.
//!
//! - `spin`: never yields; for a thread pinned to an isolated core.
//! - `spin-yield`: spins `spins` times, then `std::thread::yield_now()` on every idle poll.
//! - `park`: spins, then yields, then sleeps `park_ns` per idle poll (polite; tests, CI, laptops).
//! - `block`: spins, then sleeps on a futex until another thread of the pipeline hands
//!   something over (every hand-off rings the [`Doorbell`]) or [`BLOCK_TIMEOUT_NS`] passes: the
//!   scheduler knows the thread has nothing to do, so a busy machine runs the thread that has
//!   work instead of one that polls (the threaded replay; see `bench/busy.sh`).
//!
//! No strategy blocks on a lock: a hot thread always comes back to poll its inputs.

use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU32, Ordering};

/// Which strategy (config value `wait = "spin" | "spin-yield" | "park"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum WaitKind {
    /// Busy-poll without yielding.
    Spin,
    /// Spin, then yield.
    SpinYield,
    /// Spin, yield, then sleep briefly.
    #[default]
    Park,
    /// Spin, then sleep on the hand-off doorbell until something is handed over.
    Block,
}

impl WaitKind {
    /// Config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            WaitKind::Spin => "spin",
            WaitKind::SpinYield => "spin-yield",
            WaitKind::Park => "park",
            WaitKind::Block => "block",
        }
    }
}

/// Per-thread idle state. Call [`Waiter::idle`] after a poll that found nothing and
/// [`Waiter::reset`] after one that found work.
#[derive(Clone, Debug)]
pub struct Waiter {
    kind: WaitKind,
    spins: u32,
    park_ns: u64,
    idle: u32,
    /// `block`: the doorbell's count when this thread last looked.
    last_seen: u32,
}

impl Waiter {
    /// A waiter; `spins` busy polls before yielding/sleeping, `park_ns` sleep per idle poll (park).
    pub fn new(kind: WaitKind, spins: u32, park_ns: u64) -> Waiter {
        Waiter {
            kind,
            spins,
            park_ns: park_ns.max(1),
            idle: 0,
            last_seen: BELL.seq(),
        }
    }

    /// The configured kind.
    pub fn kind(&self) -> WaitKind {
        self.kind
    }

    /// Work was found: back to spinning.
    #[inline(always)]
    pub fn reset(&mut self) {
        self.idle = 0;
    }

    /// This thread handed something over (pushed to a ring another pipeline thread reads, or
    /// published progress one waits for): with `block`, ring the doorbell; otherwise nothing.
    #[inline(always)]
    pub fn notify(&self) {
        if self.kind == WaitKind::Block {
            BELL.ring();
        }
    }

    /// A ring this thread pushes to is full: wait for the consumer. Like [`Waiter::idle`],
    /// except that `block` backs off as `park` does (consumers do not ring when they pop).
    #[inline]
    pub fn backoff(&mut self) {
        if self.kind != WaitKind::Block {
            return self.idle();
        }
        self.idle = self.idle.saturating_add(1);
        if self.idle <= self.spins {
            std::hint::spin_loop()
        } else if self.idle <= self.spins + 16 {
            std::thread::yield_now()
        } else {
            std::thread::sleep(std::time::Duration::from_nanos(self.park_ns))
        }
    }

    /// Nothing to do on this poll.
    #[inline]
    pub fn idle(&mut self) {
        self.idle = self.idle.saturating_add(1);
        match self.kind {
            WaitKind::Spin => std::hint::spin_loop(),
            WaitKind::SpinYield => {
                if self.idle <= self.spins {
                    std::hint::spin_loop()
                } else {
                    std::thread::yield_now()
                }
            }
            WaitKind::Park => {
                if self.idle <= self.spins {
                    std::hint::spin_loop()
                } else if self.idle <= self.spins + 16 {
                    std::thread::yield_now()
                } else {
                    std::thread::sleep(std::time::Duration::from_nanos(self.park_ns))
                }
            }
            WaitKind::Block => {
                if self.idle <= self.spins {
                    std::hint::spin_loop();
                    return;
                }
                // A ring since this thread last looked may have come after its last poll:
                // poll again. Otherwise nothing was handed over since before that poll, and a
                // ring from now on changes the count the futex waits on (or wakes it).
                let s = BELL.seq();
                if s != self.last_seen {
                    self.last_seen = s;
                    return;
                }
                BELL.wait(s, BLOCK_TIMEOUT_NS);
            }
        }
    }
}

/// Longest sleep of a `block` wait without a ring (a safety net; hand-offs ring).
pub const BLOCK_TIMEOUT_NS: u64 = 2_000_000;

/// The hand-off doorbell of the `block` wait: a count every hand-off increments, and a futex
/// on it that idle threads sleep on. One per process: threads of unrelated runs only wake each
/// other spuriously (they poll and sleep again).
pub struct Doorbell {
    seq: AtomicU32,
    sleepers: AtomicU32,
}

static BELL: Doorbell = Doorbell {
    seq: AtomicU32::new(0),
    sleepers: AtomicU32::new(0),
};

/// The process's doorbell.
pub fn doorbell() -> &'static Doorbell {
    &BELL
}

impl Doorbell {
    /// The count.
    #[inline(always)]
    pub fn seq(&self) -> u32 {
        self.seq.load(Ordering::SeqCst)
    }

    /// Something was handed over: bump the count, wake the sleepers if there are any.
    #[inline]
    pub fn ring(&self) {
        self.seq.fetch_add(1, Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) != 0 {
            futex_wake_all(&self.seq);
        }
    }

    /// Sleep while the count is still `seen`, at most `timeout_ns`.
    pub fn wait(&self, seen: u32, timeout_ns: u64) {
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        futex_wait(&self.seq, seen, timeout_ns);
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(target_os = "linux")]
fn futex_wait(word: &AtomicU32, seen: u32, timeout_ns: u64) {
    let ts = libc::timespec {
        tv_sec: (timeout_ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (timeout_ns % 1_000_000_000) as libc::c_long,
    };
    // SAFETY: FUTEX_WAIT reads the u32 at `word` (a live atomic for the whole call) and
    // compares it with `seen`; `ts` outlives the call; the other arguments are unused by
    // FUTEX_WAIT. A spurious return (EINTR, EAGAIN, timeout) is fine: the caller polls again.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            seen,
            &ts as *const libc::timespec,
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

#[cfg(target_os = "linux")]
fn futex_wake_all(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE only uses the address of `word` as a key; no memory is accessed.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            i32::MAX,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn futex_wait(_word: &AtomicU32, _seen: u32, timeout_ns: u64) {
    std::thread::sleep(std::time::Duration::from_nanos(timeout_ns.min(50_000)));
}

#[cfg(not(target_os = "linux"))]
fn futex_wake_all(_word: &AtomicU32) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ring_wakes_a_blocked_waiter_long_before_the_timeout() {
        let start = std::time::Instant::now();
        let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let f2 = flag.clone();
        let t = std::thread::spawn(move || {
            let mut w = Waiter::new(WaitKind::Block, 0, 1);
            let mut polls = 0u32;
            while !f2.load(Ordering::SeqCst) {
                polls += 1;
                w.idle();
            }
            polls
        });
        std::thread::sleep(std::time::Duration::from_millis(50));
        flag.store(true, Ordering::SeqCst);
        Waiter::new(WaitKind::Block, 0, 1).notify();
        let polls = t.join().unwrap();
        // asleep, not polling: 50 ms of waiting took few polls (timeouts are 2 ms)
        assert!(polls < 100, "{polls} polls");
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }
}
