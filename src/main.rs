//! `arbot` command line. See `arbot --help`.
#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Low-latency cross-venue crypto arbitrage engine.
///
/// Watches several venues' order books, finds price differences that pay after fees, and
/// trades both legs under hard risk limits. `replay` mode runs the whole pipeline on
/// recorded data with simulated fills: no keys, no network.
#[derive(Parser, Debug)]
#[command(name = "arbot", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run the engine with a config file (mode comes from the file: replay / paper / live).
    ///
    /// Writes `report.json`, `trades.jsonl`, `signals.jsonl` and `arbot.log` into the output
    /// directory and prints the summary. Exit status: 0 on success, 2 on a config error,
    /// 1 on a runtime error.
    Run {
        /// Config file (TOML), e.g. configs/replay.toml.
        #[arg(long, short)]
        config: PathBuf,
        /// Output directory (default: `run.out_dir` from the config).
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Print the report JSON instead of the human summary.
        #[arg(long)]
        json: bool,
        /// Required to run `mode = "live"` (real orders).
        #[arg(long)]
        live: bool,
        /// Paper mode: finish when every feed's server closes it normally (the loopback replay
        /// server does at the end of the recording) instead of reconnecting
        /// (`run.stop_when_feeds_end`).
        #[arg(long)]
        until_eof: bool,
    },
    /// Serve recorded sessions over the exchange's own protocol on a loopback port (Binance
    /// combined-stream WebSocket + REST depth), for paper mode without internet and for fault
    /// tests. Prints `listening <ws-url>` (and `cert <path>` with --tls), then serves the
    /// recording once and exits.
    ///
    /// Each venue's `ws_url`/`rest_url` in the client config points at
    /// `ws://ADDR/<market>` / `http://ADDR/<market>` (market = spot, usdm, coinm).
    ReplayServer {
        /// Config whose `[replay].files` and venue markets say what to serve.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Recorded files (`spot_…`, `usdm_…`, `cm_…` names tell the market).
        files: Vec<PathBuf>,
        /// Listen address; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:0")]
        bind: std::net::SocketAddr,
        /// Speed-up of the recorded pace (`1` = real time), or `max`.
        #[arg(long, default_value = "1")]
        speed: String,
        /// Serve wss:// / https:// with a self-signed certificate.
        #[arg(long)]
        tls: bool,
        /// Where to write the certificate (PEM) with --tls.
        #[arg(long, default_value = "replay-server-cert.pem")]
        cert_out: PathBuf,
        /// Keep the recording's merged order across connections (ping/pong before switching).
        #[arg(long)]
        lockstep: bool,
        /// Drop the connection that receives stream message N (no close frame).
        #[arg(long)]
        drop_after: Option<u64>,
        /// Stall (send nothing) after stream message N ...
        #[arg(long)]
        stall_after: Option<u64>,
        /// ... for this many ns.
        #[arg(long, default_value_t = 70_000_000_000)]
        stall_ns: u64,
        /// Send a malformed frame (reserved bits set) after stream message N.
        #[arg(long)]
        malformed_after: Option<u64>,
        /// Send truncated JSON after stream message N.
        #[arg(long)]
        bad_json_after: Option<u64>,
        /// Skip one depth diff after N diffs (a sequence gap).
        #[arg(long)]
        skip_diff_after: Option<u64>,
        /// Start streaming once every file has a subscriber, or after this many seconds.
        #[arg(long, default_value_t = 30)]
        wait_clients_s: u64,
    },
    /// Replay recorded sessions through the venues' real parsers and book code and print one
    /// JSON object per file: messages, gaps, resyncs, checksums, parse errors, and book best
    /// bid/ask against the venue's own BBO messages. Exit status 1 if any file has a gap,
    /// a checksum mismatch, a parse error or a BBO mismatch; 2 if a file cannot be read.
    ///
    /// Layouts: cryptofeed `NAME.ws.N.0` (REST snapshots from `NAME.http.*` beside it are
    /// used), Binance gz (`<ns> <json>` lines), JSON lines.
    VerifyBook {
        /// Recorded files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Venue, when the file does not say: binance, binance-futures, okx, bybit (v5),
        /// bybit-legacy (v2), coinbase, kraken, upbit, bithumb, kucoin, gateio, bitget.
        #[arg(long)]
        venue: Option<String>,
    },
    /// Report which low-latency host settings (tuning/README.md) are in force here: one line
    /// per item with OK / NOT SET / CANNOT CHECK, then a summary. Reads /proc and /sys only;
    /// changes nothing. Exit status 0, or 1 with --strict when a required item is not OK.
    TuningCheck {
        /// Core map of this machine (tuning/coremaps/<machine>.toml): check for its hot cores.
        #[arg(long)]
        coremap: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Exit 1 unless every required item is OK.
        #[arg(long)]
        strict: bool,
    },
    /// Check a config file and print what it resolves to, without running.
    CheckConfig {
        /// Config file (TOML).
        #[arg(long, short)]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Run {
            config,
            out,
            json,
            live,
            until_eof,
        } => {
            let setup = match arbot::config::load(&config) {
                Ok(mut s) => {
                    s.cfg.run.stop_when_feeds_end |= until_eof;
                    s
                }
                Err(e) => {
                    eprintln!("arbot: {e}");
                    return ExitCode::from(2);
                }
            };
            if setup.cfg.mode == arbot::config::Mode::Live && !live {
                eprintln!("arbot: config key `mode`: live trading needs the --live flag");
                return ExitCode::from(2);
            }
            let out_dir = out.unwrap_or_else(|| setup.cfg.run.out_dir.clone());
            let res = match arbot::engine::run(&setup, &out_dir) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("arbot: {e}");
                    return ExitCode::from(1);
                }
            };
            let report = arbot::report::build(&setup, &config.display().to_string(), &res);
            let path = out_dir.join("report.json");
            let text = match serde_json::to_string_pretty(&report) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("arbot: report: {e}");
                    return ExitCode::from(1);
                }
            };
            if let Err(e) = std::fs::write(&path, text.as_bytes()) {
                eprintln!("arbot: writing {}: {e}", path.display());
                return ExitCode::from(1);
            }
            if json {
                println!("{text}");
            } else {
                print!("{}", arbot::report::human(&report));
                println!("report: {}", path.display());
            }
            ExitCode::SUCCESS
        }
        Cmd::VerifyBook { files, venue } => {
            let mut status = ExitCode::SUCCESS;
            for f in files {
                match arbot::verify::verify_file(&f, venue.as_deref()) {
                    Ok(r) => {
                        println!("{}", serde_json::to_string(&r).unwrap_or_default());
                        if !r.ok() {
                            status = ExitCode::from(1);
                        }
                    }
                    Err(e) => {
                        eprintln!("arbot: {e}");
                        return ExitCode::from(2);
                    }
                }
            }
            status
        }
        Cmd::TuningCheck {
            coremap,
            json,
            strict,
        } => {
            let map = match coremap
                .as_deref()
                .map(arbot::tools::tuning_check::CoreMap::load)
            {
                Some(Ok(m)) => Some(m),
                Some(Err(e)) => {
                    eprintln!("arbot: {e}");
                    return ExitCode::from(2);
                }
                None => None,
            };
            let label = coremap.as_ref().map(|p| p.display().to_string());
            let host = arbot::tools::tuning_check::Host::system();
            let rep = arbot::tools::tuning_check::check(&host, label.as_deref().zip(map.as_ref()));
            if json {
                println!("{}", serde_json::to_string_pretty(&rep).unwrap_or_default());
            } else {
                print!("{}", rep.human());
            }
            if strict && !rep.tuned() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Cmd::ReplayServer {
            config,
            files,
            bind,
            speed,
            tls,
            cert_out,
            lockstep,
            drop_after,
            stall_after,
            stall_ns,
            malformed_after,
            bad_json_after,
            skip_diff_after,
            wait_clients_s,
        } => {
            use arbot::tools::replay_server::{Faults, MarketKind, ServerConfig};
            let mut served = Vec::new();
            if let Some(c) = &config {
                let setup = match arbot::config::load(c) {
                    Ok(s) => s,
                    Err(e) => {
                        eprintln!("arbot: {e}");
                        return ExitCode::from(2);
                    }
                };
                for f in &setup.replay_files {
                    let vc = &setup.venues[f.venue.idx()].cfg;
                    let Some(m) = vc.market.as_deref().and_then(MarketKind::parse) else {
                        eprintln!("arbot: venue of {} has no Binance market", f.path.display());
                        return ExitCode::from(2);
                    };
                    served.push((m, f.path.clone()));
                }
            }
            for f in files {
                let Some(m) = MarketKind::from_file_name(&f) else {
                    eprintln!(
                        "arbot: {}: cannot tell the market from the name (spot_…, usdm_…, cm_…); use --config",
                        f.display()
                    );
                    return ExitCode::from(2);
                };
                served.push((m, f));
            }
            let speed = if speed == "max" {
                None
            } else {
                match speed.parse::<f64>() {
                    Ok(x) if x > 0.0 && x.is_finite() => Some(x),
                    _ => {
                        eprintln!("arbot: --speed: a number > 0 or `max`");
                        return ExitCode::from(2);
                    }
                }
            };
            let cfg = ServerConfig {
                files: served,
                bind,
                speed,
                tls,
                cert_out: tls.then_some(cert_out.clone()),
                lockstep,
                faults: Faults {
                    drop_after,
                    stall_after,
                    stall_ns,
                    malformed_after,
                    bad_json_after,
                    skip_diff_after,
                    ..Faults::default()
                },
                wait_clients: std::time::Duration::from_secs(wait_clients_s),
                ping_every: None,
                exchange: Default::default(),
            };
            let server = match arbot::tools::replay_server::start(cfg) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("arbot: replay-server: {e}");
                    return ExitCode::from(2);
                }
            };
            println!("listening {}", server.ws_base());
            if tls {
                println!("cert {}", cert_out.display());
            }
            use std::io::Write as _;
            let _ = std::io::stdout().flush();
            match server.join() {
                Ok(st) => {
                    println!("{}", serde_json::to_string(&st).unwrap_or_default());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("arbot: replay-server: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Cmd::CheckConfig { config } => match arbot::config::load(&config) {
            Ok(s) => {
                println!(
                    "{}: ok — mode {}, {} venues, {} instruments, {} groups, {} feed threads, {} replay files",
                    config.display(),
                    s.cfg.mode.as_str(),
                    s.venues.len(),
                    s.instruments.len(),
                    s.groups.len(),
                    s.feeds.len(),
                    s.replay_files.len()
                );
                for i in &s.instruments {
                    println!(
                        "  {} ({}) tick {}e-{} lot {}e-{}",
                        i.internal_name(),
                        i.symbol,
                        i.tick_size.0,
                        i.price_dec,
                        i.lot_size.0,
                        i.qty_dec
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("arbot: {e}");
                ExitCode::from(2)
            }
        },
    }
}
