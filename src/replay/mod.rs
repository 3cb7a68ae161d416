//! Replay reader (R3.1, R8.1): reads recorded files, merges them by receive time, and hands
//! each raw message to the byte ring of the feed thread that owns its venue, as fast as
//! possible (`pace = "max"`) or at the recorded pace (`pace = "recorded"`, with `speed`).
//!
//! File format `binance-gz` (the layout of `../shared/data/binance/`, also what R1.6 recording
//! writes): gzip text, one message per line, `<recv_ns> <raw message>`. Lines are kept in file
//! order (the order they arrived on one connection, even where recorded stamps step back by a
//! few µs); files are merged by taking the earliest head, ties to the first file. Every line is
//! handed on, including ones whose timestamp does not parse (with the previous line's time, so
//! the venue's parser counts them as errors): nothing is silently dropped.
//!
//! File format `cryptofeed` (the layout of `../shared/data/recorded/NAME.ws.N.0`): line 1
//! `URL <-> t`, client frames `URL <- t: payload`, received frames `t: payload` (t in seconds
//! with a fraction; payloads may be Python byte literals `b'...'`, decoded here into a reused
//! buffer). Only received frames are handed on: the connect line, the client's own frames and
//! REST lines (`URL -> t: body`) are skipped and counted (`FileStats::skipped`). The line
//! format lives in [`cryptofeed`]; `verify-book` reads the same files through it.
//! `format = "auto"` (the default) tells the two apart by the first line.
//!
//! The merge order is also the global message index ([`crate::ring::RawMeta::seq`]) that lets
//! detection process messages in one deterministic order whatever the thread timing.
#![forbid(unsafe_code)]

pub mod cryptofeed;
pub mod inflate;

use crate::feed::tag;
use crate::ring::{ByteProducer, PushError, RawMeta};
use crate::types::{InstrumentId, VenueId};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Replay speed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Pace {
    /// As fast as the pipeline takes it.
    #[default]
    Max,
    /// At the recorded inter-message times (divided by `speed`).
    Recorded,
}

/// Layout of a recorded file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ReplayFormat {
    /// Decide from the first line: `URL <-> t` → cryptofeed, else ns-json.
    #[default]
    Auto,
    /// `<recv_ns> <raw message>` per line (gzip or plain): `../shared/data/binance/`, R1.6.
    NsJson,
    /// cryptofeed's raw recorder: `URL <-> t`, `URL <- t: payload`, `t: payload`.
    Cryptofeed,
}

/// One file to replay.
#[derive(Clone, Debug)]
pub struct ReplayFile {
    /// Path of the recording (gzip when it ends in `.gz`).
    pub path: PathBuf,
    /// Venue whose handler gets its messages.
    pub venue: VenueId,
    /// Layout.
    pub format: ReplayFormat,
    /// The venue's instruments (venue symbol, engine id), for recorder lines
    /// `<recv_ns> snapshot:<SYMBOL> <body>` ([`crate::feed::recorder`]); empty when unknown.
    pub instruments: Vec<(String, InstrumentId)>,
}

/// Per-file result of a replay.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FileStats {
    /// Path.
    pub path: String,
    /// Lines handed on.
    pub lines: u64,
    /// Lines whose receive timestamp did not parse (handed on anyway).
    pub bad_timestamps: u64,
    /// Lines larger than the ring can hold (skipped, counted; never seen on real data).
    pub oversized: u64,
    /// First and last receive time.
    pub first_ns: u64,
    /// Last receive time.
    pub last_ns: u64,
    /// Times a recorded timestamp was earlier than the previous one in the same file.
    pub time_steps_back: u64,
    /// Lines that are not received messages (cryptofeed connect line, client frames, REST).
    pub skipped: u64,
    /// Recorder snapshot lines (`snapshot:<SYMBOL>`) naming a symbol the venue does not list
    /// (handed on as a snapshot for the handler to place, or to count as an error).
    pub unknown_snapshot_symbols: u64,
}

