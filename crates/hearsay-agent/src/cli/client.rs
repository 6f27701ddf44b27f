//! The client subcommands: `members`, `kv`, `get`, `set`, `delete`, `watch`, `leave`, `info`,
//! `keys`.
//!
//! Each talks to an agent's HTTP API (`--http`, else `$HEARSAY_HTTP`, else the default local
//! address), with the bearer token of `--http-token-file` (else `$HEARSAY_HTTP_TOKEN_FILE`) if
//! the agent requires one, and prints a table for people or, with `--json`, the API's JSON for
//! scripts.
//! Failures print one line on stderr and exit with code 1.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use hearsay_core::Key;

use crate::api::{EntryJson, EventJson, MemberJson};
use crate::client::{Client, ClientError};
use crate::config::DEFAULT_HTTP;

/// Options every client subcommand takes.
#[derive(clap::Args, Debug, Clone)]
pub struct ClientOpts {
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

/// `hearsay members`.
#[derive(clap::Args, Debug)]
pub struct MembersArgs {
    #[command(flatten)]
    opts: ClientOpts,
}

/// `hearsay kv`.
#[derive(clap::Args, Debug)]
pub struct KvArgs {
    /// Only this node's keys.
    #[arg(long)]
    node: Option<String>,
    /// Only keys starting with this.
    #[arg(long)]
    prefix: Option<String>,
    #[command(flatten)]
    opts: ClientOpts,
}

/// `hearsay get NODE KEY`.
#[derive(clap::Args, Debug)]
pub struct GetArgs {
    /// Owner of the key.
    node: String,
    /// The key.
    key: String,
    #[command(flatten)]
    opts: ClientOpts,
}

/// `hearsay set KEY VALUE`.
#[derive(clap::Args, Debug)]
pub struct SetArgs {
    /// The key (owned by the agent's node).
    key: String,
    /// The value; `-` reads it from standard input.
    value: String,
    /// Delete the key after this many seconds.
    #[arg(long)]
    ttl: Option<u64>,
    #[command(flatten)]
    opts: ClientOpts,
}

/// `hearsay delete KEY`.
#[derive(clap::Args, Debug)]
pub struct DeleteArgs {
    /// The key (owned by the agent's node).
    key: String,
    #[command(flatten)]
    opts: ClientOpts,
}

/// `hearsay watch`.
#[derive(clap::Args, Debug)]
pub struct WatchArgs {
    /// Only key changes for keys starting with this (membership events always show).
    #[arg(long)]
    prefix: Option<String>,
    #[command(flatten)]
    opts: ClientOpts,
}

/// What `hearsay keys` does.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeysAction {
    /// Show the key fingerprints.
    List,
    /// Install a key on every node (accepted for opening packets).
    Install,
    /// Make an installed key the primary (sealing) key on every node.
    Use,
    /// Remove a key from every node.
    Remove,
}

/// `hearsay keys [ACTION] [-] [--key-file PATH | --key-literal KEY]`.
///
/// The key never has to appear on the command line, where every local user sees it in `ps`
/// and the shell keeps it in its history: it is read from a file or from standard input.
#[derive(clap::Args, Debug)]
pub struct KeysArgs {
    /// list, install, use or remove.
    #[arg(value_enum, default_value = "list")]
    action: KeysAction,
    /// `-` reads the key from standard input. A key itself is refused here (see --key-literal).
    #[arg(value_name = "-", conflicts_with_all = ["key_file", "key_literal"])]
    key: Option<String>,
    /// Read the key (64 hex digits; blank and `#` lines ignored) from this file; `-` reads
    /// standard input.
    #[arg(long, value_name = "PATH", conflicts_with = "key_literal")]
    key_file: Option<PathBuf>,
    /// UNSAFE: the key itself as an argument, visible to every local user in `ps` and kept in
    /// shell history. Prefer --key-file.
    #[arg(long, value_name = "KEY")]
    key_literal: Option<String>,
    #[command(flatten)]
    opts: ClientOpts,
}

/// Where `hearsay keys` reads a key from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum KeySource {
    Stdin,
    File(PathBuf),
    Literal(String),
}

