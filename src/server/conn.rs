//! The connection loop: accepts TCP connections and serves each with hyper,
//! under limits that keep slow or idle clients from taking the server.
//!
//! `axum::serve` runs hyper without a timer, so hyper's header-read timeout
//! is off and a client that trickles a request line holds a socket (and a
//! file descriptor) forever: about a thousand such clients take every file
//! descriptor. Here:
//! - a request's headers must arrive within [`ConnLimits::header_read`]
//!   (hyper's `header_read_timeout`, with tokio's timer), and a keep-alive
//!   connection that sends nothing for [`ConnLimits::idle`] is closed;
//! - at most [`ConnLimits::max_connections`] connections are open at once:
//!   past that the loop stops accepting (new clients wait in the kernel's
//!   backlog) until one closes;
//! - on shutdown the listener closes and open connections finish their
//!   in-flight requests (hyper-util's graceful shutdown);
//! - the answers hyper makes by itself, before any of the API's code runs,
//!   to a request it cannot parse (400, 414 for a request line over 64 KiB,
//!   431 for headers over its buffer) have an empty body; they are rewritten
//!   on their way out into the API's JSON error shape ([`json_for_automatic`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

/// Limits on connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// Longest a request's headers may take to arrive.
    pub header_read: Duration,
    /// Longest a connection may stay open without sending a byte.
    pub idle: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            header_read: Duration::from_secs(10),
            idle: Duration::from_secs(60),
            max_connections: 1024,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets open
/// connections finish.
pub(crate) async fn serve_connections(
    listener: TcpListener,
    router: Router,
    limits: ConnLimits,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.idle)
        .keep_alive_timeout(limits.header_read);
    let builder = Arc::new(builder);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = Arc::clone(&permits).acquire_owned() => p.expect("never closed"),
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before
                    // it was accepted: keep serving the others.
                    tracing::warn!(error = %e, "accept failed");
                    if !is_per_connection(&e) {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(IdleTimeout::new(stream, limits.idle));
        let service = TowerToHyperService::new(router.clone());
        let conn = builder
            .serve_connection_with_upgrades(io, service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

fn is_per_connection(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// A socket whose reads fail once nothing has been read or written for
/// `idle` while the connection waits for bytes: closes idle keep-alive
/// connections and uploads that stall.
struct IdleTimeout {
    inner: tokio::net::TcpStream,
    idle: Duration,
    deadline: std::pin::Pin<Box<tokio::time::Sleep>>,
    /// A rewritten automatic answer still being written, and how much of it
    /// is out.
    pending: Option<(Vec<u8>, usize)>,
    /// Bytes moved since the deadline was last set.
    active: bool,
}

/// The JSON answer that replaces one hyper wrote by itself for a request it
/// could not parse: its bytes start with the status line and carry no body.
/// Answers from the API always have a body, so `content-length: 0` tells
/// them apart.
pub(crate) fn json_for_automatic(head: &[u8]) -> Option<Vec<u8>> {
    let (status, code, message) = if head.starts_with(b"HTTP/1.1 414 ") {
        (
            "414 URI Too Long",
            "uri_too_long",
            "the request line is over 64 KiB; send long inputs in a body",
        )
    } else if head.starts_with(b"HTTP/1.1 431 ") {
        (
            "431 Request Header Fields Too Large",
            "headers_too_large",
            "the request's headers are too large",
        )
    } else if head.starts_with(b"HTTP/1.1 400 ") {
        (
            "400 Bad Request",
            "bad_request",
            "the request is not valid HTTP",
        )
    } else {
        return None;
    };
    let text = std::str::from_utf8(head).ok()?.to_ascii_lowercase();
    if !text.ends_with("\r\n\r\n") || !text.contains("\r\ncontent-length: 0\r\n") {
        return None;
    }
    let body = serde_json::json!({"error": {"code": code, "message": message}}).to_string();
    Some(
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

impl IdleTimeout {
    fn new(inner: tokio::net::TcpStream, idle: Duration) -> Self {
        IdleTimeout {
            inner,
            idle,
            deadline: Box::pin(tokio::time::sleep(idle)),
            pending: None,
            active: false,
        }
    }

    /// Writes what is left of a rewritten answer; ready once all is out.
    fn poll_pending(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::task::Poll;
        use tokio::io::AsyncWrite;
        while let Some((bytes, done)) = &mut self.pending {
            if *done == bytes.len() {
                self.pending = None;
                break;
            }
            match std::pin::Pin::new(&mut self.inner).poll_write(cx, &bytes[*done..]) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()))
                }
                Poll::Ready(Ok(n)) => *done += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncRead for IdleTimeout {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::task::Poll;
        let this = &mut *self;
        match std::pin::Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                this.active = true;
                Poll::Ready(r)
            }
            Poll::Pending => {
                // The clock is read once per wait, not per read or write:
                // the idle time counts from when the connection started
                // waiting after its last activity.
                if this.active {
                    this.active = false;
                    let next = tokio::time::Instant::now() + this.idle;
                    this.deadline.as_mut().reset(next);
                }
                match this.deadline.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "connection idle",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl tokio::io::AsyncWrite for IdleTimeout {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        use std::task::Poll;
        match self.poll_pending(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
        if let Some(json) = json_for_automatic(buf) {
            self.pending = Some((json, 0));
            return match self.poll_pending(cx) {
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                // Taken: the rest goes out on the next write or flush.
                _ => Poll::Ready(Ok(buf.len())),
            };
        }
        let r = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        if r.is_ready() {
            self.active = true;
        }
        r
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.poll_pending(cx) {
            std::task::Poll::Ready(Ok(())) => {}
            other => return other,
        }
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.poll_pending(cx) {
            std::task::Poll::Ready(Ok(())) => {}
            other => return other,
        }
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        // An automatic answer is one buffer: take the plain path for it and
        // for anything written while a rewritten one is still going out.
        let first = bufs.iter().find(|b| !b.is_empty());
        if self.pending.is_some()
            || first.is_some_and(|b| {
                b.len() == bufs.iter().map(|b| b.len()).sum::<usize>()
                    && json_for_automatic(b).is_some()
            })
        {
            return match first {
                Some(b) => self.poll_write(cx, b),
                None => std::task::Poll::Ready(Ok(0)),
            };
        }
        let r = std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if r.is_ready() {
            self.active = true;
        }
        r
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
