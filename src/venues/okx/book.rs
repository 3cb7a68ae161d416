//! OKX order-book synchronisation (R1.2) for the incremental channels (`books`,
//! `books-l2-tbt`, `books50-l2-tbt`).
//!
//! Rules (OKX v5 docs, "Order book channel", "Sequence ID" and "Checksum" sections,
//! <https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-order-book-channel>):
//! - no REST snapshot: the first push after subscribing is `action:"snapshot"`
//!   (`prevSeqId = -1`); a new snapshot at any time replaces the book;
//! - each update's `prevSeqId` must equal the previous message's `seqId`; two documented
//!   exceptions need no special case because they keep that equality: the ~60 s no-change
//!   keep-alive (`prevSeqId == seqId`) and the maintenance reset (`seqId < prevSeqId`);
//!   anything else is a gap → the book is invalidated and a fresh snapshot is requested
//!   (unsubscribe + subscribe);
//! - messages recorded before OKX added `seqId` (e.g. the 2022 recording) carry no ids: their
//!   integrity rests on the checksum alone;
//! - `checksum`: CRC32 of the top 25 levels interleaved, signed
//!   ([`crate::book::ChecksumKind::Top25Interleaved`]); verified on the detection thread at the
//!   commit. OKX fixed it to `0` from 2026-06 (deprecated): 0 means "not sent", not checked.
//!
//! Level size `"0"` deletes the level; the handler forwards it as a level with quantity 0.
//! This module only tracks ids and emits level events; the book lives on the detection thread.
#![forbid(unsafe_code)]

use crate::book::{ChecksumKind, Level};
use crate::event::{Checksum, InvalidReason};
use crate::feed::{EventSink, VenueCounters};
use crate::types::InstrumentId;
use crate::venues::handler::{emit_snapshot, emit_update, SyncState};

/// Ids carried by one book message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BookIds {
    /// `seqId`.
    pub seq_id: Option<i64>,
    /// `prevSeqId`.
    pub prev_seq_id: Option<i64>,
    /// `checksum` (0 / absent = none).
    pub checksum: Option<i64>,
    /// `ts`, ms (used as the commit's update id when there is no `seqId`).
    pub ts_ms: u64,
}

impl BookIds {
    fn commit_seq(&self) -> u64 {
        match self.seq_id {
            Some(s) if s >= 0 => s as u64,
            _ => self.ts_ms,
        }
    }
    fn checksum(&self) -> Option<Checksum> {
        match self.checksum {
            Some(c) if c != 0 => Some(Checksum {
                kind: ChecksumKind::Top25Interleaved,
                value: c,
            }),
            _ => None,
        }
    }
}

/// What happened to one update (tests, `verify-book`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Applied.
    Applied,
    /// No snapshot yet (or since a gap): dropped until the next snapshot.
    Dropped,
    /// Sequence gap: book invalidated, snapshot requested.
    Gap,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    AwaitingSnapshot,
    Synced { last_seq: Option<i64> },
}

/// Sync state of one instrument's book.
#[derive(Debug)]
pub struct BookSync {
    state: State,
    want_resync: bool,
}

impl Default for BookSync {
    fn default() -> BookSync {
        BookSync::new()
    }
}

impl BookSync {
    /// Waiting for the snapshot that follows a subscription.
    pub fn new() -> BookSync {
        BookSync {
            state: State::AwaitingSnapshot,
            want_resync: false,
        }
    }

    /// `seqId` of the last applied message, if synced and the venue sends ids.
    pub fn last_seq(&self) -> Option<i64> {
        match self.state {
            State::Synced { last_seq } => last_seq,
            State::AwaitingSnapshot => None,
        }
    }

    /// True while synced.
    pub fn synced(&self) -> bool {
        matches!(self.state, State::Synced { .. })
    }

    /// A snapshot: the book is replaced.
    pub fn on_snapshot(
        &mut self,
        inst: InstrumentId,
        ids: BookIds,
        bids: &[Level],
        asks: &[Level],
        sink: &mut EventSink<'_>,
        c: &VenueCounters,
    ) {
        if self.synced() {
            VenueCounters::inc(&c.resyncs);
        }
        let seq = ids.commit_seq();
        emit_snapshot(sink, inst, seq, bids, asks, ids.checksum());
        self.state = State::Synced {
            last_seq: ids.seq_id,
        };
        self.want_resync = false;
        VenueCounters::inc(&c.syncs);
    }

