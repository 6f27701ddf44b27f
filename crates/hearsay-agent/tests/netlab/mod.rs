//! A lab of hosts on a real network for the multi-host suite (`tests/netns.rs`).
//!
//! Each host is a network namespace with one veth (`eth0`, 10.a.b.N/24) plugged into a bridge
//! that lives in a namespace of its own (the hub). Keeping the bridge out of the root namespace
//! means the machine's firewall never sees the hosts' traffic (Docker sets the root FORWARD
//! policy to DROP, and bridged frames pass it), so nothing global is changed. The root
//! namespace gets one more veth on the bridge (10.a.b.254), through which the test reaches every
//! agent's HTTP API. Faults are nftables tables inside the hosts' namespaces: partitions, one-way
//! drops and random loss, never touching the test's own traffic from 10.a.b.254.
//!
//! Names carry the test process id, so parallel runs never collide, and namespaces left by a run
//! that was killed (no `Drop`) are found by that id and removed by the next run. Without root,
//! `ip` or `nft` a lab cannot be made: [`Lab::start`] then returns `None` after printing a loud
//! `SKIPPED`, unless `HEARSAY_NETNS_REQUIRED=1`, where it fails the test.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{BIN, request, request_with_headers, temp_dir};

/// Sent with every write: a state-changing request from a script says what it sends.
pub const WRITE_HEADERS: &[&str] = &["Content-Type: application/octet-stream"];

/// Every namespace of this suite starts with this.
const NS_PREFIX: &str = "hslab-";
/// Gossip and HTTP ports, the same on every host (each has its own address).
const GOSSIP_PORT: u16 = 7946;
const HTTP_PORT: u16 = 7947;
/// The root namespace's address on the bridge (the last octet).
const ROOT_HOST: u8 = 254;
/// Labs made by this process, so two labs of one process get different names.
static LABS: AtomicU32 = AtomicU32::new(0);

/// A membership or key event one agent reported on `/v1/events`.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    /// member_suspect, member_dead, member_alive, key_changed, ...
    pub kind: String,
    /// The member (or the key's owner).
    pub node: String,
}

