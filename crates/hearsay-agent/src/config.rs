//! Agent configuration: the TOML file, the command-line flags that override it, and the checks
//! that turn both into a validated [`hearsay_core::Config`] plus the agent's own settings.
//!
//! One struct, [`AgentOptions`], is both the file format and the flag set, so every setting has
//! the same name in both places (`gossip_interval_ms` in the file, `--gossip-interval-ms` on the
//! command line). Every error names the field it is about; the binary exits with code 2 on them.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use hearsay_core::{Config, ConfigError, ExchangeMode, Key, Keyring, Strategy};
use serde::Deserialize;

use crate::http::ServerLimits;

/// Default gossip address (UDP and TCP).
pub(crate) const DEFAULT_BIND: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 7946);
/// Default HTTP API address: loopback only, so the API is not exposed unless asked for.
pub(crate) const DEFAULT_HTTP: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 7947);
/// Longest node name in bytes.
const MAX_NAME_BYTES: usize = 128;
/// Most indirect probes per failed direct probe: each costs two messages per probe.
const MAX_INDIRECT_CHECKS: usize = 32;
/// Longest probe interval.
const MAX_PROBE_INTERVAL_MS: u64 = 3_600_000;
/// Largest suspicion multiplier: the suspicion timeout is a product of both, and a larger one
/// would only mean "never declare anyone dead".
const MAX_SUSPICION_MULT: u32 = 100;

