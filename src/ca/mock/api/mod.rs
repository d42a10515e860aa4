//! What the CA mock answers, independent of HTTP and TLS: EST `cacerts`, `csrattrs`,
//! `simpleenroll` and `simplereenroll` per profile label, and the JSON API (`me`,
//! `certificates`, `puk-challenge`, `puk-lookup`, `audit-anchor`, `audit-anchors`, `audit-logs`).
//! The server hands each request here with the client certificate TLS already verified against
//! DIR's CAs. The paths and bodies are the contract's ([`crate::ca::contract`]).
//!
//! The contract (docs/ca-api.md, and ARCHITECTURE.md "CA contract"): one current certificate
//! per holder and profile; a renewal only with the pair's current authentication certificate,
//! inside the renewal window, for a new key, replacing the old certificate; level-3 issuance
//! only for a level-3 login; service-centre work only with an operator's level-3 certificate no
//! renewal replaced; a PUK only with what the desk read from the customer's card, against a
//! fresh single-use challenge, the challenges within a limit kept on disk; an audit log owned by
//! whoever anchored it first.
//!
//! This module routes; each concern is a module of its own: `state` (what is loaded from DIR),
//! `exchange` (a request and its answer), `login` (who logged in, and what a login may do),
//! `est` (EST and enrolment), `renew` (renewal), `issue` (what both issue), `holder` (`me` and
//! `certificates`), `puk` (challenges and lookups with their limit), `anchors` (the desk audit
//! logs' anchors).

mod anchors;
mod est;
mod exchange;
mod holder;
mod issue;
mod login;
mod puk;
mod renew;
mod state;

pub use est::deadline_passed;
pub use exchange::{Reply, Request};
pub use login::check_login_certificate;
pub use state::{Ca, RateLimit};

use crate::ca::RefusalCode;
use crate::ca::contract as api;
use crate::ca::mock::refusal::Rejection;

use exchange::method_not_allowed;

impl Ca {
    /// Answer one request; never panics on what the client sent.
    pub fn handle(&self, req: &Request<'_>) -> Reply {
        let path = req.path.split('?').next().unwrap_or("");
        let result = if let Some(rest) = path.strip_prefix(api::EST_PREFIX) {
            self.est(req, rest)
        } else {
            match (req.method, path) {
                ("GET", api::ME) => self.me(req),
                ("GET", api::CERTIFICATES) => self.certificates(req),
                ("POST", api::PUK_CHALLENGE) => self.puk_challenge(req),
                ("POST", api::PUK_LOOKUP) => self.puk_lookup(req),
                ("POST", api::AUDIT_ANCHOR) => self.add_anchor(req),
                ("GET", api::AUDIT_ANCHORS) => self.anchors(req),
                ("GET", api::AUDIT_LOGS) => self.audit_logs(req),
                (
                    _,
                    api::ME
                    | api::CERTIFICATES
                    | api::PUK_CHALLENGE
                    | api::PUK_LOOKUP
                    | api::AUDIT_ANCHOR
                    | api::AUDIT_ANCHORS
                    | api::AUDIT_LOGS,
                ) => Err(method_not_allowed()),
                _ => Err(Rejection::new(
                    404,
                    RefusalCode::NotFound,
                    format!(
                        "no such address; the CA serves {}<profile>/ and {}",
                        api::EST_PREFIX,
                        api::API_PREFIX
                    ),
                )),
            }
        };
        result.unwrap_or_else(Reply::from)
    }
}
