//! ISO 7816-4 APDUs: typed commands, responses and status words.
//!
//! Only short APDUs are used: vpcd 3.3 in Debian does not advertise extended length, and legacy SIS
//! cards did not need it. Long command data is split with command chaining (CLA bit `0x10`); long
//! answers arrive through `61xx` + GET RESPONSE. This module only describes APDUs; the layer that
//! sends them does both.

use std::fmt;

/// Largest data field of a short command APDU.
pub const MAX_SHORT_DATA: usize = 255;
/// Largest answer a short APDU can ask for (`Le = 00`).
pub const MAX_SHORT_LE: usize = 256;
/// CLA bit that says "more chained commands follow".
pub const CLA_CHAINING: u8 = 0x10;

/// Instruction bytes this product uses (ISO 7816-4 and -8).
pub mod ins {
    pub const SELECT: u8 = 0xA4;
    pub const READ_BINARY: u8 = 0xB0;
    pub const UPDATE_BINARY: u8 = 0xD6;
    pub const ERASE_BINARY: u8 = 0x0E;
    pub const VERIFY: u8 = 0x20;
    pub const CHANGE_REFERENCE_DATA: u8 = 0x24;
    pub const RESET_RETRY_COUNTER: u8 = 0x2C;
    pub const GENERATE_ASYMMETRIC_KEY_PAIR: u8 = 0x46;
    pub const MANAGE_SECURITY_ENVIRONMENT: u8 = 0x22;
    pub const PERFORM_SECURITY_OPERATION: u8 = 0x2A;
    pub const GET_RESPONSE: u8 = 0xC0;
    pub const GET_DATA: u8 = 0xCA;
    /// Proprietary (CLA `80`): delete the key pair in a slot. Ours; see docs/domain.md
    /// "The virtual SITHS card".
    pub const DELETE_KEY: u8 = 0xE4;
    /// CREATE FILE and DELETE FILE (ISO/IEC 7816-9), which the IDPrime layout's certificate
    /// writes use [ours: docs/domain.md "Our extensions"].
    pub const CREATE_FILE: u8 = 0xE0;
    pub const DELETE_FILE: u8 = 0xE4;
}

/// A command APDU as the host sends it (before chaining is applied).
#[derive(Clone, PartialEq, Eq)]
pub struct Command {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    pub data: Vec<u8>,
    /// Expected answer length; `Some(256)` is encoded as `Le = 00`.
    pub le: Option<usize>,
}

impl fmt::Debug for Command {
    // Command data may hold a PIN or PUK: never print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Command({:02X} {:02X} {:02X} {:02X}, {} data bytes, le {:?})",
            self.cla,
            self.ins,
            self.p1,
            self.p2,
            self.data.len(),
            self.le
        )
    }
}

impl Drop for Command {
    fn drop(&mut self) {
        // PINs travel in command data; wipe every command, it costs nothing measurable.
        zeroize::Zeroize::zeroize(&mut self.data);
    }
}

/// Why bytes from the wire are not a valid APDU.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApduError {
    #[error("APDU shorter than its four header bytes")]
    TooShort,
    #[error("APDU length fields do not match its size")]
    BadLength,
    #[error("command data of {0} bytes does not fit a short APDU")]
    DataTooLong(usize),
    #[error("response shorter than its two status bytes")]
    ResponseTooShort,
}

