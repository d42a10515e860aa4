//! Reading and writing the application's files, and the directory updates that commit a
//! certificate pair.
//!
//! Directory files (PrKDF, CDF) are rewritten whole in one chained UPDATE BINARY, padded with
//! zeros to at least their old length: the card applies a chain all at once, so a pull leaves
//! either the old or the new directory, never a mix.
//!
//! Files of our layout are read and written by short EF identifier (P1 bit 8), which selects
//! the file in the same APDU. What the session read or wrote is kept in a [`FileCache`], so a
//! file is read from the card once per session rather than once per operation.

use crate::apdu::{Command, MAX_SHORT_LE, StatusWord};
use crate::card::{CardError, KeySlot, PinKind};
use crate::channel::Channel;
use crate::layout::{self, app_path};
use crate::pkcs15::{self, CertificateObject, OdfEntry, OdfKind, PrivateKeyObject};

/// The application's files as this session last read or wrote them, by path, so each is read
/// from the card once per session (an upgrade reads the directory files in nearly every
/// operation).
///
/// It assumes that no other program rewrites the card's files between two of our transactions
/// without the card being reset (PIN counters, which other programs do change, are never
/// kept). What it cannot be sure of it forgets: a file's entry goes before every write to it
/// and comes back only once the whole write succeeded, and `SithsCard` clears everything after
/// any transport error (a reset by another program, a pulled card, a pcscd restart, another
/// card in the reader).
#[derive(Debug)]
pub(crate) struct FileCache {
    enabled: bool,
    files: std::collections::HashMap<FileKey, Vec<u8>>,
}

/// How [`FileCache`] names a file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum FileKey {
    Sfi(u8),
    Path(Vec<u8>),
}

impl FileCache {
    /// A cache that keeps files; `enabled: false` keeps nothing (see
    /// `SithsCard::without_session_cache`).
    pub(crate) fn new(enabled: bool) -> FileCache {
        FileCache {
            enabled,
            files: Default::default(),
        }
    }

    /// Forget everything: the card may have changed.
    pub(crate) fn clear(&mut self) {
        self.files.clear();
    }

    /// One key per file, however a path names it: a file of our layout by its short
    /// identifier (the way it is read and written), any other by its path without the MF.
    fn key(path: &[u8]) -> FileKey {
        match known_sfi(path) {
            Some(sfi) => FileKey::Sfi(sfi),
            None => FileKey::Path(
                path.strip_prefix(&layout::FID_MF.to_be_bytes()[..])
                    .unwrap_or(path)
                    .to_vec(),
            ),
        }
    }

    pub(crate) fn get(&self, path: &[u8]) -> Option<&Vec<u8>> {
        self.files.get(&Self::key(path))
    }

    /// The file's whole content as it is on the card now.
    pub(crate) fn learn(&mut self, path: &[u8], content: Vec<u8>) {
        if self.enabled {
            self.files.insert(Self::key(path), content);
        }
    }

    /// The file is about to change (or may have): read it from the card next time.
    pub(crate) fn forget(&mut self, path: &[u8]) {
        self.files.remove(&Self::key(path));
    }
}

