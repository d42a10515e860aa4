//! The CA client: EST enrolment and the small JSON API (docs/ca-api.md "Endpoints"), over
//! mutual TLS signed by the card.
//!
//! Every failure is a [`CaError`] that says whether the card was touched and what to do next, so
//! the upgrade workflow can stop cleanly at any request and be resumed later. What is sent and
//! read is [`super::contract`]'s; the bodies the workflows and screens read are named here too,
//! beside the client that fetches them.

use std::io::Read;
use std::time::Duration;

use base64::Engine as _;
use reqwest::blocking::{Client, RequestBuilder};
use reqwest::header::CONTENT_TYPE;
use zeroize::Zeroizing;

use crate::pki::CertInfo;

use super::contract::{self as api, Anchor, AnchorList, LogList};
pub use super::contract::{Me, ProfileOffer, Refusal};
pub use super::error::CaError;
use super::pkcs7;
use super::profile::Profile;
use super::refusal_code::RefusalCode;
use super::roots::Roots;
use super::tls::{HandshakeLog, HandshakeRecord, card_client_config};

/// Time to reach the CA, including the TLS handshake (where the card signs).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time for a whole request; an enrolment is one signature on the CA's side.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest answer read from the CA: a few certificates, never more.
const MAX_ANSWER_BYTES: u64 = 1 << 20;
/// How long an idle connection stays in the pool for the next request. Shorter than the
/// keep-alive timeouts servers commonly use (Apache httpd and Node.js close after 5 s, nginx
/// after 75 s), so the client gives up a connection before the server does, rather than
/// sending a request into one the server is closing at that moment. At a real card's pace the
/// connection idles for seconds while the card makes a key (issue 14); the next request then
/// opens a new connection, which a TLS session resumption makes cheap and which otherwise
/// costs one card signature (PIN1 stays verified on the card, so the holder is not asked
/// again).
pub const POOL_IDLE: Duration = Duration::from_secs(4);

/// A certificate the CA already issued to the caller (for resuming and "fetch existing").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCert {
    pub profile: Profile,
    pub serial: String,
    pub not_after: String,
    pub der: Vec<u8>,
}

/// What the desk read from the customer's card in its reader: the CA gives a PUK only with it.
#[derive(Debug, Clone, Copy)]
pub struct CustomerCard<'a> {
    pub hsa_id: &'a str,
    /// The card's HSA-id authentication certificate (DER).
    pub certificate: &'a [u8],
    /// The serial the card reports.
    pub serial: &'a str,
}

/// A client of one CA, logged in with one card.
pub struct CaClient {
    base_url: String,
    http: Client,
    log: HandshakeLog,
    roots: Roots,
}

