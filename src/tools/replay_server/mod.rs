//! `arbot replay-server` (R8.1): a loopback exchange that speaks Binance's own protocol and
//! serves recorded sessions, so paper mode can be tested end to end without internet.
//!
//! - WebSocket combined streams: `GET [/spot|/usdm|/coinm]/stream?streams=a/b/c` (also
//!   `/ws/<stream>`), live `SUBSCRIBE` / `UNSUBSCRIBE` / `LIST_SUBSCRIPTIONS` messages answered
//!   like Binance (`{"result":null,"id":1}`), pings like Binance (every 20 s spot, 3 min futures)
//!   and pongs to the client's pings. The optional first path segment stands for the host
//!   (`stream.binance.com`, `fstream…`, `dstream…`), since one port serves every market.
//! - REST depth: `GET [/prefix]/api/v3/depth`, `/fapi/v1/depth`, `/dapi/v1/depth`
//!   `?symbol=BTCUSDT&limit=1000` over HTTP/1.1 (keep-alive). The first request of a recording
//!   is answered with the recorded snapshot line, once the stream has reached the point where it
//!   was recorded; later requests (after a reconnect or a gap) get a snapshot made from the
//!   server's own book at the current point (recorded snapshot + every diff since), like the
//!   real exchange.
//! - Pace: recorded (`speed` = 1.0, 2.0 … faster) or as fast as the sockets take (`speed` = None).
//! - `ws://` or `wss://` (self-signed certificate from rcgen, written as PEM for the client's
//!   `tls_ca_file`).
//! - Lockstep (tests): before a message goes to another connection than the previous one, the
//!   server pings the previous connection and waits for its pong, so the client has read
//!   everything sent before; with one client feed thread, messages of all venues then reach
//!   detection in the recording's merged order, exactly as in file replay. Pings are ordinary
//!   protocol frames, not counted as messages by the client.
//! - Faults (each once): drop the connection after N stream messages, stall for X ns after N,
//!   send a malformed frame (reserved bits set) after N, send truncated JSON after N, skip one
//!   depth diff after N diffs (a sequence gap).
//! - At the end of the recording every connection gets a normal close frame (code 1000).
//!
//! Test infrastructure, not hot path: threads, blocking I/O and `serde_json` are fine here.
//!
//! Layout: this file has the public settings and stats, start-up and the accept loop;
//! `book.rs` the loaded recording and the server's own book and snapshot state; `http.rs` TLS
//! accept, HTTP requests and REST snapshots; `ws.rs` one WebSocket connection (control
//! messages, pings, writes); `dispatch.rs` the thread that paces the recording, routes each
//! message to its connections, and injects the faults.
#![forbid(unsafe_code)]

mod book;
mod dispatch;
mod http;
mod ws;

use book::{load, FileInfo, Kind, Shared, SnapState};
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use ws::NewConn;

/// Binance market of a served file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MarketKind {
    /// Spot (`/api/v3`, pings every 20 s).
    Spot,
    /// USDⓈ-M (`/fapi/v1`, pings every 3 min).
    Usdm,
    /// COIN-M (`/dapi/v1`, pings every 3 min).
    Coinm,
}

impl MarketKind {
    /// From a config `market` value.
    pub fn parse(s: &str) -> Option<MarketKind> {
        match s {
            "spot" => Some(MarketKind::Spot),
            "usdm" => Some(MarketKind::Usdm),
            "coinm" => Some(MarketKind::Coinm),
            _ => None,
        }
    }
    /// Guess from a recording's file name (`spot_…`, `usdm_…`, `cm_…`).
    pub fn from_file_name(p: &std::path::Path) -> Option<MarketKind> {
        let n = p.file_name()?.to_str()?.to_ascii_lowercase();
        if n.starts_with("spot") {
            Some(MarketKind::Spot)
        } else if n.starts_with("usdm") {
            Some(MarketKind::Usdm)
        } else if n.starts_with("cm") || n.starts_with("coinm") {
            Some(MarketKind::Coinm)
        } else {
            None
        }
    }
    fn name(self) -> &'static str {
        match self {
            MarketKind::Spot => "spot",
            MarketKind::Usdm => "usdm",
            MarketKind::Coinm => "coinm",
        }
    }
    fn depth_path(self) -> &'static str {
        match self {
            MarketKind::Spot => "/api/v3/depth",
            MarketKind::Usdm => "/fapi/v1/depth",
            MarketKind::Coinm => "/dapi/v1/depth",
        }
    }
    fn ping_every(self) -> Duration {
        match self {
            MarketKind::Spot => Duration::from_secs(20),
            _ => Duration::from_secs(180),
        }
    }
}

/// Faults to inject (each at most once). Counts are stream messages sent so far.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Close the TCP connection (no close frame) that receives stream message N.
    pub drop_after: Option<u64>,
    /// After stream message N, send nothing (no data, no pings) for `stall_ns`.
    pub stall_after: Option<u64>,
    /// Length of the stall, ns.
    pub stall_ns: u64,
    /// After stream message N, send a frame with reserved bits set (protocol error).
    pub malformed_after: Option<u64>,
    /// After stream message N, send a text frame with truncated JSON.
    pub bad_json_after: Option<u64>,
    /// Do not send the first depth diff after N depth diffs (a sequence gap).
    pub skip_diff_after: Option<u64>,
}

