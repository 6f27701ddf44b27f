//! Time for a query to collect every answer, and for a user event to reach every member, on N
//! real nodes in one process (loopback UDP, `Config::local()`, every node joined through the
//! first). `cargo run --release -p hearsay --example query_time -- 100`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hearsay::{Cluster, Config, Event, MemberStatus, QueryOptions, QueryReply};

#[tokio::main]
async fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let delivered = Arc::new(AtomicUsize::new(0));
    let mut nodes: Vec<Cluster> = Vec::new();
    for i in 0..n {
        let mut builder = Cluster::builder(Config::local())
            .bind("127.0.0.1:0".parse().expect("a socket address"))
            .name(format!("q{i}"))
            .query_handler(|request: hearsay::QueryRequest| async move { Some(request.payload.to_vec()) });
        if let Some(first) = nodes.first() {
            builder = builder.seeds(vec![first.local_addr()]);
        }
        let (node, mut events) = match builder.spawn_with_subscription().await {
            Ok(started) => started,
            Err(e) => {
                eprintln!("cannot start node {i}: {e}");
                std::process::exit(1);
            }
        };
        let delivered = delivered.clone();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                if let Ok(Event::User { .. }) = event {
                    delivered.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        nodes.push(node);
    }
    let formed = Instant::now();
    loop {
        let mut all = true;
        for node in &nodes {
            let alive =
                node.members().await.map_or(0, |m| m.iter().filter(|m| m.status == MemberStatus::Alive).count());
            all &= alive + 1 >= n;
        }
        if all {
            break;
        }
        if formed.elapsed() > Duration::from_secs(120) {
            eprintln!("the cluster did not form within 120 s");
            std::process::exit(1);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("n={n}: formed in {:.1} s", formed.elapsed().as_secs_f64());

    for (round, asker) in nodes.iter().take(3).enumerate() {
        let start = Instant::now();
        let options = QueryOptions { timeout: Duration::from_secs(10), ..QueryOptions::default() };
        let mut stream = match asker.query("echo", b"ping".to_vec(), options).await {
            Ok(stream) => stream,
            Err(e) => {
                eprintln!("query failed: {e}");
                std::process::exit(1);
            }
        };
        let asked = stream.asked().len();
        let (mut acks, mut answers, mut last_ack, mut last_answer) = (0, 0, Duration::ZERO, Duration::ZERO);
        while let Some(reply) = stream.recv().await {
            match reply {
                QueryReply::Ack { .. } => {
                    acks += 1;
                    last_ack = start.elapsed();
                }
                QueryReply::Response { .. } => {
                    answers += 1;
                    last_answer = start.elapsed();
                }
            }
            if answers >= asked && acks >= asked {
                break;
            }
        }
        println!(
            "query {round}: asked {asked}, acked {acks} (last after {:.1} ms), answered {answers} (last after {:.1} ms)",
            last_ack.as_secs_f64() * 1e3,
            last_answer.as_secs_f64() * 1e3
        );

        let before = delivered.load(Ordering::Relaxed);
        let start = Instant::now();
        if let Err(e) = asker.send_event("deploy", b"v2".to_vec()).await {
            eprintln!("event failed: {e}");
            std::process::exit(1);
        }
        while delivered.load(Ordering::Relaxed) < before + n && start.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        println!(
            "event {round}: delivered to {} of {n} in {:.1} ms",
            delivered.load(Ordering::Relaxed) - before,
            start.elapsed().as_secs_f64() * 1e3
        );
    }
    for node in &nodes {
        node.shutdown().await;
    }
}
