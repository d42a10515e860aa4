//! The CA mock's refusals as the contract names them (docs/ca-api.md "Refusals"): an HTTP
//! status and the contract's [`Refusal`] body, a stable code the client can act on and a message
//! that tells the person what to do next. The wording is the mock's; the shape is the contract's.

use crate::ca::RefusalCode;
use crate::ca::contract::{PUK_CHALLENGE, PUK_CHALLENGE_SECONDS, Refusal};

/// A request the CA turns down: the status it answers with and the body it sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    pub refusal: Refusal,
}

impl Rejection {
    pub fn new(status: u16, code: RefusalCode, message: impl Into<String>) -> Rejection {
        Rejection {
            status,
            refusal: Refusal {
                error: code,
                message: message.into(),
            },
        }
    }

    pub fn no_client_certificate() -> Rejection {
        Rejection::new(
            401,
            RefusalCode::NoClientCertificate,
            "no client certificate was presented; insert your SITHS card and log in with its \
             identification certificate",
        )
    }

    pub fn unknown_person() -> Rejection {
        Rejection::new(
            403,
            RefusalCode::UnknownPerson,
            "the certificate's holder is not in the directory; contact your SITHS service centre",
        )
    }

    pub fn bad_csr(message: String) -> Rejection {
        Rejection::new(400, RefusalCode::BadCsr, message)
    }

    pub fn bad_key(message: String) -> Rejection {
        Rejection::new(400, RefusalCode::BadKey, message)
    }

    pub fn wrong_identity(message: String) -> Rejection {
        Rejection::new(403, RefusalCode::WrongIdentity, message)
    }

    pub fn profile_not_allowed(label: &str) -> Rejection {
        Rejection::new(
            403,
            RefusalCode::ProfileNotAllowed,
            format!(
                "{label} needs trust level 3, which a samordningsnummer cannot give; use the \
                 HSA-id certificates, or contact your service centre once you have a personnummer"
            ),
        )
    }

    pub fn upgrade_not_allowed() -> Rejection {
        Rejection::new(
            403,
            RefusalCode::UpgradeNotAllowed,
            "your card may not be upgraded; contact your SITHS service centre for a new card",
        )
    }

    pub fn deadline_passed(deadline: &str) -> Rejection {
        Rejection::new(
            403,
            RefusalCode::DeadlinePassed,
            format!(
                "upgrades ended on {deadline}; contact your SITHS service centre for a new card"
            ),
        )
    }

    pub fn unknown_profile(label: &str) -> Rejection {
        let label: String = label.chars().filter(|c| !c.is_control()).take(40).collect();
        Rejection::new(
            404,
            RefusalCode::UnknownProfile,
            format!("there is no profile {label:?}; use hsa-auth, hsa-sign, pnr-auth or pnr-sign"),
        )
    }

    /// `what` names the path's work ("looking up a PUK", "reading audit logs").
    pub fn not_operator(what: &str) -> Rejection {
        Rejection::new(
            403,
            RefusalCode::NotOperator,
            format!(
                "{what} is for service-centre operators only; log in with an operator's card, or \
                 ask your service centre"
            ),
        )
    }

    pub fn reason_missing() -> Rejection {
        Rejection::new(
            400,
            RefusalCode::ReasonMissing,
            "write why the PUK is needed (e.g. the holder's identity check) in \"reason\"",
        )
    }

    /// A certificate that is not for logging in (a signature certificate, a server
    /// certificate, one issued outside the person CAs).
    pub fn not_authentication_certificate(why: &str) -> Rejection {
        Rejection::new(
            403,
            RefusalCode::NotAuthenticationCertificate,
            format!(
                "{why}; log in with the identification (authentication) certificate on your \
                 SITHS card, not the signature certificate"
            ),
        )
    }

    /// Too many PUK challenges (one per lookup) by one operator in a short time.
    pub fn too_many_lookups(
        max: u32,
        window_minutes: u64,
        retry_in_seconds: u64,
        at: &str,
    ) -> Rejection {
        Rejection::new(
            429,
            RefusalCode::TooManyLookups,
            format!(
                "you have asked for {max} PUK challenges (one for each lookup) in the last \
                 {window_minutes} minutes, the most the CA allows; try again in \
                 {retry_in_seconds} seconds (at {at})"
            ),
        )
    }

    /// An audit anchor that is not shaped as the desk sends it.
    pub fn bad_anchor() -> Rejection {
        Rejection::new(
            400,
            RefusalCode::BadAnchor,
            "send JSON {\"log\", \"seq\", \"hash\", \"action\"}: the log's id and the entry's \
             hash as 64 lower-case hex digits, its number from 1, its action in kebab-case",
        )
    }

    /// An anchor for an entry the CA already holds with another hash.
    pub fn anchor_conflict(seq: u64) -> Rejection {
        Rejection::new(
            409,
            RefusalCode::AnchorConflict,
            format!(
                "the CA already holds another hash for entry {seq} of this audit log: the log was \
                 rewritten or two desks share it; keep the log unchanged and report it"
            ),
        )
    }

