//! Statistical pair trading (R2.3): the spread `y − b·x` of two instruments, with `b` and the
//! cointegration evidence from an Engle–Granger test ([`coint`]) refitted off the hot path
//! ([`estimator`]), traded on its z-score.
//!
//! **Sampling.** Mids of `y` and `x` are sampled at every multiple of `sample_interval_ns` of
//! data time: the value at boundary `t` is the mid after the last message received at or
//! before `t` (taken when the first message after `t` arrives, before it is applied). A
//! boundary at which either book is not valid gives no sample. Sample `k` goes to the
//! estimator; the decision at sample `k` uses the estimate based on samples `0..k` and
//! `z_k = (y_k − b·x_k − mean) / std`.
//!
//! **Signals.** Flat and the fit in force passed the test (p < `max_p_value`): open at
//! `|z| ≥ entry_z` (z ≥ entry: short the spread, sell `y` and buy `b·y` worth of `x`; z ≤
//! −entry: long the spread). Open: close when z is back inside the exit band or beyond it
//! on the other side (long: z ≥ −exit_z; short: z ≤ exit_z), after `max_holding_ns`, or at the
//! stop (long: z ≤ −stop_z; short: z ≥ stop_z). Entries and exits go through the risk gate and
//! execution like any trade (two IOC legs at the walked prices); a position holds what filled
//! and is closed for exactly that. A leg that fails is handled by the one-leg policy at the
//! planned hedge ratio (the excess of the other leg is closed).
//!
//! **Determinism.** In replay the estimate for sample `k` is *applied at a data-time deadline*:
//! at boundary `k` the core uses the estimate based on exactly samples `0..k` — the
//! estimator's result for sample `k − 1` is due one interval after that sample was taken. If
//! the estimation thread has not published it yet, the detection thread waits for it (as it
//! waits for the execution thread before data time passes an order's arrival). So a refit
//! that takes longer than expected delays the replay, never changes it, and the threaded and
//! single-thread replays (where the estimator runs inline) produce the same journals. Live
//! (paper), the core never waits: it uses the newest estimate published.
//!
//! **Numbers.** The statistics (fit, spread mean and deviation, the z-score) are `f64`: they
//! are estimates, computed off the hot path except the one z-score per sample. Prices, sizes
//! and money stay fixed point; the hedge ratio enters the sizing as an integer ×1e8.
#![forbid(unsafe_code)]

pub mod coint;
pub mod estimator;
pub mod klines;
pub mod publish;

use crate::book::{walk_qty, Market, Unusable};
use crate::config::{invalid, ConfigError, Setup, VenueSetup};
use crate::instrument::InstrumentSpec;
use crate::journal::TradeRecord;
use crate::signal::{LegPlan, Opportunity, PairAction, PairPlan, Strategy};
use crate::types::{apply_bps, pow10, Amount, Bps, InstrumentId, Nanos, Price, Qty, Ratio, Side};
use coint::Coint;
use estimator::{Estimator, EstimatorCfg, FitRecord, Link, Sample};
use publish::Params;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// `[stat]`: one statistical pair (R2.3).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StatConfig {
    /// `y` as `venue:SYMBOL`.
    pub y: String,
    /// `x` as `venue:SYMBOL`.
    pub x: String,
    /// Mids are sampled every this many ns of data time.
    #[serde(default = "default_interval")]
    pub sample_interval_ns: u64,
    /// Samples in the rolling z-score window (spread mean and deviation; default 60).
    #[serde(default = "default_zwin")]
    pub zscore_window_samples: usize,
    /// Samples per Engle–Granger fit (the warm-up window; default 120).
    #[serde(default = "default_fitwin")]
    pub fit_window_samples: usize,
    /// Samples between refits of the rolling fit window (default 30).
    #[serde(default = "default_refit")]
    pub refit_every_samples: usize,
    /// The pair is tradable while the fit's p-value is below this (default 0.05).
    #[serde(default = "default_max_p")]
    pub max_p_value: f64,
    /// Open at |z| ≥ this (default 2.0).
    #[serde(default = "default_entry")]
    pub entry_z: f64,
    /// Close once z is back within ± this (default 0.5).
    #[serde(default = "default_exit")]
    pub exit_z: f64,
    /// Close at a loss once |z| goes past this on the side the position bet against
    /// (default 4.0).
    #[serde(default = "default_stop")]
    pub stop_z: f64,
    /// Close after this long in the position, ns (default 120 s).
    #[serde(default = "default_hold")]
    pub max_holding_ns: u64,
    /// Notional of the `y` leg of a new position, USD (default 5,000).
    #[serde(default = "default_notional")]
    pub position_notional_usd: f64,
    /// Start from these parameters (the JSON `arbot fit-pair` prints) until the first fit.
    #[serde(default)]
    pub params_file: Option<PathBuf>,
}

