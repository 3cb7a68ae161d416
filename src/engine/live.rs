//! Live mode's cold set-up and tear-down around the threaded engine (R3.1 live, R5.1):
//!
//! 1. For every venue that trades (a member of a group): its credentials from the environment
//!    (`ARBOT_<EXCHANGE>_API_KEY` / `_API_SECRET` / `_API_PASSPHRASE`; a missing one is an error
//!    before any connection), its account client, its server-time offset, its balances and
//!    positions compared with the config (a difference beyond
//!    `execution.balance_tolerance_pct`, or an open derivatives position, refuses to trade),
//!    its private stream, and its pre-connected order connections
//!    ([`crate::exec::live::LiveVenue`]).
//! 2. A cold keeper thread re-measures each venue's clock offset every minute (and at once
//!    after a clock-skew answer) and keeps the private streams alive (every 30 minutes).
//! 3. At the end: the venues' balances and positions against the engine's own accounting
//!    ([`reconcile`]), for the report.
//!
//! Secrets stay in memory: they are never logged, journaled, reported or put in an error.
#![forbid(unsafe_code)]

use super::EngineError;
use crate::config::Setup;
use crate::exec::live::{LiveInst, LiveParams, LiveVenue, VenueClock};
use crate::types::{Amount, Price, VenueId};
use crate::venues::order_entry::{VenueBalance, VenuePosition};
use crate::venues::{AccountApi, Credentials};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A live venue ready to trade, and its cold-side client.
pub struct LiveSetup {
    /// The venue.
    pub venue: VenueId,
    /// Its order entry, connected (taken by the executor).
    pub order: Option<LiveVenue>,
    /// Its account client (kept for the keeper thread and the end).
    pub account: Arc<dyn AccountApi>,
    /// Balances and positions the venue reported at start.
    pub start: (Vec<VenueBalance>, Vec<VenuePosition>),
    /// Venue clock offset (kept current by the keeper thread).
    pub clock: Arc<VenueClock>,
}

/// Every live venue, and the keeper thread.
pub struct LivePrep {
    /// Ready venues.
    pub venues: Vec<LiveSetup>,
    keeper: Option<std::thread::JoinHandle<()>>,
    stop: Arc<AtomicBool>,
}

impl LivePrep {
    /// Stop the keeper thread.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.keeper.take() {
            let _ = h.join();
        }
    }
}

impl Drop for LivePrep {
    fn drop(&mut self) {
        self.stop();
    }
}

fn local_ms() -> u64 {
    crate::clock::Clock::get().now_ns() / 1_000_000
}

/// The venue's clock minus ours, ms, from one server-time call (the call's midpoint).
fn measure_offset(a: &dyn AccountApi) -> Result<i64, String> {
    let t0 = local_ms();
    let srv = a.server_time_ms()?;
    let t1 = local_ms();
    Ok(srv as i64 - ((t0 + t1) / 2) as i64)
}

