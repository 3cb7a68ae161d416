//! Alerts (R6.5): webhook POSTs from a cold thread of their own (`arbot-alerts`), with
//! retries, exponential backoff and de-duplication, for
//! - an opportunity whose expected profit is at least `opportunity_min_profit_usd`;
//! - the daily PnL (each UTC day's row when it closes, and the day so far when the run ends);
//! - errors (every ERROR the engine logs through the cold thread);
//! - a venue's feed disconnected longer than `disconnect_after_ns` (wall time);
//! - `order_failures` rejected orders in a row on one venue;
//! - a spot balance below `min_balance` (start balance from the config plus the spot legs'
//!   fills; margin of derivatives is not tracked here);
//! - a breaker trip (to `open` or `stopped`).
//!
//! The cold logger thread turns records into [`Alert`]s and hands them over a bounded
//! channel (full: dropped and counted, never waited for); the sender thread posts each to
//! every webhook in its body shape (`json`: the alert object; `slack`: `{"text"}`;
//! `discord`: `{"content"}`; `telegram`: `{"chat_id", "text"}` for the Bot API's
//! `sendMessage`). A delivery that fails (connection refused, timeout, non-2xx) is retried
//! `retries` times after `backoff_initial_ms`, doubling up to `backoff_max_ms`. An alert
//! whose key (kind and subject, e.g. `disconnected:binance-spot`) was delivered or queued less
//! than `dedup_window_ms` ago is not sent again (counted).
#![forbid(unsafe_code)]

use crate::journal::{ColdMsg, LogCode, OrderState, Severity};
use crate::logger::Names;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant};

/// A webhook's body shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// The alert as a JSON object (`kind`, `key`, `text`, `ts_ns`, `fields`).
    #[default]
    Json,
    /// Slack incoming webhook: `{"text": ...}`.
    Slack,
    /// Discord webhook: `{"content": ...}`.
    Discord,
    /// Telegram Bot API `sendMessage`: `{"chat_id": ..., "text": ...}`.
    Telegram,
}

/// One webhook.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// `http://` or `https://` URL (a Slack/Discord webhook URL, or
    /// `https://api.telegram.org/bot<token>/sendMessage`; it is never logged).
    pub url: String,
    /// Body shape (default `json`).
    #[serde(default)]
    pub format: Format,
    /// Telegram: the chat id (required with `format = "telegram"`).
    #[serde(default)]
    pub chat_id: Option<String>,
}

/// `[alerts]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// Where alerts go (at least one).
    pub webhooks: Vec<Webhook>,
    /// Alert on an opportunity with at least this expected profit, USD (0 = off).
    #[serde(default)]
    pub opportunity_min_profit_usd: f64,
    /// Alert with each day's PnL (default true).
    #[serde(default = "yes")]
    pub daily_pnl: bool,
    /// Alert on every ERROR record (default true).
    #[serde(default = "yes")]
    pub errors: bool,
    /// Alert when a venue's feed stays disconnected this long, ns of wall time (default
    /// 60 s; 0 = off).
    #[serde(default = "default_disconnect_ns")]
    pub disconnect_after_ns: u64,
    /// Alert after this many rejected orders in a row on one venue (default 3; 0 = off).
    #[serde(default = "default_order_failures")]
    pub order_failures: u32,
    /// Alert when a spot balance falls below this, by asset (`{ USDT = 1000.0 }`).
    #[serde(default)]
    pub min_balance: BTreeMap<String, f64>,
    /// Alert on breaker trips (default true).
    #[serde(default = "yes")]
    pub breaker: bool,
    /// Retries after a failed delivery (default 5, at most 20).
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// First wait before a retry, ms (default 200); doubles each time.
    #[serde(default = "default_backoff_initial")]
    pub backoff_initial_ms: u64,
    /// Longest wait between retries, ms (default 10,000).
    #[serde(default = "default_backoff_max")]
    pub backoff_max_ms: u64,
    /// One delivery attempt's time limit, ms (default 2,000).
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// The same alert key is not sent again within this window, ms of wall time (default
    /// 300,000).
    #[serde(default = "default_dedup")]
    pub dedup_window_ms: u64,
}

