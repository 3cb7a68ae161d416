//! Resume from the journals (R6.7).
//!
//! A run whose output directory already holds journals continues them. What it rebuilds, and
//! from what:
//!
//! | state | from |
//! |---|---|
//! | balances and positions, mark-to-market cash flows, trade totals | every trade in `trades.jsonl` (exact integer fields) |
//! | signal counts by status, the next opportunity (= trade, client order) id | `signals.jsonl` |
//! | breaker state and cooldown, equity, today's PnL and the drawdown high-water mark, losing streak | the last checkpoint line (`checkpoint.jsonl`) |
//! | trade-rate counters | the `traded` signals' times |
//! | orders open at the stop | `orders.jsonl`: an order whose last line is not a final state (`filled`, `cancelled`, `rejected`, `expired`) |
//!
//! **Where the journals end.** The journals are five files written by one cold thread from two
//! rings, so after a crash each may end at a different point, the last line half-written. A
//! *checkpoint* is a consistent cut: the detection core sends it between two messages when
//! every answer of the execution step is back, the execution step forwards a barrier in order
//! with its own records, and the cold thread writes the line (message index, data time, each
//! journal's byte length, the limits' state, the config fingerprint) only once both halves
//! arrived and everything before them is written. Cuts are made at the first boundary, after
//! every trade completion, at most every 100 ms of data time while anything is journaled and
//! at least every second.
//!
//! **Replay** (deterministic): the run continues from the last checkpoint whose lengths fit
//! the files. Each journal is cut back to its length there: a half-written line, and whatever
//! came after the cut (a trade that completed after it, or whose orders were in flight at the
//! kill, the cancels of a stop) is dropped and counted — the continuation re-derives it. The
//! data is read again from the start; before the cut the books are rebuilt and the detector
//! runs (its statistics, cooldowns and ids continue), but no trade is decided again: each
//! signal's fate is read from `signals.jsonl` and a traded one is re-booked in the gate as
//! approved then ([`crate::risk::RiskGate::restore`]); the execution step tracks it without
//! encoding or signing anything; the simulated venue matches its orders again (to rebuild what
//! our own fills took from the books), and the cold thread checks every line they give
//! against the journal instead of writing it. At the cut the state rebuilt from the journals
//! (table above) must equal the one re-derived; then the run goes on and appends. A trade in
//! flight at the cut is simply still in flight: its `sent` lines are before the cut, its
//! answers after. Any difference stops the run with an error naming the first differing line
//! (a journal of another config or data, or a damaged one). A config whose fingerprint differs
//! is refused before starting.
//!
//! **Paper and live** (not reproducible): every complete line counts; only a half-written last
//! line is cut (counted, logged). The state in the table is loaded directly; the breaker and
//! loss counters continue from the last checkpoint (at most one trade or one second behind the
//! journals). Orders still open are reported (`resume.open_orders` in the report and the log):
//! live order entry is to query their venue for their final state (the hook is
//! [`crate::exec::Executor::cancel_all`]'s counterpart in the live path); the simulated venue of
//! paper mode died with the process, so they are lost with it.
#![forbid(unsafe_code)]

use crate::config::{Mode, Setup};
use crate::engine::core::{DetectionCore, SIGNAL_STATUSES};
use crate::engine::TradeTotals;
use crate::journal::{LegFill, LegStatus, SignalStatus, TradeRecord, TradeStatus};
use crate::journals::{CHECKPOINT, CUT, DAILY};
use crate::logger::JournalOptions;
use crate::pnl::PnlBook;
use crate::risk::limits::{BreakerState, DayRecord, LimitsSnapshot};
use crate::risk::RiskGate;
use crate::signal::Opportunity;
use crate::types::{Amount, FeeAsset, InstrumentId, Qty, Side, VenueId};
use serde_json::Value;
use std::path::Path;

/// A resume that cannot go on.
#[derive(Debug, thiserror::Error)]
#[error("resume from {dir}: {msg}")]
pub struct ResumeError {
    /// Output directory.
    pub dir: String,
    /// What is wrong.
    pub msg: String,
}

