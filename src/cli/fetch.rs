//! `fetch-existing`: list the certificates the CA holds for the holder and put chosen ones back.

use std::path::Path;

use crate::ca::Profile;
use crate::card::{Card, PinKind};
use crate::cli::exit::{CliError, ExitCode};
use crate::cli::prompt::PinSource;
use crate::workflow::error::WorkflowError;
use crate::workflow::fetch_existing::{FetchRequest, list, write};
use crate::workflow::fit::Fit;

pub fn run(
    card: Box<dyn Card>,
    ca_url: &str,
    ca_root: &Path,
    mut source: PinSource,
    chosen: &[String],
    all: bool,
) -> Result<(), CliError> {
    let wanted: Vec<Profile> = chosen
        .iter()
        .map(|label| {
            Profile::from_label(label).ok_or_else(|| {
                CliError::usage(format!(
                    "unknown certificate profile {label}: use hsa-auth, hsa-sign, pnr-auth or pnr-sign"
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    let root = std::fs::read(ca_root).map_err(|e| {
        CliError::system(format!(
            "cannot read the CA root {}: {e}; give the root certificate (PEM) the site uses",
            ca_root.display()
        ))
    })?;
    let pin1 = source.code(PinKind::Pin1)?;
    let shared: crate::card::SharedCard = std::sync::Arc::new(std::sync::Mutex::new(card));
    let request = FetchRequest {
        ca_url,
        ca_root_pem: &root,
        pin1: &pin1,
    };
    let result = list_and_write(&shared, &request, &wanted, all);
    crate::cli::card_access::log_out(crate::card::lock(&shared).as_mut());
    result
}

fn list_and_write(
    shared: &crate::card::SharedCard,
    request: &FetchRequest<'_>,
    wanted: &[Profile],
    all: bool,
) -> Result<(), CliError> {
    let existing = list(shared, request).map_err(error)?;
    if existing.is_empty() {
        println!("The CA holds no certificates for you.");
        return Ok(());
    }
    let mut written = 0;
    for e in &existing {
        let name = e.info.subject.common_name.as_deref().unwrap_or("?");
        println!(
            "{:<9} {} ({}), valid to {}: {}",
            e.profile.label(),
            e.profile.card_label(),
            name,
            crate::cli::json::rfc3339(e.info.not_after).unwrap_or_default(),
            e.fit.explain()
        );
        if (all || wanted.contains(&e.profile)) && matches!(e.fit, Fit::Writable(_)) {
            write(shared, e).map_err(error)?;
            println!("          → written to the card");
            written += 1;
        }
    }
    for profile in wanted {
        if !existing.iter().any(|e| {
            e.profile == *profile && matches!(e.fit, Fit::Writable(_) | Fit::AlreadyOnCard)
        }) {
            return Err(CliError::new(
                ExitCode::CardUnusable,
                format!(
                    "no {} certificate of yours can go onto this card (see the list above)",
                    profile.label()
                ),
            ));
        }
    }
    if written == 0 && !all && wanted.is_empty() {
        println!("Nothing written. Choose with --write LABEL (repeatable) or --all.");
    }
    Ok(())
}

fn error(e: WorkflowError) -> CliError {
    match e {
        WorkflowError::Card(c) => CliError::from(c),
        e => CliError::new(ExitCode::System, e.to_string()),
    }
}
