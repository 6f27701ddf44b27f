//! hearsay on a real network: K = 8 hosts, each a network namespace running one `hearsay agent`
//! process (`lan` preset), faults made with nftables (see `netlab`). Each scenario prints what
//! it measured; the assertions are about correctness, with generous deadlines.
//!
//! Needs root, iproute2 and nftables; elsewhere each test prints `SKIPPED` and passes, unless
//! `HEARSAY_NETNS_REQUIRED=1` (CI sets it). The figures in docs/failure-detection.md ("Real
//! network suite") come from `cargo nextest run -p hearsay-agent --test netns --no-capture`.

mod common;
mod netlab;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use netlab::{Lab, WRITE_HEADERS, wait_for};

const K: usize = 8;
/// Bound on every eventual condition: correctness, not speed.
const LIMIT: Duration = Duration::from_secs(30);

fn all(lab: &Lab) -> Vec<usize> {
    (0..lab.hosts.len()).collect()
}

fn except(lab: &Lab, gone: usize) -> Vec<usize> {
    all(lab).into_iter().filter(|&i| i != gone).collect()
}

/// Waits until every host of `observers` sees every one of them alive.
fn wait_formed(lab: &Lab, observers: &[usize], what: &str) -> Duration {
    wait_for(what, LIMIT, || observers.iter().all(|&o| lab.sees_alive(o, observers)))
}

