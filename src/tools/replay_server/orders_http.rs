//! The order-entry REST endpoints: routing, endpoint weights, API-key and signature checks,
//! rate limits, the order faults, and the HTTP answers (Binance's status codes, error bodies
//! and `X-MBX-*` headers). The exchange itself is [`super::exchange`].

use super::auth::{check_timestamp, signed_payload, verify, Params};
use super::exchange::{ApiError, Exchange, NewOrder, OrdType, OrderFault, RespType, Tif};
use super::ratelimit::Refused;
use super::replies::parse_side;
use super::MarketKind;
use std::time::Duration;

/// One order-entry endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ep {
    Ping,
    Time,
    ExchangeInfo,
    NewOrder,
    CancelOrder,
    QueryOrder,
    OpenOrders,
    Account { v3: bool },
    PositionRisk,
    ListenKeyCreate,
    ListenKeyKeepalive,
    ListenKeyClose,
}

/// A routed request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Route {
    pub(super) market: MarketKind,
    pub(super) ep: Ep,
}

/// What the connection does with a request's outcome.
pub(super) enum Outcome {
    /// Write these bytes.
    Reply(Vec<u8>),
    /// Write them after a delay (the delayed-ack fault).
    Delayed(Duration, Vec<u8>),
    /// Answer nothing; keep the connection open (the no-answer fault).
    Swallow,
    /// Close the TCP connection without answering (the disconnect fault).
    Disconnect,
}

const TABLE: &[(MarketKind, &str, &str, Ep)] = &[
    (MarketKind::Spot, "GET", "/api/v3/ping", Ep::Ping),
    (MarketKind::Spot, "GET", "/api/v3/time", Ep::Time),
    (
        MarketKind::Spot,
        "GET",
        "/api/v3/exchangeInfo",
        Ep::ExchangeInfo,
    ),
    (MarketKind::Spot, "POST", "/api/v3/order", Ep::NewOrder),
    (MarketKind::Spot, "DELETE", "/api/v3/order", Ep::CancelOrder),
    (MarketKind::Spot, "GET", "/api/v3/order", Ep::QueryOrder),
    (
        MarketKind::Spot,
        "GET",
        "/api/v3/openOrders",
        Ep::OpenOrders,
    ),
    (
        MarketKind::Spot,
        "GET",
        "/api/v3/account",
        Ep::Account { v3: false },
    ),
    (
        MarketKind::Spot,
        "POST",
        "/api/v3/userDataStream",
        Ep::ListenKeyCreate,
    ),
    (
        MarketKind::Spot,
        "PUT",
        "/api/v3/userDataStream",
        Ep::ListenKeyKeepalive,
    ),
    (
        MarketKind::Spot,
        "DELETE",
        "/api/v3/userDataStream",
        Ep::ListenKeyClose,
    ),
    (MarketKind::Usdm, "GET", "/fapi/v1/ping", Ep::Ping),
    (MarketKind::Usdm, "GET", "/fapi/v1/time", Ep::Time),
    (
        MarketKind::Usdm,
        "GET",
        "/fapi/v1/exchangeInfo",
        Ep::ExchangeInfo,
    ),
    (MarketKind::Usdm, "POST", "/fapi/v1/order", Ep::NewOrder),
    (
        MarketKind::Usdm,
        "DELETE",
        "/fapi/v1/order",
        Ep::CancelOrder,
    ),
    (MarketKind::Usdm, "GET", "/fapi/v1/order", Ep::QueryOrder),
    (
        MarketKind::Usdm,
        "GET",
        "/fapi/v1/openOrders",
        Ep::OpenOrders,
    ),
    (
        MarketKind::Usdm,
        "GET",
        "/fapi/v2/account",
        Ep::Account { v3: false },
    ),
    (
        MarketKind::Usdm,
        "GET",
        "/fapi/v3/account",
        Ep::Account { v3: true },
    ),
    (
        MarketKind::Usdm,
        "GET",
        "/fapi/v2/positionRisk",
        Ep::PositionRisk,
    ),
    (
        MarketKind::Usdm,
        "POST",
        "/fapi/v1/listenKey",
        Ep::ListenKeyCreate,
    ),
    (
        MarketKind::Usdm,
        "PUT",
        "/fapi/v1/listenKey",
        Ep::ListenKeyKeepalive,
    ),
    (
        MarketKind::Usdm,
        "DELETE",
        "/fapi/v1/listenKey",
        Ep::ListenKeyClose,
    ),
    (MarketKind::Coinm, "GET", "/dapi/v1/ping", Ep::Ping),
    (MarketKind::Coinm, "GET", "/dapi/v1/time", Ep::Time),
    (
        MarketKind::Coinm,
        "GET",
        "/dapi/v1/exchangeInfo",
        Ep::ExchangeInfo,
    ),
    (MarketKind::Coinm, "POST", "/dapi/v1/order", Ep::NewOrder),
    (
        MarketKind::Coinm,
        "DELETE",
        "/dapi/v1/order",
        Ep::CancelOrder,
    ),
    (MarketKind::Coinm, "GET", "/dapi/v1/order", Ep::QueryOrder),
    (
        MarketKind::Coinm,
        "GET",
        "/dapi/v1/openOrders",
        Ep::OpenOrders,
    ),
    (
        MarketKind::Coinm,
        "GET",
        "/dapi/v1/account",
        Ep::Account { v3: false },
    ),
    (
        MarketKind::Coinm,
        "GET",
        "/dapi/v1/positionRisk",
        Ep::PositionRisk,
    ),
    (
        MarketKind::Coinm,
        "POST",
        "/dapi/v1/listenKey",
        Ep::ListenKeyCreate,
    ),
    (
        MarketKind::Coinm,
        "PUT",
        "/dapi/v1/listenKey",
        Ep::ListenKeyKeepalive,
    ),
    (
        MarketKind::Coinm,
        "DELETE",
        "/dapi/v1/listenKey",
        Ep::ListenKeyClose,
    ),
];

