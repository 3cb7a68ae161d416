//! Wires one run: rings, the replay reader, feed threads, the detection thread (which drives
//! [`core::DetectionCore`]: books, detection, risk gate, fill simulator), the execution thread
//! and the cold thread; joins them and gathers what the report needs. [`run_replay`] feeds
//! recorded files through replay rings; [`run_paper`] feeds live WebSocket connections
//! ([`crate::feed::ws_source`]); both share the same threads. [`single::run_single`] drives
//! the same core and execution step on one thread (replay only). [`run`] picks by the config.
//!
//! Paper mode processes messages in arrival order (detection's `ordered = false`); the fill
//! simulator fills an order before the first message received after its arrival (data time,
//! as in replay), or, when no message comes, once the wall clock is
//! [`PAPER_FILL_SLACK_NS`] past its arrival.
//!
//! Determinism in replay: the detection thread consumes messages in the reader's merge order
//! (each event carries its message index), whatever the feed threads' timing, and it lets
//! data time pass a simulated order's arrival only after the execution thread has answered
//! everything it was sent. Two runs on the same data give the same signals and trades.
#![forbid(unsafe_code)]

pub mod core;
pub mod live;
pub mod single;

/// Paper mode: with no message waiting, a simulated order is filled once the wall clock is
/// this far past its arrival at the venue (plus feed latency). Any message received before
/// the arrival has left the feed thread by then, so the order meets the same books as in a
/// replay of the session's recording (R1.6), where it fills before the first later message.
pub const PAPER_FILL_SLACK_NS: u64 = 5_000_000;

use self::core::{Boundary, CoreOutput, DetectionCore};
use crate::book::Market;
use crate::clock;
use crate::config::Setup;
use crate::control::Control;
use crate::detect::spatial::Spatial;
use crate::event::{MdEvent, MdKind};
use crate::exec::{self, Executor, FromExec, ToExec};
use crate::feed::recorder;
use crate::feed::replay_source::ReplaySource;
use crate::feed::ws_source::{NetReport, NetStats, WsSource, WsSourceConfig};
use crate::feed::{FeedSource, FeedThread, VenueCounters};
use crate::journal::{ColdMsg, LogRecord};
use crate::net::snapshot::SnapshotRequest;
use crate::replay::{FileStats, ReplayReader};
use crate::ring::{byte_channel, channel, Consumer, Producer};
use crate::risk::RiskGate;
use crate::stats::{Latency, Progress};
use crate::types::{InstrumentId, VenueId};
use crate::wait::Waiter;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Latencies measured on the detection thread.
#[derive(Clone, Debug, Default)]
pub struct DetLatency {
    /// Hand-off to the feed code → event pushed (parse + sync), per message.
    pub feed: Latency,
    /// Event pushed → dequeued by detection (ring hop + queueing), per message.
    pub md_queue: Latency,
    /// Hand-off → detection finished evaluating the message (messages that moved a book).
    pub tick_to_detect: Latency,
    /// Hand-off → opportunity exists.
    pub tick_to_signal: Latency,
    /// `tick_to_signal` split, for the messages that produced a signal (first signal of the
    /// message): hand-off → first event pushed (parse + sync) ...
    pub signal_parse: Latency,
    /// ... first event pushed → dequeued by detection (ring hop, wake-up, waiting) ...
    pub signal_queue: Latency,
    /// ... dequeued → signal created (book updates + detection).
    pub signal_detect: Latency,
}

/// What the detection thread hands back.
pub struct DetOutput {
    /// Books and their health.
    pub market: Market,
    /// Detector with pair statistics.
    pub spatial: Spatial,
    /// Risk state at the end.
    pub risk: RiskGate,
    /// The fill simulator (its counters and own-liquidity record).
    pub sim: crate::exec::sim::FillSim,
    /// Latencies.
    pub lat: DetLatency,
    /// Messages applied.
    pub messages: u64,
    /// Signals by status.
    pub signal_status: [u64; core::SIGNAL_STATUSES],
    /// Totals of finished trades.
    pub trades: TradeTotals,
    /// Times the merge found no ring holding the next message index although all had data
    /// (would mean a lost message; resolved by skipping to the smallest index, and logged).
    pub merge_skips: u64,
    /// Journal records dropped because the cold ring was full.
    pub journal_dropped: u64,
    /// Times the execution ring was full.
    pub exec_ring_full: u64,
    /// Korean premium monitor (R2.4), if configured.
    pub premium: Option<crate::detect::premium::Premium>,
    /// Checksum resync requests that could not be handed to a feed thread (counted, logged).
    pub resync_dropped: u64,
    /// Messages with more opportunities than the per-message buffer holds.
    pub opps_overflow: u64,
    /// Cash flows and inventory of every fill (mark to market at the report).
    pub pnl: crate::pnl::PnlBook,
    /// Per signal status: data time and message index of its first signal.
    pub signal_first: [(u64, u64); core::SIGNAL_STATUSES],
    /// The run was stopped (kill switch, SIGTERM, runtime limit) and why.
    pub stopped: Option<crate::risk::limits::Cause>,
    /// A stop asked for during a resumed replay's catch-up ended the run there.
    pub halted: Option<crate::risk::limits::Cause>,
    /// A resumed replay disagreed with its journals.
    pub diverged: Option<core::Divergence>,
    /// Journal checkpoints sent.
    pub checkpoints: u64,
    /// Triangles (R2.2) and the statistical pair (R2.3), with their statistics.
    pub strategies: crate::detect::Strategies,
}

