//! Triangular arbitrage on one venue (R2.2): every cycle start → B → C → start over the
//! configured spot instruments of a venue, in both directions, priced at the top of the three
//! books and sized by walking them.
//!
//! **Cycles.** At config load ([`enumerate_cycles`]) every ordered triple of a venue's spot
//! instruments that leads from a start asset through two other assets back to it becomes a
//! cycle; the reverse direction is a cycle of its own. Leg `k` turns asset `k` into asset
//! `k + 1`: on an instrument whose quote is the asset held, it *buys* (at the ask), on one whose
//! base is held, it *sells* (at the bid). USDT → BTC → ETH → USDT through BTCUSDT, ETHBTC,
//! ETHUSDT buys BTCUSDT, buys ETHBTC, sells ETHUSDT: top-of-book gross return
//! `bid(ETHUSDT) / (ask(BTCUSDT) · ask(ETHBTC)) − 1`; the net return multiplies by
//! `(1 − fee)` per leg (each leg's taker fee).
//!
//! **Arithmetic.** The cycle multiplier is exact integer arithmetic on the books' fixed-point
//! prices, carried at 10⁻¹⁸ (`i128`), and returns are [`Bps`] (binary fixed point): no floats on
//! the hot path.
//!
//! **Sizing.** For a start amount `S` the legs are simulated in order: a buy spends what the
//! previous leg delivered (fee included) walking the asks, a sell sells it walking the bids;
//! each leg's quantity is rounded down to the instrument's lot, its cost re-walked, and its fee
//! (in the instrument's quote asset, as the engine books spot fees) taken off, so the cycle's
//! end amount is what the venue would give back. `S` is the largest amount (binary search,
//! at most the per-trade notional cap and the free start balance) whose *marginal* return —
//! the cycle priced at the worst level each leg reaches, after fees — still clears the
//! minimum; every leg must then meet the instrument's minimum quantity and notional, and the
//! sized cycle's own return must clear the minimum (R2.2 default 0.15 %). What lot rounding
//! leaves in the two middle assets is dust, not counted as profit.
//!
//! **Confidence** (R2.6, as [`super::spatial`]): 0.4·freshness of the oldest of the three
//! books + 0.3·depth (liquidity within each leg's limit beyond its size, the thinnest leg) +
//! 0.3·standing (the quote lifetime against order latency, the weakest leg).
#![forbid(unsafe_code)]

use crate::book::{walk_qty, Market, Unusable};
use crate::config::{CycleSend, Setup, TriangularConfig};
use crate::instrument::{InstrumentKind, InstrumentSpec};
use crate::signal::{CyclePlan, LegPlan, Opportunity, SizeCaps, Strategy};
use crate::types::{
    apply_bps, pow10, Amount, Bps, InstrumentId, Price, Qty, Ratio, Side, VenueId, AMOUNT_ONE,
};

/// One cycle and direction, resolved.
#[derive(Clone, Debug)]
pub struct CycleDef {
    /// Venue.
    pub venue: VenueId,
    /// The assets in order: start, B, C, start.
    pub assets: [String; 4],
    /// Leg `k`: the instrument and our side on it.
    pub legs: [(InstrumentId, Side); 3],
    /// USD per unit of the start asset.
    pub start_usd: f64,
}

/// The `[triangular]` section, resolved.
#[derive(Clone, Debug)]
pub struct TriangularSetup {
    /// Every cycle and direction.
    pub cycles: Vec<CycleDef>,
    /// The section as written.
    pub cfg: TriangularConfig,
}

