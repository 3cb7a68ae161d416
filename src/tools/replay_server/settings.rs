//! The exchange's public settings: API keys and starting balances, fees, leverage, rate
//! limits, instrument specs (by default Binance's own for the recorded symbols, or taken from
//! a client config with [`ExchangeConfig::from_setup`]), the replay gate of tests.

use super::replies;
use super::MarketKind;
use crate::instrument::{InstrumentDef, InstrumentKind, InstrumentSpec};
use std::time::Duration;

/// The test account Binance's own documentation signs its examples with
/// (<https://developers.binance.com/docs/binance-spot-api-docs/rest-api#signed-endpoint-examples-for-post-apiv3order>):
/// the server's default key when none is configured, so the official vectors' scheme works
/// out of the box.
pub const DOC_API_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
/// The secret of [`DOC_API_KEY`] (published by Binance; not a real credential).
pub const DOC_API_SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";

/// One API key of the loopback exchange, with its starting balances.
#[derive(Clone)]
pub struct ApiAccount {
    /// `X-MBX-APIKEY` value.
    pub api_key: String,
    /// HMAC secret (never printed: `Debug` hides it).
    pub secret: String,
    /// Starting balances: spot assets, USDⓈ-M and COIN-M wallet balances.
    pub balances: Vec<Balance>,
}

impl std::fmt::Debug for ApiAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiAccount")
            .field("api_key", &self.api_key)
            .field("secret", &"<hidden>")
            .field("balances", &self.balances)
            .finish()
    }
}

/// A starting balance.
#[derive(Clone, Debug, PartialEq)]
pub struct Balance {
    /// Which market's account.
    pub market: MarketKind,
    /// Asset (`USDT`, `BTC`).
    pub asset: String,
    /// Amount (rounded to 10⁻⁸).
    pub amount: f64,
}

/// Request-rate limits of one market (0 = no such limiter). Defaults are Binance's published
/// `rateLimits` (spot `GET /api/v3/exchangeInfo`; USDⓈ-M / COIN-M `exchangeInfo`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimits {
    /// `REQUEST_WEIGHT` per minute (per IP: here per server and market).
    pub weight_per_minute: u32,
    /// `ORDERS` per 10 seconds (per account).
    pub orders_per_10s: u32,
    /// `ORDERS` per minute (per account; futures).
    pub orders_per_minute: u32,
    /// `ORDERS` per day (per account; spot).
    pub orders_per_day: u32,
    /// Requests sent while a 429's `Retry-After` has not passed before the IP is banned
    /// (418); the first 429 itself does not count.
    pub violations_before_ban: u32,
    /// Length of an IP ban, seconds (Binance: 2 minutes to 3 days).
    pub ban_secs: u64,
}

impl RateLimits {
    /// Binance's limits for `m`.
    pub fn binance(m: MarketKind) -> RateLimits {
        match m {
            MarketKind::Spot => RateLimits {
                weight_per_minute: 6000,
                orders_per_10s: 100,
                orders_per_minute: 0,
                orders_per_day: 200_000,
                violations_before_ban: 2,
                ban_secs: 120,
            },
            MarketKind::Usdm => RateLimits {
                weight_per_minute: 2400,
                orders_per_10s: 300,
                orders_per_minute: 1200,
                orders_per_day: 0,
                violations_before_ban: 2,
                ban_secs: 120,
            },
            MarketKind::Coinm => RateLimits {
                weight_per_minute: 2400,
                orders_per_10s: 0,
                orders_per_minute: 1200,
                orders_per_day: 0,
                violations_before_ban: 2,
                ban_secs: 120,
            },
        }
    }
}

/// Fees, leverage and limits of one market.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MarketSettings {
    /// Taker fee, bps.
    pub taker_fee_bps: f64,
    /// Maker fee (resting orders that fill later), bps.
    pub maker_fee_bps: f64,
    /// Futures leverage (initial margin = notional / leverage).
    pub leverage: f64,
    /// Rate limits.
    pub limits: RateLimits,
}

