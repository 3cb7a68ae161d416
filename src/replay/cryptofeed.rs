//! The cryptofeed recording layout (`../shared/data/recorded/NAME.ws.N.0` and the
//! `NAME.http.*` files beside it), one line at a time:
//!
//! - `URL <-> t`: the connection was opened (line 1);
//! - `URL <- t: payload`: the client sent this;
//! - `t: payload`: received;
//! - `URL -> t: body`: a REST response (the `.http.` files).
//!
//! `t` is seconds since the epoch with a fraction. Payloads may be Python byte literals
//! `b'...'` (Upbit, Huobi), decoded by [`decode_py_bytes`].
//!
//! [`split_cryptofeed_line`] borrows and copies nothing (the replay reader, which decodes byte
//! literals into a reused buffer); [`parse_cryptofeed_line`] returns an owned [`RecLine`]
//! (`verify-book`, which reads whole files).
#![forbid(unsafe_code)]

/// One line of a recording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecLine {
    /// `URL <-> t`: the connection was opened.
    Connect {
        /// URL.
        url: String,
        /// Time, ns since the epoch.
        t_ns: u64,
    },
    /// `URL <- t: payload`: the client sent this.
    Sent {
        /// URL.
        url: String,
        /// Time.
        t_ns: u64,
        /// Payload bytes.
        payload: Vec<u8>,
    },
    /// A received message (`t: payload`, or a Binance gz line).
    Recv {
        /// Time.
        t_ns: u64,
        /// Payload bytes (byte literals decoded; gzip frames left as they are).
        payload: Vec<u8>,
    },
    /// `URL -> t: body`: a REST response.
    Http {
        /// URL requested.
        url: String,
        /// Time.
        t_ns: u64,
        /// Body.
        body: Vec<u8>,
    },
}

impl RecLine {
    /// Time of the line.
    pub fn t_ns(&self) -> u64 {
        match self {
            RecLine::Connect { t_ns, .. }
            | RecLine::Sent { t_ns, .. }
            | RecLine::Recv { t_ns, .. }
            | RecLine::Http { t_ns, .. } => *t_ns,
        }
    }
}

fn secs_to_ns(s: &str) -> Option<u64> {
    let s = s.trim();
    let (i, f) = s.split_once('.').unwrap_or((s, ""));
    let i: u64 = i.parse().ok()?;
    let mut frac = 0u64;
    let mut scale = 100_000_000u64;
    for c in f.bytes().take(9) {
        if !c.is_ascii_digit() {
            return None;
        }
        frac += (c - b'0') as u64 * scale;
        scale /= 10;
    }
    // a time past 2554 does not fit in u64 ns: not a time (found by the fuzzer, tests/fuzz)
    i.checked_mul(1_000_000_000)?.checked_add(frac)
}

/// Decode a Python bytes literal body (between the quotes of `b'...'`).
pub fn decode_py_bytes(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    decode_py_bytes_into(s, &mut out);
    out
}

/// [`decode_py_bytes`] appending into a caller-owned buffer (the replay reader reuses one).
pub fn decode_py_bytes_into(s: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if c != b'\\' || i + 1 >= s.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let n = s[i + 1];
        i += 2;
        match n {
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'0' => out.push(0),
            b'\\' => out.push(b'\\'),
            b'\'' => out.push(b'\''),
            b'"' => out.push(b'"'),
            b'x' if i + 2 <= s.len() => {
                let h = std::str::from_utf8(&s[i..i + 2])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match h {
                    Some(b) => out.push(b),
                    None => out.extend_from_slice(&s[i - 2..i + 2]),
                }
                i += 2;
            }
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
}

/// The body of a Python bytes literal `b'...'` / `b"..."`, if the payload is one.
pub fn py_bytes_literal(p: &str) -> Option<&[u8]> {
    let t = p.trim_end_matches(['\n', '\r']);
    // at least `b` and two quotes: `b'` alone starts and ends with the same quote
    (t.len() >= 3
        && ((t.starts_with("b'") && t.ends_with('\''))
            || (t.starts_with("b\"") && t.ends_with('"'))))
    .then(|| &t.as_bytes()[2..t.len() - 1])
}

fn payload(s: &str) -> Vec<u8> {
    match py_bytes_literal(s) {
        Some(b) => decode_py_bytes(b),
        None => s.trim_end_matches(['\n', '\r']).as_bytes().to_vec(),
    }
}

/// One cryptofeed recording line, borrowed (payloads still encoded: see [`py_bytes_literal`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CfLine<'a> {
    /// `URL <-> t`.
    Connect {
        /// URL.
        url: &'a str,
        /// Time, ns since the epoch.
        t_ns: u64,
    },
    /// `URL <- t: payload` (sent by the client).
    Sent {
        /// URL.
        url: &'a str,
        /// Time.
        t_ns: u64,
        /// Payload text.
        payload: &'a str,
    },
    /// `t: payload` (received).
    Recv {
        /// Time.
        t_ns: u64,
        /// Payload text.
        payload: &'a str,
    },
    /// `URL -> t: body` (REST response).
    Http {
        /// URL.
        url: &'a str,
        /// Time.
        t_ns: u64,
        /// Body text.
        body: &'a str,
    },
}

