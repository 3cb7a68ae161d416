//! KuCoin level-2 book sync ("Calibration procedure", `exchanges.md` §9.3):
//! 1. cache `trade.l2update` diffs; 2. fetch the REST snapshot (`sequence`); 3. drop cached
//!    diffs with `sequenceEnd <= sequence`, apply the rest change by change, each only if its
//!    own sequence is above the book's (price `"0"` entries are sequence-only and skipped in
//!    [`super::wire`]); 4. each new diff must satisfy `sequenceStart <= prevEnd + 1` and
//!    `sequenceEnd > prevEnd`, otherwise re-sync. No checksum.
//!
//! Implemented by [`crate::venues::seq_book::SeqSync`] with [`Continuity::Overlap`].
#![forbid(unsafe_code)]

pub use crate::venues::seq_book::{Continuity, DiffOutcome, Range, SeqSync, SnapshotOutcome};

/// The continuity rule of KuCoin level-2 diffs.
pub const RULE: Continuity = Continuity::Overlap;
