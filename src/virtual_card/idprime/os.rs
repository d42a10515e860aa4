//! The IDPrime card OS: the commands stock OpenSC's `idprime` driver sends, answered over the
//! card's state (see docs/domain.md "The IDPrime layout"). Each answer is computed on a copy
//! of the state; the caller saves a changed state before the card answers.
//!
//! Key generation (GENERATE ASYMMETRIC KEY PAIR, `00 46 00 <key reference>`) and file writes
//! (UPDATE BINARY at an offset into the selected EF, under PIN1) are [ours]: how the vendor's
//! middleware does them is not public.

use std::collections::BTreeSet;

use rsa::Pkcs1v15Sign;

use crate::apdu::{Command, Response, StatusWord};
use crate::layout;

use super::super::keys;
use super::super::pace::Work;
use super::super::state::CardState;
use crate::idprime::files;

/// What the card forgets on reset.
#[derive(Default)]
pub(crate) struct Session {
    current: Option<u16>,
    verified: BTreeSet<u8>,
    /// (algorithm, key reference) set by MSE SET.
    env: Option<(u8, u8)>,
    /// The hash echoed by the first PSO step, signed by the second.
    hash: Option<Vec<u8>>,
}

/// One command's effect: the answer, the state to save first (if it changed) and the work
/// done, for the pace.
pub(crate) struct Step {
    pub(crate) answer: Result<Response, StatusWord>,
    pub(crate) next: Option<CardState>,
    pub(crate) work: Work,
}

impl Step {
    fn answer(answer: Result<Response, StatusWord>) -> Self {
        Step {
            answer,
            next: None,
            work: Work::Plain,
        }
    }
}

const ALG_PKCS1_SHA256: u8 = 0x42;
const ALG_PKCS1_RAW: u8 = 0x02;
const ALG_PSS_SHA256: u8 = 0x45;

/// The key slot in the state that holds the key of `key_ref` (`0x56` + N → slot N + 1).
pub(crate) fn slot_of(key_ref: u8) -> Option<u8> {
    let slot = key_ref.checked_sub(files::KEY_REF_BASE)? + 1;
    layout::KEY_SLOTS.contains(&slot).then_some(slot)
}

/// The PIN that guards a key [ours]: the authentication keys (even certificate index) PIN1,
/// the signature keys PIN2, as the 0005 records on this card say.
pub(crate) fn pin_of(key_ref: u8) -> u8 {
    if key_ref.wrapping_sub(files::KEY_REF_BASE) % 2 == 0 {
        files::PIN1_REF
    } else {
        files::PIN2_REF
    }
}

/// Answer one parsed command. GET RESPONSE and Le are handled by the caller.
pub(crate) fn respond(state: &CardState, session: &mut Session, cmd: &Command) -> Step {
    if cmd.cla != 0x00 {
        return Step::answer(Err(StatusWord::ClaNotSupported));
    }
    let p1p2 = (cmd.p1, cmd.p2);
    match cmd.ins {
        0xA4 => Step::answer(select(state, session, cmd)),
        0xB0 => Step::answer(read_binary(state, session, cmd)),
        0xCA if p1p2 == (0x9F, 0x7F) => {
            Step::answer(Ok(Response::ok(files::cplc(state.serial().as_bytes()))))
        }
        0xCA => Step::answer(Err(StatusWord::ReferenceNotFound)),
        0x84 => {
            let n = if cmd.p2 == 0x01 { 8 } else { 16 };
            let bytes: Vec<u8> = (0..n).map(|_| rand::random::<u8>()).collect();
            Step::answer(Ok(Response::ok(bytes)))
        }
        0x20 if cmd.p1 == 0x00 => verify(state, session, cmd.p2, &cmd.data),
        0x20 => Step::answer(Err(StatusWord::IncorrectP1P2)),
        0x22 => Step::answer(mse(state, session, cmd)),
        0x2A => pso(state, session, cmd),
        0x46 => generate(state, session, cmd),
        0xD6 => update_binary(state, session, cmd),
        _ => Step::answer(Err(StatusWord::InsNotSupported)),
    }
}

