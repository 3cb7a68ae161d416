//! Book updates: `L2Book` (sorted arrays, best last, binary search) on the real USDⓈ-M depth
//! diffs, at 1000 levels (the REST snapshot's depth) and 20 levels (the changes a top-20 book
//! sees: each real diff turned into the difference of the top 20 before and after), against a
//! `BTreeMap` per side.
//!
//! Binance diffs touch levels far from the top (`performance.md`: median 85 levels away), so
//! the 1000-level case is the realistic one for a full-depth book.

use crate::data;
use arbot::book::{L2Book, Level};
use arbot::fixed_point::parse_decimal;
use arbot::types::Side;
use criterion::{BatchSize, Criterion, Throughput};
use std::collections::BTreeMap;

#[derive(Clone, Copy)]
struct Change {
    side: Side,
    lvl: Level,
}

fn levels(v: &serde_json::Value, side: Side, pd: u32, qd: u32, out: &mut Vec<Change>) {
    for l in v.as_array().expect("levels array") {
        let px = parse_decimal(l[0].as_str().expect("px").as_bytes(), pd).expect("px");
        let q = parse_decimal(l[1].as_str().expect("qty").as_bytes(), qd).expect("qty");
        out.push(Change {
            side,
            lvl: Level {
                px: px.value,
                qty: q.value,
                px_frac: px.frac,
                qty_frac: q.frac,
            },
        });
    }
}

/// (snapshot levels, diffs after it in order) from the USDⓈ-M recording.
fn usdm() -> (Vec<Change>, Vec<Change>) {
    let v = &data::venues()[1];
    let (pd, qd) = (v.price_dec, v.qty_dec);
    let mut snap = Vec::new();
    let mut last_id = None;
    let mut pending = Vec::new();
    for l in &v.lines {
        if l.starts_with(b"{\"lastUpdateId\"") {
            let x: serde_json::Value = serde_json::from_slice(l).expect("snapshot JSON");
            levels(&x["bids"], Side::Buy, pd, qd, &mut snap);
            levels(&x["asks"], Side::Sell, pd, qd, &mut snap);
            last_id = x["lastUpdateId"].as_u64();
        } else if data::kind(l) == Some("depthUpdate") {
            let x: serde_json::Value = serde_json::from_slice(l).expect("depth JSON");
            let d = &x["data"];
            pending.push((d["u"].as_u64().expect("u"), d.clone()));
        }
    }
    let last_id = last_id.expect("a REST snapshot in the USDⓈ-M recording");
    let mut diffs = Vec::new();
    for (u, d) in pending {
        if u > last_id {
            levels(&d["b"], Side::Buy, pd, qd, &mut diffs);
            levels(&d["a"], Side::Sell, pd, qd, &mut diffs);
        }
    }
    (snap, diffs)
}

fn build(cap: usize, snap: &[Change]) -> L2Book {
    let mut b = L2Book::new(cap);
    for c in snap {
        b.side_mut(c.side).set(c.lvl).expect("snapshot level");
    }
    b
}

/// The level changes a book of the best `n` levels sees (what a top-`n` depth stream would
/// send): after each real change to the full book, the difference between its old and new
/// top `n` on that side (levels leaving the top `n` are deletes, levels entering are sets).
fn top_n_stream(snap: &[Change], diffs: &[Change], n: usize) -> Vec<Change> {
    let mut full = build(100_000, snap);
    let mut out = Vec::new();
    let top = |b: &L2Book, s: Side| -> Vec<Level> { b.side(s).iter().take(n).copied().collect() };
    for c in diffs {
        let before = top(&full, c.side);
        let _ = full.side_mut(c.side).set(c.lvl);
        let after = top(&full, c.side);
        for l in &before {
            if !after.iter().any(|a| a.px == l.px) {
                out.push(Change {
                    side: c.side,
                    lvl: Level { qty: 0, ..*l },
                });
            }
        }
        for l in &after {
            if !before.iter().any(|b| b == l) {
                out.push(Change {
                    side: c.side,
                    lvl: *l,
                });
            }
        }
    }
    out
}

type MapBook = [BTreeMap<i64, Level>; 2];

fn map_book(snap: &[Change]) -> MapBook {
    let mut m: MapBook = [BTreeMap::new(), BTreeMap::new()];
    for c in snap {
        m[c.side as usize].insert(c.lvl.px, c.lvl);
    }
    m
}

pub fn bench(c: &mut Criterion) {
    let (snap, diffs) = usdm();
    let diffs: Vec<Change> = diffs.into_iter().take(50_000).collect();
    let top20 = top_n_stream(&snap, &diffs, 20);
    let snap20: Vec<Change> = {
        let b = build(100_000, &snap);
        [Side::Buy, Side::Sell]
            .into_iter()
            .flat_map(|s| {
                b.side(s)
                    .iter()
                    .take(20)
                    .map(move |l| Change { side: s, lvl: *l })
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    for (name, cap, init, ch) in [
        ("1000_levels", 1000usize, &snap, &diffs),
        ("20_levels", 20usize, &snap20, &top20),
    ] {
        let book = build(cap, init);
        // both books agree at the end of the sequence (within the capped depth)
        let mut a = book.clone();
        let mut m = map_book(init);
        for c in ch.iter() {
            a.side_mut(c.side).set(c.lvl).expect("level");
            if c.lvl.qty == 0 {
                m[c.side as usize].remove(&c.lvl.px);
            } else {
                m[c.side as usize].insert(c.lvl.px, c.lvl);
            }
        }
        assert_eq!(
            a.best_bid().map(|x| x.0 .0),
            m[0].keys().next_back().copied()
        );
        assert_eq!(a.best_ask().map(|x| x.0 .0), m[1].keys().next().copied());

        let mut g = c.benchmark_group(format!("book/{name}"));
        g.throughput(Throughput::Elements(ch.len() as u64));
        g.bench_function("l2book_sorted_array", |b| {
            b.iter_batched(
                || book.clone(),
                |mut bk| {
                    for c in ch.iter() {
                        let _ = bk.side_mut(c.side).set(c.lvl);
                    }
                    bk
                },
                BatchSize::LargeInput,
            )
        });
        let mb = map_book(init);
        g.bench_function("btreemap", |b| {
            b.iter_batched(
                || mb.clone(),
                |mut m| {
                    for c in ch.iter() {
                        let side = &mut m[c.side as usize];
                        if c.lvl.qty == 0 {
                            side.remove(&c.lvl.px);
                        } else {
                            side.insert(c.lvl.px, c.lvl);
                        }
                    }
                    m
                },
                BatchSize::LargeInput,
            )
        });
        g.finish();
        println!(
            "book/{name}: {} level changes (from the first {} level changes of the real USDⓈ-M diffs)",
            ch.len(),
            diffs.len()
        );
    }
}
