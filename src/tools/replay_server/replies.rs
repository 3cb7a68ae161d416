//! JSON bodies of the order-entry answers and of the user-data-stream events, with Binance's
//! field names and shapes (each function names the doc page it follows). Numbers are decimal
//! strings as Binance sends them: spot at 8 decimals; futures prices and quantities at the
//! symbol's `pricePrecision` / `quantityPrecision`, amounts (notional, balances, commission,
//! `avgPrice`) at 8. Values are truncated, never rounded up.

use super::exchange::{Acct, Expiry, FillRec, Inst, Order, Pos, RespType, Status, E8};
use super::settings::RateLimits;
use super::MarketKind;
use crate::types::Side;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// `v` (at `scale` decimals) written with exactly `frac` decimals (truncated or zero-padded).
pub(super) fn dec_scaled(v: i128, scale: u32, frac: u32) -> String {
    let neg = v < 0;
    let a = v.unsigned_abs();
    let p = 10u128.pow(scale.min(30));
    let (int, fr) = (a / p, a % p);
    let digits = if frac >= scale {
        fr * 10u128.pow((frac - scale).min(30))
    } else {
        fr / 10u128.pow((scale - frac).min(30))
    };
    let s = if frac == 0 {
        format!("{int}")
    } else {
        format!("{int}.{digits:0w$}", w = frac as usize)
    };
    if neg && (int > 0 || digits > 0) {
        format!("-{s}")
    } else {
        s
    }
}

/// A 10⁻⁸ value with `frac` decimals.
pub(super) fn dec(v: i128, frac: u32) -> String {
    dec_scaled(v, 8, frac)
}

/// A 10⁻⁸ value with 8 decimals.
pub(super) fn amt(v: i128) -> String {
    dec(v, 8)
}

/// A 10⁻⁸ value without trailing zeros (`100`, `0.001`).
pub(super) fn dec_trim(v: i128) -> String {
    let s = dec(v, 8);
    let s = s.trim_end_matches('0');
    s.trim_end_matches('.').to_string()
}

/// How one instrument's numbers are written.
#[derive(Clone, Copy, Debug)]
pub(super) struct Fmt {
    pub(super) market: MarketKind,
    pub(super) price_prec: u32,
    pub(super) qty_prec: u32,
}

impl Fmt {
    fn px(&self, v: i64) -> String {
        match self.market {
            MarketKind::Spot => dec(v as i128, 8),
            _ => dec(v as i128, self.price_prec),
        }
    }
    fn qty(&self, v: i64) -> String {
        match self.market {
            MarketKind::Spot => dec(v as i128, 8),
            _ => dec(v as i128, self.qty_prec),
        }
    }
}

fn side(s: Side) -> &'static str {
    match s {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

/// Average fill price of an order, 10⁻⁸ (0 before the first fill).
pub(super) fn avg_price(inst: &Inst, o: &Order) -> i128 {
    if o.executed == 0 {
        return 0;
    }
    if inst.spec.kind.is_inverse() {
        // contracts × contract size (USD) / base paid
        let usd = o.executed as i128 * inst.spec.contract_size.0 as i128 / E8;
        if o.cum_base == 0 {
            0
        } else {
            usd.saturating_mul(E8) / o.cum_base
        }
    } else {
        o.cum_quote.saturating_mul(E8) / o.executed as i128
    }
}

/// Unrealized PnL of `pos` at `mark` (0 without a mark), margin asset.
pub(super) fn unrealized(inst: &Inst, pos: &Pos, mark: i64) -> i128 {
    if pos.amt == 0 || mark <= 0 {
        return 0;
    }
    let q = pos.amt.unsigned_abs().min(i64::MAX as u128) as i64;
    let now = inst.basis_value(q, mark);
    let long = pos.amt > 0;
    inst.basis_e8(match (inst.spec.kind.is_inverse(), long) {
        (false, true) | (true, false) => now - pos.basis,
        (false, false) | (true, true) => pos.basis - now,
    })
}

fn spot_expiry(e: Expiry) -> &'static str {
    // user-data-stream.md "Order Expiry Reason"
    match e {
        Expiry::Ioc => "UNFILLED_IOC_QUANTITY_EXPIRED",
        Expiry::Fok => "UNFILLED_FOK_ORDER_EXPIRED",
        Expiry::Market => "INSUFFICIENT_LIQUIDITY",
        Expiry::PostOnly | Expiry::Fault => "EXCHANGE_CANCELED",
    }
}

