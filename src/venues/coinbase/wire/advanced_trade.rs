//! Coinbase Advanced Trade (today's default, `wss://advanced-trade-ws.coinbase.com`): envelope
//! `{"channel":..,"client_id":..,"timestamp":..,"sequence_num":N,"events":[...]}`; channels
//! `l2_data` (subscribed as `level2`), `market_trades`, `ticker`, `heartbeats`,
//! `subscriptions`. Docs:
//! <https://docs.cdp.coinbase.com/coinbase-app/advanced-trade-apis/websocket/websocket-channels>.
//!
//! Doc shape:
//! `{"channel":"l2_data","client_id":"","timestamp":"2023-02-09T20:32:50.714964855Z","sequence_num":0,"events":[{"type":"snapshot","product_id":"BTC-USD","updates":[{"side":"bid","event_time":"1970-01-01T00:00:00Z","price_level":"21921.73","new_quantity":"0.06317902"}]}]}`.
#![forbid(unsafe_code)]

use super::{cap_err, level, BookGroup, BookKind, Buffers, Msg, Ticker, Trade, CAP_ERR};
use crate::book::Level;
use crate::types::Side;
use crate::venues::symbols::SymbolTable;
use crate::venues::wire_util::{
    skip_rest, Array, ArraySeed, BoundedSeq, DecSeed, Object, ObjectSeed, Scale,
};
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess};

/// The Advanced Trade envelope fields of one message (`channel`, `sequence_num`, `events`).
#[derive(Default)]
pub(super) struct Envelope<'de> {
    channel: Option<&'de str>,
}

impl<'de> Envelope<'de> {
    /// Read the value of envelope key `k`. False when the message is not for this handler (a
    /// channel it does not use).
    pub(super) fn read<A: MapAccess<'de>>(
        &mut self,
        k: &str,
        map: &mut A,
        symbols: &SymbolTable,
        msg: &mut Msg,
        buf: &mut Buffers,
        unknown: &mut bool,
    ) -> Result<bool, A::Error> {
        match k {
            "channel" => {
                let c: &str = map.next_value()?;
                msg.advanced = true;
                match c {
                    "l2_data" | "market_trades" | "ticker" | "ticker_batch" => {
                        self.channel = Some(c)
                    }
                    "heartbeats" | "subscriptions" | "status" => msg.control = true,
                    _ => return Ok(false),
                }
            }
            "sequence_num" => msg.sequence_num = Some(map.next_value()?),
            "events" => {
                msg.advanced = true;
                if msg.control {
                    map.next_value::<IgnoredAny>()?;
                    return Ok(true);
                }
                let Some(c) = self.channel else {
                    return Err(de::Error::custom("events before channel"));
                };
                map.next_value_seed(Array(Events {
                    channel: c,
                    symbols,
                    msg,
                    buf,
                    unknown,
                }))?;
            }
            _ => {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(true)
    }

    /// Once every field is read: a data message must have named its channel.
    pub(super) fn finish<E: de::Error>(self, msg: &Msg) -> Result<(), E> {
        if self.channel.is_none() && !msg.control {
            return Err(de::Error::custom("no channel"));
        }
        Ok(())
    }
}

/// The `events` array.
struct Events<'a> {
    channel: &'a str,
    symbols: &'a SymbolTable,
    msg: &'a mut Msg,
    buf: &'a mut Buffers,
    unknown: &'a mut bool,
}

impl<'de> ArraySeed<'de> for Events<'_> {
    type Value = ();
    const EXPECTING: &'static str = "an events array";
    fn visit<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(Object(Event {
                channel: self.channel,
                symbols: self.symbols,
                msg: &mut *self.msg,
                buf: &mut *self.buf,
                unknown: &mut *self.unknown,
            }))?
            .is_some()
        {}
        Ok(())
    }
}

struct Event<'a> {
    channel: &'a str,
    symbols: &'a SymbolTable,
    msg: &'a mut Msg,
    buf: &'a mut Buffers,
    unknown: &'a mut bool,
}

