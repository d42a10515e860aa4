//! The IDPrime card's files and their byte layouts, as stock OpenSC reads them (see
//! docs/domain.md "The IDPrime layout"): the index 0101, cardid 0201, cmapfile 0204, the key
//! reference map 0005, compressed certificate files and the token label `tinfo`.

use std::io::Write;

/// The IDPrime applet [public: card-idprime.c `idprime_path`].
pub const AID: [u8; 11] = [
    0xA0, 0x00, 0x00, 0x00, 0x18, 0x80, 0x00, 0x00, 0x00, 0x06, 0x62,
];

/// ATR of an IDPrime 940 [public: matches card-idprime.c's masked entry in 0.23 and "Gemalto
/// IDPrime 940" from 0.24 on]. T=0 only, as the real card offers.
pub(crate) const ATR_940: [u8; 20] = [
    0x3B, 0x7F, 0x96, 0x00, 0x00, 0x80, 0x31, 0x80, 0x65, 0xB0, 0x85, 0x59, 0x56, 0xFB, 0x12, 0x0F,
    0xFE, 0x82, 0x90, 0x00,
];

/// The index of all files [public: `idprime_select_index`].
pub(crate) const FID_INDEX: u16 = 0x0101;
/// The 16-byte card id, OpenSC's token serial [public: `idprime_get_serial`].
pub(crate) const FID_CARDID: u16 = 0x0201;
/// The container map, mandatory from OpenSC 0.24 [public].
pub(crate) const FID_CMAPFILE: u16 = 0x0204;
/// The key reference map, mandatory for the 940 from OpenSC 0.24 [public].
pub(crate) const FID_KEYREFS: u16 = 0x0005;
/// Where the token label lives [ours: any FID the index names].
pub(crate) const FID_TINFO: u16 = 0x0206;

/// One index record: FID, size, name, directory [public: `idprime_process_index`].
pub(crate) const INDEX_RECORD_LEN: usize = 21;
/// One cmapfile record, the minidriver's CONTAINER_MAP_RECORD [public].
pub(crate) const CMAP_RECORD_LEN: usize = 86;
/// One 0005 record: valid, key reference, certificate index, …, PIN index [public].
pub(crate) const KEYREF_RECORD_LEN: usize = 8;
/// The cardid file's length [public: `IDPRIME_CARDID_LEN`].
pub(crate) const CARDID_LEN: usize = 16;
/// The CPLC answer: tag `9F7F`, length `2A`, 42 bytes [public: `CPLC_LENGTH` 45].
pub(crate) const CPLC_LEN: usize = 45;

/// The authentication PIN (PIN1) [public: pkcs15-idprime.c].
pub const PIN1_REF: u8 = 0x11;
/// The "Digital Signature PIN" (PIN2) [public: 0.24+ maps PIN index 2 to it].
pub(crate) const PIN2_REF: u8 = 0x83;
/// PINs arrive padded with `00` to 16 bytes on an OSv4 card [public].
pub(crate) const PIN_LEN: usize = 16;
/// The key reference of the certificate named `…NN` is this plus N [public: OSv4].
pub(crate) const KEY_REF_BASE: u8 = 0x56;

/// A certificate's kind, from its name in the index: key exchange (authentication) or
/// signature [public: `kxcNN` / `kscNN` in `mscp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertKind {
    KeyExchange,
    Signature,
}

/// The index record of a file: `FID(2) size(2, big-endian) name(8) directory(9)`, names
/// NUL-padded. `None` when a name does not fit.
pub(crate) fn index_record(fid: u16, size: u16, name: &str, dir: &str) -> Option<Vec<u8>> {
    if name.len() > 8 || dir.len() > 8 {
        return None;
    }
    let mut record = Vec::with_capacity(INDEX_RECORD_LEN);
    record.extend_from_slice(&fid.to_be_bytes());
    record.extend_from_slice(&size.to_be_bytes());
    let mut name_field = [0u8; 8];
    name_field[..name.len()].copy_from_slice(name.as_bytes());
    record.extend_from_slice(&name_field);
    let mut dir_field = [0u8; 9];
    dir_field[..dir.len()].copy_from_slice(dir.as_bytes());
    record.extend_from_slice(&dir_field);
    Some(record)
}

/// One record of the index file 0101, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IndexRecord {
    pub(crate) fid: u16,
    pub(crate) size: u16,
    pub(crate) name: String,
    pub(crate) dir: String,
}

