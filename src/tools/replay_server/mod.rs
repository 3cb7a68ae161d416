//! `arbot replay-server` (R8.1): a loopback exchange that speaks Binance's own protocol and
//! serves recorded sessions, so paper mode can be tested end to end without internet.
//!
//! - WebSocket combined streams: `GET [/spot|/usdm|/coinm]/stream?streams=a/b/c` (also
//!   `/ws/<stream>`), live `SUBSCRIBE` / `UNSUBSCRIBE` / `LIST_SUBSCRIPTIONS` messages answered
//!   like Binance (`{"result":null,"id":1}`), pings like Binance (every 20 s spot, 3 min futures)
//!   and pongs to the client's pings. The optional first path segment stands for the host
//!   (`stream.binance.com`, `fstream…`, `dstream…`), since one port serves every market.
//! - REST depth: `GET [/prefix]/api/v3/depth`, `/fapi/v1/depth`, `/dapi/v1/depth`
//!   `?symbol=BTCUSDT&limit=1000` over HTTP/1.1 (keep-alive). The first request of a recording
//!   is answered with the recorded snapshot line, once the stream has reached the point where it
//!   was recorded; later requests (after a reconnect or a gap) get a snapshot made from the
//!   server's own book at the current point (recorded snapshot + every diff since), like the
//!   real exchange.
//! - Pace: recorded (`speed` = 1.0, 2.0 … faster) or as fast as the sockets take (`speed` = None).
//! - `ws://` or `wss://` (self-signed certificate from rcgen, written as PEM for the client's
//!   `tls_ca_file`).
//! - Lockstep (tests): before a message goes to another connection than the previous one, the
//!   server pings the previous connection and waits for its pong, so the client has read
//!   everything sent before; with one client feed thread, messages of all venues then reach
//!   detection in the recording's merged order, exactly as in file replay. Pings are ordinary
//!   protocol frames, not counted as messages by the client.
//! - Faults (each once): drop the connection after N stream messages, stall for X ns after N,
//!   send a malformed frame (reserved bits set) after N, send truncated JSON after N, skip one
//!   depth diff after N diffs (a sequence gap).
//! - At the end of the recording every connection gets a normal close frame (code 1000).
//!
//! Test infrastructure, not hot path: threads, blocking I/O and `serde_json` are fine here.
//!
//! # The exchange: order entry for live-trading tests
//!
//! The same listener is also a Binance **exchange** for the markets it serves: REST order
//! entry with Binance's authentication, rate limits, error codes and answers, accounts with
//! balances and positions, a user-data stream, and faults on request. Orders match, at the
//! moment the request is processed, against the server's book of the recording as it stands
//! in the replay, with the fill simulator's own matching code
//! ([`crate::exec::matching::take_each`]).
//!
//! ## For a client
//!
//! A venue with `rest_url = "http://ADDR/spot"` (or `/usdm`, `/coinm`) reaches every endpoint
//! below at `http://ADDR/<market><path>` (the prefix may be left out; with a prefix of
//! another market the path is not routed and gets the market-data side's 404/405). HTTP/1.1 keep-alive, JSON answers, Binance's error
//! bodies `{"code":-XXXX,"msg":"..."}` and status codes (400 request errors, 401 bad API key,
//! 418 IP ban, 429 rate limit, 503 execution status unknown).
//!
//! | market | endpoints |
//! |---|---|
//! | spot | `GET /api/v3/ping`, `/api/v3/time`, `/api/v3/exchangeInfo`; `POST`/`DELETE`/`GET /api/v3/order`; `GET /api/v3/openOrders`; `GET /api/v3/account`; `POST`/`PUT`/`DELETE /api/v3/userDataStream` |
//! | USDⓈ-M | `GET /fapi/v1/ping`, `/fapi/v1/time`, `/fapi/v1/exchangeInfo`; `POST`/`DELETE`/`GET /fapi/v1/order`; `GET /fapi/v1/openOrders`; `GET /fapi/v2/account`, `/fapi/v3/account`; `GET /fapi/v2/positionRisk`; `POST`/`PUT`/`DELETE /fapi/v1/listenKey` |
//! | COIN-M | the `/dapi/v1/...` equivalents (`/dapi/v1/account`, `/dapi/v1/positionRisk`, `/dapi/v1/listenKey`) |
//!
//! - **Keys**: `X-MBX-APIKEY` must be a configured key ([`ExchangeConfig::accounts`]); the
//!   default is the key and secret of Binance's own signing examples
//!   ([`DOC_API_KEY`] / [`DOC_API_SECRET`]), `arbot replay-server --api-key K --api-secret S`
//!   or `ARBOT_LOOPBACK_API_KEY` / `ARBOT_LOOPBACK_API_SECRET` replace it (the secret is never
//!   printed). `signature` = hex HMAC-SHA256(secret, query string ++ body as sent).
//! - **Clock**: the server's time (`GET .../time`, the `timestamp` check, every `E`/`T`/
//!   `transactTime`/`updateTime`) is the host's wall clock plus `clock_skew_ms`; it has nothing
//!   to do with the recording's data time (2024 for the shipped recordings). The replay's
//!   position only decides which book an order meets.
//! - **User-data stream**: `POST` the listenKey endpoint (API key only, no signature) →
//!   `{"listenKey":"<64 hex>"}`; connect `ws://ADDR/<market>/ws/<listenKey>` **before** sending
//!   orders (events are not queued for a stream nobody has opened); `PUT` keeps the key
//!   alive (spot: `listenKey=` parameter; validity [`ExchangeConfig::listen_key_validity`],
//!   60 min), `DELETE` closes its streams.
//! - **In-process** (tests): [`start`] a [`ServerConfig`] with `exchange:
//!   ExchangeConfig::default()` (or [`ExchangeConfig::from_setup`]), `wait_clients:
//!   Duration::ZERO` when nothing subscribes to market data, and `exchange.hold_at: Some(n)` to
//!   stop the replay before message `n`; [`Server::advance_to`] moves it,
//!   [`Server::release`] lets it run; [`Server::replay_position`] says where it is.
//! - **Faults** ([`Faults`], CLI flags of `arbot replay-server`): each fires once, on the
//!   Nth `POST .../order` request the server receives (counted as it arrives, before any
//!   check, 1-based, over all markets or only `order_fault_market`):
//!
//! | fault | field / flag | what the client sees |
//! |---|---|---|
//! | reject | `reject_order` + `reject_code` (+ `reject_msg`) / `--reject-order N --reject-code C` | the error (default -2010), HTTP status per code; the order is not placed |
//! | 429 | `order_429` / `--order-429 N` | 429, -1003, `Retry-After: fault_retry_after_s`; a request before it passes gets 429 again, the next one 418 (as a real 429: `RateLimits::violations_before_ban`) |
//! | 418 | `order_418` / `--order-418 N` | 418, IP banned for `fault_retry_after_s` on that market |
//! | no answer | `swallow_order` / `--swallow-order N` | nothing, the connection stays open; the order is **not** placed |
//! | delayed ack | `delay_order` + `delay_ms` / `--delay-order N --delay-ms MS` | the order is processed at once (user stream at once), its answer comes `delay_ms` later |
//! | fill on the stream only | `stream_only_fill` / `--stream-only-fill N` | the answer says `NEW`, nothing executed (spot: RESULT shape; futures: ACK); fills come on the user stream |
//! | disconnect in flight | `disconnect_order` / `--disconnect-order N` | the order is processed, the TCP connection closes without an answer |
//! | partial fill then expiry | `partial_fill_order` / `--partial-fill-order N` | at most half the quantity (lot-aligned) fills, the rest `EXPIRED` whatever the time in force |
//! | planted balance difference | `plant_balance` / `--plant-balance MARKET:ASSET:DELTA:N` | after order request N is answered, every account's free balance of ASSET on MARKET changes by DELTA, with no trade and no balance event (the engine's reconciliation must find it) |
//! | 5xx | `order_503` / `--order-503 N` | the order is processed; 503 with -1007 (spot) / -1000 "Unknown error..." (futures): status unknown until queried |
//! | clock skew | `clock_skew_ms` / `--clock-skew-ms MS` | server time shifted (all requests): unsynced clients get -1021 |
//!
//! ## Protocol subset and simplifications
//!
//! Followed from the docs (each file cites its pages): `auth.rs` (parameters, signature,
//! `timestamp`/`recvWindow`), `ratelimit.rs` (weights, order counts, 429/418, `Retry-After`),
//! `replies.rs` (answer and event shapes), `user_stream.rs` (listenKey streams). Simplified,
//! on purpose:
//!
//! - **Matching**: taker orders (and the taking part of any order) walk the server's book —
//!   the engine's own L2 book of the recording with the `bookTicker` overlay, fed by the
//!   engine's Binance handler — with [`crate::exec::matching::take_each`], less what earlier
//!   orders of *any* account took and the venue has not re-published (own-liquidity
//!   consumption is per server). Each level taken is one trade at that level's price.
//!   `LIMIT GTC` remainders rest; a resting order fills **after each recorded message** of
//!   its instrument when the replayed book shows the opposite side at or through its price,
//!   taking the displayed quantity there with the same `take_each` (a maker fill at the
//!   order's own price, maker fee). No queue position, no market impact, own resting orders
//!   are invisible to other orders (no self-trade). An invalid or not yet synced book is an
//!   empty book.
//! - **MARKET** walks the whole book (no percent-price protection); `quoteOrderQty` is not
//!   supported (-1106). `MIN_NOTIONAL`/`NOTIONAL` of a MARKET order uses the best opposite
//!   price instead of Binance's 5-minute average. `LIMIT_MAKER` (spot) / `GTX` (futures) that
//!   would take: -2010 (spot), -5022 (USDⓈ-M), `EXPIRED` (COIN-M). `FOK` that cannot fill:
//!   -5021 on USDⓈ-M (not recorded, as since 2023-03), `EXPIRED` on spot and COIN-M. Other
//!   order types (stops, trailing, iceberg, OCO) are -1116.
//! - **Precision and filters**: spot quantities/prices may have 8 decimals (-1111 beyond),
//!   futures the symbol's `quantityPrecision`/`pricePrecision`. Spot filter failures are
//!   -1013 `Filter failure: PRICE_FILTER / LOT_SIZE / NOTIONAL`; futures use their codes
//!   (-4013/-4014/-4002 price, -4003/-4004/-4005/-4023 quantity, -4164 notional). `maxPrice`
//!   is 1,000,000 everywhere.
//! - **Fees**: taker / maker bps per market. Spot: in the received asset (a buy pays in base,
//!   a sell in quote; no BNB); futures: in the margin asset. Commission truncated to 10⁻⁸.
//! - **Spot balances**: a buy needs the quote notional at its limit price (MARKET: the cost
//!   the book shows now; the fee comes out of the base received, so it is not added), a sell
//!   the base quantity; the order locks that amount until it ends.
//! - **Futures**: one-way mode (`positionSide` BOTH only), cross margin, one leverage per
//!   market. Margin check: the part of the order that opens or increases the position, at
//!   its limit (MARKET: best opposite) price, ÷ leverage, must fit in wallet balance −
//!   position margin (entry notional ÷ leverage) − open-order margin; unrealized PnL,
//!   maintenance margin, liquidation, funding are not modelled (mark price = book mid, for
//!   display). `reduceOnly` fills at most the position and never flips it (else -2022).
//! - **Answers**: futures `newOrderRespType` ACK (the default) answers the order as accepted
//!   (`NEW`, nothing executed) even when it filled: use `RESULT` or the user stream. Spot
//!   defaults to FULL for LIMIT and MARKET. `avgPrice` has 8 decimals. Rejected requests are
//!   error bodies only: the `REJECTED` status never appears. Duplicate `newClientOrderId` of
//!   an open order is -2010 "Duplicate order sent." on every market.
//! - **Rate limits**: fixed windows on the server's clock; one IP per server and market; the
//!   market-data endpoints (`depth`, WebSocket) are not counted and answer as before, without
//!   `X-MBX-*` headers.
//! - **Lifetime**: the exchange lives as long as the recording is served, plus
//!   [`ServerConfig::linger`] (`--linger-s`): at the recording's end the market streams
//!   close; the order, account and user-stream side stays up for the linger time (books
//!   frozen), then the user streams close too and new connections are refused.
//!
//! Layout: this file has the public settings and stats, start-up and the accept loop;
//! `book.rs` the loaded recording and the server's own book and snapshot state; `http.rs` TLS
//! accept, HTTP requests and REST snapshots; `ws.rs` one WebSocket connection (control
//! messages, pings, writes); `dispatch.rs` the thread that paces the recording, routes each
//! message to its connections, injects the faults and holds at the replay gate;
//! `settings.rs` the exchange's public settings; `exchange.rs` accounts, orders, matching and
//! positions; `orders_http.rs` the order-entry endpoints; `auth.rs` parameters
//! and request security; `ratelimit.rs` weights and order counts; `replies.rs` the JSON of
//! answers and events; `user_stream.rs` the user-data stream.
#![forbid(unsafe_code)]

