//! Binance order entry: spot (`/api/v3`), USDⓈ-M (`/fapi/v1`), COIN-M (`/dapi/v1`).
//!
//! Requests are complete HTTP/1.1 requests, HMAC-SHA256 signed, written into buffers reused for
//! every order (no allocation, no `format!`): `POST <order path>` with the parameters in the
//! body (place), `DELETE` and `GET` with them in the query (cancel, query by
//! `origClientOrderId`). Our client order id is `arb<id>`.
//!
//! Signing (<https://developers.binance.com/docs/binance-spot-api-docs/rest-api#signed-trade-and-user_data-endpoint-security>):
//! `signature = hex(HMAC-SHA256(secretKey, totalParams))`, `totalParams` = query string + body
//! as sent; `signature` is the last parameter. HMAC is `ring`'s (see `performance.md`: RustCrypto
//! `sha2` under fat LTO + `target-cpu=native` costs 12–22 µs per HMAC on this machine kind).
//!
//! Answers, parsed without allocation into [`OrderUpdate`]:
//! - spot `POST /api/v3/order` with `newOrderRespType=FULL`: `orderId`, `clientOrderId`,
//!   `status`, `executedQty`, `cummulativeQuoteQty`, `transactTime`, `fills[]` (`price`, `qty`,
//!   `commission`, `commissionAsset`, `tradeId`)
//!   (<https://developers.binance.com/docs/binance-spot-api-docs/rest-api/trading-endpoints#new-order-trade>);
//!   query and cancel answers carry the same order fields (`origClientOrderId` is ours on a
//!   cancel), without `fills`;
//! - futures `POST /fapi/v1/order` / `/dapi/v1/order` with `newOrderRespType=RESULT`: `orderId`,
//!   `clientOrderId`, `status`, `executedQty`, `cumQuote` (USDⓈ-M) / `cumBase` (COIN-M),
//!   `avgPrice`, `updateTime`
//!   (<https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/New-Order>);
//! - errors: `{"code":-1022,"msg":"..."}` with HTTP 4xx/5xx
//!   (<https://developers.binance.com/docs/binance-spot-api-docs/errors>);
//! - private stream: spot `executionReport` (`c` client id, `C` original client id on
//!   cancels, `X` status, `i` order id, `l`/`L` last fill quantity/price, `n`/`N` commission and
//!   its asset, `t` trade id, `z` cumulative quantity, `Z` cumulative quote, `T` time)
//!   (<https://developers.binance.com/docs/binance-spot-api-docs/user-data-stream>); futures
//!   `ORDER_TRADE_UPDATE` with the same letters inside `"o"`
//!   (<https://developers.binance.com/docs/derivatives/usds-margined-futures/user-data-streams/Event-Order-Update>).
#![forbid(unsafe_code)]

use super::Market;
use crate::fixed_point::{parse_decimal, write_decimal};
use crate::types::{Amount, Price, Qty, Side};
use crate::venues::order_entry::{
    client_id_of, parse_amount_trunc, AccountApi, ApiError, ErrorClass, ExecFill, FeeAsset,
    OrderEntry, OrderRef, OrderStatus, OrderUpdate, VenueBalance, VenuePosition, MAX_EXEC_FILLS,
};
use crate::venues::wire_util::Scale;
use ring::hmac;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserializer;
use std::fmt;

pub use crate::venues::{OrderFields, OrderKind};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Our client order id prefix (`newClientOrderId=arb<id>`).
pub const CLIENT_PREFIX: &[u8] = b"arb";

/// Append the decimal digits of `v`.
#[inline]
pub fn write_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut n = 0;
    loop {
        tmp[n] = b'0' + (v % 10) as u8;
        n += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for i in (0..n).rev() {
        out.push(tmp[i]);
    }
}

/// Lower-case hex HMAC-SHA256 of `payload` under `key`.
#[inline]
pub fn sign_hex(key: &hmac::Key, payload: &[u8]) -> [u8; 64] {
    let tag = hmac::sign(key, payload);
    let mut out = [0u8; 64];
    for (i, b) in tag.as_ref().iter().enumerate() {
        out[2 * i] = HEX[(b >> 4) as usize];
        out[2 * i + 1] = HEX[(b & 15) as usize];
    }
    out
}

/// One instrument the encoder serves.
#[derive(Clone, Debug)]
pub struct OrderSymbol {
    /// Exchange symbol (`BTCUSDT`).
    pub symbol: String,
    /// Price / quantity decimals.
    pub scale: Scale,
    /// Base asset code.
    pub base: String,
    /// Quote asset code.
    pub quote: String,
}

/// Where a venue's REST API is: `https://api.binance.com` or a loopback base such as
/// `http://127.0.0.1:9901/spot` (path prefix kept).
#[derive(Clone, Debug)]
pub struct RestBase {
    /// `Host` header value.
    pub host: String,
    /// Path prefix before the API path (`""` or `/spot`).
    pub prefix: String,
}

impl RestBase {
    /// From a base URL.
    pub fn parse(base: &str) -> Result<RestBase, String> {
        let u = crate::net::Url::parse(base)?;
        Ok(RestBase {
            host: u.host_header(),
            prefix: u.path.trim_end_matches('/').to_string(),
        })
    }
}

/// Signed order entry for one Binance market, requests in reused buffers.
pub struct BinanceOrders {
    key: hmac::Key,
    market: Market,
    api_key: String,
    base: RestBase,
    symbols: Vec<OrderSymbol>,
    body: Vec<u8>,
    req: Vec<u8>,
}

impl fmt::Debug for BinanceOrders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // never print keys
        f.debug_struct("BinanceOrders")
            .field("market", &self.market)
            .field("host", &self.base.host)
            .finish_non_exhaustive()
    }
}

impl BinanceOrders {
    /// An encoder for `market` at `base` signing with `secret`; `api_key` goes in the
    /// `X-MBX-APIKEY` header. Both come from the environment live; replay/paper use a fixed
    /// dummy key.
    pub fn new(
        market: Market,
        base: RestBase,
        symbols: Vec<OrderSymbol>,
        api_key: &str,
        secret: &[u8],
    ) -> BinanceOrders {
        BinanceOrders {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
            market,
            api_key: api_key.to_string(),
            base,
            symbols,
            body: Vec::with_capacity(512),
            req: Vec::with_capacity(1024),
        }
    }

