//! No allocation when signing after warm-up: each venue's signer (built once per key, as order
//! entry builds it at start) signs 200 requests of varying timestamps inside a hot section.

use crate::common;

use arbot::venues::{bitget, bithumb, bybit, coinbase, gateio, kraken, kucoin, okx, upbit};

#[test]
fn signing_allocates_nothing_after_warm_up() {
    let _g = common::alloc::exclusive();
    let body = r#"{"instId":"BTC-USDT","tdMode":"cash","clOrdId":"arb17","side":"buy","ordType":"ioc","px":"61729.6","sz":"0.01"}"#;
    let mut okx = okx::orders::OkxSigner::new(b"secret");
    let mut bybit = bybit::orders::BybitSigner::new(b"secret");
    let mut kucoin = kucoin::orders::KucoinSigner::new(b"secret");
    let mut bitget = bitget::orders::BitgetSigner::new(b"secret");
    let mut gate = gateio::orders::GateSigner::new(b"secret");
    let mut kraken = kraken::orders::KrakenSigner::new(b"c2VjcmV0c2VjcmV0").unwrap();
    let mut jwt = upbit::orders::KrwJwtSigner::new("access", b"secret");
    let mut legacy = bithumb::orders::LegacySigner::new(b"secret");
    let pem = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIN81hrk7Jjb4AAVNGYO3YM94CQG+zs6ZzDkRO9/r1K+ToAoGCCqGSM49\nAwEHoUQDQgAEfbSLIVihOJqAfZU3fv8e9cDwQDoDXRgs4iFV1+QNXA+XwDHeNOyd\nE2mps/l12XlzSvH2GMGP8+DV5lxhGo+IFg==\n-----END EC PRIVATE KEY-----\n";
    let mut cb =
        coinbase::orders::CoinbaseSigner::new("organizations/o/apiKeys/k", pem.as_bytes()).unwrap();
    let mut sink = 0usize;
    let mut round = |ts: u64, sink: &mut usize| {
        *sink += okx.sign(ts, "POST", "/api/v5/trade/order", body).1.len();
        *sink += bybit.sign(ts, "key", 5000, body).len();
        *sink += kucoin.sign(ts, "POST", "/api/v1/orders", body).len();
        *sink += bitget
            .sign(
                ts,
                "GET",
                "/api/v2/spot/trade/orderInfo",
                "symbol=BTCUSDT",
                "",
            )
            .len();
        *sink += gate
            .sign("POST", "/api/v4/spot/orders", "", body, ts / 1000)
            .len();
        *sink += kraken
            .sign(
                "/0/private/AddOrder",
                "1616492376594",
                "nonce=1616492376594&pair=XBTUSD",
            )
            .len();
        *sink += jwt
            .token(
                "4e1c2a80-7d3b-4f6e-9a51-0c8b2d7e6f19",
                Some(ts),
                Some("market=KRW-BTC&side=bid"),
            )
            .len();
        *sink += cb
            .token(
                "POST api.coinbase.com/api/v3/brokerage/orders",
                ts / 1000,
                "0123456789abcdef",
            )
            .unwrap()
            .len();
        *sink += legacy
            .sign(
                "/trade/place",
                "endpoint=%2Ftrade%2Fplace&units=0.01",
                "1700000000000",
            )
            .len();
    };
    // warm-up: buffers reach their working size
    round(1_700_000_000_000, &mut sink);
    let before = common::alloc::hot();
    arbot::alloc_probe::enter_hot();
    for i in 0..200u64 {
        round(1_700_000_000_000 + i * 7_919, &mut sink);
    }
    arbot::alloc_probe::leave_hot();
    let hot = common::alloc::hot() - before;
    assert!(sink > 0);
    assert_eq!(
        hot, 0,
        "signing allocated {hot} times in 200 rounds of 9 venues"
    );
}
