//! Tools beside the engine, off the hot path: each is a command of its own and nothing on the
//! trading threads calls into them.
//!
//! - [`replay_server`]: `arbot replay-server`, a loopback exchange that serves recordings over
//!   the exchange's own protocol, with faults on request (R8.1).
//! - [`tuning_check`]: `arbot tuning-check`: host tuning verdicts, machine facts, core maps (R7.3).
//! - [`verify`]: `arbot verify-book`: every shared recording through the engine's parsers and
//!   books, checked against the exchanges' checksums and BBOs.
#![forbid(unsafe_code)]

pub mod replay_server;
pub mod tuning_check;
pub mod verify;
