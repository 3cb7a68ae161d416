//! `verify-book` on the real recordings of every venue, one module per group of venues:
//! the venues' real parsers and the engine's books, expectations counted independently from
//! the files, and damaged copies whose faults the checks must catch.

#[path = "../common/mod.rs"]
mod common;

mod okx_kraken_coinbase_bybit_binance;
mod upbit_bithumb_kucoin_gateio_bitget;
