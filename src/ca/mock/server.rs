//! HTTPS for the CA mock: rustls (ring) with the client certificate requested and verified
//! against every CA of DIR, HTTP/1.1 with hyper on tokio, and the answers from [`super::api`].
//!
//! Slow and idle clients cannot take it down: the TLS handshake, the request head and the
//! request body each have a deadline ([`Limits`], 10 s by default), at most
//! [`Limits::max_connections`] connections are served at once (more wait in the kernel's
//! backlog), at most [`Limits::per_client`] of them from one client address (more are closed
//! at once, so one client holding idle connections cannot fill the others' places), and a
//! failing `accept` (out of file descriptors) backs off instead of spinning.
//!
//! A kept-alive connection that waits for its next request is on the request-head deadline:
//! hyper (1.12) starts [`Limits::header_read`] as soon as an answer is sent, so by default an
//! idle connection is cut after 10 s, without a TLS close_notify. [`Limits::idle`] closes idle
//! connections earlier and cleanly (close_notify, then FIN), as servers with a short keep-alive
//! timeout do (Apache httpd's default is 5 s); [`Limits::tls_resumption`] off makes every new
//! connection a full handshake that the client's card must sign. Both exist so the upgrade can
//! be tested against what a real CA may do while the card makes a key (issue 14).
//!
//! The TLS layer lets a client without a certificate in, so that it gets the contract's
//! `401 no_client_certificate` in JSON rather than a bare handshake failure; a certificate that
//! does not chain to DIR's CAs still fails the handshake.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::pki_types::CertificateDer;
use rustls::server::WebPkiClientVerifier;
use rustls::{HandshakeKind, RootCertStore};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use super::api::{Ca, Request};
use super::dir::{MockDir, read_key};
use super::error::MockError;
use super::refusal::Rejection;
use crate::ca::RefusalCode;
use crate::ca::contract;

/// Bodies are CSRs and small JSON; anything larger is not for this CA.
const MAX_BODY: usize = 64 * 1024;

/// How long the CA waits for slow clients and how many it serves at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// From the TCP connection to a finished TLS handshake.
    pub handshake: Duration,
    /// For a request's head (request line and headers), and for the next one on a kept-alive
    /// connection.
    pub header_read: Duration,
    /// For a request's body, once its head is read.
    pub body_read: Duration,
    /// Connections served at once; further ones wait until one ends.
    pub max_connections: usize,
    /// Connections served at once from one client IP address; further ones are closed as soon
    /// as they are accepted.
    pub per_client: usize,
    /// PUK challenges per operator (each lookup needs one, so this bounds lookups too; the
    /// name is from when lookups were counted).
    pub puk_lookups: super::api::RateLimit,
    /// Close a connection that has had no request in progress for this long (gracefully:
    /// close_notify, then FIN). `None`: only [`Limits::header_read`] ends idle connections.
    pub idle: Option<Duration>,
    /// Whether clients may resume a TLS session (tickets, TLS 1.3; session ids, TLS 1.2). Off,
    /// every new connection is a full handshake with the client's certificate and signature.
    pub tls_resumption: bool,
    /// Speak TLS 1.2 only and take only PKCS#1 v1.5 client signatures, as an older server
    /// does, so a client's card must sign that way (TLS 1.3 allows only PSS for RSA).
    pub tls12_pkcs1_only: bool,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            handshake: Duration::from_secs(10),
            header_read: Duration::from_secs(10),
            body_read: Duration::from_secs(10),
            // Above the 500 idle connections the load test holds, below the usual 1024 file
            // descriptors of a process.
            max_connections: 768,
            // A desk or a workstation needs a handful; a service centre behind one NAT address
            // a few dozen. Far below `max_connections`, so one address never holds them all.
            per_client: 64,
            puk_lookups: super::api::RateLimit::default(),
            idle: None,
            tls_resumption: true,
            tls12_pkcs1_only: false,
        }
    }
}

/// How many TLS handshakes the server finished, full and resumed, so a test can see that a
/// client came back on a new connection and whether its card had to sign again.
#[derive(Debug, Default)]
pub struct HandshakeCounts {
    full: AtomicU64,
    resumed: AtomicU64,
}

