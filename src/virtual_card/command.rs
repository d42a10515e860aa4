//! The commands the virtual card understands, parsed once at the edge.
//!
//! Every check that needs only the APDU (CLA, INS, P1, P2, the lengths) is made here, so the
//! card OS's handlers see well-formed commands and deal only with the card's state. The order
//! of the checks is the card's answer when several things are wrong at once; it is kept as the
//! card has always answered (a write, for example, is refused for security before its address
//! is looked at, so the address of a write is decoded by the handler).

use crate::apdu::{CLA_CHAINING, Command, MAX_SHORT_LE, StatusWord, ins};
use crate::layout;

use super::keys;

/// What a SELECT answers (P2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SelectAnswer {
    /// P2 `00`: the FCI.
    Fci,
    /// P2 `04`: the FCP template.
    Fcp,
    /// P2 `0C`: no data.
    Nothing,
}

/// Where a binary command reads or writes: P1 bit 8 set means P1 carries a short EF
/// identifier (which also selects the EF) and P2 the offset; else P1P2 is a 15-bit offset in
/// the current EF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinaryTarget {
    Sfi { sfi: u8, offset: usize },
    Current { offset: usize },
}

impl BinaryTarget {
    pub(crate) fn parse(p1: u8, p2: u8) -> Result<Self, StatusWord> {
        if p1 & 0x80 == 0 {
            return Ok(BinaryTarget::Current {
                offset: usize::from(u16::from_be_bytes([p1, p2])),
            });
        }
        let sfi = p1 & 0x1F;
        if p1 & 0x60 != 0 || sfi == 0 || sfi == 0x1F {
            return Err(StatusWord::IncorrectP1P2);
        }
        Ok(BinaryTarget::Sfi {
            sfi,
            offset: usize::from(p2),
        })
    }
}

/// A command the card OS acts on. Borrowed data points into the APDU, which wipes itself
/// (command data may be a PIN).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CardCommand<'a> {
    Select {
        /// How the data names the file; resolved (and refused with `6A86`) by [`super::fs`].
        p1: u8,
        answer: SelectAnswer,
        name: &'a [u8],
        /// No Le means no answer data expected (case 3), as OpenSC sends SELECT by AID.
        wants_answer: bool,
    },
    ReadBinary {
        target: BinaryTarget,
        le: usize,
    },
    /// One link of UPDATE BINARY; `chained` when more links follow (CLA `10`).
    UpdateBinary {
        p1: u8,
        p2: u8,
        data: &'a [u8],
        chained: bool,
    },
    /// ERASE BINARY [ours]: the EF ends at the offset.
    EraseBinary {
        p1: u8,
        p2: u8,
    },
    /// VERIFY; no code asks for the tries left without spending one.
    Verify {
        reference: u8,
        code: &'a [u8],
    },
    /// VERIFY with P1 `FF` and no data: forget the verification (ISO/IEC 7816-4 11.5.6).
    ResetVerification {
        reference: u8,
    },
    ChangeReferenceData {
        reference: u8,
        old_and_new: &'a [u8],
    },
    ResetRetryCounter {
        reference: u8,
        puk_and_new: &'a [u8],
    },
    GenerateKey {
        slot: u8,
    },
    ReadPublicKey {
        slot: u8,
    },
    /// MSE SET for a signature; `None` when the template is malformed or names an algorithm
    /// the card does not have (`6A80`, answered after the old environment is forgotten).
    SetSignatureEnvironment {
        algorithm_and_slot: Option<(u8, u8)>,
    },
    ComputeSignature {
        hash: &'a [u8],
    },
    GetResponse {
        le: usize,
    },
    /// GET DATA of the card serial, the one data object the card has.
    GetSerial,
    /// DELETE KEY [ours] (CLA 80): empties a slot so a new key can be made there.
    DeleteKey {
        slot: u8,
    },
}

fn no_data(cmd: &Command) -> Result<(), StatusWord> {
    if cmd.data.is_empty() {
        Ok(())
    } else {
        Err(StatusWord::WrongLength)
    }
}

