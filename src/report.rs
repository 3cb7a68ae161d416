//! `report.json` and the human summary printed at exit (R6.2).
//!
//! Everything except `latency_ns` and `run` is a deterministic function of the config and the
//! data: two replays of the same files give byte-identical values there.
#![forbid(unsafe_code)]

use crate::config::Setup;
use crate::engine::RunResult;
use crate::feed::VenueCounters;
use crate::stats::LatencySummary;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Per-venue feed and book health.
#[derive(Clone, Debug, Serialize)]
pub struct VenueReport {
    /// Raw messages (every recorded line, snapshot included).
    pub messages: u64,
    /// Best bid/offer updates.
    pub bbo_updates: u64,
    /// Depth diff messages.
    pub depth_updates: u64,
    /// Public trades.
    pub trades: u64,
    /// REST snapshots received.
    pub snapshots: u64,
    /// Snapshots that synced a book.
    pub syncs: u64,
    /// Resyncs after a gap / invalidation.
    pub resyncs: u64,
    /// Sequence gaps.
    pub gaps: u64,
    /// Times a book turned invalid (gap, failed validation, checksum, disconnect).
    pub invalid_book_events: u64,
    /// Commits that failed validation.
    pub failed_validations: u64,
    /// Unparseable messages (counted and skipped).
    pub parse_errors: u64,
    /// Well-formed messages not used.
    pub unknown_messages: u64,
    /// Diffs older than the book, dropped (normal right after a sync).
    pub stale_diffs: u64,
    /// Diffs buffered while waiting for the snapshot.
    pub buffered_diffs: u64,
    /// Buffered diffs discarded because the buffer was full.
    pub buffer_dropped: u64,
    /// Snapshots not used.
    pub snapshots_rejected: u64,
    /// Checksums verified / mismatched.
    pub checksums_ok: u64,
    /// Checksum mismatches.
    pub checksum_mismatches: u64,
    /// Times the feed → detection ring was full (the feed waited).
    pub ring_full: u64,
    /// Live: reconnects after detection held the feed thread up (`threads.stall_resync_ns`).
    pub stall_reconnects: u64,
    /// Events produced.
    pub events: u64,
    /// Disconnects.
    pub disconnects: u64,
    /// Reconnects.
    pub reconnects: u64,
    /// Books invalidated because no update came within `risk.hard_stale_after_ns` (R1.3).
    pub hard_stale: u64,
    /// `parse_errors` as a share of `messages`, percent.
    pub parse_error_share_pct: f64,
    /// The venue's data is bad ([`crate::health`]): it crossed `run.max_parse_error_share_pct`
    /// during the run (and was not traded from then on) or over the whole run.
    pub bad_data: bool,
    /// Why, with the likely cause (instrument and field), when `bad_data`.
    pub bad_data_error: Option<String>,
}

fn venue_report(
    setup: &Setup,
    v: crate::types::VenueId,
    c: &VenueCounters,
    h: &crate::book::BookHealth,
) -> VenueReport {
    let g = VenueCounters::get;
    let bad = crate::health::is_bad(setup, c);
    VenueReport {
        parse_error_share_pct: round(crate::health::share_pct(c), 4),
        bad_data: bad,
        bad_data_error: bad.then(|| crate::health::message(setup, v, c)),
        messages: g(&c.messages),
        bbo_updates: g(&c.bbo_updates),
        depth_updates: g(&c.depth_updates),
        trades: g(&c.trades),
        snapshots: g(&c.snapshots),
        syncs: g(&c.syncs),
        resyncs: g(&c.resyncs),
        gaps: g(&c.gaps),
        invalid_book_events: h.invalid_book_events,
        failed_validations: h.failed_validations,
        parse_errors: g(&c.parse_errors),
        unknown_messages: g(&c.unknown_messages),
        stale_diffs: g(&c.stale_diffs),
        buffered_diffs: g(&c.buffered_diffs),
        buffer_dropped: g(&c.buffer_dropped),
        snapshots_rejected: g(&c.snapshots_rejected),
        checksums_ok: h.checksums_ok,
        checksum_mismatches: h.checksum_mismatches,
        ring_full: g(&c.ring_full),
        stall_reconnects: g(&c.stall_reconnects),
        events: g(&c.events),
        disconnects: g(&c.disconnects),
        reconnects: g(&c.reconnects),
        hard_stale: h.hard_stale,
    }
}

fn round(x: f64, d: i32) -> f64 {
    let m = 10f64.powi(d);
    (x * m).round() / m
}