/// Server settings.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Recordings and their markets.
    pub files: Vec<(MarketKind, PathBuf)>,
    /// Listen address (`127.0.0.1:0` = a free port).
    pub bind: SocketAddr,
    /// Speed-up of the recorded pace; `None` = as fast as possible.
    pub speed: Option<f64>,
    /// Serve TLS with a self-signed certificate.
    pub tls: bool,
    /// Where to write the certificate PEM (with `tls`).
    pub cert_out: Option<PathBuf>,
    /// Lockstep ordering across connections (see the module doc).
    pub lockstep: bool,
    /// Faults.
    pub faults: Faults,
    /// Start streaming once every served file has a subscriber, or after this long.
    pub wait_clients: Duration,
    /// Ping interval override (default: Binance's, by market).
    pub ping_every: Option<Duration>,
}

/// What the server did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ServerStats {
    /// Stream messages written (per file).
    pub sent: Vec<u64>,
    /// WebSocket connections accepted.
    pub ws_connections: u64,
    /// REST snapshots served from the recording.
    pub snapshots_recorded: u64,
    /// REST snapshots made from the server's book.
    pub snapshots_synthesized: u64,
    /// Lockstep ping/pong round trips.
    pub lockstep_pings: u64,
    /// Lockstep waits that timed out.
    pub lockstep_timeouts: u64,
    /// Stream messages that found no subscriber (client disconnected at the time).
    pub unsent: u64,
    /// Faults injected, by name.
    pub faults: Vec<String>,
}

/// A running server.
pub struct Server {
    addr: SocketAddr,
    cert_pem: Option<String>,
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<Result<ServerStats, String>>>,
}

impl Server {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// `ws://addr` or `wss://addr`.
    pub fn ws_base(&self) -> String {
        format!(
            "{}://{}",
            if self.cert_pem.is_some() { "wss" } else { "ws" },
            self.addr
        )
    }
    /// `http://addr` or `https://addr`.
    pub fn http_base(&self) -> String {
        format!(
            "{}://{}",
            if self.cert_pem.is_some() {
                "https"
            } else {
                "http"
            },
            self.addr
        )
    }
    /// The certificate PEM (TLS only).
    pub fn cert_pem(&self) -> Option<&str> {
        self.cert_pem.as_deref()
    }
    /// Ask the server to stop early.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
    /// Wait until the recording has been served (and the connections closed).
    pub fn join(mut self) -> Result<ServerStats, String> {
        match self.handle.take() {
            Some(h) => h.join().map_err(|_| "replay server panicked".to_string())?,
            None => Err("already joined".into()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Load the recordings and start serving on `cfg.bind` (returns once listening).
pub fn start(cfg: ServerConfig) -> Result<Server, String> {
    if cfg.files.is_empty() {
        return Err("no recordings to serve".into());
    }
    let (items, info) = load(&cfg.files)?;
    let listener = TcpListener::bind(cfg.bind).map_err(|e| format!("bind {}: {e}", cfg.bind))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let (cert_pem, tls) = if cfg.tls {
        let (pem, sc) = crate::net::tls::self_signed_server()?;
        if let Some(p) = &cfg.cert_out {
            std::fs::write(p, &pem).map_err(|e| format!("{}: {e}", p.display()))?;
        }
        (Some(pem), Some(sc))
    } else {
        (None, None)
    };
    let n = info.len();
    let mut recorded = vec![None; n];
    for it in &items {
        if matches!(it.kind, Kind::Snapshot) && recorded[it.file].is_none() {
            recorded[it.file] = Some(it.text.clone());
        }
    }
    let shared = Arc::new(Shared {
        st: Mutex::new(SnapState {
            books: (0..n).map(|_| None).collect(),
            at_snapshot: vec![false; n],
            passed: vec![false; n],
            recorded_served: vec![false; n],
            waiting: vec![0; n],
            recorded,
            ..SnapState::default()
        }),
        cv: Condvar::new(),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel::<NewConn>();
    let info = Arc::new(info);
    {
        let (stop, shared, info) = (stop.clone(), shared.clone(), info.clone());
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        std::thread::Builder::new()
            .name("replay-accept".into())
            .spawn(move || accept_loop(listener, tls, tx, shared, info, stop))
            .map_err(|e| e.to_string())?;
    }
    let stop2 = stop.clone();
    let handle = std::thread::Builder::new()
        .name("replay-dispatch".into())
        .spawn(move || Ok(dispatch::dispatch(cfg, items, info, shared, rx, stop2)))
        .map_err(|e| e.to_string())?;
    Ok(Server {
        addr,
        cert_pem,
        stop,
        handle: Some(handle),
    })
}

fn accept_loop(
    l: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    tx: mpsc::Sender<NewConn>,
    shared: Arc<Shared>,
    info: Arc<Vec<FileInfo>>,
    stop: Arc<AtomicBool>,
) {
    loop {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        match l.accept() {
            Ok((s, _)) => {
                let (tls, tx, shared, info, stop) = (
                    tls.clone(),
                    tx.clone(),
                    shared.clone(),
                    info.clone(),
                    stop.clone(),
                );
                let _ = std::thread::Builder::new()
                    .name("replay-conn".into())
                    .spawn(move || {
                        let _ = http::serve_conn(s, tls, tx, shared, info, stop);
                    });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(2))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}
