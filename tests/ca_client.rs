//! The CA client against a tiny HTTPS server in this test (rustls, client certificate required),
//! with the TLS client key on an in-process virtual card: real TLS on loopback, real RSA keys,
//! real certificates.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use rsa::pkcs1v15::Pkcs1v15Sign;
use rsa::{BigUint, RsaPrivateKey, RsaPublicKey};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ProtocolVersion, RootCertStore, ServerConfig, ServerConnection, StreamOwned};
use sha2::{Digest, Sha256};
use x509_parser::prelude::FromDer;

use siths_upgrade::ca::RefusalCode;
use siths_upgrade::ca::check::{CertCheckError, Expected, check_issued};
use siths_upgrade::ca::client::{CaClient, CaError};
use siths_upgrade::ca::csr::card_csr;
use siths_upgrade::ca::{Profile, pkcs7};
use siths_upgrade::card::Card as _;
use siths_upgrade::card::SharedCard;
use siths_upgrade::card::{CardError, PinKind, PublicKey, SecretCode, SithsCard};
use siths_upgrade::pki::date::now_unix;
use siths_upgrade::pki::keys::{RsaSpki, generate_rsa_key, private_key_pkcs8_der};
use siths_upgrade::pki::{PersonCertRequest, PersonName, Purpose, TestCa};
use siths_upgrade::provision::{Codes, DEMO_HSA_ID, demo_holder};
use siths_upgrade::virtual_card::memory::MemoryTransport;
use support::persons::{HOLDER, OTHER_HOLDER};
use support::world::{demo_card, demo_card_template};

const AUTH_SLOT: siths_upgrade::card::KeySlot = siths_upgrade::card::KeySlot::ALL[0];

// ---------------------------------------------------------------- test PKI and card

/// The CA side's PKI, made once per test binary (RSA key generation is the slow part).
struct Pki {
    root: TestCa,
    hsa3: TestCa,
    server_cert: Vec<u8>,
    server_key: Vec<u8>,
    other_key: RsaPrivateKey,
}

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let root = TestCa::new_root("TEST SITHS e-id Root CA v2", 2048).unwrap();
        let hsa3 = TestCa::new_issuing(
            &root,
            "TEST SITHS e-id Person HSA-id 3 CA v1",
            2048,
            Some(3),
        )
        .unwrap();
        let server_key = generate_rsa_key(2048).unwrap();
        let spki = RsaSpki::from_key(&RsaPublicKey::from(&server_key)).unwrap();
        let server_cert = root
            .issue_server_cert("localhost", &["localhost"], &spki.spki_der, 30)
            .unwrap();
        Pki {
            root,
            hsa3,
            server_cert,
            server_key: private_key_pkcs8_der(&server_key).unwrap().to_vec(),
            other_key: generate_rsa_key(2048).unwrap(),
        }
    })
}

struct TestCard {
    _dir: tempfile::TempDir,
    shared: SharedCard,
    auth_cert: Vec<u8>,
    /// The card's legacy CA and its root (PEM, legacy first), as `<state>.ca.pem` holds them.
    ca_pem: Vec<u8>,
    public: PublicKey,
}

impl TestCard {
    fn new() -> TestCard {
        let dir = tempfile::tempdir().unwrap();
        let (_, virtual_card) = demo_card(dir.path());
        // The card's legacy CA and root are beside the template, not copied with the card.
        let ca_pem = std::fs::read(demo_card_template().with_extension("ca.pem")).unwrap();
        let mut card =
            SithsCard::open(Box::new(MemoryTransport::connect(virtual_card).unwrap())).unwrap();
        let auth_cert = card
            .overview()
            .unwrap()
            .certificates
            .into_iter()
            .find(|c| c.slot == Some(AUTH_SLOT))
            .unwrap()
            .der;
        let public = card.read_public_key(AUTH_SLOT).unwrap().unwrap();
        TestCard {
            _dir: dir,
            shared: siths_upgrade::card::share(card),
            auth_cert,
            ca_pem,
            public,
        }
    }

    fn verify_pin1(&self) {
        let code = SecretCode::pin(Codes::test_defaults().pin1).unwrap();
        self.shared
            .lock()
            .unwrap()
            .verify_pin(PinKind::Pin1, &code)
            .unwrap();
    }

    fn ca_ders(&self) -> Vec<Vec<u8>> {
        CertificateDer::pem_slice_iter(&self.ca_pem)
            .map(|c| c.unwrap().to_vec())
            .collect()
    }

    fn client(&self, server: &TestServer) -> CaClient {
        self.client_trusting(server, pki().root.cert_pem().as_bytes())
    }

    fn client_trusting(&self, server: &TestServer, roots_pem: &[u8]) -> CaClient {
        CaClient::new(
            &server.url(),
            roots_pem,
            self.shared.clone(),
            AUTH_SLOT,
            self.auth_cert.clone(),
        )
        .unwrap()
    }
}

// ---------------------------------------------------------------- HTTPS test server

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    content_type: Option<String>,
    body: Vec<u8>,
    client_cert: Option<Vec<u8>>,
    version: Option<ProtocolVersion>,
}

struct Answer {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
}

