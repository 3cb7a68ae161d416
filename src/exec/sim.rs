//! Fill simulator (R3.6): fills an order against the venue's book as it stands when the order
//! would reach the venue (send time + the venue's configured latency), walking levels, with
//! the venue's taker fee.
//!
//! It runs on the detection thread, which owns the books: an order that arrives at time T is
//! filled after every message received at or before T has been applied and before the first
//! message received after T. (A copy of the books on the execution thread would double the
//! ring traffic.) In replay the detection thread also waits for the execution thread before it
//! lets data time pass an order's arrival, so runs are deterministic.
//!
//! Latency model (hftbacktest's split): an order sent at data time `t` reaches the venue at
//! `t + order_latency_ns` (venue clock); the venue's book at that moment is what the engine
//! receives `feed_latency_ns` later, so the order fills against the book as received at
//! `t + order_latency_ns + feed_latency_ns`, and its result is known at
//! `t + 2 × order_latency_ns` (the answer travels back as the order came). Both latencies are
//! per venue, from the config.
//!
//! Matching ([`super::matching`], shared with the loopback exchange): a limit IOC buy fills at
//! prices ≤ its limit (sell ≥); a market order walks up to `unwind_max_slippage_bps` from the
//! best price; every level within the limit is taken (the journal keeps the first ones and
//! merges the rest), less what our own earlier orders already took there. A venue whose book
//! is not valid on arrival fills nothing (status `no_book`): we cannot know what the venue
//! would have done. An order that would reach its venue after its trade's execution window
//! (`execution.window_ns` from the send) is cancelled at the deadline and fills nothing.
#![forbid(unsafe_code)]

use super::matching::{self, Consumption};
use crate::book::Market;
use crate::journal::{LegFill, LegStatus};
use crate::types::{apply_bps, Bps, InstrumentId, Nanos, Price, Qty, Side, VenueId};

/// An order as the simulated venue receives it.
#[derive(Clone, Copy, Debug, Default)]
pub struct SimOrder {
    /// Trade id.
    pub trade_id: u64,
    /// Execution slot.
    pub slot: u8,
    /// Leg index: 0 buy, 1 sell, 2 unwind (triangles: 0–2 the cycle's legs, 3–4 closing
    /// orders).
    pub leg: u8,
    /// A closing order (one-leg policy), not a planned leg.
    pub unwind: bool,
    /// Venue.
    pub venue: VenueId,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Side.
    pub side: Side,
    /// Market order (walks up to the slippage limit) instead of limit IOC.
    pub market: bool,
    /// Limit price (limit IOC).
    pub limit_px: Price,
    /// Quantity.
    pub qty: Qty,
    /// Data time the order was sent.
    pub send_ns: Nanos,
    /// Data time it reaches the venue (`send + order_latency_ns`).
    pub arrival_ns: Nanos,
    /// Data time at which the engine's books show the venue as it was at `arrival_ns`
    /// (`arrival + feed_latency_ns`): the order is matched then.
    pub view_ns: Nanos,
    /// End of the trade's execution window: an order not at its venue by then is cancelled.
    pub deadline_ns: Nanos,
}

/// The venue's answer.
#[derive(Clone, Copy, Debug, Default)]
pub struct SimFill {
    /// Trade id.
    pub trade_id: u64,
    /// Execution slot.
    pub slot: u8,
    /// Leg index.
    pub leg: u8,
    /// What filled.
    pub fill: LegFill,
}

/// Pending simulated orders, the fee/latency table and our own liquidity consumption.
pub struct FillSim {
    pending: Vec<SimOrder>,
    /// Taker fee by instrument id (the venue's fee for the instrument's kind).
    fee: Vec<Bps>,
    /// One-way order latency by venue id, ns.
    order_latency: Vec<u64>,
    slippage: Bps,
    /// Liquidity our simulated orders took, per level.
    pub consumed: Consumption,
    /// Orders filled (fully or partly).
    pub filled: u64,
    /// Orders that found no valid book.
    pub no_book: u64,
    /// Orders cancelled at their trade's execution window before reaching the venue.
    pub window_cancelled: u64,
    /// Orders cancelled by the kill switch or a stop.
    pub stop_cancelled: u64,
}

