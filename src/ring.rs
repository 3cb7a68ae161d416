//! Single-producer single-consumer rings: [`channel`] for fixed-size records and
//! [`byte_channel`] for variable-length raw messages.
//!
//! Both are bounded, lock-free and allocation-free after construction. Each side keeps a
//! private copy of its own index and a cached copy of the other side's, so the shared
//! cache lines are touched only when the cache says the ring looks full/empty (the usual
//! Lamport/`rtrb` scheme). A full ring is reported to the caller (`Err`), never blocked on;
//! callers count it (design rule 3). Benchmarked against `rtrb` and crossbeam's `ArrayQueue`
//! in `bench/`.
//!
//! This module is one of the two places with `unsafe` (the other is OS calls).
//!
//! Index invariants, checked by `debug_assert!`s in debug and test builds: both indices only
//! grow; `tail - head <= capacity`; a side's cached copy of the other's index never runs
//! ahead of the real one; in the byte ring every record starts 8-aligned, lies whole inside
//! the buffer, is at most [`ByteProducer::max_record`] bytes and is published entirely before
//! the consumer reads it.
//!
//! Model checking: built with `--features loom`, the atomics, the `Arc` and the record
//! slots come from [`loom`](https://docs.rs/loom), which runs `tests/ring_loom.rs` under every
//! interleaving (within a preemption bound) and checks each slot access against the
//! happens-before order the atomics establish. A build without the flag uses `std`'s types.

use crossbeam_utils::CachePadded;
use std::cell::UnsafeCell;
use std::mem::MaybeUninit;

#[cfg(feature = "loom")]
use loom::sync::{
    atomic::{AtomicBool, AtomicUsize, Ordering},
    Arc,
};
#[cfg(not(feature = "loom"))]
use std::sync::{
    atomic::{AtomicBool, AtomicUsize, Ordering},
    Arc,
};

// A record slot: `std::cell::UnsafeCell` behind loom's closure API (inlined away), or under
// `--features loom` loom's own cell, which records every access for the model checker.
#[cfg(feature = "loom")]
use loom::cell::UnsafeCell as UnsafeSlot;

#[cfg(not(feature = "loom"))]
#[repr(transparent)]
struct UnsafeSlot<T>(UnsafeCell<T>);

#[cfg(not(feature = "loom"))]
impl<T> UnsafeSlot<T> {
    fn new(v: T) -> Self {
        UnsafeSlot(UnsafeCell::new(v))
    }
    /// Shared access: `f` gets a raw pointer to the value.
    #[inline(always)]
    fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }
    /// Exclusive access: `f` gets a raw pointer to the value.
    #[inline(always)]
    fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

struct Shared<T> {
    buf: Box<[UnsafeSlot<MaybeUninit<T>>]>,
    mask: usize,
    /// Next slot the consumer reads (monotonic, wraps via `mask`).
    head: CachePadded<AtomicUsize>,
    /// Next slot the producer writes.
    tail: CachePadded<AtomicUsize>,
    producer_gone: AtomicBool,
    consumer_gone: AtomicBool,
}

// SAFETY: slots are handed over through acquire/release on `head`/`tail`; a slot is written
// only by the producer while it is outside [head, tail) and read only by the consumer while
// inside it, so no slot is accessed by both threads at once. `T: Send` moves across threads.
unsafe impl<T: Send> Sync for Shared<T> {}
// SAFETY: as above; the buffer owns `T: Send` values only.
unsafe impl<T: Send> Send for Shared<T> {}

/// Producer end of a record ring.
pub struct Producer<T> {
    s: Arc<Shared<T>>,
    tail: usize,
    cached_head: usize,
}

/// Consumer end of a record ring.
pub struct Consumer<T> {
    s: Arc<Shared<T>>,
    head: usize,
    cached_tail: usize,
}

