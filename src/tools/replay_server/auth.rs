//! Request parameters and Binance's request security.
//!
//! - Parameters come from the query string and, for `POST`/`PUT`/`DELETE`, from an
//!   `application/x-www-form-urlencoded` body; a parameter in both is taken from the query
//!   string; the same name twice in one of them is -1101
//!   (<https://developers.binance.com/docs/binance-spot-api-docs/rest-api#general-information-on-endpoints>).
//! - SIGNED endpoints: `signature` = hex HMAC-SHA256(secret, query string ++ body, as sent,
//!   without the `signature` parameter), case-insensitive, checked in constant time with
//!   `ring::hmac::verify`
//!   (<https://developers.binance.com/docs/binance-spot-api-docs/rest-api#signed-endpoint-security>,
//!   <https://developers.binance.com/docs/derivatives/usds-margined-futures/general-info>).
//! - Timing: `timestamp` (ms, or µs when ≥ 10¹⁴) and `recvWindow` (default 5000 ms, up to
//!   three decimals, at most 60000): accepted when
//!   `timestamp < serverTime + 1000 && serverTime − timestamp ≤ recvWindow`
//!   (<https://developers.binance.com/docs/binance-spot-api-docs/rest-api#timing-security>).

use super::exchange::ApiError;

/// The decoded parameters of one request.
#[derive(Debug, Default)]
pub(super) struct Params {
    query: Vec<(String, String)>,
    body: Vec<(String, String)>,
}

fn hexval(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decoding (`+` is a space); invalid escapes, invalid UTF-8 and control characters
/// are -1100.
fn decode(s: &str) -> Result<String, ApiError> {
    let bad = || ApiError::new(-1100, "Illegal characters found in a parameter.");
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let h = b.get(i + 1).copied().and_then(hexval).ok_or_else(bad)?;
                let l = b.get(i + 2).copied().and_then(hexval).ok_or_else(bad)?;
                out.push(h << 4 | l);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    let s = String::from_utf8(out).map_err(|_| bad())?;
    if s.chars().any(char::is_control) {
        return Err(bad());
    }
    Ok(s)
}

fn parse_part(s: &str) -> Result<Vec<(String, String)>, ApiError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for kv in s.split('&').filter(|kv| !kv.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        let (k, v) = (decode(k)?, decode(v)?);
        if out.iter().any(|(x, _)| *x == k) {
            return Err(ApiError::new(
                -1101,
                "Duplicate values for a parameter detected.",
            ));
        }
        out.push((k, v));
    }
    Ok(out)
}

impl Params {
    /// Parse the query string and the body.
    pub(super) fn parse(query: &str, body: &str) -> Result<Params, ApiError> {
        Ok(Params {
            query: parse_part(query)?,
            body: parse_part(body)?,
        })
    }

