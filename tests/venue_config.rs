//! Config for the Upbit/Bithumb/KuCoin/Gate.io/Bitget venues and the `[premium]` section:
//! instrument files from the recorded `NAME.0` responses resolve, and every mistake is an error
//! that names its key.

mod common;

use arbot::config::{parse, resolve, Setup};
use std::path::Path;

fn setup(text: &str) -> Result<Setup, String> {
    let cfg = parse(text, "t.toml").map_err(|e| e.to_string())?;
    resolve(cfg, Path::new(env!("CARGO_MANIFEST_DIR"))).map_err(|e| e.to_string())
}

fn recorded(name: &str) -> String {
    common::data(&format!("recorded/{name}"))
        .display()
        .to_string()
}

fn base() -> String {
    format!(
        r#"
mode = "replay"
[replay]
files = [{{ venue = "upbit", path = "Cargo.toml" }}]
[venues.upbit]
exchange = "upbit"
taker_fee_bps = 5.0
book_levels = 5000
[venues.bithumb]
exchange = "bithumb"
protocol = "legacy"
taker_fee_bps = 4.0
book_levels = 5000
[venues.kucoin]
exchange = "kucoin"
taker_fee_bps = 10.0
book_levels = 5000
[venues.gate]
exchange = "gateio"
taker_fee_bps = 20.0
book_levels = 5000
[venues.bitget]
exchange = "bitget"
taker_fee_bps = 10.0
book_levels = 5000
[[instrument_files]]
venue = "upbit"
path = "{up}"
symbols = ["KRW-LAMB", "KRW-WAVES", "BTC-XTZ"]
[[instrument_files]]
venue = "bithumb"
path = "{bt}"
symbols = ["GOM2_KRW", "BTC_KRW"]
[[instrument_files]]
venue = "kucoin"
path = "{ku}"
symbols = ["BTC-USDT", "SNX-BTC"]
[[instrument_files]]
venue = "gate"
path = "{ga}"
symbols = ["BTC_USDT", "NEO_BTC"]
[[instrument_files]]
venue = "bitget"
path = "{bg}"
symbols = ["BTCUSDT", "CULTUSDT"]
[[instruments]]
venue = "upbit"
symbol = "KRW-USDT"
base = "USDT"
quote = "KRW"
tick_size = "0.5"
lot_size = "0.00000001"
[[instruments]]
venue = "upbit"
symbol = "KRW-BTC"
base = "BTC"
quote = "KRW"
tick_size = "1000"
lot_size = "0.00000001"
"#,
        up = recorded("UPBIT.0"),
        bt = recorded("BITHUMB.0"),
        ku = recorded("KUCOIN.0"),
        ga = recorded("GATEIO.0"),
        bg = recorded("BITGET.0"),
    )
}

const PREMIUM: &str = r#"
[premium]
rate = { book = "upbit:KRW-USDT" }
band_low_pct = -1.0
band_high_pct = 3.0
pairs = [
  { krw = "upbit:KRW-BTC", usdt = "kucoin:BTC-USDT" },
  { krw = "upbit:KRW-BTC", usdt = "gate:BTC_USDT" },
  { krw = "upbit:KRW-BTC", usdt = "bitget:BTCUSDT" },
]
"#;

