//! Coinbase WebSocket market data, one module per feed (`protocol = "advanced-trade" |
//! "exchange"`): [`advanced_trade`] (today's default) and [`exchange`] (the 2021 recording),
//! parsed with sonic-rs straight into fixed point without allocation. One handler reads both:
//! [`parse`] hands each top-level key to the feed it belongs to (Advanced Trade's envelope
//! keys `channel`, `sequence_num`, `events`; every other key is the Exchange feed's), so the
//! message's shape tells them apart. Each module has its doc links and real samples.
//!
//! Sizes are absolute; `"0"` removes the level. `side` of a match / market trade is the
//! **maker's** side (Exchange docs: "the side field indicates the maker order side").
#![forbid(unsafe_code)]

pub mod advanced_trade;
pub mod exchange;

use crate::book::Level;
use crate::fixed_point::Dec;
use crate::types::Side;
use crate::venues::symbols::SymbolTable;
use crate::venues::wire_util::{read_json, skip_rest, Object, ObjectSeed, WireError};
use serde::de::{self, MapAccess};

/// Microseconds since the epoch of an RFC 3339 UTC time (`2021-04-17T16:43:37.075687Z`;
/// digits beyond µs are dropped). `None` if it is not one.
pub fn iso8601_us(s: &[u8]) -> Option<u64> {
    fn num(s: &[u8]) -> Option<u64> {
        if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        // checked: a fraction of 20+ digits overflowed (found by the fuzzer, tests/fuzz md)
        s.iter().try_fold(0u64, |a, c| {
            a.checked_mul(10)?.checked_add((c - b'0') as u64)
        })
    }
    if s.len() < 20 || s[4] != b'-' || s[7] != b'-' || s[10] != b'T' || s[13] != b':' {
        return None;
    }
    if s[16] != b':' || *s.last()? != b'Z' {
        return None;
    }
    let (y, mo, d) = (num(&s[0..4])?, num(&s[5..7])?, num(&s[8..10])?);
    let (h, mi, sec) = (num(&s[11..13])?, num(&s[14..16])?, num(&s[17..19])?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut us = 0u64;
    let rest = &s[19..s.len() - 1];
    if !rest.is_empty() {
        let frac = rest.strip_prefix(b".")?;
        num(frac)?;
        for i in 0..6 {
            us = us * 10 + frac.get(i).map(|c| (c - b'0') as u64).unwrap_or(0);
        }
    }
    // days from civil (H. Hinnant's algorithm), proleptic Gregorian
    let (y, mo) = (y as i64, mo as i64);
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    if days < 0 {
        return None;
    }
    Some(((days as u64 * 86_400 + h * 3600 + mi * 60 + sec) * 1_000_000) + us)
}

/// What one book group of a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BookKind {
    /// Full book for the product.
    Snapshot,
    /// Changes.
    Update,
}

/// One product's book data inside a message (Exchange: the whole message; Advanced Trade:
/// one `events[]` entry). Its levels are `levels[start..end]` of [`Buffers`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BookGroup {
    /// Handler index of the product.
    pub inst: usize,
    /// Snapshot or update.
    pub kind: BookKind,
    /// First level.
    pub start: usize,
    /// One past the last level.
    pub end: usize,
    /// `time` of an l2update, µs (0 when absent).
    pub time_us: u64,
}

/// One public trade.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Trade {
    /// Handler index of the product.
    pub inst: usize,
    /// `trade_id`.
    pub trade_id: u64,
    /// Price.
    pub px: i64,
    /// Size.
    pub qty: i64,
    /// Maker side (`Buy` = a resting bid was hit, the aggressor sold).
    pub maker_side: Side,
}

/// The venue's own best bid/ask (Exchange `ticker`, sent on every match; Advanced Trade
/// `ticker` events).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ticker {
    /// Handler index of the product.
    pub inst: usize,
    /// `sequence` (Exchange; per product, shared with the full channel) or 0.
    pub sequence: u64,
    /// `time` µs (Exchange) or 0.
    pub time_us: u64,
    /// Best bid price.
    pub bid_px: i64,
    /// Best ask price.
    pub ask_px: i64,
}

/// What a frame held.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Msg {
    /// Advanced Trade envelope (else Exchange feed).
    pub advanced: bool,
    /// Advanced Trade `sequence_num`.
    pub sequence_num: Option<u64>,
    /// Heartbeat / subscriptions: nothing for the books.
    pub control: bool,
    /// A ticker (in [`Buffers::ticker`]).
    pub has_ticker: bool,
}