fn futures_expiry(e: Option<Expiry>) -> &'static str {
    // USDⓈ-M "Event: Order Update", Expiry Reason
    match e {
        None => "0",
        Some(Expiry::Market) => "9",
        Some(Expiry::PostOnly) => "6",
        Some(_) => "2",
    }
}

fn is_working(o: &Order) -> bool {
    o.tif == super::exchange::Tif::Gtc && o.typ != super::exchange::OrdType::Market
        || o.tif == super::exchange::Tif::Gtx
}

/// Spot order fields shared by RESULT/FULL, cancel and query answers.
fn spot_core(
    inst: &Inst,
    o: &Order,
    status: Status,
    executed: i64,
    cum_quote: i128,
) -> Map<String, Value> {
    let f = inst.fmt();
    let mut m = Map::new();
    m.insert("symbol".into(), json!(inst.spec.symbol));
    m.insert("orderId".into(), json!(o.id));
    m.insert("orderListId".into(), json!(-1));
    m.insert("clientOrderId".into(), json!(o.client_id));
    m.insert("price".into(), json!(f.px(o.price)));
    m.insert("origQty".into(), json!(f.qty(o.qty)));
    m.insert("executedQty".into(), json!(f.qty(executed)));
    m.insert("origQuoteOrderQty".into(), json!("0.00000000"));
    m.insert("cummulativeQuoteQty".into(), json!(amt(cum_quote)));
    m.insert("status".into(), json!(status.as_str()));
    m.insert("timeInForce".into(), json!(o.tif.as_str()));
    m.insert("type".into(), json!(o.typ.as_str()));
    m.insert("side".into(), json!(side(o.side)));
    m.insert("selfTradePreventionMode".into(), json!("NONE"));
    if status == Status::Expired {
        if let Some(e) = o.expiry {
            m.insert("expiryReason".into(), json!(spot_expiry(e)));
        }
    }
    m
}

/// Futures order fields (USDⓈ-M "New Order" / "Query Order"; COIN-M with `pair` and
/// `cumBase` instead of `cumQuote`).
fn futures_core(inst: &Inst, o: &Order, ack: bool) -> Map<String, Value> {
    let f = inst.fmt();
    let (status, executed, cum_quote, cum_base, avg) = if ack {
        (Status::New, 0, 0, 0, 0)
    } else {
        (
            o.status,
            o.executed,
            o.cum_quote,
            o.cum_base,
            avg_price(inst, o),
        )
    };
    let mut m = Map::new();
    m.insert("orderId".into(), json!(o.id));
    m.insert("symbol".into(), json!(inst.spec.symbol));
    m.insert("status".into(), json!(status.as_str()));
    m.insert("clientOrderId".into(), json!(o.client_id));
    m.insert("price".into(), json!(f.px(o.price)));
    m.insert("avgPrice".into(), json!(amt(avg)));
    m.insert("origQty".into(), json!(f.qty(o.qty)));
    m.insert("executedQty".into(), json!(f.qty(executed)));
    m.insert("cumQty".into(), json!(f.qty(executed)));
    if inst.market == MarketKind::Coinm {
        m.insert(
            "pair".into(),
            json!(inst.spec.symbol.split('_').next().unwrap_or("")),
        );
        m.insert("cumBase".into(), json!(amt(cum_base)));
    } else {
        m.insert("cumQuote".into(), json!(amt(cum_quote)));
        m.insert("goodTillDate".into(), json!(0));
    }
    m.insert("timeInForce".into(), json!(o.tif.as_str()));
    m.insert("type".into(), json!(o.typ.as_str()));
    m.insert("origType".into(), json!(o.typ.as_str()));
    m.insert("reduceOnly".into(), json!(o.reduce_only));
    m.insert("closePosition".into(), json!(false));
    m.insert("side".into(), json!(side(o.side)));
    m.insert("positionSide".into(), json!("BOTH"));
    m.insert("stopPrice".into(), json!("0"));
    m.insert("workingType".into(), json!("CONTRACT_PRICE"));
    m.insert("priceProtect".into(), json!(false));
    m.insert("priceMatch".into(), json!("NONE"));
    m.insert("selfTradePreventionMode".into(), json!("NONE"));
    m.insert("updateTime".into(), json!(o.update_ms));
    m
}