/// Every agent setting. All optional: a flag overrides the file, the file overrides the default.
#[derive(Debug, Default, Clone, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub(crate) struct AgentOptions {
    /// Stable, cluster-unique node name [default: the host name].
    #[arg(long)]
    pub name: Option<String>,
    /// Gossip address to listen on, UDP and TCP [default: 127.0.0.1:7946].
    #[arg(long)]
    pub bind: Option<String>,
    /// Gossip address other nodes use to reach this one, ip:port or host:port [default: the bind address].
    #[arg(long)]
    pub advertise: Option<String>,
    /// Nodes to join through, ip:port or host:port (comma separated). Host names are resolved
    /// at start, every `seed_refresh_ms`, and every round or so while no seed answered.
    #[arg(long, value_delimiter = ',')]
    pub seeds: Option<Vec<String>>,
    /// Time between two lookups of the seed host names while the node has company, in
    /// milliseconds [default: 30000].
    #[arg(long)]
    pub seed_refresh_ms: Option<u64>,
    /// Directory for the persistent store (generation, own keys, known peers) [default: ./hearsay-data].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// HTTP API address [default: 127.0.0.1:7947].
    #[arg(long)]
    pub http: Option<String>,
    /// Base settings: lan, wan or local [default: lan].
    #[arg(long)]
    pub preset: Option<String>,
    /// Cluster id carried in every packet; packets of other clusters are dropped.
    #[arg(long)]
    pub cluster_id: Option<u32>,
    /// Length of one gossip round, in milliseconds.
    #[arg(long)]
    pub gossip_interval_ms: Option<u64>,
    /// Peers contacted per round.
    #[arg(long)]
    pub fanout: Option<usize>,
    /// Exchange mode: push, pull or push-pull.
    #[arg(long)]
    pub exchange: Option<String>,
    /// Dissemination strategy: anti-entropy, rumor, hybrid or plumtree.
    #[arg(long)]
    pub strategy: Option<String>,
    /// In hybrid and plumtree mode, an anti-entropy round every this many rounds.
    #[arg(long)]
    pub anti_entropy_every: Option<u32>,
    /// Largest datagram in bytes, header included.
    #[arg(long)]
    pub mtu: Option<usize>,
    /// Phi threshold: sets the adaptive direct-probe timeout (mean round trip plus the deviations
    /// at which phi reaches it) and the level a doubted member's phi crosses; members become
    /// suspect through failed probes, not through phi.
    #[arg(long)]
    pub phi_threshold: Option<f64>,
    /// Failure detector: one member is probed per this many milliseconds (SWIM).
    #[arg(long)]
    pub probe_interval_ms: Option<u64>,
    /// Failure detector: longest time a member stays suspect before it is declared dead, in
    /// milliseconds (confirmations from other members shorten it).
    #[arg(long)]
    pub suspicion_timeout_ms: Option<u64>,
    /// Failure detector: shortest direct-probe timeout in milliseconds (the timeout adapts to
    /// each member's round trips above it); at most half the probe interval.
    #[arg(long)]
    pub probe_min_timeout_ms: Option<u64>,
    /// Failure detector: members asked to probe a member that did not answer a direct probe.
    #[arg(long)]
    pub indirect_checks: Option<usize>,
    /// Failure detector: suspicion floor = this * max(1, log10 N) probe intervals; the longest
    /// pause a member survives grows with it.
    #[arg(long)]
    pub suspicion_mult: Option<u32>,
    /// Failure detector: a lone suspicion waits this many times the floor before the member is
    /// declared dead; confirmations from other members shorten it toward the floor.
    #[arg(long)]
    pub suspicion_max_mult: Option<u32>,
    /// Failure detector: lower bound of the suspicion floor in milliseconds, whatever the
    /// cluster size; with the probe interval it sets the longest pause a member survives.
    #[arg(long)]
    pub suspicion_min_ms: Option<u64>,
    /// Failure detector: one probe in this many goes to the next member by name (so each
    /// member is probed by its predecessor), the others round-robin; 0 never.
    #[arg(long)]
    pub successor_every: Option<u32>,
    /// How long dead and left members are remembered before they are forgotten, in milliseconds.
    #[arg(long)]
    pub dead_member_grace_ms: Option<u64>,
    /// Largest value in bytes.
    #[arg(long)]
    pub max_value_bytes: Option<usize>,
    /// Longest key in bytes.
    #[arg(long)]
    pub max_key_bytes: Option<usize>,
    /// Most live keys this node may own; a write beyond it is refused (HTTP 507).
    #[arg(long)]
    pub max_keys_per_node: Option<usize>,
    /// Most members this node keeps track of; further members are ignored.
    #[arg(long)]
    pub max_members: Option<usize>,
    /// Largest TCP stream frame accepted or sent, in bytes.
    #[arg(long)]
    pub max_stream_bytes: Option<usize>,
    /// Flow control: refuse writes beyond this node's share of what gossip carries (HTTP 429
    /// with Retry-After) [default: true; see docs/flow-control.md].
    #[arg(long)]
    pub flow_control: Option<bool>,
    /// Flow control: bytes this node may always write at once, whatever its share
    /// [default: 16384].
    #[arg(long)]
    pub flow_min_burst_bytes: Option<usize>,
    /// File holding a bearer token: every HTTP request but `GET /v1/health` must then carry
    /// `Authorization: Bearer <token>`.
    #[arg(long)]
    pub http_token_file: Option<PathBuf>,
    /// Host names the HTTP API answers to besides IP addresses and `localhost` (comma
    /// separated), e.g. a DNS name of the agent; requests naming any other host are refused,
    /// which stops DNS rebinding.
    #[arg(long, alias = "http-allowed-host", value_delimiter = ',')]
    pub http_allowed_hosts: Option<Vec<String>>,
    /// Time for an HTTP request's head to arrive, in milliseconds; also how long an idle
    /// keep-alive connection stays open [default: 10000].
    #[arg(long)]
    pub http_header_timeout_ms: Option<u64>,
    /// Time from an HTTP request's head to its answer, the body included, in milliseconds
    /// (408 after it) [default: 30000].
    #[arg(long)]
    pub http_request_timeout_ms: Option<u64>,
    /// Most HTTP connections open at once; more are answered 503 [default: 256].
    #[arg(long)]
    pub http_max_connections: Option<usize>,
    /// Also export per-member series on `/metrics` (phi and last probe round trip of every
    /// peer, labelled `peer`): one series per member, so off by default.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub metrics_per_member: Option<bool>,
    /// File of cluster keys (64 hex digits each, one per line, the first is the primary):
    /// every packet is encrypted and authenticated. Create keys with `hearsay keygen`.
    #[arg(long)]
    pub keyring_file: Option<PathBuf>,
    /// A tag of this member, key=value (repeat the flag for more); in the file
    /// `tags = { role = "web" }`. Flags replace the file's tags.
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = crate::tags::parse_pair)]
    #[serde(default, deserialize_with = "crate::tags::deserialize_map")]
    pub tags: Option<Vec<(String, String)>>,
    /// Queries this agent answers, in the file only: `[queries] name = "command"`. The command
    /// runs with `sh -c`, the query's payload on standard input; its standard output, if it
    /// exits 0 before the query's deadline, is the answer.
    #[arg(skip)]
    #[serde(default)]
    pub queries: Option<std::collections::BTreeMap<String, String>>,
    /// Log format: text or json.
    #[arg(long)]
    pub log_format: Option<String>,
    /// Log filter (tracing env-filter syntax, e.g. `info` or `hearsay=debug`) [default: info].
    #[arg(long)]
    pub log_level: Option<String>,
}

