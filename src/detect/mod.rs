//! Opportunity detection over the books ([`crate::book::Market`]): the spatial detector over
//! the configured groups ([`spatial`], R2.1), triangles on one venue ([`triangular`], R2.2),
//! a statistical pair ([`stat`], R2.3) and the Korean premium monitor ([`premium`], R2.4),
//! with per-pair statistics.
#![forbid(unsafe_code)]

pub mod premium;
pub mod spatial;
pub mod stat;
pub mod triangular;

/// The R2.2 / R2.3 strategies on the detection thread, each `None` when not configured.
pub struct Strategies {
    /// Triangles (R2.2).
    pub triangular: Option<triangular::Triangular>,
    /// Statistical pair (R2.3).
    pub stat: Option<stat::StatArb>,
}

impl Strategies {
    /// From a resolved config (starts the estimation thread of a threaded run).
    pub fn new(setup: &crate::config::Setup) -> Strategies {
        Strategies {
            triangular: triangular::Triangular::new(setup),
            stat: stat::StatArb::new(setup),
        }
    }

    /// End of the run: the estimator stops and hands back its fits.
    pub fn finish(mut self) -> Strategies {
        if let Some(s) = self.stat.as_mut() {
            s.finish();
        }
        self
    }
}

use crate::types::Bps;

/// Statistics of one ordered venue pair (buy at `buy`'s ask, sell at `sell`'s bid).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct PairStats {
    /// Largest top-of-book gross spread seen, bps (at any market-data event where both had a
    /// best bid/ask).
    pub max_gross_spread_bps: f64,
    /// When it was seen.
    pub max_gross_at_ns: u64,
    /// Largest top-of-book spread net of both taker fees seen, bps.
    pub max_net_spread_bps: f64,
    /// Pair evaluations (market-data events touching either side with both quotes present).
    pub evaluations: u64,
    /// Evaluations whose net top-of-book spread was below the minimum.
    pub below_min_net_spread: u64,
    /// Sized trade below the minimum profit.
    pub below_min_profit: u64,
    /// Top-of-book depth below the minimum.
    pub below_min_depth: u64,
    /// Size rounded to lots fell below a venue's minimum quantity/notional.
    pub below_min_order: u64,
    /// Confidence below the minimum.
    pub low_confidence: u64,
    /// A book was stale.
    pub stale: u64,
    /// A book was invalid / venue down.
    pub invalid: u64,
    /// Suppressed by the re-entry cooldown (same pair, same top prices, within the cooldown).
    pub cooldown: u64,
    /// Balance-derived size cap was zero.
    pub no_balance: u64,
    /// Opportunities that passed every threshold (signals).
    pub signals: u64,
    /// Signals the risk gate approved.
    pub traded: u64,
    /// Signals the gate refused.
    pub rejected: u64,
    #[serde(skip)]
    pub(crate) last_signal_ns: u64,
    /// Buy-side ask and sell-side bid at the last signal (the cooldown lets a price move
    /// through).
    #[serde(skip)]
    pub(crate) last_signal_top: (crate::types::Price, crate::types::Price),
    /// Message index + 1 of the last evaluation (a pair is evaluated once per message even
    /// when both of its books changed in it).
    #[serde(skip)]
    pub(crate) last_eval: u64,
    #[serde(skip)]
    pub(crate) max_gross_bits: Option<Bps>,
    #[serde(skip)]
    pub(crate) max_net_bits: Option<Bps>,
}
