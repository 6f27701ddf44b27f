//! The node task: the only owner of a [`Node`]. It waits on the UDP socket, the TCP listener,
//! frames from inbound connections, commands from the handles, the stop signal and the core's
//! next timeout; feeds whichever comes first to the core; then drains `poll_transmit` and
//! `poll_event`. Connection tasks only move bytes; they never see the core.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hearsay_core::{Event, Node, TransmitKind};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{Notify, Semaphore, broadcast, mpsc, oneshot, watch};
use tokio::task::JoinSet;

use crate::clock::Clock;
use crate::cluster::{Command, Counters, FlowStats, KeyringChange, MemberSnapshot, Snapshot, TaskEnds};
use crate::seeds::SeedNames;
use crate::stream::{self, Frame, InboundFrame, StreamLimits};
use crate::view::Publisher;

/// Frames from all inbound connections waiting for the node task.
const INBOUND_FRAME_QUEUE: usize = 8;
/// Frames queued per outbound connection.
const OUTBOUND_FRAME_QUEUE: usize = 8;
/// Inbound connections open at once. At the cap, a connection idle after its last frame is
/// closed to make room (see `stream::serve_inbound`) and the new one waits up to
/// [`ADMIT_WAIT`] for its slot; one that finds no slot by then is refused.
const MAX_INBOUND_CONNECTIONS: usize = 64;
/// How long a new inbound connection waits for a slot when every one is taken.
const ADMIT_WAIT: Duration = Duration::from_millis(200);
/// Outbound connections open at once. At the cap, the least recently used connection with
/// nothing queued is closed (after the frame it may be writing) to make room; if every one
/// has frames queued, frames to further peers are dropped.
const MAX_OUTBOUND_CONNECTIONS: usize = 64;
/// Gossip rounds a leaving node keeps running so its `left` mark spreads.
const LEAVE_ROUNDS: u32 = 3;
/// Pause after the listener fails to accept (e.g. out of file descriptors), so a persistent
/// error does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Pause after a failed UDP read, so an error that repeats at once does not spin.
const RECV_ERROR_BACKOFF: Duration = Duration::from_millis(10);
/// Seeds a lonely node contacts at once when their names start resolving.
const JOIN_APPEARED_SEEDS: usize = 3;
/// Datagrams already received that are handled before a due timer, at most.
const DRAIN_BEFORE_TIMER: usize = 256;
/// Largest datagram read; bigger ones are truncated and then rejected by the core.
const RECV_BUFFER: usize = 65_536;

pub(crate) struct Driver {
    node: Node,
    clock: Clock,
    udp: UdpSocket,
    listener: TcpListener,
    advertise: SocketAddr,
    commands: mpsc::Receiver<Command>,
    stop: watch::Receiver<bool>,
    /// Dropped when the task ends: handles waiting in `shutdown`/`leave` wake up.
    _done: watch::Sender<()>,
    events: broadcast::Sender<Event>,
    counters: Arc<Counters>,
    inbound_tx: mpsc::Sender<InboundFrame>,
    inbound_rx: mpsc::Receiver<InboundFrame>,
    inbound_slots: Arc<Semaphore>,
    /// New inbound connections waiting for a slot (at most [`MAX_INBOUND_CONNECTIONS`]).
    inbound_waiting: Arc<Semaphore>,
    /// Notified to make an idle inbound connection give its slot up.
    inbound_evict: Arc<Notify>,
    /// Outbound connections by peer, with when each was last given a frame.
    writers: HashMap<SocketAddr, (mpsc::Sender<Frame>, tokio::time::Instant)>,
    /// One permit per open outbound connection: a writer closed to make room holds its
    /// permit until its last frame is written, and the new one waits for it.
    outbound_slots: Arc<Semaphore>,
    /// Limits of every stream connection, the shared byte budget included.
    stream_limits: StreamLimits,
    /// Connection tasks; aborted when the node task ends.
    connections: JoinSet<()>,
    leaving: Option<(tokio::time::Instant, Vec<oneshot::Sender<()>>)>,
    accept_paused_until: Option<tokio::time::Instant>,
    udp_paused_until: Option<tokio::time::Instant>,
    /// Publishes the [`crate::View`] readers use instead of asking this task.
    publisher: Publisher,
    /// Seed names and their lookups; `None` when every seed is an address.
    seed_names: Option<SeedNames>,
    /// Open queries this node asked: where their acks and answers go.
    queries: HashMap<hearsay_core::QueryId, mpsc::Sender<crate::QueryReply>>,
    query_handler: Option<crate::query::HandlerSlot>,
    commands_weak: mpsc::WeakSender<Command>,
}

