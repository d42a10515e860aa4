//! The CA mock as independent clients see it: `curl` with a client certificate and `openssl` for
//! CSRs, PKCS#7 answers and chain checks, against `ca-mock init`'s directory served in-process.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use siths_upgrade::ca::Profile;
use siths_upgrade::ca::mock::init::pem;
use siths_upgrade::ca::mock::{self, CaName, MockDir, MockHandle, Person};
use siths_upgrade::card::Card as _;
use siths_upgrade::card::SithsCard;
use siths_upgrade::pki::issue::PersonCertRequest;
use siths_upgrade::pki::{CertInfo, Purpose, TestCa};
use siths_upgrade::virtual_card::memory::MemoryTransport;
use siths_upgrade::virtual_card::{VirtualCard, share};

const KARIN: &str = "TST5565594230-1001";
const TOLVAN: &str = "TST5565594230-1002";
const MARTA_OPERATOR: &str = "TST5565594230-1007";

/// DIR made once per test binary (RSA key generation is the cost), plus one client key made
/// by openssl; each test serves its own copy of DIR.
struct Base {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    client_key: PathBuf,
    client_spki: Vec<u8>,
}

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ca");
        let summary = mock::init(&dir).unwrap_or_else(|e| panic!("init: {e}"));
        eprintln!("ca-mock init took {:.1} s", summary.seconds);
        let client_key = tmp.path().join("client.key");
        openssl(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            s(&client_key),
        ]);
        let spki = openssl(&["pkey", "-in", s(&client_key), "-pubout", "-outform", "DER"]).stdout;
        Base {
            _tmp: tmp,
            dir,
            client_key,
            client_spki: spki,
        }
    })
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn run(program: &str, args: &[&str]) -> Output {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} could not run ({e}); install it"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn openssl(args: &[&str]) -> Output {
    run("openssl", args)
}

/// A private copy of DIR, served.
struct Env {
    tmp: tempfile::TempDir,
    dir: MockDir,
    server: Option<MockHandle>,
}

impl Env {
    fn new() -> Env {
        Env::with(|_| {})
    }

