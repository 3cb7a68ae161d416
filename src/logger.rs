//! The cold logger/stats thread (R6.1–R6.3). Hot threads hand it fixed-size records through
//! SPSC rings; it alone formats text and touches files:
//! - `arbot.log`: structured `key=value` lines, rotated at `log_max_bytes` (`arbot.log.1`, ...);
//!   a periodic statistics line every `stats_interval_ns` of wall time, and a final one;
//! - `signals.jsonl`: every opportunity that passed the thresholds, traded or not, with the reason;
//! - `trades.jsonl`: every finished trade with its legs and PnL;
//! - `orders.jsonl`, `fills.jsonl`, `breaker.jsonl`, `daily.jsonl`, `checkpoint.jsonl`
//!   ([`crate::journals`]).
//!
//! Durability: every journal is handed to the OS after each batch (so `tail -f` follows it
//! and a killed process loses nothing it had received), and fsynced at every trade completion
//! and at least every `run.fsync_interval_ns` while anything is written. A checkpoint line is
//! written when both halves of a cut have arrived (the detection core's record through its
//! ring, the execution step's barrier through its own), after the journals it measures.
#![forbid(unsafe_code)]

use crate::config::Setup;
use crate::feed::VenueCounters;
use crate::journal::{
    CheckpointRecord, ColdMsg, LegFill, LogCode, LogRecord, Severity, SignalRecord, TradeRecord,
};
use crate::journals::{Journal, JournalFault, Mismatch, CUT, J};
use crate::ring::Consumer;
use crate::risk::limits::DayRecord;
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
    /// For the bad-data error text ([`crate::health::message`]): the setup and the counters.
    bad_data: Option<(Box<Setup>, Vec<std::sync::Arc<crate::feed::VenueCounters>>)>,
    /// Venue index of each instrument.
    inst_venue: Vec<usize>,
    /// `run.pnl_curve_interval_ns` (the PnL curve's grid, [`crate::ops::curve`]).
    pub curve_interval_ns: u64,
    /// `[status]` (R6.4): the logger thread starts the endpoint and feeds it.
    pub status: Option<crate::ops::status::StatusConfig>,
    /// `replay`, `paper`, `live`.
    pub mode: &'static str,
    /// `[alerts]` (R6.5): the logger thread raises them, a thread of their own sends them.
    pub alerts: Option<crate::ops::alerts::AlertsConfig>,
    /// Per instrument: spot (balances move with its fills).
    spot: Vec<bool>,
    /// Start balances from the config: (venue index, asset, amount).
    pub start_balances: Vec<(usize, String, f64)>,
    /// A replay's files and `replay.max_messages` (the progress line's total); empty when not
    /// a replay.
    pub replay_files: Vec<PathBuf>,
    /// See `replay_files`.
    pub replay_max_messages: u64,
    /// `replay.loops`: the progress line's total is the files' lines times this.
    pub replay_loops: u32,
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
            bad_data: None,
            inst_venue: s.instruments.iter().map(|i| i.venue.idx()).collect(),
            curve_interval_ns: s.cfg.run.pnl_curve_interval_ns,
            status: s.cfg.status.clone(),
            mode: s.cfg.mode.as_str(),
            alerts: s.cfg.alerts.clone(),
            replay_files: if s.cfg.mode == crate::config::Mode::Replay {
                s.replay_files.iter().map(|f| f.path.clone()).collect()
            } else {
                Vec::new()
            },
            replay_max_messages: s.cfg.replay.as_ref().map_or(0, |r| r.max_messages),
            replay_loops: s.cfg.replay.as_ref().map_or(1, |r| r.loops),
            spot: s
                .instruments
                .iter()
                .map(|i| i.kind == crate::instrument::InstrumentKind::Spot)
                .collect(),
            start_balances: s
                .venues
                .iter()
                .flat_map(|v| {
                    v.cfg
                        .balances
                        .iter()
                        .map(move |(a, x)| (v.id.idx(), a.clone(), *x))
                })
                .collect(),
        }
    }

    /// Instrument `i` is spot.
    pub fn is_spot(&self, i: usize) -> bool {
        self.spot.get(i).copied().unwrap_or(false)
    }

    /// Base and quote asset of instrument `i`, upper case.
    pub fn assets(&self, i: usize) -> (&str, &str) {
        (
            self.bases.get(i).map(String::as_str).unwrap_or("?"),
            self.quotes.get(i).map(String::as_str).unwrap_or("?"),
        )
    }

    /// Instruments in the config.
    pub fn instrument_count(&self) -> usize {
        self.symbols.len()
    }

    /// Per venue: its data is bad now ([`crate::health::is_bad`]); all false without the
    /// bad-data context.
    pub fn bad_venues(&self) -> Vec<bool> {
        match &self.bad_data {
            Some((s, c)) => c.iter().map(|c| crate::health::is_bad(s, c)).collect(),
            None => vec![false; self.venues.len()],
        }
    }

    /// Venues in the config.
    pub fn venue_count(&self) -> usize {
        self.venues.len()
    }

    /// Venue index of instrument `i`.
    pub fn instrument_venue(&self, i: usize) -> usize {
        self.inst_venue.get(i).copied().unwrap_or(usize::MAX)
    }

    /// Let bad-data records ([`LogCode::BadData`]) name their cause: the setup and the venues'
    /// counters (the first unparsable message is kept there).
    pub fn with_bad_data(
        mut self,
        s: &Setup,
        counters: Vec<std::sync::Arc<crate::feed::VenueCounters>>,
    ) -> Names {
        self.bad_data = Some((Box::new(s.clone()), counters));
        self
    }
    /// Venue name by index.
    pub fn venue(&self, i: usize) -> &str {
        self.venues.get(i).map(String::as_str).unwrap_or("?")
    }
    /// Symbol by instrument index.
    pub fn symbol(&self, i: usize) -> &str {
        self.symbols.get(i).map(String::as_str).unwrap_or("?")
    }
    /// A price of instrument `inst` as a number.
    pub fn px(&self, inst: usize, p: Price) -> f64 {
        p.0 as f64 / pow10(self.price_dec[inst]) as f64
    }
    /// A quantity of instrument `inst` as a number.
    pub fn qty(&self, inst: usize, q: Qty) -> f64 {
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

fn leg_json(n: &Names, l: &LegFill, q: f64, trade_id: u64, leg: usize) -> Value {
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
        "known_ns": l.known_ns,
        "client_order_id": crate::journals::client_order_id(trade_id, leg as u8),
        "order_units": l.order_qty.0,
        "filled_units": l.filled_qty.0,
        "quote_e8": l.quote.0,
        "base_e8": l.base.0,
        "fee_e8": l.fee.0,
        "fee_asset": match l.fee_asset {
            crate::types::FeeAsset::Quote => "quote".to_string(),
            crate::types::FeeAsset::Base => "base".to_string(),
            crate::types::FeeAsset::Other(c) => String::from_utf8_lossy(&c)
                .trim_end_matches('\0')
                .to_string(),
        },
        "fee_native_e8": l.fee_native.0,
    })
}

