//! The typed values of the card, the CA and the workflows in the holder's language, each failure
//! with the next step the window offers for it.

use crate::ca::Profile;
use crate::ca::RefusalCode;
use crate::ca::client::CaError;
use crate::card::MiddlewareError;
use crate::card::{CardError, PinKind, PinRuleError, PinStatus, TriesKnown};
use crate::gui::i18n::Tr;
use crate::gui::protocol::Failure;
use crate::pki::{Identity, Purpose};
use crate::transport::TransportError;
use crate::workflow::error::WorkflowError;
use crate::workflow::fit::Fit;
use crate::workflow::progress::{Activity, Step};

/// The command that starts the smart card service on the Linux desktops we support, for the IT
/// department (the start screen's "För IT-avdelningen" and the technical detail of the error):
/// a command is not a word for the holder.
pub const START_PCSCD: &str = "sudo systemctl start pcscd.socket";

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
    /// The holder's words, with the next step; never a status word, an operation's name or the
    /// CA's own message.
    pub text: String,
    pub next: Vec<NextAction>,
    /// What support needs to find the cause (status words, operation names, the CA's message
    /// and refusal code), shown only when asked for.
    pub technical: Option<Technical>,
}

/// The technical detail of a failure and the heading it is folded under, in the window's
/// language (the error box draws it without a catalog of its own).
pub struct Technical {
    pub heading: String,
    pub copy: String,
    pub detail: String,
}

impl Explained {
    fn new(text: String, next: Vec<NextAction>) -> Explained {
        Explained {
            text,
            next,
            technical: None,
        }
    }

    /// The same failure with technical detail under "Visa teknisk information".
    fn with_technical(mut self, tr: &Tr, detail: impl Into<String>) -> Explained {
        let detail = detail.into();
        if !detail.is_empty() {
            self.technical = Some(Technical {
                heading: tr.t("show-technical"),
                copy: tr.t("copy-technical"),
                detail,
            });
        }
        self
    }
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

/// Why a certificate the CA holds can or cannot go onto this card, in the holder's words; what
/// failed a check is in [`fit_technical`].
pub fn fit(tr: &Tr, fit: &Fit) -> String {
    match fit {
        Fit::Writable(_) => tr.t("fit-writable"),
        Fit::AlreadyOnCard => tr.t("fit-already"),
        Fit::KeyNotOnCard => tr.t("fit-other-card"),
        Fit::Expired => tr.t("fit-expired"),
        Fit::WrongSlot(_) => tr.t("fit-wrong-slot"),
        Fit::FailsChecks(_) => tr.t("fit-fails-checks"),
    }
}

/// The slot or the failed check behind a [`Fit`], for support.
pub fn fit_technical(fit: &Fit) -> Option<String> {
    match fit {
        Fit::Writable(slot) | Fit::WrongSlot(slot) => Some(slot.to_string()),
        Fit::FailsChecks(e) => Some(e.to_string()),
        _ => None,
    }
}

pub fn profile(tr: &Tr, profile: Profile) -> String {
    tr.t(match profile {
        Profile::HsaAuth => "profile-hsa-auth",
        Profile::HsaSign => "profile-hsa-sign",
        Profile::PnrAuth => "profile-pnr-auth",
        Profile::PnrSign => "profile-pnr-sign",
    })
}

/// "Andra objekt på kortet: 1 certifikat, 1 nyckel — lämnas orörda": the holder's objects no
/// workflow touches.
pub fn others(tr: &Tr, others: crate::workflow::pairs::Others) -> String {
    let mut parts = Vec::new();
    if others.certificates > 0 {
        parts.push(tr.a("others-certs", &[("n", others.certificates.into())]));
    }
    if others.keys > 0 {
        parts.push(tr.a("others-keys", &[("n", others.keys.into())]));
    }
    tr.a(
        "others-on-card",
        &[("what", parts.join(", ").as_str().into())],
    )
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
        Step::Rejected(r) => tr.a(
            "step-rejected",
            &[("slot", i64::from(r.slot.number()).into())],
        ),
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
    transport_explained(tr, e).0
}

/// A transport failure in words and, for support, what PC/SC said.
fn transport_explained(tr: &Tr, e: &TransportError) -> (String, Option<String>) {
    let technical = match e {
        TransportError::NoService => Some(format!("pcscd: {START_PCSCD}")),
        TransportError::Malformed(d) | TransportError::Other(d) => Some(d.clone()),
        _ => None,
    };
    let text = match e {
        TransportError::NoService => tr.t("err-no-service"),
        TransportError::NoReader => tr.t("err-no-reader"),
        TransportError::ReaderNotFound(r) => tr.a("err-reader-not-found", &[("reader", r.into())]),
        TransportError::NoCard(_) => tr.t("err-no-card"),
        TransportError::CardInUse(_) => tr.t("err-card-in-use"),
        TransportError::CardRemoved => tr.t("err-card-removed"),
        TransportError::CardReset => tr.t("err-card-reset"),
        TransportError::Unresponsive => tr.t("err-unresponsive"),
        TransportError::Cancelled => tr.t("err-cancelled"),
        TransportError::Malformed(_) => tr.t("err-malformed-answer"),
        TransportError::Other(_) => tr.t("err-pcsc-other"),
    };
    (text, technical)
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
        TriesKnown::NotShown => match status.kind {
            PinKind::Pin2 => tr.t("pin2-not-shown"),
            PinKind::Puk => tr.t("puk-not-shown"),
            PinKind::Pin1 => tr.t("code-not-shown"),
        },
    }
}

