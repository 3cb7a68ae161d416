//! Engle–Granger two-step cointegration test, as `statsmodels.tsa.stattools.coint(y, x)` with
//! its defaults (`trend = "c"`, `autolag = "aic"`, `maxlag = None`) computes it:
//!
//! 1. OLS of `y` on `x` and a constant: hedge ratio `b`, intercept `a`, residuals
//!    `e = y − a − b·x`. (If R² ≥ 1 − 100·√ε the series are collinear: t = −∞, p = 0.)
//! 2. Augmented Dickey–Fuller regression on `e` without deterministic terms
//!    (`adfuller(e, regression = "n")`): `Δe_t = ρ·e_{t−1} + Σ_{j=1..p} γ_j·Δe_{t−j} + u_t`.
//!    The lag `p` minimises the AIC over `0..=maxlag`, `maxlag = min(n/2 − 1,
//!    ⌈12·(n/100)^{1/4}⌉)`, every candidate fitted on the same rows (those the largest lag
//!    allows); the test regression is then re-run with `p` lags on every row it allows. The
//!    statistic is the t-value of `ρ`.
//! 3. MacKinnon's approximate p-value ([`mackinnonp`]) for N = 2 variables with a constant:
//!    the response-surface coefficients statsmodels uses (MacKinnon 1994, Tables 3/4, as
//!    tabulated in `statsmodels.tsa.adfvalues`), `p = Φ(Σ c_k t^k)`.
//!
//! Floating point (`f64`) throughout: this runs off the hot path (the estimation thread and
//! `arbot fit-pair`). Least squares by Householder QR (backward stable, like the SVD
//! statsmodels uses); one QR of the widest ADF design gives every candidate lag's residual sum
//! of squares, since the leading columns' fit is the leading part of the same factorisation.
//! The workspace is allocated once ([`Workspace::new`]) and reused: a refit allocates nothing.
#![forbid(unsafe_code)]

/// Result of the two-step test.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Coint {
    /// Hedge ratio `b` (slope of `y` on `x`).
    pub hedge_ratio: f64,
    /// Intercept `a`.
    pub intercept: f64,
    /// ADF t-statistic of the residuals (`−∞` when the series are collinear).
    pub t_stat: f64,
    /// MacKinnon's approximate p-value.
    pub p_value: f64,
    /// Lagged differences the AIC chose.
    pub lags: usize,
    /// Observations of the first-step regression.
    pub n_obs: usize,
    /// Mean of the spread `y − b·x` over the sample (= the intercept).
    pub spread_mean: f64,
    /// Standard deviation of the spread over the sample (`ddof = 1`).
    pub spread_std: f64,
}

/// Why the test cannot be run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CointError {
    /// Too few observations for the ADF regression.
    #[error("{0} observations: too few for the test (at least 8 are needed)")]
    TooShort(usize),
    /// `y` and `x` differ in length.
    #[error("series lengths differ ({0} and {1})")]
    Lengths(usize, usize),
    /// `x` is constant, or the residuals are.
    #[error("a series is constant")]
    Constant,
    /// The workspace is smaller than the sample.
    #[error("sample of {0} exceeds the workspace of {1}")]
    Workspace(usize, usize),
}

/// Buffers for one test of up to `cap` observations.
#[derive(Clone, Debug)]
pub struct Workspace {
    cap: usize,
    resid: Vec<f64>,
    diff: Vec<f64>,
    design: Vec<f64>,
    rhs: Vec<f64>,
    rdiag: Vec<f64>,
    row0: Vec<f64>,
}

/// `maxlag` as `adfuller` sets it for `n` observations without deterministic terms.
pub fn default_maxlag(n: usize) -> usize {
    let schwert = (12.0 * (n as f64 / 100.0).powf(1.0 / 4.0)).ceil() as i64;
    schwert.min(n as i64 / 2 - 1).max(0) as usize
}

impl Workspace {
    /// Buffers for samples of up to `cap` observations.
    pub fn new(cap: usize) -> Workspace {
        let l = default_maxlag(cap) + 1;
        Workspace {
            cap,
            resid: vec![0.0; cap],
            diff: vec![0.0; cap],
            design: vec![0.0; cap * (l + 1)],
            rhs: vec![0.0; cap],
            rdiag: vec![0.0; l + 1],
            row0: vec![0.0; l + 1],
        }
    }

