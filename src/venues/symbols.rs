//! Symbols and asset codes shared by the venue adapters (R1.5).
//!
//! Inside the engine an instrument is `BASE/QUOTE` + venue + kind
//! ([`crate::instrument::InstrumentSpec::internal_name`], e.g. `BTC/USDT@okx:spot`); each spec
//! also keeps the venue's own symbol, which is what the wire carries:
//!
//! | venue | spot | linear perp | inverse perp | dated future |
//! |---|---|---|---|---|
//! | OKX | `BTC-USDT` | `BTC-USDT-SWAP` | `BTC-USD-SWAP` | `BTC-USD-220527` |
//! | Bybit v5 | `BTCUSDT` (category spot) | `BTCUSDT` (category linear) | `BTCUSD` (inverse) | `BTCUSDH25` |
//! | Coinbase | `BTC-USD` | | | |
//! | Kraken | WS v1 `XBT/USD`, WS v2 `BTC/USD`, REST key `XXBTZUSD` | | | |
//!
//! Asset codes are normalised to one spelling with [`normalize_asset`] (Kraken `XBT`/`XXBT` →
//! `BTC`, `XDG` → `DOGE`, `ZUSD` → `USD`). USD, USDT and USDC stay distinct assets: they are
//! only treated as one where a config group says so (`equivalent_quotes`).
//!
//! [`SymbolTable`] is the hot-path look-up from a wire symbol to the handler's instrument
//! index: a linear scan over a handful of byte strings (no hashing, no allocation).
#![forbid(unsafe_code)]

use crate::types::InstrumentId;
use crate::venues::wire_util::Scale;

/// One instrument served by a venue handler.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstrumentRef {
    /// Engine id.
    pub id: InstrumentId,
    /// The venue's symbol as it appears on the wire (`BTC-USDT`, `XBT/USD`, `BTCUSDT`).
    pub symbol: String,
    /// Price/quantity decimals.
    pub scale: Scale,
}

/// Wire symbol → handler index: a linear scan (no hashing, no allocation). Exact byte
/// comparison by default; [`SymbolTable::case_insensitive`] for venues whose wire spells a
/// symbol in another case than the config (Binance stream names `btcusdt@depth`), and
/// [`SymbolTable::with_aliases`] for venues with a second spelling (Bithumb `BTC_KRW` for
/// `KRW-BTC`).
#[derive(Clone, Debug, Default)]
pub struct SymbolTable {
    refs: Vec<InstrumentRef>,
    /// Another accepted spelling per instrument (`""` = none), same length as `refs`.
    aliases: Vec<String>,
    fold_case: bool,
}

impl SymbolTable {
    /// A table over `refs` (handler index = position), exact comparison, no aliases.
    pub fn new(refs: Vec<InstrumentRef>) -> SymbolTable {
        SymbolTable {
            aliases: vec![String::new(); refs.len()],
            refs,
            fold_case: false,
        }
    }

    /// The same table, comparing symbols with ASCII case ignored.
    pub fn case_insensitive(mut self) -> SymbolTable {
        self.fold_case = true;
        self
    }

    /// The same table, also accepting `alias(symbol)` for each instrument (an empty alias
    /// accepts nothing more).
    pub fn with_aliases(mut self, alias: impl Fn(&str) -> String) -> SymbolTable {
        self.aliases = self.refs.iter().map(|r| alias(&r.symbol)).collect();
        self
    }

    #[inline(always)]
    fn same(&self, name: &str, sym: &[u8]) -> bool {
        if self.fold_case {
            name.as_bytes().eq_ignore_ascii_case(sym)
        } else {
            name.as_bytes() == sym
        }
    }

    /// Index and scale of the first instrument whose symbol (or alias) is `sym`.
    #[inline]
    pub fn find(&self, sym: impl AsRef<[u8]>) -> Option<(usize, Scale)> {
        let sym = sym.as_ref();
        self.refs
            .iter()
            .zip(&self.aliases)
            .position(|(r, a)| self.same(&r.symbol, sym) || (!a.is_empty() && self.same(a, sym)))
            .map(|k| (k, self.refs[k].scale))
    }

    /// Handler index of the instrument with engine id `id`.
    #[inline]
    pub fn index_of(&self, id: InstrumentId) -> Option<usize> {
        self.refs.iter().position(|r| r.id == id)
    }

    /// The instrument at handler index `k`.
    #[inline]
    pub fn get(&self, k: usize) -> &InstrumentRef {
        &self.refs[k]
    }

    /// Number of instruments.
    pub fn len(&self) -> usize {
        self.refs.len()
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.refs.is_empty()
    }

