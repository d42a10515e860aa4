use clap::Parser;

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = siths_upgrade::cli::Cli::parse();
    if let Err(e) = siths_upgrade::cli::run(cli) {
        eprintln!("siths-upgrade: {e}");
        std::process::exit(e.code as i32);
    }
}
