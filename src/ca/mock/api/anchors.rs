//! The desk audit logs' anchors at the CA mock: kept from an operator's card, a log owned by
//! whoever anchored it first (operator and desk), listed per log and per operator.

use crate::ca::RefusalCode;
use crate::ca::contract as api;
use crate::ca::mock::refusal::Rejection;
use crate::ca::mock::store::AnchorOutcome;

use super::exchange::{Reply, Request, query_value, rfc3339, store_failed};
use super::state::Ca;

impl Ca {
    /// Keep the anchor of one desk audit entry, sent with an operator's card. The log is the
    /// first sender's (operator and desk).
    pub(super) fn add_anchor(&self, req: &Request<'_>) -> Result<Reply, Rejection> {
        let operator = self.operator(req, "anchoring a desk audit log")?.person;
        let anchor: api::Anchor =
            serde_json::from_slice(req.body).map_err(|_| Rejection::bad_anchor())?;
        if !anchor.is_well_formed() {
            return Err(Rejection::bad_anchor());
        }
        let outcome = self
            .store
            .add_anchor(&anchor, &operator.hsa_id, &anchor.desk)
            .map_err(|e| {
                log::error!("store: {e}");
                Rejection::new(
                    500,
                    RefusalCode::Internal,
                    "the CA's store failed; send the anchor again later",
                )
            })?;
        match outcome {
            AnchorOutcome::Stored => Ok(Reply::json(&api::AnchorStored { stored: true })),
            AnchorOutcome::Conflict => {
                log::warn!(
                    "audit anchor conflict from {} for entry {} of log {}",
                    operator.hsa_id,
                    anchor.seq,
                    anchor.log
                );
                Err(Rejection::anchor_conflict(anchor.seq))
            }
            AnchorOutcome::OwnedBy {
                operator: owner,
                desk,
            } => {
                log::warn!(
                    "audit anchor from {} at desk {:?} for log {} of {owner} at desk {desk:?}",
                    operator.hsa_id,
                    anchor.desk,
                    anchor.log
                );
                Err(Rejection::log_of_another(owner == operator.hsa_id))
            }
        }
    }

    /// The anchors of the log named by `?log=<id>`: hashes, actions and times. Operators only
    /// (an auditor is service-centre staff with a card).
    pub(super) fn anchors(&self, req: &Request<'_>) -> Result<Reply, Rejection> {
        self.operator(req, "reading a desk audit log's anchors")?;
        let log = query_value(req.path, api::LOG_QUERY)
            .filter(|id| id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| {
                Rejection::new(
                    400,
                    RefusalCode::BadRequest,
                    "name the log: ?log=<its first entry's hash, 64 hex digits>",
                )
            })?
            .to_ascii_lowercase();
        let stored = self.store.anchors(&log).map_err(store_failed)?;
        let operator = self.store.log_owner(&log).map_err(store_failed)?;
        Ok(Reply::json(&api::AnchorList {
            anchors: stored
                .into_iter()
                .map(|(seq, hash, action, received)| api::StoredAnchor {
                    seq,
                    hash,
                    action,
                    received: rfc3339(received),
                })
                .collect(),
            log,
            operator,
        }))
    }

    /// Every log of `?operator=<HSA-id>` (default: the caller), so that a check of one log
    /// also sees a log rebuilt beside it or kept out of sight.
    pub(super) fn audit_logs(&self, req: &Request<'_>) -> Result<Reply, Rejection> {
        let caller = self
            .operator(req, "reading the desk audit logs the CA holds")?
            .person;
        let operator = query_value(req.path, api::OPERATOR_QUERY)
            .map(str::to_string)
            .unwrap_or_else(|| caller.hsa_id.clone());
        let logs = self.store.logs_of(&operator).map_err(store_failed)?;
        Ok(Reply::json(&api::LogList {
            logs: logs
                .into_iter()
                .map(|l| api::LogInfo {
                    log: l.log,
                    desk: l.desk,
                    first_received: rfc3339(l.first_received),
                    last_received: rfc3339(l.last_received),
                    anchors: l.anchors,
                    last_seq: l.last_seq,
                })
                .collect(),
            operator,
        }))
    }
}