fn select(state: &CardState, session: &mut Session, cmd: &Command) -> Result<Response, StatusWord> {
    match cmd.p1 {
        0x04 => {
            // Another AID (the PKCS#15 application OpenSC probes) is not on this card; the
            // applet stays selected, as on a real card.
            if cmd.data != files::AID {
                return Err(StatusWord::FileNotFound);
            }
            session.current = None;
            Ok(Response::status(StatusWord::Ok))
        }
        0x00 | 0x08 => {
            let mut path = cmd.data.as_slice();
            if cmd.p1 == 0x08 && path.len() > 2 && path[..2] == [0x3F, 0x00] {
                path = &path[2..];
            }
            let [hi, lo] = path else {
                return Err(if path.len() % 2 == 0 && !path.is_empty() {
                    StatusWord::FileNotFound
                } else {
                    StatusWord::WrongLength
                });
            };
            let fid = u16::from_be_bytes([*hi, *lo]);
            let ef = state
                .df(layout::FID_MF)
                .and_then(|df| df.ef(fid))
                .ok_or(StatusWord::FileNotFound)?;
            session.current = Some(fid);
            if cmd.p2 == 0x0C {
                return Ok(Response::status(StatusWord::Ok));
            }
            // FCP: 80 size (what OpenSC reads), 82 a transparent EF, 83 the FID.
            let size = u16::try_from(ef.content.len()).unwrap_or(u16::MAX);
            let mut fcp = vec![0x62, 0x0C, 0x80, 0x02];
            fcp.extend_from_slice(&size.to_be_bytes());
            fcp.extend_from_slice(&[0x82, 0x01, 0x01, 0x83, 0x02, *hi, *lo]);
            fcp[1] = (fcp.len() - 2) as u8;
            Ok(Response::ok(fcp))
        }
        _ => Err(StatusWord::IncorrectP1P2),
    }
}

fn current_ef(state: &CardState, session: &Session) -> Result<(u16, usize), StatusWord> {
    let fid = session.current.ok_or(StatusWord::CommandNotAllowed)?;
    let len = state
        .ef_content(layout::FID_MF, fid)
        .ok_or(StatusWord::FileNotFound)?
        .len();
    Ok((fid, len))
}

fn offset(cmd: &Command) -> Result<usize, StatusWord> {
    if cmd.p1 & 0x80 != 0 {
        return Err(StatusWord::IncorrectP1P2);
    }
    Ok(usize::from(u16::from_be_bytes([cmd.p1, cmd.p2])))
}

fn read_binary(
    state: &CardState,
    session: &Session,
    cmd: &Command,
) -> Result<Response, StatusWord> {
    if !cmd.data.is_empty() {
        return Err(StatusWord::WrongLength);
    }
    let at = offset(cmd)?;
    let (fid, _) = current_ef(state, session)?;
    let content = state.ef_content(layout::FID_MF, fid).unwrap_or(&[]);
    let rest = content.get(at..).ok_or(StatusWord::WrongP1P2)?;
    let le = cmd.le.unwrap_or(256);
    if rest.is_empty() {
        return Ok(Response::status(StatusWord::Ok));
    }
    if rest.len() < le {
        return Ok(Response::new(rest.to_vec(), StatusWord::EndOfFile));
    }
    Ok(Response::ok(rest[..le].to_vec()))
}

/// The stored code of `reference` as it arrives on the wire: its digits padded with `00` to
/// 16 bytes (the state keeps codes in the PKCS#15 layout's `FF`-padded form).
fn wire_form(stored: &[u8]) -> zeroize::Zeroizing<[u8; files::PIN_LEN]> {
    let mut out = zeroize::Zeroizing::new([0u8; files::PIN_LEN]);
    for (o, b) in out
        .iter_mut()
        .zip(stored.iter().take_while(|&&b| b != layout::PIN_PAD))
    {
        *o = *b;
    }
    out
}

