//! Bybit wire formats, one module per protocol (`protocol = "v5" | "v2"` in a venue's config):
//! - [`v5`]: today's public streams (spot, linear, inverse);
//! - [`v2`]: the retired `orderBookL2_25` feed of the 2021 recordings (replay only).
#![forbid(unsafe_code)]

pub mod v2;
pub mod v5;
