//! `test-login`: the certificate page's test login from the command line: PIN1, then a login to
//! the CA over mutual TLS with one authentication certificate on the card, the card signing the
//! handshake, and who the CA takes the holder to be.

use std::path::Path;

use crate::card::{Card, KeySlot, PinKind, SharedCard};
use crate::cli::exit::{CliError, ExitCode};
use crate::cli::prompt::PinSource;
use crate::workflow::ca_login::{hsa_id_login_slot, log_in_with};
use crate::workflow::error::WorkflowError;

pub fn run(
    card: Box<dyn Card>,
    ca_url: &str,
    ca_root: &Path,
    mut source: PinSource,
    id: Option<&str>,
) -> Result<(), CliError> {
    let root = super::upgrade::read_root(ca_root)?;
    let wanted = id.map(parse_id).transpose()?;
    let pin1 = source.code(PinKind::Pin1)?;
    let shared: SharedCard = std::sync::Arc::new(std::sync::Mutex::new(card));
    let mut chosen: Option<(KeySlot, String)> = None;
    let result = log_in_with(
        &shared,
        ca_url,
        &root,
        |overview| {
            let slot = match &wanted {
                Some(id) => overview
                    .certificates
                    .iter()
                    .find(|c| &c.id == id)
                    .and_then(|c| c.slot),
                None => hsa_id_login_slot(overview),
            }?;
            let cert = overview
                .certificates
                .iter()
                .find(|c| c.slot == Some(slot))?;
            chosen = Some((slot, format!("[{}] {}", cert.id_hex(), cert.label)));
            Some(slot)
        },
        &pin1,
    )
    .and_then(|client| Ok((client.me()?, client.handshakes())));
    crate::cli::card_access::log_out(crate::card::lock(&shared).as_mut());
    let (me, handshakes) = result.map_err(error)?;
    let certificate = chosen.map(|(_, c)| c).unwrap_or_default();
    println!(
        "Logged in to the CA as {} (HSA-id {}) with the certificate {certificate}.",
        me.name, me.hsa_id
    );
    let scheme = match (handshakes.pss_signatures, handshakes.pkcs1_signatures) {
        (0, 0) => "no new signature (the TLS session was resumed)",
        (_, 0) => "RSA-PSS",
        (0, _) => "PKCS#1 v1.5",
        _ => "RSA-PSS and PKCS#1 v1.5",
    };
    println!("The card signed the TLS handshake with {scheme}.");
    Ok(())
}

/// A certificate id as `certs` prints it (hex digits).
fn parse_id(id: &str) -> Result<Vec<u8>, CliError> {
    let id = id.trim();
    let bad = || {
        CliError::usage(format!(
            "--id {id}: give the certificate's id as `siths-upgrade certs` shows it, e.g. 0001"
        ))
    };
    if id.is_empty() || id.len() % 2 != 0 {
        return Err(bad());
    }
    (0..id.len())
        .step_by(2)
        .map(|i| {
            id.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(bad)
        })
        .collect()
}

fn error(e: WorkflowError) -> CliError {
    match e {
        WorkflowError::Card(c) => CliError::from(c),
        WorkflowError::NoLoginCertificate => CliError::new(
            ExitCode::CardUnusable,
            format!(
                "{e} (see the certificates with `siths-upgrade certs`; give one to log in with \
                 as --id)"
            ),
        ),
        e if e.is_user_error() => CliError::new(ExitCode::User, super::words::workflow_error(&e)),
        e => CliError::new(ExitCode::System, super::words::workflow_error(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_id;

    #[test]
    fn ids_are_read_as_certs_prints_them() {
        assert_eq!(parse_id("0001").unwrap(), vec![0, 1]);
        assert_eq!(parse_id("0A").unwrap(), vec![10]);
        for bad in ["", "1", "zz", "000", "é1"] {
            assert!(parse_id(bad).is_err(), "{bad}");
        }
    }
}
