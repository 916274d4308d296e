//! The command line of `husk` (clap argument structs only; no behaviour).
//!
//! `husk [GLOBAL OPTIONS] run [OPTIONS] SOURCE [COMMAND [ARG...]]`: options of `run` come before
//! SOURCE; everything after SOURCE is the container's command, as with `docker run`.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

/// Default of `--data-root` for root: husk's persistent data (rootfs cache, container
/// records). Rootless: see `rootless::data_root`.
pub const DEFAULT_DATA_ROOT: &str = "/var/lib/husk";
/// Default of `--root` for root: the runtime's state root (`husk-runtime --root`). Rootless:
/// `$XDG_RUNTIME_DIR/husk`.
pub const DEFAULT_STATE_ROOT: &str = "/run/husk";

const RUN_EXAMPLES: &str = "\
Examples:
  husk run host                          a shell on a read-only view of the host's /usr
  husk run host ls -l /                  one command, then exit with its status
  husk run -it ./alpine-rootfs sh        an interactive shell in a rootfs directory
  husk run ./alpine-minirootfs.tar.gz    a tarball, unpacked once into a cache
  husk run -e FOO=bar -w /tmp -u 1000:1000 host id
  husk run -v ./data:/data:ro --name web --network host ./rootfs /bin/httpd -f
  husk run --network slirp4netns -p 8080:80 ./rootfs httpd -f -p 80
  husk run -m 512m --cpus 1.5 --pids-limit 100 ./rootfs sh
  husk run --device /dev/fuse --device /dev/sdb:/dev/xvdb:r ./rootfs sh
  husk run --cap-add SYS_PTRACE --security-opt no-new-privileges ./rootfs sh

SOURCE is a root filesystem directory, a tarball (.tar, .tar.gz/.tgz, .tar.xz, .tar.zst), or the
word `host`. A path is anything that contains `/`, starts with `.`, or exists (write ./host for a
directory named host). Image references are not supported yet.

Exit status: the command's own; 125 when husk itself failed, 126 when the command cannot be
executed, 127 when it is not found.";

/// `husk`: run a root filesystem as an isolated container in one command.
#[derive(Debug, Parser)]
#[command(name = "husk", version, about, propagate_version = true)]
pub struct Cli {
    /// Options that apply to every verb.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The verb.
    #[command(subcommand)]
    pub command: Command,
}

/// Options of `husk` itself, before the verb.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Where husk keeps its rootfs cache and container records [default: /var/lib/husk;
    /// rootless: $XDG_DATA_HOME/husk, else ~/.local/share/husk].
    #[arg(long, global = true, value_name = "DIR", env = "HUSK_DATA_ROOT")]
    pub data_root: Option<PathBuf>,
    /// The runtime's state root (as `husk-runtime --root`) [default: /run/husk; rootless:
    /// $XDG_RUNTIME_DIR/husk].
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Log debug messages on stderr.
    #[arg(long, global = true)]
    pub debug: bool,
}

/// The verbs of `husk`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a command in a new container, in the foreground, and exit with its status.
    #[command(after_help = RUN_EXAMPLES)]
    Run(RunArgs),
}

/// `--network`: which network the container sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum NetworkMode {
    /// A new network namespace with only loopback, brought up by the runtime.
    #[default]
    None,
    /// The host's network namespace (no isolation of the network).
    Host,
    /// A new network namespace connected by pasta (Debian `passt`): outbound connectivity as
    /// the user running husk, -p ports forwarded from the host.
    Pasta,
    /// A new network namespace connected by slirp4netns: outbound connectivity as the user
    /// running husk, -p ports forwarded from the host.
    Slirp4netns,
}

