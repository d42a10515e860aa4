//! `Pkcs11Card`: the [`Card`] interface over one card's tokens and sessions.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::MechanismType;
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::object::ObjectClass;
use cryptoki::session::{Session, SessionState, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

use crate::card::{
    Card, CardCertificate, CardError, CardOverview, CardSource, KeyEntry, KeySlot, MiddlewareError,
    PinKind, PinStatus, PublicKey, SecretCode, SignatureScheme, TriesKnown,
};
use crate::pki::{CertInfo, Purpose};

use super::error::{card_error, max_tries};
use super::module::{Module, load};
use super::objects;
use super::tokens::{AUTH_SUFFIX, Found, TokenCard, group, tokens_of};

/// One token and the session this card keeps open on it.
struct Token {
    slot: Slot,
    session: Session,
    label: String,
    reader: String,
    serial: String,
    manufacturer: String,
}

/// How the middleware shows the card's two PINs.
enum Tokens {
    PerPin { auth: Token, sign: Token },
    Single(Token),
}

/// Where a one-token middleware keeps PIN2 (a token per PIN shows it as its own token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pin2Shown {
    /// Its own token ("(Underskrift)"), whose user PIN it is.
    AsToken,
    /// Asked by the middleware at each signature (`CKA_ALWAYS_AUTHENTICATE`), SafeNet-style.
    AtSignature,
    /// Not at all: one token whose every key is under its one user PIN and none asks for a
    /// context-specific login (OpenSC 0.23 on an IDPrime card shows only PIN `0x11`, and no
    /// PUK [public: pkcs15-idprime.c 0.23]). Whether the card has a second code cannot be told
    /// through such middleware, so it is "not shown", never "none"; the PUK likewise (OpenSC
    /// takes any SO PIN when the card shows none [public: framework-pkcs15.c `pkcs15_login`]).
    No,
}

/// A card reached through PKCS#11.
pub struct Pkcs11Card {
    module: Arc<Module>,
    tokens: Tokens,
    /// `CKA_ID` of each slot whose objects do not use our one-byte ids.
    ids: BTreeMap<KeySlot, Vec<u8>>,
    /// PIN2 for the next signature with a `CKA_ALWAYS_AUTHENTICATE` key in this slot.
    armed: Option<(KeySlot, SecretCode)>,
    /// How the middleware shows PIN2, told once when the card is opened (before any login).
    pin2: Pin2Shown,
}

impl std::fmt::Debug for Pkcs11Card {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Card")
            .field("module", &self.module.path)
            .finish_non_exhaustive()
    }
}

impl Pkcs11Card {
    /// Load `module` and open the SITHS card it shows: the one card (a token, or the pair of
    /// tokens of a one-token-per-PIN card) whose label or reader contains `wanted`, or whose
    /// serial is `wanted`; without `wanted`, the one SITHS card there is. Several SITHS cards
    /// are a question for the user, never a silent choice ([`MiddlewareError::SeveralCards`]); a
    /// token that is no SITHS card is never opened for writing ([`MiddlewareError::NotSiths`]).
    pub fn open(module: &Path, wanted: Option<&str>) -> Result<Pkcs11Card, CardError> {
        let module = load(module)?;
        if wanted.is_some_and(|w| w.trim().is_empty()) {
            return Err(MiddlewareError::EmptyName.into());
        }
        let found = tokens_of(&module)?;
        let cards = group(&module, &found);
        let listing = |cards: &[&TokenCard]| {
            cards
                .iter()
                .map(|c| c.card.describe())
                .collect::<Vec<_>>()
                .join("; ")
        };
        let matching: Vec<&TokenCard> = match wanted {
            Some(w) => {
                let w = w.trim();
                let matching: Vec<&TokenCard> = cards.iter().filter(|c| c.is_named(w)).collect();
                if matching.is_empty() {
                    return Err(MiddlewareError::TokenNotFound {
                        wanted: w.to_string(),
                        seen: listing(&cards.iter().collect::<Vec<_>>()),
                    }
                    .into());
                }
                matching
            }
            None => cards.iter().collect(),
        };
        let siths: Vec<&TokenCard> = matching.iter().copied().filter(|c| c.card.siths).collect();
        let card = match siths.as_slice() {
            [one] => *one,
            [] => {
                return Err(MiddlewareError::NotSiths {
                    tokens: listing(&matching),
                }
                .into());
            }
            several => {
                return Err(MiddlewareError::SeveralCards {
                    cards: several.iter().map(|c| c.card.clone()).collect(),
                }
                .into());
            }
        };
        let tokens = match card.tokens.as_slice() {
            [a, s] => Tokens::PerPin {
                auth: open_token(&module, &found[*a])?,
                sign: open_token(&module, &found[*s])?,
            },
            [one, ..] => Tokens::Single(open_token(&module, &found[*one])?),
            [] => return Err(MiddlewareError::NoToken(module.path.display().to_string()).into()),
        };
        let pin2 = pin2_shown(&module, &tokens);
        Ok(Pkcs11Card {
            module,
            tokens,
            ids: BTreeMap::new(),
            armed: None,
            pin2,
        })
    }

