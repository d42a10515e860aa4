//! The CA mock as independent clients see it: `curl` with a client certificate and `openssl` for
//! CSRs, PKCS#7 answers and chain checks, against `ca-mock init`'s directory served in-process.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use siths_upgrade::ca::Profile;
use siths_upgrade::ca::mock::init::pem;
use siths_upgrade::ca::mock::{self, CaName, MockDir, Person};
use siths_upgrade::card::Card as _;
use siths_upgrade::card::SithsCard;
use siths_upgrade::pki::issue::PersonCertRequest;
use siths_upgrade::pki::{CertInfo, Purpose, TestCa};
use siths_upgrade::virtual_card::memory::MemoryTransport;
use siths_upgrade::virtual_card::{VirtualCard, share_virtual_card};

use support::persons::{HOLDER, OPERATOR, OTHER_HOLDER, SAMORDNING, UNKNOWN, UNKNOWN_2};
use support::rig::Rig;
use support::world::world;

/// One client key made by openssl, once per test binary; each test serves its own copy of
/// the CA world ([`world`]).
struct ClientKey {
    _tmp: tempfile::TempDir,
    client_key: PathBuf,
    client_spki: Vec<u8>,
}

fn base() -> &'static ClientKey {
    static KEY: OnceLock<ClientKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
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
        ClientKey {
            _tmp: tmp,
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

/// What these tests do with a rig: `curl` and `openssl` against it, as independent clients.
impl Rig {
    /// The certificate of an EST answer as a PEM file (no checks).
    fn answer_pem(&self, name: &str, answer: &[u8]) -> PathBuf {
        let compact: String = String::from_utf8_lossy(answer)
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let certs = siths_upgrade::ca::pkcs7::parse_certs_only_base64(compact.as_bytes()).unwrap();
        let path = self.file(&format!("{name}.pem"));
        std::fs::write(&path, pem("CERTIFICATE", &certs[0])).unwrap();
        path
    }

    fn reenroll(&self, label: &str, cert: &Path, csr_b64: &Path) -> (u16, Vec<u8>) {
        self.curl(
            &format!("/.well-known/est/{label}/simplereenroll"),
            Some(cert),
            Some((csr_b64, "application/pkcs10")),
        )
    }

    /// A PUK lookup as the desk makes it, with curl: a challenge, then the lookup carrying
    /// what was read from `customer`'s card in DIR (its HSA-id authentication certificate and
    /// its serial).
    fn desk_lookup(&self, operator: &Path, customer: &str, reason: &str) -> (u16, Vec<u8>) {
        let (status, body) = self.challenge(operator, customer);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let challenge = json(&body)["challenge"].as_str().unwrap().to_string();
        let (cert, serial) = self.card_evidence(customer);
        self.lookup_with(
            operator,
            &serde_json::json!({
                "hsa_id": customer,
                "reason": reason,
                "challenge": challenge,
                "customer_certificate": cert,
                "card_serial": serial,
            }),
        )
    }

    fn challenge(&self, operator: &Path, customer: &str) -> (u16, Vec<u8>) {
        let file = self.file("challenge.json");
        std::fs::write(&file, format!(r#"{{"hsa_id": "{customer}"}}"#)).unwrap();
        self.curl(
            "/api/v1/puk-challenge",
            Some(operator),
            Some((&file, "application/json")),
        )
    }

    fn lookup_with(&self, operator: &Path, body: &serde_json::Value) -> (u16, Vec<u8>) {
        let file = self.file("lookup.json");
        std::fs::write(&file, serde_json::to_vec(body).unwrap()).unwrap();
        self.curl(
            "/api/v1/puk-lookup",
            Some(operator),
            Some((&file, "application/json")),
        )
    }

    /// What a desk reads from a holder's card without a PIN: the HSA-id authentication
    /// certificate (base64 DER) and the card's serial.
    fn card_evidence(&self, hsa_id: &str) -> (String, String) {
        use base64::Engine;
        let overview = card_overview(&self.dir.card_state(hsa_id));
        let cert = overview
            .certificates
            .iter()
            .find(|c| {
                c.info.as_ref().is_ok_and(|i| {
                    i.purpose == Purpose::Authentication
                        && i.subject.serial_number.as_deref() == Some(hsa_id)
                })
            })
            .unwrap();
        (
            base64::engine::general_purpose::STANDARD.encode(&cert.der),
            overview.serial.clone(),
        )
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

/// The lines of DIR/puk-lookups.log that record `request` ("challenge" or "lookup").
fn puk_log_lines(env: &Rig, request: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(env.dir.puk_log())
        .unwrap_or_default()
        .lines()
        .map(|l| json(l.as_bytes()))
        .filter(|l| l["request"] == request)
        .collect()
}

fn card_overview(state: &Path) -> siths_upgrade::card::CardOverview {
    let card = share_virtual_card(VirtualCard::open(state).unwrap());
    let mut card = SithsCard::open(Box::new(MemoryTransport::connect(card).unwrap())).unwrap();
    card.overview().unwrap()
}

#[test]
fn init_makes_the_documented_directory() {
    let md = MockDir::new(world());
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
    let env = Rig::new();
    let (status, body) = env.curl("/api/v1/me", Some(&env.legacy_client(HOLDER.hsa_id)), None);
    assert_eq!(status, 200);
    let me = json(&body);
    assert_eq!(me["hsa_id"], HOLDER.hsa_id);
    assert_eq!(me["personnummer"], HOLDER.personnummer);
    assert_eq!(me["name"], HOLDER.name);
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
    let karin = env.person(HOLDER.hsa_id);
    let pnr_cert = env.client_cert(CaName::Pnr3, &karin, &karin.personnummer);
    let (status, body) = env.curl("/api/v1/me", Some(&pnr_cert), None);
    assert_eq!(
        (status, json(&body)["hsa_id"].clone()),
        (200, HOLDER.hsa_id.into())
    );

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
    let env = Rig::new();
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
    let mut env = Rig::new();
    let client = env.legacy_client(HOLDER.hsa_id);
    let csr = env.csr("auth", 2048, "/CN=whatever the client writes");
    let (status, answer) = env.enroll("hsa-auth", &client, &csr);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    let first = env.read_back("first", &answer);
    let info = CertInfo::from_pem(&std::fs::read_to_string(&first).unwrap()).unwrap();
    assert_eq!(info.subject.serial_number.as_deref(), Some(HOLDER.hsa_id));
    assert_eq!(info.subject.common_name.as_deref(), Some(HOLDER.name));
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
    assert_eq!(env.server().enrolments_for(HOLDER.hsa_id), 1);

    // The signing profile with the personnummer: a separate certificate.
    let sign_csr = env.csr(
        "sign",
        2048,
        &format!("/serialNumber={}", HOLDER.personnummer),
    );
    let (status, answer) = env.enroll("pnr-sign", &client, &sign_csr);
    assert_eq!(status, 200);
    let pem = env.read_back("sign", &answer);
    let sign = CertInfo::from_pem(&std::fs::read_to_string(pem).unwrap()).unwrap();
    assert_eq!(
        sign.subject.serial_number.as_deref(),
        Some(HOLDER.personnummer)
    );
    assert_eq!(sign.purpose, Purpose::Signature);
    assert_eq!(sign.upn, None);
    assert_eq!(env.server().enrolments_for(HOLDER.hsa_id), 2);

    // A restart keeps the store: same answer, and the certificates are listed.
    env.restart();
    let (status, after) = env.enroll("hsa-auth", &client, &csr);
    assert_eq!((status, after), (200, again));
    assert_eq!(env.server().enrolments_for(HOLDER.hsa_id), 2);
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
        Some(&env.legacy_client(OTHER_HOLDER.hsa_id)),
        None,
    );
    assert_eq!(json(&body)["certificates"].as_array().unwrap().len(), 0);
}

#[test]
fn every_refusal_has_its_status_and_code() {
    let env = Rig::new();
    let karin = env.legacy_client(HOLDER.hsa_id);
    let good = env.csr(
        "good",
        2048,
        &format!("/serialNumber={}/CN={}", HOLDER.hsa_id, HOLDER.given_name()),
    );

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
        &format!("/serialNumber={}/CN={}", HOLDER.hsa_id, HOLDER.name),
        "-addext",
        "extendedKeyUsage=clientAuth",
    ]);
    let out = env.curl_raw("/api/v1/me", Some(&stranger), Some(&stranger_key), None);
    assert!(!out.status.success(), "a foreign certificate got through");
    assert_ne!(String::from_utf8_lossy(&out.stdout).trim(), "200");
    assert!(!env.file("body").exists() || std::fs::read(env.file("body")).unwrap().is_empty());

    // A certificate of DIR's CA for someone not in the directory.
    let nobody = env.person(HOLDER.hsa_id);
    let ghost = env.client_cert(CaName::Legacy, &nobody, UNKNOWN);
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
    let short = env.csr("short", 1024, &format!("/CN={}", HOLDER.given_name()));
    assert_eq!(
        refusal(env.enroll("hsa-auth", &karin, &short)),
        (400, "bad_key".into())
    );
    let other = env.csr(
        "other",
        2048,
        &format!("/serialNumber={}", OTHER_HOLDER.hsa_id),
    );
    assert_eq!(
        refusal(env.enroll("hsa-auth", &karin, &other)),
        (403, "wrong_identity".into())
    );
    // Her HSA-id in a personnummer profile is someone else's identity there too.
    let own_hsa = env.csr("own", 2048, &format!("/serialNumber={}", HOLDER.hsa_id));
    assert_eq!(
        refusal(env.enroll("pnr-auth", &karin, &own_hsa)),
        (403, "wrong_identity".into())
    );
    assert_eq!(env.server().enrolments_for(HOLDER.hsa_id), 0);

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
    assert_eq!(env.server().enrolments_for(HOLDER.hsa_id), 0);
}

#[test]
fn after_the_deadline_upgrades_are_refused() {
    let env = Rig::with(|dir| dir.set_deadline("2020-01-31").unwrap());
    let karin = env.legacy_client(HOLDER.hsa_id);
    let csr = env.csr("late", 2048, &format!("/CN={}", HOLDER.given_name()));
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
    assert_eq!(env.server().enrolments_for(HOLDER.hsa_id), 0);
}

#[test]
fn puk_lookup_needs_an_operator_and_a_reason_and_is_logged_without_the_puk() {
    let env = Rig::new();
    let operator = env.legacy_client(OPERATOR.hsa_id);
    let tolvan = env.person(OTHER_HOLDER.hsa_id);
    let ask = |body: &str| {
        let file = env.file("ask.json");
        std::fs::write(&file, body).unwrap();
        file
    };
    let good = ask(&format!(
        r#"{{"hsa_id": "{}", "reason": "ID-kort visat i disken, ärende 4711"}}"#,
        OTHER_HOLDER.hsa_id
    ));
    let (status, body) = env.desk_lookup(
        &operator,
        OTHER_HOLDER.hsa_id,
        "ID-kort visat i disken, ärende 4711",
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json(&body)["puk"], tolvan.pins.puk.as_str());

    let log = std::fs::read_to_string(env.dir.puk_log()).unwrap();
    let lines = puk_log_lines(&env, "lookup");
    assert_eq!(lines.len(), 1, "{log}");
    let entry = &lines[0];
    assert_eq!(entry["operator"], OPERATOR.hsa_id);
    assert_eq!(entry["customer"], OTHER_HOLDER.hsa_id);
    assert_eq!(entry["reason"], "ID-kort visat i disken, ärende 4711");
    assert!(entry["time"].as_str().unwrap().ends_with('Z'));
    assert!(
        !log.contains(tolvan.pins.puk.as_str()),
        "the PUK is in the log"
    );

    // Without a reason; as a holder who is not an operator; for nobody.
    let r = env.desk_lookup(&operator, OTHER_HOLDER.hsa_id, "  ");
    assert_eq!(refusal(r), (400, "reason_missing".into()));
    let holder = env.legacy_client(HOLDER.hsa_id);
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
    // For nobody: a lookup tells nothing before its challenge matches; the challenge says
    // there is no such holder.
    let nobody = ask(&format!(r#"{{"hsa_id": "{UNKNOWN}", "reason": "test"}}"#));
    let r = env.curl(
        "/api/v1/puk-lookup",
        Some(&operator),
        Some((&nobody, "application/json")),
    );
    assert_eq!(refusal(r), (403, "bad_challenge".into()));
    assert_eq!(
        refusal(env.challenge(&operator, UNKNOWN)),
        (404, "unknown_person".into())
    );
    assert_eq!(puk_log_lines(&env, "lookup").len(), 1);
}

#[test]
fn stopping_the_server_closes_its_port() {
    let mut env = Rig::new();
    let addr = env.server().addr();
    env.stop();
    assert!(std::net::TcpStream::connect(addr).is_err());
    env.restart();
    let (status, _) = env.curl("/.well-known/est/hsa-auth/cacerts", None, None);
    assert_eq!(status, 200);
}

/// The permission bits of a file or directory.
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_ca_keeps_codes_and_keys_from_other_local_users() {
    // DIR as `init` made it (with no umask help: init sets the modes itself).
    let md = MockDir::new(world());
    assert_eq!(mode(md.path()), 0o700, "DIR");
    assert_eq!(mode(&md.cards_dir()), 0o700, "DIR/cards");
    assert_eq!(mode(&md.path().join("ca")), 0o700, "DIR/ca");
    assert_eq!(
        mode(&md.persons_json()),
        0o600,
        "persons.json holds every PUK"
    );
    assert_eq!(mode(&md.server_key()), 0o600);
    for ca in CaName::ALL {
        assert_eq!(mode(&md.ca_key(ca)), 0o600, "{ca:?}");
    }
    for p in md.persons().unwrap().persons() {
        assert_eq!(mode(&md.card_pins(&p.hsa_id)), 0o600, "{}", p.hsa_id);
        assert_eq!(mode(&md.card_state(&p.hsa_id)), 0o600, "{}", p.hsa_id);
    }

    // An empty DIR the operator made with the usual 0755 is closed before anything goes in.
    let tmp = tempfile::tempdir().unwrap();
    let open = tmp.path().join("open");
    std::fs::create_dir(&open).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_siths-upgrade"))
        .args(["ca-mock", "init", "--dir", s(&open)])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&open), 0o700);

    // The lookup log is created owner-only by the first lookup.
    let env = Rig::new();
    let operator = env.legacy_client(OPERATOR.hsa_id);
    let (status, _) = env.desk_lookup(&operator, OTHER_HOLDER.hsa_id, "ärende 1");
    assert_eq!(status, 200);
    assert_eq!(mode(&env.dir.puk_log()), 0o600, "puk-lookups.log");
}

/// A TLS client of our own (rustls), trusting DIR's root, that can send half a request.
fn tls_client(env: &Rig) -> rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream> {
    use rustls::pki_types::pem::PemObject;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_file(env.dir.root_pem()).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    let tcp = std::net::TcpStream::connect(env.server().addr()).unwrap();
    // Only so that a broken server cannot hang the test; the assertions use their own bound.
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

/// Whether the server closed the connection (EOF or reset) within `bound`.
fn closed_within(stream: &mut impl std::io::Read, bound: std::time::Duration) -> bool {
    let started = std::time::Instant::now();
    let mut buf = [0u8; 512];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return started.elapsed() < bound,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return false,
            Err(_) => return started.elapsed() < bound,
        }
    }
}

/// `curl` for cacerts that gives up after `seconds`: (HTTP status or 0, curl's exit code).
fn cacerts_within(env: &Rig, seconds: u32) -> (u16, Option<i32>) {
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            &seconds.to_string(),
            "--cacert",
            s(&env.dir.root_pem()),
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("{}/.well-known/est/hsa-auth/cacerts", env.server().url()),
        ])
        .output()
        .unwrap_or_else(|e| panic!("curl could not run ({e}); install curl"));
    let code = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    (code, out.status.code())
}

