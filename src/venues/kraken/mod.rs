//! Kraken spot market data: WebSocket v2 (today's default: JSON objects, prices as JSON
//! numbers) and v1 (arrays; what the 2021 recordings hold). One handler reads both.
//!
//! Files (the same in every venue folder):
//! - [`wire`]: message formats with real samples and doc links, one module per protocol
//!   ([`wire::v2`], [`wire::v1`]); zero-allocation parsing, v2 numbers read from the raw token
//!   (never through `f64`).
//! - [`book`]: book maintenance (snapshot + updates, truncation to depth, CRC32 checksum).
//! - [`instruments`]: specs from `GET /0/public/AssetPairs`.
//! - [`protocol`]: URLs, subscriptions, ping/heartbeat keep-alive.
//! - No `orders.rs`: order entry for Kraken is not part of this adapter yet.
//!
//! What the handler emits: book levels and commits carrying the checksum (v1 rule: digits as
//! sent; v2 rule: the instrument's precisions, so a v2 venue needs the AssetPairs
//! `pair_decimals`/`lot_decimals` as its `price_dec`/`qty_dec`) and the depth to cut to;
//! trades (aggressor = side). v1 tickers are parsed by [`wire`] (for `verify-book`) but not
//! used by the engine: they have no id that ties them to a book state.
#![forbid(unsafe_code)]

pub mod book;
pub mod instruments;
pub mod orders;
pub mod protocol;
pub mod wire;

use crate::feed::protocol::VenueProtocol;
use crate::feed::{VenueCounters, VenueHandler};
use crate::instrument::InstrumentDef;
use crate::types::InstrumentId;
use crate::venues::handler::{emit_trades, Ctx, Handler, WireFormat};
use crate::venues::symbols::normalize_asset;
use crate::venues::wire_util::{Buffers, Limits, WireError};
use crate::venues::{Exchange, KeyError, Venue, VenueCtx, VenueOptions};
use book::{BookSync, Integrity};
use std::sync::Arc;
use wire::Kind;

/// The v2 spelling of a pair (`XBT/USD` → `BTC/USD`, `XDG/EUR` → `DOGE/EUR`); other names are
/// returned as they are.
pub fn v2_symbol(sym: &str) -> String {
    match sym.split_once('/') {
        Some((b, q)) => format!("{}/{}", normalize_asset(b), normalize_asset(q)),
        None => sym.to_string(),
    }
}

/// Buffer sizes of a Kraken handler (snapshots: up to the depth, 1000 levels).
pub const LIMITS: Limits = Limits::per_message(1000, 1024);

/// Kraken's wire format (v1 and v2) and handler rules (the [`WireFormat`] of
/// [`KrakenHandler`]); the wire symbol is v1 `XBT/USD` or v2 `BTC/USD`.
pub struct Kraken {
    buf: Buffers,
    /// Depth the v2 subscription asked for (v1 messages name theirs).
    v2_depth: u32,
}

impl Kraken {
    /// v2 books cut to `v2_depth`; buffers for what `limits` allows in one message.
    pub fn new(v2_depth: u32, limits: &Limits) -> Kraken {
        let buf = Buffers::new(limits);
        Kraken { buf, v2_depth }
    }
}

/// Market-data handler for one Kraken venue.
pub type KrakenHandler = Handler<Kraken>;

impl WireFormat for Kraken {
    type Book = BookSync;

    fn new_book(&self) -> BookSync {
        BookSync::new()
    }