/// The venues that trade (members of a group).
pub fn trading_venues(setup: &Setup) -> Vec<VenueId> {
    let mut v: Vec<VenueId> = setup
        .groups
        .iter()
        .flat_map(|g| g.members.iter().map(|i| setup.instruments[i.idx()].venue))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Check the venue's reported balances and positions against the config.
fn check_start(
    setup: &Setup,
    v: VenueId,
    bal: &[VenueBalance],
    pos: &[VenuePosition],
) -> Result<(), String> {
    let vs = &setup.venues[v.idx()];
    let tol = setup.cfg.execution.balance_tolerance_pct / 100.0;
    for (asset, want) in &vs.cfg.balances {
        let have = bal
            .iter()
            .find(|b| b.asset.eq_ignore_ascii_case(asset))
            .map(|b| b.total.to_f64())
            .unwrap_or(0.0);
        if (have - want).abs() > tol * want.abs().max(1e-8) {
            return Err(format!(
                "venue {}: the exchange reports {asset} {have}, the config says {want} \
                 (tolerance {} %): refusing to trade (set `balances` to what the account holds)",
                vs.name, setup.cfg.execution.balance_tolerance_pct
            ));
        }
    }
    if let Some(p) = pos.iter().find(|p| p.qty.0 != 0) {
        return Err(format!(
            "venue {}: the account holds a {} position of {} at start; arbot does not inherit \
             positions it did not open: close it first",
            vs.name, p.symbol, p.qty.0
        ));
    }
    Ok(())
}

/// Set up every trading venue for live orders (cold; blocking calls). Nothing is sent to a
/// venue before every credential has been found.
pub fn prepare(setup: &Setup) -> Result<LivePrep, EngineError> {
    let venues = trading_venues(setup);
    let mut creds = Vec::new();
    for &v in &venues {
        let ex = setup.venues[v.idx()].cfg.exchange;
        creds.push(Credentials::from_env(ex, false).map_err(EngineError::Setup)?);
    }
    let e = &setup.cfg.execution;
    let params = LiveParams {
        connections: e.order_connections,
        order_timeout_ns: e.order_timeout_ns,
        query_interval_ns: e.query_interval_ns,
        recv_window_ms: e.recv_window_ms,
        rate_margin_permille: (e.rate_margin_pct * 10.0).round() as u32,
    };
    let fees = setup.taker_fees_by_instrument();
    let mut out = Vec::new();
    let mut clocks: Vec<(Arc<dyn AccountApi>, Arc<VenueClock>)> = Vec::new();
    for (&v, c) in venues.iter().zip(&creds) {
        let vs = &setup.venues[v.idx()];
        let ctx = setup.venue_ctx(v);
        let err = |m: String| EngineError::Setup(format!("venue {}: {m}", vs.name));
        let account: Arc<dyn AccountApi> =
            match vs
                .adapter
                .account_api(&ctx, c, e.recv_window_ms, vs.cfg.tls_ca_file.as_deref())
            {
                Some(r) => Arc::from(r.map_err(err)?),
                None => {
                    return Err(err(format!(
                        "live order entry is not built for {}",
                        vs.cfg.exchange
                    )))
                }
            };
        let clock = Arc::new(VenueClock::default());
        let off = measure_offset(account.as_ref()).map_err(err)?;
        clock.offset_ms.store(off, Ordering::Relaxed);
        let now_ms = (local_ms() as i64 + off).max(0) as u64;
        let (bal, pos) = account.account(now_ms).map_err(err)?;
        check_start(setup, v, &bal, &pos).map_err(EngineError::Setup)?;
        let stream = account.open_user_stream().map_err(err)?;
        let entry = vs
            .adapter
            .order_entry(&ctx, &c.api_key, &c.secret)
            .ok_or_else(|| err("no order entry".into()))?;
        let rest = vs
            .cfg
            .rest_url
            .clone()
            .unwrap_or_else(|| default_rest(vs.cfg.exchange, vs.cfg.market.as_deref()));
        let url = crate::net::Url::parse(&rest).map_err(err)?;
        let tls = if url.secure || stream.starts_with("wss:") {
            Some(crate::net::tls::client_config(vs.cfg.tls_ca_file.as_deref()).map_err(err)?)
        } else {
            None
        };
        let insts = ctx
            .instruments()
            .map(|i| LiveInst {
                id: i.id,
                spec: i.clone(),
                fee: fees[i.id.idx()],
            })
            .collect();
        let order = LiveVenue::connect(
            v,
            entry,
            insts,
            &rest,
            Some(&stream),
            tls,
            params,
            clock.clone(),
            setup.cfg.risk.max_in_flight as usize * 6 + 8,
            std::time::Duration::from_secs(10),
        )
        .map_err(err)?;
        clocks.push((account.clone(), clock.clone()));
        out.push(LiveSetup {
            venue: v,
            order: Some(order),
            account,
            start: (bal, pos),
            clock,
        });
    }
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let keeper = std::thread::Builder::new()
        .name("arbot-live-keeper".into())
        .spawn(move || keeper(clocks, stop2))
        .map_err(EngineError::Io)?;
    Ok(LivePrep {
        venues: out,
        keeper: Some(keeper),
        stop,
    })
}

fn default_rest(ex: crate::venues::Exchange, market: Option<&str>) -> String {
    match (ex, market) {
        (crate::venues::Exchange::Binance, Some("usdm")) => "https://fapi.binance.com".into(),
        (crate::venues::Exchange::Binance, Some("coinm")) => "https://dapi.binance.com".into(),
        _ => "https://api.binance.com".into(),
    }
}

/// The keeper: clock offsets every minute and on request, stream keep-alive every 30 min.
fn keeper(venues: Vec<(Arc<dyn AccountApi>, Arc<VenueClock>)>, stop: Arc<AtomicBool>) {
    let start = std::time::Instant::now();
    let mut next_sync = vec![std::time::Duration::from_secs(60); venues.len()];
    let mut next_keepalive = std::time::Duration::from_secs(30 * 60);
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let el = start.elapsed();
        for (k, (a, c)) in venues.iter().enumerate() {
            if el >= next_sync[k] || c.resync.swap(false, Ordering::Relaxed) {
                next_sync[k] = el + std::time::Duration::from_secs(60);
                if let Ok(off) = measure_offset(a.as_ref()) {
                    c.offset_ms.store(off, Ordering::Relaxed);
                }
            }
        }
        if el >= next_keepalive {
            next_keepalive = el + std::time::Duration::from_secs(30 * 60);
            for (a, _) in &venues {
                let _ = a.keepalive_user_stream();
            }
        }
    }
}

