//! The cold logger/stats thread (R6.1–R6.3). Hot threads hand it fixed-size records through
//! SPSC rings; it alone formats text and touches files:
//! - `arbot.log`: structured `key=value` lines, rotated at `log_max_bytes` (`arbot.log.1`, ...);
//!   a periodic statistics line every `stats_interval_ns` of wall time, and a final one;
//! - `signals.jsonl`: every opportunity that passed the thresholds, traded or not, with the reason;
//! - `trades.jsonl`: every finished trade with its legs and PnL.
#![forbid(unsafe_code)]

use crate::config::Setup;
use crate::feed::VenueCounters;
use crate::journal::{ColdMsg, LegFill, LogCode, LogRecord, Severity, SignalRecord, TradeRecord};
use crate::ring::Consumer;
use crate::stats::Progress;
use crate::types::{pow10, Amount, Price, Qty};
use serde_json::{json, Value};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// `2024-08-08T23:54:13.937085768Z` from ns since the epoch.
pub fn iso_ns(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    let frac = ns % 1_000_000_000;
    let days = (secs / 86_400) as i64;
    let sod = secs % 86_400;
    // civil-from-days (H. Hinnant)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:09}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

/// Names and scales the cold thread needs to turn records into text.
#[derive(Clone)]
pub struct Names {
    venues: Vec<String>,
    symbols: Vec<String>,
    price_dec: Vec<u32>,
    qty_dec: Vec<u32>,
    groups: Vec<String>,
    quote_usd: Vec<f64>,
    bases: Vec<String>,
    quotes: Vec<String>,
}

impl Names {
    /// From a resolved config.
    pub fn new(s: &Setup) -> Names {
        Names {
            venues: s.venues.iter().map(|v| v.name.clone()).collect(),
            symbols: s.instruments.iter().map(|i| i.symbol.clone()).collect(),
            price_dec: s.instruments.iter().map(|i| i.price_dec).collect(),
            qty_dec: s.instruments.iter().map(|i| i.qty_dec).collect(),
            groups: s.groups.iter().map(|g| g.asset.clone()).collect(),
            quote_usd: s.groups.iter().map(|g| g.quote_usd).collect(),
            bases: s
                .instruments
                .iter()
                .map(|i| i.base.to_ascii_uppercase())
                .collect(),
            quotes: s
                .instruments
                .iter()
                .map(|i| i.quote.to_ascii_uppercase())
                .collect(),
        }
    }
    fn venue(&self, i: usize) -> &str {
        self.venues.get(i).map(String::as_str).unwrap_or("?")
    }
    fn symbol(&self, i: usize) -> &str {
        self.symbols.get(i).map(String::as_str).unwrap_or("?")
    }
    fn px(&self, inst: usize, p: Price) -> f64 {
        p.0 as f64 / pow10(self.price_dec[inst]) as f64
    }
    fn qty(&self, inst: usize, q: Qty) -> f64 {
        q.0 as f64 / pow10(self.qty_dec[inst]) as f64
    }
}

fn usd(a: Amount, quote_usd: f64) -> f64 {
    a.to_f64() * quote_usd
}

/// One line of `signals.jsonl`.
pub fn signal_json(n: &Names, s: &SignalRecord) -> Value {
    if let crate::signal::Strategy::Triangle(c) = &s.opp.strategy {
        return cycle_signal_json(n, s, c);
    }
    let mut v = pair_signal_json(n, s);
    if let crate::signal::Strategy::Pair(p) = &s.opp.strategy {
        v["strategy"] = json!("pair");
        v["pair"] = pair_plan_json(p);
    }
    v
}

fn pair_signal_json(n: &Names, s: &SignalRecord) -> Value {
    let o = &s.opp;
    let q = n.quote_usd.get(o.group as usize).copied().unwrap_or(1.0);
    let (bi, si) = (o.buy.instrument.idx(), o.sell.instrument.idx());
    json!({
        "id": o.id,
        "detected_ns": o.detected_ns,
        "asset": n.groups.get(o.group as usize).cloned().unwrap_or_default(),
        "buy_venue": n.venue(o.buy.venue.idx()),
        "sell_venue": n.venue(o.sell.venue.idx()),
        "buy_symbol": n.symbol(bi),
        "sell_symbol": n.symbol(si),
        "buy_price": n.px(bi, o.buy.top_px),
        "sell_price": n.px(si, o.sell.top_px),
        "buy_limit": n.px(bi, o.buy.limit_px),
        "sell_limit": n.px(si, o.sell.limit_px),
        "buy_qty": n.qty(bi, o.buy.qty),
        "sell_qty": n.qty(si, o.sell.qty),
        "base_qty": o.buy.base.to_f64(),
        "gross_spread_bps": o.gross_spread_bps.to_num::<f64>(),
        "net_spread_bps": o.net_spread_bps.to_num::<f64>(),
        "expected_gross_usd": o.expected_gross_usd.to_f64(),
        "expected_fees_usd": o.expected_fees_usd.to_f64(),
        "expected_profit_usd": o.expected_profit_usd.to_f64(),
        "depth_usd": o.depth_usd.to_f64(),
        "available_base_qty": o.available_base.to_f64(),
        "buy_notional_usd": usd(o.buy.quote, q),
        "confidence": o.confidence.to_num::<f64>(),
        "buy_book_age_ns": o.buy.book_age_ns,
        "sell_book_age_ns": o.sell.book_age_ns,
        "md": {
            "trigger_msg_seq": o.trigger_msg_seq,
            "buy_book_update_id": o.buy.book_seq,
            "sell_book_update_id": o.sell.book_seq,
            "buy_msg_seq": o.buy.book_msg_seq,
            "sell_msg_seq": o.sell.book_msg_seq,
        },
        "traded": s.status == crate::journal::SignalStatus::Traded,
        "reason": if s.status == crate::journal::SignalStatus::Traded { Value::Null } else { json!(s.status.as_str()) },
    })
}

fn leg_json(n: &Names, l: &LegFill, q: f64) -> Value {
    let i = l.instrument.idx();
    let base = l.base.to_f64();
    let quote = usd(l.quote, q);
    let fills: Vec<Value> = l.fills[..l.n_fills as usize]
        .iter()
        .map(|(p, x)| json!([n.px(i, *p), n.qty(i, *x)]))
        .collect();
    json!({
        "venue": n.venue(l.venue.idx()),
        "symbol": n.symbol(i),
        "side": l.side.as_str(),
        "unwind": l.unwind,
        "price": if base != 0.0 { Value::from(quote / base) } else { Value::Null },
        "base_qty": base,
        "quote_qty": quote,
        "fee_usd": usd(l.fee, q),
        "status": l.status.as_str(),
        "order_qty": n.qty(i, l.order_qty),
        "filled_qty": n.qty(i, l.filled_qty),
        "limit_price": if l.limit_px.0 != 0 { Value::from(n.px(i, l.limit_px)) } else { Value::Null },
        "arrival_ns": l.arrival_ns,
        "book_view_ns": l.view_ns,
        "book_msg_seq": l.book_msg_seq,
        "fills": fills,
        "merged_levels": l.merged_levels,
    })
}

/// One line of `trades.jsonl`.
pub fn trade_json(n: &Names, t: &TradeRecord) -> Value {
    match &t.opp.strategy {
        crate::signal::Strategy::Triangle(c) => cycle_trade_json(n, t, c),
        crate::signal::Strategy::Pair(p) => {
            let mut v = pair_trade_json(n, t);
            v["strategy"] = json!("pair");
            v["pair"] = pair_plan_json(p);
            let r = &t.pair;
            v["position"] = json!({
                "id": p.position,
                "side": if p.long_spread { "long_spread" } else { "short_spread" },
                "entry_ns": p.entry_ns,
                "entry_z": p.entry_z_e6 as f64 / 1e6,
                "closed": r.flat,
                "exit_ns": if r.flat { json!(t.done_ns) } else { Value::Null },
                "holding_ns": t.done_ns.saturating_sub(p.entry_ns),
                "held_base": [r.held[0].to_f64(), r.held[1].to_f64()],
                "gross_pnl_usd": r.position_gross.to_f64(),
                "fees_usd": r.fees.to_f64(),
                "net_pnl_usd": r.position_gross.to_f64() - r.fees.to_f64(),
                "pnl_basis": if r.flat { "realised" } else { "marked at this trade's fill prices" },
            });
            v
        }
        crate::signal::Strategy::Spatial => pair_trade_json(n, t),
    }
}

fn pair_trade_json(n: &Names, t: &TradeRecord) -> Value {
    let o = &t.opp;
    let q = n.quote_usd.get(o.group as usize).copied().unwrap_or(1.0);
    let legs: Vec<Value> = t.legs[..t.n_legs as usize]
        .iter()
        .map(|l| leg_json(n, l, q))
        .collect();
    json!({
        "id": t.id,
        "asset": n.groups.get(o.group as usize).cloned().unwrap_or_default(),
        "buy_venue": n.venue(o.buy.venue.idx()),
        "sell_venue": n.venue(o.sell.venue.idx()),
        "detected_ns": o.detected_ns,
        "done_ns": t.done_ns,
        "status": t.status.as_str(),
        "legs": legs,
        "gross_pnl_usd": usd(t.gross_pnl_usd, q),
        "fees_usd": usd(t.fees_usd, q),
        "net_pnl_usd": usd(t.net_pnl_usd, q),
        "residual_base_qty": t.residual_base.to_f64(),
        "residual_mark_usd": usd(t.residual_mark_usd, q),
        "expected_profit_usd": o.expected_profit_usd.to_f64(),
    })
}

// ---- R2.2 triangles and R2.3 pairs in the journals ----------------------------------------

fn pair_plan_json(p: &crate::signal::PairPlan) -> Value {
    json!({
        "position": p.position,
        "action": p.action.as_str(),
        "side": if p.long_spread { "long_spread" } else { "short_spread" },
        "z": p.z_e6 as f64 / 1e6,
        "hedge_ratio": p.hedge_e8 as f64 / 1e8,
    })
}

/// The assets a cycle passes through: leg k spends asset k (a buy's quote, a sell's base).
fn cycle_assets(n: &Names, c: &crate::signal::CyclePlan) -> Vec<String> {
    let mut a: Vec<String> = c
        .legs
        .iter()
        .map(|l| {
            let i = l.instrument.idx();
            match l.side {
                crate::types::Side::Buy => n.quotes.get(i).cloned().unwrap_or_default(),
                crate::types::Side::Sell => n.bases.get(i).cloned().unwrap_or_default(),
            }
        })
        .collect();
    a.push(a[0].clone());
    a
}

fn cycle_signal_json(n: &Names, s: &SignalRecord, c: &crate::signal::CyclePlan) -> Value {
    let o = &s.opp;
    let assets = cycle_assets(n, c);
    let legs: Vec<Value> = c
        .legs
        .iter()
        .map(|l| {
            let i = l.instrument.idx();
            json!({
                "venue": n.venue(l.venue.idx()),
                "symbol": n.symbol(i),
                "side": l.side.as_str(),
                "price": n.px(i, l.top_px),
                "limit": n.px(i, l.limit_px),
                "qty": n.qty(i, l.qty),
                "base_qty": l.base.to_f64(),
                "quote_qty": l.quote.to_f64(),
                "quote_asset": n.quotes.get(i).cloned().unwrap_or_default(),
                "fee": l.fee.to_f64(),
                "book_age_ns": l.book_age_ns,
                "book_update_id": l.book_seq,
                "book_msg_seq": l.book_msg_seq,
            })
        })
        .collect();
    json!({
        "id": o.id,
        "strategy": "triangle",
        "detected_ns": o.detected_ns,
        "venue": n.venue(c.legs[0].venue.idx()),
        "cycle": assets,
        "legs": legs,
        "send": if c.sequential { "sequential" } else { "parallel" },
        "gross_return_bps": o.gross_spread_bps.to_num::<f64>(),
        "net_return_bps": o.net_spread_bps.to_num::<f64>(),
        "start_amount": c.start_amount.to_f64(),
        "end_amount": c.end_amount.to_f64(),
        "expected_gross_usd": o.expected_gross_usd.to_f64(),
        "expected_fees_usd": o.expected_fees_usd.to_f64(),
        "expected_profit_usd": o.expected_profit_usd.to_f64(),
        "depth_usd": o.depth_usd.to_f64(),
        "confidence": o.confidence.to_num::<f64>(),
        "md": { "trigger_msg_seq": o.trigger_msg_seq },
        "traded": s.status == crate::journal::SignalStatus::Traded,
        "reason": if s.status == crate::journal::SignalStatus::Traded { Value::Null } else { json!(s.status.as_str()) },
    })
}

fn cycle_trade_json(n: &Names, t: &TradeRecord, c: &crate::signal::CyclePlan) -> Value {
    let o = &t.opp;
    let legs: Vec<Value> = t.legs[..t.n_legs as usize]
        .iter()
        .map(|l| {
            let i = l.instrument.idx();
            let base = l.base.to_f64();
            let fills: Vec<Value> = l.fills[..l.n_fills as usize]
                .iter()
                .map(|(p, x)| json!([n.px(i, *p), n.qty(i, *x)]))
                .collect();
            json!({
                "venue": n.venue(l.venue.idx()),
                "symbol": n.symbol(i),
                "side": l.side.as_str(),
                "unwind": l.unwind,
                "price": if base != 0.0 { Value::from(l.quote.to_f64() / base) } else { Value::Null },
                "base_qty": base,
                "quote_qty": l.quote.to_f64(),
                "quote_asset": n.quotes.get(i).cloned().unwrap_or_default(),
                "fee": l.fee.to_f64(),
                "status": l.status.as_str(),
                "order_qty": n.qty(i, l.order_qty),
                "filled_qty": n.qty(i, l.filled_qty),
                "limit_price": if l.limit_px.0 != 0 { Value::from(n.px(i, l.limit_px)) } else { Value::Null },
                "arrival_ns": l.arrival_ns,
                "book_msg_seq": l.book_msg_seq,
                "fills": fills,
            })
        })
        .collect();
    json!({
        "id": t.id,
        "strategy": "triangle",
        "venue": n.venue(c.legs[0].venue.idx()),
        "cycle": cycle_assets(n, c),
        "send": if c.sequential { "sequential" } else { "parallel" },
        "detected_ns": o.detected_ns,
        "done_ns": t.done_ns,
        "status": t.status.as_str(),
        "legs": legs,
        "start_amount_planned": c.start_amount.to_f64(),
        "end_amount_planned": c.end_amount.to_f64(),
        "gross_pnl_usd": t.gross_pnl_usd.to_f64(),
        "fees_usd": t.fees_usd.to_f64(),
        "net_pnl_usd": t.net_pnl_usd.to_f64(),
        "residual_mark_usd": t.residual_mark_usd.to_f64(),
        "expected_profit_usd": o.expected_profit_usd.to_f64(),
    })
}

// ---- end of R2.2 / R2.3 journals ----------------------------------------------------------

fn log_line(n: &Names, r: &LogRecord) -> String {
    let sev = match r.severity {
        Severity::Info => "INFO",
        Severity::Warn => "WARN",
        Severity::Error => "ERROR",
    };
    let v = n.venue(r.venue.idx());
    let i = n.symbol(r.instrument.idx());
    let text = String::from_utf8_lossy(&r.text[..r.text_len as usize]).replace('\n', " ");
    let body = match r.code {
        LogCode::Note => format!("note venue={v} text={text:?}"),
        LogCode::ParseError => format!(
            "parse_error venue={v} msg_seq={} prefix={text:?}",
            r.msg_seq
        ),
        LogCode::BookSynced => format!("book_synced venue={v} instrument={i} update_id={}", r.a),
        LogCode::BookInvalid => {
            let reason = match crate::event::InvalidReason::from_i64(r.a) {
                Some(x) => x.as_str().to_string(),
                None => format!("validation_error_{}", r.a - 100),
            };
            format!(
                "book_invalid venue={v} instrument={i} reason={reason} msg_seq={}",
                r.msg_seq
            )
        }
        LogCode::VenueStatus => format!("venue_{} venue={v}", if r.a != 0 { "up" } else { "down" }),
        LogCode::ChecksumMismatch => format!(
            "checksum_mismatch venue={v} instrument={i} expected={} computed={}",
            r.a, r.b
        ),
        LogCode::FeedEnd => format!("feed_end venue={v}"),
        LogCode::TradeDone => format!("trade_done id={} net_pnl_usd={}", r.a, Amount(r.b)),
    };
    format!("{} {sev} {body}\n", iso_ns(r.ts_ns))
}

/// A log file with size-based rotation.
pub struct LogFile {
    path: PathBuf,
    w: BufWriter<File>,
    written: u64,
    max: u64,
    keep: u32,
    /// Lines written.
    pub lines: u64,
    /// Rotations done.
    pub rotations: u64,
}

impl LogFile {
    /// Create (truncate) `path`.
    pub fn create(path: &Path, max_bytes: u64, keep: u32) -> std::io::Result<LogFile> {
        Ok(LogFile {
            w: BufWriter::new(File::create(path)?),
            path: path.to_path_buf(),
            written: 0,
            max: max_bytes.max(4096),
            keep,
            lines: 0,
            rotations: 0,
        })
    }

    /// Append a line (with its newline).
    pub fn write_line(&mut self, s: &str) -> std::io::Result<()> {
        if self.written + s.len() as u64 > self.max {
            self.rotate()?;
        }
        self.w.write_all(s.as_bytes())?;
        self.written += s.len() as u64;
        self.lines += 1;
        Ok(())
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        self.w.flush()?;
        let name = |k: u32| PathBuf::from(format!("{}.{k}", self.path.display()));
        if self.keep > 0 {
            let _ = std::fs::remove_file(name(self.keep));
            for k in (1..self.keep).rev() {
                let _ = std::fs::rename(name(k), name(k + 1));
            }
            std::fs::rename(&self.path, name(1))?;
        }
        self.w = BufWriter::new(File::create(&self.path)?);
        self.written = 0;
        self.rotations += 1;
        Ok(())
    }

    /// Flush to disk.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.w.flush()
    }
}