    /// Every card `module` shows, SITHS or not, for a list to choose from.
    pub fn cards(module: &Path) -> Result<Vec<TokenCard>, CardError> {
        let module = load(module)?;
        let found = tokens_of(&module)?;
        Ok(group(&module, &found))
    }

    /// Whether the middleware shows one token per PIN (OpenSC, Net iD).
    pub fn token_per_pin(&self) -> bool {
        matches!(self.tokens, Tokens::PerPin { .. })
    }

    fn token(&self, kind: PinKind) -> &Token {
        match (&self.tokens, kind) {
            (Tokens::PerPin { sign, .. }, PinKind::Pin2) => sign,
            (Tokens::PerPin { auth, .. }, _) => auth,
            (Tokens::Single(t), _) => t,
        }
    }

    fn all_tokens(&self) -> Vec<(&Token, Option<PinKind>)> {
        match &self.tokens {
            Tokens::PerPin { auth, sign } => {
                vec![(auth, Some(PinKind::Pin1)), (sign, Some(PinKind::Pin2))]
            }
            Tokens::Single(t) => vec![(t, None)],
        }
    }

    /// PIN2 lives in the middleware, not in a token of its own.
    fn pin2_in_middleware(&self, kind: PinKind) -> bool {
        kind == PinKind::Pin2 && self.pin2 == Pin2Shown::AtSignature
    }

    /// The middleware shows PIN1 alone (not PIN2, not the PUK): nothing may ask for the others
    /// or use them.
    fn not_shown(&self, kind: PinKind) -> Result<(), CardError> {
        if kind != PinKind::Pin1 && self.pin2 == Pin2Shown::No {
            return Err(MiddlewareError::PinNotShown(kind).into());
        }
        Ok(())
    }

    fn id(&self, slot: KeySlot) -> Vec<u8> {
        self.ids
            .get(&slot)
            .cloned()
            .unwrap_or_else(|| slot.id().to_vec())
    }

    fn status(&self, kind: PinKind) -> Result<PinStatus, CardError> {
        let max = max_tries(kind);
        let label = match kind {
            PinKind::Pin1 => "PIN1",
            PinKind::Pin2 => "PIN2",
            PinKind::Puk => "PUK",
        };
        if self.pin2_in_middleware(kind) || self.not_shown(kind).is_err() {
            return Ok(PinStatus {
                kind,
                label: label.into(),
                tries_left: max,
                max_tries: max,
                verified: false,
                known: if self.pin2_in_middleware(kind) {
                    TriesKnown::Unknown
                } else {
                    TriesKnown::NotShown
                },
            });
        }
        let token = self.token(kind);
        let info = self
            .module
            .context
            .get_token_info(token.slot)
            .map_err(|e| card_error(e, "read the card's PIN state", kind))?;
        let (locked, last, low) = match kind {
            PinKind::Puk => (
                info.so_pin_locked(),
                info.so_pin_final_try(),
                info.so_pin_count_low(),
            ),
            _ => (
                info.user_pin_locked(),
                info.user_pin_final_try(),
                info.user_pin_count_low(),
            ),
        };
        let (tries_left, known) = if locked {
            (0, TriesKnown::Exact)
        } else if last {
            (1, TriesKnown::Exact)
        } else if low {
            (max - 1, TriesKnown::AtMost)
        } else {
            (max, TriesKnown::AtMost)
        };
        let state = token.session.get_session_info().map(|i| i.session_state());
        let verified = match kind {
            PinKind::Puk => matches!(state, Ok(SessionState::RwSecurityOfficer)),
            _ => matches!(state, Ok(SessionState::RwUser | SessionState::RoUser)),
        };
        Ok(PinStatus {
            kind,
            label: label.into(),
            tries_left,
            max_tries: max,
            verified,
            known,
        })
    }

