//! runc's command line: global options and one argument struct per verb (runc 1.1 names).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// husk-runtime: an OCI runtime (runtime-spec v1.3) with runc's command line.
#[derive(Debug, Parser)]
#[command(name = "husk-runtime", version, about, long_about = None)]
pub struct Cli {
    /// Root directory for container state (one directory per container); default /run/husk,
    /// or $XDG_RUNTIME_DIR/husk when rootless (euid not 0, or in a user namespace).
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
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
    /// Run a new process inside a running container.
    Exec(Box<ExecArgs>),
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
    /// Suspend every process of the container (cgroup freezer).
    Pause(IdArgs),
    /// Resume the processes of a paused container.
    Resume(IdArgs),
    /// Display the processes running inside a container.
    Ps(PsArgs),
    /// Display container events: OOM notifications and usage statistics.
    Events(EventsArgs),
    /// Update the resource limits of a running container.
    Update(Box<UpdateArgs>),
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
    /// Pass N more fds, from 3 (after the LISTEN_FDS ones), to the container's program.
    #[arg(long = "preserve-fds", value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
}

/// `exec`: runc 1.1's flags. With `--process` the file is the whole process and the other
/// process flags (`--tty`, `--cwd`, `--env`, `--user`, ...) are ignored, as in runc.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The container id, then the command and its arguments. As in runc, everything after the
    /// id belongs to the command, options too (`exec ID ls -l`); a `--` right after the id is
    /// dropped.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ID [COMMAND [ARG]...]"
    )]
    pub args: Vec<String>,
    /// A JSON file holding the process (runtime-spec config.md "process"); fields it leaves
    /// out (capabilities, rlimits, noNewPrivileges, apparmorProfile, selinuxLabel,
    /// oomScoreAdj) are the container's.
    #[arg(long, short = 'p', value_name = "FILE")]
    pub process: Option<PathBuf>,
    /// Allocate a pseudo-terminal for the process.
    #[arg(long, short = 't')]
    pub tty: bool,
    /// A unix socket to send the pty master to (with --tty).
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// The working directory in the container (default: the container's process.cwd).
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Set an environment variable (KEY=VALUE), over the container's process.env.
    #[arg(long, short = 'e', value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// The user: UID[:GID], numeric, in the container's user namespace.
    #[arg(long, short = 'u', value_name = "UID[:GID]")]
    pub user: Option<String>,
    /// Additional group ids (repeat the flag).
    #[arg(long = "additional-gids", short = 'g', value_name = "GID")]
    pub additional_gids: Vec<u32>,
    /// Add a capability to the bounding, effective and permitted sets (CAP_NET_ADMIN or
    /// NET_ADMIN; repeat the flag).
    #[arg(long, short = 'c', value_name = "CAP")]
    pub cap: Vec<String>,
    /// Set no_new_privs for the process.
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// The AppArmor profile of the process.
    #[arg(long, value_name = "PROFILE")]
    pub apparmor: Option<String>,
    /// The SELinux label of the process.
    #[arg(long = "process-label", value_name = "LABEL")]
    pub process_label: Option<String>,
    /// Return once the process has started, leaving it to the caller's subreaper.
    #[arg(long, short = 'd')]
    pub detach: bool,
    /// Write the process's pid (in the caller's pid namespace) to FILE.
    #[arg(long = "pid-file", value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Pass N more fds, from 3, to the process.
    #[arg(long = "preserve-fds", value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Run the process in a sub-cgroup of the container's: PATH (every hierarchy) or
    /// CONTROLLER[,CONTROLLER]:PATH (cgroup v1; repeat the flag), relative to the container's
    /// cgroup, which must exist.
    #[arg(long, value_name = "[CONTROLLERS:]PATH")]
    pub cgroup: Vec<String>,
    /// Exec into a paused container too (the process starts frozen until `resume`).
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
}

impl ExecArgs {
    /// The container id (the first argument).
    pub fn id(&self) -> &str {
        self.args.first().map_or("", String::as_str)
    }