pub fn card_error(tr: &Tr, e: &CardError) -> Explained {
    let technical = match e {
        CardError::SlotOccupied(_) | CardError::SlotEmpty(_) | CardError::CardFull => {
            Some(e.to_string())
        }
        CardError::Malformed(d) => Some(d.clone()),
        CardError::Refused { operation, sw } => Some(format!("{operation}: status {sw}")),
        _ => None,
    };
    let (text, next) = match e {
        CardError::Transport(t) => {
            let (text, technical) = transport_explained(tr, t);
            let next = match t {
                TransportError::CardRemoved => vec![NextAction::InsertAndResume],
                _ => vec![NextAction::TryAgain],
            };
            return explained(tr, text, next, technical);
        }
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
        CardError::Middleware(m) => return middleware_error(tr, m),
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
        CardError::NoSuchCode(kind) => (with_pin(tr, "err-no-such-code", *kind), vec![]),
        CardError::SlotOccupied(_) | CardError::SlotEmpty(_) | CardError::CardFull => {
            (tr.t("err-card-layout"), vec![NextAction::ServiceCentre])
        }
        CardError::Malformed(_) => (tr.t("err-card-damaged"), vec![NextAction::ServiceCentre]),
        CardError::Refused { .. } => (tr.t("err-card-refused"), vec![NextAction::TryAgain]),
    };
    explained(tr, text, next, technical)
}

/// An [`Explained`] with its technical detail, when there is some.
fn explained(tr: &Tr, text: String, next: Vec<NextAction>, technical: Option<String>) -> Explained {
    let e = Explained::new(text, next);
    match technical {
        Some(t) => e.with_technical(tr, t),
        None => e,
    }
}

