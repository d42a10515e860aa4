//! The desk's audit log: entries that verify, every kind of tampering and damage named by the
//! library and by `siths-upgrade audit`, CSV export, and no PIN or PUK ever in it.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use siths_upgrade::audit::{
    self, Action, AuditError, AuditLog, BrokenReason, Entry, GENESIS, Outcome, Record,
};
use siths_upgrade::card::Card as _;
use siths_upgrade::card::{PinKind, SecretCode, SithsCard};
use siths_upgrade::provision::{
    Codes, DEMO_HSA_ID, DEMO_SERIAL, demo_holder, make_pre_upgrade_card,
};
use siths_upgrade::virtual_card::VirtualCard;
use siths_upgrade::virtual_card::memory::MemoryTransport;
use support::persons::{OPERATOR, UNKNOWN};

fn record(action: Action, outcome: Outcome, detail: &str) -> Record {
    Record {
        operator: OPERATOR.hsa_id.into(),
        card_serial: DEMO_SERIAL.into(),
        customer: DEMO_HSA_ID.into(),
        action,
        outcome,
        detail: detail.into(),
    }
}

/// A log of `n` entries in a fresh directory, and the entries as `append` returned them.
fn log_with(n: usize) -> (tempfile::TempDir, PathBuf, Vec<Entry>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let mut log = AuditLog::open(&path).unwrap();
    let actions = [
        Action::OperatorLogin,
        Action::IdentityCheck,
        Action::PukLookup,
        Action::Unblock,
        Action::Upgrade,
        Action::FetchExisting,
        Action::TestLogin,
    ];
    let entries = (0..n)
        .map(|i| {
            let action = actions[i % actions.len()];
            log.append(record(action, Outcome::Done, &format!("step {}", i + 1)))
                .unwrap()
        })
        .collect();
    (dir, path, entries)
}

fn lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    text.split_inclusive('\n').map(str::to_string).collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.concat()).unwrap();
}

fn broken(path: &Path) -> (usize, Option<u64>, BrokenReason) {
    match audit::verify(path) {
        Err(AuditError::Broken {
            line, seq, reason, ..
        }) => (line, seq, reason),
        other => panic!("expected a broken chain, got {other:?}"),
    }
}

