//! The Binance hand scanner against the sonic-rs path on mutated messages.
//!
//! Input: byte 0 = scale and buffers (bits 0–3: price decimals, mod 9; bits 4–6: quantity
//! decimals; bit 7: room for 2 levels per message instead of 5,000), the rest = one stream
//! message.
//! Wherever the scanner answers, the sonic-rs path must give the same message and levels; the
//! combined parser (`wire::parse_stream`, what the handler runs) must always give exactly the
//! sonic-rs result.
#![no_main]

use arbot::types::InstrumentId;
use arbot::venues::binance::scan::scan_stream;
use arbot::venues::binance::wire::{parse_stream, parse_stream_sonic};
use arbot::venues::binance::LIMITS;
use arbot::venues::symbols::{InstrumentRef, SymbolTable};
use arbot::venues::wire_util::{Buffers, Limits, Scale};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, msg)) = data.split_first() else {
        return;
    };
    let scale = Scale {
        price_dec: u32::from(sel & 15) % 9,
        qty_dec: u32::from((sel >> 4) & 7),
    };
    let table = SymbolTable::new(
        ["BTCUSDT", "BTCUSD_PERP", "ETHBTC"]
            .iter()
            .enumerate()
            .map(|(i, s)| InstrumentRef {
                id: InstrumentId(i as u16),
                symbol: s.to_string(),
                scale,
            })
            .collect(),
    )
    .case_insensitive();
    let n = if sel & 128 != 0 { 2 } else { 5000 };
    let buffers = || {
        Buffers::new(&Limits {
            max_levels_per_msg: n,
            max_changes_per_msg: 2 * n,
            ..LIMITS
        })
    };
    let (mut a, mut b, mut c) = (buffers(), buffers(), buffers());
    let s = scan_stream(msg, &table, &mut a);
    let r = parse_stream_sonic(msg, &table, &mut b);
    if let Some(m) = s {
        assert_eq!(r, Ok(m), "scanner and sonic-rs differ");
        assert_eq!(a.bids, b.bids);
        assert_eq!(a.asks, b.asks);
        assert_eq!(a.changes, b.changes);
    }
    let p = parse_stream(msg, &table, &mut c);
    assert_eq!(p, r, "combined parser differs from sonic-rs");
    if r.is_ok() {
        assert_eq!(c.bids, b.bids);
        assert_eq!(c.asks, b.asks);
        assert_eq!(c.changes, b.changes);
    }
});