fn answer(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Answer {
    Answer {
        status,
        content_type,
        body: body.into(),
    }
}

type Handler = Box<dyn Fn(&Seen) -> Answer + Send + Sync>;

struct TestServer {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl TestServer {
    /// HTTPS on 127.0.0.1 with the root-issued `localhost` certificate, requiring a client
    /// certificate that chains to one of `client_roots` (PEM).
    fn start(
        client_roots_pem: &[u8],
        versions: &[&'static rustls::SupportedProtocolVersion],
        handler: Handler,
    ) -> TestServer {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(client_roots_pem) {
            roots.add(cert.unwrap()).unwrap();
        }
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki().server_key.clone()));
        let config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![CertificateDer::from(pki().server_cert.clone())], key)
            .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        // Recorded before the answer goes out, so a client that has its answer always finds
        // its request in `seen`.
        let handler: Handler = Box::new(move |s: &Seen| {
            seen2.lock().unwrap().push(s.clone());
            handler(s)
        });
        std::thread::spawn(move || {
            for tcp in listener.incoming() {
                let Ok(tcp) = tcp else { continue };
                // A failed handshake (e.g. the card did not sign) ends only that connection.
                let _ = serve_one(&config, tcp, &handler);
            }
        });
        TestServer { port, seen }
    }

    fn url(&self) -> String {
        format!("https://localhost:{}", self.port)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// One connection, one request, one answer (`Connection: close`).
fn serve_one(
    config: &Arc<ServerConfig>,
    tcp: TcpStream,
    handler: &Handler,
) -> Result<Seen, String> {
    tcp.set_read_timeout(Some(Duration::from_secs(20))).ok();
    let conn = ServerConnection::new(config.clone()).map_err(|e| e.to_string())?;
    let mut tls = StreamOwned::new(conn, tcp);
    let result = exchange(&mut tls, handler);
    if result.is_err() {
        // Close gently (rustls has already sent its alert): a close with unread data would be
        // a TCP reset, which can overtake the alert on its way to the client.
        let _ = tls.sock.shutdown(std::net::Shutdown::Write);
        let mut sink = [0u8; 4096];
        while matches!(tls.sock.read(&mut sink), Ok(n) if n > 0) {}
    }
    result
}

fn exchange(
    tls: &mut StreamOwned<ServerConnection, TcpStream>,
    handler: &Handler,
) -> Result<Seen, String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match tls.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            Ok(_) => return Err("closed before a request".into()),
            Err(e) => return Err(e.to_string()),
        }
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let mut lines = head.lines();
    let mut request_line = lines.next().unwrap_or("").split(' ');
    let method = request_line.next().unwrap_or("").to_string();
    let path = request_line.next().unwrap_or("").to_string();
    let mut length = 0usize;
    let mut content_type = None;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap_or(0),
                "content-type" => content_type = Some(value.trim().to_string()),
                _ => {}
            }
        }
    }
    let mut body = vec![0u8; length];
    tls.read_exact(&mut body).map_err(|e| e.to_string())?;
    let seen = Seen {
        method,
        path,
        content_type,
        body,
        client_cert: tls
            .conn
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.to_vec()),
        version: tls.conn.protocol_version(),
    };
    let a = handler(&seen);
    let mut out = format!(
        "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        a.status,
        a.content_type,
        a.body.len()
    )
    .into_bytes();
    out.extend_from_slice(&a.body);
    tls.write_all(&out).map_err(|e| e.to_string())?;
    tls.conn.send_close_notify();
    tls.flush().map_err(|e| e.to_string())?;
    Ok(seen)
}

/// The CA's `/me` answer for the demo holder, offering the two HSA-id profiles.
fn me_json() -> String {
    format!(
        r#"{{"hsa_id":"{}","personnummer":"{}",
  "name":"{}","organisation":"Testregionen Västra Götaland",
  "county":"Västra Götalands län","upn":null,"upgrade_allowed":true,"refusal":null,
  "deadline":"2027-06-30","profiles":[
   {{"label":"hsa-auth","identity":"hsa_id","purpose":"authentication","trust_level":3}},
   {{"label":"hsa-sign","identity":"hsa_id","purpose":"signature","trust_level":3}}]}}"#,
        HOLDER.hsa_id, OTHER_HOLDER.personnummer, HOLDER.name
    )
}

fn me_server(
    client_roots_pem: &[u8],
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> TestServer {
    TestServer::start(
        client_roots_pem,
        versions,
        Box::new(|seen| match seen.path.as_str() {
            "/api/v1/me" => answer(200, "application/json", me_json()),
            _ => answer(
                404,
                "application/json",
                r#"{"error":"not_found","message":"no"}"#,
            ),
        }),
    )
}

// ---------------------------------------------------------------- certificates for the card key

fn person(serial: &str) -> PersonName {
    PersonName {
        serial_number: serial.into(),
        ..demo_holder()
    }
}

fn issue(
    ca: &TestCa,
    serial: &str,
    purpose: Purpose,
    spki: &[u8],
    not_before: Option<i64>,
) -> Vec<u8> {
    issue_at_level(ca, serial, purpose, spki, not_before, 3)
}

fn issue_at_level(
    ca: &TestCa,
    serial: &str,
    purpose: Purpose,
    spki: &[u8],
    not_before: Option<i64>,
    level: u8,
) -> Vec<u8> {
    ca.issue_person_cert(
        &PersonCertRequest {
            subject: person(serial),
            purpose,
            trust_level: Some(level),
            upn: None,
            not_before,
            not_after: None,
        },
        spki,
    )
    .unwrap()
}

fn card_spki(card: &TestCard) -> Vec<u8> {
    card.public.to_spki_der().unwrap()
}

fn expected(card: &TestCard, identity: &str, purpose: Purpose) -> Expected {
    Expected {
        identity: identity.into(),
        purpose,
        modulus: card.public.modulus.clone(),
        exponent: card.public.exponent.clone(),
        trust_level: 3,
        profile: match purpose {
            Purpose::Signature => Profile::HsaSign,
            _ => Profile::HsaAuth,
        },
    }
}

fn issuers() -> Vec<Vec<u8>> {
    vec![
        pki().hsa3.cert_der().to_vec(),
        pki().root.cert_der().to_vec(),
    ]
}

// ---------------------------------------------------------------- TLS with the card

#[test]
fn handshake_needs_pin1_then_the_card_signs_tls13_with_pss() {
    let card = TestCard::new();
    let server = me_server(&card.ca_pem, &[&rustls::version::TLS13]);
    let client = card.client(&server);

    let err = client.me().unwrap_err();
    assert_eq!(err, CaError::PinNotVerified);
    assert!(err.to_string().contains("verify PIN1 first"), "{err}");
    assert!(err.to_string().contains("nothing on the card was changed"));
    assert!(server.seen().is_empty(), "no request got through");

    card.verify_pin1();
    let me = client.me().unwrap();
    assert_eq!(me.hsa_id, DEMO_HSA_ID);
    assert_eq!(me.name, HOLDER.name);
    assert!(me.upgrade_allowed && me.refusal.is_none());
    assert_eq!(
        me.profiles
            .iter()
            .filter_map(|p| p.profile())
            .collect::<Vec<_>>(),
        vec![Profile::HsaAuth, Profile::HsaSign]
    );

    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].client_cert.as_ref(), Some(&card.auth_cert));
    assert_eq!(seen[0].version, Some(ProtocolVersion::TLSv1_3));
    let record = client.handshakes();
    assert!(record.pss_signatures >= 1, "{record:?}");
    assert_eq!(record.pkcs1_signatures, 0);
}