    /// A wrong code, worded with what the token's flags say about the tries left.
    fn wrong_code(&self, kind: PinKind) -> CardError {
        match self.status(kind) {
            Ok(s) if s.tries_left == 0 && kind == PinKind::Puk => CardError::CardDead,
            Ok(s) if s.tries_left == 0 => CardError::Blocked(kind),
            Ok(s) if s.known == TriesKnown::Exact => CardError::WrongCode {
                kind,
                tries_left: s.tries_left,
            },
            _ => CardError::WrongCodeFewer {
                kind,
                max: max_tries(kind),
            },
        }
    }

    /// Map a failed call, reading the flags when the failure was a wrong code.
    fn fail(&self, e: Error, action: &'static str, kind: PinKind) -> CardError {
        if matches!(e, Error::Pkcs11(RvError::PinIncorrect, _)) {
            return self.wrong_code(kind);
        }
        card_error(e, action, kind)
    }

    /// Log the token of `kind` in with `code`. With `recheck`, a token already logged in is
    /// logged out first so the code is really checked.
    fn login(&self, kind: PinKind, code: &SecretCode, recheck: bool) -> Result<(), CardError> {
        let token = self.token(kind);
        let user = if kind == PinKind::Puk {
            UserType::So
        } else {
            UserType::User
        };
        let pin = AuthPin::from(code.expose_digits());
        if recheck || kind == PinKind::Puk {
            let _ = token.session.logout();
        }
        match token.session.login(user, Some(&pin)) {
            Ok(()) => Ok(()),
            Err(Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) if !recheck => Ok(()),
            Err(Error::Pkcs11(
                RvError::UserAnotherAlreadyLoggedIn | RvError::UserAlreadyLoggedIn,
                _,
            )) => {
                let _ = token.session.logout();
                token
                    .session
                    .login(user, Some(&pin))
                    .map_err(|e| self.fail(e, "check the code", kind))
            }
            Err(e) => Err(self.fail(e, "check the code", kind)),
        }
    }

    fn logged_in(&self, kind: PinKind) -> bool {
        matches!(
            self.token(kind)
                .session
                .get_session_info()
                .map(|i| i.session_state()),
            Ok(SessionState::RwUser | SessionState::RoUser)
        )
    }

    fn private_key(&self, slot: KeySlot) -> Result<objects::Object, CardError> {
        let kind = slot.pin();
        let session = &self.token(kind).session;
        let keys = objects::find(session, ObjectClass::PRIVATE_KEY, Some(&self.id(slot)))
            .map_err(|e| card_error(e, "find the key", kind))?;
        match keys.into_iter().next() {
            Some(k) => Ok(k),
            None if !self.logged_in(kind) => Err(CardError::NotVerified(kind)),
            None => Err(CardError::SlotEmpty(slot)),
        }
    }

