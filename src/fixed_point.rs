//! Decimal text ⇄ scaled `i64` conversion, without floats and without allocation.
//!
//! Exchanges send prices and sizes as decimal strings (`"61837.63000000"`) or, for a few venues,
//! JSON numbers (`61837.63`). [`parse_decimal`] turns the raw bytes into `value * 10^scale` exactly,
//! and also reports how many fractional digits the text had, so the original string can be
//! rebuilt for exchange checksums (OKX/Kraken/Bitget hash the strings as sent).
//! [`write_decimal`] formats back into a caller-owned buffer (order encoding, checksums).
#![forbid(unsafe_code)]

use crate::types::pow10;

/// A parsed decimal: `value` in units of `10^-scale`, and `frac`, the number of fractional
/// digits in the source text (`"0.0010"` → 4), used to rebuild the exact text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dec {
    /// Value scaled by `10^scale`.
    pub value: i64,
    /// Fractional digits as written in the source (after applying any exponent), capped at 255.
    pub frac: u8,
}

/// Why a decimal could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// Empty input.
    #[error("empty number")]
    Empty,
    /// A byte that is not a digit, sign, point or exponent.
    #[error("invalid character in number")]
    InvalidChar,
    /// Non-zero digits beyond the instrument's scale: the value cannot be held exactly.
    #[error("more precision than the instrument scale")]
    TooPrecise,
    /// Does not fit in `i64` at this scale.
    #[error("number out of range")]
    Overflow,
}

/// Parse an ASCII decimal (`[-]digits[.digits][e[+-]digits]`) into an `i64` scaled by `10^scale`.
///
/// Trailing zeros beyond `scale` are accepted (`"61837.63000000"` at scale 2 → 6183763);
/// non-zero digits beyond it are an error ([`DecimalError::TooPrecise`]), never rounded.
/// `scale` must be ≤ 18.
#[inline]
pub fn parse_decimal(s: &[u8], scale: u32) -> Result<Dec, DecimalError> {
    match parse_plain(s, scale) {
        Some(d) => Ok(d),
        None => parse_general(s, scale),
    }
}

