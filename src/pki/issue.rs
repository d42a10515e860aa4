//! A small RSA test PKI shaped after Inera's (docs/domain.md "Certificates"): a root, issuing CAs
//! with path length 0 and an optional trust-level policy, and person certificates for keys that
//! were generated on a card.
//!
//! Used by `virtual-card init` (a throwaway legacy CA) and by the CA mock. Everything here is
//! test PKI: names should say TEST, and the trust-level policy OIDs are our fake arc [ours].

use rcgen::string::{BmpString, Ia5String, PrintableString, TeletexString, UniversalString};
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, OtherNameValue,
    SanType, SerialNumber,
};
use rsa::RsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use x509_parser::asn1_rs::Tag;
use zeroize::Zeroizing;

use super::PkiError;
use super::cert::{CertInfo, Purpose};
use super::date::now_unix;
use super::identity::Identity;
use super::keys::{RsaSpki, generate_rsa_key, private_key_pkcs8_der};
use super::trust::{TRUST_LEVELS, trust_level_policy_components};

/// About five years, the validity of card certificates [ours].
pub const DEFAULT_PERSON_VALIDITY_DAYS: i64 = 1826;
/// Roots live long (Inera's runs to 2049).
pub const ROOT_VALIDITY_DAYS: i64 = 30 * 365;
pub const ISSUING_VALIDITY_DAYS: i64 = 20 * 365;
/// New certificates start slightly in the past so a client with a clock a few minutes behind
/// does not see them as "not yet valid".
const BACKDATE_SECS: i64 = 5 * 60;
/// Latest time rcgen (and X.509 GeneralizedTime) can express: 9999-12-31T23:59:59Z.
const MAX_UNIX: i64 = 253_402_300_799;

const OID_CERTIFICATE_POLICIES: [u64; 4] = [2, 5, 29, 32];
const OID_MS_UPN: [u64; 10] = [1, 3, 6, 1, 4, 1, 311, 20, 2, 3];
const OID_EKU_SMARTCARD_LOGON: [u64; 10] = [1, 3, 6, 1, 4, 1, 311, 20, 2, 2];
const OID_SERIAL_NUMBER: [u64; 4] = [2, 5, 4, 5];
const OID_GIVEN_NAME: [u64; 4] = [2, 5, 4, 42];
const OID_SURNAME: [u64; 4] = [2, 5, 4, 4];

/// The person a certificate is issued to, as the subject attributes SITHS uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName {
    /// HSA-id or 12-digit personnummer (subject serialNumber, PrintableString).
    pub serial_number: String,
    pub given_name: String,
    pub surname: String,
    /// Full name.
    pub common_name: String,
    pub organisation: String,
    /// County (län); omitted when `None`.
    pub locality: Option<String>,
}

/// What the CA is asked to certify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonCertRequest {
    pub subject: PersonName,
    /// [`Purpose::Authentication`] or [`Purpose::Signature`].
    pub purpose: Purpose,
    /// Trust level to record as a policy (1..=4); `None` leaves the policy out.
    pub trust_level: Option<u8>,
    /// Windows login name, written as a Microsoft UPN in the SAN (authentication certificates
    /// then also get the Smartcard Logon EKU).
    pub upn: Option<String>,
    /// Unix seconds; default now (minus a few minutes for clock skew).
    pub not_before: Option<i64>,
    /// Unix seconds; default [`DEFAULT_PERSON_VALIDITY_DAYS`] after `not_before`. Never later
    /// than the CA's own expiry.
    pub not_after: Option<i64>,
}

/// A test CA: its certificate and RSA key, able to sign certificates.
pub struct TestCa {
    cert_der: Vec<u8>,
    key_pkcs8: Zeroizing<Vec<u8>>,
    key: KeyPair,
    /// Subject, key identifier and key usages as rcgen needs them to act as issuer.
    issuer_params: CertificateParams,
    info: CertInfo,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa")
            .field("subject", &self.info.subject_dn)
            .field("key", &"[elided]")
            .finish()
    }
}

impl TestCa {
    /// A self-signed root `C=SE, O=Inera AB, CN=<cn>` with a fresh RSA key of `bits`.
    pub fn new_root(cn: &str, bits: usize) -> Result<TestCa, PkiError> {
        TestCa::new_root_with_key(cn, &generate_rsa_key(bits)?)
    }

    /// Like [`TestCa::new_root`] with a given key, so tests and tools can reuse slow-to-make keys.
    pub fn new_root_with_key(cn: &str, key: &RsaPrivateKey) -> Result<TestCa, PkiError> {
        let (key_pkcs8, key_pair) = key_pair_from_rsa(key)?;
        let now = now_unix();
        let mut params = ca_params(cn, None)?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        set_validity(
            &mut params,
            now - BACKDATE_SECS,
            now + ROOT_VALIDITY_DAYS * 86_400,
        )?;
        let cert = params.self_signed(&key_pair).map_err(issue_err)?;
        TestCa::assemble(cert.der().to_vec(), key_pkcs8, key_pair, params)
    }

