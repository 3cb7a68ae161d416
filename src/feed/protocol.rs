//! What a live connection needs from a venue adapter: where to connect, what to send once
//! connected, how to keep the connection alive, where REST snapshots come from. The
//! WebSocket feed source (live/paper) drives it; every venue folder implements it next to its
//! [`crate::feed::VenueHandler`].
#![forbid(unsafe_code)]

use crate::types::InstrumentId;
use std::time::Duration;

/// A keep-alive message the client must send itself (beyond answering protocol pings).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppPing {
    /// None needed (Binance: the server pings, the client answers with pong frames).
    None,
    /// A text frame every `every` (OKX `ping`, Bybit `{"op":"ping"}`, KuCoin `{"type":"ping"}`).
    Text {
        /// Interval.
        every: Duration,
        /// Frame text.
        text: String,
    },
    /// A WebSocket ping frame every `every`.
    Frame {
        /// Interval.
        every: Duration,
    },
}

/// A REST call the source must make before each connection attempt (KuCoin's bullet token).
/// Cold path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreConnect {
    /// HTTP method (`POST`).
    pub method: &'static str,
    /// URL.
    pub url: String,
    /// Request body (empty for none).
    pub body: String,
}

/// Where to connect and how to keep the connection alive, once the pre-connect response is in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectPlan {
    /// WebSocket URLs (one connection each).
    pub urls: Vec<String>,
    /// Keep-alive for these connections.
    pub app_ping: AppPing,
}

/// Connection-level protocol of one venue (one or more connections).
pub trait VenueProtocol: Send {
    /// WebSocket URLs to open (one connection each), e.g. a Binance combined-streams URL.
    fn ws_urls(&self) -> Vec<String>;
    /// Text frames to send right after connection `conn` opens (subscriptions).
    fn subscribe_frames(&self, conn: usize) -> Vec<String>;
    /// Keep-alive the client must send.
    fn app_ping(&self) -> AppPing {
        AppPing::None
    }
    /// True if a received text frame is a keep-alive reply, not market data (not parsed).
    fn is_keepalive(&self, _frame: &[u8]) -> bool {
        false
    }
    /// REST URL of a depth snapshot, for venues that sync books from REST (Binance, KuCoin, Gate).
    fn snapshot_url(&self, _instrument: InstrumentId) -> Option<String> {
        None
    }
    /// The venue drops connections at this age (Binance 24 h); the source rotates earlier.
    fn max_connection_age(&self) -> Option<Duration> {
        None
    }
    /// Text frames that make the venue send a fresh book snapshot of `instrument` (after a
    /// checksum mismatch or a gap the feed cannot repair from REST): unsubscribe + subscribe.
    /// Empty (default) for venues that resync from a REST snapshot.
    fn resubscribe_frames(&self, _instrument: InstrumentId) -> Vec<String> {
        Vec::new()
    }
    /// A REST call to make before connecting (KuCoin: `POST /api/v1/bullet-public` for a
    /// token). `None` (default): connect to [`VenueProtocol::ws_urls`] directly.
    fn pre_connect(&self) -> Option<PreConnect> {
        None
    }
    /// URLs and keep-alive from the pre-connect response body (KuCoin: token, endpoint and
    /// `pingInterval`). Default: the static [`VenueProtocol::ws_urls`] and
    /// [`VenueProtocol::app_ping`].
    fn plan_connect(&self, _response: &[u8]) -> Result<ConnectPlan, String> {
        Ok(ConnectPlan {
            urls: self.ws_urls(),
            app_ping: self.app_ping(),
        })
    }
}
