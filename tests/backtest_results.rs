//! Backtest results (R8.2): `configs/replay-vip.toml` (it trades) writes `pnl_curve.csv`,
//! `report.json` `backtest`, `pnl.png` and `latency.png`. The metrics are recomputed here from
//! the CSV alone, with this file's own code (no engine function), and must equal the report's.
mod common;

use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;

/// One CSV row, as this test reads it.
#[derive(Debug)]
struct Row {
    ts_ns: u64,
    kind: String,
    mtm: f64,
    drawdown: f64,
    trade_pnl: Option<f64>,
    pair: String,
    fees: f64,
    volume: f64,
    per_venue: BTreeMap<String, (f64, f64)>,
}

fn read_csv(text: &str) -> (Vec<String>, Vec<Row>) {
    let mut lines = text.lines();
    let head: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    let col = |n: &str| head.iter().position(|h| h == n).unwrap();
    let venues: Vec<String> = head
        .iter()
        .filter_map(|h| h.strip_prefix("fees_usd.").map(str::to_string))
        .collect();
    let num = |s: &str| -> f64 { s.parse().unwrap_or_else(|_| panic!("number: {s:?}")) };
    let rows = lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), head.len(), "{l}");
            let trade = f[col("kind")] == "trade";
            let mut per_venue = BTreeMap::new();
            if trade {
                for v in &venues {
                    per_venue.insert(
                        v.clone(),
                        (
                            num(f[col(&format!("fees_usd.{v}"))]),
                            num(f[col(&format!("volume_usd.{v}"))]),
                        ),
                    );
                }
            }
            Row {
                ts_ns: f[col("ts_ns")].parse().unwrap(),
                kind: f[col("kind")].to_string(),
                mtm: num(f[col("mtm_pnl_usd")]),
                drawdown: num(f[col("drawdown_usd")]),
                trade_pnl: trade.then(|| num(f[col("trade_pnl_usd")])),
                pair: f[col("pair")].to_string(),
                fees: if trade { num(f[col("fees_usd")]) } else { 0.0 },
                volume: if trade {
                    num(f[col("volume_usd")])
                } else {
                    0.0
                },
                per_venue,
            }
        })
        .collect();
    (venues, rows)
}

fn close(a: f64, b: f64, what: &str) {
    let tol = 1e-9 * a.abs().max(b.abs()).max(1.0);
    assert!((a - b).abs() <= tol, "{what}: csv {a} vs report {b}");
}

fn f(v: &Value, p: &str) -> f64 {
    v.pointer(p)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("{p}: {v}"))
}

