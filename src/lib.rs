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
//! The detection thread runs [`engine::core::DetectionCore`], a plain type with no threads or
//! rings inside; [`engine`] only wires threads, rings, pinning and waits around it. A replay can
//! also drive the core, the venue handlers and the execution step on one thread with no rings
//! ([`engine::single`], `threads.mode = "single"`), with the same journals and report.
//!
//! Dependencies run one way: `venues` (wire formats, sync rules, order encoding) know nothing of
//! `config`; `book` (books, their health and checksum checks) is read by `detect`, `risk` and
//! `exec`, which do not depend on each other except through [`signal`] (the opportunity that
//! detection hands the gate) and the gate's approvals that execution consumes.
//!
//! Module map:
//! - Values: [`types`] (ids, sides, fixed-point `Price`/`Qty`/`Amount`, distinct `Bps` and
//!   `Ratio`), [`fixed_point`] (decimal text ⇄ scaled integers, exact, allocation-free),
//!   [`instrument`] (tick/lot/min-notional specs and base/quote conversions for spot, linear
//!   and inverse contracts), [`event`] (the 80-byte `MdEvent` from feed to detection, with
//!   typed constructors and a typed view).
//! - Threads and time: [`ring`] (SPSC rings for records and raw bytes: the only `unsafe`
//!   besides OS calls, model-checked with loom), [`wait`] (`spin` / `spin-yield` / `park`,
//!   R7.4), [`clock`] (quanta stamps, epoch ns), [`affinity`] (core pinning).
//! - Market data: [`feed`] (feed threads, event sink, replay and WebSocket sources with
//!   watchdog/backoff/rotation and the stall reconnect, venue connection protocol, the raw
//!   recorder [`feed::recorder`], R1.6), [`net`] (mio + rustls WebSocket, REST
//!   snapshot thread; R1.1, R1.4), [`replay`] (recorded files merged by receive time, paced;
//!   [`replay::cryptofeed`] reads cryptofeed sessions, [`replay::inflate`] inflates large
//!   gzip recordings on threads of their own; R3.1, R8.1).
//! - [`venues`]: the venue registry ([`venues::Exchange`], one line per venue; the checklist for
//!   adding one is in its docs) and one folder per exchange with the same files: Binance (spot,
//!   USDⓈ-M, COIN-M; orders), OKX, Bybit, Coinbase, Kraken, Upbit, Bithumb, KuCoin, Gate.io,
//!   Bitget, with their shared handler, sequenced-book, symbol-table and number-parsing code;
//!   two-protocol venues keep one `wire/<version>.rs` per protocol.
//! - [`book`]: L2 books in sorted arrays, validation (R1.3), the BBO overlay rule, the run's
//!   [`book::Market`] with book health, and the exchanges' checksums ([`book::checksum`]).
//! - [`detect`]: spatial detection (R2.1, R2.5, R2.6), triangles on one venue
//!   ([`detect::triangular`], R2.2), a statistical pair with its Engle–Granger estimation thread
//!   ([`detect::stat`], R2.3) and the Korean premium (R2.4), over
//!   [`book`]; [`signal`]: the `Opportunity` it hands the gate.
//! - [`risk`]: the risk gate, the only maker of `ApprovedIntent` / `ApprovedUnwind` (R4.1, R4.4,
//!   R3.5).
//! - [`exec`]: the execution step (order encoding behind a `SendToken` only it makes, trade
//!   state, one-leg unwinds, pairs and triangles closed back to their start asset; R3.2, R3.3),
//!   the fill simulator and the matching model it shares
//!   with the loopback exchange (own-liquidity consumption, feed/order latency; R3.6).
//! - [`pnl`]: every fill's cash flows and the inventory marked to market, flatten cost.
//! - Inventory (R5): balances, positions and margin per venue ([`risk::inventory`]); the
//!   rebalancing plan on the cold side ([`rebalance`], R5.2).
//! - [`engine`]: the detection core, the threaded wiring, the single-thread replay path.
//! - Bad data: [`health`] (a venue whose parse errors pass a share of its messages is not
//!   traded; the cause, e.g. wire decimals finer than a tick, is named on the cold side).
//! - Cold side: [`journal`] (fixed-size records for the cold thread), [`logger`] (log file with
//!   rotation, journals, periodic stats; R6.1–R6.3), [`stats`] (hdrhistogram latencies per
//!   stage), [`report`] (`report.json` and the human summary), [`config`] (TOML, validated,
//!   units in key names; R6.6), [`ops`] (operating it: the PnL curve, backtest metrics and
//!   plots, R8.2).
//! - Tools, one command each: [`tools::verify`] (`verify-book`: recorded sessions through the real
//!   parsers and books against the venues' checksums and BBOs), [`tools::replay_server`]
//!   (`arbot replay-server`: a loopback exchange speaking the venue's own protocol, with faults
//!   on request), [`tools::tuning_check`] (`arbot tuning-check`, R7.3); [`alloc_probe`] marks
//!   hot threads for the counting-allocator tests.
#![warn(missing_docs)]

pub mod affinity;
pub mod alloc_probe;
pub mod book;
pub mod clock;
pub mod config;
pub mod control;
pub mod detect;
pub mod engine;
pub mod event;
pub mod exec;
pub mod feed;
pub mod fixed_point;
pub mod health;
pub mod instrument;
pub mod journal;
pub mod journals;
pub mod logger;
pub mod net;
pub mod ops;
pub mod pnl;
pub mod rebalance;
pub mod replay;
pub mod report;
pub mod resume;
pub mod ring;
pub mod risk;
pub mod signal;
pub mod stats;
#[cfg(test)]
pub mod testkit;
pub mod tools;
pub mod types;
pub mod venues;
pub mod wait;