/// Split one cryptofeed line without copying (the replay reader and [`parse_cryptofeed_line`]).
pub fn split_cryptofeed_line(line: &str) -> Option<CfLine<'_>> {
    if let Some((url, t)) = line.split_once(" <-> ") {
        return Some(CfLine::Connect {
            url,
            t_ns: secs_to_ns(t)?,
        });
    }
    if let Some((url, rest)) = line.split_once(" <- ") {
        let (t, p) = rest.split_once(": ")?;
        return Some(CfLine::Sent {
            url,
            t_ns: secs_to_ns(t)?,
            payload: p,
        });
    }
    if let Some((url, rest)) = line.split_once(" -> ") {
        if !url.contains(' ') {
            let (t, p) = rest.split_once(": ")?;
            return Some(CfLine::Http {
                url,
                t_ns: secs_to_ns(t)?,
                body: p,
            });
        }
    }
    let (t, p) = line.split_once(": ")?;
    Some(CfLine::Recv {
        t_ns: secs_to_ns(t)?,
        payload: p,
    })
}

/// Parse one line of a cryptofeed recording.
pub fn parse_cryptofeed_line(line: &str) -> Option<RecLine> {
    Some(match split_cryptofeed_line(line)? {
        CfLine::Connect { url, t_ns } => RecLine::Connect {
            url: url.to_string(),
            t_ns,
        },
        CfLine::Sent {
            url,
            t_ns,
            payload: p,
        } => RecLine::Sent {
            url: url.to_string(),
            t_ns,
            payload: payload(p),
        },
        CfLine::Http { url, t_ns, body } => RecLine::Http {
            url: url.to_string(),
            t_ns,
            body: payload(body),
        },
        CfLine::Recv { t_ns, payload: p } => RecLine::Recv {
            t_ns,
            payload: payload(p),
        },
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_lone_b_and_quote_is_not_a_bytes_literal() {
        // fuzz crash (tests/fuzz replay_reader, 235,767 executions): `b"` starts and ends with
        // the same quote, and the body slice [2..1] panicked
        assert_eq!(super::py_bytes_literal("b\""), None);
        assert_eq!(super::py_bytes_literal("b'"), None);
        assert_eq!(super::py_bytes_literal("b'\n"), None);
        assert_eq!(super::py_bytes_literal("b''"), Some(&b""[..]));
        assert_eq!(super::py_bytes_literal("b\"x\""), Some(&b"x"[..]));
        // and the whole line reads as a plain payload instead
        assert_eq!(super::payload("b\""), b"b\"".to_vec());
    }

    #[test]
    fn a_time_too_large_for_u64_ns_is_not_a_line() {
        // fuzz crash (tests/fuzz replay_reader): `i * 1_000_000_000` overflowed
        assert_eq!(super::secs_to_ns("1618678180334.175"), None);
        assert!(
            super::split_cryptofeed_line("1618678180334.175: {\"event\":\"heartbeat\"}").is_none()
        );
        assert_eq!(
            super::secs_to_ns("1618678180.5"),
            Some(1_618_678_180_500_000_000)
        );
    }

    use super::*;

    #[test]
    fn cryptofeed_lines() {
        assert_eq!(
            parse_cryptofeed_line("wss://ws.okx.com:8443/ws/v5/public <-> 1652459224.5300605"),
            Some(RecLine::Connect {
                url: "wss://ws.okx.com:8443/ws/v5/public".into(),
                t_ns: 1_652_459_224_530_060_500
            })
        );
        match parse_cryptofeed_line("1652459225.708481: {\"a\":1}") {
            Some(RecLine::Recv { t_ns, payload }) => {
                assert_eq!(t_ns, 1_652_459_225_708_481_000);
                assert_eq!(payload, b"{\"a\":1}");
            }
            x => panic!("{x:?}"),
        }
        match parse_cryptofeed_line("https://api.binance.com/api/v3/depth?symbol=NKNUSDT&limit=1000 -> 1633998512.320639: {\"lastUpdateId\":1}") {
            Some(RecLine::Http { url, body, .. }) => {
                assert!(url.contains("symbol=NKNUSDT"));
                assert_eq!(body, b"{\"lastUpdateId\":1}");
            }
            x => panic!("{x:?}"),
        }
        match parse_cryptofeed_line(r"1.5: b'{\x22a\x22:1}\n'") {
            Some(RecLine::Recv { payload, .. }) => assert_eq!(payload, b"{\"a\":1}\n"),
            x => panic!("{x:?}"),
        }
    }
}
