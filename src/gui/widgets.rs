//! Small pieces every screen uses: labelled code fields, rule lists, notices.

use egui::{Color32, RichText, TextEdit};
use zeroize::Zeroizing;

use crate::gui::words::Explained;

/// The three status colours. They carry the most important texts (a blocked PIN, the last try),
/// so each theme has its own shade, chosen for at least WCAG AA contrast (4.5:1) against that
/// theme's background: a light-theme red on a dark panel reads at 2.5:1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Ok,
    Warn,
    Error,
}

impl Tone {
    pub const ALL: [Tone; 3] = [Tone::Ok, Tone::Warn, Tone::Error];

    /// This status's colour in the dark (`true`) or light theme.
    pub fn colour(self, dark: bool) -> Color32 {
        match (self, dark) {
            (Tone::Ok, false) => Color32::from_rgb(0x1b, 0x7f, 0x3b),
            (Tone::Warn, false) => Color32::from_rgb(0xa3, 0x5a, 0x00),
            (Tone::Error, false) => Color32::from_rgb(0xb0, 0x1e, 0x1e),
            (Tone::Ok, true) => Color32::from_rgb(0x6f, 0xd3, 0x8c),
            (Tone::Warn, true) => Color32::from_rgb(0xf0, 0xb0, 0x4a),
            (Tone::Error, true) => Color32::from_rgb(0xff, 0x8a, 0x80),
        }
    }
}

/// The status colour for the theme `ui` is drawn in.
pub fn colour(ui: &egui::Ui, status: Tone) -> Color32 {
    status.colour(ui.visuals().dark_mode)
}

/// WCAG 2 contrast ratio of two sRGB colours (1 to 21).
pub fn contrast(a: Color32, b: Color32) -> f32 {
    fn channel(c: u8) -> f32 {
        let c = f32::from(c) / 255.0;
        if c <= 0.039_28 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    }
    fn luminance(c: Color32) -> f32 {
        0.2126 * channel(c.r()) + 0.7152 * channel(c.g()) + 0.0722 * channel(c.b())
    }
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

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

/// One code in a form: its label, its text, its longest length, and a note beside it (tries
/// left).
pub struct CodeRow<'a> {
    pub label: &'a str,
    pub value: &'a mut Zeroizing<String>,
    pub max_len: usize,
    pub note: String,
}

/// What the holder did in a code form this frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CodeKeys {
    /// Enter in the last field: submit, if the caller finds the form complete.
    pub submit: bool,
    /// Esc: leave the form.
    pub cancel: bool,
}

