//! Market guards of the risk gate (R4.4), besides stale/invalid books and the 5 % spread
//! sanity limit that the gate checks itself:
//! - **slippage**: on either leg, the VWAP of the planned walk against the top of book, beyond
//!   `risk.max_slippage_bps` (`slippage`);
//! - **price deviation**: a leg's venue quoting a mid more than `risk.max_price_deviation_pct`
//!   away from the median mid of the other venues quoting the same asset (the group's other
//!   members with a two-sided book; nothing to compare with, nothing refused)
//!   (`price_deviation`);
//! - **maintenance**: a leg's venue inside a configured window `[[risk.maintenance]]` (replay)
//!   or reported in maintenance by its venue (live: [`Guards::set_maintenance`], reached
//!   through [`crate::engine::core::DetectionCore::set_maintenance`] or an
//!   [`crate::event::MdKind::VenueMaintenance`] event) (`maintenance`).
#![forbid(unsafe_code)]

use crate::book::Market;
use crate::config::Setup;
use crate::instrument::InstrumentSpec;
use crate::signal::{LegPlan, Opportunity};
use crate::types::{pow10, Bps, InstrumentId, Nanos};

/// Most members a group may have for the median (larger groups use their first ones).
const MAX_MEMBERS: usize = 32;

/// The guards' settings and the venues' maintenance state.
#[derive(Clone, Debug)]
pub struct Guards {
    max_slippage: Bps,
    max_deviation: Bps,
    /// (venue, from, to) windows.
    windows: Vec<(usize, Nanos, Nanos)>,
    /// Venues reported in maintenance (live).
    manual: Vec<bool>,
    /// Per group: members and their multiplier to the group's common price scale.
    groups: Vec<Vec<(InstrumentId, i64)>>,
}