/// Error opening or reading a replay file.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// File missing or unreadable.
    #[error("replay file {path}: {source}")]
    Io {
        /// Path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
}

struct Head {
    line: Vec<u8>,
    recv_ns: u64,
    payload_at: usize,
    /// The payload was a byte literal, decoded into `decoded`.
    use_decoded: bool,
    /// The line was a recorder snapshot line: `Some(engine instrument id or NO_INSTRUMENT)`.
    snapshot: Option<u32>,
    decoded: Vec<u8>,
    eof: bool,
}

impl Head {
    fn payload(&self) -> &[u8] {
        if self.use_decoded {
            &self.decoded
        } else {
            &self.line[self.payload_at..]
        }
    }
}

struct FileReader {
    rd: Box<dyn BufRead + Send>,
    venue: VenueId,
    format: ReplayFormat,
    instruments: Vec<(String, InstrumentId)>,
    head: Head,
    stats: FileStats,
    last_good_ns: u64,
}

impl FileReader {
    fn open(f: &ReplayFile) -> Result<FileReader, ReplayError> {
        let path = f.path.display().to_string();
        let file = std::fs::File::open(&f.path).map_err(|e| ReplayError::Io {
            path: path.clone(),
            source: e,
        })?;
        let big = file
            .metadata()
            .map(|m| m.len() >= inflate::MIN_FILE_BYTES)
            .unwrap_or(false);
        let rd: Box<dyn Read + Send> = if path.ends_with(".gz") && big {
            // inflated on a thread of its own (see `inflate`); the bytes are the same
            let name = format!("arbot-inflate-{}", f.venue.0);
            Box::new(
                inflate::Inflater::spawn(file, name).map_err(|e| ReplayError::Io {
                    path: path.clone(),
                    source: e,
                })?,
            )
        } else if path.ends_with(".gz") {
            Box::new(flate2::read::MultiGzDecoder::new(file))
        } else {
            Box::new(file)
        };
        let mut r = FileReader {
            rd: Box::new(BufReader::with_capacity(1 << 20, rd)),
            venue: f.venue,
            format: f.format,
            instruments: f.instruments.clone(),
            head: Head {
                line: Vec::with_capacity(1 << 16),
                recv_ns: 0,
                payload_at: 0,
                use_decoded: false,
                snapshot: None,
                decoded: Vec::with_capacity(1 << 16),
                eof: false,
            },
            stats: FileStats {
                path,
                ..FileStats::default()
            },
            last_good_ns: 0,
        };
        r.advance()?;
        Ok(r)
    }

    /// Read the next non-empty line into `head`.
    fn advance(&mut self) -> Result<(), ReplayError> {
        loop {
            self.head.line.clear();
            let n = self
                .rd
                .read_until(b'\n', &mut self.head.line)
                .map_err(|e| ReplayError::Io {
                    path: self.stats.path.clone(),
                    source: e,
                })?;
            if n == 0 {
                self.head.eof = true;
                return Ok(());
            }
            while matches!(self.head.line.last(), Some(b'\n' | b'\r')) {
                self.head.line.pop();
            }
            if self.head.line.is_empty() {
                continue;
            }
            self.head.use_decoded = false;
            self.head.snapshot = None;
            if self.format == ReplayFormat::Auto {
                self.format = if self.head.line.windows(5).any(|w| w == b" <-> ") {
                    ReplayFormat::Cryptofeed
                } else {
                    ReplayFormat::NsJson
                };
            }
            if self.format == ReplayFormat::Cryptofeed {
                if self.cryptofeed_head() {
                    return Ok(());
                }
                continue;
            }
            let sp = self.head.line.iter().position(|b| *b == b' ');
            let ts = sp.and_then(|i| {
                std::str::from_utf8(&self.head.line[..i])
                    .ok()?
                    .parse::<u64>()
                    .ok()
            });
            match (sp, ts) {
                (Some(i), Some(t)) => {
                    if t < self.last_good_ns {
                        self.stats.time_steps_back += 1;
                    }
                    self.head.recv_ns = t;
                    self.head.payload_at = i + 1;
                    self.last_good_ns = t;
                    self.recorder_snapshot();
                }
                _ => {
                    self.stats.bad_timestamps += 1;
                    self.head.recv_ns = self.last_good_ns;
                    self.head.payload_at = 0;
                }
            }
            return Ok(());
        }
    }
}

