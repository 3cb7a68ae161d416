//! Bybit order-book synchronisation (R1.2), one sync state per protocol.
//!
//! v5 ([`BookSync`]), from the docs
//! (<https://bybit-exchange.github.io/docs/v5/websocket/public/orderbook>):
//! - a `snapshot` follows the subscription and may come again at any time (also with `u = 1`
//!   after a service restart): it replaces the book;
//! - each `delta` carries the update id `u`, which the docs call "generally continuous"; the
//!   recorded v5 data confirms `u` rising by exactly 1, so `u != last + 1` is treated as a
//!   gap: the book is invalidated and a fresh snapshot requested (resubscribe);
//! - size `"0"` deletes; an unknown price inserts; otherwise the size is replaced;
//! - levels that leave the subscribed depth are deleted by the exchange itself (the recorded
//!   500-level book stays at exactly 500 per side through every delta), so no truncation;
//! - no checksum.
//!
//! v2 ([`LegacySync`], the retired `orderBookL2_25` feed of [`super::wire::v2`]):
//! the book is the top 25 levels per side, keyed by level `id` (one id
//! per price, so the price is the key here). A delta's `cross_seq` must be greater than the
//! previous one; every `delete` and `update` must name a level the book has, every `insert` one
//! it has not (the exchange deletes levels that leave the top 25 itself). A message that breaks
//! these rules proves a lost message: the book is invalidated and resynced. On both recordings
//! every one of the 4,268 deltas keeps them.
#![forbid(unsafe_code)]

use super::wire::v2::{Entry, Op};
use crate::book::Level;
use crate::event::InvalidReason;
use crate::feed::{EventSink, VenueCounters};
use crate::types::{InstrumentId, Side};
use crate::venues::handler::{emit_level, emit_snapshot, emit_update, SyncState};

/// What happened to one delta.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Applied.
    Applied,
    /// No snapshot yet (or since a gap): dropped.
    Dropped,
    /// `u` skipped: book invalidated, snapshot requested.
    Gap,
}

/// Sync state of one symbol's book.
#[derive(Debug, Default)]
pub struct BookSync {
    last_u: Option<u64>,
    want_resync: bool,
}

impl BookSync {
    /// Waiting for the snapshot.
    pub fn new() -> BookSync {
        BookSync::default()
    }

    /// `u` of the last applied message, if synced.
    pub fn last_u(&self) -> Option<u64> {
        self.last_u
    }

    /// A snapshot replaces the book.
    pub fn on_snapshot(
        &mut self,
        inst: InstrumentId,
        u: u64,
        bids: &[Level],
        asks: &[Level],
        sink: &mut EventSink<'_>,
        c: &VenueCounters,
    ) {
        if self.last_u.is_some() {
            VenueCounters::inc(&c.resyncs);
        }
        emit_snapshot(sink, inst, u, bids, asks, None);
        self.last_u = Some(u);
        self.want_resync = false;
        VenueCounters::inc(&c.syncs);
    }

    /// A delta.
    pub fn on_delta(
        &mut self,
        inst: InstrumentId,
        u: u64,
        bids: &[Level],
        asks: &[Level],
        sink: &mut EventSink<'_>,
        c: &VenueCounters,
    ) -> Outcome {
        let Some(last) = self.last_u else {
            VenueCounters::inc(&c.stale_diffs);
            return Outcome::Dropped;
        };
        if u != last.wrapping_add(1) {
            VenueCounters::inc(&c.gaps);
            VenueCounters::inc(&c.resyncs);
            sink.invalid(inst, InvalidReason::Gap);
            self.last_u = None;
            self.want_resync = true;
            return Outcome::Gap;
        }
        emit_update(sink, inst, u, bids, asks, None);
        self.last_u = Some(u);
        Outcome::Applied
    }
}

impl SyncState for BookSync {
    /// Connection lost.
    fn on_disconnect(&mut self, inst: InstrumentId, sink: &mut EventSink<'_>) {
        if self.last_u.is_some() {
            sink.invalid(inst, InvalidReason::Disconnected);
        }
        self.last_u = None;
        self.want_resync = false;
    }

    /// True once after a gap.
    fn take_snapshot_request(&mut self) -> bool {
        std::mem::take(&mut self.want_resync)
    }
}

