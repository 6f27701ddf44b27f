//! TCP streams for deltas too large for a datagram.
//!
//! A connection carries frames in one direction, from the dialer to the listener. It opens
//! with a preamble naming the dialer's gossip address (the core answers `from`, and a TCP
//! source port is not a gossip address), then carries frames: a `u32` big-endian length and
//! that many bytes, at most `limits.max_stream_bytes`. A bigger length is rejected before
//! anything is allocated and the connection is closed, since the stream is no longer in step.
//!
//! This module owns the framing and the per-connection tasks; the node task owns the core and
//! talks to these tasks only through bounded channels and the shared counters.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
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
/// An outbound connection with nothing to send for this long is closed.
const WRITER_IDLE: Duration = Duration::from_secs(20);
/// An inbound connection that delivers no complete frame for this long is closed (longer than
/// the writer's idle time, so the dialer normally closes first).
const READER_IDLE: Duration = Duration::from_secs(60);

/// Why reading from a stream stopped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FrameError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("frame of {len} bytes exceeds the limit of {limit}")]
    TooLarge { len: usize, limit: usize },
    #[error("connection does not start with a hearsay preamble")]
    BadPreamble,
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

/// Reads one frame of at most `max` bytes; `None` when the peer closed between frames.
///
/// The buffer grows as bytes arrive, so a peer announcing a large frame and sending nothing
/// costs nothing.
pub(crate) async fn read_frame<R: AsyncRead + Unpin>(r: &mut R, max: usize) -> Result<Option<Vec<u8>>, FrameError> {
    let mut head = [0u8; 4];
    match r.read_exact(&mut head).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_be_bytes(head) as usize;
    if len > max {
        return Err(FrameError::TooLarge { len, limit: max });
    }
    let mut payload = Vec::with_capacity(len.min(64 * 1024));
    (&mut *r).take(len as u64).read_to_end(&mut payload).await?;
    if payload.len() != len {
        return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
    }
    Ok(Some(payload))
}

/// A frame that arrived on a stream, with the sender's gossip address.
pub(crate) type InboundFrame = (SocketAddr, Vec<u8>);

/// Reads frames from an accepted connection and hands them to the node task. Backpressure:
/// when the node task is busy, this task stops reading and TCP slows the sender down.
pub(crate) async fn serve_inbound(
    mut stream: TcpStream,
    max_frame: usize,
    frames: mpsc::Sender<InboundFrame>,
    counters: Arc<Counters>,
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
    loop {
        match timeout(READER_IDLE, read_frame(&mut stream, max_frame)).await {
            Ok(Ok(Some(frame))) => {
                if frames.send((from, frame)).await.is_err() {
                    return;
                }
            }
            Ok(Ok(None)) | Err(_) => return,
            Ok(Err(e)) => {
                if matches!(e, FrameError::TooLarge { .. }) {
                    Counters::add(&counters.stream_frames_rejected, 1);
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
    mut frames: mpsc::Receiver<Vec<u8>>,
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
    frames: &mut mpsc::Receiver<Vec<u8>>,
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
        timeout(IO_TIMEOUT, write_frame(&mut stream, &frame)).await.map_err(timed_out)??;
        Counters::add(&counters.stream_frames_sent, 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn preamble_and_frames_round_trip() {
        let (mut a, mut b) = tokio::io::duplex(1024);
        let addr: SocketAddr = "127.0.0.1:7946".parse().unwrap();
        write_preamble(&mut a, addr).await.unwrap();
        write_frame(&mut a, b"hello").await.unwrap();
        write_frame(&mut a, b"").await.unwrap();
        drop(a);
        assert_eq!(read_preamble(&mut b).await.unwrap(), addr);
        assert_eq!(read_frame(&mut b, 100).await.unwrap(), Some(b"hello".to_vec()));
        assert_eq!(read_frame(&mut b, 100).await.unwrap(), Some(Vec::new()));
        assert_eq!(read_frame(&mut b, 100).await.unwrap(), None);
    }

    #[tokio::test]
    async fn frame_over_the_limit_is_rejected_before_reading_it() {
        let (mut a, mut b) = tokio::io::duplex(1024);
        a.write_all(&1_000_000u32.to_be_bytes()).await.unwrap();
        match read_frame(&mut b, 1000).await {
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
        assert!(matches!(read_frame(&mut b, 100).await, Err(FrameError::Io(_))));
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
