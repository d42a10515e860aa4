//! Property tests for every parser of outside input (issue 12, item 14): APDUs as the card
//! receives them, vpcd frames, PKCS#15 files and ISO 7816 templates as a card returns them,
//! PKCS#7 answers from a CA, and audit log lines. (The CA's request routing is in
//! tests/ca_mock.rs, beside the CA it needs.)
//!
//! Random input and valid input with random damage must never panic, must allocate no more than
//! a small multiple of the input (a counting allocator measures each call), and must round-trip
//! where an encoder exists. Case counts are kept small so the file runs in seconds.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::OnceLock;

use proptest::prelude::*;
use siths_upgrade::apdu::Command;
use siths_upgrade::ca::pkcs7;
use siths_upgrade::layout;
use siths_upgrade::pkcs15::iso7816::{Fcp, RsaPublicKeyTemplate};
use siths_upgrade::pkcs15::{self, TokenInfo};
use siths_upgrade::provision::{self as pre_upgrade, Codes};
use siths_upgrade::virtual_card::{self, CardState, VirtualCard};
use support::persons::{HOLDER, OPERATOR};

// ---- allocation accounting -------------------------------------------------------------------

/// Counts the bytes the current thread holds, and its peak, so a property can bound what one
/// parser call allocates. Thread-local so that tests running in parallel do not mix.
struct Counting;

thread_local! {
    static HELD: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        shrink(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            shrink(layout.size());
            grow(new_size);
        }
        p
    }
}

fn grow(n: usize) {
    let _ = HELD.try_with(|h| {
        let now = h.get().saturating_add(n);
        h.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
}

fn shrink(n: usize) {
    let _ = HELD.try_with(|h| h.set(h.get().saturating_sub(n)));
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Run `f` and return its result with the most bytes it held at once beyond what was held
/// before.
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = HELD.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let out = f();
    let peak = PEAK.with(Cell::get).saturating_sub(base);
    (out, peak)
}

/// What a parser may hold for `input_len` bytes of input: a small multiple of the input plus a
/// fixed allowance for its own structures. An allocation sized from a length field instead of
/// from the data actually present would break this.
fn allowance(input_len: usize) -> usize {
    16 * input_len + 64 * 1024
}

// ---- inputs ----------------------------------------------------------------------------------

/// The files of a real pre-upgrade virtual card, as a card returns them.
struct CardFiles {
    ef_dir: Vec<u8>,
    odf: Vec<u8>,
    token_info: Vec<u8>,
    aodf: Vec<u8>,
    prkdf: Vec<u8>,
    cdf: Vec<u8>,
    fcp: Vec<u8>,
    public_key: Vec<u8>,
    pkcs7: Vec<u8>,
    audit_log: Vec<u8>,
    card: CardState,
}

fn files() -> &'static CardFiles {
    static FILES: OnceLock<CardFiles> = OnceLock::new();
    FILES.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("card.json");
        pre_upgrade::make_pre_upgrade_card(
            &state,
            pre_upgrade::DEMO_SERIAL,
            &Codes::test_defaults(),
            &pre_upgrade::demo_holder(),
        )
        .unwrap();
        let mut card = VirtualCard::open(&state).unwrap();
        let ef = |df, fid| card.state().ef_content(df, fid).unwrap().to_vec();
        let (mf, app) = (layout::FID_MF, layout::FID_DF_PKCS15);
        let (ef_dir, odf, token_info) = (
            ef(mf, layout::FID_EF_DIR),
            ef(app, layout::FID_ODF),
            ef(app, layout::FID_TOKEN_INFO),
        );
        let (aodf, prkdf, cdf) = (
            ef(app, layout::FID_AODF),
            ef(app, layout::FID_PRKDF),
            ef(app, layout::FID_CDF),
        );
        let mut data = |cmd: Command| {
            let mut out = Vec::new();
            let mut answer = card.respond(&cmd.to_bytes().unwrap()).unwrap();
            loop {
                let (body, sw) = answer.split_at(answer.len() - 2);
                out.extend_from_slice(body);
                match sw {
                    [0x90, 0x00] => return out,
                    [0x61, more] => {
                        let le = if *more == 0 { 256 } else { usize::from(*more) };
                        let get = Command::get_response(le).to_bytes().unwrap();
                        answer = card.respond(&get).unwrap();
                    }
                    other => panic!("{cmd:?} -> {other:02X?}"),
                }
            }
        };
        let fcp = data(Command::select_path_fcp(&[0x50, 0x15, 0x50, 0x31]));
        let public_key = data(Command::read_public_key(1));
        let pem = std::fs::read_to_string(state.with_extension("ca.pem")).unwrap();
        let certs: Vec<Vec<u8>> = pem
            .split("-----END CERTIFICATE-----")
            .filter(|block| block.contains("BEGIN"))
            .map(|block| {
                let body: String = block
                    .lines()
                    .filter(|l| !l.starts_with("-----") && !l.trim().is_empty())
                    .collect();
                use base64::Engine;
                base64::engine::general_purpose::STANDARD
                    .decode(body.trim())
                    .unwrap()
            })
            .collect();
        let refs: Vec<&[u8]> = certs.iter().map(Vec::as_slice).collect();
        let pkcs7 = pkcs7::certs_only_der(&refs).unwrap();
        let log_path = tmp.path().join("audit.log");
        let mut log = siths_upgrade::audit::AuditLog::open(&log_path).unwrap();
        for (i, action) in [
            siths_upgrade::audit::Action::IdentityCheck,
            siths_upgrade::audit::Action::PukLookup,
            siths_upgrade::audit::Action::Unblock,
        ]
        .into_iter()
        .enumerate()
        {
            log.append(siths_upgrade::audit::Record {
                operator: OPERATOR.hsa_id.into(),
                card_serial: pre_upgrade::DEMO_SERIAL.into(),
                customer: HOLDER.hsa_id.into(),
                action,
                outcome: siths_upgrade::audit::Outcome::Done,
                detail: format!("pass, ärende {i}"),
            })
            .unwrap();
        }
        let audit_log = std::fs::read(&log_path).unwrap();
        CardFiles {
            ef_dir,
            odf,
            token_info,
            aodf,
            prkdf,
            cdf,
            fcp,
            public_key,
            pkcs7,
            audit_log,
            card: card.state().clone(),
        }
    })
}