impl IndexRecord {
    /// The certificate this record names (`kxcNN` / `kscNN` in `mscp`), by kind and number.
    pub(crate) fn certificate(&self) -> Option<(CertKind, u8)> {
        if self.dir != "mscp" {
            return None;
        }
        let (kind, digits) = if let Some(d) = self.name.strip_prefix("kxc") {
            (CertKind::KeyExchange, d)
        } else {
            (CertKind::Signature, self.name.strip_prefix("ksc")?)
        };
        if digits.len() != 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some((kind, digits.parse().ok()?))
    }
}

/// The records of an index file: byte 0 the count, then that many 21-byte records [public:
/// card-idprime.c `idprime_process_index`]. Bytes after the last counted record are ignored
/// (a shortened index is zero-padded to its old length). Err names what is wrong.
pub(crate) fn parse_index(bytes: &[u8]) -> Result<Vec<IndexRecord>, String> {
    let (&count, rest) = bytes.split_first().ok_or("the index is empty")?;
    let count = usize::from(count);
    if rest.len() < count * INDEX_RECORD_LEN {
        return Err(format!(
            "the index counts {count} records but holds {} bytes",
            rest.len()
        ));
    }
    let text = |field: &[u8]| {
        let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
        String::from_utf8_lossy(&field[..end]).into_owned()
    };
    Ok(rest
        .chunks_exact(INDEX_RECORD_LEN)
        .take(count)
        .map(|r| IndexRecord {
            fid: u16::from_be_bytes([r[0], r[1]]),
            size: u16::from_be_bytes([r[2], r[3]]),
            name: text(&r[4..12]),
            dir: text(&r[12..21]),
        })
        .collect())
}

/// The token label in `tinfo` (`01 len label`, NUL-terminated or not) [public:
/// `idprime_get_token_name`].
pub(crate) fn parse_tinfo(bytes: &[u8]) -> Option<String> {
    let [0x01, len, rest @ ..] = bytes else {
        return None;
    };
    let label = rest.get(..usize::from(*len))?;
    let end = label.iter().position(|&b| b == 0).unwrap_or(label.len());
    Some(String::from_utf8_lossy(&label[..end]).into_owned())
}

/// The GUID of a cmapfile record when the record is valid (flags bit 0), else None.
pub(crate) fn cmap_guid(record: &[u8]) -> Option<String> {
    if record.len() < CMAP_RECORD_LEN || record[80] & 0x01 == 0 {
        return None;
    }
    let units: Vec<u16> = record[..80]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    Some(String::from_utf16_lossy(&units))
}

/// The index name of certificate `index` (0-based, at most 99).
pub(crate) fn cert_name(kind: CertKind, index: u8) -> String {
    let prefix = match kind {
        CertKind::KeyExchange => "kxc",
        CertKind::Signature => "ksc",
    };
    format!("{prefix}{:02}", index % 100)
}

/// The key reference OpenSC 0.23 computes for certificate `index`: `0x56` plus the name's
/// last digit; 0005 records the same so 0.23 and 0.24+ agree.
pub(crate) fn key_reference(index: u8) -> u8 {
    KEY_REF_BASE + index % 10
}

/// A certificate file: `01 00`, the DER length (2 bytes little-endian), the zlib-compressed
/// DER [public: `idprime_read_binary`; 0.23 reads only this form]. `None` for a DER longer
/// than two bytes can say.
pub(crate) fn compressed_cert(der: &[u8]) -> Option<Vec<u8>> {
    let len = u16::try_from(der.len()).ok()?;
    let mut out = vec![0x01, 0x00];
    out.extend_from_slice(&len.to_le_bytes());
    let mut encoder = flate2::write::ZlibEncoder::new(out, flate2::Compression::best());
    encoder.write_all(der).ok()?;
    encoder.finish().ok()
}

/// The DER inside a certificate file, checked against its announced length (our own reading
/// back, and the tests').
pub fn decompress_cert(file: &[u8]) -> Option<Vec<u8>> {
    use std::io::Read;
    let (header, body) = (file.get(..4)?, file.get(4..)?);
    if header[..2] != [0x01, 0x00] {
        return None;
    }
    let len = usize::from(u16::from_le_bytes([header[2], header[3]]));
    let mut der = Vec::with_capacity(len);
    flate2::read::ZlibDecoder::new(body)
        .take(len as u64 + 1)
        .read_to_end(&mut der)
        .ok()?;
    (der.len() == len).then_some(der)
}

