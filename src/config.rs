//! Configuration (R6.6): TOML files under `configs/`, units in key names (`_ns`, `_bps`,
//! `_usd`), validated at start. Unknown keys, missing files and bad values are errors that
//! name the key; the binary prints them and exits non-zero. No secrets live here: API keys
//! come from the environment only (`ARBOT_<VENUE>_API_KEY` / `_API_SECRET`, live mode).
#![forbid(unsafe_code)]

use crate::instrument::{InstrumentDef, InstrumentSpec};
use crate::replay::Pace;
use crate::types::{InstrumentId, VenueId};
use crate::wait::WaitKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Run mode (R3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Recorded data, simulated fills.
    Replay,
    /// Live data, simulated fills (the default).
    #[default]
    Paper,
    /// Live data, real orders (needs `--live`).
    Live,
}

impl Mode {
    /// Config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Replay => "replay",
            Mode::Paper => "paper",
            Mode::Live => "live",
        }
    }
}

/// The whole file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `replay`, `paper` (default) or `live`.
    #[serde(default)]
    pub mode: Mode,
    /// Output, logging, statistics.
    #[serde(default)]
    pub run: RunConfig,
    /// Replay input (mode `replay`).
    #[serde(default)]
    pub replay: Option<ReplayConfig>,
    /// Thread layout and waiting.
    #[serde(default)]
    pub threads: ThreadsConfig,
    /// Venues by name.
    pub venues: BTreeMap<String, VenueConfig>,
    /// Instrument specs written out.
    #[serde(default)]
    pub instruments: Vec<InstrumentDef>,
    /// Instrument specs read from a venue's instrument-endpoint response.
    #[serde(default)]
    pub instrument_files: Vec<InstrumentFile>,
    /// Groups of instruments pricing the same asset (spatial arbitrage).
    #[serde(default)]
    pub groups: Vec<GroupConfig>,
    /// Opportunity thresholds.
    #[serde(default)]
    pub detection: DetectionConfig,
    /// Risk limits.
    #[serde(default)]
    pub risk: RiskConfig,
    /// Order policy.
    #[serde(default)]
    pub execution: ExecutionConfig,
    /// Korean premium monitor (R2.4); absent = off.
    #[serde(default)]
    pub premium: Option<PremiumConfig>,
    /// Triangular arbitrage on one venue (R2.2); absent = off.
    #[serde(default)]
    pub triangular: Option<TriangularConfig>,
    /// Statistical pair trading (R2.3); absent = off.
    #[serde(default)]
    pub stat: Option<crate::detect::stat::StatConfig>,
    /// Rebalancing plan (R5.2); absent = off.
    #[serde(default)]
    pub rebalance: Option<crate::rebalance::RebalanceConfig>,
    /// Raw feed recorder (R1.6; paper and live); absent = off.
    #[serde(default)]
    pub recorder: Option<RecorderConfig>,
    /// Status endpoint (R6.4); absent = off.
    #[serde(default)]
    pub status: Option<crate::ops::status::StatusConfig>,
    /// Webhook alerts (R6.5); absent = off.
    #[serde(default)]
    pub alerts: Option<crate::ops::alerts::AlertsConfig>,
}

/// `[recorder]`: every raw frame and REST snapshot the live feeds receive, written as
/// `<dir>/<venue>_<YYYYMMDD>.gz` (`<recv_ns> <raw>` per line; [`crate::feed::recorder`]).
/// Only in paper and live modes: a replay's input is already a recording.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RecorderConfig {
    /// Directory of the files (created if missing; relative to the working directory, like
    /// `run.out_dir`).
    pub dir: PathBuf,
    /// Gzip sync flush of every file written to, at least this often (1 ms ..= 1 s): what a
    /// crash can lose and how far behind `zcat` of a growing file is.
    #[serde(default = "default_recorder_flush_ns")]
    pub flush_interval_ns: u64,
    /// Bytes of each venue's ring from its feed thread to the recorder thread (1 MiB ..=
    /// 1 GiB, rounded up to a power of two). A full ring drops the frame from the recording
    /// (counted in `report.json` `recorder`, logged); the feed itself is never held up.
    #[serde(default = "default_recorder_ring_bytes")]
    pub ring_bytes: u64,
}

fn default_recorder_flush_ns() -> u64 {
    1_000_000_000
}

fn default_recorder_ring_bytes() -> u64 {
    64 << 20
}

// ---- R2.2 / R2.3 strategy sections -------------------------------------------------------

/// How a triangle's three legs are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum CycleSend {
    /// All three IOC legs at once, each from inventory already held (default).
    #[default]
    Parallel,
    /// One after another, each sized from what the previous leg delivered.
    Sequential,
}

/// `[triangular]`: cycles over the configured spot instruments of each listed venue (R2.2).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TriangularConfig {
    /// Venues whose spot instruments form the triangles.
    pub venues: Vec<String>,
    /// Start (and end) assets of the cycles, with the USD value of one unit (`{ USDT = 1.0 }`).
    pub start_assets_usd: BTreeMap<String, f64>,
    /// Minimum cycle return after the three taker fees, bps (R2.2 default 0.15 % = 15 bps).
    #[serde(default = "default_cycle_min_profit_bps")]
    pub min_profit_bps: f64,
    /// Minimum expected profit of a sized cycle, USD (default 0).
    #[serde(default)]
    pub min_profit_usd: f64,
    /// `parallel` (default) or `sequential`.
    #[serde(default)]
    pub send: CycleSend,
}

fn default_cycle_min_profit_bps() -> f64 {
    15.0
}

fn resolve_triangular(
    tc: &TriangularConfig,
    venues: &[VenueSetup],
    instruments: &[InstrumentSpec],
) -> Result<crate::detect::triangular::TriangularSetup, ConfigError> {
    if !tc.min_profit_bps.is_finite() || tc.min_profit_bps < -1000.0 {
        return Err(invalid(
            "triangular.min_profit_bps",
            "must be a finite number ≥ -1000",
        ));
    }
    finite_nonneg("triangular.min_profit_usd", tc.min_profit_usd)?;
    if tc.start_assets_usd.is_empty() {
        return Err(invalid(
            "triangular.start_assets_usd",
            "at least one start asset with its USD value, e.g. { USDT = 1.0 }",
        ));
    }
    let mut starts = Vec::new();
    for (a, usd) in &tc.start_assets_usd {
        if !(usd.is_finite() && *usd > 0.0) {
            return Err(invalid(
                format!("triangular.start_assets_usd.{a}"),
                "must be a USD value > 0",
            ));
        }
        starts.push((a.clone(), *usd));
    }
    if tc.venues.is_empty() {
        return Err(invalid("triangular.venues", "at least one venue"));
    }
    let mut cycles = Vec::new();
    for (k, name) in tc.venues.iter().enumerate() {
        let key = format!("triangular.venues[{k}]");
        let v = venues
            .iter()
            .find(|v| &v.name == name)
            .ok_or_else(|| invalid(&key, format!("unknown venue {name:?}")))?;
        if !v.has_order_entry(instruments) {
            return Err(invalid(
                &key,
                format!(
                    "order entry is not built for {} yet: venue {name} cannot trade triangles",
                    v.cfg.exchange
                ),
            ));
        }
        let found = crate::detect::triangular::enumerate_cycles(instruments, v.id, &starts);
        if found.is_empty() {
            let syms: Vec<&str> = instruments
                .iter()
                .filter(|i| i.venue == v.id)
                .map(|i| i.symbol.as_str())
                .collect();
            return Err(invalid(
                &key,
                format!(
                    "no cycle from {:?} through the spot instruments of {name} ({syms:?})",
                    tc.start_assets_usd.keys().collect::<Vec<_>>()
                ),
            ));
        }
        cycles.extend(found);
    }
    // a start asset no listed venue trades would be silently unused (a typo, say)
    for a in tc.start_assets_usd.keys() {
        let traded = instruments.iter().any(|i| {
            (&i.base == a || &i.quote == a)
                && venues
                    .iter()
                    .any(|v| v.id == i.venue && tc.venues.contains(&v.name))
        });
        if !traded {
            return Err(invalid(
                format!("triangular.start_assets_usd.{a}"),
                "no instrument of the listed venues trades this asset",
            ));
        }
    }
    if cycles.len() > u16::MAX as usize {
        return Err(invalid("triangular.venues", "too many cycles"));
    }
    Ok(crate::detect::triangular::TriangularSetup {
        cycles,
        cfg: tc.clone(),
    })
}

// ---- end of R2.2 / R2.3 strategy sections ------------------------------------------------

/// `[run]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    /// Output directory (report, journals, log); `--out` overrides.
    pub out_dir: PathBuf,
    /// Periodic statistics line in the log every this many ns (wall clock).
    pub stats_interval_ns: u64,
    /// Rotate `arbot.log` at this size.
    pub log_max_bytes: u64,
    /// Rotated logs kept (`arbot.log.1` ...).
    pub log_keep: u32,
    /// Stop after this many ns of wall time (0 = until the input ends / Ctrl-C).
    pub max_runtime_ns: u64,
    /// Paper/live: finish when every feed connection was closed by its server with a normal
    /// close frame (the loopback replay server does that at the end of the recording) instead
    /// of reconnecting. `arbot run --until-eof` sets it.
    pub stop_when_feeds_end: bool,
    /// Kill switch (R4.5): when this file appears, every open order is cancelled, no new
    /// trade is made and the run ends with its report. Relative paths are inside the output
    /// directory; `""` turns the file check off (SIGUSR1 still kills). Checked by a cold
    /// thread every 100 ms.
    pub kill_switch_file: PathBuf,
    /// The journals are fsynced at every trade completion and at least this often while
    /// anything is being written (wall time), by the logger thread (R6.3).
    pub fsync_interval_ns: u64,
    /// Share of a venue's messages that may fail to parse, in percent: over it (in the first
    /// `bad_data_first_msgs` messages, or in any later window of `bad_data_window_msgs`) the
    /// venue is marked unhealthy and not traded, and a replay exits non-zero
    /// ([`crate::health`]).
    pub max_parse_error_share_pct: f64,
    /// The first bad-data check comes after this many messages of a venue.
    pub bad_data_first_msgs: u64,
    /// Later bad-data checks: one per this many messages of a venue.
    pub bad_data_window_msgs: u64,
    /// A replay whose data is over the limit still exits 0 (the venue is still not traded).
    /// `arbot run --allow-bad-data` sets it.
    pub allow_bad_data: bool,
    /// The PnL curve (`pnl_curve.csv`, R8.2) marks the run at this fixed interval of data
    /// time (and at every trade); Sharpe and Sortino are computed on its changes.
    pub pnl_curve_interval_ns: u64,
}

