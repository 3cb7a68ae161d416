//! The exchange behind the order-entry endpoints: accounts, orders, positions, the server's
//! own books (the engine's [`crate::book`] types fed by the engine's Binance handler from the
//! recording being served), matching through [`crate::exec::matching`], fees, and the events
//! of the user-data stream. Everything here happens under one lock, in the order requests and
//! recorded messages reach it, so a given request sequence at a given replay position always
//! gives the same orders, fills, ids and balances.
//!
//! Amounts are exact integers at 10⁻⁸ (prices, quantities, balances); products are taken in
//! `i128`. Every instrument is held at 8 decimals for price and quantity (Binance never sends
//! more), whatever the client config says, so the recorded book is always representable.

use super::book::FileInfo;
use super::replies::{self, Fmt};
use super::settings::ExchangeConfig;
use super::{Faults, MarketKind};
use crate::book::Market;
use crate::event::MdEvent;
use crate::exec::matching::{take_each, Consumption};
use crate::feed::{tag, EventSink, VenueCounters, VenueHandler};
use crate::instrument::{InstrumentDef, InstrumentKind, InstrumentSpec};
use crate::ring::RawMeta;
use crate::types::{InstrumentId, Price, Qty, Side, VenueId};
use crate::venues::binance::{Binance, BinanceHandler, Market as BMarket, LIMITS};
use crate::venues::symbols::InstrumentRef;
use crate::venues::wire_util::Scale;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::Duration;

/// 10⁸: one unit at the server's fixed 8-decimal scale.
pub(super) const E8: i128 = 100_000_000;
/// Largest price accepted (`PRICE_FILTER.maxPrice`).
pub(super) const MAX_PRICE: i64 = 1_000_000 * E8 as i64;

/// A Binance error answer: HTTP status, `code`, `msg`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct ApiError {
    pub(super) http: u16,
    pub(super) code: i32,
    pub(super) msg: String,
}

impl ApiError {
    /// An error with Binance's usual HTTP status for `code`.
    pub(super) fn new(code: i32, msg: impl Into<String>) -> ApiError {
        let http = match code {
            -1003 | -1015 => 429,
            -2014 | -2015 => 401,
            -1000 | -1001 | -1006 | -1007 | -1008 => 503,
            _ => 400,
        };
        ApiError {
            http,
            code,
            msg: msg.into(),
        }
    }
    pub(super) fn mandatory(p: &str) -> ApiError {
        ApiError::new(
            -1102,
            format!("Mandatory parameter '{p}' was not sent, was empty/null, or malformed."),
        )
    }
    pub(super) fn illegal(p: &str, range: &str) -> ApiError {
        ApiError::new(
            -1100,
            format!("Illegal characters found in parameter '{p}'; legal range is '{range}'."),
        )
    }
    pub(super) fn not_required(p: &str) -> ApiError {
        ApiError::new(-1106, format!("Parameter '{p}' sent when not required."))
    }
    pub(super) fn filter(name: &str) -> ApiError {
        ApiError::new(-1013, format!("Filter failure: {name}"))
    }
    pub(super) fn body(&self) -> String {
        serde_json::json!({"code": self.code, "msg": self.msg}).to_string()
    }
}

/// Order type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum OrdType {
    Limit,
    Market,
    /// Spot post-only.
    LimitMaker,
}

impl OrdType {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            OrdType::Limit => "LIMIT",
            OrdType::Market => "MARKET",
            OrdType::LimitMaker => "LIMIT_MAKER",
        }
    }
}

/// Time in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Tif {
    Gtc,
    Ioc,
    Fok,
    /// Futures post-only.
    Gtx,
}

impl Tif {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Tif::Gtc => "GTC",
            Tif::Ioc => "IOC",
            Tif::Fok => "FOK",
            Tif::Gtx => "GTX",
        }
    }
}

/// Order status (Binance's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Status {
    New,
    PartiallyFilled,
    Filled,
    Canceled,
    Expired,
}

impl Status {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Status::New => "NEW",
            Status::PartiallyFilled => "PARTIALLY_FILLED",
            Status::Filled => "FILLED",
            Status::Canceled => "CANCELED",
            Status::Expired => "EXPIRED",
        }
    }
    pub(super) fn is_open(self) -> bool {
        matches!(self, Status::New | Status::PartiallyFilled)
    }
}

/// `newOrderRespType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RespType {
    Ack,
    Result,
    Full,
}

/// One trade of an order.
#[derive(Clone, Debug)]
pub(super) struct FillRec {
    pub(super) px: i64,
    pub(super) qty: i64,
    pub(super) fee: i128,
    pub(super) fee_asset: String,
    pub(super) trade_id: u64,
    pub(super) maker: bool,
    /// Futures: realized PnL of this trade (margin asset, 10⁻⁸).
    pub(super) realized: i128,
}

/// One order as the exchange keeps it.
#[derive(Clone, Debug)]
pub(super) struct Order {
    pub(super) id: u64,
    pub(super) client_id: String,
    pub(super) account: usize,
    pub(super) inst: usize,
    pub(super) side: Side,
    pub(super) typ: OrdType,
    pub(super) tif: Tif,
    /// Limit price (0 for MARKET), 10⁻⁸.
    pub(super) price: i64,
    pub(super) qty: i64,
    pub(super) executed: i64,
    /// Quote notional filled (spot, USDⓈ-M), 10⁻⁸.
    pub(super) cum_quote: i128,
    /// Base amount filled (COIN-M `cumBase`), 10⁻⁸.
    pub(super) cum_base: i128,
    pub(super) status: Status,
    pub(super) time_ms: u64,
    pub(super) update_ms: u64,
    pub(super) reduce_only: bool,
    /// Spot: what is still locked for this order (quote for buys, base for sells).
    pub(super) locked: i128,
    pub(super) fills: Vec<FillRec>,
    /// `expiryReason` / `er` of an expired order.
    pub(super) expiry: Option<Expiry>,
}

/// Why an order expired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Expiry {
    Ioc,
    Fok,
    Market,
    PostOnly,
    /// The partial-fill fault.
    Fault,
}

/// An instrument the server serves and trades.
#[derive(Clone, Debug)]
pub(super) struct Inst {
    pub(super) market: MarketKind,
    /// At 8 decimals for price and quantity; id = file index.
    pub(super) spec: InstrumentSpec,
    /// Decimals of the tick and of the lot (`pricePrecision`, `quantityPrecision`).
    pub(super) price_prec: u32,
    pub(super) qty_prec: u32,
}

