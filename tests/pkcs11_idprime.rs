//! Our pkcs11 backend through real middleware: stock OpenSC 0.23's `opensc-pkcs11.so`, with its
//! own opensc.conf (no `OPENSC_CONF`), over the virtual card in its IDPrime layout served
//! through a real pcscd, as a current SITHS card is read through OpenSC. OpenSC shows one
//! token, names the objects "Certificate N" with `CKA_ID` 00 01, 00 02, puts every key under
//! PIN1, and does not show the signing PIN: the app must say so and never ask for it.
//!
//! Each test makes its holder's card with its legacy pair issued by the CA world's legacy CA
//! (`support::idprime::served_card_for`), so `ca-mock serve` on that world takes its login.

mod support;

use std::process::Output;

use serde_json::Value;
use siths_upgrade::pki::CertInfo;
use support::cli::text;
use support::idprime::{
    PIN1_REF, PIN2_REF, cardid_on_card, cert_on_card, codes_of, p11, served_card_for, tries_on_card,
};
use support::persons::{HOLDER, Person, RENEWAL_DUE};
use support::served::{ServedCa, ServedCard};

/// The sentence `status` shows where it would show the signing PIN's tries.
const PIN2_NOT_SHOWN: &str = "The signing PIN is not shown by the card's software";

fn json(out: Output) -> Value {
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)))
}

fn card_for(ca: &ServedCa, person: Person) -> ServedCard {
    served_card_for(ca, person)
}

/// What the holder's two legacy certificates are on the card: (id, slot, pin, purpose, serial,
/// SHA-256 fingerprint), from the card's own files.
fn legacy_pair_on_card(card: &ServedCard) -> Vec<(String, String, String, String, String, String)> {
    [
        ("0001", "1", "pin1", "authentication"),
        ("0002", "5", "pin2", "signature"),
    ]
    .into_iter()
    .enumerate()
    .map(|(index, (id, slot, pin, purpose))| {
        let info = CertInfo::from_der(&cert_on_card(card.state(), index)).unwrap();
        (
            id.to_string(),
            slot.to_string(),
            pin.to_string(),
            purpose.to_string(),
            info.serial_hex,
            info.fingerprint_sha256,
        )
    })
    .collect()
}

fn listed(v: &Value) -> Vec<(String, String, String, String, String, String)> {
    let field = |c: &Value, name: &str| match &c[name] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut list: Vec<_> = v["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                field(c, "id"),
                field(c, "slot"),
                field(c, "pin"),
                field(c, "purpose"),
                field(c, "serial_number"),
                field(c, "sha256"),
            )
        })
        .collect();
    list.sort();
    list
}

/// The serial stock OpenSC gives the token: the hex of the card's cardid (file 0201), of which
/// PKCS#11's 16-character serial field keeps the last 16 digits [public: framework-pkcs15.c].
fn opensc_serial(card: &ServedCard) -> String {
    let hex: String = cardid_on_card(card.state())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    hex[hex.len().saturating_sub(16)..].to_string()
}

