//! Core value types: ids, sides, fixed-point prices/quantities/amounts, ratios.
//!
//! Prices and quantities are exact decimal integers. A [`Price`] or [`Qty`] is an `i64`
//! count of `10^-dec` units, where `dec` is the instrument's `price_dec` / `qty_dec`
//! (see [`crate::instrument::InstrumentSpec`]); `61837.63` at `price_dec = 2` is `Price(6183763)`.
//! Money and base-asset amounts that cross instruments are [`Amount`]s: `i64` counts of
//! `10^-8` units of one asset (1 USD = `Amount(100_000_000)`).
//! Ratios (fee rates, spreads, confidence) use the `fixed` crate's binary fixed point
//! ([`Bps`], [`Ratio`]): exact enough for ratios, never used for prices.
#![forbid(unsafe_code)]

use std::fmt;

/// Venue index (position in the config's venue list). At most 255 venues.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct VenueId(pub u8);

/// Instrument index (position in the engine's instrument table). At most 65,535 instruments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct InstrumentId(pub u16);

impl VenueId {
    /// As a `usize` index into per-venue tables.
    #[inline(always)]
    pub fn idx(self) -> usize {
        self.0 as usize
    }
}
impl InstrumentId {
    /// As a `usize` index into per-instrument tables.
    #[inline(always)]
    pub fn idx(self) -> usize {
        self.0 as usize
    }
}

/// Order or book side. `Buy` is the bid side of a book.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum Side {
    /// Bid / buy.
    #[default]
    Buy = 0,
    /// Ask / sell.
    Sell = 1,
}

impl Side {
    /// The other side.
    #[inline]
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
    /// `"buy"` / `"sell"`, as in the journals.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
}

/// Price in `10^-price_dec` quote units per base unit (instrument-scaled decimal fixed point).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Price(pub i64);

/// Quantity in `10^-qty_dec` instrument units: base asset for spot and linear contracts
/// (times the contract multiplier), contracts for inverse contracts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Qty(pub i64);

/// An amount of one asset in `10^-8` units (USD, USDT, BTC, ...): balances, notionals, PnL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(pub i64);

/// The asset a fee was charged in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FeeAsset {
    /// The instrument's quote asset (USDT for BTCUSDT; USDⓈ-M margin).
    #[default]
    Quote,
    /// The instrument's base asset (Binance spot buys by default; COIN-M margin).
    Base,
    /// Another asset (BNB with the fee discount): its code, upper case, zero-padded.
    Other([u8; 8]),
}

/// Decimals of an [`Amount`].
pub const AMOUNT_DEC: u32 = 8;
/// `10^AMOUNT_DEC`.
pub const AMOUNT_ONE: i64 = 100_000_000;

impl Amount {
    /// Zero.
    pub const ZERO: Amount = Amount(0);
    /// From a float, rounded to the nearest unit. Edges only (config, reports).
    pub fn from_f64(v: f64) -> Amount {
        Amount((v * AMOUNT_ONE as f64).round() as i64)
    }
    /// As a float. Edges only (reports).
    pub fn to_f64(self) -> f64 {
        self.0 as f64 / AMOUNT_ONE as f64
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let neg = self.0 < 0;
        let a = self.0.unsigned_abs();
        write!(
            f,
            "{}{}.{:08}",
            if neg { "-" } else { "" },
            a / AMOUNT_ONE as u64,
            a % AMOUNT_ONE as u64
        )
    }
}

/// Nanoseconds. Timestamps are ns since the Unix epoch on the receiving host's clock
/// (recorded time in replay), durations are plain ns.
pub type Nanos = u64;

