//! `pnl_curve.csv`: the run's PnL curve (R8.2), written by the cold logger thread.
//!
//! The mark is the engine's mark to market ([`crate::pnl`]): every fill's quote flow and fee
//! plus each instrument's net base change valued at that instrument's mid at that moment
//! ([`crate::pnl::PnlBook::equity_mark`], the figure the loss limits watch). One row per grid
//! time of `run.pnl_curve_interval_ns` (data time; the books as they were at that time), one
//! per finished trade (the mark right after booking it) and a last `end` row at the final
//! books (equal to `report.json` `pnl.mark_to_market_usd`).
//!
//! Columns: `ts_ns` (data time, ns since the epoch), `time_utc`, `kind` (`interval`, `trade`,
//! `end`), `mtm_pnl_usd`, `drawdown_usd` (highest `mtm_pnl_usd` so far minus this one),
//! then for trade rows `trade_id`, `pair` (`<buy venue>><sell venue>`, or
//! `triangle@<venue>`), `status`, `trade_pnl_usd` (the trade's own fills and fees with the
//! base it leaves at the mids when it became final), `fees_usd`, `volume_usd`, and per venue
//! of the config `fees_usd.<venue>`, `volume_usd.<venue>` (its filled legs). USD amounts
//! are printed exactly from the engine's 1e-8 USD integers (8 decimals).
#![forbid(unsafe_code)]

use crate::journal::{CurveKind, CurvePoint};
use crate::logger::Names;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

/// File name in the output directory.
pub const FILE: &str = "pnl_curve.csv";

/// Grid rows written for one interval point at most (a longer silence is shortened to its
/// first and last rows and counted in [`CurveFile::rows_elided`]).
pub const MAX_GRID_ROWS: u64 = 1_000_000;

/// A trade's figures on the curve.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TradeRow {
    /// Trade id.
    pub id: u64,
    /// `<buy venue>><sell venue>` or `triangle@<venue>`.
    pub pair: String,
    /// Outcome (`filled`, `one_leg`, ...).
    pub status: &'static str,
    /// The trade's own mark when it became final, 1e-8 USD.
    pub pnl_e8: i64,
    /// Σ fees of its filled legs, 1e-8 USD.
    pub fees_e8: i64,
    /// Σ notional of its filled legs, 1e-8 USD.
    pub volume_e8: i64,
    /// Per venue (by venue index): fees and notional, 1e-8 USD.
    pub per_venue: Vec<(i64, i64)>,
}

/// One row of the curve.
#[derive(Clone, Debug, PartialEq)]
pub struct CurveRow {
    /// Data time, ns since the epoch.
    pub ts_ns: u64,
    /// Interval, trade or end.
    pub kind: CurveKind,
    /// Mark-to-market PnL of the run, 1e-8 USD.
    pub mtm_e8: i64,
    /// Trade rows.
    pub trade: Option<TradeRow>,
}

/// `-1.23456789` from 1e-8 units, exact.
pub fn e8_str(x: i64) -> String {
    let a = x.unsigned_abs();
    format!(
        "{}{}.{:08}",
        if x < 0 { "-" } else { "" },
        a / 100_000_000,
        a % 100_000_000
    )
}

/// The CSV and the rows kept for the metrics and the plot.
pub struct CurveFile {
    w: BufWriter<File>,
    venues: Vec<String>,
    step_ns: u64,
    /// Rows so far (grid rows included).
    pub rows: Vec<CurveRow>,
    peak_e8: Option<i64>,
    /// Grid rows not written because a silence was longer than [`MAX_GRID_ROWS`].
    pub rows_elided: u64,
    /// Write errors (counted; the run goes on).
    pub io_errors: u64,
}

impl CurveFile {
    /// Create (truncate) `<dir>/pnl_curve.csv` and write the header; `step_ns` is the grid
    /// (`run.pnl_curve_interval_ns`).
    pub fn create(dir: &Path, names: &Names, step_ns: u64) -> std::io::Result<CurveFile> {
        let mut w = BufWriter::new(File::create(dir.join(FILE))?);
        let venues: Vec<String> = (0..names.venue_count())
            .map(|v| names.venue(v).to_string())
            .collect();
        let mut h = String::from(
            "ts_ns,time_utc,kind,mtm_pnl_usd,drawdown_usd,trade_id,pair,status,trade_pnl_usd,fees_usd,volume_usd",
        );
        for v in &venues {
            h.push_str(&format!(",fees_usd.{v},volume_usd.{v}"));
        }
        h.push('\n');
        w.write_all(h.as_bytes())?;
        Ok(CurveFile {
            w,
            venues,
            step_ns,
            rows: Vec::new(),
            peak_e8: None,
            rows_elided: 0,
            io_errors: 0,
        })
    }

