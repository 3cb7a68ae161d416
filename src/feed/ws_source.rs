//! The live [`FeedSource`]: a venue's WebSocket connections ([`crate::net::ws::WsConn`]),
//! polled by the feed thread's busy loop, plus the venue's REST snapshots arriving from the
//! cold fetcher thread ([`crate::net::snapshot`]) through a byte ring.
//!
//! It owns recovery (R1.4):
//! - silence watchdog: no frame of any kind for `silence_timeout_ns` → drop and reconnect;
//! - reconnect with exponential backoff and jitter (`reconnect_backoff_min_ns` doubling to
//!   `_max_ns`, each delay drawn from [d/2, d]; the attempt count resets once data flows);
//! - rotation: a connection older than `rotate_after_ns` (and before the venue's own limit,
//!   Binance 24 h) is closed cleanly and reopened;
//! - while any connection of the venue is down the venue is reported `Disconnected`: the feed
//!   thread invalidates its books (handler `on_disconnect`, detection marks the venue down) and
//!   nothing trades on them until a new snapshot has synced them after `Connected`;
//! - snapshot requests (from `VenueHandler::snapshot_wanted`) are sent to the fetcher only
//!   while the venue is up, tagged with the connection generation; answers from an older
//!   generation are dropped.
//!
//! Each disconnect, connect and its reason is logged through the feed's log ring and counted
//! ([`NetStats`]). DNS is resolved once, when the source is built (cold).
//!
//! Allocation: connection set-up and teardown allocate (buffers, TLS session); they run with
//! the allocation probe switched off ([`crate::alloc_probe::leave_hot`]). The steady-state read
//! path (poll → read frames → handler → ring) runs with it on.
#![forbid(unsafe_code)]

use super::protocol::AppPing;
use super::{tag, FeedSource, SourceEvent, SourceState};
use crate::clock::Clock;
use crate::journal::{LogCode, LogRecord, Severity};
use crate::net::snapshot::SnapshotRequest;
use crate::net::ws::{Phase, Step, WsConn, WsError, WsParams};
use crate::net::Url;
use crate::ring::{ByteConsumer, Producer, RawMeta};
use crate::stats::{Latency, LatencySummary};
use crate::types::{InstrumentId, VenueId};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tungstenite::Message;

/// Messages read per connection per poll before the thread looks at its other work.
const BUDGET: usize = 64;

/// Settings of one venue's live source.
#[derive(Clone)]
pub struct WsSourceConfig {
    /// Venue.
    pub venue: VenueId,
    /// URLs, one connection each.
    pub urls: Vec<String>,
    /// Text frames to send after each connection opens.
    pub subscribe: Vec<Vec<String>>,
    /// Keep-alive the client must send itself.
    pub app_ping: AppPing,
    /// TLS client configuration (required for `wss`).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Buffer sizes.
    pub params: WsParams,
    /// Silence watchdog, ns.
    pub silence_timeout_ns: u64,
    /// First reconnect delay, ns.
    pub backoff_min_ns: u64,
    /// Largest reconnect delay, ns.
    pub backoff_max_ns: u64,
    /// Rotate connections older than this, ns (0 = never).
    pub rotate_after_ns: u64,
    /// Opening must finish within this, ns.
    pub connect_timeout_ns: u64,
    /// A normal close from the server ends the source instead of reconnecting.
    pub stop_when_feeds_end: bool,
}

/// Connection statistics of one venue's source.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct NetStats {
    /// Connections opened (TCP + TLS + upgrade done).
    pub connects: u64,
    /// Opening attempts that failed or timed out.
    pub connect_failures: u64,
    /// Connections lost because the server closed them (close frame or end of stream).
    pub closed_by_server: u64,
    /// Connections dropped on a protocol error (bad frame, bad UTF-8, oversized).
    pub protocol_errors: u64,
    /// Connections lost on a socket/TLS error.
    pub io_errors: u64,
    /// Connections dropped by the silence watchdog.
    pub silence_timeouts: u64,
    /// Connections dropped because detection held the feed thread up
    /// (`threads.stall_resync_ns`).
    pub stall_reconnects: u64,
    /// Planned rotations.
    pub rotations: u64,
    /// Connections the server ended normally with `stop_when_feeds_end` (end of a recording).
    pub ended: u64,
    /// Data messages received.
    pub messages: u64,
    /// Pings received (answered with pongs).
    pub pings: u64,
    /// Keep-alive replies/heartbeats recognised by the venue protocol (not parsed).
    pub keepalives: u64,
    /// Resubscriptions sent (after a checksum mismatch or an unrepairable gap).
    pub resubscribes: u64,
    /// Bytes read from the sockets (TLS: ciphertext).
    pub bytes_in: u64,
    /// Snapshot requests sent to the fetcher.
    pub snapshots_requested: u64,
    /// Snapshot answers dropped because the connection changed since the request.
    pub snapshots_dropped: u64,
    /// Socket read (of the bytes completing a message) → the handler's events pushed, ns.
    pub wire_to_event_ns: LatencySummary,
}