/// Raise this process's soft limit of open files to `wanted` (or the hard limit, if lower):
/// unprivileged sessions often start at 1024, and the slow-client tests hold more sockets than
/// that (both ends live in this process), besides what tests running beside them hold.
fn room_for_open_files(wanted: u64) {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let hard = limit.maximum.unwrap_or(u64::MAX);
    if limit.current.is_some_and(|soft| soft < wanted.min(hard)) {
        let raised = rustix::process::Rlimit {
            current: Some(wanted.min(hard)),
            maximum: limit.maximum,
        };
        setrlimit(Resource::Nofile, raised).expect("raise the open-file limit");
    }
}

#[test]
fn slow_and_idle_clients_do_not_take_the_ca_down() {
    use std::io::Write;
    use std::time::Duration;
    room_for_open_files(4096);
    // A long handshake deadline, so the idle connections are all still held while curl asks;
    // a short header deadline, so the test need not wait the default 10 s.
    let env = Rig::with_limits(mock::Limits {
        handshake: Duration::from_secs(60),
        header_read: Duration::from_secs(1),
        ..mock::Limits::default()
    });
    // From one address other than curl's, so the per-client cap leaves curl its places.
    let idle: Vec<std::net::TcpStream> = (0..500)
        .map(|_| connect_from("127.0.0.2", env.server().addr()))
        .collect();
    // A client that sends half a request head and then nothing.
    let mut half = tls_client(&env);
    half.write_all(b"GET /api/v1/me HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .unwrap();
    half.flush().unwrap();
    // The CA still answers at once (curl gives up after 5 s).
    assert_eq!(cacerts_within(&env, 5), (200, Some(0)));
    // The half-sent request is closed once its deadline passes.
    assert!(
        closed_within(&mut half, Duration::from_secs(9)),
        "the half-sent request was not closed"
    );
    assert_eq!(cacerts_within(&env, 5), (200, Some(0)));
    drop(idle);

    // Never starting TLS is cut off too.
    let env = Rig::with_limits(mock::Limits {
        handshake: Duration::from_secs(1),
        ..mock::Limits::default()
    });
    let mut silent = std::net::TcpStream::connect(env.server().addr()).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    assert!(
        closed_within(&mut silent, Duration::from_secs(9)),
        "a connection without a handshake was kept"
    );
}

/// A client config without a client certificate, to be shared by connections that should
/// resume each other's TLS session.
fn anonymous_config(env: &Rig) -> std::sync::Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_file(env.dir.root_pem()).unwrap())
        .unwrap();
    std::sync::Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// One kept-alive request for the default CA's certificates on a new connection made with
