//! Zero-allocation helpers for message layouts where the fields that need the instrument's
//! decimal scale may come before the field that names the instrument (KuCoin puts `topic` after
//! `data`, Bitget `arg` next to `data`, Upbit `cd` next to `obu`), and for venues that send
//! prices as JSON numbers (Upbit, Bithumb's Upbit-compatible feed).
//!
//! The technique: a first pass over the message keeps the *raw JSON text* of the scale-dependent
//! values ([`RawJson`], a `&str` borrowed from the message, no copy) while it finds the symbol;
//! a second pass parses those slices with the right scale ([`parse_with`], [`dec_of`]). Skipping
//! a value in sonic-rs is a validated scan, so the two passes cost little more than one.
//!
//! JSON numbers are read from their text with [`crate::fixed_point::parse_decimal`], never
//! through `f64` (`127.0`, `46.48838371`, `1.2e-05` are all exact).
//!
//! [`RawJson`] uses sonic-rs's public `LazyValue`, which borrows the raw text when the value has
//! no escape sequence. Values with escapes (never seen in market data: numbers and price
//! strings cannot have them) are refused as an error; sonic-rs allocates for those before the
//! refusal, so only such malformed input can allocate.
#![forbid(unsafe_code)]

use crate::fixed_point::{parse_decimal, Dec, DecimalError};
use serde::de::{self, Deserialize, DeserializeSeed, Deserializer};
use std::borrow::Cow;

/// The raw JSON text of one value (object, array, number, or string *with* its quotes),
/// borrowed from the message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RawJson<'de>(pub &'de str);

impl<'de> Deserialize<'de> for RawJson<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RawJson<'de>, D::Error> {
        let lv = sonic_rs::LazyValue::<'de>::deserialize(d)?;
        match lv.as_raw_cow() {
            Cow::Borrowed(s) => Ok(RawJson(s)),
            Cow::Owned(_) => Err(de::Error::custom(
                "escaped JSON text where a plain value was expected",
            )),
        }
    }
}

impl<'de> RawJson<'de> {
    /// True if no value was captured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The text of a number or of a string holding one: `127.0` → `127.0`, `"0.001"` → `0.001`.
    pub fn num_text(&self) -> &'de str {
        let s = self.0.trim();
        if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') {
            &s[1..s.len() - 1]
        } else {
            s
        }
    }

    /// A decimal (JSON number or decimal string) at `scale`.
    pub fn dec(&self, scale: u32) -> Result<Dec, DecimalError> {
        parse_decimal(self.num_text().as_bytes(), scale)
    }

    /// An unsigned integer (JSON number or numeric string), e.g. a sequence id.
    pub fn u64(&self) -> Option<u64> {
        let t = self.num_text();
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    }
}

/// A decimal from the captured value at `scale`.
#[inline]
pub fn dec_of(raw: RawJson<'_>, scale: u32) -> Result<Dec, DecimalError> {
    raw.dec(scale)
}

/// Run `seed` over the captured text (second pass); an error if the text does not match or
/// has trailing data.
#[inline]
pub fn parse_with<'de, S: DeserializeSeed<'de>>(
    raw: RawJson<'de>,
    seed: S,
) -> Result<S::Value, sonic_rs::Error> {
    let mut de = sonic_rs::Deserializer::from_str(raw.0);
    let v = seed.deserialize(&mut de)?;
    de.end()?;
    Ok(v)
}

/// Seed: a JSON number or a decimal string, read exactly at `0` decimals.
#[derive(Clone, Copy, Debug)]
pub struct NumSeed(pub u32);

impl<'de> DeserializeSeed<'de> for NumSeed {
    type Value = Dec;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Dec, D::Error> {
        let raw = RawJson::deserialize(d)?;
        raw.dec(self.0).map_err(de::Error::custom)
    }
}