impl KeysArgs {
    /// The key's source, checked: `list` takes none, the other actions exactly one, and a key
    /// given as a plain argument is refused rather than silently exposed.
    fn key_source(&self) -> Result<Option<KeySource>, ClientError> {
        let source = match (&self.key, &self.key_file, &self.key_literal) {
            (Some(dash), _, _) if dash == "-" => Some(KeySource::Stdin),
            (Some(_), _, _) => {
                return Err(ClientError::Other(
                    "refusing a key given as an argument: other users can read it in `ps`; use \
                     --key-file PATH, `-` (standard input) or, if you must, --key-literal KEY"
                        .into(),
                ));
            }
            (None, Some(path), _) if path.as_os_str() == "-" => Some(KeySource::Stdin),
            (None, Some(path), _) => Some(KeySource::File(path.clone())),
            (None, None, Some(key)) => Some(KeySource::Literal(key.clone())),
            (None, None, None) => None,
        };
        match (self.action, source) {
            (KeysAction::List, None) => Ok(None),
            (KeysAction::List, Some(_)) => Err(ClientError::Other("`keys list` takes no key".into())),
            (_, None) => Err(ClientError::Other(
                "this action needs a key: --key-file PATH, `-` (standard input) or --key-literal KEY".into(),
            )),
            (_, source) => Ok(source),
        }
    }
}

/// The one key in `text` (a key file or standard input): blank lines and `#` comments are
/// ignored. Errors never repeat the text, which may hold a secret.
fn key_from_text(text: &str, origin: &str) -> Result<Key, ClientError> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'));
    let (Some(line), None) = (lines.next(), lines.next()) else {
        return Err(ClientError::Other(format!("{origin} must hold exactly one key (64 hex digits)")));
    };
    Key::parse(line).map_err(|e| ClientError::Other(format!("{origin}: {e}")))
}

fn read_key(source: KeySource) -> Result<Key, ClientError> {
    match source {
        KeySource::Stdin => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .map_err(|e| ClientError::Other(format!("cannot read the key from standard input: {e}")))?;
            key_from_text(&text, "standard input")
        }
        KeySource::File(path) => {
            let origin = format!("key file {}", path.display());
            let text =
                std::fs::read_to_string(&path).map_err(|e| ClientError::Other(format!("cannot read {origin}: {e}")))?;
            key_from_text(&text, &origin)
        }
        KeySource::Literal(text) => key_from_text(&text, "--key-literal"),
    }
}

/// `hearsay leave` and `hearsay info`.
#[derive(clap::Args, Debug)]
pub struct PlainArgs {
    #[command(flatten)]
    opts: ClientOpts,
}

/// One client subcommand.
#[derive(Debug)]
pub enum Request {
    /// `members`
    Members(MembersArgs),
    /// `kv`
    Kv(KvArgs),
    /// `get`
    Get(GetArgs),
    /// `set`
    Set(SetArgs),
    /// `delete`
    Delete(DeleteArgs),
    /// `watch`
    Watch(WatchArgs),
    /// `leave`
    Leave(PlainArgs),
    /// `info`
    Info(PlainArgs),
    /// `keys`
    Keys(KeysArgs),
}

impl Request {
    fn opts(&self) -> &ClientOpts {
        match self {
            Request::Members(a) => &a.opts,
            Request::Kv(a) => &a.opts,
            Request::Get(a) => &a.opts,
            Request::Set(a) => &a.opts,
            Request::Delete(a) => &a.opts,
            Request::Watch(a) => &a.opts,
            Request::Leave(a) | Request::Info(a) => &a.opts,
            Request::Keys(a) => &a.opts,
        }
    }
}

/// Runs a client subcommand.
pub fn run(request: Request) -> ExitCode {
    let opts = request.opts().clone();
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
        let token = http_token(&opts)?;
        let client = Client::new(&addr, token.as_deref())?;
        execute(&client, request, opts.json).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hearsay: {e}");
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

fn print_json<T: serde::Serialize>(value: &T) -> Result<(), ClientError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| ClientError::Other(e.to_string()))?;
    println!("{text}");
    Ok(())
}

