//! Bybit market data: v5 public streams (spot, linear, inverse; the default) and the retired
//! v2 feed of the 2021 recordings (`protocol = "v2"`).
//!
//! Files (the same in every venue folder; a venue that speaks two protocols has one `wire/`
//! module per protocol):
//! - [`wire`]: message formats with real samples and doc links, zero-allocation parsing:
//!   [`wire::v5`] and [`wire::v2`] (the `orderBookL2_25` format).
//! - [`book`]: book sync: v5 (snapshot, deltas with `u` + 1) and v2 (its own consistency rules).
//! - [`instruments`]: specs from `GET /v5/market/instruments-info` (and v2 `/v2/public/symbols`).
//! - [`protocol`]: URLs, subscriptions, `{"op":"ping"}` keep-alive.
//! - No `orders.rs`: order entry for Bybit is not part of this adapter yet.
//!
//! What the v5 handler emits: book levels + commits (update id `u`), trades (aggressor = `S`).
//! Bybit sends no checksum and no separate BBO stream is used (`orderbook.1` is a book too).
#![forbid(unsafe_code)]

pub mod book;
pub mod instruments;
pub mod orders;
pub mod protocol;
pub mod wire;

use crate::feed::protocol::VenueProtocol;
use crate::feed::{VenueCounters, VenueHandler};
use crate::instrument::InstrumentDef;
use crate::venues::handler::{emit_trades, Ctx, Handler, WireFormat};
use crate::venues::wire_util::{Buffers, Limits, WireError};
use crate::venues::{Exchange, KeyError, Venue, VenueCtx, VenueOptions};
use book::{BookSync, LegacySync};
use protocol::Category;
use std::sync::Arc;
use wire::v2::Kind as V2Kind;
use wire::v5::Topic;

/// Buffer sizes of a Bybit v5 handler (`orderbook.1000` snapshots: 1000 levels; at most 1024
/// trades a message).
pub const LIMITS: Limits = Limits::per_message(1000, 1024);

/// Bybit v5's wire format and handler rules (the [`WireFormat`] of [`BybitHandler`]); the wire
/// symbol is `BTCUSDT`.
pub struct V5 {
    buf: Buffers,
}

impl V5 {
    /// Buffers for what `limits` allows in one message.
    pub fn new(limits: &Limits) -> V5 {
        V5 {
            buf: Buffers::new(limits),
        }
    }
}

/// Market-data handler for one Bybit v5 venue (one category).
pub type BybitHandler = Handler<V5>;

impl WireFormat for V5 {
    type Book = BookSync;

    fn new_book(&self) -> BookSync {
        BookSync::new()
    }

    fn on_message(&mut self, raw: &[u8], cx: Ctx<'_, '_, BookSync>) -> Result<(), WireError> {
        let Ctx { st, sink } = cx;
        let m = wire::v5::parse(raw, &st.symbols, &mut self.buf)?;
        let (c, id) = (&*st.counters, st.symbols.get(m.inst).id);
        let (bids, asks) = (&self.buf.bids, &self.buf.asks);
        match m.topic {
            Topic::OrderBook if m.snapshot => {
                VenueCounters::inc(&c.snapshots);
                st.books[m.inst].on_snapshot(id, m.u, bids, asks, sink, c);
            }
            Topic::OrderBook => {
                VenueCounters::inc(&c.depth_updates);
                st.books[m.inst].on_delta(id, m.u, bids, asks, sink, c);
            }
            Topic::Trade => emit_trades(sink, id, &self.buf.trades, c),
            Topic::Other => return Err(WireError::Unknown),
        }
        Ok(())
    }
}

/// Bybit v2's wire format (the retired feed of the recordings) and handler rules (the
/// [`WireFormat`] of [`LegacyHandler`]);
/// the wire symbol is `BTCUSD`, `BCHUSDT`.
pub struct V2 {
    buf: wire::v2::Buffers,
    levels: usize,
}

