//! `verify-book` for Gate.io v4 recordings (`GATEIO.ws.*`, plus `GATEIO.http.*` REST snapshots
//! `order_book?…&with_id=true` when present): `spot.order_book_update` diffs through
//! [`crate::venues::gateio::GateHandler`], whose `U`/`u` rules count every break in a pair's
//! update chain as a gap, buffered or applied; books are built once a snapshot bridges the
//! chain (`U <= id+1 <= u`) and compared with `spot.book_ticker` at the same `u`.
//!
//! The shared recording has no `GATEIO.http.*` companion, so its books cannot be built: the
//! report then shows the chain check (`gaps`) with `instruments: 0`.
#![forbid(unsafe_code)]

use super::session::{self, query_param, sorted};
use super::{RecLine, VerifyReport};
use crate::feed::VenueCounters;
use crate::types::VenueId;
use crate::venues::gateio::{instruments::WIRE_DECIMALS, Gate, GateHandler, LIMITS};
use crate::venues::wire_util::Scale;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Currency pairs of the subscriptions, the messages and the snapshot URLs.
pub fn pairs(lines: &[RecLine], http: &[RecLine]) -> Vec<String> {
    let mut s = BTreeSet::new();
    for l in lines {
        let (RecLine::Sent { payload, .. } | RecLine::Recv { payload, .. }) = l else {
            continue;
        };
        let Ok(v) = serde_json::from_slice::<Value>(payload) else {
            continue;
        };
        let ch = v.get("channel").and_then(Value::as_str).unwrap_or("");
        if !matches!(
            ch,
            "spot.order_book_update" | "spot.book_ticker" | "spot.trades"
        ) {
            continue;
        }
        for p in v
            .get("payload")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(p) = p.as_str().filter(|p| p.contains('_')) {
                s.insert(p.to_string());
            }
        }
        if let Some(r) = v.get("result") {
            for k in ["s", "currency_pair"] {
                if let Some(p) = r.get(k).and_then(Value::as_str) {
                    s.insert(p.to_string());
                }
            }
        }
    }
    for h in http {
        if let RecLine::Http { url, .. } = h {
            if let Some(p) = query_param(url, "currency_pair") {
                s.insert(p.to_string());
            }
        }
    }
    sorted(s)
}

/// Verify one Gate.io session.
pub fn verify(lines: &[RecLine], http: &[RecLine], rep: &mut VerifyReport) {
    let syms = pairs(lines, http);
    let sc = Scale {
        price_dec: WIRE_DECIMALS,
        qty_dec: WIRE_DECIMALS,
    };
    let specs = session::specs("gateio", &syms, sc);
    let mut h = GateHandler::new(
        VenueId(0),
        session::refs(&specs),
        Gate::new(&LIMITS),
        Arc::new(VenueCounters::default()),
    );
    let snap_inst = |url: &str| -> Option<u16> {
        let p = query_param(url, "currency_pair")?;
        syms.iter().position(|s| s == p).map(|i| i as u16)
    };
    let input = session::inputs(lines, http, &snap_inst);
    let out = session::run(&mut h, specs, &input, rep);
    session::check_bbo(&out.commit_top, &out.bbo, rep);
}
