//! The entry point: parse flags (with `--config`), start logging, turn the flags into settings,
//! run the command, and turn its outcome into an exit status: 0 all delivered, 2 finished with
//! rejected or unreadable input (see the summary), 1 could not run, 130 stopped by a signal
//! (re-run to finish). A second signal exits 130 at once, from `command/shutdown.rs`; every other
//! exit goes through here.

use clap::Parser;
use cloudtrail_es::cli::{config, Cli, Command, LogFormat};
use cloudtrail_es::command::{self, Outcome};
use cloudtrail_es::progress::escape_controls;
use std::io::IsTerminal;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let args = match config::expand_args(std::env::args_os().collect()) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("error: {}", escape_controls(&e.to_string()));
            return ExitCode::from(1);
        }
    };
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        // Bad flags exit 1 like every other reason not to run; --help and --version exit 0.
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::from(e.use_stderr()));
        }
    };
    init_logging(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Backfill(args) => command::backfill::run(args.settings()?).await,
            Command::Follow(args) => command::follow::run(args.settings()?).await,
            Command::Replay(args) => command::replay::run(args.settings()?).await,
            Command::Report(args) => command::report::run(args.settings()?).await,
            Command::Setup(args) => command::setup::run(args.settings()).await.map(|()| Outcome::default()),
        }
    });
    match result {
        Ok(outcome) if outcome.interrupted => ExitCode::from(130),
        Ok(outcome) if outcome.problems => ExitCode::from(2),
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", escape_controls(&format!("{e:#}")));
            ExitCode::from(1)
        }
    }
}

fn init_logging(cli: &Cli) {
    let default = match (cli.quiet, cli.verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("warn,cloudtrail_es={default}")));
    // Colours only for a person at a terminal who has not asked for none.
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| cloudtrail_es::progress::LogWriter)
        .with_target(false)
        .with_ansi(ansi);
    match cli.log_format {
        LogFormat::Text => builder.fmt_fields(cloudtrail_es::progress::text_fields()).init(),
        LogFormat::Json => builder.json().init(),
    }
}