impl Inst {
    /// The asset futures margin and PnL are in (USDⓈ-M: quote; COIN-M: base).
    pub(super) fn margin_asset(&self) -> &str {
        match self.market {
            MarketKind::Coinm => &self.spec.base,
            _ => &self.spec.quote,
        }
    }
    pub(super) fn fmt(&self) -> Fmt {
        Fmt {
            market: self.market,
            price_prec: self.price_prec,
            qty_prec: self.qty_prec,
        }
    }
    /// Quote notional of `q` at `px` (spot, linear: quote units; inverse: USD of contracts).
    pub(super) fn quote_of(&self, q: i64, px: i64) -> i128 {
        let s = &self.spec;
        let base = q as i128 * s.contract_size.0 as i128 / E8;
        if s.kind.is_inverse() {
            base
        } else {
            base.saturating_mul(px as i128) / E8
        }
    }
    /// Base amount of `q` at `px`.
    pub(super) fn base_of(&self, q: i64, px: i64) -> i128 {
        let s = &self.spec;
        let v = q as i128 * s.contract_size.0 as i128 / E8;
        if s.kind.is_inverse() {
            if px <= 0 {
                return 0;
            }
            v * E8 / px as i128
        } else {
            v
        }
    }
    /// Futures notional in the margin asset (linear: quote; inverse: base), 10⁻⁸.
    pub(super) fn margin_value(&self, q: i64, px: i64) -> i128 {
        if self.spec.kind.is_inverse() {
            self.base_of(q, px)
        } else {
            self.quote_of(q, px)
        }
    }
    /// The value a position's cost basis is kept in: linear quote at 10⁻⁸; inverse base at
    /// 10⁻¹⁶ (so that entry prices of inverse positions stay exact to 10⁻⁸).
    pub(super) fn basis_value(&self, q: i64, px: i64) -> i128 {
        if self.spec.kind.is_inverse() {
            if px <= 0 {
                return 0;
            }
            let usd = q as i128 * self.spec.contract_size.0 as i128 / E8;
            usd.saturating_mul(E8 * E8) / px as i128
        } else {
            self.quote_of(q, px)
        }
    }
    /// A basis value in the margin asset at 10⁻⁸ (truncated).
    pub(super) fn basis_e8(&self, b: i128) -> i128 {
        if self.spec.kind.is_inverse() {
            b / E8
        } else {
            b
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Bal {
    pub(super) free: i128,
    pub(super) locked: i128,
}

/// A futures position (one-way mode, `positionSide` BOTH).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Pos {
    /// Signed quantity (base for USDⓈ-M, contracts for COIN-M), 10⁻⁸.
    pub(super) amt: i128,
    /// Cost of the open quantity in the margin asset (linear: Σ q·px at 10⁻⁸; inverse:
    /// Σ q·cs/px at 10⁻¹⁶, see [`Inst::basis_value`]).
    pub(super) basis: i128,
    /// Accumulated realized PnL (before fees).
    pub(super) realized: i128,
    pub(super) update_ms: u64,
}

impl Pos {
    /// Average entry price, 10⁻⁸.
    pub(super) fn entry(&self, inst: &Inst) -> i128 {
        if self.amt == 0 || self.basis == 0 {
            return 0;
        }
        let a = self.amt.abs();
        if inst.spec.kind.is_inverse() {
            let usd = a * inst.spec.contract_size.0 as i128 / E8;
            usd.saturating_mul(E8 * E8) / self.basis
        } else {
            self.basis.saturating_mul(E8) / a
        }
    }
}

/// One account on one market.
#[derive(Clone, Debug, Default)]
pub(super) struct Acct {
    pub(super) bal: BTreeMap<String, Bal>,
    pub(super) pos: BTreeMap<usize, Pos>,
    pub(super) update_ms: u64,
}

/// A listenKey.
#[derive(Clone, Debug)]
pub(super) struct ListenKey {
    pub(super) account: usize,
    pub(super) key: String,
    pub(super) expires_ms: u64,
}

/// One market's state.
pub(super) struct Venue {
    pub(super) kind: MarketKind,
    pub(super) accounts: Vec<Acct>,
    pub(super) orders: Vec<Order>,
    pub(super) next_trade_id: u64,
    pub(super) listen: Vec<ListenKey>,
    pub(super) listen_seq: u64,
}

/// A message for a user-data-stream connection: an event, or `None` = close the stream.
pub(super) type UserMsg = Option<String>;

struct Sub {
    market: MarketKind,
    account: usize,
    key: String,
    tx: mpsc::Sender<UserMsg>,
}

/// Counts the server reports.
#[derive(Clone, Debug, Default)]
pub(super) struct ExStats {
    /// Order requests received (`POST .../order`).
    pub(super) orders: u64,
    /// Order requests the Nth-order faults count.
    pub(super) fault_seq: u64,
    /// Trades made.
    pub(super) trades: u64,
    /// Trades of resting orders.
    pub(super) resting_fills: u64,
    /// Faults that fired.
    pub(super) faults: Vec<String>,
}

/// Everything the exchange knows, behind one lock.
pub(super) struct State {
    /// The server's matching books (instrument id = served file), as the engine keeps them.
    books: Market,
    /// The engine's Binance handler per served file: recorded lines → book events.
    handlers: Vec<BinanceHandler>,
    events: Vec<MdEvent>,
    pub(super) insts: Vec<Inst>,
    /// Liquidity orders of every account took, per level (`matching::Consumption`).
    consumed: Consumption,
    /// Receive time of the newest recorded line applied (the data time `take_each` records).
    data_ns: u64,
    msg_seq: u64,
    /// Execution ids (`I`) of spot execution reports.
    exec_seq: u64,
    pub(super) venues: Vec<Venue>,
    /// Resting orders: (market index, order index).
    open: Vec<(usize, usize)>,
    subs: Vec<Sub>,
    pub(super) stats: ExStats,
    /// Fees as rates in 10⁻¹⁰ (1 bp = 1,000,000), by market: (taker, maker).
    fee_e10: [(i128, i128); 3],
    /// Leverage × 1000 by market.
    lev_milli: [i128; 3],
}

/// The exchange: shared by the HTTP connections and the dispatch thread.
pub(super) struct Exchange {
    st: Mutex<State>,
    pub(super) cfg: ExchangeConfig,
    pub(super) keys: Vec<(String, ring::hmac::Key)>,
    pub(super) faults: Faults,
    /// Request weights and order counts.
    pub(super) limiter: super::ratelimit::Limiter,
    /// Ping interval of user-data streams (default: Binance's, by market).
    pub(super) user_ping: Option<Duration>,
    gate: AtomicU64,
    position: AtomicU64,
}

/// A new order as the HTTP side parsed it (strings are checked here, against the
/// instrument).
pub(super) struct NewOrder<'a> {
    pub(super) symbol: &'a str,
    pub(super) side: Side,
    pub(super) typ: OrdType,
    pub(super) tif: Option<Tif>,
    pub(super) qty: Option<&'a str>,
    pub(super) price: Option<&'a str>,
    pub(super) client_id: Option<&'a str>,
    pub(super) reduce_only: bool,
    pub(super) resp: Option<RespType>,
}

/// A fault applied to one accepted order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum OrderFault {
    None,
    /// The answer says NEW with nothing executed; fills go to the user stream only.
    StreamOnly,
    /// Fill at most half the quantity (lot-aligned), expire the rest.
    PartialExpire,
}

fn kind_of(m: MarketKind) -> InstrumentKind {
    match m {
        MarketKind::Spot => InstrumentKind::Spot,
        MarketKind::Usdm => InstrumentKind::LinearPerp,
        MarketKind::Coinm => InstrumentKind::InversePerp,
    }
}

/// A spec for a served symbol no config describes: 10⁻⁸ steps, no minimum notional; base and
/// quote guessed from the symbol (`BTCUSDT` → BTC/USDT, `BTCUSD_PERP` → BTC/USD).
fn generic_def(m: MarketKind, symbol: &str) -> InstrumentDef {
    let plain = symbol.split('_').next().unwrap_or(symbol);
    let quotes = [
        "USDT", "USDC", "FDUSD", "BUSD", "TUSD", "USD", "BTC", "ETH", "BNB", "EUR", "TRY",
    ];
    let (base, quote) = quotes
        .iter()
        .find_map(|q| {
            plain
                .strip_suffix(q)
                .filter(|b| !b.is_empty())
                .map(|b| (b.to_string(), q.to_string()))
        })
        .unwrap_or_else(|| (plain.to_string(), "USDT".to_string()));
    InstrumentDef {
        venue: format!("loopback-{}", m.name()),
        symbol: symbol.to_string(),
        base,
        quote,
        kind: kind_of(m),
        tick_size: "0.00000001".into(),
        lot_size: if m == MarketKind::Coinm {
            "1".into()
        } else {
            "0.00000001".into()
        },
        min_qty: None,
        max_qty: None,
        min_notional: None,
        contract_size: (m == MarketKind::Coinm).then(|| "100".into()),
        price_decimals: None,
        qty_decimals: None,
    }
}

fn fee_rate(bps: f64) -> i128 {
    if bps.is_finite() && bps > 0.0 {
        (bps * 1_000_000.0).round() as i128
    } else {
        0
    }
}

fn amount_e8(v: f64) -> i128 {
    if v.is_finite() {
        (v * 1e8).round() as i128
    } else {
        0
    }
}

/// `n` / `d` rounded up (both ≥ 0; saturating).
fn div_ceil(n: i128, d: i128) -> i128 {
    if d <= 0 {
        return 0;
    }
    n.saturating_add(d - 1) / d
}

