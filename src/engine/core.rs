//! [`DetectionCore`]: the detection step as a plain type. It owns the books ([`Market`]), the
//! detectors (spatial, Korean premium), the risk gate and the fill simulator, and is driven by
//! three calls: [`DetectionCore::on_event`] for each market-data event, [`DetectionCore::on_exec`]
//! for each answer of the execution side, and [`DetectionCore::fire_due`] /
//! [`DetectionCore::end_of_data`] for the simulated venue. There are no threads, rings or
//! clocks inside: data time comes in with the events, the `quanta` stamps used for latency
//! figures come in as arguments, and everything the core produces goes to a [`CoreOutput`].
//!
//! The threaded engine ([`super::run_replay`], [`super::run_paper`]) drives it from the
//! detection thread between rings; a test or a single-thread backtest drives it directly
//! (`tests/detection_core.rs` replays a real recording through it and gets the threaded
//! replay's signals).
//!
//! Between messages the drivers call [`DetectionCore::at_boundary`]: it takes a stop request
//! (kill switch, SIGTERM: [`crate::control`]), cuts the journals consistently for a resume
//! (a [`crate::journal::CheckpointRecord`]), and in a resumed replay ends the catch-up where
//! the journals ended ([`crate::resume`]). The loss limits are re-marked at message ends
//! (every `risk.mark_interval_ns`) and at trade completions; their breaker transitions and
//! daily results go to the cold thread.
#![forbid(unsafe_code)]

use super::{DetLatency, TradeTotals};
use crate::book::Market;
use crate::config::Setup;
use crate::control::Control;
use crate::detect::premium::Premium;
use crate::detect::spatial::Spatial;
use crate::detect::Strategies;
use crate::event::MdEvent;
use crate::exec::sim::FillSim;
use crate::exec::{FromExec, ToExec};
use crate::journal::CheckpointRecord;
use crate::journal::{ColdMsg, CurveKind, CurvePoint, LogRecord, SignalRecord, SignalStatus};
use crate::pnl::PnlBook;
use crate::risk::limits::{Cause, LimitEvent};
use crate::risk::RiskGate;
use crate::signal::{Opportunity, Strategy};
use crate::types::{Bps, InstrumentId, Nanos, VenueId};

/// Where the core's outputs go.
pub trait CoreOutput {
    /// A message for the execution side (an approved intent, a simulated venue's answer).
    fn to_exec(&mut self, m: ToExec);
    /// A record for the cold thread (log line, signal journal).
    fn cold(&mut self, m: ColdMsg);
    /// The book of `instrument` on `venue` failed its checksum: its feed should resubscribe.
    fn resync(&mut self, venue: VenueId, instrument: InstrumentId);
}

/// Opportunities kept per message (the best ones by expected profit go first; the rest of a
/// burst is counted, not lost: see [`DetectionCore::opps_overflow`]).
pub const MAX_OPPS: usize = 64;

/// Signal counters, indexed by [`SignalStatus`] as `usize`.
pub const SIGNAL_STATUSES: usize = SignalStatus::ALL.len();

/// The detection step: books, detectors, risk gate, fill simulator.
pub struct DetectionCore {
    /// Books and their health.
    pub market: Market,
    /// Spatial detector with pair statistics.
    pub spatial: Spatial,
    /// Korean premium monitor (R2.4), if configured.
    pub premium: Option<Premium>,
    /// Triangles (R2.2) and the statistical pair (R2.3), if configured.
    pub strategies: Strategies,
    /// Risk gate (balances, reservations, limits).
    pub risk: RiskGate,
    /// Simulated venue (replay/paper).
    pub sim: FillSim,
    /// Latencies measured here.
    pub lat: DetLatency,
    /// Totals over finished trades.
    pub trades: TradeTotals,
    /// Cash flows and inventory of every fill (mark to market).
    pub pnl: PnlBook,
    /// Signals by status.
    pub signal_status: [u64; SIGNAL_STATUSES],
    /// Messages fully applied.
    pub messages: u64,
    /// Messages whose opportunities exceeded [`MAX_OPPS`] (the excess was not evaluated by
    /// the gate; counted so it is never silent).
    pub opps_overflow: u64,
    /// Execution messages answered so far (`FromExec::Ack`).
    pub acked: u64,
    /// Per signal status: data time and message index of its first signal (for the report:
    /// where each limit and guard first refused).
    pub signal_first: [(Nanos, u64); SIGNAL_STATUSES],
    /// The run was stopped (kill switch, SIGTERM) and why.
    pub stopped: Option<Cause>,
    /// A resumed replay found its journals disagree with the data (see [`Divergence`]).
    pub diverged: Option<Divergence>,
    /// Catching up on a resumed replay (see [`crate::resume`]).
    pub catch_up: Option<crate::resume::CatchUp>,
    /// Index of the last message applied.
    pub last_msg_seq: u64,
    /// Checkpoints (journal cuts) sent.
    pub checkpoints: u64,
    ckpt_last_ns: Nanos,
    ckpt_dirty: bool,
    ckpt_trade: bool,
    risk_stale_ns: u64,
    /// What to copy to the cold side after each trade for the rebalancing plan (R5.2).
    rebal: Option<crate::rebalance::Tap>,
    /// Venues halted by the reconciliation (bit per venue index).
    pub venues_halted: u64,
    dirty: Vec<InstrumentId>,
    opps: Vec<(Opportunity, usize)>,
    msg_started: bool,
    first_parsed: u64,
    first_deq: u64,
    /// PnL curve grid (`run.pnl_curve_interval_ns`) and its next grid time (0: not started).
    curve_iv_ns: u64,
    curve_next_ns: Nanos,
    /// `[status]` is on: per-stage latency percentiles are published about once a wall
    /// second ([`crate::ops::status::LATENCY`]); the stamp of the last publication.
    status_latency: bool,
    lat_pub_tsc: u64,
}

