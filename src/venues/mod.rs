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

/// A venue protocol with the config's overrides applied: `ws_url` (for venues whose URL is
/// fixed, e.g. to point them at a loopback server) and per-instrument resubscribe frames
/// built from the venue's own `resubscribe_frames(symbol)`.
struct Adapted<P> {
    p: P,
    url: Option<String>,
    symbols: Vec<(crate::types::InstrumentId, String)>,
    resub: fn(&P, &str, crate::types::InstrumentId) -> Vec<String>,
}

impl<P: crate::feed::protocol::VenueProtocol> crate::feed::protocol::VenueProtocol for Adapted<P> {
    fn ws_urls(&self) -> Vec<String> {
        match &self.url {
            Some(u) => vec![u.clone()],
            None => self.p.ws_urls(),
        }
    }
    fn subscribe_frames(&self, conn: usize) -> Vec<String> {
        self.p.subscribe_frames(conn)
    }
    fn app_ping(&self) -> crate::feed::protocol::AppPing {
        self.p.app_ping()
    }
    fn is_keepalive(&self, frame: &[u8]) -> bool {
        self.p.is_keepalive(frame)
    }
    fn snapshot_url(&self, i: crate::types::InstrumentId) -> Option<String> {
        self.p.snapshot_url(i)
    }
    fn max_connection_age(&self) -> Option<std::time::Duration> {
        self.p.max_connection_age()
    }
    fn resubscribe_frames(&self, i: crate::types::InstrumentId) -> Vec<String> {
        match self.symbols.iter().find(|(id, _)| *id == i) {
            Some((_, s)) => (self.resub)(&self.p, s, i),
            None => Vec::new(),
        }
    }
    fn pre_connect(&self) -> Option<crate::feed::protocol::PreConnect> {
        self.p.pre_connect()
    }
    fn plan_connect(&self, r: &[u8]) -> Result<crate::feed::protocol::ConnectPlan, String> {
        let mut plan = self.p.plan_connect(r)?;
        if let Some(u) = &self.url {
            plan.urls = vec![u.clone()];
        }
        Ok(plan)
    }
}

fn adapt<P: crate::feed::protocol::VenueProtocol + 'static>(
    p: P,
    vs: &crate::config::VenueSetup,
    symbols: Vec<(crate::types::InstrumentId, String)>,
    resub: fn(&P, &str, crate::types::InstrumentId) -> Vec<String>,
) -> Box<dyn crate::feed::protocol::VenueProtocol> {
    Box::new(Adapted {
        p,
        url: vs.cfg.ws_url.clone(),
        symbols,
        resub,
    })
}

