//! Bitget v2 REST signing (order encoding not built yet).
//!
//! `ACCESS-SIGN = Base64(HMAC-SHA256(secret, timestamp + METHOD + requestPath + ("?" + query
//! where there is one) + body))`; headers `ACCESS-KEY`, `ACCESS-SIGN`, `ACCESS-TIMESTAMP` (ms),
//! `ACCESS-PASSPHRASE`. Bitget wants the query's keys in ascending order: the query is signed
//! as given, so the caller sorts it.
//! Source: <https://www.bitget.com/api-doc/common/signature> (`../shared/docs/exchanges.md` §11.2).
//! No reproducible official vector; checked against ccxt (`tests/signatures_ccxt.rs`).
#![forbid(unsafe_code)]

use crate::venues::signing::{self, Encoding, HmacSigner};
use crate::venues::{Credentials, Exchange, SignRequest};
use ring::hmac;
use std::fmt::Write;

/// Public REST host.
pub const REST_BASE: &str = "https://api.bitget.com";

/// Signs Bitget requests with one key; nothing allocated after the first request.
#[derive(Debug)]
pub struct BitgetSigner {
    hmac: HmacSigner,
    ts: String,
}

impl BitgetSigner {
    /// A signer for `secret`.
    pub fn new(secret: &[u8]) -> BitgetSigner {
        BitgetSigner {
            hmac: HmacSigner::new(hmac::HMAC_SHA256, secret, Encoding::Base64),
            ts: String::with_capacity(24),
        }
    }

    /// `ACCESS-SIGN`; `query` without `?` (empty when none).
    pub fn sign(&mut self, ts_ms: u64, method: &str, path: &str, query: &str, body: &str) -> &str {
        self.ts.clear();
        let _ = write!(self.ts, "{ts_ms}");
        let q: &[u8] = if query.is_empty() { b"" } else { b"?" };
        self.hmac.sign(&[
            self.ts.as_bytes(),
            method.as_bytes(),
            path.as_bytes(),
            q,
            query.as_bytes(),
            body.as_bytes(),
        ])
    }
}

/// `arbot sign bitget`: the signed request (passphrase from `ARBOT_BITGET_API_PASSPHRASE`).
pub fn sign_request(creds: &Credentials, r: &SignRequest) -> Result<Vec<u8>, String> {
    let q = signing::check(r, REST_BASE)?;
    let method = q.method.as_str();
    let pass = signing::passphrase(creds, Exchange::Bitget)?;
    let mut s = BitgetSigner::new(&creds.secret);
    let sig = s.sign(r.timestamp_ms, method, &r.path, &r.query, &r.body);
    let ts = r.timestamp_ms.to_string();
    let h = [
        ("ACCESS-KEY", creds.api_key.as_str()),
        ("ACCESS-SIGN", sig),
        ("ACCESS-TIMESTAMP", ts.as_str()),
        ("ACCESS-PASSPHRASE", pass),
        ("Content-Type", "application/json"),
    ];
    Ok(q.build(&h, &r.body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_the_documented_prehash_shape() {
        // docs: "16273667805456GET/api/mix/v2/market/depth?limit=20&symbol=BTCUSDT" (secret withheld)
        let mut s = BitgetSigner::new(b"secret");
        let got = s
            .sign(
                16_273_667_805_456,
                "GET",
                "/api/mix/v2/market/depth",
                "limit=20&symbol=BTCUSDT",
                "",
            )
            .to_string();
        let tag = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, b"secret"),
            b"16273667805456GET/api/mix/v2/market/depth?limit=20&symbol=BTCUSDT",
        );
        let mut want = String::new();
        signing::push_b64(&mut want, tag.as_ref());
        assert_eq!(got, want);
    }
}
