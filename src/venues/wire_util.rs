//! Shared zero-allocation serde helpers for venue parsers: decimal strings straight into
//! fixed point, and `[["px","qty",...], ...]` level arrays straight into a reused buffer.
//!
//! These run inside `sonic_rs::Deserializer::from_slice` with `DeserializeSeed`, so nothing is
//! collected into owned strings or vectors: a level array is written into a `Vec<Level>` whose
//! capacity was reserved at start (and a message with more levels than that is an error, not a
//! reallocation).
#![forbid(unsafe_code)]

use crate::book::Level;
use crate::fixed_point::{parse_decimal, Dec};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, SeqAccess, Visitor};
use std::fmt;

/// Price and quantity decimals of one instrument.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scale {
    /// Price decimals.
    pub price_dec: u32,
    /// Quantity decimals.
    pub qty_dec: u32,
}

/// Parse a borrowed decimal string at `scale`, mapping failure to a serde error.
#[inline]
pub fn dec<E: de::Error>(s: &str, scale: u32) -> Result<Dec, E> {
    parse_decimal(s.as_bytes(), scale).map_err(|e| E::custom(e))
}

/// Seed: a JSON string holding a decimal, parsed at `0` decimals.
pub struct DecSeed(pub u32);

impl<'de> DeserializeSeed<'de> for DecSeed {
    type Value = Dec;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Dec, D::Error> {
        struct V(u32);
        impl<'de> Visitor<'de> for V {
            type Value = Dec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a decimal string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Dec, E> {
                dec(s, self.0)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Dec, E> {
                dec(s, self.0)
            }
        }
        d.deserialize_str(V(self.0))
    }
}

/// Seed: an array of levels `[[price, qty, ...ignored], ...]` (strings), appended to `out`.
/// Fails if more than `out.capacity()` levels would be stored.
pub struct LevelsSeed<'a> {
    /// Instrument scale.
    pub scale: Scale,
    /// Destination (cleared by the caller).
    pub out: &'a mut Vec<Level>,
}

impl<'de> DeserializeSeed<'de> for LevelsSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for LevelsSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of [price, qty] levels")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        loop {
            if self.out.len() == self.out.capacity() {
                // would reallocate: refuse (counted as a parse error by the caller)
                if seq
                    .next_element_seed(LevelSeed { scale: self.scale })?
                    .is_some()
                {
                    return Err(de::Error::custom("too many levels in one message"));
                }
                return Ok(());
            }
            match seq.next_element_seed(LevelSeed { scale: self.scale })? {
                Some(l) => self.out.push(l),
                None => return Ok(()),
            }
        }
    }
}

struct LevelSeed {
    scale: Scale,
}

impl<'de> DeserializeSeed<'de> for LevelSeed {
    type Value = Level;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Level, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for LevelSeed {
    type Value = Level;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a [price, qty] pair of strings")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Level, A::Error> {
        let px = seq
            .next_element_seed(DecSeed(self.scale.price_dec))?
            .ok_or_else(|| de::Error::custom("level without price"))?;
        let qty = seq
            .next_element_seed(DecSeed(self.scale.qty_dec))?
            .ok_or_else(|| de::Error::custom("level without quantity"))?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        if px.value <= 0 {
            return Err(de::Error::custom("non-positive price"));
        }
        if qty.value < 0 {
            return Err(de::Error::custom("negative quantity"));
        }
        Ok(Level {
            px: px.value,
            qty: qty.value,
            px_frac: px.frac,
            qty_frac: qty.frac,
        })
    }
}