/// Every cycle on `venue` over `instruments` (spot only) from each start asset, in both
/// directions. Order: by start asset as given, then by the instruments' ids.
pub fn enumerate_cycles(
    instruments: &[InstrumentSpec],
    venue: VenueId,
    start_assets: &[(String, f64)],
) -> Vec<CycleDef> {
    let spot: Vec<&InstrumentSpec> = instruments
        .iter()
        .filter(|s| s.venue == venue && s.kind == InstrumentKind::Spot)
        .collect();
    let has = |s: &InstrumentSpec, a: &str| {
        s.base.eq_ignore_ascii_case(a) || s.quote.eq_ignore_ascii_case(a)
    };
    let other = |s: &InstrumentSpec, a: &str| -> String {
        if s.base.eq_ignore_ascii_case(a) {
            s.quote.to_ascii_uppercase()
        } else {
            s.base.to_ascii_uppercase()
        }
    };
    // holding `a`: sell where it is the base, buy where it is the quote
    let side = |s: &InstrumentSpec, a: &str| {
        if s.base.eq_ignore_ascii_case(a) {
            Side::Sell
        } else {
            Side::Buy
        }
    };
    let mut out = Vec::new();
    for (a, usd) in start_assets {
        let a = a.to_ascii_uppercase();
        for i1 in &spot {
            if !has(i1, &a) {
                continue;
            }
            let b = other(i1, &a);
            for i2 in &spot {
                if i2.id == i1.id || !has(i2, &b) {
                    continue;
                }
                let c = other(i2, &b);
                if c == a || c == b {
                    continue;
                }
                for i3 in &spot {
                    if i3.id == i1.id || i3.id == i2.id || !has(i3, &c) || !has(i3, &a) {
                        continue;
                    }
                    out.push(CycleDef {
                        venue,
                        assets: [a.clone(), b.clone(), c.clone(), a.clone()],
                        legs: [
                            (i1.id, side(i1, &a)),
                            (i2.id, side(i2, &b)),
                            (i3.id, side(i3, &c)),
                        ],
                        start_usd: *usd,
                    });
                }
            }
        }
    }
    out
}

/// Statistics of one cycle and direction (report `triangles[]`).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct CycleStats {
    /// Evaluations (market-data messages that changed one of its books while all three had a
    /// top of book).
    pub evaluations: u64,
    /// Largest top-of-book return before fees, bps.
    pub max_gross_bps: f64,
    /// When it was seen (data time, ns).
    pub max_gross_at_ns: u64,
    /// Largest top-of-book return after the three taker fees, bps.
    pub max_net_bps: f64,
    /// Opportunities that passed every threshold.
    pub signals: u64,
    /// Signals the risk gate approved.
    pub traded: u64,
    /// Signals the gate refused.
    pub rejected: u64,
    /// Net return (top of book, or sized) below the minimum.
    pub below_min_profit: u64,
    /// Sized profit below `triangular.min_profit_usd`.
    pub below_min_profit_usd: u64,
    /// A leg rounded to its lot fell below the venue's minimum quantity or notional (or the
    /// books could not fill it).
    pub below_min_order: u64,
    /// Confidence below the minimum.
    pub low_confidence: u64,
    /// A book was older than `risk.stale_after_ns`.
    pub stale: u64,
    /// A book was invalid or its venue down.
    pub invalid: u64,
    /// Same three top prices within `detection.reentry_cooldown_ns` of the last signal.
    pub cooldown: u64,
    /// No free start balance (or, sending at once, no inventory for a leg).
    pub no_balance: u64,
    #[serde(skip)]
    last_eval: u64,
    #[serde(skip)]
    last_signal_ns: u64,
    #[serde(skip)]
    last_signal_top: [Price; 3],
    #[serde(skip)]
    max_gross_bits: Option<Bps>,
    #[serde(skip)]
    max_net_bits: Option<Bps>,
}

/// Thresholds in engine units.
#[derive(Clone, Copy, Debug)]
struct Params {
    min_profit: Bps,
    min_profit_usd: Amount,
    min_conf_ppm: i64,
    max_notional_usd: Amount,
    stale_ns: u64,
    cooldown_ns: u64,
    conf_age_ns: u64,
    sequential: bool,
}

/// A cycle at run time.
#[derive(Clone, Debug)]
struct Cycle {
    legs: [(InstrumentId, Side); 3],
    start_usd_e8: i64,
}

