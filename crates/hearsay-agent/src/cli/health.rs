//! `hearsay health`: asks a local agent whether it runs, for container health checks.
//!
//! Exits 0 when `GET /v1/health` answers 200 with status `ok`, 1 otherwise (unreachable, an
//! error status, a garbled answer, no answer within the timeout). It needs no shell and no
//! other tool, so an image holding only the binary can use it:
//! `HEALTHCHECK CMD ["/hearsay", "health"]`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::api::HealthJson;
use crate::config::DEFAULT_HTTP;

/// Arguments of `hearsay health`.
#[derive(clap::Args, Debug)]
pub(crate) struct HealthArgs {
    /// The agent's HTTP address [env: HEARSAY_HTTP] [default: 127.0.0.1:7947].
    #[arg(long)]
    pub http: Option<String>,
    /// File holding a bearer token to send (the agent does not require one for health, a proxy
    /// in front of it may) [env: HEARSAY_HTTP_TOKEN_FILE].
    #[arg(long, value_name = "PATH")]
    pub http_token_file: Option<PathBuf>,
    /// Give up after this many milliseconds.
    #[arg(long, default_value_t = 5000)]
    pub timeout_ms: u64,
}

/// Runs `hearsay health`.
pub(crate) fn run(args: HealthArgs) -> ExitCode {
    match check(args) {
        Ok(health) => {
            println!("ok: {} generation {}", health.name, health.generation);
            ExitCode::SUCCESS
        }
        Err(reason) => {
            eprintln!("hearsay health: unhealthy: {reason}");
            ExitCode::from(1)
        }
    }
}

fn check(args: HealthArgs) -> Result<HealthJson, String> {
    let addr = args
        .http
        .or_else(|| std::env::var("HEARSAY_HTTP").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| DEFAULT_HTTP.to_string());
    let addr = addr.trim().trim_end_matches('/');
    let url = if addr.starts_with("http://") || addr.starts_with("https://") {
        format!("{addr}/v1/health")
    } else {
        format!("http://{addr}/v1/health")
    };
    let token_file = args
        .http_token_file
        .or_else(|| std::env::var_os("HEARSAY_HTTP_TOKEN_FILE").filter(|p| !p.is_empty()).map(PathBuf::from));
    let token = token_file
        .map(|path| {
            std::fs::read_to_string(&path)
                .map(|t| t.trim().to_string())
                .map_err(|e| format!("cannot read the HTTP token file {}: {e}", path.display()))
        })
        .transpose()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(args.timeout_ms))
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        let mut request = client.get(&url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| causes(&e))?;
        let status = response.status();
        let body = response.text().await.map_err(|e| causes(&e))?;
        if !status.is_success() {
            return Err(format!("{url} answered {status}: {}", body.trim()));
        }
        let health: HealthJson =
            serde_json::from_str(&body).map_err(|e| format!("{url} answered something else than health: {e}"))?;
        if health.status != "ok" {
            return Err(format!("{url} reports status `{}`", health.status));
        }
        Ok(health)
    })
}

/// The error with its causes ("error sending request for url (...): ...: Connection refused").
fn causes(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}
