//! A request and its answer as the CA mock sees them, without hyper: what every concern of
//! [`super`] takes and gives back, and the small pieces each answers with.

use serde::Serialize;

use crate::ca::RefusalCode;
use crate::ca::contract as api;
use crate::ca::mock::error::MockError;
use crate::ca::mock::refusal::Rejection;
use crate::pki::Date;

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
    pub(super) fn json<T: Serialize>(value: &T) -> Reply {
        match serde_json::to_vec(value) {
            Ok(body) => Reply {
                status: 200,
                content_type: api::JSON,
                body,
            },
            Err(e) => Reply::from(Rejection::new(500, RefusalCode::Internal, e.to_string())),
        }
    }
}

impl From<Rejection> for Reply {
    fn from(r: Rejection) -> Reply {
        Reply {
            status: r.status,
            content_type: api::JSON,
            body: r.body(),
        }
    }
}

pub(super) fn store_failed(e: MockError) -> Rejection {
    log::error!("store: {e}");
    Rejection::new(
        500,
        RefusalCode::Internal,
        "the CA's store failed; try again later",
    )
}

/// The value of `name` in the request's query, if given.
pub(super) fn query_value<'a>(path: &'a str, name: &str) -> Option<&'a str> {
    let query = path.split_once('?').map(|(_, q)| q)?;
    query.split('&').find_map(|kv| {
        kv.split_once('=')
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v)
    })
}

pub(super) fn method_not_allowed() -> Rejection {
    Rejection::new(
        405,
        RefusalCode::MethodNotAllowed,
        "use GET for cacerts, csrattrs, me, certificates, audit-anchors and audit-logs, POST for \
         simpleenroll, simplereenroll, puk-challenge, puk-lookup and audit-anchor",
    )
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
pub(super) fn rfc3339(unix: i64) -> String {
    let date = Date::from_unix(unix);
    let secs = unix.rem_euclid(86_400);
    format!(
        "{date}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