impl Driver {
    pub(crate) fn new(
        node: Node,
        clock: Clock,
        (udp, listener): (UdpSocket, TcpListener),
        advertise: SocketAddr,
        ends: TaskEnds,
        counters: Arc<Counters>,
        stream_limits: StreamLimits,
    ) -> Self {
        let (inbound_tx, inbound_rx) = mpsc::channel(INBOUND_FRAME_QUEUE);
        Driver {
            node,
            clock,
            udp,
            listener,
            advertise,
            commands: ends.commands,
            stop: ends.stop,
            _done: ends.done,
            events: ends.events,
            counters,
            inbound_tx,
            inbound_rx,
            inbound_slots: Arc::new(Semaphore::new(MAX_INBOUND_CONNECTIONS)),
            inbound_waiting: Arc::new(Semaphore::new(MAX_INBOUND_CONNECTIONS)),
            inbound_evict: Arc::new(Notify::new()),
            writers: HashMap::new(),
            outbound_slots: Arc::new(Semaphore::new(MAX_OUTBOUND_CONNECTIONS)),
            stream_limits,
            connections: JoinSet::new(),
            leaving: None,
            accept_paused_until: None,
            udp_paused_until: None,
            publisher: Publisher::new(ends.view, ends.view_read),
            seed_names: None,
            queries: HashMap::new(),
            query_handler: None,
            commands_weak: ends.commands_weak,
        }
    }

    /// Resolves these seed names (see `seeds.rs`).
    pub(crate) fn with_seed_names(mut self, seed_names: Option<SeedNames>) -> Self {
        self.seed_names = seed_names;
        self
    }

    /// Answers queries with this handler (see `query.rs`).
    pub(crate) fn with_query_handler(mut self, handler: Option<crate::query::HandlerSlot>) -> Self {
        self.query_handler = handler;
        self
    }

    /// Runs until stopped, left, or every handle is gone.
    pub(crate) async fn run(mut self) {
        let mut buf = vec![0u8; RECV_BUFFER];
        let mut sleep = std::pin::pin!(tokio::time::sleep_until(self.next_wakeup()));
        // The first round may be due already; handle it before waiting.
        self.node.handle_timeout(self.clock.now());
        self.tick_seed_names();
        self.flush().await;
        let mut turn = 0usize;
        loop {
            sleep.as_mut().reset(self.next_wakeup());
            turn = turn.wrapping_add(1);
            match self.wait(&mut buf, sleep.as_mut(), turn).await {
                // Stop requested, or every handle dropped (the sender is gone).
                Wake::Stop { gone } => {
                    if gone || *self.stop.borrow() {
                        break;
                    }
                }
                Wake::Command(Some(command)) => self.command(command),
                Wake::Command(None) => break,
                Wake::Datagram(Ok((len, from))) => self.datagram(from, &buf[..len]),
                Wake::Datagram(Err(e)) => {
                    Counters::add(&self.counters.udp_recv_errors, 1);
                    tracing::debug!(error = %e, "udp receive failed; pausing reads");
                    self.udp_paused_until = Some(tokio::time::Instant::now() + RECV_ERROR_BACKOFF);
                }
                Wake::Frame((from, proved, frame, verdict)) => {
                    Counters::add(&self.counters.stream_frames_received, 1);
                    if proved {
                        self.node.verify_address(self.clock.now(), from);
                    }
                    let limited = self.node.stats().amplification_limited;
                    let accepted = self.node.handle_stream(self.clock.now(), from, &frame.bytes);
                    self.log_limited(from, limited);
                    if let Err(e) = &accepted {
                        tracing::debug!(%from, error = %e, "stream frame dropped");
                    }
                    drop(frame);
                    let _ = verdict.send(accepted.is_ok());
                }
                Wake::Accepted(accepted) => self.accepted(accepted),
                Wake::Joined => {}
                Wake::Seeds(answers) => self.seed_names_resolved(answers),
                Wake::Timer => {
                    let now = tokio::time::Instant::now();
                    if self.accept_paused_until.is_some_and(|t| t <= now) {
                        self.accept_paused_until = None;
                    }
                    if self.udp_paused_until.is_some_and(|t| t <= now) {
                        self.udp_paused_until = None;
                    }
                    if self.leaving.as_ref().is_some_and(|(deadline, _)| *deadline <= now) {
                        break;
                    }
                    // Answers already waiting in the socket are read before the deadlines
                    // they would meet are checked: a node task woken late (CPU starvation,
                    // many nodes in one process) would otherwise fail probes whose acks
                    // arrived in time, and accuse members that answered.
                    if self.udp_paused_until.is_none() {
                        for _ in 0..DRAIN_BEFORE_TIMER {
                            let Ok((len, from)) = self.udp.try_recv_from(&mut buf) else { break };
                            self.datagram(from, &buf[..len]);
                        }
                    }
                    self.node.handle_timeout(self.clock.now());
                    self.tick_seed_names();
                }
            }
            self.flush().await;
        }
        self.connections.abort_all();
        if let Some((_, waiters)) = self.leaving.take() {
            for waiter in waiters {
                let _ = waiter.send(());
            }
        }
        tracing::debug!(id = %self.node.id(), "node task stopped");
    }

