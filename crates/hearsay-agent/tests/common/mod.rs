//! Helpers for the agent's integration tests: real `hearsay` processes on loopback, a tiny
//! blocking HTTP client, and polling with generous deadlines.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_hearsay");
/// How long any condition may take before a test fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A port free for both TCP and UDP on 127.0.0.1 (gossip uses both).
pub fn free_port() -> u16 {
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

pub fn free_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

/// A fresh directory under the system temp dir.
pub fn temp_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let dir = std::env::temp_dir().join(format!("hearsay-test-{tag}-{}-{nanos}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Polls `check` every 50 ms until it holds; panics with `what` after [`DEADLINE`].
pub fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out after {DEADLINE:?} waiting for: {what}");
}

/// A running `hearsay agent` process, killed when dropped.
///
/// Agents bind port 0 for gossip and HTTP and the test reads the ports they got from their log
/// ("agent running ... gossip=ADDR http=ADDR"), so tests running in parallel (in one process or
/// in many, as under nextest) can never race for a port.
pub struct Agent {
    pub name: String,
    pub gossip: SocketAddr,
    pub http: SocketAddr,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    child: Option<Child>,
}

impl Agent {
    /// Starts an agent with the local preset and 100 ms rounds, and waits until its API answers.
    pub fn start(name: &str, dir: &Path, seeds: &[SocketAddr]) -> Agent {
        Agent::start_with(name, dir, seeds, &[])
    }

    /// Starts an agent with extra flags.
    pub fn start_with(name: &str, dir: &Path, seeds: &[SocketAddr], extra: &[&str]) -> Agent {
        let unset = SocketAddr::from(([127, 0, 0, 1], 0));
        let mut agent = Agent {
            name: name.to_string(),
            gossip: unset,
            http: unset,
            data_dir: dir.join(name),
            log: dir.join(format!("{name}.log")),
            child: None,
        };
        agent.spawn_with(seeds, extra);
        agent
    }

    /// (Re)starts the process with the same name and data dir (and new ports).
    pub fn spawn(&mut self, seeds: &[SocketAddr]) {
        self.spawn_with(seeds, &[]);
    }

    /// (Re)starts the process with extra flags.
    pub fn spawn_with(&mut self, seeds: &[SocketAddr], extra: &[&str]) {
        let offset = std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0) as usize;
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        let mut cmd = Command::new(BIN);
        cmd.args(["agent", "--name", &self.name, "--preset", "local", "--gossip-interval-ms", "100"]);
        // Port 0 unless the test binds a port of its own.
        if !extra.contains(&"--bind") {
            cmd.args(["--bind", "127.0.0.1:0"]);
        }
        cmd.args(["--http", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--log-level", "info"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if !seeds.is_empty() {
            let seeds: Vec<String> = seeds.iter().map(|s| s.to_string()).collect();
            cmd.arg("--seeds").arg(seeds.join(","));
        }
        self.child = Some(cmd.spawn().unwrap());
        let name = self.name.clone();
        let mut addrs = None;
        wait_until(&format!("agent {name} logs its addresses"), || {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!("agent {name} exited with {status}:\n{}", self.log_text());
            }
            let text = self.log_text();
            addrs = text.get(offset..).and_then(|fresh| {
                let line = fresh.lines().find(|l| l.contains("agent running"))?;
                let field = |key: &str| -> Option<SocketAddr> {
                    line.split_whitespace().find_map(|w| w.strip_prefix(key))?.parse().ok()
                };
                Some((field("gossip=")?, field("http=")?))
            });
            addrs.is_some()
        });
        (self.gossip, self.http) = addrs.unwrap();
        let http = self.http;
        wait_until(&format!("agent {name} answers /v1/health"), || {
            request(http, "GET", "/v1/health", b"")
                .is_some_and(|(status, body)| status == 200 && body.contains(&format!("\"name\":\"{name}\"")))
        });
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// `kill -9`: no leave, no cleanup.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends a signal by number (15 = SIGTERM, 2 = SIGINT).
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill").arg(format!("-{sig}")).arg(self.pid().to_string()).status().unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit on its own.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let child = self.child.as_mut().expect("agent not running");
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(Instant::now() < deadline, "agent {} did not exit", self.name);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `GET path` on this agent, parsed as JSON; panics unless 200.
    pub fn get_json(&self, path: &str) -> serde_json::Value {
        let (status, body) = request(self.http, "GET", path, b"").expect("agent unreachable");
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// The status of member `name` as this agent sees it, with its generation.
    pub fn member(&self, name: &str) -> Option<(String, u64)> {
        let (status, body) = request(self.http, "GET", "/v1/members", b"")?;
        if status != 200 {
            return None;
        }
        let members: serde_json::Value = serde_json::from_str(&body).ok()?;
        members.as_array()?.iter().find(|m| m["name"] == name).map(|m| {
            (m["status"].as_str().unwrap_or_default().to_string(), m["generation"].as_u64().unwrap_or_default())
        })
    }

    /// Runs a CLI subcommand against this agent.
    pub fn cli(&self, args: &[&str]) -> Output {
        let http = self.http.to_string();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--http", &http]);
        hearsay(&all)
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Runs `hearsay ARGS` to completion.
pub fn hearsay(args: &[&str]) -> Output {
    Command::new(BIN).args(args).env_remove("HEARSAY_HTTP").stdin(Stdio::null()).output().unwrap()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// One HTTP/1.1 request with `Connection: close`; `None` if the agent cannot be reached.
pub fn request(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> Option<(u16, String)> {
    let (status, body) = request_bytes(addr, method, path, body)?;
    Some((status, String::from_utf8_lossy(&body).into_owned()))
}

pub fn request_bytes(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> Option<(u16, Vec<u8>)> {
    request_with(addr, method, path, body, &[])
}

/// Like [`request`], with extra header lines (`"Authorization: Bearer ..."`).
pub fn request_with_headers(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
    headers: &[&str],
) -> Option<(u16, String)> {
    let (status, body) = request_with(addr, method, path, body, headers)?;
    Some((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Like the others, with `X-Hearsay: 1`, which the agent requires on state changes (as the CLI
/// sends it).
fn request_with(addr: SocketAddr, method: &str, path: &str, body: &[u8], headers: &[&str]) -> Option<(u16, Vec<u8>)> {
    let mut all = vec!["X-Hearsay: 1"];
    all.extend_from_slice(headers);
    request_exactly(addr, method, path, body, &all)
}

/// One request with exactly these header lines besides `Host: {addr}`, `Connection: close`
/// and `Content-Length` (no `X-Hearsay`): what a browser would send.
pub fn request_exactly(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
    headers: &[&str],
) -> Option<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).ok()?;
    // A server may answer (413) before reading a large body and close: ignore write errors then.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status: u16 = head.split_whitespace().nth(1)?.parse().ok()?;
    let mut payload = raw[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        payload = dechunk(&payload);
    }
    Some((status, payload))
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..line_end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = &data[(start + size + 2).min(data.len())..];
    }
    out
}

/// What [`exchange`] saw.
pub struct Exchange {
    /// The status of the first answer, 0 if none came.
    pub status: u16,
    /// Its body, de-chunked.
    pub body: String,
    /// Whether the agent closed the connection before the read timeout.
    pub closed: bool,
}

/// Writes `raw` (request bytes, maybe incomplete) and reads until the agent closes the
/// connection or `read_timeout` passes.
pub fn exchange(addr: SocketAddr, raw: &[u8], read_timeout: Duration) -> Exchange {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
    stream.set_read_timeout(Some(read_timeout)).unwrap();
    let _ = stream.write_all(raw);
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = loop {
        match stream.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => data.extend_from_slice(&buf[..n]),
            // A reset after the answer is a close too.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(_) => break false,
        }
    };
    let Some(split) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Exchange { status: 0, body: String::new(), closed };
    };
    let head = String::from_utf8_lossy(&data[..split]).into_owned();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut body = data[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    Exchange { status, body: String::from_utf8_lossy(&body).into_owned(), closed }
}
