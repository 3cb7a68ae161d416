//! Binance depth-book synchronisation (R1.2): REST snapshot + buffered diff stream, on the
//! shared sequenced book ([`crate::venues::seq_book::SeqSync`]) with the Binance cases of its
//! rule ([`Continuity::BinanceSpot`], [`Continuity::BinanceFutures`]).
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
//! the oldest diffs are discarded (counted) and the next snapshot is judged against what is
//! left, including the chain of the buffered diffs after the bridging one (a break there
//! rejects the snapshot). The book itself lives on the detection thread
//! ([`crate::book::L2Book`]).
//!
//! A partial-book stream (`depth5/10/20`) needs none of this: each message is the whole top N
//! at one update id and replaces the book ([`BookSync::on_partial`]).
#![forbid(unsafe_code)]

pub use crate::venues::seq_book::{Continuity, DiffOutcome, Range, SeqSync, SnapshotOutcome};

use crate::book::Level;
use crate::event::InvalidReason;
use crate::feed::{EventSink, VenueCounters};
use crate::types::InstrumentId;
use crate::venues::handler::{emit_snapshot, SyncState};

/// Sync state of one Binance instrument: the diff stream on the shared sequenced book
/// ([`SeqSync`], with a REST snapshot), or a partial-book stream (`depth5/10/20`) whose every
/// message is a whole top-N book at one update id, so it needs no REST snapshot.
#[derive(Debug)]
pub struct BookSync {
    /// The diff stream's state.
    pub seq: SeqSync,
    /// Partial-book stream: update id of the top-N book held.
    partial: Option<u64>,
}

impl BookSync {
    /// Waiting for a snapshot, with the continuity `rule` of the market and room for
    /// `max_diffs` buffered diffs of `max_levels` levels in all.
    pub fn new(rule: Continuity, max_diffs: usize, max_levels: usize) -> BookSync {
        BookSync {
            seq: SeqSync::new(rule, max_diffs, max_levels),
            partial: None,
        }
    }

    /// A partial book at update id `id` replaces the book; an id older than or equal to the
    /// one held is stale and dropped (counted): false.
    pub fn on_partial(
        &mut self,
        inst: InstrumentId,
        id: u64,
        bids: &[Level],
        asks: &[Level],
        sink: &mut EventSink<'_>,
        c: &VenueCounters,
    ) -> bool {
        if self.partial.is_some_and(|held| id <= held) {
            VenueCounters::inc(&c.stale_diffs);
            return false;
        }
        if self.partial.is_none() {
            VenueCounters::inc(&c.syncs);
        }
        self.partial = Some(id);
        emit_snapshot(sink, inst, id, bids, asks, None);
        true
    }
}

impl SyncState for BookSync {
    /// Connection lost: a partial book held is invalidated, and so is a synced diff book.
    fn on_disconnect(&mut self, inst: InstrumentId, sink: &mut EventSink<'_>) {
        if self.partial.take().is_some() {
            sink.invalid(inst, InvalidReason::Disconnected);
        }
        self.seq.on_disconnect(inst, sink);
    }

    /// The diff stream's request; a partial-book stream is its own snapshot, so none for it.
    fn take_snapshot_request(&mut self) -> bool {
        self.seq.take_snapshot_request() && self.partial.is_none()
    }
}