impl Default for RunConfig {
    fn default() -> RunConfig {
        RunConfig {
            out_dir: PathBuf::from("out"),
            stats_interval_ns: 1_000_000_000,
            log_max_bytes: 64 << 20,
            log_keep: 5,
            max_runtime_ns: 0,
            stop_when_feeds_end: false,
            kill_switch_file: PathBuf::from("KILL"),
            fsync_interval_ns: 1_000_000_000,
            max_parse_error_share_pct: 1.0,
            bad_data_first_msgs: 100,
            bad_data_window_msgs: 1000,
            allow_bad_data: false,
            pnl_curve_interval_ns: 1_000_000_000,
        }
    }
}

/// `[replay]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayConfig {
    /// `max` (as fast as possible) or `recorded`.
    #[serde(default)]
    pub pace: Pace,
    /// Speed-up factor for `recorded` pace (2.0 = twice as fast).
    #[serde(default = "one")]
    pub speed: f64,
    /// At most this many messages inside the pipeline at once (0 = no limit). With a small
    /// lead, `pace = "max"` measures per-message latency without a self-made backlog; with no
    /// limit it measures throughput (latency then includes queueing).
    #[serde(default)]
    pub lead_msgs: u64,
    /// Stop after handing on this many messages (in merge order; 0 = the whole recording).
    /// Lets a benchmark replay a slice at recorded pace.
    #[serde(default)]
    pub max_messages: u64,
    /// Play the recording this many times end to end (a soak: `scripts/soak.sh`). Each pass
    /// is shifted forward in data time by the recording's span plus 1 ms, and every book
    /// resyncs at a pass boundary from the recording's own snapshots (as after a reconnect);
    /// risk, inventory, PnL and journals carry on across passes. 1 (default) = once. More than
    /// one runs on the single-thread path only (`pace = "max"`, `threads.mode` `auto` or
    /// `single`).
    #[serde(default = "one_u32")]
    pub loops: u32,
    /// Recorded files and the venue each belongs to.
    pub files: Vec<ReplayFileConfig>,
}

fn one() -> f64 {
    1.0
}

fn one_u32() -> u32 {
    1
}

/// `[[replay.files]]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayFileConfig {
    /// Venue name.
    pub venue: String,
    /// Path (relative paths are relative to the config file's directory's parent, i.e. the
    /// repository root for files in `configs/`; absolute paths as given).
    pub path: PathBuf,
    /// Layout: `auto` (default: told from the first line), `ns-json` (`<ns> <json>` lines,
    /// gzip or plain) or `cryptofeed` (`NAME.ws.N.0` sessions).
    #[serde(default)]
    pub format: crate::replay::ReplayFormat,
}

/// How a run is driven.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ThreadMode {
    /// `single` for a replay at `pace = "max"`, `threaded` for a paced replay, paper and live
    /// (the default).
    #[default]
    Auto,
    /// Feed threads → rings → detection thread → execution thread (the live shape; a replay
    /// in this shape measures the hand-offs, as the benchmark harness does).
    Threaded,
    /// One thread runs the venue handlers, the detection core and the execution step in
    /// order, with no rings (replay only): same journals and report, no hand-offs.
    Single,
}

/// `[threads]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThreadsConfig {
    /// `auto` (default: `single` for a replay, `threaded` otherwise), `threaded`, or `single`
    /// (replay only: one thread, no rings, the same journals and report).
    pub mode: ThreadMode,
    /// Wait strategy of hot threads: `spin`, `spin-yield`, `park`, `block` (spin, then sleep
    /// on a futex until the next hand-off; see [`crate::wait`]).
    pub wait: WaitKind,
    /// Busy polls before yielding/sleeping (`spin-yield`, `park`, `block`).
    pub spins_before_yield: u32,
    /// Sleep per idle poll for `park`, ns.
    pub park_ns: u64,
    /// Events per feed → detection ring.
    pub md_ring_capacity: usize,
    /// Bytes per replay → feed ring.
    pub raw_ring_bytes: usize,
    /// Paper/live: a feed thread that waited this long for room in its ring to detection
    /// (detection stalled) reconnects every venue it serves once the ring takes the message,
    /// so their books are resynced from fresh snapshots instead of lagging behind what the
    /// socket buffered meanwhile (counted as `stall_reconnects`, logged). 0 = never. Replays
    /// always wait (they lose nothing by it).
    pub stall_resync_ns: u64,
    /// Feed threads and the venues each serves; default: one thread per venue.
    pub feeds: Vec<FeedThreadConfig>,
    /// Core of the detection thread.
    pub detection_core: Option<usize>,
    /// Core of the execution thread.
    pub execution_core: Option<usize>,
}

impl Default for ThreadsConfig {
    fn default() -> ThreadsConfig {
        ThreadsConfig {
            mode: ThreadMode::Auto,
            wait: WaitKind::Park,
            spins_before_yield: 200,
            park_ns: 20_000,
            md_ring_capacity: 1 << 16,
            raw_ring_bytes: 8 << 20,
            stall_resync_ns: 1_000_000_000,
            feeds: Vec::new(),
            detection_core: None,
            execution_core: None,
        }
    }
}

/// `[[threads.feeds]]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FeedThreadConfig {
    /// Thread name.
    pub name: String,
    /// Venues it serves.
    pub venues: Vec<String>,
    /// Core to pin to.
    #[serde(default)]
    pub core: Option<usize>,
}

/// `[venues.<name>]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VenueConfig {
    /// Exchange (`binance`, `okx`, ...; see [`crate::venues::Exchange`]).
    pub exchange: crate::venues::Exchange,
    /// Market of that exchange, where it has several (Binance: `spot`, `usdm`, `coinm`).
    #[serde(default)]
    pub market: Option<String>,
    /// Taker fee in bps (0.1 % = 10 bps).
    pub taker_fee_bps: f64,
    /// One-way order latency to the venue, ns: an order sent at `t` reaches the venue at
    /// `t + order_latency_ns` and its answer is back one more latency later (fill simulator).
    #[serde(default = "default_latency")]
    pub order_latency_ns: u64,
    /// Market-data latency from the venue, ns: the engine receives the venue's state of time
    /// `T` at `T + feed_latency_ns`, so a simulated order is matched against the book
    /// received `feed_latency_ns` after its arrival (hftbacktest's feed/order latency split).
    /// Default 0: the book as received at arrival.
    #[serde(default)]
    pub feed_latency_ns: u64,
    /// Starting balances by asset (`USDT = 100000`).
    #[serde(default)]
    pub balances: BTreeMap<String, f64>,
    /// Leverage for derivatives margin (margin = notional / leverage).
    #[serde(default = "one")]
    pub leverage: f64,
    /// Levels kept per book side (required: there is no good default for every venue; a
    /// full side drops its worst level and counts it). Binance diff books grow past the
    /// 1,000-level snapshot, so 5,000 is typical there; Kraken needs more than `book_depth`.
    pub book_levels: usize,
    /// Paper/live: WebSocket base URL instead of the exchange's public one, e.g.
    /// `ws://127.0.0.1:9901/spot` for the loopback replay server (`arbot replay-server`).
    #[serde(default)]
    pub ws_url: Option<String>,
    /// Paper/live: REST base URL (depth snapshots) instead of the exchange's public one.
    #[serde(default)]
    pub rest_url: Option<String>,
    /// Paper/live: a CA certificate (PEM) to trust in addition to the built-in roots (for
    /// REST: instead of them), e.g. the replay server's self-signed certificate. Relative paths
    /// resolve like replay files.
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
    /// Diff-depth stream to subscribe (Binance: `depth@100ms` by default; the recordings in
    /// `../shared/data/binance` used `depth@0ms` on the futures venues).
    #[serde(default)]
    pub depth_stream: Option<String>,
    /// Levels asked for in a REST depth snapshot (Binance `limit`).
    #[serde(default = "default_snapshot_limit")]
    pub snapshot_limit: u32,
    /// No message (data, ping or pong) for this long: the connection is dropped and reopened (R1.4).
    #[serde(default = "default_silence")]
    pub silence_timeout_ns: u64,
    /// First reconnect delay; doubles per failed attempt up to the maximum, with jitter (each
    /// delay drawn from [d/2, d]).
    #[serde(default = "default_backoff_min")]
    pub reconnect_backoff_min_ns: u64,
    /// Largest reconnect delay.
    #[serde(default = "default_backoff_max")]
    pub reconnect_backoff_max_ns: u64,
    /// Close and reopen a connection after this long (Binance drops connections at 24 h);
    /// 0 = only when the venue's own limit requires it.
    #[serde(default = "default_rotate")]
    pub rotate_after_ns: u64,
    /// A connection not open (TCP + TLS + upgrade) after this long is abandoned and retried.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_ns: u64,
    /// Wire protocol, where an exchange speaks several: `bybit` `v5` (default) or `v2` (the
    /// legacy `orderBookL2_25` feed of the 2021 recordings); `coinbase` `advanced-trade`
    /// (default) or `exchange` (the Exchange/Pro feed); `kraken` `v2` (default) or `v1`.
    #[serde(default)]
    pub protocol: Option<String>,
    /// Book depth to subscribe, where the exchange asks for one (Kraken `depth`: 10, 25, 100,
    /// 500, 1000; Bybit `orderbook.N`). Kraken books are cut to this depth after every update.
    #[serde(default)]
    pub book_depth: Option<u32>,
    /// Fees per instrument kind (`[venues.x.fees.spot]`, `.linear-perp`, `.inverse-perp`,
    /// `.linear-future`, `.inverse-future`), overriding `taker_fee_bps` for
    /// instruments of that kind.
    #[serde(default)]
    pub fees: FeesByKind,
}

