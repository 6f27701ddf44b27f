//! A small client of the agent's HTTP API, used by the CLI subcommands.
//!
//! Every failure becomes a [`ClientError`] whose message is one line a person can act on:
//! an agent that is not running is "cannot reach the hearsay agent at ADDR: connection refused
//! (is `hearsay agent` running?)", an API error is the server's own `error` text.

use std::fmt;
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::api::{
    EntryJson, ErrorJson, EventJson, InfoJson, JoinJson, JoinRequest, KeyringJson, MemberJson, QueryLineJson,
    SentEventJson, TagsJson, WriteJson,
};

/// Why a request failed.
#[derive(Debug)]
pub(crate) enum ClientError {
    /// The agent could not be reached at all.
    Unreachable {
        /// Its address.
        addr: String,
        /// The cause, e.g. "connection refused".
        cause: String,
    },
    /// The agent answered with an error.
    Api {
        /// HTTP status.
        status: u16,
        /// The `error` text of the body.
        message: String,
    },
    /// Anything else (timeout mid-answer, garbled body).
    Other(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Unreachable { addr, cause } => {
                write!(f, "cannot reach the hearsay agent at {addr}: {cause} (is `hearsay agent` running?)")
            }
            ClientError::Api { status: 429, message } => {
                write!(f, "{message} (HTTP 429: the cluster's flow control; write slower or retry later)")
            }
            ClientError::Api { status, message } => write!(f, "{message} (HTTP {status})"),
            ClientError::Other(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for ClientError {}

/// The innermost useful cause of a reqwest error, in lower case ("connection refused").
fn root_cause(err: &reqwest::Error) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut last = err.to_string();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
                std::io::ErrorKind::TimedOut => "timed out".to_string(),
                _ => io.to_string(),
            };
        }
        last = e.to_string();
        source = e.source();
    }
    if err.is_timeout() { "timed out".to_string() } else { last }
}

/// A client bound to one agent.
pub(crate) struct Client {
    http: reqwest::Client,
    base: String,
    addr: String,
}