impl FillSim {
    /// Capacity for `max_orders` pending orders; `fee` = taker fee by instrument id
    /// ([`crate::config::Setup::taker_fees_by_instrument`]), `order_latency` = one-way order
    /// latency by venue id (the answer comes back as fast).
    pub fn new(
        fee: Vec<Bps>,
        order_latency: Vec<u64>,
        slippage: Bps,
        max_orders: usize,
    ) -> FillSim {
        FillSim {
            pending: Vec::with_capacity(max_orders),
            fee,
            order_latency,
            slippage,
            consumed: Consumption::new(1024),
            filled: 0,
            no_book: 0,
            window_cancelled: 0,
            stop_cancelled: 0,
        }
    }

    /// Queue an order (kept sorted by `view_ns`; ties in the order of `add`).
    pub fn add(&mut self, o: SimOrder) {
        let pos = self
            .pending
            .iter()
            .position(|p| p.view_ns > o.view_ns)
            .unwrap_or(self.pending.len());
        // capacity is 3 orders per execution slot, allocated at start
        self.pending.insert(pos, o);
    }

    /// Earliest pending match time (`view_ns`).
    pub fn next_due(&self) -> Option<Nanos> {
        self.pending.first().map(|o| o.view_ns)
    }

    /// Orders waiting.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Match every order due before `before_ns` against the current books.
    pub fn run_due(&mut self, before_ns: Nanos, m: &Market, out: &mut impl FnMut(SimFill)) {
        while let Some(o) = self.pending.first().copied() {
            if o.view_ns >= before_ns {
                break;
            }
            self.pending.remove(0);
            let fill = self.execute(&o, m);
            out(SimFill {
                trade_id: o.trade_id,
                slot: o.slot,
                leg: o.leg,
                fill,
            });
        }
    }

    /// The data ended: every pending order gets `DataEnded` and fills nothing.
    pub fn end_of_data(&mut self, out: &mut impl FnMut(SimFill)) {
        for o in self.pending.drain(..) {
            let mut fill = blank(&o);
            fill.status = LegStatus::DataEnded;
            fill.known_ns = o.arrival_ns;
            out(SimFill {
                trade_id: o.trade_id,
                slot: o.slot,
                leg: o.leg,
                fill,
            });
        }
    }

    /// The kill switch or a stop (SIGTERM) cancels every order still on its way: each is
    /// answered `stop_cancelled` (nothing filled), known one order latency after `now`.
    ///
    /// This is the simulated side of `ToExec::CancelAll` and an optimistic one: it treats the
    /// cancel as if it overtook the order. A real venue matches an IOC order the moment it
    /// arrives, before a cancel sent later can reach it, so live the kill switch can only
    /// cancel orders that rest on the book.
    pub fn cancel_all(&mut self, now: Nanos, out: &mut impl FnMut(SimFill)) {
        for o in self.pending.drain(..) {
            let mut fill = blank(&o);
            fill.status = LegStatus::StopCancelled;
            let back = self.order_latency.get(o.venue.idx()).copied().unwrap_or(0);
            fill.known_ns = now.max(o.send_ns) + back;
            self.stop_cancelled += 1;
            out(SimFill {
                trade_id: o.trade_id,
                slot: o.slot,
                leg: o.leg,
                fill,
            });
        }
    }