#[test]
fn status_and_certs_show_the_holder_the_legacy_pair_the_serial_and_pin1() {
    let ca = ServedCa::start();
    let card = card_for(&ca, HOLDER);
    let status = json(p11(&card, &["status", "--json"], ""));
    assert_eq!(status["source"]["backend"], "pkcs11", "{status:#}");
    assert!(
        status["source"]["module"]
            .as_str()
            .unwrap()
            .ends_with("opensc-pkcs11.so"),
        "{status:#}"
    );
    // One token, labelled from the card's tinfo.
    assert_eq!(status["source"]["token"], "SITHS e-id kort", "{status:#}");
    assert_eq!(status["card"]["label"], "SITHS e-id kort", "{status:#}");
    assert_eq!(status["card"]["serial"], opensc_serial(&card).as_str());
    assert_eq!(status["source"]["serial"], status["card"]["serial"]);

    assert_eq!(status["holder"]["name"], HOLDER.name, "{status:#}");
    assert_eq!(status["holder"]["hsa_id"], HOLDER.hsa_id, "{status:#}");
    // OpenSC's "Certificate 1" and "Certificate 2" (CKA_ID 00 01, 00 02, both keys under PIN1
    // in 0.23) are told apart by what the certificates say: the legacy login and signature.
    assert_eq!(listed(&status), legacy_pair_on_card(&card), "{status:#}");
    let labels: Vec<&str> = status["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["Certificate 1", "Certificate 2"]);
    assert_eq!(status["other_objects"]["keys"], 0, "{status:#}");

    let pin1 = &status["pins"]["pin1"];
    assert_eq!(pin1["tries_left"], 3, "{status:#}");
    assert_eq!(pin1["blocked"], false, "{status:#}");
    // OpenSC 0.23 shows PIN1 alone: the signing PIN and the PUK are "not shown", not "none".
    assert_eq!(
        status["pins"]["pin2"]["tries_known"], "not_shown",
        "{status:#}"
    );
    assert_eq!(
        status["pins"]["puk"]["tries_known"], "not_shown",
        "{status:#}"
    );
    assert_eq!(status["card_dead"], false);

    let plain = p11(&card, &["status"], "");
    assert!(plain.status.success(), "{}", text(&plain));
    let plain = String::from_utf8_lossy(&plain.stdout).into_owned();
    assert!(
        plain.contains(&format!("Holder:        {}", HOLDER.name)),
        "{plain}"
    );
    assert!(plain.contains(PIN2_NOT_SHOWN), "{plain}");
    assert!(
        plain.contains("The PUK is not shown by the card's software"),
        "{plain}"
    );
    assert!(plain.contains(&opensc_serial(&card)), "{plain}");
    assert!(
        plain.contains(&format!("HSA-id {}, to log in (PIN1)", HOLDER.hsa_id)),
        "{plain}"
    );

    let certs = json(p11(&card, &["certs", "--json"], ""));
    assert_eq!(certs["certificates"], status["certificates"]);
    // Reading costs no try.
    assert_eq!(tries_on_card(card.state(), PIN1_REF), Some(3));
}

/// Through OpenSC and through our own APDUs, the same card says the same: the holder, the
/// card number, each certificate (serial, fingerprint, purpose, slot, PIN) and PIN1's tries.
#[test]
fn status_through_opensc_agrees_with_our_apdu_backend() {
    let ca = ServedCa::start();
    let card = card_for(&ca, HOLDER);
    let through_opensc = json(p11(&card, &["status", "--json"], ""));
    let ours = json(card.run(&["status", "--json"], ""));
    assert_eq!(ours["source"]["backend"], "pcsc", "{ours:#}");
    for field in [["holder", "name"], ["holder", "hsa_id"], ["card", "serial"]] {
        assert_eq!(
            through_opensc[field[0]][field[1]], ours[field[0]][field[1]],
            "{field:?}: {through_opensc:#} {ours:#}"
        );
    }
    // The ids differ by design (OpenSC numbers its objects, we name our slots); the rest not.
    let without_id = |v: &Value| {
        let mut l: Vec<_> = listed(v)
            .into_iter()
            .map(|c| (c.1, c.2, c.3, c.4, c.5))
            .collect();
        l.sort();
        l
    };
    assert_eq!(without_id(&through_opensc), without_id(&ours));
    assert_eq!(
        through_opensc["pins"]["pin1"]["tries_left"],
        ours["pins"]["pin1"]["tries_left"]
    );
    // What OpenSC does not show, our own APDUs read from the card.
    assert_eq!(ours["pins"]["pin2"]["tries_left"], 3, "{ours:#}");
    assert_eq!(ours["pins"]["puk"]["tries_left"], 10, "{ours:#}");
}

/// PIN1 changed through OpenSC (C_SetPIN, which OpenSC sends as CHANGE REFERENCE DATA): the
/// card takes the new PIN, which our own APDUs then verify, and the old one no longer works.
#[test]
fn pin1_is_changed_through_opensc_and_the_card_takes_the_new_one() {
    let ca = ServedCa::start();
    let card = card_for(&ca, HOLDER);
    let codes = codes_of(&ca, HOLDER);
    let change = p11(
        &card,
        &["change-pin", "--pin-stdin"],
        &format!("{}\n424242\n424242\n", codes.pin1),
    );
    assert!(change.status.success(), "{}", text(&change));
    let ours = card.run(&["verify-pin", "--pin-stdin"], "424242\n");
    assert!(ours.status.success(), "{}", text(&ours));
    let old = card.run(&["verify-pin", "--pin-stdin"], &format!("{}\n", codes.pin1));
    assert_eq!(old.status.code(), Some(1), "{}", text(&old));
}

#[test]
fn pin1_is_checked_and_a_wrong_one_counted_by_the_card() {
    let ca = ServedCa::start();
    let card = card_for(&ca, HOLDER);
    let codes = codes_of(&ca, HOLDER);
    let right = format!("{}\n", codes.pin1);
    let ok = p11(&card, &["verify-pin", "--pin-stdin"], &right);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).contains("is correct"), "{}", text(&ok));

    // A wrong PIN through the middleware is counted by the card; OpenSC 0.23 gives no count,
    // so the app says fewer than 3 rather than invent a number.
    let wrong = p11(&card, &["verify-pin", "--pin-stdin"], "999999\n");
    assert_eq!(wrong.status.code(), Some(1), "{}", text(&wrong));
    assert!(
        text(&wrong).contains("wrong identification PIN"),
        "{}",
        text(&wrong)
    );
    assert_eq!(tries_on_card(card.state(), PIN1_REF), Some(2));

    // The second wrong one leaves the last try, which PKCS#11's "final try" flag shows.
    let again = p11(&card, &["verify-pin", "--pin-stdin"], "999999\n");
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(text(&again).contains("1 try left"), "{}", text(&again));
    assert_eq!(tries_on_card(card.state(), PIN1_REF), Some(1));
    let status = json(p11(&card, &["status", "--json"], ""));
    assert_eq!(status["pins"]["pin1"]["tries_left"], 1, "{status:#}");
    assert_eq!(status["pins"]["pin1"]["tries_known"], "exact", "{status:#}");
    let plain = text(&p11(&card, &["status"], ""));
    assert!(plain.contains("1 of 3 tries left"), "{plain}");

    // The right PIN gives the tries back, on the card and in what the app shows.
    let ok = p11(&card, &["verify-pin", "--pin-stdin"], &right);
    assert!(ok.status.success(), "{}", text(&ok));
    assert_eq!(tries_on_card(card.state(), PIN1_REF), Some(3));
    let status = json(p11(&card, &["status", "--json"], ""));
    assert_eq!(status["pins"]["pin1"]["tries_left"], 3, "{status:#}");
}

