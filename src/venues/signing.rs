//! Request signing shared by the venues: HMAC over a request's parts into reused buffers, hex and
//! base64 encodings, HS256 JWTs, the ISO-8601 time OKX signs, and the `arbot sign` output (the
//! exact HTTP request as order entry would write it).
//!
//! Each venue's `orders.rs` holds its signing scheme as a small `Signer` built once per key on a
//! cold thread; [`HmacSigner::sign`] then feeds the parts into one `ring` HMAC context (no
//! concatenated copy) and encodes the tag into a buffer it keeps, so signing allocates nothing
//! after the first call (`tests/allocations/signing.rs` counts it).
//!
//! Every scheme is checked against the venue's published test vector where one exists
//! (Kraken, KuCoin, Gate.io: `../shared/docs/exchanges.md` §12.4) and, for all nine, against the
//! `ccxt` Python package's `sign()` for a table of requests (`scripts/check-signatures.sh`,
//! `tests/signatures_ccxt.rs`; JWTs also verified with PyJWT).
#![forbid(unsafe_code)]

use base64::Engine;
use ring::{digest, hmac};

/// How an HMAC tag is written out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Lowercase hex (Bybit, Gate.io).
    Hex,
    /// Standard base64 with padding (OKX, KuCoin, Bitget, Kraken).
    Base64,
    /// Base64 of the lowercase hex digest (Bithumb's legacy API).
    Base64OfHex,
}

/// An HMAC key and the buffer its encoded tags are written to.
pub struct HmacSigner {
    key: hmac::Key,
    encoding: Encoding,
    out: String,
    hex: String,
}

impl std::fmt::Debug for HmacSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HmacSigner({:?})", self.encoding)
    }
}

impl HmacSigner {
    /// A signer with `secret` (raw bytes, as the venue uses them) for `alg`
    /// (`hmac::HMAC_SHA256` or `hmac::HMAC_SHA512`).
    pub fn new(alg: hmac::Algorithm, secret: &[u8], encoding: Encoding) -> HmacSigner {
        HmacSigner {
            key: hmac::Key::new(alg, secret),
            encoding,
            out: String::with_capacity(256),
            hex: String::with_capacity(160),
        }
    }

    /// The encoded HMAC of the concatenation of `parts` (no copy of the message is made).
    pub fn sign(&mut self, parts: &[&[u8]]) -> &str {
        let mut ctx = hmac::Context::with_key(&self.key);
        for p in parts {
            ctx.update(p);
        }
        let tag = ctx.sign();
        self.out.clear();
        match self.encoding {
            Encoding::Hex => push_hex(&mut self.out, tag.as_ref()),
            Encoding::Base64 => push_b64(&mut self.out, tag.as_ref()),
            Encoding::Base64OfHex => {
                self.hex.clear();
                push_hex(&mut self.hex, tag.as_ref());
                push_b64(&mut self.out, self.hex.as_bytes());
            }
        }
        &self.out
    }
}

/// Append `bytes` as lowercase hex.
pub fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
}

/// Append `bytes` as standard base64 (with padding).
pub fn push_b64(out: &mut String, bytes: &[u8]) {
    base64::engine::general_purpose::STANDARD.encode_string(bytes, out);
}

/// Append `bytes` as URL-safe base64 without padding (JWT segments, RFC 7515 §2).
pub fn push_b64url(out: &mut String, bytes: &[u8]) {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_string(bytes, out);
}

/// Decode standard base64 (Kraken's secret); the error never contains the input.
pub fn b64_decode(text: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| format!("the secret is not valid base64 ({e})"))
}

/// Lowercase hex SHA-512 of `data` into `out` (128 characters appended).
pub fn push_sha512_hex(out: &mut String, data: &[u8]) {
    push_hex(out, digest::digest(&digest::SHA512, data).as_ref());
}

/// SHA-256 of `data` (32 bytes).
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// `ts_ms` (ms since the Unix epoch, UTC) as ISO-8601 with milliseconds and `Z`
/// (`2020-12-08T09:08:57.715Z`): the `OK-ACCESS-TIMESTAMP` OKX signs. Written into `out`.
pub fn push_iso8601_ms(out: &mut String, ts_ms: u64) {
    use std::fmt::Write;
    let secs = ts_ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = crate::clock::civil_from_days(days);
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        ts_ms % 1000
    );
}

