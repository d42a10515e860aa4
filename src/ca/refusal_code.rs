//! The CA's refusal codes, one enum for the CA mock that sends them and the client that acts on
//! them, so the two can never drift apart (they were strings on both sides).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why the CA said no, as the JSON field `error` carries it (`"deadline_passed"`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusalCode {
    NoClientCertificate,
    UnknownPerson,
    BadCsr,
    BadKey,
    WrongIdentity,
    ProfileNotAllowed,
    UpgradeNotAllowed,
    DeadlinePassed,
    UnknownProfile,
    NotOperator,
    ReasonMissing,
    /// A signing (or other) certificate tried to log in: only authentication certificates may.
    NotAuthenticationCertificate,
    /// Too many PUK challenges (one per lookup) by one operator in a short time (HTTP 429).
    TooManyLookups,
    BadAnchor,
    AnchorConflict,
    /// simplereenroll for a certificate the caller does not hold.
    NothingToRenew,
    /// simplereenroll logged in with a certificate that is not the current authentication
    /// certificate of the pair being renewed (the legacy one, another pair's, a level-2 one).
    RenewWithPairCertificate,
    /// simplereenroll before the certificate's renewal window opens.
    RenewalNotDue,
    /// A login with an authentication certificate a renewal already replaced: simplereenroll
    /// (except to finish its own pair) and every operator path.
    LoginReplaced,
    /// simplereenroll with the key of the certificate being renewed: a renewal needs a new key.
    RenewalNeedsNewKey,
    /// An enrolment for a key whose certificate a renewal replaced.
    KeyReplaced,
    /// simpleenroll for a profile that already has a current certificate with another key.
    AlreadyEnrolled,
    /// A level-2 login asked for level-3 issuance or service-centre work.
    TrustLevelTooLow,
    /// A PUK lookup without a fresh, unused challenge of this CA for this operator and customer.
    BadChallenge,
    /// A PUK lookup without the certificate and serial read from the customer's own card.
    CustomerCardNotShown,
    /// An audit anchor for a log another operator owns.
    LogOfAnotherOperator,
    /// An audit anchor for a log the same operator keeps at another desk.
    LogOfAnotherDesk,
    /// A request body of the wrong media type (HTTP 415).
    UnsupportedMediaType,
    NotFound,
    MethodNotAllowed,
    BadRequest,
    TooLarge,
    Internal,
    /// A code this version does not know (a newer CA), or an answer without one: the client
    /// shows the CA's own message.
    Unknown,
}

impl RefusalCode {
    const NAMED: [(RefusalCode, &'static str); 33] = [
        (RefusalCode::NoClientCertificate, "no_client_certificate"),
        (RefusalCode::UnknownPerson, "unknown_person"),
        (RefusalCode::BadCsr, "bad_csr"),
        (RefusalCode::BadKey, "bad_key"),
        (RefusalCode::WrongIdentity, "wrong_identity"),
        (RefusalCode::ProfileNotAllowed, "profile_not_allowed"),
        (RefusalCode::UpgradeNotAllowed, "upgrade_not_allowed"),
        (RefusalCode::DeadlinePassed, "deadline_passed"),
        (RefusalCode::UnknownProfile, "unknown_profile"),
        (RefusalCode::NotOperator, "not_operator"),
        (RefusalCode::ReasonMissing, "reason_missing"),
        (
            RefusalCode::NotAuthenticationCertificate,
            "not_authentication_certificate",
        ),
        (RefusalCode::TooManyLookups, "too_many_lookups"),
        (RefusalCode::BadAnchor, "bad_anchor"),
        (RefusalCode::AnchorConflict, "anchor_conflict"),
        (RefusalCode::NothingToRenew, "nothing_to_renew"),
        (
            RefusalCode::RenewWithPairCertificate,
            "renew_with_pair_certificate",
        ),
        (RefusalCode::RenewalNotDue, "renewal_not_due"),
        (RefusalCode::LoginReplaced, "login_replaced"),
        (RefusalCode::RenewalNeedsNewKey, "renewal_needs_new_key"),
        (RefusalCode::KeyReplaced, "key_replaced"),
        (RefusalCode::AlreadyEnrolled, "already_enrolled"),
        (RefusalCode::TrustLevelTooLow, "trust_level_too_low"),
        (RefusalCode::BadChallenge, "bad_challenge"),
        (RefusalCode::CustomerCardNotShown, "customer_card_not_shown"),
        (RefusalCode::LogOfAnotherOperator, "log_of_another_operator"),
        (RefusalCode::LogOfAnotherDesk, "log_of_another_desk"),
        (RefusalCode::UnsupportedMediaType, "unsupported_media_type"),
        (RefusalCode::NotFound, "not_found"),
        (RefusalCode::MethodNotAllowed, "method_not_allowed"),
        (RefusalCode::BadRequest, "bad_request"),
        (RefusalCode::TooLarge, "too_large"),
        (RefusalCode::Internal, "internal"),
    ];

    /// The code as it travels in JSON.
    pub fn as_str(self) -> &'static str {
        Self::NAMED
            .iter()
            .find(|(c, _)| *c == self)
            .map_or("unknown", |(_, s)| s)
    }

    /// The code for a name; unknown names give [`RefusalCode::Unknown`].
    pub fn parse(name: &str) -> RefusalCode {
        Self::NAMED
            .iter()
            .find(|(_, s)| *s == name)
            .map_or(RefusalCode::Unknown, |(c, _)| *c)
    }
}

impl fmt::Display for RefusalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RefusalCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RefusalCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Ok(RefusalCode::parse(&name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_and_strangers_are_unknown() {
        for (code, name) in RefusalCode::NAMED {
            assert_eq!(code.as_str(), name);
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<RefusalCode>(&json).unwrap(), code);
        }
        assert_eq!(
            serde_json::from_str::<RefusalCode>("\"rate_limited_v9\"").unwrap(),
            RefusalCode::Unknown
        );
    }
}