/// One asset or position over the run: how much it changed on the venue against how much
/// the engine's own accounting of its fills says it changed.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Reconciled {
    /// Venue name.
    pub venue: String,
    /// Asset code, or `position <symbol>` (quantity in contracts or base, as the venue counts).
    pub asset: String,
    /// The venue's figure at start.
    pub exchange_start: f64,
    /// The venue's figure at the end.
    pub exchange_end: f64,
    /// `exchange_end − exchange_start`.
    pub exchange_change: f64,
    /// The engine's change (its fills, fees in the asset they were charged in).
    pub engine_change: f64,
    /// Futures margin asset: the venue's cost basis of its open positions in this asset
    /// (entry price × quantity; inverse: contracts' USD ÷ entry price, negated), the part of
    /// the traded value its wallet balance has not realised yet; 0 for spot assets.
    pub exchange_open_basis: f64,
    /// The same from the engine's own position costs.
    pub engine_open_basis: f64,
    /// `(exchange_change − exchange_open_basis) − (engine_change − engine_open_basis)`.
    /// Which fills a futures wallet has realised depends on the order the venue matched them
    /// in, which the engine cannot always know (answers on several connections and the
    /// stream race); wallet change minus open basis is the cash the trading moved, the same
    /// in any order.
    pub diff: f64,
    /// `|diff|` within [`Reconciliation::tolerance`].
    pub ok: bool,
}

/// The end-of-run reconciliation of every live venue.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Reconciliation {
    /// Per venue and asset / position.
    pub rows: Vec<Reconciled>,
    /// Orders of ours the venues still report open after the run (client ids), by venue.
    pub open_orders: Vec<(String, Vec<u64>)>,
    /// Venues that could not be asked (the error).
    pub errors: Vec<String>,
    /// Largest `|diff|` counted as equal: the venue truncates each commission and each
    /// futures fill's realized PnL to 1e-8, so the engine's figure may differ by up to 2e-8
    /// per fill (a COIN-M account differed by 2.5e-7 BTC after 22 trades, over the earlier
    /// 1e-8-per-fill bound, in one run of `tests/live_loopback.rs` beside a test load).
    pub tolerance: f64,
}

impl Reconciliation {
    /// Every venue answered, every row within tolerance, no order left open.
    pub fn ok(&self) -> bool {
        self.errors.is_empty()
            && self.rows.iter().all(|r| r.ok)
            && self.open_orders.iter().all(|(_, o)| o.is_empty())
    }
}

