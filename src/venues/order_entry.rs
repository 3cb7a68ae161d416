//! The order-entry interface every trading venue implements (R3.4), and the common order
//! vocabulary the execution step works in.
//!
//! Hot side ([`OrderEntry`], used by the execution thread): signed requests written into
//! buffers the implementation reuses (place, cancel, query), and answers — REST responses and
//! private-stream messages — parsed into an [`OrderUpdate`] without allocating. Placing needs a
//! [`crate::exec::SendToken`] (inside [`OrderFields`]): only the execution step, consuming a risk
//! approval, can make one. Cancels and queries need none (they cannot add exposure).
//!
//! Cold side ([`AccountApi`], used at start-up, at the end and by cold threads): server time,
//! balances and positions, the private stream's URL and keep-alive. These may allocate and
//! block (they run before trading starts or off the hot threads).
#![forbid(unsafe_code)]

use super::OrderFields;
pub use crate::types::FeeAsset;
use crate::types::{Amount, Price, Qty};

/// Which order a cancel or query is about (by our client order id, the one idempotent key).
#[derive(Clone, Copy, Debug)]
pub struct OrderRef<'a> {
    /// Exchange symbol.
    pub symbol: &'a str,
    /// Our id (the encoder spells it as the venue wants, e.g. Binance `arb<id>`).
    pub client_id: u64,
    /// Request time, ms since the epoch (venue clock: local time plus the measured offset).
    pub timestamp_ms: u64,
    /// Validity window of the request, ms.
    pub recv_window_ms: u32,
}

/// An order's state as the venue reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    /// Accepted, nothing filled yet (resting, or an acknowledgement before the result).
    #[default]
    New,
    /// Partly filled, still working.
    PartiallyFilled,
    /// Filled in full (final).
    Filled,
    /// Cancelled (final; may carry a partial fill).
    Cancelled,
    /// Refused by the venue (final, nothing filled).
    Rejected,
    /// Expired: the IOC remainder, or the venue's own expiry (final; may carry a partial fill).
    Expired,
}

impl OrderStatus {
    /// No more fills can come.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            OrderStatus::Filled
                | OrderStatus::Cancelled
                | OrderStatus::Rejected
                | OrderStatus::Expired
        )
    }
    /// Journal spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::New => "new",
            OrderStatus::PartiallyFilled => "partially_filled",
            OrderStatus::Filled => "filled",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Rejected => "rejected",
            OrderStatus::Expired => "expired",
        }
    }
}

/// One execution (trade) of an order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExecFill {
    /// Price, at the instrument's price scale.
    pub px: Price,
    /// Quantity, at the instrument's quantity scale.
    pub qty: Qty,
    /// Fee, 1e-8 units of `fee_asset`.
    pub fee: Amount,
    /// The asset the fee was charged in.
    pub fee_asset: FeeAsset,
    /// Venue trade id (0 if the venue gave none).
    pub trade_id: u64,
}

/// Executions one update can carry.
pub const MAX_EXEC_FILLS: usize = 16;

/// What the venue says about one order, from an order response or a private-stream message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OrderUpdate {
    /// Our client order id (0 if the message did not carry one of ours).
    pub client_id: u64,
    /// The venue's order id.
    pub order_id: u64,
    /// State after this update.
    pub status: OrderStatus,
    /// Cumulative filled quantity (instrument scale); `None` when the message did not say
    /// (an acknowledgement).
    pub cum_qty: Option<Qty>,
    /// Cumulative quote notional, 1e-8 quote units (inverse contracts: 1e-8 base units of
    /// `cumBase`), when the message says.
    pub cum_quote: Option<Amount>,
    /// Executions reported in this message (a REST `FULL` response lists all of them; a stream
    /// message its last one).
    pub fills: [ExecFill; MAX_EXEC_FILLS],
    /// Entries used in `fills`.
    pub n_fills: u8,
    /// Executions the message listed beyond `fills` (their quantities are in `cum_qty`).
    pub fills_dropped: u16,
    /// Average price of everything executed so far (instrument price scale, truncated to it),
    /// when the message says (Binance futures `avgPrice`/`ap`). A futures `RESULT` answer
    /// lists no executions, only this and the cumulative figures: the executor prices the
    /// quantity it has seen no execution for at this average, and estimates its fee.
    pub avg_px: Option<Price>,
    /// The venue's time of the update, ms.
    pub update_ms: u64,
    /// Index of the instrument in the encoder's symbol list.
    pub symbol_idx: u16,
}

/// An error answer from the venue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status (0 for a stream message).
    pub http_status: u16,
    /// The venue's error code (Binance `code`, e.g. -1022), 0 when none.
    pub code: i64,
    /// The first bytes of its message.
    pub msg: [u8; 96],
    /// Bytes used in `msg`.
    pub msg_len: u8,
}

impl ApiError {
    /// An error with `code` and message text `m` (truncated).
    pub fn new(http_status: u16, code: i64, m: &[u8]) -> ApiError {
        let mut e = ApiError {
            http_status,
            code,
            msg: [0; 96],
            msg_len: 0,
        };
        let n = m.len().min(e.msg.len());
        e.msg[..n].copy_from_slice(&m[..n]);
        e.msg_len = n as u8;
        e
    }
    /// The message text.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.msg[..self.msg_len as usize]).unwrap_or("?")
    }
}

