//! Kraken spot WebSocket connection protocol (live/paper), v2 by default, v1 on request.
//!
//! - URLs: v2 `wss://ws.kraken.com/v2`, v1 `wss://ws.kraken.com`
//!   (<https://docs.kraken.com/api/docs/guides/spot-ws-intro>).
//! - Subscribe: v2 `{"method":"subscribe","params":{"channel":"book","symbol":[...],"depth":N,"snapshot":true}}`
//!   and `trade`; v1 `{"event":"subscribe","pair":[...],"subscription":{"name":"book","depth":N}}`.
//!   Depth ∈ {10, 25, 100, 500, 1000}.
//! - Keep-alive: the server sends a heartbeat (~1 s) when a connection is otherwise idle and
//!   closes connections idle for about a minute; the client sends an application ping every
//!   30 s (v2 `{"method":"ping"}`, v1 `{"event":"ping"}`). Heartbeats and pongs are liveness
//!   for the silence watchdog, never parsed as market data.
//! - After a checksum mismatch: unsubscribe/subscribe the book ([`KrakenProtocol::resubscribe_frames`]).
#![forbid(unsafe_code)]

use crate::feed::protocol::{AppPing, VenueProtocol};
use serde_json::json;
use std::time::Duration;

/// v2 public URL.
pub const WS_URL_V2: &str = "wss://ws.kraken.com/v2";
/// v1 public URL.
pub const WS_URL_V1: &str = "wss://ws.kraken.com";

/// Depths Kraken accepts.
pub const DEPTHS: [u32; 5] = [10, 25, 100, 500, 1000];

/// Connection settings of one Kraken venue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KrakenProtocol {
    /// Pairs in the protocol's spelling (v2 `BTC/USD`, v1 `XBT/USD`).
    pub pairs: Vec<String>,
    /// v2 (default) or v1.
    pub v2: bool,
    /// Book depth.
    pub depth: u32,
    /// Also subscribe trades.
    pub trades: bool,
    /// Application ping interval.
    pub ping_every: Duration,
}

impl KrakenProtocol {
    /// Defaults: trades on, ping every 30 s.
    pub fn new(pairs: Vec<String>, v2: bool, depth: u32) -> KrakenProtocol {
        KrakenProtocol {
            pairs,
            v2,
            depth,
            trades: true,
            ping_every: Duration::from_secs(30),
        }
    }

    fn book(&self, op: &str, pairs: &[String]) -> String {
        if self.v2 {
            let mut params = json!({"channel": "book", "symbol": pairs, "depth": self.depth});
            if op == "subscribe" {
                params["snapshot"] = json!(true);
            }
            json!({"method": op, "params": params}).to_string()
        } else {
            json!({"event": op, "pair": pairs,
                   "subscription": {"name": "book", "depth": self.depth}})
            .to_string()
        }
    }

    /// Frames that bring a fresh snapshot of `pair`'s book.
    pub fn resubscribe_frames(&self, pair: &str) -> Vec<String> {
        let p = vec![pair.to_string()];
        vec![self.book("unsubscribe", &p), self.book("subscribe", &p)]
    }
}

impl VenueProtocol for KrakenProtocol {
    fn ws_urls(&self) -> Vec<String> {
        vec![if self.v2 { WS_URL_V2 } else { WS_URL_V1 }.to_string()]
    }

    fn subscribe_frames(&self, _conn: usize) -> Vec<String> {
        let mut f = vec![self.book("subscribe", &self.pairs)];
        if self.trades {
            f.push(if self.v2 {
                json!({"method": "subscribe",
                       "params": {"channel": "trade", "symbol": self.pairs, "snapshot": false}})
                .to_string()
            } else {
                json!({"event": "subscribe", "pair": self.pairs,
                       "subscription": {"name": "trade"}})
                .to_string()
            });
        }
        f
    }

    fn app_ping(&self) -> AppPing {
        AppPing::Text {
            every: self.ping_every,
            text: if self.v2 {
                r#"{"method":"ping"}"#
            } else {
                r#"{"event":"ping"}"#
            }
            .into(),
        }
    }

    fn is_keepalive(&self, frame: &[u8]) -> bool {
        frame.len() < 160
            && [
                &br#"{"channel":"heartbeat""#[..],
                br#"{"event":"heartbeat""#,
                br#"{"method":"pong""#,
                br#"{"event":"pong""#,
            ]
            .iter()
            .any(|p| frame.starts_with(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_keepalive() {
        let p = KrakenProtocol::new(vec!["BTC/USD".into(), "ETH/USD".into()], true, 100);
        assert_eq!(p.ws_urls(), vec![WS_URL_V2.to_string()]);
        let f = p.subscribe_frames(0);
        let v: serde_json::Value = serde_json::from_str(&f[0]).unwrap();
        assert_eq!(v["params"]["channel"], "book");
        assert_eq!(v["params"]["depth"], 100);
        assert_eq!(v["params"]["symbol"][1], "ETH/USD");
        assert!(f[1].contains("\"trade\""));
        assert!(p.is_keepalive(br#"{"channel":"heartbeat"}"#));
        assert!(p.is_keepalive(
            br#"{"method":"pong","req_id":101,"time_in":"2023-09-24T14:10:23.799685Z","time_out":"2023-09-24T14:10:23.799703Z"}"#
        ));
        assert!(!p.is_keepalive(br#"{"channel":"book","type":"update","data":[]}"#));
        let v1 = KrakenProtocol::new(vec!["XBT/USD".into()], false, 1000);
        assert_eq!(v1.ws_urls(), vec![WS_URL_V1.to_string()]);
        assert!(
            v1.subscribe_frames(0)[0].contains(r#""subscription":{"depth":1000,"name":"book"}"#)
        );
        assert!(v1.is_keepalive(br#"{"event":"heartbeat"}"#));
        match v1.app_ping() {
            AppPing::Text { text, .. } => assert_eq!(text, r#"{"event":"ping"}"#),
            o => panic!("{o:?}"),
        }
        let r = p.resubscribe_frames("BTC/USD");
        assert!(r[0].contains("unsubscribe") && !r[0].contains("snapshot"));
        assert!(r[1].contains("\"snapshot\":true"));
    }
}
