//! The fixed-size market-data event that crosses from a feed thread to the detection thread.
//!
//! One raw exchange message becomes one or more [`MdEvent`]s; the last one carries
//! [`flags::LAST`], so the consumer knows where a message ends (and a message that yields
//! nothing still sends one [`MdKind::Noop`] with `LAST`: every message is accounted for).
//! The event is `Copy`, 80 bytes, and carries its own timestamps so every stage is measured.
#![forbid(unsafe_code)]

use crate::types::{InstrumentId, Nanos, Price, Qty, Side, VenueId};

/// What an [`MdEvent`] says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum MdKind {
    /// Nothing for the book (ack, unknown or rejected message); still marks a message end.
    #[default]
    Noop = 0,
    /// Best bid/offer: `p0/q0` bid, `p1/q1` ask, `venue_seq` = exchange update id.
    Bbo = 1,
    /// Public trade: `p0` price, `q0` quantity, `side` = aggressor side, `venue_seq` = trade id.
    Trade = 2,
    /// A snapshot starts: clear the book. `venue_seq` = snapshot update id.
    BookClear = 3,
    /// Set one level: `side`, `p0` price, `q0` absolute quantity (0 deletes), `px_frac/qty_frac`
    /// the fractional digits of the original text (for exchange checksums).
    BookLevel = 4,
    /// The levels since the last commit form a consistent book at update id `venue_seq`.
    /// `p1` = [`crate::book::ChecksumKind`] as i64 (0 = none), `p0` = the exchange's checksum,
    /// `q0` = keep only this many levels per side first (0 = all; Kraken's depth rule).
    BookCommit = 5,
    /// The book can no longer be trusted (gap, stale snapshot, disconnect); `p0` = [`InvalidReason`].
    BookInvalid = 6,
    /// The venue's connection is down (`p0` = 0) or up again (`p0` = 1); books stay invalid
    /// until resynced.
    VenueStatus = 7,
    /// The feed has no more input (end of a replay). Sent once per feed thread.
    FeedEnd = 8,
}

/// Why a feed invalidated a book ([`MdKind::BookInvalid`], payload `p0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i64)]
pub enum InvalidReason {
    /// Sequence gap (`U > last_u + 1`, `pu != last_u`, ...).
    Gap = 1,
    /// The snapshot is older than the first buffered diff: a newer one is needed.
    StaleSnapshot = 2,
    /// No buffered diff spans the snapshot id.
    NoBridgingDiff = 3,
    /// Too many diffs buffered while waiting for a snapshot.
    BufferOverflow = 4,
    /// Connection lost.
    Disconnected = 5,
    /// The exchange's checksum did not match the rebuilt book.
    ChecksumMismatch = 6,
    /// The venue said the book must be rebuilt (reset message).
    VenueReset = 7,
}

impl InvalidReason {
    /// From the `p0` payload.
    pub fn from_i64(v: i64) -> Option<InvalidReason> {
        use InvalidReason::*;
        Some(match v {
            1 => Gap,
            2 => StaleSnapshot,
            3 => NoBridgingDiff,
            4 => BufferOverflow,
            5 => Disconnected,
            6 => ChecksumMismatch,
            7 => VenueReset,
            _ => return None,
        })
    }
    /// Short name for logs.
    pub fn as_str(self) -> &'static str {
        use InvalidReason::*;
        match self {
            Gap => "gap",
            StaleSnapshot => "stale_snapshot",
            NoBridgingDiff => "no_bridging_diff",
            BufferOverflow => "buffer_overflow",
            Disconnected => "disconnected",
            ChecksumMismatch => "checksum_mismatch",
            VenueReset => "venue_reset",
        }
    }
}

/// Bit flags of [`MdEvent::flags`].
pub mod flags {
    /// Last event produced from one raw message.
    pub const LAST: u8 = 1;
    /// On `BookCommit`: this commit completes a snapshot (after a `BookClear`).
    pub const SNAPSHOT: u8 = 2;
    /// On `BookLevel`: part of a snapshot.
    pub const FROM_SNAPSHOT: u8 = 4;
}

/// A normalised market-data event. 80 bytes, `Copy`, no pointers.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
pub struct MdEvent {
    /// What this event is.
    pub kind: MdKind,
    /// [`flags`] bits.
    pub flags: u8,
    /// Source venue.
    pub venue: VenueId,
    /// Book side (levels) or aggressor side (trades).
    pub side: Side,
    /// Instrument (engine id).
    pub instrument: InstrumentId,
    /// Fractional digits of the original price text (levels).
    pub px_frac: u8,
    /// Fractional digits of the original quantity text (levels).
    pub qty_frac: u8,
    /// Index of the raw message this event came from: global across venues in replay
    /// (the merge order), per feed thread live.
    pub msg_seq: u64,
    /// Exchange sequence / update id / trade id, as documented per kind.
    pub venue_seq: u64,
    /// Receive time of the raw message, ns since the epoch (recorded time in replay).
    pub recv_ns: Nanos,
    /// `quanta` raw counter when the raw message was handed to the feed code.
    pub handoff_tsc: u64,
    /// `quanta` raw counter when this event was produced.
    pub parsed_tsc: u64,
    /// Payload, per kind.
    pub p0: i64,
    /// Payload, per kind.
    pub q0: i64,
    /// Payload, per kind.
    pub p1: i64,
    /// Payload, per kind.
    pub q1: i64,
}

impl MdEvent {
    /// True if this is the last event of its raw message.
    #[inline(always)]
    pub fn is_last(&self) -> bool {
        self.flags & flags::LAST != 0
    }
    /// Bid price of a `Bbo`.
    #[inline(always)]
    pub fn bid_px(&self) -> Price {
        Price(self.p0)
    }
    /// Bid quantity of a `Bbo`.
    #[inline(always)]
    pub fn bid_qty(&self) -> Qty {
        Qty(self.q0)
    }
    /// Ask price of a `Bbo`.
    #[inline(always)]
    pub fn ask_px(&self) -> Price {
        Price(self.p1)
    }
    /// Ask quantity of a `Bbo`.
    #[inline(always)]
    pub fn ask_qty(&self) -> Qty {
        Qty(self.q1)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn event_is_small_and_copy() {
        assert_eq!(std::mem::size_of::<super::MdEvent>(), 80);
        fn is_copy<T: Copy>() {}
        is_copy::<super::MdEvent>();
    }
}
