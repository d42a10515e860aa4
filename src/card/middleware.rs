//! The errors of a card reached through its middleware (a PKCS#11 module), and the cards it
//! offers when it shows several: neutral types, so the shared interface does not depend on the
//! backend that produces them.

/// One card the middleware shows, as the holder chooses among several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardChoice {
    /// The card's label (without the "(Legitimering)" suffix of a token per PIN).
    pub label: String,
    pub serial: String,
    /// The reader (slot description) the middleware names.
    pub reader: String,
    /// It holds a SITHS-shaped certificate, or none yet and its label says SITHS.
    pub siths: bool,
}

impl CardChoice {
    /// "SITHS e-id kort (serial 1234)": how lists and errors name a card.
    pub fn describe(&self) -> String {
        let kind = if self.siths { "" } else { ", not a SITHS card" };
        if self.serial.is_empty() {
            format!("{}{kind}", self.label)
        } else {
            format!("{} (serial {}{kind})", self.label, self.serial)
        }
    }
}

/// What only a card reached through its middleware can end in. The backend that speaks to the
/// middleware maps its return values onto this; the window's words and the
/// command line's words and exit codes match on it without knowing that backend. The messages
/// here name no flag or control: the command line and the window each say how to do the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MiddlewareError {
    #[error(
        "no PKCS#11 module {0} was found: install your card's middleware (SafeNet Authentication \
         Client, Net iD or OpenSC), or give the module's full path"
    )]
    ModuleNotFound(String),
    #[error(
        "the PKCS#11 module {module} cannot be loaded ({detail}): reinstall the card's \
         middleware, or use another module"
    )]
    ModuleUnloadable { module: String, detail: String },
    #[error(
        "the PKCS#11 module {0} sees no card: insert your SITHS card and check that the \
         middleware sees the card reader"
    )]
    NoToken(String),
    #[error(
        "the PKCS#11 module sees no card named {wanted} (it sees: {seen}): insert that card, or \
         name one of those"
    )]
    TokenNotFound { wanted: String, seen: String },
    #[error(
        "the PKCS#11 module shows several SITHS cards ({}): name the one to use by its \
         label or serial",
        .cards.iter().map(|c| c.describe()).collect::<Vec<_>>().join("; ")
    )]
    SeveralCards { cards: Vec<CardChoice> },
    #[error(
        "the PKCS#11 module shows no SITHS card, only {tokens}: insert your SITHS card; these \
         tokens are left as they are"
    )]
    NotSiths { tokens: String },
    #[error("an empty card name matches every card: give the card's label or serial")]
    EmptyName,
    #[error(
        "this middleware cannot {action} on the card ({function} is not supported): use the \
         card's own middleware (SafeNet Authentication Client in Inera's SITHS eID app) or \
         contact the service centre"
    )]
    NotSupported {
        action: &'static str,
        function: String,
    },
    #[error(
        "this middleware checks the signing PIN (PIN2) only when you sign, and changes or \
         unblocks it only in its own program: use the middleware's tool (e.g. SafeNet \
         Authentication Client) for PIN2"
    )]
    Pin2InMiddleware,
    #[error("{}", not_shown_message(*.0))]
    PinNotShown(crate::card::PinKind),
    #[error(
        "the card's middleware refused to {action} ({rv}): take the card out, put it back and \
         try again; if it happens again, contact the service centre"
    )]
    Failed { action: &'static str, rv: String },
}

fn not_shown_message(kind: crate::card::PinKind) -> String {
    let why = match kind {
        crate::card::PinKind::Puk => "so no PIN can be unblocked with it here",
        _ => "so it cannot be checked, changed or unblocked here, and nothing is signed with it",
    };
    format!(
        "the card's software (its middleware) does not show the {kind}, {why}: use the card's \
         own middleware (SafeNet Authentication Client in Inera's SITHS eID app) for it"
    )
}
