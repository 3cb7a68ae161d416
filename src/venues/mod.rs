//! Exchange adapters and the venue registry.
//!
//! Every venue folder has the same files: `mod.rs` (the [`Venue`] adapter and the venue's
//! [`handler::WireFormat`]), `wire.rs` (message formats, real samples, doc links; a venue that
//! speaks two protocols has `wire/` with one module per protocol, named as in the config's
//! `protocol` key: Bybit `wire/v5.rs` + `wire/v2.rs`, Kraken `wire/v2.rs` + `wire/v1.rs`,
//! Coinbase `wire/advanced_trade.rs` + `wire/exchange.rs`, Bithumb `wire/v1.rs` +
//! `wire/legacy.rs`), `book.rs` (sync rules), `instruments.rs` (specs from the venue's
//! instrument endpoint), `protocol.rs` (live connection: URL, subscriptions, keep-alive) and
//! `orders.rs` (request signing for every venue, over the shared [`signing`]; order encoding
//! and account calls where order entry exists: Binance so far).
//!
//! What the venues share: [`handler`] (the one handler shape: [`handler::Handler`] over a
//! venue's [`handler::WireFormat`] and per-instrument [`handler::SyncState`], the error tally,
//! event emission), [`symbols`] (the instrument table), [`wire_util`] (buffers, limits, the wire
//! error, trades, and the serde seeds every parser is built from), [`seq_book`] (snapshot +
//! buffered diffs for the venues that number their updates), [`raw_json`] and [`mod@crate::book::checksum`] (in `book`).
//!
//! # The registry
//! [`Exchange`] is the one list of exchanges this build speaks; the `registry!` invocation
//! below generates it and its dispatch table from one line per venue. A config names a venue's
//! exchange (`exchange = "okx"`); [`configure`] turns that venue's [`VenueOptions`] into the
//! venue's typed parameters (validated once, at config load) behind the [`Venue`] trait, which
//! gives everything else the engine needs of a venue: instrument-file parsing, the market-data
//! handler, the live connection protocol, order entry ([`order_entry`]). No exchange name is
//! matched as a string anywhere else, and venue code never reads the config: it sees a
//! [`VenueCtx`].
//!
//! # Adding a venue: the checklist
//! 1. A folder `src/venues/<name>/` with the same files as the others: `wire.rs` (raw formats
//!    with a real sample and the doc URL of each message), `book.rs` (its sync rules: a
//!    [`handler::SyncState`], on top of [`seq_book`] where the venue numbers its updates),
//!    `instruments.rs`, `protocol.rs` (a [`crate::feed::protocol::VenueProtocol`]), `orders.rs`
//!    once it trades (its [`OrderEntry`] and [`AccountApi`]), and `mod.rs` with its
//!    [`handler::WireFormat`] (the handler is [`handler::Handler`] over it), its typed
//!    parameters and
//!    `pub fn configure(&VenueOptions) -> Result<Arc<dyn Venue>, KeyError>`.
//! 2. One line in the `registry!` invocation below: `Variant => module, "config-name";`.
//! 3. Recordings of the venue through `arbot verify-book` (book equal to the exchange's
//!    checksums or BBO), a handler test table of real messages (malformed ones included), and
//!    a row in the README's feature table.
#![forbid(unsafe_code)]

pub mod binance;
pub mod bitget;
pub mod bithumb;
pub mod bybit;
pub mod coinbase;
pub mod gateio;
pub mod handler;
pub mod kraken;
pub mod kucoin;
pub mod okx;
pub mod order_entry;
pub mod raw_json;
pub mod seq_book;
pub mod signing;
pub mod symbols;
#[cfg(test)]
pub(crate) mod testing;
pub mod upbit;
pub mod wire_util;

use crate::feed::protocol::VenueProtocol;
use crate::feed::{VenueCounters, VenueHandler};
use crate::instrument::{InstrumentDef, InstrumentSpec};
use crate::types::{InstrumentId, VenueId};
pub use order_entry::{AccountApi, OrderEntry};
use std::sync::Arc;

