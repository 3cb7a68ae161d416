//! stub
#![allow(missing_docs)]
pub mod instruments {
    pub fn parse_products(_t: &str, _v: &str) -> Result<Vec<crate::instrument::InstrumentDef>, String> { Err("todo".into()) }
}
pub fn check_venue(_v: &crate::config::VenueConfig) -> Result<(), (&'static str, String)> { Err(("exchange", "todo".into())) }
pub fn make_handler(_s: &crate::config::Setup, _v: crate::types::VenueId, _c: std::sync::Arc<crate::feed::VenueCounters>) -> Result<Box<dyn crate::feed::VenueHandler>, String> { Err("todo".into()) }
