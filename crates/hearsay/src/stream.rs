//! TCP streams for deltas too large for a datagram.
//!
//! A connection carries frames in one direction, from the dialer to the listener. It opens
//! with a preamble naming the dialer's gossip address (the core answers `from`, and a TCP
//! source port is not a gossip address), then carries frames: a `u32` big-endian length and
//! that many bytes, at most `limits.max_stream_bytes`. A bigger length is rejected before
//! anything is allocated and the connection is closed, since the stream is no longer in step.
//!
//! Memory is bounded in bytes, not only in frames: every frame buffered anywhere (being read,
//! queued for the node task, queued for a writer) holds permits of one shared byte budget
//! ([`StreamLimits::budget`]) for its length, taken when its length is known and before its
//! bytes are read. A frame that finds the budget spent is refused and its connection closed;
//! anti-entropy offers the data again later. A peer must deliver a frame whole within
//! [`StreamLimits::frame_deadline`] of its length, or it is cut off, so a slow sender cannot
//! hold a connection slot and its permits; and a connection whose frame the core rejects
//! (wrong key, garbage) is closed at once rather than trusted with another.
//!
//! This module owns the framing and the per-connection tasks; the node task owns the core and
//! talks to these tasks only through bounded channels and the shared counters.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::time::timeout;

use crate::cluster::Counters;

/// Opens every connection.
const PREAMBLE_MAGIC: [u8; 4] = *b"HSS1";
/// Longest address text in a preamble (an IPv6 address with scope and port fits easily).
const MAX_PREAMBLE_ADDR: usize = 64;
/// Time to establish a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time to write one frame or read a preamble.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// An outbound connection with nothing to send for this long is closed. Streams carry
/// catch-ups and large deltas, mostly one exchange at a time: a connection kept open longer
/// holds one of the peer's inbound slots (64) for nothing, and in a join storm the seeds'
/// slots filled with idle connections and refused the catch-ups that mattered (1,009
/// refusals forming 1,000 nodes in one process with a 20 s idle time). A new connection
/// costs a handshake.
const WRITER_IDLE: Duration = Duration::from_secs(2);
/// An inbound connection that starts no frame for this long is closed (longer than the
/// writer's idle time, so the dialer normally closes first).
const READER_IDLE: Duration = Duration::from_secs(5);
/// Default for [`StreamLimits::frame_deadline`].
pub(crate) const FRAME_DEADLINE: Duration = Duration::from_secs(10);
/// Default for [`StreamLimits::budget`]: room for eight frames of the default 8 MiB limit.
pub(crate) const STREAM_MEMORY: usize = 64 * 1024 * 1024;

/// Limits shared by every connection task of one node.
#[derive(Clone, Debug)]
pub(crate) struct StreamLimits {
    /// Largest frame (`limits.max_stream_bytes`).
    pub(crate) max_frame: usize,
    /// Time a peer has to deliver a frame whole once its length arrived.
    pub(crate) frame_deadline: Duration,
    /// Bytes of frames buffered at once, inbound and outbound together (one permit a byte).
    pub(crate) budget: Arc<Semaphore>,
}

/// A frame's bytes and the budget they hold until the frame is dropped.
#[derive(Debug)]
pub(crate) struct Frame {
    pub(crate) bytes: Vec<u8>,
    _charge: OwnedSemaphorePermit,
}

impl Frame {
    /// Charges `bytes` to `budget`; `None` if the budget cannot take them now.
    pub(crate) fn charge(budget: &Arc<Semaphore>, bytes: Vec<u8>) -> Option<Frame> {
        let charge = charge(budget, bytes.len())?;
        Some(Frame { bytes, _charge: charge })
    }
}

/// Permits for `len` bytes, if the budget has them now.
fn charge(budget: &Arc<Semaphore>, len: usize) -> Option<OwnedSemaphorePermit> {
    budget.clone().try_acquire_many_owned(u32::try_from(len).ok()?).ok()
}

/// Why reading from a stream stopped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FrameError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("frame of {len} bytes exceeds the limit of {limit}")]
    TooLarge { len: usize, limit: usize },
    #[error("connection does not start with a hearsay preamble")]
    BadPreamble,
    #[error("the stream memory budget cannot hold a frame of {len} bytes now")]
    OverBudget { len: usize },
    #[error("frame of {len} bytes not delivered within the deadline")]
    TooSlow { len: usize },
}

