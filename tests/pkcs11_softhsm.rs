//! Every card task through PKCS#11 on SoftHSM2 tokens that look like a pre-upgrade SITHS card,
//! in both ways middleware shows a two-PIN card. The CLI runs as a separate process against
//! `ca-mock serve`; OpenSC's `pkcs11-tool` and `openssl verify` check the result from outside.

mod support;

use std::process::{Command, Output};

use support::cli::{run, text};
use support::persons::{HOLDER, Person, RENEWAL_DUE};
use support::served::ServedCa;
use support::softhsm::{CARD_LABEL, Codes, MODULE, Model, SoftHsm, codes_of};

/// `ca-mock serve` on a copy of the world, a SoftHSM2 token made from a person's card of that
/// copy, and the environment the CLI needs to see both.
struct SoftHsmCard {
    ca: ServedCa,
    hsm: SoftHsm,
    codes: Codes,
    model: Model,
}

impl SoftHsmCard {
    /// A token made from the holder's card.
    fn new(model: Model) -> SoftHsmCard {
        SoftHsmCard::with_card_of(model, HOLDER)
    }

    /// A token made from `person`'s card of the CA world.
    fn with_card_of(model: Model, person: Person) -> SoftHsmCard {
        let ca = ServedCa::start();
        let state = ca.card_state(person);
        let mut codes = codes_of(&state);
        if model == Model::SingleToken {
            // SoftHSM2 checks a context-specific login against the user PIN.
            codes.pin2 = codes.pin1.clone();
        }
        let hsm = SoftHsm::new();
        hsm.load_card(&state, &codes, model);
        SoftHsmCard {
            ca,
            hsm,
            codes,
            model,
        }
    }

    fn cli(&self, args: &[&str], stdin: &str) -> Output {
        let mut all = vec!["--pkcs11", MODULE];
        all.extend_from_slice(args);
        run(&all, stdin, &self.hsm.env())
    }

    fn upgrade_args(&self) -> Vec<String> {
        [
            "--pkcs11",
            MODULE,
            "upgrade",
            "--ca",
            &self.ca.url,
            "--ca-root",
            self.ca.root().to_str().unwrap(),
            "--pin-stdin",
        ]
        .map(str::to_string)
        .to_vec()
    }

    fn upgrade(&self) -> Output {
        let args = self.upgrade_args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(
            &args,
            &format!("{}\n{}\n", self.codes.pin1, self.codes.pin2),
            &self.hsm.env(),
        )
    }