impl FileReader {
    /// A recorder line `<recv_ns> snapshot:<SYMBOL> <body>`: the body is a REST snapshot of
    /// that symbol's book ([`crate::feed::recorder`]).
    fn recorder_snapshot(&mut self) {
        const P: &[u8] = b"snapshot:";
        let h = &mut self.head;
        let rest = &h.line[h.payload_at..];
        if !rest.starts_with(P) {
            return;
        }
        let Some(sp) = rest.iter().position(|b| *b == b' ') else {
            return;
        };
        let sym = &rest[P.len()..sp];
        let id = self
            .instruments
            .iter()
            .find(|(s, _)| s.as_bytes() == sym)
            .map(|(_, id)| u32::from(id.0));
        if id.is_none() {
            self.stats.unknown_snapshot_symbols += 1;
        }
        h.snapshot = Some(id.unwrap_or(tag::NO_INSTRUMENT));
        h.payload_at += sp + 1;
    }

    /// Classify the cryptofeed line in `head.line`; true if it is a received message (head
    /// set up), false if it is skipped.
    fn cryptofeed_head(&mut self) -> bool {
        use cryptofeed::{decode_py_bytes_into, py_bytes_literal, split_cryptofeed_line, CfLine};
        let h = &mut self.head;
        let Ok(text) = std::str::from_utf8(&h.line) else {
            // not text: hand it on whole with the last good time, the parser counts it
            self.stats.bad_timestamps += 1;
            h.recv_ns = self.last_good_ns;
            h.payload_at = 0;
            return true;
        };
        match split_cryptofeed_line(text) {
            Some(CfLine::Recv { t_ns, payload }) => {
                if t_ns < self.last_good_ns {
                    self.stats.time_steps_back += 1;
                }
                h.recv_ns = t_ns;
                self.last_good_ns = t_ns;
                if let Some(lit) = py_bytes_literal(payload) {
                    h.decoded.clear();
                    decode_py_bytes_into(lit, &mut h.decoded);
                    h.use_decoded = true;
                } else {
                    h.payload_at = text.len() - payload.len();
                }
                true
            }
            Some(_) => {
                self.stats.skipped += 1;
                false
            }
            None => {
                self.stats.bad_timestamps += 1;
                h.recv_ns = self.last_good_ns;
                h.payload_at = 0;
                true
            }
        }
    }
}

/// Merges several recorded files by receive time (earliest head first, ties to the lower file
/// index), assigning each line its global message index. Used by the threaded reader and by
/// single-threaded tools (tests, `verify-book`).
pub struct Merger {
    files: Vec<FileReader>,
    seq: u64,
}

impl Merger {
    /// Open every file (fails on the first missing one, naming it).
    pub fn open(files: &[ReplayFile]) -> Result<Merger, ReplayError> {
        Ok(Merger {
            files: files
                .iter()
                .map(FileReader::open)
                .collect::<Result<Vec<_>, _>>()?,
            seq: 0,
        })
    }

