//! Model check of the SPSC rings (src/ring.rs) with loom: every interleaving of a producer
//! and a consumer thread, within a preemption bound, on small rings that fill up and wrap.
//! loom also checks each slot access (typed ring) and each 8-byte unit of the byte ring
//! against the happens-before order the ring's acquire/release indices establish, so a
//! missing or too weak ordering shows up as a failure here, not as a rare corrupt record.
//!
//! Only built with the `loom` feature (the ring's atomics come from loom then):
//!
//! ```sh
//! LOOM_MAX_PREEMPTIONS=2 cargo test --features loom --test ring_loom
//! ```
//!
//! Without `LOOM_MAX_PREEMPTIONS` the bound is 3. A plain `cargo test` builds this file empty.
#![cfg(feature = "loom")]

use arbot::ring::{byte_channel, channel, PushError, RawMeta};
use loom::thread;

/// Run `f` under loom with a preemption bound (`LOOM_MAX_PREEMPTIONS`, default 3).
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(3);
    }
    b.check(f);
}

/// Capacity 2, four records: the indices wrap twice and the producer meets a full ring.
#[test]
fn records_arrive_in_order_across_wrap_around() {
    model(|| {
        const N: u64 = 4;
        let (mut p, mut c) = channel::<u64>(2);
        assert_eq!(p.capacity(), 2);
        let t = thread::spawn(move || {
            for i in 0..N {
                let mut v = i;
                while let Err(back) = p.push(v) {
                    v = back;
                    thread::yield_now();
                }
            }
        });
        let mut want = 0;
        while want < N {
            match c.pop() {
                Some(v) => {
                    assert_eq!(v, want, "out of order");
                    want += 1;
                }
                None => thread::yield_now(),
            }
        }
        t.join().unwrap();
        assert_eq!(c.pop(), None);
        assert!(c.is_abandoned());
    });
}

/// `peek` shows the record `pop` then removes; `free` and `len` stay within the capacity.
#[test]
fn peek_then_pop_and_counts_stay_in_bounds() {
    model(|| {
        const N: u64 = 3;
        let (mut p, mut c) = channel::<u64>(2);
        let t = thread::spawn(move || {
            for i in 0..N {
                while p.free() == 0 {
                    thread::yield_now();
                }
                assert!(p.free() <= 2);
                p.push(i + 100).expect("free slot");
            }
        });
        let mut want = 0;
        while want < N {
            assert!(c.len() <= 2);
            match c.peek().copied() {
                Some(v) => {
                    assert_eq!(v, want + 100);
                    assert_eq!(c.pop(), Some(v));
                    want += 1;
                }
                None => thread::yield_now(),
            }
        }
        t.join().unwrap();
    });
}

/// Once the consumer sees the producer gone, everything it pushed is readable.
#[test]
fn abandoned_producer_leaves_every_record_readable() {
    model(|| {
        const N: u64 = 3;
        let (mut p, mut c) = channel::<u64>(4);
        let t = thread::spawn(move || {
            for i in 0..N {
                p.push(i).expect("room for all");
            }
            drop(p);
        });
        let mut want = 0;
        loop {
            match c.pop() {
                Some(v) => {
                    assert_eq!(v, want);
                    want += 1;
                }
                None if c.is_abandoned() => {
                    while let Some(v) = c.pop() {
                        assert_eq!(v, want);
                        want += 1;
                    }
                    assert_eq!(want, N, "records lost after the producer left");
                    break;
                }
                None => thread::yield_now(),
            }
        }
        t.join().unwrap();
    });
}

fn payload(i: u64, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i as usize * 31 + j) as u8).collect()
}

/// The smallest byte ring (4 KiB) with records of 1,300 bytes: the fourth does not fit
/// before the end, so the producer writes a wrap marker and waits for room at the start.
#[test]
fn byte_records_arrive_whole_across_the_wrap() {
    const LENS: [usize; 5] = [1300, 1300, 1300, 1300, 40];
    model(|| {
        let (mut p, mut c) = byte_channel(4096);
        assert!(p.max_record() >= 1300);
        let t = thread::spawn(move || {
            for (i, len) in LENS.iter().enumerate() {
                let i = i as u64;
                let data = payload(i, *len);
                let meta = RawMeta {
                    recv_ns: 1_000 + i,
                    tag: i as u32,
                    seq: i,
                };
                loop {
                    match p.push(meta, &data) {
                        Ok(()) => break,
                        Err(PushError::Full) => thread::yield_now(),
                        Err(PushError::TooLarge) => panic!("record {i} too large"),
                    }
                }
            }
        });
        let mut i = 0u64;
        loop {
            if let Some((meta, data)) = c.peek() {
                assert_eq!(meta.seq, i, "out of order");
                assert_eq!(meta.recv_ns, 1_000 + i);
                assert_eq!(meta.tag, i as u32);
                assert_eq!(data, &payload(i, LENS[i as usize])[..], "record {i} torn");
                c.advance();
                i += 1;
            } else if c.is_finished() {
                break;
            } else {
                thread::yield_now();
            }
        }
        assert_eq!(i, LENS.len() as u64);
        t.join().unwrap();
    });
}
