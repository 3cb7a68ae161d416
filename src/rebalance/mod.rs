//! Rebalancing plan (R5.2): when a venue's share of an asset drifts past a threshold away
//! from its target share, say which asset to move, from which venue to which, how much, over
//! which network (withdrawal fee, minimum, expected confirmation time, from
//! `configs/networks.toml`), and what rebalancing by trading instead (buy where short, sell
//! where long) would cost on the current books.
//!
//! Where it runs: the detection core only copies, after each finished trade, the balances of
//! the configured (asset, venue) cells ([`HoldingsSnap`]) and the top [`SNAP_LEVELS`] levels
//! of the books that price them ([`DepthSnap`]) into the cold ring: fixed-size records, no
//! allocation. The cold thread ([`Planner`]) evaluates the plan, journals it to
//! `rebalance.jsonl` and keeps it for `report.json` (`rebalance`). The report also evaluates
//! the plan once more on the final balances and books (`rebalance.at_end`).
//!
//! Plans are never executed: `rebalance.execute = true` is refused at config load, because
//! signed withdrawals are not built (see the README).
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::book::Market;
use crate::config::{invalid, ConfigError, GroupSetup, VenueSetup};
use crate::instrument::{InstrumentKind, InstrumentSpec};
use crate::types::{InstrumentId, Nanos, Price, Qty, Side};

/// Most (asset, venue) cells a config may list (the size of [`HoldingsSnap`]).
pub const MAX_CELLS: usize = 16;
/// Most instruments whose books are copied for the trading alternative.
pub const MAX_SNAP_INSTRUMENTS: usize = 16;
/// Levels per side copied per book ([`DepthSnap`]).
pub const SNAP_LEVELS: usize = 32;

/// Which network a transfer uses when several are configured for its asset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Prefer {
    /// The lowest withdrawal fee (ties: the fastest).
    #[default]
    Cheapest,
    /// The shortest expected confirmation time (ties: the cheapest).
    Fastest,
}

impl Prefer {
    /// Config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Prefer::Cheapest => "cheapest",
            Prefer::Fastest => "fastest",
        }
    }
}

fn default_threshold_pct() -> f64 {
    30.0
}

/// `[rebalance]`: target shares per venue and asset, the drift threshold, the networks file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RebalanceConfig {
    /// A plan is made when a venue's share of an asset is more than this many percent (of
    /// its target share) away from its target: share 35 % against a 50 % target is a drift
    /// of −30 %. Default 30.
    #[serde(default = "default_threshold_pct")]
    pub threshold_pct: f64,
    /// Execute plans (withdrawals). Only `false` is accepted: signed withdrawals are not built.
    #[serde(default)]
    pub execute: bool,
    /// `cheapest` (default) or `fastest` network.
    #[serde(default)]
    pub prefer: Prefer,
    /// The networks file (withdrawal fee, minimum, confirmation time per asset and network;
    /// relative to the config's repository root like every other path), e.g.
    /// `configs/networks.toml`.
    pub networks_file: PathBuf,
    /// Assets to watch with their target shares.
    pub assets: Vec<RebalanceAssetConfig>,
}

/// `[[rebalance.assets]]`: one asset and its target share per venue.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RebalanceAssetConfig {
    /// Asset code (`BTC`, `USDT`).
    pub asset: String,
    /// Target share of the asset per venue, percent of the total over the listed venues;
    /// the shares add up to 100.
    pub targets_pct: BTreeMap<String, f64>,
}

/// The networks file (`configs/networks.toml`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NetworksFile {
    /// Date the figures were taken (or written, for placeholders), `YYYY-MM-DD`.
    pub as_of: String,
    /// What the figures are (e.g. illustrative placeholders) and where they come from.
    pub note: String,
    /// One entry per asset and network.
    pub networks: Vec<Network>,
}

/// One way to move an asset between venues.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Asset code.
    pub asset: String,
    /// Network name (`TRC20`, `Bitcoin`, `Lightning`, ...).
    pub network: String,
    /// Withdrawal fee charged by the sending venue, in units of the asset.
    pub withdraw_fee: f64,
    /// Smallest withdrawal the sending venue accepts, in units of the asset.
    pub withdraw_min: f64,
    /// Largest withdrawal the network takes in one go, in units of the asset (absent: no
    /// limit; e.g. a Lightning payment's size).
    #[serde(default)]
    pub withdraw_max: Option<f64>,
    /// Expected time until the receiving venue credits the deposit, seconds.
    pub confirm_time_s: f64,
    /// Where the figures come from.
    pub source: String,
    /// When the source was read (`YYYY-MM-DD`).
    pub source_date: String,
}

