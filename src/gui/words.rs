//! The typed values of the card, the CA and the workflows in the holder's language, each failure
//! with the next step the window offers for it.

use crate::ca::Profile;
use crate::ca::RefusalCode;
use crate::ca::client::CaError;
use crate::card::{CardError, PinKind, PinRuleError, PinStatus, TriesKnown};
use crate::gui::i18n::Tr;
use crate::gui::protocol::Failure;
use crate::pkcs11::Pkcs11Error;
use crate::pki::{Identity, Purpose};
use crate::transport::TransportError;
use crate::workflow::upgrade::{Activity, Step, UpgradeError};

/// What the window offers after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextAction {
    /// Type the codes again and retry.
    TryAgain,
    /// The card went away: put it back, then resume where the work stopped.
    InsertAndResume,
    /// A PIN is blocked: go to the PUK unblock screen.
    Unblock(PinKind),
    /// Nothing the holder can do here: the service centre helps.
    ServiceCentre,
    /// The CA address or root is wrong or missing.
    OpenSettings,
    /// The holder stopped the job: carry on where it stopped.
    Resume,
}

/// A failure in words and what to do next.
pub struct Explained {
    pub text: String,
    pub next: Vec<NextAction>,
}

pub fn pin_name(tr: &Tr, kind: PinKind) -> String {
    tr.t(match kind {
        PinKind::Pin1 => "pin1-name",
        PinKind::Pin2 => "pin2-name",
        PinKind::Puk => "puk-name",
    })
}

/// A message whose one argument is a PIN's name ("Lås upp { $pin }").
pub fn with_pin(tr: &Tr, id: &str, kind: PinKind) -> String {
    tr.a(id, &[("pin", pin_name(tr, kind).as_str().into())])
}

pub fn purpose(tr: &Tr, purpose: Purpose) -> String {
    tr.t(match purpose {
        Purpose::Authentication => "purpose-auth",
        Purpose::Signature => "purpose-sign",
        Purpose::Ca => "purpose-ca",
        Purpose::Other => "purpose-other",
    })
}

/// "HSA-id", "Personnummer", …: what kind of identity a certificate names.
pub fn identity_kind(tr: &Tr, identity: &Identity) -> String {
    tr.t(match identity {
        Identity::HsaId(_) => "identity-hsa",
        Identity::Personnummer(_) => "identity-pnr",
        Identity::Samordningsnummer(_) => "identity-samordning",
        Identity::Other(_) => "identity-other",
        Identity::None => "identity-none",
    })
}

pub fn profile(tr: &Tr, profile: Profile) -> String {
    tr.t(match profile {
        Profile::HsaAuth => "profile-hsa-auth",
        Profile::HsaSign => "profile-hsa-sign",
        Profile::PnrAuth => "profile-pnr-auth",
        Profile::PnrSign => "profile-pnr-sign",
    })
}

/// One line of the upgrade's step list.
pub fn step(tr: &Tr, step: &Step) -> String {
    match step {
        Step::ReadCard => tr.t("step-read-card"),
        Step::VerifyPin(kind) => with_pin(tr, "step-verify-pin", *kind),
        Step::LogIn => tr.t("step-log-in"),
        Step::GenerateKey(p) => tr.a(
            "step-generate-key",
            &[("cert", profile(tr, *p).as_str().into())],
        ),
        Step::Enrol(p) => tr.a("step-enrol", &[("cert", profile(tr, *p).as_str().into())]),
        Step::WriteCertificate(p) => {
            tr.a("step-write", &[("cert", profile(tr, *p).as_str().into())])
        }
        Step::ProveKey(p) => tr.a("step-prove", &[("cert", profile(tr, *p).as_str().into())]),
        Step::RemoveLegacy => tr.t("step-remove-legacy"),
        Step::Working(Activity::GeneratingKey(p)) => tr.a(
            "working-generate-key",
            &[("cert", profile(tr, *p).as_str().into())],
        ),
        Step::Working(Activity::Enrolling(p)) => tr.a(
            "working-enrol",
            &[("cert", profile(tr, *p).as_str().into())],
        ),
        Step::RemoveOld(p) => tr.a(
            "step-remove-old",
            &[("cert", profile(tr, *p).as_str().into())],
        ),
        Step::Done => tr.t("step-done"),
    }
}

