//! `hearsay keys [ACTION]`: show or rotate the cluster's encryption keys.
//!
//! The key never has to appear on the command line, where every local user sees it in `ps`
//! and the shell keeps it in its history: it is read from a file or from standard input.

use std::path::PathBuf;
use std::process::ExitCode;

use hearsay_core::Key;

use super::client::{self, ClientOpts, print_json, printable};
use crate::client::ClientError;

/// What `hearsay keys` does.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeysAction {
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
pub(crate) struct KeysArgs {
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

/// Runs `hearsay keys`.
pub(crate) fn run(args: KeysArgs) -> ExitCode {
    client::run(&args.opts, async |client| {
        let ring = match args.key_source()? {
            None => client.keyring().await?,
            Some(source) => {
                let key = read_key(source)?;
                let op = match args.action {
                    KeysAction::Install => "install",
                    KeysAction::Use => "use",
                    _ => "remove",
                };
                client.keyring_change(op, &key.to_hex()).await?
            }
        };
        if args.opts.json {
            return print_json(&ring);
        }
        if !ring.enabled {
            println!("encryption is off on this agent");
            return Ok(());
        }
        for fingerprint in &ring.keys {
            let primary = ring.primary.as_deref() == Some(fingerprint.as_str());
            println!("{}{}", printable(fingerprint), if primary { "  (primary)" } else { "" });
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
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
}
