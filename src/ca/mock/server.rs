//! HTTPS for the CA mock: rustls (ring) with the client certificate requested and verified
//! against every CA of DIR, HTTP/1.1 with hyper on tokio, and the answers from [`super::api`].
//!
//! The TLS layer lets a client without a certificate in, so that it gets the contract's
//! `401 no_client_certificate` in JSON rather than a bare handshake failure; a certificate that
//! does not chain to DIR's CAs still fails the handshake.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::server::WebPkiClientVerifier;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::MockError;
use super::api::{Ca, Request};
use super::dir::{CaName, MockDir, read_key};

/// Bodies are CSRs and small JSON; anything larger is not for this CA.
const MAX_BODY: usize = 64 * 1024;

/// The server's TLS configuration: DIR's server certificate, and every CA of DIR as a trust
/// anchor for client certificates so a client sends only its leaf.
pub fn tls_config(dir: &MockDir) -> Result<rustls::ServerConfig, MockError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = |e: String| MockError::Tls(dir.path().to_path_buf(), e);
    let mut roots = RootCertStore::empty();
    for ca in CaName::ALL {
        roots
            .add(CertificateDer::from(dir.ca_cert_der(ca)?))
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
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| tls(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Accept connections until the runtime is shut down.
pub async fn accept_loop(listener: TcpListener, acceptor: TlsAcceptor, ca: Arc<Ca>) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                // Out of file descriptors and the like: keep serving the others.
                log::warn!("accept: {e}");
                tokio::task::yield_now().await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let ca = ca.clone();
        tokio::spawn(async move {
            let tls = match acceptor.accept(tcp).await {
                Ok(tls) => tls,
                Err(e) => {
                    log::info!("{peer}: TLS handshake refused: {e}");
                    return;
                }
            };
            let client_cert: Option<Arc<Vec<u8>>> = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|certs| certs.first())
                .map(|c| Arc::new(c.as_ref().to_vec()));
            let service = service_fn(move |req| answer(req, ca.clone(), client_cert.clone(), peer));
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .await
            {
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
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            log::info!("{peer} {method} {path} -> 413");
            return Ok(response(
                413,
                "application/json",
                br#"{"error":"too_large","message":"the request body is too large; send one CSR or one small JSON object"}"#.to_vec(),
            ));
        }
    };
    let (m, p) = (method.clone(), path.clone());
    let reply = tokio::task::spawn_blocking(move || {
        ca.handle(&Request {
            method: &m,
            path: &p,
            client_cert: client_cert.as_deref().map(Vec::as_slice),
            body: &body,
        })
    })
    .await;
    let reply = match reply {
        Ok(reply) => reply,
        Err(e) => {
            log::error!("{peer} {method} {path}: handler failed: {e}");
            return Ok(response(
                500,
                "application/json",
                br#"{"error":"internal","message":"the CA failed; try again later"}"#.to_vec(),
            ));
        }
    };
    // Never the body: it may hold a PUK.
    log::info!("{peer} {method} {path} -> {}", reply.status);
    Ok(response(reply.status, reply.content_type, reply.body))
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
