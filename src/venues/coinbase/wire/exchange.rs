//! Coinbase Exchange feed (`wss://ws-feed.exchange.coinbase.com`, formerly
//! `ws-feed.pro.coinbase.com`; what the 2021 recording holds): flat messages with `type`
//! `snapshot`, `l2update`, `ticker`, `match`/`last_match`, `heartbeat`, `subscriptions`,
//! `error`. Docs: <https://docs.cdp.coinbase.com/exchange/websocket-feed/channels>.
//!
//! Real samples (`../shared/data/recorded/COINBASE.ws.28.0`, 2021-04-17):
//! ```text
//! {"type":"snapshot","product_id":"BAND-GBP","asks":[["14.8024","12.77"],...],"bids":[...]}
//! {"type":"l2update","product_id":"SKL-BTC","changes":[["sell","0.00001306","660.5"]],"time":"2021-04-17T16:43:37.075687Z"}
//! {"type":"ticker","sequence":333938798,"product_id":"BAND-GBP","price":"14.7775","open_24h":"14.6647","volume_24h":"94381.28000000","low_24h":"14.3691","high_24h":"16.55","volume_30d":"2295579.57000000","best_bid":"14.7550","best_ask":"14.8060","side":"buy","time":"2021-04-17T16:43:30.244075Z","trade_id":881613,"last_size":"0.04"}
//! {"type":"match","trade_id":280232,"maker_order_id":"2a0da34e-61f7-4c36-88e5-c9dd15927b16","taker_order_id":"3c82abaa-c01e-4608-be59-6a1e69742891","side":"sell","size":"985","price":"0.00001305","product_id":"SKL-BTC","sequence":177100030,"time":"2021-04-17T16:43:37.089723Z"}
//! ```
//! A message's fields may come in any order; ticker and match numbers are kept as text until
//! `product_id` (which comes after them in `match` messages) gives the scale.
#![forbid(unsafe_code)]

use super::{
    cap_err, iso8601_us, level, BookGroup, BookKind, Buffers, Msg, Ticker, Trade, CAP_ERR,
};
use crate::book::Level;
use crate::types::Side;
use crate::venues::symbols::SymbolTable;
use crate::venues::wire_util::{dec, Array, ArraySeed, BoundedSeq, DecSeed, Scale};
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess};

/// Exchange-feed message types.
#[derive(Clone, Copy, PartialEq, Eq)]
enum XType {
    Snapshot,
    L2Update,
    Ticker,
    Match,
    Control,
}

/// The Exchange-feed fields of one message, read as they come.
pub(super) struct Fields<'de> {
    xtype: Option<XType>,
    prod: Option<(usize, Scale)>,
    time_us: u64,
    px: Option<&'de str>,
    size: Option<&'de str>,
    best_bid: Option<&'de str>,
    best_ask: Option<&'de str>,
    trade_id: Option<u64>,
    sequence: u64,
    maker: Option<Side>,
    /// First level of this message in [`Buffers::levels`].
    start: usize,
}

