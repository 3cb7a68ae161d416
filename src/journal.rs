//! Fixed-size records that hot threads hand to the cold thread through SPSC rings: log
//! lines, signals (every opportunity that passed the thresholds, R6.3) and finished trades.
//! The cold thread turns them into text and JSON; nothing on the hot path formats text.
#![forbid(unsafe_code)]

use crate::types::{Amount, InstrumentId, Nanos, Price, Qty, Side, VenueId};

pub use crate::signal::{LegPlan, Opportunity};

/// What a log record is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum LogCode {
    /// Free-form: `text` holds the message.
    #[default]
    Note = 0,
    /// A raw message could not be parsed (`text` = its first bytes).
    ParseError,
    /// A book became synced (`a` = update id).
    BookSynced,
    /// A book became invalid (`a` = [`crate::event::InvalidReason`] or 100 + book error).
    BookInvalid,
    /// A venue connection went down (`a` = 0) or up (`a` = 1).
    VenueStatus,
    /// A checksum did not match (`a` = expected, `b` = computed).
    ChecksumMismatch,
    /// A feed reached the end of its input.
    FeedEnd,
    /// A trade finished (`a` = trade id, `b` = net PnL in 1e-8 USD).
    TradeDone,
    /// A venue crossed the bad-data limit (`a` = parse errors, `b` = messages of the window);
    /// the logger writes the cause ([`crate::health::message`]).
    BadData,
    /// A live feed thread waited `a` ms for room in its ring to detection, past
    /// `threads.stall_resync_ns`, and reconnected the venue so its books resync
    /// ([`crate::feed`]).
    StallReconnect,
}

/// Severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum Severity {
    /// Normal operation.
    #[default]
    Info = 0,
    /// Something was skipped or invalidated.
    Warn = 1,
    /// Needs attention.
    Error = 2,
}

/// A log line as a fixed-size record.
#[derive(Clone, Copy, Debug)]
pub struct LogRecord {
    /// Data time (receive time of the message that caused it), ns since the epoch.
    pub ts_ns: Nanos,
    /// Severity.
    pub severity: Severity,
    /// Kind.
    pub code: LogCode,
    /// Venue.
    pub venue: VenueId,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Code-specific value.
    pub a: i64,
    /// Code-specific value.
    pub b: i64,
    /// Message index (replay merge order).
    pub msg_seq: u64,
    /// Up to 64 bytes of text (message prefix, note).
    pub text: [u8; 64],
    /// Bytes used in `text`.
    pub text_len: u8,
}

impl Default for LogRecord {
    fn default() -> LogRecord {
        LogRecord {
            ts_ns: 0,
            severity: Severity::Info,
            code: LogCode::Note,
            venue: VenueId(0),
            instrument: InstrumentId(0),
            a: 0,
            b: 0,
            msg_seq: 0,
            text: [0; 64],
            text_len: 0,
        }
    }
}

impl LogRecord {
    /// A record with `text` truncated to 64 bytes.
    pub fn with_text(mut self, t: &[u8]) -> LogRecord {
        let n = t.len().min(64);
        self.text[..n].copy_from_slice(&t[..n]);
        self.text_len = n as u8;
        self
    }
}

/// Why a signal did not become a trade (or `Traded`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum SignalStatus {
    /// Approved by the risk gate and sent to execution.
    #[default]
    Traded = 0,
    /// All execution slots busy (R3.5).
    NoSlot,
    /// Not enough free balance/margin on a venue.
    InsufficientBalance,
    /// Would exceed the per-coin net position limit.
    PositionLimit,
    /// Would exceed a per-venue or total exposure limit.
    ExposureLimit,
    /// A book is older than the trading limit.
    StaleBook,
    /// A book is not synced/valid, or its venue is down.
    InvalidBook,
    /// Gross spread above the sanity limit (R4.4, 5 %).
    SpreadTooWide,
    /// The execution ring was full.
    QueueFull,
    /// A leg's notional is above the per-trade cap (`risk.max_trade_notional_usd`).
    NotionalCap,
    /// The circuit breaker is open (R4.2).
    BreakerOpen,
    /// The breaker is half-open and a probe trade is still in flight (one at a time).
    BreakerProbeBusy,
    /// `risk.max_trades_per_hour` approvals in the last hour (R4.3).
    RateLimitHour,
    /// `risk.max_trades_per_day` approvals this UTC day (R4.3).
    RateLimitDay,
    /// A leg's expected slippage (VWAP of the walk vs the top) is beyond
    /// `risk.max_slippage_bps` (R4.4).
    Slippage,
    /// A leg's venue quotes more than `risk.max_price_deviation_pct` away from the other
    /// venues' median (R4.4).
    PriceDeviation,
    /// A leg's venue is in maintenance (R4.4).
    Maintenance,
    /// The run is stopping (kill switch, SIGTERM): nothing new is sent (R4.5).
    Stopped,
}

