//! The card's file tree as SELECT sees it: by FID, by DF name, by path; and the FCP answer.
//!
//! The tree is two levels deep: the MF holds EFs and application DFs, each DF holds EFs. That is
//! all a PKCS#15 card needs, and it keeps every lookup a plain search.

use crate::apdu::StatusWord;
use crate::layout;

use super::state::CardState;
use crate::pkcs15::iso7816::{DESCRIPTOR_DF, DESCRIPTOR_TRANSPARENT_EF, Fcp, LIFE_CYCLE_ACTIVATED};

/// A file the session can have selected: a DF, or an EF inside a DF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileRef {
    Df(u16),
    Ef { df: u16, fid: u16 },
}

impl FileRef {
    /// The DF that is current after selecting this file.
    pub(crate) fn df(self) -> u16 {
        match self {
            FileRef::Df(df) | FileRef::Ef { df, .. } => df,
        }
    }
}

/// The parent of a DF: the MF for applications, none for the MF.
fn parent(state: &CardState, df: u16) -> Option<u16> {
    if df == layout::FID_MF || state.df(df).is_none() {
        None
    } else {
        Some(layout::FID_MF)
    }
}

/// A direct child (EF or DF) of `df` with this FID.
fn child(state: &CardState, df: u16, fid: u16) -> Option<FileRef> {
    let dir = state.df(df)?;
    if dir.ef(fid).is_some() {
        return Some(FileRef::Ef { df, fid });
    }
    if df == layout::FID_MF && fid != layout::FID_MF && state.df(fid).is_some() {
        return Some(FileRef::Df(fid));
    }
    None
}

/// Resolve a SELECT: `p1` says how `data` names the file, `current` is the current DF.
pub(crate) fn select(
    state: &CardState,
    current: u16,
    p1: u8,
    data: &[u8],
) -> Result<FileRef, StatusWord> {
    match p1 {
        // By file identifier: the MF from anywhere, a child of the current DF, the current DF
        // itself, or a child of its parent (a sibling), as ISO 7816-4 searches.
        0x00 => {
            if data.is_empty() {
                return Ok(FileRef::Df(layout::FID_MF));
            }
            let fid = fid_of(data)?;
            if fid == layout::FID_MF {
                return Ok(FileRef::Df(layout::FID_MF));
            }
            child(state, current, fid)
                .or_else(|| (fid == current).then_some(FileRef::Df(current)))
                .or_else(|| parent(state, current).and_then(|p| child(state, p, fid)))
                .ok_or(StatusWord::FileNotFound)
        }
        // A child DF, or an EF, of the current DF.
        0x01 => match child(state, current, fid_of(data)?) {
            Some(f @ FileRef::Df(_)) => Ok(f),
            _ => Err(StatusWord::FileNotFound),
        },
        0x02 => match child(state, current, fid_of(data)?) {
            Some(f @ FileRef::Ef { .. }) => Ok(f),
            _ => Err(StatusWord::FileNotFound),
        },
        // The parent of the current DF.
        0x03 => {
            if !data.is_empty() {
                return Err(StatusWord::WrongLength);
            }
            parent(state, current)
                .map(FileRef::Df)
                .ok_or(StatusWord::FileNotFound)
        }
        // By DF name (AID).
        0x04 => {
            if data.is_empty() {
                return Err(StatusWord::FileNotFound);
            }
            std::iter::once(&state.mf)
                .chain(state.apps.iter())
                .find(|df| df.name.as_deref() == Some(data))
                .map(|df| FileRef::Df(df.fid))
                .ok_or(StatusWord::FileNotFound)
        }
        // Path from the MF (with or without the leading 3F00), or from the current DF.
        0x08 => {
            let path = match data {
                [0x3F, 0x00, rest @ ..] => rest,
                _ => data,
            };
            if data.is_empty() {
                return Err(StatusWord::WrongLength);
            }
            walk(state, layout::FID_MF, path)
        }
        0x09 => {
            if data.is_empty() {
                return Err(StatusWord::WrongLength);
            }
            walk(state, current, data)
        }
        _ => Err(StatusWord::IncorrectP1P2),
    }
}

fn fid_of(data: &[u8]) -> Result<u16, StatusWord> {
    match data {
        [a, b] => Ok(u16::from_be_bytes([*a, *b])),
        _ => Err(StatusWord::WrongLength),
    }
}

/// Follow a path of FIDs down from `start`; only the last element may be an EF.
fn walk(state: &CardState, start: u16, path: &[u8]) -> Result<FileRef, StatusWord> {
    if path.len() % 2 != 0 {
        return Err(StatusWord::WrongLength);
    }
    let mut at = FileRef::Df(start);
    for pair in path.chunks_exact(2) {
        let FileRef::Df(df) = at else {
            // An EF has no children.
            return Err(StatusWord::FileNotFound);
        };
        let fid = u16::from_be_bytes([pair[0], pair[1]]);
        at = child(state, df, fid).ok_or(StatusWord::FileNotFound)?;
    }
    Ok(at)
}

/// The FCP template (`62`) of a file, as SELECT with P2 `04` answers and OpenSC reads it:
/// `80` size of the EF's content, `82` descriptor, `83` FID, `84` DF name, `88` SFI,
/// `8A` life cycle (05 = operational, activated).
// Kept in one function so it can switch to the PKCS#15 module's `Fcp` type in one place.
pub(crate) fn fcp(state: &CardState, file: FileRef) -> Option<Vec<u8>> {
    describe(state, file).encode().ok()
}