impl DetOutput {
    pub(crate) fn from_core(
        core: DetectionCore,
        lc: &LoopCounters,
        halted: Option<crate::risk::limits::Cause>,
    ) -> DetOutput {
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
            signal_first,
            stopped,
            diverged,
            checkpoints,
            ..
        } = core;
        DetOutput {
            sim,
            market,
            spatial,
            risk,
            lat,
            messages,
            signal_status,
            trades,
            merge_skips: lc.merge_skips,
            journal_dropped: lc.journal_dropped,
            exec_ring_full: lc.exec_ring_full,
            resync_dropped: lc.resync_dropped,
            opps_overflow,
            premium,
            pnl,
            signal_first,
            stopped,
            halted,
            diverged,
            checkpoints,
            strategies: strategies.finish(),
        }
    }
}

/// Everything a run produced.
pub struct RunResult {
    /// Detection side.
    pub det: DetOutput,
    /// Execution side.
    pub exec: Executor,
    /// Per-venue feed counters.
    pub counters: Vec<Arc<VenueCounters>>,
    /// Replay file stats.
    pub files: Vec<FileStats>,
    /// Cold thread stats.
    pub logger: crate::logger::LoggerStats,
    /// Wall time of the run, ns.
    pub wall_ns: u64,
    /// Threads that got the core they asked for.
    pub pinned: Vec<(String, Option<usize>, bool)>,
    /// Per venue (by id): live-connection figures (paper/live; empty in replay).
    pub net: Vec<VenueNet>,
    /// The run was stopped by SIGINT/SIGTERM.
    pub stopped_by_signal: bool,
    /// What a resume found and did (`resumed: false` for a fresh run).
    pub resume: crate::resume::ResumeInfo,
    /// Live mode: the venues' balances and positions at the end against the engine's.
    pub reconciliation: Option<live::Reconciliation>,
    /// Paper/live with `[recorder]`: what was recorded (R1.6).
    pub recorder: Option<recorder::RecorderSummary>,
    /// A looped replay (`replay.loops` > 1): the passes it played.
    pub loops: Option<crate::replay::LoopSummary>,
}

/// A run failed to start or a thread failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Replay input.
    #[error(transparent)]
    Replay(#[from] crate::replay::ReplayError),
    /// Output files.
    #[error("output: {0}")]
    Io(#[from] std::io::Error),
    /// Setup.
    #[error("{0}")]
    Setup(String),
    /// A thread panicked.
    #[error("thread {0} panicked")]
    Panic(String),
    /// The output directory's journals cannot be continued.
    #[error(transparent)]
    Resume(#[from] crate::resume::ResumeError),
    /// A journal could not be kept: a resumed replay disagreed with it, or the OS refused a
    /// write (disk full). The message says which.
    #[error("{0}")]
    JournalMismatch(String),
}

/// Totals over finished trades (amounts in 1e-8 USD-equivalent quote units).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TradeTotals {
    /// Trades sent to execution and finished.
    pub attempted: u64,
    /// Both legs filled in full.
    pub filled: u64,
    /// Both legs filled the same, smaller amount.
    pub partial: u64,
    /// One leg filled more than the other (unwound or held).
    pub one_leg: u64,
    /// Nothing filled.
    pub missed: u64,
    /// Trades with net PnL > 0.
    pub winners: u64,
    /// Σ gross PnL.
    pub gross_pnl_usd: i64,
    /// Σ fees.
    pub fees_usd: i64,
    /// Σ net PnL.
    pub net_pnl_usd: i64,
    /// Σ traded notional (all legs).
    pub volume_usd: i64,
    /// Σ |residual base| left after trades (1e-8 base units).
    pub residual_base_abs: i64,
}

impl TradeTotals {
    /// Add one finished trade.
    pub fn add(&mut self, t: &crate::journal::TradeRecord) {
        use crate::journal::TradeStatus::*;
        self.attempted += 1;
        match t.status {
            Filled => self.filled += 1,
            Partial => self.partial += 1,
            OneLeg => self.one_leg += 1,
            Missed => self.missed += 1,
        }
        if t.net_pnl_usd.0 > 0 {
            self.winners += 1;
        }
        self.gross_pnl_usd += t.gross_pnl_usd.0;
        self.fees_usd += t.fees_usd.0;
        self.net_pnl_usd += t.net_pnl_usd.0;
        self.volume_usd += t.volume_usd.0;
        self.residual_base_abs += t.residual_base.0.abs();
    }
}

struct DetIo {
    md: Vec<Consumer<MdEvent>>,
    /// Resync requests to each feed thread, and venue index → feed thread (every venue is on
    /// exactly one feed thread: checked at config load).
    control: Vec<Producer<crate::feed::ResyncRequest>>,
    venue_feed: Vec<usize>,
    to_exec: Producer<ToExec>,
    from_exec: Consumer<FromExec>,
    cold: Producer<ColdMsg>,
    progress: Arc<Progress>,
    /// Stop requests (kill switch, signals) and the cold thread's abort.
    ctl: Arc<Control>,
    /// Set by detection when it stops early: the replay reader and the feeds end.
    stop: Arc<AtomicBool>,
    /// A resume's part for the core.
    resume: crate::resume::Prepared,
}

/// The detection thread's [`CoreOutput`]: execution messages are staged and pushed after the
/// core returns (so a full ring can be waited on while the core answers execution), journal
/// records go straight to the cold ring (a full ring drops and counts), resync requests to
/// the venue's feed thread.
struct ThreadOut<'a> {
    staged: &'a mut Vec<ToExec>,
    cold: &'a mut Producer<ColdMsg>,
    control: &'a mut [Producer<crate::feed::ResyncRequest>],
    venue_feed: &'a [usize],
    journal_dropped: &'a mut u64,
    resync_dropped: &'a mut u64,
}

