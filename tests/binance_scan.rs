//! The hand scanner for Binance stream messages against the sonic-rs path, message by message:
//! wherever the scanner answers, the sonic-rs path gives the same message and the same levels;
//! where it does not, the combined parser (`wire::parse_stream`) gives exactly the sonic-rs
//! result. On every message of every Binance recording in `../shared/data` (the three main
//! recordings, the partial-book recording, cryptofeed's spot and futures sessions), at two
//! scales (generous, and tight enough that real prices fail), plus hand-made edge cases.

mod common;

use arbot::tools::verify::{driver, read_recording, RecLine};
use arbot::types::InstrumentId;
use arbot::venues::binance::scan::scan_stream;
use arbot::venues::binance::wire::{parse_stream, parse_stream_sonic, StreamKind, StreamMsg};
use arbot::venues::binance::LIMITS;
use arbot::venues::symbols::{InstrumentRef, SymbolTable};
use arbot::venues::wire_util::{Buffers, Limits, Scale, WireError};

fn table(symbols: &[&str], scale: Scale) -> SymbolTable {
    SymbolTable::new(
        symbols
            .iter()
            .enumerate()
            .map(|(i, s)| InstrumentRef {
                id: InstrumentId(i as u16),
                symbol: s.to_string(),
                scale,
            })
            .collect(),
    )
    .case_insensitive()
}

fn buffers() -> Buffers {
    Buffers::new(&Limits {
        max_levels_per_msg: 5000,
        max_changes_per_msg: 10_000,
        ..LIMITS
    })
}

#[derive(Default, Debug)]
struct Tally {
    messages: usize,
    scanned: usize,
    sonic_ok: usize,
    by_kind: [usize; 6],
}

fn kind_ix(k: StreamKind) -> usize {
    match k {
        StreamKind::BookTicker => 0,
        StreamKind::Depth => 1,
        StreamKind::PartialDepth => 2,
        StreamKind::Trade => 3,
        StreamKind::AggTrade => 4,
        StreamKind::Other => 5,
    }
}

/// Compare the two paths on one message; returns (scanner answered, sonic result).
fn compare(
    msg: &[u8],
    t: &SymbolTable,
    a: &mut Buffers,
    b: &mut Buffers,
    c: &mut Buffers,
) -> (Option<StreamMsg>, Result<StreamMsg, WireError>) {
    let s = scan_stream(msg, t, a);
    let r = parse_stream_sonic(msg, t, b);
    let text = String::from_utf8_lossy(&msg[..msg.len().min(300)]);
    if let Some(m) = s {
        assert_eq!(r, Ok(m), "scanner and sonic-rs differ on {text}");
        assert_eq!(a.bids, b.bids, "bids differ on {text}");
        assert_eq!(a.asks, b.asks, "asks differ on {text}");
        assert_eq!(a.changes, b.changes, "changes differ on {text}");
    }
    // the parser the handler uses: scanner first, sonic-rs for the rest
    let p = parse_stream(msg, t, c);
    assert_eq!(p, r, "combined parser differs from sonic-rs on {text}");
    if r.is_ok() {
        assert_eq!(c.bids, b.bids, "{text}");
        assert_eq!(c.asks, b.asks, "{text}");
        assert_eq!(c.changes, b.changes, "{text}");
    }
    (s, r)
}

fn run_all(msgs: &[Vec<u8>], t: &SymbolTable, tally: &mut Tally) {
    let (mut a, mut b, mut c) = (buffers(), buffers(), buffers());
    for m in msgs {
        let (s, r) = compare(m, t, &mut a, &mut b, &mut c);
        tally.messages += 1;
        if let Some(m) = s {
            tally.scanned += 1;
            tally.by_kind[kind_ix(m.kind)] += 1;
        }
        if r.is_ok() {
            tally.sonic_ok += 1;
        }
    }
}

fn gz_messages(rel: &str) -> Vec<Vec<u8>> {
    common::read_lines(&common::data(rel))
        .into_iter()
        .map(|(_, j)| j.into_bytes())
        .collect()
}

