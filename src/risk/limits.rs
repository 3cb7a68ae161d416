//! Loss limits and the circuit breaker (R4.2), trade-rate limits (R4.3).
//!
//! **Equity** is marked to market: starting capital (`risk.equity_usd`, or the configured
//! balances valued at the first mids, [`EquityBasis`]) plus the run's mark-to-market PnL
//! (every fill's cash flows and fees plus the open inventory at the books' mids:
//! [`crate::pnl::PnlBook::equity_mark`]). The detection core re-marks it every
//! `risk.mark_interval_ns` of data time and at every trade completion; nothing here allocates
//! after start.
//!
//! **Limits** (each trips the breaker):
//! - daily loss: equity at the start of the UTC day (data time) − equity now ≥ the smaller of
//!   `max_daily_loss_usd` and `max_daily_loss_pct` of the day's starting equity;
//! - drawdown: equity ≥ `max_drawdown_pct` below its high-water mark;
//! - consecutive losses: `max_consecutive_losses` trades in a row whose own flows and fees,
//!   with the base they leave valued at the mids when they complete, are < 0 (a trade that
//!   filled nothing is neither a win nor a loss).
//!
//! **Breaker**: closed → open on a breach (no new trades; unwinds and cancels still go) →
//! half-open once `breaker_cooldown_ns` has passed and the daily loss limit is no longer
//! breached (it resets at the next UTC day) → closed after `breaker_probe_trades` probe trades
//! that did not lose (probes go one at a time), or open again on a losing probe. Going
//! half-open re-bases the drawdown high-water mark to the equity then and clears the losing
//! streak: the drawdown limit measures from the high since trading last resumed. A stop (kill
//! switch, SIGTERM) moves it to `stopped` for the rest of the run. Every transition is an event
//! with its data time and message index (journal `breaker.jsonl`, the log, the report).
//!
//! **Trade rate**: at most `max_trades_per_hour` approvals in any rolling hour and
//! `max_trades_per_day` per UTC day; a refusal is a signal status, not a trip.
//!
//! **Daily results**: one [`DayRecord`] per UTC day (trades completed, volume, fees, the
//! trades' own net, mark-to-market PnL from the day's starting equity, breaker trips, the
//! deepest drawdown), handed to the cold thread when the day ends and at the end of the run
//! (journal `daily.jsonl`).
#![forbid(unsafe_code)]

use crate::book::Market;
use crate::config::{GroupSetup, Setup, VenueSetup};
use crate::instrument::InstrumentSpec;
use crate::journal::{SignalStatus, TradeRecord};
use crate::types::{InstrumentId, Nanos, AMOUNT_ONE};

/// One UTC day, ns.
pub const DAY_NS: u64 = 86_400_000_000_000;
/// One hour, ns.
pub const HOUR_NS: u64 = 3_600_000_000_000;

fn mul_div(a: i64, b: i64, c: i64) -> i64 {
    if c == 0 {
        return 0;
    }
    (a as i128 * b as i128 / c as i128).clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// How the configured starting balances are valued in USD when `risk.equity_usd` is 0.
#[derive(Clone, Debug, Default)]
pub struct EquityBasis {
    /// Balances in a group's quote asset, valued at its `quote_usd`, 1e-8 USD.
    fixed_e8: i64,
    /// Balances of a group's base asset: (amount 1e-8, members whose mid values it, first
    /// with a book wins; USD per quote unit ×1e8).
    base: Vec<(i64, Vec<InstrumentId>, i64)>,
}

impl EquityBasis {
    /// From the venues' balances; an asset no group quotes or trades cannot be valued: the
    /// error names its key.
    pub fn new(
        venues: &[VenueSetup],
        instruments: &[InstrumentSpec],
        groups: &[GroupSetup],
    ) -> Result<EquityBasis, (String, String)> {
        let mut b = EquityBasis::default();
        for v in venues {
            for (asset, amount) in &v.cfg.balances {
                if *amount == 0.0 {
                    continue;
                }
                let e8 = (amount * AMOUNT_ONE as f64).round() as i64;
                let quoted = groups.iter().find(|g| {
                    g.members
                        .iter()
                        .any(|m| instruments[m.idx()].quote.eq_ignore_ascii_case(asset))
                });
                if let Some(g) = quoted {
                    let q = (g.quote_usd * AMOUNT_ONE as f64).round() as i64;
                    b.fixed_e8 += mul_div(e8, q, AMOUNT_ONE);
                    continue;
                }
                if let Some(g) = groups.iter().find(|g| g.asset.eq_ignore_ascii_case(asset)) {
                    let q = (g.quote_usd * AMOUNT_ONE as f64).round() as i64;
                    b.base.push((e8, g.members.clone(), q));
                    continue;
                }
                return Err((
                    format!("venues.{}.balances.{asset}", v.name),
                    format!(
                        "cannot value {asset} in USD for the loss limits (no group quotes or \
                         trades it); set risk.equity_usd"
                    ),
                ));
            }
        }
        Ok(b)
    }

    /// The balances' value at the current mids, 1e-8 USD (`None` while a base asset has no
    /// member with a two-sided book).
    pub fn value(&self, m: &Market) -> Option<i64> {
        let mut v = self.fixed_e8;
        for (amount, members, q) in &self.base {
            let (i, mid2) = members
                .iter()
                .find_map(|i| crate::pnl::mid_x2(m, *i).map(|p| (*i, p)))?;
            let spec = &m.specs[i.idx()];
            let quote = mul_div(*amount, mid2.0, 2 * crate::types::pow10(spec.price_dec));
            v += mul_div(quote, *q, AMOUNT_ONE);
        }
        Some(v)
    }
}

/// Breaker state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum BreakerState {
    /// Trading.
    #[default]
    Closed = 0,
    /// Tripped: no new trades until the cooldown has passed.
    Open,
    /// Probing: one trade at a time.
    HalfOpen,
    /// Stopped for the rest of the run (kill switch, SIGTERM).
    Stopped,
}