    /// One datagram received from `from`.
    fn datagram(&mut self, from: SocketAddr, bytes: &[u8]) {
        Counters::add(&self.counters.udp_datagrams_received, 1);
        self.publisher.probes.received(from, bytes, std::time::Instant::now());
        let limited = self.node.stats().amplification_limited;
        if let Err(e) = self.node.handle_datagram(self.clock.now(), from, bytes) {
            tracing::trace!(%from, error = %e, "datagram dropped");
        }
        self.log_limited(from, limited);
    }

    /// Logs a reply the core cut or dropped because `from` has not proved it receives (the
    /// counter was `before` the input).
    fn log_limited(&self, from: SocketAddr, before: u64) {
        if self.node.stats().amplification_limited > before {
            tracing::debug!(%from, "reply cut to the budget of an address that has not proved it receives");
        }
    }

    fn next_wakeup(&self) -> tokio::time::Instant {
        let far = tokio::time::Instant::now() + Duration::from_secs(3600);
        let mut at = self.node.poll_timeout().map_or(far, |t| self.clock.to_tokio(t));
        if let Some((deadline, _)) = &self.leaving {
            at = at.min(*deadline);
        }
        let seed_lookup = self.seed_names.as_ref().and_then(SeedNames::next_at);
        for resume in [self.accept_paused_until, self.udp_paused_until, Some(self.publisher.next_at()), seed_lookup]
            .into_iter()
            .flatten()
        {
            at = at.min(resume);
        }
        at
    }

    fn command(&mut self, command: Command) {
        let now = self.clock.now();
        match command {
            Command::Set { key, value, ttl, reply } => {
                let result = match ttl {
                    Some(ttl) => self.node.set_with_ttl(now, &key, &value, ttl),
                    None => self.node.set(now, &key, &value),
                };
                self.publisher.wrote();
                let _ = reply.send(result);
            }
            Command::Delete { key, reply } => {
                self.publisher.wrote();
                let _ = reply.send(self.node.delete(now, &key));
            }
            Command::Get { node, key, reply } => {
                let _ = reply.send(self.node.get(&node, &key).cloned());
            }
            Command::Members { reply } => {
                let _ = reply.send(self.node.members());
            }
            Command::Snapshot { reply } => {
                let members = self
                    .node
                    .members()
                    .into_iter()
                    .map(|info| {
                        let keys = self
                            .node
                            .keys(&info.id.name)
                            .map(|keys| keys.map(|(k, v)| (k.to_owned(), v.clone())).collect())
                            .unwrap_or_default();
                        MemberSnapshot { info, keys }
                    })
                    .collect();
                let _ = reply.send(Snapshot { members });
            }
            Command::Stats { reply } => {
                let _ = reply.send(self.stats());
            }
            Command::Keyring { reply } => {
                let _ = reply.send(self.node.keyring().cloned());
            }
            Command::ChangeKeyring { change, reply } => {
                let result = match change {
                    KeyringChange::Install(key) => self.node.keyring_install(now, key),
                    KeyringChange::Use(key) => self.node.keyring_use(now, &key),
                    KeyringChange::Remove(key) => self.node.keyring_remove(now, &key),
                };
                let _ = reply.send(result);
            }
            Command::SetTags { tags, reply } => {
                self.publisher.wrote();
                let _ = reply.send(self.node.set_tags(now, tags));
            }
            Command::Query { name, payload, options, reply } => {
                let _ = reply.send(self.query(now, &name, &payload, options));
            }
            Command::Respond { query, payload, reply } => {
                let _ = reply.send(self.node.respond(now, &query, &payload));
            }
            Command::SendEvent { name, payload, coalesce, reply } => {
                let _ = reply.send(self.node.send_event(now, &name, &payload, coalesce));
            }
            Command::Join { addrs, reply } => {
                self.node.join(&addrs);
                let _ = reply.send(());
            }
            Command::Leave { reply } => match &mut self.leaving {
                Some((_, waiters)) => waiters.push(reply),
                None => {
                    self.node.leave(now);
                    let rounds = self.node.config().gossip_interval * LEAVE_ROUNDS;
                    self.leaving = Some((tokio::time::Instant::now() + rounds, vec![reply]));
                }
            },
        }
    }

