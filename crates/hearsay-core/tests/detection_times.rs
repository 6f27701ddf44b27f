//! Detection times on the core's test harness (virtual time, no network): how long until every
//! survivor holds a crashed member dead, and until each side of a 4 | 4 (or 6 | 6) partition
//! holds the other side dead, under `Config::lan()`, over 30 seeds each. A measurement, not a
//! check: run it with
//! `cargo test --release -p hearsay-core --test detection_times -- --ignored --nocapture`
//! (figures in docs/failure-detection.md).

mod util;
use hearsay_core::{Config, MemberStatus};
use std::time::Duration;
use util::{Cluster, name};

/// Seconds until the crash (or the partition) is seen everywhere, or `None` within 60 s.
fn dead_time(k: usize, seed: u64, crash: bool) -> Option<f64> {
    let mut c = Cluster::new(k, Config::lan(), seed);
    c.run_until_converged(400).ok()?;
    // Start the fault at a different phase of the probe schedules in every run.
    c.run(50 + seed as usize % 7);
    c.step(Duration::from_millis(137 * seed % 1000));
    let (a, b): (Vec<usize>, Vec<usize>) = if crash {
        let v = 1 + seed as usize % (k - 1);
        c.down[v] = true;
        ((0..k).filter(|&i| i != v).collect(), vec![v])
    } else {
        let a: Vec<usize> = (0..k / 2).collect();
        let b: Vec<usize> = (k / 2..k).collect();
        c.partition(&a, &b);
        (a, b)
    };
    let dead =
        |c: &Cluster, o: usize, s: usize| c.nodes[o].member(&name(s)).is_some_and(|m| m.status == MemberStatus::Dead);
    for i in 1..=1200 {
        c.step(Duration::from_millis(50));
        let ok = a.iter().all(|&o| b.iter().all(|&s| dead(&c, o, s)))
            && (crash || b.iter().all(|&o| a.iter().all(|&s| dead(&c, o, s))));
        if ok {
            return Some(i as f64 * 0.05);
        }
    }
    None
}

#[test]
#[ignore = "a measurement; run with --ignored --nocapture"]
fn detection_times_under_lan() {
    for crash in [true, false] {
        for k in [8, 12] {
            let mut times: Vec<f64> = (1..=30).filter_map(|s| dead_time(k, s, crash)).collect();
            assert_eq!(times.len(), 30, "every run ends with the fault seen everywhere within 60 s");
            times.sort_by(f64::total_cmp);
            println!(
                "{} K={k} lan: 30 runs, median {:.2} s, max {:.2} s",
                if crash { "crash" } else { "partition" },
                times[15],
                times[29]
            );
        }
    }
}
