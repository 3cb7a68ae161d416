//! Binance message parsers on the real messages, all producing the same output: arbot's hand
//! scanner (`arbot::venues::binance::scan`, what arbot ships, with the sonic-rs path as its
//! fallback), and arbot's wire seeds (`arbot::venues::binance::wire`, straight into fixed point
//! and a reused level buffer, no allocation) driven by sonic-rs, by serde_json and by simd-json.

use crate::data;
use arbot::types::InstrumentId;
use arbot::venues::binance::scan::scan_stream;
use arbot::venues::binance::wire::{parse_stream_de, parse_stream_sonic, StreamMsg};
use arbot::venues::seq_book::SeqLevel;
use arbot::venues::symbols::{InstrumentRef, SymbolTable};
use arbot::venues::wire_util::{Buffers, Scale};
use criterion::{Criterion, Throughput};
use std::hint::black_box;

/// The production symbol table (case-insensitive, as the Binance handler builds it), one
/// instrument.
type One = SymbolTable;

fn tables() -> Vec<One> {
    data::venues()
        .iter()
        .zip(["btcusdt", "btcusdt", "btcusd_perp"])
        .map(|(v, s)| {
            SymbolTable::new(vec![InstrumentRef {
                id: InstrumentId(0),
                symbol: s.to_string(),
                scale: Scale {
                    price_dec: v.price_dec,
                    qty_dec: v.qty_dec,
                },
            }])
            .case_insensitive()
        })
        .collect()
}

fn serde_json_parse(raw: &[u8], t: &One, levels: &mut Buffers) -> Option<StreamMsg> {
    let mut de = serde_json::Deserializer::from_slice(raw);
    let m = parse_stream_de(&mut de, t, levels).ok()?;
    de.end().ok().map(|_| m)
}

/// simd-json parses in place: the message is copied into a reused buffer first (counted).
struct Simd {
    buf: Vec<u8>,
    buffers: simd_json::Buffers,
}

impl Simd {
    fn new() -> Simd {
        Simd {
            buf: Vec::with_capacity(1 << 16),
            buffers: simd_json::Buffers::new(1 << 16),
        }
    }
    fn parse(&mut self, raw: &[u8], t: &One, levels: &mut Buffers) -> Option<StreamMsg> {
        self.buf.clear();
        self.buf.extend_from_slice(raw);
        let mut de =
            simd_json::Deserializer::from_slice_with_buffers(&mut self.buf, &mut self.buffers)
                .ok()?;
        // simd-json validates the whole document when it builds the tape
        parse_stream_de(&mut de, t, levels).ok()
    }
}

/// The message and its depth levels (bids, then asks: [`Buffers::changes`]).
fn out(m: StreamMsg, l: &Buffers) -> (StreamMsg, Vec<SeqLevel>) {
    (m, l.changes.clone())
}

pub fn bench(c: &mut Criterion) {
    let t = tables();
    let mut levels = Buffers::new(&arbot::venues::binance::LIMITS);
    let mut simd = Simd::new();
    for kind in ["bookTicker", "depthUpdate", "trade"] {
        let msgs = data::samples(kind, 3000);
        // the three must give identical results on every sample
        for (vi, m) in &msgs {
            let a = parse_stream_sonic(m, &t[*vi], &mut levels).expect("arbot wire / sonic-rs");
            let a = out(a, &levels);
            let h = scan_stream(m, &t[*vi], &mut levels).expect("hand scanner");
            assert_eq!(a, out(h, &levels), "hand scanner differs");
            let b = serde_json_parse(m, &t[*vi], &mut levels).expect("serde_json");
            assert_eq!(a, out(b, &levels), "serde_json differs");
            let s = simd.parse(m, &t[*vi], &mut levels).expect("simd-json");
            assert_eq!(a, out(s, &levels), "simd-json differs");
        }
        let mut g = c.benchmark_group(format!("json/{kind}"));
        g.throughput(Throughput::Elements(msgs.len() as u64));
        g.bench_function("arbot_hand_scanner", |b| {
            b.iter(|| {
                msgs.iter()
                    .filter_map(|(vi, m)| scan_stream(black_box(m), &t[*vi], &mut levels))
                    .fold(0u64, |a, x| a.wrapping_add(x.last_id))
            })
        });
        g.bench_function("arbot_wire_sonic_rs", |b| {
            b.iter(|| {
                msgs.iter()
                    .filter_map(|(vi, m)| {
                        parse_stream_sonic(black_box(m), &t[*vi], &mut levels).ok()
                    })
                    .fold(0u64, |a, x| a.wrapping_add(x.last_id))
            })
        });
        g.bench_function("arbot_wire_serde_json", |b| {
            b.iter(|| {
                msgs.iter()
                    .filter_map(|(vi, m)| serde_json_parse(black_box(m), &t[*vi], &mut levels))
                    .fold(0u64, |a, x| a.wrapping_add(x.last_id))
            })
        });
        g.bench_function("arbot_wire_simd_json", |b| {
            b.iter(|| {
                msgs.iter()
                    .filter_map(|(vi, m)| simd.parse(black_box(m), &t[*vi], &mut levels))
                    .fold(0u64, |a, x| a.wrapping_add(x.last_id))
            })
        });
        g.finish();
    }

    // whole-file throughput: every stream message of the spot recording
    let spot: Vec<&[u8]> = data::venues()[0]
        .lines
        .iter()
        .filter(|l| data::kind(l).is_some())
        .map(|l| l.as_slice())
        .collect();
    let mut g = c.benchmark_group("json/file_spot");
    g.sample_size(10);
    g.throughput(Throughput::Elements(spot.len() as u64));
    g.bench_function("arbot_hand_scanner", |b| {
        b.iter(|| {
            spot.iter()
                .filter_map(|m| scan_stream(m, &t[0], &mut levels))
                .count()
        })
    });
    g.bench_function("arbot_wire_sonic_rs", |b| {
        b.iter(|| {
            spot.iter()
                .filter_map(|m| parse_stream_sonic(m, &t[0], &mut levels).ok())
                .count()
        })
    });
    g.bench_function("arbot_wire_serde_json", |b| {
        b.iter(|| {
            spot.iter()
                .filter_map(|m| serde_json_parse(m, &t[0], &mut levels))
                .count()
        })
    });
    g.bench_function("arbot_wire_simd_json", |b| {
        b.iter(|| {
            spot.iter()
                .filter_map(|m| simd.parse(m, &t[0], &mut levels))
                .count()
        })
    });
    g.finish();
}
