//! [`CertInfo`]: everything the app shows or decides about one certificate, read once from DER.
//!
//! Certificates come from cards, files and the network, so reading never panics: anything that
//! is not a certificate is a [`PkiError::BadCertificate`], and extensions that do not parse are
//! skipped rather than failing the whole certificate (a card with one odd certificate must still
//! show its others).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use x509_parser::asn1_rs::{Any, FromDer, Oid, Tag};
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::oid_registry::{
    OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS, OID_PKIX_ACCESS_DESCRIPTOR_OCSP,
};
use x509_parser::prelude::X509Certificate;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::X509Name;

use super::PkiError;
use super::date::Date;
use super::identity::Identity;
use super::keys::{bit_length, strip_leading_zeros};
use super::trust::trust_level_from_policy_oid;

/// Microsoft User Principal Name otherName in the SAN: the Windows login name.
pub const OID_MS_UPN: &str = "1.3.6.1.4.1.311.20.2.3";
/// Microsoft Smartcard Logon extended key usage.
pub const OID_EKU_SMARTCARD_LOGON: &str = "1.3.6.1.4.1.311.20.2.2";
/// id-kp-clientAuth.
pub const OID_EKU_CLIENT_AUTH: &str = "1.3.6.1.5.5.7.3.2";

/// What a certificate is for. The two certificates of a SITHS pair differ only in key usage,
/// which is how software (and this app) tells the login certificate from the signing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Purpose {
    /// digitalSignature without nonRepudiation: login, guarded by the identification PIN.
    Authentication,
    /// nonRepudiation: legally binding signatures, guarded by the signing PIN.
    Signature,
    /// CA:TRUE.
    Ca,
    Other,
}

impl Purpose {
    pub fn label(self) -> &'static str {
        match self {
            Purpose::Authentication => "authentication",
            Purpose::Signature => "signature",
            Purpose::Ca => "CA",
            Purpose::Other => "other",
        }
    }
}

/// One bit of the Key Usage extension (RFC 5280 4.2.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyUsageBit {
    DigitalSignature,
    NonRepudiation,
    KeyEncipherment,
    DataEncipherment,
    KeyAgreement,
    KeyCertSign,
    CrlSign,
    EncipherOnly,
    DecipherOnly,
}

/// The subject attributes SITHS certificates use (docs/domain.md "Certificates").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectName {
    /// 2.5.4.5: the HSA-id or personnummer.
    pub serial_number: Option<String>,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub common_name: Option<String>,
    pub organisation: Option<String>,
    /// The county (län).
    pub locality: Option<String>,
    pub country: Option<String>,
}

/// A parsed certificate. Fields are plain data so the GUI, the CLI and the CA mock can use
/// them without touching x509-parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// The certificate's own DER (trailing padding from a card file removed).
    pub der: Vec<u8>,
    pub subject: SubjectName,
    /// Subject DN in RFC 4514-like order of encoding, e.g. `C=SE, O=Inera AB, CN=…`.
    pub subject_dn: String,
    pub subject_dn_der: Vec<u8>,
    pub issuer_dn: String,
    pub issuer_dn_der: Vec<u8>,
    pub issuer_cn: Option<String>,
    pub identity: Identity,
    pub purpose: Purpose,
    /// Validity, unix seconds (UTC).
    pub not_before: i64,
    pub not_after: i64,
    /// Trust level from our policy OID arc; `None` for real SITHS certificates (their OIDs are
    /// not public) and CAs without a level.
    pub trust_level: Option<u8>,
    /// All Certificate Policies OIDs, dotted.
    pub policy_oids: Vec<String>,
    pub is_ca: bool,
    pub path_len: Option<u32>,
    pub key_usage: Vec<KeyUsageBit>,
    /// Extended key usage OIDs, dotted.
    pub extended_key_usage: Vec<String>,
    /// Windows login name (Microsoft UPN in the SAN), if the holder has one.
    pub upn: Option<String>,
    pub crl_urls: Vec<String>,
    pub ocsp_urls: Vec<String>,
    /// AIA caIssuers: where the issuing CA's certificate can be fetched.
    pub ca_issuer_urls: Vec<String>,
    /// SHA-256 of the DER, upper-case hex pairs separated by ':' (as browsers and openssl show).
    pub fingerprint_sha256: String,
    /// Certificate serial number, lower-case hex without separators.
    pub serial_hex: String,
    /// Signature algorithm OID, dotted.
    pub signature_algorithm: String,
    /// RSA modulus and exponent (big-endian, no leading zeros); `None` for non-RSA keys.
    pub rsa_modulus: Option<Vec<u8>>,
    pub rsa_exponent: Option<Vec<u8>>,
    pub spki_der: Vec<u8>,
    pub key_bits: usize,
    pub subject_key_id: Option<Vec<u8>>,
    pub authority_key_id: Option<Vec<u8>>,
}

