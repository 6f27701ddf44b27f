//! A tiny harness: a few nodes on one virtual clock, a lossy in-memory network.

#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use hearsay_core::{Config, Event, Instant, Node, NodeId, Transmit, TransmitKind};
use rand::{Rng, SeedableRng};

pub struct Cluster {
    pub nodes: Vec<Node>,
    pub now: Instant,
    /// Packets in flight: delivered at the next step.
    in_flight: VecDeque<(SocketAddr, SocketAddr, Transmit)>,
    pub loss: f64,
    pub down: Vec<bool>,
    /// Partition side of each node; packets between different sides are dropped.
    pub side: Vec<u8>,
    /// Nodes that receive nothing (one-way isolation): they still run and send.
    pub deaf: Vec<bool>,
    rng: rand_pcg::Pcg64,
    pub events: Vec<Vec<Event>>,
    /// Hash of every transmitted byte, for determinism checks.
    pub wire_hash: u64,
    pub delivered: u64,
    /// Every delivered packet, when `record` is set: (from, to index, transmit).
    pub record: bool,
    pub recorded: Vec<(SocketAddr, usize, Transmit)>,
}

pub fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([10, 0, (i / 250) as u8, (i % 250) as u8 + 1], 7946))
}

pub fn name(i: usize) -> String {
    format!("node-{i}")
}

impl Cluster {
    /// `n` nodes; every node but the first knows node 0 as its seed.
    pub fn new(n: usize, config: Config, seed: u64) -> Self {
        let now = Instant::ZERO;
        let nodes = (0..n)
            .map(|i| {
                let seeds = if i == 0 { vec![] } else { vec![addr(0)] };
                Node::new(
                    config.clone(),
                    NodeId::new(name(i), 1, addr(i)),
                    seeds,
                    seed.wrapping_mul(1000) + i as u64,
                    now,
                )
                .unwrap()
            })
            .collect();
        Cluster {
            nodes,
            now,
            in_flight: VecDeque::new(),
            loss: 0.0,
            down: vec![false; n],
            side: vec![0; n],
            deaf: vec![false; n],
            rng: rand_pcg::Pcg64::seed_from_u64(seed),
            events: vec![Vec::new(); n],
            wire_hash: 0xcbf2_9ce4_8422_2325,
            delivered: 0,
            record: false,
            recorded: Vec::new(),
        }
    }

    /// Adds a node (started now) and returns its index.
    pub fn add_node(&mut self, node: Node) -> usize {
        self.nodes.push(node);
        self.down.push(false);
        self.side.push(0);
        self.deaf.push(false);
        self.events.push(Vec::new());
        self.nodes.len() - 1
    }

    fn index_of(&self, a: SocketAddr) -> Option<usize> {
        self.nodes.iter().position(|n| n.id().addr == a)
    }

    fn drain(&mut self, i: usize) {
        while let Some(t) = self.nodes[i].poll_transmit() {
            for b in &t.payload {
                self.wire_hash = (self.wire_hash ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
            }
            let from = self.nodes[i].id().addr;
            self.in_flight.push_back((from, t.to, t));
        }
        while let Some(e) = self.nodes[i].poll_event() {
            self.events[i].push(e);
        }
    }

    /// Advances time by `dt`: timeouts fire, then packets sent so far are delivered (with loss).
    pub fn step(&mut self, dt: Duration) {
        self.now += dt;
        for i in 0..self.nodes.len() {
            if self.down[i] {
                continue;
            }
            if self.nodes[i].poll_timeout().is_some_and(|t| t <= self.now) {
                self.nodes[i].handle_timeout(self.now);
            }
            self.drain(i);
        }
        // Deliver until the network is empty (replies within the same step).
        let mut budget = 100_000;
        while let Some((from, to, t)) = self.in_flight.pop_front() {
            budget -= 1;
            if budget == 0 {
                break;
            }
            let Some(j) = self.index_of(to) else { continue };
            let i = self.index_of(from).unwrap_or(j);
            if self.side[i] != self.side[j]
                || self.down[j]
                || self.deaf[j]
                || (self.loss > 0.0 && self.rng.random_bool(self.loss))
            {
                continue;
            }
            self.delivered += 1;
            if self.record {
                self.recorded.push((from, j, t.clone()));
            }
            let _ = match t.kind {
                TransmitKind::Datagram => self.nodes[j].handle_datagram(self.now, from, &t.payload),
                TransmitKind::Stream => {
                    // A dialled connection proves its source, as the driver checks by IP.
                    self.nodes[j].verify_address(self.now, from);
                    self.nodes[j].handle_stream(self.now, from, &t.payload)
                }
            };
            self.drain(j);
        }
    }

    pub fn partition(&mut self, a: &[usize], b: &[usize]) {
        for i in a {
            self.side[*i] = 1;
        }
        for i in b {
            self.side[*i] = 2;
        }
    }

    pub fn heal(&mut self) {
        self.side.iter_mut().for_each(|s| *s = 0);
    }

    pub fn run(&mut self, rounds: usize) {
        let interval = self.nodes[0].config().gossip_interval;
        for _ in 0..rounds * 4 {
            self.step(interval / 4);
        }
    }

    /// Every up node's replica of every up owner equals that owner's own map.
    pub fn converged(&self) -> Result<(), String> {
        for (o, owner) in self.nodes.iter().enumerate() {
            if self.down[o] {
                continue;
            }
            let truth: BTreeMap<String, Vec<u8>> =
                owner.keys(&name(o)).unwrap().map(|(k, v)| (k.to_string(), v.value.to_vec())).collect();
            for (r, replica) in self.nodes.iter().enumerate() {
                if self.down[r] {
                    continue;
                }
                let Some(keys) = replica.keys(&name(o)) else {
                    return Err(format!("node {r} does not know node {o}"));
                };
                let held: BTreeMap<String, Vec<u8>> = keys.map(|(k, v)| (k.to_string(), v.value.to_vec())).collect();
                if held != truth {
                    return Err(format!("node {r}'s replica of node {o} is {held:?}, the owner has {truth:?}"));
                }
            }
        }
        Ok(())
    }

    /// Runs until converged or `max_rounds`; returns the rounds it took.
    pub fn run_until_converged(&mut self, max_rounds: usize) -> Result<usize, String> {
        for round in 0..max_rounds {
            if self.converged().is_ok() {
                return Ok(round);
            }
            self.run(1);
        }
        self.converged().map(|_| max_rounds)
    }
}
