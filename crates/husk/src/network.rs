//! `husk run --network` and `-p/--publish`: which network the container sees, and the user-mode
//! network helpers that connect it without privileges.
//!
//! - `none`: a network namespace of its own with only loopback (the runtime brings `lo` up).
//! - `host`: the host's network namespace.
//! - `pasta` (Debian `passt`) and `slirp4netns`: a network namespace of its own, plus a helper
//!   process on the host that gives it an interface with outbound connectivity (translated to
//!   ordinary sockets of the user running husk) and forwards the `-p` ports from the host.
//!
//! The helper attaches between the runtime's create and start
//! ([`husk_container::container::run_with`]): the runtime hands over fds of the container's
//! network namespace and, when it has one, its user namespace, which the helper receives as
//! fds 5 and 6 and opens as `/proc/self/fd/5` and `/proc/self/fd/6`. The container's program
//! starts only once the helper reports the interface up. The [`Helper`] guard kills and reaps it
//! when the container is gone or when anything fails, and the helper also gets SIGKILL should
//! husk itself die (`PR_SET_PDEATHSIG`; slirp4netns also watches its `--exit-fd`).
//!
//! What the container sees:
//! - slirp4netns: `tap0` with 10.0.2.100/24, gateway 10.0.2.2, which also reaches the host's
//!   loopback (slirp4netns's default, kept), DNS at 10.0.2.3 (slirp4netns's forwarder).
//! - pasta: an interface named and addressed like the host's default-route interface, its
//!   gateway's address reaching the host's loopback (pasta's default), DNS at 169.254.1.1
//!   (`--dns-forward`, relayed to the host's first resolver). pasta needs a host with a default
//!   route to copy.
//!
//! Both get `/etc/resolv.conf` bind-mounted from the container's directory, naming that
//! resolver (plus the host's `search` and `options` lines), as Docker and Podman do.
//!
//! Rootless, the helper joins the container's user namespace to reach its network namespace and
//! opens /dev/net/tun with the user's host credentials (checked up front: it must be mode 0666,
//! udev's default). As root, slirp4netns gets `--enable-sandbox` (it cannot make its sandbox
//! unprivileged without joining a user namespace first), and pasta `--runas 0:0` (it would
//! switch to nobody before opening the namespaces and fail).

use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use husk_container::container::NamespaceFds;

use crate::cli::NetworkMode;

/// The address pasta relays DNS queries from (its `--dns-forward`), the container's resolver.
pub const PASTA_DNS: &str = "169.254.1.1";
/// slirp4netns's built-in DNS forwarder.
pub const SLIRP4NETNS_DNS: &str = "10.0.2.3";
/// The host address of `-p` when none is given: only the host's loopback (Docker binds
/// 0.0.0.0; a rootless container should not be reachable from other machines unless asked).
pub const DEFAULT_HOST_IP: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// How long a helper may take to bring the interface up.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// The fd numbers the helper gets the container's namespaces at.
const NETNS_FD: i32 = 5;
const USERNS_FD: i32 = 6;
/// slirp4netns's API socket, in the helper's directory (its working directory).
const API_SOCKET: &str = "api";
/// slirp4netns's `--ready-fd` and `--exit-fd`.
const READY_FD: i32 = 3;
const EXIT_FD: i32 = 4;