macro_rules! registry {
    ($($variant:ident => $module:ident, $name:literal;)*) => {
        /// An exchange this build speaks: `exchange = "<name>"` in a venue's config.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Exchange {
            $(
                #[doc = concat!("`", $name, "` (module [`", stringify!($module), "`]).")]
                $variant,
            )*
        }

        impl Exchange {
            /// Every exchange, in registry order.
            pub const ALL: &'static [Exchange] = &[$(Exchange::$variant),*];

            /// The config spelling (`"binance"`, `"okx"`, ...).
            pub fn name(self) -> &'static str {
                match self {
                    $(Exchange::$variant => $name,)*
                }
            }

            /// From the config spelling; `None` for an exchange this build does not speak.
            pub fn parse(s: &str) -> Option<Exchange> {
                match s {
                    $($name => Some(Exchange::$variant),)*
                    _ => None,
                }
            }

            fn configure_venue(self, o: &VenueOptions) -> Result<Arc<dyn Venue>, KeyError> {
                match self {
                    $(Exchange::$variant => $module::configure(o),)*
                }
            }
        }
    };
}

registry! {
    Binance => binance, "binance";
    Okx => okx, "okx";
    Bybit => bybit, "bybit";
    Coinbase => coinbase, "coinbase";
    Kraken => kraken, "kraken";
    Upbit => upbit, "upbit";
    Bithumb => bithumb, "bithumb";
    Kucoin => kucoin, "kucoin";
    Gateio => gateio, "gateio";
    Bitget => bitget, "bitget";
}