impl BreakerState {
    /// Journal spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
            BreakerState::Stopped => "stopped",
        }
    }
    /// From the journal spelling.
    pub fn parse(s: &str) -> Option<BreakerState> {
        Some(match s {
            "closed" => BreakerState::Closed,
            "open" => BreakerState::Open,
            "half_open" => BreakerState::HalfOpen,
            "stopped" => BreakerState::Stopped,
            _ => return None,
        })
    }
}

/// Why the breaker moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum Cause {
    /// Daily loss limit.
    #[default]
    DailyLoss = 0,
    /// Drawdown from the high-water mark.
    Drawdown,
    /// Losing trades in a row.
    ConsecutiveLosses,
    /// A half-open probe lost.
    ProbeLoss,
    /// The cooldown passed.
    CooldownOver,
    /// Enough probes did not lose.
    ProbesGood,
    /// The kill-switch file appeared.
    KillSwitchFile,
    /// SIGUSR1.
    KillSignal,
    /// SIGTERM / SIGINT: a clean stop.
    Terminate,
    /// `run.max_runtime_ns` passed (paper).
    RuntimeLimit,
}

impl Cause {
    /// Journal spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::DailyLoss => "daily_loss",
            Cause::Drawdown => "drawdown",
            Cause::ConsecutiveLosses => "consecutive_losses",
            Cause::ProbeLoss => "probe_loss",
            Cause::CooldownOver => "cooldown_over",
            Cause::ProbesGood => "probes_good",
            Cause::KillSwitchFile => "kill_switch_file",
            Cause::KillSignal => "kill_signal",
            Cause::Terminate => "terminate",
            Cause::RuntimeLimit => "runtime_limit",
        }
    }
}

/// A breaker transition.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BreakerEvent {
    /// Data time, ns since the epoch.
    pub data_ns: Nanos,
    /// Index of the last message applied when it happened.
    pub msg_seq: u64,
    /// From.
    pub from: BreakerState,
    /// To.
    pub to: BreakerState,
    /// Why.
    pub cause: Cause,
    /// Equity then (0 while unknown), 1e-8 USD.
    pub equity_e8: i64,
    /// High-water mark then, 1e-8 USD.
    pub hwm_e8: i64,
    /// Equity at the start of the UTC day, 1e-8 USD.
    pub day_start_e8: i64,
    /// Drawdown from the high-water mark then, parts per million.
    pub drawdown_ppm: i64,
    /// Losing trades in a row then.
    pub consecutive_losses: u32,
    /// Probe trades that did not lose so far (half-open).
    pub probes_ok: u32,
    /// End of the cooldown (to `open`), else 0.
    pub until_ns: Nanos,
}

/// The results of one UTC day.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DayRecord {
    /// Days since the epoch.
    pub day: u64,
    /// The day ended (false: the run stopped during it).
    pub complete: bool,
    /// Trades completed.
    pub trades: u64,
    /// Traded notional, all legs, 1e-8 USD.
    pub volume_e8: i64,
    /// Fees, 1e-8 USD.
    pub fees_e8: i64,
    /// Σ of the trades' own net PnL (each trade's fills and fees, its residual at its last
    /// fill), 1e-8 USD.
    pub realized_e8: i64,
    /// Equity at the start of the day (or of the run), 1e-8 USD.
    pub start_equity_e8: i64,
    /// Equity at its end, 1e-8 USD (mark-to-market PnL = end − start).
    pub end_equity_e8: i64,
    /// Breaker trips (to `open`).
    pub trips: u32,
    /// Deepest drawdown from the high-water mark seen that day, parts per million.
    pub max_drawdown_ppm: i64,
}

