//! `verify-book` for KuCoin recordings (`KUCOIN.ws.*` + the `KUCOIN.http.*` REST level-2
//! snapshots of the same run): the diffs are calibrated against the snapshots by
//! [`crate::venues::kucoin::KucoinHandler`] (sequence gaps counted), and the rebuilt book's
//! best bid/ask is compared with KuCoin's own `trade.ticker` wherever the ticker's `sequence`
//! equals the book's sequence after a diff (both then describe the same book state).
#![forbid(unsafe_code)]

use super::session::{self, query_param, sorted};
use super::{RecLine, VerifyReport};
use crate::feed::VenueCounters;
use crate::types::VenueId;
use crate::venues::kucoin::wire::{self, Kind};
use crate::venues::kucoin::{Kucoin, KucoinHandler, LIMITS};
use crate::venues::symbols::SymbolTable;
use crate::venues::wire_util::{Buffers, Scale};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// Price decimals used for every symbol (KuCoin quotes prices with at most 10).
pub const DEC: u32 = 10;
/// Size decimals (KuCoin's base increments go to 8; finer book sizes are truncated and
/// counted by the parser).
pub const QTY_DEC: u32 = 8;

/// Symbols of the subscriptions, the messages' topics and the snapshot URLs.
pub fn symbols(lines: &[RecLine], http: &[RecLine]) -> Vec<String> {
    let mut s = BTreeSet::new();
    let mut topic = |t: &str| {
        if let Some((chan, syms)) = t.rsplit_once(':') {
            if chan.starts_with("/market/level2")
                || chan == "/market/ticker"
                || chan == "/market/match"
            {
                for x in syms.split(',') {
                    s.insert(x.to_string());
                }
            }
        }
    };
    for l in lines {
        if let RecLine::Sent { payload, .. } | RecLine::Recv { payload, .. } = l {
            if let Ok(v) = serde_json::from_slice::<Value>(payload) {
                if let Some(t) = v.get("topic").and_then(Value::as_str) {
                    topic(t);
                }
            }
        }
    }
    for h in http {
        if let RecLine::Http { url, .. } = h {
            if let Some(sym) = query_param(url, "symbol") {
                s.insert(sym.to_string());
            }
        }
    }
    sorted(s)
}

/// Verify one KuCoin session.
pub fn verify(lines: &[RecLine], http: &[RecLine], rep: &mut VerifyReport) {
    let syms = symbols(lines, http);
    let specs = session::specs(
        "kucoin",
        &syms,
        Scale {
            price_dec: DEC,
            qty_dec: QTY_DEC,
        },
    );
    let mut h = KucoinHandler::new(
        VenueId(0),
        session::refs(&specs),
        Kucoin::new(&LIMITS),
        Arc::new(VenueCounters::default()),
    );
    let snap_inst = |url: &str| -> Option<u16> {
        let sym = query_param(url, "symbol")?;
        syms.iter().position(|s| s == sym).map(|i| i as u16)
    };
    let input = session::inputs(lines, http, &snap_inst);
    let table = SymbolTable::new(session::refs(&specs));
    let out = session::run(&mut h, specs, &input, rep);
    // KuCoin's ticker, parsed by the venue's own parser: (instrument, sequence) → top
    let mut tick: HashMap<(u16, u64), session::Top> = HashMap::new();
    let mut book = Buffers::new(&LIMITS);
    for l in lines {
        if let RecLine::Recv { payload, .. } = l {
            if let Ok(m) = wire::parse(payload, &table, &mut book) {
                if m.kind == Kind::Ticker {
                    tick.insert((m.inst as u16, m.seq), m.bbo);
                }
            }
        }
    }
    session::check_bbo(&out.commit_top, &tick, rep);
}