/// Touch every memory page of a new ring's slots once, so the operating system maps them
/// now: a slot's first use on the hot path costs no page fault, and the resident memory of a
/// run is its full size from the start rather than creeping up as the ring first wraps (a
/// 16 K-slot journal ring is ~36 MB, touched over minutes of trading otherwise).
#[cfg(not(feature = "loom"))]
fn prefault<T>(buf: &mut [UnsafeSlot<MaybeUninit<T>>]) {
    const PAGE: usize = 4096;
    let bytes = std::mem::size_of_val(buf);
    let p = buf.as_mut_ptr().cast::<u8>();
    let mut off = 0;
    while off < bytes {
        // SAFETY: `off < bytes`, the size of the exclusively borrowed slice `buf`, so `p + off`
        // is inside it; the slots hold `MaybeUninit` (no validity invariant), and every
        // `UnsafeSlot` is `#[repr(transparent)]` over `UnsafeCell<MaybeUninit<T>>`, so writing
        // one byte of one slot leaves it a valid uninitialised slot. Volatile so the write is
        // not elided.
        unsafe { p.add(off).write_volatile(0) };
        off += PAGE;
    }
}

/// A bounded SPSC ring of `capacity` (rounded up to a power of two, at least 2) records.
///
/// Records move through the ring by value (each is read exactly once), so move-only types
/// such as the risk gate's approvals can cross it; they must not need `Drop` (records still in
/// the ring when both ends are gone are not dropped), which is checked here.
pub fn channel<T: Send>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    assert!(
        !std::mem::needs_drop::<T>(),
        "ring records must not need Drop: leftovers are not dropped"
    );
    let cap = capacity.max(2).next_power_of_two();
    #[allow(unused_mut)]
    let mut buf: Box<[UnsafeSlot<MaybeUninit<T>>]> = (0..cap)
        .map(|_| UnsafeSlot::new(MaybeUninit::uninit()))
        .collect();
    #[cfg(not(feature = "loom"))]
    prefault(&mut buf);
    let s = Arc::new(Shared {
        buf,
        mask: cap - 1,
        head: CachePadded::new(AtomicUsize::new(0)),
        tail: CachePadded::new(AtomicUsize::new(0)),
        producer_gone: AtomicBool::new(false),
        consumer_gone: AtomicBool::new(false),
    });
    (
        Producer {
            s: s.clone(),
            tail: 0,
            cached_head: 0,
        },
        Consumer {
            s,
            head: 0,
            cached_tail: 0,
        },
    )
}

impl<T> Producer<T> {
    /// Capacity in records.
    pub fn capacity(&self) -> usize {
        self.s.mask + 1
    }

    /// Free slots as seen now.
    #[inline]
    pub fn free(&mut self) -> usize {
        let cap = self.s.mask + 1;
        if self.tail - self.cached_head == cap {
            self.load_head();
        }
        cap - (self.tail - self.cached_head)
    }

    /// Refresh the cached consumer index.
    #[inline(always)]
    fn load_head(&mut self) {
        let head = self.s.head.load(Ordering::Acquire);
        debug_assert!(head >= self.cached_head, "ring head moved back");
        debug_assert!(head <= self.tail, "ring head passed tail");
        self.cached_head = head;
    }

    /// Push one record; `Err(v)` if the ring is full (the caller counts it and retries later).
    #[inline]
    pub fn push(&mut self, v: T) -> Result<(), T> {
        let cap = self.s.mask + 1;
        debug_assert!(self.tail - self.cached_head <= cap, "ring over capacity");
        if self.tail - self.cached_head == cap {
            self.load_head();
            if self.tail - self.cached_head == cap {
                return Err(v);
            }
        }
        let slot = &self.s.buf[self.tail & self.s.mask];
        // SAFETY: the slot is outside [head, tail): the consumer does not read it until the
        // release store below publishes it, and only this (single) producer writes.
        slot.with_mut(|p| unsafe { (*p).write(v) });
        self.tail += 1;
        self.s.tail.store(self.tail, Ordering::Release);
        Ok(())
    }

    /// True once the consumer has been dropped.
    pub fn is_abandoned(&self) -> bool {
        self.s.consumer_gone.load(Ordering::Acquire)
    }
}

impl<T> Consumer<T> {
    /// Capacity in records.
    pub fn capacity(&self) -> usize {
        self.s.mask + 1
    }

