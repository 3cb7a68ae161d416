//! One HTTP/1.1 keep-alive client connection as a non-blocking state machine, for order entry
//! from the execution thread: TCP connect (mio, `TCP_NODELAY`), TLS (rustls, optional), then
//! requests written from the caller's buffer and responses parsed in place. Every call does
//! what the socket allows now and returns; nothing blocks. One request is in flight at a time
//! per connection (the execution step keeps a small pool per venue).
//!
//! Buffers are allocated when the connection opens ([`HttpParams`]); after that, sending a
//! request and parsing its response allocate nothing (with plain `http://`; over TLS, rustls
//! copies each received record, as for the feeds). Responses are read until complete:
//! `Content-Length` bodies and `Transfer-Encoding: chunked` bodies (decoded in place). Headers
//! a trading client needs are picked out while parsing ([`RespMeta`]): the status, Binance's
//! rate-limit counters (`X-MBX-USED-WEIGHT-*`, `X-MBX-ORDER-COUNT-*`), `Retry-After` and
//! `Connection: close`.
//!
//! Contract: call [`HttpConn::drive`] until it reports [`ConnState::Open`]; then
//! [`HttpConn::send`] a complete request, call [`HttpConn::poll`] until it returns a response,
//! read it, and call [`HttpConn::consume`] before the next request.
#![forbid(unsafe_code)]

use super::ws::NetStream;
use super::Url;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;

/// Buffer sizes of a connection.
#[derive(Clone, Copy, Debug)]
pub struct HttpParams {
    /// Largest request (headers + body).
    pub max_request_bytes: usize,
    /// Largest response (headers + body, chunk framing included).
    pub max_response_bytes: usize,
}

impl Default for HttpParams {
    fn default() -> HttpParams {
        HttpParams {
            max_request_bytes: 16 << 10,
            max_response_bytes: 1 << 20,
        }
    }
}

/// Where a connection is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnState {
    /// TCP connect or TLS handshake in progress.
    Connecting,
    /// Ready for a request, or one is in flight.
    Open,
    /// Failed or closed (the reason).
    Closed(String),
}

/// What a response says besides its body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RespMeta {
    /// HTTP status.
    pub status: u16,
    /// `Retry-After`, seconds (429 / 418 / 503).
    pub retry_after_s: Option<u64>,
    /// `X-MBX-USED-WEIGHT-1M` (or the first `X-MBX-USED-WEIGHT-*` header).
    pub used_weight: Option<u64>,
    /// `X-MBX-ORDER-COUNT-10S` (or the first `X-MBX-ORDER-COUNT-*` header).
    pub order_count: Option<u64>,
    /// The server will close the connection after this response.
    pub close: bool,
}

/// A complete response: metadata and the body (decoded when chunked).
#[derive(Debug)]
pub struct Response<'a> {
    /// Status and picked headers.
    pub meta: RespMeta,
    /// The body.
    pub body: &'a [u8],
}

/// Why a connection failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// Socket or TLS error, or the peer closed (with a request possibly in flight).
    #[error("connection: {0}")]
    Io(String),
    /// The response was not valid HTTP/1.1 or too large.
    #[error("bad response: {0}")]
    Protocol(String),
    /// A request was sent while another was in flight, or before the connection was open.
    #[error("busy: {0}")]
    Busy(&'static str),
}

/// One client connection.
pub struct HttpConn {
    stream: NetStream,
    state: ConnState,
    out: Vec<u8>,
    out_pos: usize,
    inbuf: Vec<u8>,
    in_len: usize,
    body: Vec<u8>,
    in_flight: bool,
    /// Parsed response waiting for [`HttpConn::consume`]: (bytes it occupies in `inbuf`, meta).
    ready: Option<(usize, RespMeta)>,
    /// Raw clock stamp when the last request's last byte was handed to the socket.
    pub sent_tsc: u64,
    /// Requests sent on this connection.
    pub requests: u64,
}

fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

fn header_u64(v: &[u8]) -> Option<u64> {
    std::str::from_utf8(v).ok()?.trim().parse().ok()
}

