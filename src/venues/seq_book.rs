//! Book sync for venues whose diffs carry an id *range* and whose snapshot comes from REST with
//! one id: Binance spot and futures depth (`U`/`u`, futures also `pu`, vs the snapshot
//! `lastUpdateId`), KuCoin level2 (`sequenceStart`/`sequenceEnd` vs the snapshot `sequence`,
//! each change also carrying its own sequence) and Gate.io v4 `spot.order_book_update`
//! (`U`/`u` vs the snapshot `id`). Buffers diffs until a snapshot arrives, bridges it, applies
//! diffs, and on a gap invalidates the book and asks for a new snapshot. Preallocated, no
//! allocation per message.
//!
//! Rules (`../shared/docs/exchanges.md` §9.3, §10.2, §12.1; Binance "How to manage a local
//! order book correctly"), with the per-venue cases of [`Continuity`]:
//! - a diff `[first, last]` is *stale* if `last <= book` (Binance futures: `last < book`):
//!   dropped (counted `stale_diffs`);
//! - the first diff applied after a snapshot `S` must *bridge* it: `first <= S + 1 <= last`
//!   (KuCoin: `sequenceStart <= S+1`, `sequenceEnd > S`; Gate and Binance spot:
//!   `U <= S+1 <= u`; Binance futures: `U <= S <= u`, `u == S` allowed, or `pu == S`: the
//!   diff right after the snapshot when the one ending at `S` was never received);
//! - each later diff must *continue* the previous one: [`Continuity::Overlap`] (KuCoin:
//!   `first <= prev + 1` and `last > prev`), [`Continuity::Exact`] (Gate: `U == prev_u + 1`),
//!   [`Continuity::BinanceSpot`] (`U <= prev_u + 1`) or [`Continuity::BinanceFutures`]
//!   (`pu == prev_u`); otherwise it is a gap: the book is invalidated, a snapshot is requested,
//!   the diff buffered;
//! - the buffered diffs must also continue each other. KuCoin and Gate check it while
//!   buffering (a break is a gap, counted, and only the diffs after it are kept); Binance checks
//!   it when the snapshot comes (a break after the bridging diff rejects the snapshot, counted
//!   as a gap, and only the diffs after it are kept for the next one);
//! - a change that carries its own sequence (KuCoin) is applied only if that sequence is above
//!   the book's (so the part of a bridging diff the snapshot already holds is skipped).
#![forbid(unsafe_code)]

use crate::book::Level;
use crate::event::InvalidReason;
use crate::feed::{EventSink, VenueCounters};
use crate::types::{InstrumentId, Side};
use crate::venues::handler::{emit_book, emit_level, Ctx, SyncState};
use crate::venues::wire_util::{Buffers, Scale, WireError};

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

/// How consecutive diffs must chain (and, where a venue differs, how a diff bridges a
/// snapshot and when it is stale).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Continuity {
    /// `first <= prev_last + 1` and `last > prev_last` (KuCoin).
    Overlap,
    /// `first == prev_last + 1` (Gate.io).
    Exact,
    /// Binance spot: `U <= prev_u + 1`; the buffered chain is checked when the snapshot comes.
    BinanceSpot,
    /// Binance USDⓈ-M and COIN-M futures: `pu == prev_u` (`U` need not be `prev_u + 1`: ids are
    /// shared across symbols); the first diff after snapshot `S` has `U <= S <= u`, a diff with
    /// `u < S` is stale; the buffered chain is checked when the snapshot comes.
    BinanceFutures,
}

impl Continuity {
    /// `r` continues a diff that ended at `prev`.
    fn continues(self, prev: u64, r: Range) -> bool {
        match self {
            Continuity::Overlap => r.first <= prev.saturating_add(1) && r.last > prev,
            Continuity::Exact => r.first == prev.saturating_add(1),
            Continuity::BinanceSpot => r.first <= prev.saturating_add(1),
            Continuity::BinanceFutures => r.prev == Some(prev),
        }
    }

    /// `r` may be the first diff on top of a snapshot (or book) at `snap`.
    fn bridges(self, snap: u64, r: Range) -> bool {
        match self {
            // the documented `U <= S <= u`, or a diff whose predecessor ended exactly at `S`
            // (`pu == S`): the snapshot holds everything up to `S` and the diff starts right
            // after it. The documented rule alone refuses that diff when the one ending at `S`
            // was never received (it happened before the subscription, e.g. a snapshot taken
            // right after a reconnect or on a quiet symbol): every new snapshot would then end
            // in a false gap (seen on the loopback exchange after a stall reconnect).
            Continuity::BinanceFutures => {
                (r.first <= snap && snap <= r.last) || r.prev == Some(snap)
            }
            _ => r.first <= snap.saturating_add(1) && r.last > snap,
        }
    }