    /// Refresh the cached producer index.
    #[inline(always)]
    fn load_tail(&mut self) {
        let tail = self.s.tail.load(Ordering::Acquire);
        debug_assert!(tail >= self.cached_tail, "ring tail moved back");
        debug_assert!(tail - self.head <= self.s.mask + 1, "ring over capacity");
        self.cached_tail = tail;
    }

    #[inline(always)]
    fn available(&mut self) -> bool {
        debug_assert!(self.head <= self.cached_tail, "ring head passed tail");
        if self.head == self.cached_tail {
            self.load_tail();
            if self.head == self.cached_tail {
                return false;
            }
        }
        true
    }

    /// Pop one record, or `None` if empty.
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        if !self.available() {
            return None;
        }
        let slot = &self.s.buf[self.head & self.s.mask];
        // SAFETY: head < tail (acquired above), so the producer has written and published
        // this slot and will not touch it until `head` moves past it.
        let v = slot.with(|p| unsafe { (*p).assume_init_read() });
        self.head += 1;
        self.s.head.store(self.head, Ordering::Release);
        Some(v)
    }

    /// Look at the next record without removing it.
    #[inline]
    pub fn peek(&mut self) -> Option<&T> {
        if !self.available() {
            return None;
        }
        let slot = &self.s.buf[self.head & self.s.mask];
        // SAFETY: as in `pop`; the shared reference lives while `self` is borrowed, during
        // which `head` cannot advance, so the producer cannot overwrite the slot.
        Some(slot.with(|p| unsafe { (*p).assume_init_ref() }))
    }

    /// Records waiting now.
    pub fn len(&mut self) -> usize {
        self.load_tail();
        self.cached_tail - self.head
    }

    /// True if nothing is waiting now.
    pub fn is_empty(&mut self) -> bool {
        self.len() == 0
    }

    /// True once the producer has been dropped (records already pushed can still be popped).
    pub fn is_abandoned(&self) -> bool {
        self.s.producer_gone.load(Ordering::Acquire)
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        self.s.producer_gone.store(true, Ordering::Release);
    }
}
impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        self.s.consumer_gone.store(true, Ordering::Release);
    }
}

// ---------------------------------------------------------------------------------------------
// Byte ring: variable-length records, zero-copy on both ends.

/// Header of one record in a byte ring.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RawMeta {
    /// Receive time, ns since the epoch (recorded time in replay).
    pub recv_ns: u64,
    /// Producer-defined tag (message kind / instrument for snapshots, see [`crate::feed`]).
    pub tag: u32,
    /// Global message index (replay merge order) or per-source counter.
    pub seq: u64,
}

const HDR: usize = 24; // len u32, tag u32, recv_ns u64, seq u64
const WRAP: u32 = u32::MAX;

struct ByteShared {
    buf: Box<[UnsafeCell<u8>]>,
    cap: usize,
    head: CachePadded<AtomicUsize>,
    tail: CachePadded<AtomicUsize>,
    producer_gone: AtomicBool,
    /// Under `--features loom`: one model-checked cell per 8-byte unit of `buf`, accessed wherever
    /// those bytes are, so loom checks every hand-over of buffer space between the two sides.
    #[cfg(feature = "loom")]
    units: Box<[UnsafeSlot<()>]>,
}

impl ByteShared {
    /// For the model checker: bytes `[at, at + n)` are written now (nothing without loom).
    #[inline(always)]
    fn model_write(&self, at: usize, n: usize) {
        #[cfg(feature = "loom")]
        for u in &self.units[at / 8..(at + n).div_ceil(8)] {
            u.with_mut(|_| ());
        }
        #[cfg(not(feature = "loom"))]
        let _ = (at, n);
    }

    /// For the model checker: bytes `[at, at + n)` are read now (nothing without loom).
    #[inline(always)]
    fn model_read(&self, at: usize, n: usize) {
        #[cfg(feature = "loom")]
        for u in &self.units[at / 8..(at + n).div_ceil(8)] {
            u.with(|_| ());
        }
        #[cfg(not(feature = "loom"))]
        let _ = (at, n);
    }
}

