//! Upbit connection protocol ([`VenueProtocol`]): one public quotation socket, one request.
//!
//! - URL `wss://api.upbit.com/websocket/v1` (<https://docs.upbit.com/reference/connection>).
//! - Request: ONE JSON array, `[{"ticket":…},{"type":"orderbook","codes":[…]},
//!   {"type":"trade","codes":[…]},{"format":"SIMPLE"}]`; codes uppercase; a new request on the
//!   same socket replaces the subscription set. SIMPLE (abbreviated keys) is the default here:
//!   smaller frames; the parser reads both formats.
//! - Server frames are BINARY WebSocket frames holding UTF-8 JSON: the source hands their
//!   payload to the handler as it would a text frame.
//! - Keep-alive: idle connections are closed after about 120 s; the client sends WebSocket ping
//!   frames every 30 s (the text `PING`, answered by `{"status":"UP"}`, is documented for
//!   Bithumb's clone and UNCONFIRMED for Upbit, so frames are used).
//! - Limits (2024-12 doc): 5 connections/s, 5 requests/s and 100/min per IP without auth.
#![forbid(unsafe_code)]

use crate::feed::protocol::{AppPing, VenueProtocol};
use std::time::Duration;

/// Field format requested from the venue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Full field names (`orderbook_units`, `ask_price`, ...).
    Default,
    /// Abbreviated field names (`obu`, `ap`, ...).
    Simple,
}

/// Connection protocol of an Upbit-format quotation socket (also Bithumb's current one).
#[derive(Clone, Debug)]
pub struct QuotationProtocol {
    /// WebSocket URL.
    pub url: String,
    /// Market codes (`KRW-BTC`).
    pub codes: Vec<String>,
    /// Request ticket (identifies the request on the venue's side).
    pub ticket: String,
    /// Field format.
    pub format: Format,
    /// Subscribe to trades as well as order books.
    pub trades: bool,
}

/// Upbit public quotation URL.
pub const URL: &str = "wss://api.upbit.com/websocket/v1";

impl QuotationProtocol {
    /// Upbit, for `codes`, SIMPLE format, books and trades.
    pub fn upbit(venue_name: &str, codes: Vec<String>) -> QuotationProtocol {
        QuotationProtocol {
            url: URL.into(),
            codes,
            ticket: format!("arbot-{venue_name}"),
            format: Format::Simple,
            trades: true,
        }
    }

    /// The request frame.
    pub fn request(&self) -> String {
        let codes: Vec<String> = self.codes.iter().map(|c| c.to_ascii_uppercase()).collect();
        let mut req = vec![
            serde_json::json!({ "ticket": self.ticket }),
            serde_json::json!({ "type": "orderbook", "codes": codes }),
        ];
        if self.trades {
            req.push(serde_json::json!({ "type": "trade", "codes": codes }));
        }
        req.push(serde_json::json!({
            "format": match self.format { Format::Default => "DEFAULT", Format::Simple => "SIMPLE" }
        }));
        serde_json::Value::Array(req).to_string()
    }
}

impl VenueProtocol for QuotationProtocol {
    fn ws_urls(&self) -> Vec<String> {
        vec![self.url.clone()]
    }
    fn subscribe_frames(&self, conn: usize) -> Vec<String> {
        if conn == 0 {
            vec![self.request()]
        } else {
            vec![]
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
    fn request_is_one_json_array_with_ticket_types_codes_format() {
        let p = QuotationProtocol::upbit("upbit", vec!["krw-btc".into(), "KRW-USDT".into()]);
        let f = p.subscribe_frames(0);
        assert_eq!(f.len(), 1);
        let v: serde_json::Value = serde_json::from_str(&f[0]).unwrap();
        let a = v.as_array().unwrap();
        assert_eq!(a[0]["ticket"], "arbot-upbit");
        assert_eq!(a[1]["type"], "orderbook");
        assert_eq!(a[1]["codes"], serde_json::json!(["KRW-BTC", "KRW-USDT"]));
        assert_eq!(a[2]["type"], "trade");
        assert_eq!(a[3]["format"], "SIMPLE");
        assert_eq!(p.ws_urls(), vec![URL.to_string()]);
        assert!(p.subscribe_frames(1).is_empty());
        assert!(p.is_keepalive(b"{\"status\":\"UP\"}\n"));
        assert!(!p.is_keepalive(b"{\"ty\":\"trade\"}"));
        assert!(matches!(p.app_ping(), AppPing::Frame { .. }));
    }
}
