//! Instrument specs from Bybit's instrument lists. Cold path: serde_json.
//!
//! - v5 `GET /v5/market/instruments-info?category=spot|linear|inverse`
//!   (<https://bybit-exchange.github.io/docs/v5/market/instrument>):
//!   `{"retCode":0,"result":{"category":..,"list":[{symbol, baseCoin, quoteCoin, contractType,
//!   priceFilter:{tickSize}, lotSizeFilter:{qtyStep|basePrecision, minOrderQty, maxOrderQty,
//!   minNotionalValue|minOrderAmt}}]}}`. `contractType` `LinearPerpetual`, `LinearFutures`,
//!   `InversePerpetual`, `InverseFutures`; no `contractType` = spot. Inverse contracts are worth
//!   1 quote unit (USD) each.
//! - v2 `GET /v2/public/symbols` (the recorded `BYBIT.0`, 2021): `{"ret_code":0,"result":[{name,
//!   base_currency, quote_currency, price_filter:{tick_size}, lot_size_filter:{qty_step,
//!   min_trading_qty, max_trading_qty}}]}`; USDT-quoted = linear perpetual, USD-quoted =
//!   inverse (perpetual when the name is just BASE+QUOTE, else a dated future).
//!
//! Input: the raw body or recorded `URL -> t: body` lines (several allowed).
#![forbid(unsafe_code)]

use crate::instrument::{InstrumentDef, InstrumentKind};
use crate::venues::symbols::normalize_asset;
use serde_json::Value;

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Every instrument in `text` (v5 or v2 responses, one per line).
pub fn parse_instruments(text_in: &str, venue_name: &str) -> Result<Vec<InstrumentDef>, String> {
    let mut out: Vec<InstrumentDef> = Vec::new();
    let mut bodies = 0;
    for line in text_in.lines().map(str::trim) {
        if line.is_empty() || line.starts_with("configuration:") {
            continue;
        }
        let body = crate::venues::recorded_body(line)?;
        let v: Value = serde_json::from_str(body)
            .map_err(|e| format!("Bybit instruments response is not JSON: {e}"))?;
        let code = v.get("retCode").or_else(|| v.get("ret_code"));
        if code.and_then(Value::as_i64).is_some_and(|c| c != 0) {
            return Err(format!(
                "Bybit instruments response has error code {}",
                code.unwrap()
            ));
        }
        bodies += 1;
        let res = v.get("result").ok_or("Bybit response without `result`")?;
        let defs = if let Some(list) = res.get("list").and_then(Value::as_array) {
            list.iter()
                .map(|x| v5(x, venue_name))
                .collect::<Result<Vec<_>, _>>()?
        } else if let Some(list) = res.as_array() {
            list.iter()
                .map(|x| v2(x, venue_name))
                .collect::<Result<Vec<_>, _>>()?
        } else {
            return Err("Bybit response: `result` is neither a v5 list nor a v2 array".into());
        };
        for d in defs.into_iter().flatten() {
            match out.iter_mut().find(|x| x.symbol == d.symbol) {
                Some(x) => *x = d,
                None => out.push(d),
            }
        }
    }
    if bodies == 0 {
        return Err("no Bybit instruments response in the file".into());
    }
    Ok(out)
}

fn v5(x: &Value, venue: &str) -> Result<Option<InstrumentDef>, String> {
    let sym = text(x.get("symbol")).ok_or("a v5 instrument without `symbol`")?;
    let need = |v: Option<&Value>, k: &str| text(v).ok_or_else(|| format!("Bybit {sym}: no `{k}`"));
    let pf = x.get("priceFilter");
    let lf = x.get("lotSizeFilter");
    let lot = text(lf.and_then(|l| l.get("qtyStep")))
        .or_else(|| text(lf.and_then(|l| l.get("basePrecision"))))
        .ok_or_else(|| format!("Bybit {sym}: no `lotSizeFilter.qtyStep`"))?;
    let (kind, cs) = match x.get("contractType").and_then(Value::as_str) {
        None | Some("") => (InstrumentKind::Spot, None),
        Some("LinearPerpetual") => (InstrumentKind::LinearPerp, None),
        Some("LinearFutures") => (InstrumentKind::LinearFuture, None),
        Some("InversePerpetual") => (InstrumentKind::InversePerp, Some("1".to_string())),
        Some("InverseFutures") => (InstrumentKind::InverseFuture, Some("1".to_string())),
        Some(_) => return Ok(None), // options, spreads
    };
    Ok(Some(InstrumentDef {
        venue: venue.to_string(),
        symbol: sym.clone(),
        base: normalize_asset(&need(x.get("baseCoin"), "baseCoin")?),
        quote: normalize_asset(&need(x.get("quoteCoin"), "quoteCoin")?),
        kind,
        tick_size: need(pf.and_then(|p| p.get("tickSize")), "priceFilter.tickSize")?,
        lot_size: lot,
        min_qty: text(lf.and_then(|l| l.get("minOrderQty"))),
        max_qty: text(lf.and_then(|l| l.get("maxOrderQty"))),
        min_notional: text(lf.and_then(|l| l.get("minNotionalValue")))
            .or_else(|| text(lf.and_then(|l| l.get("minOrderAmt")))),
        contract_size: cs,
        price_decimals: None,
        qty_decimals: None,
    }))
}

