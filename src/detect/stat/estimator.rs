//! The estimator: a pure function of the sample sequence. Sample `k` (mids of `y` and `x` at
//! the `k`-th interval boundary) goes in; out comes the [`Params`] based on samples `0..=k`:
//! the hedge ratio of the fit in force, the spread's mean and deviation over the last
//! `zscore_window` samples at that hedge ratio, and whether the fit passed the test.
//!
//! Fits (Engle–Granger, [`super::coint`]) run on the last `fit_window` samples when the
//! window first fills and every `refit_every` samples after that. Until the first fit, a
//! parameter file (`stat.params_file`, written by `arbot fit-pair`) stands in for it.
//!
//! It runs either on its own thread ([`Link::Thread`], the threaded engine: off the hot path,
//! publishing through [`Published`]) or inline ([`Link::Inline`], the single-thread replay).
//! Both see the same samples in the same order and compute the same numbers; how the core
//! waits for them in replay is in [`super`].
#![forbid(unsafe_code)]

use super::coint::{engle_granger, Coint, Workspace};
use super::publish::{Params, Published};
use crate::ring::{channel, Consumer, Producer};
use std::sync::Arc;

/// One sample: the two mids at an interval boundary (data time).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sample {
    /// Boundary time, ns since the epoch.
    pub at_ns: u64,
    /// Mid of `y`.
    pub y: f64,
    /// Mid of `x`.
    pub x: f64,
}

/// One fit, for the report.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct FitRecord {
    /// Samples seen when it ran (the fit covers the last `fit_window` of them).
    pub samples: u64,
    /// Data time of the last sample in it.
    pub at_ns: u64,
    /// The test (`None`: the test could not run, e.g. a constant series).
    pub coint: Option<Coint>,
    /// p below the maximum.
    pub passed: bool,
}

/// Windows and test level.
#[derive(Clone, Copy, Debug)]
pub struct EstimatorCfg {
    /// Samples per fit.
    pub fit_window: usize,
    /// Samples between fits.
    pub refit_every: usize,
    /// Samples of the spread's mean and deviation.
    pub zscore_window: usize,
    /// Tradable while p is below this.
    pub max_p_value: f64,
}

/// Fits kept for the report (later ones are counted).
pub const FITS_KEPT: usize = 1 << 14;

/// The estimator's state.
pub struct Estimator {
    cfg: EstimatorCfg,
    ys: Vec<f64>,
    xs: Vec<f64>,
    head: usize,
    n: u64,
    fit: Option<Coint>,
    fits: u32,
    initial: Option<Coint>,
    ws: Workspace,
    ybuf: Vec<f64>,
    xbuf: Vec<f64>,
    /// Every fit, in order (at most [`FITS_KEPT`]).
    pub history: Vec<FitRecord>,
    /// Fits beyond [`FITS_KEPT`].
    pub history_dropped: u64,
}

impl Estimator {
    /// Buffers for the windows of `cfg`; `initial` = a fit from a parameter file.
    pub fn new(cfg: EstimatorCfg, initial: Option<Coint>) -> Estimator {
        let w = cfg.fit_window.max(cfg.zscore_window).max(1);
        Estimator {
            cfg,
            ys: vec![0.0; w],
            xs: vec![0.0; w],
            head: 0,
            n: 0,
            fit: None,
            fits: 0,
            initial,
            ws: Workspace::new(cfg.fit_window),
            ybuf: vec![0.0; cfg.fit_window],
            xbuf: vec![0.0; cfg.fit_window],
            history: Vec::with_capacity(FITS_KEPT),
            history_dropped: 0,
        }
    }

    /// The `back`-th newest sample (0 = newest).
    fn at(&self, back: usize) -> (f64, f64) {
        let w = self.ys.len();
        let k = (self.head + w - 1 - back) % w;
        (self.ys[k], self.xs[k])
    }