    /// The command: the arguments after the id, without a `--` right after it.
    pub fn command(&self) -> &[String] {
        let command = self.args.get(1..).unwrap_or_default();
        match command.split_first() {
            Some((first, rest)) if first == "--" => rest,
            _ => command,
        }
    }
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

/// `ps`.
#[derive(Debug, Args)]
pub struct PsArgs {
    /// Output format: a `ps` table, or the pids as a JSON array.
    #[arg(long, short = 'f', value_enum, default_value_t = PsFormat::Table)]
    pub format: PsFormat,
    /// The container id, then options for the host's ps(1) (default `-ef`): its rows of the
    /// container's processes are shown, found by the PID column. As in runc, everything after
    /// the id goes to ps, `-f` too (`--` after the id is dropped).
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ID [PS OPTIONS]"
    )]
    pub args: Vec<String>,
}

impl PsArgs {
    /// The container id (the first argument).
    pub fn id(&self) -> &str {
        self.args.first().map_or("", String::as_str)
    }

    /// The options for ps(1): the arguments after the id, without a `--` right after it
    /// (`ps ID -- -o pid`; procps ps refuses a `--`).
    pub fn ps_options(&self) -> &[String] {
        let options = self.args.get(1..).unwrap_or_default();
        match options.split_first() {
            Some((first, rest)) if first == "--" => rest,
            _ => options,
        }
    }
}

/// `ps --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PsFormat {
    /// The host's ps output, filtered to the container's processes.
    Table,
    /// The pids, a JSON array.
    Json,
}

/// `events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// The time between two statistics events (a Go duration: 5s, 500ms, 1m30s).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub interval: Duration,
    /// Display the container's statistics once, then exit.
    #[arg(long)]
    pub stats: bool,
    /// The container id.
    pub id: String,
}

/// `update`: runc 1.1's flags; sizes take a number of bytes or a size like `100M`, `1.5g`,
/// `512KiB` (binary multiples, as runc reads them), or -1 for unlimited.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The container id.
    pub id: String,
    /// A file with the linux.resources JSON to apply, or `-` for stdin (the other flags are
    /// refused with it).
    #[arg(long, short = 'r', value_name = "FILE", conflicts_with_all = [
        "memory", "memory_swap", "memory_reservation", "cpu_share", "cpu_quota", "cpu_period",
        "cpu_rt_period", "cpu_rt_runtime", "cpuset_cpus", "cpuset_mems", "blkio_weight",
        "pids_limit", "kernel_memory", "kernel_memory_tcp",
    ])]
    pub resources: Option<PathBuf>,
    /// Memory limit (memory.limit).
    #[arg(long, value_name = "BYTES", allow_hyphen_values = true, value_parser = parse_size)]
    pub memory: Option<i64>,
    /// Total memory usage: memory plus swap (memory.swap); -1 for unlimited swap.
    #[arg(long = "memory-swap", value_name = "BYTES", allow_hyphen_values = true, value_parser = parse_size)]
    pub memory_swap: Option<i64>,
    /// Memory reservation or soft limit (memory.reservation).
    #[arg(long = "memory-reservation", value_name = "BYTES", allow_hyphen_values = true, value_parser = parse_size)]
    pub memory_reservation: Option<i64>,
    /// Ignored, with a warning (kernel memory limits are obsolete; runc ignores them too).
    #[arg(long = "kernel-memory", value_name = "BYTES", hide = true)]
    pub kernel_memory: Option<String>,
    /// Ignored, with a warning (as --kernel-memory).
    #[arg(long = "kernel-memory-tcp", value_name = "BYTES", hide = true)]
    pub kernel_memory_tcp: Option<String>,
    /// CPU shares, the weight relative to other containers (cpu.shares).
    #[arg(
        long = "cpu-share",
        visible_alias = "cpu-shares",
        value_name = "SHARES"
    )]
    pub cpu_share: Option<u64>,
    /// CFS quota: CPU time allowed per period, microseconds (cpu.quota).
    #[arg(long = "cpu-quota", value_name = "USECS", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CFS period, microseconds (cpu.period); 0 for the system default.
    #[arg(long = "cpu-period", value_name = "USECS")]
    pub cpu_period: Option<u64>,
    /// Realtime period, microseconds (cpu.realtimePeriod).
    #[arg(long = "cpu-rt-period", value_name = "USECS")]
    pub cpu_rt_period: Option<u64>,
    /// Realtime runtime per period, microseconds (cpu.realtimeRuntime).
    #[arg(
        long = "cpu-rt-runtime",
        value_name = "USECS",
        allow_hyphen_values = true
    )]
    pub cpu_rt_runtime: Option<i64>,
    /// CPUs to run on, e.g. 0-2,4 (cpu.cpus).
    #[arg(long = "cpuset-cpus", value_name = "LIST")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use (cpu.mems).
    #[arg(long = "cpuset-mems", value_name = "LIST")]
    pub cpuset_mems: Option<String>,
    /// Block I/O weight, 10 to 1000 (blockIO.weight); 0 leaves it unchanged, as in runc.
    #[arg(long = "blkio-weight", value_name = "WEIGHT")]
    pub blkio_weight: Option<u16>,
    /// Maximum number of tasks (pids.limit); -1 for no limit, 0 leaves it unchanged, as in
    /// runc.
    #[arg(long = "pids-limit", value_name = "N", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Intel RDT L3 cache schema: refused (husk has no Intel RDT support).
    #[arg(long = "l3-cache-schema", value_name = "SCHEMA")]
    pub l3_cache_schema: Option<String>,
    /// Intel RDT memory bandwidth schema: refused (husk has no Intel RDT support).
    #[arg(long = "mem-bw-schema", value_name = "SCHEMA")]
    pub mem_bw_schema: Option<String>,
}