/// One cmapfile record: the container's GUID in UTF-16LE (40 characters, NUL-padded), flags
/// (`01` valid), a reserved byte, then the signature and key exchange key sizes in bits
/// (little-endian) [public: the minidriver's CONTAINER_MAP_RECORD].
pub(crate) fn cmap_record(guid: &str, kind: CertKind, bits: u16) -> Vec<u8> {
    let mut record = Vec::with_capacity(CMAP_RECORD_LEN);
    for unit in guid.encode_utf16().take(39) {
        record.extend_from_slice(&unit.to_le_bytes());
    }
    record.resize(80, 0);
    record.push(0x01);
    record.push(0x00);
    let (sig, kx) = match kind {
        CertKind::Signature => (bits, 0),
        CertKind::KeyExchange => (0, bits),
    };
    record.extend_from_slice(&sig.to_le_bytes());
    record.extend_from_slice(&kx.to_le_bytes());
    record
}

/// One 0005 record: valid, key reference, certificate index, five unused bytes [ours: zero],
/// PIN index (1: PIN `0x11`, 2: PIN `0x83`) last [public].
pub(crate) fn keyref_record(key_ref: u8, cert_index: u8, pin_index: u8) -> Vec<u8> {
    vec![0x01, key_ref, cert_index, 0, 0, 0, 0, pin_index]
}

/// The token label file: `01 len label` [public: `idprime_get_token_name`], the label NUL
/// terminated because OpenSC cuts the last byte when it is not NUL.
pub(crate) fn tinfo(label: &str) -> Vec<u8> {
    let mut bytes: Vec<u8> = label.bytes().take(254).collect();
    bytes.push(0);
    let mut out = vec![0x01, bytes.len() as u8];
    out.extend_from_slice(&bytes);
    out
}

/// CPLC data: `9F 7F 2A` and 42 bytes whose byte 11 (counted over the whole answer), the OS
/// release level, is `04`, which makes OpenSC 0.23 treat the card as OSv4 [public:
/// `idprime_init` reads `rbuf[11]`]. The other bytes are [ours]: zeros, and the IC serial
/// taken from the card's, since OpenSC reads nothing else.
pub(crate) fn cplc(serial: &[u8]) -> Vec<u8> {
    let mut out = vec![0x9F, 0x7F, 0x2A];
    out.resize(CPLC_LEN, 0);
    out[11] = 0x04;
    // IC serial number (4 bytes at CPLC offset 12, answer offset 15) [ours].
    for (slot, byte) in out[15..19].iter_mut().zip(serial.iter().rev()) {
        *slot = *byte;
    }
    out
}

/// Our cardid [ours]: the card number's digits read as hex, right-aligned and zero-filled
/// in front, so that the last 16 hex digits, all OpenSC's PKCS#11 token serial keeps
/// (CK_TOKEN_INFO's serialNumber has 16 characters), are the card number.
pub(crate) fn card_id_of(card_number: &str) -> [u8; CARDID_LEN] {
    let digits: Vec<u8> = card_number
        .as_bytes()
        .chunks(2)
        .filter_map(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok())
        .collect();
    let mut id = [0u8; CARDID_LEN];
    let take = digits.len().min(CARDID_LEN);
    id[CARDID_LEN - take..].copy_from_slice(&digits[digits.len() - take..]);
    id
}

/// The card number a cardid holds, as the holder's middleware shows it: its last 16 hex
/// digits [public: OpenSC's PKCS#11 token serial].
pub(crate) fn card_number(card_id: &[u8]) -> String {
    let hex: String = card_id.iter().map(|b| format!("{b:02X}")).collect();
    hex[hex.len().saturating_sub(16)..].to_string()
}

