//! Binance depth-book synchronisation (R1.2): REST snapshot + buffered diff stream.
//!
//! Rules, from "How to manage a local order book correctly":
//! - spot (<https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams>):
//!   buffer diffs; get a snapshot (`lastUpdateId` = L); if L < first buffered `U`, get another;
//!   drop buffered diffs with `u ≤ L`; the first applied must have `U ≤ L+1 ≤ u`; afterwards a
//!   diff with `u ≤ book id` is ignored and `U > book id + 1` is a gap.
//! - futures, USDⓈ-M and COIN-M (`.../usds-margined-futures/websocket-market-streams/How-to-manage-a-local-order-book-correctly`):
//!   drop diffs with `u < L`; the first applied must have `U ≤ L ≤ u`; afterwards each diff's
//!   `pu` must equal the previous diff's `u`, else gap.
//!
//! On a gap the book is invalidated (an event tells detection), counted, and the state goes
//! back to buffering until the next snapshot. The buffer is preallocated; if it overflows
//! the oldest diffs are discarded (counted) and the next snapshot is judged against what is left.
//! This module only tracks ids and emits level events: the book itself lives on the
//! detection thread ([`crate::book::L2Book`]).
#![forbid(unsafe_code)]

use crate::book::Level;
use crate::event::InvalidReason;
use crate::feed::{EventSink, VenueCounters};
use crate::types::{InstrumentId, Side};

/// Which continuity rule applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncRule {
    /// `U`/`u`, first diff `U ≤ L+1 ≤ u`.
    Spot,
    /// `pu`, first diff `U ≤ L ≤ u`.
    Futures,
}

/// Update ids of one diff.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DiffIds {
    /// `U`.
    pub first: u64,
    /// `u`.
    pub last: u64,
    /// `pu` (futures).
    pub prev: Option<u64>,
}

#[derive(Clone, Copy, Debug)]
struct Buffered {
    ids: DiffIds,
    start: usize,
    n_bids: usize,
    n_asks: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    AwaitingSnapshot,
    Synced { last: u64, first: bool },
}

/// Sync state of one instrument's depth book.
pub struct DepthSync {
    rule: SyncRule,
    state: State,
    buf: Vec<Buffered>,
    arena: Vec<Level>,
    want_snapshot: bool,
    /// Updates seen since the last commit were accepted (for tests).
    pub applied: u64,
}

/// Outcome of feeding one diff (for tests and `verify-book`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffOutcome {
    /// Applied to the book.
    Applied,
    /// Older than the book: ignored.
    Stale,
    /// Buffered until a snapshot comes.
    Buffered,
    /// Sequence gap: book invalidated, back to buffering.
    Gap,
}

/// Outcome of a snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotOutcome {
    /// The book is synced from it (with this many buffered diffs applied on top).
    Synced(usize),
    /// Older than the first buffered diff: another snapshot is needed.
    Stale,
    /// Older than the book we already have: ignored.
    Ignored,
    /// The buffered diffs have a gap after the snapshot: another snapshot is needed.
    Gap,
}

impl DepthSync {
    /// New, waiting for a snapshot; buffers up to `max_diffs` diffs / `max_levels` levels.
    pub fn new(rule: SyncRule, max_diffs: usize, max_levels: usize) -> DepthSync {
        DepthSync {
            rule,
            state: State::AwaitingSnapshot,
            buf: Vec::with_capacity(max_diffs.max(1)),
            arena: Vec::with_capacity(max_levels.max(1)),
            want_snapshot: true,
            applied: 0,
        }
    }

    /// True while no snapshot has synced the book (and after a gap).
    pub fn awaiting_snapshot(&self) -> bool {
        self.state == State::AwaitingSnapshot
    }

    /// True once if a snapshot should be fetched now (clears the flag).
    pub fn take_snapshot_request(&mut self) -> bool {
        std::mem::take(&mut self.want_snapshot)
    }

    /// Update id the book is at, if synced.
    pub fn book_id(&self) -> Option<u64> {
        match self.state {
            State::Synced { last, .. } => Some(last),
            State::AwaitingSnapshot => None,
        }
    }

