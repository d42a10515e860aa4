//! What the CA mock answers, independent of HTTP and TLS: EST `cacerts` and `simpleenroll` per
//! profile label, and the JSON API (`me`, `certificates`, `puk-lookup`). The server hands each
//! request here with the client certificate TLS already verified against DIR's CAs.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::MockError;
use super::csr;
use super::dir::{CaName, MockDir, parse_date};
use super::persons::{Directory, Person};
use super::refusal::Refusal;
use super::store::Store;
use crate::ca::RefusalCode;
use crate::ca::{IdentityKind, Profile, pkcs7};
use crate::pki::{CertInfo, Date, TestCa};

/// A request as the CA sees it.
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// DER of the client's leaf certificate, already verified by TLS.
    pub client_cert: Option<&'a [u8]>,
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
    /// Fault injection for tests: answer enrolments with a certificate for another key, as a
    /// broken or hostile CA might, without storing it.
    pub(crate) misissue: std::sync::atomic::AtomicBool,
}

impl Ca {
    pub fn load(dir: &MockDir) -> Result<Ca, MockError> {
        let config = dir.config()?;
        Ok(Ca {
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
                (_, "/api/v1/me" | "/api/v1/certificates" | "/api/v1/puk-lookup") => {
                    Err(method_not_allowed())
                }
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
            ("POST", "simpleenroll") => self.enroll(req, profile),
            (_, "cacerts" | "simpleenroll") => Err(method_not_allowed()),
            _ => Err(Refusal::new(
                404,
                RefusalCode::NotFound,
                "this CA offers cacerts and simpleenroll for each profile",
            )),
        }
    }

    /// The person the client certificate names.
    fn caller(&self, req: &Request<'_>) -> Result<&Person, Refusal> {
        let der = req.client_cert.ok_or_else(Refusal::no_client_certificate)?;
        let info = CertInfo::from_der(der).map_err(|_| Refusal::unknown_person())?;
        let serial = info
            .subject
            .serial_number
            .as_deref()
            .ok_or_else(Refusal::unknown_person)?;
        self.persons
            .by_serial_number(serial)
            .ok_or_else(Refusal::unknown_person)
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

    fn enroll(&self, req: &Request<'_>, profile: Profile) -> Result<Reply, Refusal> {
        let person = self.caller(req)?;
        if let Some(refusal) = self.upgrade_refusal(person) {
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
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&*path)
            .map_err(|e| MockError::Io(path.clone(), e))?;
        writeln!(file, "{line}").map_err(|e| MockError::Io(path.clone(), e))
    }

    /// How many certificates the store holds for a person.
    pub fn enrolments_for(&self, hsa_id: &str) -> Result<usize, MockError> {
        Ok(self.store.for_person(hsa_id)?.len())
    }
}

fn method_not_allowed() -> Refusal {
    Refusal::new(
        405,
        RefusalCode::MethodNotAllowed,
        "use GET for cacerts, me and certificates, POST for simpleenroll and puk-lookup",
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
    fn bodies_decode_from_base64_with_line_breaks() {
        assert_eq!(
            decode_body(b"MAMC\r\nAQA=\n").unwrap(),
            vec![0x30, 3, 2, 1, 0]
        );
        assert_eq!(decode_body(b"").unwrap_err().code, RefusalCode::BadCsr);
        assert_eq!(decode_body(b"!!").unwrap_err().code, RefusalCode::BadCsr);
    }
}
