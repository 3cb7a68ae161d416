//! Coinbase spot market data: Advanced Trade (today's default) and the Exchange feed (the
//! 2021 recording). One handler reads both; the message shape tells them apart.
//!
//! Files (the same in every venue folder):
//! - [`wire`]: message formats with real samples and doc links, one module per feed
//!   ([`wire::advanced_trade`], [`wire::exchange`]); zero-allocation parsing.
//! - [`book`]: book sync (snapshot + absolute sizes; Advanced Trade `sequence_num` continuity).
//! - [`instruments`]: specs from the products endpoints.
//! - [`protocol`]: URLs, subscriptions, heartbeats keep-alive.
//! - No `orders.rs`: order entry for Coinbase is not part of this adapter yet.
//!
//! What the handler emits: book levels + commits (update id: Exchange `l2update` time in µs,
//! Advanced Trade `sequence_num`), trades (aggressor = opposite of the maker `side`). Tickers
//! are parsed by [`wire`] (for `verify-book`) but not used by the engine: Exchange tickers come
//! only with trades and would go stale on the book top.
#![forbid(unsafe_code)]

pub mod book;
pub mod instruments;
pub mod orders;
pub mod protocol;
pub mod wire;

use crate::event::InvalidReason;
use crate::feed::protocol::VenueProtocol;
use crate::feed::{VenueCounters, VenueHandler};
use crate::instrument::InstrumentDef;
use crate::types::{Price, Qty};
use crate::venues::handler::{Ctx, Handler, WireFormat};
use crate::venues::wire_util::{Limits, WireError};
use crate::venues::{Exchange, KeyError, Venue, VenueCtx, VenueOptions};
use book::{BookSync, ConnSeq};
use std::sync::Arc;
use wire::{BookKind, Buffers};

/// Buffer sizes of a Coinbase handler: levels of one message, both sides (a full BTC-USD
/// snapshot has tens of thousands; the book itself keeps `book_levels` per side and drops the
/// deepest), trades of one message.
pub const LIMITS: Limits = Limits::per_message(200_000, 1024);

/// Products in one message.
pub const MAX_GROUPS_PER_MSG: usize = 64;

/// Coinbase's wire format (both feeds) and handler rules (the [`WireFormat`] of
/// [`CoinbaseHandler`]); the wire symbol is the product id `BTC-USD`.
pub struct Coinbase {
    seq: ConnSeq,
    buf: Buffers,
}

impl Coinbase {
    /// Buffers for what `limits` allows in one message.
    pub fn new(limits: &Limits) -> Coinbase {
        let (levels, trades) = (limits.max_levels_per_msg, limits.max_trades_per_msg);
        Coinbase {
            seq: ConnSeq::default(),
            buf: Buffers::with_capacity(levels, MAX_GROUPS_PER_MSG, trades),
        }
    }
}

/// Market-data handler for one Coinbase venue.
pub type CoinbaseHandler = Handler<Coinbase>;

impl WireFormat for Coinbase {
    type Book = BookSync;

    fn new_book(&self) -> BookSync {
        BookSync::new()
    }

    fn on_message(&mut self, raw: &[u8], cx: Ctx<'_, '_, BookSync>) -> Result<(), WireError> {
        let Ctx { st, sink } = cx;
        let m = wire::parse(raw, &st.symbols, &mut self.buf)?;
        let c = &*st.counters;
        if let Some(n) = m.sequence_num {
            if !self.seq.next(n) {
                // a message of this connection was lost: no book can be vouched for
                VenueCounters::inc(&c.gaps);
                for (k, b) in st.books.iter_mut().enumerate() {
                    if b.invalidate(st.symbols.get(k).id, InvalidReason::Gap, sink) {
                        VenueCounters::inc(&c.resyncs);
                    }
                }
            }
        }
        for g in &self.buf.groups {
            let id = st.symbols.get(g.inst).id;
            let lv = &self.buf.levels[g.start..g.end];
            let seq = if m.advanced {
                m.sequence_num.unwrap_or(0)
            } else {
                g.time_us
            };
            match g.kind {
                BookKind::Snapshot => {
                    VenueCounters::inc(&c.snapshots);
                    st.books[g.inst].on_snapshot(id, seq, lv, sink, c);
                }
                BookKind::Update => {
                    VenueCounters::inc(&c.depth_updates);
                    st.books[g.inst].on_update(id, seq, lv, sink, c);
                }
            }
        }
        for t in &self.buf.trades {
            VenueCounters::inc(&c.trades);
            let id = st.symbols.get(t.inst).id;
            let (px, qty) = (Price(t.px), Qty(t.qty));
            sink.trade(id, t.trade_id, px, qty, t.maker_side.opposite());
        }
        if self.buf.groups.is_empty() && self.buf.trades.is_empty() {
            // heartbeats, acks, tickers: well-formed, not used by the engine
            return Err(WireError::Unknown);
        }
        Ok(())
    }

