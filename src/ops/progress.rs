//! The progress line of a replay (`indicatif`, on stderr, only when stderr is a terminal):
//! messages applied (of the total), data time, messages per second and the ETA. Drawn by the
//! cold logger thread from detection's progress atomics, about five times a second.
//!
//! The total is `replay.max_messages` when set, else the line count of the replay files,
//! counted by a thread of its own while the replay runs (until it is known the line shows no
//! ETA). Nothing is drawn when stderr is not a terminal (a service, a pipe, CI).
#![forbid(unsafe_code)]

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The line and the total being counted.
pub struct ProgressLine {
    bar: ProgressBar,
    total: Arc<AtomicU64>,
    has_len: bool,
    last: Option<std::time::Instant>,
    started: std::time::Instant,
}

/// Lines of `files` (gzip by the `.gz` name), 0 if one cannot be read.
pub fn count_lines(files: &[PathBuf]) -> u64 {
    let mut n = 0u64;
    for p in files {
        let Ok(f) = std::fs::File::open(p) else {
            return 0;
        };
        let r: Box<dyn std::io::Read> = if p.extension().is_some_and(|e| e == "gz") {
            Box::new(flate2::read::MultiGzDecoder::new(f))
        } else {
            Box::new(f)
        };
        let mut r = std::io::BufReader::with_capacity(1 << 16, r);
        loop {
            let buf = match r.fill_buf() {
                Ok(b) if !b.is_empty() => b,
                Ok(_) => break,
                Err(_) => return 0,
            };
            n += buf.iter().filter(|&&c| c == b'\n').count() as u64;
            let k = buf.len();
            r.consume(k);
        }
    }
    n
}

impl ProgressLine {
    /// A progress line for a replay of `files` played `loops` times (at most `max_messages`,
    /// 0 = all), or `None` when stderr is not a terminal.
    pub fn start(files: Vec<PathBuf>, max_messages: u64, loops: u32) -> Option<ProgressLine> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let total = Arc::new(AtomicU64::new(max_messages));
        if max_messages == 0 {
            let t = total.clone();
            let _ = std::thread::Builder::new()
                .name("arbot-progress-count".into())
                .spawn(move || {
                    t.store(
                        count_lines(&files).saturating_mul(loops.max(1) as u64),
                        Ordering::Relaxed,
                    )
                });
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(5));
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} replay {human_pos} msgs  {msg}  (counting the total for the ETA)",
            )
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        Some(ProgressLine {
            bar,
            total,
            has_len: false,
            last: None,
            started: std::time::Instant::now(),
        })
    }

    /// Update from detection's progress (`messages` applied, `data_ns` data time).
    pub fn tick(&mut self, messages: u64, data_ns: u64) {
        if self.last.is_some_and(|t| t.elapsed().as_millis() < 200) {
            return;
        }
        self.last = Some(std::time::Instant::now());
        let total = self.total.load(Ordering::Relaxed);
        if total > 0 && !self.has_len {
            self.has_len = true;
            self.bar.set_length(total);
            self.bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} replay [{bar:30}] {human_pos}/{human_len} msgs  {msg}  ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
        }
        self.bar.set_position(messages);
        let rate = messages as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
        let data = if data_ns > 0 {
            crate::logger::iso_ns(data_ns)[..19].replace('T', " ")
        } else {
            "-".into()
        };
        self.bar
            .set_message(format!("data {data} UTC  {:.0} msgs/s", rate));
    }

    /// The run ended: clear the line (the summary follows on stdout).
    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}
