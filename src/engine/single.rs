//! Single-thread replay: the same venue handlers, [`DetectionCore`], risk gate, fill simulator
//! and execution step (order encoding and signing included) as the threaded replay, driven on
//! the calling thread with no rings between them. Journals still go to the cold logger thread
//! (so files are written the same way), and a full journal ring is waited on rather than
//! dropped: a backtest must lose nothing.
//!
//! Order of work per message is the threaded replay's, so the journals and the report are the
//! same (latency figures aside): before a message is applied, every simulated order arriving
//! before its receive time is filled (and the execution step's answers, unwinds included, are
//! applied); then the message's events go through the core; then the intents it produced are
//! executed.
#![forbid(unsafe_code)]

use super::core::{Boundary, CoreOutput, DetectionCore};
use super::{DetOutput, EngineError, LoopCounters, RunResult};
use crate::clock;
use crate::config::Setup;
use crate::event::MdEvent;
use crate::exec::{Executor, FromExec, ToExec};
use crate::feed::{EventSink, VenueCounters, VenueHandler};
use crate::journal::{ColdMsg, LogRecord};
use crate::replay::{LoopSummary, Looped, MergedSource, Merger};
use crate::ring::{channel, Producer, RawMeta};
use crate::stats::Progress;
use crate::types::{InstrumentId, VenueId};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Outputs of the core and of the execution step, on one thread.
struct SingleOut {
    staged: Vec<ToExec>,
    cold: Producer<ColdMsg>,
    /// Times the journal ring was full and this thread waited for the logger.
    cold_waits: u64,
    /// Checksum resyncs asked for: a replay cannot resubscribe (the recording is what it is),
    /// so the book stays invalid until the recording's next snapshot; counted.
    resyncs_asked: u64,
}

impl SingleOut {
    fn push_cold(&mut self, m: ColdMsg) {
        let mut m = m;
        loop {
            match self.cold.push(m) {
                Ok(()) => return,
                Err(back) => {
                    m = back;
                    self.cold_waits += 1;
                    std::thread::yield_now();
                }
            }
        }
    }
}

impl CoreOutput for SingleOut {
    fn to_exec(&mut self, m: ToExec) {
        self.staged.push(m);
    }
    fn cold(&mut self, m: ColdMsg) {
        self.push_cold(m);
    }
    fn resync(&mut self, _venue: VenueId, _instrument: InstrumentId) {
        self.resyncs_asked += 1;
    }
}

/// Execute everything the core staged; the execution step's answers go back to the core
/// (orders for the simulated venue, finished trades), its journal records to its cold ring.
fn execute_with(
    core: &mut DetectionCore,
    ex: &mut Executor,
    out: &mut SingleOut,
    exec_out: &mut SingleOut,
    back: &mut Vec<FromExec>,
    batch: &mut Vec<ToExec>,
) {
    // the core may stage more while it takes execution's answers (unwind approvals): run
    // until nothing is staged
    while !out.staged.is_empty() {
        std::mem::swap(&mut out.staged, batch);
        for m in batch.drain(..) {
            ex.handle(m, &mut |f| back.push(f), &mut |c| exec_out.push_cold(c));
            for f in back.drain(..) {
                core.on_exec(f, out);
            }
        }
    }
}

/// Hand the events the handlers wrote into `sink` to the core, then execute what it staged.
#[allow(clippy::too_many_arguments)]
fn apply(
    clock: &clock::Clock,
    sink: &mut EventSink<'_>,
    core: &mut DetectionCore,
    ex: &mut Executor,
    out: &mut SingleOut,
    exec_out: &mut SingleOut,
    back: &mut Vec<FromExec>,
    batch: &mut Vec<ToExec>,
) {
    if let Some(events) = sink.vec_mut() {
        for ev in events.iter() {
            core.on_event(ev, clock.raw(), out);
        }
        events.clear();
    }
    execute_with(core, ex, out, exec_out, back, batch);
}

/// Replay `setup`'s files on this thread (plus the cold logger thread) to the end; writes the
/// same files as [`super::run_replay`].
pub fn run_single(setup: &Setup, out_dir: &Path) -> Result<RunResult, EngineError> {
    let loops = setup.cfg.replay.as_ref().map_or(1, |r| r.loops);
    if loops > 1 {
        let mut r = run_single_from(setup, out_dir, Looped::open(&setup.replay_files, loops)?)?;
        if let Some(l) = r.loops.as_mut() {
            l.passes_asked = loops;
        }
        return Ok(r);
    }
    let merger = Merger::open(&setup.replay_files)?;
    run_single_from(setup, out_dir, merger)
}