impl CertInfo {
    /// Reads a DER certificate. Bytes after the certificate are ignored, because card files are
    /// often larger than the certificate they hold and padded with 00 or FF.
    pub fn from_der(input: &[u8]) -> Result<CertInfo, PkiError> {
        let (rest, x509) = x509_parser::parse_x509_certificate(input)
            .map_err(|e| PkiError::BadCertificate(e.to_string()))?;
        let used = input.len().saturating_sub(rest.len());
        let der = input.get(..used).unwrap_or(input).to_vec();
        Ok(CertInfo::from_x509(&x509, der))
    }

    /// Reads a PEM certificate (the first `CERTIFICATE` block).
    pub fn from_pem(pem: &str) -> Result<CertInfo, PkiError> {
        let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
            .map_err(|e| PkiError::BadCertificate(format!("PEM: {e}")))?;
        if pem.label != "CERTIFICATE" {
            return Err(PkiError::BadCertificate(format!(
                "PEM block is a {}, not a CERTIFICATE",
                pem.label
            )));
        }
        CertInfo::from_der(&pem.contents)
    }

    /// Reads either form, for files given on the command line.
    pub fn from_pem_or_der(bytes: &[u8]) -> Result<CertInfo, PkiError> {
        match std::str::from_utf8(bytes) {
            Ok(text) if text.contains("-----BEGIN") => CertInfo::from_pem(text),
            _ => CertInfo::from_der(bytes),
        }
    }

    fn from_x509(x509: &X509Certificate<'_>, der: Vec<u8>) -> CertInfo {
        let subject = subject_name(x509.subject());
        let identity = subject
            .serial_number
            .as_deref()
            .map_or(Identity::None, Identity::from_serial_number);

        let mut info = CertInfo {
            fingerprint_sha256: colon_hex(&Sha256::digest(&der)),
            der,
            subject_dn: x509.subject().to_string(),
            subject_dn_der: x509.subject().as_raw().to_vec(),
            issuer_dn: x509.issuer().to_string(),
            issuer_dn_der: x509.issuer().as_raw().to_vec(),
            issuer_cn: first_attr(x509.issuer().iter_common_name()),
            identity,
            subject,
            purpose: Purpose::Other,
            not_before: x509.validity().not_before.timestamp(),
            not_after: x509.validity().not_after.timestamp(),
            trust_level: None,
            policy_oids: Vec::new(),
            is_ca: false,
            path_len: None,
            key_usage: Vec::new(),
            extended_key_usage: Vec::new(),
            upn: None,
            crl_urls: Vec::new(),
            ocsp_urls: Vec::new(),
            ca_issuer_urls: Vec::new(),
            serial_hex: plain_hex(x509.raw_serial()),
            signature_algorithm: dotted(&x509.signature_algorithm.algorithm),
            rsa_modulus: None,
            rsa_exponent: None,
            spki_der: x509.public_key().raw.to_vec(),
            key_bits: 0,
            subject_key_id: None,
            authority_key_id: None,
        };

        match x509.public_key().parsed() {
            Ok(PublicKey::RSA(rsa)) => {
                info.key_bits = bit_length(rsa.modulus);
                info.rsa_modulus = Some(strip_leading_zeros(rsa.modulus).to_vec());
                info.rsa_exponent = Some(strip_leading_zeros(rsa.exponent).to_vec());
            }
            Ok(other) => info.key_bits = other.key_size(),
            Err(_) => {}
        }

        for ext in x509.iter_extensions() {
            info.read_extension(ext.parsed_extension());
        }
        info.trust_level = info
            .policy_oids
            .iter()
            .find_map(|o| trust_level_from_policy_oid(o));
        info.purpose = if info.is_ca {
            Purpose::Ca
        } else if info.key_usage.contains(&KeyUsageBit::NonRepudiation) {
            Purpose::Signature
        } else if info.key_usage.contains(&KeyUsageBit::DigitalSignature) {
            Purpose::Authentication
        } else {
            Purpose::Other
        };
        info
    }

