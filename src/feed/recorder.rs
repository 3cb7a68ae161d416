//! Raw feed recorder (R1.6): every raw frame a live feed receives, and every REST snapshot it
//! fetches, written to disk in the layout of the shared recordings (hftbacktest's collector
//! format): gzip text, one message per line, `<recv_ns> <raw>`, one file per venue per UTC day,
//! `<dir>/<venue>_<YYYYMMDD>.gz`. `arbot run` in replay mode reads these files back
//! (`[replay] files`), through the same handlers.
//!
//! Shape: each live source is wrapped in a [`RecordingSource`], which copies every message it
//! hands to the feed thread into its own SPSC byte ring (one `memcpy`, no allocation, never
//! blocks: a full ring drops the frame from the recording and counts it, the feed itself loses
//! nothing). One cold thread ([`Recorder::run`]) drains the rings into the files and flushes
//! them (gzip sync flush) every `flush_interval_ns` (≤ 1 s), so `zcat` of a file that is still
//! being written shows everything up to the last flush, and a crash loses at most that much.
//! At the end it finishes each gzip stream. A file that already exists (a restart on the same
//! day) is appended to as a new gzip member; gzip readers (and the replay reader, which uses
//! `MultiGzDecoder`) read the members as one stream.
//!
//! Two details a reader of the files should know:
//! - A REST snapshot is written as its body, like the shared recordings' snapshot lines. When the
//!   venue has more than one instrument, the body may not say which one it is for (Binance
//!   spot and USDⓈ-M snapshots carry no symbol), so the line is then
//!   `<recv_ns> snapshot:<SYMBOL> <body>`; the replay reader understands that prefix. With one
//!   instrument per venue the files are exactly the shared format.
//! - A frame holding a raw line break (JSON allows them only as whitespace) has them written as
//!   spaces, so one message stays one line.

use crate::feed::{tag, FeedSource, SourceEvent, SourceState};
use crate::journal::{LogCode, LogRecord, Severity};
use crate::ring::{byte_channel, ByteConsumer, ByteProducer, Producer, PushError, RawMeta};
use crate::types::{InstrumentId, VenueId};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Counters of one recorded venue: written by its feed thread, read by the recorder thread.
#[derive(Debug, Default)]
pub struct SourceCounters {
    /// Frames handed to the recorder ring.
    pub frames: AtomicU64,
    /// Frames dropped from the recording because the ring was full (the feed kept them).
    pub dropped_ring_full: AtomicU64,
    /// Frames larger than half the ring, not recorded.
    pub dropped_too_large: AtomicU64,
}

/// A live source whose every message is also copied to the recorder.
pub struct RecordingSource {
    inner: Box<dyn FeedSource>,
    tx: ByteProducer,
    counters: Arc<SourceCounters>,
}

impl RecordingSource {
    /// Wrap `inner`; its messages go to `tx` as well as to the feed thread.
    pub fn new(
        inner: Box<dyn FeedSource>,
        tx: ByteProducer,
        counters: Arc<SourceCounters>,
    ) -> RecordingSource {
        RecordingSource {
            inner,
            tx,
            counters,
        }
    }
}