fn default_snapshot_limit() -> u32 {
    1000
}
fn default_silence() -> u64 {
    60_000_000_000
}
fn default_backoff_min() -> u64 {
    250_000_000
}
fn default_backoff_max() -> u64 {
    30_000_000_000
}
fn default_rotate() -> u64 {
    23 * 3600 * 1_000_000_000
}
fn default_connect_timeout() -> u64 {
    10_000_000_000
}

/// `[venues.<name>.fees]`: a fee schedule per instrument kind (the venue-wide
/// `taker_fee_bps` applies to kinds not listed).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FeesByKind {
    /// Spot.
    #[serde(default)]
    pub spot: Option<KindFees>,
    /// Linear perpetuals.
    #[serde(default)]
    pub linear_perp: Option<KindFees>,
    /// Inverse perpetuals.
    #[serde(default)]
    pub inverse_perp: Option<KindFees>,
    /// Dated linear futures.
    #[serde(default)]
    pub linear_future: Option<KindFees>,
    /// Dated inverse futures.
    #[serde(default)]
    pub inverse_future: Option<KindFees>,
}

/// The taker fee of one instrument kind, in bps (0.1 % = 10 bps). Maker fees are not
/// configured: every order arbot sends takes liquidity (IOC or market).
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KindFees {
    /// Taker fee, bps.
    pub taker_bps: f64,
}

impl FeesByKind {
    /// The entry for `kind`, if any.
    pub fn get(&self, kind: crate::instrument::InstrumentKind) -> Option<&KindFees> {
        use crate::instrument::InstrumentKind as K;
        match kind {
            K::Spot => self.spot.as_ref(),
            K::LinearPerp => self.linear_perp.as_ref(),
            K::InversePerp => self.inverse_perp.as_ref(),
            K::LinearFuture => self.linear_future.as_ref(),
            K::InverseFuture => self.inverse_future.as_ref(),
        }
    }
    fn entries(&self) -> [(&'static str, Option<&KindFees>); 5] {
        [
            ("spot", self.spot.as_ref()),
            ("linear-perp", self.linear_perp.as_ref()),
            ("inverse-perp", self.inverse_perp.as_ref()),
            ("linear-future", self.linear_future.as_ref()),
            ("inverse-future", self.inverse_future.as_ref()),
        ]
    }
}

impl VenueConfig {
    /// Taker fee for instruments of `kind`, bps: the kind's entry in `fees`, else
    /// `taker_fee_bps`.
    pub fn taker_fee_bps_for(&self, kind: crate::instrument::InstrumentKind) -> f64 {
        self.fees
            .get(kind)
            .map(|f| f.taker_bps)
            .unwrap_or(self.taker_fee_bps)
    }
}

fn default_latency() -> u64 {
    1_000_000
}

/// `[[instrument_files]]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InstrumentFile {
    /// Venue name.
    pub venue: String,
    /// Path of the instrument-endpoint response (raw JSON or a recorded `URL -> t: body` line).
    pub path: PathBuf,
    /// Which symbols to take from it.
    pub symbols: Vec<String>,
}

/// `[[groups]]`: instruments that price the same asset.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// Asset name (`BTC`).
    pub asset: String,
    /// Members as `venue:SYMBOL`.
    pub instruments: Vec<String>,
    /// Quote assets treated as one (`["USDT", "USD"]`); members must all quote in one of them.
    #[serde(default)]
    pub equivalent_quotes: Vec<String>,
    /// USD value of one unit of the group's quote (1.0 for USD/USDT).
    #[serde(default = "one")]
    pub quote_usd: f64,
}

/// `[premium]`: KRW markets against USDT markets through a KRW per USDT rate (R2.4).
/// Report-only: the premium and its band excursions go to `report.json`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PremiumConfig {
    /// Rate source: `{ fixed_krw_per_usdt = 1380.0 }` or `{ book = "upbit:KRW-USDT" }`.
    pub rate: PremiumRateConfig,
    /// Lower edge of the band, % (premium below it is reported as outside).
    pub band_low_pct: f64,
    /// Upper edge of the band, %.
    pub band_high_pct: f64,
    /// Books (and the rate book) older than this are not used, ns (default `risk.stale_after_ns`).
    #[serde(default)]
    pub max_age_ns: Option<u64>,
    /// Pairs `{ krw = "upbit:KRW-BTC", usdt = "binance-spot:BTCUSDT" }`.
    pub pairs: Vec<PremiumPairConfig>,
}

/// `[premium.rate]`: exactly one key.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PremiumRateConfig {
    /// A constant rate, KRW per USDT (replay, tests).
    #[serde(default)]
    pub fixed_krw_per_usdt: Option<f64>,
    /// A configured instrument quoted in KRW with base USDT (`venue:SYMBOL`); its mid is the rate.
    #[serde(default)]
    pub book: Option<String>,
}

/// `[[premium.pairs]]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PremiumPairConfig {
    /// KRW market `venue:SYMBOL`.
    pub krw: String,
    /// USDT market `venue:SYMBOL` of the same base asset.
    pub usdt: String,
}

/// The premium monitor with instrument ids.
#[derive(Clone, Debug)]
pub struct PremiumSetup {
    /// Rate source.
    pub rate: crate::detect::premium::RateSource,
    /// Readable rate source for the report (`fixed 1380 KRW/USDT`, `book upbit:KRW-USDT`).
    pub rate_label: String,
    /// Band (low, high) in bps.
    pub band: (crate::types::Bps, crate::types::Bps),
    /// Maximum book age, ns.
    pub max_age_ns: u64,
    /// (KRW instrument, USDT instrument).
    pub pairs: Vec<(InstrumentId, InstrumentId)>,
}

/// `[detection]`, defaults from R2.1/R2.6.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectionConfig {
    /// Minimum net spread after both taker fees, bps (R2.1 default 0.25 % = 25 bps).
    pub min_net_spread_bps: f64,
    /// Minimum expected profit after fees, USD (R2.1 default 5).
    pub min_profit_usd: f64,
    /// Minimum depth available at the traded prices, USD, on the thinner side (R2.1 default 1,000).
    pub min_depth_usd: f64,
    /// Minimum confidence score (R2.6 default 0.6).
    pub min_confidence: f64,
    /// After a signal on a pair, do not signal the same pair again for this long unless
    /// either top price moved (the books cannot show our own fills until the venue
    /// publishes again), ns.
    pub reentry_cooldown_ns: u64,
    /// Data older than this scores 0 on freshness in the confidence score, ns (also the
    /// quote lifetime assumed before one is measured). Formula: [`crate::detect::spatial`].
    pub confidence_age_ns: u64,
}

impl Default for DetectionConfig {
    fn default() -> DetectionConfig {
        DetectionConfig {
            min_net_spread_bps: 25.0,
            min_profit_usd: 5.0,
            min_depth_usd: 1000.0,
            min_confidence: 0.6,
            reentry_cooldown_ns: 1_000_000_000,
            confidence_age_ns: 1_000_000_000,
        }
    }
}

/// `[risk]`, defaults from R4.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskConfig {
    /// Per-trade notional cap, USD (per leg).
    pub max_trade_notional_usd: f64,
    /// Trades in flight at once (R3.5 default 5).
    pub max_in_flight: u32,
    /// Refuse when the gross spread is above this, bps (R4.4 default 5 % = 500 bps).
    pub max_spread_bps: f64,
    /// A book older than this is not traded, ns (R1.3 default 1 s).
    pub stale_after_ns: u64,
    /// A book older than this is invalid, ns (R1.3 default 10 s).
    pub hard_stale_after_ns: u64,
    /// Net position per coin across venues, USD (R4.1 default 10,000).
    pub max_position_per_coin_usd: f64,
    /// Gross position per venue, USD (R4.1 default 50,000).
    pub max_exposure_per_venue_usd: f64,
    /// Gross position over all venues, USD (R4.1 default 100,000).
    pub max_total_exposure_usd: f64,
    /// Starting capital, USD, for the equity the loss limits measure (R4.2). `0` (default):
    /// the configured balances valued at the first mids (quote assets of a group at its
    /// `quote_usd`, base assets at the mid of the group's first member with a book).
    pub equity_usd: f64,
    /// Daily loss limit, USD, marked to market from the equity at the start of the UTC day
    /// (data time in replay). Trips the breaker (R4.2 default 500).
    pub max_daily_loss_usd: f64,
    /// Daily loss limit as % of the equity at the start of the day; the smaller of this and
    /// `max_daily_loss_usd` applies (R4.2 default 1 %).
    pub max_daily_loss_pct: f64,
    /// Drawdown limit: fall of the mark-to-market equity from its high-water mark, % (R4.2
    /// default 5 %).
    pub max_drawdown_pct: f64,
    /// Losing trades in a row (each trade's own flows with the base it leaves valued at the
    /// mids when it completes) that trip the breaker (R4.2 default 10).
    pub max_consecutive_losses: u32,
    /// Open breaker → half-open after this long, ns (R4.2 default 30 min).
    pub breaker_cooldown_ns: u64,
    /// Half-open → closed after this many probe trades that did not lose (a losing probe
    /// opens it again). Probes go one at a time.
    pub breaker_probe_trades: u32,
    /// The equity is re-marked from the books' mids at most this often (data time), ns; it is
    /// also re-marked at every trade completion.
    pub mark_interval_ns: u64,
    /// Trades approved per rolling hour (R4.3 default 100).
    pub max_trades_per_hour: u32,
    /// Trades approved per UTC day (R4.3 default 1,000).
    pub max_trades_per_day: u32,
    /// Expected slippage limit per leg: the VWAP of the walk against the top of book, bps
    /// (R4.4).
    pub max_slippage_bps: f64,
    /// A venue's mid may deviate at most this far from the median mid of the other venues
    /// quoting the same asset, % (R4.4 default 10 %).
    pub max_price_deviation_pct: f64,
    /// Maintenance windows (R4.4): no trade on the venue inside `[from_ns, to_ns)` (data
    /// time). Live venues also report maintenance through
    /// [`crate::engine::core::DetectionCore::set_maintenance`].
    pub maintenance: Vec<MaintenanceWindow>,
}