/// Build the live connection protocol (URLs, subscriptions, keep-alive, snapshot URLs,
/// resubscribe frames) for venue `v` of a resolved config (paper/live modes).
pub fn make_protocol(
    setup: &Setup,
    v: VenueId,
) -> Result<Box<dyn crate::feed::protocol::VenueProtocol>, String> {
    let vs = &setup.venues[v.idx()];
    check_venue(&vs.cfg).map_err(|e| format!("venue {}: {}: {}", vs.name, e.0, e.1))?;
    let symbols: Vec<(crate::types::InstrumentId, String)> = setup
        .instruments
        .iter()
        .filter(|i| i.venue == v)
        .map(|i| (i.id, i.symbol.clone()))
        .collect();
    let names: Vec<String> = symbols.iter().map(|(_, s)| s.clone()).collect();
    let cfg = &vs.cfg;
    Ok(match cfg.exchange.as_str() {
        "binance" => Box::new(
            binance::protocol::BinanceProtocol::new(cfg, symbols)
                .map_err(|e| format!("venue {}: {e}", vs.name))?,
        ),
        "okx" => adapt(
            okx::protocol::OkxProtocol::new(names),
            vs,
            symbols,
            |p, s, _| p.resubscribe_frames(s),
        ),
        "bybit" => {
            if cfg.protocol.as_deref() == Some("v2") {
                return Err(format!("venue {}: bybit v2 is the retired feed of the recordings; use protocol = \"v5\" live", vs.name));
            }
            let cat = cfg
                .market
                .as_deref()
                .and_then(bybit::protocol::Category::parse)
                .unwrap_or(bybit::protocol::Category::Spot);
            let depth = cfg.book_depth.unwrap_or(bybit::DEFAULT_DEPTH);
            adapt(
                bybit::protocol::BybitProtocol::new(names, cat, depth),
                vs,
                symbols,
                |p, s, _| p.resubscribe_frames(s),
            )
        }
        "coinbase" => {
            let advanced = cfg.protocol.as_deref() != Some("exchange");
            adapt(
                coinbase::protocol::CoinbaseProtocol::new(names, advanced),
                vs,
                symbols,
                |p, _, _| p.resubscribe_frames(),
            )
        }
        "kraken" => {
            let v2 = cfg.protocol.as_deref() != Some("v1");
            let pairs = if v2 {
                names.iter().map(|s| kraken::v2_symbol(s)).collect()
            } else {
                names
            };
            let depth = cfg.book_depth.unwrap_or(kraken::DEFAULT_DEPTH);
            let syms = if v2 {
                symbols
                    .into_iter()
                    .map(|(i, s)| (i, kraken::v2_symbol(&s)))
                    .collect()
            } else {
                symbols
            };
            adapt(
                kraken::protocol::KrakenProtocol::new(pairs, v2, depth),
                vs,
                syms,
                |p, s, _| p.resubscribe_frames(s),
            )
        }
        "upbit" => adapt(
            upbit::protocol::QuotationProtocol::upbit(&vs.name, names),
            vs,
            symbols,
            |_, _, _| Vec::new(),
        ),
        "bithumb" => {
            let feed = bithumb::feed_of(cfg).map_err(|e| format!("venue {}: {}", vs.name, e.1))?;
            adapt(
                bithumb::protocol::BithumbProtocol::new(feed, &vs.name, &names),
                vs,
                symbols,
                |_, _, _| Vec::new(),
            )
        }
        "kucoin" => adapt(
            kucoin::protocol::KucoinProtocol::new(&vs.name, symbols.clone()),
            vs,
            symbols,
            |_, _, _| Vec::new(),
        ),
        "gateio" => adapt(
            gateio::protocol::GateProtocol::new(symbols.clone()),
            vs,
            symbols,
            |_, _, _| Vec::new(),
        ),
        "bitget" => adapt(
            bitget::protocol::BitgetProtocol::new(symbols.clone()),
            vs,
            symbols,
            |p, _, i| p.resubscribe_frames(i),
        ),
        other => return Err(format!("venue {}: no live protocol for {other}", vs.name)),
    })
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

#[cfg(test)]
mod protocol_tests {
    use crate::config::{parse, resolve};
    use crate::types::InstrumentId;

    fn setup(exchange: &str, extra: &str, symbol: &str) -> crate::config::Setup {
        let text = format!(
            r#"
mode = "paper"
[venues.x]
exchange = "{exchange}"
taker_fee_bps = 10.0
{extra}
[[instruments]]
venue = "x"
symbol = "{symbol}"
base = "BTC"
quote = "USDT"
tick_size = "0.1"
lot_size = "0.001"
"#
        );
        resolve(parse(&text, "t").unwrap(), std::path::Path::new("."))
            .unwrap_or_else(|e| panic!("{exchange}: {e}"))
    }

    #[test]
    fn every_exchange_has_a_live_protocol() {
        let cases = [
            ("binance", "market = \"spot\"", "BTCUSDT"),
            ("okx", "", "BTC-USDT"),
            ("bybit", "market = \"spot\"", "BTCUSDT"),
            ("coinbase", "", "BTC-USD"),
            ("kraken", "book_levels = 2000", "XBT/USD"),
            ("upbit", "", "KRW-BTC"),
            ("bithumb", "", "KRW-BTC"),
            ("kucoin", "", "BTC-USDT"),
            ("gateio", "", "BTC_USDT"),
            ("bitget", "", "BTCUSDT"),
        ];
        for (ex, extra, sym) in cases {
            let s = setup(ex, extra, sym);
            let p = super::make_protocol(&s, crate::types::VenueId(0))
                .unwrap_or_else(|e| panic!("{ex}: {e}"));
            if ex == "kucoin" {
                // the endpoint and token come from a REST call made before connecting
                let pc = p.pre_connect().expect("kucoin pre-connect");
                assert!(pc.url.contains("bullet-public"), "{}", pc.url);
                continue;
            }
            let urls = p.ws_urls();
            assert!(
                !urls.is_empty() && urls.iter().all(|u| u.starts_with("wss://")),
                "{ex}: {urls:?}"
            );
            // Binance names its streams in the URL; the others subscribe with frames
            let frames: Vec<String> = (0..urls.len())
                .flat_map(|k| p.subscribe_frames(k))
                .collect();
            assert!(
                ex == "binance" || !frames.is_empty(),
                "{ex}: no subscription"
            );
        }
    }

    #[test]
    fn ws_url_override_and_resubscribe() {
        let s = setup("okx", "ws_url = \"ws://127.0.0.1:9/okx\"", "BTC-USDT");
        let p = super::make_protocol(&s, crate::types::VenueId(0)).unwrap();
        assert_eq!(p.ws_urls(), vec!["ws://127.0.0.1:9/okx".to_string()]);
        let f = p.resubscribe_frames(InstrumentId(0));
        assert_eq!(f.len(), 2);
        assert!(
            f[0].contains("unsubscribe")
                && f[0].contains("BTC-USDT")
                && f[1].contains("\"subscribe\""),
            "{f:?}"
        );
        assert!(
            p.resubscribe_frames(InstrumentId(9)).is_empty(),
            "unknown instrument"
        );
        assert!(p.is_keepalive(b"pong"));
        // Kraken v2 resubscribes under its v2 name
        let s = setup("kraken", "book_levels = 2000", "XBT/USD");
        let p = super::make_protocol(&s, crate::types::VenueId(0)).unwrap();
        let f = p.resubscribe_frames(InstrumentId(0)).join(" ");
        assert!(f.contains("BTC/USD"), "{f}");
    }
}