    /// Copy DIR, let `prepare` change the copy, then serve it.
    fn with(prepare: impl FnOnce(&MockDir)) -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ca");
        support::files::copy_dir(&base().dir, &dir);
        let md = MockDir::new(&dir);
        prepare(&md);
        let server = mock::start(&dir, "127.0.0.1:0").unwrap_or_else(|e| panic!("start: {e}"));
        Env {
            tmp,
            dir: md,
            server: Some(server),
        }
    }

    fn server(&self) -> &MockHandle {
        self.server.as_ref().unwrap()
    }

    fn restart(&mut self) {
        if let Some(old) = self.server.take() {
            old.stop();
        }
        self.server = Some(mock::start(self.dir.path(), "127.0.0.1:0").unwrap());
    }

    fn file(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn person(&self, hsa_id: &str) -> Person {
        self.dir
            .persons()
            .unwrap()
            .by_hsa_id(hsa_id)
            .unwrap()
            .clone()
    }

    /// A client certificate (PEM file) from one of DIR's CAs for the base client key, naming
    /// `serial` (an HSA-id or personnummer) with `person`'s names.
    fn client_cert(&self, ca: CaName, person: &Person, serial: &str) -> PathBuf {
        let ca = self.dir.load_ca(ca).unwrap();
        let der = issue_client(&ca, person, serial);
        let path = self.file(&format!("client-{serial}.pem"));
        std::fs::write(&path, pem("CERTIFICATE", &der)).unwrap();
        path
    }

    /// The usual client: a legacy HSA-id authentication certificate, as on a pre-upgrade card.
    fn legacy_client(&self, hsa_id: &str) -> PathBuf {
        let person = self.person(hsa_id);
        self.client_cert(CaName::Legacy, &person, hsa_id)
    }

    /// `curl` to `path`; returns (HTTP status, body). `cert`: client certificate PEM (with the
    /// base client key). `post`: a file sent as the body.
    fn curl(&self, path: &str, cert: Option<&Path>, post: Option<(&Path, &str)>) -> (u16, Vec<u8>) {
        let out = self.curl_raw(path, cert, Some(&base().client_key), post);
        assert!(
            out.status.success(),
            "curl failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let code = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        (code, std::fs::read(self.file("body")).unwrap_or_default())
    }

    fn curl_raw(
        &self,
        path: &str,
        cert: Option<&Path>,
        key: Option<&Path>,
        post: Option<(&Path, &str)>,
    ) -> Output {
        let url = format!("{}{path}", self.server().url());
        let body = self.file("body");
        let _ = std::fs::remove_file(&body);
        let mut args: Vec<String> = vec![
            "-sS".into(),
            "--cacert".into(),
            s(&self.dir.root_pem()).into(),
            "-o".into(),
            s(&body).into(),
            "-w".into(),
            "%{http_code}".into(),
        ];
        if let (Some(cert), Some(key)) = (cert, key) {
            args.extend([
                "--cert".into(),
                s(cert).into(),
                "--key".into(),
                s(key).into(),
            ]);
        }
        if let Some((file, content_type)) = post {
            args.extend([
                "-H".into(),
                format!("Content-Type: {content_type}"),
                "--data-binary".into(),
                format!("@{}", s(file)),
            ]);
        }
        args.push(url);
        Command::new("curl")
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("curl could not run ({e}); install curl"))
    }

    /// A base64 DER CSR made by openssl with a fresh key of `bits` and `subject`.
    fn csr(&self, name: &str, bits: u32, subject: &str) -> PathBuf {
        let key = self.file(&format!("{name}.key"));
        let der = self.file(&format!("{name}.der"));
        openssl(&[
            "req",
            "-new",
            "-newkey",
            &format!("rsa:{bits}"),
            "-nodes",
            "-keyout",
            s(&key),
            "-subj",
            subject,
            "-outform",
            "DER",
            "-out",
            s(&der),
        ]);
        self.base64_file(&der)
    }

    fn base64_file(&self, der: &Path) -> PathBuf {
        let out = run("base64", &[s(der)]);
        let b64 = der.with_extension("b64");
        std::fs::write(&b64, out.stdout).unwrap();
        b64
    }

    fn enroll(&self, label: &str, cert: &Path, csr_b64: &Path) -> (u16, Vec<u8>) {
        self.curl(
            &format!("/.well-known/est/{label}/simpleenroll"),
            Some(cert),
            Some((csr_b64, "application/pkcs10")),
        )
    }

    /// The certificate in an EST answer, read back by openssl (base64 -d, pkcs7 -print_certs)
    /// and checked with `openssl verify` against root.pem and issuing.pem; returns its PEM file.
    fn read_back(&self, name: &str, answer: &[u8]) -> PathBuf {
        let b64 = self.file(&format!("{name}.p7.b64"));
        std::fs::write(&b64, answer).unwrap();
        let der = run("base64", &["-d", s(&b64)]).stdout;
        let p7 = self.file(&format!("{name}.p7"));
        std::fs::write(&p7, der).unwrap();
        let pem = self.file(&format!("{name}.pem"));
        openssl(&[
            "pkcs7",
            "-inform",
            "DER",
            "-in",
            s(&p7),
            "-print_certs",
            "-out",
            s(&pem),
        ]);
        let verify = openssl(&[
            "verify",
            "-CAfile",
            s(&self.dir.root_pem()),
            "-untrusted",
            s(&self.dir.issuing_pem()),
            s(&pem),
        ]);
        assert!(String::from_utf8_lossy(&verify.stdout).contains(": OK"));
        pem
    }
}

