//! Wires one run: rings, the replay reader, feed threads, the detection thread (books,
//! detection, risk gate, fill simulator), the execution thread and the cold thread; joins
//! them and gathers what the report needs. [`run_replay`] feeds recorded files through
//! replay rings; [`run_paper`] feeds live WebSocket connections ([`crate::feed::ws_source`]);
//! both share [`run_pipeline`]'s threads.
//!
//! Paper mode processes messages in arrival order (detection's `ordered = false`) and the
//! fill simulator fires by wall clock.
//!
//! Determinism in replay: the detection thread consumes messages in the reader's merge order
//! (each event carries its message index), whatever the feed threads' timing, and it lets
//! data time pass a simulated order's arrival only after the execution thread has answered
//! everything it was sent. Two runs on the same data give the same signals and trades.
#![forbid(unsafe_code)]

use crate::clock;
use crate::config::Setup;
use crate::detect::spatial::Spatial;
use crate::detect::Market;
use crate::event::{MdEvent, MdKind};
use crate::exec::sim::FillSim;
use crate::exec::{self, Executor, FromExec, ToExec};
use crate::feed::replay_source::ReplaySource;
use crate::feed::ws_source::{NetReport, NetStats, WsSource, WsSourceConfig};
use crate::feed::{FeedSource, FeedThread, VenueCounters};
use crate::journal::{ColdMsg, LogRecord, Opportunity, SignalRecord, SignalStatus};
use crate::net::snapshot::SnapshotRequest;
use crate::replay::{FileStats, ReplayReader};
use crate::ring::{byte_channel, channel, Consumer, Producer};
use crate::risk::RiskGate;
use crate::stats::{Latency, Progress};
use crate::types::{Bps, InstrumentId};
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
    /// Fill simulator counters.
    pub sim_filled: u64,
    /// Orders that found no valid book.
    pub sim_no_book: u64,
    /// Latencies.
    pub lat: DetLatency,
    /// Messages applied.
    pub messages: u64,
    /// Signals by status.
    pub signal_status: [u64; 9],
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
}

/// Totals over finished trades (amounts in 1e-8 USD-equivalent quote units).
#[derive(Clone, Debug, Default, serde::Serialize)]
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
        self.volume_usd += t.legs[..t.n_legs as usize]
            .iter()
            .map(|l| l.quote.0)
            .sum::<i64>();
        self.residual_base_abs += t.residual_base.0.abs();
    }
}

struct DetIo {
    md: Vec<Consumer<MdEvent>>,
    /// Resync requests to each feed thread, and venue index → feed thread.
    control: Vec<Producer<crate::feed::ResyncRequest>>,
    venue_feed: Vec<usize>,
    to_exec: Producer<ToExec>,
    from_exec: Consumer<FromExec>,
    cold: Producer<ColdMsg>,
    progress: Arc<Progress>,
}

const MAX_OPPS: usize = 64;