    fn buffer(&mut self, ids: DiffIds, bids: &[Level], asks: &[Level], c: &VenueCounters) {
        let need = bids.len() + asks.len();
        // make room: drop oldest diffs (counted); the snapshot check decides if sync is still possible
        while !self.buf.is_empty()
            && (self.buf.len() == self.buf.capacity()
                || self.arena.len() + need > self.arena.capacity())
        {
            // compact: remove the first diff and its levels
            let first = self.buf.remove(0);
            let n = first.n_bids + first.n_asks;
            self.arena.drain(0..n);
            for b in &mut self.buf {
                b.start -= n;
            }
            VenueCounters::inc(&c.buffer_dropped);
        }
        if self.arena.len() + need > self.arena.capacity() {
            // a single diff larger than the whole buffer: cannot keep it
            VenueCounters::inc(&c.buffer_dropped);
            return;
        }
        let start = self.arena.len();
        self.arena.extend_from_slice(bids);
        self.arena.extend_from_slice(asks);
        self.buf.push(Buffered {
            ids,
            start,
            n_bids: bids.len(),
            n_asks: asks.len(),
        });
        VenueCounters::inc(&c.buffered_diffs);
    }

    fn continues(&self, prev_last: u64, ids: DiffIds) -> bool {
        match self.rule {
            SyncRule::Spot => ids.first <= prev_last + 1,
            SyncRule::Futures => ids.prev == Some(prev_last),
        }
    }

    fn bridges(&self, snap: u64, ids: DiffIds) -> bool {
        match self.rule {
            SyncRule::Spot => ids.first <= snap + 1 && snap < ids.last,
            SyncRule::Futures => ids.first <= snap && snap <= ids.last,
        }
    }

    fn is_stale(&self, book: u64, ids: DiffIds) -> bool {
        match self.rule {
            SyncRule::Spot => ids.last <= book,
            SyncRule::Futures => ids.last < book,
        }
    }

    fn emit_levels(
        sink: &mut EventSink<'_>,
        inst: InstrumentId,
        bids: &[Level],
        asks: &[Level],
        snap: bool,
    ) {
        for l in bids {
            sink.level(inst, Side::Buy, l.px, l.qty, (l.px_frac, l.qty_frac), snap);
        }
        for l in asks {
            sink.level(inst, Side::Sell, l.px, l.qty, (l.px_frac, l.qty_frac), snap);
        }
    }

    /// One diff arrived.
    pub fn on_diff(
        &mut self,
        inst: InstrumentId,
        ids: DiffIds,
        bids: &[Level],
        asks: &[Level],
        sink: &mut EventSink<'_>,
        c: &VenueCounters,
    ) -> DiffOutcome {
        match self.state {
            State::AwaitingSnapshot => {
                self.buffer(ids, bids, asks, c);
                DiffOutcome::Buffered
            }
            State::Synced { last, first } => {
                if self.is_stale(last, ids) {
                    VenueCounters::inc(&c.stale_diffs);
                    return DiffOutcome::Stale;
                }
                let ok = if first {
                    self.bridges(last, ids)
                } else {
                    self.continues(last, ids)
                };
                if !ok {
                    VenueCounters::inc(&c.gaps);
                    VenueCounters::inc(&c.resyncs);
                    sink.invalid(inst, InvalidReason::Gap);
                    self.state = State::AwaitingSnapshot;
                    self.buf.clear();
                    self.arena.clear();
                    self.buffer(ids, bids, asks, c);
                    self.want_snapshot = true;
                    return DiffOutcome::Gap;
                }
                Self::emit_levels(sink, inst, bids, asks, false);
                sink.commit(inst, ids.last, false, (0, 0));
                self.state = State::Synced {
                    last: ids.last,
                    first: false,
                };
                self.applied += 1;
                DiffOutcome::Applied
            }
        }
    }

