//! The loss limits, the circuit breaker, the trade-rate limits and the guards (R4.2–R4.4) on
//! the shared Binance recordings: one config per limit (`configs/replay-vip.toml` with the
//! overrides below, as `arbot run --set` takes them), each tripping or refusing on the real
//! data, with its own reason, at the message the report names.
//!
//! The base lifts the exposure limits and gives each venue 100× the balances so that the
//! replay trades all along (every trade loses its spread and fees at the mark on this data,
//! so each loss limit has something to stop); each config then sets one limit.

mod common;

use arbot::config::ThreadMode;
use serde_json::Value;

const BIG: [&str; 6] = [
    "venues.binance-spot.balances={USDT=10000000.0,BTC=200.0}",
    "venues.binance-usdm.balances={USDT=10000000.0}",
    "venues.binance-coinm.balances={BTC=200.0}",
    "risk.max_position_per_coin_usd=1e7",
    "risk.max_exposure_per_venue_usd=1e7",
    "risk.max_total_exposure_usd=1e7",
];
/// The losing streak would trip first: lifted where another limit is under test.
const NO_STREAK: &str = "risk.max_consecutive_losses=1000000";

struct Run {
    report: Value,
    out: std::path::PathBuf,
}

impl Run {
    fn transitions(&self) -> Vec<Value> {
        self.report["risk"]["limits"]["breaker"]["transitions"]
            .as_array()
            .unwrap()
            .clone()
    }
    fn refusal(&self, reason: &str) -> (u64, u64) {
        let r = &self.report["risk"]["limits"]["refusals"][reason];
        assert!(
            r.is_object(),
            "no `{reason}` refusal: {}",
            self.report["risk"]["limits"]["refusals"]
        );
        (
            r["count"].as_u64().unwrap(),
            r["first_msg_seq"].as_u64().unwrap(),
        )
    }
    fn journal(&self, f: &str) -> Vec<Value> {
        std::fs::read_to_string(self.out.join(f))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
    fn attempted(&self) -> u64 {
        self.report["trades"]["attempted"].as_u64().unwrap()
    }
    /// Traded signals triggered after message `msg`.
    fn traded_after(&self, msg: u64) -> usize {
        self.journal("signals.jsonl")
            .iter()
            .filter(|s| s["traded"] == true && s["md"]["trigger_msg_seq"].as_u64().unwrap() > msg)
            .count()
    }
}

fn run(tag: &str, sets: &[&str]) -> Run {
    let mut all: Vec<String> = BIG.iter().map(|s| s.to_string()).collect();
    all.extend(sets.iter().map(|s| s.to_string()));
    let mut setup = arbot::config::load_with(&common::root().join("configs/replay-vip.toml"), &all)
        .unwrap_or_else(|e| panic!("{e}"));
    setup.cfg.threads.mode = ThreadMode::Single;
    let out = common::tmp(tag);
    let r = arbot::engine::run(&setup, &out).unwrap();
    let report = arbot::report::build(&setup, tag, &r);
    let run = Run { report, out };
    eprintln!(
        "{tag}: {} trades, MTM {} USD; transitions {}; refusals {}",
        run.attempted(),
        run.report["pnl"]["mark_to_market_usd"],
        serde_json::to_string(
            &run.transitions()
                .iter()
                .map(|t| format!(
                    "{}->{} {} @msg {}",
                    t["from"].as_str().unwrap(),
                    t["to"].as_str().unwrap(),
                    t["cause"].as_str().unwrap(),
                    t["msg_seq"]
                ))
                .collect::<Vec<_>>()
        )
        .unwrap(),
        run.report["risk"]["limits"]["refusals"]
    );
    run
}

fn trip(t: &Value) -> (&str, &str, &str, u64) {
    (
        t["from"].as_str().unwrap(),
        t["to"].as_str().unwrap(),
        t["cause"].as_str().unwrap(),
        t["msg_seq"].as_u64().unwrap(),
    )
}

#[test]
fn daily_loss_limit_trips_the_breaker() {
    let r = run("lim-daily", &[NO_STREAK, "risk.max_daily_loss_usd=50"]);
    let t = r.transitions();
    assert_eq!(t.len(), 1, "{t:?}");
    assert_eq!(trip(&t[0]), ("closed", "open", "daily_loss", 53_824));
    // the day's mark-to-market loss is at the limit when it trips, and it is still within
    // the 30-minute cooldown when the recording ends
    assert!(t[0]["day_pnl_usd"].as_f64().unwrap() <= -50.0);
    assert_eq!(
        r.report["risk"]["limits"]["breaker"]["state_at_end"],
        "open"
    );
    assert_eq!(r.traded_after(53_824), 0, "nothing approved once open");
    let (n, first) = r.refusal("breaker_open");
    assert!(n > 100 && first > 53_824);
    // the journal has the same transition, and the daily row counts the trip
    let b = r.journal("breaker.jsonl");
    assert_eq!(b.len(), 1);
    assert_eq!(b[0]["msg_seq"], 53_824);
    assert_eq!(r.journal("daily.jsonl")[0]["breaker_trips"], 1);
}

#[test]
fn drawdown_limit_trips_the_breaker() {
    // a 1,000 USD account: 5 % is 50 USD below the high-water mark
    let r = run(
        "lim-drawdown",
        &[
            NO_STREAK,
            "risk.equity_usd=1000.0",
            "risk.max_daily_loss_usd=1e9",
            "risk.max_daily_loss_pct=100.0",
        ],
    );
    let t = r.transitions();
    assert_eq!(t.len(), 1, "{t:?}");
    assert_eq!(trip(&t[0]), ("closed", "open", "drawdown", 53_824));
    let dd = t[0]["drawdown_pct"].as_f64().unwrap();
    assert!(dd >= 5.0, "{dd}");
    let hwm = t[0]["high_water_usd"].as_f64().unwrap();
    let eq = t[0]["equity_usd"].as_f64().unwrap();
    assert!(hwm - eq >= 0.05 * hwm - 1e-6);
    assert_eq!(r.report["risk"]["limits"]["equity"]["start_usd"], 1000.0);
    assert_eq!(r.traded_after(53_824), 0);
}

#[test]
fn losing_streak_trips_then_half_open_probes_reopen_it() {
    // every trade loses at the mark on this data: three in a row trip it; after a 20 s
    // cooldown one probe at a time goes, and each losing probe opens it again
    let r = run(
        "lim-streak",
        &[
            "risk.max_consecutive_losses=3",
            "risk.breaker_cooldown_ns=20000000000",
            "risk.breaker_probe_trades=2",
        ],
    );
    let t = r.transitions();
    assert!(t.len() >= 5, "{t:?}");
    assert_eq!(
        trip(&t[0]),
        ("closed", "open", "consecutive_losses", 15_713)
    );
    assert_eq!(t[0]["consecutive_losses"], 3);
    for w in t.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        match (a["to"].as_str().unwrap(), b["to"].as_str().unwrap()) {
            ("open", "half_open") => {
                assert_eq!(b["cause"], "cooldown_over");
                assert!(
                    b["ts_ns"].as_u64().unwrap() >= a["ts_ns"].as_u64().unwrap() + 20_000_000_000
                );
            }
            ("half_open", "open") => assert_eq!(b["cause"], "probe_loss"),
            x => panic!("unexpected {x:?}"),
        }
    }
    // while half-open, the probe in flight makes the others wait
    assert!(r.refusal("breaker_probe_busy").0 > 0);
    assert_eq!(r.journal("breaker.jsonl").len(), t.len());
}

