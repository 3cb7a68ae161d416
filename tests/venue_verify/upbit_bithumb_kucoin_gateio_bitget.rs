//! `verify-book` on the real Upbit, Bithumb, KuCoin, Gate.io and Bitget recordings, with
//! expectations computed independently from the files (line counts by a plain text scan, the
//! checksum count of `exchanges.md` §11.3), and on damaged copies of them: a dropped diff must
//! show up as a gap, a changed size as a checksum mismatch, a broken line as a parse error.
//! Also: the handlers run with the specs built from the venues' own instrument files
//! (`NAME.0`) parse every recorded message.

use crate::common;

use arbot::feed::{EventSink, VenueCounters, VenueHandler};
use arbot::ring::RawMeta;
use arbot::tools::verify::{self, RecLine, VerifyReport};
use arbot::types::{InstrumentId, VenueId};
use arbot::venues::symbols::InstrumentRef;
use arbot::venues::wire_util::Scale;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn rec(name: &str) -> PathBuf {
    common::data(&format!("recorded/{name}"))
}

fn verify(p: &Path) -> VerifyReport {
    verify::verify_file(p, None).unwrap_or_else(|e| panic!("{e}"))
}

/// Lines of a cryptofeed recording that are received messages (`t: payload`).
fn received(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .filter(|l| !l.contains(" <- ") && !l.contains(" <-> ") && l.contains(": "))
        .map(str::to_string)
        .collect()
}

fn assert_clean(r: &VerifyReport) {
    assert!(r.ok(), "{r:?}");
    assert_eq!(
        (
            r.gaps,
            r.parse_errors,
            r.checksum_mismatches,
            r.bbo_mismatches
        ),
        (0, 0, 0, 0),
        "{r:?}"
    );
}

