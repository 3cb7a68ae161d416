//! Instrument specs from Bithumb's public tickers `GET /public/ticker/ALL_KRW` and
//! `GET /public/ticker/ALL_BTC` (`../shared/data/recorded/BITHUMB.0`). Cold path: serde_json.
//!
//! The tickers name the coins of each quote market (`data.{COIN}`, plus a `date` field); symbols
//! are written the legacy way, `BTC_KRW` (the handler also accepts `KRW-BTC`). As on Upbit, the
//! tick size depends on the price band and is not in the response: specs carry the finest
//! step Bithumb quotes in, 10⁻⁸, for price and quantity, and no minimum notional (order entry
//! is not part of this adapter).
#![forbid(unsafe_code)]

use crate::instrument::{InstrumentDef, InstrumentKind};
use crate::venues::raw_json::{recorded_body, recorded_url};
use serde_json::Value;

/// Decimals of prices and quantities in the specs built here.
pub const DECIMALS: u32 = 8;

/// One spec for `BASE_QUOTE`.
pub fn def_for(base: &str, quote: &str, venue_name: &str) -> InstrumentDef {
    InstrumentDef {
        venue: venue_name.to_string(),
        symbol: format!("{base}_{quote}"),
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
    }
}

/// Every recorded `ticker/ALL_<QUOTE>` line of the file (or one raw body, whose quote must then
/// be given by the `payment_currency`-less URL: raw bodies are read as KRW).
pub fn parse_tickers(text: &str, venue_name: &str) -> Result<Vec<InstrumentDef>, String> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let quote = match recorded_url(line) {
            Some(u) => match u.rsplit_once("/ALL_") {
                Some((_, q)) => q.trim().to_ascii_uppercase(),
                None => continue, // another endpoint of the same run
            },
            None if line.trim_start().starts_with('{') => "KRW".to_string(),
            None => continue, // `configuration: ...` trailer of the recording
        };
        let v: Value = serde_json::from_str(recorded_body(line)?)
            .map_err(|e| format!("ticker/ALL_{quote} is not JSON: {e}"))?;
        if v.get("status").and_then(Value::as_str) != Some("0000") {
            return Err(format!("ticker/ALL_{quote}: status is not 0000"));
        }
        let data = v
            .get("data")
            .and_then(Value::as_object)
            .ok_or_else(|| format!("ticker/ALL_{quote} has no `data` object"))?;
        for (coin, t) in data {
            if t.is_object() {
                out.push(def_for(coin, &quote, venue_name));
            }
        }
    }
    if out.is_empty() {
        return Err("no ticker/ALL_<QUOTE> response in the file".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{InstrumentId, VenueId};
    use crate::venues::testing::recorded;

    #[test]
    fn reads_recorded_tickers() {
        let text = recorded("BITHUMB.0");
        let defs = parse_tickers(&text, "bithumb").unwrap();
        // 62 BTC-market coins + 168 KRW-market coins, each response also has a `date` field
        assert_eq!(defs.iter().filter(|d| d.quote == "BTC").count(), 61);
        assert_eq!(defs.iter().filter(|d| d.quote == "KRW").count(), 167);
        for s in ["BTC_KRW", "GOM2_KRW", "CON_KRW", "ETH_BTC"] {
            let d = defs
                .iter()
                .find(|d| d.symbol == s)
                .unwrap_or_else(|| panic!("{s}"));
            let spec = d.to_spec(InstrumentId(0), VenueId(0)).unwrap();
            assert_eq!((spec.price_dec, spec.qty_dec), (8, 8));
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(parse_tickers("", "b").is_err());
        assert!(parse_tickers(r#"{"status":"5600","message":"x"}"#, "b").is_err());
        assert!(parse_tickers(r#"{"status":"0000"}"#, "b").is_err());
        let one = parse_tickers(
            r#"{"status":"0000","data":{"BTC":{"closing_price":"1"},"date":"1"}}"#,
            "b",
        )
        .unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].symbol, "BTC_KRW");
    }
}
