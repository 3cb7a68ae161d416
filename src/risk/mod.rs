//! The risk gate (R4.1–R4.5, R3.5). Only [`RiskGate::check`] (and, for a resumed replay,
//! [`RiskGate::restore`], which re-books what the journal says was approved) can make an
//! [`ApprovedIntent`] (its fields are private and it has no public constructor).
//!
//! Checks, in order: the run is not stopping (kill switch, SIGTERM) and the circuit breaker
//! lets trades through ([`limits`]: loss limits, breaker); neither venue is in maintenance;
//! both books valid and fresh (stale/invalid guard); gross spread below the sanity limit
//! (5 %); neither venue's price deviates from the others' median, neither leg's expected
//! slippage is beyond its limit ([`guards`]); the trade rate allows one more ([`limits`]); a
//! free execution slot (max trades in flight), per-trade notional cap, free balance/margin on
//! both venues (reserved until the trade is final, so two trades never spend the same funds),
//! per-coin net position, per-venue and total exposure.
//!
//! Accounting (simulated fills): spot legs move the base and quote balances (fees charged in
//! the quote asset); derivatives legs move a position (native contracts) with a signed entry
//! cost, realise PnL into the margin asset when the position shrinks, and hold margin
//! `|entry cost| / leverage` (quote asset for linear, base asset for inverse contracts).
//! Exposure is measured per asset group: spot base balance change since start plus
//! derivatives positions, valued at the trade's price.
#![forbid(unsafe_code)]

pub mod guards;
pub mod inventory;
pub mod limits;

use crate::book::{Market, Unusable};
use crate::config::Setup;
use crate::instrument::{InstrumentKind, InstrumentSpec};
use crate::journal::{LegFill, SignalStatus, TradeRecord};
use crate::signal::{LegPlan, Opportunity, SizeCaps, Strategy, MAX_PLAN_LEGS};
use crate::types::{
    apply_bps, pow10, spread_bps, Amount, Bps, FeeAsset, InstrumentId, Price, Qty, Side, AMOUNT_ONE,
};

/// An order intent the risk gate approved. Only [`RiskGate::check`] makes one, and it is
/// neither `Copy` nor `Clone`: one approval sends one trade, consumed by the execution step
/// (`crate::exec`) when it sends the legs.
///
/// ```compile_fail
/// fn twice(a: arbot::risk::ApprovedIntent) -> (arbot::risk::ApprovedIntent, arbot::risk::ApprovedIntent) {
///     (a, a) // an approval cannot be used twice
/// }
/// ```
#[derive(Debug)]
pub struct ApprovedIntent {
    opp: Opportunity,
    slot: u8,
}

impl ApprovedIntent {
    /// The opportunity being traded.
    pub fn opp(&self) -> &Opportunity {
        &self.opp
    }
    /// Execution slot (0..max_in_flight).
    pub fn slot(&self) -> u8 {
        self.slot
    }
    /// Take the approval apart (the execution step does, when it sends).
    pub fn into_parts(self) -> (Opportunity, u8) {
        (self.opp, self.slot)
    }
}

/// What the execution step asks of the gate when a trade is left one-legged (R3.3): close
/// `qty` of `instrument` on `side` for the trade in `slot`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnwindRequest {
    /// Trade id.
    pub trade_id: u64,
    /// Execution slot.
    pub slot: u8,
    /// Leg index the closing order takes in the trade record (spatial and pair trades: 2;
    /// triangles: 3 and 4).
    pub leg: u8,
    /// Where the exposure sits.
    pub instrument: InstrumentId,
    /// The closing side.
    pub side: Side,
    /// Quantity to close, native units.
    pub qty: Qty,
    /// Base the trade left open, signed (+ long), 1e-8 base units.
    pub residual_base: Amount,
    /// Data time of the request (when both legs' results were known).
    pub send_ns: u64,
}

/// An unwind the gate approved: move-only, like [`ApprovedIntent`].
#[derive(Debug)]
pub struct ApprovedUnwind {
    req: UnwindRequest,
}

impl ApprovedUnwind {
    /// The approved request.
    pub fn request(&self) -> &UnwindRequest {
        &self.req
    }
    /// Take the approval apart (the execution step does, when it sends).
    pub fn into_request(self) -> UnwindRequest {
        self.req
    }
}

/// The asset and amount (1e-8 units) a leg needs free on its venue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Need {
    asset: usize,
    amount: i64,
}

#[derive(Clone, Copy, Debug, Default)]
struct Reservation {
    venue: usize,
    asset: usize,
    amount: i64,
}

#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    busy: bool,
    trade_id: u64,
    res: [Reservation; MAX_PLAN_LEGS],
    /// Planned signed base change per leg (venue, base asset, amount) while in flight.
    pending: [(usize, usize, i64); MAX_PLAN_LEGS],
}

/// A derivatives position on one instrument.
#[derive(Clone, Copy, Debug, Default)]
struct Position {
    /// Native quantity, signed (+ long).
    qty: i64,
    /// Signed entry cost: quote units for linear, base units for inverse.
    cost: i64,
}

#[derive(Clone, Copy, Debug)]
struct InstInfo {
    venue: usize,
    kind: InstrumentKind,
    base: usize,
    quote: usize,
    margin: usize,
}

