//! Writing and removing a certificate pair on an IDPrime card, and telling our half-made key
//! from the holder's, in the crash-safe orders of docs/domain.md "Our extensions" [ours]:
//! the index is the commit point of both. A write lists the certificate last (its record,
//! then the count byte); a removal rewrites the index without the pairs in one chained write
//! first, then clears what only pointed at them.

use super::card_files::{self, Index, path};
use crate::apdu::{Command, StatusWord};
use crate::card::files::{self, FileCache, write_status};
use crate::card::{CardError, KeySlot};
use crate::channel::Channel;
use crate::idprime::extensions;
use crate::idprime::files::{self as format, CertKind, IndexRecord};

/// The container of `slot` (every slot of ours has one).
fn container(slot: KeySlot) -> Result<u8, CardError> {
    extensions::container_of_slot(slot.number())
        .ok_or_else(|| CardError::Malformed(format!("{slot} has no IDPrime container")))
}

fn kind_of(n: u8) -> CertKind {
    if n % 2 == 0 {
        CertKind::KeyExchange
    } else {
        CertKind::Signature
    }
}

/// See [`crate::card::Card::write_certificate`]: the file (created at its size), the key map
/// and cmapfile records, the index record and last the count byte. The label is not stored:
/// an IDPrime card names certificates by container. Needs PIN1 verified.
pub(crate) fn write_certificate(
    ch: &mut Channel<'_>,
    cache: &mut FileCache,
    slot: KeySlot,
    cert_der: &[u8],
) -> Result<(), CardError> {
    let n = container(slot)?;
    let index = Index::read(ch, cache)?;
    if index.names_container(n) {
        // The workflows write only into a slot that lists no certificate.
        return Err(CardError::SlotOccupied(slot));
    }
    let file = format::compressed_cert(cert_der)
        .ok_or_else(|| CardError::Malformed("the certificate is too long for the card".into()))?;
    let size = u16::try_from(file.len())
        .map_err(|_| CardError::Malformed("the certificate is too long for the card".into()))?;
    let fid = extensions::cert_fid(n);

    // 1. The file, which nothing names yet. One left by a write cut short before the index
    // named it is ours and is made again.
    let create = Command::create_file(&extensions::create_file_data(fid, size));
    let mut r = ch.exchange(&create)?;
    if r.sw == StatusWord::Other(extensions::SW_FILE_EXISTS) {
        delete_file(ch, cache, fid)?;
        r = ch.exchange(&create)?;
    }
    write_status(r.sw, "CREATE FILE")?;
    files::update_ef(ch, cache, &path(fid), &file)?;
    cache.learn(&path(fid), file.clone());

    // 2. Its key map record, 3. its cmapfile record under our GUID.
    let kind = kind_of(n);
    let pin_index = match kind {
        CertKind::KeyExchange => 1,
        CertKind::Signature => 2,
    };
    let keyref = format::keyref_record(format::key_reference(n), n, pin_index);
    card_files::write_record(
        ch,
        cache,
        format::FID_KEYREFS,
        format::KEYREF_RECORD_LEN,
        n,
        &keyref,
    )?;
    let serial = card_files::guid_serial(&card_files::card_id(ch, cache)?);
    let cmap = format::cmap_record(
        &format::container_guid(&serial, n),
        kind,
        crate::layout::RSA_BITS as u16,
    );
    card_files::write_record(
        ch,
        cache,
        format::FID_CMAPFILE,
        format::CMAP_RECORD_LEN,
        n,
        &cmap,
    )?;

    // 4. The index record past the counted ones, 5. the count: the commit point.
    let count = index.records.len();
    let record = format::index_record(fid, size, &format::cert_name(kind, n), "mscp")
        .ok_or_else(|| CardError::Malformed("index record".into()))?;
    let index_path = path(format::FID_INDEX);
    files::update_ef_at(
        ch,
        cache,
        &index_path,
        1 + format::INDEX_RECORD_LEN * count,
        &record,
    )?;
    let new_count = u8::try_from(count + 1)
        .map_err(|_| CardError::Malformed("more than 255 index records".into()))?;
    files::update_ef_at(ch, cache, &index_path, 0, &[new_count])
}

