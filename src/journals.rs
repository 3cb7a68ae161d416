//! The durable journals (R6.3) of a run's output directory, written by the cold thread only:
//! file names, the append-only [`Journal`] writer (fsync on the cold thread; in a resumed
//! replay it first checks the re-derived lines against the ones already there), and the JSON
//! of the records that are not signals or trades (orders, fills, breaker transitions, daily
//! results, checkpoints). The schemas are in the README ("Journals").
#![forbid(unsafe_code)]

use crate::journal::{CheckpointRecord, FillRecord, OrderEvent};
use crate::logger::{iso_ns, Names};
use crate::risk::limits::{BreakerEvent, BreakerState, DayRecord, LimitsSnapshot, DAY_NS};
use serde_json::{json, Value};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// `signals.jsonl`: every opportunity that passed the thresholds, traded or not.
pub const SIGNALS: &str = "signals.jsonl";
/// `orders.jsonl`: every state transition of every order.
pub const ORDERS: &str = "orders.jsonl";
/// `fills.jsonl`: every order that filled something.
pub const FILLS: &str = "fills.jsonl";
/// `trades.jsonl`: every finished trade.
pub const TRADES: &str = "trades.jsonl";
/// `breaker.jsonl`: every circuit-breaker transition.
pub const BREAKER: &str = "breaker.jsonl";
/// `rebalance.jsonl`: every rebalancing plan (R5.2).
pub const REBALANCE: &str = "rebalance.jsonl";
/// `checkpoint.jsonl`: consistent cuts of the journals above (resume points).
pub const CHECKPOINT: &str = "checkpoint.jsonl";
/// `daily.jsonl`: one row per UTC day (rewritten whole, atomically).
pub const DAILY: &str = "daily.jsonl";

/// The append-only journals a checkpoint cuts, in a fixed order.
pub const CUT: [&str; 6] = [SIGNALS, ORDERS, FILLS, TRADES, BREAKER, REBALANCE];

/// Index of a journal in [`CUT`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum J {
    /// signals.jsonl
    Signals = 0,
    /// orders.jsonl
    Orders = 1,
    /// fills.jsonl
    Fills = 2,
    /// trades.jsonl
    Trades = 3,
    /// breaker.jsonl
    Breaker = 4,
    /// rebalance.jsonl
    Rebalance = 5,
}

/// A line a resumed replay re-derived that differs from the journal's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// File.
    pub file: &'static str,
    /// 1-based line number.
    pub line: u64,
    /// The journal's line.
    pub journal: String,
    /// The replay's line.
    pub replay: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "resumed replay does not match its journals: {} line {} differs from the resumed \
             replay:\n  journal: {}\n  replay:  {}",
            self.file,
            self.line,
            self.journal.trim_end(),
            self.replay.trim_end()
        )
    }
}

/// Why a journal line was not taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JournalFault {
    /// A resumed replay re-derived a line that differs from the journal's.
    Mismatch(Mismatch),
    /// The OS refused the write (disk full, file size limit, I/O error). Lines before it are
    /// in the file; nothing more is appended, and the run stops trading.
    Write {
        /// File.
        file: &'static str,
        /// 1-based line number that could not be written.
        line: u64,
        /// The OS error.
        error: String,
    },
}

impl std::fmt::Display for JournalFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JournalFault::Mismatch(m) => m.fmt(f),
            JournalFault::Write { file, line, error } => write!(
                f,
                "journal {file}: writing line {line} failed ({error}; disk full?): trading \
                 stopped; the lines before it are on disk"
            ),
        }
    }
}

/// One append-only journal file.
pub struct Journal {
    /// File name.
    pub name: &'static str,
    path: PathBuf,
    w: BufWriter<File>,
    /// Bytes in the file (written or verified).
    pub bytes: u64,
    /// Lines in the file.
    pub lines: u64,
    /// Lines appended by this run.
    pub appended: u64,
    /// Lines re-derived and found equal to the journal's (resumed replay).
    pub verified: u64,
    /// A resumed replay's committed lines still to check: the bytes and how far checked.
    verify: Option<(Vec<u8>, usize)>,
    unsynced: bool,
}