impl Command {
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8) -> Self {
        Command {
            cla,
            ins,
            p1,
            p2,
            data: Vec::new(),
            le: None,
        }
    }

    pub fn with_data(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.data = data.into();
        self
    }

    pub fn with_le(mut self, le: usize) -> Self {
        self.le = Some(le.min(MAX_SHORT_LE));
        self
    }

    /// SELECT by DF name (AID), answering the FCI.
    pub fn select_aid(aid: &[u8]) -> Self {
        Command::new(0x00, ins::SELECT, 0x04, 0x00)
            .with_data(aid)
            .with_le(MAX_SHORT_LE)
    }

    /// SELECT by DF name (AID) with no answer (P2 `0C`), as OpenSC selects the IDPrime applet
    /// [public: card-idprime.c, iso7816.c `iso7816_select_file`].
    pub fn select_aid_no_answer(aid: &[u8]) -> Self {
        Command::new(0x00, ins::SELECT, 0x04, 0x0C).with_data(aid)
    }

    /// SELECT by path from the MF (P1 `08`) with no answer (P2 `0C`).
    pub fn select_path(path: &[u8]) -> Self {
        Command::new(0x00, ins::SELECT, 0x08, 0x0C).with_data(path)
    }

    /// SELECT by path from the MF answering the FCP template (P2 `04`), to learn the file size.
    pub fn select_path_fcp(path: &[u8]) -> Self {
        Command::new(0x00, ins::SELECT, 0x08, 0x04)
            .with_data(path)
            .with_le(MAX_SHORT_LE)
    }

    /// SELECT an EF or DF by file identifier under the current DF (P1 `00`), no answer.
    pub fn select_fid(fid: u16) -> Self {
        Command::new(0x00, ins::SELECT, 0x00, 0x0C).with_data(fid.to_be_bytes())
    }

    /// READ BINARY of the current EF from `offset` (15 bits).
    pub fn read_binary(offset: u16, le: usize) -> Self {
        let [p1, p2] = (offset & 0x7FFF).to_be_bytes();
        Command::new(0x00, ins::READ_BINARY, p1, p2).with_le(le)
    }

    /// READ BINARY with a short EF identifier: selects and reads in one APDU (offset ≤ 255).
    pub fn read_binary_sfi(sfi: u8, offset: u8, le: usize) -> Self {
        Command::new(0x00, ins::READ_BINARY, 0x80 | (sfi & 0x1F), offset).with_le(le)
    }

    /// UPDATE BINARY of the current EF at `offset`; long data is chained by the channel so the
    /// card applies the whole write at once or not at all.
    pub fn update_binary(offset: u16, data: &[u8]) -> Self {
        let [p1, p2] = (offset & 0x7FFF).to_be_bytes();
        Command::new(0x00, ins::UPDATE_BINARY, p1, p2).with_data(data)
    }

    /// UPDATE BINARY of the EF with short identifier `sfi` (which it also selects) at `offset`;
    /// chained like [`Command::update_binary`], every link carrying the identifier.
    pub fn update_binary_sfi(sfi: u8, offset: u8, data: &[u8]) -> Self {
        Command::new(0x00, ins::UPDATE_BINARY, 0x80 | (sfi & 0x1F), offset).with_data(data)
    }

    /// ERASE BINARY from `offset` to the end of the EF with short identifier `sfi`, which it
    /// also selects.
    pub fn erase_binary_sfi(sfi: u8, offset: u8) -> Self {
        Command::new(0x00, ins::ERASE_BINARY, 0x80 | (sfi & 0x1F), offset)
    }

    /// ERASE BINARY from `offset` to the end of the current EF.
    pub fn erase_binary(offset: u16) -> Self {
        let [p1, p2] = (offset & 0x7FFF).to_be_bytes();
        Command::new(0x00, ins::ERASE_BINARY, p1, p2)
    }

    /// VERIFY a PIN; with no PIN it asks for the tries left without spending one.
    pub fn verify(reference: u8, pin: Option<&[u8]>) -> Self {
        let c = Command::new(0x00, ins::VERIFY, 0x00, reference);
        match pin {
            Some(pin) => c.with_data(pin),
            None => c,
        }
    }

    /// VERIFY with P1 'FF': forget that `reference` was verified (ISO/IEC 7816-4 11.5.6).
    pub fn reset_verification(reference: u8) -> Self {
        Command::new(0x00, ins::VERIFY, 0xFF, reference)
    }

    /// CHANGE REFERENCE DATA: old PIN followed by new PIN, both padded to the stored length.
    pub fn change_reference_data(reference: u8, old_and_new: &[u8]) -> Self {
        Command::new(0x00, ins::CHANGE_REFERENCE_DATA, 0x00, reference).with_data(old_and_new)
    }

    /// RESET RETRY COUNTER with PUK followed by the new PIN (P1 `00`).
    pub fn reset_retry_counter(reference: u8, puk_and_new: &[u8]) -> Self {
        Command::new(0x00, ins::RESET_RETRY_COUNTER, 0x00, reference).with_data(puk_and_new)
    }

    /// GENERATE ASYMMETRIC KEY PAIR in slot `key_ref`; the answer is the `7F49` public key.
    pub fn generate_key(key_ref: u8) -> Self {
        Command::new(0x00, ins::GENERATE_ASYMMETRIC_KEY_PAIR, 0x80, key_ref).with_le(MAX_SHORT_LE)
    }

    /// Read the public key of an existing pair in slot `key_ref` (`6A88` when the slot is empty).
    pub fn read_public_key(key_ref: u8) -> Self {
        Command::new(0x00, ins::GENERATE_ASYMMETRIC_KEY_PAIR, 0x81, key_ref).with_le(MAX_SHORT_LE)
    }

    /// MSE SET for digital signature: algorithm reference `80` and key reference `84`.
    pub fn mse_set_signature(algorithm: u8, key_ref: u8) -> Self {
        Command::new(0x00, ins::MANAGE_SECURITY_ENVIRONMENT, 0x41, 0xB6)
            .with_data([0x80, 0x01, algorithm, 0x84, 0x01, key_ref])
    }

    /// PSO COMPUTE DIGITAL SIGNATURE over `input` (a hash, see the algorithm set by MSE).
    pub fn compute_signature(input: &[u8]) -> Self {
        Command::new(0x00, ins::PERFORM_SECURITY_OPERATION, 0x9E, 0x9A)
            .with_data(input)
            .with_le(MAX_SHORT_LE)
    }

    /// The first of the IDPrime card's two PSO steps: hand the card the hash (`90 L hash`),
    /// which it keeps and echoes [public: OpenSC card-idprime.c `idprime_compute_signature`].
    pub fn pso_hash(hash: &[u8]) -> Self {
        let mut data = Vec::with_capacity(2 + hash.len());
        data.push(0x90);
        data.push(hash.len() as u8);
        data.extend_from_slice(hash);
        Command::new(0x00, ins::PERFORM_SECURITY_OPERATION, 0x90, 0xA0)
            .with_data(data)
            .with_le(hash.len())
    }

    /// The second IDPrime PSO step: the signature over the hash the first step handed over.
    pub fn pso_signature_of_held_hash() -> Self {
        Command::new(0x00, ins::PERFORM_SECURITY_OPERATION, 0x9E, 0x9A).with_le(MAX_SHORT_LE)
    }

    /// CREATE FILE (ISO/IEC 7816-9) with its FCP (`crate::idprime::extensions::create_file_data`).
    pub fn create_file(fcp: &[u8]) -> Self {
        Command::new(0x00, ins::CREATE_FILE, 0x00, 0x00).with_data(fcp)
    }

    /// DELETE FILE (ISO/IEC 7816-9) of the EF `fid`.
    pub fn delete_file(fid: u16) -> Self {
        Command::new(0x00, ins::DELETE_FILE, 0x00, 0x00).with_data(fid.to_be_bytes())
    }

    /// GET RESPONSE for the `61xx` remainder.
    pub fn get_response(le: usize) -> Self {
        Command::new(0x00, ins::GET_RESPONSE, 0x00, 0x00).with_le(le)
    }

    /// GET DATA of the data object `tag` (e.g. `005A`, the card serial).
    pub fn get_data(tag: u16) -> Self {
        let [p1, p2] = tag.to_be_bytes();
        Command::new(0x00, ins::GET_DATA, p1, p2).with_le(MAX_SHORT_LE)
    }

    /// Proprietary DELETE KEY of slot `key_ref` (ours).
    pub fn delete_key(key_ref: u8) -> Self {
        Command::new(0x80, ins::DELETE_KEY, 0x00, key_ref)
    }

    /// True when this is one link of a chain that more commands follow.
    pub fn is_chained(&self) -> bool {
        self.cla & CLA_CHAINING != 0 && self.cla & 0x80 == 0
    }

    /// Encode as a short APDU. Data over 255 bytes must be chained first ([`Command::chain`]).
    pub fn to_bytes(&self) -> Result<Vec<u8>, ApduError> {
        if self.data.len() > MAX_SHORT_DATA {
            return Err(ApduError::DataTooLong(self.data.len()));
        }
        let mut out = Vec::with_capacity(6 + self.data.len());
        out.extend_from_slice(&[self.cla, self.ins, self.p1, self.p2]);
        if !self.data.is_empty() {
            out.push(self.data.len() as u8);
            out.extend_from_slice(&self.data);
        }
        if let Some(le) = self.le {
            out.push(if le >= MAX_SHORT_LE { 0 } else { le as u8 });
        }
        Ok(out)
    }

    /// Split into short commands with the chaining bit set on all but the last.
    pub fn chain(&self) -> Vec<Command> {
        if self.data.len() <= MAX_SHORT_DATA {
            return vec![self.clone()];
        }
        let chunks: Vec<&[u8]> = self.data.chunks(MAX_SHORT_DATA).collect();
        let last = chunks.len() - 1;
        chunks
            .into_iter()
            .enumerate()
            .map(|(i, chunk)| Command {
                cla: if i < last {
                    self.cla | CLA_CHAINING
                } else {
                    self.cla
                },
                ins: self.ins,
                p1: self.p1,
                p2: self.p2,
                data: chunk.to_vec(),
                le: if i < last { None } else { self.le },
            })
            .collect()
    }

    /// Parse a short command APDU (cases 1-4), as the card side receives it.
    pub fn parse(bytes: &[u8]) -> Result<Command, ApduError> {
        if bytes.len() < 4 {
            return Err(ApduError::TooShort);
        }
        let mut c = Command::new(bytes[0], bytes[1], bytes[2], bytes[3]);
        let body = &bytes[4..];
        match body.len() {
            0 => {}
            1 => c.le = Some(if body[0] == 0 { 256 } else { body[0] as usize }),
            n => {
                let lc = body[0] as usize;
                if lc == 0 {
                    // Extended length is not supported by this product.
                    return Err(ApduError::BadLength);
                }
                if n == 1 + lc {
                    c.data = body[1..].to_vec();
                } else if n == 2 + lc {
                    c.data = body[1..1 + lc].to_vec();
                    let le = body[1 + lc];
                    c.le = Some(if le == 0 { 256 } else { le as usize });
                } else {
                    return Err(ApduError::BadLength);
                }
            }
        }
        Ok(c)
    }
}

