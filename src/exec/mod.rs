//! Execution thread (R3.2, R3.3): turns approved intents into signed exchange requests
//! (pre-encoded into reused buffers), sends both legs at once, tracks each trade until both
//! legs are final, unwinds one-legged exposure by the configured policy, and reports the
//! finished trade to detection (balances) and to the journal.
//!
//! In `replay` and `paper` the encoded request is handed to the fill simulator ([`sim`]),
//! which runs where the books are (detection thread), instead of the network.
//!
//! One approval, one order: an [`ApprovedIntent`] (entry legs) or [`ApprovedUnwind`] (the
//! closing order of a one-legged trade, asked of the gate with [`FromExec::Unwind`]) is moved
//! in and consumed here when its orders are encoded. Encoding needs a [`SendToken`], which only
//! this module can make, so no other code path can produce signed order bytes.
#![forbid(unsafe_code)]

mod cycle;
pub mod live;
pub mod matching;
mod pair;
pub mod sim;

use crate::clock;
use crate::config::{OrderTypeConfig, Setup, UnwindPolicy};
use crate::journal::{
    ColdMsg, FillRecord, LegFill, LegStatus, OrderEvent, OrderState, TradeRecord, TradeStatus,
    MAX_TRADE_LEGS,
};
use crate::ring::{Consumer, Producer};
use crate::risk::{ApprovedIntent, ApprovedUnwind, UnwindRequest};
use crate::signal::{Opportunity, Strategy};
use crate::stats::Latency;
use crate::types::{Amount, InstrumentId, Side, VenueId};
use crate::venues::{OrderEntry, OrderFields, OrderKind};
use crate::wait::Waiter;
use sim::{SimFill, SimOrder};

/// Detection → execution. Move-only: it carries approvals.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum ToExec {
    /// Trade this.
    Intent(ApprovedIntent),
    /// Send this unwind.
    Unwind(ApprovedUnwind),
    /// The gate refused this unwind: the exposure it would have closed is kept and recorded.
    UnwindRefused(UnwindRequest),
    /// A simulated venue answered.
    Fill(SimFill),
    /// Kill switch / stop (R4.5): cancel every open order and send nothing more
    /// ([`Executor::cancel_all`]).
    CancelAll,
    /// A journal cut: forward [`ColdMsg::Barrier`] with this number to the cold thread, in
    /// order with this step's own journal records.
    Checkpoint(u64),
    /// A resumed replay catches up (`true`) until the point where its journals ended
    /// (`false`): the trades it re-derives are tracked as usual, but no order is encoded or
    /// signed (nothing is sent again).
    CatchUp(bool),
    /// No more input: exit when idle.
    Shutdown,
}

/// Execution → detection.
#[derive(Clone, Copy, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum FromExec {
    /// An order for the simulated venue.
    Order(SimOrder),
    /// A trade came back one-legged: may its exposure be closed?
    Unwind(UnwindRequest),
    /// A trade is final (slot, record).
    Done(u8, TradeRecord),
    /// A live venue answered 418 (banned for too many requests): trade nothing there.
    VenueDisabled(VenueId),
    /// Messages from detection processed so far.
    Ack(u64),
}

/// Proof, required by every [`crate::venues::OrderEntry`] call, that the order comes from
/// an approval being consumed: only this module makes one.
#[derive(Debug)]
pub struct SendToken {
    _private: (),
}

impl SendToken {
    fn new() -> SendToken {
        SendToken { _private: () }
    }

