//! What the CA mock answers, independent of HTTP and TLS: EST `cacerts`, `csrattrs`,
//! `simpleenroll` and `simplereenroll` per profile label, and the JSON API (`me`,
//! `certificates`, `puk-lookup`, `audit-anchor`, `audit-anchors`); the contract is
//! docs/ca-api.md. The server hands each request here with the client certificate TLS already
//! verified against DIR's CAs.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::MockError;
use super::csr;
use super::dir::{CaName, MockDir, parse_date};
use super::persons::{Directory, Person};
use super::refusal::Refusal;
use super::store::Store;
use crate::audit::anchor;
use crate::ca::RefusalCode;
use crate::ca::{IdentityKind, Profile, pkcs7};
use crate::pki::cert::{KeyUsageBit, OID_EKU_CLIENT_AUTH};
use crate::pki::{CertInfo, Date, TestCa};

/// Why a certificate is enrolled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EnrolFor {
    /// `simpleenroll`: the upgrade's new pairs.
    Upgrade,
    /// `simplereenroll`: a pair the caller holds, renewed.
    Renewal,
}

/// How many PUK lookups one operator may make in a window of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub max: u32,
    pub window: Duration,
}

impl Default for RateLimit {
    /// Ten an hour: a desk helps a holder every few minutes at most; a stolen operator card
    /// used to harvest PUKs is slowed to a trickle and shows in the lookup log.
    fn default() -> RateLimit {
        RateLimit {
            max: 10,
            window: Duration::from_secs(3600),
        }
    }
}

/// A request as the CA sees it.
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// DER of the client's leaf certificate, already verified by TLS.
    pub client_cert: Option<&'a [u8]>,
    /// The request's Content-Type, if it had one.
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
}

/// An answer: status, content type and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Reply {
    fn json<T: Serialize>(value: &T) -> Reply {
        match serde_json::to_vec(value) {
            Ok(body) => Reply {
                status: 200,
                content_type: "application/json",
                body,
            },
            Err(e) => Reply::from(Refusal::new(500, RefusalCode::Internal, e.to_string())),
        }
    }
}

impl From<Refusal> for Reply {
    fn from(r: Refusal) -> Reply {
        Reply {
            status: r.status,
            content_type: "application/json",
            body: r.body(),
        }
    }
}

/// Everything the CA needs while serving, loaded once from DIR.
/// The content type of an EST enrolment answer (RFC 7030 §4.2.3).
const EST_CERTS_CONTENT_TYPE: &str = "application/pkcs7-mime; smime-type=certs-only";

pub struct Ca {
    pub(crate) dir: MockDir,
    persons: Directory,
    deadline: String,
    root_der: Vec<u8>,
    hsa3: TestCa,
    pnr3: TestCa,
    pub(crate) store: Store,
    puk_log: Mutex<PathBuf>,
    /// The CAs whose certificates may log in: DIR's person CAs (the root issues only CAs and
    /// the server's certificate).
    login_cas: Vec<CertInfo>,
    puk_rate: RateLimit,
    /// When each operator's recent lookups were made, oldest first.
    lookups: Mutex<HashMap<String, VecDeque<Instant>>>,
    /// Fault injection for tests: answer enrolments with a certificate for another key, as a
    /// broken or hostile CA might, without storing it.
    pub(crate) misissue: std::sync::atomic::AtomicBool,
}