    /// Give ids a slot: our one-byte ids are their slot; the ids in `seen` (certificates that
    /// look like the legacy pair) take the free legacy slots of their PIN (1 and 4 for PIN1, 5
    /// and 8 for PIN2). Any other id gets none.
    fn assign_slots(&mut self, seen: &[(Vec<u8>, PinKind)]) {
        self.ids.clear();
        let mut taken: Vec<KeySlot> = seen
            .iter()
            .filter_map(|(id, _)| KeySlot::from_id(id))
            .collect();
        for (id, pin) in seen {
            if KeySlot::from_id(id).is_some() || self.ids.values().any(|v| v == id) {
                continue;
            }
            let free = [1u8, 4, 5, 8]
                .into_iter()
                .filter_map(KeySlot::new)
                .find(|s| s.pin() == *pin && !taken.contains(s));
            if let Some(slot) = free {
                taken.push(slot);
                self.ids.insert(slot, id.clone());
            }
        }
    }

    fn slot_of(&self, id: &[u8]) -> Option<KeySlot> {
        KeySlot::from_id(id).or_else(|| {
            self.ids
                .iter()
                .find(|(_, v)| v.as_slice() == id)
                .map(|(s, _)| *s)
        })
    }
}

/// How the middleware shows PIN2, from what it shows before any login: a token per PIN shows
/// it as a token. One token shows no PIN2 when the middleware is OpenSC, which makes a token
/// for every user PIN it sees [public: OpenSC pkcs11/misc.c, `create_slots_for_pins` default
/// "all"], or when its private keys are listed and none asks for a context-specific login.
/// Otherwise (SafeNet-style, keys hidden until login) PIN2 is taken to be asked at each
/// signature.
fn pin2_shown(module: &Module, tokens: &Tokens) -> Pin2Shown {
    let token = match tokens {
        Tokens::PerPin { .. } => return Pin2Shown::AsToken,
        Tokens::Single(t) => t,
    };
    let opensc = module
        .context
        .get_library_info()
        .is_ok_and(|i| i.manufacturer_id().contains("OpenSC"));
    if opensc {
        return Pin2Shown::No;
    }
    let keys = objects::find(&token.session, ObjectClass::PRIVATE_KEY, None).unwrap_or_default();
    if !keys.is_empty()
        && keys
            .iter()
            .all(|k| !objects::always_authenticate(&token.session, k.handle))
    {
        Pin2Shown::No
    } else {
        Pin2Shown::AtSignature
    }
}

/// A certificate that may be the legacy pair: an HSA-id authentication or signature certificate
/// that no profile's CA issued (the workflows check it before they act on it).
fn looks_legacy(info: &CertInfo) -> bool {
    matches!(info.identity, crate::pki::Identity::HsaId(_))
        && matches!(info.purpose, Purpose::Authentication | Purpose::Signature)
        && crate::ca::Profile::of_certificate(info).is_none()
}

fn open_token(module: &Module, found: &Found) -> Result<Token, CardError> {
    let session = match module.context.open_rw_session(found.slot) {
        Err(Error::Pkcs11(RvError::TokenWriteProtected, _)) => {
            module.context.open_ro_session(found.slot)
        }
        other => other,
    }
    .map_err(|e| card_error(e, "open the card", PinKind::Pin1))?;
    Ok(Token {
        slot: found.slot,
        session,
        label: found.label.clone(),
        reader: found.reader.clone(),
        serial: found.serial.clone(),
        manufacturer: found.manufacturer.clone(),
    })
}

/// DigestInfo of SHA-256 (RFC 8017 9.2): CKM_RSA_PKCS signs it with the hash appended.
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

impl Card for Pkcs11Card {
    fn source(&self) -> CardSource {
        let token = match &self.tokens {
            Tokens::PerPin { auth, sign } => format!("{} + {}", auth.label, sign.label),
            Tokens::Single(t) => t.label.clone(),
        };
        CardSource::Pkcs11 {
            module: self.module.path.display().to_string(),
            token,
            serial: self.token(PinKind::Pin1).serial.clone(),
        }
    }

