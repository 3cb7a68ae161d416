//! Exchange adapters. Every venue folder has the same files: `mod.rs` (handler),
//! `wire.rs` (message formats, real samples, doc links), `book.rs` (sync rules),
//! `orders.rs` (order encoding/signing, where implemented), `instruments.rs` (specs from the
//! venue's endpoint), `protocol.rs` (live connection: URL, subscriptions, keep-alive).
#![forbid(unsafe_code)]

pub mod binance;
pub mod bitget;
pub mod bithumb;
pub mod bybit;
pub mod checksum;
pub mod coinbase;
pub mod gateio;
pub mod kraken;
pub mod kucoin;
pub mod okx;
pub mod raw_json;
pub mod seq_book;
pub mod symbols;
pub mod upbit;
pub mod wire_util;

use crate::book::{ChecksumKind, L2Book};
use crate::config::{Setup, VenueConfig};
use crate::feed::{VenueCounters, VenueHandler};
use crate::instrument::InstrumentDef;
use crate::types::VenueId;
use std::sync::Arc;

/// Exchanges this build speaks (`exchange = "..."` in a venue's config).
pub const EXCHANGES: &[&str] = &[
    "binance", "okx", "bybit", "coinbase", "kraken", "upbit", "bithumb", "kucoin", "gateio",
    "bitget",
];

/// Check the exchange-specific keys of a venue config: `Err((key, message))`.
pub fn check_venue(v: &VenueConfig) -> Result<(), (&'static str, String)> {
    match v.exchange.as_str() {
        "binance" => binance::market_of(v).map(|_| ()),
        "okx" => okx::check_venue(v),
        "bybit" => bybit::check_venue(v),
        "coinbase" => coinbase::check_venue(v),
        "kraken" => kraken::check_venue(v),
        "bithumb" => bithumb::feed_of(v).map(|_| ()),
        "upbit" | "kucoin" | "gateio" | "bitget" => no_market(v),
        other => Err((
            "exchange",
            format!(
                "unknown exchange {other:?} (supported: {})",
                EXCHANGES.join(", ")
            ),
        )),
    }
}

/// Parse a venue's instrument-endpoint response (`NAME.0` recording or raw JSON body).
pub fn parse_instrument_file(
    v: &VenueConfig,
    venue_name: &str,
    text: &str,
) -> Result<Vec<InstrumentDef>, String> {
    match v.exchange.as_str() {
        "binance" => {
            let m = binance::market_of(v).map_err(|e| e.1)?;
            let first = text.lines().next().unwrap_or("");
            binance::instruments::parse_exchange_info(first, m, venue_name)
        }
        "okx" => okx::instruments::parse_instruments(text, venue_name),
        "bybit" => bybit::instruments::parse_instruments(text, venue_name),
        "coinbase" => coinbase::instruments::parse_products(text, venue_name),
        "kraken" => kraken::instruments::parse_asset_pairs(text, venue_name),
        "upbit" => upbit::instruments::parse_market_all(text, venue_name),
        "bithumb" => bithumb::instruments::parse_tickers(text, venue_name),
        "kucoin" => kucoin::instruments::parse_symbols(text, venue_name),
        "gateio" => gateio::instruments::parse_currency_pairs(text, venue_name),
        "bitget" => bitget::instruments::parse_products(text, venue_name),
        other => Err(format!("no instrument-file reader for {other}")),
    }
}

/// Compute the venue checksum of `book` for `kind`; `None` when the kind has no checksum.
pub fn checksum(
    kind: ChecksumKind,
    book: &L2Book,
    spec: &crate::instrument::InstrumentSpec,
) -> Option<i64> {
    checksum::compute(kind, book, spec)
}