mod auth;
mod book;
mod dispatch;
mod exchange;
mod http;
mod orders_http;
mod ratelimit;
mod replies;
mod settings;
mod user_stream;
mod ws;

pub use settings::{
    def_of_spec, default_instruments, ApiAccount, Balance, ExchangeConfig, MarketSettings,
    RateLimits, DOC_API_KEY, DOC_API_SECRET,
};

use book::{load, FileInfo, Kind, Shared, SnapState};
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use ws::NewConn;

/// Binance market of a served file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MarketKind {
    /// Spot (`/api/v3`, pings every 20 s).
    Spot,
    /// USDⓈ-M (`/fapi/v1`, pings every 3 min).
    Usdm,
    /// COIN-M (`/dapi/v1`, pings every 3 min).
    Coinm,
}

impl MarketKind {
    /// From a config `market` value.
    pub fn parse(s: &str) -> Option<MarketKind> {
        match s {
            "spot" => Some(MarketKind::Spot),
            "usdm" => Some(MarketKind::Usdm),
            "coinm" => Some(MarketKind::Coinm),
            _ => None,
        }
    }
    /// Guess from a recording's file name (`spot_…`, `usdm_…`, `cm_…`).
    pub fn from_file_name(p: &std::path::Path) -> Option<MarketKind> {
        let n = p.file_name()?.to_str()?.to_ascii_lowercase();
        if n.starts_with("spot") {
            Some(MarketKind::Spot)
        } else if n.starts_with("usdm") {
            Some(MarketKind::Usdm)
        } else if n.starts_with("cm") || n.starts_with("coinm") {
            Some(MarketKind::Coinm)
        } else {
            None
        }
    }
    fn idx(self) -> usize {
        self as usize
    }
    /// `spot`, `usdm`, `coinm` (the path prefix).
    pub fn name(self) -> &'static str {
        match self {
            MarketKind::Spot => "spot",
            MarketKind::Usdm => "usdm",
            MarketKind::Coinm => "coinm",
        }
    }
    fn depth_path(self) -> &'static str {
        match self {
            MarketKind::Spot => "/api/v3/depth",
            MarketKind::Usdm => "/fapi/v1/depth",
            MarketKind::Coinm => "/dapi/v1/depth",
        }
    }
    fn ping_every(self) -> Duration {
        match self {
            MarketKind::Spot => Duration::from_secs(20),
            _ => Duration::from_secs(180),
        }
    }
}

