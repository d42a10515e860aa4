//! What a holder asks about themself: `me` (who the CA takes them to be, and what an enrolment
//! would do) and `certificates` (what the CA stands behind now).

use base64::Engine;

use crate::ca::RefusalCode;
use crate::ca::contract as api;
use crate::ca::mock::refusal::Rejection;

use super::exchange::{Reply, Request, rfc3339};
use super::state::Ca;

impl Ca {
    /// Who the caller is and what `simpleenroll` will do for them: `upgrade_allowed` only when
    /// a new key gets a certificate for some profile, else the refusal every one would get.
    pub(super) fn me(&self, req: &Request<'_>) -> Result<Reply, Rejection> {
        let login = self.login(req)?;
        let person = login.person;
        let refusal = self.enrolment_refusal(&login)?.map(|r| r.refusal);
        let profiles = person
            .allowed_profiles()
            .into_iter()
            .map(api::ProfileOffer::of)
            .collect();
        Ok(Reply::json(&api::Me {
            hsa_id: person.hsa_id.clone(),
            personnummer: person.personnummer.clone(),
            name: person.full_name(),
            organisation: Some(person.organisation.clone()),
            county: Some(person.county.clone()),
            upn: person.upn.clone(),
            upgrade_allowed: refusal.is_none(),
            refusal,
            deadline: Some(self.deadline.clone()),
            profiles,
        }))
    }

    pub(super) fn certificates(&self, req: &Request<'_>) -> Result<Reply, Rejection> {
        let person = self.caller(req)?;
        let stored = self.store.for_person(&person.hsa_id).map_err(|e| {
            log::error!("store: {e}");
            Rejection::new(
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
            .map(|c| api::CertificateEntry {
                label: c.label,
                serial: c.serial_hex,
                not_after: rfc3339(c.not_after),
                der_base64: base64::engine::general_purpose::STANDARD.encode(&c.der),
            })
            .collect();
        Ok(Reply::json(&api::Certificates { certificates }))
    }
}