fn verify(state: &CardState, session: &mut Session, reference: u8, data: &[u8]) -> Step {
    let Some(pin) = state.pin(reference) else {
        return Step::answer(Err(StatusWord::ReferenceNotFound));
    };
    if data.is_empty() {
        // Tries left without spending one: 9000 when verified in this session.
        let sw = if session.verified.contains(&reference) {
            StatusWord::Ok
        } else if pin.tries_left == 0 {
            StatusWord::AuthBlocked
        } else {
            StatusWord::TriesLeft(pin.tries_left)
        };
        return Step::answer(Ok(Response::status(sw)));
    }
    // A malformed code costs no try: 16 bytes, digits then 00 padding only.
    if data.len() != files::PIN_LEN {
        return Step::answer(Err(StatusWord::WrongLength));
    }
    let digits = data.iter().take_while(|b| b.is_ascii_digit()).count();
    if data[digits..].iter().any(|&b| b != 0) || digits < pin.min_len || digits > pin.max_len {
        return Step::answer(Err(StatusWord::WrongData));
    }
    if pin.tries_left == 0 {
        return Step::answer(Err(StatusWord::AuthBlocked));
    }
    let expected = wire_form(&pin.value);
    let same = expected
        .iter()
        .zip(data.iter())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0;
    let mut next = state.clone();
    let Some(stored) = next.pin_mut(reference) else {
        return Step::answer(Err(StatusWord::ReferenceNotFound));
    };
    if same {
        let changed = stored.tries_left != stored.max_tries;
        stored.tries_left = stored.max_tries;
        session.verified.insert(reference);
        return Step {
            answer: Ok(Response::status(StatusWord::Ok)),
            next: changed.then_some(next),
            work: Work::Plain,
        };
    }
    stored.tries_left -= 1;
    let left = stored.tries_left;
    session.verified.remove(&reference);
    Step {
        answer: Err(if left == 0 {
            StatusWord::AuthBlocked
        } else {
            StatusWord::TriesLeft(left)
        }),
        next: Some(next),
        work: Work::Plain,
    }
}

fn mse(state: &CardState, session: &mut Session, cmd: &Command) -> Result<Response, StatusWord> {
    session.env = None;
    session.hash = None;
    if (cmd.p1, cmd.p2) != (0x41, 0xB6) {
        return Err(StatusWord::IncorrectP1P2);
    }
    let (algorithm, key_ref) = keys::parse_mse(&cmd.data).ok_or(StatusWord::WrongData)?;
    if ![ALG_PKCS1_SHA256, ALG_PKCS1_RAW, ALG_PSS_SHA256].contains(&algorithm) {
        return Err(StatusWord::WrongData);
    }
    let slot = slot_of(key_ref).ok_or(StatusWord::ReferenceNotFound)?;
    if state.key_der(slot).is_none() {
        return Err(StatusWord::ReferenceNotFound);
    }
    session.env = Some((algorithm, key_ref));
    Ok(Response::status(StatusWord::Ok))
}

fn pso(state: &CardState, session: &mut Session, cmd: &Command) -> Step {
    match (cmd.p1, cmd.p2) {
        (0x90, 0xA0) => Step::answer(pso_hash(session, &cmd.data)),
        (0x9E, 0x9A) if cmd.data.is_empty() => {
            let answer = pso_sign(state, session);
            Step {
                work: if answer.is_ok() {
                    Work::Signature
                } else {
                    Work::Plain
                },
                answer,
                next: None,
            }
        }
        (0x9E, 0x9A) => Step::answer(Err(StatusWord::WrongLength)),
        _ => Step::answer(Err(StatusWord::IncorrectP1P2)),
    }
}

/// Step one: `90 L hash`; the card keeps the hash and echoes it.
fn pso_hash(session: &mut Session, data: &[u8]) -> Result<Response, StatusWord> {
    session.hash = None;
    let (algorithm, _) = session.env.ok_or(StatusWord::ConditionsNotSatisfied)?;
    let [0x90, len, hash @ ..] = data else {
        return Err(StatusWord::WrongData);
    };
    if usize::from(*len) != hash.len() {
        return Err(StatusWord::WrongData);
    }
    let fits = match algorithm {
        ALG_PKCS1_RAW => !hash.is_empty() && hash.len() <= layout::RSA_BITS / 8 - 11,
        _ => hash.len() == keys::HASH_LEN,
    };
    if !fits {
        return Err(StatusWord::WrongData);
    }
    session.hash = Some(hash.to_vec());
    Ok(Response::ok(hash.to_vec()))
}