/// "expires in 12 days" and whether it deserves a warning (30, 15, 7, 5, 3, 1, 0 days).
pub fn expiry(tr: &Tr, days_left: i64) -> (String, bool) {
    let text = if days_left < 0 {
        tr.a("expired-days-ago", &[("n", (-days_left).into())])
    } else if days_left == 0 {
        tr.t("expires-today")
    } else {
        tr.a("expires-in-days", &[("n", days_left.into())])
    };
    (
        text,
        crate::pki::expiry::warning_threshold(days_left).is_some(),
    )
}

pub fn transport_error(tr: &Tr, e: &TransportError) -> String {
    match e {
        TransportError::NoService => tr.t("err-no-service"),
        TransportError::NoReader => tr.t("err-no-reader"),
        TransportError::ReaderNotFound(r) => tr.a("err-reader-not-found", &[("reader", r.into())]),
        TransportError::NoCard(_) => tr.t("err-no-card"),
        TransportError::CardInUse(_) => tr.t("err-card-in-use"),
        TransportError::CardRemoved => tr.t("err-card-removed"),
        TransportError::CardReset => tr.t("err-card-reset"),
        TransportError::Unresponsive => tr.t("err-unresponsive"),
        TransportError::Cancelled => tr.t("err-cancelled"),
        TransportError::Malformed(d) => tr.a("err-malformed-answer", &[("detail", d.into())]),
        TransportError::Other(d) => tr.a("err-pcsc-other", &[("detail", d.into())]),
    }
}

pub fn pin_rule_error(tr: &Tr, e: &PinRuleError) -> String {
    match e {
        PinRuleError::NotDigits => tr.t("err-pin-not-digits"),
        PinRuleError::PinLength { len, .. } => tr.a("err-pin-length", &[("len", (*len).into())]),
        PinRuleError::PukLength { len, .. } => tr.a("err-puk-length", &[("len", (*len).into())]),
        PinRuleError::Mismatch => tr.t("err-pin-mismatch"),
    }
}

/// Tries left as the card told them: a count from our card, or what PKCS#11 flags allow
/// ("fewer than 3", "all", unknown) without inventing a number.
pub fn tries_left(tr: &Tr, status: &PinStatus) -> String {
    match status.known {
        _ if status.blocked() => tr.t("blocked"),
        TriesKnown::Exact => tr.a("tries-left", &[("n", status.tries_left.into())]),
        TriesKnown::AtMost if status.tries_left >= status.max_tries => tr.t("tries-all"),
        TriesKnown::AtMost => tr.a("tries-fewer", &[("max", status.max_tries.into())]),
        TriesKnown::Unknown => tr.t("tries-unknown"),
    }
}