/// A memory size as runc's `update` reads it (docker/go-units `RAMInBytes`): a decimal number
/// with an optional fraction, an optional space, an optional unit `k`, `m`, `g`, `t` or `p`
/// (any case, powers of 1024), then an optional `i` and an optional `b`; `100M`, `1.5g`,
/// `512KiB`, `4096`. The fraction is truncated after scaling. `-1` is "unlimited".
pub fn parse_size(text: &str) -> Result<i64, String> {
    if text == "-1" {
        return Ok(-1);
    }
    let bad =
        || format!("invalid size {text:?} (a number of bytes, a size like 100M or 1.5G, or -1)");
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, mut rest) = text.split_at(digits_end);
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return Err(bad());
    }
    let value: f64 = number
        .parse()
        .map_err(|_| format!("invalid size {text:?}: {number:?} is not a number"))?;
    rest = rest.strip_prefix(' ').unwrap_or(rest);
    let mut unit = 1u64;
    if let Some(c) = rest.chars().next() {
        let power = match c.to_ascii_lowercase() {
            'k' => Some(1),
            'm' => Some(2),
            'g' => Some(3),
            't' => Some(4),
            'p' => Some(5),
            _ => None,
        };
        if let Some(p) = power {
            unit = 1024u64.pow(p);
            rest = &rest[1..];
        }
    }
    rest = rest.strip_prefix(['i', 'I']).unwrap_or(rest);
    rest = rest.strip_prefix(['b', 'B']).unwrap_or(rest);
    if !rest.is_empty() {
        return Err(bad());
    }
    // Precision as the Go code has it (float64): exact for every size below 2^53.
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
    let bytes = value * unit as f64;
    if !(0.0..9.223_372_036_854_775e18).contains(&bytes) {
        return Err(format!("invalid size {text:?}: out of range"));
    }
    #[allow(clippy::cast_possible_truncation)]
    Ok(bytes as i64)
}

