//! L2 order book: price levels sorted in blocks of 32 (best price at the end), so a change
//! moves at most one block's levels wherever in the book it lands. Capacity is fixed at start:
//! no allocation on update (a full side drops its worst level and counts it).
//!
//! A book is *synced* while the feed vouches for its sequence (snapshot + contiguous diffs)
//! and *valid* while it is synced and passes the checks of R1.3 at its last commit. Venues that
//! publish a best bid/offer stream (Binance `bookTicker`) also set a [`Ticker`]; the top of the
//! book is then the ticker and the depth levels strictly behind it ([`L2Book::walk`]).
#![forbid(unsafe_code)]

pub mod checksum;
pub mod market;

pub use market::{walk_qty, BookHealth, Market, Unusable, Walk};

use crate::types::{Nanos, Price, Qty, Side};

/// One price level. `px_frac`/`qty_frac` are the fractional digits of the exchange's text,
/// kept so checksum venues can rebuild the exact strings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Level {
    /// Price at the instrument's `price_dec`.
    pub px: i64,
    /// Quantity at the instrument's `qty_dec` (> 0 for stored levels).
    pub qty: i64,
    /// Fractional digits of the price text.
    pub px_frac: u8,
    /// Fractional digits of the quantity text.
    pub qty_frac: u8,
}

/// Why a book failed validation or an update was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BookError {
    /// Best bid ≥ best ask.
    #[error("crossed book")]
    Crossed,
    /// A price ≤ 0.
    #[error("non-positive price")]
    BadPrice,
    /// A quantity < 0.
    #[error("negative quantity")]
    BadQty,
    /// Levels out of order (only possible through a bug; checked by `validate_full`).
    #[error("levels out of order")]
    Unordered,
    /// Checksum mismatch.
    #[error("checksum mismatch")]
    Checksum,
}

/// Levels per block of a [`BookSide`]: a change shifts at most this many levels.
const BLOCK: usize = 32;

/// A run of up to [`BLOCK`] levels, sorted by key ascending.
#[derive(Clone, Copy, Debug)]
struct Block {
    n: usize,
    lv: [Level; BLOCK],
}

const EMPTY_BLOCK: Block = Block {
    n: 0,
    lv: [Level {
        px: 0,
        qty: 0,
        px_frac: 0,
        qty_frac: 0,
    }; BLOCK],
};

/// One side of a book: levels sorted by `key` ascending, best last (`key = px` for bids, `-px`
/// for asks), kept in blocks of [`BLOCK`] levels whose order is a small index array. A change
/// moves at most one block's levels and, when a block fills or empties, a few block indices,
/// instead of every level behind it (a deep Binance diff used to shift thousands of levels).
/// Blocks come from a pool sized at start; when it runs out the side is repacked in place
/// (half-full blocks, through a preallocated scratch array): no allocation on update.
#[derive(Clone, Debug)]
pub struct BookSide {
    blocks: Vec<Block>,
    /// Blocks in use, worst first.
    order: Vec<u32>,
    /// `last_key[j]` = key of the best (last) level of block `order[j]`: the block search
    /// reads this one dense array instead of one block (a cache line or two) per probe.
    last_key: Vec<i64>,
    /// Unused blocks.
    free: Vec<u32>,
    /// Repacking scratch (capacity `cap`).
    scratch: Vec<Level>,
    len: usize,
    bid: bool,
    cap: usize,
    /// Levels dropped because the side was full (deep levels, far from the top).
    pub dropped: u64,
}

impl BookSide {
    fn new(bid: bool, cap: usize) -> BookSide {
        let cap = cap.max(1);
        // repacked blocks are half full: enough for `cap` levels, plus room to split
        let nblocks = 2 * cap.div_ceil(BLOCK) + 4;
        BookSide {
            blocks: vec![EMPTY_BLOCK; nblocks],
            order: Vec::with_capacity(nblocks),
            last_key: Vec::with_capacity(nblocks),
            free: (0..nblocks as u32).rev().collect(),
            scratch: Vec::with_capacity(cap),
            len: 0,
            bid,
            cap,
            dropped: 0,
        }
    }

