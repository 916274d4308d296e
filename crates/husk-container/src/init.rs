//! What the children do: the intermediate (namespaces, then the fork of the init) and the
//! container's init (rootfs, hostname, terminal, wait for `start`, user switch, execve).
//!
//! Both run in a forked copy of the runtime, single-threaded; they never return to the caller's
//! code: each ends in execve(2) or `exit`.

use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use nix::unistd::{setresgid, setresuid, Gid, Uid};
use oci_spec::runtime::{LinuxNamespaceType, Process, Spec};

use crate::capabilities::{self, ResolvedCapabilities};
use crate::container::ExecFailure;
use crate::hooks::{self, HookKind};
use crate::namespaces::{self, Plan};
use crate::process::{set_role_name, Channel, ChildError, ToChild, ToParent};
use crate::rootfs::{self, Rootfs};
use crate::seccomp::SeccompProgram;
use crate::tty;

/// Where the pty master goes when `process.terminal` is true.
#[derive(Debug)]
pub enum ConsoleTarget {
    /// No terminal: stdio passed through.
    None,
    /// Back to the parent over the channel (foreground `run`).
    Parent,
    /// To a `--console-socket`, connected by the parent before the fork.
    Socket(tty::ConsoleSocket),
}

/// Everything the children need, prepared (and checked) by the parent before the fork.
pub struct ChildContext<'a> {
    /// The config.
    pub spec: &'a Spec,
    /// The container id.
    pub id: &'a str,
    /// The namespace plan.
    pub plan: &'a Plan,
    /// The rootfs setup.
    pub rootfs: Rootfs<'a>,
    /// Per entry of `mounts`, the idmapped mount the runtime made for it (`rootfs::idmap`).
    pub idmapped: &'a [Option<crate::rootfs::idmap::Idmapped>],
    /// Resolved capabilities.
    pub caps: &'a ResolvedCapabilities,
    /// The compiled seccomp filter.
    pub seccomp: Option<&'a SeccompProgram>,
    /// Sysctls, process kernel settings and LSM labels, checked by [`crate::kernel::plan`].
    pub kernel: &'a crate::kernel::Settings,
    /// The start socket the init waits on.
    pub start_listener: &'a UnixListener,
    /// Where the terminal goes.
    pub console: ConsoleTarget,
    /// `--no-new-keyring`.
    pub no_new_keyring: bool,
    /// Whether the parent must be asked to run hooks before pivot_root (it answers with the
    /// state JSON the createContainer and startContainer hooks get).
    pub hooks_sync: bool,
    /// How many fds from 3 up the program inherits (LISTEN_FDS, then `--preserve-fds`).
    pub keep_fds: u32,
    /// Send the parent fds of the container's network and user namespaces
    /// ([`ToParent::Namespaces`]).
    pub send_namespaces: bool,
}

fn fail(ch: &Channel, e: ChildError) -> ! {
    let _ = ch.send(&ToParent::Failed(e), &[]);
    std::process::exit(1)
}

