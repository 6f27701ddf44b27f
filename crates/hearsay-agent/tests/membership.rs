//! Real agents on loopback: seeds by name, `hearsay join`, membership changes in the log, and a
//! second process started with a name a live member holds.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Agent, BIN, free_port, request, stderr, stdout, temp_dir, wait_until};

fn sees_alive(agent: &Agent, name: &str) -> bool {
    agent.member(name).is_some_and(|(status, _)| status == "alive")
}

/// The log lines of `agent` containing every one of `words`.
fn log_lines(agent: &Agent, words: &[&str]) -> Vec<String> {
    agent.log_text().lines().filter(|l| words.iter().all(|w| l.contains(w))).map(str::to_owned).collect()
}

#[test]
fn an_agent_joins_a_seed_given_by_name_that_starts_after_it() {
    let dir = temp_dir("late-seed");
    let port = free_port();
    let n2 = Agent::start_with("n2", &dir, &[], &["--seeds", &format!("localhost:{port}")]);
    let bind = format!("127.0.0.1:{port}");
    let n1 = Agent::start_with("n1", &dir, &[], &["--bind", &bind]);
    wait_until("n2 sees n1 alive", || sees_alive(&n2, "n1"));
    wait_until("n1 sees n2 alive", || sees_alive(&n1, "n2"));
}

#[test]
fn hearsay_join_makes_two_agents_started_without_seeds_see_each_other() {
    let dir = temp_dir("join");
    let n1 = Agent::start("n1", &dir, &[]);
    let n2 = Agent::start("n2", &dir, &[]);
    assert!(!sees_alive(&n2, "n1"));

    let out = n2.cli(&["join", &n1.gossip.to_string()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(&format!("joining through {}", n1.gossip)), "{}", stdout(&out));
    wait_until("n2 sees n1 alive", || sees_alive(&n2, "n1"));
    wait_until("n1 sees n2 alive", || sees_alive(&n1, "n2"));
    // The change is logged on both sides.
    wait_until("n1 logs n2 joined", || !log_lines(&n1, &["INFO", "member joined", "member=n2"]).is_empty());
    assert!(!log_lines(&n2, &["member joined", "member=n1"]).is_empty(), "{}", n2.log_text());

    // Bad input is a 400 with a JSON error, and nobody is contacted.
    for body in [&br#"{"addrs": ["not an address"]}"#[..], b"{\"addrs\": []}", b"[1, 2", b"{\"addrs\": [\"n1\"]}"] {
        let (status, text) = request(n1.http, "POST", "/v1/join", body).unwrap();
        assert_eq!(status, 400, "{text}");
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(json["error"].as_str().unwrap().contains("nobody was contacted"), "{text}");
    }
    let out = n1.cli(&["join", "nowhere"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("`nowhere`") && stderr(&out).contains("HTTP 400"), "{}", stderr(&out));
    // State-changing: a page cannot post it cross-site (no marker header, a form's content type).
    let (status, _) = common::request_exactly(
        n1.http,
        "POST",
        "/v1/join",
        format!(r#"{{"addrs": ["{}"]}}"#, n2.gossip).as_bytes(),
        &["Content-Type: text/plain"],
    )
    .unwrap();
    assert_eq!(status, 403);
}

#[test]
fn a_killed_member_is_logged_suspect_then_dead_with_its_accuser() {
    let dir = temp_dir("deadlog");
    let n1 = Agent::start("n1", &dir, &[]);
    let mut n2 = Agent::start("n2", &dir, &[n1.gossip]);
    wait_until("n1 sees n2 alive", || sees_alive(&n1, "n2"));
    n2.kill9();
    wait_until("n1 logs n2 dead", || !log_lines(&n1, &["WARN", "member dead", "member=n2"]).is_empty());
    let suspect = log_lines(&n1, &["WARN", "member suspect", "member=n2"]);
    assert!(suspect.iter().any(|l| l.contains("by=n1")), "{}", n1.log_text());
    let dead = log_lines(&n1, &["member dead", "member=n2"]);
    assert!(dead[0].contains("suspected_by=n1"), "{}", dead[0]);
}

#[test]
fn a_second_process_with_a_live_members_name_exits_2_and_the_member_keeps_its_identity() {
    let dir = temp_dir("conflict");
    let n1 = Agent::start("n1", &dir, &[]);
    let n3 = Agent::start("n3", &dir, &[n1.gossip]);
    assert!(n1.cli(&["set", "owner", "the-real-n1"]).status.success());
    wait_until("n3 sees n1's key", || {
        request(n3.http, "GET", "/v1/kv/n1/owner", b"")
            .is_some_and(|(s, body)| s == 200 && body.contains("the-real-n1"))
    });
    wait_until("n3 lists n1 alive", || sees_alive(&n3, "n1"));
    let generation = n3.member("n1").unwrap().1;

    // The impostor: same name, its own data dir, joining through n3.
    let log = std::fs::File::create(dir.join("impostor.log")).unwrap();
    let mut impostor = Command::new(BIN)
        .args(["agent", "--name", "n1", "--preset", "local", "--gossip-interval-ms", "100"])
        .args(["--bind", "127.0.0.1:0", "--http", "127.0.0.1:0", "--log-level", "info"])
        .arg("--data-dir")
        .arg(dir.join("impostor"))
        .args(["--seeds", &n3.gossip.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = impostor.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = impostor.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = std::fs::read_to_string(dir.join("impostor.log")).unwrap();
    assert_eq!(status.and_then(|s| s.code()), Some(2), "{text}");
    assert!(text.contains(&format!("name n1 is already used by a live member at {}", n1.gossip)), "{text}");
    assert!(!text.contains("left the cluster"), "{text}");

    // The real n1 keeps its name, generation and keys on the other members, and counts the claim.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(n3.member("n1"), Some(("alive".to_string(), generation)));
    let (status, body) = request(n3.http, "GET", "/v1/kv/n1/owner", b"").unwrap();
    assert!(status == 200 && body.contains("the-real-n1"), "{status} {body}");
    assert!(sees_alive(&n1, "n3"));
    wait_until("n1 counts the conflict", || {
        let metrics = request(n1.http, "GET", "/metrics", b"").map(|(_, body)| body).unwrap_or_default();
        metrics.lines().any(|l| l.starts_with("hearsay_name_conflicts_total ") && !l.ends_with(" 0"))
    });
    assert!(!log_lines(&n1, &["WARN", "claimed name n1; kept"]).is_empty(), "{}", n1.log_text());
}
