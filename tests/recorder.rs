//! The raw recorder (R1.6) end to end: a paper session reads the first 40 s of the three real
//! Binance recordings from the loopback exchange (`arbot replay-server`, lockstep) with
//! `[recorder]` on; the files it writes hold every frame the feeds received and the REST
//! snapshots they fetched, byte for byte as the exchange sent them; replaying those files
//! gives the session's report (feed counts, syncs, spreads, signals, trades, PnL) and its
//! journals line for line.

mod common;
#[path = "support/loopback.rs"]
mod support;

use arbot::tools::replay_server::Faults;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use support::*;

/// Every line of a gzip file (all members), as (recv_ns, payload).
fn gz_lines(p: &Path) -> Vec<(u64, String)> {
    let r = std::io::BufReader::new(flate2::read::MultiGzDecoder::new(
        std::fs::File::open(p).unwrap(),
    ));
    r.lines()
        .map(|l| {
            let l = l.unwrap();
            let (t, rest) = l.split_once(' ').unwrap();
            (t.parse().unwrap(), rest.to_string())
        })
        .collect()
}

/// Paths where `a` and `b` differ, with both values.
fn json_diff(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                json_diff(
                    v,
                    y.get(k).unwrap_or(&Value::Null),
                    &format!("{path}.{k}"),
                    out,
                );
            }
            for k in y.keys().filter(|k| !x.contains_key(*k)) {
                out.push(format!("{path}.{k}: only in the replay"));
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                json_diff(v, w, &format!("{path}[{i}]"), out);
            }
        }
        _ if a != b => out.push(format!("{path}: session {a} vs replay {b}")),
        _ => {}
    }
}

