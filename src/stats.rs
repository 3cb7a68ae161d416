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
        }
    }
    /// Record one value in ns.
    #[inline]
    pub fn record(&mut self, ns: u64) {
        self.h.saturating_record(ns.max(1));
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
