//! `report`: one page (and a JSON document) that answers what people open CloudTrail logs for —
//! how much happened, what is still done by hand in the console, who did what, what was launched,
//! who signed in, what root did, what failed, from where, what is new — without a Kibana.
//!
//! - `spec.rs`: what is counted, once for both ways: scopes, tables and their cluster queries;
//! - `aggregate.rs` (+ `tally.rs`, `distinct.rs`, `layout.rs`): from files, counted by the reader
//!   threads in bounded memory;
//! - `cluster.rs`: from what is indexed, by aggregations;
//! - `findings.rs`: the Sigma findings (`--rules`), from the readers' matches or `PREFIX-findings-*`;
//! - `model.rs`: the report as data (`--json`); `page.rs`, `sections.rs`, `html.rs`, `svg.rs`: the page.
//!
//! The wiring (sources, readers, writing the files) is `command/report.rs`.

pub mod aggregate;
pub mod cluster;
pub mod distinct;
pub mod findings;
pub mod html;
mod layout;
pub mod model;
pub mod page;
mod sections;
pub mod spec;
pub mod svg;
pub mod tally;

pub use aggregate::{Aggregator, Event, Options, Shared};
pub use model::Report;
