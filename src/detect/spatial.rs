//! Spatial (cross-venue) detection (R2.1, R2.5, R2.6): for every ordered pair of instruments
//! in a group (buy at one venue's ask, sell at another's bid) compute the gross spread, the
//! taker fees of both legs, the net spread, a size from walking both books within the caps
//! and each venue's lot/min rules, the expected profit and a confidence score.
//!
//! Prices of different instruments are compared at the group's common decimal scale (the
//! largest `price_dec` in the group, so the conversion is an exact integer multiply).
//! Sizes are compared as base amounts (1e-8 BTC), so spot, linear and inverse contracts mix:
//! an inverse contract worth 100 USD is `100 / price` BTC.
//!
//! Confidence (0–1, R2.5/R2.6) = 0.4·freshness + 0.3·depth + 0.3·standing, where
//! - freshness = 1 − min(1, age of the older of the two tops / `detection.confidence_age_ns`);
//! - depth = min(1, max(0, liquidity within both limit prices / trade size − 1)): 0 when the
//!   trade takes everything there is, 1 when at least as much again stands behind it;
//! - standing = the lower over the two legs of τ / (τ + L), where L is the time until the order
//!   meets the venue's book (`order_latency_ns + feed_latency_ns` of the venue) and τ the
//!   measured mean time between top-of-book price changes of that instrument
//!   ([`crate::book::Market::top_change_interval_ns`]; `confidence_age_ns` until measured): the
//!   chance, for a quote that changes at random at that rate, that it still stands when the
//!   order arrives (1 / (1 + L/τ)).
#![forbid(unsafe_code)]

use super::PairStats;
use crate::book::{walk_qty, Walk};
use crate::book::{Market, Unusable};
use crate::config::Setup;
#[cfg(test)]
use crate::signal::Unlimited;
use crate::signal::{LegPlan, Opportunity, SizeCaps};
use crate::types::{
    apply_bps, pow10, spread_bps, Amount, Bps, InstrumentId, Price, Qty, Ratio, Side, AMOUNT_ONE,
};

/// A group at run time.
#[derive(Clone, Debug)]
pub struct Group {
    /// Asset.
    pub asset: String,
    /// Members.
    pub members: Vec<InstrumentId>,
    /// Per member: multiplier from its price scale to the group's.
    pub mult: Vec<i64>,
    /// Common price decimals.
    pub common_dec: u32,
    /// USD per quote unit, ×1e8.
    pub quote_usd_e8: i64,
    /// First index of this group's pairs in [`Spatial::pairs`] (n×n layout, diagonal unused).
    pub pair_base: usize,
}

/// Thresholds in integer units.
#[derive(Clone, Copy, Debug)]
pub struct Params {
    /// Minimum net spread.
    pub min_net: Bps,
    /// Minimum profit, 1e-8 USD.
    pub min_profit_usd: Amount,
    /// Minimum top-of-book depth, 1e-8 USD.
    pub min_depth_usd: Amount,
    /// Minimum confidence, ppm.
    pub min_conf_ppm: i64,
    /// Per-trade notional cap, 1e-8 USD.
    pub max_notional_usd: Amount,
    /// Books older than this are not traded.
    pub stale_ns: u64,
    /// Re-entry cooldown per pair.
    pub cooldown_ns: u64,
    /// Confidence freshness reference.
    pub conf_age_ns: u64,
}

/// The spatial detector.
pub struct Spatial {
    /// Groups.
    pub groups: Vec<Group>,
    /// Pair statistics, `group.pair_base + buy_member * n + sell_member`.
    pub pairs: Vec<PairStats>,
    inst_groups: Vec<Vec<(usize, usize)>>,
    fee: Vec<Bps>,
    latency: Vec<u64>,
    /// Thresholds.
    pub params: Params,
    next_id: u64,
    /// Evaluation round (one per `evaluate` call): a pair evaluated twice in one round (both
    /// its instruments changed) counts once. Not the message index, which is per source in
    /// paper and live and so not unique across venues.
    round: u64,
}