impl SignalStatus {
    /// Journal spelling.
    pub fn as_str(self) -> &'static str {
        use SignalStatus::*;
        match self {
            Traded => "traded",
            NoSlot => "no_slot",
            InsufficientBalance => "insufficient_balance",
            PositionLimit => "position_limit",
            ExposureLimit => "exposure_limit",
            StaleBook => "stale_book",
            InvalidBook => "invalid_book",
            SpreadTooWide => "spread_too_wide",
            QueueFull => "queue_full",
            NotionalCap => "notional_cap",
            BreakerOpen => "breaker_open",
            BreakerProbeBusy => "breaker_probe_busy",
            RateLimitHour => "rate_limit_hour",
            RateLimitDay => "rate_limit_day",
            Slippage => "slippage",
            PriceDeviation => "price_deviation",
            Maintenance => "maintenance",
            Stopped => "stopped",
        }
    }

    /// From the journal spelling (`None` for an unknown one).
    pub fn parse(s: &str) -> Option<SignalStatus> {
        SignalStatus::ALL.iter().copied().find(|x| x.as_str() == s)
    }

    /// Every status, in discriminant order (`ALL[s as usize] == s`).
    pub const ALL: [SignalStatus; 18] = [
        SignalStatus::Traded,
        SignalStatus::NoSlot,
        SignalStatus::InsufficientBalance,
        SignalStatus::PositionLimit,
        SignalStatus::ExposureLimit,
        SignalStatus::StaleBook,
        SignalStatus::InvalidBook,
        SignalStatus::SpreadTooWide,
        SignalStatus::QueueFull,
        SignalStatus::NotionalCap,
        SignalStatus::BreakerOpen,
        SignalStatus::BreakerProbeBusy,
        SignalStatus::RateLimitHour,
        SignalStatus::RateLimitDay,
        SignalStatus::Slippage,
        SignalStatus::PriceDeviation,
        SignalStatus::Maintenance,
        SignalStatus::Stopped,
    ];
}

/// A signal and what became of it.
#[derive(Clone, Copy, Debug, Default)]
pub struct SignalRecord {
    /// The opportunity.
    pub opp: Opportunity,
    /// Traded, or why not.
    pub status: SignalStatus,
}

/// Outcome of one leg order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u8)]
pub enum LegStatus {
    /// Not final yet.
    #[default]
    Pending = 0,
    /// Filled in full.
    Filled,
    /// Filled in part; the rest expired (IOC).
    Partial,
    /// Nothing filled.
    Unfilled,
    /// The venue's book was not valid when the order arrived: treated as not filled.
    NoBook,
    /// The data ended before the order arrived.
    DataEnded,
    /// Cancelled (at the trade's execution window, or by the kill switch).
    Cancelled,
    /// Cancelled by the kill switch or a stop (SIGTERM) before the simulated venue matched
    /// it (R4.5).
    StopCancelled,
    /// The venue refused the order (or it could not be sent: venue rate-limited, banned, no
    /// connection).
    Rejected,
}

impl LegStatus {
    /// Journal spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            LegStatus::Pending => "pending",
            LegStatus::Filled => "filled",
            LegStatus::Partial => "partial",
            LegStatus::Unfilled => "unfilled",
            LegStatus::NoBook => "no_book",
            LegStatus::DataEnded => "data_ended",
            LegStatus::Cancelled => "cancelled",
            LegStatus::StopCancelled => "stop_cancelled",
            LegStatus::Rejected => "rejected",
        }
    }

    /// From the journal spelling.
    pub fn parse(s: &str) -> Option<LegStatus> {
        Some(match s {
            "pending" => LegStatus::Pending,
            "filled" => LegStatus::Filled,
            "partial" => LegStatus::Partial,
            "unfilled" => LegStatus::Unfilled,
            "no_book" => LegStatus::NoBook,
            "data_ended" => LegStatus::DataEnded,
            "cancelled" => LegStatus::Cancelled,
            "stop_cancelled" => LegStatus::StopCancelled,
            "rejected" => LegStatus::Rejected,
            _ => return None,
        })
    }
}

/// Max price levels recorded per leg fill.
pub const MAX_FILLS: usize = 12;