/// The FCI (`6F`) for SELECT with P2 `00`: the FCP nested in it, which ISO 7816-4 allows and
/// OpenSC's `iso7816_process_fci` walks into.
pub(crate) fn fci(state: &CardState, file: FileRef) -> Option<Vec<u8>> {
    describe(state, file).encode_fci().ok()
}

fn describe(state: &CardState, file: FileRef) -> Fcp {
    match file {
        FileRef::Ef { df, fid } => {
            let ef = state.df(df).and_then(|d| d.ef(fid));
            Fcp {
                file_size: Some(ef.map_or(0, |e| e.content.len()).min(0xFFFF) as u32),
                // Working EF, transparent structure.
                descriptor: DESCRIPTOR_TRANSPARENT_EF,
                fid: Some(fid),
                df_name: None,
                sfi: ef.and_then(|e| e.sfi),
                life_cycle: Some(LIFE_CYCLE_ACTIVATED),
            }
        }
        FileRef::Df(df) => Fcp {
            file_size: None,
            descriptor: DESCRIPTOR_DF,
            fid: Some(df),
            df_name: state.df(df).and_then(|d| d.name.clone()),
            sfi: None,
            life_cycle: Some(LIFE_CYCLE_ACTIVATED),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card() -> CardState {
        let mut s = CardState::new("1");
        s.add_ef(0x3F00, 0x2F00, Some(0x1E), vec![1, 2, 3], 64)
            .unwrap();
        s.add_ef(0x5015, 0x5031, Some(1), vec![4; 5], 64).unwrap();
        s
    }

    #[test]
    fn select_by_fid_searches_like_iso() {
        let s = card();
        let mf = layout::FID_MF;
        assert_eq!(select(&s, mf, 0, &[0x50, 0x15]), Ok(FileRef::Df(0x5015)));
        assert_eq!(
            select(&s, 0x5015, 0, &[0x50, 0x31]),
            Ok(FileRef::Ef {
                df: 0x5015,
                fid: 0x5031
            })
        );
        // EF.DIR from inside the application: a child of the parent.
        assert_eq!(
            select(&s, 0x5015, 0, &[0x2F, 0x00]),
            Ok(FileRef::Ef {
                df: mf,
                fid: 0x2F00
            })
        );
        assert_eq!(select(&s, 0x5015, 0, &[0x3F, 0x00]), Ok(FileRef::Df(mf)));
        assert_eq!(
            select(&s, 0x5015, 0, &[0x50, 0x15]),
            Ok(FileRef::Df(0x5015))
        );
        assert_eq!(
            select(&s, mf, 0, &[0x50, 0x31]),
            Err(StatusWord::FileNotFound)
        );
        assert_eq!(select(&s, mf, 0, &[0x50]), Err(StatusWord::WrongLength));
        assert_eq!(select(&s, 0x5015, 3, &[]), Ok(FileRef::Df(mf)));
        assert_eq!(select(&s, mf, 3, &[]), Err(StatusWord::FileNotFound));
    }

    #[test]
    fn select_by_path_and_name() {
        let s = card();
        let mf = layout::FID_MF;
        let odf = Ok(FileRef::Ef {
            df: 0x5015,
            fid: 0x5031,
        });
        assert_eq!(select(&s, mf, 8, &[0x50, 0x15, 0x50, 0x31]), odf);
        assert_eq!(
            select(&s, mf, 8, &[0x3F, 0x00, 0x50, 0x15, 0x50, 0x31]),
            odf
        );
        assert_eq!(select(&s, 0x5015, 9, &[0x50, 0x31]), odf);
        assert_eq!(select(&s, mf, 9, &[0x50, 0x15, 0x50, 0x31]), odf);
        assert_eq!(select(&s, mf, 8, &[0x3F, 0x00]), Ok(FileRef::Df(mf)));
        assert_eq!(
            select(&s, mf, 8, &[0x2F, 0x00, 0x50, 0x31]),
            Err(StatusWord::FileNotFound)
        );
        assert_eq!(
            select(&s, mf, 8, &[0x50, 0x15, 0x50]),
            Err(StatusWord::WrongLength)
        );
        assert_eq!(
            select(&s, mf, 4, &layout::PKCS15_AID),
            Ok(FileRef::Df(0x5015))
        );
        assert_eq!(
            select(&s, mf, 4, &[0xA0, 0, 0, 3, 8]),
            Err(StatusWord::FileNotFound)
        );
        assert_eq!(
            select(&s, mf, 0x07, &[0x50, 0x15]),
            Err(StatusWord::IncorrectP1P2)
        );
    }

    #[test]
    fn fcp_describes_size_type_and_name() {
        let s = card();
        let ef = fcp(
            &s,
            FileRef::Ef {
                df: 0x5015,
                fid: 0x5031,
            },
        )
        .unwrap();
        // The short EF identifier sits in bits 8-4 of tag 88, as ISO 7816-4 codes it.
        assert_eq!(
            ef,
            [
                0x62, 0x11, 0x80, 2, 0, 5, 0x82, 1, 1, 0x83, 2, 0x50, 0x31, 0x88, 1, 0x08, 0x8A, 1,
                5
            ]
        );
        let df = fcp(&s, FileRef::Df(0x5015)).unwrap();
        assert_eq!(&df[..2], &[0x62, 3 + 4 + 2 + 12 + 3]);
        assert!(
            df.windows(layout::PKCS15_AID.len())
                .any(|w| w == layout::PKCS15_AID)
        );
        let fci = fci(&s, FileRef::Df(0x3F00)).unwrap();
        assert_eq!(fci[0], 0x6F);
        assert_eq!(fci[2], 0x62);
    }
}