/// The intermediate: namespaces, then fork the init. Never returns.
pub fn intermediate(ctx: &ChildContext<'_>, ch: Channel) -> ! {
    set_role_name(c"husk:[1:INTER]");
    // The parent moves this process into the container's cgroup while it makes the
    // namespaces: a v1 cgroup migration waits for an RCU grace period (milliseconds), which
    // is time the unshares can use. Only the cgroup namespace and the init's fork must come
    // after the move (the init inherits the cgroup; the namespace's root is the cgroup then).
    let r = (|| -> Result<(), ChildError> {
        // Order (runc's): a joined user namespace first; then the joined namespaces, which
        // belong to the host's (or that) user namespace, so setns needs our privileges there;
        // then a new user namespace and its maps; then the new namespaces, owned by it.
        if ctx.plan.join_user.is_some() {
            namespaces::enter_user(ctx.plan)?;
            namespaces::become_root()?;
        }
        namespaces::join_others(ctx.plan)?;
        if ctx.plan.new_user {
            namespaces::enter_user(ctx.plan)?;
            ch.send(&ToParent::IdMapRequest, &[])
                .map_err(|e| ChildError::Module(e.to_string()))?;
            match ch.recv::<ToChild>() {
                Ok((ToChild::IdMapsWritten, _)) => {}
                _ => std::process::exit(1),
            }
            namespaces::become_root()?;
        }
        namespaces::unshare_others(ctx.plan)?;
        if ctx.plan.is_new(LinuxNamespaceType::Time) {
            // The uid change of a user namespace made this process non-dumpable, which gives
            // its /proc/self files to the host's root: timens_offsets could not be opened.
            // Dumpable just for that write.
            let userns = ctx.plan.in_userns();
            if userns {
                nix::sys::prctl::set_dumpable(true)
                    .map_err(|e| ChildError::setup("prctl(PR_SET_DUMPABLE, 1)", None, e))?;
            }
            let written = namespaces::write_time_offsets(ctx.spec);
            if userns {
                nix::sys::prctl::set_dumpable(false)
                    .map_err(|e| ChildError::setup("prctl(PR_SET_DUMPABLE, 0)", None, e))?;
            }
            written?;
        }
        if ctx.plan.is_new(LinuxNamespaceType::Network) {
            // A new network namespace has only `lo`, down; bring it up (see the
            // known-differences list: runc leaves it down).
            husk_sys::set_link_up("lo").map_err(|e| ChildError::setup("bring up lo", None, e))?;
        }
        if ctx.send_namespaces {
            send_namespaces(ctx.plan.in_userns(), &ch)?;
        }
        let net_devices = ctx
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.net_devices().as_ref())
            .is_some_and(|d| !d.is_empty());
        if net_devices {
            // The parent moves them into this network namespace before it sends Proceed.
            ch.send(&ToParent::NetNsReady, &[])
                .map_err(|e| ChildError::Module(e.to_string()))?;
        }
        match ch.recv::<ToChild>() {
            Ok((ToChild::Proceed, _)) => {}
            _ => std::process::exit(1),
        }
        namespaces::enter_cgroup(ctx.plan)?;
        // In the container's cgroup now: the kernel bounds the affinity by its cpuset.
        crate::kernel::reset_cpu_affinity();
        // In every namespace of the container, before its root filesystem exists (see the
        // sysctl module), and after the parent's Proceed, by which time it has moved the
        // linux.netDevices in (so net.ipv4.conf.<moved device>.* can be set).
        crate::sysctl::write(&ctx.kernel.sysctls)?;
        Ok(())
    })();
    if let Err(e) = r {
        fail(&ch, e);
    }
    // The init is born non-dumpable (the flag belongs to the mm, which it copies): it may be
    // visible to other processes the moment it exists (a joined pid namespace), and then its
    // /proc files are root's and ptrace needs CAP_SYS_PTRACE over the host. Not earlier: the
    // parent opens this process's /proc/PID/ns files for linux.netDevices above, which a
    // non-dumpable target would refuse to a runtime without CAP_SYS_PTRACE. execve of the
    // container's program resets it.
    if let Err(e) = nix::sys::prctl::set_dumpable(false) {
        fail(&ch, ChildError::setup("prctl(PR_SET_DUMPABLE, 0)", None, e));
    }
    fork_sibling(ch, "the init", |ch| init(ctx, ch))
}

/// In the intermediate, in every namespace of the container: send the parent fds of its
/// network namespace and (`userns`) its user namespace, opened through its own /proc/self,
/// which it may always open.
fn send_namespaces(userns: bool, ch: &Channel) -> Result<(), ChildError> {
    let open = |kind: &str| {
        let path = format!("/proc/self/ns/{kind}");
        std::fs::File::open(&path).map_err(|e| ChildError::setup("open", Some(&path), e))
    };
    let net = open("net")?;
    let user = if userns { Some(open("user")?) } else { None };
    let mut fds = vec![net.as_fd()];
    fds.extend(user.as_ref().map(|u| u.as_fd()));
    ch.send(&ToParent::Namespaces, &fds)
        .map_err(|e| ChildError::Module(e.to_string()))
}