fn default_interval() -> u64 {
    1_000_000_000
}
fn default_zwin() -> usize {
    60
}
fn default_fitwin() -> usize {
    120
}
fn default_refit() -> usize {
    30
}
fn default_max_p() -> f64 {
    0.05
}
fn default_entry() -> f64 {
    2.0
}
fn default_exit() -> f64 {
    0.5
}
fn default_stop() -> f64 {
    4.0
}
fn default_hold() -> u64 {
    120_000_000_000
}
fn default_notional() -> f64 {
    5_000.0
}

/// `[stat]` resolved.
#[derive(Clone, Debug)]
pub struct StatSetup {
    /// The section as written.
    pub cfg: StatConfig,
    /// `y` instrument.
    pub y: InstrumentId,
    /// `x` instrument.
    pub x: InstrumentId,
    /// Parameters read from `params_file`.
    pub initial: Option<Coint>,
}

/// Validate `[stat]` (keys named in errors).
pub fn resolve(
    sc: &StatConfig,
    venues: &[VenueSetup],
    instruments: &[InstrumentSpec],
    find_inst: &dyn Fn(&str, &str) -> Result<InstrumentId, ConfigError>,
    base: &Path,
) -> Result<StatSetup, ConfigError> {
    let y = find_inst("stat.y", &sc.y)?;
    let x = find_inst("stat.x", &sc.x)?;
    if x == y {
        return Err(invalid("stat.x", "must differ from stat.y"));
    }
    for (key, i) in [("stat.y", y), ("stat.x", x)] {
        let s = &instruments[i.idx()];
        if !venues[s.venue.idx()].has_order_entry(instruments) {
            return Err(invalid(
                key,
                format!("order entry is not built for venue {} yet", s.venue_name),
            ));
        }
    }
    let (sy, sx) = (&instruments[y.idx()], &instruments[x.idx()]);
    if !sy.quote.eq_ignore_ascii_case(&sx.quote) {
        return Err(invalid(
            "stat.x",
            format!(
                "quotes differ ({} and {}): the spread needs one quote asset",
                sy.quote, sx.quote
            ),
        ));
    }
    if sy.kind.is_inverse() || sx.kind.is_inverse() {
        return Err(invalid(
            "stat.x",
            "inverse contracts are not supported in a pair (their notional is fixed in the quote)",
        ));
    }
    if sc.sample_interval_ns < 1_000_000 {
        return Err(invalid("stat.sample_interval_ns", "must be ≥ 1 ms"));
    }
    if sc.zscore_window_samples < 2 {
        return Err(invalid("stat.zscore_window_samples", "must be ≥ 2"));
    }
    if !(20..=1_000_000).contains(&sc.fit_window_samples) {
        return Err(invalid(
            "stat.fit_window_samples",
            "must be in [20, 1000000] (the ADF regression needs room for its lags)",
        ));
    }
    if sc.refit_every_samples == 0 {
        return Err(invalid("stat.refit_every_samples", "must be ≥ 1"));
    }
    if !(sc.max_p_value > 0.0 && sc.max_p_value <= 1.0) {
        return Err(invalid("stat.max_p_value", "must be in (0, 1]"));
    }
    if !(sc.exit_z.is_finite() && sc.exit_z >= 0.0) {
        return Err(invalid("stat.exit_z", "must be ≥ 0"));
    }
    if !(sc.entry_z.is_finite() && sc.entry_z > sc.exit_z) {
        return Err(invalid("stat.entry_z", "must be > stat.exit_z"));
    }
    if !(sc.stop_z.is_finite() && sc.stop_z > sc.entry_z) {
        return Err(invalid("stat.stop_z", "must be > stat.entry_z"));
    }
    if sc.max_holding_ns == 0 {
        return Err(invalid("stat.max_holding_ns", "must be > 0"));
    }
    if !(sc.position_notional_usd.is_finite() && sc.position_notional_usd > 0.0) {
        return Err(invalid("stat.position_notional_usd", "must be > 0"));
    }
    let initial = match &sc.params_file {
        None => None,
        Some(p) => {
            let p = if p.is_absolute() {
                p.clone()
            } else {
                base.join(p)
            };
            Some(klines::read_params(&p).map_err(|e| invalid("stat.params_file", e))?)
        }
    };
    Ok(StatSetup {
        cfg: sc.clone(),
        y,
        x,
        initial,
    })
}