/// What a signal became, as `signals.jsonl` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fate {
    /// Opportunity id.
    pub id: u64,
    /// Index of the message that triggered it.
    pub trigger_msg: u64,
    /// Traded or why not.
    pub status: SignalStatus,
}

/// What the state rebuilt from the journals must equal at the cut.
pub struct Expected {
    gate: RiskGate,
    pnl: PnlBook,
    totals: TradeTotals,
    counts: [u64; SIGNAL_STATUSES],
    limits: LimitsSnapshot,
}

/// A resumed replay's catch-up: up to message `until_msg` the fates come from the journal.
pub struct CatchUp {
    /// The cut: catch-up ends at the boundary before this message (`u64::MAX`: the journals
    /// ended with the data).
    pub until_msg: u64,
    /// The checkpoint's number (the run's next ones follow it).
    pub seq: u64,
    fates: Vec<Fate>,
    next: usize,
    expect: Box<Expected>,
}

impl CatchUp {
    /// The journal's fate of the next signal, if `o` is that signal.
    pub fn fate(&mut self, o: &Opportunity) -> Option<SignalStatus> {
        let f = self.fates.get(self.next)?;
        if f.id != o.id || f.trigger_msg != o.trigger_msg_seq {
            return None;
        }
        self.next += 1;
        Some(f.status)
    }

    /// At the cut: everything the journals hold was re-derived, and the state they give
    /// equals the core's.
    pub fn check_end(&self, core: &DetectionCore) -> Result<(), &'static str> {
        let e = &self.expect;
        if self.next != self.fates.len() {
            return Err("signals.jsonl holds signals the replay did not re-derive before the cut");
        }
        if !core.risk.same_holdings(&e.gate) {
            return Err("balances/positions from trades.jsonl differ from the replay's");
        }
        if !core.pnl.same_flows(&e.pnl) {
            return Err("cash flows from trades.jsonl differ from the replay's");
        }
        if core.trades != e.totals {
            return Err("trade totals from trades.jsonl differ from the replay's");
        }
        if core.signal_status != e.counts {
            return Err("signal counts from signals.jsonl differ from the replay's");
        }
        if core.risk.limits.snapshot() != e.limits {
            return Err("breaker/limits state in checkpoint.jsonl differs from the replay's");
        }
        Ok(())
    }
}

/// A paper/live run continues: the state to load.
#[derive(Clone, Debug, Default)]
pub struct Restore {
    /// Finished trades, in journal order.
    pub trades: Vec<TradeRecord>,
    /// Signal counts by status.
    pub counts: Vec<u64>,
    /// Largest opportunity id journaled.
    pub last_signal_id: u64,
    /// Data times of the traded signals (trade-rate window).
    pub approvals: Vec<u64>,
    /// The last checkpoint's limits, and the breaker state before a stop.
    pub limits: Option<(LimitsSnapshot, BreakerState)>,
}

impl Restore {
    /// Load it into a fresh core (start-up, cold).
    pub fn apply(&self, core: &mut DetectionCore) {
        let specs = core.market.specs.clone();
        for t in &self.trades {
            core.risk.apply_journaled(&specs, t);
            core.trades.add(t);
            core.pnl.on_trade(t);
        }
        for (k, c) in self.counts.iter().enumerate().take(SIGNAL_STATUSES) {
            core.signal_status[k] = *c;
        }
        core.spatial.continue_ids_after(self.last_signal_id);
        for t in &self.approvals {
            core.risk.limits.rate.record(*t);
        }
        if let Some((s, before)) = &self.limits {
            core.risk.limits.restore(s, *before);
        }
    }
}

/// An order whose last journal line leaves it open.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct OpenOrder {
    /// Client order id.
    pub client_order_id: String,
    /// Venue.
    pub venue: String,
    /// Symbol.
    pub symbol: String,
    /// Its last state (not final: `sent`, `new`, `partially_filled`, `unknown`, `cancel_sent`, `matched`).
    pub state: String,
    /// Data time of that line.
    pub ts_ns: u64,
}