/// In an intermediate: fork `child` with CLONE_PARENT (so it is the runtime's child), report
/// its pid to the runtime ([`ToParent::InitPid`]) and exit. `what` names it in errors. Never
/// returns.
pub(crate) fn fork_sibling(
    ch: Channel,
    what: &str,
    child: impl FnOnce(Channel) -> std::convert::Infallible,
) -> ! {
    match husk_sys::clone_parent() {
        Ok(husk_sys::Forked::Child) => match child(ch) {},
        Ok(husk_sys::Forked::Parent(pid)) => {
            let _ = ch.send(&ToParent::InitPid(pid.as_raw()), &[]);
            std::process::exit(0)
        }
        Err(e) => fail(
            &ch,
            ChildError::setup(format!("clone(CLONE_PARENT) {what}"), None, e),
        ),
    }
}

/// Join a new session keyring named `_ses.<id>`, so the container never shares the caller's
/// (runc does the same). Where keyrings are unavailable (no CONFIG_KEYS, or a seccomp'd
/// caller: ENOSYS, EACCES, EPERM) this is not an error.
///
/// # Errors
/// Other errnos of keyctl(2).
pub(crate) fn join_new_keyring(id: &str) -> Result<(), ChildError> {
    let name = CString::new(format!("_ses.{id}")).unwrap_or_else(|_| CString::from(c"_ses"));
    match husk_sys::join_session_keyring(&name) {
        Ok(()) => Ok(()),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::ENOSYS) | Some(libc::EACCES) | Some(libc::EPERM)
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(ChildError::setup("join a new session keyring", None, e)),
    }
}

