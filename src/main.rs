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
        /// Venue, when the file does not say (e.g. `binance`, `binance-futures`).
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
        } => {
            let setup = match arbot::config::load(&config) {
                Ok(s) => s,
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
            let res = match arbot::engine::run_replay(&setup, &out_dir) {
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
            let map = match coremap.as_deref().map(arbot::tuning_check::CoreMap::load) {
                Some(Ok(m)) => Some(m),
                Some(Err(e)) => {
                    eprintln!("arbot: {e}");
                    return ExitCode::from(2);
                }
                None => None,
            };
            let label = coremap.as_ref().map(|p| p.display().to_string());
            let host = arbot::tuning_check::Host::system();
            let rep = arbot::tuning_check::check(&host, label.as_deref().zip(map.as_ref()));
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
