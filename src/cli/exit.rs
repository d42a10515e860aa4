//! Exit codes, so scripts and schedulers can tell a mistyped PIN from a missing pcscd.
//! Documented in docs/cli.md; keep the numbers stable.

use std::fmt;

use crate::card::CardError;
use crate::transport::TransportError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// 1: the user can fix it (wrong or mistyped PIN/PUK, blocked PIN).
    User = 1,
    /// 2: the command line itself is wrong.
    Usage = 2,
    /// 3: the card is missing, not a SITHS card, in use, removed or dead.
    CardUnusable = 3,
    /// 4: the system: pcscd not running, no reader, files, network.
    System = 4,
}

/// An error as the command line reports it: a message with the next step, and an exit code.
#[derive(Debug)]
pub struct CliError {
    pub code: ExitCode,
    pub message: String,
}

impl CliError {
    pub fn new(code: ExitCode, message: impl Into<String>) -> Self {
        CliError {
            code,
            message: message.into(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Usage, message)
    }

    pub fn system(message: impl Into<String>) -> Self {
        Self::new(ExitCode::System, message)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

pub fn transport_code(e: &TransportError) -> ExitCode {
    match e {
        TransportError::NoService
        | TransportError::NoReader
        | TransportError::ReaderNotFound(_)
        | TransportError::Other(_) => ExitCode::System,
        _ => ExitCode::CardUnusable,
    }
}

/// A missing or broken module is the system's; no card, or a middleware that cannot do the
/// task, is the card's.
pub fn middleware_code(e: &crate::card::MiddlewareError) -> ExitCode {
    use crate::card::MiddlewareError as P;
    match e {
        P::ModuleNotFound(_) | P::ModuleUnloadable { .. } | P::Failed { .. } => ExitCode::System,
        P::Pin2InMiddleware => ExitCode::User,
        // The command line must say which card.
        P::SeveralCards { .. } | P::EmptyName => ExitCode::Usage,
        // The middleware cannot do it (make keys, show the signing PIN): another program can.
        P::NoToken(_)
        | P::TokenNotFound { .. }
        | P::NotSupported { .. }
        | P::PinNotShown(_)
        | P::NotSiths { .. } => ExitCode::CardUnusable,
    }
}

impl From<TransportError> for CliError {
    fn from(e: TransportError) -> Self {
        CliError::new(transport_code(&e), super::words::transport_error(&e))
    }
}

impl From<super::prompt::PromptError> for CliError {
    fn from(e: super::prompt::PromptError) -> Self {
        let code = match e {
            super::prompt::PromptError::Io(_) => ExitCode::System,
            _ => ExitCode::User,
        };
        CliError::new(code, e.to_string())
    }
}

impl From<crate::virtual_card::StateError> for CliError {
    fn from(e: crate::virtual_card::StateError) -> Self {
        CliError::system(e.to_string())
    }
}

impl From<CardError> for CliError {
    fn from(e: CardError) -> Self {
        let code = match &e {
            e if e.is_user_error() => ExitCode::User,
            CardError::CardDead => ExitCode::CardUnusable,
            CardError::Transport(t) => transport_code(t),
            CardError::Middleware(m) => middleware_code(m),
            _ => ExitCode::CardUnusable,
        };
        CliError::new(code, super::words::card_error(&e))
    }
}

impl From<crate::card::MiddlewareError> for CliError {
    fn from(e: crate::card::MiddlewareError) -> Self {
        CardError::from(e).into()
    }
}