/// What the limits hand to the cold thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitEvent {
    /// A breaker transition.
    Breaker(BreakerEvent),
    /// A day's results.
    Day(DayRecord),
}

/// Trades approved per rolling hour and per UTC day (R4.3).
#[derive(Clone, Debug)]
pub struct TradeRate {
    times: Vec<Nanos>,
    head: usize,
    len: usize,
    day: u64,
    today: u32,
    max_day: u32,
}

impl TradeRate {
    /// At most `per_hour` in any rolling hour, `per_day` per UTC day.
    pub fn new(per_hour: u32, per_day: u32) -> TradeRate {
        TradeRate {
            times: vec![0; per_hour.max(1) as usize],
            head: 0,
            len: 0,
            day: u64::MAX,
            today: 0,
            max_day: per_day,
        }
    }

    /// May one more trade be approved at `now`?
    pub fn allow(&self, now: Nanos) -> Result<(), SignalStatus> {
        if self.len == self.times.len() && now < self.times[self.head].saturating_add(HOUR_NS) {
            return Err(SignalStatus::RateLimitHour);
        }
        if now / DAY_NS == self.day && self.today >= self.max_day {
            return Err(SignalStatus::RateLimitDay);
        }
        Ok(())
    }

    /// A trade was approved at `now`.
    pub fn record(&mut self, now: Nanos) {
        let cap = self.times.len();
        if self.len < cap {
            self.times[(self.head + self.len) % cap] = now;
            self.len += 1;
        } else {
            self.times[self.head] = now;
            self.head = (self.head + 1) % cap;
        }
        if now / DAY_NS != self.day {
            self.day = now / DAY_NS;
            self.today = 0;
        }
        self.today += 1;
    }

    /// Approvals in the hour up to `now` and so far in `now`'s UTC day.
    pub fn counts(&self, now: Nanos) -> (u32, u32) {
        let cap = self.times.len();
        let hour = (0..self.len)
            .filter(|k| now < self.times[(self.head + k) % cap].saturating_add(HOUR_NS))
            .count() as u32;
        let day = if now / DAY_NS == self.day {
            self.today
        } else {
            0
        };
        (hour, day)
    }
}

/// What a checkpoint records of the limits (for a resume in paper/live and as a check in
/// replay).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LimitsSnapshot {
    /// Breaker state.
    pub state: BreakerState,
    /// Since.
    pub since_ns: Nanos,
    /// End of the cooldown (open).
    pub until_ns: Nanos,
    /// Probes that did not lose (half-open).
    pub probes_ok: u32,
    /// Starting equity (0 = not known yet), 1e-8 USD.
    pub start_equity_e8: i64,
    /// Equity at the last mark, 1e-8 USD.
    pub equity_e8: i64,
    /// High-water mark, 1e-8 USD.
    pub hwm_e8: i64,
    /// UTC day (days since the epoch; `u64::MAX` before the first mark).
    pub day: u64,
    /// Equity at the start of that day, 1e-8 USD.
    pub day_start_e8: i64,
    /// Losing trades in a row.
    pub consecutive_losses: u32,
    /// Breaker trips so far.
    pub trips: u64,
    /// Deepest drawdown of the run so far, ppm.
    pub max_drawdown_ppm: i64,
    /// The day's results so far.
    pub today: DayRecord,
}

/// Loss limits, breaker and trade rate.
#[derive(Clone, Debug)]
pub struct Limits {
    daily_usd_e8: i64,
    daily_ppm: i64,
    drawdown_ppm: i64,
    max_losses: u32,
    cooldown_ns: u64,
    probes_needed: u32,
    mark_ns: u64,
    basis: Option<EquityBasis>,
    /// Breaker state.
    pub state: BreakerState,
    since_ns: Nanos,
    until_ns: Nanos,
    probes_ok: u32,
    start_equity_e8: Option<i64>,
    /// Equity at the last mark (0 while unknown), 1e-8 USD.
    pub equity_e8: i64,
    /// High-water mark, 1e-8 USD.
    pub hwm_e8: i64,
    day: u64,
    day_start_e8: i64,
    consecutive_losses: u32,
    /// Deepest drawdown of the run, ppm.
    pub max_drawdown_ppm: i64,
    next_mark_ns: Nanos,
    /// Trade rate.
    pub rate: TradeRate,
    today: DayRecord,
    events: Vec<LimitEvent>,
    /// Every transition so far (for the report; at most [`TRANSITIONS_KEPT`]).
    pub transitions: Vec<BreakerEvent>,
    /// Transitions beyond [`TRANSITIONS_KEPT`] (journaled, not kept for the report).
    pub transitions_not_kept: u64,
    /// Trips (to `open`).
    pub trips: u64,
    /// Marks done.
    pub marks: u64,
}

