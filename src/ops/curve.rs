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

/// Exact 1e-8 units from [`e8_str`]'s text (`-1.23456789`, up to 8 decimals); `None` for
/// anything else.
pub fn parse_e8(s: &str) -> Option<i64> {
    let (neg, t) = match s.strip_prefix('-') {
        Some(t) => (true, t),
        None => (false, s),
    };
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    if int.is_empty()
        || frac.len() > 8
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let mut f: i64 = frac.parse().unwrap_or(0);
    for _ in frac.len()..8 {
        f *= 10;
    }
    let v = int
        .parse::<i64>()
        .ok()?
        .checked_mul(100_000_000)?
        .checked_add(f)?;
    Some(if neg { -v } else { v })
}

/// The CSV. Rows are not kept in memory while the run goes (a 1 s grid is 86,400 rows a day of
/// data, ~100 B each); [`read_back`] reads the file for the end-of-run metrics and plots.
pub struct CurveFile {
    w: BufWriter<File>,
    path: std::path::PathBuf,
    venues: Vec<String>,
    step_ns: u64,
    /// Rows written so far (grid rows included).
    pub rows_written: u64,
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
        let path = dir.join(FILE);
        let mut w = BufWriter::new(File::create(&path)?);
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
            path,
            venues,
            step_ns,
            rows_written: 0,
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
        self.rows_written += 1;
    }

    /// Hand what is written to the OS.
    pub fn flush(&mut self) {
        if self.w.flush().is_err() {
            self.io_errors += 1;
        }
    }

    /// Flush, then read the whole curve back from the file ([`read_back`]); an error when
    /// the file cannot be read or holds other than the rows written.
    pub fn finish(mut self) -> Result<Vec<CurveRow>, String> {
        self.flush();
        let rows = read_back(&self.path, self.venues.len())?;
        if rows.len() as u64 != self.rows_written {
            return Err(format!(
                "{}: {} rows read back, {} written",
                self.path.display(),
                rows.len(),
                self.rows_written
            ));
        }
        Ok(rows)
    }
}

/// The rows of a `pnl_curve.csv` written for `n_venues` venues, in file order. Errors name the
/// file, the line and the column.
pub fn read_back(path: &Path, n_venues: usize) -> Result<Vec<CurveRow>, String> {
    use std::io::BufRead;
    let f = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut rows = Vec::new();
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
        if i == 0 {
            continue;
        }
        let bad = |what: &str| format!("{} line {}: {what}", path.display(), i + 1);
        let c: Vec<&str> = line.split(',').collect();
        if c.len() != 11 + 2 * n_venues {
            return Err(bad(&format!(
                "{} columns, {} expected",
                c.len(),
                11 + 2 * n_venues
            )));
        }
        let kind = match c[2] {
            "interval" => CurveKind::Interval,
            "trade" => CurveKind::Trade,
            "end" => CurveKind::End,
            k => return Err(bad(&format!("kind {k:?}"))),
        };
        let e8 = |j: usize, name: &str| parse_e8(c[j]).ok_or_else(|| bad(name));
        let trade = if kind == CurveKind::Trade {
            let mut per_venue = Vec::with_capacity(n_venues);
            for v in 0..n_venues {
                per_venue.push((
                    e8(11 + 2 * v, "fees_usd.<venue>")?,
                    e8(12 + 2 * v, "volume_usd.<venue>")?,
                ));
            }
            Some(TradeRow {
                id: c[5].parse().map_err(|_| bad("trade_id"))?,
                pair: c[6].to_string(),
                status: crate::journal::TradeStatus::parse(c[7])
                    .ok_or_else(|| bad("status"))?
                    .as_str(),
                pnl_e8: e8(8, "trade_pnl_usd")?,
                fees_e8: e8(9, "fees_usd")?,
                volume_e8: e8(10, "volume_usd")?,
                per_venue,
            })
        } else {
            None
        };
        rows.push(CurveRow {
            ts_ns: c[0].parse().map_err(|_| bad("ts_ns"))?,
            kind,
            mtm_e8: e8(3, "mtm_pnl_usd")?,
            trade,
        });
    }
    Ok(rows)
}

/// `interval`, `trade`, `end`.
pub fn kind_str(k: CurveKind) -> &'static str {
    match k {
        CurveKind::Interval => "interval",
        CurveKind::Trade => "trade",
        CurveKind::End => "end",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e8_text_reads_back_exactly() {
        for x in [
            0i64,
            1,
            -1,
            99_999_999,
            100_000_000,
            -123_456_789_012,
            i64::MAX,
            i64::MIN + 1,
        ] {
            assert_eq!(parse_e8(&e8_str(x)), Some(x), "{}", e8_str(x));
        }
        assert_eq!(parse_e8("1.5"), Some(150_000_000));
        assert_eq!(parse_e8("-0.00000001"), Some(-1));
        for bad in ["", "-", ".5", "1.123456789", "1e3", "1.2.3", "x", "1,0"] {
            assert_eq!(parse_e8(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_curve_file_reads_back_row_for_row_and_names_a_bad_line() {
        let dir = std::env::temp_dir().join(format!("arbot-curve-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(FILE);
        let head = "ts_ns,time_utc,kind,mtm_pnl_usd,drawdown_usd,trade_id,pair,status,trade_pnl_usd,fees_usd,volume_usd,fees_usd.a,volume_usd.a,fees_usd.b,volume_usd.b\n";
        let body = concat!(
            "1000,t,interval,0.00000000,0.00000000,,,,,,,,,,\n",
            "1500,t,trade,-1.25000000,1.25000000,7,a>b,one_leg,-1.25000000,0.50000000,200.00000000,0.20000000,100.00000000,0.30000000,100.00000000\n",
            "2000,t,end,-1.00000000,1.00000000,,,,,,,,,,\n",
        );
        std::fs::write(&p, format!("{head}{body}")).unwrap();
        let rows = read_back(&p, 2).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(
            (rows[0].ts_ns, rows[0].kind, rows[0].mtm_e8),
            (1000, CurveKind::Interval, 0)
        );
        let t = rows[1].trade.as_ref().unwrap();
        assert_eq!(rows[1].mtm_e8, -125_000_000);
        assert_eq!(
            (t.id, t.pair.as_str(), t.status, t.fees_e8, t.volume_e8),
            (7, "a>b", "one_leg", 50_000_000, 20_000_000_000)
        );
        assert_eq!(
            t.per_venue,
            vec![(20_000_000, 10_000_000_000), (30_000_000, 10_000_000_000)]
        );
        assert_eq!(
            (rows[2].kind, rows[2].mtm_e8),
            (CurveKind::End, -100_000_000)
        );
        // a broken row: the error names the line and the column
        std::fs::write(
            &p,
            format!(
                "{head}{}",
                body.replace("-1.25000000,0.5", "-1.25000000,x0.5")
            ),
        )
        .unwrap();
        let e = read_back(&p, 2).unwrap_err();
        assert!(e.contains("line 3") && e.contains("fees_usd"), "{e}");
        // the wrong venue count
        let e = read_back(&p, 1).unwrap_err();
        assert!(e.contains("line 2") && e.contains("columns"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