impl Ca {
    pub fn load(dir: &MockDir) -> Result<Ca, MockError> {
        let config = dir.config()?;
        let login_cas = CaName::ISSUING
            .into_iter()
            .map(|ca| {
                CertInfo::from_der(&dir.ca_cert_der(ca)?)
                    .map_err(|e| MockError::Pki(dir.ca_pem(ca), e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Ca {
            login_cas,
            puk_rate: RateLimit::default(),
            lookups: Mutex::new(HashMap::new()),
            persons: dir.persons()?,
            deadline: config.deadline.clone(),
            root_der: dir.ca_cert_der(CaName::Root)?,
            hsa3: dir.load_ca(CaName::Hsa3)?,
            pnr3: dir.load_ca(CaName::Pnr3)?,
            store: Store::open(&dir.store())?,
            puk_log: Mutex::new(dir.puk_log()),
            misissue: std::sync::atomic::AtomicBool::new(false),
            dir: dir.clone(),
        })
    }

    /// Replace the PUK lookup limit (before serving).
    pub fn set_puk_rate(&mut self, rate: RateLimit) {
        self.puk_rate = rate;
    }

    fn issuer(&self, profile: Profile) -> &TestCa {
        match profile.identity() {
            IdentityKind::HsaId => &self.hsa3,
            IdentityKind::Personnummer => &self.pnr3,
        }
    }

    /// Answer one request; never panics on what the client sent.
    pub fn handle(&self, req: &Request<'_>) -> Reply {
        let path = req.path.split('?').next().unwrap_or("");
        let result = if let Some(rest) = path.strip_prefix("/.well-known/est/") {
            self.est(req, rest)
        } else {
            match (req.method, path) {
                ("GET", "/api/v1/me") => self.me(req),
                ("GET", "/api/v1/certificates") => self.certificates(req),
                ("POST", "/api/v1/puk-lookup") => self.puk_lookup(req),
                ("POST", anchor::POST_PATH) => self.add_anchor(req),
                ("GET", anchor::GET_PATH) => self.anchors(req),
                (
                    _,
                    "/api/v1/me"
                    | "/api/v1/certificates"
                    | "/api/v1/puk-lookup"
                    | anchor::POST_PATH
                    | anchor::GET_PATH,
                ) => Err(method_not_allowed()),
                _ => Err(Refusal::new(
                    404,
                    RefusalCode::NotFound,
                    "no such address; the CA serves /.well-known/est/<profile>/ and /api/v1/",
                )),
            }
        };
        result.unwrap_or_else(Reply::from)
    }

    fn est(&self, req: &Request<'_>, rest: &str) -> Result<Reply, Refusal> {
        // No label: the default CA (RFC 7030 3.2.2), whose cacerts are all of this CA's.
        if rest == "cacerts" {
            return match req.method {
                "GET" => self.all_cacerts(),
                _ => Err(method_not_allowed()),
            };
        }
        let (label, op) = rest.split_once('/').unwrap_or((rest, ""));
        let profile = Profile::from_label(label).ok_or_else(|| Refusal::unknown_profile(label))?;
        match (req.method, op) {
            ("GET", "cacerts") => {
                let issuing = self.issuer(profile).cert_der();
                let body = pkcs7::certs_only_base64(&[issuing, &self.root_der])
                    .map_err(|e| Refusal::new(500, RefusalCode::Internal, e.to_string()))?;
                Ok(Reply {
                    status: 200,
                    content_type: "application/pkcs7-mime",
                    body: body.into_bytes(),
                })
            }
            ("POST", "simpleenroll") => {
                Self::pkcs10_body(req)?;
                self.enroll(req, profile, EnrolFor::Upgrade)
            }
            ("POST", "simplereenroll") => {
                Self::pkcs10_body(req)?;
                self.reenroll(req, profile)
            }
            ("GET", "csrattrs") => Ok(Reply {
                status: 200,
                content_type: "application/csrattrs",
                body: Self::csr_attributes_base64().into_bytes(),
            }),
            (_, "cacerts" | "simpleenroll" | "simplereenroll" | "csrattrs") => {
                Err(method_not_allowed())
            }
            _ => Err(Refusal::new(
                404,
                RefusalCode::NotFound,
                "this CA offers cacerts, csrattrs, simpleenroll and simplereenroll for each \
                 profile, and cacerts without a profile",
            )),
        }
    }

    /// The root and every issuing CA, the legacy one included: what a client needs to check
    /// any certificate this CA stands behind.
    fn all_cacerts(&self) -> Result<Reply, Refusal> {
        let mut certs: Vec<&[u8]> = self.login_cas.iter().map(|c| c.der.as_slice()).collect();
        certs.push(&self.root_der);
        let body = pkcs7::certs_only_base64(&certs)
            .map_err(|e| Refusal::new(500, RefusalCode::Internal, e.to_string()))?;
        Ok(Reply {
            status: 200,
            content_type: "application/pkcs7-mime",
            body: body.into_bytes(),
        })
    }

    /// RFC 7030 4.2.1: a CSR is sent as `application/pkcs10` (base64 DER); anything else is 415.
    fn pkcs10_body(req: &Request<'_>) -> Result<(), Refusal> {
        let media = req
            .content_type
            .and_then(|t| t.split(';').next())
            .map(|t| t.trim().to_ascii_lowercase());
        if media.as_deref() == Some("application/pkcs10") {
            return Ok(());
        }
        Err(Refusal::new(
            415,
            RefusalCode::UnsupportedMediaType,
            "send the certificate request as application/pkcs10 (base64 of the DER)",
        ))
    }

    /// RFC 7030 4.5.2: what this CA wants in a request. An RSA key of 2048 bits (RFC 9908's
    /// `rsaEncryption` attribute with the size), signed with SHA-256, and the subject attributes it
    /// fills in itself from its directory: serialNumber, givenName, surname, commonName,
    /// organisation, locality and country.
    pub fn csr_attributes_base64() -> String {
        use base64::Engine as _;
        let der = yasna::construct_der(|w| {
            w.write_sequence(|w| {
                // sha256WithRSAEncryption
                w.next()
                    .write_oid(&yasna::models::ObjectIdentifier::from_slice(&[
                        1, 2, 840, 113549, 1, 1, 11,
                    ]));
                // Attribute { rsaEncryption, { 2048 } }
                w.next().write_sequence(|w| {
                    w.next()
                        .write_oid(&yasna::models::ObjectIdentifier::from_slice(&[
                            1, 2, 840, 113549, 1, 1, 1,
                        ]));
                    w.next().write_set(|w| w.next().write_u32(2048));
                });
                for attribute in [5u64, 42, 4, 3, 10, 7, 6] {
                    w.next()
                        .write_oid(&yasna::models::ObjectIdentifier::from_slice(&[
                            2, 5, 4, attribute,
                        ]));
                }
            })
        });
        base64::engine::general_purpose::STANDARD.encode(der)
    }

    /// The person the client certificate names.
    fn caller(&self, req: &Request<'_>) -> Result<&Person, Refusal> {
        let der = req.client_cert.ok_or_else(Refusal::no_client_certificate)?;
        let info = CertInfo::from_der(der).map_err(|_| Refusal::unknown_person())?;
        check_login_certificate(&info, &self.login_cas)?;
        let serial = info
            .subject
            .serial_number
            .as_deref()
            .ok_or_else(Refusal::unknown_person)?;
        self.persons
            .by_serial_number(serial)
            .ok_or_else(Refusal::unknown_person)
    }

    /// Count a lookup by `operator`, or refuse it when the window is full.
    fn take_lookup(&self, operator: &str) -> Result<(), Refusal> {
        let now = Instant::now();
        let rate = self.puk_rate;
        let mut lookups = self.lookups.lock().unwrap_or_else(|p| p.into_inner());
        let recent = lookups.entry(operator.to_string()).or_default();
        while recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= rate.window)
        {
            recent.pop_front();
        }
        if recent.len() >= rate.max as usize {
            let oldest = recent.front().copied().unwrap_or(now);
            let wait = rate.window.saturating_sub(now.duration_since(oldest));
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let at = rfc3339(crate::pki::date::now_unix() + secs as i64);
            return Err(Refusal::too_many_lookups(
                rate.max,
                rate.window.as_secs().div_ceil(60),
                secs,
                &at,
            ));
        }
        recent.push_back(now);
        Ok(())
    }

    /// Why this person may not upgrade now, if they may not.
    fn upgrade_refusal(&self, person: &Person) -> Option<Refusal> {
        if !person.upgrade_allowed {
            return Some(Refusal::upgrade_not_allowed());
        }
        if deadline_passed(&self.deadline, Date::today()) {
            return Some(Refusal::deadline_passed(&self.deadline));
        }
        None
    }

    /// RFC 7030 4.2.2: renew a certificate the caller holds. The caller logs in with a
    /// current authentication certificate; a fresh key in the CSR gets a new certificate.
    fn reenroll(&self, req: &Request<'_>, profile: Profile) -> Result<Reply, Refusal> {
        let person = self.caller(req)?;
        let held = self
            .store
            .for_person(&person.hsa_id)
            .map_err(|e| {
                log::error!("store: {e}");
                Refusal::new(
                    500,
                    RefusalCode::Internal,
                    "the CA's store failed; try again later",
                )
            })?
            .iter()
            .any(|c| c.label == profile.label());
        if !held {
            return Err(Refusal::new(
                403,
                RefusalCode::NothingToRenew,
                format!(
                    "you hold no {} certificate from this CA to renew; use simpleenroll",
                    profile.label()
                ),
            ));
        }
        self.enroll(req, profile, EnrolFor::Renewal)
    }

    fn enroll(&self, req: &Request<'_>, profile: Profile, why: EnrolFor) -> Result<Reply, Refusal> {
        let person = self.caller(req)?;
        // The upgrade window and permission govern the upgrade only: a holder renews the
        // certificates they already hold whenever they are due.
        if why == EnrolFor::Upgrade
            && let Some(refusal) = self.upgrade_refusal(person)
        {
            return Err(refusal);
        }
        if !person.profile_allowed(profile) {
            return Err(Refusal::profile_not_allowed(profile.label()));
        }
        let der = decode_body(req.body)?;
        let spki = csr::check(&der, person.identity_for(profile))?;
        let internal = |e: MockError| {
            log::error!("store: {e}");
            Refusal::new(
                500,
                RefusalCode::Internal,
                "the CA's store failed; try again later",
            )
        };
        if self.misissue.load(std::sync::atomic::Ordering::Relaxed) {
            let other_key = self.issuer(profile).info().spki_der.clone();
            let wrong = self
                .issuer(profile)
                .issue_person_cert(&person.cert_request(profile), &other_key)
                .map_err(|e| Refusal::new(500, RefusalCode::Internal, e.to_string()))?;
            let body = pkcs7::certs_only_base64(&[&wrong])
                .map_err(|e| Refusal::new(500, RefusalCode::Internal, e.to_string()))?;
            return Ok(Reply {
                status: 200,
                content_type: EST_CERTS_CONTENT_TYPE,
                body: body.into_bytes(),
            });
        }
        let cert = match self
            .store
            .find(&person.hsa_id, profile, &spki)
            .map_err(internal)?
        {
            Some(existing) => {
                log::info!(
                    "{} {}: returned the certificate already issued",
                    person.hsa_id,
                    profile.label()
                );
                existing
            }
            None => {
                let issued = self
                    .issuer(profile)
                    .issue_person_cert(&person.cert_request(profile), &spki)
                    .map_err(|e| {
                        log::error!("issuing for {}: {e}", person.hsa_id);
                        Refusal::new(
                            500,
                            RefusalCode::Internal,
                            "the CA could not issue; try again later",
                        )
                    })?;
                log::info!(
                    "{} {}: issued a certificate",
                    person.hsa_id,
                    profile.label()
                );
                self.store
                    .insert(&person.hsa_id, profile, &issued)
                    .map_err(internal)?
            }
        };
        let body = pkcs7::certs_only_base64(&[&cert])
            .map_err(|e| Refusal::new(500, RefusalCode::Internal, e.to_string()))?;
        Ok(Reply {
            status: 200,
            content_type: EST_CERTS_CONTENT_TYPE,
            body: body.into_bytes(),
        })
    }

    fn me(&self, req: &Request<'_>) -> Result<Reply, Refusal> {
        let person = self.caller(req)?;
        let refusal = self.upgrade_refusal(person).map(|r| ErrorBody {
            error: r.code,
            message: r.message,
        });
        let profiles = person
            .allowed_profiles()
            .into_iter()
            .map(|p| ProfileInfo {
                label: p.label(),
                identity: match p.identity() {
                    IdentityKind::HsaId => "hsa-id",
                    IdentityKind::Personnummer => "personnummer",
                },
                purpose: p.purpose().label(),
                trust_level: p.trust_level(),
            })
            .collect();
        Ok(Reply::json(&Me {
            hsa_id: &person.hsa_id,
            personnummer: &person.personnummer,
            name: person.full_name(),
            organisation: &person.organisation,
            county: &person.county,
            upn: person.upn.as_deref(),
            upgrade_allowed: refusal.is_none(),
            refusal,
            deadline: &self.deadline,
            profiles,
        }))
    }

    fn certificates(&self, req: &Request<'_>) -> Result<Reply, Refusal> {
        let person = self.caller(req)?;
        let stored = self.store.for_person(&person.hsa_id).map_err(|e| {
            log::error!("store: {e}");
            Refusal::new(
                500,
                RefusalCode::Internal,
                "the CA's store failed; try again later",
            )
        })?;
        let certificates = stored
            .into_iter()
            .map(|c| CertEntry {
                label: c.label,
                serial: c.serial_hex,
                not_after: rfc3339(c.not_after),
                der_base64: base64::engine::general_purpose::STANDARD.encode(&c.der),
            })
            .collect();
        Ok(Reply::json(&Certificates { certificates }))
    }

    fn puk_lookup(&self, req: &Request<'_>) -> Result<Reply, Refusal> {
        let operator = self.caller(req)?;
        if !operator.operator {
            return Err(Refusal::not_operator());
        }
        // Every lookup an operator makes counts, found or not: probing for HSA-ids is a
        // lookup too.
        self.take_lookup(&operator.hsa_id)?;
        let ask: PukLookup = serde_json::from_slice(req.body).map_err(|_| {
            Refusal::new(
                400,
                RefusalCode::BadRequest,
                "send JSON {\"hsa_id\": \"…\", \"reason\": \"…\"}",
            )
        })?;
        let reason = ask.reason.unwrap_or_default();
        if reason.trim().is_empty() {
            return Err(Refusal::reason_missing());
        }
        let customer = self.persons.by_hsa_id(ask.hsa_id.trim()).ok_or_else(|| {
            Refusal::new(
                404,
                RefusalCode::UnknownPerson,
                "no card holder has that HSA-id; check it against the holder's card",
            )
        })?;
        self.log_puk_lookup(&operator.hsa_id, &customer.hsa_id, reason.trim())
            .map_err(|e| {
                log::error!("PUK lookup log: {e}");
                Refusal::new(
                    500,
                    RefusalCode::Internal,
                    "the lookup could not be logged, so the PUK is not shown; try again later",
                )
            })?;
        log::info!("PUK lookup by {} for {}", operator.hsa_id, customer.hsa_id);
        Ok(Reply::json(&PukAnswer {
            puk: &customer.pins.puk,
        }))
    }

    /// Keep the anchor of one desk audit entry, sent with an operator's card.
    fn add_anchor(&self, req: &Request<'_>) -> Result<Reply, Refusal> {
        let operator = self.caller(req)?;
        if !operator.operator {
            return Err(Refusal::not_operator());
        }
        let anchor: anchor::Anchor =
            serde_json::from_slice(req.body).map_err(|_| Refusal::bad_anchor())?;
        if !anchor.is_well_formed() {
            return Err(Refusal::bad_anchor());
        }
        let kept = self
            .store
            .add_anchor(&anchor, &operator.hsa_id)
            .map_err(|e| {
                log::error!("store: {e}");
                Refusal::new(
                    500,
                    RefusalCode::Internal,
                    "the CA's store failed; send the anchor again later",
                )
            })?;
        if !kept {
            log::warn!(
                "audit anchor conflict from {} for entry {} of log {}",
                operator.hsa_id,
                anchor.seq,
                anchor.log
            );
            return Err(Refusal::anchor_conflict(anchor.seq));
        }
        Ok(Reply::json(&serde_json::json!({ "stored": true })))
    }

    /// The anchors of the log named by `?log=<id>`: hashes, actions and times only, so anyone
    /// checking a log may read them without a card.
    fn anchors(&self, req: &Request<'_>) -> Result<Reply, Refusal> {
        let query = req.path.split_once('?').map(|(_, q)| q).unwrap_or("");
        let log = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("log="))
            .filter(|id| id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| {
                Refusal::new(
                    400,
                    RefusalCode::BadRequest,
                    "name the log: ?log=<its first entry's hash, 64 hex digits>",
                )
            })?
            .to_ascii_lowercase();
        let stored = self.store.anchors(&log).map_err(|e| {
            log::error!("store: {e}");
            Refusal::new(
                500,
                RefusalCode::Internal,
                "the CA's store failed; try again later",
            )
        })?;
        Ok(Reply::json(&anchor::AnchorList {
            anchors: stored
                .into_iter()
                .map(|(seq, hash, action, received)| anchor::StoredAnchor {
                    seq,
                    hash,
                    action,
                    received: rfc3339(received),
                })
                .collect(),
            log,
        }))
    }

    /// One JSON line per lookup, written before the PUK is shown: no lookup without a record.
    fn log_puk_lookup(
        &self,
        operator: &str,
        customer: &str,
        reason: &str,
    ) -> Result<(), MockError> {
        let path = self.puk_log.lock().unwrap_or_else(|p| p.into_inner());
        let line = serde_json::to_string(&PukLogLine {
            time: rfc3339(crate::pki::date::now_unix()),
            operator,
            customer,
            reason,
        })
        .map_err(|e| MockError::Config(path.clone(), e.to_string()))?;
        let mut file =
            crate::private_file::open_append(&path).map_err(|e| MockError::Io(path.clone(), e))?;
        writeln!(file, "{line}").map_err(|e| MockError::Io(path.clone(), e))?;
        // On disk before the PUK leaves: a crash after the answer cannot lose the record.
        file.sync_data().map_err(|e| MockError::Io(path.clone(), e))
    }

    /// How many certificates the store holds for a person.
    pub fn enrolments_for(&self, hsa_id: &str) -> Result<usize, MockError> {
        Ok(self.store.for_person(hsa_id)?.len())
    }
}

/// Only an authentication certificate logs in: digitalSignature key usage, clientAuth
/// among its extended key usages if it lists any, issued by one of DIR's person CAs.
/// A signature (nonRepudiation) certificate proves a signature, not a login.
pub fn check_login_certificate(info: &CertInfo, login_cas: &[CertInfo]) -> Result<(), Refusal> {
    if info.is_ca {
        return Err(Refusal::not_authentication_certificate(
            "a CA certificate cannot log in",
        ));
    }
    if !info.key_usage.contains(&KeyUsageBit::DigitalSignature) {
        return Err(Refusal::not_authentication_certificate(
            if info.key_usage.contains(&KeyUsageBit::NonRepudiation) {
                "this is a signature certificate (key usage nonRepudiation)"
            } else {
                "the certificate's key usage does not allow logging in (no digitalSignature)"
            },
        ));
    }
    if !info.extended_key_usage.is_empty()
        && !info
            .extended_key_usage
            .iter()
            .any(|oid| oid == OID_EKU_CLIENT_AUTH)
    {
        return Err(Refusal::not_authentication_certificate(
            "the certificate's extended key usage does not include client authentication",
        ));
    }
    if !login_cas.iter().any(|ca| info.verify_issued_by(ca).is_ok()) {
        return Err(Refusal::not_authentication_certificate(
            "the certificate was not issued by one of the SITHS person CAs",
        ));
    }
    Ok(())
}

fn method_not_allowed() -> Refusal {
    Refusal::new(
        405,
        RefusalCode::MethodNotAllowed,
        "use GET for cacerts, me, certificates and audit-anchors, POST for simpleenroll, \
         puk-lookup and audit-anchor",
    )
}

/// The EST body: base64 DER (line breaks allowed), or raw DER from a lenient client.
fn decode_body(body: &[u8]) -> Result<Vec<u8>, Refusal> {
    let compact: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if compact.is_empty() {
        return Err(Refusal::bad_csr(
            "the request body is empty; send the PKCS#10 request base64-encoded".into(),
        ));
    }
    match base64::engine::general_purpose::STANDARD.decode(&compact) {
        Ok(der) => Ok(der),
        Err(_) if body.first() == Some(&0x30) => Ok(body.to_vec()),
        Err(_) => Err(Refusal::bad_csr(
            "the request body is not base64; send the DER PKCS#10 request base64-encoded".into(),
        )),
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
fn rfc3339(unix: i64) -> String {
    let date = Date::from_unix(unix);
    let secs = unix.rem_euclid(86_400);
    format!(
        "{date}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Whether upgrades are over on `today` (an unreadable deadline counts as passed: refuse
/// rather than issue against a broken configuration).
pub fn deadline_passed(deadline: &str, today: Date) -> bool {
    parse_date(deadline).is_none_or(|d| today > d)
}

#[derive(Serialize)]
struct ErrorBody {
    error: RefusalCode,
    message: String,
}

#[derive(Serialize)]
struct ProfileInfo {
    label: &'static str,
    identity: &'static str,
    purpose: &'static str,
    trust_level: u8,
}

#[derive(Serialize)]
struct Me<'a> {
    hsa_id: &'a str,
    personnummer: &'a str,
    name: String,
    organisation: &'a str,
    county: &'a str,
    upn: Option<&'a str>,
    upgrade_allowed: bool,
    refusal: Option<ErrorBody>,
    deadline: &'a str,
    profiles: Vec<ProfileInfo>,
}

#[derive(Serialize)]
struct CertEntry {
    label: String,
    serial: String,
    not_after: String,
    der_base64: String,
}

#[derive(Serialize)]
struct Certificates {
    certificates: Vec<CertEntry>,
}

#[derive(Deserialize)]
struct PukLookup {
    hsa_id: String,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Serialize)]
struct PukAnswer<'a> {
    puk: &'a str,
}

#[derive(Serialize)]
struct PukLogLine<'a> {
    time: String,
    operator: &'a str,
    customer: &'a str,
    reason: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_deadlines() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        let day = |y, m, d| Date::new(y, m, d).unwrap();
        assert!(!deadline_passed("2027-06-30", day(2027, 6, 30)));
        assert!(deadline_passed("2027-06-30", day(2027, 7, 1)));
        assert!(deadline_passed("junk", day(2000, 1, 1)));
    }