async fn execute(client: &Client, request: Request, json: bool) -> Result<(), ClientError> {
    match request {
        Request::Members(_) => {
            let members = client.members().await?;
            if json {
                print_json(&members)
            } else {
                print!("{}", members_table(&members));
                Ok(())
            }
        }
        Request::Kv(a) => {
            let entries = client.kv(a.node.as_deref(), a.prefix.as_deref()).await?;
            if json {
                print_json(&entries)
            } else {
                print!("{}", kv_table(&entries));
                Ok(())
            }
        }
        Request::Get(a) => {
            let entry = client.get(&a.node, &a.key).await?;
            if json {
                return print_json(&entry);
            }
            match (&entry.value.value, entry.value.bytes()) {
                (Some(text), _) => println!("{text}"),
                // Binary values go to stdout as they are, so `hearsay get n k > file` works.
                (None, Some(bytes)) => {
                    let mut out = std::io::stdout();
                    out.write_all(&bytes).and_then(|_| out.flush()).map_err(|e| ClientError::Other(e.to_string()))?;
                }
                (None, None) => return Err(ClientError::Other("the agent sent a value that cannot be decoded".into())),
            }
            Ok(())
        }
        Request::Set(a) => {
            let value = if a.value == "-" {
                let mut buf = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
                    .map_err(|e| ClientError::Other(format!("cannot read the value from standard input: {e}")))?;
                buf
            } else {
                a.value.into_bytes()
            };
            let written = client.set(&a.key, value, a.ttl).await?;
            if json {
                print_json(&written)
            } else {
                println!("{}: set `{}` at version {}", written.node, written.key, written.version);
                Ok(())
            }
        }
        Request::Delete(a) => {
            let written = client.delete(&a.key).await?;
            if json {
                print_json(&written)
            } else {
                println!("{}: deleted `{}` at version {}", written.node, written.key, written.version);
                Ok(())
            }
        }
        Request::Watch(a) => {
            client
                .watch(a.prefix.as_deref(), |event, raw| {
                    if json {
                        println!("{raw}");
                    } else {
                        println!("{}", describe_event(event));
                    }
                    let _ = std::io::stdout().flush();
                })
                .await?;
            Err(ClientError::Other("the agent closed the event stream".into()))
        }
        Request::Leave(_) => {
            let answer = client.leave().await?;
            if json {
                print_json(&answer)
            } else {
                let node = answer.get("node").and_then(|n| n.as_str()).unwrap_or("the node");
                println!("{node} left the cluster");
                Ok(())
            }
        }
        Request::Keys(a) => {
            let ring = match a.key_source()? {
                None => client.keyring().await?,
                Some(source) => {
                    let key = read_key(source)?;
                    let op = match a.action {
                        KeysAction::Install => "install",
                        KeysAction::Use => "use",
                        _ => "remove",
                    };
                    client.keyring_change(op, &key.to_hex()).await?
                }
            };
            if json {
                return print_json(&ring);
            }
            if !ring.enabled {
                println!("encryption is off on this agent");
                return Ok(());
            }
            for fingerprint in &ring.keys {
                let primary = ring.primary.as_deref() == Some(fingerprint.as_str());
                println!("{fingerprint}{}", if primary { "  (primary)" } else { "" });
            }
            Ok(())
        }
        Request::Info(_) => {
            let info = client.info().await?;
            if json {
                return print_json(&info);
            }
            println!("name:          {}", info.name);
            println!("generation:    {}", info.generation);
            println!("gossip addr:   {}", info.addr);
            println!("http addr:     {}", info.http.as_deref().unwrap_or("-"));
            println!("store:         {}", info.store.as_deref().unwrap_or("none (not persisted)"));
            println!("encryption:    {}", if info.encrypted { "on" } else { "off" });
            println!("version:       {}", info.version);
            println!("uptime:        {} s", info.uptime_secs);
            let members: Vec<String> = info.members.iter().map(|(s, n)| format!("{n} {s}")).collect();
            println!("members:       {}", members.join(", "));
            println!("own keys:      {} (max_version {})", info.own_keys, info.max_version);
            println!("rounds:        {}", info.rounds);
            println!("messages:      {} sent, {} received", info.messages_sent, info.messages_received);
            println!("bytes:         {} sent, {} received", info.bytes_sent, info.bytes_received);
            println!("dropped:       {}", info.dropped);
            println!("config:");
            for (k, v) in &info.config {
                println!("  {k} = {v}");
            }
            Ok(())
        }
    }
}

/// Lays out rows under a header, columns padded to their widest cell.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
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

fn members_table(members: &[MemberJson]) -> String {
    let rows: Vec<Vec<String>> = members
        .iter()
        .map(|m| {
            vec![
                if m.is_self { format!("{} *", m.name) } else { m.name.clone() },
                m.status.clone(),
                match (m.is_self, m.phi) {
                    (true, _) => "-".to_string(),
                    (false, Some(phi)) => format!("{phi:.2}"),
                    (false, None) => "inf".to_string(),
                },
                m.generation.to_string(),
                m.addr.clone(),
                m.max_version.to_string(),
                m.live_keys.to_string(),
            ]
        })
        .collect();
    table(&["NAME", "STATUS", "PHI", "GENERATION", "ADDR", "MAX_VERSION", "KEYS"], &rows)
}