#[test]
fn nothing_asks_for_or_tries_the_signing_pin_or_puk_the_middleware_does_not_show() {
    let ca = ServedCa::start();
    let card = card_for(&ca, HOLDER);
    let codes = codes_of(&ca, HOLDER);
    let before = std::fs::read(card.state()).unwrap();
    let attempts: [(&[&str], String); 3] = [
        (
            &["verify-pin", "--which", "sign", "--pin-stdin"],
            format!("{}\n", codes.pin2),
        ),
        (
            &["change-pin", "--which", "sign", "--pin-stdin"],
            format!("{}\n482915\n482915\n", codes.pin2),
        ),
        (
            &["unblock-pin", "--which", "sign", "--pin-stdin"],
            format!("{}\n482915\n482915\n", codes.puk),
        ),
    ];
    let attempts = attempts.into_iter().map(|(a, s)| (a, s, "the signing PIN"));
    // Nor a PUK it cannot see (OpenSC would take any SO PIN, then fail to set the new PIN).
    let unblock_pin1: [(&[&str], String, &str); 1] = [(
        &["unblock-pin", "--pin-stdin"],
        format!("{}\n482915\n482915\n", codes.puk),
        "the PUK",
    )];
    for (args, stdin, code) in attempts.chain(unblock_pin1) {
        let out = p11(&card, args, &stdin);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", text(&out));
        let said = text(&out);
        assert!(
            said.contains(&format!("does not show {code}")),
            "{args:?}: {said}"
        );
        assert!(said.contains("SafeNet Authentication Client"), "{said}");
    }
    // Not a try spent, not a byte changed.
    assert_eq!(tries_on_card(card.state(), PIN2_REF), Some(3));
    assert_eq!(std::fs::read(card.state()).unwrap(), before);
}

#[test]
fn the_test_login_signs_tls13_with_pss_and_tls12_with_pkcs1_through_opensc() {
    let ca13 = ServedCa::start_with(&[], Some("ca.log"));
    let ca12 = ServedCa::start_with(&["--tls12-pkcs1-only"], Some("ca.log"));
    // Both serve copies of one world: the same CAs take the same card.
    let card = card_for(&ca13, HOLDER);
    let pin1 = format!("{}\n", codes_of(&ca13, HOLDER).pin1);
    for (ca, scheme, version) in [
        (&ca13, "RSA-PSS", "TLSv1_3"),
        (&ca12, "PKCS#1 v1.5", "TLSv1_2"),
    ] {
        let root = ca.root();
        let out = p11(
            &card,
            &[
                "test-login",
                "--ca",
                &ca.url,
                "--ca-root",
                root.to_str().unwrap(),
                "--pin-stdin",
            ],
            &pin1,
        );
        assert!(out.status.success(), "{version}: {}", text(&out));
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            said.contains(&format!(
                "Logged in to the CA as {} (HSA-id {})",
                HOLDER.name, HOLDER.hsa_id
            )),
            "{said}"
        );
        assert!(said.contains("[0001] Certificate 1"), "{said}");
        assert!(
            said.contains(&format!("signed the TLS handshake with {scheme}.")),
            "{said}"
        );
        let log = std::fs::read_to_string(ca.tmp.path().join("ca.log")).unwrap();
        assert!(
            log.contains(&format!("TLS handshake (full) {version}")),
            "{log}"
        );
    }
    assert_eq!(tries_on_card(card.state(), PIN1_REF), Some(3));
}

