//! The PC/SC transport: real readers (and vpcd's virtual ones) through pcscd, via the `pcsc` crate.
//!
//! Every entry point makes a fresh PC/SC context: a context made before a pcscd restart stays
//! broken forever, and establishing one is a single local socket connection, so caching buys
//! nothing. A connected [`PcscTransport`] that finds its context dead makes a new one and
//! reconnects once (see [`PcscTransport::transaction`]).

use std::ffi::{CStr, CString};
use std::time::{Duration, Instant};

use pcsc::{Context, Disposition, Protocols, ReaderState, Scope, ShareMode, State};

use super::{Transmit, Transport, TransportError};

/// One reader as the user would pick it, with what is needed to explain why it cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderInfo {
    /// The name PC/SC gives it; pass it to [`PcscTransport::connect`].
    pub name: String,
    /// A card is in the reader (and not mute), so connecting can work.
    pub card_present: bool,
    /// The card's answer to reset, to recognise a SITHS card before connecting; empty without a card.
    pub atr: Vec<u8>,
    /// Another program holds the card exclusively, so connecting would fail with `CardInUse`.
    pub exclusive: bool,
}

impl ReaderInfo {
    /// A reader of vsmartcard's vpcd driver ("Virtual PCD 00 00"): the virtual card's, on a
    /// developer's, tester's or trainer's computer, never a holder's workstation reader.
    pub fn is_virtual(&self) -> bool {
        self.name.starts_with("Virtual PCD")
    }
}

/// Whether a computer with these readers is a holder's workstation, where the app opens on the
/// holder's own card (asking for it while the reader is empty): a physical reader, or any
/// reader with a card in it. Only virtual readers, all empty (a developer's machine with vpcd),
/// or none at all: the demo starts by itself.
pub fn holder_workstation(readers: &[ReaderInfo]) -> bool {
    readers.iter().any(|r| !r.is_virtual() || r.card_present)
}

/// All readers pcscd knows, with their cards. No readers is not an error here: the caller decides
/// whether that means [`TransportError::NoReader`] or "wait for one".
pub fn list_readers() -> Result<Vec<ReaderInfo>, TransportError> {
    let context = establish()?;
    reader_infos(&context)
}

fn reader_infos(context: &Context) -> Result<Vec<ReaderInfo>, TransportError> {
    let names = context.list_readers_owned().map_err(map_context_error)?;
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let mut states: Vec<ReaderState> = names
        .into_iter()
        .map(|name| ReaderState::new(name, State::UNAWARE))
        .collect();
    match context.get_status_change(std::time::Duration::ZERO, &mut states) {
        // With UNAWARE as the known state every reader reports at once; a timeout still leaves
        // the event states filled in.
        Ok(()) | Err(pcsc::Error::Timeout) => {}
        Err(e) => return Err(map_context_error(e)),
    }
    Ok(states
        .iter()
        .map(|state| {
            let event = state.event_state();
            let card_present = event.contains(State::PRESENT) && !event.contains(State::MUTE);
            ReaderInfo {
                name: state.name().to_string_lossy().into_owned(),
                card_present,
                atr: if card_present {
                    state.atr().to_vec()
                } else {
                    Vec::new()
                },
                exclusive: event.contains(State::EXCLUSIVE),
            }
        })
        .collect())
}

/// A shared connection to the card in one reader. Dropping it leaves the card powered and as it
/// was (not reset), so other programs' logins on the card survive us.
pub struct PcscTransport {
    reader: String,
    reader_c: CString,
    atr: Vec<u8>,
    card: Option<pcsc::Card>,
    receive: Vec<u8>,
}

const PROTOCOLS: Protocols = Protocols::T0.union(Protocols::T1);

impl PcscTransport {
    /// Connect to `reader`, or with `None` to the first reader that has a card, sharing the card
    /// with other programs (we take it exclusively only inside [`Transport::transaction`]).
    pub fn connect(reader: Option<&str>) -> Result<Self, TransportError> {
        let context = establish()?;
        let reader = match reader {
            Some(name) => name.to_owned(),
            None => first_reader_with_card(&context)?,
        };
        let reader_c = CString::new(reader.clone())
            .map_err(|_| TransportError::ReaderNotFound(reader.clone()))?;
        let card = connect_card(&context, &reader_c, &reader)?;
        let atr = card_atr(&card, &reader)?;
        Ok(PcscTransport {
            reader,
            reader_c,
            atr,
            card: Some(card),
            receive: vec![0; pcsc::MAX_BUFFER_SIZE_EXTENDED],
        })
    }

