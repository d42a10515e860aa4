//! What the CA mock answers, independent of HTTP and TLS: EST `cacerts`, `simpleenroll` and
//! `simplereenroll` per profile label, and the JSON API (`me`, `certificates`, `puk-challenge`,
//! `puk-lookup`, `audit-anchor`, `audit-anchors`, `audit-logs`). The server hands each request
//! here with the client certificate TLS already verified against DIR's CAs.
//!
//! The contract (docs/ca-api.md, and ARCHITECTURE.md "CA contract"): one current certificate per holder and
//! profile; a renewal only with the pair's current authentication certificate, inside the renewal
//! window, for a new key, replacing the old certificate; level-3 issuance only for a level-3
//! login; service-centre work only with an operator's level-3 certificate no renewal replaced; a
//! PUK only with what the desk read from the customer's card, against a fresh single-use
//! challenge, the challenges within a limit kept on disk; an audit log owned by whoever anchored
//! it first.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::MockError;
use super::csr;
use super::dir::{CaName, MockDir, parse_date};
use super::persons::{Directory, Person};
use super::refusal::Refusal;
use super::store::{AnchorOutcome, ChallengeOutcome, Store, StoredCert};
use crate::audit::anchor;
use crate::ca::RefusalCode;
use crate::ca::{IdentityKind, Profile, pkcs7};
use crate::pki::cert::{KeyUsageBit, OID_EKU_CLIENT_AUTH};
use crate::pki::expiry::{RENEWAL_WINDOW_DAYS, renewal_window_opens};
use crate::pki::{CertInfo, Date, TestCa};

/// How many PUK challenges one operator may ask for in a window of time: each lookup spends
/// one, so this is also the most lookups, and asking about HSA-ids without looking up costs
/// the same.
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
    /// the server's certificate), read from the same files as the TLS trust anchors.
    login_cas: Vec<(CaName, CertInfo)>,
    puk_rate: RateLimit,
    /// Fault injection for tests: answer enrolments with a certificate for another key, as a
    /// broken or hostile CA might, without storing it.
    pub(crate) misissue: std::sync::atomic::AtomicBool,
}