impl V2 {
    /// Books of up to `levels` levels per side (25 for `orderBookL2_25`).
    pub fn new(levels: usize) -> V2 {
        let buf = wire::v2::Buffers {
            entries: Vec::with_capacity(4 * levels.max(200)),
            trades: Vec::with_capacity(1024),
        };
        V2 { buf, levels }
    }
}

/// Market-data handler for one legacy (v2) Bybit connection.
pub type LegacyHandler = Handler<V2>;

impl WireFormat for V2 {
    type Book = LegacySync;

    fn new_book(&self) -> LegacySync {
        LegacySync::new(self.levels)
    }

    fn on_message(&mut self, raw: &[u8], cx: Ctx<'_, '_, LegacySync>) -> Result<(), WireError> {
        let Ctx { st, sink } = cx;
        let m = wire::v2::parse(raw, &st.symbols, &mut self.buf)?;
        let (c, id) = (&*st.counters, st.symbols.get(m.inst).id);
        let cs = m.cross_seq.unwrap_or(0);
        match m.kind {
            V2Kind::Snapshot => {
                VenueCounters::inc(&c.snapshots);
                st.books[m.inst].on_snapshot(id, cs, &self.buf.entries, sink, c);
            }
            V2Kind::Delta => {
                VenueCounters::inc(&c.depth_updates);
                st.books[m.inst].on_delta(id, cs, &self.buf.entries, sink, c);
            }
            V2Kind::Trades => emit_trades(sink, id, &self.buf.trades, c),
            V2Kind::Other => return Err(WireError::Unknown),
        }
        Ok(())
    }
}

/// Depth subscribed when `book_depth` is not set.
pub const DEFAULT_DEPTH: u32 = 50;

/// A configured Bybit venue: one v5 category, or the legacy v2 feed of the recordings.
#[derive(Clone, Debug)]
pub struct BybitVenue {
    category: Category,
    /// `protocol = "v2"`: the retired `orderBookL2_25` feed (replay of the 2021 recordings).
    legacy: bool,
    depth: u32,
    options: VenueOptions,
}

/// Resolve a `[venues.<name>]` section with `exchange = "bybit"`: `market` = `spot` |
/// `linear` | `inverse` (the v5 category), `protocol` = `v5` (default) | `v2` (legacy,
/// replay only), `book_depth` one of the category's depths.
pub fn configure(o: &VenueOptions) -> Result<Arc<dyn Venue>, KeyError> {
    let category = match o.market.as_deref() {
        Some(m) => Category::parse(m).ok_or_else(|| {
            KeyError::new(
                "market",
                format!("unknown bybit market {m:?} (spot, linear, inverse)"),
            )
        })?,
        None => {
            return Err(KeyError::new(
                "market",
                "required for bybit: spot, linear or inverse",
            ))
        }
    };
    let (legacy, depth) = match o.protocol.as_deref() {
        None | Some("v5") => {
            let d = o.book_depth.unwrap_or(DEFAULT_DEPTH);
            if !category.depths().contains(&d) {
                return Err(KeyError::new(
                    "book_depth",
                    format!(
                        "bybit {} depths are {:?}, not {d}",
                        category.as_str(),
                        category.depths()
                    ),
                ));
            }
            (false, d)
        }
        Some("v2") => {
            if o.book_depth.is_some_and(|d| d != 25) {
                return Err(KeyError::new(
                    "book_depth",
                    "bybit v2 books are orderBookL2_25",
                ));
            }
            (true, 25)
        }
        Some(p) => {
            return Err(KeyError::new(
                "protocol",
                format!("bybit speaks \"v5\" (default) or \"v2\" (recordings), not {p:?}"),
            ))
        }
    };
    Ok(Arc::new(BybitVenue {
        category,
        legacy,
        depth,
        options: o.clone(),
    }))
}

impl Venue for BybitVenue {
    fn sign_request(
        &self,
        creds: &crate::venues::Credentials,
        r: &crate::venues::SignRequest,
    ) -> Result<Vec<u8>, String> {
        orders::sign_request(creds, r)
    }

    fn exchange(&self) -> Exchange {
        Exchange::Bybit
    }

