//! Two venues end to end through the engine: `configs/replay-okx-kraken.toml` replays the OKX
//! and Kraken cryptofeed sessions through the replay reader, the feed thread (both handlers on
//! one thread), the detection thread (books, checksum verification), risk and execution.
//! Per-venue counts must equal what the files hold, counted independently here.

mod common;

use arbot::instrument::InstrumentKind;
use arbot::types::Bps;

/// Received lines (`t: payload`) of a cryptofeed file, counted on the raw text.
fn received(p: &std::path::Path) -> u64 {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty() && !l.contains(" <-> ") && !l.contains(" <- "))
        .count() as u64
}

#[test]
fn okx_and_kraken_replay_end_to_end() {
    let setup = common::setup("replay-okx-kraken.toml");
    assert_eq!(setup.venues.len(), 2);
    let out = common::tmp("okx-kraken");
    let r = arbot::engine::run_replay(&setup, &out).unwrap();
    let report = arbot::report::build(&setup, "replay-okx-kraken.toml", &r);
    let okx_file = common::data("recorded/OKX.ws.1.0");
    let kraken_file = common::data("recorded/KRAKEN.ws.50.0");
    let want = [
        ("okx", received(&okx_file), 290u64),
        ("kraken", received(&kraken_file), 4269),
    ];
    for (venue, msgs, checksums) in want {
        let v = &report["venues"][venue];
        assert_eq!(v["messages"].as_u64(), Some(msgs), "{venue}: {v}");
        assert_eq!(v["parse_errors"].as_u64(), Some(0), "{venue}: {v}");
        assert_eq!(v["gaps"].as_u64(), Some(0), "{venue}: {v}");
        assert_eq!(v["checksum_mismatches"].as_u64(), Some(0), "{venue}: {v}");
        assert_eq!(v["checksums_ok"].as_u64(), Some(checksums), "{venue}: {v}");
        assert_eq!(v["failed_validations"].as_u64(), Some(0), "{venue}: {v}");
    }
    assert_eq!((want[0].1, want[1].1), (410, 4321));
    assert_eq!(
        r.det.messages,
        410 + 4321,
        "every message reached detection"
    );
    assert_eq!(r.det.merge_skips, 0);
    // the recorded instrument lists gave the real specs, and every book ended in sync and
    // whole; a book with no update for `hard_stale_after_ns` (10 s) at the end is held invalid
    // by the hard age limit (R1.3) until its next update, and counted
    let now = r.det.market.now_ns;
    let mut quiet = 0;
    for s in &setup.instruments {
        let b = &r.det.market.books[s.id.idx()];
        assert!(b.synced, "{}", s.internal_name());
        b.validate_full().unwrap();
        if !b.valid {
            assert!(
                now - b.last_update_ns() > setup.cfg.risk.hard_stale_after_ns,
                "{} invalid but not quiet",
                s.internal_name()
            );
            quiet += 1;
        }
    }
    let hard: u64 = ["okx", "kraken"]
        .iter()
        .map(|v| report["venues"][*v]["hard_stale"].as_u64().unwrap())
        .sum();
    assert!(
        hard >= quiet,
        "{hard} hard-stale marks for {quiet} quiet books"
    );
    let files = &report["data"]["files"];
    assert_eq!(
        files[0]["skipped"].as_u64(),
        Some(4),
        "connect + 3 subscriptions"
    );
    assert_eq!(
        files[1]["skipped"].as_u64(),
        Some(2),
        "connect + 1 subscription"
    );
}

#[test]
fn fees_follow_the_instrument_kind() {
    let setup = common::setup("replay-okx-kraken.toml");
    let sp = arbot::detect::spatial::Spatial::new(&setup);
    let fee = |sym: &str| {
        let s = setup.instruments.iter().find(|i| i.symbol == sym).unwrap();
        (s.kind, sp.fee(s.id))
    };
    assert_eq!(fee("BTC-USDT"), (InstrumentKind::Spot, Bps::from_num(10)));
    assert_eq!(
        fee("UNI-USD-SWAP"),
        (InstrumentKind::InversePerp, Bps::from_num(5))
    );
    assert_eq!(
        fee("BTC-USD-220527"),
        (InstrumentKind::InverseFuture, Bps::from_num(5))
    );
    assert_eq!(fee("XBT/CHF"), (InstrumentKind::Spot, Bps::from_num(26)));
    assert_eq!(
        setup.taker_fees_by_instrument().len(),
        setup.instruments.len()
    );
}