/// A status word, typed for the cases the product acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusWord {
    /// `9000`
    Ok,
    /// `61xx`: `xx` more bytes wait for GET RESPONSE (`00` = 256 or more).
    MoreData(u8),
    /// `6Cxx`: repeat the command with `Le = xx`.
    WrongLe(u8),
    /// `6282`: end of file reached before `Le` bytes were read (the data is still good).
    EndOfFile,
    /// `63Cx`: verification failed, `x` tries left (also the answer to an empty VERIFY).
    TriesLeft(u8),
    /// `6581`: the card could not store what it was given (nothing changed).
    MemoryFailure,
    /// `6700`
    WrongLength,
    /// `6884`: command chaining is not supported for this command.
    ChainingNotSupported,
    /// `6981`
    IncompatibleFile,
    /// `6982`
    SecurityStatusNotSatisfied,
    /// `6983`: the PIN or PUK is blocked.
    AuthBlocked,
    /// `6984`: reference data not usable (ours: the PUK is blocked and the card is dead).
    ReferenceDataNotUsable,
    /// `6985`
    ConditionsNotSatisfied,
    /// `6986`
    CommandNotAllowed,
    /// `6A80`
    WrongData,
    /// `6A82`
    FileNotFound,
    /// `6A84`
    NotEnoughMemory,
    /// `6A86`
    IncorrectP1P2,
    /// `6A88`: referenced data (key, PIN) not found.
    ReferenceNotFound,
    /// `6B00`
    WrongP1P2,
    /// `6D00`
    InsNotSupported,
    /// `6E00`
    ClaNotSupported,
    /// `6F00`
    Unknown,
    /// Any other value.
    Other(u16),
}

