//! The virtual card's persistent memory: files, PINs, keys, and the atomic state file.
//!
//! Everything a real card keeps across power cycles lives in [`CardState`]; everything it forgets
//! on reset lives in the engine's session. The state file is the card's memory, so it is the one
//! place PIN values and private keys are written down (mode 0600 on Unix).

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use rsa::RsaPrivateKey;
use rsa::RsaPublicKey;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::layout;

use super::keys;
use super::state_encoding::{b64, hex_bytes, opt_hex, pin_hex};
use crate::idprime::extensions::PUK_REF as IDPRIME_PUK_REF;
use crate::idprime::files::{PIN1_REF as IDPRIME_PIN1_REF, PIN2_REF as IDPRIME_PIN2_REF};

/// Version of the state file layout, so a future change can migrate old cards.
const FORMAT_VERSION: u32 = 1;

/// Largest EF a card can hold: the FCP announces sizes in two bytes.
pub const MAX_EF_CAPACITY: usize = 0xFFFF;

/// Why the card's state file could not be used; each says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(
        "there is no virtual card at {0}: check the path, or create the card first (for example with the CA mock's `init`)"
    )]
    Missing(PathBuf),
    #[error("the virtual card file {path} cannot be read ({reason}): check its permissions")]
    Unreadable { path: PathBuf, reason: String },
    #[error(
        "the virtual card file {path} is damaged ({reason}): restore it from a backup or create a new card"
    )]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "a virtual card already exists at {0}: open it, or delete the file first if you really want a new card there"
    )]
    AlreadyExists(PathBuf),
    #[error("the card description is invalid ({0}): fix the personalisation")]
    Invalid(String),
    #[error(
        "the virtual card cannot be saved to {path} ({reason}): check free disk space and permissions"
    )]
    Write { path: PathBuf, reason: String },
}

/// Why a personalisation step was refused; these are programming errors in the caller, reported
/// instead of panicking so a bad card description never takes the process down.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("the card has no DF {0:04X}: EFs can be added under 3F00 or an application DF")]
    UnknownDf(u16),
    #[error("file identifier {0:04X} is already used in that DF or is reserved")]
    DuplicateFid(u16),
    #[error("short EF identifier {0:02X} is already used in that DF or outside 1..=30")]
    BadSfi(u8),
    #[error("content of {content} bytes does not fit the capacity of {capacity} bytes")]
    TooLarge { content: usize, capacity: usize },
    #[error("a PIN must be {min}-{max} digits")]
    BadPinFormat { min: usize, max: usize },
    #[error("PIN reference {0:02X} is not one this card has (01, 02, 03; IDPrime 11, 83, 85)")]
    BadPinReference(u8),
    #[error("retry counters must be 1-15")]
    BadTries,
    #[error("key slot {0} is outside 1..=8")]
    BadSlot(u8),
    #[error("key slot {0} already holds a key")]
    SlotOccupied(u8),
    #[error("the key could not be made or stored: {0}")]
    Key(String),
}

/// An elementary file: transparent bytes that grow as written, up to a fixed capacity.
#[derive(Clone, Serialize, Deserialize)]
pub struct Ef {
    pub fid: u16,
    pub sfi: Option<u8>,
    #[serde(with = "b64")]
    pub content: Vec<u8>,
    pub capacity: usize,
}

/// A dedicated file holding EFs. The MF is one; applications are DFs directly under it.
#[derive(Clone, Serialize, Deserialize)]
pub struct Df {
    pub fid: u16,
    /// DF name (AID) for SELECT by name.
    #[serde(with = "opt_hex", default)]
    pub name: Option<Vec<u8>>,
    pub efs: Vec<Ef>,
}

impl Df {
    pub fn ef(&self, fid: u16) -> Option<&Ef> {
        self.efs.iter().find(|e| e.fid == fid)
    }

    pub(crate) fn ef_mut(&mut self, fid: u16) -> Option<&mut Ef> {
        self.efs.iter_mut().find(|e| e.fid == fid)
    }

