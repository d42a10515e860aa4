//! PEM armour for certificates written to files, so the CLI's `export-cert` and the window's
//! export produce the same bytes that browsers, `openssl` and mail clients import.

use std::path::Path;

use base64::Engine as _;

/// `-----BEGIN {label}-----`, base64 in 64-character lines, `-----END {label}-----`.
pub fn encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A certificate in PEM.
pub fn certificate(der: &[u8]) -> String {
    encode("CERTIFICATE", der)
}

/// Whether a file name asks for PEM (`.pem`, any case) rather than DER: the window lets the
/// holder choose the format by the name they type.
pub fn wants_pem(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("pem"))
}

/// The bytes of a certificate file: PEM or DER.
pub fn certificate_file(der: &[u8], pem: bool) -> Vec<u8> {
    if pem {
        certificate(der).into_bytes()
    } else {
        der.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trips_and_wraps_lines() {
        let der: Vec<u8> = (0..=255u8).collect();
        let text = certificate(&der);
        assert!(text.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(text.lines().all(|l| l.len() <= 64));
        let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
        let back = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        assert_eq!(back, der);
    }

    #[test]
    fn format_by_extension() {
        assert!(wants_pem(Path::new("/tmp/a.PEM")));
        assert!(!wants_pem(Path::new("/tmp/a.der")));
        assert!(!wants_pem(Path::new("/tmp/pem")));
        assert_eq!(certificate_file(&[1, 2], false), vec![1, 2]);
    }
}