/// One host: its namespace, its agent process and what the agent reported.
pub struct Host {
    pub name: String,
    pub ns: String,
    pub ip: Ipv4Addr,
    pub http: SocketAddr,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    child: Option<Child>,
    /// Whether an nftables table of the lab is installed in the namespace.
    filtered: bool,
    /// Events from every agent process this host ran.
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

/// K hosts, each running an agent, on one bridge.
pub struct Lab {
    pub hosts: Vec<Host>,
    hub: String,
    root_veth: String,
    net: [u8; 3],
    dir: PathBuf,
    extra: Vec<String>,
    stop: Arc<AtomicBool>,
}

/// Runs a command; `Err` with its stderr if it cannot run or fails.
fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `{program}`: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// Loads `ruleset` with `nft -f -` inside namespace `ns`.
fn nft(ns: &str, ruleset: &str) -> Result<(), String> {
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run nft: {e}"))?;
    child.stdin.take().unwrap().write_all(ruleset.as_bytes()).map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("nft in {ns}: {}\n{ruleset}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// Removes namespaces (and the agents inside) left by test processes that no longer run.
fn remove_stale_namespaces() {
    for line in output("ip", &["netns", "list"]).lines() {
        let Some(name) = line.split_whitespace().next() else { continue };
        let Some(rest) = name.strip_prefix(NS_PREFIX) else { continue };
        let Some(pid) = rest.split('-').next().and_then(|hex| u32::from_str_radix(hex, 16).ok()) else { continue };
        if std::path::Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        for pid in output("ip", &["netns", "pids", name]).split_whitespace() {
            let _ = run("kill", &["-9", pid]);
        }
        let _ = run("ip", &["netns", "del", name]);
    }
}

/// A /24 in 10/8 that no route of the root namespace covers yet.
fn free_subnet(seed: u32) -> [u8; 3] {
    let routes = output("ip", &["-4", "route", "show", "table", "all"]);
    let addrs = output("ip", &["-4", "addr"]);
    for i in 0..20_000u32 {
        let n = (seed.wrapping_mul(2_654_435_761).wrapping_add(i)) % (100 * 256);
        let net = [10, 100 + (n / 256) as u8, (n % 256) as u8];
        let prefix = format!("10.{}.{}.", net[1], net[2]);
        if !routes.contains(&prefix) && !addrs.contains(&prefix) {
            return net;
        }
    }
    panic!("no free 10.x.y.0/24 subnet");
}

fn required() -> bool {
    std::env::var("HEARSAY_NETNS_REQUIRED").is_ok_and(|v| v == "1")
}

impl Lab {
    /// Makes `k` hosts and starts an agent on each (`lan` preset plus `extra` flags), host 0
    /// first and the others seeded with it, then waits until every agent answers its API (not
    /// for membership: tests time formation themselves). `None` (after a loud `SKIPPED`) if this
    /// machine cannot make network namespaces and `HEARSAY_NETNS_REQUIRED` is not `1`.
    pub fn start(test: &str, k: usize, extra: &[&str]) -> Option<Lab> {
        assert!(k < usize::from(ROOT_HOST));
        remove_stale_namespaces();
        let id = LABS.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let tag = format!("{pid:x}-{id}");
        let mut lab = Lab {
            hosts: Vec::new(),
            hub: format!("{NS_PREFIX}{tag}-hub"),
            root_veth: format!("hs{pid:x}{id}"),
            net: free_subnet(pid ^ (id << 24)),
            dir: temp_dir(&format!("netns-{test}")),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            stop: Arc::new(AtomicBool::new(false)),
        };
        if let Err(reason) = lab.make_network(&tag, k) {
            let message = format!("cannot make network namespaces (needs root, iproute2 and nftables): {reason}");
            assert!(!required(), "HEARSAY_NETNS_REQUIRED=1 but {message}");
            eprintln!("\n*** SKIPPED: {test}: {message} ***\n");
            return None;
        }
        for i in 0..k {
            lab.spawn(i);
            if i == 0 {
                lab.wait_healthy(0);
            }
        }
        for i in 1..k {
            lab.wait_healthy(i);
        }
        Some(lab)
    }

    fn ip_of(&self, host: u8) -> Ipv4Addr {
        Ipv4Addr::new(self.net[0], self.net[1], self.net[2], host)
    }

    fn root_ip(&self) -> Ipv4Addr {
        self.ip_of(ROOT_HOST)
    }

    fn make_network(&mut self, tag: &str, k: usize) -> Result<(), String> {
        run("nft", &["--version"])?;
        let hub = self.hub.clone();
        run("ip", &["netns", "add", &hub])?;
        run("ip", &["-n", &hub, "link", "add", "br0", "type", "bridge"])?;
        run("ip", &["-n", &hub, "link", "set", "br0", "up"])?;
        // The root namespace's way in.
        let root_veth = self.root_veth.clone();
        run("ip", &["link", "add", &root_veth, "type", "veth", "peer", "name", "up0", "netns", &hub])?;
        run("ip", &["-n", &hub, "link", "set", "up0", "master", "br0", "up"])?;
        run("ip", &["addr", "add", &format!("{}/24", self.root_ip()), "dev", &root_veth])?;
        run("ip", &["link", "set", &root_veth, "up"])?;
        for i in 0..k {
            let ns = format!("{NS_PREFIX}{tag}-h{i}");
            let ip = self.ip_of(i as u8 + 1);
            let port = format!("p{i}");
            run("ip", &["netns", "add", &ns])?;
            let name = format!("h{i}");
            self.hosts.push(Host {
                data_dir: self.dir.join(&name),
                log: self.dir.join(format!("{name}.log")),
                name,
                ns: ns.clone(),
                ip,
                http: SocketAddr::from((ip, HTTP_PORT)),
                child: None,
                filtered: false,
                seen: Arc::new(Mutex::new(Vec::new())),
            });
            run("ip", &["-n", &hub, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &ns])?;
            run("ip", &["-n", &hub, "link", "set", &port, "master", "br0", "up"])?;
            run("ip", &["-n", &ns, "addr", "add", &format!("{ip}/24"), "dev", "eth0"])?;
            run("ip", &["-n", &ns, "link", "set", "eth0", "up"])?;
            run("ip", &["-n", &ns, "link", "set", "lo", "up"])?;
        }
        Ok(())
    }

    /// Starts (or restarts, same name and data dir) the agent of host `i`, and a reader of its
    /// events. Does not wait for it.
    pub fn spawn(&mut self, i: usize) {
        let seed = SocketAddr::from((self.ip_of(1), GOSSIP_PORT)).to_string();
        let host = &mut self.hosts[i];
        assert!(host.child.is_none(), "{} already runs", host.name);
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&host.log).unwrap();
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &host.ns, BIN, "agent", "--name", &host.name, "--preset", "lan"])
            .arg("--bind")
            .arg(SocketAddr::from((host.ip, GOSSIP_PORT)).to_string())
            .arg("--http")
            .arg(host.http.to_string())
            .arg("--data-dir")
            .arg(&host.data_dir)
            .args(["--log-level", "info"])
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if i != 0 {
            cmd.args(["--seeds", &seed]);
        }
        // `ip netns exec` execs the agent: this child is the agent process itself.
        host.child = Some(cmd.spawn().unwrap());
    }

