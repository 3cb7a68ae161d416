//! The dispatch thread: walks the recording in merged order at the chosen pace, decides which
//! connection each stream message goes to (market, subscriptions, lockstep), keeps the
//! server's books (the snapshot state and the exchange's matching books) current, injects
//! the faults, holds at the exchange's replay gate (tests), and closes every connection at
//! the end.

use super::book::{FileInfo, Item, Kind, Shared, SrvBook};
use super::exchange::Exchange;
use super::ws::{Conn, NewConn};
use super::{ServerConfig, ServerStats};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tungstenite::protocol::CloseFrame;
use tungstenite::Message;

#[allow(clippy::too_many_arguments)]
pub(super) fn dispatch(
    cfg: ServerConfig,
    items: Vec<Item>,
    info: Arc<Vec<FileInfo>>,
    shared: Arc<Shared>,
    rx: mpsc::Receiver<NewConn>,
    ex: Arc<Exchange>,
    stop: Arc<AtomicBool>,
) -> ServerStats {
    let mut stats = ServerStats {
        sent: vec![0; info.len()],
        ..ServerStats::default()
    };
    let mut conns: Vec<Conn> = Vec::new();
    let ping_of = |c: &Conn| {
        cfg.ping_every.unwrap_or_else(|| {
            c.market
                .map(|m| m.ping_every())
                .unwrap_or(Duration::from_secs(20))
        })
    };
    let accept = |conns: &mut Vec<Conn>, stats: &mut ServerStats| {
        while let Ok(n) = rx.try_recv() {
            stats.ws_connections += 1;
            let mut c = Conn {
                ws: n.ws,
                market: n.market,
                streams: n.streams,
                alive: true,
                next_ping: Instant::now(),
                got_pong: None,
            };
            c.next_ping = Instant::now() + ping_of(&c);
            conns.push(c);
        }
    };
    let service_all = |conns: &mut Vec<Conn>| {
        for c in conns.iter_mut() {
            let pe = ping_of(c);
            c.service(pe);
        }
    };
    // wait for subscribers of every file
    let t_wait = Instant::now();
    loop {
        accept(&mut conns, &mut stats);
        service_all(&mut conns);
        let covered = info.iter().all(|fi| {
            conns.iter().any(|c| {
                c.alive
                    && c.market.is_none_or(|m| m == fi.market)
                    && c.streams.iter().any(|s| fi.streams.contains(s))
            })
        });
        if covered || t_wait.elapsed() > cfg.wait_clients || stop.load(Ordering::Relaxed) {
            break;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let start = Instant::now();
    let mut pause = Duration::ZERO;
    let t0 = items.first().map(|i| i.recv_ns).unwrap_or(0);
    let (mut n_stream, mut n_depth) = (0u64, 0u64);
    let mut faults = cfg.faults.clone();
    let mut last_conn: Option<usize> = None;
    let mut last_service = Instant::now();
    for (idx, it) in items.iter().enumerate() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        if !ex.may_process(idx as u64) {
            // held (tests): keep the connections served, resume the pace where it stopped
            let held = Instant::now();
            while !ex.may_process(idx as u64) && !stop.load(Ordering::Relaxed) {
                accept(&mut conns, &mut stats);
                service_all(&mut conns);
                std::thread::sleep(Duration::from_millis(1));
            }
            pause += held.elapsed();
            last_service = Instant::now();
            if stop.load(Ordering::Relaxed) {
                break;
            }
        }
        if let Some(speed) = cfg.speed {
            let due =
                Duration::from_nanos((it.recv_ns.saturating_sub(t0) as f64 / speed) as u64) + pause;
            loop {
                let now = start.elapsed();
                if now >= due {
                    break;
                }
                accept(&mut conns, &mut stats);
                service_all(&mut conns);
                last_service = Instant::now();
                std::thread::sleep((due - now).min(Duration::from_micros(500)));
            }
        }
        if last_service.elapsed() > Duration::from_millis(2) {
            accept(&mut conns, &mut stats);
            service_all(&mut conns);
            last_service = Instant::now();
        }
        let f = it.file;
        let name = match &it.kind {
            Kind::Snapshot => {
                ex.on_item(f, it.recv_ns, &it.text, true);
                // the recorded snapshot: the server's book starts here; a waiting REST request
                // gets these exact bytes
                let Ok(mut st) = shared.st.lock() else { break };
                st.books[f] = SrvBook::from_snapshot(&it.text);
                st.at_snapshot[f] = true;
                shared.cv.notify_all();
                let deadline = Instant::now() + Duration::from_secs(10);
                while !st.recorded_served[f]
                    && (st.waiting[f] > 0 || cfg.lockstep)
                    && Instant::now() < deadline
                    && !stop.load(Ordering::Relaxed)
                {
                    st = match shared.cv.wait_timeout(st, Duration::from_millis(5)) {
                        Ok(g) => g.0,
                        Err(p) => p.into_inner().0,
                    };
                }
                st.at_snapshot[f] = false;
                st.passed[f] = true;
                continue;
            }
            Kind::Stream(s) => s,
        };
        // the exchange's book follows every message (depth and bookTicker) before it is sent
        ex.on_item(f, it.recv_ns, &it.text, false);
        let is_depth = name.contains("@depth");
        if is_depth {
            if let Ok(mut st) = shared.st.lock() {
                if let Some(b) = st.books[f].as_mut() {
                    b.apply_diff(&it.text);
                }
            }
            n_depth += 1;
            if faults.skip_diff_after.is_some_and(|n| n_depth > n) {
                faults.skip_diff_after = None;
                stats.faults.push(format!("skip_diff at message {idx}"));
                continue;
            }
        }
        n_stream += 1;
        let mkt = info[f].market;
        let targets: Vec<usize> = conns
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                c.alive && c.market.is_none_or(|m| m == mkt) && c.streams.contains(name.as_ref())
            })
            .map(|(k, _)| k)
            .collect();
        if targets.is_empty() {
            stats.unsent += 1;
        }
        for k in targets {
            if cfg.lockstep {
                if let Some(p) = last_conn.filter(|p| *p != k && conns[*p].alive) {
                    stats.lockstep_pings += 1;
                    let tag = idx as u64;
                    conns[p].got_pong = None;
                    if conns[p]
                        .send(Message::Ping(tag.to_le_bytes().to_vec().into()))
                        .is_ok()
                    {
                        let deadline = Instant::now() + Duration::from_secs(5);
                        let mut spins = 0u32;
                        while conns[p].alive
                            && conns[p].got_pong != Some(tag)
                            && Instant::now() < deadline
                        {
                            conns[p].service(Duration::from_secs(3600));
                            spins += 1;
                            if spins > 50 {
                                std::thread::sleep(Duration::from_micros(20));
                            } else {
                                std::thread::yield_now();
                            }
                        }
                        if conns[p].got_pong != Some(tag) {
                            stats.lockstep_timeouts += 1;
                        }
                    }
                }
            }
            let c = &mut conns[k];
            if c.send(Message::text(it.text.to_string())).is_err() {
                c.alive = false;
                continue;
            }
            stats.sent[f] += 1;
            last_conn = Some(k);
            if faults.drop_after == Some(n_stream) {
                faults.drop_after = None;
                stats.faults.push(format!("drop at message {idx}"));
                let _ = c.ws.get_ref().tcp().shutdown(std::net::Shutdown::Both);
                c.alive = false;
            }
            if faults.malformed_after == Some(n_stream) {
                faults.malformed_after = None;
                stats
                    .faults
                    .push(format!("malformed frame at message {idx}"));
                c.raw(&[0xF1, 0x02, b'{', b'}']); // FIN + RSV1..3 + text: reserved bits set
            }
            if faults.bad_json_after == Some(n_stream) {
                faults.bad_json_after = None;
                stats.faults.push(format!("bad json at message {idx}"));
                let _ = c.send(Message::text(
                    "{\"stream\":\"btcusdt@bookTicker\",\"data\":{\"u\":",
                ));
            }
        }
        if faults.stall_after == Some(n_stream) {
            faults.stall_after = None;
            stats
                .faults
                .push(format!("stall {} ns at message {idx}", faults.stall_ns));
            let d = Duration::from_nanos(faults.stall_ns);
            let t = Instant::now();
            while t.elapsed() < d && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(5));
            }
            pause += d;
        }
        conns.retain(|c| c.alive);
        if let Some(l) = last_conn {
            if l >= conns.len() {
                last_conn = None;
            }
        }
    }
    // end of the recording: normal close on every connection
    if let Ok(mut st) = shared.st.lock() {
        st.ended = true;
        stats.snapshots_recorded = st.served_recorded;
        stats.snapshots_synthesized = st.served_synth;
        shared.cv.notify_all();
    }
    for c in conns.iter_mut().filter(|c| c.alive) {
        let _ = c.ws.close(Some(CloseFrame {
            code: tungstenite::protocol::frame::coding::CloseCode::Normal,
            reason: "end of recording".into(),
        }));
        let _ = c.ws.flush();
    }
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(3) && conns.iter().any(|c| c.alive) {
        for c in conns.iter_mut().filter(|c| c.alive) {
            match c.ws.read() {
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    let _ = c.ws.flush();
                }
                Err(_) => c.alive = false,
                Ok(_) => {}
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    if let Ok(st) = shared.st.lock() {
        stats.snapshots_recorded = st.served_recorded;
        stats.snapshots_synthesized = st.served_synth;
    }
    // the exchange side stays up for the linger time (clients cancel and reconcile)
    let t = Instant::now();
    while t.elapsed() < cfg.linger && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let xs = ex.stats();
    stats.orders = xs.orders;
    stats.trades = xs.trades;
    stats.resting_fills = xs.resting_fills;
    stats.order_faults = xs.faults;
    stats.ledger = ex.ledger();
    stop.store(true, Ordering::Relaxed);
    stats
}
