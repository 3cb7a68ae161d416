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
use crate::types::Side;
use crate::venues::seq_book::SeqLevel;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// Price and quantity decimals of one instrument.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scale {
    /// Price decimals.
    pub price_dec: u32,
    /// Quantity decimals.
    pub qty_dec: u32,
}

/// Why a message gave no market data. One list for every venue's parser; the shared handler
/// ([`crate::venues::handler`]) counts the first three as `parse_errors`, the others as
/// `unknown_messages`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireError {
    /// Not JSON, wrong shape, bad number, too many levels for the buffers.
    Malformed,
    /// A field the message needs is missing.
    MissingField(&'static str),
    /// The venue answered with an error (KuCoin REST `code` other than `200000`).
    Refused,
    /// The symbol is not configured on this handler.
    UnknownSymbol,
    /// A channel, stream or topic this handler does not use.
    Unknown,
    /// A control message: subscription reply, pong, heartbeat, notice.
    Event,
}

impl WireError {
    /// Well-formed but not for the books (counted `unknown_messages`, not `parse_errors`).
    #[inline]
    pub fn is_unused(self) -> bool {
        matches!(
            self,
            WireError::UnknownSymbol | WireError::Unknown | WireError::Event
        )
    }
}

/// One public trade as the venues' parsers give it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Trade {
    /// The venue's trade id (where it has none: the trade time or the book sequence, as each
    /// venue's `wire` documents).
    pub id: u64,
    /// Price at the instrument's scale.
    pub px: i64,
    /// Size at the instrument's scale (contracts for derivatives).
    pub qty: i64,
    /// The taker bought (the aggressor side is `Buy`).
    pub taker_buy: bool,
}

/// A handler's reused per-message buffers: the levels of the last book message (or snapshot),
/// the trades of the last trade message and, for venues that buffer diffs until a REST
/// snapshot, the changes of the last diff. Their capacity is reserved at start; a message that
/// does not fit is an error, never a reallocation.
#[derive(Debug)]
pub struct Buffers {
    /// Bids, in message order.
    pub bids: Vec<Level>,
    /// Asks, in message order.
    pub asks: Vec<Level>,
    /// Trades, in message order.
    pub trades: Vec<Trade>,
    /// Changes of a diff, both sides, in message order ([`crate::venues::seq_book`]).
    pub changes: Vec<SeqLevel>,
}

impl Buffers {
    /// Room for what `limits` says one message may hold.
    pub fn new(limits: &Limits) -> Buffers {
        Buffers {
            changes: Vec::with_capacity(limits.max_changes_per_msg),
            ..Buffers::with_capacity(limits.max_levels_per_msg, limits.max_trades_per_msg)
        }
    }

    /// Room for `levels` levels per side and `trades` trades per message (no diff changes).
    pub fn with_capacity(levels: usize, trades: usize) -> Buffers {
        Buffers {
            bids: Vec::with_capacity(levels),
            asks: Vec::with_capacity(levels),
            trades: Vec::with_capacity(trades),
            changes: Vec::new(),
        }
    }

    /// Empty the levels and trades (capacity kept).
    #[inline]
    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
        self.trades.clear();
    }
}

/// Sizes of a handler's preallocated buffers. Each venue has its own values (`LIMITS` in its
/// module); a field a venue does not use is 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Levels per side in one message, snapshots included (Coinbase: both sides together).
    pub max_levels_per_msg: usize,
    /// Trades in one message.
    pub max_trades_per_msg: usize,
    /// Level changes (both sides) in one diff message, for venues that buffer diffs.
    pub max_changes_per_msg: usize,
    /// Diffs buffered per instrument while waiting for a REST snapshot.
    pub max_buffered_diffs: usize,
    /// Level changes buffered per instrument while waiting for a REST snapshot.
    pub max_buffered_levels: usize,
}

impl Limits {
    /// `levels` levels per side and `trades` trades in one message; no diff buffering.
    pub const fn per_message(levels: usize, trades: usize) -> Limits {
        Limits {
            max_levels_per_msg: levels,
            max_trades_per_msg: trades,
            max_changes_per_msg: 0,
            max_buffered_diffs: 0,
            max_buffered_levels: 0,
        }
    }

    /// The same, for a venue that buffers diffs until a REST snapshot: `changes` changes in one
    /// diff, `diffs` diffs holding `levels` changes buffered per instrument.
    pub const fn buffering(self, changes: usize, diffs: usize, levels: usize) -> Limits {
        Limits {
            max_changes_per_msg: changes,
            max_buffered_diffs: diffs,
            max_buffered_levels: levels,
            ..self
        }
    }
}

