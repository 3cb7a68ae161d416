//! OKX (v5): spot, perpetual swaps and dated futures market data on one public connection.
//!
//! Files (the same in every venue folder):
//! - [`wire`]: message formats with real samples and doc links; zero-allocation parsing.
//! - [`book`]: book sync (`action` snapshot/update, `seqId`/`prevSeqId`, CRC32 checksum).
//! - [`instruments`]: specs from `GET /api/v5/public/instruments`.
//! - [`protocol`]: URL, subscriptions, text `ping`/`pong` keep-alive.
//! - No `orders.rs`: order entry for OKX is not part of this adapter yet.
//!
//! What the handler emits: `books` → book levels + commit (with the checksum when non-zero);
//! `bbo-tbt` → best bid/offer (overlaid on the book top, update id `seqId`); `trades` → trades
//! (aggressor = `side`). `tickers` are parsed by [`wire`] but not used by the engine (a 100 ms
//! sample whose ids do not link it to a book state): counted as unknown.
#![forbid(unsafe_code)]

pub mod book;
pub mod instruments;
pub mod orders;
pub mod protocol;
pub mod wire;

use crate::feed::protocol::VenueProtocol;
use crate::feed::{VenueCounters, VenueHandler};
use crate::instrument::InstrumentDef;
use crate::types::{Price, Qty};
use crate::venues::handler::{emit_snapshot, emit_trades, Ctx, Handler, WireFormat};
use crate::venues::wire_util::{Buffers, Limits, WireError};
use crate::venues::{Exchange, KeyError, Venue, VenueCtx, VenueOptions};
use book::{BookIds, BookSync};
use std::sync::Arc;
use wire::{Action, Channel};

/// Buffer sizes of an OKX handler (`books` snapshots have 400 levels).
pub const LIMITS: Limits = Limits::per_message(1000, 1024);

/// OKX's wire format and handler rules (the [`WireFormat`] of [`OkxHandler`]); the wire symbol
/// is the OKX `instId`.
pub struct Okx {
    buf: Buffers,
}

impl Okx {
    /// Buffers for what `limits` allows in one message.
    pub fn new(limits: &Limits) -> Okx {
        Okx {
            buf: Buffers::new(limits),
        }
    }
}

/// Market-data handler for one OKX venue.
pub type OkxHandler = Handler<Okx>;

impl WireFormat for Okx {
    type Book = BookSync;

    fn new_book(&self) -> BookSync {
        BookSync::new()
    }

    fn on_message(&mut self, raw: &[u8], cx: Ctx<'_, '_, BookSync>) -> Result<(), WireError> {
        let Ctx { st, sink } = cx;
        if raw == b"pong" {
            return Err(WireError::Event);
        }
        let m = wire::parse(raw, &st.symbols, &mut self.buf)?;
        let (c, id) = (&*st.counters, st.symbols.get(m.inst).id);
        let ids = BookIds {
            seq_id: m.seq_id,
            prev_seq_id: m.prev_seq_id,
            checksum: m.checksum,
            ts_ms: m.ts_ms,
        };
        let (bids, asks) = (&self.buf.bids, &self.buf.asks);
        match m.channel {
            Channel::Books => {
                let book = &mut st.books[m.inst];
                if m.action == Action::Snapshot {
                    VenueCounters::inc(&c.snapshots);
                    book.on_snapshot(id, ids, bids, asks, sink, c);
                } else {
                    VenueCounters::inc(&c.depth_updates);
                    book.on_update(id, ids, bids, asks, sink, c);
                }
            }
            Channel::Books5 => {
                // every books5 push is a complete 5-level book
                VenueCounters::inc(&c.snapshots);
                let seq = m.seq_id.map(|s| s.max(0) as u64).unwrap_or(m.ts_ms);
                emit_snapshot(sink, id, seq, bids, asks, None);
            }
            Channel::BboTbt => {
                VenueCounters::inc(&c.bbo_updates);
                let seq = m.seq_id.map(|s| s.max(0) as u64).unwrap_or(m.ts_ms);
                let top = |s: &[crate::book::Level]| {
                    s.first()
                        .map(|l| (Price(l.px), Qty(l.qty)))
                        .unwrap_or((Price(0), Qty(0)))
                };
                sink.bbo(id, seq, top(bids), top(asks));
            }
            Channel::Trades => emit_trades(sink, id, &self.buf.trades, c),
            Channel::Tickers | Channel::Other => return Err(WireError::Unknown),
        }
        Ok(())
    }
}

/// A configured OKX venue (v5; spot, swaps and futures alike: the instrument type comes from
/// the instrument list).
#[derive(Clone, Debug)]
pub struct OkxVenue {
    options: VenueOptions,
}