pub fn card_error(tr: &Tr, e: &CardError) -> Explained {
    let (text, next) = match e {
        CardError::Transport(t @ TransportError::CardRemoved) => {
            (transport_error(tr, t), vec![NextAction::InsertAndResume])
        }
        CardError::Transport(t) => (transport_error(tr, t), vec![NextAction::TryAgain]),
        CardError::PinRule(r) => (pin_rule_error(tr, r), vec![NextAction::TryAgain]),
        CardError::NotSiths => (tr.t("err-not-siths"), vec![]),
        CardError::WrongCode { kind, tries_left } => {
            let id = match (kind, tries_left) {
                (PinKind::Puk, _) => "err-wrong-puk",
                (_, 1) => "err-wrong-pin-last",
                _ => "err-wrong-pin",
            };
            let text = tr.a(
                id,
                &[
                    ("pin", pin_name(tr, *kind).as_str().into()),
                    ("n", (*tries_left).into()),
                ],
            );
            (text, vec![NextAction::TryAgain])
        }
        CardError::WrongCodeFewer { kind, max } => (
            tr.a(
                "err-wrong-pin-fewer",
                &[
                    ("pin", pin_name(tr, *kind).as_str().into()),
                    ("max", (*max).into()),
                ],
            ),
            vec![NextAction::TryAgain],
        ),
        CardError::Pkcs11(p) => pkcs11_error(tr, p),
        CardError::Blocked(PinKind::Puk) | CardError::CardDead => {
            (tr.t("err-card-dead"), vec![NextAction::ServiceCentre])
        }
        CardError::Blocked(kind) => (
            with_pin(tr, "err-pin-blocked", *kind),
            vec![NextAction::Unblock(*kind)],
        ),
        CardError::NotVerified(kind) => (
            with_pin(tr, "err-not-verified", *kind),
            vec![NextAction::TryAgain],
        ),
        CardError::NewPinRefused => (tr.t("err-new-pin-refused"), vec![NextAction::TryAgain]),
        CardError::PukNotChangeable => (tr.t("err-puk-not-changeable"), vec![]),
        CardError::SlotOccupied(_) | CardError::SlotEmpty(_) | CardError::CardFull => (
            tr.a(
                "err-card-layout",
                &[("detail", e.to_string().as_str().into())],
            ),
            vec![NextAction::ServiceCentre],
        ),
        CardError::Malformed(d) => (
            tr.a("err-card-damaged", &[("detail", d.into())]),
            vec![NextAction::ServiceCentre],
        ),
        CardError::Refused { operation, sw } => (
            tr.a(
                "err-card-refused",
                &[
                    ("operation", (*operation).into()),
                    ("sw", sw.to_string().as_str().into()),
                ],
            ),
            vec![NextAction::TryAgain],
        ),
    };
    Explained { text, next }
}

fn pkcs11_error(tr: &Tr, e: &Pkcs11Error) -> (String, Vec<NextAction>) {
    match e {
        Pkcs11Error::ModuleNotFound(detail) => (
            tr.a(
                "err-p11-module-missing",
                &[("detail", detail.as_str().into())],
            ),
            vec![],
        ),
        Pkcs11Error::ModuleUnloadable { module, detail } => (
            tr.a(
                "err-p11-module-broken",
                &[
                    ("module", module.as_str().into()),
                    ("detail", detail.as_str().into()),
                ],
            ),
            vec![],
        ),
        Pkcs11Error::NoToken(module) => (
            tr.a("err-p11-no-token", &[("module", module.as_str().into())]),
            vec![NextAction::TryAgain],
        ),
        Pkcs11Error::TokenNotFound { wanted, seen } => (
            tr.a(
                "err-p11-token-not-found",
                &[
                    ("wanted", wanted.as_str().into()),
                    ("seen", seen.as_str().into()),
                ],
            ),
            vec![NextAction::TryAgain],
        ),
        Pkcs11Error::NotSupported { action, function } => (
            tr.a(
                "err-p11-not-supported",
                &[
                    ("action", (*action).into()),
                    ("function", function.as_str().into()),
                ],
            ),
            vec![NextAction::ServiceCentre],
        ),
        Pkcs11Error::Pin2InMiddleware => (tr.t("err-p11-pin2-in-middleware"), vec![]),
        Pkcs11Error::Failed { action, rv } => (
            tr.a(
                "err-p11-failed",
                &[("detail", format!("{action}: {rv}").as_str().into())],
            ),
            vec![NextAction::TryAgain],
        ),
    }
}

pub fn ca_error(tr: &Tr, e: &CaError) -> Explained {
    use NextAction::*;
    let (text, next) = match e {
        CaError::Unreachable { url, detail } => (
            tr.a(
                "err-ca-unreachable",
                &[("url", url.into()), ("detail", detail.into())],
            ),
            vec![TryAgain, OpenSettings],
        ),
        CaError::ServerNotTrusted(d) => (
            tr.a("err-ca-not-trusted", &[("detail", d.into())]),
            vec![OpenSettings],
        ),
        CaError::ClientCertRefused(d) => (
            tr.a("err-ca-refused-card", &[("detail", d.into())]),
            vec![ServiceCentre],
        ),
        CaError::Tls(d) => (
            tr.a("err-ca-tls", &[("detail", d.into())]),
            vec![TryAgain, OpenSettings],
        ),
        CaError::PinNotVerified => (tr.t("err-ca-pin-not-verified"), vec![TryAgain]),
        CaError::CardSigning(c) => return card_error(tr, c),
        CaError::Refused { code, message, .. } => (refusal(tr, code, message), vec![ServiceCentre]),
        CaError::Malformed(d) => (
            tr.a("err-ca-malformed", &[("detail", d.into())]),
            vec![TryAgain, OpenSettings],
        ),
        CaError::Config(d) => (
            tr.a("err-ca-config", &[("detail", d.into())]),
            vec![OpenSettings],
        ),
        CaError::Csr(d) => (tr.a("err-csr", &[("detail", d.into())]), vec![TryAgain]),
    };
    Explained { text, next }
}