    /// Largest sample this workspace takes.
    pub fn capacity(&self) -> usize {
        self.cap
    }
}

/// Householder QR of the column-major `n × k` matrix `a` (column `j` at `a[j*n..]`), applied
/// to `b` as well. Afterwards the strict upper triangle of R is in `a` and its diagonal in
/// `rdiag`; `b` holds Qᵀb. Returns `false` if a column is (numerically) dependent.
fn householder(a: &mut [f64], n: usize, k: usize, b: &mut [f64], rdiag: &mut [f64]) -> bool {
    for j in 0..k {
        let mut nrm = 0.0f64;
        for i in j..n {
            nrm = nrm.hypot(a[j * n + i]);
        }
        if nrm == 0.0 || !nrm.is_finite() {
            return false;
        }
        if a[j * n + j] < 0.0 {
            nrm = -nrm;
        }
        for i in j..n {
            a[j * n + i] /= nrm;
        }
        a[j * n + j] += 1.0;
        let ajj = a[j * n + j];
        for l in j + 1..k {
            let mut s = 0.0;
            for i in j..n {
                s += a[j * n + i] * a[l * n + i];
            }
            s = -s / ajj;
            for i in j..n {
                a[l * n + i] += s * a[j * n + i];
            }
        }
        let mut s = 0.0;
        for i in j..n {
            s += a[j * n + i] * b[i];
        }
        s = -s / ajj;
        for i in j..n {
            b[i] += s * a[j * n + i];
        }
        rdiag[j] = -nrm;
    }
    true
}

/// First coefficient and its t-value for the `k` leading columns, after [`householder`]:
/// `β = R⁻¹ Qᵀb`, `se(β₀)² = σ² ‖e₀ᵀR⁻¹‖²`, `σ² = ssr / (n − k)`.
#[allow(clippy::needless_range_loop)] // triangular solves read as the textbook writes them
fn first_t(a: &[f64], n: usize, k: usize, qtb: &[f64], rdiag: &[f64], row0: &mut [f64]) -> f64 {
    let r = |i: usize, j: usize| if i == j { rdiag[i] } else { a[j * n + i] };
    // β₀ needs the whole back substitution R β = (Qᵀb)[..k]; β is kept in `row0` meanwhile
    let mut b0 = 0.0;
    for i in (0..k).rev() {
        let mut s = qtb[i];
        for j in i + 1..k {
            s -= r(i, j) * row0[j];
        }
        row0[i] = s / r(i, i);
        if i == 0 {
            b0 = row0[0];
        }
    }
    let ssr: f64 = qtb[k..n].iter().map(|v| v * v).sum();
    let sigma2 = ssr / (n - k) as f64;
    // v = first row of R⁻¹: Rᵀ v = e₀ (forward substitution)
    let mut norm2 = 0.0;
    for i in 0..k {
        let mut s = if i == 0 { 1.0 } else { 0.0 };
        for j in 0..i {
            s -= r(j, i) * row0[j];
        }
        row0[i] = s / r(i, i);
        norm2 += row0[i] * row0[i];
    }
    b0 / (sigma2 * norm2).sqrt()
}

/// ADF design for `lags` lagged differences over rows `i = first..n_diff` of the residuals:
/// columns `[e_i, Δe_{i−1}, …, Δe_{i−lags}]`, right-hand side `Δe_i`. Returns the row count.
fn fill_design(ws: &mut Workspace, n_resid: usize, first: usize, lags: usize) -> usize {
    let n_diff = n_resid - 1;
    let rows = n_diff - first;
    for r in 0..rows {
        let i = first + r;
        ws.design[r] = ws.resid[i];
        for j in 1..=lags {
            ws.design[j * rows + r] = ws.diff[i - j];
        }
        ws.rhs[r] = ws.diff[i];
    }
    rows
}