/// Writes the preamble: magic, `u16` big-endian length, the address as text.
pub(crate) async fn write_preamble<W: AsyncWrite + Unpin>(w: &mut W, addr: SocketAddr) -> std::io::Result<()> {
    let text = addr.to_string();
    let mut out = Vec::with_capacity(6 + text.len());
    out.extend_from_slice(&PREAMBLE_MAGIC);
    out.extend_from_slice(&(text.len() as u16).to_be_bytes());
    out.extend_from_slice(text.as_bytes());
    w.write_all(&out).await
}

/// Reads a preamble and returns the dialer's gossip address.
pub(crate) async fn read_preamble<R: AsyncRead + Unpin>(r: &mut R) -> Result<SocketAddr, FrameError> {
    let mut head = [0u8; 6];
    r.read_exact(&mut head).await?;
    if head[..4] != PREAMBLE_MAGIC {
        return Err(FrameError::BadPreamble);
    }
    let len = usize::from(u16::from_be_bytes([head[4], head[5]]));
    if len > MAX_PREAMBLE_ADDR {
        return Err(FrameError::BadPreamble);
    }
    let mut text = vec![0u8; len];
    r.read_exact(&mut text).await?;
    std::str::from_utf8(&text).ok().and_then(|t| t.parse().ok()).ok_or(FrameError::BadPreamble)
}

/// Writes one frame.
pub(crate) async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, payload: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(payload.len())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "frame longer than u32::MAX"))?;
    w.write_all(&len.to_be_bytes()).await?;
    w.write_all(payload).await?;
    w.flush().await
}

/// Reads a frame's length; `None` when the peer closed between frames.
async fn read_len<R: AsyncRead + Unpin>(r: &mut R) -> Result<Option<usize>, FrameError> {
    let mut head = [0u8; 4];
    match r.read_exact(&mut head).await {
        Ok(_) => Ok(Some(u32::from_be_bytes(head) as usize)),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Reads a frame's `len` bytes. The buffer grows as bytes arrive, so a peer announcing a
/// large frame and sending nothing costs nothing but the permits it was charged.
async fn read_body<R: AsyncRead + Unpin>(r: &mut R, len: usize) -> Result<Vec<u8>, FrameError> {
    let mut payload = Vec::with_capacity(len.min(64 * 1024));
    (&mut *r).take(len as u64).read_to_end(&mut payload).await?;
    if payload.len() != len {
        return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
    }
    Ok(payload)
}

/// Reads one frame within `limits`, once its length has started arriving; `None` when the
/// peer closed between frames. A length over the limit is refused before anything is
/// charged or allocated; the budget is charged before the body is read; the body must arrive
/// within the frame deadline.
pub(crate) async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    limits: &StreamLimits,
) -> Result<Option<Frame>, FrameError> {
    let Some(len) = read_len(r).await? else { return Ok(None) };
    if len > limits.max_frame {
        return Err(FrameError::TooLarge { len, limit: limits.max_frame });
    }
    let charge = charge(&limits.budget, len).ok_or(FrameError::OverBudget { len })?;
    let bytes = timeout(limits.frame_deadline, read_body(r, len)).await.map_err(|_| FrameError::TooSlow { len })??;
    Ok(Some(Frame { bytes, _charge: charge }))
}

/// A frame that arrived on a stream, with the sender's gossip address, whether the
/// connection came from that address's IP (the TCP handshake then proves the address
/// receives: see [`same_host`]), and where to say whether the core accepted it (a rejected
/// frame closes its connection).
pub(crate) type InboundFrame = (SocketAddr, bool, Frame, oneshot::Sender<bool>);

/// Whether a connection from `peer` proves that `claimed` (a preamble's gossip address)
/// receives: the handshake was a round trip with `peer`'s IP, so a claimed address on the
/// same IP cannot be a third party's. IPv4-mapped IPv6 addresses count as their IPv4 address.
pub(crate) fn same_host(peer: SocketAddr, claimed: SocketAddr) -> bool {
    peer.ip().to_canonical() == claimed.ip().to_canonical()
}

/// Reads frames from an accepted connection and hands them to the node task. Backpressure:
/// when the node task is busy, this task stops reading and TCP slows the sender down.
///
/// Once it has delivered a frame, a connection waiting for the next one gives its slot up
/// when `evict` is notified (the driver does when a new connection finds every slot taken):
/// a dialer keeps its connection open for a while after its last frame, and in a join storm
/// those idle connections held every slot of the seeds while the catch-ups that mattered
/// were refused.
pub(crate) async fn serve_inbound(
    mut stream: TcpStream,
    limits: StreamLimits,
    frames: mpsc::Sender<InboundFrame>,
    counters: Arc<Counters>,
    evict: Arc<Notify>,
) {
    let from = match timeout(IO_TIMEOUT, read_preamble(&mut stream)).await {
        Ok(Ok(from)) => from,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "inbound stream rejected");
            Counters::add(&counters.stream_errors, 1);
            return;
        }
        Err(_) => {
            Counters::add(&counters.stream_errors, 1);
            return;
        }
    };
    let proved = stream.peer_addr().is_ok_and(|peer| same_host(peer, from));
    let mut delivered = false;
    loop {
        // Waiting for a frame to start is idle time; once it started, the deadline runs.
        let readable = timeout(READER_IDLE, stream.readable());
        let started = if delivered {
            let evicted = std::pin::pin!(evict.notified());
            match futures::future::select(std::pin::pin!(readable), evicted).await {
                futures::future::Either::Left((started, _)) => started,
                futures::future::Either::Right(_) => {
                    tracing::debug!(%from, "idle inbound stream closed to make room");
                    return;
                }
            }
        } else {
            readable.await
        };
        if !matches!(started, Ok(Ok(()))) {
            return;
        }
        match read_frame(&mut stream, &limits).await {
            Ok(Some(frame)) => {
                let (verdict, accepted) = oneshot::channel();
                if frames.send((from, proved, frame, verdict)).await.is_err() {
                    return;
                }
                if accepted.await != Ok(true) {
                    tracing::debug!(%from, "inbound stream closed after a rejected frame");
                    return;
                }
                delivered = true;
            }
            Ok(None) => return,
            Err(e) => {
                match e {
                    FrameError::TooLarge { .. } => Counters::add(&counters.stream_frames_rejected, 1),
                    FrameError::OverBudget { .. } => Counters::add(&counters.stream_budget_refused, 1),
                    FrameError::TooSlow { .. } => Counters::add(&counters.stream_slow_peers, 1),
                    FrameError::Io(_) | FrameError::BadPreamble => {}
                }
                tracing::debug!(%from, error = %e, "inbound stream closed");
                Counters::add(&counters.stream_errors, 1);
                return;
            }
        }
    }
}