/// The container's init. Never returns.
fn init(ctx: &ChildContext<'_>, ch: Channel) -> ! {
    set_role_name(c"husk:[2:INIT]");
    // The LSM exec attributes are opened before any mount of the container exists (see the
    // lsm module) and written just before execve.
    let mut exec_attrs = match crate::lsm::open(&ctx.kernel.labels) {
        Ok(a) => a,
        Err(e) => fail(&ch, e),
    };
    // Whether setgroups(2) is allowed in the container's user namespace, read now through the
    // runtime's /proc: after the root switch /proc is the container's, and without a proc
    // mount the image's own /proc/self/setgroups saying "deny" would make the init skip
    // setgroups and so drop process.user.additionalGids (a group that denies access stops
    // denying it).
    let setgroups_allowed = !ctx.plan.new_user
        || std::fs::read_to_string("/proc/self/setgroups")
            .map(|s| s.trim() == "allow")
            .unwrap_or(true);
    let state_json = match setup(ctx, &ch) {
        Ok(s) => s,
        Err(e) => fail(&ch, e),
    };
    let exec = match process_of(ctx.spec).and_then(prepare_exec) {
        Ok(x) => x,
        Err(e) => fail(&ch, e),
    };
    let console_rdev = match terminal(ctx, &ch) {
        Ok(r) => r,
        Err(e) => fail(&ch, e),
    };
    // Still non-dumpable while waiting for `start` (born so; again here in case a step above
    // changed it): no process of the container can open this process's /proc files or ptrace
    // it. execve(2) resets it.
    if let Err(e) = nix::sys::prctl::set_dumpable(false) {
        fail(&ch, ChildError::setup("prctl(PR_SET_DUMPABLE, 0)", None, e));
    }
    if ch.send(&ToParent::Ready, &[]).is_err() {
        std::process::exit(1);
    }
    drop(ch);
    // Wait for `start`. Errors from here on go to the `start` caller over this connection.
    // Only a connection that says "s" (what `start` sends) starts the container: a stray
    // connect, or a `start` that died before writing, does not.
    // Transient accept(2) failures (no memory or fds for a moment) are retried for a while;
    // a connection reset before it was accepted, always.
    let mut transient_retries = 500; // 10 ms each: 5 s
    let mut conn = loop {
        match ctx.start_listener.accept() {
            Ok((mut c, _)) => {
                let mut go = [0u8; 1];
                if matches!(c.read(&mut go), Ok(1)) && go == *b"s" {
                    break c;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.raw_os_error(), Some(libc::ECONNABORTED | libc::EPROTO)) => {}
            Err(e)
                if transient_retries > 0
                    && matches!(
                        e.raw_os_error(),
                        Some(libc::ENOMEM | libc::ENOBUFS | libc::EMFILE | libc::ENFILE)
                    ) =>
            {
                transient_retries -= 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(_) => std::process::exit(1),
        }
    };
    let r = finalize(
        ctx,
        &state_json,
        &exec,
        &mut exec_attrs,
        setgroups_allowed,
        console_rdev,
    );
    let e = match r {
        Err(e) => e,
        Ok(never) => match never {},
    };
    let _ = conn.write_all(&serde_json::to_vec(&e).unwrap_or_default());
    std::process::exit(match &e {
        ChildError::Exec {
            failure: ExecFailure::NotFound,
            ..
        } => 127,
        ChildError::Exec { .. } => 126,
        _ => 1,
    })
}

/// Before `Ready`: session, keyring, oom score, rootfs, hooks, root switch, hostname.
fn setup(ctx: &ChildContext<'_>, ch: &Channel) -> Result<Vec<u8>, ChildError> {
    // Never share the caller's session (or its controlling terminal).
    nix::unistd::setsid().map_err(|e| ChildError::setup("setsid", None, e))?;
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    if !ctx.no_new_keyring {
        join_new_keyring(ctx.id)?;
    }
    rootfs::prepare(&ctx.rootfs, ctx.idmapped)?;
    // umask 0 was for the device nodes' exact modes; hooks and the cwd get the usual one.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    let mut state_json = Vec::new();
    if ctx.hooks_sync {
        ch.send(&ToParent::CreateRuntimeHooks, &[])
            .map_err(|e| ChildError::Module(e.to_string()))?;
        match ch.recv::<ToChild>() {
            Ok((ToChild::HooksDone(s), _)) => state_json = s.into_bytes(),
            _ => std::process::exit(1),
        }
        let h = ctx
            .spec
            .hooks()
            .as_ref()
            .and_then(|h| h.create_container().clone())
            .unwrap_or_default();
        hooks::run(&h, HookKind::CreateContainer, &state_json)
            .map_err(|e| ChildError::Module(e.to_string()))?;
    }
    rootfs::switch_root(&ctx.rootfs)?;
    if let Some(p) = ctx.spec.process().as_ref() {
        check_cwd(p.cwd())?;
    }
    rootfs::finish(&ctx.rootfs)?;
    // Only in a new uts namespace: validation refuses a hostname without one, and this keeps
    // even an empty hostname from ever reaching the host's (or a joined) namespace.
    let new_uts = ctx.plan.is_new(LinuxNamespaceType::Uts);
    if let Some(h) = ctx.spec.hostname().as_ref().filter(|_| new_uts) {
        nix::unistd::sethostname(h)
            .map_err(|e| ChildError::setup("sethostname", Some("hostname"), e))?;
    }
    if let Some(d) = ctx.spec.domainname().as_ref().filter(|_| new_uts) {
        husk_sys::setdomainname(d)
            .map_err(|e| ChildError::setup("setdomainname", Some("domainname"), e))?;
    }
    Ok(state_json)
}

/// After the root switch: create `process.cwd` when it is missing (as runc does, as the
/// container's root and before the root becomes read-only), resolved inside the container's root
/// with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS). A cwd that goes through a /proc magic
/// link (`/proc/self/fd/N`, `/proc/1/cwd`) is refused: the link could lead to a directory of the
/// host that one of this process's fds still holds (CVE-2024-21626), and chdir(2) would follow
/// it. Other failures (a component not searchable by root on NFS, say) are left to the chdir
/// after the user switch, which reports them.
pub(crate) fn check_cwd(cwd: &Path) -> Result<(), ChildError> {
    let root = std::fs::File::open("/").map_err(|e| ChildError::setup("open /", None, e))?;
    match rootfs::resolve::ensure(&root, cwd, rootfs::resolve::Kind::Dir) {
        Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP) | Some(libc::EXDEV)) => {
            Err(ChildError::Config {
                field: "process.cwd".into(),
                detail: format!(
                    "{} goes through a /proc magic link (such as /proc/self/fd/N or \
                     /proc/PID/cwd) or too many symlinks ({e}): it could lead out of the \
                     container; give a plain directory of the container",
                    cwd.display()
                ),
            })
        }
        _ => Ok(()),
    }
}