const K: usize = 64;

#[derive(Clone, Copy, Default)]
struct Lv {
    px: Price,
    qty: Qty,
}

fn top_levels(m: &Market, i: InstrumentId, taker: Side, out: &mut [Lv; K]) -> usize {
    let mut n = 0;
    m.books[i.idx()].walk(taker, |px, qty| {
        out[n] = Lv { px, qty };
        n += 1;
        n < K
    });
    n
}

impl Spatial {
    /// From a resolved config.
    pub fn new(setup: &Setup) -> Spatial {
        let d = &setup.cfg.detection;
        let r = &setup.cfg.risk;
        let mut groups = Vec::new();
        let mut pairs = Vec::new();
        let mut inst_groups = vec![Vec::new(); setup.instruments.len()];
        for (gi, g) in setup.groups.iter().enumerate() {
            let common_dec = g
                .members
                .iter()
                .map(|m| setup.instruments[m.idx()].price_dec)
                .max()
                .unwrap_or(0);
            let mult = g
                .members
                .iter()
                .map(|m| pow10(common_dec - setup.instruments[m.idx()].price_dec))
                .collect();
            for (k, m) in g.members.iter().enumerate() {
                inst_groups[m.idx()].push((gi, k));
            }
            let n = g.members.len();
            groups.push(Group {
                asset: g.asset.clone(),
                members: g.members.clone(),
                mult,
                common_dec,
                quote_usd_e8: (g.quote_usd * AMOUNT_ONE as f64).round() as i64,
                pair_base: pairs.len(),
            });
            pairs.extend((0..n * n).map(|_| PairStats::default()));
        }
        Spatial {
            groups,
            pairs,
            inst_groups,
            fee: setup.taker_fees_by_instrument(),
            latency: setup
                .venues
                .iter()
                .map(|v| v.cfg.order_latency_ns + v.cfg.feed_latency_ns)
                .collect(),
            params: Params {
                min_net: Bps::from_num(d.min_net_spread_bps),
                min_profit_usd: Amount::from_f64(d.min_profit_usd),
                min_depth_usd: Amount::from_f64(d.min_depth_usd),
                min_conf_ppm: (d.min_confidence * 1e6).round() as i64,
                max_notional_usd: Amount::from_f64(r.max_trade_notional_usd),
                stale_ns: r.stale_after_ns,
                cooldown_ns: d.reentry_cooldown_ns,
                conf_age_ns: d.confidence_age_ns,
            },
            next_id: 1,
            round: 0,
        }
    }

    /// Number the next opportunities after `last` (a resumed run continues the journal's
    /// ids, which are also the trades' and their client order ids').
    pub fn continue_ids_after(&mut self, last: u64) {
        self.next_id = self.next_id.max(last + 1);
    }