/// The endpoint of `method path` (path without the market prefix and the query), if it is an
/// order-entry endpoint of the prefix's market (or of any market without a prefix).
pub(super) fn route(prefix: Option<MarketKind>, method: &str, path: &str) -> Option<Route> {
    TABLE
        .iter()
        .find(|(m, me, p, _)| *me == method && *p == path && prefix.is_none_or(|x| x == *m))
        .map(|&(market, _, _, ep)| Route { market, ep })
}

/// Request weight of an endpoint (the docs' "Weight" / "Request Weight").
fn weight(r: Route, p: &Params) -> u32 {
    let spot = r.market == MarketKind::Spot;
    match r.ep {
        Ep::Ping | Ep::Time => 1,
        Ep::ExchangeInfo => {
            if spot {
                20
            } else {
                1
            }
        }
        // spot: 1; futures: "0 on IP rate limit(x-mbx-used-weight-1m)"
        Ep::NewOrder => u32::from(spot),
        Ep::CancelOrder => 1,
        Ep::QueryOrder => {
            if spot {
                4
            } else {
                1
            }
        }
        Ep::OpenOrders => match (spot, p.get("symbol").is_some()) {
            (true, true) => 6,
            (true, false) => 80,
            (false, true) => 1,
            (false, false) => 40,
        },
        Ep::Account { .. } => {
            if spot {
                20
            } else {
                5
            }
        }
        Ep::PositionRisk => {
            if r.market == MarketKind::Usdm {
                5
            } else {
                1
            }
        }
        Ep::ListenKeyCreate | Ep::ListenKeyKeepalive | Ep::ListenKeyClose => {
            if spot {
                2
            } else {
                1
            }
        }
    }
}

/// Security type of an endpoint.
#[derive(PartialEq, Eq)]
enum Security {
    None,
    /// API key only.
    UserStream,
    /// API key, signature, timestamp.
    Signed,
}

fn security(ep: Ep) -> Security {
    match ep {
        Ep::Ping | Ep::Time | Ep::ExchangeInfo => Security::None,
        Ep::ListenKeyCreate | Ep::ListenKeyKeepalive | Ep::ListenKeyClose => Security::UserStream,
        _ => Security::Signed,
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        418 => "I'm a teapot",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

/// An HTTP/1.1 answer with Binance's content type and the given extra headers.
pub(super) fn http(status: u16, body: &str, headers: &[(String, String)]) -> Vec<u8> {
    let mut h = String::new();
    for (k, v) in headers {
        h.push_str(k);
        h.push_str(": ");
        h.push_str(v);
        h.push_str("\r\n");
    }
    format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json;charset=UTF-8\r\nContent-Length: {}\r\n{h}\r\n{body}",
        reason(status),
        body.len()
    )
    .into_bytes()
}

fn weight_header(used: u32) -> (String, String) {
    ("X-MBX-USED-WEIGHT-1M".to_string(), used.to_string())
}

fn refused(r: Refused) -> Outcome {
    let headers = vec![
        weight_header(r.used),
        ("Retry-After".to_string(), r.retry_after.to_string()),
    ];
    Outcome::Reply(http(r.http, &r.err.body(), &headers))
}

/// The fault that applies to the `n`th counted order request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    None,
    Reject,
    TooMany,
    Ban,
    Swallow,
    Delay,
    StreamOnly,
    Disconnect,
    PartialExpire,
    Unavailable,
}