    /// Fill one order against the book now.
    pub fn execute(&mut self, o: &SimOrder, m: &Market) -> LegFill {
        let mut f = blank(o);
        let back = self.order_latency.get(o.venue.idx()).copied().unwrap_or(0);
        f.known_ns = o.arrival_ns + back;
        if o.arrival_ns > o.deadline_ns {
            // cancelled at the deadline: the cancel is known one way-trip after it
            f.status = LegStatus::Cancelled;
            f.known_ns = o.deadline_ns + back;
            self.window_cancelled += 1;
            return f;
        }
        let book = &m.books[o.instrument.idx()];
        if !book.valid || !m.venue_up[o.venue.idx()] {
            f.status = LegStatus::NoBook;
            self.no_book += 1;
            return f;
        }
        f.book_msg_seq = m.last_msg_seq[o.instrument.idx()];
        let spec = &m.specs[o.instrument.idx()];
        let limit = if o.market {
            let best = match o.side {
                Side::Buy => book.best_ask(),
                Side::Sell => book.best_bid(),
            };
            let Some((bp, _)) = best else {
                f.status = LegStatus::Unfilled;
                return f;
            };
            let d = ((bp.0 as i128 * self.slippage.to_bits() as i128) >> 32) / 10_000;
            match o.side {
                Side::Buy => Price(bp.0 + d as i64),
                Side::Sell => Price(bp.0 - d as i64),
            }
        } else {
            o.limit_px
        };
        f.limit_px = limit;
        let r = matching::take(
            book,
            spec,
            o.side,
            limit,
            o.qty,
            &mut self.consumed,
            o.view_ns,
        );
        f.fills = r.fills;
        f.n_fills = r.n_fills;
        f.merged_levels = r.merged_levels;
        f.filled_qty = r.filled;
        f.quote = r.quote;
        f.base = r.base;
        f.fee = apply_bps(f.quote, self.fee[o.instrument.idx()]);
        // the simulated venue charges the fee in the quote asset
        f.fee_native = f.fee;
        f.status = if r.filled == o.qty {
            LegStatus::Filled
        } else if f.filled_qty.0 > 0 {
            LegStatus::Partial
        } else {
            LegStatus::Unfilled
        };
        if f.filled_qty.0 > 0 {
            self.filled += 1;
        }
        f
    }
}

