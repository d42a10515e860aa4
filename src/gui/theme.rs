//! The window's look in both themes: egui's light and dark visuals, with the weak (secondary)
//! text darkened or lightened to WCAG AA contrast and the body text at 14 px. The window follows
//! the system's theme (most hospital desktops are light); the status colours are in
//! [`crate::gui::widgets::Tone`].

use egui::{Color32, FontFamily, FontId, Style, TextStyle, Theme, Visuals};

/// Body and button text size: 14 px reads comfortably on a workstation at 100 %.
pub const BODY_SIZE: f32 = 14.0;

/// egui's visuals for `theme` with readable weak text.
pub fn visuals(theme: Theme) -> Visuals {
    let mut v = match theme {
        Theme::Dark => Visuals::dark(),
        Theme::Light => Visuals::light(),
    };
    // egui's weak text is a faded body text: 2.3:1 on the dark panel. These greys keep it
    // visibly secondary while meeting 4.5:1.
    v.weak_text_color = Some(match theme {
        Theme::Dark => Color32::from_gray(0xa8),
        Theme::Light => Color32::from_gray(0x60),
    });
    v
}

/// Put our visuals and text sizes into both themes of `ctx`; egui picks the one the system
/// asks for.
pub fn apply(ctx: &egui::Context) {
    for theme in [Theme::Dark, Theme::Light] {
        ctx.set_visuals_of(theme, visuals(theme));
        ctx.style_mut_of(theme, text_sizes);
    }
}

fn text_sizes(style: &mut Style) {
    for (text_style, size) in [
        (TextStyle::Body, BODY_SIZE),
        (TextStyle::Button, BODY_SIZE),
        (TextStyle::Monospace, BODY_SIZE),
        (TextStyle::Heading, 20.0),
        (TextStyle::Small, 12.0),
    ] {
        let family = if text_style == TextStyle::Monospace {
            FontFamily::Monospace
        } else {
            FontFamily::Proportional
        };
        style
            .text_styles
            .insert(text_style, FontId::new(size, family));
    }
}
