//! `check-expiry`: the card's expiry reminders in words or JSON, with an exit code a scheduler
//! (systemd user timer, cron) can act on without parsing the output. docs/cli.md lists the codes.

use std::io::Write;

use serde::Serialize;

use crate::card::CardOverview;
use crate::cli::exit::CliError;
use crate::cli::json;
use crate::pki::date::Date;
use crate::pki::{Identity, Purpose};
use crate::workflow::expiry::{Fix, Reminder, Urgency, card_fix, reminders, urgency};

/// Nothing expires within 30 days.
pub const EXIT_NONE_DUE: i32 = 0;
/// A certificate expires within 30 days (more than 7 left).
pub const EXIT_DUE: i32 = 10;
/// A certificate expires within 7 days.
pub const EXIT_URGENT: i32 = 11;
/// A certificate has expired.
pub const EXIT_EXPIRED: i32 = 12;

/// The exit code for a card's urgency; apart from 1-4 (errors), so "remind me" never looks like
/// "the check failed".
pub fn exit_code(u: Urgency) -> i32 {
    match u {
        Urgency::None => EXIT_NONE_DUE,
        Urgency::Due => EXIT_DUE,
        Urgency::Urgent => EXIT_URGENT,
        Urgency::Expired => EXIT_EXPIRED,
    }
}

#[derive(Serialize, Debug)]
pub struct CheckExpiry {
    pub format_version: u32,
    pub card_serial: String,
    pub certificates: Vec<DueCertificate>,
    /// "none", "due", "urgent" or "expired".
    pub urgency: &'static str,
    /// What fixes the card, when something is due.
    pub fix: Option<CardFix>,
}

#[derive(Serialize, Debug)]
pub struct CardFix {
    /// "renew", "upgrade" or "new_card".
    pub action: &'static str,
    /// The command that does it (absent for a new card): the CA address and root from the
    /// window's settings when they are set, else placeholders to fill in.
    pub command: Option<String>,
}

#[derive(Serialize, Debug)]
pub struct DueCertificate {
    pub id: String,
    pub label: String,
    /// As `identity_type` in `status --json`.
    pub identity_kind: &'static str,
    pub purpose: &'static str,
    pub not_after: Option<String>,
    pub days_left: i64,
    pub threshold: i64,
    /// "renew", "upgrade" or "new_card".
    pub fix: &'static str,
}

/// Print the reminders of `overview` (words, or JSON with `json`) and return the card's urgency.
pub fn report(
    overview: &CardOverview,
    now_unix: i64,
    as_json: bool,
    ca: &CaHint,
) -> Result<Urgency, CliError> {
    let due = reminders(overview, now_unix);
    let u = urgency(&due);
    if as_json {
        json::print(&CheckExpiry {
            format_version: json::FORMAT_VERSION,
            card_serial: overview.serial.clone(),
            certificates: due
                .iter()
                .map(|r| DueCertificate {
                    id: r.id_hex.clone(),
                    label: r.label.clone(),
                    identity_kind: json::identity_type(&r.identity),
                    purpose: json::purpose(r.purpose),
                    not_after: json::rfc3339(r.not_after),
                    days_left: r.days_left,
                    threshold: r.threshold,
                    fix: r.fix.as_str(),
                })
                .collect(),
            urgency: u.as_str(),
            fix: card_fix(&due).map(|f| CardFix {
                action: f.as_str(),
                command: command(f, ca),
            }),
        })?;
    } else if due.is_empty() {
        println!("No certificate expires within 30 days.");
    } else {
        for r in &due {
            println!("{}", sentence(r));
        }
        if let Some(cmd) = card_fix(&due).and_then(|f| command(f, ca)) {
            println!("Run: {cmd}");
        }
    }
    std::io::stdout()
        .flush()
        .map_err(|e| CliError::system(format!("cannot write the report: {e}")))?;
    Ok(u)
}

/// Where the CA is, for the command a reminder names: from the window's settings, if set.
#[derive(Debug, Clone, Default)]
pub struct CaHint {
    pub url: Option<String>,
    pub root: Option<std::path::PathBuf>,
}

/// The whole command that carries out `fix`, or None when no command can (a new card).
pub fn command(fix: Fix, ca: &CaHint) -> Option<String> {
    let verb = match fix {
        Fix::Renew(_) => "renew",
        Fix::Upgrade => "upgrade",
        Fix::NewCard => return None,
    };
    let url = ca.url.as_deref().unwrap_or("URL");
    let root = ca
        .root
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "FILE".into());
    Some(format!("siths-upgrade {verb} --ca {url} --ca-root {root}"))
}

