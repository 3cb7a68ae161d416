//! Helpers of the loopback-exchange tests (tests/loopback_exchange.rs): a plain blocking
//! HTTP/1.1 client over `std::net::TcpStream` that signs requests the way Binance documents
//! (hex HMAC-SHA256 of query string ++ body), a user-data-stream reader over tungstenite, an
//! exchange started in-process on a real recording and held at a replay position, and an
//! independent rebuild of the recorded book (the engine's Binance handler and books, fed the
//! file's first N lines) to compute what an order should get.
#![allow(dead_code)]

use super::common;
use arbot::book::{L2Book, Market};
use arbot::event::MdEvent;
use arbot::feed::{tag, EventSink, VenueCounters, VenueHandler};
use arbot::ring::RawMeta;
use arbot::tools::replay_server::{ExchangeConfig, Faults, MarketKind, Server, ServerConfig};
use arbot::types::{InstrumentId, Side, VenueId};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Wall clock, ms.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Lower-case hex HMAC-SHA256.
pub fn sign(secret: &str, payload: &str) -> String {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    ring::hmac::sign(&k, payload.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, k: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(x, _)| x.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }
    /// `(status, code)` of an error answer.
    pub fn err(&self) -> (u16, i64) {
        (self.status, self.json()["code"].as_i64().unwrap_or(0))
    }
}

/// One kept-alive HTTP/1.1 connection.
pub struct Http {
    pub r: BufReader<TcpStream>,
    pub w: TcpStream,
}

impl Http {
    pub fn connect(addr: SocketAddr) -> Http {
        let s = TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Http {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
        }
    }

    /// Write a request (without reading the answer).
    pub fn send(&mut self, method: &str, target: &str, headers: &[(&str, &str)], body: &str) {
        let mut req = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if !body.is_empty() {
            req.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
        }
        req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        self.w.write_all(req.as_bytes()).unwrap();
    }

    /// Read one answer; `Err` on timeout or a closed connection.
    pub fn read(&mut self) -> std::io::Result<Resp> {
        let mut line = String::new();
        if self.r.read_line(&mut line)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "closed",
            ));
        }
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            self.r.read_line(&mut h)?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let n: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; n];
        self.r.read_exact(&mut body)?;
        Ok(Resp {
            status,
            headers,
            body: String::from_utf8(body).unwrap(),
        })
    }

    pub fn request(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Resp {
        self.send(method, target, headers, body);
        self.read().unwrap()
    }
}

/// A signing Binance client for one market of the loopback server.
pub struct Client {
    pub http: Http,
    pub key: String,
    pub secret: String,
    /// `/spot`, `/usdm`, `/coinm`.
    pub prefix: String,
    /// Added to the local clock for `timestamp` (a client that synced with the server).
    pub offset_ms: i64,
}

impl Client {
    pub fn new(addr: SocketAddr, market: &str) -> Client {
        Client {
            http: Http::connect(addr),
            key: arbot::tools::replay_server::DOC_API_KEY.into(),
            secret: arbot::tools::replay_server::DOC_API_SECRET.into(),
            prefix: format!("/{market}"),
            offset_ms: 0,
        }
    }

    /// `params` + `timestamp` + `signature`: in the body for POST, in the query otherwise.
    pub fn signed_request(&mut self, method: &str, path: &str, params: &str) -> (String, String) {
        let ts = (now_ms() as i64 + self.offset_ms) as u64;
        let mut p = params.to_string();
        if !p.is_empty() {
            p.push('&');
        }
        p.push_str(&format!("timestamp={ts}"));
        let sig = sign(&self.secret, &p);
        let full = format!("{p}&signature={sig}");
        if method == "POST" {
            (format!("{}{path}", self.prefix), full)
        } else {
            (format!("{}{path}?{full}", self.prefix), String::new())
        }
    }

    pub fn signed(&mut self, method: &str, path: &str, params: &str) -> Resp {
        let (target, body) = self.signed_request(method, path, params);
        let key = self.key.clone();
        self.http
            .request(method, &target, &[("X-MBX-APIKEY", &key)], &body)
    }

    pub fn public(&mut self, path: &str) -> Resp {
        let target = format!("{}{path}", self.prefix);
        self.http.request("GET", &target, &[], "")
    }

    pub fn key_only(&mut self, method: &str, path: &str, params: &str) -> Resp {
        let target = if params.is_empty() {
            format!("{}{path}", self.prefix)
        } else {
            format!("{}{path}?{params}", self.prefix)
        };
        let key = self.key.clone();
        self.http
            .request(method, &target, &[("X-MBX-APIKEY", &key)], "")
    }
}

/// A user-data stream.
pub struct UserStream {
    pub ws: tungstenite::WebSocket<TcpStream>,
}

impl UserStream {
    pub fn connect(addr: SocketAddr, market: &str, key: &str) -> UserStream {
        let s = TcpStream::connect(addr).unwrap();
        let (ws, _) = tungstenite::client(format!("ws://{addr}/{market}/ws/{key}"), s).unwrap();
        ws.get_ref()
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        UserStream { ws }
    }

    /// The next event within `t`, if any.
    pub fn next(&mut self, t: Duration) -> Option<Value> {
        let end = Instant::now() + t;
        while Instant::now() < end {
            match self.ws.read() {
                Ok(tungstenite::Message::Text(x)) => {
                    return Some(serde_json::from_str(x.as_str()).unwrap())
                }
                Ok(tungstenite::Message::Close(_)) => return None,
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return None,
            }
        }
        None
    }

    /// Every event until none comes for `quiet`.
    pub fn drain(&mut self, quiet: Duration) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some(v) = self.next(quiet) {
            out.push(v);
        }
        out
    }
}

