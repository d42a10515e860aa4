//! The CA and the card as separate processes a user starts: `ca-mock serve` on a copy of the
//! CA world ([`ServedCa`]), and `virtual-card serve` into a pcscd of its own ([`ServedCard`]).
//! Both kill what they started on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::cli::BIN;
use super::pcscd::Pcscd;
use super::persons::Person;
use siths_upgrade::virtual_card::Layout;

/// Wait (bounded, a hang guard) until `ok` holds.
pub fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let limit = Instant::now() + Duration::from_secs(30);
    while !ok() {
        assert!(Instant::now() < limit, "{what} never happened");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// `ca-mock serve` on a private copy of the CA world made by `ca-mock init` from the command
/// line ([`super::world::world_from_cli`]), once it listens.
pub struct ServedCa {
    /// Holds the copy; tests put their own files (exports, logs) here too.
    pub tmp: tempfile::TempDir,
    /// The copy (`ca-mock serve --dir`).
    pub dir: PathBuf,
    pub url: String,
    serve: Child,
}

impl ServedCa {
    pub fn start() -> ServedCa {
        ServedCa::start_with(&[], None)
    }

    /// With extra `ca-mock serve` arguments; the mock's log
    /// (`RUST_LOG=siths_upgrade::ca::mock=info`) goes to `log` in the temp dir when named.
    pub fn start_with(ca_args: &[&str], log: Option<&str>) -> ServedCa {
        ServedCa::start_in(Layout::Pkcs15, ca_args, log)
    }

    /// Like [`ServedCa::start_with`] on the world whose cards are in `layout`.
    pub fn start_in(layout: Layout, ca_args: &[&str], log: Option<&str>) -> ServedCa {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ca");
        super::files::copy_dir(super::world::world_from_cli_in(layout), &dir);
        let listen = format!("127.0.0.1:{}", free_port());
        let stderr = match log {
            Some(name) => Stdio::from(std::fs::File::create(tmp.path().join(name)).unwrap()),
            None => Stdio::null(),
        };
        let serve = Command::new(BIN)
            .args(["ca-mock", "serve", "--dir", dir.to_str().unwrap()])
            .args(["--listen", &listen])
            .args(ca_args)
            .env("RUST_LOG", "siths_upgrade::ca::mock=info")
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let served = ServedCa {
            tmp,
            dir,
            url: format!("https://{listen}"),
            serve,
        };
        wait_until("the CA listening", || {
            std::net::TcpStream::connect(&listen).is_ok()
        });
        served
    }

    pub fn root(&self) -> PathBuf {
        self.dir.join("root.pem")
    }

    /// `person`'s card in the copy, as `ca-mock init` made it.
    pub fn card_state(&self, person: Person) -> PathBuf {
        self.dir
            .join("cards")
            .join(format!("{}.json", person.hsa_id))
    }
}

impl Drop for ServedCa {
    fn drop(&mut self) {
        kill(&mut self.serve);
    }
}

/// A pcscd of its own and a virtual card that `serve` links to it through vpcd
/// (`siths-upgrade virtual-card serve`); `stop_serving` pulls the card.
pub struct ServedCard {
    pub pcscd: Pcscd,
    /// Holds the card (when this made it) and the test's own files.
    pub dir: tempfile::TempDir,
    state: PathBuf,
    env: Vec<(String, String)>,
    server: Option<Child>,
}

impl ServedCard {
    /// A new pre-upgrade card made by `siths-upgrade virtual-card init`, not yet served.
    pub fn new() -> ServedCard {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("card.json");
        let card = ServedCard::of(state, dir);
        let out = card.run(
            &[
                "virtual-card",
                "init",
                "--state",
                card.state.to_str().unwrap(),
            ],
            "",
        );
        assert!(out.status.success(), "{}", super::cli::text(&out));
        card
    }

    /// The card in `state` (kept by the caller or in `dir`), not yet served.
    pub fn of(state: PathBuf, dir: tempfile::TempDir) -> ServedCard {
        let pcscd = Pcscd::start();
        ServedCard {
            env: pcscd.env(),
            pcscd,
            dir,
            state,
            server: None,
        }
    }

    pub fn state(&self) -> &Path {
        &self.state
    }

    /// Add `key=value` to what [`ServedCard::env`] gives the programs a test runs.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.push((key.into(), value.into()));
    }

    /// pcscd's environment, and what [`ServedCard::set_env`] added.
    pub fn env(&self) -> Vec<(String, String)> {
        self.env.clone()
    }

    /// Serve the card and wait until pcscd sees it.
    pub fn serve(&mut self) {
        self.serve_with(&[]);
    }

    /// Serve with extra `virtual-card serve` arguments (e.g. `--pace real`).
    pub fn serve_with(&mut self, card_args: &[&str]) {
        let child = super::cli::serve_virtual_card_with(&self.state, &self.pcscd, card_args);
        self.server = Some(child);
        self.pcscd.wait_for_card(true);
    }

    /// Pull the card: stop serving it and wait until pcscd sees it gone.
    pub fn stop_serving(&mut self) {
        if let Some(mut c) = self.server.take() {
            kill(&mut c);
        }
        self.pcscd.wait_for_card(false);
    }

    /// `siths-upgrade ARGS` with [`ServedCard::env`].
    pub fn run(&self, args: &[&str], stdin: &str) -> Output {
        super::cli::run(args, stdin, &self.env)
    }
}

impl Drop for ServedCard {
    fn drop(&mut self) {
        if let Some(mut c) = self.server.take() {
            kill(&mut c);
        }
    }
}