impl DetectionCore {
    /// From a resolved config. Allocates everything it will use.
    pub fn new(setup: &Setup) -> DetectionCore {
        let slip = Bps::from_num(setup.cfg.execution.unwind_max_slippage_bps);
        let risk = RiskGate::new(setup);
        let rebal = crate::rebalance::Tap::new(setup, &risk);
        DetectionCore {
            market: Market::new(setup),
            spatial: Spatial::new(setup),
            premium: Premium::new(setup),
            strategies: Strategies::new(setup),
            risk,
            sim: FillSim::new(
                setup.taker_fees_by_instrument(),
                setup
                    .venues
                    .iter()
                    .map(|v| v.cfg.order_latency_ns)
                    .collect(),
                slip,
                // a triangle: three legs and two closing orders per slot
                setup.cfg.risk.max_in_flight as usize * 5 + 4,
            ),
            lat: DetLatency::default(),
            trades: TradeTotals::default(),
            pnl: PnlBook::from_setup(setup),
            signal_status: [0; SIGNAL_STATUSES],
            messages: 0,
            opps_overflow: 0,
            acked: 0,
            signal_first: [(0, 0); SIGNAL_STATUSES],
            stopped: None,
            diverged: None,
            catch_up: None,
            last_msg_seq: 0,
            checkpoints: 0,
            ckpt_last_ns: 0,
            ckpt_dirty: false,
            ckpt_trade: false,
            risk_stale_ns: setup.cfg.risk.stale_after_ns,
            rebal,
            venues_halted: 0,
            dirty: Vec::with_capacity(setup.instruments.len()),
            opps: Vec::with_capacity(MAX_OPPS),
            msg_started: false,
            curve_iv_ns: setup.cfg.run.pnl_curve_interval_ns.max(1),
            curve_next_ns: 0,
            status_latency: setup.cfg.status.is_some(),
            lat_pub_tsc: 0,
            first_parsed: 0,
            first_deq: 0,
        }
    }

    /// Data time: the receive time of the newest message applied, ns since the epoch.
    pub fn now_ns(&self) -> Nanos {
        self.market.now_ns
    }

    /// Apply one market-data event. `deq_tsc` is the `quanta` raw stamp when the driver took
    /// it (for the queueing figures). When the event ends its raw message
    /// ([`MdEvent::is_last`]), the message is complete: checksum resyncs are requested, the
    /// premium monitor and the spatial detector run over the books it changed, every
    /// opportunity goes through the risk gate (best expected profit first, R2.6), approved
    /// intents go to execution and every signal to the journal. Returns `true` at a message
    /// end.
    pub fn on_event(&mut self, ev: &MdEvent, deq_tsc: u64, out: &mut impl CoreOutput) -> bool {
        if !self.msg_started {
            self.msg_started = true;
            (self.first_parsed, self.first_deq) = (ev.parsed_tsc, deq_tsc);
            self.lat
                .md_queue
                .record_between(self.first_parsed, self.first_deq);
            if let Some(st) = self.strategies.stat.as_mut() {
                // R2.3: interval boundaries sample the books as they were before this message
                st.on_message_start(&self.market, ev.recv_ns);
            }
            self.curve_at(ev.recv_ns, out);
        }
        if ev.kind == crate::event::MdKind::VenueMaintenance {
            self.set_maintenance(ev.venue, ev.p0 != 0);
        }
        self.market
            .apply(ev, &mut |l: LogRecord| out.cold(ColdMsg::Log(l)));
        if !ev.is_last() {
            return false;
        }
        self.msg_started = false;
        self.last_msg_seq = ev.msg_seq;
        self.lat.feed.record_between(ev.handoff_tsc, ev.parsed_tsc);
        self.market
            .sweep_hard_stale(&mut |l: LogRecord| out.cold(ColdMsg::Log(l)));
        for &(v, i) in &self.market.resync {
            out.resync(v, i);
        }
        self.market.resync.clear();
        self.messages += 1;
        if self.status_latency {
            let now = crate::clock::raw();
            if self.lat_pub_tsc == 0
                || crate::clock::Clock::get().delta_ns(self.lat_pub_tsc, now) >= 1_000_000_000
            {
                self.lat_pub_tsc = now;
                self.publish_latency();
            }
        }
        if self.risk.limits.mark_due(self.market.now_ns) {
            let mtm = self.pnl.equity_mark(&self.market);
            self.risk
                .limits
                .on_mark(self.market.now_ns, ev.msg_seq, mtm, &self.market);
            self.drain_limits(out);
        }
        self.market.take_dirty(&mut self.dirty);
        if let Some(p) = self.premium.as_mut() {
            p.on_dirty(&self.market, &self.dirty);
        }
        if !self.dirty.is_empty() || self.strategies.stat.is_some() {
            self.detect(ev, out);
        }
        true
    }

