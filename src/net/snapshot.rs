//! REST depth snapshots off the hot path (exchanges.md §1.2, §2.2): a cold thread per venue
//! takes snapshot requests from its feed thread (SPSC ring of [`SnapshotRequest`]), fetches
//! them with a blocking HTTP client (ureq over rustls), and pushes each raw body into a byte
//! ring the feed thread reads, tagged `tag::make(venue, true, instrument)`, so the venue's
//! handler processes it exactly like the snapshot line of a recording. Meanwhile the handler
//! buffers diffs.
//!
//! Failures (timeout, HTTP error, empty body) are counted and retried with a doubling delay
//! (`1 s … 30 s`). Requests for the same instrument are merged; two fetches of one instrument
//! are at least `min_interval` apart (REST weight limits).
#![forbid(unsafe_code)]

use crate::feed::tag;
use crate::journal::{LogCode, LogRecord, Severity};
use crate::ring::{ByteProducer, Consumer, Producer, PushError, RawMeta};
use crate::types::{InstrumentId, VenueId};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A request from a feed thread: fetch a snapshot of `instrument`; `generation` is the
/// source's connection generation when it asked (echoed in [`RawMeta::seq`] of the answer,
/// so answers that predate a reconnect can be dropped).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SnapshotRequest {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Connection generation.
    pub generation: u64,
}

/// Counters of one fetcher thread.
#[derive(Debug, Default)]
pub struct FetchStats {
    /// Requests received.
    pub requested: AtomicU64,
    /// Snapshots fetched and handed to the feed thread.
    pub delivered: AtomicU64,
    /// Failed attempts (each is retried).
    pub failed: AtomicU64,
    /// Log records dropped because the log ring was full.
    pub log_dropped: AtomicU64,
}

/// What the fetcher thread needs.
pub struct Fetcher {
    /// Venue (for the tag).
    pub venue: VenueId,
    /// Snapshot URL per instrument.
    pub urls: Vec<(InstrumentId, String)>,
    /// CA certificate to trust (tests), else the built-in web roots.
    pub ca_file: Option<std::path::PathBuf>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Least time between two fetches of one instrument.
    pub min_interval: Duration,
    /// Requests from the feed thread.
    pub requests: Consumer<SnapshotRequest>,
    /// Bodies to the feed thread.
    pub bodies: ByteProducer,
    /// Set to stop.
    pub stop: Arc<AtomicBool>,
    /// Counters.
    pub stats: Arc<FetchStats>,
    /// Log records to the cold logger thread (failures, retries): nothing goes to stderr
    /// behind the log file's back.
    pub log: Producer<LogRecord>,
}

/// A blocking HTTP agent (cold paths only): `ca` trusted instead of the web roots when given,
/// status codes returned as responses (not errors).
pub fn agent(ca: Option<&std::path::Path>, timeout: Duration) -> Result<ureq::Agent, String> {
    let mut b = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .user_agent(concat!("arbot/", env!("CARGO_PKG_VERSION")));
    if let Some(p) = ca {
        let certs = super::tls::read_pem_certs(p)?
            .into_iter()
            .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
            .collect::<Vec<_>>();
        b = b.tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::Specific(Arc::new(certs)))
                .build(),
        );
    }
    Ok(b.build().into())
}

/// GET `url`; the body if the status is 200.
/// One blocking POST with an empty JSON body (cold path: KuCoin's `bullet-public` token call
/// before connecting). Returns the body of a 2xx answer.
pub fn post(url: &str, ca: Option<&std::path::Path>, timeout: Duration) -> Result<Vec<u8>, String> {
    let a = agent(ca, timeout)?;
    let mut resp = a
        .post(url)
        .header("Content-Type", "application/json")
        .send("")
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_vec()
        .map_err(|e| e.to_string())?;
    if !(200..300).contains(&status) {
        return Err(format!("{url}: HTTP {status}"));
    }
    Ok(body)
}

/// One blocking GET (see [`post`] for the agent settings).
pub fn fetch(agent: &ureq::Agent, url: &str) -> Result<Vec<u8>, String> {
    let mut resp = agent.get(url).call().map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .map_err(|e| e.to_string())?;
    if status != 200 {
        let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
        return Err(format!("HTTP {status}: {text}"));
    }
    if body.is_empty() {
        return Err("empty body".into());
    }
    Ok(body)
}

