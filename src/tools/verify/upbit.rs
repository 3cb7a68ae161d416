//! `verify-book` for Upbit recordings (`UPBIT.ws.*`): every message through
//! [`crate::venues::upbit::UpbitHandler`] and the detection-side books. Upbit sends full
//! top-N books with no sequence and no checksum, so what is proven is: every message parses
//! (both field formats), every snapshot replaces its book in timestamp order, and every
//! rebuilt book passes the full R1.3 validation (ordered, positive, not crossed; a failure is
//! counted in `bbo_mismatches`). There is no venue BBO stream to compare with.
#![forbid(unsafe_code)]

use super::session::{self, sorted};
use super::{RecLine, VerifyReport};
use crate::feed::VenueCounters;
use crate::types::VenueId;
use crate::venues::upbit::{instruments::DECIMALS, Upbit, UpbitHandler};
use crate::venues::wire_util::Scale;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Market codes in the subscription frames and the messages (`KRW-BTC.5` → `KRW-BTC`).
pub fn codes(lines: &[RecLine]) -> Vec<String> {
    let mut s = BTreeSet::new();
    let mut add = |c: &str| {
        let c = c.split('.').next().unwrap_or(c);
        if !c.is_empty() {
            s.insert(c.to_ascii_uppercase());
        }
    };
    for l in lines {
        match l {
            RecLine::Sent { payload, .. } => {
                if let Ok(Value::Array(reqs)) = serde_json::from_slice::<Value>(payload) {
                    for r in reqs {
                        for c in r
                            .get("codes")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                        {
                            if let Some(c) = c.as_str() {
                                add(c);
                            }
                        }
                    }
                }
            }
            RecLine::Recv { payload, .. } => {
                if let Ok(v) = serde_json::from_slice::<Value>(payload) {
                    if let Some(c) = v
                        .get("cd")
                        .or_else(|| v.get("code"))
                        .and_then(Value::as_str)
                    {
                        add(c);
                    }
                }
            }
            _ => {}
        }
    }
    sorted(s)
}

/// Verify one Upbit session.
pub fn verify(lines: &[RecLine], http: &[RecLine], rep: &mut VerifyReport) {
    let syms = codes(lines);
    let sc = Scale {
        price_dec: DECIMALS,
        qty_dec: DECIMALS,
    };
    let specs = session::specs("upbit", &syms, sc);
    let mut h = UpbitHandler::new(
        VenueId(0),
        session::refs(&specs),
        Upbit::new(),
        Arc::new(VenueCounters::default()),
    );
    let input = session::inputs(lines, http, &|_| None);
    session::run(&mut h, specs, &input, rep);
}
