//! Feed threads: raw message in, normalised [`MdEvent`]s out.
//!
//! A feed thread owns one or more [`FeedSource`]s (a replay byte ring today, a WebSocket
//! connection for live/paper) and one [`VenueHandler`] per venue it serves. For every raw
//! message it stamps the hand-off time, calls the venue's handler (parser + book-sync rules),
//! and the handler writes events into an [`EventSink`], which batches them into the feed's SPSC
//! ring. The handler code is the same whatever the source is (R8.1).
//!
//! Back-pressure: if the ring is full the sink counts it (`ring_full`) and retries with the
//! thread's wait strategy; book data is never dropped (a dropped level would corrupt the book).
#![forbid(unsafe_code)]

pub mod protocol;
pub mod replay_source;
pub mod ws_source;

use crate::clock;
use crate::event::{flags, Checksum, Commit, InvalidReason, MdEvent, MdKind, TextFracs};
use crate::journal::{LogCode, LogRecord, Severity};
use crate::ring::{Consumer, Producer, RawMeta};
use crate::types::{InstrumentId, Nanos, Price, Qty, Side, VenueId};
use crate::wait::Waiter;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// [`RawMeta::tag`] layout: bits 0–7 venue index, bit 8 snapshot flag, bits 16–31 instrument id
/// of a REST snapshot (`0xFFFF` = let the handler infer it).
pub mod tag {
    /// The message is a REST depth snapshot, not a stream message.
    pub const SNAPSHOT: u32 = 1 << 8;
    /// Instrument id unknown.
    pub const NO_INSTRUMENT: u32 = 0xFFFF;
    /// Build a tag.
    pub fn make(venue: u8, snapshot: bool, instrument: u32) -> u32 {
        venue as u32 | if snapshot { SNAPSHOT } else { 0 } | (instrument & 0xFFFF) << 16
    }
    /// Venue index of a tag.
    pub fn venue(t: u32) -> u8 {
        (t & 0xFF) as u8
    }
    /// Snapshot flag of a tag.
    pub fn is_snapshot(t: u32) -> bool {
        t & SNAPSHOT != 0
    }
    /// Instrument id of a snapshot tag, if known (only tags with the snapshot flag carry one).
    pub fn instrument(t: u32) -> Option<u16> {
        let i = t >> 16;
        (is_snapshot(t) && i != NO_INSTRUMENT).then_some(i as u16)
    }
}

/// Per-venue feed counters. Single writer (the feed thread), relaxed atomics so the stats
/// thread can read them while the feed runs.
#[derive(Debug, Default)]
pub struct VenueCounters {
    /// Raw messages handed to the handler (every line of a recording, snapshots included).
    pub messages: AtomicU64,
    /// Best bid/offer updates.
    pub bbo_updates: AtomicU64,
    /// Depth diff messages.
    pub depth_updates: AtomicU64,
    /// Public trades.
    pub trades: AtomicU64,
    /// Depth snapshots received.
    pub snapshots: AtomicU64,
    /// Snapshots that (re)synchronised a book.
    pub syncs: AtomicU64,
    /// Times a synced book was invalidated and a new sync started.
    pub resyncs: AtomicU64,
    /// Sequence gaps.
    pub gaps: AtomicU64,
    /// Messages that could not be parsed (counted and skipped).
    pub parse_errors: AtomicU64,
    /// Well-formed messages the handler does not use (acks, unsubscribed streams).
    pub unknown_messages: AtomicU64,
    /// Diffs dropped as older than the book (`u` ≤ book id): normal right after a sync.
    pub stale_diffs: AtomicU64,
    /// Diffs buffered while waiting for a snapshot.
    pub buffered_diffs: AtomicU64,
    /// Buffered diffs discarded because the pre-snapshot buffer was full.
    pub buffer_dropped: AtomicU64,
    /// Snapshots that could not be used (too old, no bridging diff, unknown instrument).
    pub snapshots_rejected: AtomicU64,
    /// Times the output ring was full (the feed waited; nothing was dropped).
    pub ring_full: AtomicU64,
    /// Events produced.
    pub events: AtomicU64,
    /// Disconnects seen by the source.
    pub disconnects: AtomicU64,
    /// Successful connects after the first one (live sources).
    pub reconnects: AtomicU64,
}

