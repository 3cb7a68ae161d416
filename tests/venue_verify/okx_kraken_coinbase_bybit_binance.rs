//! `verify-book` on the real recordings of OKX, Kraken, Coinbase, Bybit (v5 and the v2 legacy
//! feed) and Binance: every line through the venues' real parsers and the engine's books; no
//! gap, no parse error, no checksum mismatch, every checksum the files carry checked (counted
//! here independently from the raw text), and BBO checks where the data allows. Then the same
//! files with one fault planted each: the checks must catch it.

use crate::common;

use arbot::tools::verify::{verify_file, VerifyReport};
use std::path::{Path, PathBuf};

fn rec(name: &str) -> PathBuf {
    common::data(&format!("recorded/{name}"))
}

fn verify(p: &Path, venue: Option<&str>) -> VerifyReport {
    verify_file(p, venue).unwrap_or_else(|e| panic!("{e}"))
}

fn clean(r: &VerifyReport) {
    assert_eq!(r.gaps, 0, "{r:?}");
    assert_eq!(r.parse_errors, 0, "{r:?}");
    assert_eq!(r.checksum_mismatches, 0, "{r:?}");
    assert_eq!(r.bbo_mismatches, 0, "{r:?}");
    assert!(r.ok());
}

/// Received lines of a cryptofeed file whose payload contains `pat`, counted on the raw text.
fn count_lines(p: &Path, pat: &str) -> u64 {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .filter(|l| !l.contains(" <- ") && l.contains(pat))
        .count() as u64
}

#[test]
fn okx_every_checksum_matches() {
    let p = rec("OKX.ws.1.0");
    let r = verify(&p, None);
    assert_eq!(r.venue, "okx");
    clean(&r);
    // every book message of 2022 carries a non-zero checksum
    let carried = count_lines(&p, "\"checksum\":");
    assert_eq!(carried, 290);
    assert_eq!(r.checksums_ok, carried);
    assert_eq!(r.book_messages, 290);
    assert_eq!(r.instruments, 3);
    // 414 lines = connect + 3 subscriptions + 410 received
    assert_eq!(r.messages, 410);
    assert_eq!(
        r.bbo_checks, 0,
        "the 2022 tickers carry no seqId: no comparable moment"
    );
}

#[test]
fn kraken_all_three_sessions() {
    let book = rec("KRAKEN.ws.50.0");
    let r = verify(&book, None);
    assert_eq!(r.venue, "kraken");
    clean(&r);
    let carried = count_lines(&book, "\"c\":\"");
    assert_eq!(carried, 4269);
    assert_eq!(r.checksums_ok, carried, "every update's checksum verified");
    assert_eq!(r.book_messages, 10 + 4269);
    assert_eq!(r.instruments, 10);
    for (f, msgs) in [("KRAKEN.ws.48.0", 49), ("KRAKEN.ws.49.0", 60)] {
        let r = verify(&rec(f), None);
        clean(&r);
        assert_eq!(
            (r.messages, r.book_messages, r.checksums_ok),
            (msgs, 0, 0),
            "{f}"
        );
    }
}

#[test]
fn coinbase_books_match_the_tickers_at_unambiguous_instants() {
    let r = verify(&rec("COINBASE.ws.28.0"), None);
    assert_eq!(r.venue, "coinbase");
    clean(&r);
    assert_eq!(r.book_messages, 10 + 9719);
    assert_eq!(r.instruments, 10);
    assert_eq!(r.bbo_checks, 57);
}

#[test]
fn bybit_legacy_and_v5() {
    for (f, msgs, books, insts) in [
        ("BYBIT.ws.25.0", 3342, 8 + 3252, 8),
        ("BYBIT.ws.26.0", 1098, 2 + 1016, 2),
    ] {
        let r = verify(&rec(f), None);
        assert_eq!(r.venue, "bybit-legacy", "{f}: /realtime* is the v2 feed");
        clean(&r);
        assert_eq!(
            (r.messages, r.book_messages, r.instruments),
            (msgs, books, insts)
        );
    }
    // the v5 file has no URL line: told from its content
    let p = rec("bybit_v5_XRPUSDT_ob500_20241201.data");
    let r = verify(&p, None);
    assert_eq!(r.venue, "bybit");
    clean(&r);
    assert_eq!((r.messages, r.book_messages, r.instruments), (50, 50, 1));
    assert_eq!(verify(&p, Some("bybit")), r);
}

#[test]
fn binance_sessions_still_pass() {
    for f in ["BINANCE.ws.1.0", "BINANCE_FUTURES.ws.1.0"] {
        let r = verify(&rec(f), None);
        clean(&r);
        assert!(r.bbo_checks > 0, "{f}");
    }
}

// ---- planted faults -------------------------------------------------------------------------