/// A value for a table cell: text as is (escaped, shortened), binary as `base64:...`.
fn display_value(entry_value: &crate::api::ValueJson) -> String {
    let text = match (&entry_value.value, &entry_value.value_base64) {
        (Some(text), _) => text.escape_debug().to_string(),
        (None, Some(coded)) => format!("base64:{coded}"),
        (None, None) => String::new(),
    };
    if text.chars().count() > 60 { format!("{}…", text.chars().take(59).collect::<String>()) } else { text }
}

fn kv_table(entries: &[EntryJson]) -> String {
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| vec![e.node.clone(), e.key.clone(), e.version.to_string(), display_value(&e.value)])
        .collect();
    table(&["NODE", "KEY", "VERSION", "VALUE"], &rows)
}

fn describe_event(e: &EventJson) -> String {
    let who = format!("{}#{}@{}", e.node, e.generation, e.addr);
    match e.kind.as_str() {
        "key_changed" => {
            let key = e.key.as_deref().unwrap_or("");
            let version = e.version.unwrap_or(0);
            if e.deleted == Some(true) {
                format!("key_changed   {} {key} deleted (version {version})", e.node)
            } else {
                format!("key_changed   {} {key} = {} (version {version})", e.node, display_value(&e.value))
            }
        }
        "member_suspect" => format!("{:<13} {who} (phi {:.2})", e.kind, e.phi.unwrap_or(0.0)),
        kind => format!("{kind:<13} {who}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ValueJson;

    fn keys_args(args: &[&str]) -> Result<KeysArgs, clap::Error> {
        #[derive(clap::Parser)]
        struct Wrapper {
            #[command(flatten)]
            keys: KeysArgs,
        }
        let mut all = vec!["keys"];
        all.extend_from_slice(args);
        <Wrapper as clap::Parser>::try_parse_from(all).map(|w| w.keys)
    }

    #[test]
    fn keys_come_from_a_file_or_stdin_and_a_literal_only_when_insisted_on() {
        let key = "ab".repeat(32);
        let source = |args: &[&str]| keys_args(args).unwrap().key_source();
        assert_eq!(source(&[]).unwrap(), None);
        assert_eq!(source(&["list"]).unwrap(), None);
        assert_eq!(source(&["install", "-"]).unwrap(), Some(KeySource::Stdin));
        assert_eq!(source(&["use", "--key-file", "-"]).unwrap(), Some(KeySource::Stdin));
        assert_eq!(source(&["remove", "--key-file", "/k"]).unwrap(), Some(KeySource::File("/k".into())));
        assert_eq!(source(&["install", "--key-literal", &key]).unwrap(), Some(KeySource::Literal(key.clone())));
        let refused = source(&["install", &key]).unwrap_err().to_string();
        assert!(refused.contains("`ps`") && !refused.contains(&key), "{refused}");
        assert!(source(&["install"]).unwrap_err().to_string().contains("--key-file"));
        assert!(source(&["list", "--key-file", "/k"]).is_err());
        assert!(keys_args(&["install", "-", "--key-file", "/k"]).is_err(), "two sources conflict");
        assert!(keys_args(&["install", "--key-file", "/k", "--key-literal", &key]).is_err());
    }

    #[test]
    fn a_key_text_holds_exactly_one_key_and_errors_do_not_echo_it() {
        let key = "cd".repeat(32);
        assert_eq!(key_from_text(&format!("# new key\n\n{key}\n"), "f").unwrap().to_hex(), key);
        assert!(key_from_text("", "f").unwrap_err().to_string().contains("exactly one key"));
        assert!(key_from_text(&format!("{key}\n{key}\n"), "f").is_err());
        let secretish = "zz".repeat(32);
        let err = key_from_text(&secretish, "key file /k").unwrap_err().to_string();
        assert!(err.starts_with("key file /k:") && !err.contains(&secretish), "{err}");
    }

    #[test]
    fn tables_align_columns() {
        let text = table(&["A", "LONGER"], &[vec!["xxxx".into(), "1".into()], vec!["y".into(), "22".into()]]);
        assert_eq!(text, "A     LONGER\nxxxx  1\ny     22\n");
    }

    #[test]
    fn binary_and_long_values_are_readable_in_tables() {
        assert_eq!(display_value(&ValueJson::new(&[0xff, 0xfe])), "base64://4=");
        assert_eq!(display_value(&ValueJson::new(b"a\nb")), "a\\nb");
        assert_eq!(display_value(&ValueJson::new("x".repeat(100).as_bytes())).chars().count(), 60);
    }
}