/// The triangular detector: cycles, their statistics, and per-instrument membership.
pub struct Triangular {
    /// Cycles as configured (names for the report).
    pub defs: Vec<CycleDef>,
    /// Statistics, by cycle index.
    pub stats: Vec<CycleStats>,
    cycles: Vec<Cycle>,
    inst_cycles: Vec<Vec<u16>>,
    fee: Vec<Bps>,
    latency: Vec<u64>,
    params: Params,
    /// Evaluation round (one per `evaluate` call), not the message index (per source in
    /// paper and live, so not unique across venues).
    round: u64,
}

const E18: i128 = 1_000_000_000_000_000_000;
const BPS_ONE: i128 = 10_000i128 << 32;

/// `m` (×10¹⁸) after converting through one leg at `px`.
#[inline]
fn through(m: i128, side: Side, px: Price, price_dec: u32) -> i128 {
    if px.0 <= 0 {
        return 0;
    }
    match side {
        Side::Buy => m * pow10(price_dec) as i128 / px.0 as i128,
        Side::Sell => m * px.0 as i128 / pow10(price_dec) as i128,
    }
}

/// `m` (×10¹⁸) after a taker fee.
#[inline]
fn after_fee(m: i128, fee: Bps) -> i128 {
    m * (BPS_ONE - fee.to_bits() as i128) / BPS_ONE
}