    fn on_message(&mut self, raw: &[u8], cx: Ctx<'_, '_, BookSync>) -> Result<(), WireError> {
        let Ctx { st, sink } = cx;
        let m = wire::parse(raw, &st.symbols, &mut self.buf)?;
        let (c, id) = (&*st.counters, st.symbols.get(m.inst).id);
        let ck = Integrity {
            checksum: m.checksum,
            v2: m.v2,
            depth: if m.v2 { self.v2_depth } else { m.depth },
        };
        let (bids, asks) = (&self.buf.bids, &self.buf.asks);
        match m.kind {
            Kind::BookSnapshot => {
                VenueCounters::inc(&c.snapshots);
                st.books[m.inst].on_snapshot(id, bids, asks, ck, sink, c);
            }
            Kind::BookUpdate => {
                VenueCounters::inc(&c.depth_updates);
                st.books[m.inst].on_update(id, bids, asks, ck, sink, c);
            }
            Kind::Trades => emit_trades(sink, id, &self.buf.trades, c),
            Kind::Ticker | Kind::Other => return Err(WireError::Unknown),
        }
        Ok(())
    }
}

/// Depth subscribed when `book_depth` is not set.
pub const DEFAULT_DEPTH: u32 = 100;

/// A configured Kraken venue: WS v2 (default) or v1, one subscribed depth.
#[derive(Clone, Debug)]
pub struct KrakenVenue {
    v2: bool,
    depth: u32,
    options: VenueOptions,
}

/// Resolve a `[venues.<name>]` section with `exchange = "kraken"`: `protocol` = `v2`
/// (default) | `v1`, `book_depth` one of 10, 25, 100, 500, 1000 (default 100), and
/// `book_levels` above it (levels pushed out within one message must survive until the book
/// is cut to depth).
pub fn configure(o: &VenueOptions) -> Result<Arc<dyn Venue>, KeyError> {
    if o.market.is_some() {
        return Err(KeyError::new("market", "not used for kraken (spot only)"));
    }
    let v2 = match o.protocol.as_deref() {
        None | Some("v2") => true,
        Some("v1") => false,
        Some(p) => {
            return Err(KeyError::new(
                "protocol",
                format!("kraken speaks \"v2\" (default) or \"v1\", not {p:?}"),
            ))
        }
    };
    let depth = o.book_depth.unwrap_or(DEFAULT_DEPTH);
    if !protocol::DEPTHS.contains(&depth) {
        return Err(KeyError::new(
            "book_depth",
            format!("kraken depths are 10, 25, 100, 500, 1000, not {depth}"),
        ));
    }
    if o.book_levels <= depth as usize {
        return Err(KeyError::new(
            "book_levels",
            format!(
                "must exceed book_depth ({depth}): levels pushed out within one message must \
                 survive until the book is cut to depth"
            ),
        ));
    }
    Ok(Arc::new(KrakenVenue {
        v2,
        depth,
        options: o.clone(),
    }))
}

impl KrakenVenue {
    /// Instrument symbols are AssetPairs `wsname`s (`XBT/USD`); v2 spells them `BTC/USD`.
    fn wire_symbols(&self, ctx: &VenueCtx<'_>) -> Vec<(InstrumentId, String)> {
        let mut s = ctx.symbols();
        if self.v2 {
            for (_, sym) in &mut s {
                *sym = v2_symbol(sym);
            }
        }
        s
    }
}

impl Venue for KrakenVenue {
    fn sign_request(
        &self,
        creds: &crate::venues::Credentials,
        r: &crate::venues::SignRequest,
    ) -> Result<Vec<u8>, String> {
        orders::sign_request(creds, r)
    }

    fn exchange(&self) -> Exchange {
        Exchange::Kraken
    }

    fn parse_instruments(
        &self,
        venue_name: &str,
        text: &str,
    ) -> Result<Vec<InstrumentDef>, String> {
        instruments::parse_asset_pairs(text, venue_name)
    }

    fn handler(
        &self,
        ctx: &VenueCtx<'_>,
        counters: Arc<VenueCounters>,
    ) -> Result<Box<dyn VenueHandler>, String> {
        let mut refs = ctx.instrument_refs();
        if self.v2 {
            for r in &mut refs {
                r.symbol = v2_symbol(&r.symbol);
            }
        }
        Ok(Box::new(KrakenHandler::new(
            ctx.id,
            refs,
            Kraken::new(
                self.depth,
                &Limits {
                    max_levels_per_msg: self.options.book_levels.max(1000),
                    ..LIMITS
                },
            ),
            counters,
        )))
    }

