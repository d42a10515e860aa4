//! The CA's wire contract (docs/ca-api.md "Endpoints" and "JSON bodies"): every path, media type
//! and JSON body that the client sends and reads, the mock routes and answers, and the desk's
//! audit anchors carry. Written once, so the two sides cannot drift apart and a new endpoint is
//! one path and its bodies here.
//!
//! Optional fields are `#[serde(default)]`: the client reads what a CA leaves out as absent
//! rather than refusing the whole answer, and the mock reads a request's missing fields as
//! absent to give each its own refusal.

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::profile::{IdentityKind, Profile};
use super::refusal_code::RefusalCode;
use crate::pki::Purpose;

/// EST (RFC 7030): `EST_PREFIX` + `LABEL/OPERATION`, or + `cacerts` for the default CA.
pub const EST_PREFIX: &str = "/.well-known/est/";
/// EST operations, each after a profile's label ([`est_path`]).
pub const CACERTS: &str = "cacerts";
pub const CSRATTRS: &str = "csrattrs";
pub const SIMPLEENROLL: &str = "simpleenroll";
pub const SIMPLEREENROLL: &str = "simplereenroll";

/// The JSON API.
pub const API_PREFIX: &str = "/api/v1/";
pub const ME: &str = "/api/v1/me";
pub const CERTIFICATES: &str = "/api/v1/certificates";
pub const PUK_CHALLENGE: &str = "/api/v1/puk-challenge";
pub const PUK_LOOKUP: &str = "/api/v1/puk-lookup";
/// Where the desk sends an anchor (POST).
pub const AUDIT_ANCHOR: &str = "/api/v1/audit-anchor";
/// Where an operator reads a log's anchors (GET `?log=<id>`).
pub const AUDIT_ANCHORS: &str = "/api/v1/audit-anchors";
/// Where an operator reads the logs of an operator (GET `?operator=<HSA-id>`).
pub const AUDIT_LOGS: &str = "/api/v1/audit-logs";
/// The query parameters of [`AUDIT_ANCHORS`] and [`AUDIT_LOGS`].
pub const LOG_QUERY: &str = "log";
pub const OPERATOR_QUERY: &str = "operator";

/// Media types both sides name.
pub const JSON: &str = "application/json";
/// An EST certificate request (RFC 7030 4.2.1), base64 DER.
pub const PKCS10: &str = "application/pkcs10";

/// The path of an EST `operation` for `profile`, or of the default CA's (`None`).
pub fn est_path(profile: Option<Profile>, operation: &str) -> String {
    match profile {
        Some(profile) => format!("{EST_PREFIX}{}/{operation}", profile.label()),
        None => format!("{EST_PREFIX}{operation}"),
    }
}

/// A refusal as the CA words it, the body of every answer that is not 2xx (and `Me::refusal`):
/// a stable code the client acts on and a message with the next step for the person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub error: RefusalCode,
    #[serde(default)]
    pub message: String,
}

/// `GET` [`ME`]: who the CA takes the caller to be and what they will get.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub hsa_id: String,
    pub personnummer: String,
    pub name: String,
    #[serde(default)]
    pub organisation: Option<String>,
    #[serde(default)]
    pub county: Option<String>,
    #[serde(default)]
    pub upn: Option<String>,
    pub upgrade_allowed: bool,
    #[serde(default)]
    pub refusal: Option<Refusal>,
    /// RFC 3339 date after which upgrades are refused.
    #[serde(default)]
    pub deadline: Option<String>,
    #[serde(default)]
    pub profiles: Vec<ProfileOffer>,
}

/// One profile the CA will issue to the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileOffer {
    pub label: String,
    /// `"hsa-id"` or `"personnummer"` on the wire; None: left out, or a word this version does
    /// not know (the label still decides what is enrolled).
    #[serde(
        default,
        with = "offered_identity",
        skip_serializing_if = "Option::is_none"
    )]
    pub identity: Option<IdentityKind>,
    /// `"authentication"` or `"signature"` on the wire; None as for `identity`.
    #[serde(
        default,
        with = "offered_purpose",
        skip_serializing_if = "Option::is_none"
    )]
    pub purpose: Option<Purpose>,
    #[serde(default)]
    pub trust_level: Option<u8>,
}

impl ProfileOffer {
    /// `None` for a label this version does not know (and so will not enrol).
    pub fn profile(&self) -> Option<Profile> {
        Profile::from_label(&self.label)
    }

    /// What the CA offers for `profile`, in the contract's words.
    pub fn of(profile: Profile) -> ProfileOffer {
        ProfileOffer {
            label: profile.label().into(),
            identity: Some(profile.identity()),
            purpose: Some(profile.purpose()),
            trust_level: Some(profile.trust_level()),
        }
    }
}

/// A typed field that travels as one of a few words; a word this version does not know reads
/// as None rather than refusing the whole answer.
macro_rules! worded {
    ($module:ident, $type:ty, $($value:path => $word:literal),+ $(,)?) => {
        mod $module {
            use serde::{Deserialize, Deserializer, Serializer};

            pub fn serialize<S: Serializer>(v: &Option<$type>, s: S) -> Result<S::Ok, S::Error> {
                match v {
                    $(Some($value) => s.serialize_str($word),)+
                    _ => s.serialize_none(),
                }
            }

            pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<$type>, D::Error> {
                Ok(match Option::<String>::deserialize(d)?.as_deref() {
                    $(Some($word) => Some($value),)+
                    _ => None,
                })
            }
        }
    };
}
worded!(offered_identity, crate::ca::profile::IdentityKind,
    crate::ca::profile::IdentityKind::HsaId => "hsa-id",
    crate::ca::profile::IdentityKind::Personnummer => "personnummer");
