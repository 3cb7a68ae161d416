//! Bitget spot: `books` (snapshot + updates with CRC32 checksum, v2 `seq`) and `trade`, on the
//! v2 public socket (today's) or the v1 spot socket (the recording's; same messages but
//! `instType: "sp"`, no `seq`, trades as arrays). Symbols `BTCUSDT` (v1 REST `BTCUSDT_SPBL` is
//! accepted too).
//!
//! Files: [`wire`] (formats, real samples, doc links), [`book`] (snapshot/update/seq rules;
//! the checksum itself is [`mod@crate::book::checksum`]'s `Top25Interleaved`, checked on the
//! detection side), [`instruments`] (specs from v1 `products` / v2 `symbols`), [`protocol`]
//! (URL, subscriptions, text `ping` every 30 s, 24 h rotation). No `orders.rs` yet.
//!
//! The `ticker` channel has no sizes in v1 and is throttled in v2: parsed as "other", not used
//! as the top of book.
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
use crate::venues::symbols::{InstrumentRef, SymbolTable};
use crate::venues::wire_util::{Buffers, Limits, WireError};
use crate::venues::{Exchange, KeyError, Venue, VenueCtx, VenueOptions};
use book::ChecksumBook;
use std::sync::Arc;
use wire::Kind;

/// Buffer sizes of a Bitget handler (v2 `books` snapshots are full depth).
pub const LIMITS: Limits = Limits::per_message(5000, 1024);

/// The WebSocket `instId` of a configured symbol (`BTCUSDT_SPBL` → `BTCUSDT`).
pub fn ws_inst_id(symbol: &str) -> &str {
    symbol.strip_suffix("_SPBL").unwrap_or(symbol)
}

/// Bitget's wire format and handler rules (the [`WireFormat`] of [`BitgetHandler`]).
pub struct Bitget {
    bufs: Buffers,
}

impl Bitget {
    /// Buffers for what [`LIMITS`] allows in one message.
    pub fn new() -> Bitget {
        Bitget {
            bufs: Buffers::new(&LIMITS),
        }
    }
}

impl Default for Bitget {
    fn default() -> Bitget {
        Bitget::new()
    }
}

/// Market-data handler for one Bitget spot venue.
pub type BitgetHandler = Handler<Bitget>;

impl WireFormat for Bitget {
    type Book = ChecksumBook;

    /// The wire name of an instrument is the WebSocket `instId` ([`ws_inst_id`]), in any case.
    fn symbols(&self, mut refs: Vec<InstrumentRef>) -> SymbolTable {
        for r in &mut refs {
            r.symbol = ws_inst_id(&r.symbol).to_string();
        }
        SymbolTable::new(refs).case_insensitive()
    }

    fn new_book(&self) -> ChecksumBook {
        ChecksumBook::default()
    }

    fn on_message(&mut self, raw: &[u8], cx: Ctx<'_, '_, ChecksumBook>) -> Result<(), WireError> {
        let Ctx { st, sink } = cx;
        let m = wire::parse(raw, &st.symbols, &mut self.bufs)?;
        let (c, id) = (&*st.counters, st.symbols.get(m.inst).id);
        let (b, book) = (&self.bufs, &mut st.books[m.inst]);
        match m.kind {
            Kind::BookSnapshot => {
                VenueCounters::inc(&c.snapshots);
                VenueCounters::inc(&c.depth_updates);
                book.snapshot(id, m.seq, m.ts_ms, m.checksum, &b.bids, &b.asks, sink, c);
            }
            Kind::BookUpdate => {
                VenueCounters::inc(&c.depth_updates);
                let (ck, ts) = (m.checksum, m.ts_ms);
                book.update(id, m.seq, m.pseq, ts, ck, &b.bids, &b.asks, sink, c);
            }
            Kind::Trades => emit_trades(sink, id, &b.trades, c),
            Kind::Control | Kind::Error | Kind::Other => return Err(WireError::Unknown),
        }
        Ok(())
    }
}

/// A configured Bitget spot venue (one market, one protocol).
#[derive(Clone, Debug)]
pub struct BitgetVenue;

/// Resolve a `[venues.<name>]` section with `exchange = "bitget"`: `market`, `protocol` and
/// `book_depth` are not used.
pub fn configure(o: &VenueOptions) -> Result<Arc<dyn Venue>, KeyError> {
    crate::venues::no_market(Exchange::Bitget, o)?;
    crate::venues::no_protocol(Exchange::Bitget, o)?;
    crate::venues::no_depth(Exchange::Bitget, o, "`books` is the full checksummed book")?;
    Ok(Arc::new(BitgetVenue))
}

impl Venue for BitgetVenue {
    fn sign_request(
        &self,
        creds: &crate::venues::Credentials,
        r: &crate::venues::SignRequest,
    ) -> Result<Vec<u8>, String> {
        orders::sign_request(creds, r)
    }

    fn exchange(&self) -> Exchange {
        Exchange::Bitget
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
        Ok(Box::new(BitgetHandler::new(
            ctx.id,
            ctx.instrument_refs(),
            Bitget::new(),
            counters,
        )))
    }