/// Errors of `--network` and `-p`.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// A `-p` value that does not parse.
    #[error("-p {spec:?}: {reason}; the form is [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|/udp]")]
    Publish {
        /// The value as given.
        spec: String,
        /// What is wrong.
        reason: String,
    },
    /// `-p` with a network that has nothing to forward to.
    #[error("-p/--publish needs --network pasta or --network slirp4netns: {0}")]
    PublishNeedsHelper(&'static str),
    /// `--allow-host-loopback` without a helper.
    #[error(
        "--allow-host-loopback is for --network pasta or --network slirp4netns (with none \
         there is no route out; with host the host's loopback is the container's own)"
    )]
    HostLoopbackNeedsHelper,
    /// The helper program is not installed.
    #[error("--network {mode}: `{program}` is not in PATH (Debian: apt-get install {package})")]
    HelperMissing {
        /// The mode.
        mode: &'static str,
        /// The program.
        program: &'static str,
        /// The Debian package holding it.
        package: &'static str,
    },
    /// /dev/net/tun cannot be opened by the user, so no helper can make the interface.
    #[error(
        "--network {mode}: /dev/net/tun is not readable and writable by uid {uid} ({detail}), so \
         {mode} cannot make the container's interface; it is normally mode 0666 (udev's default \
         rule): chmod 0666 /dev/net/tun as root, or use --network none or host"
    )]
    TunInaccessible {
        /// The mode.
        mode: &'static str,
        /// The caller's uid.
        uid: u32,
        /// The access(2) error.
        detail: String,
    },
    /// The helper could not be started.
    #[error("starting {program}: {source}")]
    Spawn {
        /// The program.
        program: &'static str,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The helper exited or reported an error before the interface was up.
    #[error("{program} failed: {detail}")]
    HelperFailed {
        /// The program.
        program: &'static str,
        /// Its status and its own message.
        detail: String,
    },
    /// The helper did not bring the interface up in time.
    #[error("{program} did not bring the container's interface up within {} s", READY_TIMEOUT.as_secs())]
    NotReady {
        /// The program.
        program: &'static str,
    },
    /// slirp4netns refused a port forward.
    #[error("slirp4netns: publishing {publish}: {detail}")]
    Forward {
        /// The port, as `HOSTIP:HOSTPORT->CONTAINERPORT/PROTO`.
        publish: String,
        /// Its answer, or the error talking to it.
        detail: String,
    },
    /// A file or pipe of the helper's.
    #[error("{what}: {source}")]
    Io {
        /// What was done.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> NetworkError {
    let what = what.into();
    move |source| NetworkError::Io { what, source }
}

/// The transport protocol of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// TCP (the default).
    Tcp,
    /// UDP.
    Udp,
}

impl Protocol {
    /// `tcp` or `udp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// One `-p`: connections to HOSTIP:HOSTPORT on the host reach CONTAINERPORT in the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    /// The host address the helper listens on.
    pub host_ip: IpAddr,
    /// The host port.
    pub host_port: u16,
    /// The container's port.
    pub container_port: u16,
    /// TCP or UDP.
    pub protocol: Protocol,
}

impl std::fmt::Display for Publish {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = match self.host_ip {
            IpAddr::V4(a) => a.to_string(),
            IpAddr::V6(a) => format!("[{a}]"),
        };
        write!(
            f,
            "{host}:{}->{}/{}",
            self.host_port,
            self.container_port,
            self.protocol.as_str()
        )
    }
}

/// Parses a `-p` value: `[HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|/udp]` (Docker's form without
/// ranges and without an omitted host port); an IPv6 HOSTIP goes in brackets (`[::1]:8080:80`).
/// HOSTIP defaults to [`DEFAULT_HOST_IP`].
///
/// Errors: [`NetworkError::Publish`] saying what is wrong.
pub fn parse_publish(spec: &str) -> Result<Publish, NetworkError> {
    let bad = |reason: &str| NetworkError::Publish {
        spec: spec.to_owned(),
        reason: reason.to_owned(),
    };
    let (rest, protocol) = match spec.rsplit_once('/') {
        Some((rest, "tcp")) => (rest, Protocol::Tcp),
        Some((rest, "udp")) => (rest, Protocol::Udp),
        Some(_) => return Err(bad("the protocol must be tcp or udp")),
        None => (spec, Protocol::Tcp),
    };
    let (host_ip, ports) = if let Some(v6) = rest.strip_prefix('[') {
        let (addr, ports) = v6
            .split_once("]:")
            .ok_or_else(|| bad("an IPv6 host address in brackets must be followed by `:`"))?;
        let ip = addr
            .parse::<std::net::Ipv6Addr>()
            .map_err(|_| bad(&format!("{addr:?} is not an IPv6 address")))?;
        (IpAddr::V6(ip), ports)
    } else {
        match rest.matches(':').count() {
            1 => (DEFAULT_HOST_IP, rest),
            2 => {
                let (addr, ports) = rest.split_once(':').unwrap_or_default();
                let ip = if addr.is_empty() {
                    DEFAULT_HOST_IP
                } else {
                    addr.parse::<Ipv4Addr>()
                        .map(IpAddr::V4)
                        .map_err(|_| bad(&format!("{addr:?} is not an IPv4 address")))?
                };
                (ip, ports)
            }
            0 => return Err(bad("give the host port too (HOSTPORT:CONTAINERPORT)")),
            _ => return Err(bad("an IPv6 host address goes in brackets ([::1]:8080:80)")),
        }
    };
    let (host_port, container_port) = ports
        .split_once(':')
        .ok_or_else(|| bad("give the host port too (HOSTPORT:CONTAINERPORT)"))?;
    let port = |p: &str| -> Result<u16, NetworkError> {
        if p.contains('-') {
            return Err(bad("port ranges are not supported; give one -p per port"));
        }
        match p.parse::<u16>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(bad(&format!("{p:?} is not a port number (1 to 65535)"))),
        }
    };
    Ok(Publish {
        host_ip,
        host_port: port(host_port)?,
        container_port: port(container_port)?,
        protocol,
    })
}

