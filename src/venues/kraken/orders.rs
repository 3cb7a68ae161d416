//! Kraken spot REST signing (order encoding not built yet).
//!
//! `API-Sign = Base64(HMAC-SHA512(Base64Decode(secret), URI path + SHA256(nonce + POST data)))`,
//! the path starting `/0/private/`, the nonce an ever-increasing integer that is also the POST
//! data's `nonce` parameter; headers `API-Key`, `API-Sign`.
//! Source: <https://docs.kraken.com/api/docs/guides/spot-rest-auth>
//! (`../shared/docs/exchanges.md` §6.5, official vector in §12.4).
#![forbid(unsafe_code)]

use crate::venues::signing::{self, Encoding, HmacSigner};
use crate::venues::{Credentials, SignRequest};
use ring::hmac;

/// Public REST host.
pub const REST_BASE: &str = "https://api.kraken.com";

/// Signs Kraken requests with one key; nothing allocated after the first request.
#[derive(Debug)]
pub struct KrakenSigner {
    hmac: HmacSigner,
    inner: Vec<u8>,
}

impl KrakenSigner {
    /// A signer for the key's secret as Kraken gives it (base64 text). `Err` if it is not
    /// base64 (the message never contains the secret).
    pub fn new(secret_b64: &[u8]) -> Result<KrakenSigner, String> {
        let text = std::str::from_utf8(secret_b64).map_err(|_| "the secret is not UTF-8 text")?;
        let key = signing::b64_decode(text)?;
        Ok(KrakenSigner {
            hmac: HmacSigner::new(hmac::HMAC_SHA512, &key, Encoding::Base64),
            inner: Vec::with_capacity(256),
        })
    }

    /// `API-Sign` for `post_data` (which holds `nonce=<nonce>`) to `path`.
    pub fn sign(&mut self, path: &str, nonce: &str, post_data: &str) -> &str {
        self.inner.clear();
        self.inner.extend_from_slice(nonce.as_bytes());
        self.inner.extend_from_slice(post_data.as_bytes());
        let h = signing::sha256(&self.inner);
        self.hmac.sign(&[path.as_bytes(), &h])
    }
}

/// The `nonce` parameter of form-encoded `body`, if any.
fn body_nonce(body: &str) -> Option<&str> {
    body.split('&').find_map(|kv| kv.strip_prefix("nonce="))
}

/// `arbot sign kraken`: the signed POST. The nonce is the body's `nonce` parameter, else
/// `--nonce`, else `--timestamp-ms`; a body without one gets `nonce=<n>` first (as Kraken's
/// clients send it). A `--nonce` that disagrees with the body's is an error.
pub fn sign_request(creds: &Credentials, r: &SignRequest) -> Result<Vec<u8>, String> {
    let q = signing::check(r, REST_BASE)?;
    let method = q.method.as_str();
    if method != "POST" {
        return Err("Kraken private endpoints are POST".into());
    }
    let (nonce, body) = match (body_nonce(&r.body), r.nonce.as_deref()) {
        (Some(b), Some(n)) if b != n => {
            return Err(format!("--nonce {n} disagrees with the body's nonce={b}"))
        }
        (Some(b), _) => (b.to_string(), r.body.clone()),
        (None, n) => {
            let n = n.map_or_else(|| r.timestamp_ms.to_string(), str::to_string);
            let body = if r.body.is_empty() {
                format!("nonce={n}")
            } else {
                format!("nonce={n}&{}", r.body)
            };
            (n, body)
        }
    };
    if nonce.is_empty() || !nonce.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("nonce {nonce:?} must be an unsigned integer"));
    }
    let mut s = KrakenSigner::new(&creds.secret)?;
    let sig = s.sign(&r.path, &nonce, &body);
    let h = [
        ("API-Key", creds.api_key.as_str()),
        ("API-Sign", sig),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    Ok(q.build(&h, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str =
        "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==";
    const WANT: &str =
        "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ==";

    #[test]
    fn reproduces_the_official_example() {
        let mut s = KrakenSigner::new(SECRET.as_bytes()).unwrap();
        let body =
            "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25";
        assert_eq!(s.sign("/0/private/AddOrder", "1616492376594", body), WANT);
        let c = Credentials {
            api_key: "k".into(),
            secret: SECRET.as_bytes().to_vec(),
            passphrase: None,
        };
        // the nonce put in front of a body without one gives the same request
        let r = SignRequest {
            method: "POST".into(),
            path: "/0/private/AddOrder".into(),
            body: "ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25".into(),
            nonce: Some("1616492376594".into()),
            ..Default::default()
        };
        let req = String::from_utf8(sign_request(&c, &r).unwrap()).unwrap();
        assert!(req.contains(&format!("API-Sign: {WANT}\r\n")), "{req}");
        assert!(req.ends_with(body));
        let bad = SignRequest {
            body: body.into(),
            nonce: Some("1".into()),
            ..r
        };
        assert!(sign_request(&c, &bad).unwrap_err().contains("disagrees"));
        let c2 = Credentials {
            secret: b"not base64!".to_vec(),
            ..c
        };
        assert!(KrakenSigner::new(&c2.secret)
            .unwrap_err()
            .contains("base64"));
    }
}