impl Exchange {
    /// The exchange for the served files (`info[f]` = file `f`).
    pub(super) fn new(
        cfg: ExchangeConfig,
        info: &[FileInfo],
        faults: &Faults,
    ) -> Result<Exchange, String> {
        if cfg.accounts.is_empty() {
            return Err("the exchange needs at least one API key".into());
        }
        let mut insts = Vec::with_capacity(info.len());
        for (f, fi) in info.iter().enumerate() {
            let def = cfg
                .instruments
                .iter()
                .find(|(m, d)| *m == fi.market && d.symbol.eq_ignore_ascii_case(&fi.symbol))
                .map(|(_, d)| d.clone())
                .unwrap_or_else(|| generic_def(fi.market, &fi.symbol));
            let mut d8 = def.clone();
            d8.kind = kind_of(fi.market);
            d8.symbol = fi.symbol.clone();
            d8.price_decimals = Some(8);
            d8.qty_decimals = Some(8);
            let spec = d8
                .to_spec(InstrumentId(f as u16), VenueId(f as u8))
                .map_err(|e| e.to_string())?;
            // `pricePrecision` / `quantityPrecision`: the decimals the step is written with
            // (Binance BTCUSDT perpetual: tickSize "0.10", pricePrecision 2)
            let written = |s: &str| {
                s.trim()
                    .split_once('.')
                    .map(|(_, f)| f.len() as u32)
                    .unwrap_or(0)
            };
            insts.push(Inst {
                market: fi.market,
                price_prec: written(&def.tick_size).min(8),
                qty_prec: written(&def.lot_size).min(8),
                spec,
            });
        }
        let levels = vec![5000; insts.len()];
        let mut books = Market::from_specs(
            insts.iter().map(|i| i.spec.clone()).collect(),
            insts.len(),
            &levels,
        );
        for b in &mut books.books {
            b.ticker_seq_shared = true; // Binance bookTicker `u` and depth `u` share one id space
        }
        let handlers = insts
            .iter()
            .enumerate()
            .map(|(f, i)| {
                let market = match i.market {
                    MarketKind::Spot => BMarket::Spot,
                    MarketKind::Usdm => BMarket::Usdm,
                    MarketKind::Coinm => BMarket::Coinm,
                };
                BinanceHandler::new(
                    VenueId(f as u8),
                    vec![InstrumentRef {
                        id: InstrumentId(f as u16),
                        symbol: i.spec.symbol.clone(),
                        scale: Scale {
                            price_dec: 8,
                            qty_dec: 8,
                        },
                    }],
                    Binance::new(market, &LIMITS),
                    Arc::new(VenueCounters::default()),
                )
            })
            .collect();
        let venues = [MarketKind::Spot, MarketKind::Usdm, MarketKind::Coinm]
            .into_iter()
            .map(|m| {
                let accounts = cfg
                    .accounts
                    .iter()
                    .map(|a| {
                        let mut acct = Acct::default();
                        for b in a.balances.iter().filter(|b| b.market == m) {
                            acct.bal
                                .entry(b.asset.to_ascii_uppercase())
                                .or_default()
                                .free += amount_e8(b.amount);
                        }
                        acct
                    })
                    .collect();
                Venue {
                    kind: m,
                    accounts,
                    orders: Vec::new(),
                    next_trade_id: 1,
                    listen: Vec::new(),
                    listen_seq: 0,
                }
            })
            .collect();
        let st = |m: MarketKind| cfg.settings(m);
        let ms = [MarketKind::Spot, MarketKind::Usdm, MarketKind::Coinm];
        let fee_e10 = ms.map(|m| (fee_rate(st(m).taker_fee_bps), fee_rate(st(m).maker_fee_bps)));
        let lev_milli = ms.map(|m| {
            let l = st(m).leverage;
            if l.is_finite() && l >= 1.0 {
                (l * 1000.0).round() as i128
            } else {
                1000
            }
        });
        let keys = cfg
            .accounts
            .iter()
            .map(|a| {
                (
                    a.api_key.clone(),
                    ring::hmac::Key::new(ring::hmac::HMAC_SHA256, a.secret.as_bytes()),
                )
            })
            .collect();
        let gate = cfg.hold_at.unwrap_or(u64::MAX);
        Ok(Exchange {
            st: Mutex::new(State {
                books,
                handlers,
                events: Vec::with_capacity(8192),
                insts,
                consumed: Consumption::new(4096),
                data_ns: 0,
                msg_seq: 0,
                exec_seq: 0,
                venues,
                open: Vec::new(),
                subs: Vec::new(),
                stats: ExStats::default(),
                fee_e10,
                lev_milli,
            }),
            cfg,
            keys,
            faults: faults.clone(),
            limiter: Default::default(),
            user_ping: None,
            gate: AtomicU64::new(gate),
            position: AtomicU64::new(0),
        })
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        match self.st.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Server time, ms since the epoch: the host clock plus the configured skew.
    pub(super) fn now_ms(&self) -> u64 {
        let ms = (crate::clock::Clock::get().now_ns() / 1_000_000) as i64;
        (ms + self.faults.clock_skew_ms).max(0) as u64
    }

    /// Account index of an API key.
    pub(super) fn account_of(&self, api_key: &str) -> Option<usize> {
        self.keys.iter().position(|(k, _)| k == api_key)
    }

    // ---- the replay gate (tests) ----

    /// May the dispatch thread process recorded message `idx` now?
    pub(super) fn may_process(&self, idx: u64) -> bool {
        idx < self.gate.load(Ordering::Acquire)
    }
    /// Let the replay run up to (not including) message `n`; `None` = no limit.
    pub(super) fn set_gate(&self, n: Option<u64>) {
        self.gate.store(n.unwrap_or(u64::MAX), Ordering::Release);
    }
    /// Recorded messages processed so far.
    pub(super) fn position(&self) -> u64 {
        self.position.load(Ordering::Acquire)
    }

    /// One recorded line reaches the server (snapshot or stream message, in the order the
    /// dispatch thread serves them): the server's book follows it, then resting orders on the
    /// instrument are checked against the new book.
    pub(super) fn on_item(&self, file: usize, recv_ns: u64, text: &str, snapshot: bool) {
        let now_ms = self.now_ms();
        let mut st = self.lock();
        st.apply_md(file, recv_ns, text, snapshot);
        st.match_resting(file, now_ms);
        drop(st);
        self.position.fetch_add(1, Ordering::AcqRel);
    }

    /// Take the Nth-order fault counter step for an order of market `m`; returns the order's
    /// number among those the faults count.
    pub(super) fn count_order(&self, m: MarketKind) -> Option<u64> {
        let mut st = self.lock();
        st.stats.orders += 1;
        if self.faults.order_fault_market.is_some_and(|x| x != m) {
            return None;
        }
        st.stats.fault_seq += 1;
        Some(st.stats.fault_seq)
    }

    /// Change every account's free balance of `p.asset` on `p.market` by `p.delta_e8`, with
    /// no trade and no balance event ([`super::Faults::plant_balance`]).
    pub(super) fn plant_balance(&self, p: &super::PlantBalance) {
        let mut st = self.lock();
        for a in &mut st.venues[p.market.idx()].accounts {
            a.bal.entry(p.asset.clone()).or_default().free += p.delta_e8 as i128;
        }
    }

    /// Note a fault that fired.
    pub(super) fn note_fault(&self, what: String) {
        self.lock().stats.faults.push(what);
    }

    /// Counts for the server's stats.
    pub(super) fn stats(&self) -> ExStats {
        self.lock().stats.clone()
    }

    /// Every order the exchange received, in arrival order per market, as the exchange's
    /// own ledger (the independent side of a live run's reconciliation).
    pub(super) fn ledger(&self) -> Vec<super::LedgerOrder> {
        let st = self.lock();
        let mut out = Vec::new();
        for v in &st.venues {
            for o in &v.orders {
                let inst = &st.insts[o.inst];
                let e8 = |x: i128| x as f64 / E8 as f64;
                let mut fees: Vec<(String, f64)> = Vec::new();
                for f in &o.fills {
                    match fees.iter_mut().find(|(a, _)| *a == f.fee_asset) {
                        Some(x) => x.1 += e8(f.fee),
                        None => fees.push((f.fee_asset.clone(), e8(f.fee))),
                    }
                }
                out.push(super::LedgerOrder {
                    market: v.kind.name(),
                    symbol: inst.spec.symbol.clone(),
                    client_order_id: o.client_id.clone(),
                    order_id: o.id,
                    side: if o.side == Side::Buy { "BUY" } else { "SELL" },
                    status: o.status.as_str(),
                    qty: e8(o.qty as i128),
                    executed_qty: e8(o.executed as i128),
                    cum_quote: e8(o.cum_quote),
                    cum_base: e8(o.cum_base),
                    trades: o.fills.len(),
                    fees,
                });
            }
        }
        out
    }

    /// Register a user-data-stream connection for `key`; `None` if the key is unknown or
    /// expired.
    pub(super) fn subscribe(
        &self,
        market: Option<MarketKind>,
        key: &str,
    ) -> Option<(MarketKind, mpsc::Receiver<UserMsg>)> {
        let now = self.now_ms();
        let mut st = self.lock();
        let (m, account) = st.find_listen_key(market, key, now)?;
        let (tx, rx) = mpsc::channel();
        st.subs.push(Sub {
            market: m,
            account,
            key: key.to_string(),
            tx,
        });
        Some((m, rx))
    }

    /// Is `key` still valid (not expired, not deleted)? Expired keys are dropped.
    pub(super) fn listen_key_alive(&self, m: MarketKind, key: &str) -> bool {
        let now = self.now_ms();
        let mut st = self.lock();
        st.find_listen_key(Some(m), key, now).is_some()
    }

    /// `POST` listenKey: the account's active key (validity extended) or a new one.
    pub(super) fn listen_key_create(&self, m: MarketKind, account: usize) -> String {
        let now = self.now_ms();
        let exp = now + self.cfg.listen_key_validity.as_millis() as u64;
        let mut st = self.lock();
        let v = &mut st.venues[m.idx()];
        v.listen.retain(|l| l.expires_ms > now);
        if let Some(l) = v.listen.iter_mut().find(|l| l.account == account) {
            l.expires_ms = exp;
            return l.key.clone();
        }
        v.listen_seq += 1;
        let key = listen_key_text(&self.keys[account].0, m, v.listen_seq);
        v.listen.push(ListenKey {
            account,
            key: key.clone(),
            expires_ms: exp,
        });
        key
    }

    /// `PUT` listenKey (spot names the key; futures extend the account's key). Returns the
    /// key extended.
    pub(super) fn listen_key_keepalive(
        &self,
        m: MarketKind,
        account: usize,
        key: Option<&str>,
    ) -> Result<String, ApiError> {
        let now = self.now_ms();
        let exp = now + self.cfg.listen_key_validity.as_millis() as u64;
        let mut st = self.lock();
        let v = &mut st.venues[m.idx()];
        v.listen.retain(|l| l.expires_ms > now);
        match v
            .listen
            .iter_mut()
            .find(|l| l.account == account && key.is_none_or(|k| k == l.key))
        {
            Some(l) => {
                l.expires_ms = exp;
                Ok(l.key.clone())
            }
            None => Err(ApiError::new(-1125, "This listenKey does not exist.")),
        }
    }

    /// `DELETE` listenKey: the key stops being valid and its streams close.
    pub(super) fn listen_key_close(
        &self,
        m: MarketKind,
        account: usize,
        key: Option<&str>,
    ) -> Result<(), ApiError> {
        let now = self.now_ms();
        let mut st = self.lock();
        let v = &mut st.venues[m.idx()];
        v.listen.retain(|l| l.expires_ms > now);
        let Some(k) = v
            .listen
            .iter()
            .position(|l| l.account == account && key.is_none_or(|x| x == l.key))
        else {
            return Err(ApiError::new(-1125, "This listenKey does not exist."));
        };
        let gone = v.listen.remove(k);
        st.subs.retain(|s| {
            if s.market == m && s.key == gone.key {
                let _ = s.tx.send(None);
                false
            } else {
                true
            }
        });
        Ok(())
    }

    /// Place an order (everything after authentication and rate limits); the body of the
    /// answer.
    pub(super) fn place(
        &self,
        m: MarketKind,
        account: usize,
        o: &NewOrder<'_>,
        fault: OrderFault,
    ) -> Result<String, ApiError> {
        let now = self.now_ms();
        let mut st = self.lock();
        st.place(m, account, o, fault, now)
    }

    /// Cancel an open order (`DELETE .../order`).
    pub(super) fn cancel(
        &self,
        m: MarketKind,
        account: usize,
        symbol: &str,
        order_id: Option<u64>,
        orig_client_id: Option<&str>,
        new_client_id: Option<&str>,
    ) -> Result<String, ApiError> {
        let now = self.now_ms();
        let mut st = self.lock();
        st.cancel(
            m,
            account,
            symbol,
            order_id,
            orig_client_id,
            new_client_id,
            now,
        )
    }

    /// Query an order (`GET .../order`).
    pub(super) fn query(
        &self,
        m: MarketKind,
        account: usize,
        symbol: &str,
        order_id: Option<u64>,
        orig_client_id: Option<&str>,
    ) -> Result<String, ApiError> {
        let st = self.lock();
        let inst = st.inst_of(m, symbol)?;
        let k = st.find_order(m, account, inst, order_id, orig_client_id, -2013)?;
        let o = &st.venues[m.idx()].orders[k];
        Ok(replies::order_query(&st.insts[o.inst], o).to_string())
    }

    /// Open orders of an account (`GET .../openOrders`), optionally for one symbol.
    pub(super) fn open_orders(
        &self,
        m: MarketKind,
        account: usize,
        symbol: Option<&str>,
    ) -> Result<String, ApiError> {
        let st = self.lock();
        let inst = match symbol {
            Some(s) => Some(st.inst_of(m, s)?),
            None => None,
        };
        let out: Vec<serde_json::Value> = st.venues[m.idx()]
            .orders
            .iter()
            .filter(|o| {
                o.account == account && o.status.is_open() && inst.is_none_or(|i| i == o.inst)
            })
            .map(|o| replies::order_query(&st.insts[o.inst], o))
            .collect();
        Ok(serde_json::Value::Array(out).to_string())
    }

    /// `GET /api/v3/account`, `/fapi/v2|v3/account`, `/dapi/v1/account`.
    pub(super) fn account(&self, m: MarketKind, account: usize, v3: bool) -> String {
        let now = self.now_ms();
        let st = self.lock();
        let a = &st.venues[m.idx()].accounts[account];
        let (taker, maker) = st.fee_e10[m.idx()];
        if m == MarketKind::Spot {
            return replies::spot_account(a, taker, maker, now).to_string();
        }
        let rows: Vec<replies::PosRow<'_>> = st
            .insts
            .iter()
            .enumerate()
            .filter(|(k, i)| i.market == m && st.primary(*k))
            .map(|(k, i)| {
                (
                    i,
                    a.pos.get(&k).copied().unwrap_or_default(),
                    st.mark_price(k),
                )
            })
            .collect();
        let margins = st.margin_by_asset(m, account);
        replies::futures_account(m, a, &rows, &margins, self.cfg.settings(m).leverage, v3)
            .to_string()
    }

    /// `GET /fapi/v2/positionRisk`, `/dapi/v1/positionRisk`.
    pub(super) fn position_risk(
        &self,
        m: MarketKind,
        account: usize,
        symbol: Option<&str>,
    ) -> Result<String, ApiError> {
        let st = self.lock();
        let only = match symbol {
            Some(s) => Some(st.inst_of(m, s)?),
            None => None,
        };
        let a = &st.venues[m.idx()].accounts[account];
        let mut out = Vec::new();
        for (k, inst) in st.insts.iter().enumerate() {
            if inst.market != m || only.is_some_and(|o| o != k) || !st.primary(k) {
                continue;
            }
            let pos = a.pos.get(&k).copied().unwrap_or_default();
            let mark = st.mark_price(k);
            out.push(replies::position_risk(
                inst,
                &pos,
                mark,
                self.cfg.settings(m).leverage,
            ));
        }
        Ok(serde_json::Value::Array(out).to_string())
    }

    /// `GET .../exchangeInfo`.
    pub(super) fn exchange_info(&self, m: MarketKind) -> String {
        let now = self.now_ms();
        let st = self.lock();
        let insts: Vec<&Inst> = st
            .insts
            .iter()
            .enumerate()
            .filter(|(k, i)| i.market == m && st.primary(*k))
            .map(|(_, i)| i)
            .collect();
        replies::exchange_info(m, &insts, &self.cfg.settings(m).limits, now).to_string()
    }
}

/// A 64-character listenKey, deterministic: hex SHA-256 of the key owner, market and a counter.
fn listen_key_text(api_key: &str, m: MarketKind, n: u64) -> String {
    let d = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{api_key}/{}/{n}", m.name()).as_bytes(),
    );
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

impl State {
    fn apply_md(&mut self, file: usize, recv_ns: u64, text: &str, snapshot: bool) {
        let Some(h) = self.handlers.get_mut(file) else {
            return;
        };
        self.events.clear();
        let meta = RawMeta {
            recv_ns,
            tag: tag::make(
                file as u8,
                snapshot,
                if snapshot {
                    file as u32
                } else {
                    tag::NO_INSTRUMENT
                },
            ),
            seq: self.msg_seq,
        };
        self.msg_seq += 1;
        {
            let mut sink = EventSink::to_vec(&mut self.events);
            sink.begin(VenueId(file as u8), &meta, 0);
            h.on_message(text.as_bytes(), &meta, &mut sink);
            sink.end();
        }
        for ev in &self.events {
            self.books.apply(ev, &mut |_| {});
        }
        if recv_ns > self.data_ns {
            self.data_ns = recv_ns;
        }
    }

