//! Operator control of a run (R4.5, R6.7): the kill switch and a clean stop.
//!
//! - **Kill switch**: the file `run.kill_switch_file` appearing (checked every 100 ms by a cold
//!   thread with one `stat`), or SIGUSR1.
//! - **Clean stop**: SIGTERM or SIGINT (a second one exits at once with status 1), or
//!   `run.max_runtime_ns` in paper mode.
//!
//! Either way the flags below are set from outside the hot path (signal handlers, the cold
//! thread); the detection thread reads them with one relaxed atomic load per message (and
//! while idle) and then stops at the next message boundary: every open order is cancelled
//! through the execution step, nothing new is sent (unwinds included), the trades in flight
//! finish, the journals are flushed and the report is written. A kill is recorded as a breaker
//! transition to `stopped` (cause `kill_switch_file` / `kill_signal`), a clean stop as cause
//! `terminate` / `runtime_limit`.
#![forbid(unsafe_code)]

use crate::risk::limits::Cause;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Stop requests, set from outside the hot path.
#[derive(Debug, Default)]
pub struct Control {
    /// The kill-switch file appeared.
    pub kill_file: Arc<AtomicBool>,
    /// SIGUSR1.
    pub kill_signal: Arc<AtomicBool>,
    /// SIGTERM / SIGINT.
    pub terminate: Arc<AtomicBool>,
    /// `run.max_runtime_ns` passed (paper).
    pub runtime: Arc<AtomicBool>,
    /// A resumed replay's journals disagree with it (set by the cold thread): end with an
    /// error.
    pub abort: Arc<AtomicBool>,
    /// Venues to stop trading on (R5.1: the live reconciliation found their balances differ
    /// from the engine's beyond the tolerance), as a bit per venue index (at most 64 venues).
    pub venue_halt: std::sync::atomic::AtomicU64,
}

impl Control {
    /// The cold thread found the journals disagree with a resumed replay.
    #[inline]
    pub fn aborted(&self) -> bool {
        self.abort.load(Ordering::Relaxed)
    }

    /// Stop trading on venue `v` (cold threads call this; the detection thread applies it at
    /// its next message boundary). Venues beyond index 63 cannot be halted and return false.
    pub fn halt_venue(&self, v: usize) -> bool {
        if v >= 64 {
            return false;
        }
        self.venue_halt.fetch_or(1u64 << v, Ordering::Relaxed);
        true
    }

    /// The venues to stop trading on, as a bit per venue index (one relaxed load).
    #[inline]
    pub fn halted_venues(&self) -> u64 {
        self.venue_halt.load(Ordering::Relaxed)
    }

    /// The stop asked for, if any (a kill before a clean stop).
    #[inline]
    pub fn requested(&self) -> Option<Cause> {
        if self.kill_file.load(Ordering::Relaxed) {
            Some(Cause::KillSwitchFile)
        } else if self.kill_signal.load(Ordering::Relaxed) {
            Some(Cause::KillSignal)
        } else if self.terminate.load(Ordering::Relaxed) {
            Some(Cause::Terminate)
        } else if self.runtime.load(Ordering::Relaxed) {
            Some(Cause::RuntimeLimit)
        } else {
            None
        }
    }
}

/// The kill-switch file of a run: `run.kill_switch_file` inside `out_dir` unless absolute;
/// `None` when the setting is empty.
pub fn kill_file(setting: &Path, out_dir: &Path) -> Option<PathBuf> {
    if setting.as_os_str().is_empty() {
        None
    } else if setting.is_absolute() {
        Some(setting.to_path_buf())
    } else {
        Some(out_dir.join(setting))
    }
}

/// The cold thread watching the kill-switch file.
pub struct Watcher {
    done: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Watcher {
    /// Stop watching.
    pub fn finish(mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            // wake it from its 100 ms wait (a sleep held every run's end up by up to 100 ms)
            h.thread().unpark();
            let _ = h.join();
        }
    }
}

/// Register the signal handlers (SIGUSR1, SIGTERM, SIGINT) and start the file watcher.
pub fn start(kill_file: Option<PathBuf>) -> std::io::Result<(Arc<Control>, Watcher)> {
    use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1};
    let c = Arc::new(Control::default());
    signal_hook::flag::register(SIGUSR1, c.kill_signal.clone())?;
    for sig in [SIGTERM, SIGINT] {
        // a second SIGTERM/SIGINT while the first one's stop is under way exits at once
        signal_hook::flag::register_conditional_shutdown(sig, 1, c.terminate.clone())?;
        signal_hook::flag::register(sig, c.terminate.clone())?;
    }
    let done = Arc::new(AtomicBool::new(false));
    let handle = match kill_file {
        None => None,
        Some(p) => {
            // a file already there stops the run before its first message, whatever the
            // watcher's timing
            if p.exists() {
                c.kill_file.store(true, Ordering::Relaxed);
            }
            let (flag, done2) = (c.kill_file.clone(), done.clone());
            Some(
                std::thread::Builder::new()
                    .name("arbot-control".into())
                    .spawn(move || {
                        while !done2.load(Ordering::Relaxed) {
                            if p.exists() {
                                flag.store(true, Ordering::Relaxed);
                            }
                            // woken early by `Watcher::finish`
                            std::thread::park_timeout(std::time::Duration::from_millis(100));
                        }
                    })?,
            )
        }
    };
    Ok((c, Watcher { done, handle }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_file_paths() {
        let out = Path::new("/tmp/out");
        assert_eq!(kill_file(Path::new(""), out), None);
        assert_eq!(
            kill_file(Path::new("KILL"), out),
            Some(PathBuf::from("/tmp/out/KILL"))
        );
        assert_eq!(
            kill_file(Path::new("/run/arbot.kill"), out),
            Some(PathBuf::from("/run/arbot.kill"))
        );
    }

    #[test]
    fn a_kill_comes_before_a_clean_stop() {
        let c = Control::default();
        assert_eq!(c.requested(), None);
        c.terminate.store(true, Ordering::Relaxed);
        assert_eq!(c.requested(), Some(Cause::Terminate));
        c.kill_file.store(true, Ordering::Relaxed);
        assert_eq!(c.requested(), Some(Cause::KillSwitchFile));
    }
}