impl HttpConn {
    /// Start connecting to `addr` for `url` (non-blocking); `tls` is required for `https`.
    pub fn connect(
        url: &Url,
        addr: SocketAddr,
        tls: Option<&Arc<rustls::ClientConfig>>,
        params: HttpParams,
    ) -> Result<HttpConn, String> {
        Ok(HttpConn {
            stream: NetStream::open(url, addr, tls)?,
            state: ConnState::Connecting,
            out: Vec::with_capacity(params.max_request_bytes),
            out_pos: 0,
            inbuf: vec![0; params.max_response_bytes],
            in_len: 0,
            body: Vec::with_capacity(params.max_response_bytes),
            in_flight: false,
            ready: None,
            sent_tsc: 0,
            requests: 0,
        })
    }

    /// Current state.
    pub fn state(&self) -> &ConnState {
        &self.state
    }

    /// True when open and no request is in flight.
    pub fn is_idle(&self) -> bool {
        self.state == ConnState::Open && !self.in_flight && self.ready.is_none()
    }

    /// True while a request waits for its response.
    pub fn in_flight(&self) -> bool {
        self.in_flight
    }

    fn fail(&mut self, why: String) -> HttpError {
        self.state = ConnState::Closed(why.clone());
        self.stream.shutdown();
        HttpError::Io(why)
    }

    /// Drive the TCP connect and the TLS handshake as far as the socket allows.
    pub fn drive(&mut self) -> &ConnState {
        if self.state == ConnState::Connecting {
            match self.stream.tcp_connected() {
                Ok(true) => {
                    // TLS: the handshake runs underneath the first write/read; push it now
                    match self.stream.flush_tls() {
                        Err(e) if !would_block(&e) => {
                            let _ = self.fail(format!("TLS: {e}"));
                            return &self.state;
                        }
                        _ => {}
                    }
                    self.state = ConnState::Open;
                }
                Ok(false) => {}
                Err(e) => {
                    let _ = self.fail(e);
                }
            }
        }
        &self.state
    }

    /// Queue a complete request and write as much as the socket takes now. The bytes are
    /// copied into the connection's own buffer (allocated at connect).
    pub fn send(&mut self, req: &[u8]) -> Result<(), HttpError> {
        if self.state != ConnState::Open {
            return Err(HttpError::Busy("connection not open"));
        }
        if self.in_flight || self.ready.is_some() {
            return Err(HttpError::Busy("a request is already in flight"));
        }
        if req.len() > self.out.capacity() {
            return Err(HttpError::Protocol(format!(
                "request of {} bytes over the {}-byte buffer",
                req.len(),
                self.out.capacity()
            )));
        }
        self.out.clear();
        self.out.extend_from_slice(req);
        self.out_pos = 0;
        self.in_flight = true;
        self.requests += 1;
        self.flush()?;
        Ok(())
    }

    /// Write pending request bytes; `Ok(true)` once all are out.
    pub fn flush(&mut self) -> Result<bool, HttpError> {
        while self.out_pos < self.out.len() {
            match self.stream.write(&self.out[self.out_pos..]) {
                Ok(0) => return Err(self.fail("closed while sending".into())),
                Ok(n) => {
                    self.out_pos += n;
                    if self.out_pos == self.out.len() {
                        self.sent_tsc = crate::clock::raw();
                    }
                }
                Err(e) if would_block(&e) => return Ok(false),
                Err(e) => return Err(self.fail(format!("send: {e}"))),
            }
        }
        match self.stream.flush_tls() {
            Err(e) if !would_block(&e) => Err(self.fail(format!("TLS: {e}"))),
            _ => Ok(true),
        }
    }