/// Step two: the signature over the kept hash, under the key's PIN.
fn pso_sign(state: &CardState, session: &mut Session) -> Result<Response, StatusWord> {
    let (algorithm, key_ref) = session.env.ok_or(StatusWord::ConditionsNotSatisfied)?;
    let hash = session
        .hash
        .take()
        .ok_or(StatusWord::ConditionsNotSatisfied)?;
    if !session.verified.contains(&pin_of(key_ref)) {
        return Err(StatusWord::SecurityStatusNotSatisfied);
    }
    let der = slot_of(key_ref)
        .and_then(|slot| state.key_der(slot))
        .ok_or(StatusWord::ReferenceNotFound)?;
    let key = keys::load(der).map_err(|e| {
        log::error!("virtual card: key {key_ref:02X}: {e}");
        StatusWord::Unknown
    })?;
    let signature = match algorithm {
        ALG_PKCS1_RAW => key
            .sign(Pkcs1v15Sign::new_unprefixed(), &hash)
            .map_err(|e| e.to_string()),
        _ => keys::sign(&key, algorithm, &hash).map_err(|e| e.to_string()),
    }
    .map_err(|e| {
        log::error!("virtual card: key {key_ref:02X}: {e}");
        StatusWord::Unknown
    })?;
    Ok(Response::ok(signature))
}

/// [ours] `00 46 00 <key reference>`: a fresh RSA-2048 key, its `7F49` public template back.
fn generate(state: &CardState, session: &mut Session, cmd: &Command) -> Step {
    let refuse = |sw| Step::answer(Err(sw));
    if cmd.p1 != 0x00 || !cmd.data.is_empty() {
        return refuse(StatusWord::IncorrectP1P2);
    }
    let Some(slot) = slot_of(cmd.p2) else {
        return refuse(StatusWord::ReferenceNotFound);
    };
    if !session.verified.contains(&files::PIN1_REF) {
        return refuse(StatusWord::SecurityStatusNotSatisfied);
    }
    if state.key_der(slot).is_some() {
        return refuse(StatusWord::ConditionsNotSatisfied);
    }
    let made = keys::generate().and_then(|der| keys::load(&der).map(|key| (der, key)));
    let (der, key) = match made {
        Ok(made) => made,
        Err(e) => {
            log::error!("virtual card: {e}");
            return refuse(StatusWord::Unknown);
        }
    };
    let mut next = state.clone();
    next.store_key(slot, der.to_vec());
    Step {
        answer: Ok(Response::ok(keys::public_key_template(
            &key.to_public_key(),
        ))),
        next: Some(next),
        work: Work::KeyGeneration,
    }
}

/// [ours] UPDATE BINARY at an offset into the selected EF, under PIN1; the EF grows up to
/// its capacity.
fn update_binary(state: &CardState, session: &mut Session, cmd: &Command) -> Step {
    let run = || -> Result<CardState, StatusWord> {
        if !session.verified.contains(&files::PIN1_REF) {
            return Err(StatusWord::SecurityStatusNotSatisfied);
        }
        let at = offset(cmd)?;
        let (fid, len) = current_ef(state, session)?;
        if at > len {
            return Err(StatusWord::WrongP1P2);
        }
        let mut next = state.clone();
        let ef = next
            .df_mut(layout::FID_MF)
            .and_then(|df| df.ef_mut(fid))
            .ok_or(StatusWord::FileNotFound)?;
        let end = at + cmd.data.len();
        if end > ef.capacity {
            return Err(StatusWord::NotEnoughMemory);
        }
        if ef.content.len() < end {
            ef.content.resize(end, 0);
        }
        ef.content[at..end].copy_from_slice(&cmd.data);
        Ok(next)
    };
    match run() {
        Ok(next) => Step {
            answer: Ok(Response::status(StatusWord::Ok)),
            next: Some(next),
            work: Work::Plain,
        },
        Err(sw) => Step::answer(Err(sw)),
    }
}