/// Counters of the statistical strategy (report `stat.counts`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct StatCounts {
    /// Samples taken.
    pub samples: u64,
    /// Boundaries where a book was not valid (no sample).
    pub boundaries_without_sample: u64,
    /// Samples lost because the estimator's ring was full (live only).
    pub samples_lost: u64,
    /// Samples before the estimate was ready (no fit or window not full).
    pub not_ready: u64,
    /// |z| reached the entry level while the fit in force failed the test.
    pub entries_blocked_by_test: u64,
    /// Opportunities (entries and exits) handed to the gate.
    pub signals: u64,
    /// Approved by the gate.
    pub traded: u64,
    /// Refused by the gate.
    pub rejected: u64,
    /// A leg rounded below the venue's minimum, or a book could not fill it.
    pub below_min_order: u64,
    /// A book was stale or invalid at a decision.
    pub unusable_book: u64,
    /// Largest and smallest z-score seen.
    pub max_z: f64,
    /// Smallest z-score seen.
    pub min_z: f64,
}

/// A position's life, for the report.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct PositionSummary {
    /// Position id.
    pub id: u64,
    /// Long the spread (long `y`, short `x`).
    pub long_spread: bool,
    /// Entry decision time (data time, ns).
    pub entry_ns: u64,
    /// z at entry.
    pub entry_z: f64,
    /// Hedge ratio at entry.
    pub hedge_ratio: f64,
    /// When the closing trade finished (0 while open).
    pub exit_ns: u64,
    /// z at the exit decision.
    pub exit_z: f64,
    /// Why it closed (`open` while open, `entry_failed` when the entry did not hold).
    pub exit_reason: &'static str,
    /// Gross PnL (all its fills; an open position marked at the final mids), 1e-8 USD.
    pub gross_usd: i64,
    /// Fees, 1e-8 USD.
    pub fees_usd: i64,
    /// Signed base held now (`y`, `x`), 1e-8 units.
    pub held: [i64; 2],
    /// Last fill prices (`y`, `x`), quote per base ×1e8.
    #[serde(skip)]
    pub marks_e8: [i64; 2],
    /// Σ sell − buy quote so far, 1e-8 USD.
    #[serde(skip)]
    pub cash: i64,
    /// Gross already in its trades' records.
    #[serde(skip)]
    pub attributed: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PosState {
    Flat,
    Opening,
    Open,
    Closing,
}

/// Positions kept for the report.
pub const POSITIONS_KEPT: usize = 4096;

/// The statistical strategy on the detection thread.
pub struct StatArb {
    /// The pair.
    pub y: InstrumentId,
    /// The pair.
    pub x: InstrumentId,
    cfg: StatConfig,
    link: Option<Link>,
    wait: bool,
    next_boundary: Nanos,
    taken: Option<(Sample, f64, Params)>,
    /// The last estimate used.
    pub last: Params,
    /// Counters.
    pub counts: StatCounts,
    state: PosState,
    pos: PositionSummary,
    pending_trade: u64,
    next_position: u64,
    /// Closed positions, then the open one at the end (at most [`POSITIONS_KEPT`]).
    pub positions: Vec<PositionSummary>,
    /// The estimator after the run ([`StatArb::finish`]): its fit history.
    pub fits: Vec<FitRecord>,
    fee: [Bps; 2],
    notional_e8: i64,
}

fn mid(m: &Market, i: InstrumentId) -> Option<Price> {
    let b = &m.books[i.idx()];
    if !b.valid {
        return None;
    }
    let (bid, ask) = (b.best_bid()?.0, b.best_ask()?.0);
    Some(Price((bid.0 + ask.0) / 2))
}