/// A live venue's account client and what it reported at start: what a reconciliation reads.
#[derive(Clone)]
pub struct AccountView {
    /// The venue.
    pub venue: VenueId,
    /// Its account client.
    pub account: Arc<dyn AccountApi>,
    /// Balances and positions it reported at start.
    pub start: (Vec<VenueBalance>, Vec<VenuePosition>),
    /// Its clock offset.
    pub clock: Arc<VenueClock>,
}

impl LivePrep {
    /// The venues' account views (for [`reconcile`]).
    pub fn views(&self) -> Vec<AccountView> {
        self.venues
            .iter()
            .map(|v| AccountView {
                venue: v.venue,
                account: v.account.clone(),
                start: v.start.clone(),
                clock: v.clock.clone(),
            })
            .collect()
    }
}

/// A venue the runtime reconciliation stopped.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Halt {
    /// Venue name.
    pub venue: String,
    /// Wall time of the check, ns since the epoch.
    pub at_ns: u64,
    /// Trades finished when it was checked (every one of them booked by the engine).
    pub after_trades: u64,
    /// The rows that differed.
    pub rows: Vec<Reconciled>,
}

/// What the runtime reconciliation did (`report.json` `inventory.reconciliation`).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct RuntimeReconciliation {
    /// Setting, ns.
    pub interval_ns: u64,
    /// Checks made (every venue asked).
    pub checks: u64,
    /// Checks discarded because a trade started while the venues were read.
    pub discarded: u64,
    /// Venues that could not be asked, by check (the error).
    pub errors: Vec<String>,
    /// Venues stopped, with the difference found.
    pub halted: Vec<Halt>,
    /// The last check's largest `|diff|` over the venues not halted.
    pub last_max_abs_diff: f64,
}

/// The live reconciliation during the run (R5.1), run by the cold logger thread: every
/// `execution.reconcile_interval_ns` and after every finished trade, when no trade is in
/// flight, each venue's balances and positions are read and compared with the engine's own
/// accounting of the trades finished so far (a copy of the gate's bookkeeping kept from the
/// trade records), as [`reconcile`] does at the end. A venue that differs beyond the tolerance
/// is logged (ERROR) and halted through [`Control::halt_venue`]: the detection thread takes it
/// down for the rest of the run.
pub struct Reconciler {
    setup: Setup,
    views: Vec<AccountView>,
    interval: std::time::Duration,
    replica: crate::risk::RiskGate,
    fills: u64,
    trades_seen: u64,
    trades_checked: u64,
    last: std::time::Instant,
    ctl: Option<Arc<crate::control::Control>>,
    progress: Option<Arc<crate::stats::Progress>>,
    halted: u64,
    /// What it did.
    pub report: RuntimeReconciliation,
}

impl Reconciler {
    /// For a live run (`None` when `execution.reconcile_interval_ns` is 0).
    pub fn new(setup: &Setup, prep: &LivePrep) -> Option<Reconciler> {
        let ns = setup.cfg.execution.reconcile_interval_ns;
        if ns == 0 || prep.venues.is_empty() {
            return None;
        }
        Some(Reconciler {
            setup: setup.clone(),
            views: prep.views(),
            interval: std::time::Duration::from_nanos(ns),
            replica: crate::risk::RiskGate::new(setup),
            fills: 0,
            trades_seen: 0,
            trades_checked: 0,
            last: std::time::Instant::now(),
            ctl: None,
            progress: None,
            halted: 0,
            report: RuntimeReconciliation {
                interval_ns: ns,
                ..RuntimeReconciliation::default()
            },
        })
    }

    /// Where halts go and where trades in flight are counted.
    pub fn attach(
        mut self,
        ctl: Arc<crate::control::Control>,
        progress: Arc<crate::stats::Progress>,
    ) -> Reconciler {
        self.ctl = Some(ctl);
        self.progress = Some(progress);
        self
    }