    /// Book one point from the detection core: one row, or one per grid time it covers.
    pub fn on_point(&mut self, names: &Names, p: &CurvePoint) {
        match p.kind {
            CurveKind::Interval => self.grid(p),
            CurveKind::Trade => {
                let mut per_venue = vec![(0i64, 0i64); self.venues.len()];
                let (mut fees, mut vol) = (0i64, 0i64);
                for l in &p.legs[..p.n_legs as usize] {
                    if let Some(x) = per_venue.get_mut(l.venue.idx()) {
                        x.0 += l.fee_usd;
                        x.1 += l.volume_usd;
                    }
                    fees += l.fee_usd;
                    vol += l.volume_usd;
                }
                let bv = names.venue(names.instrument_venue(p.buy.idx()));
                let pair = if p.triangle {
                    format!("triangle@{bv}")
                } else {
                    format!("{bv}>{}", names.venue(names.instrument_venue(p.sell.idx())))
                };
                self.push(CurveRow {
                    ts_ns: p.ts_ns,
                    kind: CurveKind::Trade,
                    mtm_e8: p.mtm_usd,
                    trade: Some(TradeRow {
                        id: p.trade_id,
                        pair,
                        status: p.status.as_str(),
                        pnl_e8: p.trade_mark_usd,
                        fees_e8: fees,
                        volume_e8: vol,
                        per_venue,
                    }),
                });
            }
            CurveKind::End => self.push(CurveRow {
                ts_ns: p.ts_ns,
                kind: CurveKind::End,
                mtm_e8: p.mtm_usd,
                trade: None,
            }),
        }
    }

    fn grid(&mut self, p: &CurvePoint) {
        let step = self.step_ns;
        let mut t = p.ts_ns;
        let mut n = 0u64;
        loop {
            self.push(CurveRow {
                ts_ns: t,
                kind: CurveKind::Interval,
                mtm_e8: p.mtm_usd,
                trade: None,
            });
            n += 1;
            if t >= p.last_ns || step == 0 {
                break;
            }
            if n + 1 >= MAX_GRID_ROWS {
                let left = (p.last_ns - t) / step;
                if left > 1 {
                    self.rows_elided += left - 1;
                    t = p.last_ns;
                    continue;
                }
            }
            t += step;
        }
    }

    fn push(&mut self, r: CurveRow) {
        let peak = self.peak_e8.map_or(r.mtm_e8, |p| p.max(r.mtm_e8));
        self.peak_e8 = Some(peak);
        let mut line = format!(
            "{},{},{},{},{}",
            r.ts_ns,
            crate::logger::iso_ns(r.ts_ns),
            kind_str(r.kind),
            e8_str(r.mtm_e8),
            e8_str(peak - r.mtm_e8)
        );
        match &r.trade {
            Some(t) => {
                line.push_str(&format!(
                    ",{},{},{},{},{},{}",
                    t.id,
                    t.pair,
                    t.status,
                    e8_str(t.pnl_e8),
                    e8_str(t.fees_e8),
                    e8_str(t.volume_e8)
                ));
                for (f, v) in &t.per_venue {
                    line.push_str(&format!(",{},{}", e8_str(*f), e8_str(*v)));
                }
            }
            None => {
                line.push_str(",,,,,,");
                for _ in &self.venues {
                    line.push_str(",,");
                }
            }
        }
        line.push('\n');
        if self.w.write_all(line.as_bytes()).is_err() {
            self.io_errors += 1;
        }
        self.rows.push(r);
    }

    /// Hand what is written to the OS.
    pub fn flush(&mut self) {
        if self.w.flush().is_err() {
            self.io_errors += 1;
        }
    }
}

/// `interval`, `trade`, `end`.
pub fn kind_str(k: CurveKind) -> &'static str {
    match k {
        CurveKind::Interval => "interval",
        CurveKind::Trade => "trade",
        CurveKind::End => "end",
    }
}