    fn query(
        &mut self,
        now: hearsay_core::Instant,
        name: &str,
        payload: &[u8],
        options: hearsay_core::QueryParams,
    ) -> Result<crate::QueryStream, hearsay_core::QueryError> {
        self.queries.retain(|_, tx| !tx.is_closed());
        let asked = self
            .node
            .members()
            .into_iter()
            .filter(|m| m.status == hearsay_core::MemberStatus::Alive)
            .filter(|m| options.filter_names.is_empty() || options.filter_names.iter().any(|n| **n == *m.id.name))
            .filter(|m| hearsay_core::tags_match(&m.tags, &options.filter_tags))
            .map(|m| m.id.name.to_string())
            .collect();
        let id = self.node.query(now, name, payload, &options)?;
        let (tx, replies) = mpsc::channel(crate::query::QUERY_REPLY_QUEUE);
        self.queries.insert(id, tx);
        let deadline = Box::pin(tokio::time::sleep(options.timeout));
        Ok(crate::QueryStream { id, asked, replies, deadline })
    }

    /// Routes a query's ack or answer to its stream; hands a query to the handler.
    fn query_event(&mut self, event: &Event) {
        let (query, reply) = match event {
            Event::QueryAck { query, from } => (query, crate::QueryReply::Ack { from: from.clone() }),
            Event::QueryResponse { query, from, payload } => {
                (query, crate::QueryReply::Response { from: from.clone(), payload: payload.clone() })
            }
            Event::Query { query, name, payload } => {
                if let Some(handler) = &self.query_handler {
                    let time_left =
                        self.clock.to_tokio(query.deadline).saturating_duration_since(tokio::time::Instant::now());
                    let request = crate::QueryRequest {
                        origin: query.origin.clone(),
                        name: name.clone(),
                        payload: payload.clone(),
                        time_left,
                    };
                    crate::query::spawn_handler(handler.0.clone(), query.clone(), request, self.commands_weak.clone());
                }
                return;
            }
            _ => return,
        };
        if let Some(tx) = self.queries.get(query)
            && tx.try_send(reply).is_err()
            && tx.is_closed()
        {
            self.queries.remove(query);
        }
    }

    /// Starts a lookup of the seed names if one is due (sooner while the node is lonely).
    fn tick_seed_names(&mut self) {
        if let Some(seed_names) = &mut self.seed_names
            && seed_names.next_at().is_some()
        {
            seed_names.tick(tokio::time::Instant::now(), self.node.is_lonely());
        }
    }

    /// Hands the core the seeds the names resolve to now. A lonely node contacts a few of the
    /// addresses that just appeared at once (its seeds have started: no need to wait for a
    /// round), not all: a service name may stand for a thousand pods, and one answer brings
    /// the whole membership.
    fn seed_names_resolved(&mut self, answers: crate::seeds::Answers) {
        let Some(seed_names) = &mut self.seed_names else { return };
        let lonely = self.node.is_lonely();
        let (seeds, mut appeared) = seed_names.apply(tokio::time::Instant::now(), answers, lonely);
        self.node.set_seeds(seeds);
        // A service name resolves to this node too.
        appeared.retain(|addr| *addr != self.advertise);
        if lonely && !appeared.is_empty() {
            self.node.join(&appeared[..appeared.len().min(JOIN_APPEARED_SEEDS)]);
        }
    }

    fn stats(&self) -> crate::cluster::DriverStats {
        let flow = FlowStats {
            write_rate: self.node.write_rate(),
            status: self.node.flow_status(),
            backlog_bytes: self.node.backlog_bytes() as u64,
            pending_updates: self.node.pending_updates() as u64,
            health_score: self.node.health_score(),
            isolated: self.node.is_isolated(),
        };
        self.counters.snapshot(self.node.stats().clone(), flow)
    }

