//! Where PINs come from: the terminal without echo, or one per line on stdin (`--pin-stdin`).
//! Never argv or the environment, where other users and logs could see them.

use std::io::BufRead;

use zeroize::Zeroize;

use crate::card::{PinKind, PinRuleError, SecretCode, pin::confirm_new_pin};

/// A source of typed codes.
pub enum PinSource {
    Terminal,
    Stdin(Box<dyn BufRead>),
}

#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error(
        "no PIN could be read ({0}): run the command in a terminal, or give the codes on stdin with --pin-stdin"
    )]
    Io(#[from] std::io::Error),
    #[error("stdin ended before all codes were given: give one code per line")]
    MissingLine,
    #[error(transparent)]
    Rule(#[from] PinRuleError),
}

impl PinSource {
    pub fn new(from_stdin: bool) -> PinSource {
        if from_stdin {
            PinSource::Stdin(Box::new(std::io::BufReader::new(std::io::stdin())))
        } else {
            PinSource::Terminal
        }
    }

    fn read_line(&mut self, prompt: &str) -> Result<String, PromptError> {
        match self {
            PinSource::Terminal => Ok(rpassword::prompt_password(prompt)?),
            PinSource::Stdin(input) => {
                let mut line = String::new();
                if input.read_line(&mut line)? == 0 {
                    line.zeroize();
                    return Err(PromptError::MissingLine);
                }
                Ok(line)
            }
        }
    }

    /// Read an existing PIN or the PUK and check its format before it is used.
    pub fn code(&mut self, kind: PinKind) -> Result<SecretCode, PromptError> {
        let prompt = format!("{}: ", label(kind));
        let typed = self.read_line(&prompt)?;
        Ok(SecretCode::for_kind(kind, typed)?)
    }

    /// Read a new PIN twice.
    pub fn new_pin(&mut self, kind: PinKind) -> Result<SecretCode, PromptError> {
        let first = self.read_line(&format!("New {} (6-8 digits): ", label(kind)))?;
        let second = self.read_line(&format!("New {} again: ", label(kind)))?;
        Ok(confirm_new_pin(first, second)?)
    }
}

fn label(kind: PinKind) -> &'static str {
    match kind {
        PinKind::Pin1 => "Identification PIN (PIN1)",
        PinKind::Pin2 => "Signing PIN (PIN2)",
        PinKind::Puk => "PUK (8 digits, from your code letter)",
    }
}