impl CoreOutput for ThreadOut<'_> {
    #[inline]
    fn to_exec(&mut self, m: ToExec) {
        // capacity reserved at start: intents ≤ max_in_flight per message, fills ≤ 3 per slot
        self.staged.push(m);
    }
    #[inline]
    fn cold(&mut self, m: ColdMsg) {
        if self.cold.push(m).is_err() {
            *self.journal_dropped += 1;
        }
    }
    fn resync(&mut self, venue: VenueId, instrument: InstrumentId) {
        let req = crate::feed::ResyncRequest { venue, instrument };
        let sent = match self.venue_feed.get(venue.idx()) {
            Some(&fi) => self
                .control
                .get_mut(fi)
                .is_some_and(|c| c.push(req).is_ok()),
            None => false,
        };
        if !sent {
            // unknown venue or a full control ring: the book stays invalid (never traded),
            // the next mismatch asks again; counted and logged, never sent to another feed
            *self.resync_dropped += 1;
            self.cold(ColdMsg::Log(
                LogRecord {
                    severity: crate::journal::Severity::Error,
                    code: crate::journal::LogCode::Note,
                    venue,
                    instrument,
                    ..LogRecord::default()
                }
                .with_text(b"resync request not delivered to the venue's feed thread"),
            ));
        }
    }
}

/// Push the staged execution messages. While the ring is full, answers from execution are
/// set aside in `deferred` (the core is not re-entered here) so execution can make room; they
/// are applied afterwards, and whatever they stage is pushed in turn.
fn flush_to_exec(
    staged: &mut Vec<ToExec>,
    deferred: &mut Vec<FromExec>,
    io: &mut DetIo,
    core: &mut DetectionCore,
    sent: &mut u64,
    counters: &mut LoopCounters,
    waiter: &Waiter,
) {
    loop {
        let pushed = !staged.is_empty();
        for m in staged.drain(..) {
            let mut m = m;
            loop {
                match io.to_exec.push(m) {
                    Ok(()) => break,
                    Err(back) => {
                        m = back;
                        counters.exec_ring_full += 1;
                        while let Some(f) = io.from_exec.pop() {
                            deferred.push(f);
                        }
                        std::hint::spin_loop();
                    }
                }
            }
            *sent += 1;
        }
        if pushed {
            // the execution thread may be asleep on the doorbell (`wait = "block"`)
            waiter.notify();
        }
        if deferred.is_empty() {
            return;
        }
        let mut out = ThreadOut {
            staged,
            cold: &mut io.cold,
            control: &mut io.control,
            venue_feed: &io.venue_feed,
            journal_dropped: &mut counters.journal_dropped,
            resync_dropped: &mut counters.resync_dropped,
        };
        for f in deferred.drain(..) {
            core.on_exec(f, &mut out);
        }
        publish_trades(core, &io.progress);
    }
}

/// Loop counters of the detection thread.
#[derive(Default)]
pub(crate) struct LoopCounters {
    merge_skips: u64,
    journal_dropped: u64,
    exec_ring_full: u64,
    resync_dropped: u64,
}

