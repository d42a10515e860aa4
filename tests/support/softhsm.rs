//! SoftHSM2 tokens that look like a pre-upgrade SITHS card to PKCS#11: the legacy pair's keys
//! and certificates taken from a `ca-mock init` virtual card, with `CKA_ID` 01 and 05, PIN1 as
//! the user PIN and the PUK as the SO PIN. Built with SoftHSM2's and OpenSC's own tools
//! (`softhsm2-util`, `pkcs11-tool`), so the token is not made by the code under test.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use siths_upgrade::card::Card;

/// Debian's SoftHSM2 module.
pub const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// The two ways middleware shows a two-PIN card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// OpenSC and Net iD: "<card> (Legitimering)" under PIN1, "<card> (Underskrift)" under
    /// PIN2, both with the PUK as SO PIN.
    TokenPerPin,
    /// SafeNet-style: one token, PIN1 the user PIN; the signing key has
    /// `CKA_ALWAYS_AUTHENTICATE` (SoftHSM2 checks that context-specific login against the user
    /// PIN, so on SoftHSM2 PIN2 is PIN1).
    SingleToken,
}

/// The codes of the token, as its holder would type them.
#[derive(Debug, Clone)]
pub struct Codes {
    pub pin1: String,
    pub pin2: String,
    pub puk: String,
}

/// A private SoftHSM2 configuration and token directory.
pub struct SoftHsm {
    _dir: tempfile::TempDir,
    conf: PathBuf,
    tokens: PathBuf,
}

pub const CARD_LABEL: &str = "SITHS e-id kort";

impl SoftHsm {
    pub fn new() -> SoftHsm {
        assert!(
            Path::new(MODULE).is_file(),
            "SoftHSM2 is not installed: apt-get install softhsm2"
        );
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::create_dir_all(&tokens).unwrap();
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .unwrap();
        SoftHsm {
            _dir: dir,
            conf,
            tokens,
        }
    }

