//! stub
#![allow(missing_docs)]
pub fn verify(_l: &[super::RecLine], _r: &mut super::VerifyReport) {}
pub fn verify_legacy(_l: &[super::RecLine], _r: &mut super::VerifyReport) {}
