//! The desk's rules, apart from the drawing: who the identity check was for, when help may
//! start, what a PUK lookup sends and where the PUK goes. The screen (`screens::desk`) draws this
//! state and sends what these methods return; unit tests call them directly.
//!
//! An identity check is bound to the card *and* the holder it showed: its serial, its HSA-id and
//! its holder's name. A card that reports the checked serial but carries someone else's
//! certificate is another customer, and needs a check of its own.

use zeroize::Zeroizing;

use crate::card::{CardOverview, SecretCode};
use crate::gui::protocol::{DeskRefusal, Failure, Task, WorkerCommand};
use crate::pki::{Identity, Purpose};

/// The kinds of ID document an operator checks at the desk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdDocument {
    Passport,
    NationalIdCard,
    DrivingLicence,
    EmployeeCard,
}

impl IdDocument {
    pub const ALL: [IdDocument; 4] = [
        IdDocument::Passport,
        IdDocument::NationalIdCard,
        IdDocument::DrivingLicence,
        IdDocument::EmployeeCard,
    ];

    pub fn message_id(self) -> &'static str {
        match self {
            IdDocument::Passport => "id-doc-passport",
            IdDocument::NationalIdCard => "id-doc-national",
            IdDocument::DrivingLicence => "id-doc-driving",
            IdDocument::EmployeeCard => "id-doc-employee",
        }
    }

    /// Stable words for the audit log, whatever the window's language.
    pub fn audit_name(self) -> &'static str {
        match self {
            IdDocument::Passport => "passport",
            IdDocument::NationalIdCard => "national id card",
            IdDocument::DrivingLicence => "driving licence",
            IdDocument::EmployeeCard => "employee card",
        }
    }
}

/// The card and holder an identity check was for, as the card showed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedHolder {
    pub serial: String,
    pub hsa_id: String,
    pub name: String,
}

impl CheckedHolder {
    /// The holder a card shows: its serial, the HSA-id and the name of its certificates. None
    /// for a card that names no HSA-id (nothing to check against).
    pub fn of(card: &CardOverview) -> Option<CheckedHolder> {
        Some(CheckedHolder {
            serial: card.serial.clone(),
            hsa_id: hsa_id_of(card)?,
            name: card.holder_name().unwrap_or_default().to_string(),
        })
    }
}

/// What the operator checked, and for whom.
#[derive(Debug, Default)]
pub struct IdentityCheck {
    pub document: Option<IdDocument>,
    pub last_four: String,
    pub photo_matches: bool,
    /// The card and holder checked; None until the operator confirms.
    pub confirmed_for: Option<CheckedHolder>,
}

impl IdentityCheck {
    /// Everything asked for is filled in: a document, its last four characters, the photo.
    pub fn complete(&self) -> bool {
        self.document.is_some()
            && self.last_four.chars().count() == 4
            && self.last_four.chars().all(|c| c.is_ascii_alphanumeric())
            && self.photo_matches
    }
}

/// Why help, or the PUK lookup, cannot start now: what the screen says instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Check the customer's identity first.
    CheckIdentity,
    /// The audit log cannot record what is done.
    AuditBroken,
    /// A card task is running.
    Busy,
    /// The operator's own card is not in its reader.
    NoOperatorCard,
    /// Say why the PUK is needed.
    NoReason,
    /// The operator's PIN1 is needed to log in to the CA.
    NoOperatorPin,
    /// The customer's card names no HSA-id authentication certificate.
    NoCustomerCertificate,
}

/// The task a command runs on the customer's card when it can change the card or spend one of
/// its tries (a wrong PIN counts: three block the card). These wait for the identity check at
/// the desk, whichever tab or page sends them. `None` for commands that only read the card
/// (refresh, saving a certificate to a file) or are not about it.
pub fn customer_card_task(command: &WorkerCommand) -> Option<Task> {
    Some(match command {
        WorkerCommand::ChangePin { .. } => Task::ChangePin,
        WorkerCommand::UnblockPin { .. } => Task::UnblockPin,
        WorkerCommand::Upgrade { .. } => Task::Upgrade,
        WorkerCommand::Renew { .. } => Task::Renew,
        WorkerCommand::FetchList { .. } => Task::FetchList,
        WorkerCommand::FetchWrite { .. } => Task::FetchWrite,
        WorkerCommand::VerifyPin { .. } => Task::VerifyPin,
        WorkerCommand::TestLogin { .. } => Task::TestLogin,
        // Goes to the operator's card; its own gate is [`DeskModel::lookup_gate`].
        WorkerCommand::PukLookup { .. } => Task::PukLookup,
        WorkerCommand::Refresh
        | WorkerCommand::UseReader(_)
        | WorkerCommand::SetCa(_)
        | WorkerCommand::ExportCertificate { .. }
        | WorkerCommand::DemoCard(_)
        | WorkerCommand::Quit => return None,
    })
}