    /// An issuing CA under `parent` (path length 0, like Inera's), with a fresh RSA key of `bits`
    /// and, if given, the trust-level policy of the certificates it issues.
    pub fn new_issuing(
        parent: &TestCa,
        cn: &str,
        bits: usize,
        trust_level: Option<u8>,
    ) -> Result<TestCa, PkiError> {
        TestCa::new_issuing_with_key(parent, cn, &generate_rsa_key(bits)?, trust_level)
    }

    /// Like [`TestCa::new_issuing`] with a given key.
    pub fn new_issuing_with_key(
        parent: &TestCa,
        cn: &str,
        key: &RsaPrivateKey,
        trust_level: Option<u8>,
    ) -> Result<TestCa, PkiError> {
        let (key_pkcs8, key_pair) = key_pair_from_rsa(key)?;
        let now = now_unix();
        let mut params = ca_params(cn, trust_level)?;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        let not_after = (now + ISSUING_VALIDITY_DAYS * 86_400).min(parent.info.not_after);
        set_validity(&mut params, now - BACKDATE_SECS, not_after)?;
        let cert = params
            .signed_by(&key_pair, &parent.issuer())
            .map_err(issue_err)?;
        TestCa::assemble(cert.der().to_vec(), key_pkcs8, key_pair, params)
    }

    /// Loads a CA saved with [`TestCa::cert_der`] and [`TestCa::key_pkcs8_der`].
    pub fn from_parts(cert_der: &[u8], key_pkcs8_der: &[u8]) -> Result<TestCa, PkiError> {
        let info = CertInfo::from_der(cert_der)?;
        if !info.is_ca {
            return Err(PkiError::BadCaKey(format!(
                "`{}` is not a CA certificate",
                info.subject_dn
            )));
        }
        let rsa_key = RsaPrivateKey::from_pkcs8_der(key_pkcs8_der)
            .map_err(|e| PkiError::BadCaKey(format!("not an RSA PKCS#8 key: {e}")))?;
        let public = RsaSpki::from_key(&rsa::RsaPublicKey::from(&rsa_key))?;
        if !info.matches_rsa_key(&public.modulus, &public.exponent) {
            return Err(PkiError::BadCaKey(format!(
                "the key does not belong to `{}`",
                info.subject_dn
            )));
        }
        let (key_pkcs8, key_pair) = key_pair_from_rsa(&rsa_key)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = reencode_name(&info.der)?;
        params.key_identifier_method = match &info.subject_key_id {
            Some(id) => KeyIdMethod::PreSpecified(id.clone()),
            None => KeyIdMethod::Sha256,
        };
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        TestCa::assemble(info.der.clone(), key_pkcs8, key_pair, params)
    }

    fn assemble(
        cert_der: Vec<u8>,
        key_pkcs8: Zeroizing<Vec<u8>>,
        key: KeyPair,
        issuer_params: CertificateParams,
    ) -> Result<TestCa, PkiError> {
        let info = CertInfo::from_der(&cert_der)?;
        Ok(TestCa {
            cert_der,
            key_pkcs8,
            key,
            issuer_params,
            info,
        })
    }

    fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.issuer_params, &self.key)
    }

    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    pub fn cert_pem(&self) -> String {
        to_pem("CERTIFICATE", &self.cert_der)
    }

    /// The CA's private key; keep it out of logs and delete it with the test CA.
    pub fn key_pkcs8_der(&self) -> &[u8] {
        &self.key_pkcs8
    }

    pub fn info(&self) -> &CertInfo {
        &self.info
    }

    /// Certifies a card key (`subject_public_key_info_der`, RSA) for a person; returns the
    /// certificate DER.
    pub fn issue_person_cert(
        &self,
        req: &PersonCertRequest,
        subject_public_key_info_der: &[u8],
    ) -> Result<Vec<u8>, PkiError> {
        let key = RsaSpki::from_der(subject_public_key_info_der)?;
        if key.bits < 2048 {
            return Err(PkiError::BadRequest(format!(
                "the key has {} bits; card keys must be at least RSA-2048",
                key.bits
            )));
        }
        let mut params = CertificateParams::default();
        params.distinguished_name = person_name(&req.subject)?;
        params.is_ca = IsCa::ExplicitNoCa;
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(random_serial());

        match req.purpose {
            Purpose::Authentication => {
                params.key_usages = vec![
                    KeyUsagePurpose::DigitalSignature,
                    KeyUsagePurpose::KeyEncipherment,
                ];
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
                if req.upn.is_some() {
                    params
                        .extended_key_usages
                        .push(ExtendedKeyUsagePurpose::Other(
                            OID_EKU_SMARTCARD_LOGON.to_vec(),
                        ));
                }
            }
            Purpose::Signature => {
                params.key_usages = vec![KeyUsagePurpose::ContentCommitment];
            }
            Purpose::Ca | Purpose::Other => {
                return Err(PkiError::BadRequest(
                    "a person certificate is either for authentication or for signature".into(),
                ));
            }
        }

        if let Some(upn) = &req.upn {
            if upn.trim().is_empty() || upn.chars().any(char::is_control) {
                return Err(PkiError::BadRequest(
                    "the UPN is empty or has control characters".into(),
                ));
            }
            params.subject_alt_names.push(SanType::OtherName((
                OID_MS_UPN.to_vec(),
                OtherNameValue::Utf8String(upn.clone()),
            )));
        }

        if let Some(level) = req.trust_level {
            if !TRUST_LEVELS.contains(&level) {
                return Err(PkiError::BadRequest(format!(
                    "trust level {level} does not exist; use 1 to 4"
                )));
            }
            let identity = Identity::from_serial_number(&req.subject.serial_number);
            if level > identity.max_trust_level() {
                return Err(PkiError::BadRequest(format!(
                    "a {} gives at most trust level {}, not {level}",
                    identity.kind(),
                    identity.max_trust_level()
                )));
            }
            params.custom_extensions.push(policies_extension(level)?);
        }

        let now = now_unix();
        let not_before = req.not_before.unwrap_or(now - BACKDATE_SECS);
        let not_after = req
            .not_after
            .unwrap_or(not_before.saturating_add(DEFAULT_PERSON_VALIDITY_DAYS * 86_400))
            .min(self.info.not_after);
        set_validity(&mut params, not_before, not_after)?;

        let cert = params.signed_by(&key, &self.issuer()).map_err(issue_err)?;
        Ok(cert.der().to_vec())
    }

    /// A TLS server certificate (serverAuth, DNS names and IP addresses in the SAN) for a key
    /// given as SPKI, as Inera's Function CA issues for servers; the CA mock serves HTTPS with one.
    pub fn issue_server_cert(
        &self,
        common_name: &str,
        dns_names: &[&str],
        subject_public_key_info_der: &[u8],
        validity_days: i64,
    ) -> Result<Vec<u8>, PkiError> {
        let key = RsaSpki::from_der(subject_public_key_info_der)?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, printable("C", "SE")?);
        dn.push(DnType::OrganizationName, "Inera AB");
        dn.push(DnType::CommonName, common_name);
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(random_serial());
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        for name in dns_names {
            // Clients check an address they connect to by IP against an IP SAN, not a DNS name.
            if let Ok(ip) = name.parse::<std::net::IpAddr>() {
                params.subject_alt_names.push(SanType::IpAddress(ip));
                continue;
            }
            let ia5 = Ia5String::try_from(*name)
                .map_err(|e| PkiError::BadRequest(format!("DNS name {name:?}: {e}")))?;
            params.subject_alt_names.push(SanType::DnsName(ia5));
        }
        let now = now_unix();
        let not_after = (now + validity_days.max(1) * 86_400).min(self.info.not_after);
        set_validity(&mut params, now - BACKDATE_SECS, not_after)?;
        let cert = params.signed_by(&key, &self.issuer()).map_err(issue_err)?;
        Ok(cert.der().to_vec())
    }
}

fn issue_err(e: rcgen::Error) -> PkiError {
    PkiError::Issue(e.to_string())
}

fn key_pair_from_rsa(key: &RsaPrivateKey) -> Result<(Zeroizing<Vec<u8>>, KeyPair), PkiError> {
    let pkcs8 = private_key_pkcs8_der(key)?;
    let pair =
        KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8.as_slice().into(), &rcgen::PKCS_RSA_SHA256)
            .map_err(|e| PkiError::BadCaKey(e.to_string()))?;
    Ok((pkcs8, pair))
}

/// `C=SE, O=Inera AB, CN=<cn>` CA parameters as on Inera's CAs (C PrintableString, the rest
/// UTF8String), with keyCertSign + cRLSign and key identifiers.
fn ca_params(cn: &str, trust_level: Option<u8>) -> Result<CertificateParams, PkiError> {
    if cn.trim().is_empty() {
        return Err(PkiError::BadRequest("a CA needs a common name".into()));
    }
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, printable("C", "SE")?);
    dn.push(DnType::OrganizationName, "Inera AB");
    dn.push(DnType::CommonName, cn);
    params.distinguished_name = dn;
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.use_authority_key_identifier_extension = true;
    params.serial_number = Some(random_serial());
    if let Some(level) = trust_level {
        params.custom_extensions.push(policies_extension(level)?);
    }
    Ok(params)
}