/// Where a source publishes its statistics when it is dropped (end of run).
#[derive(Default)]
pub struct NetReport {
    /// Statistics.
    pub stats: Mutex<NetStats>,
    /// Wire-to-event latency histogram.
    pub wire_to_event: Mutex<Latency>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SlotState {
    Waiting { until_ns: u64 },
    Opening { since_ns: u64 },
    Open { since_ns: u64 },
    Finished,
}

struct Slot {
    url: Url,
    addrs: Vec<SocketAddr>,
    addr_i: usize,
    conn: Option<WsConn>,
    state: SlotState,
    attempts: u32,
    last_rx_ns: u64,
    next_app_ping_ns: u64,
    /// The connection has read its first frame (until then reads count as set-up: the
    /// first frame turns tungstenite's read buffer into a shared one, a one-time allocation).
    warm: bool,
}

/// Why a connection went away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Down {
    ClosedByServer,
    Protocol,
    Io,
    Silence,
    Rotation,
    Ended,
    ConnectFailed,
    /// Detection held the feed thread up ([`FeedSource::request_reconnect`]).
    Stalled,
}

impl Down {
    fn as_str(self) -> &'static str {
        match self {
            Down::ClosedByServer => "closed_by_server",
            Down::Protocol => "protocol_error",
            Down::Io => "io_error",
            Down::Silence => "silence_timeout",
            Down::Rotation => "rotation",
            Down::Ended => "feed_ended",
            Down::ConnectFailed => "connect_failed",
            Down::Stalled => "consumer_stall",
        }
    }
}

use crate::alloc_probe::Cold;

/// The live source of one venue.
pub struct WsSource {
    cfg: WsSourceConfig,
    slots: Vec<Slot>,
    venue_up: bool,
    generation: u64,
    seq: u64,
    rng: u64,
    snap_rx: Option<ByteConsumer>,
    snap_tx: Option<Producer<SnapshotRequest>>,
    want: Vec<InstrumentId>,
    log: Option<Producer<LogRecord>>,
    stats: NetStats,
    lat: Latency,
    report: Arc<NetReport>,
    clock: &'static Clock,
    proto: Option<Box<dyn super::protocol::VenueProtocol>>,
}

impl WsSource {
    /// Use the venue protocol for keep-alive replies (counted as liveness, not handed to the
    /// parser) and for resubscribing an instrument after a checksum mismatch.
    pub fn with_protocol(mut self, p: Box<dyn super::protocol::VenueProtocol>) -> WsSource {
        self.proto = Some(p);
        self
    }

