//! Webhook alerts (R6.5) against a loopback HTTP receiver written here: the four body shapes,
//! de-duplication, retries with backoff against a receiver that is down and then comes up,
//! one that answers 500 first, one that never comes up, and a whole replay whose opportunity
//! and daily-PnL alerts arrive with the report's figures.
mod common;

use arbot::ops::alerts::{Alert, Alerter, AlertsConfig, Format, Webhook};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the receiver got: (path, JSON body).
type Got = Arc<Mutex<Vec<(String, Value)>>>;

/// A loopback HTTP receiver on `listener`: answers 500 to the first `fail_first` requests,
/// 200 afterwards; runs until the test process ends.
fn receiver(listener: TcpListener, fail_first: usize) -> Got {
    let got: Got = Arc::default();
    let g = got.clone();
    std::thread::spawn(move || {
        let mut n = 0usize;
        for s in listener.incoming() {
            let Ok(mut s) = s else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let mut len = 0usize;
            loop {
                let mut h = String::new();
                r.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        len = v.trim().parse().unwrap();
                    }
                }
            }
            let mut body = vec![0u8; len];
            r.read_exact(&mut body).unwrap();
            n += 1;
            let code = if n <= fail_first { 500 } else { 200 };
            if code == 200 {
                g.lock()
                    .unwrap()
                    .push((path, serde_json::from_slice(&body).unwrap()));
            }
            let _ = write!(
                s,
                "HTTP/1.1 {code} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
            );
        }
    });
    got
}

fn cfg(urls: &[(&str, Format)]) -> AlertsConfig {
    AlertsConfig {
        webhooks: urls
            .iter()
            .map(|(u, f)| Webhook {
                url: u.to_string(),
                format: *f,
                chat_id: (*f == Format::Telegram).then(|| "-100123".to_string()),
            })
            .collect(),
        opportunity_min_profit_usd: 0.0,
        daily_pnl: true,
        errors: true,
        disconnect_after_ns: 60_000_000_000,
        order_failures: 3,
        min_balance: Default::default(),
        breaker: true,
        retries: 5,
        backoff_initial_ms: 50,
        backoff_max_ms: 400,
        timeout_ms: 1000,
        dedup_window_ms: 60_000,
    }
}

fn alert(key: &str) -> Alert {
    Alert {
        kind: "error",
        key: key.to_string(),
        text: format!("test {key}"),
        ts_ns: 1,
        fields: json!({"k": key}),
    }
}

#[test]
fn body_shapes_and_de_duplication() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap();
    let got = receiver(l, 0);
    let u = |p: &str| format!("http://{a}/{p}");
    let (j, s, d, t) = (u("json"), u("slack"), u("discord"), u("telegram"));
    let c = cfg(&[
        (&j, Format::Json),
        (&s, Format::Slack),
        (&d, Format::Discord),
        (&t, Format::Telegram),
    ]);
    c.validate().unwrap();
    let mut al = Alerter::start(&c, vec![]).unwrap();
    al.raise(alert("k1"));
    al.raise(alert("k1")); // same key within the window: not sent again
    al.raise(alert("k2"));
    let st = al.finish();
    assert_eq!(
        (st.raised, st.deduplicated, st.delivered, st.failed),
        (3, 1, 8, 0)
    );
    let got = got.lock().unwrap();
    assert_eq!(got.len(), 8, "two alerts × four webhooks");
    let by = |p: &str| -> Vec<&Value> {
        got.iter()
            .filter(|(x, _)| x == &format!("/{p}"))
            .map(|(_, b)| b)
            .collect()
    };
    let js = by("json");
    assert_eq!(js.len(), 2);
    assert_eq!(js[0]["kind"], "error");
    assert_eq!(js[0]["key"], "k1");
    assert_eq!(js[0]["text"], "test k1");
    assert_eq!(js[0]["fields"]["k"], "k1");
    assert_eq!(js[1]["key"], "k2");
    assert_eq!(by("slack")[0], &json!({"text": "[arbot error] test k1"}));
    assert_eq!(
        by("discord")[0],
        &json!({"content": "[arbot error] test k1"})
    );
    assert_eq!(
        by("telegram")[0],
        &json!({"chat_id": "-100123", "text": "[arbot error] test k1"})
    );
}