/// The ADF t-statistic of `ws.resid[..n]` without deterministic terms, the lag chosen by AIC.
fn adf_no_trend(ws: &mut Workspace, n: usize) -> Result<(f64, usize), CointError> {
    let e = &ws.resid[..n];
    let (lo, hi) = e
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(*v), h.max(*v))
        });
    if lo == hi {
        return Err(CointError::Constant);
    }
    for i in 0..n - 1 {
        ws.diff[i] = ws.resid[i + 1] - ws.resid[i];
    }
    let maxlag = default_maxlag(n);
    // every candidate on the rows the largest lag allows; AIC of the first c columns
    let rows = fill_design(ws, n, maxlag, maxlag);
    let k = maxlag + 1;
    if rows <= k {
        return Err(CointError::TooShort(n));
    }
    if !householder(&mut ws.design, rows, k, &mut ws.rhs, &mut ws.rdiag) {
        return Err(CointError::Constant);
    }
    let nobs = rows as f64;
    let mut best = (f64::INFINITY, 0usize);
    // ssr of the first c columns = Σ_{i ≥ c} (Qᵀb)_i²
    let mut tail: f64 = ws.rhs[k..rows].iter().map(|v| v * v).sum();
    let mut ssr_of = [0.0f64; 64];
    for c in (1..=k).rev() {
        ssr_of[c - 1] = tail;
        tail += ws.rhs[c - 1] * ws.rhs[c - 1];
    }
    for c in 1..=k {
        let ssr = ssr_of[c - 1];
        // statsmodels: llf = −n/2·ln(2π) − n/2·ln(ssr/n) − n/2; aic = −2·llf + 2·(columns)
        let llf = -nobs / 2.0 * (2.0 * std::f64::consts::PI).ln()
            - nobs / 2.0 * (ssr / nobs).ln()
            - nobs / 2.0;
        let aic = -2.0 * llf + 2.0 * c as f64;
        if aic < best.0 {
            best = (aic, c);
        }
    }
    let lags = best.1 - 1;
    // the test regression with the chosen lags, on every row it allows
    let rows = fill_design(ws, n, lags, lags);
    let k = lags + 1;
    if rows <= k || !householder(&mut ws.design, rows, k, &mut ws.rhs, &mut ws.rdiag) {
        return Err(CointError::TooShort(n));
    }
    let t = first_t(&ws.design, rows, k, &ws.rhs, &ws.rdiag, &mut ws.row0);
    Ok((t, lags))
}

/// Engle–Granger test of `y` on `x` (equal lengths, at least 8 observations).
pub fn engle_granger(ws: &mut Workspace, y: &[f64], x: &[f64]) -> Result<Coint, CointError> {
    let n = y.len();
    if x.len() != n {
        return Err(CointError::Lengths(n, x.len()));
    }
    if n < 8 {
        return Err(CointError::TooShort(n));
    }
    // at most 64 candidate column counts (⌈12·(n/100)^¼⌉ < 64 up to 7 million observations)
    if n > ws.cap || default_maxlag(n) + 1 > 63 {
        return Err(CointError::Workspace(n, ws.cap));
    }
    // step 1: y = a + b·x by centred least squares (exact OLS, well conditioned)
    let nf = n as f64;
    let (my, mx) = (y.iter().sum::<f64>() / nf, x.iter().sum::<f64>() / nf);
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (dx, dy) = (x[i] - mx, y[i] - my);
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    if sxx == 0.0 {
        return Err(CointError::Constant);
    }
    let b = sxy / sxx;
    let a = my - b * mx;
    let mut ssr = 0.0;
    for i in 0..n {
        let r = (y[i] - my) - b * (x[i] - mx);
        ws.resid[i] = r;
        ssr += r * r;
    }
    let spread_mean = a;
    let spread_std = (ssr / (nf - 1.0)).sqrt();
    let rsquared = if syy > 0.0 { 1.0 - ssr / syy } else { 1.0 };
    let (t_stat, lags) = if rsquared < 1.0 - 100.0 * f64::EPSILON.sqrt() {
        adf_no_trend(ws, n)?
    } else {
        (f64::NEG_INFINITY, 0)
    };
    Ok(Coint {
        hedge_ratio: b,
        intercept: a,
        t_stat,
        p_value: mackinnonp(t_stat, 2),
        lags,
        n_obs: n,
        spread_mean,
        spread_std,
    })
}

/// (τ*, τ_min, τ_max, small-p coefficients, large-p coefficients).
type Surface = (f64, f64, f64, [f64; 3], [f64; 4]);

