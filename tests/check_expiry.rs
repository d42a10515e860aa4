//! `check-expiry` as a scheduler runs it: our binary in its own process against virtual cards
//! whose certificates expire at each reminder step (30, 15, 7, 5, 3, 1, 0 days), one day too
//! early for a reminder (31) and already expired; the words, the JSON and the exit code of each.
//! One card goes through a real isolated pcscd with the vpcd driver.
//!
//! Every certificate expires N days plus 12 hours from when the card is made, so `days_left`
//! (whole days, rounded down) cannot flip while a test runs.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use serde_json::Value;
use siths_upgrade::pki::date::{Date, now_unix};
use siths_upgrade::pki::issue::{PersonCertRequest, TestCa};
use siths_upgrade::pki::{PersonName, Purpose};
use siths_upgrade::provision::{
    Codes, demo_holder, generate_and_certify, make_pre_upgrade_card_with, personalised_card,
};
use siths_upgrade::virtual_card::Layout;
use support::persons::HOLDER;
use support::served::ServedCard;

const DAY: i64 = 86_400;
const MARGIN: i64 = DAY / 2;
const SERIAL: &str = "9752269000002002";
/// The test cards hold the legacy pair: the upgrade is what replaces it.
const NEXT_STEP: &str = "upgrade the card (siths-upgrade upgrade)";
const RUN_LINE: &str = "Run: siths-upgrade upgrade --ca URL --ca-root FILE";

/// The legacy CA every test card's pair comes from (made once: RSA keys are slow).
fn legacy_ca() -> &'static TestCa {
    static CA: OnceLock<TestCa> = OnceLock::new();
    CA.get_or_init(|| {
        let root = TestCa::new_root("TEST SITHS Root CA v1 (check-expiry)", 2048).unwrap();
        TestCa::new_issuing(&root, "TEST SITHS Type 1 CA v1", 2048, Some(3)).unwrap()
    })
}

/// A pre-upgrade card whose HSA-id pair expires at `not_after`; returns its state file.
fn card_expiring_at(dir: &Path, not_after: i64) -> PathBuf {
    let state = dir.join("card.json");
    make_pre_upgrade_card_with(
        Layout::Pkcs15,
        &state,
        SERIAL,
        &Codes::test_defaults(),
        &demo_holder(),
        legacy_ca(),
        Some((now_unix() - 400 * DAY, not_after)),
    )
    .unwrap();
    state
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn check_expiry(state: &Path, json: bool) -> Output {
    let mut args = vec!["--virtual-card", state.to_str().unwrap(), "check-expiry"];
    if json {
        args.push("--json");
    }
    support::cli::run(&args, "", &[])
}

/// What the user should see for a card whose pair has `days` whole days left.
fn expected_lines(days: i64, not_after: i64) -> Vec<String> {
    let date = Date::from_unix(not_after);
    let when = match days {
        d if d < 0 => {
            return ["authentication", "signature"]
                .iter()
                .map(|p| {
                    format!(
                        "HSA-id {p} certificate has expired ({date}): it no longer works, \
                         order a new card from the service centre"
                    )
                })
                .collect();
        }
        0 => {
            let secs = not_after.rem_euclid(DAY);
            format!(
                "expires within 24 hours ({date} {:02}:{:02} UTC)",
                secs / 3600,
                secs % 3600 / 60
            )
        }
        1 => format!("expires in 1 day ({date})"),
        n => format!("expires in {n} days ({date})"),
    };
    ["authentication", "signature"]
        .iter()
        .map(|p| format!("HSA-id {p} certificate {when}: {NEXT_STEP}"))
        .chain([RUN_LINE.to_string()])
        .collect()
}

/// Build a card whose pair has `days` whole days left, and check words, JSON and exit code.
fn check_card(days: i64, threshold: Option<i64>, code: i32, urgency: &str) {
    let dir = tempfile::tempdir().unwrap();
    let not_after = now_unix() + days * DAY + MARGIN;
    let state = card_expiring_at(dir.path(), not_after);

    let out = check_expiry(&state, false);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{days} days left: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    match threshold {
        None => assert_eq!(lines, ["No certificate expires within 30 days."]),
        Some(_) => assert_eq!(lines, expected_lines(days, not_after), "{days} days left"),
    }

    let out = check_expiry(&state, true);
    assert_eq!(out.status.code(), Some(code), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["format_version"], 1);
    assert_eq!(v["card_serial"], SERIAL);
    assert_eq!(v["urgency"], urgency);
    let certs = v["certificates"].as_array().unwrap();
    let Some(threshold) = threshold else {
        assert!(certs.is_empty(), "{v}");
        return;
    };
    let seen: Vec<(&str, &str, &str)> = certs
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap(),
                c["label"].as_str().unwrap(),
                c["purpose"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("01", "HSA-id legitimering", "authentication"),
            ("05", "HSA-id underskrift", "signature"),
        ]
    );
    let (fix, command) = if days < 0 {
        ("new_card", Value::Null)
    } else {
        ("upgrade", Value::from(RUN_LINE.trim_start_matches("Run: ")))
    };
    assert_eq!(v["fix"]["action"], fix, "{v}");
    assert_eq!(v["fix"]["command"], command, "{v}");
    let date = Date::from_unix(not_after).to_string();
    for c in certs {
        assert_eq!(c["fix"], fix, "{c}");
        assert_eq!(c["identity_kind"], "hsa-id");
        assert_eq!(c["days_left"], days, "{c}");
        assert_eq!(c["threshold"], threshold, "{c}");
        let when = c["not_after"].as_str().unwrap();
        assert!(
            when.starts_with(&format!("{date}T")) && when.ends_with('Z'),
            "{when}"
        );
    }
}