/// Prices present on one side of a legacy book (at most `cap`), for the consistency rules.
#[derive(Debug)]
struct Present {
    px: Vec<i64>,
}

impl Present {
    fn with_capacity(cap: usize) -> Present {
        Present {
            px: Vec::with_capacity(cap),
        }
    }
    fn has(&self, p: i64) -> bool {
        self.px.contains(&p)
    }
    fn add(&mut self, p: i64) -> bool {
        if self.px.len() == self.px.capacity() || self.has(p) {
            return false;
        }
        self.px.push(p);
        true
    }
    fn remove(&mut self, p: i64) -> bool {
        match self.px.iter().position(|x| *x == p) {
            Some(i) => {
                self.px.swap_remove(i);
                true
            }
            None => false,
        }
    }
}

/// Sync state of one legacy book.
#[derive(Debug)]
pub struct LegacySync {
    last: Option<u64>,
    bids: Present,
    asks: Present,
    want_resync: bool,
}

impl LegacySync {
    /// Waiting for a snapshot; books up to `cap` levels per side.
    pub fn new(cap: usize) -> LegacySync {
        LegacySync {
            last: None,
            bids: Present::with_capacity(cap),
            asks: Present::with_capacity(cap),
            want_resync: false,
        }
    }

    fn side(&mut self, s: Side) -> &mut Present {
        match s {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    fn emit(sink: &mut EventSink<'_>, inst: InstrumentId, entries: &[Entry], snap: bool) {
        for e in entries {
            emit_level(sink, inst, e.side, &e.level, snap);
        }
    }

    fn gap(&mut self, inst: InstrumentId, sink: &mut EventSink<'_>, c: &VenueCounters) {
        VenueCounters::inc(&c.gaps);
        VenueCounters::inc(&c.resyncs);
        sink.invalid(inst, InvalidReason::Gap);
        self.last = None;
        self.want_resync = true;
    }

    /// A snapshot replaces the book. A snapshot that lists a price twice (or more levels than
    /// the book can hold) is refused: false.
    pub fn on_snapshot(
        &mut self,
        inst: InstrumentId,
        cross_seq: u64,
        entries: &[Entry],
        sink: &mut EventSink<'_>,
        c: &VenueCounters,
    ) -> bool {
        if self.last.is_some() {
            VenueCounters::inc(&c.resyncs);
        }
        self.bids.px.clear();
        self.asks.px.clear();
        for e in entries {
            if !self.side(e.side).add(e.level.px) {
                VenueCounters::inc(&c.snapshots_rejected);
                self.last = None;
                self.want_resync = true;
                return false;
            }
        }
        sink.clear(inst, cross_seq);
        Self::emit(sink, inst, entries, true);
        sink.commit(inst, cross_seq, true, None);
        self.last = Some(cross_seq);
        self.want_resync = false;
        VenueCounters::inc(&c.syncs);
        true
    }

    /// A delta: applied only if it keeps the feed's rules (see the module doc).
    pub fn on_delta(
        &mut self,
        inst: InstrumentId,
        cross_seq: u64,
        entries: &[Entry],
        sink: &mut EventSink<'_>,
        c: &VenueCounters,
    ) -> bool {
        let Some(last) = self.last else {
            VenueCounters::inc(&c.stale_diffs);
            return false;
        };
        if cross_seq <= last {
            self.gap(inst, sink, c);
            return false;
        }
        for e in entries {
            let p = e.level.px;
            let ok = match e.op {
                Op::Delete => self.side(e.side).remove(p),
                Op::Update => self.side(e.side).has(p),
                Op::Insert => self.side(e.side).add(p),
                Op::Snapshot => false,
            };
            if !ok {
                self.gap(inst, sink, c);
                return false;
            }
        }
        Self::emit(sink, inst, entries, false);
        sink.commit(inst, cross_seq, false, None);
        self.last = Some(cross_seq);
        true
    }
}

impl SyncState for LegacySync {
    /// Connection lost (a resync already asked for stays asked for).
    fn on_disconnect(&mut self, inst: InstrumentId, sink: &mut EventSink<'_>) {
        if self.last.is_some() {
            sink.invalid(inst, InvalidReason::Disconnected);
        }
        self.last = None;
    }

    /// True once after a gap or a refused snapshot.
    fn take_snapshot_request(&mut self) -> bool {
        std::mem::take(&mut self.want_resync)
    }
}