/// MacKinnon's cut-offs and response-surface coefficients for regressions with a constant
/// (`"c"`), N = 1..6 series: (τ*, τ_min, τ_max, small-p coefficients, large-p coefficients),
/// scaled as statsmodels scales them (small p: ×[1, 1, 10⁻²]; large p: ×[1, 10⁻¹, 10⁻¹, 10⁻²]).
/// Source: MacKinnon (1994), "Approximate asymptotic distribution functions for unit-root
/// and cointegration tests", JBES 12(2), as in `statsmodels.tsa.adfvalues`.
const TAU_C: [Surface; 6] = [
    (
        -1.61,
        -18.83,
        2.74,
        [2.1659, 1.4412, 3.8269e-2],
        [1.7339, 9.3202e-1, -1.2745e-1, -1.0368e-2],
    ),
    (
        -2.62,
        -18.86,
        0.92,
        [2.92, 1.5012, 3.9796e-2],
        [2.1945, 6.4695e-1, -2.9198e-1, -4.2377e-2],
    ),
    (
        -3.13,
        -23.48,
        0.55,
        [3.4699, 1.4856, 3.164e-2],
        [2.5893, 4.5168e-1, -3.6529e-1, -5.0074e-2],
    ),
    (
        -3.47,
        -28.07,
        0.61,
        [3.9673, 1.4777, 2.6315e-2],
        [3.0387, 4.5452e-1, -3.3666e-1, -4.1921e-2],
    ),
    (
        -3.78,
        -25.96,
        0.79,
        [4.5509, 1.5338, 2.9545e-2],
        [3.5049, 5.2098e-1, -2.9158e-1, -3.3468e-2],
    ),
    (
        -3.93,
        -23.27,
        1.0,
        [5.1399, 1.6036, 3.4445e-2],
        [3.9489, 5.8933e-1, -2.5359e-1, -2.721e-2],
    ),
];

/// MacKinnon's approximate p-value of a (cointegration) ADF statistic with a constant, for
/// `n_series` = 1..6 I(1) series (2 for a pair): 1 above τ_max, 0 below τ_min, else
/// `Φ(Σ c_k·t^k)` with the small-p surface up to τ* and the large-p surface above it.
pub fn mackinnonp(t: f64, n_series: usize) -> f64 {
    let (star, min, max, small, large) = TAU_C[n_series.clamp(1, 6) - 1];
    if t.is_nan() {
        return f64::NAN;
    }
    if t > max {
        return 1.0;
    }
    if t < min {
        return 0.0;
    }
    let z = if t <= star {
        small[0] + small[1] * t + small[2] * t * t
    } else {
        large[0] + large[1] * t + large[2] * t * t + large[3] * t * t * t
    };
    norm_cdf(z)
}

/// Standard normal distribution function, to about 1e-15.
pub fn norm_cdf(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    if x < 0.0 {
        0.5 * erfc(-x)
    } else {
        1.0 - 0.5 * erfc(x)
    }
}