impl Ca {
    pub fn load(dir: &MockDir) -> Result<Ca, MockError> {
        let config = dir.config()?;
        let login_cas = dir
            .trust_anchors()?
            .into_iter()
            .filter(|(ca, _)| *ca != CaName::Root)
            .map(|(ca, der)| {
                CertInfo::from_der(&der)
                    .map(|info| (ca, info))
                    .map_err(|e| MockError::Pki(dir.ca_pem(ca), e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Ca {
            login_cas,
            puk_rate: RateLimit::default(),
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
                ("POST", PUK_CHALLENGE_PATH) => self.puk_challenge(req),
                ("POST", "/api/v1/puk-lookup") => self.puk_lookup(req),
                ("POST", anchor::POST_PATH) => self.add_anchor(req),
                ("GET", anchor::GET_PATH) => self.anchors(req),
                ("GET", anchor::LOGS_PATH) => self.audit_logs(req),
                (
                    _,
                    "/api/v1/me"
                    | "/api/v1/certificates"
                    | PUK_CHALLENGE_PATH
                    | "/api/v1/puk-lookup"
                    | anchor::POST_PATH
                    | anchor::GET_PATH
                    | anchor::LOGS_PATH,
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
                self.enroll(req, profile)
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
        let mut certs: Vec<&[u8]> = self
            .login_cas
            .iter()
            .map(|(_, c)| c.der.as_slice())
            .collect();
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
    fn caller<'a>(&'a self, req: &'a Request<'_>) -> Result<&'a Person, Refusal> {
        Ok(self.login(req)?.person)
    }

    /// Who logged in, with which certificate, issued by which of DIR's CAs.
    fn login<'a>(&'a self, req: &'a Request<'_>) -> Result<Login<'a>, Refusal> {
        let der = req.client_cert.ok_or_else(Refusal::no_client_certificate)?;
        let info = CertInfo::from_der(der).map_err(|_| Refusal::unknown_person())?;
        let infos: Vec<CertInfo> = self.login_cas.iter().map(|(_, c)| c.clone()).collect();
        check_login_certificate(&info, &infos)?;
        let ca = self
            .login_cas
            .iter()
            .find(|(_, c)| info.verify_issued_by(c).is_ok())
            .map(|(name, _)| *name)
            .ok_or_else(Refusal::unknown_person)?;
        let serial = info
            .subject
            .serial_number
            .as_deref()
            .ok_or_else(Refusal::unknown_person)?;
        let person = self
            .persons
            .by_serial_number(serial)
            .ok_or_else(Refusal::unknown_person)?;
        Ok(Login {
            person,
            der,
            ca,
            info,
        })
    }

    /// An operator logged in at level 3 with a certificate no renewal replaced: PUK challenges
    /// and lookups and audit anchors need all three. `what` names the work for the refusal
    /// ("looking up a PUK").
    fn operator<'a>(&'a self, req: &'a Request<'_>, what: &str) -> Result<Login<'a>, Refusal> {
        let login = self.login(req)?;
        if !login.person.operator {
            return Err(Refusal::not_operator(what));
        }
        login.level_3(what)?;
        // A replaced certificate is no longer the operator's card as the CA stands behind it
        // (a customer's replaced certificate is refused the same way).
        if let Some(replaced_at) = self
            .store
            .issued(&login.person.hsa_id, login.der)
            .map_err(store_failed)?
            .and_then(|c| c.replaced_at)
        {
            return Err(Refusal::login_replaced(&rfc3339(replaced_at)));
        }
        Ok(login)
    }

    /// Count a PUK challenge by `operator` (every lookup needs one), or refuse it when the
    /// window is full. The count is in the store, so a restart of the CA keeps it.
    fn take_challenge(&self, operator: &str) -> Result<(), Refusal> {
        let now = crate::pki::date::now_unix();
        let rate = self.puk_rate;
        let window = i64::try_from(rate.window.as_secs()).unwrap_or(i64::MAX);
        let taken = self
            .store
            .take_challenge(operator, now, now.saturating_sub(window), rate.max)
            .map_err(store_failed)?;
        if let Err(oldest) = taken {
            let secs = (oldest.saturating_add(window) - now).max(1);
            let at = rfc3339(now + secs);
            return Err(Refusal::too_many_lookups(
                rate.max,
                rate.window.as_secs().div_ceil(60),
                secs.unsigned_abs(),
                &at,
            ));
        }
        Ok(())
    }

    /// Why a `simpleenroll` of a new key by this login would be refused for every profile, in
    /// the order `enroll` checks: the person's upgrade barred, a level-2 login, the deadline
    /// passed, or a current certificate of every profile held already. `me` says it.
    fn enrolment_refusal(&self, login: &Login<'_>) -> Result<Option<Refusal>, Refusal> {
        let person = login.person;
        if !person.upgrade_allowed {
            return Ok(Some(Refusal::upgrade_not_allowed()));
        }
        if let Err(refusal) = login.level_3(LEVEL_3_ISSUANCE) {
            return Ok(Some(refusal));
        }
        if let Some(refusal) = self.deadline_refusal() {
            return Ok(Some(refusal));
        }
        let now = crate::pki::date::now_unix();
        for profile in person.allowed_profiles() {
            if self
                .store
                .current(&person.hsa_id, profile, now)
                .map_err(store_failed)?
                .is_none()
            {
                return Ok(None);
            }
        }
        Ok(Some(Refusal::all_enrolled()))
    }

    /// The deadline for new certificates, if it has passed.
    fn deadline_refusal(&self) -> Option<Refusal> {
        deadline_passed(&self.deadline, Date::today())
            .then(|| Refusal::deadline_passed(&self.deadline))
    }

    /// Whether `existing`, the certificate the CA holds for a renewal's key, is a renewal still
    /// under way: issued by a renewal with the `login` certificate, or, within the days a
    /// renewal window lasts, with the certificate `login` was itself renewed from (the client
    /// logged in again with the new authentication certificate to finish the signature one).
    /// Any other certificate of that key is the one being renewed, the login certificate
    /// itself, or older: no renewal.
    fn renewal_under_way(existing: &StoredCert, login: &StoredCert, now: i64) -> bool {
        let Some(with) = existing.renewed_with.as_deref() else {
            return false;
        };
        if existing.serial_hex == login.serial_hex {
            return false;
        }
        with == login.serial_hex
            || (login.renewed_with.as_deref() == Some(with)
                && existing.issued_at > now - (RENEWAL_WINDOW_DAYS + 1) * 86_400)
    }

    /// RFC 7030 4.2.2: renew the certificate of `profile` the caller holds. Logged in with the
    /// pair's current authentication certificate (for the signature profile too: a signature
    /// certificate never logs in), inside the renewal window of the certificate renewed or of
    /// that login certificate, for a new key, and the new certificate replaces the old one. The
    /// key of a renewal already issued gets that renewal back (a resumed renewal); the key of
    /// the certificate being renewed gets a refusal, so a client that kept its key is never
    /// told it renewed. An authentication certificate a renewal of this run replaced may still
    /// renew its pair's signature certificate, until that one is renewed too.
    fn reenroll(&self, req: &Request<'_>, profile: Profile) -> Result<Reply, Refusal> {
        let login = self.login(req)?;
        let person = login.person;
        login.level_3("renewing a level-3 certificate")?;
        if !person.profile_allowed(profile) {
            return Err(Refusal::profile_not_allowed(profile.label()));
        }
        let auth = pair_auth(profile);
        let held = self
            .store
            .issued(&person.hsa_id, login.der)
            .map_err(store_failed)?
            .filter(|h| h.label == auth.label())
            .ok_or_else(|| Refusal::renew_with_pair_certificate(profile.label(), auth.label()))?;
        let der = decode_body(req.body)?;
        let spki = csr::check(&der, person.identity_for(profile))?;
        let now = crate::pki::date::now_unix();
        if let Some(existing) = self
            .store
            .find(&person.hsa_id, profile, &spki)
            .map_err(store_failed)?
        {
            if existing.replaced_at.is_some() {
                return Err(Refusal::key_replaced(profile.label()));
            }
            if !Self::renewal_under_way(&existing, &held, now) {
                return Err(Refusal::renewal_needs_new_key(
                    profile.label(),
                    &existing.serial_hex,
                ));
            }
            log::info!(
                "{} {}: returned the renewal already issued",
                person.hsa_id,
                profile.label()
            );
            return certs_reply(&existing.der);
        }
        let current = self
            .store
            .current(&person.hsa_id, profile, now)
            .map_err(store_failed)?
            .ok_or_else(|| Refusal::nothing_to_renew(profile.label()))?;
        // A replaced login certificate finishes its own renewal: the signature certificate not
        // yet renewed with it.
        if let Some(replaced_at) = held.replaced_at
            && (profile == auth || current.renewed_with.as_deref() == Some(&held.serial_hex))
        {
            return Err(Refusal::login_replaced(&rfc3339(replaced_at)));
        }
        // Open when either window is: the first moment of the earlier one.
        let opens =
            renewal_window_opens(current.not_after).min(renewal_window_opens(held.not_after));
        if now < opens {
            let login_end = rfc3339(held.not_after);
            let login = (held.serial_hex != current.serial_hex)
                .then_some((auth.label(), login_end.as_str()));
            return Err(Refusal::renewal_not_due(
                profile.label(),
                &rfc3339(current.not_after),
                login,
                &rfc3339(opens),
            ));
        }
        self.issue(
            person,
            profile,
            &spki,
            Some((&current.serial_hex, &held.serial_hex)),
        )
    }

    /// `simpleenroll`: the upgrade's new certificates. One current certificate per holder and
    /// profile: the key already certified gets its certificate back (a resumed upgrade, even
    /// after the deadline: what was issued is the holder's), any other key is refused while
    /// that certificate stands (a renewal replaces it).
    fn enroll(&self, req: &Request<'_>, profile: Profile) -> Result<Reply, Refusal> {
        let login = self.login(req)?;
        let person = login.person;
        if !person.upgrade_allowed {
            return Err(Refusal::upgrade_not_allowed());
        }
        login.level_3(LEVEL_3_ISSUANCE)?;
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
        if let Some(existing) = self
            .store
            .find(&person.hsa_id, profile, &spki)
            .map_err(internal)?
        {
            if existing.replaced_at.is_some() {
                return Err(Refusal::key_replaced(profile.label()));
            }
            log::info!(
                "{} {}: returned the certificate already issued",
                person.hsa_id,
                profile.label()
            );
            return certs_reply(&existing.der);
        }
        if let Some(refusal) = self.deadline_refusal() {
            return Err(refusal);
        }
        let now = crate::pki::date::now_unix();
        if let Some(current) = self
            .store
            .current(&person.hsa_id, profile, now)
            .map_err(internal)?
        {
            return Err(Refusal::already_enrolled(
                profile.label(),
                &current.serial_hex,
                &rfc3339(current.not_after),
            ));
        }
        self.issue(person, profile, &spki, None)
    }

    /// Issue for `spki` and store it; a renewal names (the serial renewed, the login's serial).
    fn issue(
        &self,
        person: &Person,
        profile: Profile,
        spki: &[u8],
        renewal: Option<(&str, &str)>,
    ) -> Result<Reply, Refusal> {
        let issued = self
            .issuer(profile)
            .issue_person_cert(&person.cert_request(profile), spki)
            .map_err(|e| {
                log::error!("issuing for {}: {e}", person.hsa_id);
                Refusal::new(
                    500,
                    RefusalCode::Internal,
                    "the CA could not issue; try again later",
                )
            })?;
        log::info!(
            "{} {}: issued a certificate{}",
            person.hsa_id,
            profile.label(),
            if renewal.is_some() {
                " (renewal; the old one is replaced)"
            } else {
                ""
            }
        );
        let cert = self
            .store
            .insert_renewal(&person.hsa_id, profile, &issued, renewal)
            .map_err(store_failed)?;
        certs_reply(&cert)
    }

    /// Who the caller is and what `simpleenroll` will do for them: `upgrade_allowed` only when
    /// a new key gets a certificate for some profile, else the refusal every one would get.
    fn me(&self, req: &Request<'_>) -> Result<Reply, Refusal> {
        let login = self.login(req)?;
        let person = login.person;
        let refusal = self.enrolment_refusal(&login)?.map(|r| ErrorBody {
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
        // What the CA stands behind now: a certificate a renewal replaced is no longer listed.
        let now = crate::pki::date::now_unix();
        let certificates = stored
            .into_iter()
            .filter(|c| c.is_current(now))
            .map(|c| CertEntry {
                label: c.label,
                serial: c.serial_hex,
                not_after: rfc3339(c.not_after),
                der_base64: base64::engine::general_purpose::STANDARD.encode(&c.der),
            })
            .collect();
        Ok(Reply::json(&Certificates { certificates }))
    }

    /// A challenge for one PUK lookup: issued to this operator for this customer, spent by the
    /// first lookup by them for that customer, void after [`PUK_CHALLENGE_SECONDS`]. Every
    /// request counts against the operator's limit and is logged, found or not: asking about
    /// HSA-ids is how a lookup starts, so probing for them is limited and on record too.
    fn puk_challenge(&self, req: &Request<'_>) -> Result<Reply, Refusal> {
        let operator = self.operator(req, "asking for a PUK challenge")?.person;
        self.take_challenge(&operator.hsa_id)?;
        let ask: ChallengeRequest = serde_json::from_slice(req.body).map_err(|_| {
            Refusal::new(
                400,
                RefusalCode::BadRequest,
                "send JSON {\"hsa_id\": \"…\"}: the customer the lookup is for",
            )
        })?;
        let found = self.customer(&ask.hsa_id);
        let asked: String = ask
            .hsa_id
            .trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(64)
            .collect();
        self.log_puk_request(&PukLogLine {
            time: rfc3339(crate::pki::date::now_unix()),
            request: "challenge",
            operator: &operator.hsa_id,
            customer: &asked,
            found: Some(found.is_ok()),
            reason: None,
        })?;
        log::info!(
            "PUK challenge by {} for {asked:?} ({})",
            operator.hsa_id,
            if found.is_ok() {
                "found"
            } else {
                "no such holder"
            }
        );
        let customer = found?;
        let mut random = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut random);
        let challenge = hex(&random);
        let now = crate::pki::date::now_unix();
        let expires = now + PUK_CHALLENGE_SECONDS;
        self.store
            .add_challenge(&challenge, &operator.hsa_id, &customer.hsa_id, expires, now)
            .map_err(store_failed)?;
        Ok(Reply::json(&ChallengeAnswer {
            challenge,
            expires: rfc3339(expires),
        }))
    }

    fn customer(&self, hsa_id: &str) -> Result<&Person, Refusal> {
        self.persons.by_hsa_id(hsa_id.trim()).ok_or_else(|| {
            Refusal::new(
                404,
                RefusalCode::UnknownPerson,
                "no card holder has that HSA-id; check it against the holder's card",
            )
        })
    }

    /// The PUK of a customer at the desk. Besides the operator's login and reason, the desk
    /// shows what it read from the customer's card in its reader: the authentication
    /// certificate (issued by this CA to that holder, still current) and the card's serial
    /// (the card this CA issued to them), against a fresh challenge of this CA. A PIN of the
    /// customer is not needed: a holder who needs the PUK has usually blocked theirs.
    fn puk_lookup(&self, req: &Request<'_>) -> Result<Reply, Refusal> {
        let operator = self.operator(req, "looking up a PUK")?.person;
        // Not counted here: the challenge it needs was. Nothing about the customer is told
        // before the challenge matches, so a lookup without one probes nothing.
        let ask: PukLookup = serde_json::from_slice(req.body).map_err(|_| {
            Refusal::new(
                400,
                RefusalCode::BadRequest,
                "send JSON {\"hsa_id\", \"reason\", \"challenge\", \"customer_certificate\", \
                 \"card_serial\"}",
            )
        })?;
        let reason = ask.reason.unwrap_or_default();
        if reason.trim().is_empty() {
            return Err(Refusal::reason_missing());
        }
        self.check_challenge(
            ask.challenge.as_deref(),
            &operator.hsa_id,
            ask.hsa_id.trim(),
        )?;
        let customer = self.customer(&ask.hsa_id)?;
        self.check_customer_card(
            customer,
            ask.customer_certificate.as_deref(),
            ask.card_serial.as_deref(),
        )?;
        self.log_puk_request(&PukLogLine {
            time: rfc3339(crate::pki::date::now_unix()),
            request: "lookup",
            operator: &operator.hsa_id,
            customer: &customer.hsa_id,
            found: None,
            reason: Some(reason.trim()),
        })?;
        log::info!("PUK lookup by {} for {}", operator.hsa_id, customer.hsa_id);
        Ok(Reply::json(&PukAnswer {
            puk: &customer.pins.puk,
        }))
    }

    /// The challenge must be one this CA issued to `operator` for `customer`, unused and
    /// unexpired; only then is it spent (checked and spent in one transaction), so a lookup
    /// by anyone else who holds the string, or for another customer, leaves it to its own.
    fn check_challenge(
        &self,
        challenge: Option<&str>,
        operator: &str,
        customer: &str,
    ) -> Result<(), Refusal> {
        let challenge = challenge
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| Refusal::bad_challenge("the lookup names no challenge"))?;
        let now = crate::pki::date::now_unix();
        match self
            .store
            .spend_challenge(challenge, operator, customer, now)
            .map_err(store_failed)?
        {
            ChallengeOutcome::Spent => Ok(()),
            ChallengeOutcome::Unknown => Err(Refusal::bad_challenge(
                "this CA holds no such challenge (never issued, or expired and removed)",
            )),
            ChallengeOutcome::NotYours => Err(Refusal::bad_challenge(
                "that challenge was issued for another operator or customer",
            )),
            ChallengeOutcome::Used => {
                Err(Refusal::bad_challenge("that challenge was used already"))
            }
            ChallengeOutcome::Expired => Err(Refusal::bad_challenge("that challenge has expired")),
        }
    }

    /// What the desk read from the customer's card must be that holder's card as this CA
    /// issued it.
    fn check_customer_card(
        &self,
        customer: &Person,
        certificate: Option<&str>,
        card_serial: Option<&str>,
    ) -> Result<(), Refusal> {
        let der = certificate
            .map(|c| {
                let compact: String = c.chars().filter(|c| !c.is_ascii_whitespace()).collect();
                base64::engine::general_purpose::STANDARD.decode(compact)
            })
            .transpose()
            .map_err(|_| Refusal::customer_card("the customer's certificate is not base64"))?
            .ok_or_else(|| {
                Refusal::customer_card("the lookup carries no certificate from the customer's card")
            })?;
        let info = CertInfo::from_der(&der)
            .map_err(|_| Refusal::customer_card("the customer's certificate cannot be read"))?;
        let infos: Vec<CertInfo> = self.login_cas.iter().map(|(_, c)| c.clone()).collect();
        check_login_certificate(&info, &infos).map_err(|_| {
            Refusal::customer_card(
                "the customer's certificate is not an authentication certificate of this CA",
            )
        })?;
        if info.subject.serial_number.as_deref() != Some(customer.hsa_id.as_str()) {
            return Err(Refusal::customer_card(
                "the certificate from the card names another holder",
            ));
        }
        if !info.is_valid_at(crate::pki::date::now_unix()) {
            return Err(Refusal::customer_card(
                "the certificate from the card is not valid today",
            ));
        }
        let stored = self
            .store
            .issued(&customer.hsa_id, &der)
            .map_err(store_failed)?;
        if stored.is_some_and(|c| c.replaced_at.is_some()) {
            return Err(Refusal::customer_card(
                "the certificate from the card was replaced by a renewal",
            ));
        }
        match card_serial.map(str::trim) {
            Some(serial) if serial == customer.card_serial.trim() => Ok(()),
            Some(_) => Err(Refusal::customer_card(
                "the card's serial is not that of the card this CA issued to the holder",
            )),
            None => Err(Refusal::customer_card(
                "the lookup carries no serial read from the customer's card",
            )),
        }
    }

    /// Keep the anchor of one desk audit entry, sent with an operator's card. The log is the
    /// first sender's (operator and desk).
    fn add_anchor(&self, req: &Request<'_>) -> Result<Reply, Refusal> {
        let operator = self.operator(req, "anchoring a desk audit log")?.person;
        let anchor: anchor::Anchor =
            serde_json::from_slice(req.body).map_err(|_| Refusal::bad_anchor())?;
        if !anchor.is_well_formed() {
            return Err(Refusal::bad_anchor());
        }
        let outcome = self
            .store
            .add_anchor(&anchor, &operator.hsa_id, &anchor.desk)
            .map_err(|e| {
                log::error!("store: {e}");
                Refusal::new(
                    500,
                    RefusalCode::Internal,
                    "the CA's store failed; send the anchor again later",
                )
            })?;
        match outcome {
            AnchorOutcome::Stored => Ok(Reply::json(&serde_json::json!({ "stored": true }))),
            AnchorOutcome::Conflict => {
                log::warn!(
                    "audit anchor conflict from {} for entry {} of log {}",
                    operator.hsa_id,
                    anchor.seq,
                    anchor.log
                );
                Err(Refusal::anchor_conflict(anchor.seq))
            }
            AnchorOutcome::OwnedBy {
                operator: owner,
                desk,
            } => {
                log::warn!(
                    "audit anchor from {} at desk {:?} for log {} of {owner} at desk {desk:?}",
                    operator.hsa_id,
                    anchor.desk,
                    anchor.log
                );
                Err(Refusal::log_of_another(owner == operator.hsa_id))
            }
        }
    }

    /// The anchors of the log named by `?log=<id>`: hashes, actions and times. Operators only
    /// (an auditor is service-centre staff with a card).
    fn anchors(&self, req: &Request<'_>) -> Result<Reply, Refusal> {
        self.operator(req, "reading a desk audit log's anchors")?;
        let log = query_value(req.path, "log")
            .filter(|id| id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| {
                Refusal::new(
                    400,
                    RefusalCode::BadRequest,
                    "name the log: ?log=<its first entry's hash, 64 hex digits>",
                )
            })?
            .to_ascii_lowercase();
        let stored = self.store.anchors(&log).map_err(store_failed)?;
        let operator = self.store.log_owner(&log).map_err(store_failed)?;
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
            operator,
        }))
    }

    /// Every log of `?operator=<HSA-id>` (default: the caller), so that a check of one log
    /// also sees a log rebuilt beside it or kept out of sight.
    fn audit_logs(&self, req: &Request<'_>) -> Result<Reply, Refusal> {
        let caller = self
            .operator(req, "reading the desk audit logs the CA holds")?
            .person;
        let operator = query_value(req.path, "operator")
            .map(str::to_string)
            .unwrap_or_else(|| caller.hsa_id.clone());
        let logs = self.store.logs_of(&operator).map_err(store_failed)?;
        Ok(Reply::json(&anchor::LogList {
            logs: logs
                .into_iter()
                .map(|l| anchor::LogInfo {
                    log: l.log,
                    desk: l.desk,
                    first_received: rfc3339(l.first_received),
                    last_received: rfc3339(l.last_received),
                    anchors: l.anchors,
                    last_seq: l.last_seq,
                })
                .collect(),
            operator,
        }))
    }

    /// One JSON line per PUK challenge and per lookup, on disk before the answer leaves: no
    /// challenge and no PUK without a record.
    fn log_puk_request(&self, line: &PukLogLine<'_>) -> Result<(), Refusal> {
        self.append_puk_log(line).map_err(|e| {
            log::error!("PUK lookup log: {e}");
            Refusal::new(
                500,
                RefusalCode::Internal,
                format!(
                    "the {} could not be logged, so nothing is answered; try again later",
                    line.request
                ),
            )
        })
    }

    fn append_puk_log(&self, line: &PukLogLine<'_>) -> Result<(), MockError> {
        let path = self.puk_log.lock().unwrap_or_else(|p| p.into_inner());
        let line = serde_json::to_string(line)
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

/// Where the desk asks for a PUK challenge.
pub const PUK_CHALLENGE_PATH: &str = "/api/v1/puk-challenge";

/// How long a PUK challenge may wait for its lookup: the desk asks for it right before.
pub const PUK_CHALLENGE_SECONDS: i64 = 120;

/// What a level-3 login is needed for when a certificate is enrolled.
const LEVEL_3_ISSUANCE: &str = "a level-3 certificate";

/// Who logged in: the person, the certificate, and which of DIR's CAs issued it.
struct Login<'a> {
    person: &'a Person,
    der: &'a [u8],
    ca: CaName,
    #[allow(dead_code)]
    info: CertInfo,
}

