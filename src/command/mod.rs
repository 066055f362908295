//! The commands' wiring: each command builds its stages from plain settings (filled in by
//! `cli/settings.rs`) and runs them — source → reader pool (decode → transform → framing) →
//! output, acknowledgements flowing back to the source.
//!
//! - `backfill.rs`, `follow.rs`, `setup.rs`, `replay.rs`, `report.rs`: one file per command;
//!   `lambda/` the AWS Lambda function (the runtime loop, and one invocation);
//! - `indexing.rs`: what backfill and follow share — the transform, the output (probing the
//!   cluster and installing templates before the output is built) and the readers;
//! - `client.rs`: the cluster client, with its SigV4 signer when asked for;
//! - `journal.rs`: backfill's record of finished files (`--state`), from their receipts;
//! - `shutdown.rs`: the one place signals are watched;
//! - [`Outcome`]: how a run ended, which `main.rs` turns into the exit status.

pub mod backfill;
pub mod client;
pub mod follow;
pub mod indexing;
mod journal;
pub mod lambda;
pub mod replay;
pub mod report;
pub mod setup;
pub mod shutdown;

/// How a run ended (when it could run at all).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Something was rejected or unreadable, or not every file finished: exit status 2.
    pub problems: bool,
    /// Stopped by a signal before the end, with work left for a re-run: exit status 130.
    pub interrupted: bool,
}
