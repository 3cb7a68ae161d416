//! Kraken WebSocket v1 (arrays; what the 2021 recordings hold). Its control messages are
//! objects (`{"event":"heartbeat"}`) and go through [`super::v2::parse`].
//!
//! Sources: book <https://docs.kraken.com/api/docs/websocket-v1/book>, trade
//! <https://docs.kraken.com/api/docs/websocket-v1/trade>, ticker
//! <https://docs.kraken.com/api/docs/websocket-v1/ticker>, heartbeat/ping
//! <https://docs.kraken.com/api/docs/websocket-v1/ping>; checksum
//! <https://docs.kraken.com/api/docs/guides/spot-ws-book-v1>.
//!
//! Real samples (`../shared/data/recorded/KRAKEN.ws.48.0`–`50.0`, 2021-04-17):
//! ```text
//! [1360,{"as":[["0.000022900","13355.87450757","1618678123.481570"],...],"bs":[...]},"book-1000","ADA/XBT"]
//! [1920,{"b":[["0.043110","20270.49268141","1618678133.384500"]],"c":"43621407"},"book-1000","SC/EUR"]
//! [992,{"a":[["354.55000000","0.00000000","1618678145.766178"]]},{"b":[["353.99000000","1.20000000","1618678145.766206"]],"c":"2262426390"},"book-1000","XMR/USD"]
//! [993,[["354.11000000","0.89594024","1618678142.557535","s","l",""]],"trade","XMR/USD"]
//! [1668,{"a":["13.253900",35,"35.72892241"],"b":["13.232900",185,"185.18432037"],"c":["13.253900","3.71672000"],...},"ticker","WAVES/EUR"]
//! {"event":"heartbeat"}
//! ```
//! v1 arrays are read from the end (doc: the last element is the pair, the one before it the
//! channel name): the pair is found first by a byte scan of the tail, so the instrument's scale
//! is known before any level is parsed. Book levels `[price, volume, timestamp(, "r")]` are
//! strings; volume `0` deletes; the checksum `"c"` (quoted u32) sits in the last dict of an
//! update; snapshots (`"as"`/`"bs"`) carry none.
#![forbid(unsafe_code)]

use super::{Kind, Msg};
use crate::venues::symbols::SymbolTable;
use crate::venues::wire_util::{
    read_json, Array, ArraySeed, Buffers, DecSeed, LevelsSeed, Scale, Trade, WireError,
};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// The last two strings of a v1 array `[..., "channel", "pair"]`, found by scanning back from
/// the closing bracket (names contain no quotes or escapes).
fn v1_tail(raw: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut end = raw.len();
    while end > 0 && raw[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    let s = raw.get(..end)?.strip_suffix(b"]")?;
    let s = trim_end(s).strip_suffix(b"\"")?;
    let q = s.iter().rposition(|b| *b == b'"')?;
    let pair = &s[q + 1..];
    let s = trim_end(&s[..q]).strip_suffix(b",")?;
    let s = trim_end(s).strip_suffix(b"\"")?;
    let q = s.iter().rposition(|b| *b == b'"')?;
    Some((&s[q + 1..], pair))
}

fn trim_end(s: &[u8]) -> &[u8] {
    let mut e = s.len();
    while e > 0 && s[e - 1].is_ascii_whitespace() {
        e -= 1;
    }
    &s[..e]
}

/// Parse one v1 array frame (`buf` cleared by the caller).
pub fn parse(raw: &[u8], symbols: &SymbolTable, buf: &mut Buffers) -> Result<Msg, WireError> {
    let (chan, pair) = v1_tail(raw).ok_or(WireError::Malformed)?;
    let (kind, depth) = if let Some(d) = chan.strip_prefix(b"book-") {
        let d = std::str::from_utf8(d)
            .ok()
            .and_then(|d| d.parse::<u32>().ok())
            .ok_or(WireError::Malformed)?;
        (Kind::BookUpdate, d)
    } else if chan == b"book" {
        (Kind::BookUpdate, 0)
    } else if chan == b"trade" {
        (Kind::Trades, 0)
    } else if chan == b"ticker" {
        (Kind::Ticker, 0)
    } else {
        return Err(WireError::Unknown);
    };
    let (inst, scale) = symbols.find(pair).ok_or(WireError::Unknown)?;
    let mut msg = Msg {
        kind,
        inst,
        depth,
        ..Msg::default()
    };
    read_json(
        raw,
        Array(V1Array {
            scale,
            msg: &mut msg,
            buf,
        }),
    )?;
    match msg.kind {
        Kind::BookUpdate if buf.bids.is_empty() && buf.asks.is_empty() => Err(WireError::Malformed),
        Kind::BookUpdate if msg.checksum.is_none() => Err(WireError::Malformed),
        Kind::Ticker if msg.bid.is_none() || msg.ask.is_none() => Err(WireError::Malformed),
        _ => Ok(msg),
    }
}

struct V1Array<'a> {
    scale: Scale,
    msg: &'a mut Msg,
    buf: &'a mut Buffers,
}

