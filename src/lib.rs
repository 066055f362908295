//! cloudtrail-es: AWS CloudTrail log files into Elasticsearch and OpenSearch.
//!
//! The code follows the data: [`source`] finds log files, [`decode`] streams their events,
//! [`transform`] turns each into a bulk item, [`pipeline`] runs those stages on reader threads and
//! fills batches, and [`sink`] delivers them (to a cluster or a file). [`ack`] carries each file's
//! completion back from the sink; [`stats`] counts everything for the summary, [`progress`]
//! shows it while a run goes, and [`state`] remembers finished files across runs.
//! [`backfill`] and [`follow`] wire them together for their commands.

#![deny(missing_docs)]

pub mod ack;
pub mod aws;
pub mod backfill;
pub mod cli;
pub mod config;
pub mod decode;
pub mod errors;
pub mod follow;
pub mod metrics;
pub mod pipeline;
pub mod private_file;
pub mod progress;
pub mod setup;
pub mod sink;
pub mod source;
pub mod state;
pub mod stats;
pub mod transform;
