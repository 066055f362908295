//! Transform: from one raw CloudTrail event to one bulk item (action line + document line).
//!
//! `document.rs` decides the `_id`, the `_index` and the document bytes; `timestamp.rs` reads the
//! event's time. Later steps (redaction, filtering) belong here too, each in a file of its own.

mod document;
mod timestamp;

pub use document::{encode_event, EventProblem, IndexNaming};