/// `config`; the connection is returned open, its answer read.
fn kept_alive_cacerts(
    env: &Rig,
    config: &std::sync::Arc<rustls::ClientConfig>,
) -> rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream> {
    use std::io::{Read, Write};
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(config.clone(), name).unwrap();
    let tcp = std::net::TcpStream::connect(env.server().addr()).unwrap();
    // Only so that a broken server cannot hang the test.
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(b"GET /.well-known/est/cacerts HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    tls.flush().unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tls.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .expect("a Content-Length");
    let mut body = vec![0; length];
    tls.read_exact(&mut body).unwrap();
    tls
}

#[test]
fn idle_connections_are_closed_cleanly_and_sessions_can_be_forgotten() {
    use std::io::Read;
    use std::time::Duration;
    // A kept-alive connection left idle is closed after `idle`, with close_notify (rustls then
    // reads a clean end, Ok(0)); the request-head deadline, which would cut it without one, is
    // far away.
    let env = Rig::with_limits(mock::Limits {
        idle: Some(Duration::from_millis(500)),
        header_read: Duration::from_secs(60),
        tls_resumption: false,
        ..mock::Limits::default()
    });
    let config = anonymous_config(&env);
    let mut idle = kept_alive_cacerts(&env, &config);
    let mut buf = [0u8; 64];
    assert_eq!(
        idle.read(&mut buf).map_err(|e| e.to_string()),
        Ok(0),
        "the idle connection did not end with close_notify"
    );
    // Without resumption the next connection is a full handshake again.
    drop(kept_alive_cacerts(&env, &config));
    let counts = env.server().handshakes();
    assert_eq!((counts.full(), counts.resumed()), (2, 0));

    // By default the same client resumes its session, and idle connections are left to the
    // request-head deadline.
    let env = Rig::new();
    let config = anonymous_config(&env);
    drop(kept_alive_cacerts(&env, &config));
    drop(kept_alive_cacerts(&env, &config));
    let counts = env.server().handshakes();
    assert_eq!((counts.full(), counts.resumed()), (1, 1));
}

#[test]
fn connections_beyond_the_limit_wait_for_a_free_one() {
    use std::time::Duration;
    let env = Rig::with_limits(mock::Limits {
        max_connections: 3,
        ..mock::Limits::default()
    });
    let mut held: Vec<std::net::TcpStream> = (0..3)
        .map(|_| std::net::TcpStream::connect(env.server().addr()).unwrap())
        .collect();
    // Give the server the moment it needs to accept the three.
    std::thread::sleep(Duration::from_millis(300));
    let (status, exit) = cacerts_within(&env, 2);
    assert_eq!(status, 0, "a fourth connection was served");
    assert_eq!(exit, Some(28), "curl did not time out waiting");
    held.pop();
    assert_eq!(cacerts_within(&env, 5), (200, Some(0)));
}

#[test]
fn a_signature_certificate_cannot_log_in() {
    let env = Rig::new();
    let karin = env.person(HOLDER.hsa_id);
    // The legacy pair's signature certificate (nonRepudiation), as on a pre-upgrade card.
    let ca = env.dir.load_ca(CaName::Legacy).unwrap();
    let der = ca
        .issue_person_cert(
            &PersonCertRequest {
                subject: karin.name_with(HOLDER.hsa_id),
                purpose: Purpose::Signature,
                trust_level: None,
                upn: None,
                not_before: None,
                not_after: None,
            },
            &base().client_spki,
        )
        .unwrap();
    let signing = env.file("signing.pem");
    std::fs::write(&signing, pem("CERTIFICATE", &der)).unwrap();
    for path in ["/api/v1/me", "/api/v1/certificates"] {
        let (status, body) = env.curl(path, Some(&signing), None);
        let message = json(&body)["message"].as_str().unwrap_or("").to_string();
        assert_eq!(
            refusal((status, body)),
            (403, "not_authentication_certificate".into()),
            "{path}"
        );
        assert!(
            message.contains("signature certificate") && message.contains("identification"),
            "{message}"
        );
    }
    let csr = env.csr(
        "signing-login",
        2048,
        &format!("/CN={}", HOLDER.given_name()),
    );
    assert_eq!(
        refusal(env.enroll("hsa-auth", &signing, &csr)),
        (403, "not_authentication_certificate".into())
    );
    assert_eq!(env.server().enrolments_for(HOLDER.hsa_id), 0);
    // The same holder's authentication certificate still logs in.
    let (status, _) = env.curl("/api/v1/me", Some(&env.legacy_client(HOLDER.hsa_id)), None);
    assert_eq!(status, 200);
}

#[test]
fn puk_lookups_are_rate_limited_per_operator_across_a_restart() {
    let limits = mock::Limits {
        puk_lookups: mock::RateLimit {
            max: 2,
            window: std::time::Duration::from_secs(3600),
        },
        ..mock::Limits::default()
    };
    let mut env = Rig::with_limits(limits);
    let operator = env.legacy_client(OPERATOR.hsa_id);
    let tolvan = env.person(OTHER_HOLDER.hsa_id);
    assert_eq!(
        env.desk_lookup(&operator, OTHER_HOLDER.hsa_id, "ärende 4711")
            .0,
        200
    );
    assert_eq!(
        env.desk_lookup(&operator, OTHER_HOLDER.hsa_id, "ärende 4712")
            .0,
        200
    );
    // A restart of the CA does not give the operator a fresh allowance: the third lookup
    // gets no challenge.
    env.restart_with(limits);
    let (status, body) = env.challenge(&operator, OTHER_HOLDER.hsa_id);
    assert!(!String::from_utf8_lossy(&body).contains(tolvan.pins.puk.as_str()));
    let message = json(&body)["message"].as_str().unwrap().to_string();
    assert_eq!(refusal((status, body)), (429, "too_many_lookups".into()));
    assert!(
        message.contains("try again in") && message.contains('Z'),
        "the refusal does not say when to retry: {message}"
    );
    // Refused requests release nothing and are not in the log.
    assert_eq!(puk_log_lines(&env, "lookup").len(), 2);
    assert_eq!(puk_log_lines(&env, "challenge").len(), 2);
}

#[test]
fn no_puk_leaves_the_ca_unless_its_lookup_is_logged() {
    // The log cannot be written (a directory stands where the file should be).
    let env = Rig::with(|dir| std::fs::create_dir(dir.puk_log()).unwrap());
    let operator = env.legacy_client(OPERATOR.hsa_id);
    let tolvan = env.person(OTHER_HOLDER.hsa_id);
    // Not even the challenge a lookup starts with: it is logged too.
    assert_eq!(
        refusal(env.challenge(&operator, OTHER_HOLDER.hsa_id)),
        (500, "internal".into())
    );
    // A challenge the CA issued before the log broke does not get the PUK out either.
    let challenge = "d".repeat(64);
    let now = siths_upgrade::pki::date::now_unix();
    mock::store::Store::open(&env.dir.store())
        .unwrap()
        .add_challenge(
            &challenge,
            OPERATOR.hsa_id,
            OTHER_HOLDER.hsa_id,
            now + 100,
            now,
        )
        .unwrap();
    let (cert, serial) = env.card_evidence(OTHER_HOLDER.hsa_id);
    let (status, body) = env.lookup_with(
        &operator,
        &serde_json::json!({
            "hsa_id": OTHER_HOLDER.hsa_id, "reason": "ärende 4711", "challenge": challenge,
            "customer_certificate": cert, "card_serial": serial,
        }),
    );
    assert!(!String::from_utf8_lossy(&body).contains(tolvan.pins.puk.as_str()));
    assert_eq!(refusal((status, body)), (500, "internal".into()));
}

#[test]
fn audit_anchors_at_the_ca_show_a_rewritten_shortened_rebuilt_or_hidden_log() {
    use siths_upgrade::audit::anchor::Anchor;
    use siths_upgrade::audit::{Action, AuditLog, Outcome, Record};
    // A second operator, to post into Märta's log.
    let env = Rig::with(|dir| make_operator(dir, SAMORDNING.hsa_id));
    let operator = env.legacy_client(OPERATOR.hsa_id);
    let record = |detail: &str| Record {
        operator: OPERATOR.hsa_id.into(),
        card_serial: "9752269000001002".into(),
        customer: OTHER_HOLDER.hsa_id.into(),
        action: Action::PukLookup,
        outcome: Outcome::Done,
        detail: detail.into(),
    };
    // The desk writes four entries and sends each one's anchor, as curl with the operator's
    // certificate.
    let path = env.file("audit.log");
    let mut log = AuditLog::open(&path).unwrap();
    let send = |anchor: &Anchor, cert: &Path| {
        let body = env.file("anchor.json");
        std::fs::write(&body, serde_json::to_vec(anchor).unwrap()).unwrap();
        env.curl(
            "/api/v1/audit-anchor",
            Some(cert),
            Some((&body, "application/json")),
        )
    };
    let mut anchors = Vec::new();
    for i in 1..=4 {
        let entry = log.append(record(&format!("ärende {i}"))).unwrap();
        let anchor = Anchor::for_entry(log.log_id().unwrap(), &entry);
        assert_eq!(send(&anchor, &operator).0, 200);
        anchors.push(anchor);
    }
    drop(log);
    // Resending is fine; another hash for a held entry, or a holder who is no operator, is not.
    assert_eq!(send(&anchors[1], &operator).0, 200);
    let other = Anchor {
        hash: "f".repeat(64),
        ..anchors[1].clone()
    };
    assert_eq!(
        refusal(send(&other, &operator)),
        (409, "anchor_conflict".into())
    );
    let holder = env.legacy_client(HOLDER.hsa_id);
    assert_eq!(
        refusal(send(&anchors[2], &holder)),
        (403, "not_operator".into())
    );
    let bad = Anchor {
        seq: 0,
        ..anchors[1].clone()
    };
    assert_eq!(refusal(send(&bad, &operator)), (400, "bad_anchor".into()));
    // The log is Märta's, at her desk: another operator, or she at another desk, cannot add to
    // it (a fifth entry that does not exist yet, so nothing else could refuse it).
    let fifth = Anchor {
        seq: 5,
        hash: "e".repeat(64),
        ..anchors[1].clone()
    };
    let intruder = env.legacy_client(SAMORDNING.hsa_id);
    assert_eq!(
        refusal(send(&fifth, &intruder)),
        (403, "log_of_another_operator".into())
    );
    let elsewhere = Anchor {
        desk: "another-desk".into(),
        ..fifth.clone()
    };
    assert_eq!(
        refusal(send(&elsewhere, &operator)),
        (403, "log_of_another_desk".into())
    );
    // Reading anchors takes an operator's login too.
    let list = format!("/api/v1/audit-anchors?log={}", anchors[0].log);
    assert_eq!(
        refusal(env.curl(&list, None, None)),
        (401, "no_client_certificate".into())
    );
    assert_eq!(
        refusal(env.curl(&list, Some(&env.legacy_client(HOLDER.hsa_id)), None)),
        (403, "not_operator".into())
    );
    assert_eq!(
        refusal(env.curl("/api/v1/audit-logs", None, None)),
        (401, "no_client_certificate".into())
    );

    let verify = |files: &[&Path]| audit_verify_with_card(&env, OPERATOR.hsa_id, files);
    let (code, text) = verify(&[&path]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("4 of them match"), "{text}");

    let original = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = original.lines().collect();
    // Rebuilt from entry 3 on with fresh hashes: the chain alone still verifies.
    let rebuilt = env.file("rebuilt.log");
    std::fs::write(&rebuilt, format!("{}\n{}\n", lines[0], lines[1])).unwrap();
    let mut forged = AuditLog::open(&rebuilt).unwrap();
    forged.append(record("inget hände")).unwrap();
    forged.append(record("inget hände")).unwrap();
    drop(forged);
    let plain = Command::new(env!("CARGO_BIN_EXE_siths-upgrade"))
        .args(["audit", "verify", s(&rebuilt)])
        .output()
        .unwrap();
    assert!(plain.status.success(), "the forged chain should pass alone");
    let (code, text) = verify(&[&rebuilt]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("rewritten") && text.contains("entry 3"),
        "{text}"
    );

    // Cut short by one entry.
    let short = env.file("short.log");
    std::fs::write(
        &short,
        format!("{}\n{}\n{}\n", lines[0], lines[1], lines[2]),
    )
    .unwrap();
    let (code, text) = verify(&[&short]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("shortened") && text.contains("entry 4"),
        "{text}"
    );

    // A log the CA never heard of (a rewritten first entry).
    let unknown = env.file("unknown.log");
    let mut other_log = AuditLog::open(&unknown).unwrap();
    other_log.append(record("ny logg")).unwrap();
    drop(other_log);
    let (code, text) = verify(&[&unknown]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("no anchor"), "{text}");

    // The whole log rebuilt from its first entry (a new id) and re-anchored by the same
    // operator: on its own it matches every anchor, but the CA still holds the old log.
    let full = env.file("full.log");
    let mut forged = AuditLog::open(&full).unwrap();
    for i in 1..=3 {
        let entry = forged
            .append(record(&format!("ärende {i}, inget hände")))
            .unwrap();
        let anchor = Anchor::for_entry(forged.log_id().unwrap(), &entry);
        assert_eq!(send(&anchor, &operator).0, 200);
    }
    drop(forged);
    let (code, text) = verify(&[&full]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("1 more audit log") && text.contains(&anchors[0].log),
        "{text}"
    );
    // Given together, both are accounted for.
    let (code, text) = verify(&[&path, &full]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("2 log(s), every one of them given"), "{text}");
}

/// Make `hsa_id` a service-centre operator in DIR's directory.
fn make_operator(dir: &MockDir, hsa_id: &str) {
    let text = std::fs::read_to_string(dir.persons_json()).unwrap();
    let mut persons: serde_json::Value = serde_json::from_str(&text).unwrap();
    let list = persons.as_array_mut().unwrap();
    for p in list {
        if p["hsa_id"] == hsa_id {
            p["operator"] = true.into();
        }
    }
    std::fs::write(dir.persons_json(), serde_json::to_vec(&persons).unwrap()).unwrap();
}

/// `audit verify --ca` as a process, logged in with `operator`'s virtual card from DIR (its
/// PIN1 on stdin): (exit code, stdout and stderr).
fn audit_verify_with_card(env: &Rig, operator: &str, files: &[&Path]) -> (Option<i32>, String) {
    use std::io::Write;
    let mut args = vec![
        "--virtual-card".to_string(),
        s(&env.dir.card_state(operator)).to_string(),
        "audit".into(),
        "verify".into(),
    ];
    args.extend(files.iter().map(|f| s(f).to_string()));
    args.extend([
        "--ca".into(),
        env.server().url(),
        "--ca-root".into(),
        s(&env.dir.root_pem()).into(),
        "--pin-stdin".into(),
    ]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_siths-upgrade"))
        .args(&args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pin = env.person(operator).pins.pin1.clone();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{pin}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// Issue 20, finding 6: entries the CA never received within a day fail `audit verify --ca`.
#[test]
fn entries_never_anchored_within_a_day_fail_audit_verify() {
    use siths_upgrade::audit::Entry;
    use siths_upgrade::audit::anchor::Anchor;
    use siths_upgrade::audit::{Action, AuditLog, Outcome, Record};
    let env = Rig::new();
    let operator = env.legacy_client(OPERATOR.hsa_id);
    let path = env.file("audit.log");
    let mut log = AuditLog::open(&path).unwrap();
    for i in 1..=3 {
        log.append(Record {
            operator: OPERATOR.hsa_id.into(),
            card_serial: "9752269000001002".into(),
            customer: OTHER_HOLDER.hsa_id.into(),
            action: Action::PukLookup,
            outcome: Outcome::Done,
            detail: format!("ärende {i}"),
        })
        .unwrap();
    }
    drop(log);
    // Entries 1 and 2 were written two days ago (the file as a desk offline since then would
    // hold it: a valid chain).
    let two_days_ago = siths_upgrade::pki::date::now_unix() - 2 * 86_400;
    let old = {
        let d = siths_upgrade::pki::Date::from_unix(two_days_ago);
        let t = two_days_ago.rem_euclid(86_400);
        format!("{d}T{:02}:{:02}:{:02}Z", t / 3600, t / 60 % 60, t % 60)
    };
    let mut entries: Vec<Entry> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut prev = siths_upgrade::audit::GENESIS.to_string();
    for (i, e) in entries.iter_mut().enumerate() {
        if i < 2 {
            e.time = old.clone();
        }
        e.prev = prev.clone();
        e.hash = e.compute_hash();
        prev = e.hash.clone();
    }
    let text: String = entries
        .iter()
        .map(|e| serde_json::to_string(e).unwrap() + "\n")
        .collect();
    std::fs::write(&path, text).unwrap();
    let send = |entry: &Entry| {
        let anchor = Anchor::for_entry(&entries[0].hash, entry);
        let body = env.file("anchor.json");
        std::fs::write(&body, serde_json::to_vec(&anchor).unwrap()).unwrap();
        env.curl(
            "/api/v1/audit-anchor",
            Some(&operator),
            Some((&body, "application/json")),
        )
        .0
    };
    assert_eq!(send(&entries[0]), 200);
    assert_eq!(send(&entries[2]), 200);
    let (code, text) = audit_verify_with_card(&env, OPERATOR.hsa_id, &[&path]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("entries 2 of the audit log") && text.contains("24 hours"),
        "{text}"
    );
    // Anchored late, it passes.
    assert_eq!(send(&entries[1]), 200);
    let (code, text) = audit_verify_with_card(&env, OPERATOR.hsa_id, &[&path]);
    assert_eq!(code, Some(0), "{text}");
}

/// A certificate of `profile` for the base client key from DIR's issuing CA, ending in `days`,
/// put into the store before the CA serves (as a card upgraded long ago would have it).
fn store_for_base_key(dir: &MockDir, hsa_id: &str, profile: Profile, days: i64) -> Vec<u8> {
    let not_after = siths_upgrade::pki::date::now_unix() + days * 86_400;
    store_for_base_key_until(dir, hsa_id, profile, not_after)
}

/// As [`store_for_base_key`], ending at `not_after` (unix seconds).
fn store_for_base_key_until(
    dir: &MockDir,
    hsa_id: &str,
    profile: Profile,
    not_after: i64,
) -> Vec<u8> {
    let person = dir.persons().unwrap().by_hsa_id(hsa_id).unwrap().clone();
    let ca = dir
        .load_ca(match profile.identity() {
            siths_upgrade::ca::IdentityKind::HsaId => CaName::Hsa3,
            siths_upgrade::ca::IdentityKind::Personnummer => CaName::Pnr3,
        })
        .unwrap();
    let mut request = person.cert_request(profile);
    request.not_after = Some(not_after);
    let der = ca.issue_person_cert(&request, &base().client_spki).unwrap();
    mock::store::Store::open(&dir.store())
        .unwrap()
        .insert(hsa_id, profile, &der)
        .unwrap();
    der
}

/// Issue 20, finding 4: a renewal only with the pair's current authentication certificate,
/// inside the renewal window, and it replaces the renewed certificate.
#[test]
fn renewal_is_bound_to_its_pair_and_window_and_replaces_the_old_certificate() {
    let mut der = Vec::new();
    let env = Rig::with(|dir| {
        der.push(store_for_base_key(dir, HOLDER.hsa_id, Profile::HsaAuth, 20));
        der.push(store_for_base_key(dir, HOLDER.hsa_id, Profile::HsaSign, 20));
        der.push(store_for_base_key(
            dir,
            HOLDER.hsa_id,
            Profile::PnrAuth,
            400,
        ));
        der.push(store_for_base_key(
            dir,
            HOLDER.hsa_id,
            Profile::PnrSign,
            400,
        ));
    });
    let write = |name: &str, der: &[u8]| {
        let path = env.file(name);
        std::fs::write(&path, pem("CERTIFICATE", der)).unwrap();
        path
    };
    let hsa_auth = write("hsa-auth-old.pem", &der[0]);
    let pnr_auth = write("pnr-auth-old.pem", &der[2]);
    let old_serial = CertInfo::from_der(&der[0]).unwrap().serial_hex;
    let legacy = env.legacy_client(HOLDER.hsa_id);
    let hsa_csr = |name: &str| env.csr(name, 2048, &format!("/CN={}", HOLDER.given_name()));

    // The legacy card certificate renews nothing, nor does another pair's certificate.
    let k1 = hsa_csr("k1");
    assert_eq!(
        refusal(env.reenroll("hsa-auth", &legacy, &k1)),
        (403, "renew_with_pair_certificate".into())
    );
    assert_eq!(
        refusal(env.reenroll("pnr-sign", &hsa_auth, &k1)),
        (403, "renew_with_pair_certificate".into())
    );
    // The personnummer pair is not due: its own login certificate may not renew it yet.
    let (status, body) = env.reenroll("pnr-sign", &pnr_auth, &k1);
    let message = json(&body)["message"].as_str().unwrap_or("").to_string();
    assert_eq!(refusal((status, body)), (403, "renewal_not_due".into()));
    assert!(message.contains("30 days"), "{message}");
    assert_eq!(env.server().enrolments_for(HOLDER.hsa_id), 4);

    // The due HSA-id pair renews with its own authentication certificate.
    let (status, renewed) = env.reenroll("hsa-auth", &hsa_auth, &k1);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&renewed));
    let new_auth =
        CertInfo::from_pem(&std::fs::read_to_string(env.read_back("new-auth", &renewed)).unwrap())
            .unwrap();
    assert!(new_auth.days_left(siths_upgrade::pki::date::now_unix()) > 1000);
    // The old one is replaced: the CA lists only the new one.
    let listed = |cert: &Path| {
        let list = json(&env.curl("/api/v1/certificates", Some(cert), None).1);
        list["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["label"] == "hsa-auth")
            .map(|c| c["serial"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(listed(&legacy), vec![new_auth.serial_hex.clone()]);
    assert!(!listed(&legacy).contains(&old_serial));
    // The same key again (a resumed renewal): the same certificate, nothing new.
    assert_eq!(
        env.reenroll("hsa-auth", &hsa_auth, &k1),
        (200, renewed.clone())
    );
    // The replaced login finishes its pair: the signature certificate, once.
    let k2 = hsa_csr("k2");
    assert_eq!(env.reenroll("hsa-sign", &hsa_auth, &k2).0, 200);
    assert_eq!(
        refusal(env.reenroll("hsa-sign", &hsa_auth, &hsa_csr("k3"))),
        (403, "login_replaced".into())
    );
    assert_eq!(
        refusal(env.reenroll("hsa-auth", &hsa_auth, &hsa_csr("k4"))),
        (403, "login_replaced".into())
    );
    // The new authentication certificate logs in, and is not due.
    let new_login = env.answer_pem("new-login", &renewed);
    let new_login_key_cert = {
        // The renewal certified k1's key: log in with it.
        let (cert, key) = (new_login, env.file("k1.key"));
        let out = env.curl_raw("/api/v1/me", Some(&cert), Some(&key), None);
        assert!(out.status.success());
        (cert, key)
    };
    let out = env.curl_raw(
        "/.well-known/est/hsa-auth/simplereenroll",
        Some(&new_login_key_cert.0),
        Some(&new_login_key_cert.1),
        Some((&hsa_csr("k5"), "application/pkcs10")),
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "403");
    assert_eq!(
        json(&std::fs::read(env.file("body")).unwrap())["error"],
        "renewal_not_due"
    );
    // Two renewals stored, one current certificate per profile.
    assert_eq!(env.server().enrolments_for(HOLDER.hsa_id), 6);
}

/// Issue 20, finding 4: one current certificate per holder and profile.
#[test]
fn a_second_key_gets_no_second_certificate_for_one_profile() {
    let env = Rig::new();
    let legacy = env.legacy_client(HOLDER.hsa_id);
    let first = env.csr("first", 2048, &format!("/CN={}", HOLDER.given_name()));
    let (status, answer) = env.enroll("hsa-auth", &legacy, &first);
    assert_eq!(status, 200);
    for name in ["second", "third"] {
        let other = env.csr(name, 2048, &format!("/CN={}", HOLDER.given_name()));
        let (status, body) = env.enroll("hsa-auth", &legacy, &other);
        let message = json(&body)["message"].as_str().unwrap_or("").to_string();
        assert_eq!(refusal((status, body)), (409, "already_enrolled".into()));
        assert!(message.contains("simplereenroll"), "{message}");
    }
    // The first key again: its certificate, as a resumed upgrade needs.
    assert_eq!(env.enroll("hsa-auth", &legacy, &first), (200, answer));
    assert_eq!(env.server().enrolments_for(HOLDER.hsa_id), 1);
    let list = json(&env.curl("/api/v1/certificates", Some(&legacy), None).1);
    assert_eq!(list["certificates"].as_array().unwrap().len(), 1);
}

/// Issue 20, finding 5: an operator's certificate alone gets no PUK; the lookup needs a fresh
/// challenge of the CA and what the desk read from the customer's own card.
#[test]
fn a_puk_needs_the_customers_card_and_a_fresh_challenge() {
    let env = Rig::with_limits(mock::Limits {
        puk_lookups: mock::RateLimit {
            max: 100,
            window: std::time::Duration::from_secs(3600),
        },
        ..mock::Limits::default()
    });
    let operator = env.legacy_client(OPERATOR.hsa_id);
    let persons = env.dir.persons().unwrap();
    let puks: Vec<String> = persons
        .persons()
        .iter()
        .map(|p| p.pins.puk.clone())
        .collect();
    let leaks = |body: &[u8]| {
        let text = String::from_utf8_lossy(body);
        puks.iter().any(|puk| text.contains(puk.as_str()))
    };
    // Ten holders harvested with curl and the operator's certificate only: without a
    // challenge, then with one but nothing from the customer's card.
    let others: Vec<&Person> = persons
        .persons()
        .iter()
        .filter(|p| p.hsa_id != OPERATOR.hsa_id)
        .take(10)
        .collect();
    assert_eq!(others.len(), 10);
    for person in &others {
        let bare = env.lookup_with(
            &operator,
            &serde_json::json!({"hsa_id": person.hsa_id, "reason": "ärende 1"}),
        );
        assert!(!leaks(&bare.1));
        assert_eq!(refusal(bare), (403, "bad_challenge".into()));
        let (status, body) = env.challenge(&operator, &person.hsa_id);
        assert_eq!(status, 200);
        let challenge = json(&body)["challenge"].as_str().unwrap().to_string();
        let r = env.lookup_with(
            &operator,
            &serde_json::json!({"hsa_id": person.hsa_id, "reason": "ärende 1", "challenge": challenge}),
        );
        assert!(!leaks(&r.1));
        assert_eq!(refusal(r), (403, "customer_card_not_shown".into()));
    }
    let fresh = |customer: &str| {
        let (_, body) = env.challenge(&operator, customer);
        json(&body)["challenge"].as_str().unwrap().to_string()
    };
    let (tolvan_cert, tolvan_serial) = env.card_evidence(OTHER_HOLDER.hsa_id);
    let (karin_cert, karin_serial) = env.card_evidence(HOLDER.hsa_id);
    let ask = |challenge: &str, cert: &str, serial: &str| {
        env.lookup_with(
            &operator,
            &serde_json::json!({
                "hsa_id": OTHER_HOLDER.hsa_id, "reason": "ärende 2", "challenge": challenge,
                "customer_certificate": cert, "card_serial": serial,
            }),
        )
    };
    // Karin's card for Tolvan's PUK; Tolvan's certificate with another card's serial.
    assert_eq!(
        refusal(ask(&fresh(OTHER_HOLDER.hsa_id), &karin_cert, &karin_serial)),
        (403, "customer_card_not_shown".into())
    );
    assert_eq!(
        refusal(ask(
            &fresh(OTHER_HOLDER.hsa_id),
            &tolvan_cert,
            &karin_serial
        )),
        (403, "customer_card_not_shown".into())
    );
    // A challenge issued for another customer, or spent already.
    assert_eq!(
        refusal(ask(&fresh(HOLDER.hsa_id), &tolvan_cert, &tolvan_serial)),
        (403, "bad_challenge".into())
    );
    let challenge = fresh(OTHER_HOLDER.hsa_id);
    let (status, body) = ask(&challenge, &tolvan_cert, &tolvan_serial);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        json(&body)["puk"],
        env.person(OTHER_HOLDER.hsa_id).pins.puk.as_str()
    );
    assert_eq!(
        refusal(ask(&challenge, &tolvan_cert, &tolvan_serial)),
        (403, "bad_challenge".into())
    );
    // A challenge is for operators only, and needs a login.
    assert_eq!(
        refusal(env.challenge(&env.legacy_client(HOLDER.hsa_id), OTHER_HOLDER.hsa_id)),
        (403, "not_operator".into())
    );
    let file = env.file("c.json");
    std::fs::write(&file, format!(r#"{{"hsa_id": "{}"}}"#, OTHER_HOLDER.hsa_id)).unwrap();
    assert_eq!(
        refusal(env.curl(
            "/api/v1/puk-challenge",
            None,
            Some((&file, "application/json"))
        )),
        (401, "no_client_certificate".into())
    );
    // One PUK left the CA, and its lookup is the only one logged.
    let log = std::fs::read_to_string(env.dir.puk_log()).unwrap();
    assert_eq!(puk_log_lines(&env, "lookup").len(), 1, "{log}");
}

/// Issue 20, finding 8: a level-2 certificate logs in for what concerns its holder, and gets
/// no level-3 certificate nor does service-centre work.
#[test]
fn a_level_2_certificate_logs_in_but_gets_nothing_at_level_3() {
    let env = Rig::new();
    let karin = env.person(HOLDER.hsa_id);
    let level2 = env.client_cert(CaName::Hsa2, &karin, HOLDER.hsa_id);
    assert_eq!(env.curl("/api/v1/me", Some(&level2), None).0, 200);
    assert_eq!(env.curl("/api/v1/certificates", Some(&level2), None).0, 200);
    let csr = env.csr("l2", 2048, &format!("/CN={}", HOLDER.given_name()));
    for label in ["hsa-auth", "hsa-sign", "pnr-auth", "pnr-sign"] {
        assert_eq!(
            refusal(env.enroll(label, &level2, &csr)),
            (403, "trust_level_too_low".into()),
            "{label}"
        );
        assert_eq!(
            refusal(env.reenroll(label, &level2, &csr)),
            (403, "trust_level_too_low".into()),
            "{label}"
        );
    }
    assert_eq!(env.server().enrolments_for(HOLDER.hsa_id), 0);
    let marta = env.person(OPERATOR.hsa_id);
    let operator2 = env.client_cert(CaName::Hsa2, &marta, OPERATOR.hsa_id);
    assert_eq!(
        refusal(env.challenge(&operator2, OTHER_HOLDER.hsa_id)),
        (403, "trust_level_too_low".into())
    );
    assert_eq!(
        refusal(env.curl(
            &format!("/api/v1/audit-anchors?log={}", "a".repeat(64)),
            Some(&operator2),
            None
        )),
        (403, "trust_level_too_low".into())
    );
    // The same holders at level 3 (the legacy card certificate) are served.
    assert_eq!(
        env.enroll("hsa-auth", &env.legacy_client(HOLDER.hsa_id), &csr)
            .0,
        200
    );
}

/// Connect to `addr` from the local address `from` (another loopback address than the
/// server's other clients, so the CA sees another client).
fn connect_from(from: &str, addr: std::net::SocketAddr) -> std::net::TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let local: std::net::SocketAddr = format!("{from}:0").parse().unwrap();
    socket.bind(&local.into()).unwrap();
    socket.connect(&addr.into()).unwrap();
    socket.into()
}

/// Issue 20, finding 7: one client holding 800 idle connections must not keep another waiting.
#[test]
fn one_client_holding_many_idle_connections_does_not_keep_another_waiting() {
    use std::time::Duration;
    room_for_open_files(4096);
    // A long handshake deadline: the idle connections would all be held for a minute.
    let env = Rig::with_limits(mock::Limits {
        handshake: Duration::from_secs(60),
        ..mock::Limits::default()
    });
    let idle: Vec<std::net::TcpStream> = (0..800)
        .map(|_| connect_from("127.0.0.2", env.server().addr()))
        .collect();
    // Served, from 127.0.0.1 (curl's --max-time only guards against a hang).
    assert_eq!(cacerts_within(&env, 30), (200, Some(0)));
    // The hog keeps at most its share_virtual_card; the rest of its connections were closed.
    let per_client = mock::Limits::default().per_client;
    let mut open = idle;
    for stream in &open {
        stream
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        open.retain_mut(|s| !closed_within(s, Duration::from_secs(60)));
        if open.len() <= per_client || std::time::Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(open.len(), per_client, "connections the one client kept");
}

mod routing_properties {
    //! The CA's request routing (issue 12, item 14): any method, path and body, with or
    //! without a client certificate, gets an answer with a known status and, when refused, a
    //! JSON body with a code and a message. Straight to the handler, no TLS.

    use super::*;
    use proptest::prelude::*;
    use siths_upgrade::ca::mock::api::{Ca, Request};

    fn ca() -> &'static Ca {
        static CA: OnceLock<(tempfile::TempDir, Ca)> = OnceLock::new();
        let (_, ca) = CA.get_or_init(|| {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("ca");
            support::files::copy_dir(world(), &dir);
            let ca = Ca::load(&MockDir::new(&dir)).unwrap();
            (tmp, ca)
        });
        ca
    }

    fn operator_cert() -> &'static Vec<u8> {
        static CERT: OnceLock<Vec<u8>> = OnceLock::new();
        CERT.get_or_init(|| {
            let md = MockDir::new(world());
            let person = md
                .persons()
                .unwrap()
                .by_hsa_id(OPERATOR.hsa_id)
                .unwrap()
                .clone();
            issue_client(
                &md.load_ca(CaName::Legacy).unwrap(),
                &person,
                OPERATOR.hsa_id,
            )
        })
    }

    fn method() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("GET".to_string()),
            Just("POST".to_string()),
            Just("PUT".to_string()),
            Just("DELETE".to_string()),
            "[A-Z]{0,8}",
        ]
    }

    fn path() -> impl Strategy<Value = String> {
        let segment = prop_oneof![
            Just(".well-known".to_string()),
            Just("est".to_string()),
            Just("api".to_string()),
            Just("v1".to_string()),
            Just("hsa-auth".to_string()),
            Just("pnr-sign".to_string()),
            Just("cacerts".to_string()),
            Just("simpleenroll".to_string()),
            Just("me".to_string()),
            Just("certificates".to_string()),
            Just("puk-lookup".to_string()),
            Just("audit-anchor".to_string()),
            Just("audit-anchors".to_string()),
            ".{0,12}",
        ];
        (
            proptest::collection::vec(segment, 0..6),
            proptest::option::of(".{0,80}"),
        )
            .prop_map(|(segments, query)| {
                let mut p = format!("/{}", segments.join("/"));
                if let Some(q) = query {
                    p.push('?');
                    p.push_str(&q);
                }
                p
            })
    }

    fn body() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..200),
            Just(
                format!(
                    r#"{{"hsa_id": "{}", "reason": "test"}}"#,
                    OTHER_HOLDER.hsa_id
                )
                .into_bytes()
            ),
            Just(br#"{"log": "x", "seq": 1, "hash": "y", "action": "z"}"#.to_vec()),
            "[A-Za-z0-9+/=\r\n]{0,200}".prop_map(String::into_bytes),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn any_request_gets_a_known_answer(
            method in method(),
            path in path(),
            body in body(),
            cert in proptest::option::of(prop_oneof![
                Just(true),
                Just(false),
            ]),
        ) {
            let garbage = b"\x30\x03\x02\x01\x00".to_vec();
            let client_cert = cert.map(|operator| if operator { operator_cert().as_slice() } else { garbage.as_slice() });
            let reply = ca().handle(&Request { method: &method, path: &path, client_cert, content_type: None, body: &body });
            prop_assert!(
                [200, 400, 401, 403, 404, 405, 409, 429].contains(&reply.status),
                "{method} {path} -> {}", reply.status
            );
            if reply.status != 200 {
                let v: serde_json::Value = serde_json::from_slice(&reply.body)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert!(v["error"].as_str().is_some_and(|c| !c.is_empty()));
                prop_assert!(v["message"].as_str().is_some_and(|m| m.len() > 10));
            }
        }
    }
}

#[test]
fn a_standard_est_client_gets_what_rfc_7030_promises() {
    // Karin's personnummer authentication certificate, due for renewal, for the base key.
    let mut due = Vec::new();
    let env = Rig::with(|dir| due = store_for_base_key(dir, HOLDER.hsa_id, Profile::PnrAuth, 20));
    let client = env.legacy_client(HOLDER.hsa_id);

    // cacerts without a label: the default CA's set, every CA this CA stands behind, which
    // openssl reads as a certs-only PKCS#7 and which chains a legacy certificate to the root.
    let (status, body) = env.curl("/.well-known/est/cacerts", None, None);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let all = env.file("all-cas.pem");
    {
        let b64 = env.file("all.p7.b64");
        std::fs::write(&b64, &body).unwrap();
        let p7 = env.file("all.p7");
        std::fs::write(&p7, run("base64", &["-d", s(&b64)]).stdout).unwrap();
        let out = openssl(&[
            "pkcs7",
            "-inform",
            "DER",
            "-in",
            s(&p7),
            "-print_certs",
            "-out",
            s(&all),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let listed = std::fs::read_to_string(&all).unwrap();
    for cn in [
        "TEST SITHS e-id Root CA v2",
        "TEST SITHS e-id Person HSA-id 3 CA v1",
        "TEST SITHS e-id Person ID 3 CA v1",
        "TEST SITHS Type 1 CA v1",
    ] {
        assert!(listed.contains(cn), "{cn} missing from cacerts: {listed}");
    }
    let verify = openssl(&[
        "verify",
        "-CAfile",
        s(&env.dir.root_pem()),
        "-untrusted",
        s(&all),
        s(&client),
    ]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );

    // csrattrs: what a request should hold, as DER that openssl parses: RSA 2048 with
    // SHA-256, and the subject attributes this CA fills in itself.
    let (status, body) = env.curl("/.well-known/est/hsa-auth/csrattrs", None, None);
    assert_eq!(status, 200);
    let attrs = env.file("csrattrs.der");
    let b64 = env.file("csrattrs.b64");
    std::fs::write(&b64, &body).unwrap();
    std::fs::write(&attrs, run("base64", &["-d", s(&b64)]).stdout).unwrap();
    let parsed = openssl(&["asn1parse", "-inform", "DER", "-in", s(&attrs)]);
    let text = String::from_utf8_lossy(&parsed.stdout);
    assert!(parsed.status.success(), "{text}");
    assert!(text.contains("sha256WithRSAEncryption"), "{text}");
    assert!(text.contains("rsaEncryption"), "{text}");
    assert!(text.contains(":0800"), "the key size 2048: {text}");
    assert!(
        text.contains("serialNumber") && text.contains("commonName"),
        "{text}"
    );

    // simpleenroll with the wrong media type: 415, and nothing issued.
    let csr = env.csr("std", 2048, "/CN=whatever");
    let (status, body) = env.curl(
        "/.well-known/est/hsa-auth/simpleenroll",
        Some(&client),
        Some((&csr, "text/plain")),
    );
    assert_eq!(
        refusal((status, body)),
        (415, "unsupported_media_type".into())
    );
    assert_eq!(env.server().enrolments_for(HOLDER.hsa_id), 1);

    // simplereenroll: the legacy card certificate renews nothing ...
    let (status, body) = env.curl(
        "/.well-known/est/hsa-auth/simplereenroll",
        Some(&client),
        Some((&csr, "application/pkcs10")),
    );
    assert_eq!(
        refusal((status, body)),
        (403, "renew_with_pair_certificate".into())
    );
    // ... the pair's due authentication certificate renews itself into a new certificate.
    let first = env.file("first.pem");
    std::fs::write(&first, pem("CERTIFICATE", &due)).unwrap();
    let fresh = env.csr(
        "renewed",
        2048,
        &format!("/serialNumber={}", HOLDER.personnummer),
    );
    let (status, renewed) = env.curl(
        "/.well-known/est/pnr-auth/simplereenroll",
        Some(&first),
        Some((&fresh, "application/pkcs10")),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&renewed));
    let renewed = env.read_back("renewed", &renewed);
    let (a, b) = (
        CertInfo::from_pem(&std::fs::read_to_string(&first).unwrap()).unwrap(),
        CertInfo::from_pem(&std::fs::read_to_string(renewed).unwrap()).unwrap(),
    );
    assert_ne!(a.serial_hex, b.serial_hex);
    assert_eq!(
        b.subject.serial_number.as_deref(),
        Some(HOLDER.personnummer)
    );
    let (status, body) = env.curl(
        "/.well-known/est/pnr-auth/simplereenroll",
        Some(&first),
        Some((&fresh, "application/json")),
    );
    assert_eq!(
        refusal((status, body)),
        (415, "unsupported_media_type".into())
    );
}

/// `YYYY-MM-DDTHH:MM:SSZ` of unix seconds, as the CA writes times.
fn utc(unix: i64) -> String {
    let date = siths_upgrade::pki::Date::from_unix(unix);
    let secs = unix.rem_euclid(86_400);
    format!(
        "{date}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// A certificate file (PEM) holding `der`.
fn cert_file(env: &Rig, name: &str, der: &[u8]) -> PathBuf {
    let path = env.file(name);
    std::fs::write(&path, pem("CERTIFICATE", der)).unwrap();
    path
}

/// A base64 DER CSR by openssl for the base client key (the key the stored certificates of
/// [`store_for_base_key`] certify).
fn csr_for_base_key(env: &Rig, name: &str) -> PathBuf {
    let der = env.file(&format!("{name}.der"));
    openssl(&[
        "req",
        "-new",
        "-key",
        s(&base().client_key),
        "-subj",
        &format!("/CN={}", HOLDER.given_name()),
        "-outform",
        "DER",
        "-out",
        s(&der),
    ]);
    env.base64_file(&der)
}

/// `curl` logged in with `cert` and its `key`: (HTTP status, body).
fn curl_with_key(
    env: &Rig,
    path: &str,
    cert: &Path,
    key: &Path,
    post: Option<(&Path, &str)>,
) -> (u16, Vec<u8>) {
    let out = env.curl_raw(path, Some(cert), Some(key), post);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    (status, std::fs::read(env.file("body")).unwrap_or_default())
}

/// Review of the CA mock, finding 1: asking for a PUK challenge is how every lookup starts, so
/// the per-operator limit counts challenges, found or not (probing HSA-ids costs the same), each
/// one is in the lookup log, and expired ones leave the store.
#[test]
fn puk_challenges_count_against_the_limit_and_are_logged_found_or_not() {
    use mock::store::Store;
    let now = siths_upgrade::pki::date::now_unix();
    let limits = mock::Limits {
        puk_lookups: mock::RateLimit {
            max: 3,
            window: std::time::Duration::from_secs(3600),
        },
        ..mock::Limits::default()
    };
    // Two challenges of the day that nobody spent, expired a minute and an hour ago.
    let env = Rig::builder()
        .limits(limits)
        .prepare(|dir| {
            let store = Store::open(&dir.store()).unwrap();
            for (name, expired) in [("a", 60), ("b", 3600)] {
                store
                    .add_challenge(
                        &name.repeat(64),
                        OPERATOR.hsa_id,
                        OTHER_HOLDER.hsa_id,
                        now - expired,
                        now - 4000,
                    )
                    .unwrap();
            }
            assert_eq!(store.challenges().unwrap(), 2);
        })
        .start();
    let operator = env.legacy_client(OPERATOR.hsa_id);
    // Probing two HSA-ids nobody has, then a real one: each counts.
    for probe in [UNKNOWN_2, UNKNOWN] {
        assert_eq!(
            refusal(env.challenge(&operator, probe)),
            (404, "unknown_person".into())
        );
    }
    let (status, body) = env.challenge(&operator, OTHER_HOLDER.hsa_id);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let challenge = json(&body)["challenge"].as_str().unwrap().to_string();
    // The fourth request is over the limit, for a real holder too.
    let (status, body) = env.challenge(&operator, HOLDER.hsa_id);
    let message = json(&body)["message"].as_str().unwrap().to_string();
    assert_eq!(refusal((status, body)), (429, "too_many_lookups".into()));
    assert!(message.contains("challenges"), "{message}");

    // Each request that was answered is on record: who asked about whom, and whether that
    // holder exists.
    let lines = puk_log_lines(&env, "challenge");
    let seen: Vec<(String, String, bool)> = lines
        .iter()
        .map(|l| {
            (
                l["operator"].as_str().unwrap().to_string(),
                l["customer"].as_str().unwrap().to_string(),
                l["found"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (OPERATOR.hsa_id.into(), UNKNOWN_2.into(), false),
            (OPERATOR.hsa_id.into(), UNKNOWN.into(), false),
            (OPERATOR.hsa_id.into(), OTHER_HOLDER.hsa_id.into(), true),
        ]
    );
    assert!(
        lines
            .iter()
            .all(|l| l["time"].as_str().unwrap().ends_with('Z'))
    );

    // The store holds the one open challenge: the expired ones are gone, the refused request
    // left nothing.
    let store = Store::open(&env.dir.store()).unwrap();
    assert_eq!(store.challenges().unwrap(), 1);

    // The lookup the challenge was for is not counted a second time.
    let (cert, serial) = env.card_evidence(OTHER_HOLDER.hsa_id);
    let (status, body) = env.lookup_with(
        &operator,
        &serde_json::json!({
            "hsa_id": OTHER_HOLDER.hsa_id, "reason": "ärende 4711", "challenge": challenge,
            "customer_certificate": cert, "card_serial": serial,
        }),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(puk_log_lines(&env, "lookup").len(), 1);
}

/// Review of the CA mock, finding 8: a lookup that names someone else's challenge, or the
/// challenge for another customer, does not spend it.
#[test]
fn a_challenge_is_spent_only_by_the_lookup_it_was_issued_for() {
    const OTHER_OPERATOR: &str = SAMORDNING.hsa_id;
    let env = Rig::with(|dir| make_operator(dir, OTHER_OPERATOR));
    let marta = env.legacy_client(OPERATOR.hsa_id);
    let other = env.legacy_client(OTHER_OPERATOR);
    let (status, body) = env.challenge(&marta, OTHER_HOLDER.hsa_id);
    assert_eq!(status, 200);
    let challenge = json(&body)["challenge"].as_str().unwrap().to_string();
    let (cert, serial) = env.card_evidence(OTHER_HOLDER.hsa_id);
    let lookup = |operator: &Path, customer: &str| {
        env.lookup_with(
            operator,
            &serde_json::json!({
                "hsa_id": customer, "reason": "ärende 4711", "challenge": challenge,
                "customer_certificate": cert, "card_serial": serial,
            }),
        )
    };
    // Another operator holding the string, and Märta for another customer: refused.
    let (status, body) = lookup(&other, OTHER_HOLDER.hsa_id);
    let message = json(&body)["message"].as_str().unwrap().to_string();
    assert_eq!(refusal((status, body)), (403, "bad_challenge".into()));
    assert!(
        message.contains("another operator or customer"),
        "{message}"
    );
    assert_eq!(
        refusal(lookup(&marta, HOLDER.hsa_id)),
        (403, "bad_challenge".into())
    );
    // The challenge is still good for its own lookup, once.
    let (status, body) = lookup(&marta, OTHER_HOLDER.hsa_id);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        json(&body)["puk"],
        env.person(OTHER_HOLDER.hsa_id).pins.puk.as_str()
    );
    let (status, body) = lookup(&marta, OTHER_HOLDER.hsa_id);
    let message = json(&body)["message"].as_str().unwrap().to_string();
    assert_eq!(refusal((status, body)), (403, "bad_challenge".into()));
    assert!(message.contains("used already"), "{message}");
}

/// Review of the CA mock, finding 9: a holder who is no operator is told what each path is
/// for, not that only operators look up PUKs.
#[test]
fn not_operator_says_what_each_path_is_for() {
    use siths_upgrade::audit::anchor::Anchor;
    let env = Rig::new();
    let holder = env.legacy_client(HOLDER.hsa_id);
    let body = env.file("body.json");
    let anchor = Anchor {
        log: "a".repeat(64),
        seq: 1,
        hash: "a".repeat(64),
        action: "identity-check".into(),
        desk: "desk-1".into(),
    };
    let message = |r: (u16, Vec<u8>)| {
        let text = json(&r.1)["message"].as_str().unwrap_or("").to_string();
        assert_eq!(refusal(r), (403, "not_operator".into()));
        text
    };
    std::fs::write(
        &body,
        format!(r#"{{"hsa_id": "{}", "reason": "x"}}"#, OTHER_HOLDER.hsa_id),
    )
    .unwrap();
    let challenge = message(env.curl(
        "/api/v1/puk-challenge",
        Some(&holder),
        Some((&body, "application/json")),
    ));
    assert!(challenge.contains("PUK challenge"), "{challenge}");
    let lookup = message(env.curl(
        "/api/v1/puk-lookup",
        Some(&holder),
        Some((&body, "application/json")),
    ));
    assert!(lookup.contains("looking up a PUK"), "{lookup}");
    std::fs::write(&body, serde_json::to_vec(&anchor).unwrap()).unwrap();
    let audit = [
        message(env.curl(
            "/api/v1/audit-anchor",
            Some(&holder),
            Some((&body, "application/json")),
        )),
        message(env.curl(
            &format!("/api/v1/audit-anchors?log={}", anchor.log),
            Some(&holder),
            None,
        )),
        message(env.curl("/api/v1/audit-logs", Some(&holder), None)),
    ];
    for text in &audit {
        assert!(
            text.contains("audit log") && !text.contains("PUK"),
            "{text}"
        );
        assert!(text.contains("service-centre operators"), "{text}");
    }
    assert!(audit[0].contains("anchoring"), "{}", audit[0]);
}

/// Review of the CA mock, finding 4: an operator's certificate that a renewal replaced does
/// no service-centre work (as a customer's replaced certificate gets no PUK).
#[test]
fn an_operators_certificate_a_renewal_replaced_does_no_service_centre_work() {
    use siths_upgrade::audit::anchor::Anchor;
    let mut old = Vec::new();
    let env = Rig::with(|dir| {
        old = store_for_base_key(dir, OPERATOR.hsa_id, Profile::HsaAuth, 20);
    });
    let old = cert_file(&env, "marta-old.pem", &old);
    // Before the renewal her certificate does the work.
    assert_eq!(env.challenge(&old, OTHER_HOLDER.hsa_id).0, 200);
    let csr = env.csr("marta-new", 2048, "/CN=Marta");
    let (status, renewed) = env.reenroll("hsa-auth", &old, &csr);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&renewed));
    let new = env.answer_pem("marta-new-cert", &renewed);
    let new_key = env.file("marta-new.key");

    let body = env.file("anchor.json");
    let anchor = Anchor {
        log: "c".repeat(64),
        seq: 1,
        hash: "c".repeat(64),
        action: "identity-check".into(),
        desk: "desk-1".into(),
    };
    std::fs::write(&body, serde_json::to_vec(&anchor).unwrap()).unwrap();
    let replaced = |r: (u16, Vec<u8>)| {
        let text = json(&r.1)["message"].as_str().unwrap_or("").to_string();
        assert_eq!(refusal(r), (403, "login_replaced".into()));
        assert!(text.contains("log in with the new one"), "{text}");
    };
    replaced(env.challenge(&old, OTHER_HOLDER.hsa_id));
    replaced(env.curl(
        "/api/v1/audit-anchor",
        Some(&old),
        Some((&body, "application/json")),
    ));
    replaced(env.curl(
        &format!("/api/v1/audit-anchors?log={}", anchor.log),
        Some(&old),
        None,
    ));
    replaced(env.curl("/api/v1/audit-logs", Some(&old), None));
    // The new certificate does it.
    let ask = env.file("challenge-new.json");
    std::fs::write(&ask, format!(r#"{{"hsa_id": "{}"}}"#, OTHER_HOLDER.hsa_id)).unwrap();
    let (status, body) = curl_with_key(
        &env,
        "/api/v1/puk-challenge",
        &new,
        &new_key,
        Some((&ask, "application/json")),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        curl_with_key(&env, "/api/v1/audit-logs", &new, &new_key, None).0,
        200
    );
}

/// Review of the CA mock, finding 2: a renewal with the key of the certificate it renews is
/// refused (nothing was renewed); the key of a renewal already issued gets that renewal back.
#[test]
fn a_renewal_needs_a_new_key_and_a_resumed_one_gets_its_certificate_back() {
    let mut der = Vec::new();
    let env = Rig::with(|dir| {
        der.push(store_for_base_key(dir, HOLDER.hsa_id, Profile::HsaAuth, 20));
        der.push(store_for_base_key(dir, HOLDER.hsa_id, Profile::HsaSign, 20));
    });
    let old_auth = cert_file(&env, "old-auth.pem", &der[0]);
    let same_key = csr_for_base_key(&env, "same-key");
    for label in ["hsa-auth", "hsa-sign"] {
        let (status, body) = env.reenroll(label, &old_auth, &same_key);
        let message = json(&body)["message"].as_str().unwrap_or("").to_string();
        assert_eq!(
            refusal((status, body)),
            (409, "renewal_needs_new_key".into()),
            "{label}"
        );
        assert!(message.contains("make a new key"), "{message}");
    }
    assert_eq!(env.server().enrolments_for(HOLDER.hsa_id), 2);
    let listed = json(&env.curl("/api/v1/certificates", Some(&old_auth), None).1);
    assert_eq!(listed["certificates"].as_array().unwrap().len(), 2);

    // New keys renew; the same new key again gets the same renewal (a resumed run).
    let k1 = env.csr("k1", 2048, &format!("/CN={}", HOLDER.given_name()));
    let (status, auth) = env.reenroll("hsa-auth", &old_auth, &k1);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&auth));
    assert_eq!(
        env.reenroll("hsa-auth", &old_auth, &k1),
        (200, auth.clone())
    );
    let k2 = env.csr("k2", 2048, &format!("/CN={}", HOLDER.given_name()));
    let (status, sign) = env.reenroll("hsa-sign", &old_auth, &k2);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&sign));
    assert_eq!(
        env.reenroll("hsa-sign", &old_auth, &k2),
        (200, sign.clone())
    );
    // Resumed after logging in with the new authentication certificate (the old pair already
    // removed from the card): the signature renewal of that run comes back too.
    let new_auth = env.answer_pem("new-auth", &auth);
    let k1_key = env.file("k1.key");
    let reenroll_new = |label: &str, csr: &Path| {
        curl_with_key(
            &env,
            &format!("/.well-known/est/{label}/simplereenroll"),
            &new_auth,
            &k1_key,
            Some((csr, "application/pkcs10")),
        )
    };
    assert_eq!(reenroll_new("hsa-sign", &k2), (200, sign));
    // But the new certificate's own key renews nothing.
    assert_eq!(
        refusal(reenroll_new("hsa-auth", &k1)),
        (409, "renewal_needs_new_key".into())
    );
    assert_eq!(env.server().enrolments_for(HOLDER.hsa_id), 4);
}

/// Review of the CA mock, finding 3: the renewal window opens when the whole days left, rounded
/// down, reach 30 (just after `not_after` − 31 days), and the refusal names that moment, of the
/// login certificate's window too when it opens first.
#[test]
fn the_renewal_window_opens_when_its_refusal_says() {
    let now = siths_upgrade::pki::date::now_unix();
    let day = 86_400;
    let hsa_end = now + 31 * day + 3600;
    let pnr_auth_end = now + 100 * day;
    let pnr_sign_end = now + 400 * day;
    let tolvan_end = now + 30 * day + 12 * 3600;
    let mut der = Vec::new();
    let env = Rig::with(|dir| {
        der.push(store_for_base_key_until(
            dir,
            HOLDER.hsa_id,
            Profile::HsaAuth,
            hsa_end,
        ));
        der.push(store_for_base_key_until(
            dir,
            HOLDER.hsa_id,
            Profile::PnrAuth,
            pnr_auth_end,
        ));
        der.push(store_for_base_key_until(
            dir,
            HOLDER.hsa_id,
            Profile::PnrSign,
            pnr_sign_end,
        ));
        der.push(store_for_base_key_until(
            dir,
            OTHER_HOLDER.hsa_id,
            Profile::HsaAuth,
            tolvan_end,
        ));
    });
    let csr = env.csr("window", 2048, &format!("/CN={}", HOLDER.given_name()));
    let not_due = |label: &str, login: &Path| {
        let (status, body) = env.reenroll(label, login, &csr);
        let message = json(&body)["message"].as_str().unwrap_or("").to_string();
        assert_eq!(refusal((status, body)), (403, "renewal_not_due".into()));
        message
    };
    // 31 days and an hour left: not yet, and it opens in an hour and a second.
    let message = not_due("hsa-auth", &cert_file(&env, "hsa.pem", &der[0]));
    assert!(message.contains(&utc(hsa_end)), "{message}");
    assert!(
        message.contains(&format!("from {} on", utc(hsa_end - 31 * day + 1))),
        "{message}"
    );
    assert!(!message.contains(&utc(hsa_end - 30 * day)), "{message}");
    // The signature certificate has 400 days; the login certificate's window opens first.
    let message = not_due("pnr-sign", &cert_file(&env, "pnr-auth.pem", &der[1]));
    assert!(
        message.contains(&utc(pnr_sign_end)) && message.contains(&utc(pnr_auth_end)),
        "{message}"
    );
    assert!(message.contains("pnr-auth"), "{message}");
    assert!(
        message.contains(&format!("from {} on", utc(pnr_auth_end - 31 * day + 1))),
        "{message}"
    );
    // 30 days and 12 hours left is inside the window (30 whole days), before "not_after − 30
    // days".
    let tolvan = cert_file(&env, "tolvan.pem", &der[3]);
    let tolvan_csr = env.csr(
        "tolvan-window",
        2048,
        &format!("/CN={}", OTHER_HOLDER.given_name()),
    );
    let (status, body) = env.reenroll("hsa-auth", &tolvan, &tolvan_csr);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
}

/// Review of the CA mock, finding 5: `me` says what an enrolment will do, for a level-2 login
/// and for a holder who already holds every profile's certificate.
#[test]
fn me_says_what_an_enrolment_will_do() {
    let env = Rig::with(|dir| {
        for profile in Profile::ALL {
            store_for_base_key(dir, HOLDER.hsa_id, profile, 400);
        }
        store_for_base_key(dir, OTHER_HOLDER.hsa_id, Profile::HsaAuth, 400);
        store_for_base_key(dir, OTHER_HOLDER.hsa_id, Profile::HsaSign, 400);
    });
    let me = |cert: &Path| {
        let (status, body) = env.curl("/api/v1/me", Some(cert), None);
        assert_eq!(status, 200);
        let me = json(&body);
        (
            me["upgrade_allowed"].as_bool().unwrap(),
            me["refusal"]["error"].as_str().map(str::to_string),
        )
    };
    let csr = env.csr("me", 2048, "/CN=x");
    // Karin holds all four: every new key is refused, and `me` says so.
    let karin = env.legacy_client(HOLDER.hsa_id);
    assert_eq!(me(&karin), (false, Some("already_enrolled".into())));
    for label in ["hsa-auth", "hsa-sign", "pnr-auth", "pnr-sign"] {
        assert_eq!(
            refusal(env.enroll(label, &karin, &csr)),
            (409, "already_enrolled".into())
        );
    }
    // Tolvan at level 2: refused whatever he holds.
    let level2 = env.client_cert(
        CaName::Hsa2,
        &env.person(OTHER_HOLDER.hsa_id),
        OTHER_HOLDER.hsa_id,
    );
    assert_eq!(me(&level2), (false, Some("trust_level_too_low".into())));
    assert_eq!(
        refusal(env.enroll("pnr-auth", &level2, &csr)),
        (403, "trust_level_too_low".into())
    );
    // Tolvan at level 3 has two profiles left: allowed, and enrolled.
    let tolvan = env.legacy_client(OTHER_HOLDER.hsa_id);
    assert_eq!(me(&tolvan), (true, None));
    assert_eq!(env.enroll("pnr-auth", &tolvan, &csr).0, 200);
}

/// Review of the CA mock, finding 6: after the deadline, a key the CA already certified gets
/// its certificate back (a half-done upgrade resumes); a new key is refused.
#[test]
fn after_the_deadline_a_key_already_certified_gets_its_certificate_back() {
    let mut env = Rig::new();
    let karin = env.legacy_client(HOLDER.hsa_id);
    let first = env.csr(
        "before-deadline",
        2048,
        &format!("/CN={}", HOLDER.given_name()),
    );
    let (status, answer) = env.enroll("hsa-auth", &karin, &first);
    assert_eq!(status, 200);
    env.dir.set_deadline("2020-01-31").unwrap();
    env.restart();
    assert_eq!(env.enroll("hsa-auth", &karin, &first), (200, answer));
    let late = env.csr(
        "after-deadline",
        2048,
        &format!("/CN={}", HOLDER.given_name()),
    );
    for label in ["hsa-auth", "hsa-sign"] {
        assert_eq!(
            refusal(env.enroll(label, &karin, &late)),
            (403, "deadline_passed".into()),
            "{label}"
        );
    }
    assert_eq!(env.server().enrolments_for(HOLDER.hsa_id), 1);
}
