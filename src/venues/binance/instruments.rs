//! Instrument specs from Binance `exchangeInfo` (`GET /api/v3/exchangeInfo`,
//! `/fapi/v1/exchangeInfo`, `/dapi/v1/exchangeInfo`). Cold path: serde_json.
//!
//! Uses `PRICE_FILTER.tickSize`, `LOT_SIZE.{stepSize,minQty,maxQty}`, and the minimum notional
//! from `MIN_NOTIONAL.minNotional` / `NOTIONAL.minNotional` (spot) or `MIN_NOTIONAL.notional`
//! (USDⓈ-M); COIN-M's `contractSize` is the USD value of one contract.
//! Source: <https://developers.binance.com/docs/binance-spot-api-docs/filters>.
#![forbid(unsafe_code)]

use super::Market;
use crate::instrument::{InstrumentDef, InstrumentKind};
use serde_json::Value;

/// Accepts the raw JSON body, or a recorded line `URL -> t: body` (the `NAME.0` files).
pub fn parse_exchange_info(
    text: &str,
    market: Market,
    venue_name: &str,
) -> Result<Vec<InstrumentDef>, String> {
    let body = match text.find(" -> ") {
        Some(i) if !text.starts_with('{') => text[i..]
            .split_once(": ")
            .map(|(_, b)| b)
            .ok_or("recorded line without ': ' before the body")?,
        _ => text,
    };
    let v: Value =
        serde_json::from_str(body.trim()).map_err(|e| format!("exchangeInfo is not JSON: {e}"))?;
    let syms = v
        .get("symbols")
        .and_then(Value::as_array)
        .ok_or("exchangeInfo has no `symbols` array")?;
    let mut out = Vec::with_capacity(syms.len());
    for s in syms {
        let gs = |k: &str| s.get(k).and_then(Value::as_str).map(str::to_string);
        let Some(symbol) = gs("symbol") else {
            return Err("a symbol entry without `symbol`".into());
        };
        let filters = s
            .get("filters")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let filter = |t: &str, k: &str| -> Option<String> {
            filters
                .iter()
                .find(|f| f.get("filterType").and_then(Value::as_str) == Some(t))
                .and_then(|f| f.get(k))
                .and_then(|x| match x {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
        };
        let Some(tick) = filter("PRICE_FILTER", "tickSize") else {
            return Err(format!("{symbol}: no PRICE_FILTER.tickSize"));
        };
        let Some(step) = filter("LOT_SIZE", "stepSize") else {
            return Err(format!("{symbol}: no LOT_SIZE.stepSize"));
        };
        let min_notional = filter("MIN_NOTIONAL", "minNotional")
            .or_else(|| filter("NOTIONAL", "minNotional"))
            .or_else(|| filter("MIN_NOTIONAL", "notional"));
        let (kind, contract_size) = match market {
            Market::Spot => (InstrumentKind::Spot, None),
            Market::Usdm => (InstrumentKind::LinearPerp, None),
            Market::Coinm => (
                InstrumentKind::InversePerp,
                s.get("contractSize").map(|c| c.to_string()),
            ),
        };
        out.push(InstrumentDef {
            venue: venue_name.to_string(),
            symbol,
            base: gs("baseAsset").unwrap_or_default(),
            quote: gs("quoteAsset").unwrap_or_default(),
            kind,
            tick_size: tick,
            lot_size: step,
            min_qty: filter("LOT_SIZE", "minQty"),
            max_qty: filter("LOT_SIZE", "maxQty"),
            min_notional,
            contract_size,
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
    fn reads_recorded_exchange_info() {
        let text = recorded("BINANCE.0");
        let line = text.lines().next().unwrap();
        let defs = parse_exchange_info(line, Market::Spot, "binance-spot").unwrap();
        assert_eq!(defs.len(), 1695);
        let spec = spec(&defs, "BTCUSDT");
        assert_eq!((spec.price_dec, spec.qty_dec), (2, 5));
        assert_eq!(spec.tick_size.0, 1);
        assert_eq!(spec.lot_size.0, 1);
        assert_eq!(spec.min_notional.0, 10 * crate::types::AMOUNT_ONE);
        assert_eq!(spec.max_qty.0, 9000 * 100_000);
        // every entry converts to a valid spec
        all_specs(&defs);
    }

    #[test]
    fn reads_recorded_futures_exchange_info() {
        let text = recorded("BINANCE_FUTURES.0");
        let line = text.lines().next().unwrap();
        let defs = parse_exchange_info(line, Market::Usdm, "binance-usdm").unwrap();
        let btc = defs.iter().find(|d| d.symbol == "BTCUSDT").unwrap();
        assert_eq!(btc.kind, InstrumentKind::LinearPerp);
        let spec = btc.to_spec(InstrumentId(0), VenueId(0)).unwrap();
        assert_eq!(spec.lot_size.0, 1);
        assert_eq!(spec.qty_dec, 3);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(parse_exchange_info("nope", Market::Spot, "x").is_err());
        assert!(parse_exchange_info("{}", Market::Spot, "x").is_err());
        assert!(parse_exchange_info(
            r#"{"symbols":[{"symbol":"A","filters":[]}]}"#,
            Market::Spot,
            "x"
        )
        .unwrap_err()
        .contains("PRICE_FILTER"));
    }
}
