//! Reading and writing the application's files, and the directory updates that commit a
//! certificate pair.
//!
//! Directory files (PrKDF, CDF) are rewritten whole in one chained UPDATE BINARY, padded with
//! zeros to at least their old length: the card applies a chain all at once, so a pull leaves
//! either the old or the new directory, never a mix.

use crate::apdu::{Command, MAX_SHORT_LE, StatusWord};
use crate::card::{CardError, KeySlot, PinKind, select_application};
use crate::channel::Channel;
use crate::layout;
use crate::pkcs15::{self, CertificateObject, OdfEntry, OdfKind, PrivateKeyObject};

/// Path of an EF in DF.PKCS15, from the MF.
pub(crate) fn app_path(fid: u16) -> Vec<u8> {
    let mut p = Vec::with_capacity(6);
    p.extend_from_slice(&layout::FID_MF.to_be_bytes());
    p.extend_from_slice(&layout::FID_DF_PKCS15.to_be_bytes());
    p.extend_from_slice(&fid.to_be_bytes());
    p
}

/// The short EF identifier of a file of our layout, so one APDU selects and reads it.
fn known_sfi(path: &[u8]) -> Option<u8> {
    let [.., a, b] = path else { return None };
    let fid = u16::from_be_bytes([*a, *b]);
    let in_app = path.len() == 2 || path.get(..path.len() - 2) == Some(&app_path(fid)[..4]);
    if !in_app {
        return None;
    }
    match fid {
        layout::FID_ODF => Some(layout::SFI_ODF),
        layout::FID_TOKEN_INFO => Some(layout::SFI_TOKEN_INFO),
        layout::FID_AODF => Some(layout::SFI_AODF),
        layout::FID_PRKDF => Some(layout::SFI_PRKDF),
        layout::FID_CDF => Some(layout::SFI_CDF),
        fid => layout::KEY_SLOTS
            .clone()
            .find(|&slot| layout::cert_fid(slot) == fid)
            .map(layout::cert_sfi),
    }
}

/// SELECT by path from the MF; the path may or may not start with 3F00.
fn select_path(ch: &mut Channel<'_>, path: &[u8]) -> Result<(), CardError> {
    let rel = path
        .strip_prefix(&layout::FID_MF.to_be_bytes()[..])
        .unwrap_or(path);
    let r = ch.exchange(&Command::select_path(rel))?;
    match r.sw {
        StatusWord::Ok => Ok(()),
        StatusWord::FileNotFound => Err(CardError::Malformed(format!(
            "file {} is missing",
            hex(path)
        ))),
        sw => Err(CardError::Refused {
            operation: "SELECT",
            sw,
        }),
    }
}

/// Read a whole transparent EF. With a known short identifier the first READ BINARY also
/// selects the file, saving an APDU per file.
pub(crate) fn read_ef(ch: &mut Channel<'_>, path: &[u8]) -> Result<Vec<u8>, CardError> {
    let mut content = Vec::new();
    let first = match known_sfi(path) {
        Some(sfi) => Command::read_binary_sfi(sfi, 0, MAX_SHORT_LE),
        None => {
            select_path(ch, path)?;
            Command::read_binary(0, MAX_SHORT_LE)
        }
    };
    let mut command = first;
    loop {
        let r = ch.exchange(&command)?;
        match r.sw {
            StatusWord::Ok | StatusWord::EndOfFile => {}
            // Past the end: the previous chunk was exactly the rest of the file.
            StatusWord::WrongP1P2 if !content.is_empty() => break,
            StatusWord::FileNotFound => {
                return Err(CardError::Malformed(format!(
                    "file {} is missing",
                    hex(path)
                )));
            }
            sw => {
                return Err(CardError::Refused {
                    operation: "READ BINARY",
                    sw,
                });
            }
        }
        let got = r.data.len();
        content.extend_from_slice(&r.data);
        if got < MAX_SHORT_LE || r.sw == StatusWord::EndOfFile {
            break;
        }
        if content.len() > 0x7FFF {
            return Err(CardError::Malformed("file larger than 32 KiB".into()));
        }
        command = Command::read_binary(content.len() as u16, MAX_SHORT_LE);
    }
    Ok(content)
}

