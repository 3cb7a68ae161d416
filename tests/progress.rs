//! The replay's progress line: drawn on stderr when it is a terminal (a pseudo-terminal from
//! util-linux `script` here), with messages, data time, messages per second and an ETA; nothing
//! at all when stderr is not a terminal.
mod common;

use std::process::Command;

fn args(out: &std::path::Path) -> Vec<String> {
    vec![
        "run".into(),
        "--config".into(),
        "configs/replay-vip.toml".into(),
        "--out".into(),
        out.display().to_string(),
        "--set".into(),
        "replay.pace=\"recorded\"".into(),
        "--set".into(),
        "replay.speed=40".into(),
        "--set".into(),
        "replay.max_messages=25000".into(),
        // the threaded path keeps the recorded pace (about 1.3 s here)
        "--set".into(),
        "threads.mode=\"threaded\"".into(),
    ]
}

#[test]
fn a_replay_not_on_a_terminal_prints_no_progress() {
    let out = common::tmp("progress-pipe");
    let o = Command::new(env!("CARGO_BIN_EXE_arbot"))
        .args(args(&out))
        .current_dir(common::root())
        .output()
        .unwrap();
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains("msgs/s") && !err.contains('\r') && !err.contains('\u{1b}'),
        "progress drawn on a pipe: {err:?}"
    );
    assert!(err.is_empty(), "stderr of a clean replay: {err:?}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_replay_on_a_terminal_shows_messages_data_time_rate_and_eta() {
    let out = common::tmp("progress-pty");
    if Command::new("script").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "util-linux script is needed under CI"
        );
        println!("SKIPPED: no util-linux `script` for a pseudo-terminal");
        return;
    }
    // `script` gives the command a pseudo-terminal; its output (both streams) lands in stdout
    let cmd = std::iter::once(env!("CARGO_BIN_EXE_arbot").to_string())
        .chain(args(&out))
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let o = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(common::root())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("/25,000 msgs"), "{text}");
    assert!(text.contains("data 2024-08-08 23:5"), "{text}");
    assert!(text.contains("msgs/s"), "{text}");
    assert!(text.contains("ETA "), "{text}");
    // the line is cleared before the summary
    assert!(text.contains("arbot replay run"), "{text}");
    let _ = std::fs::remove_dir_all(&out);
}