/// The helper of a mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pasta,
    Slirp4netns,
}

impl Kind {
    fn of(mode: NetworkMode) -> Option<Kind> {
        match mode {
            NetworkMode::None | NetworkMode::Host => None,
            NetworkMode::Pasta => Some(Kind::Pasta),
            NetworkMode::Slirp4netns => Some(Kind::Slirp4netns),
        }
    }

    fn program(self) -> &'static str {
        match self {
            Kind::Pasta => "pasta",
            Kind::Slirp4netns => "slirp4netns",
        }
    }

    fn package(self) -> &'static str {
        match self {
            Kind::Pasta => "passt",
            Kind::Slirp4netns => "slirp4netns",
        }
    }
}

/// `--network` and `-p`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkPlan {
    /// The mode.
    pub mode: NetworkMode,
    /// The `-p` ports.
    pub publish: Vec<Publish>,
    /// The helper's path, found in PATH (pasta and slirp4netns).
    helper: Option<PathBuf>,
    /// `--allow-host-loopback`: the container may reach the host's 127.0.0.1 through the
    /// helper's gateway address.
    host_loopback: bool,
}

impl NetworkPlan {
    /// Checks `--network MODE`, the `-p` values and `--allow-host-loopback`
    /// (`host_loopback`): `-p` and `--allow-host-loopback` only with a helper; the helper
    /// installed (searched in `path`, husk's PATH); /dev/net/tun usable by the caller.
    ///
    /// Errors: [`NetworkError`] naming the option.
    pub fn new(
        mode: NetworkMode,
        publish: &[String],
        host_loopback: bool,
        path: Option<&str>,
    ) -> Result<Self, NetworkError> {
        let publish = publish
            .iter()
            .map(|p| parse_publish(p))
            .collect::<Result<Vec<_>, _>>()?;
        let kind = Kind::of(mode);
        if kind.is_none() && !publish.is_empty() {
            return Err(NetworkError::PublishNeedsHelper(match mode {
                NetworkMode::Host => {
                    "with --network host the container uses the host's ports directly"
                }
                _ => "with --network none the container has only loopback",
            }));
        }
        if kind.is_none() && host_loopback {
            return Err(NetworkError::HostLoopbackNeedsHelper);
        }
        let helper = match kind {
            None => None,
            Some(k) => {
                let found = find_in_path(k.program(), path).ok_or(NetworkError::HelperMissing {
                    mode: k.program(),
                    program: k.program(),
                    package: k.package(),
                })?;
                check_tun(k)?;
                Some(found)
            }
        };
        Ok(Self {
            mode,
            publish,
            helper,
            host_loopback,
        })
    }

    /// Whether the container gets a network namespace of its own (all but `host`).
    pub fn new_namespace(&self) -> bool {
        self.mode != NetworkMode::Host
    }

    /// Whether a helper attaches to the container (pasta, slirp4netns): then the runtime must
    /// hand over the container's namespaces.
    pub fn needs_helper(&self) -> bool {
        self.helper.is_some()
    }