    /// Waits until host `i`'s agent answers `/v1/health`, then follows its events.
    pub fn wait_healthy(&mut self, i: usize) {
        let http = self.hosts[i].http;
        let name = self.hosts[i].name.clone();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.hosts[i].child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!(
                    "agent {name} exited with {status}:\n{}",
                    std::fs::read_to_string(&self.hosts[i].log).unwrap_or_default()
                );
            }
            if request(http, "GET", "/v1/health", b"").is_some_and(|(status, _)| status == 200) {
                break;
            }
            assert!(Instant::now() < deadline, "agent {name} never answered /v1/health");
            std::thread::sleep(Duration::from_millis(20));
        }
        follow_events(http, self.hosts[i].seen.clone(), self.stop.clone());
    }

    /// `kill -9` host `i`'s agent.
    pub fn kill9(&mut self, i: usize) {
        if let Some(mut child) = self.hosts[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends `signal` (STOP, CONT) to host `i`'s agent.
    pub fn signal(&self, i: usize, signal: &str) {
        let pid = self.hosts[i].child.as_ref().expect("agent not running").id().to_string();
        run("kill", &[&format!("-{signal}"), &pid]).unwrap();
    }

    /// Every address of `hosts`, as an nftables set.
    fn addr_set(&self, hosts: &[usize]) -> String {
        let addrs: Vec<String> = hosts.iter().map(|&i| self.hosts[i].ip.to_string()).collect();
        format!("{{ {} }}", addrs.join(", "))
    }

    /// Installs `rule` in an input chain of host `i`'s namespace (traffic from the test itself
    /// always passes).
    fn filter_input(&mut self, i: usize, rule: &str) {
        let root = self.root_ip();
        let ruleset = format!(
            "table inet hslab {{\n chain input {{\n  type filter hook input priority 0; policy accept;\n  \
             ip saddr {root} accept\n  {rule}\n }}\n}}\n"
        );
        nft(&self.hosts[i].ns, &ruleset).unwrap();
        self.hosts[i].filtered = true;
    }

    /// Cuts `a` from `b` both ways.
    pub fn cut(&mut self, a: &[usize], b: &[usize]) {
        let (to_a, to_b) = (self.addr_set(b), self.addr_set(a));
        for &i in a {
            self.filter_input(i, &format!("ip saddr {to_a} drop"));
        }
        for &i in b {
            self.filter_input(i, &format!("ip saddr {to_b} drop"));
        }
    }

    /// Host `i` receives nothing from the other hosts (it still sends).
    pub fn drop_inbound(&mut self, i: usize) {
        self.filter_input(i, "iifname \"eth0\" drop");
    }

    /// Every host drops `percent` % of what it receives, at random.
    pub fn loss(&mut self, percent: u32) {
        for i in 0..self.hosts.len() {
            self.filter_input(i, &format!("iifname \"eth0\" numgen random mod 100 < {percent} drop"));
        }
    }

    /// Removes every fault.
    pub fn heal(&mut self) {
        for host in &mut self.hosts {
            if host.filtered {
                let _ = run("ip", &["netns", "exec", &host.ns, "nft", "delete", "table", "inet", "hslab"]);
                host.filtered = false;
            }
        }
    }

    /// Member `subject` as host `observer` sees it: (status, generation).
    pub fn status(&self, observer: usize, subject: &str) -> Option<(String, u64)> {
        self.members(observer)?.remove(subject)
    }

    /// Every member host `observer` knows: name → (status, generation).
    pub fn members(&self, observer: usize) -> Option<BTreeMap<String, (String, u64)>> {
        let (status, body) = request(self.hosts[observer].http, "GET", "/v1/members", b"")?;
        if status != 200 {
            return None;
        }
        let json: serde_json::Value = serde_json::from_str(&body).ok()?;
        let members = json.as_array()?.iter().map(|m| {
            let status = m["status"].as_str().unwrap_or_default().to_string();
            (m["name"].as_str().unwrap_or_default().to_string(), (status, m["generation"].as_u64().unwrap_or(0)))
        });
        Some(members.collect())
    }

    /// Whether `observer` sees every one of `subjects` alive.
    pub fn sees_alive(&self, observer: usize, subjects: &[usize]) -> bool {
        self.members(observer).is_some_and(|m| {
            subjects.iter().all(|&s| m.get(&self.hosts[s].name).is_some_and(|(status, _)| status == "alive"))
        })
    }

    /// Writes `key` = `value` on host `i`; the version, or `None` if the write was not acknowledged.
    pub fn put(&self, i: usize, key: &str, value: &str) -> Option<u64> {
        let (status, body) =
            request_with_headers(self.hosts[i].http, "PUT", &format!("/v1/kv/{key}"), value.as_bytes(), WRITE_HEADERS)?;
        if status != 200 {
            return None;
        }
        serde_json::from_str::<serde_json::Value>(&body).ok()?["version"].as_u64()
    }

    /// Deletes `key` on host `i`; the version of the tombstone.
    pub fn delete(&self, i: usize, key: &str) -> Option<u64> {
        let (status, body) =
            request_with_headers(self.hosts[i].http, "DELETE", &format!("/v1/kv/{key}"), b"", WRITE_HEADERS)?;
        if status != 200 {
            return None;
        }
        serde_json::from_str::<serde_json::Value>(&body).ok()?["version"].as_u64()
    }

    /// Every live key host `i` holds: (owner, key) → (value, version).
    pub fn keys(&self, i: usize) -> Option<BTreeMap<(String, String), (String, u64)>> {
        let (status, body) = request(self.hosts[i].http, "GET", "/v1/kv", b"")?;
        if status != 200 {
            return None;
        }
        let json: serde_json::Value = serde_json::from_str(&body).ok()?;
        let entries = json.as_array()?.iter().map(|e| {
            let text = |f: &str| e[f].as_str().unwrap_or_default().to_string();
            ((text("node"), text("key")), (text("value"), e["version"].as_u64().unwrap_or(0)))
        });
        Some(entries.collect())
    }

    /// The value of metric `name` (a sample without labels) on host `i`.
    pub fn metric(&self, i: usize, name: &str) -> Option<f64> {
        let (status, body) = request(self.hosts[i].http, "GET", "/metrics", b"")?;
        if status != 200 {
            return None;
        }
        body.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
    }

    /// When each of `observers` first reported an event of `kind` about `subject` after
    /// `since` (`None` for a host that has not).
    pub fn first_event_at(
        &self,
        observers: &[usize],
        kind: &str,
        subject: &str,
        since: Instant,
    ) -> Vec<Option<Instant>> {
        observers
            .iter()
            .map(|&o| {
                let seen = self.hosts[o].seen.lock().unwrap();
                seen.iter().filter(|s| s.at >= since && s.kind == kind && s.node == subject).map(|s| s.at).min()
            })
            .collect()
    }

    /// Events of `kind` about `subject` (any member if `None`) reported by every host.
    pub fn count(&self, kind: &str, subject: Option<&str>, since: Instant) -> usize {
        self.hosts
            .iter()
            .map(|h| {
                h.seen
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|s| s.at >= since && s.kind == kind && subject.is_none_or(|n| s.node == n))
                    .count()
            })
            .sum()
    }
}

