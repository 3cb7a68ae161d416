//! Gate.io API v4 REST signing (order encoding not built yet).
//!
//! `SIGN = hex(HMAC-SHA512(secret, METHOD \n path \n query \n hex(SHA512(body)) \n timestamp))`,
//! the path with `/api/v4`, the query as sent (no `?`, empty when none), the timestamp in unix
//! seconds; headers `KEY`, `Timestamp`, `SIGN`.
//! Source: <https://www.gate.io/docs/developers/apiv4/#authentication>
//! (`../shared/docs/exchanges.md` §10.4, official vectors in §12.4).
#![forbid(unsafe_code)]

use crate::venues::signing::{self, Encoding, HmacSigner};
use crate::venues::{Credentials, SignRequest};
use ring::hmac;
use std::fmt::Write;

/// Public REST host.
pub const REST_BASE: &str = "https://api.gateio.ws";

/// Signs Gate.io requests with one key; nothing allocated after the first request.
#[derive(Debug)]
pub struct GateSigner {
    hmac: HmacSigner,
    tail: String,
}

impl GateSigner {
    /// A signer for `secret`.
    pub fn new(secret: &[u8]) -> GateSigner {
        GateSigner {
            hmac: HmacSigner::new(hmac::HMAC_SHA512, secret, Encoding::Hex),
            tail: String::with_capacity(160),
        }
    }

    /// `SIGN` for a request at `ts_s` (unix seconds).
    pub fn sign(&mut self, method: &str, path: &str, query: &str, body: &str, ts_s: u64) -> &str {
        self.tail.clear();
        self.tail.push('\n');
        signing::push_sha512_hex(&mut self.tail, body.as_bytes());
        let _ = write!(self.tail, "\n{ts_s}");
        self.hmac.sign(&[
            method.as_bytes(),
            b"\n",
            path.as_bytes(),
            b"\n",
            query.as_bytes(),
            self.tail.as_bytes(),
        ])
    }
}

/// `arbot sign gateio`: the signed request; `Timestamp` is `--timestamp-ms` / 1000.
pub fn sign_request(creds: &Credentials, r: &SignRequest) -> Result<Vec<u8>, String> {
    let q = signing::check(r, REST_BASE)?;
    let method = q.method.as_str();
    let ts_s = r.timestamp_ms / 1000;
    let mut s = GateSigner::new(&creds.secret);
    let sig = s.sign(method, &r.path, &r.query, &r.body, ts_s);
    let ts = ts_s.to_string();
    let h = [
        ("KEY", creds.api_key.as_str()),
        ("Timestamp", ts.as_str()),
        ("SIGN", sig),
        ("Content-Type", "application/json"),
    ];
    Ok(q.build(&h, &r.body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproduces_both_official_examples() {
        // key "key", secret "secret" (exchanges.md §10.4 / §12.4)
        let mut s = GateSigner::new(b"secret");
        assert_eq!(
            s.sign("GET", "/api/v4/futures/orders", "contract=BTC_USD&status=finished&limit=50", "", 1_541_993_715),
            "55f84ea195d6fe57ce62464daaa7c3c02fa9d1dde954e4c898289c9a2407a3d6fb3faf24deff16790d726b66ac9f74526668b13bd01029199cc4fcc522418b8a"
        );
        let body = r#"{"contract":"BTC_USD","type":"limit","size":100,"price":6800,"time_in_force":"gtc"}"#;
        assert_eq!(
            s.sign("POST", "/api/v4/futures/orders", "", body, 1_541_993_715),
            "eae42da914a590ddf727473aff25fc87d50b64783941061f47a3fdb92742541fc4c2c14017581b4199a1418d54471c269c03a38d788d802e2c306c37636389f0"
        );
        let c = Credentials {
            api_key: "key".into(),
            secret: b"secret".to_vec(),
            passphrase: None,
        };
        let r = SignRequest {
            method: "post".into(),
            path: "/api/v4/futures/orders".into(),
            body: body.into(),
            timestamp_ms: 1_541_993_715_999,
            ..Default::default()
        };
        let req = String::from_utf8(sign_request(&c, &r).unwrap()).unwrap();
        assert!(
            req.contains("\r\nTimestamp: 1541993715\r\nSIGN: eae42da9"),
            "{req}"
        );
    }
}
