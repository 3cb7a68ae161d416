//! Coinbase WebSocket connection protocol (live/paper). Advanced Trade is the default; the
//! Exchange feed is kept for the recordings and for accounts that use it.
//!
//! Advanced Trade (<https://docs.cdp.coinbase.com/coinbase-app/advanced-trade-apis/websocket/websocket-overview>):
//! - URL `wss://advanced-trade-ws.coinbase.com`; a subscribe must come within 5 s; one channel
//!   per subscribe message: `{"type":"subscribe","product_ids":[...],"channel":"level2"}`,
//!   then `market_trades` and `heartbeats`.
//! - Keep-alive: channels close after 60–90 s without updates, so the client subscribes the
//!   `heartbeats` channel (one message per second). Heartbeats carry the connection's
//!   `sequence_num`, so they go to the handler (continuity check) rather than being filtered
//!   as keep-alives; every received frame counts as liveness for the silence watchdog.
//!
//! Exchange feed (<https://docs.cdp.coinbase.com/exchange/websocket-feed/overview>):
//! - URL `wss://ws-feed.exchange.coinbase.com`; `{"type":"subscribe","product_ids":[...],
//!   "channels":["level2_batch","matches","heartbeat"]}` (`level2_batch` = the level2 data in
//!   50 ms batches, which needs no authentication; plain `level2` may).
//! - Keep-alive: the `heartbeat` channel (one per second per product); those frames are
//!   liveness only.
#![forbid(unsafe_code)]

use crate::feed::protocol::{AppPing, VenueProtocol};
use serde_json::json;

/// Advanced Trade market-data URL.
pub const WS_URL_ADVANCED: &str = "wss://advanced-trade-ws.coinbase.com";
/// Exchange feed URL.
pub const WS_URL_EXCHANGE: &str = "wss://ws-feed.exchange.coinbase.com";

/// Connection settings of one Coinbase venue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoinbaseProtocol {
    /// Product ids (`BTC-USD`).
    pub products: Vec<String>,
    /// Advanced Trade (default) or the Exchange feed.
    pub advanced: bool,
    /// Also subscribe trades.
    pub trades: bool,
}

impl CoinbaseProtocol {
    /// Trades on.
    pub fn new(products: Vec<String>, advanced: bool) -> CoinbaseProtocol {
        CoinbaseProtocol {
            products,
            advanced,
            trades: true,
        }
    }

    /// Frames that bring a fresh level2 snapshot of every product (after a sequence gap).
    pub fn resubscribe_frames(&self) -> Vec<String> {
        if self.advanced {
            let m = |t: &str| {
                json!({"type": t, "product_ids": self.products, "channel": "level2"}).to_string()
            };
            vec![m("unsubscribe"), m("subscribe")]
        } else {
            let m = |t: &str| {
                json!({"type": t, "product_ids": self.products, "channels": ["level2_batch"]})
                    .to_string()
            };
            vec![m("unsubscribe"), m("subscribe")]
        }
    }
}

impl VenueProtocol for CoinbaseProtocol {
    fn ws_urls(&self) -> Vec<String> {
        vec![if self.advanced {
            WS_URL_ADVANCED
        } else {
            WS_URL_EXCHANGE
        }
        .to_string()]
    }

    fn subscribe_frames(&self, _conn: usize) -> Vec<String> {
        if self.advanced {
            let mut ch = vec!["level2", "heartbeats"];
            if self.trades {
                ch.insert(1, "market_trades");
            }
            ch.into_iter()
                .map(|c| {
                    json!({"type": "subscribe", "product_ids": self.products, "channel": c})
                        .to_string()
                })
                .collect()
        } else {
            let mut ch = vec!["level2_batch", "heartbeat"];
            if self.trades {
                ch.insert(1, "matches");
            }
            vec![
                json!({"type": "subscribe", "product_ids": self.products, "channels": ch})
                    .to_string(),
            ]
        }
    }

    fn app_ping(&self) -> AppPing {
        AppPing::None
    }

    fn is_keepalive(&self, frame: &[u8]) -> bool {
        !self.advanced && frame.starts_with(br#"{"type":"heartbeat""#)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_keepalive() {
        let p = CoinbaseProtocol::new(vec!["BTC-USD".into()], true);
        assert_eq!(p.ws_urls()[0], WS_URL_ADVANCED);
        let f = p.subscribe_frames(0);
        assert_eq!(f.len(), 3);
        let chans: Vec<String> = f
            .iter()
            .map(|x| serde_json::from_str::<serde_json::Value>(x).unwrap()["channel"].to_string())
            .collect();
        assert_eq!(chans, ["\"level2\"", "\"market_trades\"", "\"heartbeats\""]);
        assert!(
            !p.is_keepalive(br#"{"channel":"heartbeats","sequence_num":4,"events":[]}"#),
            "AT heartbeats carry sequence_num: the handler must see them"
        );
        let x = CoinbaseProtocol::new(vec!["ETH-USD".into()], false);
        assert_eq!(x.ws_urls()[0], WS_URL_EXCHANGE);
        assert!(x.subscribe_frames(0)[0].contains("level2_batch"));
        assert!(x.is_keepalive(br#"{"type":"heartbeat","last_trade_id":1,"product_id":"ETH-USD","sequence":2,"time":"2021-04-17T16:43:37Z"}"#));
        assert_eq!(x.app_ping(), AppPing::None);
        assert!(p.resubscribe_frames()[0].contains("unsubscribe"));
    }
}