    fn accepted(&mut self, accepted: std::io::Result<(TcpStream, SocketAddr)>) {
        match accepted {
            Ok((stream, peer)) => {
                let slot = self.inbound_slots.clone().try_acquire_owned().ok();
                let waiting = match slot {
                    Some(_) => None,
                    None => {
                        let Ok(waiting) = self.inbound_waiting.clone().try_acquire_owned() else {
                            Counters::add(&self.counters.stream_connections_refused, 1);
                            tracing::debug!(%peer, "inbound stream refused: too many connections");
                            return;
                        };
                        self.inbound_evict.notify_one();
                        Some(waiting)
                    }
                };
                let limits = self.stream_limits.clone();
                let (frames, counters) = (self.inbound_tx.clone(), self.counters.clone());
                let (slots, evict) = (self.inbound_slots.clone(), self.inbound_evict.clone());
                self.connections.spawn(async move {
                    let permit = match slot {
                        Some(permit) => permit,
                        None => match tokio::time::timeout(ADMIT_WAIT, slots.acquire_owned()).await {
                            Ok(Ok(permit)) => permit,
                            _ => {
                                Counters::add(&counters.stream_connections_refused, 1);
                                tracing::debug!(%peer, "inbound stream refused: too many connections");
                                return;
                            }
                        },
                    };
                    drop(waiting);
                    stream::serve_inbound(stream, limits, frames, counters, evict).await;
                    drop(permit);
                });
            }
            Err(e) => {
                Counters::add(&self.counters.stream_errors, 1);
                tracing::warn!(error = %e, "accepting a stream failed; pausing accepts");
                self.accept_paused_until = Some(tokio::time::Instant::now() + ACCEPT_BACKOFF);
            }
        }
    }

    /// Sends everything the core produced, then publishes its events.
    async fn flush(&mut self) {
        while let Some(transmit) = self.node.poll_transmit() {
            match transmit.kind {
                TransmitKind::Datagram => {
                    self.publisher.probes.sent(transmit.to, &transmit.payload, std::time::Instant::now());
                    match self.udp.send_to(&transmit.payload, transmit.to).await {
                        Ok(_) => Counters::add(&self.counters.udp_datagrams_sent, 1),
                        Err(e) => {
                            Counters::add(&self.counters.udp_send_errors, 1);
                            tracing::debug!(to = %transmit.to, error = %e, "udp send failed");
                        }
                    }
                }
                TransmitKind::Stream => self.send_stream(transmit.to, transmit.payload),
            }
        }
        while let Some(event) = self.node.poll_event() {
            self.publisher.saw(&event);
            if matches!(event, Event::QueryAck { .. } | Event::QueryResponse { .. }) {
                self.query_event(&event);
                continue;
            }
            if matches!(event, Event::Query { .. }) {
                self.query_event(&event);
            }
            if let Event::NameConflict { name, holder, claimant, refused } = &event {
                Counters::add(&self.counters.name_conflicts, 1);
                tracing::debug!(%name, %holder, %claimant, refused, "name conflict");
            }
            // No subscriber is not an error.
            let _ = self.events.send(event);
        }
        if self.publisher.due() {
            let stats = self.stats();
            self.publisher.publish(&self.node, stats);
        }
    }

    /// Queues a frame on the connection to `to`, opening one if needed. Never waits: a full
    /// queue drops the frame (anti-entropy will offer the data again).
    fn send_stream(&mut self, to: SocketAddr, frame: Vec<u8>) {
        let Some(frame) = Frame::charge(&self.stream_limits.budget, frame) else {
            Counters::add(&self.counters.stream_budget_refused, 1);
            Counters::add(&self.counters.stream_frames_dropped, 1);
            return;
        };
        let now = tokio::time::Instant::now();
        let frame = match self.writers.get_mut(&to) {
            Some((writer, used)) => match writer.try_send(frame) {
                Ok(()) => {
                    *used = now;
                    return;
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    Counters::add(&self.counters.stream_frames_dropped, 1);
                    return;
                }
                Err(mpsc::error::TrySendError::Closed(frame)) => frame,
            },
            None => frame,
        };
        self.writers.retain(|_, (writer, _)| !writer.is_closed());
        if self.writers.len() >= MAX_OUTBOUND_CONNECTIONS && !self.close_idle_writer() {
            Counters::add(&self.counters.stream_frames_dropped, 1);
            return;
        }
        let (tx, rx) = mpsc::channel(OUTBOUND_FRAME_QUEUE);
        // A fresh queue has room for one frame.
        let _ = tx.try_send(frame);
        self.writers.insert(to, (tx, now));
        let (local, counters, slots) = (self.advertise, self.counters.clone(), self.outbound_slots.clone());
        self.connections.spawn(async move {
            // Closed only when the driver stops, which aborts this task anyway.
            let Ok(_slot) = slots.acquire_owned().await else { return };
            stream::run_outbound(to, local, rx, counters).await;
        });
    }

