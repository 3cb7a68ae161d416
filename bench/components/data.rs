//! The real recordings, loaded once: lines of `../shared/data/binance/*.gz` and the
//! instrument scales of `configs/replay.toml`.

use std::io::BufRead;
use std::path::PathBuf;
use std::sync::OnceLock;

/// One recorded venue.
pub struct Venue {
    /// Raw messages (receive time stripped), in file order.
    pub lines: Vec<Vec<u8>>,
    /// Price decimals of its instrument.
    pub price_dec: u32,
    /// Quantity decimals.
    pub qty_dec: u32,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> Vec<Vec<u8>> {
    let p = root().join("../shared/data/binance").join(rel);
    let f = std::fs::File::open(&p).unwrap_or_else(|e| {
        panic!(
            "recorded data missing: {} ({e}); the benchmarks run on ../shared/data next to the repository",
            p.display()
        )
    });
    let rd = std::io::BufReader::new(flate2::read::MultiGzDecoder::new(f));
    rd.split(b'\n')
        .map(|l| l.unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .filter(|l| !l.is_empty())
        .map(|l| {
            let sp = l
                .iter()
                .position(|b| *b == b' ')
                .expect("`<ns> <json>` line");
            l[sp + 1..].to_vec()
        })
        .collect()
}

/// Spot, USDⓈ-M, COIN-M (in that order).
pub fn venues() -> &'static [Venue] {
    static V: OnceLock<Vec<Venue>> = OnceLock::new();
    V.get_or_init(|| {
        let setup = arbot::config::load(&root().join("configs/replay.toml"))
            .unwrap_or_else(|e| panic!("{e}"));
        [
            ("binance-spot", "spot_btcusdt_20240808.gz"),
            ("binance-usdm", "usdm_btcusdt_20240808.gz"),
            ("binance-coinm", "cm_btcusd_perp_20240808.gz"),
        ]
        .into_iter()
        .map(|(name, file)| {
            let v = setup.venue_id(name).expect("venue in configs/replay.toml");
            let spec = setup
                .instruments
                .iter()
                .find(|i| i.venue == v)
                .expect("instrument");
            Venue {
                lines: read(file),
                price_dec: spec.price_dec,
                qty_dec: spec.qty_dec,
            }
        })
        .collect()
    })
}

/// Stream kind of a raw combined-stream message, by its stream name.
pub fn kind(line: &[u8]) -> Option<&'static str> {
    let head = &line[..line.len().min(48)];
    let has = |pat: &[u8]| head.windows(pat.len()).any(|w| w == pat);
    if has(b"@bookTicker\"") {
        Some("bookTicker")
    } else if has(b"@depth") {
        Some("depthUpdate")
    } else if has(b"@trade\"") {
        Some("trade")
    } else {
        None
    }
}

/// Up to `n` messages of `kind` from every venue, interleaved in file order per venue.
pub fn samples(kind_name: &str, n: usize) -> Vec<(usize, &'static [u8])> {
    let mut out = Vec::new();
    for (vi, v) in venues().iter().enumerate() {
        out.extend(
            v.lines
                .iter()
                .filter(|l| kind(l) == Some(kind_name))
                .take(n / 3)
                .map(|l| (vi, l.as_slice())),
        );
    }
    assert!(!out.is_empty(), "no {kind_name} messages in the recordings");
    out
}