/// Faults to inject (each at most once). Market-data counts are stream messages sent so far;
/// order faults count `POST .../order` requests as they arrive (1-based; see the module doc).
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Close the TCP connection (no close frame) that receives stream message N.
    pub drop_after: Option<u64>,
    /// After stream message N, send nothing (no data, no pings) for `stall_ns`.
    pub stall_after: Option<u64>,
    /// Length of the stall, ns.
    pub stall_ns: u64,
    /// After stream message N, send a frame with reserved bits set (protocol error).
    pub malformed_after: Option<u64>,
    /// After stream message N, send a text frame with truncated JSON.
    pub bad_json_after: Option<u64>,
    /// Do not send the first depth diff after N depth diffs (a sequence gap).
    pub skip_diff_after: Option<u64>,
    /// Order faults count only this market's orders (default: all markets).
    pub order_fault_market: Option<MarketKind>,
    /// Reject order N with `reject_code`.
    pub reject_order: Option<u64>,
    /// Error code of the reject (0 = -2010).
    pub reject_code: i32,
    /// Message of the reject (default: Binance's text for the code).
    pub reject_msg: Option<String>,
    /// Answer order N with 429 and `Retry-After: fault_retry_after_s`.
    pub order_429: Option<u64>,
    /// Answer order N with 418 (an IP ban of `fault_retry_after_s`).
    pub order_418: Option<u64>,
    /// `Retry-After` / ban length of the 429 and 418 faults, seconds (0 = 1).
    pub fault_retry_after_s: u64,
    /// Swallow order N: no answer, connection kept open, order not placed.
    pub swallow_order: Option<u64>,
    /// Answer order N `delay_ms` late (processed at once).
    pub delay_order: Option<u64>,
    /// The delay of `delay_order`, ms.
    pub delay_ms: u64,
    /// Order N: answer NEW with nothing executed; fills only on the user stream.
    pub stream_only_fill: Option<u64>,
    /// Process order N, then close the connection without answering.
    pub disconnect_order: Option<u64>,
    /// Order N fills at most half its quantity, the rest expires.
    pub partial_fill_order: Option<u64>,
    /// Process order N, answer HTTP 503 (execution status unknown).
    pub order_503: Option<u64>,
    /// Server clock shift, ms (all requests and events).
    pub clock_skew_ms: i64,
    /// After order request N is answered, change every account's free balance of an asset on
    /// a market by a signed amount, without a trade or a balance event: a planted difference
    /// the engine's live reconciliation must find (R5.1).
    pub plant_balance: Option<PlantBalance>,
}