    fn protocol(&self, ctx: &VenueCtx<'_>) -> Result<Box<dyn VenueProtocol>, String> {
        let symbols = ctx.symbols();
        Ok(crate::venues::adapt(
            protocol::BitgetProtocol::new(symbols.clone()),
            ctx,
            symbols,
            |p, _, i| p.resubscribe_frames(i),
        ))
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::ChecksumKind;
    use crate::book::Market;
    use crate::event::{MdEvent, MdKind};
    use crate::instrument::{InstrumentKind, InstrumentSpec};
    use crate::types::VenueId;
    use crate::types::{Amount, InstrumentId, Price, Qty};
    use crate::venues::testing::{self, iref};

    fn spec() -> InstrumentSpec {
        InstrumentSpec {
            id: InstrumentId(0),
            venue: VenueId(0),
            venue_name: "bitget".into(),
            symbol: "CULTUSDT_SPBL".into(),
            base: "CULT".into(),
            quote: "USDT".into(),
            kind: InstrumentKind::Spot,
            price_dec: 8,
            qty_dec: 0,
            tick_size: Price(1),
            lot_size: Qty(1),
            min_qty: Qty(1),
            max_qty: Qty(i64::MAX),
            min_notional: Amount(0),
            contract_size: Amount(100_000_000),
        }
    }

    fn handler() -> BitgetHandler {
        BitgetHandler::new(
            VenueId(0),
            vec![iref(0, "CULTUSDT_SPBL", 8, 0)],
            Bitget::new(),
            Arc::new(VenueCounters::default()),
        )
    }

    #[test]
    fn a_venue_with_no_instruments_counts_every_message_as_unknown() {
        // found by the md fuzz target: a message of another channel ("transaction", Bithumb's)
        // on a Bitget handler with no instruments indexed an empty table
        let c = Arc::new(VenueCounters::default());
        let mut h = BitgetHandler::new(VenueId(0), vec![], Bitget::new(), c.clone());
        for msg in [
            r#"{"type":"transaction","content":{"list":[{"contPrice":"7.524","symbol":"GOM2_KRW"}]}}"#,
            r#"{"event":"subscribe","arg":{"instType":"SP","channel":"books","instId":"CULTUSDT"}}"#,
            r#"{"action":"snapshot","arg":{"instType":"sp","channel":"books","instId":"CULTUSDT"},"data":[]}"#,
        ] {
            let ev = testing::feed(&mut h, msg);
            assert!(
                ev.iter().all(|e| !matches!(
                    e.kind,
                    MdKind::BookLevel | MdKind::BookCommit | MdKind::Bbo | MdKind::Trade
                )),
                "{ev:?}"
            );
        }
        assert_eq!(
            (
                c.unknown_messages
                    .load(std::sync::atomic::Ordering::Relaxed),
                c.parse_errors.load(std::sync::atomic::Ordering::Relaxed)
            ),
            (3, 0)
        );
    }

    fn feed(h: &mut BitgetHandler, m: &mut Market, msg: &str) -> Vec<MdEvent> {
        let v = testing::feed(h, msg);
        for e in &v {
            m.apply(e, &mut |_| {});
        }
        v
    }

    /// The first two `books` messages of CULTUSDT in BITGET.ws.1.0, verbatim: the checksums
    /// are Bitget's, checked against the book this code rebuilds.
    fn real_messages() -> (String, String) {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/data/recorded/BITGET.ws.1.0"
        );
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut it = text
            .lines()
            .filter(|l| {
                l.contains(r#""channel":"books","instId":"CULTUSDT"}"#) && l.contains("\"action\"")
            })
            .map(|l| l.split_once(": ").unwrap().1.to_string());
        (it.next().unwrap(), it.next().unwrap())
    }

    #[test]
    fn real_snapshot_and_update_pass_the_checksum() {
        let (snap, upd) = real_messages();
        assert!(
            snap.starts_with(r#"{"action":"snapshot""#) && upd.starts_with(r#"{"action":"update""#)
        );
        let mut h = handler();
        let mut m = Market::from_specs(vec![spec()], 1, &[5000]);
        let ev = feed(&mut h, &mut m, &snap);
        let commit = ev.last().unwrap();
        assert_eq!(
            (commit.kind, commit.p1),
            (MdKind::BookCommit, ChecksumKind::Top25Interleaved as i64)
        );
        assert_eq!(commit.p0, 485516490);
        feed(&mut h, &mut m, &upd);
        assert_eq!(
            (m.health[0].checksums_ok, m.health[0].checksum_mismatches),
            (2, 0)
        );
        assert!(m.books[0].valid);
        // the same update with one size changed: the checksum no longer matches, the book is invalid
        let (_, upd2) = real_messages();
        let bad = upd2.replacen("\"600000\"", "\"600001\"", 1);
        assert_ne!(bad, upd2);
        let mut h = handler();
        let mut m = Market::from_specs(vec![spec()], 1, &[5000]);
        feed(&mut h, &mut m, &snap);
        feed(&mut h, &mut m, &bad);
        assert_eq!(
            (m.health[0].checksums_ok, m.health[0].checksum_mismatches),
            (1, 1)
        );
        assert!(!m.books[0].valid);
    }

    #[test]
    fn malformed_variants_are_counted_never_panic() {
        let (snap, upd) = real_messages();
        let mut h = handler();
        let mut m = Market::from_specs(vec![spec()], 1, &[5000]);
        let cases = [
            snap[..snap.len() / 3].to_string(),
            upd.replace("\"checksum\":-", "\"checksum\":0.5,\"x\":-"), // non-integer checksum
            upd.replacen("\"600000\"", "\"6x0000\"", 1),
            upd.replacen("\"600000\"", "\"600000.5\"", 1), // finer than quantityScale 0
            "{".to_string(),
            "ping".to_string(),
        ];
        testing::assert_parse_errors(&mut h, &cases);
        feed(&mut h, &mut m, "pong");
        assert_eq!(VenueCounters::get(&h.counters().unknown_messages), 1);
        assert_eq!(ws_inst_id("BTCUSDT_SPBL"), "BTCUSDT");
        assert_eq!(ws_inst_id("BTCUSDT"), "BTCUSDT");
    }
}
