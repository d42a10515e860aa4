//! OpenSC's own PKCS#11 module (`opensc-pkcs11.so`) over our virtual card served through a real
//! pcscd: the pkcs11 backend must see what the apdu backend sees on the same card, and PIN
//! counters kept by the card must show through the middleware's flags.

mod support;

use std::process::Output;

use serde_json::Value;
use support::cli::text;
use support::served::ServedCard;

/// A served card as OpenSC's PKCS#11 module sees it, with the site's opensc.conf.
fn served_card() -> ServedCard {
    let mut card = ServedCard::new();
    // OpenSC binds our card only through its default driver, which opensc.conf enables;
    // its PKCS#11 module unblocks a PIN with the PUK (C_Login as SO, C_InitPIN) only when
    // opensc.conf says so. Both are a site's settings; the card is unchanged.
    let conf = card.dir.path().join("opensc.conf");
    std::fs::write(
        &conf,
        "app default {\n    enable_default_driver = true;\n}\n\
         app opensc-pkcs11 {\n    pkcs11 {\n        user_pin_unblock_style = init_pin_in_so_session;\n    }\n}\n",
    )
    .unwrap();
    card.set_env("OPENSC_CONF", &conf.display().to_string());
    card.serve();
    card
}

/// Our CLI through OpenSC's PKCS#11 module.
impl ServedCard {
    /// The same command through OpenSC's PKCS#11 module, found by its short name.
    fn p11(&self, args: &[&str], stdin: &str) -> Output {
        let mut all = vec!["--pkcs11", "opensc"];
        all.extend_from_slice(args);
        self.run(&all, stdin)
    }

    fn json(&self, out: Output) -> Value {
        assert!(out.status.success(), "{}", text(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

/// What both backends must agree on for one certificate.
fn certs(v: &Value) -> Vec<(String, String, String, String, String)> {
    let mut list: Vec<_> = v["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["slot"].to_string(),
                c["pin"].as_str().unwrap_or("").to_string(),
                c["label"].as_str().unwrap().to_string(),
                c["sha256"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    list.sort();
    list
}

#[test]
fn opensc_pkcs11_sees_what_the_apdu_backend_sees() {
    let rig = served_card();
    let apdu = rig.json(rig.run(&["status", "--json"], ""));
    let p11 = rig.json(rig.p11(&["status", "--json"], ""));
    assert_eq!(apdu["source"]["backend"], "pcsc", "{apdu}");
    assert_eq!(p11["source"]["backend"], "pkcs11", "{p11}");
    assert!(
        p11["source"]["module"]
            .as_str()
            .unwrap()
            .ends_with("opensc-pkcs11.so"),
        "{p11}"
    );
    // OpenSC shows one token per PIN, named as Net iD names a real SITHS card's.
    assert_eq!(
        p11["source"]["token"], "SITHS e-id kort (Legitimering) + SITHS e-id kort (Underskrift)",
        "{p11}"
    );
    assert_eq!(p11["holder"], apdu["holder"]);
    assert_eq!(certs(&p11), certs(&apdu), "{p11}\n{apdu}");
    assert_eq!(certs(&apdu).len(), 2);

    let listed_p11 = rig.json(rig.p11(&["certs", "--json"], ""));
    let listed_apdu = rig.json(rig.run(&["certs", "--json"], ""));
    assert_eq!(listed_p11["certificates"], listed_apdu["certificates"]);
}

#[test]
fn pins_through_opensc_pkcs11_are_counted_by_the_card() {
    let rig = served_card();
    let ok = rig.p11(&["verify-pin", "--pin-stdin"], "135790\n");
    assert!(ok.status.success(), "{}", text(&ok));

    // A wrong PIN through the middleware: the card counts it, and both backends show it.
    let wrong = rig.p11(&["verify-pin", "--pin-stdin"], "999999\n");
    assert_eq!(wrong.status.code(), Some(1), "{}", text(&wrong));
    assert!(
        text(&wrong).contains("wrong identification PIN"),
        "{}",
        text(&wrong)
    );
    let apdu = rig.json(rig.run(&["status", "--json"], ""));
    assert_eq!(apdu["pins"]["pin1"]["tries_left"], 2, "{apdu}");

    // Two more and it is blocked; the middleware says so, and what to do.
    let _ = rig.p11(&["verify-pin", "--pin-stdin"], "999999\n");
    let blocked = rig.p11(&["verify-pin", "--pin-stdin"], "999999\n");
    assert_eq!(blocked.status.code(), Some(1), "{}", text(&blocked));
    let apdu = rig.json(rig.run(&["status", "--json"], ""));
    assert_eq!(apdu["pins"]["pin1"]["blocked"], true, "{apdu}");
    let refused = rig.p11(&["verify-pin", "--pin-stdin"], "135790\n");
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        text(&refused).contains("unblock it with your PUK"),
        "{}",
        text(&refused)
    );

    // The PUK through the middleware (C_Login as SO, C_InitPIN) unblocks it on the card.
    let unblock = rig.p11(
        &["unblock-pin", "--pin-stdin"],
        "13572468\n482915\n482915\n",
    );
    assert!(unblock.status.success(), "{}", text(&unblock));
    let apdu = rig.json(rig.run(&["status", "--json"], ""));
    assert_eq!(apdu["pins"]["pin1"]["tries_left"], 3, "{apdu}");
    let new = rig.run(&["verify-pin", "--pin-stdin"], "482915\n");
    assert!(new.status.success(), "{}", text(&new));

    // PIN2 is the Underskrift token's PIN.
    let sign = rig.p11(
        &["verify-pin", "--which", "sign", "--pin-stdin"],
        "246802\n",
    );
    assert!(sign.status.success(), "{}", text(&sign));
}