const POW10_U64: [u64; 19] = {
    let mut t = [1u64; 19];
    let mut i = 1;
    while i < 19 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// Fast path for the common shape `[-+]digits[.digits]` whose result fits without checks:
/// fractional digits beyond `scale` must be zeros and are skipped while scanning (no division),
/// and at most 18 digits are kept (no overflow checks per digit). Anything else (exponent,
/// error, long number) returns `None` and goes through [`parse_general`], so results and
/// errors are the same, except that a long text whose extra digits are trailing fractional
/// zeros parses here where the general path's digit accumulator reports `Overflow`.
/// `cargo bench --bench components -- decimal` measures the difference.
#[inline(always)]
fn parse_plain(s: &[u8], scale: u32) -> Option<Dec> {
    if scale > 18 {
        return None;
    }
    let mut i = 0;
    let neg = matches!(s.first(), Some(b'-'));
    if neg || matches!(s.first(), Some(b'+')) {
        i = 1;
    }
    let mut mant: u64 = 0;
    let mut kept = 0u32; // digits accumulated into `mant`
    while i < s.len() {
        let d = s[i].wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        mant = mant.wrapping_mul(10).wrapping_add(d as u64);
        kept += 1;
        i += 1;
    }
    let mut frac = 0u32; // fractional digits written
    if i < s.len() && s[i] == b'.' {
        i += 1;
        while i < s.len() {
            let d = s[i].wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            if frac < scale {
                mant = mant.wrapping_mul(10).wrapping_add(d as u64);
                kept += 1;
            } else if d != 0 {
                return None; // too precise: the general path reports it
            }
            frac += 1;
            i += 1;
        }
    }
    let pad = scale - frac.min(scale);
    if i != s.len() || kept == 0 || kept + pad > 18 {
        return None;
    }
    let v = (mant * POW10_U64[pad as usize]) as i64;
    Some(Dec {
        value: if neg { -v } else { v },
        frac: frac.min(255) as u8,
    })
}

/// The general parser behind [`parse_decimal`]: every accepted shape (exponents included),
/// digit by digit with overflow and precision checks. [`parse_decimal`] takes a faster path for
/// plain `digits[.digits]` texts and falls back to this one; public so the benchmark can show
/// what the fast path gains.
pub fn parse_general(s: &[u8], scale: u32) -> Result<Dec, DecimalError> {
    if s.is_empty() {
        return Err(DecimalError::Empty);
    }
    let mut i = 0;
    let neg = s[0] == b'-';
    if neg || s[0] == b'+' {
        i = 1;
    }
    let mut mant: u64 = 0; // all significant digits, integer + fraction
    let mut frac_digits: i32 = 0;
    let mut seen_point = false;
    let mut ndigits = 0u32;
    let mut overflow = false;
    while i < s.len() {
        let c = s[i];
        match c {
            b'0'..=b'9' => {
                ndigits += 1;
                match mant
                    .checked_mul(10)
                    .and_then(|m| m.checked_add((c - b'0') as u64))
                {
                    Some(m) => mant = m,
                    None => overflow = true,
                }
                if seen_point {
                    frac_digits += 1;
                }
            }
            b'.' if !seen_point => seen_point = true,
            b'e' | b'E' => break,
            _ => return Err(DecimalError::InvalidChar),
        }
        i += 1;
    }
    if ndigits == 0 {
        return Err(DecimalError::Empty);
    }
    let mut exp: i32 = 0;
    if i < s.len() {
        // exponent
        i += 1;
        let mut eneg = false;
        if i < s.len() && (s[i] == b'-' || s[i] == b'+') {
            eneg = s[i] == b'-';
            i += 1;
        }
        if i >= s.len() {
            return Err(DecimalError::InvalidChar);
        }
        while i < s.len() {
            let c = s[i];
            if !c.is_ascii_digit() {
                return Err(DecimalError::InvalidChar);
            }
            // capped: any exponent this large over- or underflows anyway, and the cap keeps
            // `frac_digits - exp` below from overflowing on hostile input
            exp = (exp * 10 + (c - b'0') as i32).min(100_000);
            i += 1;
        }
        if eneg {
            exp = -exp;
        }
    }
    if overflow {
        return Err(DecimalError::Overflow);
    }
    // value = mant * 10^(exp - frac_digits); want value * 10^scale
    let eff_frac = frac_digits - exp; // fractional digits of the written value
    let shift = scale as i32 - eff_frac;
    let scaled: u64 = if shift >= 0 {
        if shift > 18 {
            if mant == 0 {
                0
            } else {
                return Err(DecimalError::Overflow);
            }
        } else {
            mant.checked_mul(pow10(shift as u32) as u64)
                .ok_or(DecimalError::Overflow)?
        }
    } else {
        let drop = (-shift) as u32;
        if drop > 19 {
            if mant == 0 {
                0
            } else {
                return Err(DecimalError::TooPrecise);
            }
        } else {
            let d = 10u64.pow(drop);
            if mant % d != 0 {
                return Err(DecimalError::TooPrecise);
            }
            mant / d
        }
    };
    if scaled > i64::MAX as u64 {
        return Err(DecimalError::Overflow);
    }
    let v = scaled as i64;
    Ok(Dec {
        value: if neg { -v } else { v },
        frac: eff_frac.clamp(0, 255) as u8,
    })
}

/// Append `value * 10^-scale` as decimal text to `out`, with exactly `frac` fractional digits
/// (`frac` may be less than `scale` only if the dropped digits are zero; they are truncated).
/// No allocation beyond `out`'s own growth; pass a buffer with capacity to stay allocation-free.
pub fn write_decimal(out: &mut Vec<u8>, value: i64, scale: u32, frac: u32) {
    let mut tmp = [0u8; 48];
    let n = format_decimal(&mut tmp, value, scale, frac);
    out.extend_from_slice(&tmp[..n]);
}

/// Format into a fixed buffer; returns the length written. See [`write_decimal`].
pub fn format_decimal(buf: &mut [u8; 48], value: i64, scale: u32, frac: u32) -> usize {
    let neg = value < 0;
    let mut v = value.unsigned_abs() as u128;
    // bring to `frac` fractional digits
    if frac >= scale {
        v *= 10u128.pow(frac - scale);
    } else {
        v /= 10u128.pow(scale - frac);
    }
    let mut digits = [0u8; 40];
    let mut n = 0;
    loop {
        digits[n] = b'0' + (v % 10) as u8;
        n += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    // ensure at least frac+1 digits so there is an integer part
    while n < frac as usize + 1 {
        digits[n] = b'0';
        n += 1;
    }
    let mut w = 0;
    if neg {
        buf[w] = b'-';
        w += 1;
    }
    for i in (0..n).rev() {
        buf[w] = digits[i];
        w += 1;
        if i == frac as usize && frac > 0 {
            buf[w] = b'.';
            w += 1;
        }
    }
    w
}

/// Number of fractional digits needed to write a step such as a tick size (`"0.01000000"` → 2,
/// `"0.5"` → 1, `"10"` → 0): trailing zeros are not significant here.
pub fn significant_decimals(s: &str) -> Result<u32, DecimalError> {
    let t = s.trim();
    let frac = t.split_once('.').map(|(_, f)| f.len() as u32).unwrap_or(0);
    parse_decimal(t.as_bytes(), frac.min(18))?;
    match t.split_once('.') {
        None => Ok(0),
        Some((_, f)) => Ok(f.trim_end_matches('0').len() as u32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str, scale: u32) -> Result<i64, DecimalError> {
        parse_decimal(s.as_bytes(), scale).map(|d| d.value)
    }

    #[test]
    fn parses_binance_strings() {
        assert_eq!(p("61837.63000000", 2), Ok(6183763));
        assert_eq!(p("61800.30", 1), Ok(618003));
        assert_eq!(p("0.00014000", 5), Ok(14));
        assert_eq!(p("1645", 0), Ok(1645));
        assert_eq!(p("0.00000000", 5), Ok(0));
        assert_eq!(
            parse_decimal(b"61837.63000000", 2).unwrap().frac,
            8,
            "original text had 8 fractional digits"
        );
    }

    #[test]
    fn rejects_lossy_and_bad_input() {
        assert_eq!(p("61837.635", 2), Err(DecimalError::TooPrecise));
        assert_eq!(p("", 2), Err(DecimalError::Empty));
        assert_eq!(p("-", 2), Err(DecimalError::Empty));
        assert_eq!(p("12a.4", 2), Err(DecimalError::InvalidChar));
        assert_eq!(p("1.2.3", 2), Err(DecimalError::InvalidChar));
        assert_eq!(p("99999999999999999999", 0), Err(DecimalError::Overflow));
        assert_eq!(p("9223372036854775807", 1), Err(DecimalError::Overflow));
        assert_eq!(p("1e", 2), Err(DecimalError::InvalidChar));
        // huge exponents are errors, not arithmetic overflow
        assert_eq!(p("1e-99999999999999", 2), Err(DecimalError::TooPrecise));
        assert_eq!(p("1e99999999999999", 2), Err(DecimalError::Overflow));
        assert_eq!(p("0e99999999999999", 2), Ok(0));
    }

    #[test]
    fn json_numbers_and_exponents() {
        assert_eq!(p("-1.5", 2), Ok(-150));
        assert_eq!(p("1.2e-05", 8), Ok(1200));
        assert_eq!(p("3E2", 0), Ok(300));
        assert_eq!(parse_decimal(b"1.2e-05", 8).unwrap().frac, 6);
    }

    #[test]
    fn formats_back_exactly() {
        let mut v = Vec::new();
        write_decimal(&mut v, 6183763, 2, 8);
        assert_eq!(v, b"61837.63000000");
        v.clear();
        write_decimal(&mut v, 14, 5, 5);
        assert_eq!(v, b"0.00014");
        v.clear();
        write_decimal(&mut v, 30261, 0, 0);
        assert_eq!(v, b"30261");
        v.clear();
        write_decimal(&mut v, -5, 3, 3);
        assert_eq!(v, b"-0.005");
        // round trip over the frac digits the text had
        for s in ["3366.1", "0.06523858", "7", "0.0010", "12.50"] {
            let d = parse_decimal(s.as_bytes(), 10).unwrap();
            let mut out = Vec::new();
            write_decimal(&mut out, d.value, 10, d.frac as u32);
            assert_eq!(out, s.as_bytes());
        }
    }

    #[test]
    fn fast_path_agrees_with_the_general_parser() {
        // every decimal string of the recordings' bookTicker/trade/depth messages would take
        // too long here; a generator over the shapes that matter, plus edge cases
        let mut cases: Vec<String> = [
            "0",
            "-0",
            "+7",
            ".5",
            "5.",
            ".",
            "-",
            "+",
            "",
            "00012.3400",
            "61837.63000000",
            "0.00000001",
            "999999999999999999",
            "9999999999999999999",
            "1.000000000000000000001",
            "1.5e3",
            "1e",
            "1..2",
            "1.2.3",
            "12a",
            "-1.05",
            "0.0000000000000000000000",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let alphabet = b"0123456789.-+e0000";
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 24) as usize;
            let mut t = String::new();
            let mut y = x;
            for k in 0..len {
                // mostly digits with one point, sometimes anything
                let c = if k == len / 2 && y & 8 == 0 {
                    b'.'
                } else if y & 0x70 == 0 {
                    alphabet[(y >> 8) as usize % alphabet.len()]
                } else {
                    b'0' + ((y >> 12) % 10) as u8
                };
                t.push(c as char);
                y = y.rotate_left(7) ^ x;
            }
            cases.push(t);
        }
        for t in &cases {
            for scale in [0, 1, 2, 3, 5, 8, 10, 18, 19] {
                let fast = parse_decimal(t.as_bytes(), scale);
                let general = parse_general(t.as_bytes(), scale);
                if fast != general {
                    // the one allowed difference: the general parser accumulates every digit in
                    // a u64 and calls 20-digit texts Overflow even when the digits beyond the
                    // scale are zeros; the fast path skips those zeros and gets the value
                    assert_eq!(
                        general,
                        Err(DecimalError::Overflow),
                        "{t:?} at scale {scale}"
                    );
                    let (int, fr) = t.split_once('.').expect("a fraction with trailing zeros");
                    let trimmed = format!("{int}.{}", fr.trim_end_matches('0'));
                    let want = parse_general(trimmed.as_bytes(), scale).map(|d| d.value);
                    assert_eq!(fast.map(|d| d.value), want, "{t:?} at scale {scale}");
                    assert_eq!(fast.unwrap().frac as usize, fr.len());
                }
            }
        }
    }

    #[test]
    fn tick_decimals() {
        assert_eq!(significant_decimals("0.01000000"), Ok(2));
        assert_eq!(significant_decimals("0.5"), Ok(1));
        assert_eq!(significant_decimals("10"), Ok(0));
        assert_eq!(significant_decimals("0.00001000"), Ok(5));
        assert!(significant_decimals("abc").is_err());
    }
}
