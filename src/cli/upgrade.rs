//! `upgrade`: the whole upgrade with a line per step on the terminal.

use std::path::Path;

use crate::card::{Card, PinKind};
use crate::cli::exit::{CliError, ExitCode};
use crate::cli::prompt::PinSource;
use crate::workflow::error::WorkflowError;
use crate::workflow::progress::{Progress, Step};
use crate::workflow::upgrade::{UpgradeRequest, upgrade};

pub fn run(
    mut card: Box<dyn Card>,
    ca_url: &str,
    ca_root: &Path,
    mut source: PinSource,
) -> Result<(), CliError> {
    let root = read_root(ca_root)?;
    able_to_make_pairs(card.as_mut())?;
    eprintln!("Keep the card in the reader until the upgrade has finished.");
    let pin1 = source.code(PinKind::Pin1)?;
    let pin2 = signing_code(card.as_mut(), &mut source, &pin1)?;
    let shared: crate::card::SharedCard = std::sync::Arc::new(std::sync::Mutex::new(card));
    let request = UpgradeRequest {
        ca_url,
        ca_root_pem: &root,
        pin1: &pin1,
        pin2: &pin2,
    };
    let summary = upgrade(&shared, &request, &mut progress_lines());
    crate::cli::card_access::log_out(crate::card::lock(&shared).as_mut());
    let summary = summary.map_err(|e| upgrade_error(e, "upgrade"))?;
    println!(
        "Upgrade finished: {} new certificate(s) written this time, {} legacy key slot(s) cleared.",
        summary.written.len(),
        summary.removed_slots.len()
    );
    print!("{}", crate::report::overview_text(&summary.overview));
    Ok(())
}

/// PIN2, asked for only when the card has one: a card that came with one code uses it for
/// signing too (and has no signing keys yet; the workflows make none without a PIN2).
pub(super) fn signing_code(
    card: &mut dyn Card,
    source: &mut PinSource,
    pin1: &crate::card::SecretCode,
) -> Result<crate::card::SecretCode, CliError> {
    if card.pin_statuses(&[PinKind::Pin2])?.is_empty() {
        eprintln!("This card has one code for both logging in and signing: no PIN2 is asked for.");
        return Ok(pin1.clone());
    }
    Ok(source.code(PinKind::Pin2)?)
}

/// Before any code is asked for or anything changes: the card, as it is reached, can make
/// keys and shows the signing PIN that the new signing keys need. Middleware that cannot (OpenSC
/// on an IDPrime card) stops here with its typed error, exit code 3.
pub(super) fn able_to_make_pairs(card: &mut dyn Card) -> Result<(), CliError> {
    card.can_generate_keys()?;
    let pin2 = card.pin_statuses(&[PinKind::Pin2])?;
    if pin2
        .iter()
        .any(|p| p.known == crate::card::TriesKnown::NotShown)
    {
        return Err(crate::card::MiddlewareError::PinNotShown(PinKind::Pin2).into());
    }
    Ok(())
}

/// The CA root file, or an error that says which file to give.
pub(super) fn read_root(ca_root: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(ca_root).map_err(|e| {
        CliError::system(format!(
            "cannot read the CA root {}: {e}; give the TEST root (root.pem) or the production root",
            ca_root.display()
        ))
    })
}

/// Progress on the terminal for the upgrade and the renewal: one numbered line per step, the
/// slow steps announced without a number; and the abort hook below.
pub(super) fn progress_lines() -> impl FnMut(Progress) {
    let stop_after = abort_after_step();
    move |p: Progress| {
        if matches!(p.step, Step::Working(_)) {
            // What the card is busy with before a slow step: no step number of its own.
            eprintln!("        {} …", p.message);
            return;
        }
        eprintln!("[{:>2}/{}] {}", p.done, p.total, p.message);
        if stop_after.is_some_and(|n| p.done >= n && p.done < p.total) {
            eprintln!("Stopping abruptly here, as {ABORT_AFTER_STEP} asks.");
            std::process::abort();
        }
    }
}

/// For tests and training: end the process abruptly (no clean-up, as a kill or a power cut
/// would) right after the upgrade reports this step, so a resume can be tried from every step
/// boundary. Steps are numbered as the progress lines show them.
pub const ABORT_AFTER_STEP: &str = "SITHS_UPGRADE_ABORT_AFTER_STEP";

fn abort_after_step() -> Option<usize> {
    std::env::var(ABORT_AFTER_STEP).ok()?.trim().parse().ok()
}

pub(super) fn upgrade_error(e: WorkflowError, again: &str) -> CliError {
    let code = match &e {
        WorkflowError::Card(c) => return CliError::from(c.clone()),
        e if e.is_user_error() => ExitCode::User,
        WorkflowError::Ca(_) => ExitCode::System,
        _ => ExitCode::CardUnusable,
    };
    let mut message = super::words::workflow_error(&e);
    if !matches!(
        e,
        WorkflowError::NotAllowed { .. }
            | WorkflowError::ProfileMissing(_)
            | WorkflowError::NotUpgraded
            | WorkflowError::LoginExpired
    ) {
        message.push_str(&format!(
            " (run `siths-upgrade {again}` again to resume where it stopped)"
        ));
    }
    CliError::new(code, message)
}
