//! The config loader: `arbot::config::parse` and `resolve` on any text. Errors are fine, panics
//! are not; every error names a key or a position.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(cfg) = arbot::config::parse(text, "fuzz.toml") else {
        return;
    };
    // relative paths resolve under a directory that holds nothing
    let base = std::path::Path::new("/nonexistent-arbot-fuzz");
    if let Err(e) = arbot::config::resolve(cfg, base) {
        assert!(!e.to_string().is_empty());
    }
});
