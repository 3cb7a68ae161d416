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
#![forbid(unsafe_code)]

use crate::replay::{Merger, ReplayFile};
use crate::types::VenueId;
use std::collections::{BTreeMap, HashSet};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use tungstenite::protocol::{CloseFrame, Role, WebSocket, WebSocketConfig};
use tungstenite::Message;

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

enum Kind {
    Snapshot,
    Stream(Box<str>),
}

struct Item {
    file: usize,
    recv_ns: u64,
    kind: Kind,
    text: Box<str>,
}

struct FileInfo {
    market: MarketKind,
    symbol: String,
    streams: HashSet<String>,
}

/// Price-keyed book of one recording (price scaled to 1e-10 for ordering; texts kept).
#[derive(Default)]
struct SrvBook {
    last_id: u64,
    bids: BTreeMap<i128, (String, String)>,
    asks: BTreeMap<i128, (String, String)>,
}

fn key(px: &str) -> Option<i128> {
    let (i, f) = px.split_once('.').unwrap_or((px, ""));
    if f.len() > 10 {
        return None;
    }
    let mut v: i128 = i.parse().ok()?;
    for k in 0..10 {
        v = v * 10 + f.as_bytes().get(k).map(|b| (b - b'0') as i128).unwrap_or(0);
    }
    Some(v)
}

fn is_zero(q: &str) -> bool {
    q.bytes().all(|b| b == b'0' || b == b'.')
}

impl SrvBook {
    fn set(side: &mut BTreeMap<i128, (String, String)>, lv: &serde_json::Value) {
        let (Some(px), Some(q)) = (lv[0].as_str(), lv[1].as_str()) else {
            return;
        };
        let Some(k) = key(px) else { return };
        if is_zero(q) {
            side.remove(&k);
        } else {
            side.insert(k, (px.to_string(), q.to_string()));
        }
    }
    fn from_snapshot(text: &str) -> Option<SrvBook> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        let mut b = SrvBook {
            last_id: v["lastUpdateId"].as_u64()?,
            ..SrvBook::default()
        };
        for l in v["bids"].as_array()? {
            Self::set(&mut b.bids, l);
        }
        for l in v["asks"].as_array()? {
            Self::set(&mut b.asks, l);
        }
        Some(b)
    }
    fn apply_diff(&mut self, text: &str) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
            return;
        };
        let d = &v["data"];
        let Some(u) = d["u"].as_u64() else { return };
        if u <= self.last_id {
            return;
        }
        for l in d["b"].as_array().into_iter().flatten() {
            Self::set(&mut self.bids, l);
        }
        for l in d["a"].as_array().into_iter().flatten() {
            Self::set(&mut self.asks, l);
        }
        self.last_id = u;
    }
    fn to_json(&self, market: MarketKind, limit: usize, now_ms: u64) -> String {
        let side = |it: &mut dyn Iterator<Item = &(String, String)>| {
            it.take(limit)
                .map(|(p, q)| format!("[\"{p}\",\"{q}\"]"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let bids = side(&mut self.bids.values().rev());
        let asks = side(&mut self.asks.values());
        match market {
            MarketKind::Spot => format!(
                "{{\"lastUpdateId\":{},\"bids\":[{bids}],\"asks\":[{asks}]}}",
                self.last_id
            ),
            _ => format!(
                "{{\"lastUpdateId\":{},\"E\":{now_ms},\"T\":{now_ms},\"bids\":[{bids}],\"asks\":[{asks}]}}",
                self.last_id
            ),
        }
    }
}

#[derive(Default)]
struct SnapState {
    books: Vec<Option<SrvBook>>,
    at_snapshot: Vec<bool>,
    passed: Vec<bool>,
    recorded_served: Vec<bool>,
    waiting: Vec<u32>,
    recorded: Vec<Option<Box<str>>>,
    ended: bool,
    served_recorded: u64,
    served_synth: u64,
}

struct Shared {
    st: Mutex<SnapState>,
    cv: Condvar,
}

/// A server stream, plain or TLS.
enum SrvStream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
}

impl SrvStream {
    fn tcp(&self) -> &TcpStream {
        match self {
            SrvStream::Plain(s) => s,
            SrvStream::Tls(s) => s.get_ref(),
        }
    }
}

impl Read for SrvStream {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        match self {
            SrvStream::Plain(s) => s.read(b),
            SrvStream::Tls(s) => s.read(b),
        }
    }
}
impl Write for SrvStream {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            SrvStream::Plain(s) => s.write(b),
            SrvStream::Tls(s) => s.write(b),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            SrvStream::Plain(s) => s.flush(),
            SrvStream::Tls(s) => s.flush(),
        }
    }
}