    fn read_extension(&mut self, ext: &ParsedExtension<'_>) {
        match ext {
            ParsedExtension::BasicConstraints(bc) => {
                self.is_ca = bc.ca;
                self.path_len = bc.path_len_constraint;
            }
            ParsedExtension::SubjectKeyIdentifier(id) => self.subject_key_id = Some(id.0.to_vec()),
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                self.authority_key_id = aki.key_identifier.as_ref().map(|id| id.0.to_vec());
            }
            ParsedExtension::KeyUsage(ku) => {
                let bits = [
                    (ku.digital_signature(), KeyUsageBit::DigitalSignature),
                    (ku.non_repudiation(), KeyUsageBit::NonRepudiation),
                    (ku.key_encipherment(), KeyUsageBit::KeyEncipherment),
                    (ku.data_encipherment(), KeyUsageBit::DataEncipherment),
                    (ku.key_agreement(), KeyUsageBit::KeyAgreement),
                    (ku.key_cert_sign(), KeyUsageBit::KeyCertSign),
                    (ku.crl_sign(), KeyUsageBit::CrlSign),
                    (ku.encipher_only(), KeyUsageBit::EncipherOnly),
                    (ku.decipher_only(), KeyUsageBit::DecipherOnly),
                ];
                self.key_usage = bits
                    .iter()
                    .filter(|(set, _)| *set)
                    .map(|(_, b)| *b)
                    .collect();
            }
            ParsedExtension::ExtendedKeyUsage(eku) => {
                let known = [
                    (eku.any, "2.5.29.37.0"),
                    (eku.server_auth, "1.3.6.1.5.5.7.3.1"),
                    (eku.client_auth, OID_EKU_CLIENT_AUTH),
                    (eku.code_signing, "1.3.6.1.5.5.7.3.3"),
                    (eku.email_protection, "1.3.6.1.5.5.7.3.4"),
                    (eku.time_stamping, "1.3.6.1.5.5.7.3.8"),
                    (eku.ocsp_signing, "1.3.6.1.5.5.7.3.9"),
                ];
                self.extended_key_usage = known
                    .iter()
                    .filter(|(set, _)| *set)
                    .map(|(_, oid)| oid.to_string())
                    .chain(eku.other.iter().map(dotted))
                    .collect();
            }
            ParsedExtension::SubjectAlternativeName(san) => {
                for name in &san.general_names {
                    if let GeneralName::OtherName(oid, value) = name {
                        if dotted(oid) == OID_MS_UPN && self.upn.is_none() {
                            self.upn = other_name_utf8(value);
                        }
                    }
                }
            }
            ParsedExtension::CertificatePolicies(policies) => {
                self.policy_oids = policies.iter().map(|p| dotted(&p.policy_id)).collect();
            }
            ParsedExtension::CRLDistributionPoints(points) => {
                for point in points.iter() {
                    if let Some(DistributionPointName::FullName(names)) = &point.distribution_point
                    {
                        self.crl_urls.extend(uris(names));
                    }
                }
            }
            ParsedExtension::AuthorityInfoAccess(aia) => {
                for desc in aia.iter() {
                    let url = match &desc.access_location {
                        GeneralName::URI(u) => u.to_string(),
                        _ => continue,
                    };
                    if desc.access_method == OID_PKIX_ACCESS_DESCRIPTOR_OCSP {
                        self.ocsp_urls.push(url);
                    } else if desc.access_method == OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS {
                        self.ca_issuer_urls.push(url);
                    }
                }
            }
            _ => {}
        }
    }

    /// Whole days until expiry (negative once expired), for the 30/15/7/5/3/1/0-day reminders.
    pub fn days_left(&self, now_unix: i64) -> i64 {
        self.not_after.saturating_sub(now_unix).div_euclid(86_400)
    }

    pub fn is_valid_at(&self, now_unix: i64) -> bool {
        self.not_before <= now_unix && now_unix <= self.not_after
    }

    pub fn not_before_date(&self) -> Date {
        Date::from_unix(self.not_before)
    }

    pub fn not_after_date(&self) -> Date {
        Date::from_unix(self.not_after)
    }

    pub fn is_self_signed(&self) -> bool {
        self.subject_dn_der == self.issuer_dn_der
    }

    /// Whether this certificate certifies the given RSA key, e.g. the key a card reports for a
    /// slot: a certificate written next to the wrong key would make every login fail.
    pub fn matches_rsa_key(&self, modulus: &[u8], exponent: &[u8]) -> bool {
        match (&self.rsa_modulus, &self.rsa_exponent) {
            (Some(m), Some(e)) => {
                m.as_slice() == strip_leading_zeros(modulus)
                    && e.as_slice() == strip_leading_zeros(exponent)
            }
            _ => false,
        }
    }

    /// Checks that `issuer` issued this certificate: names chain and the signature verifies with
    /// the issuer's key. Validity periods and policies are not checked here.
    pub fn verify_issued_by(&self, issuer: &CertInfo) -> Result<(), PkiError> {
        let fail = |reason: String| PkiError::NotIssuedBy {
            subject: self.subject_dn.clone(),
            issuer: issuer.subject_dn.clone(),
            reason,
        };
        if self.issuer_dn_der != issuer.subject_dn_der {
            return Err(fail("the issuer name does not match".into()));
        }
        let (_, child) = x509_parser::parse_x509_certificate(&self.der)
            .map_err(|e| PkiError::BadCertificate(e.to_string()))?;
        let (_, parent) = x509_parser::parse_x509_certificate(&issuer.der)
            .map_err(|e| PkiError::BadCertificate(e.to_string()))?;
        child
            .verify_signature(Some(parent.public_key()))
            .map_err(|e| fail(format!("signature: {e}")))
    }
}

