//! The detection step without threads: `DetectionCore` driven on one thread (the
//! single-thread replay path, `threads.mode = "single"`, the default for a replay) over the
//! real recordings gives the threaded replay's journals and report, byte for byte (latency
//! figures aside), on every shipped replay config.

mod common;

use arbot::config::ThreadMode;
use serde_json::Value;

fn comparable(r: &Value) -> Value {
    let mut v = r.clone();
    let o = v.as_object_mut().unwrap();
    for k in ["latency_ns", "run", "config"] {
        o.remove(k);
    }
    v
}

/// Every journal the run wrote (`*.jsonl`), by file name, sorted.
fn journals(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Run `threaded` in both shapes; assert equal journals and report; returns the number of
/// lines of `trades.jsonl`.
fn same_setup_as_threaded(mut threaded: arbot::config::Setup, cfg: &str, tag: &str) -> usize {
    threaded.cfg.threads.mode = ThreadMode::Threaded;
    let mut single = threaded.clone();
    single.cfg.threads.mode = ThreadMode::Single;
    let (dt, ds) = (
        common::tmp(&format!("{tag}-thr")),
        common::tmp(&format!("{tag}-one")),
    );
    let rt = arbot::engine::run(&threaded, &dt).unwrap();
    let rs = arbot::engine::run(&single, &ds).unwrap();
    assert_eq!(rs.pinned.len(), 1, "the single path runs one hot thread");
    assert_eq!(rt.det.messages, rs.det.messages);
    assert!(rs.det.messages > 0, "{cfg}: no message replayed");
    let (jt, js) = (journals(&dt), journals(&ds));
    let names = |j: &[(String, Vec<u8>)]| j.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&jt), names(&js), "{cfg}: different journal files");
    for f in [
        "signals.jsonl",
        "trades.jsonl",
        "orders.jsonl",
        "fills.jsonl",
    ] {
        assert!(names(&js).iter().any(|n| n == f), "{cfg}: {f} not written");
    }
    for ((f, a), (_, b)) in jt.iter().zip(&js) {
        assert!(
            a == b,
            "{cfg}: {f} differs between threaded and single-thread replay"
        );
    }
    let a = arbot::report::build(&threaded, cfg, &rt);
    let b = arbot::report::build(&single, cfg, &rs);
    assert_eq!(comparable(&a), comparable(&b), "{cfg}: report differs");
    let trades = std::fs::read(ds.join("trades.jsonl")).unwrap();
    let _ = (std::fs::remove_dir_all(&dt), std::fs::remove_dir_all(&ds));
    trades.iter().filter(|&&c| c == b'\n').count()
}

/// Every `configs/replay*.toml`, so a new replay config is covered without touching this test.
fn shipped_replay_configs() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(common::root().join("configs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("replay") && n.ends_with(".toml"))
        .collect();
    v.sort();
    v
}

#[test]
fn single_thread_path_is_the_replay_default() {
    for cfg in shipped_replay_configs() {
        let s = common::setup(&cfg);
        assert_eq!(s.cfg.mode, arbot::config::Mode::Replay, "{cfg}");
        assert_ne!(
            s.cfg.threads.mode,
            ThreadMode::Threaded,
            "{cfg}: a shipped replay should run on the single-thread path"
        );
    }
    let paper = common::setup("paper-loopback.toml");
    assert_eq!(paper.cfg.threads.mode, ThreadMode::Auto);
}

#[test]
fn single_thread_equals_threaded_on_every_shipped_replay_config() {
    // one after the other in this process (CI has two cores): each config runs in both shapes
    let cfgs = shipped_replay_configs();
    for must in [
        "replay.toml",
        "replay-vip.toml",
        "replay-rebalance.toml",
        "replay-okx-kraken.toml",
        "replay-stat.toml",
        "replay-triangle.toml",
    ] {
        assert!(cfgs.iter().any(|c| c == must), "{must} not found");
    }
    let mut traded = Vec::new();
    for cfg in &cfgs {
        let tag = format!("core-{}", cfg.trim_end_matches(".toml"));
        let n = same_setup_as_threaded(common::setup(cfg), cfg, &tag);
        eprintln!("{cfg}: single == threaded ({n} trades)");
        if n > 0 {
            traded.push(cfg.clone());
        }
    }
    // the comparison covers trades, one-leg unwinds and pair positions, not only quiet runs
    for must in ["replay-vip.toml", "replay-stat.toml"] {
        assert!(traded.iter().any(|c| c == must), "{must} made no trade");
    }
}

#[test]
fn single_thread_core_equals_threaded_replay_triangles_trading() {
    // the zero-fee what-if of the shipped triangle config trades three legs and closes
    // failed ones
    let text = std::fs::read_to_string(common::root().join("configs/replay-triangle.toml"))
        .unwrap()
        .replace("taker_fee_bps = 10.0 ", "taker_fee_bps = 0.0 ")
        .replace("min_profit_bps = 15.0 ", "min_profit_bps = 1.0 ");
    let setup = arbot::config::resolve(
        arbot::config::parse(&text, "tri-zero").unwrap(),
        &common::root(),
    )
    .unwrap();
    let n = same_setup_as_threaded(setup, "replay-triangle.toml", "core-tri-zero");
    assert!(n > 0, "the zero-fee triangle config should trade");
}