    fn primary(&self, k: usize) -> bool {
        let i = &self.insts[k];
        self.insts
            .iter()
            .position(|j| j.market == i.market && j.spec.symbol == i.spec.symbol)
            == Some(k)
    }

    pub(super) fn inst_of(&self, m: MarketKind, symbol: &str) -> Result<usize, ApiError> {
        if symbol.is_empty() {
            return Err(ApiError::mandatory("symbol"));
        }
        self.insts
            .iter()
            .position(|i| i.market == m && i.spec.symbol == symbol)
            .ok_or_else(|| ApiError::new(-1121, "Invalid symbol."))
    }

    /// Best bid/ask mid of instrument `k` (0 when the book has no two sides), 10⁻⁸.
    fn mark_price(&self, k: usize) -> i64 {
        let b = &self.books.books[k];
        match (b.best_bid(), b.best_ask()) {
            (Some((bp, _)), Some((ap, _))) if b.valid => (bp.0 + ap.0) / 2,
            _ => 0,
        }
    }

    fn best_opposite(&self, k: usize, side: Side) -> Option<i64> {
        let b = &self.books.books[k];
        if !b.valid {
            return None;
        }
        match side {
            Side::Buy => b.best_ask().map(|x| x.0 .0),
            Side::Sell => b.best_bid().map(|x| x.0 .0),
        }
    }