/// Transitions kept in memory for the report.
pub const TRANSITIONS_KEPT: usize = 4096;
const EVENTS_CAP: usize = 64;

impl Limits {
    /// From a resolved config.
    pub fn new(setup: &Setup) -> Limits {
        let r = &setup.cfg.risk;
        let basis = if r.equity_usd > 0.0 {
            None
        } else {
            // validated at load
            EquityBasis::new(&setup.venues, &setup.instruments, &setup.groups).ok()
        };
        let start = (r.equity_usd > 0.0).then(|| (r.equity_usd * AMOUNT_ONE as f64).round() as i64);
        Limits {
            daily_usd_e8: (r.max_daily_loss_usd * AMOUNT_ONE as f64).round() as i64,
            daily_ppm: (r.max_daily_loss_pct * 10_000.0).round() as i64,
            drawdown_ppm: (r.max_drawdown_pct * 10_000.0).round() as i64,
            max_losses: r.max_consecutive_losses,
            cooldown_ns: r.breaker_cooldown_ns,
            probes_needed: r.breaker_probe_trades,
            mark_ns: r.mark_interval_ns.max(1),
            basis,
            state: BreakerState::Closed,
            since_ns: 0,
            until_ns: 0,
            probes_ok: 0,
            start_equity_e8: start,
            equity_e8: start.unwrap_or(0),
            hwm_e8: start.unwrap_or(0),
            day: u64::MAX,
            day_start_e8: start.unwrap_or(0),
            consecutive_losses: 0,
            max_drawdown_ppm: 0,
            next_mark_ns: 0,
            rate: TradeRate::new(r.max_trades_per_hour, r.max_trades_per_day),
            today: DayRecord::default(),
            events: Vec::with_capacity(EVENTS_CAP),
            transitions: Vec::with_capacity(TRANSITIONS_KEPT),
            transitions_not_kept: 0,
            trips: 0,
            marks: 0,
        }
    }

    /// Starting equity, once known, 1e-8 USD.
    pub fn start_equity(&self) -> Option<i64> {
        self.start_equity_e8
    }

    /// May a new trade be approved (breaker and stop; the rate is [`TradeRate::allow`])?
    /// `in_flight` = trades not yet final (a half-open breaker lets one probe go at a time).
    pub fn allow(&self, in_flight: u32) -> Result<(), SignalStatus> {
        match self.state {
            BreakerState::Closed => Ok(()),
            BreakerState::HalfOpen if in_flight == 0 => Ok(()),
            BreakerState::HalfOpen => Err(SignalStatus::BreakerProbeBusy),
            BreakerState::Open => Err(SignalStatus::BreakerOpen),
            BreakerState::Stopped => Err(SignalStatus::Stopped),
        }
    }

    /// Is a re-mark due at `now`?
    #[inline]
    pub fn mark_due(&self, now: Nanos) -> bool {
        now >= self.next_mark_ns
    }

    fn drawdown_ppm(&self) -> i64 {
        if self.hwm_e8 <= 0 || self.equity_e8 >= self.hwm_e8 {
            return 0;
        }
        mul_div(self.hwm_e8 - self.equity_e8, 1_000_000, self.hwm_e8)
    }

    fn daily_breached(&self) -> bool {
        let loss = self.day_start_e8 - self.equity_e8;
        let limit =
            self.daily_usd_e8
                .min(mul_div(self.day_start_e8.max(0), self.daily_ppm, 1_000_000));
        loss > 0 && loss >= limit
    }

    fn event(&self, now: Nanos, msg: u64, from: BreakerState, cause: Cause) -> BreakerEvent {
        BreakerEvent {
            data_ns: now,
            msg_seq: msg,
            from,
            to: self.state,
            cause,
            equity_e8: self.equity_e8,
            hwm_e8: self.hwm_e8,
            day_start_e8: self.day_start_e8,
            drawdown_ppm: self.drawdown_ppm(),
            consecutive_losses: self.consecutive_losses,
            probes_ok: self.probes_ok,
            until_ns: if self.state == BreakerState::Open {
                self.until_ns
            } else {
                0
            },
        }
    }

