//! The replay server as a Binance exchange: order entry over REST with Binance's signing,
//! timing and rate-limit rules, matching against the real recorded books
//! (`../shared/data/binance/*.gz`) held at a known replay position, accounts and positions,
//! the user-data stream, and every order fault. Expected fills come from an independent
//! rebuild of the recorded book (tests/support/exchange.rs), expected balances from the
//! reported fills with exact decimals.

mod common;
#[path = "support/exchange.rs"]
mod support;

use arbot::tools::replay_server::{
    ApiAccount, Balance, ExchangeConfig, Faults, MarketKind, DOC_API_KEY, DOC_API_SECRET,
};
use arbot::types::Side;
use rust_decimal::prelude::*;
use rust_decimal::RoundingStrategy;
use serde_json::Value;
use std::time::{Duration, Instant};
use support::*;

/// Replay position the tests trade at: well after each recording's snapshot (line 8 spot,
/// 55 USDⓈ-M, 37 COIN-M), books synced with a live `bookTicker`.
const H: u64 = 3000;

const ORDER: &str = "/api/v3/order";

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn ds(v: &Value) -> Decimal {
    d(v.as_str().unwrap_or_else(|| panic!("not a string: {v}")))
}

fn trunc8(x: Decimal) -> Decimal {
    x.round_dp_with_strategy(8, RoundingStrategy::ToZero)
}

/// A rich account (so that two recorded levels fit) plus a second key.
fn rich() -> ExchangeConfig {
    let b = |market, asset: &str, amount| Balance {
        market,
        asset: asset.into(),
        amount,
    };
    let mut c = ExchangeConfig::default();
    c.accounts[0].balances = vec![
        b(MarketKind::Spot, "USDT", 10_000_000.0),
        b(MarketKind::Spot, "BTC", 100.0),
        b(MarketKind::Usdm, "USDT", 1_000_000.0),
        b(MarketKind::Coinm, "BTC", 50.0),
    ];
    c.accounts.push(ApiAccount {
        api_key: "second-key".into(),
        secret: "second-secret".into(),
        balances: c.accounts[0].balances.clone(),
    });
    c
}

fn lot_up(q: i64, lot: i64) -> i64 {
    (q + lot - 1) / lot * lot
}

/// The signed example of rest-api.md is checked by the server (the signature passes, so the
/// 2017 timestamp is what it refuses), our own signed requests are accepted, and any change to
/// a signed request, a missing signature, a wrong secret or key are refused as Binance does.
#[test]
fn signatures_are_checked_as_binance_documents_them() {
    let s = server(MarketKind::Spot, H, Faults::default(), None);
    let mut c = Client::new(s.addr(), "spot");
    let doc = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71";
    let r = c.http.request(
        "POST",
        "/spot/api/v3/order",
        &[("X-MBX-APIKEY", DOC_API_KEY)],
        doc,
    );
    assert_eq!(
        r.err(),
        (400, -1021),
        "valid signature, stale timestamp: {}",
        r.body
    );
    let r = c.http.request(
        "POST",
        "/spot/api/v3/order",
        &[("X-MBX-APIKEY", DOC_API_KEY)],
        &doc.replace("price=0.1", "price=0.2"),
    );
    assert_eq!(r.err(), (400, -1022));
    assert_eq!(r.json()["msg"], "Signature for this request is not valid.");

    let p = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity=0.00100&price=30000.00";
    let r = c.signed("POST", ORDER, p);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["status"], "EXPIRED");
    // the same request, one parameter changed after signing
    let (target, body) = c.signed_request("POST", ORDER, p);
    for bad in [
        body.replace("quantity=0.00100", "quantity=0.00200"),
        body.split("&signature=").next().unwrap().to_string(),
        format!("{}&signature=", body.split("&signature=").next().unwrap()),
    ] {
        let r = c
            .http
            .request("POST", &target, &[("X-MBX-APIKEY", DOC_API_KEY)], &bad);
        assert_eq!(r.err(), (400, -1022), "{bad}");
    }
    // signature in the query string, the rest in the body: the payload is query ++ body
    let ts = now_ms();
    let q = "symbol=BTCUSDT&side=BUY&type=LIMIT";
    let b = format!("timeInForce=IOC&quantity=0.00100&price=30000.00&timestamp={ts}");
    let sig = sign(DOC_API_SECRET, &format!("{q}{b}"));
    let r = c.http.request(
        "POST",
        &format!("/spot/api/v3/order?{q}&signature={}", sig.to_uppercase()),
        &[("X-MBX-APIKEY", DOC_API_KEY)],
        &b,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // a wrong secret, an unknown key, no key
    c.secret = "not-the-secret".into();
    assert_eq!(c.signed("POST", ORDER, p).err(), (400, -1022));
    c.secret = DOC_API_SECRET.into();
    c.key = "unknown".into();
    let r = c.signed("GET", "/api/v3/account", "");
    assert_eq!(r.err(), (401, -2015));
    assert_eq!(
        r.json()["msg"],
        "Invalid API-key, IP, or permissions for action."
    );
    let r = c
        .http
        .request("GET", "/spot/api/v3/account?timestamp=1", &[], "");
    assert_eq!(r.err(), (401, -2014));
    // public endpoints need nothing
    let r = c.public("/api/v3/time");
    let t = r.json()["serverTime"].as_u64().unwrap();
    assert!(t.abs_diff(now_ms()) < 2000);
}

#[test]
fn the_recv_window_rule() {
    let s = server(MarketKind::Spot, H, Faults::default(), None);
    let mut c = Client::new(s.addr(), "spot");
    let call = |c: &mut Client, extra: &str, offset: i64| {
        c.offset_ms = offset;
        c.signed("GET", "/api/v3/account", extra)
    };
    assert_eq!(call(&mut c, "", 0).status, 200);
    let r = call(&mut c, "", -6000);
    assert_eq!(r.err(), (400, -1021));
    assert_eq!(
        r.json()["msg"],
        "Timestamp for this request is outside of the recvWindow."
    );
    assert_eq!(call(&mut c, "recvWindow=10000", -6000).status, 200);
    let r = call(&mut c, "", 1500);
    assert_eq!(r.err(), (400, -1021));
    assert_eq!(
        r.json()["msg"],
        "Timestamp for this request was 1000ms ahead of the server's time."
    );
    assert_eq!(call(&mut c, "", 500).status, 200);
    assert_eq!(call(&mut c, "recvWindow=60001", 0).err(), (400, -1102));
    assert_eq!(call(&mut c, "recvWindow=abc", 0).err(), (400, -1100));
}