    fn overview(&mut self) -> Result<CardOverview, CardError> {
        let read = |e| card_error(e, "read the card", PinKind::Pin1);
        let mut certs = Vec::new();
        let mut keys = Vec::new();
        for (token, pin) in self.all_tokens() {
            for c in objects::find(&token.session, ObjectClass::CERTIFICATE, None).map_err(read)? {
                let info = CertInfo::from_der(&c.value).map_err(|e| e.to_string());
                let pin = pin.unwrap_or(match info.as_ref().map(|i| i.purpose) {
                    Ok(Purpose::Signature) => PinKind::Pin2,
                    _ => PinKind::Pin1,
                });
                certs.push((c, info, pin));
            }
            for class in [ObjectClass::PUBLIC_KEY, ObjectClass::PRIVATE_KEY] {
                for k in objects::find(&token.session, class, None).map_err(read)? {
                    let pin = pin
                        .or_else(|| {
                            certs
                                .iter()
                                .find(|(c, _, _)| c.id == k.id)
                                .map(|(_, _, p)| *p)
                        })
                        .unwrap_or(PinKind::Pin1);
                    keys.push((k, pin));
                }
            }
        }
        let mut seen: Vec<(Vec<u8>, PinKind)> = certs
            .iter()
            .filter(|(_, info, _)| info.as_ref().is_ok_and(looks_legacy))
            .map(|(c, _, p)| (c.id.clone(), *p))
            .collect();
        // Our one-byte ids hold their own slots, so a legacy id never takes one of them.
        seen.extend(
            certs
                .iter()
                .map(|(c, _, p)| (c.id.clone(), *p))
                .chain(keys.iter().map(|(k, p)| (k.id.clone(), *p)))
                .filter(|(id, _)| KeySlot::from_id(id).is_some()),
        );
        self.assign_slots(&seen);

        let mut key_entries: Vec<KeyEntry> = Vec::new();
        for (k, pin) in &keys {
            if key_entries.iter().any(|e| e.id == k.id) {
                continue;
            }
            key_entries.push(KeyEntry {
                id: k.id.clone(),
                label: k.label.clone(),
                slot: self.slot_of(&k.id),
                pin: Some(*pin),
                modulus_bits: (k.modulus.len() * 8) as u32,
            });
        }
        let certificates = certs
            .into_iter()
            .filter(|(_, info, _)| !info.as_ref().is_ok_and(|i| i.purpose == Purpose::Ca))
            .map(|(c, info, pin)| CardCertificate {
                slot: self.slot_of(&c.id),
                id: c.id,
                label: c.label,
                path: Vec::new(),
                pin: Some(pin),
                der: info.as_ref().map_or(c.value, |i| i.der.clone()),
                info,
            })
            .collect();
        let pins = self.pin_statuses(&[PinKind::Pin1, PinKind::Pin2, PinKind::Puk])?;
        let label = match &self.tokens {
            Tokens::PerPin { auth, .. } => auth
                .label
                .strip_suffix(AUTH_SUFFIX)
                .map_or(auth.label.clone(), |b| b.trim_end().to_string()),
            Tokens::Single(t) => t.label.clone(),
        };
        let source = self.source();
        let first = self.token(PinKind::Pin1);
        Ok(CardOverview {
            reader: source.describe(),
            source,
            serial: first.serial.clone(),
            label: Some(label),
            manufacturer: Some(first.manufacturer.clone()),
            pins,
            keys: key_entries,
            certificates,
        })
    }

    fn pin_statuses(&mut self, kinds: &[PinKind]) -> Result<Vec<PinStatus>, CardError> {
        kinds.iter().map(|&k| self.status(k)).collect()
    }

    fn verify_pin(&mut self, kind: PinKind, code: &SecretCode) -> Result<(), CardError> {
        self.not_shown(kind)?;
        if self.pin2_in_middleware(kind) {
            return Err(MiddlewareError::Pin2InMiddleware.into());
        }
        self.login(kind, code, true)?;
        if kind == PinKind::Puk {
            let _ = self.token(kind).session.logout();
        }
        Ok(())
    }

    fn authorize(&mut self, slot: KeySlot, code: &SecretCode) -> Result<(), CardError> {
        let kind = slot.pin();
        self.not_shown(kind)?;
        if !self.pin2_in_middleware(kind) {
            self.login(kind, code, false)?;
        }
        if kind == PinKind::Pin2 {
            self.armed = Some((slot, code.clone()));
        }
        Ok(())
    }

