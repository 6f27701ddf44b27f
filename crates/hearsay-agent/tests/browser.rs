//! The dashboard in a real browser: Debian's Chromium, headless, driven over the DevTools
//! protocol. Three agent processes: every member is drawn, a member killed with SIGKILL turns
//! dead on the page and its keys are marked; then `hearsay demo`, whose nodes share a process
//! and a clock: a write made from the page spreads to every node and the page says so.
//! Screenshots land in `target/tmp/browser/`.
//!
//! Skipped, loudly, without Chromium, unless `HEARSAY_BROWSER_REQUIRED=1` (CI sets it).

#[path = "browser/cdp.rs"]
mod cdp;
mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Agent, free_port, request, temp_dir, wait_until};

const PATIENCE: Duration = Duration::from_secs(30);

fn artifacts() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser")
}

/// Kills the demo on drop, whatever the test's outcome.
struct Demo(std::process::Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn dashboard_draws_members_shows_a_death_and_a_spread_in_chromium() {
    let Some(chromium) = cdp::find_chromium() else {
        assert!(
            std::env::var("HEARSAY_BROWSER_REQUIRED").as_deref() != Ok("1"),
            "HEARSAY_BROWSER_REQUIRED=1 but no chromium on PATH (apt-get install -y chromium)"
        );
        eprintln!(
            "SKIPPED: no chromium on PATH; the dashboard was NOT tested in a browser (apt-get install -y chromium)"
        );
        return;
    };
    let dir = temp_dir("browser");
    let a = Agent::start("b1", &dir, &[]);
    let b = Agent::start("b2", &dir, &[a.gossip]);
    let mut c = Agent::start("b3", &dir, &[a.gossip]);
    wait_until("b1 sees three alive", || ["b2", "b3"].iter().all(|n| a.member(n).is_some_and(|(s, _)| s == "alive")));
    assert_eq!(request(c.http, "PUT", "/v1/kv/owned/by/b3", b"soon orphaned").unwrap().0, 200);
    wait_until("b1 holds b3's key", || {
        request(a.http, "GET", "/v1/kv/b3/owned/by/b3", b"").is_some_and(|r| r.0 == 200)
    });

    let mut page = cdp::Browser::start(&chromium, dir.join("chromium-profile"));
    page.navigate(&format!("http://{}/", a.http));
    page.wait_for(
        "three members drawn alive",
        "document.querySelectorAll('#ring g.member[data-status=alive]').length === 3",
        PATIENCE,
    );
    let names = page.eval("[...document.querySelectorAll('#ring g.member')].map(g => g.dataset.name).join(',')");
    assert_eq!(names, "b1,b2,b3");
    page.wait_for("the rates charts", "document.querySelectorAll('#charts .chart').length >= 5", PATIENCE);

    // Details of a member, with its sparklines.
    page.eval("document.querySelector('#ring g.member[data-name=b2]').dispatchEvent(new MouseEvent('click', {bubbles: true}))");
    page.wait_for("b2's details", "document.querySelector('#details h2').textContent === 'Member b2'", PATIENCE);

    // A lone agent's spread view shows its own replica and claims nothing else.
    page.eval("document.getElementById('spread-key').value = 'page/write'; document.getElementById('spread-value').value = 'from the page'; document.getElementById('spread-write').click()");
    page.wait_for(
        "the local spread view",
        "document.getElementById('spread-status').textContent.includes('only knows its own replica')",
        PATIENCE,
    );
    let stored = b.get_json("/v1/kv?node=b1&key=page/write");
    assert_eq!(stored["value"], "from the page", "the page's write (with X-Hearsay) reached b2");

    // Killed without leaving: the page turns it dead and marks its keys.
    c.kill9();
    page.wait_for(
        "b3 drawn dead",
        "document.querySelector('#ring g.member[data-name=b3]')?.dataset.status === 'dead'",
        Duration::from_secs(45),
    );
    page.eval("document.getElementById('keys-node').value = 'b3'; document.getElementById('keys-node').dispatchEvent(new Event('change'))");
    page.wait_for(
        "b3's key marked as owned by a dead member",
        "[...document.querySelectorAll('#keys tr.owner-dead .tag')].some(t => t.textContent === 'dead')",
        PATIENCE,
    );
    page.wait_for(
        "the death in the event list",
        "[...document.querySelectorAll('#event-rows tr[data-kind=member_dead]')].length >= 1",
        PATIENCE,
    );
    page.screenshot(&artifacts().join("dashboard-dead-member.png"));
    drop((a, b, c));

    // The demo: every node in one process, so the page sees the whole spread.
    let port = free_port();
    let demo = Command::new(env!("CARGO_BIN_EXE_hearsay"))
        .args(["demo", "--nodes", "6", "--duration", "60", "--http-port", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _demo = Demo(demo);
    let http = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    wait_until("the demo's first node answers", || {
        request(http, "GET", "/v1/members", b"")
            .is_some_and(|(s, body)| s == 200 && body.matches("\"alive\"").count() == 6)
    });
    page.navigate(&format!("http://{http}/"));
    page.wait_for("six members drawn", "document.querySelectorAll('#ring g.member').length === 6", PATIENCE);
    page.eval(
        "document.getElementById('spread-key').value = 'page/spread'; document.getElementById('spread-write').click()",
    );
    page.wait_for(
        "the write reaching every live node",
        "document.getElementById('spread-status').dataset.complete === 'true'",
        PATIENCE,
    );
    let text = page.eval("document.getElementById('spread-status').textContent");
    assert!(text.as_str().unwrap().contains("page/spread") && text.as_str().unwrap().contains("reached"), "{text}");
    let holding = page.eval("document.querySelectorAll('#ring g.member.holding').length").as_u64().unwrap();
    assert!(holding >= 5, "at least every live node is drawn holding the version: {holding}");
    page.screenshot(&artifacts().join("dashboard-spread.png"));
    let _ = std::fs::remove_dir_all(&dir);
}
