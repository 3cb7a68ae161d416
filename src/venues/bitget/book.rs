//! Bitget `books` rules (`exchanges.md` §11.1): the first message after subscribing is a full
//! `snapshot`, then `update`s with absolute sizes (`"0"` deletes). Every message carries the
//! CRC32 `checksum` of the top 25 levels per side after applying it, by the OKX rule
//! ([`ChecksumKind::Top25Interleaved`], verified on the detection side against the rebuilt book,
//! with each level's text digits as sent). v2 messages also carry `seq` (and on some channels
//! `pseq`, the previous `seq`): an update whose `pseq` is not the book's `seq` is a gap; one whose
//! `seq` is not above the book's is stale. Without `seq` (v1) the checksum is the only
//! integrity check. A checksum of `0` means "not computed" (the venue's deprecation value) and
//! is not checked.
//!
//! A gap invalidates the book and asks for a new snapshot (for Bitget: resubscribe the channel;
//! [`super::protocol::BitgetProtocol::resubscribe_frames`]). Updates before a snapshot are
//! dropped (`stale_diffs`).
#![forbid(unsafe_code)]

use crate::book::{ChecksumKind, Level};
use crate::event::{Checksum, InvalidReason};
use crate::feed::{EventSink, VenueCounters};
use crate::types::InstrumentId;
use crate::venues::handler::{emit_snapshot, emit_update, SyncState};

/// What happened to a book message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Applied (snapshot or update).
    Applied,
    /// Dropped: no snapshot yet, or not newer than the book.
    Dropped,
    /// `pseq` did not match: book invalidated, resubscription wanted.
    Gap,
}

/// Sync state of one instrument's `books` channel.
#[derive(Clone, Copy, Debug, Default)]
pub struct ChecksumBook {
    synced: bool,
    seq: Option<u64>,
    want_snapshot: bool,
}

fn checksum_arg(c: Option<i64>) -> Option<Checksum> {
    match c {
        Some(v) if v != 0 => Some(Checksum {
            kind: ChecksumKind::Top25Interleaved,
            value: v,
        }),
        _ => None,
    }
}

impl ChecksumBook {
    /// True while a snapshot is held and no gap was seen.
    pub fn synced(&self) -> bool {
        self.synced
    }

    /// A `snapshot`: replaces the book. `id` = `seq` if sent, else `ts`.
    #[allow(clippy::too_many_arguments)]
    pub fn snapshot(
        &mut self,
        inst: InstrumentId,
        seq: Option<u64>,
        ts_ms: u64,
        checksum: Option<i64>,
        bids: &[Level],
        asks: &[Level],
        sink: &mut EventSink<'_>,
        c: &VenueCounters,
    ) -> Outcome {
        let id = seq.unwrap_or(ts_ms);
        emit_snapshot(sink, inst, id, bids, asks, checksum_arg(checksum));
        self.synced = true;
        self.seq = seq;
        VenueCounters::inc(&c.syncs);
        Outcome::Applied
    }

    /// An `update`.
    #[allow(clippy::too_many_arguments)]
    pub fn update(
        &mut self,
        inst: InstrumentId,
        seq: Option<u64>,
        pseq: Option<u64>,
        ts_ms: u64,
        checksum: Option<i64>,
        bids: &[Level],
        asks: &[Level],
        sink: &mut EventSink<'_>,
        c: &VenueCounters,
    ) -> Outcome {
        if !self.synced {
            VenueCounters::inc(&c.stale_diffs);
            return Outcome::Dropped;
        }
        if let (Some(p), Some(last)) = (pseq, self.seq) {
            if p != last {
                VenueCounters::inc(&c.gaps);
                VenueCounters::inc(&c.resyncs);
                sink.invalid(inst, InvalidReason::Gap);
                self.synced = false;
                self.want_snapshot = true;
                return Outcome::Gap;
            }
        }
        if let (Some(s), Some(last)) = (seq, self.seq) {
            if s <= last {
                VenueCounters::inc(&c.stale_diffs);
                return Outcome::Dropped;
            }
        }
        let id = seq.unwrap_or(ts_ms);
        emit_update(sink, inst, id, bids, asks, checksum_arg(checksum));
        if seq.is_some() {
            self.seq = seq;
        }
        Outcome::Applied
    }
}

impl SyncState for ChecksumBook {
    /// Connection lost.
    fn on_disconnect(&mut self, inst: InstrumentId, sink: &mut EventSink<'_>) {
        if self.synced {
            sink.invalid(inst, InvalidReason::Disconnected);
        }
        self.synced = false;
        self.seq = None;
    }

    /// True once when the channel should be resubscribed for a new snapshot (Bitget has no
    /// REST sync: the snapshot comes with the subscription).
    fn take_snapshot_request(&mut self) -> bool {
        std::mem::take(&mut self.want_snapshot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{MdEvent, MdKind};
    use crate::ring::RawMeta;
    use crate::types::VenueId;

    #[test]
    fn seq_pseq_rules_and_checksum_kind() {
        let c = VenueCounters::default();
        let mut b = ChecksumBook::default();
        let mut v: Vec<MdEvent> = vec![];
        let mut sink = EventSink::to_vec(&mut v);
        sink.begin(VenueId(0), &RawMeta::default(), 0);
        let i = InstrumentId(0);
        assert_eq!(
            b.update(i, Some(5), None, 1, Some(7), &[], &[], &mut sink, &c),
            Outcome::Dropped
        );
        assert_eq!(
            b.snapshot(i, Some(10), 1, Some(42), &[], &[], &mut sink, &c),
            Outcome::Applied
        );
        assert_eq!(
            b.update(i, Some(11), Some(10), 2, Some(43), &[], &[], &mut sink, &c),
            Outcome::Applied
        );
        assert_eq!(
            b.update(i, Some(11), None, 2, Some(43), &[], &[], &mut sink, &c),
            Outcome::Dropped
        );
        assert_eq!(
            b.update(i, Some(13), Some(12), 3, Some(0), &[], &[], &mut sink, &c),
            Outcome::Gap
        );
        assert!(b.take_snapshot_request());
        assert!(!b.synced());
        sink.end();
        let commits: Vec<(u64, i64, i64)> = v
            .iter()
            .filter(|e| e.kind == MdKind::BookCommit)
            .map(|e| (e.venue_seq, e.p1, e.p0))
            .collect();
        assert_eq!(commits, vec![(10, 1, 42), (11, 1, 43)]);
        assert!(v.iter().any(|e| e.kind == MdKind::BookInvalid));
        assert_eq!(checksum_arg(Some(0)), None, "0 = not computed");
        assert_eq!(checksum_arg(None), None);
    }
}
