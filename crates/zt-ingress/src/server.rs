//! Listeners and connections: accept (with a connection limit), TLS handshake (with a
//! timeout, client certificates to peer identities), HTTP/1.1 and HTTP/2 with header
//! size and read-timeout limits, and graceful shutdown.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use zt_core::identity::SpiffeVerifier;
use zt_tower::PeerIdentity;

use crate::config::Limits;
use crate::handler::{Connection, Handler};
use crate::tls::peer_identity;

/// How long open connections get to finish after shutdown begins.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// What a listener speaks.
pub(crate) enum Transport {
    /// Plain HTTP.
    Plain,
    /// HTTPS, with client certificates mapped through `spiffe` when configured.
    Tls {
        acceptor: TlsAcceptor,
        spiffe: Option<Arc<SpiffeVerifier>>,
    },
}

/// Serves one listener with a single-threaded runtime per core, as nginx runs a worker
/// per core: each accepts from the shared socket and keeps its connections (and the
/// upstream connections they use) on its own thread, so a request never waits for
/// another thread to be woken. Returns after `shutdown` fires and every worker drained.
pub(crate) async fn serve(
    listener: TcpListener,
    transport: Transport,
    handler: Handler,
    limits: Limits,
    shutdown: watch::Receiver<bool>,
) {
    let listener = match listener.into_std() {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%error, "cannot hand the listener to the workers");
            return;
        }
    };
    let transport = Arc::new(transport);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let mut threads = Vec::with_capacity(workers);
    for index in 0..workers {
        let worker = match listener.try_clone() {
            Ok(listener) => Worker {
                listener,
                transport: Arc::clone(&transport),
                handler: handler.clone(),
                limits: limits.clone(),
                slots: Arc::clone(&slots),
                shutdown: shutdown.clone(),
            },
            Err(error) => {
                tracing::error!(%error, "cannot share the listener with a worker");
                continue;
            }
        };
        match std::thread::Builder::new()
            .name(format!("zt-ingress-{index}"))
            .spawn(move || worker.run())
        {
            Ok(thread) => threads.push(thread),
            Err(error) => tracing::error!(%error, "cannot start a worker thread"),
        }
    }
    for thread in threads {
        if let Ok(Err(_)) = tokio::task::spawn_blocking(move || thread.join()).await {
            tracing::error!("a worker thread panicked");
        }
    }
}

/// One worker: a single-threaded runtime running an accept loop.
struct Worker {
    listener: std::net::TcpListener,
    transport: Arc<Transport>,
    handler: Handler,
    limits: Limits,
    slots: Arc<Semaphore>,
    shutdown: watch::Receiver<bool>,
}

impl Worker {
    fn run(self) {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(error) => {
                tracing::error!(%error, "cannot start a worker runtime");
                return;
            }
        };
        runtime.block_on(async move {
            match TcpListener::from_std(self.listener) {
                Ok(listener) => {
                    accept_loop(
                        listener,
                        self.transport,
                        self.handler,
                        self.limits,
                        self.slots,
                        self.shutdown,
                    )
                    .await;
                }
                Err(error) => tracing::error!(%error, "worker cannot use the listener"),
            }
        });
    }
}

/// Accepts and serves connections until `shutdown` fires, then drains them.
async fn accept_loop(
    listener: TcpListener,
    transport: Arc<Transport>,
    handler: Handler,
    limits: Limits,
    slots: Arc<Semaphore>,
    mut shutdown: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let builder = Arc::new(http_builder(&limits));
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = shutdown.changed() => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let transport = Arc::clone(&transport);
        let handler = handler.clone();
        let builder = Arc::clone(&builder);
        let watcher = graceful.watcher();
        let handshake_timeout = limits.tls_handshake_timeout;
        tokio::spawn(async move {
            // Held by the connection, and by any upgraded connection it turns into.
            let held: Arc<dyn std::any::Any + Send + Sync> =
                Arc::new((permit, handler.open_connection()));
            match &*transport {
                Transport::Plain => {
                    let connection = Connection::new(peer, false, None, held);
                    drive(&builder, watcher, stream, handler, connection).await;
                }
                Transport::Tls { acceptor, spiffe } => {
                    let Some((tls, identity)) =
                        handshake(acceptor, spiffe.as_deref(), stream, peer, handshake_timeout)
                            .await
                    else {
                        return;
                    };
                    let connection = Connection::new(peer, true, identity, held);
                    drive(&builder, watcher, tls, handler, connection).await;
                }
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the drain timeout; closing them");
    }
}

fn http_builder(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        .keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(20));
    builder
}

async fn handshake(
    acceptor: &TlsAcceptor,
    spiffe: Option<&SpiffeVerifier>,
    stream: TcpStream,
    peer: SocketAddr,
    timeout: Duration,
) -> Option<(
    tokio_rustls::server::TlsStream<TcpStream>,
    Option<PeerIdentity>,
)> {
    let tls = match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(error)) => {
            tracing::debug!(%peer, %error, "TLS handshake failed");
            return None;
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            return None;
        }
    };
    let identity = match (spiffe, tls.get_ref().1.peer_certificates()) {
        (Some(spiffe), Some(certs)) => match peer_identity(spiffe, certs) {
            Ok(Some(identity)) => Some(PeerIdentity(Arc::new(identity))),
            Ok(None) => None,
            Err(error) => {
                tracing::info!(%peer, %error, "client certificate is not a usable SPIFFE identity");
                None
            }
        },
        _ => None,
    };
    Some((tls, identity))
}

async fn drive<I>(
    builder: &auto::Builder<TokioExecutor>,
    watcher: hyper_util::server::graceful::Watcher,
    io: I,
    handler: Handler,
    connection: Connection,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let connection = Arc::new(connection);
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let handler = handler.clone();
        let connection = Arc::clone(&connection);
        async move { Ok::<Response<Body>, Infallible>(handler.handle(request, &connection).await) }
    });
    let served = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    if let Err(error) = watcher.watch(served.into_owned()).await {
        tracing::debug!(%error, "connection ended with an error");
    }
}
