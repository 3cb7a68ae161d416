//! Korean premium (R2.4): KRW markets (Upbit, Bithumb) against USDT markets elsewhere,
//! converted through a live KRW per USDT rate.
//!
//! premium % = (KRW price / rate / USDT price − 1) × 100, positive when the KRW market is
//! dearer. Prices are book mids (`(best bid + best ask) / 2`, the venue's ticker if it sends
//! one); the rate is either fixed in the config (replay, tests) or the mid of a configured
//! source book such as Upbit `KRW-USDT` (KRW per USDT). Everything is integer arithmetic on the
//! books' fixed-point prices ([`premium_bps`]); floats appear only in the report.
//!
//! Evaluated on the detection thread whenever a message touched one of a pair's books or the
//! rate book, only when every book involved is tradable (synced, valid, younger than
//! `max_age_ns`). Per pair it keeps the last, maximum and minimum premium with their times,
//! and when the premium was outside the configured band (entries, evaluations above/below,
//! first/last time outside, time spent outside).
//!
//! Report-only in this version: a premium outside the band is reported, not traded (trading
//! it needs a KRW↔USDT conversion leg through the risk gate, not built yet).
//! Recordings of different venues in `../shared/data` are not simultaneous, so a replay premium
//! across them is illustrative only; correctness is shown by the unit tests.
#![forbid(unsafe_code)]

use crate::book::Market;
use crate::config::Setup;
use crate::types::{Bps, InstrumentId, Nanos};

/// A positive decimal `v · 10^-dec` (book prices, mids, the rate).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Px {
    /// Value in units of `10^-dec`.
    pub v: i128,
    /// Decimals.
    pub dec: u32,
}

impl Px {
    /// Mid of a bid and an ask at `dec` decimals, exact: `(bid + ask) / 2 = (bid + ask)·5 / 10`.
    pub fn mid(bid: i64, ask: i64, dec: u32) -> Px {
        Px {
            v: (bid as i128 + ask as i128) * 5,
            dec: dec + 1,
        }
    }
    /// As a float (reports only).
    pub fn to_f64(self) -> f64 {
        self.v as f64 / 10f64.powi(self.dec as i32)
    }
}

/// Premium of `krw` (KRW per base) over `usdt` (USDT per base) at `rate` (KRW per USDT), in
/// bps: `(krw / rate / usdt − 1) · 10⁴`, exact to 2⁻³² bps (rounded towards −∞). `None` if a
/// price is not positive or the integers would overflow.
pub fn premium_bps(krw: Px, rate: Px, usdt: Px) -> Option<Bps> {
    if krw.v <= 0 || rate.v <= 0 || usdt.v <= 0 {
        return None;
    }
    // krw/10^a ÷ (rate/10^b · usdt/10^c) = krw · 10^(b+c−a) ÷ (rate · usdt)
    let e = (rate.dec + usdt.dec) as i64 - krw.dec as i64;
    let mut num = krw.v;
    let mut den = rate.v.checked_mul(usdt.v)?;
    let p = 10i128.checked_pow(e.unsigned_abs() as u32)?;
    if e >= 0 {
        num = num.checked_mul(p)?;
    } else {
        den = den.checked_mul(p)?;
    }
    // (num/den − 1)·10⁴ = (num − den)·10⁴ / den, as integer part + 32 fractional bits
    let diff = num.checked_sub(den)?.checked_mul(10_000)?;
    let ip = diff.div_euclid(den);
    let rem = diff.rem_euclid(den); // 0 ≤ rem < den
    let frac = rem.checked_mul(1i128 << 32)? / den;
    let bits = ip.checked_mul(1i128 << 32)?.checked_add(frac)?;
    i64::try_from(bits).ok().map(Bps::from_bits)
}

/// Where the KRW per USDT rate comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateSource {
    /// A configured constant.
    Fixed(Px),
    /// The mid of this book (quote KRW, base USDT).
    Book(InstrumentId),
}

/// What happened to one KRW/USDT pair.
#[derive(Clone, Debug, Default)]
pub struct PairStats {
    /// Premiums computed.
    pub evaluations: u64,
    /// Skipped: no usable rate (rate book invalid or stale).
    pub no_rate: u64,
    /// Skipped: a pair book invalid, stale or one-sided.
    pub unusable_book: u64,
    /// Last premium and when.
    pub last: Option<(Bps, Nanos)>,
    /// Highest premium and when.
    pub max: Option<(Bps, Nanos)>,
    /// Lowest premium and when.
    pub min: Option<(Bps, Nanos)>,
    /// Evaluations above the band.
    pub above_band: u64,
    /// Evaluations below the band.
    pub below_band: u64,
    /// Times the premium left the band (inside → outside).
    pub episodes: u64,
    /// First and last time seen outside the band.
    pub first_outside_ns: Option<Nanos>,
    /// Last time seen outside the band.
    pub last_outside_ns: Option<Nanos>,
    /// Time spent outside the band, between evaluations, ns.
    pub outside_ns: u64,
    outside: bool,
    last_eval_ns: Nanos,
}