#[test]
fn new_venues_and_premium_resolve() {
    let s = setup(&format!("{}{PREMIUM}", base())).unwrap();
    assert_eq!(s.venues.len(), 5);
    assert_eq!(s.instruments.len(), 13);
    let names: Vec<String> = s.instruments.iter().map(|i| i.internal_name()).collect();
    for n in [
        "LAMB/KRW@upbit:spot",
        "GOM2/KRW@bithumb:spot",
        "BTC/USDT@kucoin:spot",
        "NEO/BTC@gate:spot",
        "CULT/USDT@bitget:spot",
    ] {
        assert!(names.iter().any(|x| x == n), "{n} in {names:?}");
    }
    let p = s.premium.as_ref().unwrap();
    assert_eq!(p.pairs.len(), 3);
    assert_eq!(
        p.max_age_ns, s.cfg.risk.stale_after_ns,
        "default: the risk staleness limit"
    );
    assert_eq!(p.band.0.to_num::<f64>(), -100.0);
    assert_eq!(p.band.1.to_num::<f64>(), 300.0);
    assert!(p.rate_label.contains("upbit:KRW-USDT"));
    // every new venue gets a handler from the registry
    for v in &s.venues {
        let h = s.handler(v.id, Default::default());
        assert!(h.is_ok(), "{}", v.name);
    }
    // and a connection protocol built from the same config
    let id = |n: &str| s.venue_id(n).unwrap();
    let up = s.protocol(id("upbit")).unwrap();
    assert!(
        up.subscribe_frames(0)[0]
            .contains(r#""codes":["KRW-USDT","KRW-BTC","KRW-LAMB","KRW-WAVES","BTC-XTZ"]"#),
        "{:?}",
        up.subscribe_frames(0)
    );
    let bt = s.protocol(id("bithumb")).unwrap();
    assert_eq!(
        bt.ws_urls(),
        vec!["wss://pubwss.bithumb.com/pub/ws".to_string()],
        "protocol = legacy"
    );
    assert!(bt.subscribe_frames(0)[0].contains(r#"["GOM2_KRW","BTC_KRW"]"#));
    let ku = s.protocol(id("kucoin")).unwrap();
    assert!(ku.pre_connect().is_some());
    assert!(ku.subscribe_frames(0)[0].contains("/market/level2:BTC-USDT,SNX-BTC"));
    let ga = s.protocol(id("gate")).unwrap();
    let btc_usdt = s
        .instruments
        .iter()
        .find(|i| i.symbol == "BTC_USDT")
        .unwrap()
        .id;
    assert!(ga
        .snapshot_url(btc_usdt)
        .unwrap()
        .contains("currency_pair=BTC_USDT"));
    let bg = s.protocol(id("bitget")).unwrap();
    assert!(bg.subscribe_frames(0)[0].contains(r#""instId":"CULTUSDT""#));
    let fixed = PREMIUM.replace(
        r#"rate = { book = "upbit:KRW-USDT" }"#,
        "rate = { fixed_krw_per_usdt = 1380.5 }",
    );
    let s = setup(&format!("{}{fixed}", base())).unwrap();
    assert_eq!(
        s.premium.unwrap().rate,
        arbot::detect::premium::RateSource::Fixed(arbot::detect::premium::Px {
            v: 138_050_000_000,
            dec: 8
        })
    );
}

fn err(text: String) -> String {
    setup(&text).unwrap_err()
}

#[test]
fn mistakes_name_their_key() {
    let b = base();
    let p = |from: &str, to: &str| format!("{b}{}", PREMIUM.replace(from, to));
    let e = err(p(
        r#"rate = { book = "upbit:KRW-USDT" }"#,
        r#"rate = { book = "upbit:KRW-USDT", fixed_krw_per_usdt = 1.0 }"#,
    ));
    assert!(e.contains("premium.rate"), "{e}");
    let e = err(p(r#"rate = { book = "upbit:KRW-USDT" }"#, "rate = {}"));
    assert!(e.contains("premium.rate"), "{e}");
    let e = err(p(
        r#"rate = { book = "upbit:KRW-USDT" }"#,
        "rate = { fixed_krw_per_usdt = -5.0 }",
    ));
    assert!(e.contains("premium.rate.fixed_krw_per_usdt"), "{e}");
    let e = err(p(
        r#"rate = { book = "upbit:KRW-USDT" }"#,
        r#"rate = { book = "upbit:KRW-BTC" }"#,
    ));
    assert!(
        e.contains("premium.rate.book") && e.contains("USDT quoted in KRW"),
        "{e}"
    );
    let e = err(p(
        r#"rate = { book = "upbit:KRW-USDT" }"#,
        r#"rate = { book = "upbit:KRW-ETH" }"#,
    ));
    assert!(
        e.contains("premium.rate.book") && e.contains("not a configured instrument"),
        "{e}"
    );
    let e = err(p(
        r#"rate = { book = "upbit:KRW-USDT" }"#,
        r#"rate = { books = "upbit:KRW-USDT" }"#,
    ));
    assert!(e.contains("books"), "unknown key named: {e}");
    let e = err(p("band_high_pct = 3.0", "band_high_pct = -3.0"));
    assert!(e.contains("premium.band_low_pct"), "{e}");
    let e = err(p("band_high_pct = 3.0\n", ""));
    assert!(e.contains("band_high_pct"), "{e}");
    let e = err(p(
        r#"{ krw = "upbit:KRW-BTC", usdt = "kucoin:BTC-USDT" }"#,
        r#"{ krw = "kucoin:BTC-USDT", usdt = "kucoin:BTC-USDT" }"#,
    ));
    assert!(
        e.contains("premium.pairs[0].krw") && e.contains("KRW"),
        "{e}"
    );
    let e = err(p(
        r#"{ krw = "upbit:KRW-BTC", usdt = "gate:BTC_USDT" }"#,
        r#"{ krw = "upbit:KRW-BTC", usdt = "upbit:KRW-LAMB" }"#,
    ));
    assert!(
        e.contains("premium.pairs[1].usdt") && e.contains("USDT"),
        "{e}"
    );
    let e = err(p(
        r#"{ krw = "upbit:KRW-BTC", usdt = "bitget:BTCUSDT" }"#,
        r#"{ krw = "upbit:KRW-BTC", usdt = "bitget:CULTUSDT" }"#,
    ));
    assert!(
        e.contains("premium.pairs[2].usdt") && e.contains("base CULT"),
        "{e}"
    );
    let e = err(p(
        "band_low_pct = -1.0",
        "band_low_pct = -1.0\nmax_age_ns = 0",
    ));
    assert!(e.contains("premium.max_age_ns"), "{e}");
    let e = err(p("band_low_pct", "band_lo_pct"));
    assert!(e.contains("band_lo_pct"), "{e}");
    // venue keys
    let e = err(b.replace("protocol = \"legacy\"", "protocol = \"v3\""));
    assert!(e.contains("venues.bithumb.protocol"), "{e}");
    // the feed generation is not a market
    let e = err(b.replace("protocol = \"legacy\"", "market = \"legacy\""));
    assert!(e.contains("venues.bithumb.market"), "{e}");
    let e = err(b.replace(
        "exchange = \"kucoin\"",
        "exchange = \"kucoin\"\nmarket = \"spot\"",
    ));
    assert!(e.contains("venues.kucoin.market"), "{e}");
    let e = err(b.replace(
        "symbols = [\"BTC_USDT\", \"NEO_BTC\"]",
        "symbols = [\"BTC_USDX\"]",
    ));
    assert!(
        e.contains("instrument_files[3].symbols") && e.contains("BTC_USDX"),
        "{e}"
    );
}