    /// Closes the least recently used outbound connection with nothing queued; false if every
    /// one has frames waiting. Its task writes the frame it may hold, then ends.
    fn close_idle_writer(&mut self) -> bool {
        let idle = self
            .writers
            .iter()
            .filter(|(_, (writer, _))| writer.capacity() == writer.max_capacity())
            .min_by_key(|(_, (_, used))| *used)
            .map(|(addr, _)| *addr);
        idle.is_some_and(|addr| self.writers.remove(&addr).is_some())
    }
}

/// What woke the node task (see [`Driver::wait`]).
enum Wake {
    Stop { gone: bool },
    Command(Option<Command>),
    Datagram(std::io::Result<(usize, SocketAddr)>),
    Frame(InboundFrame),
    Accepted(std::io::Result<(TcpStream, SocketAddr)>),
    Joined,
    Seeds(crate::seeds::Answers),
    Timer,
}

impl Driver {
    /// Waits for the next thing to do. Written as one `poll_fn` rather than with
    /// `tokio::select!` so that embedders need not enable tokio's `macros` feature. The stop
    /// signal, the timer and the handles' commands come first; the network sources take turns
    /// in a rotating order, so a flood on one cannot starve the others.
    async fn wait(&mut self, buf: &mut [u8], mut sleep: std::pin::Pin<&mut tokio::time::Sleep>, turn: usize) -> Wake {
        use std::future::Future;
        use std::task::Poll;
        let udp_open = self.udp_paused_until.is_none();
        let accept_open = self.accept_paused_until.is_none();
        let Driver { stop, commands, udp, inbound_rx, listener, connections, seed_names, .. } = self;
        let mut changed = std::pin::pin!(stop.changed());
        let mut seeds = std::pin::pin!(seed_answers(seed_names));
        std::future::poll_fn(|cx| {
            if let Poll::Ready(changed) = changed.as_mut().poll(cx) {
                return Poll::Ready(Wake::Stop { gone: changed.is_err() });
            }
            if sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Wake::Timer);
            }
            if let Poll::Ready(command) = commands.poll_recv(cx) {
                return Poll::Ready(Wake::Command(command));
            }
            for source in 0..5 {
                match (turn + source) % 5 {
                    0 => {
                        if let Poll::Ready(Some(frame)) = inbound_rx.poll_recv(cx) {
                            return Poll::Ready(Wake::Frame(frame));
                        }
                    }
                    1 if udp_open => {
                        let mut read = tokio::io::ReadBuf::new(buf);
                        if let Poll::Ready(received) = udp.poll_recv_from(cx, &mut read) {
                            let len = read.filled().len();
                            return Poll::Ready(Wake::Datagram(received.map(|from| (len, from))));
                        }
                    }
                    2 if accept_open => {
                        if let Poll::Ready(accepted) = listener.poll_accept(cx) {
                            return Poll::Ready(Wake::Accepted(accepted));
                        }
                    }
                    3 if !connections.is_empty() => {
                        if let Poll::Ready(Some(_)) = connections.poll_join_next(cx) {
                            return Poll::Ready(Wake::Joined);
                        }
                    }
                    4 => {
                        if let Poll::Ready(answers) = seeds.as_mut().poll(cx) {
                            return Poll::Ready(Wake::Seeds(answers));
                        }
                    }
                    _ => {}
                }
            }
            Poll::Pending
        })
        .await
    }
}

/// The answers of the running seed-name lookup; pending forever without seed names.
async fn seed_answers(seed_names: &mut Option<SeedNames>) -> crate::seeds::Answers {
    match seed_names {
        Some(seed_names) => seed_names.answers().await,
        None => std::future::pending().await,
    }
}
