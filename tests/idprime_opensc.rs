//! The virtual card's IDPrime layout read and used by stock OpenSC 0.23 (Debian 12's, with
//! its own opensc.conf: no OPENSC_CONF), the independent peer: its `idprime` driver must bind
//! the card, list the legacy pair, and make signatures that OpenSSL verifies against the
//! certificates' keys. Each test serves its own card through its own pcscd and vpcd.
//!
//! pkcs11-tool 0.23 reads a PIN only from a terminal or from `--pin`; these tests give PIN1 of
//! a throw-away test card (the documented test default) with `--pin`.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use siths_upgrade::idprime::files::decompress_cert;
use siths_upgrade::virtual_card::{CardState, Layout};
use support::cli::text;
use support::idprime::opensc_module;
use support::served::ServedCard;

const PIN1: &str = "135790";
/// The IDPrime PIN1 reference, whose tries the card keeps.
const PIN1_REF: u8 = 0x11;
/// The files the card holds its legacy pair in (authentication, then signature).
const CERT_FIDS: [u16; 2] = [0x0210, 0x0211];

/// A pre-upgrade card made by `virtual-card init --layout idprime`, served.
fn idprime_card() -> ServedCard {
    idprime_card_with(&[])
}

/// As [`idprime_card`], with more `virtual-card init` arguments.
fn idprime_card_with(extra: &[&str]) -> ServedCard {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("card.json");
    let mut args = vec![
        "virtual-card",
        "init",
        "--layout",
        "idprime",
        "--state",
        state.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = support::cli::run(&args, "", &[]);
    assert!(out.status.success(), "{}", text(&out));
    let mut card = ServedCard::of(state, dir);
    card.serve();
    card
}

/// Run an OpenSC or OpenSSL tool against the served card, with pcscd's socket and a private
/// HOME.
fn tool(card: &ServedCard, program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .envs(card.env())
        .env_remove("OPENSC_CONF")
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"))
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn file(card: &ServedCard, name: &str) -> PathBuf {
    card.dir.path().join(name)
}

/// The DER of a certificate as the card holds it (its compressed file decompressed).
fn cert_on_card(card: &ServedCard, index: usize) -> Vec<u8> {
    let state = CardState::load(card.state()).unwrap();
    let stored = state.ef_content(0x3F00, CERT_FIDS[index]).unwrap();
    decompress_cert(stored).expect("a compressed certificate file")
}

#[test]
fn opensc_binds_its_idprime_driver_not_pkcs15_emulation() {
    let card = idprime_card();
    let name = ok(tool(&card, "opensc-tool", &["-n"]));
    assert!(name.contains("Gemalto IDPrime (OSv4)"), "{name}");
    let atr = ok(tool(&card, "opensc-tool", &["-a"]));
    assert!(
        atr.to_lowercase()
            .contains("3b:7f:96:00:00:80:31:80:65:b0:85:59:56:fb:12:0f:fe:82:90:00"),
        "{atr}"
    );
}

#[test]
fn pkcs15_tool_lists_the_legacy_pair_and_reads_back_the_exact_der() {
    let card = idprime_card();
    let dump = ok(tool(&card, "pkcs15-tool", &["-D"]));
    assert!(dump.contains("[Certificate 1]"), "{dump}");
    assert!(dump.contains("[Certificate 2]"), "{dump}");
    assert!(dump.contains("[Private key 2]"), "{dump}");
    // The token label is the card's own (tinfo), not the CN of a certificate.
    assert!(dump.contains("SITHS e-id kort"), "{dump}");
    for (index, id) in ["0001", "0002"].into_iter().enumerate() {
        let pem_path = file(&card, &format!("cert{id}.pem"));
        let pem = ok(tool(&card, "pkcs15-tool", &["--read-certificate", id]));
        std::fs::write(&pem_path, &pem).unwrap();
        let der_path = file(&card, &format!("cert{id}.der"));
        ok(tool(
            &card,
            "openssl",
            &[
                "x509",
                "-in",
                pem_path.to_str().unwrap(),
                "-outform",
                "DER",
                "-out",
                der_path.to_str().unwrap(),
            ],
        ));
        let read = std::fs::read(&der_path).unwrap();
        assert_eq!(read, cert_on_card(&card, index), "certificate {id}");
        let subject = ok(tool(
            &card,
            "openssl",
            &[
                "x509",
                "-in",
                pem_path.to_str().unwrap(),
                "-noout",
                "-subject",
            ],
        ));
        assert!(subject.contains("TST5565594230-1001"), "{subject}");
    }
}

/// Sign `data` with the authentication key through pkcs11-tool and `mechanism`; the signature.
fn p11_sign(card: &ServedCard, mechanism: &str, input: &Path, name: &str) -> PathBuf {
    let sig = file(card, name);
    ok(tool(
        card,
        "pkcs11-tool",
        &[
            "--module",
            opensc_module(),
            "--login",
            "--pin",
            PIN1,
            "--sign",
            "--id",
            "0001",
            "--mechanism",
            mechanism,
            "--input-file",
            input.to_str().unwrap(),
            "--output-file",
            sig.to_str().unwrap(),
        ],
    ));
    sig
}

/// `openssl dgst -sha256 -verify` of `sig` over `data` with the certificate's key.
fn openssl_verifies(card: &ServedCard, data: &Path, sig: &Path, pss: bool) -> bool {
    let cert = file(card, "auth.der");
    std::fs::write(&cert, cert_on_card(card, 0)).unwrap();
    let public = file(card, "auth-pub.pem");
    ok(tool(
        card,
        "openssl",
        &[
            "x509",
            "-inform",
            "DER",
            "-in",
            cert.to_str().unwrap(),
            "-pubkey",
            "-noout",
            "-out",
            public.to_str().unwrap(),
        ],
    ));
    let mut args = vec![
        "dgst",
        "-sha256",
        "-verify",
        public.to_str().unwrap(),
        "-signature",
        sig.to_str().unwrap(),
    ];
    if pss {
        args.extend([
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            "rsa_pss_saltlen:32",
        ]);
    }
    args.push(data.to_str().unwrap());
    let out = tool(card, "openssl", &args);
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Verified OK")
}

#[test]
fn pkcs11_tool_signs_and_openssl_verifies_each_mechanism() {
    let card = idprime_card();
    let data = file(&card, "data.bin");
    std::fs::write(
        &data,
        b"a TLS handshake transcript, or anything a holder signs",
    )
    .unwrap();

    let sig = p11_sign(&card, "SHA256-RSA-PKCS", &data, "pkcs1.sig");
    assert!(
        openssl_verifies(&card, &data, &sig, false),
        "SHA256-RSA-PKCS"
    );

    // RSA-PKCS over a SHA-256 DigestInfo: OpenSC strips it and the card adds it back (0x42).
    let hash = Command::new("openssl")
        .args(["dgst", "-sha256", "-binary", data.to_str().unwrap()])
        .output()
        .unwrap()
        .stdout;
    assert_eq!(hash.len(), 32);
    let mut info = vec![
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    info.extend_from_slice(&hash);
    let info_path = file(&card, "digestinfo.bin");
    std::fs::write(&info_path, &info).unwrap();
    let sig = p11_sign(&card, "RSA-PKCS", &info_path, "raw.sig");
    assert!(openssl_verifies(&card, &data, &sig, false), "RSA-PKCS");

    let sig = p11_sign(&card, "SHA256-RSA-PKCS-PSS", &data, "pss.sig");
    assert!(
        openssl_verifies(&card, &data, &sig, true),
        "SHA256-RSA-PKCS-PSS"
    );
    // A PSS signature is not a PKCS#1 v1.5 one: the check above can fail.
    assert!(!openssl_verifies(&card, &data, &sig, false));
}

#[test]
fn a_wrong_pin_through_opensc_is_counted_by_the_card() {
    let card = idprime_card();
    let tries = || {
        CardState::load(card.state())
            .unwrap()
            .pin_tries_left(PIN1_REF)
    };
    assert_eq!(tries(), Some(3));
    let wrong = tool(
        &card,
        "pkcs11-tool",
        &[
            "--module",
            opensc_module(),
            "--login",
            "--pin",
            "999999",
            "--list-objects",
        ],
    );
    assert!(!wrong.status.success(), "{}", text(&wrong));
    assert!(
        text(&wrong).contains("CKR_PIN_INCORRECT"),
        "{}",
        text(&wrong)
    );
    assert_eq!(tries(), Some(2));
    // The right PIN gives the tries back.
    ok(tool(
        &card,
        "pkcs11-tool",
        &[
            "--module",
            opensc_module(),
            "--login",
            "--pin",
            PIN1,
            "--list-objects",
        ],
    ));
    assert_eq!(tries(), Some(3));
}

/// A newer SITHS eID card with one code (`virtual-card init --one-code`): OpenSC still binds
/// its idprime driver and lists just the authentication certificate and one PIN; that PIN
/// signs with the one key, and the card has no signature PIN at all.
#[test]
fn opensc_binds_and_lists_a_one_code_card_with_its_one_certificate_and_pin() {
    let card = idprime_card_with(&["--one-code"]);
    let name = ok(tool(&card, "opensc-tool", &["-n"]));
    assert!(name.contains("Gemalto IDPrime (OSv4)"), "{name}");
    let dump = ok(tool(&card, "pkcs15-tool", &["-D"]));
    assert!(dump.contains("[Certificate 1]"), "{dump}");
    assert!(!dump.contains("[Certificate 2]"), "{dump}");
    assert!(dump.contains("[Private key 1]"), "{dump}");
    assert!(!dump.contains("[Private key 2]"), "{dump}");
    assert_eq!(dump.matches("PIN [").count(), 1, "{dump}");
    let pem = ok(tool(&card, "pkcs15-tool", &["--read-certificate", "0001"]));
    let pem_path = file(&card, "cert.pem");
    std::fs::write(&pem_path, pem).unwrap();
    // The authentication certificate (the legacy CA's, for logging in).
    let usage = ok(tool(
        &card,
        "openssl",
        &[
            "x509",
            "-in",
            pem_path.to_str().unwrap(),
            "-noout",
            "-ext",
            "keyUsage",
        ],
    ));
    assert!(usage.contains("Digital Signature"), "{usage}");
    assert!(!usage.contains("Non Repudiation"), "{usage}");

    let data = file(&card, "data.bin");
    std::fs::write(&data, b"signed with the one code").unwrap();
    let sig = p11_sign(&card, "SHA256-RSA-PKCS", &data, "one.sig");
    assert!(openssl_verifies(&card, &data, &sig, false));

    let state = CardState::load(card.state()).unwrap();
    assert_eq!(state.pin_tries_left(PIN1_REF), Some(3));
    assert_eq!(state.pin_tries_left(0x83), None, "no signature PIN");
    assert_eq!(state.pin_tries_left(0x85), Some(10), "the PUK");
    assert_eq!(state.occupied_slots(), vec![1]);
    assert!(state.ef_content(0x3F00, CERT_FIDS[1]).is_none());
    let letter = std::fs::read_to_string(card.state().with_extension("pins")).unwrap();
    assert!(
        letter.contains("PIN1=") && letter.contains("PUK="),
        "the code letter"
    );
    assert!(
        !letter.contains("PIN2="),
        "a one-code card's letter has no PIN2"
    );
}

/// `--one-code` makes an IDPrime card; with the PKCS#15 layout it is refused and says so.
#[test]
fn one_code_is_refused_for_the_pkcs15_layout() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("card.json");
    let out = support::cli::run(
        &[
            "virtual-card",
            "init",
            "--one-code",
            "--state",
            state.to_str().unwrap(),
        ],
        "",
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--layout idprime"), "{}", text(&out));
    assert!(!state.exists());
}

/// `virtual-card init --force` replaces a card only once the new one is whole: the PKCS#15 card
/// becomes an IDPrime card that OpenSC binds, its code letter is the new card's, and nothing
/// half-made is left beside it. Without `--force` the old card is refused and left as it was.
#[test]
fn init_with_force_replaces_a_card_and_leaves_nothing_half_made() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("card.json");
    let init = |extra: &[&str]| {
        let mut args = vec!["virtual-card", "init", "--state", state.to_str().unwrap()];
        args.extend_from_slice(extra);
        support::cli::run(&args, "", &[])
    };
    let first = init(&[]);
    assert!(first.status.success(), "{}", text(&first));
    let before = std::fs::read(&state).unwrap();

    let refused = init(&["--layout", "idprime"]);
    assert!(!refused.status.success());
    assert!(text(&refused).contains("--force"), "{}", text(&refused));
    assert_eq!(std::fs::read(&state).unwrap(), before);

    let replaced = init(&[
        "--layout",
        "idprime",
        "--serial",
        "9752269000002002",
        "--force",
    ]);
    assert!(replaced.status.success(), "{}", text(&replaced));
    let card = CardState::load(&state).unwrap();
    assert_eq!(card.serial(), "9752269000002002");
    let mut left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["card.ca.pem", "card.json", "card.pins"]);

    let mut served = ServedCard::of(state.clone(), dir);
    served.serve();
    let name = ok(tool(&served, "opensc-tool", &["-n"]));
    assert!(name.contains("Gemalto IDPrime (OSv4)"), "{name}");
    served.stop_serving();

    // And back: a PKCS#15 card replaces the IDPrime one the same way.
    let back = init(&["--force"]);
    assert!(back.status.success(), "{}", text(&back));
    let card = CardState::load(&state).unwrap();
    assert_eq!(card.layout(), Layout::Pkcs15);
    assert_eq!(card.serial(), "9752269000001001");
}
