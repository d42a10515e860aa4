//! `siths-upgrade virtual-card …`: make a pre-upgrade test card, and serve it to pcscd.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use clap::Subcommand;

use crate::cli::exit::CliError;
use crate::pki::issue::PersonName;
use crate::provision::{
    Codes, make_one_code_idprime_card, make_pre_upgrade_card, make_pre_upgrade_idprime_card,
    pins_path,
};
use crate::virtual_card::{Pace, VirtualCard, pace, vpcd};

#[derive(Subcommand, Debug)]
pub enum VirtualCardCmd {
    /// Make a pre-upgrade card: one legacy HSA-id pair and known test codes (written to
    /// FILE with the extension .pins, like a code letter).
    Init {
        #[arg(long, value_name = "FILE")]
        state: PathBuf,
        /// Read PIN1=, PIN2= and PUK= lines from this file instead of using the test defaults.
        #[arg(long, value_name = "FILE")]
        pins: Option<PathBuf>,
        #[arg(long, default_value = "TST5565594230-1001")]
        hsa_id: String,
        #[arg(long, default_value = "Karin")]
        given_name: String,
        #[arg(long, default_value = "Åström")]
        surname: String,
        #[arg(long, default_value = "Testregionen Västra Götaland")]
        organisation: String,
        #[arg(long, default_value = "Västra Götalands län")]
        county: String,
        /// Card serial number (hex digits).
        #[arg(long, default_value = "9752269000001001")]
        serial: String,
        /// Overwrite an existing state file.
        #[arg(long)]
        force: bool,
        /// How the card is laid out: `pkcs15` (our PKCS#15 application) or `idprime` (a
        /// Thales IDPrime card as OpenSC's idprime driver reads it; current SITHS cards are
        /// IDPrime-family cards by public hints). Our own client reads and upgrades both.
        #[arg(long, value_enum, default_value_t = LayoutArg::Pkcs15)]
        layout: LayoutArg,
        /// A newer SITHS eID card that came with one code (with `--layout idprime` only): PIN1
        /// for both authentication and signing, no PIN2 on the card, and only the
        /// authentication certificate. `--pins` then needs no PIN2= line.
        #[arg(long)]
        one_code: bool,
    },
    /// Serve the card to pcscd through the vpcd driver until stopped.
    Serve {
        #[arg(long, value_name = "FILE")]
        state: PathBuf,
        #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:35963")]
        vpcd: String,
        /// How fast the card answers: `fast` (as fast as this computer can) or `real` (a
        /// physical card's pace: bytes at 38 400 bit/s, key generation 3-8 s, signatures
        /// 100-300 ms).
        #[arg(long, value_enum, default_value_t = PaceArg::Fast)]
        pace: PaceArg,
        /// The seed that draws key generation and signature times at `--pace real`: the same
        /// seed waits the same.
        #[arg(long, value_name = "N", default_value_t = pace::DEFAULT_SEED)]
        pace_seed: u64,
    },
}

/// `--layout`: the virtual card's file layout and card OS.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutArg {
    Pkcs15,
    Idprime,
}

/// `--pace`: the virtual card's speed (see [`Pace`]).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaceArg {
    Fast,
    Real,
}

impl PaceArg {
    pub fn with_seed(self, seed: u64) -> Pace {
        match self {
            PaceArg::Fast => Pace::Fast,
            PaceArg::Real => Pace::Real { seed },
        }
    }
}

