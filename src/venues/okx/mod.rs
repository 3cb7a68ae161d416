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
pub mod protocol;
pub mod wire;

use crate::feed::protocol::VenueProtocol;
use crate::feed::{EventSink, VenueCounters, VenueHandler};
use crate::instrument::InstrumentDef;
use crate::ring::RawMeta;
use crate::types::{InstrumentId, Side, VenueId};
use crate::venues::symbols::{InstrumentRef, SymbolTable};
use crate::venues::{Exchange, KeyError, Venue, VenueCtx, VenueOptions};
use book::{BookIds, BookSync};
use std::sync::Arc;
use wire::{Action, Buffers, Channel, WireError};

/// Sizes of the handler's preallocated buffers.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Levels per side in one message (`books` snapshots have 400).
    pub max_levels_per_msg: usize,
    /// Trades in one message.
    pub max_trades_per_msg: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_levels_per_msg: 1000,
            max_trades_per_msg: 1024,
        }
    }
}

/// Market-data handler for one OKX venue.
pub struct OkxHandler {
    venue: VenueId,
    symbols: SymbolTable,
    sync: Vec<BookSync>,
    buf: Buffers,
    counters: Arc<VenueCounters>,
}

impl OkxHandler {
    /// A handler for `instruments` (wire symbol = OKX `instId`).
    pub fn new(
        venue: VenueId,
        instruments: Vec<InstrumentRef>,
        limits: Limits,
        counters: Arc<VenueCounters>,
    ) -> OkxHandler {
        let n = instruments.len();
        OkxHandler {
            venue,
            symbols: SymbolTable::new(instruments),
            sync: (0..n).map(|_| BookSync::new()).collect(),
            buf: Buffers::with_capacity(limits.max_levels_per_msg, limits.max_trades_per_msg),
            counters,
        }
    }

    /// Sync state of handler instrument `k`.
    pub fn sync(&self, k: usize) -> Option<&BookSync> {
        self.sync.get(k)
    }
}

impl VenueHandler for OkxHandler {
    fn venue(&self) -> VenueId {
        self.venue
    }

    fn counters(&self) -> &Arc<VenueCounters> {
        &self.counters
    }

    fn on_message(&mut self, raw: &[u8], _meta: &RawMeta, sink: &mut EventSink<'_>) {
        let c = &*self.counters;
        if raw == b"pong" {
            VenueCounters::inc(&c.unknown_messages);
            return;
        }
        let m = match wire::parse(raw, &self.symbols, &mut self.buf) {
            Ok(m) => m,
            Err(WireError::Event) | Err(WireError::Unknown) => {
                VenueCounters::inc(&c.unknown_messages);
                return;
            }
            Err(WireError::Malformed) => {
                VenueCounters::inc(&c.parse_errors);
                return;
            }
        };
        let id = self.symbols.get(m.inst).id;
        let ids = BookIds {
            seq_id: m.seq_id,
            prev_seq_id: m.prev_seq_id,
            checksum: m.checksum,
            ts_ms: m.ts_ms,
        };
        let (bids, asks) = (&self.buf.bids, &self.buf.asks);
        match m.channel {
            Channel::Books => {
                let st = &mut self.sync[m.inst];
                if m.action == Action::Snapshot {
                    VenueCounters::inc(&c.snapshots);
                    st.on_snapshot(id, ids, bids, asks, sink, c);
                } else {
                    VenueCounters::inc(&c.depth_updates);
                    st.on_update(id, ids, bids, asks, sink, c);
                }
            }
            Channel::Books5 => {
                // every books5 push is a complete 5-level book
                VenueCounters::inc(&c.snapshots);
                let seq = m.seq_id.map(|s| s.max(0) as u64).unwrap_or(m.ts_ms);
                sink.clear(id, seq);
                for l in bids {
                    sink.level(id, Side::Buy, l.px, l.qty, (l.px_frac, l.qty_frac), true);
                }
                for l in asks {
                    sink.level(id, Side::Sell, l.px, l.qty, (l.px_frac, l.qty_frac), true);
                }
                sink.commit(id, seq, true, (0, 0));
            }
            Channel::BboTbt => {
                VenueCounters::inc(&c.bbo_updates);
                let seq = m.seq_id.map(|s| s.max(0) as u64).unwrap_or(m.ts_ms);
                let b = bids.first().map(|l| (l.px, l.qty)).unwrap_or((0, 0));
                let a = asks.first().map(|l| (l.px, l.qty)).unwrap_or((0, 0));
                sink.bbo(id, seq, b, a);
            }
            Channel::Trades => {
                for t in &self.buf.trades {
                    VenueCounters::inc(&c.trades);
                    let side = if t.taker_buy { Side::Buy } else { Side::Sell };
                    sink.trade(id, t.trade_id, t.px, t.qty, side);
                }
            }
            Channel::Tickers | Channel::Other => VenueCounters::inc(&c.unknown_messages),
        }
    }

    fn on_disconnect(&mut self, sink: &mut EventSink<'_>) {
        for (k, st) in self.sync.iter_mut().enumerate() {
            st.on_disconnect(self.symbols.get(k).id, sink);
        }
    }

    fn snapshot_wanted(&mut self, out: &mut dyn FnMut(InstrumentId)) {
        for (k, st) in self.sync.iter_mut().enumerate() {
            if st.take_resync_request() {
                out(self.symbols.get(k).id);
            }
        }
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
            Limits {
                max_levels_per_msg: self.options.book_levels.max(400),
                ..Limits::default()
            },
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
    use crate::event::{MdEvent, MdKind};
    use crate::venues::wire_util::Scale;

    fn handler() -> OkxHandler {
        OkxHandler::new(
            VenueId(2),
            vec![
                InstrumentRef {
                    id: InstrumentId(5),
                    symbol: "BTC-USD-220527".into(),
                    scale: Scale {
                        price_dec: 1,
                        qty_dec: 0,
                    },
                },
                InstrumentRef {
                    id: InstrumentId(6),
                    symbol: "BTC-USDT".into(),
                    scale: Scale {
                        price_dec: 1,
                        qty_dec: 8,
                    },
                },
            ],
            Limits::default(),
            Arc::new(VenueCounters::default()),
        )
    }

    fn feed(h: &mut OkxHandler, msg: &str) -> Vec<MdEvent> {
        let mut v = vec![];
        let mut sink = EventSink::to_vec(&mut v);
        sink.begin(VenueId(2), &RawMeta::default(), 0);
        h.on_message(msg.as_bytes(), &RawMeta::default(), &mut sink);
        sink.end();
        v
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
        let c = &h.counters;
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
            feed(&mut h, &u(10, 11)).last().unwrap().kind,
            MdKind::BookCommit
        );
        assert_eq!(feed(&mut h, &u(12, 13))[0].kind, MdKind::BookInvalid);
        assert_eq!(VenueCounters::get(&h.counters.gaps), 1);
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
        for (i, m) in cases.iter().enumerate() {
            let ev = feed(&mut h, m);
            assert_eq!(ev.len(), 1, "case {i}: {m}");
            assert_eq!(ev[0].kind, MdKind::Noop, "case {i}");
        }
        assert_eq!(
            VenueCounters::get(&h.counters.parse_errors),
            cases.len() as u64
        );
        // well-formed but not ours
        feed(&mut h, &TRADE.replace("BTC-USDT", "ETH-USDT"));
        feed(&mut h, &TRADE.replace("trades", "candle1m"));
        assert_eq!(VenueCounters::get(&h.counters.unknown_messages), 2);
    }
}