/// A balance change planted in the loopback exchange's accounts ([`Faults::plant_balance`]).
#[derive(Clone, Debug, PartialEq)]
pub struct PlantBalance {
    /// After this order request (1-based, counted as the order faults count).
    pub after_order: u64,
    /// Market of the account.
    pub market: MarketKind,
    /// Asset, upper case.
    pub asset: String,
    /// Signed change, 10⁻⁸ units.
    pub delta_e8: i64,
}

impl PlantBalance {
    /// From `MARKET:ASSET:DELTA:AFTER_ORDER` (e.g. `spot:USDT:50:2`).
    pub fn parse(s: &str) -> Result<PlantBalance, String> {
        let bad = || {
            format!("--plant-balance {s:?}: MARKET:ASSET:DELTA:AFTER_ORDER, e.g. spot:USDT:50:2")
        };
        let p: Vec<&str> = s.split(':').collect();
        if p.len() != 4 {
            return Err(bad());
        }
        let market = MarketKind::parse(p[0]).ok_or_else(bad)?;
        let delta: f64 = p[2].parse().map_err(|_| bad())?;
        let after_order: u64 = p[3].parse().map_err(|_| bad())?;
        if !delta.is_finite() || delta == 0.0 || after_order == 0 || p[1].is_empty() {
            return Err(bad());
        }
        Ok(PlantBalance {
            after_order,
            market,
            asset: p[1].to_ascii_uppercase(),
            delta_e8: (delta * 1e8).round() as i64,
        })
    }
}