    #[inline(always)]
    fn key(&self, px: i64) -> i64 {
        if self.bid {
            px
        } else {
            -px
        }
    }

    /// (position in `order`, index in that block, found). The position is `order.len()` only
    /// when the side is empty; a key above every level lands at the end of the last block.
    #[inline]
    fn locate(&self, k: i64) -> (usize, usize, bool) {
        let bid = self.bid;
        let key = |l: &Level| if bid { l.px } else { -l.px };
        let nb = self.order.len();
        if nb == 0 {
            return (0, 0, false);
        }
        debug_assert_eq!(self.last_key.len(), nb);
        let mut bi = self.last_key.partition_point(|&lk| lk < k);
        if bi == nb {
            bi = nb - 1;
        }
        let blk = &self.blocks[self.order[bi] as usize];
        debug_assert_eq!(self.last_key[bi], key(&blk.lv[blk.n - 1]));
        match blk.lv[..blk.n].binary_search_by(|l| key(l).cmp(&k)) {
            Ok(i) => (bi, i, true),
            Err(i) => (bi, i, false),
        }
    }

    /// Remove level `i` of the block at `order[bi]`.
    #[inline]
    fn remove_at(&mut self, bi: usize, i: usize) {
        let b = self.order[bi] as usize;
        let blk = &mut self.blocks[b];
        blk.lv.copy_within(i + 1..blk.n, i);
        blk.n -= 1;
        self.len -= 1;
        if blk.n == 0 {
            self.order.remove(bi);
            self.last_key.remove(bi);
            self.free.push(b as u32);
        } else if i == blk.n {
            // the best level of the block went: the next one is its last now
            let px = blk.lv[blk.n - 1].px;
            self.last_key[bi] = self.key(px);
        }
    }

    /// Insert `lvl` at index `i` of the block at `order[bi]` (or into a new block when the
    /// side is empty), splitting a full block.
    fn insert_at(&mut self, mut bi: usize, mut i: usize, lvl: Level) {
        if self.order.is_empty() {
            let Some(b) = self.take_block() else { return };
            self.order.push(b);
            self.last_key.push(self.key(lvl.px));
            bi = 0;
            i = 0;
        }
        let b = self.order[bi] as usize;
        if self.blocks[b].n == BLOCK {
            let Some(nb) = self.take_block() else {
                // no spare block: repack and look again (rare; O(levels))
                self.repack();
                let (bi, i, _) = self.locate(self.key(lvl.px));
                return self.insert_at(bi, i, lvl);
            };
            // upper half moves to the new block, placed after this one
            let half = BLOCK / 2;
            let (lo, hi) = if b < nb as usize {
                let (x, y) = self.blocks.split_at_mut(nb as usize);
                (&mut x[b], &mut y[0])
            } else {
                let (x, y) = self.blocks.split_at_mut(b);
                (&mut y[0], &mut x[nb as usize])
            };
            hi.lv[..BLOCK - half].copy_from_slice(&lo.lv[half..]);
            hi.n = BLOCK - half;
            lo.n = half;
            let (lo_last, hi_last) = (lo.lv[half - 1].px, hi.lv[BLOCK - half - 1].px);
            self.order.insert(bi + 1, nb);
            self.last_key[bi] = self.key(lo_last);
            self.last_key.insert(bi + 1, self.key(hi_last));
            if i > half {
                bi += 1;
                i -= half;
            }
        }
        let blk = &mut self.blocks[self.order[bi] as usize];
        blk.lv.copy_within(i..blk.n, i + 1);
        blk.lv[i] = lvl;
        blk.n += 1;
        let last = i + 1 == blk.n;
        self.len += 1;
        if last {
            self.last_key[bi] = self.key(lvl.px);
        }
    }

