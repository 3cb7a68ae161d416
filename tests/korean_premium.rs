//! The Korean premium end to end: config → replay → detection thread → `report.json`.
//!
//! The real Binance spot BTCUSDT recording (2024-08-08) is the USDT market. No KRW recording
//! overlaps it in time or asset, so the KRW side is a hand-made Upbit KRW-BTC feed (SIMPLE
//! format, one full book every 250 ms) whose price alternates every 10 s between +2 % and +7 %
//! over `1,380 KRW/USDT × 61,800 USDT`. The band is −1 % … +5 %: every +7 % block is one
//! excursion. The expected last premium is computed here from the file's last bookTicker.
//! The numbers are illustrative of the mechanism, not a market observation.

mod common;

use serde_json::Value;
use std::io::Write;

const RATE: f64 = 1380.0;

fn upbit_book(code: &str, tms: u64, bid: i64, ask: i64) -> String {
    format!(
        r#"{{"ty":"orderbook","cd":"{code}","tms":{tms},"tas":1.0,"tbs":2.0,"obu":[{{"ap":{ask}.0,"bp":{bid}.0,"as":1.0,"bs":2.0}},{{"ap":{a2}.0,"bp":{b2}.0,"as":3.0,"bs":4.0}}],"st":"REALTIME"}}"#,
        a2 = ask + 1000,
        b2 = bid - 1000
    )
}

#[test]
fn premium_is_reported_from_a_replay() {
    let spot = common::data("binance/spot_btcusdt_20240808.gz");
    let lines = common::read_lines(&spot);
    let (t0, t1) = (lines.first().unwrap().0, lines.last().unwrap().0);
    // the Binance best bid/ask the book ends with: the last bookTicker
    let last_tick: Value = lines
        .iter()
        .rev()
        .find(|(_, j)| j.contains("@bookTicker"))
        .map(|(_, j)| serde_json::from_str(j).unwrap())
        .unwrap();
    let f = |k: &str| {
        last_tick["data"][k]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap()
    };
    let usdt_mid_last = (f("b") + f("a")) / 2.0;

    // hand-made KRW-BTC books, every 250 ms from t0 to t1, ending within the last 250 ms
    let dir = common::tmp("premium");
    let krw_path = dir.join("upbit_krwbtc.gz");
    let base_krw = RATE * 61_800.0;
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&krw_path).unwrap(),
        flate2::Compression::fast(),
    );
    let mut t = t0;
    let mut last_mid = 0.0;
    let mut high_blocks = std::collections::BTreeSet::new();
    while t <= t1 {
        let block = (t - t0) / 10_000_000_000;
        let up = if block % 2 == 1 { 1.07 } else { 1.02 };
        if block % 2 == 1 {
            high_blocks.insert(block);
        }
        let bid = ((base_krw * up / 1000.0).round() as i64) * 1000; // KRW tick 1,000
        let ask = bid + 1000;
        writeln!(gz, "{t} {}", upbit_book("KRW-BTC", t / 1_000_000, bid, ask)).unwrap();
        last_mid = (bid + ask) as f64 / 2.0;
        t += 250_000_000;
    }
    gz.finish().unwrap();

    let cfg = format!(
        r#"
mode = "replay"
[run]
out_dir = "{out}"
[replay]
pace = "max"
files = [
  {{ venue = "binance-spot", path = "{spot}" }},
  {{ venue = "upbit", path = "{krw}" }},
]
[threads]
wait = "park"
[venues.binance-spot]
exchange = "binance"
market = "spot"
taker_fee_bps = 10.0
book_levels = 5000
balances = {{ USDT = 1000.0 }}
[venues.upbit]
exchange = "upbit"
taker_fee_bps = 5.0
book_levels = 5000
balances = {{ KRW = 1000000.0 }}
[[instruments]]
venue = "binance-spot"
symbol = "BTCUSDT"
base = "BTC"
quote = "USDT"
tick_size = "0.01"
lot_size = "0.00001"
qty_decimals = 8
[[instruments]]
venue = "upbit"
symbol = "KRW-BTC"
base = "BTC"
quote = "KRW"
tick_size = "1000"
lot_size = "0.00000001"
[premium]
rate = {{ fixed_krw_per_usdt = {RATE} }}
band_low_pct = -1.0
band_high_pct = 5.0
pairs = [{{ krw = "upbit:KRW-BTC", usdt = "binance-spot:BTCUSDT" }}]
"#,
        out = dir.display(),
        spot = spot.display(),
        krw = krw_path.display(),
    );
    let cfg_path = dir.join("premium.toml");
    std::fs::write(&cfg_path, cfg).unwrap();
    let setup = arbot::config::load(&cfg_path).unwrap_or_else(|e| panic!("{e}"));
    let r = arbot::engine::run_replay(&setup, &dir).unwrap();
    let rep = arbot::report::build(&setup, "premium.toml", &r);
    let p = &rep["premium"];
    if std::env::var_os("ARBOT_PRINT_PREMIUM").is_some() {
        println!("{}", serde_json::to_string_pretty(p).unwrap());
    }
    assert_eq!(p["rate"], "fixed 1380 KRW/USDT");
    assert_eq!(p["last_rate_krw_per_usdt"], 1380.0);
    assert!(p["trading"].as_str().unwrap().starts_with("report-only"));
    let pair = &p["pairs"][0];
    assert_eq!(pair["krw"], "upbit:KRW-BTC");
    let evals = pair["evaluations"].as_u64().unwrap();
    assert!(evals > 1000, "{pair}");
    // Upbit parsed everything it was given
    assert_eq!(rep["venues"]["upbit"]["parse_errors"], 0);
    assert_eq!(
        rep["venues"]["upbit"]["depth_updates"].as_u64().unwrap(),
        (t1 - t0) / 250_000_000 + 1
    );
    // last premium: the last KRW mid over the last Binance mid, through the rate
    let want_last = (last_mid / RATE / usdt_mid_last - 1.0) * 100.0;
    let last = pair["last"]["pct"].as_f64().unwrap();
    assert!(
        (last - want_last).abs() < 1e-5,
        "last {last} vs {want_last}"
    );
    // maximum in a +7 % block, minimum in a +2 % block (Binance moved < 1 % in these minutes)
    let (max, min) = (
        pair["max"]["pct"].as_f64().unwrap(),
        pair["min"]["pct"].as_f64().unwrap(),
    );
    assert!((6.0..8.0).contains(&max), "{max}");
    assert!((1.0..3.0).contains(&min), "{min}");
    // one excursion above the band per +7 % block, none below
    let out = &pair["outside_band"];
    assert_eq!(
        out["episodes"].as_u64().unwrap(),
        high_blocks.len() as u64,
        "{out}"
    );
    assert_eq!(out["evaluations_below"], 0);
    assert!(out["evaluations_above"].as_u64().unwrap() > 100);
    let first_out = out["first_at_ns"].as_u64().unwrap();
    assert!(
        first_out >= t0 + 10_000_000_000 && first_out < t0 + 11_000_000_000,
        "first excursion starts with block 1"
    );
    // roughly half the time outside
    let outside_s = out["time_outside_ns"].as_u64().unwrap() as f64 / 1e9;
    let total_s = (t1 - t0) as f64 / 1e9;
    assert!(
        (outside_s / total_s - 0.5).abs() < 0.1,
        "{outside_s} of {total_s}"
    );
}

