//! Component benchmarks (criterion): each chosen part of the hot path against its
//! alternative, in the same process and on the real recorded messages, so the ratios hold on
//! a noisy machine even where the absolute figures do not.
//!
//! `cargo bench --bench components` (all, ~5 min) or with a filter:
//! `cargo bench --bench components -- json` / `decimal` / `spsc` / `book` / `sign` / `status`.
//!
//! - `json/*`: Binance bookTicker, depthUpdate and trade messages parsed by arbot's hand scanner
//!   (shipped, sonic-rs as its fallback) and by arbot's wire seeds (straight into fixed point
//!   and a reused level buffer, no allocation) driven by sonic-rs, serde_json and simd-json —
//!   identical output, checked — plus whole-file throughput on the spot recording.
//! - `decimal/*`: `arbot::fixed_point::parse_decimal` vs `rust_decimal::Decimal::from_str_exact`
//!   (and `f64` parsing for reference) on the real price/quantity strings.
//! - `spsc/*`: `arbot::ring` vs `rtrb` vs crossbeam `ArrayQueue`, 80-byte `MdEvent`s between two
//!   threads: round trip (one-way = half) and throughput.
//! - `book/*`: `L2Book` level updates from the real USDⓈ-M depth diffs at 20 and 1000 levels,
//!   against a `BTreeMap` book.
//! - `sign/*`: HMAC-SHA256 of a real order query with `ring` (what `OrderEncoder` uses) vs
//!   RustCrypto `hmac` + `sha2`, and the whole `OrderEncoder::encode`.
//! - `status_publish/*`: the status endpoint's once-a-second latency publication on the
//!   detection thread: one pass per histogram vs a pass per quantile plus one for the mean.
//!
//! All in the `bench` profile, which inherits the shipped `release` profile (fat LTO, one
//! codegen unit, no `target-cpu=native`).
#![forbid(unsafe_code)]

use criterion::{criterion_group, Criterion};
use std::time::Duration;

#[path = "components/book.rs"]
mod book;
#[path = "components/data.rs"]
mod data;
#[path = "components/decimal.rs"]
mod decimal;
#[path = "components/json.rs"]
mod json;
#[path = "components/sign.rs"]
mod sign;
#[path = "components/spsc.rs"]
mod spsc;
#[path = "components/status.rs"]
mod status;
#[path = "components/summary.rs"]
mod summary;

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
        .configure_from_args()
}

criterion_group! {
    name = components;
    config = config();
    targets = json::bench, decimal::bench, spsc::bench, book::bench, sign::bench, status::bench
}
fn main() {
    let since = std::time::SystemTime::now();
    components();
    Criterion::default().configure_from_args().final_summary();
    summary::report(since);
}