#[test]
fn fetch_existing_lists_what_the_ca_holds_for_the_holder() {
    // Lena's four certificates are in the CA's store; this card holds none of their keys.
    let ca = ServedCa::start();
    let card = card_for(&ca, RENEWAL_DUE);
    let before = std::fs::read(card.state()).unwrap();
    let root = ca.root();
    let out = p11(
        &card,
        &[
            "fetch-existing",
            "--ca",
            &ca.url,
            "--ca-root",
            root.to_str().unwrap(),
            "--pin-stdin",
        ],
        &format!("{}\n", codes_of(&ca, RENEWAL_DUE).pin1),
    );
    assert!(out.status.success(), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    for label in ["hsa-auth", "hsa-sign", "pnr-auth", "pnr-sign"] {
        let line = said
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no {label} in {said}"));
        assert!(line.contains(RENEWAL_DUE.name), "{line}");
        assert!(
            line.contains("its private key is on another card"),
            "{line}"
        );
    }
    assert!(said.contains("Nothing written"), "{said}");
    assert_eq!(std::fs::read(card.state()).unwrap(), before);
}

#[test]
fn upgrade_stops_before_anything_changes_since_opensc_cannot_make_keys_here() {
    let ca = ServedCa::start_with(&[], Some("ca.log"));
    let card = card_for(&ca, HOLDER);
    let codes = codes_of(&ca, HOLDER);
    let before = std::fs::read(card.state()).unwrap();
    let root = ca.root();
    let out = p11(
        &card,
        &[
            "upgrade",
            "--ca",
            &ca.url,
            "--ca-root",
            root.to_str().unwrap(),
            "--pin-stdin",
        ],
        &format!("{}\n{}\n", codes.pin1, codes.pin2),
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("this middleware cannot make keys on the card"),
        "{said}"
    );
    assert!(said.contains("SafeNet Authentication Client"), "{said}");
    // Stopped before the card or the CA was asked anything.
    assert_eq!(std::fs::read(card.state()).unwrap(), before);
    // (The only connection the CA saw is the harness's own check that it listens.)
    let log = std::fs::read_to_string(ca.tmp.path().join("ca.log")).unwrap();
    assert!(!log.contains("TLS handshake ("), "{log}");
    assert!(!log.contains(" -> "), "{log}");
}

/// The window's overview, over OpenSC in this process: where it shows the signing PIN's tries
/// it says, in Swedish (the default), that the card's software does not show it.
///
/// OpenSC and the PC/SC client library read their environment once per process, so this is the
/// binary's only test that loads OpenSC in-process; the others run our binary as a separate
/// process, with their pcscd named in its own environment.
#[test]
fn the_window_says_the_signing_pin_is_not_shown() {
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;
    use siths_upgrade::gui::app::SithsApp;
    use siths_upgrade::gui::protocol::CaSettings;
    use siths_upgrade::gui::settings::Settings;
    use siths_upgrade::gui::worker::{Mode, Notifier, Worker};

    let ca = ServedCa::start();
    let card = card_for(&ca, HOLDER);
    for (key, value) in card.env() {
        // The pcscd, and a home of the card's own: OpenSC, loaded in this process, keeps a
        // cache in the home it finds.
        if key == support::pcscd::SOCKET_ENV || key == "HOME" || key.starts_with("XDG_") {
            // SAFETY: set before this process loads OpenSC or the PC/SC client library, which
            // only this test does; the other tests' threads only spawn processes, through std's
            // own environment lock, and name their pcscd and home in the child's environment.
            unsafe { std::env::set_var(key, value) };
        }
    }
    // SAFETY: as above; stock opensc.conf, whatever the test runner's environment says.
    unsafe { std::env::remove_var("OPENSC_CONF") };

    let notifier = Notifier::default();
    let worker = Worker::spawn(
        Mode::Pkcs11 {
            module: "opensc".into(),
            token: None,
            ca: CaSettings {
                url: ca.url.clone(),
                root_pem: Some(ca.root()),
            },
        },
        notifier.clone(),
    );
    let app = SithsApp::new(worker, notifier, Settings::default(), None);
    let mut harness = Harness::builder()
        .with_size([900.0, 820.0])
        .with_max_steps(50)
        .build_ui_state(|ui, app: &mut SithsApp| app.show(ui), app);
    support::window::wait_for_text(&mut harness, HOLDER.given_name());
    let has =
        |h: &Harness<'static, SithsApp>, t: &str| h.query_all_by_label_contains(t).next().is_some();
    assert!(has(&harness, HOLDER.hsa_id));
    assert!(has(
        &harness,
        "Underskriftskoden visas inte av kortets programvara"
    ));
    assert!(has(&harness, "PUK-koden visas inte av kortets programvara"));
    // PIN1's tries are still shown, as the flags allow.
    assert!(has(&harness, "alla försök kvar"));
}
