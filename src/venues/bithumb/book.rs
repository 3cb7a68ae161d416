//! Bithumb book rules. Both feeds are snapshot-based
//! ([`crate::venues::upbit::book::SnapshotBook`]): the v1 `orderbook` and the legacy
//! `orderbooksnapshot` replace the book; the legacy `orderbookdepth` carries absolute level
//! quantities without a sequence, applied on top of the last snapshot in `datetime` order
//! (changes before any snapshot are dropped and counted `stale_diffs`: there is nothing to
//! buffer them against).
#![forbid(unsafe_code)]

use super::wire::legacy::Item;
use crate::book::Level;
use crate::feed::{EventSink, VenueCounters};
use crate::types::Side;
use crate::venues::handler::VenueState;
use crate::venues::upbit::book::SnapshotBook;

/// Apply the level changes of one `orderbookdepth` message (any number of instruments),
/// one commit per instrument. `scratch` is a reused buffer (no allocation within its capacity).
pub fn apply_depth(
    st: &mut VenueState<SnapshotBook>,
    items: &[Item],
    t_us: u64,
    scratch: &mut Vec<(Side, Level)>,
    sink: &mut EventSink<'_>,
) {
    let c = &*st.counters;
    for (k, book) in st.books.iter_mut().enumerate() {
        if !items.iter().any(|it| it.inst == k) {
            continue;
        }
        scratch.clear();
        scratch.extend(
            items
                .iter()
                .filter(|it| it.inst == k)
                .map(|it| (it.side, it.lvl)),
        );
        let id = st.symbols.get(k).id;
        if !book.apply_changes(id, t_us, scratch, sink, c) && !book.synced() {
            VenueCounters::inc(&c.stale_diffs);
        }
    }
}