fn yes() -> bool {
    true
}
fn default_disconnect_ns() -> u64 {
    60_000_000_000
}
fn default_order_failures() -> u32 {
    3
}
fn default_retries() -> u32 {
    5
}
fn default_backoff_initial() -> u64 {
    200
}
fn default_backoff_max() -> u64 {
    10_000
}
fn default_timeout() -> u64 {
    2_000
}
fn default_dedup() -> u64 {
    300_000
}

impl AlertsConfig {
    /// Check every key; errors name it.
    pub fn validate(&self) -> Result<(), crate::config::ConfigError> {
        use crate::config::invalid;
        if self.webhooks.is_empty() {
            return Err(invalid("alerts.webhooks", "at least one webhook"));
        }
        for (k, w) in self.webhooks.iter().enumerate() {
            if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
                return Err(invalid(
                    format!("alerts.webhooks[{k}].url"),
                    "must be an http:// or https:// URL",
                ));
            }
            if w.format == Format::Telegram && w.chat_id.as_deref().unwrap_or("").is_empty() {
                return Err(invalid(
                    format!("alerts.webhooks[{k}].chat_id"),
                    "required with format = \"telegram\"",
                ));
            }
        }
        crate::config::finite_nonneg(
            "alerts.opportunity_min_profit_usd",
            self.opportunity_min_profit_usd,
        )?;
        for (a, v) in &self.min_balance {
            crate::config::finite_nonneg(&format!("alerts.min_balance.{a}"), *v)?;
        }
        if self.retries > 20 {
            return Err(invalid("alerts.retries", "at most 20"));
        }
        if self.backoff_initial_ms == 0 || self.backoff_initial_ms > self.backoff_max_ms {
            return Err(invalid(
                "alerts.backoff_initial_ms",
                "must be > 0 and ≤ alerts.backoff_max_ms",
            ));
        }
        if self.backoff_max_ms > 600_000 {
            return Err(invalid("alerts.backoff_max_ms", "at most 600,000 (10 min)"));
        }
        if !(1..=60_000).contains(&self.timeout_ms) {
            return Err(invalid("alerts.timeout_ms", "must be in 1..=60000"));
        }
        if self.dedup_window_ms > 86_400_000 {
            return Err(invalid("alerts.dedup_window_ms", "at most one day"));
        }
        Ok(())
    }
}

/// One alert.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alert {
    /// `opportunity`, `daily_pnl`, `error`, `disconnected`, `order_failures`,
    /// `low_balance`, `breaker`.
    pub kind: &'static str,
    /// De-duplication key (kind and subject).
    pub key: String,
    /// One line for a person.
    pub text: String,
    /// Data or wall time of the cause, ns since the epoch.
    pub ts_ns: u64,
    /// The figures behind it.
    pub fields: Value,
}

/// The body posted for `a` in shape `f`.
pub fn body(a: &Alert, w: &Webhook) -> Value {
    let line = format!("[arbot {}] {}", a.kind, a.text);
    match w.format {
        Format::Json => {
            json!({"source": "arbot", "kind": a.kind, "key": a.key, "text": a.text, "ts_ns": a.ts_ns, "fields": a.fields})
        }
        Format::Slack => json!({ "text": line }),
        Format::Discord => json!({ "content": line }),
        Format::Telegram => json!({ "chat_id": w.chat_id, "text": line }),
    }
}

/// What the sender did (`report.json` `alerts`).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct AlertStats {
    /// Alerts raised by the cold thread.
    pub raised: u64,
    /// Not sent: the same key within `dedup_window_ms`.
    pub deduplicated: u64,
    /// Not sent: the queue to the sender was full.
    pub dropped: u64,
    /// Deliveries (alert × webhook) that succeeded.
    pub delivered: u64,
    /// Deliveries that failed after every retry.
    pub failed: u64,
    /// Retries made.
    pub retries: u64,
    /// By kind: raised.
    pub by_kind: BTreeMap<&'static str, u64>,
}