    fn change_pin(
        &mut self,
        kind: PinKind,
        old: &SecretCode,
        new: &SecretCode,
    ) -> Result<(), CardError> {
        let session = &self.settable(kind)?.session;
        session
            .set_pin(
                &AuthPin::from(old.expose_digits()),
                &AuthPin::from(new.expose_digits()),
            )
            .map_err(|e| self.fail(e, "change the PIN", kind))
    }

    fn unblock_pin(
        &mut self,
        kind: PinKind,
        puk: &SecretCode,
        new: &SecretCode,
    ) -> Result<(), CardError> {
        self.not_shown(PinKind::Puk)?;
        let session = &self.settable(kind)?.session;
        let _ = session.logout();
        session
            .login(UserType::So, Some(&AuthPin::from(puk.expose_digits())))
            .map_err(|e| match e {
                Error::Pkcs11(RvError::PinIncorrect, _) => self.wrong_code(PinKind::Puk),
                e => card_error(e, "check the PUK", PinKind::Puk),
            })?;
        // OpenSC checks the PUK only here, when the card unblocks (its SO login just keeps it).
        let result = session
            .init_pin(&AuthPin::from(new.expose_digits()))
            .map_err(|e| match e {
                Error::Pkcs11(RvError::PinIncorrect | RvError::PinLocked, _) => {
                    self.wrong_code(PinKind::Puk)
                }
                e => card_error(e, "set the new PIN", kind),
            });
        let _ = session.logout();
        result
    }

    fn read_public_key(&mut self, slot: KeySlot) -> Result<Option<PublicKey>, CardError> {
        let kind = slot.pin();
        let session = &self.token(kind).session;
        let id = self.id(slot);
        let read = |e| card_error(e, "read the key", kind);
        let to_key = |k: objects::Object| PublicKey {
            modulus: k.modulus,
            exponent: k.exponent,
        };
        // Logged in, the private key decides: a public key whose private half is missing (a
        // key generation cut short) is no key.
        if self.logged_in(kind) {
            let private =
                objects::find(session, ObjectClass::PRIVATE_KEY, Some(&id)).map_err(read)?;
            return Ok(private
                .into_iter()
                .find(|k| !k.modulus.is_empty())
                .map(to_key));
        }
        let public = objects::find(session, ObjectClass::PUBLIC_KEY, Some(&id)).map_err(read)?;
        Ok(public
            .into_iter()
            .find(|k| !k.modulus.is_empty())
            .map(to_key))
    }

    fn unfinished_key(
        &mut self,
        slot: KeySlot,
        labels: &[String],
    ) -> Result<Option<PublicKey>, CardError> {
        let kind = slot.pin();
        // Only our own one-byte id: a slot mapped onto someone else's id is never ours.
        if self.ids.contains_key(&slot) {
            return Ok(None);
        }
        let Some(key) = self.read_public_key(slot)? else {
            return Ok(None);
        };
        let session = &self.token(kind).session;
        let id = slot.id();
        let read = |e| card_error(e, "read the key", kind);
        if !objects::find(session, ObjectClass::CERTIFICATE, Some(&id))
            .map_err(read)?
            .is_empty()
        {
            return Ok(None);
        }
        let own =
            |label: &str| label == slot.generation_label() || labels.iter().any(|l| l == label);
        for class in [ObjectClass::PUBLIC_KEY, ObjectClass::PRIVATE_KEY] {
            if !objects::find(session, class, Some(&id))
                .map_err(read)?
                .iter()
                .all(|k| own(&k.label))
            {
                return Ok(None);
            }
        }
        Ok(Some(key))
    }