    fn take_block(&mut self) -> Option<u32> {
        let b = self.free.pop()?;
        self.blocks[b as usize].n = 0;
        Some(b)
    }

    /// Pack every level into half-full blocks, in order.
    fn repack(&mut self) {
        self.scratch.clear();
        for &b in &self.order {
            let blk = &self.blocks[b as usize];
            self.scratch.extend_from_slice(&blk.lv[..blk.n]);
        }
        self.order.clear();
        self.last_key.clear();
        self.free.clear();
        let half = BLOCK / 2;
        let used = self.scratch.len().div_ceil(half);
        for (b, chunk) in self.scratch.chunks(half).enumerate() {
            let blk = &mut self.blocks[b];
            blk.lv[..chunk.len()].copy_from_slice(chunk);
            blk.n = chunk.len();
            self.order.push(b as u32);
            let px = chunk[chunk.len() - 1].px;
            self.last_key.push(if self.bid { px } else { -px });
        }
        self.free
            .extend((used as u32..self.blocks.len() as u32).rev());
    }

    /// Set the quantity at `px` (0 deletes; deleting an absent level is normal).
    #[inline]
    pub fn set(&mut self, lvl: Level) -> Result<(), BookError> {
        if lvl.px <= 0 {
            return Err(BookError::BadPrice);
        }
        if lvl.qty < 0 {
            return Err(BookError::BadQty);
        }
        let k = self.key(lvl.px);
        let (bi, i, found) = self.locate(k);
        if found {
            if lvl.qty == 0 {
                self.remove_at(bi, i);
            } else {
                self.blocks[self.order[bi] as usize].lv[i] = lvl;
            }
            return Ok(());
        }
        if lvl.qty == 0 {
            return Ok(());
        }
        if self.len == self.cap {
            // full: drop the worst level if the new one is better, else the new one
            self.dropped += 1;
            if bi == 0 && i == 0 {
                return Ok(());
            }
            self.remove_at(0, 0);
            let (bi, i, _) = self.locate(k);
            self.insert_at(bi, i, lvl);
        } else {
            self.insert_at(bi, i, lvl);
        }
        Ok(())
    }

    /// Best level.
    #[inline(always)]
    pub fn best(&self) -> Option<&Level> {
        let b = &self.blocks[*self.order.last()? as usize];
        b.lv[..b.n].last()
    }

    /// Levels from best to worst.
    #[inline]
    pub fn iter(&self) -> impl Iterator<Item = &Level> + '_ {
        self.order.iter().rev().flat_map(move |&b| {
            let blk = &self.blocks[b as usize];
            blk.lv[..blk.n].iter().rev()
        })
    }

    /// Number of levels.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if no levels.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Remove all levels (keeps capacity).
    pub fn clear(&mut self) {
        for &b in &self.order {
            self.free.push(b);
        }
        self.order.clear();
        self.last_key.clear();
        self.len = 0;
    }

    /// Keep only the best `depth` levels (Kraken: "after each update, truncate the book to the
    /// subscribed depth"; the exchange sends no delete for levels that fall out of scope).
    /// Returns how many levels were removed. No allocation.
    pub fn truncate(&mut self, depth: usize) -> usize {
        let n = self.len;
        if n <= depth {
            return 0;
        }
        let mut cut = n - depth;
        while cut > 0 {
            let b = self.order[0] as usize;
            let k = self.blocks[b].n;
            if k <= cut {
                self.order.remove(0);
                self.last_key.remove(0);
                self.free.push(b as u32);
                self.len -= k;
                cut -= k;
            } else {
                let blk = &mut self.blocks[b];
                blk.lv.copy_within(cut..k, 0);
                blk.n = k - cut;
                self.len -= cut;
                cut = 0;
            }
        }
        n - depth
    }

    /// Quantity at exactly `px`, if present.
    pub fn qty_at(&self, px: i64) -> Option<i64> {
        let (bi, i, found) = self.locate(self.key(px));
        found.then(|| self.blocks[self.order[bi] as usize].lv[i].qty)
    }

    fn check_order(&self) -> Result<(), BookError> {
        let mut prev: Option<i64> = None;
        for l in self.iter() {
            // best first: keys descend
            let k = self.key(l.px);
            if prev.is_some_and(|p| p <= k) {
                return Err(BookError::Unordered);
            }
            prev = Some(k);
            if l.px <= 0 {
                return Err(BookError::BadPrice);
            }
            if l.qty <= 0 {
                return Err(BookError::BadQty);
            }
        }
        Ok(())
    }
}

