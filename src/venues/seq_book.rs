//! Book sync for venues whose diffs carry an id *range* and whose snapshot comes from REST with
//! one id: KuCoin level2 (`sequenceStart`/`sequenceEnd` vs the snapshot `sequence`, each change
//! also carrying its own sequence) and Gate.io v4 `spot.order_book_update` (`U`/`u` vs the
//! snapshot `id`). Buffers diffs until a snapshot arrives, bridges it, applies diffs, and on a
//! gap invalidates the book and asks for a new snapshot. Preallocated, no allocation per message.
//!
//! Rules (`../shared/docs/exchanges.md` §9.3, §10.2, §12.1):
//! - a diff `[first, last]` is *stale* if `last <= book`: dropped (counted `stale_diffs`);
//! - the first diff applied after a snapshot `S` must *bridge* it: `first <= S + 1 <= last`
//!   (KuCoin: `sequenceStart <= S+1`, `sequenceEnd > S`; Gate: `U <= id+1 <= u`);
//! - each later diff must *continue* the previous one: [`Continuity::Overlap`] (KuCoin:
//!   `first <= prev + 1` and `last > prev`) or [`Continuity::Exact`] (Gate: `U == prev_u + 1`);
//!   otherwise it is a gap: the book is invalidated, a snapshot is requested, the diff buffered;
//! - while waiting for a snapshot the buffered diffs must also continue each other; a break
//!   is a gap too (counted), and only the diffs after it are kept;
//! - a change that carries its own sequence (KuCoin) is applied only if that sequence is above
//!   the book's (so the part of a bridging diff the snapshot already holds is skipped).
#![forbid(unsafe_code)]

use crate::book::Level;
use crate::event::InvalidReason;
use crate::feed::{EventSink, VenueCounters};
use crate::types::{InstrumentId, Side};

/// One change of a diff: side, level (absolute quantity, 0 deletes), and the change's own
/// sequence (0 = the venue gives none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeqLevel {
    /// Book side.
    pub side: Side,
    /// Price and absolute quantity (with the text's fractional digits).
    pub lvl: Level,
    /// Sequence of this change (KuCoin), 0 if none.
    pub seq: u64,
}

/// How consecutive diffs must chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Continuity {
    /// `first <= prev_last + 1` and `last > prev_last` (KuCoin).
    Overlap,
    /// `first == prev_last + 1` (Gate.io).
    Exact,
}

/// Ids of one diff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    /// First update id in the diff (`sequenceStart`, `U`).
    pub first: u64,
    /// Last update id in the diff (`sequenceEnd`, `u`).
    pub last: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    AwaitingSnapshot,
    /// Book at `last`; `bridge` = the next diff must bridge (first after a snapshot).
    Synced {
        last: u64,
        bridge: bool,
    },
}

#[derive(Clone, Copy, Debug)]
struct Buffered {
    r: Range,
    start: usize,
    n: usize,
}

/// What happened to a diff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffOutcome {
    /// Applied to the synced book.
    Applied,
    /// Older than the book: dropped.
    Stale,
    /// Buffered until a snapshot.
    Buffered,
    /// Gap: book invalidated, snapshot requested, diff buffered.
    Gap,
}

/// What happened to a snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotOutcome {
    /// The book is synced from it, with this many buffered diffs on top.
    Synced(usize),
    /// The buffered diffs start after `S + 1`: a newer snapshot is needed.
    TooOld,
    /// Not newer than the synced book: ignored.
    Ignored,
}

/// Sync state of one instrument's book.
#[derive(Debug)]
pub struct SeqSync {
    rule: Continuity,
    state: State,
    buf: Vec<Buffered>,
    arena: Vec<SeqLevel>,
    want_snapshot: bool,
}

impl SeqSync {
    /// Waiting for a snapshot; buffers at most `max_diffs` diffs holding `max_levels` changes.
    pub fn new(rule: Continuity, max_diffs: usize, max_levels: usize) -> SeqSync {
        SeqSync {
            rule,
            state: State::AwaitingSnapshot,
            buf: Vec::with_capacity(max_diffs.max(1)),
            arena: Vec::with_capacity(max_levels.max(1)),
            want_snapshot: true,
        }
    }