const GENEROUS: Scale = Scale {
    price_dec: 8,
    qty_dec: 8,
};
/// Real prices have more decimals than this: both paths must refuse them alike.
const TIGHT: Scale = Scale {
    price_dec: 0,
    qty_dec: 0,
};

#[test]
fn scanner_equals_sonic_on_every_shared_binance_message() {
    let syms = ["BTCUSDT", "BTCUSD_PERP", "ETHUSDT", "ETHBTC"];
    for (rel, want_kinds) in [
        ("binance/spot_btcusdt_20240808.gz", &[0usize, 1, 3][..]),
        ("binance/usdm_btcusdt_20240808.gz", &[0, 1, 3]),
        ("binance/cm_btcusd_perp_20240808.gz", &[0, 1, 3]),
        (
            "triangle/binance_spot_depth5_btcusdt_ethusdt_ethbtc_20250831.gz",
            &[2],
        ),
    ] {
        let msgs = gz_messages(rel);
        let mut tally = Tally::default();
        run_all(&msgs, &table(&syms, GENEROUS), &mut tally);
        eprintln!("{rel}: {tally:?}");
        // every stream message is the scanner's (the REST snapshot line is not a stream)
        assert!(tally.sonic_ok > 0);
        assert_eq!(
            tally.scanned, tally.sonic_ok,
            "{rel}: the scanner left messages the sonic-rs path reads"
        );
        for &k in want_kinds {
            assert!(
                tally.by_kind[k] > 0,
                "{rel}: no message of kind {k} scanned"
            );
        }
        // at a scale real prices do not fit, both refuse the same messages
        let mut tight = Tally::default();
        run_all(&msgs, &table(&syms, TIGHT), &mut tight);
        assert!(
            tight.sonic_ok < tally.sonic_ok,
            "{rel}: tight scale refused nothing"
        );
    }
}

#[test]
fn scanner_equals_sonic_on_the_recorded_binance_sessions() {
    let dir = common::root().join("../shared/data/recorded");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().to_string();
            n.starts_with("BINANCE") && n.contains(".ws.")
        })
        .collect();
    files.sort();
    assert!(files.len() >= 2, "the spot and futures sessions: {files:?}");
    for p in files {
        let lines = read_recording(&p).unwrap();
        let syms = driver::symbols_by_key(&lines, "s");
        let syms: Vec<&str> = syms.iter().map(String::as_str).collect();
        let msgs: Vec<Vec<u8>> = lines
            .iter()
            .filter_map(|l| match l {
                RecLine::Recv { payload, .. } => Some(payload.clone()),
                _ => None,
            })
            .collect();
        let mut tally = Tally::default();
        run_all(&msgs, &table(&syms, GENEROUS), &mut tally);
        eprintln!("{}: {tally:?}", p.display());
        assert!(tally.scanned > msgs.len() / 3, "{}: {tally:?}", p.display());
        assert_eq!(
            tally.scanned,
            tally.sonic_ok,
            "{}: the scanner left messages",
            p.display()
        );
        let mut tight = Tally::default();
        run_all(&msgs, &table(&syms, TIGHT), &mut tight);
    }
}