impl AgentOptions {
    /// `self` with every unset field taken from `file`.
    pub(crate) fn or(self, file: AgentOptions) -> AgentOptions {
        AgentOptions {
            name: self.name.or(file.name),
            bind: self.bind.or(file.bind),
            advertise: self.advertise.or(file.advertise),
            seeds: self.seeds.or(file.seeds),
            seed_refresh_ms: self.seed_refresh_ms.or(file.seed_refresh_ms),
            data_dir: self.data_dir.or(file.data_dir),
            http: self.http.or(file.http),
            preset: self.preset.or(file.preset),
            cluster_id: self.cluster_id.or(file.cluster_id),
            gossip_interval_ms: self.gossip_interval_ms.or(file.gossip_interval_ms),
            fanout: self.fanout.or(file.fanout),
            exchange: self.exchange.or(file.exchange),
            strategy: self.strategy.or(file.strategy),
            anti_entropy_every: self.anti_entropy_every.or(file.anti_entropy_every),
            mtu: self.mtu.or(file.mtu),
            phi_threshold: self.phi_threshold.or(file.phi_threshold),
            probe_interval_ms: self.probe_interval_ms.or(file.probe_interval_ms),
            suspicion_timeout_ms: self.suspicion_timeout_ms.or(file.suspicion_timeout_ms),
            probe_min_timeout_ms: self.probe_min_timeout_ms.or(file.probe_min_timeout_ms),
            indirect_checks: self.indirect_checks.or(file.indirect_checks),
            suspicion_mult: self.suspicion_mult.or(file.suspicion_mult),
            suspicion_max_mult: self.suspicion_max_mult.or(file.suspicion_max_mult),
            suspicion_min_ms: self.suspicion_min_ms.or(file.suspicion_min_ms),
            successor_every: self.successor_every.or(file.successor_every),
            dead_member_grace_ms: self.dead_member_grace_ms.or(file.dead_member_grace_ms),
            max_value_bytes: self.max_value_bytes.or(file.max_value_bytes),
            max_key_bytes: self.max_key_bytes.or(file.max_key_bytes),
            max_keys_per_node: self.max_keys_per_node.or(file.max_keys_per_node),
            max_members: self.max_members.or(file.max_members),
            max_stream_bytes: self.max_stream_bytes.or(file.max_stream_bytes),
            flow_control: self.flow_control.or(file.flow_control),
            flow_min_burst_bytes: self.flow_min_burst_bytes.or(file.flow_min_burst_bytes),
            http_token_file: self.http_token_file.or(file.http_token_file),
            http_allowed_hosts: self.http_allowed_hosts.or(file.http_allowed_hosts),
            http_header_timeout_ms: self.http_header_timeout_ms.or(file.http_header_timeout_ms),
            http_request_timeout_ms: self.http_request_timeout_ms.or(file.http_request_timeout_ms),
            http_max_connections: self.http_max_connections.or(file.http_max_connections),
            metrics_per_member: self.metrics_per_member.or(file.metrics_per_member),
            keyring_file: self.keyring_file.or(file.keyring_file),
            tags: self.tags.or(file.tags),
            queries: self.queries.or(file.queries),
            log_format: self.log_format.or(file.log_format),
            log_level: self.log_level.or(file.log_level),
        }
    }
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Everything the agent runs with, validated.
#[derive(Debug, Clone)]
pub(crate) struct AgentSettings {
    /// Node name.
    pub name: String,
    /// Gossip listen address.
    pub bind: SocketAddr,
    /// Gossip address announced to peers, if it differs from `bind`.
    pub advertise: Option<SocketAddr>,
    /// Seeds, `ip:port` or `host:port` (checked; names are resolved by the node, again and
    /// again, so a seed that starts later is still found).
    pub seeds: Vec<String>,
    /// Time between two lookups of the seed names while the node has company.
    pub seed_refresh: Duration,
    /// Store directory.
    pub data_dir: PathBuf,
    /// HTTP API address.
    pub http: SocketAddr,
    /// Protocol configuration.
    pub core: Config,
    /// Packet encryption keys, if any.
    pub keyring: Option<Keyring>,
    /// Where they came from; rewritten when the cluster's keyring changes.
    pub keyring_file: Option<PathBuf>,
    /// Bearer token the HTTP API requires (all but `GET /v1/health`), if any.
    pub http_token: Option<String>,
    /// Host names the HTTP API answers to besides IP addresses and `localhost`.
    pub http_allowed_hosts: Vec<String>,
    /// HTTP timeouts and connection cap.
    pub http_limits: ServerLimits,
    /// Per-member series on `/metrics`.
    pub metrics_per_member: bool,
    /// Commands that answer queries, by query name.
    pub queries: std::collections::BTreeMap<String, String>,
    /// This member's tags at start.
    pub tags: hearsay_core::Tags,
    /// Log format.
    pub log_format: LogFormat,
    /// Log filter.
    pub log_level: String,
}

/// A configuration the agent cannot run with.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ConfigProblem {
    /// The file could not be read or parsed.
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong (the parser's message names the field and line).
        reason: String,
    },
    /// A field has a value that cannot work.
    Field {
        /// The field, as named in the file (flags use the same name with dashes).
        field: String,
        /// Why.
        reason: String,
    },
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigProblem::File { path, reason } => write!(f, "config file {}: {}", path.display(), reason.trim_end()),
            ConfigProblem::Field { field, reason } => write!(f, "invalid config field `{field}`: {reason}"),
        }
    }
}

impl std::error::Error for ConfigProblem {}

fn field(field: &str, reason: impl Into<String>) -> ConfigProblem {
    ConfigProblem::Field { field: field.to_string(), reason: reason.into() }
}