    /// After pcscd went away our context and card handle are dead: make a new context and
    /// connect again. The card was powered down meanwhile, so the caller must redo its work.
    fn reconnect_fresh(&mut self) -> Result<(), TransportError> {
        if let Some(old) = self.card.take() {
            // The handle is already dead; leave the card as it is.
            let _ = old.disconnect(Disposition::LeaveCard);
        }
        let context = establish()?;
        let card = connect_card(&context, &self.reader_c, &self.reader)?;
        self.atr = card_atr(&card, &self.reader)?;
        self.card = Some(card);
        Ok(())
    }

    /// After another program reset the card: re-synchronise our handle with it.
    fn reconnect_after_reset(&mut self) -> Result<(), TransportError> {
        let reader = self.reader.clone();
        let Some(card) = self.card.as_mut() else {
            return self.reconnect_fresh();
        };
        match card.reconnect(ShareMode::Shared, PROTOCOLS, Disposition::LeaveCard) {
            Ok(()) => Ok(()),
            Err(e) if is_dead_context(e) => self.reconnect_fresh(),
            Err(e) => Err(map_card_error(e, &reader, false)),
        }
    }

    /// Turn a failure of the card handle into what the caller should do: reconnect where that
    /// helps, and tell the caller to redo its operation (`CardReset`) when it did.
    fn recover(&mut self, error: pcsc::Error, during_command: bool) -> TransportError {
        if error == pcsc::Error::ResetCard {
            return match self.reconnect_after_reset() {
                Ok(()) => TransportError::CardReset,
                Err(e) => e,
            };
        }
        if is_dead_context(error) {
            return match self.reconnect_fresh() {
                Ok(()) => TransportError::CardReset,
                Err(e) => e,
            };
        }
        let mapped = map_card_error(error, &self.reader, during_command);
        let removed = matches!(
            mapped,
            TransportError::CardRemoved | TransportError::NoCard(_)
        ) || (matches!(mapped, TransportError::Other(_))
            && card_was_removed(&self.reader_c));
        if removed {
            // The handle is dead; the next transaction connects afresh to whatever card is in
            // the reader then.
            if let Some(old) = self.card.take() {
                let _ = old.disconnect(Disposition::LeaveCard);
            }
            return if during_command {
                TransportError::CardRemoved
            } else {
                TransportError::NoCard(self.reader.clone())
            };
        }
        mapped
    }
}

impl Transport for PcscTransport {
    fn reader_name(&self) -> &str {
        &self.reader
    }

    fn atr(&self) -> &[u8] {
        &self.atr
    }

    /// A PC/SC transaction around `body`. If the card was reset by someone else (before or during
    /// `body`) we reconnect and return `CardReset`: whatever `body` did must be redone, since
    /// the card forgot verified PINs and selected files.
    fn transaction(
        &mut self,
        body: &mut dyn FnMut(&mut dyn Transmit),
    ) -> Result<(), TransportError> {
        if self.card.is_none() {
            self.reconnect_fresh()?;
        }
        let Some(card) = self.card.as_mut() else {
            return Err(TransportError::Other(
                "no card handle after reconnecting".into(),
            ));
        };
        let failure = match card.transaction2() {
            Err((_, error)) => Some(error),
            Ok(tx) => {
                let mut link = TransactionLink {
                    tx: &tx,
                    reader: &self.reader,
                    reader_c: &self.reader_c,
                    receive: &mut self.receive,
                    fatal: None,
                };
                body(&mut link);
                let fatal = link.fatal;
                let ended = tx.end(Disposition::LeaveCard).err().map(|(_, e)| e);
                // A failure inside the body says more than the one ending the transaction.
                fatal.or(ended)
            }
        };
        match failure {
            None => Ok(()),
            Some(error) => Err(self.recover(error, true)),
        }
    }
}

