//! `--json` output. The shapes here are a stable interface (docs/cli.md, the `--json`
//! sections): add fields, never rename or remove them without raising [`FORMAT_VERSION`].

use serde::Serialize;

use crate::card::{CardOverview, CardSource};
use crate::cli::exit::CliError;
use crate::pki::{Identity, Purpose};

pub const FORMAT_VERSION: u32 = 1;

#[derive(Serialize, Debug)]
pub struct ReadersJson {
    pub format_version: u32,
    pub readers: Vec<ReaderJson>,
}

#[derive(Serialize, Debug)]
pub struct ReaderJson {
    pub name: String,
    pub card_present: bool,
    pub atr: Option<String>,
    pub in_use: bool,
}

#[derive(Serialize, Debug)]
pub struct StatusJson {
    pub format_version: u32,
    pub reader: String,
    /// How the card was reached: PC/SC or a PKCS#11 module and token.
    pub source: SourceJson,
    pub card: CardJson,
    pub holder: HolderJson,
    pub pins: PinsJson,
    pub card_dead: bool,
    pub certificates: Vec<CertificateJson>,
    /// Certificates and keys that are neither a SITHS profile's nor the legacy pair: the
    /// holder's, never touched by any command.
    pub other_objects: crate::workflow::pairs::Others,
}

#[derive(Serialize, Debug)]
#[serde(tag = "backend", rename_all = "lowercase")]
pub enum SourceJson {
    Pcsc {
        reader: String,
    },
    Pkcs11 {
        module: String,
        token: String,
        serial: String,
    },
}

impl From<&CardSource> for SourceJson {
    fn from(s: &CardSource) -> SourceJson {
        match s {
            CardSource::Reader { name, .. } => SourceJson::Pcsc {
                reader: name.clone(),
            },
            CardSource::Pkcs11 {
                module,
                token,
                serial,
            } => SourceJson::Pkcs11 {
                module: module.clone(),
                token: token.clone(),
                serial: serial.clone(),
            },
        }
    }
}

#[derive(Serialize, Debug)]
pub struct CardJson {
    pub serial: String,
    pub label: Option<String>,
    pub atr: String,
}

#[derive(Serialize, Debug)]
pub struct HolderJson {
    pub name: Option<String>,
    pub hsa_id: Option<String>,
    pub personnummer: Option<String>,
}

#[derive(Serialize, Debug)]
pub struct PinsJson {
    pub pin1: Option<PinJson>,
    pub pin2: Option<PinJson>,
    pub puk: Option<PinJson>,
}

#[derive(Serialize, Debug)]
pub struct PinJson {
    pub label: String,
    pub tries_left: u8,
    pub max_tries: u8,
    /// "exact", or "at_most" / "unknown" where PKCS#11 middleware gives only flags.
    pub tries_known: crate::card::TriesKnown,
    pub blocked: bool,
    /// Verified in the card's current session (another program left it logged in).
    pub verified: bool,
}

#[derive(Serialize, Debug)]
pub struct CertificateJson {
    /// PKCS#15 id of the certificate and its key, hex.
    pub id: String,
    pub slot: Option<crate::card::KeySlot>,
    pub label: String,
    /// "pin1" or "pin2": the PIN that guards the key.
    pub pin: Option<&'static str>,
    /// "hsa-id", "personnummer", "samordningsnummer", "other" or "none".
    pub identity_type: &'static str,
    pub identity: Option<String>,
    /// "authentication", "signature", "ca" or "other".
    pub purpose: &'static str,
    pub subject: Option<String>,
    pub issuer: Option<String>,
    pub not_before: Option<String>,
    pub not_after: Option<String>,
    pub trust_level: Option<u8>,
    pub serial_number: Option<String>,
    pub sha256: Option<String>,
    /// Why the certificate could not be read, when it could not.
    pub error: Option<String>,
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

pub fn rfc3339(unix: i64) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp(unix).ok()?;
    t.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

pub fn identity_type(identity: &Identity) -> &'static str {
    match identity {
        Identity::HsaId(_) => "hsa-id",
        Identity::Personnummer(_) => "personnummer",
        Identity::Samordningsnummer(_) => "samordningsnummer",
        Identity::Other(_) => "other",
        Identity::None => "none",
    }
}

pub fn purpose(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Authentication => "authentication",
        Purpose::Signature => "signature",
        Purpose::Ca => "ca",
        Purpose::Other => "other",
    }
}

impl StatusJson {
    pub fn from_overview(o: &CardOverview, source: &CardSource) -> StatusJson {
        use crate::card::PinKind;
        let pin = |kind: PinKind| {
            o.pin(kind).map(|p| PinJson {
                label: p.label.clone(),
                tries_left: p.tries_left,
                max_tries: p.max_tries,
                tries_known: p.known,
                blocked: p.blocked(),
                verified: p.verified,
            })
        };
        let infos = || o.certificates.iter().filter_map(|c| c.info.as_ref().ok());
        StatusJson {
            format_version: FORMAT_VERSION,
            reader: o.reader.clone(),
            source: source.into(),
            card: CardJson {
                serial: o.serial.clone(),
                label: o.label.clone(),
                atr: hex(source.atr()),
            },
            holder: HolderJson {
                name: o.holder_name().map(str::to_string),
                hsa_id: infos().find_map(|i| match &i.identity {
                    Identity::HsaId(h) => Some(h.to_string()),
                    _ => None,
                }),
                personnummer: infos().find_map(|i| match &i.identity {
                    Identity::Personnummer(p) | Identity::Samordningsnummer(p) => {
                        Some(p.to_string())
                    }
                    _ => None,
                }),
            },
            pins: PinsJson {
                pin1: pin(PinKind::Pin1),
                pin2: pin(PinKind::Pin2),
                puk: pin(PinKind::Puk),
            },
            card_dead: o.dead(),
            certificates: o
                .certificates
                .iter()
                .map(|c| {
                    let info = c.info.as_ref().ok();
                    CertificateJson {
                        id: c.id_hex(),
                        slot: c.slot,
                        label: c.label.clone(),
                        pin: c.pin.map(|k| k.key()),
                        identity_type: info.map_or("none", |i| identity_type(&i.identity)),
                        identity: info.and_then(|i| i.identity.value().map(str::to_string)),
                        purpose: info.map_or("other", |i| purpose(i.purpose)),
                        subject: info.map(|i| i.subject_dn.clone()),
                        issuer: info.map(|i| i.issuer_dn.clone()),
                        not_before: info.and_then(|i| rfc3339(i.not_before)),
                        not_after: info.and_then(|i| rfc3339(i.not_after)),
                        trust_level: info.and_then(|i| i.trust_level),
                        serial_number: info.map(|i| i.serial_hex.clone()),
                        sha256: info.map(|i| i.fingerprint_sha256.clone()),
                        error: c.info.as_ref().err().cloned(),
                    }
                })
                .collect(),
            other_objects: crate::workflow::pairs::others(o),
        }
    }
}

pub fn print<T: Serialize>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::system(format!("could not write JSON: {e}")))?;
    println!("{text}");
    Ok(())
}