/// `[[risk.maintenance]]`: a venue in maintenance from `from_ns` (inclusive) to `to_ns`
/// (exclusive), ns since the epoch.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceWindow {
    /// Venue name.
    pub venue: String,
    /// Start, ns since the epoch.
    pub from_ns: u64,
    /// End (exclusive), ns since the epoch.
    pub to_ns: u64,
}

impl Default for RiskConfig {
    fn default() -> RiskConfig {
        RiskConfig {
            max_trade_notional_usd: 10_000.0,
            max_in_flight: 5,
            max_spread_bps: 500.0,
            stale_after_ns: 1_000_000_000,
            hard_stale_after_ns: 10_000_000_000,
            max_position_per_coin_usd: 10_000.0,
            max_exposure_per_venue_usd: 50_000.0,
            max_total_exposure_usd: 100_000.0,
            equity_usd: 0.0,
            max_daily_loss_usd: 500.0,
            max_daily_loss_pct: 1.0,
            max_drawdown_pct: 5.0,
            max_consecutive_losses: 10,
            breaker_cooldown_ns: 30 * 60 * 1_000_000_000,
            breaker_probe_trades: 3,
            mark_interval_ns: 100_000_000,
            max_trades_per_hour: 100,
            max_trades_per_day: 1000,
            max_slippage_bps: 10.0,
            max_price_deviation_pct: 10.0,
            maintenance: Vec::new(),
        }
    }
}

/// How legs are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum OrderTypeConfig {
    /// Limit IOC at the detected prices (default, R3.2).
    #[default]
    Ioc,
    /// Market orders.
    Market,
}

/// What to do with a one-legged trade (R3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum UnwindPolicy {
    /// Close the excess on the venue where it was filled, at the next available price.
    #[default]
    Unwind,
    /// Keep the exposure (recorded as such).
    Hold,
}

/// `[execution]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExecutionConfig {
    /// `ioc` or `market`.
    pub order_type: OrderTypeConfig,
    /// Execution window per trade, ns (R3.2 default 5 s, at most 30 s).
    pub window_ns: u64,
    /// One-leg policy.
    pub one_leg: UnwindPolicy,
    /// Unwind orders walk at most this far from the best price, bps.
    pub unwind_max_slippage_bps: f64,
    /// `recvWindow` sent with orders, ms (Binance: at most 60,000).
    pub recv_window_ms: u32,
    /// Live: keep-alive order connections per venue (both legs of every trade in flight
    /// must find one).
    pub order_connections: usize,
    /// Live: an order with no answer after this long has an unknown state; it is queried.
    pub order_timeout_ns: u64,
    /// Live: interval between queries of an order whose state is unknown.
    pub query_interval_ns: u64,
    /// Live: stay this far (percent of the venue's limit) below its request-weight limit.
    pub rate_margin_pct: f64,
    /// Live: the balances the venue reports at start may differ from the config's by this
    /// much (percent of the configured amount) before the engine refuses to trade.
    pub balance_tolerance_pct: f64,
    /// Live: reconcile the venues' balances and positions with the engine's fills this often
    /// and after every trade, whenever no trade is in flight (R5.1); a difference beyond the
    /// tolerance (10⁻⁸ per fill, as at the end) stops trading on that venue. 0 = only at the
    /// end of the run.
    pub reconcile_interval_ns: u64,
}

impl Default for ExecutionConfig {
    fn default() -> ExecutionConfig {
        ExecutionConfig {
            order_type: OrderTypeConfig::Ioc,
            window_ns: 5_000_000_000,
            one_leg: UnwindPolicy::Unwind,
            unwind_max_slippage_bps: 100.0,
            recv_window_ms: 5000,
            order_connections: 2,
            order_timeout_ns: 2_000_000_000,
            query_interval_ns: 250_000_000,
            rate_margin_pct: 10.0,
            balance_tolerance_pct: 0.5,
            reconcile_interval_ns: 10_000_000_000,
        }
    }
}

/// A configuration error, with the key it is about.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("config file {path}: {source}")]
    Read {
        /// Path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// TOML syntax, unknown key, wrong type (the message names the key and line).
    #[error("config file {path}: {msg}")]
    Parse {
        /// Path.
        path: String,
        /// Parser message.
        msg: String,
    },
    /// A value is out of range or inconsistent.
    #[error("config key `{key}`: {msg}")]
    Invalid {
        /// Dotted key.
        key: String,
        /// What is wrong.
        msg: String,
    },
}

/// A [`ConfigError::Invalid`] naming `key`.
pub fn invalid(key: impl Into<String>, msg: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        msg: msg.into(),
    }
}

/// A venue with its id.
#[derive(Clone, Debug)]
pub struct VenueSetup {
    /// Id (position in name order).
    pub id: VenueId,
    /// Name.
    pub name: String,
    /// Its config.
    pub cfg: VenueConfig,
    /// The wire options venue code reads.
    pub options: crate::venues::VenueOptions,
    /// The venue's adapter (typed parameters resolved from the options).
    pub adapter: std::sync::Arc<dyn crate::venues::Venue>,
}

impl VenueSetup {
    /// True when order entry is built for this venue (it can be traded).
    pub fn has_order_entry(&self, instruments: &[InstrumentSpec]) -> bool {
        let ctx = crate::venues::VenueCtx {
            id: self.id,
            options: &self.options,
            instruments,
        };
        self.adapter.order_entry(&ctx, "", b"").is_some()
    }
}

impl VenueConfig {
    /// The keys venue code reads, for the venue named `name`.
    pub fn options(&self, name: &str) -> crate::venues::VenueOptions {
        crate::venues::VenueOptions {
            name: name.to_string(),
            market: self.market.clone(),
            protocol: self.protocol.clone(),
            book_depth: self.book_depth,
            book_levels: self.book_levels,
            depth_stream: self.depth_stream.clone(),
            snapshot_limit: self.snapshot_limit,
            ws_url: self.ws_url.clone(),
            rest_url: self.rest_url.clone(),
        }
    }
}

/// A spatial group with instrument ids.
#[derive(Clone, Debug)]
pub struct GroupSetup {
    /// Asset.
    pub asset: String,
    /// Members.
    pub members: Vec<InstrumentId>,
    /// USD per quote unit.
    pub quote_usd: f64,
}

/// Everything resolved: ids assigned, specs loaded, paths resolved.
#[derive(Clone, Debug)]
pub struct Setup {
    /// The file as parsed.
    pub cfg: Config,
    /// Venues by id.
    pub venues: Vec<VenueSetup>,
    /// Instruments by id.
    pub instruments: Vec<InstrumentSpec>,
    /// Groups.
    pub groups: Vec<GroupSetup>,
    /// Replay files with venue ids and resolved paths.
    pub replay_files: Vec<crate::replay::ReplayFile>,
    /// Feed threads: name, venues, core.
    pub feeds: Vec<(String, Vec<VenueId>, Option<usize>)>,
    /// Korean premium monitor, if configured.
    pub premium: Option<PremiumSetup>,
    /// Triangles (R2.2), if configured.
    pub triangular: Option<crate::detect::triangular::TriangularSetup>,
    /// Statistical pair (R2.3), if configured.
    pub stat: Option<crate::detect::stat::StatSetup>,
    /// Rebalancing plan (R5.2), if configured.
    pub rebalance: Option<crate::rebalance::RebalanceSetup>,
}

impl Setup {
    /// Venue id by name.
    pub fn venue_id(&self, name: &str) -> Option<VenueId> {
        self.venues.iter().find(|v| v.name == name).map(|v| v.id)
    }

    /// The market-data handler of venue `v` (parser + book-sync rules for its instruments).
    pub fn handler(
        &self,
        v: VenueId,
        counters: std::sync::Arc<crate::feed::VenueCounters>,
    ) -> Result<Box<dyn crate::feed::VenueHandler>, String> {
        self.venues[v.idx()]
            .adapter
            .handler(&self.venue_ctx(v), counters)
    }

    /// The live connection protocol of venue `v`.
    pub fn protocol(
        &self,
        v: VenueId,
    ) -> Result<Box<dyn crate::feed::protocol::VenueProtocol>, String> {
        self.venues[v.idx()].adapter.protocol(&self.venue_ctx(v))
    }

