//! The IDPrime card's keys: MSE SET and the two-step PSO that sign [public: card-idprime.c],
//! and our key commands [ours: docs/domain.md "Our extensions"]: GENERATE `00 46 80` (make)
//! and `00 46 81` (read the public key), DELETE KEY `80 E4 00`.
//!
//! Container N's key (key reference `0x56` + N) lives in the state's key slot
//! [`ext::slot_of_container`]`(N)`, so a slot number means the same on both layouts
//! (authentication 1-4, signing 5-8).

use rsa::Pkcs1v15Sign;

use crate::apdu::{Command, Response, StatusWord};
use crate::idprime::extensions as ext;
use crate::idprime::files;
use crate::layout;

use super::super::keys;
use super::super::pace::Work;
use super::super::state::CardState;
use super::session::{Session, Step, may_write};

const ALG_PKCS1_SHA256: u8 = 0x42;
const ALG_PKCS1_RAW: u8 = 0x02;
const ALG_PSS_SHA256: u8 = 0x45;

/// The key slot in the state that holds the key of `key_ref` (`0x56` + N → our slot of
/// container N).
pub(crate) fn slot_of(key_ref: u8) -> Option<u8> {
    ext::slot_of_container(key_ref.checked_sub(files::KEY_REF_BASE)?)
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

pub(super) fn mse(
    state: &CardState,
    session: &mut Session,
    cmd: &Command,
) -> Result<Response, StatusWord> {
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

pub(super) fn pso(state: &CardState, session: &mut Session, cmd: &Command) -> Step {
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
                ..Step::answer(answer)
            }
        }
        (0x9E, 0x9A) => Step::refuse(StatusWord::WrongLength),
        _ => Step::refuse(StatusWord::IncorrectP1P2),
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

/// Step two: the signature over the kept hash, under the key's PIN; none on a dead card.
fn pso_sign(state: &CardState, session: &mut Session) -> Result<Response, StatusWord> {
    if state.is_dead() {
        return Err(StatusWord::ReferenceDataNotUsable);
    }
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

/// The `7F49` template of the key in `slot`.
fn public_template(der: &[u8], key_ref: u8) -> Result<Response, StatusWord> {
    keys::load(der)
        .map(|key| Response::ok(keys::public_key_template(&key.to_public_key())))
        .map_err(|e| {
            log::error!("virtual card: key {key_ref:02X}: {e}");
            StatusWord::Unknown
        })
}

/// [ours] GENERATE ASYMMETRIC KEY PAIR: P1 `80` makes a fresh RSA-2048 key under PIN1
/// (`6985` when the reference holds one: nothing is destroyed silently), P1 `81` reads the
/// public key of one there (`6A88` when none), with no PIN. Both answer a `7F49` template.
pub(super) fn generate(state: &CardState, session: &mut Session, cmd: &Command) -> Step {
    if !cmd.data.is_empty() {
        return Step::refuse(StatusWord::WrongLength);
    }
    let key_ref = cmd.p2;
    let Some(slot) = slot_of(key_ref) else {
        return Step::refuse(StatusWord::ReferenceNotFound);
    };
    match cmd.p1 {
        ext::P1_READ_PUBLIC_KEY => Step::answer(
            state
                .key_der(slot)
                .ok_or(StatusWord::ReferenceNotFound)
                .and_then(|der| public_template(der, key_ref)),
        ),
        ext::P1_GENERATE => {
            if let Err(sw) = may_write(state, session) {
                return Step::refuse(sw);
            }
            if state.key_der(slot).is_some() {
                return Step::refuse(StatusWord::ConditionsNotSatisfied);
            }
            let made = keys::generate().and_then(|der| keys::load(&der).map(|key| (der, key)));
            let (der, key) = match made {
                Ok(made) => made,
                Err(e) => {
                    log::error!("virtual card: {e}");
                    return Step::refuse(StatusWord::Unknown);
                }
            };
            let mut next = state.clone();
            next.store_key(slot, der.to_vec());
            let template = keys::public_key_template(&key.to_public_key());
            Step::changed(Response::ok(template), next, Work::KeyGeneration)
        }
        _ => Step::refuse(StatusWord::IncorrectP1P2),
    }
}

/// [ours] DELETE KEY `80 E4 00 <key ref>` under PIN1: `6A88` when the reference holds none.
pub(super) fn delete_key(state: &CardState, session: &mut Session, cmd: &Command) -> Step {
    if cmd.p1 != 0x00 || !cmd.data.is_empty() {
        return Step::refuse(StatusWord::IncorrectP1P2);
    }
    if let Err(sw) = may_write(state, session) {
        return Step::refuse(sw);
    }
    let key_ref = cmd.p2;
    let Some(slot) = slot_of(key_ref) else {
        return Step::refuse(StatusWord::ReferenceNotFound);
    };
    let mut next = state.clone();
    if !next.remove_key(slot) {
        return Step::refuse(StatusWord::ReferenceNotFound);
    }
    if session.env.is_some_and(|(_, r)| r == key_ref) {
        session.env = None;
        session.hash = None;
    }
    log::info!("virtual card: deleted key {key_ref:02X}");
    Step::changed(Response::status(StatusWord::Ok), next, Work::Plain)
}
