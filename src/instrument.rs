//! Instrument specifications: tick size, lot size, min notional, contract size, kind,
//! and the unit conversions between native quantities and base/quote [`Amount`]s.
//!
//! Internal naming is `BASE/QUOTE` + venue + kind (R1.5); each spec also carries the venue's
//! own symbol. Specs come from the config (`[[instruments]]`) or from a venue's instrument
//! endpoint response (Binance `exchangeInfo`: [`crate::venues::binance::instruments`]).
#![forbid(unsafe_code)]

use crate::types::{pow10, Amount, InstrumentId, Price, Qty, VenueId, AMOUNT_ONE};
use serde::{Deserialize, Serialize};

/// What a quantity of the instrument is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum InstrumentKind {
    /// Spot: quantity in base asset, settled in quote.
    #[default]
    Spot,
    /// Linear perpetual (USDⓈ-M): quantity in base asset × `contract_size`, margined in quote.
    LinearPerp,
    /// Inverse perpetual (COIN-M): quantity in contracts worth `contract_size` quote each,
    /// margined in base.
    InversePerp,
    /// Dated linear future (OKX `BTC-USDT-220624`, Bybit `BTCUSDT-26JUN25`): units as
    /// [`InstrumentKind::LinearPerp`]; the expiry is part of the symbol, not modelled.
    LinearFuture,
    /// Dated inverse future (OKX `BTC-USD-220527`, Bybit `BTCUSDH25`): units as
    /// [`InstrumentKind::InversePerp`].
    InverseFuture,
}

impl InstrumentKind {
    /// Short name used in ids and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            InstrumentKind::Spot => "spot",
            InstrumentKind::LinearPerp => "linear-perp",
            InstrumentKind::InversePerp => "inverse-perp",
            InstrumentKind::LinearFuture => "linear-future",
            InstrumentKind::InverseFuture => "inverse-future",
        }
    }
    /// True for inverse contracts (quantity in quote-valued contracts).
    pub fn is_inverse(self) -> bool {
        matches!(
            self,
            InstrumentKind::InversePerp | InstrumentKind::InverseFuture
        )
    }
    /// True for linear contracts (perpetual or dated).
    pub fn is_linear_contract(self) -> bool {
        matches!(
            self,
            InstrumentKind::LinearPerp | InstrumentKind::LinearFuture
        )
    }
}

/// Everything the engine needs to know to price, size and encode orders on one instrument.
#[derive(Clone, Debug, PartialEq)]
pub struct InstrumentSpec {
    /// Engine index, set when the instrument table is built.
    pub id: InstrumentId,
    /// Venue index.
    pub venue: VenueId,
    /// Venue name from the config (`binance-spot`).
    pub venue_name: String,
    /// The venue's own symbol (`BTCUSDT`, `BTCUSD_PERP`).
    pub symbol: String,
    /// Base asset (`BTC`).
    pub base: String,
    /// Quote asset (`USDT`, `USD`).
    pub quote: String,
    /// Spot / linear / inverse.
    pub kind: InstrumentKind,
    /// Decimals of [`Price`] values for this instrument.
    pub price_dec: u32,
    /// Decimals of [`Qty`] values for this instrument.
    pub qty_dec: u32,
    /// Minimum price increment, at `price_dec`.
    pub tick_size: Price,
    /// Quantity step, at `qty_dec`.
    pub lot_size: Qty,
    /// Minimum order quantity, at `qty_dec`.
    pub min_qty: Qty,
    /// Maximum order quantity, at `qty_dec` (`i64::MAX` when unlimited).
    pub max_qty: Qty,
    /// Minimum order notional in quote units (0 when none).
    pub min_notional: Amount,
    /// Linear: base units per 1.0 of quantity (1 for Binance). Inverse: quote units per contract
    /// (100 USD for Binance COIN-M BTC). In `Amount` units (10^-8).
    pub contract_size: Amount,
}

impl InstrumentSpec {
    /// Internal name: `BTC/USDT@binance-spot:spot`.
    pub fn internal_name(&self) -> String {
        format!(
            "{}/{}@{}:{}",
            self.base,
            self.quote,
            self.venue_name,
            self.kind.as_str()
        )
    }

