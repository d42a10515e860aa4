//! EST `simplereenroll` at the CA mock: a renewal only with the pair's current authentication
//! certificate, inside the renewal window, for a new key, replacing the old certificate; a
//! renewal already issued is given back to the key it certified.

use crate::ca::Profile;
use crate::ca::mock::csr;
use crate::ca::mock::refusal::Rejection;
use crate::ca::mock::store::StoredCert;
use crate::pki::expiry::{RENEWAL_WINDOW_DAYS, renewal_window_opens};

use super::exchange::{Reply, Request, rfc3339, store_failed};
use super::issue::{certs_reply, decode_body};
use super::state::Ca;

impl Ca {
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
    pub(super) fn reenroll(&self, req: &Request<'_>, profile: Profile) -> Result<Reply, Rejection> {
        let login = self.login(req)?;
        let person = login.person;
        login.level_3("renewing a level-3 certificate")?;
        if !person.profile_allowed(profile) {
            return Err(Rejection::profile_not_allowed(profile.label()));
        }
        let auth = pair_auth(profile);
        let held = self
            .store
            .issued(&person.hsa_id, login.der)
            .map_err(store_failed)?
            .filter(|h| h.label == auth.label())
            .ok_or_else(|| Rejection::renew_with_pair_certificate(profile.label(), auth.label()))?;
        let der = decode_body(req.body)?;
        let spki = csr::check(&der, person.identity_for(profile))?;
        let now = crate::pki::date::now_unix();
        if let Some(existing) = self
            .store
            .find(&person.hsa_id, profile, &spki)
            .map_err(store_failed)?
        {
            if existing.replaced_at.is_some() {
                return Err(Rejection::key_replaced(profile.label()));
            }
            if !Self::renewal_under_way(&existing, &held, now) {
                return Err(Rejection::renewal_needs_new_key(
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
            .ok_or_else(|| Rejection::nothing_to_renew(profile.label()))?;
        // A replaced login certificate finishes its own renewal: the signature certificate not
        // yet renewed with it.
        if let Some(replaced_at) = held.replaced_at
            && (profile == auth || current.renewed_with.as_deref() == Some(&held.serial_hex))
        {
            return Err(Rejection::login_replaced(&rfc3339(replaced_at)));
        }
        // Open when either window is: the first moment of the earlier one.
        let opens =
            renewal_window_opens(current.not_after).min(renewal_window_opens(held.not_after));
        if now < opens {
            let login_end = rfc3339(held.not_after);
            let login = (held.serial_hex != current.serial_hex)
                .then_some((auth.label(), login_end.as_str()));
            return Err(Rejection::renewal_not_due(
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
}

/// The authentication profile of the pair `profile` belongs to: the certificate that logs in
/// to renew it.
fn pair_auth(profile: Profile) -> Profile {
    match profile.purpose() {
        crate::pki::Purpose::Authentication => profile,
        _ => profile.partner(),
    }
}
