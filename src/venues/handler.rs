//! The one market-data handler shape every venue uses.
//!
//! A venue provides what is its own: a [`WireFormat`] (its parser, its reused buffers, and how a
//! parsed message reaches the books) and a [`SyncState`] (its sync rule, one per instrument).
//! [`Handler`] is the rest, the same for all: the instrument table ([`SymbolTable`]), the book
//! states, the counters, REST snapshots routed to the instrument they were fetched for,
//! disconnects, snapshot requests, and the tally of what a message came to (a [`WireError`]
//! that is well-formed but unused counts as `unknown_messages`, any other as `parse_errors`).
//! Below it, the helpers that write levels, snapshots, updates and trades into the
//! [`EventSink`] with the typed event fields.
#![forbid(unsafe_code)]

use crate::book::Level;
use crate::event::{Checksum, TextFracs};
use crate::feed::{tag, EventSink, Skip, VenueCounters, VenueHandler};
use crate::ring::RawMeta;
use crate::types::{InstrumentId, Price, Qty, Side, VenueId};
use crate::venues::symbols::{InstrumentRef, SymbolTable};
use crate::venues::wire_util::{Trade, WireError};
use std::sync::Arc;

/// A venue's book-sync state of one instrument (its sync rule).
pub trait SyncState: Send {
    /// The connection dropped: invalidate the book (an event if it was synced) and go back to
    /// waiting for a snapshot.
    fn on_disconnect(&mut self, inst: InstrumentId, sink: &mut EventSink<'_>);
    /// True once when the book needs a fresh snapshot (a REST fetch or a resubscription).
    fn take_snapshot_request(&mut self) -> bool {
        false
    }
}

/// What a handler holds besides its wire format: the venue, its instruments, one book state per
/// instrument (by handler index) and the venue's counters.
pub struct VenueState<B> {
    /// The venue.
    pub venue: VenueId,
    /// Wire symbol → handler index.
    pub symbols: SymbolTable,
    /// Book state of each instrument, by handler index.
    pub books: Vec<B>,
    /// The venue's counters.
    pub counters: Arc<VenueCounters>,
}

impl<B> VenueState<B> {
    /// Engine id of handler instrument `k`.
    #[inline(always)]
    pub fn id(&self, k: usize) -> InstrumentId {
        self.symbols.get(k).id
    }

    /// The instrument a REST snapshot is for: the one its tag names, else the only one.
    pub fn snapshot_target(&self, t: u32) -> Option<usize> {
        match tag::instrument(t) {
            Some(id) => self.symbols.index_of(InstrumentId(id)),
            None if self.symbols.len() == 1 => Some(0),
            None => None,
        }
    }
}

/// What one message may change: the venue's state, and the sink its events go to.
pub struct Ctx<'a, 's, B> {
    /// Instruments, book states, counters.
    pub st: &'a mut VenueState<B>,
    /// The current message's events.
    pub sink: &'a mut EventSink<'s>,
}

/// A venue's wire format: its parser and buffers, and what a parsed message does to the books.
pub trait WireFormat: Send {
    /// The sync state of one instrument's book.
    type Book: SyncState;
    /// Log a parse error's first bytes to the cold thread (besides counting it).
    const LOG_PARSE_ERRORS: bool = false;
    /// The venue's books start from REST snapshots: a snapshot-tagged message is one.
    const REST_SNAPSHOTS: bool = false;
    /// The instrument table over `refs` (exact symbols, unless the venue's wire spells them
    /// differently).
    fn symbols(&self, refs: Vec<InstrumentRef>) -> SymbolTable {
        SymbolTable::new(refs)
    }
    /// The sync state of one instrument's book before its first snapshot.
    fn new_book(&self) -> Self::Book;
    /// Handle one stream message: parse it, apply it to the books, emit its events. A message
    /// that yields nothing for the books returns why.
    fn on_message(&mut self, raw: &[u8], cx: Ctx<'_, '_, Self::Book>) -> Result<(), WireError>;
    /// True if `raw` (with feed tag `t`) is a REST depth snapshot rather than a stream message.
    fn is_snapshot(&self, _raw: &[u8], t: u32) -> bool {
        Self::REST_SNAPSHOTS && tag::is_snapshot(t)
    }
    /// A REST snapshot for handler instrument `k` (`None`: the tag did not say and the handler
    /// serves several). An unknown instrument is [`WireError::UnknownSymbol`].
    fn on_snapshot(
        &mut self,
        _raw: &[u8],
        _k: Option<usize>,
        _cx: Ctx<'_, '_, Self::Book>,
    ) -> Result<(), WireError> {
        Err(WireError::Unknown)
    }
    /// The connection dropped (connection-wide state such as a message counter).
    fn on_disconnect(&mut self) {}
}

/// The market-data handler of one venue: a [`WireFormat`] over a [`VenueState`].
pub struct Handler<W: WireFormat> {
    st: VenueState<W::Book>,
    wire: W,
}

impl<W: WireFormat> Handler<W> {
    /// A handler of `venue` for `instruments` (wire symbol + scale each), parsing with `wire`.
    pub fn new(
        venue: VenueId,
        instruments: Vec<InstrumentRef>,
        wire: W,
        counters: Arc<VenueCounters>,
    ) -> Handler<W> {
        let symbols = wire.symbols(instruments);
        let books = (0..symbols.len()).map(|_| wire.new_book()).collect();
        Handler {
            st: VenueState {
                venue,
                symbols,
                books,
                counters,
            },
            wire,
        }
    }

    /// The instrument table.
    pub fn symbols(&self) -> &SymbolTable {
        &self.st.symbols
    }

