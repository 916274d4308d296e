//! runc's command line: global options and one argument struct per verb (runc 1.1 names).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// husk-runtime: an OCI runtime (runtime-spec v1.3) with runc's command line.
#[derive(Debug, Parser)]
#[command(name = "husk-runtime", version, about, long_about = None)]
pub struct Cli {
    /// Root directory for container state (one directory per container).
    #[arg(long, global = true, default_value = "/run/husk")]
    pub root: PathBuf,
    /// Write log messages to FILE (default: stderr).
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Log format: text, or json lines with runc's keys (level, msg, time).
    #[arg(long = "log-format", global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log debug messages too.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Use systemd to manage cgroups (not supported yet: refused).
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// The verb.
    #[command(subcommand)]
    pub command: Command,
}

/// --log-format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// JSON lines {"level","msg","time"}.
    Json,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new specification file (config.json).
    Spec(SpecArgs),
    /// Create a container, held before its program starts until `start`.
    Create(ContainerArgs),
    /// Start the program of a created container.
    Start(IdArgs),
    /// Create and start a container (in the foreground unless --detach).
    Run(RunArgs),
    /// Output the state of a container.
    State(IdArgs),
    /// Send a signal to the container's init process (SIGTERM by default).
    Kill(KillArgs),
    /// Delete a container and everything it holds.
    Delete(DeleteArgs),
    /// List the containers under --root.
    List(ListArgs),
    /// Show the features document: what this runtime implements, as JSON (runtime-spec
    /// features.md).
    Features,
}

/// `spec`.
#[derive(Debug, Args)]
pub struct SpecArgs {
    /// Directory to write config.json to (default: the current directory).
    #[arg(long, short = 'b')]
    pub bundle: Option<PathBuf>,
    /// Write a config for a rootless container.
    #[arg(long)]
    pub rootless: bool,
}

/// `create`, and the flags `run` shares with it.
#[derive(Debug, Args)]
pub struct ContainerArgs {
    /// The container id.
    pub id: String,
    /// The bundle directory (default: the current directory).
    #[arg(long, short = 'b')]
    pub bundle: Option<PathBuf>,
    /// Write the init's pid to FILE.
    #[arg(long = "pid-file", value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Use MS_MOVE + chroot instead of pivot_root (for a rootfs on ramfs).
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a new session keyring for the container.
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// A unix socket to send the pty master to when process.terminal is true.
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
}

/// `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The shared flags.
    #[command(flatten)]
    pub container: ContainerArgs,
    /// Detach: return once the program has started.
    #[arg(long, short = 'd')]
    pub detach: bool,
}

/// Verbs that take only an id.
#[derive(Debug, Args)]
pub struct IdArgs {
    /// The container id.
    pub id: String,
}

/// `kill`.
#[derive(Debug, Args)]
pub struct KillArgs {
    /// The container id.
    pub id: String,
    /// The signal: a name (TERM, SIGKILL) or a number; default SIGTERM.
    pub signal: Option<String>,
    /// Send the signal to every process of the container (its cgroup).
    #[arg(long, short = 'a')]
    pub all: bool,
}

/// `delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The container id.
    pub id: String,
    /// Kill a running container (SIGKILL) and delete it.
    #[arg(long, short = 'f')]
    pub force: bool,
}

/// `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
    /// Print only the ids.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// `list --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// A table.
    Table,
    /// A JSON array of state documents.
    Json,
}