    /// A REST snapshot arrived (`last_update_id` = L).
    pub fn on_snapshot(
        &mut self,
        inst: InstrumentId,
        last_update_id: u64,
        bids: &[Level],
        asks: &[Level],
        sink: &mut EventSink<'_>,
        c: &VenueCounters,
    ) -> SnapshotOutcome {
        let l = last_update_id;
        if let State::Synced { last, .. } = self.state {
            if l <= last {
                VenueCounters::inc(&c.snapshots_rejected);
                return SnapshotOutcome::Ignored;
            }
            // a newer snapshot while synced: restart from it (no buffered diffs to add)
            self.buf.clear();
            self.arena.clear();
        }
        // drop buffered diffs the snapshot already contains
        let keep_from = self
            .buf
            .iter()
            .position(|b| !self.is_stale(l, b.ids))
            .unwrap_or(self.buf.len());
        // first remaining must bridge L, the rest must chain
        if let Some(first) = self.buf.get(keep_from) {
            if !self.bridges(l, first.ids) {
                VenueCounters::inc(&c.snapshots_rejected);
                self.want_snapshot = true;
                return SnapshotOutcome::Stale;
            }
            let mut prev = first.ids.last;
            for (k, b) in self.buf[keep_from + 1..].iter().enumerate() {
                if !self.continues(prev, b.ids) {
                    // gap inside the buffer: keep only what follows it, wait for a newer snapshot
                    VenueCounters::inc(&c.gaps);
                    VenueCounters::inc(&c.snapshots_rejected);
                    let cut = keep_from + 1 + k;
                    let n: usize = self.buf[..cut].iter().map(|b| b.n_bids + b.n_asks).sum();
                    self.buf.drain(..cut);
                    self.arena.drain(..n);
                    for b in &mut self.buf {
                        b.start -= n;
                    }
                    self.want_snapshot = true;
                    return SnapshotOutcome::Gap;
                }
                prev = b.ids.last;
            }
        }
        sink.clear(inst, l);
        Self::emit_levels(sink, inst, bids, asks, true);
        let mut last = l;
        let applied = self.buf.len() - keep_from;
        for b in &self.buf[keep_from..] {
            let lv = &self.arena[b.start..b.start + b.n_bids + b.n_asks];
            Self::emit_levels(sink, inst, &lv[..b.n_bids], &lv[b.n_bids..], false);
            last = b.ids.last;
        }
        sink.commit(inst, last, true, (0, 0));
        self.state = State::Synced {
            last,
            first: applied == 0,
        };
        self.buf.clear();
        self.arena.clear();
        VenueCounters::inc(&c.syncs);
        self.applied += applied as u64;
        SnapshotOutcome::Synced(applied)
    }

