//! `arbot` command line. See `arbot --help`.
#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// `println!` that does not panic when stdout is gone (`arbot ... | head -1`): the rest of the
/// output is dropped and the command still ends with its own exit status.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

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
    /// Writes `report.json`, the journals (`signals.jsonl`, `orders.jsonl`, `fills.jsonl`,
    /// `trades.jsonl`, `breaker.jsonl`, `daily.jsonl`, `checkpoint.jsonl`) and `arbot.log`
    /// into the output directory and prints the summary. A replay runs on one thread by
    /// default (`threads.mode = "auto"`: the venue handlers, detection, risk gate, fill
    /// simulator and order encoding in order, no rings; the same journals and report as the
    /// threaded shape); `--set threads.mode=threaded` runs it through the live shape's threads
    /// and rings, which paper and live always use. An output directory that already
    /// holds journals is continued (resume, R6.7): a replay from its last checkpoint, paper
    /// from every journaled trade; `--fresh` starts over. Stops cleanly on SIGTERM/SIGINT and
    /// on the kill switch (`run.kill_switch_file` appearing, or SIGUSR1): open orders are
    /// cancelled, the report is written. Exit status: 0 on success (a stop included), 2 on a
    /// config error, 1 on a runtime error (a resumed replay that does not match its journals
    /// included).
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
        /// Required to run `mode = "live"` (real orders). Keys come from the environment only:
        /// `ARBOT_<EXCHANGE>_API_KEY`, `ARBOT_<EXCHANGE>_API_SECRET` (and
        /// `ARBOT_<EXCHANGE>_API_PASSPHRASE` where the exchange has one) for every venue that
        /// trades; a missing one is an error before any connection.
        #[arg(long)]
        live: bool,
        /// Paper mode: finish when every feed's server closes it normally (the loopback replay
        /// server does at the end of the recording) instead of reconnecting
        /// (`run.stop_when_feeds_end`).
        #[arg(long)]
        until_eof: bool,
        /// Override a config key, e.g. `--set risk.max_daily_loss_usd=5` or
        /// `--set replay.pace=recorded` (the value is TOML, or a bare string). Repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Start over: remove the journals, report and log of an earlier run in the output
        /// directory instead of continuing them.
        #[arg(long)]
        fresh: bool,
        /// Replay: exit 0 even when a venue's share of unparsable messages is over
        /// `run.max_parse_error_share_pct` (the venue is still not traded; `run.allow_bad_data`).
        #[arg(long)]
        allow_bad_data: bool,
    },
    /// Serve recorded sessions over the exchange's own protocol on a loopback port (Binance
    /// combined-stream WebSocket + REST depth), for paper mode without internet and for fault
    /// tests. Prints `listening <ws-url>` (and `cert <path>` with --tls), then serves the
    /// recording once and exits.
    ///
    /// Each venue's `ws_url`/`rest_url` in the client config points at
    /// `ws://ADDR/<market>` / `http://ADDR/<market>` (market = spot, usdm, coinm).
    ///
    /// It is also a Binance exchange for live-trading tests: order entry (`/api/v3/order`,
    /// `/fapi/v1/order`, `/dapi/v1/order`, accounts, listenKey user-data streams) matched
    /// against the replayed book, with balances and fees from `--config`'s venues, and the
    /// order faults below (each fires once, on the Nth order request).
    ReplayServer(Box<ReplayServerArgs>),
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
    /// Print the exact signed HTTP request (request line, headers, blank line, body) the engine
    /// would send to an exchange, signed with the credentials from the environment: the tool
    /// to reach for when an exchange answers "invalid signature". Credentials:
    /// `ARBOT_<EXCHANGE>_API_KEY`, `ARBOT_<EXCHANGE>_API_SECRET` and, where the exchange has
    /// one, `ARBOT_<EXCHANGE>_API_PASSPHRASE` (EXCHANGE upper case, e.g. ARBOT_BINANCE_API_KEY).
    ///
    /// Example: `arbot sign binance --market spot --method POST --path /api/v3/order
    /// --body 'symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity=0.001&price=60000'
    /// --timestamp-ms 1723161255000`
    Sign {
        /// Exchange, as in a venue's `exchange` key (binance, okx, ...).
        exchange: String,
        /// Market, where the exchange has several (binance: spot, usdm, coinm).
        #[arg(long)]
        market: Option<String>,
        /// HTTP method.
        #[arg(long)]
        method: String,
        /// Request path, e.g. /api/v3/order.
        #[arg(long)]
        path: String,
        /// Query string without the `?`.
        #[arg(long, default_value = "")]
        query: String,
        /// Request body.
        #[arg(long, default_value = "")]
        body: String,
        /// Request time, ms since the epoch (fixed, so the output can be compared).
        #[arg(long)]
        timestamp_ms: u64,
        /// Nonce, where the exchange signs one.
        #[arg(long)]
        nonce: Option<String>,
        /// Host header (default: the exchange's public REST host).
        #[arg(long)]
        host: Option<String>,
    },
    /// Fit a statistical pair on history (R2.3): `y` on `x` from the close prices of two
    /// Binance kline dump files (matching `open_time`s only), Engle–Granger test as
    /// statsmodels' `coint`. Prints one JSON object last: hedge_ratio, intercept, t_stat,
    /// p_value, lags, n_obs, spread_mean, spread_std (a `[stat] params_file` reads it back).
    FitPair {
        /// Kline file of `y` (`.csv` or `.csv.gz`).
        y: PathBuf,
        /// Kline file of `x`.
        x: PathBuf,
        /// First `open_time` included (ms since the epoch, the files' unit).
        #[arg(long)]
        from: Option<i64>,
        /// First `open_time` excluded.
        #[arg(long)]
        to: Option<i64>,
        /// Also write the JSON object to this file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check a config file and print what it resolves to, without running.
    CheckConfig {
        /// Config file (TOML).
        #[arg(long, short)]
        config: PathBuf,
    },
}

