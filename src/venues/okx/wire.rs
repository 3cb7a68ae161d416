//! OKX v5 public WebSocket messages, parsed with sonic-rs straight into fixed point, without
//! allocation (levels and trades go into buffers reserved at start).
//!
//! Sources (OKX API v5 docs, <https://www.okx.com/docs-v5/en/>):
//! - order book channels `books`, `books5`, `bbo-tbt`, `books-l2-tbt`, `books50-l2-tbt`:
//!   <https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-order-book-channel>
//! - `trades`: <https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-trades-channel>
//! - `tickers`: <https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-tickers-channel>
//! - keep-alive (`ping` → `pong` text frames):
//!   <https://www.okx.com/docs-v5/en/#overview-websocket-connect>
//!
//! Real samples (`../shared/data/recorded/OKX.ws.1.0`, 2022-05-13; `books` had a checksum but
//! no `seqId` yet, today's messages carry `seqId`/`prevSeqId` and a checksum fixed to 0):
//! ```text
//! {"arg":{"channel":"books","instId":"BTC-USD-220527"},"action":"update","data":[{"asks":[["30249.4","0","0","0"],["30261","4","0","1"],["30310.3","19","0","1"]],"bids":[["30182.6","452","0","1"]],"ts":"1652459225464","checksum":-914047754}]}
//! {"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"instType":"SPOT","instId":"BTC-USDT","last":"30236","lastSz":"0.0002","askPx":"30228.7","askSz":"1.55896972","bidPx":"30228.6","bidSz":"0.23393","open24h":"29700.4","high24h":"31073","low24h":"28020.3","sodUtc0":"29028.8","sodUtc8":"30337.7","volCcy24h":"525802090.62716611","vol24h":"17602.13085371","ts":"1652459224956"}]}
//! {"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"338476307","px":"30236","sz":"0.0002","side":"buy","ts":"1652459224818"}]}
//! {"event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"}}
//! ```
//! Today's doc shapes: `{"arg":{"channel":"bbo-tbt","instId":"BTC-USDT"},"data":[{"asks":[["8476.98","415","0","13"]],"bids":[["8476.97","256","0","12"]],"ts":"1597026383085","seqId":123456}]}`,
//! books updates `...,"checksum":0,"prevSeqId":123456,"seqId":123457}`.
//! Level = `[price, size, "0" (deprecated), number of orders]`, size `"0"` deletes.
#![forbid(unsafe_code)]

use crate::fixed_point::Dec;
use crate::venues::symbols::SymbolTable;
use crate::venues::wire_util::{
    read_json, skip_rest, Array, ArraySeed, Buffers, DecSeed, LevelsSeed, Object, ObjectSeed,
    Scale, Trade, WireError,
};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess};

/// The channel a message belongs to (`arg.channel`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Channel {
    /// `books`, `books-l2-tbt`, `books50-l2-tbt`: snapshot + incremental updates.
    Books,
    /// `books5`: a 5-level snapshot every time (no `action`).
    Books5,
    /// `bbo-tbt`: best bid/offer, tick by tick, with `seqId`.
    BboTbt,
    /// `tickers`: last trade and best bid/offer, at most every 100 ms.
    Tickers,
    /// `trades` / `trades-all`.
    Trades,
    /// A channel this adapter does not use.
    #[default]
    Other,
}

impl Channel {
    fn from_name(s: &str) -> Channel {
        match s {
            "books" | "books-l2-tbt" | "books50-l2-tbt" => Channel::Books,
            "books5" => Channel::Books5,
            "bbo-tbt" => Channel::BboTbt,
            "tickers" => Channel::Tickers,
            "trades" | "trades-all" => Channel::Trades,
            _ => Channel::Other,
        }
    }
}

/// `action` of a book message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Action {
    /// No action field (bbo-tbt, books5, tickers, trades).
    #[default]
    None,
    /// Full book.
    Snapshot,
    /// Incremental update.
    Update,
}

/// A parsed message (flat; which fields are set depends on the channel). Levels go to
/// [`Buffers`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Msg {
    /// Channel.
    pub channel: Channel,
    /// Handler index of `arg.instId`.
    pub inst: usize,
    /// Book action.
    pub action: Action,
    /// `seqId` (books, bbo-tbt), when present.
    pub seq_id: Option<i64>,
    /// `prevSeqId` (books), when present (`-1` on snapshots).
    pub prev_seq_id: Option<i64>,
    /// `checksum` (books), when present; 0 = not sent / deprecated.
    pub checksum: Option<i64>,
    /// `ts`, ms.
    pub ts_ms: u64,
    /// Ticker best bid price and size (`None` when sent as `""`).
    pub bid: Option<(i64, i64)>,
    /// Ticker best ask price and size.
    pub ask: Option<(i64, i64)>,
    /// Elements in `data`.
    pub n_data: u32,
}

