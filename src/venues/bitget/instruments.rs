//! Instrument specs from Bitget spot product lists (`../shared/data/recorded/BITGET.0`):
//! v1 `GET /api/spot/v1/public/products` (`symbol` `BTCUSDT_SPBL`, `symbolName` `BTCUSDT`,
//! `priceScale`, `quantityScale`, `minTradeAmount`, `maxTradeAmount` with 0 = none) and v2
//! `GET /api/v2/spot/public/symbols` (`symbol` `BTCUSDT`, `pricePrecision`,
//! `quantityPrecision`, `minTradeAmount`, `maxTradeAmount`, `minTradeUSDT`; v2 field names
//! UNCONFIRMED by a primary doc, `exchanges.md` §11.2). Cold path: serde_json.
//!
//! Specs use the WebSocket symbol (`BTCUSDT`). Futures lists in the same file (`mix/v1`) are
//! skipped: this adapter is spot only.
#![forbid(unsafe_code)]

use crate::instrument::{InstrumentDef, InstrumentKind};
use crate::venues::raw_json::{recorded_body, recorded_url};
use serde_json::Value;

fn step(dec: u32) -> String {
    if dec == 0 {
        "1".into()
    } else {
        format!("0.{}1", "0".repeat(dec as usize - 1))
    }
}

fn one(p: &Value, venue_name: &str) -> Result<InstrumentDef, String> {
    let s = |k: &str| match p.get(k) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let sym = s("symbolName")
        .or_else(|| s("symbol"))
        .ok_or("a product without `symbol`")?;
    let sym = sym.strip_suffix("_SPBL").unwrap_or(&sym).to_string();
    let scale = |a: &str, b: &str| -> Result<u32, String> {
        s(a).or_else(|| s(b))
            .and_then(|x| x.parse::<u32>().ok())
            .filter(|d| *d <= 12)
            .ok_or_else(|| format!("{sym}: no `{a}`/`{b}` in 0..=12"))
    };
    let pd = scale("priceScale", "pricePrecision")?;
    let qd = scale("quantityScale", "quantityPrecision")?;
    let nonzero = |k: &str| s(k).filter(|v| v.parse::<f64>().map(|x| x > 0.0).unwrap_or(false));
    // some products list a minimum finer than their quantity scale (recorded LUNAUSDT: scale 2,
    // minTradeAmount 0.003): read quantities at the finer of the two
    let min_dec = nonzero("minTradeAmount")
        .and_then(|m| crate::fixed_point::significant_decimals(&m).ok())
        .unwrap_or(0);
    Ok(InstrumentDef {
        venue: venue_name.to_string(),
        base: s("baseCoin").ok_or_else(|| format!("{sym}: no `baseCoin`"))?,
        quote: s("quoteCoin").ok_or_else(|| format!("{sym}: no `quoteCoin`"))?,
        kind: InstrumentKind::Spot,
        tick_size: step(pd),
        lot_size: step(qd),
        min_qty: nonzero("minTradeAmount"),
        max_qty: nonzero("maxTradeAmount"),
        min_notional: nonzero("minTradeUSDT"),
        contract_size: None,
        price_decimals: None,
        qty_decimals: (min_dec > qd).then_some(min_dec.min(12)),
        symbol: sym,
    })
}

/// Every spot product list in the file (recorded `URL -> t: body` lines), or one raw body.
pub fn parse_products(text: &str, venue_name: &str) -> Result<Vec<InstrumentDef>, String> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match recorded_url(line) {
            Some(u) if u.contains("/spot/") => {}
            Some(_) => continue, // futures lists
            None if line.trim_start().starts_with('{') => {}
            None => continue, // `configuration: ...` trailer
        }
        let v: Value = serde_json::from_str(recorded_body(line)?)
            .map_err(|e| format!("products response is not JSON: {e}"))?;
        let data = v
            .get("data")
            .and_then(Value::as_array)
            .ok_or("products response has no `data` array")?;
        for p in data {
            out.push(one(p, venue_name)?);
        }
    }
    if out.is_empty() {
        return Err("no spot product list in the file".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{InstrumentId, VenueId};
    use crate::venues::testing::{all_specs, recorded, spec};

    #[test]
    fn reads_recorded_v1_products() {
        let text = recorded("BITGET.0");
        let defs = parse_products(&text, "bitget").unwrap();
        assert_eq!(defs.len(), 245, "spot only: the two mix lists are skipped");
        let s = spec(&defs, "BTCUSDT");
        assert_eq!((s.price_dec, s.qty_dec, s.min_qty.0), (2, 4, 1));
        let cult = defs.iter().find(|d| d.symbol == "CULTUSDT").unwrap();
        let s = cult.to_spec(InstrumentId(1), VenueId(0)).unwrap();
        assert_eq!((s.price_dec, s.qty_dec), (8, 0));
        let luna = defs.iter().find(|d| d.symbol == "LUNAUSDT").unwrap();
        let s = luna.to_spec(InstrumentId(2), VenueId(0)).unwrap();
        assert_eq!(
            (s.qty_dec, s.lot_size.0, s.min_qty.0),
            (3, 10, 10),
            "lot 0.01 wins over min 0.003"
        );
        all_specs(&defs);
    }

    #[test]
    fn v2_shape_and_bad_input() {
        let v2 = r#"{"code":"00000","data":[{"symbol":"BTCUSDT","baseCoin":"BTC","quoteCoin":"USDT","minTradeAmount":"0","maxTradeAmount":"10000000000","pricePrecision":"2","quantityPrecision":"6","minTradeUSDT":"1"}]}"#;
        let d = parse_products(v2, "bitget").unwrap();
        assert_eq!(
            (
                d[0].symbol.as_str(),
                d[0].tick_size.as_str(),
                d[0].lot_size.as_str()
            ),
            ("BTCUSDT", "0.01", "0.000001")
        );
        assert_eq!(d[0].min_qty, None);
        assert_eq!(d[0].min_notional.as_deref(), Some("1"));
        assert!(parse_products("", "b").is_err());
        assert!(parse_products(r#"{"data":[{"symbol":"X"}]}"#, "b").is_err());
    }
}