/// The short EF identifier of a file of our layout, so one APDU selects and reads it.
/// A file in DF.PKCS15 is named by its FID alone (relative to the application) or by its path
/// with or without the MF.
fn known_sfi(path: &[u8]) -> Option<u8> {
    let rel = path
        .strip_prefix(&layout::FID_MF.to_be_bytes()[..])
        .unwrap_or(path);
    let fid = match (path.len(), rel) {
        (2, [a, b]) => u16::from_be_bytes([*a, *b]),
        (_, [d1, d2, a, b]) if u16::from_be_bytes([*d1, *d2]) == layout::FID_DF_PKCS15 => {
            u16::from_be_bytes([*a, *b])
        }
        _ => return None,
    };
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
pub(crate) fn select_path(ch: &mut Channel<'_>, path: &[u8]) -> Result<(), CardError> {
    if select_if_present(ch, path)? {
        Ok(())
    } else {
        Err(missing(path))
    }
}

/// Like [`select_path`]; `false` when the card has no such file.
fn select_if_present(ch: &mut Channel<'_>, path: &[u8]) -> Result<bool, CardError> {
    let rel = path
        .strip_prefix(&layout::FID_MF.to_be_bytes()[..])
        .unwrap_or(path);
    let r = ch.exchange(&Command::select_path(rel))?;
    match r.sw {
        StatusWord::Ok => Ok(true),
        StatusWord::FileNotFound => Ok(false),
        sw => Err(CardError::Refused {
            operation: "SELECT",
            sw,
        }),
    }
}

fn missing(path: &[u8]) -> CardError {
    CardError::Malformed(format!("file {} is missing", hex(path)))
}

/// A whole transparent EF: from the session's cache, else read from the card and kept.
pub(crate) fn read_ef(
    ch: &mut Channel<'_>,
    cache: &mut FileCache,
    path: &[u8],
) -> Result<Vec<u8>, CardError> {
    read_ef_if_present(ch, cache, path)?.ok_or_else(|| missing(path))
}

/// Like [`read_ef`]; `None` when the card has no such file (an absence is not kept).
pub(crate) fn read_ef_if_present(
    ch: &mut Channel<'_>,
    cache: &mut FileCache,
    path: &[u8],
) -> Result<Option<Vec<u8>>, CardError> {
    if let Some(content) = cache.get(path) {
        return Ok(Some(content.clone()));
    }
    let Some(content) = read_ef_from_card(ch, path)? else {
        return Ok(None);
    };
    cache.learn(path, content.clone());
    Ok(Some(content))
}

/// Read a whole transparent EF. With a known short identifier the first READ BINARY also
/// selects the file, saving an APDU per file.
fn read_ef_from_card(ch: &mut Channel<'_>, path: &[u8]) -> Result<Option<Vec<u8>>, CardError> {
    let mut content = Vec::new();
    let first = match known_sfi(path) {
        Some(sfi) => Command::read_binary_sfi(sfi, 0, MAX_SHORT_LE),
        None => {
            if !select_if_present(ch, path)? {
                return Ok(None);
            }
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
            StatusWord::FileNotFound => return Ok(None),
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
    Ok(Some(content))
}

/// Overwrite an EF from offset 0 in one chained (all-or-nothing) write; the EF is the current
/// one afterwards. A file of our layout is addressed by its short identifier, which selects it
/// in the same APDU (every link of the chain carries it). The cache forgets the file: the
/// caller knows what the whole file holds now and tells the cache.
pub(crate) fn update_ef(
    ch: &mut Channel<'_>,
    cache: &mut FileCache,
    path: &[u8],
    data: &[u8],
) -> Result<(), CardError> {
    cache.forget(path);
    let command = match known_sfi(path) {
        Some(sfi) => Command::update_binary_sfi(sfi, 0, data),
        None => {
            select_path(ch, path)?;
            Command::update_binary(0, data)
        }
    };
    let r = ch.exchange(&command)?;
    write_status(r.sw, "UPDATE BINARY")
}

/// UPDATE BINARY of `data` at `offset` into the EF at `path` (selected first), chained by
/// the channel when long, so the card applies it at once. What the cache held of the file is
/// patched once the write succeeded.
pub(crate) fn update_ef_at(
    ch: &mut Channel<'_>,
    cache: &mut FileCache,
    path: &[u8],
    offset: usize,
    data: &[u8],
) -> Result<(), CardError> {
    let before = cache.get(path).cloned();
    cache.forget(path);
    let at = u16::try_from(offset)
        .ok()
        .filter(|&o| o <= 0x7FFF)
        .ok_or_else(|| CardError::Malformed(format!("offset {offset} in {}", hex(path))))?;
    select_path(ch, path)?;
    let r = ch.exchange(&Command::update_binary(at, data))?;
    write_status(r.sw, "UPDATE BINARY")?;
    if let Some(mut content) = before {
        let end = offset + data.len();
        if content.len() < end {
            content.resize(end, 0);
        }
        content[offset..end].copy_from_slice(data);
        cache.learn(path, content);
    }
    Ok(())
}

pub(crate) fn write_status(sw: StatusWord, operation: &'static str) -> Result<(), CardError> {
    match sw {
        StatusWord::Ok => Ok(()),
        StatusWord::SecurityStatusNotSatisfied => Err(CardError::NotVerified(PinKind::Pin1)),
        StatusWord::NotEnoughMemory => Err(CardError::CardFull),
        StatusWord::ReferenceDataNotUsable => Err(CardError::CardDead),
        sw => Err(CardError::Refused { operation, sw }),
    }
}

/// The ODF.
pub(crate) fn read_odf(
    ch: &mut Channel<'_>,
    cache: &mut FileCache,
) -> Result<Vec<OdfEntry>, CardError> {
    let bytes = read_ef(ch, cache, &app_path(layout::FID_ODF))?;
    pkcs15::decode_odf(&bytes).map_err(|e| CardError::Malformed(format!("ODF: {e}")))
}

pub(crate) fn odf_path(odf: &[OdfEntry], kind: OdfKind) -> Result<Vec<u8>, CardError> {
    odf.iter()
        .find(|e| e.kind == kind)
        .map(|e| e.path.clone())
        .ok_or_else(|| CardError::Malformed(format!("the ODF lists no {kind:?}")))
}

/// Rewrite a directory file padded to its old length, so it never shrinks in a way that
/// needs a second write. Written whole, so the cache then knows it exactly.
fn rewrite_directory(
    ch: &mut Channel<'_>,
    cache: &mut FileCache,
    path: &[u8],
    old_len: usize,
    mut encoded: Vec<u8>,
) -> Result<(), CardError> {
    if encoded.len() < old_len {
        encoded.resize(old_len, 0);
    }
    update_ef(ch, cache, path, &encoded)?;
    cache.learn(path, encoded);
    Ok(())
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

/// The two directory files a pair is listed in, read (or taken from the cache) once per
/// operation and written back whole (see the module doc).
struct Directories {
    prkdf_path: Vec<u8>,
    prkdf_len: usize,
    keys: Vec<PrivateKeyObject>,
    cdf_path: Vec<u8>,
    cdf_len: usize,
    certs: Vec<CertificateObject>,
}

impl Directories {
    fn read(ch: &mut Channel<'_>, cache: &mut FileCache) -> Result<Directories, CardError> {
        let odf = read_odf(ch, cache)?;
        let prkdf_path = odf_path(&odf, OdfKind::PrivateKeys)?;
        let cdf_path = odf_path(&odf, OdfKind::Certificates)?;
        let prkdf = read_ef(ch, cache, &prkdf_path)?;
        let cdf = read_ef(ch, cache, &cdf_path)?;
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

    fn write_keys(&mut self, ch: &mut Channel<'_>, cache: &mut FileCache) -> Result<(), CardError> {
        self.keys.sort_by(|a, b| a.id.cmp(&b.id));
        let encoded = encoded(pkcs15::encode_prkdf(&self.keys))?;
        rewrite_directory(ch, cache, &self.prkdf_path, self.prkdf_len, encoded)
    }

    fn write_certs(
        &mut self,
        ch: &mut Channel<'_>,
        cache: &mut FileCache,
    ) -> Result<(), CardError> {
        self.certs.sort_by(|a, b| a.id.cmp(&b.id));
        let encoded = encoded(pkcs15::encode_cdf(&self.certs))?;
        rewrite_directory(ch, cache, &self.cdf_path, self.cdf_len, encoded)
    }
}

/// See [`crate::card::Card::write_certificate`]: the certificate file first, the CDF (the commit
/// point) last.
pub(crate) fn write_certificate(
    ch: &mut Channel<'_>,
    cache: &mut FileCache,
    key_slot: KeySlot,
    label: &str,
    cert_der: &[u8],
) -> Result<(), CardError> {
    let slot = key_slot.number();
    let mut dirs = Directories::read(ch, cache)?;

    // 1. The certificate file: invisible until the CDF names it. What an earlier certificate
    // left after the new one's end is erased (the file is the current EF after the update).
    let cert_path = app_path(layout::cert_fid(slot));
    update_ef(ch, cache, &cert_path, cert_der)?;
    let r = ch.exchange(&Command::erase_binary(cert_der.len() as u16))?;
    write_status(r.sw, "ERASE BINARY")?;
    cache.learn(&cert_path, cert_der.to_vec());

    // 2. The key entry, then 3. the certificate entry: the commit point.
    dirs.keys.retain(|k| k.id != [slot]);
    dirs.keys
        .push(key_object(slot, label, layout::RSA_BITS as u32));
    dirs.write_keys(ch, cache)?;

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
    dirs.write_certs(ch, cache)
}

/// See [`crate::card::Card::delete_pairs`]: the CDF entries first, so the pairs disappear in
/// one write, then the key entries, the certificate files and the keys themselves. A pair
/// already (partly) gone is no error: a resumed delete finishes what a pulled one began.
pub(crate) fn delete_pairs(
    ch: &mut Channel<'_>,
    cache: &mut FileCache,
    key_slots: &[KeySlot],
) -> Result<(), CardError> {
    let ids: Vec<[u8; 1]> = key_slots.iter().map(|s| s.id()).collect();
    let named = |id: &[u8]| ids.iter().any(|i| i[..] == *id);
    let mut dirs = Directories::read(ch, cache)?;
    let cert_paths: Vec<Vec<u8>> = dirs
        .certs
        .iter()
        .filter(|c| named(&c.id))
        .map(|c| c.path.clone())
        .collect();
    if !cert_paths.is_empty() {
        dirs.certs.retain(|c| !named(&c.id));
        dirs.write_certs(ch, cache)?;
    }
    if dirs.keys.iter().any(|k| named(&k.id)) {
        dirs.keys.retain(|k| !named(&k.id));
        dirs.write_keys(ch, cache)?;
    }

    for path in cert_paths {
        cache.forget(&path);
        let erase = match known_sfi(&path) {
            Some(sfi) => Command::erase_binary_sfi(sfi, 0),
            None => {
                select_path(ch, &path)?;
                Command::erase_binary(0)
            }
        };
        let r = ch.exchange(&erase)?;
        write_status(r.sw, "ERASE BINARY")?;
        cache.learn(&path, Vec::new());
    }

    for slot in key_slots {
        let r = ch.exchange(&Command::delete_key(slot.number()))?;
        match r.sw {
            // Already gone: a resumed delete.
            StatusWord::ReferenceNotFound => {}
            sw => write_status(sw, "DELETE KEY")?,
        }
    }
    Ok(())
}

/// Whether the files leave the key in `key_slot` unclaimed, as [`crate::card::Card::unfinished_key`]
/// needs: no certificate entry names it and the PrKDF lists it under none but `labels` (or not at
/// all: our GENERATE writes no directory entry, the certificate write does). Reading the key
/// itself is a key command, not a file's business.
pub(crate) fn key_unclaimed(
    ch: &mut Channel<'_>,
    cache: &mut FileCache,
    key_slot: KeySlot,
    labels: &[String],
) -> Result<bool, CardError> {
    let dirs = Directories::read(ch, cache)?;
    let listed: Vec<&PrivateKeyObject> = dirs
        .keys
        .iter()
        .filter(|k| k.key_reference == Some(i32::from(key_slot.number())) || k.id == key_slot.id())
        .collect();
    let named = dirs
        .certs
        .iter()
        .any(|c| c.id == key_slot.id() || listed.iter().any(|k| k.id == c.id));
    Ok(!named && listed.iter().all(|k| labels.contains(&k.label)))
}

fn encoded(r: Result<Vec<u8>, pkcs15::Pkcs15Error>) -> Result<Vec<u8>, CardError> {
    r.map_err(|e| CardError::Malformed(e.to_string()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_files_are_known_by_short_identifier_however_named() {
        let cdf = app_path(layout::FID_CDF);
        assert_eq!(known_sfi(&cdf), Some(layout::SFI_CDF));
        assert_eq!(
            known_sfi(&cdf[2..]),
            Some(layout::SFI_CDF),
            "without the MF"
        );
        assert_eq!(
            known_sfi(&cdf[4..]),
            Some(layout::SFI_CDF),
            "relative to the application"
        );
        let cert = app_path(layout::cert_fid(3));
        assert_eq!(known_sfi(&cert), Some(layout::cert_sfi(3)));
        // Under the MF, or in another DF: not ours.
        assert_eq!(known_sfi(&[0x3F, 0x00, 0x50, 0x34]), None);
        assert_eq!(known_sfi(&[0x3F, 0x00, 0x50, 0x16, 0x50, 0x34]), None);
        assert_eq!(known_sfi(&[0x3F, 0x00]), None);
        assert_eq!(known_sfi(&[0x50]), None);
        assert_eq!(known_sfi(&[]), None);
    }

    #[test]
    fn the_cache_keeps_one_entry_per_file_and_nothing_when_off() {
        let cdf = app_path(layout::FID_CDF);
        let mut cache = FileCache::new(true);
        cache.learn(&cdf, vec![1, 2]);
        assert_eq!(cache.get(&cdf[4..]), Some(&vec![1, 2]));
        cache.forget(&cdf[2..]);
        assert_eq!(cache.get(&cdf), None);
        let other = [0x3F, 0x00, 0x50, 0x16, 0x44, 0x01];
        cache.learn(&other, vec![3]);
        assert_eq!(cache.get(&other[2..]), Some(&vec![3]));
        cache.clear();
        assert_eq!(cache.get(&other), None);

        let mut off = FileCache::new(false);
        off.learn(&cdf, vec![1]);
        assert_eq!(off.get(&cdf), None);
    }
}