pub fn file(m: MarketKind) -> std::path::PathBuf {
    common::data(match m {
        MarketKind::Spot => "binance/spot_btcusdt_20240808.gz",
        MarketKind::Usdm => "binance/usdm_btcusdt_20240808.gz",
        MarketKind::Coinm => "binance/cm_btcusd_perp_20240808.gz",
    })
}

/// A server on the full recording of `m`, held before message `hold` (as fast as the sockets
/// take once released), with `faults` and `ex` (default: the documented key, default
/// balances and fees).
pub fn server(m: MarketKind, hold: u64, faults: Faults, ex: Option<ExchangeConfig>) -> Server {
    let mut exchange = ex.unwrap_or_default();
    exchange.hold_at = Some(hold);
    let s = arbot::tools::replay_server::start(ServerConfig {
        files: vec![(m, file(m))],
        bind: "127.0.0.1:0".parse().unwrap(),
        speed: None,
        tls: false,
        cert_out: None,
        lockstep: false,
        faults,
        wait_clients: Duration::ZERO,
        ping_every: None,
        linger: Duration::ZERO,
        exchange,
    })
    .unwrap();
    assert_eq!(
        s.advance_to(hold),
        hold,
        "the replay reached the hold point"
    );
    s
}

/// The recorded book, rebuilt independently of the server: the file's lines through the
/// engine's Binance handler into the engine's books (8 decimals, like the server).
pub struct Rebuild {
    pub lines: Vec<(u64, String)>,
    pub pos: usize,
    handler: arbot::venues::binance::BinanceHandler,
    pub market: Market,
    events: Vec<MdEvent>,
}

impl Rebuild {
    pub fn new(m: MarketKind, symbol: &str) -> Rebuild {
        use arbot::instrument::{InstrumentDef, InstrumentKind};
        let (kind, quote, cs) = match m {
            MarketKind::Spot => (InstrumentKind::Spot, "USDT", None),
            MarketKind::Usdm => (InstrumentKind::LinearPerp, "USDT", None),
            MarketKind::Coinm => (InstrumentKind::InversePerp, "USD", Some("100".to_string())),
        };
        let spec = InstrumentDef {
            venue: "x".into(),
            symbol: symbol.into(),
            base: "BTC".into(),
            quote: quote.into(),
            kind,
            tick_size: "0.00000001".into(),
            lot_size: "0.00000001".into(),
            min_qty: None,
            max_qty: None,
            min_notional: None,
            contract_size: cs,
            price_decimals: Some(8),
            qty_decimals: Some(8),
        }
        .to_spec(InstrumentId(0), VenueId(0))
        .unwrap();
        let bm = match m {
            MarketKind::Spot => arbot::venues::binance::Market::Spot,
            MarketKind::Usdm => arbot::venues::binance::Market::Usdm,
            MarketKind::Coinm => arbot::venues::binance::Market::Coinm,
        };
        let handler = arbot::venues::binance::BinanceHandler::new(
            VenueId(0),
            vec![arbot::venues::symbols::InstrumentRef {
                id: InstrumentId(0),
                symbol: symbol.into(),
                scale: arbot::venues::wire_util::Scale {
                    price_dec: 8,
                    qty_dec: 8,
                },
            }],
            arbot::venues::binance::Binance::new(bm, &arbot::venues::binance::LIMITS),
            Arc::new(VenueCounters::default()),
        );
        let mut market = Market::from_specs(vec![spec], 1, &[5000]);
        market.books[0].ticker_seq_shared = true;
        Rebuild {
            lines: common::read_lines(&file(m)),
            pos: 0,
            handler,
            market,
            events: Vec::new(),
        }
    }

    /// Apply lines up to (not including) `n`.
    pub fn advance_to(&mut self, n: usize) {
        while self.pos < n {
            self.step();
        }
    }

    /// Apply one line.
    pub fn step(&mut self) {
        let (t, ref text) = self.lines[self.pos];
        let snap = text.starts_with("{\"lastUpdateId\"");
        let meta = RawMeta {
            recv_ns: t,
            tag: tag::make(0, snap, if snap { 0 } else { tag::NO_INSTRUMENT }),
            seq: self.pos as u64,
        };
        self.events.clear();
        {
            let mut sink = EventSink::to_vec(&mut self.events);
            sink.begin(VenueId(0), &meta, 0);
            self.handler.on_message(text.as_bytes(), &meta, &mut sink);
            sink.end();
        }
        for ev in &self.events {
            self.market.apply(ev, &mut |_| {});
        }
        self.pos += 1;
    }

    pub fn book(&self) -> &L2Book {
        &self.market.books[0]
    }

    /// The levels a taker on `side` meets now, best first (price, qty at 10⁻⁸).
    pub fn levels(&self, side: Side, n: usize) -> Vec<(i64, i64)> {
        let mut v = Vec::new();
        self.book().walk(side, |p, q| {
            v.push((p.0, q.0));
            v.len() < n
        });
        v
    }
}

/// 10⁻⁸ integer from a decimal string.
pub fn e8(s: &str) -> i64 {
    arbot::fixed_point::parse_decimal(s.as_bytes(), 8)
        .unwrap_or_else(|e| panic!("{s:?}: {e}"))
        .value
}

/// A 10⁻⁸ integer as the decimal string with `frac` decimals.
pub fn dec(v: i64, frac: u32) -> String {
    let mut out = Vec::new();
    arbot::fixed_point::write_decimal(&mut out, v, 8, frac);
    String::from_utf8(out).unwrap()
}