impl HandshakeCounts {
    /// Full handshakes: the client sent its certificate and (if it has one) signed.
    pub fn full(&self) -> u64 {
        self.full.load(Ordering::Relaxed)
    }

    /// Handshakes that resumed an earlier session: no new client signature.
    pub fn resumed(&self) -> u64 {
        self.resumed.load(Ordering::Relaxed)
    }

    fn count(&self, kind: Option<HandshakeKind>) -> &'static str {
        match kind {
            Some(HandshakeKind::Resumed) => {
                self.resumed.fetch_add(1, Ordering::Relaxed);
                "resumed"
            }
            _ => {
                self.full.fetch_add(1, Ordering::Relaxed);
                "full"
            }
        }
    }
}

/// Whether a connection has a request in progress, and since when it has had none.
struct Activity {
    in_flight: AtomicUsize,
    last: std::sync::Mutex<Instant>,
}

/// Held while a request is answered.
struct Busy(Arc<Activity>);

impl Activity {
    fn new() -> Arc<Activity> {
        Arc::new(Activity {
            in_flight: AtomicUsize::new(0),
            last: std::sync::Mutex::new(Instant::now()),
        })
    }

    fn begin(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Busy(self.clone())
    }

    /// How long until the connection has been idle for `idle`; zero when it has.
    fn until_idle(&self, idle: Duration) -> Duration {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return idle;
        }
        let last = *self.last.lock().unwrap_or_else(|p| p.into_inner());
        idle.saturating_sub(last.elapsed())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        *self.0.last.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Connections open per client address.
#[derive(Default)]
struct PerClient(std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>);

/// One of a client's places; given back when the connection ends.
struct ClientPlace(Arc<PerClient>, std::net::IpAddr);

impl PerClient {
    /// A place for a connection from `ip`, unless it holds `max` already.
    fn take(self: &Arc<Self>, ip: std::net::IpAddr, max: usize) -> Option<ClientPlace> {
        let mut open = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(ip).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(ClientPlace(self.clone(), ip))
    }
}

impl Drop for ClientPlace {
    fn drop(&mut self) {
        let mut open = self.0.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.1) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.1);
            }
        }
    }
}

/// The longest pause after failed `accept`s in a row.
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// The pause after a failed `accept`, given the previous one: 10 ms, doubling, at most 1 s.
pub fn accept_backoff(previous: Option<Duration>) -> Duration {
    match previous {
        None => Duration::from_millis(10),
        Some(d) => (d * 2).min(MAX_ACCEPT_BACKOFF),
    }
}

/// The server's TLS configuration: DIR's server certificate, and every CA of DIR as a trust
/// anchor for client certificates so a client sends only its leaf.
pub fn tls_config(dir: &MockDir) -> Result<rustls::ServerConfig, MockError> {
    tls_config_with(dir, false)
}