#[test]
fn thirty_one_days_left_is_no_reminder() {
    check_card(31, None, 0, "none");
}

#[test]
fn thirty_days_left() {
    check_card(30, Some(30), 10, "due");
}

#[test]
fn fifteen_days_left() {
    check_card(15, Some(15), 10, "due");
}

#[test]
fn seven_days_left_is_urgent() {
    check_card(7, Some(7), 11, "urgent");
}

#[test]
fn five_days_left() {
    check_card(5, Some(5), 11, "urgent");
}

#[test]
fn three_days_left() {
    check_card(3, Some(3), 11, "urgent");
}

#[test]
fn one_day_left() {
    check_card(1, Some(1), 11, "urgent");
}

#[test]
fn expires_within_a_day() {
    check_card(0, Some(0), 11, "urgent");
}

#[test]
fn expired_three_days_ago() {
    check_card(-3, Some(0), 12, "expired");
}

/// A card whose certificates expire on different days: only the due ones, soonest first, and
/// the most urgent decides the exit code.
#[test]
fn mixed_card_lists_due_certificates_soonest_first() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("card.json");
    let now = now_unix();
    let mut card =
        personalised_card(Layout::Pkcs15, &state, SERIAL, &Codes::test_defaults()).unwrap();
    let hsa = demo_holder();
    let pnr = PersonName {
        serial_number: HOLDER.personnummer.into(),
        ..demo_holder()
    };
    let slots: [(u8, &str, &PersonName, Purpose, i64); 3] = [
        (1, "HSA-id legitimering", &hsa, Purpose::Authentication, 12),
        (
            2,
            "Personnummer legitimering",
            &pnr,
            Purpose::Authentication,
            45,
        ),
        (5, "HSA-id underskrift", &hsa, Purpose::Signature, 3),
    ];
    for (slot, label, person, purpose, days) in slots {
        let req = PersonCertRequest {
            subject: person.clone(),
            purpose,
            trust_level: Some(3),
            upn: None,
            not_before: Some(now - 400 * DAY),
            not_after: Some(now + days * DAY + MARGIN),
        };
        generate_and_certify(
            &mut card,
            siths_upgrade::card::KeySlot::new(slot).unwrap(),
            label,
            legacy_ca(),
            &req,
        )
        .unwrap();
    }
    drop(card);

    let out = check_expiry(&state, false);
    assert_eq!(out.status.code(), Some(11), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert_eq!(lines[2], RUN_LINE);
    assert!(
        lines[0].starts_with("HSA-id signature certificate expires in 3 days (")
            && lines[1].starts_with("HSA-id authentication certificate expires in 12 days ("),
        "{stdout}"
    );
    assert!(!stdout.contains("Personnummer"), "{stdout}");

    let out = check_expiry(&state, true);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let seen: Vec<(&str, i64, i64)> = v["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["label"].as_str().unwrap(),
                c["days_left"].as_i64().unwrap(),
                c["threshold"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("HSA-id underskrift", 3, 3),
            ("HSA-id legitimering", 12, 15)
        ]
    );
    assert_eq!(v["urgency"], "urgent");
}

/// A state file that is not there is an error (4), never mistaken for "nothing due" (0) or a
/// reminder (10-12).
#[test]
fn a_missing_card_is_an_error_not_a_reminder() {
    let dir = tempfile::tempdir().unwrap();
    let out = check_expiry(&dir.path().join("nothing.json"), false);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
}

/// The card in a real reader: `virtual-card serve` into an isolated pcscd via vpcd, then
/// `check-expiry` as a timer would run it, with and without --reader; and with the card pulled,
/// the card error (3), not a reminder.
#[test]
fn through_pcscd_five_days_left_and_then_no_card() {
    let dir = tempfile::tempdir().unwrap();
    let not_after = now_unix() + 5 * DAY + MARGIN;
    let state = card_expiring_at(dir.path(), not_after);
    let mut card = ServedCard::of(state, dir);
    let env = card.env();
    card.serve();

    let out = support::cli::run(&["check-expiry"], "", &env);
    assert_eq!(out.status.code(), Some(11), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).lines().collect::<Vec<_>>(),
        expected_lines(5, not_after)
    );

    let out = support::cli::run(
        &[
            "check-expiry",
            "--json",
            "--reader",
            support::pcscd::READER_0,
        ],
        "",
        &env,
    );
    assert_eq!(out.status.code(), Some(11), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["card_serial"], SERIAL);
    assert_eq!(v["urgency"], "urgent");
    assert_eq!(v["certificates"][0]["threshold"], 5);

    card.stop_serving();
    let out = support::cli::run(&["check-expiry"], "", &env);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
}