    fn can_generate_keys(&mut self) -> Result<(), CardError> {
        let wanted = MechanismType::RSA_PKCS_KEY_PAIR_GEN;
        for (token, kind) in self.all_tokens() {
            let kind = kind.unwrap_or(PinKind::Pin1);
            let offered = self
                .module
                .context
                .get_mechanism_list(token.slot)
                .map_err(|e| card_error(e, "read what the middleware can do", kind))?;
            let write_protected = self
                .module
                .context
                .get_token_info(token.slot)
                .map_err(|e| card_error(e, "read what the middleware can do", kind))?
                .write_protected();
            if write_protected || !offered.contains(&wanted) {
                return Err(MiddlewareError::NotSupported {
                    action: "make keys",
                    function: "C_GenerateKeyPair".into(),
                }
                .into());
            }
        }
        Ok(())
    }

    fn generate_key(&mut self, slot: KeySlot) -> Result<PublicKey, CardError> {
        let kind = slot.pin();
        if !self.logged_in(kind) {
            return Err(CardError::NotVerified(kind));
        }
        if self.read_public_key(slot)?.is_some() {
            return Err(CardError::SlotOccupied(slot));
        }
        let id = self.id(slot);
        // A public half left by our generation cut short goes before a new pair is made;
        // anyone else's public key under this id keeps the slot taken.
        for orphan in objects::find(
            &self.token(kind).session,
            ObjectClass::PUBLIC_KEY,
            Some(&id),
        )
        .map_err(|e| card_error(e, "generate a key", kind))?
        {
            if orphan.label != slot.generation_label() {
                return Err(CardError::SlotOccupied(slot));
            }
            self.token(kind)
                .session
                .destroy_object(orphan.handle)
                .map_err(|e| card_error(e, "generate a key", kind))?;
        }
        let (mechanism, public, private) =
            objects::key_pair_templates(&id, &slot.generation_label(), kind == PinKind::Pin2);
        let session = &self.token(kind).session;
        let (public_handle, _) = session
            .generate_key_pair(&mechanism, &public, &private)
            .map_err(|e| card_error(e, "generate a key", kind))?;
        let key = objects::find(session, ObjectClass::PUBLIC_KEY, Some(&id))
            .map_err(|e| card_error(e, "read the new key", kind))?
            .into_iter()
            .find(|k| k.handle == public_handle)
            .ok_or(CardError::SlotEmpty(slot))?;
        Ok(PublicKey {
            modulus: key.modulus,
            exponent: key.exponent,
        })
    }

    fn sign(
        &mut self,
        slot: KeySlot,
        sha256: &[u8; 32],
        scheme: SignatureScheme,
    ) -> Result<Vec<u8>, CardError> {
        let kind = slot.pin();
        self.not_shown(kind)?;
        if !self.pin2_in_middleware(kind) && !self.logged_in(kind) {
            return Err(CardError::NotVerified(kind));
        }
        let key = self.private_key(slot)?;
        let (mechanism, data) = match scheme {
            SignatureScheme::Pkcs1Sha256 => {
                let mut data = SHA256_DIGEST_INFO.to_vec();
                data.extend_from_slice(sha256);
                (Mechanism::RsaPkcs, data)
            }
            SignatureScheme::PssSha256 => (
                Mechanism::RsaPkcsPss(PkcsPssParams {
                    hash_alg: MechanismType::SHA256,
                    mgf: PkcsMgfType::MGF1_SHA256,
                    s_len: cryptoki_sys::CK_ULONG::from(32u8).into(),
                }),
                sha256.to_vec(),
            ),
        };
        let failed = |e| card_error(e, "sign", kind);
        if !objects::always_authenticate(&self.token(kind).session, key.handle) {
            return self
                .token(kind)
                .session
                .sign(&mechanism, key.handle, &data)
                .map_err(failed);
        }
        // PIN2 for this one signature, given to the middleware between init and sign.
        let code = match self.armed.take() {
            Some((armed, code)) if armed == slot => code,
            _ => return Err(CardError::NotVerified(PinKind::Pin2)),
        };
        let session = &self.token(kind).session;
        session.sign_init(&mechanism, key.handle).map_err(failed)?;
        let signed = session
            .login(
                UserType::ContextSpecific,
                Some(&AuthPin::from(code.expose_digits())),
            )
            .map_err(|e| self.fail(e, "check the signing PIN", PinKind::Pin2))
            .and_then(|()| self.module.raw.sign(session, &data).map_err(failed));
        if signed.is_err() {
            // A refused login leaves the operation open; a fresh session ends it.
            self.reopen(kind)?;
        }
        signed
    }