pub fn run(cmd: VirtualCardCmd) -> Result<(), CliError> {
    match cmd {
        VirtualCardCmd::Init {
            state,
            pins,
            hsa_id,
            given_name,
            surname,
            organisation,
            county,
            serial,
            force,
            layout,
            one_code,
        } => {
            if one_code && layout != LayoutArg::Idprime {
                return Err(CliError::usage(
                    "--one-code makes an IDPrime card: give it with --layout idprime (the \
                     pkcs15 layout always has PIN1 and PIN2)"
                        .to_string(),
                ));
            }
            if state.exists() && !force {
                return Err(CliError::usage(format!(
                    "{} already exists: give --force to replace that card",
                    state.display()
                )));
            }
            let codes = match pins {
                Some(file) => read_pins_file(&file, one_code)?,
                None => Codes::test_defaults(),
            };
            let person = PersonName {
                serial_number: hsa_id.clone(),
                given_name: given_name.clone(),
                surname: surname.clone(),
                common_name: format!("{given_name} {surname}"),
                organisation,
                locality: Some(county),
            };
            // A card replaced with --force is made beside the old one and moved over it only
            // when whole, so a failure leaves the old card and its code letter as they were.
            let made = if state.exists() {
                replacement_path(&state)
            } else {
                state.clone()
            };
            match layout {
                LayoutArg::Pkcs15 => make_pre_upgrade_card(&made, &serial, &codes, &person),
                LayoutArg::Idprime if one_code => {
                    make_one_code_idprime_card(&made, &serial, &codes, &person)
                }
                LayoutArg::Idprime => {
                    make_pre_upgrade_idprime_card(&made, &serial, &codes, &person)
                }
            }
            .map_err(|e| CliError::system(e.to_string()))?;
            if made != state {
                move_card_over(&made, &state).map_err(|e| {
                    CliError::system(format!(
                        "the new card is in {} but could not replace {}: {e}",
                        made.display(),
                        state.display()
                    ))
                })?;
            }
            println!(
                "Made a pre-upgrade SITHS card for {} ({hsa_id}) in {}; its codes are in {}.",
                person.common_name,
                state.display(),
                pins_path(&state).display()
            );
            Ok(())
        }
        VirtualCardCmd::Serve {
            state,
            vpcd: addr,
            pace,
            pace_seed,
        } => {
            let mut card = VirtualCard::open(&state)?;
            card.set_pace(pace.with_seed(pace_seed));
            let shared = Arc::new(Mutex::new(card));
            let stop = Arc::new(AtomicBool::new(false));
            eprintln!(
                "Serving the virtual card {} to vpcd at {addr}{}; stop with Ctrl-C.",
                state.display(),
                match card_pace(&shared) {
                    Pace::Fast => String::new(),
                    Pace::Real { seed } => format!(" at a real card's pace (seed {seed})"),
                }
            );
            vpcd::serve(shared, &addr, stop).map_err(|e| CliError::system(e.to_string()))
        }
    }
}

fn card_pace(card: &crate::virtual_card::SharedVirtualCard) -> Pace {
    crate::virtual_card::lock_virtual_card(card).pace()
}

/// The codes in a `--pins` file; a one-code card's needs no PIN2 line.
fn read_pins_file(file: &Path, one_code: bool) -> Result<Codes, CliError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| CliError::system(format!("cannot read {}: {e}", file.display())))?;
    let get = |key: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(key)?.strip_prefix('='))
            .map(|v| v.trim().to_string())
            .ok_or_else(|| CliError::usage(format!("{} has no {key}= line", file.display())))
    };
    Ok(Codes {
        pin1: get("PIN1")?,
        pin2: if one_code {
            String::new()
        } else {
            get("PIN2")?
        },
        puk: get("PUK")?,
    })
}

/// Where `virtual-card init --force` makes the new card before it replaces `state`: beside it,
/// so the moves stay on one file system.
fn replacement_path(state: &Path) -> PathBuf {
    let stem = state
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    state.with_file_name(format!("{stem}.replacing.json"))
}

/// Move a made card's state file, code letter and CA file over the old card's: the code letter
/// first, the state file last, each one rename.
fn move_card_over(made: &Path, state: &Path) -> std::io::Result<()> {
    for extension in ["pins", "ca.pem"] {
        let from = made.with_extension(extension);
        if from.exists() {
            std::fs::rename(&from, state.with_extension(extension))?;
        }
    }
    std::fs::rename(made, state)
}