/// Dials `to` and writes every frame queued on `frames`, until idle or an error. Frames left
/// in the queue when it gives up are counted as dropped.
pub(crate) async fn run_outbound(
    to: SocketAddr,
    local: SocketAddr,
    mut frames: mpsc::Receiver<Frame>,
    counters: Arc<Counters>,
) {
    let result = write_all_frames(to, local, &mut frames, &counters).await;
    if let Err(e) = result {
        tracing::debug!(%to, error = %e, "outbound stream failed");
        Counters::add(&counters.stream_errors, 1);
        frames.close();
        let mut lost = 0;
        while frames.try_recv().is_ok() {
            lost += 1;
        }
        Counters::add(&counters.stream_frames_dropped, lost);
    }
}

fn timed_out(_: tokio::time::error::Elapsed) -> std::io::Error {
    std::io::Error::from(std::io::ErrorKind::TimedOut)
}

async fn write_all_frames(
    to: SocketAddr,
    local: SocketAddr,
    frames: &mut mpsc::Receiver<Frame>,
    counters: &Counters,
) -> std::io::Result<()> {
    let mut stream = timeout(CONNECT_TIMEOUT, TcpStream::connect(to)).await.map_err(timed_out)??;
    stream.set_nodelay(true)?;
    timeout(IO_TIMEOUT, write_preamble(&mut stream, local)).await.map_err(timed_out)??;
    loop {
        let frame = match timeout(WRITER_IDLE, frames.recv()).await {
            Ok(Some(frame)) => frame,
            Ok(None) => return Ok(()),
            Err(_) => {
                // Idle: refuse new frames, but send what raced in before closing.
                frames.close();
                match frames.try_recv() {
                    Ok(frame) => frame,
                    Err(_) => return Ok(()),
                }
            }
        };
        timeout(IO_TIMEOUT, write_frame(&mut stream, &frame.bytes)).await.map_err(timed_out)??;
        Counters::add(&counters.stream_frames_sent, 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_frame: usize, budget: usize) -> StreamLimits {
        StreamLimits { max_frame, frame_deadline: Duration::from_secs(5), budget: Arc::new(Semaphore::new(budget)) }
    }

    async fn read(r: &mut tokio::io::DuplexStream, limits: &StreamLimits) -> Result<Option<Vec<u8>>, FrameError> {
        read_frame(r, limits).await.map(|f| f.map(|f| f.bytes))
    }

    #[tokio::test]
    async fn a_frame_holds_its_bytes_of_the_budget_until_dropped_and_a_spent_budget_refuses() {
        let (mut a, mut b) = tokio::io::duplex(1024);
        let limits = limits(100, 150);
        write_frame(&mut a, &[1; 100]).await.unwrap();
        write_frame(&mut a, &[2; 100]).await.unwrap();
        let first = read_frame(&mut b, &limits).await.unwrap().unwrap();
        assert_eq!(limits.budget.available_permits(), 50);
        assert!(matches!(read_frame(&mut b, &limits).await, Err(FrameError::OverBudget { len: 100 })));
        drop(first);
        assert_eq!(limits.budget.available_permits(), 150);
    }

    #[tokio::test]
    async fn a_frame_not_delivered_within_the_deadline_is_cut() {
        let (mut a, mut b) = tokio::io::duplex(1024);
        let limits = StreamLimits { frame_deadline: Duration::from_millis(50), ..limits(100, 1000) };
        a.write_all(&50u32.to_be_bytes()).await.unwrap();
        a.write_all(&[0; 10]).await.unwrap();
        assert!(matches!(read_frame(&mut b, &limits).await, Err(FrameError::TooSlow { len: 50 })));
        assert_eq!(limits.budget.available_permits(), 1000, "the cut frame gave its charge back");
    }

    #[test]
    fn only_a_connection_from_the_claimed_ip_proves_the_address() {
        let claimed: SocketAddr = "10.0.0.5:7946".parse().unwrap();
        assert!(same_host("10.0.0.5:40001".parse().unwrap(), claimed));
        assert!(same_host("[::ffff:10.0.0.5]:40001".parse().unwrap(), claimed));
        assert!(!same_host("10.0.0.6:7946".parse().unwrap(), claimed));
    }

    #[tokio::test]
    async fn preamble_and_frames_round_trip() {
        let (mut a, mut b) = tokio::io::duplex(1024);
        let addr: SocketAddr = "127.0.0.1:7946".parse().unwrap();
        write_preamble(&mut a, addr).await.unwrap();
        write_frame(&mut a, b"hello").await.unwrap();
        write_frame(&mut a, b"").await.unwrap();
        drop(a);
        assert_eq!(read_preamble(&mut b).await.unwrap(), addr);
        let limits = limits(100, 1000);
        assert_eq!(read(&mut b, &limits).await.unwrap(), Some(b"hello".to_vec()));
        assert_eq!(read(&mut b, &limits).await.unwrap(), Some(Vec::new()));
        assert_eq!(read(&mut b, &limits).await.unwrap(), None);
    }

    #[tokio::test]
    async fn frame_over_the_limit_is_rejected_before_reading_it() {
        let (mut a, mut b) = tokio::io::duplex(1024);
        a.write_all(&1_000_000u32.to_be_bytes()).await.unwrap();
        match read(&mut b, &limits(1000, 1 << 20)).await {
            Err(FrameError::TooLarge { len, limit }) => assert_eq!((len, limit), (1_000_000, 1000)),
            other => panic!("expected TooLarge, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn truncated_frame_is_an_error_not_a_short_frame() {
        let (mut a, mut b) = tokio::io::duplex(1024);
        a.write_all(&10u32.to_be_bytes()).await.unwrap();
        a.write_all(b"abc").await.unwrap();
        drop(a);
        assert!(matches!(read(&mut b, &limits(100, 1000)).await, Err(FrameError::Io(_))));
    }

    #[tokio::test]
    async fn garbage_preamble_is_rejected() {
        for bytes in [b"GET / HTTP/1.1\r\n".to_vec(), b"HSS1\xff\xff".to_vec(), b"HSS1\x00\x03abc".to_vec()] {
            let (mut a, mut b) = tokio::io::duplex(1024);
            a.write_all(&bytes).await.unwrap();
            assert!(matches!(read_preamble(&mut b).await, Err(FrameError::BadPreamble)), "{bytes:?}");
        }
    }
}
