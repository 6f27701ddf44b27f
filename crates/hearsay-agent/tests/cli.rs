//! The CLI: every client subcommand against a real agent, its errors, and the agent's own
//! exit codes (bad config → 2 naming the field, unusable store → 2, SIGTERM → 0).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{Agent, BIN, free_addr, hearsay, stderr, stdout, temp_dir, wait_until};

#[test]
fn client_subcommands_print_tables_and_json() {
    let dir = temp_dir("cli");
    let a = Agent::start("c1", &dir, &[]);
    let b = Agent::start("c2", &dir, &[a.gossip]);
    wait_until("c1 sees c2", || a.member("c2").is_some_and(|(s, _)| s == "alive"));

    let out = a.cli(&["members"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let header = text.lines().next().unwrap();
    assert!(header.starts_with("NAME") && header.contains("STATUS") && header.contains("PHI"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("c1 *") && l.contains("alive")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("c2 ") && l.contains("alive")), "{text}");
    let out = a.cli(&["members", "--json"]);
    let members: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(members.as_array().unwrap().len(), 2);

    let out = a.cli(&["set", "greeting", "hello world"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "c1: set `greeting` at version 1");
    let out = a.cli(&["set", "temp", "x", "--ttl", "60", "--json"]);
    let written: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(written["version"], 2);

    wait_until("c2 has c1/greeting", || b.cli(&["get", "c1", "greeting"]).status.success());
    let out = b.cli(&["get", "c1", "greeting"]);
    assert_eq!(stdout(&out), "hello world\n");
    let out = b.cli(&["get", "c1", "greeting", "--json"]);
    let entry: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(entry["version"], 1);

    wait_until("c2 lists both keys", || stdout(&b.cli(&["kv", "--node", "c1"])).lines().count() == 3);
    let text = stdout(&b.cli(&["kv"]));
    assert!(text.lines().next().unwrap().starts_with("NODE"), "{text}");
    assert!(text.lines().any(|l| l.contains("greeting") && l.contains("hello world")), "{text}");
    let out = b.cli(&["kv", "--prefix", "gre", "--json"]);
    let entries: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(entries.as_array().unwrap().len(), 1);

    let out = a.cli(&["delete", "temp"]);
    assert_eq!(stdout(&out).trim(), "c1: deleted `temp` at version 3");

    let out = a.cli(&["info"]);
    let text = stdout(&out);
    assert!(text.contains("name:          c1") && text.contains("fanout = 3"), "{text}");
    // `info` reads the published view, at most a publication interval behind the delete.
    wait_until("info counts one own key", || {
        let info: serde_json::Value = serde_json::from_slice(&a.cli(&["info", "--json"]).stdout).unwrap();
        info["own_keys"] == 1
    });
    let info: serde_json::Value = serde_json::from_slice(&a.cli(&["info", "--json"]).stdout).unwrap();
    assert_eq!(info["http"], a.http.to_string());
    assert_eq!(info["encrypted"], false);
    assert!(info["store"].as_str().unwrap().ends_with("hearsay.redb"), "{info}");

    // Errors: one line, exit 1.
    let out = b.cli(&["get", "c1", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out).trim(), "hearsay: node `c1` has no key `nope` (HTTP 404)");
    let out = b.cli(&["get", "ghost", "k"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("unknown node `ghost`"), "{}", stderr(&out));
    let out = a.cli(&["set", "__x", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("reserved") && stderr(&out).contains("HTTP 400"), "{}", stderr(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn watch_streams_events_and_http_env_is_honoured() {
    let dir = temp_dir("cli-watch");
    let mut a = Agent::start("w1", &dir, &[]);
    let mut child = Command::new(BIN)
        .args(["watch", "--json", "--prefix", "w/"])
        .env("HEARSAY_HTTP", a.http.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            if tx.send(line.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    // Keep writing until the watcher (which may still be connecting) prints the event.
    let mut seen = None;
    for i in 0..100 {
        assert!(a.cli(&["set", "w/k", &format!("v{i}")]).status.success());
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(300)) {
            seen = Some(line);
            break;
        }
    }
    let line = seen.expect("watch printed nothing");
    let event: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(event["kind"], "key_changed");
    assert_eq!(event["key"], "w/k");
    // The agent leaves: the stream ends and watch exits 1 with a message.
    assert!(a.cli(&["leave"]).status.success());
    assert_eq!(a.wait_exit().code(), Some(0));
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_stopped_agent_gives_one_clear_line_and_exit_code_1() {
    let addr = free_addr().to_string();
    for args in [vec!["members"], vec!["kv"], vec!["get", "a", "b"], vec!["set", "k", "v"], vec!["leave"], vec!["info"]]
    {
        let mut all = args.clone();
        all.extend(["--http", &addr]);
        let out = hearsay(&all);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert_eq!(
            err.trim(),
            format!(
                "hearsay: cannot reach the hearsay agent at {addr}: connection refused (is `hearsay agent` running?)"
            ),
            "{args:?}"
        );
    }
}

fn agent_exit(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(BIN).arg("agent").args(args).stdin(Stdio::null()).output().unwrap();
    (out.status.code(), stderr(&out))
}

#[test]
fn bad_configuration_exits_2_naming_the_field() {
    let dir = temp_dir("cli-config");
    let data = dir.join("data").to_string_lossy().into_owned();
    let http = free_addr().to_string();
    let base = ["--data-dir", &data, "--http", &http, "--name", "x"];
    let cases: [(&[&str], &str); 6] = [
        (&["--fanout", "0"], "`fanout`"),
        (&["--bind", "localhost-ish"], "`bind`"),
        (&["--exchange", "shout"], "`exchange`"),
        (&["--gossip-interval-ms", "0"], "`gossip_interval_ms`"),
        (&["--phi-threshold=-3"], "`phi_threshold`"),
        (&["--seeds", "nowhere"], "`seeds`"),
    ];
    for (extra, field) in cases {
        let mut args: Vec<&str> = base.to_vec();
        args.extend_from_slice(extra);
        let (code, err) = agent_exit(&args);
        assert_eq!(code, Some(2), "{extra:?}: {err}");
        assert!(err.contains(field), "{extra:?}: {err}");
    }
    let file = dir.join("agent.toml");
    std::fs::write(&file, "name = \"x\"\nfanout = 2\nmtu = 10\n").unwrap();
    let (code, err) = agent_exit(&["--config", file.to_str().unwrap(), "--data-dir", &data, "--http", &http]);
    assert_eq!(code, Some(2));
    assert!(err.contains("`mtu`"), "{err}");
    std::fs::write(&file, "fanuot = 2\n").unwrap();
    let (code, err) = agent_exit(&["--config", file.to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(err.contains("fanuot"), "{err}");
    let (code, err) = agent_exit(&["--config", dir.join("missing.toml").to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(err.contains("missing.toml"), "{err}");

    // A corrupt store is a setup error too.
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(std::path::Path::new(&data).join("hearsay.redb"), vec![7u8; 8192]).unwrap();
    let bind = free_addr().to_string();
    let (code, err) = agent_exit(&["--data-dir", &data, "--http", &http, "--name", "x", "--bind", &bind]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("cannot open the store"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn config_file_is_used_and_sigterm_leaves_and_exits_0() {
    let dir = temp_dir("cli-file");
    let file = dir.join("agent.toml");
    std::fs::write(
        &file,
        format!(
            "name = \"from-file\"\nbind = \"127.0.0.1:0\"\nhttp = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n\
             preset = \"local\"\nfanout = 2\nexchange = \"push\"\nstrategy = \"anti-entropy\"\nlog_format = \"json\"\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let log_path = dir.join("agent.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(BIN)
        .args(["agent", "--config", file.to_str().unwrap(), "--fanout", "4"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    // The ports the agent got, from its JSON log.
    let mut running = serde_json::Value::Null;
    wait_until("the agent logs its addresses", || {
        let logs = std::fs::read_to_string(&log_path).unwrap_or_default();
        running = logs
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|l| l["fields"]["message"] == "agent running")
            .unwrap_or_default();
        !running.is_null()
    });
    let http_s = running["fields"]["http"].as_str().unwrap().to_string();
    let gossip = running["fields"]["gossip"].as_str().unwrap().to_string();
    wait_until("the agent answers", || hearsay(&["info", "--http", &http_s]).status.success());
    let info: serde_json::Value =
        serde_json::from_slice(&hearsay(&["info", "--json", "--http", &http_s]).stdout).unwrap();
    assert_eq!(info["name"], "from-file");
    assert_eq!(info["addr"], gossip);
    assert_eq!(info["config"]["fanout"], "4", "the flag overrides the file");
    assert_eq!(info["config"]["exchange"], "push");
    assert_eq!(info["config"]["strategy"], "anti-entropy");
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let logs = std::fs::read_to_string(dir.join("agent.log")).unwrap();
    assert_eq!(code, Some(0), "{logs}");
    // JSON logs, one object per line, and the leave was logged.
    let lines: Vec<serde_json::Value> = logs.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(lines.iter().any(|l| l["fields"]["message"] == "left the cluster"), "{logs}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs a CLI subcommand against `agent` with `input` on its standard input.
fn cli_with_stdin(agent: &Agent, args: &[&str], input: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .args(args)
        .args(["--http", &agent.http.to_string()])
        .env_remove("HEARSAY_HTTP")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn keyring_of(agent: &Agent) -> serde_json::Value {
    let out = agent.cli(&["keys", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn fingerprints(ring: &serde_json::Value) -> Vec<String> {
    ring["keys"].as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_string()).collect()
}

#[test]
fn agents_sharing_a_keyring_talk_rotate_keys_and_reject_a_foreign_key() {
    let dir = temp_dir("cli-keys");
    let out = hearsay(&["keygen"]);
    assert!(out.status.success());
    let key = stdout(&out).trim().to_string();
    assert_eq!(key.len(), 64);
    assert!(key.chars().all(|c| c.is_ascii_hexdigit()));
    let other = stdout(&hearsay(&["keygen"])).trim().to_string();
    assert_ne!(key, other, "keygen must not repeat itself");
    // Each agent has its own copy of the file: the agent rewrites it when keys rotate.
    let (ring1, ring2) = (dir.join("keys1"), dir.join("keys2"));
    std::fs::write(&ring1, format!("{key}\n")).unwrap();
    std::fs::write(&ring2, format!("# comment\n{key}\n")).unwrap();
    let foreign = dir.join("foreign-keys");
    std::fs::write(&foreign, format!("{other}\n")).unwrap();
    let flags2 = ["--keyring-file", ring2.to_str().unwrap()];

    let a = Agent::start_with("k1", &dir, &[], &["--keyring-file", ring1.to_str().unwrap()]);
    let mut b = Agent::start_with("k2", &dir, &[a.gossip], &flags2);
    wait_until("k1 sees k2 through encrypted gossip", || a.member("k2").is_some_and(|(s, _)| s == "alive"));
    wait_until("k2 sees k1", || b.member("k1").is_some_and(|(s, _)| s == "alive"));

    let c = Agent::start_with("k3", &dir, &[a.gossip], &["--keyring-file", foreign.to_str().unwrap()]);
    wait_until("k1 drops k3's packets as undecryptable", || {
        let (_, metrics) = common::request(a.http, "GET", "/metrics", b"").unwrap();
        metrics.lines().any(|l| l.starts_with("hearsay_dropped_total{reason=\"decrypt\"}") && !l.ends_with(" 0"))
    });
    assert_eq!(a.member("k3"), None, "a node with a foreign key must not join");
    assert_eq!(c.member("k1"), None, "nor learn of the cluster");
    drop(c);

    // Rotation: install a new key through k1, make it primary through k2, drop the old one.
    // The published keyring travels as a reserved key, which the API never serves.
    let (status, _) = common::request(a.http, "GET", "/v1/kv/k2/__keyring", b"").unwrap();
    assert_eq!(status, 404);
    let before = keyring_of(&a);
    assert_eq!(before["enabled"], true);
    let old_fp = before["primary"].as_str().unwrap().to_string();
    assert_eq!(fingerprints(&before), vec![old_fp.clone()]);
    let text = stdout(&a.cli(&["keys"]));
    assert_eq!(text.trim(), format!("{old_fp}  (primary)"));
    // `keyring` is the old name of `keys`.
    assert_eq!(stdout(&a.cli(&["keyring", "list"])), stdout(&a.cli(&["keys", "list"])));
    let new_key = stdout(&hearsay(&["keygen"])).trim().to_string();
    let new_file = dir.join("new.key");
    std::fs::write(&new_file, format!("# made by hearsay keygen\n{new_key}\n")).unwrap();
    // A key as a plain argument is refused (it would show in `ps`), and nothing changes.
    let out = a.cli(&["keys", "install", &new_key]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("`ps`") && !stderr(&out).contains(&new_key), "{}", stderr(&out));
    assert_eq!(fingerprints(&keyring_of(&a)).len(), 1);
    // From a key file.
    let out = a.cli(&["keys", "install", "--key-file", new_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    wait_until("k2 has both keys", || fingerprints(&keyring_of(&b)).len() == 2);
    let new_fp = fingerprints(&keyring_of(&b)).into_iter().find(|f| *f != old_fp).unwrap();
    // From standard input.
    let out = cli_with_stdin(&b, &["keys", "use", "-"], &new_key);
    assert!(out.status.success(), "{}", stderr(&out));
    wait_until("k1 seals with the new key", || keyring_of(&a)["primary"] == new_fp.as_str());
    // As an explicit, documented-unsafe literal.
    assert!(a.cli(&["keys", "remove", "--key-literal", &key]).status.success());
    wait_until("k2 dropped the old key", || fingerprints(&keyring_of(&b)) == vec![new_fp.clone()]);
    for agent in [&a, &b] {
        let (status, body) = common::request(agent.http, "GET", "/v1/kv/k1/__keyring", b"").unwrap();
        assert_eq!(status, 404, "{body}");
        let (_, body) = common::request(agent.http, "GET", "/v1/kv", b"").unwrap();
        assert!(!body.contains("__"), "reserved keys listed: {body}");
    }

    // Still one cluster, now under the new key; k2's file was rewritten, so it comes back after
    // a crash with the key the cluster uses now.
    assert!(a.cli(&["set", "after", "rotation"]).status.success());
    wait_until("k2 reads k1's write", || b.cli(&["get", "k1", "after"]).status.success());
    wait_until("k2's keyring file holds only the new key", || {
        let text = std::fs::read_to_string(&ring2).unwrap_or_default();
        text.contains(&new_key) && !text.contains(&key)
    });
    let old_generation = a.member("k2").unwrap().1;
    b.kill9();
    b.spawn_with(&[a.gossip], &flags2);
    wait_until("k2 is back under the new key", || {
        a.member("k2").is_some_and(|(s, generation)| s == "alive" && generation > old_generation)
    });

    // Errors: a malformed key, a key that is not installed, an agent without encryption.
    let out = a.cli(&["keys", "install", "--key-literal", "abc"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("64 hexadecimal digits"), "{}", stderr(&out));
    let (status, body) = common::request(a.http, "POST", "/v1/keyring/install", b"abc").unwrap();
    assert_eq!(status, 400, "{body}");
    let out = a.cli(&["keys", "use", "--key-literal", &key]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("HTTP 404"), "{}", stderr(&out));
    let out = a.cli(&["keys", "install", "--key-file", dir.join("no-such-file").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no-such-file"), "{}", stderr(&out));
    let plain = Agent::start("plain", &dir, &[]);
    assert_eq!(stdout(&plain.cli(&["keys"])).trim(), "encryption is off on this agent");
    let out = plain.cli(&["keys", "install", "--key-file", new_file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("encryption is not enabled") && stderr(&out).contains("HTTP 409"),
        "{}",
        stderr(&out)
    );

    // A malformed keyring file is a configuration error naming the field.
    std::fs::write(dir.join("bad-keys"), "not-a-key\n").unwrap();
    let http = free_addr().to_string();
    let (code, err) =
        agent_exit(&["--keyring-file", dir.join("bad-keys").to_str().unwrap(), "--http", &http, "--name", "x"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("`keyring_file`") && err.contains("line 1"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigint_leaves_gracefully_and_peers_see_it_left() {
    let dir = temp_dir("cli-sigint");
    let a = Agent::start("i1", &dir, &[]);
    let mut b = Agent::start("i2", &dir, &[a.gossip]);
    wait_until("i1 sees i2", || a.member("i2").is_some_and(|(s, _)| s == "alive"));
    b.signal("INT");
    assert_eq!(b.wait_exit().code(), Some(0), "{}", b.log_text());
    wait_until("i1 sees i2 left", || a.member("i2").is_some_and(|(s, _)| s == "left"));
    let _ = std::fs::remove_dir_all(&dir);
}
