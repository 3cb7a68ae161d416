//! Binance: spot (`stream.binance.com`), USDⓈ-M (`fstream.binance.com`) and COIN-M
//! (`dstream.binance.com`) market data; order encoding and signing.
//!
//! Files (the same in every venue folder):
//! - [`wire`]: raw message formats with real samples and doc links; zero-allocation parsing.
//! - [`book`]: the venue's book-sync rules (snapshot + diffs, `U`/`u`/`pu`; partial-book
//!   streams `depth5/10/20`, each message a whole top N).
//! - [`orders`]: order request encoding and HMAC-SHA256 signing into reused buffers.
//! - [`instruments`]: specs from the venue's instrument endpoint (`exchangeInfo`).
//! - [`protocol`]: live connection protocol (stream URLs, keep-alive, REST snapshot URLs).
//!
//! Best bid/ask of a Binance venue is its latest `bookTicker`; the depth book gives the levels
//! behind it ([`crate::book::L2Book::walk`]).
#![forbid(unsafe_code)]

pub mod book;
pub mod instruments;
pub mod orders;
pub mod protocol;
pub mod scan;
pub mod wire;

use crate::feed::protocol::VenueProtocol;
use crate::feed::{tag, VenueCounters, VenueHandler};
use crate::instrument::InstrumentDef;
use crate::types::{Price, Qty, Side};
use crate::venues::handler::{Ctx, Handler, WireFormat};
use crate::venues::symbols::{InstrumentRef, SymbolTable};
use crate::venues::wire_util::{Buffers, Limits, Scale, WireError};
use crate::venues::{Exchange, KeyError, OrderEntry, Venue, VenueCtx, VenueOptions};
use book::{BookSync, Continuity, Range};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use wire::StreamKind;

/// Which Binance market.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Market {
    /// Spot (`/api/v3`).
    Spot,
    /// USDⓈ-M futures (`/fapi/v1`).
    Usdm,
    /// COIN-M futures (`/dapi/v1`).
    Coinm,
}

/// The Binance market of a venue's options (`market = "spot" | "usdm" | "coinm"`).
pub fn market_of(o: &VenueOptions) -> Result<Market, KeyError> {
    match o.market.as_deref() {
        Some("spot") => Ok(Market::Spot),
        Some("usdm") => Ok(Market::Usdm),
        Some("coinm") => Ok(Market::Coinm),
        Some(other) => Err(KeyError::new(
            "market",
            format!("unknown binance market {other:?} (spot, usdm, coinm)"),
        )),
        None => Err(KeyError::new(
            "market",
            "required for binance: spot, usdm or coinm",
        )),
    }
}

/// The venue's instruments as the order encoder sees them.
fn order_symbols(ctx: &VenueCtx<'_>) -> Vec<orders::OrderSymbol> {
    ctx.instruments()
        .map(|i| orders::OrderSymbol {
            symbol: i.symbol.clone(),
            scale: Scale {
                price_dec: i.price_dec,
                qty_dec: i.qty_dec,
            },
            base: i.base.clone(),
            quote: i.quote.clone(),
        })
        .collect()
}

/// A configured Binance venue: one market.
#[derive(Clone, Debug)]
pub struct BinanceVenue {
    /// Which market.
    pub market: Market,
    options: VenueOptions,
}

/// Resolve a `[venues.<name>]` section with `exchange = "binance"`.
pub fn configure(o: &VenueOptions) -> Result<Arc<dyn Venue>, KeyError> {
    if let Some(p) = o.protocol.as_deref() {
        return Err(KeyError::new(
            "protocol",
            format!("binance has one protocol; remove `protocol = {p:?}`"),
        ));
    }
    if o.book_depth.is_some() {
        return Err(KeyError::new(
            "book_depth",
            "not used for binance (diff depth + REST snapshot of `snapshot_limit` levels)",
        ));
    }
    Ok(Arc::new(BinanceVenue {
        market: market_of(o)?,
        options: o.clone(),
    }))
}

impl Venue for BinanceVenue {
    fn exchange(&self) -> Exchange {
        Exchange::Binance
    }

    fn parse_instruments(
        &self,
        venue_name: &str,
        text: &str,
    ) -> Result<Vec<InstrumentDef>, String> {
        let first = text.lines().next().unwrap_or("");
        instruments::parse_exchange_info(first, self.market, venue_name)
    }