/// The code fields of a form lined up in a grid, with the keyboard flow people expect: focus
/// starts in the first empty field when the form appears (the desk fills in the PUK), Enter in a field moves to the next one,
/// Enter in the last asks to submit (the caller submits a complete form only), Esc cancels.
pub fn code_grid(ui: &mut egui::Ui, form: &str, rows: Vec<CodeRow<'_>>) -> CodeKeys {
    let mut keys = CodeKeys::default();
    // A form that was not drawn in the previous pass has just appeared: focus its first field.
    let seen = egui::Id::unique(("code-grid-seen", form));
    let pass = ui.ctx().cumulative_pass_nr();
    let last: Option<u64> = ui.ctx().data(|d| d.get_temp(seen));
    ui.ctx().data_mut(|d| d.insert_temp(seen, pass));
    let appeared = last.is_none_or(|l| pass > l + 1);
    let ids: Vec<egui::Id> = rows.iter().map(|r| code_field_id(r.label)).collect();
    let next_key = egui::Id::unique(("code-grid-next", form));
    let count = rows.len();
    let first_empty = rows.iter().position(|r| r.value.is_empty()).unwrap_or(0);
    egui::Grid::new(("code-grid", form))
        .num_columns(3)
        .spacing([12.0, 6.0])
        .show(ui, |ui| {
            for (i, row) in rows.into_iter().enumerate() {
                let l = ui.label(row.label);
                let r = ui
                    .add(
                        TextEdit::singleline(&mut **row.value)
                            .password(true)
                            .char_limit(row.max_len)
                            .desired_width(120.0)
                            .id(ids[i]),
                    )
                    .labelled_by(l.id);
                let pending = ui.ctx().data(|d| d.get_temp::<egui::Id>(next_key));
                if (i == first_empty && appeared) || pending == Some(ids[i]) {
                    r.request_focus();
                    ui.ctx().data_mut(|d| d.remove::<egui::Id>(next_key));
                }
                if r.lost_focus() && ui.input(|inp| inp.key_pressed(egui::Key::Enter)) {
                    match ids.get(i + 1) {
                        // Focused when drawn in the next pass: the field that just gave up
                        // focus on Enter would otherwise take it back in this one.
                        Some(next) => {
                            ui.ctx().data_mut(|d| d.insert_temp(next_key, *next));
                            ui.ctx().request_repaint();
                        }
                        None => keys.submit = true,
                    }
                }
                ui.label(RichText::new(row.note).weak());
                ui.end_row();
            }
        });
    if count > 0 && ui.input(|i| i.key_pressed(egui::Key::Escape)) {
        keys.cancel = true;
    }
    keys
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

/// One rule with a mark: ✔ met, ✖ not met, and a neutral • before the holder has typed (a
/// form is not wrong before it is filled in).
pub fn rule(ui: &mut egui::Ui, met: Option<bool>, text: &str) {
    let (mark, colour) = match met {
        Some(true) => ("✔", colour(ui, Tone::Ok)),
        Some(false) => ("✖", colour(ui, Tone::Error)),
        None => ("•", ui.visuals().weak_text_color()),
    };
    ui.label(RichText::new(format!("{mark} {text}")).color(colour));
}

/// A success line.
pub fn success(ui: &mut egui::Ui, text: &str) {
    ui.label(
        RichText::new(format!("✔ {text}"))
            .color(colour(ui, Tone::Ok))
            .strong(),
    );
}

/// The screen's one verdict, in the style of a libadwaita banner or a Fluent InfoBar: a tinted
/// band with the status mark, the text in body colour (readable in both themes), and the
/// screen's primary action inside it. Returns whether that action was clicked.
pub fn banner(
    ui: &mut egui::Ui,
    status: Tone,
    text: &str,
    detail: Option<&str>,
    action: Option<(&str, bool)>,
) -> bool {
    let accent = colour(ui, status);
    let fill = accent.gamma_multiply(0.12);
    let mark = match status {
        Tone::Ok => "✔",
        Tone::Warn => "⚠",
        Tone::Error => "✖",
    };
    let mut clicked = false;
    egui::Frame::new()
        .fill(fill)
        .stroke(egui::Stroke::new(1.0, accent))
        .corner_radius(6.0)
        .inner_margin(egui::Margin::same(10))
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.horizontal_wrapped(|ui| {
                ui.label(RichText::new(mark).color(accent).strong());
                ui.label(RichText::new(text).strong());
            });
            if let Some(detail) = detail {
                ui.label(detail);
            }
            if let Some((label, enabled)) = action {
                ui.add_space(4.0);
                clicked = primary(ui, label, enabled);
            }
        });
    clicked
}

/// A warning line.
pub fn warning(ui: &mut egui::Ui, text: &str) {
    ui.label(
        RichText::new(format!("⚠ {text}"))
            .color(colour(ui, Tone::Warn))
            .strong(),
    );
}

/// An error in a framed box: the holder's words and next step, and below them, folded away,
/// the technical detail support asks for (status words, the CA's own message), with a button
/// that copies it so nobody has to type it off the screen.
pub fn error_box(ui: &mut egui::Ui, explained: &Explained) {
    egui::Frame::group(ui.style())
        .stroke(egui::Stroke::new(1.5, colour(ui, Tone::Error)))
        .show(ui, |ui| {
            ui.label(RichText::new(format!("✖ {}", explained.text)).color(colour(ui, Tone::Error)));
            if let Some(technical) = &explained.technical {
                // Keyed by the detail, so another error's box opens folded.
                egui::CollapsingHeader::new(&technical.heading)
                    .id_salt(("technical", &technical.detail))
                    .default_open(false)
                    .show(ui, |ui| {
                        ui.label(RichText::new(&technical.detail).monospace());
                        if ui.small_button(&technical.copy).clicked() {
                            ui.ctx().copy_text(technical.detail.clone());
                        }
                    });
            }
        });
}