#[test]
fn default_limits_trip_once_the_exposure_limits_are_lifted() {
    // the R4.2 default of ten losing trades in a row
    let r = run("lim-default", &[]);
    let t = r.transitions();
    assert_eq!(
        trip(&t[0]),
        ("closed", "open", "consecutive_losses", 28_141)
    );
    assert_eq!(t[0]["consecutive_losses"], 10);
}

#[test]
fn trade_rate_limits_refuse_with_their_reasons() {
    let h = run("lim-hour", &[NO_STREAK, "risk.max_trades_per_hour=5"]);
    assert_eq!(h.attempted(), 5);
    let (n, first) = h.refusal("rate_limit_hour");
    assert_eq!(first, 20_714);
    assert!(n > 100);
    assert!(
        h.transitions().is_empty(),
        "a rate limit refuses, it does not trip"
    );
    // the sixth traded signal would have come at that message: five were traded before it
    let traded_before = h
        .journal("signals.jsonl")
        .iter()
        .filter(|s| s["traded"] == true && s["md"]["trigger_msg_seq"].as_u64().unwrap() < first)
        .count();
    assert_eq!(traded_before, 5);
    let d = run("lim-day", &[NO_STREAK, "risk.max_trades_per_day=7"]);
    assert_eq!(d.attempted(), 7);
    assert_eq!(d.refusal("rate_limit_day").1, 28_093);
}

#[test]
fn guards_refuse_on_the_recordings_with_their_own_reasons() {
    // expected slippage: the walk's VWAP more than 0.5 bp from the top on a leg
    let s = run("guard-slippage", &[NO_STREAK, "risk.max_slippage_bps=0.5"]);
    assert_eq!(s.refusal("slippage"), (11, 100_141));
    // a venue's mid more than 0.05 % from the other venues' median (basis of the perpetuals)
    let d = run(
        "guard-deviation",
        &[NO_STREAK, "risk.max_price_deviation_pct=0.05"],
    );
    assert_eq!(d.refusal("price_deviation").1, 86_809);
    // USDⓈ-M in maintenance for a minute: nothing traded on it meanwhile
    let (from, to) = (1_723_161_280_000_000_000u64, 1_723_161_340_000_000_000u64);
    let m = run(
        "guard-maintenance",
        &[
            NO_STREAK,
            &format!("risk.maintenance=[{{venue=\"binance-usdm\",from_ns={from},to_ns={to}}}]"),
        ],
    );
    assert_eq!(m.refusal("maintenance").1, 14_942);
    for t in m.journal("trades.jsonl") {
        let at = t["detected_ns"].as_u64().unwrap();
        let usdm = t["buy_venue"] == "binance-usdm" || t["sell_venue"] == "binance-usdm";
        assert!(
            !(usdm && at >= from && at < to),
            "traded in maintenance: {t}"
        );
    }
    // the spread sanity limit, tightened to 1 bp so that the recording's spreads exceed it
    let w = run("guard-spread", &[NO_STREAK, "risk.max_spread_bps=1.0"]);
    assert!(w.refusal("spread_too_wide").0 > 0);
    assert_eq!(w.attempted(), 0);
    // stale data: with a 1 ms limit the detector finds the books too old before the gate
    let st = run("guard-stale", &[NO_STREAK, "risk.stale_after_ns=1000000"]);
    let stale: u64 = st.report["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["skipped"]["stale_book"].as_u64().unwrap())
        .sum();
    assert!(stale > 1000, "{stale}");
}
