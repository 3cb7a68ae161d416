//! KuCoin connection protocol ([`VenueProtocol`]), `exchanges.md` §9.1:
//! 1. `POST https://api.kucoin.com/api/v1/bullet-public` (no auth) →
//!    `{"code":"200000","data":{"token":…,"instanceServers":[{"endpoint":"wss://ws-api-spot.kucoin.com/",
//!    "pingInterval":18000,"pingTimeout":10000,…}]}}` ([`VenueProtocol::pre_connect`]);
//! 2. connect `<endpoint>?token=<token>&connectId=<id>`; wait for `{"type":"welcome"}`;
//! 3. subscribe `{"id":…,"type":"subscribe","topic":"/market/level2:A,B",…}` (≤ 100 topics per
//!    request), the same for `/market/ticker` and `/market/match`;
//! 4. send `{"id":…,"type":"ping"}` every `pingInterval` ms; `{"type":"pong"}` answers it.
//!
//! Snapshots: `GET https://api.kucoin.com/api/v3/market/orderbook/level2?symbol=…` (the full
//! book; KuCoin requires a signed request with "General" permission for it, so the snapshot
//! fetcher needs API keys from the environment).
#![forbid(unsafe_code)]

use crate::feed::protocol::{AppPing, ConnectPlan, PreConnect, VenueProtocol};
use crate::types::InstrumentId;
use std::time::Duration;

/// Bullet (token) endpoint for public channels.
pub const BULLET_PUBLIC: &str = "https://api.kucoin.com/api/v1/bullet-public";
/// REST base.
pub const REST: &str = "https://api.kucoin.com";
/// Topics per subscribe request (venue limit 100).
pub const TOPICS_PER_REQUEST: usize = 100;

/// KuCoin spot protocol for a set of symbols.
#[derive(Clone, Debug)]
pub struct KucoinProtocol {
    /// (engine id, symbol `BTC-USDT`).
    pub symbols: Vec<(InstrumentId, String)>,
    /// Connect id sent in the URL (any client-chosen string).
    pub connect_id: String,
}

impl KucoinProtocol {
    /// For `symbols`.
    pub fn new(venue_name: &str, symbols: Vec<(InstrumentId, String)>) -> KucoinProtocol {
        KucoinProtocol {
            symbols,
            connect_id: format!("arbot-{venue_name}"),
        }
    }
}

impl VenueProtocol for KucoinProtocol {
    /// Empty: the URL needs a token, see [`VenueProtocol::plan_connect`].
    fn ws_urls(&self) -> Vec<String> {
        vec![]
    }

    fn subscribe_frames(&self, conn: usize) -> Vec<String> {
        if conn != 0 {
            return vec![];
        }
        let mut out = Vec::new();
        let mut id = 1u64;
        for topic in ["/market/level2", "/market/ticker", "/market/match"] {
            for chunk in self.symbols.chunks(TOPICS_PER_REQUEST) {
                let syms: Vec<&str> = chunk.iter().map(|(_, s)| s.as_str()).collect();
                out.push(
                    serde_json::json!({
                        "id": id.to_string(),
                        "type": "subscribe",
                        "topic": format!("{topic}:{}", syms.join(",")),
                        "privateChannel": false,
                        "response": true,
                    })
                    .to_string(),
                );
                id += 1;
            }
        }
        out
    }

    /// Default keep-alive (18 s, the documented `pingInterval`); the real interval comes from
    /// the bullet response in [`VenueProtocol::plan_connect`].
    fn app_ping(&self) -> AppPing {
        AppPing::Text {
            every: Duration::from_millis(18_000),
            text: r#"{"id":"arbot","type":"ping"}"#.into(),
        }
    }