    /// Connection lost: back to buffering, book invalid.
    pub fn on_disconnect(&mut self, inst: InstrumentId, sink: &mut EventSink<'_>) {
        if matches!(self.state, State::Synced { .. }) {
            sink.invalid(inst, InvalidReason::Disconnected);
        }
        self.state = State::AwaitingSnapshot;
        self.buf.clear();
        self.arena.clear();
        self.want_snapshot = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{MdEvent, MdKind};
    use crate::ring::RawMeta;
    use crate::types::VenueId;

    fn lv(px: i64, qty: i64) -> Level {
        Level {
            px,
            qty,
            px_frac: 0,
            qty_frac: 0,
        }
    }
    fn ids(first: u64, last: u64, prev: Option<u64>) -> DiffIds {
        DiffIds { first, last, prev }
    }

    struct H {
        s: DepthSync,
        c: VenueCounters,
        out: Vec<MdEvent>,
    }
    impl H {
        fn new(rule: SyncRule) -> H {
            H {
                s: DepthSync::new(rule, 16, 64),
                c: VenueCounters::default(),
                out: vec![],
            }
        }
        fn diff(&mut self, i: DiffIds, px: i64) -> DiffOutcome {
            let mut sink = EventSink::to_vec(&mut self.out);
            sink.begin(VenueId(0), &RawMeta::default(), 0);
            let r = self
                .s
                .on_diff(InstrumentId(0), i, &[lv(px, 1)], &[], &mut sink, &self.c);
            sink.end();
            r
        }
        fn snap(&mut self, l: u64) -> SnapshotOutcome {
            let mut sink = EventSink::to_vec(&mut self.out);
            sink.begin(VenueId(0), &RawMeta::default(), 0);
            let r = self.s.on_snapshot(
                InstrumentId(0),
                l,
                &[lv(1, 1)],
                &[lv(1000, 1)],
                &mut sink,
                &self.c,
            );
            sink.end();
            r
        }
        fn kinds(&mut self) -> Vec<MdKind> {
            let k = self.out.iter().map(|e| e.kind).collect();
            self.out.clear();
            k
        }
    }

    #[test]
    fn spot_buffers_until_snapshot_and_applies_bridging_diff() {
        // the real spot sequence: diffs ...202, 203-207, 208-224 arrive before snapshot L=218
        let mut h = H::new(SyncRule::Spot);
        assert_eq!(h.diff(ids(189, 202, None), 10), DiffOutcome::Buffered);
        assert_eq!(h.diff(ids(203, 207, None), 11), DiffOutcome::Buffered);
        assert_eq!(h.diff(ids(208, 224, None), 12), DiffOutcome::Buffered);
        h.kinds();
        assert_eq!(h.snap(218), SnapshotOutcome::Synced(1));
        let k = h.kinds();
        assert_eq!(k.first(), Some(&MdKind::BookClear));
        assert_eq!(k.last(), Some(&MdKind::BookCommit));
        // snapshot 2 levels + bridging diff's 1 level: the two older diffs were dropped
        assert_eq!(k.iter().filter(|k| **k == MdKind::BookLevel).count(), 3);
        assert_eq!(h.s.book_id(), Some(224));
        assert_eq!(h.diff(ids(225, 230, None), 13), DiffOutcome::Applied);
        assert_eq!(h.diff(ids(229, 230, None), 13), DiffOutcome::Stale);
        assert_eq!(h.diff(ids(232, 240, None), 13), DiffOutcome::Gap);
        assert_eq!(VenueCounters::get(&h.c.gaps), 1);
        let k = h.kinds();
        assert!(k.contains(&MdKind::BookInvalid));
        assert!(h.s.awaiting_snapshot());
        assert!(h.s.take_snapshot_request());
    }

    #[test]
    fn spot_first_diff_after_empty_buffer_must_bridge() {
        let mut h = H::new(SyncRule::Spot);
        assert_eq!(h.snap(100), SnapshotOutcome::Synced(0));
        assert_eq!(h.diff(ids(90, 100, None), 1), DiffOutcome::Stale);
        assert_eq!(h.diff(ids(95, 105, None), 1), DiffOutcome::Applied); // U ≤ 101 ≤ u
        let mut h = H::new(SyncRule::Spot);
        h.snap(100);
        assert_eq!(h.diff(ids(102, 105, None), 1), DiffOutcome::Gap); // 101 missing
    }

    #[test]
    fn spot_stale_snapshot_waits_for_newer() {
        let mut h = H::new(SyncRule::Spot);
        h.diff(ids(50, 60, None), 1);
        assert_eq!(h.snap(40), SnapshotOutcome::Stale);
        assert!(h.s.awaiting_snapshot());
        assert_eq!(h.snap(55), SnapshotOutcome::Synced(1));
        assert_eq!(h.s.book_id(), Some(60));
    }

    #[test]
    fn futures_first_diff_may_end_exactly_at_snapshot_id() {
        // USDⓈ-M rule: drop u < L; first must have U ≤ L ≤ u (u == L allowed, unlike spot)
        let mut h = H::new(SyncRule::Futures);
        h.diff(ids(10, 20, Some(9)), 1);
        h.diff(ids(21, 30, Some(20)), 1);
        assert_eq!(h.snap(30), SnapshotOutcome::Synced(1));
        assert_eq!(h.s.book_id(), Some(30));
        assert_eq!(h.diff(ids(31, 35, Some(30)), 1), DiffOutcome::Applied);
        assert_eq!(
            h.diff(ids(40, 45, Some(36)), 1),
            DiffOutcome::Gap,
            "pu != last u"
        );
    }

    #[test]
    fn futures_pu_chain_not_u_plus_one() {
        // futures U need not be prev u + 1 (ids are shared across symbols); only pu matters
        let mut h = H::new(SyncRule::Futures);
        h.snap(100);
        assert_eq!(h.diff(ids(90, 150, Some(80)), 1), DiffOutcome::Applied);
        assert_eq!(h.diff(ids(170, 180, Some(150)), 1), DiffOutcome::Applied);
        assert_eq!(VenueCounters::get(&h.c.gaps), 0);
    }

    #[test]
    fn gap_inside_buffer_rejects_snapshot() {
        let mut h = H::new(SyncRule::Futures);
        h.diff(ids(10, 20, Some(9)), 1);
        h.diff(ids(25, 30, Some(22)), 1); // gap in the buffer
        assert_eq!(h.snap(15), SnapshotOutcome::Gap);
        assert!(h.s.awaiting_snapshot());
        assert_eq!(h.snap(27), SnapshotOutcome::Synced(1));
    }

    #[test]
    fn buffer_overflow_keeps_newest() {
        let mut h = H::new(SyncRule::Spot);
        for i in 0..40u64 {
            h.diff(ids(i * 10 + 1, i * 10 + 10, None), 1);
        }
        // capacity 16 diffs: oldest dropped; a snapshot in the retained range still syncs
        assert_eq!(h.snap(385), SnapshotOutcome::Synced(2));
        assert_eq!(h.s.book_id(), Some(400));
    }

    #[test]
    fn newer_snapshot_while_synced_resets_older_is_ignored() {
        let mut h = H::new(SyncRule::Spot);
        h.snap(100);
        h.diff(ids(101, 110, None), 1);
        assert_eq!(h.snap(105), SnapshotOutcome::Ignored);
        assert_eq!(h.snap(200), SnapshotOutcome::Synced(0));
        assert_eq!(h.s.book_id(), Some(200));
    }
}