/// What one order did.
#[derive(Clone, Copy, Debug, Default)]
pub struct LegFill {
    /// Venue.
    pub venue: VenueId,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Side.
    pub side: Side,
    /// True for an unwind order.
    pub unwind: bool,
    /// Ordered quantity.
    pub order_qty: Qty,
    /// Limit price.
    pub limit_px: Price,
    /// Filled quantity.
    pub filled_qty: Qty,
    /// Quote notional filled, 1e-8 quote units.
    pub quote: Amount,
    /// Base amount filled, 1e-8 base units.
    pub base: Amount,
    /// Fee, 1e-8 quote units (USD-equivalent).
    pub fee: Amount,
    /// The asset the venue charged the fee in (simulation: the quote asset).
    pub fee_asset: crate::types::FeeAsset,
    /// The fee in `fee_asset`, 1e-8 units (the quote-unit `fee` where that is the quote).
    pub fee_native: Amount,
    /// When the order reached the venue (simulated), ns since the epoch.
    pub arrival_ns: Nanos,
    /// Data time of the book it was matched against (simulated: arrival + the venue's feed
    /// latency, i.e. the venue's state at arrival as the engine receives it).
    pub view_ns: Nanos,
    /// When the result is back at the engine, ns since the epoch.
    pub known_ns: Nanos,
    /// Levels filled: (price, quantity), best first.
    pub fills: [(Price, Qty); MAX_FILLS],
    /// Entries used in `fills`.
    pub n_fills: u8,
    /// Levels beyond the first `MAX_FILLS − 1` merged into the last entry (whose price is
    /// then the worst price reached); 0 when every level has its own entry.
    pub merged_levels: u16,
    /// Message index of the last update applied to the book when it filled.
    pub book_msg_seq: u64,
    /// Outcome.
    pub status: LegStatus,
}

/// Overall trade outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u8)]
pub enum TradeStatus {
    /// Both legs filled in full.
    #[default]
    Filled = 0,
    /// Both legs filled the same amount, less than planned.
    Partial,
    /// The legs filled different amounts: one-leg exposure, unwound or held (R3.3).
    OneLeg,
    /// Neither leg filled.
    Missed,
}

impl TradeStatus {
    /// Journal spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TradeStatus::Filled => "filled",
            TradeStatus::Partial => "partial",
            TradeStatus::OneLeg => "one_leg",
            TradeStatus::Missed => "missed",
        }
    }

    /// From the journal spelling.
    pub fn parse(s: &str) -> Option<TradeStatus> {
        Some(match s {
            "filled" => TradeStatus::Filled,
            "partial" => TradeStatus::Partial,
            "one_leg" => TradeStatus::OneLeg,
            "missed" => TradeStatus::Missed,
            _ => return None,
        })
    }
}

/// Most legs one trade records: a triangle's three plus two closing orders (R2.2).
pub const MAX_TRADE_LEGS: usize = 5;

/// A statistical pair's position after one of its trades (R2.3): what the trade record of a
/// pair trade carries besides its own fills.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PairResult {
    /// Σ sell − Σ buy quote of every trade of the position so far, 1e-8 USD.
    pub cash: Amount,
    /// Fees of every trade of the position so far, 1e-8 USD.
    pub fees: Amount,
    /// Signed base held in `y` / `x` after the trade, 1e-8 base units.
    pub held: [Amount; 2],
    /// Last fill prices of `y` / `x`, quote per base unit ×1e8.
    pub marks_e8: [i64; 2],
    /// The position's gross PnL: its cash plus what it holds at `marks_e8`, 1e-8 USD.
    pub position_gross: Amount,
    /// Nothing (more than a lot) is held any more: the position is closed.
    pub flat: bool,
}

/// A finished trade: every leg final and any unwind done.
#[derive(Clone, Copy, Debug, Default)]
pub struct TradeRecord {
    /// Trade id (= opportunity id).
    pub id: u64,
    /// The opportunity it came from.
    pub opp: Opportunity,
    /// Legs: spatial and pair trades [buy, sell, unwind?]; triangles [leg 1, leg 2, leg 3,
    /// closing orders...].
    pub legs: [LegFill; MAX_TRADE_LEGS],
    /// Legs used.
    pub n_legs: u8,
    /// Outcome.
    pub status: TradeStatus,
    /// Σ sell quote − Σ buy quote over all legs, plus the residual marked to market
    /// (`residual_mark_usd`), 1e-8 USD.
    pub gross_pnl_usd: Amount,
    /// Σ fees, 1e-8 USD.
    pub fees_usd: Amount,
    /// Gross − fees, 1e-8 USD.
    pub net_pnl_usd: Amount,
    /// Base bought − base sold over all legs (exposure left), 1e-8 base units.
    pub residual_base: Amount,
    /// The residual valued at the last fill price of the trade (the price of the unwind leg if
    /// there was one), 1e-8 USD: lot rounding leaves small residuals (one COIN-M contract is
    /// 100 USD), and without this mark the leftover position would count as profit or loss.
    pub residual_mark_usd: Amount,
    /// When the trade became final, ns since the epoch.
    pub done_ns: Nanos,
    /// Notional traded over all legs, 1e-8 USD.
    pub volume_usd: Amount,
    /// Statistical pair trades: the position after this trade.
    pub pair: PairResult,
}