/// One watched cell: an asset on a venue with its target share.
#[derive(Clone, Debug)]
pub struct Cell {
    /// Venue index.
    pub venue: usize,
    /// Target share, percent.
    pub target_pct: f64,
}

/// One watched asset, resolved.
#[derive(Clone, Debug)]
pub struct AssetSetup {
    /// Asset code, upper case.
    pub asset: String,
    /// Its venues and targets.
    pub cells: Vec<Cell>,
    /// Networks for it, from the networks file.
    pub networks: Vec<Network>,
}

/// `[rebalance]` resolved against the venues, instruments and the networks file.
#[derive(Clone, Debug)]
pub struct RebalanceSetup {
    /// Drift threshold, percent of the target share.
    pub threshold_pct: f64,
    /// Network preference.
    pub prefer: Prefer,
    /// The networks file as read.
    pub networks_file: PathBuf,
    /// Its `as_of` date.
    pub networks_as_of: String,
    /// Its `note`.
    pub networks_note: String,
    /// Watched assets.
    pub assets: Vec<AssetSetup>,
    /// Instruments whose books are copied after each trade (those on a watched venue whose
    /// base or quote is a watched asset).
    pub instruments: Vec<InstrumentId>,
}

impl RebalanceSetup {
    /// The (asset, venue) cells in the order of [`HoldingsSnap::bal`].
    pub fn cells(&self) -> impl Iterator<Item = (&str, &Cell)> + '_ {
        self.assets
            .iter()
            .flat_map(|a| a.cells.iter().map(move |c| (a.asset.as_str(), c)))
    }
}

/// Read and check a networks file. Errors name the entry and the key.
pub fn load_networks(path: &Path) -> Result<NetworksFile, ConfigError> {
    let key = "rebalance.networks_file";
    let text = std::fs::read_to_string(path)
        .map_err(|e| invalid(key, format!("cannot read {}: {e}", path.display())))?;
    let nf: NetworksFile =
        toml::from_str(&text).map_err(|e| invalid(key, format!("{}: {e}", path.display())))?;
    if nf.as_of.trim().is_empty() {
        return Err(invalid(
            key,
            format!("{}: `as_of` is empty", path.display()),
        ));
    }
    for (k, n) in nf.networks.iter().enumerate() {
        let at = format!(
            "{} networks[{k}] ({} {})",
            path.display(),
            n.asset,
            n.network
        );
        for (name, v) in [
            ("withdraw_fee", n.withdraw_fee),
            ("withdraw_min", n.withdraw_min),
            ("confirm_time_s", n.confirm_time_s),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(invalid(
                    key,
                    format!("{at}: `{name}` must be a finite number ≥ 0"),
                ));
            }
        }
        if let Some(mx) = n.withdraw_max {
            if !mx.is_finite() || mx <= n.withdraw_min {
                return Err(invalid(
                    key,
                    format!("{at}: `withdraw_max` must be a finite number above `withdraw_min`"),
                ));
            }
        }
        if n.source.trim().is_empty() || n.source_date.trim().is_empty() {
            return Err(invalid(
                key,
                format!("{at}: every figure needs its `source` and `source_date`"),
            ));
        }
        if n.asset.trim().is_empty() || n.network.trim().is_empty() {
            return Err(invalid(
                key,
                format!("{at}: `asset` and `network` are required"),
            ));
        }
    }
    Ok(nf)
}

