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
                eprintln!("husk: {}", error_chain(&e));
                e.exit_code()
            }
        },
    };
    std::process::exit(code);
}

/// The error and its sources, `: `-separated (each layer adds what it knows; none repeats it).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = s.source();
    }
    msg
}
