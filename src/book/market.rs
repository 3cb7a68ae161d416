//! The books of every instrument on the detection side, built from the feeds' [`MdEvent`]s,
//! with per-venue book-health counters and the exchange-checksum check (R1.2, R1.3): what
//! detection, risk and the fill simulator read.
#![forbid(unsafe_code)]

use super::{ChecksumKind, L2Book, Level, Ticker};
use crate::config::Setup;
use crate::event::{flags, MdEvent, MdKind};
use crate::instrument::InstrumentSpec;
use crate::journal::{LogCode, LogRecord, Severity};
use crate::types::{Amount, InstrumentId, Nanos, Price, Qty, Side, VenueId};

/// Book-health counters per venue (detection side).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct BookHealth {
    /// Times a book went from valid to invalid (gap, crossed, checksum, disconnect).
    pub invalid_book_events: u64,
    /// Commits that failed validation (crossed or bad level).
    pub failed_validations: u64,
    /// Snapshot commits that made a book synced.
    pub synced: u64,
    /// Checksums verified.
    pub checksums_ok: u64,
    /// Checksum mismatches.
    pub checksum_mismatches: u64,
    /// Levels the feed sent that the book refused (non-positive price, negative quantity).
    pub bad_levels: u64,
    /// Depth commits seen.
    pub commits: u64,
    /// Ticker (best bid/offer) updates seen.
    pub tickers: u64,
    /// Public trades seen.
    pub trades: u64,
    /// Venue connection down events.
    pub venue_down: u64,
    /// Books invalidated because no update came within the hard age limit (R1.3).
    pub hard_stale: u64,
}

/// Books plus what happened to them.
pub struct Market {
    /// Books by instrument id.
    pub books: Vec<L2Book>,
    /// Specs by instrument id.
    pub specs: Vec<InstrumentSpec>,
    /// Venue connection state (true until a feed says otherwise).
    pub venue_up: Vec<bool>,
    /// Venues whose data crossed the bad-data limit ([`crate::health`]): never up again.
    pub venue_bad: Vec<bool>,
    /// Health counters by venue id.
    pub health: Vec<BookHealth>,
    /// Last message index applied per instrument.
    pub last_msg_seq: Vec<u64>,
    /// Receive time of the newest message applied (the engine's "now" in replay).
    pub now_ns: Nanos,
    /// Books that failed their exchange checksum since the last drain: the detection loop
    /// sends each to its feed thread, which resubscribes (capacity = instruments).
    pub resync: Vec<(VenueId, InstrumentId)>,
    /// Per instrument: the top of book (best bid, best ask prices) at the last change.
    pub last_top: Vec<(Price, Price)>,
    /// Per instrument: data time of the last change of the top-of-book prices.
    pub last_top_change_ns: Vec<Nanos>,
    /// Per instrument: mean time between top-of-book price changes, ns (exponentially
    /// weighted, 1/8 per change; 0 until two changes were seen). How fast a quote goes
    /// stale, for the confidence score.
    pub top_change_interval_ns: Vec<u64>,
    /// Books invalidated because no update came for `hard_stale_ns` (R1.3's hard limit).
    pub hard_stale_ns: u64,
    next_sweep_ns: Nanos,
    /// Instruments whose top of book may have changed during the current message.
    dirty: Vec<InstrumentId>,
    dirty_flag: Vec<bool>,
}

impl Market {
    /// Books sized per the venues' `book_levels`.
    pub fn new(setup: &Setup) -> Market {
        let levels: Vec<usize> = setup
            .instruments
            .iter()
            .map(|s| setup.venues[s.venue.idx()].cfg.book_levels)
            .collect();
        let mut m = Market::from_specs(setup.instruments.clone(), setup.venues.len(), &levels);
        m.hard_stale_ns = setup.cfg.risk.hard_stale_after_ns;
        for (b, s) in m.books.iter_mut().zip(&setup.instruments) {
            b.ticker_seq_shared = setup.venues[s.venue.idx()].adapter.bbo_shares_book_seq();
        }
        m
    }