fn blank(o: &SimOrder) -> LegFill {
    LegFill {
        venue: o.venue,
        instrument: o.instrument,
        side: o.side,
        unwind: o.unwind,
        order_qty: o.qty,
        limit_px: o.limit_px,
        arrival_ns: o.arrival_ns,
        view_ns: o.view_ns,
        ..LegFill::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{set_book, two_venue_setup};
    use crate::types::Amount;

    fn sim() -> FillSim {
        FillSim::new(
            vec![Bps::from_num(10), Bps::from_num(10)],
            vec![1_000_000, 1_000_000],
            Bps::from_num(50),
            8,
        )
    }

    fn order(side: Side, qty: i64, limit: i64, arrival: u64) -> SimOrder {
        SimOrder {
            trade_id: 1,
            venue: VenueId(0),
            instrument: InstrumentId(0),
            side,
            limit_px: Price(limit),
            qty: Qty(qty),
            arrival_ns: arrival,
            view_ns: arrival,
            deadline_ns: u64::MAX,
            ..SimOrder::default()
        }
    }

    fn market() -> Market {
        let s = two_venue_setup(10.0, 10.0, "");
        let mut m = Market::new(&s);
        // asks 1.000 @ 100.00, 2.000 @ 100.10, 5.000 @ 100.50; bids 1.000 @ 99.90, 3.000 @ 99.80
        set_book(
            &mut m,
            InstrumentId(0),
            &[(9_990, 1_000), (9_980, 3_000)],
            &[(10_000, 1_000), (10_010, 2_000), (10_050, 5_000)],
            1,
        );
        m
    }

    #[test]
    fn ioc_walks_levels_up_to_its_limit() {
        let m = market();
        let mut s = sim();
        // buy 2.5 limit 100.10: 1 @ 100.00 + 1.5 @ 100.10
        let f = s.execute(&order(Side::Buy, 2_500, 10_010, 5), &m);
        assert_eq!(f.status, LegStatus::Filled);
        assert_eq!(
            &f.fills[..f.n_fills as usize],
            &[(Price(10_000), Qty(1_000)), (Price(10_010), Qty(1_500))]
        );
        assert_eq!(f.quote, Amount::from_f64(100.0 + 150.15));
        assert_eq!(f.fee, Amount::from_f64(0.25015));
        assert_eq!(f.known_ns, 5 + 1_000_000);
        // buy 5 limit 100.10 on a fresh venue: only 3 within the limit → partial, rest expires
        let f = sim().execute(&order(Side::Buy, 5_000, 10_010, 5), &m);
        assert_eq!(f.status, LegStatus::Partial);
        assert_eq!(f.filled_qty, Qty(3_000));
        // the same order after the first one (same book): what the first took is gone
        let f = s.execute(&order(Side::Buy, 5_000, 10_010, 5), &m);
        assert_eq!(f.filled_qty, Qty(500));
        assert_eq!(s.consumed.bound_orders, 1);
        // sell limit above the bid: nothing
        let f = s.execute(&order(Side::Sell, 1_000, 9_995, 5), &m);
        assert_eq!(f.status, LegStatus::Unfilled);
        assert_eq!(f.n_fills, 0);
    }

    #[test]
    fn market_order_stops_at_the_slippage_limit() {
        let m = market();
        let mut s = sim(); // 50 bps from 100.00 → up to 100.50
        let mut o = order(Side::Buy, 10_000, 0, 5);
        o.market = true;
        let f = s.execute(&o, &m);
        assert_eq!(f.limit_px, Price(10_050));
        assert_eq!(f.filled_qty, Qty(8_000));
        assert_eq!(f.status, LegStatus::Partial);
    }

    #[test]
    fn an_order_arriving_after_the_window_is_cancelled() {
        let m = market();
        let mut s = sim();
        let mut o = order(Side::Buy, 1_000, 10_010, 5);
        o.send_ns = 0;
        o.deadline_ns = 4; // the window closes before the order reaches the venue at 5
        let f = s.execute(&o, &m);
        assert_eq!((f.status, f.filled_qty), (LegStatus::Cancelled, Qty(0)));
        assert_eq!(f.known_ns, 4 + 1_000_000);
        assert_eq!(s.window_cancelled, 1);
    }

    #[test]
    fn invalid_book_fills_nothing() {
        let mut m = market();
        m.books[0].invalidate();
        let f = sim().execute(&order(Side::Buy, 1_000, 10_010, 5), &m);
        assert_eq!(f.status, LegStatus::NoBook);
        assert_eq!(f.filled_qty, Qty(0));
    }

    #[test]
    fn orders_fire_in_arrival_order_before_the_next_message() {
        let m = market();
        let mut s = sim();
        s.add(order(Side::Buy, 1_000, 10_010, 30));
        s.add(order(Side::Sell, 1_000, 9_990, 10));
        s.add(order(Side::Buy, 1_000, 10_010, 20));
        assert_eq!(s.next_due(), Some(10));
        let mut got = vec![];
        s.run_due(25, &m, &mut |f| got.push(f.fill.arrival_ns));
        assert_eq!(
            got,
            vec![10, 20],
            "arrivals before the next message's time, in order"
        );
        assert_eq!(s.pending(), 1);
        s.end_of_data(&mut |f| {
            assert_eq!(f.fill.status, LegStatus::DataEnded);
            got.push(f.fill.arrival_ns)
        });
        assert_eq!(got, vec![10, 20, 30]);
    }

    #[test]
    fn a_stop_cancels_every_order_still_on_its_way() {
        let mut s = sim();
        s.add(order(Side::Buy, 1_000, 10_010, 30));
        s.add(order(Side::Sell, 1_000, 9_990, 10));
        let mut got = vec![];
        s.cancel_all(5, &mut |f| {
            got.push((f.fill.status, f.fill.filled_qty, f.fill.known_ns))
        });
        assert_eq!(
            got,
            vec![
                (LegStatus::StopCancelled, Qty(0), 5 + 1_000_000),
                (LegStatus::StopCancelled, Qty(0), 5 + 1_000_000)
            ]
        );
        assert_eq!((s.pending(), s.stop_cancelled), (0, 2));
    }
}
