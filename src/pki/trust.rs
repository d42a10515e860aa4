//! Trust levels (ISO/IEC 29115 as used in Sweden) and the Certificate Policies OIDs that carry
//! them.
//!
//! The OIDs real SITHS cards use for their level are not public, so the test PKI uses its own
//! arc under 2.999, the ISO/ITU-T example arc that no real policy can live under [ours]. A real
//! card therefore always reads as "level unknown" here rather than a guessed level.

/// Dotted OID of the fake arc under which `<arc>.<level>` names a trust-level policy [ours].
pub const TRUST_POLICY_ARC: &str = "2.999.752.1";
/// The same arc as components, for encoders.
pub const TRUST_POLICY_ARC_COMPONENTS: [u64; 4] = [2, 999, 752, 1];
/// Levels Sweden uses (1 exists in the standard but is not used for SITHS).
pub const TRUST_LEVELS: std::ops::RangeInclusive<u8> = 1..=4;
/// National services that require trust level 3 (E-hälsomyndigheten).
pub const LEVEL_3_SERVICES: &[&str] = &["NPÖ", "Pascal", "NLL"];

/// The policy OID our test CAs put in a certificate of trust level `level`.
pub fn trust_level_policy_oid(level: u8) -> String {
    format!("{TRUST_POLICY_ARC}.{level}")
}

/// The policy OID as components, for building the Certificate Policies extension.
pub fn trust_level_policy_components(level: u8) -> Vec<u64> {
    let mut c = TRUST_POLICY_ARC_COMPONENTS.to_vec();
    c.push(u64::from(level));
    c
}

/// The level named by a policy OID, if it is one of ours for a valid level; any other policy
/// (real SITHS policies, anyPolicy) gives `None`.
pub fn trust_level_from_policy_oid(oid: &str) -> Option<u8> {
    let rest = oid.strip_prefix(TRUST_POLICY_ARC)?.strip_prefix('.')?;
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) || rest.starts_with('0') {
        return None;
    }
    let level: u8 = rest.parse().ok()?;
    TRUST_LEVELS.contains(&level).then_some(level)
}

/// The national services that accept a certificate of this level, so the app can warn before a
/// user with a reserve card (level 2) tries one of them.
pub fn services_for_level(level: u8) -> &'static [&'static str] {
    if level >= 3 { LEVEL_3_SERVICES } else { &[] }
}

/// The national services that will refuse a certificate of this level (unknown level: all of
/// them may refuse, so the app can say so).
pub fn services_refusing_level(level: Option<u8>) -> &'static [&'static str] {
    match level {
        Some(l) if l >= 3 => &[],
        _ => LEVEL_3_SERVICES,
    }
}

/// What the level means, in the words of the Swedish framework.
pub fn describe_level(level: u8) -> &'static str {
    match level {
        1 => "little or no confidence in the claimed identity",
        2 => "some confidence in the claimed identity",
        3 => "high confidence in the claimed identity",
        4 => "very high confidence in the claimed identity",
        _ => "not a trust level",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_oids_round_trip_for_every_level() {
        for level in TRUST_LEVELS {
            let oid = trust_level_policy_oid(level);
            assert_eq!(trust_level_from_policy_oid(&oid), Some(level));
            let joined: Vec<String> = trust_level_policy_components(level)
                .iter()
                .map(u64::to_string)
                .collect();
            assert_eq!(joined.join("."), oid);
        }
        assert_eq!(trust_level_policy_oid(3), "2.999.752.1.3");
    }

    #[test]
    fn foreign_and_malformed_policies_give_no_level() {
        for oid in [
            "2.5.29.32.0",   // anyPolicy, as on the real Inera CAs
            "2.999.752.1",   // the arc itself
            "2.999.752.1.5", // not a level
            "2.999.752.1.0",
            "2.999.752.1.03",
            "2.999.752.1.3.1",
            "2.999.752.10.3",
            "1.2.752.29.4.3",
        ] {
            assert_eq!(trust_level_from_policy_oid(oid), None, "{oid}");
        }
    }

    #[test]
    fn level_two_is_refused_by_national_services() {
        assert_eq!(services_for_level(3), &["NPÖ", "Pascal", "NLL"]);
        assert_eq!(services_for_level(4), LEVEL_3_SERVICES);
        assert!(services_for_level(2).is_empty());
        assert_eq!(services_refusing_level(Some(2)), LEVEL_3_SERVICES);
        assert_eq!(services_refusing_level(None), LEVEL_3_SERVICES);
        assert!(services_refusing_level(Some(3)).is_empty());
    }
}
