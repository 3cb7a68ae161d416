//! Order signing: HMAC-SHA256 with `ring` (what the Binance order encoder uses) vs RustCrypto
//! `hmac` + `sha2`, on a real order query as arbot builds it. The whole request encoding is not
//! benchmarked here: encoders can only be called by the execution step with an approval
//! (`arbot::exec::SendToken`); its cost is the `order_encode` stage of `cargo bench --bench e2e`.
//!
//! `performance.md` warns that RustCrypto `sha2` under fat LTO + `-C target-cpu=native` cost
//! 12–22 µs per HMAC on this machine kind; this runs the profile arbot ships (fat LTO, one
//! codegen unit, no `target-cpu=native`). Measured on the 2-vCPU build VM: in that profile
//! RustCrypto takes ~0.77× ring's time (~225 vs ~295 ns, SHA-NI detected at run time); with
//! `RUSTFLAGS="-C target-cpu=native"` it took 19–22 µs against ring's ~0.22–0.27 µs (85×).
//! arbot keeps ring: ~70 ns per leg is not worth a cliff that one common build flag opens.

use arbot::exec::SIM_KEY;
use criterion::Criterion;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::hint::black_box;

pub fn bench(c: &mut Criterion) {
    // the query arbot's Binance encoder signs for a 0.1617 BTC IOC sell at 61837.63 (see
    // `venues::binance::orders` and its unit test for the exact layout)
    let query = b"symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=IOC&quantity=0.16170000&price=61837.63&newClientOrderId=arb1000&recvWindow=5000&timestamp=1723161255343".to_vec();
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
}