/// Options and operands of `husk run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The container's name and id (letters, digits, `_ . + -`; default: generated).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// The container's hostname (default: its name).
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Set an environment variable; `-e K` takes K from husk's own environment.
    #[arg(short = 'e', long = "env", value_name = "K=V")]
    pub env: Vec<String>,
    /// The working directory inside the container (absolute; default /).
    #[arg(short = 'w', long = "workdir", value_name = "DIR")]
    pub workdir: Option<String>,
    /// The user: UID[:GID] or NAME[:GROUP] (names from the container's /etc/passwd and /etc/group).
    #[arg(short = 'u', long = "user", value_name = "UID[:GID]")]
    pub user: Option<String>,
    /// Bind-mount a host path: HOST:CTR[:ro|rw] (HOST must exist).
    #[arg(short = 'v', long = "volume", value_name = "HOST:CTR[:ro]")]
    pub volume: Vec<String>,
    /// Make the container's root filesystem read-only.
    #[arg(long)]
    pub read_only: bool,
    /// The cgroup to create the container's cgroup under (Docker's --cgroup-parent): a
    /// relative path is below husk's own cgroup, an absolute one below each hierarchy's root;
    /// the container's cgroup is PARENT/NAME. Default: NAME below husk's own cgroup.
    #[arg(long, value_name = "PATH")]
    pub cgroup_parent: Option<String>,
    /// Memory limit: bytes with an optional unit b, k, m, g (512m, 1g); at least 6m, 0 = none.
    #[arg(short = 'm', long, value_name = "BYTES", allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory plus swap limit (docker's meaning; needs --memory): a size as --memory, or -1
    /// for unlimited swap. Default with --memory: twice --memory where the kernel accounts
    /// swap.
    #[arg(long, value_name = "BYTES", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// CPU time limit in CPUs (1.5 = 150 ms per 100 ms period); 0.01 up to the host's CPUs.
    #[arg(long, value_name = "CPUS", allow_hyphen_values = true)]
    pub cpus: Option<String>,
    /// Relative CPU weight, 2 to 262144 (default 1024).
    #[arg(short = 'c', long, value_name = "N", allow_hyphen_values = true)]
    pub cpu_shares: Option<String>,
    /// The CPUs the container may run on: a list such as 0-3 or 0,2.
    #[arg(long, value_name = "LIST")]
    pub cpuset_cpus: Option<String>,
    /// Maximum number of processes; 0 is a limit of zero (runtime-spec v1.3), -1 unlimited.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub pids_limit: Option<String>,
    /// Relative block I/O weight, 10 to 1000.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub blkio_weight: Option<String>,
    /// Give the container a host device: HOST, HOST:CONTAINER or HOST:CONTAINER:PERMS, with
    /// PERMS a combination of r, w, m (default rwm); CONTAINER defaults to HOST.
    #[arg(long = "device", value_name = "HOST[:CTR[:PERMS]]")]
    pub devices: Vec<String>,
    /// Add a capability to Docker's default set (repeatable): a capabilities(7) name with or
    /// without CAP_, case-insensitive, or ALL. The default seccomp profile follows: e.g.
    /// SYS_ADMIN also allows mount, unshare and setns.
    #[arg(long = "cap-add", value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop a capability from the set (repeatable); ALL drops every one not --cap-add'ed.
    #[arg(long = "cap-drop", value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Give the container every capability, no seccomp filter, no masked or read-only /proc
    /// and /sys paths, and access to every device (devices cgroup rule `a *:* rwm`).
    #[arg(long)]
    pub privileged: bool,
    /// Security options (repeatable): no-new-privileges[=true|false] (default false, as
    /// Podman), seccomp=unconfined, or seccomp=FILE (a profile in the Docker/Podman format).
    #[arg(long = "security-opt", value_name = "OPT")]
    pub security_opt: Vec<String>,
    /// The network: `none` (loopback only, the default), `host`, or `pasta` / `slirp4netns`
    /// (a user-mode network with outbound connectivity).
    #[arg(long, value_enum, default_value_t = NetworkMode::None, value_name = "MODE")]
    pub network: NetworkMode,
    /// With --network pasta or slirp4netns: let the container reach the host's loopback
    /// (127.0.0.1) at the gateway address (10.0.2.2 with slirp4netns). Off by default, as in
    /// Podman: services on the host's loopback trust whoever can connect.
    #[arg(long)]
    pub allow_host_loopback: bool,
    /// Publish a container port on the host (with --network pasta or slirp4netns):
    /// [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|/udp]; HOSTIP defaults to 127.0.0.1 (Docker's is
    /// 0.0.0.0), an IPv6 one goes in brackets.
    #[arg(short = 'p', long = "publish", value_name = "[IP:]HOSTPORT:PORT")]
    pub publish: Vec<String>,
    /// Keep stdin open (without it the container's stdin is /dev/null).
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Give the container a pseudo-terminal.
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Remove the container's record and files when it exits (the default; `--rm=false` keeps
    /// them).
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_value_t = true,
          default_missing_value = "true", require_equals = true, value_name = "BOOL")]
    pub rm: bool,
    /// A root filesystem directory, a rootfs tarball, or `host`.
    #[arg(value_name = "SOURCE")]
    pub source: String,
    /// The command and its arguments (default: /bin/sh).
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("husk").chain(args.iter().copied()))
    }

    fn run_args(args: &[&str]) -> RunArgs {
        match parse(args).unwrap().command {
            Command::Run(r) => r,
        }
    }

    #[test]
    fn everything_after_source_is_the_command() {
        let r = run_args(&[
            "run", "-i", "--name", "c1", "host", "ls", "-l", "--rm", "-t",
        ]);
        assert_eq!(r.source, "host");
        assert_eq!(r.command, vec!["ls", "-l", "--rm", "-t"]);
        assert!(r.interactive);
        assert!(!r.tty);
        assert_eq!(r.name.as_deref(), Some("c1"));
    }

    #[test]
    fn command_starting_with_a_dash_after_source() {
        let r = run_args(&["run", "./rootfs", "-la"]);
        assert_eq!(r.source, "./rootfs");
        assert_eq!(r.command, vec!["-la"]);
    }

    #[test]
    fn combined_short_flags_and_repeated_options() {
        let r = run_args(&[
            "run", "-it", "-e", "A=1", "-e", "B", "-v", "/a:/b:ro", "-v", "/c:/d", "host",
        ]);
        assert!(r.interactive && r.tty);
        assert_eq!(r.env, vec!["A=1", "B"]);
        assert_eq!(r.volume, vec!["/a:/b:ro", "/c:/d"]);
        assert!(r.command.is_empty());
    }

    #[test]
    fn rm_defaults_on_and_can_be_turned_off() {
        assert!(run_args(&["run", "host"]).rm);
        assert!(run_args(&["run", "--rm", "host"]).rm);
        assert!(!run_args(&["run", "--rm=false", "host"]).rm);
    }

    #[test]
    fn network_modes() {
        assert_eq!(run_args(&["run", "host"]).network, NetworkMode::None);
        assert_eq!(
            run_args(&["run", "--network", "host", "host"]).network,
            NetworkMode::Host
        );
        assert!(parse(&["run", "--network", "bridge", "host"]).is_err());
        let r = run_args(&[
            "run",
            "--network",
            "slirp4netns",
            "-p",
            "8080:80",
            "--publish=127.0.0.1:53:53/udp",
            "host",
        ]);
        assert_eq!(r.network, NetworkMode::Slirp4netns);
        assert_eq!(r.publish, ["8080:80", "127.0.0.1:53:53/udp"]);
        assert_eq!(
            run_args(&["run", "--network=pasta", "host"]).network,
            NetworkMode::Pasta
        );
    }

    #[test]
    fn global_options_before_or_after_the_verb() {
        let cli = parse(&["--data-root", "/tmp/d", "run", "--root", "/tmp/r", "host"]).unwrap();
        assert_eq!(cli.global.data_root, Some(PathBuf::from("/tmp/d")));
        assert_eq!(cli.global.root, Some(PathBuf::from("/tmp/r")));
        // Unset: decided at run time (root or rootless).
        let cli = parse(&["run", "host"]).unwrap();
        assert_eq!(cli.global.root, None);
    }

    #[test]
    fn run_help_has_examples_and_exit_statuses() {
        use clap::CommandFactory;
        let mut cmd = Cli::command();
        let help = cmd
            .find_subcommand_mut("run")
            .unwrap()
            .render_long_help()
            .to_string();
        assert!(help.contains("Examples:") && help.contains("husk run -it ./alpine-rootfs sh"));
        assert!(help.contains("125 when husk itself failed"));
    }

    #[test]
    fn resource_options_keep_their_text_for_the_resources_module() {
        let r = run_args(&[
            "run",
            "-m",
            "512m",
            "--memory-swap",
            "-1",
            "--cpus",
            "1.5",
            "-c",
            "512",
            "--cpuset-cpus",
            "0-1",
            "--pids-limit",
            "-1",
            "--blkio-weight",
            "300",
            "--device",
            "/dev/null:/dev/mynull",
            "--device",
            "/dev/zero",
            "host",
        ]);
        assert_eq!(r.memory.as_deref(), Some("512m"));
        assert_eq!(r.memory_swap.as_deref(), Some("-1"));
        assert_eq!(r.cpus.as_deref(), Some("1.5"));
        assert_eq!(r.cpu_shares.as_deref(), Some("512"));
        assert_eq!(r.cpuset_cpus.as_deref(), Some("0-1"));
        assert_eq!(r.pids_limit.as_deref(), Some("-1"));
        assert_eq!(r.blkio_weight.as_deref(), Some("300"));
        assert_eq!(r.devices, ["/dev/null:/dev/mynull", "/dev/zero"]);
        assert_eq!(r.source, "host");
        // A negative value reaches husk's own check (which names the accepted form) instead
        // of being taken for an option.
        assert_eq!(
            run_args(&["run", "--memory", "-5", "host"])
                .memory
                .as_deref(),
            Some("-5")
        );
    }

    #[test]
    fn security_options_are_repeatable() {
        let r = run_args(&[
            "run",
            "--cap-add",
            "sys_admin",
            "--cap-add=NET_ADMIN",
            "--cap-drop",
            "ALL",
            "--privileged",
            "--security-opt",
            "no-new-privileges",
            "--security-opt=seccomp=unconfined",
            "host",
        ]);
        assert_eq!(r.cap_add, ["sys_admin", "NET_ADMIN"]);
        assert_eq!(r.cap_drop, ["ALL"]);
        assert!(r.privileged);
        assert_eq!(r.security_opt, ["no-new-privileges", "seccomp=unconfined"]);
        assert!(!run_args(&["run", "host"]).privileged);
    }

    #[test]
    fn source_is_required() {
        assert!(parse(&["run"]).is_err());
        assert!(parse(&["run", "-i"]).is_err());
    }
}
