//! `siths-upgrade audit …`: check the desk's audit log and export it.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use crate::audit::{self, AuditError};
use crate::cli::exit::{CliError, ExitCode};

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Check that no entry was edited, deleted or moved; names the first broken entry.
    /// Exit code 0: intact, 1: broken.
    Verify {
        /// The log (default: the desk's own, in $XDG_DATA_HOME/siths-upgrade/audit.log; on
        /// Windows %LOCALAPPDATA%\siths-upgrade\audit.log).
        file: Option<PathBuf>,
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
        AuditCmd::Verify { file } => {
            let file = file.unwrap_or_else(audit::default_path);
            let report = audit::verify(&file).map_err(cli_error)?;
            println!(
                "{} entries, chain intact (last hash {})",
                report.entries, report.last_hash
            );
            Ok(())
        }
        AuditCmd::Export { file, csv } => {
            let file = file.unwrap_or_else(audit::default_path);
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
        AuditError::Broken { .. } => ExitCode::User,
        _ => ExitCode::System,
    };
    CliError::new(code, e.to_string())
}
