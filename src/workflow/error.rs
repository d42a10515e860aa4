//! The one error of the workflows (upgrade, renewal, fetching existing certificates, the test
//! login): they share their steps, so a step fails the same way whichever workflow runs it, and
//! the window and the terminal explain each failure in one place. A profile is carried as a
//! [`Profile`], so the words for it are chosen where the error is shown, in the holder's language.

use crate::ca::Profile;
use crate::ca::check::CertCheckError;
use crate::ca::client::CaError;
use crate::card::{CardError, KeySlot};
use crate::workflow::fit::Fit;

/// Why a workflow stopped; what was done before it stays on the card and a rerun resumes.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    #[error(transparent)]
    Card(#[from] CardError),
    #[error(transparent)]
    Ca(#[from] CaError),
    #[error(
        "the certificate for {} was refused and nothing was written to the card: {error}",
        .profile.label()
    )]
    Check {
        profile: Profile,
        error: CertCheckError,
    },
    #[error("the CA will not upgrade this card: {message}")]
    NotAllowed {
        code: crate::ca::RefusalCode,
        message: String,
    },
    #[error(
        "the CA offers no {} certificate for you, so the upgrade cannot make both pairs: contact the service centre",
        .0.label()
    )]
    ProfileMissing(Profile),
    #[error(
        "the card has no authentication certificate to log in to the CA with: contact the service centre"
    )]
    NoLoginCertificate,
    #[error(
        "the CA took this card for {ca}, but its login certificate names {card}: nothing was \
         changed; contact the service centre"
    )]
    CaTookAnother { card: String, ca: String },
    #[error(
        "the customer's card does not carry a certificate this CA stands behind ({0}): no PUK \
         was fetched; check that this is the customer's own card, and contact the service centre"
    )]
    CustomerNotTrusted(String),
    #[error(
        "stopped as you asked: what is done stays on the card; run it again to carry on where it \
         stopped"
    )]
    Cancelled,
    #[error(
        "this card has not been upgraded yet, so there is nothing to renew: upgrade the card \
         first"
    )]
    NotUpgraded,
    #[error(
        "the card's authentication certificate for this pair has expired, so the CA cannot \
         renew it: order a new card from the service centre"
    )]
    LoginExpired,
    #[error(
        "{0} holds a certificate or key that is not part of the upgrade; it was left as it is: \
         contact the service centre"
    )]
    SlotInUse(KeySlot),
    #[error(
        "the certificate in {slot} looks like one of the card's SITHS certificates but fails the \
         checks ({error}); it was left on the card and nothing was removed because of it"
    )]
    Untrusted {
        slot: KeySlot,
        error: CertCheckError,
    },
    #[error("this certificate {}", .0.explain())]
    NotWritable(Fit),
    #[error(
        "a new key on the card did not produce a valid signature ({}): take the card out, put it back and resume the upgrade",
        .0.label()
    )]
    ProofFailed(Profile),
}

impl WorkflowError {
    /// The holder can fix it (wrong or blocked PIN) rather than the site or the service centre.
    pub fn is_user_error(&self) -> bool {
        matches!(self, WorkflowError::Card(e) if e.is_user_error())
    }
}
