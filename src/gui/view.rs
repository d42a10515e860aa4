//! What every screen may read and none may change: the card, the settings, the words, the
//! worker's state. The app lends it for one frame; a screen's wishes go back as
//! [`crate::gui::intent::Intents`].

use std::path::PathBuf;

use crate::card::CardOverview;
use crate::gui::desk_audit::DeskAudit;
use crate::gui::i18n::{Lang, Tr};
use crate::gui::intent::Screen;
use crate::gui::protocol::{CardStatus, Environment, Task};
use crate::gui::settings::{Settings, SettingsProblem};
use crate::transport::pcsc::ReaderInfo;

/// The window's state as a screen sees it, for one frame.
pub struct View<'a> {
    pub tr: &'a Tr,
    pub settings: &'a Settings,
    pub env: &'a Environment,
    pub readers: &'a [ReaderInfo],
    /// The card in the reader (at the desk: the customer's).
    pub card: &'a CardStatus,
    /// The task running, or just sent; actions wait for it.
    pub busy: Option<Task>,
    pub screen: Screen,
    /// Today, as unix seconds (fixed in tests and snapshots).
    pub now: i64,
    /// Demo mode: the real reader that now holds a card, offered in the demo banner.
    pub real_card: Option<&'a str>,
    /// What was unreadable in the saved settings, and where the original was kept.
    pub settings_notice: Option<&'a (SettingsProblem, Option<PathBuf>)>,
    /// Desk mode only: the operator's card and the audit log.
    pub desk: Option<DeskView<'a>>,
}

#[cfg(test)]
impl<'a> View<'a> {
    /// The view a screen drawn on its own sees in a unit test: no readers, nothing busy, no
    /// notice, no desk, day zero.
    pub(crate) fn alone(
        tr: &'a Tr,
        settings: &'a Settings,
        env: &'a Environment,
        card: &'a CardStatus,
        screen: Screen,
    ) -> View<'a> {
        View {
            tr,
            settings,
            env,
            readers: &[],
            card,
            busy: None,
            screen,
            now: 0,
            real_card: None,
            settings_notice: None,
            desk: None,
        }
    }
}

/// Type `text` into the field labelled `field` of a screen under test.
#[cfg(test)]
pub(crate) fn type_into<S>(harness: &mut egui_kittest::Harness<'_, S>, field: &str, text: &str) {
    use egui_kittest::kittest::Queryable;
    let node = harness.get_by_label(field);
    node.focus();
    node.type_text(text);
    harness.run();
}

/// The desk's side that is not a screen's to change: the operator's card and worker state, and
/// the audit log.
pub struct DeskView<'a> {
    pub operator_env: &'a Environment,
    pub operator_card: &'a CardStatus,
    pub operator_busy: Option<Task>,
    pub audit: &'a DeskAudit,
}

impl View<'_> {
    pub fn overview(&self) -> Option<&CardOverview> {
        match self.card {
            CardStatus::Ready(o) => Some(o),
            _ => None,
        }
    }

    pub fn lang(&self) -> Lang {
        self.tr.lang()
    }

    pub fn is_demo(&self) -> bool {
        matches!(
            self.env,
            Environment::Demo { .. } | Environment::DemoPreparing | Environment::DemoFailed(_)
        )
    }

    /// Where "back" leads after a task or a cancel: the desk at the service centre, the
    /// overview elsewhere.
    pub fn home_screen(&self) -> Screen {
        if self.desk.is_some() {
            Screen::Desk
        } else {
            Screen::Home
        }
    }
}

impl DeskView<'_> {
    pub fn operator_overview(&self) -> Option<&CardOverview> {
        match self.operator_card {
            CardStatus::Ready(o) => Some(o),
            _ => None,
        }
    }
}
