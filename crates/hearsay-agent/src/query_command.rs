//! The agent's query handler: a configured command per query name (`[queries] name =
//! "command"`), run with `sh -c`, the payload on standard input, standard output as the answer.
//!
//! The command is killed at the query's deadline; one that fails (non-zero exit) or runs out
//! of time sends no answer. A query name without a command gets no answer (the agent still
//! acknowledges it if asked: it matched the filters). Commands run on blocking threads so a
//! slow one never holds the node back.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hearsay::{QueryFuture, QueryRequest};

/// How often a running command is checked for exit.
const POLL: Duration = Duration::from_millis(10);

/// A handler running `commands[query name]`.
pub(crate) fn handler(commands: BTreeMap<String, String>) -> impl Fn(QueryRequest) -> QueryFuture + Send + Sync {
    let commands = Arc::new(commands);
    move |request: QueryRequest| -> QueryFuture {
        let command = commands.get(&*request.name).cloned();
        Box::pin(async move {
            let command = command?;
            let name = request.name.clone();
            let answer = tokio::task::spawn_blocking(move || run(&command, &request.payload, request.time_left)).await;
            match answer {
                Ok(Ok(stdout)) => Some(stdout),
                Ok(Err(reason)) => {
                    tracing::warn!(query = %name, %reason, "query command gave no answer");
                    None
                }
                Err(e) => {
                    tracing::warn!(query = %name, error = %e, "query command task failed");
                    None
                }
            }
        })
    }
}

/// Runs `command` with `payload` on stdin; its stdout if it exits 0 within `time_left`.
fn run(command: &str, payload: &[u8], time_left: Duration) -> Result<Vec<u8>, String> {
    let deadline = Instant::now() + time_left;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start `sh -c {command}`: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its input closes the pipe early: not an error.
        let _ = stdin.write_all(payload);
    }
    let mut stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        if let Some(pipe) = stdout.as_mut() {
            let _ = std::io::Read::read_to_end(pipe, &mut out);
        }
        out
    });
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => {
                return reader.join().map_err(|_| "the output reader failed".to_string());
            }
            Ok(Some(status)) => return Err(format!("exited with {status}")),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("killed at the query's deadline".into());
            }
            Ok(None) => std::thread::sleep(POLL),
            Err(e) => return Err(format!("cannot wait for it: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_answer_with_stdout_and_fail_or_time_out_without_answer() {
        assert_eq!(run("tr a-z A-Z", b"load?", Duration::from_secs(10)), Ok(b"LOAD?".to_vec()));
        assert!(run("exit 3", b"", Duration::from_secs(10)).unwrap_err().contains("exited"));
        assert!(run("sleep 5", b"", Duration::from_millis(100)).unwrap_err().contains("deadline"));
    }
}
