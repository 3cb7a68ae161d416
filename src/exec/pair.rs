//! Statistical pair trades in execution (R2.3): the one-leg excess at the planned hedge
//! ratio, and the trade record with the position it leaves.
#![forbid(unsafe_code)]

use crate::journal::{LegFill, LegStatus, PairResult, TradeRecord, TradeStatus};
use crate::signal::{Opportunity, PairAction, PairPlan};
use crate::types::{Amount, Side};

#[inline]
fn mul_div(a: i64, b: i64, c: i64) -> i64 {
    if c == 0 {
        return 0;
    }
    (a as i128 * b as i128 / c as i128).clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// The excess of the leg that filled more than the planned ratio allows: `(1, base)` for the
/// buy leg (sell it back), `(−1, base)` for the sell leg (buy it back), `(0, 0)` when matched.
pub(super) fn excess(o: &Opportunity, b: &LegFill, s: &LegFill) -> (i64, i64) {
    let (pb, ps) = (o.buy.base.0.max(1), o.sell.base.0.max(1));
    let over_buy = b.base.0 - mul_div(s.base.0, pb, ps);
    if over_buy > 0 {
        return (1, over_buy);
    }
    let over_sell = s.base.0 - mul_div(b.base.0, ps, pb);
    if over_sell > 0 {
        return (-1, over_sell);
    }
    (0, 0)
}

/// The record of a pair trade: its own fills (an entry's gross is what its closing orders
/// lost or made; a close's gross is what the position made, less what its earlier trades'
/// records already carry), and the position after it.
pub(super) fn finish(o: &Opportunity, p: &PairPlan, legs: &[LegFill]) -> TradeRecord {
    let o = *o;
    let mut rec = TradeRecord {
        id: o.id,
        opp: o,
        n_legs: legs.len() as u8,
        ..TradeRecord::default()
    };
    let (mut flows, mut fees, mut volume) = (0i64, 0i64, 0i64);
    let mut dbase = [0i64; 2];
    let (mut qsum, mut bsum) = ([0i64; 2], [0i64; 2]);
    for (k, l) in legs.iter().enumerate() {
        rec.legs[k] = *l;
        rec.done_ns = rec.done_ns.max(l.known_ns);
        fees += l.fee.0;
        volume += l.quote.0;
        let i = usize::from(l.instrument != p.y);
        let sign = if l.side == Side::Buy { 1 } else { -1 };
        flows -= sign * l.quote.0;
        dbase[i] += sign * l.base.0;
        qsum[i] += l.quote.0;
        bsum[i] += l.base.0;
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
    let mut marks = p.marks_e8;
    for k in 0..2 {
        if bsum[k] > 0 {
            marks[k] = mul_div(qsum[k], 100_000_000, bsum[k]);
        }
    }
    let held = [p.held[0].0 + dbase[0], p.held[1].0 + dbase[1]];
    let value: i64 = (0..2)
        .map(|k| mul_div(held[k], marks[k], 100_000_000))
        .sum();
    let cash = p.cash.0 + flows;
    let position_gross = cash + value;
    let flat = (0..2).all(|k| held[k].abs() < p.lots[k].0.max(1));
    let gross = if p.action == PairAction::Open {
        // its own fills at their own prices: only what closing orders gave up remains
        flows
            + (0..2)
                .map(|k| mul_div(dbase[k], marks[k], 100_000_000))
                .sum::<i64>()
    } else {
        position_gross - p.attributed.0
    };
    rec.gross_pnl_usd = Amount(gross);
    rec.fees_usd = Amount(fees);
    rec.net_pnl_usd = Amount(gross - fees);
    rec.volume_usd = Amount(volume);
    rec.pair = PairResult {
        cash: Amount(cash),
        fees: Amount(p.fees.0 + fees),
        held: [Amount(held[0]), Amount(held[1])],
        marks_e8: marks,
        position_gross: Amount(position_gross),
        flat,
    };
    rec
}