    /// Take one sample; the parameters based on every sample so far.
    pub fn on_sample(&mut self, s: Sample) -> Params {
        let w = self.ys.len();
        self.ys[self.head] = s.y;
        self.xs[self.head] = s.x;
        self.head = (self.head + 1) % w;
        self.n += 1;
        let fw = self.cfg.fit_window as u64;
        if self.n >= fw && (self.n - fw) % self.cfg.refit_every as u64 == 0 {
            for k in 0..self.cfg.fit_window {
                let (y, x) = self.at(self.cfg.fit_window - 1 - k);
                self.ybuf[k] = y;
                self.xbuf[k] = x;
            }
            let r = engle_granger(&mut self.ws, &self.ybuf, &self.xbuf).ok();
            self.fits += 1;
            // a failed test withdraws the previous fit: nothing trades on stale evidence
            self.fit = r;
            self.initial = None;
            let rec = FitRecord {
                samples: self.n,
                at_ns: s.at_ns,
                coint: r,
                passed: r.is_some_and(|c| c.p_value < self.cfg.max_p_value),
            };
            if self.history.len() < FITS_KEPT {
                self.history.push(rec);
            } else {
                self.history_dropped += 1;
            }
        }
        self.params()
    }

    /// The parameters based on the samples so far.
    pub fn params(&self) -> Params {
        let mut p = Params {
            based_on: self.n,
            fits: self.fits,
            ..Params::default()
        };
        let Some(f) = self.fit.or(self.initial) else {
            return p;
        };
        p.hedge = f.hedge_ratio;
        p.intercept = f.intercept;
        p.t_stat = f.t_stat;
        p.p_value = f.p_value;
        p.lags = f.lags as u32;
        let zw = self.cfg.zscore_window;
        if self.n >= zw as u64 {
            let mut sum = 0.0;
            for k in 0..zw {
                let (y, x) = self.at(k);
                sum += y - f.hedge_ratio * x;
            }
            let mean = sum / zw as f64;
            let mut ss = 0.0;
            for k in 0..zw {
                let (y, x) = self.at(k);
                let d = y - f.hedge_ratio * x - mean;
                ss += d * d;
            }
            p.mean = mean;
            p.std = (ss / (zw as f64 - 1.0)).sqrt();
        } else if self.fit.is_none() {
            // only the parameter file so far: its spread mean and deviation
            p.mean = f.spread_mean;
            p.std = f.spread_std;
        } else {
            return p;
        }
        p.ready = p.std > 0.0 && p.std.is_finite();
        p.tradable = p.ready && f.p_value < self.cfg.max_p_value;
        p
    }
}

/// Where the core's samples go and its parameters come from.
pub enum Link {
    /// The estimator on the core's own thread (single-thread replay): `next` is the estimate
    /// for the next sample.
    Inline {
        /// The estimator.
        est: Box<Estimator>,
        /// Parameters based on every sample so far.
        next: Params,
    },
    /// The estimator on its own thread: samples through a ring, parameters through the
    /// seqlock.
    Thread {
        /// Samples to the estimator.
        tx: Producer<Sample>,
        /// Its latest estimate.
        published: Arc<Published>,
        /// The thread (returns the estimator, with its fit history, when the ring closes).
        handle: Option<std::thread::JoinHandle<Estimator>>,
    },
}

impl Link {
    /// An inline estimator.
    pub fn inline(est: Estimator) -> Link {
        let next = est.params();
        Link::Inline {
            est: Box::new(est),
            next,
        }
    }

    /// Start the estimation thread.
    pub fn spawn(est: Estimator, ring: usize) -> std::io::Result<Link> {
        let (tx, rx) = channel::<Sample>(ring);
        let published = Arc::new(Published::default());
        published.publish(&est.params());
        let p2 = published.clone();
        let handle = std::thread::Builder::new()
            .name("arbot-estimator".into())
            .spawn(move || run(est, rx, &p2))?;
        Ok(Link::Thread {
            tx,
            published,
            handle: Some(handle),
        })
    }

    /// The estimate based on exactly `k` samples (waiting for the estimation thread if it has
    /// not published it yet: replay), or the latest one (`wait = false`: live).
    pub fn params_for(&self, k: u64, wait: bool) -> Params {
        match self {
            Link::Inline { next, .. } => *next,
            Link::Thread { published, .. } => {
                let mut spins = 0u32;
                loop {
                    let p = published.read();
                    if !wait || p.based_on >= k {
                        return p;
                    }
                    spins += 1;
                    if spins < 256 {
                        std::hint::spin_loop();
                    } else {
                        std::thread::yield_now();
                    }
                }
            }
        }
    }