fn plant(name: &str, file: &str, edit: impl Fn(Vec<String>) -> Vec<String>) -> PathBuf {
    let dir = common::tmp(name);
    let src = rec(file);
    let text = std::fs::read_to_string(&src).unwrap();
    let lines = edit(text.lines().map(str::to_string).collect());
    let p = dir.join(file);
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    // the instrument list of the run, as in ../shared/data/recorded
    if let Some((stem, _)) = file.split_once(".ws.") {
        let inst = src.with_file_name(format!("{stem}.0"));
        if inst.is_file() {
            std::fs::copy(&inst, dir.join(format!("{stem}.0"))).unwrap();
        }
    }
    p
}

#[test]
fn planted_faults_are_caught() {
    // OKX: one size in one update changed → that update's checksum fails
    let p = plant("okx-fault", "OKX.ws.1.0", |mut v| {
        let i = v
            .iter()
            .position(|l| l.contains("\"action\":\"update\"") && l.contains("[\"30261\",\"4\""))
            .unwrap();
        v[i] = v[i].replacen("[\"30261\",\"4\"", "[\"30261\",\"5\"", 1);
        v
    });
    let r = verify(&p, None);
    assert!(r.checksum_mismatches >= 1 && !r.ok(), "{r:?}");

    // Kraken: one update dropped → the next checksums of that pair fail
    let p = plant("kraken-fault", "KRAKEN.ws.50.0", |mut v| {
        let i = v.iter().position(|l| l.contains("\"c\":\"")).unwrap();
        v.remove(i);
        v
    });
    let r = verify(&p, None);
    assert!(r.checksum_mismatches >= 1 && !r.ok(), "{r:?}");

    // Coinbase: every ticker's best bid moved → every comparison made must fail
    let p = plant("coinbase-fault", "COINBASE.ws.28.0", |v| {
        v.into_iter()
            .map(|l| {
                if l.contains("\"type\":\"ticker\"") {
                    let i = l.find("\"best_bid\":\"").unwrap() + 12;
                    format!("{}9{}", &l[..i], &l[i..])
                } else {
                    l
                }
            })
            .collect()
    });
    let r = verify(&p, None);
    assert_eq!((r.bbo_checks, r.bbo_mismatches), (57, 57), "{r:?}");

    // Bybit v2: a delta delivered twice → cross_seq does not rise → gap
    let p = plant("bybit-legacy-fault", "BYBIT.ws.26.0", |mut v| {
        let i = v
            .iter()
            .position(|l| l.contains("\"type\":\"delta\""))
            .unwrap();
        let d = v[i].clone();
        v.insert(i + 1, d);
        v
    });
    let r = verify(&p, None);
    assert!(r.gaps >= 1 && r.resyncs >= 1 && !r.ok(), "{r:?}");

    // Bybit v5: one delta lost → u skips → gap
    let p = plant(
        "bybit-v5-fault",
        "bybit_v5_XRPUSDT_ob500_20241201.data",
        |mut v| {
            v.remove(10);
            v
        },
    );
    let r = verify(&p, None);
    assert_eq!(r.gaps, 1, "{r:?}");

    // malformed lines are counted, not fatal
    let p = plant("okx-garbage", "OKX.ws.1.0", |mut v| {
        v.insert(
            30,
            "1652459225.9: {\"arg\":{\"channel\":\"books\"".to_string(),
        );
        v
    });
    let r = verify(&p, None);
    assert_eq!(r.parse_errors, 1, "{r:?}");
    assert_eq!(r.checksums_ok, 290);
}

#[test]
fn cli_prints_one_json_object_per_file_and_fails_on_a_fault() {
    let files = [
        rec("OKX.ws.1.0"),
        rec("KRAKEN.ws.50.0"),
        rec("COINBASE.ws.28.0"),
        rec("BYBIT.ws.25.0"),
        rec("bybit_v5_XRPUSDT_ob500_20241201.data"),
    ];
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_arbot"))
        .arg("verify-book")
        .args(&files)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8(o.stdout).unwrap();
    let objs: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objs.len(), files.len());
    for k in [
        "file",
        "venue",
        "messages",
        "book_messages",
        "instruments",
        "checksums_ok",
        "checksum_mismatches",
        "gaps",
        "resyncs",
        "parse_errors",
        "unknown_messages",
        "bbo_checks",
        "bbo_mismatches",
    ] {
        assert!(objs.iter().all(|o| o.get(k).is_some()), "{k}");
    }
    let p = plant("cli-fault", "BYBIT.ws.26.0", |mut v| {
        let i = v
            .iter()
            .position(|l| l.contains("\"type\":\"delta\""))
            .unwrap();
        let d = v[i].clone();
        v.insert(i + 1, d);
        v
    });
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_arbot"))
        .args(["verify-book".as_ref(), p.as_os_str()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
}