    fn handler(
        &self,
        ctx: &VenueCtx<'_>,
        counters: Arc<VenueCounters>,
    ) -> Result<Box<dyn VenueHandler>, String> {
        let levels = self.options.book_levels.max(1000);
        Ok(Box::new(BinanceHandler::new(
            ctx.id,
            ctx.instrument_refs(),
            Binance::new(
                self.market,
                &Limits {
                    max_levels_per_msg: levels,
                    max_changes_per_msg: 2 * levels,
                    ..LIMITS
                },
            ),
            counters,
        )))
    }

    fn protocol(&self, ctx: &VenueCtx<'_>) -> Result<Box<dyn VenueProtocol>, String> {
        Ok(Box::new(protocol::BinanceProtocol::new(
            self.market,
            ctx.options,
            ctx.symbols(),
        )))
    }

    fn bbo_shares_book_seq(&self) -> bool {
        // `bookTicker` `u` is the order book's updateId, the id space of depth `u`
        true
    }

    fn order_entry(
        &self,
        ctx: &VenueCtx<'_>,
        api_key: &str,
        secret: &[u8],
    ) -> Option<Box<dyn OrderEntry>> {
        let base = self
            .options
            .rest_url
            .as_deref()
            .unwrap_or(self.market.rest_base());
        // a bad `rest_url` was refused at config load; fall back to the public base otherwise
        let base = orders::RestBase::parse(base)
            .or_else(|_| orders::RestBase::parse(self.market.rest_base()))
            .ok()?;
        Some(Box::new(orders::BinanceOrders::new(
            self.market,
            base,
            order_symbols(ctx),
            api_key,
            secret,
        )))
    }

    fn sign_request(
        &self,
        creds: &crate::venues::Credentials,
        r: &crate::venues::SignRequest,
    ) -> Result<Vec<u8>, String> {
        orders::sign_request(self.market, creds, r)
    }

    fn account_api(
        &self,
        ctx: &VenueCtx<'_>,
        creds: &crate::venues::Credentials,
        recv_window_ms: u32,
        ca_file: Option<&std::path::Path>,
    ) -> Option<Result<Box<dyn crate::venues::AccountApi>, String>> {
        let rest = self
            .options
            .rest_url
            .as_deref()
            .unwrap_or(self.market.rest_base());
        let ws = self
            .options
            .ws_url
            .as_deref()
            .unwrap_or(self.market.ws_base());
        Some(
            orders::BinanceAccount::new(
                self.market,
                rest,
                ws,
                &creds.api_key,
                &creds.secret,
                order_symbols(ctx),
                recv_window_ms,
                ca_file,
            )
            .map(|a| Box::new(a) as Box<dyn crate::venues::AccountApi>),
        )
    }
}

impl Market {
    /// Book-sync rule of this market ([`book`]).
    pub fn sync_rule(self) -> Continuity {
        match self {
            Market::Spot => Continuity::BinanceSpot,
            Market::Usdm | Market::Coinm => Continuity::BinanceFutures,
        }
    }
    /// Public WebSocket base URL (combined streams: append `/stream?streams=a/b`).
    pub fn ws_base(self) -> &'static str {
        match self {
            Market::Spot => "wss://stream.binance.com:9443",
            Market::Usdm => "wss://fstream.binance.com",
            Market::Coinm => "wss://dstream.binance.com",
        }
    }
    /// REST base URL.
    pub fn rest_base(self) -> &'static str {
        match self {
            Market::Spot => "https://api.binance.com",
            Market::Usdm => "https://fapi.binance.com",
            Market::Coinm => "https://dapi.binance.com",
        }
    }
    /// REST depth path.
    pub fn depth_path(self) -> &'static str {
        match self {
            Market::Spot => "/api/v3/depth",
            Market::Usdm => "/fapi/v1/depth",
            Market::Coinm => "/dapi/v1/depth",
        }
    }
    /// REST order path.
    pub fn order_path(self) -> &'static str {
        match self {
            Market::Spot => "/api/v3/order",
            Market::Usdm => "/fapi/v1/order",
            Market::Coinm => "/dapi/v1/order",
        }
    }
}

/// Buffer sizes of a Binance handler: levels per side in one message (snapshots are the
/// largest: up to 5,000), and the diffs and levels buffered per instrument while waiting for a
/// snapshot.
pub const LIMITS: Limits = Limits::per_message(5000, 0).buffering(10_000, 4096, 65536);