/// An order's state in the order journal (`orders.jsonl`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OrderState {
    /// Request written to the venue (or handed to the simulator).
    #[default]
    Sent,
    /// Accepted, nothing filled.
    New,
    /// Partly filled, still working.
    PartiallyFilled,
    /// Filled in full.
    Filled,
    /// Cancelled (with what filled).
    Cancelled,
    /// Refused.
    Rejected,
    /// Expired (IOC remainder).
    Expired,
    /// Outcome unknown (timeout, 5xx, lost connection): being queried.
    Unknown,
    /// A cancel was sent (deadline, kill switch).
    CancelSent,
    /// Simulated: the order met the venue's book (its fill follows).
    Matched,
}

impl OrderState {
    /// Journal spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderState::Sent => "sent",
            OrderState::New => "new",
            OrderState::PartiallyFilled => "partially_filled",
            OrderState::Filled => "filled",
            OrderState::Cancelled => "cancelled",
            OrderState::Rejected => "rejected",
            OrderState::Expired => "expired",
            OrderState::Unknown => "unknown",
            OrderState::CancelSent => "cancel_sent",
            OrderState::Matched => "matched",
        }
    }
    /// From the journal spelling (unknown spellings: `Unknown`).
    pub fn parse(s: &str) -> OrderState {
        match s {
            "sent" => OrderState::Sent,
            "new" => OrderState::New,
            "partially_filled" => OrderState::PartiallyFilled,
            "filled" => OrderState::Filled,
            "cancelled" => OrderState::Cancelled,
            "rejected" => OrderState::Rejected,
            "expired" => OrderState::Expired,
            "cancel_sent" => OrderState::CancelSent,
            "matched" => OrderState::Matched,
            _ => OrderState::Unknown,
        }
    }
}

/// One state transition of one order (a line of `orders.jsonl`).
#[derive(Clone, Copy, Debug, Default)]
pub struct OrderEvent {
    /// When (data time in replay, wall time live), ns since the epoch.
    pub ts_ns: Nanos,
    /// Venue.
    pub venue: VenueId,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Our client order id (`trade_id·8 + leg`).
    pub client_id: u64,
    /// The trade the order belongs to (resume and the journal database group by it).
    pub trade_id: u64,
    /// Leg of the trade (0 buy / first leg, 1 sell, 2.. unwinds and closing orders).
    pub leg: u8,
    /// The venue's order id (0 until known; simulated orders have none).
    pub order_id: u64,
    /// Side.
    pub side: Side,
    /// New state.
    pub state: OrderState,
    /// Ordered quantity.
    pub qty: Qty,
    /// Cumulative filled quantity.
    pub filled_qty: Qty,
    /// Cumulative quote notional, 1e-8 quote units.
    pub cum_quote: Amount,
    /// Limit price (0 for market orders).
    pub limit_px: Price,
    /// The venue's error code of the last error answer (0 if none).
    pub err_code: i64,
    /// A real order (live) rather than a simulated one.
    pub live: bool,
}

/// An order that filled something (a line of `fills.jsonl`): the leg's final answer, from
/// the execution step (simulated and live alike).
#[derive(Clone, Copy, Debug, Default)]
pub struct FillRecord {
    /// Trade id.
    pub trade_id: u64,
    /// Leg of the trade.
    pub leg: u8,
    /// When the fill became known (data time in replay, wall time live), ns since the epoch.
    pub ts_ns: Nanos,
    /// The leg's final answer (venue, instrument, side and fills included).
    pub fill: LegFill,
}