/// A change to valid input: flip, replace, insert or delete bytes, or cut it short.
#[derive(Debug, Clone)]
enum Damage {
    Set(usize, u8),
    Xor(usize, u8),
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
    Truncate(usize),
}

fn damage() -> impl Strategy<Value = Vec<Damage>> {
    let one = prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Damage::Set(i, b)),
        (any::<usize>(), 1..=255u8).prop_map(|(i, b)| Damage::Xor(i, b)),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(i, v)| Damage::Insert(i, v)),
        (any::<usize>(), 1..16usize).prop_map(|(i, n)| Damage::Remove(i, n)),
        any::<usize>().prop_map(Damage::Truncate),
    ];
    proptest::collection::vec(one, 1..4)
}

fn apply(valid: &[u8], damage: &[Damage]) -> Vec<u8> {
    let mut v = valid.to_vec();
    for d in damage {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
        match d {
            Damage::Set(i, b) if !v.is_empty() => {
                let i = at(*i, v.len());
                v[i] = *b;
            }
            Damage::Xor(i, b) if !v.is_empty() => {
                let i = at(*i, v.len());
                v[i] ^= *b;
            }
            Damage::Insert(i, bytes) => {
                let i = at(*i, v.len() + 1);
                v.splice(i..i, bytes.iter().copied());
            }
            Damage::Remove(i, n) if !v.is_empty() => {
                let i = at(*i, v.len());
                let end = (i + n).min(v.len());
                v.drain(i..end);
            }
            Damage::Truncate(i) => {
                let i = at(*i, v.len() + 1);
                v.truncate(i);
            }
            _ => {}
        }
    }
    v
}

