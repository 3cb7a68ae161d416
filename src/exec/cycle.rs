//! Triangles in execution (R2.2, R3.3): the three legs sent at once (IOC at the walked
//! limits, default) or one after another (`triangular.send = "sequential"`: each leg sized
//! from what the previous one delivered, the cycle stopping at a leg that fills nothing).
//!
//! **One-leg policy.** When the legs are final, the trade's net change in each of the two
//! middle assets is what a failed or partial leg left (a complete cycle leaves only lot
//! dust): with `execution.one_leg = "unwind"` each is closed back to the start asset with a
//! market order (within `unwind_max_slippage_bps`) on the instrument that links it to the
//! start asset — the first leg's for the second asset, the last leg's for the third. Each
//! closing order is asked of the risk gate (`FromExec::Unwind`, legs 3 and 4) like a spatial
//! unwind, and only what it approves is sent. What is left after that is valued at the
//! trade's own prices on those instruments.
//!
//! **PnL.** Every fill moves its instrument's base and quote asset (fees in the quote asset);
//! the trade's PnL is the change in the start asset plus the middle assets' changes valued
//! in the start asset, times the start asset's USD value.
#![forbid(unsafe_code)]

use super::{Executor, FromExec, LegOrder, SendToken, TradeSlot};
use crate::clock;
use crate::config::UnwindPolicy;
use crate::journal::{ColdMsg, LegFill, LegStatus, TradeRecord, TradeStatus, MAX_TRADE_LEGS};
use crate::risk::UnwindRequest;
use crate::signal::{CyclePlan, LegPlan, Opportunity};
use crate::types::{pow10, Amount, Qty, Side};