/// The logger thread's side: turns records into alerts and queues them.
pub struct Alerter {
    cfg: AlertsConfig,
    tx: Option<SyncSender<Alert>>,
    thread: Option<std::thread::JoinHandle<AlertStats>>,
    seen: HashMap<String, Instant>,
    stats: AlertStats,
    down_since: HashMap<usize, Instant>,
    down_alerted: HashMap<usize, bool>,
    rejects: HashMap<usize, u32>,
    balances: BTreeMap<(usize, String), f64>,
    last_day: Option<crate::risk::limits::DayRecord>,
}

impl Alerter {
    /// Start the sender thread. `start_balances`: (venue index, asset, amount).
    pub fn start(
        cfg: &AlertsConfig,
        start_balances: Vec<(usize, String, f64)>,
    ) -> std::io::Result<Alerter> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Alert>(1024);
        let c = cfg.clone();
        let thread = std::thread::Builder::new()
            .name("arbot-alerts".into())
            .spawn(move || send_loop(&c, rx))?;
        Ok(Alerter {
            cfg: cfg.clone(),
            tx: Some(tx),
            thread: Some(thread),
            seen: HashMap::new(),
            stats: AlertStats::default(),
            down_since: HashMap::new(),
            down_alerted: HashMap::new(),
            rejects: HashMap::new(),
            balances: start_balances
                .into_iter()
                .map(|(v, a, x)| ((v, a.to_ascii_uppercase()), x))
                .collect(),
            last_day: None,
        })
    }

    /// Raise `a`: queued unless its key was raised within the window.
    pub fn raise(&mut self, a: Alert) {
        self.stats.raised += 1;
        *self.stats.by_kind.entry(a.kind).or_default() += 1;
        let win = Duration::from_millis(self.cfg.dedup_window_ms);
        let now = Instant::now();
        if self
            .seen
            .get(&a.key)
            .is_some_and(|t| now.duration_since(*t) < win)
        {
            self.stats.deduplicated += 1;
            return;
        }
        self.seen.insert(a.key.clone(), now);
        if let Some(tx) = &self.tx {
            match tx.try_send(a) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                    self.stats.dropped += 1
                }
            }
        }
    }

    /// A live reconciliation line that found a balance difference and stopped trading on a
    /// venue (`... ERROR reconciliation venue=V asset=A ...`, R5.1): an `error` alert
    /// (when `errors` is on), one per venue and asset within the de-duplication window.
    pub fn on_reconciliation(&mut self, line: &str) {
        if !self.cfg.errors {
            return;
        }
        let field = |k: &str| {
            line.split(' ')
                .find_map(|w| w.strip_prefix(k))
                .unwrap_or("")
                .to_string()
        };
        let (venue, asset) = (field("venue="), field("asset="));
        let text = line
            .split_once(" ERROR ")
            .map_or(line, |(_, t)| t)
            .trim_end()
            .to_string();
        self.raise(Alert {
            kind: "error",
            key: format!("error:reconciliation:{venue}:{asset}"),
            text: format!("reconciliation on {venue}: {text}"),
            ts_ns: crate::clock::Clock::get().now_ns(),
            fields: json!({"venue": venue, "asset": asset, "code": "Reconciliation", "text": text}),
        });
    }

    /// A record the logger received.
    pub fn on_record(&mut self, names: &Names, m: &ColdMsg) {
        match m {
            ColdMsg::Log(r) => {
                if r.code == LogCode::VenueStatus {
                    let v = r.venue.idx();
                    if r.a == 0 {
                        self.down_since.entry(v).or_insert_with(Instant::now);
                    } else {
                        self.down_since.remove(&v);
                        self.down_alerted.remove(&v);
                    }
                }
                if self.cfg.errors && r.severity == Severity::Error {
                    let text = String::from_utf8_lossy(&r.text[..r.text_len as usize]).to_string();
                    let v = names.venue(r.venue.idx()).to_string();
                    self.raise(Alert {
                        kind: "error",
                        key: format!("error:{:?}:{v}", r.code),
                        text: format!("{:?} on {v}: {text}", r.code),
                        ts_ns: r.ts_ns,
                        fields: json!({"venue": v, "code": format!("{:?}", r.code), "a": r.a, "b": r.b, "text": text}),
                    });
                }
            }
            ColdMsg::Signal(s) => {
                let p = s.opp.expected_profit_usd.to_f64();
                let min = self.cfg.opportunity_min_profit_usd;
                if min > 0.0 && p >= min {
                    let o = &s.opp;
                    let (b, se) = (
                        names.venue(o.buy.venue.idx()),
                        names.venue(o.sell.venue.idx()),
                    );
                    self.raise(Alert {
                        kind: "opportunity",
                        key: format!("opportunity:{}", o.id),
                        text: format!(
                            "buy {b} / sell {se}: expected profit {p:.2} USD, net {:.2} bps ({})",
                            o.net_spread_bps.to_num::<f64>(),
                            s.status.as_str()
                        ),
                        ts_ns: o.detected_ns,
                        fields: json!({"id": o.id, "buy_venue": b, "sell_venue": se, "expected_profit_usd": p, "net_spread_bps": o.net_spread_bps.to_num::<f64>(), "status": s.status.as_str()}),
                    });
                }
            }
            ColdMsg::Order(o) => {
                let v = o.venue.idx();
                if o.state == OrderState::Rejected {
                    let n = self.rejects.entry(v).or_default();
                    *n += 1;
                    let n = *n;
                    let lim = self.cfg.order_failures;
                    if lim > 0 && n >= lim && n % lim == 0 {
                        let vn = names.venue(v).to_string();
                        self.raise(Alert {
                            kind: "order_failures",
                            key: format!("order_failures:{vn}"),
                            text: format!("{n} orders rejected in a row on {vn} (last error code {})", o.err_code),
                            ts_ns: o.ts_ns,
                            fields: json!({"venue": vn, "rejected_in_a_row": n, "error_code": o.err_code}),
                        });
                    }
                } else if matches!(
                    o.state,
                    OrderState::New | OrderState::PartiallyFilled | OrderState::Filled
                ) {
                    self.rejects.insert(v, 0);
                }
            }
            ColdMsg::Trade(t) => {
                if self.cfg.min_balance.is_empty() {
                    return;
                }
                for l in &t.legs[..t.n_legs as usize] {
                    let i = l.instrument.idx();
                    if l.filled_qty.0 == 0 || !names.is_spot(i) {
                        continue;
                    }
                    let v = names.instrument_venue(i);
                    let s = if l.side == crate::types::Side::Buy {
                        1.0
                    } else {
                        -1.0
                    };
                    let (base, quote) = names.assets(i);
                    *self.balances.entry((v, base.to_string())).or_default() += s * l.base.to_f64();
                    let fee = match l.fee_asset {
                        crate::types::FeeAsset::Quote => l.fee.to_f64(),
                        crate::types::FeeAsset::Base => {
                            *self.balances.entry((v, base.to_string())).or_default() -=
                                l.fee_native.to_f64();
                            0.0
                        }
                        crate::types::FeeAsset::Other(_) => 0.0,
                    };
                    *self.balances.entry((v, quote.to_string())).or_default() -=
                        s * l.quote.to_f64() + fee;
                    for a in [base.to_string(), quote.to_string()] {
                        let Some(&min) = self.cfg.min_balance.get(&a) else {
                            continue;
                        };
                        let now = self.balances[&(v, a.clone())];
                        if now < min {
                            let vn = names.venue(v).to_string();
                            self.raise(Alert {
                                kind: "low_balance",
                                key: format!("low_balance:{vn}:{a}"),
                                text: format!("{a} on {vn} is {now:.8}, below {min}"),
                                ts_ns: t.done_ns,
                                fields: json!({"venue": vn, "asset": a, "balance": now, "threshold": min}),
                            });
                        }
                    }
                }
            }
            ColdMsg::Breaker(b) => {
                use crate::risk::limits::BreakerState;
                if self.cfg.breaker && matches!(b.to, BreakerState::Open | BreakerState::Stopped) {
                    self.raise(Alert {
                        kind: "breaker",
                        key: format!("breaker:{}:{}", b.to.as_str(), b.msg_seq),
                        text: format!("breaker {} -> {} ({}), equity {:.2} USD, drawdown {:.2} %", b.from.as_str(), b.to.as_str(), b.cause.as_str(), b.equity_e8 as f64 / 1e8, b.drawdown_ppm as f64 / 1e4),
                        ts_ns: b.data_ns,
                        fields: json!({"from": b.from.as_str(), "to": b.to.as_str(), "cause": b.cause.as_str(), "equity_usd": b.equity_e8 as f64 / 1e8}),
                    });
                }
            }
            ColdMsg::Day(d) => {
                if let Some(prev) = self.last_day.filter(|p| p.day != d.day) {
                    self.daily(&prev, "closed");
                }
                if d.complete {
                    self.daily(d, "closed");
                    self.last_day = None;
                } else {
                    self.last_day = Some(*d);
                }
            }
            _ => {}
        }
    }

    fn daily(&mut self, d: &crate::risk::limits::DayRecord, how: &str) {
        if !self.cfg.daily_pnl {
            return;
        }
        let date = &crate::logger::iso_ns(d.day * 86_400_000_000_000)[..10];
        let mtm = (d.end_equity_e8 - d.start_equity_e8) as f64 / 1e8;
        self.raise(Alert {
            kind: "daily_pnl",
            key: format!("daily_pnl:{date}:{how}"),
            text: format!(
                "{date} ({how}): PnL {mtm:+.2} USD marked to market, {} trades, fees {:.2} USD",
                d.trades,
                d.fees_e8 as f64 / 1e8
            ),
            ts_ns: d.day * 86_400_000_000_000,
            fields: json!({"date": date, "day": how, "mtm_pnl_usd": mtm, "trades": d.trades, "fees_usd": d.fees_e8 as f64 / 1e8, "volume_usd": d.volume_e8 as f64 / 1e8, "breaker_trips": d.trips}),
        });
    }

    /// Periodic: venues down longer than `disconnect_after_ns`.
    pub fn tick(&mut self, names: &Names) {
        let lim = self.cfg.disconnect_after_ns;
        if lim == 0 {
            return;
        }
        let due: Vec<(usize, Duration)> = self
            .down_since
            .iter()
            .filter(|(v, t)| {
                t.elapsed() >= Duration::from_nanos(lim) && !self.down_alerted.contains_key(v)
            })
            .map(|(v, t)| (*v, t.elapsed()))
            .collect();
        for (v, el) in due {
            self.down_alerted.insert(v, true);
            let vn = names.venue(v).to_string();
            self.raise(Alert {
                kind: "disconnected",
                key: format!("disconnected:{vn}"),
                text: format!("{vn} feed disconnected for {:.0} s", el.as_secs_f64()),
                ts_ns: crate::clock::Clock::get().now_ns(),
                fields: json!({"venue": vn, "down_s": el.as_secs_f64()}),
            });
        }
    }

    /// The run ended: the day so far, then let the sender deliver what is queued (with its
    /// retries) and return the figures.
    pub fn finish(mut self) -> AlertStats {
        if let Some(d) = self.last_day.take() {
            self.daily(&d, "so far, run ended");
        }
        drop(self.tx.take());
        let sent = self
            .thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        AlertStats {
            delivered: sent.delivered,
            failed: sent.failed,
            retries: sent.retries,
            ..self.stats
        }
    }
}

fn send_loop(cfg: &AlertsConfig, rx: Receiver<Alert>) -> AlertStats {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_millis(cfg.timeout_ms)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut st = AlertStats::default();
    for a in rx {
        for w in &cfg.webhooks {
            let b = body(&a, w).to_string();
            let mut wait = cfg.backoff_initial_ms;
            let mut attempt = 0;
            loop {
                let ok = agent
                    .post(&w.url)
                    .header("Content-Type", "application/json")
                    .send(b.as_str())
                    .map(|r| r.status().is_success())
                    .unwrap_or(false);
                if ok {
                    st.delivered += 1;
                    break;
                }
                if attempt >= cfg.retries {
                    st.failed += 1;
                    break;
                }
                attempt += 1;
                st.retries += 1;
                std::thread::sleep(Duration::from_millis(wait));
                wait = (wait * 2).min(cfg.backoff_max_ms);
            }
        }
    }
    st
}