    /// Books for `specs` (ids must be their positions), `levels[i]` levels per side of book
    /// `i`. `levels` must have one entry per spec.
    pub fn from_specs(specs: Vec<InstrumentSpec>, n_venues: usize, levels: &[usize]) -> Market {
        let books = specs
            .iter()
            .enumerate()
            .map(|(i, _)| {
                assert!(
                    i < levels.len(),
                    "Market::from_specs: {} specs but {} level counts",
                    specs.len(),
                    levels.len()
                );
                L2Book::new(levels[i])
            })
            .collect();
        let n = specs.len();
        Market {
            books,
            specs,
            venue_up: vec![true; n_venues],
            venue_bad: vec![false; n_venues],
            health: vec![BookHealth::default(); n_venues],
            last_msg_seq: vec![0; n],
            now_ns: 0,
            resync: Vec::with_capacity(n),
            last_top: vec![(Price(0), Price(0)); n],
            last_top_change_ns: vec![0; n],
            top_change_interval_ns: vec![0; n],
            hard_stale_ns: u64::MAX,
            next_sweep_ns: 0,
            dirty: Vec::with_capacity(n),
            dirty_flag: vec![false; n],
        }
    }

    #[inline]
    fn mark(&mut self, i: InstrumentId) {
        if !self.dirty_flag[i.idx()] {
            self.dirty_flag[i.idx()] = true;
            self.dirty.push(i);
        }
    }

    /// Instruments touched by the current message; clears the set. Updates each one's
    /// top-of-book change rate.
    pub fn take_dirty(&mut self, out: &mut Vec<InstrumentId>) {
        out.clear();
        for i in self.dirty.drain(..) {
            self.dirty_flag[i.idx()] = false;
            out.push(i);
            let b = &self.books[i.idx()];
            let top = (
                b.best_bid().map(|x| x.0).unwrap_or_default(),
                b.best_ask().map(|x| x.0).unwrap_or_default(),
            );
            let k = i.idx();
            if top != self.last_top[k] {
                let last = self.last_top_change_ns[k];
                if last != 0 && self.now_ns > last {
                    let dt = self.now_ns - last;
                    let e = self.top_change_interval_ns[k];
                    self.top_change_interval_ns[k] = if e == 0 {
                        dt
                    } else {
                        (e as i64 + (dt as i64 - e as i64) / 8) as u64
                    };
                }
                self.last_top[k] = top;
                self.last_top_change_ns[k] = self.now_ns;
            }
        }
    }

    /// R1.3's hard limit: every valid book with no update for `hard_stale_ns` is marked invalid
    /// (counted and logged): nothing trades on it, and nothing reads it, until its next depth
    /// update proves it alive again (that update revalidates it through the usual commit
    /// checks; a book whose feed broke meanwhile is caught by its sequence or checksum rules, a
    /// dead connection by the silence watchdog). A quiet book of an illiquid instrument is not
    /// wrong, so it is not resynced: re-fetching it every `hard_stale_ns` would only burn the
    /// venue's rate limits. Looks at most once per 100 ms of data time. Returns the number
    /// marked.
    pub fn sweep_hard_stale(&mut self, log: &mut impl FnMut(LogRecord)) -> usize {
        if self.now_ns < self.next_sweep_ns || self.hard_stale_ns == u64::MAX {
            return 0;
        }
        self.next_sweep_ns = self.now_ns + 100_000_000;
        let mut n = 0;
        for k in 0..self.books.len() {
            let b = &self.books[k];
            if !b.valid || self.now_ns.saturating_sub(b.last_update_ns()) <= self.hard_stale_ns {
                continue;
            }
            let v = self.specs[k].venue;
            self.books[k].valid = false;
            self.health[v.idx()].hard_stale += 1;
            self.health[v.idx()].invalid_book_events += 1;
            let i = InstrumentId(k as u16);
            log(LogRecord {
                ts_ns: self.now_ns,
                severity: Severity::Warn,
                code: LogCode::BookInvalid,
                venue: v,
                instrument: i,
                a: crate::event::InvalidReason::HardStale as i64,
                ..LogRecord::default()
            });
            self.mark(i);
            n += 1;
        }
        n
    }