    /// What venue code sees of venue `v`: its options and the instrument table.
    pub fn venue_ctx(&self, v: VenueId) -> crate::venues::VenueCtx<'_> {
        crate::venues::VenueCtx {
            id: v,
            options: &self.venues[v.idx()].options,
            instruments: &self.instruments,
        }
    }

    /// Taker fee of every instrument, indexed by [`InstrumentId`]: its venue's fee for its
    /// kind ([`VenueConfig::taker_fee_bps_for`]). Built once at start; the hot path indexes it.
    pub fn taker_fees_by_instrument(&self) -> Vec<crate::types::Bps> {
        self.instruments
            .iter()
            .map(|s| {
                crate::types::Bps::from_num(
                    self.venues[s.venue.idx()].cfg.taker_fee_bps_for(s.kind),
                )
            })
            .collect()
    }
}

/// Parse a config from text (paths resolve against `base_dir`).
pub fn parse(text: &str, path_label: &str) -> Result<Config, ConfigError> {
    toml::from_str::<Config>(text).map_err(|e| ConfigError::Parse {
        path: path_label.to_string(),
        msg: e.to_string(),
    })
}

/// Read, parse and validate a config file.
pub fn load(path: &Path) -> Result<Setup, ConfigError> {
    load_with(path, &[])
}

/// Set `key = value` overrides (`risk.max_daily_loss_usd=5`, `replay.pace="recorded"`; the
/// value is TOML, or a bare string) on a parsed config file, before it is validated.
fn apply_overrides(text: &str, label: &str, overrides: &[String]) -> Result<Config, ConfigError> {
    let mut table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: label.to_string(),
        msg: e.to_string(),
    })?;
    for o in overrides {
        let Some((key, raw)) = o.split_once('=') else {
            return Err(invalid(o.as_str(), "an override is `key=value`"));
        };
        let key = key.trim();
        let value = match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
            Ok(mut t) => t
                .remove("v")
                .unwrap_or(toml::Value::String(raw.to_string())),
            Err(_) => toml::Value::String(raw.trim().to_string()),
        };
        let parts: Vec<&str> = key.split('.').collect();
        let mut cur = &mut table;
        for p in &parts[..parts.len() - 1] {
            let next = cur
                .entry(p.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            cur = next
                .as_table_mut()
                .ok_or_else(|| invalid(key, format!("`{p}` is not a table")))?;
        }
        cur.insert(parts[parts.len() - 1].to_string(), value);
    }
    table.try_into::<Config>().map_err(|e| ConfigError::Parse {
        path: format!("{label} (with --set {})", overrides.join(" ")),
        msg: e.to_string(),
    })
}

/// [`load`] with `key=value` overrides applied to the file before validation (`arbot run
/// --set`).
pub fn load_with(path: &Path, overrides: &[String]) -> Result<Setup, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        path: path.display().to_string(),
        source: e,
    })?;
    let cfg = if overrides.is_empty() {
        parse(&text, &path.display().to_string())?
    } else {
        apply_overrides(&text, &path.display().to_string(), overrides)?
    };
    // relative data paths are relative to the repository root = parent of `configs/`
    let base = path
        .parent()
        .map(|p| {
            if p.file_name().map(|n| n == "configs").unwrap_or(false) {
                p.parent().unwrap_or(p).to_path_buf()
            } else {
                p.to_path_buf()
            }
        })
        .unwrap_or_else(|| PathBuf::from("."));
    resolve(cfg, &base)
}

/// `p` against the config's base directory (an existing relative path is kept as is).
pub(crate) fn resolve_path(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        let joined = base.join(p);
        if joined.exists() || !p.exists() {
            joined
        } else {
            p.to_path_buf()
        }
    }
}

/// `v` must be finite and ≥ 0, else an error naming `key`.
pub fn finite_nonneg(key: &str, v: f64) -> Result<(), ConfigError> {
    if !v.is_finite() || v < 0.0 {
        return Err(invalid(
            key,
            format!("must be a finite number ≥ 0, got {v}"),
        ));
    }
    Ok(())
}

