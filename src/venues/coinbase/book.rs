//! Coinbase book synchronisation (R1.2).
//!
//! - Both feeds send the full book on subscribe (Exchange `snapshot`, Advanced Trade `l2_data`
//!   event `type:"snapshot"`) and absolute level sizes after it; size 0 removes the level.
//! - Exchange `level2` has no sequence numbers (a guaranteed-delivery channel): nothing can
//!   reveal a lost update, and there is no checksum. Each `l2update` commit is stamped with the
//!   message's matching-engine `time` in µs (the only id it has).
//! - Advanced Trade numbers every message of a connection (`sequence_num`, all channels): a
//!   jump means a lost message, and since it cannot be told which product it concerned, every
//!   book of the connection is invalidated and resubscribed
//!   (<https://docs.cdp.coinbase.com/coinbase-app/advanced-trade-apis/websocket/websocket-overview>,
//!   "Sequence Numbers").
#![forbid(unsafe_code)]

use crate::book::Level;
use crate::event::InvalidReason;
use crate::feed::{EventSink, VenueCounters};
use crate::types::{InstrumentId, Side};
use crate::venues::handler::{emit_level, SyncState};

/// Sync state of one product's book.
#[derive(Debug, Default)]
pub struct BookSync {
    synced: bool,
    want_resync: bool,
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

    fn emit(sink: &mut EventSink<'_>, inst: InstrumentId, lv: &[(Side, Level)], snap: bool) {
        for (s, l) in lv {
            emit_level(sink, inst, *s, l, snap);
        }
    }

    /// A snapshot replaces the book; `seq` = update id of the commit.
    pub fn on_snapshot(
        &mut self,
        inst: InstrumentId,
        seq: u64,
        levels: &[(Side, Level)],
        sink: &mut EventSink<'_>,
        c: &VenueCounters,
    ) {
        if self.synced {
            VenueCounters::inc(&c.resyncs);
        }
        sink.clear(inst, seq);
        Self::emit(sink, inst, levels, true);
        sink.commit(inst, seq, true, None);
        self.synced = true;
        self.want_resync = false;
        VenueCounters::inc(&c.syncs);
    }

    /// Changes; dropped (counted) until a snapshot came.
    pub fn on_update(
        &mut self,
        inst: InstrumentId,
        seq: u64,
        levels: &[(Side, Level)],
        sink: &mut EventSink<'_>,
        c: &VenueCounters,
    ) -> bool {
        if !self.synced {
            VenueCounters::inc(&c.stale_diffs);
            return false;
        }
        Self::emit(sink, inst, levels, false);
        sink.commit(inst, seq, false, None);
        true
    }

    /// The connection lost a message (`reason` Gap) or dropped (`Disconnected`).
    pub fn invalidate(
        &mut self,
        inst: InstrumentId,
        reason: InvalidReason,
        sink: &mut EventSink<'_>,
    ) -> bool {
        let was = self.synced;
        if was {
            sink.invalid(inst, reason);
        }
        self.synced = false;
        self.want_resync = was && reason == InvalidReason::Gap;
        was
    }
}

impl SyncState for BookSync {
    fn on_disconnect(&mut self, inst: InstrumentId, sink: &mut EventSink<'_>) {
        self.invalidate(inst, InvalidReason::Disconnected, sink);
    }

    /// True once after the book was invalidated by a gap.
    fn take_snapshot_request(&mut self) -> bool {
        std::mem::take(&mut self.want_resync)
    }
}

/// Advanced Trade `sequence_num` continuity of one connection.
#[derive(Debug, Default)]
pub struct ConnSeq {
    last: Option<u64>,
}

impl ConnSeq {
    /// Record `n`; false if one or more messages were skipped (or numbers went back).
    pub fn next(&mut self, n: u64) -> bool {
        let ok = match self.last {
            None => true,
            Some(l) => n == l.wrapping_add(1),
        };
        self.last = Some(n);
        ok
    }

    /// A new connection starts its own numbering.
    pub fn reset(&mut self) {
        self.last = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_sequence() {
        let mut s = ConnSeq::default();
        assert!(s.next(0));
        assert!(s.next(1));
        assert!(!s.next(3), "2 was lost");
        assert!(s.next(4));
        assert!(!s.next(4), "repeat");
        s.reset();
        assert!(s.next(17));
    }
}