    /// The container's /etc/resolv.conf for this mode (`None`: the root filesystem's own): the
    /// helper's resolver, then the `search`, `domain` and `options` lines of `host_resolv`
    /// (the host's resolv.conf).
    pub fn resolv_conf(&self, host_resolv: &str) -> Option<String> {
        let server = match Kind::of(self.mode)? {
            Kind::Pasta => PASTA_DNS,
            Kind::Slirp4netns => SLIRP4NETNS_DNS,
        };
        let mut text = format!(
            "# written by husk for --network {}\nnameserver {server}\n",
            Kind::of(self.mode)?.program()
        );
        for line in host_resolv.lines() {
            let first = line.split_whitespace().next().unwrap_or("");
            if matches!(first, "search" | "domain" | "options") {
                text.push_str(line.trim());
                text.push('\n');
            }
        }
        Some(text)
    }

    /// Starts the helper on the created container's namespaces and waits until its interface
    /// is up and the `-p` ports are forwarded. `None` for `none` and `host`. The helper's files
    /// (its output, pid file, API socket) go in `dir`, a new directory in the container's
    /// directory (so a run killed by SIGKILL leaves them where the next run of that name, or
    /// removing the container, cleans up), removed when the [`Helper`] is dropped.
    ///
    /// Errors: [`NetworkError`] with the helper's own message; the helper and `dir` are gone
    /// by then.
    pub fn attach(
        &self,
        ns: Option<&NamespaceFds>,
        dir: &Path,
    ) -> Result<Option<Helper>, NetworkError> {
        let (Some(kind), Some(program)) = (Kind::of(self.mode), &self.helper) else {
            return Ok(None);
        };
        let ns = ns.ok_or_else(|| NetworkError::HelperFailed {
            program: kind.program(),
            detail: "the runtime did not hand over the container's network namespace".into(),
        })?;
        let dir = HelperDir::create(dir)?;
        let log_path = dir.path().join("log");
        let log =
            File::create(&log_path).map_err(io(format!("creating {}", log_path.display())))?;
        let log2 = log
            .try_clone()
            .map_err(io(format!("duplicating {}", log_path.display())))?;
        let mut cmd = Command::new(program);
        // slirp4netns binds its API socket relative to this (a socket path has at most 107
        // bytes, and the container's directory may be deeper).
        cmd.current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        let mut fds = vec![(ns.net.as_raw_fd(), NETNS_FD)];
        if let Some(u) = &ns.user {
            fds.push((u.as_raw_fd(), USERNS_FD));
        }
        let root = nix::unistd::geteuid().is_root();
        let helper = match kind {
            Kind::Slirp4netns => {
                let (ready_r, ready_w) = pipe()?;
                let (exit_r, exit_w) = pipe()?;
                fds.push((ready_w.as_raw_fd(), READY_FD));
                fds.push((exit_r.as_raw_fd(), EXIT_FD));
                let api = !self.publish.is_empty();
                cmd.args(slirp4netns_args(
                    ns.user.is_some(),
                    root,
                    api.then_some(Path::new(API_SOCKET)),
                    self.host_loopback,
                ));
                let child = spawn(cmd, &fds, kind)?;
                drop((ready_w, exit_r));
                let mut helper = Helper {
                    program: kind.program(),
                    child,
                    exit_fd: Some(exit_w),
                    log: log_path,
                    dir,
                };
                helper.wait_ready_fd(ready_r)?;
                if api {
                    for p in &self.publish {
                        add_hostfwd(helper.dir.path(), p)?;
                    }
                }
                helper
            }
            Kind::Pasta => {
                let pid_file = dir.path().join("pid");
                let pasta_log = dir.path().join("pasta.log");
                cmd.args(pasta_args(
                    ns.user.is_some(),
                    root,
                    &pid_file,
                    &pasta_log,
                    &self.publish,
                    self.host_loopback,
                ));
                let child = spawn(cmd, &fds, kind)?;
                let mut helper = Helper {
                    program: kind.program(),
                    child,
                    exit_fd: None,
                    log: log_path,
                    dir,
                };
                helper.wait_pid_file(&pid_file)?;
                helper
            }
        };
        tracing::debug!(
            program = helper.program,
            pid = helper.pid(),
            "network helper attached"
        );
        Ok(Some(helper))
    }
}

