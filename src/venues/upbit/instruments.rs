//! Instrument specs from Upbit's market list `GET https://api.upbit.com/v1/market/all`
//! (`../shared/data/recorded/UPBIT.0`). Cold path: serde_json.
//!
//! The list gives market codes only (`KRW-BTC`: quote first, then base). Upbit's tick size
//! depends on the price band (the KRW "price unit" table), which no recorded endpoint returns;
//! the spec therefore carries the finest step Upbit quotes in, 10⁻⁸, for price and quantity
//! (every price and volume on the feed is representable exactly), and no minimum notional.
//! Order prices per band and minimum order sizes (`GET /v1/orders/chance`) are left to the
//! order adapter, which this venue does not have yet.
#![forbid(unsafe_code)]

use crate::instrument::{InstrumentDef, InstrumentKind};
use crate::venues::raw_json::recorded_body;
use serde_json::Value;

/// Decimals of Upbit prices and volumes on the wire (and of the specs built here).
pub const DECIMALS: u32 = 8;

/// Split a market code `QUOTE-BASE` into `(base, quote)`.
pub fn split_code(code: &str) -> Option<(&str, &str)> {
    let (q, b) = code.split_once('-')?;
    (!q.is_empty() && !b.is_empty()).then_some((b, q))
}

/// One spec for a market code.
pub fn def_for(code: &str, venue_name: &str) -> Result<InstrumentDef, String> {
    let (base, quote) =
        split_code(code).ok_or_else(|| format!("market code {code:?} is not QUOTE-BASE"))?;
    Ok(InstrumentDef {
        venue: venue_name.to_string(),
        symbol: code.to_string(),
        base: base.to_string(),
        quote: quote.to_string(),
        kind: InstrumentKind::Spot,
        tick_size: "0.00000001".into(),
        lot_size: "0.00000001".into(),
        min_qty: None,
        max_qty: None,
        min_notional: None,
        contract_size: None,
        price_decimals: Some(DECIMALS),
        qty_decimals: Some(DECIMALS),
    })
}

/// Accepts the raw JSON body or the recorded `URL -> t: body` line (first line of the file).
pub fn parse_market_all(text: &str, venue_name: &str) -> Result<Vec<InstrumentDef>, String> {
    let first = text.lines().next().unwrap_or("");
    let v: Value = serde_json::from_str(recorded_body(first)?)
        .map_err(|e| format!("market/all is not JSON: {e}"))?;
    let arr = v.as_array().ok_or("market/all is not an array")?;
    arr.iter()
        .map(|m| {
            let code = m
                .get("market")
                .and_then(Value::as_str)
                .ok_or("an entry without `market`")?;
            def_for(code, venue_name)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venues::testing::{all_specs, recorded, spec};

    #[test]
    fn reads_recorded_market_list() {
        let text = recorded("UPBIT.0");
        let defs = parse_market_all(&text, "upbit").unwrap();
        assert!(defs.len() > 100, "{}", defs.len());
        let btc = defs.iter().find(|d| d.symbol == "KRW-BTC").unwrap();
        assert_eq!((btc.base.as_str(), btc.quote.as_str()), ("BTC", "KRW"));
        let spec = spec(&defs, "KRW-LAMB");
        assert_eq!((spec.price_dec, spec.qty_dec), (8, 8));
        assert_eq!(spec.internal_name(), "LAMB/KRW@upbit:spot");
        all_specs(&defs);
        // the quote markets the recording holds
        for q in ["KRW", "BTC", "USDT"] {
            assert!(defs.iter().any(|d| d.quote == q), "{q}");
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(parse_market_all("nope", "u").is_err());
        assert!(parse_market_all("{}", "u").is_err());
        assert!(parse_market_all(r#"[{"x":1}]"#, "u").is_err());
        assert!(parse_market_all(r#"[{"market":"KRWBTC"}]"#, "u").is_err());
        assert_eq!(split_code("KRW-BTC"), Some(("BTC", "KRW")));
        assert_eq!(split_code("-BTC"), None);
    }
}