fn issue_client(ca: &TestCa, person: &Person, serial: &str) -> Vec<u8> {
    ca.issue_person_cert(
        &PersonCertRequest {
            subject: person.name_with(serial),
            purpose: Purpose::Authentication,
            trust_level: None,
            upn: None,
            not_before: None,
            not_after: None,
        },
        &base().client_spki,
    )
    .unwrap()
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

/// Status and error code of a refusal, after checking it has a message.
fn refusal((status, body): (u16, Vec<u8>)) -> (u16, String) {
    let v = json(&body);
    assert!(
        v["message"].as_str().is_some_and(|m| m.len() > 20),
        "refusal without a message: {v}"
    );
    (status, v["error"].as_str().unwrap_or("").to_string())
}

fn card_overview(state: &Path) -> siths_upgrade::card::CardOverview {
    let card = share(VirtualCard::open(state).unwrap());
    let mut card = SithsCard::open(Box::new(MemoryTransport::connect(card).unwrap())).unwrap();
    card.overview().unwrap()
}

#[test]
fn init_makes_the_documented_directory() {
    let md = MockDir::new(&base().dir);
    let root = CertInfo::from_pem(&std::fs::read_to_string(md.root_pem()).unwrap()).unwrap();
    assert_eq!(
        root.subject_dn,
        "C=SE, O=Inera AB, CN=TEST SITHS e-id Root CA v2"
    );
    assert!(root.is_ca && root.is_self_signed());
    assert_eq!(root.key_bits, 4096);
    let issuing = std::fs::read_to_string(md.issuing_pem()).unwrap();
    for ca in CaName::ISSUING {
        assert!(issuing.contains(&std::fs::read_to_string(md.ca_pem(ca)).unwrap()));
        let info = CertInfo::from_der(&md.ca_cert_der(ca).unwrap()).unwrap();
        assert_eq!(info.path_len, Some(0), "{ca:?}");
        assert_eq!(info.trust_level, ca.trust_level(), "{ca:?}");
        assert!(
            info.subject_dn
                .starts_with("C=SE, O=Inera AB, CN=TEST SITHS")
        );
        info.verify_issued_by(&root).unwrap();
    }
    // The server certificate answers to both names clients use, and openssl accepts its chain.
    let text = openssl(&[
        "x509",
        "-in",
        s(&md.server_pem()),
        "-noout",
        "-ext",
        "subjectAltName",
    ]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("DNS:localhost") && text.contains("IP Address:127.0.0.1"),
        "{text}"
    );
    openssl(&["verify", "-CAfile", s(&md.root_pem()), s(&md.server_pem())]);
    let deadline = md.config().unwrap().deadline_date().unwrap();
    assert!(deadline > siths_upgrade::pki::Date::today());
    assert_eq!(
        std::fs::read_to_string(md.persons_json()).unwrap(),
        mock::persons::BUILTIN_PERSONS_JSON
    );

    let persons = md.persons().unwrap();
    let now = siths_upgrade::pki::date::now_unix();
    for p in persons.persons() {
        let pins = std::fs::read_to_string(md.card_pins(&p.hsa_id)).unwrap();
        assert_eq!(
            pins,
            format!(
                "PIN1={}\nPIN2={}\nPUK={}\n",
                p.pins.pin1, p.pins.pin2, p.pins.puk
            )
        );
        let overview = card_overview(&md.card_state(&p.hsa_id));
        let mut slots: Vec<u8> = overview
            .certificates
            .iter()
            .filter_map(|c| c.slot.map(|s| s.number()))
            .collect();
        slots.sort();
        if p.already_upgraded {
            assert_eq!(slots, vec![2, 3, 6, 7], "{}", p.hsa_id);
            for c in &overview.certificates {
                let profile = Profile::ALL
                    .into_iter()
                    .find(|x| Some(x.slot()) == c.slot)
                    .unwrap();
                let info = c.info.as_ref().unwrap();
                assert_eq!(
                    info.subject.serial_number.as_deref(),
                    Some(p.identity_for(profile))
                );
            }
        } else {
            assert_eq!(slots, vec![1, 5], "{}", p.hsa_id);
            let legacy = overview.certificates[0].info.as_ref().unwrap();
            assert_eq!(legacy.issuer_cn.as_deref(), Some("TEST SITHS Type 1 CA v1"));
            assert_eq!(
                legacy.subject.serial_number.as_deref(),
                Some(p.hsa_id.as_str())
            );
            let days = legacy.days_left(now);
            match p.legacy_expires_in_days {
                Some(d) => assert!(days <= d && days < 30, "{}: {days} days", p.hsa_id),
                None => assert!(days > 365, "{}: {days} days", p.hsa_id),
            }
        }
    }

    // The already-upgraded card's four certificates are in the store.
    let upgraded = persons
        .persons()
        .iter()
        .find(|p| p.already_upgraded)
        .unwrap();
    let store = mock::store::Store::open(&md.store()).unwrap();
    let stored = store.for_person(&upgraded.hsa_id).unwrap();
    let mut labels: Vec<&str> = stored.iter().map(|c| c.label.as_str()).collect();
    labels.sort();
    assert_eq!(labels, ["hsa-auth", "hsa-sign", "pnr-auth", "pnr-sign"]);
    let card = card_overview(&md.card_state(&upgraded.hsa_id));
    for c in &card.certificates {
        assert!(stored.iter().any(|s| s.der == c.der));
    }
}

#[test]
fn init_refuses_a_directory_that_is_not_empty() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("keep.txt"), "mine").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_siths-upgrade"))
        .args(["ca-mock", "init", "--dir", s(tmp.path())])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is not empty") && err.contains("never overwrites"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("keep.txt")).unwrap(),
        "mine"
    );
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
}

