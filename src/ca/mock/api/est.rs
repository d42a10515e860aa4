//! EST (RFC 7030) at the CA mock: `cacerts` (per profile and for the default CA), `csrattrs`
//! and `simpleenroll`, the upgrade's new certificates: one current certificate per holder and
//! profile, only for a level-3 login, only until the deadline. Renewal is `renew`'s.

use crate::ca::contract as api;
use crate::ca::mock::csr;
use crate::ca::mock::dir::parse_date;
use crate::ca::mock::error::MockError;
use crate::ca::mock::refusal::Rejection;
use crate::ca::{Profile, RefusalCode, pkcs7};
use crate::pki::Date;

use super::exchange::{Reply, Request, method_not_allowed, rfc3339, store_failed};
use super::issue::{EST_CERTS_CONTENT_TYPE, certs_reply, decode_body};
use super::login::Login;
use super::state::Ca;

/// What a level-3 login is needed for when a certificate is enrolled.
pub(super) const LEVEL_3_ISSUANCE: &str = "a level-3 certificate";

impl Ca {
    /// Everything under the EST prefix: `rest` is the path after it, `LABEL/OPERATION` or the
    /// default CA's `cacerts`.
    pub(super) fn est(&self, req: &Request<'_>, rest: &str) -> Result<Reply, Rejection> {
        // No label: the default CA (RFC 7030 3.2.2), whose cacerts are all of this CA's.
        if rest == api::CACERTS {
            return match req.method {
                "GET" => self.all_cacerts(),
                _ => Err(method_not_allowed()),
            };
        }
        let (label, op) = rest.split_once('/').unwrap_or((rest, ""));
        let profile =
            Profile::from_label(label).ok_or_else(|| Rejection::unknown_profile(label))?;
        match (req.method, op) {
            ("GET", api::CACERTS) => {
                let issuing = self.issuer(profile).cert_der();
                let body = pkcs7::certs_only_base64(&[issuing, &self.root_der])
                    .map_err(|e| Rejection::new(500, RefusalCode::Internal, e.to_string()))?;
                Ok(Reply {
                    status: 200,
                    content_type: "application/pkcs7-mime",
                    body: body.into_bytes(),
                })
            }
            ("POST", api::SIMPLEENROLL) => {
                Self::pkcs10_body(req)?;
                self.enroll(req, profile)
            }
            ("POST", api::SIMPLEREENROLL) => {
                Self::pkcs10_body(req)?;
                self.reenroll(req, profile)
            }
            ("GET", api::CSRATTRS) => Ok(Reply {
                status: 200,
                content_type: "application/csrattrs",
                body: Self::csr_attributes_base64().into_bytes(),
            }),
            (_, api::CACERTS | api::SIMPLEENROLL | api::SIMPLEREENROLL | api::CSRATTRS) => {
                Err(method_not_allowed())
            }
            _ => Err(Rejection::new(
                404,
                RefusalCode::NotFound,
                "this CA offers cacerts, csrattrs, simpleenroll and simplereenroll for each \
                 profile, and cacerts without a profile",
            )),
        }
    }

    /// The root and every issuing CA, the legacy one included: what a client needs to check
    /// any certificate this CA stands behind.
    fn all_cacerts(&self) -> Result<Reply, Rejection> {
        let mut certs: Vec<&[u8]> = self
            .login_cas
            .iter()
            .map(|(_, c)| c.der.as_slice())
            .collect();
        certs.push(&self.root_der);
        let body = pkcs7::certs_only_base64(&certs)
            .map_err(|e| Rejection::new(500, RefusalCode::Internal, e.to_string()))?;
        Ok(Reply {
            status: 200,
            content_type: "application/pkcs7-mime",
            body: body.into_bytes(),
        })
    }

    /// RFC 7030 4.2.1: a CSR is sent as `application/pkcs10` (base64 DER); anything else is 415.
    fn pkcs10_body(req: &Request<'_>) -> Result<(), Rejection> {
        let media = req
            .content_type
            .and_then(|t| t.split(';').next())
            .map(|t| t.trim().to_ascii_lowercase());
        if media.as_deref() == Some(api::PKCS10) {
            return Ok(());
        }
        Err(Rejection::new(
            415,
            RefusalCode::UnsupportedMediaType,
            format!(
                "send the certificate request as {} (base64 of the DER)",
                api::PKCS10
            ),
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

    /// Why a `simpleenroll` of a new key by this login would be refused for every profile, in
    /// the order `enroll` checks: the person's upgrade barred, a level-2 login, the deadline
    /// passed, or a current certificate of every profile held already. `me` says it.
    pub(super) fn enrolment_refusal(
        &self,
        login: &Login<'_>,
    ) -> Result<Option<Rejection>, Rejection> {
        let person = login.person;
        if !person.upgrade_allowed {
            return Ok(Some(Rejection::upgrade_not_allowed()));
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
        Ok(Some(Rejection::all_enrolled()))
    }

    /// The deadline for new certificates, if it has passed.
    fn deadline_refusal(&self) -> Option<Rejection> {
        deadline_passed(&self.deadline, Date::today())
            .then(|| Rejection::deadline_passed(&self.deadline))
    }

    /// `simpleenroll`: the upgrade's new certificates. One current certificate per holder and
    /// profile: the key already certified gets its certificate back (a resumed upgrade, even
    /// after the deadline: what was issued is the holder's), any other key is refused while
    /// that certificate stands (a renewal replaces it).
    pub(super) fn enroll(&self, req: &Request<'_>, profile: Profile) -> Result<Reply, Rejection> {
        let login = self.login(req)?;
        let person = login.person;
        if !person.upgrade_allowed {
            return Err(Rejection::upgrade_not_allowed());
        }
        login.level_3(LEVEL_3_ISSUANCE)?;
        if !person.profile_allowed(profile) {
            return Err(Rejection::profile_not_allowed(profile.label()));
        }
        let der = decode_body(req.body)?;
        let spki = csr::check(&der, person.identity_for(profile))?;
        let internal = |e: MockError| {
            log::error!("store: {e}");
            Rejection::new(
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
                .map_err(|e| Rejection::new(500, RefusalCode::Internal, e.to_string()))?;
            let body = pkcs7::certs_only_base64(&[&wrong])
                .map_err(|e| Rejection::new(500, RefusalCode::Internal, e.to_string()))?;
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
                return Err(Rejection::key_replaced(profile.label()));
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
            return Err(Rejection::already_enrolled(
                profile.label(),
                &current.serial_hex,
                &rfc3339(current.not_after),
            ));
        }
        self.issue(person, profile, &spki, None)
    }
}

/// Whether upgrades are over on `today` (an unreadable deadline counts as passed: refuse
/// rather than issue against a broken configuration).
pub fn deadline_passed(deadline: &str, today: Date) -> bool {
    parse_date(deadline).is_none_or(|d| today > d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines() {
        let day = |y, m, d| Date::new(y, m, d).unwrap();
        assert!(!deadline_passed("2027-06-30", day(2027, 6, 30)));
        assert!(deadline_passed("2027-06-30", day(2027, 7, 1)));
        assert!(deadline_passed("junk", day(2000, 1, 1)));
    }
}
