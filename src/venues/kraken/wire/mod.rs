//! Kraken spot WebSocket messages, one module per protocol (`protocol = "v2" | "v1"`): [`v1`]
//! (arrays, the 2021 recordings) and [`v2`] (objects, today's default), parsed with sonic-rs
//! straight into fixed point, without allocation. One handler reads both: the first byte of a
//! frame tells them apart ([`parse`]).
//! Each module has its doc links and real samples.
#![forbid(unsafe_code)]

pub mod v1;
pub mod v2;

use crate::venues::symbols::SymbolTable;
use crate::venues::wire_util::{Buffers, WireError};

/// What a frame carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Kind {
    /// Book snapshot (v1 `as`/`bs`, v2 `type:"snapshot"`).
    BookSnapshot,
    /// Book update.
    BookUpdate,
    /// Trades.
    Trades,
    /// v1 ticker (best bid/ask with whole-lot and lot volume).
    Ticker,
    /// Nothing for the book.
    #[default]
    Other,
}

/// A parsed frame (levels and trades in [`Buffers`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Msg {
    /// What it is.
    pub kind: Kind,
    /// Handler index of the pair.
    pub inst: usize,
    /// v2 (objects) rather than v1 (arrays).
    pub v2: bool,
    /// The book checksum, when sent.
    pub checksum: Option<u32>,
    /// v1 book depth from the channel name (`book-1000` → 1000).
    pub depth: u32,
    /// Ticker best bid (price, lot volume).
    pub bid: Option<(i64, i64)>,
    /// Ticker best ask (price, lot volume).
    pub ask: Option<(i64, i64)>,
}

/// Parse one text frame, v1 or v2: book data, trades (id: v2 `trade_id`; v1 has none, the
/// trade time in µs) or a ticker ([`Msg`], levels and trades in `buf`), or why it is none
/// ([`WireError::Event`] for control messages: heartbeat, systemStatus, subscriptionStatus,
/// pong, v2 method replies; [`WireError::Unknown`] for a channel or pair this handler does not
/// serve).
pub fn parse(raw: &[u8], symbols: &SymbolTable, buf: &mut Buffers) -> Result<Msg, WireError> {
    buf.clear();
    let first = raw.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        Some(b'[') => v1::parse(raw, symbols, buf),
        Some(b'{') => v2::parse(raw, symbols, buf),
        _ => Err(WireError::Malformed),
    }
}