    /// The signed parameters of the last request (`...&signature=<hex>`).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    fn sign_params(&mut self) {
        let sig = sign_hex(&self.key, &self.body);
        self.body.extend_from_slice(b"&signature=");
        self.body.extend_from_slice(&sig);
    }

    fn head(&mut self, method: &[u8], with_query: bool) {
        let r = &mut self.req;
        r.clear();
        r.extend_from_slice(method);
        r.push(b' ');
        r.extend_from_slice(self.base.prefix.as_bytes());
        r.extend_from_slice(self.market.order_path().as_bytes());
        if with_query {
            r.push(b'?');
            r.extend_from_slice(&self.body);
        }
        r.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        r.extend_from_slice(self.base.host.as_bytes());
        r.extend_from_slice(b"\r\nX-MBX-APIKEY: ");
        r.extend_from_slice(self.api_key.as_bytes());
        r.extend_from_slice(b"\r\nConnection: keep-alive\r\n");
    }

    fn order_ref_params(&mut self, o: &OrderRef<'_>) {
        let b = &mut self.body;
        b.clear();
        b.extend_from_slice(b"symbol=");
        b.extend_from_slice(o.symbol.as_bytes());
        b.extend_from_slice(b"&origClientOrderId=arb");
        write_u64(b, o.client_id);
        b.extend_from_slice(b"&recvWindow=");
        write_u64(b, o.recv_window_ms as u64);
        b.extend_from_slice(b"&timestamp=");
        write_u64(b, o.timestamp_ms);
        self.sign_params();
    }

    fn symbol_idx(&self, s: &[u8]) -> Option<usize> {
        self.symbols.iter().position(|x| x.symbol.as_bytes() == s)
    }

    fn fee_asset(&self, k: usize, a: &[u8]) -> FeeAsset {
        let s = &self.symbols[k];
        if a.eq_ignore_ascii_case(s.quote.as_bytes()) {
            FeeAsset::Quote
        } else if a.eq_ignore_ascii_case(s.base.as_bytes()) {
            FeeAsset::Base
        } else {
            let mut c = [0u8; 8];
            for (i, b) in a.iter().take(8).enumerate() {
                c[i] = b.to_ascii_uppercase();
            }
            FeeAsset::Other(c)
        }
    }
}

fn status_of(s: &[u8]) -> Option<OrderStatus> {
    Some(match s {
        b"NEW" | b"PENDING_NEW" => OrderStatus::New,
        b"PARTIALLY_FILLED" => OrderStatus::PartiallyFilled,
        b"FILLED" => OrderStatus::Filled,
        b"CANCELED" | b"PENDING_CANCEL" => OrderStatus::Cancelled,
        b"REJECTED" => OrderStatus::Rejected,
        b"EXPIRED" | b"EXPIRED_IN_MATCH" => OrderStatus::Expired,
        _ => return None,
    })
}

impl OrderEntry for BinanceOrders {
    fn place(&mut self, o: &OrderFields<'_>) -> &[u8] {
        let b = &mut self.body;
        b.clear();
        b.extend_from_slice(b"symbol=");
        b.extend_from_slice(o.symbol.as_bytes());
        b.extend_from_slice(match o.side {
            Side::Buy => b"&side=BUY",
            Side::Sell => b"&side=SELL",
        });
        match o.kind {
            OrderKind::LimitIoc => b.extend_from_slice(b"&type=LIMIT&timeInForce=IOC"),
            OrderKind::Market => b.extend_from_slice(b"&type=MARKET"),
        }
        b.extend_from_slice(b"&quantity=");
        write_decimal(b, o.qty, o.qty_dec, o.qty_dec);
        if o.kind == OrderKind::LimitIoc {
            b.extend_from_slice(b"&price=");
            write_decimal(b, o.px, o.price_dec, o.price_dec);
        }
        b.extend_from_slice(b"&newClientOrderId=arb");
        write_u64(b, o.client_id);
        b.extend_from_slice(match self.market {
            Market::Spot => b"&newOrderRespType=FULL",
            Market::Usdm | Market::Coinm => b"&newOrderRespType=RESULT",
        });
        b.extend_from_slice(b"&recvWindow=");
        write_u64(b, o.recv_window_ms as u64);
        b.extend_from_slice(b"&timestamp=");
        write_u64(b, o.timestamp_ms);
        self.sign_params();
        self.head(b"POST", false);
        let r = &mut self.req;
        r.extend_from_slice(b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ");
        write_u64(r, self.body.len() as u64);
        r.extend_from_slice(b"\r\n\r\n");
        r.extend_from_slice(&self.body);
        &self.req
    }

    fn cancel(&mut self, o: &OrderRef<'_>) -> &[u8] {
        self.order_ref_params(o);
        self.head(b"DELETE", true);
        self.req.extend_from_slice(b"\r\n");
        &self.req
    }

    fn query(&mut self, o: &OrderRef<'_>) -> &[u8] {
        self.order_ref_params(o);
        self.head(b"GET", true);
        self.req.extend_from_slice(b"\r\n");
        &self.req
    }

    fn parse_order(
        &self,
        http_status: u16,
        body: &[u8],
        out: &mut OrderUpdate,
    ) -> Result<(), ApiError> {
        *out = OrderUpdate::default();
        let mut f = Fields::default();
        if !read_fields(body, &mut f) {
            return Err(ApiError::new(http_status, 0, &body[..body.len().min(96)]));
        }
        if f.code.is_some() || !(200..300).contains(&http_status) {
            return Err(ApiError::new(
                http_status,
                f.code.unwrap_or(0),
                f.msg.as_slice(),
            ));
        }
        self.fill_update(&f, out)
            .map_err(|m| ApiError::new(http_status, 0, m.as_bytes()))
    }

    fn classify(&self, e: &ApiError) -> ErrorClass {
        match (e.http_status, e.code) {
            (418, _) | (_, -1003) if e.http_status == 418 => ErrorClass::Banned,
            (429, _) | (_, -1003) | (_, -1015) => ErrorClass::RateLimited,
            (_, -1021) => ErrorClass::ClockSkew,
            (_, -1022) | (_, -2014) | (_, -2015) | (401, _) => ErrorClass::Auth,
            (_, -2013) | (_, -2011) => ErrorClass::UnknownOrder,
            (_, -1007) | (_, -1006) => ErrorClass::Unknown,
            (s, _) if s >= 500 => ErrorClass::Unknown,
            _ => ErrorClass::Rejected,
        }
    }

    fn parse_stream(&self, msg: &[u8], out: &mut OrderUpdate) -> Result<bool, ApiError> {
        *out = OrderUpdate::default();
        let mut f = Fields::default();
        if !read_fields(msg, &mut f) {
            return Err(ApiError::new(0, 0, &msg[..msg.len().min(96)]));
        }
        match f.event.as_slice() {
            b"executionReport" | b"ORDER_TRADE_UPDATE" => {}
            _ => return Ok(false),
        }
        self.fill_update(&f, out)
            .map_err(|m| ApiError::new(0, 0, m.as_bytes()))?;
        Ok(true)
    }
}

impl BinanceOrders {
    fn fill_update(&self, f: &Fields, out: &mut OrderUpdate) -> Result<(), &'static str> {
        let k = if f.symbol.is_empty() {
            0
        } else {
            self.symbol_idx(f.symbol.as_slice())
                .ok_or("order of a symbol this venue does not trade")?
        };
        let sc = self.symbols.get(k).ok_or("no symbols")?.scale;
        out.symbol_idx = k as u16;
        // ours: `origClientOrderId` on a cancel (and `C` in a stream cancel), else the id
        let id = [&f.orig_client_id, &f.client_id]
            .iter()
            .find_map(|s| client_id_of(s.as_slice(), CLIENT_PREFIX));
        out.client_id = id.unwrap_or(0);
        out.order_id = f.order_id;
        out.status = status_of(f.status.as_slice()).ok_or("unknown order status")?;
        out.update_ms = f.time_ms;
        if !f.cum_qty.is_empty() {
            out.cum_qty = Some(Qty(parse_decimal(f.cum_qty.as_slice(), sc.qty_dec)
                .map_err(|_| "bad executed quantity")?
                .value));
        }
        if !f.cum_quote.is_empty() {
            out.cum_quote =
                Some(parse_amount_trunc(f.cum_quote.as_slice()).ok_or("bad cumulative quote")?);
        }
        let mut push = |fl: &RawFill| -> Result<(), &'static str> {
            if fl.qty.is_empty() {
                return Ok(());
            }
            let qty = parse_decimal(fl.qty.as_slice(), sc.qty_dec)
                .map_err(|_| "bad fill quantity")?
                .value;
            if qty == 0 {
                return Ok(());
            }
            if out.n_fills as usize == MAX_EXEC_FILLS {
                out.fills_dropped += 1;
                return Ok(());
            }
            out.fills[out.n_fills as usize] = ExecFill {
                px: Price(
                    parse_decimal(fl.px.as_slice(), sc.price_dec)
                        .map_err(|_| "bad fill price")?
                        .value,
                ),
                qty: Qty(qty),
                fee: if fl.fee.is_empty() {
                    Amount(0)
                } else {
                    parse_amount_trunc(fl.fee.as_slice()).ok_or("bad commission")?
                },
                fee_asset: self.fee_asset(k, fl.fee_asset.as_slice()),
                trade_id: fl.trade_id,
            };
            out.n_fills += 1;
            Ok(())
        };
        for fl in &f.fills[..f.n_fills] {
            push(fl)?;
        }
        // a stream message's last execution (`l`/`L`/`n`/`N`/`t`)
        push(&f.last)?;
        out.fills_dropped += f.fills_over;
        // a futures RESULT answer has no fills, only the average price of what filled (an
        // average can have more digits than the tick: truncated to it)
        if !f.avg_px.is_empty() {
            let px = match parse_decimal(f.avg_px.as_slice(), sc.price_dec) {
                Ok(d) => d.value,
                Err(_) => {
                    parse_decimal(f.avg_px.as_slice(), 12)
                        .map_err(|_| "bad average price")?
                        .value
                        / crate::types::pow10(12 - sc.price_dec)
                }
            };
            if px > 0 {
                out.avg_px = Some(Price(px));
            }
        }
        Ok(())
    }
}

