//! Bithumb REST signing (order encoding not built yet): both APIs, chosen by path.
//!
//! - `/v1/...`, `/v2/...` (the current API, Upbit-compatible): `Authorization: Bearer <JWT>`,
//!   HS256 with the secret as given, claims `access_key`, `nonce` (UUID), `timestamp` (ms) and,
//!   with parameters, `query_hash` (hex SHA-512 of the query, or of a JSON body's
//!   `key=value&...`) and `query_hash_alg = "SHA512"`.
//!   Source: <https://apidocs.bithumb.com/docs/인증-토큰-생성하기> (`exchanges.md` §8.1).
//! - any other path (the legacy API, e.g. `/info/balance`, `/trade/place`): form body starting
//!   `endpoint=<url-encoded path>`, `Api-Sign = Base64(hex(HMAC-SHA512(secret, path + "\0" + body
//!   + "\0" + nonce)))`, `Api-Nonce` the nonce (ms), `Api-Key`. Source: Bithumb's
//!   `xcoin_api_client` sample (`exchanges.md` §8.2).
//!
//! No reproducible vector is published; both are compared with ccxt (`tests/signatures_ccxt.rs`).
#![forbid(unsafe_code)]

use crate::venues::signing::{self, Encoding, HmacSigner};
use crate::venues::upbit::orders::{hashed_params, nonce_of, KrwJwtSigner};
use crate::venues::{Credentials, SignRequest};
use ring::hmac;

/// Public REST host.
pub const REST_BASE: &str = "https://api.bithumb.com";

/// Signs Bithumb legacy-API requests with one key; nothing allocated after the first request.
#[derive(Debug)]
pub struct LegacySigner {
    hmac: HmacSigner,
}

impl LegacySigner {
    /// A signer for `secret`.
    pub fn new(secret: &[u8]) -> LegacySigner {
        LegacySigner {
            hmac: HmacSigner::new(hmac::HMAC_SHA512, secret, Encoding::Base64OfHex),
        }
    }

    /// `Api-Sign` for form `body` (starting `endpoint=`) to `endpoint` with `nonce`.
    pub fn sign(&mut self, endpoint: &str, body: &str, nonce: &str) -> &str {
        self.hmac.sign(&[
            endpoint.as_bytes(),
            b"\0",
            body.as_bytes(),
            b"\0",
            nonce.as_bytes(),
        ])
    }
}

/// Percent-encoding of a path for the legacy `endpoint` parameter (unreserved kept).
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// True for the current (JWT) API's paths.
pub fn is_jwt_path(path: &str) -> bool {
    path.starts_with("/v1/") || path.starts_with("/v2/")
}

/// `arbot sign bithumb`: JWT for `/v1/`, `/v2/` paths, the legacy HMAC otherwise (its nonce:
/// `--nonce` or `--timestamp-ms`; a body without `endpoint=` gets it first).
pub fn sign_request(creds: &Credentials, r: &SignRequest) -> Result<Vec<u8>, String> {
    let q = signing::check(r, REST_BASE)?;
    let method = q.method.as_str();
    if is_jwt_path(&r.path) {
        let hashed = hashed_params(method, r)?;
        let nonce = nonce_of(r)?;
        let mut s = KrwJwtSigner::new(&creds.api_key, &creds.secret);
        let auth = format!(
            "Bearer {}",
            s.token(&nonce, Some(r.timestamp_ms), hashed.as_deref())
        );
        let mut h = vec![
            ("Accept", "application/json"),
            ("Authorization", auth.as_str()),
        ];
        if !r.body.is_empty() {
            h.push(("Content-Type", "application/json"));
        }
        return Ok(q.build(&h, &r.body));
    }
    if method != "POST" {
        return Err("Bithumb's legacy private API is POST (or use a /v1/ path)".into());
    }
    let ep = format!("endpoint={}", url_encode(&r.path));
    let body = if r.body.starts_with("endpoint=") {
        if !r.body.split('&').any(|kv| kv == ep) {
            return Err(format!(
                "the body's endpoint disagrees with the path ({ep})"
            ));
        }
        r.body.clone()
    } else if r.body.is_empty() {
        ep
    } else {
        format!("{ep}&{}", r.body)
    };
    let nonce = r
        .nonce
        .clone()
        .unwrap_or_else(|| r.timestamp_ms.to_string());
    let mut s = LegacySigner::new(&creds.secret);
    let sig = s.sign(&r.path, &body, &nonce);
    let h = [
        ("Accept", "application/json"),
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Api-Key", creds.api_key.as_str()),
        ("Api-Sign", sig),
        ("Api-Nonce", nonce.as_str()),
    ];
    Ok(q.build(&h, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_signs_base64_of_the_hex_digest_with_nul_separators() {
        let mut s = LegacySigner::new(b"secret");
        let got = s
            .sign(
                "/info/balance",
                "endpoint=%2Finfo%2Fbalance&currency=BTC",
                "1700000000000",
            )
            .to_string();
        let tag = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA512, b"secret"),
            b"/info/balance\x00endpoint=%2Finfo%2Fbalance&currency=BTC\x001700000000000",
        );
        let mut hex = String::new();
        signing::push_hex(&mut hex, tag.as_ref());
        let mut want = String::new();
        signing::push_b64(&mut want, hex.as_bytes());
        assert_eq!(got, want);
        let c = Credentials {
            api_key: "k".into(),
            secret: b"secret".to_vec(),
            passphrase: None,
        };
        let r = SignRequest {
            method: "POST".into(),
            path: "/info/balance".into(),
            body: "currency=BTC".into(),
            timestamp_ms: 1_700_000_000_000,
            ..Default::default()
        };
        let req = String::from_utf8(sign_request(&c, &r).unwrap()).unwrap();
        assert!(req.contains(&format!("Api-Sign: {want}\r\n")), "{req}");
        assert!(req.ends_with("\r\n\r\nendpoint=%2Finfo%2Fbalance&currency=BTC"));
    }
}
