//! The IDPrime card's own files as the apdu backend reads and writes them: the index (which
//! names every other file), cardid, the key map 0005 and cmapfile, whose records are
//! positional (container N's at N × the record length). Files are selected by FID and kept
//! in the session's [`FileCache`] like the PKCS#15 layout's.

use crate::card::CardError;
use crate::card::files::{self, FileCache, hex};
use crate::channel::Channel;
use crate::idprime::extensions;
use crate::idprime::files::{self as format, CertKind, IndexRecord};

/// How a file of the applet is named to [`files`]: its FID (the applet has no DFs).
pub(super) fn path(fid: u16) -> [u8; 2] {
    fid.to_be_bytes()
}

/// The index as read: its records and its length on the card (a rewrite is padded to it).
pub(super) struct Index {
    pub(super) records: Vec<IndexRecord>,
    pub(super) len: usize,
}

impl Index {
    pub(super) fn read(ch: &mut Channel<'_>, cache: &mut FileCache) -> Result<Index, CardError> {
        let bytes = files::read_ef(ch, cache, &path(format::FID_INDEX))?;
        let records = format::parse_index(&bytes)
            .map_err(|e| CardError::Malformed(format!("index 0101: {e}")))?;
        Ok(Index {
            records,
            len: bytes.len(),
        })
    }

    /// The certificates the index lists: record, kind and container number.
    pub(super) fn certificates(&self) -> impl Iterator<Item = (&IndexRecord, CertKind, u8)> {
        self.records
            .iter()
            .filter_map(|r| r.certificate().map(|(kind, n)| (r, kind, n)))
    }

    /// Whether any record names container `index`'s certificate, by name or by our FID.
    pub(super) fn names_container(&self, index: u8) -> bool {
        self.records.iter().any(|r| {
            r.certificate().is_some_and(|(_, n)| n == index) || r.fid == extensions::cert_fid(index)
        })
    }

    /// The index as the card stores it: the count, then the records.
    pub(super) fn encode(records: &[IndexRecord]) -> Result<Vec<u8>, CardError> {
        let count = u8::try_from(records.len())
            .map_err(|_| CardError::Malformed("more than 255 index records".into()))?;
        let mut out = vec![count];
        for r in records {
            let record = format::index_record(r.fid, r.size, &r.name, &r.dir).ok_or_else(|| {
                CardError::Malformed(format!("index record {:?} does not fit", r.name))
            })?;
            out.extend_from_slice(&record);
        }
        Ok(out)
    }
}

/// The cardid file (16 bytes, the token serial OpenSC shows).
pub(super) fn card_id(ch: &mut Channel<'_>, cache: &mut FileCache) -> Result<Vec<u8>, CardError> {
    files::read_ef(ch, cache, &path(format::FID_CARDID))
}

/// The serial our GUIDs derive from: cardid's hex digits, as personalisation reads them.
pub(super) fn guid_serial(card_id: &[u8]) -> String {
    hex(card_id)
}

/// A file that may be absent on a card from elsewhere (0005 and cmapfile are optional before
/// OpenSC 0.24): its content, or empty.
pub(super) fn optional(
    ch: &mut Channel<'_>,
    cache: &mut FileCache,
    fid: u16,
) -> Result<Vec<u8>, CardError> {
    Ok(files::read_ef_if_present(ch, cache, &path(fid))?.unwrap_or_default())
}

/// Record `n` of a positional file's content, if the content reaches that far.
pub(super) fn record(content: &[u8], record_len: usize, n: u8) -> Option<&[u8]> {
    let at = usize::from(n) * record_len;
    content.get(at..at + record_len)
}

/// Write record `n` of the positional file `fid`, filling any gap before it with zeros (the
/// card only writes from offsets inside or at the end of a file's content).
pub(super) fn write_record(
    ch: &mut Channel<'_>,
    cache: &mut FileCache,
    fid: u16,
    record_len: usize,
    n: u8,
    record: &[u8],
) -> Result<(), CardError> {
    let content = files::read_ef(ch, cache, &path(fid))?;
    let at = usize::from(n) * record_len;
    if content.len() >= at {
        return files::update_ef_at(ch, cache, &path(fid), at, record);
    }
    let mut data = vec![0u8; at - content.len()];
    data.extend_from_slice(record);
    files::update_ef_at(ch, cache, &path(fid), content.len(), &data)
}