/// Parse a borrowed decimal string at `scale`, mapping failure to a serde error.
#[inline]
pub fn dec<E: de::Error>(s: &str, scale: u32) -> Result<Dec, E> {
    parse_decimal(s.as_bytes(), scale).map_err(|e| E::custom(e))
}

/// A reader of one JSON object that knows its fields: what every venue's envelope, data and
/// element parsers are. [`Object`] makes one a serde seed (the `DeserializeSeed` + `Visitor`
/// pair is written once, here).
pub trait ObjectSeed<'de>: Sized {
    /// What the object yields.
    type Value;
    /// What is expected there (the text of a type error).
    const EXPECTING: &'static str;
    /// Read the object's fields.
    fn visit<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error>;
}

/// A reader of one JSON array; [`Array`] makes one a serde seed.
pub trait ArraySeed<'de>: Sized {
    /// What the array yields.
    type Value;
    /// What is expected there (the text of a type error).
    const EXPECTING: &'static str;
    /// Read the array's elements.
    fn visit<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error>;
}

/// An [`ObjectSeed`] as a serde seed.
#[derive(Clone, Copy)]
pub struct Object<T>(pub T);

impl<'de, T: ObjectSeed<'de>> DeserializeSeed<'de> for Object<T> {
    type Value = T::Value;
    #[inline]
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, T: ObjectSeed<'de>> Visitor<'de> for Object<T> {
    type Value = T::Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }
    #[inline]
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T::Value, A::Error> {
        self.0.visit(map)
    }
}

/// An [`ArraySeed`] as a serde seed.
#[derive(Clone, Copy)]
pub struct Array<T>(pub T);

impl<'de, T: ArraySeed<'de>> DeserializeSeed<'de> for Array<T> {
    type Value = T::Value;
    #[inline]
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, T: ArraySeed<'de>> Visitor<'de> for Array<T> {
    type Value = T::Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }
    #[inline]
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T::Value, A::Error> {
        self.0.visit(seq)
    }
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
        BoundedSeq {
            out: self.out,
            elem: LevelSeed { scale: self.scale },
            keep: Some,
            what: "too many levels in one message",
        }
        .deserialize(d)
    }
}

/// Seed: an array of levels `[[price, qty, ...ignored], ...]` (strings), appended to `out` as
/// changes of one `side` (with no sequence of their own). Fails if more than `out.capacity()`
/// changes would be stored.
pub struct ChangesSeed<'a> {
    /// Instrument scale.
    pub scale: Scale,
    /// Book side of every level of the array.
    pub side: Side,
    /// Destination (cleared by the caller).
    pub out: &'a mut Vec<SeqLevel>,
}

impl<'de> DeserializeSeed<'de> for ChangesSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let side = self.side;
        BoundedSeq {
            out: self.out,
            elem: LevelSeed { scale: self.scale },
            keep: |lvl| Some(SeqLevel { side, lvl, seq: 0 }),
            what: "too many levels in one message",
        }
        .deserialize(d)
    }
}

/// Seed: a JSON array whose elements `elem` parses; `keep` maps each parsed element to what is
/// stored (`None` skips it, e.g. an instrument we do not serve), appended to `out`. More
/// elements than `out.capacity()` is an error (`what`), never a reallocation: the hot path
/// does not allocate. Every venue's level/trade arrays go through this one loop.
pub struct BoundedSeq<'a, T, S, F> {
    /// Destination (cleared by the caller, capacity reserved at start).
    pub out: &'a mut Vec<T>,
    /// Parses one element.
    pub elem: S,
    /// Element → stored value.
    pub keep: F,
    /// Error text when the array does not fit.
    pub what: &'static str,
}

impl<'de, T, S, F> DeserializeSeed<'de> for BoundedSeq<'_, T, S, F>
where
    S: DeserializeSeed<'de> + Copy,
    F: FnMut(S::Value) -> Option<T>,
{
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, T, S, F> Visitor<'de> for BoundedSeq<'_, T, S, F>
where
    S: DeserializeSeed<'de> + Copy,
    F: FnMut(S::Value) -> Option<T>,
{
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array")
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        loop {
            if self.out.len() == self.out.capacity() {
                // would reallocate: refuse (counted as a parse error by the caller)
                if seq.next_element::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::custom(self.what));
                }
                return Ok(());
            }
            match seq.next_element_seed(self.elem)? {
                Some(v) => {
                    if let Some(t) = (self.keep)(v) {
                        self.out.push(t)
                    }
                }
                None => return Ok(()),
            }
        }
    }
}

#[derive(Clone, Copy)]
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

/// Seed: a decimal written either as a JSON number (`0.5666`, `1e-8`, Kraken WS v2, Bybit
/// legacy sizes) or as a JSON string (`"0.5666"`), parsed from the raw token text at `0`
/// decimals — never through `f64`, so the value is exact and checksums can be rebuilt.
/// Zero allocation: the token is borrowed through `sonic_rs::LazyValue` (sonic-rs
/// deserializers only; a float-rounding deserializer would defeat the point).
pub struct RawDecSeed(pub u32);

