//! Execution thread (R3.2, R3.3): turns approved intents into signed exchange requests
//! (pre-encoded into reused buffers), sends both legs at once, tracks each trade until both
//! legs are final, unwinds one-legged exposure by the configured policy, and reports the
//! finished trade to detection (balances) and to the journal.
//!
//! In `replay` and `paper` the encoded request is handed to the fill simulator ([`sim`]),
//! which runs where the books are (detection thread), instead of the network.
#![forbid(unsafe_code)]

mod cycle;
pub mod matching;
mod pair;
pub mod sim;

use crate::clock;
use crate::config::{OrderTypeConfig, Setup, UnwindPolicy};
use crate::journal::{ColdMsg, LegFill, LegStatus, TradeRecord, TradeStatus, MAX_TRADE_LEGS};
use crate::ring::{Consumer, Producer};
use crate::risk::ApprovedIntent;
use crate::signal::Strategy;
use crate::stats::Latency;
use crate::types::{Amount, InstrumentId, Side, VenueId};
use crate::venues::{OrderEncoder, OrderFields, OrderKind};
use crate::wait::Waiter;
use sim::{SimFill, SimOrder};

/// Detection → execution.
#[derive(Clone, Copy, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum ToExec {
    /// Trade this.
    Intent(ApprovedIntent),
    /// A simulated venue answered.
    Fill(SimFill),
    /// No more input: exit when idle.
    Shutdown,
}

/// Execution → detection.
#[derive(Clone, Copy, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum FromExec {
    /// An order for the simulated venue.
    Order(SimOrder),
    /// A trade is final (slot, record).
    Done(u8, TradeRecord),
    /// Messages from detection processed so far.
    Ack(u64),
}

#[derive(Clone, Copy, Debug, Default)]
struct TradeSlot {
    busy: bool,
    intent: Option<ApprovedIntent>,
    legs: [LegFill; MAX_TRADE_LEGS],
    n_legs: u8,
    outstanding: u8,
    unwinding: bool,
    /// Triangles sent in sequence: the next cycle leg to send.
    next_leg: u8,
}

/// Static per-instrument data the execution thread needs.
#[derive(Clone, Debug)]
struct InstExec {
    symbol: String,
    price_dec: u32,
    qty_dec: u32,
    lot: i64,
    venue: VenueId,
    encoder: usize,
    spec: crate::instrument::InstrumentSpec,
}

/// Execution counters.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ExecStats {
    /// Intents received.
    pub intents: u64,
    /// Orders encoded and sent (entry legs + unwinds).
    pub orders: u64,
    /// Unwind orders.
    pub unwinds: u64,
    /// Trades final.
    pub trades_done: u64,
    /// Times the journal ring was full (record dropped, counted).
    pub journal_dropped: u64,
    /// Times the ring to detection was full (waited).
    pub ring_full: u64,
}

/// The execution thread's state.
pub struct Executor {
    insts: Vec<InstExec>,
    encoders: Vec<Box<dyn OrderEncoder>>,
    /// One-way order latency by venue, ns.
    latency: Vec<u64>,
    /// Feed latency by venue, ns.
    feed_latency: Vec<u64>,
    /// Execution window per trade, ns.
    window_ns: u64,
    /// Taker fee by instrument (sizes a triangle's next leg from what the previous gave).
    fee: Vec<crate::types::Bps>,
    slots: Vec<TradeSlot>,
    market_orders: bool,
    one_leg: UnwindPolicy,
    recv_window_ms: u32,
    /// Counters.
    pub stats: ExecStats,
    /// handoff → order bytes ready.
    pub tick_to_order: Latency,
    /// signal created → intent dequeued here.
    pub intent_hop: Latency,
    /// Order encoding + signing.
    pub encode: Latency,
    processed: u64,
}

/// Fixed, non-secret key used to sign simulated orders, so replay/paper measure the real
/// signing cost without any credential. Live mode reads keys from the environment.
pub const SIM_KEY: &[u8] = b"arbot-simulation-key-not-a-secret";