fn fault_for(ex: &Exchange, n: u64) -> Fault {
    let f = &ex.faults;
    let hit = |x: Option<u64>| x == Some(n);
    if hit(f.reject_order) {
        Fault::Reject
    } else if hit(f.order_429) {
        Fault::TooMany
    } else if hit(f.order_418) {
        Fault::Ban
    } else if hit(f.swallow_order) {
        Fault::Swallow
    } else if hit(f.disconnect_order) {
        Fault::Disconnect
    } else if hit(f.order_503) {
        Fault::Unavailable
    } else if hit(f.delay_order) {
        Fault::Delay
    } else if hit(f.stream_only_fill) {
        Fault::StreamOnly
    } else if hit(f.partial_fill_order) {
        Fault::PartialExpire
    } else {
        Fault::None
    }
}

/// Binance's message for an error code the reject fault is asked to send.
fn reject_error(code: i32, msg: Option<&str>) -> ApiError {
    let code = if code == 0 { -2010 } else { code };
    let default = match code {
        -1000 => "An unknown error occurred while processing the request.",
        -1003 => "Too many requests queued.",
        -1007 => "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
        -1008 => "Server is currently overloaded with other requests. Please try again in a few minutes.",
        -1013 => "Filter failure: PRICE_FILTER",
        -1015 => "Too many new orders.",
        -1021 => "Timestamp for this request is outside of the recvWindow.",
        -1022 => "Signature for this request is not valid.",
        -2010 => "Account has insufficient balance for requested action.",
        -2015 => "Invalid API-key, IP, or permissions for action.",
        -2019 => "Margin is insufficient.",
        -2022 => "ReduceOnly Order is rejected.",
        _ => "Order was rejected.",
    };
    ApiError::new(code, msg.unwrap_or(default))
}

/// The 503 body: spot's -1007 TIMEOUT text, futures' "Unknown error" text (both mean: the
/// execution status is unknown).
fn unavailable(m: MarketKind) -> ApiError {
    match m {
        MarketKind::Spot => ApiError::new(
            -1007,
            "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
        ),
        _ => ApiError::new(-1000, "Unknown error, please check your request or try again later."),
    }
}

/// Handle one order-entry request. `body` is the request body as sent, `api_key` the
/// `X-MBX-APIKEY` header.
pub(super) fn handle(
    ex: &Exchange,
    r: Route,
    query: &str,
    body: &str,
    api_key: Option<&str>,
) -> Outcome {
    let now = ex.now_ms();
    let m = r.market;
    let limits = ex.cfg.settings(m).limits;
    // the Nth-order faults count order requests as they arrive, before any check
    let mut fault = Fault::None;
    let mut plant = None;
    if r.ep == Ep::NewOrder {
        if let Some(n) = ex.count_order(m) {
            plant = ex
                .faults
                .plant_balance
                .as_ref()
                .filter(|p| p.after_order == n);
            fault = fault_for(ex, n);
            if fault != Fault::None {
                ex.note_fault(format!("{fault:?} on order request {n} ({})", m.name()));
            }
        }
    }
    let secs = ex.faults.fault_retry_after_s.max(1);
    match fault {
        Fault::Swallow => return Outcome::Swallow,
        Fault::TooMany => return refused(ex.limiter.force_backoff(m, &limits, secs, now)),
        Fault::Ban => return refused(ex.limiter.force_ban(m, secs, now)),
        _ => {}
    }
    let out = answer(ex, r, query, body, api_key, fault, now);
    if let Some(p) = plant {
        ex.plant_balance(p);
        ex.note_fault(format!(
            "balance of {} on {} changed by {} after order request {}",
            p.asset,
            p.market.name(),
            p.delta_e8 as f64 / 1e8,
            p.after_order
        ));
    }
    match fault {
        Fault::Delay => Outcome::Delayed(Duration::from_millis(ex.faults.delay_ms), out),
        Fault::Disconnect => Outcome::Disconnect,
        Fault::Unavailable => {
            let used = ex.limiter.used(m, now);
            Outcome::Reply(http(503, &unavailable(m).body(), &[weight_header(used)]))
        }
        _ => Outcome::Reply(out),
    }
}

