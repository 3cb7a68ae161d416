//! No allocation in the Upbit, Bithumb, KuCoin, Gate.io and Bitget parsers and book code:
//! every message of the five recordings (REST snapshots included) goes through the venue
//! handler and the detection-side books inside a hot section of a counting global allocator.
//! Buffers are created before the section, as the engine creates them at start.

use crate::common;

use arbot::book::Market;
use arbot::feed::{EventSink, VenueCounters, VenueHandler};
use arbot::ring::RawMeta;
use arbot::tools::verify::{self, session};
use arbot::types::VenueId;
use arbot::venues::wire_util::Scale;
use std::sync::Arc;

struct Case {
    name: &'static str,
    handler: Box<dyn VenueHandler>,
    market: Market,
    input: Vec<(u64, u32, Vec<u8>)>,
}

fn case(file: &str, name: &'static str, sc: Scale) -> Case {
    let p = common::data(&format!("recorded/{file}"));
    let lines = verify::read_recording(&p).unwrap();
    let mut http = Vec::new();
    for c in verify::http_companions(&p) {
        http.extend(verify::read_recording(&c).unwrap());
    }
    let syms: Vec<String> = match name {
        "upbit" => verify::upbit::codes(&lines),
        "bithumb" => verify::bithumb::symbols(&lines),
        "kucoin" => verify::kucoin::symbols(&lines, &http),
        "gateio" => verify::gateio::pairs(&lines, &http),
        _ => verify::bitget::inst_ids(&lines),
    };
    let specs = session::specs(name, &syms, sc);
    let refs = session::refs(&specs);
    let c = Arc::new(VenueCounters::default());
    let handler: Box<dyn VenueHandler> = match name {
        "upbit" => Box::new(arbot::venues::upbit::UpbitHandler::new(
            VenueId(0),
            refs,
            arbot::venues::upbit::Upbit::new(),
            c,
        )),
        "bithumb" => Box::new(arbot::venues::bithumb::BithumbHandler::new(
            VenueId(0),
            refs,
            arbot::venues::bithumb::Bithumb::new(arbot::venues::bithumb::Feed::Legacy),
            c,
        )),
        "kucoin" => Box::new(arbot::venues::kucoin::KucoinHandler::new(
            VenueId(0),
            refs,
            arbot::venues::kucoin::Kucoin::new(&arbot::venues::kucoin::LIMITS),
            c,
        )),
        "gateio" => Box::new(arbot::venues::gateio::GateHandler::new(
            VenueId(0),
            refs,
            arbot::venues::gateio::Gate::new(&arbot::venues::gateio::LIMITS),
            c,
        )),
        _ => Box::new(arbot::venues::bitget::BitgetHandler::new(
            VenueId(0),
            refs,
            arbot::venues::bitget::Bitget::new(),
            c,
        )),
    };
    let snap = |url: &str| {
        let s = session::query_param(url, "symbol")?;
        syms.iter().position(|x| x == s).map(|i| i as u16)
    };
    let input = session::inputs(&lines, &http, &snap)
        .into_iter()
        .map(|(t, tg, d)| (t, tg, d.to_vec()))
        .collect();
    let n = specs.len();
    Case {
        name,
        handler,
        market: Market::from_specs(specs, 1, &vec![5000; n]),
        input,
    }
}

#[test]
fn venue_handlers_and_books_do_not_allocate() {
    let _serial = common::alloc::exclusive();
    let s = |p, q| Scale {
        price_dec: p,
        qty_dec: q,
    };
    let mut cases = vec![
        case("UPBIT.ws.62.0", "upbit", s(8, 8)),
        case("BITHUMB.ws.1.0", "bithumb", s(8, 8)),
        case("KUCOIN.ws.1.0", "kucoin", s(10, 8)),
        case("GATEIO.ws.1.0", "gateio", s(10, 10)),
        case("BITGET.ws.1.0", "bitget", s(10, 10)),
    ];
    let mut events = Vec::with_capacity(1 << 16);
    let mut total_msgs = 0u64;
    for c in &mut cases {
        let before = common::alloc::hot();
        arbot::alloc_probe::enter_hot();
        for (seq, (t, tg, data)) in c.input.iter().enumerate() {
            events.clear();
            let meta = RawMeta {
                recv_ns: *t,
                tag: *tg,
                seq: seq as u64,
            };
            let mut sink = EventSink::to_vec(&mut events);
            sink.begin(VenueId(0), &meta, 0);
            c.handler.on_message(data, &meta, &mut sink);
            sink.end();
            for ev in &events {
                c.market.apply(ev, &mut |_| {});
            }
        }
        arbot::alloc_probe::leave_hot();
        let n = common::alloc::hot() - before;
        assert_eq!(n, 0, "{}: {n} allocations on the hot path", c.name);
        let cnt = c.handler.counters();
        assert_eq!(VenueCounters::get(&cnt.parse_errors), 0, "{}", c.name);
        total_msgs += c.input.len() as u64;
    }
    assert!(total_msgs > 6000, "{total_msgs}");
    assert_eq!(
        cases[4].market.health[0].checksums_ok, 443,
        "the run did the book work"
    );
    // the probe works in this binary
    arbot::alloc_probe::enter_hot();
    let v: Vec<u8> = Vec::with_capacity(8);
    std::hint::black_box(&v);
    arbot::alloc_probe::leave_hot();
    assert!(common::alloc::hot() >= 1);
}