/// Reads and parses a TOML config file.
pub(crate) fn read_file(path: &Path) -> Result<AgentOptions, ConfigProblem> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigProblem::File { path: path.to_path_buf(), reason: format!("cannot read it: {e}") })?;
    parse_file(path, &text)
}

/// Parses the text of a TOML config file.
pub(crate) fn parse_file(path: &Path, text: &str) -> Result<AgentOptions, ConfigProblem> {
    toml::from_str(text).map_err(|e| ConfigProblem::File { path: path.to_path_buf(), reason: e.to_string() })
}

/// Parses a socket address given as `ip:port`.
pub(crate) fn parse_addr(name: &str, text: &str) -> Result<SocketAddr, ConfigProblem> {
    text.trim().parse().map_err(|_| field(name, format!("`{text}` is not an address of the form ip:port")))
}

/// Resolves `ip:port` or `host:port` (containers name each other by host name).
fn resolve_addr(name: &str, text: &str) -> Result<SocketAddr, ConfigProblem> {
    if let Ok(addr) = text.trim().parse() {
        return Ok(addr);
    }
    let mut addrs = text
        .trim()
        .to_socket_addrs()
        .map_err(|e| field(name, format!("`{text}` is not an address of the form host:port ({e})")))?;
    addrs.next().ok_or_else(|| field(name, format!("`{text}` resolves to no address")))
}

fn default_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "hearsay".to_string())
}

fn check_name(name: &str) -> Result<(), ConfigProblem> {
    if name.is_empty() {
        return Err(field("name", "must not be empty"));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(field("name", format!("is {} bytes, the limit is {MAX_NAME_BYTES}", name.len())));
    }
    // Names appear as a path segment in the HTTP API (`/v1/kv/{node}/{key}`) and in metric labels.
    if name.chars().any(|c| c == '/' || c.is_whitespace() || c.is_control()) {
        return Err(field("name", format!("`{name}` must not contain `/`, spaces or control characters")));
    }
    Ok(())
}

/// Parses a keyring file: one key (64 hex digits) per line, the first is the primary; blank
/// lines and lines starting with `#` are ignored.
pub(crate) fn parse_keyring(text: &str) -> Result<Keyring, ConfigProblem> {
    let mut keys = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key = Key::parse(line).map_err(|e| field("keyring_file", format!("line {}: {e}", n + 1)))?;
        keys.push(key);
    }
    let mut keys = keys.into_iter();
    let primary = keys.next().ok_or_else(|| field("keyring_file", "holds no key"))?;
    Ok(Keyring::with_keys(primary, keys))
}

/// The text of a keyring file for `ring`, the primary first.
pub(crate) fn format_keyring(ring: &Keyring) -> String {
    let mut out = String::from(
        "# hearsay cluster keys, the primary first. The agent rewrites this file when the\n\
         # cluster's keyring changes (hearsay keys install/use/remove).\n",
    );
    for key in ring.keys() {
        out.push_str(&key.to_hex());
        out.push('\n');
    }
    out
}

/// Replaces the keyring file atomically (write a sibling, then rename), readable by its owner only.
pub(crate) fn write_keyring(path: &Path, ring: &Keyring) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        std::io::Write::write_all(&mut file, format_keyring(ring).as_bytes())?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

fn read_keyring(path: &Path) -> Result<Keyring, ConfigProblem> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| field("keyring_file", format!("cannot read {}: {e}", path.display())))?;
    parse_keyring(&text)
}

/// Shortest bearer token accepted: a guessable token is no protection.
const MIN_TOKEN_BYTES: usize = 16;

/// Parses the text of an HTTP token file: the token is the file's text without surrounding
/// whitespace, printable ASCII (it travels in a header), at least [`MIN_TOKEN_BYTES`] long.
pub(crate) fn parse_token(text: &str) -> Result<String, ConfigProblem> {
    let token = text.trim();
    if token.len() < MIN_TOKEN_BYTES {
        return Err(field(
            "http_token_file",
            format!("the token is {} bytes, at least {MIN_TOKEN_BYTES} are required", token.len()),
        ));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(field("http_token_file", "the token must be printable ASCII without spaces"));
    }
    Ok(token.to_string())
}

fn read_token(path: &Path) -> Result<String, ConfigProblem> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| field("http_token_file", format!("cannot read {}: {e}", path.display())))?;
    parse_token(&text)
}

/// The protocol preset named `preset`.
pub(crate) fn preset(name: &str) -> Result<Config, ConfigProblem> {
    match name {
        "lan" => Ok(Config::lan()),
        "wan" => Ok(Config::wan()),
        "local" => Ok(Config::local()),
        other => Err(field("preset", format!("`{other}` is not one of lan, wan, local"))),
    }
}

fn parse_exchange(text: &str) -> Result<ExchangeMode, ConfigProblem> {
    match text {
        "push" => Ok(ExchangeMode::Push),
        "pull" => Ok(ExchangeMode::Pull),
        "push-pull" | "push_pull" | "pushpull" => Ok(ExchangeMode::PushPull),
        other => Err(field("exchange", format!("`{other}` is not one of push, pull, push-pull"))),
    }
}