/// See [`crate::card::Card::delete_pairs`]: the index without the pairs, in one write padded to
/// its old length (all of them go at once), then their key map and cmapfile records zeroed,
/// their files and their keys deleted. What is already gone is no error: a resumed removal
/// finishes what a pulled one began. Needs PIN1 verified.
pub(crate) fn delete_pairs(
    ch: &mut Channel<'_>,
    cache: &mut FileCache,
    slots: &[KeySlot],
) -> Result<(), CardError> {
    let containers: Vec<u8> = slots
        .iter()
        .map(|&s| container(s))
        .collect::<Result<_, _>>()?;
    let index = Index::read(ch, cache)?;
    let named = |r: &IndexRecord| {
        containers.iter().any(|&n| {
            r.certificate().is_some_and(|(_, c)| c == n) || r.fid == extensions::cert_fid(n)
        })
    };
    if index.records.iter().any(named) {
        let kept: Vec<IndexRecord> = index
            .records
            .iter()
            .filter(|r| !named(r))
            .cloned()
            .collect();
        let mut encoded = Index::encode(&kept)?;
        if encoded.len() < index.len {
            encoded.resize(index.len, 0);
        }
        let index_path = path(format::FID_INDEX);
        files::update_ef(ch, cache, &index_path, &encoded)?;
        cache.learn(&index_path, encoded);
    }

    for &n in &containers {
        clear_record(ch, cache, format::FID_KEYREFS, format::KEYREF_RECORD_LEN, n)?;
        clear_record(ch, cache, format::FID_CMAPFILE, format::CMAP_RECORD_LEN, n)?;
        delete_file(ch, cache, extensions::cert_fid(n))?;
    }
    for &slot in slots {
        let r = ch.exchange(&Command::delete_key(format::key_reference(container(
            slot,
        )?)))?;
        match r.sw {
            // Already gone: a resumed removal.
            StatusWord::ReferenceNotFound => {}
            sw => write_status(sw, "DELETE KEY")?,
        }
    }
    Ok(())
}

/// Zero record `n` of a positional file if it holds anything.
fn clear_record(
    ch: &mut Channel<'_>,
    cache: &mut FileCache,
    fid: u16,
    record_len: usize,
    n: u8,
) -> Result<(), CardError> {
    let content = card_files::optional(ch, cache, fid)?;
    match card_files::record(&content, record_len, n) {
        Some(record) if record.iter().any(|&b| b != 0) => files::update_ef_at(
            ch,
            cache,
            &path(fid),
            usize::from(n) * record_len,
            &vec![0; record_len],
        ),
        _ => Ok(()),
    }
}

/// DELETE FILE; a file that is not there is no error.
fn delete_file(ch: &mut Channel<'_>, cache: &mut FileCache, fid: u16) -> Result<(), CardError> {
    cache.forget(&path(fid));
    let r = ch.exchange(&Command::delete_file(fid))?;
    match r.sw {
        StatusWord::Ok | StatusWord::FileNotFound => Ok(()),
        sw => write_status(sw, "DELETE FILE"),
    }
}

/// Whether the key of `slot` is ours and unfinished, as docs/domain.md "Whose key" says: no
/// index record names its container, and its cmapfile record is empty or holds the GUID we
/// write there. Reading the key itself is the caller's.
pub(crate) fn key_unclaimed(
    ch: &mut Channel<'_>,
    cache: &mut FileCache,
    slot: KeySlot,
) -> Result<bool, CardError> {
    let n = container(slot)?;
    if Index::read(ch, cache)?.names_container(n) {
        return Ok(false);
    }
    let cmap = card_files::optional(ch, cache, format::FID_CMAPFILE)?;
    let guid = card_files::record(&cmap, format::CMAP_RECORD_LEN, n).and_then(format::cmap_guid);
    Ok(match guid {
        None => true,
        Some(guid) => {
            let serial = card_files::guid_serial(&card_files::card_id(ch, cache)?);
            guid == format::container_guid(&serial, n)
        }
    })
}