/// Build the report as JSON.
pub fn build(setup: &Setup, config_path: &str, r: &RunResult) -> Value {
    let mut venues = BTreeMap::new();
    for v in &setup.venues {
        venues.insert(
            v.name.clone(),
            serde_json::to_value(venue_report(
                setup,
                v.id,
                &r.counters[v.id.idx()],
                &r.det.market.health[v.id.idx()],
            ))
            .unwrap_or(Value::Null),
        );
    }
    let sp = &r.det.spatial;
    let mut pairs = Vec::new();
    for (gi, g) in sp.groups.iter().enumerate() {
        for (bk, b) in g.members.iter().enumerate() {
            for (sk, s) in g.members.iter().enumerate() {
                if bk == sk {
                    continue;
                }
                let st = &sp.pairs[sp.pair_idx(gi, bk, sk)];
                let (bs, ss) = (&setup.instruments[b.idx()], &setup.instruments[s.idx()]);
                let fees = sp.fee(bs.id).to_num::<f64>() + sp.fee(ss.id).to_num::<f64>();
                pairs.push(json!({
                    "asset": g.asset,
                    "buy_venue": bs.venue_name,
                    "sell_venue": ss.venue_name,
                    "buy_symbol": bs.symbol,
                    "sell_symbol": ss.symbol,
                    "max_gross_spread_bps": round(st.max_gross_spread_bps, 4),
                    "max_gross_at_ns": st.max_gross_at_ns,
                    "taker_fees_bps": round(fees, 4),
                    "max_net_spread_bps": round(st.max_net_spread_bps, 4),
                    "signals": st.signals,
                    "traded": st.traded,
                    "rejected": st.rejected,
                    "evaluations": st.evaluations,
                    "skipped": {
                        "below_min_net_spread": st.below_min_net_spread,
                        "below_min_profit": st.below_min_profit,
                        "below_min_depth": st.below_min_depth,
                        "below_min_order": st.below_min_order,
                        "low_confidence": st.low_confidence,
                        "stale_book": st.stale,
                        "invalid_book": st.invalid,
                        "cooldown": st.cooldown,
                        "no_balance": st.no_balance,
                    },
                }));
            }
        }
    }
    let t = &r.det.trades;
    let e8 = |x: i64| round(x as f64 / 1e8, 6);
    let mut by_reason = BTreeMap::new();
    for s in 0..r.det.signal_status.len() {
        let n = r.det.signal_status[s];
        if n > 0 {
            let st = crate::journal::SignalStatus::ALL[s];
            by_reason.insert(st.as_str().to_string(), n);
        }
    }
    let lat = |x: LatencySummary| serde_json::to_value(x).unwrap_or(Value::Null);
    let l = &r.det.lat;
    let ex = &r.exec;
    let why = why_no_trades(setup, r);
    let balances: Vec<Value> = r
        .det
        .risk
        .balances()
        .into_iter()
        .map(|(v, a, total, reserved)| {
            json!({"venue": setup.venues[v].name, "asset": a, "total": total.to_f64(), "reserved": reserved.to_f64()})
        })
        .collect();
    let positions: Vec<Value> = r
        .det
        .risk
        .positions()
        .into_iter()
        .map(|(i, q)| {
            let s = &setup.instruments[i];
            json!({"venue": s.venue_name, "symbol": s.symbol, "qty": s.qty_f64(crate::types::Qty(q))})
        })
        .collect();
    let fees = setup.taker_fees_by_instrument();
    let mk = r.det.pnl.mark(&r.det.market, &fees);
    let open: Vec<Value> = mk
        .open
        .iter()
        .map(|o| {
            let sp = &setup.instruments[o.instrument.idx()];
            json!({
                "venue": sp.venue_name,
                "symbol": sp.symbol,
                "kind": sp.kind.as_str(),
                "asset": sp.base,
                "base_qty": e8(o.base),
                "position_qty": sp.qty_f64(crate::types::Qty(o.qty)),
                "quote_flow": e8(o.quote),
                "quote_asset": sp.quote,
                "mark_price": if o.mid_x2.0 > 0 { json!(sp.px_f64(o.mid_x2) / 2.0) } else { Value::Null },
                "value_usd": e8(o.value_usd),
                "flatten_cost_usd": e8(o.flatten_cost_usd),
                "unfilled_base_qty": e8(o.unfilled_base),
            })
        })
        .collect();
    let sim = &r.det.sim;
    let pnl = json!({
        "mark_to_market_usd": e8(mk.mark_to_market_usd),
        "liquidation_usd": e8(mk.liquidation_usd),
        "flatten_cost_usd": e8(mk.flatten_cost_usd),
        "trades_net_usd": e8(mk.trades_net_usd),
        "open_inventory": open,
        "trades_marked": mk.marked_trades,
        "winners_marked": mk.winners,
        "model": "mark_to_market_usd = every fill's quote flow and fee plus each instrument's net base change valued at that instrument's final mid (inverse contracts included: the same rule gives their USD PnL at the mark); flatten_cost_usd = taker fees plus the walk through the final books to close that inventory; liquidation_usd = mark_to_market_usd - flatten_cost_usd; trades_net_usd = the sum of each trade's own net (its residual marked at its last fill), kept for comparison: it ignores the basis the open inventory still carries",
        "trust": "liquidation_usd: what the run would have made had it closed everything at the end",
    });
    json!({
        "mode": setup.cfg.mode.as_str(),
        "config": config_path,
        "data": {
            "files": r.files,
            "messages_applied": r.det.messages,
            "merge_skips": r.det.merge_skips,
            "loops": r.loops,
        },
        "venues": venues,
        "pairs": pairs,
        "signals": {
            "total": r.det.signal_status.iter().sum::<u64>(),
            "by_status": by_reason,
        },
        "trades": {
            "attempted": t.attempted,
            "filled": t.filled,
            "partial": t.partial,
            "one_leg": t.one_leg,
            "missed": t.missed,
            "unwinds": ex.stats.unwinds,
            "winners": mk.winners,
            "win_rate": if mk.marked_trades > 0 { round(mk.winners as f64 / mk.marked_trades as f64, 4) } else { 0.0 },
            "win_rate_basis": "a trade wins when its own fills and fees, with the base they leave valued at the final mids, are > 0",
            "gross_pnl_usd": e8(t.gross_pnl_usd),
            "fees_usd": e8(t.fees_usd),
            "net_pnl_usd": e8(t.net_pnl_usd),
            "avg_net_pnl_usd": if t.attempted > 0 { e8(t.net_pnl_usd / t.attempted as i64) } else { 0.0 },
            "volume_usd": e8(t.volume_usd),
            "residual_base_abs": e8(t.residual_base_abs),
        },
        "pnl": pnl,
        "backtest": crate::ops::metrics::report(
            &r.logger.curve,
            &setup.venues.iter().map(|v| v.name.clone()).collect::<Vec<_>>(),
            setup.cfg.run.pnl_curve_interval_ns,
        ),
        "alerts": r.logger.alerts,
        "live": live_json(setup, r),
        "simulator": if setup.cfg.mode == crate::config::Mode::Live { json!({"used": false, "note": "live: orders went to the venues, nothing was simulated"}) } else { json!({
            "latency_model": "an order sent at t reaches its venue at t + order_latency_ns and is matched against the book received at t + order_latency_ns + feed_latency_ns (the venue as it was on arrival); its result is known at t + 2 x order_latency_ns",
            "orders_filled": sim.filled,
            "orders_no_book": sim.no_book,
            "orders_cancelled_at_window": sim.window_cancelled,
            "orders_cancelled_by_stop": sim.stop_cancelled,
            "own_liquidity": {
                "orders_bound": sim.consumed.bound_orders,
                "base_not_taken_twice": e8(sim.consumed.bound_base),
                "levels_refreshed_by_venue": sim.consumed.refreshed,
                "levels_forgotten_when_full": sim.consumed.evicted,
                "rule": "liquidity our orders took at a price stays taken until the venue's book shows another quantity at that price",
            },
        })},
        "why_no_trades": why,
        "net": net_json(setup, r),
        "premium": premium_report(setup, r),
        "triangles": crate::detect::triangular::report(setup, r.det.strategies.triangular.as_ref()),
        "stat": crate::detect::stat::report(setup, r.det.strategies.stat.as_ref(), &r.det.market),
        "risk": {
            "balances": balances,
            "positions": positions,
            "in_flight_at_end": r.det.risk.in_flight(),
            "limits": limits_report(setup, r),
        },
        "inventory": crate::risk::inventory::report(setup, &r.det.risk, r.logger.reconciliation.as_ref()),
        "rebalance": crate::rebalance::report(setup, r),
        "recorder": r.recorder,
        "stop": {
            "stopped_by": r.det.stopped.map(|c| c.as_str()),
            "halted_during_catch_up": r.det.halted.map(|c| c.as_str()),
            "at_msg_seq": r.det.stopped.and_then(|_| r.det.risk.limits.transitions.iter().rev().find(|t| t.to == crate::risk::limits::BreakerState::Stopped)).map(|t| t.msg_seq),
            "orders_cancelled": sim.stop_cancelled,
            "cancels_requested": ex.stats.cancels_requested,
            "rule": "a kill (file or SIGUSR1) or a clean stop (SIGTERM/SIGINT) cancels every open order through the execution step, approves nothing more (unwinds included), lets the trades in flight finish with what they have, flushes the journals and writes this report",
        },
        "resume": r.resume,
        "health": {
            "journal_dropped": r.det.journal_dropped + ex.stats.journal_dropped,
            "exec_ring_full": r.det.exec_ring_full + ex.stats.ring_full,
            "sim_orders_no_book": sim.no_book,
            "resync_requests_not_delivered": r.det.resync_dropped,
            "messages_with_opportunity_overflow": r.det.opps_overflow,
            "log_io_errors": r.logger.io_errors,
        },
        "latency_ns": {
            "tick_to_signal": lat(l.tick_to_signal.summary()),
            "tick_to_order": lat(ex.tick_to_order.summary()),
            "tick_to_detect": lat(l.tick_to_detect.summary()),
            "feed_parse": lat(l.feed.summary()),
            "md_queue": lat(l.md_queue.summary()),
            "intent_queue": lat(ex.intent_hop.summary()),
            // live, the stage includes the write to the socket: named so
            if setup.cfg.mode == crate::config::Mode::Live { "order_encode_sign_write" } else { "order_encode" }: lat(ex.encode.summary()),
            "tick_to_wire": lat(ex.tick_to_wire.summary()),
        },
        "run": {
            "wall_s": round(r.wall_ns as f64 / 1e9, 3),
            "log": r.logger,
            "wait": setup.cfg.threads.wait.as_str(),
            "threads": r.pinned.iter().map(|(n, c, ok)| json!({"name": n, "core": c, "pinned": ok})).collect::<Vec<_>>(),
            "cores_available": crate::affinity::available_cores().len(),
        },
    })
}