    /// An incremental update.
    pub fn on_update(
        &mut self,
        inst: InstrumentId,
        ids: BookIds,
        bids: &[Level],
        asks: &[Level],
        sink: &mut EventSink<'_>,
        c: &VenueCounters,
    ) -> Outcome {
        let State::Synced { last_seq } = self.state else {
            VenueCounters::inc(&c.stale_diffs);
            return Outcome::Dropped;
        };
        let continuous = match (last_seq, ids.prev_seq_id, ids.seq_id) {
            (Some(last), Some(prev), Some(_)) => prev == last,
            // no ids on either side (pre-2023 feed): only the checksum can tell
            (None, None, None) => true,
            // ids appeared or vanished mid-stream: cannot vouch for continuity
            _ => false,
        };
        if !continuous {
            VenueCounters::inc(&c.gaps);
            VenueCounters::inc(&c.resyncs);
            sink.invalid(inst, InvalidReason::Gap);
            self.state = State::AwaitingSnapshot;
            self.want_resync = true;
            return Outcome::Gap;
        }
        emit_update(sink, inst, ids.commit_seq(), bids, asks, ids.checksum());
        self.state = State::Synced {
            last_seq: ids.seq_id,
        };
        Outcome::Applied
    }
}

impl SyncState for BookSync {
    /// Connection lost: invalid until the next snapshot (which resubscribing brings).
    fn on_disconnect(&mut self, inst: InstrumentId, sink: &mut EventSink<'_>) {
        if self.synced() {
            sink.invalid(inst, InvalidReason::Disconnected);
        }
        self.state = State::AwaitingSnapshot;
        self.want_resync = false;
    }

    /// True once after a gap: the book needs a fresh snapshot (resubscribe).
    fn take_snapshot_request(&mut self) -> bool {
        std::mem::take(&mut self.want_resync)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{MdEvent, MdKind};
    use crate::ring::RawMeta;
    use crate::types::VenueId;

    fn ids(prev: i64, seq: i64) -> BookIds {
        BookIds {
            seq_id: Some(seq),
            prev_seq_id: Some(prev),
            checksum: Some(0),
            ts_ms: 1,
        }
    }

    fn run(s: &mut BookSync, c: &VenueCounters, snap: bool, i: BookIds) -> (Vec<MdEvent>, Outcome) {
        let mut v = vec![];
        let o = {
            let mut sink = EventSink::to_vec(&mut v);
            sink.begin(VenueId(0), &RawMeta::default(), 0);
            let l = [Level {
                px: 10,
                qty: 1,
                px_frac: 0,
                qty_frac: 0,
            }];
            let o = if snap {
                s.on_snapshot(InstrumentId(0), i, &l, &[], &mut sink, c);
                Outcome::Applied
            } else {
                s.on_update(InstrumentId(0), i, &l, &[], &mut sink, c)
            };
            sink.end();
            o
        };
        (v, o)
    }

    #[test]
    fn doc_sequence_example() {
        // OKX doc: snapshot (-1,10) → update (10,15) → no change (15,15) → reset (15,3) → (3,5)
        let (mut s, c) = (BookSync::new(), VenueCounters::default());
        assert_eq!(run(&mut s, &c, false, ids(1, 2)).1, Outcome::Dropped);
        let (ev, _) = run(&mut s, &c, true, ids(-1, 10));
        assert_eq!(ev[0].kind, MdKind::BookClear);
        assert_eq!(ev.last().unwrap().venue_seq, 10);
        // checksum 0 = deprecated, not checked
        assert_eq!(ev.last().unwrap().p1, ChecksumKind::None as i64);
        for (p, q) in [(10, 15), (15, 15), (15, 3), (3, 5)] {
            assert_eq!(
                run(&mut s, &c, false, ids(p, q)).1,
                Outcome::Applied,
                "{p},{q}"
            );
        }
        assert_eq!(s.last_seq(), Some(5));
        // a missing message
        let (ev, o) = run(&mut s, &c, false, ids(6, 7));
        assert_eq!(o, Outcome::Gap);
        assert_eq!(ev[0].kind, MdKind::BookInvalid);
        assert_eq!(VenueCounters::get(&c.gaps), 1);
        assert!(s.take_snapshot_request());
        assert!(!s.take_snapshot_request());
        assert_eq!(run(&mut s, &c, false, ids(7, 8)).1, Outcome::Dropped);
        run(&mut s, &c, true, ids(-1, 100));
        assert_eq!(run(&mut s, &c, false, ids(100, 101)).1, Outcome::Applied);
    }

    #[test]
    fn nonzero_checksum_is_attached_and_ids_may_be_absent() {
        let (mut s, c) = (BookSync::new(), VenueCounters::default());
        let old = BookIds {
            seq_id: None,
            prev_seq_id: None,
            checksum: Some(-914047754),
            ts_ms: 1652459225464,
        };
        let (ev, _) = run(&mut s, &c, true, old);
        let commit = ev.last().unwrap();
        assert_eq!(
            (commit.p1, commit.p0, commit.venue_seq),
            (
                ChecksumKind::Top25Interleaved as i64,
                -914047754,
                1652459225464
            )
        );
        assert_eq!(run(&mut s, &c, false, old).1, Outcome::Applied);
        // ids appearing mid-stream cannot be vouched for
        assert_eq!(run(&mut s, &c, false, ids(5, 6)).1, Outcome::Gap);
    }
}
