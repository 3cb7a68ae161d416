//! The Binance order-entry answer and user-stream parsers (`parse_order`, `parse_stream`).
//!
//! Input: byte 0 = market (bits 0–1: spot, usdm, coinm) and parser (bit 2: stream), byte 1–2 =
//! HTTP status (for answers), the rest = the body or stream message. Besides not panicking, an
//! answer that parses is valid JSON that serde_json reads too (skipped values aside: numbers
//! beyond f64 and invalid escapes in them are scanned over, not validated).
#![no_main]

mod common;

use arbot::venues::order_entry::OrderUpdate;
use arbot::venues::{configure, VenueCtx};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let (sel, status, body) = (data[0], u16::from_le_bytes([data[1], data[2]]), &data[3..]);
    let (ex, opts) = common::options(sel & 3);
    let syms = vec!["BTCUSDT".to_string(), "BTCUSD_PERP".to_string()];
    let specs = common::specs("binance", &syms);
    let Ok(v) = configure(ex, &opts) else { return };
    let ctx = VenueCtx {
        id: arbot::types::VenueId(0),
        options: &opts,
        instruments: &specs,
    };
    let Some(oe) = v.order_entry(&ctx, "KEY", b"secret") else {
        return;
    };
    let mut out = OrderUpdate::default();
    if sel & 4 != 0 {
        let _ = oe.parse_stream(body, &mut out);
    } else if oe.parse_order(status, body, &mut out).is_ok() {
        // differential: what the hand-written parser accepted, serde_json reads as JSON.
        // Except inside values the parser skips, which it scans without validating (found by
        // this target; `binance::orders::tests::what_the_parser_skips_is_scanned_not_validated`):
        // a number beyond f64 (`1e+535`: valid JSON, RFC 8259 §6 sets no range, refused by
        // serde_json as out of range) and an invalid string escape (`\uon`)
        let j: Result<serde_json::Value, _> = serde_json::from_slice(body);
        if let Err(e) = j {
            let m = e.to_string();
            assert!(
                m.contains("number out of range")
                    || m.contains("escape")
                    || m.contains("unicode code point")
                    || m.contains("surrogate"),
                "parse_order accepted invalid JSON: {m}"
            );
        }
    }
});
