//! The overview of an IDPrime card: certificates from the index and their compressed files,
//! keys from the key map 0005, the token label from tinfo, the card number from cardid, and
//! the tries left of PIN1 (`0x11`), PIN2 (`0x83`, absent on a card that came with one code)
//! and our PUK (`0x85`).

use super::card_files::{self, Index, path};
use crate::card::dialect::Dialect;
use crate::card::files::{self, FileCache};
use crate::card::overview::{CardCertificate, CardOverview, KeyEntry, pin_status_at};
use crate::card::{CardError, CardSource, KeySlot, PinKind};
use crate::channel::Channel;
use crate::idprime::extensions;
use crate::idprime::files::{self as format, CertKind};
use crate::pki::CertInfo;

/// One container's key as the key map lists it.
struct MappedKey {
    index: u8,
    pin: PinKind,
}

/// Read the overview. Files come from the session's cache where it has them; the tries left
/// are always asked.
pub(crate) fn read(
    ch: &mut Channel<'_>,
    cache: &mut FileCache,
    source: &CardSource,
) -> Result<CardOverview, CardError> {
    let index = Index::read(ch, cache)?;
    let card_id = card_files::card_id(ch, cache)?;
    let label = match index
        .records
        .iter()
        .find(|r| r.name == "tinfo" && r.dir == "p11")
    {
        Some(r) => format::parse_tinfo(&files::read_ef(ch, cache, &path(r.fid))?),
        None => None,
    };
    let keymap = card_files::optional(ch, cache, format::FID_KEYREFS)?;
    let mapped: Vec<MappedKey> = keymap
        .chunks_exact(format::KEYREF_RECORD_LEN)
        .filter(|r| r[0] & 0x01 != 0)
        .filter_map(|r| {
            Some(MappedKey {
                index: r[1].checked_sub(format::KEY_REF_BASE)?,
                // PIN index 1 is PIN 0x11; any other the signature PIN [public].
                pin: if r[7] == 1 {
                    PinKind::Pin1
                } else {
                    PinKind::Pin2
                },
            })
        })
        .collect();
    let ours = card_files::guid_serial(&card_id);
    // The container map says only whose a key without a certificate is (and the key size,
    // which is RSA-2048 on ours): read it only when such a key is listed.
    let cmap = if mapped.iter().any(|k| !index.names_container(k.index)) {
        card_files::optional(ch, cache, format::FID_CMAPFILE)?
    } else {
        Vec::new()
    };

    let mut certificates = Vec::new();
    for (record, kind, n) in index.certificates() {
        let file = files::read_ef(ch, cache, &path(record.fid))?;
        // OpenSC 0.23 reads only compressed files; later versions and other writers may
        // leave the DER as it is.
        let der = format::decompress_cert(&file).unwrap_or(file);
        let info = CertInfo::from_der(&der).map_err(|e| e.to_string());
        certificates.push(CardCertificate {
            id: container_id(n),
            label: record.name.clone(),
            path: path(record.fid).to_vec(),
            slot: slot_of(n),
            pin: Some(pin_of(&mapped, n, kind)),
            der: info.as_ref().map_or(der, |i| i.der.clone()),
            info,
        });
    }

    let keys = mapped
        .iter()
        .map(|k| {
            let slot = slot_of(k.index);
            let listed = index.names_container(k.index);
            let guid = card_files::record(&cmap, format::CMAP_RECORD_LEN, k.index)
                .and_then(format::cmap_guid);
            // A key whose certificate write was cut short, under our own GUID, carries the
            // label the workflows know as ours; any other is named as its container.
            let label = match slot {
                Some(slot)
                    if !listed
                        && guid.as_deref() == Some(&*format::container_guid(&ours, k.index)) =>
                {
                    slot.generation_label()
                }
                _ => format!("container {:02}", k.index),
            };
            KeyEntry {
                id: container_id(k.index),
                label,
                slot,
                pin: Some(k.pin),
                modulus_bits: guid_key_bits(&cmap, k.index)
                    .unwrap_or(crate::layout::RSA_BITS as u32),
            }
        })
        .collect();

    let mut pins = Vec::new();
    for kind in [PinKind::Pin1, PinKind::Pin2, PinKind::Puk] {
        if let Some(status) = pin_status_at(ch, kind, Dialect::Idprime.pin_reference(kind))? {
            pins.push(status);
        }
    }

    Ok(CardOverview {
        reader: match source {
            CardSource::Reader { name, .. } => name.clone(),
            other => other.describe(),
        },
        source: source.clone(),
        serial: format::card_number(&card_id),
        label,
        manufacturer: None,
        pins,
        keys,
        certificates,
    })
}

/// The slot of container `n`, when it is one of ours (0-7).
fn slot_of(n: u8) -> Option<KeySlot> {
    extensions::slot_of_container(n).and_then(KeySlot::new)
}

/// The id that links a container's key and certificate: our slot's id where the container is
/// one of ours, so `certs` names pairs alike on both layouts; else `00` and the container.
fn container_id(n: u8) -> Vec<u8> {
    match slot_of(n) {
        Some(slot) => slot.id().to_vec(),
        None => vec![0x00, n],
    }
}

/// The PIN of container `n`'s key: as the key map says, else by the certificate's kind.
fn pin_of(mapped: &[MappedKey], n: u8, kind: CertKind) -> PinKind {
    mapped
        .iter()
        .find(|k| k.index == n)
        .map(|k| k.pin)
        .unwrap_or(match kind {
            CertKind::KeyExchange => PinKind::Pin1,
            CertKind::Signature => PinKind::Pin2,
        })
}

/// The key size container `n`'s cmapfile record gives (signature, else key exchange).
fn guid_key_bits(cmap: &[u8], n: u8) -> Option<u32> {
    let r = card_files::record(cmap, format::CMAP_RECORD_LEN, n)?;
    let sig = u16::from_le_bytes([r[82], r[83]]);
    let kx = u16::from_le_bytes([r[84], r[85]]);
    [sig, kx].into_iter().find(|&b| b != 0).map(u32::from)
}