fn detection_loop(setup: &Setup, mut io: DetIo, mut waiter: Waiter, ordered: bool) -> DetOutput {
    let mut core = DetectionCore::new(setup);
    io.resume.install(&mut core);
    // replay, and paper (simulated fills): data time passes a simulated order's arrival only
    // after execution answered everything it was sent, so the order meets the books it would
    // in a replay (paper: of the session's recording). Live sends no simulated orders.
    let sim_in_data_time = ordered || setup.cfg.mode == crate::config::Mode::Paper;
    let mut stop_cause = None;
    let mut halted = None;
    let mut staged: Vec<ToExec> =
        Vec::with_capacity(core::MAX_OPPS + 4 * setup.cfg.risk.max_in_flight as usize + 16);
    let n = io.md.len();
    let mut done = vec![false; n];
    let mut next_seq: u64 = 0;
    let mut cur: Option<usize> = None;
    let mut rr = 0usize;
    let mut sent = 0u64;
    let mut lc = LoopCounters::default();
    let mut deferred: Vec<FromExec> = Vec::with_capacity(4096);
    let clock = clock::Clock::get();
    macro_rules! out {
        () => {
            ThreadOut {
                staged: &mut staged,
                cold: &mut io.cold,
                control: &mut io.control,
                venue_feed: &io.venue_feed,
                journal_dropped: &mut lc.journal_dropped,
                resync_dropped: &mut lc.resync_dropped,
            }
        };
    }
    macro_rules! pump {
        () => {{
            drain_exec(&mut io.from_exec, &mut core, &mut out!());
            publish_trades(&core, &io.progress);
            flush_to_exec(
                &mut staged,
                &mut deferred,
                &mut io,
                &mut core,
                &mut sent,
                &mut lc,
                &waiter,
            );
        }};
    }
    macro_rules! flush {
        () => {
            flush_to_exec(
                &mut staged,
                &mut deferred,
                &mut io,
                &mut core,
                &mut sent,
                &mut lc,
                &waiter,
            )
        };
    }

    if core.catch_up.is_some() {
        staged.push(ToExec::CatchUp(true));
    }
    crate::alloc_probe::enter_hot();
    'outer: loop {
        pump!();
        // which ring holds the next message?
        let r = match cur {
            Some(r) => r,
            None => {
                let mut pick = None;
                let mut all_have = true;
                let mut min_seq = (u64::MAX, 0usize);
                for k in 0..n {
                    let k2 = (rr + k) % n;
                    if done[k2] {
                        continue;
                    }
                    match io.md[k2].peek() {
                        Some(ev) if ev.kind == MdKind::FeedEnd => {
                            io.md[k2].pop();
                            done[k2] = true;
                        }
                        Some(ev) => {
                            if !ordered || ev.msg_seq == next_seq {
                                pick = Some(k2);
                                break;
                            }
                            if ev.msg_seq < min_seq.0 {
                                min_seq = (ev.msg_seq, k2);
                            }
                        }
                        None => all_have = false,
                    }
                }
                match pick {
                    Some(k) => k,
                    None => {
                        if done.iter().all(|d| *d) {
                            break 'outer;
                        }
                        if !ordered && io.ctl.requested().is_some() {
                            // paper: a quiet feed must not delay a stop
                            let settled = sent == core.acked;
                            match core.at_boundary(settled, &io.ctl, &mut out!()) {
                                Boundary::Continue => {}
                                Boundary::Stop(c) => {
                                    stop_cause = Some(c);
                                    break 'outer;
                                }
                                Boundary::Halt(c) => {
                                    halted = Some(c);
                                    break 'outer;
                                }
                                Boundary::Abort => break 'outer,
                            }
                            flush!();
                        }
                        if !ordered && core.next_due().is_some() {
                            // paper, no message waiting: fill the orders that arrived more
                            // than the pipeline's slack ago (a message received before them
                            // has reached the ring by then)
                            let before = clock.now_ns().saturating_sub(PAPER_FILL_SLACK_NS);
                            if core.next_due().is_some_and(|t| t < before) {
                                core.fire_due(before, &mut out!());
                                flush!();
                            }
                        }
                        if ordered && all_have && min_seq.0 != u64::MAX {
                            // every live ring has data but none has the next index: skip ahead
                            lc.merge_skips += 1;
                            next_seq = min_seq.0;
                            continue;
                        }
                        waiter.idle();
                        continue;
                    }
                }
            }
        };
        rr = (r + 1) % n;
        // before a new message: let due simulated orders fill at the right data time
        if cur.is_none() {
            let Some(head) = io.md[r].peek() else {
                continue;
            };
            let recv = head.recv_ns;
            if sim_in_data_time {
                loop {
                    if sent != core.acked {
                        pump!();
                        if sent != core.acked {
                            waiter.idle();
                        }
                        continue;
                    }
                    match core.next_due() {
                        Some(t) if t < recv => {
                            core.fire_due(t + 1, &mut out!());
                            flush!();
                        }
                        _ => break,
                    }
                }
            } else {
                core.fire_due(recv, &mut out!());
                flush!();
            }
            // a message boundary: stop requests, journal cuts, a resume's catch-up end
            let settled = sent == core.acked;
            let b = core.at_boundary(settled, &io.ctl, &mut out!());
            flush!();
            match b {
                Boundary::Continue => {}
                Boundary::Stop(c) => {
                    stop_cause = Some(c);
                    break 'outer;
                }
                Boundary::Halt(c) => {
                    halted = Some(c);
                    break 'outer;
                }
                Boundary::Abort => break 'outer,
            }
            cur = Some(r);
        }
        // apply the message's events; it may still be arriving
        let mut finished = false;
        while let Some(ev) = io.md[r].pop() {
            if core.on_event(&ev, clock.raw(), &mut out!()) {
                next_seq = ev.msg_seq.wrapping_add(1);
                finished = true;
                break;
            }
        }
        if finished {
            flush!();
            let p = &io.progress;
            Progress::set(&p.messages, core.messages);
            Progress::set(&p.data_ns, core.market.now_ns);
            Progress::set(&p.signals, core.signal_status.iter().sum());
            Progress::set(&p.approved, core.risk.approved);
            // the replay reader may be asleep waiting for this progress (`lead_msgs`)
            waiter.notify();
            cur = None;
            waiter.reset();
        }
    }
    let early =
        stop_cause.is_some() || halted.is_some() || core.diverged.is_some() || io.ctl.aborted();
    if early {
        // the replay reader and the feeds end; what they still hold is not applied
        io.stop.store(true, Ordering::Relaxed);
    }
    if let Some(c) = stop_cause {
        core.stop(c, &mut out!());
        flush!();
    }
    // data ended (or a stop): orders still travelling find no more data; wait for every
    // trade to finish
    // (live: bounded by the execution window and a margin, then logged)
    let give_up = std::time::Instant::now()
        + std::time::Duration::from_nanos(setup.cfg.execution.window_ns)
        + std::time::Duration::from_secs(30);
    loop {
        pump!();
        if !ordered && std::time::Instant::now() > give_up {
            let mut o = out!();
            o.cold(ColdMsg::Log(
                LogRecord {
                    severity: crate::journal::Severity::Error,
                    a: core.in_flight() as i64,
                    ..LogRecord::default()
                }
                .with_text(b"shutdown: trades still in flight after the window + 30 s"),
            ));
            break;
        }
        if sent != core.acked {
            waiter.idle();
            continue;
        }
        if core.sim.pending() > 0 {
            core.end_of_data(&mut out!());
            flush!();
            continue;
        }
        if core.in_flight() == 0 {
            break;
        }
        waiter.idle();
    }
    if halted.is_none() && core.diverged.is_none() && !io.ctl.aborted() {
        core.finish(!early, &mut out!());
        flush!();
        loop {
            pump!();
            if sent == core.acked {
                break;
            }
            waiter.idle();
        }
    }
    while io.to_exec.push(ToExec::Shutdown).is_err() {
        std::hint::spin_loop();
    }
    crate::alloc_probe::leave_hot();
    DetOutput::from_core(core, &lc, halted)
}

fn drain_exec(rx: &mut Consumer<FromExec>, core: &mut DetectionCore, out: &mut impl CoreOutput) {
    while let Some(m) = rx.pop() {
        core.on_exec(m, out);
    }
}

fn publish_trades(core: &DetectionCore, progress: &Progress) {
    Progress::set(&progress.trades, core.trades.attempted);
    progress
        .net_pnl_e8
        .store(core.trades.net_pnl_usd, Ordering::Relaxed);
}

fn waiter(setup: &Setup) -> Waiter {
    let t = &setup.cfg.threads;
    Waiter::new(t.wait, t.spins_before_yield, t.park_ns)
}