/// The desk's state beside the customer-card app: the check, the lookup form, the PUK.
#[derive(Default)]
pub struct DeskModel {
    pub identity: IdentityCheck,
    pub reason: String,
    pub operator_pin: Zeroizing<String>,
    /// The customer's PUK for this visit only; wiped when dropped.
    pub puk: Option<Zeroizing<String>>,
    pub puk_revealed: bool,
    pub failure: Option<Failure>,
}

impl DeskModel {
    /// The customer card now in the reader is not the one checked (another card, or the same
    /// card showing another holder): forget the check, the PUK and the form. True when
    /// something was forgotten, so the app forgets what was typed for that customer too.
    pub fn customer_changed(&mut self, customer: Option<&CardOverview>) -> bool {
        let now = customer.and_then(CheckedHolder::of);
        let checked_other = self
            .identity
            .confirmed_for
            .as_ref()
            .is_some_and(|h| Some(h) != now.as_ref());
        if checked_other || (self.identity.confirmed_for.is_none() && self.puk.is_some()) {
            // Most customers bring the same kind of document: keep the operator's last choice.
            let document = self.identity.document;
            *self = DeskModel::default();
            self.identity.document = document;
            return true;
        }
        false
    }

    /// The check covers this card as it is now: same serial, same HSA-id, same name.
    pub fn identity_holds(&self, customer: &CardOverview) -> bool {
        self.identity.confirmed_for.is_some()
            && self.identity.confirmed_for.as_ref() == CheckedHolder::of(customer).as_ref()
    }

    /// Confirm the check for `customer`; the audit entry's detail, or None when the form is
    /// not complete or the card names no holder.
    pub fn confirm_identity(&mut self, customer: &CardOverview) -> Option<String> {
        if !self.identity.complete() {
            return None;
        }
        let holder = CheckedHolder::of(customer)?;
        self.identity.confirmed_for = Some(holder);
        Some(format!(
            "document: {}, last four: {}, photo matches",
            self.identity
                .document
                .map(IdDocument::audit_name)
                .unwrap_or("?"),
            self.identity.last_four
        ))
    }

    /// Help that changes the card waits for the identity check, a log that can record it and
    /// an idle card.
    pub fn help_gate(
        &self,
        customer: &CardOverview,
        audit_ok: bool,
        idle: bool,
    ) -> Result<(), Gate> {
        if !self.identity_holds(customer) {
            return Err(Gate::CheckIdentity);
        }
        if !audit_ok {
            return Err(Gate::AuditBroken);
        }
        if !idle {
            return Err(Gate::Busy);
        }
        Ok(())
    }

    /// Whether `command` may go to the customer's card (`customer`, as the reader shows it
    /// now): anything that changes the card, spends one of its tries or looks up its PUK only
    /// after the identity check of this card and holder, and only while the audit log can
    /// record it. The window sends every command through here at the desk, so no tab, page or
    /// key reaches the card before the check; what is refused never reaches the worker and is
    /// not logged as done to the card.
    pub fn allow(
        &self,
        command: &WorkerCommand,
        customer: Option<&CardOverview>,
        audit_ok: bool,
    ) -> Result<(), DeskRefusal> {
        if customer_card_task(command).is_none() {
            return Ok(());
        }
        if !customer.is_some_and(|c| self.identity_holds(c)) {
            return Err(DeskRefusal::CheckIdentityFirst);
        }
        if !audit_ok {
            return Err(DeskRefusal::AuditBroken);
        }
        Ok(())
    }