    fn push(&mut self, e: LimitEvent) {
        if self.events.len() < EVENTS_CAP {
            self.events.push(e);
        }
    }

    fn go(&mut self, now: Nanos, msg: u64, to: BreakerState, cause: Cause) {
        let from = self.state;
        self.state = to;
        self.since_ns = now;
        match to {
            BreakerState::Open => {
                self.until_ns = now.saturating_add(self.cooldown_ns);
                self.trips += 1;
                self.today.trips += 1;
                self.probes_ok = 0;
            }
            BreakerState::HalfOpen => {
                // probing starts afresh: the drawdown measures from here, the streak is cleared
                self.hwm_e8 = self.equity_e8;
                self.consecutive_losses = 0;
                self.probes_ok = 0;
                self.until_ns = 0;
            }
            BreakerState::Closed | BreakerState::Stopped => self.until_ns = 0,
        }
        let ev = self.event(now, msg, from, cause);
        if self.transitions.len() < TRANSITIONS_KEPT {
            self.transitions.push(ev);
        } else {
            self.transitions_not_kept += 1;
        }
        self.push(LimitEvent::Breaker(ev));
    }

    /// Roll the UTC day over if `now` is in a new one (the old day's record goes out).
    fn roll_day(&mut self, now: Nanos) {
        let d = now / DAY_NS;
        if d == self.day {
            return;
        }
        if self.day != u64::MAX {
            self.today.end_equity_e8 = self.equity_e8;
            self.today.complete = true;
            let rec = self.today;
            self.push(LimitEvent::Day(rec));
        }
        self.day = d;
        self.day_start_e8 = self.equity_e8;
        self.today = DayRecord {
            day: d,
            start_equity_e8: self.equity_e8,
            end_equity_e8: self.equity_e8,
            ..DayRecord::default()
        };
    }

    /// New equity (starting capital + `mtm_e8`) at `now`: high-water mark, drawdown, day.
    /// `false` while the starting equity is not known.
    fn update_equity(&mut self, now: Nanos, mtm_e8: i64, m: &Market) -> bool {
        if self.start_equity_e8.is_none() {
            let Some(v) = self.basis.as_ref().and_then(|b| b.value(m)) else {
                return false;
            };
            // the balances are valued once, before this run's own flows move them
            self.start_equity_e8 = Some(v - mtm_e8);
            self.hwm_e8 = v;
            self.equity_e8 = v;
        }
        self.equity_e8 = self.start_equity_e8.unwrap_or(0) + mtm_e8;
        self.roll_day(now);
        if self.equity_e8 > self.hwm_e8 {
            self.hwm_e8 = self.equity_e8;
        }
        let dd = self.drawdown_ppm();
        self.max_drawdown_ppm = self.max_drawdown_ppm.max(dd);
        self.today.max_drawdown_ppm = self.today.max_drawdown_ppm.max(dd);
        self.today.end_equity_e8 = self.equity_e8;
        true
    }

    fn check_breaches(&mut self, now: Nanos, msg: u64) {
        if !matches!(self.state, BreakerState::Closed | BreakerState::HalfOpen) {
            return;
        }
        let cause = if self.daily_breached() {
            Cause::DailyLoss
        } else if self.drawdown_ppm() >= self.drawdown_ppm && self.drawdown_ppm() > 0 {
            Cause::Drawdown
        } else if self.consecutive_losses >= self.max_losses {
            Cause::ConsecutiveLosses
        } else {
            return;
        };
        self.go(now, msg, BreakerState::Open, cause);
    }

    /// Re-mark at `now` (`mtm_e8` = the run's mark-to-market PnL now); `msg` = index of the
    /// last message applied. Moves an open breaker to half-open once its cooldown is over.
    pub fn on_mark(&mut self, now: Nanos, msg: u64, mtm_e8: i64, m: &Market) {
        self.next_mark_ns = (now / self.mark_ns + 1) * self.mark_ns;
        self.marks += 1;
        if !self.update_equity(now, mtm_e8, m) {
            return;
        }
        if self.state == BreakerState::Open && now >= self.until_ns && !self.daily_breached() {
            self.go(now, msg, BreakerState::HalfOpen, Cause::CooldownOver);
        }
        self.check_breaches(now, msg);
    }

    /// A trade was approved at `now`.
    pub fn on_approved(&mut self, now: Nanos) {
        self.rate.record(now);
    }

