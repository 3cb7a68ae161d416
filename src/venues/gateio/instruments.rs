//! Instrument specs from Gate.io `GET /api/v4/spot/currency_pairs` (the `GATEIO.0` recording).
//! Cold path: serde_json.
//!
//! `precision` → tick size `10^-precision`, `amount_precision` → lot size, `min_base_amount` →
//! minimum quantity, `min_quote_amount` → minimum notional.
//! Source: <https://www.gate.com/docs/developers/apiv4/en> ("List all currency pairs supported").
//!
//! Wire decimals are wider than the order precisions: the recorded book carries amounts with
//! up to 10 decimals (`"0.0003341504"`) whatever `amount_precision` says, and some pairs quote
//! prices finer than `precision` (recorded NEO_BTC: precision 7, book prices with 8 decimals).
//! Specs therefore read prices and quantities at [`WIRE_DECIMALS`] (at least the precision):
//! quantities up to 9.2·10⁸ units fit; a pair with larger book amounts needs a
//! `qty_decimals` override in `[[instruments]]`.
#![forbid(unsafe_code)]

use crate::instrument::{InstrumentDef, InstrumentKind};
use crate::venues::raw_json::recorded_body;
use serde_json::Value;

/// Decimals prices and amounts are read at (unless the precision is finer).
pub const WIRE_DECIMALS: u32 = 10;

fn step(dec: u64) -> String {
    if dec == 0 {
        "1".into()
    } else {
        format!("0.{}1", "0".repeat(dec as usize - 1))
    }
}

/// Accepts the raw JSON body or the recorded `URL -> t: body` line (first line of the file).
pub fn parse_currency_pairs(text: &str, venue_name: &str) -> Result<Vec<InstrumentDef>, String> {
    let first = text.lines().next().unwrap_or("");
    let v: Value = serde_json::from_str(recorded_body(first)?)
        .map_err(|e| format!("currency_pairs is not JSON: {e}"))?;
    let arr = v.as_array().ok_or("currency_pairs is not an array")?;
    let mut out = Vec::with_capacity(arr.len());
    for p in arr {
        let g = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_string);
        let id = g("id").ok_or("an entry without `id`")?;
        let prec = |k: &str| {
            p.get(k)
                .and_then(Value::as_u64)
                .filter(|d| *d <= 12)
                .ok_or_else(|| format!("{id}: no `{k}` in 0..=12"))
        };
        let (pp, ap) = (prec("precision")?, prec("amount_precision")?);
        out.push(InstrumentDef {
            venue: venue_name.to_string(),
            base: g("base").ok_or_else(|| format!("{id}: no `base`"))?,
            quote: g("quote").ok_or_else(|| format!("{id}: no `quote`"))?,
            kind: InstrumentKind::Spot,
            tick_size: step(pp),
            lot_size: step(ap),
            min_qty: g("min_base_amount"),
            max_qty: None,
            min_notional: g("min_quote_amount"),
            contract_size: None,
            price_decimals: Some(WIRE_DECIMALS.max(pp as u32)),
            qty_decimals: Some(WIRE_DECIMALS.max(ap as u32)),
            symbol: id,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{InstrumentId, VenueId, AMOUNT_ONE};
    use crate::venues::testing::{all_specs, recorded};

    #[test]
    fn reads_recorded_currency_pairs() {
        let text = recorded("GATEIO.0");
        let defs = parse_currency_pairs(&text, "gateio").unwrap();
        assert_eq!(defs.len(), 1458);
        let b = defs.iter().find(|d| d.symbol == "BTC_USDT").unwrap();
        let s = b.to_spec(InstrumentId(0), VenueId(0)).unwrap();
        assert_eq!(
            (b.tick_size.as_str(), b.lot_size.as_str()),
            ("0.01", "0.0001")
        );
        assert_eq!((s.price_dec, s.qty_dec), (10, 10));
        assert_eq!(s.tick_size.0, 100_000_000); // 0.01 at 10 decimals
        assert_eq!(s.min_qty.0, 1_000_000); // 0.0001 BTC
        assert_eq!(s.min_notional.0, AMOUNT_ONE); // 1 USDT
        let neo = defs.iter().find(|d| d.symbol == "NEO_BTC").unwrap();
        assert_eq!(neo.tick_size, "0.0000001");
        all_specs(&defs);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(parse_currency_pairs("{}", "g").is_err());
        assert!(parse_currency_pairs(
            r#"[{"id":"A_B","base":"A","quote":"B","precision":40,"amount_precision":1}]"#,
            "g"
        )
        .is_err());
        assert!(parse_currency_pairs(
            r#"[{"id":"A_B","quote":"B","precision":4,"amount_precision":1}]"#,
            "g"
        )
        .is_err());
        assert_eq!(step(0), "1");
        assert_eq!(step(3), "0.001");
    }
}
