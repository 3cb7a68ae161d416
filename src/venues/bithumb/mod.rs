//! Bithumb (KRW and BTC markets): the current Upbit-compatible public WebSocket (`protocol =
//! "v1"`, the default: `KRW-BTC` codes, `orderbook`/`trade`, [`wire::v1`], parsed by
//! [`crate::venues::upbit::wire`]) and the legacy feed (`protocol = "legacy"`: `BTC_KRW`
//! symbols, `orderbooksnapshot`/`orderbookdepth`/`transaction`, [`wire::legacy`]).
//!
//! Files: [`wire`] (one module per protocol: formats, samples, doc links), [`book`] (which book
//! rule applies),
//! [`instruments`] (specs from `GET /public/ticker/ALL_{KRW,BTC}`), [`protocol`]
//! (connection, subscriptions, keep-alive). No `orders.rs` yet.
//!
//! Books are snapshot-only ([`crate::venues::upbit::book::SnapshotBook`]): every
//! `orderbook` / `orderbooksnapshot` message replaces the book; legacy `orderbookdepth`
//! changes are applied on top of the last snapshot (they carry no sequence, so a lost change
//! is not detectable until the next snapshot replaces the book).
//!
//! A configured symbol may be written either way (`BTC_KRW` or `KRW-BTC`); both spellings
//! are accepted on the wire.
#![forbid(unsafe_code)]

pub mod book;
pub mod instruments;
pub mod orders;
pub mod protocol;
pub mod wire;

use crate::feed::protocol::VenueProtocol;
use crate::feed::{VenueCounters, VenueHandler};
use crate::instrument::InstrumentDef;
use crate::types::{Price, Qty, Side};
use crate::venues::handler::{Ctx, Handler, WireFormat};
use crate::venues::symbols::{InstrumentRef, SymbolTable};
use crate::venues::upbit::{self, book::SnapshotBook};
use crate::venues::wire_util::{Buffers, WireError};
use crate::venues::{Exchange, KeyError, Venue, VenueCtx, VenueOptions};
use std::sync::Arc;

/// Which Bithumb WebSocket generation a venue speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feed {
    /// `wss://ws-api.bithumb.com/websocket/v1`, Upbit-compatible (default).
    V1,
    /// `wss://pubwss.bithumb.com/pub/ws` (legacy; the recording's).
    Legacy,
}

/// The feed of a venue's options: `protocol = "v1"` (default) or `"legacy"`.
pub fn feed_of(o: &VenueOptions) -> Result<Feed, KeyError> {
    match o.protocol.as_deref() {
        None | Some("v1") => Ok(Feed::V1),
        Some("legacy") => Ok(Feed::Legacy),
        Some(p) => Err(KeyError::new(
            "protocol",
            format!("bithumb speaks \"v1\" (default) or \"legacy\", not {p:?}"),
        )),
    }
}

/// A configured Bithumb venue on one feed generation.
#[derive(Clone, Debug)]
pub struct BithumbVenue {
    /// Which WebSocket generation.
    pub feed: Feed,
}

/// Resolve a `[venues.<name>]` section with `exchange = "bithumb"`: `protocol` picks the feed
/// generation (`v1`, default, or `legacy`); `market` and `book_depth` are not used.
pub fn configure(o: &VenueOptions) -> Result<Arc<dyn Venue>, KeyError> {
    if let Some(m) = &o.market {
        return Err(KeyError::new(
            "market",
            format!(
                "bithumb has one market; remove `market = {m:?}` (the feed generation is \
                 `protocol = \"v1\" | \"legacy\"`)"
            ),
        ));
    }
    crate::venues::no_depth(Exchange::Bithumb, o, "full orderbook snapshots")?;
    Ok(Arc::new(BithumbVenue { feed: feed_of(o)? }))
}

impl Venue for BithumbVenue {
    fn sign_request(
        &self,
        creds: &crate::venues::Credentials,
        r: &crate::venues::SignRequest,
    ) -> Result<Vec<u8>, String> {
        orders::sign_request(creds, r)
    }

    fn exchange(&self) -> Exchange {
        Exchange::Bithumb
    }

    fn parse_instruments(
        &self,
        venue_name: &str,
        text: &str,
    ) -> Result<Vec<InstrumentDef>, String> {
        instruments::parse_tickers(text, venue_name)
    }

    fn handler(
        &self,
        ctx: &VenueCtx<'_>,
        counters: Arc<VenueCounters>,
    ) -> Result<Box<dyn VenueHandler>, String> {
        Ok(Box::new(BithumbHandler::new(
            ctx.id,
            ctx.instrument_refs(),
            Bithumb::new(self.feed),
            counters,
        )))
    }

    fn protocol(&self, ctx: &VenueCtx<'_>) -> Result<Box<dyn VenueProtocol>, String> {
        let symbols = ctx.symbols();
        let names: Vec<String> = symbols.iter().map(|(_, s)| s.clone()).collect();
        Ok(crate::venues::adapt(
            protocol::BithumbProtocol::new(self.feed, ctx.name(), &names),
            ctx,
            symbols,
            |_, _, _| Vec::new(),
        ))
    }
}