/// Subject in encoding order C, L, O, CN, surname, givenName, serialNumber; shown most specific
/// first (as Windows does) this reads like the public example in docs/domain.md.
fn person_name(p: &PersonName) -> Result<DistinguishedName, PkiError> {
    let required = [
        ("serialNumber", &p.serial_number),
        ("givenName", &p.given_name),
        ("surname", &p.surname),
        ("CN", &p.common_name),
        ("O", &p.organisation),
    ];
    for (what, value) in required {
        if value.trim().is_empty() {
            return Err(PkiError::BadRequest(format!("the subject {what} is empty")));
        }
    }
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, printable("C", "SE")?);
    if let Some(l) = p.locality.as_deref().filter(|l| !l.trim().is_empty()) {
        dn.push(DnType::LocalityName, l);
    }
    dn.push(DnType::OrganizationName, p.organisation.as_str());
    dn.push(DnType::CommonName, p.common_name.as_str());
    dn.push(
        DnType::CustomDnType(OID_SURNAME.to_vec()),
        p.surname.as_str(),
    );
    dn.push(
        DnType::CustomDnType(OID_GIVEN_NAME.to_vec()),
        p.given_name.as_str(),
    );
    dn.push(
        DnType::CustomDnType(OID_SERIAL_NUMBER.to_vec()),
        printable("serialNumber", &p.serial_number)?,
    );
    Ok(dn)
}

fn printable(what: &str, s: &str) -> Result<DnValue, PkiError> {
    PrintableString::try_from(s)
        .map(DnValue::PrintableString)
        .map_err(|_| {
            PkiError::BadRequest(format!(
                "the subject {what} may only hold A-Z, a-z, 0-9 and '()+,-./:=? "
            ))
        })
}

/// Certificate Policies with our trust-level OID: `SEQUENCE OF PolicyInformation`, each a
/// `SEQUENCE { policyIdentifier }` (RFC 5280 4.2.1.4).
fn policies_extension(level: u8) -> Result<CustomExtension, PkiError> {
    if !TRUST_LEVELS.contains(&level) {
        return Err(PkiError::BadRequest(format!(
            "trust level {level} does not exist; use 1 to 4"
        )));
    }
    // Built by hand: the `der` crate's OID type cannot hold arc 999 under 2 (our fake arc).
    let oid = der_tlv(0x06, &oid_content(&trust_level_policy_components(level)));
    let content = der_tlv(0x30, &der_tlv(0x30, &oid));
    Ok(CustomExtension::from_oid_content(
        &OID_CERTIFICATE_POLICIES,
        content,
    ))
}

/// Content octets of an OBJECT IDENTIFIER (X.690 8.19): first two arcs as 40*a+b, then base 128.
fn oid_content(arcs: &[u64]) -> Vec<u8> {
    let first = arcs.first().copied().unwrap_or(0) * 40 + arcs.get(1).copied().unwrap_or(0);
    let mut out = Vec::new();
    for arc in std::iter::once(first).chain(arcs.iter().skip(2).copied()) {
        let mut groups = vec![(arc & 0x7F) as u8];
        let mut rest = arc >> 7;
        while rest > 0 {
            groups.push((rest & 0x7F) as u8 | 0x80);
            rest >>= 7;
        }
        out.extend(groups.iter().rev());
    }
    out
}

/// One DER TLV with definite length.
fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// Random positive 16-byte serial: serials must be unique per CA even when the same card key is
/// certified twice (rcgen's default derives the serial from the key).
fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] = (bytes[0] & 0x7F) | 0x40;
    SerialNumber::from_slice(&bytes)
}

fn set_validity(
    params: &mut CertificateParams,
    not_before: i64,
    not_after: i64,
) -> Result<(), PkiError> {
    if not_after <= not_before {
        return Err(PkiError::BadRequest(
            "the certificate would end before it starts (or after its CA ends)".into(),
        ));
    }
    let to_secs = |t: i64| {
        u64::try_from(t.clamp(0, MAX_UNIX))
            .map(std::time::Duration::from_secs)
            .unwrap_or_default()
    };
    // The date type is rcgen's (the `time` crate); built from the epoch so no extra dependency.
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    params.not_before = epoch + to_secs(not_before);
    params.not_after = epoch + to_secs(not_after);
    Ok(())
}