    pub(crate) fn ef_by_sfi(&self, sfi: u8) -> Option<&Ef> {
        self.efs.iter().find(|e| e.sfi == Some(sfi))
    }
}

/// A PIN or the PUK. The value is stored padded to [`layout::PIN_STORED_LEN`] with
/// [`layout::PIN_PAD`], exactly as the commands carry it.
#[derive(Clone, Serialize, Deserialize)]
pub struct StoredPin {
    pub reference: u8,
    #[serde(with = "pin_hex")]
    pub(crate) value: [u8; layout::PIN_STORED_LEN],
    pub tries_left: u8,
    pub max_tries: u8,
    pub min_len: usize,
    pub max_len: usize,
}

impl Drop for StoredPin {
    fn drop(&mut self) {
        self.value.zeroize();
    }
}

impl fmt::Debug for StoredPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Pin({:02X}, {}/{} tries)",
            self.reference, self.tries_left, self.max_tries
        )
    }
}

/// A private key in a slot (PKCS#8 DER). It never leaves the card through any command.
#[derive(Clone, Serialize, Deserialize)]
pub struct StoredKey {
    pub slot: u8,
    #[serde(with = "b64")]
    pub(crate) pkcs8: Vec<u8>,
}

impl Drop for StoredKey {
    fn drop(&mut self) {
        self.pkcs8.zeroize();
    }
}

/// Which card OS answers and how the files are laid out. Kept in the state file; a file
/// without it is a PKCS#15 card (every card made before the IDPrime layout existed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// Our PKCS#15 application, which OpenSC reads through its default driver.
    #[default]
    Pkcs15,
    /// A Thales IDPrime card as OpenSC's `idprime` driver reads it.
    Idprime,
}

/// Everything the card remembers across resets and restarts.
#[derive(Clone, Serialize, Deserialize)]
pub struct CardState {
    version: u32,
    #[serde(default)]
    layout: Layout,
    serial: String,
    #[serde(with = "hex_bytes")]
    atr: Vec<u8>,
    pub(crate) mf: Df,
    pub(crate) apps: Vec<Df>,
    pub(crate) pins: Vec<StoredPin>,
    pub(crate) keys: Vec<StoredKey>,
    pub(crate) dead: bool,
}

impl fmt::Debug for CardState {
    // PIN values and keys stay out of Debug: only what a log reader may see.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let files: Vec<String> = std::iter::once(&self.mf)
            .chain(self.apps.iter())
            .flat_map(|df| {
                df.efs
                    .iter()
                    .map(move |e| format!("{:04X}/{:04X}:{}", df.fid, e.fid, e.content.len()))
            })
            .collect();
        f.debug_struct("CardState")
            .field("serial", &self.serial)
            .field("files", &files)
            .field("pins", &self.pins)
            .field("key_slots", &self.occupied_slots())
            .field("dead", &self.dead)
            .finish()
    }
}

/// Build an ATR for T=1 with our historical bytes, so pcscd and OpenSC accept it and no
/// specific OpenSC driver claims the card (the default driver binds it).
fn default_atr() -> Vec<u8> {
    let historical = b"SITHS-VCARD1";
    let mut atr = vec![0x3B, 0x80 | historical.len() as u8, 0x80, 0x01];
    atr.extend_from_slice(historical);
    // TCK: XOR of T0 up to the last historical byte (T=1 is offered, so it is mandatory).
    let tck = atr.iter().skip(1).fold(0u8, |acc, b| acc ^ b);
    atr.push(tck);
    atr
}

impl CardState {
    /// A blank card: MF and the PKCS#15 DF, no EFs, no PINs, no keys. Personalisation adds the rest.
    pub fn new(serial: &str) -> Self {
        CardState {
            version: FORMAT_VERSION,
            layout: Layout::Pkcs15,
            serial: serial.to_string(),
            atr: default_atr(),
            mf: Df {
                fid: layout::FID_MF,
                name: None,
                efs: Vec::new(),
            },
            apps: vec![Df {
                fid: layout::FID_DF_PKCS15,
                name: Some(layout::PKCS15_AID.to_vec()),
                efs: Vec::new(),
            }],
            pins: Vec::new(),
            keys: Vec::new(),
            dead: false,
        }
    }

