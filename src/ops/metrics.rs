//! Backtest metrics (R8.2) from the PnL curve ([`super::curve`]): `report.json` `backtest`.
//!
//! Definitions (the README repeats them):
//! - the curve's changes: `mtm_pnl_usd` of each `interval` row minus the one before (a fixed
//!   grid of `run.pnl_curve_interval_ns` data time);
//! - **Sharpe** = mean / sample standard deviation (n − 1) of those changes ×
//!   √(periods per year), a year being 365 days of 24 h (crypto trades every day), so
//!   periods per year = 365 × 86,400 s / interval; no risk-free rate; USD changes, not
//!   returns on a capital base (dividing by a fixed capital would cancel out);
//! - **Sortino** = mean / downside deviation × the same √(periods per year), the downside
//!   deviation being √(Σ min(change, 0)² / n) over all n changes;
//! - **maximum drawdown**: the largest fall of `mtm_pnl_usd` from its highest value so far,
//!   over every row (interval, trade, end); its **duration** runs from that peak's row to the
//!   first later row back at or above the peak, or to the last row when it never recovered;
//! - **win rate**: trades whose own mark when they became final (`trade_pnl_usd`) is > 0,
//!   over all trades;
//! - **trades per hour**: trades over the data time from the first row to the last;
//! - **fees**, **turnover**: Σ of the trades' filled legs (fees, notional), USD; per venue
//!   from the legs on it, per pair (buy venue > sell venue) from its trades.
#![forbid(unsafe_code)]

use super::curve::CurveRow;
use crate::journal::CurveKind;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Seconds in the year the ratios are annualised to (365 days of 24 h).
pub const YEAR_S: f64 = 365.0 * 86_400.0;

fn usd(e8: i64) -> f64 {
    e8 as f64 / 1e8
}

/// The maximum drawdown of a curve: (depth USD, peak index, trough index, recovery index).
fn max_drawdown(rows: &[CurveRow]) -> (i64, usize, usize, Option<usize>) {
    let (mut peak, mut peak_at) = (i64::MIN, 0usize);
    let (mut best, mut best_peak, mut best_trough) = (0i64, 0usize, 0usize);
    for (k, r) in rows.iter().enumerate() {
        if r.mtm_e8 > peak {
            (peak, peak_at) = (r.mtm_e8, k);
        }
        if peak - r.mtm_e8 > best {
            (best, best_peak, best_trough) = (peak - r.mtm_e8, peak_at, k);
        }
    }
    let level = rows.get(best_peak).map_or(0, |r| r.mtm_e8);
    let rec = (best > 0)
        .then(|| {
            rows.iter()
                .enumerate()
                .skip(best_trough)
                .find(|(_, r)| r.mtm_e8 >= level)
                .map(|(k, _)| k)
        })
        .flatten();
    (best, best_peak, best_trough, rec)
}