/// The expected slippage of a leg: its planned VWAP (quote per base, the harmonic mean for
/// inverse contracts) against its top-of-book price, bps (≥ 0 for a walk away from the top).
pub fn slippage_bps(spec: &InstrumentSpec, leg: &LegPlan) -> Bps {
    if leg.base.0 <= 0 || leg.top_px.0 <= 0 {
        return Bps::ZERO;
    }
    // vwap = quote / base at the price scale; compare quote·10^dec with top·base
    let vwap_x = leg.quote.0 as i128 * pow10(spec.price_dec) as i128;
    let top_x = leg.top_px.0 as i128 * leg.base.0 as i128;
    let diff = match leg.side {
        crate::types::Side::Buy => vwap_x - top_x,
        crate::types::Side::Sell => top_x - vwap_x,
    };
    let bits = ((diff * 10_000) << 32) / top_x;
    Bps::from_bits(bits.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
}

impl Guards {
    /// From a resolved config.
    pub fn new(setup: &Setup) -> Guards {
        let r = &setup.cfg.risk;
        let windows = r
            .maintenance
            .iter()
            .filter_map(|w| {
                setup
                    .venue_id(&w.venue)
                    .map(|v| (v.idx(), w.from_ns, w.to_ns))
            })
            .collect();
        let groups = setup
            .groups
            .iter()
            .map(|g| {
                let dec = g
                    .members
                    .iter()
                    .map(|m| setup.instruments[m.idx()].price_dec)
                    .max()
                    .unwrap_or(0);
                g.members
                    .iter()
                    .take(MAX_MEMBERS)
                    .map(|m| (*m, pow10(dec - setup.instruments[m.idx()].price_dec)))
                    .collect()
            })
            .collect();
        Guards {
            max_slippage: Bps::from_num(r.max_slippage_bps),
            max_deviation: Bps::from_num(r.max_price_deviation_pct * 100.0),
            windows,
            manual: vec![false; setup.venues.len()],
            groups,
        }
    }

    /// A venue reports maintenance (`true`) or normal operation (`false`).
    pub fn set_maintenance(&mut self, venue: usize, on: bool) {
        if let Some(x) = self.manual.get_mut(venue) {
            *x = on;
        }
    }

    /// Is `venue` in maintenance at `now`?
    pub fn in_maintenance(&self, venue: usize, now: Nanos) -> bool {
        self.manual.get(venue).copied().unwrap_or(false)
            || self
                .windows
                .iter()
                .any(|&(v, from, to)| v == venue && now >= from && now < to)
    }

    /// How far the mid of `i` (a member of `group`) is from the median mid of the group's
    /// other members with a two-sided book, bps; `None` when it has no mid or no other member
    /// has one.
    pub fn deviation_bps(&self, m: &Market, group: usize, i: InstrumentId) -> Option<Bps> {
        let members = self.groups.get(group)?;
        let mult = members.iter().find(|(x, _)| *x == i)?.1;
        let own = crate::pnl::mid_x2(m, i)?.0 as i128 * mult as i128;
        let mut others = [0i128; MAX_MEMBERS];
        let mut n = 0;
        for &(x, k) in members {
            if x == i {
                continue;
            }
            if let Some(p) = crate::pnl::mid_x2(m, x) {
                others[n] = p.0 as i128 * k as i128;
                n += 1;
            }
        }
        if n == 0 {
            return None;
        }
        let o = &mut others[..n];
        o.sort_unstable();
        // median of doubled mids, doubled again so that the mean of two middles stays exact
        let med4 = if n % 2 == 1 {
            2 * o[n / 2]
        } else {
            o[n / 2 - 1] + o[n / 2]
        };
        if med4 <= 0 {
            return None;
        }
        let diff = (2 * own - med4).abs();
        let bits = ((diff * 10_000) << 32) / med4;
        Some(Bps::from_bits(
            bits.clamp(i64::MIN as i128, i64::MAX as i128) as i64,
        ))
    }

    /// Maintenance of either leg's venue.
    pub fn maintenance(&self, opp: &Opportunity, now: Nanos) -> bool {
        self.in_maintenance(opp.buy.venue.idx(), now)
            || self.in_maintenance(opp.sell.venue.idx(), now)
    }

    /// Either leg's venue deviates from the others' median by more than the limit.
    pub fn deviates(&self, m: &Market, opp: &Opportunity) -> bool {
        let g = opp.group as usize;
        [opp.buy.instrument, opp.sell.instrument].iter().any(|&i| {
            self.deviation_bps(m, g, i)
                .is_some_and(|d| d > self.max_deviation)
        })
    }

    /// `i`'s mid deviates from the median of the other members of a group it belongs to by
    /// more than the limit (an instrument in no group has nothing to compare with).
    pub fn deviates_leg(&self, m: &Market, i: InstrumentId) -> bool {
        self.groups.iter().enumerate().any(|(g, members)| {
            members.iter().any(|(x, _)| *x == i)
                && self
                    .deviation_bps(m, g, i)
                    .is_some_and(|d| d > self.max_deviation)
        })
    }

    /// One leg's expected slippage is beyond the limit.
    pub fn slips_leg(&self, m: &Market, leg: &LegPlan) -> bool {
        slippage_bps(&m.specs[leg.instrument.idx()], leg) > self.max_slippage
    }

    /// Either leg's expected slippage is beyond the limit.
    pub fn slips(&self, m: &Market, opp: &Opportunity) -> bool {
        [&opp.buy, &opp.sell]
            .iter()
            .any(|l| slippage_bps(&m.specs[l.instrument.idx()], l) > self.max_slippage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{set_book, two_venue_setup};
    use crate::types::{Amount, Price, Qty, Side};

    #[test]
    fn slippage_is_the_vwap_against_the_top() {
        let s = two_venue_setup(1.0, 1.0, "");
        let spec = &s.instruments[0];
        // buy 2 BTC: 1 at 100.00, 1 at 101.00 → VWAP 100.50, 50 bps over the top
        let leg = LegPlan {
            side: Side::Buy,
            top_px: Price(10_000),
            qty: Qty(2_000),
            base: Amount::from_f64(2.0),
            quote: Amount::from_f64(201.0),
            ..LegPlan::default()
        };
        assert_eq!(slippage_bps(spec, &leg), Bps::from_num(50));
        // a sell walking down is slippage too
        let leg = LegPlan {
            side: Side::Sell,
            top_px: Price(10_000),
            base: Amount::from_f64(2.0),
            quote: Amount::from_f64(199.0),
            ..leg
        };
        assert_eq!(slippage_bps(spec, &leg), Bps::from_num(50));
    }

    #[test]
    fn deviation_from_the_median_and_maintenance_windows() {
        let s = two_venue_setup(
            1.0,
            1.0,
            "[[risk.maintenance]]\nvenue = \"b\"\nfrom_ns = 100\nto_ns = 200",
        );
        let mut g = Guards::new(&s);
        let mut m = Market::new(&s);
        assert_eq!(g.deviation_bps(&m, 0, InstrumentId(0)), None, "no books");
        set_book(&mut m, InstrumentId(0), &[(9_990, 1)], &[(10_010, 1)], 1); // mid 100.00
        assert_eq!(
            g.deviation_bps(&m, 0, InstrumentId(0)),
            None,
            "no other mid"
        );
        set_book(&mut m, InstrumentId(1), &[(10_990, 1)], &[(11_010, 1)], 1); // mid 110.00
        assert_eq!(
            g.deviation_bps(&m, 0, InstrumentId(1)),
            Some(Bps::from_num(1_000))
        );
        assert!(!g.in_maintenance(1, 99) && g.in_maintenance(1, 100));
        assert!(!g.in_maintenance(1, 200) && !g.in_maintenance(0, 150));
        g.set_maintenance(0, true);
        assert!(g.in_maintenance(0, 0));
    }
}
