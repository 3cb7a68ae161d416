//! Helpers of the loopback tests (tests/loopback_feed.rs, tests/allocations/loopback.rs): cut
//! recordings, loopback configs, paper runs against the replay server, comparisons with file
//! replay.
#![allow(dead_code)]

use super::common;

use arbot::tools::replay_server::{Faults, MarketKind, ServerConfig};
use serde_json::Value;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

pub const SECONDS: u64 = 40;

/// The first `SECONDS` of each recording (snapshot line included), as gz files.
pub fn cut_data() -> Vec<(&'static str, MarketKind, PathBuf)> {
    let dir = std::env::temp_dir().join(format!("arbot-loopback-data-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut out = Vec::new();
    for ((venue, p), m) in common::binance_files().into_iter().zip([
        MarketKind::Spot,
        MarketKind::Usdm,
        MarketKind::Coinm,
    ]) {
        let dst = dir.join(p.file_name().unwrap());
        if !dst.exists() {
            let r = std::io::BufReader::new(flate2::read::MultiGzDecoder::new(
                std::fs::File::open(&p).unwrap(),
            ));
            let mut w = flate2::write::GzEncoder::new(
                std::fs::File::create(&dst).unwrap(),
                flate2::Compression::fast(),
            );
            let mut t0 = None;
            for l in r.lines() {
                let l = l.unwrap();
                let t: u64 = l.split(' ').next().unwrap().parse().unwrap();
                let t0 = *t0.get_or_insert(t);
                if t - t0 > SECONDS * 1_000_000_000 {
                    break;
                }
                writeln!(w, "{l}").unwrap();
            }
            w.finish().unwrap();
        }
        out.push((venue, m, dst));
    }
    out
}

pub fn config_text(base: &str, files: &[(&str, MarketKind, PathBuf)], extra_venue: &str) -> String {
    let src = std::fs::read_to_string(common::root().join("configs/replay-vip.toml")).unwrap();
    let mut s = src.replace("mode = \"replay\"", "mode = \"paper\"");
    // data paths: the cut files
    for (venue, _, p) in files {
        let orig = match *venue {
            "binance-spot" => "../shared/data/binance/spot_btcusdt_20240808.gz",
            "binance-usdm" => "../shared/data/binance/usdm_btcusdt_20240808.gz",
            _ => "../shared/data/binance/cm_btcusd_perp_20240808.gz",
        };
        s = s.replace(orig, &p.display().to_string());
    }
    for (venue, m) in [
        ("binance-spot", "spot"),
        ("binance-usdm", "usdm"),
        ("binance-coinm", "coinm"),
    ] {
        let http = base
            .replace("wss://", "https://")
            .replace("ws://", "http://");
        let depth = if m == "spot" {
            ""
        } else {
            "depth_stream = \"depth@0ms\"\n"
        };
        s = s.replace(
            &format!("[venues.{venue}]\n"),
            &format!(
                "[venues.{venue}]\nws_url = \"{base}/{m}\"\nrest_url = \"{http}/{m}\"\n{depth}{extra_venue}"
            ),
        );
    }
    // these tests compare exact counts with file replay (no disconnect); on a loaded test
    // machine detection can be descheduled for a second, which would reconnect by design
    // (`threads.stall_resync_ns`, tested on its own in `feed::tests`)
    s.replace("[run]\n", "[run]\nstop_when_feeds_end = true\n")
        .replace("[threads]\n", "[threads]\nstall_resync_ns = 0\n")
}

pub fn setup_of(text: &str) -> arbot::config::Setup {
    arbot::config::resolve(
        arbot::config::parse(text, "loopback.toml").unwrap(),
        &common::root(),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

pub struct Run {
    pub report: Value,
    pub res: arbot::engine::RunResult,
    pub out: PathBuf,
    pub server: arbot::tools::replay_server::ServerStats,
}

/// A paper run over the loopback server at 20× the recorded pace with server pings every
/// `ping`; the report (used by the allocation test).
pub fn paper_run(tag: &str, tls: bool, ping: std::time::Duration) -> Value {
    paper_with(tag, tls, false, Faults::default(), "", Some(ping)).report
}

pub fn paper(tag: &str, tls: bool, lockstep: bool, faults: Faults, extra_venue: &str) -> Run {
    paper_with(tag, tls, lockstep, faults, extra_venue, None)
}

pub fn paper_with(
    tag: &str,
    tls: bool,
    lockstep: bool,
    faults: Faults,
    extra_venue: &str,
    ping: Option<std::time::Duration>,
) -> Run {
    paper_edited(tag, tls, lockstep, faults, extra_venue, ping, |t| t)
}

/// [`paper_with`] whose config text is passed through `edit` last (e.g. to add a table).
pub fn paper_edited(
    tag: &str,
    tls: bool,
    lockstep: bool,
    faults: Faults,
    extra_venue: &str,
    ping: Option<std::time::Duration>,
    edit: impl FnOnce(String) -> String,
) -> Run {
    paper_paced(
        tag,
        tls,
        if lockstep { None } else { Some(20.0) },
        faults,
        extra_venue,
        ping,
        edit,
    )
}

/// [`paper_edited`] with the server's pace given: `Some(x)` = x times the recorded pace,
/// `None` = lock-step with the engine.
pub fn paper_paced(
    tag: &str,
    tls: bool,
    speed: Option<f64>,
    faults: Faults,
    extra_venue: &str,
    ping: Option<std::time::Duration>,
    edit: impl FnOnce(String) -> String,
) -> Run {
    let lockstep = speed.is_none();
    let files = cut_data();
    let out = common::tmp(tag);
    let cert = out.join("cert.pem");
    let server = arbot::tools::replay_server::start(ServerConfig {
        files: files.iter().map(|(_, m, p)| (*m, p.clone())).collect(),
        bind: "127.0.0.1:0".parse().unwrap(),
        speed,
        tls,
        cert_out: tls.then(|| cert.clone()),
        lockstep,
        faults,
        wait_clients: std::time::Duration::from_secs(30),
        ping_every: Some(ping.unwrap_or(std::time::Duration::from_millis(200))),
        linger: std::time::Duration::ZERO,
        exchange: Default::default(),
    })
    .unwrap();
    let mut extra = extra_venue.to_string();
    if tls {
        extra.push_str(&format!("tls_ca_file = \"{}\"\n", cert.display()));
    }
    let setup = setup_of(&edit(config_text(&server.ws_base(), &files, &extra)));
    let res = arbot::engine::run_paper(&setup, &out.join("paper")).unwrap();
    let server = server.join().unwrap();
    let report = arbot::report::build(&setup, "loopback", &res);
    Run {
        report,
        res,
        out: out.join("paper"),
        server,
    }
}

pub fn replay() -> (Value, arbot::engine::RunResult) {
    let files = cut_data();
    let text = config_text("ws://127.0.0.1:1", &files, "")
        .replace("mode = \"paper\"", "mode = \"replay\"");
    let setup = setup_of(&text);
    let res = arbot::engine::run_replay(&setup, &common::tmp("loopback-replay")).unwrap();
    (arbot::report::build(&setup, "replay", &res), res)
}

/// Validity and top levels (price, qty) of one book: (valid, bids, asks).
pub type BookTop = (bool, Vec<(i64, i64)>, Vec<(i64, i64)>);

/// Top `n` depth levels per side of every book.
pub fn books(r: &arbot::engine::RunResult, n: usize) -> Vec<BookTop> {
    r.det
        .market
        .books
        .iter()
        .map(|b| {
            let bids = b.bids.iter().take(n).map(|l| (l.px, l.qty)).collect();
            let asks = b.asks.iter().take(n).map(|l| (l.px, l.qty)).collect();
            (b.valid, bids, asks)
        })
        .collect()
}

pub const VENUES: [&str; 3] = ["binance-spot", "binance-usdm", "binance-coinm"];

/// Per-venue feed and sync counters of `report.json` that two runs over the same data share.
pub const FEED_COUNTS: [&str; 10] = [
    "messages",
    "bbo_updates",
    "depth_updates",
    "trades",
    "snapshots",
    "syncs",
    "gaps",
    "resyncs",
    "parse_errors",
    "invalid_book_events",
];

pub fn assert_same_as_replay(run: &Run, rep: &Value) {
    for v in VENUES {
        for k in FEED_COUNTS {
            assert_eq!(run.report["venues"][v][k], rep["venues"][v][k], "{v}.{k}");
        }
        assert_eq!(run.report["venues"][v]["disconnects"], 0, "{v}");
        assert_eq!(run.report["venues"][v]["syncs"], 1, "{v}");
    }
    let pairs = |r: &Value| -> Vec<(String, String, f64)> {
        r["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["buy_venue"].as_str().unwrap().to_string(),
                    p["sell_venue"].as_str().unwrap().to_string(),
                    p["max_gross_spread_bps"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(pairs(&run.report), pairs(rep), "per-pair max gross spread");
    assert_eq!(run.server.snapshots_recorded, 3);
    assert_eq!(run.server.lockstep_timeouts, 0);
}

/// Log lines `<iso time> ... <event> venue=<v> ...` as (iso, event, venue).
pub fn log_events(out: &Path) -> Vec<(String, String, String)> {
    std::fs::read_to_string(out.join("arbot.log"))
        .unwrap()
        .lines()
        .filter_map(|l| {
            let mut it = l.split(' ');
            let t = it.next()?.to_string();
            let _sev = it.next()?;
            let ev = it.next()?.to_string();
            let venue = l.split(" venue=").nth(1)?.split(' ').next()?.to_string();
            Some((t, ev, venue))
        })
        .collect()
}

/// No traded signal used a venue whose book was invalid (between `venue_down`/`book_invalid`
/// and the next `book_synced`) or older than the stale limit.
pub fn assert_no_trade_on_bad_book(run: &Run, stale_ns: u64) {
    let ev = log_events(&run.out);
    let signals = std::fs::read_to_string(run.out.join("signals.jsonl")).unwrap();
    let mut traded = 0;
    for l in signals.lines() {
        let s: Value = serde_json::from_str(l).unwrap();
        if !s["traded"].as_bool().unwrap() {
            continue;
        }
        traded += 1;
        let t = arbot::logger::iso_ns(s["detected_ns"].as_u64().unwrap());
        for side in ["buy", "sell"] {
            let v = s[format!("{side}_venue")].as_str().unwrap();
            assert!(s[format!("{side}_book_age_ns")].as_u64().unwrap() <= stale_ns);
            let mut invalid = false;
            for (et, e, ev_v) in &ev {
                if *et > t {
                    break;
                }
                if ev_v != v {
                    continue;
                }
                match e.as_str() {
                    "venue_down" | "book_invalid" => invalid = true,
                    "book_synced" => invalid = false,
                    _ => {}
                }
            }
            assert!(
                !invalid,
                "signal {} traded on {v} while its book was invalid",
                s["id"]
            );
        }
    }
    assert!(
        traded > 0,
        "the run must trade for this check to mean something"
    );
}

pub fn assert_recovered(run: &Run, rres: &arbot::engine::RunResult) {
    for v in VENUES {
        assert!(run.report["venues"][v]["parse_errors"].as_u64().unwrap() <= 1);
    }
    // every book synced and equal to file replay's at the end (top 20 levels)
    assert_eq!(books(&run.res, 20), books(rres, 20), "final books");
    assert!(
        books(&run.res, 1).iter().all(|b| b.0),
        "all books valid at the end"
    );
    assert_no_trade_on_bad_book(run, 1_000_000_000);
}

pub fn net(run: &Run, v: &str, k: &str) -> u64 {
    run.report["net"]["venues"][v]["ws"][k].as_u64().unwrap()
}
