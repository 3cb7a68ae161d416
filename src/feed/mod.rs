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
//! A live feed thread that waited longer than `threads.stall_resync_ns` (detection stalled)
//! then asks its sources to reconnect ([`FeedSource::request_reconnect`]): what the sockets
//! buffered meanwhile is stale, so the books are rebuilt from fresh snapshots instead.
#![forbid(unsafe_code)]

pub mod protocol;
pub mod recorder;
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
    /// Live: reconnects after detection held the feed thread up longer than
    /// `threads.stall_resync_ns`.
    pub stall_reconnects: AtomicU64,
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
    /// 1 once the venue was marked unhealthy for bad data ([`crate::health`]; sticky).
    pub unhealthy: AtomicU64,
    /// Messages of the check window that crossed the limit.
    pub bad_window_msgs: AtomicU64,
    /// Parse errors in that window.
    pub bad_window_errors: AtomicU64,
    /// Bad-data check: first check after this many messages ([`crate::health::Limits`]).
    pub health_first_msgs: AtomicU64,
    /// Bad-data check: one check per this many messages (0 = no check).
    pub health_window_msgs: AtomicU64,
    /// Bad-data check: parse-error share allowed, parts per million.
    pub health_max_ppm: AtomicU64,
    /// Bad-data check: messages at the last check.
    pub health_m0: AtomicU64,
    /// Bad-data check: parse errors at the last check.
    pub health_b0: AtomicU64,
    /// The first unparsable message (room reserved at start: [`VenueCounters::reserve_sample`]).
    sample: std::sync::Mutex<Vec<u8>>,
    sample_tag: AtomicU64,
    sample_set: AtomicBool,
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

    /// Turn the bad-data check on with `l` (off by default).
    pub fn set_health(&self, l: &crate::health::Limits) {
        self.health_first_msgs
            .store(l.first_msgs, Ordering::Relaxed);
        self.health_window_msgs
            .store(l.window_msgs, Ordering::Relaxed);
        self.health_max_ppm.store(l.max_ppm, Ordering::Relaxed);
    }

    /// Reserve the room for the first unparsable message (cold, at start). Without it no
    /// message is kept (keeping one never allocates).
    pub fn reserve_sample(&self, bytes: usize) {
        if let Ok(mut s) = self.sample.lock() {
            s.reserve_exact(bytes);
        }
    }

    /// Keep `raw` (feed tag `tag`) as the venue's first unparsable message, truncated to the
    /// reserved room. No allocation; never waits for the lock (only the cold side takes it).
    #[cold]
    pub fn keep_sample(&self, raw: &[u8], tag: u32) {
        if self.sample_set.load(Ordering::Relaxed) {
            return;
        }
        if let Ok(mut s) = self.sample.try_lock() {
            let n = raw.len().min(s.capacity());
            if n > 0 {
                s.extend_from_slice(&raw[..n]);
                self.sample_tag.store(tag as u64, Ordering::Relaxed);
                self.sample_set.store(true, Ordering::Relaxed);
            }
        }
    }

    /// The kept unparsable message and its feed tag (cold).
    pub fn sample(&self) -> (Vec<u8>, u32) {
        match self.sample.lock() {
            Ok(s) => (s.clone(), self.sample_tag.load(Ordering::Relaxed) as u32),
            Err(_) => (Vec::new(), 0),
        }
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
    /// Set when one flush waited at least `stall_limit_ns` for room (cleared by the reader).
    pub stalled: bool,
    /// Longest single wait for room so far, ns.
    pub max_blocked_ns: u64,
    stall_limit_ns: u64,
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
            stalled: false,
            max_blocked_ns: 0,
            stall_limit_ns: 0,
            log: None,
            log_dropped: 0,
        }
    }

    /// Also send a log record for every skipped message to `log` (the cold thread's ring).
    pub fn with_log(mut self, log: &'a mut Producer<LogRecord>) -> EventSink<'a> {
        self.log = Some(log);
        self
    }

    /// Flag a wait for ring room of at least `ns` in [`EventSink::stalled`] (0 = never).
    pub fn with_stall_limit(mut self, ns: u64) -> EventSink<'a> {
        self.stall_limit_ns = ns;
        self
    }

    /// Send `rec` to the cold thread's log ring (counted in `log_dropped` if it is full).
    #[cold]
    pub fn log_record(&mut self, rec: LogRecord) {
        if let Some(l) = self.log.as_deref_mut() {
            if l.push(rec).is_err() {
                self.log_dropped += 1;
            }
        }
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
            stalled: false,
            max_blocked_ns: 0,
            stall_limit_ns: 0,
            log: None,
            log_dropped: 0,
        }
    }

    /// The vector a [`EventSink::to_vec`] sink appends to (`None` for a ring sink): the
    /// single-thread replay keeps one sink for the whole run and takes each message's events
    /// from it after [`EventSink::end`], instead of building a sink (and its stage) per message.
    #[inline]
    pub fn vec_mut(&mut self) -> Option<&mut Vec<MdEvent>> {
        match &mut self.out {
            SinkOut::Vec(v) => Some(v),
            SinkOut::Ring(..) => None,
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

    /// Best bid/offer at exchange update id `seq`: (price, quantity) of each side.
    #[inline]
    pub fn bbo(&mut self, inst: InstrumentId, seq: u64, bid: (Price, Qty), ask: (Price, Qty)) {
        self.emit(MdEvent::bbo(inst, seq, bid, ask));
    }

    /// Public trade; `aggressor` is the taker's side.
    #[inline]
    pub fn trade(
        &mut self,
        inst: InstrumentId,
        trade_id: u64,
        px: Price,
        qty: Qty,
        aggressor: Side,
    ) {
        self.emit(MdEvent::trade(inst, trade_id, px, qty, aggressor));
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
        px: Price,
        qty: Qty,
        fracs: TextFracs,
        from_snapshot: bool,
    ) {
        self.emit(MdEvent::book_level(
            inst,
            side,
            px,
            qty,
            fracs,
            from_snapshot,
        ));
    }

    /// Commit the levels since the last commit at update id `seq`; `snapshot` completes a
    /// snapshot; `checksum` = the venue's checksum of the book after it, when it sent one.
    #[inline]
    pub fn commit(
        &mut self,
        inst: InstrumentId,
        seq: u64,
        snapshot: bool,
        checksum: Option<Checksum>,
    ) {
        self.commit_truncated(
            inst,
            seq,
            Commit {
                snapshot,
                checksum,
                keep_levels: 0,
            },
        )
    }

    /// As [`EventSink::commit`], with every field of the commit given: in particular
    /// [`Commit::keep_levels`], the book keeps only its best that many levels per side before
    /// the checksum is checked (Kraken's rule: truncate to the subscribed depth after each
    /// update; 0 = no truncation).
    #[inline]
    pub fn commit_truncated(&mut self, inst: InstrumentId, seq: u64, commit: Commit) {
        self.emit(MdEvent::book_commit(inst, seq, commit));
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

    /// The venue crossed the bad-data limit ([`crate::health`]): a sticky venue-down event and
    /// an error record (`a` = parse errors, `b` = messages of the window that crossed it).
    #[cold]
    pub fn venue_bad_data(&mut self, errors: u64, msgs: u64) {
        self.emit(MdEvent::venue_bad_data());
        if let Some(l) = self.log.as_deref_mut() {
            let rec = LogRecord {
                ts_ns: self.hdr.recv_ns,
                severity: Severity::Error,
                code: LogCode::BadData,
                venue: self.hdr.venue,
                msg_seq: self.hdr.msg_seq,
                a: errors as i64,
                b: msgs as i64,
                ..LogRecord::default()
            };
            if l.push(rec).is_err() {
                self.log_dropped += 1;
            }
        }
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
                let mut blocked_since = 0u64;
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
                                blocked_since = clock::raw();
                            }
                            if ring.is_abandoned() {
                                break; // consumer gone (shutdown): nothing left to deliver to
                            }
                            waiter.backoff();
                        }
                    }
                }
                if counted {
                    let ns = clock::Clock::get().delta_ns(blocked_since, clock::raw());
                    self.max_blocked_ns = self.max_blocked_ns.max(ns);
                    if self.stall_limit_ns > 0 && ns >= self.stall_limit_ns {
                        self.stalled = true;
                    }
                }
                waiter.notify();
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
    /// The feed thread was held up (detection stalled): drop `venue`'s connections and
    /// reconnect now, discarding what the sockets buffered meanwhile; the handler sees
    /// `Disconnected` (books invalid) and the books resync from fresh snapshots. Returns true
    /// if this source did. Replay sources cannot (and need not: they lose nothing by waiting).
    fn request_reconnect(&mut self, _venue: VenueId) -> bool {
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
    /// `threads.stall_resync_ns` (0 = never reconnect after a stall).
    pub stall_resync_ns: u64,
    /// Live sources number their messages per connection; `Some((first, stride))` numbers
    /// every message this thread hands on `first`, `first + stride`, ... instead, so message
    /// indices (`msg_seq` in events and journals) are unique across venues and feed threads
    /// (feed thread `i` of `n`: `(i, n)`), and with one feed thread equal the merge index a
    /// replay of the session's recording gives. `None`: keep the source's (replay: the global
    /// merge index).
    pub renumber: Option<(u64, u64)>,
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
            renumber,
            stall_resync_ns,
            ..
        } = self;
        let mut next_seq = renumber.map_or(0, |r| r.0);
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
        let mut sink = EventSink::to_ring(&mut out, &mut sink_waiter)
            .with_log(&mut log)
            .with_stall_limit(stall_resync_ns);
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
                        SourceEvent::Message(mut meta, data) => {
                            if let Some((_, stride)) = renumber {
                                meta.seq = next_seq;
                                next_seq += stride;
                            }
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
            // detection held this thread up: what the sockets buffered meanwhile is stale;
            // reconnect every venue served here (their books resync from fresh snapshots)
            if sink.stalled {
                sink.stalled = false;
                let blocked_ms = (sink.max_blocked_ns / 1_000_000) as i64;
                for h in handlers.iter() {
                    let v = h.venue();
                    let mut done = false;
                    for s in sources.iter_mut() {
                        done |= s.request_reconnect(v);
                    }
                    if done {
                        did = true;
                        VenueCounters::inc(&h.counters().stall_reconnects);
                        sink.log_record(LogRecord {
                            ts_ns: clock.now_ns(),
                            severity: Severity::Warn,
                            code: LogCode::StallReconnect,
                            venue: v,
                            a: blocked_ms,
                            ..LogRecord::default()
                        });
                    }
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
                s.level(
                    InstrumentId(0),
                    Side::Buy,
                    Price(i + 1),
                    Qty(1),
                    TextFracs::default(),
                    false,
                );
            }
            s.commit(InstrumentId(0), 7, false, None);
            s.end();
        }
        assert_eq!(v.len(), 102);
        assert_eq!(v[0].kind, MdKind::Noop);
        assert!(v[0].is_last());
        assert!(v[1..101].iter().all(|e| !e.is_last()));
        assert!(v[101].is_last() && v[101].kind == MdKind::BookCommit);
        assert!(v.iter().all(|e| e.msg_seq == 9 && e.venue == VenueId(1)));
    }

    /// A feed thread over one source and one handler, parking when idle.
    fn test_thread(
        source: Box<dyn FeedSource>,
        h: crate::venues::binance::BinanceHandler,
        (out, log, control): (
            Producer<MdEvent>,
            Producer<LogRecord>,
            Consumer<ResyncRequest>,
        ),
        stall_resync_ns: u64,
    ) -> FeedThread {
        FeedThread {
            name: "t".into(),
            sources: vec![source],
            handlers: vec![Box::new(h)],
            out,
            waiter: Waiter::new(crate::wait::WaitKind::Park, 1, 1000),
            stop: Arc::new(AtomicBool::new(false)),
            log,
            control,
            renumber: None,
            stall_resync_ns,
        }
    }

    /// A Binance spot handler for venue `v` with no instruments (every message is skipped,
    /// one event each), and its counters.
    fn spot_handler_without_instruments(
        v: VenueId,
    ) -> (crate::venues::binance::BinanceHandler, Arc<VenueCounters>) {
        let counters = Arc::new(VenueCounters::default());
        let h = crate::venues::binance::BinanceHandler::new(
            v,
            vec![],
            crate::venues::binance::Binance::new(
                crate::venues::binance::Market::Spot,
                &crate::venues::binance::LIMITS,
            ),
            counters.clone(),
        );
        (h, counters)
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
        let (h, counters) = spot_handler_without_instruments(VenueId(2));
        let (out, mut rx) = crate::ring::channel::<MdEvent>(1024);
        let (log, _lrx) = crate::ring::channel::<LogRecord>(16);
        let (mut ctl, crx) = crate::ring::channel::<ResyncRequest>(16);
        ctl.push(ResyncRequest {
            venue: VenueId(2),
            instrument: InstrumentId(5),
        })
        .unwrap();
        test_thread(
            Box::new(Mock {
                seen: seen.clone(),
                polls: 0,
            }),
            h,
            (out, log, crx),
            0,
        )
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
    fn a_feed_held_up_past_the_stall_limit_reconnects_its_venue_and_loses_nothing() {
        use std::sync::Mutex;
        const MSGS: usize = 200;
        struct Mock {
            reconnects: Arc<Mutex<Vec<VenueId>>>,
            polls: u32,
        }
        impl FeedSource for Mock {
            fn poll(&mut self, f: &mut dyn FnMut(SourceEvent<'_>)) -> SourceState {
                self.polls += 1;
                if self.polls == 1 {
                    let raw = br#"{"stream":"x@bookTicker","data":{"u":1,"s":"X","b":"1","B":"1","a":"2","A":"1"}}"#;
                    for k in 0..MSGS {
                        let meta = RawMeta {
                            recv_ns: k as u64,
                            tag: tag::make(2, false, tag::NO_INSTRUMENT),
                            seq: k as u64,
                        };
                        f(SourceEvent::Message(meta, raw));
                    }
                    SourceState::Open
                } else {
                    SourceState::Finished
                }
            }
            fn request_reconnect(&mut self, v: VenueId) -> bool {
                self.reconnects.lock().unwrap().push(v);
                true
            }
        }
        let reconnects = Arc::new(Mutex::new(Vec::new()));
        let (h, counters) = spot_handler_without_instruments(VenueId(2));
        // a small ring and a consumer that sleeps 300 ms before reading: the feed waits
        let (out, mut rx) = crate::ring::channel::<MdEvent>(16);
        let (log, mut lrx) = crate::ring::channel::<LogRecord>(64);
        let (_ctl, crx) = crate::ring::channel::<ResyncRequest>(16);
        let consumer = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            let mut msgs = 0;
            loop {
                match rx.pop() {
                    Some(e) if e.kind == MdKind::FeedEnd => return msgs,
                    Some(e) => msgs += usize::from(e.is_last()),
                    None => std::thread::sleep(std::time::Duration::from_micros(50)),
                }
            }
        });
        test_thread(
            Box::new(Mock {
                reconnects: reconnects.clone(),
                polls: 0,
            }),
            h,
            (out, log, crx),
            100_000_000,
        )
        .run();
        assert_eq!(
            consumer.join().unwrap(),
            MSGS,
            "every message reached detection"
        );
        assert_eq!(*reconnects.lock().unwrap(), vec![VenueId(2)]);
        assert_eq!(VenueCounters::get(&counters.stall_reconnects), 1);
        let mut logged = Vec::new();
        while let Some(r) = lrx.pop() {
            logged.push((r.venue, r.a, r.code));
        }
        let (v, ms, _) = logged
            .iter()
            .find(|(_, _, c)| *c == LogCode::StallReconnect)
            .expect("the reconnect is logged");
        assert_eq!(*v, VenueId(2));
        assert!(*ms >= 100, "held up {ms} ms");
    }

    #[test]
    fn a_short_wait_for_room_is_not_a_stall() {
        let (mut out, mut rx) = crate::ring::channel::<MdEvent>(16);
        let mut w = Waiter::new(crate::wait::WaitKind::Park, 1, 1000);
        let consumer = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            let mut n = 0;
            while n < 100 {
                if rx.pop().is_some() {
                    n += 1;
                } else {
                    std::thread::sleep(std::time::Duration::from_micros(50));
                }
            }
        });
        let mut s = EventSink::to_ring(&mut out, &mut w).with_stall_limit(1_000_000_000);
        for k in 0..100u64 {
            let meta = RawMeta {
                recv_ns: k,
                tag: 0,
                seq: k,
            };
            s.begin(VenueId(0), &meta, 0);
            s.end();
        }
        consumer.join().unwrap();
        assert!(s.ring_full > 0, "the ring did fill");
        assert!(s.max_blocked_ns >= 10_000_000, "{}", s.max_blocked_ns);
        assert!(!s.stalled, "a 20 ms wait is under the 1 s limit");
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
