//! Coinbase Advanced Trade REST signing (order encoding not built yet).
//!
//! `Authorization: Bearer <JWT>`, a JWT signed ES256 (ECDSA P-256, SHA-256; signature `r‖s`)
//! with the CDP API key's EC private key, per request, expiring after 120 s. Header
//! `{"alg":"ES256","typ":"JWT","kid":<key name>,"nonce":<random hex>}`; claims
//! `{"sub":<key name>,"iss":"cdp","nbf":<s>,"exp":<s + 120>,"uri":"<METHOD> <host><path>"}` (no
//! query in `uri`). The key name (`organizations/{org}/apiKeys/{key}`) is the API key; the
//! secret is the PEM private key (SEC1 `EC PRIVATE KEY` as the CDP portal gives it, or PKCS#8
//! `PRIVATE KEY`; literal `\n` sequences, as in the portal's JSON file, are accepted).
//! Source: <https://docs.cdp.coinbase.com/advanced-trade/docs/rest-api-auth>
//! (`../shared/docs/exchanges.md` §5.A). ECDSA is randomised, so there is no fixed vector:
//! tokens are verified with the public key by PyJWT, and their claims compared with ccxt's
//! (`tests/signatures_ccxt.rs`). ccxt writes the older `iss: "coinbase-cloud"` with `aud` and
//! `iat`; the CDP docs' claims are used here.
#![forbid(unsafe_code)]

use crate::venues::signing;
use crate::venues::{Credentials, SignRequest};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};

/// Public REST host.
pub const REST_BASE: &str = "https://api.coinbase.com";
/// JWT lifetime (s), as the docs give it.
pub const JWT_LIFETIME_S: u64 = 120;

/// Signs Coinbase JWTs with one CDP key.
pub struct CoinbaseSigner {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    kid: String,
    out: String,
    seg: String,
}

impl std::fmt::Debug for CoinbaseSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CoinbaseSigner(..)")
    }
}

/// One DER TLV: (tag, value, rest).
fn der_tlv(b: &[u8]) -> Result<(u8, &[u8], &[u8]), String> {
    let bad = || "the EC key is not valid DER".to_string();
    let (&tag, b) = b.split_first().ok_or_else(bad)?;
    let (&l0, mut b) = b.split_first().ok_or_else(bad)?;
    let len = if l0 < 0x80 {
        l0 as usize
    } else {
        let n = (l0 & 0x7f) as usize;
        if n == 0 || n > 2 || b.len() < n {
            return Err(bad());
        }
        let mut l = 0usize;
        for &x in &b[..n] {
            l = (l << 8) | x as usize;
        }
        b = &b[n..];
        l
    };
    if b.len() < len {
        return Err(bad());
    }
    Ok((tag, &b[..len], &b[len..]))
}

/// (private scalar, uncompressed public point) of a SEC1 `ECPrivateKey` (RFC 5915).
fn sec1_parts(der: &[u8]) -> Result<(&[u8], &[u8]), String> {
    let (tag, seq, _) = der_tlv(der)?;
    if tag != 0x30 {
        return Err("the EC key is not a SEC1 sequence".into());
    }
    let (_, _version, rest) = der_tlv(seq)?;
    let (tag, private, mut rest) = der_tlv(rest)?;
    if tag != 0x04 {
        return Err("the EC key has no private key octets".into());
    }
    while !rest.is_empty() {
        let (tag, v, r) = der_tlv(rest)?;
        rest = r;
        if tag == 0xa1 {
            let (t, bits, _) = der_tlv(v)?;
            if t != 0x03 || bits.first() != Some(&0) {
                return Err("the EC key's public key is not a bit string".into());
            }
            return Ok((private, &bits[1..]));
        }
    }
    Err("the EC key holds no public key (export it with its public key)".into())
}

