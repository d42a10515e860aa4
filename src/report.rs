//! Plain-words text of a card overview for the terminal.

use std::fmt::Write;

use crate::card::TriesKnown;
use crate::card::{CardOverview, PinKind};
use crate::pki::{Identity, Purpose};

pub fn overview_text(o: &CardOverview) -> String {
    let mut s = String::new();
    let now = crate::pki::date::now_unix();
    let _ = writeln!(s, "Reader:        {}", o.reader);
    let _ = writeln!(
        s,
        "Card:          {} (serial {})",
        o.label.as_deref().unwrap_or("SITHS card"),
        o.serial
    );
    if let Some(name) = o.holder_name() {
        let _ = writeln!(s, "Holder:        {name}");
    }
    for kind in [PinKind::Pin1, PinKind::Pin2, PinKind::Puk] {
        if let Some(p) = o.pin(kind) {
            let state = if p.blocked() {
                match kind {
                    PinKind::Puk => "BLOCKED: order a new card from the service centre".to_string(),
                    _ => "BLOCKED: unblock it with your PUK".to_string(),
                }
            } else {
                match p.known {
                    TriesKnown::Exact => format!("{} of {} tries left", p.tries_left, p.max_tries),
                    TriesKnown::AtMost if p.tries_left >= p.max_tries => {
                        "no wrong tries since the last right one".to_string()
                    }
                    TriesKnown::AtMost => format!("fewer than {} tries left", p.max_tries),
                    TriesKnown::Unknown => "tries left not shown by the middleware".to_string(),
                    TriesKnown::NotShown => match kind {
                        PinKind::Pin2 => "The signing PIN is not shown by the card's software",
                        PinKind::Puk => "The PUK is not shown by the card's software",
                        PinKind::Pin1 => "The code is not shown by the card's software",
                    }
                    .to_string(),
                }
            };
            let _ = writeln!(s, "{:<14} {state}", format!("{}:", p.label));
        }
    }
    if o.one_code() {
        let _ = writeln!(
            s,
            "One code:      this card has one code for both logging in and signing"
        );
    }
    if o.certificates.is_empty() {
        let _ = writeln!(s, "No certificates on the card.");
    }
    let others = crate::workflow::pairs::others(o);
    if !others.is_empty() {
        let _ = writeln!(
            s,
            "Other objects: {} — left as they are",
            others_text(others)
        );
    }
    for c in &o.certificates {
        let _ = writeln!(s);
        match &c.info {
            Err(e) => {
                let _ = writeln!(
                    s,
                    "[{}] {}: unreadable certificate ({e})",
                    c.id_hex(),
                    c.label
                );
            }
            Ok(i) => {
                let purpose = match i.purpose {
                    Purpose::Authentication => "log in (PIN1)",
                    Purpose::Signature => "sign (PIN2)",
                    Purpose::Ca => "certificate authority",
                    Purpose::Other => "other use",
                };
                let identity = match &i.identity {
                    Identity::HsaId(h) => format!("HSA-id {h}"),
                    Identity::Personnummer(p) => format!("personnummer {}", p.masked()),
                    Identity::Samordningsnummer(p) => format!("samordningsnummer {}", p.masked()),
                    Identity::Other(o) => o.clone(),
                    Identity::None => "no identity".into(),
                };
                let days = i.days_left(now);
                let expiry = if days < 0 {
                    format!("EXPIRED {} days ago", -days)
                } else {
                    format!("expires in {days} days")
                };
                let level = i
                    .trust_level
                    .map_or("trust level unknown".to_string(), |l| {
                        format!("trust level {l}")
                    });
                let _ = writeln!(s, "[{}] {} — {identity}, to {purpose}", c.id_hex(), c.label);
                let _ = writeln!(
                    s,
                    "      issued by {}, {level}, {expiry}",
                    i.issuer_cn.as_deref().unwrap_or("?")
                );
            }
        }
    }
    s
}

/// "1 certificate, 1 key": the holder's other objects, which no workflow touches.
pub fn others_text(others: crate::workflow::pairs::Others) -> String {
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut parts = Vec::new();
    if others.certificates > 0 {
        parts.push(plural(others.certificates, "certificate", "certificates"));
    }
    if others.keys > 0 {
        parts.push(plural(others.keys, "key", "keys"));
    }
    parts.join(", ")
}
