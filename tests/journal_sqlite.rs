//! The journals (R6.3) load into a database: every file of a trading replay whose breaker
//! trips goes into SQLite (Python's `sqlite3`, as a user would load them), and the sums the
//! database gives equal the figures of `report.json`.

mod common;

use serde_json::Value;
use std::process::Command;

const LOAD: &str = r#"
import json, sqlite3, sys
out = sys.argv[1]
db = sqlite3.connect(":memory:")
def rows(name):
    with open(f"{out}/{name}") as f:
        return [json.loads(l) for l in f if l.strip()]
db.execute("create table signals (id integer primary key, detected_ns integer, traded integer, reason text, trigger_msg integer)")
db.executemany("insert into signals values (?,?,?,?,?)",
    [(s["id"], s["detected_ns"], int(s["traded"]), s["reason"], s["md"]["trigger_msg_seq"]) for s in rows("signals.jsonl")])
db.execute("create table orders (ts_ns integer, trade_id integer, leg integer, client_order_id text, venue text, state text, filled_qty real)")
db.executemany("insert into orders values (?,?,?,?,?,?,?)",
    [(o["ts_ns"], o["trade_id"], o["leg"], o["client_order_id"], o["venue"], o["state"], o["filled_qty"]) for o in rows("orders.jsonl")])
db.execute("create table fills (trade_id integer, leg integer, client_order_id text, venue text, side text, filled_units integer, quote_e8 integer, base_e8 integer, fee_e8 integer)")
db.executemany("insert into fills values (?,?,?,?,?,?,?,?,?)",
    [(f["trade_id"], f["leg"], f["client_order_id"], f["venue"], f["side"], f["filled_units"], f["quote_e8"], f["base_e8"], f["fee_e8"]) for f in rows("fills.jsonl")])
db.execute("create table trades (id integer primary key, status text, done_ns integer, gross_e8 integer, fees_e8 integer, net_e8 integer)")
db.execute("create table legs (trade_id integer, venue text, side text, status text, quote_e8 integer, fee_e8 integer, unwind integer)")
for t in rows("trades.jsonl"):
    db.execute("insert into trades values (?,?,?,?,?,?)", (t["id"], t["status"], t["done_ns"], t["gross_e8"], t["fees_e8"], t["net_e8"]))
    for l in t["legs"]:
        db.execute("insert into legs values (?,?,?,?,?,?,?)", (t["id"], l["venue"], l["side"], l["status"], l["quote_e8"], l["fee_e8"], int(l["unwind"])))
db.execute("create table breaker (ts_ns integer, msg_seq integer, from_state text, to_state text, cause text)")
db.executemany("insert into breaker values (?,?,?,?,?)",
    [(b["ts_ns"], b["msg_seq"], b["from"], b["to"], b["cause"]) for b in rows("breaker.jsonl")])
db.execute("create table daily (day integer primary key, trades integer, volume_e8 integer, fees_e8 integer, realized_e8 integer, mtm_e8 integer, trips integer)")
db.executemany("insert into daily values (?,?,?,?,?,?,?)",
    [(d["day"], d["trades"], d["volume_e8"], d["fees_e8"], d["realized_pnl_e8"], d["mtm_pnl_e8"], d["breaker_trips"]) for d in rows("daily.jsonl")])
db.execute("create table checkpoints (seq integer, msg integer, ended integer, trades_done integer)")
db.executemany("insert into checkpoints values (?,?,?,?)",
    [(c["seq"], c["msg"], int(c["ended"]), c["trades_done"]) for c in rows("checkpoint.jsonl")])
