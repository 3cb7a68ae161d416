//! Exchange book checksums, computed over the rebuilt book on the detection thread (or in
//! `verify-book`) without allocating: each level's text is rebuilt from the fixed-point value
//! and the fractional digits the exchange used, and fed straight into CRC32 (crc32fast).
//!
//! - [`ChecksumKind::Top25Interleaved`]: OKX `books` and Bitget `books`: the first 25 bids and
//!   25 asks, `bid1px:bid1sz:ask1px:ask1sz:bid2px:…` (a side that runs out is skipped and the
//!   other continues), CRC32 as a signed 32-bit integer. Source: OKX v5 docs, "Order book
//!   channel" checksum section (<https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-order-book-channel>).
//! - [`ChecksumKind::Kraken10`]: Kraken WS v1: top 10 asks ascending then top 10 bids
//!   descending; each price then quantity with the '.' removed and leading zeros stripped,
//!   concatenated; CRC32 as unsigned (<https://docs.kraken.com/api/docs/guides/spot-ws-book-v1>).
//! - [`ChecksumKind::Kraken10Fixed`]: Kraken WS v2: the same, but each number written with the
//!   instrument's price/quantity precision (`price_dec`/`qty_dec` of the spec) instead of the
//!   digits sent (v2 sends JSON numbers).
#![forbid(unsafe_code)]

use crate::book::{ChecksumKind, L2Book, Level};
use crate::fixed_point::format_decimal;
use crate::instrument::InstrumentSpec;

fn put_level_field(h: &mut crc32fast::Hasher, value: i64, scale: u32, frac: u32, strip: bool) {
    let mut buf = [0u8; 48];
    let n = format_decimal(&mut buf, value, scale, frac);
    if !strip {
        h.update(&buf[..n]);
        return;
    }
    // remove '.', then leading zeros
    let mut out = [0u8; 48];
    let mut k = 0;
    for &c in &buf[..n] {
        if c == b'.' {
            continue;
        }
        if k == 0 && c == b'0' {
            continue;
        }
        out[k] = c;
        k += 1;
    }
    h.update(&out[..k]);
}

fn top_interleaved(book: &L2Book, spec: &InstrumentSpec, depth: usize) -> i64 {
    let mut h = crc32fast::Hasher::new();
    let mut bids = book.bids.iter().take(depth);
    let mut asks = book.asks.iter().take(depth);
    let mut first = true;
    let mut put = |h: &mut crc32fast::Hasher, l: &Level| {
        if !first {
            h.update(b":");
        }
        first = false;
        put_level_field(h, l.px, spec.price_dec, l.px_frac as u32, false);
        h.update(b":");
        put_level_field(h, l.qty, spec.qty_dec, l.qty_frac as u32, false);
    };
    loop {
        let (b, a) = (bids.next(), asks.next());
        if b.is_none() && a.is_none() {
            break;
        }
        if let Some(l) = b {
            put(&mut h, l);
        }
        if let Some(l) = a {
            put(&mut h, l);
        }
    }
    h.finalize() as i32 as i64
}

fn kraken(book: &L2Book, spec: &InstrumentSpec, depth: usize, fixed: bool) -> i64 {
    let mut h = crc32fast::Hasher::new();
    let (pf, qf) = (spec.price_dec, spec.qty_dec);
    for l in book
        .asks
        .iter()
        .take(depth)
        .chain(book.bids.iter().take(depth))
    {
        let (a, b) = if fixed {
            (pf, qf)
        } else {
            (l.px_frac as u32, l.qty_frac as u32)
        };
        put_level_field(&mut h, l.px, spec.price_dec, a, true);
        put_level_field(&mut h, l.qty, spec.qty_dec, b, true);
    }
    h.finalize() as i64
}