impl VenueCounters {
    /// `+1` on a counter this thread owns.
    #[inline(always)]
    pub fn inc(c: &AtomicU64) {
        c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed)
    }
    /// `+n` on a counter this thread owns.
    #[inline(always)]
    pub fn add(c: &AtomicU64, n: u64) {
        c.store(c.load(Ordering::Relaxed) + n, Ordering::Relaxed)
    }
    /// Read a counter.
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

const STAGE: usize = 64;

enum SinkOut<'a> {
    Ring(&'a mut Producer<MdEvent>, &'a mut Waiter),
    Vec(&'a mut Vec<MdEvent>),
}

/// Why a raw message was skipped (for the log line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// Could not be parsed.
    ParseError,
    /// Well-formed but not used.
    Unknown,
}

/// Where a handler writes its events for the current message. Events are staged in a small
/// fixed array, stamped once per batch, and pushed to the ring in batches; the last event of
/// a message gets [`flags::LAST`] (a message with no event gets a `Noop`).
pub struct EventSink<'a> {
    out: SinkOut<'a>,
    stage: [MdEvent; STAGE],
    n: usize,
    emitted_in_msg: u32,
    hdr: MdEvent,
    /// Events pushed so far (all messages).
    pub events: u64,
    /// Times the ring was found full so far.
    pub ring_full: u64,
    log: Option<&'a mut Producer<LogRecord>>,
    /// Log records dropped because the log ring was full.
    pub log_dropped: u64,
}