    /// Read what the socket has and return the response once it is complete. `Ok(None)`:
    /// not yet. After handling it, call [`HttpConn::consume`].
    pub fn poll(&mut self) -> Result<Option<Response<'_>>, HttpError> {
        if self.ready.is_none() {
            if self.state != ConnState::Open {
                return match &self.state {
                    ConnState::Closed(w) => Err(HttpError::Io(w.clone())),
                    _ => Ok(None),
                };
            }
            self.flush()?;
            loop {
                if self.in_len == self.inbuf.len() {
                    return Err(HttpError::Protocol(
                        "response larger than the buffer".into(),
                    ));
                }
                match self.stream.read(&mut self.inbuf[self.in_len..]) {
                    Ok(0) => {
                        // peer closed: a response already complete in the buffer still counts
                        match self.parse() {
                            Ok(Some(_)) => break,
                            _ => return Err(self.fail("closed by the server".into())),
                        }
                    }
                    Ok(n) => self.in_len += n,
                    Err(e) if would_block(&e) => break,
                    Err(e) => return Err(self.fail(format!("read: {e}"))),
                }
            }
            if self.parse()?.is_none() {
                return Ok(None);
            }
        }
        let (_, meta) = self.ready.expect("parsed above");
        Ok(Some(Response {
            meta,
            body: &self.body,
        }))
    }

    /// Parse a complete response in `inbuf` into `body`/`ready`; `Ok(None)` if incomplete.
    fn parse(&mut self) -> Result<Option<()>, HttpError> {
        if self.in_len == 0 {
            return Ok(None);
        }
        let mut headers = [httparse::EMPTY_HEADER; 48];
        let mut r = httparse::Response::new(&mut headers);
        let hdr_len = match r.parse(&self.inbuf[..self.in_len]) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(HttpError::Protocol(format!("{e}"))),
        };
        let mut meta = RespMeta {
            status: r.code.unwrap_or(0),
            ..RespMeta::default()
        };
        let (mut content_len, mut chunked) = (None, false);
        for h in r.headers.iter() {
            let n = h.name;
            if n.eq_ignore_ascii_case("content-length") {
                content_len = header_u64(h.value);
            } else if n.eq_ignore_ascii_case("transfer-encoding") {
                chunked = h.value.eq_ignore_ascii_case(b"chunked");
            } else if n.eq_ignore_ascii_case("retry-after") {
                meta.retry_after_s = header_u64(h.value);
            } else if n.eq_ignore_ascii_case("connection") {
                meta.close = h.value.eq_ignore_ascii_case(b"close");
            } else if n.len() > 18 && n[..18].eq_ignore_ascii_case("x-mbx-used-weight-") {
                if meta.used_weight.is_none() || n[18..].eq_ignore_ascii_case("1m") {
                    meta.used_weight = header_u64(h.value);
                }
            } else if n.len() > 18
                && n[..18].eq_ignore_ascii_case("x-mbx-order-count-")
                && (meta.order_count.is_none() || n[18..].eq_ignore_ascii_case("10s"))
            {
                meta.order_count = header_u64(h.value);
            }
        }
        self.body.clear();
        let data = &self.inbuf[hdr_len..self.in_len];
        let used = if chunked {
            // size-line CRLF data CRLF ... 0 CRLF (trailers) CRLF
            let mut p = 0usize;
            loop {
                let Some(eol) = data[p..].windows(2).position(|w| w == b"\r\n") else {
                    return Ok(None);
                };
                let line = &data[p..p + eol];
                let hex = line.split(|b| *b == b';').next().unwrap_or(line);
                let size = std::str::from_utf8(hex)
                    .ok()
                    .and_then(|t| usize::from_str_radix(t.trim(), 16).ok())
                    .ok_or_else(|| HttpError::Protocol("bad chunk size".into()))?;
                p += eol + 2;
                if size == 0 {
                    // trailers end with an empty line
                    loop {
                        let Some(e2) = data[p..].windows(2).position(|w| w == b"\r\n") else {
                            return Ok(None);
                        };
                        p += e2 + 2;
                        if e2 == 0 {
                            break;
                        }
                    }
                    break p;
                }
                if data.len() < p + size + 2 {
                    return Ok(None);
                }
                self.body.extend_from_slice(&data[p..p + size]);
                p += size + 2;
            }
        } else {
            let n = content_len.unwrap_or(0) as usize;
            if data.len() < n {
                return Ok(None);
            }
            self.body.extend_from_slice(&data[..n]);
            n
        };
        self.ready = Some((hdr_len + used, meta));
        Ok(Some(()))
    }

    /// Drop the response returned by [`HttpConn::poll`]; the connection is idle again (or
    /// closed, when the server said `Connection: close`).
    pub fn consume(&mut self) {
        if let Some((n, meta)) = self.ready.take() {
            self.inbuf.copy_within(n..self.in_len, 0);
            self.in_len -= n;
            self.in_flight = false;
            if meta.close {
                let _ = self.fail("server closed the connection after its response".into());
            }
        }
    }

    /// Close (the caller reconnects with a new connection).
    pub fn close(&mut self, why: &str) {
        let _ = self.fail(why.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};

    /// A one-connection HTTP server answering each request with the next canned response.
    fn server(responses: Vec<Vec<u8>>) -> (SocketAddr, std::thread::JoinHandle<Vec<String>>) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let h = std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut w = s;
            let mut got = Vec::new();
            for resp in responses {
                let mut req = String::new();
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap() == 0 {
                        return got;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap();
                    }
                    req.push_str(&line);
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0u8; len];
                std::io::Read::read_exact(&mut r, &mut body).unwrap();
                req.push_str(&String::from_utf8_lossy(&body));
                got.push(req);
                // answer in two pieces, to exercise partial reads
                let cut = resp.len() / 2;
                w.write_all(&resp[..cut]).unwrap();
                w.flush().unwrap();
                std::thread::sleep(std::time::Duration::from_millis(5));
                w.write_all(&resp[cut..]).unwrap();
            }
            got
        });
        (addr, h)
    }

    fn wait<'a>(c: &'a mut HttpConn) -> Response<'a> {
        let t0 = std::time::Instant::now();
        loop {
            // poll borrows c mutably; re-poll after a miss
            if c.poll().unwrap().is_some() {
                break;
            }
            assert!(t0.elapsed().as_secs() < 5, "no response");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        c.poll().unwrap().unwrap()
    }

    #[test]
    fn keep_alive_requests_with_length_and_chunked_bodies() {
        let r1 = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\nX-MBX-USED-WEIGHT-1M: 7\r\nX-MBX-ORDER-COUNT-10S: 2\r\n\r\n{\"orderId\":1}".to_vec();
        let r2 = b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"cod\r\n19\r\ne\":-1022,\"msg\":\"bad sig\"}\r\n0\r\n\r\n".to_vec();
        let r3 = b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}".to_vec();
        let (addr, h) = server(vec![r1, r2, r3]);
        let url = Url::parse(&format!("http://{addr}")).unwrap();
        let mut c = HttpConn::connect(&url, addr, None, HttpParams::default()).unwrap();
        let t0 = std::time::Instant::now();
        while c.drive() != &ConnState::Open {
            assert!(t0.elapsed().as_secs() < 5);
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        c.send(b"POST /api/v3/order HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\na=1")
            .unwrap();
        assert!(matches!(c.send(b"x"), Err(HttpError::Busy(_))));
        let r = wait(&mut c);
        assert_eq!(r.meta.status, 200);
        assert_eq!((r.meta.used_weight, r.meta.order_count), (Some(7), Some(2)));
        assert_eq!(r.body, b"{\"orderId\":1}");
        c.consume();
        assert!(c.is_idle());
        c.send(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let r = wait(&mut c);
        assert_eq!(r.meta.status, 400);
        assert_eq!(r.body, br#"{"code":-1022,"msg":"bad sig"}"#);
        c.consume();
        c.send(b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let r = wait(&mut c);
        assert_eq!(
            (r.meta.status, r.meta.retry_after_s, r.meta.close),
            (429, Some(3), true)
        );
        c.consume();
        assert!(matches!(c.state(), ConnState::Closed(_)));
        let got = h.join().unwrap();
        assert_eq!(got.len(), 3);
        assert!(got[0].starts_with("POST /api/v3/order") && got[0].ends_with("a=1"));
    }

    #[test]
    fn a_server_that_vanishes_mid_request_is_an_error() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let h = std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(20));
            drop(s);
        });
        let url = Url::parse(&format!("http://{addr}")).unwrap();
        let mut c = HttpConn::connect(&url, addr, None, HttpParams::default()).unwrap();
        while c.drive() == &ConnState::Connecting {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let t0 = std::time::Instant::now();
        let err = loop {
            match c.poll() {
                Ok(None) => std::thread::sleep(std::time::Duration::from_millis(1)),
                Ok(Some(_)) => panic!("no response was sent"),
                Err(e) => break e,
            }
            assert!(t0.elapsed().as_secs() < 5);
        };
        assert!(matches!(err, HttpError::Io(_)), "{err:?}");
        h.join().unwrap();
    }
}