    /// Update id the book is at, if synced.
    pub fn book_id(&self) -> Option<u64> {
        match self.state {
            State::Synced { last, .. } => Some(last),
            State::AwaitingSnapshot => None,
        }
    }

    /// True once when a REST snapshot should be fetched (clears the request).
    pub fn take_snapshot_request(&mut self) -> bool {
        std::mem::take(&mut self.want_snapshot)
    }

    /// Diffs buffered now.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    fn continues(&self, prev: u64, r: Range) -> bool {
        match self.rule {
            Continuity::Overlap => r.first <= prev.saturating_add(1) && r.last > prev,
            Continuity::Exact => r.first == prev.saturating_add(1),
        }
    }

    fn bridges(snap: u64, r: Range) -> bool {
        r.first <= snap.saturating_add(1) && r.last > snap
    }

    fn drop_front(&mut self, k: usize) {
        let n: usize = self.buf[..k].iter().map(|b| b.n).sum();
        self.buf.drain(..k);
        self.arena.drain(..n);
        for b in &mut self.buf {
            b.start -= n;
        }
    }

    fn buffer(&mut self, r: Range, changes: &[SeqLevel], c: &VenueCounters) {
        if let Some(prev) = self.buf.last() {
            if !self.continues(prev.r.last, r) {
                // the buffered diffs before the break can never bridge a later snapshot
                VenueCounters::inc(&c.gaps);
                let k = self.buf.len();
                self.drop_front(k);
            }
        }
        while !self.buf.is_empty()
            && (self.buf.len() == self.buf.capacity()
                || self.arena.len() + changes.len() > self.arena.capacity())
        {
            self.drop_front(1);
            VenueCounters::inc(&c.buffer_dropped);
        }
        if self.arena.len() + changes.len() > self.arena.capacity() {
            VenueCounters::inc(&c.buffer_dropped);
            return;
        }
        let start = self.arena.len();
        self.arena.extend_from_slice(changes);
        self.buf.push(Buffered {
            r,
            start,
            n: changes.len(),
        });
        VenueCounters::inc(&c.buffered_diffs);
    }

    fn emit(sink: &mut EventSink<'_>, inst: InstrumentId, changes: &[SeqLevel], above: u64) {
        for ch in changes {
            if ch.seq != 0 && ch.seq <= above {
                continue; // the book already holds this change
            }
            let l = ch.lvl;
            sink.level(inst, ch.side, l.px, l.qty, (l.px_frac, l.qty_frac), false);
        }
    }

    /// A diff arrived.
    pub fn on_diff(
        &mut self,
        inst: InstrumentId,
        r: Range,
        changes: &[SeqLevel],
        sink: &mut EventSink<'_>,
        c: &VenueCounters,
    ) -> DiffOutcome {
        match self.state {
            State::AwaitingSnapshot => {
                self.buffer(r, changes, c);
                DiffOutcome::Buffered
            }
            State::Synced { last, bridge } => {
                if r.last <= last {
                    VenueCounters::inc(&c.stale_diffs);
                    return DiffOutcome::Stale;
                }
                let ok = if bridge {
                    Self::bridges(last, r)
                } else {
                    self.continues(last, r)
                };
                if !ok {
                    VenueCounters::inc(&c.gaps);
                    VenueCounters::inc(&c.resyncs);
                    sink.invalid(inst, InvalidReason::Gap);
                    self.state = State::AwaitingSnapshot;
                    self.buf.clear();
                    self.arena.clear();
                    self.buffer(r, changes, c);
                    self.want_snapshot = true;
                    return DiffOutcome::Gap;
                }
                Self::emit(sink, inst, changes, last);
                sink.commit(inst, r.last, false, (0, 0));
                self.state = State::Synced {
                    last: r.last,
                    bridge: false,
                };
                DiffOutcome::Applied
            }
        }
    }

    /// A REST snapshot at id `snap` arrived (`bids` best first or not: the book sorts).
    pub fn on_snapshot(
        &mut self,
        inst: InstrumentId,
        snap: u64,
        bids: &[Level],
        asks: &[Level],
        sink: &mut EventSink<'_>,
        c: &VenueCounters,
    ) -> SnapshotOutcome {
        if let State::Synced { last, .. } = self.state {
            if snap <= last {
                VenueCounters::inc(&c.snapshots_rejected);
                return SnapshotOutcome::Ignored;
            }
            self.buf.clear();
            self.arena.clear();
        }
        let keep = self
            .buf
            .iter()
            .position(|b| b.r.last > snap)
            .unwrap_or(self.buf.len());
        if let Some(first) = self.buf.get(keep) {
            if !Self::bridges(snap, first.r) {
                VenueCounters::inc(&c.snapshots_rejected);
                self.want_snapshot = true;
                return SnapshotOutcome::TooOld;
            }
        }
        sink.clear(inst, snap);
        for l in bids {
            sink.level(inst, Side::Buy, l.px, l.qty, (l.px_frac, l.qty_frac), true);
        }
        for l in asks {
            sink.level(inst, Side::Sell, l.px, l.qty, (l.px_frac, l.qty_frac), true);
        }
        let mut last = snap;
        let applied = self.buf.len() - keep;
        for b in &self.buf[keep..] {
            Self::emit(sink, inst, &self.arena[b.start..b.start + b.n], last);
            last = b.r.last;
        }
        sink.commit(inst, last, true, (0, 0));
        self.state = State::Synced {
            last,
            bridge: applied == 0,
        };
        self.buf.clear();
        self.arena.clear();
        VenueCounters::inc(&c.syncs);
        SnapshotOutcome::Synced(applied)
    }

    /// Connection lost: invalidate, back to buffering.
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

    fn ch(side: Side, px: i64, qty: i64, seq: u64) -> SeqLevel {
        SeqLevel {
            side,
            lvl: Level {
                px,
                qty,
                px_frac: 0,
                qty_frac: 0,
            },
            seq,
        }
    }
    fn r(first: u64, last: u64) -> Range {
        Range { first, last }
    }

    struct H {
        s: SeqSync,
        c: VenueCounters,
        out: Vec<MdEvent>,
    }
    impl H {
        fn new(rule: Continuity) -> H {
            H {
                s: SeqSync::new(rule, 8, 64),
                c: VenueCounters::default(),
                out: vec![],
            }
        }
        fn diff(&mut self, rg: Range, changes: &[SeqLevel]) -> DiffOutcome {
            let mut sink = EventSink::to_vec(&mut self.out);
            sink.begin(VenueId(0), &RawMeta::default(), 0);
            let o = self
                .s
                .on_diff(InstrumentId(0), rg, changes, &mut sink, &self.c);
            sink.end();
            o
        }
        fn snap(&mut self, id: u64) -> SnapshotOutcome {
            let b = [Level {
                px: 10,
                qty: 1,
                px_frac: 0,
                qty_frac: 0,
            }];
            let mut sink = EventSink::to_vec(&mut self.out);
            sink.begin(VenueId(0), &RawMeta::default(), 0);
            let o = self
                .s
                .on_snapshot(InstrumentId(0), id, &b, &[], &mut sink, &self.c);
            sink.end();
            o
        }
        fn levels(&mut self) -> Vec<(i64, i64)> {
            let v = self
                .out
                .iter()
                .filter(|e| e.kind == MdKind::BookLevel)
                .map(|e| (e.p0, e.q0))
                .collect();
            self.out.clear();
            v
        }
    }

    #[test]
    fn kucoin_calibration_skips_changes_the_snapshot_holds() {
        // real shape: diffs 874..874, 875..875, ... snapshot sequence 892 taken in between
        let mut h = H::new(Continuity::Overlap);
        assert_eq!(
            h.diff(r(880, 885), &[ch(Side::Sell, 100, 1, 885)]),
            DiffOutcome::Buffered
        );
        assert_eq!(
            h.diff(
                r(886, 895),
                &[ch(Side::Sell, 101, 2, 890), ch(Side::Buy, 99, 3, 894)]
            ),
            DiffOutcome::Buffered
        );
        h.levels();
        assert_eq!(h.snap(892), SnapshotOutcome::Synced(1));
        // snapshot level + only the change with seq 894 > 892
        assert_eq!(h.levels(), vec![(10, 1), (99, 3)]);
        assert_eq!(h.s.book_id(), Some(895));
        assert_eq!(h.diff(r(896, 896), &[]), DiffOutcome::Applied);
        assert_eq!(h.diff(r(890, 896), &[]), DiffOutcome::Stale);
        // overlap allowed: 895..900 continues 896
        assert_eq!(
            h.diff(r(895, 900), &[ch(Side::Buy, 98, 1, 897)]),
            DiffOutcome::Applied
        );
        assert_eq!(h.levels(), vec![(98, 1)]);
        assert_eq!(h.diff(r(902, 903), &[]), DiffOutcome::Gap, "901 missing");
        assert_eq!(VenueCounters::get(&h.c.gaps), 1);
        assert!(h.s.book_id().is_none());
        assert!(h.s.take_snapshot_request());
        assert!(!h.s.take_snapshot_request(), "request taken once");
    }

    #[test]
    fn first_live_diff_after_snapshot_must_bridge() {
        let mut h = H::new(Continuity::Exact);
        assert_eq!(h.snap(100), SnapshotOutcome::Synced(0));
        assert_eq!(h.diff(r(95, 100), &[]), DiffOutcome::Stale);
        assert_eq!(
            h.diff(r(95, 105), &[]),
            DiffOutcome::Applied,
            "U <= id+1 <= u"
        );
        assert_eq!(h.diff(r(106, 106), &[]), DiffOutcome::Applied);
        assert_eq!(
            h.diff(r(106, 108), &[]),
            DiffOutcome::Gap,
            "Gate: U must be prev_u + 1"
        );
        let mut h = H::new(Continuity::Exact);
        h.snap(100);
        assert_eq!(h.diff(r(102, 105), &[]), DiffOutcome::Gap, "101 missing");
    }

    #[test]
    fn snapshot_older_than_the_buffer_waits_for_a_newer_one() {
        let mut h = H::new(Continuity::Exact);
        h.diff(r(50, 60), &[]);
        h.diff(r(61, 70), &[]);
        assert_eq!(h.snap(40), SnapshotOutcome::TooOld);
        assert!(h.s.book_id().is_none());
        assert_eq!(h.snap(65), SnapshotOutcome::Synced(1));
        assert_eq!(h.s.book_id(), Some(70));
        assert_eq!(h.snap(70), SnapshotOutcome::Ignored);
        assert_eq!(
            h.snap(80),
            SnapshotOutcome::Synced(0),
            "newer snapshot restarts"
        );
    }

    #[test]
    fn break_while_buffering_is_a_gap_and_keeps_only_what_follows() {
        let mut h = H::new(Continuity::Exact);
        h.diff(r(1, 10), &[ch(Side::Buy, 5, 1, 0)]);
        h.diff(r(12, 20), &[ch(Side::Buy, 6, 1, 0)]);
        assert_eq!(VenueCounters::get(&h.c.gaps), 1);
        assert_eq!(h.s.buffered(), 1);
        assert_eq!(h.snap(5), SnapshotOutcome::TooOld, "11 is lost for good");
        h.levels();
        assert_eq!(h.snap(15), SnapshotOutcome::Synced(1));
        assert_eq!(h.levels(), vec![(10, 1), (6, 1)]);
    }

    #[test]
    fn full_buffer_drops_oldest_without_growing() {
        let mut h = H::new(Continuity::Exact);
        for i in 0..20u64 {
            h.diff(r(i * 10 + 1, i * 10 + 10), &[ch(Side::Buy, 1, 1, 0)]);
        }
        assert_eq!(h.s.buffered(), 8);
        assert_eq!(h.s.buf.capacity(), 8);
        assert_eq!(h.s.arena.capacity(), 64);
        assert!(VenueCounters::get(&h.c.buffer_dropped) >= 12);
        assert_eq!(h.snap(150), SnapshotOutcome::Synced(5));
        assert_eq!(h.s.book_id(), Some(200));
    }

    #[test]
    fn disconnect_invalidates_and_requests_snapshot() {
        let mut h = H::new(Continuity::Overlap);
        h.snap(1);
        h.s.take_snapshot_request();
        let mut sink = EventSink::to_vec(&mut h.out);
        sink.begin(VenueId(0), &RawMeta::default(), 0);
        h.s.on_disconnect(InstrumentId(0), &mut sink);
        sink.end();
        assert!(h.out.iter().any(|e| e.kind == MdKind::BookInvalid));
        assert!(h.s.take_snapshot_request());
        assert!(h.s.book_id().is_none());
    }
}
