//! The `siths-upgrade` command line: a thin face on the card operations and workflows.

mod audit;
mod ca_mock;
mod certs;
pub mod exit;
pub mod expiry;
mod fetch;
pub mod json;
pub mod prompt;
mod upgrade;
mod virtual_card;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use clap::{Parser, Subcommand, ValueEnum};

use crate::card::{CardError, PinKind, SithsCard};
use crate::transport::memory::MemoryTransport;
use crate::transport::pcsc::{PcscTransport, list_readers};
use crate::transport::{Transport, TransportError};
use crate::virtual_card::VirtualCard;
use exit::{CliError, ExitCode};
use prompt::PinSource;

/// The version and the commit it was built from (build.rs), as `--version` prints it.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SITHS_UPGRADE_COMMIT"),
    ")"
);

#[derive(Parser, Debug)]
#[command(
    name = "siths-upgrade",
    version = VERSION,
    about = "Read, unblock and upgrade SITHS smart cards"
)]
pub struct Cli {
    /// Use the virtual card in this state file in-process instead of a PC/SC reader.
    #[arg(long, global = true, value_name = "FILE")]
    pub virtual_card: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Cmd>,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// List smart card readers and whether a card is in them.
    Readers {
        #[arg(long)]
        json: bool,
    },
    /// Show the card: holder, certificates, tries left.
    Status {
        /// Reader to use (default: the first reader with a card).
        #[arg(long)]
        reader: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Check a PIN on the card (codes: the PIN).
    VerifyPin(PinArgs),
    /// Change PIN1 or PIN2 (codes: old PIN, new PIN, new PIN again).
    ChangePin(PinArgs),
    /// Unblock PIN1 or PIN2 with the PUK and set a new PIN (codes: PUK, new PIN, new PIN again).
    UnblockPin(PinArgs),
    /// Certificates expiring within 30 days; exit 0 none, 10 within 30 days, 11 within 7, 12 expired.
    CheckExpiry {
        /// Reader to use (default: the first reader with a card).
        #[arg(long)]
        reader: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Every certificate on the card in plain words.
    Certs {
        #[arg(long)]
        reader: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Save a certificate from the card to a file (DER unless --pem).
    ExportCert {
        /// The certificate's id, as `certs` shows it.
        id: String,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[arg(long, conflicts_with = "der")]
        pem: bool,
        #[arg(long)]
        der: bool,
        #[arg(long)]
        reader: Option<String>,
    },
    /// Upgrade the card: the HSA-id pair and the personnummer pair from the CA, legacy pair removed.
    ///
    /// With --pin-stdin: PIN1 on the first line, PIN2 on the second.
    Upgrade(CaArgs),
    /// List the certificate pairs the CA holds for you and write chosen ones back to this card.
    ///
    /// With --pin-stdin: PIN1 on the first line.
    FetchExisting {
        #[command(flatten)]
        ca: CaArgs,
        /// Write the certificate of this profile (hsa-auth, hsa-sign, pnr-auth, pnr-sign).
        #[arg(long, value_name = "LABEL")]
        write: Vec<String>,
        /// Write every certificate that fits this card.
        #[arg(long)]
        all: bool,
    },
    /// Open the window with a demo card and a test CA on this computer: no reader, no setup.
    Demo,
    /// Open the window on the real card readers (also what no command does when a card is in).
    Gui,
    /// The service-centre desk: the operator's card and the customer's card in two readers.
    Desk {
        /// Two demo cards and a test CA on this computer instead of real readers.
        #[arg(long)]
        demo: bool,
    },
    /// The virtual SITHS card for tests, demos and training.
    #[command(subcommand)]
    VirtualCard(virtual_card::VirtualCardCmd),
    /// The test CA: make its directory of PKI, persons and cards, and serve it over HTTPS.
    #[command(subcommand)]
    CaMock(ca_mock::CaMockCmd),
    /// The service-centre desk's audit log: verify its chain, export it as CSV.
    #[command(subcommand)]
    Audit(audit::AuditCmd),
}

/// What every PIN command needs: which PIN, which card, where the codes come from.
#[derive(clap::Args, Debug)]
pub struct PinArgs {
    #[arg(long, value_enum, default_value = "id")]
    which: Which,
    /// Reader to use (default: the first reader with a card).
    #[arg(long)]
    reader: Option<String>,
    /// Read the codes from stdin, one per line, instead of the terminal.
    #[arg(long)]
    pin_stdin: bool,
}

impl PinArgs {
    fn prepare(
        self,
        vcard: Option<&std::path::Path>,
    ) -> Result<(PinKind, PinSource, SithsCard), CliError> {
        let source = PinSource::new(self.pin_stdin);
        let card = open_card(vcard, self.reader.as_deref())?;
        Ok((PinKind::from(self.which), source, card))
    }
}

/// What the commands that talk to the CA need: where it is, what it must chain to, the card.
#[derive(clap::Args, Debug)]
pub struct CaArgs {
    /// The CA's address, e.g. https://127.0.0.1:8443
    #[arg(long)]
    ca: String,
    /// The root certificate (PEM) the CA and its certificates must chain to.
    #[arg(long, value_name = "FILE")]
    ca_root: PathBuf,
    /// Reader to use (default: the first reader with a card).
    #[arg(long)]
    reader: Option<String>,
    /// Read the PINs from stdin, one per line, instead of the terminal.
    #[arg(long)]
    pin_stdin: bool,
}

impl CaArgs {
    fn prepare(&self, vcard: Option<&std::path::Path>) -> Result<(PinSource, SithsCard), CliError> {
        let source = PinSource::new(self.pin_stdin);
        Ok((source, open_card(vcard, self.reader.as_deref())?))
    }
}

/// Which PIN, in the words of the command line.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    /// The identification PIN (PIN1).
    Id,
    /// The signing PIN (PIN2).
    Sign,
}

impl From<Which> for PinKind {
    fn from(w: Which) -> PinKind {
        match w {
            Which::Id => PinKind::Pin1,
            Which::Sign => PinKind::Pin2,
        }
    }
}

/// Run one command; the caller prints the error and exits with its code.
pub fn run(cli: Cli) -> Result<(), CliError> {
    let vcard = cli.virtual_card.as_deref();
    let Some(command) = cli.command else {
        if vcard.is_none() && crate::gui::window::display_available() {
            let source = if card_present() {
                crate::gui::window::Source::Readers
            } else {
                crate::gui::window::Source::Demo
            };
            return open_window(source);
        }
        return show_card_or_demo(vcard);
    };
    match command {
        Cmd::Readers { json } => readers(vcard, json),
        Cmd::Status { reader, json } => {
            let mut card = open_card(vcard, reader.as_deref())?;
            let overview = card.overview()?;
            if json {
                json::print(&json::Status::from_overview(&overview, card.atr()))
            } else {
                print!("{}", crate::report::overview_text(&overview));
                Ok(())
            }
        }
        Cmd::VerifyPin(args) => {
            let (kind, mut source, mut card) = args.prepare(vcard)?;
            refuse_if_blocked(&mut card, kind)?;
            let pin = source.code(kind)?;
            card.verify_pin(kind, &pin)?;
            println!("The {kind} is correct.");
            Ok(())
        }
        Cmd::ChangePin(args) => {
            let (kind, mut source, mut card) = args.prepare(vcard)?;
            refuse_if_blocked(&mut card, kind)?;
            let old = source.code(kind)?;
            let new = source.new_pin(kind)?;
            card.change_pin(kind, &old, &new)?;
            println!("The {kind} is changed.");
            Ok(())
        }
        Cmd::UnblockPin(args) => {
            let (kind, mut source, mut card) = args.prepare(vcard)?;
            let puk_status = card.pin_status(PinKind::Puk)?;
            if puk_status.blocked() {
                return Err(CardError::CardDead.into());
            }
            if puk_status.tries_left == 1 {
                eprintln!(
                    "Warning: the PUK has 1 try left. If this PUK is wrong the card is blocked for good."
                );
            }
            let puk = source.code(PinKind::Puk)?;
            let new = source.new_pin(kind)?;
            card.unblock_pin(kind, &puk, &new)?;
            println!("The {kind} is unblocked and set to the new PIN.");
            Ok(())
        }
        Cmd::CheckExpiry { reader, json } => {
            let overview = open_card(vcard, reader.as_deref())?.overview()?;
            let now = crate::pki::date::now_unix();
            match expiry::exit_code(expiry::report(&overview, now, json)?) {
                0 => Ok(()),
                code => std::process::exit(code),
            }
        }
        Cmd::Certs { reader, json } => certs::list(&mut open_card(vcard, reader.as_deref())?, json),
        Cmd::ExportCert {
            id,
            out,
            pem,
            der: _,
            reader,
        } => certs::export(&mut open_card(vcard, reader.as_deref())?, &id, &out, pem),
        Cmd::Upgrade(ca) => {
            let (source, card) = ca.prepare(vcard)?;
            upgrade::run(card, &ca.ca, &ca.ca_root, source)
        }
        Cmd::FetchExisting { ca, write, all } => {
            let (source, card) = ca.prepare(vcard)?;
            fetch::run(card, &ca.ca, &ca.ca_root, source, &write, all)
        }
        Cmd::Demo => open_window(crate::gui::window::Source::Demo),
        Cmd::Gui => open_window(crate::gui::window::Source::Readers),
        Cmd::Desk { demo } => open_window(if demo {
            crate::gui::window::Source::DeskDemo
        } else {
            crate::gui::window::Source::Desk
        }),
        Cmd::VirtualCard(cmd) => virtual_card::run(cmd),
        Cmd::CaMock(cmd) => ca_mock::run(cmd),
        Cmd::Audit(cmd) => audit::run(cmd),
    }
}

/// Whether a reader holds a card now, so a start without a command opens on it (else the demo).
fn card_present() -> bool {
    list_readers().is_ok_and(|readers| readers.iter().any(|r| r.card_present))
}

fn open_window(source: crate::gui::window::Source) -> Result<(), CliError> {
    crate::gui::window::run(source).map_err(|e| {
        CliError::system(format!(
            "cannot open the window ({e}): run it in a desktop session, or use the commands \
             (`siths-upgrade --help`)"
        ))
    })
}

/// With no command and no display: show the card in the reader, or a demo virtual card when there is none,
/// so a newcomer sees what the product does without any hardware.
fn show_card_or_demo(vcard: Option<&std::path::Path>) -> Result<(), CliError> {
    let opened = open_card(vcard, None);
    let (mut card, _demo_dir) = match opened {
        Ok(card) => (card, None),
        Err(e) if vcard.is_none() && e.code != ExitCode::User => {
            eprintln!("No SITHS card to read ({e}).");
            eprintln!("Showing a DEMO virtual card instead; nothing here is a real card.\n");
            let dir = tempfile_dir()?;
            let state = dir.join("demo-card.json");
            let person = crate::virtual_card::pre_upgrade::demo_holder();
            crate::virtual_card::pre_upgrade::make_pre_upgrade_card(
                &state,
                crate::virtual_card::pre_upgrade::DEMO_SERIAL,
                &crate::virtual_card::pre_upgrade::Codes::test_defaults(),
                &person,
            )
            .map_err(|e| CliError::system(e.to_string()))?;
            (open_card(Some(&state), None)?, Some(DemoDir(dir)))
        }
        Err(e) => return Err(e),
    };
    let overview = card.overview()?;
    print!("{}", crate::report::overview_text(&overview));
    Ok(())
}

/// A private temporary directory for the demo card, removed when the command ends.
struct DemoDir(PathBuf);

impl Drop for DemoDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempfile_dir() -> Result<PathBuf, CliError> {
    // A fresh 0700 directory with a random name: no other local user can guess it, pre-create
    // it or read the card's codes from it. `DemoDir` removes it.
    let dir = tempfile::Builder::new()
        .prefix("siths-upgrade-demo-")
        .permissions(crate::private_file::dir_permissions())
        .tempdir()
        .map_err(|e| {
            CliError::system(format!(
                "cannot make a temporary directory in {}: {e}; check TMPDIR and its free space",
                std::env::temp_dir().display()
            ))
        })?;
    Ok(dir.keep())
}

/// Say so before asking for a code that cannot be used.
fn refuse_if_blocked(card: &mut SithsCard, kind: PinKind) -> Result<(), CliError> {
    let statuses = card.pin_statuses(&[PinKind::Puk, kind])?;
    if statuses[0].blocked() {
        return Err(CardError::CardDead.into());
    }
    if statuses[1].blocked() {
        return Err(CardError::Blocked(kind).into());
    }
    Ok(())
}

fn readers(vcard: Option<&std::path::Path>, json: bool) -> Result<(), CliError> {
    let readers = match vcard {
        Some(path) => {
            let card = VirtualCard::open(path)?;
            vec![json::Reader {
                name: crate::transport::memory::READER_NAME.to_string(),
                card_present: card.is_present(),
                atr: Some(json::hex(card.atr())),
                in_use: false,
            }]
        }
        None => list_readers()?
            .into_iter()
            .map(|r| json::Reader {
                card_present: r.card_present,
                atr: r.card_present.then(|| json::hex(&r.atr)),
                in_use: r.exclusive,
                name: r.name,
            })
            .collect(),
    };
    if json {
        return json::print(&json::Readers {
            format_version: json::FORMAT_VERSION,
            readers,
        });
    }
    if readers.is_empty() {
        return Err(TransportError::NoReader.into());
    }
    for r in &readers {
        let state = match (r.card_present, r.in_use) {
            (true, true) => "card present, in use by another program",
            (true, false) => "card present",
            (false, _) => "no card",
        };
        println!("{}: {state}", r.name);
    }
    Ok(())
}

/// Connect to the card the user pointed at and check it is a SITHS card.
pub fn open_card(
    vcard: Option<&std::path::Path>,
    reader: Option<&str>,
) -> Result<SithsCard, CliError> {
    let transport: Box<dyn Transport> = match vcard {
        Some(path) => {
            let card = VirtualCard::open(path)?;
            Box::new(MemoryTransport::connect(Arc::new(Mutex::new(card)))?)
        }
        None => Box::new(PcscTransport::connect(reader)?),
    };
    Ok(SithsCard::open(transport)?)
}

impl From<CardError> for CliError {
    fn from(e: CardError) -> Self {
        let code = match &e {
            e if e.is_user_error() => ExitCode::User,
            CardError::CardDead => ExitCode::CardUnusable,
            CardError::Transport(t) => exit::transport_code(t),
            _ => ExitCode::CardUnusable,
        };
        CliError::new(code, e.to_string())
    }
}

#[cfg(test)]
mod demo_dir_tests {
    #[test]
    fn the_demo_card_directory_cannot_be_guessed_or_read_by_others() {
        use std::os::unix::fs::PermissionsExt;
        let (a, b) = (
            super::tempfile_dir().unwrap(),
            super::tempfile_dir().unwrap(),
        );
        let (a, b) = (super::DemoDir(a), super::DemoDir(b));
        assert_ne!(a.0, b.0, "two runs share one directory");
        let name = a.0.file_name().unwrap().to_string_lossy().into_owned();
        assert!(!name.contains(&std::process::id().to_string()), "{name}");
        let mode = std::fs::metadata(&a.0).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let path = a.0.clone();
        drop(a);
        assert!(!path.exists());
    }
}