    /// The order `order_id` / `orig_client_id` of `account` on `inst`. `unknown` is the
    /// error code when there is none (-2013 query, -2011 cancel).
    fn find_order(
        &self,
        m: MarketKind,
        account: usize,
        inst: usize,
        order_id: Option<u64>,
        orig_client_id: Option<&str>,
        unknown: i32,
    ) -> Result<usize, ApiError> {
        let not_found = || {
            if unknown == -2011 {
                ApiError::new(-2011, "Unknown order sent.")
            } else {
                ApiError::new(-2013, "Order does not exist.")
            }
        };
        let orders = &self.venues[m.idx()].orders;
        let k = match (order_id, orig_client_id) {
            (Some(id), c) => {
                let k = orders
                    .iter()
                    .position(|o| o.id == id && o.account == account && o.inst == inst)
                    .ok_or_else(not_found)?;
                if let Some(c) = c {
                    if orders[k].client_id != c {
                        return Err(if m == MarketKind::Spot {
                            ApiError::new(
                                -2039,
                                "Client order ID is not correct for this order ID.",
                            )
                        } else {
                            not_found()
                        });
                    }
                }
                k
            }
            (None, Some(c)) => orders
                .iter()
                .rposition(|o| o.client_id == c && o.account == account && o.inst == inst)
                .ok_or_else(not_found)?,
            (None, None) => return Err(ApiError::new(
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )),
        };
        Ok(k)
    }

    fn find_listen_key(
        &mut self,
        market: Option<MarketKind>,
        key: &str,
        now: u64,
    ) -> Option<(MarketKind, usize)> {
        for v in &mut self.venues {
            if market.is_some_and(|m| m != v.kind) {
                continue;
            }
            v.listen.retain(|l| l.expires_ms > now);
            if let Some(l) = v.listen.iter().find(|l| l.key == key) {
                return Some((v.kind, l.account));
            }
        }
        None
    }

    /// Send an event to the account's user-data streams.
    fn emit(&mut self, m: MarketKind, account: usize, ev: String) {
        self.subs.retain(|s| {
            if s.market != m || s.account != account {
                return true;
            }
            s.tx.send(Some(ev.clone())).is_ok()
        });
    }

    /// Initial margin of open positions, by margin asset.
    fn pos_margin(&self, m: MarketKind, account: usize) -> BTreeMap<String, i128> {
        let lev = self.lev_milli[m.idx()];
        let mut out: BTreeMap<String, i128> = BTreeMap::new();
        for (k, p) in &self.venues[m.idx()].accounts[account].pos {
            let inst = &self.insts[*k];
            let a = inst.margin_asset().to_string();
            *out.entry(a).or_default() +=
                div_ceil(inst.basis_e8(p.basis.abs()).saturating_mul(1000), lev);
        }
        out
    }

    /// Initial margin of open orders (not reduce-only), by margin asset.
    fn order_margin(&self, m: MarketKind, account: usize) -> BTreeMap<String, i128> {
        let lev = self.lev_milli[m.idx()];
        let mut out: BTreeMap<String, i128> = BTreeMap::new();
        for &(mi, oi) in &self.open {
            if mi != m.idx() {
                continue;
            }
            let o = &self.venues[mi].orders[oi];
            if o.account != account || o.reduce_only {
                continue;
            }
            let inst = &self.insts[o.inst];
            let v = inst.margin_value(o.qty - o.executed, o.price);
            *out.entry(inst.margin_asset().to_string()).or_default() +=
                div_ceil(v.saturating_mul(1000), lev);
        }
        out
    }

    /// (position margin, open-order margin) by margin asset.
    fn margin_by_asset(&self, m: MarketKind, account: usize) -> BTreeMap<String, (i128, i128)> {
        let mut out: BTreeMap<String, (i128, i128)> = BTreeMap::new();
        for (a, v) in self.pos_margin(m, account) {
            out.entry(a).or_default().0 += v;
        }
        for (a, v) in self.order_margin(m, account) {
            out.entry(a).or_default().1 += v;
        }
        out
    }

    /// Match a taker quantity against the book now: the levels taken (price, qty), best first.
    fn take_now(&mut self, inst: usize, side: Side, limit: i64, qty: i64) -> Vec<(i64, i64)> {
        let mut fills = Vec::new();
        let book = &self.books.books[inst];
        if !book.valid || qty <= 0 {
            return fills;
        }
        take_each(
            book,
            &self.insts[inst].spec,
            side,
            Price(limit),
            Qty(qty),
            &mut self.consumed,
            self.data_ns,
            |px, q| fills.push((px.0, q.0)),
        );
        fills
    }

    /// What a taker order would get now, without taking it.
    fn dry_run(&mut self, inst: usize, side: Side, limit: i64, qty: i64) -> Vec<(i64, i64)> {
        let saved = self.consumed.clone();
        let f = self.take_now(inst, side, limit, qty);
        self.consumed = saved;
        f
    }

    #[allow(clippy::too_many_lines)]
    fn place(
        &mut self,
        m: MarketKind,
        account: usize,
        o: &NewOrder<'_>,
        fault: OrderFault,
        now: u64,
    ) -> Result<String, ApiError> {
        let k = self.inst_of(m, o.symbol)?;
        let inst = self.insts[k].clone();
        let spot = m == MarketKind::Spot;
        let (tif, qty, price) = order_fields(m, &inst, o)?;
        let ref_px = if o.typ == OrdType::Market {
            self.best_opposite(k, o.side).unwrap_or(0)
        } else {
            price
        };
        check_filters(m, &inst, o, qty, price, ref_px)?;
        let spec = &inst.spec;
        let client_id = self.client_id(m, account, o.client_id)?;
        // futures: reduce-only (one-way mode)
        let pos_amt = if spot {
            0
        } else {
            self.venues[m.idx()].accounts[account]
                .pos
                .get(&k)
                .map(|p| p.amt)
                .unwrap_or(0)
        };
        let signed = if o.side == Side::Buy {
            qty as i128
        } else {
            -(qty as i128)
        };
        let mut max_fill = qty;
        if o.reduce_only {
            if spot {
                return Err(ApiError::illegal("reduceOnly", ""));
            }
            let reduces = pos_amt != 0 && (pos_amt > 0) != (signed > 0);
            if !reduces {
                return Err(ApiError::new(-2022, "ReduceOnly Order is rejected."));
            }
            max_fill = max_fill.min(pos_amt.unsigned_abs().min(i64::MAX as u128) as i64);
        }
        if fault == OrderFault::PartialExpire {
            let lot = spec.lot_size.0.max(1);
            max_fill = max_fill.min(((qty / 2) / lot * lot).max(lot));
        }
        // post-only: would it take?
        let crosses = |px: i64, best: Option<i64>| match (o.side, best) {
            (Side::Buy, Some(b)) => px >= b,
            (Side::Sell, Some(b)) => px <= b,
            _ => false,
        };
        let post_only = o.typ == OrdType::LimitMaker || tif == Tif::Gtx;
        let best = self.best_opposite(k, o.side);
        if post_only && crosses(price, best) {
            match m {
                MarketKind::Spot => {
                    return Err(ApiError::new(-2010, "Order would immediately match and take."))
                }
                MarketKind::Usdm => {
                    return Err(ApiError::new(
                        -5022,
                        "Due to the order could not be executed as maker, the Post Only order will be rejected. The order will not be recorded in the order history",
                    ))
                }
                MarketKind::Coinm => {}
            }
        }
        let taker_limit = match (o.typ, o.side) {
            (OrdType::Market, Side::Buy) => i64::MAX,
            (OrdType::Market, Side::Sell) => 0,
            _ => price,
        };
        // FOK: all or nothing (USDⓈ-M rejects the order since 2023-03, spot and COIN-M expire it)
        let mut fok_fail = false;
        if tif == Tif::Fok && !post_only {
            let f = self.dry_run(k, o.side, taker_limit, max_fill);
            let got: i64 = f.iter().map(|x| x.1).sum();
            if got < qty {
                if m == MarketKind::Usdm {
                    return Err(ApiError::new(
                        -5021,
                        "Due to the order could not be filled immediately, the FOK order has been rejected. The order will not be recorded in the order history",
                    ));
                }
                fok_fail = true;
            }
        }
        let lock = self.check_funds(m, account, k, o, qty, price, ref_px, taker_limit, max_fill)?;
        // accepted
        let v = &mut self.venues[m.idx()];
        let id = v.orders.len() as u64 + 1;
        let order = Order {
            id,
            client_id,
            account,
            inst: k,
            side: o.side,
            typ: o.typ,
            tif,
            price,
            qty,
            executed: 0,
            cum_quote: 0,
            cum_base: 0,
            status: Status::New,
            time_ms: now,
            update_ms: now,
            reduce_only: o.reduce_only,
            locked: lock,
            fills: Vec::new(),
            expiry: None,
        };
        v.orders.push(order);
        let oi = v.orders.len() - 1;
        if spot && lock > 0 {
            let asset = if o.side == Side::Buy {
                &spec.quote
            } else {
                &spec.base
            };
            let b = v.accounts[account].bal.entry(asset.clone()).or_default();
            b.free -= lock;
            b.locked += lock;
        }
        self.emit_order(m, oi, "NEW", None, None, now);
        if spot && lock > 0 {
            let a = [if o.side == Side::Buy {
                spec.quote.clone()
            } else {
                spec.base.clone()
            }];
            self.emit_balances(m, account, &a, now);
        }
        // the taking part
        let takes = !(post_only || fok_fail);
        if takes {
            let fills = self.take_now(k, o.side, taker_limit, max_fill);
            for (px, q) in fills {
                self.fill(m, oi, px, q, false, now);
            }
        }
        // what is left
        let o2 = &self.venues[m.idx()].orders[oi];
        let rem = o2.qty - o2.executed;
        if rem > 0 {
            let expiry = if fok_fail {
                Some(Expiry::Fok)
            } else if fault == OrderFault::PartialExpire
                || (o.reduce_only && o2.executed >= max_fill)
            {
                Some(Expiry::Fault)
            } else if o.typ == OrdType::Market {
                Some(Expiry::Market)
            } else if post_only && crosses(price, best) {
                Some(Expiry::PostOnly)
            } else if tif == Tif::Ioc || tif == Tif::Fok {
                Some(Expiry::Ioc)
            } else {
                None
            };
            match expiry {
                Some(e) => self.finish(m, oi, Status::Expired, Some(e), None, now),
                None => self.open.push((m.idx(), oi)),
            }
        }
        let o2 = &self.venues[m.idx()].orders[oi];
        let inst = &self.insts[o2.inst];
        let resp = o.resp.unwrap_or(match (m, o.typ) {
            (MarketKind::Spot, OrdType::Limit | OrdType::Market) => RespType::Full,
            _ => RespType::Ack,
        });
        Ok(replies::order_placed(inst, o2, resp, fault == OrderFault::StreamOnly, now).to_string())
    }