fn answer(
    ex: &Exchange,
    r: Route,
    query: &str,
    body: &str,
    api_key: Option<&str>,
    fault: Fault,
    now: u64,
) -> Vec<u8> {
    let m = r.market;
    let limits = ex.cfg.settings(m).limits;
    // parameters are needed for the weight of some endpoints; a malformed request still
    // costs its base weight
    let params = Params::parse(query, body);
    let w = params
        .as_ref()
        .map(|p| weight(r, p))
        .unwrap_or_else(|_| weight(r, &Params::default()));
    let used = match ex.limiter.admit(m, &limits, w, now) {
        Ok(u) => u,
        Err(rf) => {
            return match refused(rf) {
                Outcome::Reply(b) => b,
                _ => Vec::new(),
            }
        }
    };
    let mut headers = vec![weight_header(used)];
    let err = |e: ApiError, headers: &[(String, String)]| http(e.http, &e.body(), headers);
    let p = match params {
        Ok(p) => p,
        Err(e) => return err(e, &headers),
    };
    // security
    let account = match security(r.ep) {
        Security::None => None,
        sec => {
            let Some(key) = api_key.filter(|k| !k.is_empty()) else {
                return err(ApiError::new(-2014, "API-key format invalid."), &headers);
            };
            let Some(acct) = ex.account_of(key) else {
                return err(
                    ApiError::new(-2015, "Invalid API-key, IP, or permissions for action."),
                    &headers,
                );
            };
            if sec == Security::Signed {
                let (payload, sig) = signed_payload(query, body);
                let ok = sig.is_some_and(|s| verify(&ex.keys[acct].1, payload.as_bytes(), &s));
                if !ok {
                    return err(
                        ApiError::new(-1022, "Signature for this request is not valid."),
                        &headers,
                    );
                }
                if let Err(e) = check_timestamp(&p, now) {
                    return err(e, &headers);
                }
            }
            Some(acct)
        }
    };
    let acct = account.unwrap_or(0);
    if r.ep == Ep::NewOrder {
        match ex.limiter.count_order(m, acct, &limits, now) {
            Ok(h) => headers.extend(h),
            Err(rf) => {
                return match refused(rf) {
                    Outcome::Reply(b) => b,
                    _ => Vec::new(),
                }
            }
        }
        if fault == Fault::Reject {
            let e = reject_error(ex.faults.reject_code, ex.faults.reject_msg.as_deref());
            return err(e, &headers);
        }
    }
    let res = dispatch(ex, r, &p, acct, fault);
    match res {
        Ok(body) => http(200, &body, &headers),
        Err(e) => err(e, &headers),
    }
}

fn order_id(p: &Params) -> Result<Option<u64>, ApiError> {
    match p.get("orderId") {
        None => Ok(None),
        Some(s) => s
            .parse::<u64>()
            .ok()
            .filter(|_| s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()))
            .map(Some)
            .ok_or_else(|| ApiError::illegal("orderId", "^[0-9]{1,20}$")),
    }
}