struct Pending {
    generation: u64,
    due: Instant,
    delay: Duration,
}

impl Fetcher {
    /// Log `text` (first 64 bytes) about `instrument` at `severity`; a full log ring drops
    /// the record and counts it in [`FetchStats::log_dropped`].
    fn log(&mut self, severity: Severity, instrument: InstrumentId, text: &str) {
        let rec = LogRecord {
            ts_ns: crate::clock::Clock::get().now_ns(),
            severity,
            code: LogCode::Note,
            venue: self.venue,
            instrument,
            ..LogRecord::default()
        }
        .with_text(text.as_bytes());
        if self.log.push(rec).is_err() {
            self.stats.log_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Run until `stop` is set or the feed thread drops its end of the request ring.
    pub fn run(mut self) {
        let agent = match agent(self.ca_file.as_deref(), self.timeout) {
            Ok(a) => a,
            Err(e) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                self.log(
                    Severity::Error,
                    InstrumentId(0),
                    &format!("snapshot fetcher cannot start: {e}"),
                );
                return;
            }
        };
        let mut pending: Vec<(InstrumentId, Pending)> = Vec::new();
        let mut last_fetch: Vec<(InstrumentId, Instant)> = Vec::new();
        let clock = crate::clock::Clock::get();
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
            while let Some(r) = self.requests.pop() {
                self.stats.requested.fetch_add(1, Ordering::Relaxed);
                let earliest = last_fetch
                    .iter()
                    .find(|(i, _)| *i == r.instrument)
                    .map(|(_, t)| *t + self.min_interval)
                    .unwrap_or_else(Instant::now);
                match pending.iter_mut().find(|(i, _)| *i == r.instrument) {
                    Some((_, p)) => p.generation = p.generation.max(r.generation),
                    None => pending.push((
                        r.instrument,
                        Pending {
                            generation: r.generation,
                            due: earliest.max(Instant::now()),
                            delay: Duration::from_secs(1),
                        },
                    )),
                }
            }
            let now = Instant::now();
            let Some(k) = pending.iter().position(|(_, p)| p.due <= now) else {
                if self.requests.is_abandoned() && pending.is_empty() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(1));
                continue;
            };
            let (inst, p) = pending.remove(k);
            let Some(url) = self
                .urls
                .iter()
                .find(|(i, _)| *i == inst)
                .map(|(_, u)| u.clone())
            else {
                continue; // no REST snapshot for it
            };
            match last_fetch.iter_mut().find(|(i, _)| *i == inst) {
                Some((_, t)) => *t = now,
                None => last_fetch.push((inst, now)),
            }
            match fetch(&agent, &url) {
                Ok(body) => {
                    let meta = RawMeta {
                        recv_ns: clock.now_ns(),
                        tag: tag::make(self.venue.0, true, inst.0 as u32),
                        seq: p.generation,
                    };
                    loop {
                        match self.bodies.push(meta, &body) {
                            Ok(()) => {
                                self.stats.delivered.fetch_add(1, Ordering::Relaxed);
                                break;
                            }
                            Err(PushError::Full) => {
                                if self.stop.load(Ordering::Relaxed) {
                                    return;
                                }
                                std::thread::sleep(Duration::from_millis(1));
                            }
                            Err(PushError::TooLarge) => {
                                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                                let n = body.len();
                                self.log(
                                    Severity::Error,
                                    inst,
                                    &format!("snapshot of {n} bytes is larger than the ring"),
                                );
                                break;
                            }
                        }
                    }
                }
                Err(e) => {
                    self.stats.failed.fetch_add(1, Ordering::Relaxed);
                    self.log(
                        Severity::Warn,
                        inst,
                        &format!("snapshot retry in {:?}: {e}", p.delay),
                    );
                    pending.push((
                        inst,
                        Pending {
                            generation: p.generation,
                            due: Instant::now() + p.delay,
                            delay: (p.delay * 2).min(Duration::from_secs(30)),
                        },
                    ));
                }
            }
        }
    }
}