/// The arguments of slirp4netns (after the program): configure `tap0` (10.0.2.100/24, gateway
/// 10.0.2.2, which reaches the host's loopback only with `host_loopback`, DNS 10.0.2.3), MTU
/// 65520 (Podman's), readiness and exit fds,
/// the namespaces as fds; the sandbox (a mount namespace of its own, capabilities dropped) only
/// as root, where slirp4netns can make it without joining the container's user namespace.
fn slirp4netns_args(
    userns: bool,
    root: bool,
    api: Option<&Path>,
    host_loopback: bool,
) -> Vec<String> {
    let mut a = vec![
        "--configure".to_owned(),
        "--mtu=65520".to_owned(),
        format!("--ready-fd={READY_FD}"),
        format!("--exit-fd={EXIT_FD}"),
        "--enable-seccomp".to_owned(),
    ];
    if !host_loopback {
        a.push("--disable-host-loopback".to_owned());
    }
    if root {
        a.push("--enable-sandbox".to_owned());
    }
    if let Some(api) = api {
        a.push(format!("--api-socket={}", api.display()));
    }
    if userns {
        a.push(format!("--userns-path=/proc/self/fd/{USERNS_FD}"));
    }
    a.push("--netns-type=path".to_owned());
    a.push(format!("/proc/self/fd/{NETNS_FD}"));
    a.push("tap0".to_owned());
    a
}

/// The arguments of pasta (after the program): configure the namespace, in the foreground
/// (husk owns the process), quiet, its log in a file (errors still go to stderr), the pid file
/// as the readiness signal; exactly the `-p` ports forwarded (`none` otherwise: pasta's default
/// `auto` would forward every port the container binds, and `-T`/`-U auto` the host's ports
/// into the container); DNS relayed from [`PASTA_DNS`]; the gateway address mapped to the
/// host's loopback only with `host_loopback` (`--no-map-gw` otherwise). As root pasta would switch to nobody
/// before opening the namespaces, so it is told to stay root.
fn pasta_args(
    userns: bool,
    root: bool,
    pid_file: &Path,
    log: &Path,
    publish: &[Publish],
    host_loopback: bool,
) -> Vec<String> {
    let mut a = vec![
        "--config-net".to_owned(),
        "--foreground".to_owned(),
        "--quiet".to_owned(),
    ];
    if !host_loopback {
        a.push("--no-map-gw".to_owned());
    }
    if root {
        a.extend(["--runas".to_owned(), "0:0".to_owned()]);
    }
    a.extend(["--netns".to_owned(), format!("/proc/self/fd/{NETNS_FD}")]);
    if userns {
        a.extend(["--userns".to_owned(), format!("/proc/self/fd/{USERNS_FD}")]);
    }
    a.extend([
        "--pid".to_owned(),
        pid_file.display().to_string(),
        "--log-file".to_owned(),
        log.display().to_string(),
        "--dns-forward".to_owned(),
        PASTA_DNS.to_owned(),
    ]);
    for (flag, proto) in [("-t", Protocol::Tcp), ("-u", Protocol::Udp)] {
        let mine: Vec<&Publish> = publish.iter().filter(|p| p.protocol == proto).collect();
        if mine.is_empty() {
            a.extend([flag.to_owned(), "none".to_owned()]);
        }
        for p in mine {
            a.extend([
                flag.to_owned(),
                format!("{}/{}:{}", p.host_ip, p.host_port, p.container_port),
            ]);
        }
    }
    a.extend([
        "-T".to_owned(),
        "none".to_owned(),
        "-U".to_owned(),
        "none".to_owned(),
    ]);
    a
}

fn pipe() -> Result<(OwnedFd, OwnedFd), NetworkError> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| NetworkError::Io {
        what: "pipe2".into(),
        source: e.into(),
    })
}

