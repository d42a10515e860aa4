//! Small pieces every screen uses: labelled code fields, rule lists, notices.

use egui::{Color32, RichText, TextEdit};
use zeroize::Zeroizing;

use crate::gui::words::Explained;

pub const OK_COLOUR: Color32 = Color32::from_rgb(0x1b, 0x7f, 0x3b);
pub const WARN_COLOUR: Color32 = Color32::from_rgb(0xa3, 0x5a, 0x00);
pub const ERROR_COLOUR: Color32 = Color32::from_rgb(0xb0, 0x1e, 0x1e);

/// A masked code field with its label tied to it (screen readers and tests find it by name);
/// `true` when the holder pressed Enter in it.
pub fn code_field(
    ui: &mut egui::Ui,
    label: &str,
    value: &mut Zeroizing<String>,
    max_len: usize,
) -> bool {
    let mut entered = false;
    ui.horizontal(|ui| {
        let l = ui.label(label);
        let r = ui
            .add(
                TextEdit::singleline(&mut **value)
                    .password(true)
                    .char_limit(max_len)
                    .desired_width(120.0)
                    .id(code_field_id(label)),
            )
            .labelled_by(l.id);
        entered = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
    });
    entered
}

/// Forget what egui remembers of a code field (its undo history holds copies of the text).
pub fn forget_field(ctx: &egui::Context, label: &str) {
    let id = code_field_id(label);
    ctx.data_mut(|d| d.remove::<egui::text_edit::TextEditState>(id));
}

fn code_field_id(label: &str) -> egui::Id {
    egui::Id::unique(("code-field", label))
}

/// A plain, labelled text field (addresses, paths).
pub fn text_field(
    ui: &mut egui::Ui,
    label: &str,
    value: &mut String,
    width: f32,
) -> egui::Response {
    ui.horizontal(|ui| {
        let l = ui.label(label);
        ui.add(
            TextEdit::singleline(value)
                .desired_width(width)
                .id_salt(label),
        )
        .labelled_by(l.id)
    })
    .inner
}

/// One rule with a mark: ✔ met, ✖ not (yet) met.
pub fn rule(ui: &mut egui::Ui, ok: bool, text: &str) {
    let (mark, colour) = if ok {
        ("✔", OK_COLOUR)
    } else {
        ("✖", ERROR_COLOUR)
    };
    ui.label(RichText::new(format!("{mark} {text}")).color(colour));
}

/// A success line.
pub fn success(ui: &mut egui::Ui, text: &str) {
    ui.label(RichText::new(format!("✔ {text}")).color(OK_COLOUR).strong());
}

/// A warning line.
pub fn warning(ui: &mut egui::Ui, text: &str) {
    ui.label(
        RichText::new(format!("⚠ {text}"))
            .color(WARN_COLOUR)
            .strong(),
    );
}

/// An error in a framed box.
pub fn error_box(ui: &mut egui::Ui, explained: &Explained) {
    egui::Frame::group(ui.style())
        .stroke(egui::Stroke::new(1.5, ERROR_COLOUR))
        .show(ui, |ui| {
            ui.label(RichText::new(format!("✖ {}", explained.text)).color(ERROR_COLOUR));
        });
}

/// A primary action button, big enough to hit at 125 % scaling.
pub fn primary(ui: &mut egui::Ui, text: &str, enabled: bool) -> bool {
    ui.add_enabled(
        enabled,
        egui::Button::new(RichText::new(text).strong()).min_size(egui::vec2(160.0, 30.0)),
    )
    .clicked()
}

/// A secondary action button.
pub fn secondary(ui: &mut egui::Ui, text: &str, enabled: bool) -> bool {
    ui.add_enabled(
        enabled,
        egui::Button::new(text).min_size(egui::vec2(120.0, 26.0)),
    )
    .clicked()
}