    /// A parameter's value (query string first); empty values count as absent.
    pub(super) fn get(&self, k: &str) -> Option<&str> {
        self.query
            .iter()
            .chain(self.body.iter())
            .find(|(x, _)| x == k)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// The signature payload (query string ++ body without the `signature` parameter) and the
/// signature sent (from the query string if it has one, else from the body).
pub(super) fn signed_payload(query: &str, body: &str) -> (String, Option<String>) {
    let mut sig = None;
    let mut strip = |part: &str| -> String {
        let mut kept: Vec<&str> = Vec::new();
        for kv in part.split('&') {
            match kv.strip_prefix("signature=") {
                Some(v) => {
                    if sig.is_none() {
                        sig = Some(v.to_string());
                    }
                }
                None => kept.push(kv),
            }
        }
        kept.join("&")
    };
    let q = strip(query);
    let b = strip(body);
    (q + &b, sig)
}

/// Does `sig_hex` (any case) sign `payload` under `key`? Constant time in the comparison.
pub(super) fn verify(key: &ring::hmac::Key, payload: &[u8], sig_hex: &str) -> bool {
    let b = sig_hex.as_bytes();
    if b.len() != 64 {
        return false;
    }
    let mut tag = [0u8; 32];
    for (i, t) in tag.iter_mut().enumerate() {
        match (hexval(b[2 * i]), hexval(b[2 * i + 1])) {
            (Some(h), Some(l)) => *t = h << 4 | l,
            _ => return false,
        }
    }
    ring::hmac::verify(key, payload, &tag).is_ok()
}

/// The `timestamp` / `recvWindow` rule against the server's time (ms).
pub(super) fn check_timestamp(p: &Params, server_ms: u64) -> Result<(), ApiError> {
    let ts = p
        .get("timestamp")
        .ok_or_else(|| ApiError::mandatory("timestamp"))?;
    if ts.len() > 20 || !ts.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::illegal("timestamp", "^[0-9]{1,20}$"));
    }
    let ts: u128 = ts
        .parse()
        .map_err(|_| ApiError::illegal("timestamp", "^[0-9]{1,20}$"))?;
    let ts_us = if ts >= 100_000_000_000_000 {
        ts
    } else {
        ts * 1000
    };
    let window_us: u128 = match p.get("recvWindow") {
        None => 5_000_000,
        Some(w) => {
            let d = crate::fixed_point::parse_decimal(w.as_bytes(), 3)
                .ok()
                .filter(|d| d.value >= 0 && !w.starts_with('-') && !w.contains(['e', 'E']))
                .ok_or_else(|| ApiError::illegal("recvWindow", "^[0-9]{1,20}(\\.[0-9]{1,3})?$"))?;
            if d.value > 60_000_000 {
                return Err(ApiError::new(
                    -1102,
                    "'recvWindow' contains unexpected value. Cannot be greater than 60000.",
                ));
            }
            d.value as u128
        }
    };
    let server_us = server_ms as u128 * 1000;
    if ts_us >= server_us + 1_000_000 {
        return Err(ApiError::new(
            -1021,
            "Timestamp for this request was 1000ms ahead of the server's time.",
        ));
    }
    if server_us.saturating_sub(ts_us) > window_us {
        return Err(ApiError::new(
            -1021,
            "Timestamp for this request is outside of the recvWindow.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> ring::hmac::Key {
        ring::hmac::Key::new(ring::hmac::HMAC_SHA256, s.as_bytes())
    }

    #[test]
    fn official_vectors_verify_and_tampering_does_not() {
        // rest-api.md, "SIGNED Endpoint Examples for POST /api/v3/order" (HMAC keys)
        let k = key("NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j");
        let body = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71";
        let (payload, sig) = signed_payload("", body);
        assert!(verify(&k, payload.as_bytes(), &sig.clone().unwrap()));
        // upper case hex is the same signature
        assert!(verify(&k, payload.as_bytes(), &sig.unwrap().to_uppercase()));
        // query string + body concatenated without separator (USDⓈ-M general info, example 3)
        let k2 = key("2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9");
        let q = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC";
        let b = "quantity=1&price=9000&recvWindow=5000&timestamp=1591702613943&signature=30baaf0fab549bbeda7f5ef201898b34122da25fd23c646cac2c529aebe670a4";
        let (payload, sig) = signed_payload(q, b);
        assert!(verify(&k2, payload.as_bytes(), &sig.unwrap()));
        // one character changed
        let tampered = body.replace("quantity=1", "quantity=2");
        let (payload, sig) = signed_payload("", &tampered);
        assert!(!verify(&k, payload.as_bytes(), &sig.unwrap()));
        assert!(!verify(&k, b"x", "zz"));
        assert!(!verify(&k, b"x", &"g".repeat(64)));
    }

    #[test]
    fn params_decode_and_refuse_duplicates() {
        let p = Params::parse("symbol=BTCUSDT&x=a%2Bb", "symbol=ETHUSDT&q=1+2").unwrap();
        assert_eq!(p.get("symbol"), Some("BTCUSDT"), "the query string wins");
        assert_eq!(p.get("x"), Some("a+b"));
        assert_eq!(p.get("q"), Some("1 2"));
        assert_eq!(Params::parse("a=1&a=2", "").unwrap_err().code, -1101);
        assert_eq!(Params::parse("a=%zz", "").unwrap_err().code, -1100);
        assert_eq!(Params::parse("a=%ff", "").unwrap_err().code, -1100);
        assert_eq!(Params::parse("a=%0a", "").unwrap_err().code, -1100);
        assert_eq!(Params::parse("a=", "").unwrap().get("a"), None);
    }

    #[test]
    fn the_recv_window_rule() {
        let p = |s: &str| Params::parse(s, "").unwrap();
        let now = 1_700_000_000_000u64;
        assert!(check_timestamp(&p(&format!("timestamp={now}")), now).is_ok());
        // 5 s default window: 5000 ms old is fine, 5001 is not
        assert!(check_timestamp(&p(&format!("timestamp={}", now - 5000)), now).is_ok());
        let e = check_timestamp(&p(&format!("timestamp={}", now - 5001)), now).unwrap_err();
        assert_eq!((e.code, e.http), (-1021, 400));
        assert!(e.msg.contains("outside of the recvWindow"));
        // ahead by 999 ms is fine, by 1000 is not
        assert!(check_timestamp(&p(&format!("timestamp={}", now + 999)), now).is_ok());
        let e = check_timestamp(&p(&format!("timestamp={}", now + 1000)), now).unwrap_err();
        assert!(e.msg.contains("1000ms ahead"));
        // a wider window, with decimals; microsecond timestamps
        let q = format!("timestamp={}&recvWindow=10000.5", now - 10_000);
        assert!(check_timestamp(&p(&q), now).is_ok());
        let q = format!("timestamp={}", (now - 4000) * 1000);
        assert!(check_timestamp(&p(&q), now).is_ok());
        // limits and malformed values
        assert_eq!(
            check_timestamp(&p(&format!("timestamp={now}&recvWindow=60001")), now)
                .unwrap_err()
                .code,
            -1102
        );
        assert_eq!(check_timestamp(&p(""), now).unwrap_err().code, -1102);
        assert_eq!(
            check_timestamp(&p("timestamp=12a"), now).unwrap_err().code,
            -1100
        );
        assert_eq!(
            check_timestamp(&p(&format!("timestamp={now}&recvWindow=-1")), now)
                .unwrap_err()
                .code,
            -1100
        );
    }
}