fn key_slot(slot: u8) -> Result<u8, StatusWord> {
    if layout::KEY_SLOTS.contains(&slot) {
        Ok(slot)
    } else {
        Err(StatusWord::IncorrectP1P2)
    }
}

impl<'a> TryFrom<&'a Command> for CardCommand<'a> {
    type Error = StatusWord;

    fn try_from(cmd: &'a Command) -> Result<Self, StatusWord> {
        match cmd.cla {
            0x00 => interindustry(cmd),
            CLA_CHAINING if cmd.ins == ins::UPDATE_BINARY => update_binary(cmd, true),
            CLA_CHAINING => Err(StatusWord::ChainingNotSupported),
            0x80 if cmd.ins == ins::DELETE_KEY => {
                if cmd.p1 != 0x00 {
                    return Err(StatusWord::IncorrectP1P2);
                }
                let slot = key_slot(cmd.p2)?;
                no_data(cmd)?;
                Ok(CardCommand::DeleteKey { slot })
            }
            0x80 => Err(StatusWord::InsNotSupported),
            _ => Err(StatusWord::ClaNotSupported),
        }
    }
}

fn update_binary(cmd: &Command, chained: bool) -> Result<CardCommand<'_>, StatusWord> {
    if cmd.data.is_empty() {
        return Err(StatusWord::WrongLength);
    }
    Ok(CardCommand::UpdateBinary {
        p1: cmd.p1,
        p2: cmd.p2,
        data: &cmd.data,
        chained,
    })
}

