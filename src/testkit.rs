//! Test helpers: a two-venue spot setup and hand-made books. Compiled for tests only.
#![forbid(unsafe_code)]

use crate::book::Market;
use crate::book::Ticker;
use crate::config::{parse, resolve, Setup};
use crate::types::{InstrumentId, Price, Qty};

/// Two spot venues `a` and `b` quoting BTC/USDT, tick 0.01, lot 0.001, no minimum notional;
/// `extra` is appended to the TOML (e.g. `[detection]` overrides).
pub fn two_venue_setup(fee_a_bps: f64, fee_b_bps: f64, extra: &str) -> Setup {
    two_venue_setup_with(
        fee_a_bps,
        fee_b_bps,
        "USDT = 1000000.0, BTC = 100.0",
        "USDT = 1000000.0, BTC = 100.0",
        extra,
    )
}

/// As [`two_venue_setup`] with the balances of each venue (`USDT = 1000.0, BTC = 1.0`).
pub fn two_venue_setup_with(
    fee_a_bps: f64,
    fee_b_bps: f64,
    bal_a: &str,
    bal_b: &str,
    extra: &str,
) -> Setup {
    let text = format!(
        r#"
mode = "replay"
[replay]
files = [{{ venue = "a", path = "Cargo.toml" }}]
[venues.a]
exchange = "binance"
market = "spot"
taker_fee_bps = {fee_a_bps}
book_levels = 5000
balances = {{ {bal_a} }}
[venues.b]
exchange = "binance"
market = "spot"
taker_fee_bps = {fee_b_bps}
book_levels = 5000
balances = {{ {bal_b} }}
[[instruments]]
venue = "a"
symbol = "BTCUSDT"
base = "BTC"
quote = "USDT"
tick_size = "0.01"
lot_size = "0.001"
[[instruments]]
venue = "b"
symbol = "BTCUSDT"
base = "BTC"
quote = "USDT"
tick_size = "0.01"
lot_size = "0.001"
[[groups]]
asset = "BTC"
instruments = ["a:BTCUSDT", "b:BTCUSDT"]
{extra}
"#
    );
    resolve(
        parse(&text, "test").unwrap(),
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
    )
    .unwrap()
}

/// Put levels (price, qty as decimal strings at the instrument scale) on a book and mark it
/// synced and valid at `now_ns`; the ticker is the top of each side.
pub fn set_book(
    m: &mut Market,
    i: InstrumentId,
    bids: &[(i64, i64)],
    asks: &[(i64, i64)],
    now_ns: u64,
) {
    let b = &mut m.books[i.idx()];
    b.clear(1);
    for &(px, qty) in bids {
        b.bids
            .set(crate::book::Level {
                px,
                qty,
                px_frac: 0,
                qty_frac: 0,
            })
            .unwrap();
    }
    for &(px, qty) in asks {
        b.asks
            .set(crate::book::Level {
                px,
                qty,
                px_frac: 0,
                qty_frac: 0,
            })
            .unwrap();
    }
    b.ticker = Some(Ticker {
        bid_px: Price(bids.iter().map(|l| l.0).max().unwrap_or(0)),
        bid_qty: Qty(bids.iter().max_by_key(|l| l.0).map(|l| l.1).unwrap_or(0)),
        ask_px: Price(asks.iter().map(|l| l.0).min().unwrap_or(0)),
        ask_qty: Qty(asks.iter().min_by_key(|l| l.0).map(|l| l.1).unwrap_or(0)),
        seq: 1,
        recv_ns: now_ns,
    });
    b.commit(1, now_ns, true).unwrap();
    m.now_ns = m.now_ns.max(now_ns);
}