    /// All instruments, by handler index.
    pub fn iter(&self) -> impl Iterator<Item = &InstrumentRef> {
        self.refs.iter()
    }
}

/// One spelling per asset across venues: upper case; Kraken's legacy codes mapped
/// (`XBT`, `XXBT` → `BTC`; `XDG`, `XXDG` → `DOGE`; X/Z-prefixed four-letter codes of the
/// REST `AssetPairs` list such as `XETH`, `ZUSD`, `ZEUR` → `ETH`, `USD`, `EUR`).
/// Stablecoins are not merged (`USDT` ≠ `USDC` ≠ `USD`).
pub fn normalize_asset(code: &str) -> String {
    let c = code.trim().to_ascii_uppercase();
    let c = match c.as_str() {
        // Kraken asset-class prefixes on the classic four-letter codes
        "XXBT" | "XBT" | "XBT.M" => return "BTC".into(),
        "XXDG" | "XDG" => return "DOGE".into(),
        "XETH" | "XETC" | "XLTC" | "XXLM" | "XXMR" | "XXRP" | "XZEC" | "XMLN" | "XREP" | "ZUSD"
        | "ZEUR" | "ZGBP" | "ZJPY" | "ZCAD" | "ZAUD" => c[1..].to_string(),
        _ => c,
    };
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venues::testing::iref;

    #[test]
    fn assets_map_to_one_spelling() {
        assert_eq!(normalize_asset("XBT"), "BTC");
        assert_eq!(normalize_asset("XXBT"), "BTC");
        assert_eq!(normalize_asset("xdg"), "DOGE");
        assert_eq!(normalize_asset("ZUSD"), "USD");
        assert_eq!(normalize_asset("XETH"), "ETH");
        assert_eq!(normalize_asset("XXMR"), "XMR");
        assert_eq!(normalize_asset("usdt"), "USDT");
        assert_eq!(normalize_asset("USDC"), "USDC");
        // four-letter codes that merely start with X or Z are left alone
        assert_eq!(normalize_asset("XTZ"), "XTZ");
        assert_eq!(normalize_asset("ZRX"), "ZRX");
        assert_eq!(normalize_asset("ZEC"), "ZEC");
    }

    #[test]
    fn table_finds_exact_symbols() {
        let t = SymbolTable::new(vec![
            iref(3, "BTC-USDT", 1, 8),
            InstrumentRef {
                id: InstrumentId(4),
                symbol: "BTC-USDT-SWAP".into(),
                scale: Scale::default(),
            },
        ]);
        assert_eq!(t.find(b"BTC-USDT").map(|x| x.0), Some(0));
        assert_eq!(t.find(b"BTC-USDT-SWAP").map(|x| x.0), Some(1));
        assert_eq!(t.find(b"btc-usdt"), None);
        assert_eq!(t.get(1).id, InstrumentId(4));
        assert_eq!(t.index_of(InstrumentId(4)), Some(1));
        assert_eq!(t.index_of(InstrumentId(5)), None);
    }

    #[test]
    fn case_insensitive_tables_and_aliases() {
        let r = |id: u16, s: &str| InstrumentRef {
            id: InstrumentId(id),
            symbol: s.into(),
            scale: Scale::default(),
        };
        let t = SymbolTable::new(vec![r(0, "BTCUSDT"), r(1, "ETHUSDT")]).case_insensitive();
        assert_eq!(t.find("btcusdt").map(|x| x.0), Some(0));
        assert_eq!(t.find(b"ETHUSDT").map(|x| x.0), Some(1));
        assert_eq!(t.find("btcusd"), None);
        let swap = |s: &str| match s.split_once('_') {
            Some((b, q)) => format!("{q}-{b}"),
            None => String::new(),
        };
        let t = SymbolTable::new(vec![r(0, "GOM2_KRW"), r(1, "KRW-BTC")])
            .case_insensitive()
            .with_aliases(swap);
        assert_eq!(t.find("KRW-GOM2").map(|x| x.0), Some(0), "alias");
        assert_eq!(t.find("gom2_krw").map(|x| x.0), Some(0));
        assert_eq!(t.find("krw-btc").map(|x| x.0), Some(1));
        assert_eq!(t.find("BTC_KRW"), None, "an empty alias accepts nothing");
        let exact = SymbolTable::new(vec![r(0, "GOM2_KRW")]).with_aliases(swap);
        assert_eq!(exact.find("KRW-GOM2").map(|x| x.0), Some(0));
        assert_eq!(exact.find("krw-gom2"), None);
    }
}