/// One monitored pair.
#[derive(Clone, Debug)]
pub struct Pair {
    /// KRW market (`upbit:KRW-BTC`).
    pub krw: InstrumentId,
    /// USDT market (`binance-spot:BTCUSDT`).
    pub usdt: InstrumentId,
    /// Statistics.
    pub stats: PairStats,
}

/// The premium monitor.
pub struct Premium {
    /// Rate source.
    pub rate: RateSource,
    /// Band: below `low` or above `high` is "outside".
    pub band: (Bps, Bps),
    /// Books older than this are not used, ns.
    pub max_age_ns: u64,
    /// Pairs.
    pub pairs: Vec<Pair>,
    /// Last rate used.
    pub last_rate: Option<Px>,
    watch: Vec<bool>,
}

impl Premium {
    /// From a resolved config (`None` without a `[premium]` section).
    pub fn new(setup: &Setup) -> Option<Premium> {
        let p = setup.premium.as_ref()?;
        Some(Premium::from_parts(
            p.rate,
            p.band,
            p.max_age_ns,
            &p.pairs,
            setup.instruments.len(),
        ))
    }

    /// From parts: `pairs` = (KRW instrument, USDT instrument); `n_instruments` sizes the
    /// watch table.
    pub fn from_parts(
        rate: RateSource,
        band: (Bps, Bps),
        max_age_ns: u64,
        pairs: &[(InstrumentId, InstrumentId)],
        n_instruments: usize,
    ) -> Premium {
        let mut watch = vec![false; n_instruments];
        for (k, u) in pairs {
            watch[k.idx()] = true;
            watch[u.idx()] = true;
        }
        if let RateSource::Book(r) = rate {
            watch[r.idx()] = true;
        }
        Premium {
            rate,
            band,
            max_age_ns,
            pairs: pairs
                .iter()
                .map(|(k, u)| Pair {
                    krw: *k,
                    usdt: *u,
                    stats: PairStats::default(),
                })
                .collect(),
            last_rate: None,
            watch,
        }
    }

    fn mid(m: &Market, i: InstrumentId, max_age_ns: u64) -> Option<Px> {
        m.tradable(i, max_age_ns).ok()?;
        let b = &m.books[i.idx()];
        let ((bid, _), (ask, _)) = (b.best_bid()?, b.best_ask()?);
        Some(Px::mid(bid.0, ask.0, m.specs[i.idx()].price_dec))
    }

    /// The current rate, if usable.
    pub fn rate_now(&self, m: &Market) -> Option<Px> {
        match self.rate {
            RateSource::Fixed(px) => Some(px),
            RateSource::Book(i) => Self::mid(m, i, self.max_age_ns),
        }
    }