impl FeedSource for RecordingSource {
    fn poll(&mut self, f: &mut dyn FnMut(SourceEvent<'_>)) -> SourceState {
        let (tx, c) = (&mut self.tx, &*self.counters);
        self.inner.poll(&mut |ev| {
            if let SourceEvent::Message(meta, raw) = &ev {
                let n = match tx.push(*meta, raw) {
                    Ok(()) => &c.frames,
                    Err(PushError::Full) => &c.dropped_ring_full,
                    Err(PushError::TooLarge) => &c.dropped_too_large,
                };
                // single writer (this feed thread)
                n.store(n.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            }
            f(ev)
        })
    }

    fn request_snapshot(&mut self, venue: VenueId, instrument: InstrumentId) -> bool {
        self.inner.request_snapshot(venue, instrument)
    }

    fn request_resubscribe(&mut self, venue: VenueId, instrument: InstrumentId) -> bool {
        self.inner.request_resubscribe(venue, instrument)
    }

    fn request_reconnect(&mut self, venue: VenueId) -> bool {
        self.inner.request_reconnect(venue)
    }
}

/// One recorded venue as the recorder thread sees it.
pub struct RecordedVenue {
    /// Venue id.
    pub venue: VenueId,
    /// Venue name (file name prefix).
    pub name: String,
    /// The venue's instruments (engine id, venue symbol); with more than one, snapshot lines
    /// carry `snapshot:<SYMBOL>`.
    pub instruments: Vec<(InstrumentId, String)>,
    /// Ring from the venue's [`RecordingSource`].
    pub rx: ByteConsumer,
    /// Its counters.
    pub counters: Arc<SourceCounters>,
}

/// A new recorder ring and its counters: the producer goes into a [`RecordingSource`], the
/// rest into a [`RecordedVenue`].
pub fn channel(ring_bytes: usize) -> (ByteProducer, ByteConsumer, Arc<SourceCounters>) {
    let (tx, rx) = byte_channel(ring_bytes);
    (tx, rx, Arc::new(SourceCounters::default()))
}

/// Totals of one venue's recording, in `report.json` `recorder.venues`.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct VenueRecording {
    /// Venue name.
    pub venue: String,
    /// Lines written.
    pub lines: u64,
    /// Of which REST snapshots.
    pub snapshots: u64,
    /// Uncompressed bytes written (lines with their time stamps).
    pub bytes: u64,
    /// Frames dropped from the recording: recorder ring full (the feed kept them).
    pub dropped_ring_full: u64,
    /// Frames dropped from the recording: larger than half the ring.
    pub dropped_too_large: u64,
    /// Frames not written because their file could not be opened or written (after the
    /// error, for the rest of that file's day).
    pub not_written: u64,
    /// Files written to, in order (one per UTC day).
    pub files: Vec<String>,
}

/// What the recorder did, in `report.json` `recorder`.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct RecorderSummary {
    /// Directory of the files.
    pub dir: String,
    /// Per venue.
    pub venues: Vec<VenueRecording>,
    /// Write, flush or finish errors (the first stops the recording of that file; each is
    /// logged as an ERROR).
    pub write_errors: u64,
    /// Gzip sync flushes done.
    pub flushes: u64,
}

struct OpenFile {
    day: u64,
    path: PathBuf,
    gz: flate2::write::GzEncoder<std::fs::File>,
    dirty: bool,
    failed: bool,
}

/// The cold recorder thread.
pub struct Recorder {
    /// Output directory (created if missing).
    pub dir: PathBuf,
    /// Gzip sync flush interval, ns (≤ 1 s).
    pub flush_interval_ns: u64,
    /// The venues.
    pub venues: Vec<RecordedVenue>,
    /// Log records to the logger thread.
    pub log: Producer<LogRecord>,
    /// Set when the run ends; the thread then drains the rings and finishes the files.
    pub stop: Arc<AtomicBool>,
}

const NS_PER_DAY: u64 = 86_400_000_000_000;

/// `<dir>/<venue>_<YYYYMMDD>.gz` for the UTC day holding `recv_ns`.
pub fn file_path(dir: &Path, venue: &str, recv_ns: u64) -> PathBuf {
    let (y, m, d) = crate::clock::civil_from_days((recv_ns / NS_PER_DAY) as i64);
    dir.join(format!("{venue}_{y:04}{m:02}{d:02}.gz"))
}

