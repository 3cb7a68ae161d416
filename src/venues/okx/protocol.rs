//! OKX v5 public WebSocket connection protocol (live/paper): where to connect, what to
//! subscribe, and the keep-alive.
//!
//! - URL `wss://ws.okx.com:8443/ws/v5/public`
//!   (<https://www.okx.com/docs-v5/en/#overview-production-trading-services>).
//! - Subscribe: `{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"},...]}`;
//!   the default channels are `books` (400-level snapshot + 100 ms updates, with
//!   `seqId`/`prevSeqId`), `bbo-tbt` (best bid/offer tick by tick, overlaid on the book top
//!   like Binance's bookTicker) and `trades`. `books-l2-tbt` (10 ms) needs VIP 4+.
//! - Keep-alive (<https://www.okx.com/docs-v5/en/#overview-websocket-connect>): OKX closes a
//!   connection after 30 s without data; the client sends the text frame `ping` when it has
//!   received nothing for N < 30 s and expects `pong` within N s (here every 20 s). `pong` is
//!   liveness for the silence watchdog and is never parsed as market data.
//! - After a sequence gap the book needs a fresh snapshot: unsubscribe + subscribe the book
//!   channel of that instrument ([`OkxProtocol::resubscribe_frames`]).
#![forbid(unsafe_code)]

use crate::feed::protocol::{AppPing, VenueProtocol};
use serde_json::json;
use std::time::Duration;

/// Public WebSocket URL.
pub const WS_URL: &str = "wss://ws.okx.com:8443/ws/v5/public";

/// Connection settings of one OKX venue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OkxProtocol {
    /// Instrument ids (`BTC-USDT`, `BTC-USDT-SWAP`).
    pub inst_ids: Vec<String>,
    /// Book channel: `books` (default), `books-l2-tbt`, `books50-l2-tbt`.
    pub book_channel: String,
    /// Also subscribe `bbo-tbt`.
    pub bbo: bool,
    /// Also subscribe `trades`.
    pub trades: bool,
    /// Text `ping` interval (< 30 s).
    pub ping_every: Duration,
}

impl OkxProtocol {
    /// Defaults: `books` + `bbo-tbt` + `trades`, ping every 20 s.
    pub fn new(inst_ids: Vec<String>) -> OkxProtocol {
        OkxProtocol {
            inst_ids,
            book_channel: "books".into(),
            bbo: true,
            trades: true,
            ping_every: Duration::from_secs(20),
        }
    }

    fn args(&self, ids: &[&str], book_only: bool) -> Vec<serde_json::Value> {
        let mut args = Vec::new();
        for id in ids {
            args.push(json!({"channel": self.book_channel, "instId": id}));
            if !book_only {
                if self.bbo {
                    args.push(json!({"channel": "bbo-tbt", "instId": id}));
                }
                if self.trades {
                    args.push(json!({"channel": "trades", "instId": id}));
                }
            }
        }
        args
    }

    /// Frames that bring a fresh book snapshot for `inst_id` (after a gap).
    pub fn resubscribe_frames(&self, inst_id: &str) -> Vec<String> {
        let args = self.args(&[inst_id], true);
        vec![
            json!({"op": "unsubscribe", "args": args}).to_string(),
            json!({"op": "subscribe", "args": args}).to_string(),
        ]
    }
}

impl VenueProtocol for OkxProtocol {
    fn ws_urls(&self) -> Vec<String> {
        vec![WS_URL.to_string()]
    }

    fn subscribe_frames(&self, _conn: usize) -> Vec<String> {
        let ids: Vec<&str> = self.inst_ids.iter().map(String::as_str).collect();
        // OKX recommends < 30 channels per connection for deep books; one frame per 10 ids
        ids.chunks(10)
            .map(|c| json!({"op": "subscribe", "args": self.args(c, false)}).to_string())
            .collect()
    }

    fn app_ping(&self) -> AppPing {
        AppPing::Text {
            every: self.ping_every,
            text: "ping".into(),
        }
    }

    fn is_keepalive(&self, frame: &[u8]) -> bool {
        frame == b"pong"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribe_frames_and_keepalive() {
        let p = OkxProtocol::new(vec!["BTC-USDT".into(), "BTC-USDT-SWAP".into()]);
        assert_eq!(p.ws_urls(), vec![WS_URL.to_string()]);
        let f = p.subscribe_frames(0);
        assert_eq!(f.len(), 1);
        let v: serde_json::Value = serde_json::from_str(&f[0]).unwrap();
        assert_eq!(v["op"], "subscribe");
        assert_eq!(v["args"].as_array().unwrap().len(), 6);
        assert_eq!(v["args"][0]["channel"], "books");
        assert_eq!(v["args"][1]["channel"], "bbo-tbt");
        assert_eq!(v["args"][5]["instId"], "BTC-USDT-SWAP");
        match p.app_ping() {
            AppPing::Text { every, text } => {
                assert!(every < Duration::from_secs(30));
                assert_eq!(text, "ping");
            }
            other => panic!("{other:?}"),
        }
        assert!(p.is_keepalive(b"pong"));
        assert!(!p.is_keepalive(b"{\"event\":\"subscribe\"}"));
        let r = p.resubscribe_frames("BTC-USDT");
        assert!(r[0].contains("unsubscribe") && r[1].contains("\"subscribe\""));
        assert!(!r[1].contains("bbo-tbt"));
    }
}