/// Resolve `[rebalance]`: venues by name, targets adding to 100, an asset that some venue
/// holds or trades, at least one network per asset, `execute = false`.
pub fn resolve(
    rc: &RebalanceConfig,
    venues: &[VenueSetup],
    instruments: &[InstrumentSpec],
    base: &Path,
) -> Result<RebalanceSetup, ConfigError> {
    if rc.execute {
        return Err(invalid(
            "rebalance.execute",
            "`true` is not supported: signed withdrawals are not built, so plans are only \
             journaled (rebalance.jsonl) and reported; set `execute = false` (the default) \
             and move funds by hand",
        ));
    }
    if !rc.threshold_pct.is_finite() || rc.threshold_pct <= 0.0 || rc.threshold_pct > 1000.0 {
        return Err(invalid(
            "rebalance.threshold_pct",
            "must be a number in (0, 1000]",
        ));
    }
    if rc.assets.is_empty() {
        return Err(invalid("rebalance.assets", "list at least one asset"));
    }
    let path = crate::config::resolve_path(base, &rc.networks_file);
    let nf = load_networks(&path)?;
    let mut assets: Vec<AssetSetup> = Vec::new();
    let mut n_cells = 0usize;
    for (k, a) in rc.assets.iter().enumerate() {
        let key = format!("rebalance.assets[{k}]");
        let asset = a.asset.trim().to_ascii_uppercase();
        if asset.is_empty() {
            return Err(invalid(format!("{key}.asset"), "is empty"));
        }
        if assets.iter().any(|x| x.asset == asset) {
            return Err(invalid(
                format!("{key}.asset"),
                format!("{asset} is listed twice"),
            ));
        }
        if a.targets_pct.len() < 2 {
            return Err(invalid(
                format!("{key}.targets_pct"),
                "list at least two venues (a share needs somewhere to move to)",
            ));
        }
        let mut cells = Vec::new();
        let mut sum = 0.0;
        for (vname, t) in &a.targets_pct {
            let v = venues.iter().find(|v| v.name == *vname).ok_or_else(|| {
                invalid(
                    format!("{key}.targets_pct.{vname}"),
                    "no venue of that name in [venues]",
                )
            })?;
            if !t.is_finite() || *t <= 0.0 || *t > 100.0 {
                return Err(invalid(
                    format!("{key}.targets_pct.{vname}"),
                    "must be a share in (0, 100] percent",
                ));
            }
            let held = v
                .cfg
                .balances
                .keys()
                .any(|b| b.eq_ignore_ascii_case(&asset))
                || instruments.iter().any(|s| {
                    s.venue == v.id
                        && (s.base.eq_ignore_ascii_case(&asset)
                            || s.quote.eq_ignore_ascii_case(&asset))
                });
            if !held {
                return Err(invalid(
                    format!("{key}.targets_pct.{vname}"),
                    format!("venue {vname} neither holds nor trades {asset}"),
                ));
            }
            sum += t;
            cells.push(Cell {
                venue: v.id.idx(),
                target_pct: *t,
            });
        }
        if (sum - 100.0).abs() > 1e-6 {
            return Err(invalid(
                format!("{key}.targets_pct"),
                format!("the shares add up to {sum}, not 100"),
            ));
        }
        n_cells += cells.len();
        let networks: Vec<Network> = nf
            .networks
            .iter()
            .filter(|n| n.asset.eq_ignore_ascii_case(&asset))
            .cloned()
            .collect();
        if networks.is_empty() {
            return Err(invalid(
                format!("{key}.asset"),
                format!("{} lists no network for {asset}", path.display()),
            ));
        }
        assets.push(AssetSetup {
            asset,
            cells,
            networks,
        });
    }
    if n_cells > MAX_CELLS {
        return Err(invalid(
            "rebalance.assets",
            format!("{n_cells} (asset, venue) targets; at most {MAX_CELLS}"),
        ));
    }
    let mut insts = Vec::new();
    for s in instruments {
        let watched = assets.iter().any(|a| {
            (s.base.eq_ignore_ascii_case(&a.asset) || s.quote.eq_ignore_ascii_case(&a.asset))
                && a.cells.iter().any(|c| c.venue == s.venue.idx())
        });
        if watched {
            insts.push(s.id);
        }
    }
    if insts.len() > MAX_SNAP_INSTRUMENTS {
        return Err(invalid(
            "rebalance.assets",
            format!(
                "{} instruments price the watched assets on their venues; at most {MAX_SNAP_INSTRUMENTS}",
                insts.len()
            ),
        ));
    }
    Ok(RebalanceSetup {
        threshold_pct: rc.threshold_pct,
        prefer: rc.prefer,
        networks_file: path,
        networks_as_of: nf.as_of,
        networks_note: nf.note,
        assets,
        instruments: insts,
    })
}

