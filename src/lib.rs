//! # arbot: low-latency cross-venue crypto arbitrage
//!
//! ```text
//!  venue A ─▶ [feed thread A: pinned, busy-poll] ─┐ SPSC ring (MdEvent, 80 B)
//!  venue B ─▶ [feed thread B: pinned, busy-poll] ─┼────────────▶ [detection thread] ── SPSC ──▶ [execution thread] ─▶ venues
//!  venue C ─▶ [feed thread C: pinned, busy-poll] ─┘              books, spatial detection,      order encoding + signing,
//!      ▲                                                         risk gate, fill simulator ◀──  order state, unwinds
//!      │ raw bytes (replay reader / sockets)                      (replay/paper)       SPSC
//!                          every hot thread ── SPSC ──▶ [logger / stats thread, cold] ─▶ arbot.log, journals, report
//! ```
//!
//! Module map:
//! - [`types`]: ids, sides, fixed-point `Price`/`Qty`/`Amount`, `Bps` ratios.
//! - [`fixed_point`]: decimal text ⇄ scaled integers, exact, allocation-free.
//! - [`instrument`]: tick/lot/min-notional specs and base/quote conversions (spot, linear, inverse).
//! - [`event`]: the 80-byte `MdEvent` that crosses from feed to detection.
//! - [`ring`]: SPSC rings (records and raw bytes), the only `unsafe` besides OS calls.
//! - [`wait`]: `spin` / `spin-yield` / `park` wait strategies (R7.4).
//! - [`clock`]: quanta raw clock for stage stamps, epoch ns for receive times.
//! - [`book`]: L2 book in sorted arrays, validation (R1.3), ticker overlay.
//! - [`feed`]: feed threads, event sink, sources (replay ring, live WebSocket source with
//!   watchdog/backoff/rotation), venue connection protocol, resync requests from detection.
//! - [`venues`]: exchange adapters, one folder each with the same files (`wire.rs`, `book.rs`,
//!   `instruments.rs`, `protocol.rs`, `mod.rs`; `orders.rs` where order entry exists): Binance
//!   (spot, USDⓈ-M, COIN-M; orders), OKX, Bybit (v5, legacy v2), Coinbase (Advanced Trade,
//!   Exchange), Kraken (v2, v1), Upbit, Bithumb (current, legacy), KuCoin, Gate.io, Bitget;
//!   shared checksums, raw-number parsing, symbol tables.
//! - [`replay`]: reads recorded files (ns+JSON gz, cryptofeed), merges by receive time, paces
//!   (R3.1, R8.1); [`replay::cryptofeed`] is the cryptofeed line format, also read by `verify`.
//! - [`net`]: live feed connections: non-blocking WebSocket over mio + rustls, REST snapshot thread (R1.1, R1.4).
//! - [`config`]: TOML config, validated, units in key names (R6.6).
//! - [`detect`]: books on the detection thread, spatial detection (R2.1, R2.5, R2.6),
//!   triangles on one venue ([`detect::triangular`], R2.2), a statistical pair with its
//!   Engle–Granger estimation thread ([`detect::stat`], R2.3), Korean premium against a
//!   KRW/USDT rate (R2.4, reported).
//! - [`risk`]: the risk gate, the only maker of `ApprovedIntent` (R4.1, R4.4, R3.5).
//! - [`exec`]: execution thread, order state, one-leg unwinds (pairs, triangles closed back to
//!   their start asset), fill simulator (R3.2, R3.3, R3.6).
//! - [`journal`]: fixed-size records hot threads hand to the cold thread.
//! - [`logger`]: the cold thread: log file with rotation, journals, periodic stats (R6.1–R6.3).
//! - [`stats`]: latency histograms (hdrhistogram) per stage.
//! - [`report`]: `report.json` and the human summary.
//! - [`engine`]: wires the threads for a run.
//! - [`verify`]: `verify-book`: recorded sessions through the real parsers and books.
//! - [`affinity`]: core pinning.
//! - [`tools`]: off the hot path, one command each: [`tools::replay_server`] (`arbot
//!   replay-server`, a loopback exchange that serves recordings over the exchange's own
//!   protocol, with faults on request, R8.1) and [`tools::tuning_check`] (`arbot tuning-check`:
//!   host tuning verdicts, machine facts, core maps, R7.3).
//! - [`alloc_probe`]: marks hot threads for the counting-allocator test.
#![warn(missing_docs)]

pub mod affinity;
pub mod alloc_probe;
pub mod book;
pub mod clock;
pub mod config;
pub mod detect;
pub mod engine;
pub mod event;
pub mod exec;
pub mod feed;
pub mod fixed_point;
pub mod instrument;
pub mod journal;
pub mod logger;
pub mod net;
pub mod pnl;
pub mod replay;
pub mod report;
pub mod ring;
pub mod risk;
pub mod signal;
pub mod stats;
#[cfg(test)]
pub mod testkit;
pub mod tools;
pub mod types;
pub mod venues;
pub mod verify;
pub mod wait;