/// The loss limits, breaker, trade rate and guards (R4.2–R4.4): settings, what they did, and
/// where each refusal reason first appeared.
fn limits_report(setup: &Setup, r: &RunResult) -> Value {
    let l = &r.det.risk.limits;
    let c = &setup.cfg.risk;
    let e8 = |x: i64| round(x as f64 / 1e8, 6);
    let transitions: Vec<Value> = l
        .transitions
        .iter()
        .map(crate::journals::breaker_line)
        .collect();
    let mut first = serde_json::Map::new();
    for (k, st) in crate::journal::SignalStatus::ALL.iter().enumerate() {
        if r.det.signal_status[k] > 0 && *st != crate::journal::SignalStatus::Traded {
            let (t, m) = r.det.signal_first[k];
            first.insert(
                st.as_str().to_string(),
                json!({"count": r.det.signal_status[k], "first_data_ns": t, "first_msg_seq": m}),
            );
        }
    }
    let now = r.det.market.now_ns;
    let (hour, day) = l.rate.counts(now);
    json!({
        "settings": {
            "equity_usd": if c.equity_usd > 0.0 { json!(c.equity_usd) } else { json!("configured balances at the first mids") },
            "max_daily_loss_usd": c.max_daily_loss_usd,
            "max_daily_loss_pct": c.max_daily_loss_pct,
            "max_drawdown_pct": c.max_drawdown_pct,
            "max_consecutive_losses": c.max_consecutive_losses,
            "breaker_cooldown_ns": c.breaker_cooldown_ns,
            "breaker_probe_trades": c.breaker_probe_trades,
            "mark_interval_ns": c.mark_interval_ns,
            "max_trades_per_hour": c.max_trades_per_hour,
            "max_trades_per_day": c.max_trades_per_day,
            "max_slippage_bps": c.max_slippage_bps,
            "max_price_deviation_pct": c.max_price_deviation_pct,
            "maintenance_windows": c.maintenance.len(),
        },
        "equity": {
            "start_usd": l.start_equity().map(e8),
            "last_mark_usd": e8(l.equity_e8),
            "high_water_usd": e8(l.hwm_e8),
            "max_drawdown_pct": l.max_drawdown_ppm as f64 / 10_000.0,
            "daily_loss_limit_usd": e8(l.daily_limit_e8()),
            "marks": l.marks,
            "model": "starting capital + mark-to-market PnL (every fill's cash flows and fees plus the open inventory at the books' mids), re-marked every mark_interval_ns of data time and at every trade completion",
        },
        "breaker": {
            "state_at_end": l.state.as_str(),
            "trips": l.trips,
            "transitions": transitions,
            "transitions_not_kept": l.transitions_not_kept,
        },
        "rate": { "approved_last_hour_at_end": hour, "approved_today_at_end": day },
        "refusals": first,
    })
}