/// Waits until every host of `observers` sees `subject` with a status for which `ok` holds.
fn wait_status(lab: &Lab, observers: &[usize], subject: usize, what: &str, ok: impl Fn(&str, u64) -> bool) -> Duration {
    let name = lab.hosts[subject].name.clone();
    wait_for(what, LIMIT, || {
        observers.iter().all(|&o| lab.status(o, &name).is_some_and(|(status, generation)| ok(&status, generation)))
    })
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

#[test]
fn netns_formation_and_a_write_reach_every_host() {
    let started = Instant::now();
    let Some(lab) = Lab::start("formation", K, &[]) else { return };
    let up = started.elapsed();
    let formed = wait_formed(&lab, &all(&lab), "every host sees all 8 alive");
    let version = lab.put(3, "color", "blue").expect("write acknowledged");
    let spread = wait_for("every host holds h3/color", LIMIT, || {
        all(&lab).iter().all(|&i| {
            lab.keys(i).is_some_and(|k| k.get(&("h3".into(), "color".into())) == Some(&("blue".into(), version)))
        })
    });
    println!(
        "netns formation: K={K} lan: agents up in {} ms, full membership {} ms after the last answered; \
         a write on h3 on every host in {} ms",
        ms(up),
        ms(formed),
        ms(spread)
    );
}

#[test]
fn netns_kill9_is_detected_by_all_and_a_restart_keeps_keys_with_a_higher_generation() {
    let Some(mut lab) = Lab::start("kill9", K, &[]) else { return };
    wait_formed(&lab, &all(&lab), "formation");
    let victim = K - 1;
    let keep = lab.put(victim, "keep", "one").unwrap();
    let keep = lab.put(victim, "keep", "two").unwrap().max(keep);
    lab.put(victim, "gone", "x").unwrap();
    let last = lab.delete(victim, "gone").unwrap();
    let survivors = except(&lab, victim);
    wait_for("survivors hold h7/keep", LIMIT, || {
        survivors.iter().all(|&i| lab.keys(i).is_some_and(|k| k.contains_key(&("h7".into(), "keep".into()))))
    });
    let old = lab.status(0, "h7").unwrap().1;

    lab.kill9(victim);
    let dead = wait_status(&lab, &survivors, victim, "h7 dead on every survivor", |s, _| s == "dead");

    let restarted = Instant::now();
    lab.spawn(victim);
    lab.wait_healthy(victim);
    wait_status(&lab, &all(&lab), victim, "h7 alive with a higher generation everywhere", |s, g| {
        s == "alive" && g > old
    });
    let back = restarted.elapsed();
    wait_for("h7/keep at its old version everywhere, h7/gone still deleted", LIMIT, || {
        all(&lab).iter().all(|&i| {
            lab.keys(i).is_some_and(|k| {
                k.get(&("h7".into(), "keep".into())) == Some(&("two".into(), keep))
                    && !k.contains_key(&("h7".into(), "gone".into()))
            })
        })
    });
    let next = lab.put(victim, "after", "restart").unwrap();
    assert_eq!(next, last + 1, "the version counter continues after a restart");
    println!(
        "netns kill -9: K={K} lan: dead on all 7 survivors {} ms after the kill; restarted with the same \
         data dir: alive with a higher generation on all 8 {} ms after the restart, keys and versions kept",
        ms(dead),
        ms(back)
    );
}

/// A measurement, not a check (`--ignored`): `HEARSAY_NETNS_CRASHES` (default 20) crashes of
/// one host after another under `lan`, each restarted with its data dir once every survivor
/// declared it dead; prints each time from the `kill -9` to the last survivor's `member_dead`
/// event (as the survivors' event streams reported it) and the nearest-rank p50 / p99.
#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn netns_crash_detection_times() {
    let crashes: usize = std::env::var("HEARSAY_NETNS_CRASHES").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let Some(mut lab) = Lab::start("crashes", K, &[]) else { return };
    wait_formed(&lab, &all(&lab), "formation");
    let mut times = Vec::new();
    for c in 0..crashes {
        // Every host but the seed, in turn.
        let victim = 1 + c % (K - 1);
        let name = lab.hosts[victim].name.clone();
        let survivors = except(&lab, victim);
        let health: Vec<String> = survivors
            .iter()
            .map(|&i| {
                let score = lab.metric(i, "hearsay_health_score").unwrap_or(-1.0);
                let late = lab.metric(i, "hearsay_late_wakeups_total").unwrap_or(-1.0);
                format!("{score}/{late}")
            })
            .collect();
        println!("before crash {c}: survivors' health score / late wake-ups: {}", health.join(" "));
        // Crashes at spread phases of the probe interval (1 s under lan): right after a wait
        // the phase is always about the same.
        std::thread::sleep(Duration::from_millis((c as u64 * 379 + 500) % 1000));
        let killed = Instant::now();
        lab.kill9(victim);
        wait_status(&lab, &survivors, victim, "the victim dead on every survivor", |s, _| s == "dead");
        let seen = lab.first_event_at(&survivors, "member_dead", &name, killed);
        let last = seen.iter().flatten().max().map(|at| at.duration_since(killed));
        let Some(last) = last.filter(|_| seen.iter().all(Option::is_some)) else {
            panic!("a survivor reported {name} dead without a member_dead event");
        };
        times.push(last);
        let suspected = lab.first_event_at(&survivors, "member_suspect", &name, killed);
        let first = |at: &[Option<Instant>]| at.iter().flatten().min().map_or(0, |t| ms(t.duration_since(killed)));
        println!(
            "crash {c}: {name} dead on all {} survivors after {} ms (first suspect event {} ms, first dead event {} ms)",
            survivors.len(),
            ms(last),
            first(&suspected),
            first(&seen)
        );
        let old = lab.status(0, &name).map_or(0, |(_, g)| g);
        lab.spawn(victim);
        lab.wait_healthy(victim);
        wait_status(&lab, &all(&lab), victim, "the victim alive again everywhere", |s, g| s == "alive" && g > old);
        // Let the restart settle (refutations, flow reports) before the next crash.
        std::thread::sleep(Duration::from_secs(2));
    }
    times.sort();
    let rank = |q: f64| times[((q * times.len() as f64).ceil() as usize).clamp(1, times.len()) - 1];
    println!(
        "netns crash detection: K={K} lan, {} crashes: p50 {} ms, p99 {} ms, max {} ms, all (ms): {:?}",
        times.len(),
        ms(rank(0.50)),
        ms(rank(0.99)),
        ms(*times.last().unwrap()),
        times.iter().map(|t| ms(*t)).collect::<Vec<_>>()
    );
}

