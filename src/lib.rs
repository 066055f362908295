//! cloudtrail-es: AWS CloudTrail log files into Elasticsearch and OpenSearch.
//!
//! The code follows the data, one way:
//!
//! ```text
//! main.rs, cli/        the face: flags and --config become plain settings (cli/settings.rs)
//!   command/           wiring per command (backfill, follow, setup, replay, report), one shutdown, one outcome
//!     source/          where files come from (local, s3/, sqs/; dead_letter_reader/ for replay); emits each with its FileAck
//!     reader_pool.rs   the reader pool:
//!       decode/          bytes → raw events (gzip, streaming Records)
//!       transform/       raw event → document + routing (redaction, filters)
//!       detect/          Sigma rules on the raw event → findings (documents beside it)
//!       output/…/encode  the output's framing of each document (Frame)
//!     output/          where documents go (elasticsearch/, file.rs, queue.rs, alert/; dead_letter/ writes dead letters)
//!   cluster/           the one client to Elasticsearch/OpenSearch/Kibana, used by output/ and setup/
//!   setup/             templates, lifecycle policies, saved objects (library functions)
//!   report/            `report`: counts from files (readers) or a cluster (aggregations), the page
//! ```
//!
//! Acknowledgements flow back as values ([`ack`]): the source creates a file's ack and awaits its
//! receipt; the readers and the output settle it. [`backoff`] is the one retry policy; [`stats`]
//! counts everything, in one table of counters (`stats/table.rs`) from which the summary, the
//! progress line ([`progress`]) and `/metrics` ([`metrics`]) are produced,
//! and [`state`] remembers across runs the files finished (and those to replace; the refresh
//! settings a backfill relaxed are kept in the indices' `_meta`). `scripts/ci/check-imports.py`
//! (run by CI) fails on an import circle
//! among these files or a use of `cli` below the face.
//!
//! Where a change goes: a new input format → `decode/`; a new output → `output/` (a [`Frame`] for
//! its wire format and a sender, opened together in `command/indexing.rs`); request signing (SigV4) →
//! `cluster/signing.rs` (the signer: `cluster/sigv4.rs`, built in `command/client.rs`); a new
//! document shape → `transform/` (and its mapping in `mappings/`).
//!
//! [`Frame`]: output::batch::Frame

#![deny(missing_docs)]

pub mod ack;
pub mod aws;
pub mod backoff;
pub mod cli;
pub mod cluster;
pub mod command;
pub mod decode;
pub mod detect;
pub mod errors;
pub mod metrics;
pub mod output;
pub mod private_file;
pub mod progress;
pub mod reader_pool;
pub mod report;
pub mod setup;
pub mod source;
pub mod state;
pub mod stats;
pub mod transform;
