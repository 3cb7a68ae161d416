//! WebSocket side: one served connection ([`Conn`]): client control messages (`SUBSCRIBE`,
//! `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`), pings and pongs, writes that wait out a full socket,
//! raw bytes for the malformed-frame fault.

use super::http::SrvStream;
use super::MarketKind;
use std::collections::HashSet;
use std::io::{self, Write};
use std::time::{Duration, Instant};
use tungstenite::protocol::WebSocket;
use tungstenite::Message;

pub(super) struct NewConn {
    pub(super) ws: WebSocket<SrvStream>,
    pub(super) market: Option<MarketKind>,
    pub(super) streams: HashSet<String>,
}

pub(super) struct Conn {
    pub(super) ws: WebSocket<SrvStream>,
    pub(super) market: Option<MarketKind>,
    pub(super) streams: HashSet<String>,
    pub(super) alive: bool,
    pub(super) next_ping: Instant,
    pub(super) got_pong: Option<u64>,
}

impl Conn {
    /// Read what the client sent: pongs, SUBSCRIBE messages, close.
    pub(super) fn service(&mut self, ping_every: Duration) {
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
    pub(super) fn send(&mut self, m: Message) -> Result<(), ()> {
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

    pub(super) fn raw(&mut self, bytes: &[u8]) {
        let _ = self.ws.flush();
        let s = self.ws.get_mut();
        let _ = s.write_all(bytes);
        let _ = s.flush();
    }
}