    fn on_disconnect(&mut self) {
        self.seq.reset();
    }
}

/// A configured Coinbase venue: Advanced Trade (default) or the Exchange feed.
#[derive(Clone, Debug)]
pub struct CoinbaseVenue {
    /// `protocol = "advanced-trade"` (default) rather than `"exchange"`.
    advanced: bool,
    options: VenueOptions,
}

/// Resolve a `[venues.<name>]` section with `exchange = "coinbase"`.
pub fn configure(o: &VenueOptions) -> Result<Arc<dyn Venue>, KeyError> {
    if o.market.is_some() {
        return Err(KeyError::new("market", "not used for coinbase (spot only)"));
    }
    let advanced = match o.protocol.as_deref() {
        None | Some("advanced-trade") => true,
        Some("exchange") => false,
        Some(p) => {
            return Err(KeyError::new(
                "protocol",
                format!("coinbase speaks \"advanced-trade\" (default) or \"exchange\", not {p:?}"),
            ))
        }
    };
    crate::venues::no_depth(Exchange::Coinbase, o, "full book")?;
    Ok(Arc::new(CoinbaseVenue {
        advanced,
        options: o.clone(),
    }))
}

impl Venue for CoinbaseVenue {
    fn sign_request(
        &self,
        creds: &crate::venues::Credentials,
        r: &crate::venues::SignRequest,
    ) -> Result<Vec<u8>, String> {
        orders::sign_request(creds, r)
    }

    fn exchange(&self) -> Exchange {
        Exchange::Coinbase
    }

    fn parse_instruments(
        &self,
        venue_name: &str,
        text: &str,
    ) -> Result<Vec<InstrumentDef>, String> {
        instruments::parse_products(text, venue_name)
    }

    fn handler(
        &self,
        ctx: &VenueCtx<'_>,
        counters: Arc<VenueCounters>,
    ) -> Result<Box<dyn VenueHandler>, String> {
        Ok(Box::new(CoinbaseHandler::new(
            ctx.id,
            ctx.instrument_refs(),
            Coinbase::new(&Limits {
                max_levels_per_msg: LIMITS.max_levels_per_msg.max(4 * self.options.book_levels),
                ..LIMITS
            }),
            counters,
        )))
    }