/// Validate and resolve a parsed config.
pub fn resolve(cfg: Config, base: &Path) -> Result<Setup, ConfigError> {
    if cfg.venues.is_empty() {
        return Err(invalid("venues", "at least one venue is required"));
    }
    if cfg.venues.len() > 255 {
        return Err(invalid("venues", "at most 255 venues"));
    }
    let mut venues = Vec::new();
    for (i, (name, v)) in cfg.venues.iter().enumerate() {
        let k = |f: &str| format!("venues.{name}.{f}");
        if v.book_levels == 0 || v.book_levels > 100_000 {
            return Err(invalid(k("book_levels"), "must be in [1, 100000]"));
        }
        let options = v.options(name);
        let adapter =
            crate::venues::configure(v.exchange, &options).map_err(|e| invalid(k(e.key), e.msg))?;
        for (kind, f) in v.fees.entries() {
            if let Some(f) = f {
                if !f.taker_bps.is_finite() || f.taker_bps < 0.0 || f.taker_bps > 1000.0 {
                    return Err(invalid(
                        k(&format!("fees.{kind}.taker_bps")),
                        "must be in [0, 1000]",
                    ));
                }
            }
        }
        if !v.taker_fee_bps.is_finite() || v.taker_fee_bps < 0.0 || v.taker_fee_bps > 1000.0 {
            return Err(invalid(k("taker_fee_bps"), "must be in [0, 1000]"));
        }
        if v.feed_latency_ns > 10_000_000_000 {
            return Err(invalid(k("feed_latency_ns"), "must be ≤ 10 s"));
        }
        if v.order_latency_ns == 0 {
            return Err(invalid(
                k("order_latency_ns"),
                "must be > 0 (an order cannot reach the venue instantly)",
            ));
        }
        if !(v.leverage.is_finite() && v.leverage >= 1.0 && v.leverage <= 125.0) {
            return Err(invalid(k("leverage"), "must be in [1, 125]"));
        }
        for (a, b) in &v.balances {
            finite_nonneg(&k(&format!("balances.{a}")), *b)?;
        }
        for (key, u) in [("ws_url", &v.ws_url), ("rest_url", &v.rest_url)] {
            if let Some(u) = u {
                crate::net::Url::parse(u).map_err(|e| invalid(k(key), e))?;
            }
        }
        if v.silence_timeout_ns < 1_000_000 {
            return Err(invalid(k("silence_timeout_ns"), "must be ≥ 1 ms"));
        }
        if v.reconnect_backoff_min_ns == 0
            || v.reconnect_backoff_max_ns < v.reconnect_backoff_min_ns
        {
            return Err(invalid(
                k("reconnect_backoff_max_ns"),
                "need 0 < reconnect_backoff_min_ns ≤ reconnect_backoff_max_ns",
            ));
        }
        if v.connect_timeout_ns < 1_000_000 {
            return Err(invalid(k("connect_timeout_ns"), "must be ≥ 1 ms"));
        }
        if v.snapshot_limit == 0 || v.snapshot_limit > 5000 {
            return Err(invalid(k("snapshot_limit"), "must be in [1, 5000]"));
        }
        let mut v = v.clone();
        if let Some(p) = &v.tls_ca_file {
            let p = resolve_path(base, p);
            if cfg.mode != Mode::Replay && !p.is_file() {
                return Err(invalid(
                    k("tls_ca_file"),
                    format!("file not found: {}", p.display()),
                ));
            }
            v.tls_ca_file = Some(p);
        }
        let v = &v;
        venues.push(VenueSetup {
            id: VenueId(i as u8),
            name: name.clone(),
            cfg: v.clone(),
            options,
            adapter,
        });
    }
    let vid = |key: &str, name: &str| -> Result<VenueId, ConfigError> {
        venues
            .iter()
            .find(|v| v.name == name)
            .map(|v| v.id)
            .ok_or_else(|| invalid(key, format!("unknown venue {name:?}")))
    };

    // instruments
    let mut defs: Vec<(String, InstrumentDef)> = Vec::new();
    for (i, d) in cfg.instruments.iter().enumerate() {
        defs.push((format!("instruments[{i}]"), d.clone()));
    }
    for (i, f) in cfg.instrument_files.iter().enumerate() {
        let key = format!("instrument_files[{i}]");
        let v = vid(&format!("{key}.venue"), &f.venue)?;
        let p = resolve_path(base, &f.path);
        let text = std::fs::read_to_string(&p)
            .map_err(|e| invalid(format!("{key}.path"), format!("{}: {e}", p.display())))?;
        let all = venues[v.idx()]
            .adapter
            .parse_instruments(&f.venue, &text)
            .map_err(|e| invalid(format!("{key}.path"), e))?;
        for s in &f.symbols {
            let d = all
                .iter()
                .find(|d| d.symbol.eq_ignore_ascii_case(s))
                .ok_or_else(|| {
                    invalid(
                        format!("{key}.symbols"),
                        format!("{s:?} not in {}", p.display()),
                    )
                })?;
            defs.push((key.clone(), d.clone()));
        }
    }
    let mut instruments: Vec<InstrumentSpec> = Vec::new();
    for (key, d) in &defs {
        let v = vid(&format!("{key}.venue"), &d.venue)?;
        if instruments
            .iter()
            .any(|s| s.venue == v && s.symbol.eq_ignore_ascii_case(&d.symbol))
        {
            return Err(invalid(
                key.as_str(),
                format!("{}:{} defined twice", d.venue, d.symbol),
            ));
        }
        let spec = d
            .to_spec(InstrumentId(instruments.len() as u16), v)
            .map_err(|e| invalid(format!("{key}.{}", e.field), e.to_string()))?;
        instruments.push(spec);
    }
    if instruments.is_empty() {
        return Err(invalid("instruments", "no instruments configured"));
    }
    // a venue with nothing to read would connect (or replay its file) and count every message
    // as unknown: say so at load instead
    if let Some(v) = venues
        .iter()
        .find(|v| !instruments.iter().any(|i| i.venue == v.id))
    {
        return Err(invalid(
            format!("venues.{}", v.name),
            format!(
                "no instrument of venue {:?} is configured: add one ([[instruments]] or \
                 [[instrument_files]] with venue = {:?}) or remove the venue",
                v.name, v.name
            ),
        ));
    }
    let find_inst = |key: &str, s: &str| -> Result<InstrumentId, ConfigError> {
        let (vn, sym) = s
            .split_once(':')
            .ok_or_else(|| invalid(key, format!("{s:?}: expected `venue:SYMBOL`")))?;
        let v = vid(key, vn)?;
        instruments
            .iter()
            .find(|i| i.venue == v && i.symbol.eq_ignore_ascii_case(sym))
            .map(|i| i.id)
            .ok_or_else(|| invalid(key, format!("{s:?} is not a configured instrument")))
    };

    // groups
    let mut groups = Vec::new();
    for (gi, g) in cfg.groups.iter().enumerate() {
        let key = format!("groups[{gi}]");
        let mut members = Vec::new();
        for s in &g.instruments {
            let id = find_inst(&format!("{key}.instruments"), s)?;
            let spec = &instruments[id.idx()];
            if !spec.base.eq_ignore_ascii_case(&g.asset) {
                return Err(invalid(
                    format!("{key}.instruments"),
                    format!("{s} has base {} but the group is {}", spec.base, g.asset),
                ));
            }
            if members.contains(&id) {
                return Err(invalid(
                    format!("{key}.instruments"),
                    format!("{s} listed twice"),
                ));
            }
            let vs = &venues[spec.venue.idx()];
            if !vs.has_order_entry(&instruments) {
                return Err(invalid(
                    format!("{key}.instruments"),
                    format!(
                        "{s}: order entry is not built for {} yet, so venue {} cannot be in a \
                         trading group (it can still feed `premium` or `verify-book`)",
                        vs.cfg.exchange, vs.name
                    ),
                ));
            }
            members.push(id);
        }
        if members.len() < 2 {
            return Err(invalid(
                format!("{key}.instruments"),
                "a group needs at least 2 instruments",
            ));
        }
        // quotes must be equal or declared equivalent (USD, USDT, USDC are kept apart by default)
        let q0 = instruments[members[0].idx()].quote.clone();
        for m in &members[1..] {
            let q = &instruments[m.idx()].quote;
            let eq = q == &q0
                || (g
                    .equivalent_quotes
                    .iter()
                    .any(|x| x.eq_ignore_ascii_case(q))
                    && g.equivalent_quotes
                        .iter()
                        .any(|x| x.eq_ignore_ascii_case(&q0)));
            if !eq {
                return Err(invalid(
                    format!("{key}.equivalent_quotes"),
                    format!("quotes {q0} and {q} differ; list both to treat them as one"),
                ));
            }
        }
        if !(g.quote_usd.is_finite() && g.quote_usd > 0.0) {
            return Err(invalid(format!("{key}.quote_usd"), "must be > 0"));
        }
        groups.push(GroupSetup {
            asset: g.asset.to_ascii_uppercase(),
            members,
            quote_usd: g.quote_usd,
        });
    }

    // a config that trades needs its starting capital valued (the loss limits measure it)
    if cfg.risk.equity_usd == 0.0 && !groups.is_empty() {
        crate::risk::limits::EquityBasis::new(&venues, &instruments, &groups)
            .map_err(|(key, msg)| invalid(key, msg))?;
    }

    // Korean premium
    let premium = match &cfg.premium {
        None => None,
        Some(pc) => Some(resolve_premium(
            pc,
            &instruments,
            &find_inst,
            cfg.risk.stale_after_ns,
        )?),
    };

    // detection / risk / execution ranges
    let d = &cfg.detection;
    if !d.min_net_spread_bps.is_finite() || d.min_net_spread_bps < -1000.0 {
        return Err(invalid(
            "detection.min_net_spread_bps",
            "must be a finite number ≥ -1000",
        ));
    }
    finite_nonneg("detection.min_profit_usd", d.min_profit_usd)?;
    finite_nonneg("detection.min_depth_usd", d.min_depth_usd)?;
    if !(0.0..=1.0).contains(&d.min_confidence) {
        return Err(invalid("detection.min_confidence", "must be in [0, 1]"));
    }
    if d.confidence_age_ns == 0 {
        return Err(invalid("detection.confidence_age_ns", "must be > 0"));
    }
    let r = &cfg.risk;
    finite_nonneg("risk.max_trade_notional_usd", r.max_trade_notional_usd)?;
    if r.max_trade_notional_usd == 0.0 {
        return Err(invalid("risk.max_trade_notional_usd", "must be > 0"));
    }
    if r.max_in_flight == 0 || r.max_in_flight > 64 {
        return Err(invalid("risk.max_in_flight", "must be in [1, 64]"));
    }
    finite_nonneg("risk.max_spread_bps", r.max_spread_bps)?;
    if r.stale_after_ns == 0 || r.hard_stale_after_ns < r.stale_after_ns {
        return Err(invalid(
            "risk.hard_stale_after_ns",
            "need 0 < stale_after_ns ≤ hard_stale_after_ns",
        ));
    }
    finite_nonneg(
        "risk.max_position_per_coin_usd",
        r.max_position_per_coin_usd,
    )?;
    finite_nonneg(
        "risk.max_exposure_per_venue_usd",
        r.max_exposure_per_venue_usd,
    )?;
    finite_nonneg("risk.max_total_exposure_usd", r.max_total_exposure_usd)?;
    validate_limits(r, &venues)?;
    let e = &cfg.execution;
    if e.window_ns == 0 || e.window_ns > 30_000_000_000 {
        return Err(invalid(
            "execution.window_ns",
            "must be in (0, 30 s] (R3.2)",
        ));
    }
    finite_nonneg(
        "execution.unwind_max_slippage_bps",
        e.unwind_max_slippage_bps,
    )?;
    if e.recv_window_ms == 0 || e.recv_window_ms > 60_000 {
        return Err(invalid(
            "execution.recv_window_ms",
            "must be in [1, 60000] (Binance's maximum)",
        ));
    }
    if e.order_connections == 0 || e.order_connections > 16 {
        return Err(invalid("execution.order_connections", "must be in [1, 16]"));
    }
    if e.order_timeout_ns < 1_000_000 || e.order_timeout_ns > 60_000_000_000 {
        return Err(invalid(
            "execution.order_timeout_ns",
            "must be in [1 ms, 60 s]",
        ));
    }
    if e.query_interval_ns < 1_000_000 {
        return Err(invalid("execution.query_interval_ns", "must be ≥ 1 ms"));
    }
    if !(0.0..100.0).contains(&e.rate_margin_pct) {
        return Err(invalid("execution.rate_margin_pct", "must be in [0, 100)"));
    }
    finite_nonneg("execution.balance_tolerance_pct", e.balance_tolerance_pct)?;
    if e.reconcile_interval_ns != 0 && e.reconcile_interval_ns < 100_000_000 {
        return Err(invalid(
            "execution.reconcile_interval_ns",
            "must be 0 (only at the end) or ≥ 100 ms (each check is an account request per venue)",
        ));
    }
    let t = &cfg.threads;
    if let Some(r) = cfg.replay.as_ref().filter(|_| cfg.mode == Mode::Replay) {
        if r.loops == 0 {
            return Err(invalid(
                "replay.loops",
                "must be ≥ 1 (1 = play the recording once)",
            ));
        }
        if r.loops > 1
            && (r.pace == crate::replay::Pace::Recorded || t.mode == ThreadMode::Threaded)
        {
            return Err(invalid(
                "replay.loops",
                "a looped replay runs on the single-thread path: it needs replay.pace = \"max\" \
                 and threads.mode = \"auto\" or \"single\"",
            ));
        }
    }
    if t.mode == ThreadMode::Single
        && cfg
            .replay
            .as_ref()
            .is_some_and(|r| r.pace == crate::replay::Pace::Recorded)
    {
        return Err(invalid(
            "threads.mode",
            "\"single\" runs a replay as fast as it can; replay.pace = \"recorded\" needs the \
             threaded shape (\"auto\" picks it)",
        ));
    }
    if t.mode == ThreadMode::Single && cfg.mode != Mode::Replay {
        return Err(invalid(
            "threads.mode",
            "\"single\" drives a replay; paper and live need the threaded shape",
        ));
    }
    if t.md_ring_capacity < 1024 {
        return Err(invalid("threads.md_ring_capacity", "must be ≥ 1024"));
    }
    if t.raw_ring_bytes < (1 << 20) {
        return Err(invalid(
            "threads.raw_ring_bytes",
            "must be ≥ 1 MiB (a Binance snapshot is ~60 KiB)",
        ));
    }
    if t.stall_resync_ns != 0 && t.stall_resync_ns < 10_000_000 {
        return Err(invalid(
            "threads.stall_resync_ns",
            "must be 0 (never) or ≥ 10_000_000 (10 ms)",
        ));
    }
    if let Some(st) = &cfg.status {
        st.validate()?;
    }
    if let Some(a) = &cfg.alerts {
        a.validate()?;
    }
    if cfg.run.pnl_curve_interval_ns < 1_000_000
        || cfg.run.pnl_curve_interval_ns > 86_400_000_000_000
    {
        return Err(invalid(
            "run.pnl_curve_interval_ns",
            "must be in [1 ms, 1 day]",
        ));
    }
    if cfg.run.stats_interval_ns < 10_000_000 {
        return Err(invalid("run.stats_interval_ns", "must be ≥ 10 ms"));
    }
    if cfg.run.fsync_interval_ns < 1_000_000 || cfg.run.fsync_interval_ns > 60_000_000_000 {
        return Err(invalid("run.fsync_interval_ns", "must be in [1 ms, 60 s]"));
    }
    let share = cfg.run.max_parse_error_share_pct;
    if !(0.0..=100.0).contains(&share) {
        return Err(invalid(
            "run.max_parse_error_share_pct",
            "must be a percentage from 0 to 100",
        ));
    }

    // feed threads: default one per venue; every venue on exactly one thread
    let mut feeds = Vec::new();
    if t.feeds.is_empty() {
        for v in &venues {
            feeds.push((format!("feed-{}", v.name), vec![v.id], None));
        }
    } else {
        let mut seen = vec![false; venues.len()];
        for (fi, f) in t.feeds.iter().enumerate() {
            let key = format!("threads.feeds[{fi}].venues");
            let mut vs = Vec::new();
            for n in &f.venues {
                let v = vid(&key, n)?;
                if seen[v.idx()] {
                    return Err(invalid(key, format!("venue {n} is on two feed threads")));
                }
                seen[v.idx()] = true;
                vs.push(v);
            }
            if vs.is_empty() {
                return Err(invalid(key, "a feed thread needs at least one venue"));
            }
            feeds.push((f.name.clone(), vs, f.core));
        }
        if let Some(i) = seen.iter().position(|s| !s) {
            return Err(invalid(
                "threads.feeds",
                format!("venue {} is on no feed thread", venues[i].name),
            ));
        }
    }

    // replay files
    let mut replay_files = Vec::new();
    match (&cfg.replay, cfg.mode) {
        (None, Mode::Replay) => {
            return Err(invalid(
                "replay",
                "mode = \"replay\" needs a [replay] section with files",
            ))
        }
        (Some(rp), _) => {
            if rp.files.is_empty() && cfg.mode == Mode::Replay {
                return Err(invalid("replay.files", "no files"));
            }
            if !(rp.speed.is_finite() && rp.speed > 0.0) {
                return Err(invalid("replay.speed", "must be > 0"));
            }
            for (i, f) in rp.files.iter().enumerate() {
                let key = format!("replay.files[{i}]");
                let v = vid(&format!("{key}.venue"), &f.venue)?;
                let p = resolve_path(base, &f.path);
                if cfg.mode == Mode::Replay && !p.is_file() {
                    return Err(invalid(
                        format!("{key}.path"),
                        format!("file not found: {}", p.display()),
                    ));
                }
                replay_files.push(crate::replay::ReplayFile {
                    path: p,
                    venue: v,
                    format: f.format,
                    instruments: instruments
                        .iter()
                        .filter(|i| i.venue == v)
                        .map(|i| (i.symbol.clone(), i.id))
                        .collect(),
                });
            }
        }
        (None, _) => {}
    }
    let triangular = match &cfg.triangular {
        Some(tc) => Some(resolve_triangular(tc, &venues, &instruments)?),
        None => None,
    };
    let stat = match &cfg.stat {
        Some(sc) => Some(crate::detect::stat::resolve(
            sc,
            &venues,
            &instruments,
            &find_inst,
            base,
        )?),
        None => None,
    };
    let rebalance = match &cfg.rebalance {
        Some(rc) => Some(crate::rebalance::resolve(rc, &venues, &instruments, base)?),
        None => None,
    };
    if let Some(rc) = &cfg.recorder {
        if cfg.mode == Mode::Replay {
            return Err(invalid(
                "recorder",
                "the recorder records live feeds (mode paper or live); a replay's input is \
                 already a recording",
            ));
        }
        if rc.dir.as_os_str().is_empty() {
            return Err(invalid("recorder.dir", "empty"));
        }
        if !(1_000_000..=1_000_000_000).contains(&rc.flush_interval_ns) {
            return Err(invalid(
                "recorder.flush_interval_ns",
                "must be between 1_000_000 (1 ms) and 1_000_000_000 (1 s)",
            ));
        }
        if !((1 << 20)..=(1 << 30)).contains(&rc.ring_bytes) {
            return Err(invalid(
                "recorder.ring_bytes",
                "must be between 1 MiB (1_048_576) and 1 GiB (1_073_741_824)",
            ));
        }
    }
    Ok(Setup {
        cfg,
        venues,
        instruments,
        groups,
        replay_files,
        feeds,
        premium,
        triangular,
        stat,
        rebalance,
    })
}

