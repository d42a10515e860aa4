//! Reading the whole card in one pass: token, PINs with tries left, keys and certificates.
//!
//! Tries left come from VERIFY without data, which the card answers without spending a try.

use crate::apdu::{Command, StatusWord};
use crate::card::files::{self, FileCache, hex};
use crate::card::{CardError, KeySlot, PinKind};
use crate::channel::Channel;
use crate::layout;
use crate::pkcs15::{self, OdfKind};
use crate::pki::{CertInfo, Identity, Purpose};

/// Tries left of one PIN or the PUK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinStatus {
    pub kind: PinKind,
    pub label: String,
    pub tries_left: u8,
    pub max_tries: u8,
    /// Verified in this card session (the card answered VERIFY without data with 9000).
    pub verified: bool,
    /// How exactly `tries_left` is known: PKCS#11 middleware gives only flags.
    pub known: TriesKnown,
}

/// How exactly a card told its tries left. PKCS#11 has no counter, only the flags "count low",
/// "final try" and "locked", so the app says "fewer than 3 tries" rather than invent a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TriesKnown {
    /// `tries_left` is the card's own count (or a flag that pins it: final try, locked).
    Exact,
    /// `tries_left` is an upper bound: a wrong code was typed since the last right one.
    AtMost,
    /// The middleware says nothing about this code; `tries_left` is the card's maximum.
    Unknown,
    /// The middleware does not show this code at all (OpenSC 0.23 shows only PIN1 of an
    /// IDPrime card): nothing here can check, change or unblock it; `tries_left` is the card's
    /// maximum. Not the same as a card without the code, which lists no status for it.
    NotShown,
}

impl PinStatus {
    pub fn blocked(&self) -> bool {
        self.tries_left == 0
    }
}

/// A private key the card lists, with the PIN that guards it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEntry {
    pub id: Vec<u8>,
    pub label: String,
    pub slot: Option<KeySlot>,
    pub pin: Option<PinKind>,
    pub modulus_bits: u32,
}

/// A certificate on the card and, when it parses, what it says.
#[derive(Debug, Clone)]
pub struct CardCertificate {
    pub id: Vec<u8>,
    pub label: String,
    pub path: Vec<u8>,
    /// Key slot of the matching private key, if the card lists one.
    pub slot: Option<KeySlot>,
    /// The PIN that guards the matching key.
    pub pin: Option<PinKind>,
    pub der: Vec<u8>,
    pub info: Result<CertInfo, String>,
}

impl CardCertificate {
    pub fn id_hex(&self) -> String {
        hex(&self.id)
    }
}

#[derive(Debug, Clone)]
pub struct CardOverview {
    /// The reader's name, or for PKCS#11 the module and token, for people.
    pub reader: String,
    /// How the card was reached.
    pub source: crate::card::CardSource,
    pub serial: String,
    pub label: Option<String>,
    pub manufacturer: Option<String>,
    pub pins: Vec<PinStatus>,
    pub keys: Vec<KeyEntry>,
    pub certificates: Vec<CardCertificate>,
}

impl CardOverview {
    pub fn pin(&self, kind: PinKind) -> Option<&PinStatus> {
        self.pins.iter().find(|p| p.kind == kind)
    }

    /// The card came with one code for both logging in and signing: it lists no PIN2 at all
    /// (a PIN2 that middleware only hides is listed, as `TriesKnown::NotShown`).
    pub fn one_code(&self) -> bool {
        self.pin(PinKind::Pin2).is_none()
    }

    /// A blocked PUK means the card can no longer be unblocked or used.
    pub fn dead(&self) -> bool {
        self.pin(PinKind::Puk).is_some_and(|p| p.blocked())
    }

    /// The holder's name, from the first certificate that has one.
    pub fn holder_name(&self) -> Option<&str> {
        self.certificates
            .iter()
            .filter_map(|c| c.info.as_ref().ok())
            .find_map(|i| i.subject.common_name.as_deref())
    }

    /// The certificates of one identity, authentication first.
    pub fn certificates_of(&self, identity: &Identity) -> Vec<&CardCertificate> {
        let mut v: Vec<&CardCertificate> = self
            .certificates
            .iter()
            .filter(|c| c.info.as_ref().is_ok_and(|i| &i.identity == identity))
            .collect();
        v.sort_by_key(|c| match c.info.as_ref().map(|i| i.purpose) {
            Ok(Purpose::Authentication) => 0,
            Ok(Purpose::Signature) => 1,
            _ => 2,
        });
        v
    }
}

