//! Latency histograms (hdrhistogram, 1 ns – 60 s, 3 significant digits) and the progress
//! counters the cold thread prints periodically. A histogram is allocated once; recording
//! never allocates (values above the range saturate).
#![forbid(unsafe_code)]

use crate::clock::Clock;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// One latency distribution in ns.
#[derive(Clone, Debug)]
pub struct Latency {
    h: Histogram<u64>,
    /// Exact sum of the recorded values, ns (saturating), so the mean and a Prometheus
    /// summary's `_sum` need no pass over the buckets.
    sum_ns: u64,
}

impl Default for Latency {
    fn default() -> Self {
        Self::new()
    }
}

/// Percentiles of a [`Latency`], ns.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct LatencySummary {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// 99.99th percentile.
    pub p9999: u64,
    /// Maximum.
    pub max: u64,
    /// Mean.
    pub mean: u64,
}

impl Latency {
    /// Empty, 1 ns – 60 s.
    pub fn new() -> Latency {
        Latency {
            h: Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("static histogram bounds"),
            sum_ns: 0,
        }
    }
    /// Record one value in ns.
    #[inline]
    pub fn record(&mut self, ns: u64) {
        let ns = ns.max(1);
        self.h.saturating_record(ns);
        self.sum_ns = self.sum_ns.saturating_add(ns);
    }
    /// Exact sum of every value recorded, ns (saturates at `u64::MAX`, about 584 years).
    pub fn sum_ns(&self) -> u64 {
        self.sum_ns
    }
    /// Record the time between two raw clock stamps.
    #[inline]
    pub fn record_between(&mut self, start_tsc: u64, end_tsc: u64) {
        if start_tsc != 0 {
            self.record(Clock::get().delta_ns(start_tsc, end_tsc));
        }
    }
    /// Record the time since a raw clock stamp.
    #[inline]
    pub fn record_since(&mut self, start_tsc: u64) {
        self.record_between(start_tsc, crate::clock::raw());
    }
    /// Merge another histogram in.
    pub fn merge(&mut self, o: &Latency) {
        let _ = self.h.add(&o.h);
        self.sum_ns = self.sum_ns.saturating_add(o.sum_ns);
    }
    /// Percentiles.
    pub fn summary(&self) -> LatencySummary {
        let h = &self.h;
        if h.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: h.len(),
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            p9999: h.value_at_quantile(0.9999),
            max: h.max(),
            mean: h.mean() as u64,
        }
    }
    /// The underlying histogram (for percentile-distribution output).
    pub fn histogram(&self) -> &Histogram<u64> {
        &self.h
    }

    /// The distribution in HdrHistogram's classic percentile-distribution text format (what
    /// Java's `outputPercentileDistribution(out, 5, unit_ns)` prints and the usual plotting
    /// tools read): `Value Percentile TotalCount 1/(1-Percentile)` lines at 5 ticks per half
    /// distance, then mean/stddev, max/count and bucket lines. Values are divided by
    /// `unit_ns` (1000.0 = microseconds) and printed with 3 decimals.
    pub fn percentile_distribution(&self, unit_ns: f64) -> String {
        use std::fmt::Write;
        let h = &self.h;
        let mut s = String::new();
        let _ = write!(
            s,
            "{:>12} {:>14} {:>10} {:>14}\n\n",
            "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
        );
        let n = h.len();
        if n > 0 {
            for v in h.iter_quantiles(5) {
                let q = v.quantile_iterated_to();
                let total = ((v.quantile() * n as f64).round() as u64).min(n);
                let val = v.value_iterated_to() as f64 / unit_ns;
                if q < 1.0 {
                    let _ = writeln!(s, "{val:12.3} {q:2.12} {total:10} {:14.2}", 1.0 / (1.0 - q));
                } else {
                    let _ = writeln!(s, "{val:12.3} {q:2.12} {total:10}");
                }
            }
        }
        let (mean, sd, max) = if n > 0 {
            (
                h.mean() / unit_ns,
                h.stdev() / unit_ns,
                h.max() as f64 / unit_ns,
            )
        } else {
            (0.0, 0.0, 0.0)
        };
        let buckets = h.buckets() as usize;
        let sub = 2 * h.distinct_values() / (buckets + 1).max(1);
        let _ = writeln!(s, "#[Mean    = {mean:12.3}, StdDeviation   = {sd:12.3}]");
        let _ = writeln!(s, "#[Max     = {max:12.3}, Total count    = {n:12}]");
        let _ = writeln!(s, "#[Buckets = {buckets:12}, SubBuckets     = {sub:12}]");
        s
    }
}