#[test]
fn a_receiver_that_is_down_then_comes_up_gets_the_alert_after_retries() {
    // a free port with nothing listening yet
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let mut c = cfg(&[(&url, Format::Json)]);
    c.retries = 10;
    let mut al = Alerter::start(&c, vec![]).unwrap();
    let t0 = Instant::now();
    al.raise(alert("down-then-up"));
    std::thread::sleep(Duration::from_millis(300));
    let got = receiver(TcpListener::bind(("127.0.0.1", port)).unwrap(), 0);
    let st = al.finish();
    assert_eq!((st.delivered, st.failed), (1, 0), "{st:?}");
    // 50 + 100 + 200 ms of backoff before the receiver could answer
    assert!(st.retries >= 3, "{st:?}");
    assert!(t0.elapsed() >= Duration::from_millis(300));
    let got = got.lock().unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1["key"], "down-then-up");
}

#[test]
fn a_500_is_retried_and_a_receiver_that_never_comes_up_fails_after_the_retries() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap();
    let got = receiver(l, 2);
    let ok_url = format!("http://{a}/hook");
    let dead = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}/hook", dead.local_addr().unwrap());
    drop(dead);
    let mut c = cfg(&[(&ok_url, Format::Json), (&dead_url, Format::Slack)]);
    c.retries = 3;
    c.backoff_initial_ms = 10;
    c.backoff_max_ms = 20;
    let mut al = Alerter::start(&c, vec![]).unwrap();
    al.raise(alert("x"));
    let st = al.finish();
    // the live receiver: two 500s then 200 (2 retries); the dead one: 3 retries then failed
    assert_eq!((st.delivered, st.failed, st.retries), (1, 1, 5), "{st:?}");
    assert_eq!(got.lock().unwrap().len(), 1);
}

