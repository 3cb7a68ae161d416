//! Snapshot-only books (Upbit, Bithumb): every `orderbook` message is the full top-N book, so
//! the book is *replaced*, never diffed. There is no sequence and no checksum; the message
//! timestamp orders the snapshots (an older one than the book is dropped as stale) and is the
//! book's update id. Validation (ordering, positive levels, not crossed) and the age limits
//! apply on the detection side exactly as for diffed books.
//!
//! Each accepted snapshot becomes `BookClear` + one `BookLevel` per level + `BookCommit` with the
//! snapshot flag. No allocation: the levels come from the handler's reused buffers.
#![forbid(unsafe_code)]

use crate::book::Level;
use crate::event::InvalidReason;
use crate::feed::{EventSink, VenueCounters};
use crate::types::{InstrumentId, Side};
use crate::venues::handler::{emit_level, emit_snapshot, SyncState};

/// What happened to a snapshot message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The book was replaced.
    Replaced,
    /// Older than the book: dropped.
    Stale,
}

/// Replace-only book state of one instrument.
#[derive(Clone, Copy, Debug, Default)]
pub struct SnapshotBook {
    last_ts: u64,
    synced: bool,
}

impl SnapshotBook {
    /// Timestamp (ms) of the snapshot the book holds, if any.
    pub fn book_ts(&self) -> Option<u64> {
        self.synced.then_some(self.last_ts)
    }

    /// True while a snapshot is held (false at start and after a disconnect).
    pub fn synced(&self) -> bool {
        self.synced
    }

    /// A full book at `ts` (ms); `bids`/`asks` in any order (the book sorts).
    pub fn replace(
        &mut self,
        inst: InstrumentId,
        ts: u64,
        bids: &[Level],
        asks: &[Level],
        sink: &mut EventSink<'_>,
        c: &VenueCounters,
    ) -> Outcome {
        if self.synced && ts < self.last_ts {
            VenueCounters::inc(&c.stale_diffs);
            return Outcome::Stale;
        }
        if !self.synced {
            VenueCounters::inc(&c.syncs);
        }
        emit_snapshot(sink, inst, ts, bids, asks, None);
        self.last_ts = ts;
        self.synced = true;
        Outcome::Replaced
    }

    /// Apply level changes (absolute quantities, 0 deletes) on top of the held snapshot
    /// (Bithumb's legacy `orderbookdepth`). Ignored (returns false) while no snapshot is held.
    pub fn apply_changes(
        &mut self,
        inst: InstrumentId,
        ts: u64,
        changes: &[(Side, Level)],
        sink: &mut EventSink<'_>,
        c: &VenueCounters,
    ) -> bool {
        if !self.synced {
            return false;
        }
        if ts < self.last_ts {
            VenueCounters::inc(&c.stale_diffs);
            return false;
        }
        for (side, l) in changes {
            emit_level(sink, inst, *side, l, false);
        }
        sink.commit(inst, ts, false, None);
        self.last_ts = ts;
        true
    }
}

impl SyncState for SnapshotBook {
    /// Connection lost: the book is no longer current until the next snapshot (which the
    /// stream brings by itself: nothing to request).
    fn on_disconnect(&mut self, inst: InstrumentId, sink: &mut EventSink<'_>) {
        if self.synced {
            sink.invalid(inst, InvalidReason::Disconnected);
        }
        self.synced = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{MdEvent, MdKind};
    use crate::ring::RawMeta;
    use crate::types::VenueId;

    fn lv(px: i64) -> Level {
        Level {
            px,
            qty: 1,
            px_frac: 0,
            qty_frac: 0,
        }
    }

    #[test]
    fn replace_emits_clear_levels_commit_and_drops_older() {
        let c = VenueCounters::default();
        let mut b = SnapshotBook::default();
        let mut v: Vec<MdEvent> = vec![];
        let mut sink = EventSink::to_vec(&mut v);
        sink.begin(VenueId(0), &RawMeta::default(), 0);
        assert_eq!(
            b.replace(
                InstrumentId(1),
                100,
                &[lv(9), lv(8)],
                &[lv(10)],
                &mut sink,
                &c
            ),
            Outcome::Replaced
        );
        assert_eq!(
            b.replace(InstrumentId(1), 99, &[lv(9)], &[], &mut sink, &c),
            Outcome::Stale
        );
        assert_eq!(
            b.replace(InstrumentId(1), 100, &[lv(7)], &[], &mut sink, &c),
            Outcome::Replaced
        );
        sink.end();
        let k: Vec<MdKind> = v.iter().map(|e| e.kind).collect();
        use MdKind::*;
        assert_eq!(
            k,
            vec![
                BookClear, BookLevel, BookLevel, BookLevel, BookCommit, BookClear, BookLevel,
                BookCommit
            ]
        );
        assert_eq!(v[4].venue_seq, 100);
        assert!(v[4].flags & crate::event::flags::SNAPSHOT != 0);
        assert_eq!(VenueCounters::get(&c.stale_diffs), 1);
        assert_eq!(VenueCounters::get(&c.syncs), 1);
        assert_eq!(b.book_ts(), Some(100));
    }

    #[test]
    fn changes_need_a_snapshot_and_disconnect_unsyncs() {
        let c = VenueCounters::default();
        let mut b = SnapshotBook::default();
        let mut v: Vec<MdEvent> = vec![];
        let mut sink = EventSink::to_vec(&mut v);
        sink.begin(VenueId(0), &RawMeta::default(), 0);
        assert!(!b.apply_changes(InstrumentId(0), 5, &[(Side::Buy, lv(5))], &mut sink, &c));
        b.replace(InstrumentId(0), 5, &[lv(4)], &[lv(6)], &mut sink, &c);
        assert!(b.apply_changes(InstrumentId(0), 6, &[(Side::Buy, lv(5))], &mut sink, &c));
        assert!(!b.apply_changes(InstrumentId(0), 4, &[(Side::Buy, lv(5))], &mut sink, &c));
        b.on_disconnect(InstrumentId(0), &mut sink);
        assert!(!b.synced());
        sink.end();
        assert!(v.iter().any(|e| e.kind == MdKind::BookInvalid));
    }
}