/// What the cold thread reads.
pub struct LoggerInputs {
    /// Log rings of the feed threads.
    pub feed_logs: Vec<Consumer<LogRecord>>,
    /// Records from detection and execution.
    pub cold: Vec<Consumer<ColdMsg>>,
    /// Per-venue counters (for the periodic line).
    pub counters: Vec<Arc<VenueCounters>>,
    /// Detection progress.
    pub progress: Arc<Progress>,
    /// Set when every hot thread has finished: drain and exit.
    pub done: Arc<AtomicBool>,
}

/// Totals of the cold thread.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct LoggerStats {
    /// Log lines written.
    pub log_lines: u64,
    /// Log rotations.
    pub rotations: u64,
    /// Signals journaled.
    pub signals: u64,
    /// Trades journaled.
    pub trades: u64,
    /// Order state transitions journaled.
    pub order_events: u64,
    /// Periodic statistics lines.
    pub stats_lines: u64,
    /// Write errors (counted; the run continues).
    pub io_errors: u64,
}

fn stats_line(names: &Names, inp: &LoggerInputs, wall_s: f64) -> String {
    let p = &inp.progress;
    let mut s = format!(
        "{} INFO stats wall_s={wall_s:.1} msgs={} signals={} approved={} trades={} net_pnl_usd={:.2}",
        iso_ns(Progress::get(&p.data_ns)),
        Progress::get(&p.messages),
        Progress::get(&p.signals),
        Progress::get(&p.approved),
        Progress::get(&p.trades),
        p.net_pnl_e8.load(Ordering::Relaxed) as f64 / 1e8,
    );
    for (v, c) in inp.counters.iter().enumerate() {
        let g = VenueCounters::get;
        s.push_str(&format!(
            " | {} msgs={} bbo={} depth={} trades={} gaps={} resyncs={} parse_errors={} ring_full={}",
            names.venue(v),
            g(&c.messages),
            g(&c.bbo_updates),
            g(&c.depth_updates),
            g(&c.trades),
            g(&c.gaps),
            g(&c.resyncs),
            g(&c.parse_errors),
            g(&c.ring_full),
        ));
    }
    s.push('\n');
    s
}