impl<'de> ObjectSeed<'de> for Event<'_> {
    type Value = ();
    const EXPECTING: &'static str = "an event object";
    fn visit<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut kind: Option<BookKind> = None;
        let mut prod: Option<(usize, Scale)> = None;
        let start = self.buf.levels.len();
        let l2 = self.channel == "l2_data";
        while let Some(k) = map.next_key::<&str>()? {
            match k {
                "type" => {
                    kind = Some(match map.next_value::<&str>()? {
                        "snapshot" => BookKind::Snapshot,
                        "update" => BookKind::Update,
                        _ => return Err(de::Error::custom("event type")),
                    })
                }
                "product_id" if l2 => {
                    let s: &str = map.next_value()?;
                    match self.symbols.find(s.as_bytes()) {
                        Some(p) => prod = Some(p),
                        None => {
                            *self.unknown = true;
                            return skip_rest(&mut map);
                        }
                    }
                }
                "updates" if l2 => {
                    let Some((_, sc)) = prod else {
                        return Err(de::Error::custom("updates before product_id"));
                    };
                    map.next_value_seed(BoundedSeq {
                        out: &mut self.buf.levels,
                        elem: Object(AtUpdate(sc)),
                        keep: Some,
                        what: CAP_ERR,
                    })?;
                }
                "trades" if self.channel == "market_trades" => {
                    map.next_value_seed(BoundedSeq {
                        out: &mut self.buf.trades,
                        elem: Object(AtTrade(self.symbols)),
                        keep: |t| t,
                        what: CAP_ERR,
                    })?;
                }
                "tickers" if self.channel.starts_with("ticker") => {
                    map.next_value_seed(Array(AtTickers {
                        symbols: self.symbols,
                        msg: &mut *self.msg,
                        out: &mut self.buf.ticker,
                    }))?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if l2 {
            let (Some(kind), Some((inst, _))) = (kind, prod) else {
                return Err(de::Error::custom("l2 event without type or product"));
            };
            if self.buf.groups.len() == self.buf.groups.capacity() {
                return Err(cap_err());
            }
            self.buf.groups.push(BookGroup {
                inst,
                kind,
                start,
                end: self.buf.levels.len(),
                time_us: 0,
            });
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
struct AtUpdate(Scale);

impl<'de> ObjectSeed<'de> for AtUpdate {
    type Value = (Side, Level);
    const EXPECTING: &'static str = "an update object";
    fn visit<A: MapAccess<'de>>(self, mut map: A) -> Result<(Side, Level), A::Error> {
        let (mut side, mut px, mut q) = (None, None, None);
        while let Some(k) = map.next_key::<&str>()? {
            match k {
                "side" => {
                    side = Some(match map.next_value::<&str>()? {
                        "bid" => Side::Buy,
                        "offer" | "ask" => Side::Sell,
                        _ => return Err(de::Error::custom("side")),
                    })
                }
                "price_level" => px = Some(map.next_value_seed(DecSeed(self.0.price_dec))?),
                "new_quantity" => q = Some(map.next_value_seed(DecSeed(self.0.qty_dec))?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let (Some(s), Some(p), Some(q)) = (side, px, q) else {
            return Err(de::Error::custom("update field missing"));
        };
        level(s, p, q)
    }
}

#[derive(Clone, Copy)]
struct AtTrade<'a>(&'a SymbolTable);

impl<'de> ObjectSeed<'de> for AtTrade<'_> {
    type Value = Option<Trade>;
    const EXPECTING: &'static str = "a trade object";
    fn visit<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Trade>, A::Error> {
        let mut prod: Option<(usize, Scale)> = None;
        let mut other = false;
        let (mut id, mut px, mut q, mut side) = (None, None, None, None);
        while let Some(k) = map.next_key::<&str>()? {
            match k {
                "product_id" => {
                    let s: &str = map.next_value()?;
                    prod = self.0.find(s.as_bytes());
                    other = prod.is_none();
                }
                "trade_id" => {
                    let s: &str = map.next_value()?;
                    id = Some(s.parse::<u64>().unwrap_or(0));
                }
                "price" | "size" if !other => {
                    let Some((_, sc)) = prod else {
                        return Err(de::Error::custom("price before product_id"));
                    };
                    let d = if k == "price" {
                        sc.price_dec
                    } else {
                        sc.qty_dec
                    };
                    let v = map.next_value_seed(DecSeed(d))?;
                    if k == "price" {
                        px = Some(v)
                    } else {
                        q = Some(v)
                    }
                }
                "side" => {
                    side = Some(match map.next_value::<&str>()? {
                        "BUY" => Side::Buy,
                        "SELL" => Side::Sell,
                        _ => return Err(de::Error::custom("side")),
                    })
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if other {
            return Ok(None);
        }
        let (Some((inst, _)), Some(id), Some(p), Some(q), Some(s)) = (prod, id, px, q, side) else {
            return Err(de::Error::custom("trade field missing"));
        };
        if p.value <= 0 || q.value <= 0 {
            return Err(de::Error::custom("non-positive trade"));
        }
        Ok(Some(Trade {
            inst,
            trade_id: id,
            px: p.value,
            qty: q.value,
            maker_side: s,
        }))
    }
}

/// Advanced Trade `tickers`: the last entry of a product we serve is kept.
struct AtTickers<'a> {
    symbols: &'a SymbolTable,
    msg: &'a mut Msg,
    out: &'a mut Ticker,
}

impl<'de> ArraySeed<'de> for AtTickers<'_> {
    type Value = ();
    const EXPECTING: &'static str = "a tickers array";
    fn visit<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(t) = seq.next_element_seed(Object(AtTicker(self.symbols)))? {
            if let Some(t) = t {
                *self.out = t;
                self.msg.has_ticker = true;
            }
        }
        Ok(())
    }
}

struct AtTicker<'a>(&'a SymbolTable);

impl<'de> ObjectSeed<'de> for AtTicker<'_> {
    type Value = Option<Ticker>;
    const EXPECTING: &'static str = "a ticker object";
    fn visit<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Ticker>, A::Error> {
        let mut prod: Option<(usize, Scale)> = None;
        let mut other = false;
        let (mut b, mut a) = (None, None);
        while let Some(k) = map.next_key::<&str>()? {
            match k {
                "product_id" => {
                    let s: &str = map.next_value()?;
                    prod = self.0.find(s.as_bytes());
                    other = prod.is_none();
                }
                "best_bid" | "best_ask" if !other => {
                    let Some((_, sc)) = prod else {
                        return Err(de::Error::custom("price before product_id"));
                    };
                    let v = map.next_value_seed(DecSeed(sc.price_dec))?;
                    if k == "best_bid" {
                        b = Some(v)
                    } else {
                        a = Some(v)
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if other {
            return Ok(None);
        }
        let (Some((inst, _)), Some(b), Some(a)) = (prod, b, a) else {
            return Err(de::Error::custom("ticker field missing"));
        };
        Ok(Some(Ticker {
            inst,
            sequence: 0,
            time_us: 0,
            bid_px: b.value,
            ask_px: a.value,
        }))
    }
}