impl<'de> DeserializeSeed<'de> for RawDecSeed {
    type Value = Dec;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Dec, D::Error> {
        let v: sonic_rs::LazyValue<'de> = serde::Deserialize::deserialize(d)?;
        raw_dec(v.as_raw_str().as_bytes(), self.0).map_err(de::Error::custom)
    }
}

/// Parse a raw JSON token holding a decimal: a number (`1.5e-3`) or a quoted decimal
/// (`"0.0015"`). Anything else (`null`, `true`, `""`, objects) is an error.
pub fn raw_dec(raw: &[u8], scale: u32) -> Result<Dec, crate::fixed_point::DecimalError> {
    let t = match raw {
        [b'"', inner @ .., b'"'] => inner,
        _ => raw,
    };
    parse_decimal(t, scale)
}

/// Read one whole message with `seed`: [`WireError::Malformed`] if it is not JSON of the seed's
/// shape, or if anything but white space follows the value.
#[inline]
pub fn read_json<'de, S: DeserializeSeed<'de>>(
    raw: &'de [u8],
    seed: S,
) -> Result<S::Value, WireError> {
    let mut de = sonic_rs::Deserializer::from_slice(raw);
    let v = seed
        .deserialize(&mut de)
        .map_err(|_| WireError::Malformed)?;
    de.end().map_err(|_| WireError::Malformed)?;
    Ok(v)
}

/// [`read_json`] for the parsers that keep raw values ([`crate::venues::raw_json::RawJson`],
/// sonic-rs `LazyValue`): sonic-rs 0.5 does not check the UTF-8 of a lazily skipped value
/// before making a `&str` of it (a `debug_assert!` in its `as_str`, unchecked otherwise), so
/// the message is checked here first. Found by the fuzzer (tests/fuzz md, Gate.io).
#[inline]
pub fn read_json_lazy<'de, S: DeserializeSeed<'de>>(
    raw: &'de [u8],
    seed: S,
) -> Result<S::Value, WireError> {
    if std::str::from_utf8(raw).is_err() {
        return Err(WireError::Malformed);
    }
    read_json(raw, seed)
}

/// Consume the rest of a JSON object and succeed: how a visitor leaves a message it has
/// classified as not-for-us (ack, heartbeat, other symbol) without building an error value
/// (serde errors allocate; these messages arrive every second, on the hot thread).
pub fn skip_rest<'de, A: de::MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    while map.next_key::<IgnoredAny>()?.is_some() {
        map.next_value::<IgnoredAny>()?;
    }
    Ok(())
}

#[cfg(test)]
mod raw_tests {
    use super::*;

    fn one(json: &str, scale: u32) -> Result<Dec, ()> {
        struct S(u32);
        impl<'de> DeserializeSeed<'de> for S {
            type Value = Dec;
            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Dec, D::Error> {
                struct V(u32);
                impl<'de> Visitor<'de> for V {
                    type Value = Dec;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str("[x]")
                    }
                    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Dec, A::Error> {
                        s.next_element_seed(RawDecSeed(self.0))?
                            .ok_or_else(|| de::Error::custom("empty"))
                    }
                }
                d.deserialize_seq(V(self.0))
            }
        }
        let wrapped = format!("[{json}]");
        let mut de = sonic_rs::Deserializer::from_slice(wrapped.as_bytes());
        S(scale).deserialize(&mut de).map_err(|_| ())
    }

    #[test]
    fn numbers_keep_their_exact_digits() {
        // Kraken v2 doc values; through f64 these would not survive a checksum
        assert_eq!(
            one("0.5666", 4),
            Ok(Dec {
                value: 5666,
                frac: 4
            })
        );
        assert_eq!(
            one("4831.75496356", 8),
            Ok(Dec {
                value: 483_175_496_356,
                frac: 8
            })
        );
        assert_eq!(one("1098.3947558", 8).unwrap().value, 109_839_475_580);
        // 0.1 + 0.2 style digits that f64 cannot hold are kept or refused, never rounded
        assert_eq!(one("0.30000000000000004", 8), Err(()));
        assert_eq!(one("1e-8", 8).unwrap().value, 1);
        assert_eq!(one("\"25.900002\"", 8).unwrap().value, 2_590_000_200);
        assert_eq!(one("25.900002", 6).unwrap().value, 25_900_002);
        assert_eq!(one("-3", 0).unwrap().value, -3);
        for bad in ["null", "true", "\"\"", "\"abc\"", "{}", "[1]"] {
            assert_eq!(one(bad, 8), Err(()), "{bad}");
        }
    }
}
