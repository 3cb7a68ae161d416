//! HTTP side of a connection: TLS accept, request heads, REST depth snapshots (recorded or
//! made from the server's book), the WebSocket upgrade that hands the connection to the
//! dispatch thread (or, for a listenKey, to the user-data stream), and the order-entry
//! endpoints' requests (bodies read, answered by [`super::orders_http`]).

use super::book::{FileInfo, Shared};
use super::exchange::Exchange;
use super::orders_http::{self, Outcome};
use super::ws::NewConn;
use super::MarketKind;
use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;
use tungstenite::protocol::{Role, WebSocket, WebSocketConfig};

/// A server stream, plain or TLS.
pub(super) enum SrvStream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
}

impl SrvStream {
    pub(super) fn tcp(&self) -> &TcpStream {
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

/// Largest order-entry request body accepted.
const MAX_BODY: usize = 64 << 10;

#[allow(clippy::too_many_arguments)]
pub(super) fn serve_conn(
    tcp: TcpStream,
    tls: Option<Arc<rustls::ServerConfig>>,
    tx: mpsc::Sender<NewConn>,
    shared: Arc<Shared>,
    info: Arc<Vec<FileInfo>>,
    ex: Arc<Exchange>,
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
        let (method, path, upgrade, ws_key, content_length, api_key);
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
                    content_length = r
                        .headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                        .map(|h| {
                            std::str::from_utf8(h.value)
                                .ok()
                                .and_then(|v| v.trim().parse::<usize>().ok())
                        });
                    api_key = r
                        .headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case("x-mbx-apikey"))
                        .map(|h| String::from_utf8_lossy(h.value).into_owned());
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
            // a listenKey: the user-data stream of its account
            let user = route.strip_prefix("/ws/").and_then(|k| {
                ex.subscribe(market, k)
                    .map(|(m, rx)| (m, rx, k.to_string()))
            });
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
            if let Some((m, rx, k)) = user {
                super::user_stream::serve(ws, rx, &ex, m, k, &stop);
                return Ok(());
            }
            let _ = tx.send(NewConn {
                ws,
                market,
                streams,
            });
            return Ok(());
        }
        buf = rest;
        if let Some(r) = orders_http::route(market, &method, route) {
            // the body, by Content-Length (no chunked bodies)
            let n = match content_length {
                None => 0,
                Some(Some(n)) if n <= MAX_BODY => n,
                Some(_) => {
                    let e = super::exchange::ApiError::new(
                        -1100,
                        "Illegal characters found in a parameter.",
                    );
                    s.write_all(&orders_http::http(400, &e.body(), &[]))?;
                    return Ok(());
                }
            };
            while buf.len() < n {
                let mut b = [0u8; 4096];
                let k = s.read(&mut b)?;
                if k == 0 {
                    return Ok(());
                }
                buf.extend_from_slice(&b[..k]);
            }
            let body_bytes: Vec<u8> = buf.drain(..n).collect();
            let body = String::from_utf8_lossy(&body_bytes).into_owned();
            let query = query.to_string();
            match orders_http::handle(&ex, r, &query, &body, api_key.as_deref()) {
                Outcome::Reply(b) => s.write_all(&b)?,
                Outcome::Delayed(d, b) => {
                    std::thread::sleep(d);
                    s.write_all(&b)?;
                }
                Outcome::Disconnect => {
                    let _ = s.tcp().shutdown(std::net::Shutdown::Both);
                    return Ok(());
                }
                Outcome::Swallow => {
                    // keep the connection, answer nothing, until the client or the server goes
                    let _ = s.tcp().set_read_timeout(Some(Duration::from_millis(200)));
                    let mut b = [0u8; 4096];
                    while !stop.load(Ordering::Relaxed) {
                        match s.read(&mut b) {
                            Ok(0) => break,
                            Ok(_) => {}
                            Err(e)
                                if e.kind() == io::ErrorKind::WouldBlock
                                    || e.kind() == io::ErrorKind::TimedOut => {}
                            Err(_) => break,
                        }
                    }
                    return Ok(());
                }
            }
            s.flush()?;
            continue;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_query() {
        assert_eq!(
            split_prefix("/usdm/stream?x"),
            (Some(MarketKind::Usdm), "/stream?x")
        );
        assert_eq!(split_prefix("/stream?x"), (None, "/stream?x"));
        assert_eq!(split_prefix("/spotty/x"), (None, "/spotty/x"));
        assert_eq!(
            query_param("symbol=BTCUSDT&limit=1000", "limit"),
            Some("1000")
        );
    }
}
