//! The status endpoint (R6.4): a read-only HTTP server (`tiny_http`) on a cold thread of its
//! own, enabled by `[status] bind = "127.0.0.1:9100"` in any mode.
//!
//! - `/health`: mode, run state, per-venue feed state and book health, breaker state; HTTP
//!   503 when not healthy (a venue's feed down, a book not synced, bad data, the breaker open
//!   or stopped);
//! - `/metrics`: Prometheus text exposition format 0.0.4 (counters per venue, signals by
//!   status, trades by status, PnL, positions, cold-ring occupancy, per-stage latency
//!   summaries);
//! - `/positions`, `/signals`, `/orders`, `/executions`: JSON (the last `status.recent`
//!   signals, order transitions and finished trades).
//!
//! Where the figures come from, and who locks what: the cold logger thread already receives
//! every record the hot threads send (through their SPSC rings) and reads the feed counters
//! and detection's progress (atomics). It copies them into [`Board`], a `Mutex` that only it
//! and the server thread touch; no hot thread ever takes that lock. Per-stage latency
//! percentiles are published by the detection core at most once per wall second into
//! [`LATENCY`] (atomics, process-wide).
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// `[status]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StatusConfig {
    /// Listen address (default `127.0.0.1:9100`; anything but loopback exposes positions to
    /// the network).
    #[serde(default = "default_bind")]
    pub bind: String,
    /// Keep serving this long after the run ended (its final figures), ms (default 0).
    #[serde(default)]
    pub linger_ms: u64,
    /// Entries kept for `/signals`, `/orders`, `/executions` (default 100, 1..=10,000).
    #[serde(default = "default_recent")]
    pub recent: usize,
}

fn default_bind() -> String {
    "127.0.0.1:9100".into()
}
fn default_recent() -> usize {
    100
}

impl StatusConfig {
    /// Check every key; errors name it.
    pub fn validate(&self) -> Result<(), crate::config::ConfigError> {
        if self.bind.parse::<std::net::SocketAddr>().is_err() {
            return Err(crate::config::invalid(
                "status.bind",
                "must be an address with a port, e.g. \"127.0.0.1:9100\"",
            ));
        }
        if self.linger_ms > 3_600_000 {
            return Err(crate::config::invalid(
                "status.linger_ms",
                "must be at most 3,600,000 (1 h)",
            ));
        }
        if !(1..=10_000).contains(&self.recent) {
            return Err(crate::config::invalid(
                "status.recent",
                "must be in 1..=10000",
            ));
        }
        Ok(())
    }
}

// ---- latency published by the detection core -----------------------------------------------

/// Stages published in [`LATENCY`], in order.
pub const STAGES: [&str; 4] = ["feed_parse", "md_queue", "tick_to_detect", "tick_to_signal"];
/// Quantiles published per stage.
pub const QUANTILES: [f64; 4] = [0.5, 0.9, 0.99, 0.999];

/// One stage's summary: count, exact sum (ns), the [`QUANTILES`] and the maximum (ns).
#[derive(Debug)]
pub struct StageBoard {
    /// Samples.
    pub count: AtomicU64,
    /// Σ of the samples, ns (exact: [`crate::stats::Latency::sum_ns`]).
    pub sum_ns: AtomicU64,
    /// Values at [`QUANTILES`], ns.
    pub q_ns: [AtomicU64; 4],
    /// Maximum, ns.
    pub max_ns: AtomicU64,
}

/// Per-stage latency summaries, written by the detection core (single writer), read by the
/// cold side. Process-wide: one engine per process (the binary).
#[derive(Debug)]
pub struct LatencyBoard {
    /// By [`STAGES`].
    pub stages: [StageBoard; 4],
}

#[allow(clippy::declare_interior_mutable_const)]
const STAGE0: StageBoard = StageBoard {
    count: AtomicU64::new(0),
    sum_ns: AtomicU64::new(0),
    q_ns: [const { AtomicU64::new(0) }; 4],
    max_ns: AtomicU64::new(0),
};

/// The board.
pub static LATENCY: LatencyBoard = LatencyBoard {
    stages: [STAGE0, STAGE0, STAGE0, STAGE0],
};