q = lambda sql: db.execute(sql).fetchone()[0]
res = {
    "signals": q("select count(*) from signals"),
    "signals_by_reason": dict(db.execute("select coalesce(reason, 'traded'), count(*) from signals group by 1").fetchall()),
    "trades": q("select count(*) from trades"),
    "trades_by_status": dict(db.execute("select status, count(*) from trades group by 1").fetchall()),
    "net_e8": q("select sum(net_e8) from trades"),
    "gross_e8": q("select sum(gross_e8) from trades"),
    "fees_e8": q("select sum(fees_e8) from trades"),
    "legs_fee_e8": q("select sum(fee_e8) from legs"),
    "volume_e8": q("select sum(quote_e8) from legs"),
    "unwinds": q("select count(*) from legs where unwind = 1"),
    "fills": q("select count(*) from fills"),
    "fills_fee_e8": q("select sum(fee_e8) from fills"),
    "fills_quote_e8": q("select sum(quote_e8) from fills"),
    "orders_sent": q("select count(*) from orders where state = 'sent'"),
    "orders_final": q("select count(*) from orders where state in ('filled', 'cancelled', 'rejected', 'expired')"),
    "orders_open": q("select count(*) from (select client_order_id, max(rowid) r from orders group by 1) x join orders o on o.rowid = x.r where o.state not in ('filled', 'cancelled', 'rejected', 'expired')"),
    "signals_traded_without_trade": q("select count(*) from signals s left join trades t on t.id = s.id where s.traded = 1 and t.id is null"),
    "breaker_transitions": q("select count(*) from breaker"),
    "breaker_trips": q("select count(*) from breaker where to_state = 'open'"),
    "daily_trades": q("select sum(trades) from daily"),
    "daily_volume_e8": q("select sum(volume_e8) from daily"),
    "daily_fees_e8": q("select sum(fees_e8) from daily"),
    "daily_realized_e8": q("select sum(realized_e8) from daily"),
    "daily_mtm_e8": q("select sum(mtm_e8) from daily"),
    "daily_trips": q("select sum(trips) from daily"),
    "last_checkpoint_trades": q("select trades_done from checkpoints order by rowid desc limit 1"),
    "last_checkpoint_ended": q("select ended from checkpoints order by rowid desc limit 1"),
}
print(json.dumps(res))
"#;

fn e8(v: &Value) -> i64 {
    (v.as_f64().unwrap() * 1e8).round() as i64
}

/// `report.json` gives USD rounded to 6 decimals: `usd` is `exact_e8` to within that rounding.
fn same_usd(usd: &Value, exact_e8: i64, what: &str) {
    let d = (e8(usd) - exact_e8).abs();
    assert!(d <= 50, "{what}: report {usd} vs exact {exact_e8} e-8 USD");
}