/// Overwrite an EF from offset 0 in one chained (all-or-nothing) write.
fn update_ef(ch: &mut Channel<'_>, path: &[u8], data: &[u8]) -> Result<(), CardError> {
    select_path(ch, path)?;
    let r = ch.exchange(&Command::update_binary(0, data))?;
    write_status(r.sw, "UPDATE BINARY")
}

fn write_status(sw: StatusWord, operation: &'static str) -> Result<(), CardError> {
    match sw {
        StatusWord::Ok => Ok(()),
        StatusWord::SecurityStatusNotSatisfied => Err(CardError::NotVerified(PinKind::Pin1)),
        StatusWord::NotEnoughMemory => Err(CardError::CardFull),
        StatusWord::ReferenceDataNotUsable => Err(CardError::CardDead),
        sw => Err(CardError::Refused { operation, sw }),
    }
}

/// The ODF, read once per operation.
pub(crate) fn read_odf(ch: &mut Channel<'_>) -> Result<Vec<OdfEntry>, CardError> {
    let bytes = read_ef(ch, &app_path(layout::FID_ODF))?;
    pkcs15::decode_odf(&bytes).map_err(|e| CardError::Malformed(format!("ODF: {e}")))
}

pub(crate) fn odf_path(odf: &[OdfEntry], kind: OdfKind) -> Result<Vec<u8>, CardError> {
    odf.iter()
        .find(|e| e.kind == kind)
        .map(|e| e.path.clone())
        .ok_or_else(|| CardError::Malformed(format!("the ODF lists no {kind:?}")))
}

/// Rewrite a directory file padded to its old length, so it never shrinks in a way that
/// needs a second write.
fn rewrite_directory(
    ch: &mut Channel<'_>,
    path: &[u8],
    old_len: usize,
    mut encoded: Vec<u8>,
) -> Result<(), CardError> {
    if encoded.len() < old_len {
        encoded.resize(old_len, 0);
    }
    update_ef(ch, path, &encoded)
}

fn key_object(slot: u8, label: &str, modulus_bits: u32) -> PrivateKeyObject {
    let pin = layout::slot_pin(slot);
    let mut usage = pkcs15::KeyUsageFlags::default();
    if pin == layout::PIN1_REF {
        usage.sign = true;
        usage.decrypt = true;
    } else {
        usage.non_repudiation = true;
    }
    PrivateKeyObject {
        label: label.to_string(),
        flags: pkcs15::ObjectFlags {
            private: true,
            modifiable: false,
        },
        auth_id: Some(vec![pin]),
        id: vec![slot],
        usage,
        native: true,
        key_reference: Some(slot as i32),
        path: app_path(layout::FID_DF_PKCS15)[..4].to_vec(),
        modulus_length: modulus_bits,
    }
}

/// The two directory files a pair is listed in, read once per operation and written back
/// whole (see the module doc).
struct Directories {
    prkdf_path: Vec<u8>,
    prkdf_len: usize,
    keys: Vec<PrivateKeyObject>,
    cdf_path: Vec<u8>,
    cdf_len: usize,
    certs: Vec<CertificateObject>,
}

impl Directories {
    fn read(ch: &mut Channel<'_>) -> Result<Directories, CardError> {
        select_application(ch)?;
        let odf = read_odf(ch)?;
        let prkdf_path = odf_path(&odf, OdfKind::PrivateKeys)?;
        let cdf_path = odf_path(&odf, OdfKind::Certificates)?;
        let prkdf = read_ef(ch, &prkdf_path)?;
        let cdf = read_ef(ch, &cdf_path)?;
        Ok(Directories {
            keys: pkcs15::decode_prkdf(&prkdf)
                .map_err(|e| CardError::Malformed(format!("PrKDF: {e}")))?,
            certs: pkcs15::decode_cdf(&cdf)
                .map_err(|e| CardError::Malformed(format!("CDF: {e}")))?,
            prkdf_path,
            prkdf_len: prkdf.len(),
            cdf_path,
            cdf_len: cdf.len(),
        })
    }