/// Parse one text frame: a channel push ([`Msg`], levels and trades (`tradeId`, 0 if not
/// numeric) in `buf`), or why it is none ([`WireError::Event`] for `{"event":...}` replies,
/// [`WireError::Unknown`] for a channel or instrument this handler does not serve).
pub fn parse(raw: &[u8], symbols: &SymbolTable, buf: &mut Buffers) -> Result<Msg, WireError> {
    buf.clear();
    let mut msg = Msg::default();
    let mut st = None;
    let r = read_json(
        raw,
        Object(Top {
            symbols,
            msg: &mut msg,
            buf,
            st: &mut st,
        }),
    );
    if let Some(e) = st {
        return Err(e);
    }
    r?;
    match msg.channel {
        Channel::Books if msg.action == Action::None || msg.n_data != 1 => {
            Err(WireError::Malformed)
        }
        Channel::Books5 | Channel::BboTbt if msg.n_data != 1 => Err(WireError::Malformed),
        Channel::Tickers if msg.n_data != 1 => Err(WireError::Malformed),
        _ => Ok(msg),
    }
}

struct Top<'a> {
    symbols: &'a SymbolTable,
    msg: &'a mut Msg,
    buf: &'a mut Buffers,
    st: &'a mut Option<WireError>,
}

impl<'de> ObjectSeed<'de> for Top<'_> {
    type Value = ();
    const EXPECTING: &'static str = "an OKX push object";
    fn visit<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut scale: Option<Scale> = None;
        while let Some(k) = map.next_key::<&str>()? {
            match k {
                "event" => {
                    map.next_value::<IgnoredAny>()?;
                    *self.st = Some(WireError::Event);
                    return skip_rest(&mut map);
                }
                "arg" => {
                    let (ch, sym) = map.next_value_seed(Object(ArgSeed))?;
                    self.msg.channel = Channel::from_name(ch);
                    if self.msg.channel == Channel::Other {
                        *self.st = Some(WireError::Unknown);
                        return skip_rest(&mut map);
                    }
                    match sym.and_then(|s| self.symbols.find(s.as_bytes())) {
                        Some((i, s)) => {
                            self.msg.inst = i;
                            scale = Some(s);
                        }
                        None => {
                            *self.st = Some(WireError::Unknown);
                            return skip_rest(&mut map);
                        }
                    }
                }
                "action" => {
                    let a: &str = map.next_value()?;
                    self.msg.action = match a {
                        "snapshot" => Action::Snapshot,
                        "update" => Action::Update,
                        _ => return Err(de::Error::custom("unknown action")),
                    };
                }
                "data" => {
                    let Some(scale) = scale else {
                        return Err(de::Error::custom("data before arg"));
                    };
                    map.next_value_seed(Array(DataSeed {
                        scale,
                        msg: &mut *self.msg,
                        buf: &mut *self.buf,
                    }))?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if scale.is_none() {
            return Err(de::Error::custom("no arg"));
        }
        Ok(())
    }
}

/// `arg` → (channel, instId).
struct ArgSeed;

impl<'de> ObjectSeed<'de> for ArgSeed {
    type Value = (&'de str, Option<&'de str>);
    const EXPECTING: &'static str = "an arg object";
    fn visit<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut ch, mut inst) = (None, None);
        while let Some(k) = map.next_key::<&str>()? {
            match k {
                "channel" => ch = Some(map.next_value::<&str>()?),
                "instId" => inst = Some(map.next_value::<&str>()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok((
            ch.ok_or_else(|| de::Error::custom("arg without channel"))?,
            inst,
        ))
    }
}

struct DataSeed<'a> {
    scale: Scale,
    msg: &'a mut Msg,
    buf: &'a mut Buffers,
}

impl<'de> ArraySeed<'de> for DataSeed<'_> {
    type Value = ();
    const EXPECTING: &'static str = "a data array";
    fn visit<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        loop {
            let more = if self.msg.channel == Channel::Trades {
                if self.buf.trades.len() == self.buf.trades.capacity() {
                    // would reallocate: refuse the message (counted by the caller)
                    if seq.next_element::<IgnoredAny>()?.is_some() {
                        return Err(de::Error::custom("too many trades in one message"));
                    }
                    return Ok(());
                }
                match seq.next_element_seed(Object(TradeSeed(self.scale)))? {
                    Some(t) => {
                        self.buf.trades.push(t);
                        true
                    }
                    None => false,
                }
            } else {
                seq.next_element_seed(Object(ElemSeed {
                    scale: self.scale,
                    msg: &mut *self.msg,
                    buf: &mut *self.buf,
                }))?
                .is_some()
            };
            if !more {
                return Ok(());
            }
            self.msg.n_data += 1;
        }
    }
}

/// One book / bbo / ticker element.
struct ElemSeed<'a> {
    scale: Scale,
    msg: &'a mut Msg,
    buf: &'a mut Buffers,
}