/// The other spelling of a Bithumb symbol: `BTC_KRW` ⇄ `KRW-BTC`.
pub fn alias(symbol: &str) -> String {
    if let Some((b, q)) = symbol.split_once('_') {
        format!("{q}-{b}")
    } else if let Some((q, b)) = symbol.split_once('-') {
        format!("{b}_{q}")
    } else {
        String::new()
    }
}

/// Trades and level changes one message may hold.
pub const MAX_ITEMS: usize = 256;

/// Bithumb's wire formats (both generations) and handler rules (the [`WireFormat`] of
/// [`BithumbHandler`]).
pub struct Bithumb {
    feed: Feed,
    /// Levels of the last orderbook (v1) or snapshot (legacy) message.
    book: Buffers,
    items: Vec<wire::legacy::Item>,
    scratch: Vec<(Side, crate::book::Level)>,
}

impl Bithumb {
    /// The wire format of `feed`; symbols in either spelling, any case.
    pub fn new(feed: Feed) -> Bithumb {
        Bithumb {
            feed,
            book: Buffers::with_capacity(upbit::MAX_UNITS, 0),
            items: Vec::with_capacity(MAX_ITEMS),
            scratch: Vec::with_capacity(MAX_ITEMS),
        }
    }

    /// The feed generation.
    pub fn feed(&self) -> Feed {
        self.feed
    }

    fn on_legacy(&mut self, raw: &[u8], cx: Ctx<'_, '_, SnapshotBook>) -> Result<(), WireError> {
        let Ctx { st, sink } = cx;
        let m = wire::legacy::parse(raw, &st.symbols, &mut self.book, &mut self.items)?;
        let c = &*st.counters;
        match m.kind {
            wire::legacy::Kind::Snapshot => {
                VenueCounters::inc(&c.depth_updates);
                VenueCounters::inc(&c.snapshots);
                let (bids, asks) = (&self.book.bids, &self.book.asks);
                let id = st.symbols.get(m.inst).id;
                st.books[m.inst].replace(id, m.t_us, bids, asks, sink, c);
            }
            wire::legacy::Kind::Depth => {
                VenueCounters::inc(&c.depth_updates);
                book::apply_depth(st, &self.items, m.t_us, &mut self.scratch, sink);
            }
            wire::legacy::Kind::Transaction => {
                for it in &self.items {
                    VenueCounters::inc(&c.trades);
                    let (px, qty) = (Price(it.lvl.px), Qty(it.lvl.qty));
                    sink.trade(st.symbols.get(it.inst).id, it.t_us, px, qty, it.side);
                }
            }
            wire::legacy::Kind::Ticker
            | wire::legacy::Kind::Status
            | wire::legacy::Kind::Error
            | wire::legacy::Kind::Other => return Err(WireError::Unknown),
        }
        Ok(())
    }
}

/// Market-data handler for one Bithumb venue.
pub type BithumbHandler = Handler<Bithumb>;

impl WireFormat for Bithumb {
    type Book = SnapshotBook;

    fn symbols(&self, refs: Vec<InstrumentRef>) -> SymbolTable {
        SymbolTable::new(refs)
            .case_insensitive()
            .with_aliases(alias)
    }

    fn new_book(&self) -> SnapshotBook {
        SnapshotBook::default()
    }

