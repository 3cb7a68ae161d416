//! Bithumb connection protocol ([`VenueProtocol`]).
//!
//! - v1 (default): `wss://ws-api.bithumb.com/websocket/v1`, the Upbit request format (one JSON
//!   array with ticket, `orderbook` and `trade` types, `KRW-BTC` codes, format); binary or text
//!   frames of JSON; idle timeout about 120 s, kept alive by WebSocket ping frames every 30 s
//!   (the server answers the text `PING` with `{"status":"UP"}`). Connect rate 10/s per IP.
//!   Source: <https://apidocs.bithumb.com/reference/기본-정보>, `exchanges.md` §8.1.
//! - legacy: `wss://pubwss.bithumb.com/pub/ws`, one JSON object per subscription type:
//!   `{"type":"orderbooksnapshot","symbols":["BTC_KRW"]}`, `{"type":"transaction","symbols":[…]}`;
//!   replies `{"status":"0000","resmsg":…}`. No documented keep-alive: ping frames every 30 s.
#![forbid(unsafe_code)]

use super::{alias, Feed};
use crate::feed::protocol::{AppPing, VenueProtocol};
use crate::venues::upbit::protocol::QuotationProtocol;
use std::time::Duration;

/// v1 public URL.
pub const URL_V1: &str = "wss://ws-api.bithumb.com/websocket/v1";
/// Legacy public URL.
pub const URL_LEGACY: &str = "wss://pubwss.bithumb.com/pub/ws";

/// Bithumb connection protocol.
#[derive(Clone, Debug)]
pub enum BithumbProtocol {
    /// Upbit-compatible socket.
    V1(QuotationProtocol),
    /// Legacy socket with `BTC_KRW` symbols.
    Legacy {
        /// Symbols, `BTC_KRW`.
        symbols: Vec<String>,
    },
}

impl BithumbProtocol {
    /// For `feed` and configured symbols (either spelling).
    pub fn new(feed: Feed, venue_name: &str, symbols: &[String]) -> BithumbProtocol {
        let spelled = |dash: bool| -> Vec<String> {
            symbols
                .iter()
                .map(|s| {
                    let is_dash = s.contains('-');
                    if is_dash == dash {
                        s.clone()
                    } else {
                        alias(s)
                    }
                })
                .map(|s| s.to_ascii_uppercase())
                .collect()
        };
        match feed {
            Feed::V1 => BithumbProtocol::V1(QuotationProtocol {
                url: URL_V1.into(),
                codes: spelled(true),
                ticket: format!("arbot-{venue_name}"),
                format: crate::venues::upbit::protocol::Format::Simple,
                trades: true,
            }),
            Feed::Legacy => BithumbProtocol::Legacy {
                symbols: spelled(false),
            },
        }
    }
}

impl VenueProtocol for BithumbProtocol {
    fn ws_urls(&self) -> Vec<String> {
        match self {
            BithumbProtocol::V1(p) => p.ws_urls(),
            BithumbProtocol::Legacy { .. } => vec![URL_LEGACY.into()],
        }
    }
    fn subscribe_frames(&self, conn: usize) -> Vec<String> {
        match self {
            BithumbProtocol::V1(p) => p.subscribe_frames(conn),
            BithumbProtocol::Legacy { symbols } if conn == 0 => {
                ["orderbooksnapshot", "orderbookdepth", "transaction"]
                    .iter()
                    .map(|t| serde_json::json!({ "type": t, "symbols": symbols }).to_string())
                    .collect()
            }
            BithumbProtocol::Legacy { .. } => vec![],
        }
    }
    fn app_ping(&self) -> AppPing {
        AppPing::Frame {
            every: Duration::from_secs(30),
        }
    }
    fn is_keepalive(&self, frame: &[u8]) -> bool {
        frame.trim_ascii() == br#"{"status":"UP"}"#
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_generations() {
        let syms = vec!["BTC_KRW".to_string(), "KRW-ETH".to_string()];
        let p = BithumbProtocol::new(Feed::V1, "bithumb", &syms);
        assert_eq!(p.ws_urls(), vec![URL_V1.to_string()]);
        let v: serde_json::Value = serde_json::from_str(&p.subscribe_frames(0)[0]).unwrap();
        assert_eq!(v[1]["codes"], serde_json::json!(["KRW-BTC", "KRW-ETH"]));
        let p = BithumbProtocol::new(Feed::Legacy, "bithumb", &syms);
        assert_eq!(p.ws_urls(), vec![URL_LEGACY.to_string()]);
        let f = p.subscribe_frames(0);
        assert_eq!(f.len(), 3);
        let v: serde_json::Value = serde_json::from_str(&f[0]).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type":"orderbooksnapshot","symbols":["BTC_KRW","ETH_KRW"]})
        );
        assert!(p.is_keepalive(b"{\"status\":\"UP\"}"));
    }
}