// ---- hot side: what the detection core copies after a trade -------------------------------

/// Balances of the watched cells after a trade, 1e-8 units, in [`RebalanceSetup::cells`]
/// order. Fixed size, `Copy`: it travels through the cold ring.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HoldingsSnap {
    /// The trade after which they were taken (0: not after a trade).
    pub trade_id: u64,
    /// Data time, ns since the epoch.
    pub ts_ns: Nanos,
    /// Cells used.
    pub n: u8,
    /// Balance per cell, 1e-8 units of the cell's asset.
    pub bal: [i64; MAX_CELLS],
}

/// The top [`SNAP_LEVELS`] levels per side of one book, as a taker would walk them (the
/// venue's BBO first where the book uses it). Fixed size, `Copy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DepthSnap {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Data time, ns since the epoch.
    pub ts_ns: Nanos,
    /// The book was synced and valid.
    pub valid: bool,
    /// Bids, best first: (price, native quantity).
    pub bids: [(Price, Qty); SNAP_LEVELS],
    /// Bids used.
    pub n_bids: u8,
    /// Asks, best first.
    pub asks: [(Price, Qty); SNAP_LEVELS],
    /// Asks used.
    pub n_asks: u8,
}

impl DepthSnap {
    /// Copy the top of instrument `i`'s book (no allocation).
    pub fn capture(m: &Market, i: InstrumentId) -> DepthSnap {
        let mut s = DepthSnap {
            instrument: i,
            ts_ns: m.now_ns,
            valid: m.tradable(i, u64::MAX).is_ok(),
            bids: [(Price(0), Qty(0)); SNAP_LEVELS],
            n_bids: 0,
            asks: [(Price(0), Qty(0)); SNAP_LEVELS],
            n_asks: 0,
        };
        let book = &m.books[i.idx()];
        let mut n = 0usize;
        book.walk(Side::Sell, |p, q| {
            s.bids[n] = (p, q);
            n += 1;
            n < SNAP_LEVELS
        });
        s.n_bids = n as u8;
        let mut n = 0usize;
        book.walk(Side::Buy, |p, q| {
            s.asks[n] = (p, q);
            n += 1;
            n < SNAP_LEVELS
        });
        s.n_asks = n as u8;
        s
    }

    fn side(&self, taker: Side) -> &[(Price, Qty)] {
        match taker {
            Side::Buy => &self.asks[..self.n_asks as usize],
            Side::Sell => &self.bids[..self.n_bids as usize],
        }
    }
}

// The copies travel in the cold ring's `ColdMsg`: they must not make it larger than a trade
// record already does.
const _: () = assert!(
    std::mem::size_of::<DepthSnap>() <= std::mem::size_of::<crate::journal::TradeRecord>()
        && std::mem::size_of::<HoldingsSnap>()
            <= std::mem::size_of::<crate::journal::TradeRecord>()
);

/// What the detection core needs to copy: gate asset indices per cell and the instruments.
#[derive(Clone, Debug)]
pub struct Tap {
    /// (venue index, risk-gate asset index) per cell, in [`RebalanceSetup::cells`] order.
    pub cells: Vec<(usize, usize)>,
    /// Instruments whose books are copied.
    pub instruments: Vec<InstrumentId>,
}

impl Tap {
    /// From the setup and the gate's asset table (`None` without `[rebalance]`).
    pub fn new(setup: &crate::config::Setup, gate: &crate::risk::RiskGate) -> Option<Tap> {
        let rs = setup.rebalance.as_ref()?;
        let cells = rs
            .cells()
            .map(|(a, c)| (c.venue, gate.asset_index(a).unwrap_or(usize::MAX)))
            .collect();
        Some(Tap {
            cells,
            instruments: rs.instruments.clone(),
        })
    }

    /// The watched balances now (no allocation).
    pub fn holdings(
        &self,
        gate: &crate::risk::RiskGate,
        trade_id: u64,
        ts_ns: Nanos,
    ) -> HoldingsSnap {
        let mut h = HoldingsSnap {
            trade_id,
            ts_ns,
            n: self.cells.len() as u8,
            ..HoldingsSnap::default()
        };
        for (k, &(v, a)) in self.cells.iter().enumerate() {
            h.bal[k] = gate.balance(v, a);
        }
        h
    }
}