/// The return of a multiplier `m` (×10¹⁸), bps.
#[inline]
fn ret_bps(m: i128) -> Bps {
    let v = (((m - E18) * 10_000) << 32) / E18;
    Bps::from_bits(v.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
}

#[inline]
fn mul_div(a: i64, b: i64, c: i64) -> i64 {
    if c == 0 {
        return 0;
    }
    (a as i128 * b as i128 / c as i128).clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// One leg walked through its book.
#[derive(Clone, Copy, Debug, Default)]
struct LegSim {
    qty: Qty,
    base: Amount,
    quote: Amount,
    fee: Amount,
    worst: Price,
    /// What the leg takes from the asset held (quote + fee for a buy, base for a sell).
    spent: i64,
    /// What it gives of the next asset (base for a buy, quote − fee for a sell).
    got: i64,
}

/// Buy with at most `budget` of the quote asset, fee included.
fn sim_buy(m: &Market, i: InstrumentId, fee: Bps, budget: i64) -> Option<LegSim> {
    let spec = &m.specs[i.idx()];
    if budget <= 0 || spec.lot_size.0 <= 0 {
        return None;
    }
    let fee_bits = fee.to_bits().max(0) as i128;
    let mut rem = (budget as i128 * BPS_ONE / (BPS_ONE + fee_bits)) as i64;
    let (pd, qd, cs) = (
        pow10(spec.price_dec) as i128,
        pow10(spec.qty_dec) as i128,
        spec.contract_size.0 as i128,
    );
    let mut raw = 0i64;
    m.books[i.idx()].walk(Side::Buy, |px, lq| {
        let afford = (rem as i128 * pd * qd / (px.0 as i128 * cs).max(1)) as i64;
        let t = afford.min(lq.0).max(0);
        rem -= spec.quote_amount(Qty(t), px).0;
        raw += t;
        t == lq.0 && rem > 0
    });
    let mut q = spec.round_lot_down(Qty(raw));
    for _ in 0..3 {
        if q.0 <= 0 {
            return None;
        }
        let w = walk_qty(m, i, Side::Buy, q);
        let f = apply_bps(w.quote, fee);
        if w.filled == q && w.quote.0 + f.0 <= budget {
            return Some(LegSim {
                qty: q,
                base: w.base,
                quote: w.quote,
                fee: f,
                worst: w.worst_px,
                spent: w.quote.0 + f.0,
                got: w.base.0,
            });
        }
        q = Qty(q.0 - spec.lot_size.0);
    }
    None
}

/// Sell at most `have` of the base asset.
fn sim_sell(m: &Market, i: InstrumentId, fee: Bps, have: i64, top: Price) -> Option<LegSim> {
    let spec = &m.specs[i.idx()];
    let mut q = spec.qty_for_base_floor(Amount(have), top);
    let mut w = walk_qty(m, i, Side::Sell, q);
    if w.filled < q {
        q = spec.round_lot_down(w.filled);
        w = walk_qty(m, i, Side::Sell, q);
    }
    if q.0 <= 0 {
        return None;
    }
    let f = apply_bps(w.quote, fee);
    Some(LegSim {
        qty: q,
        base: w.base,
        quote: w.quote,
        fee: f,
        worst: w.worst_px,
        spent: w.base.0,
        got: w.quote.0 - f.0,
    })
}

/// A cycle walked for one start amount.
#[derive(Clone, Copy, Debug, Default)]
struct CycleSim {
    legs: [LegSim; 3],
    /// Multiplier at each leg's worst level, after fees (×10¹⁸).
    marginal: i128,
}

impl Triangular {
    /// From a resolved config (`None` without a `[triangular]` section).
    pub fn new(setup: &Setup) -> Option<Triangular> {
        let ts = setup.triangular.as_ref()?;
        let d = &setup.cfg.detection;
        let r = &setup.cfg.risk;
        let mut inst_cycles = vec![Vec::new(); setup.instruments.len()];
        let cycles = ts
            .cycles
            .iter()
            .enumerate()
            .map(|(k, c)| {
                for (i, _) in c.legs {
                    if !inst_cycles[i.idx()].contains(&(k as u16)) {
                        inst_cycles[i.idx()].push(k as u16);
                    }
                }
                Cycle {
                    legs: c.legs,
                    start_usd_e8: (c.start_usd * AMOUNT_ONE as f64).round() as i64,
                }
            })
            .collect();
        Some(Triangular {
            defs: ts.cycles.clone(),
            stats: vec![CycleStats::default(); ts.cycles.len()],
            cycles,
            inst_cycles,
            fee: setup.taker_fees_by_instrument(),
            latency: setup
                .venues
                .iter()
                .map(|v| v.cfg.order_latency_ns + v.cfg.feed_latency_ns)
                .collect(),
            params: Params {
                min_profit: Bps::from_num(ts.cfg.min_profit_bps),
                min_profit_usd: Amount::from_f64(ts.cfg.min_profit_usd),
                min_conf_ppm: (d.min_confidence * 1e6).round() as i64,
                max_notional_usd: Amount::from_f64(r.max_trade_notional_usd),
                stale_ns: r.stale_after_ns,
                cooldown_ns: d.reentry_cooldown_ns,
                conf_age_ns: d.confidence_age_ns,
                sequential: ts.cfg.send == CycleSend::Sequential,
            },
            round: 0,
        })
    }

    /// Evaluate every cycle through an instrument in `dirty` (each at most once per message);
    /// each opportunity that passes the thresholds goes to `out` with its cycle index. `id`
    /// hands out opportunity ids.
    pub fn evaluate(
        &mut self,
        m: &Market,
        dirty: &[InstrumentId],
        caps: &impl SizeCaps,
        trigger: (u64, u64),
        id: &mut impl FnMut() -> u64,
        out: &mut impl FnMut(Opportunity, usize),
    ) {
        self.round += 1;
        for &i in dirty {
            for k in 0..self.inst_cycles[i.idx()].len() {
                let c = self.inst_cycles[i.idx()][k] as usize;
                self.eval_cycle(m, c, caps, trigger, id, out);
            }
        }
    }

    fn top(m: &Market, i: InstrumentId, side: Side) -> Option<(Price, Qty)> {
        let b = &m.books[i.idx()];
        if b.usable_ticker().is_none() && !b.synced {
            return None;
        }
        match side {
            Side::Buy => b.best_ask(),
            Side::Sell => b.best_bid(),
        }
    }

    /// Walk the cycle for start amount `s`; `None` if a leg rounds to nothing or (when
    /// `check_free`) a leg needs more than is free.
    fn simulate(
        &self,
        m: &Market,
        c: usize,
        s: i64,
        tops: &[Price; 3],
        caps: &impl SizeCaps,
    ) -> Option<CycleSim> {
        let cy = &self.cycles[c];
        let mut out = CycleSim::default();
        let mut x = s;
        let mut mult = E18;
        for (k, &(i, side)) in cy.legs.iter().enumerate() {
            let fee = self.fee[i.idx()];
            let leg = match side {
                Side::Buy => sim_buy(m, i, fee, x)?,
                Side::Sell => sim_sell(m, i, fee, x, tops[k])?,
            };
            // at once, every leg spends inventory already held; in sequence only the first
            if (k == 0 || !self.params.sequential) && leg.spent > caps.free_for(i, side).0 {
                return None;
            }
            mult = after_fee(
                through(mult, side, leg.worst, m.specs[i.idx()].price_dec),
                fee,
            );
            out.legs[k] = leg;
            x = leg.got;
        }
        out.marginal = mult;
        Some(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn eval_cycle(
        &mut self,
        m: &Market,
        c: usize,
        caps: &impl SizeCaps,
        trigger: (u64, u64),
        id: &mut impl FnMut() -> u64,
        out: &mut impl FnMut(Opportunity, usize),
    ) {
        let legs = self.cycles[c].legs;
        let mut tops = [(Price(0), Qty(0)); 3];
        for (k, &(i, side)) in legs.iter().enumerate() {
            match Self::top(m, i, side) {
                Some(t) => tops[k] = t,
                None => {
                    if !m.books[i.idx()].valid {
                        self.stats[c].invalid += 1;
                    }
                    return;
                }
            }
        }
        let p = self.params;
        let stamp = self.round;
        let st = &mut self.stats[c];
        if st.last_eval == stamp {
            return;
        }
        st.last_eval = stamp;
        st.evaluations += 1;
        let (mut gross_m, mut net_m) = (E18, E18);
        for (k, &(i, side)) in legs.iter().enumerate() {
            gross_m = through(gross_m, side, tops[k].0, m.specs[i.idx()].price_dec);
            net_m = after_fee(
                through(net_m, side, tops[k].0, m.specs[i.idx()].price_dec),
                self.fee[i.idx()],
            );
        }
        let (gross, net_top) = (ret_bps(gross_m), ret_bps(net_m));
        if st.max_gross_bits.is_none_or(|x| gross > x) {
            st.max_gross_bits = Some(gross);
            st.max_gross_bps = gross.to_num::<f64>();
            st.max_gross_at_ns = m.now_ns;
        }
        if st.max_net_bits.is_none_or(|x| net_top > x) {
            st.max_net_bits = Some(net_top);
            st.max_net_bps = net_top.to_num::<f64>();
        }
        if net_top < p.min_profit {
            st.below_min_profit += 1;
            return;
        }
        for &(i, _) in &legs {
            match m.tradable(i, p.stale_ns) {
                Ok(()) => {}
                Err(Unusable::Stale) => {
                    st.stale += 1;
                    return;
                }
                Err(Unusable::Invalid) => {
                    st.invalid += 1;
                    return;
                }
            }
        }
        let top_px = [tops[0].0, tops[1].0, tops[2].0];
        if st.last_signal_ns != 0
            && m.now_ns.saturating_sub(st.last_signal_ns) < p.cooldown_ns
            && st.last_signal_top == top_px
        {
            st.cooldown += 1;
            return;
        }
        // the start amount: the notional cap and the free start balance
        let start_usd_e8 = self.cycles[c].start_usd_e8.max(1);
        let cap = mul_div(p.max_notional_usd.0, AMOUNT_ONE, start_usd_e8)
            .min(caps.free_for(legs[0].0, legs[0].1).0);
        if cap <= 0 {
            self.stats[c].no_balance += 1;
            return;
        }
        // largest start amount whose marginal return clears the minimum
        let ok = |s: i64| -> Option<CycleSim> {
            let sim = self.simulate(m, c, s, &top_px, caps)?;
            (ret_bps(sim.marginal) >= p.min_profit).then_some(sim)
        };
        let best = match ok(cap) {
            Some(sim) => Some((cap, sim)),
            None => {
                let (mut lo, mut hi) = (0i64, cap);
                let mut found = None;
                for _ in 0..40 {
                    if hi - lo <= 1 {
                        break;
                    }
                    let mid = lo + (hi - lo) / 2;
                    match ok(mid) {
                        Some(sim) => {
                            lo = mid;
                            found = Some((mid, sim));
                        }
                        None => hi = mid,
                    }
                }
                found
            }
        };
        let st = &mut self.stats[c];
        let Some((_, sim)) = best else {
            // nothing clears the minimum at any size: lots/minimums or balance
            st.below_min_order += 1;
            return;
        };
        for (k, &(i, _)) in legs.iter().enumerate() {
            let spec = &m.specs[i.idx()];
            if !spec.order_ok(sim.legs[k].qty, sim.legs[k].worst) {
                st.below_min_order += 1;
                return;
            }
        }
        let spent = sim.legs[0].spent;
        let end = sim.legs[2].got;
        let profit = end - spent;
        let net_bps = Bps::from_bits(
            (((profit as i128 * 10_000) << 32) / spent.max(1) as i128)
                .clamp(i64::MIN as i128, i64::MAX as i128) as i64,
        );
        if net_bps < p.min_profit {
            st.below_min_profit += 1;
            return;
        }
        let usd = |a: i64| mul_div(a, start_usd_e8, AMOUNT_ONE);
        let profit_usd = Amount(usd(profit));
        if profit_usd < p.min_profit_usd {
            st.below_min_profit_usd += 1;
            return;
        }
        // value of one unit of each leg's input asset in start-asset units: S / input
        let inputs = [spent, sim.legs[0].got, sim.legs[1].got, end];
        let in_start = |k: usize, a: i64| mul_div(a, spent, inputs[k].max(1));
        let mut fees_start = 0i64;
        let mut depth_start = i64::MAX;
        let mut depth_ppm = 1_000_000i64;
        let mut stand_ppm = 1_000_000i64;
        let mut age_max = 0u64;
        let tau_default = p.conf_age_ns;
        let mut plans = [LegPlan::default(); 3];
        for (k, &(i, side)) in legs.iter().enumerate() {
            let l = sim.legs[k];
            let spec = &m.specs[i.idx()];
            // fees are in the instrument's quote: the input asset of a buy, the output of a sell
            fees_start += match side {
                Side::Buy => in_start(k, l.fee.0),
                Side::Sell => in_start(k + 1, l.fee.0),
            };
            let top_quote = spec.quote_amount(tops[k].1, tops[k].0).0;
            depth_start = depth_start.min(match side {
                Side::Buy => in_start(k, top_quote),
                Side::Sell => in_start(k + 1, top_quote),
            });
            // liquidity within the limit price beyond the leg's size
            let mut within = 0i64;
            m.books[i.idx()].walk(side, |px, q| {
                let inside = match side {
                    Side::Buy => px <= l.worst,
                    Side::Sell => px >= l.worst,
                };
                if inside {
                    within += q.0;
                }
                inside
            });
            let size = l.qty.0.max(1);
            depth_ppm = depth_ppm.min(
                (((within - size).max(0) as i128 * 1_000_000) / size as i128).min(1_000_000) as i64,
            );
            let tau = match m.top_change_interval_ns[i.idx()] {
                0 => tau_default,
                t => t,
            } as u128;
            let lat = self.latency[spec.venue.idx()] as u128;
            stand_ppm = stand_ppm.min((tau * 1_000_000 / (tau + lat).max(1)) as i64);
            let b = &m.books[i.idx()];
            let age = m.now_ns.saturating_sub(b.last_update_ns());
            age_max = age_max.max(age);
            plans[k] = LegPlan {
                venue: spec.venue,
                instrument: i,
                side,
                top_px: tops[k].0,
                limit_px: l.worst,
                qty: l.qty,
                base: l.base,
                quote: l.quote,
                fee: l.fee,
                book_age_ns: age,
                book_seq: b.top_seq(),
                book_msg_seq: m.last_msg_seq[i.idx()],
            };
        }
        let fresh = 1_000_000
            - ((age_max as u128 * 1_000_000 / p.conf_age_ns.max(1) as u128).min(1_000_000) as i64);
        let conf_ppm = (4 * fresh + 3 * depth_ppm + 3 * stand_ppm) / 10;
        if conf_ppm < p.min_conf_ppm {
            st.low_confidence += 1;
            return;
        }
        st.signals += 1;
        st.last_signal_ns = m.now_ns.max(1);
        st.last_signal_top = top_px;
        let opp = Opportunity {
            id: id(),
            group: u16::MAX,
            detected_ns: m.now_ns,
            trigger_msg_seq: trigger.0,
            gross_spread_bps: gross,
            net_spread_bps: net_bps,
            expected_gross_usd: Amount(usd(profit + fees_start)),
            expected_fees_usd: Amount(usd(fees_start)),
            expected_profit_usd: profit_usd,
            depth_usd: Amount(usd(depth_start)),
            available_base: Amount(0),
            confidence: Ratio::from_ratio(conf_ppm, 1_000_000),
            handoff_tsc: trigger.1,
            signal_tsc: crate::clock::raw(),
            strategy: Strategy::Triangle(CyclePlan {
                cycle: c as u16,
                legs: plans,
                start_amount: Amount(spent),
                end_amount: Amount(end),
                start_usd_e8,
                sequential: p.sequential,
            }),
            ..Opportunity::default()
        };
        out(opp, c);
    }
}

/// The report's `triangles` section: one entry per cycle and direction (`null` without a
/// `[triangular]` section).
pub fn report(setup: &Setup, t: Option<&Triangular>) -> serde_json::Value {
    use serde_json::json;
    let Some(t) = t else {
        return serde_json::Value::Null;
    };
    let fees = setup.taker_fees_by_instrument();
    let round = |x: f64| (x * 1e6).round() / 1e6;
    let rows: Vec<serde_json::Value> = t
        .defs
        .iter()
        .zip(&t.stats)
        .map(|(d, s)| {
            let legs: Vec<serde_json::Value> = d
                .legs
                .iter()
                .map(|(i, side)| {
                    let sp = &setup.instruments[i.idx()];
                    json!({"symbol": sp.symbol, "side": side.as_str(), "taker_fee_bps": fees[i.idx()].to_num::<f64>()})
                })
                .collect();
            json!({
                "venue": setup.venues[d.venue.idx()].name,
                "cycle": d.assets,
                "legs": legs,
                "evaluations": s.evaluations,
                "max_gross_bps": round(s.max_gross_bps),
                "max_gross_at_ns": s.max_gross_at_ns,
                "max_net_bps": round(s.max_net_bps),
                "min_profit_bps": t.params.min_profit.to_num::<f64>(),
                "signals": s.signals,
                "traded": s.traded,
                "rejected_by_gate": s.rejected,
                "skipped": {
                    "below_min_profit": s.below_min_profit,
                    "below_min_profit_usd": s.below_min_profit_usd,
                    "below_min_order": s.below_min_order,
                    "low_confidence": s.low_confidence,
                    "stale_book": s.stale,
                    "invalid_book": s.invalid,
                    "cooldown": s.cooldown,
                    "no_balance": s.no_balance,
                },
            })
        })
        .collect();
    serde_json::Value::Array(rows)
}