/// The venue's own best bid/offer message (Binance `bookTicker`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ticker {
    /// Best bid price.
    pub bid_px: Price,
    /// Quantity at the best bid.
    pub bid_qty: Qty,
    /// Best ask price.
    pub ask_px: Price,
    /// Quantity at the best ask.
    pub ask_qty: Qty,
    /// Exchange update id.
    pub seq: u64,
    /// Receive time.
    pub recv_ns: Nanos,
}

/// Checksum algorithm a venue attaches to book commits (computed in
/// [`checksum::compute`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(i64)]
pub enum ChecksumKind {
    /// No checksum.
    #[default]
    None = 0,
    /// OKX / Bitget: top 25 bids and asks interleaved, signed CRC32.
    Top25Interleaved = 1,
    /// Kraken WS v1: top 10 asks then bids, digits only, unsigned CRC32.
    Kraken10 = 2,
    /// Kraken WS v2: as v1, numbers written at the instrument's precision.
    Kraken10Fixed = 3,
}

impl ChecksumKind {
    /// From the `p1` payload of a commit event (unknown values: none).
    pub fn from_i64(v: i64) -> ChecksumKind {
        match v {
            1 => ChecksumKind::Top25Interleaved,
            2 => ChecksumKind::Kraken10,
            3 => ChecksumKind::Kraken10Fixed,
            _ => ChecksumKind::None,
        }
    }
}

/// An L2 book with its sync state.
#[derive(Clone, Debug)]
pub struct L2Book {
    /// Bid side.
    pub bids: BookSide,
    /// Ask side.
    pub asks: BookSide,
    /// Latest ticker (best bid/offer stream), if the venue has one.
    pub ticker: Option<Ticker>,
    /// The feed vouches for the sequence (snapshot applied, no gap since).
    pub synced: bool,
    /// Synced and passed validation at the last commit.
    pub valid: bool,
    /// Exchange update id of the last commit.
    pub seq: u64,
    /// Receive time of the last commit.
    pub depth_recv_ns: Nanos,
    /// A snapshot is being applied (between `BookClear` and its commit).
    pub in_snapshot: bool,
    /// The ticker's update id is in the depth book's id space (Binance `bookTicker` `u` and
    /// depth `u`), so "at least as new as the depth" is decided by id; otherwise by receive
    /// time.
    pub ticker_seq_shared: bool,
}

impl L2Book {
    /// An empty, unsynced book with room for `cap` levels per side.
    pub fn new(cap: usize) -> L2Book {
        L2Book {
            bids: BookSide::new(true, cap),
            asks: BookSide::new(false, cap),
            ticker: None,
            synced: false,
            valid: false,
            seq: 0,
            depth_recv_ns: 0,
            in_snapshot: false,
            ticker_seq_shared: false,
        }
    }