impl LatencyBoard {
    /// Publish `hists` (in [`STAGES`] order). Allocation-free. Runs on the detection thread
    /// about once a second, so it costs one pass over each histogram's buckets, stopping at
    /// the 99.9th percentile: the four quantiles in one walk (hdrhistogram's
    /// `value_at_quantiles`), the sum kept exact by [`crate::stats::Latency`] (no walk for
    /// the mean), the maximum stored. `cargo bench --bench components -- status` compares it
    /// with a walk per quantile plus one for the mean.
    pub fn publish(&self, hists: [&crate::stats::Latency; 4]) {
        for (b, l) in self.stages.iter().zip(hists) {
            let h = l.histogram();
            if h.is_empty() {
                continue;
            }
            for (v, a) in h.value_at_quantiles(QUANTILES).zip(&b.q_ns) {
                a.store(v, Ordering::Relaxed);
            }
            b.max_ns.store(h.max(), Ordering::Relaxed);
            b.sum_ns.store(l.sum_ns(), Ordering::Relaxed);
            b.count.store(h.len(), Ordering::Relaxed);
        }
    }
}

// ---- the board the logger thread writes ----------------------------------------------------

/// One venue on the board.
#[derive(Clone, Debug, Default, Serialize)]
pub struct VenueBoard {
    /// Venue name.
    pub name: String,
    /// Counters copied from the feed's atomics: messages, events, bbo, depth, trades, gaps,
    /// resyncs, reconnects, disconnects, parse errors, ring full.
    pub counters: BTreeMap<&'static str, u64>,
    /// The feed's connection state from its last up/down record (replay: `None` = no
    /// connection; treated as up).
    pub feed_up: Option<bool>,
    /// Books of this venue invalid now (invalidated after their last sync, or never synced).
    pub books_invalid: usize,
    /// Books of this venue.
    pub books: usize,
    /// The venue's data is bad ([`crate::health`]).
    pub bad_data: bool,
}

/// Everything the server shows.
#[derive(Debug, Default)]
pub struct Board {
    /// `replay`, `paper`, `live`.
    pub mode: String,
    /// The run has ended (final figures).
    pub ended: bool,
    /// Data time of the last message applied, ns.
    pub data_ns: u64,
    /// Messages applied by detection.
    pub messages_applied: u64,
    /// Per venue.
    pub venues: Vec<VenueBoard>,
    /// Per instrument: synced (true) or not.
    pub book_valid: Vec<bool>,
    /// Signals journaled by status.
    pub signals: BTreeMap<&'static str, u64>,
    /// Trades by status.
    pub trades: BTreeMap<&'static str, u64>,
    /// Σ fees of finished trades, USD.
    pub fees_usd: f64,
    /// Σ notional of finished trades, USD.
    pub volume_usd: f64,
    /// Last mark to market of the run (the PnL curve), USD.
    pub mtm_pnl_usd: f64,
    /// Σ of the trades' own net PnL, USD.
    pub trades_net_pnl_usd: f64,
    /// Breaker state.
    pub breaker: &'static str,
    /// Per instrument (venue, symbol): net base and native quantity from the fills.
    pub positions: BTreeMap<(String, String), (f64, f64)>,
    /// Recent signals, order transitions, finished trades (JSON lines as journaled).
    pub recent_signals: VecDeque<Value>,
    /// See `recent_signals`.
    pub recent_orders: VecDeque<Value>,
    /// See `recent_signals`.
    pub recent_executions: VecDeque<Value>,
    /// Cold rings: (name, occupancy, capacity).
    pub rings: Vec<(String, usize, usize)>,
    /// ERROR log records seen.
    pub errors: u64,
    recent: usize,
}

fn push_recent(q: &mut VecDeque<Value>, v: Value, n: usize) {
    if q.len() >= n {
        q.pop_front();
    }
    q.push_back(v);
}

impl Board {
    /// Healthy, and the reasons when not.
    pub fn health(&self) -> (bool, Vec<String>) {
        let mut why = Vec::new();
        for v in &self.venues {
            if v.feed_up == Some(false) {
                why.push(format!("{}: feed disconnected", v.name));
            }
            if v.books_invalid > 0 && !self.ended {
                why.push(format!(
                    "{}: {} of {} books not synced",
                    v.name, v.books_invalid, v.books
                ));
            }
            if v.bad_data {
                why.push(format!(
                    "{}: bad data (parse errors over the limit)",
                    v.name
                ));
            }
        }
        if matches!(self.breaker, "open" | "stopped") {
            why.push(format!("breaker {}", self.breaker));
        }
        (why.is_empty(), why)
    }
}