    /// Re-evaluate the pairs touched by the current message (`dirty` from
    /// [`Market::take_dirty`]). No allocation.
    pub fn on_dirty(&mut self, m: &Market, dirty: &[InstrumentId]) {
        if !dirty
            .iter()
            .any(|i| self.watch.get(i.idx()).copied().unwrap_or(false))
        {
            return;
        }
        let rate_moved = matches!(self.rate, RateSource::Book(r) if dirty.contains(&r));
        let rate = self.rate_now(m);
        if rate.is_some() {
            self.last_rate = rate;
        }
        let now = m.now_ns;
        let (lo, hi) = self.band;
        let age = self.max_age_ns;
        for p in &mut self.pairs {
            if !rate_moved && !dirty.contains(&p.krw) && !dirty.contains(&p.usdt) {
                continue;
            }
            let s = &mut p.stats;
            let Some(rate) = rate else {
                s.no_rate += 1;
                continue;
            };
            let (Some(k), Some(u)) = (Self::mid(m, p.krw, age), Self::mid(m, p.usdt, age)) else {
                s.unusable_book += 1;
                continue;
            };
            let Some(prem) = premium_bps(k, rate, u) else {
                s.unusable_book += 1;
                continue;
            };
            s.evaluations += 1;
            if s.outside {
                s.outside_ns += now.saturating_sub(s.last_eval_ns);
            }
            s.last_eval_ns = now;
            s.last = Some((prem, now));
            if s.max.is_none_or(|(x, _)| prem > x) {
                s.max = Some((prem, now));
            }
            if s.min.is_none_or(|(x, _)| prem < x) {
                s.min = Some((prem, now));
            }
            let outside = prem > hi || prem < lo;
            if prem > hi {
                s.above_band += 1;
            } else if prem < lo {
                s.below_band += 1;
            }
            if outside {
                if !s.outside {
                    s.episodes += 1;
                }
                s.first_outside_ns.get_or_insert(now);
                s.last_outside_ns = Some(now);
            }
            s.outside = outside;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::Level;
    use crate::instrument::{InstrumentKind, InstrumentSpec};
    use crate::types::{Amount, Price, Qty, VenueId};

    fn spec(id: u16, venue: u8, sym: &str, base: &str, quote: &str, pd: u32) -> InstrumentSpec {
        InstrumentSpec {
            id: InstrumentId(id),
            venue: VenueId(venue),
            venue_name: format!("v{venue}"),
            symbol: sym.into(),
            base: base.into(),
            quote: quote.into(),
            kind: InstrumentKind::Spot,
            price_dec: pd,
            qty_dec: 8,
            tick_size: Price(1),
            lot_size: Qty(1),
            min_qty: Qty(1),
            max_qty: Qty(i64::MAX),
            min_notional: Amount(0),
            contract_size: Amount(100_000_000),
        }
    }

    fn set_book(m: &mut Market, i: u16, bid: i64, ask: i64, t: u64) {
        let b = &mut m.books[i as usize];
        b.clear(t);
        let l = |px| Level {
            px,
            qty: 100_000_000,
            px_frac: 0,
            qty_frac: 0,
        };
        b.bids.set(l(bid)).unwrap();
        b.asks.set(l(ask)).unwrap();
        b.commit(t, t, true).unwrap();
        m.now_ns = m.now_ns.max(t);
    }

    fn pct(b: Bps) -> f64 {
        b.to_num::<f64>() / 100.0
    }

    #[test]
    fn premium_from_a_krw_book_a_usdt_book_and_a_rate() {
        // KRW-BTC (Upbit, prices at 0 decimals): bid 95,000,000, ask 95,100,000 KRW
        //   mid = (95,000,000 + 95,100,000) / 2 = 95,050,000 KRW
        // BTCUSDT (prices at 2 decimals): bid 65,000.00, ask 65,010.00 USDT
        //   mid = 65,005.00 USDT
        // rate: 1,380 KRW per USDT
        //   KRW price in USDT = 95,050,000 / 1,380 = 68,876.811594… USDT
        //   premium = 68,876.811594 / 65,005 − 1 = 0.0595617505… → +5.95617505 % (KRW dearer)
        let krw = Px::mid(95_000_000, 95_100_000, 0);
        assert_eq!(
            krw,
            Px {
                v: 950_500_000,
                dec: 1
            },
            "95,050,000.0 exactly"
        );
        let usdt = Px::mid(6_500_000, 6_501_000, 2);
        let rate = Px { v: 1380, dec: 0 };
        let b = premium_bps(krw, rate, usdt).unwrap();
        assert!((pct(b) - 5.956_175_054_5).abs() < 1e-9, "{}", pct(b));
        // the same in bps: 595.6175054…
        assert!((b.to_num::<f64>() - 595.617_505_45).abs() < 1e-6);
        // KRW cheaper: KRW mid 88,000,000 / 1,380 = 63,768.1159 USDT < 65,005 → −1.9027 %
        let cheap = premium_bps(
            Px {
                v: 88_000_000,
                dec: 0,
            },
            rate,
            usdt,
        )
        .unwrap();
        assert!((pct(cheap) - (88_000_000.0 / 1380.0 / 65_005.0 - 1.0) * 100.0).abs() < 1e-9);
        assert!(cheap < Bps::ZERO);
        // exactly at parity: 1,380 × 65,005 = 89,706,900 KRW → 0 (no rounding error)
        assert_eq!(
            premium_bps(
                Px {
                    v: 89_706_900,
                    dec: 0
                },
                rate,
                usdt
            ),
            Some(Bps::ZERO)
        );
        // scales do not matter, only values: the rate written as 1380.00000000
        let rate8 = Px {
            v: 138_000_000_000,
            dec: 8,
        };
        assert_eq!(premium_bps(krw, rate8, usdt), Some(b));
        // bad input
        assert_eq!(premium_bps(krw, Px { v: 0, dec: 0 }, usdt), None);
        assert_eq!(premium_bps(Px { v: -1, dec: 0 }, rate, usdt), None);
        assert_eq!(
            premium_bps(
                Px {
                    v: i128::MAX / 2,
                    dec: 0
                },
                Px { v: 1, dec: 30 },
                usdt
            ),
            None,
            "overflow is None, not a panic"
        );
    }

    fn market() -> Market {
        // 0: upbit KRW-BTC, 1: binance BTCUSDT, 2: upbit KRW-USDT (rate book)
        let specs = vec![
            spec(0, 0, "KRW-BTC", "BTC", "KRW", 0),
            spec(1, 1, "BTCUSDT", "BTC", "USDT", 2),
            spec(2, 0, "KRW-USDT", "USDT", "KRW", 1),
        ];
        Market::from_specs(specs, 2, &[16, 16, 16])
    }

    #[test]
    fn rate_from_a_book_band_and_statistics() {
        let mut m = market();
        let band = (Bps::from_num(-100), Bps::from_num(300)); // −1 % … +3 %
        let mut p = Premium::from_parts(
            RateSource::Book(InstrumentId(2)),
            band,
            1_000_000_000,
            &[(InstrumentId(0), InstrumentId(1))],
            3,
        );
        let t0 = 1_000_000_000_000;
        set_book(&mut m, 0, 95_000_000, 95_100_000, t0);
        set_book(&mut m, 1, 6_500_000, 6_501_000, t0);
        // no rate book yet
        p.on_dirty(&m, &[InstrumentId(0)]);
        assert_eq!(
            (p.pairs[0].stats.no_rate, p.pairs[0].stats.evaluations),
            (1, 0)
        );
        // KRW-USDT bid 1,379.5, ask 1,380.5 (1 decimal) → mid 1,380.0 → +5.956 % (as above)
        set_book(&mut m, 2, 13_795, 13_805, t0 + 1);
        p.on_dirty(&m, &[InstrumentId(2)]);
        let s = &p.pairs[0].stats;
        assert_eq!(s.evaluations, 1);
        assert!((pct(s.last.unwrap().0) - 5.956_175_054_5).abs() < 1e-9);
        assert_eq!(
            (s.above_band, s.episodes, s.first_outside_ns),
            (1, 1, Some(t0 + 1))
        );
        assert_eq!(p.last_rate.unwrap().to_f64(), 1380.0);
        // back inside: KRW mid 90,000,000 → 90e6/1380/65005 − 1 = +0.3274 %
        set_book(&mut m, 0, 89_950_000, 90_050_000, t0 + 500_000_000);
        p.on_dirty(&m, &[InstrumentId(0)]);
        let s = &p.pairs[0].stats;
        assert_eq!((s.evaluations, s.above_band, s.episodes), (2, 1, 1));
        assert_eq!(
            s.outside_ns,
            500_000_000 - 1,
            "outside from t0+1 until this evaluation"
        );
        assert!((pct(s.last.unwrap().0) - (90e6 / 1380.0 / 65_005.0 - 1.0) * 100.0).abs() < 1e-9);
        assert_eq!(s.max.unwrap().1, t0 + 1);
        assert_eq!(s.min.unwrap().1, t0 + 500_000_000);
        // below the band: KRW mid 88,000,000 → −1.90 %, a second episode
        set_book(&mut m, 0, 87_950_000, 88_050_000, t0 + 600_000_000);
        p.on_dirty(&m, &[InstrumentId(0)]);
        let s = &p.pairs[0].stats;
        assert_eq!(
            (s.below_band, s.episodes, s.last_outside_ns),
            (1, 2, Some(t0 + 600_000_000))
        );
        // an unrelated instrument does nothing
        p.on_dirty(&m, &[]);
        assert_eq!(p.pairs[0].stats.evaluations, 3);
        // a stale USDT book (older than 1 s): skipped, counted
        m.now_ns = t0 + 2_000_000_000;
        set_book(&mut m, 0, 87_950_000, 88_050_000, t0 + 2_000_000_000);
        set_book(&mut m, 2, 13_795, 13_805, t0 + 2_000_000_000);
        p.on_dirty(&m, &[InstrumentId(0)]);
        assert_eq!(p.pairs[0].stats.unusable_book, 1);
        // an invalid (unsynced) KRW book: skipped
        m.books[0].invalidate();
        set_book(&mut m, 1, 6_500_000, 6_501_000, t0 + 2_000_000_000);
        m.books[0].invalidate();
        p.on_dirty(&m, &[InstrumentId(1)]);
        assert_eq!(p.pairs[0].stats.unusable_book, 2);
        assert_eq!(p.pairs[0].stats.evaluations, 3);
    }

    #[test]
    fn fixed_rate() {
        let mut m = market();
        let mut p = Premium::from_parts(
            RateSource::Fixed(Px { v: 1380, dec: 0 }),
            (Bps::from_num(-100), Bps::from_num(300)),
            1_000_000_000,
            &[(InstrumentId(0), InstrumentId(1))],
            3,
        );
        set_book(&mut m, 0, 89_706_800, 89_707_000, 5); // mid 89,706,900 = parity
        set_book(&mut m, 1, 6_500_000, 6_501_000, 5);
        p.on_dirty(&m, &[InstrumentId(1)]);
        assert_eq!(p.pairs[0].stats.last, Some((Bps::ZERO, 5)));
        assert_eq!(p.pairs[0].stats.episodes, 0);
    }
}
