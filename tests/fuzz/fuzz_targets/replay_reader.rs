//! The replay file reader (both layouts, plain and gzip) and the merge of two files.
//!
//! Input: byte 0 = layout (bits 0–1: auto, ns-json, cryptofeed) and gzip (bit 2; the rest is
//! then compressed as is, so the fuzzer also reaches the gzip decoder with broken streams);
//! the rest = the file. It is replayed alone and merged with itself.
#![no_main]

use arbot::replay::{for_each_merged, ReplayFile, ReplayFormat};
use arbot::types::{InstrumentId, VenueId};
use libfuzzer_sys::fuzz_target;
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let format = match sel & 3 {
        1 => ReplayFormat::NsJson,
        2 => ReplayFormat::Cryptofeed,
        _ => ReplayFormat::Auto,
    };
    let gz = sel & 4 != 0;
    // the reader takes paths: the input goes through a file, in memory where /dev/shm exists
    // (a disk-backed /tmp held this target to ~700 executions/s)
    let shm = std::path::Path::new("/dev/shm");
    let tmp = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let dir = tmp.join(format!("arbot-fuzz-replay-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(if gz { "f.gz" } else { "f.txt" });
    {
        let Ok(mut f) = std::fs::File::create(&path) else {
            return;
        };
        if gz && sel & 8 == 0 {
            let mut w = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
            let _ = w.write_all(body);
            let _ = w.finish();
        } else {
            let _ = f.write_all(body);
        }
    }
    let one = ReplayFile {
        path: path.clone(),
        venue: VenueId(0),
        format,
        // two symbols, so recorder lines `<ns> snapshot:<SYMBOL> <body>` are resolved too
        instruments: vec![
            ("BTCUSDT".to_string(), InstrumentId(0)),
            ("ETHUSDT".to_string(), InstrumentId(1)),
        ],
    };
    let two = ReplayFile {
        venue: VenueId(1),
        ..one.clone()
    };
    let mut n = 0u64;
    let _ = for_each_merged(std::slice::from_ref(&one), |_, _, m| n += m.len() as u64);
    let _ = for_each_merged(&[one, two], |_, _, m| n += m.len() as u64);
    std::hint::black_box(n);
});
