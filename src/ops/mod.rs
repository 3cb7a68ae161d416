//! Operating the engine (R6.4, R6.5, R8.2), all on cold threads:
//! - [`curve`]: the PnL curve the cold logger thread writes (`pnl_curve.csv`) from the
//!   detection core's marks;
//! - [`metrics`]: the backtest metrics of `report.json` `backtest` (Sharpe, Sortino, drawdown,
//!   win rate, trades per hour, fees, turnover, per venue and per pair), from that curve;
//! - [`plots`]: `pnl.png` and `latency.png`, drawn after the run with `plotters`;
//! - [`status`]: the read-only HTTP status endpoint (`[status]`, R6.4);
//! - [`alerts`]: webhook alerts with retries, backoff and de-duplication (`[alerts]`, R6.5);
//! - [`progress`]: a replay's progress line on stderr when it is a terminal.
#![forbid(unsafe_code)]

pub mod alerts;
pub mod curve;
pub mod metrics;
pub mod plots;
pub mod progress;
pub mod status;