fn parse_strategy(text: &str) -> Result<Strategy, ConfigProblem> {
    match text {
        "anti-entropy" | "anti_entropy" => Ok(Strategy::AntiEntropy),
        "rumor" => Ok(Strategy::Rumor),
        "hybrid" => Ok(Strategy::Hybrid),
        "plumtree" => Ok(Strategy::Plumtree),
        other => Err(field("strategy", format!("`{other}` is not one of anti-entropy, rumor, hybrid, plumtree"))),
    }
}

/// The agent's name for a core config field, so errors name what the user wrote.
fn agent_field_name(core_field: &str) -> &str {
    match core_field {
        "gossip_interval" => "gossip_interval_ms",
        "detector.phi_threshold" => "phi_threshold",
        "detector.suspicion_timeout" => "suspicion_timeout_ms",
        "probe.interval" => "probe_interval_ms",
        "probe.min_timeout" => "probe_min_timeout_ms",
        "probe.suspicion_mult" => "suspicion_mult",
        "probe.suspicion_min" => "suspicion_min_ms",
        "dead_member_grace" => "dead_member_grace_ms",
        "limits.max_value_bytes" => "max_value_bytes",
        "limits.max_key_bytes" => "max_key_bytes",
        "limits.max_stream_bytes" => "max_stream_bytes",
        other => other,
    }
}