/// Binance's wire format and handler rules, one market (the [`WireFormat`] of
/// [`BinanceHandler`]); stream names spell the symbols in lower case: the table ignores case.
pub struct Binance {
    market: Market,
    levels: Buffers,
    limits: Limits,
}

impl Binance {
    /// The wire format of `market`, with buffers for what `limits` allows.
    pub fn new(market: Market, limits: &Limits) -> Binance {
        Binance {
            market,
            levels: Buffers::new(limits),
            limits: *limits,
        }
    }

    /// The market.
    pub fn market(&self) -> Market {
        self.market
    }
}

/// Market-data handler for one Binance venue (one market, any number of symbols).
pub type BinanceHandler = Handler<Binance>;

impl WireFormat for Binance {
    type Book = BookSync;
    const LOG_PARSE_ERRORS: bool = true;

    fn symbols(&self, refs: Vec<InstrumentRef>) -> SymbolTable {
        SymbolTable::new(refs).case_insensitive()
    }

    fn new_book(&self) -> BookSync {
        let l = &self.limits;
        BookSync::new(
            self.market.sync_rule(),
            l.max_buffered_diffs,
            l.max_buffered_levels,
        )
    }

    fn on_message(&mut self, raw: &[u8], cx: Ctx<'_, '_, BookSync>) -> Result<(), WireError> {
        let Ctx { st, sink } = cx;
        let m = wire::parse_stream(raw, &st.symbols, &mut self.levels)?;
        let (c, id) = (&*st.counters, st.symbols.get(m.inst).id);
        match m.kind {
            StreamKind::BookTicker => {
                VenueCounters::inc(&c.bbo_updates);
                let bid = (Price(m.bid_px), Qty(m.bid_qty));
                sink.bbo(id, m.last_id, bid, (Price(m.ask_px), Qty(m.ask_qty)));
            }
            StreamKind::Depth => {
                VenueCounters::inc(&c.depth_updates);
                let r = Range {
                    first: m.first_id,
                    last: m.last_id,
                    prev: m.prev_id,
                };
                if self.market != Market::Spot && r.prev.is_none() {
                    // futures diffs must carry `pu`; without it continuity is unknowable
                    return Err(WireError::MissingField("pu"));
                }
                st.books[m.inst]
                    .seq
                    .on_diff(id, r, &self.levels.changes, sink, c);
            }
            StreamKind::PartialDepth => {
                VenueCounters::inc(&c.depth_updates);
                VenueCounters::inc(&c.snapshots);
                let (bids, asks) = (&self.levels.bids, &self.levels.asks);
                st.books[m.inst].on_partial(id, m.last_id, bids, asks, sink, c);
            }
            StreamKind::Trade | StreamKind::AggTrade => {
                VenueCounters::inc(&c.trades);
                let aggressor = if m.buyer_maker { Side::Sell } else { Side::Buy };
                sink.trade(id, m.trade_id, Price(m.px), Qty(m.qty), aggressor);
            }
            StreamKind::Other => return Err(WireError::Unknown),
        }
        Ok(())
    }

    fn is_snapshot(&self, raw: &[u8], t: u32) -> bool {
        tag::is_snapshot(t) || raw.starts_with(b"{\"lastUpdateId\"")
    }