#[test]
fn scanner_edge_cases_agree_with_sonic() {
    let t = table(&["BTCUSDT"], GENEROUS);
    let (mut a, mut b, mut c) = (buffers(), buffers(), buffers());
    let bt = r#"{"stream":"btcusdt@bookTicker","data":{"u":5,"s":"BTCUSDT","b":"1.5","B":"2","a":"1.6","A":"3"}}"#;
    let cases: &[(&str, bool)] = &[
        // (message, the scanner must answer)
        (bt, true),
        (
            r#" { "stream" : "btcusdt@bookTicker" , "data" : { "u" : 5 , "b" : "1.5" , "B" : "2" , "a" : "1.6" , "A" : "3" } } "#,
            true,
        ),
        (
            &bt.replace("\"s\":\"BTCUSDT\"", "\"s\":\"BTC\\u0055SDT\""),
            false,
        ),
        (&bt.replace("\"u\":5", "\"u\":05"), false),
        (&bt.replace("\"u\":5", "\"u\":5.0"), false),
        (&bt.replace("\"u\":5", "\"u\":-5"), false),
        (&bt.replace("\"u\":5", "\"u\":18446744073709551616"), false),
        (&bt.replace("\"u\":5", "\"u\":18446744073709551615"), true),
        (&bt.replace("\"u\":5,", "\"u\":5,\"u\":6,"), false),
        (&bt.replace("\"u\":5,", ""), false),
        (&bt.replace("\"b\":\"1.5\"", "\"b\":1.5"), false),
        (&bt.replace("\"b\":\"1.5\"", "\"b\":\"1.5x\""), false),
        (&bt.replace("\"b\":\"1.5\"", "\"b\":\"\""), false),
        (&bt.replace("\"s\":\"BTCUSDT\"", "\"x\":{\"y\":1}"), false),
        (&bt.replace("\"s\":\"BTCUSDT\"", "\"x\":null"), true),
        (&bt.replace("\"s\":\"BTCUSDT\"", "\"x\":-1.5e+3"), true),
        (&bt.replace("\"s\":\"BTCUSDT\"", "\"x\":1.e3"), false),
        (&bt.replace("\"s\":\"BTCUSDT\"", "\"x\":tru"), false),
        (&bt.replace("btcusdt@", "ethusdt@"), false),
        (&bt.replace("@bookTicker", "@kline_1m"), false),
        (&format!("{bt}x"), false),
        (&format!("{bt}\n"), true),
        (&bt[..bt.len() - 1], false),
        (&bt.replace("{\"stream\"", "{\"id\":1,\"stream\""), false),
        (&bt.replace("\"A\":\"3\"}}", "\"A\":\"3\"},\"x\":1}"), false),
        (r#"{"result":null,"id":1}"#, false),
        (
            r#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[["1.0","0.0"],["2","1"]],"a":[]}}"#,
            true,
        ),
        (
            r#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[["1.0","0.0","x"]],"a":[]}}"#,
            false,
        ),
        (
            r#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[["0","1"]],"a":[]}}"#,
            false,
        ),
        (
            r#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[["1","-1"]],"a":[]}}"#,
            false,
        ),
        (
            r#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2}}"#,
            false,
        ),
        (
            r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":7,"p":"1.5","q":"0.1","T":1,"m":false,"M":true}}"#,
            true,
        ),
        (
            r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":7,"p":"1.5","q":"0.1","T":1,"m":"false"}}"#,
            false,
        ),
        (
            r#"{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","a":9,"p":"1.5","q":"0.1","m":true}}"#,
            true,
        ),
        (
            r#"{"stream":"btcusdt@depth5@100ms","data":{"lastUpdateId":3,"bids":[["1.5","1"]],"asks":[["1.6","2"]]}}"#,
            true,
        ),
        (
            r#"{"stream":"btcusdt@depth20","data":{"e":"depthUpdate","u":3,"pu":2,"b":[["1.5","1"]],"a":[["1.6","2"]]}}"#,
            true,
        ),
        (
            r#"{"stream":"btcusdt@depth5@100ms","data":{"lastUpdateId":3,"bids":[["1.5","1"]]}}"#,
            false,
        ),
        ("", false),
        ("{", false),
        ("[]", false),
    ];
    for (i, (m, must_scan)) in cases.iter().enumerate() {
        let (s, r) = compare(m.as_bytes(), &t, &mut a, &mut b, &mut c);
        assert_eq!(s.is_some(), *must_scan, "case {i}: {m} (sonic: {r:?})");
    }
    // more levels than the buffers hold: the scanner leaves it, sonic-rs refuses it
    let small = || {
        Buffers::new(&Limits {
            max_levels_per_msg: 2,
            max_changes_per_msg: 2,
            ..LIMITS
        })
    };
    let (mut a, mut b, mut c) = (small(), small(), small());
    let m = br#"{"stream":"btcusdt@depth","data":{"U":1,"u":2,"b":[["1","1"],["2","1"]],"a":[["3","1"]]}}"#;
    let (s, r) = compare(m, &t, &mut a, &mut b, &mut c);
    assert!(s.is_none() && r.is_err(), "{r:?}");
}