    /// Index of the file whose head is next, if any line is left.
    fn next_file(&self) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (i, f) in self.files.iter().enumerate() {
            if f.head.eof {
                continue;
            }
            match best {
                None => best = Some(i),
                Some(b) if f.head.recv_ns < self.files[b].head.recv_ns => best = Some(i),
                _ => {}
            }
        }
        best
    }

    /// The next line: (venue, meta with the global index, payload). Call
    /// [`Merger::advance`] after using it.
    pub fn peek(&self) -> Option<(VenueId, RawMeta, &[u8])> {
        let i = self.next_file()?;
        let f = &self.files[i];
        Some((
            f.venue,
            RawMeta {
                recv_ns: f.head.recv_ns,
                tag: match f.head.snapshot {
                    Some(i) => tag::make(f.venue.0, true, i),
                    None => tag::make(f.venue.0, false, tag::NO_INSTRUMENT),
                },
                seq: self.seq,
            },
            f.head.payload(),
        ))
    }

    /// Move past the line returned by `peek`; `delivered` = it was handed on (counted and
    /// numbered), else it is counted as oversized.
    pub fn advance(&mut self, delivered: bool) -> Result<(), ReplayError> {
        let Some(i) = self.next_file() else {
            return Ok(());
        };
        let f = &mut self.files[i];
        if delivered {
            self.seq += 1;
            f.stats.lines += 1;
            if f.stats.first_ns == 0 {
                f.stats.first_ns = f.head.recv_ns;
            }
            f.stats.last_ns = f.stats.last_ns.max(f.head.recv_ns);
        } else {
            f.stats.oversized += 1;
        }
        f.advance()
    }

    /// Per-file statistics so far.
    pub fn stats(&self) -> Vec<FileStats> {
        self.files.iter().map(|f| f.stats.clone()).collect()
    }
}

/// Messages in merge order, one at a time: the input of the single-thread replay
/// ([`crate::engine::single`]). [`Merger`] reads the files; [`MemoryReplay`] holds them
/// already read and merged (benchmarks: the input cost out of the measurement).
pub trait MergedSource {
    /// The next message: (venue, meta with the global index, payload); `None` at the end.
    fn peek(&self) -> Option<(VenueId, RawMeta, &[u8])>;
    /// Move past the message returned by `peek` (`delivered`: handed on, else counted as
    /// oversized).
    fn advance(&mut self, delivered: bool) -> Result<(), ReplayError>;
    /// Per-file statistics.
    fn stats(&self) -> Vec<FileStats>;
    /// Which pass over the recording the next message belongs to (0 unless the source loops,
    /// see [`Looped`]). A change tells the engine that the data jumped back to the recording's
    /// start: its books must resync.
    fn pass(&self) -> u32 {
        0
    }
    /// The data-time shift between passes, ns (0 for a source that does not loop).
    fn period_ns(&self) -> u64 {
        0
    }
}

/// What a looped replay ([`Looped`], `replay.loops`) played: `report.json` `data.loops`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LoopSummary {
    /// Passes over the recording that started (fewer than asked when the run stopped early).
    pub passes_played: u32,
    /// `replay.loops`.
    pub passes_asked: u32,
    /// Data-time shift of each pass: the recording's span plus [`LOOP_GAP_NS`], ns.
    pub period_ns: u64,
}

impl MergedSource for Merger {
    #[inline]
    fn peek(&self) -> Option<(VenueId, RawMeta, &[u8])> {
        Merger::peek(self)
    }
    #[inline]
    fn advance(&mut self, delivered: bool) -> Result<(), ReplayError> {
        Merger::advance(self, delivered)
    }
    fn stats(&self) -> Vec<FileStats> {
        Merger::stats(self)
    }
}

/// Recordings read (gzip inflated) and merged once into memory: one byte buffer of payloads
/// and an index in merge order. Replaying it costs no I/O, inflation or merge work, so a
/// benchmark measures the engine alone; the messages, their order, indices and receive times
/// are exactly [`Merger`]'s. Reusable: [`MemoryReplay::rewind`] starts it over.
#[derive(Clone, Debug)]
pub struct MemoryReplay {
    bytes: Vec<u8>,
    /// (venue, receive time ns, start in `bytes`, end in `bytes`), merge order.
    index: Vec<(VenueId, u64, usize, usize)>,
    pos: usize,
    stats: Vec<FileStats>,
}