impl Journal {
    /// Open `dir/name` for appending; `verify` = the lines already there that a resumed
    /// replay will re-derive (checked, not written again). Without it the file is created
    /// (or appended to, `append`).
    pub fn open(
        dir: &Path,
        name: &'static str,
        append: bool,
        verify: Option<Vec<u8>>,
    ) -> std::io::Result<Journal> {
        let path = dir.join(name);
        let f = if append || verify.is_some() {
            OpenOptions::new().create(true).append(true).open(&path)?
        } else {
            File::create(&path)?
        };
        let bytes = f.metadata()?.len();
        let lines = match &verify {
            Some(v) => v.iter().filter(|b| **b == b'\n').count() as u64,
            None if append => count_lines(&path)?,
            None => 0,
        };
        Ok(Journal {
            name,
            path,
            w: BufWriter::with_capacity(1 << 16, f),
            bytes,
            lines,
            appended: 0,
            verified: 0,
            verify: verify.map(|v| (v, 0)),
            unsynced: false,
        })
    }

    /// Path of the file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True while a resumed replay still has committed lines to check here.
    pub fn verifying(&self) -> bool {
        self.verify.as_ref().is_some_and(|(v, k)| *k < v.len())
    }

    /// Committed lines not (yet) re-derived.
    pub fn unverified_lines(&self) -> u64 {
        match &self.verify {
            Some((v, k)) => v[*k..].iter().filter(|b| **b == b'\n').count() as u64,
            None => 0,
        }
    }

    /// Append `line` (without its newline), or, while a resumed replay re-derives committed
    /// lines, check it against the next one. Returns `Ok(true)` if it was appended.
    pub fn line(&mut self, line: &str) -> Result<bool, JournalFault> {
        if let Some((v, k)) = &mut self.verify {
            if *k < v.len() {
                let end = v[*k..]
                    .iter()
                    .position(|b| *b == b'\n')
                    .map(|p| *k + p)
                    .unwrap_or(v.len());
                let old = &v[*k..end];
                self.verified += 1;
                if old != line.as_bytes() {
                    return Err(JournalFault::Mismatch(Mismatch {
                        file: self.name,
                        line: self.verified,
                        journal: String::from_utf8_lossy(old).into_owned(),
                        replay: line.to_string(),
                    }));
                }
                *k = (end + 1).min(v.len());
                return Ok(false);
            }
        }
        if let Err(e) = self
            .w
            .write_all(line.as_bytes())
            .and_then(|()| self.w.write_all(b"\n"))
        {
            return Err(self.write_fault(e));
        }
        self.bytes += line.len() as u64 + 1;
        self.lines += 1;
        self.appended += 1;
        self.unsynced = true;
        Ok(true)
    }

    /// Hand buffered lines to the OS (`tail -f` sees them; a killed process loses nothing
    /// flushed).
    pub fn flush(&mut self) -> Result<(), JournalFault> {
        self.w.flush().map_err(|e| self.write_fault(e))
    }

    /// The fault for an OS error while appending or flushing.
    fn write_fault(&self, e: std::io::Error) -> JournalFault {
        JournalFault::Write {
            file: self.name,
            line: self.lines + 1,
            error: e.to_string(),
        }
    }

    /// Another handle on the file (for the [`Syncer`]).
    pub fn file_handle(&self) -> std::io::Result<File> {
        self.w.get_ref().try_clone()
    }

    /// Flush and fsync if anything was written since the last sync.
    pub fn sync(&mut self) -> Result<(), JournalFault> {
        self.flush()?;
        if self.unsynced {
            self.w
                .get_ref()
                .sync_data()
                .map_err(|e| self.write_fault(e))?;
            self.unsynced = false;
        }
        Ok(())
    }
}

/// fsyncs the journals on a thread of its own, so the cold thread never waits on the disk
/// while the rings fill: the cold thread hands its lines to the OS and asks for a sync (at
/// every trade completion, at least every `run.fsync_interval_ns`); requests that arrive while
/// a sync runs are served by the next one.
pub struct Syncer {
    tx: Option<std::sync::mpsc::Sender<()>>,
    handle: Option<std::thread::JoinHandle<(u64, u64)>>,
}