/// The body of one recorded REST line `URL -> t: body` (the `NAME.0` / `NAME.http.*` files),
/// or the text itself when it is raw JSON. Cold path (instrument files, verify-book).
pub fn recorded_body(line: &str) -> Result<&str, String> {
    let t = line.trim();
    if t.starts_with('{') || t.starts_with('[') {
        return Ok(t);
    }
    let (_, rest) = t
        .split_once(" -> ")
        .ok_or("neither JSON nor a recorded `URL -> t: body` line")?;
    rest.split_once(": ")
        .map(|(_, b)| b)
        .ok_or_else(|| "recorded line without ': ' before the body".to_string())
}

/// The URL of one recorded REST line `URL -> t: body`.
pub fn recorded_url(line: &str) -> Option<&str> {
    line.trim().split_once(" -> ").map(|(u, _)| u)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::{IgnoredAny, MapAccess, Visitor};
    use std::fmt;

    #[derive(Default, Debug)]
    struct Caught<'de> {
        a: RawJson<'de>,
        b: RawJson<'de>,
    }
    struct V<'a, 'de>(&'a mut Caught<'de>);
    impl<'de> Visitor<'de> for V<'_, 'de> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("map")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
            while let Some(k) = m.next_key::<&str>()? {
                match k {
                    "a" => self.0.a = m.next_value()?,
                    "b" => self.0.b = m.next_value()?,
                    _ => {
                        m.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(())
        }
    }
    impl<'de> DeserializeSeed<'de> for V<'_, 'de> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_map(self)
        }
    }

    #[test]
    fn captures_raw_text_of_numbers_strings_and_arrays() {
        let msg = r#"{"x":1,"a":127.0,"b":[["0.1","2"],{"k":1.2e-05}]}"#;
        let mut c = Caught::default();
        let mut de = sonic_rs::Deserializer::from_str(msg);
        V(&mut c).deserialize(&mut de).unwrap();
        assert_eq!(c.a.0, "127.0");
        assert_eq!(c.a.dec(2).unwrap().value, 12700);
        assert_eq!(
            c.a.dec(2).unwrap().frac,
            1,
            "one fractional digit as written"
        );
        assert_eq!(c.b.0, r#"[["0.1","2"],{"k":1.2e-05}]"#);
        // the captured slice points into the message: no copy
        assert!(std::ptr::eq(
            c.b.0.as_ptr(),
            msg[msg.find('[').unwrap()..].as_ptr()
        ));
        let q = RawJson(r#""0.00028717""#);
        assert_eq!(q.num_text(), "0.00028717");
        assert_eq!(q.dec(8).unwrap().value, 28717);
        assert_eq!(RawJson("1613277183874").u64(), Some(1613277183874));
        assert_eq!(RawJson(r#""1613277183874""#).u64(), Some(1613277183874));
        assert_eq!(RawJson("-1").u64(), None);
        assert_eq!(RawJson("1.5").u64(), None);
    }

    #[test]
    fn json_numbers_are_exact_never_f64() {
        // 0.1 + 0.2 style values that f64 cannot hold exactly
        let d = parse_with(RawJson("46.48838371"), NumSeed(8)).unwrap();
        assert_eq!(d.value, 4_648_838_371);
        let d = parse_with(RawJson("1.2e-05"), NumSeed(8)).unwrap();
        assert_eq!(d.value, 1200);
        assert!(
            parse_with(RawJson("1.23456789"), NumSeed(2)).is_err(),
            "over-precision"
        );
        assert!(parse_with(RawJson("true"), NumSeed(2)).is_err());
        assert!(
            parse_with(RawJson("12 13"), NumSeed(2)).is_err(),
            "trailing data"
        );
    }

    #[test]
    fn escaped_values_are_refused() {
        let msg = r#"{"a":"1\u00302"}"#;
        let mut c = Caught::default();
        let mut de = sonic_rs::Deserializer::from_str(msg);
        assert!(V(&mut c).deserialize(&mut de).is_err());
    }
}
