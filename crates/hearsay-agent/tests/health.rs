//! `hearsay health`: exit 0 against a running agent, 1 when it cannot be reached.

mod common;

use common::{Agent, free_addr, hearsay, stderr, stdout, temp_dir};

#[test]
fn health_exits_0_for_a_running_agent_and_1_when_it_is_gone() {
    let dir = temp_dir("health");
    let token = dir.join("token");
    std::fs::write(&token, "health-check-token-0123456789\n").unwrap();
    let token_flag = token.to_str().unwrap();
    let mut agent = Agent::start_with("n1", &dir, &[], &["--http-token-file", token_flag]);
    let http = agent.http.to_string();

    // The health endpoint needs no token; sending one is fine too.
    for extra in [&[][..], &["--http-token-file", token_flag][..]] {
        let mut args = vec!["health", "--http", &http];
        args.extend(extra);
        let out = hearsay(&args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(stdout(&out).starts_with("ok: n1 generation "), "{}", stdout(&out));
    }

    agent.kill9();
    let out = hearsay(&["health", "--http", &http, "--timeout-ms", "2000"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("unhealthy"), "{}", stderr(&out));

    // Something that is not a hearsay agent: a listener that never answers.
    let silent = std::net::TcpListener::bind(free_addr()).unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let out = hearsay(&["health", "--http", &addr, "--timeout-ms", "300"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    drop(agent);
    let _ = std::fs::remove_dir_all(&dir);
}
