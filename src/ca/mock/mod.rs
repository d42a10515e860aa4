//! The CA mock [ours]: a stand-in for Inera's SITHS CA, so the upgrade can be built and tested
//! offline. `init` makes a test world in one directory (docs/ca-api.md "DIR layout"); `start`
//! serves it over HTTPS with EST and a small JSON API (docs/ca-api.md "Endpoints"), in-process
//! for tests or from the command line.
//!
//! - [`dir`]: the DIR layout and loaders ([`MockDir`]).
//! - [`persons`]: the directory of test persons.
//! - [`init`]: `ca-mock init`.
//! - [`api`]: what the CA answers, one module per concern; [`csr`] and [`refusal`] its checks
//!   and refusals.
//! - [`error`]: what can stop the mock.
//! - [`store`]: issued certificates in SQLite.
//! - [`server`]: TLS and HTTP.

pub mod api;
pub mod csr;
pub mod dir;
pub mod error;
pub mod init;
pub mod persons;
pub mod refusal;
pub mod server;
pub mod store;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

pub use api::RateLimit;
pub use dir::{CaName, Config, MockDir};
pub use error::MockError;
pub use init::{InitSummary, init};
pub use persons::{Directory, Person};
pub use server::{HandshakeCounts, Limits};
pub use store::StoredCert;

/// A running CA mock. Dropping it stops the server.
pub struct MockHandle {
    addr: SocketAddr,
    ca: Arc<api::Ca>,
    handshakes: Arc<HandshakeCounts>,
    runtime: Option<tokio::runtime::Runtime>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for MockHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockHandle")
            .field("addr", &self.addr)
            .finish()
    }
}

/// Serve DIR on `listen` (`127.0.0.1:0` picks a free port) from a runtime of its own, so callers
/// need not be async. Returns once the port is bound.
pub fn start(dir: &Path, listen: &str) -> Result<MockHandle, MockError> {
    start_with(dir, listen, Limits::default())
}

/// Like [`start`] with other [`Limits`] (tests shorten the timeouts so they need not wait).
pub fn start_with(dir: &Path, listen: &str, limits: Limits) -> Result<MockHandle, MockError> {
    let md = MockDir::new(dir);
    let mut ca = api::Ca::load(&md)?;
    ca.set_puk_rate(limits.puk_lookups);
    let ca = Arc::new(ca);
    let mut tls = server::tls_config_with(&md, limits.tls12_pkcs1_only)?;
    if !limits.tls_resumption {
        server::forget_sessions(&mut tls);
    }
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let handshakes = Arc::new(HandshakeCounts::default());
    let std_listener =
        std::net::TcpListener::bind(listen).map_err(|e| MockError::Listen(listen.into(), e))?;
    std_listener
        .set_nonblocking(true)
        .map_err(|e| MockError::Listen(listen.into(), e))?;
    let addr = std_listener
        .local_addr()
        .map_err(|e| MockError::Listen(listen.into(), e))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("ca-mock")
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| MockError::Listen(listen.into(), e))?;
    let listener = {
        let _guard = runtime.enter();
        tokio::net::TcpListener::from_std(std_listener)
            .map_err(|e| MockError::Listen(listen.into(), e))?
    };
    let task = runtime.spawn(server::accept_loop(
        listener,
        acceptor,
        ca.clone(),
        limits,
        handshakes.clone(),
    ));
    log::info!("CA mock for {} listening on https://{addr}", dir.display());
    Ok(MockHandle {
        addr,
        ca,
        handshakes,
        runtime: Some(runtime),
        task: Some(task),
    })
}

impl MockHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:PORT`, the base URL clients use (the server certificate names
    /// 127.0.0.1 and localhost).
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    pub fn dir(&self) -> &MockDir {
        &self.ca.dir
    }

    /// The TLS handshakes finished so far, full and resumed.
    pub fn handshakes(&self) -> &HandshakeCounts {
        &self.handshakes
    }

    /// How many certificates the store holds for a person (0 if the store cannot be read).
    pub fn enrolments_for(&self, hsa_id: &str) -> usize {
        self.ca.enrolments_for(hsa_id).unwrap_or(0)
    }

    /// Fault injection for tests: while on, every enrolment is answered with a certificate for
    /// a key other than the one in the request (nothing is stored).
    pub fn misissue_for_other_key(&self, on: bool) {
        self.ca
            .misissue
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// The certificates the store holds for a person, oldest first.
    pub fn certificates_for(&self, hsa_id: &str) -> Result<Vec<StoredCert>, MockError> {
        self.ca.store.for_person(hsa_id)
    }

    /// Block until the server stops (it only stops with the process, for the command line).
    pub fn wait(mut self) {
        if let (Some(runtime), Some(task)) = (self.runtime.as_ref(), self.task.take()) {
            let _ = runtime.block_on(task);
        }
    }

    /// Stop serving; connections in flight are cut, as when a real CA goes away mid-upgrade.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Some(runtime) = self.runtime.take() {
            // Waits for the workers, so the port is closed when this returns.
            runtime.shutdown_timeout(std::time::Duration::from_secs(5));
        }
    }
}

impl Drop for MockHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}