/// Random bytes, or a valid file damaged.
fn input(valid: fn(&CardFiles) -> &Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        damage().prop_map(move |d| apply(valid(files()), &d)),
    ]
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// `decode` never panics, stays within the allowance, and what it accepts encodes and decodes
/// to the same value.
fn decodes_and_round_trips<T: PartialEq + std::fmt::Debug>(
    bytes: &[u8],
    decode: impl Fn(&[u8]) -> Result<T, pkcs15::Pkcs15Error>,
    encode: impl Fn(&T) -> Result<Vec<u8>, pkcs15::Pkcs15Error>,
) -> Result<(), TestCaseError> {
    let (decoded, peak) = peak_of(|| decode(bytes));
    prop_assert!(
        peak <= allowance(bytes.len()),
        "{peak} bytes held for {}",
        bytes.len()
    );
    if let Ok(value) = decoded {
        let again = encode(&value);
        prop_assert!(
            again.is_ok(),
            "decoded {value:?} but cannot encode it: {again:?}"
        );
        let again = again.unwrap_or_default();
        prop_assert_eq!(decode(&again).ok(), Some(value));
    }
    Ok(())
}

// ---- the properties --------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn apdus_from_any_bytes_parse_or_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let (parsed, peak) = peak_of(|| Command::parse(&bytes));
        prop_assert!(peak <= allowance(bytes.len()));
        if let Ok(cmd) = parsed {
            // What parses re-encodes to bytes that parse to the same command.
            let again = cmd.to_bytes();
            prop_assert!(again.is_ok());
            let again = Command::parse(&again.unwrap_or_default());
            prop_assert!(again.as_ref().is_ok_and(|c| *c == cmd));
        }
    }

    #[test]
    fn valid_apdus_round_trip(
        header in any::<[u8; 4]>(),
        data in proptest::collection::vec(any::<u8>(), 0..=255),
        le in proptest::option::of(1usize..=256),
    ) {
        let mut cmd = Command::new(header[0], header[1], header[2], header[3]).with_data(data);
        if let Some(le) = le {
            cmd = cmd.with_le(le);
        }
        let bytes = cmd.to_bytes();
        prop_assert!(bytes.is_ok());
        let parsed = Command::parse(&bytes.unwrap_or_default());
        prop_assert!(parsed.is_ok_and(|c| c == cmd));
    }

    #[test]
    fn the_virtual_card_answers_any_apdu(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut card = VirtualCard::new(files().card.clone());
        let answer = card.respond(&bytes);
        prop_assert!(answer.is_ok_and(|a| a.len() >= 2));
    }
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn ef_dir(bytes in input(|f| &f.ef_dir)) {
        decodes_and_round_trips(&bytes, pkcs15::decode_ef_dir, |v| pkcs15::encode_ef_dir(v))?;
    }

    #[test]
    fn odf(bytes in input(|f| &f.odf)) {
        decodes_and_round_trips(&bytes, pkcs15::decode_odf, |v| pkcs15::encode_odf(v))?;
    }

    #[test]
    fn token_info(bytes in input(|f| &f.token_info)) {
        decodes_and_round_trips(&bytes, TokenInfo::decode, TokenInfo::encode)?;
    }

    #[test]
    fn aodf(bytes in input(|f| &f.aodf)) {
        decodes_and_round_trips(&bytes, pkcs15::decode_aodf, |v| pkcs15::encode_aodf(v))?;
    }

    #[test]
    fn prkdf(bytes in input(|f| &f.prkdf)) {
        decodes_and_round_trips(&bytes, pkcs15::decode_prkdf, |v| pkcs15::encode_prkdf(v))?;
    }

    #[test]
    fn cdf(bytes in input(|f| &f.cdf)) {
        decodes_and_round_trips(&bytes, pkcs15::decode_cdf, |v| pkcs15::encode_cdf(v))?;
    }

    #[test]
    fn fcp_templates(bytes in input(|f| &f.fcp)) {
        decodes_and_round_trips(&bytes, Fcp::decode, Fcp::encode)?;
    }

    #[test]
    fn public_key_templates(bytes in input(|f| &f.public_key)) {
        decodes_and_round_trips(&bytes, RsaPublicKeyTemplate::decode, |v| Ok(v.encode()))?;
    }

    #[test]
    fn pkcs7_certs_only(bytes in input(|f| &f.pkcs7)) {
        let (parsed, peak) = peak_of(|| pkcs7::parse_certs_only_der(&bytes));
        prop_assert!(peak <= allowance(bytes.len()), "{peak} bytes for {}", bytes.len());
        if let Ok(certs) = parsed {
            let refs: Vec<&[u8]> = certs.iter().map(Vec::as_slice).collect();
            let again = pkcs7::certs_only_der(&refs);
            prop_assert!(again.is_ok());
            prop_assert_eq!(pkcs7::parse_certs_only_der(&again.unwrap_or_default()).ok(), Some(certs));
        }
        // The base64 form a CA sends, with line breaks, parses the same.
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let wrapped: Vec<u8> = b64.as_bytes().chunks(64).flat_map(|c| c.iter().copied().chain(*b"\r\n")).collect();
        prop_assert_eq!(
            pkcs7::parse_certs_only_base64(&wrapped).ok(),
            pkcs7::parse_certs_only_der(&bytes).ok()
        );
    }

    #[test]
    fn audit_logs(bytes in input(|f| &f.audit_log)) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let path = dir.path().join("audit.log");
        std::fs::write(&path, &bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let (result, peak) = peak_of(|| siths_upgrade::audit::verify(&path));
        // One line at a time, each at most MAX_LINE: never the whole file at once.
        prop_assert!(peak <= 4 * siths_upgrade::audit::MAX_LINE + 64 * 1024, "{peak}");
        // A damaged log is never taken for the intact one.
        if bytes != files().audit_log {
            if let Ok(report) = result {
                prop_assert!(report.entries < 3, "a damaged log verified whole: {report:?}");
            }
        } else {
            prop_assert_eq!(result.map(|r| r.entries).ok(), Some(3));
        }
    }
}