/// Live mode: per venue, the order-entry counters, the rate budget and clock offset; the
/// end-of-run reconciliation (balance changes and positions on the venue against the
/// engine's own fills, orders left open). `null` in replay and paper.
fn live_json(setup: &Setup, r: &RunResult) -> Value {
    if setup.cfg.mode != crate::config::Mode::Live {
        return Value::Null;
    }
    let mut venues = serde_json::Map::new();
    for lv in r.exec.live_venues() {
        let name = setup.venues[lv.venue.idx()].name.clone();
        venues.insert(
            name,
            json!({
                "orders": lv.stats,
                "open_orders_at_end": lv.open_orders(),
                "rate": {
                    "used_weight_last": lv.rate.used_weight,
                    "weight_limit": lv.rate.weight_limit,
                    "answers_429": lv.rate.too_many,
                    "held_back": lv.rate.held_back,
                    "banned_418": lv.rate.banned,
                },
                "clock_offset_ms": lv.clock.offset_ms.load(std::sync::atomic::Ordering::Relaxed),
            }),
        );
    }
    let rec = r.reconciliation.as_ref();
    json!({
        "venues": venues,
        "orders_not_sent": r.exec.stats.not_sent,
        "reconciliation": rec.map(|x| json!({
            "ok": x.ok(),
            "rule": "per venue and asset, the balance change the venue reports over the run against the change the engine's own fills and fees make (futures margin assets: each side's change minus its open positions' cost basis, which does not depend on the order fills were realised in); positions against the engine's; no order of ours left open",
            "tolerance": x.tolerance,
            "rows": x.rows,
            "open_orders": x.open_orders.iter().map(|(v, o)| json!({"venue": v, "client_ids": o})).collect::<Vec<_>>(),
            "errors": x.errors,
        })),
        "fee_note": "each execution the venue reported (REST FULL fills, user-stream trades) books its own commission; quantity the venue reported only as a cumulative figure (futures RESULT answers, a stream message after missed ones) books the configured taker fee in the asset the venue charges (venues.<name>.orders.fees_estimated counts those orders); the reconciliation shows any difference",
    })
}

