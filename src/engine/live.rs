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
use crate::types::{Amount, VenueId};
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
        clocks.push((account.clone(), clock));
        out.push(LiveSetup {
            venue: v,
            order: Some(order),
            account,
            start: (bal, pos),
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

/// One asset or position: what the venue says against what the engine counted.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Reconciled {
    /// Venue name.
    pub venue: String,
    /// Asset code or symbol.
    pub asset: String,
    /// The venue's figure.
    pub exchange: f64,
    /// The engine's figure.
    pub engine: f64,
    /// `exchange − engine`.
    pub diff: f64,
}

/// The venues' balances and positions now, against the engine's accounting (balances by
/// venue and asset from [`crate::risk::RiskGate::balances`], positions by instrument).
pub fn reconcile(
    setup: &Setup,
    prep: &LivePrep,
    engine_balances: &[(usize, String, Amount, Amount)],
    engine_positions: &[(usize, i64)],
) -> Vec<Result<Reconciled, String>> {
    let mut out = Vec::new();
    for lv in &prep.venues {
        let vs = &setup.venues[lv.venue.idx()];
        let now_ms = local_ms();
        let (bal, pos) = match lv.account.account(now_ms) {
            Ok(x) => x,
            Err(e) => {
                out.push(Err(format!("venue {}: {e}", vs.name)));
                continue;
            }
        };
        for (v, asset, total, _) in engine_balances {
            if *v != lv.venue.idx() {
                continue;
            }
            let ex = bal
                .iter()
                .find(|b| b.asset.eq_ignore_ascii_case(asset))
                .map(|b| b.total.to_f64())
                .unwrap_or(0.0);
            out.push(Ok(Reconciled {
                venue: vs.name.clone(),
                asset: asset.clone(),
                exchange: ex,
                engine: total.to_f64(),
                diff: ex - total.to_f64(),
            }));
        }
        for s in setup.instruments.iter().filter(|i| i.venue == lv.venue) {
            if s.kind == crate::instrument::InstrumentKind::Spot {
                continue;
            }
            let eng = engine_positions
                .iter()
                .find(|(i, _)| *i == s.id.idx())
                .map(|(_, q)| *q)
                .unwrap_or(0);
            let ex = pos
                .iter()
                .find(|p| p.symbol == s.symbol)
                .map(|p| p.qty.0)
                .unwrap_or(0);
            out.push(Ok(Reconciled {
                venue: vs.name.clone(),
                asset: format!("position {}", s.symbol),
                exchange: s.qty_f64(crate::types::Qty(ex)),
                engine: s.qty_f64(crate::types::Qty(eng)),
                diff: s.qty_f64(crate::types::Qty(ex - eng)),
            }));
        }
    }
    out
}
