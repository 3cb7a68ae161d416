//! The fixed-size market-data event that crosses from a feed thread to the detection thread.
//!
//! One raw exchange message becomes one or more [`MdEvent`]s; the last one carries
//! [`flags::LAST`], so the consumer knows where a message ends (and a message that yields
//! nothing still sends one [`MdKind::Noop`] with `LAST`: every message is accounted for).
//! The event is `Copy`, 80 bytes, and carries its own timestamps so every stage is measured.
#![forbid(unsafe_code)]

use crate::book::ChecksumKind;
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
    /// until resynced. `p0` = -1: its data is bad ([`crate::health`]); down for good.
    VenueStatus = 7,
    /// The feed has no more input (end of a replay). Sent once per feed thread.
    FeedEnd = 8,
    /// The venue announced maintenance (`p0` = 1) or its end (`p0` = 0) (R4.4): no trade on it
    /// meanwhile. For venue code that reads the exchange's status channel or system messages.
    VenueMaintenance = 9,
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
    /// No update for longer than the hard age limit (`risk.hard_stale_after_ns`, R1.3).
    HardStale = 8,
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
            8 => HardStale,
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
            HardStale => "hard_stale",
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

/// A checksum a venue attached to a book commit: which algorithm, and the venue's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checksum {
    /// Algorithm (how the book is turned into the checksummed string).
    pub kind: ChecksumKind,
    /// The venue's value, sign-extended to `i64` (OKX/Bitget signed CRC32, Kraken unsigned).
    pub value: i64,
}

/// What a [`MdKind::BookCommit`] says beyond its update id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Commit {
    /// This commit completes a snapshot (after a [`MdKind::BookClear`]).
    pub snapshot: bool,
    /// The venue's checksum of the book after this commit, if it sent one.
    pub checksum: Option<Checksum>,
    /// Keep only this many levels per side before checking (Kraken: the book is cut to the
    /// subscribed depth after each update); 0 = keep all.
    pub keep_levels: u32,
}

/// Fractional digits of a level's original price and quantity texts (kept so checksum venues
/// can rebuild the exact strings).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TextFracs {
    /// Digits after the point in the price text.
    pub px: u8,
    /// Digits after the point in the quantity text.
    pub qty: u8,
}

/// A typed view of an [`MdEvent`]'s payload ([`MdEvent::view`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MdView {
    /// Nothing for the book.
    Noop,
    /// Best bid/offer at exchange update id `seq`.
    Bbo {
        /// Best bid price and quantity.
        bid: (Price, Qty),
        /// Best ask price and quantity.
        ask: (Price, Qty),
        /// Exchange update id.
        seq: u64,
    },
    /// A public trade.
    Trade {
        /// Price.
        px: Price,
        /// Quantity.
        qty: Qty,
        /// The taker's side.
        aggressor: Side,
        /// Exchange trade id.
        trade_id: u64,
    },
    /// A snapshot starts at update id `seq`: clear the book.
    BookClear {
        /// Snapshot update id.
        seq: u64,
    },
    /// Set one level to an absolute quantity (0 deletes).
    BookLevel {
        /// Book side (`Buy` = bids).
        side: Side,
        /// Price.
        px: Price,
        /// Absolute quantity at that price.
        qty: Qty,
        /// Digits of the original texts.
        fracs: TextFracs,
        /// Part of a snapshot.
        from_snapshot: bool,
    },
    /// The levels since the last commit form a consistent book at update id `seq`.
    BookCommit {
        /// Update id.
        seq: u64,
        /// Snapshot flag, checksum, depth cut.
        commit: Commit,
    },
    /// The book can no longer be trusted (`None`: a reason code this build does not know).
    BookInvalid {
        /// Why.
        reason: Option<InvalidReason>,
    },
    /// The venue's connection went down (`up = false`) or came back.
    VenueStatus {
        /// Connected.
        up: bool,
    },
    /// The feed has no more input.
    FeedEnd,
    /// The venue is in maintenance (`on`) or back from it.
    VenueMaintenance {
        /// In maintenance.
        on: bool,
    },
}

