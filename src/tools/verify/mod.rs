//! `arbot verify-book FILE...`: replay one recorded session through the venue's real parser
//! and book code (the same [`crate::feed::VenueHandler`] and [`crate::book::Market`] the
//! engine runs) and report what the exchange's own integrity data says about the books:
//! sequence gaps, checksums, and the venue's best bid/offer messages against the rebuilt book.
//!
//! Recording layouts read here ([`read_recording`]):
//! - cryptofeed `NAME.ws.N.0`: line 1 `URL <-> t`; `URL <- t: payload` (sent by the client);
//!   `t: payload` (received). Payloads may be Python byte literals `b'...'` (Upbit, Huobi).
//!   REST snapshots of the same run are in `NAME.http.*` beside it: `URL -> t: body`.
//!   The line format is [`crate::replay::cryptofeed`]'s, shared with the replay reader.
//! - Binance gz (`../shared/data/binance/`): `<recv_ns> <raw>` per line, gzip.
//! - JSON lines without timestamps (Bybit v5 historical `.data`).
//!
//! The venue comes from the file's URL line (or `--venue`). One JSON object per file is printed;
//! the exit status is non-zero if any file has a gap, a checksum mismatch, a parse error or a
//! BBO mismatch.
#![forbid(unsafe_code)]

pub mod binance;
pub mod bitget;
pub mod bithumb;
pub mod bybit;
pub mod coinbase;
pub mod driver;
pub mod gateio;
pub mod kraken;
pub mod kucoin;
pub mod okx;
pub mod session;
pub mod upbit;

use crate::replay::cryptofeed::parse_cryptofeed_line;
pub use crate::replay::cryptofeed::RecLine;
use serde::Serialize;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// What `verify-book` prints for one file.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct VerifyReport {
    /// File path.
    pub file: String,
    /// Venue (`binance`, `binance-futures`, ...).
    pub venue: String,
    /// Messages received (sent lines and the connect line not included) plus REST snapshots.
    pub messages: u64,
    /// Messages that changed a book (snapshots and diffs).
    pub book_messages: u64,
    /// Instruments with a book.
    pub instruments: u64,
    /// Checksums verified equal.
    pub checksums_ok: u64,
    /// Checksum mismatches.
    pub checksum_mismatches: u64,
    /// Sequence gaps.
    pub gaps: u64,
    /// Resyncs (book rebuilt after a gap/mismatch, or a new snapshot).
    pub resyncs: u64,
    /// Messages that could not be parsed.
    pub parse_errors: u64,
    /// Well-formed messages not used (acks, heartbeats, unused channels).
    pub unknown_messages: u64,
    /// Book best bid/ask compared with the venue's own BBO message at the same sequence id.
    pub bbo_checks: u64,
    /// Comparisons that differed.
    pub bbo_mismatches: u64,
}

impl VerifyReport {
    /// True if the file proves the books correct (no gap, mismatch or parse error).
    pub fn ok(&self) -> bool {
        self.gaps == 0
            && self.checksum_mismatches == 0
            && self.parse_errors == 0
            && self.bbo_mismatches == 0
    }
}

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// I/O.
    #[error("{path}: {source}")]
    Io {
        /// Path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The venue could not be told from the file.
    #[error("{0}: cannot tell the venue from the file; pass --venue")]
    UnknownVenue(String),
    /// A venue this build has no verifier for.
    #[error("{path}: no book verifier for venue {venue:?} (have: {have})")]
    NoVerifier {
        /// Path.
        path: String,
        /// Venue.
        venue: String,
        /// Supported venues.
        have: String,
    },
}

/// Read a whole recording. Lines that fit no layout come back as `Recv` with time 0 (so the
/// venue parser counts them), never dropped.
pub fn read_recording(path: &Path) -> Result<Vec<RecLine>, VerifyError> {
    let io = |e| VerifyError::Io {
        path: path.display().to_string(),
        source: e,
    };
    let f = std::fs::File::open(path).map_err(io)?;
    let name = path.display().to_string();
    let rd: Box<dyn Read> = if name.ends_with(".gz") {
        Box::new(flate2::read::MultiGzDecoder::new(f))
    } else {
        Box::new(f)
    };
    let mut out = Vec::new();
    for line in BufReader::with_capacity(1 << 20, rd).split(b'\n') {
        let line = line.map_err(io)?;
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches('\r');
        if text.is_empty() {
            continue;
        }
        // Binance gz layout: `<ns> <json>`
        if let Some((t, j)) = text.split_once(' ') {
            if t.len() >= 16 && t.bytes().all(|b| b.is_ascii_digit()) {
                out.push(RecLine::Recv {
                    t_ns: t.parse().unwrap_or(0),
                    payload: j.as_bytes().to_vec(),
                });
                continue;
            }
        }
        // JSON lines without a timestamp
        if text.starts_with('{') || text.starts_with('[') {
            out.push(RecLine::Recv {
                t_ns: 0,
                payload: text.as_bytes().to_vec(),
            });
            continue;
        }
        out.push(parse_cryptofeed_line(text).unwrap_or(RecLine::Recv {
            t_ns: 0,
            payload: text.as_bytes().to_vec(),
        }));
    }
    Ok(out)
}

