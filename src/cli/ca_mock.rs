//! `siths-upgrade ca-mock …`: make the CA mock's directory and serve it.

use std::path::PathBuf;

use clap::Subcommand;

use crate::ca::mock::{self, MockDir, MockError};
use crate::cli::exit::CliError;

#[derive(Subcommand, Debug)]
pub enum CaMockCmd {
    /// Make DIR: the TEST PKI, the TLS server certificate, the directory of persons and a
    /// pre-upgrade virtual card per person (DIR must be new or empty).
    Init {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
    /// Serve DIR over HTTPS (EST and the JSON API) until stopped.
    Serve {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8443")]
        listen: String,
    },
}

pub fn run(cmd: CaMockCmd) -> Result<(), CliError> {
    match cmd {
        CaMockCmd::Init { dir } => {
            let summary = mock::init(&dir).map_err(cli_error)?;
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
        CaMockCmd::Serve { dir, listen } => {
            let handle = mock::start(&dir, &listen).map_err(cli_error)?;
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

fn cli_error(e: MockError) -> CliError {
    match e {
        MockError::NotEmpty(_) | MockError::Listen(..) => CliError::usage(e.to_string()),
        e => CliError::system(e.to_string()),
    }
}
