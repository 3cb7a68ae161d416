//! Disk full while writing journals (issue 18, item 4): trading stops, the error says which
//! journal and why, nothing already journaled is lost, and the process ends without a panic.
//!
//! The "disk" is a file size limit (`ulimit -f`, RLIMIT_FSIZE, with SIGXFSZ ignored so the
//! write fails with EFBIG as a full disk fails with ENOSPC): no root and no tmpfs needed. The
//! trading replay `configs/replay-vip.toml` runs once without a limit and once with 40 KiB per
//! file; every complete line the limited run left in its journals must equal the same line of
//! the unlimited run.

mod common;

use std::path::Path;
use std::process::Command;

fn run(out: &Path, limit_kib: Option<u32>) -> std::process::Output {
    let _ = std::fs::remove_dir_all(out);
    let bin = env!("CARGO_BIN_EXE_arbot");
    let cfg = common::root().join("configs/replay-vip.toml");
    let ulimit = limit_kib.map_or(String::new(), |k| format!("ulimit -f {k}; "));
    Command::new("bash")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; {ulimit}exec \"$0\" run --config \"$1\" --out \"$2\""
        ))
        .arg(bin)
        .arg(&cfg)
        .arg(out)
        .current_dir(common::root())
        .output()
        .expect("run arbot under bash")
}

fn complete_lines(p: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(p).unwrap_or_default();
    let mut v: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
    if v.last().is_some_and(|l| !l.ends_with('\n')) {
        v.pop(); // a torn last line is what a full disk leaves; resume cuts it
    }
    v
}

#[test]
fn a_full_disk_stops_trading_loudly_and_keeps_what_was_written() {
    let full = common::tmp("disk-full-unlimited");
    let ok = run(&full, None);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let lim = common::tmp("disk-full-limited");
    let bad = run(&lim, Some(40));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(1), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("journal ")
            && stderr.contains("disk full?")
            && stderr.contains("trading stopped"),
        "{stderr}"
    );
    let log = std::fs::read_to_string(lim.join("arbot.log")).unwrap();
    assert!(log.contains("ERROR journal_write_failed"), "{log}");
    // the journals the limited run wrote are a prefix of the full run's, line for line
    let mut kept = 0;
    for j in [
        "signals.jsonl",
        "orders.jsonl",
        "fills.jsonl",
        "trades.jsonl",
    ] {
        let a = complete_lines(&lim.join(j));
        let b = complete_lines(&full.join(j));
        assert!(a.len() <= b.len(), "{j}: more lines than the full run");
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert_eq!(x, y, "{j} line {} differs from the unlimited run", i + 1);
        }
        kept += a.len();
    }
    assert!(
        kept > 10,
        "the limited run should have journaled trades before the disk filled"
    );
    // trading stopped: fewer trades than the full run
    assert!(
        complete_lines(&lim.join("trades.jsonl")).len()
            < complete_lines(&full.join("trades.jsonl")).len()
    );
}