impl StatusWord {
    pub fn from_u16(sw: u16) -> Self {
        let [sw1, sw2] = sw.to_be_bytes();
        match (sw1, sw2) {
            (0x90, 0x00) => StatusWord::Ok,
            (0x61, n) => StatusWord::MoreData(n),
            (0x6C, n) => StatusWord::WrongLe(n),
            (0x62, 0x82) => StatusWord::EndOfFile,
            (0x63, n) if n & 0xF0 == 0xC0 => StatusWord::TriesLeft(n & 0x0F),
            (0x65, 0x81) => StatusWord::MemoryFailure,
            (0x67, 0x00) => StatusWord::WrongLength,
            (0x68, 0x84) => StatusWord::ChainingNotSupported,
            (0x69, 0x81) => StatusWord::IncompatibleFile,
            (0x69, 0x82) => StatusWord::SecurityStatusNotSatisfied,
            (0x69, 0x83) => StatusWord::AuthBlocked,
            (0x69, 0x84) => StatusWord::ReferenceDataNotUsable,
            (0x69, 0x85) => StatusWord::ConditionsNotSatisfied,
            (0x69, 0x86) => StatusWord::CommandNotAllowed,
            (0x6A, 0x80) => StatusWord::WrongData,
            (0x6A, 0x82) => StatusWord::FileNotFound,
            (0x6A, 0x84) => StatusWord::NotEnoughMemory,
            (0x6A, 0x86) => StatusWord::IncorrectP1P2,
            (0x6A, 0x88) => StatusWord::ReferenceNotFound,
            (0x6B, 0x00) => StatusWord::WrongP1P2,
            (0x6D, 0x00) => StatusWord::InsNotSupported,
            (0x6E, 0x00) => StatusWord::ClaNotSupported,
            (0x6F, 0x00) => StatusWord::Unknown,
            _ => StatusWord::Other(sw),
        }
    }