    /// The order's client id: the one sent (checked: Binance's characters, not the id of an
    /// open order of the account) or a generated one.
    fn client_id(
        &self,
        m: MarketKind,
        account: usize,
        c: Option<&str>,
    ) -> Result<String, ApiError> {
        let spot = m == MarketKind::Spot;
        Ok(match c {
            Some(c) => {
                let ok = !c.is_empty()
                    && c.len() <= 36
                    && c.bytes().all(|b| {
                        b.is_ascii_alphanumeric()
                            || b == b'-'
                            || b == b'_'
                            || (!spot && matches!(b, b'.' | b':' | b'/'))
                    });
                if !ok {
                    return Err(if spot {
                        ApiError::illegal("newClientOrderId", "^[a-zA-Z0-9-_]{1,36}$")
                    } else {
                        ApiError::new(-4015, "Client order id is not valid.")
                    });
                }
                let dup = self.open.iter().any(|&(mi, oi)| {
                    let x = &self.venues[mi].orders[oi];
                    mi == m.idx() && x.account == account && x.client_id == c
                });
                if dup {
                    return Err(ApiError::new(-2010, "Duplicate order sent."));
                }
                c.to_string()
            }
            None => format!("lbsrv{}", self.venues[m.idx()].orders.len() as u64 + 1),
        })
    }

    /// Spot: the balance the order needs (and will lock): quote notional at its limit price
    /// for a buy (MARKET: the cost the book shows now), the base quantity for a sell; -2010
    /// when it is not free. Futures: the initial margin of the part that opens or increases
    /// the position must fit in wallet − position margin − open-order margin (-2019).
    #[allow(clippy::too_many_arguments)]
    fn check_funds(
        &mut self,
        m: MarketKind,
        account: usize,
        k: usize,
        o: &NewOrder<'_>,
        qty: i64,
        price: i64,
        ref_px: i64,
        taker_limit: i64,
        max_fill: i64,
    ) -> Result<i128, ApiError> {
        let inst = self.insts[k].clone();
        let spec = &inst.spec;
        let spot = m == MarketKind::Spot;
        let pos_amt = self.venues[m.idx()].accounts[account]
            .pos
            .get(&k)
            .map(|p| p.amt)
            .unwrap_or(0);
        let signed = if o.side == Side::Buy {
            qty as i128
        } else {
            -(qty as i128)
        };
        if spot {
            let (asset, need) = match o.side {
                Side::Buy => {
                    let need = if o.typ == OrdType::Market {
                        let f = self.dry_run(k, o.side, taker_limit, max_fill);
                        f.iter().map(|&(px, q)| inst.quote_of(q, px)).sum()
                    } else {
                        inst.quote_of(qty, price)
                    };
                    (spec.quote.clone(), need)
                }
                Side::Sell => (spec.base.clone(), qty as i128),
            };
            let free = self.venues[0].accounts[account]
                .bal
                .get(&asset)
                .map(|b| b.free)
                .unwrap_or(0);
            if need > free {
                return Err(ApiError::new(
                    -2010,
                    "Account has insufficient balance for requested action.",
                ));
            }
            return Ok(need);
        } else if !o.reduce_only {
            let close = if pos_amt != 0 && (pos_amt > 0) != (signed > 0) {
                pos_amt.abs().min(qty as i128)
            } else {
                0
            };
            let open_part = (qty as i128 - close).max(0) as i64;
            let px = if ref_px > 0 { ref_px } else { price };
            let need = div_ceil(
                inst.margin_value(open_part, px).saturating_mul(1000),
                self.lev_milli[m.idx()],
            );
            let asset = inst.margin_asset().to_string();
            let wallet = self.venues[m.idx()].accounts[account]
                .bal
                .get(&asset)
                .map(|b| b.free)
                .unwrap_or(0);
            let used = self
                .margin_by_asset(m, account)
                .get(&asset)
                .map(|(a, b)| a + b)
                .unwrap_or(0);
            if need > 0 && need > wallet - used {
                return Err(ApiError::new(-2019, "Margin is insufficient."));
            }
        }
        Ok(0)
    }

    /// Apply one trade of order `oi` (`maker`: a resting order filled by the replayed book).
    fn fill(&mut self, m: MarketKind, oi: usize, px: i64, q: i64, maker: bool, now: u64) {
        let mi = m.idx();
        let (taker_rate, maker_rate) = self.fee_e10[mi];
        let rate = if maker { maker_rate } else { taker_rate };
        let (account, k, side) = {
            let o = &self.venues[mi].orders[oi];
            (o.account, o.inst, o.side)
        };
        let inst = self.insts[k].clone();
        let spec = &inst.spec;
        let quote = inst.quote_of(q, px);
        let base = inst.base_of(q, px);
        let v = &mut self.venues[mi];
        let trade_id = v.next_trade_id;
        v.next_trade_id += 1;
        let mut changed: Vec<String> = Vec::new();
        let (fee, fee_asset, realized);
        if m == MarketKind::Spot {
            let o = &mut v.orders[oi];
            let lock_px = if o.typ == OrdType::Market {
                px
            } else {
                o.price
            };
            let acct = &mut v.accounts[account];
            match side {
                Side::Buy => {
                    fee = base * rate / 10_000_000_000;
                    fee_asset = spec.base.clone();
                    let unlock = o
                        .locked
                        .min(inst.quote_of(q, lock_px))
                        .max(quote.min(o.locked));
                    o.locked -= unlock;
                    let qb = acct.bal.entry(spec.quote.clone()).or_default();
                    qb.locked -= unlock;
                    qb.free += unlock - quote;
                    acct.bal.entry(spec.base.clone()).or_default().free += base - fee;
                }
                Side::Sell => {
                    fee = quote * rate / 10_000_000_000;
                    fee_asset = spec.quote.clone();
                    let unlock = o.locked.min(q as i128);
                    o.locked -= unlock;
                    let bb = acct.bal.entry(spec.base.clone()).or_default();
                    bb.locked -= unlock;
                    bb.free += unlock - q as i128;
                    acct.bal.entry(spec.quote.clone()).or_default().free += quote - fee;
                }
            }
            acct.update_ms = now;
            realized = 0;
            changed.push(spec.base.clone());
            changed.push(spec.quote.clone());
        } else {
            let inverse = spec.kind.is_inverse();
            let value = inst.margin_value(q, px);
            fee = value * rate / 10_000_000_000;
            fee_asset = inst.margin_asset().to_string();
            let acct = &mut v.accounts[account];
            let pos = acct.pos.entry(k).or_default();
            let signed = if side == Side::Buy {
                q as i128
            } else {
                -(q as i128)
            };
            realized = pos_fill(pos, signed, px, &inst, inverse);
            pos.update_ms = now;
            let w = acct.bal.entry(fee_asset.clone()).or_default();
            w.free += realized - fee;
            acct.update_ms = now;
            changed.push(fee_asset.clone());
        }
        let o = &mut v.orders[oi];
        o.executed += q;
        o.cum_quote += quote;
        o.cum_base += base;
        o.update_ms = now;
        o.status = if o.executed >= o.qty {
            Status::Filled
        } else {
            Status::PartiallyFilled
        };
        let rec = FillRec {
            px,
            qty: q,
            fee,
            fee_asset,
            trade_id,
            maker,
            realized,
        };
        o.fills.push(rec.clone());
        self.stats.trades += 1;
        if maker {
            self.stats.resting_fills += 1;
        }
        if self.venues[mi].orders[oi].status == Status::Filled {
            self.release_lock(m, oi);
            self.open.retain(|&x| x != (mi, oi));
        }
        self.emit_order(m, oi, "TRADE", Some(&rec), None, now);
        if m == MarketKind::Spot {
            self.emit_balances(m, account, &changed, now);
        } else {
            self.emit_futures_account(m, account, k, &changed, now);
        }
    }

