//! Does reading an agent over HTTP delay its probes? Starts two agents (any `hearsay` build),
//! gives the first 10,000 keys, opens "dashboard tabs" (threads polling what a dashboard
//! polls), and meanwhile pings the first agent over UDP as a peer would, timing each
//! `ping` → `ping_ack` round trip: the answer comes from the node task, so any time it spends
//! on HTTP reads shows up here.
//!
//! ```text
//! cargo run -p hearsay-agent --example dashboard_load -- BIN [--keys 10000] [--clients 20]
//!     [--secs 30] [--pattern full|paged]
//! ```
//! `full` polls what the old dashboard polled (every second: `/v1/members` and every key of
//! `/v1/kv`); `paged` what the current one polls (`/v1/members` every 2 s, `/v1/history` and
//! one page of `/v1/kv` every 5 s).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hearsay_core::wire::{Codec, Message, Ping, WireNodeId};

struct Agent {
    child: Child,
    gossip: SocketAddr,
    http: SocketAddr,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(bin: &str, name: &str, dir: &std::path::Path, seed: Option<SocketAddr>) -> Agent {
    let log = dir.join(format!("{name}.log"));
    let mut cmd = Command::new(bin);
    cmd.args(["agent", "--name", name, "--preset", "local", "--bind", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir.join(name))
        .args(["--log-level", "info", "--max-keys-per-node", "100000"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    if let Some(seed) = seed {
        cmd.arg("--seeds").arg(seed.to_string());
    }
    // Wrapped at once, so the process is killed and reaped on every path.
    let mut agent =
        Agent { child: cmd.spawn().unwrap(), gossip: "0.0.0.0:0".parse().unwrap(), http: "0.0.0.0:0".parse().unwrap() };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains("agent running")) {
            let field = |key: &str| -> SocketAddr {
                line.split_whitespace().find_map(|w| w.strip_prefix(key)).unwrap().parse().unwrap()
            };
            (agent.gossip, agent.http) = (field("gossip="), field("http="));
            return agent;
        }
        assert!(Instant::now() < deadline, "{name} did not start:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One HTTP/1.1 request; the status and body length.
fn request(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, usize) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nX-Hearsay: 1\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    let status =
        String::from_utf8_lossy(&out[..out.len().min(12)]).get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, out.len())
}

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned().unwrap_or_else(|| default.to_string())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bin =
        args.first().expect("usage: dashboard_load BIN [--keys N] [--clients N] [--secs N] [--pattern full|paged]");
    let keys: usize = arg(&args, "--keys", "10000").parse().unwrap();
    let clients: usize = arg(&args, "--clients", "20").parse().unwrap();
    let secs: u64 = arg(&args, "--secs", "30").parse().unwrap();
    let pattern = arg(&args, "--pattern", "paged");
    let dir = std::env::temp_dir().join(format!("hearsay-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    let loaded = start(bin, "loaded", &dir, None);
    let _peer = start(bin, "peer", &dir, Some(loaded.gossip));

    // 10,000 keys of ~100 bytes on the loaded node, 8 writers at a time.
    let t = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..8)
        .map(|_| {
            let (next, http) = (next.clone(), loaded.http);
            std::thread::spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    if i >= keys {
                        break;
                    }
                    let path = format!("/v1/kv/load/key-{i:06}");
                    let mut status = request(http, "PUT", &path, &[b'v'; 100]).0;
                    // Flow control: a bulk load faster than gossip carries is told to wait.
                    while status == 429 {
                        std::thread::sleep(Duration::from_millis(20));
                        status = request(http, "PUT", &path, &[b'v'; 100]).0;
                    }
                    assert_eq!(status, 200, "PUT {i}");
                }
            })
        })
        .collect();
    writers.into_iter().for_each(|w| w.join().unwrap());
    eprintln!("{keys} keys written in {:.1} s", t.elapsed().as_secs_f64());
    std::thread::sleep(Duration::from_secs(2));

