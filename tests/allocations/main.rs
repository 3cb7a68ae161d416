//! No allocation on the hot path after start-up (design rule 1, R7.1). One counting global
//! allocator (`tests/common/alloc.rs`) counts every allocation made by a thread inside its hot
//! loop (`arbot::alloc_probe::enter_hot` … `leave_hot`), over:
//! - [`trading_replay`]: a whole Binance replay that trades (`configs/replay-vip.toml`);
//! - [`venue_replays`]: whole replays of OKX + Kraken and of Coinbase + Bybit v2;
//! - [`venue_parsers`]: every message of the Upbit, Bithumb, KuCoin, Gate.io and Bitget
//!   recordings through the venue handler and the detection-side books;
//! - [`loopback`]: a paper-mode run over loopback WebSockets against the replay server;
//! - [`live`]: a live-mode run against the loopback Binance exchange (orders, user streams);
//! - [`signing`]: every venue's request signer after warm-up.
//!
//! The counters are global to this binary, so each test holds `common::alloc::exclusive()`
//! while it runs: the counts a test sees are its own.

#[path = "../common/mod.rs"]
mod common;
#[path = "../support/loopback.rs"]
mod feed;

#[global_allocator]
static A: common::alloc::Counting = common::alloc::Counting;

mod live;
mod loopback;
mod signing;
mod trading_replay;
mod venue_parsers;
mod venue_replays;
