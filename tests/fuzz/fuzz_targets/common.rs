//! What the targets share: the venues a selector byte picks and their handlers.
#![allow(dead_code)]

use arbot::feed::{VenueCounters, VenueHandler};
use arbot::instrument::InstrumentSpec;
use arbot::venues::wire_util::Scale;
use arbot::venues::{configure, Exchange, VenueCtx, VenueOptions};
use std::sync::Arc;

/// (exchange, market, protocol) of each selector value (`byte % VENUES.len()`).
pub const VENUES: &[(&str, Option<&str>, Option<&str>)] = &[
    ("binance", Some("spot"), None),
    ("binance", Some("usdm"), None),
    ("binance", Some("coinm"), None),
    ("okx", None, None),
    ("kraken", None, Some("v1")),
    ("kraken", None, Some("v2")),
    ("coinbase", None, Some("exchange")),
    ("coinbase", None, Some("advanced-trade")),
    ("bybit", Some("linear"), Some("v5")),
    ("bybit", None, Some("v2")),
    ("upbit", None, None),
    ("bithumb", None, Some("v1")),
    ("bithumb", None, Some("legacy")),
    ("kucoin", None, None),
    ("gateio", None, None),
    ("bitget", None, None),
];

/// Options of selector `sel`.
pub fn options(sel: u8) -> (Exchange, VenueOptions) {
    let (ex, market, protocol) = VENUES[sel as usize % VENUES.len()];
    let opts = VenueOptions {
        name: ex.to_string(),
        market: market.map(str::to_string),
        protocol: protocol.map(str::to_string),
        book_levels: 64,
        snapshot_limit: 1000,
        ..Default::default()
    };
    (Exchange::parse(ex).expect("exchange"), opts)
}

/// Specs for `symbols` at 8 price and 8 quantity decimals (ids = positions, venue 0).
pub fn specs(venue: &str, symbols: &[String]) -> Vec<InstrumentSpec> {
    arbot::tools::verify::driver::generic_specs(
        venue,
        symbols,
        Scale {
            price_dec: 8,
            qty_dec: 8,
        },
    )
}

/// The market-data handler of selector `sel` over `specs`, or `None` if it cannot be built.
pub fn handler(
    sel: u8,
    specs: &[InstrumentSpec],
    counters: Arc<VenueCounters>,
) -> Option<Box<dyn VenueHandler>> {
    let (ex, opts) = options(sel);
    let v = configure(ex, &opts).ok()?;
    v.handler(
        &VenueCtx {
            id: arbot::types::VenueId(0),
            options: &opts,
            instruments: specs,
        },
        counters,
    )
    .ok()
}
