//! One WebSocket client connection as a non-blocking state machine, driven by a feed thread's
//! busy-poll loop: TCP connect (mio, `TCP_NODELAY`), TLS (rustls, optional), the HTTP/1.1
//! upgrade (RFC 6455 §4: key, `Sec-WebSocket-Accept` check), then tungstenite framing. Every
//! call does what the socket allows now and returns; nothing blocks.
//!
//! Buffers are allocated when the connection opens: tungstenite's read buffer is handed over
//! pre-sized (`read_capacity_bytes`, default 256 KiB, larger than any Binance stream message),
//! while each socket read fills at most `read_buffer_bytes` (4 KiB: tungstenite zero-fills the
//! span it reads into, and the 128 KiB default costs +1.4 µs per frame, performance.md). With
//! plain `ws://`, the steady-state read path allocates nothing (tests/allocations/loopback.rs).
//! With `wss://`, rustls 0.23 copies every received TLS record into a fresh `Vec`
//! (`CommonState::take_received_plaintext`, also in its unbuffered API): one allocation per
//! record that this crate cannot avoid short of another TLS library.
#![forbid(unsafe_code)]

use super::Url;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use tungstenite::protocol::{CloseFrame, Role, WebSocket, WebSocketConfig};
use tungstenite::Message;

/// Sizes of a connection's buffers.
#[derive(Clone, Copy, Debug)]
pub struct WsParams {
    /// Bytes one socket read may fill (tungstenite `read_buffer_size`).
    pub read_buffer_bytes: usize,
    /// Capacity of the frame read buffer, allocated at connect.
    pub read_capacity_bytes: usize,
    /// Largest message accepted; larger is a protocol error (the connection is dropped).
    pub max_message_bytes: usize,
}

impl Default for WsParams {
    fn default() -> WsParams {
        WsParams {
            read_buffer_bytes: 4096,
            read_capacity_bytes: 256 << 10,
            max_message_bytes: 4 << 20,
        }
    }
}

/// TCP socket plus optional client TLS session; `Read`/`Write` return `WouldBlock` instead of
/// blocking. Stamps the raw clock whenever bytes arrive from the socket.
pub struct NetStream {
    sock: mio::net::TcpStream,
    tls: Option<Box<rustls::ClientConnection>>,
    /// Raw clock stamp ([`crate::clock::raw`]) of the last socket read that returned bytes.
    pub last_read_tsc: u64,
    /// Bytes read from the socket (ciphertext for TLS).
    pub bytes_in: u64,
}

impl NetStream {
    /// Start a non-blocking TCP connect to `addr` (with `TCP_NODELAY`) for `url`, with a client
    /// TLS session when the URL is secure (`tls` is then required).
    pub fn open(
        url: &Url,
        addr: SocketAddr,
        tls: Option<&Arc<rustls::ClientConfig>>,
    ) -> Result<NetStream, String> {
        let sock =
            mio::net::TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
        sock.set_nodelay(true)
            .map_err(|e| format!("TCP_NODELAY: {e}"))?;
        let tls = if url.secure {
            let cfg = tls.ok_or("a secure URL needs a TLS configuration")?;
            let name = pki_types::ServerName::try_from(url.host.clone())
                .map_err(|e| format!("TLS server name {:?}: {e}", url.host))?;
            Some(Box::new(
                rustls::ClientConnection::new(cfg.clone(), name)
                    .map_err(|e| format!("TLS: {e}"))?,
            ))
        } else {
            None
        };
        Ok(NetStream {
            sock,
            tls,
            last_read_tsc: 0,
            bytes_in: 0,
        })
    }

    /// `Ok(true)` once the TCP connect completed, `Ok(false)` while it is in progress.
    pub fn tcp_connected(&self) -> Result<bool, String> {
        if let Ok(Some(e)) | Err(e) = self.sock.take_error() {
            return Err(format!("connect: {e}"));
        }
        match self.sock.peer_addr() {
            Ok(_) => Ok(true),
            Err(e)
                if e.kind() == io::ErrorKind::NotConnected
                    || e.raw_os_error() == Some(libc::EINPROGRESS) =>
            {
                Ok(false)
            }
            Err(e) => Err(format!("connect: {e}")),
        }
    }

