//! After the criterion run: one table of the comparisons just measured, per element (message,
//! string, level change, event, order), with the median and the best sample, and each
//! alternative's ratio to arbot's choice. Also written to `out/bench/components.json`.
//!
//! The best sample (fastest of the ~30 samples) is the figure least disturbed by other work on
//! a shared machine, the median the one least moved by a single odd sample; both ratios are
//! printed.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// arbot's choice in each group (the reference of the ratios).
const CHOSEN: [&str; 7] = [
    "arbot_hand_scanner",
    "arbot_parse_decimal_to_i64",
    "arbot_ring",
    "l2book_sorted_array",
    "ring",
    "arbot_order_encoder_full_request",
    "arbot_single_pass",
];

fn criterion_dir() -> PathBuf {
    if let Some(h) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(h);
    }
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(t).join("criterion");
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/criterion")
}

fn read_json(p: &Path) -> Option<Value> {
    serde_json::from_slice(&std::fs::read(p).ok()?).ok()
}

struct Row {
    group: String,
    function: String,
    median_ns: f64,
    best_ns: f64,
}

fn collect(dir: &Path, since: SystemTime, rows: &mut Vec<Row>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if !p.is_dir() {
            continue;
        }
        let new = p.join("new");
        let bj = new.join("benchmark.json");
        let fresh = std::fs::metadata(&bj)
            .and_then(|m| m.modified())
            .map(|t| t >= since)
            .unwrap_or(false);
        if fresh {
            if let (Some(b), Some(est), Some(s)) = (
                read_json(&bj),
                read_json(&new.join("estimates.json")),
                read_json(&new.join("sample.json")),
            ) {
                let elems = b["throughput"]["Elements"].as_f64().unwrap_or(1.0).max(1.0);
                let median = est["median"]["point_estimate"].as_f64().unwrap_or(f64::NAN);
                let iters = s["iters"].as_array().cloned().unwrap_or_default();
                let times = s["times"].as_array().cloned().unwrap_or_default();
                let best = iters
                    .iter()
                    .zip(&times)
                    .filter_map(|(i, t)| Some(t.as_f64()? / i.as_f64()?))
                    .fold(f64::INFINITY, f64::min);
                rows.push(Row {
                    group: b["group_id"].as_str().unwrap_or("?").to_string(),
                    function: b["function_id"].as_str().unwrap_or("?").to_string(),
                    median_ns: median / elems,
                    best_ns: best / elems,
                });
            }
        } else {
            collect(&p, since, rows);
        }
    }
}

/// Print the table of benchmarks written since `since`; write `out/bench/components.json`.
pub fn report(since: SystemTime) {
    let mut rows = Vec::new();
    collect(&criterion_dir(), since, &mut rows);
    if rows.is_empty() {
        return;
    }
    rows.sort_by(|a, b| {
        a.group.cmp(&b.group).then(
            CHOSEN
                .contains(&b.function.as_str())
                .cmp(&CHOSEN.contains(&a.function.as_str()))
                .then(a.function.cmp(&b.function)),
        )
    });
    println!(
        "\ncomponent comparisons (ns per element: message / string / level change / event / order / publication of four stages)"
    );
    println!(
        "{:<28} {:<40} {:>10} {:>10} {:>14} {:>12}",
        "group", "function", "median", "best", "median/chosen", "best/chosen"
    );
    let mut out = Vec::new();
    for r in &rows {
        let chosen = rows
            .iter()
            .find(|x| x.group == r.group && CHOSEN.contains(&x.function.as_str()));
        let ratio = chosen.map(|c| r.best_ns / c.best_ns);
        let mratio = chosen.map(|c| r.median_ns / c.median_ns);
        let mark = if CHOSEN.contains(&r.function.as_str()) {
            " (chosen)"
        } else {
            ""
        };
        println!(
            "{:<28} {:<40} {:>10.1} {:>10.1} {:>14} {:>12}",
            r.group,
            format!("{}{mark}", r.function),
            r.median_ns,
            r.best_ns,
            mratio.map(|x| format!("{x:.2}×")).unwrap_or_default(),
            ratio.map(|x| format!("{x:.2}×")).unwrap_or_default()
        );
        out.push(json!({
            "group": r.group, "function": r.function, "chosen": !mark.is_empty(),
            "median_ns_per_elem": (r.median_ns * 10.0).round() / 10.0,
            "best_ns_per_elem": (r.best_ns * 10.0).round() / 10.0,
            "median_ratio_to_chosen": mratio.map(|x| (x * 100.0).round() / 100.0),
            "best_ratio_to_chosen": ratio.map(|x| (x * 100.0).round() / 100.0),
        }));
    }
    println!("(ratio > 1: arbot's choice is faster; spsc/round_trip is a round trip: one-way ≈ half;\n the best sample resists interference from other work, the median resists one lucky sample)");
    let dir = PathBuf::from("out/bench");
    let _ = std::fs::create_dir_all(&dir);
    let p = dir.join("components.json");
    match std::fs::write(&p, serde_json::to_string_pretty(&out).unwrap_or_default()) {
        Ok(()) => println!("written: {}", p.display()),
        Err(e) => eprintln!("{}: {e}", p.display()),
    }
}