fn px_f64(spec: &InstrumentSpec, p: Price) -> f64 {
    p.0 as f64 / pow10(spec.price_dec) as f64
}

impl StatArb {
    /// From a resolved config (`None` without `[stat]`). The estimator runs inline for the
    /// single-thread replay and on its own thread otherwise.
    pub fn new(setup: &Setup) -> Option<StatArb> {
        let ss = setup.stat.as_ref()?;
        let c = &ss.cfg;
        let est = Estimator::new(
            EstimatorCfg {
                fit_window: c.fit_window_samples,
                refit_every: c.refit_every_samples,
                zscore_window: c.zscore_window_samples,
                max_p_value: c.max_p_value,
            },
            ss.initial,
        );
        let single = setup.cfg.threads.mode == crate::config::ThreadMode::Single;
        let link = if single {
            Link::inline(est)
        } else {
            // cold path: start-up; a thread that cannot start is fatal for the strategy
            Link::spawn(est, 4096).expect("start the estimation thread")
        };
        let fees = setup.taker_fees_by_instrument();
        Some(StatArb {
            y: ss.y,
            x: ss.x,
            cfg: c.clone(),
            link: Some(link),
            wait: setup.cfg.mode == crate::config::Mode::Replay,
            next_boundary: 0,
            taken: None,
            last: Params::default(),
            counts: StatCounts {
                max_z: f64::NEG_INFINITY,
                min_z: f64::INFINITY,
                ..StatCounts::default()
            },
            state: PosState::Flat,
            pos: PositionSummary::default(),
            pending_trade: 0,
            next_position: 1,
            positions: Vec::with_capacity(POSITIONS_KEPT),
            fits: Vec::new(),
            fee: [fees[ss.y.idx()], fees[ss.x.idx()]],
            notional_e8: Amount::from_f64(c.position_notional_usd).0,
        })
    }

    /// A message received at `recv_ns` starts (its events not applied yet): sample every
    /// interval boundary it passes.
    pub fn on_message_start(&mut self, m: &Market, recv_ns: Nanos) {
        let iv = self.cfg.sample_interval_ns;
        if self.next_boundary == 0 {
            self.next_boundary = (recv_ns / iv + 1) * iv;
            return;
        }
        if recv_ns < self.next_boundary {
            return;
        }
        // boundaries passed since the last message all see the books as they are now
        let passed = (recv_ns - self.next_boundary) / iv + 1;
        let last_boundary = self.next_boundary + (passed - 1) * iv;
        self.next_boundary = last_boundary + iv;
        let (Some(py), Some(px)) = (mid(m, self.y), mid(m, self.x)) else {
            self.counts.boundaries_without_sample += passed;
            return;
        };
        let (sy, sx) = (&m.specs[self.y.idx()], &m.specs[self.x.idx()]);
        let (y, x) = (px_f64(sy, py), px_f64(sx, px));
        // a long gap is forward-filled with the same mids, at most 10,000 boundaries
        let fill = passed.min(10_000);
        self.counts.boundaries_without_sample += passed - fill;
        let Some(link) = self.link.as_mut() else {
            return;
        };
        for k in 0..fill {
            let at = last_boundary - (fill - 1 - k) * iv;
            let n = self.counts.samples;
            let p = link.params_for(n, self.wait);
            let s = Sample { at_ns: at, y, x };
            let z = if p.ready {
                (y - p.hedge * x - p.mean) / p.std
            } else {
                f64::NAN
            };
            let mut pushed = link.push(s);
            // replay: the estimator is at most one sample behind, so a full ring only means
            // it has not popped yet; live, a sample it cannot take is lost (counted)
            while !pushed && self.wait {
                std::thread::yield_now();
                pushed = link.push(s);
            }
            if !pushed {
                self.counts.samples_lost += 1;
            }
            self.counts.samples += 1;
            self.taken = Some((s, z, p));
        }
    }

