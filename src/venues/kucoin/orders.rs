//! KuCoin REST signing (order encoding not built yet).
//!
//! `KC-API-SIGN = Base64(HMAC-SHA256(secret, timestamp + METHOD + endpoint + body))`, the endpoint
//! with `?query` for GET/DELETE, body `""` when none; key version 2 signs the passphrase too:
//! `KC-API-PASSPHRASE = Base64(HMAC-SHA256(secret, passphrase))`; headers `KC-API-KEY`,
//! `KC-API-SIGN`, `KC-API-TIMESTAMP` (ms), `KC-API-PASSPHRASE`, `KC-API-KEY-VERSION: 2`.
//! Source: <https://www.kucoin.com/docs/basic-info/connection-method/authentication/signing-a-message>
//! (`../shared/docs/exchanges.md` §9.4, official vector in §12.4).
#![forbid(unsafe_code)]

use crate::venues::signing::{self, Encoding, HmacSigner};
use crate::venues::{Credentials, Exchange, SignRequest};
use ring::hmac;
use std::fmt::Write;

/// Public REST host.
pub const REST_BASE: &str = "https://api.kucoin.com";

/// Signs KuCoin requests with one key; nothing allocated after the first request.
#[derive(Debug)]
pub struct KucoinSigner {
    hmac: HmacSigner,
    ts: String,
}

impl KucoinSigner {
    /// A signer for `secret`.
    pub fn new(secret: &[u8]) -> KucoinSigner {
        KucoinSigner {
            hmac: HmacSigner::new(hmac::HMAC_SHA256, secret, Encoding::Base64),
            ts: String::with_capacity(24),
        }
    }

    /// `KC-API-SIGN`; `endpoint` includes `?query` where there is one.
    pub fn sign(&mut self, ts_ms: u64, method: &str, endpoint: &str, body: &str) -> &str {
        self.ts.clear();
        let _ = write!(self.ts, "{ts_ms}");
        self.hmac.sign(&[
            self.ts.as_bytes(),
            method.as_bytes(),
            endpoint.as_bytes(),
            body.as_bytes(),
        ])
    }

    /// The key-version-2 `KC-API-PASSPHRASE` (computed once per key, cold).
    pub fn passphrase_v2(&mut self, passphrase: &str) -> String {
        self.hmac.sign(&[passphrase.as_bytes()]).to_string()
    }
}

/// `arbot sign kucoin`: the signed request (key version 2; passphrase from
/// `ARBOT_KUCOIN_API_PASSPHRASE`).
pub fn sign_request(creds: &Credentials, r: &SignRequest) -> Result<Vec<u8>, String> {
    let q = signing::check(r, REST_BASE)?;
    let method = q.method.as_str();
    let pass = signing::passphrase(creds, Exchange::Kucoin)?;
    let mut s = KucoinSigner::new(&creds.secret);
    let pass = s.passphrase_v2(pass);
    let sig = s
        .sign(r.timestamp_ms, method, &q.target, &r.body)
        .to_string();
    let ts = r.timestamp_ms.to_string();
    let mut h = vec![
        ("KC-API-KEY", creds.api_key.as_str()),
        ("KC-API-SIGN", sig.as_str()),
        ("KC-API-TIMESTAMP", ts.as_str()),
        ("KC-API-PASSPHRASE", pass.as_str()),
        ("KC-API-KEY-VERSION", "2"),
    ];
    if !r.body.is_empty() {
        h.push(("Content-Type", "application/json"));
    }
    Ok(q.build(&h, &r.body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproduces_the_official_example() {
        // docs "Signing a Message" (exchanges.md §9.4 / §12.4)
        let mut s = KucoinSigner::new(b"f03a5284-5c39-4aaa-9b20-dea10bdcf8e3");
        assert_eq!(
            s.sign(
                1_547_015_186_532,
                "POST",
                "/api/v1/deposit-addresses",
                r#"{"currency":"BTC"}"#
            ),
            "7QP/oM0ykidMdrfNEUmng8eZjg/ZvPafjIqmxiVfYu4="
        );
        let c = Credentials {
            api_key: "5c2db93503aa674c74a31734".into(),
            secret: b"f03a5284-5c39-4aaa-9b20-dea10bdcf8e3".to_vec(),
            passphrase: Some("Ab12345678)(*&^%$#@".into()),
        };
        let r = SignRequest {
            method: "POST".into(),
            path: "/api/v1/deposit-addresses".into(),
            body: r#"{"currency":"BTC"}"#.into(),
            timestamp_ms: 1_547_015_186_532,
            ..Default::default()
        };
        let req = String::from_utf8(sign_request(&c, &r).unwrap()).unwrap();
        assert!(
            req.contains("KC-API-SIGN: 7QP/oM0ykidMdrfNEUmng8eZjg/ZvPafjIqmxiVfYu4=\r\n"),
            "{req}"
        );
        assert!(
            req.starts_with("POST /api/v1/deposit-addresses HTTP/1.1\r\nHost: api.kucoin.com\r\n")
        );
        assert!(req.ends_with("\r\n\r\n{\"currency\":\"BTC\"}"));
    }
}
