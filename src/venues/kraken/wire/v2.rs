//! Kraken WebSocket v2 (objects; today's default), and the v1 control messages, which are
//! objects too (`{"event":...}`).
//!
//! Sources: book <https://docs.kraken.com/api/docs/websocket-v2/book>, trade
//! <https://docs.kraken.com/api/docs/websocket-v2/trade>, heartbeat
//! <https://docs.kraken.com/api/docs/websocket-v2/heartbeat>; checksum
//! <https://docs.kraken.com/api/docs/guides/spot-ws-book-v2>.
//!
//! Doc sample (prices and quantities are JSON numbers, read from the raw token):
//! ```text
//! {"channel":"book","type":"update","data":[{"symbol":"MATIC/USD","bids":[{"price":0.5657,"qty":1098.3947558}],"asks":[],"checksum":2114181697,"timestamp":"2023-10-06T17:35:55.440295Z"}]}
//! {"channel":"trade","type":"update","data":[{"symbol":"MATIC/USD","side":"buy","price":0.5147,"qty":6423.46326,"ord_type":"limit","trade_id":4665846,"timestamp":"2023-09-25T07:48:36.925533Z"}]}
//! {"channel":"heartbeat"}
//! ```
#![forbid(unsafe_code)]

use super::{Kind, Msg};
use crate::book::Level;
use crate::venues::symbols::SymbolTable;
use crate::venues::wire_util::{
    read_json, skip_rest, Array, ArraySeed, BoundedSeq, Buffers, Object, ObjectSeed, RawDecSeed,
    Scale, Trade, WireError,
};
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess};

/// Parse one object frame: a v2 message or a v1 control message (`buf` cleared by the caller).
pub fn parse(raw: &[u8], symbols: &SymbolTable, buf: &mut Buffers) -> Result<Msg, WireError> {
    let mut msg = Msg {
        v2: true,
        ..Msg::default()
    };
    let mut st = None;
    let mut n_data = 0u32;
    let r = read_json(
        raw,
        Object(V2Top {
            symbols,
            msg: &mut msg,
            buf,
            st: &mut st,
            n_data: &mut n_data,
        }),
    );
    if let Some(e) = st {
        return Err(e);
    }
    r?;
    match msg.kind {
        Kind::BookSnapshot | Kind::BookUpdate if n_data != 1 || msg.checksum.is_none() => {
            Err(WireError::Malformed)
        }
        Kind::Trades if n_data == 0 => Err(WireError::Malformed),
        Kind::Other => Err(WireError::Malformed),
        _ => Ok(msg),
    }
}

struct V2Top<'a> {
    symbols: &'a SymbolTable,
    msg: &'a mut Msg,
    buf: &'a mut Buffers,
    st: &'a mut Option<WireError>,
    n_data: &'a mut u32,
}

impl<'de> ObjectSeed<'de> for V2Top<'_> {
    type Value = ();
    const EXPECTING: &'static str = "a Kraken object";
    fn visit<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut channel: Option<&'de str> = None;
        let mut ty: Option<&'de str> = None;
        while let Some(k) = map.next_key::<&str>()? {
            match k {
                // v1 control messages and v2 method replies (subscribe acks, pong)
                "event" | "method" => {
                    map.next_value::<IgnoredAny>()?;
                    *self.st = Some(WireError::Event);
                    return skip_rest(&mut map);
                }
                "channel" => {
                    let c: &str = map.next_value()?;
                    match c {
                        "book" | "trade" => channel = Some(c),
                        "heartbeat" | "status" => {
                            *self.st = Some(WireError::Event);
                            return skip_rest(&mut map);
                        }
                        _ => {
                            *self.st = Some(WireError::Unknown);
                            return skip_rest(&mut map);
                        }
                    }
                }
                "type" => ty = Some(map.next_value()?),
                "data" => {
                    let Some(c) = channel else {
                        return Err(de::Error::custom("data before channel"));
                    };
                    self.msg.kind = match (c, ty) {
                        ("book", Some("snapshot")) => Kind::BookSnapshot,
                        ("book", Some("update")) => Kind::BookUpdate,
                        ("trade", Some("snapshot" | "update")) => Kind::Trades,
                        _ => return Err(de::Error::custom("data before type")),
                    };
                    map.next_value_seed(Array(V2Data {
                        symbols: self.symbols,
                        msg: &mut *self.msg,
                        buf: &mut *self.buf,
                        st: &mut *self.st,
                        n: &mut *self.n_data,
                    }))?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct V2Data<'a> {
    symbols: &'a SymbolTable,
    msg: &'a mut Msg,
    buf: &'a mut Buffers,
    st: &'a mut Option<WireError>,
    n: &'a mut u32,
}

impl<'de> ArraySeed<'de> for V2Data<'_> {
    type Value = ();
    const EXPECTING: &'static str = "a data array";
    fn visit<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        loop {
            if self.msg.kind == Kind::Trades && self.buf.trades.len() == self.buf.trades.capacity()
            {
                if seq.next_element::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::custom("too many trades in one message"));
                }
                return Ok(());
            }
            let got = seq.next_element_seed(Object(V2Elem {
                symbols: self.symbols,
                msg: &mut *self.msg,
                buf: &mut *self.buf,
                st: &mut *self.st,
            }))?;
            if got.is_none() {
                return Ok(());
            }
            *self.n += 1;
        }
    }
}