// ---- allocation-free answer parsing ------------------------------------------------------

/// Read one answer or stream message into `f`; false when it is not one well-formed JSON
/// object. sonic-rs does not check the UTF-8 of the strings it skips (the fuzzer's
/// differential target found an answer serde_json refuses), so the whole message is checked;
/// nothing but white space may follow the object (the fuzzer found truncated or concatenated
/// answers accepted: tests/fuzz binance_orders).
fn read_fields(msg: &[u8], f: &mut Fields) -> bool {
    let mut de = sonic_rs::Deserializer::from_slice(msg);
    std::str::from_utf8(msg).is_ok()
        && (ObjSeed { f, depth: 0 }).deserialize(&mut de).is_ok()
        && de.end().is_ok()
}

/// A short string copied out of the message (capacity `N` bytes; longer is truncated).
#[derive(Clone, Copy)]
struct Txt<const N: usize = 40> {
    b: [u8; N],
    n: u8,
}

/// An error message's first bytes.
type MsgTxt = Txt<96>;

impl<const N: usize> Default for Txt<N> {
    fn default() -> Txt<N> {
        Txt { b: [0; N], n: 0 }
    }
}

impl<const N: usize> Txt<N> {
    fn set(&mut self, s: &str) {
        let n = s.len().min(N).min(u8::MAX as usize);
        self.b[..n].copy_from_slice(&s.as_bytes()[..n]);
        self.n = n as u8;
    }
    fn as_slice(&self) -> &[u8] {
        &self.b[..self.n as usize]
    }
    fn is_empty(&self) -> bool {
        self.n == 0
    }
}

#[derive(Clone, Copy, Default)]
struct RawFill {
    px: Txt,
    qty: Txt,
    fee: Txt,
    fee_asset: Txt,
    trade_id: u64,
}

const RAW_FILLS: usize = MAX_EXEC_FILLS;

#[derive(Default)]
struct Fields {
    event: Txt,
    symbol: Txt,
    client_id: Txt,
    orig_client_id: Txt,
    order_id: u64,
    status: Txt,
    cum_qty: Txt,
    cum_quote: Txt,
    avg_px: Txt,
    time_ms: u64,
    code: Option<i64>,
    msg: MsgTxt,
    fills: [RawFill; RAW_FILLS],
    n_fills: usize,
    fills_over: u16,
    last: RawFill,
}

/// A JSON string or number, as text (Binance sends ids as numbers, amounts as strings).
struct AnyText<'a>(&'a mut Txt);