    /// Per-stage latency percentiles for the status endpoint (R6.4).
    fn publish_latency(&self) {
        let l = &self.lat;
        crate::ops::status::LATENCY.publish([
            &l.feed,
            &l.md_queue,
            &l.tick_to_detect,
            &l.tick_to_signal,
        ]);
    }

    /// The PnL curve's fixed-interval points (R8.2): before a message at or past the next
    /// grid time, the mark of the books as they were (unchanged since the last message) for
    /// every grid time passed, in one record. Allocation-free.
    fn curve_at(&mut self, recv_ns: Nanos, out: &mut impl CoreOutput) {
        let iv = self.curve_iv_ns;
        if self.curve_next_ns == 0 {
            // the grid starts at the first message (floor to the interval)
            self.curve_next_ns = recv_ns / iv * iv;
        }
        if recv_ns < self.curve_next_ns {
            return;
        }
        let last = recv_ns / iv * iv;
        let mtm = self.pnl.equity_mark(&self.market);
        out.cold(ColdMsg::Curve(CurvePoint {
            kind: CurveKind::Interval,
            ts_ns: self.curve_next_ns,
            last_ns: last,
            mtm_usd: mtm,
            ..CurvePoint::default()
        }));
        self.curve_next_ns = last + iv;
    }

    /// A trade's point on the PnL curve: the run's mark after booking it, the trade's own
    /// mark, and per filled leg its venue, fee and notional in USD.
    fn curve_trade(
        &mut self,
        rec: &crate::journal::TradeRecord,
        own: i64,
        mtm: i64,
        out: &mut impl CoreOutput,
    ) {
        let mut p = CurvePoint {
            kind: CurveKind::Trade,
            ts_ns: self.market.now_ns,
            last_ns: self.market.now_ns,
            mtm_usd: mtm,
            trade_id: rec.id,
            trade_mark_usd: own,
            status: rec.status,
            buy: rec.opp.buy.instrument,
            sell: rec.opp.sell.instrument,
            triangle: matches!(rec.opp.strategy, Strategy::Triangle(_)),
            ..CurvePoint::default()
        };
        if let Strategy::Triangle(c) = &rec.opp.strategy {
            p.buy = c.legs[0].instrument;
            p.sell = c.legs[0].instrument;
        }
        for l in &rec.legs[..rec.n_legs as usize] {
            if l.filled_qty.0 == 0 {
                continue;
            }
            let (fee_usd, volume_usd) = self.pnl.leg_usd(l, &self.market);
            p.legs[p.n_legs as usize] = crate::journal::CurveLeg {
                venue: l.venue,
                fee_usd,
                volume_usd,
            };
            p.n_legs += 1;
        }
        out.cold(ColdMsg::Curve(p));
    }