#[test]
fn filters_precision_and_malformed_orders() {
    let s = server(MarketKind::Spot, H, Faults::default(), None);
    let mut c = Client::new(s.addr(), "spot");
    let o = |c: &mut Client, p: &str| c.signed("POST", ORDER, p);
    let base = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC";
    for (p, msg) in [
        (
            "quantity=0.00100&price=30000.005",
            "Filter failure: PRICE_FILTER",
        ),
        (
            "quantity=0.00100&price=0.001",
            "Filter failure: PRICE_FILTER",
        ),
        ("quantity=0.001005&price=30000", "Filter failure: LOT_SIZE"),
        ("quantity=9001&price=30000", "Filter failure: LOT_SIZE"),
        ("quantity=0&price=30000", "Filter failure: LOT_SIZE"),
        ("quantity=0.00010&price=30000", "Filter failure: NOTIONAL"),
    ] {
        let r = o(&mut c, &format!("{base}&{p}"));
        assert_eq!(r.err(), (400, -1013), "{p}: {}", r.body);
        assert_eq!(r.json()["msg"], msg, "{p}");
    }
    let r = o(&mut c, &format!("{base}&quantity=0.000000001&price=30000"));
    assert_eq!(r.err(), (400, -1111));
    assert_eq!(
        r.json()["msg"],
        "Parameter 'quantity' has too much precision."
    );
    assert_eq!(
        o(&mut c, &format!("{base}&quantity=1e-3&price=30000")).err(),
        (400, -1100)
    );
    assert_eq!(
        o(&mut c, &format!("{base}&price=30000")).err(),
        (400, -1102)
    );
    assert_eq!(
        o(
            &mut c,
            "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=0.001&price=30000"
        )
        .json()["msg"],
        "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed."
    );
    assert_eq!(
        o(&mut c, "symbol=ETHUSDT&side=BUY&type=MARKET&quantity=1").err(),
        (400, -1121)
    );
    assert_eq!(
        o(&mut c, "symbol=BTCUSDT&side=UP&type=MARKET&quantity=1").err(),
        (400, -1117)
    );
    assert_eq!(
        o(&mut c, "symbol=BTCUSDT&side=BUY&type=STOP_LOSS&quantity=1").err(),
        (400, -1116)
    );
    assert_eq!(
        o(
            &mut c,
            "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&price=1"
        )
        .err(),
        (400, -1106)
    );
    assert_eq!(
        o(
            &mut c,
            "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=XYZ&quantity=0.001&price=30000"
        )
        .err(),
        (400, -1115)
    );
    assert_eq!(
        o(
            &mut c,
            &format!("{base}&quantity=0.001&price=30000&newClientOrderId=bad%20id")
        )
        .err(),
        (400, -1100)
    );
    assert_eq!(
        o(
            &mut c,
            &format!("{base}&quantity=0.001&price=30000&symbol=BTCUSDT")
        )
        .err(),
        (400, -1101)
    );

    // USDⓈ-M: its own codes
    let s = server(MarketKind::Usdm, H, Faults::default(), None);
    let mut c = Client::new(s.addr(), "usdm");
    let o = |c: &mut Client, p: &str| c.signed("POST", "/fapi/v1/order", p);
    let base = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC";
    for (p, code) in [
        ("quantity=0.010&price=30000.055", -1111),
        ("quantity=0.010&price=30000.05", -4014),
        ("quantity=0.0105&price=30000", -1111),
        ("quantity=0&price=30000", -4003),
        ("quantity=1001&price=30000", -4005),
        ("quantity=0.002&price=30000", -4164),
    ] {
        let r = o(&mut c, &format!("{base}&{p}"));
        assert_eq!(r.err(), (400, code), "{p}: {}", r.body);
    }
    assert_eq!(
        o(&mut c, &format!("{base}&quantity=0.002&price=30000")).json()["msg"],
        "Order's notional must be no smaller than 100 (unless you choose reduce only)."
    );
    let r = o(
        &mut c,
        &format!("{base}&quantity=0.010&price=30000&positionSide=LONG"),
    );
    assert_eq!(r.err(), (400, -4061));
    let r = o(
        &mut c,
        &format!("{base}&quantity=0.010&price=30000&newOrderRespType=FULL"),
    );
    assert_eq!(r.err(), (400, -1136));
    // reduce-only with no position
    let r = o(
        &mut c,
        "symbol=BTCUSDT&side=SELL&type=MARKET&quantity=0.010&reduceOnly=true",
    );
    assert_eq!(r.err(), (400, -2022));
}

