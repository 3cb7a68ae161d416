//! Bybit v5 public WebSocket connection protocol (live/paper).
//!
//! - URLs `wss://stream.bybit.com/v5/public/{spot|linear|inverse}`
//!   (<https://bybit-exchange.github.io/docs/v5/ws/connect>).
//! - Subscribe `{"req_id":"sub-0","op":"subscribe","args":["orderbook.50.BTCUSDT","publicTrade.BTCUSDT"]}`;
//!   spot accepts at most 10 args per request, so frames carry 10 topics each.
//!   Depths: spot 1/50/200/1000, linear and inverse 1/50/200/500/1000.
//! - Keep-alive: the client sends `{"req_id":"ping","op":"ping"}` every 20 s (the docs'
//!   recommendation); the reply (`{"success":true,"ret_msg":"pong",...,"op":"ping"}` on
//!   spot/linear/inverse, `{"op":"pong",...}` elsewhere) is liveness, never market data.
//! - After a gap (`u` skipped): unsubscribe + subscribe the book topic for a new snapshot.
//!
//! The v2 endpoints of the 2021 recordings (`/realtime`, `/realtime_public`) are retired;
//! their format is read for replay only ([`super::wire::v2`]).
#![forbid(unsafe_code)]

use crate::feed::protocol::{AppPing, VenueProtocol};
use serde_json::json;
use std::time::Duration;

/// Bybit v5 market category.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    /// Spot.
    Spot,
    /// USDT/USDC perpetuals and USDT futures.
    Linear,
    /// Inverse perpetuals and futures.
    Inverse,
}

impl Category {
    /// From the venue config's `market`.
    pub fn parse(s: &str) -> Option<Category> {
        match s {
            "spot" => Some(Category::Spot),
            "linear" => Some(Category::Linear),
            "inverse" => Some(Category::Inverse),
            _ => None,
        }
    }
    /// URL path segment.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Spot => "spot",
            Category::Linear => "linear",
            Category::Inverse => "inverse",
        }
    }
    /// Book depths this category offers.
    pub fn depths(self) -> &'static [u32] {
        match self {
            Category::Spot => &[1, 50, 200, 1000],
            Category::Linear | Category::Inverse => &[1, 50, 200, 500, 1000],
        }
    }
}

/// Connection settings of one Bybit venue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BybitProtocol {
    /// Symbols (`BTCUSDT`).
    pub symbols: Vec<String>,
    /// Category.
    pub category: Category,
    /// Book depth.
    pub depth: u32,
    /// Also subscribe trades.
    pub trades: bool,
    /// Ping interval.
    pub ping_every: Duration,
}

impl BybitProtocol {
    /// Trades on, ping every 20 s.
    pub fn new(symbols: Vec<String>, category: Category, depth: u32) -> BybitProtocol {
        BybitProtocol {
            symbols,
            category,
            depth,
            trades: true,
            ping_every: Duration::from_secs(20),
        }
    }

    /// Frames that bring a fresh snapshot of `symbol`'s book.
    pub fn resubscribe_frames(&self, symbol: &str) -> Vec<String> {
        let t = format!("orderbook.{}.{symbol}", self.depth);
        vec![
            json!({"op": "unsubscribe", "args": [t]}).to_string(),
            json!({"op": "subscribe", "args": [t]}).to_string(),
        ]
    }
}

impl VenueProtocol for BybitProtocol {
    fn ws_urls(&self) -> Vec<String> {
        vec![format!(
            "wss://stream.bybit.com/v5/public/{}",
            self.category.as_str()
        )]
    }

    fn subscribe_frames(&self, _conn: usize) -> Vec<String> {
        let mut topics = Vec::new();
        for s in &self.symbols {
            topics.push(format!("orderbook.{}.{s}", self.depth));
            if self.trades {
                topics.push(format!("publicTrade.{s}"));
            }
        }
        topics
            .chunks(10)
            .enumerate()
            .map(|(i, c)| {
                json!({"req_id": format!("sub-{i}"), "op": "subscribe", "args": c}).to_string()
            })
            .collect()
    }

    fn app_ping(&self) -> AppPing {
        AppPing::Text {
            every: self.ping_every,
            text: r#"{"req_id":"ping","op":"ping"}"#.into(),
        }
    }

    fn is_keepalive(&self, frame: &[u8]) -> bool {
        if frame.len() > 256 {
            return false;
        }
        let has = |p: &[u8]| frame.windows(p.len()).any(|w| w == p);
        frame.starts_with(br#"{"op":"pong""#) || has(br#""ret_msg":"pong""#)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_keepalive() {
        let syms: Vec<String> = (0..6).map(|i| format!("S{i}USDT")).collect();
        let p = BybitProtocol::new(syms, Category::Spot, 50);
        assert_eq!(p.ws_urls(), vec!["wss://stream.bybit.com/v5/public/spot"]);
        let f = p.subscribe_frames(0);
        assert_eq!(f.len(), 2, "12 topics, 10 per frame");
        let v: serde_json::Value = serde_json::from_str(&f[0]).unwrap();
        assert_eq!(v["args"].as_array().unwrap().len(), 10);
        assert_eq!(v["args"][0], "orderbook.50.S0USDT");
        assert_eq!(v["args"][1], "publicTrade.S0USDT");
        assert!(p.is_keepalive(
            br#"{"success":true,"ret_msg":"pong","conn_id":"0970e817-426e-429a-a679-ff7f55e0b16a","op":"ping"}"#
        ));
        assert!(p.is_keepalive(
            br#"{"op":"pong","args":["1675418560633"],"conn_id":"cfcb4ocsvfriu23r3er0-1b"}"#
        ));
        assert!(!p.is_keepalive(
            br#"{"success":true,"ret_msg":"","conn_id":"x","req_id":"sub-0","op":"subscribe"}"#
        ));
        match p.app_ping() {
            AppPing::Text { every, text } => {
                assert_eq!(every, Duration::from_secs(20));
                assert!(text.contains("\"op\":\"ping\""));
            }
            o => panic!("{o:?}"),
        }
        assert_eq!(Category::parse("inverse"), Some(Category::Inverse));
        assert!(Category::Spot.depths().contains(&1000));
        assert!(!Category::Spot.depths().contains(&500));
        assert!(p.resubscribe_frames("S0USDT")[1].contains("orderbook.50.S0USDT"));
    }
}