// SAFETY: same hand-over discipline as `Shared<T>`: bytes in [head, tail) belong to the consumer,
// the rest to the producer; indices are published with release/acquire.
unsafe impl Sync for ByteShared {}
// SAFETY: plain bytes.
unsafe impl Send for ByteShared {}

/// Producer end of a byte ring.
pub struct ByteProducer {
    s: Arc<ByteShared>,
    tail: usize,
    cached_head: usize,
}
/// Consumer end of a byte ring.
pub struct ByteConsumer {
    s: Arc<ByteShared>,
    head: usize,
    cached_tail: usize,
}

/// A bounded SPSC ring of variable-length byte records, `capacity` bytes (power of two, ≥ 4 KiB).
/// A record may be at most `capacity / 2 - 32` bytes.
pub fn byte_channel(capacity: usize) -> (ByteProducer, ByteConsumer) {
    let cap = capacity.max(4096).next_power_of_two();
    let buf: Box<[UnsafeCell<u8>]> = (0..cap).map(|_| UnsafeCell::new(0)).collect();
    let s = Arc::new(ByteShared {
        buf,
        cap,
        head: CachePadded::new(AtomicUsize::new(0)),
        tail: CachePadded::new(AtomicUsize::new(0)),
        producer_gone: AtomicBool::new(false),
        #[cfg(feature = "loom")]
        units: (0..cap / 8).map(|_| UnsafeSlot::new(())).collect(),
    });
    (
        ByteProducer {
            s: s.clone(),
            tail: 0,
            cached_head: 0,
        },
        ByteConsumer {
            s,
            head: 0,
            cached_tail: 0,
        },
    )
}

#[inline(always)]
fn pad8(n: usize) -> usize {
    (n + 7) & !7
}

/// Why a byte record could not be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushError {
    /// Not enough free space now; try again after the consumer drains.
    Full,
    /// The record can never fit in this ring.
    TooLarge,
}

impl ByteProducer {
    /// Largest payload this ring accepts.
    pub fn max_record(&self) -> usize {
        self.s.cap / 2 - 32
    }

    fn base(&self) -> *mut u8 {
        UnsafeCell::raw_get(self.s.buf.as_ptr())
    }

    /// Copy one record in. `Err(Full)` when there is no room now.
    pub fn push(&mut self, meta: RawMeta, payload: &[u8]) -> Result<(), PushError> {
        let len = payload.len();
        if len > self.max_record() {
            return Err(PushError::TooLarge);
        }
        let need = HDR + pad8(len);
        let cap = self.s.cap;
        debug_assert_eq!(self.tail % 8, 0, "byte ring record not 8-aligned");
        debug_assert!(
            self.tail - self.cached_head <= cap,
            "byte ring over capacity"
        );
        let pos = self.tail % cap;
        let to_end = cap - pos;
        // a record never straddles the end: wrap first if it does not fit before the end
        let total = if to_end < need { to_end + need } else { need };
        if cap - (self.tail - self.cached_head) < total {
            let head = self.s.head.load(Ordering::Acquire);
            debug_assert!(head >= self.cached_head, "byte ring head moved back");
            debug_assert!(head <= self.tail, "byte ring head passed tail");
            self.cached_head = head;
            if cap - (self.tail - self.cached_head) < total {
                return Err(PushError::Full);
            }
        }
        let base = self.base();
        let mut at = pos;
        if to_end < need {
            debug_assert!(to_end >= 8, "no room for the wrap marker");
            self.s.model_write(at, 4);
            // SAFETY: [pos, cap) is free (checked above, `total` includes it); `to_end >= 8`
            // because records are 8-aligned and the header start is 8-aligned.
            unsafe { (base.add(at) as *mut u32).write_unaligned(WRAP) };
            self.tail += to_end;
            at = 0;
        }
        debug_assert!(at + need <= cap, "byte ring record past the end");
        self.s.model_write(at, need);
        // SAFETY: [at, at+need) is free and within the buffer; only this producer writes it.
        unsafe {
            let p = base.add(at);
            (p as *mut u32).write_unaligned(len as u32);
            (p.add(4) as *mut u32).write_unaligned(meta.tag);
            (p.add(8) as *mut u64).write_unaligned(meta.recv_ns);
            (p.add(16) as *mut u64).write_unaligned(meta.seq);
            std::ptr::copy_nonoverlapping(payload.as_ptr(), p.add(HDR), len);
        }
        self.tail += need;
        self.s.tail.store(self.tail, Ordering::Release);
        Ok(())
    }
}

