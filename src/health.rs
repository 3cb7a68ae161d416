//! Loud bad data: a venue whose parse errors exceed a share of its recent messages is marked
//! unhealthy (not traded for the rest of the run), with an error naming the likely cause.
//!
//! Hot side ([`check`], called by the shared handler after every message): counters only. The
//! first check comes after `run.bad_data_first_msgs` messages (so a wrong instrument spec is
//! caught at the first messages), then one per `run.bad_data_window_msgs` messages, each over
//! the messages since the previous check. Crossing `run.max_parse_error_share_pct` emits a
//! [`crate::event::MdKind::VenueStatus`] event with `p0 = -1` (sticky: the venue stays down)
//! and a [`LogCode::BadData`] record. The first unparsable message is kept in a buffer
//! reserved at start ([`VenueCounters::keep_sample`]).
//!
//! Cold side ([`diagnose`], on the logger thread and in the report): the kept message is fed
//! to fresh handlers built with one instrument's price or quantity decimals raised; the one
//! that then parses names the instrument and the field, and a walk over the JSON finds the
//! wire value with more decimals than the spec allows.
//!
//! Unknown messages (well-formed but unused: heartbeats, acks, other channels) are counted and
//! reported, not gated: on a quiet feed heartbeats can be most of the traffic.
#![forbid(unsafe_code)]

use crate::config::Setup;
use crate::feed::{EventSink, VenueCounters};
use crate::ring::RawMeta;
use crate::types::VenueId;
use std::sync::Arc;

/// Bytes of the first unparsable message kept for the diagnosis.
pub const SAMPLE_BYTES: usize = 16 << 10;

/// Thresholds of the bad-data check (from `[run]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// First check after this many messages.
    pub first_msgs: u64,
    /// Then one check per this many messages.
    pub window_msgs: u64,
    /// Share of parse errors allowed, in parts per million.
    pub max_ppm: u64,
}

impl Limits {
    /// From `[run]`.
    pub fn from_run(r: &crate::config::RunConfig) -> Limits {
        Limits {
            first_msgs: r.bad_data_first_msgs.max(1),
            window_msgs: r.bad_data_window_msgs.max(1),
            max_ppm: (r.max_parse_error_share_pct.clamp(0.0, 100.0) * 10_000.0).round() as u64,
        }
    }
}

/// After a message: check the venue's parse-error share if a check is due. Returns true the
/// first time the venue crosses the limit (it is then marked unhealthy and stays so).
/// Counters only: no allocation, no lock.
#[inline]
pub fn check(c: &VenueCounters) -> bool {
    let g = VenueCounters::get;
    let window = g(&c.health_window_msgs);
    if window == 0 || g(&c.unhealthy) != 0 {
        return false;
    }
    let m = g(&c.messages);
    let m0 = g(&c.health_m0);
    let span = m.saturating_sub(m0);
    let due = if m0 == 0 {
        m >= g(&c.health_first_msgs)
    } else {
        span >= window
    };
    if !due || span == 0 {
        return false;
    }
    let b = g(&c.parse_errors);
    let bad = b.saturating_sub(g(&c.health_b0));
    c.health_m0.store(m, std::sync::atomic::Ordering::Relaxed);
    c.health_b0.store(b, std::sync::atomic::Ordering::Relaxed);
    let ppm = bad.saturating_mul(1_000_000) / span;
    if ppm <= g(&c.health_max_ppm) {
        return false;
    }
    let st = |a: &std::sync::atomic::AtomicU64, v| a.store(v, std::sync::atomic::Ordering::Relaxed);
    st(&c.unhealthy, 1);
    st(&c.bad_window_msgs, span);
    st(&c.bad_window_errors, bad);
    true
}

/// The shared handler's hook: check, and on crossing emit the sticky venue-down event and the
/// log record (the logger builds the text on its thread).
#[inline]
pub fn after_message(c: &VenueCounters, sink: &mut EventSink<'_>) {
    if check(c) {
        sink.venue_bad_data(
            VenueCounters::get(&c.bad_window_errors),
            VenueCounters::get(&c.bad_window_msgs),
        );
    }
}