/// One line of `trades.jsonl`.
pub fn trade_json(n: &Names, t: &TradeRecord) -> Value {
    let mut v = trade_json_of(n, t);
    // exact notional over all legs (resume rebuilds the trade totals from it)
    v["volume_e8"] = json!(t.volume_usd.0);
    v
}

fn trade_json_of(n: &Names, t: &TradeRecord) -> Value {
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
        .enumerate()
        .map(|(k, l)| leg_json(n, l, q, t.id, k))
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
        "gross_e8": t.gross_pnl_usd.0,
        "fees_e8": t.fees_usd.0,
        "net_e8": t.net_pnl_usd.0,
        "residual_base_e8": t.residual_base.0,
        "residual_mark_e8": t.residual_mark_usd.0,
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
        LogCode::StallReconnect => format!(
            "ring_stall_reconnect venue={v} blocked_ms={}: detection held the feed thread up; \
             reconnecting so the books resync from fresh snapshots",
            r.a
        ),
        LogCode::TradeDone => format!("trade_done id={} net_pnl_usd={}", r.a, Amount(r.b)),
        LogCode::BadData => match &n.bad_data {
            Some((s, c)) if r.venue.idx() < c.len() => format!(
                "bad_data venue={v} errors={} msgs={}: {}",
                r.a,
                r.b,
                crate::health::message(s, r.venue, &c[r.venue.idx()])
            ),
            _ => format!("bad_data venue={v} errors={} msgs={}", r.a, r.b),
        },
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

    /// Open `path` for appending (a resumed run continues its log).
    pub fn append(path: &Path, max_bytes: u64, keep: u32) -> std::io::Result<LogFile> {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        let written = f.metadata()?.len();
        Ok(LogFile {
            w: BufWriter::new(f),
            path: path.to_path_buf(),
            written,
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
    /// How the journals are opened (fresh, appended to, or checked first in a resumed replay).
    pub journals: JournalOptions,
    /// Set by this thread when a resumed replay's lines differ from its journals (the
    /// detection thread then ends the run); the first difference is in `mismatch`.
    pub abort: Arc<AtomicBool>,
    /// The first difference found.
    pub mismatch: Arc<std::sync::Mutex<Option<String>>>,
    /// The rebalancing planner (R5.2), when `[rebalance]` is configured.
    pub rebalance: Option<crate::rebalance::Planner>,
    /// Live: the runtime reconciliation (R5.1), checked from this thread.
    pub reconcile: Option<crate::engine::live::Reconciler>,
}

/// How the cold thread opens the journals.
#[derive(Clone, Debug, Default)]
pub struct JournalOptions {
    /// Config fingerprint written with each checkpoint ([`crate::journals::fingerprint`]).
    pub fingerprint: String,
    /// Append to existing journals and log (a resumed run) instead of creating them.
    pub append: bool,
    /// A resumed replay: per journal of [`CUT`], the committed bytes it will re-derive
    /// (checked line by line, not written again).
    pub verify: Vec<Option<Vec<u8>>>,
    /// A resumed replay catches up until the detection core says so: log lines of messages
    /// before `catch_up_msg` (already in the log) are not written again.
    pub catch_up_msg: Option<u64>,
    /// Daily rows of earlier runs (paper/live resume), kept in `daily.jsonl`.
    pub days: Vec<DayRecord>,
    /// fsync at least this often while writing (wall time), ns.
    pub fsync_interval_ns: u64,
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
    /// Periodic statistics lines.
    pub stats_lines: u64,
    /// Write errors (counted; the run continues).
    pub io_errors: u64,
    /// Order transitions journaled (`orders.jsonl` lines).
    pub order_lines: u64,
    /// Fills journaled.
    pub fills: u64,
    /// Breaker transitions journaled.
    pub breaker: u64,
    /// Checkpoints written.
    pub checkpoints: u64,
    /// fsync rounds.
    pub fsyncs: u64,
    /// A resumed replay's re-derived lines found equal to the committed ones.
    pub verified_lines: u64,
    /// Lines appended to the journals by this run.
    pub appended_lines: u64,
    /// Rebalancing plans journaled (`rebalance.jsonl`).
    pub rebalance_lines: u64,
    /// Those plans, in order (for `report.json` `rebalance.plans`).
    #[serde(skip)]
    pub rebalance_plans: Vec<Value>,
    /// Live: what the runtime reconciliation did (for `report.json`
    /// `inventory.reconciliation`).
    #[serde(skip)]
    pub reconciliation: Option<crate::engine::live::RuntimeReconciliation>,
    /// The PnL curve's rows (`pnl_curve.csv`; for `report.json` `backtest` and `pnl.png`).
    #[serde(skip)]
    pub curve: Vec<crate::ops::curve::CurveRow>,
    /// What the webhook alerts did (R6.5), when `[alerts]` is set.
    pub alerts: Option<crate::ops::alerts::AlertStats>,
    /// Grid rows of the curve left out of a silence longer than
    /// [`crate::ops::curve::MAX_GRID_ROWS`] intervals.
    pub curve_rows_elided: u64,
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

/// The log line of a rebalancing plan: the asset, what triggered it, each venue's drift and
/// each transfer with its network.
fn rebalance_log_line(v: &Value) -> String {
    let mut s = format!(
        "{} {} rebalance asset={} trigger={} trade_id={}",
        iso_ns(v["ts_ns"].as_u64().unwrap_or(0)),
        if v["beyond"].as_bool() == Some(true) {
            "WARN"
        } else {
            "INFO"
        },
        v["asset"].as_str().unwrap_or("?"),
        v["trigger"].as_str().unwrap_or("?"),
        v["trade_id"],
    );
    for x in v["venues"].as_array().into_iter().flatten() {
        s.push_str(&format!(
            " | {} balance={} share_pct={} target_pct={} drift_pct={}",
            x["venue"].as_str().unwrap_or("?"),
            x["balance"],
            x["share_pct"],
            x["target_pct"],
            x["drift_pct"]
        ));
    }
    for t in v["transfers"].as_array().into_iter().flatten() {
        s.push_str(&format!(
            " | move {} from {} to {} over {} fee={} min={} confirm_s={} by_trading_cost_usd={}",
            t["amount"],
            t["from"].as_str().unwrap_or("?"),
            t["to"].as_str().unwrap_or("?"),
            t["network"].as_str().unwrap_or("?"),
            t["withdraw_fee"],
            t["withdraw_min"],
            t["confirm_time_s"],
            t["by_trading"]["cost_usd"]
        ));
    }
    s.push_str(" (plan only: rebalance.execute = false)\n");
    s
}

/// The cold thread's files.
struct Files {
    dir: PathBuf,
    log: LogFile,
    journals: Vec<Journal>,
    checkpoint: Journal,
    fingerprint: String,
    days: std::collections::BTreeMap<u64, DayRecord>,
    /// A resumed replay's catch-up: log lines of earlier messages are not repeated.
    catch_up_msg: Option<u64>,
    catch_up_over: bool,
    trade_written: bool,
    unsynced: bool,
    syncer: Option<crate::journals::Syncer>,
    /// First mismatch (a resumed replay's journals disagree): nothing more is written.
    broken: Option<String>,
    abort: Arc<AtomicBool>,
    /// The rebalancing planner (R5.2).
    planner: Option<crate::rebalance::Planner>,
    /// The runtime reconciliation (R5.1, live).
    reconciler: Option<crate::engine::live::Reconciler>,
    /// `pnl_curve.csv` (R8.2); `None` if it could not be created (counted in `io_errors`).
    curve: Option<crate::ops::curve::CurveFile>,
    /// The status endpoint (R6.4), when `[status]` is set.
    status: Option<crate::ops::status::StatusServer>,
    /// Webhook alerts (R6.5), when `[alerts]` is set.
    alerts: Option<crate::ops::alerts::Alerter>,
}

impl Files {
    fn fail(&mut self, f: JournalFault) {
        if self.broken.is_none() {
            let code = match f {
                JournalFault::Mismatch(_) => "journal_mismatch",
                JournalFault::Write { .. } => "journal_write_failed",
            };
            let m = f.to_string();
            let _ = self.log.write_line(&format!(
                "{} ERROR {code} {}\n",
                iso_ns(crate::clock::Clock::get().now_ns()),
                m.replace('\n', " | ")
            ));
            let _ = self.log.flush();
            self.broken = Some(m);
            self.abort.store(true, Ordering::Relaxed);
        }
    }

    /// A journal line; `Ok(true)` if it is new (not a re-derived committed one).
    fn line(&mut self, j: J, v: &Value, st: &mut LoggerStats) -> bool {
        if self.broken.is_some() {
            return false;
        }
        match self.journals[j as usize].line(&v.to_string()) {
            Ok(new) => {
                if new {
                    st.appended_lines += 1;
                    self.unsynced = true;
                } else {
                    st.verified_lines += 1;
                }
                new
            }
            Err(f) => {
                self.fail(f);
                false
            }
        }
    }

    fn log(&mut self, line: &str, st: &mut LoggerStats) {
        if self.log.write_line(line).is_err() {
            st.io_errors += 1;
        }
    }

    fn check_verified(&mut self) {
        if let Some(j) = self.journals.iter().find(|j| j.verifying()) {
            let m = Mismatch {
                file: j.name,
                line: j.verified + 1,
                journal: format!("{} committed lines not re-derived", j.unverified_lines()),
                replay: "nothing".into(),
            };
            self.fail(JournalFault::Mismatch(m));
        }
    }

    /// Hand everything to the OS and have the sync thread fsync it.
    fn sync(&mut self, st: &mut LoggerStats) {
        self.flush(st);
        if let Err(f) = self.checkpoint.flush() {
            st.io_errors += 1;
            self.fail(f);
        }
        match &self.syncer {
            Some(s) => s.request(),
            None => self.sync_now(st),
        }
        st.fsyncs += 1;
        self.unsynced = false;
        self.trade_written = false;
    }

    /// fsync here and now (the end of the run).
    fn sync_now(&mut self, st: &mut LoggerStats) {
        let mut fault = None;
        for j in self
            .journals
            .iter_mut()
            .chain(std::iter::once(&mut self.checkpoint))
        {
            if let Err(f) = j.sync() {
                fault.get_or_insert(f);
            }
        }
        let log_err = self.log.flush().is_err();
        if fault.is_some() || log_err {
            st.io_errors += 1;
        }
        if let Some(f) = fault {
            self.fail(f);
        }
    }

    fn flush(&mut self, st: &mut LoggerStats) {
        if let Some(c) = self.curve.as_mut() {
            c.flush();
        }
        let mut fault = None;
        for j in &mut self.journals {
            if let Err(f) = j.flush() {
                fault.get_or_insert(f);
            }
        }
        let log_err = self.log.flush().is_err();
        if fault.is_some() || log_err {
            st.io_errors += 1;
        }
        if let Some(f) = fault {
            self.fail(f);
        }
    }

    fn write_checkpoint(&mut self, c: &CheckpointRecord, sync_due: bool, st: &mut LoggerStats) {
        if self.broken.is_some() {
            return;
        }
        // a resumed replay's first cut after its catch-up: every committed line must have
        // been re-derived by now
        self.check_verified();
        if self.broken.is_some() {
            return;
        }
        self.flush(st);
        if sync_due || c.ended {
            self.sync(st);
        }
        let v = crate::journals::checkpoint_line(c, &self.fingerprint, &self.journals);
        if let Err(f) = self
            .checkpoint
            .line(&v.to_string())
            .and_then(|_| self.checkpoint.flush())
        {
            st.io_errors += 1;
            self.fail(f);
            return;
        }
        st.checkpoints += 1;
        self.unsynced = true;
    }

    fn write_days(&mut self, st: &mut LoggerStats) {
        let mut text = String::new();
        for d in self.days.values() {
            text.push_str(&crate::journals::day_line(d).to_string());
            text.push('\n');
        }
        if crate::journals::write_atomic(&self.dir, crate::journals::DAILY, &text).is_err() {
            st.io_errors += 1;
        }
    }

    fn record(&mut self, names: &Names, from_det: bool, m: ColdMsg, st: &mut LoggerStats) {
        if let Some(s) = self.status.as_mut() {
            s.on_record(names, &m);
        }
        if let Some(a) = self.alerts.as_mut() {
            a.on_record(names, &m);
        }
        match m {
            ColdMsg::Log(rec) => {
                let repeat = from_det && self.catch_up_msg.is_some() && !self.catch_up_over;
                if !repeat {
                    self.log(&log_line(names, &rec), st);
                }
            }
            ColdMsg::Signal(s) => {
                st.signals += 1;
                self.line(J::Signals, &signal_json(names, &s), st);
            }
            ColdMsg::Trade(t) => {
                st.trades += 1;
                if let Some(r) = self.reconciler.as_mut() {
                    r.on_trade(&t);
                }
                if self.line(J::Trades, &trade_json(names, &t), st) {
                    self.trade_written = true;
                    let line = format!(
                        "{} INFO trade_done id={} status={} net_pnl_usd={}\n",
                        iso_ns(t.done_ns),
                        t.id,
                        t.status.as_str(),
                        t.net_pnl_usd
                    );
                    self.log(&line, st);
                }
            }
            ColdMsg::Order(o) => {
                st.order_lines += 1;
                self.line(J::Orders, &crate::journals::order_line(names, &o), st);
            }
            ColdMsg::Fill(f) => {
                if let Some(v) = crate::journals::fill_line(names, &f) {
                    st.fills += 1;
                    self.line(J::Fills, &v, st);
                }
            }
            ColdMsg::Breaker(b) => {
                st.breaker += 1;
                if self.line(J::Breaker, &crate::journals::breaker_line(&b), st) {
                    let line = format!(
                        "{} {} breaker {} -> {} cause={} msg_seq={} equity_usd={} drawdown_pct={:.4} consecutive_losses={}\n",
                        iso_ns(b.data_ns),
                        if b.to == crate::risk::limits::BreakerState::Open { "WARN" } else { "INFO" },
                        b.from.as_str(),
                        b.to.as_str(),
                        b.cause.as_str(),
                        b.msg_seq,
                        Amount(b.equity_e8),
                        b.drawdown_ppm as f64 / 10_000.0,
                        b.consecutive_losses
                    );
                    self.log(&line, st);
                }
            }
            ColdMsg::Day(d) => {
                self.days.insert(d.day, d);
                if self.broken.is_none() {
                    self.write_days(st);
                }
            }
            ColdMsg::CatchUpEnd => {
                self.catch_up_over = true;
                let line = format!(
                    "{} INFO resume caught_up msg={} verified_lines={}\n",
                    iso_ns(crate::clock::Clock::get().now_ns()),
                    self.catch_up_msg.unwrap_or(0),
                    st.verified_lines
                );
                self.log(&line, st);
            }
            ColdMsg::Depth(d) => {
                if let Some(p) = self.planner.as_mut() {
                    p.on_depth(&d);
                }
            }
            ColdMsg::Holdings(h) => {
                let lines = match self.planner.as_mut() {
                    Some(p) => p.on_holdings(&h),
                    None => Vec::new(),
                };
                for v in lines {
                    st.rebalance_lines += 1;
                    if self.line(J::Rebalance, &v, st) {
                        self.log(&rebalance_log_line(&v), st);
                    }
                }
            }
            ColdMsg::Curve(p) => {
                if let Some(c) = self.curve.as_mut() {
                    c.on_point(names, &p);
                }
            }
            // handled by the barrier logic
            ColdMsg::Checkpoint(_) | ColdMsg::Barrier(_) => {}
        }
    }
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
    let jo = std::mem::take(&mut inp.journals);
    let log_path = out_dir.join("arbot.log");
    let log = if jo.append {
        LogFile::append(&log_path, log_max_bytes, log_keep)?
    } else {
        LogFile::create(&log_path, log_max_bytes, log_keep)?
    };
    let mut journals = Vec::with_capacity(CUT.len());
    for (k, name) in CUT.iter().enumerate() {
        let verify = jo.verify.get(k).cloned().flatten();
        journals.push(Journal::open(out_dir, name, jo.append, verify)?);
    }
    let checkpoint = Journal::open(out_dir, crate::journals::CHECKPOINT, jo.append, None)?;
    let mut handles = Vec::with_capacity(CUT.len() + 1);
    for j in journals.iter().chain(std::iter::once(&checkpoint)) {
        handles.push(j.file_handle()?);
    }
    let syncer = Some(crate::journals::Syncer::start(handles)?);
    let mut f = Files {
        dir: out_dir.to_path_buf(),
        log,
        journals,
        checkpoint,
        fingerprint: jo.fingerprint.clone(),
        days: jo.days.iter().map(|d| (d.day, *d)).collect(),
        catch_up_msg: jo.catch_up_msg,
        catch_up_over: false,
        trade_written: false,
        unsynced: false,
        syncer,
        broken: None,
        abort: inp.abort.clone(),
        planner: inp.rebalance.take(),
        reconciler: inp.reconcile.take(),
        curve: None,
        status: None,
        alerts: None,
    };
    let mut st = LoggerStats::default();
    match crate::ops::curve::CurveFile::create(out_dir, &names, names.curve_interval_ns) {
        Ok(c) => f.curve = Some(c),
        Err(e) => {
            st.io_errors += 1;
            f.log(
                &format!(
                    "{} ERROR pnl_curve_not_written file={} error={e:?}\n",
                    iso_ns(crate::clock::Clock::get().now_ns()),
                    crate::ops::curve::FILE
                ),
                &mut st,
            );
        }
    }
    if !jo.append {
        // a fresh run: no daily rows of an earlier one
        let _ = std::fs::remove_file(out_dir.join(crate::journals::DAILY));
    }
    if let Some(cfg) = &names.status {
        match crate::ops::status::StatusServer::start(cfg, names.mode, &names) {
            Ok(s) => {
                f.log(
                    &format!(
                        "{} INFO status_endpoint listening=http://{}/\n",
                        iso_ns(crate::clock::Clock::get().now_ns()),
                        s.addr
                    ),
                    &mut st,
                );
                f.status = Some(s);
            }
            Err(e) => {
                f.log(
                    &format!(
                        "{} ERROR status_endpoint_not_started error={:?}\n",
                        iso_ns(crate::clock::Clock::get().now_ns()),
                        e.to_string()
                    ),
                    &mut st,
                );
            }
        }
    }
    if let Some(cfg) = &names.alerts {
        match crate::ops::alerts::Alerter::start(cfg, names.start_balances.clone()) {
            Ok(a) => f.alerts = Some(a),
            Err(e) => {
                st.io_errors += 1;
                f.log(
                    &format!(
                        "{} ERROR alerts_not_started error={:?}\n",
                        iso_ns(crate::clock::Clock::get().now_ns()),
                        e.to_string()
                    ),
                    &mut st,
                );
            }
        }
    }
    let mut progress = if names.replay_files.is_empty() {
        None
    } else {
        crate::ops::progress::ProgressLine::start(
            names.replay_files.clone(),
            names.replay_max_messages,
            names.replay_loops,
        )
    };
    let start = std::time::Instant::now();
    let mut next_stats = std::time::Duration::from_nanos(stats_interval_ns);
    let fsync_every = std::time::Duration::from_nanos(jo.fsync_interval_ns.max(1_000_000));
    let mut last_sync = std::time::Instant::now();
    f.log.write_line(&format!(
        "{} INFO start out_dir={}{}\n",
        iso_ns(crate::clock::Clock::get().now_ns()),
        out_dir.display(),
        match jo.catch_up_msg {
            Some(m) => format!(" resume=replay catch_up_until_msg={m}"),
            None if jo.append => " resume=continue".to_string(),
            None => String::new(),
        }
    ))?;
    // a cut waits for both halves: detection's record (ring 0) and execution's barrier (ring 1)
    let mut held_ckpt: Option<CheckpointRecord> = None;
    let mut held_barrier: Option<u64> = None;
    loop {
        let finishing = inp.done.load(Ordering::Acquire);
        let mut did = 0usize;
        for r in &mut inp.feed_logs {
            while let Some(rec) = r.pop() {
                did += 1;
                let repeat = f.catch_up_msg.is_some_and(|m| rec.msg_seq < m) && !f.catch_up_over;
                if let Some(s) = f.status.as_mut() {
                    s.on_record(&names, &ColdMsg::Log(rec));
                }
                if let Some(a) = f.alerts.as_mut() {
                    a.on_record(&names, &ColdMsg::Log(rec));
                }
                if !repeat {
                    f.log(&log_line(&names, &rec), &mut st);
                }
            }
        }
        for (ri, r) in inp.cold.iter_mut().enumerate() {
            loop {
                if (ri == 0 && held_ckpt.is_some()) || (ri == 1 && held_barrier.is_some()) {
                    break;
                }
                let Some(m) = r.pop() else {
                    break;
                };
                did += 1;
                match m {
                    ColdMsg::Checkpoint(c) => held_ckpt = Some(c),
                    ColdMsg::Barrier(b) => held_barrier = Some(b),
                    m => f.record(&names, ri == 0, m, &mut st),
                }
            }
        }
        let sync_due = f.trade_written || (f.unsynced && last_sync.elapsed() >= fsync_every);
        match (held_ckpt, held_barrier) {
            (Some(c), Some(b)) if c.seq == b => {
                f.write_checkpoint(&c, sync_due, &mut st);
                if sync_due || c.ended {
                    last_sync = std::time::Instant::now();
                }
                held_ckpt = None;
                held_barrier = None;
            }
            (Some(c), Some(b)) => {
                // cannot happen (both halves come in order); never wait forever on it
                f.log(
                    &format!(
                        "{} ERROR checkpoint halves out of step: {} vs {}\n",
                        iso_ns(crate::clock::Clock::get().now_ns()),
                        c.seq,
                        b
                    ),
                    &mut st,
                );
                held_ckpt = None;
                held_barrier = None;
            }
            _ => {}
        }
        if let Some(r) = f.reconciler.as_mut() {
            let lines = r.poll();
            for l in &lines {
                f.log(l, &mut st);
                // R5.1: a balance difference that halted a venue is also an alert (R6.5)
                if let (Some(a), true) = (f.alerts.as_mut(), l.contains(" ERROR reconciliation ")) {
                    a.on_reconciliation(l);
                }
            }
            did += lines.len();
        }
        if did > 0 {
            f.flush(&mut st);
        }
        if let Some(s) = f.status.as_mut() {
            s.tick(&mut inp, &names.bad_venues(), false);
        }
        if let Some(a) = f.alerts.as_mut() {
            a.tick(&names);
        }
        if let Some(p) = progress.as_mut() {
            p.tick(
                Progress::get(&inp.progress.messages),
                Progress::get(&inp.progress.data_ns),
            );
        }
        if f.trade_written || (f.unsynced && last_sync.elapsed() >= fsync_every) {
            f.sync(&mut st);
            last_sync = std::time::Instant::now();
        }
        let el = start.elapsed();
        if el >= next_stats {
            next_stats = el + std::time::Duration::from_nanos(stats_interval_ns);
            st.stats_lines += 1;
            let line = stats_line(&names, &inp, el.as_secs_f64());
            f.log(&line, &mut st);
        }
        if finishing && did == 0 {
            break;
        }
        if did == 0 {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
    if f.catch_up_over {
        f.check_verified();
    }
    st.stats_lines += 1;
    let line = stats_line(&names, &inp, start.elapsed().as_secs_f64()).replacen(
        " stats ",
        " final_stats ",
        1,
    );
    f.log(&line, &mut st);
    if let Some(s) = f.syncer.take() {
        let (_, errors) = s.finish();
        st.io_errors += errors;
    }
    f.sync_now(&mut st);
    st.fsyncs += 1;
    if let Some(m) = f.broken.take() {
        if let Ok(mut x) = inp.mismatch.lock() {
            *x = Some(m);
        }
    }
    if let Some(r) = f.reconciler.take() {
        st.reconciliation = Some(r.report);
    }
    if let Some(p) = f.planner.take() {
        st.rebalance_plans = p.journaled;
    }
    if let Some(p) = progress.take() {
        p.finish();
    }
    if let Some(a) = f.alerts.take() {
        st.alerts = Some(a.finish());
    }
    if let Some(mut s) = f.status.take() {
        // the final figures, served `status.linger_ms` more
        s.tick(&mut inp, &names.bad_venues(), true);
        s.finish();
    }
    if let Some(c) = f.curve.take() {
        st.io_errors += c.io_errors;
        st.curve_rows_elided = c.rows_elided;
        // the curve is read back from its file (not kept in memory during the run)
        match c.finish() {
            Ok(rows) => st.curve = rows,
            Err(e) => {
                st.io_errors += 1;
                let _ = f.log.write_line(&format!(
                    "{} ERROR pnl_curve_read_back error={e:?} (report.json backtest and the plots are left out)\n",
                    iso_ns(crate::clock::Clock::get().now_ns())
                ));
            }
        }
    }
    st.log_lines = f.log.lines;
    st.rotations = f.log.rotations;
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