/// Per venue, the live-connection figures (paper/live): connects, disconnects by reason,
/// snapshots fetched, wire-to-event latency. `null` in replay.
fn net_json(setup: &Setup, r: &RunResult) -> Value {
    if r.net.is_empty() {
        return Value::Null;
    }
    let mut m = serde_json::Map::new();
    for v in &setup.venues {
        if let Some(n) = r.net.get(v.id.idx()) {
            m.insert(
                v.name.clone(),
                serde_json::to_value(n).unwrap_or(Value::Null),
            );
        }
    }
    json!({ "venues": m, "stopped_by_signal": r.stopped_by_signal })
}

/// The Korean premium section (R2.4): `null` when not configured. Percentages rounded to 6
/// decimals; times in ns since the epoch (data time).
fn premium_report(setup: &Setup, r: &RunResult) -> Value {
    let (Some(p), Some(ps)) = (r.det.premium.as_ref(), setup.premium.as_ref()) else {
        return Value::Null;
    };
    let pct = |b: crate::types::Bps| round(b.to_num::<f64>() / 100.0, 6);
    let at = |x: Option<(crate::types::Bps, u64)>| match x {
        Some((b, t)) => json!({"pct": pct(b), "at_ns": t}),
        None => Value::Null,
    };
    let name = |i: crate::types::InstrumentId| {
        let s = &setup.instruments[i.idx()];
        format!("{}:{}", s.venue_name, s.symbol)
    };
    let pairs: Vec<Value> = p
        .pairs
        .iter()
        .map(|pr| {
            let s = &pr.stats;
            json!({
                "krw": name(pr.krw),
                "usdt": name(pr.usdt),
                "evaluations": s.evaluations,
                "last": at(s.last),
                "max": at(s.max),
                "min": at(s.min),
                "outside_band": {
                    "episodes": s.episodes,
                    "evaluations_above": s.above_band,
                    "evaluations_below": s.below_band,
                    "first_at_ns": s.first_outside_ns,
                    "last_at_ns": s.last_outside_ns,
                    "time_outside_ns": s.outside_ns,
                },
                "skipped": { "no_rate": s.no_rate, "unusable_book": s.unusable_book },
            })
        })
        .collect();
    json!({
        "rate": ps.rate_label,
        "last_rate_krw_per_usdt": p.last_rate.map(|x| round(x.to_f64(), 8)),
        "band_pct": [pct(ps.band.0), pct(ps.band.1)],
        "max_age_ns": ps.max_age_ns,
        "trading": "report-only: premiums outside the band are reported, not traded",
        "pairs": pairs,
    })
}