struct NewConn {
    ws: WebSocket<SrvStream>,
    market: Option<MarketKind>,
    streams: HashSet<String>,
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

fn stream_name(text: &str) -> Option<&str> {
    let i = text.find("\"stream\":\"")? + 10;
    let j = text[i..].find('"')? + i;
    Some(&text[i..j])
}

fn load(files: &[(MarketKind, PathBuf)]) -> Result<(Vec<Item>, Vec<FileInfo>), String> {
    let rf: Vec<ReplayFile> = files
        .iter()
        .enumerate()
        .map(|(i, (_, p))| ReplayFile {
            path: p.clone(),
            venue: VenueId(i as u8),
            format: crate::replay::ReplayFormat::NsJson,
        })
        .collect();
    let mut m = Merger::open(&rf).map_err(|e| e.to_string())?;
    let mut items = Vec::new();
    let mut info: Vec<FileInfo> = files
        .iter()
        .map(|(mk, _)| FileInfo {
            market: *mk,
            symbol: String::new(),
            streams: HashSet::new(),
        })
        .collect();
    while let Some((v, meta, data)) = m.peek() {
        let text = String::from_utf8_lossy(data);
        let f = v.idx();
        let kind = if text.starts_with("{\"lastUpdateId\"") {
            Kind::Snapshot
        } else {
            match stream_name(&text) {
                Some(s) => {
                    if info[f].symbol.is_empty() {
                        info[f].symbol = s.split('@').next().unwrap_or("").to_ascii_uppercase();
                    }
                    info[f].streams.insert(s.to_string());
                    Kind::Stream(s.into())
                }
                None => Kind::Stream("".into()), // a line that is not a stream message: sent as is
            }
        };
        items.push(Item {
            file: f,
            recv_ns: meta.recv_ns,
            kind,
            text: text.into_owned().into_boxed_str(),
        });
        m.advance(true).map_err(|e| e.to_string())?;
    }
    Ok((items, info))
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
        .spawn(move || Ok(dispatch(cfg, items, info, shared, rx, stop2)))
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
                        let _ = serve_conn(s, tls, tx, shared, info, stop);
                    });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(2))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

fn http_response(status: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json;charset=UTF-8\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Split an optional market prefix (`/spot`, `/usdm`, `/coinm`) off a path.
fn split_prefix(path: &str) -> (Option<MarketKind>, &str) {
    for m in [MarketKind::Spot, MarketKind::Usdm, MarketKind::Coinm] {
        let p = format!("/{}", m.name());
        if let Some(rest) = path.strip_prefix(p.as_str()) {
            if rest.starts_with('/') {
                return (Some(m), rest);
            }
        }
    }
    (None, path)
}

fn query_param<'a>(q: &'a str, k: &str) -> Option<&'a str> {
    q.split('&').find_map(|kv| {
        let (a, b) = kv.split_once('=')?;
        (a == k).then_some(b)
    })
}