/// An HS256 JSON Web Token (RFC 7519) over `claims_json` with `secret` used raw (Upbit,
/// Bithumb): `b64url({"alg":"HS256","typ":"JWT"}) . b64url(claims) . b64url(HMAC-SHA256)`.
/// The header is written with ccxt's key order and no spaces, so tokens compare byte for byte.
pub struct JwtHs256 {
    key: hmac::Key,
    out: String,
}

impl std::fmt::Debug for JwtHs256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtHs256(..)")
    }
}

impl JwtHs256 {
    /// A token maker for `secret`.
    pub fn new(secret: &[u8]) -> JwtHs256 {
        JwtHs256 {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
            out: String::with_capacity(512),
        }
    }

    /// The token for `claims_json` (a JSON object, written by the caller).
    pub fn token(&mut self, claims_json: &str) -> &str {
        self.out.clear();
        push_b64url(&mut self.out, br#"{"alg":"HS256","typ":"JWT"}"#);
        self.out.push('.');
        push_b64url(&mut self.out, claims_json.as_bytes());
        let tag = hmac::sign(&self.key, self.out.as_bytes());
        self.out.push('.');
        push_b64url(&mut self.out, tag.as_ref());
        &self.out
    }
}

/// `key=value&...` from a flat JSON object, in the body's order, values unquoted and not
/// URL-encoded: the string whose SHA-512 Upbit and Bithumb sign as `query_hash` for a JSON body.
/// `Err` for anything but an object of strings, numbers and booleans.
pub fn flat_json_query(body: &str) -> Result<String, String> {
    let mut out = String::with_capacity(body.len());
    for item in sonic_rs::to_object_iter(body) {
        let (k, v) = item.map_err(|e| format!("body is not a JSON object: {e}"))?;
        let raw = v.as_raw_str();
        let text: String = if raw.starts_with('"') {
            sonic_rs::from_str::<String>(raw).map_err(|e| format!("body value of {k}: {e}"))?
        } else if raw.starts_with(['{', '[']) {
            return Err(format!(
                "body value of {k} is not a string, number or boolean (nested values are not signed here)"
            ));
        } else {
            raw.to_string()
        };
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&k);
        out.push('=');
        out.push_str(&text);
    }
    Ok(out)
}

/// An `arbot sign` request after the checks every venue makes: the method upper-cased (GET,
/// POST, DELETE or PUT), the path absolute and without a query, the `Host` header resolved
/// (`--host`, else the venue's REST host).
#[derive(Debug)]
pub struct Checked {
    /// `GET`, `POST`, `DELETE` or `PUT`.
    pub method: String,
    /// `Host` header value.
    pub host: String,
    /// Request target: `path` or `path?query`.
    pub target: String,
}

/// Check `r` for a venue whose REST base URL is `rest_base`.
pub fn check(r: &crate::venues::SignRequest, rest_base: &str) -> Result<Checked, String> {
    let method = r.method.to_ascii_uppercase();
    if !matches!(method.as_str(), "GET" | "POST" | "DELETE" | "PUT") {
        return Err(format!("method {:?}: GET, POST, DELETE or PUT", r.method));
    }
    if !r.path.starts_with('/') {
        return Err(format!("path {:?} must start with /", r.path));
    }
    if r.path.contains('?') {
        return Err(format!(
            "path {:?}: give the query separately (--query)",
            r.path
        ));
    }
    let host = match &r.host {
        Some(h) => h.clone(),
        None => crate::net::Url::parse(rest_base)?.host_header(),
    };
    let target = if r.query.is_empty() {
        r.path.clone()
    } else {
        format!("{}?{}", r.path, r.query)
    };
    Ok(Checked {
        method,
        host,
        target,
    })
}

