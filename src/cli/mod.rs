//! The `siths-upgrade` command line: a thin face on the card operations and workflows.

mod audit;
mod ca_mock;
mod card_access;
mod certs;
pub mod exit;
pub mod expiry;
mod fetch;
pub mod json;
pub mod prompt;
mod renew;
mod test_login;
mod upgrade;
mod virtual_card;
mod words;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::card::{Card, CardError, PinKind};
use crate::transport::TransportError;
use crate::transport::pcsc::list_readers;
use crate::virtual_card::VirtualCard;
use card_access::log_out;
pub use card_access::{CardAccess, open_card};
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
    #[arg(long, global = true, value_name = "FILE", conflicts_with = "pkcs11")]
    pub virtual_card: Option<PathBuf>,

    /// Reach the card through this PKCS#11 module (the card's middleware): a path, or one of
    /// safenet, netid, opensc, softhsm to look in the usual places (docs/cli.md).
    #[arg(long, global = true, value_name = "MODULE")]
    pub pkcs11: Option<String>,

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
    /// Renew the certificate pairs that expire within 30 days: new keys on the card, new
    /// certificates from the CA (EST simplereenroll), then the old pairs removed.
    ///
    /// With --pin-stdin: PIN1 on the first line, PIN2 on the second.
    Renew {
        #[command(flatten)]
        ca: CaArgs,
        /// Renew only this pair: hsa-id or personnummer (repeatable). The CA renews a pair only
        /// in its last 30 days, and refuses (renewal_not_due) before.
        #[arg(long, value_name = "PAIR")]
        only: Vec<renew::PairArg>,
    },
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
    /// Log in to the CA with a certificate on the card, as the window's certificate page does,
    /// to check that the certificate and its key work (mutual TLS; the card signs).
    ///
    /// With --pin-stdin: PIN1 on the first line.
    TestLogin {
        #[command(flatten)]
        ca: CaArgs,
        /// The certificate to log in with, by its id as `certs` shows it (default: the card's
        /// HSA-id authentication certificate).
        #[arg(long, value_name = "ID")]
        id: Option<String>,
    },
    /// Open the window with a demo card and a test CA on this computer: no reader, no setup.
    Demo {
        /// How fast the demo card answers: `fast`, or `real` for a physical card's pace (key
        /// generation 3-8 s, signatures 100-300 ms, bytes at 38 400 bit/s).
        #[arg(long, value_enum, default_value_t = virtual_card::PaceArg::Fast)]
        pace: virtual_card::PaceArg,
        /// The seed that draws the card's times at `--pace real`.
        #[arg(long, value_name = "N", default_value_t = crate::virtual_card::pace::DEFAULT_SEED)]
        pace_seed: u64,
        /// How the demo cards are laid out: `pkcs15` (our PKCS#15 application) or `idprime` (as
        /// current SITHS cards are).
        #[arg(long, value_enum, default_value_t = virtual_card::LayoutArg::Pkcs15)]
        layout: virtual_card::LayoutArg,
    },
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
        access: CardAccess<'_>,
    ) -> Result<(PinKind, PinSource, Box<dyn Card>), CliError> {
        let source = PinSource::new(self.pin_stdin);
        let mut card = open_card(access, self.reader.as_deref())?;
        let kind = PinKind::from(self.which);
        // A card that came with one code has no PIN2: say so before asking for one.
        if card.pin_statuses(&[kind])?.is_empty() {
            return Err(crate::card::CardError::NoSuchCode(kind).into());
        }
        Ok((kind, source, card))
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
    fn prepare(&self, access: CardAccess<'_>) -> Result<(PinSource, Box<dyn Card>), CliError> {
        let source = PinSource::new(self.pin_stdin);
        Ok((source, open_card(access, self.reader.as_deref())?))
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
    let access = CardAccess {
        virtual_card: vcard,
        pkcs11: cli.pkcs11.as_deref(),
    };
    let Some(command) = cli.command else {
        if vcard.is_none() && access.pkcs11.is_none() && crate::gui::window::display_available() {
            // A workstation with a reader opens on the holder's own card ("insert your card"
            // until it is in); only a computer without readers starts the demo by itself.
            let source = if reader_present() {
                crate::gui::window::WindowSource::Readers
            } else {
                crate::gui::window::WindowSource::Demo(
                    crate::virtual_card::Pace::Fast,
                    crate::virtual_card::Layout::Pkcs15,
                )
            };
            return open_window(source, None);
        }
        return show_card_or_demo(access);
    };
    match command {
        Cmd::Readers { json } => readers(vcard, json),
        Cmd::Status { reader, json } => {
            let mut card = open_card(access, reader.as_deref())?;
            let overview = card.overview()?;
            if json {
                json::print(&json::StatusJson::from_overview(&overview, &card.source()))
            } else {
                print!("{}", crate::report::overview_text(&overview));
                Ok(())
            }
        }
        Cmd::VerifyPin(args) => {
            let (kind, mut source, mut card) = args.prepare(access)?;
            refuse_if_blocked(card.as_mut(), kind)?;
            let pin = source.code(kind)?;
            let verified = card.verify_pin(kind, &pin);
            log_out(card.as_mut());
            verified?;
            println!("The {kind} is correct.");
            Ok(())
        }
        Cmd::ChangePin(args) => {
            let (kind, mut source, mut card) = args.prepare(access)?;
            refuse_if_blocked(card.as_mut(), kind)?;
            let old = source.code(kind)?;
            let new = source.new_pin(kind)?;
            let changed = card.change_pin(kind, &old, &new);
            log_out(card.as_mut());
            changed?;
            println!("The {kind} is changed.");
            Ok(())
        }
        Cmd::UnblockPin(args) => {
            let (kind, mut source, mut card) = args.prepare(access)?;
            refuse_if_not_shown(card.as_mut(), kind)?;
            refuse_if_not_shown(card.as_mut(), PinKind::Puk)?;
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
            let unblocked = card.unblock_pin(kind, &puk, &new);
            log_out(card.as_mut());
            unblocked?;
            println!("The {kind} is unblocked and set to the new PIN.");
            Ok(())
        }
        Cmd::CheckExpiry { reader, json } => {
            let overview = open_card(access, reader.as_deref())?.overview()?;
            let now = crate::pki::date::now_unix();
            let settings = crate::gui::settings::default_path()
                .map(|p| crate::gui::settings::Settings::load(&p))
                .unwrap_or_default();
            let hint = expiry::CaHint {
                url: Some(settings.ca_url).filter(|u| !u.trim().is_empty()),
                root: settings.ca_root,
            };
            match expiry::exit_code(expiry::report(&overview, now, json, &hint)?) {
                0 => Ok(()),
                code => std::process::exit(code),
            }
        }
        Cmd::Certs { reader, json } => {
            certs::list(open_card(access, reader.as_deref())?.as_mut(), json)
        }
        Cmd::ExportCert {
            id,
            out,
            pem,
            der: _,
            reader,
        } => certs::export(
            open_card(access, reader.as_deref())?.as_mut(),
            &id,
            &out,
            pem,
        ),
        Cmd::Upgrade(ca) => {
            let (source, card) = ca.prepare(access)?;
            upgrade::run(card, &ca.ca, &ca.ca_root, source)
        }
        Cmd::Renew { ca, only } => {
            let (source, card) = ca.prepare(access)?;
            renew::run(card, &ca.ca, &ca.ca_root, source, &only)
        }
        Cmd::FetchExisting { ca, write, all } => {
            let (source, card) = ca.prepare(access)?;
            fetch::run(card, &ca.ca, &ca.ca_root, source, &write, all)
        }
        Cmd::TestLogin { ca, id } => {
            let (source, card) = ca.prepare(access)?;
            test_login::run(card, &ca.ca, &ca.ca_root, source, id.as_deref())
        }
        Cmd::Demo {
            pace,
            pace_seed,
            layout,
        } => open_window(
            crate::gui::window::WindowSource::Demo(pace.with_seed(pace_seed), layout.into()),
            None,
        ),
        Cmd::Gui => open_window(crate::gui::window::WindowSource::Readers, access.pkcs11),
        Cmd::Desk { demo } => open_window(
            if demo {
                crate::gui::window::WindowSource::DeskDemo
            } else {
                crate::gui::window::WindowSource::Desk
            },
            None,
        ),
        Cmd::VirtualCard(cmd) => virtual_card::run(cmd),
        Cmd::CaMock(cmd) => ca_mock::run(cmd),
        Cmd::Audit(cmd) => audit::run(cmd, access),
    }
}

/// Whether a reader holds a card now, so a start without a command opens on it (else the demo).
/// The smart card service answers and its readers make this a holder's workstation
/// ([`crate::transport::pcsc::holder_workstation`]).
fn reader_present() -> bool {
    list_readers().is_ok_and(|readers| crate::transport::pcsc::holder_workstation(&readers))
}

fn open_window(
    source: crate::gui::window::WindowSource,
    pkcs11: Option<&str>,
) -> Result<(), CliError> {
    crate::gui::window::run(source, pkcs11.map(str::to_string)).map_err(|e| match e {
        crate::gui::window::RunError::Demo(e) => CliError::system(e.to_string()),
        crate::gui::window::RunError::Window(e) => CliError::system(format!(
            "cannot open the window ({e}): run it in a desktop session, or use the commands \
             (`siths-upgrade --help`)"
        )),
    })
}

/// With no command and no display: show the card in the reader, or a demo virtual card when there is none,
/// so a newcomer sees what the product does without any hardware.
fn show_card_or_demo(access: CardAccess<'_>) -> Result<(), CliError> {
    let opened = open_card(access, None);
    let (mut card, _demo_dir) = match opened {
        Ok(card) => (card, None),
        // With a reader there, the holder's card is what to read: say "insert your card".
        // Only without any reader (or PC/SC) is a demo card shown instead.
        Err(e)
            if access.virtual_card.is_none()
                && access.pkcs11.is_none()
                && e.code != ExitCode::User
                && !reader_present() =>
        {
            eprintln!("No SITHS card to read ({e}).");
            eprintln!("Showing a DEMO virtual card instead; nothing here is a real card.\n");
            let dir = tempfile_dir()?;
            let state = dir.join("demo-card.json");
            let person = crate::provision::demo_holder();
            crate::provision::make_pre_upgrade_card(
                &state,
                crate::provision::DEMO_SERIAL,
                &crate::provision::Codes::test_defaults(),
                &person,
            )
            .map_err(|e| CliError::system(e.to_string()))?;
            let demo = CardAccess {
                virtual_card: Some(&state),
                pkcs11: None,
            };
            (open_card(demo, None)?, Some(DemoDir(dir)))
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
    let dir = crate::private_file::private_dir_builder("siths-upgrade-demo-")
        .tempdir()
        .map_err(|e| {
            CliError::system(format!(
                "cannot make a temporary directory in {}: {e}; check TMPDIR and its free space",
                std::env::temp_dir().display()
            ))
        })?;
    Ok(dir.keep())
}

/// Say so before asking for a code the card's middleware does not show (OpenSC 0.23 shows an
/// IDPrime card's PIN1 alone): nothing may ask for, or try, a PIN2 or PUK it cannot see.
fn refuse_if_not_shown(card: &mut dyn Card, kind: PinKind) -> Result<(), CliError> {
    if card.pin_status(kind)?.known == crate::card::TriesKnown::NotShown {
        return Err(crate::card::MiddlewareError::PinNotShown(kind).into());
    }
    Ok(())
}

/// Say so before asking for a code that cannot be used.
fn refuse_if_blocked(card: &mut dyn Card, kind: PinKind) -> Result<(), CliError> {
    let statuses = card.pin_statuses(&[PinKind::Puk, kind])?;
    if statuses[1].known == crate::card::TriesKnown::NotShown {
        return Err(crate::card::MiddlewareError::PinNotShown(kind).into());
    }
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
            vec![json::ReaderJson {
                name: crate::virtual_card::memory::READER_NAME.to_string(),
                card_present: card.is_present(),
                atr: Some(json::hex(card.atr())),
                in_use: false,
            }]
        }
        None => list_readers()?
            .into_iter()
            .map(|r| json::ReaderJson {
                card_present: r.card_present,
                atr: r.card_present.then(|| json::hex(&r.atr)),
                in_use: r.exclusive,
                name: r.name,
            })
            .collect(),
    };
    if json {
        return json::print(&json::ReadersJson {
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

// Unix modes; on Windows the directory's ACL comes from the user's temp folder.
#[cfg(all(test, unix))]
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
