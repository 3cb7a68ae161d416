//! Live order entry on the execution thread (R3.1 live, R3.2, R3.4): per venue, a small pool of
//! pre-connected keep-alive HTTP/1.1 connections ([`crate::net::http::HttpConn`], mio + rustls)
//! for order requests, and the venue's private stream ([`crate::net::ws::WsConn`]) for fills.
//! Everything here is polled from the execution thread's loop and never blocks; requests are
//! written from the venue encoder's reused buffers and answers parsed without allocating.
//!
//! Each order leg has a state machine:
//!
//! ```text
//!   send ──▶ Sent ──answer──▶ Working (NEW / PARTIALLY_FILLED) ──fills, stream──▶ Final
//!             │                  │ deadline: cancel ─▶ Final (CANCELED with what filled)
//!             │ no answer in order_timeout_ns, 5xx, connection lost
//!             ▼
//!          Unknown ──query every query_interval_ns──▶ Working / Final
//! ```
//!
//! Final = FILLED, CANCELED, EXPIRED or REJECTED. Our client order id (`trade_id·8 + leg`)
//! makes retries idempotent: a query or cancel names the order by it. Fills come from the
//! answer (Binance `FULL`) and from the private stream, de-duplicated by trade id; the
//! cumulative quantity and quote the venue reports are the truth for the leg's totals.
//!
//! Rate limits: every answer's used weight / order count updates the venue's budget; the
//! engine refuses to send while `used ≥ limit − margin`; a 429 stops sending to the venue until
//! its `Retry-After`; a 418 disables the venue (an error in the log, and detection stops
//! trading it). Clock skew (-1021) asks the cold keeper thread for a new server-time offset.
#![forbid(unsafe_code)]

use crate::alloc_probe::Cold;
use crate::clock;
use crate::journal::{LegFill, LegStatus, MAX_FILLS};
use crate::net::http::{ConnState, HttpConn, HttpParams, RespMeta};
use crate::net::ws::{Step, WsConn, WsParams};
use crate::net::Url;
use crate::types::{
    apply_bps, pow10, Amount, Bps, FeeAsset, InstrumentId, Price, Qty, Side, VenueId,
};
use crate::venues::order_entry::{
    ErrorClass, ExecFill, OrderEntry, OrderRef, OrderStatus, OrderUpdate,
};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

/// Settings of live order entry (from `[execution]`).
#[derive(Clone, Copy, Debug)]
pub struct LiveParams {
    /// Keep-alive order connections per venue.
    pub connections: usize,
    /// No answer within this long: the order's state is unknown; query it.
    pub order_timeout_ns: u64,
    /// Interval between queries of an order whose state is unknown.
    pub query_interval_ns: u64,
    /// `recvWindow` sent with requests, ms.
    pub recv_window_ms: u32,
    /// Stay this far below the venue's weight limit (fraction of the limit, per mille).
    pub rate_margin_permille: u32,
}

/// Weight budget of one venue, fed by the answers' headers.
#[derive(Clone, Copy, Debug, Default)]
pub struct RateState {
    /// Last reported used weight (this minute).
    pub used_weight: u64,
    /// Last reported order count (this window).
    pub order_count: u64,
    /// Weight limit per minute (Binance spot 6000; read from `exchangeInfo` live).
    pub weight_limit: u64,
    /// Nothing is sent before this wall time, ns (after a 429).
    pub blocked_until_ns: u64,
    /// 418: the venue is disabled for the rest of the run.
    pub banned: bool,
    /// 429 answers seen.
    pub too_many: u64,
    /// Orders held back because the budget was spent.
    pub held_back: u64,
}

/// What a live venue shares with the cold keeper thread.
#[derive(Debug, Default)]
pub struct VenueClock {
    /// Venue clock − local clock, ms (set by the keeper from the venue's server time).
    pub offset_ms: AtomicI64,
    /// Set by the execution thread after a clock-skew answer: resync now.
    pub resync: AtomicBool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for a free connection.
    Queued,
    /// Request written, waiting for its answer on `conn`.
    Sent,
    /// The venue has it, not final.
    Working,
    /// Outcome unknown: querying.
    Unknown,
    /// Final: reported to the executor.
    Done,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReqKind {
    Place,
    Cancel,
    Query,
    Ping,
}

/// One live order.
#[derive(Clone, Copy, Debug)]
struct LiveOrder {
    client_id: u64,
    slot: u8,
    leg: u8,
    instrument: InstrumentId,
    side: Side,
    qty: Qty,
    limit: Price,
    phase: Phase,
    order_id: u64,
    status: OrderStatus,
    sent_ns: u64,
    deadline_ns: u64,
    next_query_ns: u64,
    cancel_sent: bool,
    cum_qty: Qty,
    cum_quote: Amount,
    /// Quantity of the executions applied to `fill` (each one seen with its price and fee).
    exec_qty: Qty,
    /// The venue's average price of all executions (0 until an answer gives it).
    avg_px: Price,
    fill: LegFill,
    trade_ids: [u64; 32],
    n_trade_ids: u8,
    /// "unknown order" answers in a row while the state is unknown.
    not_found: u8,
    /// The first bytes of the last error, for the journal.
    err_code: i64,
}

#[derive(Clone, Copy, Debug)]
struct InFlight {
    kind: ReqKind,
    order: usize,
    sent_ns: u64,
}

struct Conn {
    http: Option<HttpConn>,
    busy: Option<InFlight>,
    retry_at_ns: u64,
    last_use_ns: u64,
}

/// A final leg for the executor, or a journal-worthy transition.
#[derive(Clone, Copy, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum LiveEvent {
    /// The leg is final.
    Final {
        /// Execution slot.
        slot: u8,
        /// Leg index.
        leg: u8,
        /// What it did.
        fill: LegFill,
    },
    /// An order changed state (journal `orders.jsonl`).
    Transition(crate::journal::OrderEvent),
    /// The venue answered 418: disabled for the rest of the run.
    VenueBanned(VenueId),
}