    /// Book state of handler instrument `k`.
    pub fn book(&self, k: usize) -> Option<&W::Book> {
        self.st.books.get(k)
    }

    /// The wire format (its parse statistics, its parameters).
    pub fn wire(&self) -> &W {
        &self.wire
    }
}

/// Count what a message came to: unused ones as `unknown_messages`, the others as
/// `parse_errors` (with a log record of the message when `log`). A REST snapshot for an unknown
/// instrument is also `snapshots_rejected`.
#[inline]
fn tally(
    r: Result<(), WireError>,
    snapshot: bool,
    log: bool,
    raw: &[u8],
    tag: u32,
    c: &VenueCounters,
    sink: &mut EventSink<'_>,
) {
    let Err(e) = r else { return };
    if snapshot && e == WireError::UnknownSymbol {
        VenueCounters::inc(&c.snapshots_rejected);
    } else if e.is_unused() {
        VenueCounters::inc(&c.unknown_messages);
        return;
    }
    VenueCounters::inc(&c.parse_errors);
    c.keep_sample(raw, tag);
    if log {
        sink.skipped(Skip::ParseError, raw);
    }
}

impl<W: WireFormat> VenueHandler for Handler<W> {
    fn venue(&self) -> VenueId {
        self.st.venue
    }

    fn counters(&self) -> &Arc<VenueCounters> {
        &self.st.counters
    }

    fn on_message(&mut self, raw: &[u8], meta: &RawMeta, sink: &mut EventSink<'_>) {
        let snapshot = self.wire.is_snapshot(raw, meta.tag);
        let cx = Ctx {
            st: &mut self.st,
            sink: &mut *sink,
        };
        // a venue with no instruments configured has nothing to apply a message to (and the
        // wire formats take handler index 0 for granted): every message is unknown to it
        let r = if cx.st.symbols.is_empty() {
            Err(WireError::Unknown)
        } else if snapshot {
            VenueCounters::inc(&cx.st.counters.snapshots);
            let k = cx.st.snapshot_target(meta.tag);
            self.wire.on_snapshot(raw, k, cx)
        } else {
            self.wire.on_message(raw, cx)
        };
        tally(
            r,
            snapshot,
            W::LOG_PARSE_ERRORS,
            raw,
            meta.tag,
            &self.st.counters,
            sink,
        );
        crate::health::after_message(&self.st.counters, sink);
    }

    fn on_disconnect(&mut self, sink: &mut EventSink<'_>) {
        self.wire.on_disconnect();
        for (k, b) in self.st.books.iter_mut().enumerate() {
            b.on_disconnect(self.st.symbols.get(k).id, sink);
        }
    }

    fn snapshot_wanted(&mut self, out: &mut dyn FnMut(InstrumentId)) {
        for (k, b) in self.st.books.iter_mut().enumerate() {
            if b.take_snapshot_request() {
                out(self.st.symbols.get(k).id);
            }
        }
    }
}

/// Trade events for `trades` (aggressor = the taker's side), each counted.
#[inline]
pub fn emit_trades(
    sink: &mut EventSink<'_>,
    inst: InstrumentId,
    trades: &[Trade],
    c: &VenueCounters,
) {
    for t in trades {
        VenueCounters::inc(&c.trades);
        let side = if t.taker_buy { Side::Buy } else { Side::Sell };
        sink.trade(inst, t.id, Price(t.px), Qty(t.qty), side);
    }
}

/// The fractional digits of a level's original texts (kept for the venues' checksums).
#[inline(always)]
pub fn fracs(l: &Level) -> TextFracs {
    TextFracs {
        px: l.px_frac,
        qty: l.qty_frac,
    }
}

/// One level event: `l` on `side` (quantity 0 deletes the level).
#[inline]
pub fn emit_level(
    sink: &mut EventSink<'_>,
    inst: InstrumentId,
    side: Side,
    l: &Level,
    snapshot: bool,
) {
    sink.level(inst, side, Price(l.px), Qty(l.qty), fracs(l), snapshot);
}

/// Level events for `levels`, all on `side`, in order.
#[inline]
pub fn emit_side(
    sink: &mut EventSink<'_>,
    inst: InstrumentId,
    side: Side,
    levels: &[Level],
    snapshot: bool,
) {
    for l in levels {
        emit_level(sink, inst, side, l, snapshot);
    }
}

/// Level events for one book message: the bids, then the asks.
#[inline]
pub fn emit_book(
    sink: &mut EventSink<'_>,
    inst: InstrumentId,
    bids: &[Level],
    asks: &[Level],
    snapshot: bool,
) {
    emit_side(sink, inst, Side::Buy, bids, snapshot);
    emit_side(sink, inst, Side::Sell, asks, snapshot);
}

/// A complete book at update id `seq`: clear, the levels (bids, then asks), and the commit that
/// completes the snapshot, with the venue's checksum when it sent one.
#[inline]
pub fn emit_snapshot(
    sink: &mut EventSink<'_>,
    inst: InstrumentId,
    seq: u64,
    bids: &[Level],
    asks: &[Level],
    checksum: Option<Checksum>,
) {
    sink.clear(inst, seq);
    emit_book(sink, inst, bids, asks, true);
    sink.commit(inst, seq, true, checksum);
}

/// One incremental book message at update id `seq`: the level changes (bids, then asks) and
/// their commit, with the venue's checksum when it sent one.
#[inline]
pub fn emit_update(
    sink: &mut EventSink<'_>,
    inst: InstrumentId,
    seq: u64,
    bids: &[Level],
    asks: &[Level],
    checksum: Option<Checksum>,
) {
    emit_book(sink, inst, bids, asks, false);
    sink.commit(inst, seq, false, checksum);
}
