//! `verify-book` for Bitget recordings (`BITGET.ws.*`, v1 spot or v2): `books` snapshots and
//! updates through [`crate::venues::bitget::BitgetHandler`]; every message's CRC32 checksum is
//! checked by the detection side against the rebuilt book (`checksums_ok` /
//! `checksum_mismatches`); v2 `seq`/`pseq` breaks count as gaps.
#![forbid(unsafe_code)]

use super::session::{self, sorted};
use super::{RecLine, VerifyReport};
use crate::feed::VenueCounters;
use crate::types::VenueId;
use crate::venues::bitget::{Bitget, BitgetHandler};
use crate::venues::wire_util::Scale;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Decimals used for every symbol.
pub const DEC: u32 = 10;

/// `instId`s of the subscriptions and the messages.
pub fn inst_ids(lines: &[RecLine]) -> Vec<String> {
    let mut s = BTreeSet::new();
    let mut add = |a: &Value| {
        if let Some(i) = a.get("instId").and_then(Value::as_str) {
            s.insert(i.to_string());
        }
    };
    for l in lines {
        let (RecLine::Sent { payload, .. } | RecLine::Recv { payload, .. }) = l else {
            continue;
        };
        let Ok(v) = serde_json::from_slice::<Value>(payload) else {
            continue;
        };
        match v.get("args").or_else(|| v.get("arg")) {
            Some(Value::Array(a)) => a.iter().for_each(&mut add),
            Some(a) => add(a),
            None => {}
        }
    }
    sorted(s)
}

/// Verify one Bitget session.
pub fn verify(lines: &[RecLine], http: &[RecLine], rep: &mut VerifyReport) {
    let syms = inst_ids(lines);
    let specs = session::specs(
        "bitget",
        &syms,
        Scale {
            price_dec: DEC,
            qty_dec: DEC,
        },
    );
    let mut h = BitgetHandler::new(
        VenueId(0),
        session::refs(&specs),
        Bitget::new(),
        Arc::new(VenueCounters::default()),
    );
    let input = session::inputs(lines, http, &|_| None);
    session::run(&mut h, specs, &input, rep);
}
