//! Bithumb's current public WebSocket (`protocol = "v1"`, the default):
//! `wss://ws-api.bithumb.com/websocket/v1`, Upbit-compatible: the same ticket/type/codes/format
//! request, the same `orderbook`/`trade`/`ticker` messages with `KRW-BTC` codes, in the DEFAULT
//! and SIMPLE field formats. They are parsed by Upbit's parser, [`crate::venues::upbit::wire`].
//!
//! Source: <https://apidocs.bithumb.com/reference/기본-정보>; `../shared/docs/exchanges.md`
//! §8.1.
//!
//! Documented shape (DEFAULT format):
//! ```text
//! {"type":"orderbook","code":"KRW-BTC","timestamp":1746601573804,"total_ask_size":4.79,"total_bid_size":2.65,"orderbook_units":[{"ask_price":137002000,"bid_price":137001000,"ask_size":0.106,"bid_size":0.037}],"stream_type":"REALTIME","level":0}
//! ```
#![forbid(unsafe_code)]

pub use crate::venues::upbit::wire::{parse, Kind, Msg};