/// Applies the defaults and checks everything.
pub(crate) fn resolve(options: AgentOptions) -> Result<AgentSettings, ConfigProblem> {
    let name = options.name.unwrap_or_else(default_name);
    check_name(&name)?;
    let bind = match &options.bind {
        Some(text) => parse_addr("bind", text)?,
        None => DEFAULT_BIND,
    };
    let advertise = options.advertise.as_deref().map(|text| resolve_addr("advertise", text)).transpose()?;
    if let Some(addr) = advertise {
        if addr.ip().is_unspecified() || addr.port() == 0 {
            return Err(field("advertise", format!("{addr} is not an address peers can reach")));
        }
    } else if bind.ip().is_unspecified() {
        return Err(field("advertise", format!("required when bind is the wildcard address {bind}")));
    }
    let mut seeds = Vec::new();
    for text in options.seeds.unwrap_or_default() {
        let seed: hearsay::Seed = text.parse().map_err(|e: hearsay::InvalidSeed| field("seeds", e.to_string()))?;
        seeds.push(seed.to_string());
    }
    let seed_refresh = match options.seed_refresh_ms {
        Some(0) => return Err(field("seed_refresh_ms", "must be at least 1")),
        Some(ms) => Duration::from_millis(ms),
        None => hearsay::DEFAULT_SEED_REFRESH,
    };
    let http = match &options.http {
        Some(text) => parse_addr("http", text)?,
        None => DEFAULT_HTTP,
    };
    let mut core = preset(options.preset.as_deref().unwrap_or("lan"))?;
    if let Some(id) = options.cluster_id {
        core.cluster_id = id;
    }
    if let Some(ms) = options.gossip_interval_ms {
        core.gossip_interval = Duration::from_millis(ms);
        // A faster round than the preset assumes would make the detector's floor on intervals
        // shorter than a round; keep it at least one round.
        core.detector.max_interval = core.detector.max_interval.max(core.gossip_interval);
    }
    if let Some(fanout) = options.fanout {
        core.fanout = fanout;
    }
    if let Some(text) = &options.exchange {
        core.exchange = parse_exchange(text)?;
    }
    if let Some(text) = &options.strategy {
        core.strategy = parse_strategy(text)?;
    }
    if let Some(every) = options.anti_entropy_every {
        core.anti_entropy_every = every;
    }
    if let Some(mtu) = options.mtu {
        core.mtu = mtu;
    }
    if let Some(phi) = options.phi_threshold {
        core.detector.phi_threshold = phi;
    }
    if let Some(ms) = options.probe_interval_ms {
        // The suspicion timeout multiplies the interval; an hour is already far beyond use.
        if ms > MAX_PROBE_INTERVAL_MS {
            return Err(field("probe_interval_ms", format!("{ms} is more than {MAX_PROBE_INTERVAL_MS} (one hour)")));
        }
        core.probe.interval = Duration::from_millis(ms);
    }
    if let Some(ms) = options.suspicion_timeout_ms {
        core.detector.suspicion_timeout = Duration::from_millis(ms);
    }
    if let Some(ms) = options.probe_min_timeout_ms {
        core.probe.min_timeout = Duration::from_millis(ms);
    }
    if let Some(n) = options.indirect_checks {
        if n > MAX_INDIRECT_CHECKS {
            return Err(field("indirect_checks", format!("{n} is more than {MAX_INDIRECT_CHECKS}")));
        }
        core.probe.indirect_checks = n;
    }
    for (name, value, slot) in [
        ("suspicion_mult", options.suspicion_mult, &mut core.probe.suspicion_mult),
        ("suspicion_max_mult", options.suspicion_max_mult, &mut core.probe.suspicion_max_mult),
    ] {
        if let Some(mult) = value {
            if !(1..=MAX_SUSPICION_MULT).contains(&mult) {
                return Err(field(name, format!("{mult} is not within 1..={MAX_SUSPICION_MULT}")));
            }
            *slot = mult;
        }
    }
    if let Some(ms) = options.suspicion_min_ms {
        // Like the multipliers: beyond an hour it only means "never declare anyone dead".
        if ms > MAX_PROBE_INTERVAL_MS {
            return Err(field("suspicion_min_ms", format!("{ms} is more than {MAX_PROBE_INTERVAL_MS} (one hour)")));
        }
        core.probe.suspicion_min = Duration::from_millis(ms);
    }
    if let Some(every) = options.successor_every {
        core.probe.successor_every = every;
    }
    if let Some(ms) = options.dead_member_grace_ms {
        core.dead_member_grace = Duration::from_millis(ms);
    }
    // A member forgotten before its death has spread would come back from gossip that still
    // carries it; ten rounds leave the death time to reach everyone.
    let min_grace = core.gossip_interval * 10;
    if core.dead_member_grace < min_grace {
        return Err(field(
            "dead_member_grace_ms",
            format!("must be at least 10 gossip intervals ({} ms)", min_grace.as_millis()),
        ));
    }
    if let Some(bytes) = options.max_value_bytes {
        core.limits.max_value_bytes = bytes;
    }
    if let Some(bytes) = options.max_key_bytes {
        core.limits.max_key_bytes = bytes;
    }
    if let Some(n) = options.max_keys_per_node {
        core.limits.max_keys_per_node = n;
    }
    if let Some(n) = options.max_members {
        core.limits.max_members = n;
    }
    if let Some(bytes) = options.max_stream_bytes {
        core.limits.max_stream_bytes = bytes;
    }
    if let Some(on) = options.flow_control {
        core.flow.enabled = on;
    }
    if let Some(bytes) = options.flow_min_burst_bytes {
        core.flow.min_burst_bytes = bytes;
    }
    core.validate().map_err(|e| match e {
        ConfigError::Invalid { field: f, reason } => field(agent_field_name(f), reason),
        other => field("config", other.to_string()),
    })?;
    let log_format = match options.log_format.as_deref() {
        None | Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(other) => return Err(field("log_format", format!("`{other}` is not one of text, json"))),
    };
    let tags = crate::tags::to_tags(options.tags.as_deref().unwrap_or_default());
    hearsay_core::check_tags(&tags).map_err(|e| field("tags", e.to_string()))?;
    let keyring = options.keyring_file.as_deref().map(read_keyring).transpose()?;
    let http_token = options.http_token_file.as_deref().map(read_token).transpose()?;
    let http_allowed_hosts = options.http_allowed_hosts.unwrap_or_default();
    for host in &http_allowed_hosts {
        let name = host.trim();
        if name.is_empty() || name.contains(['/', ':', ' ']) || !name.is_ascii() {
            return Err(field(
                "http_allowed_hosts",
                format!("`{}` is not a host name (no scheme, port or path)", host.escape_debug()),
            ));
        }
    }
    let mut http_limits = ServerLimits::default();
    let positive_ms = |name: &str, ms: u64| {
        if ms == 0 { Err(field(name, "must be above zero")) } else { Ok(Duration::from_millis(ms)) }
    };
    if let Some(ms) = options.http_header_timeout_ms {
        http_limits.header_timeout = positive_ms("http_header_timeout_ms", ms)?;
    }
    if let Some(ms) = options.http_request_timeout_ms {
        http_limits.request_timeout = positive_ms("http_request_timeout_ms", ms)?;
    }
    if let Some(n) = options.http_max_connections {
        if n == 0 {
            return Err(field("http_max_connections", "must be above zero"));
        }
        http_limits.max_connections = n;
    }
    let log_level = options.log_level.unwrap_or_else(|| "info".to_string());
    if let Err(e) = log_level.parse::<tracing_subscriber::EnvFilter>() {
        return Err(field("log_level", format!("`{log_level}` is not a valid filter: {e}")));
    }
    Ok(AgentSettings {
        name,
        bind,
        advertise,
        seeds,
        seed_refresh,
        data_dir: options.data_dir.unwrap_or_else(|| PathBuf::from("hearsay-data")),
        http,
        core,
        keyring,
        keyring_file: options.keyring_file,
        http_token,
        http_allowed_hosts,
        http_limits,
        metrics_per_member: options.metrics_per_member.unwrap_or(false),
        tags,
        queries: options.queries.unwrap_or_default(),
        log_format,
        log_level,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(result: Result<AgentSettings, ConfigProblem>) -> String {
        match result {
            Err(ConfigProblem::Field { field, .. }) => field,
            Err(other) => format!("other: {other}"),
            Ok(_) => "valid".to_string(),
        }
    }

    fn opts() -> AgentOptions {
        AgentOptions { name: Some("n1".into()), ..Default::default() }
    }

    #[test]
    fn defaults_are_valid_and_loopback() {
        let s = resolve(opts()).unwrap();
        assert_eq!(s.bind, DEFAULT_BIND);
        assert!(s.http.ip().is_loopback());
        assert_eq!(s.core, Config::lan());
        assert_eq!(s.log_format, LogFormat::Text);
    }

    #[test]
    fn flags_override_file() {
        let path = Path::new("agent.toml");
        let file = parse_file(
            path,
            "name = \"from-file\"\nfanout = 5\nseeds = [\"127.0.0.1:9000\"]\nexchange = \"pull\"\npreset = \"local\"\n",
        )
        .unwrap();
        let flags = AgentOptions { fanout: Some(2), ..Default::default() };
        let s = resolve(flags.or(file)).unwrap();
        assert_eq!(s.name, "from-file");
        assert_eq!(s.core.fanout, 2);
        assert_eq!(s.core.exchange, ExchangeMode::Pull);
        assert_eq!(s.core.gossip_interval, Config::local().gossip_interval);
        assert_eq!(s.seeds, vec!["127.0.0.1:9000".to_string()]);
    }

    #[test]
    fn seed_names_are_kept_for_the_node_to_resolve_even_if_they_do_not_resolve_yet() {
        let seeds = vec!["n1.invalid:7946".into(), " 10.0.0.1:7946".into(), "[::1]:7946".into()];
        let s = resolve(AgentOptions { seeds: Some(seeds), seed_refresh_ms: Some(500), ..opts() }).unwrap();
        assert_eq!(s.seeds, vec!["n1.invalid:7946", "10.0.0.1:7946", "[::1]:7946"]);
        assert_eq!(s.seed_refresh, Duration::from_millis(500));
        assert_eq!(resolve(opts()).unwrap().seed_refresh, hearsay::DEFAULT_SEED_REFRESH);
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(field_of(resolve(AgentOptions { fanout: Some(0), ..opts() })), "fanout");
        assert_eq!(field_of(resolve(AgentOptions { bind: Some("nope".into()), ..opts() })), "bind");
        assert_eq!(field_of(resolve(AgentOptions { http: Some("1.2.3.4".into()), ..opts() })), "http");
        assert_eq!(field_of(resolve(AgentOptions { seeds: Some(vec!["::bad".into()]), ..opts() })), "seeds");
        assert_eq!(
            field_of(resolve(AgentOptions { seeds: Some(vec!["host-without-port".into()]), ..opts() })),
            "seeds"
        );
        assert_eq!(field_of(resolve(AgentOptions { seed_refresh_ms: Some(0), ..opts() })), "seed_refresh_ms");
        assert_eq!(field_of(resolve(AgentOptions { gossip_interval_ms: Some(0), ..opts() })), "gossip_interval_ms");
        assert_eq!(field_of(resolve(AgentOptions { phi_threshold: Some(-1.0), ..opts() })), "phi_threshold");
        assert_eq!(field_of(resolve(AgentOptions { mtu: Some(10), ..opts() })), "mtu");
        assert_eq!(field_of(resolve(AgentOptions { probe_interval_ms: Some(0), ..opts() })), "probe_interval_ms");
        assert_eq!(field_of(resolve(AgentOptions { preset: Some("moon".into()), ..opts() })), "preset");
        assert_eq!(field_of(resolve(AgentOptions { strategy: Some("gossip".into()), ..opts() })), "strategy");
        assert_eq!(field_of(resolve(AgentOptions { name: Some("a/b".into()), ..opts() })), "name");
        assert_eq!(field_of(resolve(AgentOptions { log_format: Some("xml".into()), ..opts() })), "log_format");
        assert_eq!(field_of(resolve(AgentOptions { bind: Some("0.0.0.0:7946".into()), ..opts() })), "advertise");
    }

    #[test]
    fn failure_detection_knobs_are_read_from_the_file_and_flags() {
        let file = parse_file(
            Path::new("agent.toml"),
            "suspicion_mult = 3\nsuspicion_max_mult = 8\nindirect_checks = 5\nprobe_min_timeout_ms = 150\n\
             probe_interval_ms = 1000\ndead_member_grace_ms = 600000\ngossip_interval_ms = 1000\n\
             suspicion_min_ms = 4000\nsuccessor_every = 3\n",
        )
        .unwrap();
        let flags =
            AgentOptions { suspicion_mult: Some(2), indirect_checks: Some(0), successor_every: Some(2), ..opts() };
        let s = resolve(flags.or(file)).unwrap();
        let p = &s.core.probe;
        assert_eq!((p.suspicion_mult, p.suspicion_max_mult, p.indirect_checks), (2, 8, 0));
        assert_eq!((p.interval, p.min_timeout), (Duration::from_millis(1000), Duration::from_millis(150)));
        assert_eq!(s.core.dead_member_grace, Duration::from_secs(600));
        assert_eq!(s.core.gossip_interval, Duration::from_secs(1));
        assert_eq!((p.suspicion_min, p.successor_every), (Duration::from_secs(4), 2));
    }

    #[test]
    fn bad_failure_detection_knobs_name_the_field() {
        for (options, name) in [
            (AgentOptions { suspicion_mult: Some(0), ..opts() }, "suspicion_mult"),
            (AgentOptions { suspicion_mult: Some(101), ..opts() }, "suspicion_mult"),
            (AgentOptions { suspicion_max_mult: Some(0), ..opts() }, "suspicion_max_mult"),
            (AgentOptions { suspicion_max_mult: Some(u32::MAX), ..opts() }, "suspicion_max_mult"),
            (AgentOptions { indirect_checks: Some(33), ..opts() }, "indirect_checks"),
            (AgentOptions { probe_interval_ms: Some(u64::MAX), ..opts() }, "probe_interval_ms"),
            (AgentOptions { suspicion_min_ms: Some(u64::MAX), ..opts() }, "suspicion_min_ms"),
            (AgentOptions { probe_min_timeout_ms: Some(0), ..opts() }, "probe_min_timeout_ms"),
            // More than half of the lan preset's 1 s probe interval.
            (AgentOptions { probe_min_timeout_ms: Some(501), ..opts() }, "probe_min_timeout_ms"),
            (AgentOptions { dead_member_grace_ms: Some(0), ..opts() }, "dead_member_grace_ms"),
            (
                AgentOptions { dead_member_grace_ms: Some(5_000), gossip_interval_ms: Some(1000), ..opts() },
                "dead_member_grace_ms",
            ),
        ] {
            assert_eq!(field_of(resolve(options)), name);
        }
        let err = resolve(AgentOptions { suspicion_mult: Some(0), ..opts() }).unwrap_err().to_string();
        assert!(err.contains("1..=100"), "{err}");
        let err = parse_file(Path::new("a.toml"), "suspicion_mult = -1\n").unwrap_err().to_string();
        assert!(err.contains("suspicion_mult"), "{err}");
    }

    #[test]
    fn keyring_files_list_the_primary_first() {
        let a = "11".repeat(32);
        let b = "22".repeat(32);
        let ring = parse_keyring(&format!("# rotated on monday\n{b}\n\n{a}\n")).unwrap();
        assert_eq!(ring.primary(), &Key::parse(&b).unwrap());
        assert_eq!(ring.keys().len(), 2);
        assert!(
            matches!(parse_keyring("# nothing\n"), Err(ConfigProblem::Field { field, .. }) if field == "keyring_file")
        );
        let err = parse_keyring("abcd\n").unwrap_err().to_string();
        assert!(err.contains("keyring_file") && err.contains("line 1"), "{err}");
        let missing = AgentOptions { keyring_file: Some("/nonexistent/keys".into()), ..opts() };
        assert_eq!(field_of(resolve(missing)), "keyring_file");
    }

    #[test]
    fn limits_and_the_http_token_are_read() {
        let s = resolve(AgentOptions {
            max_key_bytes: Some(64),
            max_keys_per_node: Some(10),
            max_members: Some(100),
            max_stream_bytes: Some(1 << 20),
            ..opts()
        })
        .unwrap();
        let l = &s.core.limits;
        assert_eq!((l.max_key_bytes, l.max_keys_per_node, l.max_members, l.max_stream_bytes), (64, 10, 100, 1 << 20));
        assert_eq!(field_of(resolve(AgentOptions { max_key_bytes: Some(0), ..opts() })), "max_key_bytes");
        assert_eq!(field_of(resolve(AgentOptions { max_stream_bytes: Some(100), ..opts() })), "max_stream_bytes");
        assert_eq!(s.http_token, None);

        assert_eq!(parse_token("  s3cret-token-0123456789\n").unwrap(), "s3cret-token-0123456789");
        assert!(parse_token("short\n").unwrap_err().to_string().contains("at least 16"));
        assert!(parse_token("has a space in the middle\n").is_err());
        let missing = AgentOptions { http_token_file: Some("/nonexistent/token".into()), ..opts() };
        assert_eq!(field_of(resolve(missing)), "http_token_file");
    }

    #[test]
    fn keyring_files_round_trip() {
        let ring = Keyring::with_keys(Key::from_bytes([7; 32]), [Key::from_bytes([9; 32])]);
        assert_eq!(parse_keyring(&format_keyring(&ring)).unwrap(), ring);
    }

    #[test]
    fn unknown_file_fields_are_rejected_by_name() {
        let err = parse_file(Path::new("a.toml"), "fanot = 3\n").unwrap_err();
        assert!(err.to_string().contains("fanot"), "{err}");
        let err = parse_file(Path::new("a.toml"), "fanout = \"three\"\n").unwrap_err();
        assert!(err.to_string().contains("fanout"), "{err}");
    }
}