/// The loss limits, breaker, trade-rate and guard keys (R4.2–R4.4).
fn validate_limits(r: &RiskConfig, venues: &[VenueSetup]) -> Result<(), ConfigError> {
    finite_nonneg("risk.equity_usd", r.equity_usd)?;
    for (k, v) in [
        ("risk.max_daily_loss_usd", r.max_daily_loss_usd),
        ("risk.max_slippage_bps", r.max_slippage_bps),
    ] {
        if !(v.is_finite() && v > 0.0) {
            return Err(invalid(k, format!("must be a finite number > 0, got {v}")));
        }
    }
    for (k, v) in [
        ("risk.max_daily_loss_pct", r.max_daily_loss_pct),
        ("risk.max_drawdown_pct", r.max_drawdown_pct),
        ("risk.max_price_deviation_pct", r.max_price_deviation_pct),
    ] {
        if !(v.is_finite() && v > 0.0 && v <= 100.0) {
            return Err(invalid(
                k,
                format!("must be a percentage in (0, 100], got {v}"),
            ));
        }
    }
    for (k, v) in [
        ("risk.max_consecutive_losses", r.max_consecutive_losses),
        ("risk.breaker_probe_trades", r.breaker_probe_trades),
        ("risk.max_trades_per_hour", r.max_trades_per_hour),
        ("risk.max_trades_per_day", r.max_trades_per_day),
    ] {
        if v == 0 || v > 1_000_000 {
            return Err(invalid(k, format!("must be in [1, 1000000], got {v}")));
        }
    }
    if r.breaker_cooldown_ns == 0 {
        return Err(invalid("risk.breaker_cooldown_ns", "must be > 0"));
    }
    if r.mark_interval_ns == 0 || r.mark_interval_ns > 60_000_000_000 {
        return Err(invalid("risk.mark_interval_ns", "must be in (0, 60 s]"));
    }
    for (i, w) in r.maintenance.iter().enumerate() {
        let key = format!("risk.maintenance[{i}]");
        if !venues.iter().any(|v| v.name == w.venue) {
            return Err(invalid(
                format!("{key}.venue"),
                format!("unknown venue {:?}", w.venue),
            ));
        }
        if w.from_ns >= w.to_ns {
            return Err(invalid(
                format!("{key}.to_ns"),
                format!("must be after from_ns ({} ≥ {})", w.from_ns, w.to_ns),
            ));
        }
    }
    Ok(())
}

