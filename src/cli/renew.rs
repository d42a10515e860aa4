//! `renew`: new certificate pairs before the old ones expire, a line per step on the terminal.

use std::path::Path;

use clap::ValueEnum;

use crate::ca::IdentityKind;
use crate::card::{Card, PinKind};
use crate::cli::exit::CliError;
use crate::cli::prompt::PinSource;
use crate::cli::upgrade::{
    able_to_make_pairs, progress_lines, read_root, signing_code, upgrade_error,
};
use crate::workflow::renew::{RenewRequest, renew};

/// A pair as `--only` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PairArg {
    HsaId,
    Personnummer,
}

impl From<PairArg> for IdentityKind {
    fn from(p: PairArg) -> IdentityKind {
        match p {
            PairArg::HsaId => IdentityKind::HsaId,
            PairArg::Personnummer => IdentityKind::Personnummer,
        }
    }
}

pub fn run(
    mut card: Box<dyn Card>,
    ca_url: &str,
    ca_root: &Path,
    mut source: PinSource,
    only: &[PairArg],
) -> Result<(), CliError> {
    let root = read_root(ca_root)?;
    able_to_make_pairs(card.as_mut())?;
    let only: Vec<IdentityKind> = only.iter().map(|&p| p.into()).collect();
    eprintln!("Keep the card in the reader until the renewal has finished.");
    let pin1 = source.code(PinKind::Pin1)?;
    let pin2 = signing_code(card.as_mut(), &mut source, &pin1)?;
    let shared: crate::card::SharedCard = std::sync::Arc::new(std::sync::Mutex::new(card));
    let request = RenewRequest {
        ca_url,
        ca_root_pem: &root,
        pin1: &pin1,
        pin2: &pin2,
        only: &only,
    };
    let summary = renew(&shared, &request, &mut progress_lines());
    crate::cli::card_access::log_out(crate::card::lock(&shared).as_mut());
    let summary = summary.map_err(|e| upgrade_error(e, "renew"))?;
    if summary.renewed.is_empty() && summary.removed_slots.is_empty() {
        println!("Nothing to renew: no certificate pair expires within 30 days.");
    } else {
        println!(
            "Renewal finished: {} new certificate(s) written this time, {} old key slot(s) cleared.",
            summary.renewed.len(),
            summary.removed_slots.len()
        );
    }
    print!("{}", crate::report::overview_text(&summary.overview));
    Ok(())
}
