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

use super::core::{CoreOutput, DetectionCore};
use super::{DetOutput, EngineError, RunResult};
use crate::clock;
use crate::config::Setup;
use crate::event::MdEvent;
use crate::exec::{Executor, FromExec, ToExec};
use crate::feed::{EventSink, VenueCounters, VenueHandler};
use crate::journal::{ColdMsg, LogRecord};
use crate::replay::Merger;
use crate::ring::{channel, Producer};
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

/// Replay `setup`'s files on this thread (plus the cold logger thread) to the end; writes the
/// same files as [`super::run_replay`].
pub fn run_single(setup: &Setup, out_dir: &Path) -> Result<RunResult, EngineError> {
    std::fs::create_dir_all(out_dir)?;
    let t0 = std::time::Instant::now();
    let _ = clock::Clock::get();
    let rp = setup
        .cfg
        .replay
        .as_ref()
        .ok_or_else(|| EngineError::Setup("no [replay] section".into()))?;
    let counters: Vec<Arc<VenueCounters>> = setup
        .venues
        .iter()
        .map(|_| Arc::new(VenueCounters::default()))
        .collect();
    let mut handlers: Vec<Box<dyn VenueHandler>> = setup
        .venues
        .iter()
        .map(|v| setup.handler(v.id, counters[v.id.idx()].clone()))
        .collect::<Result<_, _>>()
        .map_err(EngineError::Setup)?;
    let mut merger = Merger::open(&setup.replay_files)?;
    let progress = Arc::new(Progress::default());
    let done = Arc::new(AtomicBool::new(false));
    let (cold_tx, cold_rx) = channel::<ColdMsg>(1 << 14);
    let (exec_cold_tx, exec_cold_rx) = channel::<ColdMsg>(1 << 12);
    let (mut log_tx, log_rx) = channel::<LogRecord>(1 << 12);
    let run = &setup.cfg.run;
    let (lmax, lkeep, sint) = (run.log_max_bytes, run.log_keep, run.stats_interval_ns);
    let names = crate::logger::Names::new(setup);
    let out_dir_owned = out_dir.to_path_buf();
    let linputs = crate::logger::LoggerInputs {
        feed_logs: vec![log_rx],
        cold: vec![cold_rx, exec_cold_rx],
        counters: counters.clone(),
        progress: progress.clone(),
        done: done.clone(),
    };
    let logger = std::thread::Builder::new()
        .name("arbot-logger".into())
        .spawn(move || crate::logger::run(names, &out_dir_owned, lmax, lkeep, sint, linputs))?;

    let mut core = DetectionCore::new(setup);
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
    let clock = clock::Clock::get();
    let limit = rp.max_messages;
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
            let Some(h) = handlers.get_mut(venue.idx()) else {
                merger.advance(true)?;
                continue;
            };
            events.clear();
            {
                let mut sink = EventSink::to_vec(&mut events).with_log(&mut log_tx);
                sink.begin(venue, &meta, clock.raw());
                VenueCounters::inc(&h.counters().messages);
                h.on_message(payload, &meta, &mut sink);
                sink.end();
                VenueCounters::add(&h.counters().events, sink.events);
            }
            // a replay cannot fetch snapshots: the recording holds them
            h.snapshot_wanted(&mut |_| {});
            for ev in &events {
                core.on_event(ev, clock.raw(), &mut out);
            }
            execute_with(
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
        Ok(())
    })();
    crate::alloc_probe::leave_hot();
    let files = merger.stats();
    ex.handle(ToExec::Shutdown, &mut |_| {}, &mut |_| {});
    drop(out.cold);
    drop(exec_out.cold);
    done.store(true, Ordering::Release);
    let logger = logger
        .join()
        .map_err(|_| EngineError::Panic("logger".into()))??;
    result?;
    let DetectionCore {
        market,
        spatial,
        premium,
        strategies,
        risk,
        sim,
        lat,
        trades,
        pnl,
        signal_status,
        messages,
        opps_overflow,
        ..
    } = core;
    Ok(RunResult {
        det: DetOutput {
            sim,
            market,
            spatial,
            risk,
            lat,
            messages,
            signal_status,
            trades,
            merge_skips: 0,
            journal_dropped: 0,
            exec_ring_full: 0,
            resync_dropped: 0,
            opps_overflow,
            premium,
            pnl,
            strategies: strategies.finish(),
        },
        exec: ex,
        counters,
        files,
        logger,
        wall_ns: t0.elapsed().as_nanos() as u64,
        pinned: vec![("single".into(), None, false)],
        net: Vec::new(),
        stopped_by_signal: false,
        reconciliation: Vec::new(),
    })
}