    fn detect(&mut self, ev: &MdEvent, out: &mut impl CoreOutput) {
        self.opps.clear();
        let opps = &mut self.opps;
        let mut overflow = false;
        self.spatial.evaluate(
            &self.market,
            &self.dirty,
            &self.risk,
            (ev.msg_seq, ev.handoff_tsc),
            &mut |o, pi| {
                if opps.len() < MAX_OPPS {
                    opps.push((o, pi));
                } else {
                    overflow = true;
                }
            },
        );
        // R2.2 / R2.3: the same opportunity list, the same gate
        let spatial = &mut self.spatial;
        let mut take_id = || spatial.take_id();
        if let Some(t) = self.strategies.triangular.as_mut() {
            t.evaluate(
                &self.market,
                &self.dirty,
                &self.risk,
                (ev.msg_seq, ev.handoff_tsc),
                &mut take_id,
                &mut |o, ci| {
                    if opps.len() < MAX_OPPS {
                        opps.push((o, ci));
                    } else {
                        overflow = true;
                    }
                },
            );
        }
        if let Some(st) = self.strategies.stat.as_mut() {
            st.on_message_end(
                &self.market,
                self.risk_stale_ns,
                (ev.msg_seq, ev.handoff_tsc),
                &mut take_id,
                &mut |o| {
                    if opps.len() < MAX_OPPS {
                        opps.push((o, 0));
                    } else {
                        overflow = true;
                    }
                },
            );
        }
        if overflow {
            self.opps_overflow += 1;
        }
        // R2.6: best expected profit first
        self.opps.sort_unstable_by(|a, b| {
            b.0.expected_profit_usd
                .cmp(&a.0.expected_profit_usd)
                .then(a.0.id.cmp(&b.0.id))
        });
        if let Some((o, _)) = self.opps.first() {
            self.lat
                .signal_parse
                .record_between(o.handoff_tsc, self.first_parsed);
            self.lat
                .signal_queue
                .record_between(self.first_parsed, self.first_deq);
            self.lat
                .signal_detect
                .record_between(self.first_deq, o.signal_tsc);
        }
        for &(o, pi) in self.opps.iter() {
            self.lat
                .tick_to_signal
                .record_between(o.handoff_tsc, o.signal_tsc);
            let decided = match self.catch_up.as_mut() {
                // a resumed replay before the journals' end: the journal says what became of it
                Some(cu) => match cu.fate(&o) {
                    Some(SignalStatus::Traded) => self
                        .risk
                        .restore(&self.market, &o)
                        .ok_or(SignalStatus::NoSlot)
                        .map_err(|_| None),
                    Some(s) => Err(Some(s)),
                    None => Err(None),
                },
                None => self.risk.check(&self.market, &o).map_err(Some),
            };
            let status = match decided {
                Ok(intent) => {
                    out.to_exec(ToExec::Intent(intent));
                    SignalStatus::Traded
                }
                Err(Some(s)) => s,
                Err(None) => {
                    // the replay produced a signal the journal does not have (or it could not
                    // be re-booked): stop at the next boundary
                    self.diverged = Some(Divergence {
                        msg_seq: ev.msg_seq,
                        signal_id: o.id,
                        what: "signal differs from signals.jsonl",
                    });
                    return;
                }
            };
            let traded = status == SignalStatus::Traded;
            match o.strategy {
                Strategy::Spatial if traded => self.spatial.pairs[pi].traded += 1,
                Strategy::Spatial => self.spatial.pairs[pi].rejected += 1,
                Strategy::Triangle(_) => {
                    if let Some(t) = self.strategies.triangular.as_mut() {
                        if traded {
                            t.stats[pi].traded += 1;
                        } else {
                            t.stats[pi].rejected += 1;
                        }
                    }
                }
                Strategy::Pair(_) => {
                    if let Some(st) = self.strategies.stat.as_mut() {
                        st.on_gate(&o, traded);
                    }
                }
            }
            self.signal_status[status as usize] += 1;
            if self.signal_first[status as usize] == (0, 0) {
                self.signal_first[status as usize] = (self.market.now_ns, ev.msg_seq);
            }
            self.ckpt_dirty = true;
            out.cold(ColdMsg::Signal(SignalRecord { opp: o, status }));
        }
        self.lat
            .tick_to_detect
            .record_between(ev.handoff_tsc, crate::clock::raw());
    }