impl Login<'_> {
    /// Level 2 logs in for what concerns the holder (`me`, `certificates`) but never gets a
    /// level-3 certificate or does service-centre work: that takes an identity check at level 3.
    fn level_3(&self, what: &str) -> Result<(), Refusal> {
        match self.ca.trust_level() {
            Some(3) => Ok(()),
            _ => Err(Refusal::trust_level_too_low(what)),
        }
    }
}

/// The authentication profile of the pair `profile` belongs to: the certificate that logs in
/// to renew it.
fn pair_auth(profile: Profile) -> Profile {
    match profile.purpose() {
        crate::pki::Purpose::Authentication => profile,
        _ => profile.partner(),
    }
}

fn store_failed(e: MockError) -> Refusal {
    log::error!("store: {e}");
    Refusal::new(
        500,
        RefusalCode::Internal,
        "the CA's store failed; try again later",
    )
}

/// An EST answer holding one certificate.
fn certs_reply(der: &[u8]) -> Result<Reply, Refusal> {
    let body = pkcs7::certs_only_base64(&[der])
        .map_err(|e| Refusal::new(500, RefusalCode::Internal, e.to_string()))?;
    Ok(Reply {
        status: 200,
        content_type: EST_CERTS_CONTENT_TYPE,
        body: body.into_bytes(),
    })
}