    /// A trade completed at `now`: `trade_mtm_e8` = its own flows with its base at the mids
    /// now, `mtm_e8` = the run's mark-to-market PnL now.
    pub fn on_trade_done(
        &mut self,
        now: Nanos,
        msg: u64,
        rec: &TradeRecord,
        trade_mtm_e8: i64,
        mtm_e8: i64,
        m: &Market,
    ) {
        let known = self.update_equity(now, mtm_e8, m);
        if !known {
            self.roll_day(now);
        }
        self.today.trades += 1;
        self.today.volume_e8 += rec.legs[..rec.n_legs as usize]
            .iter()
            .map(|l| l.quote.0)
            .sum::<i64>();
        self.today.fees_e8 += rec.fees_usd.0;
        self.today.realized_e8 += rec.net_pnl_usd.0;
        if trade_mtm_e8 < 0 {
            self.consecutive_losses += 1;
        } else if trade_mtm_e8 > 0 {
            self.consecutive_losses = 0;
        }
        if self.state == BreakerState::HalfOpen {
            if trade_mtm_e8 < 0 {
                self.go(now, msg, BreakerState::Open, Cause::ProbeLoss);
                return;
            }
            let filled = rec.legs[..rec.n_legs as usize]
                .iter()
                .any(|l| l.filled_qty.0 > 0);
            if filled {
                self.probes_ok += 1;
                if self.probes_ok >= self.probes_needed {
                    self.go(now, msg, BreakerState::Closed, Cause::ProbesGood);
                }
            }
        }
        if known {
            self.check_breaches(now, msg);
        } else if self.state == BreakerState::Closed && self.consecutive_losses >= self.max_losses {
            self.go(now, msg, BreakerState::Open, Cause::ConsecutiveLosses);
        }
    }

    /// The run stops (kill switch, SIGTERM): no trade for the rest of it.
    pub fn stop(&mut self, now: Nanos, msg: u64, cause: Cause) {
        if self.state != BreakerState::Stopped {
            self.go(now, msg, BreakerState::Stopped, cause);
        }
    }

    /// The run ends: the current day's results so far go out (`complete = false`).
    pub fn end(&mut self, _now: Nanos) {
        if self.day != u64::MAX {
            self.today.end_equity_e8 = self.equity_e8;
            self.today.complete = false;
            let rec = self.today;
            self.push(LimitEvent::Day(rec));
        }
    }

    /// Hand the pending events to `f`.
    pub fn drain(&mut self, f: &mut impl FnMut(LimitEvent)) {
        for e in self.events.drain(..) {
            f(e);
        }
    }

    /// The state a checkpoint records.
    pub fn snapshot(&self) -> LimitsSnapshot {
        LimitsSnapshot {
            state: self.state,
            since_ns: self.since_ns,
            until_ns: self.until_ns,
            probes_ok: self.probes_ok,
            start_equity_e8: self.start_equity_e8.unwrap_or(0),
            equity_e8: self.equity_e8,
            hwm_e8: self.hwm_e8,
            day: self.day,
            day_start_e8: self.day_start_e8,
            consecutive_losses: self.consecutive_losses,
            trips: self.trips,
            max_drawdown_ppm: self.max_drawdown_ppm,
            today: self.today,
        }
    }

    /// Continue from a checkpoint's state (paper/live resume). A stopped breaker comes back
    /// as it was before the stop (the restart is the operator's decision): `before_stop`.
    pub fn restore(&mut self, s: &LimitsSnapshot, before_stop: BreakerState) {
        self.state = if s.state == BreakerState::Stopped {
            before_stop
        } else {
            s.state
        };
        self.since_ns = s.since_ns;
        self.until_ns = s.until_ns;
        self.probes_ok = s.probes_ok;
        if s.start_equity_e8 != 0 {
            self.start_equity_e8 = Some(s.start_equity_e8);
        }
        self.equity_e8 = s.equity_e8;
        self.hwm_e8 = s.hwm_e8;
        self.day = s.day;
        self.day_start_e8 = s.day_start_e8;
        self.consecutive_losses = s.consecutive_losses;
        self.trips = s.trips;
        self.max_drawdown_ppm = s.max_drawdown_ppm;
        self.today = s.today;
    }