/// The resolved program, its argv and envp.
pub(crate) struct Exec {
    path: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    cwd: PathBuf,
}

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn cstring(s: &str, field: &str) -> Result<CString, ChildError> {
    CString::new(s).map_err(|_| ChildError::Config {
        field: field.into(),
        detail: "contains a NUL byte".into(),
    })
}

/// The container's `process` (validation makes sure there is one).
fn process_of(spec: &Spec) -> Result<&Process, ChildError> {
    spec.process().as_ref().ok_or(ChildError::Config {
        field: "process".into(),
        detail: "is missing".into(),
    })
}

/// Inside the container (after the root switch): find args[0] on PATH, build env with HOME.
pub(crate) fn prepare_exec(process: &Process) -> Result<Exec, ChildError> {
    let args = process.args().as_deref().unwrap_or(&[]);
    let arg0 = args.first().ok_or(ChildError::Config {
        field: "process.args".into(),
        detail: "is empty".into(),
    })?;
    let mut env: Vec<String> = process.env().clone().unwrap_or_default();
    let path_var = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH)
        .to_string();
    let cwd = process.cwd().clone();
    let resolved = lookup(arg0, &path_var, &cwd)?;
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        let home = home_of(process.user().uid()).unwrap_or_else(|| "/".into());
        env.push(format!("HOME={home}"));
    }
    Ok(Exec {
        path: cstring(&resolved.to_string_lossy(), "process.args[0]")?,
        argv: args
            .iter()
            .enumerate()
            .map(|(i, a)| cstring(a, &format!("process.args[{i}]")))
            .collect::<Result<_, _>>()?,
        envp: env
            .iter()
            .enumerate()
            .map(|(i, a)| cstring(a, &format!("process.env[{i}]")))
            .collect::<Result<_, _>>()?,
        cwd,
    })
}

/// execvp's search (`man 3 exec`): a name with a `/` is taken as is (relative to cwd), else each
/// PATH entry in turn; the first executable regular file wins.
fn lookup(arg0: &str, path: &str, cwd: &Path) -> Result<PathBuf, ChildError> {
    let check = |p: &Path| -> Option<Result<PathBuf, ExecFailure>> {
        let md = std::fs::metadata(p).ok()?;
        if md.is_file() && md.permissions().mode() & 0o111 != 0 {
            Some(Ok(p.to_path_buf()))
        } else {
            Some(Err(ExecFailure::NotExecutable))
        }
    };
    let fail = |failure| ChildError::Exec {
        path: arg0.to_string(),
        failure,
    };
    if arg0.contains('/') {
        let p = if arg0.starts_with('/') {
            PathBuf::from(arg0)
        } else {
            cwd.join(arg0)
        };
        return match check(&p) {
            Some(r) => r.map_err(fail),
            None => Err(fail(ExecFailure::NotFound)),
        };
    }
    let mut seen_non_exec = false;
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        match check(&Path::new(dir).join(arg0)) {
            Some(Ok(p)) => return Ok(p),
            Some(Err(_)) => seen_non_exec = true,
            None => {}
        }
    }
    Err(fail(if seen_non_exec {
        ExecFailure::NotExecutable
    } else {
        ExecFailure::NotFound
    }))
}

/// The home directory of `uid` in the container's /etc/passwd. Only a regular file is read
/// (opened non-blocking, up to 4 MiB): the image's /etc/passwd could be a FIFO or a device,
/// and an `exec` must not hang on it.
fn home_of(uid: u32) -> Option<String> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open("/etc/passwd")
        .ok()?;
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    let mut passwd = String::new();
    f.take(4 << 20).read_to_string(&mut passwd).ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 6 && f[2].parse::<u32>().ok() == Some(uid)).then(|| f[5].to_string())
    })
}

/// The container's terminal, when `process.terminal` is true: [`make_terminal`], and
/// /dev/console becomes it too.
fn terminal(ctx: &ChildContext<'_>, ch: &Channel) -> Result<Option<u64>, ChildError> {
    let process = process_of(ctx.spec)?;
    let Some(slave) = make_terminal(process, &ctx.console, ch)? else {
        return Ok(None);
    };
    // /dev/console is the container's terminal too (runtime-spec "Default Devices"): a bind
    // of the slave itself (open_tree on its fd), onto a regular file husk made at
    // /dev/console, so neither a path under /dev/pts nor a symlink the image put at
    // /dev/console is followed.
    console(&slave)?;
    Ok(Some(pty_rdev(&slave)?))
}