impl Drop for ByteProducer {
    fn drop(&mut self) {
        self.s.producer_gone.store(true, Ordering::Release);
    }
}

impl ByteConsumer {
    fn base(&self) -> *const u8 {
        UnsafeCell::raw_get(self.s.buf.as_ptr()) as *const u8
    }

    /// Refresh the cached producer index.
    #[inline(always)]
    fn load_tail(&mut self) {
        let tail = self.s.tail.load(Ordering::Acquire);
        debug_assert!(tail >= self.cached_tail, "byte ring tail moved back");
        debug_assert!(tail - self.head <= self.s.cap, "byte ring over capacity");
        self.cached_tail = tail;
    }

    /// Length field of the record at `pos` (published: `head < tail`), checked against the
    /// ring's bounds in debug builds.
    #[inline(always)]
    fn record_len(&self, pos: usize) -> u32 {
        debug_assert!(self.head < self.cached_tail, "byte ring read past tail");
        debug_assert_eq!(pos % 8, 0, "byte ring record not 8-aligned");
        self.s.model_read(pos, 4);
        // SAFETY: head < tail, so the header at `pos` was published by the producer; `pos` is
        // inside the buffer (`head % cap`) and 8-aligned, so the 4 bytes are too.
        let len = unsafe { (self.base().add(pos) as *const u32).read_unaligned() };
        let cap = self.s.cap;
        if len == WRAP {
            debug_assert!(
                self.head + (cap - pos) <= self.cached_tail,
                "byte ring wrap not published"
            );
        } else {
            debug_assert!(len as usize <= cap / 2 - 32, "byte ring record too long");
            debug_assert!(
                pos + HDR + pad8(len as usize) <= cap,
                "byte ring record past the end"
            );
            debug_assert!(
                self.head + HDR + pad8(len as usize) <= self.cached_tail,
                "byte ring record not fully published"
            );
        }
        len
    }

    /// The next record, borrowed in place; call [`ByteConsumer::advance`] when done with it.
    pub fn peek(&mut self) -> Option<(RawMeta, &[u8])> {
        loop {
            debug_assert!(self.head <= self.cached_tail, "byte ring head passed tail");
            if self.head == self.cached_tail {
                self.load_tail();
                if self.head == self.cached_tail {
                    return None;
                }
            }
            let cap = self.s.cap;
            let pos = self.head % cap;
            let len = self.record_len(pos);
            if len == WRAP {
                self.head += cap - pos;
                self.s.head.store(self.head, Ordering::Release);
                continue;
            }
            self.s.model_read(pos, HDR + len as usize);
            // SAFETY: the whole record [pos, pos+HDR+len) was written before `tail` was
            // released past it; it stays valid while `self` is borrowed (head cannot move).
            unsafe {
                let p = self.base().add(pos);
                let meta = RawMeta {
                    tag: (p.add(4) as *const u32).read_unaligned(),
                    recv_ns: (p.add(8) as *const u64).read_unaligned(),
                    seq: (p.add(16) as *const u64).read_unaligned(),
                };
                let data = std::slice::from_raw_parts(p.add(HDR), len as usize);
                return Some((meta, data));
            }
        }
    }

    /// Release the record returned by the last [`ByteConsumer::peek`].
    pub fn advance(&mut self) {
        let cap = self.s.cap;
        let pos = self.head % cap;
        // called after a successful peek, so a published record header is at `pos`
        let len = self.record_len(pos) as usize;
        debug_assert_ne!(len as u32, WRAP);
        self.head += HDR + pad8(len);
        self.s.head.store(self.head, Ordering::Release);
    }

