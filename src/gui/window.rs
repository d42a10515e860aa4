//! Opens the native window (eframe, wgpu) around the app and its worker.

use crate::gui::app::SithsApp;
use crate::gui::protocol::CaSettings;
use crate::gui::settings::{Settings, default_path};
use crate::gui::worker::{Mode, Notifier, Worker};

/// The window's icon, also installed by the packages at the usual sizes.
const ICON_PNG: &[u8] = include_bytes!("../../assets/icons/siths-upgrade-256.png");

/// Whether the window talks to real readers or to the demo card and CA mock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Readers,
    Demo,
}

struct Window {
    app: SithsApp,
}

impl eframe::App for Window {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.app.show(ui);
    }
}

/// Open the window and run until it is closed. The error is for the terminal: the display could
/// not be opened.
pub fn run(source: Source) -> Result<(), String> {
    let path = default_path();
    let settings = path.as_deref().map(Settings::load).unwrap_or_default();
    let mode = match source {
        Source::Demo => Mode::Demo(None),
        Source::Readers => Mode::Pcsc {
            reader: settings.reader.clone(),
            ca: CaSettings {
                url: settings.ca_url.clone(),
                root_pem: settings.ca_root.clone(),
            },
        },
    };
    let notifier = Notifier::default();
    let worker = Worker::spawn(mode, notifier.clone());
    let app = SithsApp::new(worker, notifier, settings, path);
    let title = app.tr.t("app-title");

    let mut viewport = egui::ViewportBuilder::default()
        .with_title(title.clone())
        .with_app_id("siths-upgrade")
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
    .map_err(|e| e.to_string())
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
