//! Kraken book maintenance (R1.2), v1 and v2 alike
//! (<https://docs.kraken.com/api/docs/guides/spot-ws-book-v1>,
//! <https://docs.kraken.com/api/docs/guides/spot-ws-book-v2>):
//! - the snapshot arrives on subscribe; updates follow; there are no sequence numbers, the
//!   CRC32 checksum is the integrity check (v1: on updates only; v2: snapshots and updates);
//! - levels are applied in message order (the same price may appear twice in one message);
//!   volume 0 deletes;
//! - after each message the book is cut to the subscribed depth, because Kraken sends no delete
//!   for levels that fall out of scope: the commit carries the depth and the detection-side
//!   book truncates before it verifies the checksum
//!   ([`crate::feed::EventSink::commit_truncated`]);
//! - on a mismatch the remedy is unsubscribe/subscribe (a new snapshot).
//!
//! The commit's update id is the number of book messages applied since the snapshot (Kraken
//! has no id of its own).
#![forbid(unsafe_code)]

use crate::book::{ChecksumKind, Level};
use crate::event::{Checksum, Commit, InvalidReason};
use crate::feed::{EventSink, VenueCounters};
use crate::types::{InstrumentId, Side};
use crate::venues::handler::{emit_side, SyncState};

/// What happened to one update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Applied.
    Applied,
    /// No snapshot yet: dropped.
    Dropped,
}

/// One book message's integrity data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Integrity {
    /// The checksum sent with the message, if any.
    pub checksum: Option<u32>,
    /// v2 checksum rule (fixed precision) rather than v1 (digits as sent).
    pub v2: bool,
    /// Depth to cut the book to (0 = none).
    pub depth: u32,
}

impl Integrity {
    fn commit(&self, snapshot: bool) -> Commit {
        Commit {
            snapshot,
            checksum: self.checksum.map(|c| Checksum {
                kind: if self.v2 {
                    ChecksumKind::Kraken10Fixed
                } else {
                    ChecksumKind::Kraken10
                },
                value: c as i64,
            }),
            keep_levels: self.depth,
        }
    }
}

/// Sync state of one pair's book.
#[derive(Debug, Default)]
pub struct BookSync {
    synced: bool,
    n: u64,
}

impl BookSync {
    /// Waiting for the snapshot.
    pub fn new() -> BookSync {
        BookSync::default()
    }

    /// True while synced.
    pub fn synced(&self) -> bool {
        self.synced
    }

    /// Kraken's order: the asks, then the bids, each as sent.
    fn emit(sink: &mut EventSink<'_>, inst: InstrumentId, b: &[Level], a: &[Level], snap: bool) {
        emit_side(sink, inst, Side::Sell, a, snap);
        emit_side(sink, inst, Side::Buy, b, snap);
    }

    /// A snapshot replaces the book.
    #[allow(clippy::too_many_arguments)]
    pub fn on_snapshot(
        &mut self,
        inst: InstrumentId,
        bids: &[Level],
        asks: &[Level],
        ck: Integrity,
        sink: &mut EventSink<'_>,
        c: &VenueCounters,
    ) {
        if self.synced {
            VenueCounters::inc(&c.resyncs);
        }
        self.n = 0;
        sink.clear(inst, 0);
        Self::emit(sink, inst, bids, asks, true);
        sink.commit_truncated(inst, 0, ck.commit(true));
        self.synced = true;
        VenueCounters::inc(&c.syncs);
    }

    /// An update.
    pub fn on_update(
        &mut self,
        inst: InstrumentId,
        bids: &[Level],
        asks: &[Level],
        ck: Integrity,
        sink: &mut EventSink<'_>,
        c: &VenueCounters,
    ) -> Outcome {
        if !self.synced {
            VenueCounters::inc(&c.stale_diffs);
            return Outcome::Dropped;
        }
        self.n += 1;
        Self::emit(sink, inst, bids, asks, false);
        sink.commit_truncated(inst, self.n, ck.commit(false));
        Outcome::Applied
    }
}

impl SyncState for BookSync {
    /// Connection lost (resubscribing brings a new snapshot: nothing to request).
    fn on_disconnect(&mut self, inst: InstrumentId, sink: &mut EventSink<'_>) {
        if self.synced {
            sink.invalid(inst, InvalidReason::Disconnected);
        }
        self.synced = false;
    }
}