    fn protocol(&self, ctx: &VenueCtx<'_>) -> Result<Box<dyn VenueProtocol>, String> {
        let symbols = self.wire_symbols(ctx);
        let pairs = symbols.iter().map(|(_, s)| s.clone()).collect();
        Ok(crate::venues::adapt(
            protocol::KrakenProtocol::new(pairs, self.v2, self.depth),
            ctx,
            symbols,
            |p, s, _| p.resubscribe_frames(s),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::ChecksumKind;
    use crate::book::Market;
    use crate::event::MdKind;
    use crate::instrument::tests::def;
    use crate::instrument::InstrumentKind;
    use crate::types::InstrumentId;
    use crate::types::Side;
    use crate::types::VenueId;
    use crate::venues::testing::{assert_parse_errors, feed, iref};
    use crate::venues::wire_util::Scale;

    fn handler(sym: &str, scale: Scale, depth: u32) -> KrakenHandler {
        KrakenHandler::new(
            VenueId(0),
            vec![iref(0, sym, scale.price_dec, scale.qty_dec)],
            Kraken::new(depth, &LIMITS),
            Arc::new(VenueCounters::default()),
        )
    }

    const V1_SCALE: Scale = Scale {
        price_dec: 8,
        qty_dec: 8,
    };

    // Real v1 messages (../shared/data/recorded/KRAKEN.ws.50.0, 48.0, 49.0).
    const V1_SNAP: &str = r#"[1920,{"as":[["0.043150","4506.95535554","1618678133.489870"],["0.043210","100.00000000","1618678133.1"]],"bs":[["0.043110","20270.49268141","1618678133.384500"],["0.042670","860527.10700630","1618678133.611155"]]},"book-1000","SC/EUR"]"#;
    const V1_UPD: &str = r#"[1920,{"b":[["0.043110","0.00000000","1618678133.573233"]],"c":"753005753"},"book-1000","SC/EUR"]"#;
    const V1_UPD5: &str = r#"[1920,{"a":[["0.043150","0.00000000","1618678145.766178"]]},{"b":[["0.042990","1.20000000","1618678145.766206"]],"c":"2262426390"},"book-1000","SC/EUR"]"#;
    const V1_TRADE: &str =
        r#"[1921,[["0.042990","15979.71727919","1618678145.920708","s","l",""]],"trade","SC/EUR"]"#;
    const V1_TICKER: &str = r#"[1924,{"a":["0.043220",42073,"42073.68230962"],"b":["0.042900",19348,"19348.36906064"],"c":["0.042900","0.00001133"],"v":["888357151.75563637","1127313210.00855204"],"p":["0.045117","0.042671"],"t":[47655,57971],"l":["0.035760","0.031280"],"h":["0.053510","0.053510"],"o":["0.035760","0.032260"]},"ticker","SC/EUR"]"#;

    #[test]
    fn v1_real_messages_table() {
        let mut h = handler("SC/EUR", V1_SCALE, 0);
        // update before the snapshot: dropped
        assert_eq!(feed(&mut h, V1_UPD)[0].kind, MdKind::Noop);
        let ev = feed(&mut h, V1_SNAP);
        assert_eq!(ev.len(), 6);
        assert_eq!(ev[0].kind, MdKind::BookClear);
        // asks first, in message order, digits as sent
        assert_eq!(
            (ev[1].side, ev[1].p0, ev[1].px_frac),
            (Side::Sell, 4_315_000, 6)
        );
        let commit = ev[5];
        assert_eq!(commit.kind, MdKind::BookCommit);
        assert_eq!(
            commit.p1,
            ChecksumKind::None as i64,
            "v1 snapshots carry no checksum"
        );
        assert_eq!(commit.q0, 1000, "cut to the channel's depth");
        let ev = feed(&mut h, V1_UPD);
        assert_eq!((ev[0].side, ev[0].q0), (Side::Buy, 0));
        assert_eq!(
            (ev[1].p1, ev[1].p0),
            (ChecksumKind::Kraken10 as i64, 753005753)
        );
        let ev = feed(&mut h, V1_UPD5);
        assert_eq!(ev.len(), 3);
        assert_eq!((ev[0].side, ev[1].side), (Side::Sell, Side::Buy));
        assert_eq!(ev[2].p0, 2262426390);
        let ev = feed(&mut h, V1_TRADE.replace("1921", "1920").as_str());
        assert_eq!(
            (ev[0].kind, ev[0].p0, ev[0].q0, ev[0].side),
            (MdKind::Trade, 4_299_000, 1_597_971_727_919, Side::Sell)
        );
        assert_eq!(ev[0].venue_seq, 1_618_678_145_920_708);
        for m in [
            V1_TICKER,
            r#"{"event":"heartbeat"}"#,
            r#"{"connectionID":18239578009413566319,"event":"systemStatus","status":"online","version":"1.8.3"}"#,
            r#"{"channelID":1665,"channelName":"trade","event":"subscriptionStatus","pair":"WAVES/EUR","status":"subscribed","subscription":{"name":"trade"}}"#,
            &V1_TRADE.replace("SC/EUR", "XMR/USD"),
        ] {
            assert_eq!(feed(&mut h, m)[0].kind, MdKind::Noop, "{m}");
        }
        assert_eq!(VenueCounters::get(&h.counters().unknown_messages), 5);
        assert_eq!(VenueCounters::get(&h.counters().parse_errors), 0);
        // the ticker itself parses (verify-book uses it)
        let mut b = Buffers::with_capacity(10, 10);
        let m = wire::parse(V1_TICKER.as_bytes(), h.symbols(), &mut b).unwrap();
        assert_eq!(m.kind, Kind::Ticker);
        assert_eq!(m.ask, Some((4_322_000, 4_207_368_230_962)));
        assert_eq!(m.bid.unwrap().0, 4_290_000);
    }

    #[test]
    fn malformed_variants_are_counted_not_panics() {
        let mut h = handler("SC/EUR", V1_SCALE, 0);
        feed(&mut h, V1_SNAP);
        let cases: Vec<String> = vec![
            V1_UPD[..V1_UPD.len() / 2].to_string(),             // truncated
            V1_UPD.replace(r#","c":"753005753""#, ""),          // update without checksum
            V1_UPD.replace("753005753", "x"),                   // bad checksum
            V1_UPD.replace("0.043110", "0.04x110"),             // non-numeric price
            V1_UPD.replace("0.043110", "-0.043110"),            // negative price
            V1_UPD.replace("0.00000000", "-1.00000000"),        // negative volume
            V1_UPD.replace("0.043110", "0.0431101234567"),      // finer than the scale
            V1_UPD.replace(r#"["0.043110","0.00000000","1618678133.573233"]"#, r#"["0.043110"]"#), // short level
            V1_UPD.replace(r#"{"b":[["0.043110","0.00000000","1618678133.573233"]],"c":"753005753"}"#, r#"{"c":"1"}"#), // no levels
            V1_UPD.replace(r#","book-1000""#, ""),              // no channel name
            V1_UPD.replace("book-1000", "book-x"),              // bad depth
            V1_TRADE.replace("1921", "1920").replace(r#""s","l""#, r#""q","l""#), // bad side
            V1_TRADE.replace("1921", "1920").replace(r#","1618678145.920708","s","l","""#, ""), // short trade
            V1_TICKER.replace("1924", "1920").replace(r#""a":["0.043220",42073,"42073.68230962"],"#, ""), // ticker without ask
            r#"[1920,"book-1000","SC/EUR"]"#.into(),            // no payload
            r#"{"channel":"book","type":"update","data":[{"symbol":"SC/EUR","bids":[{"price":"x","qty":1}],"asks":[],"checksum":1}]}"#.into(),
            r#"{"channel":"book","type":"update","data":[{"symbol":"SC/EUR","bids":[{"price":0.1}],"asks":[],"checksum":1}]}"#.into(),
            r#"{"channel":"book","type":"update","data":[{"symbol":"SC/EUR","bids":[],"asks":[]}]}"#.into(),
            r#"{"channel":"book","data":[]}"#.into(),
            String::new(),
            "nonsense".into(),
            "[]".into(),
        ];
        assert_parse_errors(&mut h, &cases);
    }

    /// The Kraken v2 doc example (docs.kraken.com websocket-v2/book, MATIC/USD, price
    /// precision 4, qty precision 8): snapshot checksum 2439117997, then an update of the 10th
    /// bid to 1098.3947558 → 2114181697. Through the handler (numbers from the raw JSON tokens)
    /// and the engine's book.
    #[test]
    fn v2_doc_messages_verify_their_checksums_in_the_engine_book() {
        let scale = Scale {
            price_dec: 4,
            qty_dec: 8,
        };
        let mut h = handler("MATIC/USD", scale, 10);
        let mut d = def("kraken", "MATIC/USD", InstrumentKind::Spot);
        d.tick_size = "0.0001".into();
        d.lot_size = "0.00000001".into();
        let spec = d.to_spec(InstrumentId(0), VenueId(0)).unwrap();
        assert_eq!((spec.price_dec, spec.qty_dec), (4, 8));
        let mut m = Market::from_specs(vec![spec], 1, &[100]);
        let snap = r#"{"channel":"book","type":"snapshot","data":[{"symbol":"MATIC/USD","bids":[{"price":0.5666,"qty":4831.75496356},{"price":0.5665,"qty":6658.22734739},{"price":0.5664,"qty":18724.91513344},{"price":0.5663,"qty":11563.92544914},{"price":0.5662,"qty":14006.65365711},{"price":0.5661,"qty":17454.85679807},{"price":0.566,"qty":18097.1547},{"price":0.5659,"qty":33644.89175666},{"price":0.5658,"qty":148.3464},{"price":0.5657,"qty":606.70854372}],"asks":[{"price":0.5668,"qty":4410.79769741},{"price":0.5669,"qty":4655.40412487},{"price":0.567,"qty":49844.89424998},{"price":0.5671,"qty":24306.41678},{"price":0.5672,"qty":29783.25223475},{"price":0.5673,"qty":57234.71239278},{"price":0.5674,"qty":45065.04744},{"price":0.5675,"qty":5912.76380354},{"price":0.5676,"qty":42514.92434778},{"price":0.5677,"qty":36304.0847022}],"checksum":2439117997}]}"#;
        let upd = r#"{"channel":"book","type":"update","data":[{"symbol":"MATIC/USD","bids":[{"price":0.5657,"qty":1098.3947558}],"asks":[],"checksum":2114181697,"timestamp":"2023-10-06T17:35:55.440295Z"}]}"#;
        for (msg, ok) in [(snap, 1), (upd, 2)] {
            for ev in feed(&mut h, msg) {
                m.apply(&ev, &mut |_| {});
            }
            assert_eq!(m.health[0].checksums_ok, ok);
            assert_eq!(m.health[0].checksum_mismatches, 0);
        }
        assert!(m.books[0].valid);
        // the same update with one digit changed must fail
        let bad = upd.replace("1098.3947558", "1098.3947559");
        for ev in feed(&mut h, &bad) {
            m.apply(&ev, &mut |_| {});
        }
        assert_eq!(m.health[0].checksum_mismatches, 1);
        assert!(!m.books[0].valid);
        // trades and control messages
        let ev = feed(
            &mut h,
            r#"{"channel":"trade","type":"update","data":[{"symbol":"MATIC/USD","side":"buy","price":0.5147,"qty":6423.46326,"ord_type":"limit","trade_id":4665846,"timestamp":"2023-09-25T07:48:36.925533Z"}]}"#,
        );
        assert_eq!(
            (ev[0].kind, ev[0].p0, ev[0].q0, ev[0].side, ev[0].venue_seq),
            (MdKind::Trade, 5147, 642_346_326_000, Side::Buy, 4665846)
        );
        for ctl in [
            r#"{"channel":"heartbeat"}"#,
            r#"{"method":"pong","req_id":101}"#,
            r#"{"channel":"status","type":"update","data":[{"system":"online"}]}"#,
            r#"{"method":"subscribe","result":{"channel":"book","depth":10,"snapshot":true,"symbol":"MATIC/USD"},"success":true}"#,
            r#"{"channel":"ohlc","type":"update","data":[]}"#,
        ] {
            assert_eq!(feed(&mut h, ctl)[0].kind, MdKind::Noop);
        }
        assert_eq!(VenueCounters::get(&h.counters().parse_errors), 0);
    }

    /// Kraken's depth rule through the handler and the engine's book: subscribed at depth 3,
    /// an insert pushes the third bid out; when the best bid is then deleted the book has two
    /// bids, not the one that fell out of scope (Kraken sends no delete for it and would
    /// republish it if it came back into scope).
    #[test]
    fn v2_books_are_cut_to_depth_in_the_engine_book() {
        let scale = Scale {
            price_dec: 1,
            qty_dec: 8,
        };
        let mut h = handler("BTC/USD", scale, 3);
        let mut d = def("kraken", "BTC/USD", InstrumentKind::Spot);
        d.tick_size = "0.1".into();
        d.lot_size = "0.00000001".into();
        let spec = d.to_spec(InstrumentId(0), VenueId(0)).unwrap();
        let mut m = Market::from_specs(vec![spec], 1, &[10]);
        let msg = |ty: &str, bids: &str| {
            format!(
                r#"{{"channel":"book","type":"{ty}","data":[{{"symbol":"BTC/USD","bids":[{bids}],"asks":[{{"price":20.0,"qty":1}}],"checksum":0}}]}}"#
            )
        };
        let bid = |p: f64| format!(r#"{{"price":{p:.1},"qty":1}}"#);
        let apply = |h: &mut KrakenHandler, m: &mut Market, s: &str| {
            for ev in feed(h, s) {
                m.apply(&ev, &mut |_| {});
            }
        };
        let snap = msg("snapshot", &[bid(10.0), bid(9.0), bid(8.0)].join(","));
        apply(&mut h, &mut m, &snap);
        assert_eq!(m.books[0].bids.len(), 3);
        apply(&mut h, &mut m, &msg("update", &bid(11.0)));
        let px: Vec<i64> = m.books[0].bids.iter().map(|l| l.px).collect();
        assert_eq!(
            px,
            vec![110, 100, 90],
            "8.0 fell out of the subscribed depth"
        );
        apply(&mut h, &mut m, &msg("update", r#"{"price":11.0,"qty":0}"#));
        let px: Vec<i64> = m.books[0].bids.iter().map(|l| l.px).collect();
        assert_eq!(px, vec![100, 90]);
    }

    #[test]
    fn v2_truncates_to_the_subscribed_depth() {
        let scale = Scale {
            price_dec: 1,
            qty_dec: 8,
        };
        let mut h = handler("BTC/USD", scale, 10);
        let ev = feed(
            &mut h,
            r#"{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[{"price":1.0,"qty":1}],"asks":[{"price":2.0,"qty":1}],"checksum":0}]}"#,
        );
        assert_eq!(ev.last().unwrap().q0, 10);
        assert_eq!(v2_symbol("XBT/USD"), "BTC/USD");
        assert_eq!(v2_symbol("XDG/EUR"), "DOGE/EUR");
        assert_eq!(v2_symbol("ETH/USD"), "ETH/USD");
    }
}