/// Run `setup` by its mode: a replay on the single-thread path (default at `pace = "max"`) or
/// the threaded one (`threads.mode = "threaded"`, and the default at `pace = "recorded"`: a
/// paced replay stands in for a live feed, so it runs the live shape), paper and live on the
/// threaded path.
pub fn run(setup: &Setup, out_dir: &Path) -> Result<RunResult, EngineError> {
    use crate::config::{Mode, ThreadMode};
    let paced = setup
        .cfg
        .replay
        .as_ref()
        .is_some_and(|r| r.pace == crate::replay::Pace::Recorded);
    match (setup.cfg.mode, setup.cfg.threads.mode) {
        (Mode::Replay, ThreadMode::Auto) if paced => run_replay(setup, out_dir),
        (Mode::Replay, ThreadMode::Single | ThreadMode::Auto) => single::run_single(setup, out_dir),
        (Mode::Replay, ThreadMode::Threaded) => run_replay(setup, out_dir),
        (Mode::Live, _) => run_live(setup, out_dir),
        _ => run_paper(setup, out_dir),
    }
}

/// Run a replay to the end; writes `arbot.log`, `signals.jsonl`, `trades.jsonl` into `out_dir`
/// (the report is written by the caller from the result).
pub fn run_replay(setup: &Setup, out_dir: &Path) -> Result<RunResult, EngineError> {
    std::fs::create_dir_all(out_dir)?;
    let prepared = crate::resume::prepare(setup, out_dir)?;
    let t0 = std::time::Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let counters = new_counters(setup);
    let progress = Arc::new(Progress::default());
    let t = &setup.cfg.threads;
    let rp = setup
        .cfg
        .replay
        .as_ref()
        .ok_or_else(|| EngineError::Setup("no [replay] section".into()))?;
    let mut feeds = Feeds::default();
    let mut raw_tx = Vec::new();
    let mut route = vec![0usize; setup.venues.len()];
    for (fi, (_, venues, _)) in setup.feeds.iter().enumerate() {
        let (btx, brx) = byte_channel(t.raw_ring_bytes);
        raw_tx.push(btx);
        for v in venues {
            route[v.idx()] = fi;
        }
        let sources: Vec<Box<dyn FeedSource>> = vec![Box::new(ReplaySource::new(brx))];
        feeds.add(setup, fi, sources, &counters, &stop, None)?;
    }
    let reader = ReplayReader::open(
        &setup.replay_files,
        raw_tx,
        route,
        rp.pace,
        rp.speed,
        stop.clone(),
    )?
    .with_lead(progress.clone(), rp.lead_msgs)
    .with_waiter(waiter(setup))
    .with_limit(rp.max_messages)
    .with_fast_forward(prepared.journals.catch_up_msg.unwrap_or(0));
    let mut res = run_pipeline(
        setup,
        out_dir,
        counters,
        progress,
        feeds,
        true,
        prepared,
        stop.clone(),
        Vec::new(),
        None,
        |_feeds_done: &dyn Fn() -> bool, _ctl: &Control| {
            let reader_handle = std::thread::Builder::new()
                .name("arbot-replay".into())
                .spawn(move || reader.run())?;
            reader_handle
                .join()
                .map_err(|_| EngineError::Panic("replay".into()))?
                .map_err(EngineError::from)
        },
    )?;
    res.wall_ns = t0.elapsed().as_nanos() as u64;
    Ok(res)
}

/// Paper mode (R3.1): live feeds over WebSocket (the exchanges' public endpoints, or the
/// loopback replay server when the venues' `ws_url`/`rest_url` point at it), REST snapshots
/// from a cold thread per venue, simulated fills. Runs until every feed has ended (with
/// `run.stop_when_feeds_end`), `run.max_runtime_ns` has passed, or SIGINT/SIGTERM.
pub fn run_paper(setup: &Setup, out_dir: &Path) -> Result<RunResult, EngineError> {
    run_live_or_paper(setup, out_dir, None)
}

/// Live mode (R3.1): live feeds as in paper mode, and real orders on every trading venue
/// through pre-connected order connections ([`live::prepare`]: credentials from the
/// environment, clock offset, balances checked against the config, private streams). At the
/// end, the venues' balances and positions are reconciled with the engine's accounting.
pub fn run_live(setup: &Setup, out_dir: &Path) -> Result<RunResult, EngineError> {
    let prep = live::prepare(setup)?;
    run_live_or_paper(setup, out_dir, Some(prep))
}

