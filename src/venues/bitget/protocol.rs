//! Bitget public WebSocket protocol ([`VenueProtocol`]), `exchanges.md` §11.1:
//! - URL `wss://ws.bitget.com/v2/ws/public` (v2, today's; the recording used v1
//!   `wss://ws.bitget.com/spot/v1/stream` with `instType: "sp"`);
//! - `{"op":"subscribe","args":[{"instType":"SPOT","channel":"books","instId":"BTCUSDT"},…]}`,
//!   `books` and `trade` per symbol (≤ 10 messages/s per connection, so ≤ 50 args per request);
//! - keep-alive: text `ping` every 30 s, answered by `pong`; the server drops a connection
//!   without ping for 2 min and every connection after 24 h (rotated at 23 h here);
//! - no REST sync: a new snapshot comes from resubscribing the `books` channel
//!   ([`BitgetProtocol::resubscribe_frames`]).
#![forbid(unsafe_code)]

use super::ws_inst_id;
use crate::feed::protocol::{AppPing, VenueProtocol};
use crate::types::InstrumentId;
use std::time::Duration;

/// v2 public URL.
pub const URL: &str = "wss://ws.bitget.com/v2/ws/public";
/// Subscription args per request.
pub const ARGS_PER_REQUEST: usize = 50;

/// Bitget spot protocol for a set of symbols.
#[derive(Clone, Debug)]
pub struct BitgetProtocol {
    /// (engine id, symbol).
    pub symbols: Vec<(InstrumentId, String)>,
}

fn arg(channel: &str, sym: &str) -> serde_json::Value {
    serde_json::json!({"instType": "SPOT", "channel": channel, "instId": ws_inst_id(sym)})
}

impl BitgetProtocol {
    /// For `symbols` (`BTCUSDT` or `BTCUSDT_SPBL`).
    pub fn new(symbols: Vec<(InstrumentId, String)>) -> BitgetProtocol {
        BitgetProtocol { symbols }
    }

    /// Unsubscribe + subscribe `books` of one instrument: Bitget's way to get a new snapshot
    /// after a gap or a checksum mismatch.
    pub fn resubscribe_frames(&self, instrument: InstrumentId) -> Vec<String> {
        let Some((_, s)) = self.symbols.iter().find(|(i, _)| *i == instrument) else {
            return vec![];
        };
        ["unsubscribe", "subscribe"]
            .iter()
            .map(|op| serde_json::json!({"op": op, "args": [arg("books", s)]}).to_string())
            .collect()
    }
}

impl VenueProtocol for BitgetProtocol {
    fn ws_urls(&self) -> Vec<String> {
        vec![URL.into()]
    }
    fn subscribe_frames(&self, conn: usize) -> Vec<String> {
        if conn != 0 {
            return vec![];
        }
        let args: Vec<serde_json::Value> = self
            .symbols
            .iter()
            .flat_map(|(_, s)| [arg("books", s), arg("trade", s)])
            .collect();
        args.chunks(ARGS_PER_REQUEST)
            .map(|c| serde_json::json!({"op": "subscribe", "args": c}).to_string())
            .collect()
    }
    fn app_ping(&self) -> AppPing {
        AppPing::Text {
            every: Duration::from_secs(30),
            text: "ping".into(),
        }
    }
    fn is_keepalive(&self, frame: &[u8]) -> bool {
        frame.trim_ascii() == b"pong"
    }
    fn max_connection_age(&self) -> Option<Duration> {
        Some(Duration::from_secs(23 * 3600))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribe_ping_rotation_resubscribe() {
        let p = BitgetProtocol::new(vec![
            (InstrumentId(0), "BTCUSDT_SPBL".into()),
            (InstrumentId(1), "ETHUSDT".into()),
        ]);
        let f = p.subscribe_frames(0);
        assert_eq!(f.len(), 1);
        let v: serde_json::Value = serde_json::from_str(&f[0]).unwrap();
        assert_eq!(v["op"], "subscribe");
        assert_eq!(
            v["args"][0],
            serde_json::json!({"instType":"SPOT","channel":"books","instId":"BTCUSDT"})
        );
        assert_eq!(v["args"].as_array().unwrap().len(), 4);
        assert_eq!(
            p.app_ping(),
            AppPing::Text {
                every: Duration::from_secs(30),
                text: "ping".into()
            }
        );
        assert!(p.is_keepalive(b"pong"));
        assert!(p.max_connection_age().unwrap() < Duration::from_secs(24 * 3600));
        let r = p.resubscribe_frames(InstrumentId(1));
        assert_eq!(r.len(), 2);
        assert!(
            r[0].contains("unsubscribe")
                && r[1].contains("\"subscribe\"")
                && r[1].contains("ETHUSDT")
        );
        let many = BitgetProtocol::new(
            (0..60)
                .map(|i| (InstrumentId(i), format!("S{i}USDT")))
                .collect(),
        );
        assert_eq!(many.subscribe_frames(0).len(), 3);
    }
}