    /// One message from the execution side: an order for the simulated venue, an unwind to
    /// decide (the gate's answer goes back to execution), a finished trade (releases its
    /// reservation, books its fills), or an acknowledgement count.
    pub fn on_exec(&mut self, m: FromExec, out: &mut impl CoreOutput) {
        match m {
            FromExec::Order(o) => self.sim.add(o),
            FromExec::Unwind(req) => match self.risk.approve_unwind(&self.market, &req) {
                Ok(a) => out.to_exec(ToExec::Unwind(a)),
                Err(_) => out.to_exec(ToExec::UnwindRefused(req)),
            },
            FromExec::Done(slot, rec) => {
                self.risk.on_trade_done(&self.market, slot, &rec);
                self.trades.add(&rec);
                self.pnl.on_trade(&rec);
                let own = self.pnl.trade_mark(&rec, &self.market);
                let mtm = self.pnl.equity_mark(&self.market);
                self.curve_trade(&rec, own, mtm, out);
                let (now, msg) = (self.market.now_ns, self.last_msg_seq);
                self.risk
                    .limits
                    .on_trade_done(now, msg, &rec, own, mtm, &self.market);
                self.drain_limits(out);
                self.ckpt_dirty = true;
                self.ckpt_trade = true;
                if let Some(st) = self.strategies.stat.as_mut() {
                    st.on_trade_done(&rec);
                }
                if let Some(tap) = &self.rebal {
                    // R5.2: the books and balances the cold side plans with (fixed-size
                    // copies, no allocation; the plan itself is computed there)
                    for &i in &tap.instruments {
                        out.cold(ColdMsg::Depth(crate::rebalance::DepthSnap::capture(
                            &self.market,
                            i,
                        )));
                    }
                    out.cold(ColdMsg::Holdings(tap.holdings(
                        &self.risk,
                        rec.id,
                        self.market.now_ns,
                    )));
                }
            }
            FromExec::Ack(k) => self.acked = k,
            FromExec::VenueDisabled(v) => {
                // a venue that banned us trades nothing more this run
                if let Some(up) = self.market.venue_up.get_mut(v.idx()) {
                    *up = false;
                }
                out.cold(ColdMsg::Log(
                    LogRecord {
                        severity: crate::journal::Severity::Error,
                        venue: v,
                        ..LogRecord::default()
                    }
                    .with_text(b"venue disabled: it answered 418 (banned for too many requests)"),
                ));
            }
        }
    }

    /// Stop trading on the venues of bit mask `bits` for the rest of the run (R5.1: the live
    /// reconciliation found their balances differ from the engine's): down and sticky like a
    /// venue with bad data (a reconnect does not bring it back), books invalid.
    fn halt_venues(&mut self, bits: u64, out: &mut impl CoreOutput) {
        self.venues_halted |= bits;
        for v in 0..self.market.venue_up.len().min(64) {
            if bits & (1u64 << v) == 0 {
                continue;
            }
            self.market.venue_bad[v] = true;
            self.market.venue_up[v] = false;
            for (k, s) in self.market.specs.iter().enumerate() {
                if s.venue.idx() == v {
                    self.market.books[k].invalidate();
                }
            }
            out.cold(ColdMsg::Log(
                LogRecord {
                    ts_ns: self.market.now_ns,
                    severity: crate::journal::Severity::Error,
                    venue: crate::types::VenueId(v as u8),
                    ..LogRecord::default()
                }
                .with_text(b"venue halted by the reconciliation: its balances differ"),
            ));
        }
    }

    /// Arrival time of the earliest simulated order still waiting, if any.
    pub fn next_due(&self) -> Option<Nanos> {
        self.sim.next_due()
    }

    /// Fill every simulated order arriving before `before_ns` against the books as they stand
    /// now; every answer goes to execution (none is held back, whatever the number).
    pub fn fire_due(&mut self, before_ns: Nanos, out: &mut impl CoreOutput) {
        self.sim.run_due(before_ns, &self.market, &mut |f| {
            out.to_exec(ToExec::Fill(f))
        });
    }

    /// The data ended: every simulated order still waiting is answered `data_ended`.
    pub fn end_of_data(&mut self, out: &mut impl CoreOutput) {
        self.sim.end_of_data(&mut |f| out.to_exec(ToExec::Fill(f)));
    }

    /// Trades approved and not yet final.
    pub fn in_flight(&self) -> u32 {
        self.risk.in_flight()
    }

    /// A venue reports maintenance (`on`) or its end (R4.4). Live venue code reaches this
    /// through an [`crate::event::MdKind::VenueMaintenance`] event in the market-data ring (in
    /// order with the venue's data); replays configure windows instead
    /// (`[[risk.maintenance]]`).
    pub fn set_maintenance(&mut self, venue: VenueId, on: bool) {
        self.risk.guards.set_maintenance(venue.idx(), on);
    }

    fn drain_limits(&mut self, out: &mut impl CoreOutput) {
        self.risk.limits.drain(&mut |e| match e {
            LimitEvent::Breaker(b) => out.cold(ColdMsg::Breaker(b)),
            LimitEvent::Day(d) => out.cold(ColdMsg::Day(d)),
        });
    }