/// A consistent cut of the journals (R6.3, R6.7): every record of what happened before
/// message `msg` has been handed to the cold thread, and nothing after it. The detection
/// core sends it through its ring and the execution step a [`ColdMsg::Barrier`] with the same
/// `seq` through its own; the cold thread writes the checkpoint line once both have arrived,
/// with the journals' lengths at that point.
#[derive(Clone, Copy, Debug, Default)]
pub struct CheckpointRecord {
    /// Barrier number (1, 2, ...).
    pub seq: u64,
    /// Index of the next message to apply (messages `0..msg` are behind the cut).
    pub msg: u64,
    /// Data time of the last message applied.
    pub data_ns: Nanos,
    /// The data ended and every trade is final: nothing comes after this cut.
    pub ended: bool,
    /// Trades approved and not yet final at the cut.
    pub in_flight: u32,
    /// Signals so far (the next opportunity id is `signals + 1`).
    pub signals: u64,
    /// Trades final so far.
    pub trades_done: u64,
    /// Loss limits and breaker.
    pub limits: crate::risk::limits::LimitsSnapshot,
    /// Trades approved in the last hour / today (R4.3).
    pub rate: (u32, u32),
}

/// What a [`CurvePoint`] marks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CurveKind {
    /// A fixed-interval mark (`run.pnl_curve_interval_ns` of data time): the books as they
    /// were at every grid time from `ts_ns` to `last_ns` (no message came in between).
    #[default]
    Interval,
    /// A trade became final: the run's mark right after booking it.
    Trade,
    /// The run's last mark, at the final books (the report's mark to market).
    End,
}

/// One filled leg of a trade on the PnL curve: its venue, fee and notional in USD.
#[derive(Clone, Copy, Debug, Default)]
pub struct CurveLeg {
    /// Venue.
    pub venue: VenueId,
    /// Fee, 1e-8 USD (converted at the mids when the trade became final).
    pub fee_usd: i64,
    /// Notional, 1e-8 USD.
    pub volume_usd: i64,
}

/// A point of the PnL curve (R8.2): the run's mark-to-market PnL
/// ([`crate::pnl::PnlBook::equity_mark`]) at a grid time or at a trade's completion. Sent by
/// the detection core to the cold thread, which writes `pnl_curve.csv`.
#[derive(Clone, Copy, Debug, Default)]
pub struct CurvePoint {
    /// Interval, trade or end.
    pub kind: CurveKind,
    /// Data time, ns since the epoch (an interval point: its first grid time).
    pub ts_ns: Nanos,
    /// An interval point: its last grid time (the same mark holds at each); else `ts_ns`.
    pub last_ns: Nanos,
    /// Mark-to-market PnL of the run, 1e-8 USD.
    pub mtm_usd: i64,
    /// Trade points: the trade id.
    pub trade_id: u64,
    /// Trade points: the trade's own fills and fees with the base they leave valued at the
    /// mids when it became final, 1e-8 USD ([`crate::pnl::PnlBook::trade_mark`]).
    pub trade_mark_usd: i64,
    /// Trade points: the outcome.
    pub status: TradeStatus,
    /// Trade points: the instruments bought and sold (spatial / pair), or the first leg's
    /// (triangles: both the same).
    pub buy: InstrumentId,
    /// See `buy`.
    pub sell: InstrumentId,
    /// Trade points: a triangle.
    pub triangle: bool,
    /// Trade points: filled legs.
    pub legs: [CurveLeg; MAX_TRADE_LEGS],
    /// Legs used.
    pub n_legs: u8,
}

/// What detection and execution send to the cold thread.
#[derive(Clone, Copy, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum ColdMsg {
    /// A log line.
    Log(LogRecord),
    /// A signal (journal `signals.jsonl`).
    Signal(SignalRecord),
    /// A finished trade (journal `trades.jsonl`).
    Trade(TradeRecord),
    /// An order state transition (journal `orders.jsonl`).
    Order(OrderEvent),
    /// A leg's fills (journal `fills.jsonl`).
    Fill(FillRecord),
    /// A breaker transition (journal `breaker.jsonl`).
    Breaker(crate::risk::limits::BreakerEvent),
    /// A day's results (`daily.jsonl`).
    Day(crate::risk::limits::DayRecord),
    /// A consistent cut (detection's half; `checkpoint.jsonl`).
    Checkpoint(CheckpointRecord),
    /// A copy of a book's top levels after a trade (R5.2, the rebalancing plan's prices).
    Depth(crate::rebalance::DepthSnap),
    /// The watched balances after a trade: the cold side evaluates the rebalancing plan
    /// (R5.2; `rebalance.jsonl`).
    Holdings(crate::rebalance::HoldingsSnap),
    /// The execution step's half of checkpoint `seq`.
    Barrier(u64),
    /// A point of the PnL curve (`pnl_curve.csv`, R8.2).
    Curve(CurvePoint),
    /// A resumed replay reached the point where its journals ended: from here on records are
    /// new (before it they re-derive journaled lines, which the cold thread checks).
    CatchUpEnd,
}