fn spawn(mut cmd: Command, fds: &[(i32, i32)], kind: Kind) -> Result<Child, NetworkError> {
    husk_sys::spawn::pass_fds(&mut cmd, fds);
    husk_sys::spawn::kill_with_parent(&mut cmd);
    let child = cmd.spawn().map_err(|source| NetworkError::Spawn {
        program: kind.program(),
        source,
    })?;
    tracing::debug!(
        program = kind.program(),
        pid = child.id(),
        "network helper started"
    );
    Ok(child)
}

/// The helper's directory, removed with everything in it when dropped.
#[derive(Debug)]
struct HelperDir(PathBuf);

impl HelperDir {
    fn create(path: &Path) -> Result<Self, NetworkError> {
        std::fs::create_dir(path).map_err(io(format!("creating {}", path.display())))?;
        Ok(Self(path.to_owned()))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for HelperDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            tracing::warn!(error = %e, "removing {}", self.0.display());
        }
    }
}

/// A running network helper. Dropping it kills (SIGKILL) and reaps it, then removes its
/// directory (its output, pid file, API socket).
#[derive(Debug)]
pub struct Helper {
    program: &'static str,
    child: Child,
    /// slirp4netns's `--exit-fd` peer: it exits when this closes.
    exit_fd: Option<OwnedFd>,
    log: PathBuf,
    /// Dropped after `drop` has killed the helper (fields drop after `Drop::drop`).
    dir: HelperDir,
}

impl Helper {
    /// The helper's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The helper exited (reaped): its status and its last messages.
    fn failed(&mut self, status: std::process::ExitStatus) -> NetworkError {
        NetworkError::HelperFailed {
            program: self.program,
            detail: format!("{status}: {}", self.message()),
        }
    }