    /// Between two messages, before message number `self.messages` (0-based) is applied.
    /// `settled` = every message sent to the execution side has been answered (always true in
    /// a replay at this point; in paper only when nothing is on its way): only then are the
    /// journals consistent enough to cut. Ends a resumed replay's catch-up where its journals
    /// ended, takes a stop request, and sends a checkpoint when it is time (the first
    /// boundary; after a trade completed; at most every 100 ms of data time while anything is
    /// journaled; at least every second).
    pub fn at_boundary(
        &mut self,
        settled: bool,
        ctl: &Control,
        out: &mut impl CoreOutput,
    ) -> Boundary {
        if self.diverged.is_some() || ctl.aborted() {
            return Boundary::Abort;
        }
        if let Some(cu) = &self.catch_up {
            if !(settled && self.messages >= cu.until_msg) {
                // catching up: the journals are ahead of the run; a stop now ends the run
                // without touching them (the next resume starts from the same point)
                return match ctl.requested() {
                    Some(c) => Boundary::Halt(c),
                    None => Boundary::Continue,
                };
            }
            self.end_catch_up(out);
            if self.diverged.is_some() {
                return Boundary::Abort;
            }
        }
        let now = self.market.now_ns;
        let halt = ctl.halted_venues() & !self.venues_halted;
        if halt != 0 {
            self.halt_venues(halt, out);
        }
        if let Some(c) = ctl.requested() {
            if settled {
                // the cut comes before the stop's cancels: a resumed replay continues from
                // here as if it had not stopped
                self.checkpoint(false, out);
            }
            return Boundary::Stop(c);
        }
        if settled
            && (self.checkpoints == 0
                || (self.ckpt_dirty
                    && (self.ckpt_trade || now >= self.ckpt_last_ns + CHECKPOINT_MIN_NS))
                || now >= self.ckpt_last_ns + CHECKPOINT_MAX_NS)
        {
            self.checkpoint(false, out);
        }
        Boundary::Continue
    }

    fn end_catch_up(&mut self, out: &mut impl CoreOutput) {
        let Some(cu) = self.catch_up.take() else {
            return;
        };
        if let Err(what) = cu.check_end(self) {
            self.diverged = Some(Divergence {
                msg_seq: self.last_msg_seq,
                signal_id: 0,
                what,
            });
            return;
        }
        out.to_exec(ToExec::CatchUp(false));
        out.cold(ColdMsg::CatchUpEnd);
        // the journals' last checkpoint is this very point
        self.ckpt_last_ns = self.market.now_ns;
        self.checkpoints = self.checkpoints.max(1);
        self.ckpt_dirty = false;
        self.ckpt_trade = false;
    }

    /// Send a journal cut (detection's half; the execution step adds its barrier).
    pub fn checkpoint(&mut self, ended: bool, out: &mut impl CoreOutput) {
        if self.catch_up.is_some() {
            return;
        }
        self.checkpoints += 1;
        let now = self.market.now_ns;
        out.cold(ColdMsg::Checkpoint(CheckpointRecord {
            seq: self.checkpoints,
            msg: self.messages,
            data_ns: now,
            ended,
            in_flight: self.risk.in_flight(),
            signals: self.signal_status.iter().sum(),
            trades_done: self.trades.attempted,
            limits: self.risk.limits.snapshot(),
            rate: self.risk.limits.rate.counts(now),
        }));
        out.to_exec(ToExec::Checkpoint(self.checkpoints));
        self.ckpt_last_ns = now;
        self.ckpt_dirty = false;
        self.ckpt_trade = false;
    }

    /// Stop the run (kill switch, SIGTERM): the breaker goes to `stopped` (nothing new is
    /// approved, unwinds included), the execution step is told to cancel every open order
    /// ([`ToExec::CancelAll`]; live: on the wire), and the simulated venue answers every order
    /// still on its way as cancelled. The trades in flight then finish with what they have.
    pub fn stop(&mut self, cause: Cause, out: &mut impl CoreOutput) {
        if self.stopped.is_some() {
            return;
        }
        self.stopped = Some(cause);
        let now = self.market.now_ns;
        self.risk.limits.stop(now, self.last_msg_seq, cause);
        self.drain_limits(out);
        out.to_exec(ToExec::CancelAll);
        self.sim
            .cancel_all(now, &mut |f| out.to_exec(ToExec::Fill(f)));
    }

    /// The run is over and every trade final: the day's results so far go out, and after a
    /// normal end (`ended`: the data ended, not a stop) a last checkpoint says nothing
    /// follows.
    pub fn finish(&mut self, ended: bool, out: &mut impl CoreOutput) {
        if self.catch_up.is_some() && !ended {
            // halted during a resumed replay's catch-up: the journals stay as they are
            return;
        }
        // a last mark at the final books: the day's result is the report's mark to market
        let mtm = self.pnl.equity_mark(&self.market);
        let (now, msg) = (self.market.now_ns, self.last_msg_seq);
        if self.status_latency {
            self.publish_latency();
        }
        out.cold(ColdMsg::Curve(CurvePoint {
            kind: CurveKind::End,
            ts_ns: now,
            last_ns: now,
            mtm_usd: mtm,
            ..CurvePoint::default()
        }));
        self.risk.limits.on_mark(now, msg, mtm, &self.market);
        self.risk.limits.end(now);
        self.drain_limits(out);
        if self.catch_up.is_some() {
            // a resumed replay whose journals ended with the data: the catch-up ran to the end
            self.end_catch_up(out);
            if self.diverged.is_some() {
                return;
            }
        }
        if ended {
            self.checkpoint(true, out);
        }
    }
}