#[inline]
fn mul_div(a: i64, b: i64, c: i64) -> i64 {
    if c == 0 {
        return 0;
    }
    (a as i128 * b as i128 / c as i128).clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// What a leg gives of the asset after it (base for a buy, quote − fee for a sell).
fn received(l: &LegFill) -> i64 {
    match l.side {
        Side::Buy => l.base.0,
        Side::Sell => l.quote.0 - l.fee.0,
    }
}

/// Net change of the middle assets B and C over the cycle legs (closing orders included).
fn middle_deltas(c: &CyclePlan, legs: &[LegFill]) -> [i64; 2] {
    let mut d = [0i64; 3];
    for l in legs {
        let Some(k) = c.legs.iter().position(|p| p.instrument == l.instrument) else {
            continue;
        };
        // instrument k links asset k and k + 1; its base is the asset a buy leg gets
        let (base, quote) = match c.legs[k].side {
            Side::Buy => ((k + 1) % 3, k),
            Side::Sell => (k, (k + 1) % 3),
        };
        let s = if l.side == Side::Buy { 1 } else { -1 };
        d[base] += s * l.base.0;
        d[quote] -= s * l.quote.0 + l.fee.0;
    }
    [d[1], d[2]]
}

impl Executor {
    /// One leg of a cycle: every leg shares the cycle's execution window, from detection.
    #[allow(clippy::too_many_arguments)]
    fn send_cycle_leg(
        &mut self,
        token: &SendToken,
        o: &Opportunity,
        slot: u8,
        k: usize,
        leg: &LegPlan,
        qty: Qty,
        send_ns: u64,
        out: &mut impl FnMut(FromExec),
        cold: &mut impl FnMut(ColdMsg),
    ) {
        self.send_leg(
            token,
            LegOrder {
                trade_id: o.id,
                slot,
                leg: k as u8,
                inst: leg.instrument,
                side: leg.side,
                market: self.market_orders,
                limit_px: leg.limit_px,
                qty,
                send_ns,
                deadline_ns: o.detected_ns + self.window_ns,
                unwind: false,
            },
            out,
            cold,
        );
    }

    /// An approved triangle: its legs at once, or the first of them in sequence. The
    /// approval covers all three legs (the gate checked each of them), so a sequential
    /// cycle's later legs are sent under it too.
    pub(super) fn on_cycle_intent(
        &mut self,
        token: &SendToken,
        o: Opportunity,
        slot: u8,
        c: CyclePlan,
        out: &mut impl FnMut(FromExec),
        cold: &mut impl FnMut(ColdMsg),
    ) {
        let first = if c.sequential { 1 } else { 3 };
        self.slots[slot as usize] = TradeSlot {
            busy: true,
            opp: o,
            legs: [LegFill::default(); MAX_TRADE_LEGS],
            n_legs: 3,
            outstanding: first as u8,
            unwinding: false,
            next_leg: first as u8,
            open: [None; MAX_TRADE_LEGS],
            last_ns: o.detected_ns,
        };
        let send_ns = self.send_time(o.detected_ns);
        for k in 0..first {
            self.send_cycle_leg(
                token,
                &o,
                slot,
                k,
                &c.legs[k],
                c.legs[k].qty,
                send_ns,
                out,
                cold,
            );
        }
        let t = clock::raw();
        self.tick_to_order.record_between(o.handoff_tsc, t);
        if self.is_live() {
            self.tick_to_wire.record_between(o.handoff_tsc, t);
        }
    }

    /// Quantity of `leg` that `have` of its input asset pays for (at most the planned one).
    fn size_from(&self, leg: &LegPlan, have: i64) -> Qty {
        let ie = &self.insts[leg.instrument.idx()];
        let q = match leg.side {
            Side::Buy => {
                let fee = self.fee[leg.instrument.idx()].to_bits().max(0) as i128;
                let one = 10_000i128 << 32;
                let notional = (have as i128 * one / (one + fee)) as i64;
                let base = mul_div(notional, pow10(ie.price_dec), leg.limit_px.0.max(1));
                ie.spec.qty_for_base_floor(Amount(base), leg.limit_px)
            }
            Side::Sell => ie.spec.qty_for_base_floor(Amount(have), leg.limit_px),
        };
        Qty(q.0.min(leg.qty.0))
    }

    /// A market order closing `delta` of an asset on `leg`'s instrument, where the asset is
    /// the instrument's base (`is_base`) or its quote: (side, quantity, the base it moves).
    fn close_order(&self, leg: &LegPlan, is_base: bool, delta: i64) -> Option<(Side, Qty, i64)> {
        let ie = &self.insts[leg.instrument.idx()];
        let px = leg.top_px;
        let (side, base) = match (is_base, delta > 0) {
            // hold too much of the base: sell it; too little: buy it back
            (true, true) => (Side::Sell, delta),
            (true, false) => (Side::Buy, -delta),
            // hold too much of the quote: buy base with it; too little: sell base for it
            (false, true) => (Side::Buy, mul_div(delta, pow10(ie.price_dec), px.0.max(1))),
            (false, false) => (
                Side::Sell,
                mul_div(-delta, pow10(ie.price_dec), px.0.max(1)),
            ),
        };
        let q = ie.spec.qty_for_base_floor(Amount(base), px);
        (q.0 >= ie.lot && q.0 > 0).then_some((side, q, base))
    }

    /// A cycle leg (or closing order) is final: send the next leg of a sequential cycle, ask
    /// the gate to close what a failed leg left, or finish the trade.
    pub(super) fn on_cycle_leg(
        &mut self,
        slot: u8,
        leg: u8,
        fill: LegFill,
        c: CyclePlan,
        out: &mut impl FnMut(FromExec),
        cold: &mut impl FnMut(ColdMsg),
    ) {
        let si = slot as usize;
        {
            let s = &mut self.slots[si];
            s.legs[leg as usize] = fill;
            s.outstanding = s.outstanding.saturating_sub(1);
            if s.outstanding > 0 {
                return;
            }
        }
        let s = self.slots[si];
        let o = s.opp;
        if !s.unwinding {
            // after a stop nothing more is sent: the cycle ends with what it has
            if c.sequential && s.next_leg < 3 && !self.stopped {
                let k = s.next_leg as usize;
                let prev = s.legs[k - 1];
                if prev.filled_qty.0 > 0 {
                    let q = self.size_from(&c.legs[k], received(&prev));
                    if q.0 >= self.insts[c.legs[k].instrument.idx()].lot && q.0 > 0 {
                        let sl = &mut self.slots[si];
                        sl.next_leg += 1;
                        sl.outstanding = 1;
                        // covered by the cycle's approval (see `on_cycle_intent`)
                        let token = SendToken::new();
                        let send_ns = self.send_time(prev.known_ns);
                        self.send_cycle_leg(&token, &o, slot, k, &c.legs[k], q, send_ns, out, cold);
                        return;
                    }
                }
            }
            if self.one_leg == UnwindPolicy::Unwind {
                let d = middle_deltas(&c, &s.legs[..3]);
                // B links to the start asset through leg 0's instrument (its base if leg 0
                // buys), C through leg 2's (its base if leg 2 sells)
                let closes = [
                    self.close_order(&c.legs[0], c.legs[0].side == Side::Buy, d[0])
                        .map(|x| (0usize, x)),
                    self.close_order(&c.legs[2], c.legs[2].side == Side::Sell, d[1])
                        .map(|x| (2usize, x)),
                ];
                let send = s.legs[..3].iter().map(|l| l.known_ns).max().unwrap_or(0);
                let mut n = 0u8;
                let mut reqs = [None; 2];
                for (k, (side, q, base)) in closes.into_iter().flatten() {
                    // ask the gate for each closing order, like any unwind
                    reqs[n as usize] = Some(UnwindRequest {
                        trade_id: o.id,
                        slot,
                        leg: 3 + n,
                        instrument: c.legs[k].instrument,
                        side,
                        qty: q,
                        residual_base: Amount(if side == Side::Sell { base } else { -base }),
                        send_ns: send,
                    });
                    n += 1;
                }
                if n > 0 {
                    let sl = &mut self.slots[si];
                    sl.unwinding = true;
                    sl.outstanding = n;
                    sl.n_legs = 3 + n;
                    for r in reqs.into_iter().flatten() {
                        out(FromExec::Unwind(r));
                    }
                    return;
                }
            }
        }
        self.complete(slot, out, cold);
    }
}

/// The record of a finished cycle.
pub(super) fn finish_cycle(o: &Opportunity, c: &CyclePlan, legs: &[LegFill]) -> TradeRecord {
    let o = *o;
    let mut rec = TradeRecord {
        id: o.id,
        opp: o,
        n_legs: legs.len() as u8,
        ..TradeRecord::default()
    };
    for (k, l) in legs.iter().enumerate() {
        let mut l = *l;
        l.unwind = k >= 3;
        rec.legs[k] = l;
        rec.done_ns = rec.done_ns.max(l.known_ns);
    }
    let cyc = &legs[..3.min(legs.len())];
    rec.status = if cyc.iter().all(|l| l.filled_qty.0 == 0) {
        TradeStatus::Missed
    } else if cyc.len() == 3 && cyc.iter().all(|l| l.status == LegStatus::Filled) && legs.len() == 3
    {
        TradeStatus::Filled
    } else if legs.len() > 3 {
        TradeStatus::OneLeg
    } else {
        TradeStatus::Partial
    };
    // per asset (start, B, C): the fills' changes
    let mut d = [0i64; 3];
    for l in legs {
        let Some(k) = c.legs.iter().position(|p| p.instrument == l.instrument) else {
            continue;
        };
        let (base, quote) = match c.legs[k].side {
            Side::Buy => ((k + 1) % 3, k),
            Side::Sell => (k, (k + 1) % 3),
        };
        let s = if l.side == Side::Buy { 1 } else { -1 };
        d[base] += s * l.base.0;
        d[quote] -= s * l.quote.0 + l.fee.0;
    }
    // B and C valued in the start asset through the instruments that link them to it
    let value = |asset: usize, amt: i64, legs: &[LegFill]| -> i64 {
        match asset {
            0 => amt,
            1 => {
                let (q, b) = ratio_or_plan(&c.legs[0], legs);
                if c.legs[0].side == Side::Buy {
                    mul_div(amt, q, b) // B is the base, priced in the start asset
                } else {
                    mul_div(amt, b, q) // B is the quote of a start-asset base
                }
            }
            _ => {
                let (q, b) = ratio_or_plan(&c.legs[2], legs);
                if c.legs[2].side == Side::Sell {
                    mul_div(amt, q, b)
                } else {
                    mul_div(amt, b, q)
                }
            }
        }
    };
    let net = d[0] + value(1, d[1], legs) + value(2, d[2], legs);
    let mut fees = 0i64;
    let mut volume = 0i64;
    for l in legs {
        let Some(k) = c.legs.iter().position(|p| p.instrument == l.instrument) else {
            continue;
        };
        let quote = match c.legs[k].side {
            Side::Buy => k,
            Side::Sell => (k + 1) % 3,
        };
        fees += value(quote, l.fee.0, legs);
        volume += value(quote, l.quote.0, legs);
    }
    let usd = |a: i64| mul_div(a, c.start_usd_e8, 100_000_000);
    let resid = value(1, d[1], legs) + value(2, d[2], legs);
    rec.gross_pnl_usd = Amount(usd(net + fees));
    rec.fees_usd = Amount(usd(fees));
    rec.net_pnl_usd = Amount(usd(net + fees) - usd(fees));
    rec.residual_base = Amount(0);
    rec.residual_mark_usd = Amount(usd(resid));
    rec.volume_usd = Amount(usd(volume));
    rec
}

/// Quote per base (two 1e-8 amounts) of `leg`'s instrument: the trade's own fills on it, else
/// the plan's expected fill (its quote over its base).
fn ratio_or_plan(leg: &LegPlan, legs: &[LegFill]) -> (i64, i64) {
    let (q, b) = legs
        .iter()
        .filter(|l| l.instrument == leg.instrument)
        .fold((0i64, 0i64), |(q, b), l| (q + l.quote.0, b + l.base.0));
    if b > 0 && q > 0 {
        (q, b)
    } else {
        (leg.quote.0.max(1), leg.base.0.max(1))
    }
}
