//! The connections a service's gRPC server accepts, and the calls open on them.
//!
//! hyper bounds nothing before an HTTP/2 connection's preface: its keepalive PINGs start
//! after the handshake, and a graceful shutdown asked during the handshake waits for it to
//! complete. So a peer that opens a TCP connection and sends nothing holds it (and a task)
//! for ever, and keeps the server from ever finishing its shutdown. Nor does it close a
//! connection that has no call open. Tonic exposes neither, so every accepted socket is
//! wrapped in a [`Connection`] that fails its reads, and with them the connection, when:
//!
//! - the 24 bytes of the HTTP/2 connection preface have not arrived within the handshake
//!   timeout;
//! - no call has been open on it for the idle timeout;
//! - shutdown's grace period is over ([`Connections::cut_off`]), whatever is open on it.
//!
//! Served over TLS ([`Connections::tls_incoming`]), the TLS handshake is done here, each in a
//! task of its own, before the [`Connection`] wraps the TLS stream: the handshake timeout
//! then bounds the TLS handshake and the (decrypted) HTTP/2 preface together, counted from
//! the TCP accept, and the idle timeout and the cut-off work as over plain TCP. (tonic's own
//! `tls_config` would put TLS *over* the wrapper, which would then count the TLS
//! ClientHello as the preface.)
//!
//! [`Connections`] is also the [`CallHook`] that counts the calls open on each connection
//! (the idle timeout) and keeps the list of calls in flight, so that what shutdown cuts off
//! is logged by name.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use futures::{Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tonic::transport::server::{Connected, TcpConnectInfo, TcpIncoming, TlsConnectInfo};

use crate::call_hook::CallHook;
use crate::config::ConnectionLimits;

/// The HTTP/2 client connection preface, `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`, in bytes
/// (RFC 9113 §3.4): what a client sends first.
const PREFACE_LEN: usize = 24;

/// A service's open connections and calls; cheap to clone.
#[derive(Clone)]
pub(crate) struct Connections {
    inner: Arc<Inner>,
}

struct Inner {
    /// The service name, for logs.
    service: &'static str,
    limits: ConnectionLimits,
    /// Cancelled when shutdown's grace period is over: every connection closes.
    closing: CancellationToken,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Open connections by the client's address (what a call's request carries).
    connections: HashMap<SocketAddr, Arc<Activity>>,
    /// Calls being answered, by a number of their own.
    calls: HashMap<u64, OpenCall>,
    next_call: u64,
}

/// Whether a connection has calls open, and since when it has had none.
struct Activity {
    open_calls: AtomicUsize,
    idle_since: Mutex<Instant>,
}

impl Activity {
    /// When the connection's idle timeout began, if it has no call open.
    fn idle_since(&self) -> Option<Instant> {
        (self.open_calls.load(Ordering::SeqCst) == 0).then(|| *lock(&self.idle_since))
    }

    fn call_started(&self) {
        self.open_calls.fetch_add(1, Ordering::SeqCst);
    }

    fn call_ended(&self) {
        let mut idle_since = lock(&self.idle_since);
        if self.open_calls.fetch_sub(1, Ordering::SeqCst) == 1 {
            *idle_since = Instant::now();
        }
    }
}

/// A call in flight, as shutdown names it if it cuts it off.
struct OpenCall {
    /// `package.Service/Method`.
    path: String,
    peer: Option<SocketAddr>,
    started: Instant,
}