/// Server settings.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Recordings and their markets.
    pub files: Vec<(MarketKind, PathBuf)>,
    /// Listen address (`127.0.0.1:0` = a free port).
    pub bind: SocketAddr,
    /// Speed-up of the recorded pace; `None` = as fast as possible.
    pub speed: Option<f64>,
    /// Serve TLS with a self-signed certificate.
    pub tls: bool,
    /// Where to write the certificate PEM (with `tls`).
    pub cert_out: Option<PathBuf>,
    /// Lockstep ordering across connections (see the module doc).
    pub lockstep: bool,
    /// Faults.
    pub faults: Faults,
    /// Start streaming once every served file has a subscriber, or after this long.
    pub wait_clients: Duration,
    /// Ping interval override (default: Binance's, by market).
    pub ping_every: Option<Duration>,
    /// The exchange side: keys, balances, fees, instruments, the replay gate.
    pub exchange: ExchangeConfig,
    /// After the recording ends and the market streams are closed, keep the exchange (REST
    /// orders, accounts, user streams) up this long, books frozen at their last state: a
    /// live client cancels, queries and reconciles at the end of its run (`--linger-s`).
    pub linger: Duration,
}

/// What the server did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ServerStats {
    /// Stream messages written (per file).
    pub sent: Vec<u64>,
    /// WebSocket connections accepted.
    pub ws_connections: u64,
    /// REST snapshots served from the recording.
    pub snapshots_recorded: u64,
    /// REST snapshots made from the server's book.
    pub snapshots_synthesized: u64,
    /// Lockstep ping/pong round trips.
    pub lockstep_pings: u64,
    /// Lockstep waits that timed out.
    pub lockstep_timeouts: u64,
    /// Stream messages that found no subscriber (client disconnected at the time).
    pub unsent: u64,
    /// Faults injected, by name.
    pub faults: Vec<String>,
    /// Order requests received (`POST .../order`, every market).
    pub orders: u64,
    /// Trades (fills) made.
    pub trades: u64,
    /// Trades of resting orders filled by the replayed book.
    pub resting_fills: u64,
    /// Order faults injected.
    pub order_faults: Vec<String>,
    /// Every order received, with what it executed (`--ledger-out` writes it as JSON lines;
    /// not in the one-line summary).
    #[serde(skip)]
    pub ledger: Vec<LedgerOrder>,
}