/// Build the market-data handler for venue `v` of a resolved config.
pub fn make_handler(
    setup: &Setup,
    v: VenueId,
    counters: Arc<VenueCounters>,
) -> Result<Box<dyn VenueHandler>, String> {
    let vs = &setup.venues[v.idx()];
    match vs.cfg.exchange.as_str() {
        "binance" => {
            let market =
                binance::market_of(&vs.cfg).map_err(|e| format!("venue {}: {}", vs.name, e.1))?;
            let insts = setup
                .instruments
                .iter()
                .filter(|i| i.venue == v)
                .map(|i| binance::InstrumentRef {
                    id: i.id,
                    symbol: i.symbol.clone(),
                    scale: wire_util::Scale {
                        price_dec: i.price_dec,
                        qty_dec: i.qty_dec,
                    },
                })
                .collect();
            Ok(Box::new(binance::BinanceHandler::new(
                v,
                market,
                insts,
                binance::Limits {
                    max_levels_per_msg: vs.cfg.book_levels.max(1000),
                    ..binance::Limits::default()
                },
                counters,
            )))
        }
        "okx" => okx::make_handler(setup, v, counters),
        "bybit" => bybit::make_handler(setup, v, counters),
        "coinbase" => coinbase::make_handler(setup, v, counters),
        "kraken" => kraken::make_handler(setup, v, counters),
        "upbit" => Ok(Box::new(upbit::UpbitHandler::new(
            v,
            instrument_refs(setup, v),
            counters,
        ))),
        "bithumb" => {
            let feed =
                bithumb::feed_of(&vs.cfg).map_err(|e| format!("venue {}: {}", vs.name, e.1))?;
            Ok(Box::new(bithumb::BithumbHandler::new(
                v,
                feed,
                instrument_refs(setup, v),
                counters,
            )))
        }
        "kucoin" => Ok(Box::new(kucoin::KucoinHandler::new(
            v,
            instrument_refs(setup, v),
            kucoin::Limits::default(),
            counters,
        ))),
        "gateio" => Ok(Box::new(gateio::GateHandler::new(
            v,
            instrument_refs(setup, v),
            gateio::Limits::default(),
            counters,
        ))),
        "bitget" => Ok(Box::new(bitget::BitgetHandler::new(
            v,
            instrument_refs(setup, v),
            counters,
        ))),
        other => Err(format!("venue {}: unknown exchange {other}", vs.name)),
    }
}

/// Build the live connection protocol (URLs, subscriptions, keep-alive, snapshot URLs) for
/// venue `v` of a resolved config (paper/live modes).
pub fn make_protocol(
    setup: &Setup,
    v: VenueId,
) -> Result<Box<dyn crate::feed::protocol::VenueProtocol>, String> {
    let vs = &setup.venues[v.idx()];
    let symbols = setup
        .instruments
        .iter()
        .filter(|i| i.venue == v)
        .map(|i| (i.id, i.symbol.clone()))
        .collect();
    match vs.cfg.exchange.as_str() {
        "binance" => Ok(Box::new(
            binance::protocol::BinanceProtocol::new(&vs.cfg, symbols)
                .map_err(|e| format!("venue {}: {e}", vs.name))?,
        )),
        other => Err(format!("venue {}: no live protocol for {other}", vs.name)),
    }
}

/// Exchanges with a single market: `market` must be absent.
fn no_market(v: &VenueConfig) -> Result<(), (&'static str, String)> {
    match &v.market {
        None => Ok(()),
        Some(m) => Err((
            "market",
            format!("{} has one market; remove `market = {m:?}`", v.exchange),
        )),
    }
}

/// The body of one recorded REST response line `URL -> t: body` (the `NAME.0` files), or the
/// line itself when it is already a raw JSON body.
pub fn recorded_body(line: &str) -> Result<&str, String> {
    let t = line.trim();
    if t.starts_with('{') || t.starts_with('[') {
        return Ok(t);
    }
    match t.find(" -> ") {
        Some(i) => t[i..]
            .split_once(": ")
            .map(|(_, b)| b.trim())
            .ok_or_else(|| "recorded line without ': ' before the body".to_string()),
        None => Err(format!(
            "neither a JSON body nor a recorded `URL -> t: body` line: {:?}",
            t.chars().take(60).collect::<String>()
        )),
    }
}

/// The instruments of venue `v` as handler references (wire symbol + scale), in id order.
pub fn instrument_refs(setup: &Setup, v: VenueId) -> Vec<symbols::InstrumentRef> {
    setup
        .instruments
        .iter()
        .filter(|i| i.venue == v)
        .map(|i| symbols::InstrumentRef {
            id: i.id,
            symbol: i.symbol.clone(),
            scale: wire_util::Scale {
                price_dec: i.price_dec,
                qty_dec: i.qty_dec,
            },
        })
        .collect()
}