macro_rules! fixed_ratio {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(fixed::types::I32F32);

        impl $name {
            /// Zero.
            pub const ZERO: $name = $name(fixed::types::I32F32::ZERO);
            /// From a number (edges: config, tests), saturating at the range.
            pub fn from_num<T: fixed::traits::ToFixed>(v: T) -> $name {
                $name(fixed::types::I32F32::saturating_from_num(v))
            }
            /// As a number (edges: reports, logs).
            pub fn to_num<T: fixed::traits::FromFixed>(self) -> T {
                self.0.to_num()
            }
            /// The raw bits: the value × 2³².
            #[inline(always)]
            pub const fn to_bits(self) -> i64 {
                self.0.to_bits()
            }
            /// From raw bits (value × 2³²).
            #[inline(always)]
            pub const fn from_bits(b: i64) -> $name {
                $name(fixed::types::I32F32::from_bits(b))
            }
        }

        impl std::ops::Add for $name {
            type Output = $name;
            #[inline(always)]
            fn add(self, o: $name) -> $name {
                $name(self.0.saturating_add(o.0))
            }
        }

        impl std::ops::Sub for $name {
            type Output = $name;
            #[inline(always)]
            fn sub(self, o: $name) -> $name {
                $name(self.0.saturating_sub(o.0))
            }
        }

        impl std::ops::Neg for $name {
            type Output = $name;
            #[inline(always)]
            fn neg(self) -> $name {
                $name(self.0.saturating_neg())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

fixed_ratio!(
    /// A ratio in basis points (1 bp = 0.01 %): fee rates, spreads, premiums. Binary fixed
    /// point with 32 fractional bits (exact enough for ratios; prices never use it).
    Bps
);

fixed_ratio!(
    /// A dimensionless ratio, 1 = 100 % (the confidence score, in [0, 1]). Binary fixed point
    /// with 32 fractional bits. Not interchangeable with [`Bps`]: 1 bp is 0.0001 here.
    Ratio
);

impl Ratio {
    /// `num / den` (`den` ≠ 0), rounded towards zero.
    pub fn from_ratio(num: i64, den: i64) -> Ratio {
        if den == 0 {
            return Ratio::ZERO;
        }
        let v = ((num as i128) << 32) / den as i128;
        Ratio::from_bits(v.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
    }
}

/// `10^n` for `n <= 18`.
#[inline]
pub const fn pow10(n: u32) -> i64 {
    let mut v = 1i64;
    let mut i = 0;
    while i < n {
        v *= 10;
        i += 1;
    }
    v
}

/// Spread of `sell_px` over `buy_px` in bps, `(sell / buy - 1) * 10^4`, both at the same scale.
/// Returns 0 if `buy_px <= 0`.
#[inline]
pub fn spread_bps(buy_px: i64, sell_px: i64) -> Bps {
    if buy_px <= 0 {
        return Bps::ZERO;
    }
    let num = ((sell_px as i128 - buy_px as i128) * 10_000) << 32;
    let q = num / buy_px as i128;
    Bps::from_bits(q.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
}

/// `amount * bps / 10^4`, rounded towards zero.
#[inline]
pub fn apply_bps(amount: Amount, bps: Bps) -> Amount {
    let v = (amount.0 as i128 * bps.to_bits() as i128) >> 32;
    Amount((v / 10_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_bps_exact_cases() {
        // 61800.30 -> 61837.63: (61837.63/61800.30 - 1) * 1e4 = 6.0404...
        let b = spread_bps(6180030, 6183763);
        assert!((b.to_num::<f64>() - 6.040423).abs() < 1e-5, "{b}");
        assert_eq!(spread_bps(100, 100), Bps::ZERO);
        assert!(spread_bps(101, 100) < Bps::ZERO);
        assert_eq!(spread_bps(0, 5), Bps::ZERO);
        assert_eq!(spread_bps(10_000, 10_001), Bps::from_num(1));
    }

    #[test]
    fn apply_bps_fee() {
        // 10 bps of 10,000 USD = 10 USD
        let fee = apply_bps(Amount(10_000 * AMOUNT_ONE), Bps::from_num(10));
        assert_eq!(fee, Amount(10 * AMOUNT_ONE));
        // 2.3 bps of 1,000 USD = 0.23 USD (binary ratio: within one 1e-8 unit)
        let fee = apply_bps(Amount(1_000 * AMOUNT_ONE), Bps::from_num(2.3));
        assert!((fee.0 - 23_000_000).abs() <= 1, "{fee:?}");
    }

    #[test]
    fn bps_and_ratio_are_distinct_fixed_point_types() {
        let a = Bps::from_num(2.5) + Bps::from_num(1);
        assert_eq!(a, Bps::from_num(3.5));
        assert_eq!(-a, Bps::from_num(-3.5));
        assert_eq!(Bps::from_bits(a.to_bits()), a);
        assert_eq!(a.to_num::<f64>(), 3.5);
        assert_eq!(Ratio::from_ratio(3, 4), Ratio::from_num(0.75));
        assert_eq!(Ratio::from_ratio(1, 0), Ratio::ZERO);
        assert!(
            Bps::from_num(i64::MAX) > Bps::ZERO,
            "saturates, never wraps"
        );
    }

    #[test]
    fn amount_display() {
        assert_eq!(Amount(-150_000_000).to_string(), "-1.50000000");
        assert_eq!(Amount(1).to_string(), "0.00000001");
    }
}