    fn protocol(&self, ctx: &VenueCtx<'_>) -> Result<Box<dyn VenueProtocol>, String> {
        let symbols = ctx.symbols();
        let names = symbols.iter().map(|(_, s)| s.clone()).collect();
        Ok(crate::venues::adapt(
            protocol::CoinbaseProtocol::new(names, self.advanced),
            ctx,
            symbols,
            |p, _, _| p.resubscribe_frames(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::MdKind;
    use crate::types::InstrumentId;
    use crate::types::Side;
    use crate::types::VenueId;
    use crate::venues::testing::{assert_parse_errors, feed, iref};

    fn handler() -> CoinbaseHandler {
        CoinbaseHandler::new(
            VenueId(1),
            vec![iref(3, "SKL-BTC", 8, 1), iref(4, "BTC-USD", 2, 8)],
            Coinbase::new(&LIMITS),
            Arc::new(VenueCounters::default()),
        )
    }

    // Real Exchange-feed messages (../shared/data/recorded/COINBASE.ws.28.0).
    const SNAP: &str = r#"{"type":"snapshot","product_id":"SKL-BTC","asks":[["0.00001306","660.5"],["0.00001307","1200.0"]],"bids":[["0.00001303","1500.0"]]}"#;
    const UPD: &str = r#"{"type":"l2update","product_id":"SKL-BTC","changes":[["sell","0.00001306","660.5"]],"time":"2021-04-17T16:43:37.075687Z"}"#;
    const MATCH: &str = r#"{"type":"match","trade_id":280232,"maker_order_id":"2a0da34e-61f7-4c36-88e5-c9dd15927b16","taker_order_id":"3c82abaa-c01e-4608-be59-6a1e69742891","side":"sell","size":"985","price":"0.00001305","product_id":"SKL-BTC","sequence":177100030,"time":"2021-04-17T16:43:37.089723Z"}"#;
    const TICKER: &str = r#"{"type":"ticker","sequence":177100030,"product_id":"SKL-BTC","price":"0.00001305","open_24h":"0.0000119","volume_24h":"4352931.80000000","low_24h":"0.00001157","high_24h":"0.0000138","volume_30d":"50452618.50000000","best_bid":"0.00001303","best_ask":"0.00001306","side":"sell","time":"2021-04-17T16:43:37.089723Z","trade_id":280232,"last_size":"985"}"#;
    const SUBS: &str =
        r#"{"type":"subscriptions","channels":[{"name":"level2","product_ids":["SKL-BTC"]}]}"#;

    #[test]
    fn exchange_feed_real_messages() {
        let mut h = handler();
        assert_eq!(
            feed(&mut h, UPD)[0].kind,
            MdKind::Noop,
            "before the snapshot"
        );
        let ev = feed(&mut h, SNAP);
        assert_eq!(ev.len(), 5);
        assert_eq!((ev[1].side, ev[1].p0, ev[1].q0), (Side::Sell, 1306, 6605));
        assert_eq!(ev[4].kind, MdKind::BookCommit);
        let ev = feed(&mut h, UPD);
        assert_eq!(ev.len(), 2);
        assert_eq!(
            ev[1].venue_seq, 1_618_677_817_075_687,
            "commit id = time in µs"
        );
        let ev = feed(&mut h, MATCH);
        // maker sold: the aggressor bought
        assert_eq!(
            (ev[0].kind, ev[0].p0, ev[0].q0, ev[0].side, ev[0].venue_seq),
            (MdKind::Trade, 1305, 9850, Side::Buy, 280232)
        );
        for m in [
            TICKER,
            SUBS,
            r#"{"type":"heartbeat","last_trade_id":1,"product_id":"SKL-BTC","sequence":2,"time":"2021-04-17T16:43:37.0Z"}"#,
        ] {
            assert_eq!(feed(&mut h, m)[0].kind, MdKind::Noop);
        }
        assert_eq!(VenueCounters::get(&h.counters().unknown_messages), 3);
        assert_eq!(VenueCounters::get(&h.counters().parse_errors), 0);
        let mut b = Buffers::with_capacity(10, 2, 2);
        let m = wire::parse(TICKER.as_bytes(), h.symbols(), &mut b).unwrap();
        assert!(m.has_ticker);
        assert_eq!(
            (
                b.ticker.bid_px,
                b.ticker.ask_px,
                b.ticker.time_us,
                b.ticker.sequence
            ),
            (1303, 1306, 1_618_677_817_089_723, 177100030)
        );
    }

    #[test]
    fn advanced_trade_messages_and_sequence_gap() {
        let mut h = handler();
        let snap = r#"{"channel":"l2_data","client_id":"","timestamp":"2023-02-09T20:32:50.714964855Z","sequence_num":0,"events":[{"type":"snapshot","product_id":"BTC-USD","updates":[{"side":"bid","event_time":"1970-01-01T00:00:00Z","price_level":"21921.73","new_quantity":"0.06317902"},{"side":"offer","event_time":"1970-01-01T00:00:00Z","price_level":"21921.74","new_quantity":"1.5"}]}]}"#;
        let ev = feed(&mut h, snap);
        assert_eq!(ev.len(), 4);
        assert_eq!(
            (ev[1].side, ev[1].p0, ev[1].q0),
            (Side::Buy, 2192173, 6317902)
        );
        assert_eq!(ev[2].side, Side::Sell);
        let hb = |n: u64| {
            format!(
                r#"{{"channel":"heartbeats","client_id":"","timestamp":"2023-06-23T20:31:26.122969572Z","sequence_num":{n},"events":[{{"current_time":"2023-06-23 20:31:56.121961769 +0000 UTC m=+91717.525857105","heartbeat_counter":3049}}]}}"#
            )
        };
        assert_eq!(feed(&mut h, hb(1))[0].kind, MdKind::Noop);
        let trades = r#"{"channel":"market_trades","client_id":"","timestamp":"2023-02-09T20:19:35.39625135Z","sequence_num":2,"events":[{"type":"snapshot","trades":[{"trade_id":"000000000","product_id":"ETH-USD","price":"1260.01","size":"0.3","side":"BUY","time":"2019-08-14T20:42:27.265Z"},{"trade_id":"12345","product_id":"BTC-USD","price":"21921.74","size":"0.01","side":"SELL","time":"2019-08-14T20:42:27.265Z"}]}]}"#;
        let ev = feed(&mut h, trades);
        assert_eq!(ev.len(), 1, "ETH-USD is not ours");
        assert_eq!(
            (ev[0].p0, ev[0].side, ev[0].venue_seq),
            (2192174, Side::Buy, 12345)
        );
        // message 3 lost
        let ev = feed(&mut h, hb(4));
        assert_eq!(ev[0].kind, MdKind::BookInvalid);
        assert_eq!(VenueCounters::get(&h.counters().gaps), 1);
        let mut wanted = vec![];
        h.snapshot_wanted(&mut |i| wanted.push(i));
        assert_eq!(wanted, vec![InstrumentId(4)]);
        assert_eq!(VenueCounters::get(&h.counters().parse_errors), 0);
    }

    #[test]
    fn malformed_variants_are_counted_not_panics() {
        let mut h = handler();
        feed(&mut h, SNAP);
        let cases: Vec<String> = vec![
            UPD[..UPD.len() / 2].to_string(),                          // truncated
            UPD.replace(r#","time":"2021-04-17T16:43:37.075687Z""#, ""), // no time
            UPD.replace("2021-04-17T16", "2021-04-17 16"),             // bad time
            UPD.replace(r#"[["sell","0.00001306","660.5"]]"#, "[]"),   // no changes
            UPD.replace(r#""sell""#, r#""up""#),                       // bad side
            UPD.replace("0.00001306", "0.0000x306"),                   // non-numeric price
            UPD.replace("660.5", "-1"),                                // negative size
            UPD.replace("660.5", "660.55"),                            // finer than the lot
            UPD.replace(r#","0.00001306""#, ""),                       // short change
            UPD.replace(r#""product_id":"SKL-BTC","#, ""),             // no product
            MATCH.replace(r#""size":"985","#, ""),                     // match without size
            TICKER.replace(r#""best_ask":"0.00001306","#, ""),         // ticker without ask
            r#"{"product_id":"SKL-BTC"}"#.into(),                      // no type
            r#"{"channel":"l2_data","sequence_num":9,"events":[{"type":"update","product_id":"BTC-USD","updates":[{"side":"bid","price_level":"1.00"}]}]}"#.into(),
            r#"{"channel":"l2_data","sequence_num":10,"events":[{"type":"partial","product_id":"BTC-USD","updates":[]}]}"#.into(),
            String::new(),
            "[]".into(),
        ];
        assert_parse_errors(&mut h, &cases);
        feed(&mut h, UPD.replace("SKL-BTC", "SKL-USD"));
        feed(&mut h, r#"{"type":"done","product_id":"SKL-BTC"}"#);
        assert_eq!(VenueCounters::get(&h.counters().unknown_messages), 2);
    }
}