/// Arguments of `arbot replay-server`.
#[derive(clap::Args, Debug)]
struct ReplayServerArgs {
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
    /// API key the exchange accepts (default: env ARBOT_LOOPBACK_API_KEY, else the key of
    /// Binance's signing examples).
    #[arg(long)]
    api_key: Option<String>,
    /// Its HMAC secret (default: env ARBOT_LOOPBACK_API_SECRET, else the examples'
    /// secret). Never printed.
    #[arg(long)]
    api_secret: Option<String>,
    /// Shift the exchange's clock by this many ms (clients that do not sync get -1021).
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    clock_skew_ms: i64,
    /// After the recording ends, keep the exchange side (orders, accounts, user streams) up
    /// this many seconds, books frozen, so a live client can cancel and reconcile.
    #[arg(long, default_value_t = 0)]
    linger_s: u64,
    /// At the end, write every order the exchange received (status, executed quantity,
    /// notional, commissions) to this file as JSON lines: the exchange's own ledger, to
    /// check a live run's journal against.
    #[arg(long)]
    ledger_out: Option<PathBuf>,
    /// Order faults count only this market's orders (spot, usdm, coinm).
    #[arg(long)]
    order_fault_market: Option<String>,
    /// Reject order request N with --reject-code.
    #[arg(long)]
    reject_order: Option<u64>,
    /// Binance error code of the reject (default -2010).
    #[arg(long, default_value_t = -2010, allow_hyphen_values = true)]
    reject_code: i32,
    /// Answer order request N with HTTP 429 (Retry-After: --fault-retry-after-s).
    #[arg(long)]
    order_429: Option<u64>,
    /// Answer order request N with HTTP 418 (an IP ban of --fault-retry-after-s).
    #[arg(long)]
    order_418: Option<u64>,
    /// Retry-After / ban length of --order-429 and --order-418, seconds.
    #[arg(long, default_value_t = 1)]
    fault_retry_after_s: u64,
    /// Swallow order request N: no answer, connection kept open, order not placed.
    #[arg(long)]
    swallow_order: Option<u64>,
    /// Answer order request N --delay-ms late (it is processed at once).
    #[arg(long)]
    delay_order: Option<u64>,
    /// The delay of --delay-order, ms.
    #[arg(long, default_value_t = 2000)]
    delay_ms: u64,
    /// Order request N: the answer says NEW, nothing executed; fills only on the user stream.
    #[arg(long)]
    stream_only_fill: Option<u64>,
    /// Process order request N, then close the connection without answering.
    #[arg(long)]
    disconnect_order: Option<u64>,
    /// Order request N fills at most half its quantity; the rest expires.
    #[arg(long)]
    partial_fill_order: Option<u64>,
    /// Process order request N, then answer HTTP 503 (execution status unknown).
    #[arg(long)]
    order_503: Option<u64>,
    /// After order request N, change every account's free balance of an asset on a market
    /// with no trade: `MARKET:ASSET:DELTA:N` (e.g. `spot:USDT:50:2`; a planted difference for
    /// the engine's live reconciliation).
    #[arg(long)]
    plant_balance: Option<String>,
    /// REQUEST_WEIGHT per minute on every market (default: Binance's, 6000 spot, 2400 futures).
    #[arg(long)]
    weight_limit_1m: Option<u32>,
    /// ORDERS per 10 s per account on every market that has that limiter (default: Binance's).
    #[arg(long)]
    order_limit_10s: Option<u32>,
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
            set,
            fresh,
            allow_bad_data,
        } => {
            let setup = match arbot::config::load_with(&config, &set) {
                Ok(mut s) => {
                    s.cfg.run.stop_when_feeds_end |= until_eof;
                    s.cfg.run.allow_bad_data |= allow_bad_data;
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
            if fresh {
                if let Err(e) = arbot::resume::clear(&out_dir) {
                    eprintln!("arbot: --fresh: {}: {e}", out_dir.display());
                    return ExitCode::from(1);
                }
            }
            let res = match arbot::engine::run(&setup, &out_dir) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("arbot: {e}");
                    return ExitCode::from(1);
                }
            };
            let mut report = arbot::report::build(&setup, &config.display().to_string(), &res);
            // R8.2: pnl.png and latency.png, drawn here (every engine thread has ended)
            report["plots"] = arbot::ops::plots::write(
                &out_dir,
                &config.display().to_string(),
                setup.cfg.mode.as_str(),
                &res.logger.curve,
                &arbot::report::latency_stages(&setup, &res),
            );
            let path = out_dir.join("report.json");
            let text = match serde_json::to_string_pretty(&report) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("arbot: report: {e}");
                    return ExitCode::from(1);
                }
            };
            if let Err(e) = arbot::journals::write_atomic(&out_dir, "report.json", &text) {
                eprintln!("arbot: writing {}: {e}", path.display());
                return ExitCode::from(1);
            }
            if json {
                say!("{text}");
            } else {
                {
                    use std::io::Write as _;
                    let _ = write!(std::io::stdout(), "{}", arbot::report::human(&report));
                }
                say!("report: {}", path.display());
            }
            let bad = arbot::health::errors(&setup, &res.counters);
            for e in &bad {
                eprintln!("arbot: error: {e}");
            }
            if !bad.is_empty()
                && setup.cfg.mode == arbot::config::Mode::Replay
                && !setup.cfg.run.allow_bad_data
            {
                eprintln!(
                    "arbot: the replay's data is bad (see above); exit status 3 \
                     (--allow-bad-data or run.allow_bad_data = true to accept it)"
                );
                return ExitCode::from(3);
            }
            ExitCode::SUCCESS
        }
        Cmd::Sign {
            exchange,
            market,
            method,
            path,
            query,
            body,
            timestamp_ms,
            nonce,
            host,
        } => {
            let ex: arbot::venues::Exchange = match exchange.parse() {
                Ok(e) => e,
                Err(e) => {
                    eprintln!("arbot: {e}");
                    return ExitCode::from(2);
                }
            };
            let opts = arbot::venues::VenueOptions {
                name: exchange.clone(),
                market,
                // signing reads no book setting; levels above every venue's default depth
                // keep the depth checks of `configure` quiet
                book_levels: 10_000,
                snapshot_limit: 1,
                ..Default::default()
            };
            let venue = match arbot::venues::configure(ex, &opts) {
                Ok(v) => v,
                Err(e) => {
                    eprintln!("arbot: {e}");
                    return ExitCode::from(2);
                }
            };
            let creds = match arbot::venues::Credentials::from_env(ex, false) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("arbot: {e}");
                    return ExitCode::from(2);
                }
            };
            let req = arbot::venues::SignRequest {
                method,
                path,
                query,
                body,
                timestamp_ms,
                nonce,
                host,
            };
            match venue.sign_request(&creds, &req) {
                Ok(bytes) => {
                    use std::io::Write;
                    let _ = std::io::stdout().write_all(&bytes);
                    say!();
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("arbot: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Cmd::VerifyBook { files, venue } => {
            let mut status = ExitCode::SUCCESS;
            for f in files {
                match arbot::tools::verify::verify_file(&f, venue.as_deref()) {
                    Ok(r) => {
                        say!("{}", serde_json::to_string(&r).unwrap_or_default());
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
                say!("{}", serde_json::to_string_pretty(&rep).unwrap_or_default());
            } else {
                {
                    use std::io::Write as _;
                    let _ = write!(std::io::stdout(), "{}", rep.human());
                }
            }
            if strict && !rep.tuned() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Cmd::ReplayServer(args) => {
            let ReplayServerArgs {
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
                api_key,
                api_secret,
                clock_skew_ms,
                order_fault_market,
                linger_s,
                ledger_out,
                reject_order,
                reject_code,
                order_429,
                order_418,
                fault_retry_after_s,
                swallow_order,
                delay_order,
                delay_ms,
                stream_only_fill,
                disconnect_order,
                partial_fill_order,
                order_503,
                plant_balance,
                weight_limit_1m,
                order_limit_10s,
            } = *args;
            use arbot::tools::replay_server::{
                ExchangeConfig, Faults, MarketKind, PlantBalance, ServerConfig,
            };
            let mut served = Vec::new();
            let mut exchange = ExchangeConfig::default();
            if let Some(c) = &config {
                let setup = match arbot::config::load(c) {
                    Ok(s) => s,
                    Err(e) => {
                        eprintln!("arbot: {e}");
                        return ExitCode::from(2);
                    }
                };
                exchange = ExchangeConfig::from_setup(&setup);
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
            let key = api_key.or_else(|| std::env::var("ARBOT_LOOPBACK_API_KEY").ok());
            let secret = api_secret.or_else(|| std::env::var("ARBOT_LOOPBACK_API_SECRET").ok());
            if key.is_some() != secret.is_some() {
                eprintln!("arbot: replay-server: give both an API key and its secret, or neither");
                return ExitCode::from(2);
            }
            if let (Some(k), Some(s), Some(a)) = (key, secret, exchange.accounts.first_mut()) {
                a.api_key = k;
                a.secret = s;
            }
            for m in [MarketKind::Spot, MarketKind::Usdm, MarketKind::Coinm] {
                let l = &mut exchange.settings_mut(m).limits;
                if let Some(w) = weight_limit_1m {
                    l.weight_per_minute = w;
                }
                if let Some(n) = order_limit_10s {
                    if l.orders_per_10s > 0 {
                        l.orders_per_10s = n;
                    }
                }
            }
            let plant_balance = match plant_balance.as_deref().map(PlantBalance::parse) {
                None => None,
                Some(Ok(p)) => Some(p),
                Some(Err(e)) => {
                    eprintln!("arbot: {e}");
                    return ExitCode::from(2);
                }
            };
            let order_fault_market = match order_fault_market.as_deref() {
                None => None,
                Some(m) => match MarketKind::parse(m) {
                    Some(m) => Some(m),
                    None => {
                        eprintln!("arbot: --order-fault-market: spot, usdm or coinm");
                        return ExitCode::from(2);
                    }
                },
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
                    order_fault_market,
                    reject_order,
                    reject_code,
                    reject_msg: None,
                    order_429,
                    order_418,
                    fault_retry_after_s,
                    swallow_order,
                    delay_order,
                    delay_ms,
                    stream_only_fill,
                    disconnect_order,
                    partial_fill_order,
                    order_503,
                    clock_skew_ms,
                    plant_balance,
                },
                wait_clients: std::time::Duration::from_secs(wait_clients_s),
                ping_every: None,
                exchange,
                linger: std::time::Duration::from_secs(linger_s),
            };
            let server = match arbot::tools::replay_server::start(cfg) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("arbot: replay-server: {e}");
                    return ExitCode::from(2);
                }
            };
            say!("listening {}", server.ws_base());
            if tls {
                say!("cert {}", cert_out.display());
            }
            use std::io::Write as _;
            let _ = std::io::stdout().flush();
            match server.join() {
                Ok(st) => {
                    say!("{}", serde_json::to_string(&st).unwrap_or_default());
                    if let Some(p) = ledger_out {
                        let mut text = String::new();
                        for o in &st.ledger {
                            text.push_str(&serde_json::to_string(o).unwrap_or_default());
                            text.push('\n');
                        }
                        if let Err(e) = std::fs::write(&p, text) {
                            eprintln!("arbot: replay-server: --ledger-out {}: {e}", p.display());
                            return ExitCode::from(1);
                        }
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("arbot: replay-server: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Cmd::FitPair {
            y,
            x,
            from,
            to,
            out,
        } => match arbot::detect::stat::klines::fit_files(&y, &x, from, to) {
            Ok(c) => {
                let num = |v: f64| {
                    if v.is_finite() {
                        serde_json::json!(v)
                    } else {
                        serde_json::Value::Null
                    }
                };
                let v = serde_json::json!({
                    "y": y.display().to_string(),
                    "x": x.display().to_string(),
                    "from": from,
                    "to": to,
                    "hedge_ratio": c.hedge_ratio,
                    "intercept": c.intercept,
                    "t_stat": num(c.t_stat),
                    "p_value": c.p_value,
                    "lags": c.lags,
                    "n_obs": c.n_obs,
                    "spread_mean": c.spread_mean,
                    "spread_std": c.spread_std,
                });
                let line = v.to_string();
                if let Some(o) = out {
                    if let Err(e) = std::fs::write(&o, format!("{line}\n")) {
                        eprintln!("arbot: writing {}: {e}", o.display());
                        return ExitCode::from(1);
                    }
                }
                say!("{line}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("arbot: fit-pair: {e}");
                ExitCode::from(2)
            }
        },
        Cmd::CheckConfig { config } => match arbot::config::load(&config) {
            Ok(s) => {
                say!(
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
                    say!(
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