/// What an error means for the order and the venue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// The venue refused the order; nothing happened (filters, balance, bad parameter).
    Rejected,
    /// Too many requests: nothing happened; send nothing to this venue until it allows again.
    RateLimited,
    /// Banned for too many requests (Binance 418): disable the venue.
    Banned,
    /// The request's timestamp was outside the venue's window: resync the clock; nothing
    /// happened.
    ClockSkew,
    /// Signature or key refused: a configuration error; nothing happened.
    Auth,
    /// The venue does not know the order (query or cancel of an order it never took).
    UnknownOrder,
    /// The outcome is unknown (5xx, timeout): query until known.
    Unknown,
}

/// Live order entry of one venue (hot side). Implementations keep their buffers and their
/// key; requests and parsing allocate nothing after construction.
pub trait OrderEntry: Send {
    /// A new order's complete request bytes (valid until the next call).
    fn place(&mut self, o: &OrderFields<'_>) -> &[u8];
    /// A cancel request for the order (by client id).
    fn cancel(&mut self, r: &OrderRef<'_>) -> &[u8];
    /// A status query for the order (by client id).
    fn query(&mut self, r: &OrderRef<'_>) -> &[u8];
    /// Parse the answer to a place, cancel or query request.
    fn parse_order(
        &self,
        http_status: u16,
        body: &[u8],
        out: &mut OrderUpdate,
    ) -> Result<(), ApiError>;
    /// What an error answer means.
    fn classify(&self, e: &ApiError) -> ErrorClass;
    /// Parse a private-stream message: `Ok(true)` and `out` filled for an order update,
    /// `Ok(false)` for anything else (account updates, heartbeats).
    fn parse_stream(&self, msg: &[u8], out: &mut OrderUpdate) -> Result<bool, ApiError>;
}

/// A balance (or margin asset) on a venue, as the venue reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct VenueBalance {
    /// Asset code, upper case.
    pub asset: String,
    /// Total (free + locked), 1e-8 units.
    pub total: Amount,
}

/// A derivatives position as the venue reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct VenuePosition {
    /// Exchange symbol.
    pub symbol: String,
    /// Signed quantity, at the instrument's quantity scale (contracts for futures).
    pub qty: Qty,
    /// The venue's average entry price (Binance `entryPrice`), 0 when it gave none: with
    /// `qty` it gives the open position's cost basis, the part of the trading that the
    /// wallet balance has not realised yet.
    pub entry_px: f64,
}

/// Cold-side account calls of one venue (blocking; at start-up, at the end, on cold threads).
pub trait AccountApi: Send + Sync {
    /// The venue's clock, ms since the epoch.
    fn server_time_ms(&self) -> Result<u64, String>;
    /// Balances and positions.
    fn account(&self, now_ms: u64) -> Result<(Vec<VenueBalance>, Vec<VenuePosition>), String>;
    /// Open the private stream: its WebSocket URL.
    fn open_user_stream(&self) -> Result<String, String>;
    /// Keep the private stream alive (Binance: every 30 minutes).
    fn keepalive_user_stream(&self) -> Result<(), String>;
    /// Open orders (client ids of ours), to reconcile at start and after a kill switch.
    fn open_orders(&self, now_ms: u64) -> Result<Vec<u64>, String>;
}

/// Parse a decimal amount at 8 decimals, truncating digits beyond (fees quoted with more).
pub fn parse_amount_trunc(s: &[u8]) -> Option<Amount> {
    use crate::fixed_point::{parse_decimal, DecimalError};
    match parse_decimal(s, 8) {
        Ok(d) => Some(Amount(d.value)),
        Err(DecimalError::TooPrecise) => {
            let d = parse_decimal(s, 18).ok()?;
            Some(Amount(d.value / 10_000_000_000))
        }
        Err(_) => None,
    }
}

/// Parse our client order id from its venue spelling: the digits after `prefix`.
pub fn client_id_of(s: &[u8], prefix: &[u8]) -> Option<u64> {
    let d = s.strip_prefix(prefix)?;
    if d.is_empty() || d.len() > 19 || !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v = 0u64;
    for b in d {
        v = v.checked_mul(10)?.checked_add((b - b'0') as u64)?;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_and_ids() {
        assert_eq!(parse_amount_trunc(b"0.00012345"), Some(Amount(12_345)));
        assert_eq!(parse_amount_trunc(b"0.000123456789"), Some(Amount(12_345)));
        assert_eq!(parse_amount_trunc(b"x"), None);
        assert_eq!(client_id_of(b"arb42", b"arb"), Some(42));
        assert_eq!(client_id_of(b"web_123", b"arb"), None);
        assert_eq!(client_id_of(b"arb", b"arb"), None);
        assert_eq!(client_id_of(b"arb99999999999999999999", b"arb"), None);
        assert!(OrderStatus::Expired.is_final() && !OrderStatus::New.is_final());
        let e = ApiError::new(400, -1022, b"Signature for this request is not valid.");
        assert_eq!(e.text(), "Signature for this request is not valid.");
    }
}