/// What the report says about a resume.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ResumeInfo {
    /// Journals were found and continued.
    pub resumed: bool,
    /// `replay` (continued from a checkpoint, re-derived and checked) or `continue`
    /// (paper/live: every complete line loaded).
    pub how: String,
    /// The cut's message index (replay).
    pub from_msg: u64,
    /// The cut's data time.
    pub from_data_ns: u64,
    /// The cut's checkpoint number.
    pub checkpoint_seq: u64,
    /// Trades in flight at the cut (replay: they continue).
    pub in_flight_at_cut: u32,
    /// Bytes cut from each journal (a half-written line, lines after the cut).
    pub bytes_cut: std::collections::BTreeMap<String, u64>,
    /// Checkpoint lines that were half-written, unreadable or did not fit the files (skipped).
    pub checkpoint_lines_skipped: u64,
    /// Trades and signals loaded from the journals.
    pub trades_loaded: u64,
    /// Signals loaded.
    pub signals_loaded: u64,
    /// Orders left open by the previous run.
    pub open_orders: Vec<OpenOrder>,
}

/// Everything a run needs to continue its output directory.
#[derive(Default)]
pub struct Prepared {
    /// How the cold thread opens the journals.
    pub journals: JournalOptions,
    /// A replay's catch-up.
    pub catch_up: Option<CatchUp>,
    /// A paper/live continuation.
    pub restore: Option<Restore>,
    /// For the report.
    pub info: ResumeInfo,
}

impl Prepared {
    /// Hand the core its part (start-up, before the first message).
    pub fn install(&mut self, core: &mut DetectionCore) {
        if let Some(r) = self.restore.take() {
            r.apply(core);
        }
        core.catch_up = self.catch_up.take();
        if let Some(cu) = &core.catch_up {
            core.checkpoints = cu.seq;
        }
    }
}

/// Files of a run this module owns (removed by `--fresh`).
pub const OWNED: [&str; 13] = [
    "signals.jsonl",
    "orders.jsonl",
    "fills.jsonl",
    "trades.jsonl",
    "breaker.jsonl",
    crate::journals::REBALANCE,
    CHECKPOINT,
    DAILY,
    "report.json",
    "arbot.log",
    crate::ops::curve::FILE,
    "pnl.png",
    "latency.png",
];