impl Client {
    /// A client of the agent at `addr` (`host:port` or `http://host:port`), sending `token` as
    /// `Authorization: Bearer` on every request when given.
    pub(crate) fn new(addr: &str, token: Option<&str>) -> Result<Client, ClientError> {
        let trimmed = addr.trim().trim_end_matches('/');
        let base = if trimmed.starts_with("http://") || trimmed.starts_with("https://") {
            trimmed.to_string()
        } else {
            format!("http://{trimmed}")
        };
        let mut headers = reqwest::header::HeaderMap::new();
        // The agent refuses state changes without it (a cross-site page cannot send it).
        headers.insert(crate::http::MARKER_HEADER, reqwest::header::HeaderValue::from_static("1"));
        if let Some(token) = token {
            let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", token.trim()))
                .map_err(|_| ClientError::Other("the HTTP token must be printable ASCII without spaces".into()))?;
            // Kept out of debug output.
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| ClientError::Other(format!("cannot build an HTTP client: {e}")))?;
        Ok(Client { http, base, addr: trimmed.trim_start_matches("http://").to_string() })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn transport(&self, err: reqwest::Error) -> ClientError {
        if err.is_connect() {
            ClientError::Unreachable { addr: self.addr.clone(), cause: root_cause(&err) }
        } else if err.is_timeout() {
            ClientError::Other(format!("the hearsay agent at {} did not answer in time", self.addr))
        } else {
            ClientError::Other(format!("request to the hearsay agent at {} failed: {}", self.addr, root_cause(&err)))
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, ClientError> {
        let response = request.send().await.map_err(|e| self.transport(e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<ErrorJson>(&body)
            .map(|e| e.error)
            .unwrap_or_else(|_| if body.is_empty() { status.to_string() } else { body });
        Err(ClientError::Api { status: status.as_u16(), message })
    }

    async fn json<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<T, ClientError> {
        let response = self.send(request.timeout(Duration::from_secs(30))).await?;
        response.json().await.map_err(|e| ClientError::Other(format!("unexpected answer from the agent: {e}")))
    }

    /// `GET /v1/members`, with `tag=k=v` filters (all must hold).
    pub(crate) async fn members(&self, tags: &[(String, String)]) -> Result<Vec<MemberJson>, ClientError> {
        let query: Vec<(&str, String)> = tags.iter().map(|(k, v)| ("tag", format!("{k}={v}"))).collect();
        self.json(self.http.get(self.url("/v1/members")).query(&query)).await
    }

    /// `POST /v1/event/{name}` with `payload` as the body.
    pub(crate) async fn send_event(
        &self,
        name: &str,
        payload: Vec<u8>,
        coalesce: bool,
    ) -> Result<SentEventJson, ClientError> {
        let path =
            format!("/v1/event/{}", percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC));
        self.json(self.http.post(self.url(&path)).query(&[("coalesce", coalesce)]).body(payload)).await
    }

    /// `POST /v1/query/{name}`: calls `on_line` with each line (and its raw JSON) as it
    /// arrives, until the summary.
    pub(crate) async fn query(
        &self,
        name: &str,
        payload: Vec<u8>,
        params: &[(&str, String)],
        mut on_line: impl FnMut(&QueryLineJson, &str),
    ) -> Result<(), ClientError> {
        let path =
            format!("/v1/query/{}", percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC));
        let mut response = self.send(self.http.post(self.url(&path)).query(params).body(payload)).await?;
        let mut buffer = Vec::new();
        loop {
            let chunk = response
                .chunk()
                .await
                .map_err(|e| ClientError::Other(format!("the answer stream broke: {}", root_cause(&e))))?;
            let Some(chunk) = chunk else { return Ok(()) };
            buffer.extend_from_slice(&chunk);
            while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
                let raw: Vec<u8> = buffer.drain(..=end).collect();
                let raw = String::from_utf8_lossy(&raw[..end]).into_owned();
                match serde_json::from_str::<QueryLineJson>(&raw) {
                    Ok(line) => on_line(&line, &raw),
                    Err(e) => return Err(ClientError::Other(format!("unexpected answer from the agent: {e}"))),
                }
            }
        }
    }

    /// `GET /v1/tags`.
    pub(crate) async fn tags(&self) -> Result<TagsJson, ClientError> {
        self.json(self.http.get(self.url("/v1/tags"))).await
    }

    /// `PUT /v1/tags`: replaces the agent's tags.
    pub(crate) async fn set_tags(&self, tags: TagsJson) -> Result<TagsJson, ClientError> {
        self.json(self.http.put(self.url("/v1/tags")).json(&tags)).await
    }

    /// `GET /v1/kv`.
    pub(crate) async fn kv(&self, node: Option<&str>, prefix: Option<&str>) -> Result<Vec<EntryJson>, ClientError> {
        let mut query = Vec::new();
        if let Some(node) = node {
            query.push(("node", node));
        }
        if let Some(prefix) = prefix {
            query.push(("prefix", prefix));
        }
        self.json(self.http.get(self.url("/v1/kv")).query(&query)).await
    }

    /// `GET /v1/kv?node=N&key=K` (the query form carries any name and key, `..` included).
    pub(crate) async fn get(&self, node: &str, key: &str) -> Result<EntryJson, ClientError> {
        self.json(self.http.get(self.url("/v1/kv")).query(&[("node", node), ("key", key)])).await
    }

    /// `PUT /v1/kv?key=K`.
    pub(crate) async fn set(&self, key: &str, value: Vec<u8>, ttl_secs: Option<u64>) -> Result<WriteJson, ClientError> {
        let mut request = self.http.put(self.url("/v1/kv")).query(&[("key", key)]).body(value);
        if let Some(ttl) = ttl_secs {
            request = request.query(&[("ttl", ttl)]);
        }
        self.json(request).await
    }

    /// `DELETE /v1/kv?key=K`.
    pub(crate) async fn delete(&self, key: &str) -> Result<WriteJson, ClientError> {
        self.json(self.http.delete(self.url("/v1/kv")).query(&[("key", key)])).await
    }

    /// `POST /v1/leave`.
    pub(crate) async fn leave(&self) -> Result<serde_json::Value, ClientError> {
        self.json(self.http.post(self.url("/v1/leave"))).await
    }

    /// `POST /v1/join` with `addrs` (`ip:port` or `host:port`).
    pub(crate) async fn join(&self, addrs: Vec<String>) -> Result<JoinJson, ClientError> {
        self.json(self.http.post(self.url("/v1/join")).json(&JoinRequest { addrs })).await
    }

    /// `GET /v1/keyring`.
    pub(crate) async fn keyring(&self) -> Result<KeyringJson, ClientError> {
        self.json(self.http.get(self.url("/v1/keyring"))).await
    }

    /// `POST /v1/keyring/{op}` with `key` (hex) as the body.
    pub(crate) async fn keyring_change(&self, op: &str, key: &str) -> Result<KeyringJson, ClientError> {
        self.json(self.http.post(self.url(&format!("/v1/keyring/{op}"))).body(key.trim().to_string())).await
    }

    /// `GET /v1/info`.
    pub(crate) async fn info(&self) -> Result<InfoJson, ClientError> {
        self.json(self.http.get(self.url("/v1/info"))).await
    }

    /// `GET /v1/events`: calls `on_event` with each event (and its raw JSON) until the agent
    /// closes the stream.
    pub(crate) async fn watch(
        &self,
        prefix: Option<&str>,
        mut on_event: impl FnMut(&EventJson, &str),
    ) -> Result<(), ClientError> {
        let mut request = self.http.get(self.url("/v1/events"));
        if let Some(prefix) = prefix {
            request = request.query(&[("prefix", prefix)]);
        }
        let mut response = self.send(request).await?;
        let mut parser = SseParser::default();
        loop {
            let chunk = response
                .chunk()
                .await
                .map_err(|e| ClientError::Other(format!("the event stream broke: {}", root_cause(&e))))?;
            let Some(chunk) = chunk else { return Ok(()) };
            for data in parser.push(&chunk) {
                match serde_json::from_str::<EventJson>(&data) {
                    Ok(event) => on_event(&event, &data),
                    Err(e) => return Err(ClientError::Other(format!("unexpected event from the agent: {e}"))),
                }
            }
        }
    }
}

/// Splits a server-sent event stream into the `data` of each event.
#[derive(Default)]
pub(crate) struct SseParser {
    buffer: String,
}

impl SseParser {
    /// Feeds bytes; returns the data of every event completed by them.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        self.buffer.push_str(&String::from_utf8_lossy(bytes));
        if self.buffer.contains('\r') {
            self.buffer = self.buffer.replace("\r\n", "\n");
        }
        let mut out = Vec::new();
        while let Some(end) = self.buffer.find("\n\n") {
            let block: String = self.buffer.drain(..end + 2).collect();
            let data: Vec<&str> = block
                .lines()
                .filter_map(|line| line.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect();
            if !data.is_empty() {
                out.push(data.join("\n"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_events_split_across_chunks() {
        let mut p = SseParser::default();
        assert!(p.push(b":keep-alive\n\nevent: key_changed\nda").is_empty());
        assert_eq!(p.push(b"ta: {\"a\":1}\n\ndata: x\n"), vec!["{\"a\":1}".to_string()]);
        assert_eq!(p.push(b"\n"), vec!["x".to_string()]);
    }
}