    /// True once the producer has been dropped and everything it wrote has been read.
    pub fn is_finished(&mut self) -> bool {
        self.s.producer_gone.load(Ordering::Acquire) && {
            self.load_tail();
            self.head == self.cached_tail
        }
    }
}

// Under `--features loom` the ring only runs inside `loom::model` (tests/ring_loom.rs).
#[cfg(all(test, not(feature = "loom")))]
mod tests {
    use super::*;

    #[test]
    fn fifo_and_full() {
        let (mut p, mut c) = channel::<u64>(4);
        for i in 0..4 {
            p.push(i).unwrap();
        }
        assert_eq!(p.push(99), Err(99), "full ring reports, does not block");
        assert_eq!(c.peek(), Some(&0));
        for i in 0..4 {
            assert_eq!(c.pop(), Some(i));
        }
        assert_eq!(c.pop(), None);
        p.push(7).unwrap();
        assert_eq!(c.pop(), Some(7));
    }

    #[test]
    fn two_threads_keep_order() {
        const N: u64 = 200_000;
        let (mut p, mut c) = channel::<u64>(64);
        let t = std::thread::spawn(move || {
            let mut i = 0;
            while i < N {
                if p.push(i).is_ok() {
                    i += 1;
                } else {
                    std::thread::yield_now();
                }
            }
        });
        let mut want = 0;
        while want < N {
            match c.pop() {
                Some(v) => {
                    assert_eq!(v, want);
                    want += 1;
                }
                None => std::thread::yield_now(),
            }
        }
        t.join().unwrap();
        assert!(c.is_abandoned());
    }

    #[test]
    fn byte_ring_wraps_and_keeps_records_whole() {
        let (mut p, mut c) = byte_channel(4096);
        let mut next_write = 0u64;
        let mut next_read = 0u64;
        // many records of varying size force wraps
        while next_read < 2000 {
            while next_write < 2000 {
                let len = (next_write as usize * 37) % 700;
                let payload: Vec<u8> = (0..len).map(|i| (i as u64 + next_write) as u8).collect();
                match p.push(
                    RawMeta {
                        recv_ns: next_write,
                        tag: 3,
                        seq: next_write,
                    },
                    &payload,
                ) {
                    Ok(()) => next_write += 1,
                    Err(PushError::Full) => break,
                    Err(PushError::TooLarge) => panic!(),
                }
            }
            while let Some((meta, data)) = c.peek() {
                assert_eq!(meta.seq, next_read);
                let len = (next_read as usize * 37) % 700;
                assert_eq!(data.len(), len);
                assert!(data
                    .iter()
                    .enumerate()
                    .all(|(i, b)| *b == (i as u64 + next_read) as u8));
                c.advance();
                next_read += 1;
            }
        }
        assert_eq!(
            p.push(RawMeta::default(), &vec![0u8; 5000]),
            Err(PushError::TooLarge)
        );
        drop(p);
        assert!(c.is_finished());
    }

    #[test]
    fn byte_ring_two_threads() {
        let (mut p, mut c) = byte_channel(8192);
        let t = std::thread::spawn(move || {
            for i in 0..50_000u64 {
                let payload = i.to_le_bytes().repeat((i % 13) as usize + 1);
                loop {
                    match p.push(
                        RawMeta {
                            recv_ns: i,
                            tag: 0,
                            seq: i,
                        },
                        &payload,
                    ) {
                        Ok(()) => break,
                        Err(_) => std::thread::yield_now(),
                    }
                }
            }
        });
        let mut i = 0u64;
        loop {
            if let Some((m, d)) = c.peek() {
                assert_eq!(m.seq, i);
                assert_eq!(d.len(), 8 * ((i % 13) as usize + 1));
                assert_eq!(&d[..8], &i.to_le_bytes());
                c.advance();
                i += 1;
            } else if c.is_finished() {
                break;
            } else {
                std::thread::yield_now();
            }
        }
        assert_eq!(i, 50_000);
        t.join().unwrap();
    }
}
