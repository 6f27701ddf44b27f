//! `POST /v1/query/{name}`: asks the members a query; the body is the payload. Query string:
//! `tag=k=v` (repeat: all must hold), `node=NAME` (repeat: any of them), `timeout_ms`
//! (default 5000, at most 600000), `ack=false` to skip acknowledgements. The answer is
//! newline-delimited JSON ([`crate::api::QueryLineJson`]): `ack` and `response` lines as they
//! arrive, then a `summary` (asked, acked, answered, missing) once the deadline has passed.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use hearsay::{QueryOptions, QueryReply};

use super::{ApiError, AppState};
use crate::api::{QueryLineJson, ValueJson};

const DEFAULT_TIMEOUT_MS: u64 = 5_000;
const MAX_TIMEOUT_MS: u64 = 600_000;

fn line(kind: &str) -> QueryLineJson {
    QueryLineJson {
        kind: kind.into(),
        from: None,
        value: ValueJson::default(),
        asked: None,
        acked: None,
        answered: None,
        missing: None,
    }
}

fn options(query: Option<&str>) -> Result<QueryOptions, String> {
    let mut options = QueryOptions { timeout: Duration::from_millis(DEFAULT_TIMEOUT_MS), ..QueryOptions::default() };
    for (name, value) in crate::tags::query_pairs(query)? {
        match name.as_str() {
            "tag" => options.filter_tags.push(crate::tags::parse_pair(&value)?),
            "node" => options.filter_names.push(value),
            "timeout_ms" => {
                let ms: u64 = value.parse().map_err(|_| format!("timeout_ms `{value}` is not a number"))?;
                if ms == 0 || ms > MAX_TIMEOUT_MS {
                    return Err(format!("timeout_ms must be within 1..={MAX_TIMEOUT_MS}"));
                }
                options.timeout = Duration::from_millis(ms);
            }
            "ack" => options.request_ack = value != "false",
            other => return Err(format!("unknown query parameter `{other}` (tag, node, timeout_ms, ack)")),
        }
    }
    Ok(options)
}

pub(super) async fn ask(
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let options = options(query.as_deref()).map_err(ApiError::bad_request)?;
    let stream = state.cluster().query(&name, body.to_vec(), options).await.map_err(|e| match e {
        hearsay::Error::Query(q) => {
            let status = match q {
                hearsay::QueryError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                hearsay::QueryError::TooManyOpen { .. } => StatusCode::TOO_MANY_REQUESTS,
                hearsay::QueryError::Write(_) => StatusCode::CONFLICT,
                _ => StatusCode::BAD_REQUEST,
            };
            ApiError::new(status, format!("{q}; nothing was sent"))
        }
        other => ApiError::from(other),
    })?;
    let asked: Vec<String> = stream.asked().to_vec();
    let tally = std::sync::Arc::new(std::sync::Mutex::new((BTreeSet::new(), BTreeSet::new())));
    let seen = tally.clone();
    let replies = stream.map(move |reply| {
        let out = match &reply {
            QueryReply::Ack { from } => QueryLineJson { from: Some(from.to_string()), ..line("ack") },
            QueryReply::Response { from, payload } => {
                QueryLineJson { from: Some(from.to_string()), value: ValueJson::new(payload), ..line("response") }
            }
        };
        if let Ok(mut t) = seen.lock() {
            match reply {
                QueryReply::Ack { from } => t.0.insert(from.to_string()),
                QueryReply::Response { from, .. } => t.1.insert(from.to_string()),
            };
        }
        out
    });
    let summary = futures::stream::once(async move {
        let (acked, answered) = tally.lock().map(|t| (t.0.len(), t.1.clone())).unwrap_or_default();
        let missing: Vec<String> = asked.iter().filter(|n| !answered.contains(*n)).cloned().collect();
        QueryLineJson {
            asked: Some(asked.len()),
            acked: Some(acked),
            answered: Some(answered.len()),
            missing: Some(missing),
            ..line("summary")
        }
    });
    let body = replies.chain(summary).map(|l| {
        let mut text = serde_json::to_string(&l).unwrap_or_default();
        text.push('\n');
        Ok::<_, Infallible>(Bytes::from(text))
    });
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], Body::from_stream(body)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_give_filters_and_bad_ones_are_refused() {
        let o = options(Some("tag=role%3Dweb&node=a&node=b&timeout_ms=250&ack=false")).unwrap();
        assert_eq!(o.filter_tags, vec![("role".to_string(), "web".to_string())]);
        assert_eq!(o.filter_names, vec!["a".to_string(), "b".to_string()]);
        assert_eq!((o.timeout, o.request_ack), (Duration::from_millis(250), false));
        assert!(options(Some("timeout_ms=0")).is_err());
        assert!(options(Some("color=red")).is_err());
        assert!(options(Some("tag=novalue")).is_err());
    }
}
