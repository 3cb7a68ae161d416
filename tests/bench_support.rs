//! What the benchmark harness (`bench/e2e.rs`) relies on, on the real recordings: the bench
//! config reaches order encoding through the unchanged pipeline, `replay.max_messages` stops
//! the replay after exactly that many messages in merge order, and the stage histograms write
//! as HdrHistogram percentile-distribution text.

mod common;

use arbot::config::{parse, resolve};

fn bench_setup() -> arbot::config::Setup {
    let p = common::root().join("bench/configs/e2e.toml");
    let text = std::fs::read_to_string(&p).unwrap();
    resolve(parse(&text, "e2e.toml").unwrap(), &common::root()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn max_messages_replays_exactly_the_first_n_in_merge_order() {
    let mut setup = bench_setup();
    let n = 20_000u64;
    setup.cfg.replay.as_mut().unwrap().max_messages = n;
    let out = common::tmp("bench-limit");
    let r = arbot::engine::run_replay(&setup, &out).unwrap();
    assert_eq!(r.det.messages, n);
    // per file: as many lines as the independent merge puts among the first n
    let lines: Vec<Vec<(u64, String)>> = common::binance_files()
        .iter()
        .map(|(_, p)| common::read_lines(p))
        .collect();
    let merged = common::merge(&lines);
    let mut per_file = [0u64; 3];
    for (fi, _, _) in merged.iter().take(n as usize) {
        per_file[*fi] += 1;
    }
    for (k, f) in r.files.iter().enumerate() {
        assert_eq!(f.lines, per_file[k], "{}", f.path);
    }
    let seen: u64 = r
        .counters
        .iter()
        .map(|c| arbot::feed::VenueCounters::get(&c.messages))
        .sum();
    assert_eq!(seen, n, "feed threads saw exactly the first n messages");
}

#[test]
fn bench_config_reaches_order_encoding_and_writes_hgrm() {
    let mut setup = bench_setup();
    {
        let rp = setup.cfg.replay.as_mut().unwrap();
        rp.max_messages = 30_000;
        rp.lead_msgs = 1;
    }
    // same pipeline, thresholds opened by config only
    assert_eq!(setup.cfg.detection.min_net_spread_bps, 0.0);
    assert!(setup.cfg.detection.reentry_cooldown_ns > 0);
    let out = common::tmp("bench-orders");
    let r = arbot::engine::run_replay(&setup, &out).unwrap();
    let t2o = r.exec.tick_to_order.summary();
    let enc = r.exec.encode.summary();
    assert!(t2o.count > 100, "orders reached encoding: {t2o:?}");
    assert_eq!(
        enc.count, r.exec.stats.orders,
        "every order signed is timed"
    );
    assert_eq!(
        r.exec.stats.orders,
        2 * t2o.count + r.exec.stats.unwinds,
        "two legs per intent, plus one-leg unwinds"
    );
    assert_eq!(r.exec.stats.intents, t2o.count);
    assert!(t2o.p50 >= enc.p50, "tick-to-order includes encoding");
    // the split of tick-to-signal covers each message that signalled once
    let l = &r.det.lat;
    let (sp, sq, sd) = (
        l.signal_parse.summary(),
        l.signal_queue.summary(),
        l.signal_detect.summary(),
    );
    assert!(sp.count > 0 && sp.count == sq.count && sq.count == sd.count);
    assert!(sp.count <= l.tick_to_signal.summary().count);
    assert!(
        sp.count >= t2o.count / 3,
        "messages that signalled vs intents"
    );
    // nothing dropped or skipped on the way
    assert_eq!(r.det.journal_dropped + r.exec.stats.journal_dropped, 0);
    for c in &r.counters {
        assert_eq!(arbot::feed::VenueCounters::get(&c.parse_errors), 0);
        assert_eq!(arbot::feed::VenueCounters::get(&c.gaps), 0);
    }
    // the percentile distribution of the real run: counts add up to the histogram's
    let text = r.exec.tick_to_order.percentile_distribution(1000.0);
    let last = text
        .lines()
        .take_while(|l| !l.starts_with('#'))
        .filter(|l| !l.trim().is_empty())
        .last()
        .unwrap();
    let f: Vec<&str> = last.split_whitespace().collect();
    assert_eq!(f[1], "1.000000000000", "{last}");
    assert_eq!(f[2].parse::<u64>().unwrap(), t2o.count, "{last}");
    let max_us: f64 = f[0].parse().unwrap();
    assert!((max_us * 1000.0 - t2o.max as f64).abs() <= t2o.max as f64 * 0.002 + 1.0);
}