    /// Base-asset amount of `qty` at `px` (px used only for inverse contracts). Rounded down.
    #[inline]
    pub fn base_amount(&self, qty: Qty, px: Price) -> Amount {
        let q = qty.0 as i128;
        let cs = self.contract_size.0 as i128;
        let qd = pow10(self.qty_dec) as i128;
        if self.kind.is_inverse() {
            if px.0 <= 0 {
                return Amount(0);
            }
            let quote = q * cs / qd; // quote e8
            Amount((quote * pow10(self.price_dec) as i128 / px.0 as i128) as i64)
        } else {
            Amount((q * cs / qd) as i64)
        }
    }

    /// Quote-asset notional of `qty` at `px`. Rounded down.
    #[inline]
    pub fn quote_amount(&self, qty: Qty, px: Price) -> Amount {
        let q = qty.0 as i128;
        let cs = self.contract_size.0 as i128;
        let qd = pow10(self.qty_dec) as i128;
        if self.kind.is_inverse() {
            Amount((q * cs / qd) as i64)
        } else {
            let base = q * cs / qd;
            Amount((base * px.0 as i128 / pow10(self.price_dec) as i128) as i64)
        }
    }

    /// Largest lot-aligned quantity whose base amount at `px` is ≤ `base`.
    #[inline]
    pub fn qty_for_base_floor(&self, base: Amount, px: Price) -> Qty {
        if base.0 <= 0 || px.0 <= 0 || self.lot_size.0 <= 0 {
            return Qty(0);
        }
        let qd = pow10(self.qty_dec) as i128;
        let cs = self.contract_size.0 as i128;
        let raw: i128 = if self.kind.is_inverse() {
            // contracts = base * px / contract_size
            let quote = base.0 as i128 * px.0 as i128 / pow10(self.price_dec) as i128;
            quote * qd / cs
        } else {
            base.0 as i128 * qd / cs
        };
        let lots = raw / self.lot_size.0 as i128;
        Qty((lots * self.lot_size.0 as i128).min(i64::MAX as i128) as i64)
    }

    /// Lot-aligned quantity whose base amount at `px` is nearest to `base` (ties down).
    #[inline]
    pub fn qty_for_base_nearest(&self, base: Amount, px: Price) -> Qty {
        let lo = self.qty_for_base_floor(base, px);
        let hi = Qty(lo.0 + self.lot_size.0);
        let d_lo = (base.0 - self.base_amount(lo, px).0).abs();
        let d_hi = (self.base_amount(hi, px).0 - base.0).abs();
        if d_hi < d_lo {
            hi
        } else {
            lo
        }
    }

    /// Round a quantity down to the lot.
    #[inline]
    pub fn round_lot_down(&self, q: Qty) -> Qty {
        if self.lot_size.0 <= 0 {
            return q;
        }
        Qty(q.0 / self.lot_size.0 * self.lot_size.0)
    }

    /// True if the order `qty` at `px` respects min/max quantity, lot and min notional.
    pub fn order_ok(&self, qty: Qty, px: Price) -> bool {
        qty.0 > 0
            && qty >= self.min_qty
            && qty <= self.max_qty
            && (self.lot_size.0 <= 0 || qty.0 % self.lot_size.0 == 0)
            && self.quote_amount(qty, px) >= self.min_notional
    }

    /// A price as a float, for reports only.
    pub fn px_f64(&self, px: Price) -> f64 {
        px.0 as f64 / pow10(self.price_dec) as f64
    }
    /// A quantity as a float, for reports only.
    pub fn qty_f64(&self, q: Qty) -> f64 {
        q.0 as f64 / pow10(self.qty_dec) as f64
    }
}

