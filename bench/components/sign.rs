//! Order signing: HMAC-SHA256 with `ring` (what `OrderEncoder` uses) vs RustCrypto `hmac` +
//! `sha2`, on a real order query as arbot builds it, and the whole request encoding.
//!
//! `performance.md` warns that RustCrypto `sha2` under fat LTO + `-C target-cpu=native` cost
//! 12–22 µs per HMAC on this machine kind; this runs the profile arbot ships (fat LTO, one
//! codegen unit, no `target-cpu=native`). Measured on the 2-vCPU build VM: in that profile
//! RustCrypto takes ~0.77× ring's time (~225 vs ~295 ns, SHA-NI detected at run time); with
//! `RUSTFLAGS="-C target-cpu=native"` it took 19–22 µs against ring's ~0.22–0.27 µs (85×).
//! arbot keeps ring: ~70 ns per leg is not worth a cliff that one common build flag opens.

use arbot::exec::SIM_KEY;
use arbot::types::Side;
use arbot::venues::binance::orders::{OrderEncoder, OrderFields, OrderKind};
use arbot::venues::binance::Market;
use criterion::Criterion;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::hint::black_box;

fn fields(i: u64) -> OrderFields<'static> {
    OrderFields {
        symbol: "BTCUSDT",
        side: if i % 2 == 0 { Side::Buy } else { Side::Sell },
        kind: OrderKind::LimitIoc,
        qty: 16_170_000 + i as i64, // 0.16170000 BTC at 8 decimals
        qty_dec: 8,
        px: 6_183_763 + i as i64, // 61837.63 at 2 decimals
        price_dec: 2,
        client_id: 1_000 + i,
        timestamp_ms: 1_723_161_255_343 + i,
        recv_window_ms: 5000,
    }
}

pub fn bench(c: &mut Criterion) {
    let mut enc = OrderEncoder::new(Market::Spot, "simulated", SIM_KEY);
    enc.encode(&fields(0));
    let body = enc.body().to_vec();
    let cut = body
        .windows(11)
        .position(|w| w == b"&signature=")
        .expect("signed body");
    let query = body[..cut].to_vec();
    let ring_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SIM_KEY);
    let rc_key = <Hmac<Sha256> as KeyInit>::new_from_slice(SIM_KEY).expect("any key length");
    // same tag from both
    let a = ring::hmac::sign(&ring_key, &query);
    let mut m = rc_key.clone();
    m.update(&query);
    assert_eq!(a.as_ref(), m.finalize().into_bytes().as_slice());
    println!(
        "sign: query of {} bytes: {}",
        query.len(),
        String::from_utf8_lossy(&query)
    );

    let mut g = c.benchmark_group("sign/hmac_sha256_order_query");
    g.bench_function("ring", |b| {
        b.iter(|| ring::hmac::sign(&ring_key, black_box(&query)))
    });
    g.bench_function("rustcrypto_hmac_sha2", |b| {
        b.iter(|| {
            // a pre-keyed state cloned per message, as ring's Key keeps the padded key state
            let mut m = rc_key.clone();
            m.update(black_box(&query));
            m.finalize().into_bytes()
        })
    });
    g.finish();
    let mut g = c.benchmark_group("sign/order_encode");
    let mut i = 0u64;
    g.bench_function("arbot_order_encoder_full_request", |b| {
        b.iter(|| {
            i += 1;
            enc.encode(black_box(&fields(i & 1023))).len()
        })
    });
    g.finish();
}