    pub const fn to_u16(self) -> u16 {
        match self {
            StatusWord::Ok => 0x9000,
            StatusWord::MoreData(n) => 0x6100 | n as u16,
            StatusWord::WrongLe(n) => 0x6C00 | n as u16,
            StatusWord::EndOfFile => 0x6282,
            StatusWord::TriesLeft(n) => 0x63C0 | (n & 0x0F) as u16,
            StatusWord::MemoryFailure => 0x6581,
            StatusWord::WrongLength => 0x6700,
            StatusWord::ChainingNotSupported => 0x6884,
            StatusWord::IncompatibleFile => 0x6981,
            StatusWord::SecurityStatusNotSatisfied => 0x6982,
            StatusWord::AuthBlocked => 0x6983,
            StatusWord::ReferenceDataNotUsable => 0x6984,
            StatusWord::ConditionsNotSatisfied => 0x6985,
            StatusWord::CommandNotAllowed => 0x6986,
            StatusWord::WrongData => 0x6A80,
            StatusWord::FileNotFound => 0x6A82,
            StatusWord::NotEnoughMemory => 0x6A84,
            StatusWord::IncorrectP1P2 => 0x6A86,
            StatusWord::ReferenceNotFound => 0x6A88,
            StatusWord::WrongP1P2 => 0x6B00,
            StatusWord::InsNotSupported => 0x6D00,
            StatusWord::ClaNotSupported => 0x6E00,
            StatusWord::Unknown => 0x6F00,
            StatusWord::Other(sw) => sw,
        }
    }

    pub fn is_ok(self) -> bool {
        self == StatusWord::Ok
    }
}

impl fmt::Display for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X}", self.to_u16())
    }
}

/// A response APDU: data and status word.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    pub data: Vec<u8>,
    pub sw: StatusWord,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Response({} bytes, {})", self.data.len(), self.sw)
    }
}

impl Response {
    pub fn new(data: Vec<u8>, sw: StatusWord) -> Self {
        Response { data, sw }
    }

    pub fn status(sw: StatusWord) -> Self {
        Response {
            data: Vec::new(),
            sw,
        }
    }

    pub fn ok(data: Vec<u8>) -> Self {
        Response {
            data,
            sw: StatusWord::Ok,
        }
    }