    /// The instrument is the one the tag names, the only one, or (COIN-M) the body's `symbol`.
    fn on_snapshot(
        &mut self,
        raw: &[u8],
        k: Option<usize>,
        cx: Ctx<'_, '_, BookSync>,
    ) -> Result<(), WireError> {
        let Ctx { st, sink } = cx;
        let hint = k.map(|k| (k, st.symbols.get(k).scale));
        let s = wire::parse_snapshot(raw, &st.symbols, hint, &mut self.levels)?;
        let k = s.inst.unwrap_or(0);
        let (c, id) = (&*st.counters, st.symbols.get(k).id);
        let (bids, asks) = (&self.levels.bids, &self.levels.asks);
        st.books[k]
            .seq
            .on_snapshot(id, s.last_update_id, bids, asks, sink, c);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::MdKind;
    use crate::types::InstrumentId;
    use crate::types::VenueId;
    use crate::venues::testing::{assert_parse_errors, feed, iref};

    fn handler(market: Market) -> BinanceHandler {
        let r = match market {
            Market::Spot => iref(7, "BTCUSDT", 2, 5),
            Market::Usdm => iref(7, "BTCUSDT", 1, 3),
            Market::Coinm => iref(7, "BTCUSD_PERP", 1, 0),
        };
        BinanceHandler::new(
            VenueId(0),
            vec![r],
            Binance::new(market, &LIMITS),
            Arc::new(VenueCounters::default()),
        )
    }

    #[test]
    fn book_ticker_real_message() {
        let mut h = handler(Market::Spot);
        let ev = feed(
            &mut h,
            r#"{"stream":"btcusdt@bookTicker","data":{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000","a":"61837.64000000","A":"1.54698000"}}"#,
        );
        assert_eq!(ev.len(), 1);
        let e = ev[0];
        assert_eq!(e.kind, MdKind::Bbo);
        assert_eq!(e.instrument, InstrumentId(7));
        assert_eq!(e.venue_seq, 50093239212);
        assert_eq!((e.p0, e.q0, e.p1, e.q1), (6183763, 378826, 6183764, 154698));
        assert!(e.is_last());
    }

    #[test]
    fn coinm_book_ticker_and_trade() {
        let mut h = handler(Market::Coinm);
        let ev = feed(
            &mut h,
            r#"{"stream":"btcusd_perp@bookTicker","data":{"u":1007198632021,"e":"bookTicker","s":"BTCUSD_PERP","ps":"BTCUSD","b":"61804.7","B":"35","a":"61804.8","A":"1645","T":1723161257465,"E":1723161257476}}"#,
        );
        assert_eq!(
            (ev[0].p0, ev[0].q0, ev[0].p1, ev[0].q1),
            (618047, 35, 618048, 1645)
        );
        let ev = feed(
            &mut h,
            r#"{"stream":"btcusd_perp@trade","data":{"e":"trade","E":1723161257687,"T":1723161257679,"s":"BTCUSD_PERP","t":849714402,"p":"61804.8","q":"4","X":"MARKET","m":false}}"#,
        );
        assert_eq!(ev[0].kind, MdKind::Trade);
        assert_eq!((ev[0].p0, ev[0].q0, ev[0].side), (618048, 4, Side::Buy));
        assert_eq!(ev[0].venue_seq, 849714402);
    }

    #[test]
    fn malformed_variants_are_counted_not_panics() {
        let mut h = handler(Market::Spot);
        let good = r#"{"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"1.00","B":"1","a":"2.00","A":"1"}}"#;
        let cases = [
            &good[..good.len() / 2], // truncated
            r#"{"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"1.00","B":"1","a":"2.00"}}"#, // missing A
            r#"{"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"abc","B":"1","a":"2.00","A":"1"}}"#, // non-numeric
            r#"{"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"1.001","B":"1","a":"2.00","A":"1"}}"#, // finer than tick decimals
            r#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","U":1,"u":2,"b":[["1.00"]],"a":[]}}"#, // level without qty
            r#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","U":1,"u":2,"b":[["-1.00","1"]],"a":[]}}"#, // negative price
            r#"{"data":{"u":1},"stream":"btcusdt@bookTicker"}"#, // data before stream
            r#"[1,2,3]"#,
            "",
            "\u{0}\u{1}garbage",
            r#"{"lastUpdateId":"x","bids":[],"asks":[]}"#,
        ];
        assert_parse_errors(&mut h, &cases);
        // well-formed but not ours: unknown, not an error
        feed(
            &mut h,
            r#"{"stream":"ethusdt@bookTicker","data":{"u":1,"s":"ETHUSDT","b":"1.00","B":"1","a":"2.00","A":"1"}}"#,
        );
        feed(&mut h, r#"{"stream":"btcusdt@kline_1m","data":{}}"#);
        feed(&mut h, r#"{"result":null,"id":1}"#);
        assert_eq!(VenueCounters::get(&h.counters().unknown_messages), 3);
        assert_eq!(
            VenueCounters::get(&h.counters().parse_errors),
            cases.len() as u64
        );
    }

    #[test]
    fn partial_book_stream_replaces_the_book_per_update_id() {
        let mut h = handler(Market::Spot);
        for suffix in ["depth5", "depth10@100ms", "depth20@1000ms"] {
            assert_eq!(StreamKind::from_suffix(suffix), StreamKind::PartialDepth);
        }
        assert_eq!(StreamKind::from_suffix("depth@100ms"), StreamKind::Depth);
        assert_eq!(StreamKind::from_suffix("depth50"), StreamKind::Other);
        // a real spot message (2025-08-31), cut to two levels per side
        let msg = r#"{"stream":"btcusdt@depth5@100ms","data":{"lastUpdateId":75575196322,"bids":[["108370.26000000","0.31813000"],["108370.25000000","0.01195000"]],"asks":[["108370.27000000","8.86858000"],["108370.28000000","0.00025000"]]}}"#;
        let ev = feed(&mut h, msg);
        let kinds: Vec<MdKind> = ev.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            vec![
                MdKind::BookClear,
                MdKind::BookLevel,
                MdKind::BookLevel,
                MdKind::BookLevel,
                MdKind::BookLevel,
                MdKind::BookCommit
            ]
        );
        assert_eq!(ev[0].venue_seq, 75575196322);
        assert_eq!(
            (ev[1].p0, ev[1].q0, ev[1].side),
            (10837026, 31813, Side::Buy)
        );
        assert_eq!((ev[3].p0, ev[3].side), (10837027, Side::Sell));
        assert_eq!(
            ev[5].flags & crate::event::flags::SNAPSHOT,
            crate::event::flags::SNAPSHOT
        );
        // the same id again is stale; a newer one replaces
        assert_eq!(feed(&mut h, msg)[0].kind, MdKind::Noop);
        assert_eq!(VenueCounters::get(&h.counters().stale_diffs), 1);
        let newer = msg.replace("75575196322", "75575196335");
        assert_eq!(feed(&mut h, &newer)[0].kind, MdKind::BookClear);
        // futures spelling: `u` + `b`/`a`
        let mut f = handler(Market::Usdm);
        let fut = r#"{"stream":"btcusdt@depth5@500ms","data":{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":10,"u":12,"pu":9,"b":[["61800.20","2.507"]],"a":[["61800.30","1.000"]]}}"#;
        let ev = feed(&mut f, fut);
        assert_eq!(ev[0].kind, MdKind::BookClear);
        assert_eq!(ev.last().unwrap().venue_seq, 12);
        // a side missing is an error, not a one-sided book
        let bad = r#"{"stream":"btcusdt@depth5","data":{"lastUpdateId":1,"bids":[]}}"#;
        assert_eq!(feed(&mut h, bad)[0].kind, MdKind::Noop);
        assert_eq!(VenueCounters::get(&h.counters().parse_errors), 1);
        assert_eq!(VenueCounters::get(&h.counters().syncs), 1);
    }

    #[test]
    fn snapshot_then_diff_emits_book_events() {
        let mut h = handler(Market::Usdm);
        // diff before snapshot is buffered
        let d1 = r#"{"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":100,"u":110,"pu":99,"b":[["61800.20","2.507"]],"a":[["61800.30","0.000"]]}}"#;
        assert_eq!(feed(&mut h, d1)[0].kind, MdKind::Noop);
        let snap = r#"{"lastUpdateId":105,"E":1,"T":1,"bids":[["61800.20","2.909"],["61800.10","0.696"]],"asks":[["61800.30","1.072"]]}"#;
        let ev = feed(&mut h, snap);
        assert_eq!(VenueCounters::get(&h.counters().parse_errors), 0);
        let kinds: Vec<MdKind> = ev.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            vec![
                MdKind::BookClear,
                MdKind::BookLevel,
                MdKind::BookLevel,
                MdKind::BookLevel,
                MdKind::BookLevel,
                MdKind::BookLevel,
                MdKind::BookCommit
            ]
        );
        assert_eq!(ev.last().unwrap().venue_seq, 110);
        // the buffered diff's ask delete comes after the snapshot's ask
        assert_eq!((ev[5].p0, ev[5].q0, ev[5].side), (618003, 0, Side::Sell));
        assert_eq!(h.book(0).and_then(|b| b.seq.book_id()), Some(110));
        // futures diff without pu is an error
        let no_pu = r#"{"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","U":111,"u":112,"b":[],"a":[]}}"#;
        feed(&mut h, no_pu);
        assert_eq!(VenueCounters::get(&h.counters().parse_errors), 1);
    }
}