/// Live progress of the detection thread (single writer), read by the stats thread.
#[derive(Debug, Default)]
pub struct Progress {
    /// Messages fully applied by detection.
    pub messages: AtomicU64,
    /// Signals (opportunities that passed the thresholds).
    pub signals: AtomicU64,
    /// Intents approved by the risk gate.
    pub approved: AtomicU64,
    /// Trades final.
    pub trades: AtomicU64,
    /// Net PnL of final trades, 1e-8 USD.
    pub net_pnl_e8: AtomicI64,
    /// Data time (receive time of the last message), ns since the epoch.
    pub data_ns: AtomicU64,
}

impl Progress {
    /// Set a counter this thread owns.
    #[inline(always)]
    pub fn set(c: &AtomicU64, v: u64) {
        c.store(v, Ordering::Relaxed);
    }
    /// Read a counter.
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_distribution_is_hdrhistogram_text() {
        let mut l = Latency::new();
        for v in 1..=10_000u64 {
            l.record(v * 100); // 100 ns .. 1 ms
        }
        let t = l.percentile_distribution(1000.0);
        let mut lines = t.lines();
        let head: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
        assert_eq!(
            head,
            ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"]
        );
        assert_eq!(lines.next(), Some(""));
        let rows: Vec<Vec<f64>> = t
            .lines()
            .skip(2)
            .take_while(|l| !l.starts_with('#'))
            .map(|l| l.split_whitespace().map(|x| x.parse().unwrap()).collect())
            .collect();
        assert!(rows.len() > 50, "{t}");
        // values and percentiles rise, counts rise to the total, 1/(1-p) matches p
        for w in rows.windows(2) {
            assert!(
                w[1][0] >= w[0][0] && w[1][1] >= w[0][1] && w[1][2] >= w[0][2],
                "{w:?}"
            );
        }
        for r in &rows[..rows.len() - 1] {
            assert_eq!(r.len(), 4);
            assert!(
                (r[3] - 1.0 / (1.0 - r[1])).abs() < 0.01 * r[3].max(1.0),
                "{r:?}"
            );
        }
        let last = rows.last().unwrap();
        assert_eq!(last.len(), 3, "the 100 % line has no 1/(1-p)");
        assert_eq!((last[1], last[2]), (1.0, 10_000.0));
        assert!((last[0] - 1000.0).abs() <= 1.0, "max ≈ 1000 µs: {last:?}");
        // the median line: half the samples at ≈ 500 µs
        let med = rows.iter().find(|r| r[1] >= 0.5).unwrap();
        assert!(
            (med[0] - 500.0).abs() <= 1.0 && (med[2] - 5000.0).abs() <= 10.0,
            "{med:?}"
        );
        let mean: f64 = t
            .lines()
            .find_map(|l| l.strip_prefix("#[Mean    = "))
            .and_then(|r| r.split(',').next())
            .and_then(|x| x.trim().parse().ok())
            .unwrap();
        assert!((mean - 500.05).abs() < 0.1, "{t}");
        assert!(t.contains("Total count    =        10000]"), "{t}");
        assert!(t.contains("SubBuckets     =         2048]"), "{t}");
        // empty: header and footer only
        let e = Latency::new().percentile_distribution(1000.0);
        assert_eq!(e.lines().count(), 5, "{e}");
    }
}