/// The device number of the pty slave `slave` (what [`Launch::console`] takes).
///
/// # Errors
/// fstat(2)'s errno.
pub(crate) fn pty_rdev(slave: &std::os::fd::OwnedFd) -> Result<u64, ChildError> {
    nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(slave))
        .map(|st| st.st_rdev)
        .map_err(|e| ChildError::setup("fstat the pty slave", None, e))
}

/// When `process.terminal` is true: a pty from the caller's /dev/ptmx (the container's, after
/// the root switch or the mount namespace join), made the caller's controlling terminal and
/// stdio with `process.consoleSize`, its master sent to `target`. Returns the slave (None
/// without a terminal). The caller must be a session leader.
pub(crate) fn make_terminal(
    process: &Process,
    target: &ConsoleTarget,
    ch: &Channel,
) -> Result<Option<std::os::fd::OwnedFd>, ChildError> {
    if !process.terminal().unwrap_or(false) {
        return Ok(None);
    }
    let tty_err = |e: tty::TtyError| ChildError::Module(e.to_string());
    let (master, slave, name) = tty::open_pty().map_err(tty_err)?;
    let size = process.console_size().map(|b| husk_sys::WindowSize {
        rows: b.height() as u16,
        cols: b.width() as u16,
    });
    tty::become_console(&slave, size).map_err(tty_err)?;
    match target {
        ConsoleTarget::None => {}
        ConsoleTarget::Parent => ch
            .send(&ToParent::PtyMaster, &[master.as_fd()])
            .map_err(|e| ChildError::Module(e.to_string()))?,
        ConsoleTarget::Socket(sock) => sock.send(master.as_fd(), &name).map_err(tty_err)?,
    }
    Ok(Some(slave))
}

/// Bind the pty slave `slave` onto /dev/console (after the root switch: / is the container's).
fn console(slave: &std::os::fd::OwnedFd) -> Result<(), ChildError> {
    let err = |step: &str, e: std::io::Error| ChildError::setup(step, Some("/dev/console"), e);
    let root = std::fs::File::open("/").map_err(|e| err("open /", e))?;
    let dev = husk_sys::open_in_root(
        root,
        "dev",
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY,
    )
    .map_err(|e| err("open /dev for", e))?;
    // Made with the devices already when /dev is the container's own; found (or made) here.
    let spot = crate::rootfs::devices::console_mountpoint(&dev)?;
    let mnt = husk_sys::mount::clone_tree(
        Some(std::os::fd::AsFd::as_fd(slave)),
        std::path::Path::new(""),
        false,
        false,
    )
    .map_err(|e| err("clone the pty for", e))?;
    husk_sys::mount::attach(&mnt, &spot).map_err(|e| err("bind the pty onto", e))
}

/// After `start`: startContainer hooks, then [`launch`].
fn finalize(
    ctx: &ChildContext<'_>,
    state_json: &[u8],
    exec: &Exec,
    exec_attrs: &mut [crate::lsm::ExecAttr],
    setgroups_allowed: bool,
    console_rdev: Option<u64>,
) -> Result<std::convert::Infallible, ChildError> {
    if let Some(h) = ctx
        .spec
        .hooks()
        .as_ref()
        .and_then(|h| h.start_container().clone())
    {
        // The state the parent sent was taken during create; at start the container is
        // `created`.
        let mut state: serde_json::Value = serde_json::from_slice(state_json).unwrap_or_default();
        state["status"] = serde_json::json!("created");
        let state = serde_json::to_vec(&state).unwrap_or_default();
        hooks::run(&h, HookKind::StartContainer, &state)
            .map_err(|e| ChildError::Module(e.to_string()))?;
    }
    let launch = Launch {
        process: process_of(ctx.spec)?,
        caps: ctx.caps,
        seccomp: ctx.seccomp,
        kernel: &ctx.kernel.process,
        keep_fds: ctx.keep_fds,
        console: console_rdev,
    };
    launch_program(&launch, state_json, exec, exec_attrs, setgroups_allowed)
}

