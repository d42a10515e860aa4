//! What the window and the worker say to each other. The window never touches the card, the
//! network or a file itself: it sends a [`WorkerCommand`] and renders the [`Event`]s that come back, so
//! it stays responsive while a card takes seconds to generate a key.

use std::path::PathBuf;

use crate::ca::Profile;
use crate::ca::client::{CaError, Me};
use crate::card::{CardError, CardOverview, PinKind, SecretCode};
use crate::transport::pcsc::ReaderInfo;
use crate::workflow::error::WorkflowError;
use crate::workflow::fetch_existing::Existing;
use crate::workflow::progress::Progress;
use crate::workflow::renew::RenewSummary;
use crate::workflow::upgrade::UpgradeSummary;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Where the CA is and what it must chain to; the worker reads the root file when it needs it,
/// so a fixed file is picked up without restarting.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CaSettings {
    pub url: String,
    pub root_pem: Option<PathBuf>,
}

/// A request from the window. Codes travel inside [`SecretCode`], which zeroizes itself when the
/// worker drops it after use.
pub enum WorkerCommand {
    /// Read the card again (after the user asks, or after settings changed).
    Refresh,
    /// Use this reader, or the first reader with a card (`None`).
    UseReader(Option<String>),
    SetCa(CaSettings),
    VerifyPin {
        kind: PinKind,
        pin: SecretCode,
    },
    ChangePin {
        kind: PinKind,
        old: SecretCode,
        new: SecretCode,
    },
    UnblockPin {
        kind: PinKind,
        puk: SecretCode,
        new: SecretCode,
    },
    /// Run or resume the upgrade (the workflow finds where an earlier run stopped).
    Upgrade {
        pin1: SecretCode,
        pin2: SecretCode,
    },
    /// Run or resume the renewal of the card's due pairs.
    Renew {
        pin1: SecretCode,
        pin2: SecretCode,
    },
    /// Log in to the CA with the certificate in this key slot, to prove it works.
    TestLogin {
        slot: crate::card::KeySlot,
        pin1: SecretCode,
    },
    /// Save the certificate with this card id (`CardCertificate::id`) to a file, PEM or DER by
    /// the file's extension (`.pem` → PEM).
    ExportCertificate {
        id: Vec<u8>,
        path: PathBuf,
    },
    /// Ask the CA which certificates it holds for the holder.
    FetchList {
        pin1: SecretCode,
    },
    /// Service centre: fetch the PUK of the customer `customer` (HSA-id) with this worker's card
    /// (the operator's), giving the CA the operator's written reason.
    PukLookup {
        pin1: SecretCode,
        customer: String,
        /// The customer card's authentication certificate (DER): it must chain to the CA's
        /// root before that person's PUK is asked for.
        customer_cert: Vec<u8>,
        /// The serial the customer's card reports: with the certificate, what the CA checks
        /// against the card it issued to that holder.
        customer_serial: String,
        reason: String,
        /// Desk audit entries not yet anchored at the CA, sent with the same login.
        anchors: Vec<crate::audit::anchor::Anchor>,
    },
    /// Write these of the last listed certificates to the card.
    FetchWrite {
        profiles: Vec<Profile>,
    },
    /// Demo mode only: take the virtual card out of its reader, or put it back.
    DemoCard(DemoAction),
    /// Stop the worker (the window is closing).
    Quit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoAction {
    Pull,
    Insert,
}

/// What the worker tells the window.
#[derive(Debug)]
pub enum Event {
    /// Where the app runs: a real reader, or the demo card and CA mock (sent once at start, and
    /// again when the demo is ready).
    Environment(Environment),
    /// The readers pcscd knows (empty in demo mode, which has its one virtual reader in `Card`).
    Readers(Vec<ReaderInfo>),
    /// The card as it is now.
    Card(CardStatus),
    /// A task started; the window disables actions until `Finished`.
    Busy(Task),
    /// A step of the upgrade (or of another long task).
    Progress(Progress),
    Finished(Task, TaskOutcome),
    /// Demo mode: a card is in this real reader (`None`: no longer), so the window can offer
    /// to leave the demo for it.
    RealCard(Option<String>),
}

/// Where the app runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Environment {
    /// Real readers through pcscd.
    Pcsc,
    /// The demo is being set up (the CA mock's keys are made on first use).
    DemoPreparing,
    /// The demo card and the CA mock are ready; `ca` is the mock's address. The window shows
    /// the demo card's `codes` and `holder` (HSA-id) in its demo banner: it is not a real card.
    Demo {
        ca: CaSettings,
        codes: DemoCodes,
        holder: String,
    },
    /// The demo could not be set up; the text says why.
    DemoFailed(String),
}

/// The card as the window should show it.
#[derive(Debug, Clone)]
pub enum CardStatus {
    /// pcscd is not running.
    NoService,
    /// pcscd runs but there is no reader.
    NoReader,
    /// Readers but no card.
    NoCard,
    /// A card was inserted and is being read.
    Reading,
    /// A card that is not a SITHS card.
    NotSiths,
    /// Another program holds the card exclusively.
    InUse(String),
    /// The PKCS#11 module shows several SITHS cards: the holder picks one (remembered by its
    /// serial in the settings).
    ChooseCard(Vec<crate::card::CardChoice>),
    /// The card could not be read; the error says what to do.
    Unreadable(CardError),
    Ready(Box<CardOverview>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    VerifyPin,
    ChangePin,
    UnblockPin,
    Upgrade,
    Renew,
    TestLogin,
    Export,
    FetchList,
    FetchWrite,
    PukLookup,
}

#[derive(Debug)]
pub enum TaskOutcome {
    PinVerified(PinKind),
    PinChanged(PinKind),
    PinUnblocked(PinKind),
    Upgraded(Box<UpgradeSummary>),
    Renewed(Box<RenewSummary>),
    /// Who the CA took the certificate in `slot` to be.
    LoggedIn {
        slot: crate::card::KeySlot,
        me: Box<Me>,
    },
    Exported(PathBuf),
    Existing(Vec<Existing>),
    Written(Vec<Profile>),
    /// The customer's PUK: shown once, masked until revealed, never stored; wiped when dropped.
    /// The customer's PUK, and which desk audit entries the CA anchored with the same login.
    Puk {
        puk: zeroize::Zeroizing<String>,
        anchored: Vec<u64>,
    },
    Failed(Failure),
}

/// Why a task failed; the window words each one in the user's language.
#[derive(Debug)]
pub enum Failure {
    Card(CardError),
    Upgrade(WorkflowError),
    Ca(CaError),
    /// A file could not be read or written (CA root, export target).
    File {
        path: PathBuf,
        detail: String,
    },
    /// The CA address or root is not set.
    CaNotSet,
    /// The card changed or is gone since the window asked.
    NoCard,
    /// At the desk: not sent to the customer's card (the identity is not checked, or the
    /// audit log cannot record it). Nothing reached the card.
    Desk(DeskRefusal),
}

/// Why the desk refused a command to the customer's card: the window says it where the
/// command was given, with what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeskRefusal {
    /// The customer's identity is not checked for the card now in the reader.
    CheckIdentityFirst,
    /// The audit log cannot record what would be done.
    AuditBroken,
}

/// The demo card's codes, from its code letter. Wiped when dropped like real codes, so a demo
/// never teaches code paths that leave PINs in memory.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct DemoCodes {
    pub pin1: String,
    pub pin2: String,
    pub puk: String,
}

impl std::fmt::Debug for DemoCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DemoCodes(***)")
    }
}