/// A primary action button, big enough to hit at 125 % scaling.
/// Filled in the accent colour with white text (6.4:1), so the one primary action of a screen
/// stands out from the secondary ones in both themes.
pub fn primary(ui: &mut egui::Ui, text: &str, enabled: bool) -> bool {
    ui.add_enabled(
        enabled,
        egui::Button::new(RichText::new(text).strong().color(ACCENT_TEXT))
            .fill(ACCENT)
            .min_size(egui::vec2(160.0, 30.0)),
    )
    .clicked()
}

/// The primary buttons' fill (GNOME's blue 4) and text.
pub const ACCENT: Color32 = Color32::from_rgb(0x1a, 0x5f, 0xb4);
pub const ACCENT_TEXT: Color32 = Color32::WHITE;

/// A secondary action button.
pub fn secondary(ui: &mut egui::Ui, text: &str, enabled: bool) -> bool {
    ui.add_enabled(
        enabled,
        egui::Button::new(text).min_size(egui::vec2(120.0, 26.0)),
    )
    .clicked()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every status colour, and the body and weak text, reads at WCAG AA (4.5:1) against the
    /// panel and window backgrounds of both themes.
    #[test]
    fn every_text_colour_meets_wcag_aa_in_both_themes() {
        for theme in [egui::Theme::Light, egui::Theme::Dark] {
            let visuals = crate::gui::theme::visuals(theme);
            let theme = if visuals.dark_mode { "dark" } else { "light" };
            let mut texts: Vec<(String, Color32)> = Tone::ALL
                .iter()
                .map(|s| (format!("{s:?}"), s.colour(visuals.dark_mode)))
                .collect();
            texts.push(("body text".into(), visuals.text_color()));
            texts.push(("weak text".into(), visuals.weak_text_color()));
            for (name, text) in texts {
                for (bg_name, bg) in [
                    ("panel", visuals.panel_fill),
                    ("window", visuals.window_fill),
                ] {
                    let ratio = contrast(text, bg);
                    assert!(
                        ratio >= 4.5,
                        "{theme}: {name} on the {bg_name} background is {ratio:.2}:1"
                    );
                }
            }
        }
    }

    #[test]
    fn the_primary_buttons_text_reads_on_its_fill() {
        assert!(contrast(ACCENT_TEXT, ACCENT) >= 4.5);
    }

    /// The holder sees the words and the next step; the status word and the operation appear
    /// only when "Visa teknisk information" is opened, with a button to copy them.
    #[test]
    fn the_error_box_folds_the_technical_detail_away() {
        use egui_kittest::kittest::Queryable;
        let tr = crate::gui::i18n::Tr::new(crate::gui::i18n::Lang::Sv);
        let explained = crate::gui::words::card_error(
            &tr,
            &crate::card::CardError::Refused {
                operation: "READ BINARY",
                sw: crate::apdu::StatusWord::FileNotFound,
            },
        );
        let mut harness = egui_kittest::Harness::new_ui(|ui| error_box(ui, &explained));
        harness.run();
        let shows = |h: &egui_kittest::Harness<'_>, text: &str| {
            h.query_all_by_label_contains(text).next().is_some()
        };
        assert!(shows(&harness, "Kortet svarade inte som väntat"));
        assert!(!shows(&harness, "READ BINARY"));
        harness.get_by_label("Visa teknisk information").click();
        harness.run();
        assert!(shows(&harness, "READ BINARY: status"));
        assert!(shows(&harness, "Kopiera den tekniska informationen"));
    }

    #[test]
    fn contrast_is_the_wcag_ratio() {
        assert!((contrast(Color32::BLACK, Color32::WHITE) - 21.0).abs() < 0.01);
        assert!((contrast(Color32::WHITE, Color32::WHITE) - 1.0).abs() < 0.001);
    }
}