#[test]
fn upbit_every_message_parses_and_every_snapshot_is_a_valid_book() {
    let p = rec("UPBIT.ws.62.0");
    let r = verify(&p);
    assert_eq!(r.venue, "upbit");
    let lines = received(&p);
    assert_eq!(r.messages, lines.len() as u64);
    let books = lines
        .iter()
        .filter(|l| l.contains(r#""ty":"orderbook""#))
        .count() as u64;
    assert_eq!(r.book_messages, books);
    assert_eq!(books, 145, "exchanges.md §7.3: 145 orderbook messages");
    assert_eq!(
        r.instruments, 5,
        "BTC-ITAM, BTC-PAX, BTC-XTZ, KRW-LAMB, KRW-WAVES"
    );
    assert_eq!(r.unknown_messages, 0);
    assert_clean(&r);
}

#[test]
fn bithumb_short_session_holds_trades_only() {
    let p = rec("BITHUMB.ws.1.0");
    let r = verify(&p);
    assert_eq!(r.venue, "bithumb");
    assert_eq!(r.messages, received(&p).len() as u64);
    assert_eq!(
        (r.book_messages, r.instruments),
        (0, 0),
        "no book data in this recording"
    );
    assert_eq!(r.unknown_messages, 2, "the two status replies");
    assert_clean(&r);
}

#[test]
fn kucoin_calibrates_all_books_and_matches_the_ticker() {
    let p = rec("KUCOIN.ws.1.0");
    rec("KUCOIN.http.0.0");
    let r = verify(&p);
    assert_eq!(r.venue, "kucoin");
    let lines = received(&p);
    // received lines + the 9 REST snapshots of KUCOIN.http.0.0
    assert_eq!(r.messages, lines.len() as u64 + 9);
    assert_eq!(r.instruments, 9, "every snapshotted symbol synced");
    // every l2update after its symbol's sync, plus the 9 snapshots, changed a book
    assert!(r.book_messages > 3000, "{r:?}");
    assert!(
        r.bbo_checks > 700,
        "ticker.sequence == book sequence often: {r:?}"
    );
    assert_clean(&r);
}

#[test]
fn gateio_update_chains_have_no_gap() {
    let p = rec("GATEIO.ws.1.0");
    let r = verify(&p);
    assert_eq!(r.venue, "gateio");
    assert_eq!(r.messages, received(&p).len() as u64);
    // no GATEIO.http.* companion in ../shared/data: no book can be anchored
    assert_eq!(r.instruments, 0);
    assert_clean(&r);
}

#[test]
fn bitget_every_checksum_matches() {
    let p = rec("BITGET.ws.1.0");
    let r = verify(&p);
    assert_eq!(r.venue, "bitget");
    assert_eq!(r.messages, received(&p).len() as u64);
    let books = received(&p)
        .iter()
        .filter(|l| l.contains(r#""channel":"books""#) && l.contains(r#""action""#))
        .count() as u64;
    assert_eq!(books, 443, "exchanges.md §11.3: 8 snapshots + 435 updates");
    assert_eq!(
        (r.checksums_ok, r.book_messages, r.instruments),
        (443, 443, 8)
    );
    assert_clean(&r);
}

/// Copy `name` (and its `.http.` companions) into a temp dir, transformed line by line.
fn damaged(name: &str, tag: &str, f: impl Fn(usize, &str) -> Option<String>) -> PathBuf {
    let dir = common::tmp(tag);
    let src = rec(name);
    let text = std::fs::read_to_string(&src).unwrap();
    let out: Vec<String> = text
        .lines()
        .enumerate()
        .filter_map(|(i, l)| f(i, l))
        .collect();
    let dst = dir.join(name);
    std::fs::write(&dst, out.join("\n")).unwrap();
    let stem = name.split(".ws.").next().unwrap();
    for c in verify::http_companions(&src) {
        let fname = c.file_name().unwrap().to_str().unwrap().to_string();
        assert!(fname.starts_with(stem));
        std::fs::copy(&c, dir.join(fname)).unwrap();
    }
    dst
}

#[test]
fn a_dropped_kucoin_diff_is_a_gap() {
    // drop the 2000th BCHSV-USDT diff (long after its snapshot)
    let cell = std::cell::Cell::new(0usize);
    let p = damaged("KUCOIN.ws.1.0", "ku-gap", |_, l| {
        if l.contains("trade.l2update") && l.contains("/market/level2:BCHSV-USDT") {
            cell.set(cell.get() + 1);
            if cell.get() == 2000 {
                return None;
            }
        }
        Some(l.to_string())
    });
    assert!(cell.get() > 2000);
    let r = verify(&p);
    assert_eq!((r.gaps, r.resyncs), (1, 1), "{r:?}");
    assert!(!r.ok());
}

#[test]
fn a_dropped_gate_update_is_a_gap_even_without_snapshot() {
    let cell = std::cell::Cell::new(0usize);
    let p = damaged("GATEIO.ws.1.0", "gate-gap", |_, l| {
        if l.contains(r#""event":"update""#) && l.contains(r#""s":"QTUM3S_USDT""#) {
            cell.set(cell.get() + 1);
            if cell.get() == 5 {
                return None;
            }
        }
        Some(l.to_string())
    });
    assert!(cell.get() > 6);
    let r = verify(&p);
    assert_eq!(r.gaps, 1, "{r:?}");
}

#[test]
fn a_changed_bitget_size_is_a_checksum_mismatch_and_bad_lines_are_parse_errors() {
    let done = std::cell::Cell::new(false);
    let p = damaged("BITGET.ws.1.0", "bitget-crc", |_, l| {
        if !done.get()
            && l.contains(
                r#""action":"update","arg":{"instType":"sp","channel":"books","instId":"STGUSDT""#,
            )
        {
            // the first size of the update: "2.554" → "2.555"
            if let Some(i) = l.find(r#"["3.034","2.554"]"#) {
                done.set(true);
                let mut s = l.to_string();
                s.replace_range(i..i + 17, r#"["3.034","2.555"]"#);
                return Some(s);
            }
        }
        Some(l.to_string())
    });
    assert!(done.get(), "the real STGUSDT update was found and changed");
    let r = verify(&p);
    assert!(r.checksum_mismatches >= 1, "{r:?}");
    assert!(r.checksums_ok < 443);
    // truncate one Upbit orderbook line
    let done = std::cell::Cell::new(false);
    let p = damaged("UPBIT.ws.62.0", "upbit-bad", |_, l| {
        if !done.get() && l.contains(r#""ty":"orderbook""#) {
            done.set(true);
            return Some(format!("{}'", &l[..l.len() / 2]));
        }
        Some(l.to_string())
    });
    assert!(done.get());
    let r = verify(&p);
    assert_eq!(r.parse_errors, 1, "{r:?}");
    assert!(!r.ok());
}

// ---- the handlers with the specs of the venues' own instrument files ----

fn defs(exchange: &str, file: &str) -> Vec<arbot::instrument::InstrumentDef> {
    let text = std::fs::read_to_string(rec(file)).unwrap();
    let ex: arbot::venues::Exchange = exchange.parse().unwrap();
    let o = arbot::venues::VenueOptions {
        name: exchange.into(),
        protocol: (exchange == "bithumb").then(|| "legacy".to_string()),
        book_levels: 5000,
        snapshot_limit: 1000,
        ..Default::default()
    };
    arbot::venues::configure(ex, &o)
        .unwrap()
        .parse_instruments(exchange, &text)
        .unwrap()
}

fn refs(defs: &[arbot::instrument::InstrumentDef], want: &[String]) -> Vec<InstrumentRef> {
    want.iter()
        .enumerate()
        .map(|(i, s)| {
            let d = defs
                .iter()
                .find(|d| d.symbol.eq_ignore_ascii_case(s))
                .unwrap_or_else(|| panic!("{s} not in the instrument file"));
            let spec = d.to_spec(InstrumentId(i as u16), VenueId(0)).unwrap();
            InstrumentRef {
                id: spec.id,
                symbol: spec.symbol.clone(),
                scale: Scale {
                    price_dec: spec.price_dec,
                    qty_dec: spec.qty_dec,
                },
            }
        })
        .collect()
}

fn run_all(
    h: &mut dyn VenueHandler,
    lines: &[RecLine],
    http: &[RecLine],
    snap: &dyn Fn(&str) -> Option<u16>,
) -> u64 {
    let input = verify::session::inputs(lines, http, snap);
    let mut ev = Vec::with_capacity(4096);
    for (t, tg, data) in &input {
        ev.clear();
        let meta = RawMeta {
            recv_ns: *t,
            tag: *tg,
            seq: 0,
        };
        let mut sink = EventSink::to_vec(&mut ev);
        sink.begin(VenueId(0), &meta, 0);
        h.on_message(data, &meta, &mut sink);
        sink.end();
    }
    VenueCounters::get(&h.counters().parse_errors)
}

fn read(name: &str) -> (Vec<RecLine>, Vec<RecLine>) {
    let p = rec(name);
    let lines = verify::read_recording(&p).unwrap();
    let mut http = Vec::new();
    for c in verify::http_companions(&p) {
        http.extend(verify::read_recording(&c).unwrap());
    }
    (lines, http)
}

#[test]
fn instrument_file_specs_fit_every_recorded_message() {
    let c = || Arc::new(VenueCounters::default());
    // Upbit
    let (l, h) = read("UPBIT.ws.62.0");
    let syms = verify::upbit::codes(&l);
    let mut u = arbot::venues::upbit::UpbitHandler::new(
        VenueId(0),
        refs(&defs("upbit", "UPBIT.0"), &syms),
        arbot::venues::upbit::Upbit::new(),
        c(),
    );
    assert_eq!(run_all(&mut u, &l, &h, &|_| None), 0, "upbit");
    // Bithumb (legacy symbols BTC_KRW: the recorded trades)
    let (l, h) = read("BITHUMB.ws.1.0");
    let syms = verify::bithumb::symbols(&l);
    let mut b = arbot::venues::bithumb::BithumbHandler::new(
        VenueId(0),
        refs(&defs("bithumb", "BITHUMB.0"), &syms),
        arbot::venues::bithumb::Bithumb::new(arbot::venues::bithumb::Feed::Legacy),
        c(),
    );
    assert_eq!(run_all(&mut b, &l, &h, &|_| None), 0, "bithumb");
    assert_eq!(VenueCounters::get(&b.counters().trades), 7);
    // KuCoin, with the REST snapshots
    let (l, h) = read("KUCOIN.ws.1.0");
    let syms = verify::kucoin::symbols(&l, &h);
    let all = defs("kucoin", "KUCOIN.0");
    let mut k = arbot::venues::kucoin::KucoinHandler::new(
        VenueId(0),
        refs(&all, &syms),
        arbot::venues::kucoin::Kucoin::new(&arbot::venues::kucoin::LIMITS),
        c(),
    );
    let snap = |url: &str| {
        let s = verify::session::query_param(url, "symbol")?;
        syms.iter().position(|x| x == s).map(|i| i as u16)
    };
    assert_eq!(run_all(&mut k, &l, &h, &snap), 0, "kucoin");
    assert_eq!(VenueCounters::get(&k.counters().syncs), 9);
    assert_eq!(VenueCounters::get(&k.counters().gaps), 0);
    // Gate.io
    let (l, h) = read("GATEIO.ws.1.0");
    let syms = verify::gateio::pairs(&l, &h);
    let mut g = arbot::venues::gateio::GateHandler::new(
        VenueId(0),
        refs(&defs("gateio", "GATEIO.0"), &syms),
        arbot::venues::gateio::Gate::new(&arbot::venues::gateio::LIMITS),
        c(),
    );
    assert_eq!(run_all(&mut g, &l, &h, &|_| None), 0, "gateio");
    // Bitget: priceScale / quantityScale of the v1 products
    let (l, h) = read("BITGET.ws.1.0");
    let syms = verify::bitget::inst_ids(&l);
    let mut t = arbot::venues::bitget::BitgetHandler::new(
        VenueId(0),
        refs(&defs("bitget", "BITGET.0"), &syms),
        arbot::venues::bitget::Bitget::new(),
        c(),
    );
    assert_eq!(run_all(&mut t, &l, &h, &|_| None), 0, "bitget");
    assert_eq!(VenueCounters::get(&t.counters().syncs), 8);
}

/// Every real message of each recording cut at many points and with bytes overwritten: the
/// handlers never panic, and the damaged inputs are counted (parse errors or unknown), never
/// silently taken for book data they are not.
#[test]
fn truncated_and_corrupted_real_messages_never_panic() {
    let c = || Arc::new(VenueCounters::default());
    let sc = Scale {
        price_dec: 10,
        qty_dec: 8,
    };
    for (file, name) in [
        ("UPBIT.ws.62.0", "upbit"),
        ("BITHUMB.ws.1.0", "bithumb"),
        ("KUCOIN.ws.1.0", "kucoin"),
        ("GATEIO.ws.1.0", "gateio"),
        ("BITGET.ws.1.0", "bitget"),
    ] {
        let (l, http) = read(file);
        let syms: Vec<String> = match name {
            "upbit" => verify::upbit::codes(&l),
            "bithumb" => verify::bithumb::symbols(&l),
            "kucoin" => verify::kucoin::symbols(&l, &http),
            "gateio" => verify::gateio::pairs(&l, &http),
            _ => verify::bitget::inst_ids(&l),
        };
        let refs = verify::session::refs(&verify::session::specs(name, &syms, sc));
        let mut h: Box<dyn VenueHandler> = match name {
            "upbit" => Box::new(arbot::venues::upbit::UpbitHandler::new(
                VenueId(0),
                refs,
                arbot::venues::upbit::Upbit::new(),
                c(),
            )),
            "bithumb" => Box::new(arbot::venues::bithumb::BithumbHandler::new(
                VenueId(0),
                refs,
                arbot::venues::bithumb::Bithumb::new(arbot::venues::bithumb::Feed::Legacy),
                c(),
            )),
            "kucoin" => Box::new(arbot::venues::kucoin::KucoinHandler::new(
                VenueId(0),
                refs,
                arbot::venues::kucoin::Kucoin::new(&arbot::venues::kucoin::LIMITS),
                c(),
            )),
            "gateio" => Box::new(arbot::venues::gateio::GateHandler::new(
                VenueId(0),
                refs,
                arbot::venues::gateio::Gate::new(&arbot::venues::gateio::LIMITS),
                c(),
            )),
            _ => Box::new(arbot::venues::bitget::BitgetHandler::new(
                VenueId(0),
                refs,
                arbot::venues::bitget::Bitget::new(),
                c(),
            )),
        };
        let msgs: Vec<&Vec<u8>> = l
            .iter()
            .filter_map(|x| match x {
                RecLine::Recv { payload, .. } => Some(payload),
                _ => None,
            })
            .take(40)
            .collect();
        let mut ev = Vec::with_capacity(1 << 16);
        let mut fed = 0u64;
        for m in msgs {
            let mut variants: Vec<Vec<u8>> =
                (1..16).map(|k| m[..m.len() * k / 16].to_vec()).collect();
            for pos in [1, m.len() / 3, m.len() / 2, m.len() - 2] {
                for b in [b'"', b'}', b'x', b'-', 0u8] {
                    let mut v = m.clone();
                    if pos < v.len() {
                        v[pos] = b;
                        variants.push(v);
                    }
                }
            }
            for v in &variants {
                ev.clear();
                let meta = RawMeta::default();
                let mut sink = EventSink::to_vec(&mut ev);
                sink.begin(VenueId(0), &meta, 0);
                h.on_message(v, &meta, &mut sink);
                sink.end();
                assert!(
                    ev.last().is_some_and(|e| e.is_last()),
                    "{name}: message end marked"
                );
                fed += 1;
            }
        }
        let cnt = h.counters();
        let pe = VenueCounters::get(&cnt.parse_errors);
        assert!(
            pe > fed / 2,
            "{name}: {pe} parse errors of {fed} damaged inputs"
        );
    }
}