    fn parse_instruments(
        &self,
        venue_name: &str,
        text: &str,
    ) -> Result<Vec<InstrumentDef>, String> {
        instruments::parse_instruments(text, venue_name)
    }

    fn handler(
        &self,
        ctx: &VenueCtx<'_>,
        counters: Arc<VenueCounters>,
    ) -> Result<Box<dyn VenueHandler>, String> {
        let refs = ctx.instrument_refs();
        if self.legacy {
            return Ok(Box::new(LegacyHandler::new(
                ctx.id,
                refs,
                V2::new(25),
                counters,
            )));
        }
        Ok(Box::new(BybitHandler::new(
            ctx.id,
            refs,
            V5::new(&Limits {
                max_levels_per_msg: self.options.book_levels.max(1000),
                ..LIMITS
            }),
            counters,
        )))
    }

    fn protocol(&self, ctx: &VenueCtx<'_>) -> Result<Box<dyn VenueProtocol>, String> {
        if self.legacy {
            return Err(ctx.err(
                "bybit v2 is the retired feed of the recordings; use protocol = \"v5\" live",
            ));
        }
        let symbols = ctx.symbols();
        let names = symbols.iter().map(|(_, s)| s.clone()).collect();
        Ok(crate::venues::adapt(
            protocol::BybitProtocol::new(names, self.category, self.depth),
            ctx,
            symbols,
            |p, s, _| p.resubscribe_frames(s),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::MdKind;
    use crate::types::VenueId;
    use crate::types::{InstrumentId, Side};
    use crate::venues::symbols::InstrumentRef;
    use crate::venues::testing::{assert_parse_errors, feed, iref};

    fn refs(sym: &str, pd: u32, qd: u32) -> Vec<InstrumentRef> {
        vec![iref(9, sym, pd, qd)]
    }

    // v5: real messages (../shared/data/recorded/bybit_v5_XRPUSDT_ob500_20241201.data, levels
    // shortened) and doc samples.
    const SNAP: &str = r#"{"topic":"orderbook.500.XRPUSDT","type":"snapshot","ts":1733011200691,"data":{"s":"XRPUSDT","b":[["1.9531","6203"],["1.9530","2409"]],"a":[["1.9535","8415"]],"u":20254869,"seq":130020238981},"cts":1733011200589}"#;
    const DELTA: &str = r#"{"topic":"orderbook.500.XRPUSDT","type":"delta","ts":1733011200693,"data":{"s":"XRPUSDT","b":[["1.9531","6198"],["1.9530","0"]],"a":[],"u":20254870,"seq":130020239261},"cts":1733011200691}"#;
    const TRADE: &str = r#"{"topic":"publicTrade.XRPUSDT","type":"snapshot","ts":1672304486868,"data":[{"T":1672304486865,"s":"XRPUSDT","S":"Buy","v":"100","p":"1.9533","L":"PlusTick","i":"20f43950-d8dd-5b31-9112-a178eb6023af","BT":false}]}"#;

    #[test]
    fn v5_real_messages_table() {
        let mut h = BybitHandler::new(
            VenueId(0),
            refs("XRPUSDT", 4, 0),
            V5::new(&LIMITS),
            Arc::new(VenueCounters::default()),
        );
        assert_eq!(
            feed(&mut h, DELTA)[0].kind,
            MdKind::Noop,
            "before the snapshot"
        );
        let ev = feed(&mut h, SNAP);
        assert_eq!(ev.len(), 5);
        assert_eq!((ev[1].side, ev[1].p0, ev[1].q0), (Side::Buy, 19531, 6203));
        assert_eq!(ev[4].venue_seq, 20254869);
        let ev = feed(&mut h, DELTA);
        assert_eq!((ev[1].p0, ev[1].q0), (19530, 0), "size 0 deletes");
        assert_eq!(ev[2].venue_seq, 20254870);
        let ev = feed(&mut h, TRADE);
        assert_eq!(
            (ev[0].kind, ev[0].p0, ev[0].q0, ev[0].side),
            (MdKind::Trade, 19533, 100, Side::Buy)
        );
        // a skipped u
        let ev = feed(&mut h, DELTA.replace("20254870", "20254872"));
        assert_eq!(ev[0].kind, MdKind::BookInvalid);
        let mut w = vec![];
        h.snapshot_wanted(&mut |i| w.push(i));
        assert_eq!(w, vec![InstrumentId(9)]);
        for m in [
            r#"{"success":true,"ret_msg":"pong","conn_id":"0970e817-426e-429a-a679-ff7f55e0b16a","op":"ping"}"#,
            r#"{"success":true,"ret_msg":"","conn_id":"x","req_id":"sub-0","op":"subscribe"}"#,
            r#"{"topic":"tickers.XRPUSDT","type":"snapshot","data":{}}"#,
            &SNAP.replace("XRPUSDT", "BTCUSDT"),
        ] {
            assert_eq!(feed(&mut h, m)[0].kind, MdKind::Noop);
        }
        let c = h.counters();
        assert_eq!(VenueCounters::get(&c.unknown_messages), 4);
        assert_eq!(VenueCounters::get(&c.gaps), 1);
        assert_eq!(VenueCounters::get(&c.parse_errors), 0);
    }

    #[test]
    fn v5_malformed_variants_are_counted_not_panics() {
        let mut h = BybitHandler::new(
            VenueId(0),
            refs("XRPUSDT", 4, 0),
            V5::new(&LIMITS),
            Arc::new(VenueCounters::default()),
        );
        feed(&mut h, SNAP);
        let cases: Vec<String> = vec![
            DELTA[..DELTA.len() / 2].to_string(),
            DELTA.replace(r#","u":20254870"#, ""),
            DELTA.replace(r#""a":[],"#, ""),
            DELTA.replace("1.9531", "1.95x1"),
            DELTA.replace("6198", "-6198"),
            DELTA.replace("1.9531", "1.95311"),
            DELTA.replace(r#""type":"delta""#, r#""type":"partial""#),
            DELTA.replace("orderbook.500.", "orderbook.x."),
            format!(r#"{{"data":{{}},{}"#, &DELTA[1..]),
            TRADE.replace(r#""S":"Buy""#, r#""S":"Up""#),
            TRADE.replace(r#""v":"100","#, ""),
            TRADE.replace(r#"[{"T""#, r#"[]}{"T""#),
            String::new(),
            "[]".into(),
        ];
        assert_parse_errors(&mut h, &cases);
    }

    // v2 legacy: real messages (../shared/data/recorded/BYBIT.ws.26.0, levels shortened).
    const L_SNAP: &str = r#"{"topic":"orderBookL2_25.BTCUSD","type":"snapshot","data":[{"price":"60591.00","symbol":"BTCUSD","id":605910000,"side":"Buy","size":14431},{"price":"60604.00","symbol":"BTCUSD","id":606040000,"side":"Buy","size":2074},{"price":"60617.00","symbol":"BTCUSD","id":606170000,"side":"Sell","size":4100285}],"cross_seq":5938954547,"timestamp_e6":1618677785397906}"#;
    const L_DELTA: &str = r#"{"topic":"orderBookL2_25.BTCUSD","type":"delta","data":{"delete":[{"price":"60604.00","symbol":"BTCUSD","id":606040000,"side":"Buy"}],"update":[{"price":"60617.00","symbol":"BTCUSD","id":606170000,"side":"Sell","size":4100200}],"insert":[{"price":"60590.50","symbol":"BTCUSD","id":605905000,"side":"Buy","size":7500}],"transactTimeE6":0},"cross_seq":5938954563,"timestamp_e6":1618677785537915}"#;
    const L_LINEAR: &str = r#"{"topic":"orderBookL2_25.BCHUSDT","type":"snapshot","data":{"order_book":[{"price":"1053.05","symbol":"BCHUSDT","id":"10530500","side":"Buy","size":2.63},{"price":"1053.10","symbol":"BCHUSDT","id":"10531000","side":"Sell","size":25.900002}]},"cross_seq":"864131773","timestamp_e6":"1618677786389362"}"#;
    const L_TRADE: &str = r#"{"topic":"trade.BTCUSD","data":[{"trade_time_ms":1618677786614,"timestamp":"2021-04-17T16:43:06.000Z","symbol":"BTCUSD","side":"Sell","size":4,"price":60621.5,"tick_direction":"PlusTick","trade_id":"5ffb8b77-900c-507d-97a2-0922557ffe54","cross_seq":5938955347}]}"#;

    fn legacy() -> LegacyHandler {
        LegacyHandler::new(
            VenueId(0),
            vec![iref(1, "BTCUSD", 2, 0), iref(2, "BCHUSDT", 2, 8)],
            V2::new(25),
            Arc::new(VenueCounters::default()),
        )
    }

    #[test]
    fn legacy_real_messages_and_consistency_rules() {
        let mut h = legacy();
        let ev = feed(&mut h, L_SNAP);
        assert_eq!(ev.len(), 5);
        assert_eq!(ev[4].venue_seq, 5938954547);
        let ev = feed(&mut h, L_DELTA);
        // delete, update, insert in message order
        assert_eq!((ev[0].side, ev[0].p0, ev[0].q0), (Side::Buy, 6060400, 0));
        assert_eq!((ev[1].side, ev[1].q0), (Side::Sell, 4100200));
        assert_eq!((ev[2].p0, ev[2].q0), (6059050, 7500));
        assert_eq!(ev[3].kind, MdKind::BookCommit);
        // float-printed sizes are kept exactly as sent
        let ev = feed(&mut h, L_LINEAR);
        assert_eq!(
            (ev[2].side, ev[2].q0, ev[2].qty_frac),
            (Side::Sell, 2_590_000_200, 6)
        );
        let ev = feed(&mut h, L_TRADE);
        assert_eq!(
            (ev[0].kind, ev[0].p0, ev[0].q0, ev[0].side, ev[0].venue_seq),
            (MdKind::Trade, 6062150, 4, Side::Sell, 5938955347)
        );
        assert_eq!(VenueCounters::get(&h.counters().gaps), 0);
        // the same delta again: cross_seq does not advance, and 60604.00 is already gone
        let ev = feed(&mut h, L_DELTA);
        assert_eq!(ev[0].kind, MdKind::BookInvalid);
        // after a new snapshot, an update of a level the book does not have is a gap
        feed(&mut h, L_SNAP);
        let bad = L_DELTA
            .replace("5938954563", "5938954600")
            .replace(r#""price":"60617.00""#, r#""price":"60618.00""#);
        assert_eq!(feed(&mut h, &bad)[0].kind, MdKind::BookInvalid);
        assert_eq!(VenueCounters::get(&h.counters().gaps), 2);
        for m in [
            r#"{"success":true,"ret_msg":"","conn_id":"95a3336b-365a-4fad-9540-ede1104f1260","request":{"op":"subscribe","args":["trade.EOSUSD"]}}"#,
            &L_TRADE.replace("BTCUSD", "EOSUSD"),
        ] {
            assert_eq!(feed(&mut h, m)[0].kind, MdKind::Noop);
        }
        let bad: Vec<String> = vec![
            L_DELTA[..40].to_string(),
            L_DELTA.replace(r#","cross_seq":5938954563"#, ""),
            L_DELTA.replace(r#""size":7500"#, r#""size":"x""#),
            L_DELTA.replace(r#""size":7500"#, r#""size":0"#),
            L_DELTA.replace(r#""side":"Buy","size":7500"#, r#""size":7500"#),
            L_SNAP.replace(r#""type":"snapshot","#, ""),
            L_TRADE.replace(r#""price":60621.5,"#, ""),
        ];
        for m in &bad {
            assert_eq!(feed(&mut h, m)[0].kind, MdKind::Noop, "{m}");
        }
        assert_eq!(
            VenueCounters::get(&h.counters().parse_errors),
            bad.len() as u64
        );
    }
}