// ---- cold side: the plan ------------------------------------------------------------------

/// The cold thread's planner: the latest book copies, and per asset whether it was beyond the
/// threshold after the previous trade.
pub struct Planner {
    rs: RebalanceSetup,
    specs: Vec<InstrumentSpec>,
    fees_bps: Vec<f64>,
    venue_names: Vec<String>,
    quote_usd: Vec<f64>,
    depth: Vec<Option<DepthSnap>>,
    beyond: Vec<bool>,
    /// Every plan line journaled, in order (for `report.json`).
    pub journaled: Vec<Value>,
}

fn quote_usd_of(groups: &[GroupSetup], i: InstrumentId) -> f64 {
    groups
        .iter()
        .find(|g| g.members.contains(&i))
        .map(|g| g.quote_usd)
        .unwrap_or(1.0)
}

impl Planner {
    /// From the setup (`None` without `[rebalance]`).
    pub fn new(setup: &crate::config::Setup) -> Option<Planner> {
        let rs = setup.rebalance.clone()?;
        let n_assets = rs.assets.len();
        Some(Planner {
            rs,
            specs: setup.instruments.clone(),
            fees_bps: setup
                .taker_fees_by_instrument()
                .iter()
                .map(|b| b.to_num::<f64>())
                .collect(),
            venue_names: setup.venues.iter().map(|v| v.name.clone()).collect(),
            quote_usd: setup
                .instruments
                .iter()
                .map(|s| quote_usd_of(&setup.groups, s.id))
                .collect(),
            depth: vec![None; setup.instruments.len()],
            beyond: vec![false; n_assets],
            journaled: Vec::new(),
        })
    }

    /// Keep the newest copy of a book.
    pub fn on_depth(&mut self, d: &DepthSnap) {
        if let Some(x) = self.depth.get_mut(d.instrument.idx()) {
            *x = Some(*d);
        }
    }

    /// Balances after a trade: the plan lines to journal (one per asset beyond the threshold,
    /// or back within it after being beyond).
    pub fn on_holdings(&mut self, h: &HoldingsSnap) -> Vec<Value> {
        let mut out = Vec::new();
        for (k, v) in self.evaluate(h).into_iter().enumerate() {
            let beyond = v.get("beyond").and_then(Value::as_bool).unwrap_or(false);
            let trigger = match (self.beyond[k], beyond) {
                (false, true) => "crossed",
                (true, true) => "still_beyond",
                (true, false) => "back_within",
                (false, false) => continue,
            };
            self.beyond[k] = beyond;
            let mut v = v;
            if let Some(o) = v.as_object_mut() {
                o.insert("trigger".into(), json!(trigger));
            }
            self.journaled.push(v.clone());
            out.push(v);
        }
        out
    }

    /// The plan per watched asset for these balances and the book copies held (one object
    /// per asset, `beyond` true when a plan is due).
    pub fn evaluate(&self, h: &HoldingsSnap) -> Vec<Value> {
        let thr = self.rs.threshold_pct;
        let mut out = Vec::new();
        let mut k = 0usize;
        for a in &self.rs.assets {
            let bal: Vec<f64> = a
                .cells
                .iter()
                .enumerate()
                .map(|(j, _)| h.bal.get(k + j).copied().unwrap_or(0) as f64 / 1e8)
                .collect();
            k += a.cells.len();
            let total: f64 = bal.iter().sum();
            let mut venues = Vec::new();
            let mut beyond = false;
            let mut surplus: Vec<(usize, f64)> = Vec::new();
            for (c, b) in a.cells.iter().zip(&bal) {
                let share = if total > 0.0 { b / total * 100.0 } else { 0.0 };
                let drift = (share - c.target_pct) / c.target_pct * 100.0;
                let over = total > 0.0 && drift.abs() > thr;
                beyond |= over;
                venues.push(json!({
                    "venue": self.venue_names[c.venue],
                    "balance": round8(*b),
                    "share_pct": round4(share),
                    "target_pct": c.target_pct,
                    "drift_pct": round4(drift),
                    "beyond": over,
                }));
                surplus.push((c.venue, b - c.target_pct / 100.0 * total));
            }
            let transfers = if beyond {
                self.transfers(a, &mut surplus)
            } else {
                Vec::new()
            };
            out.push(json!({
                "ts_ns": h.ts_ns,
                "trade_id": h.trade_id,
                "asset": a.asset,
                "threshold_pct": thr,
                "total": round8(total),
                "beyond": beyond,
                "venues": venues,
                "transfers": transfers,
                "executed": false,
            }));
        }
        out
    }