impl<'de> DeserializeSeed<'de> for AnyText<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AnyText<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or a number")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.0.set(v);
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        let mut t = [0u8; 24];
        let mut n = 0;
        let mut x = v;
        loop {
            t[n] = b'0' + (x % 10) as u8;
            n += 1;
            x /= 10;
            if x == 0 {
                break;
            }
        }
        t[..n].reverse();
        self.0.set(std::str::from_utf8(&t[..n]).unwrap_or("0"));
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        if v < 0 {
            return Err(E::custom("negative"));
        }
        self.visit_u64(v as u64)
    }
    fn visit_f64<E: de::Error>(self, _v: f64) -> Result<(), E> {
        Err(E::custom("a float where a decimal string was expected"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// The answer or event object; `depth` 1 is the futures stream's inner `"o"` object.
struct ObjSeed<'a> {
    f: &'a mut Fields,
    depth: u8,
}

impl<'de> DeserializeSeed<'de> for ObjSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ObjSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        let f = self.f;
        while let Some(k) = m.next_key::<&str>()? {
            match k {
                "e" if self.depth == 0 => m.next_value_seed(AnyText(&mut f.event))?,
                // futures: the order is the object `"o"`; spot `executionReport`: `"o"` is the
                // order type (a string), ignored below
                "o" if self.depth == 0 && f.event.as_slice() == b"ORDER_TRADE_UPDATE" => m
                    .next_value_seed(ObjSeed {
                        f: &mut *f,
                        depth: 1,
                    })?,
                "symbol" | "s" => m.next_value_seed(AnyText(&mut f.symbol))?,
                "clientOrderId" | "c" => m.next_value_seed(AnyText(&mut f.client_id))?,
                "origClientOrderId" | "C" => m.next_value_seed(AnyText(&mut f.orig_client_id))?,
                // COIN-M events (`ORDER_TRADE_UPDATE`, `ACCOUNT_UPDATE`) have a top-level
                // `"i"`: the account alias (a string). Only spot's `executionReport` has the
                // order id there (futures: `"o"."i"`; REST answers: `orderId`).
                "i" if self.depth == 0 && f.event.as_slice() != b"executionReport" => {
                    m.next_value::<IgnoredAny>()?;
                }
                "orderId" | "i" => f.order_id = m.next_value::<u64>()?,
                "status" | "X" => m.next_value_seed(AnyText(&mut f.status))?,
                "executedQty" | "z" => m.next_value_seed(AnyText(&mut f.cum_qty))?,
                "cummulativeQuoteQty" | "cumQuote" | "cumBase" | "Z" => {
                    m.next_value_seed(AnyText(&mut f.cum_quote))?
                }
                "avgPrice" | "ap" => m.next_value_seed(AnyText(&mut f.avg_px))?,
                "transactTime" | "updateTime" | "T" => f.time_ms = m.next_value::<u64>()?,
                "l" => m.next_value_seed(AnyText(&mut f.last.qty))?,
                "L" => m.next_value_seed(AnyText(&mut f.last.px))?,
                "n" => m.next_value_seed(AnyText(&mut f.last.fee))?,
                "N" => m.next_value_seed(AnyText(&mut f.last.fee_asset))?,
                "t" => {
                    // trade id; -1 when the event is not a trade
                    let v = m.next_value::<i64>()?;
                    f.last.trade_id = v.max(0) as u64;
                }
                "code" => f.code = Some(m.next_value::<i64>()?),
                "msg" => {
                    let s = m.next_value::<&str>()?;
                    f.msg.set(s);
                }
                "fills" => m.next_value_seed(FillsSeed { f: &mut *f })?,
                _ => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct FillsSeed<'a> {
    f: &'a mut Fields,
}

impl<'de> DeserializeSeed<'de> for FillsSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for FillsSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of fills")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        loop {
            if self.f.n_fills == RAW_FILLS {
                match s.next_element::<IgnoredAny>()? {
                    Some(_) => self.f.fills_over += 1,
                    None => return Ok(()),
                }
                continue;
            }
            let slot = &mut self.f.fills[self.f.n_fills];
            match s.next_element_seed(FillSeed(slot))? {
                Some(()) => self.f.n_fills += 1,
                None => return Ok(()),
            }
        }
    }
}

struct FillSeed<'a>(&'a mut RawFill);