    fn on_message(&mut self, raw: &[u8], cx: Ctx<'_, '_, SnapshotBook>) -> Result<(), WireError> {
        match self.feed {
            Feed::Legacy => self.on_legacy(raw, cx),
            Feed::V1 => {
                let parsed = wire::v1::parse(raw, &cx.st.symbols, &mut self.book);
                upbit::apply(parsed, &self.book, cx.st, cx.sink)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::MdKind;
    use crate::types::InstrumentId;
    use crate::types::VenueId;
    use crate::venues::testing::{assert_parse_errors, feed, iref};

    fn handler(feed: Feed) -> BithumbHandler {
        BithumbHandler::new(
            VenueId(1),
            vec![iref(0, "GOM2_KRW", 8, 8), iref(1, "KRW-BTC", 8, 8)],
            Bithumb::new(feed),
            Arc::new(VenueCounters::default()),
        )
    }

    #[test]
    fn aliases() {
        assert_eq!(alias("BTC_KRW"), "KRW-BTC");
        assert_eq!(alias("KRW-BTC"), "BTC_KRW");
        assert_eq!(alias("BTCKRW"), "");
    }

    // the real recording's last message: four trades in one frame
    const TX: &str = r#"{"type":"transaction","content":{"list":[{"buySellGb":"2","contPrice":"7.524","contQty":"76999.569","contAmt":"579344.757","contDtm":"2021-06-02 08:43:42.240601","updn":"up","symbol":"GOM2_KRW"},{"buySellGb":"2","contPrice":"7.525","contQty":"537","contAmt":"4040.925","contDtm":"2021-06-02 08:43:42.241208","updn":"up","symbol":"GOM2_KRW"},{"buySellGb":"2","contPrice":"7.525","contQty":"524","contAmt":"3943.100","contDtm":"2021-06-02 08:43:42.241810","updn":"dn","symbol":"GOM2_KRW"},{"buySellGb":"1","contPrice":"7.525","contQty":"556","contAmt":"4183.900","contDtm":"2021-06-02 08:43:43.188333","updn":"dn","symbol":"GOM2_KRW"}]}}"#;

    #[test]
    fn legacy_transactions_become_trades() {
        let mut h = handler(Feed::Legacy);
        let ev = feed(&mut h, TX);
        assert_eq!(ev.len(), 4);
        assert!(ev
            .iter()
            .all(|e| e.kind == MdKind::Trade && e.instrument == InstrumentId(0)));
        assert_eq!(
            ev.iter().map(|e| e.side).collect::<Vec<_>>(),
            vec![Side::Buy, Side::Buy, Side::Buy, Side::Sell]
        );
        assert_eq!((ev[1].p0, ev[1].q0), (752_500_000, 53_700_000_000));
        assert_eq!(ev[3].venue_seq, 1_622_591_023_188_333);
        assert!(ev[3].is_last() && !ev[2].is_last());
        assert_eq!(
            feed(
                &mut h,
                r#"{"status":"0000","resmsg":"Filter Registered Successfully"}"#
            )[0]
            .kind,
            MdKind::Noop
        );
        assert_eq!(VenueCounters::get(&h.counters().trades), 4);
        assert_eq!(VenueCounters::get(&h.counters().unknown_messages), 1);
    }

    #[test]
    fn legacy_snapshot_then_depth_changes() {
        let mut h = handler(Feed::Legacy);
        // depth before any snapshot: nothing to apply it to
        let depth = r#"{"type":"orderbookdepth","content":{"list":[{"symbol":"BTC_KRW","orderType":"bid","price":"10572000","quantity":"0","total":"0"},{"symbol":"BTC_KRW","orderType":"ask","price":"10593000","quantity":"2","total":"1"}],"datetime":"1580268255864326"}}"#;
        assert_eq!(feed(&mut h, depth)[0].kind, MdKind::Noop);
        let snap = r#"{"type":"orderbooksnapshot","content":{"symbol":"BTC_KRW","datetime":"1580268255864325","asks":[["10593000","1.11223318"],["10596000","0.5495"]],"bids":[["10572000","2.3324"],["10571000","1.469"]]}}"#;
        let ev = feed(&mut h, snap);
        assert_eq!(ev.iter().filter(|e| e.kind == MdKind::BookLevel).count(), 4);
        assert_eq!(ev.last().unwrap().kind, MdKind::BookCommit);
        assert_eq!(
            ev.last().unwrap().instrument,
            InstrumentId(1),
            "KRW-BTC configured, BTC_KRW on the wire"
        );
        let ev = feed(&mut h, depth);
        let k: Vec<MdKind> = ev.iter().map(|e| e.kind).collect();
        assert_eq!(
            k,
            vec![MdKind::BookLevel, MdKind::BookLevel, MdKind::BookCommit]
        );
        assert_eq!(
            (ev[0].p0, ev[0].q0, ev[0].side),
            (1_057_200_000_000_000, 0, Side::Buy)
        );
        assert_eq!(ev[2].venue_seq, 1580268255864326);
    }

    #[test]
    fn v1_feed_is_upbit_format() {
        let mut h = handler(Feed::V1);
        let ev = feed(
            &mut h,
            r#"{"type":"orderbook","code":"KRW-BTC","timestamp":1746601573804,"total_ask_size":4.79,"total_bid_size":2.65,"orderbook_units":[{"ask_price":137002000,"bid_price":137001000,"ask_size":0.106,"bid_size":0.037}],"stream_type":"REALTIME","level":0}"#,
        );
        assert_eq!(ev.iter().filter(|e| e.kind == MdKind::BookLevel).count(), 2);
        assert_eq!(ev.last().unwrap().venue_seq, 1746601573804);
        // a legacy message on the v1 feed is well-formed JSON of no known type: unused
        feed(&mut h, TX);
        assert_eq!(VenueCounters::get(&h.counters().unknown_messages), 1);
        assert_eq!(VenueCounters::get(&h.counters().trades), 0);
    }

    #[test]
    fn malformed_legacy_variants_are_counted_never_panic() {
        let mut h = handler(Feed::Legacy);
        let cases = [
            TX[..TX.len() - 3].to_string(),
            TX.replace("\"contQty\":\"537\",", ""),
            TX.replace("7.525", "seven"),
            TX.replace("\"list\":[", "\"list\":{").replace("]}}", "}}}"),
            r#"{"type":"orderbooksnapshot","content":{"symbol":"BTC_KRW","datetime":"x","asks":[],"bids":[]}}"#.into(),
            r#"{"type":"orderbookdepth","content":{"list":[]}}"#.into(),
            "\u{0}".into(),
        ];
        assert_parse_errors(&mut h, &cases);
    }
}
