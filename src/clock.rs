//! Clocks: a cheap raw counter for latency stamps (quanta, ~12 ns a read) and a wall clock in
//! ns since the epoch for receive timestamps, derived from the same counter.
#![forbid(unsafe_code)]

use crate::types::Nanos;
use std::sync::OnceLock;

/// Process-wide clock: raw counter plus a fixed epoch offset taken once at first use.
pub struct Clock {
    q: quanta::Clock,
    base_raw: u64,
    base_epoch_ns: u64,
}

static CLOCK: OnceLock<Clock> = OnceLock::new();

impl Clock {
    /// The process clock (calibrated on first call; call once at start-up, off the hot path).
    pub fn get() -> &'static Clock {
        CLOCK.get_or_init(|| {
            let q = quanta::Clock::new();
            let base_raw = q.raw();
            let base_epoch_ns = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            Clock {
                q,
                base_raw,
                base_epoch_ns,
            }
        })
    }

    /// Raw counter value for latency stamps.
    #[inline(always)]
    pub fn raw(&self) -> u64 {
        self.q.raw()
    }

    /// Nanoseconds between two raw stamps (0 if `end < start`).
    #[inline(always)]
    pub fn delta_ns(&self, start: u64, end: u64) -> u64 {
        if end <= start {
            return 0;
        }
        self.q.delta_as_nanos(start, end)
    }

    /// Wall time in ns since the epoch (monotonic after start-up: counter-derived).
    #[inline]
    pub fn now_ns(&self) -> Nanos {
        self.base_epoch_ns + self.delta_ns(self.base_raw, self.q.raw())
    }
}

/// Shorthand for `Clock::get().raw()`.
#[inline(always)]
pub fn raw() -> u64 {
    Clock::get().raw()
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}