impl Drop for PcscTransport {
    fn drop(&mut self) {
        if let Some(card) = self.card.take() {
            // The crate's own Drop resets the card, which would log out other programs.
            let _ = card.disconnect(Disposition::LeaveCard);
        }
    }
}

/// What `body` sees inside a transaction. It remembers errors that end the session (reset,
/// removal, pcscd gone), so the transaction can report them even if `body` swallowed them.
struct TransactionLink<'a, 'tx> {
    tx: &'a pcsc::Transaction<'tx>,
    reader: &'a str,
    reader_c: &'a CStr,
    receive: &'a mut Vec<u8>,
    fatal: Option<pcsc::Error>,
}

impl Transmit for TransactionLink<'_, '_> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        if let Some(error) = self.fatal {
            return Err(map_card_error(error, self.reader, true));
        }
        match self.tx.transmit(command, self.receive) {
            Ok(answer) if answer.len() >= 2 => Ok(answer.to_vec()),
            Ok(answer) => {
                // No status word: vpcd (and some readers) answer this way when the card is
                // pulled mid-command.
                if card_was_removed(self.reader_c) {
                    self.fatal = Some(pcsc::Error::RemovedCard);
                    Err(TransportError::CardRemoved)
                } else {
                    Err(TransportError::Malformed(format!(
                        "the card answered with {} byte(s) and no status word",
                        answer.len()
                    )))
                }
            }
            Err(error) => {
                if ends_session(error) {
                    self.fatal = Some(error);
                }
                Err(match error {
                    pcsc::Error::ResetCard => TransportError::CardReset,
                    other => map_card_error(other, self.reader, true),
                })
            }
        }
    }
}

fn ends_session(error: pcsc::Error) -> bool {
    matches!(
        error,
        pcsc::Error::ResetCard
            | pcsc::Error::RemovedCard
            | pcsc::Error::NoSmartcard
            | pcsc::Error::UnpoweredCard
            | pcsc::Error::UnresponsiveCard
    ) || is_dead_context(error)
}

/// How long to wait for pcscd to notice a pulled card (it polls some readers, vpcd included,
/// a few times a second). Only spent after an answer that makes no sense for a present card.
const REMOVAL_PROBE: Duration = Duration::from_secs(2);

/// Whether the card in `reader` is gone, or goes within [`REMOVAL_PROBE`]: used to tell a pulled
/// card from a card that misbehaves when the error itself does not say.
fn card_was_removed(reader: &CStr) -> bool {
    let Ok(context) = Context::establish(Scope::User) else {
        return false;
    };
    let mut states = [ReaderState::new(reader.to_owned(), State::UNAWARE)];
    let deadline = Instant::now() + REMOVAL_PROBE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match context.get_status_change(left, &mut states) {
            Ok(()) | Err(pcsc::Error::Timeout) => {}
            Err(pcsc::Error::UnknownReader) => return true,
            Err(_) => return false,
        }
        let event = states[0].event_state();
        if !event.contains(State::PRESENT) || event.contains(State::EMPTY) {
            return true;
        }
        if left.is_zero() {
            return false;
        }
        states[0].sync_current_state();
    }
}

fn establish() -> Result<Context, TransportError> {
    Context::establish(Scope::User).map_err(map_context_error)
}

fn first_reader_with_card(context: &Context) -> Result<String, TransportError> {
    let readers = reader_infos(context)?;
    if let Some(reader) = readers.iter().find(|r| r.card_present) {
        return Ok(reader.name.clone());
    }
    match readers.into_iter().next() {
        Some(first) => Err(TransportError::NoCard(first.name)),
        None => Err(TransportError::NoReader),
    }
}

fn connect_card(
    context: &Context,
    reader_c: &CStr,
    reader: &str,
) -> Result<pcsc::Card, TransportError> {
    context
        .connect(reader_c, ShareMode::Shared, PROTOCOLS)
        .map_err(|e| map_card_error(e, reader, false))
}

fn card_atr(card: &pcsc::Card, reader: &str) -> Result<Vec<u8>, TransportError> {
    card.status2_owned()
        .map(|status| status.atr().to_vec())
        .map_err(|e| map_card_error(e, reader, false))
}