    /// Pair the largest surplus with the largest deficit until every venue is at its target.
    fn transfers(&self, a: &AssetSetup, surplus: &mut [(usize, f64)]) -> Vec<Value> {
        let mut out = Vec::new();
        for _ in 0..surplus.len() {
            let (mut hi, mut lo) = (0usize, 0usize);
            for (j, s) in surplus.iter().enumerate() {
                if s.1 > surplus[hi].1 {
                    hi = j;
                }
                if s.1 < surplus[lo].1 {
                    lo = j;
                }
            }
            let amount = surplus[hi].1.min(-surplus[lo].1);
            if amount <= 1e-8 || hi == lo {
                break;
            }
            surplus[hi].1 -= amount;
            surplus[lo].1 += amount;
            out.push(self.transfer(a, surplus[hi].0, surplus[lo].0, amount));
        }
        out
    }

    fn transfer(&self, a: &AssetSetup, from: usize, to: usize, amount: f64) -> Value {
        let amount = round8(amount);
        let pick = pick_network(&a.networks, amount, self.rs.prefer);
        let usd = self.usd_price(&a.asset);
        let n = &a.networks[pick];
        let others: Vec<Value> = a
            .networks
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != pick)
            .map(|(_, o)| {
                json!({"network": o.network, "withdraw_fee": o.withdraw_fee, "withdraw_min": o.withdraw_min,
                       "withdraw_max": o.withdraw_max, "confirm_time_s": o.confirm_time_s, "fits": fits(o, amount)})
            })
            .collect();
        json!({
            "from": self.venue_names[from],
            "to": self.venue_names[to],
            "amount": amount,
            "network": n.network,
            "chosen_by": self.rs.prefer.as_str(),
            "withdraw_fee": n.withdraw_fee,
            "withdraw_min": n.withdraw_min,
            "withdraw_max": n.withdraw_max,
            "fits": fits(n, amount),
            "receive_amount": round8(amount - n.withdraw_fee),
            "confirm_time_s": n.confirm_time_s,
            "fee_usd": usd.map(|p| round4(p * n.withdraw_fee)),
            "source": n.source,
            "source_date": n.source_date,
            "other_networks": others,
            "by_trading": self.by_trading(&a.asset, from, to, amount),
        })
    }

    /// USD per unit of `asset`: the mid of a book whose base it is (quote valued at its
    /// group's `quote_usd`), or the `quote_usd` of a group quoted in it.
    fn usd_price(&self, asset: &str) -> Option<f64> {
        for s in &self.specs {
            if s.base.eq_ignore_ascii_case(asset) {
                if let Some(m) = self.mid(s.id) {
                    return Some(m * self.quote_usd[s.id.idx()]);
                }
            }
        }
        self.specs
            .iter()
            .find(|s| s.quote.eq_ignore_ascii_case(asset))
            .map(|s| self.quote_usd[s.id.idx()])
    }

    fn mid(&self, i: InstrumentId) -> Option<f64> {
        let d = self.depth.get(i.idx())?.as_ref()?;
        if !d.valid || d.n_bids == 0 || d.n_asks == 0 {
            return None;
        }
        let s = &self.specs[i.idx()];
        Some((s.px_f64(d.bids[0].0) + s.px_f64(d.asks[0].0)) / 2.0)
    }

    /// The market on `venue` for `asset`: spot first, then a contract whose base it is
    /// (`base = true`) or quoted in it.
    fn market_for(&self, asset: &str, venue: usize) -> Option<(&InstrumentSpec, bool)> {
        let on = |s: &&InstrumentSpec| {
            s.venue.idx() == venue
                && self.rs.instruments.contains(&s.id)
                && self.mid(s.id).is_some()
        };
        let rank = |s: &InstrumentSpec| if s.kind == InstrumentKind::Spot { 0 } else { 1 };
        let mut best: Option<(&InstrumentSpec, bool)> = None;
        for s in self.specs.iter().filter(on) {
            let base = s.base.eq_ignore_ascii_case(asset);
            if !base && !s.quote.eq_ignore_ascii_case(asset) {
                continue;
            }
            let better = match best {
                None => true,
                Some((b, bb)) => (rank(s), !base) < (rank(b), !bb),
            };
            if better {
                best = Some((s, base));
            }
        }
        best
    }

    /// Rebalancing by trading: buy the asset where it is short (`to`), sell it where it is
    /// long (`from`), priced on the book copies.
    fn by_trading(&self, asset: &str, from: usize, to: usize, amount: f64) -> Value {
        let (Some((sell_m, sell_base)), Some((buy_m, buy_base))) =
            (self.market_for(asset, from), self.market_for(asset, to))
        else {
            return json!({
                "available": false,
                "why": format!("no valid book for {asset} on both venues"),
            });
        };
        // the asset as base: sell `amount` of it on `from`, buy it on `to`; as quote: the
        // venue long of it buys base with it, the one short of it sells base for it
        let leg = |m: &InstrumentSpec, is_base: bool, long_side: bool| -> Value {
            let mid = self.mid(m.id).unwrap_or(0.0);
            let (side, base_qty) = if is_base {
                (if long_side { Side::Sell } else { Side::Buy }, amount)
            } else {
                (
                    if long_side { Side::Buy } else { Side::Sell },
                    if mid > 0.0 { amount / mid } else { 0.0 },
                )
            };
            self.leg_cost(m, side, base_qty, mid)
        };
        let l_sell = leg(sell_m, sell_base, true);
        let l_buy = leg(buy_m, buy_base, false);
        let cost =
            l_sell["cost_usd"].as_f64().unwrap_or(0.0) + l_buy["cost_usd"].as_f64().unwrap_or(0.0);
        let exhausted = l_sell["depth_exhausted"].as_bool().unwrap_or(false)
            || l_buy["depth_exhausted"].as_bool().unwrap_or(false);
        json!({
            "available": true,
            "legs": [l_sell, l_buy],
            "cost_usd": round4(cost),
            "cost_is_lower_bound": exhausted,
            "model": "each leg: taker fee on its notional + (VWAP - mid) x quantity, walking the book copy taken after the trade; a derivative leg moves a position, not the wallet balance",
        })
    }

    fn leg_cost(&self, m: &InstrumentSpec, side: Side, base_qty: f64, mid: f64) -> Value {
        let d = self.depth[m.id.idx()].as_ref();
        let (mut rem, mut notional, mut last_px) = (base_qty, 0.0f64, mid);
        if let Some(d) = d {
            for &(p, q) in d.side(side) {
                if rem <= 0.0 {
                    break;
                }
                let px = m.px_f64(p);
                let lb = m.base_amount(q, p).to_f64();
                let t = rem.min(lb);
                notional += t * px;
                rem -= t;
                last_px = px;
            }
        }
        let exhausted = rem > 1e-12;
        if exhausted {
            // beyond the copied levels: the rest at the last price reached (a lower bound)
            notional += rem * last_px;
        }
        let vwap = if base_qty > 0.0 {
            notional / base_qty
        } else {
            mid
        };
        let qusd = self.quote_usd[m.id.idx()];
        let fee = notional * self.fees_bps[m.id.idx()] / 1e4 * qusd;
        let walk = (vwap - mid).abs() * base_qty * qusd;
        json!({
            "venue": self.venue_names[m.venue.idx()],
            "symbol": m.symbol,
            "kind": m.kind.as_str(),
            "side": side.as_str(),
            "base_qty": round8(base_qty),
            "mid": mid,
            "vwap": round4(vwap),
            "fee_usd": round4(fee),
            "walk_cost_usd": round4(walk),
            "cost_usd": round4(fee + walk),
            "depth_exhausted": exhausted,
        })
    }

    /// The setup it plans with.
    pub fn setup(&self) -> &RebalanceSetup {
        &self.rs
    }
}