impl Recorder {
    /// Run until `stop` is set and every ring is empty; returns the totals. Errors opening or
    /// writing a file are logged, counted, and stop the recording of that file only.
    pub fn run(self) -> RecorderSummary {
        let Recorder {
            dir,
            flush_interval_ns,
            mut venues,
            mut log,
            stop,
        } = self;
        let log = &mut log;
        let mut sum = RecorderSummary {
            dir: dir.display().to_string(),
            venues: venues
                .iter()
                .map(|v| VenueRecording {
                    venue: v.name.clone(),
                    ..VenueRecording::default()
                })
                .collect(),
            ..RecorderSummary::default()
        };
        if let Err(e) = std::fs::create_dir_all(&dir) {
            error(
                log,
                0,
                &format!("recorder: cannot create {}: {e}", dir.display()),
            );
            sum.write_errors += 1;
        }
        let mut files: Vec<Option<OpenFile>> = venues.iter().map(|_| None).collect();
        let mut line = Vec::with_capacity(1 << 16);
        let interval = std::time::Duration::from_nanos(flush_interval_ns.max(1));
        let mut last_flush = std::time::Instant::now();
        loop {
            // read `stop` before draining: whatever was pushed before it was set is then seen
            let stopping = stop.load(Ordering::Acquire);
            let mut any = false;
            for (i, v) in venues.iter_mut().enumerate() {
                while let Some((meta, raw)) = v.rx.peek() {
                    any = true;
                    line.clear();
                    encode_line(&mut line, meta, raw, &v.instruments);
                    let (venue_id, name) = (v.venue, v.name.as_str());
                    v.rx.advance();
                    let day = meta.recv_ns / NS_PER_DAY;
                    let rec = &mut sum.venues[i];
                    if files[i].as_ref().is_none_or(|f| f.day != day) {
                        if let Some(old) = files[i].take() {
                            finish(log, old, &mut sum.write_errors);
                        }
                        let path = file_path(&dir, name, meta.recv_ns);
                        match open(&path) {
                            Ok(gz) => {
                                // the log line holds 64 bytes: the file name (the directory is in the report)
                                let file = path.file_name().unwrap_or_default().to_string_lossy();
                                let msg = format!("recording to {file}");
                                send(log, venue_id.0, Severity::Info, &msg);
                                rec.files.push(path.display().to_string());
                                files[i] = Some(OpenFile {
                                    day,
                                    path,
                                    gz,
                                    dirty: false,
                                    failed: false,
                                });
                            }
                            Err(e) => {
                                let msg = format!("recorder: cannot open {}: {e}", path.display());
                                error(log, venue_id.0, &msg);
                                sum.write_errors += 1;
                                // a placeholder that records nothing, so the error is not
                                // repeated for every frame of the day
                                if let Ok(gz) = open(Path::new("/dev/null")) {
                                    files[i] = Some(OpenFile {
                                        day,
                                        path,
                                        gz,
                                        dirty: false,
                                        failed: true,
                                    });
                                }
                                rec.not_written += 1;
                                continue;
                            }
                        }
                    }
                    let Some(f) = files[i].as_mut() else {
                        rec.not_written += 1;
                        continue;
                    };
                    if f.failed {
                        rec.not_written += 1;
                        continue;
                    }
                    if let Err(e) = f.gz.write_all(&line) {
                        f.failed = true;
                        rec.not_written += 1;
                        sum.write_errors += 1;
                        let msg = format!("recorder: writing {} failed: {e}", f.path.display());
                        error(log, venue_id.0, &msg);
                        continue;
                    }
                    f.dirty = true;
                    rec.lines += 1;
                    rec.bytes += line.len() as u64;
                    rec.snapshots += u64::from(tag::is_snapshot(meta.tag));
                }
            }
            if last_flush.elapsed() >= interval || stopping {
                for f in files.iter_mut().flatten() {
                    if f.dirty && !f.failed {
                        match f.gz.flush() {
                            Ok(()) => sum.flushes += 1,
                            Err(e) => {
                                f.failed = true;
                                sum.write_errors += 1;
                                let msg =
                                    format!("recorder: flushing {} failed: {e}", f.path.display());
                                error(log, 0, &msg);
                            }
                        }
                        f.dirty = false;
                    }
                }
                last_flush = std::time::Instant::now();
            }
            if stopping && !any {
                break;
            }
            if !any {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        }
        for f in files.into_iter().flatten() {
            finish(log, f, &mut sum.write_errors);
        }
        for (v, rec) in venues.iter().zip(sum.venues.iter_mut()) {
            rec.dropped_ring_full = v.counters.dropped_ring_full.load(Ordering::Relaxed);
            rec.dropped_too_large = v.counters.dropped_too_large.load(Ordering::Relaxed);
            if rec.dropped_ring_full + rec.dropped_too_large > 0 {
                let msg = format!(
                    "recorder: {} frames not recorded ({} ring full, {} too large); the feed \
                     processed them",
                    rec.dropped_ring_full + rec.dropped_too_large,
                    rec.dropped_ring_full,
                    rec.dropped_too_large
                );
                error(log, v.venue.0, &msg);
            }
        }
        sum
    }
}

fn finish(log: &mut Producer<LogRecord>, f: OpenFile, errors: &mut u64) {
    if f.failed {
        return;
    }
    if let Err(e) = f.gz.finish().and_then(|file| file.sync_all()) {
        *errors += 1;
        error(
            log,
            0,
            &format!("recorder: finishing {} failed: {e}", f.path.display()),
        );
    }
}

fn error(log: &mut Producer<LogRecord>, venue: u8, text: &str) {
    send(log, venue, Severity::Error, text);
}

/// One log line through the logger thread's ring (retried briefly if it is full: cold thread).
fn send(log: &mut Producer<LogRecord>, venue: u8, severity: Severity, text: &str) {
    let clock = crate::clock::Clock::get();
    let rec = LogRecord {
        ts_ns: clock.now_ns(),
        severity,
        code: LogCode::Note,
        venue: VenueId(venue),
        ..LogRecord::default()
    }
    .with_text(text.as_bytes());
    let mut r = rec;
    for _ in 0..100 {
        match log.push(r) {
            Ok(()) => return,
            Err(back) => {
                r = back;
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
    }
}

fn open(path: &Path) -> std::io::Result<flate2::write::GzEncoder<std::fs::File>> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    Ok(flate2::write::GzEncoder::new(
        file,
        flate2::Compression::fast(),
    ))
}

/// `<recv_ns> [snapshot:<SYMBOL> ]<raw>\n`, raw line breaks written as spaces.
fn encode_line(
    out: &mut Vec<u8>,
    meta: RawMeta,
    raw: &[u8],
    instruments: &[(InstrumentId, String)],
) {
    out.extend_from_slice(meta.recv_ns.to_string().as_bytes());
    out.push(b' ');
    if instruments.len() > 1 {
        if let Some(id) = tag::instrument(meta.tag) {
            if let Some((_, sym)) = instruments.iter().find(|(i, _)| i.0 == id) {
                out.extend_from_slice(b"snapshot:");
                out.extend_from_slice(sym.as_bytes());
                out.push(b' ');
            }
        }
    }
    out.extend(
        raw.iter()
            .map(|&b| if b == b'\n' || b == b'\r' { b' ' } else { b }),
    );
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_follow_the_utc_day() {
        let d = Path::new("/r");
        // 2024-08-08T23:59:59.999999999Z and the next nanosecond
        let t = 1_723_161_599_999_999_999;
        assert_eq!(
            file_path(d, "binance-spot", t),
            Path::new("/r/binance-spot_20240808.gz")
        );
        assert_eq!(
            file_path(d, "binance-spot", t + 1),
            Path::new("/r/binance-spot_20240809.gz")
        );
    }

    #[test]
    fn lines_keep_one_message_per_line_and_name_ambiguous_snapshots() {
        let meta = |t| RawMeta {
            recv_ns: 7,
            tag: t,
            seq: 0,
        };
        let one = [(InstrumentId(3), "BTCUSDT".to_string())];
        let two = [
            (InstrumentId(3), "BTCUSDT".to_string()),
            (InstrumentId(4), "ETHUSDT".to_string()),
        ];
        let mut l = Vec::new();
        encode_line(
            &mut l,
            meta(tag::make(0, false, tag::NO_INSTRUMENT)),
            b"{\"a\":\n1}",
            &two,
        );
        assert_eq!(l, b"7 {\"a\": 1}\n");
        l.clear();
        encode_line(
            &mut l,
            meta(tag::make(0, true, 4)),
            b"{\"lastUpdateId\":1}",
            &one,
        );
        assert_eq!(
            l, b"7 {\"lastUpdateId\":1}\n",
            "one instrument: the shared format"
        );
        l.clear();
        encode_line(
            &mut l,
            meta(tag::make(0, true, 4)),
            b"{\"lastUpdateId\":1}",
            &two,
        );
        assert_eq!(l, b"7 snapshot:ETHUSDT {\"lastUpdateId\":1}\n");
    }
}