impl<'de> Fields<'de> {
    /// Nothing read yet; the message's levels will start at `start`.
    pub(super) fn new(start: usize) -> Fields<'de> {
        Fields {
            xtype: None,
            prod: None,
            time_us: 0,
            px: None,
            size: None,
            best_bid: None,
            best_ask: None,
            trade_id: None,
            sequence: 0,
            maker: None,
            start,
        }
    }

    /// Read the value of key `k` (any key the feed has; others are skipped). False when the
    /// message is not for this handler: a type it does not use, a product it does not serve.
    pub(super) fn read<A: MapAccess<'de>>(
        &mut self,
        k: &str,
        map: &mut A,
        symbols: &SymbolTable,
        buf: &mut Buffers,
    ) -> Result<bool, A::Error> {
        let xtype = self.xtype;
        match k {
            "type" => {
                let t: &str = map.next_value()?;
                self.xtype = Some(match t {
                    "snapshot" => XType::Snapshot,
                    "l2update" => XType::L2Update,
                    "ticker" => XType::Ticker,
                    "match" | "last_match" => XType::Match,
                    "heartbeat" | "subscriptions" | "error" | "status" => XType::Control,
                    _ => return Ok(false),
                });
            }
            "product_id" => {
                let s: &str = map.next_value()?;
                match symbols.find(s.as_bytes()) {
                    Some(p) => self.prod = Some(p),
                    None => return Ok(false),
                }
            }
            "bids" | "asks" if xtype == Some(XType::Snapshot) => {
                let Some((_, sc)) = self.prod else {
                    return Err(de::Error::custom("levels before product_id"));
                };
                let side = if k == "bids" { Side::Buy } else { Side::Sell };
                map.next_value_seed(BoundedSeq {
                    out: &mut buf.levels,
                    elem: Array(PxQty(sc, None)),
                    keep: |(_, l)| Some((side, l)),
                    what: CAP_ERR,
                })?;
            }
            "changes" if xtype == Some(XType::L2Update) => {
                let Some((_, sc)) = self.prod else {
                    return Err(de::Error::custom("changes before product_id"));
                };
                map.next_value_seed(BoundedSeq {
                    out: &mut buf.levels,
                    elem: Array(PxQty(sc, Some(()))),
                    keep: Some,
                    what: CAP_ERR,
                })?;
            }
            "time" => {
                let s: &str = map.next_value()?;
                self.time_us = iso8601_us(s.as_bytes()).ok_or_else(|| de::Error::custom("time"))?;
            }
            "price" | "size" | "best_bid" | "best_ask"
                if matches!(xtype, Some(XType::Ticker | XType::Match)) =>
            {
                let v = Some(map.next_value::<&'de str>()?);
                match k {
                    "price" => self.px = v,
                    "size" => self.size = v,
                    "best_bid" => self.best_bid = v,
                    _ => self.best_ask = v,
                }
            }
            "side" if xtype == Some(XType::Match) => {
                self.maker = Some(match map.next_value::<&str>()? {
                    "buy" => Side::Buy,
                    "sell" => Side::Sell,
                    _ => return Err(de::Error::custom("side")),
                });
            }
            "trade_id" if xtype == Some(XType::Match) => self.trade_id = Some(map.next_value()?),
            "sequence" => self.sequence = map.next_value()?,
            _ => {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(true)
    }

    /// Once every field is read: the message's book group, ticker or trade, checked.
    pub(super) fn finish<E: de::Error>(self, msg: &mut Msg, buf: &mut Buffers) -> Result<(), E> {
        let Some(t) = self.xtype else {
            return Err(de::Error::custom("no type"));
        };
        if t == XType::Control {
            msg.control = true;
            return Ok(());
        }
        let Some((inst, sc)) = self.prod else {
            return Err(de::Error::custom("no product_id"));
        };
        let px_of = |s: Option<&str>| s.map(|s| dec::<E>(s, sc.price_dec)).transpose();
        let (px, best_bid, best_ask) = (
            px_of(self.px)?,
            px_of(self.best_bid)?,
            px_of(self.best_ask)?,
        );
        let size = self.size.map(|s| dec::<E>(s, sc.qty_dec)).transpose()?;
        let (start, time_us) = (self.start, self.time_us);
        match t {
            XType::Snapshot | XType::L2Update => {
                if t == XType::L2Update && (time_us == 0 || buf.levels.len() == start) {
                    return Err(de::Error::custom("l2update without time or changes"));
                }
                if buf.groups.len() == buf.groups.capacity() {
                    return Err(cap_err());
                }
                buf.groups.push(BookGroup {
                    inst,
                    kind: if t == XType::Snapshot {
                        BookKind::Snapshot
                    } else {
                        BookKind::Update
                    },
                    start,
                    end: buf.levels.len(),
                    time_us,
                });
            }
            XType::Ticker => {
                let (Some(b), Some(a)) = (best_bid, best_ask) else {
                    return Err(de::Error::custom("ticker without best_bid/best_ask"));
                };
                msg.has_ticker = true;
                buf.ticker = Ticker {
                    inst,
                    sequence: self.sequence,
                    time_us,
                    bid_px: b.value,
                    ask_px: a.value,
                };
            }
            XType::Match => {
                let (Some(p), Some(q), Some(m), Some(id)) = (px, size, self.maker, self.trade_id)
                else {
                    return Err(de::Error::custom("match field missing"));
                };
                if p.value <= 0 || q.value <= 0 {
                    return Err(de::Error::custom("non-positive match"));
                }
                if buf.trades.len() == buf.trades.capacity() {
                    return Err(cap_err());
                }
                buf.trades.push(Trade {
                    inst,
                    trade_id: id,
                    px: p.value,
                    qty: q.value,
                    maker_side: m,
                });
            }
            XType::Control => {}
        }
        Ok(())
    }
}

/// `[price, size]`, or `[side, price, size]` when `.1` is set.
#[derive(Clone, Copy)]
struct PxQty(Scale, Option<()>);

impl<'de> ArraySeed<'de> for PxQty {
    type Value = (Side, Level);
    const EXPECTING: &'static str = "a level array";
    fn visit<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(Side, Level), A::Error> {
        let miss = || de::Error::custom("short level");
        let side = if self.1.is_some() {
            match seq.next_element::<&str>()?.ok_or_else(miss)? {
                "buy" => Side::Buy,
                "sell" => Side::Sell,
                _ => return Err(de::Error::custom("side")),
            }
        } else {
            Side::Buy
        };
        let px = seq
            .next_element_seed(DecSeed(self.0.price_dec))?
            .ok_or_else(miss)?;
        let q = seq
            .next_element_seed(DecSeed(self.0.qty_dec))?
            .ok_or_else(miss)?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        level(side, px, q)
    }
}
