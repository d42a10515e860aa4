//! What the IDPrime card OS's commands share: the session (what the card forgets on reset),
//! one command's effect ([`Step`]), and the check every write makes. Kept apart from the
//! dispatch in `os` so that the command modules (`pins`, `keys`, `fs`) import it and not the
//! module that calls them.

use std::collections::BTreeSet;

use crate::apdu::{Response, StatusWord};
use crate::idprime::files;

use super::super::pace::Work;
use super::super::state::CardState;

/// What the card forgets on reset.
#[derive(Default)]
pub(crate) struct Session {
    pub(super) current: Option<u16>,
    pub(super) verified: BTreeSet<u8>,
    /// (algorithm, key reference) set by MSE SET.
    pub(super) env: Option<(u8, u8)>,
    /// The hash echoed by the first PSO step, signed by the second.
    pub(super) hash: Option<Vec<u8>>,
}

/// One command's effect: the answer, the state to save first (if it changed), the work done
/// (for the pace), and whether an accepted chain link waits for more.
pub(crate) struct Step {
    pub(crate) answer: Result<Response, StatusWord>,
    pub(crate) next: Option<CardState>,
    pub(crate) work: Work,
    /// The command was a chained link, accepted: the caller keeps the data so far.
    pub(crate) holds_chain: bool,
}

impl Step {
    pub(super) fn answer(answer: Result<Response, StatusWord>) -> Self {
        Step {
            answer,
            next: None,
            work: Work::Plain,
            holds_chain: false,
        }
    }

    pub(super) fn refuse(sw: StatusWord) -> Self {
        Step::answer(Err(sw))
    }

    /// `next` made, answered with `answer`.
    pub(super) fn changed(answer: Response, next: CardState, work: Work) -> Self {
        Step {
            answer: Ok(answer),
            next: Some(next),
            work,
            holds_chain: false,
        }
    }
}

/// Refusals shared by every write [ours, as the PKCS#15 layout]: a dead card (`6984`), or
/// PIN1 not verified in this session (`6982`).
pub(super) fn may_write(state: &CardState, session: &Session) -> Result<(), StatusWord> {
    if state.is_dead() {
        Err(StatusWord::ReferenceDataNotUsable)
    } else if !session.verified.contains(&files::PIN1_REF) {
        Err(StatusWord::SecurityStatusNotSatisfied)
    } else {
        Ok(())
    }
}