    fn status(&self) -> serde_json::Value {
        let out = self.cli(&["status", "--json"], "");
        assert!(out.status.success(), "{}", text(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// The tokens and the PIN that opens each, for `pkcs11-tool`.
    fn logins(&self) -> Vec<(String, String)> {
        match self.model {
            Model::SingleToken => vec![(CARD_LABEL.into(), self.codes.pin1.clone())],
            Model::TokenPerPin => vec![
                (
                    format!("{CARD_LABEL} (Legitimering)"),
                    self.codes.pin1.clone(),
                ),
                (
                    format!("{CARD_LABEL} (Underskrift)"),
                    self.codes.pin2.clone(),
                ),
            ],
        }
    }

    fn objects(&self) -> (usize, usize) {
        let logins = self.logins();
        let logins: Vec<(&str, &str)> = logins
            .iter()
            .map(|(l, p)| (l.as_str(), p.as_str()))
            .collect();
        self.hsm.count_objects(&logins)
    }

    /// Serial numbers of the certificates `certs --json` lists, by id.
    fn serials(&self) -> Vec<(String, String)> {
        let out = self.cli(&["certs", "--json"], "");
        assert!(out.status.success(), "{}", text(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut s: Vec<(String, String)> = v["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["id"].as_str().unwrap().to_string(),
                    c["serial_number"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        s.sort();
        s
    }

    /// Every certificate `certs` lists verifies with OpenSSL against the TEST root.
    fn openssl_verify_all(&self) {
        let dir = tempfile::tempdir().unwrap();
        for (id, _) in self.serials() {
            let file = dir.path().join(format!("{id}.pem"));
            let export = self.cli(
                &["export-cert", &id, "--out", file.to_str().unwrap(), "--pem"],
                "",
            );
            assert!(export.status.success(), "{}", text(&export));
            let verify = Command::new("openssl")
                .args(["verify", "-CAfile"])
                .arg(self.ca.root())
                .arg("-untrusted")
                .arg(self.ca.dir.join("issuing.pem"))
                .arg(&file)
                .output()
                .unwrap();
            assert!(verify.status.success(), "{id}: {}", text(&verify));
        }
    }
}

fn upgrade_on(model: Model) {
    let rig = SoftHsmCard::new(model);

    // Before: the legacy pair, read through the module, and the module and token named.
    let before = rig.status();
    assert_eq!(before["source"]["backend"], "pkcs11", "{before}");
    assert_eq!(before["source"]["module"], MODULE, "{before}");
    assert!(
        before["source"]["token"]
            .as_str()
            .unwrap()
            .contains(CARD_LABEL),
        "{before}"
    );
    assert_eq!(before["holder"]["hsa_id"], HOLDER.hsa_id, "{before}");
    let ids: Vec<&str> = before["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{before}");
    assert!(ids.contains(&"01") && ids.contains(&"05"), "{before}");
    assert_eq!(before["pins"]["pin1"]["tries_known"], "at_most", "{before}");
    assert_eq!(rig.objects(), (2, 2));

    let up = rig.upgrade();
    let out = text(&up);
    assert!(up.status.success(), "{out}");
    assert!(out.contains("Upgrade finished"), "{out}");
    assert!(out.contains("Legacy pair removed"), "{out}");

    // After: OpenSC's pkcs11-tool sees exactly four certificates and four private keys.
    assert_eq!(rig.objects(), (4, 4), "pkcs11-tool after the upgrade");
    let after = rig.serials();
    let ids: Vec<&str> = after.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["02", "03", "06", "07"], "the legacy pair is gone");
    rig.openssl_verify_all();

    // Again: nothing to do, nothing changes.
    let again = rig.upgrade();
    let out = text(&again);
    assert!(again.status.success(), "{out}");
    assert!(out.contains("0 new certificate(s)"), "{out}");
    assert_eq!(rig.serials(), after, "a second run changed the card");
    assert_eq!(rig.objects(), (4, 4));
}

#[test]
fn upgrade_through_pkcs11_with_one_token_per_pin() {
    upgrade_on(Model::TokenPerPin);
}

#[test]
fn upgrade_through_pkcs11_with_one_token_and_always_authenticate_signing_keys() {
    upgrade_on(Model::SingleToken);
}

/// Run the upgrade and have it end abruptly (no clean-up, as a kill) right after it reports
/// `step`; true if it finished before that.
fn upgrade_killed_after(rig: &SoftHsmCard, step: usize) -> bool {
    let args = rig.upgrade_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut env = rig.hsm.env();
    env.push(("SITHS_UPGRADE_ABORT_AFTER_STEP".into(), step.to_string()));
    let out = run(
        &args,
        &format!("{}\n{}\n", rig.codes.pin1, rig.codes.pin2),
        &env,
    );
    if !out.status.success() {
        assert!(
            text(&out).contains("Stopping abruptly here"),
            "step {step} failed on its own: {}",
            text(&out)
        );
    }
    out.status.success()
}

#[test]
fn an_upgrade_killed_at_every_step_resumes_to_the_same_card() {
    let rig = SoftHsmCard::new(Model::TokenPerPin);
    // 3 + 3 per profile + 4 proofs + 1 removal, as the workflow counts them.
    let total = 3 + 3 * 4 + 4 + 1;
    for step in 1..total {
        let finished = upgrade_killed_after(&rig, step);
        // Whatever the kill interrupted, the token still reads, the legacy pair is there until
        // the very end, and nothing is listed twice.
        let status = rig.status();
        let ids: Vec<String> = status["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect();
        let mut unique = ids.clone();
        unique.dedup();
        assert_eq!(
            unique.len(),
            ids.len(),
            "after a kill at step {step}: {ids:?}"
        );
        if !finished {
            assert!(
                ids.iter().any(|i| i == "01") || ids.len() == 4,
                "the legacy pair went before the new pairs were proved (step {step}): {ids:?}"
            );
        }
    }
    let up = rig.upgrade();
    assert!(up.status.success(), "{}", text(&up));
    let ids = token_ids(&rig);
    assert_eq!(ids, ["02", "03", "06", "07"]);
    assert_eq!(rig.objects(), (4, 4), "no stray key left by a killed run");
    rig.openssl_verify_all();
}

#[test]
fn pins_and_the_puk_through_pkcs11() {
    let rig = SoftHsmCard::new(Model::TokenPerPin);
    let c = &rig.codes;

    // A typo is caught before the token sees it.
    let typo = rig.cli(&["verify-pin", "--pin-stdin"], "12ab\n");
    assert_eq!(typo.status.code(), Some(1), "{}", text(&typo));
    assert!(text(&typo).contains("no try was used"), "{}", text(&typo));
    assert_eq!(rig.status()["pins"]["pin1"]["tries_left"], 3);

    // A wrong PIN: the middleware gives flags only, and the message says so honestly.
    let wrong = rig.cli(&["verify-pin", "--pin-stdin"], "999999\n");
    assert_eq!(wrong.status.code(), Some(1), "{}", text(&wrong));
    assert!(
        text(&wrong).contains("fewer than 3 tries left"),
        "{}",
        text(&wrong)
    );
    let status = rig.status();
    assert_eq!(status["pins"]["pin1"]["tries_known"], "at_most", "{status}");
    assert_eq!(status["pins"]["pin1"]["tries_left"], 2, "{status}");

    // The right one clears the flag.
    let ok = rig.cli(&["verify-pin", "--pin-stdin"], &format!("{}\n", c.pin1));
    assert!(ok.status.success(), "{}", text(&ok));
    assert_eq!(rig.status()["pins"]["pin1"]["tries_left"], 3);

    // PIN2 is its own token's PIN.
    let sign = rig.cli(
        &["verify-pin", "--which", "sign", "--pin-stdin"],
        &format!("{}\n", c.pin2),
    );
    assert!(sign.status.success(), "{}", text(&sign));

    // Change PIN1 (C_SetPIN), then the old one is wrong and the new one right.
    let change = rig.cli(
        &["change-pin", "--pin-stdin"],
        &format!("{}\n482915\n482915\n", c.pin1),
    );
    assert!(change.status.success(), "{}", text(&change));
    let old = rig.cli(&["verify-pin", "--pin-stdin"], &format!("{}\n", c.pin1));
    assert_eq!(old.status.code(), Some(1), "{}", text(&old));
    let new = rig.cli(&["verify-pin", "--pin-stdin"], "482915\n");
    assert!(new.status.success(), "{}", text(&new));

    // A wrong PUK costs a PUK try and changes nothing.
    let bad_puk = rig.cli(
        &["unblock-pin", "--pin-stdin"],
        "11223344\n591746\n591746\n",
    );
    assert_eq!(bad_puk.status.code(), Some(1), "{}", text(&bad_puk));
    assert!(text(&bad_puk).contains("PUK"), "{}", text(&bad_puk));
    assert_eq!(rig.status()["pins"]["puk"]["tries_known"], "at_most");

    // Unblock with the PUK (C_Login as SO, C_InitPIN): the new PIN works.
    let unblock = rig.cli(
        &["unblock-pin", "--pin-stdin"],
        &format!("{}\n591746\n591746\n", c.puk),
    );
    assert!(unblock.status.success(), "{}", text(&unblock));
    let after = rig.cli(&["verify-pin", "--pin-stdin"], "591746\n");
    assert!(after.status.success(), "{}", text(&after));
    // OpenSC's own tool agrees the PIN is the new one.
    let peer = rig.hsm.tool(&[
        "--token-label",
        &format!("{CARD_LABEL} (Legitimering)"),
        "--login",
        "--pin",
        "591746",
        "--list-objects",
    ]);
    assert!(peer.status.success(), "{}", text(&peer));
}

#[test]
fn pin2_on_a_single_token_is_the_middlewares_and_says_so() {
    let rig = SoftHsmCard::new(Model::SingleToken);
    let status = rig.status();
    assert_eq!(status["pins"]["pin2"]["tries_known"], "unknown", "{status}");
    let change = rig.cli(
        &["change-pin", "--which", "sign", "--pin-stdin"],
        "246802\n482915\n482915\n",
    );
    assert_eq!(change.status.code(), Some(1), "{}", text(&change));
    assert!(
        text(&change).contains("only when you sign"),
        "{}",
        text(&change)
    );
}

#[test]
fn a_missing_module_or_an_empty_one_says_what_to_do() {
    let missing = run(
        &["--pkcs11", "/nonexistent/libnothing.so", "status"],
        "",
        &[],
    );
    assert_eq!(missing.status.code(), Some(4), "{}", text(&missing));
    assert!(
        text(&missing).contains("install your card's middleware"),
        "{}",
        text(&missing)
    );
    let not_a_module = run(&["--pkcs11", "/etc/hostname", "status"], "", &[]);
    assert_eq!(
        not_a_module.status.code(),
        Some(4),
        "{}",
        text(&not_a_module)
    );
    assert!(
        text(&not_a_module).contains("cannot be loaded"),
        "{}",
        text(&not_a_module)
    );
    let empty = SoftHsm::new();
    let none = run(&["--pkcs11", "softhsm", "status"], "", &empty.env());
    assert_eq!(none.status.code(), Some(3), "{}", text(&none));
    assert!(text(&none).contains("sees no card"), "{}", text(&none));
}

/// The token that holds the PIN1 objects, and its PIN.
fn auth_token(rig: &SoftHsmCard) -> (String, String) {
    rig.logins().into_iter().next().unwrap()
}

fn foreign_pair_survives(model: Model) {
    let rig = SoftHsmCard::new(model);
    let (token, pin) = auth_token(&rig);
    let foreign = rig.hsm.add_foreign_pair(&token, &pin, "4142");
    assert_eq!(
        rig.hsm.objects_with_id(&token, &pin, "4142"),
        FOREIGN_OBJECTS
    );

    // status lists the holder's pair as theirs, in JSON and in words.
    let status = rig.status();
    assert_eq!(
        status["other_objects"],
        serde_json::json!({"certificates": 1, "keys": 1}),
        "{status}"
    );
    let words = rig.cli(&["status"], "");
    assert!(
        text(&words).contains("Other objects: 1 certificate, 1 key — left as they are"),
        "{}",
        text(&words)
    );

    let up = rig.upgrade();
    assert!(up.status.success(), "{}", text(&up));
    assert_eq!(
        rig.hsm.objects_with_id(&token, &pin, "4142"),
        FOREIGN_OBJECTS,
        "the upgrade left the holder's pair"
    );
    let ids = token_ids(&rig);
    assert_eq!(ids, ["02", "03", "06", "07", "4142"], "{ids:?}");
    assert_same_certificate(&rig, &foreign);
}

fn foreign_pair_survives_the_renewal(model: Model) {
    let rig = SoftHsmCard::with_card_of(model, RENEWAL_DUE);
    let (token, pin) = auth_token(&rig);
    let foreign = rig.hsm.add_foreign_pair(&token, &pin, "4142");
    let ids = token_ids(&rig);
    assert_eq!(ids, ["02", "03", "06", "07", "4142"], "{ids:?}");

    // A renewal of the HSA-id pair alone (into slots 1 and 5, where a foreign id was once
    // mapped); the personnummer pair, due too, stays as it is.
    let mut args = rig.upgrade_args();
    args[2] = "renew".into();
    args.extend(["--only".to_string(), "hsa-id".to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let renew = run(
        &args,
        &format!("{}\n{}\n", rig.codes.pin1, rig.codes.pin2),
        &rig.hsm.env(),
    );
    assert!(renew.status.success(), "{}", text(&renew));
    assert_eq!(
        rig.hsm.objects_with_id(&token, &pin, "4142"),
        FOREIGN_OBJECTS,
        "the renewal left the holder's pair"
    );
    let ids = token_ids(&rig);
    assert_eq!(ids, ["01", "03", "05", "07", "4142"], "{ids:?}");
    assert_same_certificate(&rig, &foreign);
}

/// What the holder's own pair under `4142` is on the token, and must stay.
const FOREIGN_OBJECTS: [&str; 3] = [
    "Certificate Object",
    "Private Key Object",
    "Public Key Object",
];

/// The CKA_IDs of the token's certificates, in order.
fn token_ids(rig: &SoftHsmCard) -> Vec<String> {
    rig.serials().into_iter().map(|(id, _)| id).collect()
}

/// The holder's certificate under `4142` is the one put there, byte for byte.
fn assert_same_certificate(rig: &SoftHsmCard, foreign: &[u8]) {
    let exported = rig.cli(&["certs", "--json"], "");
    let v: serde_json::Value = serde_json::from_slice(&exported.stdout).unwrap();
    let sha = v["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "4142")
        .map(|c| {
            c["sha256"]
                .as_str()
                .unwrap_or("")
                .replace(':', "")
                .to_lowercase()
        })
        .unwrap();
    use sha2::Digest;
    let want: String = sha2::Sha256::digest(foreign)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(sha, want, "the same certificate, byte for byte");
}

#[test]
fn a_foreign_decryption_pair_survives_upgrade_and_renewal_with_one_token_per_pin() {
    foreign_pair_survives(Model::TokenPerPin);
    foreign_pair_survives_the_renewal(Model::TokenPerPin);
}

#[test]
fn a_foreign_decryption_pair_survives_upgrade_and_renewal_on_one_token() {
    foreign_pair_survives(Model::SingleToken);
    foreign_pair_survives_the_renewal(Model::SingleToken);
}

#[test]
fn two_siths_cards_give_a_question_not_a_silent_choice() {
    let rig = SoftHsmCard::new(Model::SingleToken);
    let state = rig.ca.card_state(HOLDER);
    rig.hsm
        .load_card_as(&state, &rig.codes, Model::SingleToken, "Reservkort SITHS");
    rig.hsm.add_empty_token("Kryptotoken", "123456", "12345678");

    let status = rig.cli(&["status"], "");
    assert_eq!(status.status.code(), Some(2), "{}", text(&status));
    let said = text(&status);
    assert!(said.contains("several SITHS cards"), "{said}");
    assert!(
        said.contains(CARD_LABEL) && said.contains("Reservkort SITHS"),
        "{said}"
    );
    assert!(said.contains("--reader"), "{said}");
    assert!(
        !said.contains("Kryptotoken"),
        "the other token is no SITHS card: {said}"
    );

    let empty = rig.cli(&["status", "--reader", ""], "");
    assert_eq!(empty.status.code(), Some(2), "{}", text(&empty));
    assert!(
        text(&empty).contains("--reader is empty"),
        "{}",
        text(&empty)
    );

    // Named by label, or by the serial the first answer gave: that card, and it says which.
    let named = rig.cli(&["status", "--json", "--reader", "Reservkort"], "");
    assert!(named.status.success(), "{}", text(&named));
    let v: serde_json::Value = serde_json::from_slice(&named.stdout).unwrap();
    assert_eq!(v["source"]["token"], "Reservkort SITHS", "{v}");
    let serial = v["source"]["serial"].as_str().unwrap().to_string();
    assert!(
        said.contains(&serial),
        "the question names the serials: {said}"
    );
    let by_serial = rig.cli(&["status", "--json", "--reader", &serial], "");
    let v: serde_json::Value = serde_json::from_slice(&by_serial.stdout).unwrap();
    assert_eq!(v["source"]["token"], "Reservkort SITHS", "{v}");

    // The token that is no SITHS card is never opened as one.
    let other = rig.cli(&["status", "--reader", "Kryptotoken"], "");
    assert_eq!(other.status.code(), Some(3), "{}", text(&other));
    assert!(text(&other).contains("no SITHS card"), "{}", text(&other));
}

#[test]
fn one_siths_card_beside_another_token_is_used_and_named() {
    let rig = SoftHsmCard::new(Model::SingleToken);
    rig.hsm.add_empty_token("Kryptotoken", "123456", "12345678");
    let status = rig.status();
    assert_eq!(status["source"]["token"], CARD_LABEL, "{status}");
    let words = rig.cli(&["status"], "");
    assert!(text(&words).contains(CARD_LABEL), "{}", text(&words));
}
