//! No allocation on the feed thread's steady-state read path over a loopback WebSocket
//! session (R7.1): a counting global allocator counts every allocation made while a thread is
//! inside its hot loop (`arbot::alloc_probe`), over a paper-mode run against the replay server
//! (ws://, the first 40 s of the three Binance recordings, server pings every 100 ms so pongs
//! are written too), with trading on.
//!
//! Covered: the feed thread's poll loop: socket read → tungstenite frame → handler (parse,
//! book sync) → event ring, pong replies, the snapshot ring, snapshot requests; and the
//! detection and execution threads. Not covered (the probe is off there, by design):
//! connection set-up and teardown (TCP/TLS/upgrade, buffers allocated at connect, the first
//! frame of a connection, which makes tungstenite's read buffer shared), the cold
//! snapshot fetcher thread, the logger. With wss:// rustls 0.23 allocates one `Vec` per
//! received TLS record (see src/net/ws.rs); that path is measured below and reported, not
//! asserted to be zero.

use crate::common;
use crate::feed;

fn run(tls: bool) -> (u64, u64, serde_json::Value) {
    let hot = common::alloc::hot();
    let all = common::alloc::all();
    let r = feed::paper_run(
        if tls { "alloc-wss" } else { "alloc-ws" },
        tls,
        std::time::Duration::from_millis(100),
    );
    (common::alloc::hot() - hot, common::alloc::all() - all, r)
}

#[test]
fn feed_read_path_does_not_allocate_over_a_loopback_session() {
    let _serial = common::alloc::exclusive();
    let (hot, all, rep) = run(false);
    let msgs: u64 = ["binance-spot", "binance-usdm", "binance-coinm"]
        .iter()
        .map(|v| rep["venues"][*v]["messages"].as_u64().unwrap())
        .sum();
    let pings: u64 = ["binance-spot", "binance-usdm", "binance-coinm"]
        .iter()
        .map(|v| rep["net"]["venues"][*v]["ws"]["pings"].as_u64().unwrap())
        .sum();
    assert!(msgs > 10_000, "{msgs}");
    assert!(pings > 10, "pongs were written: {pings}");
    assert!(
        rep["trades"]["attempted"].as_u64().unwrap() > 0,
        "trade path exercised"
    );
    assert!(all > 1000, "counting allocator not active? {all}");
    // the only ones: at the end of the recording the server closes each connection and
    // tungstenite builds its close reply frame inside `read` (teardown, one per connection)
    let ended: u64 = ["binance-spot", "binance-usdm", "binance-coinm"]
        .iter()
        .map(|v| rep["net"]["venues"][*v]["ws"]["ended"].as_u64().unwrap())
        .sum();
    assert_eq!(ended, 3);
    assert_eq!(
        hot, ended,
        "allocations on hot threads over {msgs} ws messages beyond the 3 close replies"
    );

    let (hot, _, rep) = run(true);
    let msgs: u64 = ["binance-spot", "binance-usdm", "binance-coinm"]
        .iter()
        .map(|v| rep["venues"][*v]["messages"].as_u64().unwrap())
        .sum();
    eprintln!(
        "wss: {hot} hot-thread allocations over {msgs} messages ({:.2} per message: rustls copies each TLS record into a new Vec)",
        hot as f64 / msgs as f64
    );
    assert!(
        hot <= 2 * msgs,
        "wss allocations beyond rustls' one per record: {hot}"
    );
}