/// [`tls_config`], or with `tls12_pkcs1_only` TLS 1.2 alone and only PKCS#1 v1.5 client
/// signatures ([`Limits::tls12_pkcs1_only`]).
pub fn tls_config_with(
    dir: &MockDir,
    tls12_pkcs1_only: bool,
) -> Result<rustls::ServerConfig, MockError> {
    let mut provider = rustls::crypto::ring::default_provider();
    if tls12_pkcs1_only {
        let pkcs1 = [
            rustls::SignatureScheme::RSA_PKCS1_SHA256,
            rustls::SignatureScheme::RSA_PKCS1_SHA384,
            rustls::SignatureScheme::RSA_PKCS1_SHA512,
        ];
        let algorithms = &mut provider.signature_verification_algorithms;
        let mapping: Vec<_> = algorithms
            .mapping
            .iter()
            .filter(|(scheme, _)| pkcs1.contains(scheme))
            .copied()
            .collect();
        // Made once per server start; the provider wants it for the life of the program.
        algorithms.mapping = Box::leak(mapping.into_boxed_slice());
    }
    let provider = Arc::new(provider);
    let versions: &[&rustls::SupportedProtocolVersion] = if tls12_pkcs1_only {
        &[&rustls::version::TLS12]
    } else {
        rustls::DEFAULT_VERSIONS
    };
    let tls = |e: String| MockError::Tls(dir.path().to_path_buf(), e);
    let mut roots = RootCertStore::empty();
    // The same set `api::Ca` checks logins against (`MockDir::trust_anchors`).
    for (ca, der) in dir.trust_anchors()? {
        roots
            .add(CertificateDer::from(der))
            .map_err(|e| tls(format!("CA {}: {e}", ca.file_stem())))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|e| tls(e.to_string()))?;
    let server_pem = dir.server_pem();
    let chain = vec![CertificateDer::from(
        std::fs::read(&server_pem)
            .map_err(|e| MockError::Io(server_pem.clone(), e))
            .and_then(|pem| {
                use rustls::pki_types::pem::PemObject;
                CertificateDer::from_pem_slice(&pem)
                    .map(|c| c.as_ref().to_vec())
                    .map_err(|e| MockError::Pem(server_pem.clone(), e.to_string()))
            })?,
    )];
    let key = read_key(&dir.server_key())?;
    let mut config = rustls::ServerConfig::builder_with_details(
        provider,
        Arc::new(crate::ca::tls::CalendarTime),
    )
    .with_protocol_versions(versions)
    .map_err(|e| tls(e.to_string()))?
    .with_client_cert_verifier(verifier)
    .with_single_cert(chain, key)
    .map_err(|e| tls(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Make a server configuration forget every TLS session: no session ids kept and no TLS 1.3
/// tickets sent (its ticketer, as [`tls_config`] builds it, never makes stateless tickets), so
/// each connection is a full handshake.
pub fn forget_sessions(config: &mut rustls::ServerConfig) {
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
}

/// Accept connections until the runtime is shut down.
pub async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    ca: Arc<Ca>,
    limits: Limits,
    handshakes: Arc<HandshakeCounts>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let clients = Arc::new(PerClient::default());
    let mut refused_since_log = 0u64;
    let mut backoff = None;
    loop {
        // Wait for a free slot before accepting: the connections beyond the limit stay in the
        // kernel's backlog instead of costing a task and a file descriptor here.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (tcp, peer) = match listener.accept().await {
            Ok(conn) => {
                backoff = None;
                conn
            }
            Err(e) => {
                // Out of file descriptors and the like: pause, then keep serving the others.
                let pause = accept_backoff(backoff);
                backoff = Some(pause);
                log::warn!("accept: {e}; trying again in {} ms", pause.as_millis());
                drop(slot);
                tokio::time::sleep(pause).await;
                continue;
            }
        };
        let Some(place) = clients.take(peer.ip(), limits.per_client.max(1)) else {
            // Closed at once: the slot goes back to everyone else.
            if refused_since_log % 100 == 0 {
                log::warn!(
                    "{}: more than {} connections at once from this address; closing the \
                     extra ones",
                    peer.ip(),
                    limits.per_client
                );
            }
            refused_since_log += 1;
            drop(tcp);
            drop(slot);
            continue;
        };
        let acceptor = acceptor.clone();
        let ca = ca.clone();
        let handshakes = handshakes.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let _place = place;
            let tls = match tokio::time::timeout(limits.handshake, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    log::info!("{peer}: TLS handshake refused: {e}");
                    return;
                }
                Err(_) => {
                    log::info!(
                        "{peer}: no TLS handshake within {} s; connection closed",
                        limits.handshake.as_secs_f32()
                    );
                    return;
                }
            };
            let kind = handshakes.count(tls.get_ref().1.handshake_kind());
            let version = tls
                .get_ref()
                .1
                .protocol_version()
                .map(|v| format!(" {v:?}"))
                .unwrap_or_default();
            log::info!("{peer}: TLS handshake ({kind}){version}");
            let client_cert: Option<Arc<Vec<u8>>> = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|certs| certs.first())
                .map(|c| Arc::new(c.as_ref().to_vec()));
            let activity = Activity::new();
            let service = {
                let activity = activity.clone();
                service_fn(move |req| {
                    let busy = activity.begin();
                    let answered =
                        answer(req, ca.clone(), client_cert.clone(), peer, limits.body_read);
                    async move {
                        let reply = answered.await;
                        drop(busy);
                        reply
                    }
                })
            };
            let builder = {
                let mut b = hyper::server::conn::http1::Builder::new();
                b.timer(TokioTimer::new())
                    .header_read_timeout(limits.header_read);
                b
            };
            let mut conn = std::pin::pin!(builder.serve_connection(TokioIo::new(tls), service));
            let ended = match limits.idle {
                None => conn.as_mut().await,
                Some(idle) => loop {
                    let wait = activity.until_idle(idle);
                    match tokio::time::timeout(wait, conn.as_mut()).await {
                        Ok(ended) => break ended,
                        Err(_) if activity.until_idle(idle).is_zero() => {
                            log::info!(
                                "{peer}: idle for {} s; connection closed",
                                idle.as_secs_f32()
                            );
                            conn.as_mut().graceful_shutdown();
                            break conn.as_mut().await;
                        }
                        Err(_) => {}
                    }
                },
            };
            if let Err(e) = ended {
                log::debug!("{peer}: connection ended: {e}");
            }
        });
    }
}

