//! Instrument specs from KuCoin `GET /api/v1/symbols` (the `KUCOIN.0` recording; `/api/v2/symbols`
//! has the same fields). Cold path: serde_json.
//!
//! `priceIncrement` → tick size, `baseIncrement` → lot size, `baseMinSize`/`baseMaxSize` → order
//! quantity limits, `quoteMinSize` → minimum notional.
//! Source: KuCoin API docs, "Get Symbols List".
#![forbid(unsafe_code)]

use crate::instrument::{InstrumentDef, InstrumentKind};
use crate::venues::raw_json::recorded_body;
use serde_json::Value;

/// Accepts the raw JSON body or the recorded `URL -> t: body` line (first line of the file).
pub fn parse_symbols(text: &str, venue_name: &str) -> Result<Vec<InstrumentDef>, String> {
    let first = text.lines().next().unwrap_or("");
    let v: Value = serde_json::from_str(recorded_body(first)?)
        .map_err(|e| format!("symbols response is not JSON: {e}"))?;
    if v.get("code").and_then(Value::as_str) != Some("200000") {
        return Err("symbols response: code is not 200000".into());
    }
    let arr = v
        .get("data")
        .and_then(Value::as_array)
        .ok_or("symbols response has no `data` array")?;
    let mut out = Vec::with_capacity(arr.len());
    for s in arr {
        let g = |k: &str| s.get(k).and_then(Value::as_str).map(str::to_string);
        let symbol = g("symbol").ok_or("an entry without `symbol`")?;
        let need = |k: &str| g(k).ok_or_else(|| format!("{symbol}: no `{k}`"));
        out.push(InstrumentDef {
            venue: venue_name.to_string(),
            base: need("baseCurrency")?,
            quote: need("quoteCurrency")?,
            kind: InstrumentKind::Spot,
            tick_size: need("priceIncrement")?,
            lot_size: need("baseIncrement")?,
            min_qty: g("baseMinSize"),
            max_qty: g("baseMaxSize"),
            min_notional: g("quoteMinSize"),
            contract_size: None,
            price_decimals: None,
            qty_decimals: None,
            symbol,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{InstrumentId, VenueId, AMOUNT_ONE};
    use crate::venues::testing::{all_specs, recorded, spec};

    #[test]
    fn reads_recorded_symbols() {
        let text = recorded("KUCOIN.0");
        let defs = parse_symbols(&text, "kucoin").unwrap();
        assert_eq!(defs.len(), 634);
        let spec = spec(&defs, "BTC-USDT");
        assert_eq!((spec.price_dec, spec.qty_dec), (1, 8));
        assert_eq!(spec.min_qty.0, 1000); // 0.00001 BTC
        assert_eq!(spec.min_notional.0, AMOUNT_ONE / 100); // 0.01 USDT
        let capp = defs.iter().find(|d| d.symbol == "CAPP-BTC").unwrap();
        assert_eq!(
            capp.to_spec(InstrumentId(1), VenueId(0)).unwrap().price_dec,
            10
        );
        // BCHSV-USDT trades as BSV (`name`), `symbol` is what the feeds use
        assert!(defs
            .iter()
            .any(|d| d.symbol == "BCHSV-USDT" && d.base == "BSV"));
        all_specs(&defs);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(parse_symbols("x", "k").is_err());
        assert!(parse_symbols(r#"{"code":"400001"}"#, "k").is_err());
        assert!(
            parse_symbols(r#"{"code":"200000","data":[{"symbol":"A-B"}]}"#, "k")
                .unwrap_err()
                .contains("baseCurrency")
        );
    }
}