#[test]
fn tls12_server_accepts_the_card_signature() {
    let card = TestCard::new();
    card.verify_pin1();
    let server = me_server(&card.ca_pem, &[&rustls::version::TLS12]);
    let client = card.client(&server);
    assert_eq!(client.me().unwrap().hsa_id, DEMO_HSA_ID);
    let seen = server.seen();
    assert_eq!(seen[0].version, Some(ProtocolVersion::TLSv1_2));
    assert_eq!(seen[0].client_cert.as_ref(), Some(&card.auth_cert));
    let record = client.handshakes();
    assert_eq!(record.pss_signatures + record.pkcs1_signatures, 1);
}

#[test]
fn untrusted_server_is_refused_before_the_card_signs() {
    let card = TestCard::new();
    card.verify_pin1();
    let server = me_server(&card.ca_pem, &[&rustls::version::TLS13]);
    // Trust the card's own CA instead of the server's root.
    let client = card.client_trusting(&server, &card.ca_pem);
    let err = client.me().unwrap_err();
    assert!(matches!(err, CaError::ServerNotTrusted(_)), "{err:?}");
    assert!(err.to_string().contains("root"), "{err}");
    assert_eq!(client.handshakes().pss_signatures, 0);
    assert!(server.seen().is_empty());
}

#[test]
fn server_refusing_the_card_certificate_is_reported() {
    let card = TestCard::new();
    card.verify_pin1();
    // The server trusts only the CA side's root, not the card's legacy CA.
    let server = me_server(pki().root.cert_pem().as_bytes(), &[&rustls::version::TLS13]);
    let client = card.client(&server);
    let err = client.me().unwrap_err();
    assert!(matches!(err, CaError::ClientCertRefused(_)), "{err:?}");
    assert!(err.to_string().contains("service centre"), "{err}");
    assert!(server.seen().is_empty());
}

#[test]
fn unreachable_ca_says_to_check_the_address() {
    let card = TestCard::new();
    card.verify_pin1();
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client = CaClient::new(
        &format!("https://localhost:{port}"),
        pki().root.cert_pem().as_bytes(),
        card.shared.clone(),
        AUTH_SLOT,
        card.auth_cert.clone(),
    )
    .unwrap();
    let err = client.me().unwrap_err();
    assert!(matches!(err, CaError::Unreachable { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("check the CA address and your network"),
        "{text}"
    );
    assert!(text.contains("nothing on the card was changed"), "{text}");
}

#[test]
fn client_setup_refuses_bad_input() {
    let card = TestCard::new();
    let new = |url: &str, roots: &[u8], cert: Vec<u8>| {
        CaClient::new(url, roots, card.shared.clone(), AUTH_SLOT, cert).unwrap_err()
    };
    let root = pki().root.cert_pem();
    assert!(matches!(
        new(
            "http://localhost:1",
            root.as_bytes(),
            card.auth_cert.clone()
        ),
        CaError::Config(_)
    ));
    assert!(matches!(
        new("not a url", root.as_bytes(), card.auth_cert.clone()),
        CaError::Config(_)
    ));
    assert!(matches!(
        new(
            "https://localhost:1",
            b"no pem here",
            card.auth_cert.clone()
        ),
        CaError::Config(_)
    ));
    assert!(matches!(
        new("https://localhost:1", root.as_bytes(), vec![1, 2, 3]),
        CaError::Config(_)
    ));
}

#[test]
fn a_silent_ca_times_out_as_unreachable() {
    let card = TestCard::new();
    card.verify_pin1();
    // Accepts TCP connections and never answers (a hung CA): the handshake cannot finish.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for tcp in listener.incoming().take(4) {
            held.push(tcp);
        }
    });
    let client = CaClient::new(
        &format!("https://127.0.0.1:{port}"),
        pki().root.cert_pem().as_bytes(),
        card.shared.clone(),
        AUTH_SLOT,
        card.auth_cert.clone(),
    )
    .unwrap();
    let err = client.me().unwrap_err();
    assert!(matches!(err, CaError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("nothing on the card was changed"));
    assert_eq!(client.handshakes().pss_signatures, 0);
}

// ---------------------------------------------------------------- CSR signed by the card

