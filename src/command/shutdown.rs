//! Signals, in one place: the first SIGINT (Ctrl-C) or SIGTERM asks the run to stop — stop taking
//! new work and finish what is in flight — by cancelling a token; a second one quits at once with
//! exit status 130. Every command that runs long uses this, so `backfill` and `follow` stop alike.

use anyhow::Context;
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;
use tracing::{error, warn};

/// What to say when asked to stop, and when asked a second time.
pub struct Messages {
    /// Logged at the first signal.
    pub stopping: &'static str,
    /// Logged at the second, just before exiting.
    pub quitting: &'static str,
}

/// Watches SIGINT and SIGTERM for the rest of the process; returns the token the first one
/// cancels.
pub fn watch(messages: Messages) -> anyhow::Result<CancellationToken> {
    let stop = CancellationToken::new();
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let token = stop.clone();
    tokio::spawn(async move {
        tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
        warn!("{}", messages.stopping);
        token.cancel();
        tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
        error!("{}", messages.quitting);
        std::process::exit(130);
    });
    Ok(stop)
}
/// Cancels `cancel` at the first signal (the second still quits: see [`watch`]).
pub fn cancel_on_signal(cancel: &CancellationToken, messages: Messages) -> anyhow::Result<()> {
    let stop = watch(messages)?;
    let cancel = cancel.clone();
    tokio::spawn(async move {
        stop.cancelled().await;
        cancel.cancel();
    });
    Ok(())
}