/// The value of `name` in the request's query, if given.
fn query_value<'a>(path: &'a str, name: &str) -> Option<&'a str> {
    let query = path.split_once('?').map(|(_, q)| q)?;
    query.split('&').find_map(|kv| {
        kv.split_once('=')
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v)
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn method_not_allowed() -> Refusal {
    Refusal::new(
        405,
        RefusalCode::MethodNotAllowed,
        "use GET for cacerts, csrattrs, me, certificates, audit-anchors and audit-logs, POST for \
         simpleenroll, simplereenroll, puk-challenge, puk-lookup and audit-anchor",
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
    #[serde(default)]
    challenge: Option<String>,
    /// Base64 DER of the authentication certificate read from the customer's card.
    #[serde(default)]
    customer_certificate: Option<String>,
    /// The serial the customer's card reports.
    #[serde(default)]
    card_serial: Option<String>,
}

#[derive(Deserialize)]
struct ChallengeRequest {
    hsa_id: String,
}

#[derive(Serialize)]
struct ChallengeAnswer {
    challenge: String,
    expires: String,
}

#[derive(Serialize)]
struct PukAnswer<'a> {
    puk: &'a str,
}

/// A line of DIR/puk-lookups.log.
#[derive(Serialize)]
struct PukLogLine<'a> {
    time: String,
    /// "challenge" or "lookup".
    request: &'static str,
    operator: &'a str,
    /// The HSA-id asked about (for a challenge, as given, even when no holder has it).
    customer: &'a str,
    /// A challenge: whether a holder has that HSA-id.
    #[serde(skip_serializing_if = "Option::is_none")]
    found: Option<bool>,
    /// A lookup: why the PUK was needed.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
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