    /// Build the source: parse URLs and resolve hosts (blocking DNS, start-up only).
    /// `snapshots` = (request ring to the fetcher, body ring from it), if the venue syncs from
    /// REST; `log` = the feed's log ring.
    pub fn new(
        cfg: WsSourceConfig,
        snapshots: Option<(Producer<SnapshotRequest>, ByteConsumer)>,
        log: Option<Producer<LogRecord>>,
        report: Arc<NetReport>,
    ) -> Result<WsSource, String> {
        let mut slots = Vec::new();
        for u in &cfg.urls {
            let url = Url::parse(u)?;
            if url.secure && cfg.tls.is_none() {
                return Err(format!("{u}: wss needs a TLS configuration"));
            }
            let addrs = url
                .resolve()
                .map_err(|e| format!("{}: cannot resolve: {e}", url.host))?;
            if addrs.is_empty() {
                return Err(format!("{}: no address", url.host));
            }
            slots.push(Slot {
                url,
                addrs,
                addr_i: 0,
                conn: None,
                state: SlotState::Waiting { until_ns: 0 },
                attempts: 0,
                last_rx_ns: 0,
                next_app_ping_ns: 0,
                warm: false,
            });
        }
        if slots.is_empty() {
            return Err("no WebSocket URL".into());
        }
        let clock = Clock::get();
        let (snap_tx, snap_rx) = match snapshots {
            Some((t, r)) => (Some(t), Some(r)),
            None => (None, None),
        };
        Ok(WsSource {
            rng: clock.now_ns() | 1,
            cfg,
            slots,
            venue_up: false,
            generation: 0,
            seq: 0,
            snap_rx,
            snap_tx,
            want: Vec::with_capacity(64),
            log,
            stats: NetStats::default(),
            lat: Latency::new(),
            report,
            clock,
            proto: None,
        })
    }

    fn jitter(&mut self, d: u64) -> u64 {
        // xorshift64*: jitter only, not cryptographic
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let half = d / 2;
        half + self.rng % (d - half + 1)
    }

    fn log(&mut self, sev: Severity, what: &str, reason: &str, a: i64, b: i64) {
        if let Some(l) = self.log.as_mut() {
            let mut text = [0u8; 64];
            let mut n = 0;
            for part in [what.as_bytes(), b" ", reason.as_bytes()] {
                let k = part.len().min(64 - n);
                text[n..n + k].copy_from_slice(&part[..k]);
                n += k;
            }
            let rec = LogRecord {
                ts_ns: self.clock.now_ns(),
                severity: sev,
                code: LogCode::Note,
                venue: self.cfg.venue,
                a,
                b,
                ..LogRecord::default()
            }
            .with_text(&text[..n]);
            let _ = l.push(rec); // a full log ring drops the line, never blocks
        }
    }

    /// Drop connection `i` for `why`; schedule the reconnect.
    fn down(&mut self, i: usize, why: Down, detail: &str, now: u64) {
        let _cold = Cold::enter();
        let s = &mut self.slots[i];
        if let Some(mut c) = s.conn.take() {
            if matches!(why, Down::Rotation | Down::Silence | Down::Stalled)
                && c.phase() == Phase::Open
            {
                c.close(why.as_str());
            }
            if let Some(st) = c.stream() {
                self.stats.bytes_in += st.bytes_in;
            }
        }
        match why {
            Down::ClosedByServer => self.stats.closed_by_server += 1,
            Down::Protocol => self.stats.protocol_errors += 1,
            Down::Io => self.stats.io_errors += 1,
            Down::Silence => self.stats.silence_timeouts += 1,
            Down::Rotation => self.stats.rotations += 1,
            Down::Ended => self.stats.ended += 1,
            Down::ConnectFailed => self.stats.connect_failures += 1,
            Down::Stalled => self.stats.stall_reconnects += 1,
        }
        let s = &mut self.slots[i];
        if why == Down::Ended {
            s.state = SlotState::Finished;
        } else {
            let delay = if matches!(why, Down::Rotation | Down::Stalled) {
                0
            } else {
                let k = s.attempts.min(30);
                s.attempts += 1;
                let d = self
                    .cfg
                    .backoff_min_ns
                    .saturating_mul(1u64 << k.min(20))
                    .min(self.cfg.backoff_max_ns);
                self.jitter(d)
            };
            let s = &mut self.slots[i];
            s.addr_i = (s.addr_i + 1) % s.addrs.len();
            s.state = SlotState::Waiting {
                until_ns: now + delay,
            };
            let mut msg = [0u8; 40];
            let dl = detail.len().min(40);
            msg[..dl].copy_from_slice(&detail.as_bytes()[..dl]);
            let reason = std::str::from_utf8(&msg[..dl]).unwrap_or("");
            self.log(
                Severity::Warn,
                "ws_disconnect",
                why.as_str(),
                i as i64,
                (delay / 1_000_000) as i64,
            );
            if !reason.is_empty() {
                self.log(Severity::Warn, "ws_detail", reason, i as i64, 0);
            }
            return;
        }
        self.log(Severity::Info, "ws_end", why.as_str(), i as i64, 0);
    }