/// The network for `amount`: among those whose minimum and maximum it meets (all, if none),
/// the cheapest or the fastest; ties go to the other criterion, then to file order.
pub fn pick_network(nets: &[Network], amount: f64, prefer: Prefer) -> usize {
    let ok: Vec<usize> = (0..nets.len())
        .filter(|&j| fits(&nets[j], amount))
        .collect();
    let pool: Vec<usize> = if ok.is_empty() {
        (0..nets.len()).collect()
    } else {
        ok
    };
    let key = |j: usize| match prefer {
        Prefer::Cheapest => (nets[j].withdraw_fee, nets[j].confirm_time_s),
        Prefer::Fastest => (nets[j].confirm_time_s, nets[j].withdraw_fee),
    };
    let mut best = pool[0];
    for &j in &pool[1..] {
        if key(j) < key(best) {
            best = j;
        }
    }
    best
}

/// `amount` is within the network's minimum and maximum.
fn fits(n: &Network, amount: f64) -> bool {
    amount >= n.withdraw_min && n.withdraw_max.is_none_or(|m| amount <= m)
}

fn round8(x: f64) -> f64 {
    (x * 1e8).round() / 1e8
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// `report.json` `rebalance`: the settings, every plan journaled, and the plan on the final
/// balances and books.
pub fn report(setup: &crate::config::Setup, r: &crate::engine::RunResult) -> Value {
    let Some(rs) = setup.rebalance.as_ref() else {
        return json!({"configured": false});
    };
    let mut at_end = Value::Null;
    if let (Some(mut p), Some(tap)) = (Planner::new(setup), Tap::new(setup, &r.det.risk)) {
        for &i in &tap.instruments {
            p.on_depth(&DepthSnap::capture(&r.det.market, i));
        }
        let h = tap.holdings(&r.det.risk, 0, r.det.market.now_ns);
        at_end = json!(p.evaluate(&h));
    }
    let plans = &r.logger.rebalance_plans;
    json!({
        "configured": true,
        "threshold_pct": rs.threshold_pct,
        "prefer": rs.prefer.as_str(),
        "execute": false,
        "executed": 0,
        "networks_file": rs.networks_file.display().to_string(),
        "networks_as_of": rs.networks_as_of,
        "networks_note": rs.networks_note,
        "targets": rs.assets.iter().map(|a| json!({
            "asset": a.asset,
            "targets_pct": a.cells.iter().map(|c| (setup.venues[c.venue].name.clone(), json!(c.target_pct))).collect::<serde_json::Map<_, _>>(),
        })).collect::<Vec<_>>(),
        "plans_journaled": plans.len(),
        "plans": plans,
        "at_end": at_end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(name: &str, fee: f64, min: f64, t: f64) -> Network {
        Network {
            asset: "USDT".into(),
            network: name.into(),
            withdraw_fee: fee,
            withdraw_min: min,
            withdraw_max: None,
            confirm_time_s: t,
            source: "test".into(),
            source_date: "2026-12-01".into(),
        }
    }

    #[test]
    fn picks_the_cheapest_or_fastest_network_that_meets_its_minimum() {
        let nets = [
            net("ERC20", 4.0, 10.0, 300.0),
            net("TRC20", 1.0, 10.0, 180.0),
            net("SOL", 1.0, 50.0, 20.0),
            net("ARB", 0.8, 100.0, 60.0),
        ];
        // 500 meets every minimum: ARB is cheapest, SOL fastest
        assert_eq!(
            nets[pick_network(&nets, 500.0, Prefer::Cheapest)].network,
            "ARB"
        );
        assert_eq!(
            nets[pick_network(&nets, 500.0, Prefer::Fastest)].network,
            "SOL"
        );
        // 60 is below ARB's minimum: TRC20 and SOL tie on fee, SOL is faster
        assert_eq!(
            nets[pick_network(&nets, 60.0, Prefer::Cheapest)].network,
            "SOL"
        );
        // 20: only ERC20 and TRC20 accept it
        assert_eq!(
            nets[pick_network(&nets, 20.0, Prefer::Fastest)].network,
            "TRC20"
        );
        // 5 is below every minimum: still a choice (flagged `fits: false` in the plan)
        assert_eq!(
            nets[pick_network(&nets, 5.0, Prefer::Cheapest)].network,
            "ARB"
        );
        // a maximum rules a network out above it
        let mut capped = nets.clone();
        capped[3].withdraw_max = Some(400.0);
        assert_eq!(
            capped[pick_network(&capped, 500.0, Prefer::Cheapest)].network,
            "SOL"
        );
        assert_eq!(
            capped[pick_network(&capped, 300.0, Prefer::Cheapest)].network,
            "ARB"
        );
    }
}