    /// The environment every process (and this one) needs to see these tokens.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![("SOFTHSM2_CONF".to_string(), self.conf.display().to_string())]
    }

    /// Make this process's SoftHSM2 see these tokens (in-process tests).
    pub fn use_here(&self) {
        // SAFETY: set once per test binary before any module is loaded in this process.
        unsafe { std::env::set_var("SOFTHSM2_CONF", &self.conf) };
    }

    pub fn token_dir(&self) -> &Path {
        &self.tokens
    }

    fn util(&self, args: &[&str]) {
        let out = Command::new("softhsm2-util")
            .args(args)
            .env("SOFTHSM2_CONF", &self.conf)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "softhsm2-util failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `pkcs11-tool` (OpenSC) on these tokens.
    pub fn tool(&self, args: &[&str]) -> std::process::Output {
        Command::new("pkcs11-tool")
            .arg("--module")
            .arg(MODULE)
            .args(args)
            .env("SOFTHSM2_CONF", &self.conf)
            .output()
            .unwrap()
    }

    fn tool_ok(&self, args: &[&str]) -> String {
        let out = self.tool(args);
        assert!(
            out.status.success(),
            "pkcs11-tool {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// Put the legacy pair of the virtual card in `state` on new token(s) of `model`.
    pub fn load_card(&self, state: &Path, codes: &Codes, model: Model) {
        self.load_card_as(state, codes, model, CARD_LABEL);
    }

    /// [`SoftHsm::load_card`] under another card label, for several cards in one SoftHSM2.
    pub fn load_card_as(&self, state: &Path, codes: &Codes, model: Model, card_label: &str) {
        let (keys, certs) = legacy_pair(state);
        let work = tempfile::tempdir().unwrap();
        // Every slot with a certificate (the legacy pair's 1 and 5 on a pre-upgrade card);
        // PIN1's slots are 1-4, PIN2's 5-8.
        let mut slots: Vec<u8> = certs
            .keys()
            .copied()
            .filter(|s| keys.contains_key(s))
            .collect();
        slots.sort_unstable();
        let (auth, sign): (Vec<u8>, Vec<u8>) = slots.iter().partition(|&&s| s <= 4);
        let tokens: Vec<(String, &str, Vec<u8>)> = match model {
            Model::SingleToken => vec![(card_label.to_string(), codes.pin1.as_str(), slots)],
            Model::TokenPerPin => vec![
                (
                    format!("{card_label} (Legitimering)"),
                    codes.pin1.as_str(),
                    auth,
                ),
                (
                    format!("{card_label} (Underskrift)"),
                    codes.pin2.as_str(),
                    sign,
                ),
            ],
        };
        for (label, pin, slots) in tokens {
            self.util(&[
                "--init-token",
                "--free",
                "--label",
                &label,
                "--pin",
                pin,
                "--so-pin",
                &codes.puk,
            ]);
            for slot in slots {
                let id = format!("{slot:02x}");
                let key_file = work.path().join(format!("key{slot}.der"));
                std::fs::write(&key_file, &keys[&slot]).unwrap();
                let cert_file = work.path().join(format!("cert{slot}.der"));
                std::fs::write(&cert_file, &certs[&slot].1).unwrap();
                // A card's public key is an object of its own, readable without a PIN, as the
                // card's own key generation leaves it.
                let public_file = work.path().join(format!("pub{slot}.der"));
                let out = Command::new("openssl")
                    .args(["pkey", "-inform", "DER", "-in"])
                    .arg(&key_file)
                    .args(["-pubout", "-outform", "DER", "-out"])
                    .arg(&public_file)
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let always_auth: &[&str] = if slot >= 5 { &["--always-auth"] } else { &[] };
                for (file, kind, extra) in [
                    (
                        &key_file,
                        "privkey",
                        [&["--usage-sign"][..], always_auth].concat(),
                    ),
                    (&public_file, "pubkey", vec!["--usage-sign"]),
                    (&cert_file, "cert", vec![]),
                ] {
                    let mut args = vec![
                        "--token-label",
                        &label,
                        "--login",
                        "--pin",
                        pin,
                        "--write-object",
                        file.to_str().unwrap(),
                        "--type",
                        kind,
                        "--id",
                        &id,
                        "--label",
                        &certs[&slot].0,
                    ];
                    args.extend(extra);
                    self.tool_ok(&args);
                }
            }
        }
    }

    /// A key-encipherment pair of the holder's own, as a card used for encryption carries:
    /// an RSA key and a self-signed certificate made by OpenSSL, written with `pkcs11-tool`
    /// (private key, public key and certificate) under `CKA_ID` `id_hex` on the token
    /// `label`. Returns the certificate DER.
    pub fn add_foreign_pair(&self, label: &str, pin: &str, id_hex: &str) -> Vec<u8> {
        let work = tempfile::tempdir().unwrap();
        let path = |name: &str| work.path().join(name).to_str().unwrap().to_string();
        let ext = path("ext.cnf");
        std::fs::write(&ext, "keyUsage=critical,keyEncipherment\n").unwrap();
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl").args(args).output().unwrap();
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        openssl(&["genrsa", "-out", &path("key.pem"), "2048"]);
        openssl(&[
            "pkcs8",
            "-topk8",
            "-nocrypt",
            "-in",
            &path("key.pem"),
            "-outform",
            "DER",
            "-out",
            &path("key.der"),
        ]);
        openssl(&[
            "rsa",
            "-in",
            &path("key.pem"),
            "-pubout",
            "-outform",
            "DER",
            "-out",
            &path("pub.der"),
        ]);
        openssl(&[
            "x509",
            "-new",
            "-subj",
            "/O=Krypto AB/CN=Karin kryptering",
            "-key",
            &path("key.pem"),
            "-days",
            "365",
            "-extfile",
            &ext,
            "-outform",
            "DER",
            "-out",
            &path("cert.der"),
        ]);
        for (file, kind, usage) in [
            ("key.der", "privkey", "--usage-decrypt"),
            ("pub.der", "pubkey", "--usage-decrypt"),
            ("cert.der", "cert", ""),
        ] {
            let file = path(file);
            let mut args = vec![
                "--token-label",
                label,
                "--login",
                "--pin",
                pin,
                "--write-object",
                &file,
                "--type",
                kind,
                "--id",
                id_hex,
                "--label",
                "Kryptering",
            ];
            if !usage.is_empty() {
                args.push(usage);
            }
            self.tool_ok(&args);
        }
        std::fs::read(path("cert.der")).unwrap()
    }

    /// An initialised token with no objects and a label that is no SITHS card's.
    pub fn add_empty_token(&self, label: &str, pin: &str, so_pin: &str) {
        self.util(&[
            "--init-token",
            "--free",
            "--label",
            label,
            "--pin",
            pin,
            "--so-pin",
            so_pin,
        ]);
    }

    /// The kinds of object ("Private Key Object", "Public Key Object", "Certificate Object")
    /// that `pkcs11-tool --list-objects` shows under `CKA_ID` `id_hex` on the token `label`,
    /// logged in with `pin`.
    pub fn objects_with_id(&self, label: &str, pin: &str, id_hex: &str) -> Vec<String> {
        let out = self.tool_ok(&[
            "--token-label",
            label,
            "--login",
            "--pin",
            pin,
            "--list-objects",
        ]);
        let mut kinds = Vec::new();
        let mut current = String::new();
        for line in out.lines() {
            if !line.starts_with(char::is_whitespace) {
                current = line.split(';').next().unwrap_or("").trim().to_string();
            } else if let Some(id) = line.trim().strip_prefix("ID:")
                && id.trim() == id_hex
            {
                kinds.push(current.clone());
            }
        }
        kinds.sort();
        kinds
    }

    /// What `pkcs11-tool --list-objects` shows on every token, logged in with `pin` where it
    /// is the token's PIN: (certificates, private keys).
    pub fn count_objects(&self, logins: &[(&str, &str)]) -> (usize, usize) {
        let mut certs = 0;
        let mut keys = 0;
        for (label, pin) in logins {
            let out = self.tool_ok(&[
                "--token-label",
                label,
                "--login",
                "--pin",
                pin,
                "--list-objects",
            ]);
            certs += out.matches("Certificate Object").count();
            keys += out.matches("Private Key Object").count();
        }
        (certs, keys)
    }
}

/// The key pairs of a virtual card (the legacy pair on a pre-upgrade card): PKCS#8 keys and
/// (label, certificate DER) by slot.
#[allow(clippy::type_complexity)]
pub fn legacy_pair(
    state: &Path,
) -> (
    std::collections::HashMap<u8, Vec<u8>>,
    std::collections::HashMap<u8, (String, Vec<u8>)>,
) {
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(state).unwrap()).unwrap();
    let mut keys = std::collections::HashMap::new();
    for k in json["keys"].as_array().unwrap() {
        let slot = k["slot"].as_u64().unwrap() as u8;
        let der = base64::engine::general_purpose::STANDARD
            .decode(k["pkcs8"].as_str().unwrap())
            .unwrap();
        keys.insert(slot, der);
    }
    let card = siths_upgrade::virtual_card::share_virtual_card(
        siths_upgrade::virtual_card::VirtualCard::open(state).unwrap(),
    );
    let mut reader = siths_upgrade::card::SithsCard::open(Box::new(
        siths_upgrade::virtual_card::memory::MemoryTransport::connect(card).unwrap(),
    ))
    .unwrap();
    let overview = reader.overview().unwrap();
    let mut certs = std::collections::HashMap::new();
    for c in overview.certificates {
        if let Some(slot) = c.slot {
            certs.insert(slot.number(), (c.label.clone(), c.der.clone()));
        }
    }
    (keys, certs)
}

/// The codes in a `ca-mock init` card's `.pins` file.
pub fn codes_of(state: &Path) -> Codes {
    let pins = std::fs::read_to_string(state.with_extension("pins")).unwrap();
    let get = |key: &str| {
        pins.lines()
            .find_map(|l| {
                l.strip_prefix(&format!("{key}="))
                    .or_else(|| l.strip_prefix(&format!("{key}: ")))
            })
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("no {key} in {pins}"))
    };
    Codes {
        pin1: get("PIN1"),
        pin2: get("PIN2"),
        puk: get("PUK"),
    }
}