async fn answer(
    req: hyper::Request<Incoming>,
    ca: Arc<Ca>,
    client_cert: Option<Arc<Vec<u8>>>,
    peer: SocketAddr,
    body_read: Duration,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let method = req.method().as_str().to_string();
    let content_type = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // With the query: the audit anchors are listed per log (`?log=`).
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_string(), |p| p.as_str().to_string());
    let collected =
        tokio::time::timeout(body_read, Limited::new(req.into_body(), MAX_BODY).collect()).await;
    let body = match collected {
        Ok(Ok(collected)) => collected.to_bytes(),
        Err(_) => {
            log::info!("{peer} {method} {path} -> 408");
            // Not a `RefusalCode` (docs/ca-api.md "Refusals"): the client reads it as unknown.
            return Ok(response(
                408,
                contract::JSON,
                br#"{"error":"timeout","message":"the request body did not arrive in time; send it again"}"#.to_vec(),
            ));
        }
        Ok(Err(_)) => {
            log::info!("{peer} {method} {path} -> 413");
            return Ok(refused(Rejection::new(
                413,
                RefusalCode::TooLarge,
                "the request body is too large; send one CSR or one small JSON object",
            )));
        }
    };
    let (m, p) = (method.clone(), path.clone());
    let reply = tokio::task::spawn_blocking(move || {
        ca.handle(&Request {
            method: &m,
            path: &p,
            client_cert: client_cert.as_deref().map(Vec::as_slice),
            content_type: content_type.as_deref(),
            body: &body,
        })
    })
    .await;
    let reply = match reply {
        Ok(reply) => reply,
        Err(e) => {
            log::error!("{peer} {method} {path}: handler failed: {e}");
            return Ok(refused(Rejection::new(
                500,
                RefusalCode::Internal,
                "the CA failed; try again later",
            )));
        }
    };
    // Never the body: it may hold a PUK.
    log::info!("{peer} {method} {path} -> {}", reply.status);
    Ok(response(reply.status, reply.content_type, reply.body))
}

fn refused(rejection: Rejection) -> hyper::Response<Full<Bytes>> {
    response(rejection.status, contract::JSON, rejection.body())
}

fn response(
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
) -> hyper::Response<Full<Bytes>> {
    let mut resp = hyper::Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_accepts_back_off_up_to_a_second() {
        let mut pause = None;
        let mut pauses = Vec::new();
        for _ in 0..10 {
            let next = accept_backoff(pause);
            pauses.push(next);
            pause = Some(next);
        }
        assert_eq!(pauses[0], Duration::from_millis(10));
        assert!(pauses.windows(2).all(|w| w[1] >= w[0]));
        assert_eq!(*pauses.last().unwrap(), MAX_ACCEPT_BACKOFF);
        // A success resets it.
        assert_eq!(accept_backoff(None), Duration::from_millis(10));
    }

    #[test]
    fn default_limits_stay_within_ten_seconds() {
        let l = Limits::default();
        for d in [l.handshake, l.header_read, l.body_read] {
            assert!(d <= Duration::from_secs(10) && d > Duration::ZERO);
        }
        assert!(l.max_connections > 500);
    }
}