    pub fn parse(bytes: &[u8]) -> Result<Response, ApduError> {
        if bytes.len() < 2 {
            return Err(ApduError::ResponseTooShort);
        }
        let (data, sw) = bytes.split_at(bytes.len() - 2);
        Ok(Response {
            data: data.to_vec(),
            sw: StatusWord::from_u16(u16::from_be_bytes([sw[0], sw[1]])),
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 2);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(&self.sw.to_u16().to_be_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_words_round_trip() {
        for sw in [
            0x9000u16, 0x6110, 0x6100, 0x6C20, 0x63C2, 0x63C0, 0x6983, 0x6982, 0x6A82, 0x6A88,
            0x6D00, 0x1234, 0x6300,
        ] {
            assert_eq!(StatusWord::from_u16(sw).to_u16(), sw, "{sw:04X}");
        }
        assert_eq!(StatusWord::from_u16(0x63C2), StatusWord::TriesLeft(2));
        assert_eq!(StatusWord::from_u16(0x6983), StatusWord::AuthBlocked);
        assert_eq!(StatusWord::from_u16(0x6300), StatusWord::Other(0x6300));
        assert_eq!(StatusWord::from_u16(0x6115), StatusWord::MoreData(0x15));
    }

    #[test]
    fn encodes_all_four_cases() {
        assert_eq!(
            Command::verify(1, None).to_bytes().unwrap(),
            [0x00, 0x20, 0x00, 0x01]
        );
        assert_eq!(
            Command::read_binary(0x0102, 256).to_bytes().unwrap(),
            [0x00, 0xB0, 0x01, 0x02, 0x00]
        );
        assert_eq!(
            Command::select_fid(0x5031).to_bytes().unwrap(),
            [0x00, 0xA4, 0x00, 0x0C, 0x02, 0x50, 0x31]
        );
        assert_eq!(
            Command::select_aid(&[0xA0, 0x01]).to_bytes().unwrap(),
            [0x00, 0xA4, 0x04, 0x00, 0x02, 0xA0, 0x01, 0x00]
        );
    }

    #[test]
    fn parse_inverts_encode() {
        let cmds = [
            Command::verify(2, None),
            Command::verify(2, Some(b"12345678")),
            Command::read_binary(300, 200),
            Command::select_aid(&[1, 2, 3]),
            Command::compute_signature(&[7; 32]),
        ];
        for c in cmds {
            let parsed = Command::parse(&c.to_bytes().unwrap()).unwrap();
            assert_eq!(parsed, c);
        }
        assert_eq!(Command::parse(&[0, 1, 2]), Err(ApduError::TooShort));
        assert_eq!(
            Command::parse(&[0, 1, 2, 3, 5, 1]),
            Err(ApduError::BadLength)
        );
    }

    #[test]
    fn long_data_is_chained_with_le_on_last_link() {
        let data: Vec<u8> = (0..600u32).map(|i| i as u8).collect();
        let c = Command::update_binary(0, &data).with_le(0x10);
        assert_eq!(c.to_bytes(), Err(ApduError::DataTooLong(600)));
        let links = c.chain();
        assert_eq!(links.len(), 3);
        assert!(links[0].is_chained() && links[1].is_chained() && !links[2].is_chained());
        assert_eq!(links[0].le, None);
        assert_eq!(links[2].le, Some(0x10));
        let joined: Vec<u8> = links.iter().flat_map(|l| l.data.clone()).collect();
        assert_eq!(joined, data);
        assert!(links.iter().all(|l| l.to_bytes().is_ok()));
    }

    #[test]
    fn writes_by_short_identifier_carry_it_in_every_link() {
        let c = Command::update_binary_sfi(0x05, 0, &[0xAB; 300]);
        let links = c.chain();
        assert_eq!(links.len(), 2);
        assert!(links.iter().all(|l| (l.p1, l.p2) == (0x85, 0x00)));
        assert_eq!(
            links[0].to_bytes().unwrap()[..5],
            [0x10, 0xD6, 0x85, 0x00, 0xFF]
        );
        assert_eq!(
            Command::erase_binary_sfi(0x11, 0).to_bytes().unwrap(),
            [0x00, 0x0E, 0x91, 0x00]
        );
    }

    #[test]
    fn debug_never_shows_command_data() {
        let c = Command::verify(1, Some(b"987654"));
        assert!(!format!("{c:?}").contains("987654"));
    }

    #[test]
    fn response_parse() {
        let r = Response::parse(&[1, 2, 0x61, 0x05]).unwrap();
        assert_eq!(r.data, [1, 2]);
        assert_eq!(r.sw, StatusWord::MoreData(5));
        assert_eq!(r.to_bytes(), [1, 2, 0x61, 0x05]);
        assert_eq!(Response::parse(&[0x90]), Err(ApduError::ResponseTooShort));
    }
}
