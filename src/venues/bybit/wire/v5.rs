//! Bybit v5 public WebSocket messages (spot, linear, inverse), parsed with sonic-rs straight
//! into fixed point, without allocation.
//!
//! Sources (Bybit v5 docs, <https://bybit-exchange.github.io/docs/v5/ws/connect>):
//! - order book `orderbook.{depth}.{symbol}`:
//!   <https://bybit-exchange.github.io/docs/v5/websocket/public/orderbook>
//! - trades `publicTrade.{symbol}`: <https://bybit-exchange.github.io/docs/v5/websocket/public/trade>
//! - ping/pong and operation replies: <https://bybit-exchange.github.io/docs/v5/ws/connect>
//!
//! Real sample (`../shared/data/recorded/bybit_v5_XRPUSDT_ob500_20241201.data`, Bybit public
//! historical data, linear, 2024-12-01; levels shortened here):
//! ```text
//! {"topic":"orderbook.500.XRPUSDT","type":"delta","ts":1733011200693,"data":{"s":"XRPUSDT","b":[["1.9531","6198"],["1.9529","2080"]],"a":[["1.9535","8415"]],"u":20254870,"seq":130020239261},"cts":1733011200691}
//! ```
//! Doc samples: `{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1672304486868,"data":[{"T":1672304486865,"s":"BTCUSDT","S":"Buy","v":"0.001","p":"16578.50","L":"PlusTick","i":"20f43950-d8dd-5b31-9112-a178eb6023af","BT":false}]}`,
//! pong `{"success":true,"ret_msg":"pong","conn_id":"0970e817-426e-429a-a679-ff7f55e0b16a","op":"ping"}`.
//! Levels `[price, size]` are strings; size `"0"` deletes.
#![forbid(unsafe_code)]

use crate::venues::symbols::SymbolTable;
use crate::venues::wire_util::{
    read_json, skip_rest, BoundedSeq, Buffers, DecSeed, LevelsSeed, Object, ObjectSeed, Scale,
    Trade, WireError,
};
use serde::de::{self, IgnoredAny, MapAccess};

/// Topic family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Topic {
    /// `orderbook.{depth}.{symbol}`.
    OrderBook,
    /// `publicTrade.{symbol}`.
    Trade,
    /// Anything else.
    #[default]
    Other,
}

/// A parsed frame (levels and trades in [`Buffers`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Msg {
    /// Topic family.
    pub topic: Topic,
    /// Handler index of the symbol.
    pub inst: usize,
    /// Depth of an order-book topic.
    pub depth: u32,
    /// `type:"snapshot"` (else delta).
    pub snapshot: bool,
    /// `u`: update id.
    pub u: u64,
    /// `seq`: cross sequence.
    pub seq: u64,
}

/// Parse one frame: a topic push ([`Msg`]; levels and trades (`i` when numeric, else 0) in
/// `buf`), or why it is none ([`WireError::Event`] for operation replies,
/// [`WireError::Unknown`] for a topic or symbol this handler does not serve).
pub fn parse(raw: &[u8], symbols: &SymbolTable, buf: &mut Buffers) -> Result<Msg, WireError> {
    buf.clear();
    let mut msg = Msg::default();
    let mut st = None;
    let mut seen = 0u8;
    let r = read_json(
        raw,
        Object(Top {
            symbols,
            msg: &mut msg,
            buf,
            st: &mut st,
            seen: &mut seen,
        }),
    );
    if let Some(e) = st {
        return Err(e);
    }
    r?;
    match msg.topic {
        // topic, type, data with u
        Topic::OrderBook if seen & 0b111 != 0b111 => Err(WireError::Malformed),
        Topic::Trade if buf.trades.is_empty() => Err(WireError::Malformed),
        Topic::Other => Err(WireError::Malformed),
        _ => Ok(msg),
    }
}

struct Top<'a> {
    symbols: &'a SymbolTable,
    msg: &'a mut Msg,
    buf: &'a mut Buffers,
    st: &'a mut Option<WireError>,
    seen: &'a mut u8,
}