/// A Go `time.Duration` string, as runc's `--interval` takes it: one or more decimal numbers,
/// each with a fraction allowed and a unit (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`), e.g.
/// `5s`, `1m30s`, `1.5s`, `250ms`. `0` alone is zero.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {text:?} (e.g. 5s, 500ms, 1m30s)");
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = text;
    let mut total = 0f64;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(end);
        if number.is_empty() {
            return Err(bad());
        }
        let value: f64 = number.parse().map_err(|_| bad())?;
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let seconds = match unit {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => {
                return Err(format!(
                    "invalid duration {text:?}: missing unit (ns, us, ms, s, m, h)"
                ))
            }
            _ => return Err(format!("invalid duration {text:?}: unknown unit {unit:?}")),
        };
        total += value * seconds;
        rest = tail;
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_runc_reads_them() {
        for (text, bytes) in [
            ("100M", 104857600),
            ("100m", 104857600),
            ("100MiB", 104857600),
            ("100MB", 104857600),
            ("100 M", 104857600),
            ("100Mi", 104857600),
            ("1.5g", 1610612736),
            ("10kb", 10240),
            ("1.5", 1),
            ("100iB", 100),
            ("4096", 4096),
            ("-1", -1),
            ("0", 0),
        ] {
            assert_eq!(parse_size(text), Ok(bytes), "{text}");
        }
        for text in [
            "", " 100M", "100M ", "1e3", "+5", "0x10", "-5", "abc", "100X", "1.2.3M", "M", "1.",
            ".5",
        ] {
            assert!(parse_size(text).is_err(), "{text:?} accepted");
        }
        assert!(parse_size("9000P").unwrap_err().contains("out of range"));
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("100us"), Ok(Duration::from_micros(100)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        for text in ["", "5", "s", "5x", "-1s", "1..5s"] {
            assert!(parse_duration(text).is_err(), "{text:?} accepted");
        }
    }

    #[test]
    fn ps_options_follow_the_id() {
        use clap::Parser;
        let ps = |args: &[&str]| {
            let mut argv = vec!["husk-runtime", "ps"];
            argv.extend_from_slice(args);
            match Cli::try_parse_from(argv).unwrap().command {
                Command::Ps(ps) => ps,
                other => panic!("not ps: {other:?}"),
            }
        };
        let a = ps(&["c1", "-o", "pid,args"]);
        assert_eq!((a.id(), a.format), ("c1", PsFormat::Table));
        assert_eq!(a.ps_options(), ["-o", "pid,args"]);
        let a = ps(&["--format", "json", "c1"]);
        assert_eq!((a.id(), a.format), ("c1", PsFormat::Json));
        assert!(a.ps_options().is_empty());
        // After the id, `-f` is ps's (runc: the same).
        let a = ps(&["c1", "-f", "json"]);
        assert_eq!((a.id(), a.format), ("c1", PsFormat::Table));
        assert_eq!(a.ps_options(), ["-f", "json"]);
        assert_eq!(ps(&["c1", "--", "aux"]).ps_options(), ["aux"]);
        assert!(Cli::try_parse_from(["husk-runtime", "ps"]).is_err());
    }

    #[test]
    fn update_flags() {
        use clap::Parser;
        let cli = Cli::try_parse_from([
            "husk-runtime",
            "update",
            "--memory",
            "100M",
            "--memory-swap",
            "-1",
            "--cpu-shares",
            "512",
            "--pids-limit",
            "-1",
            "c1",
        ])
        .unwrap();
        let Command::Update(u) = cli.command else {
            panic!("not update")
        };
        assert_eq!(u.memory, Some(104857600));
        assert_eq!(u.memory_swap, Some(-1));
        assert_eq!(u.cpu_share, Some(512));
        assert_eq!(u.pids_limit, Some(-1));
        assert!(
            Cli::try_parse_from(["husk-runtime", "update", "-r", "-", "--memory", "1M", "c1"])
                .is_err()
        );
        assert!(Cli::try_parse_from(["husk-runtime", "update", "--memory", "lots", "c1"]).is_err());
        assert!(
            Cli::try_parse_from(["husk-runtime", "update", "--blkio-weight", "abc", "c1"]).is_err()
        );
    }
}