impl Executor {
    /// From a resolved config.
    pub fn new(setup: &Setup) -> Executor {
        let mut encoders = Vec::new();
        let mut enc_of_venue = vec![usize::MAX; setup.venues.len()];
        for v in &setup.venues {
            // venues without order entry cannot be in a trading group (config check), so
            // nothing is ever encoded for them
            if let Some(e) = v.adapter.order_encoder("simulated", SIM_KEY) {
                enc_of_venue[v.id.idx()] = encoders.len();
                encoders.push(e);
            }
        }
        let insts = setup
            .instruments
            .iter()
            .map(|s| InstExec {
                symbol: s.symbol.clone(),
                price_dec: s.price_dec,
                qty_dec: s.qty_dec,
                lot: s.lot_size.0,
                venue: s.venue,
                encoder: enc_of_venue[s.venue.idx()],
                spec: s.clone(),
            })
            .collect();
        let e = &setup.cfg.execution;
        Executor {
            insts,
            encoders,
            latency: setup
                .venues
                .iter()
                .map(|v| v.cfg.order_latency_ns)
                .collect(),
            feed_latency: setup.venues.iter().map(|v| v.cfg.feed_latency_ns).collect(),
            window_ns: e.window_ns,
            fee: setup.taker_fees_by_instrument(),
            slots: vec![TradeSlot::default(); setup.cfg.risk.max_in_flight as usize],
            market_orders: e.order_type == OrderTypeConfig::Market,
            one_leg: e.one_leg,
            recv_window_ms: e.recv_window_ms,
            stats: ExecStats::default(),
            tick_to_order: Latency::new(),
            intent_hop: Latency::new(),
            encode: Latency::new(),
            processed: 0,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn encode(
        &mut self,
        inst: InstrumentId,
        side: Side,
        market: bool,
        px: i64,
        qty: i64,
        id: u64,
        ts_ms: u64,
    ) {
        let ie = &self.insts[inst.idx()];
        // only group members are traded, and config load refuses a group member whose venue
        // has no order entry
        debug_assert!(
            ie.encoder != usize::MAX,
            "order for a venue without order entry"
        );
        if ie.encoder == usize::MAX {
            return;
        }
        let t0 = clock::raw();
        let _bytes = self.encoders[ie.encoder].encode(&OrderFields {
            symbol: &ie.symbol,
            side,
            kind: if market {
                OrderKind::Market
            } else {
                OrderKind::LimitIoc
            },
            qty,
            qty_dec: ie.qty_dec,
            px,
            price_dec: ie.price_dec,
            client_id: id,
            timestamp_ms: ts_ms,
            recv_window_ms: self.recv_window_ms,
        });
        self.encode.record_since(t0);
        self.stats.orders += 1;
    }

    /// Handle one message from detection; outputs go to `out` (to detection) and `cold`.
    pub fn handle(
        &mut self,
        msg: ToExec,
        out: &mut impl FnMut(FromExec),
        cold: &mut impl FnMut(ColdMsg),
    ) {
        match msg {
            ToExec::Intent(it) => self.on_intent(it, out),
            ToExec::Fill(f) => self.on_fill(f, out, cold),
            ToExec::Shutdown => {}
        }
        self.processed += 1;
        out(FromExec::Ack(self.processed));
    }

    /// An order for the simulated venue sent at data time `send`: it reaches the venue one
    /// order latency later, is matched against the book received one feed latency after
    /// that, and is cancelled if it would arrive after the execution window.
    #[allow(clippy::too_many_arguments)]
    fn sim_order(
        &self,
        trade_id: u64,
        slot: u8,
        leg: u8,
        inst: InstrumentId,
        side: Side,
        market: bool,
        limit_px: crate::types::Price,
        qty: crate::types::Qty,
        send: u64,
    ) -> SimOrder {
        let v = self.insts[inst.idx()].venue.idx();
        let arrival = send + self.latency[v];
        SimOrder {
            trade_id,
            slot,
            leg,
            unwind: leg == 2,
            venue: self.insts[inst.idx()].venue,
            instrument: inst,
            side,
            market,
            limit_px,
            qty,
            send_ns: send,
            arrival_ns: arrival,
            view_ns: arrival + self.feed_latency[v],
            deadline_ns: send + self.window_ns,
        }
    }

    fn on_intent(&mut self, it: ApprovedIntent, out: &mut impl FnMut(FromExec)) {
        if let Strategy::Triangle(c) = it.opp().strategy {
            return self.on_cycle_intent(it, c, out);
        }
        let now = clock::raw();
        let o = *it.opp();
        self.stats.intents += 1;
        self.intent_hop.record_between(o.signal_tsc, now);
        let ts_ms = o.detected_ns / 1_000_000;
        let mut sent = 0u8;
        for (k, leg) in [o.buy, o.sell].iter().enumerate() {
            self.encode(
                leg.instrument,
                leg.side,
                self.market_orders,
                leg.limit_px.0,
                leg.qty.0,
                o.id * 8 + k as u64,
                ts_ms,
            );
            out(FromExec::Order(self.sim_order(
                o.id,
                it.slot(),
                k as u8,
                leg.instrument,
                leg.side,
                self.market_orders,
                leg.limit_px,
                leg.qty,
                o.detected_ns,
            )));
            sent += 1;
        }
        // both legs are out: tick-to-order is when the second leg's bytes are ready
        self.tick_to_order
            .record_between(o.handoff_tsc, clock::raw());
        let s = &mut self.slots[it.slot() as usize];
        *s = TradeSlot {
            busy: true,
            intent: Some(it),
            legs: [LegFill::default(); MAX_TRADE_LEGS],
            n_legs: 2,
            outstanding: sent,
            unwinding: false,
            next_leg: 2,
        };
    }

    fn on_fill(
        &mut self,
        f: SimFill,
        out: &mut impl FnMut(FromExec),
        cold: &mut impl FnMut(ColdMsg),
    ) {
        let Some(s) = self.slots.get_mut(f.slot as usize) else {
            return;
        };
        let Some(it) = s.intent else { return };
        if !s.busy || it.opp().id != f.trade_id {
            return;
        }
        if let Strategy::Triangle(c) = it.opp().strategy {
            return self.on_cycle_fill(f, it, c, out, cold);
        }
        s.legs[f.leg as usize] = f.fill;
        s.outstanding = s.outstanding.saturating_sub(1);
        if s.outstanding > 0 {
            return;
        }
        if !s.unwinding {
            let (b, sl) = (s.legs[0], s.legs[1]);
            // the excess of the leg that filled more, in its own base: a pair trade's legs
            // are matched at the planned hedge ratio, a spatial pair's one for one
            let (diff, excess) = match it.opp().strategy {
                Strategy::Pair(_) => pair::excess(it.opp(), &b, &sl),
                _ => {
                    let d = b.base.0 - sl.base.0;
                    (d, d.abs())
                }
            };
            let both_full = b.status == LegStatus::Filled && sl.status == LegStatus::Filled;
            if !both_full && self.one_leg == UnwindPolicy::Unwind {
                // long `diff` on the buy venue → sell it there; short → buy back on the sell venue
                let (leg, side) = if diff > 0 {
                    (b, Side::Sell)
                } else {
                    (sl, Side::Buy)
                };
                let ie = &self.insts[leg.instrument.idx()];
                let px = if leg.filled_qty.0 > 0 {
                    // base→native at the leg's average price
                    let avg = (leg.quote.0 as i128 * crate::types::pow10(ie.price_dec) as i128
                        / leg.base.0.max(1) as i128) as i64;
                    crate::types::Price(avg)
                } else {
                    leg.limit_px
                };
                let q = ie.spec.qty_for_base_floor(Amount(excess), px);
                if q.0 >= ie.lot && q.0 > 0 {
                    let send = b.known_ns.max(sl.known_ns);
                    let id = it.opp().id * 8 + 2;
                    let inst = leg.instrument;
                    self.encode(inst, side, true, 0, q.0, id, send / 1_000_000);
                    self.stats.unwinds += 1;
                    let s = &mut self.slots[f.slot as usize];
                    s.unwinding = true;
                    s.outstanding = 1;
                    s.n_legs = 3;
                    // the unwind gets its own execution window from its send
                    out(FromExec::Order(self.sim_order(
                        it.opp().id,
                        f.slot,
                        2,
                        inst,
                        side,
                        true,
                        crate::types::Price(0),
                        q,
                        send,
                    )));
                    return;
                }
            }
        }
        let s = self.slots[f.slot as usize];
        let rec = finish(&it, &s.legs[..s.n_legs as usize]);
        self.slots[f.slot as usize].busy = false;
        self.stats.trades_done += 1;
        out(FromExec::Done(f.slot, rec));
        cold(ColdMsg::Trade(rec));
    }
}

/// Build the trade record from its legs: PnL adds up from the legs (R3.3: one-leg outcomes
/// are recorded with their real PnL).
pub fn finish(it: &ApprovedIntent, legs: &[LegFill]) -> TradeRecord {
    if let Strategy::Pair(p) = it.opp().strategy {
        return pair::finish(it, &p, legs);
    }
    let o = *it.opp();
    let mut rec = TradeRecord {
        id: o.id,
        opp: o,
        n_legs: legs.len() as u8,
        ..TradeRecord::default()
    };
    let (mut gross, mut fees, mut resid) = (0i64, 0i64, 0i64);
    for (k, l) in legs.iter().enumerate() {
        rec.legs[k] = *l;
        match l.side {
            Side::Buy => {
                gross -= l.quote.0;
                resid += l.base.0;
            }
            Side::Sell => {
                gross += l.quote.0;
                resid -= l.base.0;
            }
        }
        fees += l.fee.0;
        rec.done_ns = rec.done_ns.max(l.known_ns);
    }
    let (b, s) = (legs[0], legs[1]);
    rec.status = if b.filled_qty.0 == 0 && s.filled_qty.0 == 0 {
        TradeStatus::Missed
    } else if b.status == LegStatus::Filled && s.status == LegStatus::Filled {
        TradeStatus::Filled
    } else if legs.len() > 2 {
        TradeStatus::OneLeg
    } else {
        TradeStatus::Partial
    };
    // mark the residual at the price of the last leg that filled
    let mark = legs.iter().rev().find(|l| l.base.0 > 0);
    let resid_mark = match mark {
        Some(l) if resid != 0 => (resid as i128 * l.quote.0 as i128 / l.base.0 as i128) as i64,
        _ => 0,
    };
    rec.residual_base = Amount(resid);
    rec.residual_mark_usd = Amount(resid_mark);
    rec.gross_pnl_usd = Amount(gross + resid_mark);
    rec.fees_usd = Amount(fees);
    rec.net_pnl_usd = Amount(gross + resid_mark - fees);
    rec.volume_usd = Amount(legs.iter().map(|l| l.quote.0).sum());
    rec
}

/// Run the execution thread until `Shutdown`.
pub fn run(
    mut ex: Executor,
    mut rx: Consumer<ToExec>,
    mut tx: Producer<FromExec>,
    mut cold: Producer<ColdMsg>,
    mut waiter: Waiter,
) -> Executor {
    crate::alloc_probe::enter_hot();
    let mut push_waiter = waiter.clone();
    loop {
        let Some(msg) = rx.pop() else {
            if rx.is_abandoned() && rx.is_empty() {
                break;
            }
            waiter.idle();
            continue;
        };
        waiter.reset();
        let shutdown = matches!(msg, ToExec::Shutdown);
        let mut ring_full = 0u64;
        let mut dropped = 0u64;
        ex.handle(
            msg,
            &mut |m| {
                let mut m = m;
                loop {
                    match tx.push(m) {
                        Ok(()) => break,
                        Err(back) => {
                            m = back;
                            ring_full += 1;
                            if tx.is_abandoned() {
                                break;
                            }
                            push_waiter.idle();
                        }
                    }
                }
            },
            &mut |c| {
                if cold.push(c).is_err() {
                    dropped += 1;
                }
            },
        );
        ex.stats.ring_full += ring_full;
        ex.stats.journal_dropped += dropped;
        if shutdown {
            break;
        }
    }
    crate::alloc_probe::leave_hot();
    ex
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::Market;
    use crate::detect::spatial::Spatial;
    use crate::risk::RiskGate;
    use crate::signal::Unlimited;
    use crate::testkit::{set_book, two_venue_setup};
    use crate::types::Qty;

    /// One approved intent (buy 1 BTC on a at 100.00, sell on b at 100.50) and its executor.
    fn setup() -> (Executor, ApprovedIntent, Market) {
        let s = two_venue_setup(
            1.0,
            1.0,
            "[detection]\nmin_profit_usd = 0.01\nmin_depth_usd = 1.0\nmin_net_spread_bps = 1.0",
        );
        let mut m = Market::new(&s);
        set_book(
            &mut m,
            InstrumentId(0),
            &[(9_000, 10_000)],
            &[(10_000, 1_000)],
            1,
        );
        set_book(
            &mut m,
            InstrumentId(1),
            &[(10_050, 1_000)],
            &[(11_000, 10_000)],
            1,
        );
        let mut sp = Spatial::new(&s);
        let mut o = None;
        sp.evaluate(&m, &[InstrumentId(0)], &Unlimited, (0, 0), &mut |x, _| {
            if x.buy.venue.0 == 0 {
                o = Some(x)
            }
        });
        let it = RiskGate::new(&s).check(&m, &o.unwrap()).unwrap();
        (Executor::new(&s), it, m)
    }

    fn fill_of(o: &SimOrder, filled: i64, m: &Market) -> SimFill {
        let mut sim = sim::FillSim::new(
            vec![Bps::from_num(1); 2],
            vec![1_000_000; 2],
            Bps::from_num(100),
            4,
        );
        let mut so = *o;
        so.qty = Qty(filled);
        let mut f = sim.execute(&so, m);
        f.order_qty = o.qty;
        if filled < o.qty.0 {
            f.status = if filled == 0 {
                LegStatus::Unfilled
            } else {
                LegStatus::Partial
            };
        }
        SimFill {
            trade_id: o.trade_id,
            slot: o.slot,
            leg: o.leg,
            fill: f,
        }
    }

    use crate::types::Bps;

    #[test]
    fn both_legs_sent_at_once_then_one_leg_is_unwound() {
        let (mut ex, it, m) = setup();
        let mut out = vec![];
        let mut cold = vec![];
        ex.handle(ToExec::Intent(it), &mut |x| out.push(x), &mut |c| {
            cold.push(c)
        });
        let orders: Vec<SimOrder> = out
            .iter()
            .filter_map(|x| {
                if let FromExec::Order(o) = x {
                    Some(*o)
                } else {
                    None
                }
            })
            .collect();
        assert_eq!(orders.len(), 2, "both legs at once");
        assert_eq!((orders[0].side, orders[1].side), (Side::Buy, Side::Sell));
        assert_eq!(orders[0].arrival_ns, it.opp().detected_ns + 1_000_000);
        assert!(matches!(out.last(), Some(FromExec::Ack(1))));
        assert_eq!(ex.stats.orders, 2);
        // buy fills 1 BTC, sell fills nothing → long 1 BTC on a → sell it back on a at market
        out.clear();
        ex.handle(
            ToExec::Fill(fill_of(&orders[0], 1_000, &m)),
            &mut |x| out.push(x),
            &mut |c| cold.push(c),
        );
        ex.handle(
            ToExec::Fill(fill_of(&orders[1], 0, &m)),
            &mut |x| out.push(x),
            &mut |c| cold.push(c),
        );
        let unwind: Vec<SimOrder> = out
            .iter()
            .filter_map(|x| {
                if let FromExec::Order(o) = x {
                    Some(*o)
                } else {
                    None
                }
            })
            .collect();
        assert_eq!(unwind.len(), 1);
        let u = unwind[0];
        assert_eq!(
            (u.leg, u.side, u.venue, u.qty, u.market),
            (2, Side::Sell, VenueId(0), Qty(1_000), true)
        );
        assert!(
            u.arrival_ns > orders[0].arrival_ns,
            "sent after the result is known"
        );
        // the unwind fills at a's bid 90.00: loss (90 − 100) × 1 − fees
        out.clear();
        ex.handle(
            ToExec::Fill(fill_of(&u, 1_000, &m)),
            &mut |x| out.push(x),
            &mut |c| cold.push(c),
        );
        let done = out
            .iter()
            .find_map(|x| {
                if let FromExec::Done(_, r) = x {
                    Some(*r)
                } else {
                    None
                }
            })
            .expect("trade final");
        assert_eq!(done.status, TradeStatus::OneLeg);
        assert_eq!(done.n_legs, 3);
        assert_eq!(done.gross_pnl_usd, Amount::from_f64(-10.0));
        assert_eq!(done.residual_base, Amount(0));
        assert_eq!(done.net_pnl_usd.0, done.gross_pnl_usd.0 - done.fees_usd.0);
        assert!(cold
            .iter()
            .any(|c| matches!(c, ColdMsg::Trade(t) if t.id == done.id)));
    }
}