/// What [`launch_program`] applies to the calling process: the container's init after
/// `start`, or a process of `exec`.
pub(crate) struct Launch<'a> {
    /// The process (user, rlimits, noNewPrivileges, umask).
    pub process: &'a Process,
    /// Its capabilities, resolved.
    pub caps: &'a ResolvedCapabilities,
    /// The seccomp program, loaded last among the privileged steps.
    pub seccomp: Option<&'a SeccompProgram>,
    /// Scheduler, I/O priority, personality, memory policy.
    pub kernel: &'a crate::kernel::ProcessSettings,
    /// Fds 3 to 3+keep_fds-1 stay open across execve (LISTEN_FDS, `--preserve-fds`).
    pub keep_fds: u32,
    /// The device number of the pty husk made for the process (`process.terminal`), the only
    /// terminal whose owner becomes the process's user.
    pub console: Option<u64>,
}

/// The last steps before the program runs, in runc's order: rlimits, kernel settings, LSM
/// labels, signals reset, fds, seccomp (before the capability drop when no_new_privs is off),
/// the bounding set, groups and ids, capabilities, no_new_privs (then seccomp), umask, cwd,
/// execve. Returns only on failure.
pub(crate) fn launch_program(
    l: &Launch<'_>,
    state_json: &[u8],
    exec: &Exec,
    exec_attrs: &mut [crate::lsm::ExecAttr],
    setgroups_allowed: bool,
) -> Result<std::convert::Infallible, ChildError> {
    let m = |e: &dyn std::fmt::Display| ChildError::Module(e.to_string());
    let process = l.process;
    crate::rlimits::apply(process.rlimits().as_deref().unwrap_or(&[])).map_err(|e| m(&e))?;
    // After the hooks (they fork; a SCHED_DEADLINE process may not), while still root and
    // before seccomp: see the kernel module.
    l.kernel.apply()?;
    crate::lsm::apply(exec_attrs)?;
    // Before any seccomp filter: a profile need not allow rt_sigaction or close_range.
    husk_sys::reset_signals();
    husk_sys::cloexec_from(3 + l.keep_fds)
        .map_err(|e| ChildError::setup("close_range(CLOSE_RANGE_CLOEXEC)", None, e))?;
    for fd in 3..3 + l.keep_fds {
        // The caller's fds (LISTEN_FDS, --preserve-fds) reach the program whatever their
        // close-on-exec flag (runc passes them as ExtraFiles, which clears it).
        let fd = fd as std::os::fd::RawFd;
        nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
        )
        .map_err(|e| {
            ChildError::setup("fcntl(F_SETFD) a preserved fd", Some(&fd.to_string()), e)
        })?;
    }
    let nnp = process.no_new_privileges().unwrap_or(false);
    if !nnp {
        // Without no_new_privs, seccomp(2) needs CAP_SYS_ADMIN: load while still privileged.
        if let Some(s) = l.seccomp {
            s.load(state_json).map_err(|e| m(&e))?;
        }
    }
    capabilities::drop_bounding(l.caps).map_err(|e| m(&e))?;
    nix::sys::prctl::set_keepcaps(true)
        .map_err(|e| ChildError::setup("prctl(PR_SET_KEEPCAPS)", None, e))?;
    let user = process.user();
    let gids: Vec<Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| Gid::from_raw(*g))
        .collect();
    if setgroups_allowed {
        nix::unistd::setgroups(&gids)
            .map_err(|e| ChildError::setup("setgroups", Some("process.user.additionalGids"), e))?;
    }
    fix_stdio_ownership(user.uid(), l.console);
    let gid = Gid::from_raw(user.gid());
    setresgid(gid, gid, gid)
        .map_err(|e| ChildError::setup("setresgid", Some("process.user.gid"), e))?;
    let uid = Uid::from_raw(user.uid());
    setresuid(uid, uid, uid)
        .map_err(|e| ChildError::setup("setresuid", Some("process.user.uid"), e))?;
    nix::sys::prctl::set_keepcaps(false)
        .map_err(|e| ChildError::setup("prctl(PR_SET_KEEPCAPS, 0)", None, e))?;
    capabilities::apply(l.caps).map_err(|e| m(&e))?;
    if nnp {
        nix::sys::prctl::set_no_new_privs().map_err(|e| {
            ChildError::setup(
                "prctl(PR_SET_NO_NEW_PRIVS)",
                Some("process.noNewPrivileges"),
                e,
            )
        })?;
        if let Some(s) = l.seccomp {
            s.load(state_json).map_err(|e| m(&e))?;
        }
    }
    let umask = user.umask().unwrap_or(0o022);
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(
        umask as libc::mode_t,
    ));
    nix::unistd::chdir(&exec.cwd).map_err(|e| {
        ChildError::setup(
            "chdir",
            Some(&format!("process.cwd {}", exec.cwd.display())),
            e,
        )
    })?;
    let err = match nix::unistd::execve(&exec.path, &exec.argv, &exec.envp) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    Err(match err {
        nix::Error::ENOENT => ChildError::Exec {
            path: exec.path.to_string_lossy().into_owned(),
            failure: ExecFailure::NotFound,
        },
        nix::Error::EACCES | nix::Error::ENOEXEC | nix::Error::EPERM => ChildError::Exec {
            path: exec.path.to_string_lossy().into_owned(),
            failure: ExecFailure::NotExecutable,
        },
        e => ChildError::setup("execve", Some(&exec.path.to_string_lossy()), e),
    })
}

