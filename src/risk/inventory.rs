//! Inventory per venue (R5.1): spot balances, derivative positions and the margin they hold,
//! from the gate's own accounting of every fill (simulated fills in replay and paper, the
//! venue's executions live). `report.json` `inventory` is [`report`].
#![forbid(unsafe_code)]

use serde_json::{json, Value};

use super::RiskGate;
use crate::config::Setup;
use crate::instrument::InstrumentKind;
use crate::types::{Price, Qty};

impl RiskGate {
    /// Index of `asset` (any case) in the gate's asset table, if the gate tracks it.
    pub fn asset_index(&self, asset: &str) -> Option<usize> {
        self.assets
            .iter()
            .position(|a| a.eq_ignore_ascii_case(asset))
    }

    /// Balance of asset `asset` (index from [`RiskGate::asset_index`]) on venue `venue`, 1e-8
    /// units; 0 for an index out of range. For a derivatives venue it is the margin wallet:
    /// deposits plus realised PnL less fees.
    #[inline]
    pub fn balance(&self, venue: usize, asset: usize) -> i64 {
        self.bal
            .get(venue)
            .and_then(|r| r.get(asset))
            .copied()
            .unwrap_or(0)
    }

    /// Margin in use on `venue` in `asset` by open derivative positions (`|entry cost| /
    /// leverage`), 1e-8 units.
    pub fn margin_in_use(&self, venue: usize, asset: usize) -> i64 {
        self.margin_used(venue, asset)
    }
}

fn e8(x: i64) -> f64 {
    x as f64 / 1e8
}

/// `report.json` `inventory`: per venue, each asset's balance (at start, now, change,
/// reserved, margin in use, free) and each open derivative position (native quantity, base
/// equivalent at its entry price, entry cost and margin in its margin asset).
///
/// `runtime`: live, what the reconciliation during the run did (`reconciliation`).
pub fn report(
    setup: &Setup,
    gate: &RiskGate,
    runtime: Option<&crate::engine::live::RuntimeReconciliation>,
) -> Value {
    let mut venues = serde_json::Map::new();
    for v in &setup.venues {
        let vi = v.id.idx();
        let mut balances = serde_json::Map::new();
        for (a, name) in gate.assets.iter().enumerate() {
            let (now, start) = (gate.bal[vi][a], gate.initial[vi][a]);
            let margin = gate.margin_used(vi, a);
            if now == 0 && start == 0 && margin == 0 {
                continue;
            }
            balances.insert(
                name.clone(),
                json!({
                    "start": e8(start),
                    "now": e8(now),
                    "change": e8(now - start),
                    "reserved": e8(gate.reserved[vi][a]),
                    "margin_in_use": e8(margin),
                    "free": e8(gate.free(vi, a)),
                }),
            );
        }
        let mut positions = Vec::new();
        for (i, p) in gate.pos.iter().enumerate() {
            let s = &setup.instruments[i];
            if s.venue != v.id || p.qty == 0 || s.kind == InstrumentKind::Spot {
                continue;
            }
            let inf = gate.info[i];
            let inverse = s.kind.is_inverse();
            // entry price from the cost: linear cost is quote, inverse cost is base
            let qty = Qty(p.qty.abs());
            let base = if inverse {
                p.cost.abs()
            } else {
                // linear: base = qty × contract size, independent of price
                s.base_amount(qty, Price(1)).0
            };
            let entry_px = if base > 0 {
                let quote = if inverse {
                    s.quote_amount(qty, Price(1)).0
                } else {
                    p.cost.abs()
                };
                json!(quote as f64 / base as f64)
            } else {
                Value::Null
            };
            positions.push(json!({
                "symbol": s.symbol,
                "kind": s.kind.as_str(),
                "qty": s.qty_f64(Qty(p.qty)),
                "base_qty": e8(p.qty.signum() * base),
                "entry_price": entry_px,
                "entry_cost": e8(p.cost),
                "margin_asset": gate.assets[inf.margin],
                "margin_in_use": e8(gate.margin_used(vi, inf.margin)),
            }));
        }
        venues.insert(
            v.name.clone(),
            json!({"balances": balances, "positions": positions}),
        );
    }
    json!({
        "venues": venues,
        "reconciliation": match runtime {
            Some(r) => serde_json::to_value(r).unwrap_or(Value::Null),
            None => json!("live only: the venues' accounts against these figures every execution.reconcile_interval_ns and after every trade"),
        },
        "basis": "the gate's accounting of every fill and fee (simulated fills in replay/paper, the venue's executions live): spot legs move base and quote; a derivative leg moves its position, realises PnL into the margin asset when the position shrinks, and holds |entry cost| / leverage of margin",
        "amounts": "asset units (BTC, USDT, ...); entry_cost in the margin asset (linear: quote paid, inverse: base paid; + for a long)",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::two_venue_setup;
    use crate::types::Amount;

    #[test]
    fn a_fresh_gate_reports_its_configured_balances_and_no_positions() {
        let s = two_venue_setup(1.0, 1.0, "");
        let g = RiskGate::new(&s);
        let r = report(&s, &g, None);
        let vs = r["venues"].as_object().unwrap();
        assert_eq!(vs.len(), s.venues.len());
        let mut seen = 0;
        for v in &s.venues {
            let row = &vs[&v.name];
            assert!(row["positions"].as_array().unwrap().is_empty());
            for (a, x) in &v.cfg.balances {
                let b = &row["balances"][a.to_ascii_uppercase()];
                assert_eq!(b["start"].as_f64(), Some(*x), "{} {a}", v.name);
                assert_eq!(b["now"].as_f64(), Some(*x));
                assert_eq!(b["change"].as_f64(), Some(0.0));
                let k = g.asset_index(a).unwrap();
                assert_eq!(g.balance(v.id.idx(), k), Amount::from_f64(*x).0);
                seen += 1;
            }
        }
        assert!(seen > 0, "the test setup configures balances");
    }
}