    /// Whether the PUK lookup may be sent now.
    pub fn lookup_gate(
        &self,
        customer: &CardOverview,
        operator: Option<&CardOverview>,
        audit_ok: bool,
        idle: bool,
    ) -> Result<(), Gate> {
        self.help_gate(customer, audit_ok, idle)?;
        if operator.is_none() {
            return Err(Gate::NoOperatorCard);
        }
        if customer_login_certificate(customer).is_none() {
            return Err(Gate::NoCustomerCertificate);
        }
        if self.reason.trim().is_empty() {
            return Err(Gate::NoReason);
        }
        if self.operator_pin.is_empty() {
            return Err(Gate::NoOperatorPin);
        }
        Ok(())
    }

    /// The lookup to send to the operator's worker, once [`DeskModel::lookup_gate`] passes. The
    /// operator's PIN leaves the form; a badly typed one becomes the failure to show. The
    /// customer's certificate goes along: the worker checks it chains to the CA's root before
    /// asking for that person's PUK.
    pub fn start_lookup(
        &mut self,
        customer: &CardOverview,
        operator: Option<&CardOverview>,
        audit_ok: bool,
        idle: bool,
    ) -> Result<WorkerCommand, Gate> {
        self.lookup_gate(customer, operator, audit_ok, idle)?;
        let (customer_id, customer_cert) =
            customer_login_certificate(customer).ok_or(Gate::NoCustomerCertificate)?;
        let typed = std::mem::take(&mut *self.operator_pin);
        match SecretCode::pin(typed) {
            Ok(pin1) => {
                self.puk = None;
                self.failure = None;
                Ok(WorkerCommand::PukLookup {
                    pin1,
                    customer: customer_id,
                    customer_cert,
                    customer_serial: customer.serial.clone(),
                    reason: self.reason.trim().to_string(),
                    anchors: Vec::new(),
                })
            }
            Err(e) => {
                self.failure = Some(Failure::Card(e.into()));
                Err(Gate::NoOperatorPin)
            }
        }
    }

    /// The PUK arrived for the customer still checked; it stays masked until revealed.
    pub fn puk_arrived(&mut self, customer: Option<&CardOverview>, puk: Zeroizing<String>) {
        // A card swapped while the lookup ran gets no PUK.
        if customer.is_some_and(|c| self.identity_holds(c)) {
            self.puk = Some(puk);
            self.puk_revealed = false;
            self.failure = None;
        }
    }

    /// The PUK moves into the unblock form (the customer types the new PIN) and is gone from
    /// the desk.
    pub fn take_puk_for_unblock(&mut self, customer: &CardOverview) -> Option<Zeroizing<String>> {
        if !self.identity_holds(customer) {
            return None;
        }
        self.puk_revealed = false;
        self.puk.take()
    }
}

/// The HSA-id a card's certificates name.
pub fn hsa_id_of(overview: &CardOverview) -> Option<String> {
    overview
        .certificates
        .iter()
        .find_map(|c| match &c.info.as_ref().ok()?.identity {
            Identity::HsaId(h) => Some(h.as_str().to_string()),
            _ => None,
        })
}