/// `NAME.http.*` files beside a `NAME.ws.N.0` recording (REST snapshots of the same run).
pub fn http_companions(path: &Path) -> Vec<PathBuf> {
    let Some(fname) = path.file_name().and_then(|f| f.to_str()) else {
        return vec![];
    };
    let Some((name, _)) = fname.split_once(".ws.") else {
        return vec![];
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|f| f.to_str())
                        .is_some_and(|f| f.starts_with(&format!("{name}.http.")))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Venue of a recording from its URL line (or file name for the layouts without one).
pub fn detect_venue(path: &Path, lines: &[RecLine]) -> Option<String> {
    let url = lines.iter().find_map(|l| match l {
        RecLine::Connect { url, .. } => Some(url.clone()),
        _ => None,
    });
    if let Some(u) = url {
        return venue_of_url(&u);
    }
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    if name.starts_with("spot_") || name.starts_with("usdm_") || name.starts_with("cm_") {
        return Some(
            if name.starts_with("spot_") {
                "binance"
            } else {
                "binance-futures"
            }
            .into(),
        );
    }
    // a Binance combined-stream recording without a URL line
    if let Some(RecLine::Recv { payload, .. }) = lines.first() {
        if payload.starts_with(b"{\"stream\":") {
            return Some("binance".into());
        }
        // Bybit v5 public data (the historical `.data` files): `{"topic":"orderbook.500.X",...`
        if payload.starts_with(b"{\"topic\":\"orderbook.")
            || payload.starts_with(b"{\"topic\":\"publicTrade.")
        {
            return Some("bybit".into());
        }
    }
    None
}

/// Venue of a WebSocket URL.
pub fn venue_of_url(u: &str) -> Option<String> {
    let host = u
        .split("://")
        .nth(1)
        .unwrap_or(u)
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    let v = match host {
        h if h.starts_with("stream.binance.") || h.starts_with("data-stream.binance.") => "binance",
        h if h.starts_with("fstream.binance.") || h.starts_with("dstream.binance.") => {
            "binance-futures"
        }
        h if h.starts_with("ws.okx.") || h.starts_with("wspap.okx.") || h == "ws.okex.com" => "okx",
        // v5 paths are /v5/public/{spot,linear,inverse}; /realtime and /realtime_public are v2
        h if h.starts_with("stream.bybit.") || h.starts_with("stream-testnet.bybit.") => {
            if u.contains("/v5/") {
                "bybit"
            } else {
                "bybit-legacy"
            }
        }
        h if h.starts_with("ws-feed.") && h.contains("coinbase.com") => "coinbase",
        h if h.starts_with("advanced-trade-ws.coinbase.") => "coinbase",
        h if h.starts_with("ws.kraken.") || h.starts_with("beta-ws.kraken.") => "kraken",
        h if h.ends_with("upbit.com") => "upbit",
        h if h.ends_with("bithumb.com") => "bithumb",
        h if h.ends_with("kucoin.com") => "kucoin",
        h if h.ends_with("gateio.ws") || h.ends_with("gate.io") || h.ends_with("gate.com") => {
            "gateio"
        }
        h if h.ends_with("bitget.com") => "bitget",
        _ => return None,
    };
    Some(v.to_string())
}

/// Venues `verify-book` knows.
pub const VERIFIERS: &[&str] = &[
    "binance",
    "binance-futures",
    "okx",
    "bybit",
    "bybit-legacy",
    "coinbase",
    "kraken",
    "upbit",
    "bithumb",
    "kucoin",
    "gateio",
    "bitget",
];

/// Verify one file.
pub fn verify_file(path: &Path, venue: Option<&str>) -> Result<VerifyReport, VerifyError> {
    let lines = read_recording(path)?;
    let venue = match venue {
        Some(v) => v.to_string(),
        None => detect_venue(path, &lines)
            .ok_or_else(|| VerifyError::UnknownVenue(path.display().to_string()))?,
    };
    let mut http = Vec::new();
    for p in http_companions(path) {
        http.extend(read_recording(&p)?);
    }
    let mut rep = VerifyReport {
        file: path.display().to_string(),
        venue: venue.clone(),
        ..VerifyReport::default()
    };
    match venue.as_str() {
        "binance" | "binance-futures" => binance::verify(&venue, &lines, &http, &mut rep),
        "okx" => okx::verify(path, &lines, &mut rep),
        "bybit" => bybit::verify(&lines, &mut rep),
        "bybit-legacy" => bybit::verify_legacy(&lines, &mut rep),
        "coinbase" => coinbase::verify(path, &lines, &mut rep),
        "kraken" => kraken::verify(path, &lines, &mut rep),
        "upbit" => upbit::verify(&lines, &http, &mut rep),
        "bithumb" => bithumb::verify(&lines, &http, &mut rep),
        "kucoin" => kucoin::verify(&lines, &http, &mut rep),
        "gateio" => gateio::verify(&lines, &http, &mut rep),
        "bitget" => bitget::verify(&lines, &http, &mut rep),
        _ => {
            return Err(VerifyError::NoVerifier {
                path: path.display().to_string(),
                venue,
                have: VERIFIERS.join(", "),
            })
        }
    }
    Ok(rep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn venue_from_url() {
        assert_eq!(
            venue_of_url("wss://stream.binance.com:9443/stream?streams=a").as_deref(),
            Some("binance")
        );
        assert_eq!(
            venue_of_url("wss://fstream.binance.com/stream?streams=a").as_deref(),
            Some("binance-futures")
        );
        assert_eq!(venue_of_url("wss://example.com/"), None);
    }
}