impl<'de> ObjectSeed<'de> for Top<'_> {
    type Value = ();
    const EXPECTING: &'static str = "a Bybit v5 object";
    fn visit<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut scale: Option<Scale> = None;
        while let Some(k) = map.next_key::<&str>()? {
            match k {
                "op" | "success" | "ret_msg" => {
                    map.next_value::<IgnoredAny>()?;
                    *self.st = Some(WireError::Event);
                    return skip_rest(&mut map);
                }
                "topic" => {
                    let t: &str = map.next_value()?;
                    let (fam, rest) = t.split_once('.').unwrap_or((t, ""));
                    let sym = match fam {
                        "orderbook" => {
                            let (d, s) = rest
                                .split_once('.')
                                .ok_or_else(|| de::Error::custom("topic"))?;
                            self.msg.depth =
                                d.parse().map_err(|_| de::Error::custom("topic depth"))?;
                            self.msg.topic = Topic::OrderBook;
                            s
                        }
                        "publicTrade" => {
                            self.msg.topic = Topic::Trade;
                            rest
                        }
                        _ => {
                            *self.st = Some(WireError::Unknown);
                            return skip_rest(&mut map);
                        }
                    };
                    match self.symbols.find(sym.as_bytes()) {
                        Some((i, s)) => {
                            self.msg.inst = i;
                            scale = Some(s);
                        }
                        None => {
                            *self.st = Some(WireError::Unknown);
                            return skip_rest(&mut map);
                        }
                    }
                    *self.seen |= 1;
                }
                "type" => {
                    let t: &str = map.next_value()?;
                    self.msg.snapshot = match t {
                        "snapshot" => true,
                        "delta" => false,
                        _ => return Err(de::Error::custom("type")),
                    };
                    *self.seen |= 2;
                }
                "data" => {
                    let Some(sc) = scale else {
                        return Err(de::Error::custom("data before topic"));
                    };
                    if self.msg.topic == Topic::Trade {
                        map.next_value_seed(BoundedSeq {
                            out: &mut self.buf.trades,
                            elem: Object(TradeSeed(sc)),
                            keep: Some,
                            what: "too many trades in one message",
                        })?;
                    } else {
                        map.next_value_seed(Object(BookData {
                            scale: sc,
                            msg: &mut *self.msg,
                            buf: &mut *self.buf,
                            seen: &mut *self.seen,
                        }))?;
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct BookData<'a> {
    scale: Scale,
    msg: &'a mut Msg,
    buf: &'a mut Buffers,
    seen: &'a mut u8,
}

impl<'de> ObjectSeed<'de> for BookData<'_> {
    type Value = ();
    const EXPECTING: &'static str = "an order-book data object";
    fn visit<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (mut b, mut a) = (false, false);
        while let Some(k) = map.next_key::<&str>()? {
            match k {
                "b" => {
                    map.next_value_seed(LevelsSeed {
                        scale: self.scale,
                        out: &mut self.buf.bids,
                    })?;
                    b = true;
                }
                "a" => {
                    map.next_value_seed(LevelsSeed {
                        scale: self.scale,
                        out: &mut self.buf.asks,
                    })?;
                    a = true;
                }
                "u" => {
                    self.msg.u = map.next_value()?;
                    *self.seen |= 4;
                }
                "seq" => self.msg.seq = map.next_value()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !(a && b) {
            return Err(de::Error::custom("missing b/a"));
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
struct TradeSeed(Scale);

impl<'de> ObjectSeed<'de> for TradeSeed {
    type Value = Trade;
    const EXPECTING: &'static str = "a trade object";
    fn visit<A: MapAccess<'de>>(self, mut map: A) -> Result<Trade, A::Error> {
        let mut t = Trade::default();
        let mut seen = 0u8;
        while let Some(k) = map.next_key::<&str>()? {
            match k {
                "p" => {
                    t.px = map.next_value_seed(DecSeed(self.0.price_dec))?.value;
                    seen |= 1;
                }
                "v" => {
                    t.qty = map.next_value_seed(DecSeed(self.0.qty_dec))?.value;
                    seen |= 2;
                }
                "S" => {
                    t.taker_buy = match map.next_value::<&str>()? {
                        "Buy" => true,
                        "Sell" => false,
                        _ => return Err(de::Error::custom("side")),
                    };
                    seen |= 4;
                }
                "i" => {
                    let s: &str = map.next_value()?;
                    t.id = s.parse().unwrap_or(0);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if seen != 7 || t.px <= 0 || t.qty <= 0 {
            return Err(de::Error::custom("bad trade"));
        }
        Ok(t)
    }
}