    fn write_keys(&mut self, ch: &mut Channel<'_>) -> Result<(), CardError> {
        self.keys.sort_by(|a, b| a.id.cmp(&b.id));
        let encoded = encoded(pkcs15::encode_prkdf(&self.keys))?;
        rewrite_directory(ch, &self.prkdf_path, self.prkdf_len, encoded)
    }

    fn write_certs(&mut self, ch: &mut Channel<'_>) -> Result<(), CardError> {
        self.certs.sort_by(|a, b| a.id.cmp(&b.id));
        let encoded = encoded(pkcs15::encode_cdf(&self.certs))?;
        rewrite_directory(ch, &self.cdf_path, self.cdf_len, encoded)
    }
}

/// See [`crate::card::Card::write_certificate`]: the certificate file first, the CDF (the commit
/// point) last.
pub(crate) fn write_certificate(
    ch: &mut Channel<'_>,
    key_slot: KeySlot,
    label: &str,
    cert_der: &[u8],
) -> Result<(), CardError> {
    let slot = key_slot.number();
    let mut dirs = Directories::read(ch)?;

    // 1. The certificate file: invisible until the CDF names it.
    let cert_path = app_path(layout::cert_fid(slot));
    update_ef(ch, &cert_path, cert_der)?;
    let r = ch.exchange(&Command::erase_binary(cert_der.len() as u16))?;
    write_status(r.sw, "ERASE BINARY")?;

    // 2. The key entry, then 3. the certificate entry: the commit point.
    dirs.keys.retain(|k| k.id != [slot]);
    dirs.keys
        .push(key_object(slot, label, layout::RSA_BITS as u32));
    dirs.write_keys(ch)?;

    dirs.certs.retain(|c| c.id != [slot]);
    dirs.certs.push(CertificateObject {
        label: label.to_string(),
        flags: pkcs15::ObjectFlags {
            private: false,
            modifiable: false,
        },
        id: vec![slot],
        authority: false,
        path: cert_path,
    });
    dirs.write_certs(ch)
}

/// See [`crate::card::Card::delete_pair`]: the CDF entry first, so the pair disappears in one
/// write, then the key entry, the certificate file and the key itself.
pub(crate) fn delete_pair(ch: &mut Channel<'_>, key_slot: KeySlot) -> Result<(), CardError> {
    let slot = key_slot.number();
    let mut dirs = Directories::read(ch)?;
    let cert_paths: Vec<Vec<u8>> = dirs
        .certs
        .iter()
        .filter(|c| c.id == [slot])
        .map(|c| c.path.clone())
        .collect();
    if !cert_paths.is_empty() {
        dirs.certs.retain(|c| c.id != [slot]);
        dirs.write_certs(ch)?;
    }
    if dirs.keys.iter().any(|k| k.id == [slot]) {
        dirs.keys.retain(|k| k.id != [slot]);
        dirs.write_keys(ch)?;
    }

    for path in cert_paths {
        select_path(ch, &path)?;
        let r = ch.exchange(&Command::erase_binary(0))?;
        write_status(r.sw, "ERASE BINARY")?;
    }

    let r = ch.exchange(&Command::delete_key(slot))?;
    match r.sw {
        // Already gone: a resumed delete.
        StatusWord::ReferenceNotFound => Ok(()),
        sw => write_status(sw, "DELETE KEY"),
    }
}

fn encoded(r: Result<Vec<u8>, pkcs15::Pkcs15Error>) -> Result<Vec<u8>, CardError> {
    r.map_err(|e| CardError::Malformed(e.to_string()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}