/// While still root: give the process's user its stdio where that is the pty husk made for it
/// (`console`, its device number) or an anonymous pipe or socket (the caller's pipes), so that
/// reopening /dev/stdout or /proc/self/fd/1 works after the user switch, as runc's
/// `fixStdioPermissions` does. Anything else the caller handed in stays as it is: a terminal of
/// the caller's (the container's user must not get the admin's tty), /dev/null, a regular file,
/// a named FIFO (host files). The group is kept (devpts gives ptys group tty). A refusal (EINVAL
/// for a uid the user namespace does not map, EPERM, EROFS) is not an error: the fd stays usable
/// as it is.
fn fix_stdio_ownership(uid: u32, console: Option<u64>) {
    let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    for fd in [stdin.as_fd(), stdout.as_fd(), stderr.as_fd()] {
        let Ok(st) = nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(&fd)) else {
            continue;
        };
        let eligible = match st.st_mode & libc::S_IFMT {
            libc::S_IFCHR => Some(st.st_rdev) == console,
            libc::S_IFSOCK => true,
            // pipe(2)'s pipes live on pipefs; a FIFO of a filesystem is a host file.
            libc::S_IFIFO => nix::sys::statfs::fstatfs(fd)
                .map(|f| f.filesystem_type() == PIPEFS_MAGIC)
                .unwrap_or(false),
            _ => false,
        };
        if eligible && st.st_uid != uid {
            let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
            let _ = nix::unistd::fchown(raw, Some(Uid::from_raw(uid)), None);
        }
    }
}

/// pipefs's magic number (`linux/magic.h`).
const PIPEFS_MAGIC: nix::sys::statfs::FsType = nix::sys::statfs::FsType(0x5049_5045);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_follows_path_and_classifies_failures() {
        let t = tempfile::tempdir().unwrap();
        let bin = t.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::fs::write(bin.join("tool"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(bin.join("tool"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(bin.join("data"), "x").unwrap();
        let path = format!("/nonexistent:{}", bin.display());
        assert_eq!(
            lookup("tool", &path, Path::new("/")).unwrap(),
            bin.join("tool")
        );
        assert!(matches!(
            lookup("data", &path, Path::new("/")),
            Err(ChildError::Exec {
                failure: ExecFailure::NotExecutable,
                ..
            })
        ));
        assert!(matches!(
            lookup("nope", &path, Path::new("/")),
            Err(ChildError::Exec {
                failure: ExecFailure::NotFound,
                ..
            })
        ));
        assert_eq!(
            lookup("./bin/tool", "", t.path()).unwrap(),
            t.path().join("./bin/tool")
        );
    }
}