fn dispatch(
    ex: &Exchange,
    r: Route,
    p: &Params,
    acct: usize,
    fault: Fault,
) -> Result<String, ApiError> {
    let m = r.market;
    let spot = m == MarketKind::Spot;
    match r.ep {
        Ep::Ping => Ok("{}".into()),
        Ep::Time => Ok(serde_json::json!({"serverTime": ex.now_ms()}).to_string()),
        Ep::ExchangeInfo => {
            if let Some(s) = p.get("symbol") {
                ex.lock().inst_of(m, s)?;
            }
            Ok(ex.exchange_info(m))
        }
        Ep::NewOrder => {
            let symbol = p
                .get("symbol")
                .ok_or_else(|| ApiError::mandatory("symbol"))?;
            let side = p.get("side").ok_or_else(|| ApiError::mandatory("side"))?;
            let side = parse_side(side).ok_or_else(|| ApiError::new(-1117, "Invalid side."))?;
            let typ = p.get("type").ok_or_else(|| ApiError::mandatory("type"))?;
            let typ = match typ {
                "LIMIT" => OrdType::Limit,
                "MARKET" => OrdType::Market,
                "LIMIT_MAKER" if spot => OrdType::LimitMaker,
                _ => return Err(ApiError::new(-1116, "Invalid orderType.")),
            };
            let tif = match p.get("timeInForce") {
                None => None,
                Some("GTC") => Some(Tif::Gtc),
                Some("IOC") => Some(Tif::Ioc),
                Some("FOK") => Some(Tif::Fok),
                Some("GTX") if !spot => Some(Tif::Gtx),
                Some(_) => return Err(ApiError::new(-1115, "Invalid timeInForce.")),
            };
            let resp = match p.get("newOrderRespType") {
                None => None,
                Some("ACK") => Some(RespType::Ack),
                Some("RESULT") => Some(RespType::Result),
                Some("FULL") if spot => Some(RespType::Full),
                Some(_) if spot => {
                    return Err(ApiError::illegal("newOrderRespType", "ACK, RESULT, FULL"))
                }
                Some(_) => return Err(ApiError::new(-1136, "Invalid newOrderRespType.")),
            };
            if p.get("quoteOrderQty").is_some() {
                return Err(ApiError::not_required("quoteOrderQty"));
            }
            let reduce_only = match p.get("reduceOnly") {
                None | Some("false") | Some("FALSE") => false,
                Some("true") | Some("TRUE") if !spot => true,
                Some(_) => return Err(ApiError::illegal("reduceOnly", "true, false")),
            };
            if !spot && p.get("positionSide").is_some_and(|s| s != "BOTH") {
                return Err(ApiError::new(
                    -4061,
                    "Order's position side does not match user's setting.",
                ));
            }
            let o = NewOrder {
                symbol,
                side,
                typ,
                tif,
                qty: p.get("quantity"),
                price: p.get("price"),
                client_id: p.get("newClientOrderId"),
                reduce_only,
                resp,
            };
            let of = match fault {
                Fault::StreamOnly => OrderFault::StreamOnly,
                Fault::PartialExpire => OrderFault::PartialExpire,
                _ => OrderFault::None,
            };
            ex.place(m, acct, &o, of)
        }
        Ep::CancelOrder => {
            let symbol = p
                .get("symbol")
                .ok_or_else(|| ApiError::mandatory("symbol"))?;
            ex.cancel(
                m,
                acct,
                symbol,
                order_id(p)?,
                p.get("origClientOrderId"),
                p.get("newClientOrderId"),
            )
        }
        Ep::QueryOrder => {
            let symbol = p
                .get("symbol")
                .ok_or_else(|| ApiError::mandatory("symbol"))?;
            ex.query(m, acct, symbol, order_id(p)?, p.get("origClientOrderId"))
        }
        Ep::OpenOrders => ex.open_orders(m, acct, p.get("symbol")),
        Ep::Account { v3 } => Ok(ex.account(m, acct, v3)),
        Ep::PositionRisk => ex.position_risk(m, acct, p.get("symbol")),
        Ep::ListenKeyCreate => {
            let k = ex.listen_key_create(m, acct);
            Ok(serde_json::json!({"listenKey": k}).to_string())
        }
        Ep::ListenKeyKeepalive => {
            if spot {
                let k = p
                    .get("listenKey")
                    .ok_or_else(|| ApiError::mandatory("listenKey"))?;
                ex.listen_key_keepalive(m, acct, Some(k))?;
                Ok("{}".into())
            } else {
                let k = ex.listen_key_keepalive(m, acct, p.get("listenKey"))?;
                Ok(serde_json::json!({"listenKey": k}).to_string())
            }
        }
        Ep::ListenKeyClose => {
            let k = if spot {
                Some(
                    p.get("listenKey")
                        .ok_or_else(|| ApiError::mandatory("listenKey"))?,
                )
            } else {
                p.get("listenKey")
            };
            ex.listen_key_close(m, acct, k)?;
            Ok("{}".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_market_and_method() {
        assert_eq!(
            route(Some(MarketKind::Spot), "POST", "/api/v3/order"),
            Some(Route {
                market: MarketKind::Spot,
                ep: Ep::NewOrder
            })
        );
        assert_eq!(
            route(None, "GET", "/fapi/v3/account").map(|r| r.ep),
            Some(Ep::Account { v3: true })
        );
        // a market prefix must agree with the path's market
        assert_eq!(route(Some(MarketKind::Usdm), "POST", "/api/v3/order"), None);
        // not ours: the market-data side answers as before
        assert_eq!(route(None, "GET", "/api/v3/depth"), None);
        assert_eq!(route(None, "PATCH", "/api/v3/order"), None);
    }

    #[test]
    fn answers_carry_binance_headers() {
        let b = http(429, "{}", &[("Retry-After".into(), "7".into())]);
        let t = String::from_utf8(b).unwrap();
        assert!(t.starts_with("HTTP/1.1 429 Too Many Requests\r\n"));
        assert!(t.contains("\r\nRetry-After: 7\r\n"));
        assert!(t.ends_with("\r\n\r\n{}"));
    }

    /// The bytes the engine's own order entry writes (`venues::binance::orders`, signed with
    /// the documented key, through a `SendToken` as only the execution step makes) are
    /// accepted as they are by the loopback exchange, on every market.
    #[test]
    fn the_engines_own_order_requests_are_accepted() {
        use crate::exec::SendToken;
        use crate::tools::replay_server::{
            settings::{DOC_API_KEY, DOC_API_SECRET},
            start, ExchangeConfig, Faults, ServerConfig,
        };
        use crate::types::Side;
        use crate::venues::binance::orders::{BinanceOrders, OrderSymbol, RestBase};
        use crate::venues::binance::Market as BMarket;
        use crate::venues::wire_util::Scale;
        use crate::venues::{OrderEntry, OrderFields, OrderKind};
        use std::io::{BufRead, BufReader, Read, Write};
        let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/binance");
        for (m, bm, file, prefix, symbol, qty, qty_dec, px, price_dec) in [
            (
                MarketKind::Spot,
                BMarket::Spot,
                "spot_btcusdt_20240808.gz",
                "spot",
                "BTCUSDT",
                100_000,
                8,
                4_000_000,
                2,
            ),
            (
                MarketKind::Usdm,
                BMarket::Usdm,
                "usdm_btcusdt_20240808.gz",
                "usdm",
                "BTCUSDT",
                10,
                3,
                400_000,
                1,
            ),
            (
                MarketKind::Coinm,
                BMarket::Coinm,
                "cm_btcusd_perp_20240808.gz",
                "coinm",
                "BTCUSD_PERP",
                1,
                0,
                400_000,
                1,
            ),
        ] {
            let path = data.join(file);
            assert!(path.is_file(), "recorded data missing: {}", path.display());
            let s = start(ServerConfig {
                files: vec![(m, path)],
                bind: "127.0.0.1:0".parse().unwrap(),
                speed: None,
                tls: false,
                cert_out: None,
                lockstep: false,
                faults: Faults::default(),
                wait_clients: Duration::ZERO,
                ping_every: None,
                linger: Duration::ZERO,
                exchange: ExchangeConfig {
                    hold_at: Some(2_000),
                    ..ExchangeConfig::default()
                },
            })
            .unwrap();
            assert_eq!(s.advance_to(2_000), 2_000);
            let base = RestBase::parse(&format!("http://{}/{prefix}", s.addr())).unwrap();
            let mut enc = BinanceOrders::new(
                bm,
                base,
                vec![OrderSymbol {
                    symbol: symbol.into(),
                    scale: Scale { price_dec, qty_dec },
                    base: "BTC".into(),
                    quote: "USDT".into(),
                }],
                DOC_API_KEY,
                DOC_API_SECRET.as_bytes(),
            );
            let token = SendToken::for_tests();
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as u64;
            let req = enc
                .place(&OrderFields {
                    symbol,
                    side: Side::Buy,
                    kind: OrderKind::LimitIoc,
                    qty,
                    qty_dec,
                    px,
                    price_dec,
                    client_id: 7,
                    timestamp_ms: now_ms,
                    recv_window_ms: 5000,
                    token: &token,
                })
                .to_vec();
            let mut w = std::net::TcpStream::connect(s.addr()).unwrap();
            w.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            w.write_all(&req).unwrap();
            let mut r = BufReader::new(w);
            let mut status = String::new();
            r.read_line(&mut status).unwrap();
            let mut len = 0usize;
            loop {
                let mut h = String::new();
                r.read_line(&mut h).unwrap();
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        len = v.trim().parse().unwrap();
                    }
                }
            }
            let mut body = vec![0u8; len];
            r.read_exact(&mut body).unwrap();
            let body = String::from_utf8(body).unwrap();
            assert!(status.contains(" 200 "), "{m:?}: {status} {body}");
            let j: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(j["clientOrderId"], "arb7");
            // the engine asks spot for FULL and futures for RESULT: an IOC far below the
            // market is final at once, EXPIRED, on every market
            assert_eq!(j["status"], "EXPIRED", "{m:?}: {j}");
        }
    }
}