/// Rebuilds a certificate's subject as rcgen values with the same string types, so that
/// certificates issued by a loaded CA name it byte-for-byte as its own certificate does.
fn reencode_name(cert_der: &[u8]) -> Result<DistinguishedName, PkiError> {
    let (_, x509) = x509_parser::parse_x509_certificate(cert_der)
        .map_err(|e| PkiError::BadCertificate(e.to_string()))?;
    let bad = |why: &str| PkiError::BadCaKey(format!("the CA name cannot be reproduced: {why}"));
    let mut dn = DistinguishedName::new();
    let mut seen = Vec::new();
    for rdn in x509.subject().iter() {
        let mut attrs = rdn.iter();
        let (Some(attr), None) = (attrs.next(), attrs.next()) else {
            return Err(bad("multi-valued or empty RDN"));
        };
        let oid: Vec<u64> = attr
            .attr_type()
            .iter()
            .ok_or_else(|| bad("attribute OID"))?
            .collect();
        let ty = DnType::from_oid(&oid);
        if seen.contains(&ty) {
            return Err(bad("repeated attribute"));
        }
        seen.push(ty.clone());
        let value = attr.attr_value();
        let text = || std::str::from_utf8(value.data).map_err(|_| bad("not UTF-8"));
        let dn_value = match value.tag() {
            Tag::PrintableString => DnValue::PrintableString(
                PrintableString::try_from(text()?).map_err(|_| bad("PrintableString"))?,
            ),
            Tag::Utf8String => DnValue::Utf8String(text()?.to_string()),
            Tag::Ia5String => {
                DnValue::Ia5String(Ia5String::try_from(text()?).map_err(|_| bad("IA5String"))?)
            }
            Tag::T61String => DnValue::TeletexString(
                TeletexString::try_from(text()?).map_err(|_| bad("TeletexString"))?,
            ),
            Tag::BmpString => DnValue::BmpString(
                BmpString::from_utf16be(value.data.to_vec()).map_err(|_| bad("BMPString"))?,
            ),
            Tag::UniversalString => DnValue::UniversalString(
                UniversalString::from_utf32be(value.data.to_vec())
                    .map_err(|_| bad("UniversalString"))?,
            ),
            _ => return Err(bad("unsupported string type")),
        };
        dn.push(ty, dn_value);
    }
    Ok(dn)
}