/// Parse-error share of a whole run, in percent.
pub fn share_pct(c: &VenueCounters) -> f64 {
    let m = VenueCounters::get(&c.messages);
    if m == 0 {
        return 0.0;
    }
    VenueCounters::get(&c.parse_errors) as f64 * 100.0 / m as f64
}

/// True if the venue was marked unhealthy during the run or its whole-run share of parse
/// errors is over the limit.
pub fn is_bad(setup: &Setup, c: &VenueCounters) -> bool {
    VenueCounters::get(&c.unhealthy) != 0 || share_pct(c) > setup.cfg.run.max_parse_error_share_pct
}

/// The error text of every venue whose data is bad ([`is_bad`]), for the end of a run.
pub fn errors(setup: &Setup, counters: &[Arc<VenueCounters>]) -> Vec<String> {
    setup
        .venues
        .iter()
        .filter(|v| counters.get(v.id.idx()).is_some_and(|c| is_bad(setup, c)))
        .map(|v| message(setup, v.id, &counters[v.id.idx()]))
        .collect()
}

/// The error text for venue `v` (cold): what crossed the limit and the likely cause.
pub fn message(setup: &Setup, v: VenueId, c: &VenueCounters) -> String {
    let name = &setup.venues[v.idx()].name;
    let g = VenueCounters::get;
    let (bad, span) = if g(&c.unhealthy) != 0 {
        (g(&c.bad_window_errors), g(&c.bad_window_msgs))
    } else {
        (g(&c.parse_errors), g(&c.messages))
    };
    let pct = if span > 0 {
        bad as f64 * 100.0 / span as f64
    } else {
        0.0
    };
    let (sample, tag) = c.sample();
    let cause = if sample.is_empty() {
        "no unparsable message was kept".to_string()
    } else {
        diagnose(setup, v, &sample, tag)
    };
    format!(
        "venue {name} has bad data: {bad} of {span} messages ({pct:.1} %) could not be parsed \
         (limit run.max_parse_error_share_pct = {} %); it is not traded. Likely cause: {cause}",
        setup.cfg.run.max_parse_error_share_pct
    )
}

fn parses(setup: &Setup, v: VenueId, raw: &[u8], tag: u32) -> bool {
    let c = Arc::new(VenueCounters::default());
    let Ok(mut h) = setup.handler(v, c.clone()) else {
        return false;
    };
    let mut out = Vec::new();
    let mut sink = EventSink::to_vec(&mut out);
    let meta = RawMeta {
        recv_ns: 0,
        tag,
        seq: 0,
    };
    sink.begin(v, &meta, 0);
    h.on_message(raw, &meta, &mut sink);
    sink.end();
    VenueCounters::get(&c.parse_errors) == 0
}

/// Why `raw` (an unparsable message of venue `v`, feed tag `tag`) fails, in words: the
/// instrument and field whose decimals the wire exceeds, or what is known.
pub fn diagnose(setup: &Setup, v: VenueId, raw: &[u8], tag: u32) -> String {
    let quote = || {
        let n = raw.len().min(160);
        format!("{:?}", String::from_utf8_lossy(&raw[..n]))
    };
    if parses(setup, v, raw, tag) {
        return format!(
            "the kept message parses on its own (a state- or order-dependent failure); it starts {}",
            quote()
        );
    }
    const MAX_DEC: u32 = 12;
    for (k, spec) in setup.instruments.iter().enumerate() {
        if spec.venue != v {
            continue;
        }
        for price in [true, false] {
            let dec = if price { spec.price_dec } else { spec.qty_dec };
            if dec >= MAX_DEC {
                continue;
            }
            let mut s = setup.clone();
            if price {
                s.instruments[k].price_dec = MAX_DEC;
                s.instruments[k].tick_size.0 *= 10i64.pow(MAX_DEC - dec);
            } else {
                s.instruments[k].qty_dec = MAX_DEC;
                s.instruments[k].lot_size.0 *= 10i64.pow(MAX_DEC - dec);
            }
            if !parses(&s, v, raw, tag) {
                continue;
            }
            let field = if price { "price" } else { "quantity" };
            let key = if price {
                "tick_size / price_decimals"
            } else {
                "lot_size / qty_decimals"
            };
            let example = finer_than(raw, dec)
                .map(|(path, text, d)| {
                    format!(" (e.g. `{path}` = \"{text}\" needs {d} decimal(s))")
                })
                .unwrap_or_default();
            return format!(
                "instrument {}:{} field {field}: the wire carries more decimals than the spec \
                 allows ({dec}){example}; the instrument spec disagrees with the data: check its {key}",
                spec.venue_name, spec.symbol
            );
        }
    }
    format!(
        "not a decimals mismatch of any instrument of this venue (malformed or unexpected \
         message?); it starts {}",
        quote()
    )
}