impl<'de> DeserializeSeed<'de> for FillSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FillSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a fill")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        let r = self.0;
        while let Some(k) = m.next_key::<&str>()? {
            match k {
                "price" => m.next_value_seed(AnyText(&mut r.px))?,
                "qty" => m.next_value_seed(AnyText(&mut r.qty))?,
                "commission" => m.next_value_seed(AnyText(&mut r.fee))?,
                "commissionAsset" => m.next_value_seed(AnyText(&mut r.fee_asset))?,
                "tradeId" => r.trade_id = m.next_value::<u64>()?,
                _ => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// `arbot sign` for Binance: `timestamp=<T>` is appended to the body when there is one, else
/// to the query (as order entry sends its parameters), then `signature=hex(HMAC-SHA256(secret,
/// query ++ body))` to the same; headers as sent (`X-MBX-APIKEY`, and for a body
/// `Content-Type: application/x-www-form-urlencoded` with its length).
pub fn sign_request(
    market: Market,
    creds: &crate::venues::Credentials,
    r: &crate::venues::SignRequest,
) -> Result<Vec<u8>, String> {
    let method = r.method.to_ascii_uppercase();
    if !matches!(method.as_str(), "GET" | "POST" | "DELETE" | "PUT") {
        return Err(format!("method {method:?}: GET, POST, DELETE or PUT"));
    }
    if !r.path.starts_with('/') {
        return Err(format!("path {:?} must start with /", r.path));
    }
    let ts = format!("timestamp={}", r.timestamp_ms);
    let join = |a: &str| {
        if a.is_empty() {
            ts.clone()
        } else {
            format!("{a}&{ts}")
        }
    };
    let (mut query, mut body) = (r.query.clone(), r.body.clone());
    if body.is_empty() {
        query = join(&query);
    } else {
        body = join(&body);
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, &creds.secret);
    let payload = format!("{query}{body}");
    let sig = sign_hex(&key, payload.as_bytes());
    let sig = std::str::from_utf8(&sig).unwrap_or("");
    if body.is_empty() {
        query = format!("{query}&signature={sig}");
    } else {
        body = format!("{body}&signature={sig}");
    }
    let host = match &r.host {
        Some(h) => h.clone(),
        None => crate::net::Url::parse(market.rest_base())?.host_header(),
    };
    let target = if query.is_empty() {
        r.path.clone()
    } else {
        format!("{}?{query}", r.path)
    };
    let mut out = format!(
        "{method} {target} HTTP/1.1\r\nHost: {host}\r\nX-MBX-APIKEY: {}\r\n",
        creds.api_key
    );
    if !body.is_empty() {
        out.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    out.push_str("\r\n");
    out.push_str(&body);
    Ok(out.into_bytes())
}

// ---- cold side: account, time, private stream ----------------------------------------------

/// Blocking account calls for one Binance market (start-up, end, cold threads).
pub struct BinanceAccount {
    market: Market,
    rest: String,
    ws: String,
    api_key: String,
    key: hmac::Key,
    agent: ureq::Agent,
    symbols: Vec<OrderSymbol>,
    recv_window_ms: u32,
    listen_key: std::sync::Mutex<Option<String>>,
}

impl fmt::Debug for BinanceAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BinanceAccount")
            .field("market", &self.market)
            .field("rest", &self.rest)
            .finish_non_exhaustive()
    }
}

impl BinanceAccount {
    /// For `market`: REST base (`https://api.binance.com` or a loopback base), stream base
    /// (`wss://stream.binance.com:9443` or a loopback one), credentials, CA file for TLS.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        market: Market,
        rest: &str,
        ws: &str,
        api_key: &str,
        secret: &[u8],
        symbols: Vec<OrderSymbol>,
        recv_window_ms: u32,
        ca_file: Option<&std::path::Path>,
    ) -> Result<BinanceAccount, String> {
        let agent = crate::net::snapshot::agent(ca_file, std::time::Duration::from_secs(10))?;
        Ok(BinanceAccount {
            market,
            rest: rest.trim_end_matches('/').to_string(),
            ws: ws.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
            agent,
            symbols,
            recv_window_ms,
            listen_key: std::sync::Mutex::new(None),
        })
    }

    fn api(&self, p: &str) -> String {
        let v = match self.market {
            Market::Spot => "/api/v3",
            Market::Usdm => "/fapi/v1",
            Market::Coinm => "/dapi/v1",
        };
        format!("{}{v}{p}", self.rest)
    }

    fn signed_get(
        &self,
        url: &str,
        params: &str,
        now_ms: u64,
    ) -> Result<serde_json::Value, String> {
        let mut q = params.to_string();
        if !q.is_empty() {
            q.push('&');
        }
        q.push_str(&format!(
            "recvWindow={}&timestamp={now_ms}",
            self.recv_window_ms
        ));
        let sig = sign_hex(&self.key, q.as_bytes());
        let full = format!(
            "{url}?{q}&signature={}",
            std::str::from_utf8(&sig).unwrap_or("")
        );
        self.call("GET", &full)
    }

    fn call(&self, method: &str, url: &str) -> Result<serde_json::Value, String> {
        let req = match method {
            "POST" => self
                .agent
                .post(url)
                .header("X-MBX-APIKEY", &self.api_key)
                .send_empty(),
            "PUT" => self
                .agent
                .put(url)
                .header("X-MBX-APIKEY", &self.api_key)
                .send_empty(),
            _ => self
                .agent
                .get(url)
                .header("X-MBX-APIKEY", &self.api_key)
                .call(),
        };
        let mut resp = req.map_err(|e| format!("{method} {}: {e}", strip_query(url)))?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("{method} {}: {e}", strip_query(url)))?;
        if !(200..300).contains(&status) {
            return Err(format!(
                "{method} {}: HTTP {status}: {}",
                strip_query(url),
                body.chars().take(200).collect::<String>()
            ));
        }
        serde_json::from_str(&body).map_err(|e| format!("{}: {e}", strip_query(url)))
    }

    fn qty_of(&self, symbol: &str, s: &str) -> Result<Qty, String> {
        let sc = self
            .symbols
            .iter()
            .find(|x| x.symbol == symbol)
            .map(|x| x.scale.qty_dec)
            .unwrap_or(8);
        parse_decimal(s.as_bytes(), sc)
            .map(|d| Qty(d.value))
            .map_err(|e| format!("position {symbol} {s:?}: {e}"))
    }
}

