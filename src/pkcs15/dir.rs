//! EF.DIR (`3F00 2F00`): the list of applications on the card, which is how OpenSC and our
//! client find the PKCS#15 application and its DF.
//!
//! Each record is an application template `61` (`[APPLICATION 1]`) holding `4F` AID
//! (`[APPLICATION 15]`), optionally `50` label (`[APPLICATION 16]`, UTF-8) and `51` path
//! (`[APPLICATION 17]`), as OpenSC's `dir.c` reads them. `der` has no wrapper type for
//! APPLICATION tags, so the template is read and written as `AnyRef`s with explicit tags.

use der::asn1::AnyRef;
use der::{Decode, Reader, SliceReader, Tag, TagNumber, Tagged};

use super::common::{objects, to_der};
use super::error::Pkcs15Error;

const WHAT: &str = "the application directory (EF.DIR)";
const TEMPLATE: Tag = Tag::Application {
    constructed: true,
    number: TagNumber::N1,
};
const AID: Tag = Tag::Application {
    constructed: false,
    number: TagNumber::N15,
};
const LABEL: Tag = Tag::Application {
    constructed: false,
    number: TagNumber::N16,
};
const PATH: Tag = Tag::Application {
    constructed: false,
    number: TagNumber::N17,
};

/// One application on the card: its AID, a label a person can read, and the path of its DF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirRecord {
    pub aid: Vec<u8>,
    pub label: Option<String>,
    pub path: Vec<u8>,
}

/// EF.DIR content: one `61` template per record, concatenated. An empty path is left out.
pub fn encode_ef_dir(records: &[DirRecord]) -> Result<Vec<u8>, Pkcs15Error> {
    let mut out = Vec::new();
    for record in records {
        let mut inner = to_der(&any(AID, &record.aid)?, WHAT)?;
        if let Some(label) = &record.label {
            inner.extend(to_der(&any(LABEL, label.as_bytes())?, WHAT)?);
        }
        if !record.path.is_empty() {
            inner.extend(to_der(&any(PATH, &record.path)?, WHAT)?);
        }
        out.extend(to_der(&any(TEMPLATE, &inner)?, WHAT)?);
    }
    Ok(out)
}

/// Reads every application template up to the first padding byte. Unknown data objects inside
/// a template (e.g. a `73` discretionary template) are skipped.
pub fn decode_ef_dir(file: &[u8]) -> Result<Vec<DirRecord>, Pkcs15Error> {
    let mut records = Vec::new();
    for tlv in objects(file, WHAT)? {
        let template = AnyRef::from_der(tlv).map_err(|e| Pkcs15Error::decode(WHAT, e))?;
        if template.tag() != TEMPLATE {
            return Err(Pkcs15Error::decode(
                WHAT,
                format!(
                    "expected an application template (61), found {}",
                    template.tag()
                ),
            ));
        }
        records.push(decode_record(template.value())?);
    }
    Ok(records)
}

fn decode_record(value: &[u8]) -> Result<DirRecord, Pkcs15Error> {
    let err = |e: der::Error| Pkcs15Error::decode(WHAT, e);
    let mut reader = SliceReader::new(value).map_err(err)?;
    let mut aid = None;
    let mut label = None;
    let mut path = Vec::new();
    while !reader.is_finished() {
        let element = AnyRef::decode(&mut reader).map_err(err)?;
        match element.tag() {
            AID => aid = Some(element.value().to_vec()),
            LABEL => {
                let text = std::str::from_utf8(element.value())
                    .map_err(|e| Pkcs15Error::decode(WHAT, format!("label is not UTF-8: {e}")))?;
                label = Some(text.to_owned());
            }
            PATH => path = element.value().to_vec(),
            _ => {}
        }
    }
    let aid =
        aid.ok_or_else(|| Pkcs15Error::decode(WHAT, "an application template has no AID (4F)"))?;
    Ok(DirRecord { aid, label, path })
}

fn any(tag: Tag, value: &[u8]) -> Result<AnyRef<'_>, Pkcs15Error> {
    AnyRef::new(tag, value).map_err(|e| Pkcs15Error::encode(WHAT, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{APP_LABEL, PKCS15_AID};
    use crate::pkcs15::common::tests::hostile_inputs;
    use crate::pkcs15::pad_to;

    fn siths() -> DirRecord {
        DirRecord {
            aid: PKCS15_AID.to_vec(),
            label: Some(APP_LABEL.to_owned()),
            path: vec![0x3F, 0x00, 0x50, 0x15],
        }
    }

    #[test]
    fn encodes_the_template_opensc_reads() {
        let mut expected = vec![0x61, 0x20, 0x4F, 0x0C];
        expected.extend(PKCS15_AID);
        expected.extend([0x50, 0x0A]);
        expected.extend(b"SITHS e-id");
        expected.extend([0x51, 0x04, 0x3F, 0x00, 0x50, 0x15]);
        assert_eq!(encode_ef_dir(&[siths()]).unwrap(), expected);
    }

    #[test]
    fn round_trips_with_padding() {
        let other = DirRecord {
            aid: vec![0xA0, 0x00, 0x00, 0x01, 0x51],
            label: None,
            path: Vec::new(),
        };
        let records = vec![siths(), other];
        let file = pad_to(encode_ef_dir(&records).unwrap(), 128);
        assert_eq!(decode_ef_dir(&file).unwrap(), records);
        assert_eq!(decode_ef_dir(&[0xFF; 16]).unwrap(), vec![]);
    }

    #[test]
    fn skips_unknown_data_objects_in_a_template() {
        // 61 { 4F aid, 73 { } discretionary data, 51 path }
        let file = [
            0x61, 0x0A, 0x4F, 0x02, 0xA0, 0x01, 0x73, 0x00, 0x51, 0x02, 0x50, 0x15, 0x00,
        ];
        let [record] = &decode_ef_dir(&file).unwrap()[..] else {
            panic!("expected one record");
        };
        assert_eq!(record.aid, [0xA0, 0x01]);
        assert_eq!(record.path, [0x50, 0x15]);
    }

    #[test]
    fn rejects_templates_without_aid_or_of_the_wrong_kind() {
        assert!(decode_ef_dir(&[0x61, 0x02, 0x51, 0x00]).is_err());
        assert!(decode_ef_dir(&[0x30, 0x00]).is_err());
    }

    #[test]
    fn garbage_never_panics() {
        let valid = encode_ef_dir(&[siths()]).unwrap();
        for input in hostile_inputs(&valid) {
            let _ = decode_ef_dir(&input);
        }
    }
}