    /// The helper's last meaningful lines of output (informational ones left out).
    fn message(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| {
                !l.is_empty()
                    && !l.starts_with("WARNING")
                    && !l.starts_with('*')
                    && !l.starts_with("sent tapfd")
                    && !l.starts_with("received tapfd")
                    && !l.starts_with("Starting slirp")
                    && !l.starts_with("Failed to send")
            })
            .collect();
        if lines.is_empty() {
            return "no message".into();
        }
        lines[lines.len().saturating_sub(3)..].join("; ")
    }

    /// Waits for `1` on slirp4netns's `--ready-fd` (end of file: it exited).
    fn wait_ready_fd(&mut self, ready: OwnedFd) -> Result<(), NetworkError> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut file = File::from(ready);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(NetworkError::NotReady {
                    program: self.program,
                });
            }
            let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
            let mut fds = [PollFd::new(
                std::os::fd::AsFd::as_fd(&file),
                PollFlags::POLLIN,
            )];
            match poll(&mut fds, PollTimeout::from(ms)) {
                Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
                Ok(_) => {}
                Err(e) => return Err(io("poll on slirp4netns's --ready-fd")(e.into())),
            }
            let mut byte = [0u8; 1];
            match file.read(&mut byte) {
                Ok(1) if byte[0] == b'1' => return Ok(()),
                Ok(1) => continue,
                Ok(_) => {
                    let status = self.child.wait().map_err(io("waiting for slirp4netns"))?;
                    return Err(self.failed(status));
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io("reading slirp4netns's --ready-fd")(e)),
            }
        }
    }

    /// Waits until pasta writes its pid file (it does once the namespace is configured).
    fn wait_pid_file(&mut self, pid_file: &Path) -> Result<(), NetworkError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self
                .child
                .try_wait()
                .map_err(io(format!("waiting for {}", self.program)))?
            {
                return Err(self.failed(status));
            }
            if std::fs::read_to_string(pid_file).is_ok_and(|s| !s.trim().is_empty()) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(NetworkError::NotReady {
                    program: self.program,
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        self.exit_fd = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Asks slirp4netns, through its API socket [`API_SOCKET`] in `dir`, to forward `p`
/// (`add_hostfwd`, man slirp4netns). The socket is reached as `/proc/self/fd/N/api` through an
/// fd of `dir`, which keeps the path short whatever the directory's.
fn add_hostfwd(dir: &Path, p: &Publish) -> Result<(), NetworkError> {
    let fail = |detail: String| NetworkError::Forward {
        publish: p.to_string(),
        detail,
    };
    let request = serde_json::json!({
        "execute": "add_hostfwd",
        "arguments": {
            "proto": p.protocol.as_str(),
            "host_addr": p.host_ip.to_string(),
            "host_port": p.host_port,
            "guest_port": p.container_port,
        }
    });
    let api = dir.join(API_SOCKET);
    let dir_fd = File::open(dir).map_err(|e| fail(format!("opening {}: {e}", dir.display())))?;
    let mut s = UnixStream::connect(format!("/proc/self/fd/{}/{API_SOCKET}", dir_fd.as_raw_fd()))
        .map_err(|e| fail(format!("connecting to {}: {e}", api.display())))?;
    drop(dir_fd);
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .and_then(|()| s.write_all(request.to_string().as_bytes()))
        .and_then(|()| s.shutdown(std::net::Shutdown::Write))
        .map_err(|e| fail(format!("sending the request: {e}")))?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)
        .map_err(|e| fail(format!("reading the answer: {e}")))?;
    let v: serde_json::Value =
        serde_json::from_str(&answer).map_err(|e| fail(format!("answer {answer:?}: {e}")))?;
    if v.get("return").is_some() {
        return Ok(());
    }
    let desc = v["error"]["desc"].as_str().unwrap_or(answer.trim());
    Err(fail(format!(
        "{desc} (is the host port in use, or below 1024 without privilege?)"
    )))
}

/// `program` in the `:`-separated `path` (husk's PATH; a default when unset), as `which`.
fn find_in_path(program: &str, path: Option<&str>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = path.unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(program))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The helper opens /dev/net/tun with the caller's host credentials (even inside the
/// container's user namespace): without read and write access it fails with a bare EACCES.
fn check_tun(kind: Kind) -> Result<(), NetworkError> {
    use nix::unistd::{access, AccessFlags};
    match access("/dev/net/tun", AccessFlags::R_OK | AccessFlags::W_OK) {
        Ok(()) => Ok(()),
        Err(e) => Err(NetworkError::TunInaccessible {
            mode: kind.program(),
            uid: nix::unistd::getuid().as_raw(),
            detail: std::io::Error::from(e).to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(host_ip: &str, host_port: u16, container_port: u16, protocol: Protocol) -> Publish {
        Publish {
            host_ip: host_ip.parse().unwrap(),
            host_port,
            container_port,
            protocol,
        }
    }

    #[test]
    fn publish_forms() {
        assert_eq!(
            parse_publish("8080:80").unwrap(),
            p("127.0.0.1", 8080, 80, Protocol::Tcp)
        );
        assert_eq!(
            parse_publish("0.0.0.0:53:5353/udp").unwrap(),
            p("0.0.0.0", 53, 5353, Protocol::Udp)
        );
        assert_eq!(
            parse_publish(":8080:80/tcp").unwrap(),
            p("127.0.0.1", 8080, 80, Protocol::Tcp)
        );
        assert_eq!(
            parse_publish("[::1]:8080:80").unwrap(),
            p("::1", 8080, 80, Protocol::Tcp)
        );
        assert_eq!(
            parse_publish("[::1]:8080:80").unwrap().to_string(),
            "[::1]:8080->80/tcp"
        );
        let reason = |s: &str| match parse_publish(s).unwrap_err() {
            NetworkError::Publish { reason, .. } => reason,
            e => panic!("{e}"),
        };
        assert!(reason("80").contains("host port"));
        assert!(reason("8080:80/sctp").contains("tcp or udp"));
        assert!(reason("8080-8081:80-81").contains("ranges"));
        assert!(reason("0:80").contains("1 to 65535"));
        assert!(reason("8080:70000").contains("1 to 65535"));
        assert!(reason("example.org:8080:80").contains("IPv4"));
        assert!(reason("::1:8080:80").contains("brackets"));
        assert!(reason("[::1:8080:80").contains("brackets"));
        assert!(reason("[nope]:8080:80").contains("IPv6"));
        let e = parse_publish("x").unwrap_err().to_string();
        assert!(e.starts_with("-p \"x\": ") && e.contains("[HOSTIP:]HOSTPORT"));
    }

    #[test]
    fn publish_needs_a_helper() {
        for mode in [NetworkMode::None, NetworkMode::Host] {
            let e = NetworkPlan::new(mode, &["8080:80".into()], false, None).unwrap_err();
            assert!(matches!(e, NetworkError::PublishNeedsHelper(_)), "{e}");
            assert!(e
                .to_string()
                .contains("--network pasta or --network slirp4netns"));
        }
        let plan = NetworkPlan::new(NetworkMode::None, &[], false, None).unwrap();
        assert!(plan.new_namespace() && !plan.needs_helper());
        assert!(!NetworkPlan::new(NetworkMode::Host, &[], false, None)
            .unwrap()
            .new_namespace());
    }

    #[test]
    fn a_missing_helper_is_named_with_its_package() {
        let e = NetworkPlan::new(NetworkMode::Pasta, &[], false, Some("/nonexistent-husk"))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "--network pasta: `pasta` is not in PATH (Debian: apt-get install passt)"
        );
        let e = NetworkPlan::new(NetworkMode::Slirp4netns, &[], false, Some("")).unwrap_err();
        assert!(e.to_string().contains("apt-get install slirp4netns"), "{e}");
    }

    #[test]
    fn find_in_path_wants_an_executable_file() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("tool");
        std::fs::write(&f, "").unwrap();
        let path = format!("/nonexistent:{}", d.path().display());
        assert_eq!(find_in_path("tool", Some(&path)), None);
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(find_in_path("tool", Some(&path)), Some(f));
    }

    #[test]
    fn resolv_conf_names_the_helpers_resolver_and_keeps_search_and_options() {
        let host =
            "# generated\nnameserver 127.0.0.53\nsearch example.org\noptions edns0 trust-ad\n";
        let plan = |mode| NetworkPlan {
            mode,
            publish: Vec::new(),
            helper: None,
            host_loopback: false,
        };
        assert_eq!(plan(NetworkMode::None).resolv_conf(host), None);
        assert_eq!(plan(NetworkMode::Host).resolv_conf(host), None);
        assert_eq!(
            plan(NetworkMode::Slirp4netns).resolv_conf(host).unwrap(),
            "# written by husk for --network slirp4netns\nnameserver 10.0.2.3\n\
             search example.org\noptions edns0 trust-ad\n"
        );
        let pasta = plan(NetworkMode::Pasta).resolv_conf("").unwrap();
        assert!(pasta.ends_with("\nnameserver 169.254.1.1\n"), "{pasta}");
    }

    #[test]
    fn helper_arguments() {
        let a = slirp4netns_args(true, false, Some(Path::new("api")), true);
        assert_eq!(
            a.join(" "),
            "--configure --mtu=65520 --ready-fd=3 --exit-fd=4 --enable-seccomp \
             --api-socket=api --userns-path=/proc/self/fd/6 --netns-type=path \
             /proc/self/fd/5 tap0"
        );
        let a = slirp4netns_args(false, true, None, false);
        assert!(a.contains(&"--enable-sandbox".to_owned()));
        assert!(a.contains(&"--disable-host-loopback".to_owned()));
        assert!(!a.iter().any(|x| x.starts_with("--userns-path")));

        let ports = [
            p("127.0.0.1", 8080, 80, Protocol::Tcp),
            p("::1", 8081, 81, Protocol::Tcp),
        ];
        let a = pasta_args(
            true,
            false,
            Path::new("/t/pid"),
            Path::new("/t/log"),
            &ports,
            true,
        );
        assert_eq!(
            a.join(" "),
            "--config-net --foreground --quiet --netns /proc/self/fd/5 --userns /proc/self/fd/6 \
             --pid /t/pid --log-file /t/log --dns-forward 169.254.1.1 \
             -t 127.0.0.1/8080:80 -t ::1/8081:81 -u none -T none -U none"
        );
        let a = pasta_args(false, true, Path::new("/p"), Path::new("/l"), &[], false).join(" ");
        assert!(a.contains("--runas 0:0") && !a.contains("--userns"), "{a}");
        assert!(a.contains("--no-map-gw"), "{a}");
        assert!(a.contains("-t none -u none -T none -U none"), "{a}");
    }
}