    fn open(&mut self, i: usize, now: u64) {
        let _cold = Cold::enter();
        let s = &mut self.slots[i];
        let addr = s.addrs[s.addr_i % s.addrs.len()];
        match WsConn::connect(&s.url, addr, self.cfg.tls.as_ref(), self.cfg.params) {
            Ok(c) => {
                s.conn = Some(c);
                s.state = SlotState::Opening { since_ns: now };
            }
            Err(e) => self.down(i, Down::ConnectFailed, &e, now),
        }
    }

    fn opened(&mut self, i: usize, now: u64) {
        let _cold = Cold::enter();
        let subs = self.cfg.subscribe.get(i).cloned().unwrap_or_default();
        let s = &mut self.slots[i];
        let mut err = None;
        if let Some(c) = s.conn.as_mut() {
            for f in &subs {
                if let Err(e) = c.send_text(f) {
                    err = Some(format!("{e:?}"));
                }
            }
            // warm the write path (frame buffer, mask RNG) with an unsolicited pong, which
            // RFC 6455 and Binance allow, so answering pings later does not allocate
            let _ = c.send_pong(&[0u8; 125]);
            let _ = c.flush();
        }
        s.state = SlotState::Open { since_ns: now };
        s.warm = false;
        s.last_rx_ns = now;
        s.next_app_ping_ns = now;
        self.stats.connects += 1;
        self.log(
            Severity::Info,
            "ws_connected",
            "",
            i as i64,
            self.stats.connects as i64,
        );
        if let Some(e) = err {
            self.down(i, Down::Io, &e, now);
        }
    }

    /// Statistics so far (the final ones are published on drop).
    pub fn stats(&self) -> &NetStats {
        &self.stats
    }
}

