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
#![forbid(unsafe_code)]

use super::{DetLatency, TradeTotals};
use crate::book::Market;
use crate::config::Setup;
use crate::detect::premium::Premium;
use crate::detect::spatial::Spatial;
use crate::detect::Strategies;
use crate::event::MdEvent;
use crate::exec::sim::FillSim;
use crate::exec::{FromExec, ToExec};
use crate::journal::{ColdMsg, LogRecord, SignalRecord, SignalStatus};
use crate::pnl::PnlBook;
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
    risk_stale_ns: u64,
    dirty: Vec<InstrumentId>,
    opps: Vec<(Opportunity, usize)>,
    msg_started: bool,
    first_parsed: u64,
    first_deq: u64,
}

impl DetectionCore {
    /// From a resolved config. Allocates everything it will use.
    pub fn new(setup: &Setup) -> DetectionCore {
        let slip = Bps::from_num(setup.cfg.execution.unwind_max_slippage_bps);
        DetectionCore {
            market: Market::new(setup),
            spatial: Spatial::new(setup),
            premium: Premium::new(setup),
            strategies: Strategies::new(setup),
            risk: RiskGate::new(setup),
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
            risk_stale_ns: setup.cfg.risk.stale_after_ns,
            dirty: Vec::with_capacity(setup.instruments.len()),
            opps: Vec::with_capacity(MAX_OPPS),
            msg_started: false,
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
        }
        self.market
            .apply(ev, &mut |l: LogRecord| out.cold(ColdMsg::Log(l)));
        if !ev.is_last() {
            return false;
        }
        self.msg_started = false;
        self.lat.feed.record_between(ev.handoff_tsc, ev.parsed_tsc);
        self.market
            .sweep_hard_stale(&mut |l: LogRecord| out.cold(ColdMsg::Log(l)));
        for &(v, i) in &self.market.resync {
            out.resync(v, i);
        }
        self.market.resync.clear();
        self.messages += 1;
        self.market.take_dirty(&mut self.dirty);
        if let Some(p) = self.premium.as_mut() {
            p.on_dirty(&self.market, &self.dirty);
        }
        if !self.dirty.is_empty() || self.strategies.stat.is_some() {
            self.detect(ev, out);
        }
        true
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
            let status = match self.risk.check(&self.market, &o) {
                Ok(intent) => {
                    out.to_exec(ToExec::Intent(intent));
                    SignalStatus::Traded
                }
                Err(s) => s,
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
                if let Some(st) = self.strategies.stat.as_mut() {
                    st.on_trade_done(&rec);
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