    fn write_certificate(
        &mut self,
        slot: KeySlot,
        label: &str,
        cert_der: &[u8],
    ) -> Result<(), CardError> {
        let kind = slot.pin();
        let id = self.id(slot);
        let session = &self.token(kind).session;
        let failed = |e| card_error(e, "write the certificate", kind);
        let old = objects::find(session, ObjectClass::CERTIFICATE, Some(&id)).map_err(failed)?;
        if old.iter().any(|c| c.value == cert_der) {
            return Ok(());
        }
        // The keys take the profile's label before the certificate commits the pair.
        for class in [ObjectClass::PRIVATE_KEY, ObjectClass::PUBLIC_KEY] {
            for k in objects::find(session, class, Some(&id)).map_err(failed)? {
                let _ = session.update_attributes(
                    k.handle,
                    &[cryptoki::object::Attribute::Label(
                        label.as_bytes().to_vec(),
                    )],
                );
            }
        }
        let template = objects::certificate_template(&id, label, cert_der)
            .map_err(|e| CardError::Malformed(e.to_string()))?;
        session.create_object(&template).map_err(failed)?;
        for c in old {
            session.destroy_object(c.handle).map_err(failed)?;
        }
        Ok(())
    }

    fn delete_pair(&mut self, slot: KeySlot) -> Result<(), CardError> {
        let kind = slot.pin();
        if !self.logged_in(kind) && !self.pin2_in_middleware(kind) {
            return Err(CardError::NotVerified(kind));
        }
        let id = self.id(slot);
        let session = &self.token(kind).session;
        let failed = |e| card_error(e, "remove the certificate pair", kind);
        for class in [
            ObjectClass::CERTIFICATE,
            ObjectClass::PUBLIC_KEY,
            ObjectClass::PRIVATE_KEY,
        ] {
            for o in objects::find(session, class, Some(&id)).map_err(failed)? {
                session.destroy_object(o.handle).map_err(failed)?;
            }
        }
        Ok(())
    }

    fn end_session(&mut self) -> Result<(), CardError> {
        self.armed = None;
        for (token, _) in self.all_tokens() {
            match token.session.logout() {
                Ok(()) | Err(Error::Pkcs11(RvError::UserNotLoggedIn, _)) => {}
                Err(e) => return Err(card_error(e, "log out of the card", PinKind::Pin1)),
            }
        }
        Ok(())
    }
}

impl Pkcs11Card {
    /// The token whose PIN `kind` this program may set (change or unblock): not the PUK, and
    /// not a PIN2 that single-token middleware keeps to itself.
    fn settable(&self, kind: PinKind) -> Result<&Token, CardError> {
        if kind == PinKind::Puk {
            return Err(CardError::PukNotChangeable);
        }
        self.not_shown(kind)?;
        if self.pin2_in_middleware(kind) {
            return Err(MiddlewareError::Pin2InMiddleware.into());
        }
        Ok(self.token(kind))
    }

    /// Replace the session on the token of `kind` (login state is the token's, so it stays).
    fn reopen(&mut self, kind: PinKind) -> Result<(), CardError> {
        let module = self.module.clone();
        let token = match (&mut self.tokens, kind) {
            (Tokens::PerPin { sign, .. }, PinKind::Pin2) => sign,
            (Tokens::PerPin { auth, .. }, _) => auth,
            (Tokens::Single(t), _) => t,
        };
        let found = Found {
            slot: token.slot,
            label: token.label.clone(),
            reader: token.reader.clone(),
            serial: token.serial.clone(),
            manufacturer: token.manufacturer.clone(),
        };
        *token = open_token(&module, &found)?;
        Ok(())
    }
}