    /// For the encoders' own unit tests.
    #[cfg(test)]
    pub(crate) fn for_tests() -> SendToken {
        SendToken::new()
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct TradeSlot {
    busy: bool,
    opp: Opportunity,
    legs: [LegFill; MAX_TRADE_LEGS],
    n_legs: u8,
    outstanding: u8,
    unwinding: bool,
    /// Triangles sent in sequence: the next cycle leg to send.
    next_leg: u8,
    /// Per leg: sent and not yet final (what a stop cancels).
    open: [Option<OpenLeg>; MAX_TRADE_LEGS],
    /// Data time of the trade's latest step (send, answer).
    last_ns: u64,
}

/// A leg sent and not yet final: what its journal lines need when a stop cancels it.
#[derive(Clone, Copy, Debug)]
struct OpenLeg {
    inst: InstrumentId,
    side: Side,
    qty: crate::types::Qty,
    limit_px: crate::types::Price,
}

/// Static per-instrument data the execution thread needs.
#[derive(Clone, Debug)]
struct InstExec {
    symbol: String,
    price_dec: u32,
    qty_dec: u32,
    lot: i64,
    venue: VenueId,
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
    /// Unwinds the gate refused (exposure held).
    pub unwinds_refused: u64,
    /// Trades final.
    pub trades_done: u64,
    /// Times the journal ring was full (record dropped, counted).
    pub journal_dropped: u64,
    /// Times the ring to detection was full (waited).
    pub ring_full: u64,
    /// Live legs that could not be sent (venue rate-limited or banned, no connection).
    pub not_sent: u64,
    /// Cancels requested by the kill switch or a stop (orders open then).
    pub cancels_requested: u64,
}

/// One order the execution step sends.
#[derive(Clone, Copy, Debug)]
struct LegOrder {
    trade_id: u64,
    slot: u8,
    leg: u8,
    inst: InstrumentId,
    side: Side,
    market: bool,
    limit_px: crate::types::Price,
    qty: crate::types::Qty,
    /// Data time of the send (replay) / wall time (live), ns.
    send_ns: u64,
    /// End of the execution window: an order not final by then is cancelled, ns.
    deadline_ns: u64,
    /// A closing order (one-leg unwind), not an entry leg.
    unwind: bool,
}

/// Client order id of leg `leg` of trade `trade_id` (up to 8 legs per trade).
fn client_id(trade_id: u64, leg: u8) -> u64 {
    crate::journals::client_order_id(trade_id, leg)
}

/// The execution thread's state.
pub struct Executor {
    insts: Vec<InstExec>,
    /// Order entry per venue (simulation: signed with [`SIM_KEY`]; live: the venue's
    /// [`live::LiveVenue`] holds the real one).
    entries: Vec<Option<Box<dyn OrderEntry>>>,
    /// Live order entry per venue (live mode only).
    live: Vec<Option<live::LiveVenue>>,
    /// One-way order latency by venue, ns.
    latency: Vec<u64>,
    /// Feed latency by venue, ns.
    feed_latency: Vec<u64>,
    /// Execution window per trade, ns.
    window_ns: u64,
    /// Taker fee by instrument (sizes a sequential triangle's next leg from what the
    /// previous one delivered).
    fee: Vec<crate::types::Bps>,
    slots: Vec<TradeSlot>,
    market_orders: bool,
    one_leg: UnwindPolicy,
    recv_window_ms: u32,
    /// Counters.
    pub stats: ExecStats,
    /// handoff → order bytes ready.
    pub tick_to_order: Latency,
    /// handoff → the second leg's bytes written to its socket (live).
    pub tick_to_wire: Latency,
    /// signal created → intent dequeued here.
    pub intent_hop: Latency,
    /// Order encoding + signing; live: encoding + signing + the socket write (reported as
    /// `order_encode_sign_write`).
    pub encode: Latency,
    processed: u64,
    /// Venues that answered 418 (disabled; reported to detection once).
    banned: Vec<bool>,
    /// A resumed replay is catching up: nothing is encoded.
    catching_up: bool,
    /// The kill switch or a stop cancelled everything: nothing more is sent.
    stopped: bool,
}

/// Fixed, non-secret key used to sign simulated orders, so replay/paper measure the real
/// signing cost without any credential. Live mode reads keys from the environment.
pub const SIM_KEY: &[u8] = b"arbot-simulation-key-not-a-secret";

impl Executor {
    /// From a resolved config (simulated order entry).
    pub fn new(setup: &Setup) -> Executor {
        let entries = setup
            .venues
            .iter()
            .map(|v| {
                // venues without order entry cannot be in a trading group (config check), so
                // nothing is ever encoded for them
                v.adapter
                    .order_entry(&setup.venue_ctx(v.id), "simulated", SIM_KEY)
            })
            .collect();
        let insts = setup
            .instruments
            .iter()
            .map(|s| InstExec {
                symbol: s.symbol.clone(),
                price_dec: s.price_dec,
                qty_dec: s.qty_dec,
                lot: s.lot_size.0,
                venue: s.venue,
                spec: s.clone(),
            })
            .collect();
        let e = &setup.cfg.execution;
        Executor {
            insts,
            entries,
            live: (0..setup.venues.len()).map(|_| None).collect(),
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
            tick_to_wire: Latency::new(),
            intent_hop: Latency::new(),
            encode: Latency::new(),
            processed: 0,
            banned: vec![false; setup.venues.len()],
            catching_up: false,
            stopped: false,
        }
    }

    /// Live: orders of venue `v` go to `lv` (real order entry) instead of the simulator.
    pub fn set_live(&mut self, v: VenueId, lv: live::LiveVenue) {
        self.live[v.idx()] = Some(lv);
    }

    /// The live venues (live mode), for the report and reconciliation.
    pub fn live_venues(&self) -> impl Iterator<Item = &live::LiveVenue> {
        self.live.iter().flatten()
    }

    /// True when some venue trades live.
    pub fn is_live(&self) -> bool {
        self.live.iter().any(|l| l.is_some())
    }

    /// Orders not yet final on live venues.
    pub fn live_open_orders(&self) -> usize {
        self.live.iter().flatten().map(|l| l.open_orders()).sum()
    }

    /// Encode (and, live, send) one order. Simulation: the signed request is built (its cost
    /// measured) and the order goes to the simulator; live: it is written to a connection of
    /// the venue, or, when it cannot be, the leg is final at once as rejected.
    fn send_leg(
        &mut self,
        token: &SendToken,
        o: LegOrder,
        out: &mut impl FnMut(FromExec),
        cold: &mut impl FnMut(ColdMsg),
    ) {
        if let Some(s) = self.slots.get_mut(o.slot as usize) {
            if s.busy && s.opp.id == o.trade_id && (o.leg as usize) < MAX_TRADE_LEGS {
                s.open[o.leg as usize] = Some(OpenLeg {
                    inst: o.inst,
                    side: o.side,
                    qty: o.qty,
                    limit_px: o.limit_px,
                });
                s.last_ns = s.last_ns.max(o.send_ns);
            }
        }
        let ie = &self.insts[o.inst.idx()];
        let v = ie.venue.idx();
        let client_id = client_id(o.trade_id, o.leg);
        let fields = OrderFields {
            symbol: &ie.symbol,
            side: o.side,
            kind: if o.market {
                OrderKind::Market
            } else {
                OrderKind::LimitIoc
            },
            qty: o.qty.0,
            qty_dec: ie.qty_dec,
            px: o.limit_px.0,
            price_dec: ie.price_dec,
            client_id,
            timestamp_ms: o.send_ns / 1_000_000,
            recv_window_ms: self.recv_window_ms,
            token,
        };
        self.stats.orders += 1;
        if let Some(lv) = self.live[v].as_mut() {
            let t0 = clock::raw();
            let mut evs = |e: live::LiveEvent| match e {
                live::LiveEvent::Transition(ev) => cold(ColdMsg::Order(ev)),
                // a leg final inside `submit` cannot happen (it returns Err instead)
                live::LiveEvent::Final { .. } | live::LiveEvent::VenueBanned(_) => {}
            };
            let r = lv.submit_fields(
                &fields,
                o.slot,
                o.leg,
                o.unwind,
                o.inst,
                o.limit_px,
                o.qty,
                o.deadline_ns,
                o.send_ns,
                &mut evs,
            );
            self.encode.record_since(t0);
            if let Err(status) = r {
                self.stats.not_sent += 1;
                let f = LegFill {
                    venue: ie.venue,
                    instrument: o.inst,
                    side: o.side,
                    unwind: o.unwind,
                    order_qty: o.qty,
                    limit_px: o.limit_px,
                    arrival_ns: o.send_ns,
                    view_ns: o.send_ns,
                    known_ns: o.send_ns,
                    status,
                    ..LegFill::default()
                };
                self.on_leg(o.slot, o.trade_id, o.leg, f, out, cold);
            }
            return;
        }
        let Some(enc) = self.entries[v].as_mut() else {
            // only group members are traded, and config load refuses a group member whose
            // venue has no order entry
            debug_assert!(false, "order for a venue without order entry");
            return;
        };
        if !self.catching_up {
            // a resumed replay's catch-up re-derives what was sent: nothing is signed again
            let t0 = clock::raw();
            let _bytes = enc.place(&fields);
            self.encode.record_since(t0);
        }
        let so = self.sim_order(&o);
        cold(ColdMsg::Order(OrderEvent {
            ts_ns: o.send_ns,
            venue: ie.venue,
            instrument: o.inst,
            client_id,
            trade_id: o.trade_id,
            leg: o.leg,
            side: o.side,
            state: OrderState::Sent,
            qty: o.qty,
            limit_px: o.limit_px,
            ..OrderEvent::default()
        }));
        out(FromExec::Order(so));
    }

    /// Handle one message from detection; outputs go to `out` (to detection) and `cold`.
    pub fn handle(
        &mut self,
        msg: ToExec,
        out: &mut impl FnMut(FromExec),
        cold: &mut impl FnMut(ColdMsg),
    ) {
        match msg {
            ToExec::Intent(it) => self.on_intent(it, out, cold),
            ToExec::Unwind(u) => self.on_unwind(u, out, cold),
            ToExec::UnwindRefused(r) => self.on_unwind_refused(&r, out, cold),
            ToExec::Fill(f) => self.on_fill(f, out, cold),
            ToExec::CancelAll => {
                let now = if self.is_live() {
                    clock::Clock::get().now_ns()
                } else {
                    0
                };
                self.cancel_all(now, cold)
            }
            ToExec::Checkpoint(seq) => cold(ColdMsg::Barrier(seq)),
            ToExec::CatchUp(on) => self.catching_up = on,
            ToExec::Shutdown => {}
        }
        self.processed += 1;
        out(FromExec::Ack(self.processed));
    }

    /// Live: read answers and stream messages, run timers; final legs complete their trades.
    /// Nothing to do in simulation.
    pub fn poll_live(
        &mut self,
        now: u64,
        out: &mut impl FnMut(FromExec),
        cold: &mut impl FnMut(ColdMsg),
    ) {
        for v in 0..self.live.len() {
            let Some(mut lv) = self.live[v].take() else {
                continue;
            };
            let mut finals: [(u8, u8, LegFill); 16] = [(0, 0, LegFill::default()); 16];
            let mut nf = 0usize;
            let mut banned = false;
            lv.poll(now, &mut |e| match e {
                live::LiveEvent::Transition(ev) => cold(ColdMsg::Order(ev)),
                live::LiveEvent::Final { slot, leg, fill } => {
                    if nf < finals.len() {
                        finals[nf] = (slot, leg, fill);
                        nf += 1;
                    }
                }
                live::LiveEvent::VenueBanned(_) => banned = true,
            });
            self.live[v] = Some(lv);
            if banned && !self.banned[v] {
                self.banned[v] = true;
                out(FromExec::VenueDisabled(VenueId(v as u8)));
            }
            for &(slot, leg, fill) in &finals[..nf] {
                let trade_id = self.slots.get(slot as usize).map(|s| s.opp.id).unwrap_or(0);
                self.on_leg(slot, trade_id, leg, fill, out, cold);
            }
        }
    }

    /// Kill switch / stop (R4.5) and shutdown: cancel every open order and send nothing more
    /// (intents and unwinds that still arrive are not sent: the gate refuses new ones once
    /// stopped).
    ///
    /// Live venues: a cancel goes out for every order that is not final (their `cancel_sent`
    /// lines come from the venue's order entry; the final states arrive through
    /// [`Executor::poll_live`]). Simulated venue (replay, paper): its orders wait in the fill
    /// simulator on the detection thread, which answers each one `stop_cancelled` right after
    /// this message; here each open order gets its `cancel_sent` journal line (at the trade's
    /// latest data time: replays stay deterministic).
    pub fn cancel_all(&mut self, now: u64, cold: &mut impl FnMut(ColdMsg)) {
        self.stopped = true;
        for lv in self.live.iter_mut().flatten() {
            lv.cancel_all(now, &mut |e| {
                if let live::LiveEvent::Transition(ev) = e {
                    cold(ColdMsg::Order(ev))
                }
            });
        }
        for s in self.slots.iter().filter(|s| s.busy) {
            for (k, l) in s.open.iter().enumerate() {
                let Some(l) = l else { continue };
                let venue = self.insts[l.inst.idx()].venue;
                if self.live[venue.idx()].is_some() {
                    continue;
                }
                self.stats.cancels_requested += 1;
                cold(ColdMsg::Order(OrderEvent {
                    ts_ns: s.last_ns,
                    venue,
                    instrument: l.inst,
                    client_id: client_id(s.opp.id, k as u8),
                    trade_id: s.opp.id,
                    leg: k as u8,
                    side: l.side,
                    state: OrderState::CancelSent,
                    qty: l.qty,
                    limit_px: l.limit_px,
                    ..OrderEvent::default()
                }));
            }
        }
    }

    /// An order for the simulated venue sent at data time `o.send_ns`: it reaches the venue
    /// one order latency later, is matched against the book received one feed latency after
    /// that, and is cancelled if it would arrive after `o.deadline_ns`.
    fn sim_order(&self, o: &LegOrder) -> SimOrder {
        let venue = self.insts[o.inst.idx()].venue;
        let arrival = o.send_ns + self.latency[venue.idx()];
        SimOrder {
            trade_id: o.trade_id,
            slot: o.slot,
            leg: o.leg,
            unwind: o.unwind,
            venue,
            instrument: o.inst,
            side: o.side,
            market: o.market,
            limit_px: o.limit_px,
            qty: o.qty,
            send_ns: o.send_ns,
            arrival_ns: arrival,
            view_ns: arrival + self.feed_latency[venue.idx()],
            deadline_ns: o.deadline_ns,
        }
    }

    fn on_intent(
        &mut self,
        it: ApprovedIntent,
        out: &mut impl FnMut(FromExec),
        cold: &mut impl FnMut(ColdMsg),
    ) {
        let now = clock::raw();
        // the approval is consumed here: its token signs these legs and nothing else
        let (o, slot) = it.into_parts();
        if self.stopped {
            // cannot happen (a stopped gate approves nothing); never send after a kill
            return;
        }
        let token = SendToken::new();
        self.stats.intents += 1;
        self.intent_hop.record_between(o.signal_tsc, now);
        if let Strategy::Triangle(c) = o.strategy {
            return self.on_cycle_intent(&token, o, slot, c, out, cold);
        }
        let live = self.is_live();
        self.slots[slot as usize] = TradeSlot {
            busy: true,
            opp: o,
            legs: [LegFill::default(); MAX_TRADE_LEGS],
            n_legs: 2,
            outstanding: 2,
            unwinding: false,
            next_leg: 2,
            open: [None; MAX_TRADE_LEGS],
            last_ns: o.detected_ns,
        };
        let send_ns = self.send_time(o.detected_ns);
        for (k, leg) in [o.buy, o.sell].iter().enumerate() {
            self.send_leg(
                &token,
                LegOrder {
                    trade_id: o.id,
                    slot,
                    leg: k as u8,
                    inst: leg.instrument,
                    side: leg.side,
                    market: self.market_orders,
                    limit_px: leg.limit_px,
                    qty: leg.qty,
                    send_ns,
                    deadline_ns: send_ns + self.window_ns,
                    unwind: false,
                },
                out,
                cold,
            );
        }
        // both legs are out: tick-to-order is when the second leg's bytes are ready (live:
        // written to the socket)
        let t = clock::raw();
        self.tick_to_order.record_between(o.handoff_tsc, t);
        if live {
            self.tick_to_wire.record_between(o.handoff_tsc, t);
        }
    }

    fn on_fill(
        &mut self,
        f: SimFill,
        out: &mut impl FnMut(FromExec),
        cold: &mut impl FnMut(ColdMsg),
    ) {
        let st = match f.fill.status {
            LegStatus::Filled => OrderState::Filled,
            LegStatus::Partial => OrderState::Expired,
            LegStatus::Cancelled | LegStatus::StopCancelled => OrderState::Cancelled,
            LegStatus::Rejected | LegStatus::NoBook | LegStatus::DataEnded => OrderState::Rejected,
            _ => OrderState::Expired,
        };
        cold(ColdMsg::Order(OrderEvent {
            ts_ns: f.fill.known_ns,
            venue: f.fill.venue,
            instrument: f.fill.instrument,
            client_id: client_id(f.trade_id, f.leg),
            trade_id: f.trade_id,
            leg: f.leg,
            side: f.fill.side,
            state: st,
            qty: f.fill.order_qty,
            filled_qty: f.fill.filled_qty,
            cum_quote: f.fill.quote,
            limit_px: f.fill.limit_px,
            ..OrderEvent::default()
        }));
        self.on_leg(f.slot, f.trade_id, f.leg, f.fill, out, cold);
    }

    /// A leg is final (simulated or live): complete the trade, or ask for its unwind.
    fn on_leg(
        &mut self,
        slot: u8,
        trade_id: u64,
        leg: u8,
        fill: LegFill,
        out: &mut impl FnMut(FromExec),
        cold: &mut impl FnMut(ColdMsg),
    ) {
        let Some(s) = self.slots.get_mut(slot as usize) else {
            return;
        };
        if !s.busy || s.opp.id != trade_id {
            return;
        }
        if let Some(l) = s.open.get_mut(leg as usize) {
            *l = None;
        }
        s.last_ns = s.last_ns.max(fill.known_ns);
        if fill.filled_qty.0 != 0 {
            cold(ColdMsg::Fill(FillRecord {
                trade_id,
                leg,
                ts_ns: fill.known_ns,
                fill,
            }));
        }
        let opp = s.opp;
        if let Strategy::Triangle(c) = opp.strategy {
            return self.on_cycle_leg(slot, leg, fill, c, out, cold);
        }
        s.legs[leg as usize] = fill;
        s.outstanding = s.outstanding.saturating_sub(1);
        if s.outstanding > 0 {
            return;
        }
        if !s.unwinding {
            let (b, sl) = (s.legs[0], s.legs[1]);
            // the excess of the leg that filled more, in its own base: a pair trade's legs
            // are matched at the planned hedge ratio, a spatial pair's one for one
            let (diff, excess) = match opp.strategy {
                Strategy::Pair(_) => pair::excess(&opp, &b, &sl),
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
                    // ask the gate: the unwind is an order too
                    let s = &mut self.slots[slot as usize];
                    s.unwinding = true;
                    s.outstanding = 1;
                    out(FromExec::Unwind(UnwindRequest {
                        trade_id: opp.id,
                        slot,
                        leg: 2,
                        instrument: leg.instrument,
                        side,
                        qty: q,
                        residual_base: Amount(diff.signum() * excess),
                        send_ns: b.known_ns.max(sl.known_ns),
                    }));
                    return;
                }
            }
        }
        self.complete(slot, out, cold);
    }

    /// The gate approved an unwind: send it (consuming the approval).
    fn on_unwind(
        &mut self,
        u: ApprovedUnwind,
        out: &mut impl FnMut(FromExec),
        cold: &mut impl FnMut(ColdMsg),
    ) {
        let r = u.into_request();
        let token = SendToken::new();
        let Some(s) = self.slots.get(r.slot as usize) else {
            return;
        };
        if !s.busy || s.opp.id != r.trade_id || self.stopped {
            return;
        }
        self.stats.unwinds += 1;
        let n = &mut self.slots[r.slot as usize].n_legs;
        *n = (*n).max(r.leg + 1);
        let send_ns = self.send_time(r.send_ns);
        // the unwind gets its own execution window from its send
        self.send_leg(
            &token,
            LegOrder {
                trade_id: r.trade_id,
                slot: r.slot,
                leg: r.leg,
                inst: r.instrument,
                side: r.side,
                market: true,
                limit_px: crate::types::Price(0),
                qty: r.qty,
                send_ns,
                deadline_ns: send_ns + self.window_ns,
                unwind: true,
            },
            out,
            cold,
        );
    }

    /// Send time of an order decided at data time `data_ns`: that time in replay and paper
    /// (the simulator's clock), the wall clock live.
    fn send_time(&self, data_ns: u64) -> u64 {
        if self.is_live() {
            clock::Clock::get().now_ns()
        } else {
            data_ns
        }
    }

    /// The gate refused an unwind: the trade ends with that exposure held (and recorded);
    /// a triangle waits for its other closing order, if it asked for two.
    fn on_unwind_refused(
        &mut self,
        r: &UnwindRequest,
        out: &mut impl FnMut(FromExec),
        cold: &mut impl FnMut(ColdMsg),
    ) {
        let Some(s) = self.slots.get_mut(r.slot as usize) else {
            return;
        };
        if !s.busy || s.opp.id != r.trade_id {
            return;
        }
        self.stats.unwinds_refused += 1;
        if (r.leg as usize) < MAX_TRADE_LEGS && r.leg >= 2 && r.leg < s.n_legs {
            // the refused closing order stays in the record as not sent (nothing filled)
            s.legs[r.leg as usize] = LegFill {
                venue: self.insts[r.instrument.idx()].venue,
                instrument: r.instrument,
                side: r.side,
                unwind: true,
                order_qty: r.qty,
                arrival_ns: r.send_ns,
                view_ns: r.send_ns,
                known_ns: r.send_ns,
                status: LegStatus::Rejected,
                ..LegFill::default()
            };
        }
        s.outstanding = s.outstanding.saturating_sub(1);
        if s.outstanding == 0 {
            self.complete(r.slot, out, cold);
        }
    }

    fn complete(
        &mut self,
        slot: u8,
        out: &mut impl FnMut(FromExec),
        cold: &mut impl FnMut(ColdMsg),
    ) {
        let s = self.slots[slot as usize];
        let rec = match s.opp.strategy {
            Strategy::Triangle(c) => cycle::finish_cycle(&s.opp, &c, &s.legs[..s.n_legs as usize]),
            _ => finish(&s.opp, &s.legs[..s.n_legs as usize]),
        };
        self.slots[slot as usize].busy = false;
        self.stats.trades_done += 1;
        out(FromExec::Done(slot, rec));
        cold(ColdMsg::Trade(rec));
    }
}

/// Build the trade record from its legs: PnL adds up from the legs (R3.3: one-leg outcomes
/// are recorded with their real PnL).
pub fn finish(o: &Opportunity, legs: &[LegFill]) -> TradeRecord {
    if let Strategy::Pair(p) = o.strategy {
        return pair::finish(o, &p, legs);
    }
    let o = *o;
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

/// Push to detection, waiting while the ring is full (counted).
fn push_blocking(
    tx: &mut Producer<FromExec>,
    m: FromExec,
    ring_full: &mut u64,
    waiter: &mut Waiter,
) {
    let mut m = m;
    loop {
        match tx.push(m) {
            Ok(()) => {
                waiter.notify();
                return;
            }
            Err(back) => {
                m = back;
                *ring_full += 1;
                if tx.is_abandoned() {
                    return;
                }
                waiter.backoff();
            }
        }
    }
}

/// Run the execution thread until `Shutdown` (live: also polling the venues' connections).
pub fn run(
    mut ex: Executor,
    mut rx: Consumer<ToExec>,
    mut tx: Producer<FromExec>,
    mut cold: Producer<ColdMsg>,
    mut waiter: Waiter,
) -> Executor {
    crate::alloc_probe::enter_hot();
    let mut push_waiter = waiter.clone();
    let live = ex.is_live();
    let clock = clock::Clock::get();
    loop {
        if live {
            let (mut ring_full, mut dropped) = (0u64, 0u64);
            ex.poll_live(
                clock.now_ns(),
                &mut |m| push_blocking(&mut tx, m, &mut ring_full, &mut push_waiter),
                &mut |c| {
                    if cold.push(c).is_err() {
                        dropped += 1;
                    }
                },
            );
            ex.stats.ring_full += ring_full;
            ex.stats.journal_dropped += dropped;
        }
        let Some(msg) = rx.pop() else {
            if rx.is_abandoned() && rx.is_empty() {
                break;
            }
            if !live {
                waiter.idle();
            } else {
                std::hint::spin_loop();
            }
            continue;
        };
        waiter.reset();
        let shutdown = matches!(msg, ToExec::Shutdown);
        let mut ring_full = 0u64;
        let mut dropped = 0u64;
        ex.handle(
            msg,
            &mut |m| push_blocking(&mut tx, m, &mut ring_full, &mut push_waiter),
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
    if live {
        // nothing must be left open on a venue: cancel, and wait (bounded) for the answers
        let (mut ring_full, mut dropped) = (0u64, 0u64);
        let mut cold_push = |c: ColdMsg| {
            if cold.push(c).is_err() {
                dropped += 1;
            }
        };
        ex.cancel_all(clock.now_ns(), &mut cold_push);
        let t0 = std::time::Instant::now();
        while ex.live_open_orders() > 0 && t0.elapsed() < std::time::Duration::from_secs(10) {
            ex.poll_live(
                clock.now_ns(),
                &mut |m| push_blocking(&mut tx, m, &mut ring_full, &mut push_waiter),
                &mut cold_push,
            );
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        ex.stats.ring_full += ring_full;
        ex.stats.journal_dropped += dropped;
    }
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
    fn setup() -> (Executor, ApprovedIntent, Market, RiskGate) {
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
            &[(10_500, 10_000)],
            1,
        );
        let mut sp = Spatial::new(&s);
        let mut o = None;
        sp.evaluate(&m, &[InstrumentId(0)], &Unlimited, (0, 0), &mut |x, _| {
            if x.buy.venue.0 == 0 {
                o = Some(x)
            }
        });
        let mut gate = RiskGate::new(&s);
        let it = gate.check(&m, &o.unwrap()).unwrap();
        (Executor::new(&s), it, m, gate)
    }

    fn unwind_request(out: &[FromExec]) -> UnwindRequest {
        out.iter()
            .find_map(|x| match x {
                FromExec::Unwind(r) => Some(*r),
                _ => None,
            })
            .expect("an unwind request to the gate")
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
        let (mut ex, it, m, mut gate) = setup();
        let detected_ns = it.opp().detected_ns;
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
        assert_eq!(orders[0].arrival_ns, detected_ns + 1_000_000);
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
        // the unwind is an order too: execution asks the gate, and sends only what it approves
        assert!(!out.iter().any(|x| matches!(x, FromExec::Order(_))));
        let req = unwind_request(&out);
        let mut bad = req;
        bad.side = Side::Buy; // adding to the long is no unwind
        assert!(gate.approve_unwind(&m, &bad).is_err());
        let approved = gate
            .approve_unwind(&m, &req)
            .expect("a reducing unwind is allowed");
        out.clear();
        ex.handle(ToExec::Unwind(approved), &mut |x| out.push(x), &mut |c| {
            cold.push(c)
        });
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

    #[test]
    fn a_refused_unwind_ends_the_trade_with_its_exposure_recorded() {
        let (mut ex, it, m, _) = setup();
        let mut out = vec![];
        let mut cold = vec![];
        ex.handle(ToExec::Intent(it), &mut |x| out.push(x), &mut |c| {
            cold.push(c)
        });
        let orders: Vec<SimOrder> = out
            .iter()
            .filter_map(|x| match x {
                FromExec::Order(o) => Some(*o),
                _ => None,
            })
            .collect();
        for (o, q) in [(&orders[0], 1_000), (&orders[1], 0)] {
            ex.handle(
                ToExec::Fill(fill_of(o, q, &m)),
                &mut |x| out.push(x),
                &mut |c| cold.push(c),
            );
        }
        let req = unwind_request(&out);
        out.clear();
        ex.handle(ToExec::UnwindRefused(req), &mut |x| out.push(x), &mut |c| {
            cold.push(c)
        });
        let done = out
            .iter()
            .find_map(|x| match x {
                FromExec::Done(_, r) => Some(*r),
                _ => None,
            })
            .expect("trade final");
        assert_eq!(done.n_legs, 2, "no unwind was sent");
        assert_eq!(
            done.residual_base,
            Amount::from_f64(1.0),
            "the long 1 BTC stays"
        );
        assert_eq!(ex.stats.unwinds_refused, 1);
        assert_eq!(ex.stats.orders, 2);
    }
}
