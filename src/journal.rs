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
        }
    }

    /// Every status, in discriminant order (`ALL[s as usize] == s`).
    pub const ALL: [SignalStatus; 10] = [
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
            LegStatus::Rejected => "rejected",
        }
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
    /// Our client order id (`trade_id·4 + leg`).
    pub client_id: u64,
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
}