/// When nothing traded: the best gross spread of each pair against the fees it must beat.
fn why_no_trades(setup: &Setup, r: &RunResult) -> Value {
    if r.det.trades.attempted > 0 {
        return Value::Null;
    }
    let sp = &r.det.spatial;
    if sp.groups.is_empty() {
        return why_no_strategy_trades(setup, r);
    }
    let min_net = setup.cfg.detection.min_net_spread_bps;
    let mut best: Option<(f64, String)> = None;
    for (gi, g) in sp.groups.iter().enumerate() {
        for (bk, b) in g.members.iter().enumerate() {
            for (sk, s) in g.members.iter().enumerate() {
                if bk == sk {
                    continue;
                }
                let st = &sp.pairs[sp.pair_idx(gi, bk, sk)];
                if st.evaluations == 0 {
                    continue;
                }
                let (bs, ss) = (&setup.instruments[b.idx()], &setup.instruments[s.idx()]);
                let fees = sp.fee(bs.id).to_num::<f64>() + sp.fee(ss.id).to_num::<f64>();
                let msg = format!(
                    "best pair: buy {} / sell {}: max gross spread {:.2} bps < taker fees {:.2} bps + minimum net spread {:.2} bps = {:.2} bps needed (best net {:.2} bps)",
                    bs.venue_name,
                    ss.venue_name,
                    st.max_gross_spread_bps,
                    fees,
                    min_net,
                    fees + min_net,
                    st.max_net_spread_bps
                );
                if best
                    .as_ref()
                    .is_none_or(|(x, _)| st.max_net_spread_bps > *x)
                {
                    best = Some((st.max_net_spread_bps, msg));
                }
            }
        }
    }
    match best {
        Some((net, msg)) if net < min_net => json!(msg),
        Some(_) => json!("spreads cleared fees at times, but no opportunity passed the profit/depth/size/confidence thresholds or the risk gate: see pairs[].skipped and signals.by_status"),
        None => json!("no pair had best bid/ask on both venues"),
    }
}

/// R2.2 / R2.3 runs without spatial groups: what the triangles and the pair saw.
fn why_no_strategy_trades(setup: &Setup, r: &RunResult) -> Value {
    let mut parts = Vec::new();
    if let (Some(t), Some(ts)) = (
        r.det.strategies.triangular.as_ref(),
        setup.triangular.as_ref(),
    ) {
        let best = t
            .defs
            .iter()
            .zip(&t.stats)
            .filter(|(_, s)| s.evaluations > 0)
            .max_by(|a, b| a.1.max_net_bps.total_cmp(&b.1.max_net_bps));
        match best {
            Some((d, s)) => parts.push(format!(
                "best cycle {}: max gross {:.2} bps, after the three taker fees {:.2} bps, against a minimum of {:.2} bps",
                d.assets.join("→"),
                s.max_gross_bps,
                s.max_net_bps,
                ts.cfg.min_profit_bps
            )),
            None => parts.push("no cycle had a best bid/ask on all three books".to_string()),
        }
    }
    if let Some(st) = r.det.strategies.stat.as_ref() {
        let c = &st.counts;
        parts.push(format!(
            "statistical pair: {} samples, {} signals, max |z| {:.2}, {} entries blocked by the cointegration test",
            c.samples,
            c.signals,
            c.max_z.abs().max(c.min_z.abs()),
            c.entries_blocked_by_test
        ));
    }
    if parts.is_empty() {
        return json!("no strategy configured");
    }
    json!(parts.join("; "))
}

/// The latency histograms by stage, named as in `report.json` `latency_ns` (for
/// `latency.png`).
pub fn latency_stages<'a>(
    setup: &Setup,
    r: &'a RunResult,
) -> Vec<(&'static str, &'a crate::stats::Latency)> {
    let (l, ex) = (&r.det.lat, &r.exec);
    let enc = if setup.cfg.mode == crate::config::Mode::Live {
        "order_encode_sign_write"
    } else {
        "order_encode"
    };
    vec![
        ("feed_parse", &l.feed),
        ("md_queue", &l.md_queue),
        ("tick_to_detect", &l.tick_to_detect),
        ("tick_to_signal", &l.tick_to_signal),
        ("intent_queue", &ex.intent_hop),
        (enc, &ex.encode),
        ("tick_to_order", &ex.tick_to_order),
        ("tick_to_wire", &ex.tick_to_wire),
    ]
}