fn cli(args: &[&str]) -> Output {
    support::cli::run(args, "", &[])
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `audit verify` says the log is broken (exit 1), naming `expected` in its message.
fn cli_names(path: &Path, expected: &str) {
    let out = cli(&["audit", "verify", path.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(expected), "{stderr}");
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
}

/// Opening a broken log for the desk is refused with the same finding, and changes nothing.
fn open_refuses(path: &Path, expected: &str) -> String {
    let before = std::fs::read(path).unwrap();
    let err = AuditLog::open(path).unwrap_err().to_string();
    assert!(err.contains(expected), "{err}");
    assert_eq!(std::fs::read(path).unwrap(), before);
    err
}

#[test]
fn appended_entries_verify_and_chain_to_each_other() {
    let (_dir, path, entries) = log_with(5);
    let seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    assert_eq!(entries[0].prev, GENESIS);
    for pair in entries.windows(2) {
        assert_eq!(pair[1].prev, pair[0].hash);
    }
    let report = audit::verify(&path).unwrap();
    assert_eq!(report.entries, 5);
    assert_eq!(report.last_hash, entries[4].hash);
    // What is on disk is what append returned.
    let on_disk: Vec<Entry> = lines(&path)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(on_disk, entries);

    let out = cli(&["audit", "verify", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("5 entries, chain intact"), "{stdout}");
    assert!(stdout.contains(&entries[4].hash), "{stdout}");
}

#[test]
fn an_edited_entry_is_named() {
    let (_dir, path, _) = log_with(5);
    let mut l = lines(&path);
    let mut v: serde_json::Value = serde_json::from_str(&l[2]).unwrap();
    v["customer"] = UNKNOWN.into();
    l[2] = format!("{v}\n");
    write_lines(&path, &l);

    assert_eq!(broken(&path), (3, Some(3), BrokenReason::EditedEntry));
    cli_names(&path, "entry 3 (line 3) was edited after it was written");
    open_refuses(&path, "entry 3 (line 3) was edited");
}

#[test]
fn an_edit_with_its_hash_recomputed_is_named_at_the_next_entry() {
    let (_dir, path, _) = log_with(5);
    let mut l = lines(&path);
    let mut e: Entry = serde_json::from_str(&l[2]).unwrap();
    e.outcome = Outcome::Refused;
    e.hash = e.compute_hash();
    l[2] = format!("{}\n", serde_json::to_string(&e).unwrap());
    write_lines(&path, &l);

    assert_eq!(
        broken(&path),
        (4, Some(4), BrokenReason::DeletedOrReordered)
    );
    cli_names(
        &path,
        "entry 4 (line 4) does not follow the entry before it",
    );
}

#[test]
fn a_deleted_entry_is_named() {
    let (_dir, path, _) = log_with(5);
    let mut l = lines(&path);
    l.remove(2);
    write_lines(&path, &l);

    assert_eq!(
        broken(&path),
        (3, Some(4), BrokenReason::DeletedOrReordered)
    );
    cli_names(
        &path,
        "entry 4 (line 3) does not follow the entry before it",
    );
    open_refuses(&path, "an entry was deleted there");
}

#[test]
fn a_deleted_first_entry_is_named() {
    let (_dir, path, _) = log_with(3);
    let mut l = lines(&path);
    l.remove(0);
    write_lines(&path, &l);
    assert_eq!(
        broken(&path),
        (1, Some(2), BrokenReason::DeletedOrReordered)
    );
    cli_names(&path, "entry 2 (line 1)");
}

#[test]
fn swapped_entries_are_named() {
    let (_dir, path, _) = log_with(5);
    let mut l = lines(&path);
    l.swap(1, 2);
    write_lines(&path, &l);

    assert_eq!(
        broken(&path),
        (2, Some(3), BrokenReason::DeletedOrReordered)
    );
    cli_names(
        &path,
        "entry 3 (line 2) does not follow the entry before it",
    );
    open_refuses(&path, "entries were moved");
}

#[test]
fn a_torn_last_line_is_named_and_blocks_appending_until_removed() {
    let (_dir, path, entries) = log_with(5);
    let full = std::fs::read(&path).unwrap();
    // A crash half-way through writing entry 5.
    let last_len = lines(&path)[4].len();
    std::fs::write(&path, &full[..full.len() - last_len / 2]).unwrap();

    assert_eq!(broken(&path), (5, None, BrokenReason::TruncatedLastLine));
    cli_names(&path, "the last line (line 5) is incomplete");
    let err = open_refuses(&path, "the last line (line 5) is incomplete");
    assert!(err.contains("delete the incomplete last line"), "{err}");

    // Only the line end missing is still a torn write: append never returned for it.
    std::fs::write(&path, &full[..full.len() - 1]).unwrap();
    assert_eq!(broken(&path), (5, Some(5), BrokenReason::TruncatedLastLine));

    // Doing what the message says lets the desk go on after entry 4.
    let mut l = lines(&path);
    l.pop();
    write_lines(&path, &l);
    let mut log = AuditLog::open(&path).unwrap();
    let e = log
        .append(record(Action::Unblock, Outcome::Done, "again"))
        .unwrap();
    assert_eq!((e.seq, &e.prev), (5, &entries[3].hash));
    assert_eq!(audit::verify(&path).unwrap().entries, 5);
}

#[test]
fn a_garbage_line_is_named() {
    let (_dir, path, _) = log_with(4);
    let mut l = lines(&path);
    l.insert(1, "this is not an entry {\"seq\": 2}\n".into());
    write_lines(&path, &l);

    assert_eq!(broken(&path), (2, None, BrokenReason::Unparseable));
    cli_names(&path, "line 2 is not an audit entry");
    open_refuses(&path, "line 2 is not an audit entry");
}

#[test]
fn every_single_byte_change_is_detected() {
    let (_dir, path, _) = log_with(3);
    let good = std::fs::read(&path).unwrap();
    for i in 0..good.len() {
        for flip in [0x01u8, 0x20, 0x80] {
            let mut bad = good.clone();
            bad[i] ^= flip;
            std::fs::write(&path, &bad).unwrap();
            assert!(
                audit::verify(&path).is_err(),
                "byte {i} ^ {flip:#x} went unnoticed"
            );
        }
    }
}

#[test]
fn no_file_content_makes_it_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let (_good_dir, good_path, _) = log_with(4);
    let good = std::fs::read(&good_path).unwrap();
    let mut rng = StdRng::seed_from_u64(0x5173);
    // Bytes a broken entry is made of, so the garbage gets past the first character.
    let alphabet = b"{}[]\":,0123456789abcdef-\n\r \\u\xff\xc3seqprevhash";
    for round in 0..400 {
        let bytes: Vec<u8> = match round % 4 {
            // Pure noise.
            0 => (0..rng.gen_range(1..300)).map(|_| rng.r#gen()).collect(),
            // JSON-ish noise.
            1 => (0..rng.gen_range(1..300))
                .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
                .collect(),
            // A good log with a random stretch overwritten.
            2 => {
                let mut b = good.clone();
                let at = rng.gen_range(0..b.len());
                let len = rng.gen_range(1..40).min(b.len() - at);
                for byte in &mut b[at..at + len] {
                    *byte = alphabet[rng.gen_range(0..alphabet.len())];
                }
                b
            }
            // A good log cut anywhere, with noise after it.
            _ => {
                let mut b = good[..rng.gen_range(1..good.len())].to_vec();
                b.extend((0..rng.gen_range(0..20)).map(|_| rng.r#gen::<u8>()));
                b
            }
        };
        std::fs::write(&path, &bytes).unwrap();
        let verified = audit::verify(&path);
        assert!(
            verified.is_err() || bytes == good,
            "round {round}: accepted {:?}",
            text(&bytes)
        );
        assert!(audit::export_csv(&path, &mut Vec::new()).is_err() || bytes == good);
        assert!(AuditLog::open(&path).is_err() || bytes == good);
    }
    let out = cli(&["audit", "verify", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
}

#[test]
fn a_missing_log_says_so_with_exit_code_4() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.log");
    assert!(matches!(audit::verify(&path), Err(AuditError::Missing(_))));
    let out = cli(&["audit", "verify", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4));
    assert!(text(&out.stderr).contains("there is no audit log at"));
}

/// RFC 4180 as a spreadsheet reads it.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => {
                assert!(field.is_empty(), "quote inside an unquoted field");
                quoted = true;
            }
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "CR without LF");
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, '\n') => panic!("row ends with LF only"),
            (false, c) => field.push(c),
        }
    }
    assert!(
        !quoted && field.is_empty() && row.is_empty(),
        "CSV ends mid-row"
    );
    rows
}