/// The answer to `POST .../order`. `stream_only`: the fault that answers NEW with nothing
/// executed whatever happened (spot: the RESULT shape; futures: the ACK state).
pub(super) fn order_placed(
    inst: &Inst,
    o: &Order,
    resp: RespType,
    stream_only: bool,
    now: u64,
) -> Value {
    if inst.market != MarketKind::Spot {
        // rest-api "New Order": ACK (default) answers the order as accepted (NEW)
        return Value::Object(futures_core(inst, o, resp == RespType::Ack || stream_only));
    }
    // rest-api.md "New order (TRADE)": Response ACK / RESULT / FULL
    if resp == RespType::Ack {
        return json!({
            "symbol": inst.spec.symbol,
            "orderId": o.id,
            "orderListId": -1,
            "clientOrderId": o.client_id,
            "transactTime": now,
        });
    }
    let mut m = if stream_only {
        spot_core(inst, o, Status::New, 0, 0)
    } else {
        spot_core(inst, o, o.status, o.executed, o.cum_quote)
    };
    m.insert("transactTime".into(), json!(now));
    m.insert("workingTime".into(), json!(o.time_ms));
    if resp == RespType::Full {
        let f = inst.fmt();
        let fills: Vec<Value> = if stream_only {
            Vec::new()
        } else {
            o.fills
                .iter()
                .map(|x| {
                    json!({
                        "price": f.px(x.px),
                        "qty": f.qty(x.qty),
                        "commission": amt(x.fee),
                        "commissionAsset": x.fee_asset,
                        "tradeId": x.trade_id,
                    })
                })
                .collect()
        };
        m.insert("fills".into(), Value::Array(fills));
    }
    Value::Object(m)
}

/// The answer to `GET .../order` and the entries of `GET .../openOrders`.
pub(super) fn order_query(inst: &Inst, o: &Order) -> Value {
    if inst.market != MarketKind::Spot {
        let mut m = futures_core(inst, o, false);
        m.insert("time".into(), json!(o.time_ms));
        return Value::Object(m);
    }
    // rest-api.md "Query order (USER_DATA)"
    let mut m = spot_core(inst, o, o.status, o.executed, o.cum_quote);
    m.insert("stopPrice".into(), json!("0.00000000"));
    m.insert("icebergQty".into(), json!("0.00000000"));
    m.insert("time".into(), json!(o.time_ms));
    m.insert("updateTime".into(), json!(o.update_ms));
    m.insert("isWorking".into(), json!(is_working(o)));
    m.insert(
        "workingTime".into(),
        json!(if is_working(o) { o.time_ms as i64 } else { -1 }),
    );
    Value::Object(m)
}

/// The answer to `DELETE .../order`.
pub(super) fn order_canceled(inst: &Inst, o: &Order, cancel_id: &str, now: u64) -> Value {
    if inst.market != MarketKind::Spot {
        return Value::Object(futures_core(inst, o, false));
    }
    // rest-api.md "Cancel order (TRADE)"
    let mut m = spot_core(inst, o, o.status, o.executed, o.cum_quote);
    m.insert("origClientOrderId".into(), json!(o.client_id));
    m.insert("clientOrderId".into(), json!(cancel_id));
    m.insert("transactTime".into(), json!(now));
    Value::Object(m)
}

/// Spot `executionReport` (user-data-stream.md "Order Update"), as a listenKey stream sends
/// it (the event itself, not wrapped in `subscriptionId`).
pub(super) fn execution_report(
    inst: &Inst,
    o: &Order,
    exec: &str,
    fill: Option<&FillRec>,
    cancel_id: Option<&str>,
    exec_id: u64,
    now: u64,
) -> Value {
    let f = inst.fmt();
    let (l, lp, n, na, t, maker, y) = match fill {
        Some(x) => (
            x.qty,
            x.px,
            amt(x.fee),
            json!(x.fee_asset),
            x.trade_id as i64,
            x.maker,
            inst.quote_of(x.qty, x.px),
        ),
        None => (0, 0, "0".to_string(), Value::Null, -1, false, 0),
    };
    let mut m = Map::new();
    m.insert("e".into(), json!("executionReport"));
    m.insert("E".into(), json!(now));
    m.insert("s".into(), json!(inst.spec.symbol));
    m.insert("c".into(), json!(cancel_id.unwrap_or(&o.client_id)));
    m.insert("S".into(), json!(side(o.side)));
    m.insert("o".into(), json!(o.typ.as_str()));
    m.insert("f".into(), json!(o.tif.as_str()));
    m.insert("q".into(), json!(f.qty(o.qty)));
    m.insert("p".into(), json!(f.px(o.price)));
    m.insert("P".into(), json!("0.00000000"));
    m.insert("F".into(), json!("0.00000000"));
    m.insert("g".into(), json!(-1));
    m.insert(
        "C".into(),
        json!(if cancel_id.is_some() {
            o.client_id.as_str()
        } else {
            ""
        }),
    );
    m.insert("x".into(), json!(exec));
    m.insert("X".into(), json!(o.status.as_str()));
    m.insert("r".into(), json!("NONE"));
    m.insert("i".into(), json!(o.id));
    m.insert("l".into(), json!(f.qty(l)));
    m.insert("z".into(), json!(f.qty(o.executed)));
    m.insert("L".into(), json!(f.px(lp)));
    m.insert("n".into(), json!(n));
    m.insert("N".into(), na);
    m.insert("T".into(), json!(now));
    m.insert("t".into(), json!(t));
    m.insert("I".into(), json!(exec_id));
    m.insert("w".into(), json!(o.status.is_open() && is_working(o)));
    m.insert("m".into(), json!(maker));
    m.insert("M".into(), json!(false));
    m.insert("O".into(), json!(o.time_ms));
    m.insert("Z".into(), json!(amt(o.cum_quote)));
    m.insert("Y".into(), json!(amt(y)));
    m.insert("Q".into(), json!("0.00000000"));
    if is_working(o) {
        m.insert("W".into(), json!(o.time_ms));
    }
    m.insert("V".into(), json!("NONE"));
    if o.status == Status::Expired {
        if let Some(e) = o.expiry {
            m.insert("eR".into(), json!(spot_expiry(e)));
        }
    }
    Value::Object(m)
}

