//! Queries from the library: [`crate::Cluster::query`] returns a [`QueryStream`] of acks and
//! answers as they arrive, ending at the deadline; members answer through a [`QueryHandler`]
//! ([`crate::ClusterBuilder::query_handler`]) or, from a subscription's [`crate::Event::Query`],
//! with [`crate::Cluster::respond`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::Stream;
use hearsay_core::{QueryId, QueryRef};
use tokio::sync::mpsc;

/// What a query handler is given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryRequest {
    /// The asking member.
    pub origin: Arc<str>,
    /// The query's name.
    pub name: Arc<str>,
    /// The payload.
    pub payload: Arc<[u8]>,
    /// How long is left before the asker stops listening.
    pub time_left: std::time::Duration,
}

/// A boxed future returned by a [`QueryHandler`].
pub type QueryFuture = Pin<Box<dyn Future<Output = Option<Vec<u8>>> + Send>>;

/// Answers the queries this node matches: `None` sends no answer (an ack was already sent if
/// the asker asked for one). Run on its own task, cut off at the query's deadline.
pub type QueryHandler = Arc<dyn Fn(QueryRequest) -> QueryFuture + Send + Sync>;

/// A handler kept by the builder and the node task.
#[derive(Clone)]
pub(crate) struct HandlerSlot(pub(crate) QueryHandler);

impl std::fmt::Debug for HandlerSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QueryHandler")
    }
}

/// One item of a [`QueryStream`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryReply {
    /// A member matched the query and will answer.
    Ack {
        /// The member.
        from: Arc<str>,
    },
    /// A member's answer.
    Response {
        /// The member.
        from: Arc<str>,
        /// Its answer.
        payload: Arc<[u8]>,
    },
}

/// Acks and answers to one query as they arrive; ends at the deadline (or when the node stops).
#[derive(Debug)]
pub struct QueryStream {
    pub(crate) id: QueryId,
    pub(crate) asked: Vec<String>,
    pub(crate) replies: mpsc::Receiver<QueryReply>,
    pub(crate) deadline: Pin<Box<tokio::time::Sleep>>,
}

impl QueryStream {
    /// The query's identity.
    pub fn id(&self) -> QueryId {
        self.id
    }

    /// Names of the live members that matched the filters when the query was sent, as this
    /// node saw them (the expected answerers: compare with who answered to find who is missing).
    pub fn asked(&self) -> &[String] {
        &self.asked
    }

    /// The next ack or answer, `None` at the deadline.
    pub async fn recv(&mut self) -> Option<QueryReply> {
        futures::StreamExt::next(self).await
    }
}

impl Stream for QueryStream {
    type Item = QueryReply;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<QueryReply>> {
        if self.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        self.replies.poll_recv(cx)
    }
}

/// Replies buffered per query before further ones are dropped (a query's stream that is not
/// read must not hold the node back).
pub(crate) const QUERY_REPLY_QUEUE: usize = 4096;

/// Runs `handler` for `query` and sends its answer back through the node task.
pub(crate) fn spawn_handler(
    handler: QueryHandler,
    query: QueryRef,
    request: QueryRequest,
    commands: mpsc::WeakSender<crate::cluster::Command>,
) {
    let time_left = request.time_left;
    tokio::spawn(async move {
        let Ok(Some(payload)) = tokio::time::timeout(time_left, handler(request)).await else { return };
        let Some(commands) = commands.upgrade() else { return };
        let (reply, answer) = tokio::sync::oneshot::channel();
        if commands.send(crate::cluster::Command::Respond { query, payload, reply }).await.is_ok()
            && let Ok(Err(e)) = answer.await
        {
            tracing::debug!(error = %e, "query answer not sent");
        }
    });
}