impl MarketSettings {
    /// Binance VIP 0 list fees (spot 0.1 %/0.1 %, USDⓈ-M 0.05 % taker / 0.02 % maker,
    /// COIN-M 0.05 % / 0.02 %), leverage 20 (Binance's default for a new symbol), Binance's
    /// rate limits.
    pub fn binance(m: MarketKind) -> MarketSettings {
        let (taker, maker) = match m {
            MarketKind::Spot => (10.0, 10.0),
            _ => (5.0, 2.0),
        };
        MarketSettings {
            taker_fee_bps: taker,
            maker_fee_bps: maker,
            leverage: 20.0,
            limits: RateLimits::binance(m),
        }
    }
}

/// The exchange side of the server: who may trade, with what, on which instruments.
#[derive(Clone, Debug)]
pub struct ExchangeConfig {
    /// API keys (the first is the default account).
    pub accounts: Vec<ApiAccount>,
    /// Spot settings.
    pub spot: MarketSettings,
    /// USDⓈ-M settings.
    pub usdm: MarketSettings,
    /// COIN-M settings.
    pub coinm: MarketSettings,
    /// Instrument specs by market (symbols the recordings serve without a spec here get
    /// 10⁻⁸ steps and no minimum notional).
    pub instruments: Vec<(MarketKind, InstrumentDef)>,
    /// Tests: process no recorded message with index ≥ N (N = 0 holds before the first one)
    /// until [`super::Server::advance_to`] or [`super::Server::release`] moves the gate.
    pub hold_at: Option<u64>,
    /// Validity of a listenKey after its creation or last keep-alive (Binance: 60 min).
    pub listen_key_validity: Duration,
}

impl Default for ExchangeConfig {
    fn default() -> ExchangeConfig {
        let b = |market, asset: &str, amount| Balance {
            market,
            asset: asset.into(),
            amount,
        };
        ExchangeConfig {
            accounts: vec![ApiAccount {
                api_key: DOC_API_KEY.into(),
                secret: DOC_API_SECRET.into(),
                balances: vec![
                    b(MarketKind::Spot, "USDT", 100_000.0),
                    b(MarketKind::Spot, "BTC", 2.0),
                    b(MarketKind::Usdm, "USDT", 100_000.0),
                    b(MarketKind::Coinm, "BTC", 2.0),
                ],
            }],
            spot: MarketSettings::binance(MarketKind::Spot),
            usdm: MarketSettings::binance(MarketKind::Usdm),
            coinm: MarketSettings::binance(MarketKind::Coinm),
            instruments: default_instruments(),
            hold_at: None,
            listen_key_validity: Duration::from_secs(3600),
        }
    }
}

/// Binance's filters for the recorded symbols as published in August 2024 (the same values as
/// `configs/paper-loopback.toml`).
pub fn default_instruments() -> Vec<(MarketKind, InstrumentDef)> {
    let d = |venue: &str, symbol: &str, quote: &str, kind, tick: &str, lot: &str| InstrumentDef {
        venue: venue.into(),
        symbol: symbol.into(),
        base: "BTC".into(),
        quote: quote.into(),
        kind,
        tick_size: tick.into(),
        lot_size: lot.into(),
        min_qty: None,
        max_qty: None,
        min_notional: None,
        contract_size: None,
        price_decimals: None,
        qty_decimals: None,
    };
    let mut spot = d(
        "binance-spot",
        "BTCUSDT",
        "USDT",
        InstrumentKind::Spot,
        "0.01",
        "0.00001",
    );
    spot.max_qty = Some("9000".into());
    spot.min_notional = Some("5".into());
    let mut usdm = d(
        "binance-usdm",
        "BTCUSDT",
        "USDT",
        InstrumentKind::LinearPerp,
        "0.10",
        "0.001",
    );
    usdm.max_qty = Some("1000".into());
    usdm.min_notional = Some("100".into());
    let mut coinm = d(
        "binance-coinm",
        "BTCUSD_PERP",
        "USD",
        InstrumentKind::InversePerp,
        "0.1",
        "1",
    );
    coinm.contract_size = Some("100".into());
    vec![
        (MarketKind::Spot, spot),
        (MarketKind::Usdm, usdm),
        (MarketKind::Coinm, coinm),
    ]
}

