//! Bad lines inside a real recording: each is a counted, logged skip; the book keeps its
//! sync (nothing already accepted is lost) and every line is still accounted for.

mod common;

use std::io::Write;

#[test]
fn malformed_lines_are_counted_logged_and_harmless() {
    let lines = common::read_lines(&common::data("binance/spot_btcusdt_20240808.gz"));
    let dir = common::tmp("bad-input");
    let gz = dir.join("spot_bad.gz");
    let mut inserted = 0;
    {
        let f = std::fs::File::create(&gz).unwrap();
        let mut w = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
        for (i, (t, j)) in lines.iter().take(3000).enumerate() {
            writeln!(w, "{t} {j}").unwrap();
            // after the snapshot (line 8) and some diffs, inject damage
            if i == 200 {
                writeln!(w, "{t} {{\"stream\":\"btcusdt@bookTicker\",\"data\":{{\"u\":1,\"s\":\"BTCUSDT\",\"b\":\"6183").unwrap();
                writeln!(w, "{t} {{\"stream\":\"btcusdt@trade\",\"data\":{{\"e\":\"trade\",\"t\":1,\"p\":\"abc\",\"q\":\"1\",\"m\":true}}}}").unwrap();
                writeln!(w, "no-timestamp-here").unwrap();
                writeln!(w).unwrap(); // empty line: not a message
                inserted += 3;
            }
        }
        w.finish().unwrap();
    }
    let cfg = format!(
        r#"
mode = "replay"
[replay]
files = [{{ venue = "binance-spot", path = "{}" }}]
[threads]
wait = "park"
[venues.binance-spot]
exchange = "binance"
market = "spot"
taker_fee_bps = 10.0
book_levels = 5000
[[instruments]]
venue = "binance-spot"
symbol = "BTCUSDT"
base = "BTC"
quote = "USDT"
tick_size = "0.01"
lot_size = "0.00001"
qty_decimals = 8
"#,
        gz.display()
    );
    let setup = arbot::config::resolve(arbot::config::parse(&cfg, "t").unwrap(), &dir).unwrap();
    let r = arbot::engine::run_replay(&setup, &dir).unwrap();
    let rep = arbot::report::build(&setup, "t", &r);
    let v = &rep["venues"]["binance-spot"];
    assert_eq!(v["messages"], 3000 + inserted);
    assert_eq!(v["parse_errors"], 3);
    assert_eq!(v["gaps"], 0);
    assert_eq!(v["syncs"], 1);
    assert_eq!(
        v["invalid_book_events"], 0,
        "bad lines must not invalidate a good book"
    );
    assert_eq!(rep["data"]["files"][0]["bad_timestamps"], 1);
    let log = std::fs::read_to_string(dir.join("arbot.log")).unwrap();
    assert_eq!(
        log.matches(" parse_error venue=binance-spot").count(),
        3,
        "{log}"
    );
    assert!(log.contains("no-timestamp-here"));
    assert!(log.contains("\\\"p\\\":\\\"abc\\\""), "{log}");
}
