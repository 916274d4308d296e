//! The `husk` binary: parse the command line, run the verb, map its error to an exit status
//! (`husk: <error>` on stderr). Everything else is in the library (see lib.rs).

use clap::Parser;
use husk::{cli, run};

fn main() {
    // Nothing the caller left open may reach the container (CVE-2024-21626: a leaked
    // directory fd as the container's cwd or program); husk passes no fds of its own.
    let _ = husk_sys::close_from(3);
    // A bad command line is a failure of husk: 125, as Docker and Podman exit (clap's own
    // status is 2); --help and --version still exit 0.
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                run::EXIT_HUSK_FAILED
            } else {
                0
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    // The container's init is forked from this process: its /proc/PID/exe must not be a
    // writable host file (CVE-2019-5736). Re-executes from a read-only copy and returns once
    // running from one; before logging is set up.
    if let Err(e) = husk_container::exeseal::ensure_sealed() {
        eprintln!("husk: {e}");
        std::process::exit(run::EXIT_HUSK_FAILED);
    }
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