fn first_attr<'a>(
    mut it: impl Iterator<Item = &'a x509_parser::x509::AttributeTypeAndValue<'a>>,
) -> Option<String> {
    it.next().map(attr_string)
}

fn attr_string(attr: &x509_parser::x509::AttributeTypeAndValue<'_>) -> String {
    match attr.as_str() {
        Ok(s) => s.to_string(),
        Err(_) => {
            let data = attr.attr_value().data;
            if attr.attr_value().tag() == Tag::BmpString {
                let units: Vec<u16> = data
                    .chunks(2)
                    .map(|c| {
                        let hi = c.first().copied().unwrap_or(0);
                        let lo = c.get(1).copied().unwrap_or(0);
                        u16::from_be_bytes([hi, lo])
                    })
                    .collect();
                String::from_utf16_lossy(&units)
            } else {
                String::from_utf8_lossy(data).into_owned()
            }
        }
    }
}

fn subject_name(name: &X509Name<'_>) -> SubjectName {
    let mut out = SubjectName::default();
    for attr in name.iter_attributes() {
        let slot = match dotted(attr.attr_type()).as_str() {
            "2.5.4.5" => &mut out.serial_number,
            "2.5.4.42" => &mut out.given_name,
            "2.5.4.4" => &mut out.surname,
            "2.5.4.3" => &mut out.common_name,
            "2.5.4.10" => &mut out.organisation,
            "2.5.4.7" => &mut out.locality,
            "2.5.4.6" => &mut out.country,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(attr_string(attr));
        }
    }
    out
}

/// otherName value: `[0] EXPLICIT UTF8String` (x509-parser hands over what follows the OID).
fn other_name_utf8(value: &[u8]) -> Option<String> {
    let (_, outer) = Any::from_der(value).ok()?;
    let (_, inner) = Any::from_der(outer.data).ok()?;
    if inner.tag() != Tag::Utf8String {
        return None;
    }
    std::str::from_utf8(inner.data).ok().map(str::to_string)
}