/// Futures `ORDER_TRADE_UPDATE` (USDⓈ-M / COIN-M "Event: Order Update").
pub(super) fn order_trade_update(
    inst: &Inst,
    o: &Order,
    exec: &str,
    fill: Option<&FillRec>,
    now: u64,
) -> Value {
    let f = inst.fmt();
    let mut e = Map::new();
    e.insert("s".into(), json!(inst.spec.symbol));
    e.insert("c".into(), json!(o.client_id));
    e.insert("S".into(), json!(side(o.side)));
    e.insert("o".into(), json!(o.typ.as_str()));
    e.insert("f".into(), json!(o.tif.as_str()));
    e.insert("q".into(), json!(f.qty(o.qty)));
    e.insert("p".into(), json!(f.px(o.price)));
    e.insert("ap".into(), json!(amt(avg_price(inst, o))));
    e.insert("sp".into(), json!("0"));
    e.insert("x".into(), json!(exec));
    e.insert("X".into(), json!(o.status.as_str()));
    e.insert("i".into(), json!(o.id));
    e.insert("l".into(), json!(f.qty(fill.map(|x| x.qty).unwrap_or(0))));
    e.insert("z".into(), json!(f.qty(o.executed)));
    e.insert("L".into(), json!(f.px(fill.map(|x| x.px).unwrap_or(0))));
    if inst.market == MarketKind::Coinm {
        e.insert("ma".into(), json!(inst.margin_asset()));
    }
    if let Some(x) = fill {
        e.insert("N".into(), json!(x.fee_asset));
        e.insert("n".into(), json!(amt(x.fee)));
    }
    e.insert("T".into(), json!(now));
    e.insert("t".into(), json!(fill.map(|x| x.trade_id).unwrap_or(0)));
    e.insert("b".into(), json!("0"));
    e.insert("a".into(), json!("0"));
    e.insert("m".into(), json!(fill.is_some_and(|x| x.maker)));
    e.insert("R".into(), json!(o.reduce_only));
    e.insert("wt".into(), json!("CONTRACT_PRICE"));
    e.insert("ot".into(), json!(o.typ.as_str()));
    e.insert("ps".into(), json!("BOTH"));
    e.insert("cp".into(), json!(false));
    e.insert(
        "rp".into(),
        json!(amt(fill.map(|x| x.realized).unwrap_or(0))),
    );
    e.insert("pP".into(), json!(false));
    e.insert("si".into(), json!(0));
    e.insert("ss".into(), json!(0));
    e.insert("V".into(), json!("NONE"));
    e.insert("pm".into(), json!("NONE"));
    e.insert("gtd".into(), json!(0));
    e.insert(
        "er".into(),
        json!(if o.status == Status::Expired {
            futures_expiry(o.expiry)
        } else {
            "0"
        }),
    );
    let mut m = Map::new();
    m.insert("e".into(), json!("ORDER_TRADE_UPDATE"));
    m.insert("E".into(), json!(now));
    m.insert("T".into(), json!(now));
    if inst.market == MarketKind::Coinm {
        m.insert("i".into(), json!(format!("lb{}", o.account)));
    }
    m.insert("o".into(), Value::Object(e));
    Value::Object(m)
}