fn serve_conn(
    tcp: TcpStream,
    tls: Option<Arc<rustls::ServerConfig>>,
    tx: mpsc::Sender<NewConn>,
    shared: Arc<Shared>,
    info: Arc<Vec<FileInfo>>,
    stop: Arc<AtomicBool>,
) -> io::Result<()> {
    tcp.set_nodelay(true)?;
    tcp.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut s = match tls {
        Some(cfg) => {
            let conn = rustls::ServerConnection::new(cfg).map_err(io::Error::other)?;
            let mut so = rustls::StreamOwned::new(conn, tcp);
            while so.conn.is_handshaking() {
                so.conn.complete_io(&mut so.sock)?;
            }
            SrvStream::Tls(Box::new(so))
        }
        None => SrvStream::Plain(tcp),
    };
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    loop {
        // read one request head
        let hdr_len;
        let (method, path, upgrade, ws_key);
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut r = httparse::Request::new(&mut headers);
            match r.parse(&buf) {
                Ok(httparse::Status::Complete(n)) => {
                    hdr_len = n;
                    method = r.method.unwrap_or("").to_string();
                    path = r.path.unwrap_or("/").to_string();
                    upgrade = r.headers.iter().any(|h| {
                        h.name.eq_ignore_ascii_case("upgrade")
                            && String::from_utf8_lossy(h.value).eq_ignore_ascii_case("websocket")
                    });
                    ws_key = r
                        .headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case("sec-websocket-key"))
                        .map(|h| h.value.to_vec());
                    break;
                }
                Ok(httparse::Status::Partial) => {}
                Err(_) => {
                    s.write_all(
                        http_response(
                            "400 Bad Request",
                            "{\"code\":-1100,\"msg\":\"bad request\"}",
                        )
                        .as_bytes(),
                    )?;
                    return Ok(());
                }
            }
            let mut b = [0u8; 4096];
            let n = s.read(&mut b)?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&b[..n]);
            if buf.len() > 64 << 10 {
                return Ok(());
            }
        }
        let rest = buf[hdr_len..].to_vec();
        let (market, p) = split_prefix(&path);
        let (route, query) = p.split_once('?').unwrap_or((p, ""));
        if upgrade {
            let Some(key) = ws_key else {
                s.write_all(http_response("400 Bad Request", "{}").as_bytes())?;
                return Ok(());
            };
            let mut streams = HashSet::new();
            if route == "/stream" {
                if let Some(v) = query_param(query, "streams") {
                    streams.extend(v.split('/').filter(|x| !x.is_empty()).map(str::to_string));
                }
            } else if let Some(st) = route.strip_prefix("/ws/") {
                streams.extend(st.split('/').filter(|x| !x.is_empty()).map(str::to_string));
            } else if route != "/ws" {
                s.write_all(http_response("404 Not Found", "{}").as_bytes())?;
                return Ok(());
            }
            let accept = tungstenite::handshake::derive_accept_key(&key);
            s.write_all(format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n").as_bytes())?;
            s.flush()?;
            s.tcp().set_nonblocking(true)?;
            let ws = WebSocket::from_partially_read(
                s,
                rest,
                Role::Server,
                Some(WebSocketConfig::default().write_buffer_size(0)),
            );
            let _ = tx.send(NewConn {
                ws,
                market,
                streams,
            });
            return Ok(());
        }
        buf = rest;
        if method != "GET" {
            s.write_all(http_response("405 Method Not Allowed", "{}").as_bytes())?;
            continue;
        }
        let mk = [MarketKind::Spot, MarketKind::Usdm, MarketKind::Coinm]
            .into_iter()
            .find(|m| m.depth_path() == route && market.is_none_or(|x| x == *m));
        let Some(mk) = mk else {
            s.write_all(
                http_response("404 Not Found", "{\"code\":-1,\"msg\":\"not found\"}").as_bytes(),
            )?;
            continue;
        };
        let sym = query_param(query, "symbol")
            .unwrap_or("")
            .to_ascii_uppercase();
        let limit: usize = query_param(query, "limit")
            .and_then(|l| l.parse().ok())
            .unwrap_or(100)
            .clamp(1, 5000);
        let Some(f) = info.iter().position(|i| i.market == mk && i.symbol == sym) else {
            s.write_all(
                http_response(
                    "400 Bad Request",
                    "{\"code\":-1121,\"msg\":\"Invalid symbol.\"}",
                )
                .as_bytes(),
            )?;
            continue;
        };
        let body = snapshot_for(&shared, f, mk, limit, &stop);
        match body {
            Some(b) => s.write_all(http_response("200 OK", &b).as_bytes())?,
            None => s.write_all(
                http_response(
                    "503 Service Unavailable",
                    "{\"code\":-1,\"msg\":\"no book\"}",
                )
                .as_bytes(),
            )?,
        }
        s.flush()?;
    }
}

fn snapshot_for(
    shared: &Shared,
    f: usize,
    mk: MarketKind,
    limit: usize,
    stop: &AtomicBool,
) -> Option<String> {
    let mut st = shared.st.lock().ok()?;
    st.waiting[f] += 1;
    shared.cv.notify_all();
    let r = loop {
        if st.at_snapshot[f] && !st.recorded_served[f] {
            st.recorded_served[f] = true;
            st.served_recorded += 1;
            break st.recorded[f].as_deref().map(str::to_string);
        }
        if st.passed[f] || st.at_snapshot[f] {
            let now_ms = crate::clock::Clock::get().now_ns() / 1_000_000;
            st.served_synth += 1;
            break st.books[f].as_ref().map(|b| b.to_json(mk, limit, now_ms));
        }
        if st.ended || stop.load(Ordering::Relaxed) {
            break None;
        }
        st = shared
            .cv
            .wait_timeout(st, Duration::from_millis(50))
            .ok()?
            .0;
    };
    st.waiting[f] -= 1;
    shared.cv.notify_all();
    r
}