    /// Hand one sample over. Returns `false` if the ring was full (the sample is lost: only
    /// possible live, when the estimator falls a ring behind).
    pub fn push(&mut self, s: Sample) -> bool {
        match self {
            Link::Inline { est, next } => {
                *next = est.on_sample(s);
                true
            }
            Link::Thread { tx, .. } => tx.push(s).is_ok(),
        }
    }

    /// Stop the estimator (the thread drains its ring first) and return it.
    pub fn finish(self) -> Option<Estimator> {
        match self {
            Link::Inline { est, .. } => Some(*est),
            Link::Thread { tx, handle, .. } => {
                drop(tx);
                handle.and_then(|h| h.join().ok())
            }
        }
    }
}

/// The estimation thread: every sample in order, each estimate published.
fn run(mut est: Estimator, mut rx: Consumer<Sample>, out: &Published) -> Estimator {
    let mut idle = 0u32;
    loop {
        match rx.pop() {
            Some(s) => {
                idle = 0;
                let p = est.on_sample(s);
                out.publish(&p);
            }
            None => {
                if rx.is_abandoned() && rx.is_empty() {
                    return est;
                }
                idle += 1;
                if idle < 64 {
                    std::hint::spin_loop();
                } else if idle < 1024 {
                    std::thread::yield_now();
                } else {
                    std::thread::sleep(std::time::Duration::from_micros(50));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> EstimatorCfg {
        EstimatorCfg {
            fit_window: 40,
            refit_every: 10,
            zscore_window: 20,
            max_p_value: 0.05,
        }
    }

    fn series(n: usize) -> Vec<Sample> {
        // x a random walk, y = 2 + 1.5·x + stationary noise (a cointegrated pair)
        let mut seed = 12345u64;
        let mut rnd = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 11) as f64 / (1u64 << 53) as f64) - 0.5
        };
        let mut x = 100.0;
        (0..n)
            .map(|k| {
                x += rnd();
                Sample {
                    at_ns: k as u64,
                    y: 2.0 + 1.5 * x + 0.3 * rnd(),
                    x,
                }
            })
            .collect()
    }

    #[test]
    fn fits_on_schedule_and_the_thread_gives_the_inline_numbers() {
        let ss = series(100);
        let mut inline = Link::inline(Estimator::new(cfg(), None));
        let mut thread = Link::spawn(Estimator::new(cfg(), None), 16).unwrap();
        for (k, s) in ss.iter().enumerate() {
            let a = inline.params_for(k as u64, true);
            let b = thread.params_for(k as u64, true);
            assert_eq!(a, b, "sample {k}");
            assert_eq!(a.based_on, k as u64);
            assert!(inline.push(*s) && thread.push(*s));
        }
        let ea = inline.finish().unwrap();
        let eb = thread.finish().unwrap();
        // fits at 40, 50, ..., 100 samples
        assert_eq!(ea.history.len(), 7);
        assert_eq!(
            ea.history.iter().map(|f| f.samples).collect::<Vec<_>>(),
            vec![40, 50, 60, 70, 80, 90, 100]
        );
        for (a, b) in ea.history.iter().zip(&eb.history) {
            assert_eq!(a.coint, b.coint);
        }
        let c = ea.history[6].coint.unwrap();
        assert!((c.hedge_ratio - 1.5).abs() < 0.1, "{c:?}");
        assert!(c.p_value < 0.05, "cointegrated by construction: {c:?}");
        let p = ea.params();
        assert!(p.ready && p.tradable);
    }

    #[test]
    fn a_parameter_file_stands_in_until_the_first_fit() {
        let init = Coint {
            hedge_ratio: 1.5,
            intercept: 2.0,
            t_stat: -5.0,
            p_value: 0.001,
            lags: 1,
            n_obs: 1000,
            spread_mean: 2.0,
            spread_std: 0.1,
        };
        let mut e = Estimator::new(cfg(), Some(init));
        let p = e.params();
        assert!(p.ready && p.tradable);
        assert_eq!((p.hedge, p.mean, p.std), (1.5, 2.0, 0.1));
        for s in series(40) {
            e.on_sample(s);
        }
        assert_eq!(e.history.len(), 1, "the live fit replaces the file's");
    }
}
