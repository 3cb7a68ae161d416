//! Bybit v5 REST signing (order encoding not built yet).
//!
//! `X-BAPI-SIGN = hex(HMAC-SHA256(secret, timestamp + api_key + recv_window + payload))`, payload
//! the raw query string for GET/DELETE and the exact JSON body for POST; headers
//! `X-BAPI-API-KEY`, `X-BAPI-TIMESTAMP` (ms), `X-BAPI-SIGN`, `X-BAPI-RECV-WINDOW`.
//! Source: <https://bybit-exchange.github.io/docs/v5/guide#authentication>
//! (`../shared/docs/exchanges.md` §4.4). Bybit's documented examples withhold the secret; the
//! scheme is checked against ccxt (`tests/signatures_ccxt.rs`).
#![forbid(unsafe_code)]

use crate::venues::signing::{self, Encoding, HmacSigner};
use crate::venues::{Credentials, SignRequest};
use ring::hmac;
use std::fmt::Write;

/// Public REST host.
pub const REST_BASE: &str = "https://api.bybit.com";
/// `X-BAPI-RECV-WINDOW` sent by `arbot sign` (Bybit's default, ms).
pub const RECV_WINDOW_MS: u32 = 5000;

/// Signs Bybit v5 requests with one key; nothing allocated after the first request.
#[derive(Debug)]
pub struct BybitSigner {
    hmac: HmacSigner,
    num: String,
}

impl BybitSigner {
    /// A signer for `secret`.
    pub fn new(secret: &[u8]) -> BybitSigner {
        BybitSigner {
            hmac: HmacSigner::new(hmac::HMAC_SHA256, secret, Encoding::Hex),
            num: String::with_capacity(32),
        }
    }

    /// `X-BAPI-SIGN` for `payload` (query for GET/DELETE, JSON body for POST).
    pub fn sign(&mut self, ts_ms: u64, api_key: &str, recv_window_ms: u32, payload: &str) -> &str {
        self.num.clear();
        let _ = write!(self.num, "{ts_ms}{api_key}{recv_window_ms}");
        self.hmac.sign(&[self.num.as_bytes(), payload.as_bytes()])
    }
}

/// `arbot sign bybit`: the signed request, `X-BAPI-RECV-WINDOW` [`RECV_WINDOW_MS`].
pub fn sign_request(creds: &Credentials, r: &SignRequest) -> Result<Vec<u8>, String> {
    let q = signing::check(r, REST_BASE)?;
    let method = q.method.as_str();
    let payload = if matches!(method, "GET" | "DELETE") {
        if !r.body.is_empty() {
            return Err(
                "Bybit signs the query for GET/DELETE: put the parameters in --query".into(),
            );
        }
        r.query.as_str()
    } else {
        r.body.as_str()
    };
    let mut s = BybitSigner::new(&creds.secret);
    let sig = s.sign(r.timestamp_ms, &creds.api_key, RECV_WINDOW_MS, payload);
    let ts = r.timestamp_ms.to_string();
    let rw = RECV_WINDOW_MS.to_string();
    let h = [
        ("X-BAPI-API-KEY", creds.api_key.as_str()),
        ("X-BAPI-TIMESTAMP", ts.as_str()),
        ("X-BAPI-SIGN", sig),
        ("X-BAPI-RECV-WINDOW", rw.as_str()),
        ("Content-Type", "application/json"),
    ];
    Ok(q.build(&h, &r.body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_timestamp_key_window_payload() {
        // the documented GET string shape, with our own secret (Bybit withholds its own)
        let mut s = BybitSigner::new(b"secret");
        let got = s
            .sign(
                1_658_384_314_791,
                "XXXXXXXXXX",
                5000,
                "category=option&symbol=BTC-29JUL22-25000-C",
            )
            .to_string();
        let tag = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, b"secret"),
            b"1658384314791XXXXXXXXXX5000category=option&symbol=BTC-29JUL22-25000-C",
        );
        let mut want = String::new();
        signing::push_hex(&mut want, tag.as_ref());
        assert_eq!(got, want);
    }
}