struct Conn {
    ws: WebSocket<SrvStream>,
    market: Option<MarketKind>,
    streams: HashSet<String>,
    alive: bool,
    next_ping: Instant,
    got_pong: Option<u64>,
}

impl Conn {
    /// Read what the client sent: pongs, SUBSCRIBE messages, close.
    fn service(&mut self, ping_every: Duration) {
        if !self.alive {
            return;
        }
        loop {
            match self.ws.read() {
                Ok(Message::Pong(p)) => {
                    if p.len() == 8 {
                        let mut b = [0u8; 8];
                        b.copy_from_slice(&p);
                        self.got_pong = Some(u64::from_le_bytes(b));
                    }
                }
                Ok(Message::Text(t)) => self.control(t.as_str()),
                Ok(Message::Close(_)) => {
                    let _ = self.ws.flush();
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    self.alive = false;
                    break;
                }
            }
        }
        if self.alive && Instant::now() >= self.next_ping {
            self.next_ping = Instant::now() + ping_every;
            if self.send(Message::Ping(Vec::new().into())).is_err() {
                self.alive = false;
            }
        }
    }

    /// `{"method":"SUBSCRIBE","params":[...],"id":1}` and friends.
    fn control(&mut self, t: &str) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(t) else {
            let _ = self.send(Message::text(
                "{\"error\":{\"code\":2,\"msg\":\"Invalid request\"},\"id\":null}",
            ));
            return;
        };
        let id = v["id"].clone();
        let params = v["params"].as_array().cloned().unwrap_or_default();
        let result = match v["method"].as_str() {
            Some("SUBSCRIBE") => {
                for p in params.iter().filter_map(|p| p.as_str()) {
                    self.streams.insert(p.to_string());
                }
                serde_json::Value::Null
            }
            Some("UNSUBSCRIBE") => {
                for p in params.iter().filter_map(|p| p.as_str()) {
                    self.streams.remove(p);
                }
                serde_json::Value::Null
            }
            Some("LIST_SUBSCRIPTIONS") => {
                let mut l: Vec<&String> = self.streams.iter().collect();
                l.sort();
                serde_json::json!(l)
            }
            _ => {
                let _ = self.send(Message::text(format!(
                    "{{\"error\":{{\"code\":2,\"msg\":\"Invalid request\"}},\"id\":{id}}}"
                )));
                return;
            }
        };
        let _ = self.send(Message::text(
            serde_json::json!({"result": result, "id": id}).to_string(),
        ));
    }

    /// Write a message and push it out (waiting while the socket is full).
    fn send(&mut self, m: Message) -> Result<(), ()> {
        let mut r = self.ws.write(m);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match r {
                Ok(()) => match self.ws.flush() {
                    Ok(()) => return Ok(()),
                    Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => return Err(()),
                },
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return Err(()),
            }
            if Instant::now() > deadline {
                return Err(());
            }
            std::thread::sleep(Duration::from_micros(50));
            r = Ok(());
        }
    }

    fn raw(&mut self, bytes: &[u8]) {
        let _ = self.ws.flush();
        let s = self.ws.get_mut();
        let _ = s.write_all(bytes);
        let _ = s.flush();
    }
}