fn middleware_error(tr: &Tr, e: &MiddlewareError) -> Explained {
    let (text, next, technical) = match e {
        MiddlewareError::ModuleNotFound(detail) => {
            (tr.t("err-p11-module-missing"), vec![], Some(detail.clone()))
        }
        MiddlewareError::ModuleUnloadable { module, detail } => (
            tr.a(
                "err-p11-module-broken",
                &[("module", module.as_str().into())],
            ),
            vec![],
            Some(detail.clone()),
        ),
        MiddlewareError::NoToken(module) => (
            tr.a("err-p11-no-token", &[("module", module.as_str().into())]),
            vec![NextAction::TryAgain],
            None,
        ),
        MiddlewareError::TokenNotFound { wanted, seen } => (
            tr.a(
                "err-p11-token-not-found",
                &[
                    ("wanted", wanted.as_str().into()),
                    ("seen", seen.as_str().into()),
                ],
            ),
            vec![NextAction::TryAgain],
            None,
        ),
        MiddlewareError::SeveralCards { cards } => (
            tr.t("err-p11-several-cards"),
            vec![NextAction::OpenSettings],
            Some(
                cards
                    .iter()
                    .map(|c| c.describe())
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        ),
        MiddlewareError::NotSiths { tokens } => (
            tr.t("err-p11-not-siths"),
            vec![NextAction::TryAgain],
            Some(tokens.clone()),
        ),
        MiddlewareError::EmptyName => (
            tr.t("err-p11-empty-name"),
            vec![NextAction::OpenSettings],
            None,
        ),
        MiddlewareError::NotSupported { action, function } => (
            tr.t("err-p11-not-supported"),
            vec![NextAction::ServiceCentre],
            Some(format!("{action}: {function}")),
        ),
        MiddlewareError::Pin2InMiddleware => (tr.t("err-p11-pin2-in-middleware"), vec![], None),
        MiddlewareError::PinNotShown(PinKind::Puk) => (tr.t("err-p11-puk-not-shown"), vec![], None),
        MiddlewareError::PinNotShown(_) => (tr.t("err-p11-pin-not-shown"), vec![], None),
        MiddlewareError::Failed { action, rv } => (
            tr.t("err-p11-failed"),
            vec![NextAction::TryAgain],
            Some(format!("{action}: {rv}")),
        ),
    };
    explained(tr, text, next, technical)
}

pub fn ca_error(tr: &Tr, e: &CaError) -> Explained {
    use NextAction::*;
    let (text, next, technical) = match e {
        CaError::Unreachable { url, detail } => (
            tr.a("err-ca-unreachable", &[("url", url.into())]),
            vec![TryAgain, OpenSettings],
            Some(detail.clone()),
        ),
        CaError::ServerNotTrusted(d) => (
            tr.t("err-ca-not-trusted"),
            vec![OpenSettings],
            Some(d.clone()),
        ),
        CaError::ClientCertRefused(d) => (
            tr.t("err-ca-refused-card"),
            vec![ServiceCentre],
            Some(d.clone()),
        ),
        CaError::Tls(d) => (
            tr.t("err-ca-tls"),
            vec![TryAgain, OpenSettings],
            Some(d.clone()),
        ),
        CaError::PinNotVerified => (tr.t("err-ca-pin-not-verified"), vec![TryAgain], None),
        CaError::CardSigning(c) => return card_error(tr, c),
        CaError::Refused { code, message, .. } => {
            return refusal(tr, code, message, vec![ServiceCentre]);
        }
        CaError::Malformed(d) => (
            tr.t("err-ca-malformed"),
            vec![TryAgain, OpenSettings],
            Some(d.clone()),
        ),
        CaError::Config(d) => (tr.t("err-ca-config"), vec![OpenSettings], Some(d.clone())),
        CaError::Csr(d) => (tr.t("err-csr"), vec![TryAgain], Some(d.clone())),
    };
    explained(tr, text, next, technical)
}

/// A refusal by the CA: the known codes in our words, others as a plain refusal; the CA's own
/// message and code are for support, under the technical detail.
fn refusal(tr: &Tr, code: &RefusalCode, message: &str, next: Vec<NextAction>) -> Explained {
    let text = match code {
        RefusalCode::UpgradeNotAllowed => tr.t("err-refusal-not-allowed"),
        RefusalCode::DeadlinePassed => tr.t("err-refusal-deadline"),
        RefusalCode::ProfileNotAllowed => tr.t("err-refusal-profile"),
        RefusalCode::UnknownPerson => tr.t("err-refusal-unknown-person"),
        RefusalCode::RenewalNotDue => tr.t("err-refusal-renewal-not-due"),
        RefusalCode::AlreadyEnrolled => tr.t("err-refusal-already-enrolled"),
        RefusalCode::TrustLevelTooLow => tr.t("err-refusal-level-too-low"),
        RefusalCode::LoginReplaced => tr.t("err-refusal-login-replaced"),
        RefusalCode::CustomerCardNotShown => tr.t("err-refusal-customer-card"),
        RefusalCode::BadChallenge => tr.t("err-refusal-challenge"),
        _ => tr.t("err-refusal-other"),
    };
    let technical = if message.is_empty() {
        code.as_str().to_string()
    } else {
        format!("{}: {message}", code.as_str())
    };
    Explained::new(text, next).with_technical(tr, technical)
}

pub fn upgrade_error(tr: &Tr, e: &WorkflowError) -> Explained {
    use NextAction::*;
    let (text, next, technical) = match e {
        WorkflowError::Card(c) => return card_error(tr, c),
        WorkflowError::Ca(c) => return ca_error(tr, c),
        WorkflowError::Check { profile, error } => (
            tr.a(
                "err-cert-check",
                &[("cert", self::profile(tr, *profile).as_str().into())],
            ),
            vec![TryAgain, ServiceCentre],
            Some(format!("{}: {error}", profile.label())),
        ),
        WorkflowError::NotAllowed { code, message } => {
            return refusal(tr, code, message, vec![ServiceCentre]);
        }
        WorkflowError::ProfileMissing(p) => (
            tr.a(
                "err-profile-missing",
                &[("cert", profile(tr, *p).as_str().into())],
            ),
            vec![ServiceCentre],
            Some(p.label().to_string()),
        ),
        WorkflowError::NoLoginCertificate => (tr.t("err-no-login-cert"), vec![ServiceCentre], None),
        WorkflowError::NotUpgraded => (tr.t("err-not-upgraded"), vec![], None),
        WorkflowError::Cancelled => (tr.t("err-job-cancelled"), vec![Resume], None),
        WorkflowError::LoginExpired => (tr.t("err-login-expired"), vec![ServiceCentre], None),
        WorkflowError::CustomerNotTrusted(detail) => (
            tr.t("err-customer-not-trusted"),
            vec![ServiceCentre],
            Some(detail.clone()),
        ),
        WorkflowError::CaTookAnother { card, ca } => (
            tr.a(
                "err-ca-took-another",
                &[("card", card.as_str().into()), ("ca", ca.as_str().into())],
            ),
            vec![ServiceCentre],
            None,
        ),
        WorkflowError::Untrusted { slot, error } => (
            tr.a(
                "err-untrusted-cert",
                &[("slot", i64::from(slot.number()).into())],
            ),
            vec![ServiceCentre],
            Some(format!("{slot}: {error}")),
        ),
        WorkflowError::SlotInUse(slot) => (
            tr.t("err-slot-in-use"),
            vec![ServiceCentre],
            Some(slot.to_string()),
        ),
        WorkflowError::NotWritable(f) => (
            tr.a(
                "err-not-writable",
                &[("detail", fit(tr, f).as_str().into())],
            ),
            vec![],
            fit_technical(f),
        ),
        WorkflowError::ProofFailed(p) => (
            tr.a(
                "err-proof-failed",
                &[("cert", profile(tr, *p).as_str().into())],
            ),
            vec![InsertAndResume],
            Some(p.label().to_string()),
        ),
    };
    explained(tr, text, next, technical)
}

pub fn failure(tr: &Tr, f: &Failure) -> Explained {
    match f {
        Failure::Card(e) => card_error(tr, e),
        Failure::Upgrade(e) => upgrade_error(tr, e),
        Failure::Ca(e) => ca_error(tr, e),
        Failure::File { path, detail } => Explained::new(
            tr.a(
                "err-file",
                &[("path", path.display().to_string().as_str().into())],
            ),
            vec![NextAction::TryAgain],
        )
        .with_technical(tr, detail.as_str()),
        Failure::CaNotSet => Explained::new(tr.t("err-ca-not-set"), vec![NextAction::OpenSettings]),
        Failure::NoCard => Explained::new(tr.t("err-no-card"), vec![NextAction::InsertAndResume]),
        Failure::Desk(r) => Explained::new(
            tr.t(match r {
                crate::gui::protocol::DeskRefusal::CheckIdentityFirst => "err-desk-identity-first",
                crate::gui::protocol::DeskRefusal::AuditBroken => "err-desk-audit-broken",
            }),
            Vec::new(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apdu::StatusWord;
    use crate::card::KeySlot;
    use crate::gui::i18n::{Lang, NOT_FOR_HOLDERS, has_word};

    /// Where the overview shows PIN2's tries, a middleware that does not show PIN2 (OpenSC on
    /// an IDPrime card) is said plainly, in both languages, never as tries left.
    #[test]
    fn a_code_the_middleware_does_not_show_is_said_so() {
        let status = |kind| PinStatus {
            kind,
            label: "PIN2".into(),
            tries_left: 3,
            max_tries: 3,
            verified: false,
            known: TriesKnown::NotShown,
        };
        let sv = Tr::new(Lang::Sv);
        let en = Tr::new(Lang::En);
        assert_eq!(
            tries_left(&sv, &status(PinKind::Pin2)),
            "Underskriftskoden visas inte av kortets programvara"
        );
        assert_eq!(
            tries_left(&en, &status(PinKind::Pin2)),
            "The signing PIN is not shown by the card's software"
        );
        assert_eq!(
            tries_left(&en, &status(PinKind::Puk)),
            "The PUK is not shown by the card's software"
        );
        for kind in [PinKind::Pin2, PinKind::Puk] {
            let e = card_error(
                &sv,
                &CardError::Middleware(MiddlewareError::PinNotShown(kind)),
            );
            assert!(e.text.contains("visar inte"), "{}", e.text);
            assert!(
                e.text.contains("SafeNet Authentication Client"),
                "{}",
                e.text
            );
        }
    }

    fn assert_for_holders(e: &Explained, technical: &str) {
        for word in NOT_FOR_HOLDERS {
            assert!(!has_word(&e.text, word), "{word:?} in {:?}", e.text);
        }
        let t = e.technical.as_ref().expect("technical detail");
        assert!(
            t.detail.contains(technical),
            "{technical:?} not in {t:?}",
            t = t.detail
        );
        assert_eq!(t.heading, "Visa teknisk information");
    }

    /// Status words, operation names, profile labels, slots and the CA's own message reach the
    /// Swedish window only under "Visa teknisk information"; profiles are named in words.
    #[test]
    fn technical_detail_is_kept_out_of_the_holders_words() {
        let tr = Tr::new(Lang::Sv);
        let refused = card_error(
            &tr,
            &CardError::Refused {
                operation: "READ BINARY",
                sw: StatusWord::FileNotFound,
            },
        );
        assert_for_holders(&refused, "READ BINARY: status");
        assert_eq!(refused.next, vec![NextAction::TryAgain]);

        let label = Profile::PnrSign.label();
        let missing = upgrade_error(&tr, &WorkflowError::ProfileMissing(Profile::PnrSign));
        assert_for_holders(&missing, label);
        assert!(
            missing.text.contains("Personnummer, underskrift"),
            "{}",
            missing.text
        );

        let slot = KeySlot::new(7).unwrap();
        let wrong_slot = upgrade_error(&tr, &WorkflowError::NotWritable(Fit::WrongSlot(slot)));
        assert_for_holders(&wrong_slot, &slot.to_string());

        let ca = ca_error(
            &tr,
            &CaError::Refused {
                status: 403,
                code: RefusalCode::Unknown,
                message: "no upgrade for in-process cards".into(),
            },
        );
        assert_for_holders(&ca, "no upgrade for in-process cards");
        assert!(
            ca.text.starts_with("Certifikatutfärdaren nekade"),
            "{}",
            ca.text
        );

        let no_service = card_error(&tr, &CardError::Transport(TransportError::NoService));
        assert_for_holders(&no_service, START_PCSCD);
        assert!(!no_service.text.contains("pcscd"), "{}", no_service.text);
    }

    /// A failure with nothing technical to add has no folded section.
    #[test]
    fn a_plain_failure_has_no_technical_section() {
        let tr = Tr::new(Lang::Sv);
        let wrong = card_error(
            &tr,
            &CardError::WrongCode {
                kind: PinKind::Pin1,
                tries_left: 1,
            },
        );
        assert!(wrong.technical.is_none());
        assert!(
            wrong
                .text
                .contains("Om nästa försök också är fel spärras koden"),
            "{}",
            wrong.text
        );
    }

    #[test]
    fn the_holders_other_objects_are_counted_in_both_languages() {
        use crate::workflow::pairs::Others;
        let one_each = Others {
            certificates: 1,
            keys: 1,
        };
        assert_eq!(
            others(&Tr::new(Lang::Sv), one_each),
            "Andra objekt på kortet: 1 certifikat, 1 nyckel — lämnas orörda"
        );
        assert_eq!(
            others(&Tr::new(Lang::En), one_each),
            "Other objects on the card: 1 certificate, 1 key — left as they are"
        );
        let keys = Others {
            certificates: 0,
            keys: 2,
        };
        assert_eq!(
            others(&Tr::new(Lang::Sv), keys),
            "Andra objekt på kortet: 2 nycklar — lämnas orörda"
        );
    }
}
