//! Hand-written scanner for the hottest Binance combined-stream messages (`bookTicker`,
//! `depthUpdate`, `trade`, `aggTrade` and the partial books `depth5/10/20`): one pass over the
//! bytes, straight into the same [`StreamMsg`] and [`Buffers`] as the sonic-rs path.
//!
//! It is a fast path, not a second parser with its own opinions: it accepts only what it can
//! read with certainty — `{"stream":"<sym>@<suffix>","data":{...}}` with plain (unescaped,
//! ASCII) strings, unsigned integers, booleans, decimal strings and `[["px","qty"],...]` level
//! arrays, keys at most once — and answers `None` for anything else (an unknown stream or
//! symbol, an escape, a nested value under an ignored key, a missing field, a value the
//! decimal parser refuses, trailing bytes), so the sonic-rs path decides every doubtful
//! message, errors included. Each key means what it means in the sonic-rs path's `DataSeed`
//! (same match arms, same order of effects). `tests/binance_scan.rs` shows both give the same
//! result on every message of every Binance recording; the `binance_scan` fuzz target does so
//! on mutated messages.
#![forbid(unsafe_code)]

use super::wire::{check_stream, StreamKind, StreamMsg};
use crate::book::Level;
use crate::fixed_point::{parse_decimal, Dec};
use crate::types::Side;
use crate::venues::seq_book::SeqLevel;
use crate::venues::symbols::SymbolTable;
use crate::venues::wire_util::{Buffers, Scale};

// Bits of [`StreamMsg::seen`]: the sonic-rs path's own constants.
use super::wire::{
    F_A, F_AQ, F_B, F_BQ, F_LEVELS_A, F_LEVELS_B, F_M, F_P, F_PU, F_Q, F_T, F_U, F_UU,
};
/// Keys that set no bit of their own (`E`), tracked only to refuse a repeat.
const K_E: u32 = 1 << 20;