/// The logger thread's side: the board and the server thread.
pub struct StatusServer {
    board: Arc<Mutex<Board>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The address it listens on.
    pub addr: std::net::SocketAddr,
    inst_venue: Vec<usize>,
    linger_ms: u64,
    last_tick: Option<std::time::Instant>,
}

impl StatusServer {
    /// Bind and start the server thread (`arbot-status`).
    pub fn start(
        cfg: &StatusConfig,
        mode: &str,
        names: &crate::logger::Names,
    ) -> std::io::Result<StatusServer> {
        let server = tiny_http::Server::http(&cfg.bind)
            .map_err(|e| std::io::Error::other(format!("status.bind {}: {e}", cfg.bind)))?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| std::io::Error::other("status.bind: not an IP address"))?;
        let n_inst = names.instrument_count();
        let mut venues: Vec<VenueBoard> = (0..names.venue_count())
            .map(|v| VenueBoard {
                name: names.venue(v).to_string(),
                ..VenueBoard::default()
            })
            .collect();
        let inst_venue: Vec<usize> = (0..n_inst).map(|i| names.instrument_venue(i)).collect();
        for &v in &inst_venue {
            if let Some(x) = venues.get_mut(v) {
                x.books += 1;
                x.books_invalid += 1;
            }
        }
        let board = Arc::new(Mutex::new(Board {
            mode: mode.to_string(),
            venues,
            book_valid: vec![false; n_inst],
            breaker: "closed",
            recent: cfg.recent,
            ..Board::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (b, s) = (board.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("arbot-status".into())
            .spawn(move || serve(server, b, s))?;
        Ok(StatusServer {
            board,
            stop,
            thread: Some(thread),
            addr,
            inst_venue,
            linger_ms: cfg.linger_ms,
            last_tick: None,
        })
    }

    fn with(&self, f: impl FnOnce(&mut Board)) {
        if let Ok(mut b) = self.board.lock() {
            f(&mut b);
        }
    }

    /// A record the logger received (before it writes it).
    pub fn on_record(&mut self, names: &crate::logger::Names, m: &crate::journal::ColdMsg) {
        use crate::journal::ColdMsg;
        let inst_venue = &self.inst_venue;
        match m {
            ColdMsg::Log(r) => self.on_log(r),
            ColdMsg::Signal(s) => {
                let v = crate::logger::signal_json(names, s);
                self.with(|b| {
                    *b.signals.entry(s.status.as_str()).or_default() += 1;
                    let n = b.recent;
                    push_recent(&mut b.recent_signals, v, n);
                });
            }
            ColdMsg::Order(o) => {
                let v = crate::journals::order_line(names, o);
                self.with(|b| {
                    let n = b.recent;
                    push_recent(&mut b.recent_orders, v, n);
                });
            }
            ColdMsg::Trade(t) => {
                let v = crate::logger::trade_json(names, t);
                self.with(|b| {
                    *b.trades.entry(t.status.as_str()).or_default() += 1;
                    for l in &t.legs[..t.n_legs as usize] {
                        if l.filled_qty.0 == 0 {
                            continue;
                        }
                        let i = l.instrument.idx();
                        let s = if l.side == crate::types::Side::Buy {
                            1.0
                        } else {
                            -1.0
                        };
                        let key = (
                            names
                                .venue(inst_venue.get(i).copied().unwrap_or(usize::MAX))
                                .to_string(),
                            names.symbol(i).to_string(),
                        );
                        let e = b.positions.entry(key).or_default();
                        e.0 += s * l.base.to_f64();
                        e.1 += s * names.qty(i, l.filled_qty);
                    }
                    b.trades_net_pnl_usd += t.net_pnl_usd.to_f64();
                    let n = b.recent;
                    push_recent(&mut b.recent_executions, v, n);
                });
            }
            ColdMsg::Breaker(e) => {
                let to = e.to.as_str();
                self.with(|b| b.breaker = to);
            }
            ColdMsg::Curve(p) => {
                let fees: i64 = p.legs[..p.n_legs as usize].iter().map(|l| l.fee_usd).sum();
                let vol: i64 = p.legs[..p.n_legs as usize]
                    .iter()
                    .map(|l| l.volume_usd)
                    .sum();
                self.with(|b| {
                    b.mtm_pnl_usd = p.mtm_usd as f64 / 1e8;
                    b.fees_usd += fees as f64 / 1e8;
                    b.volume_usd += vol as f64 / 1e8;
                });
            }
            _ => {}
        }
    }

    fn on_log(&mut self, r: &crate::journal::LogRecord) {
        use crate::journal::{LogCode, Severity};
        let (v, i) = (r.venue.idx(), r.instrument.idx());
        let iv = &self.inst_venue;
        self.with(|b| {
            if r.severity == Severity::Error {
                b.errors += 1;
            }
            match r.code {
                LogCode::VenueStatus => {
                    if let Some(x) = b.venues.get_mut(v) {
                        x.feed_up = Some(r.a != 0);
                    }
                }
                LogCode::BookSynced | LogCode::BookInvalid => {
                    let valid = r.code == LogCode::BookSynced;
                    if let Some(x) = b.book_valid.get_mut(i) {
                        *x = valid;
                    }
                    let bv: Vec<bool> = b.book_valid.clone();
                    for (k, x) in b.venues.iter_mut().enumerate() {
                        x.books_invalid = bv
                            .iter()
                            .zip(iv)
                            .filter(|(ok, &vv)| vv == k && !**ok)
                            .count();
                    }
                }
                _ => {}
            }
        });
    }

    /// Copy the counters, progress and ring occupancy (at most every 100 ms unless `force`).
    pub fn tick(&mut self, inp: &mut crate::logger::LoggerInputs, setup_bad: &[bool], force: bool) {
        if !force
            && self
                .last_tick
                .is_some_and(|t| t.elapsed().as_millis() < 100)
        {
            return;
        }
        self.last_tick = Some(std::time::Instant::now());
        let g = crate::feed::VenueCounters::get;
        let p = &inp.progress;
        let mut rings = Vec::new();
        for (k, r) in inp.cold.iter_mut().enumerate() {
            rings.push((
                if k == 0 {
                    "detection_to_cold".to_string()
                } else {
                    format!("execution_to_cold_{k}")
                },
                r.len(),
                r.capacity(),
            ));
        }
        for (k, r) in inp.feed_logs.iter_mut().enumerate() {
            rings.push((format!("feed_log_{k}"), r.len(), r.capacity()));
        }
        self.with(|b| {
            b.data_ns = crate::stats::Progress::get(&p.data_ns);
            b.messages_applied = crate::stats::Progress::get(&p.messages);
            b.rings = rings;
            for (v, c) in inp.counters.iter().enumerate() {
                let Some(x) = b.venues.get_mut(v) else {
                    continue;
                };
                let m = &mut x.counters;
                m.insert("messages", g(&c.messages));
                m.insert("events", g(&c.events));
                m.insert("bbo_updates", g(&c.bbo_updates));
                m.insert("depth_updates", g(&c.depth_updates));
                m.insert("public_trades", g(&c.trades));
                m.insert("snapshots", g(&c.snapshots));
                m.insert("gaps", g(&c.gaps));
                m.insert("resyncs", g(&c.resyncs));
                m.insert("reconnects", g(&c.reconnects));
                m.insert("disconnects", g(&c.disconnects));
                m.insert("parse_errors", g(&c.parse_errors));
                m.insert("ring_full", g(&c.ring_full));
                x.bad_data = setup_bad.get(v).copied().unwrap_or(false);
            }
        });
    }

    /// The run ended: final figures, serve `linger_ms` more, stop the server thread.
    pub fn finish(mut self) {
        self.with(|b| b.ended = true);
        if self.linger_ms > 0 {
            std::thread::sleep(std::time::Duration::from_millis(self.linger_ms));
        }
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(server: tiny_http::Server, board: Arc<Mutex<Board>>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let req = match server.recv_timeout(std::time::Duration::from_millis(100)) {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(_) => break,
        };
        let path = req.url().split('?').next().unwrap_or("").to_string();
        let (code, ctype, body) = match board.lock() {
            Ok(b) => route(&b, &path),
            Err(_) => (500, "text/plain", "board poisoned\n".to_string()),
        };
        let resp = tiny_http::Response::from_string(body)
            .with_status_code(code)
            .with_header(
                tiny_http::Header::from_bytes(&b"Content-Type"[..], ctype.as_bytes())
                    .expect("static header"),
            );
        let _ = req.respond(resp);
    }
}

const JSON: &str = "application/json";

/// Answer `path` from the board: (HTTP status, content type, body).
pub fn route(b: &Board, path: &str) -> (u16, &'static str, String) {
    match path {
        "/health" => {
            let (ok, why) = b.health();
            let venues: Vec<Value> = b
                .venues
                .iter()
                .map(|v| {
                    json!({
                        "venue": v.name,
                        "feed": match v.feed_up { Some(true) => "up", Some(false) => "down", None => "replay" },
                        "books": v.books,
                        "books_not_synced": v.books_invalid,
                        "bad_data": v.bad_data,
                    })
                })
                .collect();
            let body = json!({
                "healthy": ok,
                "problems": why,
                "mode": b.mode,
                "run": if b.ended { "ended" } else { "running" },
                "data_time": crate::logger::iso_ns(b.data_ns),
                "messages_applied": b.messages_applied,
                "breaker": b.breaker,
                "venues": venues,
            });
            (if ok { 200 } else { 503 }, JSON, format!("{body:#}\n"))
        }
        "/metrics" => (200, "text/plain; version=0.0.4; charset=utf-8", metrics(b)),
        "/positions" => {
            let p: Vec<Value> = b
                .positions
                .iter()
                .map(|((v, s), (base, qty))| json!({"venue": v, "symbol": s, "base_qty": base, "position_qty": qty}))
                .collect();
            (
                200,
                JSON,
                format!(
                    "{:#}\n",
                    json!({"positions": p, "mtm_pnl_usd": b.mtm_pnl_usd})
                ),
            )
        }
        "/signals" => (200, JSON, list(&b.recent_signals)),
        "/orders" => (200, JSON, list(&b.recent_orders)),
        "/executions" => (200, JSON, list(&b.recent_executions)),
        "/" => (
            200,
            "text/plain; charset=utf-8",
            "arbot status: /health /metrics /positions /signals /orders /executions\n".into(),
        ),
        _ => (404, "text/plain; charset=utf-8", "not found\n".into()),
    }
}

fn list(q: &VecDeque<Value>) -> String {
    let v: Vec<&Value> = q.iter().collect();
    format!("{:#}\n", json!(v))
}

fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The Prometheus text exposition (format 0.0.4).
pub fn metrics(b: &Board) -> String {
    let mut s = String::new();
    let family = |s: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(s, "# HELP {name} {help}");
        let _ = writeln!(s, "# TYPE {name} {kind}");
    };
    family(
        &mut s,
        "arbot_up",
        "gauge",
        "1 while the run lasts, 0 once it ended (final figures).",
    );
    let _ = writeln!(
        s,
        "arbot_up{{mode=\"{}\"}} {}",
        label(&b.mode),
        u8::from(!b.ended)
    );
    let (ok, _) = b.health();
    family(
        &mut s,
        "arbot_healthy",
        "gauge",
        "1 when /health answers 200.",
    );
    let _ = writeln!(s, "arbot_healthy {}", u8::from(ok));
    family(
        &mut s,
        "arbot_data_time_seconds",
        "gauge",
        "Receive time of the last message applied, seconds since the epoch.",
    );
    let _ = writeln!(s, "arbot_data_time_seconds {}", b.data_ns as f64 / 1e9);
    family(
        &mut s,
        "arbot_messages_applied_total",
        "counter",
        "Messages applied by detection.",
    );
    let _ = writeln!(s, "arbot_messages_applied_total {}", b.messages_applied);
    let venue_counters: [(&str, &str, &str); 12] = [
        (
            "messages",
            "arbot_feed_messages_total",
            "Raw messages received per venue (snapshots included).",
        ),
        (
            "events",
            "arbot_feed_events_total",
            "Market-data events produced per venue.",
        ),
        (
            "bbo_updates",
            "arbot_feed_bbo_updates_total",
            "Best bid/offer updates per venue.",
        ),
        (
            "depth_updates",
            "arbot_feed_depth_updates_total",
            "Depth diff messages per venue.",
        ),
        (
            "public_trades",
            "arbot_feed_public_trades_total",
            "Public trades per venue.",
        ),
        (
            "snapshots",
            "arbot_feed_snapshots_total",
            "REST snapshots per venue.",
        ),
        ("gaps", "arbot_feed_gaps_total", "Sequence gaps per venue."),
        (
            "resyncs",
            "arbot_feed_resyncs_total",
            "Book resyncs per venue.",
        ),
        (
            "reconnects",
            "arbot_feed_reconnects_total",
            "Reconnects per venue.",
        ),
        (
            "disconnects",
            "arbot_feed_disconnects_total",
            "Disconnects per venue.",
        ),
        (
            "parse_errors",
            "arbot_feed_parse_errors_total",
            "Unparseable messages per venue.",
        ),
        (
            "ring_full",
            "arbot_feed_ring_full_total",
            "Times the feed-to-detection ring was full per venue.",
        ),
    ];
    for (key, name, help) in venue_counters {
        family(&mut s, name, "counter", help);
        for v in &b.venues {
            let _ = writeln!(
                s,
                "{name}{{venue=\"{}\"}} {}",
                label(&v.name),
                v.counters.get(key).copied().unwrap_or(0)
            );
        }
    }
    family(
        &mut s,
        "arbot_feed_up",
        "gauge",
        "1 when the venue's feed is connected (replay: 1).",
    );
    for v in &b.venues {
        let _ = writeln!(
            s,
            "arbot_feed_up{{venue=\"{}\"}} {}",
            label(&v.name),
            u8::from(v.feed_up != Some(false))
        );
    }
    family(
        &mut s,
        "arbot_books_not_synced",
        "gauge",
        "Books of the venue not synced now.",
    );
    for v in &b.venues {
        let _ = writeln!(
            s,
            "arbot_books_not_synced{{venue=\"{}\"}} {}",
            label(&v.name),
            v.books_invalid
        );
    }
    family(
        &mut s,
        "arbot_signals_total",
        "counter",
        "Signals (opportunities past the thresholds) by outcome: traded or the refusal reason.",
    );
    for (k, n) in &b.signals {
        let _ = writeln!(s, "arbot_signals_total{{status=\"{}\"}} {n}", label(k));
    }
    family(
        &mut s,
        "arbot_trades_total",
        "counter",
        "Finished trades by status.",
    );
    for (k, n) in &b.trades {
        let _ = writeln!(s, "arbot_trades_total{{status=\"{}\"}} {n}", label(k));
    }
    family(
        &mut s,
        "arbot_pnl_mark_to_market_usd",
        "gauge",
        "Mark-to-market PnL of the run (fills, fees, open inventory at the mids), USD.",
    );
    let _ = writeln!(s, "arbot_pnl_mark_to_market_usd {}", b.mtm_pnl_usd);
    family(
        &mut s,
        "arbot_trades_net_pnl_usd",
        "gauge",
        "Sum of the finished trades' own net PnL, USD.",
    );
    let _ = writeln!(s, "arbot_trades_net_pnl_usd {}", b.trades_net_pnl_usd);
    family(
        &mut s,
        "arbot_fees_usd_total",
        "counter",
        "Fees of the finished trades' filled legs, USD.",
    );
    let _ = writeln!(s, "arbot_fees_usd_total {}", b.fees_usd);
    family(
        &mut s,
        "arbot_turnover_usd_total",
        "counter",
        "Notional of the finished trades' filled legs, USD.",
    );
    let _ = writeln!(s, "arbot_turnover_usd_total {}", b.volume_usd);
    family(
        &mut s,
        "arbot_position_base",
        "gauge",
        "Net base quantity bought minus sold by the run, per instrument.",
    );
    for ((v, sym), (base, _)) in &b.positions {
        let _ = writeln!(
            s,
            "arbot_position_base{{venue=\"{}\",symbol=\"{}\"}} {base}",
            label(v),
            label(sym)
        );
    }
    family(
        &mut s,
        "arbot_breaker_open",
        "gauge",
        "1 when the circuit breaker is open or stopped.",
    );
    let _ = writeln!(
        s,
        "arbot_breaker_open {}",
        u8::from(matches!(b.breaker, "open" | "stopped"))
    );
    family(
        &mut s,
        "arbot_error_log_records_total",
        "counter",
        "ERROR records logged.",
    );
    let _ = writeln!(s, "arbot_error_log_records_total {}", b.errors);
    family(
        &mut s,
        "arbot_ring_occupancy",
        "gauge",
        "Records waiting in a ring read by the cold thread.",
    );
    for (n, occ, _) in &b.rings {
        let _ = writeln!(s, "arbot_ring_occupancy{{ring=\"{}\"}} {occ}", label(n));
    }
    family(
        &mut s,
        "arbot_ring_capacity",
        "gauge",
        "Capacity of a ring read by the cold thread.",
    );
    for (n, _, cap) in &b.rings {
        let _ = writeln!(s, "arbot_ring_capacity{{ring=\"{}\"}} {cap}", label(n));
    }
    family(
        &mut s,
        "arbot_latency_seconds",
        "summary",
        "Per-stage latency (detection side, published about once a second; sum exact, quantiles from an HdrHistogram at 3 significant digits).",
    );
    for (k, st) in LATENCY.stages.iter().enumerate() {
        let name = STAGES[k];
        for (q, a) in QUANTILES.iter().zip(&st.q_ns) {
            let _ = writeln!(
                s,
                "arbot_latency_seconds{{stage=\"{name}\",quantile=\"{q}\"}} {}",
                a.load(Ordering::Relaxed) as f64 / 1e9
            );
        }
        let _ = writeln!(
            s,
            "arbot_latency_seconds_sum{{stage=\"{name}\"}} {}",
            st.sum_ns.load(Ordering::Relaxed) as f64 / 1e9
        );
        let _ = writeln!(
            s,
            "arbot_latency_seconds_count{{stage=\"{name}\"}} {}",
            st.count.load(Ordering::Relaxed)
        );
    }
    family(
        &mut s,
        "arbot_latency_max_seconds",
        "gauge",
        "Per-stage maximum latency.",
    );
    for (k, st) in LATENCY.stages.iter().enumerate() {
        let _ = writeln!(
            s,
            "arbot_latency_max_seconds{{stage=\"{}\"}} {}",
            STAGES[k],
            st.max_ns.load(Ordering::Relaxed) as f64 / 1e9
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_latency_equals_the_histograms_and_the_exposition_is_well_formed() {
        let mut ls: Vec<crate::stats::Latency> =
            (0..4).map(|_| crate::stats::Latency::new()).collect();
        for (k, l) in ls.iter_mut().enumerate() {
            for v in 1..=100_000u64 {
                l.record(v * (k as u64 + 1) * 37 % 5_000_000 + 100);
            }
        }
        LATENCY.publish([&ls[0], &ls[1], &ls[2], &ls[3]]);
        for (k, (b, l)) in LATENCY.stages.iter().zip(&ls).enumerate() {
            let s = l.summary();
            assert_eq!(b.count.load(Ordering::Relaxed), s.count);
            assert_eq!(b.q_ns[0].load(Ordering::Relaxed), s.p50);
            assert_eq!(b.q_ns[1].load(Ordering::Relaxed), s.p90);
            assert_eq!(b.q_ns[2].load(Ordering::Relaxed), s.p99);
            assert_eq!(b.q_ns[3].load(Ordering::Relaxed), s.p999);
            // the exact sum, computed apart from the histogram
            let sum: u64 = (1..=100_000u64)
                .map(|v| v * (k as u64 + 1) * 37 % 5_000_000 + 100)
                .sum();
            assert_eq!(b.sum_ns.load(Ordering::Relaxed), sum);
            assert_eq!(b.max_ns.load(Ordering::Relaxed), s.max);
        }
        let mut board = Board {
            mode: "replay".into(),
            breaker: "closed",
            venues: vec![VenueBoard {
                name: "a\"b".into(),
                books: 1,
                ..VenueBoard::default()
            }],
            ..Board::default()
        };
        // a venue with a book not synced: 503
        board.venues[0].books_invalid = 1;
        assert_eq!(route(&board, "/health").0, 503);
        board.venues[0].books_invalid = 0;
        assert_eq!(route(&board, "/health").0, 200);
        board.breaker = "open";
        assert_eq!(route(&board, "/health").0, 503);
        let m = metrics(&board);
        // label values escaped; every sample line belongs to a declared family
        assert!(m.contains("venue=\"a\\\"b\""), "{m}");
        let families: Vec<&str> = m
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(|l| l.split(' ').next().unwrap())
            .collect();
        for l in m.lines().filter(|l| !l.starts_with('#')) {
            let name = l.split(['{', ' ']).next().unwrap();
            let base = name
                .strip_suffix("_sum")
                .or_else(|| name.strip_suffix("_count"))
                .unwrap_or(name);
            assert!(families.contains(&base), "{l}");
        }
    }
}
