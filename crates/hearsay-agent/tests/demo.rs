//! `hearsay demo` tells the whole story: convergence, a key spreading, a crash detected, the
//! node back with a higher generation.

mod common;

use common::{free_port, hearsay, stderr, stdout};

#[test]
fn demo_narrates_convergence_spread_failure_and_rejoin() {
    let port = free_port().to_string();
    let out = hearsay(&["demo", "--nodes", "3", "--duration", "15", "--http-port", &port]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    for needle in [
        "dashboard http://127.0.0.1:",
        "membership: 3/3 nodes see all 3 members alive (converged in",
        "demo/greeting v1 seen by 3/3 nodes (spread in",
        "killing node-3",
        "node-3 declared dead by all 2 survivors",
        "restarting node-3 with generation 2",
        "node-3#2 alive on 3/3 nodes",
        "node-3 writes demo/owner again: version 2 (after 1)",
        "stopping",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in:\n{text}");
    }
}