// ---- vpcd frames -----------------------------------------------------------------------------

/// The virtual card's vpcd link, served to a fake vpcd (this test) on 127.0.0.1.
struct VpcdLink {
    stream: std::net::TcpStream,
}

fn vpcd() -> &'static std::sync::Mutex<VpcdLink> {
    static LINK: OnceLock<std::sync::Mutex<VpcdLink>> = OnceLock::new();
    LINK.get_or_init(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let card = virtual_card::share_virtual_card(VirtualCard::new(files().card.clone()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        std::thread::spawn(move || virtual_card::vpcd::serve(card, &addr, stop));
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        std::sync::Mutex::new(VpcdLink { stream })
    })
}

fn frame() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Control bytes, known and unknown.
        any::<u8>().prop_map(|b| vec![b]),
        // APDUs of any shape, short and longer than any short APDU.
        proptest::collection::vec(any::<u8>(), 2..600),
    ]
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn vpcd_frames_get_the_answers_the_protocol_names(frames in proptest::collection::vec(frame(), 1..6)) {
        let mut link = vpcd().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for payload in frames {
            let mut message = (payload.len() as u16).to_be_bytes().to_vec();
            message.extend_from_slice(&payload);
            link.stream.write_all(&message).map_err(|e| TestCaseError::fail(e.to_string()))?;
            // Power off/on/reset and unknown control bytes get no answer; ATR and APDUs do.
            let answered = payload.len() > 1 || payload == [0x04];
            if !answered {
                continue;
            }
            let mut len = [0u8; 2];
            link.stream.read_exact(&mut len).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut answer = vec![0u8; usize::from(u16::from_be_bytes(len))];
            link.stream.read_exact(&mut answer).map_err(|e| TestCaseError::fail(e.to_string()))?;
            if payload == [0x04] {
                prop_assert!(!answer.is_empty(), "no ATR");
            } else {
                prop_assert!(answer.len() >= 2, "an APDU without a status word");
            }
        }
    }
}

#[test]
fn damage_helpers_change_the_input() {
    let valid = b"0123456789".to_vec();
    assert_eq!(apply(&valid, &[Damage::Truncate(3)]), b"012");
    assert_eq!(apply(&valid, &[Damage::Remove(1, 2)]), b"03456789");
    assert!(Path::new(env!("CARGO_MANIFEST_DIR")).exists());
}
