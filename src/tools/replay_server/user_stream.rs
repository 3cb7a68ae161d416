//! The user-data stream: `ws://ADDR/<market>/ws/<listenKey>` after a listenKey from
//! `POST /api/v3/userDataStream` (spot) or `POST /fapi/v1/listenKey` / `/dapi/v1/listenKey`
//! (futures). Each connection gets its account's events as the exchange produces them (spot
//! `executionReport`, `outboundAccountPosition`; futures `ORDER_TRADE_UPDATE`,
//! `ACCOUNT_UPDATE`), raw (not in a combined-stream envelope), in order. Pings like the
//! market streams; a deleted key closes its streams (close frame 1000); an expired key sends
//! `listenKeyExpired` and nothing more.
//!
//! Sources: <https://developers.binance.com/docs/derivatives/usds-margined-futures/user-data-streams>,
//! binance-spot-api-docs `user-data-stream.md` before 2025-12 (listenKey streams,
//! `listenKeyExpired`), since removed from the spot docs (the REST listenKey endpoints are
//! announced to stop on 2026-02-20; the loopback keeps them).

use super::exchange::{Exchange, UserMsg};
use super::http::SrvStream;
use super::ws::Conn;
use super::MarketKind;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, WebSocket};
use tungstenite::Message;

/// Serve one user-data-stream connection until the client leaves, the key is deleted, or the
/// server stops.
pub(super) fn serve(
    ws: WebSocket<SrvStream>,
    rx: Receiver<UserMsg>,
    ex: &Exchange,
    m: MarketKind,
    key: String,
    stop: &AtomicBool,
) {
    let ping_every = ex.user_ping.unwrap_or_else(|| m.ping_every());
    let mut c = Conn {
        ws,
        market: Some(m),
        streams: HashSet::new(),
        alive: true,
        next_ping: Instant::now() + ping_every,
        got_pong: None,
    };
    let mut expired = false;
    let mut checked = Instant::now();
    let close = |c: &mut Conn, reason: &str| {
        let _ = c.ws.close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: reason.to_string().into(),
        }));
        let _ = c.ws.flush();
    };
    while c.alive {
        if stop.load(Ordering::Relaxed) {
            close(&mut c, "end of recording");
            break;
        }
        match rx.recv_timeout(Duration::from_millis(10)) {
            Ok(Some(ev)) => {
                if !expired && c.send(Message::text(ev)).is_err() {
                    break;
                }
                continue; // drain what is queued before anything else
            }
            Ok(None) => {
                close(&mut c, "listenKey closed");
                break;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        c.service(ping_every);
        if !expired && checked.elapsed() > Duration::from_millis(100) {
            checked = Instant::now();
            if !ex.listen_key_alive(m, &key) {
                // a DELETE also makes the key dead: its close message wins
                if let Ok(None) = rx.try_recv() {
                    close(&mut c, "listenKey closed");
                    break;
                }
                let now = ex.now_ms();
                let ev = if m == MarketKind::Spot {
                    serde_json::json!({"e": "listenKeyExpired", "E": now, "listenKey": key})
                } else {
                    serde_json::json!({"e": "listenKeyExpired", "E": now.to_string(), "listenKey": key})
                };
                if c.send(Message::text(ev.to_string())).is_err() {
                    break;
                }
                expired = true;
            }
        }
    }
    // let the close handshake finish
    let t = Instant::now();
    while c.alive && t.elapsed() < Duration::from_millis(500) {
        c.service(Duration::from_secs(3600));
        std::thread::sleep(Duration::from_millis(5));
    }
}
