//! The recording as the server holds it: every line loaded and classified up front
//! ([`load`]), and the per-recording book the REST side serves snapshots from ([`SrvBook`],
//! [`SnapState`], shared between the dispatch thread and the HTTP connections).

use super::MarketKind;
use crate::replay::{Merger, ReplayFile};
use crate::types::VenueId;
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::{Condvar, Mutex};

pub(super) enum Kind {
    Snapshot,
    Stream(Box<str>),
}

pub(super) struct Item {
    pub(super) file: usize,
    pub(super) recv_ns: u64,
    pub(super) kind: Kind,
    pub(super) text: Box<str>,
}

pub(super) struct FileInfo {
    pub(super) market: MarketKind,
    pub(super) symbol: String,
    pub(super) streams: HashSet<String>,
}

/// Price-keyed book of one recording (price scaled to 1e-10 for ordering; texts kept).
#[derive(Default)]
pub(super) struct SrvBook {
    pub(super) last_id: u64,
    pub(super) bids: BTreeMap<i128, (String, String)>,
    pub(super) asks: BTreeMap<i128, (String, String)>,
}

fn key(px: &str) -> Option<i128> {
    let (i, f) = px.split_once('.').unwrap_or((px, ""));
    if f.len() > 10 {
        return None;
    }
    let mut v: i128 = i.parse().ok()?;
    for k in 0..10 {
        v = v * 10 + f.as_bytes().get(k).map(|b| (b - b'0') as i128).unwrap_or(0);
    }
    Some(v)
}

fn is_zero(q: &str) -> bool {
    q.bytes().all(|b| b == b'0' || b == b'.')
}

impl SrvBook {
    fn set(side: &mut BTreeMap<i128, (String, String)>, lv: &serde_json::Value) {
        let (Some(px), Some(q)) = (lv[0].as_str(), lv[1].as_str()) else {
            return;
        };
        let Some(k) = key(px) else { return };
        if is_zero(q) {
            side.remove(&k);
        } else {
            side.insert(k, (px.to_string(), q.to_string()));
        }
    }
    pub(super) fn from_snapshot(text: &str) -> Option<SrvBook> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        let mut b = SrvBook {
            last_id: v["lastUpdateId"].as_u64()?,
            ..SrvBook::default()
        };
        for l in v["bids"].as_array()? {
            Self::set(&mut b.bids, l);
        }
        for l in v["asks"].as_array()? {
            Self::set(&mut b.asks, l);
        }
        Some(b)
    }
    pub(super) fn apply_diff(&mut self, text: &str) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
            return;
        };
        let d = &v["data"];
        let Some(u) = d["u"].as_u64() else { return };
        if u <= self.last_id {
            return;
        }
        for l in d["b"].as_array().into_iter().flatten() {
            Self::set(&mut self.bids, l);
        }
        for l in d["a"].as_array().into_iter().flatten() {
            Self::set(&mut self.asks, l);
        }
        self.last_id = u;
    }
    pub(super) fn to_json(&self, market: MarketKind, limit: usize, now_ms: u64) -> String {
        let side = |it: &mut dyn Iterator<Item = &(String, String)>| {
            it.take(limit)
                .map(|(p, q)| format!("[\"{p}\",\"{q}\"]"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let bids = side(&mut self.bids.values().rev());
        let asks = side(&mut self.asks.values());
        match market {
            MarketKind::Spot => format!(
                "{{\"lastUpdateId\":{},\"bids\":[{bids}],\"asks\":[{asks}]}}",
                self.last_id
            ),
            _ => format!(
                "{{\"lastUpdateId\":{},\"E\":{now_ms},\"T\":{now_ms},\"bids\":[{bids}],\"asks\":[{asks}]}}",
                self.last_id
            ),
        }
    }
}

#[derive(Default)]
pub(super) struct SnapState {
    pub(super) books: Vec<Option<SrvBook>>,
    pub(super) at_snapshot: Vec<bool>,
    pub(super) passed: Vec<bool>,
    pub(super) recorded_served: Vec<bool>,
    pub(super) waiting: Vec<u32>,
    pub(super) recorded: Vec<Option<Box<str>>>,
    pub(super) ended: bool,
    pub(super) served_recorded: u64,
    pub(super) served_synth: u64,
}

pub(super) struct Shared {
    pub(super) st: Mutex<SnapState>,
    pub(super) cv: Condvar,
}

fn stream_name(text: &str) -> Option<&str> {
    let i = text.find("\"stream\":\"")? + 10;
    let j = text[i..].find('"')? + i;
    Some(&text[i..j])
}

pub(super) fn load(files: &[(MarketKind, PathBuf)]) -> Result<(Vec<Item>, Vec<FileInfo>), String> {
    let rf: Vec<ReplayFile> = files
        .iter()
        .enumerate()
        .map(|(i, (_, p))| ReplayFile {
            path: p.clone(),
            venue: VenueId(i as u8),
            format: crate::replay::ReplayFormat::NsJson,
            instruments: Vec::new(),
        })
        .collect();
    let mut m = Merger::open(&rf).map_err(|e| e.to_string())?;
    let mut items = Vec::new();
    let mut info: Vec<FileInfo> = files
        .iter()
        .map(|(mk, _)| FileInfo {
            market: *mk,
            symbol: String::new(),
            streams: HashSet::new(),
        })
        .collect();
    while let Some((v, meta, data)) = m.peek() {
        let text = String::from_utf8_lossy(data);
        let f = v.idx();
        let kind = if text.starts_with("{\"lastUpdateId\"") {
            Kind::Snapshot
        } else {
            match stream_name(&text) {
                Some(s) => {
                    if info[f].symbol.is_empty() {
                        info[f].symbol = s.split('@').next().unwrap_or("").to_ascii_uppercase();
                    }
                    info[f].streams.insert(s.to_string());
                    Kind::Stream(s.into())
                }
                None => Kind::Stream("".into()), // a line that is not a stream message: sent as is
            }
        };
        items.push(Item {
            file: f,
            recv_ns: meta.recv_ns,
            kind,
            text: text.into_owned().into_boxed_str(),
        });
        m.advance(true).map_err(|e| e.to_string())?;
    }
    Ok((items, info))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn book_keys_and_snapshot_json() {
        assert_eq!(key("61837.63000000"), Some(618376300000000));
        assert_eq!(key("0.1"), Some(1_000_000_000));
        assert!(key("1.00000000001").is_none());
        let mut b = SrvBook::from_snapshot(
            r#"{"lastUpdateId":10,"bids":[["100.0","1"],["99.5","2"]],"asks":[["101.0","3"]]}"#,
        )
        .unwrap();
        b.apply_diff(r#"{"stream":"x@depth","data":{"U":11,"u":12,"b":[["100.0","0"],["99.9","5"]],"a":[["100.5","1"]]}}"#);
        b.apply_diff(r#"{"stream":"x@depth","data":{"U":5,"u":9,"b":[["1.0","1"]],"a":[]}}"#); // stale
        assert_eq!(
            b.to_json(MarketKind::Spot, 1, 0),
            r#"{"lastUpdateId":12,"bids":[["99.9","5"]],"asks":[["100.5","1"]]}"#
        );
        assert!(b
            .to_json(MarketKind::Usdm, 5, 7)
            .starts_with(r#"{"lastUpdateId":12,"E":7,"T":7,"bids":[["99.9","5"],["99.5","2"]]"#));
    }

    #[test]
    fn stream_names() {
        assert_eq!(
            stream_name(r#"{"stream":"btcusdt@depth@0ms","data":{}}"#),
            Some("btcusdt@depth@0ms")
        );
    }
}
