//! Upbit REST signing (order encoding not built yet).
//!
//! `Authorization: Bearer <JWT>`, an HS256 JWT signed with the secret key as given, claims
//! `access_key`, `nonce` (a fresh UUID per request) and, for a request with parameters,
//! `query_hash` = hex SHA-512 of the query string as sent but not URL-encoded (for a JSON body:
//! `key=value&...` in the body's order) and `query_hash_alg = "SHA512"`.
//! Source: <https://docs.upbit.com/kr/reference/auth> (`../shared/docs/exchanges.md` §7.2; the
//! doc's examples use HS512, ccxt and Upbit's own samples HS256; Upbit accepts both). No
//! reproducible vector is published: tokens are compared with ccxt's byte for byte and
//! verified with PyJWT (`tests/signatures_ccxt.rs`).
#![forbid(unsafe_code)]

use crate::venues::signing::{self, JwtHs256};
use crate::venues::{Credentials, SignRequest};

/// Public REST host.
pub const REST_BASE: &str = "https://api.upbit.com";

/// Makes Upbit/Bithumb-style JWTs for one key; nothing allocated after the first token.
#[derive(Debug)]
pub struct KrwJwtSigner {
    jwt: JwtHs256,
    /// `"access_key":"<key>"` (escaped once).
    key_claim: String,
    claims: String,
}

impl KrwJwtSigner {
    /// A token maker for `access_key` and `secret` (used raw, not base64-decoded).
    pub fn new(access_key: &str, secret: &[u8]) -> KrwJwtSigner {
        let mut key_claim = String::from("\"access_key\":");
        signing::push_json_str(&mut key_claim, access_key);
        KrwJwtSigner {
            jwt: JwtHs256::new(secret),
            key_claim,
            claims: String::with_capacity(320),
        }
    }

    /// The token: claims `access_key`, `nonce`, then `timestamp` (ms; Bithumb's v1 API wants
    /// it, Upbit does not) when given, then `query_hash`/`query_hash_alg` when `hashed` (the
    /// query string or the body's `key=value&...`) is given. `nonce` must be JSON-safe (a UUID).
    pub fn token(&mut self, nonce: &str, timestamp_ms: Option<u64>, hashed: Option<&str>) -> &str {
        use std::fmt::Write;
        self.claims.clear();
        self.claims.push('{');
        self.claims.push_str(&self.key_claim);
        let _ = write!(self.claims, ",\"nonce\":\"{nonce}\"");
        if let Some(t) = timestamp_ms {
            let _ = write!(self.claims, ",\"timestamp\":{t}");
        }
        if let Some(q) = hashed {
            self.claims.push_str(",\"query_hash\":\"");
            signing::push_sha512_hex(&mut self.claims, q.as_bytes());
            self.claims.push_str("\",\"query_hash_alg\":\"SHA512\"");
        }
        self.claims.push('}');
        self.jwt.token(&self.claims)
    }
}

/// The string Upbit and Bithumb hash: the query for GET/DELETE, the body's `key=value&...`
/// otherwise; `None` when the request has no parameters.
pub fn hashed_params(method: &str, r: &SignRequest) -> Result<Option<String>, String> {
    let s = if matches!(method, "GET" | "DELETE") {
        if !r.body.is_empty() {
            return Err(format!(
                "{method} carries its parameters in --query, not a body"
            ));
        }
        r.query.clone()
    } else {
        if !r.query.is_empty() {
            return Err(format!(
                "{method} carries its parameters in the JSON --body"
            ));
        }
        if r.body.is_empty() {
            String::new()
        } else {
            signing::flat_json_query(&r.body)?
        }
    };
    Ok((!s.is_empty()).then_some(s))
}

/// The nonce: `--nonce` (must be JSON-safe) or a fresh UUID v4.
pub fn nonce_of(r: &SignRequest) -> Result<String, String> {
    match &r.nonce {
        Some(n) if n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') => Ok(n.clone()),
        Some(n) => Err(format!(
            "nonce {n:?}: letters, digits and '-' only (a UUID)"
        )),
        None => signing::random_uuid(),
    }
}

/// `arbot sign upbit`: the signed request (`--nonce` fixes the JWT's nonce, else a new UUID).
pub fn sign_request(creds: &Credentials, r: &SignRequest) -> Result<Vec<u8>, String> {
    let q = signing::check(r, REST_BASE)?;
    let method = q.method.as_str();
    let hashed = hashed_params(method, r)?;
    let nonce = nonce_of(r)?;
    let mut s = KrwJwtSigner::new(&creds.api_key, &creds.secret);
    let auth = format!("Bearer {}", s.token(&nonce, None, hashed.as_deref()));
    let mut h = vec![("Authorization", auth.as_str())];
    if !r.body.is_empty() {
        h.push(("Content-Type", "application/json"));
    }
    Ok(q.build(&h, &r.body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_follow_the_docs_and_the_hash_is_of_the_body_pairs() {
        let mut s = KrwJwtSigner::new("a7Xd92LmQW3vBtRzYpMj5CxNKeT1HuVs0fFgJcAw", b"secret");
        let t = s
            .token(
                "b2f1e3f8-2dc1-4d6f-a838-c74c49b0e39a",
                None,
                Some("market=KRW-BTC&side=bid"),
            )
            .to_string();
        let parts: Vec<&str> = t.split('.').collect();
        assert_eq!(parts.len(), 3);
        use base64::Engine;
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1])
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&claims).unwrap();
        let mut want_hash = String::new();
        signing::push_sha512_hex(&mut want_hash, b"market=KRW-BTC&side=bid");
        assert_eq!(v["query_hash"], want_hash.as_str());
        assert_eq!(v["query_hash_alg"], "SHA512");
        assert_eq!(v["access_key"], "a7Xd92LmQW3vBtRzYpMj5CxNKeT1HuVs0fFgJcAw");
        // the signature is HS256 over the first two segments
        let tag = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"secret"),
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
        );
        let mut sig = String::new();
        signing::push_b64url(&mut sig, tag.as_ref());
        assert_eq!(parts[2], sig);
        // a body's pairs, in order, are what is hashed
        let r = SignRequest {
            method: "POST".into(),
            path: "/v1/orders".into(),
            body: r#"{"market":"KRW-BTC","side":"bid"}"#.into(),
            ..Default::default()
        };
        assert_eq!(
            hashed_params("POST", &r).unwrap().unwrap(),
            "market=KRW-BTC&side=bid"
        );
        assert!(nonce_of(&SignRequest {
            nonce: Some("a\"b".into()),
            ..Default::default()
        })
        .is_err());
        assert_eq!(nonce_of(&SignRequest::default()).unwrap().len(), 36);
    }
}