/// Balances, positions, reservations and limits.
pub struct RiskGate {
    assets: Vec<String>,
    /// [venue][asset] total balance, 1e-8 units.
    bal: Vec<Vec<i64>>,
    /// [venue][asset] reserved by trades in flight.
    reserved: Vec<Vec<i64>>,
    /// [venue][asset] balance at start.
    initial: Vec<Vec<i64>>,
    pos: Vec<Position>,
    info: Vec<InstInfo>,
    leverage_e8: Vec<i64>,
    group_quote_usd_e8: Vec<i64>,
    slots: Vec<Slot>,
    in_flight: u32,
    max_spread: Bps,
    stale_ns: u64,
    max_notional_usd: i64,
    max_pos_coin_usd: i64,
    max_venue_usd: i64,
    max_total_usd: i64,
    fee: Vec<Bps>,
    /// Loss limits, circuit breaker, trade rate (R4.2, R4.3).
    pub limits: limits::Limits,
    /// Slippage, price deviation, maintenance (R4.4).
    pub guards: guards::Guards,
    /// Approved intents.
    pub approved: u64,
    /// Unwinds approved.
    pub unwinds_approved: u64,
    /// Unwinds refused (not this slot's trade, not reducing, too large, venue down).
    pub unwinds_refused: u64,
    /// Fills whose fee was charged in an asset this account does not track (BNB).
    pub fees_other_asset: u64,
}

fn asset_idx(assets: &mut Vec<String>, a: &str) -> usize {
    let a = a.to_ascii_uppercase();
    match assets.iter().position(|x| *x == a) {
        Some(i) => i,
        None => {
            assets.push(a);
            assets.len() - 1
        }
    }
}