    /// Give back what an order still has locked (spot).
    fn release_lock(&mut self, m: MarketKind, oi: usize) {
        if m != MarketKind::Spot {
            return;
        }
        let v = &mut self.venues[m.idx()];
        let o = &mut v.orders[oi];
        if o.locked <= 0 {
            return;
        }
        let spec = &self.insts[o.inst].spec;
        let asset = if o.side == Side::Buy {
            &spec.quote
        } else {
            &spec.base
        };
        let b = v.accounts[o.account].bal.entry(asset.clone()).or_default();
        b.locked -= o.locked;
        b.free += o.locked;
        o.locked = 0;
    }

    /// End an order (cancel or expiry) and tell its user streams.
    fn finish(
        &mut self,
        m: MarketKind,
        oi: usize,
        status: Status,
        expiry: Option<Expiry>,
        cancel_id: Option<&str>,
        now: u64,
    ) {
        let mi = m.idx();
        let had_lock = self.venues[mi].orders[oi].locked > 0;
        self.release_lock(m, oi);
        let o = &mut self.venues[mi].orders[oi];
        o.status = status;
        o.expiry = expiry;
        o.update_ms = now;
        let (account, k, side) = (o.account, o.inst, o.side);
        self.open.retain(|&x| x != (mi, oi));
        let x = status.as_str();
        self.emit_order(m, oi, x, None, cancel_id, now);
        if m == MarketKind::Spot && had_lock {
            let spec = &self.insts[k].spec;
            let a = [if side == Side::Buy {
                spec.quote.clone()
            } else {
                spec.base.clone()
            }];
            self.emit_balances(m, account, &a, now);
        }
    }

    fn emit_order(
        &mut self,
        m: MarketKind,
        oi: usize,
        exec: &str,
        fill: Option<&FillRec>,
        cancel_id: Option<&str>,
        now: u64,
    ) {
        let o = &self.venues[m.idx()].orders[oi];
        let inst = &self.insts[o.inst];
        self.exec_seq += 1;
        let ev = if m == MarketKind::Spot {
            replies::execution_report(inst, o, exec, fill, cancel_id, self.exec_seq, now)
        } else {
            replies::order_trade_update(inst, o, exec, fill, now)
        };
        let account = o.account;
        self.emit(m, account, ev.to_string());
    }

    fn emit_balances(&mut self, m: MarketKind, account: usize, assets: &[String], now: u64) {
        let a = &self.venues[m.idx()].accounts[account];
        let ev = replies::outbound_account_position(a, assets, now);
        self.emit(m, account, ev.to_string());
    }

    fn emit_futures_account(
        &mut self,
        m: MarketKind,
        account: usize,
        k: usize,
        assets: &[String],
        now: u64,
    ) {
        let a = &self.venues[m.idx()].accounts[account];
        let inst = &self.insts[k];
        let pos = a.pos.get(&k).copied().unwrap_or_default();
        let mark = self.mark_price(k);
        let ev = replies::account_update(m, a, assets, inst, &pos, mark, account, now);
        self.emit(m, account, ev.to_string());
    }

    #[allow(clippy::too_many_arguments)]
    fn cancel(
        &mut self,
        m: MarketKind,
        account: usize,
        symbol: &str,
        order_id: Option<u64>,
        orig_client_id: Option<&str>,
        new_client_id: Option<&str>,
        now: u64,
    ) -> Result<String, ApiError> {
        let k = self.inst_of(m, symbol)?;
        let oi = self.find_order(m, account, k, order_id, orig_client_id, -2011)?;
        if !self.venues[m.idx()].orders[oi].status.is_open() {
            return Err(ApiError::new(-2011, "Unknown order sent."));
        }
        let cancel_id = new_client_id
            .map(str::to_string)
            .unwrap_or_else(|| format!("lbcxl{}", self.venues[m.idx()].orders[oi].id));
        self.finish(m, oi, Status::Canceled, None, Some(&cancel_id), now);
        let o = &self.venues[m.idx()].orders[oi];
        Ok(replies::order_canceled(&self.insts[o.inst], o, &cancel_id, now).to_string())
    }