#[allow(clippy::too_many_arguments)]
fn dispatch(
    cfg: ServerConfig,
    items: Vec<Item>,
    info: Arc<Vec<FileInfo>>,
    shared: Arc<Shared>,
    rx: mpsc::Receiver<NewConn>,
    stop: Arc<AtomicBool>,
) -> ServerStats {
    let mut stats = ServerStats {
        sent: vec![0; info.len()],
        ..ServerStats::default()
    };
    let mut conns: Vec<Conn> = Vec::new();
    let ping_of = |c: &Conn| {
        cfg.ping_every.unwrap_or_else(|| {
            c.market
                .map(|m| m.ping_every())
                .unwrap_or(Duration::from_secs(20))
        })
    };
    let accept = |conns: &mut Vec<Conn>, stats: &mut ServerStats| {
        while let Ok(n) = rx.try_recv() {
            stats.ws_connections += 1;
            let mut c = Conn {
                ws: n.ws,
                market: n.market,
                streams: n.streams,
                alive: true,
                next_ping: Instant::now(),
                got_pong: None,
            };
            c.next_ping = Instant::now() + ping_of(&c);
            conns.push(c);
        }
    };
    let service_all = |conns: &mut Vec<Conn>| {
        for c in conns.iter_mut() {
            let pe = ping_of(c);
            c.service(pe);
        }
    };
    // wait for subscribers of every file
    let t_wait = Instant::now();
    loop {
        accept(&mut conns, &mut stats);
        service_all(&mut conns);
        let covered = info.iter().all(|fi| {
            conns.iter().any(|c| {
                c.alive
                    && c.market.is_none_or(|m| m == fi.market)
                    && c.streams.iter().any(|s| fi.streams.contains(s))
            })
        });
        if covered || t_wait.elapsed() > cfg.wait_clients || stop.load(Ordering::Relaxed) {
            break;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let start = Instant::now();
    let mut pause = Duration::ZERO;
    let t0 = items.first().map(|i| i.recv_ns).unwrap_or(0);
    let (mut n_stream, mut n_depth) = (0u64, 0u64);
    let mut faults = cfg.faults.clone();
    let mut last_conn: Option<usize> = None;
    let mut last_service = Instant::now();
    for (idx, it) in items.iter().enumerate() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        if let Some(speed) = cfg.speed {
            let due =
                Duration::from_nanos((it.recv_ns.saturating_sub(t0) as f64 / speed) as u64) + pause;
            loop {
                let now = start.elapsed();
                if now >= due {
                    break;
                }
                accept(&mut conns, &mut stats);
                service_all(&mut conns);
                last_service = Instant::now();
                std::thread::sleep((due - now).min(Duration::from_micros(500)));
            }
        }
        if last_service.elapsed() > Duration::from_millis(2) {
            accept(&mut conns, &mut stats);
            service_all(&mut conns);
            last_service = Instant::now();
        }
        let f = it.file;
        let name = match &it.kind {
            Kind::Snapshot => {
                // the recorded snapshot: the server's book starts here; a waiting REST request
                // gets these exact bytes
                let Ok(mut st) = shared.st.lock() else { break };
                st.books[f] = SrvBook::from_snapshot(&it.text);
                st.at_snapshot[f] = true;
                shared.cv.notify_all();
                let deadline = Instant::now() + Duration::from_secs(10);
                while !st.recorded_served[f]
                    && (st.waiting[f] > 0 || cfg.lockstep)
                    && Instant::now() < deadline
                    && !stop.load(Ordering::Relaxed)
                {
                    st = match shared.cv.wait_timeout(st, Duration::from_millis(5)) {
                        Ok(g) => g.0,
                        Err(p) => p.into_inner().0,
                    };
                }
                st.at_snapshot[f] = false;
                st.passed[f] = true;
                continue;
            }
            Kind::Stream(s) => s,
        };
        let is_depth = name.contains("@depth");
        if is_depth {
            if let Ok(mut st) = shared.st.lock() {
                if let Some(b) = st.books[f].as_mut() {
                    b.apply_diff(&it.text);
                }
            }
            n_depth += 1;
            if faults.skip_diff_after.is_some_and(|n| n_depth > n) {
                faults.skip_diff_after = None;
                stats.faults.push(format!("skip_diff at message {idx}"));
                continue;
            }
        }
        n_stream += 1;
        let mkt = info[f].market;
        let targets: Vec<usize> = conns
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                c.alive && c.market.is_none_or(|m| m == mkt) && c.streams.contains(name.as_ref())
            })
            .map(|(k, _)| k)
            .collect();
        if targets.is_empty() {
            stats.unsent += 1;
        }
        for k in targets {
            if cfg.lockstep {
                if let Some(p) = last_conn.filter(|p| *p != k && conns[*p].alive) {
                    stats.lockstep_pings += 1;
                    let tag = idx as u64;
                    conns[p].got_pong = None;
                    if conns[p]
                        .send(Message::Ping(tag.to_le_bytes().to_vec().into()))
                        .is_ok()
                    {
                        let deadline = Instant::now() + Duration::from_secs(5);
                        let mut spins = 0u32;
                        while conns[p].alive
                            && conns[p].got_pong != Some(tag)
                            && Instant::now() < deadline
                        {
                            conns[p].service(Duration::from_secs(3600));
                            spins += 1;
                            if spins > 50 {
                                std::thread::sleep(Duration::from_micros(20));
                            } else {
                                std::thread::yield_now();
                            }
                        }
                        if conns[p].got_pong != Some(tag) {
                            stats.lockstep_timeouts += 1;
                        }
                    }
                }
            }
            let c = &mut conns[k];
            if c.send(Message::text(it.text.to_string())).is_err() {
                c.alive = false;
                continue;
            }
            stats.sent[f] += 1;
            last_conn = Some(k);
            if faults.drop_after == Some(n_stream) {
                faults.drop_after = None;
                stats.faults.push(format!("drop at message {idx}"));
                let _ = c.ws.get_ref().tcp().shutdown(std::net::Shutdown::Both);
                c.alive = false;
            }
            if faults.malformed_after == Some(n_stream) {
                faults.malformed_after = None;
                stats
                    .faults
                    .push(format!("malformed frame at message {idx}"));
                c.raw(&[0xF1, 0x02, b'{', b'}']); // FIN + RSV1..3 + text: reserved bits set
            }
            if faults.bad_json_after == Some(n_stream) {
                faults.bad_json_after = None;
                stats.faults.push(format!("bad json at message {idx}"));
                let _ = c.send(Message::text(
                    "{\"stream\":\"btcusdt@bookTicker\",\"data\":{\"u\":",
                ));
            }
        }
        if faults.stall_after == Some(n_stream) {
            faults.stall_after = None;
            stats
                .faults
                .push(format!("stall {} ns at message {idx}", faults.stall_ns));
            let d = Duration::from_nanos(faults.stall_ns);
            let t = Instant::now();
            while t.elapsed() < d && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(5));
            }
            pause += d;
        }
        conns.retain(|c| c.alive);
        if let Some(l) = last_conn {
            if l >= conns.len() {
                last_conn = None;
            }
        }
    }
    // end of the recording: normal close on every connection
    if let Ok(mut st) = shared.st.lock() {
        st.ended = true;
        stats.snapshots_recorded = st.served_recorded;
        stats.snapshots_synthesized = st.served_synth;
        shared.cv.notify_all();
    }
    for c in conns.iter_mut().filter(|c| c.alive) {
        let _ = c.ws.close(Some(CloseFrame {
            code: tungstenite::protocol::frame::coding::CloseCode::Normal,
            reason: "end of recording".into(),
        }));
        let _ = c.ws.flush();
    }
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(3) && conns.iter().any(|c| c.alive) {
        for c in conns.iter_mut().filter(|c| c.alive) {
            match c.ws.read() {
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    let _ = c.ws.flush();
                }
                Err(_) => c.alive = false,
                Ok(_) => {}
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    if let Ok(st) = shared.st.lock() {
        stats.snapshots_recorded = st.served_recorded;
        stats.snapshots_synthesized = st.served_synth;
    }
    stop.store(true, Ordering::Relaxed);
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn book_keys_and_snapshot_json() {
        assert_eq!(key("61837.63000000"), Some(618376300000000));
        assert_eq!(key("0.1"), Some(1_000_000_000));
        assert!(key("1.00000000001").is_none());
        let mut b = SrvBook::from_snapshot(
            r#"{"lastUpdateId":10,"bids":[["100.0","1"],["99.5","2"]],"asks":[["101.0","3"]]}"#,
        )
        .unwrap();
        b.apply_diff(r#"{"stream":"x@depth","data":{"U":11,"u":12,"b":[["100.0","0"],["99.9","5"]],"a":[["100.5","1"]]}}"#);
        b.apply_diff(r#"{"stream":"x@depth","data":{"U":5,"u":9,"b":[["1.0","1"]],"a":[]}}"#); // stale
        assert_eq!(
            b.to_json(MarketKind::Spot, 1, 0),
            r#"{"lastUpdateId":12,"bids":[["99.9","5"]],"asks":[["100.5","1"]]}"#
        );
        assert!(b
            .to_json(MarketKind::Usdm, 5, 7)
            .starts_with(r#"{"lastUpdateId":12,"E":7,"T":7,"bids":[["99.9","5"],["99.5","2"]]"#));
    }

    #[test]
    fn paths_and_streams() {
        assert_eq!(
            split_prefix("/usdm/stream?x"),
            (Some(MarketKind::Usdm), "/stream?x")
        );
        assert_eq!(split_prefix("/stream?x"), (None, "/stream?x"));
        assert_eq!(split_prefix("/spotty/x"), (None, "/spotty/x"));
        assert_eq!(
            stream_name(r#"{"stream":"btcusdt@depth@0ms","data":{}}"#),
            Some("btcusdt@depth@0ms")
        );
        assert_eq!(
            query_param("symbol=BTCUSDT&limit=1000", "limit"),
            Some("1000")
        );
    }
}
