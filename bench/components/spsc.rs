//! SPSC rings between two threads: arbot's ring vs `rtrb` vs crossbeam's `ArrayQueue`,
//! carrying the 80-byte `MdEvent` that crosses from feed to detection.
//!
//! - `spsc/round_trip`: ping → echo thread → pong over two rings; one-way latency is half.
//! - `spsc/throughput`: a producer thread pushes, this thread pops; time per event.
//!
//! Both threads busy-poll (2 threads: as many as this VM has cores). Each round trip is timed
//! on its own and the sample reports the median, so a thread descheduled by a busy hypervisor
//! does not swamp it; throughput is wall time over the whole transfer. On a shared VM the
//! absolute figures move run to run; the ratios between the three rings are the useful part.

use arbot::event::MdEvent;
use criterion::{Criterion, Throughput};
use crossbeam::queue::ArrayQueue;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CAP: usize = 4096;

pub trait Tx: Send + 'static {
    fn try_push(&mut self, v: MdEvent) -> Result<(), MdEvent>;
}
pub trait Rx: Send + 'static {
    fn try_pop(&mut self) -> Option<MdEvent>;
}

impl Tx for arbot::ring::Producer<MdEvent> {
    #[inline]
    fn try_push(&mut self, v: MdEvent) -> Result<(), MdEvent> {
        self.push(v)
    }
}
impl Rx for arbot::ring::Consumer<MdEvent> {
    #[inline]
    fn try_pop(&mut self) -> Option<MdEvent> {
        self.pop()
    }
}
impl Tx for rtrb::Producer<MdEvent> {
    #[inline]
    fn try_push(&mut self, v: MdEvent) -> Result<(), MdEvent> {
        self.push(v).map_err(|rtrb::PushError::Full(v)| v)
    }
}
impl Rx for rtrb::Consumer<MdEvent> {
    #[inline]
    fn try_pop(&mut self) -> Option<MdEvent> {
        self.pop().ok()
    }
}
pub struct Aq(Arc<ArrayQueue<MdEvent>>);
impl Tx for Aq {
    #[inline]
    fn try_push(&mut self, v: MdEvent) -> Result<(), MdEvent> {
        self.0.push(v)
    }
}
impl Rx for Aq {
    #[inline]
    fn try_pop(&mut self) -> Option<MdEvent> {
        self.0.pop()
    }
}

fn arbot_pair() -> (
    arbot::ring::Producer<MdEvent>,
    arbot::ring::Consumer<MdEvent>,
) {
    arbot::ring::channel(CAP)
}
fn rtrb_pair() -> (rtrb::Producer<MdEvent>, rtrb::Consumer<MdEvent>) {
    rtrb::RingBuffer::new(CAP)
}
fn aq_pair() -> (Aq, Aq) {
    let q = Arc::new(ArrayQueue::new(CAP));
    (Aq(q.clone()), Aq(q))
}

fn ev(i: u64) -> MdEvent {
    MdEvent {
        msg_seq: i,
        ..MdEvent::default()
    }
}

/// Median of `v` (sorted in place).
fn median(v: &mut [u64]) -> u64 {
    if v.is_empty() {
        return 0;
    }
    let k = v.len() / 2;
    *v.select_nth_unstable(k).1
}

/// `iters` round trips, each timed on its own; returns `iters ×` the median round trip, so a
/// spinning thread descheduled by a busy hypervisor for a few ms does not swamp the sample.
/// The echo thread is started (and ready) before the first stamp.
fn round_trip<T: Tx, R: Rx>(iters: u64, mk: fn() -> (T, R)) -> Duration {
    let clock = arbot::clock::Clock::get();
    let (mut ping_tx, mut ping_rx) = mk();
    let (mut pong_tx, mut pong_rx) = mk();
    let ready = Arc::new(AtomicBool::new(false));
    let r2 = ready.clone();
    let echo = std::thread::spawn(move || {
        r2.store(true, Ordering::Release);
        let mut n = 0;
        while n < iters {
            if let Some(mut e) = ping_rx.try_pop() {
                e.venue_seq = e.msg_seq;
                while let Err(back) = pong_tx.try_push(e) {
                    e = back;
                    std::hint::spin_loop();
                }
                n += 1;
            } else {
                std::hint::spin_loop();
            }
        }
    });
    while !ready.load(Ordering::Acquire) {
        std::hint::spin_loop();
    }
    let mut rtt = Vec::with_capacity(iters as usize);
    for i in 0..iters {
        let t0 = clock.raw();
        let mut e = ev(i);
        while let Err(back) = ping_tx.try_push(e) {
            e = back;
        }
        loop {
            if let Some(r) = pong_rx.try_pop() {
                assert_eq!(r.venue_seq, i);
                break;
            }
            std::hint::spin_loop();
        }
        rtt.push(clock.delta_ns(t0, clock.raw()));
    }
    echo.join().expect("echo thread");
    Duration::from_nanos(median(&mut rtt) * iters)
}

/// `iters` events from a producer thread to this one: wall time from the start signal to the
/// last event (the producer thread is spawned and waiting before the clock starts).
fn throughput<T: Tx, R: Rx>(iters: u64, mk: fn() -> (T, R)) -> Duration {
    let (mut tx, mut rx) = mk();
    let go = Arc::new(AtomicBool::new(false));
    let ready = Arc::new(AtomicBool::new(false));
    let (g2, r2) = (go.clone(), ready.clone());
    let prod = std::thread::spawn(move || {
        r2.store(true, Ordering::Release);
        while !g2.load(Ordering::Acquire) {
            std::hint::spin_loop();
        }
        for i in 0..iters {
            let mut e = ev(i);
            while let Err(back) = tx.try_push(e) {
                e = back;
                std::hint::spin_loop();
            }
        }
    });
    while !ready.load(Ordering::Acquire) {
        std::hint::spin_loop();
    }
    let t0 = Instant::now();
    go.store(true, Ordering::Release);
    let mut next = 0;
    while next < iters {
        if let Some(e) = rx.try_pop() {
            assert_eq!(e.msg_seq, next);
            next += 1;
        } else {
            std::hint::spin_loop();
        }
    }
    let d = t0.elapsed();
    prod.join().expect("producer thread");
    d
}

pub fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("spsc/round_trip");
    g.throughput(Throughput::Elements(1));
    g.bench_function("arbot_ring", |b| {
        b.iter_custom(|n| round_trip(n, arbot_pair))
    });
    g.bench_function("rtrb", |b| b.iter_custom(|n| round_trip(n, rtrb_pair)));
    g.bench_function("crossbeam_array_queue", |b| {
        b.iter_custom(|n| round_trip(n, aq_pair))
    });
    g.finish();
    let mut g = c.benchmark_group("spsc/throughput");
    g.throughput(Throughput::Elements(1));
    g.bench_function("arbot_ring", |b| {
        b.iter_custom(|n| throughput(n, arbot_pair))
    });
    g.bench_function("rtrb", |b| b.iter_custom(|n| throughput(n, rtrb_pair)));
    g.bench_function("crossbeam_array_queue", |b| {
        b.iter_custom(|n| throughput(n, aq_pair))
    });
    g.finish();
}