#[test]
fn me_names_the_caller_from_a_legacy_or_a_new_certificate() {
    let env = Env::new();
    let (status, body) = env.curl("/api/v1/me", Some(&env.legacy_client(KARIN)), None);
    assert_eq!(status, 200);
    let me = json(&body);
    assert_eq!(me["hsa_id"], KARIN);
    assert_eq!(me["personnummer"], "198102179804");
    assert_eq!(me["name"], "Karin Åström");
    assert_eq!(me["county"], "Västra Götalands län");
    assert_eq!(me["upn"], "karin.astrom@region.test");
    assert_eq!(me["upgrade_allowed"], true);
    assert!(me["refusal"].is_null());
    let labels: Vec<&str> = me["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["hsa-auth", "hsa-sign", "pnr-auth", "pnr-sign"]);
    assert_eq!(me["profiles"][2]["identity"], "personnummer");
    assert_eq!(me["profiles"][1]["purpose"], "signature");
    assert_eq!(me["profiles"][0]["trust_level"], 3);

    // A new personnummer authentication certificate identifies the same person.
    let karin = env.person(KARIN);
    let pnr_cert = env.client_cert(CaName::Pnr3, &karin, &karin.personnummer);
    let (status, body) = env.curl("/api/v1/me", Some(&pnr_cert), None);
    assert_eq!((status, json(&body)["hsa_id"].clone()), (200, KARIN.into()));

    // The samordningsnummer holder is offered the HSA-id profiles only.
    let sam = env
        .dir
        .persons()
        .unwrap()
        .persons()
        .iter()
        .find(|p| p.is_samordningsnummer())
        .unwrap()
        .clone();
    let (_, body) = env.curl("/api/v1/me", Some(&env.legacy_client(&sam.hsa_id)), None);
    let n = json(&body)["profiles"].as_array().unwrap().len();
    assert_eq!(n, 2);
}

#[test]
fn cacerts_lists_the_profiles_issuing_ca_and_the_root() {
    let env = Env::new();
    for (label, issuer) in [
        ("hsa-auth", "HSA-id 3"),
        ("hsa-sign", "HSA-id 3"),
        ("pnr-auth", "ID 3"),
        ("pnr-sign", "ID 3"),
    ] {
        let (status, body) = env.curl(&format!("/.well-known/est/{label}/cacerts"), None, None);
        assert_eq!(status, 200);
        let b64 = env.file("cacerts.b64");
        std::fs::write(&b64, body).unwrap();
        let der = env.file("cacerts.p7");
        std::fs::write(&der, run("base64", &["-d", s(&b64)]).stdout).unwrap();
        let out = openssl(&[
            "pkcs7",
            "-inform",
            "DER",
            "-in",
            s(&der),
            "-print_certs",
            "-noout",
        ]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(text.matches("subject=").count(), 2, "{text}");
        assert!(
            text.contains(&format!("CN = TEST SITHS e-id Person {issuer} CA v1")),
            "{text}"
        );
        assert!(text.contains("CN = TEST SITHS e-id Root CA v2"), "{text}");
    }
}

#[test]
fn enrolment_issues_once_per_key_and_survives_a_restart() {
    let mut env = Env::new();
    let client = env.legacy_client(KARIN);
    let csr = env.csr("auth", 2048, "/CN=whatever the client writes");
    let (status, answer) = env.enroll("hsa-auth", &client, &csr);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    let first = env.read_back("first", &answer);
    let info = CertInfo::from_pem(&std::fs::read_to_string(&first).unwrap()).unwrap();
    assert_eq!(info.subject.serial_number.as_deref(), Some(KARIN));
    assert_eq!(info.subject.common_name.as_deref(), Some("Karin Åström"));
    assert_eq!(
        info.subject.locality.as_deref(),
        Some("Västra Götalands län")
    );
    assert_eq!(info.purpose, Purpose::Authentication);
    assert_eq!(info.upn.as_deref(), Some("karin.astrom@region.test"));
    assert_eq!(info.trust_level, Some(3));
    assert_eq!(
        info.issuer_cn.as_deref(),
        Some("TEST SITHS e-id Person HSA-id 3 CA v1")
    );
    assert!((1800..=1830).contains(&info.days_left(siths_upgrade::pki::date::now_unix())));
    // It certifies the CSR's key.
    let csr_key = openssl(&[
        "pkey",
        "-in",
        s(&env.file("auth.key")),
        "-pubout",
        "-outform",
        "DER",
    ]);
    assert_eq!(info.spki_der, csr_key.stdout);

    // The same CSR again: the same certificate, nothing new stored.
    let (status, again) = env.enroll("hsa-auth", &client, &csr);
    assert_eq!(status, 200);
    assert_eq!(again, answer);
    assert_eq!(env.server().enrolments_for(KARIN), 1);

    // The signing profile with the personnummer: a separate certificate.
    let sign_csr = env.csr("sign", 2048, "/serialNumber=198102179804");
    let (status, answer) = env.enroll("pnr-sign", &client, &sign_csr);
    assert_eq!(status, 200);
    let pem = env.read_back("sign", &answer);
    let sign = CertInfo::from_pem(&std::fs::read_to_string(pem).unwrap()).unwrap();
    assert_eq!(sign.subject.serial_number.as_deref(), Some("198102179804"));
    assert_eq!(sign.purpose, Purpose::Signature);
    assert_eq!(sign.upn, None);
    assert_eq!(env.server().enrolments_for(KARIN), 2);

    // A restart keeps the store: same answer, and the certificates are listed.
    env.restart();
    let (status, after) = env.enroll("hsa-auth", &client, &csr);
    assert_eq!((status, after), (200, again));
    assert_eq!(env.server().enrolments_for(KARIN), 2);
    let (status, body) = env.curl("/api/v1/certificates", Some(&client), None);
    assert_eq!(status, 200);
    let list = json(&body);
    let certs = list["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 2);
    assert_eq!(certs[0]["label"], "hsa-auth");
    assert_eq!(certs[0]["serial"], info.serial_hex.as_str());
    assert!(certs[0]["not_after"].as_str().unwrap().ends_with('Z'));
    use base64::Engine;
    let der = base64::engine::general_purpose::STANDARD
        .decode(certs[0]["der_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(der, info.der);
    // Someone else sees only their own.
    let (_, body) = env.curl(
        "/api/v1/certificates",
        Some(&env.legacy_client(TOLVAN)),
        None,
    );
    assert_eq!(json(&body)["certificates"].as_array().unwrap().len(), 0);
}

#[test]
fn every_refusal_has_its_status_and_code() {
    let env = Env::new();
    let karin = env.legacy_client(KARIN);
    let good = env.csr("good", 2048, "/serialNumber=TST5565594230-1001/CN=Karin");

    // No client certificate: 401 in JSON, on EST and on the API.
    let r = env.curl(
        "/.well-known/est/hsa-auth/simpleenroll",
        None,
        Some((&good, "application/pkcs10")),
    );
    assert_eq!(refusal(r), (401, "no_client_certificate".into()));
    assert_eq!(
        refusal(env.curl("/api/v1/me", None, None)),
        (401, "no_client_certificate".into())
    );

    // A certificate from a CA that is not DIR's: the handshake fails, no HTTP answer at all.
    let stranger_key = env.file("stranger.key");
    let stranger = env.file("stranger.pem");
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        s(&stranger_key),
        "-out",
        s(&stranger),
        "-days",
        "30",
        "-subj",
        "/serialNumber=TST5565594230-1001/CN=Karin Åström",
        "-addext",
        "extendedKeyUsage=clientAuth",
    ]);
    let out = env.curl_raw("/api/v1/me", Some(&stranger), Some(&stranger_key), None);
    assert!(!out.status.success(), "a foreign certificate got through");
    assert_ne!(String::from_utf8_lossy(&out.stdout).trim(), "200");
    assert!(!env.file("body").exists() || std::fs::read(env.file("body")).unwrap().is_empty());

    // A certificate of DIR's CA for someone not in the directory.
    let nobody = env.person(KARIN);
    let ghost = env.client_cert(CaName::Legacy, &nobody, "TST5565594230-9999");
    assert_eq!(
        refusal(env.enroll("hsa-auth", &ghost, &good)),
        (403, "unknown_person".into())
    );

    // CSRs: bad signature, not a CSR, RSA-1024, someone else's identity.
    let der = std::fs::read(env.file("good.der")).unwrap();
    let mut tampered = der.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    let tampered_path = env.file("tampered.der");
    std::fs::write(&tampered_path, tampered).unwrap();
    let tampered_b64 = env.base64_file(&tampered_path);
    assert_eq!(
        refusal(env.enroll("hsa-auth", &karin, &tampered_b64)),
        (400, "bad_csr".into())
    );
    let garbage = env.file("garbage.b64");
    std::fs::write(&garbage, "aGVsbG8gd29ybGQ=\n").unwrap();
    assert_eq!(
        refusal(env.enroll("hsa-auth", &karin, &garbage)),
        (400, "bad_csr".into())
    );
    let short = env.csr("short", 1024, "/CN=Karin");
    assert_eq!(
        refusal(env.enroll("hsa-auth", &karin, &short)),
        (400, "bad_key".into())
    );
    let other = env.csr("other", 2048, "/serialNumber=TST5565594230-1002");
    assert_eq!(
        refusal(env.enroll("hsa-auth", &karin, &other)),
        (403, "wrong_identity".into())
    );
    // Her HSA-id in a personnummer profile is someone else's identity there too.
    let own_hsa = env.csr("own", 2048, "/serialNumber=TST5565594230-1001");
    assert_eq!(
        refusal(env.enroll("pnr-auth", &karin, &own_hsa)),
        (403, "wrong_identity".into())
    );
    assert_eq!(env.server().enrolments_for(KARIN), 0);

    // The samordningsnummer holder: HSA-id yes, personnummer at level 3 no.
    let persons = env.dir.persons().unwrap();
    let sam = persons
        .persons()
        .iter()
        .find(|p| p.is_samordningsnummer())
        .unwrap();
    let sam_client = env.legacy_client(&sam.hsa_id);
    let sam_csr = env.csr("sam", 2048, "/CN=x");
    assert_eq!(
        refusal(env.enroll("pnr-auth", &sam_client, &sam_csr)),
        (403, "profile_not_allowed".into())
    );
    assert_eq!(
        refusal(env.enroll("pnr-sign", &sam_client, &sam_csr)),
        (403, "profile_not_allowed".into())
    );
    assert_eq!(env.enroll("hsa-auth", &sam_client, &sam_csr).0, 200);

    // A person whose upgrade is not allowed, told so by `me` as well.
    let barred = persons
        .persons()
        .iter()
        .find(|p| !p.upgrade_allowed)
        .unwrap();
    let barred_client = env.legacy_client(&barred.hsa_id);
    assert_eq!(
        refusal(env.enroll("hsa-auth", &barred_client, &good)),
        (403, "upgrade_not_allowed".into())
    );
    let me = json(&env.curl("/api/v1/me", Some(&barred_client), None).1);
    assert_eq!(
        (
            me["upgrade_allowed"].clone(),
            me["refusal"]["error"].clone()
        ),
        (false.into(), "upgrade_not_allowed".into())
    );

    // Unknown label, wrong method.
    assert_eq!(
        refusal(env.enroll("hsa-login", &karin, &good)),
        (404, "unknown_profile".into())
    );
    assert_eq!(
        refusal(env.curl("/.well-known/est/nope/cacerts", None, None)),
        (404, "unknown_profile".into())
    );
    assert_eq!(
        refusal(env.curl("/.well-known/est/hsa-auth/simpleenroll", Some(&karin), None)),
        (405, "method_not_allowed".into())
    );
    assert_eq!(env.server().enrolments_for(KARIN), 0);
}

#[test]
fn after_the_deadline_upgrades_are_refused() {
    let env = Env::with(|dir| dir.set_deadline("2020-01-31").unwrap());
    let karin = env.legacy_client(KARIN);
    let csr = env.csr("late", 2048, "/CN=Karin");
    let (status, code) = refusal(env.enroll("hsa-auth", &karin, &csr));
    assert_eq!((status, code.as_str()), (403, "deadline_passed"));
    let me = json(&env.curl("/api/v1/me", Some(&karin), None).1);
    assert_eq!(me["deadline"], "2020-01-31");
    assert_eq!(me["upgrade_allowed"], false);
    assert_eq!(me["refusal"]["error"], "deadline_passed");
    assert!(
        me["refusal"]["message"]
            .as_str()
            .unwrap()
            .contains("2020-01-31")
    );
    assert_eq!(env.server().enrolments_for(KARIN), 0);
}

#[test]
fn puk_lookup_needs_an_operator_and_a_reason_and_is_logged_without_the_puk() {
    let env = Env::new();
    let operator = env.legacy_client(MARTA_OPERATOR);
    let tolvan = env.person(TOLVAN);
    let ask = |body: &str| {
        let file = env.file("ask.json");
        std::fs::write(&file, body).unwrap();
        file
    };
    let good =
        ask(r#"{"hsa_id": "TST5565594230-1002", "reason": "ID-kort visat i disken, ärende 4711"}"#);
    let (status, body) = env.curl(
        "/api/v1/puk-lookup",
        Some(&operator),
        Some((&good, "application/json")),
    );
    assert_eq!(status, 200);
    assert_eq!(json(&body)["puk"], tolvan.pins.puk.as_str());

    let log = std::fs::read_to_string(env.dir.puk_log()).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 1);
    let entry = json(lines[0].as_bytes());
    assert_eq!(entry["operator"], MARTA_OPERATOR);
    assert_eq!(entry["customer"], TOLVAN);
    assert_eq!(entry["reason"], "ID-kort visat i disken, ärende 4711");
    assert!(entry["time"].as_str().unwrap().ends_with('Z'));
    assert!(
        !log.contains(tolvan.pins.puk.as_str()),
        "the PUK is in the log"
    );

    // Without a reason; as a holder who is not an operator; for nobody.
    let no_reason = ask(r#"{"hsa_id": "TST5565594230-1002", "reason": "  "}"#);
    let r = env.curl(
        "/api/v1/puk-lookup",
        Some(&operator),
        Some((&no_reason, "application/json")),
    );
    assert_eq!(refusal(r), (400, "reason_missing".into()));
    let holder = env.legacy_client(KARIN);
    let r = env.curl(
        "/api/v1/puk-lookup",
        Some(&holder),
        Some((&good, "application/json")),
    );
    let (status, body) = r;
    assert!(!String::from_utf8_lossy(&body).contains(tolvan.pins.puk.as_str()));
    assert_eq!(refusal((status, body)), (403, "not_operator".into()));
    let r = env.curl(
        "/api/v1/puk-lookup",
        None,
        Some((&good, "application/json")),
    );
    assert_eq!(refusal(r), (401, "no_client_certificate".into()));
    let nobody = ask(r#"{"hsa_id": "TST5565594230-9999", "reason": "test"}"#);
    let r = env.curl(
        "/api/v1/puk-lookup",
        Some(&operator),
        Some((&nobody, "application/json")),
    );
    assert_eq!(refusal(r), (404, "unknown_person".into()));
    assert_eq!(
        std::fs::read_to_string(env.dir.puk_log())
            .unwrap()
            .lines()
            .count(),
        1
    );
}

#[test]
fn stopping_the_server_closes_its_port() {
    let mut env = Env::new();
    let addr = env.server().addr();
    env.server.take().unwrap().stop();
    assert!(std::net::TcpStream::connect(addr).is_err());
    env.restart();
    let (status, _) = env.curl("/.well-known/est/hsa-auth/cacerts", None, None);
    assert_eq!(status, 200);
}
