//! Inventory-honest PnL: every fill's cash flows and fees, per instrument, and their value at
//! the books' mids (mark to market), not just the sum of what each trade said it made.
//!
//! The rule, the same for every instrument kind: a buy pays its quote notional and receives
//! its base amount, a sell the reverse; fees are paid in quote (USD-equivalent) units. The
//! run's **mark-to-market** PnL is Σ quote flows − Σ fees + Σ (net base change of each
//! instrument × that instrument's mid). For spot and linear contracts that is realised plus
//! unrealised PnL; for inverse contracts (COIN-M: N contracts of 100 USD bought at P receive
//! N·100/P BTC of exposure) it gives exactly their USD PnL at the mark,
//! N·100·(M/P − 1). Holdings that were there before the run are not revalued (only what the
//! run changed), and USDT is taken at the group's `quote_usd` (1.0 = par with USD).
//!
//! **Flatten cost** is what closing the open inventory would cost now: for each instrument
//! with an open position, a taker order for it walked through the current book (the loss
//! against the mid, plus the taker fee on the proceeds); a book too thin to close it all is
//! counted in `unfilled_base` and that part is valued at the worst price reached.
//! **Liquidation value** = mark to market − flatten cost.
#![forbid(unsafe_code)]

use crate::book::Market;
use crate::instrument::InstrumentSpec;
use crate::journal::{LegFill, TradeRecord, MAX_TRADE_LEGS};
use crate::types::{apply_bps, pow10, Amount, Bps, InstrumentId, Price, Qty, Side, AMOUNT_ONE};

/// Cash flows of one instrument over the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flows {
    /// Σ sell quote − Σ buy quote, 1e-8 quote units.
    pub quote: i64,
    /// Σ fees, 1e-8 quote units.
    pub fees: i64,
    /// Σ buy base − Σ sell base, 1e-8 base units.
    pub base: i64,
    /// Σ buy quantity − Σ sell quantity, native units (contracts for derivatives).
    pub qty: i64,
    /// Quote traded (both sides), 1e-8 quote units.
    pub volume: i64,
}

/// One trade's flows, kept to mark it at the end (win rate on mark to market): per
/// instrument, its base change and its quote flow net of fees (native units).
#[derive(Clone, Copy, Debug, Default)]
struct TradeFlows {
    per: [(InstrumentId, i64, i64); MAX_TRADE_LEGS],
    n: u8,
}

/// Trades whose flows are kept for the per-trade mark (allocated at start).
pub const TRADES_KEPT: usize = 1 << 16;

/// The run's cash flows per instrument.
#[derive(Clone, Debug)]
pub struct PnlBook {
    flows: Vec<Flows>,
    quote_usd_e8: Vec<i64>,
    /// Instruments whose quote is not worth a fixed USD amount (ETHBTC's BTC): the
    /// instrument on the same venue whose mid converts it (BTCUSDT).
    quote_via: Vec<Option<InstrumentId>>,
    trades: Vec<TradeFlows>,
    /// Trades beyond [`TRADES_KEPT`] (their flows count in the totals, not in the per-trade
    /// win rate).
    pub trades_not_kept: u64,
    /// Σ of the trades' own net PnL (each trade's residual marked at its last fill).
    pub trades_net: i64,
    /// Per instrument: the last two-sided mid seen by [`PnlBook::equity_mark`] (doubled), used
    /// while its book has none.
    last_mid_x2: Vec<Price>,
}

/// A mark of the run at the current books.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Marks {
    /// Σ of the trades' own net PnL, 1e-8 USD.
    pub trades_net_usd: i64,
    /// Cash flows and fees plus the net base change per instrument at its mid, 1e-8 USD.
    pub mark_to_market_usd: i64,
    /// Fees and book walk to close the open inventory now, 1e-8 USD (≥ 0 unless a book is
    /// crossed against its mid).
    pub flatten_cost_usd: i64,
    /// `mark_to_market_usd − flatten_cost_usd`.
    pub liquidation_usd: i64,
    /// Instruments with open inventory.
    pub open: Vec<OpenInventory>,
    /// Trades whose own flows, marked at the current mids, are > 0.
    pub winners: u64,
    /// Trades marked (≤ [`TRADES_KEPT`]).
    pub marked_trades: u64,
}