impl MdEvent {
    /// A best bid/offer at exchange update id `seq`.
    #[inline]
    pub fn bbo(
        instrument: InstrumentId,
        seq: u64,
        bid: (Price, Qty),
        ask: (Price, Qty),
    ) -> MdEvent {
        MdEvent {
            kind: MdKind::Bbo,
            instrument,
            venue_seq: seq,
            p0: bid.0 .0,
            q0: bid.1 .0,
            p1: ask.0 .0,
            q1: ask.1 .0,
            ..MdEvent::default()
        }
    }

    /// A public trade; `aggressor` is the taker's side.
    #[inline]
    pub fn trade(
        instrument: InstrumentId,
        trade_id: u64,
        px: Price,
        qty: Qty,
        aggressor: Side,
    ) -> MdEvent {
        MdEvent {
            kind: MdKind::Trade,
            instrument,
            venue_seq: trade_id,
            side: aggressor,
            p0: px.0,
            q0: qty.0,
            ..MdEvent::default()
        }
    }

    /// A snapshot at update id `seq` starts: clear the book.
    #[inline]
    pub fn book_clear(instrument: InstrumentId, seq: u64) -> MdEvent {
        MdEvent {
            kind: MdKind::BookClear,
            instrument,
            venue_seq: seq,
            ..MdEvent::default()
        }
    }

    /// Set one level (`qty` 0 deletes).
    #[inline]
    pub fn book_level(
        instrument: InstrumentId,
        side: Side,
        px: Price,
        qty: Qty,
        fracs: TextFracs,
        from_snapshot: bool,
    ) -> MdEvent {
        MdEvent {
            kind: MdKind::BookLevel,
            instrument,
            side,
            p0: px.0,
            q0: qty.0,
            px_frac: fracs.px,
            qty_frac: fracs.qty,
            flags: if from_snapshot {
                flags::FROM_SNAPSHOT
            } else {
                0
            },
            ..MdEvent::default()
        }
    }

    /// Commit the levels since the last commit at update id `seq`.
    #[inline]
    pub fn book_commit(instrument: InstrumentId, seq: u64, c: Commit) -> MdEvent {
        let (kind, value) = match c.checksum {
            Some(k) => (k.kind as i64, k.value),
            None => (ChecksumKind::None as i64, 0),
        };
        MdEvent {
            kind: MdKind::BookCommit,
            instrument,
            venue_seq: seq,
            flags: if c.snapshot { flags::SNAPSHOT } else { 0 },
            p0: value,
            p1: kind,
            q0: c.keep_levels as i64,
            ..MdEvent::default()
        }
    }

    /// The book of `instrument` can no longer be trusted.
    #[inline]
    pub fn book_invalid(instrument: InstrumentId, reason: InvalidReason) -> MdEvent {
        MdEvent {
            kind: MdKind::BookInvalid,
            instrument,
            p0: reason as i64,
            ..MdEvent::default()
        }
    }

    /// The venue's connection went down (`up = false`) or came back.
    #[inline]
    pub fn venue_status(up: bool) -> MdEvent {
        MdEvent {
            kind: MdKind::VenueStatus,
            p0: up as i64,
            ..MdEvent::default()
        }
    }

    /// The venue announced maintenance (`on`) or its end.
    #[inline]
    pub fn venue_maintenance(on: bool) -> MdEvent {
        MdEvent {
            kind: MdKind::VenueMaintenance,
            p0: on as i64,
            ..MdEvent::default()
        }
    }

    /// The venue's data is bad ([`crate::health`]): down for the rest of the run (`p0` = -1).
    pub fn venue_bad_data() -> MdEvent {
        MdEvent {
            kind: MdKind::VenueStatus,
            p0: -1,
            ..MdEvent::default()
        }
    }

