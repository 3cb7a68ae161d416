//! Decimal strings → numbers: arbot's exact fixed-point parser vs `rust_decimal`.

use crate::data;
use criterion::{Criterion, Throughput};
use rust_decimal::Decimal;
use std::hint::black_box;

/// (string, decimals of its instrument field) from the bookTicker messages of every venue.
fn strings() -> Vec<(String, u32)> {
    let mut out = Vec::new();
    for (vi, _) in data::venues().iter().enumerate() {
        let v = &data::venues()[vi];
        for l in v
            .lines
            .iter()
            .filter(|l| data::kind(l) == Some("bookTicker"))
            .take(500)
        {
            let x: serde_json::Value = serde_json::from_slice(l).expect("recorded JSON");
            let d = &x["data"];
            for (k, scale) in [
                ("b", v.price_dec),
                ("B", v.qty_dec),
                ("a", v.price_dec),
                ("A", v.qty_dec),
            ] {
                out.push((d[k].as_str().expect("decimal string").to_string(), scale));
            }
        }
    }
    out
}

pub fn bench(c: &mut Criterion) {
    let s = strings();
    // both must accept and agree on every string
    for (t, scale) in &s {
        let a = arbot::fixed_point::parse_decimal(t.as_bytes(), *scale).expect("arbot parse");
        let mut d = Decimal::from_str_exact(t).expect("rust_decimal parse");
        d.rescale(*scale);
        assert_eq!(a.value as i128, d.mantissa(), "{t}");
    }
    let mut g = c.benchmark_group("decimal/bookTicker_fields");
    g.throughput(Throughput::Elements(s.len() as u64));
    g.bench_function("arbot_parse_decimal_to_i64", |b| {
        b.iter(|| {
            s.iter()
                .filter_map(|(t, sc)| {
                    arbot::fixed_point::parse_decimal(black_box(t.as_bytes()), *sc).ok()
                })
                .fold(0i64, |a, d| a.wrapping_add(d.value))
        })
    });
    g.bench_function("arbot_parse_general_no_fast_path", |b| {
        b.iter(|| {
            s.iter()
                .filter_map(|(t, sc)| {
                    arbot::fixed_point::parse_general(black_box(t.as_bytes()), *sc).ok()
                })
                .fold(0i64, |a, d| a.wrapping_add(d.value))
        })
    });
    g.bench_function("rust_decimal_from_str_exact", |b| {
        b.iter(|| {
            s.iter()
                .filter_map(|(t, _)| Decimal::from_str_exact(black_box(t)).ok())
                .fold(0u32, |a, d| a.wrapping_add(d.scale()))
        })
    });
    g.bench_function("rust_decimal_to_scaled_i64", |b| {
        // what arbot needs from it: the value as an exact i64 at the instrument's scale
        b.iter(|| {
            s.iter()
                .filter_map(|(t, sc)| {
                    let mut d = Decimal::from_str_exact(black_box(t)).ok()?;
                    if d.scale() > *sc {
                        let r = d.round_dp(*sc);
                        if r != d {
                            return None; // too precise for the instrument
                        }
                        d = r;
                    }
                    d.rescale(*sc);
                    i64::try_from(d.mantissa()).ok()
                })
                .fold(0i64, |a, v| a.wrapping_add(v))
        })
    });
    g.bench_function("f64_parse_reference_inexact", |b| {
        b.iter(|| {
            s.iter()
                .filter_map(|(t, _)| black_box(t.as_str()).parse::<f64>().ok())
                .sum::<f64>()
        })
    });
    g.finish();
}
