//! Core pinning (R7.4) via `core_affinity`. The core list is read once at start, before any
//! thread pins itself (`get_core_ids()` after pinning returns only the current mask).
#![forbid(unsafe_code)]

use std::sync::OnceLock;

static CORES: OnceLock<Vec<usize>> = OnceLock::new();

/// Cores this process may use (read once).
pub fn available_cores() -> &'static [usize] {
    CORES.get_or_init(|| {
        core_affinity::get_core_ids()
            .map(|v| v.into_iter().map(|c| c.id).collect())
            .unwrap_or_default()
    })
}

/// Pin the calling thread to `core`; returns false (and leaves it unpinned) if the core is
/// not available.
pub fn pin(core: Option<usize>) -> bool {
    let Some(c) = core else { return false };
    if !available_cores().contains(&c) {
        return false;
    }
    core_affinity::set_for_current(core_affinity::CoreId { id: c })
}
