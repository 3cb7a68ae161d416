//! Binance connection protocol for live/paper feeds ([`VenueProtocol`]).
//!
//! - Streams: combined streams on one connection per 1,024 streams,
//!   `wss://stream.binance.com:9443/stream?streams=btcusdt@bookTicker/btcusdt@depth@100ms/btcusdt@trade`
//!   (spot), `wss://fstream.binance.com/stream?streams=...` (USDⓈ-M),
//!   `wss://dstream.binance.com/stream?streams=...` (COIN-M); events arrive wrapped as
//!   `{"stream":"<name>","data":{...}}`. Source:
//!   <https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams> ("Combined
//!   streams", "Live Subscribing/Unsubscribing"), and the futures "Websocket Market Streams" page.
//!   The streams are named in the URL, so nothing has to be sent after connecting; the
//!   equivalent live message is [`subscribe_frame`] (`{"method":"SUBSCRIBE",...}`).
//! - Keep-alive: the server pings every 20 s (spot) / 3 min (futures) and drops a connection
//!   that does not answer within 1 min / 10 min; the client answers with pong frames
//!   (tungstenite does), no application ping is needed. A connection lives at most 24 h.
//! - Book sync: REST depth snapshot `GET /api/v3/depth?symbol=BTCUSDT&limit=1000` (spot),
//!   `/fapi/v1/depth` (USDⓈ-M), `/dapi/v1/depth` (COIN-M), while the diffs are buffered
//!   ([`super::book`]).
#![forbid(unsafe_code)]

use super::Market;
use crate::feed::protocol::{AppPing, VenueProtocol};
use crate::types::InstrumentId;
use crate::venues::VenueOptions;
use std::time::Duration;

/// Streams per connection (Binance's limit is 1,024).
pub const MAX_STREAMS_PER_CONN: usize = 1024;

/// Binance's connection protocol for one venue (one market).
#[derive(Clone, Debug)]
pub struct BinanceProtocol {
    market: Market,
    ws_base: String,
    rest_base: String,
    symbols: Vec<(InstrumentId, String)>,
    depth_stream: String,
    snapshot_limit: u32,
}

/// `{"method":"SUBSCRIBE","params":[...],"id":N}`: the live-subscribe message (same for spot
/// and futures).
pub fn subscribe_frame(streams: &[String], id: u64) -> String {
    let params: Vec<String> = streams.iter().map(|s| format!("\"{s}\"")).collect();
    format!(
        "{{\"method\":\"SUBSCRIBE\",\"params\":[{}],\"id\":{id}}}",
        params.join(",")
    )
}

impl BinanceProtocol {
    /// For `market` with venue options `v` (URL overrides, depth stream, snapshot limit) and
    /// its instruments (engine id, exchange symbol).
    pub fn new(
        market: Market,
        v: &VenueOptions,
        symbols: Vec<(InstrumentId, String)>,
    ) -> BinanceProtocol {
        let trim = |s: &str| s.trim_end_matches('/').to_string();
        BinanceProtocol {
            market,
            ws_base: trim(v.ws_url.as_deref().unwrap_or(market.ws_base())),
            rest_base: trim(v.rest_url.as_deref().unwrap_or(market.rest_base())),
            symbols,
            depth_stream: v
                .depth_stream
                .clone()
                .unwrap_or_else(|| "depth@100ms".to_string()),
            snapshot_limit: v.snapshot_limit,
        }
    }

    /// The market.
    pub fn market(&self) -> Market {
        self.market
    }

    /// Every stream name, in order: per symbol `bookTicker`, the depth stream, `trade`.
    pub fn streams(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(self.symbols.len() * 3);
        for (_, s) in &self.symbols {
            let s = s.to_ascii_lowercase();
            out.push(format!("{s}@bookTicker"));
            out.push(format!("{s}@{}", self.depth_stream));
            out.push(format!("{s}@trade"));
        }
        out
    }

    fn chunks(&self) -> Vec<Vec<String>> {
        self.streams()
            .chunks(MAX_STREAMS_PER_CONN)
            .map(|c| c.to_vec())
            .collect()
    }
}

impl VenueProtocol for BinanceProtocol {
    fn ws_urls(&self) -> Vec<String> {
        self.chunks()
            .into_iter()
            .map(|c| format!("{}/stream?streams={}", self.ws_base, c.join("/")))
            .collect()
    }

