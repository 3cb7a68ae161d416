//! The status endpoint's latency publication (R6.4), which runs on the detection thread about
//! once a second while `[status]` is on: the shipped single pass (`LatencyBoard::publish`: the
//! four quantiles in one walk, the exact sum kept by `Latency`) against what it replaced, a walk
//! per quantile plus one more for the mean. Four stages of one million samples each, from a
//! made-up distribution with a realistic shape (a body of 0.2–2.2 µs, 1 % out to 200 µs, one in
//! 100,003 at 30 ms); the cost depends on how far the buckets reach, not on the count.

use arbot::ops::status::{LATENCY, QUANTILES};
use arbot::stats::Latency;
use criterion::Criterion;
use std::hint::black_box;

fn stages() -> [Latency; 4] {
    let mut out = [
        Latency::new(),
        Latency::new(),
        Latency::new(),
        Latency::new(),
    ];
    for (k, l) in out.iter_mut().enumerate() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ k as u64;
        for _ in 0..1_000_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let r = x >> 33;
            let mut v = 200 + r % 2_000;
            if r % 100 == 0 {
                v += r % 200_000;
            }
            if r % 100_003 == 0 {
                v = 30_000_000;
            }
            l.record(v);
        }
    }
    out
}

/// What `publish` did before: `value_at_quantile` once per quantile, `mean()` for the sum.
fn walk_per_quantile(hs: &[Latency; 4]) -> u64 {
    let mut acc = 0;
    for l in hs {
        let h = l.histogram();
        for q in QUANTILES {
            acc ^= h.value_at_quantile(q);
        }
        acc ^= h.max() ^ (h.mean() * h.len() as f64) as u64 ^ h.len();
    }
    acc
}

pub fn bench(c: &mut Criterion) {
    let hs = stages();
    // both give the same quantiles
    LATENCY.publish([&hs[0], &hs[1], &hs[2], &hs[3]]);
    for (b, l) in LATENCY.stages.iter().zip(&hs) {
        for (q, a) in QUANTILES.iter().zip(&b.q_ns) {
            assert_eq!(
                a.load(std::sync::atomic::Ordering::Relaxed),
                l.histogram().value_at_quantile(*q)
            );
        }
    }
    let mut g = c.benchmark_group("status_publish");
    g.bench_function("arbot_single_pass", |b| {
        b.iter(|| LATENCY.publish(black_box([&hs[0], &hs[1], &hs[2], &hs[3]])))
    });
    g.bench_function("walk_per_quantile_and_mean", |b| {
        b.iter(|| black_box(walk_per_quantile(black_box(&hs))))
    });
    g.finish();
}
