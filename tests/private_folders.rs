//! Where the program keeps its own files, run as a process with the environment a service or
//! `env -i` gives it: without HOME or XDG folders it refuses and names what to set, instead of
//! using the temporary or the working directory (where another local user may have made the
//! folder first); the desk's audit log is never read or written through a link, nor when others
//! can change it; the demo's cache must be the user's own.

#![cfg(unix)]

mod support;

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use siths_upgrade::audit::{Action, AuditLog, Outcome, Record};
use support::cli::run_with_only;
use support::persons::{HOLDER, OPERATOR};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn record() -> Record {
    Record {
        operator: OPERATOR.hsa_id.into(),
        card_serial: "9752269000001001".into(),
        customer: HOLDER.hsa_id.into(),
        action: Action::IdentityCheck,
        outcome: Outcome::Done,
        detail: "document: passport".into(),
    }
}

/// A log of one entry at `path`.
fn a_log(path: &Path) {
    AuditLog::open(path).unwrap().append(record()).unwrap();
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Refused with exit code 4 (files), `expected` in the message and nothing on stdout.
fn refused(out: &Output, expected: &[&str]) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    for e in expected {
        assert!(stderr.contains(e), "{e:?} not in {stderr}");
    }
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
}

#[test]
fn without_home_the_desks_log_is_not_taken_from_the_working_directory() {
    // A log someone left where the old fallback (./siths-upgrade/audit.log) would find it.
    let cwd = tempfile::tempdir().unwrap();
    a_log(&cwd.path().join("siths-upgrade").join("audit.log"));
    let out = run_with_only(&["audit", "verify"], &[], cwd.path());
    refused(
        &out,
        &[
            "the desk's audit log needs a folder of your own",
            "set HOME (or XDG_DATA_HOME)",
        ],
    );
    let out = run_with_only(&["audit", "export"], &[], cwd.path());
    refused(&out, &["set HOME (or XDG_DATA_HOME)"]);
}

#[test]
fn without_home_the_demo_makes_nothing_in_the_temporary_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let env = [("TMPDIR", tmp.path().as_os_str())];
    // `--pace real` makes the demo's world before the window opens (there is no display here).
    let out = run_with_only(&["demo", "--pace", "real"], &env, tmp.path());
    refused(
        &out,
        &[
            "the demo needs a folder of your own",
            "set HOME (or XDG_CACHE_HOME)",
        ],
    );
    assert!(
        !tmp.path().join("siths-upgrade").exists(),
        "the demo's world was made in the shared temporary directory"
    );
}

#[test]
fn a_demo_cache_others_can_change_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let cache = home.path().join("cache");
    let ours = cache.join("siths-upgrade");
    std::fs::create_dir_all(&ours).unwrap();
    chmod(&ours, 0o777);
    let env = [
        ("XDG_CACHE_HOME", cache.as_os_str()),
        ("TMPDIR", home.path().as_os_str()),
    ];
    let out = run_with_only(&["demo", "--pace", "real"], &env, home.path());
    refused(
        &out,
        &[
            "the demo's cache cannot be used",
            "other users can change",
            &format!("chmod 700 '{}'", ours.display()),
        ],
    );
    assert_eq!(
        std::fs::read_dir(&ours).unwrap().count(),
        0,
        "a world was made in a folder others can change"
    );
}

#[test]
fn the_desks_log_as_a_link_or_changeable_by_others_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    let env: [(&str, &OsStr); 1] = [("XDG_DATA_HOME", data.as_os_str())];
    let dir = data.join("siths-upgrade");
    let path = dir.join("audit.log");
    std::fs::create_dir_all(&dir).unwrap();
    chmod(&dir, 0o700);

    // A link where the desk's log should be, to a log that verifies.
    let elsewhere = home.path().join("elsewhere.log");
    a_log(&elsewhere);
    std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
    let out = run_with_only(&["audit", "verify"], &env, home.path());
    refused(
        &out,
        &[
            &format!("{} is a symbolic link", path.display()),
            "Remove the link",
        ],
    );

    // The real log, but others may write to it.
    std::fs::remove_file(&path).unwrap();
    a_log(&path);
    chmod(&path, 0o666);
    let out = run_with_only(&["audit", "verify"], &env, home.path());
    refused(
        &out,
        &[
            "other users can change",
            &format!("chmod 600 '{}'", path.display()),
        ],
    );
    let out = run_with_only(&["audit", "export"], &env, home.path());
    refused(&out, &["other users can change"]);

    // Made the operator's own, it verifies.
    chmod(&path, 0o600);
    let out = run_with_only(&["audit", "verify"], &env, home.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("1 entries, chain intact"));

    // Its folder open to everyone.
    chmod(&dir, 0o777);
    let out = run_with_only(&["audit", "verify"], &env, home.path());
    refused(&out, &[&format!("chmod 700 '{}'", dir.display())]);

    // A log given by its path is read wherever it is (a copy kept elsewhere).
    let out = run_with_only(
        &["audit", "verify", elsewhere.to_str().unwrap()],
        &env,
        home.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}
