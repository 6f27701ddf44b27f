//! What the client subcommands share: the options every one takes, the runner that builds a
//! [`Client`] and reports failures, and the table layout.
//!
//! Each subcommand (`members`, `kv`, `get`, `set`, `delete`, `watch`, `join`, `leave`, `info`, `keys`)
//! lives in its own file and talks to an agent's HTTP API (`--http`, else `$HEARSAY_HTTP`, else
//! the default local address), with the bearer token of `--http-token-file` (else
//! `$HEARSAY_HTTP_TOKEN_FILE`) if the agent requires one, and prints a table for people or,
//! with `--json`, the API's JSON for scripts.
//! Failures print one line on stderr and exit with code 1.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::client::{Client, ClientError};
use crate::config::DEFAULT_HTTP;

/// Options every client subcommand takes.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct ClientOpts {
    /// The agent's HTTP address [env: HEARSAY_HTTP] [default: 127.0.0.1:7947].
    #[arg(long)]
    pub http: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// File holding the agent's bearer token (its `http_token_file`) [env: HEARSAY_HTTP_TOKEN_FILE].
    #[arg(long, value_name = "PATH")]
    pub http_token_file: Option<PathBuf>,
}

/// `hearsay leave` and `hearsay info`: nothing but the common options.
#[derive(clap::Args, Debug)]
pub(crate) struct PlainArgs {
    #[command(flatten)]
    pub(super) opts: ClientOpts,
}

/// Runs one client subcommand: `command` gets a client of the agent `opts` name.
pub(super) fn run(opts: &ClientOpts, command: impl AsyncFnOnce(&Client) -> Result<(), ClientError>) -> ExitCode {
    let addr = opts
        .http
        .clone()
        .or_else(|| std::env::var("HEARSAY_HTTP").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| DEFAULT_HTTP.to_string());
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("hearsay: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        let token = http_token(opts)?;
        let client = Client::new(&addr, token.as_deref())?;
        command(&client).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Server messages quote names and keys.
            eprintln!("hearsay: {}", printable(&e.to_string()));
            ExitCode::from(1)
        }
    }
}

/// The bearer token from `--http-token-file`, else `$HEARSAY_HTTP_TOKEN_FILE`, if either is set.
fn http_token(opts: &ClientOpts) -> Result<Option<String>, ClientError> {
    let path = opts
        .http_token_file
        .clone()
        .or_else(|| std::env::var_os("HEARSAY_HTTP_TOKEN_FILE").filter(|p| !p.is_empty()).map(PathBuf::from));
    let Some(path) = path else { return Ok(None) };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| ClientError::Other(format!("cannot read the HTTP token file {}: {e}", path.display())))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(ClientError::Other(format!("the HTTP token file {} is empty", path.display())));
    }
    Ok(Some(token.to_string()))
}

/// A payload argument: `-` reads standard input, anything else is taken as text, none is empty.
pub(super) fn read_payload(arg: Option<&str>) -> Result<Vec<u8>, ClientError> {
    match arg {
        Some("-") => {
            let mut buf = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
                .map_err(|e| ClientError::Other(format!("cannot read the payload from standard input: {e}")))?;
            Ok(buf)
        }
        Some(text) => Ok(text.as_bytes().to_vec()),
        None => Ok(Vec::new()),
    }
}

/// Prints `value` as pretty JSON (the `--json` output).
pub(super) fn print_json<T: serde::Serialize>(value: &T) -> Result<(), ClientError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| ClientError::Other(e.to_string()))?;
    println!("{text}");
    Ok(())
}

/// Lays out rows under a header, columns padded to their widest cell.
pub(super) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

/// `text` safe to print on a terminal: control characters (ESC, newlines...), other characters
/// that are not printable (bidi overrides...) and backslashes are escaped as in Rust strings
/// (`\u{1b}`, `\n`, `\\`); everything else, quotes included, is kept. Names, keys and
/// addresses come from any node of the cluster, and must not drive the operator's terminal.
pub(super) fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\'' || c == '"' {
            out.push(c);
        } else {
            out.extend(c.escape_debug());
        }
    }
    out
}

/// A value for a table cell: text as is (escaped, shortened), binary as `base64:...`.
pub(super) fn display_value(entry_value: &crate::api::ValueJson) -> String {
    let text = match (&entry_value.value, &entry_value.value_base64) {
        (Some(text), _) => text.escape_debug().to_string(),
        (None, Some(coded)) => format!("base64:{coded}"),
        (None, None) => String::new(),
    };
    if text.chars().count() > 60 { format!("{}…", text.chars().take(59).collect::<String>()) } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ValueJson;

    #[test]
    fn tables_align_columns() {
        let text = table(&["A", "LONGER"], &[vec!["xxxx".into(), "1".into()], vec!["y".into(), "22".into()]]);
        assert_eq!(text, "A     LONGER\nxxxx  1\ny     22\n");
    }

    #[test]
    fn printable_text_has_no_control_characters_left() {
        assert_eq!(printable("plain/key-é \"q\" 'q'"), "plain/key-é \"q\" 'q'");
        assert_eq!(printable("a\nb\rc\td"), "a\\nb\\rc\\td");
        assert_eq!(printable("\u{1b}[31mred\u{7}"), "\\u{1b}[31mred\\u{7}");
        assert_eq!(printable("back\\slash"), "back\\\\slash");
        assert_eq!(printable("rtl\u{202e}txt"), "rtl\\u{202e}txt");
        assert!(!printable("\u{9b}2J\u{0}").chars().any(char::is_control));
    }

    #[test]
    fn binary_and_long_values_are_readable_in_tables() {
        assert_eq!(display_value(&ValueJson::new(&[0xff, 0xfe])), "base64://4=");
        assert_eq!(display_value(&ValueJson::new(b"a\nb")), "a\\nb");
        assert_eq!(display_value(&ValueJson::new("x".repeat(100).as_bytes())).chars().count(), 60);
    }
}