    #[test]
    fn only_authentication_certificates_log_in() {
        use crate::pki::Purpose;
        use crate::pki::issue::{PersonCertRequest, PersonName};
        let root = TestCa::new_root("TEST Root", 2048).unwrap();
        let person_ca = TestCa::new_issuing(&root, "TEST Person CA", 2048, Some(3)).unwrap();
        let cas = [person_ca.info().clone()];
        let spki = person_ca.info().spki_der.clone();
        let person = |ca: &TestCa, purpose| {
            let der = ca
                .issue_person_cert(
                    &PersonCertRequest {
                        subject: PersonName {
                            serial_number: "TST5565594230-1001".into(),
                            given_name: "Karin".into(),
                            surname: "Åström".into(),
                            common_name: "Karin Åström".into(),
                            organisation: "Region Test".into(),
                            locality: None,
                        },
                        purpose,
                        trust_level: None,
                        upn: None,
                        not_before: None,
                        not_after: None,
                    },
                    &spki,
                )
                .unwrap();
            CertInfo::from_der(&der).unwrap()
        };
        let code = |info: &CertInfo| check_login_certificate(info, &cas).map_err(|r| r.code);
        assert_eq!(code(&person(&person_ca, Purpose::Authentication)), Ok(()));
        let signing =
            check_login_certificate(&person(&person_ca, Purpose::Signature), &cas).unwrap_err();
        assert_eq!(
            (signing.status, signing.code),
            (403, RefusalCode::NotAuthenticationCertificate)
        );
        assert!(
            signing.message.contains("signature certificate"),
            "{}",
            signing.message
        );
        // Issued by the root, not a person CA.
        assert_eq!(
            code(&person(&root, Purpose::Authentication)),
            Err(RefusalCode::NotAuthenticationCertificate)
        );
        // digitalSignature, but for a server (EKU serverAuth only).
        let server = person_ca
            .issue_server_cert("TEST server", &["localhost"], &spki, 30)
            .unwrap();
        let server = CertInfo::from_der(&server).unwrap();
        let refusal = check_login_certificate(&server, &cas).unwrap_err();
        assert!(
            refusal.message.contains("client authentication"),
            "{}",
            refusal.message
        );
        // A CA certificate.
        assert_eq!(
            code(person_ca.info()),
            Err(RefusalCode::NotAuthenticationCertificate)
        );
    }

    #[test]
    fn bodies_decode_from_base64_with_line_breaks() {
        assert_eq!(
            decode_body(b"MAMC\r\nAQA=\n").unwrap(),
            vec![0x30, 3, 2, 1, 0]
        );
        assert_eq!(decode_body(b"").unwrap_err().code, RefusalCode::BadCsr);
        assert_eq!(decode_body(b"!!").unwrap_err().code, RefusalCode::BadCsr);
    }
}