    /// The message is applied: decide on the sample it brought, if any. An opportunity goes
    /// to `out` (the core hands it to the risk gate and reports back through
    /// [`StatArb::on_gate`]).
    pub fn on_message_end(
        &mut self,
        m: &Market,
        stale_ns: u64,
        trigger: (u64, u64),
        id: &mut impl FnMut() -> u64,
        out: &mut impl FnMut(Opportunity),
    ) {
        let Some((_s, z, p)) = self.taken.take() else {
            return;
        };
        self.last = p;
        if !p.ready || z.is_nan() {
            self.counts.not_ready += 1;
            return;
        }
        self.counts.max_z = self.counts.max_z.max(z);
        self.counts.min_z = self.counts.min_z.min(z);
        let c = &self.cfg;
        let action = match self.state {
            PosState::Opening | PosState::Closing => return,
            PosState::Flat => {
                if z.abs() < c.entry_z {
                    return;
                }
                if !p.tradable {
                    self.counts.entries_blocked_by_test += 1;
                    return;
                }
                PairAction::Open
            }
            PosState::Open => {
                let long = self.pos.long_spread;
                if (long && z <= -c.stop_z) || (!long && z >= c.stop_z) {
                    PairAction::CloseStop
                } else if (long && z >= -c.exit_z) || (!long && z <= c.exit_z) {
                    PairAction::CloseExit
                } else if m.now_ns.saturating_sub(self.pos.entry_ns) >= c.max_holding_ns {
                    PairAction::CloseTime
                } else {
                    return;
                }
            }
        };
        for i in [self.y, self.x] {
            if let Err(Unusable::Stale | Unusable::Invalid) = m.tradable(i, stale_ns) {
                self.counts.unusable_book += 1;
                return;
            }
        }
        let hedge_e8 = (p.hedge * 1e8).round() as i64;
        let long = if action == PairAction::Open {
            z < 0.0
        } else {
            self.pos.long_spread
        };
        let (sy, sx) = (&m.specs[self.y.idx()], &m.specs[self.x.idx()]);
        // (y qty, x qty), native units, unsigned
        let (qy, qx) = if action == PairAction::Open {
            let Some(q) = self.open_size(m, hedge_e8, long) else {
                self.counts.below_min_order += 1;
                return;
            };
            q
        } else {
            (
                sy.qty_for_base_floor(Amount(self.pos.held[0].abs()), Price(1)),
                sx.qty_for_base_floor(Amount(self.pos.held[1].abs()), Price(1)),
            )
        };
        // a long spread is long y; opening it buys y, closing it sells y
        let buy_y = long == (action == PairAction::Open);
        let leg = |i: InstrumentId, side: Side, q: Qty, fee: Bps| -> Option<LegPlan> {
            let spec = &m.specs[i.idx()];
            let b = &m.books[i.idx()];
            let top = match side {
                Side::Buy => b.best_ask()?,
                Side::Sell => b.best_bid()?,
            };
            let w = walk_qty(m, i, side, q);
            if w.filled != q || !spec.order_ok(q, w.worst_px) {
                return None;
            }
            Some(LegPlan {
                venue: spec.venue,
                instrument: i,
                side,
                top_px: top.0,
                limit_px: w.worst_px,
                qty: q,
                base: w.base,
                quote: w.quote,
                fee: apply_bps(w.quote, fee),
                book_age_ns: m.now_ns.saturating_sub(b.last_update_ns()),
                book_seq: b.top_seq(),
                book_msg_seq: m.last_msg_seq[i.idx()],
            })
        };
        let (ys, xs) = if buy_y {
            (Side::Buy, Side::Sell)
        } else {
            (Side::Sell, Side::Buy)
        };
        let (Some(ly), Some(lx)) = (
            leg(self.y, ys, qy, self.fee[0]),
            leg(self.x, xs, qx, self.fee[1]),
        ) else {
            self.counts.below_min_order += 1;
            return;
        };
        let (buy, sell) = if buy_y { (ly, lx) } else { (lx, ly) };
        // the spread's distance from its mean, in bps of y, and what reverting to it is worth
        let ymid = (py_f(m, self.y)).max(1e-12);
        let dev = z * p.std;
        let dev_bps = Bps::from_num(dev / ymid * 1e4);
        let fees = buy.fee.0 + sell.fee.0;
        let fee_bps = Bps::from_num(fees as f64 / buy.quote.0.max(1) as f64 * 1e4);
        let revert = Amount::from_f64(dev.abs() * ly.base.to_f64());
        let (position, entry_ns, entry_z) = if action == PairAction::Open {
            (self.next_position, m.now_ns, (z * 1e6) as i64)
        } else {
            (
                self.pos.id,
                self.pos.entry_ns,
                (self.pos.entry_z * 1e6) as i64,
            )
        };
        let plan = PairPlan {
            position,
            action,
            long_spread: long,
            z_e6: (z * 1e6) as i64,
            hedge_e8,
            y: self.y,
            x: self.x,
            entry_ns,
            entry_z_e6: entry_z,
            cash: Amount(if action == PairAction::Open {
                0
            } else {
                self.pos.cash
            }),
            fees: Amount(if action == PairAction::Open {
                0
            } else {
                self.pos.fees_usd
            }),
            attributed: Amount(if action == PairAction::Open {
                0
            } else {
                self.pos.attributed
            }),
            held: if action == PairAction::Open {
                [Amount(0); 2]
            } else {
                [Amount(self.pos.held[0]), Amount(self.pos.held[1])]
            },
            marks_e8: if action == PairAction::Open {
                [px_e8(sy, ly.top_px), px_e8(sx, lx.top_px)]
            } else {
                self.pos.marks_e8
            },
            lots: [
                sy.base_amount(sy.lot_size, ly.top_px),
                sx.base_amount(sx.lot_size, lx.top_px),
            ],
        };
        let depth = |l: &LegPlan| {
            let spec = &m.specs[l.instrument.idx()];
            let top = match l.side {
                Side::Buy => m.books[l.instrument.idx()].best_ask(),
                Side::Sell => m.books[l.instrument.idx()].best_bid(),
            };
            top.map(|(px, q)| spec.quote_amount(q, px).0).unwrap_or(0)
        };
        let opp = Opportunity {
            id: id(),
            group: u16::MAX,
            detected_ns: m.now_ns,
            trigger_msg_seq: trigger.0,
            buy,
            sell,
            gross_spread_bps: dev_bps,
            net_spread_bps: if action == PairAction::Open {
                Bps::from_num(dev_bps.to_num::<f64>().abs()) - fee_bps
            } else {
                -fee_bps
            },
            expected_gross_usd: if action == PairAction::Open {
                revert
            } else {
                Amount(0)
            },
            expected_fees_usd: Amount(fees),
            expected_profit_usd: if action == PairAction::Open {
                Amount(revert.0 - fees)
            } else {
                Amount(-fees)
            },
            depth_usd: Amount(depth(&buy).min(depth(&sell))),
            available_base: Amount(0),
            // the evidence for the spread's mean reversion: 1 − p of the fit in force
            confidence: Ratio::from_num((1.0 - p.p_value).clamp(0.0, 1.0)),
            handoff_tsc: trigger.1,
            signal_tsc: crate::clock::raw(),
            strategy: Strategy::Pair(plan),
        };
        self.counts.signals += 1;
        out(opp);
    }

