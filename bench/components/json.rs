//! JSON libraries on the real Binance messages, all producing the same output: arbot's wire
//! seeds (`arbot::venues::binance::wire`, straight into fixed point and a reused level buffer,
//! no allocation) driven by sonic-rs (what arbot ships), by serde_json and by simd-json.

use crate::data;
use arbot::book::Level;
use arbot::venues::binance::wire::{parse_stream, parse_stream_de, Levels, StreamMsg, SymbolTable};
use arbot::venues::wire_util::Scale;
use criterion::{Criterion, Throughput};
use std::hint::black_box;

/// The production symbol table's look-up, for one instrument.
struct One {
    sym: String,
    scale: Scale,
}

impl SymbolTable for One {
    fn find_stream(&self, sym: &str) -> Option<(usize, Scale)> {
        (self.sym == sym || self.sym.eq_ignore_ascii_case(sym)).then_some((0, self.scale))
    }
    fn find_symbol(&self, sym: &str) -> Option<(usize, Scale)> {
        self.sym
            .eq_ignore_ascii_case(sym)
            .then_some((0, self.scale))
    }
}

fn tables() -> Vec<One> {
    data::venues()
        .iter()
        .zip(["btcusdt", "btcusdt", "btcusd_perp"])
        .map(|(v, s)| One {
            sym: s.to_string(),
            scale: Scale {
                price_dec: v.price_dec,
                qty_dec: v.qty_dec,
            },
        })
        .collect()
}

fn serde_json_parse(raw: &[u8], t: &One, levels: &mut Levels) -> Option<StreamMsg> {
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
    fn parse(&mut self, raw: &[u8], t: &One, levels: &mut Levels) -> Option<StreamMsg> {
        self.buf.clear();
        self.buf.extend_from_slice(raw);
        let mut de =
            simd_json::Deserializer::from_slice_with_buffers(&mut self.buf, &mut self.buffers)
                .ok()?;
        // simd-json validates the whole document when it builds the tape
        parse_stream_de(&mut de, t, levels).ok()
    }
}

fn out(m: StreamMsg, l: &Levels) -> (StreamMsg, Vec<Level>, Vec<Level>) {
    (m, l.bids.clone(), l.asks.clone())
}

pub fn bench(c: &mut Criterion) {
    let t = tables();
    let mut levels = Levels::with_capacity(8192);
    let mut simd = Simd::new();
    for kind in ["bookTicker", "depthUpdate", "trade"] {
        let msgs = data::samples(kind, 3000);
        // the three must give identical results on every sample
        for (vi, m) in &msgs {
            let a = parse_stream(m, &t[*vi], &mut levels).expect("arbot wire / sonic-rs");
            let a = out(a, &levels);
            let b = serde_json_parse(m, &t[*vi], &mut levels).expect("serde_json");
            assert_eq!(a, out(b, &levels), "serde_json differs");
            let s = simd.parse(m, &t[*vi], &mut levels).expect("simd-json");
            assert_eq!(a, out(s, &levels), "simd-json differs");
        }
        let mut g = c.benchmark_group(format!("json/{kind}"));
        g.throughput(Throughput::Elements(msgs.len() as u64));
        g.bench_function("arbot_wire_sonic_rs", |b| {
            b.iter(|| {
                msgs.iter()
                    .filter_map(|(vi, m)| parse_stream(black_box(m), &t[*vi], &mut levels).ok())
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
    g.bench_function("arbot_wire_sonic_rs", |b| {
        b.iter(|| {
            spot.iter()
                .filter_map(|m| parse_stream(m, &t[0], &mut levels).ok())
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
