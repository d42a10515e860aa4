//! `siths-upgrade ca-mock …`: make the CA mock's directory and serve it.

use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;

use crate::ca::mock::persons::BUILTIN_PERSONS_JSON;
use crate::ca::mock::{self, MockDir, MockError};
use crate::cli::exit::CliError;
use crate::cli::virtual_card::LayoutArg;

#[derive(Subcommand, Debug)]
pub enum CaMockCmd {
    /// Make DIR: the TEST PKI, the TLS server certificate, the directory of persons and a
    /// pre-upgrade virtual card per person (DIR must be new or empty).
    Init {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// How the cards are laid out: `pkcs15` (our PKCS#15 application) or `idprime` (a
        /// Thales IDPrime card as OpenSC's idprime driver reads it, as current SITHS cards
        /// are). Cards made later for this DIR (the demo's) follow it.
        #[arg(long, value_enum, default_value_t = LayoutArg::Pkcs15)]
        layout: LayoutArg,
    },
    /// Serve DIR over HTTPS (EST and the JSON API) until stopped.
    Serve {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8443")]
        listen: String,
        /// Close a kept-alive connection after this many seconds without a request, cleanly
        /// (TLS close_notify), as servers with a short keep-alive timeout do. Without it, an
        /// idle connection ends when the 10 s wait for its next request head runs out.
        #[arg(long, value_name = "SECS")]
        idle_close_after: Option<f64>,
        /// Keep no TLS sessions: every new connection is a full handshake that the client's
        /// card signs.
        #[arg(long)]
        no_tls_resumption: bool,
        /// Speak TLS 1.2 only and take only PKCS#1 v1.5 client signatures, as an older
        /// server does (for trying a card's TLS 1.2 login).
        #[arg(long)]
        tls12_pkcs1_only: bool,
    },
}

pub fn run(cmd: CaMockCmd) -> Result<(), CliError> {
    match cmd {
        CaMockCmd::Init { dir, layout } => {
            let summary = mock::init::init_with_persons(&dir, BUILTIN_PERSONS_JSON, layout.into())
                .map_err(cli_error)?;
            let md = MockDir::new(&dir);
            println!(
                "Made the CA mock in {} in {:.1} s: {} persons, a card each in {} (codes in the \
                 .pins files); clients trust {}.",
                dir.display(),
                summary.seconds,
                summary.persons,
                md.cards_dir().display(),
                md.root_pem().display()
            );
            Ok(())
        }
        CaMockCmd::Serve {
            dir,
            listen,
            idle_close_after,
            no_tls_resumption,
            tls12_pkcs1_only,
        } => {
            let idle = idle_close_after.map(seconds).transpose()?;
            let limits = mock::Limits {
                idle,
                tls_resumption: !no_tls_resumption,
                tls12_pkcs1_only,
                ..mock::Limits::default()
            };
            let handle = mock::start_with(&dir, &listen, limits).map_err(cli_error)?;
            println!("CA mock listening on {}", handle.url());
            eprintln!(
                "Serving {}; stop with Ctrl-C. RUST_LOG=info logs every request.",
                dir.display()
            );
            handle.wait();
            Ok(())
        }
    }
}

/// `--idle-close-after`: a positive number of seconds, below a day.
fn seconds(secs: f64) -> Result<Duration, CliError> {
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| !d.is_zero() && *d < Duration::from_secs(86_400))
        .ok_or_else(|| {
            CliError::usage(format!(
                "--idle-close-after {secs}: give a number of seconds above 0 and below a day, \
                 for example 2 or 0.5"
            ))
        })
}

fn cli_error(e: MockError) -> CliError {
    match e {
        MockError::NotEmpty(_) | MockError::Listen(..) => CliError::usage(e.to_string()),
        e => CliError::system(e.to_string()),
    }
}

impl From<LayoutArg> for crate::virtual_card::Layout {
    fn from(arg: LayoutArg) -> Self {
        match arg {
            LayoutArg::Pkcs15 => crate::virtual_card::Layout::Pkcs15,
            LayoutArg::Idprime => crate::virtual_card::Layout::Idprime,
        }
    }
}