#[test]
fn card_csr_parses_and_verifies_with_the_card_key() {
    let card = TestCard::new();

    let err = card_csr(&card.shared, AUTH_SLOT, &card.public).unwrap_err();
    assert_eq!(
        err,
        CaError::CardSigning(CardError::NotVerified(PinKind::Pin1))
    );
    // The legacy signing key wants PIN2, which PIN1 does not stand in for.
    card.verify_pin1();
    let sign_public = card
        .shared
        .lock()
        .unwrap()
        .read_public_key(key_slot(5))
        .unwrap()
        .unwrap();
    let err = card_csr(&card.shared, key_slot(5), &sign_public).unwrap_err();
    assert_eq!(
        err,
        CaError::CardSigning(CardError::NotVerified(PinKind::Pin2))
    );
    assert!(err.to_string().contains("signing PIN (PIN2)"), "{err}");

    let der = card_csr(&card.shared, AUTH_SLOT, &card.public).unwrap();
    let (rest, csr) =
        x509_parser::certification_request::X509CertificationRequest::from_der(&der).unwrap();
    assert!(rest.is_empty());
    csr.verify_signature().unwrap();
    let info = &csr.certification_request_info;
    assert_eq!(info.subject_pki.raw, card_spki(&card).as_slice());
    assert_eq!(
        info.subject.iter_attributes().count(),
        0,
        "the CA fills the subject"
    );
    assert_eq!(
        csr.signature_algorithm.algorithm.to_id_string(),
        "1.2.840.113549.1.1.11"
    );
    // And independently with the rsa crate: PKCS#1 v1.5 over SHA-256 of the request info.
    let key = RsaPublicKey::new(
        BigUint::from_bytes_be(&card.public.modulus),
        BigUint::from_bytes_be(&card.public.exponent),
    )
    .unwrap();
    key.verify(
        Pkcs1v15Sign::new::<Sha256>(),
        &Sha256::digest(info.raw),
        &csr.signature_value.data,
    )
    .unwrap();
}

// ---------------------------------------------------------------- checks on issued certificates

#[test]
fn check_accepts_a_correct_certificate() {
    let card = TestCard::new();
    let now = now_unix();
    let cert = issue(
        &pki().hsa3,
        DEMO_HSA_ID,
        Purpose::Authentication,
        &card_spki(&card),
        None,
    );
    let info = check_issued(
        &cert,
        &issuers(),
        &[pki().root.cert_der().to_vec()],
        &expected(&card, DEMO_HSA_ID, Purpose::Authentication),
        now,
    )
    .unwrap();
    assert_eq!(info.der, cert);
    assert_eq!(info.trust_level, Some(3));

    let sign = issue(
        &pki().hsa3,
        DEMO_HSA_ID,
        Purpose::Signature,
        &card_spki(&card),
        None,
    );
    check_issued(
        &sign,
        &issuers(),
        &[pki().root.cert_der().to_vec()],
        &expected(&card, DEMO_HSA_ID, Purpose::Signature),
        now,
    )
    .unwrap();

    // The card's legacy certificate chains to the card's own CA, but that is not the issuing
    // CA of a new HSA-id certificate: it is never taken for one.
    let card_cas = card.ca_ders();
    let err = check_issued(
        &card.auth_cert,
        &card_cas[..1],
        &card_cas[1..2],
        &expected(&card, DEMO_HSA_ID, Purpose::Authentication),
        now,
    )
    .unwrap_err();
    assert!(matches!(err, CertCheckError::WrongIssuer { .. }), "{err:?}");
}

fn assert_refused(result: Result<siths_upgrade::pki::CertInfo, CertCheckError>) -> CertCheckError {
    let err = result.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("nothing was written to the card"), "{text}");
    assert!(text.contains("contact the service centre"), "{text}");
    err
}

