//! Opens the native window (eframe, wgpu) around the app and its worker.

use crate::gui::app::SithsApp;
use crate::gui::demo::{DEMO_OPERATOR_HSA_ID, DemoWorld};
use crate::gui::desk_audit::DeskAudit;
use crate::gui::protocol::CaSettings;
use crate::gui::screens::desk::Desk;
use crate::gui::settings::{Settings, default_path};
use crate::gui::worker::{Mode, Notifier, Worker};

/// The desktop entry's and AppStream id (packaging/linux): the window's app id must match it for
/// desktops to show the installed icon and name for the running window.
pub const APP_ID: &str = "se.sithsupgrade.SithsUpgrade";

/// The window's icon, also installed by the packages at the usual sizes.
const ICON_PNG: &[u8] = include_bytes!("../../assets/icons/siths-upgrade-256.png");

/// Whether the window talks to real readers or to the demo card and CA mock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowSource {
    Readers,
    /// The demo card and test CA, the card at this pace (`demo --pace real`: a physical
    /// card's speed, for training and for seeing the progress at real speed) and in this
    /// layout (`demo --layout idprime`: as current SITHS cards are laid out).
    Demo(crate::virtual_card::Pace, crate::virtual_card::Layout),
    /// The service-centre desk on two real readers: the operator's card and the customer's.
    Desk,
    /// The desk with two demo cards (the test persons' operator and the demo holder).
    DeskDemo,
}

struct Window {
    app: SithsApp,
}

impl eframe::App for Window {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.app.show(ui);
    }
}

/// Why the window did not run; for the terminal.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The demo's card and CA could not be made (the message says what to do).
    #[error("{0}")]
    Demo(#[from] crate::gui::demo::DemoError),
    /// The display could not be opened.
    #[error("{0}")]
    Window(String),
}

/// Open the window and run until it is closed.
/// `pkcs11` (from `--pkcs11`) overrides the module in the settings for this run.
pub fn run(source: WindowSource, pkcs11: Option<String>) -> Result<(), RunError> {
    let path = default_path();
    let loaded = path.as_deref().map(Settings::load_checked);
    // Saved only where nothing is lost by saving (the unreadable original kept beside).
    let path = path.filter(|_| loaded.as_ref().is_none_or(|l| l.may_save));
    let (mut settings, problem) = match loaded {
        Some(l) => (l.settings, l.problem.map(|p| (p, l.kept_as))),
        None => (Settings::default(), None),
    };
    if pkcs11.is_some() {
        settings.pkcs11_module = pkcs11;
    }
    let ca = CaSettings {
        url: settings.ca_url.clone(),
        root_pem: settings.ca_root.clone(),
    };
    let notifier = Notifier::default();
    let (mode, operator) = match source {
        WindowSource::Demo(
            crate::virtual_card::Pace::Fast,
            crate::virtual_card::Layout::Pkcs15,
        ) => (Mode::Demo(None), None),
        WindowSource::Demo(pace, layout) => {
            let world = DemoWorld::prepare_layout(layout)?;
            crate::virtual_card::lock_virtual_card(&world.card).set_pace(pace);
            (Mode::Demo(Some(world)), None)
        }
        WindowSource::Readers => (Mode::readers(&settings), None),
        WindowSource::Desk => {
            let (operator_reader, customer_reader) = desk_readers(&settings);
            (
                Mode::DeskCustomer {
                    reader: customer_reader,
                    operator_reader: operator_reader.clone(),
                    ca: ca.clone(),
                },
                Some(Mode::Pcsc {
                    reader: operator_reader,
                    ca,
                }),
            )
        }
        WindowSource::DeskDemo => {
            let world = DemoWorld::prepare()?;
            let seat = world.seat(DEMO_OPERATOR_HSA_ID)?;
            let ca = world.ca.clone();
            (Mode::Demo(Some(world)), Some(Mode::Seat { seat, ca }))
        }
    };
    // The title in the saved language, as the window will draw it.
    let title = crate::gui::i18n::Tr::new(settings.lang).t("app-title");
    let worker = Worker::spawn(mode, notifier.clone());
    let mut app = SithsApp::new(worker, notifier.clone(), settings, path);
    if let Some((problem, kept_as)) = problem {
        app = app.with_settings_problem(problem, kept_as);
    }
    if let Some(operator) = operator {
        let audit = DeskAudit::open_default();
        app = app.with_desk(Desk::new(Worker::spawn(operator, notifier), audit));
    }

    let mut viewport = egui::ViewportBuilder::default()
        .with_title(title.clone())
        .with_app_id(APP_ID)
        .with_inner_size([900.0, 720.0])
        .with_min_inner_size([560.0, 420.0]);
    match eframe::icon_data::from_png_bytes(ICON_PNG) {
        Ok(icon) => viewport = viewport.with_icon(icon),
        Err(e) => log::warn!("window icon not usable: {e}"),
    }
    let options = eframe::NativeOptions {
        viewport,
        ..Default::default()
    };
    eframe::run_native(
        &title,
        options,
        Box::new(|_cc| Ok(Box::new(Window { app }))),
    )
    .map_err(|e| RunError::Window(e.to_string()))
}

/// A desktop session to open the window in (X11 or Wayland on Linux; always elsewhere).
pub fn display_available() -> bool {
    if cfg!(target_os = "linux") {
        ["DISPLAY", "WAYLAND_DISPLAY"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()))
    } else {
        true
    }
}

/// The desk's two readers: the saved ones, else the first reader for the operator's card and the
/// second for the customer's (as most desks are set up: the operator's reader is built in).
fn desk_readers(settings: &Settings) -> (Option<String>, Option<String>) {
    let names: Vec<String> = crate::transport::pcsc::list_readers()
        .map(|r| r.into_iter().map(|r| r.name).collect())
        .unwrap_or_default();
    let operator = settings
        .desk_operator_reader
        .clone()
        .or_else(|| names.first().cloned());
    // Never the operator's reader, even when the settings name it twice.
    let customer = settings
        .desk_customer_reader
        .clone()
        .filter(|c| Some(c) != operator.as_ref())
        .or_else(|| {
            names
                .iter()
                .find(|n| Some(*n) != operator.as_ref())
                .cloned()
        });
    (operator, customer)
}
