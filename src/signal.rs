//! The boundary between detection and risk: an [`Opportunity`] (R2.5) with its
//! [`LegPlan`]s, and [`SizeCaps`], what detection may ask of the account when it sizes a
//! trade (the risk gate implements it and re-checks everything on approval). Detection and
//! risk both depend on this module and on [`crate::book`], not on each other.
//!
//! Every strategy hands the gate an [`Opportunity`]; [`Opportunity::strategy`] says which
//! found it and carries what only that strategy has: a spatial pair (R2.1) and a statistical
//! pair's entry or exit (R2.3) trade the two legs `buy` and `sell`; a triangle (R2.2) trades
//! the three legs of its [`CyclePlan`], in cycle order. [`Opportunity::legs`] gives the legs to
//! send whatever the strategy.
#![forbid(unsafe_code)]

use crate::instrument::InstrumentSpec;
use crate::types::{Amount, Bps, InstrumentId, Nanos, Price, Qty, Ratio, Side, VenueId};

/// Balance-derived size limit, supplied by the risk state (read-only here; the gate re-checks).
pub trait SizeCaps {
    /// Free amount (1e-8 units) of the asset a `side` order on `instrument` spends: the quote
    /// asset of a buy, the base asset of a sell (spot). Unlimited unless the account says
    /// otherwise.
    fn free_for(&self, _instrument: InstrumentId, _side: Side) -> Amount {
        Amount(i64::MAX / 4)
    }

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
    /// Which strategy found it, with its own part (R2.2, R2.3).
    pub strategy: Strategy,
}

/// Most legs one opportunity sends (a triangle's three).
pub const MAX_PLAN_LEGS: usize = 3;

impl Opportunity {
    /// The legs to send, in order, and how many there are: `[buy, sell]` for a spatial or a
    /// statistical pair, the cycle's legs for a triangle.
    pub fn legs(&self) -> ([LegPlan; MAX_PLAN_LEGS], usize) {
        match &self.strategy {
            Strategy::Triangle(c) => (c.legs, 3),
            _ => ([self.buy, self.sell, LegPlan::default()], 2),
        }
    }
}

/// The strategy that found an opportunity.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Strategy {
    /// Cross-venue pair (R2.1): buy at one venue's ask, sell at another's bid.
    #[default]
    Spatial,
    /// Triangle on one venue (R2.2): the legs are in the plan; `buy`/`sell` are unused.
    Triangle(CyclePlan),
    /// Statistical pair (R2.3): `buy` and `sell` open or close a spread position.
    Pair(PairPlan),
}

/// A triangle's legs and amounts. Leg `k` turns asset `k` of the cycle into asset `k + 1`
/// (asset 0 = asset 3 = the start asset): a buy spends the instrument's quote and gets its
/// base, a sell the reverse. Taker fees are paid in the instrument's quote asset.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CyclePlan {
    /// Index of the cycle (and direction) in the triangular detector's table.
    pub cycle: u16,
    /// The three legs, in cycle order.
    pub legs: [LegPlan; 3],
    /// Start asset the first leg spends, fee included (1e-8 units of the start asset).
    pub start_amount: Amount,
    /// Start asset the last leg gives back after its fee (1e-8 units).
    pub end_amount: Amount,
    /// USD per unit of the start asset, ×1e8.
    pub start_usd_e8: i64,
    /// Send the legs one after another, each sized from what the one before delivered,
    /// instead of all three at once.
    pub sequential: bool,
}

/// What a statistical pair trade does to its position.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u8)]
pub enum PairAction {
    /// Open a spread position.
    #[default]
    Open = 0,
    /// Close it: |z| back inside the exit band.
    CloseExit,
    /// Close it: held for the maximum holding time.
    CloseTime,
    /// Close it: |z| went past the stop.
    CloseStop,
    /// Close it: the data ended (report-only: the replay's last mark).
    CloseEnd,
}

impl PairAction {
    /// Journal spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PairAction::Open => "open",
            PairAction::CloseExit => "exit_band",
            PairAction::CloseTime => "max_holding_time",
            PairAction::CloseStop => "stop",
            PairAction::CloseEnd => "data_end",
        }
    }
}

/// A statistical pair's entry or exit (R2.3). The spread is `y − hedge_ratio · x`; a long
/// spread buys `y` and sells `x`, a short spread the reverse.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PairPlan {
    /// Position id (1, 2, ... per run).
    pub position: u64,
    /// Open or close (and why).
    pub action: PairAction,
    /// True when the position is long the spread (long `y`, short `x`).
    pub long_spread: bool,
    /// z-score of the spread at the decision, ×1e6.
    pub z_e6: i64,
    /// Hedge ratio in force, ×1e8.
    pub hedge_e8: i64,
    /// `y` instrument.
    pub y: InstrumentId,
    /// `x` instrument.
    pub x: InstrumentId,
    /// When the position was opened (data time; the decision time for an open).
    pub entry_ns: Nanos,
    /// z-score at entry, ×1e6.
    pub entry_z_e6: i64,
    /// The position before this trade: Σ sell − Σ buy quote of its earlier trades (1e-8 USD).
    pub cash: Amount,
    /// Fees of its earlier trades (1e-8 USD).
    pub fees: Amount,
    /// Gross PnL its earlier trades' records already carry (1e-8 USD).
    pub attributed: Amount,
    /// Signed base held in `y` / `x` before this trade (1e-8 base units).
    pub held: [Amount; 2],
    /// Last prices of `y` / `x`, quote per base unit ×1e8 (the marks for a leg that does not
    /// fill now).
    pub marks_e8: [i64; 2],
    /// One lot of `y` / `x` in base units (1e-8): less than a lot held is flat.
    pub lots: [Amount; 2],
}