    /// Apply one event. Log-worthy transitions are passed to `log`.
    #[inline]
    pub fn apply(&mut self, ev: &MdEvent, log: &mut impl FnMut(LogRecord)) {
        if ev.recv_ns > self.now_ns {
            self.now_ns = ev.recv_ns;
        }
        let i = ev.instrument;
        if i.idx() >= self.books.len()
            && !matches!(
                ev.kind,
                MdKind::VenueStatus | MdKind::FeedEnd | MdKind::Noop | MdKind::VenueMaintenance
            )
        {
            return;
        }
        let v = ev.venue.idx();
        let base_log = LogRecord {
            ts_ns: ev.recv_ns,
            venue: ev.venue,
            instrument: i,
            msg_seq: ev.msg_seq,
            ..LogRecord::default()
        };
        match ev.kind {
            // maintenance is the risk gate's (the detection core hands it over)
            MdKind::Noop | MdKind::FeedEnd | MdKind::VenueMaintenance => {}
            MdKind::Bbo => {
                let b = &mut self.books[i.idx()];
                b.ticker = Some(Ticker {
                    bid_px: Price(ev.p0),
                    bid_qty: Qty(ev.q0),
                    ask_px: Price(ev.p1),
                    ask_qty: Qty(ev.q1),
                    seq: ev.venue_seq,
                    recv_ns: ev.recv_ns,
                });
                self.health[v].tickers += 1;
                self.last_msg_seq[i.idx()] = ev.msg_seq;
                self.mark(i);
            }
            MdKind::Trade => self.health[v].trades += 1,
            MdKind::BookClear => {
                self.books[i.idx()].clear(ev.venue_seq);
            }
            MdKind::BookLevel => {
                let lvl = Level {
                    px: ev.p0,
                    qty: ev.q0,
                    px_frac: ev.px_frac,
                    qty_frac: ev.qty_frac,
                };
                let b = &mut self.books[i.idx()];
                if b.side_mut(ev.side).set(lvl).is_err() {
                    self.health[v].bad_levels += 1;
                    if b.valid {
                        self.health[v].invalid_book_events += 1;
                    }
                    b.invalidate();
                }
            }
            MdKind::BookCommit => {
                let snapshot = ev.flags & flags::SNAPSHOT != 0;
                self.health[v].commits += 1;
                self.last_msg_seq[i.idx()] = ev.msg_seq;
                let b = &mut self.books[i.idx()];
                let was_valid = b.valid;
                if ev.q0 > 0 {
                    // venues that cut the book at the subscribed depth (Kraken): same cut here
                    b.truncate(ev.q0 as usize);
                }
                let r = b.commit(ev.venue_seq, ev.recv_ns, snapshot);
                let kind = ChecksumKind::from_i64(ev.p1);
                if kind != ChecksumKind::None && b.synced {
                    match crate::book::checksum::compute(kind, b, &self.specs[i.idx()]) {
                        Some(c) if c == ev.p0 => self.health[v].checksums_ok += 1,
                        Some(c) => {
                            self.health[v].checksum_mismatches += 1;
                            b.invalidate();
                            if self.resync.len() < self.resync.capacity()
                                && !self.resync.contains(&(ev.venue, i))
                            {
                                self.resync.push((ev.venue, i));
                            }
                            log(LogRecord {
                                severity: Severity::Warn,
                                code: LogCode::ChecksumMismatch,
                                a: ev.p0,
                                b: c,
                                ..base_log
                            });
                        }
                        None => {}
                    }
                }
                let b = &self.books[i.idx()];
                if snapshot && b.synced {
                    self.health[v].synced += 1;
                    log(LogRecord {
                        code: LogCode::BookSynced,
                        a: ev.venue_seq as i64,
                        ..base_log
                    });
                }
                if let Err(e) = r {
                    self.health[v].failed_validations += 1;
                    if was_valid {
                        self.health[v].invalid_book_events += 1;
                        log(LogRecord {
                            severity: Severity::Warn,
                            code: LogCode::BookInvalid,
                            a: 100 + e as i64,
                            ..base_log
                        });
                    }
                }
                self.mark(i);
            }
            MdKind::BookInvalid => {
                let b = &mut self.books[i.idx()];
                if b.valid || b.synced {
                    self.health[v].invalid_book_events += 1;
                }
                b.invalidate();
                log(LogRecord {
                    severity: Severity::Warn,
                    code: LogCode::BookInvalid,
                    a: ev.p0,
                    ..base_log
                });
                self.mark(i);
            }
            MdKind::VenueStatus => {
                let up = ev.p0 > 0;
                if v < self.venue_up.len() {
                    if ev.p0 < 0 {
                        self.venue_bad[v] = true; // bad data: down for the rest of the run
                    }
                    if self.venue_bad[v] && up {
                        return; // a reconnect does not make bad data good
                    }
                    self.venue_up[v] = up;
                    if !up {
                        self.health[v].venue_down += 1;
                        for (k, s) in self.specs.iter().enumerate() {
                            if s.venue == ev.venue {
                                self.books[k].invalidate();
                                self.dirty_flag[k] = false;
                            }
                        }
                    }
                    log(LogRecord {
                        severity: if up { Severity::Info } else { Severity::Warn },
                        code: LogCode::VenueStatus,
                        a: up as i64,
                        ..base_log
                    });
                }
            }
        }
    }