#[inline]
fn mul_div(a: i64, b: i64, c: i64) -> i64 {
    if c == 0 {
        return 0;
    }
    (a as i128 * b as i128 / c as i128).clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

impl RiskGate {
    /// From a resolved config: initial balances, limits, fees.
    pub fn new(setup: &Setup) -> RiskGate {
        let mut assets = Vec::new();
        let mut info = Vec::new();
        for s in &setup.instruments {
            let base = asset_idx(&mut assets, &s.base);
            let quote = asset_idx(&mut assets, &s.quote);
            info.push(InstInfo {
                venue: s.venue.idx(),
                kind: s.kind,
                base,
                quote,
                margin: if s.kind.is_inverse() { base } else { quote },
            });
        }
        for v in &setup.venues {
            for a in v.cfg.balances.keys() {
                asset_idx(&mut assets, a);
            }
        }
        let nv = setup.venues.len();
        let mut bal = vec![vec![0i64; assets.len()]; nv];
        for v in &setup.venues {
            for (a, x) in &v.cfg.balances {
                let k = asset_idx(&mut assets, a);
                bal[v.id.idx()][k] = Amount::from_f64(*x).0;
            }
        }
        let r = &setup.cfg.risk;
        RiskGate {
            reserved: vec![vec![0; assets.len()]; nv],
            initial: bal.clone(),
            bal,
            assets,
            pos: vec![Position::default(); setup.instruments.len()],
            info,
            leverage_e8: setup
                .venues
                .iter()
                .map(|v| (v.cfg.leverage * AMOUNT_ONE as f64) as i64)
                .collect(),
            group_quote_usd_e8: setup
                .groups
                .iter()
                .map(|g| (g.quote_usd * AMOUNT_ONE as f64).round() as i64)
                .collect(),
            slots: vec![Slot::default(); r.max_in_flight as usize],
            in_flight: 0,
            max_spread: Bps::from_num(r.max_spread_bps),
            stale_ns: r.stale_after_ns,
            max_notional_usd: Amount::from_f64(r.max_trade_notional_usd).0,
            max_pos_coin_usd: Amount::from_f64(r.max_position_per_coin_usd).0,
            max_venue_usd: Amount::from_f64(r.max_exposure_per_venue_usd).0,
            max_total_usd: Amount::from_f64(r.max_total_exposure_usd).0,
            fee: setup.taker_fees_by_instrument(),
            limits: limits::Limits::new(setup),
            guards: guards::Guards::new(setup),
            approved: 0,
            unwinds_approved: 0,
            unwinds_refused: 0,
            fees_other_asset: 0,
        }
    }

    /// Trades in flight.
    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }

    /// Balances as (venue index, asset, total, reserved) where non-zero, for reports.
    pub fn balances(&self) -> Vec<(usize, String, Amount, Amount)> {
        let mut out = Vec::new();
        for (v, row) in self.bal.iter().enumerate() {
            for (a, x) in row.iter().enumerate() {
                if *x != 0 || self.initial[v][a] != 0 {
                    out.push((
                        v,
                        self.assets[a].clone(),
                        Amount(*x),
                        Amount(self.reserved[v][a]),
                    ));
                }
            }
        }
        out
    }

    /// Derivatives positions that are not flat: (instrument index, native qty).
    pub fn positions(&self) -> Vec<(usize, i64)> {
        self.pos
            .iter()
            .enumerate()
            .filter(|(_, p)| p.qty != 0)
            .map(|(i, p)| (i, p.qty))
            .collect()
    }

    /// Open derivative positions with their cost basis: (instrument index, signed quantity,
    /// signed cost in the margin asset at 1e-8: linear quote paid, inverse base; a long's is
    /// positive). The cost is what the margin balance has not realised yet.
    pub fn position_costs(&self) -> Vec<(usize, i64, i64)> {
        self.pos
            .iter()
            .enumerate()
            .filter(|(_, p)| p.qty != 0)
            .map(|(i, p)| (i, p.qty, p.cost))
            .collect()
    }

    fn margin_used(&self, venue: usize, asset: usize) -> i64 {
        let mut used = 0;
        for (k, inf) in self.info.iter().enumerate() {
            if inf.venue == venue && inf.margin == asset && inf.kind != InstrumentKind::Spot {
                let lev = self.leverage_e8[venue].max(AMOUNT_ONE);
                used += mul_div(self.pos[k].cost.abs(), AMOUNT_ONE, lev);
            }
        }
        used
    }

    /// Free amount of `asset` on `venue`: balance − reservations − margin in use.
    pub fn free(&self, venue: usize, asset: usize) -> i64 {
        self.bal[venue][asset] - self.reserved[venue][asset] - self.margin_used(venue, asset)
    }

    /// What a leg must reserve at its limit price.
    fn need(&self, spec: &InstrumentSpec, leg: &LegPlan) -> Need {
        let inf = self.info[spec.id.idx()];
        let fee = self.fee[spec.id.idx()];
        let notional = spec.quote_amount(leg.qty, leg.limit_px);
        let fee_q = apply_bps(notional, fee).0;
        let lev = self.leverage_e8[inf.venue].max(AMOUNT_ONE);
        match (inf.kind, leg.side) {
            (InstrumentKind::Spot, Side::Buy) => Need {
                asset: inf.quote,
                amount: notional.0 + fee_q,
            },
            (InstrumentKind::Spot, Side::Sell) => Need {
                asset: inf.base,
                amount: spec.base_amount(leg.qty, leg.limit_px).0,
            },
            (InstrumentKind::LinearPerp | InstrumentKind::LinearFuture, _) => Need {
                asset: inf.margin,
                amount: mul_div(notional.0, AMOUNT_ONE, lev) + fee_q,
            },
            (InstrumentKind::InversePerp | InstrumentKind::InverseFuture, _) => {
                let base = spec.base_amount(leg.qty, leg.limit_px).0;
                let fee_b = mul_div(fee_q, base, notional.0.max(1));
                Need {
                    asset: inf.margin,
                    amount: mul_div(base, AMOUNT_ONE, lev) + fee_b,
                }
            }
        }
    }

    /// Largest base amount a leg can take given the free balance, at `px`.
    fn leg_cap(&self, spec: &InstrumentSpec, side: Side, px: Price) -> i64 {
        let inf = self.info[spec.id.idx()];
        let free = self.free(
            inf.venue,
            match (inf.kind, side) {
                (InstrumentKind::Spot, Side::Buy) => inf.quote,
                (InstrumentKind::Spot, Side::Sell) => inf.base,
                _ => inf.margin,
            },
        );
        if free <= 0 || px.0 <= 0 {
            return 0;
        }
        let fee_bits = self.fee[spec.id.idx()].to_bits().max(0) as i128;
        // divide out the fee: x / (1 + fee)
        let net = |x: i64| -> i64 {
            (x as i128 * (10_000i128 << 32) / ((10_000i128 << 32) + fee_bits)) as i64
        };
        let lev = self.leverage_e8[inf.venue].max(AMOUNT_ONE);
        let to_base = |quote: i64| mul_div(quote, pow10(spec.price_dec), px.0);
        match (inf.kind, side) {
            (InstrumentKind::Spot, Side::Buy) => to_base(net(free)),
            (InstrumentKind::Spot, Side::Sell) => free,
            (InstrumentKind::LinearPerp | InstrumentKind::LinearFuture, _) => {
                to_base(mul_div(net(free), lev, AMOUNT_ONE))
            }
            (InstrumentKind::InversePerp | InstrumentKind::InverseFuture, _) => {
                mul_div(net(free), lev, AMOUNT_ONE)
            }
        }
    }

    /// Signed base position of `asset` held on `venue` (spot balance change plus derivatives).
    fn venue_base_position(&self, m: &Market, venue: usize, asset: usize) -> i64 {
        let mut x = 0;
        let spot_here = self
            .info
            .iter()
            .any(|i| i.venue == venue && i.kind == InstrumentKind::Spot && i.base == asset);
        if spot_here {
            x += self.bal[venue][asset] - self.initial[venue][asset];
        }
        for (k, inf) in self.info.iter().enumerate() {
            if inf.venue != venue || inf.base != asset || inf.kind == InstrumentKind::Spot {
                continue;
            }
            let p = self.pos[k];
            if p.qty == 0 {
                continue;
            }
            let spec = &m.specs[k];
            x += match inf.kind {
                InstrumentKind::InversePerp | InstrumentKind::InverseFuture => p.cost,
                _ => p.qty.signum() * spec.base_amount(crate::types::Qty(p.qty.abs()), Price(1)).0,
            };
        }
        for s in &self.slots {
            if s.busy {
                for &(v, a, b) in &s.pending {
                    if v == venue && a == asset {
                        x += b;
                    }
                }
            }
        }
        x
    }

    /// Decide on an opportunity. On approval the funds are reserved and a slot is taken.
    pub fn check(&mut self, m: &Market, opp: &Opportunity) -> Result<ApprovedIntent, SignalStatus> {
        self.limits.allow(self.in_flight)?;
        let (legs, n) = opp.legs();
        if legs[..n]
            .iter()
            .any(|l| self.guards.in_maintenance(l.venue.idx(), m.now_ns))
        {
            return Err(SignalStatus::Maintenance);
        }
        match opp.strategy {
            Strategy::Triangle(_) | Strategy::Pair(_) => return self.check_legs(m, opp, true),
            Strategy::Spatial => {}
        }
        for leg in [&opp.buy, &opp.sell] {
            match m.tradable(leg.instrument, self.stale_ns) {
                Ok(()) => {}
                Err(Unusable::Stale) => return Err(SignalStatus::StaleBook),
                Err(Unusable::Invalid) => return Err(SignalStatus::InvalidBook),
            }
        }
        let sa = &m.specs[opp.buy.instrument.idx()];
        let sb = &m.specs[opp.sell.instrument.idx()];
        let ga = pow10(sa.price_dec.max(sb.price_dec) - sa.price_dec);
        let gb = pow10(sa.price_dec.max(sb.price_dec) - sb.price_dec);
        if spread_bps(opp.buy.top_px.0 * ga, opp.sell.top_px.0 * gb) > self.max_spread {
            return Err(SignalStatus::SpreadTooWide);
        }
        if self.guards.deviates(m, opp) {
            return Err(SignalStatus::PriceDeviation);
        }
        if self.guards.slips(m, opp) {
            return Err(SignalStatus::Slippage);
        }
        self.limits.rate.allow(m.now_ns)?;
        let Some(slot) = self.slots.iter().position(|s| !s.busy) else {
            return Err(SignalStatus::NoSlot);
        };
        let qusd = self
            .group_quote_usd_e8
            .get(opp.group as usize)
            .copied()
            .unwrap_or(AMOUNT_ONE);
        let usd = |q: i64| mul_div(q, qusd, AMOUNT_ONE);
        if usd(opp.buy.quote.0.max(opp.sell.quote.0)) > self.max_notional_usd {
            return Err(SignalStatus::NotionalCap);
        }
        let na = self.need(sa, &opp.buy);
        let nb = self.need(sb, &opp.sell);
        let (va, vb) = (sa.venue.idx(), sb.venue.idx());
        let same = va == vb && na.asset == nb.asset;
        let ok_a = self.free(va, na.asset) >= na.amount + if same { nb.amount } else { 0 };
        let ok_b = self.free(vb, nb.asset) >= nb.amount;
        if !ok_a || !ok_b {
            return Err(SignalStatus::InsufficientBalance);
        }
        // exposure after the trade, valued at the buy price
        let base_asset = self.info[sa.id.idx()].base;
        let px_usd =
            |base: i64| -> i64 { usd(mul_div(base.abs(), opp.buy.top_px.0, pow10(sa.price_dec))) };
        let ea = self.venue_base_position(m, va, base_asset) + opp.buy.base.0;
        let eb = self.venue_base_position(m, vb, base_asset) - opp.sell.base.0;
        if px_usd(ea) > self.max_venue_usd || px_usd(eb) > self.max_venue_usd {
            return Err(SignalStatus::ExposureLimit);
        }
        let mut total = 0i64;
        let mut net = 0i64;
        for v in 0..self.bal.len() {
            let mut e = self.venue_base_position(m, v, base_asset);
            if v == va {
                e += opp.buy.base.0;
            }
            if v == vb {
                e -= opp.sell.base.0;
            }
            total += px_usd(e);
            net += e;
        }
        if total > self.max_total_usd {
            return Err(SignalStatus::ExposureLimit);
        }
        let net_before = net - opp.buy.base.0 + opp.sell.base.0;
        if px_usd(net) > self.max_pos_coin_usd && net.abs() > net_before.abs() {
            return Err(SignalStatus::PositionLimit);
        }
        Ok(self.approve(m, opp, slot, va, na, vb, nb, base_asset))
    }

    /// A resumed replay, before the point where its journals end: the journal says `opp` was
    /// approved (`status` = `traded`), so the gate books the approval as it did then (funds
    /// reserved, slot taken, trade counted against the rate) without deciding again. Returns
    /// `None` if no slot is free (the journal does not fit the state: the caller stops).
    pub fn restore(&mut self, m: &Market, opp: &Opportunity) -> Option<ApprovedIntent> {
        if !matches!(opp.strategy, Strategy::Spatial) {
            return self.check_legs(m, opp, false).ok();
        }
        let slot = self.slots.iter().position(|s| !s.busy)?;
        let sa = &m.specs[opp.buy.instrument.idx()];
        let sb = &m.specs[opp.sell.instrument.idx()];
        let na = self.need(sa, &opp.buy);
        let nb = self.need(sb, &opp.sell);
        let (va, vb) = (sa.venue.idx(), sb.venue.idx());
        let base_asset = self.info[opp.buy.instrument.idx()].base;
        Some(self.approve(m, opp, slot, va, na, vb, nb, base_asset))
    }

    #[allow(clippy::too_many_arguments)]
    fn approve(
        &mut self,
        m: &Market,
        opp: &Opportunity,
        slot: usize,
        va: usize,
        na: Need,
        vb: usize,
        nb: Need,
        base_asset: usize,
    ) -> ApprovedIntent {
        // approve: reserve and take the slot
        self.reserved[va][na.asset] += na.amount;
        self.reserved[vb][nb.asset] += nb.amount;
        self.slots[slot] = Slot {
            busy: true,
            trade_id: opp.id,
            res: [
                Reservation {
                    venue: va,
                    asset: na.asset,
                    amount: na.amount,
                },
                Reservation {
                    venue: vb,
                    asset: nb.asset,
                    amount: nb.amount,
                },
                Reservation::default(),
            ],
            pending: [
                (va, base_asset, opp.buy.base.0),
                (vb, base_asset, -opp.sell.base.0),
                (0, 0, 0),
            ],
        };
        self.in_flight += 1;
        self.approved += 1;
        self.limits.on_approved(m.now_ns);
        ApprovedIntent {
            opp: *opp,
            slot: slot as u8,
        }
    }

    /// Decide on an unwind. An unwind is allowed when new trades are not (it reduces
    /// exposure): it needs only that the request belongs to a trade in flight in its slot,
    /// closes no more than the trade left open (one lot of rounding aside), on the side that
    /// reduces it, and that the venue is connected. Counted either way.
    pub fn approve_unwind(
        &mut self,
        m: &Market,
        req: &UnwindRequest,
    ) -> Result<ApprovedUnwind, SignalStatus> {
        let ok_slot = self
            .slots
            .get(req.slot as usize)
            .is_some_and(|s| s.busy && s.trade_id == req.trade_id);
        let spec = &m.specs[req.instrument.idx()];
        let reduces = match req.side {
            Side::Sell => req.residual_base.0 > 0,
            Side::Buy => req.residual_base.0 < 0,
        };
        // the closing quantity's base, at any price, must not exceed the residual by more than
        // one lot (lot rounding), measured at the quantity level
        let max_qty =
            spec.qty_for_base_nearest(
                Amount(req.residual_base.0.abs()),
                m.books[req.instrument.idx()]
                    .best_bid()
                    .map(|b| b.0)
                    .unwrap_or(Price(1)),
            )
            .0 + spec.lot_size.0;
        let up = m.venue_up[spec.venue.idx()];
        if self.limits.state == limits::BreakerState::Stopped {
            // the kill switch / a stop sends nothing more, unwinds included: the exposure is
            // recorded with the trade
            self.unwinds_refused += 1;
            return Err(SignalStatus::Stopped);
        }
        if !ok_slot || !reduces || req.qty.0 <= 0 || req.qty.0 > max_qty || !up {
            self.unwinds_refused += 1;
            return Err(if up {
                SignalStatus::ExposureLimit
            } else {
                SignalStatus::InvalidBook
            });
        }
        self.unwinds_approved += 1;
        Ok(ApprovedUnwind { req: *req })
    }

    // ---- R2.2 triangles and R2.3 pairs ----------------------------------------------------

    /// The gate for a triangle or a statistical pair, leg by leg: every book tradable; the
    /// sanity limit (a triangle's top-of-book gross return above `max_spread_bps` is a bad
    /// book, not money); a free slot; the per-trade notional cap (a triangle's start amount,
    /// a pair's larger leg); free balances for every leg (all three legs of a triangle sent at
    /// once spend inventory already held; in sequence only the first, the others spend what
    /// the one before delivers); and, for a pair, each leg's per-venue and total exposure in
    /// its own base asset and the net position per coin, refused only when the trade makes
    /// them larger. A triangle ends in its start asset: its planned inventory change is lot
    /// dust, so it adds no exposure (a failed leg's is closed by the one-leg policy).
    ///
    /// `decide` = false: a resumed replay re-books what its journal says was approved (only a
    /// free slot is needed; see [`RiskGate::restore`]).
    fn check_legs(
        &mut self,
        m: &Market,
        opp: &Opportunity,
        decide: bool,
    ) -> Result<ApprovedIntent, SignalStatus> {
        let (legs, n) = opp.legs();
        let legs = &legs[..n];
        let cycle = match opp.strategy {
            Strategy::Triangle(c) => Some(c),
            _ => None,
        };
        if decide {
            for leg in legs {
                match m.tradable(leg.instrument, self.stale_ns) {
                    Ok(()) => {}
                    Err(Unusable::Stale) => return Err(SignalStatus::StaleBook),
                    Err(Unusable::Invalid) => return Err(SignalStatus::InvalidBook),
                }
            }
            if cycle.is_some() && opp.gross_spread_bps > self.max_spread {
                return Err(SignalStatus::SpreadTooWide);
            }
            // R4.4 guards and the R4.3 trade rate, leg by leg as for a spatial pair
            if legs
                .iter()
                .any(|l| self.guards.deviates_leg(m, l.instrument))
            {
                return Err(SignalStatus::PriceDeviation);
            }
            if legs.iter().any(|l| self.guards.slips_leg(m, l)) {
                return Err(SignalStatus::Slippage);
            }
            self.limits.rate.allow(m.now_ns)?;
        }
        let Some(slot) = self.slots.iter().position(|s| !s.busy) else {
            return Err(SignalStatus::NoSlot);
        };
        let notional = match cycle {
            Some(c) => mul_div(c.start_amount.0, c.start_usd_e8, AMOUNT_ONE),
            None => legs.iter().map(|l| l.quote.0).max().unwrap_or(0),
        };
        if decide && notional > self.max_notional_usd {
            return Err(SignalStatus::NotionalCap);
        }
        let spend = match cycle {
            Some(c) if c.sequential => 1,
            _ => n,
        };
        let mut res = [Reservation::default(); MAX_PLAN_LEGS];
        for (k, leg) in legs.iter().enumerate().take(spend) {
            let spec = &m.specs[leg.instrument.idx()];
            let need = self.need(spec, leg);
            res[k] = Reservation {
                venue: spec.venue.idx(),
                asset: need.asset,
                amount: need.amount,
            };
        }
        for (k, r) in res.iter().enumerate().take(spend) {
            // everything this trade needs of the same asset on the same venue
            let total: i64 = res[..spend]
                .iter()
                .filter(|x| x.venue == r.venue && x.asset == r.asset)
                .map(|x| x.amount)
                .sum();
            let first = res[..k]
                .iter()
                .any(|x| x.venue == r.venue && x.asset == r.asset);
            if decide && !first && self.free(r.venue, r.asset) < total {
                return Err(SignalStatus::InsufficientBalance);
            }
        }
        let mut pending = [(0usize, 0usize, 0i64); MAX_PLAN_LEGS];
        if cycle.is_none() {
            for (k, leg) in legs.iter().enumerate() {
                let spec = &m.specs[leg.instrument.idx()];
                let inf = self.info[spec.id.idx()];
                let signed = if leg.side == Side::Buy {
                    leg.base.0
                } else {
                    -leg.base.0
                };
                pending[k] = (inf.venue, inf.base, signed);
                let usd = |base: i64| mul_div(base.abs(), leg.top_px.0, pow10(spec.price_dec));
                let before = self.venue_base_position(m, inf.venue, inf.base);
                let after = before + signed;
                if decide && after.abs() > before.abs() && usd(after) > self.max_venue_usd {
                    return Err(SignalStatus::ExposureLimit);
                }
                let (mut tot_b, mut tot_a, mut net_b, mut net_a) = (0i64, 0i64, 0i64, 0i64);
                for v in 0..self.bal.len() {
                    let e = self.venue_base_position(m, v, inf.base);
                    // both legs of a same-asset pair change this asset
                    let d: i64 = legs
                        .iter()
                        .filter(|l| {
                            let i2 = self.info[l.instrument.idx()];
                            i2.venue == v && i2.base == inf.base
                        })
                        .map(|l| {
                            if l.side == Side::Buy {
                                l.base.0
                            } else {
                                -l.base.0
                            }
                        })
                        .sum();
                    tot_b += usd(e);
                    tot_a += usd(e + d);
                    net_b += e;
                    net_a += e + d;
                }
                if decide && tot_a > tot_b && tot_a > self.max_total_usd {
                    return Err(SignalStatus::ExposureLimit);
                }
                if decide && net_a.abs() > net_b.abs() && usd(net_a) > self.max_pos_coin_usd {
                    return Err(SignalStatus::PositionLimit);
                }
            }
        }
        for r in &res[..spend] {
            self.reserved[r.venue][r.asset] += r.amount;
        }
        self.slots[slot] = Slot {
            busy: true,
            trade_id: opp.id,
            res,
            pending,
        };
        self.in_flight += 1;
        self.approved += 1;
        self.limits.on_approved(m.now_ns);
        Ok(ApprovedIntent {
            opp: *opp,
            slot: slot as u8,
        })
    }

    // ---- end of R2.2 / R2.3 ---------------------------------------------------------------

    /// A trade is final: release its reservations and book its fills.
    pub fn on_trade_done(&mut self, m: &Market, slot: u8, rec: &TradeRecord) {
        if let Some(s) = self.slots.get_mut(slot as usize) {
            if s.busy && s.trade_id == rec.id {
                for r in s.res {
                    self.reserved[r.venue][r.asset] -= r.amount;
                }
                s.busy = false;
                self.in_flight = self.in_flight.saturating_sub(1);
            }
        }
        for leg in &rec.legs[..rec.n_legs as usize] {
            self.apply_fill(&m.specs, leg);
        }
    }

    /// Book the fills of a trade read back from the journal (a resume): balances and
    /// positions move as they did when it completed (no slot, no reservation).
    pub fn apply_journaled(&mut self, specs: &[InstrumentSpec], rec: &TradeRecord) {
        for leg in &rec.legs[..rec.n_legs as usize] {
            self.apply_fill(specs, leg);
        }
    }

    /// Same balances and positions as `other` (a resumed replay checks the state it re-derived
    /// against the one its journals give).
    pub fn same_holdings(&self, other: &RiskGate) -> bool {
        self.bal == other.bal
            && self.pos.len() == other.pos.len()
            && self
                .pos
                .iter()
                .zip(&other.pos)
                .all(|(a, b)| a.qty == b.qty && a.cost == b.cost)
    }

    /// Take balances and positions from `other` (a paper/live resume: the state the journals
    /// give).
    pub fn take_holdings(&mut self, other: &RiskGate) {
        if self.bal.len() == other.bal.len() && self.pos.len() == other.pos.len() {
            self.bal.clone_from(&other.bal);
            self.pos.clone_from(&other.pos);
        }
    }

    fn apply_fill(&mut self, specs: &[InstrumentSpec], f: &LegFill) {
        if f.filled_qty.0 == 0 {
            return;
        }
        let spec = &specs[f.instrument.idx()];
        let inf = self.info[spec.id.idx()];
        let v = inf.venue;
        match inf.kind {
            InstrumentKind::Spot => {
                match f.side {
                    Side::Buy => {
                        self.bal[v][inf.quote] -= f.quote.0;
                        self.bal[v][inf.base] += f.base.0;
                    }
                    Side::Sell => {
                        self.bal[v][inf.base] -= f.base.0;
                        self.bal[v][inf.quote] += f.quote.0;
                    }
                }
                // the fee comes out of the asset the venue charged it in
                match f.fee_asset {
                    FeeAsset::Quote => self.bal[v][inf.quote] -= f.fee_native.0,
                    FeeAsset::Base => self.bal[v][inf.base] -= f.fee_native.0,
                    FeeAsset::Other(_) => self.fees_other_asset += 1,
                }
            }
            kind => {
                let inverse = kind.is_inverse();
                let dq = if f.side == Side::Buy {
                    f.filled_qty.0
                } else {
                    -f.filled_qty.0
                };
                let value = if inverse { f.base.0 } else { f.quote.0 };
                // inverse: a long pays base (cost +), linear: a long pays quote (cost +)
                let dcost = dq.signum() * value;
                let p = &mut self.pos[spec.id.idx()];
                let mut realized = 0i64;
                if p.qty == 0 || p.qty.signum() == dq.signum() {
                    p.qty += dq;
                    p.cost += dcost;
                } else {
                    let close = dq.abs().min(p.qty.abs());
                    let cost_closed = mul_div(p.cost, close, p.qty.abs());
                    let fill_closed = mul_div(dcost, close, dq.abs());
                    realized = if inverse {
                        cost_closed + fill_closed
                    } else {
                        -(cost_closed + fill_closed)
                    };
                    p.qty += dq.signum() * close;
                    p.cost -= cost_closed;
                    let left = dq.abs() - close;
                    if left > 0 {
                        p.qty += dq.signum() * left;
                        p.cost += dcost - fill_closed;
                    }
                    if p.qty == 0 {
                        p.cost = 0;
                    }
                }
                // the fee in the margin asset (inverse: base; linear: quote)
                let fee = match (f.fee_asset, inverse) {
                    (FeeAsset::Base, true) | (FeeAsset::Quote, false) => f.fee_native.0,
                    (FeeAsset::Quote, true) => mul_div(f.fee_native.0, f.base.0, f.quote.0.max(1)),
                    (FeeAsset::Base, false) => mul_div(f.fee_native.0, f.quote.0, f.base.0.max(1)),
                    (FeeAsset::Other(_), _) => {
                        self.fees_other_asset += 1;
                        0
                    }
                };
                self.bal[v][inf.margin] += realized - fee;
            }
        }
    }
}

