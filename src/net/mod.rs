//! Network clients of the live feed path (R1.1, R1.4, R7.1): a WebSocket connection over
//! non-blocking TCP (mio) with optional TLS (rustls), driven by a feed thread's busy-poll loop
//! ([`ws`]); the TLS configuration ([`tls`]); and the cold thread that fetches REST depth
//! snapshots and hands them to the feed thread through a byte ring ([`snapshot`]).
//!
//! No async runtime anywhere: sockets are polled until `WouldBlock`, buffers are allocated
//! when a connection opens.
#![forbid(unsafe_code)]

pub mod http;
pub mod snapshot;
pub mod tls;
pub mod ws;

/// A parsed `ws://` / `wss://` / `http://` / `https://` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    /// True for `wss` / `https`.
    pub secure: bool,
    /// Host name or address, without brackets.
    pub host: String,
    /// Port (default 80 / 443 by scheme).
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl Url {
    /// Parse `scheme://host[:port][/path?query]`; schemes `ws`, `wss`, `http`, `https`.
    pub fn parse(s: &str) -> Result<Url, String> {
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| format!("{s:?}: not a URL (scheme://host/path)"))?;
        let secure = match scheme {
            "ws" | "http" => false,
            "wss" | "https" => true,
            other => return Err(format!("{s:?}: unsupported scheme {other:?}")),
        };
        let (hostport, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => match rest.find('?') {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, "/"),
            },
        };
        let default_port = if secure { 443 } else { 80 };
        let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
            let (h, after) = h
                .split_once(']')
                .ok_or_else(|| format!("{s:?}: bad IPv6 host"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| format!("{s:?}: bad port"))?,
                None => default_port,
            };
            (h.to_string(), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (
                    h.to_string(),
                    p.parse().map_err(|_| format!("{s:?}: bad port {p:?}"))?,
                ),
                None => (hostport.to_string(), default_port),
            }
        };
        if host.is_empty() {
            return Err(format!("{s:?}: empty host"));
        }
        let path = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_string()
        };
        Ok(Url {
            secure,
            host,
            port,
            path,
        })
    }

    /// `host` or `host:port` as the `Host` header wants it (port only when not the default).
    pub fn host_header(&self) -> String {
        let default = if self.secure { 443 } else { 80 };
        let h = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == default {
            h
        } else {
            format!("{h}:{}", self.port)
        }
    }

    /// Resolve the host (blocking DNS: call at start-up or on a cold thread, never on a hot one).
    pub fn resolve(&self) -> std::io::Result<Vec<std::net::SocketAddr>> {
        use std::net::ToSocketAddrs;
        Ok((self.host.as_str(), self.port).to_socket_addrs()?.collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        let u =
            Url::parse("wss://stream.binance.com:9443/stream?streams=btcusdt@bookTicker").unwrap();
        assert!(u.secure);
        assert_eq!(u.host, "stream.binance.com");
        assert_eq!(u.port, 9443);
        assert_eq!(u.path, "/stream?streams=btcusdt@bookTicker");
        assert_eq!(u.host_header(), "stream.binance.com:9443");
        let u = Url::parse("ws://127.0.0.1:8080").unwrap();
        assert_eq!((u.secure, u.port, u.path.as_str()), (false, 8080, "/"));
        let u = Url::parse("https://fapi.binance.com/fapi/v1/depth?symbol=BTCUSDT").unwrap();
        assert_eq!(
            (u.port, u.host_header().as_str()),
            (443, "fapi.binance.com")
        );
        let u = Url::parse("ws://[::1]:9/x").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 9));
        assert_eq!(u.host_header(), "[::1]:9");
        for bad in [
            "stream.binance.com",
            "ftp://x/",
            "ws://:80/",
            "ws://h:port/",
        ] {
            assert!(Url::parse(bad).is_err(), "{bad}");
        }
    }
}