fn to_pem(label: &str, der: &[u8]) -> String {
    crate::pki::pem::encode(label, der)
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use rsa::RsaPublicKey;

    use super::*;
    use crate::pki::cert::{KeyUsageBit, OID_EKU_CLIENT_AUTH, OID_EKU_SMARTCARD_LOGON};
    use crate::pki::identity::Identity;
    use crate::pki::keys::test_keys::rsa_2048;
    use crate::pki::trust::trust_level_policy_oid;

    struct Chain {
        root: TestCa,
        issuing: TestCa,
    }

    /// Root and level-3 issuing CA, made once per test binary from shared keys.
    fn chain() -> &'static Chain {
        static CHAIN: OnceLock<Chain> = OnceLock::new();
        CHAIN.get_or_init(|| {
            let root = TestCa::new_root_with_key("TEST SITHS e-id Root CA v2", rsa_2048(0))
                .unwrap_or_else(|e| panic!("root: {e}"));
            let issuing = TestCa::new_issuing_with_key(
                &root,
                "TEST SITHS e-id Person HSA-id 3 CA v1",
                rsa_2048(1),
                Some(3),
            )
            .unwrap_or_else(|e| panic!("issuing: {e}"));
            Chain { root, issuing }
        })
    }

    /// SPKI of a "card" key: the CA only ever sees this public half.
    fn card_spki(i: usize) -> Vec<u8> {
        RsaSpki::from_key(&RsaPublicKey::from(rsa_2048(i)))
            .unwrap()
            .spki_der
    }

    fn ingrid(serial: &str) -> PersonName {
        PersonName {
            serial_number: serial.into(),
            given_name: "Ingrid".into(),
            surname: "Andersson Larsson".into(),
            common_name: "Ingrid Andersson Larsson".into(),
            organisation: "Nordic MedTest".into(),
            locality: Some("Öster län".into()),
        }
    }

    fn request(serial: &str, purpose: Purpose) -> PersonCertRequest {
        PersonCertRequest {
            subject: ingrid(serial),
            purpose,
            trust_level: Some(3),
            upn: None,
            not_before: None,
            not_after: None,
        }
    }

    #[test]
    fn policy_extension_is_plain_der() {
        // 2.999.752.1.3: 2*40+999 = 1079 = 0x88 0x37; 752 = 0x85 0x70.
        assert_eq!(
            oid_content(&[2, 999, 752, 1, 3]),
            vec![0x88, 0x37, 0x85, 0x70, 0x01, 0x03]
        );
        assert_eq!(
            oid_content(&[1, 2, 840, 113549]),
            vec![0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D]
        );
        assert_eq!(der_tlv(0x04, &[0; 200])[..3], [0x04, 0x81, 200]);
        assert_eq!(der_tlv(0x04, &[0; 300])[..4], [0x04, 0x82, 0x01, 0x2C]);
    }

    #[test]
    fn test_cas_look_like_ineras() {
        let c = chain();
        let root = c.root.info();
        assert_eq!(
            root.subject_dn,
            "C=SE, O=Inera AB, CN=TEST SITHS e-id Root CA v2"
        );
        assert!(root.is_ca && root.is_self_signed() && root.path_len.is_none());
        assert_eq!(
            root.key_usage,
            vec![KeyUsageBit::KeyCertSign, KeyUsageBit::CrlSign]
        );
        assert_eq!(root.subject_key_id, root.authority_key_id);
        assert!(root.days_left(now_unix()) > 29 * 365);
        root.verify_issued_by(root).unwrap();

        let issuing = c.issuing.info();
        assert_eq!(issuing.issuer_dn, root.subject_dn);
        assert_eq!(issuing.path_len, Some(0));
        assert_eq!(issuing.purpose, Purpose::Ca);
        assert_eq!(issuing.trust_level, Some(3), "{:?}", issuing.policy_oids);
        assert_eq!(issuing.authority_key_id, root.subject_key_id);
        assert!(issuing.not_after <= root.not_after);
        issuing.verify_issued_by(root).unwrap();
        // Not the other way round.
        assert!(root.verify_issued_by(issuing).is_err());
    }

    #[test]
    fn authentication_cert_for_a_card_key_reads_back() {
        let c = chain();
        let spki = card_spki(2);
        let mut req = request("TSTNMT2321000156-1019", Purpose::Authentication);
        req.upn = Some("ingrid.andersson@nordicmedtest.example".into());
        let der = c.issuing.issue_person_cert(&req, &spki).unwrap();
        let cert = CertInfo::from_der(&der).unwrap();

        assert!(
            matches!(&cert.identity, Identity::HsaId(id) if id.as_str() == "TSTNMT2321000156-1019")
        );
        assert_eq!(cert.purpose, Purpose::Authentication);
        assert_eq!(cert.trust_level, Some(3));
        assert_eq!(cert.policy_oids, vec![trust_level_policy_oid(3)]);
        assert_eq!(
            cert.upn.as_deref(),
            Some("ingrid.andersson@nordicmedtest.example")
        );
        assert_eq!(
            cert.key_usage,
            vec![KeyUsageBit::DigitalSignature, KeyUsageBit::KeyEncipherment]
        );
        assert_eq!(
            cert.extended_key_usage,
            vec![OID_EKU_CLIENT_AUTH, OID_EKU_SMARTCARD_LOGON]
        );
        assert!(!cert.is_ca);
        assert_eq!(cert.subject.given_name.as_deref(), Some("Ingrid"));
        assert_eq!(cert.subject.surname.as_deref(), Some("Andersson Larsson"));
        assert_eq!(
            cert.subject.common_name.as_deref(),
            Some("Ingrid Andersson Larsson")
        );
        assert_eq!(cert.subject.organisation.as_deref(), Some("Nordic MedTest"));
        assert_eq!(cert.subject.locality.as_deref(), Some("Öster län"));
        assert_eq!(cert.subject.country.as_deref(), Some("SE"));
        assert_eq!(
            cert.issuer_cn.as_deref(),
            Some("TEST SITHS e-id Person HSA-id 3 CA v1")
        );
        assert_eq!(cert.issuer_dn_der, c.issuing.info().subject_dn_der);
        assert_eq!(cert.authority_key_id, c.issuing.info().subject_key_id);
        assert!(cert.subject_key_id.is_some());
        assert_eq!(cert.signature_algorithm, "1.2.840.113549.1.1.11");

        // The certificate is for the card's key, and only that key.
        assert_eq!(cert.spki_der, spki);
        assert_eq!(cert.key_bits, 2048);
        let card = RsaSpki::from_der(&spki).unwrap();
        assert!(cert.matches_rsa_key(&card.modulus, &card.exponent));
        let other = RsaSpki::from_der(&card_spki(3)).unwrap();
        assert!(!cert.matches_rsa_key(&other.modulus, &other.exponent));

        // About five years, starting now.
        let now = now_unix();
        assert!(cert.is_valid_at(now));
        let days = cert.days_left(now);
        assert!((1820..=1826).contains(&days), "{days} days");

        cert.verify_issued_by(c.issuing.info()).unwrap();
        assert!(cert.verify_issued_by(c.root.info()).is_err());
    }

    #[test]
    fn signature_cert_for_a_personnummer() {
        let c = chain();
        let der = c
            .issuing
            .issue_person_cert(&request("191212121212", Purpose::Signature), &card_spki(3))
            .unwrap();
        let cert = CertInfo::from_der(&der).unwrap();
        assert!(
            matches!(&cert.identity, Identity::Personnummer(p) if p.as_str() == "191212121212")
        );
        assert_eq!(cert.purpose, Purpose::Signature);
        assert_eq!(cert.key_usage, vec![KeyUsageBit::NonRepudiation]);
        assert!(cert.extended_key_usage.is_empty());
        assert_eq!(cert.upn, None);
        assert_eq!(cert.subject.serial_number.as_deref(), Some("191212121212"));
        cert.verify_issued_by(c.issuing.info()).unwrap();
    }

    #[test]
    fn certifying_the_same_key_twice_gives_distinct_serials() {
        let c = chain();
        let req = request("TSTNMT2321000156-1019", Purpose::Authentication);
        let a =
            CertInfo::from_der(&c.issuing.issue_person_cert(&req, &card_spki(2)).unwrap()).unwrap();
        let b =
            CertInfo::from_der(&c.issuing.issue_person_cert(&req, &card_spki(2)).unwrap()).unwrap();
        assert_ne!(a.serial_hex, b.serial_hex);
        assert_eq!(a.serial_hex.len(), 32);
    }

    #[test]
    fn validity_can_be_set_and_never_outlives_the_ca() {
        let c = chain();
        let mut req = request("TSTNMT2321000156-1019", Purpose::Signature);
        req.not_before = Some(1_700_000_000);
        req.not_after = Some(1_700_000_000 + 30 * 86_400);
        let cert =
            CertInfo::from_der(&c.issuing.issue_person_cert(&req, &card_spki(2)).unwrap()).unwrap();
        assert_eq!(
            (cert.not_before, cert.not_after),
            (1_700_000_000, 1_700_000_000 + 30 * 86_400)
        );

        req.not_before = None;
        req.not_after = Some(c.issuing.info().not_after + 1000 * 86_400);
        let cert =
            CertInfo::from_der(&c.issuing.issue_person_cert(&req, &card_spki(2)).unwrap()).unwrap();
        assert_eq!(cert.not_after, c.issuing.info().not_after);

        req.not_before = Some(1_700_000_000);
        req.not_after = Some(1_600_000_000);
        assert!(matches!(
            c.issuing.issue_person_cert(&req, &card_spki(2)),
            Err(PkiError::BadRequest(_))
        ));
    }

    #[test]
    fn bad_requests_are_refused_with_a_reason() {
        let c = chain();
        let spki = card_spki(2);
        let refuse =
            |req: &PersonCertRequest, spki: &[u8]| match c.issuing.issue_person_cert(req, spki) {
                Err(PkiError::BadRequest(msg)) => msg,
                Err(PkiError::BadPublicKey(msg)) => msg,
                other => panic!("accepted: {:?}", other.map(|d| d.len())),
            };

        // A samordningsnummer gives at most level 2.
        let mut req = request("199001619809", Purpose::Authentication);
        assert!(refuse(&req, &spki).contains("at most trust level 2"));
        req.trust_level = Some(2);
        let cert = CertInfo::from_der(&c.issuing.issue_person_cert(&req, &spki).unwrap()).unwrap();
        assert!(matches!(cert.identity, Identity::Samordningsnummer(_)));
        assert_eq!(cert.trust_level, Some(2));

        let mut req = request("TSTNMT2321000156-1019", Purpose::Ca);
        assert!(refuse(&req, &spki).contains("authentication or for signature"));
        req.purpose = Purpose::Authentication;
        req.trust_level = Some(5);
        assert!(refuse(&req, &spki).contains("use 1 to 4"));
        req.trust_level = None;
        req.subject.given_name = " ".into();
        assert!(refuse(&req, &spki).contains("givenName"));
        req.subject.given_name = "Ingrid".into();
        req.subject.serial_number = "TSTNMT2321000156_1019".into();
        assert!(refuse(&req, &spki).contains("serialNumber"));
        req.subject.serial_number = "TSTNMT2321000156-1019".into();
        req.upn = Some(String::new());
        assert!(refuse(&req, &spki).contains("UPN"));
        req.upn = None;
        // Not an SPKI at all.
        assert!(!refuse(&req, &[0x30, 0x00]).is_empty());

        // No trust level: no policy at all.
        let cert = CertInfo::from_der(&c.issuing.issue_person_cert(&req, &spki).unwrap()).unwrap();
        assert_eq!(cert.trust_level, None);
        assert!(cert.policy_oids.is_empty());
    }

    #[test]
    fn a_saved_ca_loads_and_keeps_issuing_into_the_same_chain() {
        let c = chain();
        let loaded = TestCa::from_parts(c.issuing.cert_der(), c.issuing.key_pkcs8_der()).unwrap();
        assert_eq!(loaded.info(), c.issuing.info());
        let der = loaded
            .issue_person_cert(
                &request("191212121212", Purpose::Authentication),
                &card_spki(2),
            )
            .unwrap();
        let cert = CertInfo::from_der(&der).unwrap();
        // Same issuer name bytes and key identifier as the CA's own certificate.
        assert_eq!(cert.issuer_dn_der, c.issuing.info().subject_dn_der);
        assert_eq!(cert.authority_key_id, c.issuing.info().subject_key_id);
        cert.verify_issued_by(c.issuing.info()).unwrap();

        // PEM round trip.
        assert_eq!(
            CertInfo::from_pem(&loaded.cert_pem()).unwrap(),
            *c.issuing.info()
        );

        // The wrong key, a leaf certificate, or garbage are refused.
        let wrong = TestCa::from_parts(c.issuing.cert_der(), c.root.key_pkcs8_der()).unwrap_err();
        assert!(wrong.to_string().contains("does not belong"), "{wrong}");
        assert!(TestCa::from_parts(&der, c.issuing.key_pkcs8_der()).is_err());
        assert!(TestCa::from_parts(c.issuing.cert_der(), &[1, 2, 3]).is_err());
        assert!(TestCa::from_parts(&[0x30, 0x03], c.issuing.key_pkcs8_der()).is_err());
    }

    #[test]
    fn server_cert_for_the_ca_mock() {
        let c = chain();
        let der = c
            .issuing
            .issue_server_cert(
                "ca.test.example",
                &["ca.test.example", "localhost"],
                &card_spki(4),
                30,
            )
            .unwrap();
        let cert = CertInfo::from_der(&der).unwrap();
        assert_eq!(cert.extended_key_usage, vec!["1.3.6.1.5.5.7.3.1"]);
        assert_eq!(cert.subject.common_name.as_deref(), Some("ca.test.example"));
        assert!((29..=30).contains(&cert.days_left(now_unix())));
        cert.verify_issued_by(c.issuing.info()).unwrap();
    }

    #[test]
    fn openssl_accepts_the_chain() {
        if std::process::Command::new("openssl")
            .arg("version")
            .output()
            .is_err()
        {
            eprintln!("NOTICE: openssl is not installed; skipping the openssl chain check");
            return;
        }
        let c = chain();
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, pem: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, pem).unwrap();
            path
        };
        let mut req = request("TSTNMT2321000156-1019", Purpose::Authentication);
        req.upn = Some("ingrid@nordicmedtest.example".into());
        let auth = c.issuing.issue_person_cert(&req, &card_spki(2)).unwrap();
        let sign = c
            .issuing
            .issue_person_cert(&request("191212121212", Purpose::Signature), &card_spki(3))
            .unwrap();
        let root = write("root.pem", c.root.cert_pem());
        let issuing = write("issuing.pem", c.issuing.cert_pem());
        let auth = write("auth.pem", to_pem("CERTIFICATE", &auth));
        let sign = write("sign.pem", to_pem("CERTIFICATE", &sign));

        let verify = |ca: &std::path::Path, leaf: &std::path::Path, extra: &[&str]| {
            let out = std::process::Command::new("openssl")
                .arg("verify")
                .args(["-x509_strict", "-CAfile"])
                .arg(ca)
                .arg("-untrusted")
                .arg(&issuing)
                .args(extra)
                .arg(leaf)
                .output()
                .unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            (out.status.success(), text)
        };
        let (ok, text) = verify(&root, &auth, &["-purpose", "sslclient"]);
        assert!(ok && text.contains(": OK"), "{text}");
        let (ok, text) = verify(&root, &sign, &[]);
        assert!(ok && text.contains(": OK"), "{text}");

        // Against another root (same name, different key) the chain must fail.
        let impostor =
            TestCa::new_root_with_key("TEST SITHS e-id Root CA v2", rsa_2048(5)).unwrap();
        let impostor = write("impostor.pem", impostor.cert_pem());
        let (ok, text) = verify(&impostor, &auth, &[]);
        assert!(!ok, "{text}");
    }

    #[test]
    fn rsa_4096_root_like_ineras() {
        // One real 4096-bit key, as Inera's roots use; slow, so only here.
        let root = TestCa::new_root("TEST SITHS e-id Root CA v2", 4096).unwrap();
        assert_eq!(root.info().key_bits, 4096);
        root.info().verify_issued_by(root.info()).unwrap();
        assert!(TestCa::new_root("x", 1024).is_err());
        assert!(TestCa::new_root_with_key(" ", rsa_2048(0)).is_err());
    }
}