    /// Resting orders on instrument `k` that the book now reaches fill at their own price
    /// (best price first, then time), each taking what `take` finds displayed at or through
    /// it.
    fn match_resting(&mut self, k: usize, now: u64) {
        if self.open.is_empty() || !self.books.books[k].valid {
            return;
        }
        let mut cands: Vec<(usize, usize)> = self
            .open
            .iter()
            .copied()
            .filter(|&(mi, oi)| self.venues[mi].orders[oi].inst == k)
            .collect();
        if cands.is_empty() {
            return;
        }
        cands.sort_by(|a, b| {
            let (x, y) = (&self.venues[a.0].orders[a.1], &self.venues[b.0].orders[b.1]);
            let px = match x.side {
                Side::Buy => y.price.cmp(&x.price),
                Side::Sell => x.price.cmp(&y.price),
            };
            (x.side as u8)
                .cmp(&(y.side as u8))
                .then(px)
                .then(x.id.cmp(&y.id))
        });
        for (mi, oi) in cands {
            let (side, price, rem) = {
                let o = &self.venues[mi].orders[oi];
                if !o.status.is_open() {
                    continue;
                }
                (o.side, o.price, o.qty - o.executed)
            };
            let m = self.venues[mi].kind;
            let fills = self.take_now(k, side, price, rem);
            for (_, q) in fills {
                self.fill(m, oi, price, q, true, now);
            }
        }
    }
}

/// The order's time in force, quantity and price (10⁻⁸) from its parameters: what its type
/// requires (rest-api.md "New order": LIMIT needs timeInForce, quantity, price; MARKET
/// quantity; LIMIT_MAKER quantity and price) and each number's precision.
fn order_fields(m: MarketKind, inst: &Inst, o: &NewOrder<'_>) -> Result<(Tif, i64, i64), ApiError> {
    let spot = m == MarketKind::Spot;
    let tif = match o.typ {
        OrdType::Limit => o.tif.ok_or_else(|| ApiError::mandatory("timeInForce"))?,
        OrdType::Market | OrdType::LimitMaker => {
            if o.tif.is_some() && spot {
                return Err(ApiError::not_required("timeInForce"));
            }
            Tif::Gtc
        }
    };
    if spot && tif == Tif::Gtx {
        return Err(ApiError::new(-1115, "Invalid timeInForce."));
    }
    let qty_s = o.qty.ok_or_else(|| ApiError::mandatory("quantity"))?;
    let price_s = match o.typ {
        OrdType::Market => {
            if o.price.is_some() && spot {
                return Err(ApiError::not_required("price"));
            }
            None
        }
        _ => Some(o.price.ok_or_else(|| ApiError::mandatory("price"))?),
    };
    let qty = parse_amount(m, "quantity", qty_s, inst.qty_prec)?;
    let price = match price_s {
        Some(p) => parse_amount(m, "price", p, inst.price_prec)?,
        None => 0,
    };
    Ok((tif, qty, price))
}

/// PRICE_FILTER, LOT_SIZE and (MIN_)NOTIONAL (filters.md; the futures' own error codes);
/// `ref_px` prices a MARKET order's notional.
fn check_filters(
    m: MarketKind,
    inst: &Inst,
    o: &NewOrder<'_>,
    qty: i64,
    price: i64,
    ref_px: i64,
) -> Result<(), ApiError> {
    let spot = m == MarketKind::Spot;
    let spec = &inst.spec;
    if o.typ != OrdType::Market {
        let tick = spec.tick_size.0.max(1);
        let bad = price < spec.tick_size.0 || price > MAX_PRICE || price % tick != 0;
        if bad {
            return Err(if spot {
                ApiError::filter("PRICE_FILTER")
            } else if price <= 0 {
                ApiError::new(-4001, "Price less than 0.")
            } else if price < spec.tick_size.0 {
                ApiError::new(-4013, "Price less than min price.")
            } else if price > MAX_PRICE {
                ApiError::new(-4002, "Price greater than max price.")
            } else {
                ApiError::new(-4014, "Price not increased by tick size.")
            });
        }
    }
    {
        let lot = spec.lot_size.0.max(1);
        let bad = qty < spec.min_qty.0 || qty > spec.max_qty.0 || qty % lot != 0;
        if bad {
            return Err(if spot {
                ApiError::filter("LOT_SIZE")
            } else if qty <= 0 {
                ApiError::new(-4003, "Quantity less than or equal to zero.")
            } else if qty < spec.min_qty.0 {
                ApiError::new(-4004, "Quantity less than min quantity.")
            } else if qty > spec.max_qty.0 {
                ApiError::new(-4005, "Quantity greater than max quantity.")
            } else {
                ApiError::new(-4023, "Qty not increased by step size.")
            });
        }
    }
    if spec.min_notional.0 > 0 && m != MarketKind::Coinm && !o.reduce_only {
        let notional = inst.quote_of(qty, ref_px);
        if notional < spec.min_notional.0 as i128 && (o.typ != OrdType::Market || ref_px > 0) {
            return Err(if spot {
                ApiError::filter("NOTIONAL")
            } else {
                ApiError::new(
                    -4164,
                    format!(
                        "Order's notional must be no smaller than {} (unless you choose reduce only).",
                        replies::dec_trim(spec.min_notional.0 as i128)
                    ),
                )
            });
        }
    }
    Ok(())
}

/// Apply a signed fill to a position; returns the realized PnL (margin asset, 10⁻⁸).
fn pos_fill(pos: &mut Pos, signed: i128, px: i64, inst: &Inst, inverse: bool) -> i128 {
    let q = signed.unsigned_abs().min(i64::MAX as u128) as i64;
    let sign = signed.signum();
    if pos.amt == 0 || pos.amt.signum() == sign {
        pos.amt += signed;
        pos.basis += inst.basis_value(q, px);
        return 0;
    }
    let held = pos.amt.abs();
    let close = held.min(q as i128);
    let basis_closed = pos.basis * close / held;
    let value_closed = inst.basis_value(close as i64, px);
    let long = pos.amt > 0;
    let realized = inst.basis_e8(match (inverse, long) {
        (false, true) => value_closed - basis_closed,
        (false, false) => basis_closed - value_closed,
        (true, true) => basis_closed - value_closed,
        (true, false) => value_closed - basis_closed,
    });
    pos.basis -= basis_closed;
    pos.amt += sign * close;
    let open = q as i128 - close;
    if open > 0 {
        pos.amt += sign * open;
        pos.basis = inst.basis_value(open as i64, px);
    }
    if pos.amt == 0 {
        pos.basis = 0;
    }
    pos.realized += realized;
    realized
}

/// A client decimal (`quantity`, `price`) at 10⁻⁸. Spot allows 8 decimals (the assets'
/// precision); futures the instrument's `pricePrecision` / `quantityPrecision`. More → -1111;
/// not a plain non-negative decimal → -1100.
fn parse_amount(m: MarketKind, name: &str, s: &str, prec: u32) -> Result<i64, ApiError> {
    let plain = !s.is_empty()
        && s.len() <= 41
        && s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && s.bytes().filter(|b| *b == b'.').count() <= 1
        && !s.starts_with('.')
        && !s.ends_with('.');
    if !plain {
        return Err(ApiError::illegal(name, "^([0-9]{1,20})(\\.[0-9]{1,20})?$"));
    }
    let allowed = if m == MarketKind::Spot { 8 } else { prec };
    let frac = s
        .split_once('.')
        .map(|(_, f)| f.trim_end_matches('0').len())
        .unwrap_or(0);
    if frac as u32 > allowed {
        return Err(if m == MarketKind::Spot {
            ApiError::new(-1111, format!("Parameter '{name}' has too much precision."))
        } else {
            ApiError::new(
                -1111,
                "Precision is over the maximum defined for this asset.",
            )
        });
    }
    match crate::fixed_point::parse_decimal(s.as_bytes(), 8) {
        Ok(d) => Ok(d.value),
        Err(crate::fixed_point::DecimalError::Overflow) => Err(ApiError::new(
            -1108,
            format!("Parameter '{name}' overflowed."),
        )),
        Err(_) => Err(ApiError::illegal(name, "^([0-9]{1,20})(\\.[0-9]{1,20})?$")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_checked_for_precision_and_characters() {
        assert_eq!(
            parse_amount(MarketKind::Spot, "quantity", "0.00012000", 5),
            Ok(12_000)
        );
        assert_eq!(
            parse_amount(MarketKind::Spot, "quantity", "0.000000001", 5)
                .unwrap_err()
                .code,
            -1111
        );
        assert_eq!(
            parse_amount(MarketKind::Usdm, "quantity", "0.0012", 3)
                .unwrap_err()
                .code,
            -1111
        );
        assert_eq!(
            parse_amount(MarketKind::Usdm, "quantity", "0.0010", 3),
            Ok(100_000)
        );
        for bad in ["", "-1", "1e3", "abc", "1.2.3", ".5", "5."] {
            assert_eq!(
                parse_amount(MarketKind::Spot, "price", bad, 2)
                    .unwrap_err()
                    .code,
                -1100,
                "{bad:?}"
            );
        }
        assert_eq!(
            parse_amount(MarketKind::Spot, "price", "99999999999999999999", 2)
                .unwrap_err()
                .code,
            -1108
        );
    }

    #[test]
    fn positions_keep_entry_and_realize_pnl() {
        let defs = super::super::settings::default_instruments();
        let mk = |m: MarketKind, i: usize| {
            let mut d = defs[i].1.clone();
            d.price_decimals = Some(8);
            d.qty_decimals = Some(8);
            Inst {
                market: m,
                spec: d.to_spec(InstrumentId(0), VenueId(0)).unwrap(),
                price_prec: 1,
                qty_prec: 3,
            }
        };
        let lin = mk(MarketKind::Usdm, 1);
        let e = |x: f64| (x * 1e8).round() as i64;
        let mut p = Pos::default();
        // buy 1 @ 100, buy 1 @ 110 → entry 105; sell 3 @ 120 → +30 realized, short 1 @ 120
        assert_eq!(pos_fill(&mut p, E8, e(100.0), &lin, false), 0);
        assert_eq!(pos_fill(&mut p, E8, e(110.0), &lin, false), 0);
        assert_eq!(p.entry(&lin), 105 * E8);
        assert_eq!(pos_fill(&mut p, -3 * E8, e(120.0), &lin, false), 30 * E8);
        assert_eq!((p.amt, p.entry(&lin)), (-E8, 120 * E8));
        // inverse: 10 contracts (1000 USD) long @ 50,000 then sold @ 62,500: 0.02 − 0.016 BTC
        let inv = mk(MarketKind::Coinm, 2);
        let mut p = Pos::default();
        pos_fill(&mut p, 10 * E8, e(50_000.0), &inv, true);
        assert_eq!(p.entry(&inv), 50_000 * E8);
        let r = pos_fill(&mut p, -10 * E8, e(62_500.0), &inv, true);
        assert_eq!(r, 400_000); // 0.004 BTC
        assert_eq!((p.amt, p.basis), (0, 0));
    }

    #[test]
    fn generic_specs_guess_base_and_quote() {
        let d = generic_def(MarketKind::Spot, "ETHBTC");
        assert_eq!((d.base.as_str(), d.quote.as_str()), ("ETH", "BTC"));
        let d = generic_def(MarketKind::Coinm, "ETHUSD_PERP");
        assert_eq!((d.base.as_str(), d.quote.as_str()), ("ETH", "USD"));
        assert!(d.to_spec(InstrumentId(0), VenueId(0)).is_ok());
    }

    #[test]
    fn listen_keys_are_64_hex_chars() {
        let k = listen_key_text("k", MarketKind::Spot, 1);
        assert_eq!(k.len(), 64);
        assert_ne!(k, listen_key_text("k", MarketKind::Spot, 2));
    }
}
