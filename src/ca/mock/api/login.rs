//! Who logged in, and what a login may do: only an authentication certificate of one of DIR's
//! person CAs logs in; level 3 for issuance and service-centre work; operators for the
//! service-centre paths, with a certificate no renewal replaced.

use crate::ca::mock::dir::CaName;
use crate::ca::mock::persons::Person;
use crate::ca::mock::refusal::Rejection;
use crate::pki::CertInfo;
use crate::pki::cert::{KeyUsageBit, OID_EKU_CLIENT_AUTH};

use super::exchange::{Request, rfc3339, store_failed};
use super::state::Ca;

impl Ca {
    /// The person the client certificate names.
    pub(super) fn caller<'a>(&'a self, req: &'a Request<'_>) -> Result<&'a Person, Rejection> {
        Ok(self.login(req)?.person)
    }

    /// Who logged in, with which certificate, issued by which of DIR's CAs.
    pub(super) fn login<'a>(&'a self, req: &'a Request<'_>) -> Result<Login<'a>, Rejection> {
        let der = req
            .client_cert
            .ok_or_else(Rejection::no_client_certificate)?;
        let info = CertInfo::from_der(der).map_err(|_| Rejection::unknown_person())?;
        let infos: Vec<CertInfo> = self.login_cas.iter().map(|(_, c)| c.clone()).collect();
        check_login_certificate(&info, &infos)?;
        let ca = self
            .login_cas
            .iter()
            .find(|(_, c)| info.verify_issued_by(c).is_ok())
            .map(|(name, _)| *name)
            .ok_or_else(Rejection::unknown_person)?;
        let serial = info
            .subject
            .serial_number
            .as_deref()
            .ok_or_else(Rejection::unknown_person)?;
        let person = self
            .persons
            .by_serial_number(serial)
            .ok_or_else(Rejection::unknown_person)?;
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
    pub(super) fn operator<'a>(
        &'a self,
        req: &'a Request<'_>,
        what: &str,
    ) -> Result<Login<'a>, Rejection> {
        let login = self.login(req)?;
        if !login.person.operator {
            return Err(Rejection::not_operator(what));
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
            return Err(Rejection::login_replaced(&rfc3339(replaced_at)));
        }
        Ok(login)
    }
}

/// Only an authentication certificate logs in: digitalSignature key usage, clientAuth
/// among its extended key usages if it lists any, issued by one of DIR's person CAs.
/// A signature (nonRepudiation) certificate proves a signature, not a login.
pub fn check_login_certificate(info: &CertInfo, login_cas: &[CertInfo]) -> Result<(), Rejection> {
    if info.is_ca {
        return Err(Rejection::not_authentication_certificate(
            "a CA certificate cannot log in",
        ));
    }
    if !info.key_usage.contains(&KeyUsageBit::DigitalSignature) {
        return Err(Rejection::not_authentication_certificate(
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
        return Err(Rejection::not_authentication_certificate(
            "the certificate's extended key usage does not include client authentication",
        ));
    }
    if !login_cas.iter().any(|ca| info.verify_issued_by(ca).is_ok()) {
        return Err(Rejection::not_authentication_certificate(
            "the certificate was not issued by one of the SITHS person CAs",
        ));
    }
    Ok(())
}

/// Who logged in: the person, the certificate, and which of DIR's CAs issued it.
pub(super) struct Login<'a> {
    pub(super) person: &'a Person,
    pub(super) der: &'a [u8],
    ca: CaName,
    #[allow(dead_code)]
    info: CertInfo,
}

impl Login<'_> {
    /// Level 2 logs in for what concerns the holder (`me`, `certificates`) but never gets a
    /// level-3 certificate or does service-centre work: that takes an identity check at level 3.
    pub(super) fn level_3(&self, what: &str) -> Result<(), Rejection> {
        match self.ca.trust_level() {
            Some(3) => Ok(()),
            _ => Err(Rejection::trust_level_too_low(what)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ca::RefusalCode;
    use crate::pki::TestCa;

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
        let code =
            |info: &CertInfo| check_login_certificate(info, &cas).map_err(|r| r.refusal.error);
        assert_eq!(code(&person(&person_ca, Purpose::Authentication)), Ok(()));
        let signing =
            check_login_certificate(&person(&person_ca, Purpose::Signature), &cas).unwrap_err();
        assert_eq!(
            (signing.status, signing.refusal.error),
            (403, RefusalCode::NotAuthenticationCertificate)
        );
        assert!(
            signing.refusal.message.contains("signature certificate"),
            "{}",
            signing.refusal.message
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
        let rejection = check_login_certificate(&server, &cas).unwrap_err();
        assert!(
            rejection.refusal.message.contains("client authentication"),
            "{}",
            rejection.refusal.message
        );
        // A CA certificate.
        assert_eq!(
            code(person_ca.info()),
            Err(RefusalCode::NotAuthenticationCertificate)
        );
    }
}