impl<'de> ArraySeed<'de> for V1Array<'_> {
    type Value = ();
    const EXPECTING: &'static str = "a v1 channel array";
    fn visit<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        // [0] channelID (deprecated, not used)
        seq.next_element::<IgnoredAny>()?
            .ok_or_else(|| de::Error::custom("empty array"))?;
        let mut payloads = 0;
        loop {
            let more = seq.next_element_seed(V1Element {
                scale: self.scale,
                msg: &mut *self.msg,
                buf: &mut *self.buf,
            })?;
            match more {
                Some(true) => payloads += 1,
                Some(false) => {} // channel name or pair
                None => break,
            }
        }
        if payloads == 0 {
            return Err(de::Error::custom("no payload"));
        }
        Ok(())
    }
}

/// One element after the channel id: a payload (dict or array) → `true`; a string → `false`.
struct V1Element<'a> {
    scale: Scale,
    msg: &'a mut Msg,
    buf: &'a mut Buffers,
}

impl<'de> DeserializeSeed<'de> for V1Element<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for V1Element<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a v1 payload")
    }
    fn visit_borrowed_str<E: de::Error>(self, _s: &'de str) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_str<E: de::Error>(self, _s: &str) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let sc = self.scale;
        match self.msg.kind {
            Kind::BookSnapshot | Kind::BookUpdate => {
                while let Some(k) = map.next_key::<&str>()? {
                    match k {
                        "as" | "bs" | "a" | "b" => {
                            let snap = k.len() == 2;
                            if snap {
                                self.msg.kind = Kind::BookSnapshot;
                            }
                            let out = if k.starts_with('a') {
                                &mut self.buf.asks
                            } else {
                                &mut self.buf.bids
                            };
                            map.next_value_seed(LevelsSeed { scale: sc, out })?;
                        }
                        "c" => {
                            let s: &str = map.next_value()?;
                            self.msg.checksum = Some(
                                s.parse::<u32>()
                                    .map_err(|_| de::Error::custom("bad checksum"))?,
                            );
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
            }
            Kind::Ticker => {
                while let Some(k) = map.next_key::<&str>()? {
                    match k {
                        "a" => self.msg.ask = Some(map.next_value_seed(Array(TickerSide(sc)))?),
                        "b" => self.msg.bid = Some(map.next_value_seed(Array(TickerSide(sc)))?),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
            }
            _ => return Err(de::Error::custom("unexpected dict")),
        }
        Ok(true)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        if self.msg.kind != Kind::Trades {
            return Err(de::Error::custom("unexpected array"));
        }
        loop {
            if self.buf.trades.len() == self.buf.trades.capacity() {
                if seq.next_element::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::custom("too many trades in one message"));
                }
                return Ok(true);
            }
            match seq.next_element_seed(Array(V1Trade(self.scale)))? {
                Some(t) => self.buf.trades.push(t),
                None => return Ok(true),
            }
        }
    }
}

/// v1 ticker `"a": [price, wholeLotVolume, lotVolume]` → (price, lot volume).
struct TickerSide(Scale);

impl<'de> ArraySeed<'de> for TickerSide {
    type Value = (i64, i64);
    const EXPECTING: &'static str = "[price, wholeLotVolume, lotVolume]";
    fn visit<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(i64, i64), A::Error> {
        let px = seq
            .next_element_seed(DecSeed(self.0.price_dec))?
            .ok_or_else(|| de::Error::custom("no price"))?;
        seq.next_element::<IgnoredAny>()?
            .ok_or_else(|| de::Error::custom("no whole-lot volume"))?;
        let vol = seq
            .next_element_seed(DecSeed(self.0.qty_dec))?
            .ok_or_else(|| de::Error::custom("no lot volume"))?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok((px.value, vol.value))
    }
}

/// v1 trade `[price, volume, time, side, orderType, misc]`.
struct V1Trade(Scale);

impl<'de> ArraySeed<'de> for V1Trade {
    type Value = Trade;
    const EXPECTING: &'static str = "a v1 trade array";
    fn visit<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Trade, A::Error> {
        let miss = || de::Error::custom("short trade");
        let px = seq
            .next_element_seed(DecSeed(self.0.price_dec))?
            .ok_or_else(miss)?;
        let qty = seq
            .next_element_seed(DecSeed(self.0.qty_dec))?
            .ok_or_else(miss)?;
        let time = seq.next_element_seed(DecSeed(6))?.ok_or_else(miss)?;
        let side: &str = seq.next_element()?.ok_or_else(miss)?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        let taker_buy = match side {
            "b" => true,
            "s" => false,
            _ => return Err(de::Error::custom("bad side")),
        };
        if px.value <= 0 || qty.value <= 0 || time.value < 0 {
            return Err(de::Error::custom("non-positive trade"));
        }
        Ok(Trade {
            id: time.value as u64,
            px: px.value,
            qty: qty.value,
            taker_buy,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_tail_finds_channel_and_pair() {
        assert_eq!(
            v1_tail(br#"[1,{"a":[]},"book-1000","XBT/USD"]"#),
            Some((&b"book-1000"[..], &b"XBT/USD"[..]))
        );
        assert_eq!(
            v1_tail(b"[1, {}, \"trade\" , \"SC/EUR\" ]\n"),
            Some((&b"trade"[..], &b"SC/EUR"[..]))
        );
        assert_eq!(v1_tail(br#"[1,{"a":[]},"XBT/USD"]"#), None);
        assert_eq!(v1_tail(b"[1,2,3]"), None);
        assert_eq!(v1_tail(b""), None);
        assert_eq!(v1_tail(b"]"), None);
    }
}