/// A checkpoint at most this often while journal records are being written (data time).
pub const CHECKPOINT_MIN_NS: u64 = 100_000_000;
/// A checkpoint at least this often (data time).
pub const CHECKPOINT_MAX_NS: u64 = 1_000_000_000;

/// What a driver does at a message boundary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Boundary {
    /// Apply the next message.
    Continue,
    /// Stop the run ([`DetectionCore::stop`]), let the trades in flight finish, write the
    /// report.
    Stop(Cause),
    /// A stop asked for during a resumed replay's catch-up: end now, journals untouched.
    Halt(Cause),
    /// The journals of a resumed replay disagree with it: end with an error.
    Abort,
}

/// Where a resumed replay stopped agreeing with its journals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// Index of the message being applied.
    pub msg_seq: u64,
    /// Signal concerned (0 if none).
    pub signal_id: u64,
    /// What differed.
    pub what: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::sim::SimOrder;
    use crate::testkit::{set_book, two_venue_setup};
    use crate::types::{Price, Qty, Side};

    #[derive(Default)]
    struct Collect {
        to_exec: Vec<ToExec>,
        cold: usize,
        resync: Vec<(VenueId, InstrumentId)>,
    }

    impl CoreOutput for Collect {
        fn to_exec(&mut self, m: ToExec) {
            self.to_exec.push(m);
        }
        fn cold(&mut self, _m: ColdMsg) {
            self.cold += 1;
        }
        fn resync(&mut self, venue: VenueId, instrument: InstrumentId) {
            self.resync.push((venue, instrument));
        }
    }

    #[test]
    fn every_due_order_is_answered_whatever_their_number() {
        // the threaded engine once copied at most 8 answers per call and lost the rest
        let s = two_venue_setup(1.0, 1.0, "[risk]\nmax_in_flight = 20");
        let mut core = DetectionCore::new(&s);
        set_book(
            &mut core.market,
            InstrumentId(0),
            &[(9_990, 100_000)],
            &[(10_000, 100_000)],
            1,
        );
        for k in 0..30u64 {
            let o = SimOrder {
                trade_id: k,
                slot: (k % 20) as u8,
                instrument: InstrumentId(0),
                side: Side::Buy,
                limit_px: Price(10_000),
                qty: Qty(10),
                arrival_ns: 5,
                view_ns: 5,
                deadline_ns: u64::MAX,
                ..SimOrder::default()
            };
            let mut out = Collect::default();
            core.on_exec(FromExec::Order(o), &mut out);
        }
        assert_eq!(core.next_due(), Some(5));
        let mut out = Collect::default();
        core.fire_due(6, &mut out);
        let fills = out
            .to_exec
            .iter()
            .filter(|m| matches!(m, ToExec::Fill(_)))
            .count();
        assert_eq!(fills, 30);
        assert_eq!(core.sim.pending(), 0);
        // and at the end of the data, every order still waiting is answered too
        for k in 0..30u64 {
            let o = SimOrder {
                trade_id: 100 + k,
                view_ns: 50,
                deadline_ns: u64::MAX,
                ..SimOrder::default()
            };
            core.on_exec(FromExec::Order(o), &mut Collect::default());
        }
        let mut out = Collect::default();
        core.end_of_data(&mut out);
        assert_eq!(out.to_exec.len(), 30);
    }

    /// Run everything the core staged through the execution step and its answers back
    /// through the core, until nothing is left; returns the execution step's journal records.
    fn settle(
        core: &mut DetectionCore,
        ex: &mut crate::exec::Executor,
        out: &mut Collect,
    ) -> Vec<ColdMsg> {
        let mut cold = vec![];
        while !out.to_exec.is_empty() {
            let batch: Vec<ToExec> = out.to_exec.drain(..).collect();
            for m in batch {
                let mut back = vec![];
                ex.handle(m, &mut |f| back.push(f), &mut |c| cold.push(c));
                for f in back {
                    core.on_exec(f, out);
                }
            }
        }
        cold
    }

    #[test]
    fn a_stop_cancels_the_orders_on_their_way_and_sends_nothing_more() {
        use crate::journal::{OrderState, TradeStatus};
        let s = two_venue_setup(
            1.0,
            1.0,
            "[detection]\nmin_profit_usd = 0.01\nmin_depth_usd = 1.0\nmin_net_spread_bps = 1.0",
        );
        let mut core = DetectionCore::new(&s);
        let mut ex = crate::exec::Executor::new(&s);
        // a sells at 100.00, b buys at 100.50
        let t = 1_000_000_000;
        set_book(
            &mut core.market,
            InstrumentId(0),
            &[(9_950, 1_000)],
            &[(10_000, 1_000)],
            t,
        );
        set_book(
            &mut core.market,
            InstrumentId(1),
            &[(10_050, 1_000)],
            &[(10_100, 1_000)],
            t,
        );
        let mut opp = None;
        core.spatial.evaluate(
            &core.market,
            &[InstrumentId(0)],
            &crate::signal::Unlimited,
            (0, 0),
            &mut |o, _| {
                if o.buy.venue.0 == 0 {
                    opp = Some(o)
                }
            },
        );
        let opp = opp.expect("an opportunity");
        let mut out = Collect::default();
        out.to_exec
            .push(ToExec::Intent(core.risk.check(&core.market, &opp).unwrap()));
        let sent = settle(&mut core, &mut ex, &mut out);
        assert_eq!(core.sim.pending(), 2, "both legs on their way");
        assert_eq!(sent.len(), 2);
        // the kill switch: every open order is cancelled, the trade finishes with nothing
        core.stop(Cause::KillSwitchFile, &mut out);
        assert!(matches!(out.to_exec.first(), Some(ToExec::CancelAll)));
        let cold = settle(&mut core, &mut ex, &mut out);
        assert_eq!(core.sim.pending(), 0, "no order left open");
        assert_eq!(core.in_flight(), 0);
        let ev: Vec<OrderState> = cold
            .iter()
            .filter_map(|c| match c {
                ColdMsg::Order(o) => Some(o.state),
                _ => None,
            })
            .collect();
        assert_eq!(
            ev,
            vec![
                OrderState::CancelSent,
                OrderState::CancelSent,
                OrderState::Cancelled,
                OrderState::Cancelled,
            ]
        );
        assert!(
            !cold.iter().any(|c| matches!(c, ColdMsg::Fill(_))),
            "nothing filled"
        );
        let done = cold
            .iter()
            .find_map(|c| match c {
                ColdMsg::Trade(t) => Some(*t),
                _ => None,
            })
            .expect("the trade is final");
        assert_eq!(done.status, TradeStatus::Missed);
        assert_eq!(core.sim.stop_cancelled, 2);
        assert_eq!(ex.stats.cancels_requested, 2);
        // nothing new is approved, unwinds included
        assert_eq!(
            core.risk.check(&core.market, &opp).unwrap_err(),
            SignalStatus::Stopped
        );
        let req = crate::risk::UnwindRequest {
            trade_id: opp.id,
            instrument: InstrumentId(0),
            side: Side::Sell,
            qty: Qty(1_000),
            residual_base: crate::types::Amount::from_f64(1.0),
            ..Default::default()
        };
        assert_eq!(
            core.risk.approve_unwind(&core.market, &req).unwrap_err(),
            SignalStatus::Stopped
        );
    }

    #[test]
    fn a_checksum_mismatch_asks_the_feed_for_a_resync() {
        use crate::event::{Checksum, Commit, MdEvent, TextFracs};
        let s = two_venue_setup(1.0, 1.0, "");
        let mut core = DetectionCore::new(&s);
        let i = InstrumentId(1);
        fn msg(core: &mut DetectionCore, evs: &[MdEvent], out: &mut Collect) {
            for (k, e) in evs.iter().enumerate() {
                let mut e = *e;
                e.venue = VenueId(1);
                if k + 1 == evs.len() {
                    e.flags |= crate::event::flags::LAST;
                }
                core.on_event(&e, 0, out);
            }
        }
        let f = TextFracs { px: 2, qty: 3 };
        let good = crc32fast::hash(b"100.00:1.000:100.10:2.000") as i32 as i64;
        let commit = |v: i64, snap: bool| Commit {
            snapshot: snap,
            checksum: Some(Checksum {
                kind: crate::book::ChecksumKind::Top25Interleaved,
                value: v,
            }),
            keep_levels: 0,
        };
        let mut out = Collect::default();
        msg(
            &mut core,
            &[
                MdEvent::book_clear(i, 1),
                MdEvent::book_level(i, Side::Buy, Price(10_000), Qty(1_000), f, true),
                MdEvent::book_level(i, Side::Sell, Price(10_010), Qty(2_000), f, true),
                MdEvent::book_commit(i, 1, commit(good, true)),
            ],
            &mut out,
        );
        assert!(out.resync.is_empty() && core.market.books[1].valid);
        msg(
            &mut core,
            &[MdEvent::book_commit(i, 2, commit(good ^ 1, false))],
            &mut out,
        );
        assert_eq!(out.resync, vec![(VenueId(1), i)]);
        assert!(!core.market.books[1].valid);
        assert_eq!(core.messages, 2);
    }
}