/// One `[[instruments]]` entry (or one row of a venue's instrument list) before it is bound to
/// engine ids. Sizes are decimal strings, exactly as the exchange publishes them.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InstrumentDef {
    /// Venue name from the config (`binance-spot`).
    pub venue: String,
    /// The venue's symbol (`BTCUSDT`).
    pub symbol: String,
    /// Base asset (`BTC`).
    pub base: String,
    /// Quote asset (`USDT`).
    pub quote: String,
    /// `spot`, `linear-perp`, `inverse-perp`.
    #[serde(default)]
    pub kind: InstrumentKind,
    /// Tick size, e.g. `"0.01"`.
    pub tick_size: String,
    /// Lot (step) size, e.g. `"0.00001"`.
    pub lot_size: String,
    /// Minimum order quantity; defaults to the lot size.
    #[serde(default)]
    pub min_qty: Option<String>,
    /// Maximum order quantity; unlimited when absent.
    #[serde(default)]
    pub max_qty: Option<String>,
    /// Minimum notional in quote units; 0 when absent.
    #[serde(default)]
    pub min_notional: Option<String>,
    /// Linear: base per 1.0 quantity (default 1). Inverse: quote per contract (required).
    #[serde(default)]
    pub contract_size: Option<String>,
    /// Price decimals used on the wire, if finer than the tick (default: decimals of the tick).
    #[serde(default)]
    pub price_decimals: Option<u32>,
    /// Quantity decimals used on the wire, if finer than the lot (default: decimals of the lot).
    #[serde(default)]
    pub qty_decimals: Option<u32>,
}

/// Error turning an [`InstrumentDef`] into a spec. The message names the field.
#[derive(Debug, thiserror::Error)]
#[error("instrument {venue}:{symbol}: {field}: {msg}")]
pub struct SpecError {
    /// Venue name.
    pub venue: String,
    /// Symbol.
    pub symbol: String,
    /// The offending field.
    pub field: &'static str,
    /// What is wrong.
    pub msg: String,
}