struct Cur<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cur<'a> {
    #[inline(always)]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Skip whitespace, then expect `c`.
    #[inline(always)]
    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        if self.peek()? == c {
            self.i += 1;
            Some(())
        } else {
            None
        }
    }

    /// A plain string: ASCII, no escape, no control byte. Returns its bytes.
    #[inline(always)]
    fn string(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.i;
        loop {
            let c = *self.b.get(self.i)?;
            if c == b'"' {
                let s = &self.b[start..self.i];
                self.i += 1;
                return Some(s);
            }
            if c == b'\\' || !(0x20..0x80).contains(&c) {
                return None;
            }
            self.i += 1;
        }
    }

    /// The byte after a value must end it.
    #[inline(always)]
    fn delimited(&self) -> Option<()> {
        match self.peek()? {
            b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r' => Some(()),
            _ => None,
        }
    }

    /// An unsigned JSON integer (no sign, fraction, exponent or leading zero) that fits u64.
    #[inline(always)]
    fn uint(&mut self) -> Option<u64> {
        self.ws();
        let start = self.i;
        let mut v: u64 = 0;
        while let Some(&c) = self.b.get(self.i) {
            if !c.is_ascii_digit() {
                break;
            }
            v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
            self.i += 1;
        }
        let n = self.i - start;
        if n == 0 || (n > 1 && self.b[start] == b'0') {
            return None;
        }
        self.delimited()?;
        Some(v)
    }

    #[inline(always)]
    fn boolean(&mut self) -> Option<bool> {
        self.ws();
        let r = &self.b[self.i..];
        let v = if r.starts_with(b"true") {
            self.i += 4;
            true
        } else if r.starts_with(b"false") {
            self.i += 5;
            false
        } else {
            return None;
        };
        self.delimited()?;
        Some(v)
    }

    /// A decimal in a plain string, at `scale` decimals.
    #[inline(always)]
    fn dec(&mut self, scale: u32) -> Option<Dec> {
        let s = self.string()?;
        parse_decimal(s, scale).ok()
    }

    /// A JSON number, checked against the grammar (skipped).
    fn number(&mut self) -> Option<()> {
        let b = self.b;
        let digits = |i: &mut usize| {
            let s = *i;
            while b.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i - s
        };
        let mut i = self.i;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        let int_start = i;
        let n = digits(&mut i);
        if n == 0 || (n > 1 && b[int_start] == b'0') {
            return None;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            if digits(&mut i) == 0 {
                return None;
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if digits(&mut i) == 0 {
                return None;
            }
        }
        self.i = i;
        self.delimited()
    }

    /// Skip a scalar value (string, number, true/false/null); arrays and objects are left to
    /// the sonic-rs path.
    fn skip_scalar(&mut self) -> Option<()> {
        self.ws();
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            b't' | b'f' => self.boolean().map(|_| ()),
            b'n' => {
                if self.b[self.i..].starts_with(b"null") {
                    self.i += 4;
                    self.delimited()
                } else {
                    None
                }
            }
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    /// `[["px","qty"],...]`: each level through `keep`; more than `room` levels is left to
    /// the sonic-rs path (which refuses it).
    #[inline(always)]
    fn levels(&mut self, sc: Scale, room: usize, mut keep: impl FnMut(Level)) -> Option<()> {
        self.eat(b'[')?;
        self.ws();
        if self.peek()? == b']' {
            self.i += 1;
            return Some(());
        }
        let mut n = 0usize;
        loop {
            if n == room {
                return None;
            }
            self.eat(b'[')?;
            let px = self.dec(sc.price_dec)?;
            self.eat(b',')?;
            let qty = self.dec(sc.qty_dec)?;
            self.eat(b']')?;
            if px.value <= 0 || qty.value < 0 {
                return None;
            }
            keep(Level {
                px: px.value,
                qty: qty.value,
                px_frac: px.frac,
                qty_frac: qty.frac,
            });
            n += 1;
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}

/// Scan one combined-stream message. `Some` only for a message the scanner reads completely
/// and that passes the sonic-rs path's required-field check, with exactly that path's result;
/// `None` otherwise (the caller then runs the sonic-rs path, which may still accept it).
/// `levels` is cleared either way.
#[inline]
pub fn scan_stream(raw: &[u8], symbols: &SymbolTable, levels: &mut Buffers) -> Option<StreamMsg> {
    levels.changes.clear();
    levels.bids.clear();
    levels.asks.clear();
    let mut c = Cur { b: raw, i: 0 };
    c.eat(b'{')?;
    if c.string()? != b"stream" {
        return None;
    }
    c.eat(b':')?;
    let name = c.string()?;
    let at = name.iter().position(|&x| x == b'@')?;
    let (sym, suffix) = (&name[..at], &name[at + 1..]);
    let kind = StreamKind::from_suffix(std::str::from_utf8(suffix).ok()?);
    if kind == StreamKind::Other {
        return None;
    }
    let (inst, sc) = symbols.find(sym)?;
    c.eat(b',')?;
    if c.string()? != b"data" {
        return None;
    }
    c.eat(b':')?;
    let mut m = StreamMsg {
        kind,
        inst,
        ..StreamMsg::default()
    };
    data(&mut c, sc, &mut m, levels)?;
    c.eat(b'}')?;
    c.ws();
    if c.i != raw.len() {
        return None;
    }
    check_stream(m).ok()
}

/// The `data` object: each key as the sonic-rs path's `DataSeed` reads it.
#[inline(always)]
fn data(c: &mut Cur<'_>, sc: Scale, m: &mut StreamMsg, lv: &mut Buffers) -> Option<()> {
    let depth = m.kind == StreamKind::Depth;
    let partial = m.kind == StreamKind::PartialDepth;
    let agg = m.kind == StreamKind::AggTrade;
    c.eat(b'{')?;
    c.ws();
    if c.peek()? == b'}' {
        c.i += 1;
        return Some(());
    }
    let mut keys = 0u32;
    loop {
        let k = c.string()?;
        c.eat(b':')?;
        // a repeated key is left to the sonic-rs path
        let bit = match k {
            b"lastUpdateId" if partial => F_UU,
            b"bids" if partial => F_LEVELS_B,
            b"asks" if partial => F_LEVELS_A,
            b"U" => F_U,
            b"u" => F_UU,
            b"pu" => F_PU,
            b"E" => K_E,
            b"b" if partial || depth => F_LEVELS_B,
            b"a" if partial || depth => F_LEVELS_A,
            b"b" => F_B,
            b"B" => F_BQ,
            b"a" if agg => F_T,
            b"a" => F_A,
            b"A" => F_AQ,
            b"t" => F_T,
            b"p" => F_P,
            b"q" => F_Q,
            b"m" => F_M,
            _ => 0,
        };
        if bit != 0 {
            if keys & bit != 0 {
                return None;
            }
            keys |= bit;
        }
        match k {
            b"lastUpdateId" if partial => {
                m.last_id = c.uint()?;
                m.seen |= F_UU;
            }
            b"bids" if partial => {
                let room = lv.bids.capacity();
                c.levels(sc, room, |l| lv.bids.push(l))?;
                m.seen |= F_LEVELS_B;
            }
            b"asks" if partial => {
                let room = lv.asks.capacity();
                c.levels(sc, room, |l| lv.asks.push(l))?;
                m.seen |= F_LEVELS_A;
            }
            b"U" => {
                m.first_id = c.uint()?;
                m.seen |= F_U;
            }
            b"u" => {
                m.last_id = c.uint()?;
                m.seen |= F_UU;
            }
            b"pu" => {
                m.prev_id = Some(c.uint()?);
                m.seen |= F_PU;
            }
            b"E" => m.event_ms = c.uint()?,
            b"b" | b"a" if partial => {
                let (out, seen) = if k == b"b" {
                    (&mut lv.bids, F_LEVELS_B)
                } else {
                    (&mut lv.asks, F_LEVELS_A)
                };
                let room = out.capacity();
                c.levels(sc, room, |l| out.push(l))?;
                m.seen |= seen;
            }
            b"b" | b"a" if depth => {
                let (side, seen) = if k == b"b" {
                    (Side::Buy, F_LEVELS_B)
                } else {
                    (Side::Sell, F_LEVELS_A)
                };
                // both sides share one buffer: the room left is what the sonic path has
                let room = lv.changes.capacity() - lv.changes.len();
                let out = &mut lv.changes;
                c.levels(sc, room, |lvl| out.push(SeqLevel { side, lvl, seq: 0 }))?;
                m.seen |= seen;
            }
            b"b" => {
                m.bid_px = c.dec(sc.price_dec)?.value;
                m.seen |= F_B;
            }
            b"B" => {
                m.bid_qty = c.dec(sc.qty_dec)?.value;
                m.seen |= F_BQ;
            }
            b"a" if agg => {
                m.trade_id = c.uint()?;
                m.seen |= F_T;
            }
            b"a" => {
                m.ask_px = c.dec(sc.price_dec)?.value;
                m.seen |= F_A;
            }
            b"A" => {
                m.ask_qty = c.dec(sc.qty_dec)?.value;
                m.seen |= F_AQ;
            }
            b"t" => {
                m.trade_id = c.uint()?;
                m.seen |= F_T;
            }
            b"p" => {
                m.px = c.dec(sc.price_dec)?.value;
                m.seen |= F_P;
            }
            b"q" => {
                m.qty = c.dec(sc.qty_dec)?.value;
                m.seen |= F_Q;
            }
            b"m" => {
                m.buyer_maker = c.boolean()?;
                m.seen |= F_M;
            }
            _ => c.skip_scalar()?,
        }
        c.ws();
        match c.peek()? {
            b',' => c.i += 1,
            b'}' => {
                c.i += 1;
                return Some(());
            }
            _ => return None,
        }
    }
}
