//! No allocation on the hot threads (R7.1) with the new venues' handlers: whole replays of
//! OKX + Kraken (`configs/replay-okx-kraken.toml`) and of Coinbase + Bybit v2, counted by a
//! global allocator while the feed and detection threads are inside their hot loops.

use crate::common;

fn run(setup: &arbot::config::Setup, name: &str) -> arbot::engine::RunResult {
    let before = common::alloc::hot();
    let r = arbot::engine::run_replay(setup, &common::tmp(name)).unwrap();
    assert_eq!(
        common::alloc::hot() - before,
        0,
        "{name}: allocations on hot threads"
    );
    for c in &r.counters {
        assert_eq!(
            arbot::feed::VenueCounters::get(&c.parse_errors),
            0,
            "{name}"
        );
    }
    r
}

#[test]
fn new_venue_handlers_do_not_allocate_on_the_hot_path() {
    let _serial = common::alloc::exclusive();
    // the probe works (a hot allocation is counted)
    let seen = std::thread::spawn(|| {
        let b = common::alloc::hot();
        arbot::alloc_probe::enter_hot();
        std::hint::black_box(Vec::<u8>::with_capacity(8));
        arbot::alloc_probe::leave_hot();
        common::alloc::hot() - b
    })
    .join()
    .unwrap();
    assert!(seen >= 1);

    let r = run(&common::setup("replay-okx-kraken.toml"), "alloc-okx-kraken");
    assert_eq!(r.det.messages, 410 + 4321);

    let rec = common::root().join("../shared/data/recorded");
    let rec = rec.display();
    let text = format!(
        r#"
mode = "replay"
[replay]
files = [
  {{ venue = "coinbase", path = "{rec}/COINBASE.ws.28.0" }},
  {{ venue = "bybit", path = "{rec}/BYBIT.ws.26.0" }},
]
[threads]
wait = "spin-yield"
[venues.coinbase]
exchange = "coinbase"
protocol = "exchange"
taker_fee_bps = 60.0
book_levels = 5000
[venues.bybit]
exchange = "bybit"
market = "inverse"
protocol = "v2"
taker_fee_bps = 7.5
book_levels = 5000
[[instrument_files]]
venue = "coinbase"
path = "{rec}/COINBASE.0"
symbols = ["SKL-USD", "SKL-BTC", "BAND-GBP", "NMR-EUR", "BAND-BTC", "YFI-BTC", "DASH-BTC", "NU-GBP", "CRV-EUR", "SKL-GBP"]
[[instrument_files]]
venue = "bybit"
path = "{rec}/BYBIT.0"
symbols = ["EOSUSD", "BTCUSD"]
"#
    );
    let setup = arbot::config::resolve(
        arbot::config::parse(&text, "inline.toml").unwrap(),
        &common::root(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let r = run(&setup, "alloc-coinbase-bybit");
    assert_eq!(r.det.messages, 9946 + 1098);
    let health: u64 = r.det.market.health.iter().map(|h| h.commits).sum();
    assert_eq!(health, 10 + 9719 + 2 + 1016, "every book message committed");
}
