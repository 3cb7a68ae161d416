//! The boundary between detection and risk: an [`Opportunity`] (R2.5) with its two
//! [`LegPlan`]s, and [`SizeCaps`], what detection may ask of the account when it sizes a
//! trade (the risk gate implements it and re-checks everything on approval). Detection and
//! risk both depend on this module and on [`crate::book`], not on each other.
#![forbid(unsafe_code)]

use crate::instrument::InstrumentSpec;
use crate::types::{Amount, Bps, InstrumentId, Nanos, Price, Qty, Ratio, Side, VenueId};

/// Balance-derived size limit, supplied by the risk state (read-only here; the gate re-checks).
pub trait SizeCaps {
    /// Largest base amount (1e-8 units) the free balances allow for buying `buy` at `buy_px`
    /// and selling `sell` at `sell_px`.
    fn cap_base(
        &self,
        buy: &InstrumentSpec,
        buy_px: Price,
        sell: &InstrumentSpec,
        sell_px: Price,
    ) -> Amount;
}

/// No balance limit (tests).
pub struct Unlimited;
impl SizeCaps for Unlimited {
    fn cap_base(&self, _: &InstrumentSpec, _: Price, _: &InstrumentSpec, _: Price) -> Amount {
        Amount(i64::MAX / 4)
    }
}

/// One side of an opportunity.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LegPlan {
    /// Venue.
    pub venue: VenueId,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Side of our order.
    pub side: Side,
    /// Best price on that side when detected (ask for a buy, bid for a sell).
    pub top_px: Price,
    /// Limit price: the worst level the size walks to.
    pub limit_px: Price,
    /// Order quantity, native units, lot-aligned.
    pub qty: Qty,
    /// Base amount of `qty` at the expected fill prices (1e-8 base units).
    pub base: Amount,
    /// Expected quote notional (1e-8 quote units).
    pub quote: Amount,
    /// Expected fee (1e-8 quote units).
    pub fee: Amount,
    /// Age of the book at detection, ns.
    pub book_age_ns: u64,
    /// Exchange update id of the book (ticker or depth, whichever is newer).
    pub book_seq: u64,
    /// Message index of the last update applied to the book.
    pub book_msg_seq: u64,
}

/// An opportunity that passed the thresholds (R2.5).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Opportunity {
    /// Sequential id.
    pub id: u64,
    /// Group index (asset).
    pub group: u16,
    /// Detection time: receive time of the message that triggered it, ns since the epoch.
    pub detected_ns: Nanos,
    /// Index of that message.
    pub trigger_msg_seq: u64,
    /// Buy leg (at the ask of one venue).
    pub buy: LegPlan,
    /// Sell leg (at the bid of another).
    pub sell: LegPlan,
    /// Top-of-book gross spread, bps: `bid_sell / ask_buy - 1`.
    pub gross_spread_bps: Bps,
    /// Net spread of the sized trade after both taker fees, bps of the buy notional.
    pub net_spread_bps: Bps,
    /// Expected gross profit, 1e-8 USD.
    pub expected_gross_usd: Amount,
    /// Expected fees, 1e-8 USD.
    pub expected_fees_usd: Amount,
    /// Expected net profit, 1e-8 USD.
    pub expected_profit_usd: Amount,
    /// Depth at the quoted prices: the smaller of the two top levels, 1e-8 USD.
    pub depth_usd: Amount,
    /// Liquidity available within both limit prices, base 1e-8 units.
    pub available_base: Amount,
    /// Confidence 0–1 (R2.6).
    pub confidence: Ratio,
    /// `quanta` stamp when the triggering message was handed to the feed code.
    pub handoff_tsc: u64,
    /// `quanta` stamp when the opportunity was created.
    pub signal_tsc: u64,
}
