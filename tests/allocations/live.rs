//! No allocation on the order path of a live run (R7.1, issue 11): a whole `mode = "live"`
//! run of `configs/live-loopback.toml` against the in-process loopback Binance exchange
//! (`replay_server` with its exchange side: signed REST orders, accounts, user-data streams),
//! at full speed, trading. The counting allocator counts what threads allocate inside their
//! hot loops: the detection thread and the execution thread, which encodes and signs each
//! order into reused buffers, writes it on a kept-alive connection, parses the answer and
//! reads the user stream. Cold work on those threads is outside the count by design and
//! marked so in the code (`alloc_probe::Cold`): (re)connecting, the WebSocket upgrade of the
//! user stream. The feed threads' own read path is `loopback.rs`'s subject; here it runs too.

use crate::common;

const KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";

#[test]
fn the_live_order_path_does_not_allocate() {
    let _serial = common::alloc::exclusive();
    let root = common::root();
    let text0 = std::fs::read_to_string(root.join("configs/live-loopback.toml")).unwrap();
    let setup0 = arbot::config::resolve(
        arbot::config::parse(&text0, "live-loopback.toml").unwrap(),
        &root,
    )
    .unwrap();
    let server = arbot::tools::replay_server::start(arbot::tools::replay_server::ServerConfig {
        files: setup0
            .cfg
            .replay
            .as_ref()
            .unwrap()
            .files
            .iter()
            .map(|f| {
                let p = root.join(&f.path);
                (
                    arbot::tools::replay_server::MarketKind::from_file_name(&p).unwrap(),
                    p,
                )
            })
            .collect(),
        bind: "127.0.0.1:0".parse().unwrap(),
        speed: None,
        tls: false,
        cert_out: None,
        lockstep: false,
        faults: Default::default(),
        wait_clients: std::time::Duration::from_secs(30),
        ping_every: None,
        linger: std::time::Duration::from_secs(5),
        exchange: arbot::tools::replay_server::ExchangeConfig::from_setup(&setup0),
    })
    .unwrap();
    let addr = server.addr().to_string();
    let text = text0.replace("127.0.0.1:9901", &addr);
    let setup = arbot::config::resolve(
        arbot::config::parse(&text, "live-loopback.toml").unwrap(),
        &root,
    )
    .unwrap();
    std::env::set_var("ARBOT_BINANCE_API_KEY", KEY);
    std::env::set_var("ARBOT_BINANCE_API_SECRET", SECRET);
    if let Some(n) = std::env::var("ARBOT_ALLOC_TRACE")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        common::alloc::trace(n);
    }
    let hot = common::alloc::hot();
    let all = common::alloc::all();
    let res = arbot::engine::run_live(&setup, &common::tmp("alloc-live")).unwrap();
    let (hot, all) = (common::alloc::hot() - hot, common::alloc::all() - all);
    let _ = server.join();
    let rep = arbot::report::build(&setup, "live", &res);
    let venues = &rep["live"]["venues"];
    let count = |k: &str| -> u64 {
        ["binance-spot", "binance-usdm", "binance-coinm"]
            .iter()
            .map(|v| venues[*v]["orders"][k].as_u64().unwrap())
            .sum()
    };
    let (orders, stream) = (count("orders"), count("stream_updates"));
    assert_eq!(
        count("parse_errors"),
        0,
        "every answer and stream message parsed"
    );
    assert!(orders >= 5, "orders went out: {orders}");
    assert!(stream >= 5, "user-stream updates were read: {stream}");
    assert!(all > 1000, "counting allocator not active? {all}");
    assert_eq!(
        rep["live"]["reconciliation"]["ok"],
        serde_json::Value::Bool(true),
        "{:#}",
        rep["live"]["reconciliation"]
    );
    // the feeds' three close replies at the end of the recording (teardown, see loopback.rs)
    let ended: u64 = ["binance-spot", "binance-usdm", "binance-coinm"]
        .iter()
        .map(|v| {
            rep["net"]["venues"][*v]["ws"]["ended"]
                .as_u64()
                .unwrap_or(0)
        })
        .sum();
    eprintln!("live: {orders} orders, {stream} stream updates, {hot} hot-thread allocations ({ended} feed close replies)");
    assert_eq!(
        hot, ended,
        "allocations on hot threads over a live run of {orders} orders beyond the feeds' close replies"
    );
}
