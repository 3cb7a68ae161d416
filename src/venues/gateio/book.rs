//! Gate.io `spot.order_book_update` sync ("How to maintain local order book", `exchanges.md`
//! §10.2): cache updates; fetch `GET /api/v4/spot/order_book?currency_pair=…&limit=100
//! &with_id=true` (`id` = base id); the first update applied must satisfy `U <= id+1 <= u`
//! (older ones, `u < id+1`, are dropped); every later one must have `U == prev_u + 1`, otherwise
//! updates were lost: invalidate and rebuild. An update with `full: true` is itself a complete
//! book and replaces the local one. No checksum.
//!
//! Implemented by [`crate::venues::seq_book::SeqSync`] with [`Continuity::Exact`].
#![forbid(unsafe_code)]

pub use crate::venues::seq_book::{Continuity, DiffOutcome, Range, SeqSync, SnapshotOutcome};

/// The continuity rule of Gate.io order-book updates.
pub const RULE: Continuity = Continuity::Exact;