/// Open inventory of one instrument.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OpenInventory {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Net base change, 1e-8 base units.
    pub base: i64,
    /// Net native position (contracts for derivatives, base at the lot's decimals for spot).
    pub qty: i64,
    /// Net quote flow, 1e-8 quote units.
    pub quote: i64,
    /// Twice the mid it is marked at (best bid + best ask, at the instrument's price scale, so
    /// that half-tick mids stay exact); 0 when the book has no two sides.
    pub mid_x2: Price,
    /// Base × mid, 1e-8 USD.
    pub value_usd: i64,
    /// Closing it now: fee + loss against the mid, 1e-8 USD.
    pub flatten_cost_usd: i64,
    /// Base the current book could not absorb, 1e-8 base units.
    pub unfilled_base: i64,
}

fn mul_div(a: i64, b: i64, c: i64) -> i64 {
    if c == 0 {
        return 0;
    }
    (a as i128 * b as i128 / c as i128).clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// Twice the mid of a book (best bid + best ask) at the instrument's price scale, exact
/// (`None` without both sides).
pub fn mid_x2(m: &Market, i: InstrumentId) -> Option<Price> {
    let b = &m.books[i.idx()];
    let (bid, ask) = (b.best_bid()?.0, b.best_ask()?.0);
    Some(Price(bid.0 + ask.0))
}

/// `base` (1e-8 units) valued at half of `px_x2` (a doubled price), in 1e-8 quote units.
fn base_value_x2(spec: &InstrumentSpec, base: i64, px_x2: Price) -> i64 {
    mul_div(base, px_x2.0, 2 * pow10(spec.price_dec))
}

impl PnlBook {
    /// For `n` instruments; `quote_usd_e8[i]` converts instrument `i`'s quote to USD (×1e8).
    pub fn new(quote_usd_e8: Vec<i64>) -> PnlBook {
        let n = quote_usd_e8.len();
        PnlBook {
            flows: vec![Flows::default(); quote_usd_e8.len()],
            quote_via: vec![None; quote_usd_e8.len()],
            quote_usd_e8,
            trades: Vec::with_capacity(TRADES_KEPT),
            trades_not_kept: 0,
            trades_net: 0,
            last_mid_x2: vec![Price(0); n],
        }
    }

    /// From a resolved config: each instrument's quote at its group's `quote_usd`, or at the
    /// USD value of a triangle start asset; an instrument quoted in another asset (a
    /// triangle's ETHBTC) is converted at the mid of the instrument on its venue that prices
    /// that asset in one of those (BTCUSDT).
    pub fn from_setup(setup: &crate::config::Setup) -> PnlBook {
        let mut q = vec![AMOUNT_ONE; setup.instruments.len()];
        let mut fixed = vec![false; setup.instruments.len()];
        for g in &setup.groups {
            for m in &g.members {
                q[m.idx()] = (g.quote_usd * AMOUNT_ONE as f64).round() as i64;
                fixed[m.idx()] = true;
            }
        }
        if let Some(t) = &setup.triangular {
            for (k, s) in setup.instruments.iter().enumerate() {
                if let Some((_, usd)) = t
                    .cfg
                    .start_assets_usd
                    .iter()
                    .find(|(a, _)| a.eq_ignore_ascii_case(&s.quote))
                {
                    q[k] = (usd * AMOUNT_ONE as f64).round() as i64;
                    fixed[k] = true;
                }
            }
        }
        if let Some(st) = &setup.stat {
            // a pair's quote is taken at par, like a group's default
            fixed[st.y.idx()] = true;
            fixed[st.x.idx()] = true;
        }
        let mut p = PnlBook::new(q);
        for (k, s) in setup.instruments.iter().enumerate() {
            if fixed[k] {
                continue;
            }
            p.quote_via[k] = setup
                .instruments
                .iter()
                .find(|j| {
                    j.venue == s.venue && j.base.eq_ignore_ascii_case(&s.quote) && fixed[j.id.idx()]
                })
                .map(|j| j.id);
        }
        p
    }

    /// Same cash flows per instrument as `other` (a resumed replay's check).
    pub fn same_flows(&self, other: &PnlBook) -> bool {
        self.flows == other.flows
    }

    /// Flows of instrument `i` so far.
    pub fn flows(&self, i: InstrumentId) -> Flows {
        self.flows[i.idx()]
    }

    /// `q` quote units of instrument `i` in 1e-8 USD; `mids` are doubled mids (see `mid_x2`).
    fn usd(&self, i: InstrumentId, q: i64, m: &Market, mids: &[Option<Price>]) -> i64 {
        self.usd_by(i, q, m, |j| mids[j.idx()])
    }

    /// [`PnlBook::usd`] at the books now (a book without two sides at its last mid), without
    /// allocating (the hot-path marks of the loss limits).
    fn usd_now(&self, i: InstrumentId, q: i64, m: &Market) -> i64 {
        self.usd_by(i, q, m, |j| {
            mid_x2(m, j).or(Some(self.last_mid_x2[j.idx()]).filter(|p| p.0 != 0))
        })
    }

    fn usd_by(
        &self,
        i: InstrumentId,
        q: i64,
        m: &Market,
        mid: impl Fn(InstrumentId) -> Option<Price>,
    ) -> i64 {
        match self.quote_via[i.idx()] {
            Some(j) => match mid(j) {
                Some(px2) => {
                    let in_j_quote = base_value_x2(&m.specs[j.idx()], q, px2);
                    mul_div(in_j_quote, self.quote_usd_e8[j.idx()], AMOUNT_ONE)
                }
                None => 0,
            },
            None => mul_div(q, self.quote_usd_e8[i.idx()], AMOUNT_ONE),
        }
    }

    fn leg(&mut self, l: &LegFill) {
        if l.filled_qty.0 == 0 {
            return;
        }
        let f = &mut self.flows[l.instrument.idx()];
        let s = if l.side == Side::Buy { 1 } else { -1 };
        f.quote -= s * l.quote.0;
        f.base += s * l.base.0;
        f.qty += s * l.filled_qty.0;
        f.fees += l.fee.0;
        f.volume += l.quote.0;
    }

    /// Book a finished trade's fills.
    pub fn on_trade(&mut self, t: &TradeRecord) {
        let mut tf = TradeFlows::default();
        for l in &t.legs[..t.n_legs as usize] {
            self.leg(l);
            if l.filled_qty.0 == 0 {
                continue;
            }
            let s = if l.side == Side::Buy { 1 } else { -1 };
            let (db, dq) = (s * l.base.0, -s * l.quote.0 - l.fee.0);
            match tf.per[..tf.n as usize]
                .iter_mut()
                .find(|(i, _, _)| *i == l.instrument)
            {
                Some(e) => {
                    e.1 += db;
                    e.2 += dq;
                }
                None => {
                    tf.per[tf.n as usize] = (l.instrument, db, dq);
                    tf.n += 1;
                }
            }
        }
        self.trades_net += t.net_pnl_usd.0;
        if self.trades.len() < TRADES_KEPT {
            self.trades.push(tf);
        } else {
            self.trades_not_kept += 1;
        }
    }

    /// The run's mark-to-market PnL now, 1e-8 USD: the same figure as
    /// [`PnlBook::mark`]`.mark_to_market_usd`, without allocating (the loss limits re-mark it on
    /// the detection thread). A book without two sides is valued at its last mid.
    pub fn equity_mark(&mut self, m: &Market) -> i64 {
        let mut mtm = 0i64;
        for k in 0..self.flows.len() {
            let f = self.flows[k];
            if f == Flows::default() {
                continue;
            }
            let i = InstrumentId(k as u16);
            if let Some(p) = mid_x2(m, i) {
                self.last_mid_x2[k] = p;
            }
            let value = base_value_x2(&m.specs[k], f.base, self.last_mid_x2[k]);
            mtm += self.usd_now(i, f.quote - f.fees + value, m);
        }
        mtm
    }

    /// One trade's own flows and fees with the base it leaves valued at the mids now (its
    /// mark-to-market result when it completes), 1e-8 USD.
    pub fn trade_mark(&self, t: &TradeRecord, m: &Market) -> i64 {
        let mut v = 0i64;
        for l in &t.legs[..t.n_legs as usize] {
            if l.filled_qty.0 == 0 {
                continue;
            }
            let s = if l.side == Side::Buy { 1 } else { -1 };
            let k = l.instrument.idx();
            let mid = mid_x2(m, l.instrument).unwrap_or(self.last_mid_x2[k]);
            let value = base_value_x2(&m.specs[k], s * l.base.0, mid);
            v += self.usd_now(l.instrument, -s * l.quote.0 - l.fee.0 + value, m);
        }
        v
    }

    /// A leg's fee and notional in 1e-8 USD at the books now (the PnL curve's per-venue
    /// figures): `(fee_usd, volume_usd)`. Allocation-free.
    pub fn leg_usd(&self, l: &LegFill, m: &Market) -> (i64, i64) {
        (
            self.usd_now(l.instrument, l.fee.0, m),
            self.usd_now(l.instrument, l.quote.0, m),
        )
    }

    /// Mark everything at the books of `m` now; `taker_fee` by instrument for the flatten
    /// walk.
    pub fn mark(&self, m: &Market, taker_fee: &[Bps]) -> Marks {
        let mut out = Marks {
            trades_net_usd: self.trades_net,
            ..Marks::default()
        };
        let mids: Vec<Option<Price>> = (0..self.flows.len())
            .map(|k| mid_x2(m, InstrumentId(k as u16)))
            .collect();
        let mut mtm = 0i64;
        let mut flatten = 0i64;
        for (k, f) in self.flows.iter().enumerate() {
            let i = InstrumentId(k as u16);
            if *f == Flows::default() {
                continue;
            }
            let spec = &m.specs[k];
            let px2 = mids[k].unwrap_or_default();
            let value = base_value_x2(spec, f.base, px2);
            mtm += self.usd(i, f.quote - f.fees + value, m, &mids);
            if f.qty == 0 && f.base == 0 {
                continue;
            }
            let mut inv = OpenInventory {
                instrument: i,
                base: f.base,
                qty: f.qty,
                quote: f.quote,
                mid_x2: px2,
                value_usd: self.usd(i, value, m, &mids),
                ..OpenInventory::default()
            };
            if f.qty != 0 {
                // close: sell a long, buy back a short, as a taker through the book now
                let side = if f.qty > 0 { Side::Sell } else { Side::Buy };
                let w = crate::book::walk_qty(m, i, side, Qty(f.qty.abs()));
                let left = Qty(f.qty.abs() - w.filled.0);
                let mut quote = w.quote.0;
                let mut base = w.base.0;
                if left.0 > 0 {
                    let worst = if w.worst_px.0 > 0 {
                        w.worst_px
                    } else {
                        Price(px2.0 / 2)
                    };
                    quote += spec.quote_amount(left, worst).0;
                    let b = spec.base_amount(left, worst).0;
                    base += b;
                    inv.unfilled_base = b;
                }
                let fee = apply_bps(Amount(quote), taker_fee[k]).0;
                // against the mid: a long sells `base` for `quote` instead of base × mid
                let at_mid = base_value_x2(spec, base, px2);
                let slip = if f.qty > 0 {
                    at_mid - quote
                } else {
                    quote - at_mid
                };
                inv.flatten_cost_usd = self.usd(i, slip + fee, m, &mids);
                flatten += inv.flatten_cost_usd;
            }
            out.open.push(inv);
        }
        for t in &self.trades {
            let mut v = 0;
            for &(i, b, q) in &t.per[..t.n as usize] {
                let px2 = mids[i.idx()].unwrap_or_default();
                v += self.usd(i, q + base_value_x2(&m.specs[i.idx()], b, px2), m, &mids);
            }
            if v > 0 {
                out.winners += 1;
            }
        }
        out.marked_trades = self.trades.len() as u64;
        out.mark_to_market_usd = mtm;
        out.flatten_cost_usd = flatten;
        out.liquidation_usd = mtm - flatten;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{LegStatus, TradeStatus};
    use crate::testkit::{set_book, two_venue_setup};

    fn leg(m: &Market, i: u16, side: Side, qty: i64, px: i64, fee_bps: f64) -> LegFill {
        let spec = &m.specs[i as usize];
        let quote = spec.quote_amount(Qty(qty), Price(px));
        LegFill {
            venue: spec.venue,
            instrument: spec.id,
            side,
            filled_qty: Qty(qty),
            order_qty: Qty(qty),
            quote,
            base: spec.base_amount(Qty(qty), Price(px)),
            fee: apply_bps(quote, Bps::from_num(fee_bps)),
            status: LegStatus::Filled,
            ..LegFill::default()
        }
    }

    #[test]
    fn mark_to_market_values_the_inventory_a_trade_leaves() {
        let s = two_venue_setup(10.0, 10.0, "");
        let mut m = Market::new(&s);
        // buy 1 BTC on a at 100.00, sell 1 on b at 100.50: +0.50 gross, fees 0.10 + 0.1005
        let mut t = TradeRecord {
            n_legs: 2,
            status: TradeStatus::Filled,
            ..TradeRecord::default()
        };
        t.legs[0] = leg(&m, 0, Side::Buy, 1_000, 10_000, 10.0);
        t.legs[1] = leg(&m, 1, Side::Sell, 1_000, 10_050, 10.0);
        t.net_pnl_usd = Amount::from_f64(0.5 - 0.2005);
        let mut p = PnlBook::from_setup(&s);
        p.on_trade(&t);
        // the books end with a at 99.00/99.20 (mid 99.10), b at 100.90/101.10 (mid 101.00):
        // long 1 on a is worth −0.90, short 1 on b −0.50 against the fills
        set_book(
            &mut m,
            InstrumentId(0),
            &[(9_900, 10_000)],
            &[(9_920, 10_000)],
            1,
        );
        set_book(
            &mut m,
            InstrumentId(1),
            &[(10_090, 10_000)],
            &[(10_110, 10_000)],
            1,
        );
        let mk = p.mark(&m, &[Bps::from_num(10), Bps::from_num(10)]);
        assert_eq!(mk.trades_net_usd, Amount::from_f64(0.2995).0);
        // −100.00 + 100.50 − 0.2005 + 1 × 99.10 − 1 × 101.00 = −1.6005
        assert_eq!(mk.mark_to_market_usd, Amount::from_f64(-1.6005).0);
        assert_eq!(mk.open.len(), 2);
        // closing: sell 1 on a at 99.00 (0.10 under the mid) + 0.099 fee; buy 1 on b at 101.10
        // (0.10 over) + 0.1011 fee
        assert_eq!(
            mk.flatten_cost_usd,
            Amount::from_f64(0.1 + 0.099 + 0.1 + 0.1011).0
        );
        assert_eq!(
            mk.liquidation_usd,
            mk.mark_to_market_usd - mk.flatten_cost_usd
        );
        assert_eq!(
            (mk.winners, mk.marked_trades),
            (0, 1),
            "a loser once marked"
        );
    }
}