    /// Limits in force now (daily loss limit in 1e-8 USD given today's starting equity).
    pub fn daily_limit_e8(&self) -> i64 {
        self.daily_usd_e8
            .min(mul_div(self.day_start_e8.max(0), self.daily_ppm, 1_000_000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{LegFill, TradeStatus};
    use crate::testkit::{set_book, two_venue_setup};
    use crate::types::{Amount, Qty};

    const T0: u64 = 1_723_161_300_000_000_000; // 2024-08-08 23:55 UTC

    fn limits(extra: &str) -> (Limits, Market) {
        let s = two_venue_setup(1.0, 1.0, &format!("[risk]\nequity_usd = 10000.0\n{extra}"));
        let mut m = Market::new(&s);
        set_book(
            &mut m,
            InstrumentId(0),
            &[(9_990, 1_000)],
            &[(10_010, 1_000)],
            1,
        );
        (Limits::new(&s), m)
    }

    fn trade(filled: bool) -> TradeRecord {
        let mut r = TradeRecord {
            n_legs: 2,
            status: TradeStatus::Filled,
            ..TradeRecord::default()
        };
        if filled {
            r.legs[0] = LegFill {
                filled_qty: Qty(1),
                quote: Amount::from_f64(100.0),
                ..LegFill::default()
            };
        }
        r
    }

    fn states(l: &mut Limits) -> Vec<(BreakerState, Cause, u64)> {
        let mut v = vec![];
        l.drain(&mut |e| {
            if let LimitEvent::Breaker(b) = e {
                v.push((b.to, b.cause, b.msg_seq))
            }
        });
        v
    }

    const E: i64 = AMOUNT_ONE;

    #[test]
    fn daily_loss_trips_at_the_smaller_limit_and_holds_until_the_next_day() {
        // 1 % of 10,000 = 100 USD < 500 USD
        let (mut l, m) = limits("breaker_cooldown_ns = 1_000_000_000");
        l.on_mark(T0, 1, 0, &m);
        assert_eq!(l.daily_limit_e8(), 100 * E);
        l.on_mark(T0 + 100_000_000, 2, -99 * E, &m);
        assert_eq!(l.state, BreakerState::Closed);
        l.on_mark(T0 + 200_000_000, 3, -100 * E, &m);
        assert_eq!(
            states(&mut l),
            vec![(BreakerState::Open, Cause::DailyLoss, 3)]
        );
        assert_eq!(l.allow(0), Err(SignalStatus::BreakerOpen));
        // the cooldown passes, but today's loss is still beyond the limit: stays open
        l.on_mark(T0 + 5_000_000_000, 4, -100 * E, &m);
        assert_eq!(l.state, BreakerState::Open);
        // a new UTC day: the day's loss starts from the equity now
        let next_day = (T0 / DAY_NS + 1) * DAY_NS;
        let mut days = vec![];
        l.on_mark(next_day + 1, 5, -100 * E, &m);
        l.drain(&mut |e| {
            if let LimitEvent::Day(d) = e {
                days.push(d)
            }
        });
        assert_eq!(l.state, BreakerState::HalfOpen);
        assert_eq!(days.len(), 1);
        assert!(days[0].complete && days[0].trips == 1);
        assert_eq!(days[0].end_equity_e8 - days[0].start_equity_e8, -100 * E);
    }

    #[test]
    fn drawdown_is_measured_from_the_high_water_mark() {
        let (mut l, m) = limits("max_daily_loss_usd = 100000.0\nmax_daily_loss_pct = 100.0");
        l.on_mark(T0, 1, 1_000 * E, &m); // equity 11,000: new high
        l.on_mark(T0 + 1, 2, 1_000 * E - 549 * E, &m); // 4.99 % below
        assert_eq!(l.state, BreakerState::Closed);
        l.on_mark(T0 + 2, 3, 1_000 * E - 550 * E, &m); // 5 % below 11,000
        assert_eq!(
            states(&mut l),
            vec![(BreakerState::Open, Cause::Drawdown, 3)]
        );
        assert_eq!(l.max_drawdown_ppm, 50_000);
    }

    #[test]
    fn drawdown_limit_is_the_configured_percentage() {
        let (mut l, m) = limits(
            "max_daily_loss_usd = 100000.0\nmax_daily_loss_pct = 100.0\nmax_drawdown_pct = 2.0",
        );
        l.on_mark(T0, 1, 0, &m); // equity 10,000
        l.on_mark(T0 + 1, 2, -199 * E, &m); // 1.99 % below
        assert_eq!(l.state, BreakerState::Closed);
        l.on_mark(T0 + 2, 3, -200 * E, &m); // 2 %
        assert_eq!(
            states(&mut l),
            vec![(BreakerState::Open, Cause::Drawdown, 3)]
        );
    }

    #[test]
    fn the_equity_is_re_marked_every_mark_interval() {
        // T0 is on a whole second: the next mark is due one interval later, not before
        let (mut l, m) = limits("mark_interval_ns = 1_000_000_000");
        l.on_mark(T0, 1, 0, &m);
        assert!(!l.mark_due(T0 + 999_999_999));
        assert!(l.mark_due(T0 + 1_000_000_000));
        let (mut d, m) = limits("");
        d.on_mark(T0, 1, 0, &m);
        assert!(!d.mark_due(T0 + 99_999_999));
        assert!(d.mark_due(T0 + 100_000_000), "default 100 ms");
    }

    #[test]
    fn losing_streak_trips_then_probes_close_or_reopen_it() {
        let (mut l, m) = limits(
            "max_consecutive_losses = 3\nbreaker_cooldown_ns = 1000\nbreaker_probe_trades = 2",
        );
        l.on_mark(T0, 1, 0, &m);
        for k in 0..2 {
            l.on_trade_done(T0 + k, 10 + k, &trade(true), -E, -E, &m);
        }
        // a missed trade (nothing filled, 0) neither breaks nor extends the streak
        l.on_trade_done(T0 + 2, 12, &trade(false), 0, -E, &m);
        assert_eq!(l.state, BreakerState::Closed);
        l.on_trade_done(T0 + 3, 13, &trade(true), -E, -2 * E, &m);
        assert_eq!(
            states(&mut l),
            vec![(BreakerState::Open, Cause::ConsecutiveLosses, 13)]
        );
        // cooldown over → half-open; one probe at a time
        l.on_mark(T0 + 2_000, 14, -2 * E, &m);
        assert_eq!(l.state, BreakerState::HalfOpen);
        assert_eq!(l.allow(0), Ok(()));
        assert_eq!(l.allow(1), Err(SignalStatus::BreakerProbeBusy));
        // a losing probe opens it again
        l.on_trade_done(T0 + 2_001, 15, &trade(true), -E, -3 * E, &m);
        assert_eq!(l.state, BreakerState::Open);
        l.on_mark(T0 + 4_000, 16, -3 * E, &m);
        assert_eq!(l.state, BreakerState::HalfOpen);
        // two good probes close it
        l.on_trade_done(T0 + 4_001, 17, &trade(true), E, -2 * E, &m);
        assert_eq!(l.state, BreakerState::HalfOpen);
        l.on_trade_done(T0 + 4_002, 18, &trade(true), E, -E, &m);
        let s = states(&mut l);
        assert_eq!(
            s.iter().map(|x| (x.0, x.1)).collect::<Vec<_>>(),
            vec![
                (BreakerState::HalfOpen, Cause::CooldownOver),
                (BreakerState::Open, Cause::ProbeLoss),
                (BreakerState::HalfOpen, Cause::CooldownOver),
                (BreakerState::Closed, Cause::ProbesGood),
            ]
        );
        assert_eq!(l.trips, 2);
        // a stop is final
        l.stop(T0 + 5_000, 19, Cause::KillSwitchFile);
        assert_eq!(l.allow(0), Err(SignalStatus::Stopped));
    }

    #[test]
    fn trade_rate_rolls_over_the_hour_and_the_day() {
        let mut r = TradeRate::new(3, 5);
        let t = (T0 / DAY_NS) * DAY_NS + HOUR_NS; // 01:00 UTC
        for k in 0..3 {
            assert_eq!(r.allow(t + k), Ok(()));
            r.record(t + k);
        }
        assert_eq!(r.allow(t + 10), Err(SignalStatus::RateLimitHour));
        // an hour after the first one, one more fits
        assert_eq!(r.allow(t + HOUR_NS), Ok(()));
        r.record(t + HOUR_NS);
        r.record(t + 2 * HOUR_NS);
        // the one at t + 1 h has left the hour at t + 2 h
        assert_eq!(r.counts(t + 2 * HOUR_NS), (1, 5));
        // the day's 5 are used (this day has room in the hour)
        let d = (t / DAY_NS + 1) * DAY_NS - 1;
        assert_eq!(r.allow(d), Err(SignalStatus::RateLimitDay));
        assert_eq!(r.allow(d + 1), Ok(()), "a new UTC day");
    }

    #[test]
    fn equity_from_balances_at_the_first_mids() {
        // a: USDT 1,000 + BTC 1 at mid 100.00 → 1,100; b: BTC 2 → 200
        let s = crate::testkit::two_venue_setup_with(
            1.0,
            1.0,
            "USDT = 1000.0, BTC = 1.0",
            "BTC = 2.0",
            "",
        );
        let mut m = Market::new(&s);
        let mut l = Limits::new(&s);
        l.on_mark(T0, 1, 0, &m);
        assert_eq!(l.start_equity(), None, "no mid yet");
        set_book(
            &mut m,
            InstrumentId(0),
            &[(9_990, 1_000)],
            &[(10_010, 1_000)],
            1,
        );
        l.on_mark(T0 + 100_000_000, 2, 0, &m);
        assert_eq!(l.start_equity(), Some(1_300 * E));
    }
}