/// Spot `outboundAccountPosition` for `assets`.
pub(super) fn outbound_account_position(a: &Acct, assets: &[String], now: u64) -> Value {
    let mut seen: Vec<&String> = Vec::new();
    let mut b = Vec::new();
    for asset in assets {
        if seen.contains(&asset) {
            continue;
        }
        seen.push(asset);
        let x = a.bal.get(asset).copied().unwrap_or_default();
        b.push(json!({"a": asset, "f": amt(x.free), "l": amt(x.locked)}));
    }
    json!({"e": "outboundAccountPosition", "E": now, "u": a.update_ms, "B": b})
}

fn position_entry(inst: &Inst, pos: &Pos, mark: i64) -> Value {
    let f = inst.fmt();
    json!({
        "s": inst.spec.symbol,
        "pa": f.qty(pos.amt.clamp(i64::MIN as i128, i64::MAX as i128) as i64),
        "ep": amt(pos.entry(inst)),
        "bep": amt(pos.entry(inst)),
        "cr": amt(pos.realized),
        "up": amt(unrealized(inst, pos, mark)),
        "mt": "cross",
        "iw": "0",
        "ps": "BOTH",
    })
}

/// Futures `ACCOUNT_UPDATE` after a trade (reason `ORDER`): the margin asset's wallet and the
/// traded symbol's position.
#[allow(clippy::too_many_arguments)]
pub(super) fn account_update(
    m: MarketKind,
    a: &Acct,
    assets: &[String],
    inst: &Inst,
    pos: &Pos,
    mark: i64,
    account: usize,
    now: u64,
) -> Value {
    let b: Vec<Value> = assets
        .iter()
        .map(|asset| {
            let w = a.bal.get(asset).map(|x| x.free).unwrap_or(0);
            json!({"a": asset, "wb": amt(w), "cw": amt(w), "bc": "0"})
        })
        .collect();
    let mut out = Map::new();
    out.insert("e".into(), json!("ACCOUNT_UPDATE"));
    out.insert("E".into(), json!(now));
    out.insert("T".into(), json!(now));
    if m == MarketKind::Coinm {
        out.insert("i".into(), json!(format!("lb{account}")));
    }
    out.insert(
        "a".into(),
        json!({"m": "ORDER", "B": b, "P": [position_entry(inst, pos, mark)]}),
    );
    Value::Object(out)
}

fn rate_str(e10: i128) -> String {
    dec(e10 / 100, 8)
}

/// `GET /api/v3/account` (rest-api.md "Account information (USER_DATA)").
pub(super) fn spot_account(a: &Acct, taker_e10: i128, maker_e10: i128, now: u64) -> Value {
    let balances: Vec<Value> = a
        .bal
        .iter()
        .map(|(k, b)| json!({"asset": k, "free": amt(b.free), "locked": amt(b.locked)}))
        .collect();
    json!({
        "makerCommission": maker_e10 / 1_000_000,
        "takerCommission": taker_e10 / 1_000_000,
        "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {
            "maker": rate_str(maker_e10),
            "taker": rate_str(taker_e10),
            "buyer": "0.00000000",
            "seller": "0.00000000",
        },
        "canTrade": true,
        "canWithdraw": true,
        "canDeposit": true,
        "brokered": false,
        "requireSelfTradePrevention": false,
        "preventSor": false,
        "updateTime": if a.update_ms > 0 { a.update_ms } else { now },
        "accountType": "SPOT",
        "balances": balances,
        "permissions": ["SPOT"],
        "uid": 0,
    })
}

/// One row of a futures account: the instrument, its position, its mark price.
pub(super) type PosRow<'a> = (&'a Inst, Pos, i64);

