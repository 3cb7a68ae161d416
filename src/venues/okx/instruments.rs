//! Instrument specs from OKX `GET /api/v5/public/instruments?instType=SPOT|SWAP|FUTURES`
//! (<https://www.okx.com/docs-v5/en/#public-data-rest-api-get-instruments>). Cold path:
//! serde_json.
//!
//! Input: the raw JSON body, or the recorded lines `URL -> t: body` of `OKX.0` (several
//! responses, one per line; a later line wins for an `instId` seen twice). Options are skipped.
//!
//! Mapping: `tickSz` → tick, `lotSz` → lot, `minSz` → min quantity, `maxLmtSz` → max quantity.
//! - `SPOT` `BTC-USDT`: base `baseCcy`, quote `quoteCcy`, quantity in base.
//! - `SWAP`/`FUTURES` `ctType:"linear"` (`BTC-USDT-SWAP`): quantity in contracts of
//!   `ctVal × ctMult` `ctValCcy` (base) each, quote/settle `settleCcy`.
//! - `SWAP`/`FUTURES` `ctType:"inverse"` (`BTC-USD-SWAP`, `BTC-USD-220527`): contracts of
//!   `ctVal` `ctValCcy` (USD) each, margined in `settleCcy` (the base).
#![forbid(unsafe_code)]

use crate::instrument::{InstrumentDef, InstrumentKind};
use crate::venues::symbols::normalize_asset;
use serde_json::Value;

/// Every spot, swap and future in `text` (one or more responses).
pub fn parse_instruments(text: &str, venue_name: &str) -> Result<Vec<InstrumentDef>, String> {
    let mut out: Vec<InstrumentDef> = Vec::new();
    let mut bodies = 0;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with("configuration:") {
            continue;
        }
        let body = crate::venues::recorded_body(line)?;
        let v: Value = serde_json::from_str(body)
            .map_err(|e| format!("OKX instruments response is not JSON: {e}"))?;
        if v.get("code")
            .and_then(Value::as_str)
            .is_some_and(|c| c != "0")
        {
            return Err(format!(
                "OKX instruments response has error code {}",
                v["code"]
            ));
        }
        let data = v
            .get("data")
            .and_then(Value::as_array)
            .ok_or("OKX instruments response has no `data` array")?;
        bodies += 1;
        for d in data {
            if let Some(def) = one(d, venue_name)? {
                match out.iter_mut().find(|x| x.symbol == def.symbol) {
                    Some(x) => *x = def,
                    None => out.push(def),
                }
            }
        }
    }
    if bodies == 0 {
        return Err("no OKX instruments response in the file".into());
    }
    Ok(out)
}

fn one(d: &Value, venue_name: &str) -> Result<Option<InstrumentDef>, String> {
    let s = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let inst_id = s("instId");
    if inst_id.is_empty() {
        return Err("an OKX instrument without `instId`".into());
    }
    let need = |k: &str| -> Result<String, String> {
        let v = s(k);
        if v.is_empty() {
            Err(format!("OKX {inst_id}: no `{k}`"))
        } else {
            Ok(v)
        }
    };
    let inst_type = s("instType");
    let (kind, base, quote, contract_size) = match inst_type.as_str() {
        "SPOT" | "MARGIN" => (
            InstrumentKind::Spot,
            need("baseCcy")?,
            need("quoteCcy")?,
            None,
        ),
        "SWAP" | "FUTURES" => {
            let swap = inst_type == "SWAP";
            let ct_val = need("ctVal")?;
            match s("ctType").as_str() {
                "linear" => {
                    let mult = s("ctMult");
                    let cs = if mult.is_empty() || mult == "1" {
                        ct_val
                    } else {
                        mul_decimal_str(&ct_val, &mult)
                            .ok_or_else(|| format!("OKX {inst_id}: ctVal × ctMult"))?
                    };
                    (
                        if swap {
                            InstrumentKind::LinearPerp
                        } else {
                            InstrumentKind::LinearFuture
                        },
                        need("ctValCcy")?,
                        need("settleCcy")?,
                        Some(cs),
                    )
                }
                "inverse" => (
                    if swap {
                        InstrumentKind::InversePerp
                    } else {
                        InstrumentKind::InverseFuture
                    },
                    need("settleCcy")?,
                    need("ctValCcy")?,
                    Some(ct_val),
                ),
                other => return Err(format!("OKX {inst_id}: unknown ctType {other:?}")),
            }
        }
        _ => return Ok(None), // options and anything new
    };
    let max = s("maxLmtSz");
    let (tick_size, lot_size) = (need("tickSz")?, need("lotSz")?);
    Ok(Some(InstrumentDef {
        venue: venue_name.to_string(),
        symbol: inst_id.clone(),
        base: normalize_asset(&base),
        quote: normalize_asset(&quote),
        kind,
        tick_size,
        lot_size,
        min_qty: Some(s("minSz")).filter(|x| !x.is_empty()),
        max_qty: Some(max).filter(|x| !x.is_empty()),
        min_notional: None,
        contract_size,
        price_decimals: None,
        qty_decimals: None,
    }))
}

