//! `siths-upgrade audit …`: check the desk's audit log and export it.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use crate::audit::{self, AuditError, anchor};
use crate::card::PinKind;
use crate::cli::card_access::CardAccess;
use crate::cli::exit::{CliError, ExitCode};
use crate::cli::prompt::PinSource;

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Check that no entry was edited, deleted or moved; names the first broken entry. With
    /// --ca, also log in with an operator's card and compare every entry with the hash the desk
    /// sent the CA when it was written (a log rebuilt with fresh hashes or cut short), fail on
    /// entries never anchored within 24 hours, and fail while the CA holds a log of the same
    /// operator that is not among the files given (a log rebuilt beside the old one, or hidden).
    /// Exit code 0: intact, 1: broken.
    ///
    /// With --ca and --pin-stdin: the operator's PIN1 on the first line.
    Verify {
        /// The logs (default: the desk's own, in $XDG_DATA_HOME/siths-upgrade/audit.log; on
        /// Windows %LOCALAPPDATA%\siths-upgrade\audit.log). With --ca, every log of the
        /// operators they name.
        files: Vec<PathBuf>,
        /// The CA that holds the logs' anchors, as https://host:port.
        #[arg(long, value_name = "URL", requires = "ca_root")]
        ca: Option<String>,
        /// The CA's root certificate (PEM) that its server certificate must chain to.
        #[arg(long, value_name = "FILE", requires = "ca")]
        ca_root: Option<PathBuf>,
        /// With --ca: the reader of the operator's card (default: the first reader with a card).
        #[arg(long, requires = "ca")]
        reader: Option<String>,
        /// With --ca: read the operator's PIN1 from stdin instead of the terminal.
        #[arg(long, requires = "ca")]
        pin_stdin: bool,
    },
    /// Write the log as CSV (verified first; a broken log is not exported).
    Export {
        /// The log (default: the desk's own).
        file: Option<PathBuf>,
        /// Write the CSV to this file instead of stdout.
        #[arg(long, value_name = "OUT")]
        csv: Option<PathBuf>,
    },
}

pub fn run(cmd: AuditCmd, access: CardAccess<'_>) -> Result<(), CliError> {
    match cmd {
        AuditCmd::Verify {
            files,
            ca: Some(ca),
            ca_root: Some(ca_root),
            reader,
            pin_stdin,
        } => {
            let files = or_default(files)?;
            let card = crate::cli::card_access::open_card(access, reader.as_deref())?;
            verify_with_ca(&files, &ca, &ca_root, card, PinSource::new(pin_stdin))
        }
        AuditCmd::Verify { files, .. } => {
            let files = or_default(files)?;
            for file in &files {
                let report = audit::verify(file).map_err(cli_error)?;
                // One file (the usual case) is told as before; several name each.
                if files.len() > 1 {
                    print!("{}: ", file.display());
                }
                println!(
                    "{} entries, chain intact (last hash {})",
                    report.entries, report.last_hash
                );
            }
            Ok(())
        }
        AuditCmd::Export { file, csv } => {
            let file = log_file(file)?;
            match csv {
                None => {
                    let stdout = std::io::stdout();
                    audit::export_csv(&file, &mut stdout.lock()).map_err(cli_error)?;
                    Ok(())
                }
                Some(out) => export_to_file(&file, &out),
            }
        }
    }
}

/// The logs given, or the desk's own, checked as the desk checks it (not a link, the user's
/// own, writable by no one else) before anything is read from it.
fn or_default(files: Vec<PathBuf>) -> Result<Vec<PathBuf>, CliError> {
    if files.is_empty() {
        Ok(vec![audit::desk_log_for_reading().map_err(cli_error)?])
    } else {
        Ok(files)
    }
}

/// The log given, or the desk's own, checked the same way.
fn log_file(given: Option<PathBuf>) -> Result<PathBuf, CliError> {
    match given {
        Some(file) => Ok(file),
        None => audit::desk_log_for_reading().map_err(cli_error),
    }
}