/// One line of `orders.jsonl`: one state transition of one order.
pub fn order_json(n: &Names, o: &crate::journal::OrderEvent) -> Value {
    let i = o.instrument.idx();
    json!({
        "ts_ns": o.ts_ns,
        "venue": n.venue(o.venue.idx()),
        "symbol": n.symbol(i),
        "client_order_id": o.client_id,
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

/// Run the cold thread until `done` is set and every ring is drained.
pub fn run(
    names: Names,
    out_dir: &Path,
    log_max_bytes: u64,
    log_keep: u32,
    stats_interval_ns: u64,
    mut inp: LoggerInputs,
) -> std::io::Result<LoggerStats> {
    let mut log = LogFile::create(&out_dir.join("arbot.log"), log_max_bytes, log_keep)?;
    let mut signals = BufWriter::new(File::create(out_dir.join("signals.jsonl"))?);
    let mut trades = BufWriter::new(File::create(out_dir.join("trades.jsonl"))?);
    let mut orders = BufWriter::new(File::create(out_dir.join("orders.jsonl"))?);
    let mut st = LoggerStats::default();
    let start = std::time::Instant::now();
    let mut next_stats = std::time::Duration::from_nanos(stats_interval_ns);
    let mut next_flush = std::time::Duration::from_secs(1);
    log.write_line(&format!(
        "{} INFO start out_dir={}\n",
        iso_ns(crate::clock::Clock::get().now_ns()),
        out_dir.display()
    ))?;
    loop {
        let finishing = inp.done.load(Ordering::Acquire);
        let mut did = 0usize;
        for r in &mut inp.feed_logs {
            while let Some(rec) = r.pop() {
                did += 1;
                if log.write_line(&log_line(&names, &rec)).is_err() {
                    st.io_errors += 1;
                }
            }
        }
        for r in &mut inp.cold {
            while let Some(m) = r.pop() {
                did += 1;
                let res = match m {
                    ColdMsg::Log(rec) => log.write_line(&log_line(&names, &rec)),
                    ColdMsg::Signal(s) => {
                        st.signals += 1;
                        writeln!(signals, "{}", signal_json(&names, &s))
                    }
                    ColdMsg::Trade(t) => {
                        st.trades += 1;
                        let line = format!(
                            "{} INFO trade_done id={} status={} net_pnl_usd={}\n",
                            iso_ns(t.done_ns),
                            t.id,
                            t.status.as_str(),
                            t.net_pnl_usd
                        );
                        let _ = log.write_line(&line);
                        writeln!(trades, "{}", trade_json(&names, &t))
                    }
                    ColdMsg::Order(o) => {
                        st.order_events += 1;
                        writeln!(orders, "{}", order_json(&names, &o))
                    }
                };
                if res.is_err() {
                    st.io_errors += 1;
                }
            }
        }
        let el = start.elapsed();
        if el >= next_flush {
            // journals reach the disk within a second (`tail -f` works)
            next_flush = el + std::time::Duration::from_secs(1);
            for w in [&mut signals, &mut trades, &mut orders] {
                if w.flush().is_err() {
                    st.io_errors += 1;
                }
            }
        }
        if el >= next_stats {
            next_stats = el + std::time::Duration::from_nanos(stats_interval_ns);
            st.stats_lines += 1;
            if log
                .write_line(&stats_line(&names, &inp, el.as_secs_f64()))
                .is_err()
            {
                st.io_errors += 1;
            }
        }
        if finishing && did == 0 {
            break;
        }
        if did == 0 {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
    st.stats_lines += 1;
    let _ = log.write_line(
        &stats_line(&names, &inp, start.elapsed().as_secs_f64()).replacen(
            " stats ",
            " final_stats ",
            1,
        ),
    );
    signals.flush()?;
    trades.flush()?;
    orders.flush()?;
    log.flush()?;
    st.log_lines = log.lines;
    st.rotations = log.rotations;
    Ok(st)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(iso_ns(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            iso_ns(1723161253937085768),
            "2024-08-08T23:54:13.937085768Z"
        );
        assert_eq!(
            iso_ns(951_782_400_000_000_000),
            "2000-02-29T00:00:00.000000000Z"
        );
    }

    #[test]
    fn log_rotates() {
        let dir = std::env::temp_dir().join(format!("arbot-logrot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("arbot.log");
        let mut l = LogFile::create(&p, 4096, 2).unwrap();
        let line = format!("{}\n", "x".repeat(99));
        for _ in 0..200 {
            l.write_line(&line).unwrap();
        }
        l.flush().unwrap();
        assert!(l.rotations >= 4);
        assert!(p.exists() && dir.join("arbot.log.1").exists() && dir.join("arbot.log.2").exists());
        assert!(
            !dir.join("arbot.log.3").exists(),
            "keeps only 2 rotated files"
        );
        assert!(std::fs::metadata(&p).unwrap().len() <= 4096);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