impl CoinbaseSigner {
    /// A signer for `key_name` with the PEM private key `pem`. The error never contains the key.
    pub fn new(key_name: &str, pem: &[u8]) -> Result<CoinbaseSigner, String> {
        let text = std::str::from_utf8(pem).map_err(|_| "the secret is not UTF-8 PEM text")?;
        let text = text.replace("\\n", "\n");
        let label = if text.contains("-----BEGIN EC PRIVATE KEY-----") {
            "EC PRIVATE KEY"
        } else if text.contains("-----BEGIN PRIVATE KEY-----") {
            "PRIVATE KEY"
        } else {
            return Err(
                "the secret is not a PEM EC private key (-----BEGIN EC PRIVATE KEY----- or PRIVATE KEY)"
                    .into(),
            );
        };
        let begin = format!("-----BEGIN {label}-----");
        let end = format!("-----END {label}-----");
        let body = text
            .split_once(&begin)
            .and_then(|(_, r)| r.split_once(&end))
            .map(|(b, _)| b)
            .ok_or("the PEM key has no END line")?;
        let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        let der = signing::b64_decode(&b64)?;
        let rng = SystemRandom::new();
        let key = if label == "PRIVATE KEY" {
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &rng)
                .map_err(|e| format!("the PKCS#8 key is not a P-256 key ({e})"))?
        } else {
            let (private, public) = sec1_parts(&der)?;
            EcdsaKeyPair::from_private_key_and_public_key(
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                private,
                public,
                &rng,
            )
            .map_err(|e| format!("the EC key is not a valid P-256 key ({e})"))?
        };
        Ok(CoinbaseSigner {
            key,
            rng,
            kid: {
                let mut k = String::new();
                signing::push_json_str(&mut k, key_name);
                k
            },
            out: String::with_capacity(768),
            seg: String::with_capacity(384),
        })
    }

    /// The JWT for `uri` (`"POST api.coinbase.com/api/v3/brokerage/orders"`) at `now_s` (unix
    /// seconds) with header nonce `nonce` (hex).
    pub fn token(&mut self, uri: &str, now_s: u64, nonce: &str) -> Result<&str, String> {
        use std::fmt::Write;
        self.out.clear();
        self.seg.clear();
        let _ = write!(
            self.seg,
            "{{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":{},\"nonce\":\"{nonce}\"}}",
            self.kid
        );
        signing::push_b64url(&mut self.out, self.seg.as_bytes());
        self.out.push('.');
        self.seg.clear();
        let _ = write!(
            self.seg,
            "{{\"sub\":{},\"iss\":\"cdp\",\"nbf\":{now_s},\"exp\":{},\"uri\":",
            self.kid,
            now_s + JWT_LIFETIME_S,
        );
        signing::push_json_str(&mut self.seg, uri);
        self.seg.push('}');
        signing::push_b64url(&mut self.out, self.seg.as_bytes());
        let sig = self
            .key
            .sign(&self.rng, self.out.as_bytes())
            .map_err(|_| "ECDSA signing failed".to_string())?;
        self.out.push('.');
        signing::push_b64url(&mut self.out, sig.as_ref());
        Ok(&self.out)
    }
}

/// A random 16-byte nonce as 32 hex characters (as the CDP SDKs send it).
fn random_nonce() -> Result<String, String> {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 16];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| "the system random generator failed".to_string())?;
    let mut s = String::with_capacity(32);
    signing::push_hex(&mut s, &b);
    Ok(s)
}

/// `arbot sign coinbase`: the request with its JWT (`nbf` = `--timestamp-ms` / 1000; the
/// header nonce `--nonce` or random hex).
pub fn sign_request(creds: &Credentials, r: &SignRequest) -> Result<Vec<u8>, String> {
    let q = signing::check(r, REST_BASE)?;
    let method = q.method.as_str();
    let nonce = match &r.nonce {
        Some(n) if n.bytes().all(|b| b.is_ascii_alphanumeric()) => n.clone(),
        Some(n) => return Err(format!("nonce {n:?}: letters and digits only (hex)")),
        None => random_nonce()?,
    };
    let mut s = CoinbaseSigner::new(&creds.api_key, &creds.secret)?;
    let uri = format!("{method} {}{}", q.host, r.path);
    let auth = format!("Bearer {}", s.token(&uri, r.timestamp_ms / 1000, &nonce)?);
    let mut h = vec![("Authorization", auth.as_str())];
    if !r.body.is_empty() {
        h.push(("Content-Type", "application/json"));
    }
    Ok(q.build(&h, &r.body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    /// A throwaway P-256 key (generated for this test; SEC1 PEM as the CDP portal gives it).
    const PEM: &str = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIN81hrk7Jjb4AAVNGYO3YM94CQG+zs6ZzDkRO9/r1K+ToAoGCCqGSM49\nAwEHoUQDQgAEfbSLIVihOJqAfZU3fv8e9cDwQDoDXRgs4iFV1+QNXA+XwDHeNOyd\nE2mps/l12XlzSvH2GMGP8+DV5lxhGo+IFg==\n-----END EC PRIVATE KEY-----\n";

    #[test]
    fn token_verifies_with_the_public_key_and_carries_the_documented_claims() {
        let escaped = PEM.replace('\n', "\\n");
        let mut s = CoinbaseSigner::new("organizations/o/apiKeys/k", escaped.as_bytes()).unwrap();
        let t = s
            .token(
                "POST api.coinbase.com/api/v3/brokerage/orders",
                1_700_000_000,
                "abcd",
            )
            .unwrap()
            .to_string();
        let parts: Vec<&str> = t.split('.').collect();
        let dec = |p: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .unwrap()
        };
        let h: serde_json::Value = serde_json::from_slice(&dec(parts[0])).unwrap();
        let c: serde_json::Value = serde_json::from_slice(&dec(parts[1])).unwrap();
        assert_eq!(h["alg"], "ES256");
        assert_eq!(h["kid"], "organizations/o/apiKeys/k");
        assert_eq!(c["exp"], 1_700_000_120u64);
        assert_eq!(c["uri"], "POST api.coinbase.com/api/v3/brokerage/orders");
        // verify r||s with the public key from the same PEM
        let der = signing::b64_decode(
            &PEM.lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>(),
        )
        .unwrap();
        let (_, public) = sec1_parts(&der).unwrap();
        let pk = ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_FIXED,
            public,
        );
        pk.verify(
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
            &dec(parts[2]),
        )
        .unwrap();
        assert!(CoinbaseSigner::new("k", b"not a key").is_err());
        assert!(CoinbaseSigner::new(
            "k",
            b"-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----"
        )
        .is_err());
    }
}