fn run_live_or_paper(
    setup: &Setup,
    out_dir: &Path,
    mut live_prep: Option<live::LivePrep>,
) -> Result<RunResult, EngineError> {
    std::fs::create_dir_all(out_dir)?;
    let prepared = crate::resume::prepare(setup, out_dir)?;
    let t0 = std::time::Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let counters = new_counters(setup);
    let progress = Arc::new(Progress::default());
    let mut feeds = Feeds::default();
    let mut fetchers = Vec::new();
    let mut net = Vec::new();
    let mut fetch_stats = Vec::new();
    let mut recorded = Vec::new();
    for (fi, (_, venues, _)) in setup.feeds.iter().enumerate() {
        let mut sources: Vec<Box<dyn FeedSource>> = Vec::new();
        for v in venues {
            let vs = &setup.venues[v.idx()];
            let proto = setup.protocol(*v).map_err(EngineError::Setup)?;
            // venues that hand out their WebSocket endpoint from a REST call (KuCoin's token):
            // one call at start-up, cold path
            let (urls, app_ping) = match proto.pre_connect() {
                None => (proto.ws_urls(), proto.app_ping()),
                Some(pc) => {
                    let body = crate::net::snapshot::post(
                        &pc.url,
                        vs.cfg.tls_ca_file.as_deref(),
                        std::time::Duration::from_nanos(vs.cfg.connect_timeout_ns),
                    )
                    .map_err(|e| {
                        EngineError::Setup(format!(
                            "venue {}: {} {}: {e}",
                            vs.name, pc.method, pc.url
                        ))
                    })?;
                    let plan = proto
                        .plan_connect(&body)
                        .map_err(|e| EngineError::Setup(format!("venue {}: {e}", vs.name)))?;
                    (plan.urls, plan.app_ping)
                }
            };
            let tls = if urls.iter().any(|u| u.starts_with("wss:")) {
                Some(
                    crate::net::tls::client_config(vs.cfg.tls_ca_file.as_deref())
                        .map_err(|e| EngineError::Setup(format!("venue {}: {e}", vs.name)))?,
                )
            } else {
                None
            };
            let rotate = match (vs.cfg.rotate_after_ns, proto.max_connection_age()) {
                (0, Some(age)) => (age.as_nanos() as u64).saturating_sub(600_000_000_000),
                (r, Some(age)) => r.min((age.as_nanos() as u64).saturating_sub(60_000_000_000)),
                (r, None) => r,
            };
            let snap_urls: Vec<(InstrumentId, String)> = setup
                .instruments
                .iter()
                .filter(|i| i.venue == *v)
                .filter_map(|i| proto.snapshot_url(i.id).map(|u| (i.id, u)))
                .collect();
            let snapshots = if snap_urls.is_empty() {
                None
            } else {
                let (req_tx, req_rx) = channel::<SnapshotRequest>(256);
                let (body_tx, body_rx) = byte_channel(t_raw(setup).max(4 << 20));
                let st = Arc::new(crate::net::snapshot::FetchStats::default());
                fetch_stats.push((v.idx(), st.clone()));
                let f = crate::net::snapshot::Fetcher {
                    venue: *v,
                    urls: snap_urls,
                    ca_file: vs.cfg.tls_ca_file.clone(),
                    timeout: std::time::Duration::from_secs(10),
                    min_interval: std::time::Duration::from_millis(500),
                    requests: req_rx,
                    bodies: body_tx,
                    stop: stop.clone(),
                    stats: st,
                    log: feeds.log_producer(),
                };
                fetchers.push(
                    std::thread::Builder::new()
                        .name(format!("arbot-snap-{}", vs.name))
                        .spawn(move || f.run())?,
                );
                Some((req_tx, body_rx))
            };
            let cfg = WsSourceConfig {
                venue: *v,
                subscribe: (0..urls.len()).map(|k| proto.subscribe_frames(k)).collect(),
                urls,
                app_ping,
                tls,
                params: crate::net::ws::WsParams::default(),
                silence_timeout_ns: vs.cfg.silence_timeout_ns,
                backoff_min_ns: vs.cfg.reconnect_backoff_min_ns,
                backoff_max_ns: vs.cfg.reconnect_backoff_max_ns,
                rotate_after_ns: rotate,
                connect_timeout_ns: vs.cfg.connect_timeout_ns,
                stop_when_feeds_end: setup.cfg.run.stop_when_feeds_end,
            };
            let report = Arc::new(NetReport::default());
            net.push((v.idx(), report.clone()));
            let log = Some(feeds.log_producer());
            let ws: Box<dyn FeedSource> = Box::new(
                WsSource::new(cfg, snapshots, log, report)
                    .map_err(|e| EngineError::Setup(format!("venue {}: {e}", vs.name)))?
                    .with_protocol(proto),
            );
            sources.push(match &setup.cfg.recorder {
                // R1.6: every frame and snapshot this source hands on, also to the recorder
                Some(rc) => {
                    let (tx, rx, c) = recorder::channel(rc.ring_bytes as usize);
                    recorded.push(recorder::RecordedVenue {
                        venue: *v,
                        name: vs.name.clone(),
                        instruments: setup
                            .instruments
                            .iter()
                            .filter(|i| i.venue == *v)
                            .map(|i| (i.id, i.symbol.clone()))
                            .collect(),
                        rx,
                        counters: c.clone(),
                    });
                    Box::new(recorder::RecordingSource::new(ws, tx, c))
                }
                None => ws,
            });
        }
        // live sources number messages per connection: one index per feed thread instead
        let renumber = Some((fi as u64, setup.feeds.len() as u64));
        feeds.add(setup, fi, sources, &counters, &stop, renumber)?;
    }
    let rec_stop = Arc::new(AtomicBool::new(false));
    let rec_thread = match &setup.cfg.recorder {
        Some(rc) => {
            let r = recorder::Recorder {
                dir: rc.dir.clone(),
                flush_interval_ns: rc.flush_interval_ns,
                venues: std::mem::take(&mut recorded),
                log: feeds.log_producer(),
                stop: rec_stop.clone(),
            };
            Some(
                std::thread::Builder::new()
                    .name("arbot-recorder".into())
                    .spawn(move || r.run())?,
            )
        }
        None => None,
    };
    let mut rec_summary = None;
    let max_ns = setup.cfg.run.max_runtime_ns;
    let live_orders: Vec<(VenueId, crate::exec::live::LiveVenue)> = live_prep
        .as_mut()
        .map(|p| {
            p.venues
                .iter_mut()
                .filter_map(|v| v.order.take().map(|o| (v.venue, o)))
                .collect()
        })
        .unwrap_or_default();
    // the runtime reconciliation books trades from this run's records: not after a resume,
    // whose earlier trades it would not have
    let recon = match (&live_prep, prepared.info.resumed) {
        (Some(p), false) => live::Reconciler::new(setup, p),
        _ => None,
    };
    let res = run_pipeline(
        setup,
        out_dir,
        counters,
        progress,
        feeds,
        false,
        prepared,
        stop.clone(),
        live_orders,
        recon,
        |feeds_done: &dyn Fn() -> bool, ctl: &Control| {
            // SIGTERM/SIGINT, the kill switch and the runtime limit reach detection through
            // `ctl`: it cancels open orders (live: on the venues, `Executor::cancel_all`),
            // lets the trades in flight finish, stops the feeds
            loop {
                if feeds_done() {
                    break;
                }
                if max_ns > 0 && t0.elapsed().as_nanos() as u64 >= max_ns {
                    ctl.runtime.store(true, Ordering::Relaxed);
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            // the feed threads are gone (their recorder rings with them): the recorder
            // drains what is left and finishes its files while the logger still runs
            rec_stop.store(true, Ordering::Release);
            if let Some(h) = rec_thread {
                rec_summary = Some(
                    h.join()
                        .map_err(|_| EngineError::Panic("arbot-recorder".into()))?,
                );
            }
            Ok(Vec::new())
        },
    );
    rec_stop.store(true, Ordering::Release);
    let mut res = res?;
    res.recorder = rec_summary;
    stop.store(true, Ordering::Relaxed);
    for f in fetchers {
        let _ = f.join();
    }
    let mut out = vec![VenueNet::default(); setup.venues.len()];
    for (vi, r) in net {
        if let Ok(s) = r.stats.lock() {
            out[vi].ws = Some(s.clone());
        }
    }
    for (vi, st) in fetch_stats {
        out[vi].snapshots_fetched = st.delivered.load(Ordering::Relaxed);
        out[vi].snapshot_fetch_failures = st.failed.load(Ordering::Relaxed);
    }
    res.net = out;
    res.stopped_by_signal = matches!(res.det.stopped, Some(crate::risk::limits::Cause::Terminate));
    if let Some(mut p) = live_prep {
        p.stop();
        let fills = res.exec.live_venues().map(|l| l.stats.fills).sum();
        res.reconciliation = Some(live::reconcile(
            setup,
            &p.views(),
            &res.det.risk.balances(),
            &res.det.risk.position_costs(),
            fills,
        ));
    }
    res.wall_ns = t0.elapsed().as_nanos() as u64;
    Ok(res)
}

/// Live-connection figures of one venue (paper/live runs).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct VenueNet {
    /// WebSocket source statistics.
    pub ws: Option<NetStats>,
    /// REST snapshots fetched.
    pub snapshots_fetched: u64,
    /// Failed snapshot fetches (retried).
    pub snapshot_fetch_failures: u64,
}

fn t_raw(setup: &Setup) -> usize {
    setup.cfg.threads.raw_ring_bytes
}

pub(crate) fn new_counters(setup: &Setup) -> Vec<Arc<VenueCounters>> {
    setup
        .venues
        .iter()
        .map(|_| {
            let c = VenueCounters::default();
            c.set_health(&crate::health::Limits::from_run(&setup.cfg.run));
            c.reserve_sample(crate::health::SAMPLE_BYTES);
            Arc::new(c)
        })
        .collect()
}

/// Feed threads being assembled: their output rings and log rings.
#[derive(Default)]
struct Feeds {
    threads: Vec<(String, Option<usize>, FeedThread)>,
    md_rx: Vec<Consumer<MdEvent>>,
    logs: Vec<Consumer<LogRecord>>,
    control: Vec<Producer<crate::feed::ResyncRequest>>,
}

impl Feeds {
    /// A log ring for a source of feed thread `fi` (read by the cold thread).
    fn log_producer(&mut self) -> Producer<LogRecord> {
        let (tx, rx) = channel::<LogRecord>(1024);
        self.logs.push(rx);
        tx
    }

    fn add(
        &mut self,
        setup: &Setup,
        fi: usize,
        sources: Vec<Box<dyn FeedSource>>,
        counters: &[Arc<VenueCounters>],
        stop: &Arc<AtomicBool>,
        renumber: Option<(u64, u64)>,
    ) -> Result<(), EngineError> {
        let (name, venues, core) = &setup.feeds[fi];
        let (ptx, prx) = channel::<MdEvent>(setup.cfg.threads.md_ring_capacity);
        self.md_rx.push(prx);
        let (ltx, lrx) = channel::<LogRecord>(1024);
        self.logs.push(lrx);
        let (ctx, crx) = channel::<crate::feed::ResyncRequest>(256);
        self.control.push(ctx);
        let handlers = venues
            .iter()
            .map(|v| setup.handler(*v, counters[v.idx()].clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(EngineError::Setup)?;
        self.threads.push((
            name.clone(),
            *core,
            FeedThread {
                name: name.clone(),
                sources,
                handlers,
                out: ptx,
                waiter: waiter(setup),
                stop: stop.clone(),
                log: ltx,
                control: crx,
                renumber,
                stall_resync_ns: setup.cfg.threads.stall_resync_ns,
            },
        ));
        Ok(())
    }
}

/// Start the cold, execution, detection and feed threads; run `input` on this thread (it
/// returns when the input has ended; it gets a probe telling whether every feed thread has
/// finished, and the stop requests); then join everything.
#[allow(clippy::too_many_arguments)]
fn run_pipeline(
    setup: &Setup,
    out_dir: &Path,
    counters: Vec<Arc<VenueCounters>>,
    progress: Arc<Progress>,
    feeds: Feeds,
    ordered: bool,
    mut prepared: crate::resume::Prepared,
    stop: Arc<AtomicBool>,
    live_orders: Vec<(VenueId, crate::exec::live::LiveVenue)>,
    recon: Option<live::Reconciler>,
    input: impl FnOnce(&dyn Fn() -> bool, &Control) -> Result<Vec<FileStats>, EngineError>,
) -> Result<RunResult, EngineError> {
    let _ = clock::Clock::get();
    let _ = crate::affinity::available_cores();
    let t0 = std::time::Instant::now();
    let t = &setup.cfg.threads;
    let Feeds {
        threads: feed_threads,
        md_rx,
        logs: feed_logs,
        control,
    } = feeds;
    let mut venue_feed = vec![0usize; setup.venues.len()];
    for (fi, (_, vs, _)) in setup.feeds.iter().enumerate() {
        for v in vs {
            venue_feed[v.idx()] = fi;
        }
    }
    let (to_exec_tx, to_exec_rx) = channel::<ToExec>(1024);
    let (from_exec_tx, from_exec_rx) = channel::<FromExec>(1024);
    let (det_cold_tx, det_cold_rx) = channel::<ColdMsg>(1 << 14);
    let (exec_cold_tx, exec_cold_rx) = channel::<ColdMsg>(1 << 12);
    let done = Arc::new(AtomicBool::new(false));
    let names = crate::logger::Names::new(setup).with_bad_data(setup, counters.clone());
    let run = &setup.cfg.run;
    let (lmax, lkeep, sint) = (run.log_max_bytes, run.log_keep, run.stats_interval_ns);
    let out_dir_owned = out_dir.to_path_buf();
    let (ctl, watcher) = crate::control::start(crate::control::kill_file(
        &setup.cfg.run.kill_switch_file,
        out_dir,
    ))?;
    let mismatch = Arc::new(std::sync::Mutex::new(None));
    let linputs = crate::logger::LoggerInputs {
        feed_logs,
        cold: vec![det_cold_rx, exec_cold_rx],
        counters: counters.clone(),
        progress: progress.clone(),
        done: done.clone(),
        journals: std::mem::take(&mut prepared.journals),
        abort: ctl.abort.clone(),
        mismatch: mismatch.clone(),
        rebalance: crate::rebalance::Planner::new(setup),
        reconcile: recon.map(|r| r.attach(ctl.clone(), progress.clone())),
    };
    let resume_info = std::mem::take(&mut prepared.info);
    let mut pinned = Vec::new();
    let logger = std::thread::Builder::new()
        .name("arbot-logger".into())
        .spawn(move || crate::logger::run(names, &out_dir_owned, lmax, lkeep, sint, linputs))?;

    let mut ex = Executor::new(setup);
    for (v, lv) in live_orders {
        ex.set_live(v, lv);
    }
    let exec_core = t.execution_core;
    let exec_waiter = waiter(setup);
    let exec_handle = std::thread::Builder::new()
        .name("arbot-exec".into())
        .spawn(move || {
            let ok = crate::affinity::pin(exec_core);
            (
                exec::run(ex, to_exec_rx, from_exec_tx, exec_cold_tx, exec_waiter),
                ok,
            )
        })?;

    let det_setup = setup.clone();
    let det_core = t.detection_core;
    let det_waiter = waiter(setup);
    let det_io = DetIo {
        md: md_rx,
        control,
        venue_feed,
        to_exec: to_exec_tx,
        from_exec: from_exec_rx,
        cold: det_cold_tx,
        progress: progress.clone(),
        ctl: ctl.clone(),
        stop: stop.clone(),
        resume: prepared,
    };
    let det_handle = std::thread::Builder::new()
        .name("arbot-detect".into())
        .spawn(move || {
            let ok = crate::affinity::pin(det_core);
            (detection_loop(&det_setup, det_io, det_waiter, ordered), ok)
        })?;

    let running = Arc::new(std::sync::atomic::AtomicUsize::new(feed_threads.len()));
    let mut feed_handles = Vec::new();
    for (name, core, ft) in feed_threads {
        let nm = name.clone();
        let running = running.clone();
        feed_handles.push((
            name,
            core,
            std::thread::Builder::new().name(nm).spawn(move || {
                let ok = crate::affinity::pin(core);
                ft.run();
                running.fetch_sub(1, Ordering::AcqRel);
                ok
            })?,
        ));
    }
    let files = input(&|| running.load(Ordering::Acquire) == 0, &ctl)?;
    for (name, core, h) in feed_handles {
        let ok = h.join().map_err(|_| EngineError::Panic(name.clone()))?;
        pinned.push((name, core, ok));
    }
    let (det, det_ok) = det_handle
        .join()
        .map_err(|_| EngineError::Panic("detect".into()))?;
    pinned.push(("detect".into(), t.detection_core, det_ok));
    let (exec, exec_ok) = exec_handle
        .join()
        .map_err(|_| EngineError::Panic("exec".into()))?;
    pinned.push(("exec".into(), t.execution_core, exec_ok));
    done.store(true, Ordering::Release);
    let logger = logger
        .join()
        .map_err(|_| EngineError::Panic("logger".into()))??;
    watcher.finish();
    finish_run(
        det,
        exec,
        counters,
        files,
        logger,
        t0,
        pinned,
        resume_info,
        &mismatch,
    )
}

/// Gather a run's result; a resumed replay that disagreed with its journals is an error.
#[allow(clippy::too_many_arguments)]
pub(crate) fn finish_run(
    det: DetOutput,
    exec: Executor,
    counters: Vec<Arc<VenueCounters>>,
    files: Vec<FileStats>,
    logger: crate::logger::LoggerStats,
    t0: std::time::Instant,
    pinned: Vec<(String, Option<usize>, bool)>,
    resume: crate::resume::ResumeInfo,
    mismatch: &std::sync::Mutex<Option<String>>,
) -> Result<RunResult, EngineError> {
    if let Some(m) = mismatch.lock().ok().and_then(|mut m| m.take()) {
        return Err(EngineError::JournalMismatch(m));
    }
    if let Some(d) = det.diverged {
        return Err(EngineError::JournalMismatch(format!(
            "resumed replay does not match its journals: {} (message {}, signal {})",
            d.what, d.msg_seq, d.signal_id
        )));
    }
    Ok(RunResult {
        det,
        exec,
        counters,
        files,
        logger,
        wall_ns: t0.elapsed().as_nanos() as u64,
        pinned,
        net: Vec::new(),
        stopped_by_signal: false,
        resume,
        reconciliation: None,
        recorder: None,
        loops: None,
    })
}