#[test]
fn netns_kill9_during_a_write_burst_loses_no_acknowledged_write() {
    let Some(mut lab) = Lab::start("burst", K, &[]) else { return };
    wait_formed(&lab, &all(&lab), "formation");
    let victim = K - 1;
    let http = lab.hosts[victim].http;
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut acked = Vec::new();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("burst/{n}");
                n += 1;
                let body = format!("v{n}");
                match common::request_with_headers(
                    http,
                    "PUT",
                    &format!("/v1/kv/{key}"),
                    body.as_bytes(),
                    WRITE_HEADERS,
                ) {
                    Some((200, body)) => {
                        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
                        acked.push((key, json["version"].as_u64().unwrap()));
                    }
                    _ => break,
                }
            }
            (acked, n)
        })
    };
    std::thread::sleep(Duration::from_millis(1500));
    lab.kill9(victim);
    stop.store(true, Ordering::Relaxed);
    let (acked, attempted) = writer.join().unwrap();
    assert!(!acked.is_empty(), "no write was acknowledged before the kill");

    lab.spawn(victim);
    lab.wait_healthy(victim);
    let converged = wait_for("every acknowledged write on every host", LIMIT, || {
        all(&lab).iter().all(|&i| {
            lab.keys(i).is_some_and(|k| {
                acked
                    .iter()
                    .all(|(key, version)| k.get(&("h7".to_string(), key.clone())).is_some_and(|(_, v)| v >= version))
            })
        })
    });
    println!(
        "netns kill -9 during a burst: K={K} lan: {} writes acknowledged of {attempted} attempted, 0 lost; \
         all on every host {} ms after the restart answered",
        acked.len(),
        ms(converged)
    );
}

#[test]
fn netns_partition_with_writes_and_deletes_on_both_sides_heals_with_nothing_lost_or_resurrected() {
    let Some(mut lab) = Lab::start("partition", K, &[]) else { return };
    let everyone = all(&lab);
    wait_formed(&lab, &everyone, "formation");
    let (a, b): (Vec<usize>, Vec<usize>) = everyone.iter().partition(|&&i| i < K / 2);
    // What every host must hold in the end: (owner, key) → value.
    let mut expected = BTreeMap::new();
    for &i in &everyone {
        let name = lab.hosts[i].name.clone();
        for key in ["kept", "changed", "doomed"] {
            lab.put(i, key, "before").unwrap();
        }
        expected.insert((name.clone(), "kept".to_string()), "before".to_string());
    }
    wait_for("every host holds the keys written before the cut", LIMIT, || {
        everyone.iter().all(|&i| lab.keys(i).is_some_and(|k| k.len() == 3 * K))
    });

    let cut_at = Instant::now();
    lab.cut(&a, &b);
    let name = |i: usize| lab.hosts[i].name.clone();
    let split = wait_for("each side sees the other side dead", LIMIT, || {
        a.iter().all(|&o| b.iter().all(|&s| lab.status(o, &name(s)).is_some_and(|(st, _)| st == "dead")))
            && b.iter().all(|&o| a.iter().all(|&s| lab.status(o, &name(s)).is_some_and(|(st, _)| st == "dead")))
    });
    for &i in &everyone {
        lab.put(i, "changed", "during").unwrap();
        lab.delete(i, "doomed").unwrap();
        lab.put(i, "new", "during").unwrap();
        expected.insert((name(i), "changed".to_string()), "during".to_string());
        expected.insert((name(i), "new".to_string()), "during".to_string());
    }
    // Hold the cut long enough for both sides to spread their writes and settle.
    std::thread::sleep(Duration::from_secs(5).saturating_sub(cut_at.elapsed()).max(Duration::from_secs(2)));
    let cut_for = cut_at.elapsed();
    lab.heal();
    let healed = wait_for("all alive everywhere and every host holds exactly the expected keys", LIMIT, || {
        everyone.iter().all(|&i| {
            lab.sees_alive(i, &everyone)
                && lab.keys(i).is_some_and(|k| {
                    k.len() == expected.len() && k.iter().all(|(id, (value, _))| expected.get(id) == Some(value))
                })
        })
    });
    println!(
        "netns partition: K={K} lan, 4|4 cut for {} ms with writes and deletes on both sides: each side saw \
         the other dead {} ms after the cut; healed with no command: all alive and {} keys exact on every \
         host {} ms after the heal, nothing lost, nothing resurrected",
        ms(cut_for),
        ms(split),
        expected.len(),
        ms(healed)
    );
}