    /// A blank card of another layout: its ATR, and an MF holding the layout's files (no
    /// application DF).
    pub fn new_layout(serial: &str, layout: Layout, atr: Vec<u8>) -> Self {
        let mut state = CardState::new(serial);
        state.layout = layout;
        state.atr = atr;
        if layout != Layout::Pkcs15 {
            state.apps.clear();
        }
        state
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    pub fn serial(&self) -> &str {
        &self.serial
    }

    pub fn atr(&self) -> &[u8] {
        &self.atr
    }

    /// True once the PUK is blocked: the card can still be read but never used again.
    pub fn is_dead(&self) -> bool {
        self.dead
    }

    /// The DF with this FID (3F00 or an application DF).
    pub fn df(&self, fid: u16) -> Option<&Df> {
        if fid == self.mf.fid {
            Some(&self.mf)
        } else {
            self.apps.iter().find(|d| d.fid == fid)
        }
    }

    pub(crate) fn df_mut(&mut self, fid: u16) -> Option<&mut Df> {
        if fid == self.mf.fid {
            Some(&mut self.mf)
        } else {
            self.apps.iter_mut().find(|d| d.fid == fid)
        }
    }

    /// Content of an EF, for tests and for checking what a workflow left on the card.
    pub fn ef_content(&self, df_fid: u16, fid: u16) -> Option<&[u8]> {
        self.df(df_fid)?.ef(fid).map(|e| e.content.as_slice())
    }

    /// Add an EF under `df_fid` (3F00 or 5015) during personalisation.
    pub fn add_ef(
        &mut self,
        df_fid: u16,
        fid: u16,
        sfi: Option<u8>,
        content: Vec<u8>,
        capacity: usize,
    ) -> Result<(), BuildError> {
        if content.len() > capacity || capacity > MAX_EF_CAPACITY {
            return Err(BuildError::TooLarge {
                content: content.len(),
                capacity,
            });
        }
        let reserved =
            fid == layout::FID_MF || fid == 0x3FFF || fid == 0xFFFF || self.df(fid).is_some();
        let df = self.df_mut(df_fid).ok_or(BuildError::UnknownDf(df_fid))?;
        if reserved || df.ef(fid).is_some() {
            return Err(BuildError::DuplicateFid(fid));
        }
        if let Some(s) = sfi {
            if !(1..=30).contains(&s) || df.ef_by_sfi(s).is_some() {
                return Err(BuildError::BadSfi(s));
            }
        }
        df.efs.push(Ef {
            fid,
            sfi,
            content,
            capacity,
        });
        Ok(())
    }

    /// Set a PIN (01, 02; on an IDPrime card 11, 83) or the PUK (03; on an IDPrime card 85) with `max_tries` tries, all of them left.
    pub fn set_pin(
        &mut self,
        reference: u8,
        value: &[u8],
        max_tries: u8,
    ) -> Result<(), BuildError> {
        let (min_len, max_len) = match (self.layout, reference) {
            (Layout::Pkcs15, layout::PIN1_REF | layout::PIN2_REF)
            | (Layout::Idprime, IDPRIME_PIN1_REF | IDPRIME_PIN2_REF) => {
                (layout::PIN_MIN_LEN, layout::PIN_MAX_LEN)
            }
            (Layout::Pkcs15, layout::PUK_REF) | (Layout::Idprime, IDPRIME_PUK_REF) => {
                (layout::PUK_LEN, layout::PUK_LEN)
            }
            (_, other) => return Err(BuildError::BadPinReference(other)),
        };
        if !(1..=15).contains(&max_tries) {
            return Err(BuildError::BadTries);
        }
        let padded = super::pin_code::normalise(value, min_len, max_len).ok_or(
            BuildError::BadPinFormat {
                min: min_len,
                max: max_len,
            },
        )?;
        let pin = StoredPin {
            reference,
            value: *padded,
            tries_left: max_tries,
            max_tries,
            min_len,
            max_len,
        };
        self.pins.retain(|p| p.reference != reference);
        self.pins.push(pin);
        self.pins.sort_by_key(|p| p.reference);
        Ok(())
    }

    /// The reference of this card's PUK: `03` on the PKCS#15 layout, `85` on the IDPrime
    /// layout [ours, both].
    pub(crate) fn puk_reference(&self) -> u8 {
        match self.layout {
            Layout::Pkcs15 => layout::PUK_REF,
            Layout::Idprime => IDPRIME_PUK_REF,
        }
    }

    /// Bytes the card's files take: the sum of their capacities, room reserved when a file
    /// is made whether or not it is written yet, as a card's EEPROM is.
    pub(crate) fn file_memory_used(&self) -> usize {
        std::iter::once(&self.mf)
            .chain(self.apps.iter())
            .flat_map(|df| df.efs.iter())
            .map(|ef| ef.capacity)
            .sum()
    }

    pub(crate) fn pin(&self, reference: u8) -> Option<&StoredPin> {
        self.pins.iter().find(|p| p.reference == reference)
    }

    pub(crate) fn pin_mut(&mut self, reference: u8) -> Option<&mut StoredPin> {
        self.pins.iter_mut().find(|p| p.reference == reference)
    }

    /// Tries left for a PIN or the PUK, as VERIFY with no data would tell.
    pub fn pin_tries_left(&self, reference: u8) -> Option<u8> {
        self.pin(reference).map(|p| p.tries_left)
    }

    /// Generate an RSA-2048 key in `slot` during personalisation (e.g. the legacy pair), so
    /// the CA mock can certify its public key; the private key stays in the card.
    pub fn generate_key(&mut self, slot: u8) -> Result<RsaPublicKey, BuildError> {
        self.check_free_slot(slot)?;
        let der = keys::generate().map_err(|e| BuildError::Key(e.to_string()))?;
        let key = keys::load(&der).map_err(|e| BuildError::Key(e.to_string()))?;
        self.store_key(slot, der.to_vec());
        Ok(key.to_public_key())
    }

    /// Put an existing private key in `slot` (personalisation from a known key).
    pub fn put_key(&mut self, slot: u8, key: &RsaPrivateKey) -> Result<(), BuildError> {
        self.check_free_slot(slot)?;
        let der = keys::encode(key).map_err(|e| BuildError::Key(e.to_string()))?;
        self.store_key(slot, der.to_vec());
        Ok(())
    }

    fn check_free_slot(&self, slot: u8) -> Result<(), BuildError> {
        if !layout::KEY_SLOTS.contains(&slot) {
            return Err(BuildError::BadSlot(slot));
        }
        if self.key_der(slot).is_some() {
            return Err(BuildError::SlotOccupied(slot));
        }
        Ok(())
    }

    pub(crate) fn store_key(&mut self, slot: u8, pkcs8: Vec<u8>) {
        self.keys.retain(|k| k.slot != slot);
        self.keys.push(StoredKey { slot, pkcs8 });
        self.keys.sort_by_key(|k| k.slot);
    }

    pub(crate) fn remove_key(&mut self, slot: u8) -> bool {
        let before = self.keys.len();
        self.keys.retain(|k| k.slot != slot);
        self.keys.len() != before
    }

    pub(crate) fn key_der(&self, slot: u8) -> Option<&[u8]> {
        self.keys
            .iter()
            .find(|k| k.slot == slot)
            .map(|k| k.pkcs8.as_slice())
    }

    /// The public key in `slot`, if the slot holds a key.
    pub fn public_key(&self, slot: u8) -> Option<RsaPublicKey> {
        let der = self.key_der(slot)?;
        keys::load(der).ok().map(|k| k.to_public_key())
    }

    /// Slots that hold a key.
    pub fn occupied_slots(&self) -> Vec<u8> {
        self.keys.iter().map(|k| k.slot).collect()
    }

    /// Reject a state file whose contents no card could have, before the engine relies on it.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.version != FORMAT_VERSION {
            return Err(format!("unknown format version {}", self.version));
        }
        if self.serial.is_empty()
            || self.serial.len() > 32
            || !self.serial.bytes().all(|b| b.is_ascii_digit())
        {
            return Err("the card serial is not 1-32 digits".into());
        }
        if self.atr.len() < 2 || self.atr.len() > 33 {
            return Err("the ATR is not 2-33 bytes".into());
        }
        if self.mf.fid != layout::FID_MF {
            return Err("the MF is not 3F00".into());
        }
        for df in std::iter::once(&self.mf).chain(self.apps.iter()) {
            for (i, ef) in df.efs.iter().enumerate() {
                if ef.content.len() > ef.capacity || ef.capacity > MAX_EF_CAPACITY {
                    return Err(format!("EF {:04X} is larger than its capacity", ef.fid));
                }
                if df.efs[..i].iter().any(|o| o.fid == ef.fid) {
                    return Err(format!("EF {:04X} appears twice", ef.fid));
                }
            }
        }
        for pin in &self.pins {
            if pin.tries_left > pin.max_tries || pin.max_tries == 0 || pin.max_tries > 15 {
                return Err(format!(
                    "PIN {:02X} has impossible retry counters",
                    pin.reference
                ));
            }
        }
        // IDPrime cards made before the PUK existed kept container N's key in slot N + 1;
        // read with today's map their keys would sit in other containers, so such a card is
        // refused rather than misread (make it again with `virtual-card init`).
        if self.layout == Layout::Idprime && self.pin(IDPRIME_PUK_REF).is_none() {
            return Err(
                "an IDPrime card without its PUK (85), made by an earlier version whose key \
                 slots differ"
                    .into(),
            );
        }
        for k in &self.keys {
            if !layout::KEY_SLOTS.contains(&k.slot) {
                return Err(format!("key slot {} is outside 1..=8", k.slot));
            }
            if keys::load(&k.pkcs8).is_err() {
                return Err(format!("the key in slot {} is not a valid RSA key", k.slot));
            }
        }
        Ok(())
    }

    /// Read a state file.
    pub fn load(path: &Path) -> Result<CardState, StateError> {
        let bytes = match fs::read(path) {
            Ok(b) => Zeroizing::new(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StateError::Missing(path.to_path_buf()));
            }
            Err(e) => {
                return Err(StateError::Unreadable {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                });
            }
        };
        let state: CardState = serde_json::from_slice(&bytes).map_err(|e| StateError::Corrupt {
            path: path.to_path_buf(),
            // serde_json's message names line and column, never the content.
            reason: e.to_string(),
        })?;
        state.validate().map_err(|reason| StateError::Corrupt {
            path: path.to_path_buf(),
            reason,
        })?;
        Ok(state)
    }

    /// Write the state so that a crash at any instant leaves either the old or the new file:
    /// temp file in the same directory, fsync, rename, fsync the directory.
    pub fn save_atomic(&self, path: &Path) -> Result<(), StateError> {
        let write_err = |reason: String| StateError::Write {
            path: path.to_path_buf(),
            reason,
        };
        // The file holds PINs and private keys: owner only, like every secret file.
        let json =
            Zeroizing::new(serde_json::to_vec_pretty(self).map_err(|e| write_err(e.to_string()))?);
        crate::private_file::write(path, &json).map_err(|e| write_err(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atr_has_a_valid_check_byte() {
        let atr = default_atr();
        assert_eq!(atr[0], 0x3B);
        assert_eq!(atr.iter().skip(1).fold(0u8, |a, b| a ^ b), 0);
    }

    #[test]
    fn builder_refuses_what_no_card_could_hold() {
        let mut s = CardState::new("123");
        assert_eq!(
            s.add_ef(0x1234, 0x5031, None, vec![], 10),
            Err(BuildError::UnknownDf(0x1234))
        );
        assert!(s.add_ef(0x5015, 0x5031, Some(1), vec![1], 10).is_ok());
        assert_eq!(
            s.add_ef(0x5015, 0x5031, None, vec![], 10),
            Err(BuildError::DuplicateFid(0x5031))
        );
        assert_eq!(
            s.add_ef(0x5015, 0x5032, Some(1), vec![], 10),
            Err(BuildError::BadSfi(1))
        );
        assert!(matches!(
            s.add_ef(0x5015, 0x5033, None, vec![0; 11], 10),
            Err(BuildError::TooLarge { .. })
        ));
        assert_eq!(
            s.add_ef(0x3F00, 0x5015, None, vec![], 10),
            Err(BuildError::DuplicateFid(0x5015))
        );
        assert!(s.set_pin(1, b"12345", 3).is_err());
        assert!(s.set_pin(1, b"12345a", 3).is_err());
        assert!(s.set_pin(3, b"1234567", 10).is_err());
        assert!(s.set_pin(4, b"123456", 3).is_err());
        assert!(s.set_pin(1, b"123456", 3).is_ok());
        assert_eq!(s.pin_tries_left(1), Some(3));
    }

    #[test]
    fn debug_never_shows_pins() {
        let mut s = CardState::new("123");
        s.set_pin(1, b"987123", 3).unwrap();
        let text = format!("{s:?}");
        assert!(!text.contains("987123") && !text.contains("393837313233"));
    }

    #[test]
    fn load_reports_missing_and_corrupt_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("card.json");
        assert!(matches!(
            CardState::load(&path),
            Err(StateError::Missing(_))
        ));
        fs::write(&path, b"{ not json").unwrap();
        assert!(matches!(
            CardState::load(&path),
            Err(StateError::Corrupt { .. })
        ));
        let mut s = CardState::new("42");
        s.set_pin(1, b"123456", 3).unwrap();
        s.save_atomic(&path).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        fs::write(
            &path,
            text.replace("\"tries_left\": 3", "\"tries_left\": 9"),
        )
        .unwrap();
        assert!(matches!(
            CardState::load(&path),
            Err(StateError::Corrupt { .. })
        ));
    }

    #[test]
    fn an_idprime_card_from_before_the_puk_is_refused_not_misread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("card.json");
        let mut s = CardState::new_layout("42", Layout::Idprime, vec![0x3B, 0x00]);
        s.set_pin(IDPRIME_PIN1_REF, b"123456", 3).unwrap();
        s.save_atomic(&path).unwrap();
        let refused = CardState::load(&path);
        assert!(
            matches!(&refused, Err(StateError::Corrupt { reason, .. }) if reason.contains("PUK")),
            "{:?}",
            refused.err()
        );
        s.set_pin(IDPRIME_PUK_REF, b"12345678", 10).unwrap();
        s.save_atomic(&path).unwrap();
        assert_eq!(
            CardState::load(&path).unwrap().pin_tries_left(0x85),
            Some(10)
        );
    }

    #[test]
    fn save_leaves_no_temp_files_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("card.json");
        let mut s = CardState::new("1234");
        s.add_ef(0x3F00, 0x2F00, Some(0x1E), b"hello".to_vec(), 100)
            .unwrap();
        s.set_pin(3, b"12345678", 10).unwrap();
        s.save_atomic(&path).unwrap();
        s.save_atomic(&path).unwrap();
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
        let back = CardState::load(&path).unwrap();
        assert_eq!(back.ef_content(0x3F00, 0x2F00), Some(&b"hello"[..]));
        assert_eq!(back.pin_tries_left(3), Some(10));
        assert_eq!(back.serial(), "1234");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the card file must be private");
        }
    }
}
