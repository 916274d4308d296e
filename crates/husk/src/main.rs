//! The `husk` binary: parse the command line, run the verb, map its error to an exit status
//! (`husk: <error>` on stderr). Everything else is in the library (see lib.rs).

use clap::Parser;
use husk::{cli, run};

fn main() {
    let cli = cli::Cli::parse();
    let level = if cli.global.debug {
        tracing::Level::DEBUG
    } else {
        tracing::Level::WARN
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .init();
    let code = match &cli.command {
        cli::Command::Run(args) => match run::run(&cli.global, args) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("husk: {}", e.message());
                e.exit_code()
            }
        },
    };
    std::process::exit(code);
}
