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
//! Limits: a limit IOC buy fills at prices ≤ its limit (sell ≥); a market order walks up to
//! `unwind_max_slippage_bps` from the best price. At most [`MAX_FILLS`] levels are taken; what
//! is left expires like an IOC. A venue whose book is not valid on arrival fills nothing
//! (status `no_book`): we cannot know what the venue would have done.
#![forbid(unsafe_code)]

use crate::detect::Market;
use crate::journal::{LegFill, LegStatus, MAX_FILLS};
use crate::types::{apply_bps, Amount, Bps, InstrumentId, Nanos, Price, Qty, Side, VenueId};

/// An order as the simulated venue receives it.
#[derive(Clone, Copy, Debug, Default)]
pub struct SimOrder {
    /// Trade id.
    pub trade_id: u64,
    /// Execution slot.
    pub slot: u8,
    /// Leg index: 0 buy, 1 sell, 2 unwind.
    pub leg: u8,
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
    /// Data time it reaches the venue.
    pub arrival_ns: Nanos,
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

/// Pending simulated orders and the fee/latency table.
pub struct FillSim {
    pending: Vec<SimOrder>,
    /// Taker fee by instrument id (the venue's fee for the instrument's kind).
    fee: Vec<Bps>,
    latency: Vec<u64>,
    slippage: Bps,
    /// Orders filled (fully or partly).
    pub filled: u64,
    /// Orders that found no valid book.
    pub no_book: u64,
}

impl FillSim {
    /// Capacity for `max_orders` pending orders; `fee` = taker fee by instrument id
    /// ([`crate::config::Setup::taker_fees_by_instrument`]), `latency` = one-way order latency
    /// by venue id.
    pub fn new(fee: Vec<Bps>, latency: Vec<u64>, slippage: Bps, max_orders: usize) -> FillSim {
        FillSim {
            pending: Vec::with_capacity(max_orders),
            fee,
            latency,
            slippage,
            filled: 0,
            no_book: 0,
        }
    }

    /// Queue an order (kept sorted by arrival; ties in arrival order of `add`).
    pub fn add(&mut self, o: SimOrder) {
        let pos = self
            .pending
            .iter()
            .position(|p| p.arrival_ns > o.arrival_ns)
            .unwrap_or(self.pending.len());
        // capacity is 3 orders per execution slot, allocated at start
        self.pending.insert(pos, o);
    }

    /// Earliest pending arrival.
    pub fn next_due(&self) -> Option<Nanos> {
        self.pending.first().map(|o| o.arrival_ns)
    }

    /// Orders waiting.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Fill every order that arrives before `before_ns` against the current books.
    pub fn run_due(&mut self, before_ns: Nanos, m: &Market, out: &mut impl FnMut(SimFill)) {
        while let Some(o) = self.pending.first().copied() {
            if o.arrival_ns >= before_ns {
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

    /// Fill one order against the book now.
    pub fn execute(&mut self, o: &SimOrder, m: &Market) -> LegFill {
        let mut f = blank(o);
        f.known_ns = o.arrival_ns + self.latency.get(o.venue.idx()).copied().unwrap_or(0);
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
        let taker = o.side;
        let mut rem = o.qty.0;
        let (mut quote, mut base, mut n) = (0i64, 0i64, 0usize);
        book.walk(taker, |px, q| {
            let ok = match taker {
                Side::Buy => px <= limit,
                Side::Sell => px >= limit,
            };
            if !ok || n == MAX_FILLS {
                return false;
            }
            let t = rem.min(q.0);
            f.fills[n] = (px, Qty(t));
            n += 1;
            quote += spec.quote_amount(Qty(t), px).0;
            base += spec.base_amount(Qty(t), px).0;
            rem -= t;
            rem > 0
        });
        f.n_fills = n as u8;
        f.filled_qty = Qty(o.qty.0 - rem);
        f.quote = Amount(quote);
        f.base = Amount(base);
        f.fee = apply_bps(f.quote, self.fee[o.instrument.idx()]);
        f.status = if rem == 0 {
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
        unwind: o.leg == 2,
        order_qty: o.qty,
        limit_px: o.limit_px,
        arrival_ns: o.arrival_ns,
        ..LegFill::default()
    }
}