#[test]
fn netns_a_host_that_receives_nothing_is_declared_dead_and_rejoins_after_the_heal() {
    let Some(mut lab) = Lab::start("oneway", K, &[]) else { return };
    wait_formed(&lab, &all(&lab), "formation");
    let deaf = K - 1;
    let others = except(&lab, deaf);
    let generation = lab.status(0, "h7").unwrap().1;
    assert_eq!(lab.metric(deaf, "hearsay_isolated"), Some(0.0), "a connected host does not report isolation");
    let cut_at = Instant::now();
    lab.drop_inbound(deaf);
    let dead = wait_status(&lab, &others, deaf, "the deaf host dead on every other host", |s, _| s == "dead");
    std::thread::sleep(Duration::from_secs(3));
    let own_view = lab.members(deaf).unwrap();
    let alive_in_own_view = own_view.iter().filter(|(n, (s, _))| *n != "h7" && s == "alive").count();
    let still_dead = others.iter().all(|&o| lab.status(o, "h7").is_some_and(|(s, _)| s == "dead"));
    assert!(still_dead, "the deaf host came back while it still received nothing");
    // It has heard from nobody for longer than a suspicion lasts: it knows it is the one cut
    // off and reports no peer alive.
    assert_eq!(alive_in_own_view, 0, "the deaf host still reports peers alive in its own view: {own_view:?}");
    // It says so to its operator: a gauge and an event.
    assert_eq!(lab.metric(deaf, "hearsay_isolated"), Some(1.0), "the deaf host's metrics do not show isolation");
    assert_eq!(lab.count("isolated", Some("h7"), cut_at), 1, "the deaf host did not report isolated once");
    lab.heal();
    let back = wait_formed(&lab, &all(&lab), "all alive everywhere after the heal");
    wait_for("the healed host no longer reports isolation", LIMIT, || {
        lab.metric(deaf, "hearsay_isolated") == Some(0.0)
    });
    assert_eq!(lab.count("reconnected", Some("h7"), cut_at), 1, "the healed host did not report reconnected once");
    assert_eq!(lab.status(0, "h7").unwrap().1, generation, "the same process keeps its generation");
    println!(
        "netns one-way isolation: K={K} lan: the host dropping all inbound was dead on the 7 others in {} ms \
         and stayed dead; {} s later it still reported {alive_in_own_view} of 7 peers alive; after the heal \
         all alive everywhere in {} ms",
        ms(dead),
        3,
        ms(back)
    );
}

