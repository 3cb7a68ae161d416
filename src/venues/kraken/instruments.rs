//! Instrument specs from Kraken `GET https://api.kraken.com/0/public/AssetPairs`
//! (<https://docs.kraken.com/api/docs/rest-api/get-tradable-asset-pairs>). Cold path:
//! serde_json.
//!
//! Input: the raw JSON body or the recorded line `URL -> t: body` (`KRAKEN.0`). The symbol of
//! each spec is the pair's `wsname` (`XBT/USD`, the WS v1 and REST spelling); the v2 handler
//! maps it to the v2 spelling (`BTC/USD`, see [`super::v2_symbol`]). Base and quote are
//! normalised (`XBT` → `BTC`, `ZUSD` → `USD`).
//!
//! Mapping: `pair_decimals` → price decimals (the precision the v2 checksum formats prices
//! with), `tick_size` when present (newer responses) else `10^-pair_decimals`;
//! `lot_decimals` → quantity decimals and lot; `ordermin` → minimum quantity; `costmin` →
//! minimum notional. Dark-pool pairs (`.d`) are skipped.
#![forbid(unsafe_code)]

use crate::instrument::{InstrumentDef, InstrumentKind};
use crate::venues::symbols::normalize_asset;
use serde_json::Value;

fn step(dec: u64) -> String {
    if dec == 0 {
        "1".into()
    } else {
        format!("0.{}1", "0".repeat(dec as usize - 1))
    }
}

/// Every spot pair in `text`.
pub fn parse_asset_pairs(text: &str, venue_name: &str) -> Result<Vec<InstrumentDef>, String> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("configuration:"))
        .ok_or("no AssetPairs response in the file")?;
    let body = crate::venues::recorded_body(line)?;
    let v: Value =
        serde_json::from_str(body).map_err(|e| format!("AssetPairs response is not JSON: {e}"))?;
    if let Some(e) = v.get("error").and_then(Value::as_array) {
        if !e.is_empty() {
            return Err(format!("AssetPairs response has errors: {e:?}"));
        }
    }
    let res = v
        .get("result")
        .and_then(Value::as_object)
        .ok_or("AssetPairs response has no `result` object")?;
    let mut out = Vec::with_capacity(res.len());
    for (key, p) in res {
        if key.ends_with(".d") {
            continue;
        }
        let Some(ws) = p.get("wsname").and_then(Value::as_str) else {
            continue; // not tradable over WebSocket
        };
        let Some((b, q)) = ws.split_once('/') else {
            return Err(format!("{key}: wsname {ws:?} is not BASE/QUOTE"));
        };
        let num = |k: &str| {
            p.get(k)
                .and_then(Value::as_u64)
                .ok_or_else(|| format!("{key}: no `{k}`"))
        };
        let (pd, ld) = (num("pair_decimals")?, num("lot_decimals")?);
        let s = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_string);
        out.push(InstrumentDef {
            venue: venue_name.to_string(),
            symbol: ws.to_string(),
            base: normalize_asset(b),
            quote: normalize_asset(q),
            kind: InstrumentKind::Spot,
            tick_size: s("tick_size").unwrap_or_else(|| step(pd)),
            lot_size: step(ld),
            min_qty: s("ordermin"),
            max_qty: None,
            min_notional: s("costmin"),
            contract_size: None,
            price_decimals: Some(pd as u32),
            qty_decimals: Some(ld as u32),
        });
    }
    out.sort_by(|a, b| a.symbol.cmp(&b.symbol));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venues::testing::{all_specs, recorded, spec};

    #[test]
    fn reads_recorded_asset_pairs() {
        let text = recorded("KRAKEN.0");
        let defs = parse_asset_pairs(&text, "kraken").unwrap();
        assert!(defs.len() > 250, "{}", defs.len());
        let get = |s: &str| spec(&defs, s);
        let x = get("XBT/CHF");
        assert_eq!(x.internal_name(), "BTC/CHF@kraken:spot");
        assert_eq!((x.price_dec, x.qty_dec), (1, 8));
        assert_eq!(x.min_qty.0, 20_000); // ordermin 0.0002
        let a = get("ADA/XBT");
        assert_eq!((a.base.as_str(), a.quote.as_str()), ("ADA", "BTC"));
        assert_eq!(a.price_dec, 8);
        assert_eq!(get("XMR/USD").quote, "USD");
        all_specs(&defs);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(parse_asset_pairs("", "k").is_err());
        assert!(parse_asset_pairs("{}", "k").is_err());
        assert!(parse_asset_pairs(r#"{"error":["EGeneral:x"],"result":{}}"#, "k").is_err());
        let e = parse_asset_pairs(
            r#"{"error":[],"result":{"XY":{"wsname":"X/Y","lot_decimals":8}}}"#,
            "k",
        )
        .unwrap_err();
        assert!(e.contains("pair_decimals"), "{e}");
        assert_eq!(step(0), "1");
        assert_eq!(step(3), "0.001");
    }
}