/// The context no longer reaches a pcscd (it stopped or restarted); only a new one helps.
pub(crate) fn is_dead_context(error: pcsc::Error) -> bool {
    matches!(
        error,
        pcsc::Error::NoService
            | pcsc::Error::ServiceStopped
            | pcsc::Error::InvalidHandle
            | pcsc::Error::CommError
    )
}

/// Errors of calls that are not about one reader (establishing, listing, waiting).
pub(crate) fn map_context_error(error: pcsc::Error) -> TransportError {
    match error {
        e if is_dead_context(e) => TransportError::NoService,
        pcsc::Error::NoReadersAvailable => TransportError::NoReader,
        pcsc::Error::Cancelled => TransportError::Cancelled,
        other => TransportError::Other(other.to_string()),
    }
}

/// Errors of calls on one reader or card. `during_command` separates "no card to start with"
/// from "the card went away while we talked to it".
pub(crate) fn map_card_error(
    error: pcsc::Error,
    reader: &str,
    during_command: bool,
) -> TransportError {
    match error {
        e if is_dead_context(e) => TransportError::NoService,
        pcsc::Error::NoReadersAvailable => TransportError::NoReader,
        pcsc::Error::UnknownReader | pcsc::Error::ReaderUnavailable => {
            TransportError::ReaderNotFound(reader.to_owned())
        }
        pcsc::Error::NoSmartcard | pcsc::Error::RemovedCard => {
            if during_command {
                TransportError::CardRemoved
            } else {
                TransportError::NoCard(reader.to_owned())
            }
        }
        pcsc::Error::SharingViolation => TransportError::CardInUse(reader.to_owned()),
        pcsc::Error::ResetCard => TransportError::CardReset,
        pcsc::Error::UnresponsiveCard | pcsc::Error::UnpoweredCard => TransportError::Unresponsive,
        pcsc::Error::Cancelled => TransportError::Cancelled,
        other => TransportError::Other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(name: &str, card: bool) -> ReaderInfo {
        ReaderInfo {
            name: name.into(),
            card_present: card,
            atr: Vec::new(),
            exclusive: false,
        }
    }

    #[test]
    fn a_physical_reader_or_a_card_makes_a_holders_workstation() {
        let empty_vpcd = [
            reader("Virtual PCD 00 00", false),
            reader("Virtual PCD 00 01", false),
        ];
        assert!(!holder_workstation(&[]), "no reader: the demo");
        assert!(
            !holder_workstation(&empty_vpcd),
            "vpcd only, no card: the demo"
        );
        assert!(holder_workstation(&[reader("Virtual PCD 00 00", true)]));
        assert!(
            holder_workstation(&[reader("Alcor Micro AU9540 00 00", false)]),
            "an empty physical reader: ask for the holder's card"
        );
        assert!(holder_workstation(&[
            reader("Virtual PCD 00 00", false),
            reader(
                "HID Global OMNIKEY 3x21 Smart Card Reader [OMNIKEY 3x21 Smart Card Reader] 00 00",
                false
            ),
        ]));
    }

    #[test]
    fn errors_that_need_the_user_map_to_their_own_variant() {
        let r = "Reader 0";
        assert_eq!(
            map_card_error(pcsc::Error::SharingViolation, r, false),
            TransportError::CardInUse(r.into())
        );
        assert_eq!(
            map_card_error(pcsc::Error::NoSmartcard, r, false),
            TransportError::NoCard(r.into())
        );
        assert_eq!(
            map_card_error(pcsc::Error::RemovedCard, r, true),
            TransportError::CardRemoved
        );
        assert_eq!(
            map_card_error(pcsc::Error::UnknownReader, r, false),
            TransportError::ReaderNotFound(r.into())
        );
        assert_eq!(
            map_card_error(pcsc::Error::UnpoweredCard, r, true),
            TransportError::Unresponsive
        );
        assert_eq!(
            map_context_error(pcsc::Error::ServiceStopped),
            TransportError::NoService
        );
        assert_eq!(
            map_context_error(pcsc::Error::NoReadersAvailable),
            TransportError::NoReader
        );
        assert_eq!(
            map_context_error(pcsc::Error::Cancelled),
            TransportError::Cancelled
        );
    }
}