/// `report.json` `backtest`: the metrics of `rows` (the curve of `pnl_curve.csv`), venue
/// names by index, grid `interval_ns`.
pub fn report(rows: &[CurveRow], venues: &[String], interval_ns: u64) -> Value {
    let changes: Vec<f64> = rows
        .iter()
        .filter(|r| r.kind == CurveKind::Interval)
        .map(|r| usd(r.mtm_e8))
        .collect::<Vec<_>>()
        .windows(2)
        .map(|w| w[1] - w[0])
        .collect();
    let n = changes.len() as f64;
    let per_year = YEAR_S / (interval_ns as f64 / 1e9);
    let mean = if n > 0.0 {
        changes.iter().sum::<f64>() / n
    } else {
        0.0
    };
    let sd = if n > 1.0 {
        (changes.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    let down = if n > 0.0 {
        (changes.iter().map(|c| c.min(0.0).powi(2)).sum::<f64>() / n).sqrt()
    } else {
        0.0
    };
    let ratio = |d: f64| (d > 0.0).then(|| mean / d * per_year.sqrt());
    let (dd, pk, tr, rec) = max_drawdown(rows);
    let ts = |k: usize| rows.get(k).map_or(0, |r| r.ts_ns);
    let last_ts = rows.last().map_or(0, |r| r.ts_ns);
    let first_ts = rows.first().map_or(0, |r| r.ts_ns);
    let span_ns = last_ts.saturating_sub(first_ts);
    let trades: Vec<&super::curve::TradeRow> =
        rows.iter().filter_map(|r| r.trade.as_ref()).collect();
    let wins = trades.iter().filter(|t| t.pnl_e8 > 0).count();
    let fees: i64 = trades.iter().map(|t| t.fees_e8).sum();
    let volume: i64 = trades.iter().map(|t| t.volume_e8).sum();
    let mut per_venue = Map::new();
    for (v, name) in venues.iter().enumerate() {
        let (mut f, mut vol, mut tr_n) = (0i64, 0i64, 0u64);
        for t in &trades {
            if let Some(&(a, b)) = t.per_venue.get(v) {
                f += a;
                vol += b;
                if b != 0 {
                    tr_n += 1;
                }
            }
        }
        per_venue.insert(
            name.clone(),
            json!({"trades": tr_n, "fees_usd": usd(f), "turnover_usd": usd(vol)}),
        );
    }
    let mut pairs: BTreeMap<&str, (u64, u64, i64, i64, i64)> = BTreeMap::new();
    for t in &trades {
        let e = pairs.entry(t.pair.as_str()).or_default();
        e.0 += 1;
        e.1 += (t.pnl_e8 > 0) as u64;
        e.2 += t.pnl_e8;
        e.3 += t.fees_e8;
        e.4 += t.volume_e8;
    }
    let per_pair: Map<String, Value> = pairs
        .into_iter()
        .map(|(k, (n, w, p, f, v))| {
            (
                k.to_string(),
                json!({
                    "trades": n,
                    "wins": w,
                    "win_rate": w as f64 / n as f64,
                    "pnl_usd": usd(p),
                    "fees_usd": usd(f),
                    "turnover_usd": usd(v),
                }),
            )
        })
        .collect();
    json!({
        "curve_file": super::curve::FILE,
        "mark": "the engine's mark to market (src/pnl.rs): every fill's quote flow and fee plus each instrument's net base change at its mid at that moment",
        "interval_ns": interval_ns,
        "rows": rows.len(),
        "interval_changes": changes.len(),
        "first_ns": first_ts,
        "last_ns": last_ts,
        "final_mtm_pnl_usd": rows.last().map(|r| usd(r.mtm_e8)),
        "sharpe": ratio(sd),
        "sortino": ratio(down),
        "annualisation": format!("mean / deviation of the USD changes of the mark per {} s interval x sqrt({per_year:.1}) (periods per 365-day year of 24 h; no risk-free rate)", interval_ns as f64 / 1e9),
        "mean_change_usd": mean,
        "stdev_change_usd": sd,
        "downside_deviation_usd": down,
        "max_drawdown_usd": usd(dd),
        "max_drawdown": {
            "peak_ns": (dd > 0).then(|| ts(pk)),
            "trough_ns": (dd > 0).then(|| ts(tr)),
            "recovered_ns": rec.map(ts),
            "recovered": rec.is_some(),
            "duration_ns": if dd > 0 { rec.map_or(last_ts, ts).saturating_sub(ts(pk)) } else { 0 },
            "duration_rule": "from the peak to the first row back at or above it, or to the last row when it never recovered",
        },
        "trades": trades.len(),
        "wins": wins,
        "win_rate": if trades.is_empty() { 0.0 } else { wins as f64 / trades.len() as f64 },
        "win_rule": "a trade wins when its own fills and fees, with the base it leaves valued at the mids when it became final, are > 0",
        "trades_per_hour": if span_ns > 0 { trades.len() as f64 / (span_ns as f64 / 3.6e12) } else { 0.0 },
        "fees_usd": usd(fees),
        "turnover_usd": usd(volume),
        "per_venue": per_venue,
        "per_pair": per_pair,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ts: u64, kind: CurveKind, usd: f64) -> CurveRow {
        CurveRow {
            ts_ns: ts,
            kind,
            mtm_e8: (usd * 1e8) as i64,
            trade: None,
        }
    }

    #[test]
    fn drawdown_and_its_duration() {
        use CurveKind::Interval as I;
        let s = 1_000_000_000;
        // 0, 5 (peak), 2, -1 (trough: 6 down), 4, 6 (recovered at t=5 s), 3
        let rows: Vec<CurveRow> = [0.0, 5.0, 2.0, -1.0, 4.0, 6.0, 3.0]
            .iter()
            .enumerate()
            .map(|(k, &u)| row(k as u64 * s, I, u))
            .collect();
        let r = report(&rows, &[], s);
        assert_eq!(r["max_drawdown_usd"], 6.0);
        assert_eq!(r["max_drawdown"]["peak_ns"], s);
        assert_eq!(r["max_drawdown"]["trough_ns"], 3 * s);
        assert_eq!(r["max_drawdown"]["duration_ns"], 4 * s);
        // changes 5, -3, -3, 5, 2, -3: mean 0.5; downside sqrt(27/6)
        let mean = 0.5;
        let down = (27.0f64 / 6.0).sqrt();
        let sortino = r["sortino"].as_f64().unwrap();
        assert!((sortino - mean / down * (YEAR_S).sqrt()).abs() < 1e-6);
        // never recovered: to the last row
        let rows2: Vec<CurveRow> = [0.0, 2.0, -1.0]
            .iter()
            .enumerate()
            .map(|(k, &u)| row(k as u64 * s, I, u))
            .collect();
        let r2 = report(&rows2, &[], s);
        assert_eq!(r2["max_drawdown"]["recovered"], false);
        assert_eq!(r2["max_drawdown"]["duration_ns"], s);
        // a flat curve: no ratio
        let flat = vec![row(0, I, 0.0), row(s, I, 0.0)];
        assert!(report(&flat, &[], s)["sharpe"].is_null());
    }
}