/// Reused buffers of one handler.
#[derive(Debug)]
pub struct Buffers {
    /// Book groups of the last message.
    pub groups: Vec<BookGroup>,
    /// Levels of the last message, with their side, in message order.
    pub levels: Vec<(Side, Level)>,
    /// Trades of the last message.
    pub trades: Vec<Trade>,
    /// Ticker of the last message.
    pub ticker: Ticker,
}

impl Buffers {
    /// Room for `levels` levels, `groups` products and `trades` trades per message.
    pub fn with_capacity(levels: usize, groups: usize, trades: usize) -> Buffers {
        Buffers {
            groups: Vec::with_capacity(groups),
            levels: Vec::with_capacity(levels),
            trades: Vec::with_capacity(trades),
            ticker: Ticker::default(),
        }
    }
    fn clear(&mut self) {
        self.groups.clear();
        self.levels.clear();
        self.trades.clear();
        self.ticker = Ticker::default();
    }
}

/// Parse one frame of either feed ([`WireError::Unknown`]: a product or channel this handler
/// does not serve).
pub fn parse(raw: &[u8], symbols: &SymbolTable, buf: &mut Buffers) -> Result<Msg, WireError> {
    buf.clear();
    let mut msg = Msg::default();
    let mut unknown = false;
    let r = read_json(
        raw,
        Object(Top {
            symbols,
            msg: &mut msg,
            buf,
            unknown: &mut unknown,
        }),
    );
    if unknown {
        return Err(WireError::Unknown);
    }
    r?;
    Ok(msg)
}

/// Text of [`cap_err`].
pub(super) const CAP_ERR: &str = "message larger than the preallocated buffers";

/// The error of a message larger than the preallocated buffers.
pub(super) fn cap_err<E: de::Error>() -> E {
    de::Error::custom(CAP_ERR)
}

struct Top<'a> {
    symbols: &'a SymbolTable,
    msg: &'a mut Msg,
    buf: &'a mut Buffers,
    unknown: &'a mut bool,
}

impl<'de> ObjectSeed<'de> for Top<'_> {
    type Value = ();
    const EXPECTING: &'static str = "a Coinbase message object";
    fn visit<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut x = exchange::Fields::new(self.buf.levels.len());
        let mut at = advanced_trade::Envelope::default();
        while let Some(k) = map.next_key::<&str>()? {
            let ours = match k {
                "channel" | "sequence_num" | "events" => at.read(
                    k,
                    &mut map,
                    self.symbols,
                    &mut *self.msg,
                    &mut *self.buf,
                    &mut *self.unknown,
                )?,
                _ => x.read(k, &mut map, self.symbols, &mut *self.buf)?,
            };
            if !ours {
                *self.unknown = true;
                return skip_rest(&mut map);
            }
        }
        if self.msg.advanced {
            return at.finish(self.msg);
        }
        x.finish(self.msg, self.buf)
    }
}

/// A level of `side` from a price and a size, checked.
pub(super) fn level<E: de::Error>(side: Side, px: Dec, q: Dec) -> Result<(Side, Level), E> {
    if px.value <= 0 || q.value < 0 {
        return Err(E::custom("bad level"));
    }
    Ok((
        side,
        Level {
            px: px.value,
            qty: q.value,
            px_frac: px.frac,
            qty_frac: q.frac,
        },
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_fraction_too_long_for_u64_is_no_time_or_still_parses() {
        // fuzz crash (tests/fuzz md): `num` of a 20+ digit fraction overflowed
        assert_eq!(
            super::iso8601_us(b"2021-04-17T16:43:41.089740000000000000000000Z"),
            None
        );
        assert!(super::iso8601_us(b"2021-04-17T16:43:41.089740Z").is_some());
    }

    use super::*;

    #[test]
    fn rfc3339_to_micros() {
        assert_eq!(
            iso8601_us(b"2021-04-17T16:43:37.075687Z"),
            Some(1_618_677_817_075_687)
        );
        assert_eq!(iso8601_us(b"1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            iso8601_us(b"2023-02-09T20:32:50.714964855Z"),
            Some(1_675_974_770_714_964)
        );
        assert_eq!(
            iso8601_us(b"2024-02-29T00:00:00.5Z"),
            Some(1_709_164_800_500_000)
        );
        for bad in [
            &b"2021-04-17 16:43:37Z"[..],
            b"2021-13-17T16:43:37Z",
            b"2021-04-17T16:43:37",
            b"2021-04-17T16:43:37.x5Z",
            b"",
        ] {
            assert_eq!(iso8601_us(bad), None);
        }
    }
}
