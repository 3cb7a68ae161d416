//! An independent Binance book for the tests: written apart from the engine (JSON parsed with
//! serde_json, prices as integer hundredths, quantities as f64), following Binance's published
//! sync rules and the engine's documented top-of-book rule: the `bookTicker` is the top only
//! while its update id `u` is at least the depth book's (same id space), else the depth book's
//! own best levels are.
#![allow(dead_code)]

use serde_json::Value;
use std::collections::BTreeMap;

/// Price text → integer hundredths (every Binance instrument used here ticks in 0.01 or 0.1).
pub fn key(p: &str) -> i64 {
    (p.parse::<f64>().unwrap() * 1e2).round() as i64
}

/// One venue's book.
#[derive(Default)]
pub struct RefBook {
    pub bids: BTreeMap<i64, f64>,
    pub asks: BTreeMap<i64, f64>,
    pub synced: bool,
    pub last_u: u64,
    buffered: Vec<Value>,
    /// bid, bid qty, ask, ask qty, u
    pub tick: Option<(f64, f64, f64, f64, u64)>,
    pub futures: bool,
}

impl RefBook {
    /// A book for `venue` (`binance-spot`, `binance-usdm`, `binance-coinm`).
    pub fn for_venue(venue: &str) -> RefBook {
        RefBook {
            futures: venue != "binance-spot",
            ..RefBook::default()
        }
    }

    fn apply_levels(&mut self, d: &Value) {
        for (side, k) in [(&mut self.bids, "b"), (&mut self.asks, "a")] {
            for l in d[k].as_array().unwrap() {
                let q: f64 = l[1].as_str().unwrap().parse().unwrap();
                let p = key(l[0].as_str().unwrap());
                if q == 0.0 {
                    side.remove(&p);
                } else {
                    side.insert(p, q);
                }
            }
        }
    }

    /// Apply one recorded line's JSON (stream message or REST snapshot).
    pub fn on(&mut self, json: &str) {
        let x: Value = serde_json::from_str(json).unwrap();
        if let Some(l) = x.get("lastUpdateId") {
            let l = l.as_u64().unwrap();
            for (side, k) in [(&mut self.bids, "bids"), (&mut self.asks, "asks")] {
                side.clear();
                for lv in x[k].as_array().unwrap() {
                    side.insert(
                        key(lv[0].as_str().unwrap()),
                        lv[1].as_str().unwrap().parse().unwrap(),
                    );
                }
            }
            self.synced = true;
            self.last_u = l;
            for d in std::mem::take(&mut self.buffered) {
                let u = d["u"].as_u64().unwrap();
                if (self.futures && u >= l) || (!self.futures && u > l) {
                    self.apply_levels(&d);
                    self.last_u = u;
                }
            }
            return;
        }
        let d = &x["data"];
        let s = x["stream"].as_str().unwrap();
        if s.ends_with("@bookTicker") {
            let f = |k: &str| d[k].as_str().unwrap().parse::<f64>().unwrap();
            self.tick = Some((f("b"), f("B"), f("a"), f("A"), d["u"].as_u64().unwrap()));
        } else if s.contains("@depth") {
            if self.synced {
                self.apply_levels(d);
                self.last_u = d["u"].as_u64().unwrap();
            } else {
                self.buffered.push(d.clone());
            }
        }
    }

    /// The ticker, when it may stand for the top (newer than or as new as the depth book).
    pub fn usable_tick(&self) -> Option<(f64, f64, f64, f64)> {
        let (b, bq, a, aq, u) = self.tick?;
        (u >= self.last_u && bq > 0.0 && aq > 0.0 && b < a).then_some((b, bq, a, aq))
    }

    /// Best bid and ask (prices) under the top-of-book rule.
    pub fn top(&self) -> Option<(f64, f64)> {
        if let Some((b, _, a, _)) = self.usable_tick() {
            return Some((b, a));
        }
        let b = *self.bids.keys().next_back()? as f64 / 1e2;
        let a = *self.asks.keys().next()? as f64 / 1e2;
        Some((b, a))
    }

    /// Mid of [`RefBook::top`].
    pub fn mid(&self) -> Option<f64> {
        self.top().map(|(b, a)| (b + a) / 2.0)
    }

    /// Quantity a taker could get at exactly `px` on the side it hits (`buy` hits asks).
    pub fn visible(&self, buy: bool, px: f64) -> f64 {
        let k = (px * 1e2).round() as i64;
        let side = if buy { &self.asks } else { &self.bids };
        match self.usable_tick() {
            Some((b, bq, a, aq)) => {
                let (tp, tq) = if buy { (a, aq) } else { (b, bq) };
                if (px - tp).abs() < 1e-9 {
                    return tq;
                }
                // a depth level counts only strictly behind the ticker's price
                let behind = if buy { px > tp } else { px < tp };
                if !behind {
                    return 0.0;
                }
                side.get(&k).copied().unwrap_or(0.0)
            }
            None => side.get(&k).copied().unwrap_or(0.0),
        }
    }
}
