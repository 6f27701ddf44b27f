//! `hearsay agent`: parse flags and the config file, set up logging, run the daemon.
//! Exit codes: 0 after a graceful leave, 2 for a bad configuration or store or a name a live
//! member already holds, 1 otherwise.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::agent::{self, AgentError};
use crate::config::{self, AgentOptions, AgentSettings, LogFormat};

/// Arguments of `hearsay agent`.
#[derive(clap::Args, Debug)]
pub(crate) struct AgentArgs {
    /// TOML config file; flags override its fields (see docs/agent.md).
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub options: AgentOptions,
}

/// Resolves flags and file into settings; the message of the error names the field.
pub(crate) fn settings(args: AgentArgs) -> Result<AgentSettings, config::ConfigProblem> {
    let file = match &args.config {
        Some(path) => config::read_file(path)?,
        None => AgentOptions::default(),
    };
    config::resolve(args.options.or(file))
}

/// Installs the global tracing subscriber (logs go to stderr).
pub(crate) fn init_logging(format: LogFormat, filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| "info".into());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Runs `hearsay agent`.
pub(crate) fn run(args: AgentArgs) -> ExitCode {
    let settings = match settings(args) {
        Ok(settings) => settings,
        Err(problem) => {
            eprintln!("hearsay agent: {problem}");
            return ExitCode::from(2);
        }
    };
    init_logging(settings.log_format, &settings.log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("hearsay agent: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(agent::run(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(AgentError::Setup(e)) => {
            tracing::error!(error = %format!("{e:#}"), "cannot start");
            eprintln!("hearsay agent: {e:#}");
            ExitCode::from(2)
        }
        Err(AgentError::NameTaken(message)) => {
            // Logged at error level when it happened.
            eprintln!("hearsay agent: {message}");
            ExitCode::from(2)
        }
        Err(AgentError::Runtime(e)) => {
            tracing::error!(error = %format!("{e:#}"), "agent failed");
            eprintln!("hearsay agent: {e:#}");
            ExitCode::from(1)
        }
    }
}