    /// Push buffered TLS records to the socket; `WouldBlock` means some are still pending.
    pub fn flush_tls(&mut self) -> io::Result<()> {
        if let Some(tls) = &mut self.tls {
            while tls.wants_write() {
                if tls.write_tls(&mut self.sock)? == 0 {
                    return Err(io::ErrorKind::WriteZero.into());
                }
            }
        }
        Ok(())
    }

    /// Shut the TCP connection down both ways (no close frame: used after errors).
    pub fn shutdown(&self) {
        let _ = self.sock.shutdown(std::net::Shutdown::Both);
    }
}

impl Read for NetStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(tls) = self.tls.as_deref_mut() else {
            let n = self.sock.read(buf)?;
            if n > 0 {
                self.last_read_tsc = crate::clock::raw();
                self.bytes_in += n as u64;
            }
            return Ok(n);
        };
        loop {
            match tls.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            let n = tls.read_tls(&mut self.sock)?; // WouldBlock ends the read here
            if n > 0 {
                self.last_read_tsc = crate::clock::raw();
                self.bytes_in += n as u64;
            }
            if let Err(e) = tls.process_new_packets() {
                let _ = tls.write_tls(&mut self.sock); // the alert, best effort
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
            if tls.wants_write() {
                match tls.write_tls(&mut self.sock) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
            // n == 0: TCP end of stream; the reader now reports clean close or UnexpectedEof
        }
    }
}

impl Write for NetStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.tls.as_deref_mut() {
            None => self.sock.write(buf),
            Some(tls) => {
                let n = tls.writer().write(buf)?;
                match self.flush_tls() {
                    Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
                    _ => Ok(n),
                }
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_tls()
    }
}

/// Where a connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// TCP connect in progress.
    Tcp,
    /// TLS handshake and HTTP upgrade in progress.
    Upgrade,
    /// WebSocket open.
    Open,
    /// Closed or failed.
    Closed,
}

/// Result of driving the opening handshake.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Still opening.
    Pending,
    /// Open: frames can be read and written.
    Open,
    /// Failed (the reason).
    Failed(String),
}

/// Why reading stopped for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsError {
    /// The peer completed a close handshake or closed cleanly (code if it sent one).
    Closed(Option<u16>),
    /// Protocol violation (bad frame, bad UTF-8, oversized message).
    Protocol(String),
    /// Socket or TLS error, or the peer vanished without a close frame.
    Io(String),
}

/// Check the server's answer to the upgrade request (RFC 6455 §4.1): `resp` is what was read
/// so far, `key` the `Sec-WebSocket-Key` sent. `Ok(None)`: the headers are not complete yet;
/// `Ok(Some(n))`: a `101` with the right `Sec-WebSocket-Accept`, whose headers are the first `n`
/// bytes (what follows is already frames); `Err`: a malformed answer, another status (with up to
/// 200 characters of its body) or a wrong accept key.
pub fn upgrade_response(resp: &[u8], key: &str) -> Result<Option<usize>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut r = httparse::Response::new(&mut headers);
    let hdr_len = match r.parse(resp) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(format!("upgrade response: {e}")),
    };
    if r.code != Some(101) {
        let body = String::from_utf8_lossy(&resp[hdr_len..]);
        return Err(format!(
            "upgrade refused: HTTP {} {}",
            r.code.unwrap_or(0),
            body.chars().take(200).collect::<String>()
        ));
    }
    let want = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let accept = r
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("sec-websocket-accept"))
        .map(|h| h.value);
    if accept != Some(want.as_bytes()) {
        return Err("upgrade: wrong Sec-WebSocket-Accept".into());
    }
    Ok(Some(hdr_len))
}

/// tungstenite's settings for a connection with `params`: socket reads of
/// `read_buffer_bytes`, no write buffering, messages and frames up to `max_message_bytes`.
pub fn frame_config(params: &WsParams) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(params.read_buffer_bytes)
        .write_buffer_size(0)
        .max_message_size(Some(params.max_message_bytes))
        .max_frame_size(Some(params.max_message_bytes))
}

