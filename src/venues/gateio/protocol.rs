//! Gate.io spot WebSocket v4 connection protocol ([`VenueProtocol`]), `exchanges.md` §10.1/10.3:
//! - URL `wss://api.gateio.ws/ws/v4/`;
//! - requests `{"time":<unix s>,"channel":…,"event":"subscribe","payload":[…]}` (`time` must be
//!   within 60 s of the server's, so frames are built when asked for):
//!   `spot.order_book_update` one request per pair with `[pair, "100ms"]`, `spot.book_ticker`
//!   and `spot.trades` with all pairs;
//! - keep-alive: the server uses protocol-level ping/pong; the client also sends WebSocket ping
//!   frames every 10 s. The application ping `{"time":…,"channel":"spot.ping"}` carries a current
//!   `time`, which a fixed [`AppPing::Text`] cannot; its `spot.pong` answer is recognised if a
//!   source sends it;
//! - snapshots `GET https://api.gateio.ws/api/v4/spot/order_book?currency_pair=…&limit=100&with_id=true`.
#![forbid(unsafe_code)]

use crate::feed::protocol::{AppPing, VenueProtocol};
use crate::types::InstrumentId;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Public spot WebSocket URL.
pub const URL: &str = "wss://api.gateio.ws/ws/v4/";
/// REST base.
pub const REST: &str = "https://api.gateio.ws/api/v4";

/// Gate.io spot protocol for a set of pairs.
#[derive(Clone, Debug)]
pub struct GateProtocol {
    /// (engine id, pair `BTC_USDT`).
    pub pairs: Vec<(InstrumentId, String)>,
    /// Depth levels of the REST snapshot (the 100 ms update stream covers depth 100).
    pub snapshot_limit: u32,
}

impl GateProtocol {
    /// For `pairs`.
    pub fn new(pairs: Vec<(InstrumentId, String)>) -> GateProtocol {
        GateProtocol {
            pairs,
            snapshot_limit: 100,
        }
    }

    /// Subscription frames stamped with `now_s` (unix seconds).
    pub fn frames_at(&self, now_s: u64) -> Vec<String> {
        let req = |channel: &str, payload: serde_json::Value| {
            serde_json::json!({"time": now_s, "channel": channel, "event": "subscribe", "payload": payload}).to_string()
        };
        let all: Vec<&str> = self.pairs.iter().map(|(_, p)| p.as_str()).collect();
        let mut out: Vec<String> = self
            .pairs
            .iter()
            .map(|(_, p)| req("spot.order_book_update", serde_json::json!([p, "100ms"])))
            .collect();
        out.push(req("spot.book_ticker", serde_json::json!(all)));
        out.push(req("spot.trades", serde_json::json!(all)));
        out
    }
}

impl VenueProtocol for GateProtocol {
    fn ws_urls(&self) -> Vec<String> {
        vec![URL.into()]
    }
    fn subscribe_frames(&self, conn: usize) -> Vec<String> {
        if conn != 0 {
            return vec![];
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.frames_at(now)
    }
    fn app_ping(&self) -> AppPing {
        AppPing::Frame {
            every: Duration::from_secs(10),
        }
    }
    fn is_keepalive(&self, frame: &[u8]) -> bool {
        frame.len() < 160 && frame.windows(21).any(|w| w == br#""channel":"spot.pong""#)
    }
    fn snapshot_url(&self, instrument: InstrumentId) -> Option<String> {
        self.pairs
            .iter()
            .find(|(i, _)| *i == instrument)
            .map(|(_, p)| {
                format!(
                    "{REST}/spot/order_book?currency_pair={p}&limit={}&with_id=true",
                    self.snapshot_limit
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_urls_keepalive() {
        let p = GateProtocol::new(vec![
            (InstrumentId(1), "BTC_USDT".into()),
            (InstrumentId(2), "ETH_USDT".into()),
        ]);
        let f = p.frames_at(1619093532);
        assert_eq!(f.len(), 4);
        let v: serde_json::Value = serde_json::from_str(&f[0]).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"time":1619093532,"channel":"spot.order_book_update","event":"subscribe","payload":["BTC_USDT","100ms"]})
        );
        let v: serde_json::Value = serde_json::from_str(&f[3]).unwrap();
        assert_eq!(v["payload"], serde_json::json!(["BTC_USDT", "ETH_USDT"]));
        assert_eq!(
            p.snapshot_url(InstrumentId(2)).unwrap(),
            "https://api.gateio.ws/api/v4/spot/order_book?currency_pair=ETH_USDT&limit=100&with_id=true"
        );
        assert_eq!(p.subscribe_frames(0).len(), 4);
        assert!(p.is_keepalive(
            br#"{"time":1545404023,"channel":"spot.pong","event":"","error":null,"result":null}"#
        ));
        assert!(!p.is_keepalive(br#"{"time":1,"channel":"spot.trades","event":"subscribe"}"#));
    }
}
