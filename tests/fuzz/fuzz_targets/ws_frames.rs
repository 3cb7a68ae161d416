//! The WebSocket read path of a feed connection after the TCP/TLS connect: the upgrade answer
//! check ([`arbot::net::ws::upgrade_response`]) and tungstenite's client framing with the
//! connection's own settings ([`arbot::net::ws::frame_config`]), fed by a socket that hands over
//! the server's bytes a few at a time.
//!
//! Input: byte 0 = bits 0–5: bytes per socket read − 1 (1–64; partial headers and frames);
//! bit 6: a 64 KiB message limit instead of 4 MiB; bit 7: the rest is the whole server answer
//! (upgrade headers included) instead of frames after a valid `101` for the fixed key.
//! Nothing may panic; every message is read until the stream is exhausted, closed, or
//! refused.
#![no_main]

use arbot::net::ws::{frame_config, upgrade_response, WsParams};
use libfuzzer_sys::fuzz_target;
use std::io::{self, Read, Write};
use tungstenite::protocol::{Role, WebSocket};

/// RFC 6455 §1.3's sample key (its accept value is `s3pPLMBiTxaQ9kYGzzhZRbK+xOo=`).
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// A non-blocking socket over fixed bytes: at most `chunk` bytes per read, then `WouldBlock`
/// once they are gone (as a quiet live socket); writes (pongs, close replies) are accepted.
struct Chunks<'a> {
    data: &'a [u8],
    chunk: usize,
}

impl Read for Chunks<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.data.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = self.chunk.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

impl Write for Chunks<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let chunk = (sel & 0x3f) as usize + 1;
    let resp: Vec<u8> = if sel & 0x80 != 0 {
        rest.to_vec()
    } else {
        let mut r = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n".to_vec();
        r.extend_from_slice(rest);
        r
    };
    // the upgrade answer, checked after every read as the connection does, `chunk` bytes a time
    let mut got = 0;
    let hdr = loop {
        if got >= resp.len() {
            return;
        }
        got = (got + chunk).min(resp.len());
        match upgrade_response(&resp[..got], KEY) {
            Ok(Some(n)) => break n,
            Ok(None) => continue,
            Err(_) => return,
        }
    };
    let params = WsParams {
        read_buffer_bytes: 4096,
        read_capacity_bytes: 4096,
        max_message_bytes: if sel & 0x40 != 0 { 64 << 10 } else { 4 << 20 },
    };
    let part = resp[hdr..got].to_vec();
    let stream = Chunks {
        data: &resp[got..],
        chunk,
    };
    let mut ws = WebSocket::from_partially_read(stream, part, Role::Client, Some(frame_config(&params)));
    for _ in 0..100_000 {
        if ws.read().is_err() {
            break;
        }
    }
});