#[test]
fn check_refuses_each_wrong_certificate() {
    let card = TestCard::new();
    let now = now_unix();
    let root = pki().root.cert_der();
    let want = expected(&card, DEMO_HSA_ID, Purpose::Authentication);
    let check = |cert: &[u8], issuers: &[Vec<u8>], root: &[u8], want: &Expected, now: i64| {
        assert_refused(check_issued(cert, issuers, &[root.to_vec()], want, now))
    };

    // Another key.
    let other = RsaSpki::from_key(&RsaPublicKey::from(&pki().other_key)).unwrap();
    let cert = issue(
        &pki().hsa3,
        DEMO_HSA_ID,
        Purpose::Authentication,
        &other.spki_der,
        None,
    );
    assert_eq!(
        check(&cert, &issuers(), root, &want, now),
        CertCheckError::WrongKey
    );

    // Another person.
    let cert = issue(
        &pki().hsa3,
        OTHER_HOLDER.hsa_id,
        Purpose::Authentication,
        &card_spki(&card),
        None,
    );
    let err = check(&cert, &issuers(), root, &want, now);
    assert!(
        matches!(err, CertCheckError::WrongIdentity { .. }),
        "{err:?}"
    );

    // A personnummer expected, shown masked.
    let cert = issue(
        &pki().hsa3,
        DEMO_HSA_ID,
        Purpose::Authentication,
        &card_spki(&card),
        None,
    );
    let pnr = expected(&card, OTHER_HOLDER.personnummer, Purpose::Authentication);
    let err = check(&cert, &issuers(), root, &pnr, now);
    assert!(
        !err.to_string().contains(OTHER_HOLDER.personnummer),
        "{err}"
    );

    // The wrong purpose, both ways.
    let sign = issue(
        &pki().hsa3,
        DEMO_HSA_ID,
        Purpose::Signature,
        &card_spki(&card),
        None,
    );
    let err = check(&sign, &issuers(), root, &want, now);
    assert_eq!(
        err,
        CertCheckError::WrongPurpose {
            expected: "authentication".into(),
            found: "signature".into()
        }
    );
    let want_sign = expected(&card, DEMO_HSA_ID, Purpose::Signature);
    let err = check(&cert, &issuers(), root, &want_sign, now);
    assert!(
        matches!(err, CertCheckError::WrongPurpose { .. }),
        "{err:?}"
    );

    // Expired, and not yet valid.
    let info = siths_upgrade::pki::CertInfo::from_der(&cert).unwrap();
    let err = check(&cert, &issuers(), root, &want, info.not_after + 86_400);
    assert!(matches!(err, CertCheckError::Expired(_)), "{err:?}");
    let later = issue(
        &pki().hsa3,
        DEMO_HSA_ID,
        Purpose::Authentication,
        &card_spki(&card),
        Some(now + 10 * 86_400),
    );
    let err = check(&later, &issuers(), root, &want, now);
    assert!(matches!(err, CertCheckError::NotYetValid(_)), "{err:?}");

    // Wrong chain: the card's legacy certificate is not from the CA's issuing CAs ...
    let err = check(&card.auth_cert, &issuers(), root, &want, now);
    assert!(
        matches!(err, CertCheckError::UnknownIssuer { .. }),
        "{err:?}"
    );
    // ... and its issuing CA is not under the configured root.
    let card_cas = card.ca_ders();
    let err = check(&card.auth_cert, &card_cas[..1], root, &want, now);
    assert!(
        matches!(err, CertCheckError::NotUnderRoot { .. }),
        "{err:?}"
    );
    // No issuers at all.
    let err = check(&cert, &[], root, &want, now);
    assert!(
        matches!(err, CertCheckError::UnknownIssuer { .. }),
        "{err:?}"
    );

    // A personnummer certificate from the HSA-id CA: the wrong CA for the profile.
    let pnr_cert = issue(
        &pki().hsa3,
        OTHER_HOLDER.personnummer,
        Purpose::Authentication,
        &card_spki(&card),
        None,
    );
    let want_pnr = Expected {
        profile: Profile::PnrAuth,
        ..expected(&card, OTHER_HOLDER.personnummer, Purpose::Authentication)
    };
    let err = check(&pnr_cert, &issuers(), root, &want_pnr, now);
    assert!(matches!(err, CertCheckError::WrongIssuer { .. }), "{err:?}");

    // Trust level 2 where 3 was asked for.
    let level2 = issue_at_level(
        &pki().hsa3,
        DEMO_HSA_ID,
        Purpose::Authentication,
        &card_spki(&card),
        None,
        2,
    );
    let err = check(&level2, &issuers(), root, &want, now);
    assert_eq!(
        err,
        CertCheckError::WrongTrustLevel {
            expected: 3,
            found: "trust level 2".into()
        }
    );

    // Not a certificate.
    let err = check(b"<html>", &issuers(), root, &want, now);
    assert!(matches!(err, CertCheckError::Unreadable(_)), "{err:?}");
}

// ---------------------------------------------------------------- EST and JSON API

#[test]
fn enroll_sends_the_csr_and_returns_the_issued_certificate() {
    let card = TestCard::new();
    card.verify_pin1();
    let issued = issue(
        &pki().hsa3,
        DEMO_HSA_ID,
        Purpose::Authentication,
        &card_spki(&card),
        None,
    );
    let hsa3 = pki().hsa3.cert_der().to_vec();
    let root = pki().root.cert_der().to_vec();
    let issued2 = issued.clone();
    let server = TestServer::start(
        &card.ca_pem,
        &[&rustls::version::TLS13],
        Box::new(
            move |seen| match (seen.method.as_str(), seen.path.as_str()) {
                ("POST", "/.well-known/est/hsa-auth/simpleenroll") => {
                    // Answer with the issued certificate and its CA, base64 in 64-column lines.
                    let b64 = pkcs7::certs_only_base64(&[&hsa3, &issued2]).unwrap();
                    let wrapped: Vec<u8> = b64
                        .as_bytes()
                        .chunks(64)
                        .flat_map(|l| l.iter().copied().chain(*b"\r\n"))
                        .collect();
                    answer(
                        200,
                        "application/pkcs7-mime; smime-type=certs-only",
                        wrapped,
                    )
                }
                ("GET", "/.well-known/est/hsa-auth/cacerts") => answer(
                    200,
                    "application/pkcs7-mime",
                    pkcs7::certs_only_base64(&[&hsa3, &root]).unwrap(),
                ),
                _ => answer(
                    404,
                    "application/json",
                    r#"{"error":"unknown_profile","message":"?"}"#,
                ),
            },
        ),
    );
    let client = card.client(&server);
    let csr = card_csr(&card.shared, AUTH_SLOT, &card.public).unwrap();
    let cert = client.enroll(Profile::HsaAuth, &csr).unwrap();
    assert_eq!(cert, issued);

    let seen = server.seen();
    assert_eq!(seen[0].content_type.as_deref(), Some("application/pkcs10"));
    let sent = base64::engine::general_purpose::STANDARD
        .decode(&seen[0].body)
        .unwrap();
    assert_eq!(sent, csr, "the body is the base64 DER of the CSR");

    let cas = client.cacerts(Profile::HsaAuth).unwrap();
    assert_eq!(cas.len(), 2);
    let root_der = pki().root.cert_der();
    check_issued(
        &cert,
        &cas,
        &[root_der.to_vec()],
        &expected(&card, DEMO_HSA_ID, Purpose::Authentication),
        now_unix(),
    )
    .unwrap();

    // A profile the server does not serve: the refusal's code comes through.
    let err = client.enroll(Profile::PnrSign, &csr).unwrap_err();
    assert_eq!(err.refusal_code(), Some(RefusalCode::UnknownProfile));
}