/// Polls `check` every 20 ms until it holds and returns how long that took; panics naming
/// `what` after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut check: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if check() {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "timed out after {limit:?} waiting for: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Reads `GET /v1/events` of the agent at `http` in a thread and records each event. HTTP/1.0,
/// so the stream is not chunked; it ends when the agent dies or the lab is dropped.
fn follow_events(http: SocketAddr, seen: Arc<Mutex<Vec<Seen>>>, stop: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        let Ok(mut stream) = TcpStream::connect_timeout(&http, Duration::from_secs(2)) else { return };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        if stream.write_all(b"GET /v1/events HTTP/1.0\r\n\r\n").is_err() {
            return;
        }
        let mut reader = BufReader::new(stream);
        let mut kind = String::new();
        let mut line = String::new();
        while !stop.load(Ordering::Relaxed) {
            match reader.read_line(&mut line) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => continue,
                Err(_) => return,
            }
            let text = std::mem::take(&mut line);
            let text = text.trim_end();
            if let Some(k) = text.strip_prefix("event:") {
                kind = k.trim().to_string();
            } else if let Some(data) = text.strip_prefix("data:") {
                let node = serde_json::from_str::<serde_json::Value>(data.trim())
                    .ok()
                    .and_then(|j| j["node"].as_str().map(str::to_string))
                    .unwrap_or_default();
                seen.lock().unwrap().push(Seen { at: Instant::now(), kind: std::mem::take(&mut kind), node });
            }
        }
    });
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for i in 0..self.hosts.len() {
            // A stopped process must be continued to die of SIGKILL promptly everywhere.
            if let Some(child) = &self.hosts[i].child {
                let _ = run("kill", &["-CONT", &child.id().to_string()]);
            }
            self.kill9(i);
        }
        for host in &self.hosts {
            let _ = run("ip", &["netns", "del", &host.ns]);
        }
        let _ = run("ip", &["netns", "del", &self.hub]);
        // Deleting the hub removes the root veth with its peer; in case it did not:
        let _ = run("ip", &["link", "del", &self.root_veth]);
        if std::thread::panicking() || std::env::var_os("HEARSAY_NETNS_KEEP_LOGS").is_some() {
            eprintln!("agent logs kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