fn detection_loop(setup: &Setup, mut io: DetIo, mut waiter: Waiter, ordered: bool) -> DetOutput {
    let mut market = Market::new(setup);
    let mut spatial = Spatial::new(setup);
    let mut premium = crate::detect::premium::Premium::new(setup);
    let mut risk = RiskGate::new(setup);
    let slip = Bps::from_num(setup.cfg.execution.unwind_max_slippage_bps);
    let mut sim = FillSim::new(
        setup.taker_fees_by_instrument(),
        setup
            .venues
            .iter()
            .map(|v| v.cfg.order_latency_ns)
            .collect(),
        slip,
        setup.cfg.risk.max_in_flight as usize * 3 + 4,
    );
    let mut lat = DetLatency::default();
    let mut dirty: Vec<InstrumentId> = Vec::with_capacity(setup.instruments.len());
    let mut opps: Vec<(Opportunity, usize)> = Vec::with_capacity(MAX_OPPS);
    let mut trades = TradeTotals::default();
    let n = io.md.len();
    let mut done = vec![false; n];
    let mut next_seq: u64 = 0;
    let mut cur: Option<usize> = None;
    let mut rr = 0usize;
    let (mut sent, mut acked) = (0u64, 0u64);
    let mut messages = 0u64;
    let mut signal_status = [0u64; 9];
    let mut merge_skips = 0u64;
    let mut journal_dropped = 0u64;
    let mut exec_ring_full = 0u64;
    let mut msg_started = false;
    // first event of the current message: (pushed, dequeued) stamps
    let (mut first_parsed, mut first_deq) = (0u64, 0u64);
    let clock = clock::Clock::get();

    macro_rules! cold {
        ($m:expr) => {
            if io.cold.push($m).is_err() {
                journal_dropped += 1;
            }
        };
    }
    macro_rules! to_exec {
        ($m:expr) => {{
            let mut m = $m;
            loop {
                match io.to_exec.push(m) {
                    Ok(()) => break,
                    Err(back) => {
                        m = back;
                        exec_ring_full += 1;
                        // keep answering execution so it can make room
                        drain_exec(
                            &mut io.from_exec,
                            &mut sim,
                            &mut risk,
                            &market,
                            &mut acked,
                            &mut trades,
                            &io.progress,
                        );
                        std::hint::spin_loop();
                    }
                }
            }
            sent += 1;
        }};
    }

    crate::alloc_probe::enter_hot();
    'outer: loop {
        drain_exec(
            &mut io.from_exec,
            &mut sim,
            &mut risk,
            &market,
            &mut acked,
            &mut trades,
            &io.progress,
        );
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
                        if ordered && all_have && min_seq.0 != u64::MAX {
                            // every live ring has data but none has the next index: skip ahead
                            merge_skips += 1;
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
            if ordered {
                loop {
                    if sent != acked {
                        drain_exec(
                            &mut io.from_exec,
                            &mut sim,
                            &mut risk,
                            &market,
                            &mut acked,
                            &mut trades,
                            &io.progress,
                        );
                        if sent != acked {
                            waiter.idle();
                        }
                        continue;
                    }
                    match sim.next_due() {
                        Some(t) if t < recv => {
                            let mut fills = [crate::exec::sim::SimFill::default(); 8];
                            let mut nf = 0;
                            sim.run_due(t + 1, &market, &mut |f| {
                                if nf < fills.len() {
                                    fills[nf] = f;
                                    nf += 1;
                                }
                            });
                            for f in &fills[..nf] {
                                to_exec!(ToExec::Fill(*f));
                            }
                        }
                        _ => break,
                    }
                }
            } else {
                let now = clock.now_ns();
                let mut fills = [crate::exec::sim::SimFill::default(); 8];
                let mut nf = 0;
                sim.run_due(now, &market, &mut |f| {
                    if nf < fills.len() {
                        fills[nf] = f;
                        nf += 1;
                    }
                });
                for f in &fills[..nf] {
                    to_exec!(ToExec::Fill(*f));
                }
            }
            cur = Some(r);
            msg_started = false;
        }
        // apply the message's events; it may still be arriving
        let mut finished = false;
        while let Some(ev) = io.md[r].pop() {
            if !msg_started {
                msg_started = true;
                (first_parsed, first_deq) = (ev.parsed_tsc, clock.raw());
                lat.md_queue.record_between(first_parsed, first_deq);
            }
            market.apply(&ev, &mut |l: LogRecord| cold!(ColdMsg::Log(l)));
            if ev.is_last() {
                lat.feed.record_between(ev.handoff_tsc, ev.parsed_tsc);
                for &(v, i) in &market.resync {
                    let fi = io.venue_feed.get(v.idx()).copied().unwrap_or(0);
                    if let Some(c) = io.control.get_mut(fi) {
                        // a full control ring drops the request: the book stays invalid and the
                        // next mismatch asks again
                        let _ = c.push(crate::feed::ResyncRequest {
                            venue: v,
                            instrument: i,
                        });
                    }
                }
                market.resync.clear();
                messages += 1;
                next_seq = ev.msg_seq.wrapping_add(1);
                Progress::set(&io.progress.messages, messages);
                Progress::set(&io.progress.data_ns, market.now_ns);
                market.take_dirty(&mut dirty);
                if let Some(p) = premium.as_mut() {
                    p.on_dirty(&market, &dirty);
                }
                if !dirty.is_empty() {
                    opps.clear();
                    spatial.evaluate(
                        &market,
                        &dirty,
                        &risk,
                        (ev.msg_seq, ev.handoff_tsc),
                        &mut |o, pi| {
                            if opps.len() < MAX_OPPS {
                                opps.push((o, pi));
                            }
                        },
                    );
                    // R2.6: best expected profit first
                    opps.sort_unstable_by(|a, b| {
                        b.0.expected_profit_usd
                            .cmp(&a.0.expected_profit_usd)
                            .then(a.0.id.cmp(&b.0.id))
                    });
                    if let Some((o, _)) = opps.first() {
                        lat.signal_parse.record_between(o.handoff_tsc, first_parsed);
                        lat.signal_queue.record_between(first_parsed, first_deq);
                        lat.signal_detect.record_between(first_deq, o.signal_tsc);
                    }
                    for &(o, pi) in opps.iter() {
                        lat.tick_to_signal
                            .record_between(o.handoff_tsc, o.signal_tsc);
                        let status = match risk.check(&market, &o) {
                            Ok(intent) => {
                                to_exec!(ToExec::Intent(intent));
                                spatial.pairs[pi].traded += 1;
                                SignalStatus::Traded
                            }
                            Err(s) => {
                                spatial.pairs[pi].rejected += 1;
                                s
                            }
                        };
                        signal_status[status as usize] += 1;
                        cold!(ColdMsg::Signal(SignalRecord { opp: o, status }));
                    }
                    Progress::set(&io.progress.signals, signal_status.iter().sum());
                    Progress::set(&io.progress.approved, risk.approved);
                    lat.tick_to_detect
                        .record_between(ev.handoff_tsc, clock.raw());
                }
                finished = true;
                break;
            }
        }
        if finished {
            cur = None;
            waiter.reset();
        }
    }
    // data ended: orders still travelling find no more data; wait for every trade to finish
    loop {
        drain_exec(
            &mut io.from_exec,
            &mut sim,
            &mut risk,
            &market,
            &mut acked,
            &mut trades,
            &io.progress,
        );
        if sent != acked {
            waiter.idle();
            continue;
        }
        if sim.pending() > 0 {
            let mut fills = [crate::exec::sim::SimFill::default(); 16];
            let mut nf = 0;
            sim.end_of_data(&mut |f| {
                if nf < fills.len() {
                    fills[nf] = f;
                    nf += 1;
                }
            });
            for f in &fills[..nf] {
                to_exec!(ToExec::Fill(*f));
            }
            continue;
        }
        if risk.in_flight() == 0 {
            break;
        }
        waiter.idle();
    }
    while io.to_exec.push(ToExec::Shutdown).is_err() {
        std::hint::spin_loop();
    }
    crate::alloc_probe::leave_hot();
    DetOutput {
        sim_filled: sim.filled,
        sim_no_book: sim.no_book,
        market,
        spatial,
        risk,
        lat,
        messages,
        signal_status,
        trades,
        merge_skips,
        journal_dropped,
        exec_ring_full,
        premium,
    }
}