    fn subscribe_frames(&self, _conn: usize) -> Vec<String> {
        Vec::new() // streams are in the URL
    }

    fn app_ping(&self) -> AppPing {
        AppPing::None
    }

    fn snapshot_url(&self, instrument: InstrumentId) -> Option<String> {
        // a partial-book stream (`depth5/10/20`) carries whole books: nothing to sync from REST
        if super::wire::is_partial_depth(&self.depth_stream) {
            return None;
        }
        let (_, sym) = self.symbols.iter().find(|(i, _)| *i == instrument)?;
        Some(format!(
            "{}{}?symbol={}&limit={}",
            self.rest_base,
            self.market.depth_path(),
            sym.to_ascii_uppercase(),
            self.snapshot_limit
        ))
    }

    fn max_connection_age(&self) -> Option<Duration> {
        Some(Duration::from_secs(24 * 3600))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn venue(market: &str) -> (Market, VenueOptions) {
        let o = VenueOptions {
            name: "x".into(),
            market: Some(market.into()),
            snapshot_limit: 1000,
            book_levels: 5000,
            ..VenueOptions::default()
        };
        (super::super::market_of(&o).unwrap(), o)
    }

    fn proto(v: &(Market, VenueOptions), syms: Vec<(InstrumentId, String)>) -> BinanceProtocol {
        BinanceProtocol::new(v.0, &v.1, syms)
    }

    #[test]
    fn urls_follow_binance_docs() {
        let p = proto(&venue("spot"), vec![(InstrumentId(0), "BTCUSDT".into())]);
        assert_eq!(
            p.ws_urls(),
            vec!["wss://stream.binance.com:9443/stream?streams=btcusdt@bookTicker/btcusdt@depth@100ms/btcusdt@trade"]
        );
        assert_eq!(
            p.snapshot_url(InstrumentId(0)).unwrap(),
            "https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=1000"
        );
        assert_eq!(p.snapshot_url(InstrumentId(1)), None);
        assert_eq!(p.max_connection_age(), Some(Duration::from_secs(86400)));
        assert!(p.subscribe_frames(0).is_empty());

        let mut v = venue("usdm");
        v.1.depth_stream = Some("depth@0ms".into());
        v.1.ws_url = Some("ws://127.0.0.1:9901/usdm/".into());
        v.1.rest_url = Some("http://127.0.0.1:9901/usdm".into());
        let p = proto(&v, vec![(InstrumentId(3), "BTCUSDT".into())]);
        assert_eq!(
            p.ws_urls(),
            vec!["ws://127.0.0.1:9901/usdm/stream?streams=btcusdt@bookTicker/btcusdt@depth@0ms/btcusdt@trade"]
        );
        assert_eq!(
            p.snapshot_url(InstrumentId(3)).unwrap(),
            "http://127.0.0.1:9901/usdm/fapi/v1/depth?symbol=BTCUSDT&limit=1000"
        );
        let p = proto(
            &venue("coinm"),
            vec![(InstrumentId(0), "BTCUSD_PERP".into())],
        );
        assert!(p.ws_urls()[0]
            .starts_with("wss://dstream.binance.com/stream?streams=btcusd_perp@bookTicker/"));
        assert!(p
            .snapshot_url(InstrumentId(0))
            .unwrap()
            .starts_with("https://dapi.binance.com/dapi/v1/depth?symbol=BTCUSD_PERP&"));
    }

    #[test]
    fn many_symbols_split_into_connections_of_1024_streams() {
        let syms = (0..400)
            .map(|i| (InstrumentId(i), format!("S{i}USDT")))
            .collect();
        let p = proto(&venue("spot"), syms);
        let urls = p.ws_urls();
        assert_eq!(urls.len(), 2, "1200 streams → 1024 + 176");
        assert_eq!(urls[0].matches('@').count(), 1024 + 341); // depth@100ms has two '@'
    }

    #[test]
    fn subscribe_message_matches_the_docs() {
        assert_eq!(
            subscribe_frame(&["btcusdt@aggTrade".into(), "btcusdt@depth".into()], 1),
            r#"{"method":"SUBSCRIBE","params":["btcusdt@aggTrade","btcusdt@depth"],"id":1}"#
        );
    }
}
