//! The matching model shared by the fill simulator (replay, paper) and the loopback exchange
//! (tests of live order entry): a taker order walks the book it meets, best level first, up
//! to its limit, and takes what is displayed there **minus what our own earlier orders already
//! took at that level**.
//!
//! Own-liquidity consumption (the question nautilus_trader's `liquidity_consumption` and
//! hftbacktest's queue models answer): when we take `t` of the `shown` quantity displayed at a
//! price, we remember `(instrument, book side, price, shown, taken)`. A later order sees
//! `shown − taken` at that price **as long as the venue's book still shows `shown` there**:
//! the venue has not published that level since our fill, so what it displays still includes
//! what we took. As soon as the venue's feed shows another quantity at that price (an update
//! for that level, or the level gone), its number is the venue's truth after our fill and the
//! record is dropped. The rule errs towards caution in one case: a level that changed and
//! changed back to the very same quantity still counts as consumed.
//!
//! Records live in a fixed array (no allocation); when it is full the oldest record is
//! forgotten (counted).
#![forbid(unsafe_code)]

use crate::book::L2Book;
use crate::instrument::InstrumentSpec;
use crate::journal::MAX_FILLS;
use crate::types::{Amount, InstrumentId, Nanos, Price, Qty, Side};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Taken {
    instrument: InstrumentId,
    /// Side of the *taker* (a buy takes asks).
    taker: Side,
    px: Price,
    /// Quantity the book displayed at `px` when we took from it.
    shown: Qty,
    /// What we took there since.
    taken: Qty,
    /// Data time of the last take (for the oldest-first eviction).
    at_ns: Nanos,
}

/// Our own consumption of displayed liquidity.
#[derive(Clone, Debug)]
pub struct Consumption {
    recs: Vec<Taken>,
    cap: usize,
    /// Orders whose fill was smaller because of liquidity we had already taken.
    pub bound_orders: u64,
    /// Base amount (1e-8 base units, summed over instruments) we could not take because we
    /// had already taken it.
    pub bound_base: i64,
    /// Records dropped because the venue published a new quantity at their level.
    pub refreshed: u64,
    /// Records forgotten because the array was full (oldest first).
    pub evicted: u64,
}

impl Consumption {
    /// Room for `cap` remembered levels (allocated now, never grown).
    pub fn new(cap: usize) -> Consumption {
        Consumption {
            recs: Vec::with_capacity(cap.max(1)),
            cap: cap.max(1),
            bound_orders: 0,
            bound_base: 0,
            refreshed: 0,
            evicted: 0,
        }
    }

    /// Levels currently remembered.
    pub fn len(&self) -> usize {
        self.recs.len()
    }

    /// True if nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.recs.is_empty()
    }

    /// What is left for us at `px` where the book shows `shown` (and forget a record the
    /// venue has since refreshed).
    fn available(&mut self, i: InstrumentId, taker: Side, px: Price, shown: Qty) -> Qty {
        let Some(k) = self
            .recs
            .iter()
            .position(|r| r.instrument == i && r.taker == taker && r.px == px)
        else {
            return shown;
        };
        let r = self.recs[k];
        if r.shown != shown {
            self.recs.swap_remove(k);
            self.refreshed += 1;
            return shown;
        }
        Qty((shown.0 - r.taken.0).max(0))
    }

    fn record(&mut self, i: InstrumentId, taker: Side, px: Price, shown: Qty, t: Qty, now: Nanos) {
        if let Some(r) = self
            .recs
            .iter_mut()
            .find(|r| r.instrument == i && r.taker == taker && r.px == px)
        {
            r.taken.0 += t.0;
            r.at_ns = now;
            return;
        }
        if self.recs.len() == self.cap {
            let oldest = self
                .recs
                .iter()
                .enumerate()
                .min_by_key(|(_, r)| r.at_ns)
                .map(|(k, _)| k)
                .unwrap_or(0);
            self.recs.swap_remove(oldest);
            self.evicted += 1;
        }
        self.recs.push(Taken {
            instrument: i,
            taker,
            px,
            shown,
            taken: t,
            at_ns: now,
        });
    }
}