    /// Open size: the `y` leg worth `position_notional_usd`, `x` = hedge × `y` in base; the
    /// leg with the coarser lot is rounded first and the other matched to it.
    fn open_size(&self, m: &Market, hedge_e8: i64, long: bool) -> Option<(Qty, Qty)> {
        let (sy, sx) = (&m.specs[self.y.idx()], &m.specs[self.x.idx()]);
        let top = |i: InstrumentId, buy: bool| {
            let b = &m.books[i.idx()];
            if buy { b.best_ask() } else { b.best_bid() }.map(|t| t.0)
        };
        let py = top(self.y, long)?;
        let px = top(self.x, !long)?;
        if hedge_e8 <= 0 {
            return None;
        }
        let mul = |a: i64, b: i64, c: i64| (a as i128 * b as i128 / c.max(1) as i128) as i64;
        let y_base = mul(self.notional_e8, pow10(sy.price_dec), py.0);
        let lot_y = sy.base_amount(sy.lot_size, py).0;
        let lot_x = mul(sx.base_amount(sx.lot_size, px).0, 100_000_000, hedge_e8);
        let (qy, qx) = if lot_y >= lot_x {
            let qy = sy.qty_for_base_floor(Amount(y_base), py);
            let xb = mul(sy.base_amount(qy, py).0, hedge_e8, 100_000_000);
            (qy, sx.qty_for_base_floor(Amount(xb), px))
        } else {
            let qx = sx.qty_for_base_floor(Amount(mul(y_base, hedge_e8, 100_000_000)), px);
            let yb = mul(sx.base_amount(qx, px).0, 100_000_000, hedge_e8);
            (sy.qty_for_base_floor(Amount(yb), py), qx)
        };
        (qy.0 > 0 && qx.0 > 0).then_some((qy, qx))
    }