/// PNG width and height from the IHDR chunk (and the signature checked).
fn png_size(p: &std::path::Path) -> (u32, u32) {
    let b = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    assert_eq!(
        &b[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        p.display()
    );
    assert_eq!(&b[12..16], b"IHDR");
    let be = |k: usize| u32::from_be_bytes([b[k], b[k + 1], b[k + 2], b[k + 3]]);
    (be(16), be(20))
}

#[test]
fn vip_replay_metrics_equal_an_independent_computation_from_the_curve() {
    let out = common::tmp("backtest");
    let o = Command::new(env!("CARGO_BIN_EXE_arbot"))
        .args(["run", "--config", "configs/replay-vip.toml", "--out"])
        .arg(&out)
        .current_dir(common::root())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let bt = &report["backtest"];
    let csv = std::fs::read_to_string(out.join("pnl_curve.csv")).unwrap();
    let (venues, rows) = read_csv(&csv);
    assert_eq!(
        venues,
        ["binance-coinm", "binance-spot", "binance-usdm"],
        "a fee and a volume column per venue"
    );

    // the curve: a fixed 1 s grid of data time, trades in between, one end row
    let iv = bt["interval_ns"].as_u64().unwrap();
    assert_eq!(iv, 1_000_000_000, "run.pnl_curve_interval_ns default");
    let grid: Vec<&Row> = rows.iter().filter(|r| r.kind == "interval").collect();
    for w in grid.windows(2) {
        assert_eq!(w[1].ts_ns - w[0].ts_ns, iv, "grid step");
    }
    assert!(
        grid.len() > 300,
        "six minutes on a 1 s grid: {}",
        grid.len()
    );
    assert_eq!(rows.last().unwrap().kind, "end");
    assert_eq!(rows.iter().filter(|r| r.kind == "end").count(), 1);
    for w in rows.windows(2) {
        assert!(w[1].ts_ns >= w[0].ts_ns, "rows in data time order");
    }
    // it starts flat and ends at the report's mark to market
    assert_eq!(rows[0].mtm, 0.0);
    let last = rows.last().unwrap().mtm;
    assert!(
        (last - f(&report, "/pnl/mark_to_market_usd")).abs() < 1e-6,
        "end row {last} vs report pnl.mark_to_market_usd"
    );
    assert!(last < -1.0, "this run loses on the mark: {last}");

    // trades: every one of the report's, with its fees and notional
    let trades: Vec<&Row> = rows.iter().filter(|r| r.kind == "trade").collect();
    assert_eq!(
        trades.len() as u64,
        report["trades"]["attempted"].as_u64().unwrap()
    );
    assert!(trades.len() >= 5, "replay-vip trades: {}", trades.len());
    let fees: f64 = trades.iter().map(|r| r.fees).sum();
    let volume: f64 = trades.iter().map(|r| r.volume).sum();
    assert!(
        (fees - f(&report, "/trades/fees_usd")).abs() < 1e-4,
        "fees {fees} vs trades.fees_usd"
    );
    assert!(
        (volume - f(&report, "/trades/volume_usd")).abs() < 1e-3,
        "turnover {volume} vs trades.volume_usd"
    );
    for t in &trades {
        let (pf, pv): (f64, f64) = t
            .per_venue
            .values()
            .fold((0.0, 0.0), |a, x| (a.0 + x.0, a.1 + x.1));
        assert!((pf - t.fees).abs() < 1e-7 && (pv - t.volume).abs() < 1e-7);
    }

    // drawdown column: highest mark so far minus this one
    let mut peak = f64::MIN;
    for r in &rows {
        peak = peak.max(r.mtm);
        assert!((peak - r.mtm - r.drawdown).abs() < 1e-7, "{r:?}");
    }

    // Sharpe and Sortino on the grid's changes, annualised to a 365-day year
    let ch: Vec<f64> = grid.windows(2).map(|w| w[1].mtm - w[0].mtm).collect();
    let n = ch.len() as f64;
    let mean = ch.iter().sum::<f64>() / n;
    let sd = (ch.iter().map(|c| (c - mean) * (c - mean)).sum::<f64>() / (n - 1.0)).sqrt();
    let down = (ch.iter().map(|c| c.min(0.0) * c.min(0.0)).sum::<f64>() / n).sqrt();
    let ann = (365.0 * 86_400.0 * 1e9 / iv as f64).sqrt();
    close(mean / sd * ann, f(bt, "/sharpe"), "sharpe");
    close(mean / down * ann, f(bt, "/sortino"), "sortino");
    assert_eq!(bt["interval_changes"].as_u64().unwrap(), ch.len() as u64);
    assert!(bt["annualisation"]
        .as_str()
        .unwrap()
        .contains("sqrt(31536000.0)"));

    // maximum drawdown, its peak and duration (to recovery or the last row)
    let (mut pk, mut pk_i, mut dd, mut dd_pk, mut dd_tr) = (f64::MIN, 0, 0.0f64, 0, 0);
    for (i, r) in rows.iter().enumerate() {
        if r.mtm > pk {
            (pk, pk_i) = (r.mtm, i);
        }
        if pk - r.mtm > dd {
            (dd, dd_pk, dd_tr) = (pk - r.mtm, pk_i, i);
        }
    }
    close(dd, f(bt, "/max_drawdown_usd"), "max drawdown");
    assert_eq!(
        bt["max_drawdown"]["peak_ns"].as_u64(),
        Some(rows[dd_pk].ts_ns)
    );
    assert_eq!(
        bt["max_drawdown"]["trough_ns"].as_u64(),
        Some(rows[dd_tr].ts_ns)
    );
    let rec = rows[dd_tr..].iter().find(|r| r.mtm >= rows[dd_pk].mtm);
    let end = rec.map_or(rows.last().unwrap().ts_ns, |r| r.ts_ns);
    assert_eq!(
        bt["max_drawdown"]["duration_ns"].as_u64(),
        Some(end - rows[dd_pk].ts_ns)
    );
    assert_eq!(
        bt["max_drawdown"]["recovered"].as_bool(),
        Some(rec.is_some())
    );

    // win rate, trades per hour, fees, turnover
    let wins = trades.iter().filter(|t| t.trade_pnl.unwrap() > 0.0).count();
    close(
        wins as f64 / trades.len() as f64,
        f(bt, "/win_rate"),
        "win rate",
    );
    let hours = (rows.last().unwrap().ts_ns - rows[0].ts_ns) as f64 / 3.6e12;
    close(
        trades.len() as f64 / hours,
        f(bt, "/trades_per_hour"),
        "trades/hour",
    );
    close(fees, f(bt, "/fees_usd"), "fees");
    close(volume, f(bt, "/turnover_usd"), "turnover");

    // per venue and per pair
    for v in &venues {
        let (vf, vv) = trades
            .iter()
            .map(|t| t.per_venue[v])
            .fold((0.0, 0.0), |a, x| (a.0 + x.0, a.1 + x.1));
        let n = trades.iter().filter(|t| t.per_venue[v].1 != 0.0).count();
        let pv = &bt["per_venue"][v];
        close(vf, f(pv, "/fees_usd"), &format!("{v} fees"));
        close(vv, f(pv, "/turnover_usd"), &format!("{v} turnover"));
        assert_eq!(pv["trades"].as_u64(), Some(n as u64), "{v}");
    }
    let mut pairs: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for t in &trades {
        pairs.entry(t.pair.as_str()).or_default().push(t);
    }
    let rp = bt["per_pair"].as_object().unwrap();
    assert_eq!(rp.len(), pairs.len());
    for (p, ts) in &pairs {
        let x = &rp[*p];
        assert_eq!(x["trades"].as_u64(), Some(ts.len() as u64));
        let pnl: f64 = ts.iter().map(|t| t.trade_pnl.unwrap()).sum();
        close(pnl, f(x, "/pnl_usd"), &format!("{p} pnl"));
        close(
            ts.iter().map(|t| t.fees).sum(),
            f(x, "/fees_usd"),
            &format!("{p} fees"),
        );
    }

    // the plots: PNGs of the drawn size
    assert_eq!(report["plots"]["drawn"], true, "{}", report["plots"]);
    assert_eq!(png_size(&out.join("pnl.png")), (1400, 900));
    assert_eq!(png_size(&out.join("latency.png")), (1400, 900));
    let _ = std::fs::remove_dir_all(&out);
}