/// The customer's HSA-id and its authentication certificate (DER).
fn customer_login_certificate(customer: &CardOverview) -> Option<(String, Vec<u8>)> {
    customer.certificates.iter().find_map(|c| {
        let info = c.info.as_ref().ok()?;
        match (&info.identity, info.purpose) {
            (Identity::HsaId(h), Purpose::Authentication) => {
                Some((h.as_str().to_string(), c.der.clone()))
            }
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::{CardCertificate, CardSource, KeySlot};
    use crate::pki::{CertInfo, PersonCertRequest, PersonName, TestCa};

    fn ca() -> &'static TestCa {
        static CA: std::sync::OnceLock<TestCa> = std::sync::OnceLock::new();
        CA.get_or_init(|| TestCa::new_root("TEST desk unit CA", 2048).unwrap())
    }

    /// A card that shows `hsa_id` and `name` under serial `serial`.
    fn card(serial: &str, hsa_id: &str, name: &str) -> CardOverview {
        let (given, sur) = name.split_once(' ').unwrap_or((name, ""));
        let req = PersonCertRequest {
            subject: PersonName {
                serial_number: hsa_id.into(),
                given_name: given.into(),
                surname: sur.into(),
                common_name: name.into(),
                organisation: "Testregionen".into(),
                locality: None,
            },
            purpose: Purpose::Authentication,
            trust_level: Some(3),
            upn: None,
            not_before: None,
            not_after: None,
        };
        let der = ca().issue_person_cert(&req, &ca().info().spki_der).unwrap();
        let info = CertInfo::from_der(&der).unwrap();
        CardOverview {
            reader: "test".into(),
            source: CardSource::Reader {
                name: "test".into(),
                atr: Vec::new(),
            },
            serial: serial.into(),
            label: None,
            manufacturer: None,
            pins: Vec::new(),
            keys: Vec::new(),
            certificates: vec![CardCertificate {
                id: vec![1],
                label: "HSA-id legitimering".into(),
                path: Vec::new(),
                slot: KeySlot::new(1),
                pin: Some(crate::card::PinKind::Pin1),
                der: der.clone(),
                info: Ok(info),
            }],
        }
    }

    fn checked(model: &mut DeskModel, customer: &CardOverview) {
        model.identity.document = Some(IdDocument::Passport);
        model.identity.last_four = "48A1".into();
        model.identity.photo_matches = true;
        let detail = model.confirm_identity(customer).unwrap();
        assert!(
            detail.contains("passport") && detail.contains("48A1"),
            "{detail}"
        );
    }

    #[test]
    fn the_check_needs_a_document_four_characters_and_the_photo() {
        let mut c = IdentityCheck::default();
        assert!(!c.complete());
        c.document = Some(IdDocument::DrivingLicence);
        c.last_four = "48".into();
        c.photo_matches = true;
        assert!(!c.complete());
        c.last_four = "48A1".into();
        assert!(c.complete());
        c.photo_matches = false;
        assert!(!c.complete());
        let mut m = DeskModel {
            identity: c,
            ..Default::default()
        };
        assert_eq!(
            m.confirm_identity(&card("1001", "SE2321000016-1001", "Karin Åström")),
            None
        );
    }

    #[test]
    fn a_check_covers_the_serial_the_hsa_id_and_the_name_together() {
        let karin = card("1001", "SE2321000016-1001", "Karin Åström");
        let mut m = DeskModel::default();
        checked(&mut m, &karin);
        assert!(m.identity_holds(&karin));
        assert_eq!(m.help_gate(&karin, true, true), Ok(()));
        m.puk = Some(Zeroizing::new("86420975".into()));

        // The same serial carrying someone else's certificate is another customer.
        let impostor = card("1001", "SE2321000016-1002", "Karin Åström");
        assert!(!m.identity_holds(&impostor));
        assert_eq!(m.help_gate(&impostor, true, true), Err(Gate::CheckIdentity));
        assert_eq!(m.take_puk_for_unblock(&impostor), None);
        let renamed = card("1001", "SE2321000016-1001", "Someone Else");
        assert!(!m.identity_holds(&renamed));

        // When the reader shows it, everything for the last customer goes.
        let document = m.identity.document;
        assert!(m.customer_changed(Some(&impostor)));
        assert!(m.puk.is_none() && m.identity.confirmed_for.is_none());
        assert!(m.identity.last_four.is_empty() && !m.identity.photo_matches);
        assert_eq!(
            m.identity.document, document,
            "the kind of document is remembered for the next customer"
        );
        assert!(
            !m.customer_changed(Some(&impostor)),
            "nothing left to forget"
        );
    }

    #[test]
    fn the_same_customer_keeps_the_check_and_the_puk_goes_into_the_unblock_form_once() {
        let karin = card("1001", "SE2321000016-1001", "Karin Åström");
        let mut m = DeskModel::default();
        checked(&mut m, &karin);
        m.puk_arrived(Some(&karin), Zeroizing::new("86420975".into()));
        assert!(!m.customer_changed(Some(&karin)));
        assert!(m.puk.is_some() && !m.puk_revealed);
        assert_eq!(
            m.take_puk_for_unblock(&karin)
                .as_deref()
                .map(String::as_str),
            Some("86420975")
        );
        assert!(m.puk.is_none(), "moved, not copied");
        // A PUK that arrives after the card was swapped is dropped.
        let other = card("2002", "SE2321000016-1002", "Anna Berg");
        m.puk_arrived(Some(&other), Zeroizing::new("97531086".into()));
        assert!(m.puk.is_none());
    }

    /// Every command that changes the customer's card or spends a try waits for the check of
    /// that card and holder, and for a log that records it; reading does not.
    #[test]
    fn nothing_reaches_the_customers_card_before_the_identity_check() {
        let karin = card("1001", "SE2321000016-1001", "Karin Åström");
        let pin = || SecretCode::pin("135790".into()).unwrap();
        let puk = || SecretCode::puk("13572468".into()).unwrap();
        let changing = || {
            vec![
                WorkerCommand::ChangePin {
                    kind: crate::card::PinKind::Pin1,
                    old: pin(),
                    new: SecretCode::pin("482915".into()).unwrap(),
                },
                WorkerCommand::UnblockPin {
                    kind: crate::card::PinKind::Pin1,
                    puk: puk(),
                    new: pin(),
                },
                WorkerCommand::Upgrade {
                    pin1: pin(),
                    pin2: pin(),
                },
                WorkerCommand::Renew {
                    pin1: pin(),
                    pin2: pin(),
                },
                WorkerCommand::FetchList { pin1: pin() },
                WorkerCommand::FetchWrite {
                    profiles: Vec::new(),
                },
                WorkerCommand::VerifyPin {
                    kind: crate::card::PinKind::Pin2,
                    pin: pin(),
                },
                WorkerCommand::TestLogin {
                    slot: crate::card::KeySlot::new(2).unwrap(),
                    pin1: pin(),
                },
            ]
        };
        let reading = || {
            vec![
                WorkerCommand::Refresh,
                WorkerCommand::ExportCertificate {
                    id: vec![1],
                    path: "/tmp/x.pem".into(),
                },
            ]
        };
        let mut m = DeskModel::default();
        for c in changing() {
            assert_eq!(
                m.allow(&c, Some(&karin), true),
                Err(DeskRefusal::CheckIdentityFirst)
            );
            assert_eq!(
                m.allow(&c, None, true),
                Err(DeskRefusal::CheckIdentityFirst)
            );
        }
        for c in reading() {
            assert_eq!(m.allow(&c, Some(&karin), true), Ok(()));
        }
        checked(&mut m, &karin);
        for c in changing() {
            assert_eq!(m.allow(&c, Some(&karin), true), Ok(()));
            assert_eq!(
                m.allow(&c, Some(&karin), false),
                Err(DeskRefusal::AuditBroken)
            );
            // Another card in the reader is another customer.
            let other = card("2002", "SE2321000016-1002", "Anna Berg");
            assert_eq!(
                m.allow(&c, Some(&other), true),
                Err(DeskRefusal::CheckIdentityFirst)
            );
        }
    }

    #[test]
    fn the_lookup_waits_for_each_thing_in_turn_and_sends_the_customer_certificate() {
        let karin = card("1001", "SE2321000016-1001", "Karin Åström");
        let operator = card("9001", "SE2321000016-9001", "Märta Ek");
        let mut m = DeskModel::default();
        assert_eq!(
            m.lookup_gate(&karin, Some(&operator), true, true),
            Err(Gate::CheckIdentity)
        );
        checked(&mut m, &karin);
        assert_eq!(
            m.lookup_gate(&karin, Some(&operator), false, true),
            Err(Gate::AuditBroken)
        );
        assert_eq!(
            m.lookup_gate(&karin, Some(&operator), true, false),
            Err(Gate::Busy)
        );
        assert_eq!(
            m.lookup_gate(&karin, None, true, true),
            Err(Gate::NoOperatorCard)
        );
        assert_eq!(
            m.lookup_gate(&karin, Some(&operator), true, true),
            Err(Gate::NoReason)
        );
        m.reason = "  forgot PIN1, passport seen ".into();
        assert_eq!(
            m.lookup_gate(&karin, Some(&operator), true, true),
            Err(Gate::NoOperatorPin)
        );
        *m.operator_pin = "518274".into();
        let command = m.start_lookup(&karin, Some(&operator), true, true).unwrap();
        match command {
            WorkerCommand::PukLookup {
                customer,
                customer_cert,
                reason,
                ..
            } => {
                assert_eq!(customer, "SE2321000016-1001");
                assert_eq!(customer_cert, karin.certificates[0].der);
                assert_eq!(reason, "forgot PIN1, passport seen");
            }
            _ => panic!("not a PUK lookup"),
        }
        assert!(m.operator_pin.is_empty(), "the PIN left the form");
        // A badly typed PIN is shown, not sent.
        *m.operator_pin = "90x127".into();
        assert!(m.start_lookup(&karin, Some(&operator), true, true).is_err());
        assert!(m.failure.is_some());
    }
}