impl Exchange {
    /// The config spellings of every exchange, comma-separated (for error messages and `--help`).
    pub fn names() -> String {
        Exchange::ALL
            .iter()
            .map(|e| e.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl std::fmt::Display for Exchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Exchange {
    type Err = String;
    fn from_str(s: &str) -> Result<Exchange, String> {
        Exchange::parse(s)
            .ok_or_else(|| format!("unknown exchange {s:?} (supported: {})", Exchange::names()))
    }
}

impl serde::Serialize for Exchange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Exchange {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Exchange, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The keys of a `[venues.<name>]` config section that venue code reads (everything about
/// the wire; fees, balances and latencies belong to the engine). Built by the config loader.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VenueOptions {
    /// The venue's name in the config (for messages).
    pub name: String,
    /// `market`: which market of a multi-market exchange (Binance `spot`/`usdm`/`coinm`,
    /// Bybit `spot`/`linear`/`inverse`).
    pub market: Option<String>,
    /// `protocol`: wire protocol version where the exchange speaks several (Bybit `v5`/`v2`,
    /// Kraken `v2`/`v1`, Coinbase `advanced-trade`/`exchange`, Bithumb `v1`/`legacy`).
    pub protocol: Option<String>,
    /// `book_depth`: depth to subscribe where the exchange asks for one.
    pub book_depth: Option<u32>,
    /// `book_levels`: levels kept per book side.
    pub book_levels: usize,
    /// `depth_stream`: Binance diff-depth stream name.
    pub depth_stream: Option<String>,
    /// `snapshot_limit`: levels asked for in a REST depth snapshot.
    pub snapshot_limit: u32,
    /// `ws_url`: WebSocket base URL override (loopback servers).
    pub ws_url: Option<String>,
    /// `rest_url`: REST base URL override.
    pub rest_url: Option<String>,
}

/// A venue config key with a bad value: `key` is relative to `[venues.<name>]`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {msg}")]
pub struct KeyError {
    /// The key (`market`, `book_depth`, ...).
    pub key: &'static str,
    /// What is wrong and what would be right.
    pub msg: String,
}

impl KeyError {
    /// An error about `key`.
    pub fn new(key: &'static str, msg: impl Into<String>) -> KeyError {
        KeyError {
            key,
            msg: msg.into(),
        }
    }
}

/// One configured venue as venue code sees it: its id and options, and the engine's
/// instrument table (of which it serves the instruments whose `venue` is `id`).
#[derive(Clone, Copy, Debug)]
pub struct VenueCtx<'a> {
    /// The venue's id.
    pub id: VenueId,
    /// Its wire options.
    pub options: &'a VenueOptions,
    /// Every instrument of the run, indexed by [`InstrumentId`].
    pub instruments: &'a [InstrumentSpec],
}

impl<'a> VenueCtx<'a> {
    /// The venue's name in the config.
    pub fn name(&self) -> &'a str {
        &self.options.name
    }

    /// This venue's instruments, in id order.
    pub fn instruments(&self) -> impl Iterator<Item = &'a InstrumentSpec> + 'a {
        let id = self.id;
        self.instruments.iter().filter(move |i| i.venue == id)
    }

    /// This venue's instruments as (engine id, exchange symbol), in id order.
    pub fn symbols(&self) -> Vec<(InstrumentId, String)> {
        self.instruments()
            .map(|i| (i.id, i.symbol.clone()))
            .collect()
    }

    /// This venue's instruments as handler references (wire symbol + scale), in id order.
    pub fn instrument_refs(&self) -> Vec<symbols::InstrumentRef> {
        self.instruments()
            .map(|i| symbols::InstrumentRef {
                id: i.id,
                symbol: i.symbol.clone(),
                scale: wire_util::Scale {
                    price_dec: i.price_dec,
                    qty_dec: i.qty_dec,
                },
            })
            .collect()
    }

    /// A message about this venue: `venue <name>: <msg>`.
    pub fn err(&self, msg: impl std::fmt::Display) -> String {
        format!("venue {}: {msg}", self.name())
    }
}

/// One order to encode. Prices/quantities are instrument-scaled integers with their decimals.
#[derive(Clone, Copy, Debug)]
pub struct OrderFields<'a> {
    /// Exchange symbol.
    pub symbol: &'a str,
    /// Buy or sell.
    pub side: crate::types::Side,
    /// Type / time in force.
    pub kind: OrderKind,
    /// Quantity, at `qty_dec`.
    pub qty: i64,
    /// Quantity decimals.
    pub qty_dec: u32,
    /// Limit price, at `price_dec` (ignored for market orders).
    pub px: i64,
    /// Price decimals.
    pub price_dec: u32,
    /// Our order id (the venue's client order id field).
    pub client_id: u64,
    /// Request time, ms since the epoch.
    pub timestamp_ms: u64,
    /// How long the venue may still accept the request, ms (Binance `recvWindow`).
    pub recv_window_ms: u32,
    /// Proof that an approval is being consumed: only the execution step can make one.
    pub token: &'a crate::exec::SendToken,
}

/// API credentials of one venue, from the environment only (`ARBOT_<EXCHANGE>_API_KEY`,
/// `_API_SECRET`, `_API_PASSPHRASE`). `Debug` never prints them.
#[derive(Clone, Default)]
pub struct Credentials {
    /// API key (sent in a header).
    pub api_key: String,
    /// Secret (signs; never sent, never printed).
    pub secret: Vec<u8>,
    /// Passphrase where the venue has one.
    pub passphrase: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(..)")
    }
}

impl Credentials {
    /// The environment variable names for `ex`: `ARBOT_<EXCHANGE>_API_KEY`, `_API_SECRET`,
    /// `_API_PASSPHRASE`.
    pub fn env_names(ex: Exchange) -> [String; 3] {
        let up = ex.name().to_ascii_uppercase();
        [
            format!("ARBOT_{up}_API_KEY"),
            format!("ARBOT_{up}_API_SECRET"),
            format!("ARBOT_{up}_API_PASSPHRASE"),
        ]
    }

    /// Read them from the environment; `Err` names the missing variable (never its value).
    pub fn from_env(ex: Exchange, need_passphrase: bool) -> Result<Credentials, String> {
        let [k, s, p] = Credentials::env_names(ex);
        let get = |n: &str| -> Result<String, String> {
            match std::env::var(n) {
                Ok(v) if !v.is_empty() => Ok(v),
                _ => Err(format!("{n} is not set (live trading on {ex} needs it)")),
            }
        };
        Ok(Credentials {
            api_key: get(&k)?,
            secret: get(&s)?.into_bytes(),
            passphrase: if need_passphrase {
                Some(get(&p)?)
            } else {
                std::env::var(&p).ok().filter(|v| !v.is_empty())
            },
        })
    }
}

