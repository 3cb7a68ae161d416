//! What the venue adapters' tests share: feeding a message to a handler, reading a shared
//! recording, instrument references and tables, the spec of a parsed instrument.
#![forbid(unsafe_code)]

use crate::event::{MdEvent, MdKind};
use crate::feed::{EventSink, VenueCounters, VenueHandler};
use crate::instrument::{InstrumentDef, InstrumentSpec};
use crate::ring::RawMeta;
use crate::types::{InstrumentId, VenueId};
use crate::venues::symbols::{InstrumentRef, SymbolTable};
use crate::venues::wire_util::Scale;

/// The events `h` writes for one stream message (on the handler's venue, no tag).
pub(crate) fn feed(h: &mut dyn VenueHandler, msg: impl AsRef<[u8]>) -> Vec<MdEvent> {
    feed_tagged(h, msg, 0)
}

/// The events `h` writes for one message with feed tag `t` ([`crate::feed::tag`]).
pub(crate) fn feed_tagged(h: &mut dyn VenueHandler, msg: impl AsRef<[u8]>, t: u32) -> Vec<MdEvent> {
    let meta = RawMeta {
        tag: t,
        ..RawMeta::default()
    };
    let mut v = vec![];
    let mut sink = EventSink::to_vec(&mut v);
    sink.begin(h.venue(), &meta, 0);
    h.on_message(msg.as_ref(), &meta, &mut sink);
    sink.end();
    v
}

/// The events `h` writes when its connection drops.
pub(crate) fn disconnect(h: &mut dyn VenueHandler) -> Vec<MdEvent> {
    let mut v = vec![];
    let mut sink = EventSink::to_vec(&mut v);
    sink.begin(h.venue(), &RawMeta::default(), 0);
    h.on_disconnect(&mut sink);
    sink.end();
    v
}

/// One file of the shared recordings (`../shared/data/recorded/<name>`), as text.
pub(crate) fn recorded(name: &str) -> String {
    let path = format!(
        "{}/../shared/data/recorded/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("recording {name} missing at {path}: {e}"))
}

/// An instrument reference: engine id, wire symbol, price and quantity decimals.
pub(crate) fn iref(id: u16, symbol: &str, price_dec: u32, qty_dec: u32) -> InstrumentRef {
    InstrumentRef {
        id: InstrumentId(id),
        symbol: symbol.into(),
        scale: Scale { price_dec, qty_dec },
    }
}

/// An exact table of `symbols` at one scale, engine ids = handler indices.
pub(crate) fn table(symbols: &[&str], price_dec: u32, qty_dec: u32) -> SymbolTable {
    SymbolTable::new(
        symbols
            .iter()
            .zip(0..)
            .map(|(s, i)| iref(i, s, price_dec, qty_dec))
            .collect(),
    )
}

/// The spec (instrument 0 of venue 0) of `symbol` in a parsed instrument list.
pub(crate) fn spec(defs: &[InstrumentDef], symbol: &str) -> InstrumentSpec {
    defs.iter()
        .find(|d| d.symbol == symbol)
        .unwrap_or_else(|| panic!("{symbol} missing"))
        .to_spec(InstrumentId(0), VenueId(0))
        .unwrap_or_else(|e| panic!("{symbol}: {e}"))
}

/// Every instrument of a parsed list converts to a valid spec (ids = positions).
pub(crate) fn all_specs(defs: &[InstrumentDef]) {
    for (i, d) in defs.iter().enumerate() {
        d.to_spec(InstrumentId(i as u16), VenueId(0))
            .unwrap_or_else(|e| panic!("{}: {e}", d.symbol));
    }
}

/// Every one of `cases` is refused: nothing but the `Noop` that ends a message, and one more
/// `parse_errors` each.
pub(crate) fn assert_parse_errors<M: AsRef<[u8]>>(h: &mut dyn VenueHandler, cases: &[M]) {
    let before = VenueCounters::get(&h.counters().parse_errors);
    for (i, c) in cases.iter().enumerate() {
        let ev = feed(h, c);
        let text = String::from_utf8_lossy(c.as_ref());
        assert_eq!(
            (ev.len(), ev[0].kind),
            (1, MdKind::Noop),
            "case {i}: {text}"
        );
    }
    let after = VenueCounters::get(&h.counters().parse_errors);
    assert_eq!(
        after - before,
        cases.len() as u64,
        "one parse error per case"
    );
}