/// One client connection.
pub struct WsConn {
    phase: Phase,
    stream: Option<NetStream>,
    ws: Option<WebSocket<NetStream>>,
    req: Vec<u8>,
    sent: usize,
    resp: Vec<u8>,
    key: String,
    params: WsParams,
    close_code: Option<u16>,
}

fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

impl WsConn {
    /// Start connecting to `addr` for `url` (non-blocking). `tls` is required for `wss`.
    pub fn connect(
        url: &Url,
        addr: SocketAddr,
        tls: Option<&Arc<rustls::ClientConfig>>,
        params: WsParams,
    ) -> Result<WsConn, String> {
        let stream = NetStream::open(url, addr, tls)?;
        let key = tungstenite::handshake::client::generate_key();
        let req = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nUser-Agent: arbot/{}\r\n\r\n",
            url.path,
            url.host_header(),
            env!("CARGO_PKG_VERSION")
        )
        .into_bytes();
        Ok(WsConn {
            phase: Phase::Tcp,
            stream: Some(stream),
            ws: None,
            req,
            sent: 0,
            resp: Vec::with_capacity(1024),
            key,
            params,
            close_code: None,
        })
    }

    /// Current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Drive the opening handshake as far as the socket allows.
    pub fn drive(&mut self) -> Step {
        match self.drive_inner() {
            Ok(true) => Step::Open,
            Ok(false) => Step::Pending,
            Err(e) => {
                self.phase = Phase::Closed;
                if let Some(s) = &self.stream {
                    s.shutdown();
                }
                Step::Failed(e)
            }
        }
    }

    fn drive_inner(&mut self) -> Result<bool, String> {
        if self.phase == Phase::Open {
            return Ok(true);
        }
        if self.phase == Phase::Closed {
            return Err("closed".into());
        }
        let s = self.stream.as_mut().ok_or("no stream")?;
        if self.phase == Phase::Tcp {
            if !s.tcp_connected()? {
                return Ok(false);
            }
            self.phase = Phase::Upgrade;
        }
        // upgrade request (through TLS if any; rustls runs its handshake underneath)
        while self.sent < self.req.len() {
            match s.write(&self.req[self.sent..]) {
                Ok(0) => return Err("connection closed while sending the upgrade".into()),
                Ok(n) => self.sent += n,
                Err(e) if would_block(&e) => break,
                Err(e) => return Err(format!("upgrade request: {e}")),
            }
        }
        match s.flush_tls() {
            Err(e) if !would_block(&e) => return Err(format!("TLS: {e}")),
            _ => {}
        }
        let mut buf = [0u8; 2048];
        loop {
            match s.read(&mut buf) {
                Ok(0) => return Err("connection closed during the upgrade".into()),
                Ok(n) => {
                    self.resp.extend_from_slice(&buf[..n]);
                    if self.resp.len() > 64 << 10 {
                        return Err("upgrade response too large".into());
                    }
                }
                Err(e) if would_block(&e) => break,
                Err(e) => return Err(format!("upgrade: {e}")),
            }
        }
        let Some(hdr_len) = upgrade_response(&self.resp, &self.key)? else {
            return Ok(false);
        };
        // the frame buffer, pre-sized: the Vec's capacity becomes tungstenite's read buffer
        let mut part = Vec::with_capacity(self.params.read_capacity_bytes);
        part.extend_from_slice(&self.resp[hdr_len..]);
        let cfg = frame_config(&self.params);
        let stream = self.stream.take().ok_or("no stream")?;
        self.ws = Some(WebSocket::from_partially_read(
            stream,
            part,
            Role::Client,
            Some(cfg),
        ));
        self.resp = Vec::new();
        self.req = Vec::new();
        self.phase = Phase::Open;
        Ok(true)
    }

    /// The stream (raw-clock stamp of the last socket read, byte count).
    pub fn stream(&self) -> Option<&NetStream> {
        match &self.ws {
            Some(ws) => Some(ws.get_ref()),
            None => self.stream.as_ref(),
        }
    }

    /// Read the next message if one is complete. `Ok(None)`: nothing more now. Pongs to the
    /// server's pings are queued by tungstenite and written on this and later calls.
    pub fn read(&mut self) -> Result<Option<Message>, WsError> {
        let Some(ws) = self.ws.as_mut() else {
            return Err(WsError::Io("not open".into()));
        };
        match ws.read() {
            Ok(Message::Close(cf)) => {
                self.close_code = cf.as_ref().map(|c| u16::from(c.code));
                // tungstenite queued the close reply; push it out
                let _ = ws.flush();
                Ok(Some(Message::Close(cf)))
            }
            Ok(m) => Ok(Some(m)),
            Err(tungstenite::Error::Io(e)) if would_block(&e) => Ok(None),
            Err(e) => Err(self.map_err(e)),
        }
    }

    fn map_err(&mut self, e: tungstenite::Error) -> WsError {
        use tungstenite::Error as E;
        let r = match e {
            E::ConnectionClosed | E::AlreadyClosed => WsError::Closed(self.close_code),
            E::Protocol(tungstenite::error::ProtocolError::ResetWithoutClosingHandshake) => {
                WsError::Io("connection lost without a close frame".into())
            }
            E::Protocol(p) => WsError::Protocol(p.to_string()),
            E::Capacity(c) => WsError::Protocol(c.to_string()),
            E::Utf8(s) => WsError::Protocol(format!("invalid UTF-8: {s}")),
            other => WsError::Io(other.to_string()),
        };
        self.phase = Phase::Closed;
        r
    }

    /// Queue and try to send a text frame (subscriptions, application pings).
    pub fn send_text(&mut self, text: &str) -> Result<(), WsError> {
        self.send(Message::text(text))
    }

    /// Queue and try to send a ping frame.
    pub fn send_ping(&mut self, payload: &[u8]) -> Result<(), WsError> {
        self.send(Message::Ping(payload.to_vec().into()))
    }

    /// Queue and try to send an unsolicited pong (allowed by RFC 6455 and by Binance).
    pub fn send_pong(&mut self, payload: &[u8]) -> Result<(), WsError> {
        self.send(Message::Pong(payload.to_vec().into()))
    }

    fn send(&mut self, m: Message) -> Result<(), WsError> {
        let Some(ws) = self.ws.as_mut() else {
            return Err(WsError::Io("not open".into()));
        };
        match ws.send(m) {
            Ok(()) => Ok(()),
            Err(tungstenite::Error::Io(e)) if would_block(&e) => Ok(()), // queued; flushed later
            Err(e) => Err(self.map_err(e)),
        }
    }

    /// Push queued frames (pongs, close replies) and TLS records out, as far as possible.
    pub fn flush(&mut self) -> Result<(), WsError> {
        let Some(ws) = self.ws.as_mut() else {
            return Ok(());
        };
        match ws.flush() {
            Ok(()) => Ok(()),
            Err(tungstenite::Error::Io(e)) if would_block(&e) => Ok(()),
            Err(e) => Err(self.map_err(e)),
        }
    }

    /// Close cleanly: send a close frame (normal closure) and flush what the socket takes now.
    /// The TCP connection is shut when the value is dropped.
    pub fn close(&mut self, reason: &str) {
        if let Some(ws) = self.ws.as_mut() {
            let _ = ws.close(Some(CloseFrame {
                code: tungstenite::protocol::frame::coding::CloseCode::Normal,
                reason: reason.to_string().into(),
            }));
            let _ = ws.flush();
            // give the close frame a moment to leave (bounded, cold path)
            for _ in 0..100 {
                match ws.get_mut().flush_tls() {
                    Err(e) if would_block(&e) => {
                        std::thread::sleep(std::time::Duration::from_micros(100))
                    }
                    _ => break,
                }
            }
        }
        self.phase = Phase::Closed;
    }
}

impl Drop for WsConn {
    fn drop(&mut self) {
        if let Some(s) = self.stream() {
            s.shutdown();
        }
    }
}