/// A request for `arbot sign`: what to sign, with a fixed time (and nonce where the venue
/// uses one) so the output can be compared with another implementation's.
#[derive(Clone, Debug, Default)]
pub struct SignRequest {
    /// HTTP method (`GET`, `POST`, `DELETE`, `PUT`).
    pub method: String,
    /// Path (`/api/v3/order`).
    pub path: String,
    /// Query string without `?` (may be empty).
    pub query: String,
    /// Body (may be empty).
    pub body: String,
    /// Request time, ms since the epoch.
    pub timestamp_ms: u64,
    /// Nonce, where the venue signs one.
    pub nonce: Option<String>,
    /// `Host` header (default: the venue's public REST host).
    pub host: Option<String>,
}

/// Order type and time in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderKind {
    /// Limit, immediate-or-cancel, at a limit price.
    LimitIoc,
    /// Market (no price).
    Market,
}

/// A configured venue: the typed parameters of one `[venues.<name>]` section of one exchange,
/// resolved at config load, and what the engine builds from them. Made by [`configure`].
pub trait Venue: Send + Sync + std::fmt::Debug {
    /// Which exchange.
    fn exchange(&self) -> Exchange;

    /// Instrument specs from the venue's instrument-endpoint response (raw JSON, or the
    /// recorded `URL -> t: body` line of a cryptofeed `NAME.0` file).
    fn parse_instruments(&self, venue_name: &str, text: &str)
        -> Result<Vec<InstrumentDef>, String>;

    /// The market-data handler (parser + book-sync rules) for the venue's instruments.
    fn handler(
        &self,
        ctx: &VenueCtx<'_>,
        counters: Arc<VenueCounters>,
    ) -> Result<Box<dyn VenueHandler>, String>;