#[test]
fn csv_export_round_trips_commas_quotes_and_line_breaks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let mut log = AuditLog::open(&path).unwrap();
    let mut tricky = record(
        Action::IdentityCheck,
        Outcome::Done,
        "id document: passport, last four \"1234\", photo matches\nsecond line\r\nthird",
    );
    tricky.operator = "Desk, \"Kista\"".into();
    let entries = [
        log.append(tricky).unwrap(),
        log.append(record(Action::PukLookup, Outcome::Refused, ""))
            .unwrap(),
        log.append(record(
            Action::ChangePin,
            Outcome::Failed,
            "ends with a comma,",
        ))
        .unwrap(),
    ];
    let expected: Vec<Vec<String>> =
        std::iter::once(audit::CSV_HEADER.iter().map(|s| s.to_string()).collect())
            .chain(entries.iter().map(|e| {
                vec![
                    e.seq.to_string(),
                    e.time.clone(),
                    e.operator.clone(),
                    e.card_serial.clone(),
                    e.customer.clone(),
                    e.action.as_str().into(),
                    e.outcome.as_str().into(),
                    e.detail.clone(),
                    e.hash.clone(),
                ]
            }))
            .collect();
    assert_eq!(
        expected[0].join(","),
        "seq,time,operator,card_serial,customer,action,outcome,detail,hash"
    );
    assert_eq!(expected[2][5..7], ["puk-lookup", "refused"]);

    let mut out = Vec::new();
    assert_eq!(audit::export_csv(&path, &mut out).unwrap(), 3);
    assert_eq!(parse_csv(&text(&out)), expected);

    let stdout = cli(&["audit", "export", path.to_str().unwrap()]);
    assert_eq!(stdout.status.code(), Some(0), "{}", text(&stdout.stderr));
    assert_eq!(parse_csv(&text(&stdout.stdout)), expected);

    let csv = dir.path().join("out.csv");
    let to_file = cli(&[
        "audit",
        "export",
        path.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(to_file.status.code(), Some(0), "{}", text(&to_file.stderr));
    assert!(to_file.stdout.is_empty());
    assert!(text(&to_file.stderr).contains("Exported 3 entries"));
    assert_eq!(parse_csv(&std::fs::read_to_string(&csv).unwrap()), expected);
}

#[test]
fn a_broken_log_is_not_exported() {
    let (dir, path, _) = log_with(4);
    let mut l = lines(&path);
    l.swap(2, 3);
    write_lines(&path, &l);
    let csv = dir.path().join("out.csv");
    let out = cli(&[
        "audit",
        "export",
        path.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("entry 4 (line 3)"),
        "{}",
        text(&out.stderr)
    );
    assert!(!csv.exists(), "a partial CSV was left behind");
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(files.len(), 1, "temporary files left: {files:?}");
}

#[test]
fn reopening_continues_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("desk").join("audit.log");
    let mut written = Vec::new();
    for session in 0..3 {
        let mut log = AuditLog::open(&path).unwrap();
        assert_eq!(log.path(), path);
        for i in 0..2 {
            let detail = format!("session {session} step {i}");
            written.push(
                log.append(record(Action::TestLogin, Outcome::Done, &detail))
                    .unwrap(),
            );
        }
    }
    let seqs: Vec<u64> = written.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
    for pair in written.windows(2) {
        assert_eq!(pair[1].prev, pair[0].hash);
    }
    assert_eq!(audit::verify(&path).unwrap().entries, 6);
    let out = cli(&["audit", "verify", path.to_str().unwrap()]);
    assert!(text(&out.stdout).starts_with("6 entries, chain intact"));
}

#[test]
fn without_a_file_the_desks_own_log_in_xdg_data_home_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let env = [(
        "XDG_DATA_HOME".to_string(),
        dir.path().display().to_string(),
    )];
    let expected = dir.path().join("siths-upgrade").join("audit.log");
    let missing = support::cli::run(&["audit", "verify"], "", &env);
    assert_eq!(missing.status.code(), Some(4));
    let stderr = text(&missing.stderr);
    assert!(
        stderr.contains(&format!("there is no audit log at {}", expected.display())),
        "{stderr}"
    );

    let mut log = AuditLog::open(&expected).unwrap();
    log.append(record(Action::OperatorLogin, Outcome::Done, ""))
        .unwrap();
    let found = support::cli::run(&["audit", "verify"], "", &env);
    assert_eq!(found.status.code(), Some(0), "{}", text(&found.stderr));
    assert!(text(&found.stdout).starts_with("1 entries, chain intact"));
}

