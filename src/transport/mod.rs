//! How APDUs reach a card: PC/SC through pcscd, or straight into the in-process virtual card.
//!
//! A [`Transport`] only moves raw APDU bytes and holds the card for a transaction; chaining,
//! GET RESPONSE and status words are the business of the layer above, so both transports
//! behave the same.

pub mod monitor;
pub mod pcsc;

/// Raw APDU exchange, used inside a transaction.
pub trait Transmit {
    /// Send one short command APDU and return the whole response (data + SW1 SW2).
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError>;
}

/// A connection to one card in one reader.
pub trait Transport: Send {
    /// The reader's name as PC/SC reports it (the virtual card has its own).
    fn reader_name(&self) -> &str;

    /// The card's answer to reset.
    fn atr(&self) -> &[u8];

    /// Run `body` while holding the card exclusively, so no other program's APDUs interleave
    /// with a multi-APDU operation (a PC/SC transaction). `body` keeps its own result.
    fn transaction(
        &mut self,
        body: &mut dyn FnMut(&mut dyn Transmit),
    ) -> Result<(), TransportError>;
}

/// What can go wrong between us and the card; each says what the user can do about it, in words
/// that name no command (the command line and the window say how in their own words).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    #[error(
        "the smart card service (pcscd) is not running: start it (`sudo systemctl start pcscd.socket`, or `pcscd`) and try again"
    )]
    NoService,
    #[error("no smart card reader found: connect a reader and try again")]
    NoReader,
    #[error("the reader \"{0}\" was not found: check the reader's name")]
    ReaderNotFound(String),
    #[error("no card in the reader \"{0}\": insert your SITHS card")]
    NoCard(String),
    #[error(
        "another program is using the card in \"{0}\": close it (for example a browser or Net iD) and try again"
    )]
    CardInUse(String),
    #[error("the card was removed during a command: put it back and try again; nothing is lost")]
    CardRemoved,
    #[error("the card was reset by another program: try again")]
    CardReset,
    #[error("the card does not answer: take it out, put it back and try again")]
    Unresponsive,
    #[error("the wait for the card was cancelled")]
    Cancelled,
    #[error(
        "the card sent a malformed answer ({0}): take the card out, put it back and try again; if it keeps happening, contact the service centre"
    )]
    Malformed(String),
    #[error("smart card system error ({0}): restart the smart card service (pcscd) and try again")]
    Other(String),
}