impl MemoryReplay {
    /// Read and merge `files` (errors as [`Merger::open`]).
    pub fn load(files: &[ReplayFile]) -> Result<MemoryReplay, ReplayError> {
        let mut bytes = Vec::new();
        let mut index = Vec::new();
        let stats = for_each_merged(files, |v, meta, data| {
            let start = bytes.len();
            bytes.extend_from_slice(data);
            index.push((v, meta.recv_ns, start, bytes.len()));
        })?;
        Ok(MemoryReplay {
            bytes,
            index,
            pos: 0,
            stats,
        })
    }

    /// Messages held.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when no message is held.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Payload bytes held.
    pub fn payload_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// Back to the first message.
    pub fn rewind(&mut self) {
        self.pos = 0;
    }

    /// Every message in merge order: (venue, receive time ns, payload).
    pub fn iter(&self) -> impl Iterator<Item = (VenueId, u64, &[u8])> + '_ {
        self.index
            .iter()
            .map(|&(v, t, a, b)| (v, t, &self.bytes[a..b]))
    }
}

impl MergedSource for MemoryReplay {
    #[inline]
    fn peek(&self) -> Option<(VenueId, RawMeta, &[u8])> {
        let &(venue, recv_ns, a, b) = self.index.get(self.pos)?;
        Some((
            venue,
            RawMeta {
                recv_ns,
                tag: tag::make(venue.0, false, tag::NO_INSTRUMENT),
                seq: self.pos as u64,
            },
            &self.bytes[a..b],
        ))
    }
    #[inline]
    fn advance(&mut self, _delivered: bool) -> Result<(), ReplayError> {
        self.pos = (self.pos + 1).min(self.index.len());
        Ok(())
    }
    /// The statistics of reading the files whole (not cut at a message limit).
    fn stats(&self) -> Vec<FileStats> {
        self.stats.clone()
    }
}

/// Gap between the last message of one pass of a [`Looped`] replay and the first of the next,
/// ns of data time (1 ms).
pub const LOOP_GAP_NS: u64 = 1_000_000;

/// The recording played `passes` times end to end (`replay.loops`, the soak of
/// `scripts/soak.sh`): each pass reads the files again, its receive times shifted forward by
/// the recording's span plus [`LOOP_GAP_NS`] per pass so data time only moves forward, and its
/// global message indices continue from the previous pass with one index left unused at each
/// boundary (the engine's resync events carry it). Venue update ids are not shifted: the
/// engine resyncs every book at a pass boundary ([`MergedSource::pass`] changes; the handlers
/// see a disconnect and sync again from the recording's own snapshots, as after a reconnect).
///
/// [`MergedSource::stats`] sums the passes per file (lines, skips, steps back) with the first
/// pass's first time and the last pass's shifted last time.
pub struct Looped {
    files: Vec<ReplayFile>,
    merger: Merger,
    passes: u32,
    pass: u32,
    /// Added to the current pass's receive times.
    offset_ns: u64,
    /// Added to the current pass's message indices.
    seq_base: u64,
    /// The finished passes' statistics, summed.
    done: Vec<FileStats>,
    /// Span of the first pass plus the gap (0 until the first pass ends).
    period_ns: u64,
}

impl Looped {
    /// `files` played `passes` times (≥ 1; 1 is the plain replay). Errors as [`Merger::open`].
    pub fn open(files: &[ReplayFile], passes: u32) -> Result<Looped, ReplayError> {
        Ok(Looped {
            files: files.to_vec(),
            merger: Merger::open(files)?,
            passes: passes.max(1),
            pass: 0,
            offset_ns: 0,
            seq_base: 0,
            done: Vec::new(),
            period_ns: 0,
        })
    }