#[test]
fn refusals_and_malformed_answers_are_typed() {
    let card = TestCard::new();
    card.verify_pin1();
    let server = TestServer::start(
        &card.ca_pem,
        &[&rustls::version::TLS13],
        Box::new(|seen| match seen.path.as_str() {
            "/.well-known/est/hsa-auth/simpleenroll" => answer(
                403,
                "application/json",
                r#"{"error":"deadline_passed","message":"the upgrade deadline 2027-06-30 has passed; contact the service centre"}"#,
            ),
            "/.well-known/est/hsa-sign/simpleenroll" => {
                answer(200, "application/pkcs7-mime", "this is not PKCS#7")
            }
            "/api/v1/me" => answer(200, "application/json", r#"{"hsa_id": 5}"#),
            _ => answer(500, "text/plain", "internal error"),
        }),
    );
    let client = card.client(&server);
    let err = client.enroll(Profile::HsaAuth, b"csr").unwrap_err();
    match &err {
        CaError::Refused {
            status,
            code,
            message,
        } => {
            assert_eq!(*status, 403);
            assert_eq!(*code, RefusalCode::DeadlinePassed);
            assert!(message.contains("deadline 2027-06-30 has passed"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        client.enroll(Profile::HsaSign, b"csr").unwrap_err(),
        CaError::Malformed(_)
    ));
    assert!(matches!(client.me().unwrap_err(), CaError::Malformed(_)));
    let err = client.certificates().unwrap_err();
    assert_eq!(err.refusal_code(), Some(RefusalCode::Unknown));
}

#[test]
fn certificates_and_puk_lookup() {
    let card = TestCard::new();
    card.verify_pin1();
    let auth = issue(
        &pki().hsa3,
        DEMO_HSA_ID,
        Purpose::Authentication,
        &card_spki(&card),
        None,
    );
    let b64 = base64::engine::general_purpose::STANDARD.encode(&auth);
    let list = format!(
        r#"{{"certificates":[
            {{"label":"hsa-auth","serial":"0a1b","not_after":"2031-01-01T00:00:00Z","der_base64":"{b64}"}},
            {{"label":"future-profile","serial":"ff","not_after":"","der_base64":"{b64}"}}]}}"#
    );
    let server = TestServer::start(
        &card.ca_pem,
        &[&rustls::version::TLS13],
        Box::new(move |seen| match seen.path.as_str() {
            "/api/v1/certificates" => answer(200, "application/json", list.clone()),
            "/api/v1/puk-challenge" => answer(
                200,
                "application/json",
                r#"{"challenge":"c0ffee","expires":"2031-01-01T00:00:00Z"}"#,
            ),
            "/api/v1/puk-lookup" => {
                let v: serde_json::Value = serde_json::from_slice(&seen.body).unwrap();
                if v["reason"].as_str().unwrap_or("").is_empty() {
                    answer(
                        400,
                        "application/json",
                        r#"{"error":"reason_missing","message":"write why you need the PUK"}"#,
                    )
                } else {
                    answer(200, "application/json", r#"{"puk":"13572468"}"#)
                }
            }
            _ => answer(404, "application/json", "{}"),
        }),
    );
    let client = card.client(&server);
    let certs = client.certificates().unwrap();
    assert_eq!(certs.len(), 1, "the unknown profile is skipped");
    assert_eq!(certs[0].profile, Profile::HsaAuth);
    assert_eq!(certs[0].serial, "0a1b");
    assert_eq!(certs[0].der, auth);

    let customer_cert = b"the customer's certificate".to_vec();
    let customer = siths_upgrade::ca::client::CustomerCard {
        hsa_id: OTHER_HOLDER.hsa_id,
        certificate: &customer_cert,
        serial: "9752269000001002",
    };
    let puk = client
        .puk_lookup(&customer, "card holder called, PIN2 blocked")
        .unwrap();
    assert_eq!(puk.as_str(), "13572468");
    let seen = server.seen();
    // A challenge for that customer first, then the lookup that spends it with what the desk
    // read from the customer's card.
    let asked: serde_json::Value = serde_json::from_slice(&seen[1].body).unwrap();
    assert_eq!(seen[1].path, "/api/v1/puk-challenge");
    assert_eq!(asked["hsa_id"], OTHER_HOLDER.hsa_id);
    let sent: serde_json::Value = serde_json::from_slice(&seen[2].body).unwrap();
    assert_eq!(sent["hsa_id"], OTHER_HOLDER.hsa_id);
    assert_eq!(sent["challenge"], "c0ffee");
    assert_eq!(sent["card_serial"], "9752269000001002");
    assert_eq!(
        sent["customer_certificate"],
        base64::engine::general_purpose::STANDARD.encode(&customer_cert)
    );
    assert_eq!(seen[2].content_type.as_deref(), Some("application/json"));

    let err = client.puk_lookup(&customer, "").unwrap_err();
    assert_eq!(err.refusal_code(), Some(RefusalCode::ReasonMissing));
    assert!(!format!("{err:?}").contains("13572468"));
}

/// Key slot `n` (1-8) of the card.
fn key_slot(n: u8) -> siths_upgrade::card::KeySlot {
    siths_upgrade::card::KeySlot::new(n).expect("a slot 1-8")
}

// ---------------------------------------------------------------- the CA must agree with the card

#[test]
fn an_upgrade_stops_when_the_ca_takes_the_card_for_someone_else() {
    let card = TestCard::new();
    // A CA that says the caller is another person, and offers all four profiles.
    let other_me = me_json()
        .replace(HOLDER.hsa_id, OTHER_HOLDER.hsa_id)
        .replace(
            r#"{"label":"hsa-sign","identity":"hsa_id","purpose":"signature","trust_level":3}]"#,
            r#"{"label":"hsa-sign","identity":"hsa_id","purpose":"signature","trust_level":3},
   {"label":"pnr-auth","identity":"personnummer","purpose":"authentication","trust_level":3},
   {"label":"pnr-sign","identity":"personnummer","purpose":"signature","trust_level":3}]"#,
        );
    let server = TestServer::start(
        &card.ca_pem,
        &[&rustls::version::TLS13],
        Box::new(move |seen| match seen.path.as_str() {
            "/api/v1/me" => answer(200, "application/json", other_me.as_bytes()),
            _ => answer(
                500,
                "application/json",
                r#"{"error":"internal","message":"no"}"#,
            ),
        }),
    );
    let before = siths_upgrade::card::lock(&card.shared).overview().unwrap();
    let pin = SecretCode::pin("135790".into()).unwrap();
    let pin2 = SecretCode::pin("246802".into()).unwrap();
    let root = pki().root.cert_pem();
    let err = siths_upgrade::workflow::upgrade::upgrade(
        &card.shared,
        &siths_upgrade::workflow::upgrade::UpgradeRequest {
            ca_url: &server.url(),
            ca_root_pem: root.as_bytes(),
            pin1: &pin,
            pin2: &pin2,
        },
        &mut |_| {},
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            err,
            siths_upgrade::workflow::error::WorkflowError::CaTookAnother { .. }
        ),
        "{text}"
    );
    assert!(text.contains("nothing was changed"), "{text}");
    // Only /me was asked: no key made, no certificate asked for.
    let paths: Vec<String> = server.seen().iter().map(|s| s.path.clone()).collect();
    assert_eq!(paths, ["/api/v1/me"]);
    let after = siths_upgrade::card::lock(&card.shared).overview().unwrap();
    assert_eq!(after.keys, before.keys);
    assert_eq!(after.certificates.len(), before.certificates.len());
}