impl Syncer {
    /// Sync `files` on request.
    pub fn start(files: Vec<File>) -> std::io::Result<Syncer> {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let handle = std::thread::Builder::new()
            .name("arbot-fsync".into())
            .spawn(move || {
                let (mut rounds, mut errors) = (0u64, 0u64);
                while rx.recv().is_ok() {
                    while rx.try_recv().is_ok() {}
                    for f in &files {
                        errors += f.sync_data().is_err() as u64;
                    }
                    rounds += 1;
                }
                (rounds, errors)
            })?;
        Ok(Syncer {
            tx: Some(tx),
            handle: Some(handle),
        })
    }

    /// Ask for a sync of everything handed to the OS so far.
    pub fn request(&self) {
        if let Some(t) = &self.tx {
            let _ = t.send(());
        }
    }

    /// Serve the last requests and stop: (sync rounds, errors).
    pub fn finish(mut self) -> (u64, u64) {
        self.tx = None;
        self.handle
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or((0, 0))
    }
}

fn count_lines(p: &Path) -> std::io::Result<u64> {
    match std::fs::read(p) {
        Ok(b) => Ok(b.iter().filter(|c| **c == b'\n').count() as u64),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e),
    }
}

/// Write `text` to `dir/name` atomically (temporary file, fsync, rename).
pub fn write_atomic(dir: &Path, name: &str, text: &str) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    {
        let mut f = File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_data()?;
    }
    std::fs::rename(&tmp, dir.join(name))
}

fn e8(x: i64) -> f64 {
    x as f64 / 1e8
}

fn ppm_pct(x: i64) -> f64 {
    x as f64 / 10_000.0
}

/// The client order id of leg `leg` of trade `trade_id`, as the order encoders send it (up to
/// 8 legs per trade).
pub fn client_order_id(trade_id: u64, leg: u8) -> u64 {
    trade_id * 8 + leg as u64
}

/// True for an order state that ends the order (`orders.jsonl`): an order whose last line has
/// another state was still open.
pub fn order_state_final(state: &str) -> bool {
    matches!(state, "filled" | "cancelled" | "rejected" | "expired")
}

/// One line of `orders.jsonl`: one state transition of one order, live or simulated (one
/// schema; README "Journals").
pub fn order_line(n: &Names, o: &OrderEvent) -> Value {
    let i = o.instrument.idx();
    json!({
        "ts_ns": o.ts_ns,
        "venue": n.venue(o.venue.idx()),
        "symbol": n.symbol(i),
        "client_order_id": o.client_id,
        "trade_id": o.trade_id,
        "leg": o.leg,
        "order_id": if o.order_id != 0 { json!(o.order_id) } else { Value::Null },
        "side": o.side.as_str(),
        "state": o.state.as_str(),
        "qty": n.qty(i, o.qty),
        "filled_qty": n.qty(i, o.filled_qty),
        "cum_quote": o.cum_quote.to_f64(),
        "limit_price": if o.limit_px.0 != 0 { json!(n.px(i, o.limit_px)) } else { Value::Null },
        "error_code": if o.err_code != 0 { json!(o.err_code) } else { Value::Null },
        "live": o.live,
    })
}

/// The `fills.jsonl` line of a leg that filled something (`None` otherwise). Amounts in the
/// instrument's quote asset; `*_e8` fields exact (1e-8 units).
pub fn fill_line(n: &Names, o: &FillRecord) -> Option<Value> {
    let f = &o.fill;
    if f.filled_qty.0 == 0 {
        return None;
    }
    let i = f.instrument.idx();
    let levels: Vec<Value> = f.fills[..f.n_fills as usize]
        .iter()
        .map(|(p, q)| json!([n.px(i, *p), n.qty(i, *q)]))
        .collect();
    Some(json!({
        "ts_ns": o.ts_ns,
        "trade_id": o.trade_id,
        "leg": o.leg,
        "client_order_id": client_order_id(o.trade_id, o.leg),
        "venue": n.venue(f.venue.idx()),
        "symbol": n.symbol(i),
        "side": f.side.as_str(),
        "unwind": f.unwind,
        "liquidity": "taker",
        "qty": n.qty(i, f.filled_qty),
        "price": f.quote.0 as f64 / f.base.0.max(1) as f64,
        "quote_qty": e8(f.quote.0),
        "base_qty": e8(f.base.0),
        "fee": e8(f.fee.0),
        "filled_units": f.filled_qty.0,
        "quote_e8": f.quote.0,
        "base_e8": f.base.0,
        "fee_e8": f.fee.0,
        "levels": levels,
        "merged_levels": f.merged_levels,
        "book_view_ns": f.view_ns,
    }))
}

