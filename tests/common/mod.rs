//! Shared helpers for the integration tests: paths of the real recordings and configs.
#![allow(dead_code)]

pub mod alloc;
pub mod refbook;

use std::path::PathBuf;

/// Repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file of `../shared/data`, which must exist: tests on real data never skip silently.
pub fn data(rel: &str) -> PathBuf {
    let p = root().join("../shared/data").join(rel);
    assert!(
        p.is_file(),
        "recorded data missing: {} (the tests run on ../shared/data next to the repository)",
        p.display()
    );
    p
}

/// The three Binance recordings with their venue names, in config order.
pub fn binance_files() -> Vec<(&'static str, PathBuf)> {
    vec![
        ("binance-spot", data("binance/spot_btcusdt_20240808.gz")),
        ("binance-usdm", data("binance/usdm_btcusdt_20240808.gz")),
        ("binance-coinm", data("binance/cm_btcusd_perp_20240808.gz")),
    ]
}

/// Load a shipped config.
pub fn setup(name: &str) -> arbot::config::Setup {
    arbot::config::load(&root().join("configs").join(name)).unwrap_or_else(|e| panic!("{e}"))
}

/// A fresh temporary directory.
///
/// Each call gets a directory of its own (a counter after the process id): tests of one binary
/// run in parallel, and a run whose output directory already holds journals resumes them.
pub fn tmp(name: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("arbot-test-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Read a gzip recording as (recv_ns, json text) lines, in file order.
pub fn read_lines(p: &std::path::Path) -> Vec<(u64, String)> {
    use std::io::BufRead;
    let f = std::fs::File::open(p).unwrap();
    let r = std::io::BufReader::new(flate2::read::MultiGzDecoder::new(f));
    r.lines()
        .map(|l| {
            let l = l.unwrap();
            let (t, j) = l.split_once(' ').unwrap();
            (t.parse().unwrap(), j.to_string())
        })
        .collect()
}

/// The replay merge rule, written independently: earliest head first, ties to the lower file.
pub fn merge(files: &[Vec<(u64, String)>]) -> Vec<(usize, u64, &str)> {
    let mut idx = vec![0usize; files.len()];
    let mut out = Vec::new();
    loop {
        let mut best: Option<usize> = None;
        for (i, f) in files.iter().enumerate() {
            if idx[i] < f.len() && best.is_none_or(|b| f[idx[i]].0 < files[b][idx[b]].0) {
                best = Some(i);
            }
        }
        let Some(b) = best else { break };
        let (t, ref j) = files[b][idx[b]];
        out.push((b, t, j.as_str()));
        idx[b] += 1;
    }
    out
}