    /// The current pass's statistics added to the finished ones (times shifted).
    fn summed(&self) -> Vec<FileStats> {
        let now = self.merger.stats();
        if self.done.is_empty() {
            return now;
        }
        self.done
            .iter()
            .zip(now)
            .map(|(d, n)| FileStats {
                path: d.path.clone(),
                lines: d.lines + n.lines,
                bad_timestamps: d.bad_timestamps + n.bad_timestamps,
                oversized: d.oversized + n.oversized,
                first_ns: d.first_ns,
                last_ns: if n.lines > 0 {
                    n.last_ns + self.offset_ns
                } else {
                    d.last_ns
                },
                time_steps_back: d.time_steps_back + n.time_steps_back,
                skipped: d.skipped + n.skipped,
                unknown_snapshot_symbols: d.unknown_snapshot_symbols + n.unknown_snapshot_symbols,
            })
            .collect()
    }
}

impl MergedSource for Looped {
    #[inline]
    fn peek(&self) -> Option<(VenueId, RawMeta, &[u8])> {
        let (v, mut meta, data) = self.merger.peek()?;
        meta.recv_ns += self.offset_ns;
        meta.seq += self.seq_base;
        Some((v, meta, data))
    }

    fn advance(&mut self, delivered: bool) -> Result<(), ReplayError> {
        self.merger.advance(delivered)?;
        if self.merger.peek().is_some() || self.pass + 1 >= self.passes {
            return Ok(());
        }
        // the pass ended: the next one starts over, later in data time
        let stats = self.summed();
        if self.period_ns == 0 {
            let first = stats
                .iter()
                .filter(|f| f.lines > 0)
                .map(|f| f.first_ns)
                .min();
            let last = stats.iter().map(|f| f.last_ns).max();
            self.period_ns = match (first, last) {
                (Some(a), Some(b)) => b.saturating_sub(a) + LOOP_GAP_NS,
                // nothing was read: nothing to loop
                _ => return Ok(()),
            };
        }
        self.seq_base += self.merger.seq + 1;
        self.offset_ns += self.period_ns;
        self.pass += 1;
        self.done = stats;
        self.merger = Merger::open(&self.files)?;
        Ok(())
    }

    fn stats(&self) -> Vec<FileStats> {
        self.summed()
    }

    fn pass(&self) -> u32 {
        self.pass
    }

    fn period_ns(&self) -> u64 {
        self.period_ns
    }
}

/// Call `f` for every line of `files` in merge order, on this thread.
pub fn for_each_merged(
    files: &[ReplayFile],
    mut f: impl FnMut(VenueId, RawMeta, &[u8]),
) -> Result<Vec<FileStats>, ReplayError> {
    let mut m = Merger::open(files)?;
    while let Some((v, meta, data)) = m.peek() {
        f(v, meta, data);
        m.advance(true)?;
    }
    Ok(m.stats())
}

/// The reader thread: owns the merger and the producer ends of the feed threads' rings.
pub struct ReplayReader {
    merger: Merger,
    /// Ring per feed thread.
    rings: Vec<ByteProducer>,
    /// venue index → ring index.
    route: Vec<usize>,
    pace: Pace,
    speed: f64,
    stop: Arc<AtomicBool>,
    lead: Option<(Arc<crate::stats::Progress>, u64)>,
    limit: u64,
    fast_until: u64,
    /// How to wait for the pipeline (`lead`) and whom to tell about a pushed message.
    waiter: crate::wait::Waiter,
}

impl ReplayReader {
    /// Open every file (fails on the first missing one, naming it).
    pub fn open(
        files: &[ReplayFile],
        rings: Vec<ByteProducer>,
        route: Vec<usize>,
        pace: Pace,
        speed: f64,
        stop: Arc<AtomicBool>,
    ) -> Result<ReplayReader, ReplayError> {
        Ok(ReplayReader {
            merger: Merger::open(files)?,
            rings,
            route,
            pace,
            speed: if speed > 0.0 { speed } else { 1.0 },
            stop,
            lead: None,
            limit: 0,
            fast_until: 0,
            waiter: crate::wait::Waiter::new(crate::wait::WaitKind::SpinYield, 100, 1),
        })
    }