    /// A new opportunity id (one sequence for every strategy's opportunities).
    pub fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Taker fee of an instrument (its venue's fee for its kind).
    pub fn fee(&self, i: InstrumentId) -> Bps {
        self.fee[i.idx()]
    }

    /// Pair statistics index for (group, buy member, sell member).
    pub fn pair_idx(&self, g: usize, buy: usize, sell: usize) -> usize {
        self.groups[g].pair_base + buy * self.groups[g].members.len() + sell
    }

    /// Evaluate every pair involving the instruments in `dirty`; each opportunity that
    /// passes the thresholds goes to `out` with its pair index.
    pub fn evaluate(
        &mut self,
        m: &Market,
        dirty: &[InstrumentId],
        caps: &impl SizeCaps,
        trigger: (u64, u64),
        out: &mut impl FnMut(Opportunity, usize),
    ) {
        self.round += 1;
        for &i in dirty {
            for gk in 0..self.inst_groups[i.idx()].len() {
                let (g, k) = self.inst_groups[i.idx()][gk];
                let n = self.groups[g].members.len();
                for o in 0..n {
                    if o == k {
                        continue;
                    }
                    // i buys, o sells; then o buys, i sells
                    self.eval_pair(m, g, k, o, caps, trigger, out);
                    self.eval_pair(m, g, o, k, caps, trigger, out);
                }
            }
        }
    }

    #[inline]
    fn usable_top(m: &Market, i: InstrumentId, side: Side) -> Option<(Price, Qty)> {
        let b = &m.books[i.idx()];
        if b.usable_ticker().is_none() && !b.synced {
            return None;
        }
        match side {
            Side::Sell => b.best_ask(),
            Side::Buy => b.best_bid(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn eval_pair(
        &mut self,
        m: &Market,
        g: usize,
        bk: usize,
        sk: usize,
        caps: &impl SizeCaps,
        trigger: (u64, u64),
        out: &mut impl FnMut(Opportunity, usize),
    ) {
        let grp = &self.groups[g];
        let (a, b) = (grp.members[bk], grp.members[sk]);
        let (Some((ask_px, ask_qty)), Some((bid_px, bid_qty))) = (
            Self::usable_top(m, a, Side::Sell),
            Self::usable_top(m, b, Side::Buy),
        ) else {
            // no top on a side: an invalidated book (its ticker went with it) is counted
            if !m.books[a.idx()].valid || !m.books[b.idx()].valid {
                let pi = grp.pair_base + bk * grp.members.len() + sk;
                self.pairs[pi].invalid += 1;
            }
            return;
        };
        let (ma, mb) = (grp.mult[bk], grp.mult[sk]);
        let quote_usd_e8 = grp.quote_usd_e8;
        let pi = grp.pair_base + bk * grp.members.len() + sk;
        let (sa, sb) = (&m.specs[a.idx()], &m.specs[b.idx()]);
        let (fa, fb) = (self.fee[a.idx()], self.fee[b.idx()]);
        let p = self.params;
        let gross = spread_bps(ask_px.0 * ma, bid_px.0 * mb);
        let net_top = gross - fa - fb;
        let stamp = self.round;
        let st = &mut self.pairs[pi];
        if st.last_eval == stamp {
            return;
        }
        st.last_eval = stamp;
        st.evaluations += 1;
        if st.max_gross_bits.is_none_or(|x| gross > x) {
            st.max_gross_bits = Some(gross);
            st.max_gross_spread_bps = gross.to_num::<f64>();
            st.max_gross_at_ns = m.now_ns;
        }
        if st.max_net_bits.is_none_or(|x| net_top > x) {
            st.max_net_bits = Some(net_top);
            st.max_net_spread_bps = net_top.to_num::<f64>();
        }
        if net_top < p.min_net {
            st.below_min_net_spread += 1;
            return;
        }
        for i in [a, b] {
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
        // re-entry cooldown: the same pair at the same top prices is not signalled again
        // within the cooldown; a move of either top price lets it through
        if st.last_signal_ns != 0
            && m.now_ns.saturating_sub(st.last_signal_ns) < p.cooldown_ns
            && st.last_signal_top == (ask_px, bid_px)
        {
            st.cooldown += 1;
            return;
        }
        let usd =
            |q: Amount| Amount((q.0 as i128 * quote_usd_e8 as i128 / AMOUNT_ONE as i128) as i64);
        let depth =
            usd(sa.quote_amount(ask_qty, ask_px)).min(usd(sb.quote_amount(bid_qty, bid_px)));
        if depth < p.min_depth_usd {
            st.below_min_depth += 1;
            return;
        }
        // size caps in base units: the per-trade notional cap at the higher of the two prices
        // (the sell leg's notional is the larger when the spread is positive), and free
        // balances
        let notional_cap_quote =
            p.max_notional_usd.0 as i128 * AMOUNT_ONE as i128 / quote_usd_e8 as i128;
        let top_c = (ask_px.0 as i128 * ma as i128).max(bid_px.0 as i128 * mb as i128);
        let cap_notional =
            (notional_cap_quote * pow10(grp.common_dec) as i128 / top_c.max(1)) as i64;
        let cap = caps.cap_base(sa, ask_px, sb, bid_px).0.min(cap_notional);
        if cap <= 0 {
            st.no_balance += 1;
            return;
        }
        // walk both books while the marginal level pair still clears fees + min net spread
        let mut asks = [Lv::default(); K];
        let mut bids = [Lv::default(); K];
        let na = top_levels(m, a, Side::Buy, &mut asks);
        let nb = top_levels(m, b, Side::Sell, &mut bids);
        let (mut i, mut j) = (0, 0);
        let mut rem_a = if na > 0 {
            sa.base_amount(asks[0].qty, asks[0].px).0
        } else {
            0
        };
        let mut rem_b = if nb > 0 {
            sb.base_amount(bids[0].qty, bids[0].px).0
        } else {
            0
        };
        let mut avail: i64 = 0;
        while i < na && j < nb {
            let s = spread_bps(asks[i].px.0 * ma, bids[j].px.0 * mb) - fa - fb;
            if s < p.min_net {
                break;
            }
            let t = rem_a.min(rem_b);
            avail += t;
            rem_a -= t;
            rem_b -= t;
            if rem_a == 0 {
                i += 1;
                if i < na {
                    rem_a = sa.base_amount(asks[i].qty, asks[i].px).0;
                }
            }
            if rem_b == 0 {
                j += 1;
                if j < nb {
                    rem_b = sb.base_amount(bids[j].qty, bids[j].px).0;
                }
            }
        }
        let q = avail.min(cap);
        // native quantities: round the coarser lot first, then match the finer one to it
        let lot_a = sa.base_amount(sa.lot_size, ask_px).0;
        let lot_b = sb.base_amount(sb.lot_size, bid_px).0;
        let legs = |q: i64| -> (Qty, Qty, Walk, Walk) {
            if lot_a >= lot_b {
                let q1 = sa.qty_for_base_floor(Amount(q), ask_px);
                let e1 = walk_qty(m, a, Side::Buy, q1);
                let q2 = sb.qty_for_base_floor(e1.base, bid_px);
                let e2 = walk_qty(m, b, Side::Sell, q2);
                (q1, q2, e1, e2)
            } else {
                let q2 = sb.qty_for_base_floor(Amount(q), bid_px);
                let e2 = walk_qty(m, b, Side::Sell, q2);
                let q1 = sa.qty_for_base_floor(e2.base, ask_px);
                let e1 = walk_qty(m, a, Side::Buy, q1);
                (q1, q2, e1, e2)
            }
        };
        let (mut qa, mut qb, mut buy_exec, mut sell_exec) = legs(q);
        // walking deeper than the top can still push one leg over the cap: shrink once, in
        // proportion, so that both legs fit (the gate refuses a leg over the cap)
        let leg_max = buy_exec.quote.0.max(sell_exec.quote.0) as i128;
        if leg_max > notional_cap_quote {
            let q2 = (q as i128 * notional_cap_quote / leg_max) as i64;
            (qa, qb, buy_exec, sell_exec) = legs(q2);
        }
        if !sa.order_ok(qa, buy_exec.worst_px)
            || !sb.order_ok(qb, sell_exec.worst_px)
            || buy_exec.filled != qa
            || sell_exec.filled != qb
        {
            st.below_min_order += 1;
            return;
        }
        let (cost_q, base_a) = (buy_exec.quote, buy_exec.base);
        let (proc_q, base_b) = (sell_exec.quote, sell_exec.base);
        // expected gross on the matched base: base × (sell VWAP − buy VWAP)
        let mb_ = base_a.0.min(base_b.0) as i128;
        let gross_q = mb_ * proc_q.0 as i128 / base_b.0.max(1) as i128
            - mb_ * cost_q.0 as i128 / base_a.0.max(1) as i128;
        let fee_a = apply_bps(cost_q, fa);
        let fee_b = apply_bps(proc_q, fb);
        let net_q = gross_q as i64 - fee_a.0 - fee_b.0;
        let net_bps = if cost_q.0 > 0 {
            let v = ((net_q as i128 * 10_000) << 32) / cost_q.0 as i128;
            Bps::from_bits(v.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
        } else {
            Bps::ZERO
        };
        if net_bps < p.min_net {
            st.below_min_net_spread += 1;
            return;
        }
        let profit = usd(Amount(net_q));
        if profit < p.min_profit_usd {
            st.below_min_profit += 1;
            return;
        }
        // confidence
        let age_a = m.now_ns.saturating_sub(m.books[a.idx()].last_update_ns());
        let age_b = m.now_ns.saturating_sub(m.books[b.idx()].last_update_ns());
        let age = age_a.max(age_b);
        let ppm = |x: u64, r: u64| -> i64 {
            ((x as u128 * 1_000_000 / r.max(1) as u128).min(1_000_000)) as i64
        };
        let fresh = 1_000_000 - ppm(age, p.conf_age_ns);
        let size = base_a.0.max(1);
        let depth_f = ppm((avail - size).max(0) as u64, size as u64);
        let standing = |i: InstrumentId, v: usize| -> i64 {
            let tau = match m.top_change_interval_ns[i.idx()] {
                0 => p.conf_age_ns,
                t => t,
            } as u128;
            let l = self.latency[v] as u128;
            (tau * 1_000_000 / (tau + l).max(1)) as i64
        };
        let stand = standing(a, sa.venue.idx()).min(standing(b, sb.venue.idx()));
        let conf_ppm = (4 * fresh + 3 * depth_f + 3 * stand) / 10;
        if conf_ppm < p.min_conf_ppm {
            st.low_confidence += 1;
            return;
        }
        st.signals += 1;
        st.last_signal_ns = m.now_ns.max(1);
        st.last_signal_top = (ask_px, bid_px);
        let id = self.next_id;
        self.next_id += 1;
        let ba = &m.books[a.idx()];
        let bb = &m.books[b.idx()];
        let opp = Opportunity {
            id,
            group: g as u16,
            detected_ns: m.now_ns,
            trigger_msg_seq: trigger.0,
            buy: LegPlan {
                venue: sa.venue,
                instrument: a,
                side: Side::Buy,
                top_px: ask_px,
                limit_px: buy_exec.worst_px,
                qty: qa,
                base: base_a,
                quote: cost_q,
                fee: fee_a,
                book_age_ns: age_a,
                book_seq: ba.top_seq(),
                book_msg_seq: m.last_msg_seq[a.idx()],
            },
            sell: LegPlan {
                venue: sb.venue,
                instrument: b,
                side: Side::Sell,
                top_px: bid_px,
                limit_px: sell_exec.worst_px,
                qty: qb,
                base: base_b,
                quote: proc_q,
                fee: fee_b,
                book_age_ns: age_b,
                book_seq: bb.top_seq(),
                book_msg_seq: m.last_msg_seq[b.idx()],
            },
            gross_spread_bps: gross,
            net_spread_bps: net_bps,
            expected_gross_usd: usd(Amount(gross_q as i64)),
            expected_fees_usd: usd(Amount(fee_a.0 + fee_b.0)),
            expected_profit_usd: profit,
            depth_usd: depth,
            available_base: Amount(avail),
            confidence: Ratio::from_ratio(conf_ppm, 1_000_000),
            handoff_tsc: trigger.1,
            signal_tsc: crate::clock::raw(),
            strategy: crate::signal::Strategy::Spatial,
        };
        out(opp, pi);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{set_book, two_venue_setup};

    const T: u64 = 1_000_000_000;

    fn run(
        fee_a: f64,
        fee_b: f64,
        extra: &str,
        asks_a: &[(i64, i64)],
        bids_b: &[(i64, i64)],
    ) -> (Vec<Opportunity>, PairStats) {
        let s = two_venue_setup(fee_a, fee_b, extra);
        let mut m = Market::new(&s);
        let mut sp = Spatial::new(&s);
        // a sells at its asks (we buy there), b bids (we sell there); the other sides far away
        set_book(&mut m, InstrumentId(0), &[(1_000, 1_000_000)], asks_a, T);
        set_book(
            &mut m,
            InstrumentId(1),
            bids_b,
            &[(100_000_000, 1_000_000)],
            T,
        );
        let mut out = vec![];
        sp.evaluate(
            &m,
            &[InstrumentId(0), InstrumentId(1)],
            &Unlimited,
            (7, 0),
            &mut |o, _| out.push(o),
        );
        let st = sp.pairs[sp.pair_idx(0, 0, 1)].clone();
        (out, st)
    }

    #[test]
    fn fee_and_net_spread_arithmetic() {
        // buy 10 BTC at 100.00 on a, sell at 100.50 on b; taker fees 10 bps each.
        // gross spread = 100.50/100.00 − 1 = 50 bps; top net = 50 − 10 − 10 = 30 bps ≥ 25
        // cost = 10 × 100.00 = 1000.00; proceeds = 10 × 100.50 = 1005.00
        // fees = 1000.00 × 0.001 + 1005.00 × 0.001 = 1.00 + 1.005 = 2.005
        // expected gross 5.00, net 2.995 USD = 29.95 bps of the buy notional
        let (opps, st) = run(
            10.0,
            10.0,
            "[detection]\nmin_profit_usd = 1.0",
            &[(10_000, 10_000)],
            &[(10_050, 10_000)],
        );
        assert_eq!(opps.len(), 1, "{st:?}");
        let o = &opps[0];
        assert_eq!(o.gross_spread_bps, Bps::from_num(50));
        assert_eq!(o.buy.qty, Qty(10_000));
        assert_eq!(o.sell.qty, Qty(10_000));
        assert_eq!(o.buy.quote, Amount::from_f64(1000.0));
        assert_eq!(o.sell.quote, Amount::from_f64(1005.0));
        assert_eq!(o.expected_gross_usd, Amount::from_f64(5.0));
        assert_eq!(o.expected_fees_usd, Amount::from_f64(2.005));
        assert_eq!(o.expected_profit_usd, Amount::from_f64(2.995));
        assert!((o.net_spread_bps.to_num::<f64>() - 29.95).abs() < 1e-6);
        assert_eq!(
            (o.buy.limit_px, o.sell.limit_px),
            (Price(10_000), Price(10_050))
        );
        assert_eq!(o.trigger_msg_seq, 7);
        assert!(o.confidence > Ratio::from_num(0.6));
        assert_eq!(st.signals, 1);
        assert!((st.max_gross_spread_bps - 50.0).abs() < 1e-9);
        assert!((st.max_net_spread_bps - 30.0).abs() < 1e-9);
    }

    #[test]
    fn thresholds_turn_opportunities_away_and_say_why() {
        // same book, default min profit 5 USD: 2.995 < 5
        let (opps, st) = run(10.0, 10.0, "", &[(10_000, 10_000)], &[(10_050, 10_000)]);
        assert!(opps.is_empty());
        assert_eq!(st.below_min_profit, 1);
        // fees 15 + 15 bps: top net 20 < 25 bps
        let (opps, st) = run(15.0, 15.0, "", &[(10_000, 10_000)], &[(10_050, 10_000)]);
        assert!(opps.is_empty());
        assert_eq!(st.below_min_net_spread, 1);
        // depth: 0.5 BTC at 100 = 50 USD on top < 1000 USD minimum
        let (opps, st) = run(
            10.0,
            10.0,
            "[detection]\nmin_profit_usd = 0.01",
            &[(10_000, 500)],
            &[(10_050, 10_000)],
        );
        assert!(opps.is_empty());
        assert_eq!(st.below_min_depth, 1);
    }

    #[test]
    fn walk_stops_where_the_marginal_level_no_longer_pays() {
        // asks: 5 @ 100.00, 5 @ 100.20; bids: 10 @ 100.50. Fees 10+10 bps, min net 1 bp.
        // level 2: 100.50/100.20 − 1 = 29.9 bps − 20 = 9.9 bps ≥ 1 → taken: 10 BTC
        let extra =
            "[detection]\nmin_net_spread_bps = 1.0\nmin_profit_usd = 0.1\nmin_depth_usd = 100.0";
        let (opps, _) = run(
            10.0,
            10.0,
            extra,
            &[(10_000, 5_000), (10_020, 5_000)],
            &[(10_050, 10_000)],
        );
        assert_eq!(opps[0].buy.qty, Qty(10_000));
        assert_eq!(opps[0].buy.limit_px, Price(10_020));
        assert_eq!(opps[0].buy.quote, Amount::from_f64(500.0 + 501.0));
        // with a 25 bp minimum the second level (9.9 bps net) is not worth it: 5 BTC only
        let extra =
            "[detection]\nmin_net_spread_bps = 25.0\nmin_profit_usd = 0.1\nmin_depth_usd = 100.0";
        let (opps, _) = run(
            10.0,
            10.0,
            extra,
            &[(10_000, 5_000), (10_020, 5_000)],
            &[(10_050, 10_000)],
        );
        assert_eq!(opps[0].buy.qty, Qty(5_000));
        assert_eq!(opps[0].buy.limit_px, Price(10_000));
    }

    #[test]
    fn notional_cap_limits_size_and_lot_rounding() {
        // cap 555 USD per leg: the sell leg at 100.50 is the larger, 555 / 100.50 = 5.5223 BTC,
        // lot 0.001 → 5.522 (buy 552.20 USD, sell 554.96 USD: both within the cap)
        let extra = "[detection]\nmin_profit_usd = 0.1\n[risk]\nmax_trade_notional_usd = 555.0";
        let (opps, _) = run(
            10.0,
            10.0,
            extra,
            &[(10_000, 100_000)],
            &[(10_050, 100_000)],
        );
        assert_eq!(opps[0].buy.qty, Qty(5_522));
        assert_eq!(opps[0].sell.qty, Qty(5_522));
        assert!(opps[0].sell.quote <= Amount::from_f64(555.0));
    }

    #[test]
    fn a_pair_is_evaluated_once_per_message() {
        let (_, st) = run(10.0, 10.0, "", &[(10_000, 10_000)], &[(10_050, 10_000)]);
        // both books were dirty in the same message: one evaluation of (a buys, b sells)
        assert_eq!(st.evaluations, 1);
    }

    #[test]
    fn stale_and_invalid_books_are_not_signalled() {
        let s = two_venue_setup(
            1.0,
            1.0,
            "[detection]\nmin_profit_usd = 0.1\nmin_net_spread_bps = 1.0",
        );
        let mut m = Market::new(&s);
        let mut sp = Spatial::new(&s);
        set_book(
            &mut m,
            InstrumentId(0),
            &[(1_000, 1)],
            &[(10_000, 100_000)],
            T,
        );
        set_book(
            &mut m,
            InstrumentId(1),
            &[(10_050, 100_000)],
            &[(100_000_000, 1)],
            T,
        );
        m.now_ns = T + 2_000_000_000; // 2 s later: both books older than the 1 s limit
        let mut n = 0;
        sp.evaluate(&m, &[InstrumentId(0)], &Unlimited, (0, 0), &mut |_, _| {
            n += 1
        });
        assert_eq!(n, 0);
        assert!(sp.pairs[sp.pair_idx(0, 0, 1)].stale >= 1);
        m.now_ns = T;
        m.books[1].invalidate();
        sp.evaluate(&m, &[InstrumentId(0)], &Unlimited, (1, 0), &mut |_, _| {
            n += 1
        });
        assert_eq!(n, 0);
        assert!(sp.pairs[sp.pair_idx(0, 0, 1)].invalid >= 1);
    }
}
