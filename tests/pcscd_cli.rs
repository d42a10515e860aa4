//! The product as a user runs it: the virtual card served through a real pcscd (vpcd driver),
//! our CLI in a separate process, and OpenSC's pkcs15-tool as an independent reader of the card.

mod support;

use std::process::{Command, Output};

use serde_json::Value;
use support::persons::HOLDER;
use support::served::ServedCard;

/// OpenSC beside our CLI on the same served card.
impl ServedCard {
    /// OpenSC binds a card it has no specific driver for (ours, like any ISO 7816-4 card with a
    /// PKCS#15 application) only through its default driver, which OpenSC >= 0.20 leaves off
    /// unless opensc.conf enables it. That is the one setting a site adds; the card is unchanged.
    fn opensc(&self, args: &[&str]) -> Output {
        let conf = self.dir.path().join("opensc.conf");
        std::fs::write(
            &conf,
            "app default {\n    enable_default_driver = true;\n}\n",
        )
        .unwrap();
        Command::new("pkcs15-tool")
            .args(args)
            .env("OPENSC_CONF", &conf)
            .envs(self.pcscd.env())
            .output()
            .expect("pkcs15-tool from the opensc package")
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn status_json(rig: &ServedCard) -> Value {
    let out = rig.run(&["status", "--json"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn status_through_pcscd_shows_the_legacy_pair_and_tries_left() {
    let mut rig = ServedCard::new();
    rig.serve();
    let v = status_json(&rig);
    assert_eq!(v["format_version"], 1);
    assert_eq!(v["reader"], support::pcscd::READER_0);
    assert_eq!(v["holder"]["hsa_id"], HOLDER.hsa_id);
    assert_eq!(v["holder"]["name"], HOLDER.name);
    assert_eq!(v["pins"]["pin1"]["tries_left"], 3);
    assert_eq!(v["pins"]["pin2"]["tries_left"], 3);
    assert_eq!(v["pins"]["puk"]["tries_left"], 10);
    let certs = v["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 2);
    let purposes: Vec<&str> = certs
        .iter()
        .map(|c| c["purpose"].as_str().unwrap())
        .collect();
    assert_eq!(purposes, ["authentication", "signature"]);
    assert!(certs.iter().all(|c| c["identity_type"] == "hsa-id"));

    // The plain-text status says the same in words.
    let out = rig.run(&["status"], "");
    assert!(out.status.success());
    let s = text(&out.stdout);
    assert!(
        s.contains(HOLDER.name) && s.contains("3 of 3 tries left"),
        "{s}"
    );
}

#[test]
fn pins_through_pcscd_with_exit_codes() {
    let mut rig = ServedCard::new();
    rig.serve();
    let ok = rig.run(&["verify-pin", "--which", "id", "--pin-stdin"], "135790\n");
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    // The command logged out when it ended: the card, still in the reader and served to
    // other programs through pcscd, is not left verified.
    assert_eq!(status_json(&rig)["pins"]["pin1"]["verified"], false);

    let wrong = rig.run(
        &["verify-pin", "--which", "sign", "--pin-stdin"],
        "000000\n",
    );
    assert_eq!(
        wrong.status.code(),
        Some(1),
        "a wrong PIN is the user's to fix"
    );
    assert!(
        text(&wrong.stderr).contains("2 tries left"),
        "{}",
        text(&wrong.stderr)
    );

    let typo = rig.run(&["verify-pin", "--pin-stdin"], "12ab56\n");
    assert_eq!(typo.status.code(), Some(1));
    assert!(text(&typo.stderr).contains("no try was used"));
    assert_eq!(status_json(&rig)["pins"]["pin1"]["tries_left"], 3);

    let change = rig.run(
        &["change-pin", "--which", "id", "--pin-stdin"],
        "135790\n97531864\n97531864\n",
    );
    assert!(change.status.success(), "{}", text(&change.stderr));
    let ok = rig.run(&["verify-pin", "--pin-stdin"], "97531864\n");
    assert!(ok.status.success());

    // No PIN on the command line: there is no option for it.
    let argv = rig.run(&["verify-pin", "--pin", "135790"], "");
    assert_eq!(argv.status.code(), Some(2));
}

#[test]
fn errors_name_the_missing_part() {
    let rig = ServedCard::new();
    // pcscd runs but nobody serves a card.
    let out = rig.run(&["status"], "");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("insert your SITHS card"));

    // No pcscd at all: a socket path where none listens.
    let env = vec![(
        support::pcscd::SOCKET_ENV.to_string(),
        rig.dir.path().join("nothing.comm").display().to_string(),
    )];
    let out = support::cli::run(&["status"], "", &env);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("pcscd"), "{}", text(&out.stderr));
}

#[test]
fn card_taken_out_and_put_back_is_seen_live() {
    let mut rig = ServedCard::new();
    rig.serve();
    rig.stop_serving();
    let out = rig.run(&["status"], "");
    assert_eq!(out.status.code(), Some(3));
    rig.serve();
    assert_eq!(status_json(&rig)["pins"]["puk"]["tries_left"], 10);
}

/// The PIN objects OpenSC lists, as (label, auth id), from `pkcs15-tool --list-pins`.
fn opensc_pins(out: &str) -> Vec<(String, String)> {
    let mut pins = Vec::new();
    let mut label = None;
    for line in out.lines() {
        if let Some(l) = line.strip_prefix("PIN [") {
            label = l.strip_suffix(']').map(str::to_string);
        }
        if let Some(id) = line.trim().strip_prefix("ID") {
            let id = id.trim_start_matches([' ', ':']).trim().to_string();
            pins.push((label.take().unwrap_or_default(), id));
        }
    }
    pins
}

#[test]
fn opensc_sees_what_we_see_and_its_unblock_works_for_us() {
    let mut rig = ServedCard::new();
    rig.serve();
    // Spend a try on PIN2 so the counters differ between PINs.
    let _ = rig.run(
        &["verify-pin", "--which", "sign", "--pin-stdin"],
        "000000\n",
    );
    let ours = status_json(&rig);

    let certs = rig.opensc(&["--list-certificates"]);
    let certs_out = text(&certs.stdout);
    assert!(certs.status.success(), "{certs_out}{}", text(&certs.stderr));
    let ids: Vec<&str> = certs_out
        .lines()
        .filter_map(|l| l.trim().strip_prefix("ID"))
        .map(|l| l.trim_start_matches([' ', ':']).trim())
        .collect();
    let our_ids: Vec<String> = ours["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_lowercase())
        .collect();
    assert_eq!(ids, our_ids, "{certs_out}");
    for c in ours["certificates"].as_array().unwrap() {
        assert!(
            certs_out.contains(c["label"].as_str().unwrap()),
            "{certs_out}"
        );
    }

    let pins = rig.opensc(&["--list-pins"]);
    let pins_out = text(&pins.stdout);
    assert!(pins.status.success(), "{pins_out}{}", text(&pins.stderr));
    let label = |key: &str| ours["pins"][key]["label"].as_str().unwrap().to_string();
    assert_eq!(
        opensc_pins(&pins_out),
        vec![
            (label("pin1"), "01".to_string()),
            (label("pin2"), "02".to_string()),
            (label("puk"), "03".to_string())
        ],
        "{pins_out}"
    );

    // OpenSC 0.23's default driver does not ask a card for tries left in --list-pins (only
    // card-specific drivers set SC_CARD_CAP_ISO7816_PIN_INFO), but it reports the counter the
    // card answers to a wrong PIN: our 2 tries left for PIN2 must be 1 after OpenSC spends one.
    assert_eq!(ours["pins"]["pin2"]["tries_left"], 2);
    let change = rig.opensc(&[
        "--change-pin",
        "--auth-id",
        "02",
        "--pin",
        "000000",
        "--new-pin",
        "11223344",
    ]);
    let change_out = format!("{}{}", text(&change.stdout), text(&change.stderr));
    assert!(change_out.contains("tries left: 1"), "{change_out}");
    assert_eq!(status_json(&rig)["pins"]["pin2"]["tries_left"], 1);

    // Block PIN1 with our client, unblock it with OpenSC, verify the new PIN with our client.
    for _ in 0..3 {
        let _ = rig.run(&["verify-pin", "--pin-stdin"], "000000\n");
    }
    assert_eq!(status_json(&rig)["pins"]["pin1"]["blocked"], true);
    let unblock = rig.opensc(&[
        "--unblock-pin",
        "--auth-id",
        "01",
        "--puk",
        "13572468",
        "--new-pin",
        "11223344",
    ]);
    assert!(
        unblock.status.success(),
        "{}{}",
        text(&unblock.stdout),
        text(&unblock.stderr)
    );
    let ok = rig.run(&["verify-pin", "--pin-stdin"], "11223344\n");
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert_eq!(status_json(&rig)["pins"]["pin1"]["tries_left"], 3);
}

/// No command and no display: the card in a reader is shown; a computer with only vpcd's virtual
/// readers, empty (a developer's), or without any smart card service shows a clearly marked demo
/// card. (An empty physical reader asks for the holder's card instead: `holder_workstation`'s
/// unit test, since CI has no physical reader.)
#[test]
fn the_bare_command_reads_the_card_and_shows_a_demo_only_on_a_developers_computer() {
    let mut rig = ServedCard::new();
    let mut env = rig.pcscd.env();
    env.extend([
        ("DISPLAY".to_string(), String::new()),
        ("WAYLAND_DISPLAY".to_string(), String::new()),
    ]);
    let bare = |env: &[(String, String)]| support::cli::run(&[], "", env);

    let empty = bare(&env);
    assert!(empty.status.success(), "{}", text(&empty.stderr));
    assert!(
        text(&empty.stderr).contains("DEMO"),
        "empty virtual readers only: the demo, marked: {}",
        text(&empty.stderr)
    );

    rig.serve();
    let shown = bare(&env);
    assert!(shown.status.success(), "{}", text(&shown.stderr));
    assert!(text(&shown.stdout).contains(support::pcscd::READER_0));

    let nowhere = rig.dir.path().join("no-pcscd.comm");
    let no_service = [
        (
            "PCSCLITE_CSOCK_NAME".to_string(),
            nowhere.display().to_string(),
        ),
        ("DISPLAY".to_string(), String::new()),
        ("WAYLAND_DISPLAY".to_string(), String::new()),
    ];
    let demo = bare(&no_service);
    assert!(demo.status.success(), "{}", text(&demo.stderr));
    assert!(
        text(&demo.stderr).contains("DEMO"),
        "{}",
        text(&demo.stderr)
    );
}