/// A refusal by the CA: the known codes in our words, others in the CA's.
fn refusal(tr: &Tr, code: &RefusalCode, message: &str) -> String {
    match code {
        RefusalCode::UpgradeNotAllowed => tr.t("err-refusal-not-allowed"),
        RefusalCode::DeadlinePassed => tr.t("err-refusal-deadline"),
        RefusalCode::ProfileNotAllowed => tr.t("err-refusal-profile"),
        RefusalCode::UnknownPerson => tr.t("err-refusal-unknown-person"),
        code => tr.a(
            "err-refusal-other",
            &[("message", message.into()), ("code", code.as_str().into())],
        ),
    }
}

pub fn upgrade_error(tr: &Tr, e: &UpgradeError) -> Explained {
    use NextAction::*;
    let (text, next) = match e {
        UpgradeError::Card(c) => return card_error(tr, c),
        UpgradeError::Ca(c) => return ca_error(tr, c),
        UpgradeError::Check { profile, error } => (
            tr.a(
                "err-cert-check",
                &[
                    ("cert", (*profile).into()),
                    ("detail", error.to_string().as_str().into()),
                ],
            ),
            vec![TryAgain, ServiceCentre],
        ),
        UpgradeError::NotAllowed { code, message } => {
            (refusal(tr, code, message), vec![ServiceCentre])
        }
        UpgradeError::ProfileMissing(p) => (
            tr.a("err-profile-missing", &[("cert", (*p).into())]),
            vec![ServiceCentre],
        ),
        UpgradeError::NoLoginCertificate => (tr.t("err-no-login-cert"), vec![ServiceCentre]),
        UpgradeError::NotUpgraded => (tr.t("err-not-upgraded"), vec![]),
        UpgradeError::Cancelled => (tr.t("err-job-cancelled"), vec![Resume]),
        UpgradeError::LoginExpired => (tr.t("err-login-expired"), vec![ServiceCentre]),
        UpgradeError::CustomerNotTrusted(detail) => (
            tr.a(
                "err-customer-not-trusted",
                &[("detail", detail.as_str().into())],
            ),
            vec![ServiceCentre],
        ),
        UpgradeError::CaTookAnother { card, ca } => (
            tr.a(
                "err-ca-took-another",
                &[("card", card.as_str().into()), ("ca", ca.as_str().into())],
            ),
            vec![ServiceCentre],
        ),
        UpgradeError::SlotInUse(slot) => (
            tr.a("err-slot-in-use", &[("slot", slot.number().into())]),
            vec![ServiceCentre],
        ),
        UpgradeError::NotWritable(d) => (tr.a("err-not-writable", &[("detail", d.into())]), vec![]),
        UpgradeError::ProofFailed(p) => (
            tr.a("err-proof-failed", &[("cert", (*p).into())]),
            vec![InsertAndResume],
        ),
    };
    Explained { text, next }
}

pub fn failure(tr: &Tr, f: &Failure) -> Explained {
    match f {
        Failure::Card(e) => card_error(tr, e),
        Failure::Upgrade(e) => upgrade_error(tr, e),
        Failure::Ca(e) => ca_error(tr, e),
        Failure::File { path, detail } => Explained {
            text: tr.a(
                "err-file",
                &[
                    ("path", path.display().to_string().as_str().into()),
                    ("detail", detail.into()),
                ],
            ),
            next: vec![NextAction::TryAgain],
        },
        Failure::CaNotSet => Explained {
            text: tr.t("err-ca-not-set"),
            next: vec![NextAction::OpenSettings],
        },
        Failure::NoCard => Explained {
            text: tr.t("err-no-card"),
            next: vec![NextAction::InsertAndResume],
        },
    }
}