/// What a taker order got from one book.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Matched {
    /// Native quantity filled.
    pub filled: Qty,
    /// Quote notional, 1e-8 quote units.
    pub quote: Amount,
    /// Base amount, 1e-8 base units.
    pub base: Amount,
    /// Levels taken: (price, quantity), best first; levels beyond [`MAX_FILLS`] − 1 are
    /// merged into the last entry (its price is the worst price reached).
    pub fills: [(Price, Qty); MAX_FILLS],
    /// Entries used in `fills`.
    pub n_fills: u8,
    /// Levels merged into the last entry (0 when every level has its own entry).
    pub merged_levels: u16,
}

/// Match a taker order of `qty` on `taker` side with limit `limit` (a buy fills at prices
/// ≤ limit, a sell ≥) against `book`, taking our own earlier consumption into account and
/// recording this one. `now` is the data time (for eviction order).
#[allow(clippy::too_many_arguments)]
pub fn take(
    book: &L2Book,
    spec: &InstrumentSpec,
    taker: Side,
    limit: Price,
    qty: Qty,
    consumed: &mut Consumption,
    now: Nanos,
) -> Matched {
    let mut m = Matched::default();
    let filled = take_each(book, spec, taker, limit, qty, consumed, now, |px, t| {
        if (m.n_fills as usize) < MAX_FILLS {
            m.fills[m.n_fills as usize] = (px, t);
            m.n_fills += 1;
        } else {
            let last = &mut m.fills[MAX_FILLS - 1];
            *last = (px, Qty(last.1 .0 + t.0));
            m.merged_levels += 1;
        }
        m.quote.0 += spec.quote_amount(t, px).0;
        m.base.0 += spec.base_amount(t, px).0;
    });
    m.filled = filled;
    m
}