/// The chains, then, logged in with the operator's card, every anchor the CA holds for each log
/// and the list of every log the CA holds for the operators the logs name.
fn verify_with_ca(
    files: &[PathBuf],
    ca: &str,
    ca_root: &Path,
    card: Box<dyn crate::card::Card>,
    mut source: PinSource,
) -> Result<(), CliError> {
    let root = std::fs::read(ca_root).map_err(|e| {
        CliError::new(
            ExitCode::User,
            format!(
                "cannot read the CA root {}: {e}; give the CA's root.pem",
                ca_root.display()
            ),
        )
    })?;
    // The chains first: a broken one is named as such, whatever the CA holds.
    for file in files {
        audit::verify(file).map_err(cli_error)?;
    }
    let pin1 = source.code(PinKind::Pin1)?;
    let shared: crate::card::SharedCard = std::sync::Arc::new(std::sync::Mutex::new(card));
    let result = check_at_ca(files, ca, &root, &shared, &pin1);
    crate::cli::card_access::log_out(crate::card::lock(&shared).as_mut());
    result
}

fn check_at_ca(
    files: &[PathBuf],
    ca: &str,
    root: &[u8],
    shared: &crate::card::SharedCard,
    pin1: &crate::card::SecretCode,
) -> Result<(), CliError> {
    let ca_failed = |e: crate::workflow::error::WorkflowError| {
        let words = super::words::workflow_error(&e);
        CliError::new(ExitCode::System, format!("the CA: {words}"))
    };
    let client =
        crate::workflow::ca_login::operator_client(shared, ca, root, pin1).map_err(ca_failed)?;
    let now = crate::pki::date::now_unix();
    let mut ids = Vec::new();
    let mut operators: Vec<String> = Vec::new();
    let mut overdue = Vec::new();
    for file in files {
        let id = anchor::log_id(file).map_err(cli_error)?;
        let list = match &id {
            Some(id) => Some(client.audit_anchors(id).map_err(|e| ca_failed(e.into()))?),
            None => None,
        };
        let anchors = list.as_ref().map(|l| l.anchors.as_slice()).unwrap_or(&[]);
        let report = anchor::check(file, anchors, now).map_err(cli_error)?;
        if let Some(owner) = list.as_ref().and_then(|l| l.operator.clone())
            && owner != report.operator
        {
            return Err(cli_error(AuditError::OwnedByAnother {
                path: file.clone(),
                claimed: report.operator,
                owner,
            }));
        }
        println!(
            "{}: {} entries, chain intact (last hash {}); {} of them match the hashes the CA \
             received",
            file.display(),
            report.entries,
            report.last_hash,
            report.anchored
        );
        if !report.unanchored.is_empty() {
            let list: Vec<String> = report.unanchored.iter().map(u64::to_string).collect();
            println!(
                "  not anchored at the CA (the desk could not reach it then): entries {}",
                list.join(", ")
            );
        }
        if !report.overdue.is_empty() {
            overdue.push((file.clone(), report.overdue.clone()));
        }
        ids.extend(id);
        if !operators.contains(&report.operator) {
            operators.push(report.operator);
        }
    }
    for operator in &operators {
        let logs = client
            .audit_logs(operator)
            .map_err(|e| ca_failed(e.into()))?;
        anchor::check_logs(&logs, &ids).map_err(cli_error)?;
        println!(
            "operator {operator}: the CA holds {} log(s), every one of them given",
            logs.logs.len()
        );
    }
    if let Some((path, entries)) = overdue.into_iter().next() {
        return Err(cli_error(AuditError::NotAnchoredInTime {
            path,
            entries,
            hours: anchor::UNANCHORED_GRACE_SECONDS / 3600,
        }));
    }
    Ok(())
}

/// Write to a temporary sibling and rename, so a refused or failed export leaves no partial
/// CSV that looks complete.
fn export_to_file(file: &Path, out: &Path) -> Result<(), CliError> {
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let cannot = |e: std::io::Error| {
        CliError::system(format!(
            "cannot write {}: {e}; check the path and the free disk space",
            out.display()
        ))
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(cannot)?;
    let n = audit::export_csv(file, &mut tmp).map_err(cli_error)?;
    tmp.as_file_mut().sync_all().map_err(cannot)?;
    tmp.persist(out).map_err(|e| cannot(e.error))?;
    eprintln!("Exported {n} entries to {}", out.display());
    Ok(())
}

fn cli_error(e: AuditError) -> CliError {
    let code = match e {
        AuditError::Broken { .. }
        | AuditError::Rewritten { .. }
        | AuditError::Shortened { .. }
        | AuditError::NotAnchored { .. }
        | AuditError::NotAnchoredInTime { .. }
        | AuditError::LogsMissing { .. }
        | AuditError::OwnedByAnother { .. } => ExitCode::User,
        _ => ExitCode::System,
    };
    CliError::new(code, e.to_string())
}
