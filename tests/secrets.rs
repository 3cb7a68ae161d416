//! Secrets (issue 18, item 5): paper mode over the loopback replay server with recognisable
//! API keys and secrets in the environment; no output file, log line, stdout or stderr holds
//! them. (Live mode: tests/live_loopback.rs.)

mod common;
#[path = "support/loopback.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const SECRET: &str = "SeCrEt-arbot-test-7f3a9c1e5b2d4086a1c3e5f7092b4d6f";
const KEY: &str = "KeY-arbot-test-0b1c2d3e4f5a6b7c8d9e";

fn files_under(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn paper_mode_writes_no_secret_anywhere() {
    let bin = env!("CARGO_BIN_EXE_arbot");
    let files = support::cut_data();
    let dir = common::tmp("secrets-paper");
    let placeholder = "ws://127.0.0.1:9901";
    let cfg0 = dir.join("server.toml");
    std::fs::write(&cfg0, support::config_text(placeholder, &files, "")).unwrap();
    let mut server = Command::new(bin)
        .args(["replay-server", "--config"])
        .arg(&cfg0)
        .args(["--bind", "127.0.0.1:0", "--speed", "max"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start replay-server");
    let mut out = BufReader::new(server.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening ws://")
        .unwrap_or_else(|| panic!("replay-server said {line:?}"))
        .to_string();
    let cfg = dir.join("paper.toml");
    std::fs::write(
        &cfg,
        support::config_text(&format!("ws://{addr}"), &files, ""),
    )
    .unwrap();
    let run_dir = dir.join("run");
    let mut cmd = Command::new(bin);
    cmd.args(["run", "--until-eof", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(&run_dir);
    for ex in arbot::venues::Exchange::ALL {
        let [k, s, p] = arbot::venues::Credentials::env_names(*ex);
        cmd.env(k, KEY).env(s, SECRET).env(p, SECRET);
    }
    let o = cmd.output().expect("run the engine");
    let _ = server.wait();
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "paper run failed: {stdout}\n{stderr}");
    let mut paths = Vec::new();
    files_under(&run_dir, &mut paths);
    let names: Vec<String> = paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    for must in ["report.json", "arbot.log"] {
        assert!(names.iter().any(|n| n == must), "{must} missing: {names:?}");
    }
    let mut outputs = vec![("stdout".to_string(), stdout), ("stderr".into(), stderr)];
    for p in &paths {
        outputs.push((
            p.display().to_string(),
            String::from_utf8_lossy(&std::fs::read(p).unwrap()).to_string(),
        ));
    }
    for (name, text) in &outputs {
        assert!(!text.contains(SECRET), "{name} contains the API secret");
        assert!(!text.contains(KEY), "{name} contains the API key");
    }
}