    /// The side holding `side` orders (`Buy` → bids).
    #[inline(always)]
    pub fn side_mut(&mut self, side: Side) -> &mut BookSide {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    /// The side holding `side` orders (`Buy` → bids).
    #[inline(always)]
    pub fn side(&self, side: Side) -> &BookSide {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    /// Start a snapshot: drop all levels and the ticker, unsync.
    pub fn clear(&mut self, seq: u64) {
        self.bids.clear();
        self.asks.clear();
        self.ticker = None;
        self.synced = false;
        self.valid = false;
        self.in_snapshot = true;
        self.seq = seq;
    }

    /// Mark unsynced (gap, disconnect): nothing trades on it until the next snapshot. The
    /// ticker goes too: a best bid/offer from before the break must not outlive it.
    pub fn invalidate(&mut self) {
        self.synced = false;
        self.valid = false;
        self.ticker = None;
    }

    /// Close a batch of level updates at update id `seq`; validates the top (O(1)).
    /// `snapshot` = this commit completes a snapshot. Returns the validation result.
    pub fn commit(&mut self, seq: u64, recv_ns: Nanos, snapshot: bool) -> Result<(), BookError> {
        if snapshot {
            self.in_snapshot = false;
            self.synced = true;
        }
        self.seq = seq;
        self.depth_recv_ns = recv_ns;
        let r = self.check_top();
        self.valid = self.synced && r.is_ok();
        r
    }

    /// Keep the best `depth` levels per side (see [`BookSide::truncate`]); returns levels removed.
    pub fn truncate(&mut self, depth: usize) -> usize {
        self.bids.truncate(depth) + self.asks.truncate(depth)
    }

    /// Best bid from the depth levels.
    pub fn depth_best_bid(&self) -> Option<Level> {
        self.bids.best().copied()
    }
    /// Best ask from the depth levels.
    pub fn depth_best_ask(&self) -> Option<Level> {
        self.asks.best().copied()
    }

    /// The ticker, if it may stand for the top of the book: at least as new as the depth
    /// levels behind it (by update id where the venue numbers both alike, else by receive
    /// time), both sides present, and not crossed. Otherwise the depth book's own top is the
    /// top.
    #[inline]
    pub fn usable_ticker(&self) -> Option<&Ticker> {
        let t = self.ticker.as_ref()?;
        let newer = if self.ticker_seq_shared {
            t.seq >= self.seq
        } else {
            t.recv_ns >= self.depth_recv_ns
        };
        (newer && t.bid_qty.0 > 0 && t.ask_qty.0 > 0 && t.bid_px < t.ask_px).then_some(t)
    }

    /// Best bid: the ticker if usable ([`L2Book::usable_ticker`]), else the depth book.
    #[inline]
    pub fn best_bid(&self) -> Option<(Price, Qty)> {
        match self.usable_ticker() {
            Some(t) => Some((t.bid_px, t.bid_qty)),
            None => self.bids.best().map(|l| (Price(l.px), Qty(l.qty))),
        }
    }

    /// Best ask: the ticker if usable, else the depth book.
    #[inline]
    pub fn best_ask(&self) -> Option<(Price, Qty)> {
        match self.usable_ticker() {
            Some(t) => Some((t.ask_px, t.ask_qty)),
            None => self.asks.best().map(|l| (Price(l.px), Qty(l.qty))),
        }
    }

    /// Receive time of the information the top of book comes from: the usable ticker or the
    /// depth levels, whichever is newer.
    #[inline]
    pub fn last_update_ns(&self) -> Nanos {
        match self.usable_ticker() {
            Some(t) => t.recv_ns.max(self.depth_recv_ns),
            None => self.depth_recv_ns,
        }
    }

    /// Update id of the top of book (the usable ticker's or the depth book's, whichever is
    /// newer).
    #[inline]
    pub fn top_seq(&self) -> u64 {
        match self.usable_ticker() {
            Some(t) => t.seq.max(self.seq),
            None => self.seq,
        }
    }

    /// Visit the levels a taker on `side` would hit (`Buy` walks asks), best first: the usable
    /// ticker's level, then depth levels strictly behind it. `f` returns `false` to stop.
    #[inline]
    pub fn walk(&self, taker: Side, mut f: impl FnMut(Price, Qty) -> bool) {
        let t = self.usable_ticker();
        let (book_side, top) = match taker {
            Side::Buy => (&self.asks, t.map(|t| (t.ask_px, t.ask_qty))),
            Side::Sell => (&self.bids, t.map(|t| (t.bid_px, t.bid_qty))),
        };
        let mut bound: Option<i64> = None;
        if let Some((px, q)) = top {
            if !f(px, q) {
                return;
            }
            bound = Some(px.0);
        }
        for l in book_side.iter() {
            if let Some(b) = bound {
                let behind = match taker {
                    Side::Buy => l.px > b,
                    Side::Sell => l.px < b,
                };
                if !behind {
                    continue;
                }
            }
            if !f(Price(l.px), Qty(l.qty)) {
                return;
            }
        }
    }

    fn check_top(&self) -> Result<(), BookError> {
        if let (Some(b), Some(a)) = (self.bids.best(), self.asks.best()) {
            if b.px >= a.px {
                return Err(BookError::Crossed);
            }
        }
        Ok(())
    }

    /// Full O(n) validation (R1.3): strict ordering, positive prices and quantities, not crossed.
    /// The hot path relies on the insert invariants plus the O(1) top check at each commit; tests
    /// and `verify-book` run this one.
    pub fn validate_full(&self) -> Result<(), BookError> {
        self.bids.check_order()?;
        self.asks.check_order()?;
        self.check_top()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lv(px: i64, qty: i64) -> Level {
        Level {
            px,
            qty,
            px_frac: 0,
            qty_frac: 0,
        }
    }

    #[test]
    fn sides_sort_best_last_and_delete() {
        let mut b = L2Book::new(16);
        for (px, q) in [(100, 1), (102, 2), (101, 3)] {
            b.bids.set(lv(px, q)).unwrap();
        }
        for (px, q) in [(105, 1), (103, 2), (104, 3)] {
            b.asks.set(lv(px, q)).unwrap();
        }
        assert_eq!(b.bids.best().unwrap().px, 102);
        assert_eq!(b.asks.best().unwrap().px, 103);
        let bids: Vec<i64> = b.bids.iter().map(|l| l.px).collect();
        assert_eq!(bids, vec![102, 101, 100]);
        let asks: Vec<i64> = b.asks.iter().map(|l| l.px).collect();
        assert_eq!(asks, vec![103, 104, 105]);
        b.bids.set(lv(102, 0)).unwrap();
        b.bids.set(lv(99, 0)).unwrap(); // absent: fine
        assert_eq!(b.bids.best().unwrap().px, 101);
        b.bids.set(lv(101, 7)).unwrap();
        assert_eq!(b.bids.qty_at(101), Some(7));
        assert_eq!(b.bids.set(lv(0, 1)), Err(BookError::BadPrice));
        assert_eq!(b.bids.set(lv(5, -1)), Err(BookError::BadQty));
        b.validate_full().unwrap();
    }

    #[test]
    fn crossed_book_fails_commit() {
        let mut b = L2Book::new(8);
        b.clear(1);
        b.bids.set(lv(105, 1)).unwrap();
        b.asks.set(lv(104, 1)).unwrap();
        assert_eq!(b.commit(1, 0, true), Err(BookError::Crossed));
        assert!(b.synced && !b.valid);
        b.bids.set(lv(105, 0)).unwrap();
        b.commit(2, 0, false).unwrap();
        assert!(b.valid);
    }

    #[test]
    fn full_side_drops_worst() {
        let mut b = L2Book::new(3);
        for px in [100, 101, 102] {
            b.bids.set(lv(px, 1)).unwrap();
        }
        b.bids.set(lv(103, 1)).unwrap();
        assert_eq!(
            b.bids.iter().map(|l| l.px).collect::<Vec<_>>(),
            vec![103, 102, 101]
        );
        b.bids.set(lv(50, 1)).unwrap(); // worse than everything: not kept
        assert_eq!(b.bids.len(), 3);
        assert_eq!(b.bids.dropped, 2);
        assert_eq!(
            b.bids.order.capacity(),
            b.bids.blocks.len(),
            "no reallocation"
        );
    }

    #[test]
    fn truncate_keeps_the_best_levels() {
        let mut b = L2Book::new(8);
        for px in [100, 101, 102, 103] {
            b.bids.set(lv(px, 1)).unwrap();
            b.asks.set(lv(px + 10, 1)).unwrap();
        }
        assert_eq!(b.truncate(2), 4);
        assert_eq!(
            b.bids.iter().map(|l| l.px).collect::<Vec<_>>(),
            vec![103, 102]
        );
        assert_eq!(
            b.asks.iter().map(|l| l.px).collect::<Vec<_>>(),
            vec![110, 111]
        );
        assert_eq!(b.truncate(5), 0);
        assert_eq!(
            b.bids.order.capacity(),
            b.bids.blocks.len(),
            "no reallocation"
        );
    }

    #[test]
    fn walk_uses_ticker_then_levels_behind_it() {
        let mut b = L2Book::new(8);
        for (px, q) in [(100, 5), (101, 5), (102, 5)] {
            b.asks.set(lv(px, q)).unwrap();
        }
        b.ticker = Some(Ticker {
            bid_px: Price(99),
            bid_qty: Qty(1),
            ask_px: Price(101),
            ask_qty: Qty(2),
            seq: 0,
            recv_ns: 0,
        });
        let mut seen = vec![];
        b.walk(Side::Buy, |p, q| {
            seen.push((p.0, q.0));
            true
        });
        assert_eq!(seen, vec![(101, 2), (102, 5)]);
        assert_eq!(b.best_ask(), Some((Price(101), Qty(2))));
    }

    #[test]
    fn blocked_side_equals_a_plain_sorted_model_under_random_changes() {
        // splits, emptied blocks, repacks, full-side drops and truncation against a BTreeMap
        for (cap, range) in [(5usize, 40i64), (70, 400), (300, 2_000), (1000, 600)] {
            for bid in [true, false] {
                let mut side = BookSide::new(bid, cap);
                let pool = side.blocks.len();
                let mut model = std::collections::BTreeMap::<i64, i64>::new();
                let mut dropped = 0u64;
                let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ cap as u64;
                for step in 0..20_000 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let px = 1 + (x % range as u64) as i64;
                    let qty = if (x >> 20) % 3 == 0 {
                        0
                    } else {
                        1 + ((x >> 24) % 9) as i64
                    };
                    side.set(lv(px, qty)).unwrap();
                    // the model: best is the highest key
                    let key = |p: i64| if bid { p } else { -p };
                    if qty == 0 {
                        model.remove(&key(px));
                    } else if model.contains_key(&key(px)) || model.len() < cap {
                        model.insert(key(px), qty);
                    } else {
                        dropped += 1;
                        let worst = *model.keys().next().unwrap();
                        if key(px) > worst {
                            model.remove(&worst);
                            model.insert(key(px), qty);
                        }
                    }
                    if step % 997 == 0 {
                        let depth = model.len() * 3 / 4;
                        side.truncate(depth);
                        while model.len() > depth {
                            let worst = *model.keys().next().unwrap();
                            model.remove(&worst);
                        }
                    }
                    if step % 101 == 0 || step > 19_900 {
                        let got: Vec<(i64, i64)> = side.iter().map(|l| (l.px, l.qty)).collect();
                        let want: Vec<(i64, i64)> = model
                            .iter()
                            .rev()
                            .map(|(&k, &q)| (if bid { k } else { -k }, q))
                            .collect();
                        assert_eq!(got, want, "cap {cap} bid {bid} step {step}");
                        assert_eq!(side.len(), model.len());
                        assert_eq!(side.best().map(|l| l.px), want.first().map(|w| w.0));
                        assert_eq!(side.qty_at(px), model.get(&key(px)).copied());
                        side.check_order().unwrap();
                    }
                }
                assert_eq!(side.dropped, dropped, "cap {cap}");
                assert_eq!(side.blocks.len(), pool, "the block pool never grows");
            }
        }
    }
}
