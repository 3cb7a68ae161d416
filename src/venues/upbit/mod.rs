//! Upbit (KRW, BTC and USDT markets): quotation WebSocket `orderbook` (full top-N books),
//! `trade` and `ticker`, in the DEFAULT and SIMPLE field formats.
//!
//! Files (the venue-folder layout):
//! - [`wire`]: message formats with real samples and doc links; exact JSON-number parsing.
//! - [`book`]: the snapshot-only book rule (replace on every message, ordered by timestamp).
//! - [`instruments`]: specs from `GET /v1/market/all` (the `UPBIT.0` recording).
//! - [`protocol`]: connection, subscription request, keep-alive ([`crate::feed::protocol`]).
//!
//! No `orders.rs` yet: order entry (JWT, `POST /v1/orders`) is not part of this adapter.
//!
//! Symbols are Upbit market codes, quote first: `KRW-BTC`, `BTC-XTZ`, `USDT-BTC`.
#![forbid(unsafe_code)]

pub mod book;
pub mod instruments;
pub mod orders;
pub mod protocol;
pub mod wire;

use crate::feed::protocol::VenueProtocol;
use crate::feed::{EventSink, VenueCounters, VenueHandler};
use crate::instrument::InstrumentDef;
use crate::types::{Price, Qty, Side};
use crate::venues::handler::{Ctx, Handler, VenueState, WireFormat};
use crate::venues::symbols::{InstrumentRef, SymbolTable};
use crate::venues::wire_util::{Buffers, WireError};
use crate::venues::{Exchange, KeyError, Venue, VenueCtx, VenueOptions};
use book::SnapshotBook;
use std::sync::Arc;
use wire::Kind;

/// Levels per side a message may hold (Upbit sends at most 30 units).
pub const MAX_UNITS: usize = 64;

