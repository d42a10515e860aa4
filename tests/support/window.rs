//! Driving the window in tests (egui_kittest).

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use siths_upgrade::gui::app::SithsApp;

/// The instant the window's pictures are taken at (2026-03-02 08:00 UTC): the demo's
/// certificates are issued then and every date the window draws follows from it, so a picture
/// is the same on any day the tests run.
pub const PICTURE_CALENDAR: i64 = 1_772_438_400;

/// Start this test process's calendar at [`PICTURE_CALENDAR`]; call it before the demo world
/// is made.
pub fn picture_calendar() {
    assert!(
        siths_upgrade::pki::date::start_calendar_at(PICTURE_CALENDAR),
        "the calendar of this test process was started elsewhere"
    );
}

/// One demo world cache per test binary (the directory `DemoWorld::prepare_in` fills on first
/// use), with this process's calendar started at [`PICTURE_CALENDAR`] first so the world is
/// made at the pictures' calendar.
pub fn demo_cache() -> &'static std::path::Path {
    static CACHE: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    CACHE
        .get_or_init(|| {
            picture_calendar();
            tempfile::tempdir().unwrap()
        })
        .path()
}

/// Step the window until `text` shows: the worker runs on its own thread, so this waits (up to
/// three minutes on a loaded machine: a hang guard, not a timed assertion).
pub fn wait_for_text(harness: &mut Harness<'static, SithsApp>, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        harness.step();
        if harness.query_all_by_label_contains(text).next().is_some() {
            harness.run_ok();
            return;
        }
        assert!(Instant::now() < deadline, "the window never showed {text}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A snapshot that does not depend on when it is taken: no mouse pointer, and the text cursor
/// of a focused field drawn steadily (it blinks with the clock otherwise).
pub fn steady_snapshot(harness: &mut Harness<'static, SithsApp>, name: &str) {
    harness
        .ctx
        .all_styles_mut(|style| style.visuals.text_cursor.blink = false);
    harness.remove_cursor();
    harness.run_ok();
    harness.snapshot(name);
}
