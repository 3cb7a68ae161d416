//! How the estimation thread hands its estimate to the detection core: a seqlock over a
//! small `Copy` struct, built from atomics only (no `unsafe`). One writer (the estimator)
//! never waits; readers (the hot path) never write and retry only if they raced a write.
//!
//! The pattern (Boehm, "Can seqlocks get along with programming language memory models?",
//! 2012): the writer makes the sequence odd, fences, stores the words, then makes the
//! sequence even with release ordering; a reader loads the sequence with acquire ordering,
//! the words, fences with acquire ordering and reloads the sequence: equal and even means
//! the words are one write's.
#![forbid(unsafe_code)]

use std::sync::atomic::{fence, AtomicU64, Ordering};

/// The estimate the core trades on.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Params {
    /// Samples the estimate is based on (samples `0..based_on`).
    pub based_on: u64,
    /// Hedge ratio `b` of the spread `y − b·x`.
    pub hedge: f64,
    /// Intercept of the fit in force.
    pub intercept: f64,
    /// Mean of the spread over the z-score window.
    pub mean: f64,
    /// Standard deviation of the spread over the z-score window (`ddof = 1`).
    pub std: f64,
    /// ADF t-statistic of the fit in force.
    pub t_stat: f64,
    /// Its p-value.
    pub p_value: f64,
    /// Fits made so far.
    pub fits: u32,
    /// ADF lags of the fit in force.
    pub lags: u32,
    /// Hedge, mean and deviation are all known.
    pub ready: bool,
    /// Ready, and the fit in force passed the test (p below the maximum).
    pub tradable: bool,
}

const WORDS: usize = 9;

impl Params {
    fn to_words(self) -> [u64; WORDS] {
        [
            self.based_on,
            self.hedge.to_bits(),
            self.intercept.to_bits(),
            self.mean.to_bits(),
            self.std.to_bits(),
            self.t_stat.to_bits(),
            self.p_value.to_bits(),
            (self.fits as u64) << 32 | self.lags as u64,
            self.ready as u64 | (self.tradable as u64) << 1,
        ]
    }
    fn from_words(w: [u64; WORDS]) -> Params {
        Params {
            based_on: w[0],
            hedge: f64::from_bits(w[1]),
            intercept: f64::from_bits(w[2]),
            mean: f64::from_bits(w[3]),
            std: f64::from_bits(w[4]),
            t_stat: f64::from_bits(w[5]),
            p_value: f64::from_bits(w[6]),
            fits: (w[7] >> 32) as u32,
            lags: w[7] as u32,
            ready: w[8] & 1 != 0,
            tradable: w[8] & 2 != 0,
        }
    }
}

/// A single-writer seqlock holding the latest [`Params`].
#[derive(Debug, Default)]
pub struct Published {
    seq: AtomicU64,
    words: [AtomicU64; WORDS],
}

impl Published {
    /// Store `p` (one writer only; wait-free).
    pub fn publish(&self, p: &Params) {
        let s = self.seq.load(Ordering::Relaxed);
        self.seq.store(s.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        for (w, v) in self.words.iter().zip(p.to_words()) {
            w.store(v, Ordering::Relaxed);
        }
        self.seq.store(s.wrapping_add(2), Ordering::Release);
    }

    /// One attempt to read: `None` if a write was in progress.
    pub fn try_read(&self) -> Option<Params> {
        let s1 = self.seq.load(Ordering::Acquire);
        if s1 & 1 != 0 {
            return None;
        }
        let mut w = [0u64; WORDS];
        for (o, a) in w.iter_mut().zip(&self.words) {
            *o = a.load(Ordering::Relaxed);
        }
        fence(Ordering::Acquire);
        let s2 = self.seq.load(Ordering::Relaxed);
        (s1 == s2).then(|| Params::from_words(w))
    }

    /// Read, retrying while a write is in progress (a write is a few stores).
    pub fn read(&self) -> Params {
        loop {
            if let Some(p) = self.try_read() {
                return p;
            }
            std::hint::spin_loop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn round_trip() {
        let p = Params {
            based_on: 7,
            hedge: 1.25,
            intercept: -3.5,
            mean: 0.1,
            std: 2.0,
            t_stat: -4.2,
            p_value: 0.01,
            fits: 3,
            lags: 2,
            ready: true,
            tradable: true,
        };
        let s = Published::default();
        assert_eq!(s.read(), Params::default());
        s.publish(&p);
        assert_eq!(s.read(), p);
    }

    #[test]
    fn a_reader_never_sees_a_torn_write() {
        // every field of write k is derived from k: a mix of two writes would show
        let s = Arc::new(Published::default());
        let w = s.clone();
        let writer = std::thread::spawn(move || {
            for k in 1..=200_000u64 {
                let f = k as f64;
                w.publish(&Params {
                    based_on: k,
                    hedge: f,
                    intercept: -f,
                    mean: 2.0 * f,
                    std: 3.0 * f,
                    t_stat: -f,
                    p_value: f,
                    fits: k as u32,
                    lags: (k % 7) as u32,
                    ready: k % 2 == 0,
                    tradable: k % 3 == 0,
                });
            }
        });
        let mut last = 0;
        let mut reads = 0u64;
        while last < 200_000 {
            let p = s.read();
            let k = p.based_on;
            assert!(k >= last, "went back from {last} to {k}");
            if k > 0 {
                let f = k as f64;
                assert_eq!(
                    (p.hedge, p.intercept, p.mean, p.std, p.t_stat, p.p_value),
                    (f, -f, 2.0 * f, 3.0 * f, -f, f)
                );
                assert_eq!((p.fits, p.lags), (k as u32, (k % 7) as u32));
                assert_eq!((p.ready, p.tradable), (k % 2 == 0, k % 3 == 0));
            }
            last = k;
            reads += 1;
        }
        writer.join().unwrap();
        assert!(reads > 0);
    }
}