worded!(offered_purpose, crate::pki::Purpose,
    crate::pki::Purpose::Authentication => "authentication",
    crate::pki::Purpose::Signature => "signature");

/// `GET` [`CERTIFICATES`]: the caller's current certificates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificates {
    pub certificates: Vec<CertificateEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateEntry {
    pub label: String,
    /// Lower-case hex.
    #[serde(default)]
    pub serial: String,
    /// RFC 3339 UTC.
    #[serde(default)]
    pub not_after: String,
    pub der_base64: String,
}

/// `POST` [`PUK_CHALLENGE`]: the customer the next lookup will be for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeRequest {
    pub hsa_id: String,
}

/// The answer to a [`ChallengeRequest`]: good for one lookup, until `expires`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    pub challenge: String,
    /// RFC 3339 UTC.
    #[serde(default)]
    pub expires: String,
}

/// How long a PUK challenge may wait for its lookup: the desk asks for it right before.
pub const PUK_CHALLENGE_SECONDS: i64 = 120;

/// `POST` [`PUK_LOOKUP`]: the customer, why, the challenge, and what the desk read from the
/// customer's card. Only `hsa_id` must be there: the CA refuses each missing field by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PukLookup {
    pub hsa_id: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub challenge: Option<String>,
    /// Base64 DER of the authentication certificate read from the customer's card.
    #[serde(default)]
    pub customer_certificate: Option<String>,
    /// The serial the customer's card reports.
    #[serde(default)]
    pub card_serial: Option<String>,
}

/// The answer to a [`PukLookup`]; wiped when dropped, on either side.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct PukAnswer {
    pub puk: String,
}

impl std::fmt::Debug for PukAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PukAnswer { .. }")
    }
}

/// `POST` [`AUDIT_ANCHOR`], what the desk sends the CA for one audit entry: no name or HSA-id,
/// only the hash and the action (`audit::anchor` says why).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    /// The log's id: its first entry's hash.
    pub log: String,
    pub seq: u64,
    pub hash: String,
    /// The entry's action, as in the file (`puk-lookup`, …).
    pub action: String,
    /// The desk (computer) that keeps the log, as it names itself: a log belongs to one desk.
    #[serde(default)]
    pub desk: String,
}

/// The most bytes of UTF-8 a desk name may have: [`Anchor::is_well_formed`] and so the CA
/// allow no more.
pub const DESK_NAME_MAX_BYTES: usize = 64;

impl Anchor {
    /// Whether the fields have the shapes the desk writes (64 lower-case hex digits, an entry
    /// number from 1, a short kebab-case action), and the first entry's hash is the log's id.
    pub fn is_well_formed(&self) -> bool {
        is_hash(&self.log)
            && is_hash(&self.hash)
            && self.seq >= 1
            && (self.seq != 1 || self.hash == self.log)
            && !self.action.is_empty()
            && self.action.len() <= 40
            && self
                .action
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'-')
            && self.desk.len() <= DESK_NAME_MAX_BYTES
            && !self.desk.chars().any(char::is_control)
    }
}

fn is_hash(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The answer to an [`Anchor`] the CA kept (or already held with the same hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnchorStored {
    pub stored: bool,
}

/// One anchor as the CA lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAnchor {
    pub seq: u64,
    pub hash: String,
    pub action: String,
    /// When the CA received it (RFC 3339 UTC).
    pub received: String,
}

/// `GET` [`AUDIT_ANCHORS`] `?log=<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnchorList {
    pub log: String,
    /// The operator who owns the log (`None`: the CA never heard of it).
    #[serde(default)]
    pub operator: Option<String>,
    pub anchors: Vec<StoredAnchor>,
}

/// One log of an operator as the CA lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogInfo {
    pub log: String,
    pub desk: String,
    /// RFC 3339 UTC.
    pub first_received: String,
    pub last_received: String,
    pub anchors: u64,
    pub last_seq: u64,
}

/// `GET` [`AUDIT_LOGS`] `?operator=<HSA-id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogList {
    pub operator: String,
    pub logs: Vec<LogInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn est_paths_name_the_profile_and_operation() {
        assert_eq!(
            est_path(Some(Profile::HsaAuth), SIMPLEENROLL),
            "/.well-known/est/hsa-auth/simpleenroll"
        );
        assert_eq!(est_path(None, CACERTS), "/.well-known/est/cacerts");
    }

    #[test]
    fn an_offer_travels_in_the_contracts_words_and_unknown_words_read_as_absent() {
        let offer = ProfileOffer::of(Profile::PnrSign);
        let json = serde_json::to_value(&offer).unwrap();
        assert_eq!(json["identity"], "personnummer");
        assert_eq!(json["purpose"], "signature");
        assert_eq!(serde_json::from_value::<ProfileOffer>(json).unwrap(), offer);
        let odd: ProfileOffer =
            serde_json::from_str(r#"{"label":"hsa-auth","identity":"passport","purpose":null}"#)
                .unwrap();
        assert_eq!((odd.identity, odd.purpose), (None, None));
        assert_eq!(odd.profile(), Some(Profile::HsaAuth));
    }
}