    // The dashboard tabs.
    let stop = Arc::new(AtomicBool::new(false));
    let polls = Arc::new(AtomicU64::new(0));
    let poll_time = Arc::new(AtomicU64::new(0));
    let tabs: Vec<_> = (0..clients)
        .map(|tab| {
            let (stop, polls, poll_time, http, pattern) =
                (stop.clone(), polls.clone(), poll_time.clone(), loaded.http, pattern.clone());
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(37 * tab as u64 % 1000));
                let mut tick = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let paths: Vec<&str> = match pattern.as_str() {
                        "full" => vec!["/v1/members", "/v1/kv"],
                        _ => {
                            let mut p = Vec::new();
                            if tick.is_multiple_of(2) {
                                p.push("/v1/members");
                            }
                            if tick.is_multiple_of(5) {
                                p.extend(["/v1/history", "/v1/kv?limit=50&offset=0"]);
                            }
                            p
                        }
                    };
                    for path in paths {
                        let t = Instant::now();
                        let (status, _) = request(http, "GET", path, b"");
                        assert_eq!(status, 200, "GET {path}");
                        polls.fetch_add(1, Ordering::Relaxed);
                        poll_time.fetch_add(t.elapsed().as_micros() as u64, Ordering::Relaxed);
                    }
                    tick += 1;
                    std::thread::sleep(Duration::from_secs(1));
                }
            })
        })
        .collect();

    // Ping the loaded node as a peer would, every 20 ms.
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let codec = Codec { cluster_id: 0, max_len: 65_507 };
    let sent: Arc<Mutex<HashMap<u32, Instant>>> = Arc::default();
    let checksum = Arc::new(AtomicU64::new(0));
    let rtts: Arc<Mutex<Vec<f64>>> = Arc::default();
    let receiver = {
        let (socket, sent, rtts, stop, checksum) =
            (socket.try_clone().unwrap(), sent.clone(), rtts.clone(), stop.clone(), checksum.clone());
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65_536];
            while !stop.load(Ordering::Relaxed) {
                let Ok(len) = socket.recv(&mut buf) else { continue };
                let now = Instant::now();
                if let Ok(Message::PingAck(ack)) = codec.decode(&buf[..len])
                    && let Some(at) = sent.lock().unwrap().remove(&ack.seq)
                {
                    // Echo the node's checksum so it sees no reason to repair our state.
                    checksum.store(ack.checksum, Ordering::Relaxed);
                    rtts.lock().unwrap().push(now.duration_since(at).as_secs_f64() * 1000.0);
                }
            }
        })
    };
    let me = WireNodeId { name: "load-prober".into(), generation: 1, addr: socket.local_addr().unwrap() };
    let started = Instant::now();
    let mut seq = 0u32;
    while started.elapsed() < Duration::from_secs(secs) {
        seq += 1;
        let ping = Ping {
            seq,
            target: "loaded".into(),
            source: me.clone(),
            checksum: checksum.load(Ordering::Relaxed),
            members: 1,
            updates: Vec::new(),
        };
        sent.lock().unwrap().insert(seq, Instant::now());
        socket.send_to(&codec.encode(&Message::Ping(ping)), loaded.gossip).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    receiver.join().unwrap();
    tabs.into_iter().for_each(|t| t.join().unwrap());

    let mut rtts = rtts.lock().unwrap().clone();
    rtts.sort_by(f64::total_cmp);
    let q = |p: f64| {
        rtts.get(((rtts.len() as f64 * p) as usize).min(rtts.len().saturating_sub(1))).copied().unwrap_or(f64::NAN)
    };
    let n = polls.load(Ordering::Relaxed);
    println!(
        "pattern={pattern} clients={clients} keys={keys}: pings sent {seq}, answered {}; rtt ms p50 {:.2} p99 {:.2} max {:.2}; {n} polls, mean {:.1} ms",
        rtts.len(),
        q(0.50),
        q(0.99),
        rtts.last().copied().unwrap_or(f64::NAN),
        poll_time.load(Ordering::Relaxed) as f64 / n.max(1) as f64 / 1000.0
    );
    let _ = std::fs::remove_dir_all(&dir);
}