/// Complementary error function for `x ≥ 0`: the positive-term series
/// `erf x = 2/√π · e^{−x²} Σ 2ⁿ x^{2n+1} / (2n+1)!!` below 3 (no cancellation), the continued
/// fraction `erfc x = e^{−x²}/√π · 1/(x + ½/(x + 1/(x + 3/2/(x + …))))` (modified Lentz) above.
fn erfc(x: f64) -> f64 {
    let inv_sqrt_pi = 1.0 / std::f64::consts::PI.sqrt();
    if x == 0.0 {
        return 1.0;
    }
    if x < 3.0 {
        let mut term = x;
        let mut sum = x;
        let x2 = x * x;
        let mut k = 0.0;
        loop {
            k += 1.0;
            term *= 2.0 * x2 / (2.0 * k + 1.0);
            sum += term;
            if term <= sum * 1e-17 || k > 200.0 {
                break;
            }
        }
        1.0 - 2.0 * inv_sqrt_pi * (-x2).exp() * sum
    } else {
        // f = x + a1/(x + a2/(x + ...)), a_k = k/2
        let tiny = 1e-300;
        let mut f = x;
        let mut c = x;
        let mut d = 0.0;
        for k in 1..300 {
            let a = k as f64 / 2.0;
            d = x + a * d;
            d = if d.abs() < tiny { tiny } else { d };
            c = x + a / c;
            c = if c.abs() < tiny { tiny } else { c };
            d = 1.0 / d;
            let delta = c * d;
            f *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (-x * x).exp() * inv_sqrt_pi / f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_cdf_matches_known_values() {
        // Φ values to 1e-15 (Abramowitz–Stegun tables / scipy.stats.norm.cdf)
        for (z, p) in [
            (0.0, 0.5),
            (1.0, 0.8413447460685429),
            (-1.0, 0.15865525393145707),
            (1.959963984540054, 0.975),
            (-3.0, 0.0013498980316300946),
            (-5.0, 2.866515718791939e-7),
            (-8.0, 6.22096057427178e-16),
            (2.5, 0.9937903346742238),
        ] {
            let got = norm_cdf(z);
            assert!(
                (got - p).abs() <= 1e-15_f64.max(p * 1e-13),
                "Φ({z}) = {got}, want {p}"
            );
        }
    }

    #[test]
    fn mackinnonp_regions() {
        assert_eq!(mackinnonp(1.0, 2), 1.0);
        assert_eq!(mackinnonp(-20.0, 2), 0.0);
        assert_eq!(mackinnonp(f64::NEG_INFINITY, 2), 0.0);
        // small-p surface at t = −3.5: Φ(2.92 − 5.2542 + 0.487501) = Φ(−1.846699)
        let p = mackinnonp(-3.5, 2);
        assert!((p - norm_cdf(2.92 + 1.5012 * -3.5 + 0.039796 * 12.25)).abs() < 1e-15);
        assert!((p - 0.0324).abs() < 1e-3, "{p}");
        // the two surfaces nearly meet at τ* = −2.62
        let (a, b) = (mackinnonp(-2.62, 2), mackinnonp(-2.6199999, 2));
        assert!((a - b).abs() < 2e-3, "{a} {b}");
    }

    #[test]
    fn qr_least_squares_matches_the_normal_equations() {
        // y = 1·c0 + 2·c1 − c2 + noise: β₀ and its t-value by hand on a small system
        let n = 6;
        let cols = [
            [1.0, 2.0, 3.0, 4.0, 5.0, 6.5],
            [0.5, -1.0, 2.0, 0.0, 1.5, -0.5],
            [2.0, 1.0, 0.0, -1.0, 3.0, 1.0],
        ];
        let y = [1.1, -1.2, 6.9, 4.2, 5.1, 6.0];
        let mut a: Vec<f64> = cols.iter().flatten().copied().collect();
        let mut b = y.to_vec();
        let mut rd = vec![0.0; 3];
        assert!(householder(&mut a, n, 3, &mut b, &mut rd));
        let mut row0 = vec![0.0; 3];
        let t = first_t(&a, n, 3, &b, &rd, &mut row0);
        // normal equations, computed independently
        let mut xtx = [[0.0f64; 3]; 3];
        let mut xty = [0.0f64; 3];
        for i in 0..3 {
            for j in 0..3 {
                xtx[i][j] = (0..n).map(|r| cols[i][r] * cols[j][r]).sum();
            }
            xty[i] = (0..n).map(|r| cols[i][r] * y[r]).sum();
        }
        let inv = inv3(xtx);
        let beta: Vec<f64> = (0..3)
            .map(|i| (0..3).map(|j| inv[i][j] * xty[j]).sum())
            .collect();
        let ssr: f64 = (0..n)
            .map(|r| {
                let f: f64 = (0..3).map(|j| beta[j] * cols[j][r]).sum();
                (y[r] - f).powi(2)
            })
            .sum();
        let t_ref = beta[0] / (ssr / 3.0 * inv[0][0]).sqrt();
        assert!((t - t_ref).abs() < 1e-10 * t_ref.abs(), "{t} vs {t_ref}");
    }

    #[allow(clippy::needless_range_loop)]
    fn inv3(m: [[f64; 3]; 3]) -> [[f64; 3]; 3] {
        let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
        let mut r = [[0.0; 3]; 3];
        for i in 0..3 {
            for j in 0..3 {
                let (a, b) = ((j + 1) % 3, (j + 2) % 3);
                let (c, d) = ((i + 1) % 3, (i + 2) % 3);
                r[i][j] = (m[a][c] * m[b][d] - m[a][d] * m[b][c]) / det;
            }
        }
        r
    }

    #[test]
    fn maxlag_as_adfuller() {
        assert_eq!(default_maxlag(100), 12);
        assert_eq!(default_maxlag(120), 13); // ⌈12·1.2^¼⌉ = ⌈12.56⌉
        assert_eq!(default_maxlag(20), 9); // ⌈8.02⌉ = 9 = 20/2 − 1
        assert_eq!(default_maxlag(12), 5); // n/2 − 1 binds
        assert_eq!(default_maxlag(44_640), 56);
    }
}
