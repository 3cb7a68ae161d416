//! JSON: arbot's Binance wire parser vs sonic-rs / serde_json / simd-json into one typed struct.

use crate::data;
use arbot::venues::binance::wire::{parse_stream, Levels, SymbolTable};
use arbot::venues::wire_util::Scale;
use criterion::{black_box, Criterion, Throughput};
use serde::Deserialize;

/// `{"stream": ..., "data": {...}}` with the payload typed.
#[derive(Deserialize)]
struct Env<'a, T> {
    #[allow(dead_code)]
    stream: &'a str,
    data: T,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct BookTicker<'a> {
    u: u64,
    s: &'a str,
    b: &'a str,
    #[serde(rename = "B")]
    bq: &'a str,
    a: &'a str,
    #[serde(rename = "A")]
    aq: &'a str,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Depth<'a> {
    #[serde(rename = "U")]
    first: u64,
    u: u64,
    #[serde(default)]
    pu: Option<u64>,
    #[serde(borrow)]
    b: Vec<[&'a str; 2]>,
    #[serde(borrow)]
    a: Vec<[&'a str; 2]>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Trade<'a> {
    t: u64,
    p: &'a str,
    q: &'a str,
    m: bool,
}

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

/// Parse one message of a known kind with a library into the typed struct; returns a value
/// derived from it so nothing is optimised away.
macro_rules! typed {
    ($kind:expr, $parse:ident, $raw:expr) => {
        match $kind {
            "bookTicker" => {
                $parse!(Env<BookTicker>, $raw).map(|e| e.data.u + e.data.b.len() as u64)
            }
            "depthUpdate" => $parse!(Env<Depth>, $raw)
                .map(|e| e.data.u + (e.data.b.len() + e.data.a.len()) as u64),
            _ => $parse!(Env<Trade>, $raw).map(|e| e.data.t + e.data.p.len() as u64),
        }
    };
}

macro_rules! sonic {
    ($t:ty, $raw:expr) => {
        sonic_rs::from_slice::<$t>($raw).ok()
    };
}
macro_rules! serdejson {
    ($t:ty, $raw:expr) => {
        serde_json::from_slice::<$t>($raw).ok()
    };
}

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
    /// simd-json parses in place: copy into a reused buffer first (counted in its time).
    fn parse(&mut self, kind: &str, raw: &[u8]) -> Option<u64> {
        self.buf.clear();
        self.buf.extend_from_slice(raw);
        let bufs = &mut self.buffers;
        let b = &mut self.buf[..];
        macro_rules! simd {
            ($t:ty, $raw:expr) => {
                simd_json::serde::from_slice_with_buffers::<$t>($raw, bufs).ok()
            };
        }
        typed!(kind, simd, b)
    }
}

pub fn bench(c: &mut Criterion) {
    let tables = tables();
    let mut levels = Levels::with_capacity(8192);
    for kind in ["bookTicker", "depthUpdate", "trade"] {
        let msgs = data::samples(kind, 3000);
        // every library must accept every sample (a failed parse would be a cheap one)
        let mut simd = Simd::new();
        for (vi, m) in &msgs {
            assert!(
                parse_stream(m, &tables[*vi], &mut levels).is_ok(),
                "arbot wire"
            );
            assert!(typed!(kind, sonic, m).is_some(), "sonic-rs");
            assert!(typed!(kind, serdejson, m).is_some(), "serde_json");
            assert!(simd.parse(kind, m).is_some(), "simd-json");
        }
        let mut g = c.benchmark_group(format!("json/{kind}"));
        g.throughput(Throughput::Elements(msgs.len() as u64));
        g.bench_function("arbot_wire_sonic_seeds_to_fixed_point", |b| {
            b.iter(|| {
                let mut acc = 0u64;
                for (vi, m) in &msgs {
                    if let Ok(x) = parse_stream(black_box(m), &tables[*vi], &mut levels) {
                        acc = acc.wrapping_add(x.last_id);
                    }
                }
                acc
            })
        });
        g.bench_function("sonic_rs_typed", |b| {
            b.iter(|| {
                msgs.iter()
                    .filter_map(|(_, m)| typed!(kind, sonic, black_box(m)))
                    .fold(0u64, u64::wrapping_add)
            })
        });
        g.bench_function("serde_json_typed", |b| {
            b.iter(|| {
                msgs.iter()
                    .filter_map(|(_, m)| typed!(kind, serdejson, black_box(m)))
                    .fold(0u64, u64::wrapping_add)
            })
        });
        g.bench_function("simd_json_typed", |b| {
            b.iter(|| {
                msgs.iter()
                    .filter_map(|(_, m)| simd.parse(kind, black_box(m)))
                    .fold(0u64, u64::wrapping_add)
            })
        });
        g.finish();
    }

    // whole-file throughput: every stream message of the spot recording, dispatched by kind
    let spot = &data::venues()[0];
    let file: Vec<(&'static str, &[u8])> = spot
        .lines
        .iter()
        .filter_map(|l| data::kind(l).map(|k| (k, l.as_slice())))
        .collect();
    let mut g = c.benchmark_group("json/file_spot");
    g.sample_size(10);
    g.throughput(Throughput::Elements(file.len() as u64));
    g.bench_function("arbot_wire_sonic_seeds_to_fixed_point", |b| {
        b.iter(|| {
            file.iter()
                .filter_map(|(_, m)| parse_stream(m, &tables[0], &mut levels).ok())
                .count()
        })
    });
    g.bench_function("sonic_rs_typed", |b| {
        b.iter(|| {
            file.iter()
                .filter_map(|(k, m)| typed!(*k, sonic, m))
                .count()
        })
    });
    g.bench_function("serde_json_typed", |b| {
        b.iter(|| {
            file.iter()
                .filter_map(|(k, m)| typed!(*k, serdejson, m))
                .count()
        })
    });
    let mut simd = Simd::new();
    g.bench_function("simd_json_typed", |b| {
        b.iter(|| file.iter().filter_map(|(k, m)| simd.parse(k, m)).count())
    });
    g.finish();
}