fn uris<'a>(names: &'a [GeneralName<'a>]) -> impl Iterator<Item = String> + 'a {
    names.iter().filter_map(|n| match n {
        GeneralName::URI(u) => Some(u.to_string()),
        _ => None,
    })
}

/// Dotted form of an OID, decoded from its content bytes. asn1-rs mis-decodes a first
/// subidentifier above 127 (so 2.999.752.1.3, our trust-level arc, would read as 3.16.55…).
pub(crate) fn dotted(oid: &Oid<'_>) -> String {
    let mut arcs: Vec<u128> = Vec::new();
    let mut acc: u128 = 0;
    for &b in oid.as_bytes() {
        acc = (acc << 7) | u128::from(b & 0x7F);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let (first, second) = match acc {
                    0..=39 => (0, acc),
                    40..=79 => (1, acc - 40),
                    _ => (2, acc - 80),
                };
                arcs.push(first);
                arcs.push(second);
            } else {
                arcs.push(acc);
            }
            acc = 0;
        }
        if acc > u128::from(u64::MAX) {
            // Absurdly long arc: stop rather than overflow; such an OID matches nothing anyway.
            break;
        }
    }
    arcs.iter()
        .map(u128::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn plain_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inera's public certificates, kept in the repository (tests/data/inera/README.md says
    /// where they were published). Missing data fails the test: it never skips itself.
    fn real_der(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/inera")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("test data {}: {e}", path.display()))
    }

    fn real(name: &str) -> CertInfo {
        CertInfo::from_der(&real_der(name)).unwrap()
    }

    #[test]
    fn real_inera_roots_read_as_unconstrained_rsa_4096_cas() {
        for (file, cn) in [
            ("sithseidrootcav2.cer", "SITHS e-id Root CA v2"),
            ("testsithseidrootcav2.cer", "TEST SITHS e-id Root CA v2"),
        ] {
            let root = real(file);
            assert_eq!(root.subject.common_name.as_deref(), Some(cn));
            assert_eq!(root.subject.organisation.as_deref(), Some("Inera AB"));
            assert_eq!(root.subject.country.as_deref(), Some("SE"));
            assert_eq!(root.subject_dn, format!("C=SE, O=Inera AB, CN={cn}"));
            assert_eq!(root.issuer_cn.as_deref(), Some(cn));
            assert!(root.is_self_signed());
            assert!(root.is_ca);
            assert_eq!(root.purpose, Purpose::Ca);
            assert_eq!(root.path_len, None);
            assert_eq!(root.key_bits, 4096);
            assert_eq!(root.rsa_exponent.as_deref(), Some(&[1u8, 0, 1][..]));
            assert_eq!(root.rsa_modulus.as_ref().map(Vec::len), Some(512));
            assert_eq!(
                root.key_usage,
                vec![KeyUsageBit::KeyCertSign, KeyUsageBit::CrlSign]
            );
            assert_eq!(root.identity, Identity::None);
            assert_eq!(root.trust_level, None);
            assert_eq!(root.signature_algorithm, "1.2.840.113549.1.1.11");
            assert!(root.crl_urls.is_empty() && root.ocsp_urls.is_empty());
            assert_eq!(root.not_after_date().to_string()[..7], *"2049-09");
            root.verify_issued_by(&root).unwrap();
        }
    }

    #[test]
    fn real_inera_function_cas_have_pathlen_zero_and_revocation_urls() {
        let prod = real("sithseidfunctioncav1.cer");
        let prod_root = real("sithseidrootcav2.cer");
        assert_eq!(
            prod.subject.common_name.as_deref(),
            Some("SITHS e-id Function CA v1")
        );
        assert_eq!(prod.issuer_cn.as_deref(), Some("SITHS e-id Root CA v2"));
        assert_eq!(prod.issuer_dn, "C=SE, O=Inera AB, CN=SITHS e-id Root CA v2");
        assert!(prod.is_ca && !prod.is_self_signed());
        assert_eq!(prod.path_len, Some(0));
        assert_eq!(prod.key_bits, 4096);
        assert_eq!(
            prod.crl_urls,
            vec!["http://crl1.siths.se/sithseidrootcav2.crl"]
        );
        assert_eq!(prod.ocsp_urls, vec!["http://ocsp1.siths.se"]);
        assert_eq!(
            prod.ca_issuer_urls,
            vec!["http://aia.siths.se/sithseidrootcav2.cer"]
        );
        // anyPolicy with a CPS: a policy, but no trust level.
        assert_eq!(prod.policy_oids, vec!["2.5.29.32.0"]);
        assert_eq!(prod.trust_level, None);
        // Signed with SHA-512 by the root.
        assert_eq!(prod.signature_algorithm, "1.2.840.113549.1.1.13");
        prod.verify_issued_by(&prod_root).unwrap();

        let test = real("testsithseidfunctioncav1.cer");
        let test_root = real("testsithseidrootcav2.cer");
        assert_eq!(test.path_len, Some(0));
        assert_eq!(
            test.crl_urls,
            vec!["http://crl1pp.siths.se/testsithseidrootcav2.crl"]
        );
        assert_eq!(test.ocsp_urls, vec!["http://ocsp1pp.siths.se"]);
        test.verify_issued_by(&test_root).unwrap();
        // The production root did not sign the TEST CA.
        let err = test.verify_issued_by(&prod_root).unwrap_err().to_string();
        assert!(err.contains("issuer name does not match"), "{err}");
    }

    #[test]
    fn fingerprint_serial_and_expiry_days() {
        let root = real("sithseidrootcav2.cer");
        let expected = colon_hex(&Sha256::digest(&root.der));
        assert_eq!(root.fingerprint_sha256, expected);
        assert_eq!(root.fingerprint_sha256.len(), 32 * 3 - 1);
        assert!(!root.serial_hex.is_empty());
        assert!(
            root.serial_hex
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        // One day and one second before the end: 1 whole day left; after the end: negative.
        assert_eq!(root.days_left(root.not_after - 86_401), 1);
        assert_eq!(root.days_left(root.not_after - 10), 0);
        assert_eq!(root.days_left(root.not_after + 1), -1);
        assert!(root.is_valid_at(root.not_before));
        assert!(!root.is_valid_at(root.not_after + 1));
        let modulus = root.rsa_modulus.clone().unwrap();
        let mut with_sign_byte = vec![0];
        with_sign_byte.extend_from_slice(&modulus);
        assert!(root.matches_rsa_key(&with_sign_byte, &[1, 0, 1]));
        assert!(!root.matches_rsa_key(&modulus, &[3]));
    }

    #[test]
    fn card_file_padding_and_pem_are_accepted() {
        let der = real_der("sithseidrootcav2.cer");
        let mut padded = der.clone();
        padded.extend_from_slice(&[0xFF; 300]);
        let info = CertInfo::from_der(&padded).unwrap();
        assert_eq!(info.der, der);

        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
        let pem = format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n");
        assert_eq!(CertInfo::from_pem_or_der(pem.as_bytes()).unwrap(), info);
        assert_eq!(CertInfo::from_pem_or_der(&der).unwrap(), info);
        let key_pem = pem.replace("CERTIFICATE", "PRIVATE KEY");
        assert!(CertInfo::from_pem(&key_pem).is_err());
    }

    #[test]
    fn oids_decode_including_large_first_arcs() {
        let oid = |bytes: &'static [u8]| Oid::new(std::borrow::Cow::Borrowed(bytes));
        assert_eq!(
            dotted(&oid(&[0x88, 0x37, 0x85, 0x70, 0x01, 0x03])),
            "2.999.752.1.3"
        );
        assert_eq!(dotted(&oid(&[0x55, 0x1D, 0x20, 0x00])), "2.5.29.32.0");
        assert_eq!(
            dotted(&oid(&[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D])),
            "1.2.840.113549"
        );
        assert_eq!(dotted(&oid(&[0x06])), "0.6");
        assert_eq!(dotted(&oid(&[0xFF; 40])), "");
    }

    #[test]
    fn garbage_never_panics() {
        use rand::{Rng, SeedableRng};
        assert!(CertInfo::from_der(&[]).is_err());
        assert!(CertInfo::from_der(&[0x30]).is_err());
        assert!(CertInfo::from_der(&[0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF]).is_err());
        assert!(CertInfo::from_pem_or_der(b"-----BEGIN nonsense").is_err());
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..2000 {
            let len = rng.gen_range(0..400);
            let bytes: Vec<u8> = (0..len).map(|_| rng.r#gen()).collect();
            let _ = CertInfo::from_der(&bytes);
        }
        let der = real_der("sithseidfunctioncav1.cer");
        // Every truncation fails cleanly.
        for cut in 0..der.len() {
            assert!(
                CertInfo::from_der(&der[..cut]).is_err(),
                "truncated at {cut}"
            );
        }
        // Flipped bytes anywhere either parse or fail; neither panics.
        for i in 0..der.len() {
            let mut bad = der.clone();
            bad[i] ^= 1 << (i % 8);
            let _ = CertInfo::from_der(&bad);
            bad[i] = rng.r#gen();
            if let Ok(info) = CertInfo::from_der(&bad) {
                let _ = info.days_left(0);
            }
        }
    }
}