/// A `breaker.jsonl` line.
pub fn breaker_line(b: &BreakerEvent) -> Value {
    json!({
        "ts_ns": b.data_ns,
        "time": iso_ns(b.data_ns),
        "msg_seq": b.msg_seq,
        "from": b.from.as_str(),
        "to": b.to.as_str(),
        "cause": b.cause.as_str(),
        "equity_usd": e8(b.equity_e8),
        "high_water_usd": e8(b.hwm_e8),
        "day_start_equity_usd": e8(b.day_start_e8),
        "day_pnl_usd": e8(b.equity_e8 - b.day_start_e8),
        "drawdown_pct": ppm_pct(b.drawdown_ppm),
        "consecutive_losses": b.consecutive_losses,
        "probes_ok": b.probes_ok,
        "cooldown_until_ns": if b.until_ns != 0 { json!(b.until_ns) } else { Value::Null },
    })
}

/// A `daily.jsonl` row.
pub fn day_line(d: &DayRecord) -> Value {
    json!({
        "date": &iso_ns(d.day * DAY_NS)[..10],
        "day": d.day,
        "complete": d.complete,
        "trades": d.trades,
        "volume_usd": e8(d.volume_e8),
        "fees_usd": e8(d.fees_e8),
        "realized_pnl_usd": e8(d.realized_e8),
        "mtm_pnl_usd": e8(d.end_equity_e8 - d.start_equity_e8),
        "start_equity_usd": e8(d.start_equity_e8),
        "end_equity_usd": e8(d.end_equity_e8),
        "breaker_trips": d.trips,
        "max_drawdown_pct": ppm_pct(d.max_drawdown_ppm),
        "volume_e8": d.volume_e8,
        "fees_e8": d.fees_e8,
        "realized_pnl_e8": d.realized_e8,
        "mtm_pnl_e8": d.end_equity_e8 - d.start_equity_e8,
        "start_equity_e8": d.start_equity_e8,
        "end_equity_e8": d.end_equity_e8,
        "max_drawdown_ppm": d.max_drawdown_ppm,
    })
}

/// The limits part of a checkpoint line (exact integers; [`limits_from_json`] reads it back).
pub fn limits_json(s: &LimitsSnapshot) -> Value {
    let t = &s.today;
    json!({
        "state": s.state.as_str(),
        "since_ns": s.since_ns,
        "until_ns": s.until_ns,
        "probes_ok": s.probes_ok,
        "start_equity_e8": s.start_equity_e8,
        "equity_e8": s.equity_e8,
        "hwm_e8": s.hwm_e8,
        "day": s.day,
        "day_start_e8": s.day_start_e8,
        "consecutive_losses": s.consecutive_losses,
        "trips": s.trips,
        "max_drawdown_ppm": s.max_drawdown_ppm,
        "today": [t.day, t.trades, t.volume_e8, t.fees_e8, t.realized_e8, t.start_equity_e8,
                  t.end_equity_e8, t.trips, t.max_drawdown_ppm],
    })
}

/// Read back [`limits_json`].
pub fn limits_from_json(v: &Value) -> Option<LimitsSnapshot> {
    let i = |k: &str| v.get(k).and_then(Value::as_i64);
    let u = |k: &str| v.get(k).and_then(Value::as_u64);
    let t = v.get("today")?.as_array()?;
    let ti = |k: usize| t.get(k).and_then(Value::as_i64);
    Some(LimitsSnapshot {
        state: BreakerState::parse(v.get("state")?.as_str()?)?,
        since_ns: u("since_ns")?,
        until_ns: u("until_ns")?,
        probes_ok: u("probes_ok")? as u32,
        start_equity_e8: i("start_equity_e8")?,
        equity_e8: i("equity_e8")?,
        hwm_e8: i("hwm_e8")?,
        day: u("day")?,
        day_start_e8: i("day_start_e8")?,
        consecutive_losses: u("consecutive_losses")? as u32,
        trips: u("trips")?,
        max_drawdown_ppm: i("max_drawdown_ppm")?,
        today: DayRecord {
            day: ti(0)? as u64,
            complete: false,
            trades: ti(1)? as u64,
            volume_e8: ti(2)?,
            fees_e8: ti(3)?,
            realized_e8: ti(4)?,
            start_equity_e8: ti(5)?,
            end_equity_e8: ti(6)?,
            trips: ti(7)? as u32,
            max_drawdown_ppm: ti(8)?,
        },
    })
}

