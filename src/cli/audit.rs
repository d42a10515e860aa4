//! `siths-upgrade audit …`: check the desk's audit log and export it.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use crate::audit::{self, AuditError, anchor};
use crate::cli::exit::{CliError, ExitCode};

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Check that no entry was edited, deleted or moved; names the first broken entry. With
    /// --ca, also compare every entry with the hash the desk sent the CA when it was written,
    /// which shows a log rebuilt with fresh hashes or cut short.
    /// Exit code 0: intact, 1: broken.
    Verify {
        /// The log (default: the desk's own, in $XDG_DATA_HOME/siths-upgrade/audit.log; on
        /// Windows %LOCALAPPDATA%\siths-upgrade\audit.log).
        file: Option<PathBuf>,
        /// The CA that holds the log's anchors, as https://host:port.
        #[arg(long, value_name = "URL", requires = "ca_root")]
        ca: Option<String>,
        /// The CA's root certificate (PEM) that its server certificate must chain to.
        #[arg(long, value_name = "FILE", requires = "ca")]
        ca_root: Option<PathBuf>,
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

pub fn run(cmd: AuditCmd) -> Result<(), CliError> {
    match cmd {
        AuditCmd::Verify {
            file,
            ca: Some(ca),
            ca_root: Some(ca_root),
        } => verify_with_ca(&log_file(file)?, &ca, &ca_root),
        AuditCmd::Verify { file, .. } => {
            let file = log_file(file)?;
            let report = audit::verify(&file).map_err(cli_error)?;
            println!(
                "{} entries, chain intact (last hash {})",
                report.entries, report.last_hash
            );
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

/// The log given, or the desk's own, checked as the desk checks it (not a link, the user's own,
/// writable by no one else) before anything is read from it.
fn log_file(given: Option<PathBuf>) -> Result<PathBuf, CliError> {
    match given {
        Some(file) => Ok(file),
        None => audit::desk_log_for_reading().map_err(cli_error),
    }
}

/// The chain, then every anchor the CA holds for the log.
fn verify_with_ca(file: &Path, ca: &str, ca_root: &Path) -> Result<(), CliError> {
    let root = std::fs::read(ca_root).map_err(|e| {
        CliError::new(
            ExitCode::User,
            format!(
                "cannot read the CA root {}: {e}; give the CA's root.pem",
                ca_root.display()
            ),
        )
    })?;
    // The chain first: a broken one is named as such, whatever the CA holds.
    audit::verify(file).map_err(cli_error)?;
    let anchors = match anchor::log_id(file).map_err(cli_error)? {
        Some(id) => anchor::fetch(ca, &root, &id).map_err(cli_error)?.anchors,
        None => Vec::new(),
    };
    let report = anchor::check(file, &anchors).map_err(cli_error)?;
    println!(
        "{} entries, chain intact (last hash {}); {} of them match the hashes the CA received",
        report.entries, report.last_hash, report.anchored
    );
    if !report.unanchored.is_empty() {
        let list: Vec<String> = report.unanchored.iter().map(u64::to_string).collect();
        println!(
            "not anchored at the CA (the desk could not reach it then): entries {}",
            list.join(", ")
        );
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
        | AuditError::NotAnchored { .. } => ExitCode::User,
        _ => ExitCode::System,
    };
    CliError::new(code, e.to_string())
}