/// The first decimal number in the JSON of `raw` with more than `dec` fractional digits: its
/// path, its text and its decimals.
fn finer_than(raw: &[u8], dec: u32) -> Option<(String, String, u32)> {
    let v: serde_json::Value = serde_json::from_slice(raw).ok()?;
    fn frac(s: &str) -> Option<u32> {
        let s = s.strip_prefix('-').unwrap_or(s);
        let (i, f) = s.split_once('.')?;
        if i.is_empty() || !i.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(f.trim_end_matches('0').len() as u32)
    }
    fn walk(v: &serde_json::Value, path: &str, dec: u32) -> Option<(String, String, u32)> {
        match v {
            serde_json::Value::String(s) => frac(s)
                .filter(|d| *d > dec)
                .map(|d| (path.to_string(), s.clone(), d)),
            serde_json::Value::Number(n) => {
                let s = n.to_string();
                frac(&s)
                    .filter(|d| *d > dec)
                    .map(|d| (path.to_string(), s, d))
            }
            serde_json::Value::Array(a) => a
                .iter()
                .enumerate()
                .find_map(|(i, x)| walk(x, &format!("{path}[{i}]"), dec)),
            serde_json::Value::Object(o) => o.iter().find_map(|(k, x)| {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                walk(x, &p, dec)
            }),
            _ => None,
        }
    }
    walk(&v, "", dec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finer_than_finds_the_path() {
        let raw = br#"{"stream":"x","data":{"b":[["61000.0","1.5"],["61000.10","2"]]}}"#;
        let (p, t, d) = finer_than(raw, 0).unwrap();
        // "61000.0" has no significant decimal; "1.5" comes before the second level
        assert_eq!((p.as_str(), t.as_str(), d), ("data.b[0][1]", "1.5", 1));
        assert!(finer_than(raw, 2).is_none());
    }

    #[test]
    fn check_fires_once_over_the_share() {
        let c = VenueCounters::default();
        c.set_health(&Limits {
            first_msgs: 10,
            window_msgs: 100,
            max_ppm: 10_000,
        });
        let inc = |bad: bool| {
            VenueCounters::inc(&c.messages);
            if bad {
                VenueCounters::inc(&c.parse_errors);
            }
            check(&c)
        };
        // 9 good messages, then the 10th is bad: 10 % > 1 %
        for _ in 0..9 {
            assert!(!inc(false));
        }
        assert!(inc(true));
        assert!(!inc(true), "reported once");
        assert_eq!(VenueCounters::get(&c.unhealthy), 1);
    }

    #[test]
    fn check_passes_a_clean_or_slightly_dirty_feed() {
        let c = VenueCounters::default();
        c.set_health(&Limits {
            first_msgs: 10,
            window_msgs: 100,
            max_ppm: 10_000,
        });
        for i in 0..10_000u64 {
            VenueCounters::inc(&c.messages);
            if i % 200 == 150 {
                VenueCounters::inc(&c.parse_errors); // 0.5 %
            }
            assert!(!check(&c));
        }
        assert_eq!(VenueCounters::get(&c.unhealthy), 0);
    }
}
