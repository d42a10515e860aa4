//! Running our binary as a user would: a separate process, codes on stdin, env for pcscd.

use std::io::Write;
use std::process::{Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_siths-upgrade");

/// A home of this test process's own for the programs it starts: nothing they do reads or
/// writes the user's real home. The window's settings (the CA address `check-expiry` names) are
/// the user's, not the tests': the settings folder is never there unless a test gives its own
/// `XDG_CONFIG_HOME`.
pub fn private_home() -> Vec<(String, String)> {
    static HOME: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let home = HOME.get_or_init(|| tempfile::tempdir().unwrap()).path();
    super::pcscd::home_env(home)
}

/// What a run printed, stdout then stderr, for an assertion's message.
pub fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr)
}

/// Run `siths-upgrade ARGS` with `stdin` and extra environment, and wait for it.
pub fn run(args: &[&str], stdin: &str, env: &[(String, String)]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .envs(private_home())
        .envs(env.iter().cloned())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// `siths-upgrade virtual-card serve` for the card in `state`, linked to the vpcd of `pcscd`; the
/// caller waits for pcscd to see the card, and kills the child to pull it.
/// [`super::served::ServedCard`] does both.
pub fn serve_virtual_card(
    state: &std::path::Path,
    pcscd: &super::pcscd::Pcscd,
) -> std::process::Child {
    serve_virtual_card_with(state, pcscd, &[])
}

/// [`serve_virtual_card`] with extra `virtual-card serve` arguments (e.g. `--pace real`).
pub fn serve_virtual_card_with(
    state: &std::path::Path,
    pcscd: &super::pcscd::Pcscd,
    args: &[&str],
) -> std::process::Child {
    Command::new(BIN)
        .args(["virtual-card", "serve", "--state"])
        .arg(state)
        .args(["--vpcd", &format!("127.0.0.1:{}", pcscd.vpcd_port())])
        .args(args)
        .envs(pcscd.env())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Run `siths-upgrade ARGS` in `dir` with only the environment `env` (as a service or `env -i`
/// starts it: no HOME, no XDG folders, no display), and wait for it.
pub fn run_with_only(
    args: &[&str],
    env: &[(&str, &std::ffi::OsStr)],
    dir: &std::path::Path,
) -> Output {
    Command::new(BIN)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (*k, *v)))
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}