fn v2(x: &Value, venue: &str) -> Result<Option<InstrumentDef>, String> {
    let name = text(x.get("name")).ok_or("a v2 symbol without `name`")?;
    let need =
        |v: Option<&Value>, k: &str| text(v).ok_or_else(|| format!("Bybit {name}: no `{k}`"));
    let base = normalize_asset(&need(x.get("base_currency"), "base_currency")?);
    let quote = normalize_asset(&need(x.get("quote_currency"), "quote_currency")?);
    let lf = x.get("lot_size_filter");
    let (kind, cs) = if quote == "USD" {
        if name == format!("{base}{quote}") {
            (InstrumentKind::InversePerp, Some("1".to_string()))
        } else {
            (InstrumentKind::InverseFuture, Some("1".to_string()))
        }
    } else {
        (InstrumentKind::LinearPerp, None)
    };
    Ok(Some(InstrumentDef {
        venue: venue.to_string(),
        symbol: name.clone(),
        base,
        quote,
        kind,
        tick_size: need(
            x.get("price_filter").and_then(|p| p.get("tick_size")),
            "price_filter.tick_size",
        )?,
        lot_size: need(
            lf.and_then(|l| l.get("qty_step")),
            "lot_size_filter.qty_step",
        )?,
        min_qty: text(lf.and_then(|l| l.get("min_trading_qty"))),
        max_qty: text(lf.and_then(|l| l.get("max_trading_qty"))),
        min_notional: None,
        contract_size: cs,
        price_decimals: None,
        qty_decimals: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{InstrumentId, VenueId, AMOUNT_ONE};
    use crate::venues::testing::{all_specs, recorded, spec};

    #[test]
    fn reads_recorded_v2_symbols() {
        let text = recorded("BYBIT.0");
        let defs = parse_instruments(&text, "bybit").unwrap();
        assert_eq!(defs.len(), 15);
        let get = |s: &str| spec(&defs, s);
        let btc = get("BTCUSD");
        assert_eq!(btc.internal_name(), "BTC/USD@bybit:inverse-perp");
        assert_eq!(btc.contract_size.0, AMOUNT_ONE);
        assert_eq!(btc.tick_size.0, 5); // 0.5 at 1 decimal
        let bch = get("BCHUSDT");
        assert_eq!(bch.internal_name(), "BCH/USDT@bybit:linear-perp");
        assert_eq!((bch.price_dec, bch.qty_dec), (2, 2));
        all_specs(&defs);
    }

    #[test]
    fn reads_v5_instruments_info() {
        let body = r#"{"retCode":0,"retMsg":"OK","result":{"category":"linear","list":[{"symbol":"BTCUSDT","contractType":"LinearPerpetual","status":"Trading","baseCoin":"BTC","quoteCoin":"USDT","settleCoin":"USDT","priceFilter":{"minPrice":"0.10","maxPrice":"199999.80","tickSize":"0.10"},"lotSizeFilter":{"maxOrderQty":"100.000","minOrderQty":"0.001","qtyStep":"0.001","minNotionalValue":"5"}},{"symbol":"BTCUSDH25","contractType":"LinearFutures","baseCoin":"BTC","quoteCoin":"USDT","priceFilter":{"tickSize":"0.50"},"lotSizeFilter":{"qtyStep":"0.001"}}]}}
{"retCode":0,"result":{"category":"spot","list":[{"symbol":"XRPUSDT","baseCoin":"XRP","quoteCoin":"USDT","priceFilter":{"tickSize":"0.0001"},"lotSizeFilter":{"basePrecision":"0.01","quotePrecision":"0.000001","minOrderQty":"1","maxOrderQty":"1000000","minOrderAmt":"1"}}]}}"#;
        let defs = parse_instruments(body, "bybit").unwrap();
        assert_eq!(defs.len(), 3);
        let s = defs[0].to_spec(InstrumentId(0), VenueId(0)).unwrap();
        assert_eq!(
            (s.kind, s.price_dec, s.qty_dec),
            (InstrumentKind::LinearPerp, 1, 3)
        );
        assert_eq!(s.min_notional.0, 5 * AMOUNT_ONE);
        assert_eq!(defs[1].kind, InstrumentKind::LinearFuture);
        let x = defs[2].to_spec(InstrumentId(0), VenueId(0)).unwrap();
        assert_eq!(x.internal_name(), "XRP/USDT@bybit:spot");
        assert_eq!((x.price_dec, x.qty_dec), (4, 2));
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(parse_instruments("", "b").is_err());
        assert!(parse_instruments(r#"{"retCode":10001,"result":{}}"#, "b").is_err());
        assert!(
            parse_instruments(r#"{"retCode":0,"result":{"list":[{"symbol":"X"}]}}"#, "b")
                .unwrap_err()
                .contains("qtyStep")
        );
    }
}