    /// What the gate said about an opportunity from [`StatArb::on_message_end`].
    pub fn on_gate(&mut self, o: &Opportunity, approved: bool) {
        let Strategy::Pair(p) = o.strategy else {
            return;
        };
        if !approved {
            self.counts.rejected += 1;
            return;
        }
        self.counts.traded += 1;
        self.pending_trade = o.id;
        if p.action == PairAction::Open {
            self.next_position += 1;
            self.pos = PositionSummary {
                id: p.position,
                long_spread: p.long_spread,
                entry_ns: p.entry_ns,
                entry_z: p.z_e6 as f64 / 1e6,
                hedge_ratio: p.hedge_e8 as f64 / 1e8,
                exit_reason: "open",
                marks_e8: p.marks_e8,
                ..PositionSummary::default()
            };
            self.state = PosState::Opening;
        } else {
            self.pos.exit_z = p.z_e6 as f64 / 1e6;
            self.pos.exit_reason = p.action.as_str();
            self.state = PosState::Closing;
        }
    }

    /// A trade of this strategy finished: the position holds what it says.
    pub fn on_trade_done(&mut self, rec: &TradeRecord) {
        let Strategy::Pair(p) = rec.opp.strategy else {
            return;
        };
        if rec.id != self.pending_trade {
            return;
        }
        let r = rec.pair;
        self.pos.cash = r.cash.0;
        self.pos.fees_usd = r.fees.0;
        self.pos.attributed = p.attributed.0 + rec.gross_pnl_usd.0;
        self.pos.held = [r.held[0].0, r.held[1].0];
        self.pos.marks_e8 = r.marks_e8;
        self.pos.gross_usd = r.position_gross.0;
        if r.flat {
            self.pos.exit_ns = rec.done_ns;
            if p.action == PairAction::Open {
                // nothing (or only what the one-leg policy closed again) stayed on
                self.pos.exit_reason = "entry_failed";
                self.pos.exit_z = p.z_e6 as f64 / 1e6;
            }
            if self.positions.len() < POSITIONS_KEPT {
                self.positions.push(self.pos);
            }
            self.state = PosState::Flat;
        } else {
            // open, or a close that left some on: try again at the next sample
            self.pos.exit_reason = "open";
            self.state = PosState::Open;
        }
    }

    /// End of the run: stop the estimator and keep its fit history; an open position is
    /// added to [`StatArb::positions`] as it stands.
    pub fn finish(&mut self) {
        if let Some(l) = self.link.take() {
            if let Some(e) = l.finish() {
                self.fits = e.history;
            }
        }
        if matches!(
            self.state,
            PosState::Open | PosState::Closing | PosState::Opening
        ) && self.positions.len() < POSITIONS_KEPT
        {
            let mut p = self.pos;
            p.exit_reason = "open";
            self.positions.push(p);
            self.state = PosState::Flat;
        }
    }
}

/// A price as quote per base unit ×1e8.
fn px_e8(spec: &InstrumentSpec, p: Price) -> i64 {
    (p.0 as i128 * 100_000_000 / pow10(spec.price_dec) as i128) as i64
}

fn py_f(m: &Market, i: InstrumentId) -> f64 {
    mid(m, i)
        .map(|p| px_f64(&m.specs[i.idx()], p))
        .unwrap_or(0.0)
}