    /// A finished trade: book its fills in the copy.
    pub fn on_trade(&mut self, rec: &crate::journal::TradeRecord) {
        self.replica.apply_journaled(&self.setup.instruments, rec);
        self.fills += rec.legs[..rec.n_legs as usize]
            .iter()
            .filter(|l| l.filled_qty.0 != 0)
            .count() as u64;
        self.trades_seen += 1;
    }

    /// Check when due and quiet; the log lines to write.
    pub fn poll(&mut self) -> Vec<String> {
        let (Some(ctl), Some(progress)) = (self.ctl.clone(), self.progress.clone()) else {
            return Vec::new();
        };
        let due = self.trades_seen > self.trades_checked || self.last.elapsed() >= self.interval;
        if !due {
            return Vec::new();
        }
        let get = crate::stats::Progress::get;
        let a0 = get(&progress.approved);
        let t0 = get(&progress.trades);
        if a0 != t0 || self.trades_seen != t0 {
            // a trade in flight, or one finished that this thread has not booked yet
            return Vec::new();
        }
        let rec = reconcile(
            &self.setup,
            &self.views,
            &self.replica.balances(),
            &self.replica.position_costs(),
            self.fills,
        );
        self.last = std::time::Instant::now();
        if get(&progress.approved) != a0 {
            // a trade started while the venues were read: its fills may be in their figures
            self.report.discarded += 1;
            return Vec::new();
        }
        self.trades_checked = self.trades_seen;
        self.report.checks += 1;
        let now = crate::clock::Clock::get().now_ns();
        let mut lines = Vec::new();
        for e in &rec.errors {
            self.report.errors.push(e.clone());
            lines.push(format!(
                "{} WARN reconciliation {e} (not halted: no figure to compare)\n",
                crate::logger::iso_ns(now)
            ));
        }
        let mut max_diff: f64 = 0.0;
        for vs in &self.setup.venues {
            let v = vs.id.idx();
            let bad: Vec<Reconciled> = rec
                .rows
                .iter()
                .filter(|r| r.venue == vs.name && !r.ok)
                .cloned()
                .collect();
            if self.halted & (1u64 << v.min(63)) != 0 {
                continue;
            }
            for r in rec.rows.iter().filter(|r| r.venue == vs.name) {
                max_diff = max_diff.max(r.diff.abs());
            }
            if bad.is_empty() {
                continue;
            }
            for r in &bad {
                lines.push(format!(
                    "{} ERROR reconciliation venue={} asset={} exchange_change={} engine_change={} diff={} tolerance={} after_trades={}: trading stopped on this venue\n",
                    crate::logger::iso_ns(now),
                    r.venue,
                    r.asset,
                    r.exchange_change,
                    r.engine_change,
                    r.diff,
                    rec.tolerance,
                    self.trades_seen
                ));
            }
            if ctl.halt_venue(v) {
                self.halted |= 1u64 << v;
            }
            self.report.halted.push(Halt {
                venue: vs.name.clone(),
                at_ns: now,
                after_trades: self.trades_seen,
                rows: bad,
            });
        }
        self.report.last_max_abs_diff = max_diff;
        lines
    }
}