#[test]
fn insufficient_balance_and_margin() {
    let s = server(MarketKind::Spot, H, Faults::default(), None);
    let mut c = Client::new(s.addr(), "spot");
    // default account: 100,000 USDT, 2 BTC
    let r = c.signed(
        "POST",
        ORDER,
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=2.00000&price=50001.00",
    );
    assert_eq!(r.err(), (400, -2010));
    assert_eq!(
        r.json()["msg"],
        "Account has insufficient balance for requested action."
    );
    let r = c.signed(
        "POST",
        ORDER,
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=2.00000&price=50000.00",
    );
    assert_eq!(r.status, 200, "exactly the balance: {}", r.body);
    // the whole USDT balance is now locked
    let a = c.signed("GET", "/api/v3/account", "").json();
    let usdt = a["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["asset"] == "USDT")
        .unwrap()
        .clone();
    assert_eq!(
        (usdt["free"].as_str(), usdt["locked"].as_str()),
        (Some("0.00000000"), Some("100000.00000000"))
    );
    let r = c.signed(
        "POST",
        ORDER,
        "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=2.00001&price=90000.00",
    );
    assert_eq!(r.err(), (400, -2010));
    let r = c.signed(
        "POST",
        ORDER,
        "symbol=BTCUSDT&side=SELL&type=MARKET&quantity=2.00001",
    );
    assert_eq!(r.err(), (400, -2010));

    // USDⓈ-M: 100,000 USDT at 20× carries 2,000,000 notional; 40 BTC at ~62,000 does not
    let s = server(MarketKind::Usdm, H, Faults::default(), None);
    let mut c = Client::new(s.addr(), "usdm");
    let r = c.signed(
        "POST",
        "/fapi/v1/order",
        "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=40",
    );
    assert_eq!(r.err(), (400, -2019));
    assert_eq!(r.json()["msg"], "Margin is insufficient.");
    let r = c.signed(
        "POST",
        "/fapi/v1/order",
        "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=30&price=66000",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // 30 × 66,000 / 20 = 99,000 of open-order margin: another 2 BTC does not fit
    let r = c.signed(
        "POST",
        "/fapi/v1/order",
        "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=2&price=66000",
    );
    assert_eq!(r.err(), (400, -2019));
    let a = c.signed("GET", "/fapi/v2/account", "").json();
    assert_eq!(a["totalOpenOrderInitialMargin"], "99000.00000000");
    assert_eq!(a["availableBalance"], "1000.00000000");
}

/// An IOC buy through two recorded ask levels fills exactly those levels at their prices; the
/// rest expires. A second order at the same prices finds nothing left there, whoever sends
/// it, until the venue publishes those levels again; the other side is untouched.
#[test]
fn ioc_walks_the_recorded_book_and_never_takes_the_same_quantity_twice() {
    let s = server(MarketKind::Spot, H, Faults::default(), Some(rich()));
    let mut rb = Rebuild::new(MarketKind::Spot, "BTCUSDT");
    rb.advance_to(H as usize);
    let asks = rb.levels(Side::Buy, 3);
    let bids = rb.levels(Side::Sell, 1);
    let ((p1, q1), (p2, q2), (p3, q3)) = (asks[0], asks[1], asks[2]);
    eprintln!("asks at {H}: {asks:?}");
    let qty = lot_up(q1 + q2, 1000) + 100_000; // + 0.001 BTC more than the two levels hold
    let mut c = Client::new(s.addr(), "spot");
    let r = c.signed(
        "POST",
        ORDER,
        &format!(
            "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity={}&price={}&newClientOrderId=walk1",
            dec(qty, 5),
            dec(p2, 2)
        ),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    assert_eq!(j["status"], "EXPIRED");
    assert_eq!(j["expiryReason"], "UNFILLED_IOC_QUANTITY_EXPIRED");
    assert_eq!(j["executedQty"], dec(q1 + q2, 8));
    assert_eq!(j["origQty"], dec(qty, 8));
    let fills = j["fills"].as_array().unwrap();
    assert_eq!(fills.len(), 2);
    for (f, (p, q)) in fills.iter().zip([(p1, q1), (p2, q2)]) {
        assert_eq!(f["price"], dec(p, 8));
        assert_eq!(f["qty"], dec(q, 8));
        assert_eq!(f["commissionAsset"], "BTC");
        // 0.1 % of the base received, truncated to 10⁻⁸
        assert_eq!(ds(&f["commission"]), trunc8(ds(&f["qty"]) * d("0.001")));
    }
    let quote = trunc8(d(&dec(q1, 8)) * d(&dec(p1, 8))) + trunc8(d(&dec(q2, 8)) * d(&dec(p2, 8)));
    assert_eq!(ds(&j["cummulativeQuoteQty"]), quote);

    // the same prices again, another account: nothing is left at p1 and p2
    let mut c2 = Client::new(s.addr(), "spot");
    c2.key = "second-key".into();
    c2.secret = "second-secret".into();
    let r = c2.signed(
        "POST",
        ORDER,
        &format!(
            "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity=1.00000&price={}",
            dec(p2, 2)
        ),
    );
    let j = r.json();
    assert_eq!(
        (j["status"].as_str(), j["executedQty"].as_str()),
        (Some("EXPIRED"), Some("0.00000000")),
        "{j}"
    );
    // up to p3: only p3's quantity
    let want = lot_up(q3, 1000);
    let r = c.signed(
        "POST",
        ORDER,
        &format!(
            "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity={}&price={}",
            dec(want, 5),
            dec(p3, 2)
        ),
    );
    let j = r.json();
    assert_eq!(j["fills"].as_array().unwrap().len(), 1, "{j}");
    assert_eq!(j["fills"][0]["price"], dec(p3, 8));
    assert_eq!(j["executedQty"], dec(q3, 8));
    // the bid side is untouched: a sell at the best bid gets its full displayed quantity
    let (bp, bq) = bids[0];
    let r = c.signed(
        "POST",
        ORDER,
        &format!(
            "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=FOK&quantity={}&price={}",
            dec(bq / 1000 * 1000, 5),
            dec(bp, 2)
        ),
    );
    let j = r.json();
    assert_eq!(j["status"], "FILLED", "{j}");
    assert_eq!(j["fills"][0]["commissionAsset"], "USDT");
    // FOK larger than the level at that price: nothing, EXPIRED
    let r = c.signed(
        "POST",
        ORDER,
        &format!(
            "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=FOK&quantity=50.00000&price={}",
            dec(bp, 2)
        ),
    );
    let j = r.json();
    assert_eq!(
        (j["status"].as_str(), j["executedQty"].as_str()),
        (Some("EXPIRED"), Some("0.00000000"))
    );
    assert_eq!(j["expiryReason"], "UNFILLED_FOK_ORDER_EXPIRED");
}

#[test]
fn cancel_query_and_open_orders() {
    let s = server(MarketKind::Spot, H, Faults::default(), None);
    let mut c = Client::new(s.addr(), "spot");
    let r = c.signed(
        "POST",
        ORDER,
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01000&price=40000.00&newClientOrderId=rest-1",
    );
    let j = r.json();
    assert_eq!(j["status"], "NEW", "{j}");
    assert_eq!(j["fills"], serde_json::json!([]));
    let id = j["orderId"].as_u64().unwrap();
    // duplicate client id of an open order
    let r = c.signed(
        "POST",
        ORDER,
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01000&price=40000.00&newClientOrderId=rest-1",
    );
    assert_eq!(r.err(), (400, -2010));
    assert_eq!(r.json()["msg"], "Duplicate order sent.");
    for q in [
        format!("symbol=BTCUSDT&orderId={id}"),
        "symbol=BTCUSDT&origClientOrderId=rest-1".into(),
    ] {
        let j = c.signed("GET", ORDER, &q).json();
        assert_eq!(
            (j["orderId"].as_u64(), j["status"].as_str()),
            (Some(id), Some("NEW")),
            "{j}"
        );
        assert_eq!(j["isWorking"], true);
        assert_eq!(j["price"], "40000.00000000");
    }
    let open = c
        .signed("GET", "/api/v3/openOrders", "symbol=BTCUSDT")
        .json();
    assert_eq!(open.as_array().unwrap().len(), 1);
    let open = c.signed("GET", "/api/v3/openOrders", "").json();
    assert_eq!(open[0]["clientOrderId"], "rest-1");
    // 400 USDT locked
    let bal = |c: &mut Client, a: &str| {
        let j = c.signed("GET", "/api/v3/account", "").json();
        let b = j["balances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["asset"] == a)
            .unwrap()
            .clone();
        (
            b["free"].as_str().unwrap().to_string(),
            b["locked"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(
        bal(&mut c, "USDT"),
        ("99600.00000000".into(), "400.00000000".into())
    );
    let r = c.signed(
        "DELETE",
        ORDER,
        &format!("symbol=BTCUSDT&orderId={id}&newClientOrderId=cx-1"),
    );
    let j = r.json();
    assert_eq!(j["status"], "CANCELED", "{j}");
    assert_eq!(
        (j["origClientOrderId"].as_str(), j["clientOrderId"].as_str()),
        (Some("rest-1"), Some("cx-1"))
    );
    assert_eq!(
        bal(&mut c, "USDT"),
        ("100000.00000000".into(), "0.00000000".into())
    );
    // again: unknown order; queries still find it
    let r = c.signed("DELETE", ORDER, &format!("symbol=BTCUSDT&orderId={id}"));
    assert_eq!(r.err(), (400, -2011));
    assert_eq!(r.json()["msg"], "Unknown order sent.");
    assert_eq!(
        c.signed("GET", ORDER, &format!("symbol=BTCUSDT&orderId={id}"))
            .json()["status"],
        "CANCELED"
    );
    assert_eq!(
        c.signed("GET", "/api/v3/openOrders", "").json(),
        serde_json::json!([])
    );
    let r = c.signed("GET", ORDER, "symbol=BTCUSDT&orderId=999");
    assert_eq!(r.err(), (400, -2013));
    assert_eq!(r.json()["msg"], "Order does not exist.");
    assert_eq!(
        c.signed("GET", ORDER, "symbol=BTCUSDT&origClientOrderId=nope")
            .err(),
        (400, -2013)
    );
    assert_eq!(
        c.signed("DELETE", ORDER, "symbol=BTCUSDT").err(),
        (400, -1102)
    );
    assert_eq!(
        c.signed("GET", ORDER, "symbol=BTCUSDT&orderId=x1").err(),
        (400, -1100)
    );
    assert_eq!(
        c.signed(
            "GET",
            ORDER,
            &format!("symbol=BTCUSDT&orderId={id}&origClientOrderId=other")
        )
        .err(),
        (400, -2039)
    );
    // the client id is free again after the cancel
    let r = c.signed(
        "POST",
        ORDER,
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01000&price=40000.00&newClientOrderId=rest-1",
    );
    assert_eq!(r.status, 200);
}

/// Orders of every kind, then the account equals the starting balances changed by exactly
/// what the fills say (notional truncated to 10⁻⁸ per trade, commission as reported), and the
/// user stream carried one `executionReport` per fill with the same numbers, plus
/// `outboundAccountPosition` that ends at the account's balances.
#[test]
fn balances_and_user_stream_follow_the_fills() {
    let s = server(MarketKind::Spot, H, Faults::default(), Some(rich()));
    let mut c = Client::new(s.addr(), "spot");
    let lk = c.key_only("POST", "/api/v3/userDataStream", "").json()["listenKey"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(lk.len(), 64);
    // POST again: the same key
    assert_eq!(
        c.key_only("POST", "/api/v3/userDataStream", "").json()["listenKey"],
        lk.as_str()
    );
    let mut us = UserStream::connect(s.addr(), "spot", &lk);
    let mut rb = Rebuild::new(MarketKind::Spot, "BTCUSDT");
    rb.advance_to(H as usize);
    let (ask2, _) = rb.levels(Side::Buy, 2)[1];
    let (bid2, _) = rb.levels(Side::Sell, 2)[1];
    let orders = [
        format!(
            "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity=3.00000&price={}",
            dec(ask2, 2)
        ),
        format!(
            "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=IOC&quantity=2.50000&price={}",
            dec(bid2, 2)
        ),
        "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.75000".to_string(),
        "symbol=BTCUSDT&side=SELL&type=MARKET&quantity=1.25000".to_string(),
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.50000&price=50000.00"
            .to_string(),
    ];
    let (mut usdt, mut btc, mut usdt_locked) = (d("10000000"), d("100"), d("0"));
    let mut answers = Vec::new();
    for o in &orders {
        let j = c.signed("POST", ORDER, o).json();
        assert!(j["orderId"].is_u64(), "{j}");
        let buy = j["side"] == "BUY";
        for f in j["fills"].as_array().unwrap() {
            let (px, q, fee) = (ds(&f["price"]), ds(&f["qty"]), ds(&f["commission"]));
            let notional = trunc8(px * q);
            if buy {
                assert_eq!(f["commissionAsset"], "BTC");
                usdt -= notional;
                btc += q - fee;
            } else {
                assert_eq!(f["commissionAsset"], "USDT");
                btc -= q;
                usdt += notional - fee;
            }
        }
        if j["status"] == "NEW" {
            let lock = d("0.5") * d("50000");
            usdt -= lock;
            usdt_locked += lock;
        }
        answers.push(j);
    }
    assert!(
        answers
            .iter()
            .filter(|j| !j["fills"].as_array().unwrap().is_empty())
            .count()
            == 4
    );
    let acct = c.signed("GET", "/api/v3/account", "").json();
    let bal = |a: &str| {
        let b = acct["balances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["asset"] == a)
            .unwrap()
            .clone();
        (ds(&b["free"]), ds(&b["locked"]))
    };
    assert_eq!(bal("USDT"), (usdt, usdt_locked));
    assert_eq!(bal("BTC"), (btc, d("0")));
    assert_eq!(acct["takerCommission"], 10);
    assert_eq!(acct["commissionRates"]["taker"], "0.00100000");

    // the stream: per order NEW, one TRADE per fill with the answer's numbers, then the end
    let events = us.drain(Duration::from_millis(500));
    let reports: Vec<&Value> = events
        .iter()
        .filter(|e| e["e"] == "executionReport")
        .collect();
    for j in &answers {
        let id = j["orderId"].as_u64().unwrap();
        let mine: Vec<&&Value> = reports
            .iter()
            .filter(|e| e["i"].as_u64() == Some(id))
            .collect();
        assert_eq!(mine[0]["x"], "NEW");
        let trades: Vec<&&&Value> = mine.iter().filter(|e| e["x"] == "TRADE").collect();
        let fills = j["fills"].as_array().unwrap();
        assert_eq!(trades.len(), fills.len(), "order {id}");
        for (t, f) in trades.iter().zip(fills) {
            assert_eq!(t["L"], f["price"]);
            assert_eq!(t["l"], f["qty"]);
            assert_eq!(t["n"], f["commission"]);
            assert_eq!(t["N"], f["commissionAsset"]);
            assert_eq!(t["t"], f["tradeId"]);
            assert_eq!(t["m"], false);
        }
        let last = mine.last().unwrap();
        assert_eq!(last["X"], j["status"], "order {id}");
        assert_eq!(last["z"], j["executedQty"]);
        assert_eq!(last["Z"], j["cummulativeQuoteQty"]);
    }
    let pos: Vec<&Value> = events
        .iter()
        .filter(|e| e["e"] == "outboundAccountPosition")
        .collect();
    let mut last = std::collections::BTreeMap::new();
    for p in &pos {
        for b in p["B"].as_array().unwrap() {
            last.insert(
                b["a"].as_str().unwrap().to_string(),
                (ds(&b["f"]), ds(&b["l"])),
            );
        }
    }
    assert_eq!(last["USDT"], (usdt, usdt_locked));
    assert_eq!(last["BTC"], (btc, d("0")));
    // PUT keeps it alive, DELETE closes the stream; the key is then unknown
    assert_eq!(
        c.key_only("PUT", "/api/v3/userDataStream", &format!("listenKey={lk}"))
            .body,
        "{}"
    );
    assert_eq!(
        c.key_only("PUT", "/api/v3/userDataStream", "").err(),
        (400, -1102)
    );
    assert_eq!(
        c.key_only(
            "DELETE",
            "/api/v3/userDataStream",
            &format!("listenKey={lk}")
        )
        .body,
        "{}"
    );
    assert!(us.next(Duration::from_secs(2)).is_none(), "closed");
    let r = c.key_only("PUT", "/api/v3/userDataStream", &format!("listenKey={lk}"));
    assert_eq!(r.err(), (400, -1125));
}

/// A GTC buy at the best bid rests; it fills, as maker at its own price with the maker fee,
/// after the first recorded message whose book shows asks at or below it, for the quantity
/// displayed there.
#[test]
fn resting_orders_fill_when_the_replayed_book_reaches_them() {
    let mut cfg = rich();
    cfg.spot.maker_fee_bps = 7.5;
    let s = server(MarketKind::Spot, H, Faults::default(), Some(cfg));
    let mut c = Client::new(s.addr(), "spot");
    let lk = c.key_only("POST", "/api/v3/userDataStream", "").json()["listenKey"]
        .as_str()
        .unwrap()
        .to_string();
    let mut us = UserStream::connect(s.addr(), "spot", &lk);
    let mut rb = Rebuild::new(MarketKind::Spot, "BTCUSDT");
    rb.advance_to(H as usize);
    let (bid, _) = rb.levels(Side::Sell, 1)[0];
    let qty = 2_000_000_000i64; // 20 BTC: more than one level will show
    let j = c
        .signed(
            "POST",
            ORDER,
            &format!(
                "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity={}&price={}",
                dec(qty, 5),
                dec(bid, 2)
            ),
        )
        .json();
    assert_eq!(j["status"], "NEW", "{j}");
    let id = j["orderId"].as_u64().unwrap();
    // find, independently, the first message after which asks at or below the bid show
    let (first, shown) = loop {
        assert!(rb.pos < rb.lines.len(), "the asks never came down to {bid}");
        rb.step();
        let q: i64 = rb
            .levels(Side::Buy, 100)
            .iter()
            .filter(|(p, _)| *p <= bid)
            .map(|x| x.1)
            .sum();
        if q > 0 {
            break (rb.pos as u64, q);
        }
    };
    eprintln!(
        "asks reach {} after message {first}: {shown} shown",
        dec(bid, 2)
    );
    // one message before: nothing yet
    s.advance_to(first - 1);
    assert_eq!(
        c.signed("GET", ORDER, &format!("symbol=BTCUSDT&orderId={id}"))
            .json()["executedQty"],
        "0.00000000"
    );
    s.advance_to(first);
    let j = c
        .signed("GET", ORDER, &format!("symbol=BTCUSDT&orderId={id}"))
        .json();
    let filled = shown.min(qty);
    assert_eq!(j["executedQty"], dec(filled, 8), "{j}");
    assert_eq!(
        j["status"],
        if filled == qty {
            "FILLED"
        } else {
            "PARTIALLY_FILLED"
        }
    );
    let trades: Vec<Value> = us
        .drain(Duration::from_millis(300))
        .into_iter()
        .filter(|e| e["e"] == "executionReport" && e["x"] == "TRADE")
        .collect();
    assert!(!trades.is_empty());
    let total: Decimal = trades.iter().map(|t| ds(&t["l"])).sum();
    assert_eq!(total, d(&dec(filled, 8)));
    for t in &trades {
        assert_eq!(t["L"], dec(bid, 8), "maker fills at the order's own price");
        assert_eq!(t["m"], true);
        assert_eq!(ds(&t["n"]), trunc8(ds(&t["l"]) * d("0.00075")));
    }
}

/// USDⓈ-M: an IOC buy opens a position at the fills' average price, a sell closes it; the
/// stream's `rp` and commissions give the wallet exactly; ACCOUNT_UPDATE follows each trade.
#[test]
fn usdm_positions_wallet_and_stream() {
    let s = server(MarketKind::Usdm, H, Faults::default(), Some(rich()));
    let mut c = Client::new(s.addr(), "usdm");
    let lk = c.key_only("POST", "/fapi/v1/listenKey", "").json()["listenKey"]
        .as_str()
        .unwrap()
        .to_string();
    let mut us = UserStream::connect(s.addr(), "usdm", &lk);
    let mut rb = Rebuild::new(MarketKind::Usdm, "BTCUSDT");
    rb.advance_to(H as usize);
    let asks = rb.levels(Side::Buy, 2);
    let want = asks[0].1 + asks[1].1;
    let qty = want + 1_000_000; // + 0.010
                                // RESULT: the final state; default ACK answers NEW with nothing executed
    let r = c.signed(
        "POST",
        "/fapi/v1/order",
        &format!(
            "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity={}&price={}&newOrderRespType=RESULT",
            dec(qty, 3),
            dec(asks[1].0, 1)
        ),
    );
    let j = r.json();
    assert_eq!(
        (j["status"].as_str(), j["executedQty"].as_str()),
        (Some("EXPIRED"), Some(dec(want, 3).as_str())),
        "{j}"
    );
    let quote = trunc8(d(&dec(asks[0].1, 8)) * d(&dec(asks[0].0, 8)))
        + trunc8(d(&dec(asks[1].1, 8)) * d(&dec(asks[1].0, 8)));
    assert_eq!(ds(&j["cumQuote"]), quote);
    assert!(
        r.header("X-MBX-ORDER-COUNT-10S").is_some() && r.header("X-MBX-ORDER-COUNT-1M").is_some()
    );
    let r = c.signed(
        "POST",
        "/fapi/v1/order",
        "symbol=BTCUSDT&side=SELL&type=MARKET&quantity=0.010",
    );
    let ack = r.json();
    assert_eq!(
        (ack["status"].as_str(), ack["executedQty"].as_str()),
        (Some("NEW"), Some("0.000")),
        "ACK: {ack}"
    );
    let q = c
        .signed(
            "GET",
            "/fapi/v1/order",
            &format!("symbol=BTCUSDT&orderId={}", ack["orderId"]),
        )
        .json();
    assert_eq!(q["status"], "FILLED");
    // position: long want − 0.010 at the first order's average price
    let pr = c
        .signed("GET", "/fapi/v2/positionRisk", "symbol=BTCUSDT")
        .json();
    let p = &pr[0];
    let held = d(&dec(want, 3)) - d("0.010");
    assert_eq!(ds(&p["positionAmt"]), held);
    let entry = ds(&p["entryPrice"]);
    let avg = quote / d(&dec(want, 8));
    assert!((entry - avg).abs() < d("0.00001"), "entry {entry} vs {avg}");
    // close the rest with reduceOnly (a larger quantity only closes)
    let r = c.signed(
        "POST",
        "/fapi/v1/order",
        "symbol=BTCUSDT&side=SELL&type=MARKET&quantity=100&reduceOnly=true&newOrderRespType=RESULT",
    );
    let j = r.json();
    assert_eq!(ds(&j["executedQty"]), held, "{j}");
    assert_eq!(
        ds(&c.signed("GET", "/fapi/v2/positionRisk", "").json()[0]["positionAmt"]),
        d("0")
    );
    // the wallet from the stream's own numbers
    let events = us.drain(Duration::from_millis(500));
    let mut wallet = d("1000000");
    let mut trades = 0;
    for e in events
        .iter()
        .filter(|e| e["e"] == "ORDER_TRADE_UPDATE" && e["o"]["x"] == "TRADE")
    {
        assert_eq!(e["o"]["N"], "USDT");
        let o = &e["o"];
        let fee = ds(&o["n"]);
        assert_eq!(fee, trunc8(trunc8(ds(&o["L"]) * ds(&o["l"])) * d("0.0005")));
        wallet += ds(&o["rp"]) - fee;
        trades += 1;
    }
    assert!(trades >= 4, "{trades}");
    let updates: Vec<&Value> = events
        .iter()
        .filter(|e| e["e"] == "ACCOUNT_UPDATE")
        .collect();
    assert_eq!(updates.len(), trades);
    assert_eq!(ds(&updates.last().unwrap()["a"]["B"][0]["wb"]), wallet);
    let a = c.signed("GET", "/fapi/v2/account", "").json();
    assert_eq!(ds(&a["totalWalletBalance"]), wallet);
    assert_eq!(ds(&a["assets"][0]["walletBalance"]), wallet);
    let a3 = c.signed("GET", "/fapi/v3/account", "").json();
    assert_eq!(
        a3["positions"],
        serde_json::json!([]),
        "v3 lists open positions only"
    );
    // futures listenKey flow: PUT answers the key, DELETE closes
    assert_eq!(
        c.key_only("PUT", "/fapi/v1/listenKey", "").json()["listenKey"],
        lk.as_str()
    );
    assert_eq!(c.key_only("DELETE", "/fapi/v1/listenKey", "").body, "{}");
    assert_eq!(
        c.key_only("PUT", "/fapi/v1/listenKey", "").err(),
        (400, -1125)
    );
}

/// COIN-M: quantities in 100 USD contracts, margin and fees in BTC, `cumBase`.
#[test]
fn coinm_contracts_margin_in_base() {
    let s = server(MarketKind::Coinm, H, Faults::default(), None);
    let mut c = Client::new(s.addr(), "coinm");
    let mut rb = Rebuild::new(MarketKind::Coinm, "BTCUSD_PERP");
    rb.advance_to(H as usize);
    let (p1, q1) = rb.levels(Side::Buy, 1)[0];
    let n = (q1 / 100_000_000).clamp(1, 5); // whole contracts within the first level
    let j = c
        .signed(
            "POST",
            "/dapi/v1/order",
            &format!(
                "symbol=BTCUSD_PERP&side=BUY&type=LIMIT&timeInForce=IOC&quantity={n}&price={}&newOrderRespType=RESULT",
                dec(p1, 1)
            ),
        )
        .json();
    assert_eq!(j["status"], "FILLED", "{j}");
    assert_eq!(j["pair"], "BTCUSD");
    // n × 100 USD / price, in BTC
    let base = trunc8(d(&format!("{}", n * 100)) / d(&dec(p1, 8)));
    assert_eq!(ds(&j["cumBase"]), base);
    let a = c.signed("GET", "/dapi/v1/account", "").json();
    let btc = a["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["asset"] == "BTC")
        .unwrap()
        .clone();
    assert_eq!(
        ds(&btc["walletBalance"]),
        d("2") - trunc8(base * d("0.0005"))
    );
    let pr = c.signed("GET", "/dapi/v1/positionRisk", "").json();
    assert_eq!(pr[0]["positionAmt"], format!("{n}"));
    assert_eq!(
        ds(&pr[0]["entryPrice"]),
        d(&dec(p1, 8)),
        "one price: the entry is that price"
    );
    // 2 BTC at 20×: 40 BTC of notional, about 2.4M USD = 24,000 contracts; 30,000 do not fit
    let r = c.signed(
        "POST",
        "/dapi/v1/order",
        "symbol=BTCUSD_PERP&side=BUY&type=LIMIT&timeInForce=GTC&quantity=30000&price=50000",
    );
    assert_eq!(r.err(), (400, -2019));
}

#[test]
fn exchange_info_reads_back_into_the_same_specs() {
    use arbot::venues::binance::{instruments::parse_exchange_info, Market as BMarket};
    for (m, bm, path, sym) in [
        (
            MarketKind::Spot,
            BMarket::Spot,
            "/api/v3/exchangeInfo",
            "BTCUSDT",
        ),
        (
            MarketKind::Usdm,
            BMarket::Usdm,
            "/fapi/v1/exchangeInfo",
            "BTCUSDT",
        ),
        (
            MarketKind::Coinm,
            BMarket::Coinm,
            "/dapi/v1/exchangeInfo",
            "BTCUSD_PERP",
        ),
    ] {
        let s = server(m, 0, Faults::default(), None);
        let mut c = Client::new(s.addr(), m.name());
        let r = c.public(path);
        assert_eq!(r.status, 200);
        let defs = parse_exchange_info(&r.body, bm, "x").unwrap();
        assert_eq!(defs.len(), 1);
        let got = defs[0]
            .to_spec(Default::default(), Default::default())
            .unwrap();
        let (_, want) = arbot::tools::replay_server::default_instruments()
            .into_iter()
            .find(|(k, d)| *k == m && d.symbol == sym)
            .unwrap();
        let want = want
            .to_spec(Default::default(), Default::default())
            .unwrap();
        assert_eq!(
            (
                got.tick_size,
                got.lot_size,
                got.min_notional,
                got.contract_size,
                got.kind
            ),
            (
                want.tick_size,
                want.lot_size,
                want.min_notional,
                want.contract_size,
                want.kind
            ),
            "{m:?}: {}",
            r.body
        );
        let j = r.json();
        assert_eq!(j["rateLimits"][0]["rateLimitType"], "REQUEST_WEIGHT");
        assert_eq!(c.public(&format!("{path}?symbol=NOPE")).err(), (400, -1121));
    }
}

/// Weights and order counts in the headers; over the weight limit 429 with Retry-After; not
/// backing off bans the IP (418) for the configured time; then it works again.
#[test]
fn rate_limit_headers_429_and_418() {
    // stay within one minute window
    let sec = (now_ms() / 1000) % 60;
    if sec > 45 {
        std::thread::sleep(Duration::from_secs(61 - sec));
    }
    let mut cfg = ExchangeConfig::default();
    cfg.spot.limits.weight_per_minute = 45;
    cfg.spot.limits.ban_secs = 2;
    let s = server(MarketKind::Spot, H, Faults::default(), Some(cfg));
    let mut c = Client::new(s.addr(), "spot");
    let w = |r: &Resp| {
        r.header("X-MBX-USED-WEIGHT-1M")
            .unwrap()
            .parse::<u32>()
            .unwrap()
    };
    assert_eq!(w(&c.public("/api/v3/time")), 1);
    assert_eq!(w(&c.signed("GET", "/api/v3/account", "")), 21);
    let r = c.signed(
        "POST",
        ORDER,
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=40000",
    );
    assert_eq!(w(&r), 22);
    assert_eq!(
        (
            r.header("X-MBX-ORDER-COUNT-10S"),
            r.header("X-MBX-ORDER-COUNT-1D")
        ),
        (Some("1"), Some("1"))
    );
    assert_eq!(w(&c.signed("GET", ORDER, "symbol=BTCUSDT&orderId=1")), 26);
    assert_eq!(
        w(&c.signed("GET", "/api/v3/openOrders", "symbol=BTCUSDT")),
        32
    );
    let r = c.public("/api/v3/exchangeInfo"); // 20 more: over 45
    assert_eq!(r.err(), (429, -1003));
    let retry: u64 = r.header("Retry-After").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(r.json()["msg"]
        .as_str()
        .unwrap()
        .contains("current limit is 45 request weight per 1 MINUTE"));
    // not backing off: one more 429, then the ban
    assert_eq!(c.public("/api/v3/time").status, 429);
    let r = c.public("/api/v3/time");
    assert_eq!(r.err(), (418, -1003));
    assert_eq!(r.header("Retry-After"), Some("2"));
    assert_eq!(c.public("/api/v3/time").status, 418);
    std::thread::sleep(Duration::from_millis(2100));
    let r = c.public("/api/v3/time");
    assert_eq!(r.status, 200, "ban over: {}", r.body);
    // orders per 10 s
    let mut cfg = ExchangeConfig::default();
    cfg.spot.limits.orders_per_10s = 2;
    let s = server(MarketKind::Spot, H, Faults::default(), Some(cfg));
    let mut c = Client::new(s.addr(), "spot");
    let p = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity=0.001&price=40000";
    let t0 = now_ms() % 10_000;
    if t0 > 8_000 {
        std::thread::sleep(Duration::from_millis(10_100 - t0));
    }
    assert_eq!(
        c.signed("POST", ORDER, p).header("X-MBX-ORDER-COUNT-10S"),
        Some("1")
    );
    assert_eq!(
        c.signed("POST", ORDER, p).header("X-MBX-ORDER-COUNT-10S"),
        Some("2")
    );
    let r = c.signed("POST", ORDER, p);
    assert_eq!(r.err(), (429, -1015));
    assert!(r.header("Retry-After").is_some());
}

fn fault_server(f: Faults) -> (arbot::tools::replay_server::Server, Client) {
    let s = server(MarketKind::Spot, H, f, Some(rich()));
    let c = Client::new(s.addr(), "spot");
    (s, c)
}

const IOC_FAR: &str =
    "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity=0.001&price=40000";

#[test]
fn fault_reject_the_nth_order() {
    let (_s, mut c) = fault_server(Faults {
        reject_order: Some(2),
        reject_code: -1013,
        ..Faults::default()
    });
    assert_eq!(c.signed("POST", ORDER, IOC_FAR).status, 200);
    let r = c.signed("POST", ORDER, &format!("{IOC_FAR}&newClientOrderId=rej2"));
    assert_eq!(r.err(), (400, -1013));
    assert_eq!(
        c.signed("GET", ORDER, "symbol=BTCUSDT&origClientOrderId=rej2")
            .err(),
        (400, -2013),
        "not placed"
    );
    assert_eq!(c.signed("POST", ORDER, IOC_FAR).status, 200, "once");
}

#[test]
fn fault_429_and_418_on_the_nth_order() {
    let (_s, mut c) = fault_server(Faults {
        order_429: Some(1),
        order_418: Some(3),
        fault_retry_after_s: 1,
        ..Faults::default()
    });
    let r = c.signed("POST", ORDER, IOC_FAR);
    assert_eq!(r.err(), (429, -1003));
    assert_eq!(r.header("Retry-After"), Some("1"));
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(
        c.signed("POST", ORDER, IOC_FAR).status,
        200,
        "after Retry-After"
    );
    let r = c.signed("POST", ORDER, IOC_FAR);
    assert_eq!(r.err(), (418, -1003));
    assert_eq!(r.header("Retry-After"), Some("1"));
    assert_eq!(c.public("/api/v3/time").status, 418, "the IP is banned");
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(c.public("/api/v3/time").status, 200);
}

#[test]
fn fault_no_answer_keeps_the_connection_and_places_nothing() {
    let (s, mut c) = fault_server(Faults {
        swallow_order: Some(1),
        ..Faults::default()
    });
    c.http
        .w
        .set_read_timeout(Some(Duration::from_millis(800)))
        .unwrap();
    let (target, body) =
        c.signed_request("POST", ORDER, &format!("{IOC_FAR}&newClientOrderId=lost"));
    c.http
        .send("POST", &target, &[("X-MBX-APIKEY", DOC_API_KEY)], &body);
    let t = Instant::now();
    let e = c.http.read().unwrap_err();
    assert!(
        matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "no answer, no close: {e}"
    );
    assert!(t.elapsed() >= Duration::from_millis(700));
    let mut c2 = Client::new(s.addr(), "spot");
    assert_eq!(
        c2.signed("GET", ORDER, "symbol=BTCUSDT&origClientOrderId=lost")
            .err(),
        (400, -2013)
    );
}

#[test]
fn fault_delayed_ack_after_the_stream() {
    let (s, mut c) = fault_server(Faults {
        delay_order: Some(1),
        delay_ms: 700,
        ..Faults::default()
    });
    let lk = c.key_only("POST", "/api/v3/userDataStream", "").json()["listenKey"]
        .as_str()
        .unwrap()
        .to_string();
    let mut us = UserStream::connect(s.addr(), "spot", &lk);
    let t = Instant::now();
    let (target, body) = c.signed_request("POST", ORDER, IOC_FAR);
    c.http
        .send("POST", &target, &[("X-MBX-APIKEY", DOC_API_KEY)], &body);
    let ev = us
        .next(Duration::from_millis(500))
        .expect("the stream first");
    assert_eq!(ev["x"], "NEW");
    assert!(t.elapsed() < Duration::from_millis(600));
    let r = c.http.read().unwrap();
    assert!(t.elapsed() >= Duration::from_millis(700));
    assert_eq!(r.json()["status"], "EXPIRED");
}

#[test]
fn fault_fill_reported_only_on_the_stream() {
    let (s, mut c) = fault_server(Faults {
        stream_only_fill: Some(1),
        ..Faults::default()
    });
    let lk = c.key_only("POST", "/api/v3/userDataStream", "").json()["listenKey"]
        .as_str()
        .unwrap()
        .to_string();
    let mut us = UserStream::connect(s.addr(), "spot", &lk);
    let j = c
        .signed(
            "POST",
            ORDER,
            "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity=0.01&price=70000",
        )
        .json();
    assert_eq!(
        (j["status"].as_str(), j["executedQty"].as_str()),
        (Some("NEW"), Some("0.00000000")),
        "{j}"
    );
    assert_eq!(j["fills"], serde_json::json!([]));
    let ev = us.drain(Duration::from_millis(300));
    let trades = ev.iter().filter(|e| e["x"] == "TRADE").count();
    assert!(trades >= 1);
    let q = c
        .signed(
            "GET",
            ORDER,
            &format!("symbol=BTCUSDT&orderId={}", j["orderId"]),
        )
        .json();
    assert_eq!(q["status"], "FILLED");
}

#[test]
fn fault_disconnect_with_the_order_in_flight() {
    let (s, mut c) = fault_server(Faults {
        disconnect_order: Some(1),
        ..Faults::default()
    });
    let (target, body) = c.signed_request(
        "POST",
        ORDER,
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity=0.01&price=70000&newClientOrderId=inflight",
    );
    c.http
        .send("POST", &target, &[("X-MBX-APIKEY", DOC_API_KEY)], &body);
    let e = c.http.read().unwrap_err();
    assert!(
        matches!(
            e.kind(),
            std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
        ),
        "{e}"
    );
    let mut c2 = Client::new(s.addr(), "spot");
    let q = c2
        .signed("GET", ORDER, "symbol=BTCUSDT&origClientOrderId=inflight")
        .json();
    assert_eq!(q["status"], "FILLED", "processed: {q}");
}

#[test]
fn fault_partial_fill_then_expiry() {
    let (_s, mut c) = fault_server(Faults {
        partial_fill_order: Some(1),
        ..Faults::default()
    });
    // fully fillable (limit far through the book), yet half fills
    let j = c
        .signed(
            "POST",
            ORDER,
            "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.02000&price=70000",
        )
        .json();
    assert_eq!(
        (j["status"].as_str(), j["executedQty"].as_str()),
        (Some("EXPIRED"), Some("0.01000000")),
        "{j}"
    );
    assert_eq!(
        c.signed("GET", "/api/v3/openOrders", "").json(),
        serde_json::json!([])
    );
}

#[test]
fn fault_503_status_unknown_but_processed() {
    let (_s, mut c) = fault_server(Faults {
        order_503: Some(1),
        ..Faults::default()
    });
    let r = c.signed(
        "POST",
        ORDER,
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=40000&newClientOrderId=unk",
    );
    assert_eq!(r.err(), (503, -1007));
    let q = c
        .signed("GET", ORDER, "symbol=BTCUSDT&origClientOrderId=unk")
        .json();
    assert_eq!(q["status"], "NEW", "it was placed: {q}");
}

#[test]
fn fault_clock_skew() {
    let (_s, mut c) = fault_server(Faults {
        clock_skew_ms: 10_000,
        ..Faults::default()
    });
    assert_eq!(c.signed("GET", "/api/v3/account", "").err(), (400, -1021));
    // a client that syncs with GET /api/v3/time
    let t = c.public("/api/v3/time").json()["serverTime"]
        .as_i64()
        .unwrap();
    c.offset_ms = t - now_ms() as i64;
    assert!((9_000..11_000).contains(&c.offset_ms), "{}", c.offset_ms);
    assert_eq!(c.signed("GET", "/api/v3/account", "").status, 200);
}

#[test]
fn listen_keys_expire() {
    let cfg = ExchangeConfig {
        listen_key_validity: Duration::from_millis(600),
        ..ExchangeConfig::default()
    };
    let s = server(MarketKind::Usdm, H, Faults::default(), Some(cfg));
    let mut c = Client::new(s.addr(), "usdm");
    let lk = c.key_only("POST", "/fapi/v1/listenKey", "").json()["listenKey"]
        .as_str()
        .unwrap()
        .to_string();
    let mut us = UserStream::connect(s.addr(), "usdm", &lk);
    let ev = us.next(Duration::from_secs(3)).expect("an expiry event");
    assert_eq!(ev["e"], "listenKeyExpired");
    assert_eq!(ev["listenKey"], lk.as_str());
    assert_eq!(
        c.key_only("PUT", "/fapi/v1/listenKey", "").err(),
        (400, -1125)
    );
    // a new key is another key
    let lk2 = c.key_only("POST", "/fapi/v1/listenKey", "").json()["listenKey"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(lk, lk2);
}

fn strip_times(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for k in [
                "transactTime",
                "workingTime",
                "updateTime",
                "time",
                "serverTime",
                "E",
                "T",
                "O",
                "W",
                "u",
            ] {
                m.remove(k);
            }
            for x in m.values_mut() {
                strip_times(x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(strip_times),
        _ => {}
    }
}

/// The same requests at the same replay position give the same answers (times aside).
#[test]
fn deterministic_given_requests_and_position() {
    let run = || {
        let s = server(MarketKind::Spot, H, Faults::default(), Some(rich()));
        let mut c = Client::new(s.addr(), "spot");
        let mut out = Vec::new();
        for p in [
            "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=2.5",
            "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=IOC&quantity=1.5&price=61000",
            "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=61000",
        ] {
            out.push(c.signed("POST", ORDER, p).json());
        }
        s.advance_to(H + 2000);
        out.push(c.signed("GET", "/api/v3/openOrders", "").json());
        out.push(c.signed("GET", ORDER, "symbol=BTCUSDT&orderId=3").json());
        out.push(c.signed("GET", "/api/v3/account", "").json());
        out.iter_mut().for_each(strip_times);
        out
    };
    let a = run();
    assert!(a[0]["fills"].as_array().unwrap().len() > 1, "{}", a[0]);
    assert_eq!(a, run());
}

/// `--config`: balances, fees, leverage and instrument filters come from the client's venues.
#[test]
fn balances_fees_and_specs_from_a_client_config() {
    let setup = common::setup("paper-loopback.toml");
    let cfg = ExchangeConfig::from_setup(&setup);
    assert_eq!(
        (
            cfg.spot.taker_fee_bps,
            cfg.usdm.taker_fee_bps,
            cfg.coinm.taker_fee_bps
        ),
        (10.0, 5.0, 5.0)
    );
    assert_eq!(cfg.usdm.leverage, 1.0, "the config's default leverage");
    let bal = |m: MarketKind| {
        let mut v: Vec<(String, f64)> = cfg.accounts[0]
            .balances
            .iter()
            .filter(|b| b.market == m)
            .map(|b| (b.asset.clone(), b.amount))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    assert_eq!(
        bal(MarketKind::Spot),
        vec![("BTC".into(), 2.0), ("USDT".into(), 100_000.0)]
    );
    assert_eq!(bal(MarketKind::Coinm), vec![("BTC".into(), 2.0)]);
    let s = server(MarketKind::Spot, H, Faults::default(), Some(cfg));
    let mut c = Client::new(s.addr(), "spot");
    let info = c.public("/api/v3/exchangeInfo").json();
    let f = &info["symbols"][0]["filters"];
    assert_eq!(f[0]["tickSize"], "0.01000000");
    assert_eq!(f[1]["stepSize"], "0.00001000");
    assert_eq!(f[1]["maxQty"], "9000.00000000");
    assert_eq!(f[2]["minNotional"], "5.00000000");
    let a = c.signed("GET", "/api/v3/account", "").json();
    assert_eq!(
        a["balances"][1],
        serde_json::json!({"asset": "USDT", "free": "100000.00000000", "locked": "0.00000000"})
    );
}

/// Numbers at the edges of what parses (COIN-M has no maximum quantity) are refused with
/// Binance's errors; nothing panics and the server keeps answering.
#[test]
fn absurd_numbers_are_refused_not_panicked() {
    let s = server(MarketKind::Coinm, H, Faults::default(), None);
    let mut c = Client::new(s.addr(), "coinm");
    for p in [
        "quantity=92233720368&price=999999.9",
        "quantity=92233720368&price=0.1",
        "quantity=1&price=1000000.1",
    ] {
        let r = c.signed(
            "POST",
            "/dapi/v1/order",
            &format!("symbol=BTCUSD_PERP&side=BUY&type=LIMIT&timeInForce=GTC&{p}"),
        );
        assert_eq!(r.status, 400, "{p}: {}", r.body);
    }
    let r = c.signed(
        "POST",
        "/dapi/v1/order",
        "symbol=BTCUSD_PERP&side=SELL&type=MARKET&quantity=92233720368",
    );
    assert_eq!(r.err(), (400, -2019), "{}", r.body);
    let r = c.signed(
        "POST",
        "/dapi/v1/order",
        "symbol=BTCUSD_PERP&side=BUY&type=MARKET&quantity=922337203685477580700",
    );
    assert_eq!(r.err(), (400, -1108));
    // garbage requests get Binance's bodies, then the connection still serves
    let r = c.http.request(
        "POST",
        "/coinm/dapi/v1/order?a=%zz",
        &[("X-MBX-APIKEY", DOC_API_KEY)],
        "",
    );
    assert_eq!(r.err(), (400, -1100));
    assert_eq!(c.public("/dapi/v1/time").status, 200);
}
