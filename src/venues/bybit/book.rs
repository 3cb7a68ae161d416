//! Bybit v5 order-book synchronisation (R1.2), from the docs
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
#![forbid(unsafe_code)]

use crate::book::Level;
use crate::event::InvalidReason;
use crate::feed::{EventSink, VenueCounters};
use crate::types::{InstrumentId, Side};

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

    /// True once after a gap.
    pub fn take_resync_request(&mut self) -> bool {
        std::mem::take(&mut self.want_resync)
    }

    fn emit(sink: &mut EventSink<'_>, inst: InstrumentId, b: &[Level], a: &[Level], snap: bool) {
        for l in b {
            sink.level(inst, Side::Buy, l.px, l.qty, (l.px_frac, l.qty_frac), snap);
        }
        for l in a {
            sink.level(inst, Side::Sell, l.px, l.qty, (l.px_frac, l.qty_frac), snap);
        }
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
        sink.clear(inst, u);
        Self::emit(sink, inst, bids, asks, true);
        sink.commit(inst, u, true, (0, 0));
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
        Self::emit(sink, inst, bids, asks, false);
        sink.commit(inst, u, false, (0, 0));
        self.last_u = Some(u);
        Outcome::Applied
    }

    /// Connection lost.
    pub fn on_disconnect(&mut self, inst: InstrumentId, sink: &mut EventSink<'_>) {
        if self.last_u.is_some() {
            sink.invalid(inst, InvalidReason::Disconnected);
        }
        self.last_u = None;
        self.want_resync = false;
    }
}
