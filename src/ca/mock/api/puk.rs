//! PUK challenges and lookups at the CA mock: a PUK only for an operator, with what the desk
//! read from the customer's card, against a fresh single-use challenge; the challenges counted
//! against a limit ([`RateLimit`](super::state::RateLimit)) kept in the store, and each one and
//! each lookup logged to DIR/puk-lookups.log before the answer leaves.

use std::io::Write;

use base64::Engine;
use serde::Serialize;

use crate::ca::RefusalCode;
use crate::ca::contract::{self as api, PUK_CHALLENGE_SECONDS};
use crate::ca::mock::error::MockError;
use crate::ca::mock::persons::Person;
use crate::ca::mock::refusal::Rejection;
use crate::ca::mock::store::ChallengeOutcome;
use crate::pki::CertInfo;

use super::exchange::{Reply, Request, rfc3339, store_failed};
use super::login::check_login_certificate;
use super::state::Ca;

impl Ca {
    /// Count a PUK challenge by `operator` (every lookup needs one), or refuse it when the
    /// window is full. The count is in the store, so a restart of the CA keeps it.
    fn take_challenge(&self, operator: &str) -> Result<(), Rejection> {
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
            return Err(Rejection::too_many_lookups(
                rate.max,
                rate.window.as_secs().div_ceil(60),
                secs.unsigned_abs(),
                &at,
            ));
        }
        Ok(())
    }

    /// A challenge for one PUK lookup: issued to this operator for this customer, spent by the
    /// first lookup by them for that customer, void after [`PUK_CHALLENGE_SECONDS`]. Every
    /// request counts against the operator's limit and is logged, found or not: asking about
    /// HSA-ids is how a lookup starts, so probing for them is limited and on record too.
    pub(super) fn puk_challenge(&self, req: &Request<'_>) -> Result<Reply, Rejection> {
        let operator = self.operator(req, "asking for a PUK challenge")?.person;
        self.take_challenge(&operator.hsa_id)?;
        let ask: api::ChallengeRequest = serde_json::from_slice(req.body).map_err(|_| {
            Rejection::new(
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
        Ok(Reply::json(&api::Challenge {
            challenge,
            expires: rfc3339(expires),
        }))
    }

    fn customer(&self, hsa_id: &str) -> Result<&Person, Rejection> {
        self.persons.by_hsa_id(hsa_id.trim()).ok_or_else(|| {
            Rejection::new(
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
    pub(super) fn puk_lookup(&self, req: &Request<'_>) -> Result<Reply, Rejection> {
        let operator = self.operator(req, "looking up a PUK")?.person;
        // Not counted here: the challenge it needs was. Nothing about the customer is told
        // before the challenge matches, so a lookup without one probes nothing.
        let ask: api::PukLookup = serde_json::from_slice(req.body).map_err(|_| {
            Rejection::new(
                400,
                RefusalCode::BadRequest,
                "send JSON {\"hsa_id\", \"reason\", \"challenge\", \"customer_certificate\", \
                 \"card_serial\"}",
            )
        })?;
        let reason = ask.reason.unwrap_or_default();
        if reason.trim().is_empty() {
            return Err(Rejection::reason_missing());
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
        Ok(Reply::json(&api::PukAnswer {
            puk: customer.pins.puk.to_string(),
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
    ) -> Result<(), Rejection> {
        let challenge = challenge
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| Rejection::bad_challenge("the lookup names no challenge"))?;
        let now = crate::pki::date::now_unix();
        match self
            .store
            .spend_challenge(challenge, operator, customer, now)
            .map_err(store_failed)?
        {
            ChallengeOutcome::Spent => Ok(()),
            ChallengeOutcome::Unknown => Err(Rejection::bad_challenge(
                "this CA holds no such challenge (never issued, or expired and removed)",
            )),
            ChallengeOutcome::NotYours => Err(Rejection::bad_challenge(
                "that challenge was issued for another operator or customer",
            )),
            ChallengeOutcome::Used => {
                Err(Rejection::bad_challenge("that challenge was used already"))
            }
            ChallengeOutcome::Expired => {
                Err(Rejection::bad_challenge("that challenge has expired"))
            }
        }
    }

    /// What the desk read from the customer's card must be that holder's card as this CA
    /// issued it.
    fn check_customer_card(
        &self,
        customer: &Person,
        certificate: Option<&str>,
        card_serial: Option<&str>,
    ) -> Result<(), Rejection> {
        let der = certificate
            .map(|c| {
                let compact: String = c.chars().filter(|c| !c.is_ascii_whitespace()).collect();
                base64::engine::general_purpose::STANDARD.decode(compact)
            })
            .transpose()
            .map_err(|_| Rejection::customer_card("the customer's certificate is not base64"))?
            .ok_or_else(|| {
                Rejection::customer_card(
                    "the lookup carries no certificate from the customer's card",
                )
            })?;
        let info = CertInfo::from_der(&der)
            .map_err(|_| Rejection::customer_card("the customer's certificate cannot be read"))?;
        let infos: Vec<CertInfo> = self.login_cas.iter().map(|(_, c)| c.clone()).collect();
        check_login_certificate(&info, &infos).map_err(|_| {
            Rejection::customer_card(
                "the customer's certificate is not an authentication certificate of this CA",
            )
        })?;
        if info.subject.serial_number.as_deref() != Some(customer.hsa_id.as_str()) {
            return Err(Rejection::customer_card(
                "the certificate from the card names another holder",
            ));
        }
        if !info.is_valid_at(crate::pki::date::now_unix()) {
            return Err(Rejection::customer_card(
                "the certificate from the card is not valid today",
            ));
        }
        let stored = self
            .store
            .issued(&customer.hsa_id, &der)
            .map_err(store_failed)?;
        if stored.is_some_and(|c| c.replaced_at.is_some()) {
            return Err(Rejection::customer_card(
                "the certificate from the card was replaced by a renewal",
            ));
        }
        match card_serial.map(str::trim) {
            Some(serial) if serial == customer.card_serial.trim() => Ok(()),
            Some(_) => Err(Rejection::customer_card(
                "the card's serial is not that of the card this CA issued to the holder",
            )),
            None => Err(Rejection::customer_card(
                "the lookup carries no serial read from the customer's card",
            )),
        }
    }

    /// One JSON line per PUK challenge and per lookup, on disk before the answer leaves: no
    /// challenge and no PUK without a record.
    fn log_puk_request(&self, line: &PukLogLine<'_>) -> Result<(), Rejection> {
        self.append_puk_log(line).map_err(|e| {
            log::error!("PUK lookup log: {e}");
            Rejection::new(
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
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