#[test]
fn the_journals_load_into_sqlite_and_add_up_to_the_report() {
    let mut setup = arbot::config::load_with(
        &common::root().join("configs/replay-vip.toml"),
        &[
            "venues.binance-spot.balances={USDT=10000000.0,BTC=200.0}".into(),
            "venues.binance-usdm.balances={USDT=10000000.0}".into(),
            "venues.binance-coinm.balances={BTC=200.0}".into(),
            "risk.max_exposure_per_venue_usd=1e7".into(),
            "risk.max_total_exposure_usd=1e7".into(),
            "risk.max_position_per_coin_usd=1e7".into(),
            "risk.max_consecutive_losses=5".into(),
            "risk.breaker_cooldown_ns=20000000000".into(),
        ],
    )
    .unwrap();
    setup.cfg.threads.mode = arbot::config::ThreadMode::Single;
    let out = common::tmp("journal-sqlite");
    let r = arbot::engine::run(&setup, &out).unwrap();
    let rep = arbot::report::build(&setup, "sqlite", &r);
    let o = Command::new("python3")
        .arg("-c")
        .arg(LOAD)
        .arg(&out)
        .output()
        .expect("python3 (with its sqlite3 module) is needed by this test");
    assert!(
        o.status.success(),
        "python3: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let db: Value = serde_json::from_slice(&o.stdout).unwrap();
    eprintln!("{db}");
    let t = &rep["trades"];
    // signals, by reason
    assert_eq!(db["signals"], rep["signals"]["total"]);
    for (k, v) in rep["signals"]["by_status"].as_object().unwrap() {
        assert_eq!(db["signals_by_reason"][k], *v, "signals {k}");
    }
    assert_eq!(db["signals_traded_without_trade"], 0);
    // trades: counts, PnL, fees, volume, unwinds (exact: the *_e8 fields)
    assert_eq!(db["trades"], t["attempted"]);
    for k in ["filled", "partial", "one_leg", "missed"] {
        assert_eq!(
            db["trades_by_status"][k].as_u64().unwrap_or(0),
            t[k].as_u64().unwrap(),
            "{k}"
        );
    }
    assert_eq!(db["net_e8"].as_i64().unwrap(), r.det.trades.net_pnl_usd);
    assert_eq!(db["gross_e8"].as_i64().unwrap(), r.det.trades.gross_pnl_usd);
    assert_eq!(db["fees_e8"].as_i64().unwrap(), r.det.trades.fees_usd);
    assert_eq!(db["legs_fee_e8"], db["fees_e8"]);
    assert_eq!(db["volume_e8"].as_i64().unwrap(), r.det.trades.volume_usd);
    same_usd(&t["net_pnl_usd"], r.det.trades.net_pnl_usd, "net PnL");
    assert_eq!(db["unwinds"], t["unwinds"]);
    // fills: one per order that filled; the same fees and notional as the trades' legs
    assert_eq!(db["fills"], rep["simulator"]["orders_filled"]);
    assert_eq!(db["fills_fee_e8"], db["fees_e8"]);
    assert_eq!(db["fills_quote_e8"], db["volume_e8"]);
    // orders: every order sent reached a final state; none left open
    assert_eq!(db["orders_sent"], db["orders_final"]);
    assert_eq!(db["orders_open"], 0);
    // breaker
    let br = &rep["risk"]["limits"]["breaker"];
    assert!(br["trips"].as_u64().unwrap() > 0, "the breaker tripped");
    assert_eq!(
        db["breaker_transitions"].as_u64(),
        Some(br["transitions"].as_array().unwrap().len() as u64)
    );
    assert_eq!(db["breaker_trips"], br["trips"]);
    // the daily file: the day's rows add up to the run
    assert_eq!(db["daily_trades"], t["attempted"]);
    assert_eq!(db["daily_volume_e8"], db["volume_e8"]);
    assert_eq!(db["daily_fees_e8"], db["fees_e8"]);
    assert_eq!(db["daily_realized_e8"], db["net_e8"]);
    assert_eq!(db["daily_trips"], br["trips"]);
    same_usd(
        &rep["pnl"]["mark_to_market_usd"],
        db["daily_mtm_e8"].as_i64().unwrap(),
        "mark-to-market PnL: daily rows vs report",
    );
    // the last checkpoint says the data ended, with every trade
    assert_eq!(db["last_checkpoint_ended"], 1);
    assert_eq!(db["last_checkpoint_trades"], t["attempted"]);
}

/// `run.fsync_interval_ns`: the logger thread fsyncs at every trade completion and at least
/// this often (wall time) while it writes. A paced replay at ×40 (a few seconds of wall time
/// writing signals, orders and checkpoints) fsyncs far more often with a 1 ms interval than with 60 s,
/// where only the trade completions and the end sync.
#[test]
fn the_fsync_interval_sets_how_often_the_journals_are_synced() {
    let run = |interval: &str| {
        let mut setup = arbot::config::load_with(
            &common::root().join("configs/replay-vip.toml"),
            &[
                format!("run.fsync_interval_ns={interval}"),
                "replay.pace=\"recorded\"".into(),
                "replay.speed=40.0".into(),
                "replay.max_messages=60000".into(),
            ],
        )
        .unwrap();
        setup.cfg.threads.mode = arbot::config::ThreadMode::Single;
        let r = arbot::engine::run(&setup, &common::tmp("fsync")).unwrap();
        (r.logger.fsyncs, r.logger.trades, r.logger.signals)
    };
    let (slow, trades, signals) = run("60000000000");
    let (fast, ..) = run("1000000");
    eprintln!("fsyncs: {fast} at 1 ms, {slow} at 60 s ({trades} trades, {signals} signals)");
    assert!(signals > 10, "the run journals signals along the way");
    assert!(
        slow <= trades + 2,
        "60 s: trade completions and the end only"
    );
    assert!(fast > 4 * slow.max(10), "1 ms: {fast} vs {slow}");
}