/// One reminder in plain English with the next step, e.g. "HSA-id authentication certificate
/// expires in 12 days (2027-01-03): renew it (siths-upgrade renew)".
pub fn sentence(r: &Reminder) -> String {
    let what = what(r);
    let date = Date::from_unix(r.not_after);
    let next = match r.fix {
        Fix::Renew(_) => "renew it (siths-upgrade renew)",
        Fix::Upgrade => "upgrade the card (siths-upgrade upgrade)",
        Fix::NewCard => "order a new card from the service centre",
    };
    if r.expired() {
        return format!("{what} has expired ({date}): it no longer works, {next}");
    }
    let when = match r.days_left {
        0 => format!("expires within 24 hours ({})", hhmm_utc(r.not_after)),
        1 => format!("expires in 1 day ({date})"),
        n => format!("expires in {n} days ({date})"),
    };
    format!("{what} {when}: {next}")
}

/// "HSA-id authentication certificate", or the card's label when the identity says little.
fn what(r: &Reminder) -> String {
    let purpose = match r.purpose {
        Purpose::Authentication => "authentication certificate",
        Purpose::Signature => "signature certificate",
        Purpose::Ca | Purpose::Other => "certificate",
    };
    match &r.identity {
        Identity::HsaId(_) => format!("HSA-id {purpose}"),
        Identity::Personnummer(_) => format!("Personnummer {purpose}"),
        Identity::Samordningsnummer(_) => format!("Samordningsnummer {purpose}"),
        Identity::Other(_) | Identity::None => {
            let kind = match r.purpose {
                Purpose::Authentication => "Authentication certificate",
                Purpose::Signature => "Signature certificate",
                Purpose::Ca | Purpose::Other => "Certificate",
            };
            format!("{kind} \"{}\"", r.label)
        }
    }
}

/// "2027-01-03 14:00 UTC": within a day the hour matters.
fn hhmm_utc(unix: i64) -> String {
    let secs = unix.rem_euclid(86_400);
    format!(
        "{} {:02}:{:02} UTC",
        Date::from_unix(unix),
        secs / 3600,
        secs % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reminder(identity: Identity, purpose: Purpose, days_left: i64, fix: Fix) -> Reminder {
        // 2027-01-03T14:30:00Z
        let not_after = 1_798_986_600;
        Reminder {
            id_hex: "01".into(),
            label: "Legitimering".into(),
            identity,
            purpose,
            not_after,
            days_left,
            threshold: crate::pki::expiry::warning_threshold(days_left).unwrap_or(0),
            fix,
        }
    }

    #[test]
    fn sentences_name_the_certificate_the_date_and_the_next_step() {
        let hsa = Identity::from_serial_number("TST5565594230-1001");
        let renew = Fix::Renew(crate::ca::IdentityKind::HsaId);
        assert_eq!(
            sentence(&reminder(hsa.clone(), Purpose::Authentication, 12, renew)),
            "HSA-id authentication certificate expires in 12 days (2027-01-03): renew it \
             (siths-upgrade renew)"
        );
        assert_eq!(
            sentence(&reminder(hsa.clone(), Purpose::Signature, 1, Fix::Upgrade)),
            "HSA-id signature certificate expires in 1 day (2027-01-03): upgrade the card \
             (siths-upgrade upgrade)"
        );
        assert_eq!(
            sentence(&reminder(hsa.clone(), Purpose::Signature, 0, renew)),
            "HSA-id signature certificate expires within 24 hours (2027-01-03 14:30 UTC): \
             renew it (siths-upgrade renew)"
        );
        let pnr = Identity::from_serial_number("191212121212");
        assert_eq!(
            sentence(&reminder(pnr, Purpose::Authentication, -3, Fix::NewCard)),
            "Personnummer authentication certificate has expired (2027-01-03): it no longer \
             works, order a new card from the service centre"
        );
        let other = Identity::from_serial_number("funktion 7");
        assert!(
            sentence(&reminder(other, Purpose::Other, 5, Fix::Upgrade))
                .starts_with("Certificate \"Legitimering\" expires in 5 days")
        );
    }

    #[test]
    fn the_fix_command_uses_the_settings_or_says_what_to_fill_in() {
        let renew = Fix::Renew(crate::ca::IdentityKind::Personnummer);
        assert_eq!(
            command(renew, &CaHint::default()).as_deref(),
            Some("siths-upgrade renew --ca URL --ca-root FILE")
        );
        let hint = CaHint {
            url: Some("https://ca.example:8443".into()),
            root: Some("/etc/siths/root.pem".into()),
        };
        assert_eq!(
            command(Fix::Upgrade, &hint).as_deref(),
            Some(
                "siths-upgrade upgrade --ca https://ca.example:8443 --ca-root /etc/siths/root.pem"
            )
        );
        assert_eq!(command(Fix::NewCard, &hint), None);
    }

    #[test]
    fn exit_codes_stay_clear_of_the_error_codes() {
        let codes: Vec<i32> = [
            Urgency::None,
            Urgency::Due,
            Urgency::Urgent,
            Urgency::Expired,
        ]
        .into_iter()
        .map(exit_code)
        .collect();
        assert_eq!(codes, [0, 10, 11, 12]);
    }
}