/// The commands of CLA `00`.
fn interindustry(cmd: &Command) -> Result<CardCommand<'_>, StatusWord> {
    let p1p2 = (cmd.p1, cmd.p2);
    match cmd.ins {
        ins::SELECT => {
            let answer = match cmd.p2 {
                0x00 => SelectAnswer::Fci,
                0x04 => SelectAnswer::Fcp,
                0x0C => SelectAnswer::Nothing,
                _ => return Err(StatusWord::IncorrectP1P2),
            };
            Ok(CardCommand::Select {
                p1: cmd.p1,
                answer,
                name: &cmd.data,
                wants_answer: cmd.le.is_some(),
            })
        }
        ins::READ_BINARY => {
            let le = cmd.le.ok_or(StatusWord::WrongLength)?;
            no_data(cmd)?;
            let target = BinaryTarget::parse(cmd.p1, cmd.p2)?;
            Ok(CardCommand::ReadBinary { target, le })
        }
        ins::UPDATE_BINARY => update_binary(cmd, false),
        ins::ERASE_BINARY => {
            no_data(cmd)?;
            Ok(CardCommand::EraseBinary {
                p1: cmd.p1,
                p2: cmd.p2,
            })
        }
        ins::VERIFY if cmd.p1 == 0xFF && cmd.data.is_empty() => {
            Ok(CardCommand::ResetVerification { reference: cmd.p2 })
        }
        ins::VERIFY | ins::CHANGE_REFERENCE_DATA | ins::RESET_RETRY_COUNTER => {
            if cmd.p1 != 0x00 {
                return Err(StatusWord::IncorrectP1P2);
            }
            let (reference, data) = (cmd.p2, cmd.data.as_slice());
            Ok(match cmd.ins {
                ins::VERIFY => CardCommand::Verify {
                    reference,
                    code: data,
                },
                ins::CHANGE_REFERENCE_DATA => CardCommand::ChangeReferenceData {
                    reference,
                    old_and_new: data,
                },
                _ => CardCommand::ResetRetryCounter {
                    reference,
                    puk_and_new: data,
                },
            })
        }
        ins::GENERATE_ASYMMETRIC_KEY_PAIR => {
            if cmd.p1 != 0x80 && cmd.p1 != 0x81 {
                return Err(StatusWord::IncorrectP1P2);
            }
            let slot = key_slot(cmd.p2)?;
            no_data(cmd)?;
            Ok(if cmd.p1 == 0x81 {
                CardCommand::ReadPublicKey { slot }
            } else {
                CardCommand::GenerateKey { slot }
            })
        }
        ins::MANAGE_SECURITY_ENVIRONMENT => {
            if p1p2 != (0x41, 0xB6) {
                return Err(StatusWord::IncorrectP1P2);
            }
            let algorithm_and_slot = keys::parse_mse(&cmd.data).filter(|&(algorithm, _)| {
                algorithm == layout::ALG_RSA_PKCS1_SHA256 || algorithm == layout::ALG_RSA_PSS_SHA256
            });
            Ok(CardCommand::SetSignatureEnvironment { algorithm_and_slot })
        }
        ins::PERFORM_SECURITY_OPERATION => {
            if p1p2 != (0x9E, 0x9A) {
                return Err(StatusWord::IncorrectP1P2);
            }
            if cmd.data.len() != keys::HASH_LEN {
                return Err(StatusWord::WrongLength);
            }
            Ok(CardCommand::ComputeSignature { hash: &cmd.data })
        }
        ins::GET_RESPONSE => {
            if p1p2 != (0x00, 0x00) {
                return Err(StatusWord::IncorrectP1P2);
            }
            no_data(cmd)?;
            Ok(CardCommand::GetResponse {
                le: cmd.le.unwrap_or(MAX_SHORT_LE),
            })
        }
        ins::GET_DATA => {
            if u16::from_be_bytes([cmd.p1, cmd.p2]) != layout::TAG_CARD_SERIAL {
                return Err(StatusWord::ReferenceNotFound);
            }
            no_data(cmd)?;
            Ok(CardCommand::GetSerial)
        }
        _ => Err(StatusWord::InsNotSupported),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The card's refusal of these bytes, if it refuses them before looking at its state.
    fn refusal(bytes: &[u8]) -> Option<StatusWord> {
        let cmd = Command::parse(bytes).expect("a well-framed APDU");
        CardCommand::try_from(&cmd).err()
    }

    #[test]
    fn header_errors_are_answered_before_the_card_looks_at_its_state() {
        let refused = |bytes: &[u8], sw| assert_eq!(refusal(bytes), Some(sw), "{bytes:02X?}");
        refused(&[0x00, 0x99, 0, 0], StatusWord::InsNotSupported);
        refused(&[0x80, 0x20, 0, 0], StatusWord::InsNotSupported);
        refused(&[0x40, 0xA4, 0, 0], StatusWord::ClaNotSupported);
        refused(
            &[0x10, 0x20, 0, 0x81, 1, 0x31],
            StatusWord::ChainingNotSupported,
        );
        refused(&[0x00, 0xA4, 0, 0x01], StatusWord::IncorrectP1P2);
        refused(&[0x00, 0xB0, 0, 0], StatusWord::WrongLength);
        refused(&[0x00, 0xB0, 0xE1, 0, 0], StatusWord::IncorrectP1P2);
        refused(&[0x00, 0x2A, 0x9E, 0x9A, 1, 0, 0], StatusWord::WrongLength);
        refused(&[0x00, 0xCA, 0x00, 0x5B, 0], StatusWord::ReferenceNotFound);
        refused(&[0x00, 0x46, 0x80, 0x09, 0], StatusWord::IncorrectP1P2);
    }

    #[test]
    fn well_formed_commands_are_typed() {
        let cmd = Command::parse(&[0x00, 0xB0, 0x91, 0x10, 0x20]).unwrap();
        assert_eq!(
            CardCommand::try_from(&cmd),
            Ok(CardCommand::ReadBinary {
                target: BinaryTarget::Sfi {
                    sfi: 0x11,
                    offset: 0x10
                },
                le: 0x20
            })
        );
        let cmd = Command::parse(&[0x00, 0x20, 0xFF, 0x81]).unwrap();
        assert_eq!(
            CardCommand::try_from(&cmd),
            Ok(CardCommand::ResetVerification { reference: 0x81 })
        );
        let cmd = Command::parse(&[0x00, 0x20, 0x00, 0x81]).unwrap();
        assert_eq!(
            CardCommand::try_from(&cmd),
            Ok(CardCommand::Verify {
                reference: 0x81,
                code: &[]
            })
        );
    }
}