/// One order in the exchange's ledger at the end of a run. Quantities in the instrument's
/// units (COIN-M: contracts), amounts in the asset's units.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LedgerOrder {
    /// `spot`, `usdm` or `coinm`.
    pub market: &'static str,
    /// Exchange symbol.
    pub symbol: String,
    /// The client's `newClientOrderId`.
    pub client_order_id: String,
    /// The exchange's order id.
    pub order_id: u64,
    /// `BUY` / `SELL`.
    pub side: &'static str,
    /// Binance status at the end (`FILLED`, `EXPIRED`, ...).
    pub status: &'static str,
    /// Ordered quantity.
    pub qty: f64,
    /// Executed quantity.
    pub executed_qty: f64,
    /// Quote notional executed (spot, USDⓈ-M).
    pub cum_quote: f64,
    /// Base amount executed (COIN-M `cumBase`).
    pub cum_base: f64,
    /// Trades (executions).
    pub trades: usize,
    /// Commission per asset.
    pub fees: Vec<(String, f64)>,
}

/// A running server.
pub struct Server {
    addr: SocketAddr,
    cert_pem: Option<String>,
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<Result<ServerStats, String>>>,
    ex: Arc<exchange::Exchange>,
}

impl Server {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// `ws://addr` or `wss://addr`.
    pub fn ws_base(&self) -> String {
        format!(
            "{}://{}",
            if self.cert_pem.is_some() { "wss" } else { "ws" },
            self.addr
        )
    }
    /// `http://addr` or `https://addr`.
    pub fn http_base(&self) -> String {
        format!(
            "{}://{}",
            if self.cert_pem.is_some() {
                "https"
            } else {
                "http"
            },
            self.addr
        )
    }
    /// The certificate PEM (TLS only).
    pub fn cert_pem(&self) -> Option<&str> {
        self.cert_pem.as_deref()
    }
    /// The API key of the first account (the one orders use by default).
    pub fn api_key(&self) -> &str {
        &self.ex.keys[0].0
    }
    /// Recorded messages processed so far (every line of every served file, in merged order;
    /// the snapshot lines included).
    pub fn replay_position(&self) -> u64 {
        self.ex.position()
    }
    /// Let the replay run to message `n` (exclusive) and wait until it got there (or the
    /// recording ended, or 60 s passed); returns the position.
    pub fn advance_to(&self, n: u64) -> u64 {
        self.ex.set_gate(Some(n));
        let t = std::time::Instant::now();
        while self.ex.position() < n
            && t.elapsed() < Duration::from_secs(60)
            && !self.handle.as_ref().is_none_or(|h| h.is_finished())
        {
            std::thread::sleep(Duration::from_micros(200));
        }
        self.ex.position()
    }
    /// Hold the replay before message `n` (it stops there if it has not passed it).
    pub fn hold_at(&self, n: u64) {
        self.ex.set_gate(Some(n));
    }
    /// Let the replay run freely.
    pub fn release(&self) {
        self.ex.set_gate(None);
    }
    /// Ask the server to stop early.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
    /// Wait until the recording has been served (and the connections closed).
    pub fn join(mut self) -> Result<ServerStats, String> {
        match self.handle.take() {
            Some(h) => h.join().map_err(|_| "replay server panicked".to_string())?,
            None => Err("already joined".into()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Load the recordings and start serving on `cfg.bind` (returns once listening).
pub fn start(cfg: ServerConfig) -> Result<Server, String> {
    if cfg.files.is_empty() {
        return Err("no recordings to serve".into());
    }
    let (items, info) = load(&cfg.files)?;
    let listener = TcpListener::bind(cfg.bind).map_err(|e| format!("bind {}: {e}", cfg.bind))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let (cert_pem, tls) = if cfg.tls {
        let (pem, sc) = crate::net::tls::self_signed_server()?;
        if let Some(p) = &cfg.cert_out {
            std::fs::write(p, &pem).map_err(|e| format!("{}: {e}", p.display()))?;
        }
        (Some(pem), Some(sc))
    } else {
        (None, None)
    };
    let n = info.len();
    let mut recorded = vec![None; n];
    for it in &items {
        if matches!(it.kind, Kind::Snapshot) && recorded[it.file].is_none() {
            recorded[it.file] = Some(it.text.clone());
        }
    }
    let mut ex = exchange::Exchange::new(cfg.exchange.clone(), &info, &cfg.faults)?;
    ex.user_ping = cfg.ping_every;
    let ex = Arc::new(ex);
    let shared = Arc::new(Shared {
        st: Mutex::new(SnapState {
            books: (0..n).map(|_| None).collect(),
            at_snapshot: vec![false; n],
            passed: vec![false; n],
            recorded_served: vec![false; n],
            waiting: vec![0; n],
            recorded,
            ..SnapState::default()
        }),
        cv: Condvar::new(),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel::<NewConn>();
    let info = Arc::new(info);
    {
        let (stop, shared, info, ex) = (stop.clone(), shared.clone(), info.clone(), ex.clone());
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        std::thread::Builder::new()
            .name("replay-accept".into())
            .spawn(move || accept_loop(listener, tls, tx, shared, info, ex, stop))
            .map_err(|e| e.to_string())?;
    }
    let (stop2, ex2) = (stop.clone(), ex.clone());
    let handle = std::thread::Builder::new()
        .name("replay-dispatch".into())
        .spawn(move || Ok(dispatch::dispatch(cfg, items, info, shared, rx, ex2, stop2)))
        .map_err(|e| e.to_string())?;
    Ok(Server {
        addr,
        cert_pem,
        stop,
        handle: Some(handle),
        ex,
    })
}

fn accept_loop(
    l: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    tx: mpsc::Sender<NewConn>,
    shared: Arc<Shared>,
    info: Arc<Vec<FileInfo>>,
    ex: Arc<exchange::Exchange>,
    stop: Arc<AtomicBool>,
) {
    loop {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        match l.accept() {
            Ok((s, _)) => {
                let (tls, tx, shared, info, ex, stop) = (
                    tls.clone(),
                    tx.clone(),
                    shared.clone(),
                    info.clone(),
                    ex.clone(),
                    stop.clone(),
                );
                let _ = std::thread::Builder::new()
                    .name("replay-conn".into())
                    .spawn(move || {
                        let _ = http::serve_conn(s, tls, tx, shared, info, ex, stop);
                    });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(2))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}