impl ExchangeConfig {
    /// Settings of `m`.
    pub fn settings(&self, m: MarketKind) -> &MarketSettings {
        match m {
            MarketKind::Spot => &self.spot,
            MarketKind::Usdm => &self.usdm,
            MarketKind::Coinm => &self.coinm,
        }
    }

    /// Settings of `m`, to change.
    pub fn settings_mut(&mut self, m: MarketKind) -> &mut MarketSettings {
        match m {
            MarketKind::Spot => &mut self.spot,
            MarketKind::Usdm => &mut self.usdm,
            MarketKind::Coinm => &mut self.coinm,
        }
    }

    /// Fees, leverage, starting balances and instrument specs from a client config: each
    /// `[venues.<name>]` with a Binance `market` gives that market's `taker_fee_bps` (maker
    /// fee taken equal, the client config has none), `leverage`, `balances`, and its
    /// instruments (`[[instruments]]` or `[[instrument_files]]`). Keys stay the defaults.
    pub fn from_setup(setup: &crate::config::Setup) -> ExchangeConfig {
        let mut cfg = ExchangeConfig::default();
        let mut balances = Vec::new();
        let mut instruments = Vec::new();
        let mut seen = [false; 3];
        for (vi, v) in setup.venues.iter().enumerate() {
            let Some(m) = v.cfg.market.as_deref().and_then(MarketKind::parse) else {
                continue;
            };
            if v.cfg.exchange != crate::venues::Exchange::Binance || seen[m.idx()] {
                continue;
            }
            seen[m.idx()] = true;
            let kind = match m {
                MarketKind::Spot => InstrumentKind::Spot,
                MarketKind::Usdm => InstrumentKind::LinearPerp,
                MarketKind::Coinm => InstrumentKind::InversePerp,
            };
            let s = cfg.settings_mut(m);
            s.taker_fee_bps = v.cfg.taker_fee_bps_for(kind);
            s.maker_fee_bps = s.taker_fee_bps;
            s.leverage = v.cfg.leverage;
            for (asset, amount) in &v.cfg.balances {
                balances.push(Balance {
                    market: m,
                    asset: asset.to_ascii_uppercase(),
                    amount: *amount,
                });
            }
            for spec in setup.instruments.iter().filter(|s| s.venue.idx() == vi) {
                instruments.push((m, def_of_spec(spec)));
            }
        }
        if let Some(a) = cfg.accounts.first_mut() {
            // markets the config does not have keep the default balances
            a.balances.retain(|b| !seen[b.market.idx()]);
            a.balances.extend(balances);
        }
        // the config's specs first: they win over the defaults for the same symbol
        instruments.extend(std::mem::take(&mut cfg.instruments));
        cfg.instruments = instruments;
        cfg
    }
}

/// An [`InstrumentDef`] that gives back `spec` (decimal strings at the spec's scales).
pub fn def_of_spec(spec: &InstrumentSpec) -> InstrumentDef {
    let f = |v: i64, d: u32| replies::dec_scaled(v as i128, d, d);
    InstrumentDef {
        venue: spec.venue_name.clone(),
        symbol: spec.symbol.clone(),
        base: spec.base.clone(),
        quote: spec.quote.clone(),
        kind: spec.kind,
        tick_size: f(spec.tick_size.0, spec.price_dec),
        lot_size: f(spec.lot_size.0, spec.qty_dec),
        min_qty: Some(f(spec.min_qty.0, spec.qty_dec)),
        max_qty: (spec.max_qty.0 != i64::MAX).then(|| f(spec.max_qty.0, spec.qty_dec)),
        min_notional: (spec.min_notional.0 > 0).then(|| f(spec.min_notional.0, 8)),
        contract_size: Some(f(spec.contract_size.0, 8)),
        price_decimals: None,
        qty_decimals: None,
    }
}
