//! `verify-book` for Bithumb recordings: the legacy feed (`pubwss.bithumb.com`, the recorded
//! session) or the Upbit-compatible v1 feed, through
//! [`crate::venues::bithumb::BithumbHandler`] and the detection-side books. Neither feed has a
//! sequence or a checksum; books (when the recording has any) are validated in full at every
//! commit. The recorded session holds trades and status replies only: it proves parsing, and
//! reports `book_messages: 0`, `instruments: 0` as such.
#![forbid(unsafe_code)]

use super::session::{self, sorted};
use super::{RecLine, VerifyReport};
use crate::feed::VenueCounters;
use crate::types::VenueId;
use crate::venues::bithumb::{instruments::DECIMALS, Bithumb, BithumbHandler, Feed};
use crate::venues::wire_util::Scale;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;

/// The feed generation of a recording, from its URL.
pub fn feed_of_url(url: &str) -> Feed {
    if url.contains("pubwss.bithumb.com") {
        Feed::Legacy
    } else {
        Feed::V1
    }
}

/// Symbols in the subscription frames and the messages.
pub fn symbols(lines: &[RecLine]) -> Vec<String> {
    let mut s = BTreeSet::new();
    let mut add = |v: Option<&Value>| {
        if let Some(c) = v.and_then(Value::as_str) {
            s.insert(c.split('.').next().unwrap_or(c).to_ascii_uppercase());
        }
    };
    for l in lines {
        let (RecLine::Sent { payload, .. } | RecLine::Recv { payload, .. }) = l else {
            continue;
        };
        let Ok(v) = serde_json::from_slice::<Value>(payload) else {
            continue;
        };
        let objs: Vec<&Value> = match &v {
            Value::Array(a) => a.iter().collect(),
            o => vec![o],
        };
        for o in objs {
            for k in ["symbols", "codes"] {
                for c in o.get(k).and_then(Value::as_array).into_iter().flatten() {
                    add(Some(c));
                }
            }
            add(o.get("cd").or_else(|| o.get("code")));
            if let Some(c) = o.get("content") {
                add(c.get("symbol"));
                for it in c
                    .get("list")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    add(it.get("symbol"));
                }
            }
        }
    }
    sorted(s)
}

/// Verify one Bithumb session.
pub fn verify(lines: &[RecLine], http: &[RecLine], rep: &mut VerifyReport) {
    let url = lines.iter().find_map(|l| match l {
        RecLine::Connect { url, .. } => Some(url.as_str()),
        _ => None,
    });
    let feed = url.map(feed_of_url).unwrap_or(Feed::V1);
    let syms = symbols(lines);
    let sc = Scale {
        price_dec: DECIMALS,
        qty_dec: DECIMALS,
    };
    let specs = session::specs("bithumb", &syms, sc);
    let mut h = BithumbHandler::new(
        VenueId(0),
        session::refs(&specs),
        Bithumb::new(feed),
        Arc::new(VenueCounters::default()),
    );
    let input = session::inputs(lines, http, &|_| None);
    session::run(&mut h, specs, &input, rep);
}
