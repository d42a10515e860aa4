//! What a screen asks the app to do. Screens draw from a read-only `View` (`view.rs`)
//! and their own state, and hand back [`Intents`]; `app.rs` applies them in one place, after the
//! frame is drawn, so no screen reaches into the app, the worker or another screen's state.

use zeroize::Zeroizing;

use crate::card::PinKind;
use crate::gui::i18n::Lang;
use crate::gui::protocol::{Task, WorkerCommand};
use crate::gui::settings::Settings;

/// The pages of the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// The start screen, or the card overview once a card is ready.
    Home,
    Upgrade,
    Unblock,
    ChangePin,
    Certificates,
    Fetch,
    Settings,
    /// The service-centre desk (desk mode only).
    Desk,
}

/// One thing the user asked for. Codes travel zeroizing, as in the forms they came from.
#[must_use = "the app applies what the user asked for; a dropped intent is a click that did nothing"]
pub enum Intent {
    /// Show this page (the upgrade page opens on the upgrade, afresh if its last job finished).
    GoTo(Screen),
    /// The unblock page for this PIN, its last result cleared; at the desk with the
    /// customer's PUK already in the PUK field.
    OpenUnblock {
        kind: PinKind,
        puk: Option<Zeroizing<String>>,
    },
    /// The change-PIN page, its last result cleared.
    OpenChangePin,
    /// The wizard on a renewal of the card's due pairs.
    OpenRenew,
    /// To the worker of the card in the reader (at the desk: the customer's, through the desk's
    /// gate, [`crate::gui::desk_model::DeskModel::allow`]).
    Send(WorkerCommand),
    /// A task the screen just sent: shown as running at once, before the worker says so.
    Busy(Task),
    /// Stop the running job after the step it is in.
    CancelJob,
    /// A new worker on the demo card and CA mock.
    SwitchToDemo,
    /// A new worker on the real readers (or the PKCS#11 module the settings name).
    SwitchToReaders,
    SetLanguage(Lang),
    /// Keep these settings, and save them where settings are saved.
    SaveSettings(Box<Settings>),
    /// The holder closed the notice about unreadable saved settings.
    DismissSettingsNotice,
    /// At the desk: one entry for the audit log, about the card in the customer's reader.
    Audit {
        action: crate::audit::Action,
        result: Result<(), ()>,
        detail: String,
    },
    /// At the desk: the PUK lookup, for the operator's card; the app adds the audit entries
    /// not yet anchored at the CA.
    LookUpPuk(WorkerCommand),
}

/// What one screen (or the frame around it) asked for in one frame, in the order asked.
#[must_use = "the app applies what the user asked for; dropped intents are clicks that did nothing"]
#[derive(Default)]
pub struct Intents(Vec<Intent>);

impl Intents {
    pub fn push(&mut self, intent: Intent) {
        self.0.push(intent);
    }

    pub fn append(&mut self, mut other: Intents) {
        self.0.append(&mut other.0);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Intent> for Intents {
    fn from(intent: Intent) -> Intents {
        Intents(vec![intent])
    }
}

impl IntoIterator for Intents {
    type Item = Intent;
    type IntoIter = std::vec::IntoIter<Intent>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}