#[allow(clippy::too_many_arguments)]
fn drain_exec(
    rx: &mut Consumer<FromExec>,
    sim: &mut FillSim,
    risk: &mut RiskGate,
    market: &Market,
    acked: &mut u64,
    trades: &mut TradeTotals,
    progress: &Progress,
) {
    while let Some(m) = rx.pop() {
        match m {
            FromExec::Order(o) => sim.add(o),
            FromExec::Done(slot, rec) => {
                risk.on_trade_done(market, slot, &rec);
                trades.add(&rec);
                Progress::set(&progress.trades, trades.attempted);
                progress
                    .net_pnl_e8
                    .store(trades.net_pnl_usd, Ordering::Relaxed);
            }
            FromExec::Ack(k) => *acked = k,
        }
    }
}

fn waiter(setup: &Setup) -> Waiter {
    let t = &setup.cfg.threads;
    Waiter::new(t.wait, t.spins_before_yield, t.park_ns)
}

/// Run a replay to the end; writes `arbot.log`, `signals.jsonl`, `trades.jsonl` into `out_dir`
/// (the report is written by the caller from the result).
pub fn run_replay(setup: &Setup, out_dir: &Path) -> Result<RunResult, EngineError> {
    std::fs::create_dir_all(out_dir)?;
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
        feeds.add(setup, fi, sources, &counters, &stop)?;
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
    .with_limit(rp.max_messages);
    let mut res = run_pipeline(
        setup,
        out_dir,
        counters,
        progress,
        feeds,
        true,
        |_feeds_done: &dyn Fn() -> bool| {
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
    std::fs::create_dir_all(out_dir)?;
    let t0 = std::time::Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    // Ctrl-C / SIGTERM set a flag the waiting loop below turns into `stop` (an OS call, no
    // work in the signal handler itself)
    let signal = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, signal.clone())
            .map_err(|e| EngineError::Setup(format!("signal handler: {e}")))?;
    }
    let counters = new_counters(setup);
    let progress = Arc::new(Progress::default());
    let mut feeds = Feeds::default();
    let mut fetchers = Vec::new();
    let mut net = Vec::new();
    let mut fetch_stats = Vec::new();
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
            let log = feeds.log_producer(fi);
            sources.push(Box::new(
                WsSource::new(cfg, snapshots, log, report)
                    .map_err(|e| EngineError::Setup(format!("venue {}: {e}", vs.name)))?
                    .with_protocol(proto),
            ));
        }
        feeds.add(setup, fi, sources, &counters, &stop)?;
    }
    let max_ns = setup.cfg.run.max_runtime_ns;
    let stop2 = stop.clone();
    let mut res = run_pipeline(
        setup,
        out_dir,
        counters,
        progress,
        feeds,
        false,
        |feeds_done: &dyn Fn() -> bool| {
            loop {
                if feeds_done() {
                    break;
                }
                if signal.load(Ordering::Relaxed)
                    || (max_ns > 0 && t0.elapsed().as_nanos() as u64 >= max_ns)
                {
                    stop2.store(true, Ordering::Relaxed);
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Ok(Vec::new())
        },
    )?;
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
    res.stopped_by_signal = signal.load(Ordering::Relaxed);
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

fn new_counters(setup: &Setup) -> Vec<Arc<VenueCounters>> {
    setup
        .venues
        .iter()
        .map(|_| Arc::new(VenueCounters::default()))
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
    fn log_producer(&mut self, _fi: usize) -> Option<Producer<LogRecord>> {
        let (tx, rx) = channel::<LogRecord>(1024);
        self.logs.push(rx);
        Some(tx)
    }

    fn add(
        &mut self,
        setup: &Setup,
        fi: usize,
        sources: Vec<Box<dyn FeedSource>>,
        counters: &[Arc<VenueCounters>],
        stop: &Arc<AtomicBool>,
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
            },
        ));
        Ok(())
    }
}