/// Resolve a `[venues.<name>]` section with `exchange = "okx"`: `market`, `book_depth` are not
/// used (the `books` channel is 400 levels), `protocol` may only be `v5`.
pub fn configure(o: &VenueOptions) -> Result<Arc<dyn Venue>, KeyError> {
    if o.market.is_some() {
        return Err(KeyError::new(
            "market",
            "not used for okx (spot/swap/futures come from the instrument list)",
        ));
    }
    match o.protocol.as_deref() {
        None | Some("v5") => {}
        Some(p) => {
            return Err(KeyError::new(
                "protocol",
                format!("okx speaks v5, not {p:?}"),
            ))
        }
    }
    crate::venues::no_depth(Exchange::Okx, o, "`books` is 400 levels")?;
    Ok(Arc::new(OkxVenue { options: o.clone() }))
}

impl Venue for OkxVenue {
    fn sign_request(
        &self,
        creds: &crate::venues::Credentials,
        r: &crate::venues::SignRequest,
    ) -> Result<Vec<u8>, String> {
        orders::sign_request(creds, r)
    }

    fn exchange(&self) -> Exchange {
        Exchange::Okx
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
        Ok(Box::new(OkxHandler::new(
            ctx.id,
            ctx.instrument_refs(),
            Okx::new(&Limits {
                max_levels_per_msg: self.options.book_levels.max(400),
                ..LIMITS
            }),
            counters,
        )))
    }