    /// The typed payload.
    #[inline(always)]
    pub fn view(&self) -> MdView {
        match self.kind {
            MdKind::Noop => MdView::Noop,
            MdKind::Bbo => MdView::Bbo {
                bid: (Price(self.p0), Qty(self.q0)),
                ask: (Price(self.p1), Qty(self.q1)),
                seq: self.venue_seq,
            },
            MdKind::Trade => MdView::Trade {
                px: Price(self.p0),
                qty: Qty(self.q0),
                aggressor: self.side,
                trade_id: self.venue_seq,
            },
            MdKind::BookClear => MdView::BookClear {
                seq: self.venue_seq,
            },
            MdKind::BookLevel => MdView::BookLevel {
                side: self.side,
                px: Price(self.p0),
                qty: Qty(self.q0),
                fracs: TextFracs {
                    px: self.px_frac,
                    qty: self.qty_frac,
                },
                from_snapshot: self.flags & flags::FROM_SNAPSHOT != 0,
            },
            MdKind::BookCommit => {
                let kind = ChecksumKind::from_i64(self.p1);
                MdView::BookCommit {
                    seq: self.venue_seq,
                    commit: Commit {
                        snapshot: self.flags & flags::SNAPSHOT != 0,
                        checksum: (kind != ChecksumKind::None).then_some(Checksum {
                            kind,
                            value: self.p0,
                        }),
                        keep_levels: self.q0.clamp(0, u32::MAX as i64) as u32,
                    },
                }
            }
            MdKind::BookInvalid => MdView::BookInvalid {
                reason: InvalidReason::from_i64(self.p0),
            },
            MdKind::VenueStatus => MdView::VenueStatus { up: self.p0 > 0 },
            MdKind::FeedEnd => MdView::FeedEnd,
            MdKind::VenueMaintenance => MdView::VenueMaintenance { on: self.p0 != 0 },
        }
    }

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
    use super::*;

    #[test]
    fn constructors_and_views_round_trip() {
        let i = InstrumentId(3);
        let e = MdEvent::bbo(i, 9, (Price(100), Qty(2)), (Price(101), Qty(3)));
        assert_eq!(
            e.view(),
            MdView::Bbo {
                bid: (Price(100), Qty(2)),
                ask: (Price(101), Qty(3)),
                seq: 9
            }
        );
        let c = Commit {
            snapshot: true,
            checksum: Some(Checksum {
                kind: ChecksumKind::Kraken10,
                value: -5,
            }),
            keep_levels: 100,
        };
        let e = MdEvent::book_commit(i, 7, c);
        assert_eq!(e.view(), MdView::BookCommit { seq: 7, commit: c });
        let e = MdEvent::book_commit(i, 7, Commit::default());
        assert_eq!(
            e.view(),
            MdView::BookCommit {
                seq: 7,
                commit: Commit::default()
            }
        );
        let f = TextFracs { px: 2, qty: 8 };
        let e = MdEvent::book_level(i, Side::Sell, Price(5), Qty(0), f, true);
        assert_eq!(
            e.view(),
            MdView::BookLevel {
                side: Side::Sell,
                px: Price(5),
                qty: Qty(0),
                fracs: f,
                from_snapshot: true
            }
        );
        let e = MdEvent::book_invalid(i, InvalidReason::Gap);
        assert_eq!(
            e.view(),
            MdView::BookInvalid {
                reason: Some(InvalidReason::Gap)
            }
        );
        assert_eq!(
            MdEvent::venue_status(false).view(),
            MdView::VenueStatus { up: false }
        );
        let e = MdEvent::trade(i, 11, Price(7), Qty(1), Side::Buy);
        assert_eq!(
            e.view(),
            MdView::Trade {
                px: Price(7),
                qty: Qty(1),
                aggressor: Side::Buy,
                trade_id: 11
            }
        );
    }

    #[test]
    fn event_is_small_and_copy() {
        assert_eq!(std::mem::size_of::<super::MdEvent>(), 80);
        fn is_copy<T: Copy>() {}
        is_copy::<super::MdEvent>();
    }
}