struct V2Elem<'a> {
    symbols: &'a SymbolTable,
    msg: &'a mut Msg,
    buf: &'a mut Buffers,
    st: &'a mut Option<WireError>,
}

impl<'de> ObjectSeed<'de> for V2Elem<'_> {
    type Value = ();
    const EXPECTING: &'static str = "a data element";
    fn visit<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut scale: Option<Scale> = None;
        let trade = self.msg.kind == Kind::Trades;
        let mut t = Trade::default();
        let mut seen = 0u8;
        while let Some(k) = map.next_key::<&str>()? {
            match k {
                "symbol" => {
                    let s: &str = map.next_value()?;
                    match self.symbols.find(s.as_bytes()) {
                        Some((i, sc)) => {
                            if scale.is_some() && self.msg.inst != i {
                                return Err(de::Error::custom("two symbols in one message"));
                            }
                            self.msg.inst = i;
                            scale = Some(sc);
                        }
                        None => {
                            *self.st = Some(WireError::Unknown);
                            return skip_rest(&mut map);
                        }
                    }
                }
                "bids" | "asks" if !trade => {
                    let Some(sc) = scale else {
                        return Err(de::Error::custom("levels before symbol"));
                    };
                    let out = if k == "bids" {
                        &mut self.buf.bids
                    } else {
                        &mut self.buf.asks
                    };
                    map.next_value_seed(BoundedSeq {
                        out,
                        elem: Object(ObjLevel(sc)),
                        keep: Some,
                        what: "too many levels in one message",
                    })?;
                }
                "checksum" if !trade => {
                    let c: u64 = map.next_value()?;
                    self.msg.checksum =
                        Some(u32::try_from(c).map_err(|_| de::Error::custom("checksum > u32"))?);
                }
                "price" | "qty" if trade => {
                    let Some(sc) = scale else {
                        return Err(de::Error::custom("price before symbol"));
                    };
                    if k == "price" {
                        t.px = map.next_value_seed(RawDecSeed(sc.price_dec))?.value;
                        seen |= 1;
                    } else {
                        t.qty = map.next_value_seed(RawDecSeed(sc.qty_dec))?.value;
                        seen |= 2;
                    }
                }
                "side" if trade => {
                    t.taker_buy = match map.next_value::<&str>()? {
                        "buy" => true,
                        "sell" => false,
                        _ => return Err(de::Error::custom("bad side")),
                    };
                    seen |= 4;
                }
                "trade_id" if trade => {
                    t.id = map.next_value()?;
                    seen |= 8;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if scale.is_none() {
            return Err(de::Error::custom("no symbol"));
        }
        if trade {
            if seen != 15 || t.px <= 0 || t.qty <= 0 {
                return Err(de::Error::custom("bad trade"));
            }
            self.buf.trades.push(t);
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
struct ObjLevel(Scale);

impl<'de> ObjectSeed<'de> for ObjLevel {
    type Value = Level;
    const EXPECTING: &'static str = "{price, qty}";
    fn visit<A: MapAccess<'de>>(self, mut map: A) -> Result<Level, A::Error> {
        let (mut px, mut qty) = (None, None);
        while let Some(k) = map.next_key::<&str>()? {
            match k {
                "price" => px = Some(map.next_value_seed(RawDecSeed(self.0.price_dec))?),
                "qty" => qty = Some(map.next_value_seed(RawDecSeed(self.0.qty_dec))?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let (Some(px), Some(qty)) = (px, qty) else {
            return Err(de::Error::custom("level without price or qty"));
        };
        if px.value <= 0 || qty.value < 0 {
            return Err(de::Error::custom("bad level"));
        }
        Ok(Level {
            px: px.value,
            qty: qty.value,
            px_frac: px.frac,
            qty_frac: qty.frac,
        })
    }
}
