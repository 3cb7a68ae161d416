//! Wait strategies for hot threads with nothing to do (R7.4): the choice is configuration.
//!
//! - `spin`: never yields; for a thread pinned to an isolated core.
//! - `spin-yield`: spins `spins` times, then `std::thread::yield_now()` on every idle poll.
//! - `park`: spins, then yields, then sleeps `park_ns` per idle poll (polite; tests, CI, laptops).
//!
//! No strategy blocks on a lock or a futex: a hot thread always comes back to poll its inputs.
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

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
}

impl WaitKind {
    /// Config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            WaitKind::Spin => "spin",
            WaitKind::SpinYield => "spin-yield",
            WaitKind::Park => "park",
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
}

impl Waiter {
    /// A waiter; `spins` busy polls before yielding/sleeping, `park_ns` sleep per idle poll (park).
    pub fn new(kind: WaitKind, spins: u32, park_ns: u64) -> Waiter {
        Waiter {
            kind,
            spins,
            park_ns: park_ns.max(1),
            idle: 0,
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
        }
    }
}