/// The same summary for a human.
pub fn human(report: &Value) -> String {
    let mut s = String::new();
    let g = |v: &Value, k: &str| v.get(k).cloned().unwrap_or(Value::Null);
    s.push_str(&format!(
        "arbot {} run — {} s wall\n",
        g(report, "mode").as_str().unwrap_or("?"),
        g(&g(report, "run"), "wall_s")
    ));
    s.push_str("venues:\n");
    if let Some(vs) = report.get("venues").and_then(Value::as_object) {
        for (name, v) in vs {
            s.push_str(&format!(
                "  {name:<16} msgs {:>7}  bbo {:>6}  depth {:>6}  trades {:>6}  snapshots {}  gaps {}  resyncs {}  invalid {}  parse_errors {}\n",
                g(v, "messages"), g(v, "bbo_updates"), g(v, "depth_updates"), g(v, "trades"),
                g(v, "snapshots"), g(v, "gaps"), g(v, "resyncs"), g(v, "invalid_book_events"), g(v, "parse_errors")
            ));
            if g(report, "mode").as_str() != Some("replay") {
                s.push_str(&format!(
                    "  {:<16} disconnects {}  reconnects {}\n",
                    "",
                    g(v, "disconnects"),
                    g(v, "reconnects")
                ));
            }
        }
    }
    s.push_str("pairs (buy → sell):\n");
    if let Some(ps) = report.get("pairs").and_then(Value::as_array) {
        for p in ps {
            s.push_str(&format!(
                "  {:<14} → {:<14} max gross {:>8.3} bps  fees {:>6.2} bps  max net {:>8.3} bps  signals {:>5}  traded {:>5}\n",
                g(p, "buy_venue").as_str().unwrap_or(""),
                g(p, "sell_venue").as_str().unwrap_or(""),
                g(p, "max_gross_spread_bps").as_f64().unwrap_or(0.0),
                g(p, "taker_fees_bps").as_f64().unwrap_or(0.0),
                g(p, "max_net_spread_bps").as_f64().unwrap_or(0.0),
                g(p, "signals"),
                g(p, "traded")
            ));
        }
    }
    let t = g(report, "trades");
    let p = g(report, "pnl");
    s.push_str(&format!(
        "PnL (mark to market, USD): {}  after closing the inventory: {} (flatten cost {})  win rate {} of {} trades\n",
        g(&p, "mark_to_market_usd"), g(&p, "liquidation_usd"), g(&p, "flatten_cost_usd"),
        g(&t, "win_rate"), g(&t, "attempted")
    ));
    if let Some(open) = p.get("open_inventory").and_then(Value::as_array) {
        for o in open {
            s.push_str(&format!(
                "  open {:<14} {:<12} base {:>12}  marked at {}  value {} USD\n",
                g(o, "venue").as_str().unwrap_or(""),
                g(o, "symbol").as_str().unwrap_or(""),
                g(o, "base_qty"),
                g(o, "mark_price"),
                g(o, "value_usd")
            ));
        }
    }
    s.push_str(&format!(
        "trades: attempted {}  filled {}  partial {}  one-leg {}  missed {}  each trade's own net: gross {} USD  fees {} USD  net {} USD (ignores the open inventory's basis)\n",
        g(&t, "attempted"), g(&t, "filled"), g(&t, "partial"), g(&t, "one_leg"), g(&t, "missed"),
        g(&t, "gross_pnl_usd"), g(&t, "fees_usd"), g(&t, "net_pnl_usd")
    ));
    if let Some(vs) = report
        .pointer("/inventory/venues")
        .and_then(Value::as_object)
    {
        s.push_str("inventory (from fills):\n");
        for (name, v) in vs {
            let mut line = format!("  {name:<16}");
            if let Some(bs) = v.get("balances").and_then(Value::as_object) {
                for (a, b) in bs {
                    line.push_str(&format!(
                        " {a} {} ({:+})",
                        g(b, "now"),
                        g(b, "change").as_f64().unwrap_or(0.0)
                    ));
                }
            }
            for p in v
                .get("positions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                line.push_str(&format!(
                    " | {} {} (margin {} {})",
                    g(p, "symbol").as_str().unwrap_or(""),
                    g(p, "qty"),
                    g(p, "margin_in_use"),
                    g(p, "margin_asset").as_str().unwrap_or("")
                ));
            }
            line.push('\n');
            s.push_str(&line);
        }
    }
    if let Some(rc) = report
        .pointer("/inventory/reconciliation")
        .filter(|x| x.is_object())
    {
        let halted: Vec<&str> = rc
            .get("halted")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|h| h.get("venue").and_then(Value::as_str))
            .collect();
        s.push_str(&format!(
            "live reconciliation during the run: {} checks ({} discarded), {}\n",
            g(rc, "checks"),
            g(rc, "discarded"),
            if halted.is_empty() {
                "no difference beyond the tolerance".to_string()
            } else {
                format!(
                    "trading stopped on {} (balances differ; see arbot.log)",
                    halted.join(", ")
                )
            }
        ));
    }
    if let Some(rec) = report.get("recorder").filter(|x| x.is_object()) {
        let venues = rec.get("venues").and_then(Value::as_array);
        let sum = |k: &str| -> u64 {
            venues
                .into_iter()
                .flatten()
                .filter_map(|v| v.get(k).and_then(Value::as_u64))
                .sum()
        };
        let dropped = sum("dropped_ring_full") + sum("dropped_too_large") + sum("not_written");
        s.push_str(&format!(
            "recorded: {} lines ({} snapshots) to {}{}\n",
            sum("lines"),
            sum("snapshots"),
            rec.get("dir").and_then(Value::as_str).unwrap_or(""),
            if dropped > 0 || g(rec, "write_errors").as_u64().unwrap_or(0) > 0 {
                format!(
                    "; NOT RECORDED: {dropped} frames, {} write errors (see arbot.log)",
                    g(rec, "write_errors")
                )
            } else {
                String::new()
            }
        ));
    }
    let rb = g(report, "rebalance");
    if rb.get("configured").and_then(Value::as_bool) == Some(true) {
        s.push_str(&format!(
            "rebalance: {} plan lines journaled (rebalance.jsonl; threshold {} %, never executed)\n",
            g(&rb, "plans_journaled"),
            g(&rb, "threshold_pct")
        ));
        for a in rb
            .get("at_end")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for t in a
                .get("transfers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                s.push_str(&format!(
                    "  at the end: move {} {} from {} to {} over {} (fee {}, ~{} s); by trading instead ~{} USD\n",
                    g(t, "amount"),
                    g(a, "asset").as_str().unwrap_or(""),
                    g(t, "from").as_str().unwrap_or(""),
                    g(t, "to").as_str().unwrap_or(""),
                    g(t, "network").as_str().unwrap_or(""),
                    g(t, "withdraw_fee"),
                    g(t, "confirm_time_s"),
                    t.pointer("/by_trading/cost_usd").cloned().unwrap_or(Value::Null)
                ));
            }
        }
    }
    let live = g(report, "live");
    if let Some(rec) = live.get("reconciliation").filter(|x| !x.is_null()) {
        let ok = rec.get("ok").and_then(Value::as_bool).unwrap_or(false);
        s.push_str(&format!(
            "live reconciliation: {}\n",
            if ok {
                "OK (the venues' balance changes and positions equal the engine's fills; no order left open)"
            } else {
                "MISMATCH (see report.json live.reconciliation)"
            }
        ));
        if let Some(rows) = rec.get("rows").and_then(Value::as_array) {
            for r in rows {
                let f = |k: &str| g(r, k).as_f64().unwrap_or(0.0);
                let (eb, nb) = (f("exchange_open_basis"), f("engine_open_basis"));
                let basis = if eb != 0.0 || nb != 0.0 {
                    format!("  (open basis venue {eb:.8}, engine {nb:.8})")
                } else {
                    String::new()
                };
                s.push_str(&format!(
                    "  {:<14} {:<22} venue change {:>16.8}  engine {:>16.8}  diff {:>12.8}{}{}\n",
                    g(r, "venue").as_str().unwrap_or(""),
                    g(r, "asset").as_str().unwrap_or(""),
                    f("exchange_change"),
                    f("engine_change"),
                    f("diff"),
                    basis,
                    if g(r, "ok").as_bool() == Some(true) {
                        ""
                    } else {
                        "  <-- differs"
                    }
                ));
            }
        }
        if let Some(errs) = rec.get("errors").and_then(Value::as_array) {
            for e in errs {
                s.push_str(&format!("  error: {}\n", e.as_str().unwrap_or("")));
            }
        }
    }
    if let Some(w) = report.get("why_no_trades").and_then(Value::as_str) {
        s.push_str(&format!("why no trades: {w}\n"));
    }
    s.push_str("latency (ns): p50 / p99 / p99.9 / max (count)\n");
    if let Some(ls) = report.get("latency_ns").and_then(Value::as_object) {
        for (k, v) in ls {
            s.push_str(&format!(
                "  {k:<15} {:>9} {:>9} {:>9} {:>10} ({})\n",
                g(v, "p50"),
                g(v, "p99"),
                g(v, "p999"),
                g(v, "max"),
                g(v, "count")
            ));
        }
    }
    s
}