/// The container GUID of certificate `index` on card `serial` [ours: derived, stable].
pub(crate) fn container_guid(serial: &str, index: u8) -> String {
    // The last 20 digits: where the card number sits in our cardid.
    let hex: Vec<char> = serial.chars().filter(char::is_ascii_hexdigit).collect();
    let digits: String = std::iter::repeat_n('0', 20usize.saturating_sub(hex.len()))
        .chain(hex[hex.len().saturating_sub(20)..].iter().copied())
        .collect();
    format!(
        "{}-{}-{}-{}-{}{:02X}",
        &digits[..8],
        &digits[8..12],
        &digits[12..16],
        &digits[16..20],
        "5349544853",
        index
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_record_is_21_bytes_with_big_endian_size_and_padded_names() {
        let r = index_record(0x0210, 0x0456, "kxc00", "mscp").unwrap();
        assert_eq!(r.len(), INDEX_RECORD_LEN);
        assert_eq!(&r[..4], &[0x02, 0x10, 0x04, 0x56]);
        assert_eq!(&r[4..12], b"kxc00\0\0\0");
        assert_eq!(&r[12..21], b"mscp\0\0\0\0\0");
        assert!(index_record(1, 1, "toolongname", "p11").is_none());
    }

    #[test]
    fn compressed_cert_has_the_header_opensc_checks_and_round_trips() {
        let der: Vec<u8> = (0..1200u32).map(|i| (i % 7) as u8).collect();
        let file = compressed_cert(&der).unwrap();
        assert_eq!(&file[..4], &[0x01, 0x00, 0xB0, 0x04]);
        assert!(file.len() < der.len(), "the body is compressed");
        assert_eq!(decompress_cert(&file).unwrap(), der);
        assert!(decompress_cert(&file[..3]).is_none());
        let mut wrong_len = file.clone();
        wrong_len[2] ^= 1;
        assert!(decompress_cert(&wrong_len).is_none());
    }

    #[test]
    fn cplc_is_45_bytes_with_os_release_level_4() {
        let c = cplc(b"\x97\x52\x26\x90");
        assert_eq!(c.len(), CPLC_LEN);
        assert_eq!(&c[..3], &[0x9F, 0x7F, 0x2A]);
        assert_eq!(c[11], 0x04);
    }

    #[test]
    fn the_index_and_labels_read_back_what_was_written() {
        let mut index = vec![2];
        index.extend(index_record(0x0201, 16, "cardid", "").unwrap());
        index.extend(index_record(0x0212, 900, "kxc02", "mscp").unwrap());
        index.extend([0u8; 21]);
        let records = parse_index(&index).unwrap();
        assert_eq!(records.len(), 2, "bytes past the count are ignored");
        assert_eq!(records[0].certificate(), None);
        assert_eq!((records[1].fid, records[1].size), (0x0212, 900));
        assert_eq!(records[1].certificate(), Some((CertKind::KeyExchange, 2)));
        assert!(parse_index(&[3, 0, 0]).is_err());
        assert!(parse_index(&[]).is_err());
        let odd = IndexRecord {
            fid: 1,
            size: 1,
            name: "ksc7".into(),
            dir: "mscp".into(),
        };
        assert_eq!(odd.certificate(), None);
        assert_eq!(
            parse_tinfo(&tinfo("SITHS e-id")).as_deref(),
            Some("SITHS e-id")
        );
        assert_eq!(parse_tinfo(&[1, 9, b'a']), None);
        let guid = container_guid("9752269000001001", 3);
        assert_eq!(
            cmap_guid(&cmap_record(&guid, CertKind::Signature, 2048)),
            Some(guid)
        );
        assert_eq!(cmap_guid(&[0u8; CMAP_RECORD_LEN]), None);
    }

    proptest::proptest! {
        /// Whatever a card's files hold, reading them answers or says what is wrong.
        #[test]
        fn readers_never_panic_on_any_file(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..700)) {
            if let Ok(records) = parse_index(&bytes) {
                proptest::prop_assert!(records.len() <= usize::from(bytes[0]));
                for r in &records {
                    let _ = r.certificate();
                }
            }
            let _ = parse_tinfo(&bytes);
            let _ = cmap_guid(&bytes);
            let _ = decompress_cert(&bytes);
            let _ = card_number(&bytes);
            let _ = container_guid(&String::from_utf8_lossy(&bytes), 7);
        }
    }

    #[test]
    fn the_card_number_is_the_last_16_digits_of_cardid_as_pkcs11_shows_it() {
        let id = card_id_of("9752269000001001");
        assert_eq!(&id[..8], &[0u8; 8]);
        assert_eq!(&id[8..], &[0x97, 0x52, 0x26, 0x90, 0x00, 0x00, 0x10, 0x01]);
        assert_eq!(card_number(&id), "9752269000001001");
        // GUIDs differ from card to card: they take the end of cardid.
        let serial: String = id.iter().map(|b| format!("{b:02X}")).collect();
        assert_ne!(
            container_guid(&serial, 0),
            container_guid(&"0".repeat(32), 0)
        );
    }

    #[test]
    fn records_have_their_fixed_lengths() {
        let guid = container_guid("9752269000001001", 1);
        assert_eq!(guid.len(), 36);
        let cmap = cmap_record(&guid, CertKind::KeyExchange, 2048);
        assert_eq!(cmap.len(), CMAP_RECORD_LEN);
        let g = guid.as_bytes();
        assert_eq!(&cmap[..4], &[g[0], 0, g[1], 0], "UTF-16LE");
        assert_eq!(&cmap[84..86], &2048u16.to_le_bytes());
        let k = keyref_record(0x57, 1, 2);
        assert_eq!(k.len(), KEYREF_RECORD_LEN);
        assert_eq!((k[0], k[1], k[2], k[7]), (1, 0x57, 1, 2));
        assert_eq!(tinfo("AB"), vec![1, 3, b'A', b'B', 0]);
        assert_eq!(cert_name(CertKind::Signature, 1), "ksc01");
        assert_eq!(key_reference(1), 0x57);
    }
}