/// `GET /fapi/v2/account` (or `v3`: fewer fields, positions only where non-zero) and
/// `GET /dapi/v1/account`. `margins`: (position margin, open-order margin) by asset.
pub(super) fn futures_account(
    m: MarketKind,
    a: &Acct,
    rows: &[PosRow<'_>],
    margins: &BTreeMap<String, (i128, i128)>,
    leverage: f64,
    v3: bool,
) -> Value {
    let mut upnl: BTreeMap<String, i128> = BTreeMap::new();
    for (inst, pos, mark) in rows {
        *upnl.entry(inst.margin_asset().to_string()).or_default() += unrealized(inst, pos, *mark);
    }
    let lev = format!("{}", leverage.round() as i64);
    let mut assets = Vec::new();
    let (mut tw, mut tu, mut tpm, mut tom) = (0i128, 0i128, 0i128, 0i128);
    for (asset, b) in &a.bal {
        let w = b.free;
        let u = upnl.get(asset).copied().unwrap_or(0);
        let (pm, om) = margins.get(asset).copied().unwrap_or((0, 0));
        let avail = w + u - pm - om;
        tw += w;
        tu += u;
        tpm += pm;
        tom += om;
        let mut x = Map::new();
        x.insert("asset".into(), json!(asset));
        x.insert("walletBalance".into(), json!(amt(w)));
        x.insert("unrealizedProfit".into(), json!(amt(u)));
        x.insert("marginBalance".into(), json!(amt(w + u)));
        x.insert("maintMargin".into(), json!(amt(0)));
        x.insert("initialMargin".into(), json!(amt(pm + om)));
        x.insert("positionInitialMargin".into(), json!(amt(pm)));
        x.insert("openOrderInitialMargin".into(), json!(amt(om)));
        x.insert("crossWalletBalance".into(), json!(amt(w)));
        x.insert("crossUnPnl".into(), json!(amt(u)));
        x.insert("availableBalance".into(), json!(amt(avail)));
        x.insert("maxWithdrawAmount".into(), json!(amt(avail.min(w))));
        if m == MarketKind::Usdm && !v3 {
            x.insert("marginAvailable".into(), json!(true));
        }
        x.insert("updateTime".into(), json!(a.update_ms));
        assets.push(Value::Object(x));
    }
    let positions: Vec<Value> = rows
        .iter()
        .filter(|(_, p, _)| !v3 || p.amt != 0)
        .map(|(inst, p, mark)| {
            let f = inst.fmt();
            let pa = f.qty(p.amt.clamp(i64::MIN as i128, i64::MAX as i128) as i64);
            let u = unrealized(inst, p, *mark);
            let notional = if *mark > 0 {
                let q = p.amt.unsigned_abs().min(i64::MAX as u128) as i64;
                let v = inst.margin_value(q, *mark);
                if p.amt < 0 {
                    -v
                } else {
                    v
                }
            } else {
                0
            };
            let basis = inst.basis_e8(p.basis.abs());
            let pm = if leverage >= 1.0 {
                (basis as f64 / leverage) as i128
            } else {
                basis
            };
            let mut x = Map::new();
            x.insert("symbol".into(), json!(inst.spec.symbol));
            x.insert("positionSide".into(), json!("BOTH"));
            x.insert("positionAmt".into(), json!(pa));
            x.insert("unrealizedProfit".into(), json!(amt(u)));
            x.insert("initialMargin".into(), json!(amt(pm)));
            x.insert("maintMargin".into(), json!("0"));
            x.insert("updateTime".into(), json!(p.update_ms));
            if v3 {
                x.insert("isolatedMargin".into(), json!("0.00000000"));
                x.insert("notional".into(), json!(amt(notional)));
                x.insert("isolatedWallet".into(), json!("0"));
            } else {
                x.insert("positionInitialMargin".into(), json!(amt(pm)));
                x.insert("openOrderInitialMargin".into(), json!("0"));
                x.insert("leverage".into(), json!(lev));
                x.insert("isolated".into(), json!(false));
                x.insert("entryPrice".into(), json!(amt(p.entry(inst))));
                x.insert("breakEvenPrice".into(), json!(amt(p.entry(inst))));
                if m == MarketKind::Coinm {
                    x.insert("maxQty".into(), json!("1000000"));
                    x.insert("notionalValue".into(), json!(amt(notional)));
                } else {
                    x.insert("maxNotional".into(), json!("1000000000"));
                    x.insert("bidNotional".into(), json!("0"));
                    x.insert("askNotional".into(), json!("0"));
                }
            }
            Value::Object(x)
        })
        .collect();
    let mut out = Map::new();
    if m == MarketKind::Usdm {
        if !v3 {
            out.insert("feeTier".into(), json!(0));
            out.insert("canTrade".into(), json!(true));
            out.insert("canDeposit".into(), json!(true));
            out.insert("canWithdraw".into(), json!(true));
            out.insert("updateTime".into(), json!(0));
            out.insert("multiAssetsMargin".into(), json!(false));
            out.insert("tradeGroupId".into(), json!(-1));
        }
        out.insert("totalInitialMargin".into(), json!(amt(tpm + tom)));
        out.insert("totalMaintMargin".into(), json!(amt(0)));
        out.insert("totalWalletBalance".into(), json!(amt(tw)));
        out.insert("totalUnrealizedProfit".into(), json!(amt(tu)));
        out.insert("totalMarginBalance".into(), json!(amt(tw + tu)));
        out.insert("totalPositionInitialMargin".into(), json!(amt(tpm)));
        out.insert("totalOpenOrderInitialMargin".into(), json!(amt(tom)));
        out.insert("totalCrossWalletBalance".into(), json!(amt(tw)));
        out.insert("totalCrossUnPnl".into(), json!(amt(tu)));
        let avail = tw + tu - tpm - tom;
        out.insert("availableBalance".into(), json!(amt(avail)));
        out.insert("maxWithdrawAmount".into(), json!(amt(avail.min(tw))));
    } else {
        out.insert("canDeposit".into(), json!(true));
        out.insert("canTrade".into(), json!(true));
        out.insert("canWithdraw".into(), json!(true));
        out.insert("feeTier".into(), json!(0));
        out.insert("updateTime".into(), json!(0));
    }
    out.insert("assets".into(), Value::Array(assets));
    out.insert("positions".into(), Value::Array(positions));
    Value::Object(out)
}

/// One entry of `GET /fapi/v2/positionRisk` / `GET /dapi/v1/positionRisk`.
pub(super) fn position_risk(inst: &Inst, p: &Pos, mark: i64, leverage: f64) -> Value {
    let f = inst.fmt();
    let q = p.amt.unsigned_abs().min(i64::MAX as u128) as i64;
    let mut notional = if mark > 0 {
        inst.margin_value(q, mark)
    } else {
        0
    };
    if p.amt < 0 {
        notional = -notional;
    }
    let mut x = Map::new();
    x.insert("symbol".into(), json!(inst.spec.symbol));
    x.insert(
        "positionAmt".into(),
        json!(f.qty(p.amt.clamp(i64::MIN as i128, i64::MAX as i128) as i64)),
    );
    x.insert("entryPrice".into(), json!(amt(p.entry(inst))));
    x.insert("breakEvenPrice".into(), json!(amt(p.entry(inst))));
    x.insert("markPrice".into(), json!(amt(mark as i128)));
    x.insert(
        "unRealizedProfit".into(),
        json!(amt(unrealized(inst, p, mark))),
    );
    x.insert("liquidationPrice".into(), json!("0"));
    x.insert(
        "leverage".into(),
        json!(format!("{}", leverage.round() as i64)),
    );
    x.insert("marginType".into(), json!("cross"));
    x.insert("isolatedMargin".into(), json!("0.00000000"));
    x.insert("isAutoAddMargin".into(), json!("false"));
    x.insert("positionSide".into(), json!("BOTH"));
    x.insert("isolatedWallet".into(), json!("0"));
    x.insert("updateTime".into(), json!(p.update_ms));
    if inst.market == MarketKind::Coinm {
        x.insert("maxQty".into(), json!("1000000"));
        x.insert("notionalValue".into(), json!(amt(notional)));
    } else {
        x.insert("maxNotionalValue".into(), json!("1000000000"));
        x.insert("notional".into(), json!(amt(notional)));
    }
    Value::Object(x)
}

fn rate_limits(m: MarketKind, l: &RateLimits) -> Vec<Value> {
    let mut v = Vec::new();
    let mut add = |t: &str, interval: &str, n: u32, limit: u32| {
        if limit > 0 {
            v.push(
                json!({"rateLimitType": t, "interval": interval, "intervalNum": n, "limit": limit}),
            );
        }
    };
    add("REQUEST_WEIGHT", "MINUTE", 1, l.weight_per_minute);
    add("ORDERS", "SECOND", 10, l.orders_per_10s);
    add("ORDERS", "MINUTE", 1, l.orders_per_minute);
    if m == MarketKind::Spot {
        add("ORDERS", "DAY", 1, l.orders_per_day);
    }
    v
}

/// `GET /api/v3/exchangeInfo`, `/fapi/v1/exchangeInfo`, `/dapi/v1/exchangeInfo` for the served
/// symbols, with the PRICE_FILTER / LOT_SIZE / (MIN_)NOTIONAL filters of their specs.
pub(super) fn exchange_info(
    m: MarketKind,
    insts: &[&Inst],
    limits: &RateLimits,
    now: u64,
) -> Value {
    let symbols: Vec<Value> = insts
        .iter()
        .map(|i| {
            let s = &i.spec;
            let f = i.fmt();
            let (pd, qd) = match m {
                MarketKind::Spot => (8, 8),
                _ => (f.price_prec, f.qty_prec),
            };
            let px = |v: i64| dec(v as i128, pd);
            let q = |v: i64| dec(v as i128, qd);
            let max_qty = if s.max_qty.0 == i64::MAX {
                9_000_000_000 * E8 as i64
            } else {
                s.max_qty.0
            };
            let mut filters = vec![
                json!({"filterType": "PRICE_FILTER", "minPrice": px(s.tick_size.0), "maxPrice": px(super::exchange::MAX_PRICE), "tickSize": px(s.tick_size.0)}),
                json!({"filterType": "LOT_SIZE", "minQty": q(s.min_qty.0), "maxQty": q(max_qty), "stepSize": q(s.lot_size.0)}),
            ];
            match m {
                MarketKind::Spot => filters.push(json!({
                    "filterType": "NOTIONAL",
                    "minNotional": amt(s.min_notional.0 as i128),
                    "applyMinToMarket": true,
                    "maxNotional": "9000000.00000000",
                    "applyMaxToMarket": false,
                    "avgPriceMins": 5,
                })),
                MarketKind::Usdm => {
                    filters.push(json!({"filterType": "MIN_NOTIONAL", "notional": dec_trim(s.min_notional.0 as i128)}))
                }
                MarketKind::Coinm => {}
            }
            match m {
                MarketKind::Spot => json!({
                    "symbol": s.symbol,
                    "status": "TRADING",
                    "baseAsset": s.base,
                    "baseAssetPrecision": 8,
                    "quoteAsset": s.quote,
                    "quotePrecision": 8,
                    "quoteAssetPrecision": 8,
                    "baseCommissionPrecision": 8,
                    "quoteCommissionPrecision": 8,
                    "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
                    "icebergAllowed": false,
                    "ocoAllowed": false,
                    "otoAllowed": false,
                    "quoteOrderQtyMarketAllowed": false,
                    "allowTrailingStop": false,
                    "cancelReplaceAllowed": false,
                    "amendAllowed": false,
                    "isSpotTradingAllowed": true,
                    "isMarginTradingAllowed": false,
                    "filters": filters,
                    "permissions": [],
                    "permissionSets": [["SPOT"]],
                    "defaultSelfTradePreventionMode": "NONE",
                    "allowedSelfTradePreventionModes": ["NONE"],
                }),
                _ => {
                    let mut x = json!({
                        "symbol": s.symbol,
                        "pair": s.symbol.split('_').next().unwrap_or(""),
                        "contractType": "PERPETUAL",
                        "deliveryDate": 4133404800000u64,
                        "onboardDate": 1569398400000u64,
                        "status": "TRADING",
                        "baseAsset": s.base,
                        "quoteAsset": s.quote,
                        "marginAsset": i.margin_asset(),
                        "pricePrecision": f.price_prec,
                        "quantityPrecision": f.qty_prec,
                        "baseAssetPrecision": 8,
                        "quotePrecision": 8,
                        "filters": filters,
                        "orderTypes": ["LIMIT", "MARKET"],
                        "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
                    });
                    if m == MarketKind::Coinm {
                        // a JSON number, as Binance sends it
                        x["contractSize"] = json!(s.contract_size.0 / E8 as i64);
                        x["contractStatus"] = json!("TRADING");
                    }
                    x
                }
            }
        })
        .collect();
    let mut out = json!({
        "timezone": "UTC",
        "serverTime": now,
        "rateLimits": rate_limits(m, limits),
        "exchangeFilters": [],
        "symbols": symbols,
    });
    if m == MarketKind::Usdm {
        out["futuresType"] = json!("U_MARGINED");
    }
    out
}

/// `Side` in Binance's spelling, for the HTTP side.
pub(super) fn parse_side(s: &str) -> Option<Side> {
    match s {
        "BUY" => Some(Side::Buy),
        "SELL" => Some(Side::Sell),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_truncated_and_padded() {
        assert_eq!(dec(6_183_763_000_000, 8), "61837.63000000");
        assert_eq!(dec(6_183_763_000_000, 2), "61837.63");
        assert_eq!(dec(6_183_763_999_999, 1), "61837.6");
        assert_eq!(dec(-150_000_000, 3), "-1.500");
        assert_eq!(dec(-1, 2), "0.00");
        assert_eq!(dec(5, 0), "0");
        assert_eq!(dec_trim(100 * E8), "100");
        assert_eq!(dec_trim(100_000), "0.001");
        assert_eq!(dec_scaled(1, 2, 2), "0.01");
        assert_eq!(dec_scaled(12, 0, 3), "12.000");
    }
}