    /// The live connection protocol (URLs, subscriptions, keep-alive, snapshot URLs,
    /// resubscribe frames), with the `ws_url`/`rest_url` overrides applied.
    fn protocol(&self, ctx: &VenueCtx<'_>) -> Result<Box<dyn VenueProtocol>, String>;

    /// True where the venue's best bid/offer events carry an update id in the same space as
    /// its depth updates (Binance `bookTicker` `u`), so the book can tell which is newer by id.
    fn bbo_shares_book_seq(&self) -> bool {
        false
    }

    /// Order entry signing with `api_key`/`secret` for the venue's instruments, or `None` where
    /// order entry is not built for this venue yet (such a venue can feed market data, not
    /// trade).
    fn order_entry(
        &self,
        _ctx: &VenueCtx<'_>,
        _api_key: &str,
        _secret: &[u8],
    ) -> Option<Box<dyn OrderEntry>> {
        None
    }

    /// The exact signed HTTP request (request line, headers, blank line, body) for `r` with
    /// `creds`, as order entry would send it: `arbot sign`, the tool for "invalid signature".
    fn sign_request(&self, _creds: &Credentials, _r: &SignRequest) -> Result<Vec<u8>, String> {
        Err(format!("signing is not built for {} yet", self.exchange()))
    }

    /// The venue's account calls (cold side) with these credentials, or `None` where order
    /// entry is not built. `Err` when the client cannot be made (a bad CA file, a bad URL).
    fn account_api(
        &self,
        _ctx: &VenueCtx<'_>,
        _creds: &Credentials,
        _recv_window_ms: u32,
        _ca_file: Option<&std::path::Path>,
    ) -> Option<Result<Box<dyn AccountApi>, String>> {
        None
    }
}

/// Resolve one venue's options into its typed adapter. Errors name the key.
pub fn configure(exchange: Exchange, options: &VenueOptions) -> Result<Arc<dyn Venue>, KeyError> {
    exchange.configure_venue(options)
}

/// Exchanges with a single market: `market` must be absent.
pub(crate) fn no_market(ex: Exchange, o: &VenueOptions) -> Result<(), KeyError> {
    match &o.market {
        None => Ok(()),
        Some(m) => Err(KeyError::new(
            "market",
            format!("{ex} has one market; remove `market = {m:?}`"),
        )),
    }
}

/// `protocol` must be absent for exchanges that speak one protocol.
pub(crate) fn no_protocol(ex: Exchange, o: &VenueOptions) -> Result<(), KeyError> {
    match &o.protocol {
        None => Ok(()),
        Some(p) => Err(KeyError::new(
            "protocol",
            format!("{ex} speaks one protocol; remove `protocol = {p:?}`"),
        )),
    }
}

/// `book_depth` must be absent for exchanges that do not subscribe by depth.
pub(crate) fn no_depth(ex: Exchange, o: &VenueOptions, why: &str) -> Result<(), KeyError> {
    match o.book_depth {
        None => Ok(()),
        Some(_) => Err(KeyError::new(
            "book_depth",
            format!("not used for {ex} ({why})"),
        )),
    }
}

/// The body of one recorded REST response line `URL -> t: body` (the `NAME.0` files), or the
/// line itself when it is already a raw JSON body.
pub fn recorded_body(line: &str) -> Result<&str, String> {
    let t = line.trim();
    if t.starts_with('{') || t.starts_with('[') {
        return Ok(t);
    }
    match t.find(" -> ") {
        Some(i) => t[i..]
            .split_once(": ")
            .map(|(_, b)| b.trim())
            .ok_or_else(|| "recorded line without ': ' before the body".to_string()),
        None => Err(format!(
            "neither a JSON body nor a recorded `URL -> t: body` line: {:?}",
            t.chars().take(60).collect::<String>()
        )),
    }
}

/// A venue protocol with the config's `ws_url` override applied (for venues whose URL is
/// fixed, e.g. to point them at a loopback server) and per-instrument resubscribe frames
/// built from the venue's own `resubscribe(symbol, id)`.
pub(crate) struct Adapted<P> {
    p: P,
    url: Option<String>,
    symbols: Vec<(InstrumentId, String)>,
    resub: fn(&P, &str, InstrumentId) -> Vec<String>,
}

impl<P: VenueProtocol> VenueProtocol for Adapted<P> {
    fn ws_urls(&self) -> Vec<String> {
        match &self.url {
            Some(u) => vec![u.clone()],
            None => self.p.ws_urls(),
        }
    }
    fn subscribe_frames(&self, conn: usize) -> Vec<String> {
        self.p.subscribe_frames(conn)
    }
    fn app_ping(&self) -> crate::feed::protocol::AppPing {
        self.p.app_ping()
    }
    fn is_keepalive(&self, frame: &[u8]) -> bool {
        self.p.is_keepalive(frame)
    }
    fn snapshot_url(&self, i: InstrumentId) -> Option<String> {
        self.p.snapshot_url(i)
    }
    fn max_connection_age(&self) -> Option<std::time::Duration> {
        self.p.max_connection_age()
    }
    fn resubscribe_frames(&self, i: InstrumentId) -> Vec<String> {
        match self.symbols.iter().find(|(id, _)| *id == i) {
            Some((_, s)) => (self.resub)(&self.p, s, i),
            None => Vec::new(),
        }
    }
    fn pre_connect(&self) -> Option<crate::feed::protocol::PreConnect> {
        self.p.pre_connect()
    }
    fn plan_connect(&self, r: &[u8]) -> Result<crate::feed::protocol::ConnectPlan, String> {
        let mut plan = self.p.plan_connect(r)?;
        if let Some(u) = &self.url {
            plan.urls = vec![u.clone()];
        }
        Ok(plan)
    }
}

/// Wrap `p` with the venue's `ws_url` override and resubscribe frames for `symbols`.
pub(crate) fn adapt<P: VenueProtocol + 'static>(
    p: P,
    ctx: &VenueCtx<'_>,
    symbols: Vec<(InstrumentId, String)>,
    resub: fn(&P, &str, InstrumentId) -> Vec<String>,
) -> Box<dyn VenueProtocol> {
    Box::new(Adapted {
        p,
        url: ctx.options.ws_url.clone(),
        symbols,
        resub,
    })
}

#[cfg(test)]
mod protocol_tests {
    use crate::config::{parse, resolve};
    use crate::types::InstrumentId;