/// `"150389000.0"` as an exact decimal (digits without the point, decimals).
fn px_of(text: &str) -> arbot::detect::premium::Px {
    let (i, f) = text.split_once('.').unwrap_or((text, ""));
    arbot::detect::premium::Px {
        v: format!("{i}{f}").parse().expect("a decimal price"),
        dec: f.len() as u32,
    }
}

/// `timestamp → close` of one candle file (`timestamp,open,high,low,close,volume`).
fn closes(file: &str) -> std::collections::BTreeMap<String, String> {
    use std::io::BufRead;
    let f = std::fs::File::open(common::data(file)).expect("candle file");
    let r = std::io::BufReader::new(flate2::read::GzDecoder::new(f));
    let mut out = std::collections::BTreeMap::new();
    for line in r.lines().skip(1) {
        let line = line.unwrap();
        let cols: Vec<&str> = line.split(',').collect();
        assert_eq!(cols.len(), 6, "{line}");
        out.insert(cols[0].to_string(), cols[4].to_string());
    }
    out
}

/// R2.4 arithmetic on real prices: the engine's exact premium of Upbit KRW-BTC over Binance
/// BTCUSDT at a fixed 1,390 KRW/USDT equals a float computation written here, on every one of
/// the 5,200 common 5-minute closes of `../shared/data/korea/` (2025-05-28 → 2025-08-23).
#[test]
fn premium_arithmetic_matches_an_independent_computation_on_real_candles() {
    let krw = closes("korea/upbit-KRW-BTC-5m-2025-05_2025-08.csv.gz");
    let usdt = closes("korea/binance-spot-BTCUSDT-5m-2025-05_2025-08.csv.gz");
    let rate = px_of("1390");
    let (mut n, mut sum, mut lo, mut hi) = (0usize, 0f64, f64::MAX, f64::MIN);
    let mut worst = 0f64;
    for (ts, k) in &krw {
        let Some(u) = usdt.get(ts) else { continue };
        let engine = arbot::detect::premium::premium_bps(px_of(k), rate, px_of(u))
            .expect("positive prices")
            .to_num::<f64>();
        let k: f64 = k.parse().unwrap();
        let u: f64 = u.parse().unwrap();
        let float = (k / 1390.0 / u - 1.0) * 1e4;
        worst = worst.max((engine - float).abs());
        assert!(
            (engine - float).abs() < 1e-6,
            "{ts}: engine {engine} bps, float {float} bps"
        );
        n += 1;
        sum += float;
        lo = lo.min(float);
        hi = hi.max(float);
    }
    assert_eq!(n, 5_200, "the data's README says 5,200 common timestamps");
    eprintln!(
        "Upbit KRW-BTC over Binance BTCUSDT at 1,390 KRW/USDT, {n} closes: mean {:.1} bps, \
         min {lo:.1}, max {hi:.1}; largest engine-vs-float difference {worst:.2e} bps",
        sum / n as f64
    );
}