/// Read the overview. Files come from the session's cache where it has them (each is read
/// from the card once per session); the PINs' tries left are always asked, since another
/// program may spend a try between our operations without writing anything.
pub(crate) fn read(
    ch: &mut Channel<'_>,
    cache: &mut FileCache,
    source: &crate::card::CardSource,
) -> Result<CardOverview, CardError> {
    let odf = files::read_odf(ch, cache)?;
    let token_bytes = files::read_ef(ch, cache, &layout::app_path(layout::FID_TOKEN_INFO))?;
    let token = pkcs15::TokenInfo::decode(&token_bytes)
        .map_err(|e| CardError::Malformed(format!("TokenInfo: {e}")))?;

    let aodf = files::read_ef(ch, cache, &files::odf_path(&odf, OdfKind::AuthObjects)?)?;
    let pin_objects =
        pkcs15::decode_aodf(&aodf).map_err(|e| CardError::Malformed(format!("AODF: {e}")))?;
    let prkdf = files::read_ef(ch, cache, &files::odf_path(&odf, OdfKind::PrivateKeys)?)?;
    let key_objects =
        pkcs15::decode_prkdf(&prkdf).map_err(|e| CardError::Malformed(format!("PrKDF: {e}")))?;
    let cdf = files::read_ef(ch, cache, &files::odf_path(&odf, OdfKind::Certificates)?)?;
    let cert_objects =
        pkcs15::decode_cdf(&cdf).map_err(|e| CardError::Malformed(format!("CDF: {e}")))?;

    let pin_of_auth_id = |auth_id: &Option<Vec<u8>>| -> Option<PinKind> {
        let auth_id = auth_id.as_ref()?;
        let obj = pin_objects.iter().find(|p| &p.auth_id == auth_id)?;
        u8::try_from(obj.reference)
            .ok()
            .and_then(PinKind::from_reference)
    };

    let keys: Vec<KeyEntry> = key_objects
        .iter()
        .map(|k| KeyEntry {
            id: k.id.clone(),
            label: k.label.clone(),
            slot: k
                .key_reference
                .and_then(|r| u8::try_from(r).ok())
                .and_then(KeySlot::new),
            pin: pin_of_auth_id(&k.auth_id),
            modulus_bits: k.modulus_length,
        })
        .collect();

    let mut certificates = Vec::with_capacity(cert_objects.len());
    for c in cert_objects.iter().filter(|c| !c.authority) {
        let file = files::read_ef(ch, cache, &c.path)?;
        let key = keys.iter().find(|k| k.id == c.id);
        let info = CertInfo::from_der(&file).map_err(|e| e.to_string());
        certificates.push(CardCertificate {
            id: c.id.clone(),
            label: c.label.clone(),
            path: c.path.clone(),
            slot: key.and_then(|k| k.slot),
            pin: key.and_then(|k| k.pin),
            // The file may hold bytes after the certificate; keep the certificate alone.
            der: info.as_ref().map_or(file, |i| i.der.clone()),
            info,
        });
    }

    let mut pins = Vec::new();
    for obj in &pin_objects {
        let Some(kind) = u8::try_from(obj.reference)
            .ok()
            .and_then(PinKind::from_reference)
        else {
            continue;
        };
        let mut status = pin_status(ch, kind)?;
        status.label = obj.label.clone();
        pins.push(status);
    }

    Ok(CardOverview {
        reader: match source {
            crate::card::CardSource::Reader { name, .. } => name.clone(),
            other => other.describe(),
        },
        source: source.clone(),
        serial: hex(&token.serial_number),
        label: token.label.clone(),
        manufacturer: token.manufacturer_id.clone(),
        pins,
        keys,
        certificates,
    })
}

/// Ask the card how many tries are left (VERIFY with no data), with the application selected.
pub(crate) fn pin_status(ch: &mut Channel<'_>, kind: PinKind) -> Result<PinStatus, CardError> {
    pin_status_at(ch, kind, kind.reference())?.ok_or(CardError::Refused {
        operation: "VERIFY",
        sw: StatusWord::ReferenceNotFound,
    })
}

/// Like [`pin_status`] for the code at `reference`; `None` when the card has no such code
/// (an IDPrime card that came with one code has no PIN2).
pub(crate) fn pin_status_at(
    ch: &mut Channel<'_>,
    kind: PinKind,
    reference: u8,
) -> Result<Option<PinStatus>, CardError> {
    let max_tries = match kind {
        PinKind::Puk => layout::PUK_MAX_TRIES,
        _ => layout::PIN_MAX_TRIES,
    };
    let r = ch.exchange(&Command::verify(reference, None))?;
    let (tries_left, verified) = match r.sw {
        StatusWord::Ok => (max_tries, true),
        StatusWord::TriesLeft(n) => (n, false),
        // A dead card (blocked PUK) answers 6984 for the PINs: nothing can be used any more.
        StatusWord::AuthBlocked | StatusWord::ReferenceDataNotUsable => (0, false),
        StatusWord::ReferenceNotFound => return Ok(None),
        sw => {
            return Err(CardError::Refused {
                operation: "VERIFY",
                sw,
            });
        }
    };
    let label = match kind {
        PinKind::Pin1 => "PIN1",
        PinKind::Pin2 => "PIN2",
        PinKind::Puk => "PUK",
    };
    Ok(Some(PinStatus {
        kind,
        label: label.to_string(),
        tries_left,
        max_tries,
        verified,
        known: TriesKnown::Exact,
    }))
}
