//! Instrument specs from Coinbase's product lists. Cold path: serde_json.
//!
//! - Exchange `GET https://api.exchange.coinbase.com/products` (formerly
//!   `api.pro.coinbase.com`, the recorded `COINBASE.0`): a JSON array of
//!   `{id, base_currency, quote_currency, quote_increment, base_increment, base_min_size,
//!   base_max_size, min_market_funds}` (<https://docs.cdp.coinbase.com/exchange/reference/exchangerestapi_getproducts>).
//! - Advanced Trade `GET https://api.coinbase.com/api/v3/brokerage/market/products`:
//!   `{"products":[{product_id, base_currency_id, quote_currency_id, price_increment,
//!   base_increment, base_min_size, base_max_size, quote_min_size, product_type}]}`
//!   (spot products only).
//!
//! Input: the raw body or a recorded `URL -> t: body` line. Tick = `price_increment` /
//! `quote_increment`, lot = `base_increment`, minimum notional = `quote_min_size` /
//! `min_market_funds`.
#![forbid(unsafe_code)]

use crate::instrument::{InstrumentDef, InstrumentKind};
use crate::venues::symbols::normalize_asset;
use serde_json::Value;

/// Every spot product in `text`.
pub fn parse_products(text: &str, venue_name: &str) -> Result<Vec<InstrumentDef>, String> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("configuration:"))
        .ok_or("no products response in the file")?;
    let body = crate::venues::recorded_body(line)?;
    let v: Value = serde_json::from_str(body)
        .map_err(|e| format!("Coinbase products response is not JSON: {e}"))?;
    let (list, advanced) = match &v {
        Value::Array(a) => (a, false),
        Value::Object(o) => match o.get("products").and_then(Value::as_array) {
            Some(a) => (a, true),
            None => return Err("Coinbase products response has no `products` array".into()),
        },
        _ => return Err("Coinbase products response is neither an array nor an object".into()),
    };
    let mut out = Vec::with_capacity(list.len());
    for p in list {
        let s = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_string);
        let id_key = if advanced { "product_id" } else { "id" };
        let Some(id) = s(id_key) else {
            return Err(format!("a product without `{id_key}`"));
        };
        if advanced && s("product_type").is_some_and(|t| t != "SPOT") {
            continue;
        }
        let need = |k: &str| s(k).ok_or_else(|| format!("Coinbase {id}: no `{k}`"));
        let (base, quote, tick, min_notional) = if advanced {
            (
                need("base_currency_id")?,
                need("quote_currency_id")?,
                s("price_increment").map_or_else(|| need("quote_increment"), Ok)?,
                s("quote_min_size"),
            )
        } else {
            (
                need("base_currency")?,
                need("quote_currency")?,
                need("quote_increment")?,
                s("min_market_funds"),
            )
        };
        let lot = need("base_increment")?;
        out.push(InstrumentDef {
            venue: venue_name.to_string(),
            symbol: id.clone(),
            base: normalize_asset(&base),
            quote: normalize_asset(&quote),
            kind: InstrumentKind::Spot,
            tick_size: tick,
            lot_size: lot,
            min_qty: s("base_min_size"),
            max_qty: s("base_max_size"),
            min_notional,
            contract_size: None,
            price_decimals: None,
            qty_decimals: None,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{InstrumentId, VenueId};
    use crate::venues::testing::{all_specs, recorded, spec};

    #[test]
    fn reads_recorded_exchange_products() {
        let text = recorded("COINBASE.0");
        let defs = parse_products(&text, "coinbase").unwrap();
        assert_eq!(defs.len(), 162);
        let spec = spec(&defs, "SKL-USD");
        assert_eq!(spec.internal_name(), "SKL/USD@coinbase:spot");
        assert_eq!((spec.price_dec, spec.qty_dec), (4, 1));
        assert_eq!(spec.min_qty.0, 50); // 5 SKL
        assert_eq!(spec.min_notional.0, 5 * crate::types::AMOUNT_ONE);
        all_specs(&defs);
    }

    #[test]
    fn reads_advanced_trade_products() {
        let body = r#"{"products":[{"product_id":"BTC-USD","price":"140.21","base_increment":"0.00000001","quote_increment":"0.01","price_increment":"0.01","quote_min_size":"1","base_min_size":"0.00000001","base_max_size":"3400","base_currency_id":"BTC","quote_currency_id":"USD","product_type":"SPOT"},{"product_id":"BIT-28JUL23-CDE","base_increment":"1","quote_increment":"0.01","price_increment":"5","base_currency_id":"","quote_currency_id":"USD","product_type":"FUTURE"}],"num_products":2}"#;
        let defs = parse_products(body, "coinbase").unwrap();
        assert_eq!(defs.len(), 1);
        let spec = defs[0].to_spec(InstrumentId(0), VenueId(0)).unwrap();
        assert_eq!((spec.price_dec, spec.qty_dec), (2, 8));
        assert_eq!(spec.base, "BTC");
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(parse_products("", "c").is_err());
        assert!(parse_products("{}", "c").is_err());
        assert!(parse_products("[{\"id\":\"A-B\"}]", "c")
            .unwrap_err()
            .contains("base_currency"));
    }
}