    pub fn nothing_to_renew(label: &str) -> Rejection {
        Rejection::new(
            403,
            RefusalCode::NothingToRenew,
            format!(
                "you hold no current {label} certificate from this CA to renew; use simpleenroll"
            ),
        )
    }

    /// A renewal logged in with anything but the pair's current authentication certificate.
    pub fn renew_with_pair_certificate(label: &str, auth: &str) -> Rejection {
        Rejection::new(
            403,
            RefusalCode::RenewWithPairCertificate,
            format!(
                "{label} is renewed only while logged in with your current {auth} certificate \
                 from this CA (not the old card certificate, nor another pair's); log in with it \
                 and renew again"
            ),
        )
    }

    /// `login`: the label and end of the login certificate when it is not the one renewed
    /// (its window counts too); `opens`: the first moment either window is open.
    pub fn renewal_not_due(
        label: &str,
        not_after: &str,
        login: Option<(&str, &str)>,
        opens: &str,
    ) -> Rejection {
        let days = crate::pki::expiry::RENEWAL_WINDOW_DAYS;
        let message = match login {
            None => format!(
                "your {label} certificate is valid until {not_after}; it can be renewed from \
                 {opens} on, once it has at most {days} days left (whole days, rounded down)"
            ),
            Some((auth, login_end)) => format!(
                "your {label} certificate is valid until {not_after}, and the {auth} certificate \
                 you logged in with until {login_end}; {label} can be renewed from {opens} on, \
                 once either has at most {days} days left (whole days, rounded down)"
            ),
        };
        Rejection::new(403, RefusalCode::RenewalNotDue, message)
    }

    /// A renewal whose request carries the key of the certificate it would renew.
    pub fn renewal_needs_new_key(label: &str, serial: &str) -> Rejection {
        Rejection::new(
            409,
            RefusalCode::RenewalNeedsNewKey,
            format!(
                "this key is the one your {label} certificate (serial {serial}) already \
                 certifies, so nothing was renewed; make a new key and renew with a request \
                 for it"
            ),
        )
    }

    /// `me` for a holder who holds a current certificate of every profile: no enrolment has
    /// anything to issue.
    pub fn all_enrolled() -> Rejection {
        Rejection::new(
            409,
            RefusalCode::AlreadyEnrolled,
            "you already hold a current certificate of every profile; an enrolment gives back \
             only the certificate of a key it names, so renew them with simplereenroll when due",
        )
    }

    pub fn login_replaced(at: &str) -> Rejection {
        Rejection::new(
            403,
            RefusalCode::LoginReplaced,
            format!(
                "the certificate you logged in with was replaced by a renewal at {at}; log in \
                 with the new one"
            ),
        )
    }

    pub fn key_replaced(label: &str) -> Rejection {
        Rejection::new(
            409,
            RefusalCode::KeyReplaced,
            format!(
                "this key's {label} certificate was replaced by a renewal; make a new key and \
                 renew with it"
            ),
        )
    }

    pub fn already_enrolled(label: &str, serial: &str, not_after: &str) -> Rejection {
        Rejection::new(
            409,
            RefusalCode::AlreadyEnrolled,
            format!(
                "you already hold a current {label} certificate (serial {serial}, valid until \
                 {not_after}) for another key; fetch it with the key it names, or renew it with \
                 simplereenroll when it is due"
            ),
        )
    }

    /// Level 2 logs in, but gets no level-3 certificate and does no service-centre work.
    pub fn trust_level_too_low(what: &str) -> Rejection {
        Rejection::new(
            403,
            RefusalCode::TrustLevelTooLow,
            format!(
                "{what} needs a login at trust level 3, and this certificate is level 2; \
                 contact your SITHS service centre for an identity check"
            ),
        )
    }

    pub fn bad_challenge(why: &str) -> Rejection {
        Rejection::new(
            403,
            RefusalCode::BadChallenge,
            format!(
                "{why}; ask for a new one (POST {PUK_CHALLENGE}) right before the lookup: each \
                 is for one lookup by you for that customer, within {PUK_CHALLENGE_SECONDS} \
                 seconds"
            ),
        )
    }

    pub fn customer_card(why: &str) -> Rejection {
        Rejection::new(
            403,
            RefusalCode::CustomerCardNotShown,
            format!(
                "{why}; a PUK is given only for the customer's own card in the desk's reader: \
                 send the authentication certificate and the serial read from it"
            ),
        )
    }

    /// An anchor for a log that is someone else's (or the same operator's at another desk).
    pub fn log_of_another(same_operator: bool) -> Rejection {
        if same_operator {
            Rejection::new(
                403,
                RefusalCode::LogOfAnotherDesk,
                "this audit log was started at another desk; each desk keeps its own log, so \
                 anchor this desk's entries in this desk's log",
            )
        } else {
            Rejection::new(
                403,
                RefusalCode::LogOfAnotherOperator,
                "this audit log belongs to another operator; log in with your own card at your \
                 own desk, and report a log that names you wrongly",
            )
        }
    }

    /// JSON body `{"error": …, "message": …}`.
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&self.refusal).unwrap_or_else(|_| b"{\"error\":\"internal\"}".to_vec())
    }
}