/// The venues' balances, positions and open orders now, against the engine's accounting:
/// balance changes by venue and asset (engine: [`crate::risk::RiskGate::balances`] less the
/// configured start; venue: now less what it reported at start), positions by instrument
/// (both start flat: [`prepare`] refuses an account holding one). `fills` is the number of
/// fills the run booked (sets the tolerance).
pub fn reconcile(
    setup: &Setup,
    views: &[AccountView],
    engine_balances: &[(usize, String, Amount, Amount)],
    engine_positions: &[(usize, i64, i64)],
    fills: u64,
) -> Reconciliation {
    use crate::instrument::InstrumentKind;
    let tol = 2e-8 * (fills as f64 + 1.0);
    let mut out = Reconciliation {
        tolerance: tol,
        ..Reconciliation::default()
    };
    for lv in views {
        let vs = &setup.venues[lv.venue.idx()];
        let now_ms = (local_ms() as i64 + lv.clock.offset_ms.load(Ordering::Relaxed)).max(0) as u64;
        let (bal, pos) = match lv.account.account(now_ms) {
            Ok(x) => x,
            Err(e) => {
                out.errors.push(format!("venue {}: account: {e}", vs.name));
                continue;
            }
        };
        match lv.account.open_orders(now_ms) {
            Ok(o) => out.open_orders.push((vs.name.clone(), o)),
            Err(e) => out
                .errors
                .push(format!("venue {}: open orders: {e}", vs.name)),
        }
        let find = |list: &[VenueBalance], asset: &str| {
            list.iter()
                .find(|b| b.asset.eq_ignore_ascii_case(asset))
                .map(|b| b.total.to_f64())
                .unwrap_or(0.0)
        };
        let futures = || {
            setup
                .instruments
                .iter()
                .filter(|i| i.venue == lv.venue && i.kind != InstrumentKind::Spot)
        };
        // open basis per margin asset, both sides (linear: +cost; inverse: −cost)
        let basis = |asset: &str| {
            let (mut ex, mut eng) = (0.0, 0.0);
            for s in futures() {
                let inverse = s.kind.is_inverse();
                let margin = if inverse { &s.base } else { &s.quote };
                if !margin.eq_ignore_ascii_case(asset) {
                    continue;
                }
                if let Some(p) = pos.iter().find(|p| p.symbol == s.symbol) {
                    if p.entry_px > 0.0 {
                        if inverse {
                            let usd = s.quote_amount(p.qty, Price(1)).to_f64();
                            ex -= usd / p.entry_px;
                        } else {
                            ex += s.base_amount(p.qty, Price(1)).to_f64() * p.entry_px;
                        }
                    }
                }
                if let Some((_, _, c)) = engine_positions.iter().find(|(i, _, _)| *i == s.id.idx())
                {
                    let c = Amount(*c).to_f64();
                    eng += if inverse { -c } else { c };
                }
            }
            (ex, eng)
        };
        for (v, asset, total, _) in engine_balances {
            if *v != lv.venue.idx() {
                continue;
            }
            let start_cfg = vs
                .cfg
                .balances
                .iter()
                .find(|(a, _)| a.eq_ignore_ascii_case(asset))
                .map(|(_, x)| *x)
                .unwrap_or(0.0);
            let (s0, s1) = (find(&lv.start.0, asset), find(&bal, asset));
            let engine_change = total.to_f64() - start_cfg;
            let (ex_basis, eng_basis) = basis(asset);
            let diff = (s1 - s0 - ex_basis) - (engine_change - eng_basis);
            out.rows.push(Reconciled {
                venue: vs.name.clone(),
                asset: asset.clone(),
                exchange_start: s0,
                exchange_end: s1,
                exchange_change: s1 - s0,
                engine_change,
                exchange_open_basis: ex_basis,
                engine_open_basis: eng_basis,
                diff,
                ok: diff.abs() <= tol,
            });
        }
        for s in futures() {
            let eng = engine_positions
                .iter()
                .find(|(i, _, _)| *i == s.id.idx())
                .map(|(_, q, _)| *q)
                .unwrap_or(0);
            let ex = pos
                .iter()
                .find(|p| p.symbol == s.symbol)
                .map(|p| p.qty.0)
                .unwrap_or(0);
            out.rows.push(Reconciled {
                venue: vs.name.clone(),
                asset: format!("position {}", s.symbol),
                exchange_start: 0.0,
                exchange_end: s.qty_f64(crate::types::Qty(ex)),
                exchange_change: s.qty_f64(crate::types::Qty(ex)),
                engine_change: s.qty_f64(crate::types::Qty(eng)),
                exchange_open_basis: 0.0,
                engine_open_basis: 0.0,
                diff: s.qty_f64(crate::types::Qty(ex - eng)),
                ok: ex == eng,
            });
        }
    }
    out
}