impl SizeCaps for RiskGate {
    fn free_for(&self, instrument: crate::types::InstrumentId, side: Side) -> Amount {
        let inf = self.info[instrument.idx()];
        let asset = match (inf.kind, side) {
            (InstrumentKind::Spot, Side::Buy) => inf.quote,
            (InstrumentKind::Spot, Side::Sell) => inf.base,
            _ => inf.margin,
        };
        Amount(self.free(inf.venue, asset).max(0))
    }

    fn cap_base(
        &self,
        buy: &InstrumentSpec,
        buy_px: Price,
        sell: &InstrumentSpec,
        sell_px: Price,
    ) -> Amount {
        Amount(
            self.leg_cap(buy, Side::Buy, buy_px)
                .min(self.leg_cap(sell, Side::Sell, sell_px)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::spatial::Spatial;
    use crate::journal::{LegStatus, TradeStatus};
    use crate::signal::Unlimited;
    use crate::testkit::{set_book, two_venue_setup_with};
    use crate::types::{InstrumentId, Qty};

    const T: u64 = 1_000_000_000;
    const LOOSE: &str = "[detection]\nmin_profit_usd = 0.01\nmin_net_spread_bps = 1.0\nmin_depth_usd = 1.0\nreentry_cooldown_ns = 1";

    /// A market where a buys at 100.00 and b sells at 100.50, `qty` BTC deep (lot 0.001); the
    /// other sides (a's bid 99.50, b's ask 101.00) keep the mids within the deviation guard.
    fn market(setup: &Setup, qty: i64) -> Market {
        let mut m = Market::new(setup);
        set_book(
            &mut m,
            InstrumentId(0),
            &[(9_950, 1_000_000)],
            &[(10_000, qty)],
            T,
        );
        set_book(
            &mut m,
            InstrumentId(1),
            &[(10_050, qty)],
            &[(10_100, 1_000_000)],
            T,
        );
        m
    }

    fn opp(setup: &Setup, m: &Market, msg: u64) -> Opportunity {
        let mut sp = Spatial::new(setup);
        let mut out = None;
        sp.evaluate(m, &[InstrumentId(0)], &Unlimited, (msg, 0), &mut |o, _| {
            if o.buy.venue.0 == 0 {
                out = Some(o)
            }
        });
        out.expect("an opportunity")
    }

    fn filled(o: &Opportunity) -> TradeRecord {
        let leg = |p: &LegPlan| LegFill {
            venue: p.venue,
            instrument: p.instrument,
            side: p.side,
            order_qty: p.qty,
            limit_px: p.limit_px,
            filled_qty: p.qty,
            quote: p.quote,
            base: p.base,
            fee: p.fee,
            fee_native: p.fee,
            status: LegStatus::Filled,
            ..LegFill::default()
        };
        let mut r = TradeRecord {
            id: o.id,
            opp: *o,
            n_legs: 2,
            status: TradeStatus::Filled,
            ..TradeRecord::default()
        };
        r.legs[0] = leg(&o.buy);
        r.legs[1] = leg(&o.sell);
        r
    }

    #[test]
    fn reservations_stop_two_trades_spending_the_same_funds() {
        // a has 1,500 USDT: one 10-BTC buy at 100 (1,000 USDT + fee) fits, a second does not
        let s = two_venue_setup_with(1.0, 1.0, "USDT = 1500.0", "BTC = 100.0", LOOSE);
        let m = market(&s, 10_000);
        let mut g = RiskGate::new(&s);
        let o = opp(&s, &m, 1);
        assert_eq!(o.buy.qty, Qty(10_000));
        let first = g.check(&m, &o).expect("first trade approved");
        assert_eq!(
            g.check(&m, &o).unwrap_err(),
            SignalStatus::InsufficientBalance
        );
        assert_eq!(g.in_flight(), 1);
        // done: reservation released, balances moved by the fills
        g.on_trade_done(&m, first.slot(), &filled(&o));
        assert_eq!(g.in_flight(), 0);
        let usdt = g.assets.iter().position(|a| a == "USDT").unwrap();
        let btc = g.assets.iter().position(|a| a == "BTC").unwrap();
        // a: 1500 − 1000 − 0.1 fee = 499.9 USDT, +10 BTC; b: +1005 − 0.1005 USDT, −10 BTC
        assert_eq!(g.bal[0][usdt], Amount::from_f64(499.9).0);
        assert_eq!(g.bal[0][btc], Amount::from_f64(10.0).0);
        assert_eq!(g.bal[1][usdt], Amount::from_f64(1005.0 - 0.1005).0);
        assert_eq!(g.bal[1][btc], Amount::from_f64(90.0).0);
        assert_eq!(g.reserved[0][usdt], 0);
        // the balance cap now limits the next size
        let cap = g.cap_base(&m.specs[0], Price(10_000), &m.specs[1], Price(10_050));
        assert!(
            cap.0 < Amount::from_f64(5.0).0 && cap.0 > Amount::from_f64(4.9).0,
            "{cap:?}"
        );
    }

    #[test]
    fn slots_run_out_at_max_in_flight() {
        let extra = format!("{LOOSE}\n[risk]\nmax_in_flight = 2");
        let s = two_venue_setup_with(1.0, 1.0, "USDT = 1000000.0", "BTC = 100.0", &extra);
        let m = market(&s, 1_000);
        let mut g = RiskGate::new(&s);
        let o = opp(&s, &m, 1);
        g.check(&m, &o).unwrap();
        g.check(&m, &o).unwrap();
        assert_eq!(g.check(&m, &o).unwrap_err(), SignalStatus::NoSlot);
    }

    #[test]
    fn exposure_and_spread_guards() {
        // per-venue exposure 50 USD: a 10-BTC trade (1,000 USD each side) is refused
        let extra = format!("{LOOSE}\n[risk]\nmax_exposure_per_venue_usd = 50.0");
        let s = two_venue_setup_with(1.0, 1.0, "USDT = 1000000.0", "BTC = 100.0", &extra);
        let m = market(&s, 10_000);
        let mut g = RiskGate::new(&s);
        assert_eq!(
            g.check(&m, &opp(&s, &m, 1)).unwrap_err(),
            SignalStatus::ExposureLimit
        );
        // gross spread above 40 bps is refused as implausible
        let extra = format!("{LOOSE}\n[risk]\nmax_spread_bps = 40.0");
        let s = two_venue_setup_with(1.0, 1.0, "USDT = 1000000.0", "BTC = 100.0", &extra);
        let m = market(&s, 10_000);
        let mut g = RiskGate::new(&s);
        assert_eq!(
            g.check(&m, &opp(&s, &m, 1)).unwrap_err(),
            SignalStatus::SpreadTooWide
        );
    }

    #[test]
    fn stale_or_invalid_books_never_pass() {
        let s = two_venue_setup_with(1.0, 1.0, "USDT = 1000000.0", "BTC = 100.0", LOOSE);
        let mut m = market(&s, 10_000);
        let o = opp(&s, &m, 1);
        let mut g = RiskGate::new(&s);
        m.now_ns = T + 1_500_000_000;
        assert_eq!(g.check(&m, &o).unwrap_err(), SignalStatus::StaleBook);
        m.now_ns = T;
        m.books[1].invalidate();
        assert_eq!(g.check(&m, &o).unwrap_err(), SignalStatus::InvalidBook);
        m.venue_up[1] = false;
        assert_eq!(g.check(&m, &o).unwrap_err(), SignalStatus::InvalidBook);
    }

    #[test]
    fn linear_perp_position_realises_pnl_on_close() {
        let text = r#"
mode = "replay"
[replay]
files = [{ venue = "p", path = "Cargo.toml" }]
[venues.p]
exchange = "binance"
market = "usdm"
taker_fee_bps = 0.0
book_levels = 5000
balances = { USDT = 10000.0 }
[risk]
equity_usd = 10000.0
[[instruments]]
venue = "p"
symbol = "BTCUSDT"
base = "BTC"
quote = "USDT"
kind = "linear-perp"
tick_size = "0.1"
lot_size = "0.001"
"#;
        let s = crate::config::resolve(
            crate::config::parse(text, "t").unwrap(),
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
        )
        .unwrap();
        let m = Market::new(&s);
        let mut g = RiskGate::new(&s);
        let fill = |side: Side, qty: i64, px: i64| {
            let spec = &s.instruments[0];
            LegFill {
                venue: spec.venue,
                instrument: spec.id,
                side,
                filled_qty: Qty(qty),
                quote: spec.quote_amount(Qty(qty), Price(px)),
                base: spec.base_amount(Qty(qty), Price(px)),
                ..LegFill::default()
            }
        };
        // long 0.5 BTC at 60,000.0 → margin 30,000 > 10,000 balance: free goes negative,
        // which blocks new trades (free < need) but accounting stays exact
        g.apply_fill(&m.specs, &fill(Side::Buy, 500, 600_000));
        assert_eq!(g.positions(), vec![(0, 500)]);
        // sell 0.2 at 61,000.0: realised (61,000 − 60,000) × 0.2 = +200 USDT
        g.apply_fill(&m.specs, &fill(Side::Sell, 200, 610_000));
        assert_eq!(g.bal[0][g.info[0].quote], Amount::from_f64(10_200.0).0);
        // sell 0.5 at 59,000.0: closes 0.3 (−1,000 × 0.3 = −300) and opens short 0.2
        g.apply_fill(&m.specs, &fill(Side::Sell, 500, 590_000));
        assert_eq!(g.bal[0][g.info[0].quote], Amount::from_f64(9_900.0).0);
        assert_eq!(g.positions(), vec![(0, -200)]);
        // buy back 0.2 at 58,000.0: short profit (59,000 − 58,000) × 0.2 = +200
        g.apply_fill(&m.specs, &fill(Side::Buy, 200, 580_000));
        assert_eq!(g.bal[0][g.info[0].quote], Amount::from_f64(10_100.0).0);
        assert!(g.positions().is_empty());
        assert_eq!(g.free(0, g.info[0].margin), Amount::from_f64(10_100.0).0);
    }
}