impl<'a> EventSink<'a> {
    /// A sink that pushes into a ring, waiting with `waiter` when it is full.
    pub fn to_ring(ring: &'a mut Producer<MdEvent>, waiter: &'a mut Waiter) -> EventSink<'a> {
        EventSink {
            out: SinkOut::Ring(ring, waiter),
            stage: [MdEvent::default(); STAGE],
            n: 0,
            emitted_in_msg: 0,
            hdr: MdEvent::default(),
            events: 0,
            ring_full: 0,
            log: None,
            log_dropped: 0,
        }
    }

    /// Also send a log record for every skipped message to `log` (the cold thread's ring).
    pub fn with_log(mut self, log: &'a mut Producer<LogRecord>) -> EventSink<'a> {
        self.log = Some(log);
        self
    }

    /// A sink that appends to a vector (tests, `verify-book`).
    pub fn to_vec(v: &'a mut Vec<MdEvent>) -> EventSink<'a> {
        EventSink {
            out: SinkOut::Vec(v),
            stage: [MdEvent::default(); STAGE],
            n: 0,
            emitted_in_msg: 0,
            hdr: MdEvent::default(),
            events: 0,
            ring_full: 0,
            log: None,
            log_dropped: 0,
        }
    }

    /// Record that the current message was skipped: a log record with its first 64 bytes goes
    /// to the cold thread (parse errors only; unknown messages are just counted). The caller
    /// counts it in [`VenueCounters`].
    #[cold]
    pub fn skipped(&mut self, why: Skip, raw: &[u8]) {
        if why != Skip::ParseError {
            return;
        }
        if let Some(l) = self.log.as_deref_mut() {
            let rec = LogRecord {
                ts_ns: self.hdr.recv_ns,
                severity: Severity::Warn,
                code: LogCode::ParseError,
                venue: self.hdr.venue,
                msg_seq: self.hdr.msg_seq,
                ..LogRecord::default()
            }
            .with_text(raw);
            if l.push(rec).is_err() {
                self.log_dropped += 1;
            }
        }
    }

    /// Start a message: header fields copied into every event of it.
    #[inline]
    pub fn begin(&mut self, venue: VenueId, meta: &RawMeta, handoff_tsc: u64) {
        self.hdr = MdEvent {
            venue,
            msg_seq: meta.seq,
            recv_ns: meta.recv_ns,
            handoff_tsc,
            ..MdEvent::default()
        };
        self.emitted_in_msg = 0;
    }

    /// Receive time of the current message.
    #[inline(always)]
    pub fn recv_ns(&self) -> Nanos {
        self.hdr.recv_ns
    }

    #[inline]
    fn emit(&mut self, mut ev: MdEvent) {
        ev.venue = self.hdr.venue;
        ev.msg_seq = self.hdr.msg_seq;
        ev.recv_ns = self.hdr.recv_ns;
        ev.handoff_tsc = self.hdr.handoff_tsc;
        if self.n == STAGE {
            self.flush();
        }
        self.stage[self.n] = ev;
        self.n += 1;
        self.emitted_in_msg += 1;
    }

    /// Best bid/offer.
    #[inline]
    pub fn bbo(&mut self, inst: InstrumentId, seq: u64, bid: (i64, i64), ask: (i64, i64)) {
        self.emit(MdEvent::bbo(
            inst,
            seq,
            (Price(bid.0), Qty(bid.1)),
            (Price(ask.0), Qty(ask.1)),
        ));
    }

    /// Public trade; `aggressor` is the taker's side.
    #[inline]
    pub fn trade(&mut self, inst: InstrumentId, trade_id: u64, px: i64, qty: i64, aggressor: Side) {
        self.emit(MdEvent::trade(
            inst,
            trade_id,
            Price(px),
            Qty(qty),
            aggressor,
        ));
    }

    /// A snapshot starts (clear the book).
    #[inline]
    pub fn clear(&mut self, inst: InstrumentId, seq: u64) {
        self.emit(MdEvent::book_clear(inst, seq));
    }

    /// Set one level (`qty` 0 deletes). `fracs` = fractional digits of the original texts.
    #[inline]
    pub fn level(
        &mut self,
        inst: InstrumentId,
        side: Side,
        px: i64,
        qty: i64,
        fracs: (u8, u8),
        from_snapshot: bool,
    ) {
        self.emit(MdEvent::book_level(
            inst,
            side,
            Price(px),
            Qty(qty),
            TextFracs {
                px: fracs.0,
                qty: fracs.1,
            },
            from_snapshot,
        ));
    }

    /// Commit the levels since the last commit at update id `seq`; `snapshot` completes a
    /// snapshot; `checksum` = (kind, expected) when the venue sent one.
    #[inline]
    pub fn commit(&mut self, inst: InstrumentId, seq: u64, snapshot: bool, checksum: (i64, i64)) {
        self.commit_truncated(inst, seq, snapshot, checksum, 0)
    }

    /// As [`EventSink::commit`], and the book keeps only its best `depth` levels per side
    /// before the checksum is checked (Kraken's rule: truncate to the subscribed depth after
    /// each update). `depth` 0 = no truncation.
    #[inline]
    pub fn commit_truncated(
        &mut self,
        inst: InstrumentId,
        seq: u64,
        snapshot: bool,
        checksum: (i64, i64),
        depth: u32,
    ) {
        let kind = crate::book::ChecksumKind::from_i64(checksum.0);
        self.emit(MdEvent::book_commit(
            inst,
            seq,
            Commit {
                snapshot,
                checksum: (kind != crate::book::ChecksumKind::None).then_some(Checksum {
                    kind,
                    value: checksum.1,
                }),
                keep_levels: depth,
            },
        ));
    }

    /// The book can no longer be trusted.
    #[inline]
    pub fn invalid(&mut self, inst: InstrumentId, reason: InvalidReason) {
        self.emit(MdEvent::book_invalid(inst, reason));
    }

    /// Venue connection down (`up = false`) or up.
    pub fn venue_status(&mut self, up: bool) {
        self.emit(MdEvent::venue_status(up));
    }

    /// End of a message: mark the last event, push everything.
    #[inline]
    pub fn end(&mut self) {
        if self.emitted_in_msg == 0 {
            self.emit(MdEvent::default()); // Noop
        }
        self.stage[self.n - 1].flags |= flags::LAST;
        self.flush();
    }

    /// Send the end-of-input marker for this feed (no header needed).
    pub fn feed_end(&mut self, venue: VenueId) {
        self.hdr.venue = venue;
        self.hdr.msg_seq = u64::MAX;
        self.emit(MdEvent {
            kind: MdKind::FeedEnd,
            flags: flags::LAST,
            ..MdEvent::default()
        });
        self.flush();
    }

    fn flush(&mut self) {
        if self.n == 0 {
            return;
        }
        let now = clock::raw();
        for e in &mut self.stage[..self.n] {
            e.parsed_tsc = now;
        }
        self.events += self.n as u64;
        match &mut self.out {
            SinkOut::Vec(v) => v.extend_from_slice(&self.stage[..self.n]),
            SinkOut::Ring(ring, waiter) => {
                let mut i = 0;
                let mut counted = false;
                while i < self.n {
                    match ring.push(self.stage[i]) {
                        Ok(()) => {
                            i += 1;
                            waiter.reset();
                        }
                        Err(_) => {
                            if !counted {
                                self.ring_full += 1;
                                counted = true;
                            }
                            if ring.is_abandoned() {
                                break; // consumer gone (shutdown): nothing left to deliver to
                            }
                            waiter.idle();
                        }
                    }
                }
            }
        }
        self.n = 0;
    }
}

/// A venue's market-data handler: wire parser plus book-sync rules. One per venue per feed
/// thread; the same code serves replay files and live sockets.
pub trait VenueHandler: Send {
    /// The venue this handler serves.
    fn venue(&self) -> VenueId;
    /// Counters for this venue.
    fn counters(&self) -> &Arc<VenueCounters>;
    /// Handle one raw message (stream message or REST snapshot, see [`tag`]). Must not panic
    /// on any input: bad input is counted (`parse_errors`) and skipped.
    fn on_message(&mut self, raw: &[u8], meta: &RawMeta, sink: &mut EventSink<'_>);
    /// The connection dropped: invalidate every book and reset sync state.
    fn on_disconnect(&mut self, sink: &mut EventSink<'_>);
    /// Instruments whose book needs a REST snapshot now (live: the snapshot thread fetches them).
    fn snapshot_wanted(&mut self, _out: &mut dyn FnMut(InstrumentId)) {}
}

/// What a source produced on one poll.
pub enum SourceEvent<'b> {
    /// A complete raw message.
    Message(RawMeta, &'b [u8]),
    /// The connection for `venue` dropped.
    Disconnected(VenueId),
    /// The connection for `venue` is (re)established and subscribed.
    Connected(VenueId),
}

/// Whether a source has more to give.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceState {
    /// More may come.
    Open,
    /// No more input, ever (end of replay).
    Finished,
}

/// Input of a feed thread: a replay ring, a WebSocket connection, ...
pub trait FeedSource: Send {
    /// Deliver what is available now (bounded work), then return.
    fn poll(&mut self, f: &mut dyn FnMut(SourceEvent<'_>)) -> SourceState;
    /// The handler of `venue` wants a REST snapshot of `instrument` (after start, a gap or a
    /// reconnect). A source that can fetch one takes the request and returns true; the
    /// snapshot later comes out of its `poll` as a snapshot-tagged message. Replay sources
    /// return false: the recording holds its snapshots.
    fn request_snapshot(&mut self, _venue: VenueId, _instrument: InstrumentId) -> bool {
        false
    }
    /// Detection found `instrument`'s book wrong (checksum mismatch): ask the venue for a fresh
    /// snapshot by resubscribing. Returns true if this source did. Replay sources cannot.
    fn request_resubscribe(&mut self, _venue: VenueId, _instrument: InstrumentId) -> bool {
        false
    }
}

/// Everything one feed thread runs.
pub struct FeedThread {
    /// Thread name for logs (`feed-binance-spot`).
    pub name: String,
    /// Inputs.
    pub sources: Vec<Box<dyn FeedSource>>,
    /// Handlers, looked up by venue id.
    pub handlers: Vec<Box<dyn VenueHandler>>,
    /// Output ring to detection.
    pub out: Producer<MdEvent>,
    /// Idle strategy.
    pub waiter: Waiter,
    /// Set to stop early (live modes).
    pub stop: Arc<AtomicBool>,
    /// Log records (parse errors) to the cold thread.
    pub log: Producer<LogRecord>,
    /// Resync requests from detection (a book failed its exchange checksum).
    pub control: Consumer<ResyncRequest>,
}

/// Detection → feed: the book of `instrument` on `venue` failed its exchange checksum; get a
/// fresh snapshot (resubscribe). The book stays invalid on the detection thread until it comes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResyncRequest {
    /// Venue.
    pub venue: VenueId,
    /// Instrument.
    pub instrument: InstrumentId,
}

impl FeedThread {
    /// Run until every source is finished (replay) or `stop` is set. Sends one `FeedEnd`.
    pub fn run(self) {
        let FeedThread {
            mut sources,
            mut handlers,
            mut out,
            mut waiter,
            stop,
            mut log,
            mut control,
            ..
        } = self;
        let clock = clock::Clock::get();
        let mut finished = vec![false; sources.len()];
        let first_venue = handlers.first().map(|h| h.venue()).unwrap_or_default();
        // venue id → handler index
        let mut route = [u8::MAX; 256];
        for (i, h) in handlers.iter().enumerate() {
            route[h.venue().idx()] = i as u8;
        }
        let mut connected_once = [false; 256];
        let mut sink_waiter = waiter.clone();
        let mut sink = EventSink::to_ring(&mut out, &mut sink_waiter).with_log(&mut log);
        crate::alloc_probe::enter_hot();
        loop {
            let mut did = false;
            for (si, src) in sources.iter_mut().enumerate() {
                if finished[si] {
                    continue;
                }
                let state = src.poll(&mut |ev| {
                    did = true;
                    let (v, handoff) = match &ev {
                        SourceEvent::Message(meta, _) => {
                            (VenueId(tag::venue(meta.tag)), clock.raw())
                        }
                        SourceEvent::Disconnected(v) | SourceEvent::Connected(v) => {
                            (*v, clock.raw())
                        }
                    };
                    let Some(h) = handlers.get_mut(route[v.idx()] as usize) else {
                        return;
                    };
                    let (ev0, rf0) = (sink.events, sink.ring_full);
                    match ev {
                        SourceEvent::Message(meta, data) => {
                            sink.begin(v, &meta, handoff);
                            VenueCounters::inc(&h.counters().messages);
                            h.on_message(data, &meta, &mut sink);
                        }
                        SourceEvent::Disconnected(_) => {
                            VenueCounters::inc(&h.counters().disconnects);
                            let meta = RawMeta {
                                recv_ns: clock.now_ns(),
                                ..RawMeta::default()
                            };
                            sink.begin(v, &meta, handoff);
                            sink.venue_status(false);
                            h.on_disconnect(&mut sink);
                        }
                        SourceEvent::Connected(_) => {
                            if connected_once[v.idx()] {
                                VenueCounters::inc(&h.counters().reconnects);
                            }
                            connected_once[v.idx()] = true;
                            let meta = RawMeta {
                                recv_ns: clock.now_ns(),
                                ..RawMeta::default()
                            };
                            sink.begin(v, &meta, handoff);
                            sink.venue_status(true);
                        }
                    }
                    sink.end();
                    let c = h.counters();
                    VenueCounters::add(&c.events, sink.events - ev0);
                    VenueCounters::add(&c.ring_full, sink.ring_full - rf0);
                });
                if state == SourceState::Finished {
                    finished[si] = true;
                }
            }
            // books detection found corrupt: ask the venue for a fresh snapshot
            while let Some(r) = control.pop() {
                did = true;
                let mut done = false;
                for s in sources.iter_mut() {
                    done |= s.request_resubscribe(r.venue, r.instrument);
                }
                if done {
                    if let Some(h) = handlers.get(route[r.venue.idx()] as usize) {
                        VenueCounters::inc(&h.counters().resyncs);
                    }
                }
            }
            // books that need a REST snapshot: hand the requests to a source that can fetch
            for h in handlers.iter_mut() {
                let v = h.venue();
                h.snapshot_wanted(&mut |inst| {
                    for s in sources.iter_mut() {
                        if s.request_snapshot(v, inst) {
                            break;
                        }
                    }
                });
            }
            if finished.iter().all(|f| *f) || stop.load(Ordering::Relaxed) {
                break;
            }
            if did {
                waiter.reset();
            } else {
                waiter.idle();
            }
        }
        crate::alloc_probe::leave_hot();
        sink.feed_end(first_venue);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sink_marks_last_and_noop() {
        let mut v = Vec::new();
        {
            let mut s = EventSink::to_vec(&mut v);
            let meta = RawMeta {
                recv_ns: 5,
                tag: 0,
                seq: 9,
            };
            s.begin(VenueId(1), &meta, 0);
            s.end();
            s.begin(VenueId(1), &meta, 0);
            for i in 0..100 {
                s.level(InstrumentId(0), Side::Buy, i + 1, 1, (0, 0), false);
            }
            s.commit(InstrumentId(0), 7, false, (0, 0));
            s.end();
        }
        assert_eq!(v.len(), 102);
        assert_eq!(v[0].kind, MdKind::Noop);
        assert!(v[0].is_last());
        assert!(v[1..101].iter().all(|e| !e.is_last()));
        assert!(v[101].is_last() && v[101].kind == MdKind::BookCommit);
        assert!(v.iter().all(|e| e.msg_seq == 9 && e.venue == VenueId(1)));
    }

    #[test]
    fn resync_requests_reach_a_source_that_can_resubscribe() {
        use std::sync::Mutex;
        struct Mock {
            seen: Arc<Mutex<Vec<(VenueId, InstrumentId)>>>,
            polls: u32,
        }
        impl FeedSource for Mock {
            fn poll(&mut self, _f: &mut dyn FnMut(SourceEvent<'_>)) -> SourceState {
                self.polls += 1;
                if self.polls > 3 {
                    SourceState::Finished
                } else {
                    SourceState::Open
                }
            }
            fn request_resubscribe(&mut self, v: VenueId, i: InstrumentId) -> bool {
                self.seen.lock().unwrap().push((v, i));
                true
            }
        }
        let seen = Arc::new(Mutex::new(Vec::new()));
        let counters = Arc::new(VenueCounters::default());
        let h = crate::venues::binance::BinanceHandler::new(
            VenueId(2),
            crate::venues::binance::Market::Spot,
            vec![],
            crate::venues::binance::Limits::default(),
            counters.clone(),
        );
        let (out, mut rx) = crate::ring::channel::<MdEvent>(1024);
        let (log, _lrx) = crate::ring::channel::<LogRecord>(16);
        let (mut ctl, crx) = crate::ring::channel::<ResyncRequest>(16);
        ctl.push(ResyncRequest {
            venue: VenueId(2),
            instrument: InstrumentId(5),
        })
        .unwrap();
        FeedThread {
            name: "t".into(),
            sources: vec![Box::new(Mock {
                seen: seen.clone(),
                polls: 0,
            })],
            handlers: vec![Box::new(h)],
            out,
            waiter: Waiter::new(crate::wait::WaitKind::Park, 1, 1000),
            stop: Arc::new(AtomicBool::new(false)),
            log,
            control: crx,
        }
        .run();
        assert_eq!(*seen.lock().unwrap(), vec![(VenueId(2), InstrumentId(5))]);
        assert_eq!(VenueCounters::get(&counters.resyncs), 1);
        // the thread still ends its output properly
        let mut last = None;
        while let Some(e) = rx.pop() {
            last = Some(e.kind);
        }
        assert_eq!(last, Some(MdKind::FeedEnd));
    }

    #[test]
    fn tags_round_trip() {
        let t = tag::make(3, true, 42);
        assert_eq!(tag::venue(t), 3);
        assert!(tag::is_snapshot(t));
        assert_eq!(tag::instrument(t), Some(42));
        let t = tag::make(3, false, tag::NO_INSTRUMENT);
        assert_eq!(tag::instrument(t), None);
        assert_eq!(
            tag::instrument(tag::make(3, false, 5)),
            None,
            "no snapshot flag, no instrument"
        );
        assert_eq!(tag::instrument(0), None);
        assert!(!tag::is_snapshot(t));
    }
}