    fn protocol(&self, ctx: &VenueCtx<'_>) -> Result<Box<dyn VenueProtocol>, String> {
        let symbols = ctx.symbols();
        let names = symbols.iter().map(|(_, s)| s.clone()).collect();
        Ok(crate::venues::adapt(
            protocol::OkxProtocol::new(names),
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
    use crate::event::MdKind;
    use crate::types::VenueId;
    use crate::types::{InstrumentId, Side};
    use crate::venues::testing::{assert_parse_errors, feed, iref};

    fn handler() -> OkxHandler {
        OkxHandler::new(
            VenueId(2),
            vec![iref(5, "BTC-USD-220527", 1, 0), iref(6, "BTC-USDT", 1, 8)],
            Okx::new(&LIMITS),
            Arc::new(VenueCounters::default()),
        )
    }

    // Real messages from ../shared/data/recorded/OKX.ws.1.0 (2022-05-13).
    const SNAP: &str = r#"{"arg":{"channel":"books","instId":"BTC-USD-220527"},"action":"snapshot","data":[{"asks":[["30238.8","2","0","1"],["30249.5","50","0","1"]],"bids":[["30210.4","4","0","1"]],"ts":"1652459225393","checksum":1054815633}]}"#;
    const UPD: &str = r#"{"arg":{"channel":"books","instId":"BTC-USD-220527"},"action":"update","data":[{"asks":[["30249.4","0","0","0"],["30261","4","0","1"],["30310.3","19","0","1"]],"bids":[["30182.6","452","0","1"]],"ts":"1652459225464","checksum":-914047754}]}"#;
    const TRADE: &str = r#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"338476307","px":"30236","sz":"0.0002","side":"buy","ts":"1652459224818"}]}"#;
    const TICKER: &str = r#"{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"instType":"SPOT","instId":"BTC-USDT","last":"30236","lastSz":"0.0002","askPx":"30228.7","askSz":"1.55896972","bidPx":"30228.6","bidSz":"0.23393","open24h":"29700.4","high24h":"31073","low24h":"28020.3","sodUtc0":"29028.8","sodUtc8":"30337.7","volCcy24h":"525802090.62716611","vol24h":"17602.13085371","ts":"1652459224956"}]}"#;
    const ACK: &str = r#"{"event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"}}"#;

    #[test]
    fn real_messages_table() {
        let mut h = handler();
        // update before any snapshot: dropped, not an error
        assert_eq!(feed(&mut h, UPD)[0].kind, MdKind::Noop);
        let ev = feed(&mut h, SNAP);
        let kinds: Vec<MdKind> = ev.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                MdKind::BookClear,
                MdKind::BookLevel,
                MdKind::BookLevel,
                MdKind::BookLevel,
                MdKind::BookCommit
            ]
        );
        assert_eq!((ev[1].side, ev[1].p0, ev[1].q0), (Side::Buy, 302104, 4));
        let commit = ev.last().unwrap();
        assert_eq!(commit.instrument, InstrumentId(5));
        assert_eq!(
            (commit.p1, commit.p0),
            (ChecksumKind::Top25Interleaved as i64, 1054815633)
        );
        let ev = feed(&mut h, UPD);
        assert_eq!(ev.len(), 5);
        // "30249.4","0" deletes: quantity 0, original digits kept for the checksum
        assert_eq!((ev[0].side, ev[0].p0, ev[0].q0), (Side::Buy, 301826, 452));
        assert_eq!((ev[1].side, ev[1].p0, ev[1].q0), (Side::Sell, 302494, 0));
        assert_eq!(ev[2].px_frac, 0, "\"30261\" has no fraction");
        assert_eq!(ev[4].venue_seq, 1652459225464);
        let ev = feed(&mut h, TRADE);
        assert_eq!(ev[0].kind, MdKind::Trade);
        assert_eq!(
            (
                ev[0].instrument,
                ev[0].p0,
                ev[0].q0,
                ev[0].side,
                ev[0].venue_seq
            ),
            (InstrumentId(6), 302360, 20_000, Side::Buy, 338476307)
        );
        for m in [TICKER, ACK, "pong"] {
            assert_eq!(feed(&mut h, m)[0].kind, MdKind::Noop);
        }
        let c = h.counters();
        assert_eq!(VenueCounters::get(&c.unknown_messages), 3);
        assert_eq!(VenueCounters::get(&c.parse_errors), 0);
        assert_eq!(VenueCounters::get(&c.stale_diffs), 1);
        assert_eq!(VenueCounters::get(&c.trades), 1);
    }

    #[test]
    fn bbo_tbt_and_seq_gap() {
        let mut h = handler();
        let ev = feed(
            &mut h,
            r#"{"arg":{"channel":"bbo-tbt","instId":"BTC-USDT"},"data":[{"asks":[["30243.5","1.44679","0","6"]],"bids":[["30243.4","0.5","0","2"]],"ts":"1652459225393","seqId":1234}]}"#,
        );
        assert_eq!(ev[0].kind, MdKind::Bbo);
        assert_eq!(
            (ev[0].p0, ev[0].q0, ev[0].p1, ev[0].q1, ev[0].venue_seq),
            (302434, 50_000_000, 302435, 144_679_000, 1234)
        );
        let s = r#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[["2","1","0","1"]],"bids":[["1","1","0","1"]],"ts":"1","checksum":0,"prevSeqId":-1,"seqId":10}]}"#;
        feed(&mut h, s);
        let u = |p: i64, q: i64| {
            format!(
                r#"{{"arg":{{"channel":"books","instId":"BTC-USDT"}},"action":"update","data":[{{"asks":[],"bids":[["1","2","0","1"]],"ts":"2","checksum":0,"prevSeqId":{p},"seqId":{q}}}]}}"#
            )
        };
        assert_eq!(
            feed(&mut h, u(10, 11)).last().unwrap().kind,
            MdKind::BookCommit
        );
        assert_eq!(feed(&mut h, u(12, 13))[0].kind, MdKind::BookInvalid);
        assert_eq!(VenueCounters::get(&h.counters().gaps), 1);
        let mut wanted = vec![];
        h.snapshot_wanted(&mut |i| wanted.push(i));
        assert_eq!(wanted, vec![InstrumentId(6)]);
    }

    #[test]
    fn malformed_variants_are_counted_not_panics() {
        let mut h = handler();
        feed(&mut h, SNAP);
        let cases: Vec<String> = vec![
            UPD[..UPD.len() / 2].to_string(),            // truncated
            UPD.replace(r#""ts":"1652459225464","#, ""), // missing ts
            UPD.replace(r#""asks":"#, r#""asx":"#),      // missing asks
            UPD.replace("30261", "30x61"),               // non-numeric price
            UPD.replace(r#""452""#, r#""-452""#),        // negative size
            UPD.replace("30182.6", "30182.65"),          // finer than the scale
            UPD.replace(r#","action":"update""#, ""),    // books without action
            UPD.replace(r#""action":"update""#, r#""action":"partial""#), // unknown action
            UPD.replace(
                r#"{"arg":{"channel":"books","instId":"BTC-USD-220527"},"#,
                "{",
            ), // no arg
            TRADE.replace(r#""side":"buy""#, r#""side":"up""#), // bad side
            TRADE.replace(r#""px":"30236","#, ""),       // trade without px
            format!(r#"{{"data":[],{}"#, &UPD[1..]),     // data before arg
            String::new(),
            "ping".into(),
            "\u{0}\u{1}garbage".into(),
            "[1,2,3]".into(),
        ];
        assert_parse_errors(&mut h, &cases);
        // well-formed but not ours
        feed(&mut h, TRADE.replace("BTC-USDT", "ETH-USDT"));
        feed(&mut h, TRADE.replace("trades", "candle1m"));
        assert_eq!(VenueCounters::get(&h.counters().unknown_messages), 2);
    }
}