impl std::fmt::Debug for CaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaClient")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl CaClient {
    /// A client for `base_url` (`https://host:port`) that trusts `server_roots_pem` and logs in
    /// with `auth_cert_der` and the card key in `auth_slot`. Nothing is sent until the first
    /// request; PIN1 must be verified on the card before then.
    pub fn new(
        base_url: &str,
        server_roots_pem: &[u8],
        card: crate::card::SharedCard,
        auth_slot: crate::card::KeySlot,
        auth_cert_der: Vec<u8>,
    ) -> Result<CaClient, CaError> {
        let url = reqwest::Url::parse(base_url.trim()).map_err(|e| {
            CaError::Config(format!(
                "`{base_url}` is not a URL ({e}); give the CA address as https://host:port"
            ))
        })?;
        if url.scheme() != "https" {
            return Err(CaError::Config(format!(
                "`{base_url}` is not an https:// address; the CA is only reached over HTTPS"
            )));
        }
        if CertInfo::from_der(&auth_cert_der).is_err() {
            return Err(CaError::Config(
                "the card's login certificate cannot be read; check the card with `siths-upgrade \
                 status`"
                    .into(),
            ));
        }
        let log = HandshakeLog::default();
        let roots = Roots::read(server_roots_pem)?;
        let tls = card_client_config(&roots, card, auth_slot, auth_cert_der, log.clone())?;
        let http = Client::builder()
            .tls_backend_preconfigured(tls)
            .https_only(true)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .pool_idle_timeout(POOL_IDLE)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| CaError::Config(format!("HTTP client: {e}")))?;
        Ok(CaClient {
            base_url: url.as_str().trim_end_matches('/').to_string(),
            http,
            log,
            roots,
        })
    }

    /// What the card did in TLS handshakes so far (signatures per scheme).
    pub fn handshakes(&self) -> HandshakeRecord {
        self.log.snapshot()
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The roots this client's TLS trusts, for checking what the CA sends against the same
    /// ones without reading the root file again.
    pub fn roots(&self) -> &Roots {
        &self.roots
    }

    /// Who the CA takes the card holder to be, and which profiles they will get.
    pub fn me(&self) -> Result<Me, CaError> {
        let body = self.send(self.http.get(self.url(api::ME)), Repeat::Safe)?;
        json(&body)
    }

    /// The certificates the CA has issued to the card holder (any card).
    pub fn certificates(&self) -> Result<Vec<IssuedCert>, CaError> {
        let body = self.send(self.http.get(self.url(api::CERTIFICATES)), Repeat::Safe)?;
        let answer: api::Certificates = json(&body)?;
        let mut out = Vec::new();
        for entry in answer.certificates {
            let Some(profile) = Profile::from_label(&entry.label) else {
                log::warn!(
                    "the CA listed a certificate for unknown profile `{}`; skipped",
                    entry.label
                );
                continue;
            };
            let der = base64::engine::general_purpose::STANDARD
                .decode(entry.der_base64.trim())
                .map_err(|e| CaError::Malformed(format!("certificate of {}: {e}", entry.label)))?;
            out.push(IssuedCert {
                profile,
                serial: entry.serial,
                not_after: entry.not_after,
                der,
            });
        }
        Ok(out)
    }

    /// The CA certificates of a profile (its issuing CA and the root), DER.
    pub fn cacerts(&self, profile: Profile) -> Result<Vec<Vec<u8>>, CaError> {
        let url = self.url(&api::est_path(Some(profile), api::CACERTS));
        let body = self.send(self.http.get(url), Repeat::Safe)?;
        let certs =
            pkcs7::parse_certs_only_base64(&body).map_err(|e| CaError::Malformed(e.to_string()))?;
        if certs.is_empty() {
            return Err(CaError::Malformed(format!(
                "no CA certificates for {}",
                profile.label()
            )));
        }
        Ok(certs)
    }

    /// Every CA certificate of the CA (EST `cacerts` without a label: the default CA's set),
    /// e.g. to check that a customer's certificate chains to the configured root.
    pub fn all_cacerts(&self) -> Result<Vec<Vec<u8>>, CaError> {
        let body = self.send(
            self.http.get(self.url(&api::est_path(None, api::CACERTS))),
            Repeat::Safe,
        )?;
        pkcs7::parse_certs_only_base64(&body).map_err(|e| CaError::Malformed(e.to_string()))
    }

    /// Enrol `csr_der` (PKCS#10, signed by the card) for `profile`; returns the issued
    /// certificate, not yet checked (see [`super::check::check_issued`]).
    pub fn enroll(&self, profile: Profile, csr_der: &[u8]) -> Result<Vec<u8>, CaError> {
        self.est_enroll(profile, api::SIMPLEENROLL, csr_der)
    }

    /// Renew (EST `simplereenroll`, RFC 7030 4.2.2): `csr_der` carries the new key; the CA
    /// knows which certificate is renewed from the one this client logged in with.
    pub fn reenroll(&self, profile: Profile, csr_der: &[u8]) -> Result<Vec<u8>, CaError> {
        self.est_enroll(profile, api::SIMPLEREENROLL, csr_der)
    }

    fn est_enroll(
        &self,
        profile: Profile,
        operation: &str,
        csr_der: &[u8],
    ) -> Result<Vec<u8>, CaError> {
        let url = self.url(&api::est_path(Some(profile), operation));
        let body = base64::engine::general_purpose::STANDARD.encode(csr_der);
        let request = self
            .http
            .post(url)
            .header(CONTENT_TYPE, api::PKCS10)
            .header("Content-Transfer-Encoding", "base64")
            .body(body);
        // Safe to repeat: see [`Repeat::Safe`].
        let answer = self.send(request, Repeat::Safe)?;
        let certs = pkcs7::parse_certs_only_base64(&answer)
            .map_err(|e| CaError::Malformed(e.to_string()))?;
        one_end_entity(certs)
    }

    /// Service centre: the PUK of the customer's card in the desk's reader. A fresh challenge
    /// of the CA is asked for first and spent by the lookup, which carries what the desk read
    /// from the customer's card; the CA logs who asked, for whom and why. The caller's card
    /// must be an operator's.
    pub fn puk_lookup(
        &self,
        customer: &CustomerCard<'_>,
        reason: &str,
    ) -> Result<Zeroizing<String>, CaError> {
        let ask = serde_json::to_vec(&api::ChallengeRequest {
            hsa_id: customer.hsa_id.to_string(),
        })
        .map_err(|e| CaError::Config(e.to_string()))?;
        let body = self.send(
            self.http
                .post(self.url(api::PUK_CHALLENGE))
                .header(CONTENT_TYPE, api::JSON)
                .body(ask),
            // A challenge nobody spends expires: asking again is harmless.
            Repeat::Safe,
        )?;
        let challenge: api::Challenge = json(&body)?;
        let request = serde_json::to_vec(&api::PukLookup {
            hsa_id: customer.hsa_id.to_string(),
            reason: Some(reason.to_string()),
            challenge: Some(challenge.challenge),
            customer_certificate: Some(
                base64::engine::general_purpose::STANDARD.encode(customer.certificate),
            ),
            card_serial: Some(customer.serial.to_string()),
        })
        .map_err(|e| CaError::Config(e.to_string()))?;
        let body = self.send(
            self.http
                .post(self.url(api::PUK_LOOKUP))
                .header(CONTENT_TYPE, api::JSON)
                .body(request),
            Repeat::Never,
        )?;
        let mut answer: api::PukAnswer = serde_json::from_slice(&body)
            .map_err(|_| CaError::Malformed("the PUK answer is not the expected JSON".into()))?;
        Ok(Zeroizing::new(std::mem::take(&mut answer.puk)))
    }

    /// Anchor one desk audit entry at the CA (the caller's card must be an operator's).
    pub fn send_anchor(&self, anchor: &Anchor) -> Result<(), CaError> {
        let body = serde_json::to_vec(anchor).map_err(|e| CaError::Config(e.to_string()))?;
        self.send(
            self.http
                .post(self.url(api::AUDIT_ANCHOR))
                .header(CONTENT_TYPE, api::JSON)
                .body(body),
            Repeat::Safe,
        )?;
        Ok(())
    }

    /// The anchors the CA holds for the audit log `log` (the caller must be an operator).
    pub fn audit_anchors(&self, log: &str) -> Result<AnchorList, CaError> {
        if !query_safe(log) {
            return Err(CaError::Config(format!(
                "{log:?} is not an audit log's id (its first entry's hash)"
            )));
        }
        let url = self.url(&format!("{}?{}={log}", api::AUDIT_ANCHORS, api::LOG_QUERY));
        let body = self.send(self.http.get(url), Repeat::Safe)?;
        let list: AnchorList = json(&body)?;
        if list.log != log {
            return Err(CaError::Malformed(format!(
                "the CA answered for another log ({})",
                list.log
            )));
        }
        Ok(list)
    }

    /// Every audit log the CA holds for `operator` (HSA-id).
    pub fn audit_logs(&self, operator: &str) -> Result<LogList, CaError> {
        if !query_safe(operator) {
            return Err(CaError::Config(format!(
                "{operator:?} is not an HSA-id; the log names its operator wrongly"
            )));
        }
        let url = self.url(&format!(
            "{}?{}={operator}",
            api::AUDIT_LOGS,
            api::OPERATOR_QUERY
        ));
        let body = self.send(self.http.get(url), Repeat::Safe)?;
        let list: LogList = json(&body)?;
        if list.operator != operator {
            return Err(CaError::Malformed(format!(
                "the CA answered for another operator ({})",
                list.operator
            )));
        }
        Ok(list)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Send, map transport failures, and turn non-2xx answers into [`CaError::Refused`]. A
    /// request that may be repeated is sent once more, on a new connection, when its
    /// connection broke before any answer came (see [`connection_lost`]).
    fn send(&self, request: RequestBuilder, repeat: Repeat) -> Result<Zeroizing<Vec<u8>>, CaError> {
        // A card error from an earlier handshake must not be blamed on this one.
        self.log.take_error();
        let again = match repeat {
            Repeat::Safe => request.try_clone(),
            Repeat::Never => None,
        };
        let response = match request.send() {
            Ok(response) => response,
            Err(e) => match again {
                // A card that would not sign a new handshake is not a lost connection.
                Some(again) if connection_lost(&e) && self.log.snapshot().last_error.is_none() => {
                    log::info!(
                        "the CA's connection closed before it answered ({}); sending the \
                         request once more on a new connection",
                        describe(&e)
                    );
                    again.send().map_err(|e| self.transport_error(&e))?
                }
                _ => return Err(self.transport_error(&e)),
            },
        };
        let status = response.status();
        // Reserved up front so that small answers (a PUK) are never copied by a reallocation
        // that would leave an unzeroized copy behind.
        let mut body = Zeroizing::new(Vec::with_capacity(16 * 1024));
        if let Err(e) = response.take(MAX_ANSWER_BYTES).read_to_end(&mut body) {
            // reqwest's blocking reader wraps its own errors in io::Error.
            return Err(
                match e.get_ref().and_then(|i| i.downcast_ref::<reqwest::Error>()) {
                    Some(re) => self.transport_error(re),
                    None => CaError::Malformed(format!("the answer was cut short: {e}")),
                },
            );
        }
        if status.is_success() {
            return Ok(body);
        }
        Err(refusal(status.as_u16(), &body))
    }

    fn transport_error(&self, e: &reqwest::Error) -> CaError {
        if let Some(card) = self.log.take_error() {
            return CaError::from_card(card);
        }
        if let Some(tls) = find_rustls_error(e) {
            return classify_tls(tls);
        }
        let detail = describe(e);
        if e.is_timeout() {
            return CaError::Unreachable {
                url: self.base_url.clone(),
                detail: format!("no answer in time: {detail}"),
            };
        }
        if e.is_connect() || e.is_request() {
            return CaError::Unreachable {
                url: self.base_url.clone(),
                detail,
            };
        }
        if e.is_body() || e.is_decode() {
            return CaError::Malformed(detail);
        }
        CaError::Unreachable {
            url: self.base_url.clone(),
            detail,
        }
    }
}

/// Whether a request may be sent a second time after its connection broke without an answer.
///
/// Such a break is what a kept-alive connection gives when the server closes it just as the
/// request goes out (hyper: "connection closed before message completed"), and hyper's own
/// retry covers only requests not yet written. The server may also have crashed after acting,
/// so only requests whose repetition does no harm are repeated, once:
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeat {
    /// GETs (`me`, `certificates`, `cacerts`: HTTP makes them idempotent); an EST enrolment
    /// (the same CSR for the same card key: a CA that already acted answers with the
    /// certificate it issued for that key, as ours does, or at worst issues a second one for
    /// the same key and identity, which nothing writes to the card; one that refuses a
    /// duplicate gives a typed refusal, and a resumed upgrade fetches what was issued for the
    /// key); an audit anchor (the CA keeps the first hash per entry, so the same anchor again
    /// changes nothing).
    Safe,
    /// A PUK lookup: each is logged and counted against the operator's hourly limit, so the
    /// operator decides whether to ask again.
    Never,
}

/// The connection ended before any answer: closed before the answer (hyper's incomplete
/// message), a request cancelled with its connection, or reset or cut by the peer. Not a
/// timeout (the CA may still be working on it), not a failed connect or TLS handshake (a new
/// connection would fail the same way), and not an error in an answer that arrived.
fn connection_lost(e: &reqwest::Error) -> bool {
    if e.is_timeout() || e.is_connect() || e.is_status() || e.is_decode() {
        return false;
    }
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    for _ in 0..16 {
        let Some(err) = current else { break };
        if let Some(h) = err.downcast_ref::<hyper::Error>() {
            if h.is_incomplete_message() || h.is_canceled() {
                return true;
            }
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            if matches!(
                io.kind(),
                K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof
            ) {
                return true;
            }
            // io::Error::source skips the error it wraps.
            if let Some(inner) = io.get_ref() {
                current = Some(inner as &(dyn std::error::Error + 'static));
                continue;
            }
        }
        current = err.source();
    }
    false
}

/// Letters, digits and `-`, as HSA-ids and hashes are: safe in a query without escaping.
fn query_safe(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, CaError> {
    serde_json::from_slice(body).map_err(|e| CaError::Malformed(format!("JSON: {e}")))
}

fn refusal(status: u16, body: &[u8]) -> CaError {
    match serde_json::from_slice::<Refusal>(body) {
        Ok(r) => CaError::Refused {
            status,
            code: r.error,
            message: if r.message.is_empty() {
                "no reason given; contact the service centre".into()
            } else {
                r.message
            },
        },
        Err(_) => {
            let text: String = String::from_utf8_lossy(body)
                .chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect();
            CaError::Refused {
                status,
                code: RefusalCode::Unknown,
                message: if text.trim().is_empty() {
                    "the CA gave no reason; check the CA address, then contact the service centre"
                        .into()
                } else {
                    text
                },
            }
        }
    }
}

/// The issued certificate of an EST answer, which may also carry its CA certificates.
fn one_end_entity(certs: Vec<Vec<u8>>) -> Result<Vec<u8>, CaError> {
    let mut leaves: Vec<Vec<u8>> = certs
        .into_iter()
        .filter(|der| CertInfo::from_der(der).map_or(true, |i| !i.is_ca))
        .collect();
    match leaves.len() {
        1 => Ok(leaves.remove(0)),
        0 => Err(CaError::Malformed(
            "the enrolment answer holds no certificate for the card".into(),
        )),
        n => Err(CaError::Malformed(format!(
            "the enrolment answer holds {n} certificates instead of one"
        ))),
    }
}

/// The rustls error behind a reqwest error. `io::Error::source` skips the error it wraps, so
/// each io::Error is opened with `get_ref`.
fn find_rustls_error(e: &reqwest::Error) -> Option<rustls::Error> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut depth = 0;
    while let Some(err) = current {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls.clone());
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if let Some(inner) = io.get_ref() {
                if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                    return Some(tls.clone());
                }
                current = Some(inner as &(dyn std::error::Error + 'static));
                depth += 1;
                if depth > 16 {
                    break;
                }
                continue;
            }
        }
        current = err.source();
        depth += 1;
        if depth > 16 {
            break;
        }
    }
    None
}

fn classify_tls(e: rustls::Error) -> CaError {
    use rustls::AlertDescription as A;
    match &e {
        rustls::Error::InvalidCertificate(c) => CaError::ServerNotTrusted(format!("{c:?}")),
        rustls::Error::AlertReceived(
            A::BadCertificate
            | A::UnknownCA
            | A::CertificateRequired
            | A::CertificateUnknown
            | A::CertificateExpired
            | A::CertificateRevoked
            | A::UnsupportedCertificate
            | A::AccessDenied,
        ) => CaError::ClientCertRefused(e.to_string()),
        _ => CaError::Tls(e.to_string()),
    }
}

/// The error and its causes in one line, e.g. "error sending request: Connection refused".
fn describe(e: &reqwest::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut current = std::error::Error::source(e);
    while let Some(err) = current {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = err.source();
        if parts.len() > 8 {
            break;
        }
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_keep_the_code_and_message() {
        let e = refusal(
            403,
            br#"{"error":"deadline_passed","message":"the upgrade deadline has passed; contact the service centre"}"#,
        );
        assert_eq!(e.refusal_code(), Some(RefusalCode::DeadlinePassed));
        assert!(e.to_string().contains("deadline has passed"), "{e}");
        let e = refusal(502, b"<html>Bad gateway</html>");
        assert_eq!(e.refusal_code(), Some(RefusalCode::Unknown));
        let e = refusal(500, b"");
        assert!(e.to_string().contains("gave no reason"), "{e}");
    }

    #[test]
    fn me_parses_the_contract_shape() {
        let me: Me = serde_json::from_str(
            r#"{"hsa_id":"TST5565594230-1001","personnummer":"191212121212","name":"Karin Åström",
                "organisation":"Testregionen","county":"Västra Götalands län","upn":null,
                "upgrade_allowed":true,"refusal":null,"deadline":"2027-06-30",
                "profiles":[{"label":"hsa-auth","identity":"hsa_id","purpose":"authentication","trust_level":3},
                            {"label":"later","identity":"x","purpose":"y","trust_level":1}]}"#,
        )
        .unwrap();
        assert!(me.upgrade_allowed);
        assert_eq!(me.profiles[0].profile(), Some(Profile::HsaAuth));
        assert_eq!(me.profiles[1].profile(), None);
        assert!(json::<Me>(b"{}").is_err());
    }
}