/// Pauses host 7 for 3 s; returns (ms until alive again everywhere at the same generation,
/// suspect events about it, dead events about it).
fn sigstop_scenario(test: &str, extra: &[&str]) -> Option<(Duration, usize, usize)> {
    let lab = Lab::start(test, K, extra)?;
    wait_formed(&lab, &all(&lab), "formation");
    let paused = K - 1;
    let generation = lab.status(0, "h7").unwrap().1;
    let since = Instant::now();
    lab.signal(paused, "STOP");
    std::thread::sleep(Duration::from_secs(3));
    lab.signal(paused, "CONT");
    let back = wait_status(&lab, &all(&lab), paused, "the paused host alive everywhere, same generation", |s, g| {
        s == "alive" && g == generation
    });
    // Late verdicts still travelling would be counted too.
    std::thread::sleep(Duration::from_millis(500));
    let (suspect, dead) = (lab.count("member_suspect", Some("h7"), since), lab.count("member_dead", Some("h7"), since));
    let flags: String = extra.iter().map(|f| format!(" {f}")).collect();
    println!(
        "netns SIGSTOP 3 s: K={K} lan{flags}: alive again at the same generation on all 8 {} ms after SIGCONT; \
         events about it: {suspect} suspect, {dead} dead (of 7 observers)",
        ms(back)
    );
    Some((back, suspect, dead))
}

#[test]
fn netns_a_3s_sigstop_pause_makes_no_death_under_lan() {
    // The lan preset: one probe a second, each host probed by its predecessor, a failed probe
    // retried once, then a 2 s suspicion floor: no verdict can come before 3.9 s, and the
    // paused host refutes as soon as it runs again. The first suspicion comes 1.9-2.9 s
    // after the pause began, so a 3 s pause may end before it (suspect events are printed,
    // not asserted); the next test pauses the same way and sees the deaths a short floor
    // allows, which shows the pause is real.
    if let Some((_, _, dead)) = sigstop_scenario("sigstop", &[]) {
        assert_eq!(dead, 0, "the lan preset declared a host dead over a 3 s pause");
    }
}

#[test]
fn netns_a_3s_sigstop_pause_under_a_200ms_floor_is_fatal_and_the_host_recovers() {
    // Probes every 200 ms and a 200 ms suspicion floor: a crash is declared within about a
    // second, so a 3 s pause is one. Shows the flags reach the agent's detector; what must
    // hold is the recovery at the same generation.
    let flags = ["--probe-interval-ms", "200", "--suspicion-min-ms", "200"];
    if let Some((_, suspect, dead)) = sigstop_scenario("sigstop-fast", &flags) {
        assert!(suspect > 0, "a 3 s pause went unnoticed: the scenario did not pause anything");
        assert!(dead > 0, "a 200 ms suspicion floor let a 3 s pause pass: the flags did not reach the detector");
    }
}

/// Runs `percent` % loss on every host's inbound traffic for `secs`, then checks that
/// everyone is alive everywhere again; returns (suspect events, dead events).
fn loss_scenario(percent: u32, secs: u64) -> Option<(usize, usize)> {
    let mut lab = Lab::start(&format!("loss{percent}"), K, &[])?;
    wait_formed(&lab, &all(&lab), "formation");
    let since = Instant::now();
    lab.loss(percent);
    std::thread::sleep(Duration::from_secs(secs));
    lab.heal();
    let settled = wait_formed(&lab, &all(&lab), "all alive everywhere after the loss ends");
    let (suspect, dead) = (lab.count("member_suspect", None, since), lab.count("member_dead", None, since));
    let per_member_minute = suspect as f64 / K as f64 / (secs as f64 / 60.0);
    println!(
        "netns loss {percent} %: K={K} lan, {secs} s: {suspect} suspect events ({per_member_minute:.1} per member \
         per minute), {dead} dead events (false deaths); all alive everywhere {} ms after the loss ended",
        ms(settled)
    );
    Some((suspect, dead))
}

#[test]
fn netns_5_percent_loss_for_15s_makes_no_false_death() {
    if let Some((_, dead)) = loss_scenario(5, 15) {
        assert_eq!(dead, 0, "a live member was declared dead at 5 % loss");
    }
}

#[test]
fn netns_20_percent_loss_for_15s_ends_with_everyone_alive() {
    loss_scenario(20, 15);
}