/// [`run_single`] over messages from `merger` instead of `setup`'s files (e.g. a
/// [`crate::replay::MemoryReplay`] of them, for a benchmark without I/O); the venues of its
/// messages index `setup.venues`.
pub fn run_single_from<S: MergedSource>(
    setup: &Setup,
    out_dir: &Path,
    mut merger: S,
) -> Result<RunResult, EngineError> {
    std::fs::create_dir_all(out_dir)?;
    let mut prepared = crate::resume::prepare(setup, out_dir)?;
    let t0 = std::time::Instant::now();
    let _ = clock::Clock::get();
    let rp = setup
        .cfg
        .replay
        .as_ref()
        .ok_or_else(|| EngineError::Setup("no [replay] section".into()))?;
    let counters: Vec<Arc<VenueCounters>> = super::new_counters(setup);
    let mut handlers: Vec<Box<dyn VenueHandler>> = setup
        .venues
        .iter()
        .map(|v| setup.handler(v.id, counters[v.id.idx()].clone()))
        .collect::<Result<_, _>>()
        .map_err(EngineError::Setup)?;
    let progress = Arc::new(Progress::default());
    let done = Arc::new(AtomicBool::new(false));
    let (cold_tx, cold_rx) = channel::<ColdMsg>(1 << 14);
    let (exec_cold_tx, exec_cold_rx) = channel::<ColdMsg>(1 << 12);
    let (mut log_tx, log_rx) = channel::<LogRecord>(1 << 12);
    let run = &setup.cfg.run;
    let (lmax, lkeep, sint) = (run.log_max_bytes, run.log_keep, run.stats_interval_ns);
    let names = crate::logger::Names::new(setup).with_bad_data(setup, counters.clone());
    let out_dir_owned = out_dir.to_path_buf();
    let (ctl, watcher) = crate::control::start(crate::control::kill_file(
        &setup.cfg.run.kill_switch_file,
        out_dir,
    ))?;
    let mismatch = Arc::new(std::sync::Mutex::new(None));
    let linputs = crate::logger::LoggerInputs {
        feed_logs: vec![log_rx],
        cold: vec![cold_rx, exec_cold_rx],
        counters: counters.clone(),
        progress: progress.clone(),
        done: done.clone(),
        journals: std::mem::take(&mut prepared.journals),
        abort: ctl.abort.clone(),
        mismatch: mismatch.clone(),
        rebalance: crate::rebalance::Planner::new(setup),
        reconcile: None,
    };
    let resume_info = std::mem::take(&mut prepared.info);
    let logger = std::thread::Builder::new()
        .name("arbot-logger".into())
        .spawn(move || crate::logger::run(names, &out_dir_owned, lmax, lkeep, sint, linputs))?;

    let mut core = DetectionCore::new(setup);
    prepared.install(&mut core);
    let mut ex = Executor::new(setup);
    let mut out = SingleOut {
        staged: Vec::with_capacity(256),
        cold: cold_tx,
        cold_waits: 0,
        resyncs_asked: 0,
    };
    // the execution step's journal records share the detection ring's logger but keep their
    // own ring, as in the threaded engine (trades.jsonl comes from it)
    let mut exec_out = SingleOut {
        staged: Vec::new(),
        cold: exec_cold_tx,
        cold_waits: 0,
        resyncs_asked: 0,
    };
    let mut back: Vec<FromExec> = Vec::with_capacity(64);
    let mut batch: Vec<ToExec> = Vec::with_capacity(256);
    let mut events: Vec<MdEvent> = Vec::with_capacity(1 << 16);
    // one sink for the run (building one per message cleared its 5 KB stage every message)
    let mut sink = EventSink::to_vec(&mut events).with_log(&mut log_tx);
    let clock = clock::Clock::get();
    let limit = rp.max_messages;
    if core.catch_up.is_some() {
        ex.handle(ToExec::CatchUp(true), &mut |_| {}, &mut |c| {
            exec_out.push_cold(c)
        });
    }
    let mut stop_cause = None;
    let mut halted = None;
    // the pass over the recording (a looped replay's soak): a new pass restarts the data
    let mut pass = 0u32;
    crate::alloc_probe::enter_hot();
    let result = (|| -> Result<(), EngineError> {
        while let Some((venue, meta, payload)) = merger.peek() {
            if limit > 0 && meta.seq >= limit {
                break;
            }
            // simulated orders that reach their venue before this message
            while let Some(t) = core.next_due() {
                if t >= meta.recv_ns {
                    break;
                }
                core.fire_due(t + 1, &mut out);
                execute_with(
                    &mut core,
                    &mut ex,
                    &mut out,
                    &mut exec_out,
                    &mut back,
                    &mut batch,
                );
            }
            // a message boundary: stop requests, journal cuts, a resume's catch-up end
            let b = core.at_boundary(true, &ctl, &mut out);
            execute_with(
                &mut core,
                &mut ex,
                &mut out,
                &mut exec_out,
                &mut back,
                &mut batch,
            );
            match b {
                Boundary::Continue => {}
                Boundary::Stop(c) => {
                    stop_cause = Some(c);
                    break;
                }
                Boundary::Halt(c) => {
                    halted = Some(c);
                    break;
                }
                Boundary::Abort => break,
            }
            if merger.pass() != pass {
                // the data starts over: every book resyncs from the recording's own
                // snapshots, as after a reconnect (the update ids start over too)
                pass = merger.pass();
                let at = RawMeta {
                    recv_ns: meta.recv_ns,
                    seq: meta.seq.saturating_sub(1),
                    ..RawMeta::default()
                };
                for (v, h) in setup.venues.iter().zip(handlers.iter_mut()) {
                    sink.begin(v.id, &at, clock.raw());
                    h.on_disconnect(&mut sink);
                    sink.end();
                }
                apply(
                    clock,
                    &mut sink,
                    &mut core,
                    &mut ex,
                    &mut out,
                    &mut exec_out,
                    &mut back,
                    &mut batch,
                );
            }
            let Some(h) = handlers.get_mut(venue.idx()) else {
                merger.advance(true)?;
                continue;
            };
            let events_before = sink.events;
            sink.begin(venue, &meta, clock.raw());
            VenueCounters::inc(&h.counters().messages);
            h.on_message(payload, &meta, &mut sink);
            sink.end();
            VenueCounters::add(&h.counters().events, sink.events - events_before);
            // a replay cannot fetch snapshots: the recording holds them
            h.snapshot_wanted(&mut |_| {});
            apply(
                clock,
                &mut sink,
                &mut core,
                &mut ex,
                &mut out,
                &mut exec_out,
                &mut back,
                &mut batch,
            );
            Progress::set(&progress.messages, core.messages);
            Progress::set(&progress.data_ns, core.market.now_ns);
            merger.advance(true)?;
        }
        let early =
            stop_cause.is_some() || halted.is_some() || core.diverged.is_some() || ctl.aborted();
        if let Some(c) = stop_cause {
            core.stop(c, &mut out);
            execute_with(
                &mut core,
                &mut ex,
                &mut out,
                &mut exec_out,
                &mut back,
                &mut batch,
            );
        }
        // data ended: orders still travelling find no more data
        while core.sim.pending() > 0 {
            core.end_of_data(&mut out);
            execute_with(
                &mut core,
                &mut ex,
                &mut out,
                &mut exec_out,
                &mut back,
                &mut batch,
            );
        }
        if halted.is_none() && core.diverged.is_none() && !ctl.aborted() {
            core.finish(!early, &mut out);
            execute_with(
                &mut core,
                &mut ex,
                &mut out,
                &mut exec_out,
                &mut back,
                &mut batch,
            );
        }
        Ok(())
    })();
    crate::alloc_probe::leave_hot();
    let files = merger.stats();
    let loops = (merger.pass() > 0).then(|| LoopSummary {
        passes_played: merger.pass() + 1,
        passes_asked: 0,
        period_ns: merger.period_ns(),
    });
    ex.handle(ToExec::Shutdown, &mut |_| {}, &mut |_| {});
    drop(out.cold);
    drop(exec_out.cold);
    done.store(true, Ordering::Release);
    let logger = logger
        .join()
        .map_err(|_| EngineError::Panic("logger".into()))??;
    watcher.finish();
    result?;
    let mut r = super::finish_run(
        DetOutput::from_core(core, &LoopCounters::default(), halted),
        ex,
        counters,
        files,
        logger,
        t0,
        vec![("single".into(), None, false)],
        resume_info,
        &mismatch,
    )?;
    r.loops = loops;
    Ok(r)
}