#[test]
fn a_replay_sends_its_opportunities_and_the_day_so_far() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap();
    let got = receiver(l, 0);
    let out = common::tmp("alerts");
    let min = 5.0;
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_arbot"))
        .args(["run", "--config", "configs/replay-vip.toml", "--out"])
        .arg(&out)
        .args([
            "--set",
            &format!("alerts.webhooks=[{{url=\"http://{a}/hook\"}}]"),
            "--set",
            &format!("alerts.opportunity_min_profit_usd={min}"),
        ])
        .current_dir(common::root())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    // every signal at or over the size, once, in order
    let want: Vec<u64> = std::fs::read_to_string(out.join("signals.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|s| s["expected_profit_usd"].as_f64().unwrap() >= min)
        .map(|s| s["id"].as_u64().unwrap())
        .collect();
    assert!(!want.is_empty(), "some signals of {min} USD or more");
    let got = got.lock().unwrap();
    let opp: Vec<u64> = got
        .iter()
        .filter(|(_, b)| b["kind"] == "opportunity")
        .map(|(_, b)| b["fields"]["id"].as_u64().unwrap())
        .collect();
    assert_eq!(opp, want);
    let daily: Vec<&Value> = got
        .iter()
        .filter(|(_, b)| b["kind"] == "daily_pnl")
        .map(|(_, b)| b)
        .collect();
    assert_eq!(daily.len(), 1, "the day so far, at the end");
    let d = &daily[0]["fields"];
    assert_eq!(d["date"], "2024-08-08");
    assert!(
        (d["mtm_pnl_usd"].as_f64().unwrap() - r["pnl"]["mark_to_market_usd"].as_f64().unwrap())
            .abs()
            < 1e-6,
        "{d}"
    );
    assert_eq!(d["trades"], r["trades"]["attempted"]);
    assert_eq!(r["alerts"]["delivered"].as_u64(), Some(got.len() as u64));
    assert_eq!(r["alerts"]["failed"], 0);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn disconnects_order_rejections_breaker_trips_and_errors_raise_their_alerts() {
    use arbot::journal::{ColdMsg, LogCode, LogRecord, OrderEvent, OrderState, Severity};
    use arbot::risk::limits::{BreakerEvent, BreakerState};
    use arbot::types::VenueId;
    let setup = common::setup("replay-vip.toml");
    let names = arbot::logger::Names::new(&setup);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap();
    let got = receiver(l, 0);
    let url = format!("http://{a}/hook");
    let mut c = cfg(&[(&url, Format::Json)]);
    c.disconnect_after_ns = 100_000_000; // 100 ms here (default one minute)
    let mut al = Alerter::start(&c, vec![]).unwrap();
    let spot = VenueId(1); // binance-spot (venues by name)
    assert_eq!(names.venue(1), "binance-spot");
    let status = |up: i64| {
        ColdMsg::Log(LogRecord {
            code: LogCode::VenueStatus,
            venue: spot,
            a: up,
            ..LogRecord::default()
        })
    };
    // down, back up before the limit: nothing; down again past it: one alert
    al.on_record(&names, &status(0));
    al.on_record(&names, &status(1));
    std::thread::sleep(Duration::from_millis(150));
    al.tick(&names);
    al.on_record(&names, &status(0));
    al.tick(&names);
    std::thread::sleep(Duration::from_millis(150));
    al.tick(&names);
    al.tick(&names);
    // two rejections, a fill (resets), then three in a row: one alert
    let order = |st: OrderState| {
        ColdMsg::Order(OrderEvent {
            venue: spot,
            state: st,
            err_code: -2010,
            ..OrderEvent::default()
        })
    };
    for st in [
        OrderState::Rejected,
        OrderState::Rejected,
        OrderState::Filled,
        OrderState::Rejected,
        OrderState::Rejected,
        OrderState::Rejected,
    ] {
        al.on_record(&names, &order(st));
    }
    // a breaker trip (to open) and a move back to closed (no alert)
    al.on_record(
        &names,
        &ColdMsg::Breaker(BreakerEvent {
            from: BreakerState::Closed,
            to: BreakerState::Open,
            msg_seq: 7,
            ..BreakerEvent::default()
        }),
    );
    al.on_record(
        &names,
        &ColdMsg::Breaker(BreakerEvent {
            from: BreakerState::HalfOpen,
            to: BreakerState::Closed,
            ..BreakerEvent::default()
        }),
    );
    // an ERROR record and an INFO one
    let mut text = [0u8; 64];
    text[..4].copy_from_slice(b"boom");
    for sev in [Severity::Error, Severity::Info] {
        al.on_record(
            &names,
            &ColdMsg::Log(LogRecord {
                severity: sev,
                code: LogCode::Note,
                venue: spot,
                text,
                text_len: 4,
                ..LogRecord::default()
            }),
        );
    }
    // a live reconciliation line that halted a venue (R5.1; the line the reconciler logs),
    // twice: de-duplicated per venue and asset
    let rec = "2026-12-02T00:00:00.000000000Z ERROR reconciliation venue=binance-spot asset=USDT \
               exchange_change=-25 engine_change=0 diff=-25 tolerance=0.01 after_trades=3: \
               trading stopped on this venue\n";
    al.on_reconciliation(rec);
    al.on_reconciliation(rec);
    let st = al.finish();
    assert_eq!(st.failed, 0);
    let got = got.lock().unwrap();
    let kinds: Vec<&str> = got
        .iter()
        .map(|(_, b)| b["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "disconnected",
            "order_failures",
            "breaker",
            "error",
            "error"
        ],
        "{got:?}"
    );
    assert_eq!(got[4].1["fields"]["venue"], "binance-spot");
    assert_eq!(got[4].1["fields"]["asset"], "USDT");
    assert!(
        got[4].1["text"]
            .as_str()
            .unwrap()
            .contains("trading stopped on this venue"),
        "{:?}",
        got[4].1
    );
    assert_eq!(got[0].1["fields"]["venue"], "binance-spot");
    assert!(got[0].1["fields"]["down_s"].as_f64().unwrap() >= 0.1);
    assert_eq!(got[1].1["fields"]["rejected_in_a_row"], 3);
    assert_eq!(got[1].1["fields"]["error_code"], -2010);
    assert_eq!(got[2].1["fields"]["to"], "open");
    assert_eq!(got[3].1["fields"]["text"], "boom");
}