#[test]
fn a_recorded_paper_session_replays_to_the_same_report() {
    let rec_dir = common::tmp("recorder-files");
    let rd = rec_dir.display().to_string();
    let run = paper_edited(
        "recorder-paper",
        false,
        true,
        Faults::default(),
        "",
        None,
        |t| format!("{t}\n[recorder]\ndir = \"{rd}\"\nflush_interval_ns = 100_000_000\n"),
    );
    let rec = &run.report["recorder"];
    assert_eq!(rec["write_errors"], 0);
    assert!(rec["flushes"].as_u64().unwrap() >= 3, "{rec}");

    // the files: <venue>_<YYYYMMDD>.gz, one per venue (two if the session crossed midnight UTC)
    let mut per_venue: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for e in std::fs::read_dir(&rec_dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        let (venue, day) = name.trim_end_matches(".gz").rsplit_once('_').unwrap();
        assert_eq!(day.len(), 8, "{name}");
        assert!(day.bytes().all(|b| b.is_ascii_digit()), "{name}");
        per_venue.entry(venue.to_string()).or_default().push(p);
    }
    let mut names: Vec<&str> = per_venue.keys().map(String::as_str).collect();
    let mut want = VENUES.to_vec();
    names.sort_unstable();
    want.sort_unstable();
    assert_eq!(names, want, "one file set per venue");
    let cut = cut_data();
    let mut replay_files = Vec::new();
    for (venue, kind, original) in cut {
        let mut paths = per_venue.remove(venue).unwrap();
        paths.sort();
        let recorded: Vec<(u64, String)> = paths.iter().flat_map(|p| gz_lines(p)).collect();
        let v = &rec["venues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["venue"] == venue)
            .unwrap();
        // every message the feed handed on was recorded, nothing dropped
        assert_eq!(
            v["lines"], run.report["venues"][venue]["messages"],
            "{venue}"
        );
        assert_eq!(
            v["lines"].as_u64().unwrap(),
            recorded.len() as u64,
            "{venue}"
        );
        assert_eq!(v["dropped_ring_full"], 0, "{venue}");
        assert_eq!(v["dropped_too_large"], 0, "{venue}");
        assert_eq!(v["not_written"], 0, "{venue}");
        assert_eq!(v["snapshots"], 1, "{venue}: the one REST snapshot fetched");
        // receive times never step back within a venue
        assert!(recorded.windows(2).all(|w| w[0].0 <= w[1].0), "{venue}");
        // byte for byte what the exchange sent: the original recording's payloads, each once
        // (the loopback exchange serves the snapshot line over REST, the rest over the socket)
        let mut got: Vec<&str> = recorded.iter().map(|(_, l)| l.as_str()).collect();
        let orig = common::read_lines(&original);
        let mut want: Vec<&str> = orig.iter().map(|(_, l)| l.as_str()).collect();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got.len(), want.len(), "{venue}: line count");
        assert!(
            got == want,
            "{venue}: recorded payloads differ from the exchange's"
        );
        // one replay file per venue: a session across midnight UTC is two gzip members
        let joined = rec_dir.join(format!("{venue}.joined.gz"));
        let mut bytes = Vec::new();
        for p in &paths {
            bytes.extend(std::fs::read(p).unwrap());
        }
        std::fs::write(&joined, bytes).unwrap();
        replay_files.push((venue, kind, joined));
    }

    // replay the recording with the session's own config
    let text = config_text("ws://127.0.0.1:1", &replay_files, "")
        .replace("mode = \"paper\"", "mode = \"replay\"");
    let setup = setup_of(&text);
    let out = common::tmp("recorder-replay");
    let res = arbot::engine::run_replay(&setup, &out).unwrap();
    let rep = arbot::report::build(&setup, "replay", &res);
    for v in VENUES {
        for k in FEED_COUNTS {
            assert_eq!(run.report["venues"][v][k], rep["venues"][v][k], "{v}.{k}");
        }
    }
    let mut diffs = Vec::new();
    for k in ["pairs", "pnl", "signals", "trades"] {
        json_diff(&run.report[k], &rep[k], k, &mut diffs);
    }
    assert!(
        diffs.is_empty(),
        "session vs replay of its recording: {diffs:#?}"
    );
    for j in [
        "signals.jsonl",
        "orders.jsonl",
        "fills.jsonl",
        "trades.jsonl",
    ] {
        let a = std::fs::read_to_string(run.out.join(j)).unwrap();
        let b = std::fs::read_to_string(out.join(j)).unwrap();
        assert!(
            a.lines().eq(b.lines()),
            "{j}: the replay of the recording differs from the session ({} vs {} lines)",
            a.lines().count(),
            b.lines().count()
        );
    }
    let signals = std::fs::read_to_string(out.join("signals.jsonl")).unwrap();
    assert!(
        signals.lines().count() > 0,
        "the session found opportunities to compare"
    );
    eprintln!(
        "recorded {} lines; replay of the recording: {} signals, pnl {}",
        VENUES
            .iter()
            .map(|v| rep["venues"][v]["messages"].as_u64().unwrap())
            .sum::<u64>(),
        signals.lines().count(),
        rep["pnl"]
    );
}

#[test]
fn the_recorder_is_refused_in_replay_mode_and_bad_settings_name_their_key() {
    let base = std::fs::read_to_string(common::root().join("configs/replay.toml")).unwrap();
    let e = arbot::config::resolve(
        arbot::config::parse(&format!("{base}\n[recorder]\ndir = \"rec\"\n"), "t.toml").unwrap(),
        &common::root(),
    )
    .map(|_| ())
    .expect_err("a recorder in replay mode is an error")
    .to_string();
    assert!(
        e.contains("recorder") && e.contains("already a recording"),
        "{e}"
    );
    let paper = base.replace("mode = \"replay\"", "mode = \"paper\"");
    for (extra, key) in [
        (
            "dir = \"rec\"\nflush_interval_ns = 2_000_000_000",
            "recorder.flush_interval_ns",
        ),
        ("dir = \"rec\"\nring_bytes = 1000", "recorder.ring_bytes"),
        ("dir = \"\"", "recorder.dir"),
    ] {
        let e = arbot::config::resolve(
            arbot::config::parse(&format!("{paper}\n[recorder]\n{extra}\n"), "t.toml").unwrap(),
            &common::root(),
        )
        .err()
        .unwrap_or_else(|| panic!("{extra}: accepted"))
        .to_string();
        assert!(e.contains(key), "{extra}: {e}");
    }
}