/// Start the cold, execution, detection and feed threads; run `input` on this thread (it
/// returns when the input has ended; it gets a probe telling whether every feed thread has
/// finished); then join everything.
fn run_pipeline(
    setup: &Setup,
    out_dir: &Path,
    counters: Vec<Arc<VenueCounters>>,
    progress: Arc<Progress>,
    feeds: Feeds,
    ordered: bool,
    input: impl FnOnce(&dyn Fn() -> bool) -> Result<Vec<FileStats>, EngineError>,
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
    let names = crate::logger::Names::new(setup);
    let run = &setup.cfg.run;
    let (lmax, lkeep, sint) = (run.log_max_bytes, run.log_keep, run.stats_interval_ns);
    let out_dir_owned = out_dir.to_path_buf();
    let linputs = crate::logger::LoggerInputs {
        feed_logs,
        cold: vec![det_cold_rx, exec_cold_rx],
        counters: counters.clone(),
        progress: progress.clone(),
        done: done.clone(),
    };
    let mut pinned = Vec::new();
    let logger = std::thread::Builder::new()
        .name("arbot-logger".into())
        .spawn(move || crate::logger::run(names, &out_dir_owned, lmax, lkeep, sint, linputs))?;

    let ex = Executor::new(setup);
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
    let files = input(&|| running.load(Ordering::Acquire) == 0)?;
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
    })
}