impl FeedSource for WsSource {
    fn poll(&mut self, f: &mut dyn FnMut(SourceEvent<'_>)) -> SourceState {
        let now = self.clock.now_ns();
        let venue = self.cfg.venue;
        // REST snapshots from the fetcher
        if let Some(rx) = self.snap_rx.as_mut() {
            while let Some((meta, body)) = rx.peek() {
                if meta.seq == self.generation && self.venue_up {
                    self.seq += 1;
                    // the snapshot's receive time is when this feed thread takes it from the
                    // fetcher (≤ one poll after the fetch ended): receive times stay monotone
                    // on the feed thread, so a recording of the session (R1.6), merged by
                    // receive time, replays in the order the session processed it
                    let m = RawMeta {
                        recv_ns: now.max(meta.recv_ns),
                        tag: meta.tag,
                        seq: self.seq,
                    };
                    f(SourceEvent::Message(m, body));
                } else {
                    self.stats.snapshots_dropped += 1;
                }
                rx.advance();
            }
        }
        for i in 0..self.slots.len() {
            match self.slots[i].state {
                SlotState::Finished => {}
                SlotState::Waiting { until_ns } => {
                    if now >= until_ns {
                        self.open(i, now);
                    }
                }
                SlotState::Opening { since_ns } => {
                    let _cold = Cold::enter(); // connection set-up allocates (buffers, TLS)
                    let step = match self.slots[i].conn.as_mut() {
                        Some(c) => c.drive(),
                        None => Step::Failed("no connection".into()),
                    };
                    match step {
                        Step::Open => self.opened(i, now),
                        Step::Pending => {
                            if now.saturating_sub(since_ns) > self.cfg.connect_timeout_ns {
                                self.down(i, Down::ConnectFailed, "connect timeout", now);
                            }
                        }
                        Step::Failed(e) => self.down(i, Down::ConnectFailed, &e, now),
                    }
                }
                SlotState::Open { since_ns } => {
                    let mut gone: Option<(Down, &'static str)> = None;
                    let mut detail = WsError::Io(String::new());
                    {
                        let s = &mut self.slots[i];
                        let Some(c) = s.conn.as_mut() else {
                            continue;
                        };
                        let cold = if s.warm { None } else { Some(Cold::enter()) };
                        for _ in 0..BUDGET {
                            match c.read() {
                                Ok(Some(Message::Text(t))) => {
                                    let t_read = c.stream().map(|st| st.last_read_tsc).unwrap_or(0);
                                    s.last_rx_ns = self.clock.now_ns();
                                    if self
                                        .proto
                                        .as_ref()
                                        .is_some_and(|p| p.is_keepalive(t.as_bytes()))
                                    {
                                        self.stats.keepalives += 1;
                                        continue;
                                    }
                                    self.seq += 1;
                                    self.stats.messages += 1;
                                    s.attempts = 0;
                                    let meta = RawMeta {
                                        recv_ns: s.last_rx_ns,
                                        tag: tag::make(venue.0, false, tag::NO_INSTRUMENT),
                                        seq: self.seq,
                                    };
                                    f(SourceEvent::Message(meta, t.as_bytes()));
                                    self.lat.record_since(t_read);
                                }
                                Ok(Some(Message::Binary(b))) => {
                                    let t_read = c.stream().map(|st| st.last_read_tsc).unwrap_or(0);
                                    s.last_rx_ns = self.clock.now_ns();
                                    if self.proto.as_ref().is_some_and(|p| p.is_keepalive(&b)) {
                                        self.stats.keepalives += 1;
                                        continue;
                                    }
                                    self.seq += 1;
                                    self.stats.messages += 1;
                                    s.attempts = 0;
                                    let meta = RawMeta {
                                        recv_ns: s.last_rx_ns,
                                        tag: tag::make(venue.0, false, tag::NO_INSTRUMENT),
                                        seq: self.seq,
                                    };
                                    f(SourceEvent::Message(meta, &b));
                                    self.lat.record_since(t_read);
                                }
                                Ok(Some(Message::Ping(_))) => {
                                    self.stats.pings += 1;
                                    s.last_rx_ns = self.clock.now_ns();
                                }
                                Ok(Some(Message::Pong(_))) | Ok(Some(Message::Frame(_))) => {
                                    s.last_rx_ns = self.clock.now_ns();
                                }
                                Ok(Some(Message::Close(cf))) => {
                                    let normal = cf.as_ref().is_some_and(|c| {
                                        c.code
                                            == tungstenite::protocol::frame::coding::CloseCode::Normal
                                    });
                                    gone = Some(if normal && self.cfg.stop_when_feeds_end {
                                        (Down::Ended, "server closed: end of feed")
                                    } else {
                                        (Down::ClosedByServer, "server sent a close frame")
                                    });
                                    break;
                                }
                                Ok(None) => break,
                                Err(e) => {
                                    gone = Some(match &e {
                                        WsError::Closed(Some(1000))
                                            if self.cfg.stop_when_feeds_end =>
                                        {
                                            (Down::Ended, "server closed: end of feed")
                                        }
                                        WsError::Closed(_) => {
                                            (Down::ClosedByServer, "connection closed")
                                        }
                                        WsError::Protocol(_) => (Down::Protocol, "protocol error"),
                                        WsError::Io(_) => (Down::Io, "socket error"),
                                    });
                                    detail = e;
                                    break;
                                }
                            }
                        }
                        if gone.is_none() {
                            if let Err(e) = c.flush() {
                                gone = Some((Down::Io, "write failed"));
                                detail = e;
                            }
                        }
                        if cold.is_some() && s.last_rx_ns > since_ns {
                            s.warm = true;
                        }
                        drop(cold);
                    }
                    if gone.is_none() {
                        // application keep-alive
                        if let AppPing::Text { every, .. } | AppPing::Frame { every } =
                            &self.cfg.app_ping
                        {
                            let every = every.as_nanos() as u64;
                            let s = &mut self.slots[i];
                            if now >= s.next_app_ping_ns + every {
                                s.next_app_ping_ns = now;
                                let c = s.conn.as_mut();
                                let r = match (&self.cfg.app_ping, c) {
                                    (AppPing::Text { text, .. }, Some(c)) => c.send_text(text),
                                    (AppPing::Frame { .. }, Some(c)) => c.send_ping(b""),
                                    _ => Ok(()),
                                };
                                if let Err(e) = r {
                                    gone = Some((Down::Io, "keep-alive write failed"));
                                    detail = e;
                                }
                            }
                        }
                    }
                    if gone.is_none() {
                        let s = &self.slots[i];
                        if now.saturating_sub(s.last_rx_ns) > self.cfg.silence_timeout_ns {
                            gone = Some((Down::Silence, "no message within silence_timeout_ns"));
                        } else if self.cfg.rotate_after_ns > 0
                            && now.saturating_sub(since_ns) > self.cfg.rotate_after_ns
                        {
                            gone = Some((Down::Rotation, "connection age limit"));
                        }
                    }
                    if let Some((why, what)) = gone {
                        let d = match &detail {
                            WsError::Io(s) | WsError::Protocol(s) if !s.is_empty() => s.as_str(),
                            _ => what,
                        };
                        self.down(i, why, d, now);
                    }
                }
            }
        }
        // venue status
        // (a connection that ended normally at the end of a recording is not a disconnect:
        // the books stay as they are, like at the end of a replay file)
        let all_ready = self
            .slots
            .iter()
            .all(|s| matches!(s.state, SlotState::Open { .. } | SlotState::Finished));
        let any_open = self
            .slots
            .iter()
            .any(|s| matches!(s.state, SlotState::Open { .. }));
        if all_ready && any_open && !self.venue_up {
            self.venue_up = true;
            f(SourceEvent::Connected(venue));
        } else if !all_ready && self.venue_up {
            self.venue_up = false;
            self.generation += 1;
            f(SourceEvent::Disconnected(venue));
        }
        // snapshot requests, once the venue is up (diffs are being buffered by then)
        if self.venue_up && !self.want.is_empty() {
            if let Some(tx) = self.snap_tx.as_mut() {
                let mut k = 0;
                while k < self.want.len() {
                    let r = SnapshotRequest {
                        instrument: self.want[k],
                        generation: self.generation,
                    };
                    if tx.push(r).is_err() {
                        break; // ring full: try again next poll
                    }
                    self.stats.snapshots_requested += 1;
                    k += 1;
                }
                self.want.drain(..k);
            } else {
                self.want.clear();
            }
        }
        if self.slots.iter().all(|s| s.state == SlotState::Finished) {
            SourceState::Finished
        } else {
            SourceState::Open
        }
    }

    fn request_resubscribe(&mut self, venue: VenueId, instrument: InstrumentId) -> bool {
        if venue != self.cfg.venue {
            return false;
        }
        let Some(p) = self.proto.as_ref() else {
            return false;
        };
        let frames = p.resubscribe_frames(instrument);
        if frames.is_empty() {
            return false;
        }
        // cold: a resubscribe happens after a checksum mismatch, not per message
        for f in &frames {
            for sl in self.slots.iter_mut() {
                if let (SlotState::Open { .. }, Some(c)) = (&sl.state, sl.conn.as_mut()) {
                    let _ = c.send_text(f);
                }
            }
        }
        self.stats.resubscribes += 1;
        true
    }

    fn request_reconnect(&mut self, venue: VenueId) -> bool {
        if venue != self.cfg.venue {
            return false;
        }
        let now = self.clock.now_ns();
        let mut any = false;
        for i in 0..self.slots.len() {
            if matches!(
                self.slots[i].state,
                SlotState::Open { .. } | SlotState::Opening { .. }
            ) {
                self.down(i, Down::Stalled, "the feed thread was held up", now);
                any = true;
            }
        }
        any
    }

    fn request_snapshot(&mut self, venue: VenueId, instrument: InstrumentId) -> bool {
        if venue != self.cfg.venue {
            return false;
        }
        if !self.want.contains(&instrument) && self.want.len() < self.want.capacity() {
            self.want.push(instrument);
        }
        true
    }
}

impl Drop for WsSource {
    fn drop(&mut self) {
        for i in 0..self.slots.len() {
            if let Some(mut c) = self.slots[i].conn.take() {
                if let Some(st) = c.stream() {
                    self.stats.bytes_in += st.bytes_in;
                }
                if c.phase() == Phase::Open {
                    c.close("client shutting down");
                }
            }
        }
        self.stats.wire_to_event_ns = self.lat.summary();
        if let Ok(mut s) = self.report.stats.lock() {
            *s = self.stats.clone();
        }
        if let Ok(mut l) = self.report.wire_to_event.lock() {
            l.merge(&self.lat);
        }
    }
}
