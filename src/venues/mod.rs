//! Exchange adapters. Every venue folder has the same files: `mod.rs` (handler),
//! `wire.rs` (message formats, real samples, doc links), `book.rs` (sync rules),
//! `orders.rs` (order encoding/signing), `instruments.rs` (specs from the venue's endpoint).
#![forbid(unsafe_code)]

pub mod binance;
pub mod bitget;
pub mod bithumb;
pub mod checksum;
pub mod gateio;
pub mod kucoin;
pub mod raw_json;
pub mod seq_book;
pub mod upbit;
pub mod wire_util;

use crate::book::{ChecksumKind, L2Book};
use crate::config::{Setup, VenueConfig};
use crate::feed::{VenueCounters, VenueHandler};
use crate::instrument::InstrumentDef;
use crate::types::VenueId;
use std::sync::Arc;

/// Exchanges this build speaks (`exchange = "..."` in a venue's config).
pub const EXCHANGES: &[&str] = &["binance", "upbit", "bithumb", "kucoin", "gateio", "bitget"];

/// Check the exchange-specific keys of a venue config: `Err((key, message))`.
pub fn check_venue(v: &VenueConfig) -> Result<(), (&'static str, String)> {
    match v.exchange.as_str() {
        "binance" => binance::market_of(v).map(|_| ()),
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
        "upbit" => Ok(Box::new(upbit::UpbitHandler::new(
            v,
            refs(setup, v),
            counters,
        ))),
        "bithumb" => {
            let feed =
                bithumb::feed_of(&vs.cfg).map_err(|e| format!("venue {}: {}", vs.name, e.1))?;
            Ok(Box::new(bithumb::BithumbHandler::new(
                v,
                feed,
                refs(setup, v),
                counters,
            )))
        }
        "kucoin" => Ok(Box::new(kucoin::KucoinHandler::new(
            v,
            refs(setup, v),
            kucoin::Limits::default(),
            counters,
        ))),
        "gateio" => Ok(Box::new(gateio::GateHandler::new(
            v,
            refs(setup, v),
            gateio::Limits::default(),
            counters,
        ))),
        "bitget" => Ok(Box::new(bitget::BitgetHandler::new(
            v,
            refs(setup, v),
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

/// The instruments of venue `v` as handler references (engine id, symbol, decimals).
pub fn refs(setup: &Setup, v: VenueId) -> Vec<binance::InstrumentRef> {
    setup
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
        .collect()
}
