//! Five real agent processes on loopback: membership, replication of writes and deletes,
//! failure detection after `kill -9`, restart with the same data dir, and graceful leave.

mod common;

use common::{Agent, request, stdout, temp_dir, wait_until};

fn sees_all_alive(agent: &Agent, names: &[String]) -> bool {
    names.iter().all(|n| agent.member(n).is_some_and(|(status, _)| status == "alive"))
}

fn value_on(agent: &Agent, owner: &str, key: &str) -> Option<(String, u64)> {
    let (status, body) = request(agent.http, "GET", &format!("/v1/kv/{owner}/{key}"), b"")?;
    if status != 200 {
        return None;
    }
    let json: serde_json::Value = serde_json::from_str(&body).ok()?;
    Some((json["value"].as_str()?.to_string(), json["version"].as_u64()?))
}

#[test]
fn five_agents_converge_replicate_detect_a_crash_restart_and_leave() {
    let dir = temp_dir("cluster");
    let first = Agent::start("n1", &dir, &[]);
    let seed = [first.gossip];
    let mut agents = vec![first];
    for i in 2..=5 {
        agents.push(Agent::start(&format!("n{i}"), &dir, &seed));
    }
    let names: Vec<String> = agents.iter().map(|a| a.name.clone()).collect();

    // Membership converges: every agent sees all five alive.
    for agent in &agents {
        wait_until(&format!("{} sees all five alive", agent.name), || sees_all_alive(agent, &names));
    }

    // A write on n3 reaches every node; so does its delete.
    let out = agents[2].cli(&["set", "color", "blue"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(stdout(&out).contains("set `color` at version"), "{}", stdout(&out));
    for agent in &agents {
        wait_until(&format!("{} sees n3/color", agent.name), || {
            value_on(agent, "n3", "color").is_some_and(|(v, _)| v == "blue")
        });
    }
    let out = agents[2].cli(&["delete", "color"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    for agent in &agents {
        wait_until(&format!("{} sees n3/color deleted", agent.name), || {
            request(agent.http, "GET", "/v1/kv/n3/color", b"").is_some_and(|(s, _)| s == 404)
        });
    }

    // n5 owns two keys, then is killed with SIGKILL: every survivor declares it dead.
    assert!(agents[4].cli(&["set", "keep", "one"]).status.success());
    let out = agents[4].cli(&["set", "keep", "two", "--json"]);
    let written: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let keep_version = written["version"].as_u64().unwrap();
    assert!(agents[4].cli(&["set", "gone", "x"]).status.success());
    let out = agents[4].cli(&["delete", "gone", "--json"]);
    let max_version = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["version"].as_u64().unwrap();
    for agent in &agents[..4] {
        wait_until(&format!("{} sees n5/keep", agent.name), || {
            value_on(agent, "n5", "keep").is_some_and(|(v, _)| v == "two")
        });
    }
    let old_generation = agents[0].member("n5").unwrap().1;
    agents[4].kill9();
    for agent in &agents[..4] {
        wait_until(&format!("{} declares n5 dead", agent.name), || {
            agent.member("n5").is_some_and(|(status, _)| status == "dead")
        });
    }

    // Restarted with the same data dir and no seed at all (it knows its peers from the store):
    // alive again everywhere with a higher generation, its keys back at their versions, and
    // new writes continue the version counter.
    agents[4].spawn(&[]);
    for agent in &agents {
        wait_until(&format!("{} sees n5 back with a higher generation", agent.name), || {
            agent.member("n5").is_some_and(|(status, generation)| status == "alive" && generation > old_generation)
        });
    }
    for agent in &agents {
        wait_until(&format!("{} has n5/keep at its old version", agent.name), || {
            value_on(agent, "n5", "keep") == Some(("two".to_string(), keep_version))
        });
        let (status, _) = request(agent.http, "GET", "/v1/kv/n5/gone", b"").unwrap();
        assert_eq!(status, 404, "a deleted key came back on {}", agent.name);
    }
    let out = agents[4].cli(&["set", "after", "restart", "--json"]);
    let version = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["version"].as_u64().unwrap();
    assert_eq!(version, max_version + 1, "the version counter must continue after a restart");

    // `hearsay leave` on n4: the process exits 0 and everyone else sees it left.
    let out = agents[3].cli(&["leave"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(stdout(&out).contains("n4 left the cluster"), "{}", stdout(&out));
    let status = agents[3].wait_exit();
    assert_eq!(status.code(), Some(0), "{}", agents[3].log_text());
    for i in [0, 1, 2, 4] {
        let agent = &agents[i];
        wait_until(&format!("{} sees n4 left", agent.name), || {
            agent.member("n4").is_some_and(|(status, _)| status == "left")
        });
    }
    drop(agents);
    let _ = std::fs::remove_dir_all(&dir);
}