/// [`take`] with every level taken handed to `on_fill(price, quantity)`, best first, instead
/// of a fixed-size summary (the loopback exchange reports each level as its own trade).
/// Same walk, same consumption rule, same records; returns the quantity filled.
#[allow(clippy::too_many_arguments)]
pub fn take_each(
    book: &L2Book,
    spec: &InstrumentSpec,
    taker: Side,
    limit: Price,
    qty: Qty,
    consumed: &mut Consumption,
    now: Nanos,
    mut on_fill: impl FnMut(Price, Qty),
) -> Qty {
    let mut rem = qty.0;
    let mut bound = 0i64;
    let i = spec.id;
    // levels are visited first, recorded after (the walk borrows the book immutably)
    let mut taken: [(Price, Qty, Qty); 64] = [(Price(0), Qty(0), Qty(0)); 64];
    let mut n_taken = 0usize;
    book.walk(taker, |px, shown| {
        let ok = match taker {
            Side::Buy => px <= limit,
            Side::Sell => px >= limit,
        };
        if !ok {
            return false;
        }
        let avail = consumed.available(i, taker, px, shown);
        let want = rem.min(shown.0);
        let t = rem.min(avail.0);
        if want > t {
            bound += spec.base_amount(Qty(want - t), px).0;
        }
        if t > 0 {
            on_fill(px, Qty(t));
            rem -= t;
            if n_taken < taken.len() {
                taken[n_taken] = (px, shown, Qty(t));
                n_taken += 1;
            } else {
                // beyond 64 levels in one order: record it at once (consumption stays exact)
                consumed.record(i, taker, px, shown, Qty(t), now);
            }
        }
        rem > 0
    });
    for &(px, shown, t) in &taken[..n_taken] {
        consumed.record(i, taker, px, shown, t, now);
    }
    if bound > 0 {
        consumed.bound_orders += 1;
        consumed.bound_base += bound;
    }
    Qty(qty.0 - rem)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::Level;
    use crate::types::Amount;

    fn book() -> (L2Book, InstrumentSpec) {
        let s = crate::testkit::two_venue_setup(10.0, 10.0, "");
        let spec = s.instruments[0].clone();
        let mut b = L2Book::new(16);
        for (px, q) in [(10_000, 1_000), (10_010, 2_000)] {
            b.asks
                .set(Level {
                    px,
                    qty: q,
                    px_frac: 2,
                    qty_frac: 3,
                })
                .unwrap();
        }
        b.bids
            .set(Level {
                px: 9_990,
                qty: 1_000,
                px_frac: 2,
                qty_frac: 3,
            })
            .unwrap();
        b.commit(1, 1, true).unwrap();
        (b, spec)
    }

    #[test]
    fn a_second_order_does_not_take_what_the_first_took() {
        let (b, spec) = book();
        let mut c = Consumption::new(8);
        // first: 1.5 of 1.0 @ 100.00 + 2.0 @ 100.10 → 1.0 + 0.5
        let m = take(&b, &spec, Side::Buy, Price(10_010), Qty(1_500), &mut c, 1);
        assert_eq!(m.filled, Qty(1_500));
        assert_eq!(
            &m.fills[..2],
            &[(Price(10_000), Qty(1_000)), (Price(10_010), Qty(500))]
        );
        // second, same book: 100.00 is used up, 1.5 left at 100.10
        let m = take(&b, &spec, Side::Buy, Price(10_010), Qty(3_000), &mut c, 2);
        assert_eq!(m.filled, Qty(1_500));
        assert_eq!(&m.fills[..1], &[(Price(10_010), Qty(1_500))]);
        assert_eq!(c.bound_orders, 1);
        assert_eq!(
            c.bound_base,
            Amount::from_f64(1.5).0,
            "1.0 at 100.00 and 0.5 at 100.10 were ours"
        );
        // the other side is untouched
        let m = take(&b, &spec, Side::Sell, Price(9_990), Qty(1_000), &mut c, 3);
        assert_eq!(m.filled, Qty(1_000));
    }

    #[test]
    fn the_venue_publishing_a_level_again_resets_it() {
        let (mut b, spec) = book();
        let mut c = Consumption::new(8);
        take(&b, &spec, Side::Buy, Price(10_000), Qty(1_000), &mut c, 1);
        assert_eq!(
            take(&b, &spec, Side::Buy, Price(10_000), Qty(1_000), &mut c, 2).filled,
            Qty(0)
        );
        // the venue now shows 0.7 at 100.00: its number, not ours
        b.asks
            .set(Level {
                px: 10_000,
                qty: 700,
                px_frac: 2,
                qty_frac: 3,
            })
            .unwrap();
        let m = take(&b, &spec, Side::Buy, Price(10_000), Qty(1_000), &mut c, 3);
        assert_eq!(m.filled, Qty(700));
        assert_eq!(c.refreshed, 1);
    }

    #[test]
    fn take_each_reports_every_level_like_take() {
        let (b, spec) = book();
        let (mut c1, mut c2) = (Consumption::new(8), Consumption::new(8));
        let m = take(&b, &spec, Side::Buy, Price(10_010), Qty(2_500), &mut c1, 1);
        let mut seen = Vec::new();
        let filled = take_each(
            &b,
            &spec,
            Side::Buy,
            Price(10_010),
            Qty(2_500),
            &mut c2,
            1,
            |p, q| seen.push((p, q)),
        );
        assert_eq!(filled, m.filled);
        assert_eq!(&seen[..], &m.fills[..m.n_fills as usize]);
        // the same records: a second order sees the same remainder through either function
        let a = take(&b, &spec, Side::Buy, Price(10_010), Qty(5_000), &mut c1, 2);
        let n = take_each(
            &b,
            &spec,
            Side::Buy,
            Price(10_010),
            Qty(5_000),
            &mut c2,
            2,
            |_, _| {},
        );
        assert_eq!((a.filled, n), (Qty(500), Qty(500)));
        assert_eq!(c1.bound_base, c2.bound_base);
    }

    #[test]
    fn levels_beyond_the_journal_entries_are_merged_not_dropped() {
        let s = crate::testkit::two_venue_setup(10.0, 10.0, "");
        let spec = s.instruments[0].clone();
        let mut b = L2Book::new(64);
        for k in 0..20 {
            b.asks
                .set(Level {
                    px: 10_000 + k,
                    qty: 100,
                    px_frac: 2,
                    qty_frac: 3,
                })
                .unwrap();
        }
        b.commit(1, 1, true).unwrap();
        let mut c = Consumption::new(64);
        let m = take(&b, &spec, Side::Buy, Price(20_000), Qty(2_000), &mut c, 1);
        assert_eq!(m.filled, Qty(2_000), "all 20 levels");
        assert_eq!(m.n_fills as usize, MAX_FILLS);
        assert_eq!(m.merged_levels, 20 - MAX_FILLS as u16);
        assert_eq!(m.fills[MAX_FILLS - 1], (Price(10_019), Qty(100 * 9)));
        let q: i64 = m.fills.iter().map(|f| f.1 .0).sum();
        assert_eq!(q, 2_000);
    }
}