/// A `checkpoint.jsonl` line: the cut, the journals' byte lengths and line counts at it, the
/// config fingerprint and the limits' state.
pub fn checkpoint_line(c: &CheckpointRecord, fingerprint: &str, journals: &[Journal]) -> Value {
    let mut files = serde_json::Map::new();
    let mut lines = serde_json::Map::new();
    for j in journals {
        files.insert(j.name.to_string(), json!(j.bytes));
        lines.insert(j.name.to_string(), json!(j.lines));
    }
    json!({
        "seq": c.seq,
        "msg": c.msg,
        "data_ns": c.data_ns,
        "ended": c.ended,
        "in_flight": c.in_flight,
        "signals": c.signals,
        "trades_done": c.trades_done,
        "rate": {"hour": c.rate.0, "day": c.rate.1},
        "fingerprint": fingerprint,
        "files": files,
        "lines": lines,
        "limits": limits_json(&c.limits),
    })
}

/// A stable fingerprint of what decides a run's trades (mode, venues, instruments, groups,
/// detection, risk, execution, premium, replay files and message limit; not pacing, threads
/// or output settings): a resumed replay must run the same config.
pub fn fingerprint(setup: &crate::config::Setup) -> String {
    let c = &setup.cfg;
    let files: Vec<String> = setup
        .replay_files
        .iter()
        .map(|f| f.path.display().to_string())
        .collect();
    let v = json!({
        "mode": c.mode.as_str(),
        "venues": c.venues,
        "instruments": c.instruments,
        "instrument_files": c.instrument_files,
        "groups": c.groups,
        "detection": c.detection,
        "risk": c.risk,
        "execution": c.execution,
        "premium": c.premium,
        "replay_files": files,
        "max_messages": c.replay.as_ref().map(|r| r.max_messages),
        "loops": c.replay.as_ref().map(|r| r.loops).filter(|&l| l > 1),
    });
    // FNV-1a, 64 bits: a change detector, not a secret
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in v.to_string().bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resumed_journal_checks_then_appends() {
        let dir = std::env::temp_dir().join(format!("arbot-journal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(SIGNALS), b"{\"a\":1}\n{\"a\":2}\n").unwrap();
        let old = std::fs::read(dir.join(SIGNALS)).unwrap();
        let mut j = Journal::open(&dir, SIGNALS, true, Some(old)).unwrap();
        assert!(j.verifying());
        assert_eq!(j.line("{\"a\":1}"), Ok(false));
        match j.line("{\"a\":3}").unwrap_err() {
            JournalFault::Mismatch(e) => {
                assert_eq!((e.line, e.journal.as_str()), (2, "{\"a\":2}"))
            }
            other => panic!("expected a mismatch, got {other}"),
        }
        let old = std::fs::read(dir.join(SIGNALS)).unwrap();
        let mut j = Journal::open(&dir, SIGNALS, true, Some(old)).unwrap();
        j.line("{\"a\":1}").unwrap();
        j.line("{\"a\":2}").unwrap();
        assert!(!j.verifying());
        assert_eq!(j.line("{\"a\":3}"), Ok(true));
        j.sync().unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join(SIGNALS)).unwrap(),
            "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n"
        );
        assert_eq!((j.lines, j.verified, j.appended), (3, 2, 1));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn limits_round_trip_through_a_checkpoint_line() {
        let s = LimitsSnapshot {
            state: BreakerState::Open,
            since_ns: 5,
            until_ns: 9,
            probes_ok: 1,
            start_equity_e8: 100,
            equity_e8: 90,
            hwm_e8: 101,
            day: 19_943,
            day_start_e8: 95,
            consecutive_losses: 3,
            trips: 2,
            max_drawdown_ppm: 1234,
            today: DayRecord {
                day: 19_943,
                trades: 4,
                volume_e8: 7,
                fees_e8: 1,
                realized_e8: -3,
                start_equity_e8: 95,
                end_equity_e8: 90,
                trips: 1,
                max_drawdown_ppm: 99,
                complete: false,
            },
        };
        assert_eq!(limits_from_json(&limits_json(&s)), Some(s));
    }
}
