//! Sinks: where bulk items go. Either a cluster (`elasticsearch.rs`, through the one client layer
//! in `client.rs`) or an NDJSON file (`file.rs`). Both settle each event's acknowledgement, and both
//! send what cannot be delivered to the dead-letter file (`dead_letter.rs`).

pub mod batch;
pub mod bulk;
pub mod client;
pub mod dead_letter;
pub mod elasticsearch;
pub mod file;
pub mod retry;