#[test]
fn fetch_existing_writes_only_what_passes_every_check_into_its_own_slot() {
    use siths_upgrade::workflow::fetch_existing::{FetchRequest, list};
    use siths_upgrade::workflow::fit::Fit;
    let card = TestCard::new();
    let pin = SecretCode::pin("135790".into()).unwrap();
    // A key in the HSA-id authentication profile's slot, as an interrupted upgrade leaves it.
    let new_key = {
        let mut c = siths_upgrade::card::lock(&card.shared);
        c.verify_pin(PinKind::Pin1, &pin).unwrap();
        c.generate_key(Profile::HsaAuth.slot()).unwrap()
    };
    let new_spki = new_key.to_spki_der().unwrap();
    // What a CA might list for the holder: a level 2 certificate for the new key, and a
    // certificate for the legacy key (slot 1) under the hsa-auth profile.
    let level2 = issue_at_level(
        &pki().hsa3,
        DEMO_HSA_ID,
        Purpose::Authentication,
        &new_spki,
        None,
        2,
    );
    let legacy_key = issue(
        &pki().hsa3,
        DEMO_HSA_ID,
        Purpose::Authentication,
        &card_spki(&card),
        None,
    );
    let b64 = |der: &[u8]| base64::engine::general_purpose::STANDARD.encode(der);
    let listing = format!(
        r#"{{"certificates":[{{"label":"hsa-auth","der_base64":"{}"}},{{"label":"hsa-auth","der_base64":"{}"}}]}}"#,
        b64(&level2),
        b64(&legacy_key)
    );
    let cacerts = pkcs7::certs_only_base64(&[pki().hsa3.cert_der()]).unwrap();
    let server = TestServer::start(
        &card.ca_pem,
        &[&rustls::version::TLS13],
        Box::new(move |seen| match seen.path.as_str() {
            "/api/v1/me" => answer(200, "application/json", me_json()),
            "/api/v1/certificates" => answer(200, "application/json", listing.as_bytes()),
            "/.well-known/est/hsa-auth/cacerts" => {
                answer(200, "application/pkcs7-mime", cacerts.as_bytes())
            }
            _ => answer(
                404,
                "application/json",
                r#"{"error":"not_found","message":"no"}"#,
            ),
        }),
    );
    let root = pki().root.cert_pem();
    let found = list(
        &card.shared,
        &FetchRequest {
            ca_url: &server.url(),
            ca_root_pem: root.as_bytes(),
            pin1: &pin,
        },
    )
    .unwrap();
    let fits: Vec<&Fit> = found.iter().map(|e| &e.fit).collect();
    assert!(
        matches!(
            fits.as_slice(),
            [
                Fit::FailsChecks(CertCheckError::WrongTrustLevel { .. }),
                Fit::WrongSlot(slot)
            ] if slot.number() == 1
        ),
        "{fits:?}"
    );
    assert!(
        found
            .iter()
            .all(|e| e.fit.explain().contains("cannot go onto this card"))
    );
}

// ---------------------------------------------------------------- kept-alive connections

/// A kept-alive HTTPS server that answers the first request on each connection and keeps the
/// connection open, then reads the next request and closes the connection without answering:
/// what a client sees when the server closes an idle connection just as a request goes out.
/// It keeps no TLS sessions, so every connection is a full handshake the card signs.
struct ClosingServer {
    port: u16,
    connections: Arc<std::sync::atomic::AtomicUsize>,
    seen: Arc<Mutex<Vec<(String, bool)>>>,
}