    fn is_keepalive(&self, frame: &[u8]) -> bool {
        // `{"id":"…","type":"pong"}`: short frames only, so data frames cost one length check
        frame.len() < 128 && frame.windows(13).any(|w| w == br#""type":"pong""#)
    }

    fn snapshot_url(&self, instrument: InstrumentId) -> Option<String> {
        self.symbols
            .iter()
            .find(|(i, _)| *i == instrument)
            .map(|(_, s)| format!("{REST}/api/v3/market/orderbook/level2?symbol={s}"))
    }

    fn pre_connect(&self) -> Option<PreConnect> {
        Some(PreConnect {
            method: "POST",
            url: BULLET_PUBLIC.into(),
            body: String::new(),
        })
    }

    fn plan_connect(&self, response: &[u8]) -> Result<ConnectPlan, String> {
        let v: serde_json::Value = serde_json::from_slice(response)
            .map_err(|e| format!("bullet response is not JSON: {e}"))?;
        if v.get("code").and_then(|c| c.as_str()) != Some("200000") {
            return Err(format!("bullet response code {:?}", v.get("code")));
        }
        let d = &v["data"];
        let token = d["token"].as_str().ok_or("bullet response without token")?;
        let server = d["instanceServers"]
            .as_array()
            .and_then(|a| a.first())
            .ok_or("bullet response without instanceServers")?;
        let endpoint = server["endpoint"]
            .as_str()
            .ok_or("instance server without endpoint")?;
        let every = server["pingInterval"].as_u64().unwrap_or(18_000).max(1000);
        let sep = if endpoint.contains('?') { '&' } else { '?' };
        Ok(ConnectPlan {
            urls: vec![format!(
                "{endpoint}{sep}token={token}&connectId={}",
                self.connect_id
            )],
            app_ping: AppPing::Text {
                every: Duration::from_millis(every),
                text: r#"{"id":"arbot","type":"ping"}"#.into(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bullet_flow_subscriptions_and_snapshot_url() {
        let p = KucoinProtocol::new(
            "kucoin",
            vec![
                (InstrumentId(3), "BTC-USDT".into()),
                (InstrumentId(4), "ETH-USDT".into()),
            ],
        );
        assert!(p.ws_urls().is_empty(), "no URL without a token");
        let pc = p.pre_connect().unwrap();
        assert_eq!((pc.method, pc.url.as_str()), ("POST", BULLET_PUBLIC));
        // doc example response
        let plan = p
            .plan_connect(br#"{"code":"200000","data":{"token":"2neAiuYvAU61ZD","instanceServers":[{"endpoint":"wss://ws-api-spot.kucoin.com/","encrypt":true,"protocol":"websocket","pingInterval":18000,"pingTimeout":10000}]}}"#)
            .unwrap();
        assert_eq!(
            plan.urls,
            vec![
                "wss://ws-api-spot.kucoin.com/?token=2neAiuYvAU61ZD&connectId=arbot-kucoin"
                    .to_string()
            ]
        );
        assert_eq!(
            plan.app_ping,
            AppPing::Text {
                every: Duration::from_secs(18),
                text: r#"{"id":"arbot","type":"ping"}"#.into()
            }
        );
        assert!(p.plan_connect(br#"{"code":"400100"}"#).is_err());
        assert!(p.plan_connect(b"nope").is_err());
        let f = p.subscribe_frames(0);
        assert_eq!(f.len(), 3);
        let v: serde_json::Value = serde_json::from_str(&f[0]).unwrap();
        assert_eq!(v["topic"], "/market/level2:BTC-USDT,ETH-USDT");
        assert_eq!(v["type"], "subscribe");
        assert_eq!(
            p.snapshot_url(InstrumentId(4)).unwrap(),
            "https://api.kucoin.com/api/v3/market/orderbook/level2?symbol=ETH-USDT"
        );
        assert_eq!(p.snapshot_url(InstrumentId(9)), None);
        assert!(p.is_keepalive(br#"{"id":"arbot","type":"pong"}"#));
        assert!(!p.is_keepalive(br#"{"id":"1","type":"ack"}"#));
    }

    #[test]
    fn topics_are_chunked_by_100() {
        let syms = (0..250)
            .map(|i| (InstrumentId(i), format!("S{i}-USDT")))
            .collect();
        let p = KucoinProtocol::new("k", syms);
        assert_eq!(p.subscribe_frames(0).len(), 9);
    }
}