/// Instruments of the venue: symbol, scales, kind (for totals), fee for estimates.
#[derive(Clone, Debug)]
pub struct LiveInst {
    /// Engine id.
    pub id: InstrumentId,
    /// Spec.
    pub spec: crate::instrument::InstrumentSpec,
    /// Taker fee, for the fee of answers that carry none (futures `RESULT`).
    pub fee: Bps,
}

/// Live order entry for one venue.
pub struct LiveVenue {
    /// The venue.
    pub venue: VenueId,
    entry: Box<dyn OrderEntry>,
    insts: Vec<LiveInst>,
    url: Url,
    addrs: Vec<SocketAddr>,
    tls: Option<Arc<rustls::ClientConfig>>,
    conns: Vec<Conn>,
    ping_req: Vec<u8>,
    stream_url: Option<Url>,
    stream_addr: Option<SocketAddr>,
    stream: Option<WsConn>,
    stream_open: bool,
    /// A message has been read on the current stream connection (tungstenite's read buffer
    /// is set up by the first frame: that read is cold work, like the feeds' first frame).
    stream_warm: bool,
    stream_retry_ns: u64,
    body: Vec<u8>,
    msg: Vec<u8>,
    req: Vec<u8>,
    orders: Vec<LiveOrder>,
    params: LiveParams,
    /// Weight budget.
    pub rate: RateState,
    /// Server-time offset and resync flag shared with the keeper thread.
    pub clock: Arc<VenueClock>,
    /// Counters.
    pub stats: LiveStats,
    update: OrderUpdate,
}

/// Counters of one live venue.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct LiveStats {
    /// Orders sent.
    pub orders: u64,
    /// Cancels sent.
    pub cancels: u64,
    /// Queries sent.
    pub queries: u64,
    /// Answers that were errors.
    pub errors: u64,
    /// Orders whose state became unknown (timeout, 5xx, lost connection).
    pub unknown: u64,
    /// Connections lost and reopened.
    pub reconnects: u64,
    /// Private-stream order updates applied.
    pub stream_updates: u64,
    /// Messages that could not be parsed (answers or stream).
    pub parse_errors: u64,
    /// Orders that waited for a free connection.
    pub queued: u64,
    /// Orders final with some quantity filled.
    pub fills: u64,
    /// Orders final with quantity the venue reported no execution (price, commission) for:
    /// its fee is the configured taker fee, an estimate (see `finish`).
    pub fees_estimated: u64,
    /// Answers that arrived after the user stream had made their order final (ignored).
    pub late_answers: u64,
}

fn now_ns() -> u64 {
    clock::Clock::get().now_ns()
}