impl ClosingServer {
    fn start(client_roots_pem: &[u8], handler: Handler) -> ClosingServer {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(client_roots_pem) {
            roots.add(cert.unwrap()).unwrap();
        }
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki().server_key.clone()));
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![CertificateDer::from(pki().server_cert.clone())], key)
            .unwrap();
        config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (count, log) = (connections.clone(), seen.clone());
        std::thread::spawn(move || {
            for tcp in listener.incoming() {
                let Ok(tcp) = tcp else { continue };
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = tcp.set_read_timeout(Some(Duration::from_secs(20)));
                let Ok(conn) = ServerConnection::new(config.clone()) else {
                    continue;
                };
                let mut tls = StreamOwned::new(conn, tcp);
                let Ok(first) = read_request(&mut tls) else {
                    continue;
                };
                log.lock().unwrap().push((first.path.clone(), true));
                let a = handler(&first);
                let mut out = format!(
                    "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n",
                    a.status,
                    a.content_type,
                    a.body.len()
                )
                .into_bytes();
                out.extend_from_slice(&a.body);
                if tls.write_all(&out).and_then(|()| tls.flush()).is_err() {
                    continue;
                }
                if let Ok(next) = read_request(&mut tls) {
                    log.lock().unwrap().push((next.path, false));
                }
                // Closed cleanly, with no answer to the second request.
                tls.conn.send_close_notify();
                let _ = tls.flush();
                let _ = tls.sock.shutdown(std::net::Shutdown::Both);
            }
        });
        ClosingServer {
            port,
            connections,
            seen,
        }
    }

    fn url(&self) -> String {
        format!("https://localhost:{}", self.port)
    }

    fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Each request's path, and whether it was answered.
    fn seen(&self) -> Vec<(String, bool)> {
        self.seen.lock().unwrap().clone()
    }
}

/// Read one request (head and body) from a kept-alive connection.
fn read_request(tls: &mut StreamOwned<ServerConnection, TcpStream>) -> Result<Seen, String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match tls.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            Ok(_) => return Err("closed before a request".into()),
            Err(e) => return Err(e.to_string()),
        }
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let mut request_line = head.lines().next().unwrap_or("").split(' ');
    let method = request_line.next().unwrap_or("").to_string();
    let path = request_line.next().unwrap_or("").to_string();
    let length = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    tls.read_exact(&mut body).map_err(|e| e.to_string())?;
    Ok(Seen {
        method,
        path,
        content_type: None,
        body,
        client_cert: None,
        version: tls.conn.protocol_version(),
    })
}

#[test]
fn a_request_the_server_closes_on_is_sent_again_if_safe_with_a_new_handshake() {
    let card = TestCard::new();
    let issued = issue(
        &pki().hsa3,
        DEMO_HSA_ID,
        Purpose::Authentication,
        &card_spki(&card),
        None,
    );
    let hsa3 = pki().hsa3.cert_der().to_vec();
    let server = ClosingServer::start(
        &card.ca_pem,
        Box::new(
            move |seen| match (seen.method.as_str(), seen.path.as_str()) {
                ("GET", "/api/v1/me") => answer(200, "application/json", me_json()),
                ("POST", "/.well-known/est/hsa-auth/simpleenroll") => answer(
                    200,
                    "application/pkcs7-mime",
                    pkcs7::certs_only_base64(&[&hsa3, &issued]).unwrap(),
                ),
                ("POST", "/api/v1/puk-challenge") => {
                    answer(200, "application/json", r#"{"challenge":"c0ffee"}"#)
                }
                _ => answer(200, "application/json", r#"{"puk":"00000000"}"#),
            },
        ),
    );
    // PIN1 once, as the upgrade does; every handshake after that is signed without it.
    card.verify_pin1();
    let client = CaClient::new(
        &server.url(),
        pki().root.cert_pem().as_bytes(),
        card.shared.clone(),
        AUTH_SLOT,
        card.auth_cert.clone(),
    )
    .unwrap();
    assert_eq!(client.me().unwrap().hsa_id, DEMO_HSA_ID);
    // The kept-alive connection is closed under the second request: sent again, answered.
    assert_eq!(client.me().unwrap().hsa_id, DEMO_HSA_ID);
    // An enrolment too (the same CSR for the same key).
    let csr = card_csr(&card.shared, AUTH_SLOT, &card.public).unwrap();
    assert!(client.enroll(Profile::HsaAuth, &csr).is_ok());
    assert_eq!(
        server.seen(),
        [
            ("/api/v1/me".to_string(), true),
            ("/api/v1/me".to_string(), false),
            ("/api/v1/me".to_string(), true),
            ("/.well-known/est/hsa-auth/simpleenroll".to_string(), false),
            ("/.well-known/est/hsa-auth/simpleenroll".to_string(), true),
        ]
    );
    assert_eq!(server.connections(), 3);
    assert_eq!(
        client.handshakes().pss_signatures,
        3,
        "a card signature each"
    );

    // A PUK lookup is never sent twice: the operator decides. (Its challenge may be asked for
    // again: an unspent challenge expires.)
    let customer = siths_upgrade::ca::client::CustomerCard {
        hsa_id: OTHER_HOLDER.hsa_id,
        certificate: b"the customer's certificate",
        serial: "9752269000001002",
    };
    let err = client.puk_lookup(&customer, "ärende 4711").unwrap_err();
    assert!(matches!(err, CaError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("try again"), "{err}");
    assert_eq!(
        server.seen().last(),
        Some(&("/api/v1/puk-lookup".to_string(), false))
    );
    // One new connection: the challenge's, sent again after its connection closed under it;
    // none for the lookup.
    assert_eq!(server.connections(), 4);
}
