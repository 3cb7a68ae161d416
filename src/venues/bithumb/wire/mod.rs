//! Bithumb WebSocket messages, one module per protocol (`protocol = "v1" | "legacy"`); the two
//! generations coexist (`../shared/docs/exchanges.md` §8):
//! - [`v1`]: the current public feed (the default), Upbit-compatible;
//! - [`legacy`]: the feed of the 2021 recording.
#![forbid(unsafe_code)]

pub mod legacy;
pub mod v1;