/// A URL without its query (signatures and keys stay out of error messages).
fn strip_query(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

fn amount_of(v: &serde_json::Value) -> Result<Amount, String> {
    let s = v
        .as_str()
        .ok_or_else(|| format!("not a decimal string: {v}"))?;
    parse_amount_trunc(s.as_bytes()).ok_or_else(|| format!("bad amount {s:?}"))
}

impl AccountApi for BinanceAccount {
    fn server_time_ms(&self) -> Result<u64, String> {
        let v = self.call("GET", &self.api("/time"))?;
        v["serverTime"]
            .as_u64()
            .ok_or_else(|| format!("no serverTime in {v}"))
    }

    fn account(&self, now_ms: u64) -> Result<(Vec<VenueBalance>, Vec<VenuePosition>), String> {
        let url = match self.market {
            Market::Spot => self.api("/account"),
            Market::Usdm => format!("{}/fapi/v2/account", self.rest),
            Market::Coinm => self.api("/account"),
        };
        let v = self.signed_get(&url, "", now_ms)?;
        let mut bal = Vec::new();
        let mut pos = Vec::new();
        match self.market {
            Market::Spot => {
                for b in v["balances"].as_array().ok_or("no balances")? {
                    let free = amount_of(&b["free"])?;
                    let locked = amount_of(&b["locked"])?;
                    bal.push(VenueBalance {
                        asset: b["asset"].as_str().unwrap_or("?").to_ascii_uppercase(),
                        total: Amount(free.0 + locked.0),
                    });
                }
            }
            Market::Usdm | Market::Coinm => {
                for b in v["assets"].as_array().ok_or("no assets")? {
                    bal.push(VenueBalance {
                        asset: b["asset"].as_str().unwrap_or("?").to_ascii_uppercase(),
                        total: amount_of(&b["walletBalance"])?,
                    });
                }
                for p in v["positions"].as_array().ok_or("no positions")? {
                    let sym = p["symbol"].as_str().unwrap_or("?");
                    let amt = p["positionAmt"].as_str().unwrap_or("0");
                    let q = self.qty_of(sym, amt)?;
                    if q.0 != 0 {
                        let entry_px = p["entryPrice"]
                            .as_str()
                            .and_then(|x| x.parse::<f64>().ok())
                            .unwrap_or(0.0);
                        pos.push(VenuePosition {
                            symbol: sym.to_string(),
                            qty: q,
                            entry_px,
                        });
                    }
                }
            }
        }
        Ok((bal, pos))
    }

    fn open_user_stream(&self) -> Result<String, String> {
        let path = match self.market {
            Market::Spot => self.api("/userDataStream"),
            _ => self.api("/listenKey"),
        };
        let v = self.call("POST", &path)?;
        let k = v["listenKey"]
            .as_str()
            .ok_or_else(|| "no listenKey in the answer".to_string())?
            .to_string();
        let url = format!("{}/ws/{k}", self.ws);
        if let Ok(mut g) = self.listen_key.lock() {
            *g = Some(k);
        }
        Ok(url)
    }

    fn keepalive_user_stream(&self) -> Result<(), String> {
        let k = self
            .listen_key
            .lock()
            .ok()
            .and_then(|g| g.clone())
            .ok_or("no user stream open")?;
        let path = match self.market {
            Market::Spot => self.api("/userDataStream"),
            _ => self.api("/listenKey"),
        };
        self.call("PUT", &format!("{path}?listenKey={k}"))
            .map(|_| ())
    }

    fn open_orders(&self, now_ms: u64) -> Result<Vec<u64>, String> {
        let v = self.signed_get(&self.api("/openOrders"), "", now_ms)?;
        Ok(v.as_array()
            .ok_or("openOrders: not an array")?
            .iter()
            .filter_map(|o| o["clientOrderId"].as_str())
            .filter_map(|c| client_id_of(c.as_bytes(), CLIENT_PREFIX))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, s.as_bytes())
    }

    fn sym() -> Vec<OrderSymbol> {
        vec![OrderSymbol {
            symbol: "BTCUSDT".into(),
            scale: Scale {
                price_dec: 2,
                qty_dec: 5,
            },
            base: "BTC".into(),
            quote: "USDT".into(),
        }]
    }

    fn enc(market: Market, base: &str) -> BinanceOrders {
        BinanceOrders::new(
            market,
            RestBase::parse(base).unwrap(),
            sym(),
            "APIKEY",
            b"secret",
        )
    }

    #[test]
    fn official_spot_rest_vectors() {
        // rest-api.md, "SIGNED Endpoint Examples for POST /api/v3/order"
        let k = key("NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j");
        let p = b"symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
        assert_eq!(
            &sign_hex(&k, p),
            b"c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
        );
        let p = b"symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
        assert_eq!(
            &sign_hex(&k, p),
            b"e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3"
        );
    }

    #[test]
    fn official_usdm_rest_vector() {
        let k = key("2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9");
        let p = b"symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC&recvWindow=5000&timestamp=1591702613943";
        assert_eq!(
            &sign_hex(&k, p),
            b"3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"
        );
    }

    #[test]
    fn encodes_signed_place_cancel_and_query_requests() {
        let mut e = enc(Market::Spot, "https://api.binance.com");
        let req = e
            .place(&OrderFields {
                symbol: "BTCUSDT",
                side: Side::Sell,
                kind: OrderKind::LimitIoc,
                qty: 1234,
                qty_dec: 5,
                px: 6183763,
                price_dec: 2,
                client_id: 42,
                timestamp_ms: 1723161255000,
                recv_window_ms: 5000,
                token: &crate::exec::SendToken::for_tests(),
            })
            .to_vec();
        let text = String::from_utf8(req).unwrap();
        assert!(text.starts_with(
            "POST /api/v3/order HTTP/1.1\r\nHost: api.binance.com\r\nX-MBX-APIKEY: APIKEY\r\n"
        ));
        let (_, body) = text.split_once("\r\n\r\n").unwrap();
        let unsigned = "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=IOC&quantity=0.01234&price=61837.63&newClientOrderId=arb42&newOrderRespType=FULL&recvWindow=5000&timestamp=1723161255000";
        let sig = sign_hex(&key("secret"), unsigned.as_bytes());
        assert_eq!(
            body,
            format!(
                "{unsigned}&signature={}",
                std::str::from_utf8(&sig).unwrap()
            )
        );
        assert!(text.contains(&format!("Content-Length: {}\r\n", body.len())));
        assert!(!format!("{e:?}").contains("secret"));
        // loopback base: the path keeps the prefix, the Host its port
        let mut e = enc(Market::Usdm, "http://127.0.0.1:9901/usdm");
        let r = OrderRef {
            symbol: "BTCUSDT",
            client_id: 7,
            timestamp_ms: 1,
            recv_window_ms: 5000,
        };
        let c = String::from_utf8(e.cancel(&r).to_vec()).unwrap();
        let unsigned = "symbol=BTCUSDT&origClientOrderId=arb7&recvWindow=5000&timestamp=1";
        let sig = sign_hex(&key("secret"), unsigned.as_bytes());
        assert_eq!(
            c,
            format!(
                "DELETE /usdm/fapi/v1/order?{unsigned}&signature={} HTTP/1.1\r\nHost: 127.0.0.1:9901\r\nX-MBX-APIKEY: APIKEY\r\nConnection: keep-alive\r\n\r\n",
                std::str::from_utf8(&sig).unwrap()
            )
        );
        let q = String::from_utf8(e.query(&r).to_vec()).unwrap();
        assert!(q.starts_with("GET /usdm/fapi/v1/order?symbol=BTCUSDT&origClientOrderId=arb7&"));
    }

    #[test]
    fn what_the_parser_skips_is_scanned_not_validated() {
        // found by the binance_orders fuzz target (its serde_json differential): values of
        // fields the parser does not read are scanned over, not validated. JSON sets no range
        // on numbers (RFC 8259 §6), so `1.5e+535` there is valid and the answer reads as usual;
        // an invalid escape (`\uon`) there is not valid JSON but is accepted too (the answer
        // comes from the venue over TLS; the fields read are checked)
        let e = enc(Market::Spot, "https://api.binance.com");
        let mut u = OrderUpdate::default();
        let body = br#"{"symbol":"BTCUSDT","orderId":28,"clientOrderId":"arb42","executedQty":"0.01000","cummulativeQuoteQty":"618.37630000","status":"EXPIRED","workingTime":151555.5e+535,"fills":[]}"#;
        e.parse_order(200, body, &mut u).unwrap();
        assert_eq!((u.client_id, u.status), (42, OrderStatus::Expired));
        assert_eq!(u.cum_qty, Some(Qty(1000)));
        assert_eq!(u.cum_quote, Some(Amount(61_837_630_000)));
        // sonic-rs validates the escapes of a short skipped string, not of a long one (its SIMD
        // skip looks for the closing quote only)
        let short = br#"{"symbol":"BTCUSDT","orderId":28,"clientOrderId":"arb42","executedQty":"0.01000","status":"EXPIRED","selfTradePreventionMode":"N\uonE","fills":[]}"#;
        assert!(e.parse_order(200, short, &mut u).is_err());
        let long = format!(
            r#"{{"symbol":"BTCUSDT","orderId":28,"clientOrderId":"arb42","executedQty":"0.01000","status":"EXPIRED","origType":"{}\uon{}","fills":[]}}"#,
            r"\\".repeat(40),
            r"\\".repeat(40)
        );
        e.parse_order(200, long.as_bytes(), &mut u).unwrap();
        assert!(serde_json::from_slice::<serde_json::Value>(long.as_bytes()).is_err());
        assert_eq!((u.client_id, u.cum_qty), (42, Some(Qty(1000))));
        // a malformed number is still refused, and so is a bad value in a field that is read
        let bad = br#"{"symbol":"BTCUSDT","orderId":28,"clientOrderId":"arb42","executedQty":"0.01000","status":"EXPIRED","workingTime":1.5e+,"fills":[]}"#;
        assert!(e.parse_order(200, bad, &mut u).is_err());
        let bad = br#"{"symbol":"BTCUSDT","orderId":28,"clientOrderId":"arb42","executedQty":"0.0x","status":"EXPIRED","fills":[]}"#;
        assert!(e.parse_order(200, bad, &mut u).is_err());
    }

    #[test]
    fn parses_spot_full_answers_errors_and_stream_events() {
        let e = enc(Market::Spot, "https://api.binance.com");
        let mut u = OrderUpdate::default();
        // the docs' FULL response shape, with our ids
        let body = br#"{"symbol":"BTCUSDT","orderId":28,"orderListId":-1,"clientOrderId":"arb42","transactTime":1507725176595,"price":"61837.63","origQty":"0.01234","executedQty":"0.01000","cummulativeQuoteQty":"618.37630000","status":"EXPIRED","timeInForce":"IOC","type":"LIMIT","side":"SELL","workingTime":1507725176595,"selfTradePreventionMode":"NONE","fills":[{"price":"61837.63","qty":"0.00600","commission":"0.37102578","commissionAsset":"USDT","tradeId":56},{"price":"61837.63","qty":"0.00400","commission":"0.24735052","commissionAsset":"USDT","tradeId":57}]}"#;
        e.parse_order(200, body, &mut u).unwrap();
        assert_eq!(
            (u.client_id, u.order_id, u.status),
            (42, 28, OrderStatus::Expired)
        );
        assert_eq!(u.cum_qty, Some(Qty(1000)));
        assert_eq!(u.cum_quote, Some(Amount(61_837_630_000)));
        assert_eq!(u.n_fills, 2);
        assert_eq!(
            u.fills[0],
            ExecFill {
                px: Price(6183763),
                qty: Qty(600),
                fee: Amount(37_102_578),
                fee_asset: FeeAsset::Quote,
                trade_id: 56
            }
        );
        // an error body
        let err = e
            .parse_order(
                400,
                br#"{"code":-1022,"msg":"Signature for this request is not valid."}"#,
                &mut u,
            )
            .unwrap_err();
        assert_eq!((err.http_status, err.code), (400, -1022));
        assert_eq!(e.classify(&err), ErrorClass::Auth);
        for (st, code, want) in [
            (429, -1003, ErrorClass::RateLimited),
            (418, -1003, ErrorClass::Banned),
            (400, -1021, ErrorClass::ClockSkew),
            (400, -1013, ErrorClass::Rejected),
            (400, -2010, ErrorClass::Rejected),
            (400, -2013, ErrorClass::UnknownOrder),
            (503, 0, ErrorClass::Unknown),
        ] {
            assert_eq!(
                e.classify(&ApiError::new(st, code, b"")),
                want,
                "{st} {code}"
            );
        }
        // garbage is an error, never a panic
        assert!(e.parse_order(200, b"{\"orderId\":", &mut u).is_err());
        assert!(e.parse_order(200, b"[]", &mut u).is_err());
        // fuzz crash (tests/fuzz binance_orders): a complete answer followed by more bytes was
        // accepted; now nothing but white space may follow
        let cut = br#"{"e":"executionReport","E":1,"s":"BTCUSDT","c":"cIIb43","x":"CANCELED","X":"CANCELED","i":29,"l":"0.00000","z":"0.00500","L":"0.00","n":"0","N":null,"T":2,"t":-1,"Z":"309.19995000"}hhhh"#;
        assert!(e.parse_order(200, cut, &mut u).is_err());
        assert!(e.parse_stream(cut, &mut u).is_err());
        let ok = &cut[..cut.len() - 4];
        assert!(e.parse_order(200, ok, &mut u).is_ok());
        assert!(e.parse_stream(ok, &mut u).unwrap());
        assert!(e.parse_order(200, &[ok, b" \n"].concat(), &mut u).is_ok());
        // fuzz find (differential with serde_json): invalid UTF-8 in a skipped field
        let bad = [&ok[..ok.len() - 1], b",\"NZ\":\"3\xd0\xc6\"}"].concat();
        assert!(e.parse_order(200, &bad, &mut u).is_err());
        assert!(e.parse_stream(&bad, &mut u).is_err());
        // a stream trade on a buy, commission in BNB
        let ev = br#"{"e":"executionReport","E":1499405658658,"s":"BTCUSDT","c":"arb43","S":"BUY","o":"LIMIT","f":"IOC","q":"0.01000","p":"61840.00","P":"0.00000000","F":"0.00000000","g":-1,"C":"","x":"TRADE","X":"PARTIALLY_FILLED","r":"NONE","i":29,"l":"0.00500","z":"0.00500","L":"61839.99","n":"0.00001000","N":"BNB","T":1499405658657,"t":58,"I":8641984,"w":false,"m":false,"M":true,"O":1499405658657,"Z":"309.19995000","Y":"309.19995000","Q":"0.00000000","W":1499405658657,"V":"NONE"}"#;
        assert!(e.parse_stream(ev, &mut u).unwrap());
        assert_eq!(
            (u.client_id, u.status, u.n_fills),
            (43, OrderStatus::PartiallyFilled, 1)
        );
        assert_eq!(u.fills[0].qty, Qty(500));
        assert_eq!(u.fills[0].fee_asset, FeeAsset::Other(*b"BNB\0\0\0\0\0"));
        // a stream cancel names our id in `C`
        let ev = br#"{"e":"executionReport","E":1,"s":"BTCUSDT","c":"cancel-x1","C":"arb43","x":"CANCELED","X":"CANCELED","i":29,"l":"0.00000","z":"0.00500","L":"0.00","n":"0","N":null,"T":2,"t":-1,"Z":"309.19995000"}"#;
        assert!(e.parse_stream(ev, &mut u).unwrap());
        assert_eq!(
            (u.client_id, u.status, u.n_fills),
            (43, OrderStatus::Cancelled, 0)
        );
        assert!(!e
            .parse_stream(
                br#"{"e":"outboundAccountPosition","E":1,"u":1,"B":[]}"#,
                &mut u
            )
            .unwrap());
    }

    #[test]
    fn sign_reproduces_the_official_spot_example() {
        // rest-api.md: the body example, signed with the documented key
        let creds = crate::venues::Credentials {
            api_key: "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A".into(),
            secret: b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j".to_vec(),
            passphrase: None,
        };
        let r = crate::venues::SignRequest {
            method: "POST".into(),
            path: "/api/v3/order".into(),
            body: "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000".into(),
            timestamp_ms: 1499827319559,
            ..Default::default()
        };
        let req = String::from_utf8(sign_request(Market::Spot, &creds, &r).unwrap()).unwrap();
        assert!(req.starts_with("POST /api/v3/order HTTP/1.1\r\n"), "{req}");
        assert!(
            req.ends_with(
                "&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
            ),
            "{req}"
        );
        assert!(req.contains(
            "X-MBX-APIKEY: vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A\r\n"
        ));
        assert!(req.contains("Host: api.binance.com\r\n"));
    }

    #[test]
    fn parses_futures_result_answers_and_order_trade_updates() {
        let e = enc(Market::Usdm, "https://fapi.binance.com");
        let mut u = OrderUpdate::default();
        let body = br#"{"clientOrderId":"arb8","cumQty":"0","cumQuote":"1236.75200","executedQty":"0.02000","orderId":22542179,"avgPrice":"61837.60","origQty":"0.02000","price":"61840.00","reduceOnly":false,"side":"BUY","positionSide":"BOTH","status":"FILLED","stopPrice":"0","closePosition":false,"symbol":"BTCUSDT","timeInForce":"IOC","type":"LIMIT","origType":"LIMIT","updateTime":1566818724722,"workingType":"CONTRACT_PRICE","priceProtect":false}"#;
        e.parse_order(200, body, &mut u).unwrap();
        assert_eq!((u.client_id, u.status), (8, OrderStatus::Filled));
        assert_eq!(u.cum_qty, Some(Qty(2000)));
        assert_eq!(
            (u.n_fills, u.avg_px),
            (0, Some(Price(6183760))),
            "no executions listed: the average price only (no made-up fill)"
        );
        let ev = br#"{"e":"ORDER_TRADE_UPDATE","E":1568879465651,"T":1568879465650,"o":{"s":"BTCUSDT","c":"arb9","S":"SELL","o":"LIMIT","f":"IOC","q":"0.00100","p":"61800.00","ap":"61801.00","sp":"0","x":"TRADE","X":"FILLED","i":8886774,"l":"0.00100","z":"0.00100","L":"61801.00","N":"USDT","n":"0.01236020","T":1568879465650,"t":77,"b":"0","a":"0","m":false,"R":false,"wt":"CONTRACT_PRICE","ot":"LIMIT","ps":"BOTH","cp":false,"rp":"0"}}"#;
        assert!(e.parse_stream(ev, &mut u).unwrap());
        assert_eq!(
            (u.client_id, u.order_id, u.status),
            (9, 8886774, OrderStatus::Filled)
        );
        assert_eq!(
            (
                u.fills[0].px,
                u.fills[0].qty,
                u.fills[0].fee,
                u.fills[0].trade_id
            ),
            (Price(6180100), Qty(100), Amount(1_236_020), 77)
        );
    }
}

#[cfg(test)]
mod coinm_stream_tests {
    use super::*;

    #[test]
    fn coinm_account_update_with_its_account_alias_is_not_an_error() {
        let e = BinanceOrders::new(
            Market::Coinm,
            RestBase::parse("https://dapi.binance.com").unwrap(),
            Vec::new(),
            "APIKEY",
            b"secret",
        );
        let msg = br#"{"e":"ACCOUNT_UPDATE","E":1796104313473,"T":1796104313473,"i":"SfsR","a":{"m":"ORDER","B":[{"a":"BTC","wb":"1.99998784","cw":"1.99998784","bc":"0"}],"P":[{"s":"BTCUSD_PERP","pa":"49","ep":"61648.0","bep":"61648.0","cr":"0","up":"0","mt":"cross","iw":"0","ps":"BOTH"}]}}"#;
        let mut u = OrderUpdate::default();
        assert_eq!(e.parse_stream(msg, &mut u), Ok(false));
    }

    #[test]
    fn coinm_order_trade_update_with_its_account_alias_parses() {
        // COIN-M "Event: Order Update" has a top-level `"i"` (the account alias, a string)
        // beside the order's `"o"."i"` (the order id); shape as in
        // https://developers.binance.com/docs/derivatives/coin-margined-futures/user-data-streams/Event-Order-Update
        let e = BinanceOrders::new(
            Market::Coinm,
            RestBase::parse("https://dapi.binance.com").unwrap(),
            vec![OrderSymbol {
                symbol: "BTCUSD_PERP".into(),
                scale: Scale {
                    price_dec: 1,
                    qty_dec: 0,
                },
                base: "BTC".into(),
                quote: "USD".into(),
            }],
            "APIKEY",
            b"secret",
        );
        let msg = br#"{"e":"ORDER_TRADE_UPDATE","E":1591274595442,"T":1591274595453,"i":"SfsR","o":{"s":"BTCUSD_PERP","c":"arb17","S":"SELL","o":"LIMIT","f":"IOC","q":"2","p":"61800.0","ap":"61801.0","sp":"0","x":"TRADE","X":"FILLED","i":8888888,"l":"2","z":"2","L":"61801.0","ma":"BTC","N":"BTC","n":"0.00000058","T":1591274595442,"t":31,"rp":"0","b":"0","a":"0","m":false,"R":false,"wt":"CONTRACT_PRICE","ot":"LIMIT","ps":"BOTH","cp":false,"pP":false}}"#;
        let mut u = OrderUpdate::default();
        assert!(e.parse_stream(msg, &mut u).unwrap());
        assert_eq!(
            (u.client_id, u.order_id, u.status, u.cum_qty),
            (17, 8888888, OrderStatus::Filled, Some(Qty(2)))
        );
        assert_eq!(u.avg_px, Some(Price(618010)));
        assert_eq!(
            (
                u.n_fills,
                u.fills[0].qty,
                u.fills[0].fee,
                u.fills[0].trade_id
            ),
            (1, Qty(2), Amount(58), 31)
        );
        assert_eq!(u.fills[0].fee_asset, FeeAsset::Base);
    }
}