/// Exact product of two short decimal strings (`"0.1" × "10"` → `"1"`), for ctVal × ctMult.
fn mul_decimal_str(a: &str, b: &str) -> Option<String> {
    use crate::fixed_point::{parse_decimal, write_decimal};
    let (fa, fb) = (frac_len(a), frac_len(b));
    let x = parse_decimal(a.as_bytes(), fa).ok()?.value as i128;
    let y = parse_decimal(b.as_bytes(), fb).ok()?.value as i128;
    let p = i64::try_from(x * y).ok()?;
    let mut out = Vec::new();
    write_decimal(&mut out, p, fa + fb, fa + fb);
    String::from_utf8(out).ok()
}

fn frac_len(s: &str) -> u32 {
    s.split_once('.').map(|(_, f)| f.len() as u32).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::AMOUNT_ONE;
    use crate::venues::testing::{all_specs, recorded, spec};

    #[test]
    fn reads_recorded_okx_instruments() {
        let text = recorded("OKX.0");
        let defs = parse_instruments(&text, "okx").unwrap();
        let get = |s: &str| spec(&defs, s);
        let spot = get("BTC-USDT");
        assert_eq!(spot.internal_name(), "BTC/USDT@okx:spot");
        assert_eq!((spot.price_dec, spot.qty_dec), (1, 8));
        assert_eq!(spot.min_qty.0, 1000); // 0.00001 BTC
        let lin = get("BTC-USDT-SWAP");
        assert_eq!(lin.internal_name(), "BTC/USDT@okx:linear-perp");
        assert_eq!(lin.contract_size.0, AMOUNT_ONE / 100); // 0.01 BTC per contract
        let inv = get("BTC-USD-SWAP");
        assert_eq!(inv.internal_name(), "BTC/USD@okx:inverse-perp");
        assert_eq!(inv.contract_size.0, 100 * AMOUNT_ONE); // 100 USD per contract
        let fut = get("BTC-USD-220527");
        assert_eq!(fut.internal_name(), "BTC/USD@okx:inverse-future");
        let uni = get("UNI-USD-SWAP");
        assert_eq!((uni.base.as_str(), uni.quote.as_str()), ("UNI", "USD"));
        assert_eq!(uni.price_dec, 3);
        assert!(
            !defs.iter().any(|d| d.symbol.ends_with("-C")),
            "options skipped"
        );
        // every entry converts
        all_specs(&defs);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(parse_instruments("", "okx").is_err());
        assert!(parse_instruments("nope", "okx").is_err());
        assert!(parse_instruments(r#"{"code":"50011","data":[]}"#, "okx").is_err());
        let e = parse_instruments(
            r#"{"code":"0","data":[{"instId":"X-Y","instType":"SPOT","baseCcy":"X","quoteCcy":"Y","lotSz":"1"}]}"#,
            "okx",
        )
        .unwrap_err();
        assert!(e.contains("tickSz"), "{e}");
        assert_eq!(mul_decimal_str("0.1", "10").as_deref(), Some("1.0"));
    }
}
