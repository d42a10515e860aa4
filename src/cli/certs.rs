//! `certs` and `export-cert`: every certificate on the card in plain words, and a copy of one.

use std::path::Path;

use crate::card::Card;
use crate::cli::exit::CliError;
use crate::cli::json;
use crate::pki::services_for_level;

/// Stable JSON of `certs --json` (docs/cli.md).
#[derive(serde::Serialize)]
struct CertsJson {
    format_version: u32,
    certificates: Vec<json::CertificateJson>,
}

pub fn list(card: &mut dyn Card, as_json: bool) -> Result<(), CliError> {
    let overview = card.overview()?;
    let status = json::StatusJson::from_overview(&overview, &card.source());
    if as_json {
        return json::print(&CertsJson {
            format_version: json::FORMAT_VERSION,
            certificates: status.certificates,
        });
    }
    if status.certificates.is_empty() {
        println!("No certificates on the card.");
    }
    for c in &status.certificates {
        println!("[{}] {}", c.id, c.label);
        if let Some(e) = &c.error {
            println!("    unreadable: {e}");
            continue;
        }
        let who = match (c.identity_type, c.identity.as_deref()) {
            (t, Some(id)) => format!("{t} {id}"),
            (t, None) => t.to_string(),
        };
        println!("    identity:   {who}");
        println!(
            "    use:        {}{}",
            c.purpose,
            c.pin
                .map(|p| format!(" (with {})", p.to_uppercase()))
                .unwrap_or_default()
        );
        match c.trust_level {
            Some(level) => {
                let services = services_for_level(level);
                println!(
                    "    trust:      level {level}{}",
                    if services.is_empty() {
                        " (not enough for NPÖ, Pascal or NLL)".to_string()
                    } else {
                        format!(" (good for {})", services.join(", "))
                    }
                );
            }
            None => println!("    trust:      level unknown"),
        }
        println!("    issuer:     {}", c.issuer.as_deref().unwrap_or("?"));
        println!(
            "    valid:      {} to {}",
            c.not_before.as_deref().unwrap_or("?"),
            c.not_after.as_deref().unwrap_or("?")
        );
        println!("    sha-256:    {}", c.sha256.as_deref().unwrap_or("?"));
    }
    Ok(())
}

pub fn export(card: &mut dyn Card, id: &str, out: &Path, pem: bool) -> Result<(), CliError> {
    let overview = card.overview()?;
    let Some(cert) = overview
        .certificates
        .iter()
        .find(|c| c.id_hex().eq_ignore_ascii_case(id))
    else {
        let ids: Vec<String> = overview.certificates.iter().map(|c| c.id_hex()).collect();
        return Err(CliError::usage(format!(
            "no certificate with id {id} on the card; the ids are: {} (see `siths-upgrade certs`)",
            ids.join(", ")
        )));
    };
    let bytes = crate::pki::pem::certificate_file(&cert.der, pem);
    std::fs::write(out, bytes)
        .map_err(|e| CliError::system(format!("cannot write {}: {e}", out.display())))?;
    println!(
        "Wrote certificate {} ({}) to {}.",
        cert.id_hex(),
        cert.label,
        out.display()
    );
    Ok(())
}