/// Apply one Upbit-format message (already parsed into `msg`/`levels`) to the books of `st`:
/// shared by the Upbit handler and Bithumb's Upbit-compatible feed.
pub fn apply(
    parsed: Result<(wire::Msg<'_>, usize), WireError>,
    levels: &Buffers,
    st: &mut VenueState<SnapshotBook>,
    sink: &mut EventSink<'_>,
) -> Result<(), WireError> {
    let (m, k) = parsed?;
    let c = &*st.counters;
    match m.kind {
        Kind::Orderbook => {
            VenueCounters::inc(&c.depth_updates);
            VenueCounters::inc(&c.snapshots);
            let id = st.symbols.get(k).id;
            st.books[k].replace(id, m.ts_ms, &levels.bids, &levels.asks, sink, c);
        }
        Kind::Trade => {
            VenueCounters::inc(&c.trades);
            let side = if m.buy_aggressor {
                Side::Buy
            } else {
                Side::Sell
            };
            let id = st.symbols.get(k).id;
            sink.trade(id, m.trade_id, Price(m.px), Qty(m.qty), side);
        }
        // ticker: no best bid/ask in it; status: keep-alive answer; error: the venue
        // refused a request (visible in the counters and the log of the live source)
        Kind::Ticker | Kind::Status | Kind::Error | Kind::Other => return Err(WireError::Unknown),
    }
    Ok(())
}

/// Upbit's wire format and handler rules (the [`WireFormat`] of [`UpbitHandler`]); symbols are
/// market codes (`KRW-BTC`), in any case.
pub struct Upbit {
    levels: Buffers,
}

impl Upbit {
    /// Room for [`MAX_UNITS`] levels per side.
    pub fn new() -> Upbit {
        Upbit {
            levels: Buffers::with_capacity(MAX_UNITS, 0),
        }
    }
}

impl Default for Upbit {
    fn default() -> Upbit {
        Upbit::new()
    }
}

/// Market-data handler for one Upbit venue.
pub type UpbitHandler = Handler<Upbit>;

impl WireFormat for Upbit {
    type Book = SnapshotBook;

    fn symbols(&self, refs: Vec<InstrumentRef>) -> SymbolTable {
        SymbolTable::new(refs).case_insensitive()
    }

    fn new_book(&self) -> SnapshotBook {
        SnapshotBook::default()
    }

    fn on_message(&mut self, raw: &[u8], cx: Ctx<'_, '_, SnapshotBook>) -> Result<(), WireError> {
        let Ctx { st, sink } = cx;
        let parsed = wire::parse(raw, &st.symbols, &mut self.levels);
        apply(parsed, &self.levels, st, sink)
    }
}

/// A configured Upbit (KRW, BTC and USDT markets; full orderbook snapshots) venue (one market, one protocol).
#[derive(Clone, Debug)]
pub struct UpbitVenue;

/// Resolve a `[venues.<name>]` section with `exchange = "upbit"`: `market`, `protocol` and
/// `book_depth` are not used.
pub fn configure(o: &VenueOptions) -> Result<Arc<dyn Venue>, KeyError> {
    crate::venues::no_market(Exchange::Upbit, o)?;
    crate::venues::no_protocol(Exchange::Upbit, o)?;
    crate::venues::no_depth(Exchange::Upbit, o, "full top-15 snapshots")?;
    Ok(Arc::new(UpbitVenue))
}

impl Venue for UpbitVenue {
    fn sign_request(
        &self,
        creds: &crate::venues::Credentials,
        r: &crate::venues::SignRequest,
    ) -> Result<Vec<u8>, String> {
        orders::sign_request(creds, r)
    }

    fn exchange(&self) -> Exchange {
        Exchange::Upbit
    }

    fn parse_instruments(
        &self,
        venue_name: &str,
        text: &str,
    ) -> Result<Vec<InstrumentDef>, String> {
        instruments::parse_market_all(text, venue_name)
    }

    fn handler(
        &self,
        ctx: &VenueCtx<'_>,
        counters: Arc<VenueCounters>,
    ) -> Result<Box<dyn VenueHandler>, String> {
        Ok(Box::new(UpbitHandler::new(
            ctx.id,
            ctx.instrument_refs(),
            Upbit::new(),
            counters,
        )))
    }

    fn protocol(&self, ctx: &VenueCtx<'_>) -> Result<Box<dyn VenueProtocol>, String> {
        let symbols = ctx.symbols();
        let names = symbols.iter().map(|(_, s)| s.clone()).collect();
        Ok(crate::venues::adapt(
            protocol::QuotationProtocol::upbit(ctx.name(), names),
            ctx,
            symbols,
            |_, _, _| Vec::new(),
        ))
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::MdKind;
    use crate::types::InstrumentId;
    use crate::types::VenueId;
    use crate::venues::testing::{assert_parse_errors, disconnect, feed, iref};

    pub(crate) fn handler() -> UpbitHandler {
        UpbitHandler::new(
            VenueId(2),
            vec![iref(4, "KRW-LAMB", 8, 8), iref(5, "BTC-ITAM", 8, 8)],
            Upbit::new(),
            Arc::new(VenueCounters::default()),
        )
    }

    // real captured messages (UPBIT.ws.62.0, 2021-04-17), byte literals decoded
    const BOOK: &[u8] = br#"{"ty":"orderbook","cd":"BTC-ITAM","tms":1618678269270,"tas":2756830.97364629,"tbs":5533724.77083855,"obu":[{"ap":0.00000115,"bp":0.00000113,"as":355682.34086512,"bs":108475.03148717},{"ap":0.00000116,"bp":0.00000112,"as":169691.69622955,"bs":135294.13187478},{"ap":0.00000117,"bp":0.00000111,"as":179993.87033368,"bs":23896.68596108},{"ap":0.00000118,"bp":0.0000011,"as":278918.60178478,"bs":307189.77912603},{"ap":0.00000119,"bp":0.00000109,"as":220110.49971639,"bs":338610.68934826},{"ap":0.0000012,"bp":0.00000108,"as":273036.24626768,"bs":371495.9085649},{"ap":0.00000121,"bp":0.00000107,"as":128337.44706068,"bs":173534.10595868},{"ap":0.00000122,"bp":0.00000106,"as":186031.76957352,"bs":325299.15664485},{"ap":0.00000123,"bp":0.00000105,"as":32552.64874135,"bs":434220.87896552},{"ap":0.00000124,"bp":0.00000104,"as":141460.07989793,"bs":813938.36374194},{"ap":0.00000125,"bp":0.00000103,"as":112770.00774621,"bs":450103.39580188},{"ap":0.00000126,"bp":0.00000102,"as":80996.0254813,"bs":351498.85701238},{"ap":0.00000127,"bp":0.00000101,"as":328807.91382816,"bs":520591.83283457},{"ap":0.00000128,"bp":0.000001,"as":202345.16711594,"bs":654998.73817947},{"ap":0.00000129,"bp":9.9E-7,"as":66096.659004,"bs":524577.21533704}],"st":"REALTIME"}"#;
    const TRADE: &[u8] = br#"{"ty":"trade","cd":"KRW-LAMB","tms":1618678263084,"td":"2021-04-17","ttm":"16:51:02","ttms":1618678262000,"tp":126.0,"tv":47.97601199,"ab":"ASK","pcp":123.00000000,"c":"RISE","cp":3.00000000,"sid":1618678262000004,"st":"REALTIME"}"#;

    #[test]
    fn orderbook_replaces_the_book() {
        let mut h = handler();
        let ev = feed(&mut h, BOOK);
        let k: Vec<MdKind> = ev.iter().map(|e| e.kind).collect();
        assert_eq!(k.first(), Some(&MdKind::BookClear));
        assert_eq!(k.last(), Some(&MdKind::BookCommit));
        assert_eq!(k.iter().filter(|k| **k == MdKind::BookLevel).count(), 30);
        let lv = |side: Side| -> Vec<(i64, i64)> {
            ev.iter()
                .filter(|e| e.kind == MdKind::BookLevel && e.side == side)
                .map(|e| (e.p0, e.q0))
                .collect()
        };
        // best ask 0.00000115 BTC for 355682.34086512 ITAM, at 8 decimals
        assert_eq!(lv(Side::Sell)[0], (115, 35_568_234_086_512));
        // the last bid is written `9.9E-7` on the wire: exactly 99 at 8 decimals, never via f64
        assert_eq!(lv(Side::Buy)[14], (99, 52_457_721_533_704));
        assert!(ev
            .iter()
            .all(|e| e.instrument == InstrumentId(5) && e.venue == VenueId(2)));
        assert_eq!(ev.last().unwrap().venue_seq, 1618678269270);
        assert_eq!(h.book(1).and_then(|b| b.book_ts()), Some(1618678269270));
        // an older snapshot is dropped, an equal or newer one replaces
        let older = String::from_utf8_lossy(BOOK).replace("1618678269270", "1618678269000");
        let ev = feed(&mut h, older.as_bytes());
        assert_eq!(ev[0].kind, MdKind::Noop);
        assert_eq!(VenueCounters::get(&h.counters().stale_diffs), 1);
        assert_eq!(feed(&mut h, BOOK)[0].kind, MdKind::BookClear);
        assert_eq!(VenueCounters::get(&h.counters().syncs), 1, "synced once");
    }

    #[test]
    fn trade_event() {
        let mut h = handler();
        let ev = feed(&mut h, TRADE);
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].kind, MdKind::Trade);
        assert_eq!(
            (ev[0].p0, ev[0].q0, ev[0].side),
            (12_600_000_000, 4_797_601_199, Side::Sell)
        );
        assert_eq!(ev[0].venue_seq, 1618678262000004);
    }

    #[test]
    fn malformed_variants_are_counted_never_panic() {
        let mut h = handler();
        let book = String::from_utf8_lossy(BOOK).to_string();
        let cases: Vec<String> = vec![
            book[..book.len() / 2].to_string(),                  // truncated
            book.replace("\"tms\":1618678269270,", ""),          // missing timestamp
            book.replace("\"ap\":0.00000115", "\"ap\":\"abc\""), // non-numeric price
            book.replace("\"ap\":0.00000115,", ""),              // unit without ask price
            book.replace("9.9E-7", "9.9E-17"),                   // finer than 8 decimals
            book.replace("\"as\":66096.659004", "\"as\":-1"),    // negative size
            book.replace("\"obu\":[", "\"obu\":{"),              // wrong shape
            String::from_utf8_lossy(TRADE).replace("\"ab\":\"ASK\"", "\"ab\":1"),
            String::from_utf8_lossy(TRADE).replace("\"tp\":126.0,", ""),
            "garbage".into(),
            String::new(),
            "{}{}".into(),
        ];
        assert_parse_errors(&mut h, &cases);
        // well-formed but not ours / not book data: counted as unknown
        feed(&mut h, br#"{"status":"UP"}"#);
        feed(
            &mut h,
            br#"{"ty":"orderbook","cd":"KRW-BTC","tms":1,"obu":[]}"#,
        );
        feed(
            &mut h,
            br#"{"ty":"ticker","cd":"KRW-LAMB","tp":126.0,"tms":5}"#,
        );
        assert_eq!(VenueCounters::get(&h.counters().unknown_messages), 3);
        assert_eq!(
            VenueCounters::get(&h.counters().parse_errors),
            cases.len() as u64
        );
    }

    #[test]
    fn disconnect_invalidates_synced_books() {
        let mut h = handler();
        feed(&mut h, BOOK);
        let v = disconnect(&mut h);
        let inv: Vec<InstrumentId> = v
            .iter()
            .filter(|e| e.kind == MdKind::BookInvalid)
            .map(|e| e.instrument)
            .collect();
        assert_eq!(inv, vec![InstrumentId(5)], "only the book that was synced");
    }
}