impl<'de> ObjectSeed<'de> for ElemSeed<'_> {
    type Value = ();
    const EXPECTING: &'static str = "a data element";
    fn visit<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let m = self.msg;
        let sc = self.scale;
        let (mut bid_px, mut bid_sz, mut ask_px, mut ask_sz) = (None, None, None, None);
        let (mut seen_bids, mut seen_asks, mut seen_ts) = (false, false, false);
        let ticker = m.channel == Channel::Tickers;
        while let Some(k) = map.next_key::<&str>()? {
            match k {
                "bids" if !ticker => {
                    map.next_value_seed(LevelsSeed {
                        scale: sc,
                        out: &mut self.buf.bids,
                    })?;
                    seen_bids = true;
                }
                "asks" if !ticker => {
                    map.next_value_seed(LevelsSeed {
                        scale: sc,
                        out: &mut self.buf.asks,
                    })?;
                    seen_asks = true;
                }
                "ts" => {
                    m.ts_ms = map.next_value_seed(U64StrSeed)?;
                    seen_ts = true;
                }
                "checksum" => m.checksum = Some(map.next_value()?),
                "seqId" => m.seq_id = Some(map.next_value()?),
                "prevSeqId" => m.prev_seq_id = Some(map.next_value()?),
                "bidPx" if ticker => bid_px = map.next_value_seed(OptDecSeed(sc.price_dec))?,
                "bidSz" if ticker => bid_sz = map.next_value_seed(OptDecSeed(sc.qty_dec))?,
                "askPx" if ticker => ask_px = map.next_value_seed(OptDecSeed(sc.price_dec))?,
                "askSz" if ticker => ask_sz = map.next_value_seed(OptDecSeed(sc.qty_dec))?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !seen_ts {
            return Err(de::Error::custom("missing ts"));
        }
        if ticker {
            m.bid = bid_px.zip(bid_sz).map(|(p, q)| (p.value, q.value));
            m.ask = ask_px.zip(ask_sz).map(|(p, q)| (p.value, q.value));
        } else if !(seen_bids && seen_asks) {
            return Err(de::Error::custom("missing bids/asks"));
        }
        Ok(())
    }
}

/// A trade element.
struct TradeSeed(Scale);

impl<'de> ObjectSeed<'de> for TradeSeed {
    type Value = Trade;
    const EXPECTING: &'static str = "a trade object";
    fn visit<A: MapAccess<'de>>(self, mut map: A) -> Result<Trade, A::Error> {
        let mut t = Trade::default();
        let mut seen = 0u8;
        while let Some(k) = map.next_key::<&str>()? {
            match k {
                "tradeId" => {
                    let s: &str = map.next_value()?;
                    t.id = s.parse().unwrap_or(0);
                    seen |= 1;
                }
                "px" => {
                    t.px = map.next_value_seed(DecSeed(self.0.price_dec))?.value;
                    seen |= 2;
                }
                "sz" => {
                    t.qty = map.next_value_seed(DecSeed(self.0.qty_dec))?.value;
                    seen |= 4;
                }
                "side" => {
                    t.taker_buy = match map.next_value::<&str>()? {
                        "buy" => true,
                        "sell" => false,
                        _ => return Err(de::Error::custom("side")),
                    };
                    seen |= 8;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if seen != 15 {
            return Err(de::Error::custom("trade field missing"));
        }
        if t.px <= 0 || t.qty <= 0 {
            return Err(de::Error::custom("non-positive trade"));
        }
        Ok(t)
    }
}

/// A decimal string that may be empty (`""` = absent, as OKX sends for an empty side).
struct OptDecSeed(u32);

impl<'de> DeserializeSeed<'de> for OptDecSeed {
    type Value = Option<Dec>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Dec>, D::Error> {
        let s: &str = serde::Deserialize::deserialize(d)?;
        if s.is_empty() {
            return Ok(None);
        }
        crate::venues::wire_util::dec(s, self.0).map(Some)
    }
}

/// An unsigned integer sent as a string (`"1652459225464"`).
pub(crate) struct U64StrSeed;

impl<'de> DeserializeSeed<'de> for U64StrSeed {
    type Value = u64;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        let s: &str = serde::Deserialize::deserialize(d)?;
        s.parse().map_err(|_| de::Error::custom("not an integer"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venues::testing::iref;

    fn table() -> SymbolTable {
        SymbolTable::new(vec![iref(0, "BTC-USDT", 1, 8)])
    }

    #[test]
    fn ticker_with_empty_side() {
        let mut b = Buffers::with_capacity(10, 10);
        let m = parse(
            br#"{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"bidPx":"","bidSz":"","askPx":"30228.7","askSz":"1.5","ts":"1"}]}"#,
            &table(),
            &mut b,
        )
        .unwrap();
        assert_eq!(m.bid, None);
        assert_eq!(m.ask, Some((302287, 150_000_000)));
    }

    #[test]
    fn trade_buffer_is_never_grown() {
        let mut b = Buffers::with_capacity(10, 1);
        let two = br#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"tradeId":"1","px":"1","sz":"1","side":"buy","ts":"1"},{"tradeId":"2","px":"1","sz":"1","side":"sell","ts":"1"}]}"#;
        assert_eq!(parse(two, &table(), &mut b), Err(WireError::Malformed));
        assert_eq!(b.trades.capacity(), 1);
    }
}