fn in_process(state: &Path) -> SithsCard {
    let card = VirtualCard::open(state).unwrap();
    SithsCard::open(Box::new(
        MemoryTransport::connect(Arc::new(Mutex::new(card))).unwrap(),
    ))
    .unwrap()
}

fn outcome(r: &Result<(), impl std::fmt::Display>) -> (Outcome, String) {
    match r {
        Ok(()) => (Outcome::Done, String::new()),
        Err(e) => (Outcome::Failed, e.to_string()),
    }
}

/// A desk session on a real (virtual) card with the test codes, each step recorded with the
/// card's own words; no test code may turn up in the log, its export or the command's output.
#[test]
fn no_pin_or_puk_ever_reaches_the_log() {
    let codes = Codes::test_defaults();
    let secrets = [codes.pin1.clone(), codes.pin2.clone(), codes.puk.clone()];
    assert_eq!(secrets, ["135790", "246802", "13572468"]);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("card.json");
    make_pre_upgrade_card(&state, DEMO_SERIAL, &codes, &demo_holder()).unwrap();
    let mut card = in_process(&state);
    let serial = card.overview().unwrap().serial.clone();
    let path = dir.path().join("audit.log");
    let mut log = AuditLog::open(&path).unwrap();
    let mut rec = |action, result: &Result<(), String>, what: &str| {
        let (outcome, words) = outcome(result);
        let mut r = record(
            action,
            outcome,
            &format!("{what} on card {serial}. {words}"),
        );
        r.card_serial = serial.clone();
        log.append(r).unwrap();
    };
    let code = |kind, s: &str| SecretCode::for_kind(kind, s.to_string()).unwrap();

    rec(
        Action::IdentityCheck,
        &Ok(()),
        "id document: passport, last four 1234, photo matches",
    );
    // A mistyped PIN (the right one with a digit more), then a PIN spent to blocking.
    let typed = SecretCode::pin(format!("{}9x", codes.pin1)).map(|_| ());
    rec(
        Action::ChangePin,
        &typed.map_err(|e| e.to_string()),
        "PIN1 typed",
    );
    for _ in 0..3 {
        let r = card.verify_pin(PinKind::Pin1, &code(PinKind::Pin1, "999999"));
        rec(
            Action::TestLogin,
            &r.map_err(|e| e.to_string()),
            "PIN1 tried",
        );
    }
    rec(Action::PukLookup, &Ok(()), "PUK shown to the customer once");
    let wrong_puk = card.unblock_pin(
        PinKind::Pin1,
        &code(PinKind::Puk, "13572460"),
        &code(PinKind::Pin1, &codes.pin1),
    );
    rec(
        Action::Unblock,
        &wrong_puk.map_err(|e| e.to_string()),
        "unblock",
    );
    let unblocked = card.unblock_pin(
        PinKind::Pin1,
        &code(PinKind::Puk, &codes.puk),
        &code(PinKind::Pin1, &codes.pin1),
    );
    assert!(unblocked.is_ok(), "{unblocked:?}");
    rec(
        Action::Unblock,
        &Ok(()),
        "PIN1 unblocked, new PIN typed by the customer",
    );
    let changed = card.change_pin(
        PinKind::Pin2,
        &code(PinKind::Pin2, &codes.pin2),
        &code(PinKind::Pin2, &codes.pin1),
    );
    assert!(changed.is_ok(), "{changed:?}");
    rec(Action::ChangePin, &Ok(()), "PIN2 changed");

    let logged = std::fs::read_to_string(&path).unwrap();
    assert_eq!(logged.lines().count(), 9);
    assert!(
        logged.contains("tries left") || logged.contains("try left"),
        "{logged}"
    );
    let mut csv = Vec::new();
    audit::export_csv(&path, &mut csv).unwrap();
    let verify = cli(&["audit", "verify", path.to_str().unwrap()]);
    let export = cli(&["audit", "export", path.to_str().unwrap()]);
    assert_eq!(verify.status.code(), Some(0));
    assert_eq!(export.status.code(), Some(0));
    let outputs = [
        ("log file", logged),
        ("CSV", text(&csv)),
        ("verify stdout", text(&verify.stdout)),
        ("verify stderr", text(&verify.stderr)),
        ("export stdout", text(&export.stdout)),
        ("export stderr", text(&export.stderr)),
    ];
    for (name, output) in &outputs {
        for secret in &secrets {
            assert!(!output.contains(secret.as_str()), "{name} holds {secret}");
        }
    }
    // The card's serial really is in the log, so the search above looked at real entries.
    assert!(outputs[0].1.contains(&serial) && outputs[4].1.contains(&serial));
}