impl InstrumentDef {
    /// Validate and convert to a spec with the given ids.
    pub fn to_spec(&self, id: InstrumentId, venue: VenueId) -> Result<InstrumentSpec, SpecError> {
        use crate::fixed_point::{parse_decimal, significant_decimals};
        let err = |field: &'static str, msg: String| SpecError {
            venue: self.venue.clone(),
            symbol: self.symbol.clone(),
            field,
            msg,
        };
        let tick_dec = significant_decimals(&self.tick_size)
            .map_err(|e| err("tick_size", format!("{e}: {:?}", self.tick_size)))?;
        let lot_dec = significant_decimals(&self.lot_size)
            .map_err(|e| err("lot_size", format!("{e}: {:?}", self.lot_size)))?;
        let price_dec = self.price_decimals.unwrap_or(tick_dec);
        let qty_dec = self.qty_decimals.unwrap_or(lot_dec);
        if price_dec > 12 || qty_dec > 12 {
            return Err(err("price_decimals", "at most 12 decimals".into()));
        }
        if price_dec < tick_dec {
            return Err(err(
                "price_decimals",
                format!("{price_dec} is coarser than the tick size"),
            ));
        }
        if qty_dec < lot_dec {
            return Err(err(
                "qty_decimals",
                format!("{qty_dec} is coarser than the lot size"),
            ));
        }
        let num = |field: &'static str, s: &str, dec: u32| -> Result<i64, SpecError> {
            let v = parse_decimal(s.trim().as_bytes(), dec)
                .map_err(|e| err(field, format!("{e}: {s:?}")))?
                .value;
            if v < 0 {
                return Err(err(field, "must not be negative".into()));
            }
            Ok(v)
        };
        let tick = num("tick_size", &self.tick_size, price_dec)?;
        let lot = num("lot_size", &self.lot_size, qty_dec)?;
        if tick == 0 {
            return Err(err("tick_size", "must be positive".into()));
        }
        if lot == 0 {
            return Err(err("lot_size", "must be positive".into()));
        }
        let min_qty = match &self.min_qty {
            Some(s) => num("min_qty", s, qty_dec)?.max(lot),
            None => lot,
        };
        let max_qty = match &self.max_qty {
            Some(s) => match num("max_qty", s, qty_dec)? {
                0 => i64::MAX,
                v => v,
            },
            None => i64::MAX,
        };
        let min_notional = match &self.min_notional {
            Some(s) => num("min_notional", s, 8)?,
            None => 0,
        };
        let contract_size = match (&self.contract_size, self.kind) {
            (Some(s), _) => num("contract_size", s, 8)?,
            (None, InstrumentKind::InversePerp | InstrumentKind::InverseFuture) => {
                return Err(err(
                    "contract_size",
                    "required for inverse contracts (quote value of one contract)".into(),
                ))
            }
            (None, _) => AMOUNT_ONE,
        };
        if contract_size == 0 {
            return Err(err("contract_size", "must be positive".into()));
        }
        Ok(InstrumentSpec {
            id,
            venue,
            venue_name: self.venue.clone(),
            symbol: self.symbol.clone(),
            base: self.base.to_ascii_uppercase(),
            quote: self.quote.to_ascii_uppercase(),
            kind: self.kind,
            price_dec,
            qty_dec,
            tick_size: Price(tick),
            lot_size: Qty(lot),
            min_qty: Qty(min_qty),
            max_qty: Qty(max_qty),
            min_notional: Amount(min_notional),
            contract_size: Amount(contract_size),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn def(venue: &str, symbol: &str, kind: InstrumentKind) -> InstrumentDef {
        let (tick, lot, mn, cs) = match kind {
            InstrumentKind::Spot => ("0.01", "0.00001", Some("5"), None),
            InstrumentKind::LinearPerp | InstrumentKind::LinearFuture => {
                ("0.10", "0.001", Some("100"), None)
            }
            InstrumentKind::InversePerp | InstrumentKind::InverseFuture => {
                ("0.1", "1", None, Some("100"))
            }
        };
        InstrumentDef {
            venue: venue.into(),
            symbol: symbol.into(),
            base: "BTC".into(),
            quote: if kind.is_inverse() { "USD" } else { "USDT" }.into(),
            kind,
            tick_size: tick.into(),
            lot_size: lot.into(),
            min_qty: None,
            max_qty: None,
            min_notional: mn.map(Into::into),
            contract_size: cs.map(Into::into),
            price_decimals: None,
            qty_decimals: None,
        }
    }

    #[test]
    fn spot_conversions() {
        let s = def("binance-spot", "BTCUSDT", InstrumentKind::Spot)
            .to_spec(InstrumentId(0), VenueId(0))
            .unwrap();
        assert_eq!((s.price_dec, s.qty_dec), (2, 5));
        let px = Price(6183763); // 61837.63
        let q = Qty(10_000); // 0.1 BTC
        assert_eq!(s.base_amount(q, px), Amount(10_000_000));
        assert_eq!(s.quote_amount(q, px), Amount::from_f64(6183.763));
        assert_eq!(s.qty_for_base_floor(Amount(12_345_678), px), Qty(12_345));
        assert!(s.order_ok(Qty(10), px)); // 0.0001 BTC = 6.18 USDT ≥ 5
        assert!(!s.order_ok(Qty(8), px)); // 4.9 USDT < 5
    }

    #[test]
    fn inverse_conversions() {
        let s = def("binance-coinm", "BTCUSD_PERP", InstrumentKind::InversePerp)
            .to_spec(InstrumentId(2), VenueId(2))
            .unwrap();
        let px = Price(618047); // 61804.7
        let q = Qty(10); // 10 contracts = 1000 USD
        assert_eq!(s.quote_amount(q, px), Amount(1000 * AMOUNT_ONE));
        // 1000 / 61804.7 BTC = 0.01617996...
        assert_eq!(s.base_amount(q, px), Amount(1_617_999));
        assert_eq!(s.qty_for_base_floor(Amount(1_618_000), px), Qty(10));
        assert_eq!(s.qty_for_base_floor(Amount(1_617_000), px), Qty(9));
        assert_eq!(s.qty_for_base_nearest(Amount(1_617_000), px), Qty(10));
    }

    #[test]
    fn spec_errors_name_the_field() {
        let mut d = def("binance-coinm", "BTCUSD_PERP", InstrumentKind::InversePerp);
        d.contract_size = None;
        let e = d.to_spec(InstrumentId(0), VenueId(0)).unwrap_err();
        assert_eq!(e.field, "contract_size");
        let mut d = def("binance-spot", "BTCUSDT", InstrumentKind::Spot);
        d.tick_size = "0".into();
        assert_eq!(
            d.to_spec(InstrumentId(0), VenueId(0)).unwrap_err().field,
            "tick_size"
        );
        d.tick_size = "x".into();
        assert!(d
            .to_spec(InstrumentId(0), VenueId(0))
            .unwrap_err()
            .to_string()
            .contains("tick_size"));
    }
}