impl Checked {
    /// The request as it goes on the wire: request line, `Host`, `headers` in order,
    /// `Content-Length` when there is a body, a blank line, the body.
    pub fn build(&self, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
        let mut out = format!(
            "{} {} HTTP/1.1\r\nHost: {}\r\n",
            self.method, self.target, self.host
        );
        for (k, v) in headers {
            out.push_str(k);
            out.push_str(": ");
            out.push_str(v);
            out.push_str("\r\n");
        }
        if !body.is_empty() {
            out.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        out.push_str("\r\n");
        out.push_str(body);
        out.into_bytes()
    }
}

/// Append `s` as a JSON string literal, escaped as `serde_json` writes it, without allocating.
pub fn push_json_str(out: &mut String, s: &str) {
    use std::fmt::Write;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A random UUID v4 (`8-4-4-4-12` lowercase hex): the per-request nonce Upbit and Bithumb
/// want in their JWTs. Cold side (one system call per token).
pub fn random_uuid() -> Result<String, String> {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| "the system random generator failed".to_string())?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut h = String::with_capacity(36);
    push_hex(&mut h, &b);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

/// The passphrase, or an error naming its environment variable.
pub fn passphrase(
    creds: &crate::venues::Credentials,
    ex: crate::venues::Exchange,
) -> Result<&str, String> {
    creds.passphrase.as_deref().ok_or_else(|| {
        let [_, _, p] = crate::venues::Credentials::env_names(ex);
        format!("{ex} signs a passphrase: set {p}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_matches_okx_example_and_edges() {
        let mut s = String::new();
        // OKX's documented shape, 2020-12-08T09:08:57.715Z = 1607418537715 ms
        push_iso8601_ms(&mut s, 1_607_418_537_715);
        assert_eq!(s, "2020-12-08T09:08:57.715Z");
        for (ms, want) in [
            (0u64, "1970-01-01T00:00:00.000Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (1_709_251_199_999, "2024-02-29T23:59:59.999Z"),
            (4_102_444_800_000, "2100-01-01T00:00:00.000Z"),
        ] {
            s.clear();
            push_iso8601_ms(&mut s, ms);
            assert_eq!(s, want);
        }
    }

    #[test]
    fn hmac_encodings_match_rfc4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?"
        let want256 = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        let mut s = HmacSigner::new(hmac::HMAC_SHA256, b"Jefe", Encoding::Hex);
        assert_eq!(s.sign(&[b"what do ya ", b"want for nothing?"]), want256);
        let mut b = HmacSigner::new(hmac::HMAC_SHA256, b"Jefe", Encoding::Base64);
        assert_eq!(
            b.sign(&[b"what do ya want for nothing?"]),
            "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="
        );
        let mut h = HmacSigner::new(hmac::HMAC_SHA256, b"Jefe", Encoding::Base64OfHex);
        let mut want = String::new();
        push_b64(&mut want, want256.as_bytes());
        assert_eq!(h.sign(&[b"what do ya want for nothing?"]), want);
    }

    #[test]
    fn jwt_hs256_matches_rfc7515_style_token() {
        // jwt.io's default HS256 example: header {"alg":"HS256","typ":"JWT"},
        // payload {"sub":"1234567890","name":"John Doe","iat":1516239022},
        // secret "your-256-bit-secret"
        let mut j = JwtHs256::new(b"your-256-bit-secret");
        assert_eq!(
            j.token(r#"{"sub":"1234567890","name":"John Doe","iat":1516239022}"#),
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
        );
    }

    #[test]
    fn flat_json_query_keeps_body_order_and_refuses_nesting() {
        assert_eq!(
            flat_json_query(
                r#"{"market":"KRW-BTC","side":"bid","volume":"0.01","price":100,"x":true}"#
            )
            .unwrap(),
            "market=KRW-BTC&side=bid&volume=0.01&price=100&x=true"
        );
        assert!(flat_json_query(r#"{"a":[1]}"#).is_err());
        assert!(flat_json_query("not json").is_err());
    }

    #[test]
    fn json_strings_are_escaped_as_serde_does() {
        for t in ["plain", "a\"b\\c", "tab\tnl\n\u{1}", "ünï"] {
            let mut s = String::new();
            push_json_str(&mut s, t);
            assert_eq!(s, serde_json::to_string(t).unwrap());
        }
    }

    #[test]
    fn sha512_of_empty_is_gates_documented_constant() {
        let mut s = String::new();
        push_sha512_hex(&mut s, b"");
        assert_eq!(s, "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e");
    }
}