    /// Wait for the pipeline's progress with `waiter` (default: spin 100 polls, then yield),
    /// and ring its doorbell after each message handed over (`wait = "block"`).
    pub fn with_waiter(mut self, waiter: crate::wait::Waiter) -> ReplayReader {
        self.waiter = waiter;
        self
    }

    /// Hand on messages before index `n` as fast as possible whatever the pace (a resumed
    /// replay catching up to where its journals ended); the recorded pace starts at `n`.
    pub fn with_fast_forward(mut self, n: u64) -> ReplayReader {
        self.fast_until = n;
        self
    }

    /// Hand over message `n` only once detection has finished message `n - lead`
    /// (`progress.messages` ≥ n − lead + 1): at most `lead` messages are inside the pipeline,
    /// so latency is measured without an artificial backlog. `lead = 0` means no limit.
    pub fn with_lead(mut self, progress: Arc<crate::stats::Progress>, lead: u64) -> ReplayReader {
        if lead > 0 {
            self.lead = Some((progress, lead));
        }
        self
    }

    /// Hand on at most `n` messages (merge order), then end as if the files ended
    /// (`0` = no limit).
    pub fn with_limit(mut self, n: u64) -> ReplayReader {
        self.limit = n;
        self
    }

    /// Run to the end of every file; returns per-file stats. Dropping the rings at the end
    /// tells the feed threads that the input is finished.
    pub fn run(mut self) -> Result<Vec<FileStats>, ReplayError> {
        // the recorded pace is anchored at the first paced message
        let mut t0: Option<(u64, std::time::Instant)> = None;
        loop {
            if self.stop.load(Ordering::Relaxed) {
                break;
            }
            let Some((venue, meta, payload)) = self.merger.peek() else {
                break;
            };
            if self.limit > 0 && meta.seq >= self.limit {
                break;
            }
            if self.pace == Pace::Recorded && meta.seq >= self.fast_until {
                let (t0_data, start_wall) =
                    *t0.get_or_insert((meta.recv_ns, std::time::Instant::now()));
                let due_ns = (meta.recv_ns.saturating_sub(t0_data) as f64 / self.speed) as u64;
                let due = std::time::Duration::from_nanos(due_ns);
                let now = start_wall.elapsed();
                if due > now {
                    std::thread::sleep(due - now);
                }
            }
            if let Some((p, lead)) = &self.lead {
                while meta.seq >= crate::stats::Progress::get(&p.messages) + lead {
                    if self.stop.load(Ordering::Relaxed) {
                        break;
                    }
                    self.waiter.idle();
                }
                self.waiter.reset();
            }
            let ring = &mut self.rings[self.route[venue.idx()]];
            let mut delivered = false;
            loop {
                match ring.push(meta, payload) {
                    Ok(()) => {
                        delivered = true;
                        self.waiter.notify();
                        break;
                    }
                    Err(PushError::Full) => {
                        if self.stop.load(Ordering::Relaxed) {
                            break;
                        }
                        std::thread::sleep(std::time::Duration::from_micros(20));
                    }
                    Err(PushError::TooLarge) => break,
                }
            }
            self.merger.advance(delivered)?;
        }
        Ok(self.merger.stats())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_looped_replay_shifts_each_pass_forward_and_leaves_one_index_between_passes() {
        let dir = std::env::temp_dir().join(format!("arbot-loop-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("a.txt"), dir.join("b.txt"));
        std::fs::write(&a, "1000 a1\n3000 a2\n").unwrap();
        std::fs::write(&b, "2000 b1\n5000 b2\n").unwrap();
        let file = |p: &PathBuf, v| ReplayFile {
            path: p.clone(),
            venue: VenueId(v),
            format: ReplayFormat::NsJson,
            instruments: Vec::new(),
        };
        let mut l = Looped::open(&[file(&a, 0), file(&b, 1)], 3).unwrap();
        let mut got = Vec::new();
        while let Some((v, meta, data)) = l.peek() {
            got.push((
                l.pass(),
                v.0,
                meta.recv_ns,
                meta.seq,
                String::from_utf8_lossy(data).to_string(),
            ));
            l.advance(true).unwrap();
        }
        // span 1000..5000 = 4000 ns, + the 1 ms gap
        let p = 4000 + LOOP_GAP_NS;
        assert_eq!(l.period_ns(), p);
        let one = [
            (0, 1000, "a1"),
            (1, 2000, "b1"),
            (0, 3000, "a2"),
            (1, 5000, "b2"),
        ];
        let mut want = Vec::new();
        for pass in 0..3u32 {
            for (i, (v, t, d)) in one.iter().enumerate() {
                // 4 messages per pass and one index left out at each boundary
                let seq = pass as u64 * 5 + i as u64;
                want.push((pass, *v, t + pass as u64 * p, seq, d.to_string()));
            }
        }
        assert_eq!(got, want);
        let st = l.stats();
        assert_eq!(st[0].lines, 6);
        assert_eq!(st[1].lines, 6);
        assert_eq!(st[0].first_ns, 1000);
        assert_eq!(st[1].last_ns, 5000 + 2 * p);
        assert_eq!(st[0].last_ns, 3000 + 2 * p);
        // one pass is the plain replay
        let mut once = Looped::open(&[file(&a, 0), file(&b, 1)], 1).unwrap();
        let mut n = 0;
        while once.peek().is_some() {
            once.advance(true).unwrap();
            n += 1;
        }
        assert_eq!((n, once.pass(), once.period_ns()), (4, 0, 0));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn cryptofeed_layout_hands_on_received_frames_only() {
        let dir = std::env::temp_dir().join(format!("arbot-cf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("X.ws.1.0");
        std::fs::write(
            &p,
            concat!(
                "wss://ws.okx.com:8443/ws/v5/public <-> 1652459224.5300605\n",
                "wss://ws.okx.com:8443/ws/v5/public <- 1652459225.2987883: {\"op\":\"subscribe\"}\n",
                "1652459225.5037491: {\"event\":\"subscribe\"}\n",
                "\n",
                "1652459225.6: b'{\\x22a\\x22:1}'\n",
                "https://x/y -> 1652459225.7: {\"rest\":1}\n",
                "not a line\n",
                "1652459225.5: pong\n",
            ),
        )
        .unwrap();
        let f = ReplayFile {
            path: p.clone(),
            venue: VenueId(3),
            format: ReplayFormat::Auto,
            instruments: Vec::new(),
        };
        let mut got = Vec::new();
        let stats = for_each_merged(&[f], |v, meta, data| {
            got.push((v, meta.recv_ns, meta.seq, data.to_vec()));
        })
        .unwrap();
        assert_eq!(
            got,
            vec![
                (
                    VenueId(3),
                    1_652_459_225_503_749_100,
                    0,
                    b"{\"event\":\"subscribe\"}".to_vec()
                ),
                (
                    VenueId(3),
                    1_652_459_225_600_000_000,
                    1,
                    b"{\"a\":1}".to_vec()
                ),
                // a line that fits no layout is handed on (the parser counts it), never dropped
                (
                    VenueId(3),
                    1_652_459_225_600_000_000,
                    2,
                    b"not a line".to_vec()
                ),
                (VenueId(3), 1_652_459_225_500_000_000, 3, b"pong".to_vec()),
            ]
        );
        assert_eq!(stats[0].lines, 4);
        assert_eq!(stats[0].skipped, 3, "connect, client frame, REST line");
        assert_eq!(stats[0].bad_timestamps, 1);
        assert_eq!(stats[0].time_steps_back, 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