/// The report's `stat` section (`null` without `[stat]`).
pub fn report(setup: &Setup, s: Option<&StatArb>, m: &Market) -> serde_json::Value {
    use serde_json::json;
    let (Some(s), Some(ss)) = (s, setup.stat.as_ref()) else {
        return serde_json::Value::Null;
    };
    let e8 = |x: i64| (x as f64 / 1e8 * 1e6).round() / 1e6;
    let c = &ss.cfg;
    let name = |i: InstrumentId| {
        let sp = &setup.instruments[i.idx()];
        format!("{}:{}", sp.venue_name, sp.symbol)
    };
    let positions: Vec<serde_json::Value> = s
        .positions
        .iter()
        .map(|p| {
            let open = p.exit_reason == "open";
            // an open position is marked at the final mids
            let gross = if open {
                let mut v = p.cash;
                for (k, i) in [s.y, s.x].into_iter().enumerate() {
                    let mark = mid(m, i)
                        .map(|px| px_e8(&m.specs[i.idx()], px))
                        .unwrap_or(p.marks_e8[k]);
                    v += (p.held[k] as i128 * mark as i128 / 100_000_000) as i64;
                }
                v
            } else {
                p.gross_usd
            };
            json!({
                "id": p.id,
                "side": if p.long_spread { "long_spread" } else { "short_spread" },
                "entry_ns": p.entry_ns,
                "entry_z": (p.entry_z * 1e4).round() / 1e4,
                "hedge_ratio": p.hedge_ratio,
                "exit_ns": if open { serde_json::Value::Null } else { json!(p.exit_ns) },
                "exit_z": if open { serde_json::Value::Null } else { json!((p.exit_z * 1e4).round() / 1e4) },
                "exit_reason": p.exit_reason,
                "holding_ns": if open { m.now_ns.saturating_sub(p.entry_ns) } else { p.exit_ns.saturating_sub(p.entry_ns) },
                "gross_pnl_usd": e8(gross),
                "fees_usd": e8(p.fees_usd),
                "net_pnl_usd": e8(gross - p.fees_usd),
                "pnl_basis": if open { "marked to market at the final mids" } else { "realised" },
                "held_base": [e8(p.held[0]), e8(p.held[1])],
            })
        })
        .collect();
    let fits: Vec<serde_json::Value> = s
        .fits
        .iter()
        .map(|f| match f.coint {
            Some(k) => json!({
                "samples": f.samples, "at_ns": f.at_ns, "n_obs": k.n_obs,
                "hedge_ratio": k.hedge_ratio, "intercept": k.intercept,
                "t_stat": if k.t_stat.is_finite() { json!(k.t_stat) } else { serde_json::Value::Null },
                "p_value": k.p_value, "lags": k.lags,
                "spread_mean": k.spread_mean, "spread_std": k.spread_std, "passed": f.passed,
            }),
            None => json!({"samples": f.samples, "at_ns": f.at_ns, "error": "the test could not run (constant series)", "passed": false}),
        })
        .collect();
    let closed: Vec<&PositionSummary> = s
        .positions
        .iter()
        .filter(|p| p.exit_reason != "open")
        .collect();
    let net_closed: i64 = closed.iter().map(|p| p.gross_usd - p.fees_usd).sum();
    let winners = closed
        .iter()
        .filter(|p| p.gross_usd - p.fees_usd > 0)
        .count();
    let n = c.fit_window_samples;
    json!({
        "y": name(s.y),
        "x": name(s.x),
        "sample_interval_ns": c.sample_interval_ns,
        "zscore_window_samples": c.zscore_window_samples,
        "fit_window_samples": n,
        "refit_every_samples": c.refit_every_samples,
        "entry_z": c.entry_z, "exit_z": c.exit_z, "stop_z": c.stop_z,
        "max_holding_ns": c.max_holding_ns,
        "max_p_value": c.max_p_value,
        "started_from_params_file": ss.initial.is_some(),
        "counts": s.counts,
        "fits": fits,
        "positions": positions,
        "closed_positions": closed.len(),
        "closed_net_pnl_usd": e8(net_closed),
        "closed_winners": winners,
        "sample_size_note": format!(
            "{} samples of {} s were taken; each fit uses {} of them, so the ADF regression has about {} observations and tries up to {} lags. MacKinnon's p-values are asymptotic (response surfaces for large samples): with a few hundred observations the test has little power and its p-value is only indicative; a spread that tests stationary over two minutes of one-second mids (spot vs perpetual basis) says little about the next hour. Fit on long histories (`arbot fit-pair` on a month of one-minute klines) before trusting it.",
            s.counts.samples,
            c.sample_interval_ns as f64 / 1e9,
            n,
            n.saturating_sub(1 + coint::default_maxlag(n)),
            coint::default_maxlag(n)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_summary_is_copy_and_serialises() {
        let p = PositionSummary {
            id: 1,
            exit_reason: "open",
            ..PositionSummary::default()
        };
        let v = serde_json::to_value(p).unwrap();
        assert_eq!(v["id"], 1);
    }
}