fn resolve_premium(
    pc: &PremiumConfig,
    instruments: &[InstrumentSpec],
    find_inst: &dyn Fn(&str, &str) -> Result<InstrumentId, ConfigError>,
    default_age_ns: u64,
) -> Result<PremiumSetup, ConfigError> {
    use crate::detect::premium::{Px, RateSource};
    use crate::types::Bps;
    let quote_is = |id: InstrumentId, q: &str| instruments[id.idx()].quote.eq_ignore_ascii_case(q);
    let (rate, rate_label) = match (&pc.rate.fixed_krw_per_usdt, &pc.rate.book) {
        (Some(r), None) => {
            if !(r.is_finite() && *r > 0.0 && *r < 1e9) {
                return Err(invalid(
                    "premium.rate.fixed_krw_per_usdt",
                    format!("must be a positive number of KRW per USDT, got {r}"),
                ));
            }
            let d = crate::fixed_point::parse_decimal(format!("{r:.8}").as_bytes(), 8)
                .map_err(|e| invalid("premium.rate.fixed_krw_per_usdt", e.to_string()))?;
            (
                RateSource::Fixed(Px {
                    v: d.value as i128,
                    dec: 8,
                }),
                format!("fixed {r} KRW/USDT"),
            )
        }
        (None, Some(b)) => {
            let id = find_inst("premium.rate.book", b)?;
            let s = &instruments[id.idx()];
            if !quote_is(id, "KRW") || !s.base.eq_ignore_ascii_case("USDT") {
                return Err(invalid(
                    "premium.rate.book",
                    format!(
                        "{b} is {}/{}; the rate book must be USDT quoted in KRW",
                        s.base, s.quote
                    ),
                ));
            }
            (RateSource::Book(id), format!("book {b} (mid)"))
        }
        _ => {
            return Err(invalid(
                "premium.rate",
                "give exactly one of `fixed_krw_per_usdt` or `book`",
            ))
        }
    };
    let (lo, hi) = (pc.band_low_pct, pc.band_high_pct);
    if !(lo.is_finite() && hi.is_finite() && lo < hi && lo > -100.0 && hi < 10_000.0) {
        return Err(invalid(
            "premium.band_low_pct",
            format!("need -100 < band_low_pct < band_high_pct < 10000, got {lo} and {hi}"),
        ));
    }
    let max_age_ns = pc.max_age_ns.unwrap_or(default_age_ns);
    if max_age_ns == 0 {
        return Err(invalid("premium.max_age_ns", "must be > 0"));
    }
    if pc.pairs.is_empty() {
        return Err(invalid("premium.pairs", "at least one { krw, usdt } pair"));
    }
    let mut pairs = Vec::new();
    for (i, p) in pc.pairs.iter().enumerate() {
        let key = format!("premium.pairs[{i}]");
        let k = find_inst(&format!("{key}.krw"), &p.krw)?;
        let u = find_inst(&format!("{key}.usdt"), &p.usdt)?;
        if !quote_is(k, "KRW") {
            return Err(invalid(
                format!("{key}.krw"),
                format!("{} is not quoted in KRW", p.krw),
            ));
        }
        if !quote_is(u, "USDT") {
            return Err(invalid(
                format!("{key}.usdt"),
                format!("{} is not quoted in USDT", p.usdt),
            ));
        }
        let (bk, bu) = (&instruments[k.idx()].base, &instruments[u.idx()].base);
        if !bk.eq_ignore_ascii_case(bu) {
            return Err(invalid(
                format!("{key}.usdt"),
                format!("base {bu} differs from the KRW market's base {bk}"),
            ));
        }
        pairs.push((k, u));
    }
    Ok(PremiumSetup {
        rate,
        rate_label,
        band: (Bps::from_num(lo * 100.0), Bps::from_num(hi * 100.0)),
        max_age_ns,
        pairs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
mode = "replay"
[replay]
files = [{ venue = "a", path = "Cargo.toml" }]
[venues.a]
exchange = "binance"
market = "spot"
taker_fee_bps = 10.0
book_levels = 5000
[venues.b]
exchange = "binance"
market = "usdm"
taker_fee_bps = 5.0
book_levels = 5000
[[instruments]]
venue = "a"
symbol = "BTCUSDT"
base = "BTC"
quote = "USDT"
tick_size = "0.01"
lot_size = "0.00001"
[[instruments]]
venue = "b"
symbol = "BTCUSDT"
base = "BTC"
quote = "USDT"
kind = "linear-perp"
tick_size = "0.1"
lot_size = "0.001"
[[groups]]
asset = "BTC"
instruments = ["a:BTCUSDT", "b:BTCUSDT"]
"#;

    fn setup(text: &str) -> Result<Setup, ConfigError> {
        resolve(
            parse(text, "t.toml")?,
            Path::new(env!("CARGO_MANIFEST_DIR")),
        )
    }

    #[test]
    fn good_config_resolves_with_defaults() {
        let s = setup(GOOD).unwrap();
        assert_eq!(s.venues.len(), 2);
        assert_eq!(s.instruments.len(), 2);
        assert_eq!(s.groups[0].members.len(), 2);
        assert_eq!(s.cfg.detection.min_net_spread_bps, 25.0);
        assert_eq!(s.cfg.detection.min_profit_usd, 5.0);
        assert_eq!(s.cfg.detection.min_depth_usd, 1000.0);
        assert_eq!(s.cfg.risk.max_in_flight, 5);
        assert_eq!(s.feeds.len(), 2, "one feed thread per venue by default");
    }

    fn err(text: &str) -> String {
        setup(text).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_key() {
        let e = err(&GOOD.replace(
            "taker_fee_bps = 10.0",
            "taker_fee_bps = 10.0\ntaker_fee = 1",
        ));
        assert!(e.contains("taker_fee"), "{e}");
        let e = err(&GOOD.replace("taker_fee_bps = 10.0", "taker_fee_bps = \"ten\""));
        assert!(e.contains("taker_fee_bps"), "{e}");
        let e = err(&GOOD.replace("taker_fee_bps = 10.0", "taker_fee_bps = -1.0"));
        assert!(e.contains("venues.a.taker_fee_bps"), "{e}");
        let e = err(&GOOD.replace("path = \"Cargo.toml\"", "path = \"nope.gz\""));
        assert!(
            e.contains("replay.files[0].path") && e.contains("not found"),
            "{e}"
        );
        let e = err(&GOOD.replace("\"a:BTCUSDT\", ", "\"a:ETHUSDT\", "));
        assert!(e.contains("groups[0].instruments"), "{e}");
        let e = err(&GOOD.replace("quote = \"USDT\"\nkind", "quote = \"USD\"\nkind"));
        assert!(e.contains("equivalent_quotes"), "{e}");
        let e = err(&format!("{GOOD}\n[detection]\nmin_confidence = 2.0\n"));
        assert!(e.contains("detection.min_confidence"), "{e}");
        let e = err(&format!("{GOOD}\n[risk]\nmax_in_flight = 0\n"));
        assert!(e.contains("risk.max_in_flight"), "{e}");
        let e = err(&GOOD.replace(
            "exchange = \"binance\"\nmarket = \"spot\"",
            "exchange = \"mtgox\"",
        ));
        assert!(
            e.contains("exchange = \"mtgox\"") && e.contains("unknown exchange"),
            "{e}"
        );
        let e = err(&GOOD.replace("tick_size = \"0.01\"", "tick_size = \"0\""));
        assert!(e.contains("tick_size"), "{e}");
        let e = err(&GOOD.replace("mode = \"replay\"", "mode = \"yolo\""));
        assert!(e.contains("mode"), "{e}");
        // a third venue with no instrument: named, not left to count every message as unknown
        let e = err(&GOOD.replacen(
            "[[instruments]]",
            "[venues.c]\nexchange = \"okx\"\ntaker_fee_bps = 8.0\nbook_levels = 400\n[[instruments]]",
            1,
        ));
        assert!(
            e.contains("venues.c") && e.contains("no instrument of venue \"c\""),
            "{e}"
        );
    }

    #[test]
    fn fees_per_instrument_kind() {
        let text = GOOD.replace(
            "market = \"usdm\"\ntaker_fee_bps = 5.0",
            "market = \"usdm\"\ntaker_fee_bps = 5.0\nfees = { linear-perp = { taker_bps = 4.5 }, spot = { taker_bps = 9.0 } }",
        );
        let s = setup(&text).unwrap();
        let f = s.taker_fees_by_instrument();
        assert_eq!(f.len(), 2);
        assert_eq!(f[0], crate::types::Bps::from_num(10.0), "venue-wide fee");
        assert_eq!(f[1], crate::types::Bps::from_num(4.5), "linear-perp entry");
        let b = &s.venues[1].cfg;
        use crate::instrument::InstrumentKind as K;
        assert_eq!(b.taker_fee_bps_for(K::Spot), 9.0);
        // maker fees are gone: arbot only takes liquidity, so a maker fee would be a setting
        // that does nothing
        let e = err(&text.replace("taker_bps = 4.5 }", "taker_bps = 4.5, maker_bps = 1.8 }"));
        assert!(e.contains("maker_bps"), "{e}");
        let e = err(&text.replace(
            "taker_fee_bps = 5.0",
            "taker_fee_bps = 5.0\nmaker_fee_bps = 2.0",
        ));
        assert!(e.contains("maker_fee_bps"), "{e}");
        let e = err(&text.replace("taker_bps = 4.5", "taker_bps = -1"));
        assert!(e.contains("venues.b.fees.linear-perp.taker_bps"), "{e}");
        let e = err(&text.replace("linear-perp = {", "linear_perp = {"));
        assert!(e.contains("linear_perp"), "{e}");
    }

    #[test]
    fn new_exchanges_check_their_keys() {
        // market data only: no trading group
        let md = &GOOD[..GOOD.find("[[groups]]").unwrap()];
        let okx = md.replace(
            "exchange = \"binance\"\nmarket = \"spot\"",
            "exchange = \"okx\"",
        );
        setup(&okx).unwrap();
        let e = err(&md.replace(
            "exchange = \"binance\"\nmarket = \"spot\"",
            "exchange = \"okx\"\nmarket = \"spot\"",
        ));
        assert!(e.contains("venues.a.market"), "{e}");
        let kr = md
            .replacen(
                "exchange = \"binance\"\nmarket = \"spot\"",
                "exchange = \"kraken\"\nprotocol = \"v1\"\nbook_depth = 1000",
                1,
            )
            .replacen("book_levels = 5000", "book_levels = 1000", 1);
        let e = err(&kr);
        assert!(e.contains("venues.a.book_levels"), "{e}");
        setup(&kr.replace("book_levels = 1000", "book_levels = 1100")).unwrap();
        let e = err(&kr.replace("book_depth = 1000", "book_depth = 7"));
        assert!(e.contains("venues.a.book_depth"), "{e}");
        let by = md.replace(
            "exchange = \"binance\"\nmarket = \"usdm\"",
            "exchange = \"bybit\"\nmarket = \"linear\"\nbook_depth = 500",
        );
        setup(&by).unwrap();
        let e = err(&by.replace("market = \"linear\"", "market = \"spot\""));
        assert!(e.contains("venues.b.book_depth"), "{e}");
        let cb = md.replace(
            "exchange = \"binance\"\nmarket = \"spot\"",
            "exchange = \"coinbase\"\nprotocol = \"fix\"",
        );
        assert!(err(&cb).contains("venues.a.protocol"));
        // single-protocol venues refuse `protocol` instead of ignoring it
        let up = md.replace(
            "exchange = \"binance\"\nmarket = \"spot\"",
            "exchange = \"upbit\"\nprotocol = \"v2\"",
        );
        assert!(err(&up).contains("venues.a.protocol"), "{}", err(&up));
        // a venue without order entry cannot trade: in a group it is an error naming the group
        let e = err(&GOOD.replace(
            "exchange = \"binance\"\nmarket = \"spot\"",
            "exchange = \"okx\"",
        ));
        assert!(
            e.contains("groups[0].instruments") && e.contains("order entry"),
            "{e}"
        );
        // the book depth must be set
        let e = err(&GOOD.replacen("book_levels = 5000\n", "", 1));
        assert!(e.contains("book_levels"), "{e}");
    }

    #[test]
    fn missing_file_is_an_error() {
        let e = load(Path::new("/nonexistent/arbot.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/arbot.toml"), "{e}");
    }
}