/// Start over in `dir`: remove the journals, report and log of an earlier run
/// (`arbot run --fresh`).
pub fn clear(dir: &Path) -> std::io::Result<()> {
    for f in OWNED {
        match std::fs::remove_file(dir.join(f)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let n = e.file_name();
            if n.to_string_lossy().starts_with("arbot.log.") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    Ok(())
}

struct Ckpt {
    seq: u64,
    msg: u64,
    data_ns: u64,
    ended: bool,
    in_flight: u32,
    fingerprint: String,
    files: [u64; CUT.len()],
    limits: Option<LimitsSnapshot>,
    /// Byte offset just after this line in checkpoint.jsonl.
    end: u64,
}

fn parse_ckpt(v: &Value, end: u64) -> Option<Ckpt> {
    let files = v.get("files")?;
    let mut f = [0u64; CUT.len()];
    for (k, name) in CUT.iter().enumerate() {
        f[k] = match files.get(*name) {
            Some(x) => x.as_u64()?,
            // checkpoints written before rebalance.jsonl existed: nothing was journaled there
            None if *name == crate::journals::REBALANCE => 0,
            None => return None,
        };
    }
    Some(Ckpt {
        seq: v.get("seq")?.as_u64()?,
        msg: v.get("msg")?.as_u64()?,
        data_ns: v.get("data_ns")?.as_u64()?,
        ended: v.get("ended")?.as_bool()?,
        in_flight: v.get("in_flight")?.as_u64()? as u32,
        fingerprint: v.get("fingerprint")?.as_str()?.to_string(),
        files: f,
        limits: v.get("limits").and_then(crate::journals::limits_from_json),
        end,
    })
}

/// The complete lines of `bytes` with their end offsets; a last line without its newline is
/// half-written and not returned (its length is the second value).
fn complete_lines(bytes: &[u8]) -> (Vec<(&[u8], u64)>, u64) {
    let mut out = Vec::new();
    let mut start = 0usize;
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'\n' {
            out.push((&bytes[start..i], i as u64 + 1));
            start = i + 1;
        }
    }
    (out, (bytes.len() - start) as u64)
}

fn read_or_empty(p: &Path) -> std::io::Result<Vec<u8>> {
    match std::fs::read(p) {
        Ok(b) => Ok(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Names to ids, for reading journal lines back.
struct Ids {
    inst: Vec<(String, String, InstrumentId, VenueId)>,
}

impl Ids {
    fn new(s: &Setup) -> Ids {
        Ids {
            inst: s
                .instruments
                .iter()
                .map(|i| (i.venue_name.clone(), i.symbol.clone(), i.id, i.venue))
                .collect(),
        }
    }
    fn find(&self, venue: &str, symbol: &str) -> Option<(InstrumentId, VenueId)> {
        self.inst
            .iter()
            .find(|(v, s, _, _)| v == venue && s == symbol)
            .map(|x| (x.2, x.3))
    }
}

fn trade_from_json(v: &Value, ids: &Ids) -> Result<TradeRecord, String> {
    let i64f = |o: &Value, k: &str| -> Result<i64, String> {
        o.get(k)
            .and_then(Value::as_i64)
            .ok_or_else(|| format!("no integer `{k}`"))
    };
    let u64f = |o: &Value, k: &str| -> Result<u64, String> {
        o.get(k)
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("no `{k}`"))
    };
    let strf = |o: &Value, k: &str| -> Result<String, String> {
        o.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("no `{k}`"))
    };
    let legs = v.get("legs").and_then(Value::as_array).ok_or("no `legs`")?;
    if legs.is_empty() || legs.len() > crate::journal::MAX_TRADE_LEGS {
        return Err(format!("{} legs", legs.len()));
    }
    let mut r = TradeRecord {
        id: u64f(v, "id")?,
        n_legs: legs.len() as u8,
        status: TradeStatus::parse(&strf(v, "status")?).ok_or("unknown trade status")?,
        gross_pnl_usd: Amount(i64f(v, "gross_e8")?),
        fees_usd: Amount(i64f(v, "fees_e8")?),
        net_pnl_usd: Amount(i64f(v, "net_e8")?),
        residual_base: Amount(i64f(v, "residual_base_e8")?),
        residual_mark_usd: Amount(i64f(v, "residual_mark_e8")?),
        done_ns: u64f(v, "done_ns")?,
        volume_usd: Amount(i64f(v, "volume_e8")?),
        ..TradeRecord::default()
    };
    r.opp.id = r.id;
    r.opp.detected_ns = u64f(v, "detected_ns")?;
    for (k, l) in legs.iter().enumerate() {
        let (venue, symbol) = (strf(l, "venue")?, strf(l, "symbol")?);
        let (instrument, vid) = ids
            .find(&venue, &symbol)
            .ok_or_else(|| format!("leg {k}: {venue}:{symbol} is not a configured instrument"))?;
        r.legs[k] = LegFill {
            venue: vid,
            instrument,
            side: match strf(l, "side")?.as_str() {
                "buy" => Side::Buy,
                "sell" => Side::Sell,
                s => return Err(format!("leg {k}: side {s:?}")),
            },
            unwind: l.get("unwind").and_then(Value::as_bool).unwrap_or(false),
            order_qty: Qty(i64f(l, "order_units")?),
            filled_qty: Qty(i64f(l, "filled_units")?),
            quote: Amount(i64f(l, "quote_e8")?),
            base: Amount(i64f(l, "base_e8")?),
            fee: Amount(i64f(l, "fee_e8")?),
            arrival_ns: u64f(l, "arrival_ns")?,
            view_ns: u64f(l, "book_view_ns")?,
            known_ns: u64f(l, "known_ns")?,
            status: LegStatus::parse(&strf(l, "status")?).ok_or("unknown leg status")?,
            // the fee in the asset the venue charged it in moves the balances
            fee_asset: match strf(l, "fee_asset")?.as_str() {
                "quote" => FeeAsset::Quote,
                "base" => FeeAsset::Base,
                code => {
                    let mut c = [0u8; 8];
                    let b = code.as_bytes();
                    if b.is_empty() || b.len() > 8 {
                        return Err(format!("leg {k}: fee asset {code:?}"));
                    }
                    c[..b.len()].copy_from_slice(b);
                    FeeAsset::Other(c)
                }
            },
            fee_native: Amount(i64f(l, "fee_native_e8")?),
            ..LegFill::default()
        };
    }
    Ok(r)
}

fn fate_from_json(v: &Value) -> Result<(Fate, u64), String> {
    let id = v.get("id").and_then(Value::as_u64).ok_or("no `id`")?;
    let trigger_msg = v
        .get("md")
        .and_then(|m| m.get("trigger_msg_seq"))
        .and_then(Value::as_u64)
        .ok_or("no `md.trigger_msg_seq`")?;
    let status = if v.get("traded").and_then(Value::as_bool) == Some(true) {
        SignalStatus::Traded
    } else {
        let r = v
            .get("reason")
            .and_then(Value::as_str)
            .ok_or("no `reason`")?;
        SignalStatus::parse(r).ok_or_else(|| format!("unknown reason {r:?}"))?
    };
    let t = v
        .get("detected_ns")
        .and_then(Value::as_u64)
        .ok_or("no `detected_ns`")?;
    Ok((
        Fate {
            id,
            trigger_msg,
            status,
        },
        t,
    ))
}

fn day_from_json(v: &Value) -> Option<DayRecord> {
    let i = |k: &str| v.get(k).and_then(Value::as_i64);
    Some(DayRecord {
        day: v.get("day")?.as_u64()?,
        complete: v.get("complete")?.as_bool()?,
        trades: v.get("trades")?.as_u64()?,
        volume_e8: i("volume_e8")?,
        fees_e8: i("fees_e8")?,
        realized_e8: i("realized_pnl_e8")?,
        start_equity_e8: i("start_equity_e8")?,
        end_equity_e8: i("end_equity_e8")?,
        trips: v.get("breaker_trips")?.as_u64()? as u32,
        max_drawdown_ppm: i("max_drawdown_ppm")?,
    })
}

/// Look at `dir` before a run: a fresh start, a replay to continue from its last checkpoint,
/// or a paper/live run to continue. Cuts the journals where they end (see the module docs) and
/// reads back what the run needs. Errors name the file and line.
pub fn prepare(setup: &Setup, dir: &Path) -> Result<Prepared, ResumeError> {
    let err = |msg: String| ResumeError {
        dir: dir.display().to_string(),
        msg,
    };
    let io = |what: &str, e: std::io::Error| err(format!("{what}: {e}"));
    std::fs::create_dir_all(dir).map_err(|e| io("create", e))?;
    let fingerprint = crate::journals::fingerprint(setup);
    let fsync = setup.cfg.run.fsync_interval_ns;
    let fresh = || Prepared {
        journals: JournalOptions {
            fingerprint: fingerprint.clone(),
            fsync_interval_ns: fsync,
            ..JournalOptions::default()
        },
        ..Prepared::default()
    };
    let ck_path = dir.join(CHECKPOINT);
    let ck_bytes = read_or_empty(&ck_path).map_err(|e| io(CHECKPOINT, e))?;
    let mut journal_bytes: Vec<Vec<u8>> = Vec::with_capacity(CUT.len());
    for name in CUT {
        journal_bytes.push(read_or_empty(&dir.join(name)).map_err(|e| io(name, e))?);
    }
    if ck_bytes.is_empty() {
        if let Some((k, _)) = journal_bytes
            .iter()
            .enumerate()
            .find(|(_, b)| !b.is_empty())
        {
            return Err(err(format!(
                "{} has lines but there is no {CHECKPOINT} to resume from: not a journal this \
                 version can continue; use another --out or `arbot run --fresh`",
                CUT[k]
            )));
        }
        return Ok(fresh());
    }
    let mut info = ResumeInfo {
        resumed: true,
        ..ResumeInfo::default()
    };
    let (lines, torn) = complete_lines(&ck_bytes);
    info.checkpoint_lines_skipped += (torn > 0) as u64;
    let mut ckpts = Vec::new();
    for (k, (l, end)) in lines.iter().enumerate() {
        match serde_json::from_slice::<Value>(l)
            .ok()
            .and_then(|v| parse_ckpt(&v, *end))
        {
            Some(c) => ckpts.push(c),
            None => {
                if k + 1 < lines.len() {
                    // a damaged line in the middle: the file was edited or the disk is bad
                    return Err(err(format!(
                        "{CHECKPOINT} line {} is not a checkpoint",
                        k + 1
                    )));
                }
                info.checkpoint_lines_skipped += 1;
            }
        }
    }
    let replay = setup.cfg.mode == Mode::Replay;
    // the last cut whose lengths fit the files and fall on line ends
    let fits = |c: &Ckpt| {
        c.files.iter().enumerate().all(|(k, &len)| {
            let b = &journal_bytes[k];
            (len as usize) <= b.len() && (len == 0 || b[len as usize - 1] == b'\n')
        })
    };
    let Some(pos) = ckpts.iter().rposition(fits) else {
        return Err(err(format!(
            "no line of {CHECKPOINT} fits the journals (shorter than it says): they cannot be \
             trusted; use another --out or `arbot run --fresh`"
        )));
    };
    info.checkpoint_lines_skipped += (ckpts.len() - 1 - pos) as u64;
    let ck = &ckpts[pos];
    if ck.fingerprint != fingerprint && replay {
        return Err(err(format!(
            "the journals come from another config (fingerprint {} ≠ {fingerprint}: venues, \
             instruments, groups, detection, risk, execution or replay files changed); a \
             replay resumes only the same config: use another --out or `arbot run --fresh`",
            ck.fingerprint
        )));
    }
    // cut the journals
    for (k, name) in CUT.iter().enumerate() {
        let b = &mut journal_bytes[k];
        let keep = if replay {
            ck.files[k] as usize
        } else {
            b.len() - complete_lines(b).1 as usize
        };
        if keep < b.len() {
            info.bytes_cut
                .insert(name.to_string(), (b.len() - keep) as u64);
            b.truncate(keep);
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(dir.join(name))
                .map_err(|e| io(name, e))?;
            f.set_len(keep as u64).map_err(|e| io(name, e))?;
            f.sync_all().map_err(|e| io(name, e))?;
        }
    }
    if (ck.end as usize) < ck_bytes.len() {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&ck_path)
            .map_err(|e| io(CHECKPOINT, e))?;
        f.set_len(ck.end).map_err(|e| io(CHECKPOINT, e))?;
        f.sync_all().map_err(|e| io(CHECKPOINT, e))?;
    }
    // read back what the run needs
    let ids = Ids::new(setup);
    let parse_lines = |k: usize| -> Result<Vec<Value>, ResumeError> {
        complete_lines(&journal_bytes[k])
            .0
            .iter()
            .enumerate()
            .map(|(n, (l, _))| {
                serde_json::from_slice::<Value>(l).map_err(|e| {
                    err(format!(
                        "{} line {}: {e}: the journal is damaged before its last checkpoint",
                        CUT[k],
                        n + 1
                    ))
                })
            })
            .collect()
    };
    let mut fates = Vec::new();
    let mut approvals = Vec::new();
    let mut counts = [0u64; SIGNAL_STATUSES];
    let mut last_id = 0;
    for (n, v) in parse_lines(0)?.iter().enumerate() {
        let (f, t) =
            fate_from_json(v).map_err(|e| err(format!("signals.jsonl line {}: {e}", n + 1)))?;
        counts[f.status as usize] += 1;
        if f.status == SignalStatus::Traded {
            approvals.push(t);
        }
        last_id = last_id.max(f.id);
        fates.push(f);
    }
    let mut trades = Vec::new();
    for (n, v) in parse_lines(3)?.iter().enumerate() {
        trades.push(
            trade_from_json(v, &ids)
                .map_err(|e| err(format!("trades.jsonl line {}: {e}", n + 1)))?,
        );
    }
    // orders left open: last state per client order id
    let mut last: std::collections::BTreeMap<String, OpenOrder> = Default::default();
    for (n, v) in parse_lines(1)?.iter().enumerate() {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        // the client order id is a number (one schema for live and simulated orders)
        let id = v.get("client_order_id").and_then(|c| match c {
            Value::Number(n) => Some(n.to_string()),
            Value::String(x) => Some(x.clone()),
            _ => None,
        });
        let (Some(id), Some(state)) = (id, s("state")) else {
            return Err(err(format!(
                "orders.jsonl line {}: no client_order_id/state",
                n + 1
            )));
        };
        last.insert(
            id.clone(),
            OpenOrder {
                client_order_id: id,
                venue: s("venue").unwrap_or_default(),
                symbol: s("symbol").unwrap_or_default(),
                state,
                ts_ns: v.get("ts_ns").and_then(Value::as_u64).unwrap_or(0),
            },
        );
    }
    info.open_orders = last
        .into_values()
        .filter(|o| !crate::journals::order_state_final(&o.state))
        .collect();
    let breaker = parse_lines(4)?;
    let before_stop = breaker
        .last()
        .and_then(|v| {
            let to = v.get("to")?.as_str()?;
            let from = v.get("from")?.as_str()?;
            BreakerState::parse(if to == "stopped" { from } else { to })
        })
        .unwrap_or_default();
    info.trades_loaded = trades.len() as u64;
    info.signals_loaded = fates.len() as u64;
    info.from_data_ns = ck.data_ns;
    info.checkpoint_seq = ck.seq;
    info.in_flight_at_cut = ck.in_flight;
    let limits = ck.limits.ok_or_else(|| {
        err(format!(
            "{CHECKPOINT} line {}: no readable `limits`",
            pos + 1
        ))
    })?;
    let mut journals = JournalOptions {
        fingerprint,
        append: true,
        fsync_interval_ns: fsync,
        ..JournalOptions::default()
    };
    if replay {
        info.how = "replay".into();
        info.from_msg = ck.msg;
        // the state the journals give, to compare at the cut
        let m = crate::book::Market::new(setup);
        let mut gate = RiskGate::new(setup);
        let mut pnl = PnlBook::from_setup(setup);
        let mut totals = TradeTotals::default();
        for t in &trades {
            gate.apply_journaled(&m.specs, t);
            pnl.on_trade(t);
            totals.add(t);
        }
        journals.verify = journal_bytes.into_iter().map(Some).collect();
        journals.catch_up_msg = Some(ck.msg);
        Ok(Prepared {
            journals,
            catch_up: Some(CatchUp {
                until_msg: if ck.ended { u64::MAX } else { ck.msg },
                seq: ck.seq,
                fates,
                next: 0,
                expect: Box::new(Expected {
                    gate,
                    pnl,
                    totals,
                    counts,
                    limits,
                }),
            }),
            restore: None,
            info,
        })
    } else {
        info.how = "continue".into();
        let days = read_or_empty(&dir.join(DAILY))
            .map_err(|e| io(DAILY, e))?
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .filter_map(|l| serde_json::from_slice::<Value>(l).ok())
            .filter_map(|v| day_from_json(&v))
            .collect();
        journals.days = days;
        Ok(Prepared {
            journals,
            catch_up: None,
            restore: Some(Restore {
                trades,
                counts: counts.to_vec(),
                last_signal_id: last_id,
                approvals,
                limits: Some((limits, before_stop)),
            }),
            info,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_written_last_lines_are_not_lines() {
        let (l, torn) = complete_lines(b"{\"a\":1}\n{\"b\":");
        assert_eq!(l.len(), 1);
        assert_eq!((l[0].0, l[0].1), (&b"{\"a\":1}"[..], 8));
        assert_eq!(torn, 5);
        let (l, torn) = complete_lines(b"");
        assert!(l.is_empty() && torn == 0);
    }

    #[test]
    fn journals_without_a_checkpoint_are_refused() {
        let s = crate::testkit::two_venue_setup(1.0, 1.0, "");
        let dir = std::env::temp_dir().join(format!("arbot-resume-nock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        assert!(
            prepare(&s, &dir).unwrap().catch_up.is_none(),
            "empty: fresh"
        );
        std::fs::write(dir.join("trades.jsonl"), b"{}\n").unwrap();
        let e = prepare(&s, &dir).err().unwrap().to_string();
        assert!(e.contains("trades.jsonl") && e.contains("--fresh"), "{e}");
        clear(&dir).unwrap();
        assert!(prepare(&s, &dir).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