    /// The book at `book` already holds all of `r`.
    fn stale(self, book: u64, r: Range) -> bool {
        match self {
            Continuity::BinanceFutures => r.last < book,
            _ => r.last <= book,
        }
    }

    /// The chain of buffered diffs is checked as they are buffered (else when the snapshot
    /// comes).
    fn checks_while_buffering(self) -> bool {
        matches!(self, Continuity::Overlap | Continuity::Exact)
    }
}

/// Ids of one diff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    /// First update id in the diff (`sequenceStart`, `U`).
    pub first: u64,
    /// Last update id in the diff (`sequenceEnd`, `u`).
    pub last: u64,
    /// Last update id of the previous diff, where the venue sends it (Binance futures `pu`).
    pub prev: Option<u64>,
}

impl Range {
    /// A diff `[first, last]` that does not name its predecessor.
    pub const fn new(first: u64, last: u64) -> Range {
        Range {
            first,
            last,
            prev: None,
        }
    }
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
    /// The buffered diffs break after the bridging one (rules that check the chain when the
    /// snapshot comes): the diffs after the break are kept, a newer snapshot is needed.
    Gap,
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

    /// Diffs buffered now.
    pub fn buffered(&self) -> usize {
        self.buf.len()
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
        let check = self.rule.checks_while_buffering();
        if let Some(prev) = self.buf.last().filter(|_| check) {
            if !self.rule.continues(prev.r.last, r) {
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
            emit_level(sink, inst, ch.side, &ch.lvl, false);
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
                if self.rule.stale(last, r) {
                    VenueCounters::inc(&c.stale_diffs);
                    return DiffOutcome::Stale;
                }
                let ok = if bridge {
                    self.rule.bridges(last, r)
                } else {
                    self.rule.continues(last, r)
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
                sink.commit(inst, r.last, false, None);
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
        let rule = self.rule;
        let keep = self
            .buf
            .iter()
            .position(|b| !rule.stale(snap, b.r))
            .unwrap_or(self.buf.len());
        if let Some(first) = self.buf.get(keep) {
            if !rule.bridges(snap, first.r) {
                VenueCounters::inc(&c.snapshots_rejected);
                self.want_snapshot = true;
                return SnapshotOutcome::TooOld;
            }
        }
        if !rule.checks_while_buffering() {
            let chain = &self.buf[keep..];
            if let Some(k) = chain
                .windows(2)
                .position(|w| !rule.continues(w[0].r.last, w[1].r))
            {
                // a break after the bridging diff: keep what follows it for a newer snapshot
                VenueCounters::inc(&c.gaps);
                VenueCounters::inc(&c.snapshots_rejected);
                self.drop_front(keep + 1 + k);
                self.want_snapshot = true;
                return SnapshotOutcome::Gap;
            }
        }
        sink.clear(inst, snap);
        emit_book(sink, inst, bids, asks, true);
        let mut last = snap;
        let applied = self.buf.len() - keep;
        for b in &self.buf[keep..] {
            Self::emit(sink, inst, &self.arena[b.start..b.start + b.n], last);
            last = b.r.last;
        }
        sink.commit(inst, last, true, None);
        self.state = State::Synced {
            last,
            bridge: applied == 0,
        };
        self.buf.clear();
        self.arena.clear();
        VenueCounters::inc(&c.syncs);
        SnapshotOutcome::Synced(applied)
    }
}

/// A REST snapshot for handler instrument `k` (`None`: the tag did not name one), parsed by
/// `parse` at the instrument's scale into `buf` (levels in `buf.bids/asks`, the snapshot id
/// returned) and applied to the instrument's book. A snapshot that does not parse is counted
/// `snapshots_rejected` as well (KuCoin, Gate.io: their snapshot bodies do not name the
/// instrument, the fetcher's tag does).
pub fn rest_snapshot(
    k: Option<usize>,
    cx: Ctx<'_, '_, SeqSync>,
    buf: &mut Buffers,
    parse: impl FnOnce(Scale, &mut Buffers) -> Result<u64, WireError>,
) -> Result<(), WireError> {
    let Ctx { st, sink } = cx;
    let k = k.ok_or(WireError::UnknownSymbol)?;
    let (c, r) = (&*st.counters, st.symbols.get(k));
    match parse(r.scale, buf) {
        Ok(id) => {
            st.books[k].on_snapshot(r.id, id, &buf.bids, &buf.asks, sink, c);
            Ok(())
        }
        Err(e) => {
            VenueCounters::inc(&c.snapshots_rejected);
            Err(e)
        }
    }
}

impl SyncState for SeqSync {
    /// Connection lost: invalidate, back to buffering.
    fn on_disconnect(&mut self, inst: InstrumentId, sink: &mut EventSink<'_>) {
        if matches!(self.state, State::Synced { .. }) {
            sink.invalid(inst, InvalidReason::Disconnected);
        }
        self.state = State::AwaitingSnapshot;
        self.buf.clear();
        self.arena.clear();
        self.want_snapshot = true;
    }

    /// True once when a REST snapshot should be fetched (clears the request).
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
        Range::new(first, last)
    }

    struct H {
        s: SeqSync,
        c: VenueCounters,
        out: Vec<MdEvent>,
    }
    impl H {
        fn new(rule: Continuity) -> H {
            H::with_capacity(rule, 8, 64)
        }
        fn with_capacity(rule: Continuity, diffs: usize, levels: usize) -> H {
            H {
                s: SeqSync::new(rule, diffs, levels),
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
        /// A snapshot of one bid at 1 and one ask at 1000 (the Binance cases).
        fn snap2(&mut self, id: u64) -> SnapshotOutcome {
            let l = |px| Level {
                px,
                qty: 1,
                px_frac: 0,
                qty_frac: 0,
            };
            let mut sink = EventSink::to_vec(&mut self.out);
            sink.begin(VenueId(0), &RawMeta::default(), 0);
            let (b, a) = ([l(1)], [l(1000)]);
            let o = self
                .s
                .on_snapshot(InstrumentId(0), id, &b, &a, &mut sink, &self.c);
            sink.end();
            o
        }
        /// A Binance diff `[first, last]` (`pu` = `prev`) of one bid at `px`.
        fn bn(&mut self, first: u64, last: u64, prev: Option<u64>, px: i64) -> DiffOutcome {
            let rg = Range { first, last, prev };
            self.diff(rg, &[ch(Side::Buy, px, 1, 0)])
        }
        fn kinds(&mut self) -> Vec<MdKind> {
            let k = self.out.iter().map(|e| e.kind).collect();
            self.out.clear();
            k
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

    #[test]
    fn binance_spot_buffers_until_snapshot_and_applies_bridging_diff() {
        // the real spot sequence: diffs ...202, 203-207, 208-224 arrive before snapshot L=218
        let mut h = H::with_capacity(Continuity::BinanceSpot, 16, 64);
        assert_eq!(h.bn(189, 202, None, 10), DiffOutcome::Buffered);
        assert_eq!(h.bn(203, 207, None, 11), DiffOutcome::Buffered);
        assert_eq!(h.bn(208, 224, None, 12), DiffOutcome::Buffered);
        h.kinds();
        assert_eq!(h.snap2(218), SnapshotOutcome::Synced(1));
        let k = h.kinds();
        assert_eq!(k.first(), Some(&MdKind::BookClear));
        assert_eq!(k.last(), Some(&MdKind::BookCommit));
        // snapshot 2 levels + bridging diff's 1 level: the two older diffs were dropped
        assert_eq!(k.iter().filter(|k| **k == MdKind::BookLevel).count(), 3);
        assert_eq!(h.s.book_id(), Some(224));
        assert_eq!(h.bn(225, 230, None, 13), DiffOutcome::Applied);
        assert_eq!(h.bn(229, 230, None, 13), DiffOutcome::Stale);
        assert_eq!(h.bn(232, 240, None, 13), DiffOutcome::Gap);
        assert_eq!(VenueCounters::get(&h.c.gaps), 1);
        let k = h.kinds();
        assert!(k.contains(&MdKind::BookInvalid));
        assert!(h.s.book_id().is_none(), "awaiting a snapshot");
        assert!(h.s.take_snapshot_request());
    }

    #[test]
    fn binance_spot_first_diff_after_empty_buffer_must_bridge() {
        let mut h = H::with_capacity(Continuity::BinanceSpot, 16, 64);
        assert_eq!(h.snap2(100), SnapshotOutcome::Synced(0));
        assert_eq!(h.bn(90, 100, None, 1), DiffOutcome::Stale);
        assert_eq!(h.bn(95, 105, None, 1), DiffOutcome::Applied); // U ≤ 101 ≤ u
        let mut h = H::with_capacity(Continuity::BinanceSpot, 16, 64);
        h.snap2(100);
        assert_eq!(h.bn(102, 105, None, 1), DiffOutcome::Gap); // 101 missing
    }

    #[test]
    fn binance_spot_stale_snapshot_waits_for_newer() {
        let mut h = H::with_capacity(Continuity::BinanceSpot, 16, 64);
        h.bn(50, 60, None, 1);
        assert_eq!(h.snap2(40), SnapshotOutcome::TooOld);
        assert!(h.s.book_id().is_none(), "awaiting a snapshot");
        assert_eq!(h.snap2(55), SnapshotOutcome::Synced(1));
        assert_eq!(h.s.book_id(), Some(60));
    }

    #[test]
    fn binance_futures_first_diff_may_end_exactly_at_snapshot_id() {
        // USDⓈ-M rule: drop u < L; first must have U ≤ L ≤ u (u == L allowed, unlike spot)
        let mut h = H::with_capacity(Continuity::BinanceFutures, 16, 64);
        h.bn(10, 20, Some(9), 1);
        h.bn(21, 30, Some(20), 1);
        assert_eq!(h.snap2(30), SnapshotOutcome::Synced(1));
        assert_eq!(h.s.book_id(), Some(30));
        assert_eq!(h.bn(31, 35, Some(30), 1), DiffOutcome::Applied);
        assert_eq!(h.bn(40, 45, Some(36), 1), DiffOutcome::Gap, "pu != last u");
    }

    #[test]
    fn binance_futures_a_diff_whose_pu_is_the_snapshot_id_bridges_it() {
        // the diff ending at L was sent before this connection subscribed: the first one it
        // gets starts after L (U > L) and names L as its predecessor (pu == L)
        let mut h = H::with_capacity(Continuity::BinanceFutures, 16, 64);
        assert_eq!(h.snap2(100), SnapshotOutcome::Synced(0));
        assert_eq!(h.bn(105, 110, Some(100), 1), DiffOutcome::Applied);
        assert_eq!(h.s.book_id(), Some(110));
        // the same diff buffered before the snapshot
        let mut h = H::with_capacity(Continuity::BinanceFutures, 16, 64);
        h.bn(105, 110, Some(100), 1);
        assert_eq!(h.snap2(100), SnapshotOutcome::Synced(1));
        // still a gap when the diff neither spans L nor follows it
        let mut h = H::with_capacity(Continuity::BinanceFutures, 16, 64);
        h.snap2(100);
        assert_eq!(h.bn(105, 110, Some(102), 1), DiffOutcome::Gap);
        let mut h = H::with_capacity(Continuity::BinanceFutures, 16, 64);
        h.bn(105, 110, Some(102), 1);
        assert_eq!(h.snap2(100), SnapshotOutcome::TooOld);
        assert_eq!(VenueCounters::get(&h.c.snapshots_rejected), 1);
    }

    #[test]
    fn binance_futures_pu_chain_not_u_plus_one() {
        // futures U need not be prev u + 1 (ids are shared across symbols); only pu matters
        let mut h = H::with_capacity(Continuity::BinanceFutures, 16, 64);
        h.snap2(100);
        assert_eq!(h.bn(90, 150, Some(80), 1), DiffOutcome::Applied);
        assert_eq!(h.bn(170, 180, Some(150), 1), DiffOutcome::Applied);
        assert_eq!(VenueCounters::get(&h.c.gaps), 0);
    }

    #[test]
    fn binance_gap_inside_buffer_rejects_snapshot() {
        let mut h = H::with_capacity(Continuity::BinanceFutures, 16, 64);
        h.bn(10, 20, Some(9), 1);
        h.bn(25, 30, Some(22), 1); // gap in the buffer
        assert_eq!(h.snap2(15), SnapshotOutcome::Gap);
        assert!(h.s.book_id().is_none(), "awaiting a snapshot");
        assert_eq!(h.snap2(27), SnapshotOutcome::Synced(1));
    }

    #[test]
    fn binance_buffer_overflow_keeps_newest() {
        let mut h = H::with_capacity(Continuity::BinanceSpot, 16, 64);
        for i in 0..40u64 {
            h.bn(i * 10 + 1, i * 10 + 10, None, 1);
        }
        // capacity 16 diffs: oldest dropped; a snapshot in the retained range still syncs
        assert_eq!(h.snap2(385), SnapshotOutcome::Synced(2));
        assert_eq!(h.s.book_id(), Some(400));
    }

    #[test]
    fn binance_newer_snapshot_while_synced_resets_older_is_ignored() {
        let mut h = H::with_capacity(Continuity::BinanceSpot, 16, 64);
        h.snap2(100);
        h.bn(101, 110, None, 1);
        assert_eq!(h.snap2(105), SnapshotOutcome::Ignored);
        assert_eq!(h.snap2(200), SnapshotOutcome::Synced(0));
        assert_eq!(h.s.book_id(), Some(200));
    }
}
