//! Fitting a pair on history: close prices from Binance's kline dump layout
//! (`open_time,open,high,low,close,volume,close_time,...`, one header line, plain or gzip),
//! matched on `open_time`, through the Engle–Granger test. `arbot fit-pair` prints the result
//! as one JSON object; `stat.params_file` reads it back.
#![forbid(unsafe_code)]

use super::coint::{engle_granger, Coint, Workspace};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// Read `(open_time, close)` rows of a kline file, in file order.
pub fn read_closes(path: &Path) -> Result<Vec<(i64, f64)>, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let r: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(f))
    } else {
        Box::new(f)
    };
    let mut out = Vec::new();
    let mut close_col = 4usize;
    let mut time_col = 0usize;
    for (n, line) in BufReader::new(r).lines().enumerate() {
        let line = line.map_err(|e| format!("{}: line {}: {e}", path.display(), n + 1))?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split(',').collect();
        if n == 0 && cols.first().is_some_and(|c| c.parse::<i64>().is_err()) {
            // header: find the columns by name
            time_col = cols.iter().position(|c| *c == "open_time").unwrap_or(0);
            close_col = cols
                .iter()
                .position(|c| *c == "close")
                .ok_or_else(|| format!("{}: no `close` column in the header", path.display()))?;
            continue;
        }
        let bad = |what: &str| format!("{}: line {}: bad {what}", path.display(), n + 1);
        let t: i64 = cols
            .get(time_col)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| bad("open_time"))?;
        let c: f64 = cols
            .get(close_col)
            .and_then(|c| c.parse().ok())
            .filter(|c: &f64| c.is_finite())
            .ok_or_else(|| bad("close"))?;
        out.push((t, c));
    }
    Ok(out)
}

/// Closes of `y` and `x` at the `open_time`s both have, `from ≤ t < to`, in time order.
pub fn matched(
    y: &[(i64, f64)],
    x: &[(i64, f64)],
    from: Option<i64>,
    to: Option<i64>,
) -> (Vec<f64>, Vec<f64>) {
    let mut xs: Vec<(i64, f64)> = x.to_vec();
    xs.sort_by_key(|r| r.0);
    let mut ys: Vec<(i64, f64)> = y.to_vec();
    ys.sort_by_key(|r| r.0);
    let inside = |t: i64| from.is_none_or(|f| t >= f) && to.is_none_or(|e| t < e);
    let (mut oy, mut ox) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < ys.len() && j < xs.len() {
        match ys[i].0.cmp(&xs[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                if inside(ys[i].0) {
                    oy.push(ys[i].1);
                    ox.push(xs[j].1);
                }
                i += 1;
                j += 1;
            }
        }
    }
    (oy, ox)
}

/// `arbot fit-pair`: fit `y` on `x` from two kline files.
pub fn fit_files(y: &Path, x: &Path, from: Option<i64>, to: Option<i64>) -> Result<Coint, String> {
    let (ys, xs) = matched(&read_closes(y)?, &read_closes(x)?, from, to);
    if ys.is_empty() {
        return Err("no common open_time in the range".into());
    }
    let mut ws = Workspace::new(ys.len());
    engle_granger(&mut ws, &ys, &xs).map_err(|e| e.to_string())
}

/// Read a parameter file: the last line that is a JSON object with the fit's fields (the
/// whole output of `arbot fit-pair` redirected to a file works).
pub fn read_params(path: &Path) -> Result<Coint, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let line = text
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or_else(|| format!("{}: no JSON object", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("{}: {e}", path.display()))?;
    let f = |k: &str| -> Result<f64, String> {
        v.get(k)
            .and_then(serde_json::Value::as_f64)
            .ok_or_else(|| format!("{}: `{k}` missing or not a number", path.display()))
    };
    let c = Coint {
        hedge_ratio: f("hedge_ratio")?,
        intercept: f("intercept")?,
        t_stat: f("t_stat").unwrap_or(f64::NEG_INFINITY),
        p_value: f("p_value")?,
        lags: f("lags")? as usize,
        n_obs: f("n_obs")? as usize,
        spread_mean: f("spread_mean")?,
        spread_std: f("spread_std")?,
    };
    if !(c.hedge_ratio.is_finite() && c.spread_std.is_finite() && c.spread_std > 0.0) {
        return Err(format!(
            "{}: hedge_ratio and spread_std must be finite, spread_std > 0",
            path.display()
        ));
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_keeps_common_times_in_range() {
        let y = [(1, 10.0), (2, 11.0), (3, 12.0), (5, 14.0)];
        let x = [(2, 1.0), (3, 2.0), (4, 3.0), (5, 4.0)];
        assert_eq!(
            matched(&y, &x, None, None),
            (vec![11.0, 12.0, 14.0], vec![1.0, 2.0, 4.0])
        );
        assert_eq!(matched(&y, &x, Some(3), Some(5)), (vec![12.0], vec![2.0]));
    }
}