/// A poisoned lock only means a panic elsewhere while it was held; the maps stay usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Connections {
    pub(crate) fn new(service: &'static str, limits: ConnectionLimits) -> Self {
        Self {
            inner: Arc::new(Inner {
                service,
                limits,
                closing: CancellationToken::new(),
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// The listener's connections, each a [`Connection`] (with `TCP_NODELAY`: gRPC's
    /// small messages must not wait for Nagle's algorithm).
    pub(crate) fn incoming(
        &self,
        listener: TcpListener,
    ) -> impl Stream<Item = io::Result<Connection>> + use<> {
        let connections = self.clone();
        TcpIncoming::from(listener)
            .with_nodelay(Some(true))
            .map(move |accepted| {
                accepted.map(|stream| {
                    let peer = stream.peer_addr().ok();
                    connections.accept(stream, peer, Instant::now())
                })
            })
    }

    /// The listener's connections after their TLS handshake with `acceptor`. Handshakes run
    /// in tasks of their own, so a slow one holds up no other; one that fails or does not
    /// finish within the handshake timeout is dropped (and logged at debug). Accepting stops
    /// (and the listener closes) when the server drops the stream.
    pub(crate) fn tls_incoming(
        &self,
        listener: TcpListener,
        acceptor: TlsAcceptor,
    ) -> impl Stream<Item = io::Result<Connection<TlsStream<TcpStream>>>> + use<> {
        let (sender, receiver) = tokio::sync::mpsc::channel(16);
        let connections = self.clone();
        tokio::spawn(async move {
            let mut accepting = TcpIncoming::from(listener).with_nodelay(Some(true));
            loop {
                let accepted = tokio::select! {
                    _ = sender.closed() => return,
                    accepted = accepting.next() => accepted,
                };
                let stream = match accepted {
                    None => return,
                    Some(Ok(stream)) => stream,
                    // tonic's accept loop decides which errors end it, as without TLS.
                    Some(Err(error)) => {
                        if sender.send(Err(error)).await.is_err() {
                            return;
                        }
                        continue;
                    }
                };
                let connections = connections.clone();
                let acceptor = acceptor.clone();
                let sender = sender.clone();
                tokio::spawn(async move {
                    if let Some(connection) = connections.handshake(stream, acceptor).await {
                        let _ = sender.send(Ok(connection)).await;
                    }
                });
            }
        });
        tokio_stream::wrappers::ReceiverStream::new(receiver)
    }

    /// The TLS handshake of an accepted socket, within the handshake timeout (the preface
    /// must then follow within what is left of it).
    async fn handshake(
        &self,
        stream: TcpStream,
        acceptor: TlsAcceptor,
    ) -> Option<Connection<TlsStream<TcpStream>>> {
        let accepted = Instant::now();
        let peer = stream.peer_addr().ok();
        let timeout = self.inner.limits.handshake_timeout;
        let handshake = tokio::time::timeout_at(accepted + timeout, acceptor.accept(stream));
        let outcome = tokio::select! {
            outcome = handshake => outcome,
            _ = self.inner.closing.cancelled() => return None,
        };
        match outcome {
            Ok(Ok(stream)) => Some(self.accept(stream, peer, accepted)),
            Ok(Err(error)) => {
                tracing::debug!(service = self.inner.service, ?peer, %error, "TLS handshake failed");
                None
            }
            Err(_) => {
                tracing::debug!(
                    service = self.inner.service,
                    ?peer,
                    ?timeout,
                    "closing a connection: no TLS handshake within its timeout"
                );
                None
            }
        }
    }

    /// Wraps a socket (or TLS stream) accepted at `accepted` from `peer`.
    fn accept<S>(&self, stream: S, peer: Option<SocketAddr>, accepted: Instant) -> Connection<S> {
        let activity = Arc::new(Activity {
            open_calls: AtomicUsize::new(0),
            idle_since: Mutex::new(accepted),
        });
        if let Some(peer) = peer {
            lock(&self.inner.state)
                .connections
                .insert(peer, Arc::clone(&activity));
        }
        Connection {
            stream,
            peer,
            activity,
            connections: self.clone(),
            handshake_deadline: accepted + self.inner.limits.handshake_timeout,
            preface_left: PREFACE_LEN,
            timer: Box::pin(tokio::time::sleep_until(accepted)),
            closing: Box::pin(self.inner.closing.clone().cancelled_owned()),
        }
    }

    /// The number of calls in flight.
    pub(crate) fn calls_in_flight(&self) -> usize {
        lock(&self.inner.state).calls.len()
    }

    /// Ends shutdown's grace period: logs every call still in flight and closes every
    /// connection still open (their calls end for the client as UNAVAILABLE or CANCELLED).
    pub(crate) fn cut_off(&self) {
        let service = self.inner.service;
        let (mut calls, connections) = {
            let state = lock(&self.inner.state);
            let calls: Vec<(String, Option<SocketAddr>, Instant)> = state
                .calls
                .values()
                .map(|call| (call.path.clone(), call.peer, call.started))
                .collect();
            (calls, state.connections.len())
        };
        calls.sort_by_key(|(_, _, started)| *started);
        let mut by_rpc: Vec<(String, usize)> = Vec::new();
        for (path, peer, started) in &calls {
            tracing::info!(
                service,
                rpc = %path,
                peer = %peer.map(|peer| peer.to_string()).unwrap_or_default(),
                open_for = ?started.elapsed(),
                "shutdown grace period over: call cut off"
            );
            match by_rpc.iter_mut().find(|(rpc, _)| rpc == path) {
                Some((_, count)) => *count += 1,
                None => by_rpc.push((path.clone(), 1)),
            }
        }
        let cut_off = by_rpc
            .iter()
            .map(|(rpc, count)| format!("{rpc} ×{count}"))
            .collect::<Vec<_>>()
            .join(", ");
        if calls.is_empty() {
            tracing::warn!(
                service,
                connections,
                "shutdown grace period over: closing connections without calls"
            );
        } else {
            tracing::warn!(
                service,
                connections,
                calls = calls.len(),
                cut_off = %cut_off,
                "shutdown grace period over: calls in flight cut off: {cut_off}"
            );
        }
        self.inner.closing.cancel();
    }

    /// Runs `serving` (the server, which shuts down gracefully on a signal of its own) until
    /// it ends, or until `deadline`: then [`Self::cut_off`] closes what is left, and it ends.
    pub(crate) async fn serve_until<F: Future>(
        &self,
        deadline: impl Future<Output = ()>,
        serving: F,
    ) -> F::Output {
        tokio::pin!(serving);
        tokio::select! {
            output = &mut serving => return output,
            _ = deadline => {}
        }
        self.cut_off();
        serving.await
    }

    /// Registers a call from `peer` until the returned guard is dropped.
    fn open_call(&self, path: &str, peer: Option<SocketAddr>) -> CallGuard {
        let mut state = lock(&self.inner.state);
        let activity = peer.and_then(|peer| state.connections.get(&peer).cloned());
        if let Some(activity) = &activity {
            activity.call_started();
        }
        let id = state.next_call;
        state.next_call += 1;
        state.calls.insert(
            id,
            OpenCall {
                path: path.trim_start_matches('/').to_string(),
                peer,
                started: Instant::now(),
            },
        );
        CallGuard {
            connections: self.clone(),
            id,
            activity,
        }
    }
}

/// A call open until dropped (with its response body, or its response future if the call
/// never answered).
pub(crate) struct CallGuard {
    connections: Connections,
    id: u64,
    activity: Option<Arc<Activity>>,
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        lock(&self.connections.inner.state).calls.remove(&self.id);
        if let Some(activity) = &self.activity {
            activity.call_ended();
        }
    }
}

/// One accepted TCP connection (`S`: the socket, or the TLS stream over it); see the module
/// docs for when it fails.
pub(crate) struct Connection<S = TcpStream> {
    stream: S,
    peer: Option<SocketAddr>,
    activity: Arc<Activity>,
    connections: Connections,
    handshake_deadline: Instant,
    /// Bytes of the connection preface still to come.
    preface_left: usize,
    /// Set to the handshake or idle deadline while one applies.
    timer: Pin<Box<Sleep>>,
    closing: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// An error once shutdown's grace period is over. Only a connection about to wait
    /// (`waiting`: its socket was not ready) registers to be woken for it; a busy one looks
    /// at the flag, which is cheaper than the shared token's wake-up list on every read.
    fn check_closing(&mut self, context: &mut Context<'_>, waiting: bool) -> io::Result<()> {
        let closed = if waiting {
            self.closing.as_mut().poll(context).is_ready()
        } else {
            self.connections.inner.closing.is_cancelled()
        };
        if closed {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "closed: the shutdown grace period is over",
            ));
        }
        Ok(())
    }

    /// `poll` of the socket, failed once shutdown's grace period is over (checked on writes
    /// too: a client that stops reading blocks them, and hyper may then not read either).
    fn poll_closable<T>(
        &mut self,
        context: &mut Context<'_>,
        poll: impl FnOnce(Pin<&mut S>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        self.check_closing(context, false)?;
        let polled = poll(Pin::new(&mut self.stream), context);
        if polled.is_pending() {
            self.check_closing(context, true)?;
        }
        polled
    }

    /// An error once the handshake or idle deadline that applies has passed; otherwise the
    /// timer is set to wake the connection then.
    fn check_deadlines(&mut self, context: &mut Context<'_>) -> io::Result<()> {
        let limits = &self.connections.inner.limits;
        let (deadline, why) = if self.preface_left > 0 {
            (self.handshake_deadline, "no HTTP/2 connection preface")
        } else if let Some(idle_since) = self.activity.idle_since() {
            (idle_since + limits.idle_timeout, "no call")
        } else {
            return Ok(());
        };
        if self.timer.deadline() != deadline {
            self.timer.as_mut().reset(deadline);
        }
        if self.timer.as_mut().poll(context).is_pending() {
            return Ok(());
        }
        let timeout = if self.preface_left > 0 {
            limits.handshake_timeout
        } else {
            limits.idle_timeout
        };
        tracing::debug!(
            service = self.connections.inner.service,
            peer = ?self.peer,
            ?timeout,
            "closing a connection: {why} within its timeout"
        );
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("closed: {why} within {timeout:?}"),
        ))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Connection<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match this.poll_closable(context, |stream, context| stream.poll_read(context, buf)) {
            Poll::Ready(result) => {
                let read = buf.filled().len() - before;
                this.preface_left = this.preface_left.saturating_sub(read);
                Poll::Ready(result)
            }
            // Nothing to read: the deadlines apply only now, so that what a client sent
            // just in time is still read.
            Poll::Pending => {
                this.check_deadlines(context)?;
                Poll::Pending
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Connection<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_closable(context, |stream, context| stream.poll_write(context, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_closable(context, |stream, context| {
            stream.poll_write_vectored(context, bufs)
        })
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut()
            .poll_closable(context, |stream, context| stream.poll_flush(context))
    }

    fn poll_shutdown(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(context)
    }
}

impl<S: Connected> Connected for Connection<S> {
    type ConnectInfo = S::ConnectInfo;

    /// The socket's own (over TLS, with the client's certificates), so `Request::remote_addr`
    /// and `Request::peer_certs` work as without the wrapper.
    fn connect_info(&self) -> Self::ConnectInfo {
        self.stream.connect_info()
    }
}

impl<S> Drop for Connection<S> {
    fn drop(&mut self) {
        let Some(peer) = self.peer else {
            return;
        };
        let mut state = lock(&self.connections.inner.state);
        if state
            .connections
            .get(&peer)
            .is_some_and(|activity| Arc::ptr_eq(activity, &self.activity))
        {
            state.connections.remove(&peer);
        }
    }
}

impl CallHook for Connections {
    type Call = CallGuard;

    /// Registers the call until its response body is dropped.
    fn start<B>(&self, request: &http::Request<B>) -> CallGuard {
        // The plain socket's address; served over TLS, the request carries a
        // `TlsConnectInfo<TcpConnectInfo>` instead. A call found on no connection would keep
        // none from its idle timeout.
        let extensions = request.extensions();
        let peer = extensions
            .get::<TcpConnectInfo>()
            .or_else(|| {
                extensions
                    .get::<TlsConnectInfo<TcpConnectInfo>>()
                    .map(TlsConnectInfo::get_ref)
            })
            .and_then(TcpConnectInfo::remote_addr);
        self.open_call(request.uri().path(), peer)
    }
}