impl LiveVenue {
    /// Connect `params.connections` order connections to `rest_url` and the private stream at
    /// `stream_url` (cold: DNS, sockets, buffers). Returns once every connection is open or
    /// `wait` has passed (then `Err`).
    #[allow(clippy::too_many_arguments)]
    pub fn connect(
        venue: VenueId,
        entry: Box<dyn OrderEntry>,
        insts: Vec<LiveInst>,
        rest_url: &str,
        stream_url: Option<&str>,
        tls: Option<Arc<rustls::ClientConfig>>,
        params: LiveParams,
        clock: Arc<VenueClock>,
        max_orders: usize,
        wait: std::time::Duration,
    ) -> Result<LiveVenue, String> {
        let url = Url::parse(rest_url)?;
        let addrs = url
            .resolve()
            .map_err(|e| format!("resolve {}: {e}", url.host))?;
        if addrs.is_empty() {
            return Err(format!("resolve {}: no address", url.host));
        }
        let ping_path = format!("{}/api/v3/ping", url.path.trim_end_matches('/'));
        let ping_req = format!(
            "GET {ping_path} HTTP/1.1\r\nHost: {}\r\nConnection: keep-alive\r\n\r\n",
            url.host_header()
        )
        .into_bytes();
        let mut v = LiveVenue {
            venue,
            entry,
            insts,
            url,
            addrs,
            tls,
            conns: (0..params.connections.max(1))
                .map(|_| Conn {
                    http: None,
                    busy: None,
                    retry_at_ns: 0,
                    last_use_ns: 0,
                })
                .collect(),
            ping_req,
            stream_url: stream_url.map(Url::parse).transpose()?,
            stream_addr: None,
            stream: None,
            stream_open: false,
            stream_warm: false,
            stream_retry_ns: 0,
            body: Vec::with_capacity(HttpParams::default().max_response_bytes),
            msg: Vec::with_capacity(1 << 16),
            req: Vec::with_capacity(HttpParams::default().max_request_bytes),
            orders: Vec::with_capacity(max_orders),
            params,
            rate: RateState {
                weight_limit: 6000,
                ..RateState::default()
            },
            clock,
            stats: LiveStats::default(),
            update: OrderUpdate::default(),
        };
        if let Some(u) = &v.stream_url {
            v.stream_addr = Some(
                u.resolve()
                    .map_err(|e| format!("resolve {}: {e}", u.host))?
                    .into_iter()
                    .next()
                    .ok_or_else(|| format!("resolve {}: no address", u.host))?,
            );
        }
        let t0 = std::time::Instant::now();
        loop {
            v.maintain(now_ns());
            let open = v.conns.iter().all(|c| {
                c.http
                    .as_ref()
                    .is_some_and(|h| h.state() == &ConnState::Open)
            });
            let stream_ok = v.stream_url.is_none() || v.stream_open;
            if open && stream_ok {
                return Ok(v);
            }
            if t0.elapsed() > wait {
                return Err(format!(
                    "order connections to {} not open after {:?}",
                    v.url.host_header(),
                    wait
                ));
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// Orders not final.
    pub fn open_orders(&self) -> usize {
        self.orders
            .iter()
            .filter(|o| o.phase != Phase::Done)
            .count()
    }

    /// Venue time now, ms (local clock plus the keeper's measured offset).
    fn venue_ms(&self, now: u64) -> u64 {
        ((now / 1_000_000) as i64 + self.clock.offset_ms.load(Ordering::Relaxed)).max(0) as u64
    }

    /// May an order go out now?
    pub fn can_send(&self, now: u64) -> bool {
        !self.rate.banned
            && now >= self.rate.blocked_until_ns
            && self.rate.used_weight * 1000
                < self.rate.weight_limit * (1000 - self.params.rate_margin_permille as u64)
    }

    /// Encode `fields` with the venue's order entry and [`LiveVenue::submit`] the request.
    #[allow(clippy::too_many_arguments)]
    pub fn submit_fields(
        &mut self,
        fields: &crate::venues::OrderFields<'_>,
        slot: u8,
        leg: u8,
        unwind: bool,
        instrument: InstrumentId,
        limit: Price,
        qty: Qty,
        deadline_ns: u64,
        now: u64,
        events: &mut impl FnMut(LiveEvent),
    ) -> Result<(), LegStatus> {
        let mut req = std::mem::take(&mut self.req);
        req.clear();
        let mut f = *fields;
        f.timestamp_ms = self.venue_ms(now);
        f.recv_window_ms = self.params.recv_window_ms;
        req.extend_from_slice(self.entry.place(&f));
        let r = self.submit(
            &req,
            fields.client_id,
            slot,
            leg,
            unwind,
            instrument,
            fields.side,
            qty,
            limit,
            deadline_ns,
            now,
            events,
        );
        self.req = req;
        r
    }

    /// Send a new order (its bytes already encoded by the caller through `place`): the
    /// request goes out now on a free connection, or waits for one. `Err` when the venue may
    /// not be sent to (banned, rate-limited, too many orders open): the leg is then final
    /// with nothing filled.
    #[allow(clippy::too_many_arguments)]
    pub fn submit(
        &mut self,
        req: &[u8],
        client_id: u64,
        slot: u8,
        leg: u8,
        unwind: bool,
        instrument: InstrumentId,
        side: Side,
        qty: Qty,
        limit: Price,
        deadline_ns: u64,
        now: u64,
        events: &mut impl FnMut(LiveEvent),
    ) -> Result<(), LegStatus> {
        if !self.can_send(now) {
            self.rate.held_back += 1;
            return Err(LegStatus::Rejected);
        }
        // a finished order's slot, unless a connection still waits for an answer about it
        // (the stream can make an order final before its REST answer arrives)
        let conns = &self.conns;
        let free = |k: usize| !conns.iter().any(|c| c.busy.is_some_and(|f| f.order == k));
        let k = match (0..self.orders.len())
            .find(|&k| self.orders[k].phase == Phase::Done && free(k))
        {
            Some(k) => k,
            None if self.orders.len() < self.orders.capacity() => {
                self.orders.push(blank_order());
                self.orders.len() - 1
            }
            None => return Err(LegStatus::Rejected),
        };
        let mut fill = LegFill {
            venue: self.venue,
            instrument,
            side,
            unwind,
            order_qty: qty,
            limit_px: limit,
            arrival_ns: now,
            view_ns: now,
            ..LegFill::default()
        };
        fill.status = LegStatus::Pending;
        self.orders[k] = LiveOrder {
            client_id,
            slot,
            leg,
            instrument,
            side,
            qty,
            limit,
            phase: Phase::Queued,
            order_id: 0,
            status: OrderStatus::New,
            sent_ns: now,
            deadline_ns,
            next_query_ns: 0,
            cancel_sent: false,
            cum_qty: Qty(0),
            cum_quote: Amount(0),
            exec_qty: Qty(0),
            avg_px: Price(0),
            fill,
            trade_ids: [0; 32],
            n_trade_ids: 0,
            not_found: 0,
            err_code: 0,
        };
        match self.free_conn() {
            Some(c) => self.write(c, ReqKind::Place, k, req, now, events),
            None => {
                // no connection free (the pool is sized for both legs of every trade in
                // flight, so this means connections are down): the order is not sent
                self.stats.queued += 1;
                self.orders[k].phase = Phase::Done;
                Err(LegStatus::Rejected)
            }
        }
    }

    fn free_conn(&self) -> Option<usize> {
        self.conns
            .iter()
            .position(|c| c.busy.is_none() && c.http.as_ref().is_some_and(|h| h.is_idle()))
    }

    fn write(
        &mut self,
        c: usize,
        kind: ReqKind,
        k: usize,
        req: &[u8],
        now: u64,
        events: &mut impl FnMut(LiveEvent),
    ) -> Result<(), LegStatus> {
        let Some(h) = self.conns[c].http.as_mut() else {
            return Err(LegStatus::Rejected);
        };
        match h.send(req) {
            Ok(()) => {
                self.conns[c].busy = Some(InFlight {
                    kind,
                    order: k,
                    sent_ns: now,
                });
                self.conns[c].last_use_ns = now;
                match kind {
                    ReqKind::Place => {
                        self.stats.orders += 1;
                        let o = &mut self.orders[k];
                        o.phase = Phase::Sent;
                        o.sent_ns = now;
                        let ev = self.event(k, "sent", now);
                        events(LiveEvent::Transition(ev));
                    }
                    ReqKind::Cancel => self.stats.cancels += 1,
                    ReqKind::Query => self.stats.queries += 1,
                    ReqKind::Ping => {}
                }
                Ok(())
            }
            Err(_) => {
                // the connection broke under the write: nothing was sent for sure only if no
                // byte left; treat the outcome as unknown and query
                self.conn_lost(c, now, events);
                if kind == ReqKind::Place {
                    self.orders[k].phase = Phase::Unknown;
                    self.orders[k].next_query_ns = now + self.params.query_interval_ns;
                    self.stats.unknown += 1;
                }
                Ok(())
            }
        }
    }

    fn event(&self, k: usize, state: &'static str, now: u64) -> crate::journal::OrderEvent {
        let o = &self.orders[k];
        crate::journal::OrderEvent {
            ts_ns: now,
            venue: self.venue,
            instrument: o.instrument,
            client_id: o.client_id,
            trade_id: o.client_id / 8,
            leg: o.leg,
            order_id: o.order_id,
            side: o.side,
            state: crate::journal::OrderState::parse(state),
            qty: o.qty,
            // final: the leg's totals (the venue's cumulative figures where it gave them,
            // else its executions: a futures stream message carries no cumulative notional)
            filled_qty: if o.phase == Phase::Done {
                o.fill.filled_qty
            } else {
                o.cum_qty
            },
            cum_quote: if o.phase == Phase::Done {
                o.fill.quote
            } else {
                o.cum_quote
            },
            limit_px: o.limit,
            err_code: o.err_code,
            live: true,
        }
    }

    fn conn_lost(&mut self, c: usize, now: u64, events: &mut impl FnMut(LiveEvent)) {
        let _cold = Cold::enter();
        if let Some(f) = self.conns[c].busy.take() {
            if matches!(f.kind, ReqKind::Place | ReqKind::Cancel | ReqKind::Query) {
                let o = &mut self.orders[f.order];
                if o.phase == Phase::Sent {
                    // sent, no answer: the venue may or may not have it
                    o.phase = Phase::Unknown;
                    o.next_query_ns = now + self.params.query_interval_ns;
                    self.stats.unknown += 1;
                    let ev = self.event(f.order, "unknown", now);
                    events(LiveEvent::Transition(ev));
                }
            }
        }
        self.conns[c].http = None;
        self.conns[c].retry_at_ns = now + 50_000_000;
        self.stats.reconnects += 1;
    }

    /// Reconnect closed connections and the stream (cold work: only when something is down).
    fn maintain(&mut self, now: u64) {
        for c in 0..self.conns.len() {
            let need = match &self.conns[c].http {
                None => true,
                Some(h) => matches!(h.state(), ConnState::Closed(_)),
            };
            if need && now >= self.conns[c].retry_at_ns && self.conns[c].busy.is_none() {
                let _cold = Cold::enter();
                let addr = self.addrs[c % self.addrs.len()];
                match HttpConn::connect(&self.url, addr, self.tls.as_ref(), HttpParams::default()) {
                    Ok(h) => self.conns[c].http = Some(h),
                    Err(_) => self.conns[c].retry_at_ns = now + 500_000_000,
                }
            }
            if let Some(h) = self.conns[c].http.as_mut() {
                if h.state() == &ConnState::Connecting {
                    h.drive();
                }
            }
        }
        if let (Some(u), Some(addr)) = (&self.stream_url, self.stream_addr) {
            if self.stream.is_none() && now >= self.stream_retry_ns {
                let _cold = Cold::enter();
                match WsConn::connect(u, addr, self.tls.as_ref(), WsParams::default()) {
                    Ok(s) => self.stream = Some(s),
                    Err(_) => self.stream_retry_ns = now + 1_000_000_000,
                }
            }
            if !self.stream_open {
                if let Some(s) = self.stream.as_mut() {
                    let _cold = Cold::enter(); // the upgrade allocates its buffers
                    match s.drive() {
                        Step::Open => {
                            self.stream_open = true;
                            self.stream_warm = false;
                        }
                        Step::Pending => {}
                        Step::Failed(_) => {
                            self.stream = None;
                            self.stream_retry_ns = now + 1_000_000_000;
                        }
                    }
                }
            }
        }
    }

    /// Do what can be done now: answers, stream messages, timeouts, queries, cancels at the
    /// deadline, keep-alive pings, reconnects. Final legs and transitions go to `events`.
    pub fn poll(&mut self, now: u64, events: &mut impl FnMut(LiveEvent)) {
        self.maintain(now);
        // answers
        for c in 0..self.conns.len() {
            let Some(f) = self.conns[c].busy else {
                continue;
            };
            let body = &mut self.body;
            let got = match self.conns[c].http.as_mut() {
                None => Err(()),
                Some(h) => match h.poll() {
                    Ok(Some(r)) => {
                        let meta = r.meta;
                        body.clear();
                        body.extend_from_slice(r.body);
                        h.consume();
                        Ok(Some(meta))
                    }
                    Ok(None) => Ok(None),
                    Err(_) => Err(()),
                },
            };
            match got {
                Ok(Some(meta)) => {
                    self.conns[c].busy = None;
                    let body = std::mem::take(&mut self.body);
                    self.on_answer(f, meta, &body, now, events);
                    self.body = body;
                }
                Ok(None) => {
                    if now.saturating_sub(f.sent_ns) > self.params.order_timeout_ns {
                        // no answer: drop the connection (a late answer must not be read as
                        // the next request's) and find out by query
                        self.conns[c].http = None;
                        self.conn_lost(c, now, events);
                    }
                }
                Err(()) => self.conn_lost(c, now, events),
            }
        }
        self.read_stream(now, events);
        // timers: queries for unknown orders, cancels at the deadline
        for k in 0..self.orders.len() {
            let o = self.orders[k];
            match o.phase {
                Phase::Unknown if now >= o.next_query_ns => {
                    if let Some(c) = self.free_conn() {
                        self.send_ref(c, ReqKind::Query, k, now, events);
                        self.orders[k].next_query_ns = now + self.params.query_interval_ns;
                    }
                }
                Phase::Working if now >= o.deadline_ns && !o.cancel_sent => {
                    if let Some(c) = self.free_conn() {
                        self.send_ref(c, ReqKind::Cancel, k, now, events);
                        self.orders[k].cancel_sent = true;
                        self.orders[k].next_query_ns = now + self.params.query_interval_ns;
                    }
                }
                Phase::Working if o.cancel_sent && now >= o.next_query_ns => {
                    // cancel sent, still not final: ask
                    if let Some(c) = self.free_conn() {
                        self.send_ref(c, ReqKind::Query, k, now, events);
                        self.orders[k].next_query_ns = now + self.params.query_interval_ns;
                    }
                }
                _ => {}
            }
        }
        // keep-alive: a cheap request on connections idle for 30 s
        for c in 0..self.conns.len() {
            if self.conns[c].busy.is_none()
                && now.saturating_sub(self.conns[c].last_use_ns) > 30_000_000_000
            {
                if let Some(h) = self.conns[c].http.as_mut() {
                    if h.is_idle() && h.send(&self.ping_req).is_ok() {
                        self.conns[c].busy = Some(InFlight {
                            kind: ReqKind::Ping,
                            order: usize::MAX,
                            sent_ns: now,
                        });
                        self.conns[c].last_use_ns = now;
                    }
                }
            }
        }
    }

    fn send_ref(
        &mut self,
        c: usize,
        kind: ReqKind,
        k: usize,
        now: u64,
        events: &mut impl FnMut(LiveEvent),
    ) {
        let o = self.orders[k];
        let Some(li) = self.insts.iter().position(|x| x.id == o.instrument) else {
            return;
        };
        let ts = self.venue_ms(now);
        let rw = self.params.recv_window_ms;
        let mut req = std::mem::take(&mut self.req);
        req.clear();
        {
            let r = OrderRef {
                symbol: &self.insts[li].spec.symbol,
                client_id: o.client_id,
                timestamp_ms: ts,
                recv_window_ms: rw,
            };
            let bytes = match kind {
                ReqKind::Cancel => self.entry.cancel(&r),
                _ => self.entry.query(&r),
            };
            req.extend_from_slice(bytes);
        }
        let _ = self.write(c, kind, k, &req, now, events);
        self.req = req;
        if kind == ReqKind::Cancel {
            let ev = self.event(k, "cancel_sent", now);
            events(LiveEvent::Transition(ev));
        }
    }

    fn on_answer(
        &mut self,
        f: InFlight,
        meta: RespMeta,
        body: &[u8],
        now: u64,
        events: &mut impl FnMut(LiveEvent),
    ) {
        if let Some(w) = meta.used_weight {
            self.rate.used_weight = w;
        }
        if let Some(c) = meta.order_count {
            self.rate.order_count = c;
        }
        if f.kind == ReqKind::Ping {
            return;
        }
        let k = f.order;
        if self.orders[k].phase == Phase::Done {
            // the order became final on the user stream before this answer came: the answer
            // adds nothing (and an error in it must not finish the order a second time)
            self.stats.late_answers += 1;
            return;
        }
        let mut u = self.update;
        match self.entry.parse_order(meta.status, body, &mut u) {
            Ok(()) if u.client_id != 0 && u.client_id != self.orders[k].client_id => {
                // not about the order this request was for: never applied to another order
                self.stats.parse_errors += 1;
            }
            Ok(()) => {
                self.orders[k].not_found = 0;
                self.apply(k, &u, now, events);
            }
            Err(e) => {
                self.stats.errors += 1;
                self.orders[k].err_code = e.code;
                let class = if meta.status == 0 {
                    ErrorClass::Unknown
                } else {
                    self.entry.classify(&e)
                };
                match class {
                    ErrorClass::RateLimited => {
                        self.rate.too_many += 1;
                        let wait = meta.retry_after_s.unwrap_or(1).max(1) * 1_000_000_000;
                        self.rate.blocked_until_ns = now + wait;
                    }
                    ErrorClass::Banned => {
                        self.rate.banned = true;
                        events(LiveEvent::VenueBanned(self.venue));
                    }
                    ErrorClass::ClockSkew => self.clock.resync.store(true, Ordering::Relaxed),
                    _ => {}
                }
                match (f.kind, class) {
                    // the venue did nothing with this new order
                    (
                        ReqKind::Place,
                        ErrorClass::Rejected
                        | ErrorClass::RateLimited
                        | ErrorClass::Banned
                        | ErrorClass::ClockSkew
                        | ErrorClass::Auth,
                    ) => {
                        self.orders[k].status = OrderStatus::Rejected;
                        self.finish(k, now, events);
                    }
                    // no idea: find out
                    (_, ErrorClass::Unknown) => {
                        if self.orders[k].phase != Phase::Unknown {
                            self.stats.unknown += 1;
                            let ev = self.event(k, "unknown", now);
                            events(LiveEvent::Transition(ev));
                        }
                        self.orders[k].phase = Phase::Unknown;
                        self.orders[k].next_query_ns = now + self.params.query_interval_ns;
                    }
                    // a query or cancel of an order the venue does not know: once is a race
                    // (the order may still be on its way), twice in a row means it never
                    // arrived
                    (ReqKind::Query | ReqKind::Cancel, ErrorClass::UnknownOrder) => {
                        let o = &mut self.orders[k];
                        o.not_found += 1;
                        if o.not_found >= 2 && o.cum_qty.0 == 0 {
                            o.status = OrderStatus::Rejected;
                            self.finish(k, now, events);
                        } else {
                            o.phase = Phase::Unknown;
                            o.next_query_ns = now + self.params.query_interval_ns;
                        }
                    }
                    _ => {
                        if self.orders[k].phase == Phase::Sent {
                            self.orders[k].phase = Phase::Unknown;
                            self.orders[k].next_query_ns = now + self.params.query_interval_ns;
                        }
                    }
                }
            }
        }
    }

    fn read_stream(&mut self, now: u64, events: &mut impl FnMut(LiveEvent)) {
        if !self.stream_open {
            return;
        }
        for _ in 0..64 {
            let Some(s) = self.stream.as_mut() else {
                return;
            };
            let msg = &mut self.msg;
            let cold = (!self.stream_warm).then(Cold::enter);
            let r = s.read();
            drop(cold);
            match r {
                Ok(Some(tungstenite::Message::Text(t))) => {
                    self.stream_warm = true;
                    msg.clear();
                    msg.extend_from_slice(t.as_bytes());
                }
                Ok(Some(_)) => continue,
                Ok(None) => {
                    let _ = s.flush();
                    return;
                }
                Err(_) => {
                    let _cold = Cold::enter();
                    self.stream = None;
                    self.stream_open = false;
                    self.stream_retry_ns = now;
                    return;
                }
            }
            let mut u = self.update;
            match self.entry.parse_stream(&self.msg, &mut u) {
                Ok(true) => {
                    self.stats.stream_updates += 1;
                    if let Some(k) = self
                        .orders
                        .iter()
                        .position(|o| o.phase != Phase::Done && o.client_id == u.client_id)
                    {
                        self.apply(k, &u, now, events);
                    }
                }
                Ok(false) => {}
                Err(_) => self.stats.parse_errors += 1,
            }
        }
    }

    /// Apply an update from an answer or the stream.
    fn apply(&mut self, k: usize, u: &OrderUpdate, now: u64, events: &mut impl FnMut(LiveEvent)) {
        if self.orders[k].phase == Phase::Done {
            return;
        }
        let inst = self.orders[k].instrument;
        // borrowed field by field (no clone of the spec: this is the hot path)
        let Some(li) = self.insts.iter().find(|x| x.id == inst) else {
            return;
        };
        let o = &mut self.orders[k];
        if u.order_id != 0 {
            o.order_id = u.order_id;
        }
        // executions, de-duplicated by trade id (answers and the stream both report them)
        for f in &u.fills[..u.n_fills as usize] {
            let seen =
                f.trade_id != 0 && o.trade_ids[..o.n_trade_ids as usize].contains(&f.trade_id);
            if seen {
                continue;
            }
            if f.trade_id != 0 && (o.n_trade_ids as usize) < o.trade_ids.len() {
                o.trade_ids[o.n_trade_ids as usize] = f.trade_id;
                o.n_trade_ids += 1;
            }
            add_exec(&mut o.fill, f, li);
            o.exec_qty.0 += f.qty.0;
        }
        if let Some(px) = u.avg_px {
            o.avg_px = px;
        }
        // cumulative figures are the truth for the totals
        if let Some(q) = u.cum_qty {
            if q > o.cum_qty {
                o.cum_qty = q;
            }
        }
        if let Some(c) = u.cum_quote {
            if c > o.cum_quote {
                o.cum_quote = c;
            }
        }
        o.status = u.status;
        let state = u.status.as_str();
        if u.status.is_final() {
            self.finish(k, now, events);
        } else {
            self.orders[k].phase = Phase::Working;
            let ev = self.event(k, state, now);
            events(LiveEvent::Transition(ev));
        }
    }

    fn finish(&mut self, k: usize, now: u64, events: &mut impl FnMut(LiveEvent)) {
        let inst = self.orders[k].instrument;
        // borrowed field by field (no clone of the spec: this is the hot path)
        let Some(li) = self.insts.iter().find(|x| x.id == inst) else {
            return;
        };
        let o = &mut self.orders[k];
        let spec = &li.spec;
        let f = &mut o.fill;
        // `fill` holds the executions seen one by one (price, quantity, exact commission).
        // The venue's cumulative quantity can be more: a futures `RESULT` answer lists no
        // executions, a stream message only its last one. That remainder is priced at the
        // venue's average price (else the limit) and its fee estimated from the configured
        // taker fee, in the asset the venue charges it in; the totals then come from the
        // venue's cumulative figures where it gave them.
        let (exec_quote, exec_base) = (f.quote, f.base);
        let filled = Qty(o.cum_qty.0.max(o.exec_qty.0));
        let rest = Qty(filled.0 - o.exec_qty.0);
        if rest.0 > 0 {
            let px = if o.avg_px.0 > 0 { o.avg_px } else { f.limit_px };
            let n = f.n_fills as usize;
            if n < MAX_FILLS {
                f.fills[n] = (px, rest);
                f.n_fills += 1;
            } else {
                // merged into the last entry, as `add_exec` does (its price: the last one)
                let last = &mut f.fills[MAX_FILLS - 1];
                *last = (px, Qty(last.1 .0 + rest.0));
                f.merged_levels += 1;
            }
            f.quote.0 += spec.quote_amount(rest, px).0;
            f.base.0 += spec.base_amount(rest, px).0;
        }
        f.filled_qty = filled;
        if o.cum_qty.0 > 0 && o.cum_qty.0 >= o.exec_qty.0 {
            if spec.kind.is_inverse() {
                f.quote = spec.quote_amount(filled, Price(1));
                if o.cum_quote.0 > 0 {
                    f.base = o.cum_quote; // COIN-M `cumBase`
                }
            } else {
                if o.cum_quote.0 > 0 {
                    f.quote = o.cum_quote;
                }
                f.base = spec.base_amount(filled, Price(1));
            }
        }
        if rest.0 > 0 {
            let (rest_quote, rest_base) = (
                Amount((f.quote.0 - exec_quote.0).max(0)),
                Amount((f.base.0 - exec_base.0).max(0)),
            );
            if o.exec_qty.0 == 0 {
                f.fee_asset = charged_in(spec.kind, o.side);
            }
            let fee_usd = apply_bps(rest_quote, li.fee);
            f.fee.0 += fee_usd.0;
            match f.fee_asset {
                FeeAsset::Quote => f.fee_native.0 += fee_usd.0,
                FeeAsset::Base => f.fee_native.0 += apply_bps(rest_base, li.fee).0,
                FeeAsset::Other(_) => {}
            }
            self.stats.fees_estimated += 1;
        }
        f.known_ns = now;
        f.status = match o.status {
            OrderStatus::Filled => LegStatus::Filled,
            OrderStatus::Rejected => LegStatus::Rejected,
            _ if filled.0 > 0 => LegStatus::Partial,
            OrderStatus::Cancelled => LegStatus::Cancelled,
            _ => LegStatus::Unfilled,
        };
        o.phase = Phase::Done;
        if filled.0 > 0 {
            self.stats.fills += 1;
        }
        let (slot, leg, fill) = (o.slot, o.leg, o.fill);
        let state = o.status.as_str();
        let ev = self.event(k, state, now);
        events(LiveEvent::Transition(ev));
        events(LiveEvent::Final { slot, leg, fill });
    }

    /// Cancel every order that is not final (kill switch, shutdown).
    pub fn cancel_all(&mut self, now: u64, events: &mut impl FnMut(LiveEvent)) {
        for k in 0..self.orders.len() {
            if matches!(
                self.orders[k].phase,
                Phase::Working | Phase::Sent | Phase::Unknown
            ) {
                self.orders[k].deadline_ns = now;
                self.orders[k].phase = match self.orders[k].phase {
                    Phase::Unknown => Phase::Unknown,
                    _ => Phase::Working,
                };
            }
        }
        self.poll(now, events);
    }
}

fn blank_order() -> LiveOrder {
    LiveOrder {
        client_id: 0,
        slot: 0,
        leg: 0,
        instrument: InstrumentId(0),
        side: Side::Buy,
        qty: Qty(0),
        limit: Price(0),
        phase: Phase::Done,
        order_id: 0,
        status: OrderStatus::New,
        sent_ns: 0,
        deadline_ns: 0,
        next_query_ns: 0,
        cancel_sent: false,
        cum_qty: Qty(0),
        cum_quote: Amount(0),
        exec_qty: Qty(0),
        avg_px: Price(0),
        fill: LegFill::default(),
        trade_ids: [0; 32],
        n_trade_ids: 0,
        not_found: 0,
        err_code: 0,
    }
}

/// Add one execution to a leg: its level entry, its quote/base and its fee (USD-equivalent
/// and in the asset the venue charged).
/// The asset a Binance-style venue charges a taker fee in when no execution said: spot, the
/// asset received (buy: base, sell: quote); futures, the margin asset (linear: quote,
/// inverse: base). A BNB discount would charge BNB instead: then the executions say so.
fn charged_in(kind: crate::instrument::InstrumentKind, side: Side) -> FeeAsset {
    match (kind, side) {
        (crate::instrument::InstrumentKind::Spot, Side::Buy) => FeeAsset::Base,
        (crate::instrument::InstrumentKind::Spot, Side::Sell) => FeeAsset::Quote,
        (k, _) if k.is_inverse() => FeeAsset::Base,
        _ => FeeAsset::Quote,
    }
}

fn add_exec(f: &mut LegFill, e: &ExecFill, li: &LiveInst) {
    let spec = &li.spec;
    let q = spec.quote_amount(e.qty, e.px);
    let b = spec.base_amount(e.qty, e.px);
    f.quote.0 += q.0;
    f.base.0 += b.0;
    match e.fee_asset {
        FeeAsset::Quote => f.fee.0 += e.fee.0,
        FeeAsset::Base => {
            // in base: its value at the fill price
            f.fee.0 += (e.fee.0 as i128 * e.px.0 as i128 / pow10(spec.price_dec) as i128) as i64;
        }
        FeeAsset::Other(_) => {
            // another asset (BNB): valued by the configured taker fee
            f.fee.0 += apply_bps(q, li.fee).0;
        }
    }
    if f.fee_asset == FeeAsset::Quote && f.fee_native.0 == 0 {
        f.fee_asset = e.fee_asset;
    }
    if f.fee_asset == e.fee_asset {
        f.fee_native.0 += e.fee.0;
    }
    let n = f.n_fills as usize;
    if n < MAX_FILLS {
        f.fills[n] = (e.px, e.qty);
        f.n_fills += 1;
    } else {
        let last = &mut f.fills[MAX_FILLS - 1];
        *last = (e.px, Qty(last.1 .0 + e.qty.0));
        f.merged_levels += 1;
    }
}