    fn setup(exchange: &str, extra: &str, symbol: &str) -> crate::config::Setup {
        let text = format!(
            r#"
mode = "paper"
[venues.x]
exchange = "{exchange}"
taker_fee_bps = 10.0
book_levels = 5000
{extra}
[[instruments]]
venue = "x"
symbol = "{symbol}"
base = "BTC"
quote = "USDT"
tick_size = "0.1"
lot_size = "0.001"
"#
        );
        resolve(parse(&text, "t").unwrap(), std::path::Path::new("."))
            .unwrap_or_else(|e| panic!("{exchange}: {e}"))
    }

    fn proto(
        s: &crate::config::Setup,
    ) -> Result<Box<dyn crate::feed::protocol::VenueProtocol>, String> {
        s.venues[0]
            .adapter
            .protocol(&s.venue_ctx(crate::types::VenueId(0)))
    }

    #[test]
    fn registry_names_round_trip() {
        for &e in super::Exchange::ALL {
            assert_eq!(super::Exchange::parse(e.name()), Some(e));
            assert_eq!(e.name().parse::<super::Exchange>(), Ok(e));
        }
        assert_eq!(super::Exchange::ALL.len(), 10);
        let e = "mtgox".parse::<super::Exchange>().unwrap_err();
        assert!(
            e.contains("mtgox") && e.contains("binance") && e.contains("bitget"),
            "{e}"
        );
    }

    #[test]
    fn every_exchange_has_a_live_protocol() {
        let cases = [
            ("binance", "market = \"spot\"", "BTCUSDT"),
            ("okx", "", "BTC-USDT"),
            ("bybit", "market = \"spot\"", "BTCUSDT"),
            ("coinbase", "", "BTC-USD"),
            ("kraken", "", "XBT/USD"),
            ("upbit", "", "KRW-BTC"),
            ("bithumb", "", "KRW-BTC"),
            ("kucoin", "", "BTC-USDT"),
            ("gateio", "", "BTC_USDT"),
            ("bitget", "", "BTCUSDT"),
        ];
        for (ex, extra, sym) in cases {
            let s = setup(ex, extra, sym);
            let p = proto(&s).unwrap_or_else(|e| panic!("{ex}: {e}"));
            if ex == "kucoin" {
                // the endpoint and token come from a REST call made before connecting
                let pc = p.pre_connect().expect("kucoin pre-connect");
                assert!(pc.url.contains("bullet-public"), "{}", pc.url);
                continue;
            }
            let urls = p.ws_urls();
            assert!(
                !urls.is_empty() && urls.iter().all(|u| u.starts_with("wss://")),
                "{ex}: {urls:?}"
            );
            // Binance names its streams in the URL; the others subscribe with frames
            let frames: Vec<String> = (0..urls.len())
                .flat_map(|k| p.subscribe_frames(k))
                .collect();
            assert!(
                ex == "binance" || !frames.is_empty(),
                "{ex}: no subscription"
            );
        }
    }

    #[test]
    fn ws_url_override_and_resubscribe() {
        let s = setup("okx", "ws_url = \"ws://127.0.0.1:9/okx\"", "BTC-USDT");
        let p = proto(&s).unwrap();
        assert_eq!(p.ws_urls(), vec!["ws://127.0.0.1:9/okx".to_string()]);
        let f = p.resubscribe_frames(InstrumentId(0));
        assert_eq!(f.len(), 2);
        assert!(
            f[0].contains("unsubscribe")
                && f[0].contains("BTC-USDT")
                && f[1].contains("\"subscribe\""),
            "{f:?}"
        );
        assert!(
            p.resubscribe_frames(InstrumentId(9)).is_empty(),
            "unknown instrument"
        );
        assert!(p.is_keepalive(b"pong"));
        // Kraken v2 resubscribes under its v2 name
        let s = setup("kraken", "", "XBT/USD");
        let p = proto(&s).unwrap();
        let f = p.resubscribe_frames(InstrumentId(0)).join(" ");
        assert!(f.contains("BTC/USD"), "{f}");
    }
}