/// The checksum of `book` by `kind`; `None` for [`ChecksumKind::None`].
pub fn compute(kind: ChecksumKind, book: &L2Book, spec: &InstrumentSpec) -> Option<i64> {
    match kind {
        ChecksumKind::None => None,
        ChecksumKind::Top25Interleaved => Some(top_interleaved(book, spec, 25)),
        ChecksumKind::Kraken10 => Some(kraken(book, spec, 10, false)),
        ChecksumKind::Kraken10Fixed => Some(kraken(book, spec, 10, true)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixed_point::parse_decimal;
    use crate::instrument::tests::def;
    use crate::instrument::InstrumentKind;
    use crate::types::{InstrumentId, Side, VenueId};

    fn book(spec: &InstrumentSpec, bids: &[(&str, &str)], asks: &[(&str, &str)]) -> L2Book {
        let mut b = L2Book::new(100);
        for (side, lv) in [(Side::Buy, bids), (Side::Sell, asks)] {
            for (p, q) in lv {
                let p = parse_decimal(p.as_bytes(), spec.price_dec).unwrap();
                let q = parse_decimal(q.as_bytes(), spec.qty_dec).unwrap();
                b.side_mut(side)
                    .set(Level {
                        px: p.value,
                        qty: q.value,
                        px_frac: p.frac,
                        qty_frac: q.frac,
                    })
                    .unwrap();
            }
        }
        b
    }

    fn spec(pd: u32, qd: u32) -> InstrumentSpec {
        let mut d = def("x", "X", InstrumentKind::Spot);
        d.price_decimals = Some(pd);
        d.qty_decimals = Some(qd);
        d.to_spec(InstrumentId(0), VenueId(0)).unwrap()
    }

    #[test]
    fn okx_doc_example_string() {
        // OKX doc: bids [3366.1,7],[3366,6]; asks [3366.8,9],[3368,8]
        // → "3366.1:7:3366.8:9:3366:6:3368:8", CRC32 signed −1881014294 (exchanges.md §3.2)
        let s = spec(8, 8);
        let b = book(
            &s,
            &[("3366.1", "7"), ("3366", "6")],
            &[("3366.8", "9"), ("3368", "8")],
        );
        assert_eq!(
            compute(ChecksumKind::Top25Interleaved, &b, &s),
            Some(-1881014294)
        );
        let want = crc32fast::hash(b"3366.1:7:3366.8:9:3366:6:3368:8") as i32 as i64;
        assert_eq!(want, -1881014294);
        // uneven sides: "3366.1:7:3366.8:9:3368:8:3372:8"
        let b = book(
            &s,
            &[("3366.1", "7")],
            &[("3366.8", "9"), ("3368", "8"), ("3372", "8")],
        );
        let want = crc32fast::hash(b"3366.1:7:3366.8:9:3368:8:3372:8") as i32 as i64;
        assert_eq!(compute(ChecksumKind::Top25Interleaved, &b, &s), Some(want));
    }

    #[test]
    fn kraken_v1_doc_example() {
        // Kraken v1 doc book: asks 0.05005 … 0.05050; bids 0.05000 … 0.04950 (the doc's book has
        // no 0.04985 level); every volume 0.00000500
        let s = spec(5, 8);
        let asks: Vec<(String, String)> = (0..10)
            .map(|i| (format!("0.0{}", 5005 + 5 * i), "0.00000500".to_string()))
            .collect();
        let bids: Vec<(String, String)> =
            [5000, 4995, 4990, 4980, 4975, 4970, 4965, 4960, 4955, 4950]
                .iter()
                .map(|p| (format!("0.0{p}"), "0.00000500".to_string()))
                .collect();
        let a: Vec<(&str, &str)> = asks.iter().map(|(p, q)| (p.as_str(), q.as_str())).collect();
        let bb: Vec<(&str, &str)> = bids.iter().map(|(p, q)| (p.as_str(), q.as_str())).collect();
        let b = book(&s, &bb, &a);
        assert_eq!(compute(ChecksumKind::Kraken10, &b, &s), Some(974947235));
        // v2 rule with precision 5/8 gives the same strings here
        assert_eq!(
            compute(ChecksumKind::Kraken10Fixed, &b, &s),
            Some(974947235)
        );
    }

    /// Kraken v2 doc examples (docs.kraken.com, guides/spot-ws-book-v2 and websocket-v2/book):
    /// v2 sends JSON numbers (`0.001`, trailing zeros gone), the checksum writes them at the
    /// instrument's precisions.
    #[test]
    fn kraken_v2_doc_examples() {
        let spec = |pd: u32, qd: u32| {
            let mut d = def("kraken", "X/Y", InstrumentKind::Spot);
            d.tick_size = format!("{}", 1.0 / 10f64.powi(pd as i32));
            d.lot_size = "0.00000001".into();
            d.price_decimals = Some(pd);
            d.qty_decimals = Some(qd);
            d.to_spec(InstrumentId(0), VenueId(0)).unwrap()
        };
        // BTC/USD, price precision 1, qty precision 8 → 3310070434
        let s = spec(1, 8);
        let asks = [
            ("45285.2", "0.001"),
            ("45286.4", "1.54571953"),
            ("45286.6", "1.54571109"),
            ("45289.6", "1.54560911"),
            ("45290.2", "0.1589066"),
            ("45291.8", "1.54553491"),
            ("45294.7", "0.04454749"),
            ("45296.1", "0.3538"),
            ("45297.5", "0.09945542"),
            ("45299.5", "0.18772827"),
        ];
        let bids = [
            ("45283.5", "0.1"),
            ("45283.4", "1.54582015"),
            ("45282.1", "0.1"),
            ("45281.0", "0.1"),
            ("45280.3", "1.54592586"),
            ("45279.0", "0.0799"),
            ("45277.6", "0.03310103"),
            ("45277.5", "0.3"),
            ("45277.3", "1.54602737"),
            ("45276.6", "0.15445238"),
        ];
        let b = book(&s, &bids, &asks);
        assert_eq!(
            compute(ChecksumKind::Kraken10Fixed, &b, &s),
            Some(3310070434)
        );
        // the doc's concatenated string, for the record
        let doc = concat!(
            "45285210000045286415457195345286615457110945289615456091145290215890660",
            "452918154553491452947445474945296135380000452975994554245299518772827",
            "452835100000004528341545820154528211000000045281010000000452803154592586",
            "452790799000045277633101034527753000000045277315460273745276615445238"
        );
        assert_eq!(crc32fast::hash(doc.as_bytes()), 3310070434);
        // with the digits as sent (v1 rule) the numbers would hash differently
        assert_ne!(compute(ChecksumKind::Kraken10, &b, &s), Some(3310070434));

        // MATIC/USD snapshot, price precision 4, qty precision 8 → 2439117997
        let s = spec(4, 8);
        let bids = [
            ("0.5666", "4831.75496356"),
            ("0.5665", "6658.22734739"),
            ("0.5664", "18724.91513344"),
            ("0.5663", "11563.92544914"),
            ("0.5662", "14006.65365711"),
            ("0.5661", "17454.85679807"),
            ("0.566", "18097.1547"),
            ("0.5659", "33644.89175666"),
            ("0.5658", "148.3464"),
            ("0.5657", "606.70854372"),
        ];
        let asks = [
            ("0.5668", "4410.79769741"),
            ("0.5669", "4655.40412487"),
            ("0.567", "49844.89424998"),
            ("0.5671", "24306.41678"),
            ("0.5672", "29783.25223475"),
            ("0.5673", "57234.71239278"),
            ("0.5674", "45065.04744"),
            ("0.5675", "5912.76380354"),
            ("0.5676", "42514.92434778"),
            ("0.5677", "36304.0847022"),
        ];
        let mut b = book(&s, &bids, &asks);
        assert_eq!(
            compute(ChecksumKind::Kraken10Fixed, &b, &s),
            Some(2439117997)
        );
        // its update: bid 0.5657 → 1098.3947558 → 2114181697
        b.bids
            .set(Level {
                px: 5657,
                qty: 109_839_475_580,
                px_frac: 4,
                qty_frac: 7,
            })
            .unwrap();
        assert_eq!(
            compute(ChecksumKind::Kraken10Fixed, &b, &s),
            Some(2114181697)
        );
    }
}