    /// True if `i` may be traded now: venue up, book synced and valid, newest data younger
    /// than `max_age_ns`.
    #[inline]
    pub fn tradable(&self, i: InstrumentId, max_age_ns: u64) -> Result<(), Unusable> {
        let b = &self.books[i.idx()];
        if !self.venue_up[self.specs[i.idx()].venue.idx()] || !b.valid {
            return Err(Unusable::Invalid);
        }
        if self.now_ns.saturating_sub(b.last_update_ns()) > max_age_ns {
            return Err(Unusable::Stale);
        }
        Ok(())
    }

    /// Venue of an instrument.
    #[inline]
    pub fn venue_of(&self, i: InstrumentId) -> VenueId {
        self.specs[i.idx()].venue
    }
}

/// What walking a quantity through one side of a book gives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Walk {
    /// Quote notional of the filled part, 1e-8 quote units.
    pub quote: Amount,
    /// Base amount of the filled part, 1e-8 base units.
    pub base: Amount,
    /// Worst (last) price reached: the limit price that takes this much.
    pub worst_px: Price,
    /// Native quantity the book could fill (≤ the quantity asked for).
    pub filled: Qty,
}

/// Walk `qty` (native units) through the book of `i` as a taker on `taker` (a buy walks the
/// asks), best level first.
pub fn walk_qty(m: &Market, i: InstrumentId, taker: Side, qty: Qty) -> Walk {
    let spec = &m.specs[i.idx()];
    let (mut quote, mut base, mut worst, mut rem) = (0i64, 0i64, Price(0), qty.0);
    m.books[i.idx()].walk(taker, |px, q| {
        let t = rem.min(q.0);
        quote += spec.quote_amount(Qty(t), px).0;
        base += spec.base_amount(Qty(t), px).0;
        worst = px;
        rem -= t;
        rem > 0
    });
    Walk {
        quote: Amount(quote),
        base: Amount(base),
        worst_px: worst,
        filled: Qty(qty.0 - rem),
    }
}

/// Why a book cannot be traded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unusable {
    /// Not synced / failed validation / venue down.
    Invalid,
    /// Older than the limit.
    Stale,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::two_venue_setup;
    use crate::types::Side;

    #[test]
    fn checksum_mismatch_invalidates_and_asks_for_a_resync() {
        let s = two_venue_setup(1.0, 1.0, "");
        let mut m = Market::new(&s);
        let ev = |kind, side, p0: i64, q0: i64, seq: u64, flags: u8, p1: i64| MdEvent {
            kind,
            side,
            p0,
            q0,
            p1,
            venue_seq: seq,
            flags,
            venue: VenueId(1),
            instrument: InstrumentId(1),
            px_frac: 2,
            qty_frac: 3,
            ..MdEvent::default()
        };
        let mut logs = vec![];
        m.apply(&ev(MdKind::BookClear, Side::Buy, 0, 0, 1, 0, 0), &mut |l| {
            logs.push(l)
        });
        m.apply(
            &ev(MdKind::BookLevel, Side::Buy, 10_000, 1_000, 0, 0, 0),
            &mut |l| logs.push(l),
        );
        m.apply(
            &ev(MdKind::BookLevel, Side::Sell, 10_010, 2_000, 0, 0, 0),
            &mut |l| logs.push(l),
        );
        // the right checksum of "100.00:1.000:100.10:2.000"
        let good = crc32fast::hash(b"100.00:1.000:100.10:2.000") as i32 as i64;
        let kind = ChecksumKind::Top25Interleaved as i64;
        m.apply(
            &ev(
                MdKind::BookCommit,
                Side::Buy,
                good,
                0,
                1,
                crate::event::flags::SNAPSHOT,
                kind,
            ),
            &mut |l| logs.push(l),
        );
        assert!(m.books[1].valid);
        assert_eq!(m.health[1].checksums_ok, 1);
        assert!(m.resync.is_empty());
        // a wrong one: invalid, counted, logged, and a resync request for the feed thread
        m.apply(
            &ev(MdKind::BookCommit, Side::Buy, good ^ 1, 0, 2, 0, kind),
            &mut |l| logs.push(l),
        );
        assert!(!m.books[1].valid && !m.books[1].synced);
        assert_eq!(m.health[1].checksum_mismatches, 1);
        assert_eq!(m.resync, vec![(VenueId(1), InstrumentId(1))]);
        assert!(logs.iter().any(|l| l.code == LogCode::ChecksumMismatch));
    }
}
