//! `exec`: start another process in an existing container (runc's `exec`; runtime-spec leaves it
//! to runtimes, and engines call it for `podman exec`, `ctr task exec` and Kubernetes probes).
//!
//! The process is the container's own `process` with the command-line flags applied, or the
//! whole `--process FILE` (see [`exec_process`]). It is started in three steps:
//! - the runtime forks an intermediate, born in (cgroup v2, clone3 CLONE_INTO_CGROUP) or moved
//!   into the container's cgroup;
//! - the intermediate joins every namespace of the container's init but the mount namespace,
//!   in one setns(2) on a pidfd of the init (`man 2 setns`, Linux 5.8: the kernel joins the
//!   user namespace first), so the pid and time namespaces apply to its children; it forks the
//!   process with CLONE_PARENT, so the process is the runtime's child (and, after a `--detach`
//!   runtime exits, its caller's subreaper's);
//! - the process opens its LSM attributes and the init's root in the host's /proc, joins the
//!   mount namespace, takes the init's root as its own (fchdir + chroot), makes its terminal,
//!   and then takes the same last steps as the container's init
//!   ([`crate::init::launch_program`]).
//!
//! Into a paused container (`--ignore-paused`) the process is set up outside the frozen cgroup
//! and moved in just before its execve, so those setup steps (opening the container's
//! /dev/ptmx, reading its /etc/passwd, checking the cwd) are not under the container's cgroup,
//! its device rules included; it freezes there until `resume`.
//!
//! It is non-dumpable from its fork until execve, so nothing in the container can open its
//! /proc files or ptrace it while it still holds the runtime's memory.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::LinuxNamespaceType;
use serde_json::{json, Value};
use tracing::{debug, warn};

use crate::container::{io, state_json, wait_foreground, ContainerError};
use crate::init::{ConsoleTarget, Launch};
use crate::namespaces;
use crate::process::{set_role_name, Channel, ChannelError, ChildError, ToChild, ToParent};
use crate::spec::Config;
use crate::state::{self, Status};

/// Where the process of `exec` comes from.
#[derive(Debug, Clone)]
pub enum ExecProcess {
    /// `--process FILE`: a runtime-spec `process` object.
    File(PathBuf),
    /// The command line: the container's `process` with these changes.
    Args(ExecArgs),
}

/// The process flags of `exec` (runc 1.1's).
#[derive(Debug, Clone, Default)]
pub struct ExecArgs {
    /// The command and its arguments (`process.args`); must not be empty.
    pub args: Vec<String>,
    /// `--tty`: `process.terminal`.
    pub tty: bool,
    /// `--cwd`: `process.cwd`.
    pub cwd: Option<PathBuf>,
    /// `--env KEY=VALUE`: replaces the variable in `process.env`, or adds it.
    pub env: Vec<String>,
    /// `--user UID[:GID]`: numeric ids in the container's user namespace.
    pub user: Option<String>,
    /// `--additional-gids`: `process.user.additionalGids`.
    pub additional_gids: Vec<u32>,
    /// `--cap`: added to the bounding, effective and permitted sets (runc 1.1's sets).
    pub caps: Vec<String>,
    /// `--no-new-privs`: `process.noNewPrivileges` true.
    pub no_new_privs: bool,
    /// `--apparmor`: `process.apparmorProfile`.
    pub apparmor: Option<String>,
    /// `--process-label`: `process.selinuxLabel`.
    pub process_label: Option<String>,
}

/// Options of `exec`.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// The state root (`--root`).
    pub root: PathBuf,
    /// The container id.
    pub id: String,
    /// The process.
    pub process: ExecProcess,
    /// `--console-socket`: where the pty master goes when the process has a terminal.
    pub console_socket: Option<PathBuf>,
    /// `--detach`: return once the process runs.
    pub detach: bool,
    /// `--pid-file`: the process's pid, written atomically once it runs.
    pub pid_file: Option<PathBuf>,
    /// `--preserve-fds N`: fds 3 to 3+N-1 reach the process.
    pub preserve_fds: u32,
    /// `--cgroup`: sub-cgroups of the container's, `PATH` or `CONTROLLERS:PATH`.
    pub cgroup: Vec<String>,
    /// `--ignore-paused`: exec into a paused container (the process starts frozen).
    pub ignore_paused: bool,
}

/// The fields of `process` a `--process FILE` may leave out and then gets from the container's
/// process, as runc does (libcontainer's `newInitConfig`).
const INHERITED: &[&str] = &[
    "capabilities",
    "rlimits",
    "noNewPrivileges",
    "apparmorProfile",
    "selinuxLabel",
    "oomScoreAdj",
];

fn bad(field: &'static str, detail: impl Into<String>) -> ContainerError {
    ContainerError::Config {
        field,
        detail: detail.into(),
    }
}

/// The `process` object of an exec: from `--process FILE` (the file's object, with the
/// [`INHERITED`] fields it lacks taken from `container`, the container's `process`; an empty
/// string or array counts as absent), or the container's process with the flags of `args`
/// applied.
///
/// # Errors
/// [`ContainerError::Config`] naming the flag or the file: an unreadable or non-JSON file, an
/// empty command, a `--user` that is not `UID[:GID]`, an `--env` without `=`.
pub fn exec_process(container: &Value, process: &ExecProcess) -> Result<Value, ContainerError> {
    match process {
        ExecProcess::File(path) => {
            let text = std::fs::read(path)
                .map_err(|e| bad("--process", format!("{}: {e}", path.display())))?;
            let mut p: Value = serde_json::from_slice(&text).map_err(|e| {
                bad(
                    "--process",
                    format!("{}: not a JSON process object: {e}", path.display()),
                )
            })?;
            let Value::Object(obj) = &mut p else {
                return Err(bad(
                    "--process",
                    format!("{}: not a JSON object", path.display()),
                ));
            };
            for field in INHERITED {
                let missing = match obj.get(*field) {
                    None | Some(Value::Null) => true,
                    Some(Value::String(s)) => s.is_empty(),
                    Some(Value::Array(a)) => a.is_empty(),
                    Some(_) => false,
                };
                if missing {
                    match container.get(*field) {
                        Some(v) => {
                            obj.insert((*field).into(), v.clone());
                        }
                        None => {
                            obj.remove(*field);
                        }
                    }
                }
            }
            Ok(p)
        }
        ExecProcess::Args(a) => {
            if a.args.is_empty() {
                return Err(bad(
                    "exec",
                    "no command: give it after the container id, or use --process FILE",
                ));
            }
            let mut p = match container {
                Value::Object(_) => container.clone(),
                _ => json!({}),
            };
            p["args"] = json!(a.args);
            p["terminal"] = json!(a.tty);
            if let Some(cwd) = &a.cwd {
                p["cwd"] = json!(cwd);
            }
            let mut env: Vec<String> = p["env"]
                .as_array()
                .map(|v| {
                    v.iter()
                        .filter_map(|e| e.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            for kv in &a.env {
                let Some((key, _)) = kv.split_once('=') else {
                    return Err(bad("--env", format!("{kv:?} is not KEY=VALUE")));
                };
                // Replaced where it was (its first place), else added at the end.
                let prefix = format!("{key}=");
                match env.iter().position(|e| e.starts_with(&prefix)) {
                    Some(i) => {
                        env[i] = kv.clone();
                        let mut n = 0;
                        env.retain(|e| {
                            n += 1;
                            n - 1 <= i || !e.starts_with(&prefix)
                        });
                    }
                    None => env.push(kv.clone()),
                }
            }
            p["env"] = json!(env);
            if !p["user"].is_object() {
                p["user"] = json!({"uid": 0, "gid": 0});
            }
            if let Some(u) = &a.user {
                let (uid, gid) = parse_user(u)?;
                p["user"]["uid"] = json!(uid);
                if let Some(gid) = gid {
                    p["user"]["gid"] = json!(gid);
                }
            }
            if !a.additional_gids.is_empty() {
                p["user"]["additionalGids"] = json!(a.additional_gids);
            }
            if !a.caps.is_empty() {
                if !p["capabilities"].is_object() {
                    p["capabilities"] = json!({});
                }
                for set in ["bounding", "effective", "permitted"] {
                    let mut names: Vec<Value> = p["capabilities"][set]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    for cap in &a.caps {
                        let up = cap.to_ascii_uppercase();
                        let name = if up.starts_with("CAP_") {
                            up
                        } else {
                            format!("CAP_{up}")
                        };
                        if !names.iter().any(|n| n.as_str() == Some(&name)) {
                            names.push(json!(name));
                        }
                    }
                    p["capabilities"][set] = Value::Array(names);
                }
            }
            if a.no_new_privs {
                p["noNewPrivileges"] = json!(true);
            }
            if let Some(profile) = &a.apparmor {
                p["apparmorProfile"] = json!(profile);
            }
            if let Some(label) = &a.process_label {
                p["selinuxLabel"] = json!(label);
            }
            Ok(p)
        }
    }
}

/// `--user UID[:GID]`, numeric as in runc.
fn parse_user(u: &str) -> Result<(u32, Option<u32>), ContainerError> {
    let err = || {
        bad(
            "--user",
            format!("{u:?} is not UID[:GID] (numbers, e.g. 1000 or 1000:1000)"),
        )
    };
    let (uid, gid) = match u.split_once(':') {
        Some((uid, gid)) => (uid, Some(gid)),
        None => (u, None),
    };
    let uid = uid.parse::<u32>().map_err(|_| err())?;
    let gid = gid
        .map(|g| g.parse::<u32>().map_err(|_| err()))
        .transpose()?;
    Ok((uid, gid))
}

/// The cgroup.procs files the process is written to: the container's cgroup, or the
/// `--cgroup` sub-cgroups of it.
fn cgroup_targets(
    cg: &husk_cgroups::Cgroup,
    subs: &[String],
) -> Result<Vec<PathBuf>, ContainerError> {
    let mut out: Vec<PathBuf> = cg.dirs().iter().map(|d| d.path().to_path_buf()).collect();
    for spec in subs {
        let (controllers, path) = match spec.split_once(':') {
            Some((c, p)) => (Some(c.split(',').collect::<Vec<_>>()), p),
            None => (None, spec.as_str()),
        };
        let rel = Path::new(path.trim_start_matches('/'));
        if path.is_empty()
            || rel
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(bad(
                "--cgroup",
                format!(
                    "{spec:?}: the path must name a sub-cgroup of the container's, without `..`"
                ),
            ));
        }
        let mut matched = false;
        for (i, d) in cg.dirs().iter().enumerate() {
            let wanted = match &controllers {
                None => true,
                Some(list) => match d.version() {
                    husk_cgroups::CgroupVersion::V2 => {
                        list.iter().any(|c| c.is_empty() || *c == "unified")
                    }
                    husk_cgroups::CgroupVersion::V1 => {
                        list.iter().any(|c| d.controllers().iter().any(|h| h == c))
                    }
                },
            };
            if !wanted {
                continue;
            }
            let target = d.path().join(rel);
            if !target.is_dir() {
                return Err(bad(
                    "--cgroup",
                    format!(
                        "{spec:?}: {} does not exist (make the sub-cgroup first)",
                        target.display()
                    ),
                ));
            }
            out[i] = target;
            matched = true;
        }
        if !matched {
            return Err(bad(
                "--cgroup",
                format!("{spec:?}: no cgroup hierarchy of the container has those controllers"),
            ));
        }
    }
    Ok(out)
}

/// What the exec's children get from the runtime.
struct ExecContext<'a> {
    id: &'a str,
    process: &'a oci_spec::runtime::Process,
    /// A pidfd of the container's init.
    init: &'a OwnedFd,
    /// The init's pid.
    init_pid: i32,
    /// The namespaces to join before the fork (all the container's but mount).
    join: CloneFlags,
    /// Whether a user namespace is among them.
    join_user: bool,
    /// Whether to join the mount namespace (husk containers always have one).
    join_mount: bool,
    caps: &'a crate::capabilities::ResolvedCapabilities,
    seccomp: Option<&'a crate::seccomp::SeccompProgram>,
    kernel: &'a crate::kernel::Settings,
    console: ConsoleTarget,
    keep_fds: u32,
    state_json: &'a [u8],
    /// The container is paused (`--ignore-paused`): the cgroup is joined last.
    paused: bool,
}

/// Kills and reaps the exec's children until disarmed.
struct ExecGuard(Vec<Pid>);

impl Drop for ExecGuard {
    fn drop(&mut self) {
        for pid in &self.0 {
            let _ = kill(*pid, Signal::SIGKILL);
            let _ = waitpid(*pid, None);
        }
    }
}

/// `exec`: start a process in the container `opts.id` and, unless `--detach`, wait for it,
/// forwarding signals and proxying its terminal as a foreground `run` does. Returns its exit
/// status (128+N when it died of signal N; 0 with `--detach`).
///
/// # Errors
/// [`ContainerError::WrongStatus`] when the container is stopped (or paused, without
/// `--ignore-paused`); the config errors of the merged process naming its field; the
/// process's setup error (e.g. [`ChildError::Exec`] when its program is not found). Nothing is
/// left running on error.
pub fn exec(opts: &ExecOptions) -> Result<i32, ContainerError> {
    // A shared lock: execs into one container go on side by side (see StateDir::open_shared).
    crate::id::validate(&opts.id)?;
    let dir = state::StateDir::open_shared(&opts.root, &opts.id)?;
    let st = dir.read_state()?;
    let status = st.live_status();
    let refuse = |hint: &'static str| ContainerError::WrongStatus {
        verb: "exec in",
        id: opts.id.clone(),
        status,
        hint,
    };
    match status {
        Status::Created | Status::Running => {}
        Status::Paused if opts.ignore_paused => {}
        Status::Paused => return Err(refuse("; resume it first, or use --ignore-paused")),
        _ => return Err(refuse("; only a created or running container takes exec")),
    }
    let init = st.init.ok_or_else(|| refuse("; it has no init process"))?;
    // The pidfd pins the process: checked alive (pid and start time) after it is opened, every
    // namespace joined through it is the init's.
    let pidfd = husk_sys::pidfd_open(Pid::from_raw(init.pid)).map_err(io(format!(
        "pidfd_open the container's init ({})",
        init.pid
    )))?;
    if !init.is_alive() {
        return Err(ContainerError::WrongStatus {
            verb: "exec in",
            id: opts.id.clone(),
            status: Status::Stopped,
            hint: "; only a created or running container takes exec",
        });
    }

    // The merged process, checked by the config's own rules (field names as in config.json).
    let raw: Value = serde_json::from_slice(&dir.read_config()?)
        .map_err(|e| io("read the config snapshot")(std::io::Error::other(e)))?;
    let process = exec_process(raw.get("process").unwrap_or(&Value::Null), &opts.process)?;
    let mut merged = raw.clone();
    merged["process"] = process;
    let exec_config = Config::from_snapshot(&serde_json::to_vec(&merged).unwrap_or_default())?;
    for w in &exec_config.warnings {
        debug!("{w}");
    }
    let spec = &exec_config.spec;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| bad("process", "is missing"))?;
    crate::rlimits::check(process.rlimits().as_deref().unwrap_or(&[]))?;
    let terminal = process.terminal().unwrap_or(false);
    let console =
        match (terminal, opts.detach, &opts.console_socket) {
            (false, _, _) => ConsoleTarget::None,
            (true, _, Some(p)) => ConsoleTarget::Socket(crate::tty::connect_console_socket(p)?),
            (true, false, None) => ConsoleTarget::Parent,
            (true, true, None) => return Err(bad(
                "process.terminal",
                "is true (--tty), which needs a console socket (--console-socket) with --detach",
            )),
        };
    let c = exec_config.capabilities.clone().unwrap_or_default();
    let (caps, cap_warnings) = crate::capabilities::resolve(
        c.bounding.as_deref(),
        c.effective.as_deref(),
        c.inheritable.as_deref(),
        c.permitted.as_deref(),
        c.ambient.as_deref(),
        spec.linux().as_ref().is_some_and(|l| {
            l.namespaces()
                .iter()
                .flatten()
                .any(|n| n.typ() == LinuxNamespaceType::User)
        }),
    );
    // The container's own capabilities were warned about at create.
    let own_caps = merged["process"]["capabilities"] == raw["process"]["capabilities"];
    for w in cap_warnings {
        if own_caps {
            debug!("{w}");
        } else {
            warn!("{w}");
        }
    }
    let linux = spec.linux().as_ref();
    let mut seccomp = linux
        .and_then(|l| l.seccomp().as_ref())
        .map(crate::seccomp::compile_cached)
        .transpose()?;
    if let Some(s) = &mut seccomp {
        s.connect_listener()?;
    }

    // The container's namespaces, as the init has them; one the caller shares already (a
    // `path` to the host's) is not joined again (setns refuses the caller's own user
    // namespace).
    let mut join = CloneFlags::empty();
    let mut join_user = false;
    let mut join_mount = false;
    let mut all = CloneFlags::empty();
    for ns in linux
        .and_then(|l| l.namespaces().as_ref())
        .into_iter()
        .flatten()
    {
        let t = ns.typ();
        let name = match t {
            LinuxNamespaceType::Mount => "mnt",
            LinuxNamespaceType::Network => "net",
            LinuxNamespaceType::Pid => "pid",
            other => namespaces::name(other),
        };
        let same = |a: &str, b: &str| match (std::fs::metadata(a), std::fs::metadata(b)) {
            (Ok(a), Ok(b)) => {
                use std::os::unix::fs::MetadataExt;
                a.dev() == b.dev() && a.ino() == b.ino()
            }
            _ => false,
        };
        if same(
            &format!("/proc/self/ns/{name}"),
            &format!("/proc/{}/ns/{name}", init.pid),
        ) {
            continue;
        }
        all |= namespaces::flag(t);
        match t {
            LinuxNamespaceType::Mount => join_mount = true,
            LinuxNamespaceType::User => {
                join_user = true;
                join |= namespaces::flag(t);
            }
            _ => join |= namespaces::flag(t),
        }
    }
    debug!(?all, "namespaces to join");
    // Kernel settings of the process (scheduler, I/O priority, labels); the sysctls were the
    // container's and are not written again.
    let plan = namespaces::Plan {
        join_user: None,
        new_user: join_user,
        join: Vec::new(),
        unshare: all - CloneFlags::CLONE_NEWUSER,
        uid_map: String::new(),
        gid_map: String::new(),
    };
    let (kernel, kernel_warnings) = crate::kernel::plan(&exec_config, &plan)?;
    for w in kernel_warnings {
        debug!("{w}");
    }
    let cg = st.cgroup.as_ref();
    let targets = match cg {
        Some(cg) => cgroup_targets(cg, &opts.cgroup)?,
        None if !opts.cgroup.is_empty() => {
            return Err(bad("--cgroup", "the container has no cgroup of its own"))
        }
        None => Vec::new(),
    };
    let sj = state_json(&st, status);
    let ctx = ExecContext {
        id: &opts.id,
        process,
        init: &pidfd,
        init_pid: init.pid,
        join,
        join_user,
        join_mount,
        caps: &caps,
        seccomp: seccomp.as_ref(),
        kernel: &kernel,
        console,
        keep_fds: opts.preserve_fds,
        state_json: &sj,
        paused: status == Status::Paused,
    };

    // Signals for a foreground exec are blocked before the fork, so none is lost between the
    // process's start and the wait; the children reset their mask before execve.
    let mask = if opts.detach {
        nix::sys::signal::SigSet::empty()
    } else {
        crate::container::foreground_mask()
    };
    let old_mask = mask
        .thread_swap_mask(nix::sys::signal::SigmaskHow::SIG_BLOCK)
        .map_err(|e| io("sigprocmask")(e.into()))?;
    let result = start_and_wait(opts, dir, &ctx, &targets, &mask);
    let _ = old_mask.thread_set_mask();
    result
}

fn start_and_wait(
    opts: &ExecOptions,
    dir: state::StateDir,
    ctx: &ExecContext<'_>,
    targets: &[PathBuf],
    mask: &nix::sys::signal::SigSet,
) -> Result<i32, ContainerError> {
    let sfd = if opts.detach {
        None
    } else {
        Some(crate::container::foreground_signal_fd(mask)?)
    };
    let (mut parent_ch, child_ch) = Channel::pair().map_err(io("socketpair"))?;
    // Pure v2: born in the (sub-)cgroup. Elsewhere forked, then moved by a cgroup.procs write.
    let v2_dir = match (targets, ctx_unified(targets)) {
        ([only], true) if !ctx.paused => std::fs::File::open(only).ok(),
        _ => None,
    };
    let (forked, born_in_cgroup) = crate::container::fork_in_cgroup(v2_dir.as_ref());
    drop(v2_dir);
    let lock_fd = dir.lock_fd();
    let inter = match forked.map_err(io("fork the exec process"))? {
        husk_sys::Forked::Child => {
            drop(parent_ch);
            // Never the lock's only closer in the parent; the child's copy must not hold it.
            let _ = nix::unistd::close(lock_fd);
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                intermediate(ctx, child_ch)
            }));
            std::process::abort()
        }
        husk_sys::Forked::Parent(pid) => pid,
    };
    drop(child_ch);
    let mut guard = ExecGuard(vec![inter]);
    parent_ch.set_peer("exec process");
    if !born_in_cgroup && !ctx.paused {
        for t in targets {
            join_cgroup(t, inter.as_raw(), ctx.init_pid)?;
        }
    }
    crate::container::send_proceed(&parent_ch)?;
    let mut pid = None;
    let mut pty_master = None;
    let mut ready = false;
    // InitPid (from the intermediate) and Ready (from the process) come from two processes
    // and in either order.
    while pid.is_none() || !ready {
        let (msg, mut fds) = parent_ch.recv::<ToParent>()?;
        match msg {
            ToParent::InitPid(p) => {
                let _ = waitpid(inter, None);
                guard.0 = vec![Pid::from_raw(p)];
                if let Some(adj) = ctx.process.oom_score_adj() {
                    std::fs::write(format!("/proc/{p}/oom_score_adj"), adj.to_string()).map_err(
                        io(format!(
                            "process.oomScoreAdj: write /proc/{p}/oom_score_adj"
                        )),
                    )?;
                }
                pid = Some(Pid::from_raw(p));
            }
            ToParent::PtyMaster => pty_master = fds.pop(),
            ToParent::Ready => ready = true,
            ToParent::Failed(e) => return Err(e.into()),
            other => {
                return Err(ChannelError::Protocol("exec process", format!("{other:?}")).into())
            }
        }
    }
    let pid = pid.ok_or(ChannelError::Closed("exec process"))?;
    if ctx.paused {
        // A paused container's cgroup is frozen: the process joins it only now, set up and
        // about to execve, and freezes there until `resume`; whether its execve works is not
        // known before that, so the runtime does not wait for it (runc 1.1 hangs instead).
        for t in targets {
            join_cgroup(t, pid.as_raw(), ctx.init_pid)?;
        }
        parent_ch.send(&ToChild::Proceed, &[])?;
    } else {
        // The channel is close-on-exec: its end means the program runs; a message, that it
        // failed.
        match parent_ch.recv::<ToParent>() {
            Err(ChannelError::Closed(_)) => {}
            Ok((ToParent::Failed(e), _)) => return Err(e.into()),
            Ok((other, _)) => {
                return Err(ChannelError::Protocol("exec process", format!("{other:?}")).into())
            }
            Err(e) => return Err(e.into()),
        }
    }
    guard.0.clear();
    if let Some(p) = &opts.pid_file {
        state::write_atomic(p, pid.as_raw().to_string().as_bytes())?;
    }
    debug!(id = %ctx.id, pid = pid.as_raw(), "exec'd");
    // Unlocked while the process runs: `kill`, `delete --force` and other execs go on.
    drop(dir);
    let Some(sfd) = sfd else {
        return Ok(0);
    };
    let raw = pty_master
        .as_ref()
        .and_then(|_| crate::tty::RawMode::enter());
    if let Some(m) = &pty_master {
        crate::tty::forward_window_size(m.as_fd());
    }
    let status = wait_foreground(pid, &sfd, pty_master.as_ref());
    drop(raw);
    Ok(status)
}

fn ctx_unified(targets: &[PathBuf]) -> bool {
    targets.len() == 1 && targets[0].join("cgroup.controllers").exists()
}

/// Write `pid` to `<dir>/cgroup.procs`. On cgroup v2 a cgroup with controllers enabled for its
/// children takes no process (EBUSY, the "no internal processes" rule); the process then goes
/// where the init is, as runc does.
fn join_cgroup(dir: &Path, pid: i32, init_pid: i32) -> Result<(), ContainerError> {
    let procs = dir.join("cgroup.procs");
    let err = |p: &Path| io(format!("add the exec process to {}", p.display()));
    match std::fs::write(&procs, pid.to_string()) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) && ctx_unified(&[dir.to_path_buf()]) => {
            let own = std::fs::read_to_string(format!("/proc/{init_pid}/cgroup"))
                .ok()
                .and_then(|t| {
                    t.lines()
                        .find_map(|l| l.strip_prefix("0::").map(|p| p.trim().to_string()))
                });
            // The v2 mount point: the container's directory minus its cgroup path.
            let root = own.as_ref().and_then(|_| {
                let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
                text.lines()
                    .filter(|l| l.contains(" - cgroup2 "))
                    .filter_map(|l| l.split(' ').nth(4).map(PathBuf::from))
                    .find(|m| dir.starts_with(m))
            });
            match (own, root) {
                (Some(own), Some(root)) => {
                    let alt = root.join(own.trim_start_matches('/')).join("cgroup.procs");
                    debug!(
                        "{}: EBUSY; joining the init's cgroup {}",
                        procs.display(),
                        alt.display()
                    );
                    std::fs::write(&alt, pid.to_string()).map_err(err(&alt))
                }
                _ => Err(err(&procs)(e)),
            }
        }
        Err(e) => Err(err(&procs)(e)),
    }
}

fn fail(ch: &Channel, e: ChildError) -> ! {
    let _ = ch.send(&ToParent::Failed(e), &[]);
    std::process::exit(1)
}

/// The intermediate of exec: joins the namespaces, forks the process. Never returns.
fn intermediate(ctx: &ExecContext<'_>, ch: Channel) -> ! {
    set_role_name(c"husk:[1:EXEC]");
    // Before the first namespace is joined: the flag belongs to the mm, which the process
    // copies (see the module doc).
    if let Err(e) = nix::sys::prctl::set_dumpable(false) {
        fail(&ch, ChildError::setup("prctl(PR_SET_DUMPABLE, 0)", None, e));
    }
    // process.execCPUAffinity.initial: before the cgroup move (the parent makes it after
    // Proceed; on cgroup v2 the process may be born in the cgroup, where the kernel then
    // intersects the set with its cpuset).
    if let Some(cpus) = &ctx.kernel.exec_cpu_affinity.initial {
        if let Err(e) = crate::kernel::set_cpu_affinity(cpus, "process.execCPUAffinity.initial") {
            fail(&ch, e);
        }
    }
    match ch.recv::<ToChild>() {
        Ok((ToChild::Proceed, _)) => {}
        _ => std::process::exit(1),
    }
    if !ctx.join.is_empty() {
        if let Err(e) = nix::sched::setns(ctx.init.as_fd(), ctx.join) {
            fail(
                &ch,
                ChildError::setup(
                    format!("setns({:?}) with a pidfd of the container's init", ctx.join),
                    None,
                    e,
                ),
            );
        }
    }
    if ctx.join_user {
        if let Err(e) = namespaces::become_root() {
            fail(&ch, e);
        }
    }
    crate::init::fork_sibling(ch, "the exec process", |ch| process(ctx, ch))
}

/// The exec'd process, in every namespace of the container but the mount namespace. Never
/// returns.
fn process(ctx: &ExecContext<'_>, ch: Channel) -> ! {
    set_role_name(c"husk:[2:EXEC]");
    let r = (|| -> Result<std::convert::Infallible, ChildError> {
        // Its own session, as the init (and runc's exec) has: never the caller's terminal.
        nix::unistd::setsid().map_err(|e| ChildError::setup("setsid", None, e))?;
        crate::init::join_new_keyring(ctx.id)?;
        // Read through the host's /proc, before the mount namespace is joined (see init).
        let setgroups_allowed = !ctx.join_user
            || std::fs::read_to_string("/proc/self/setgroups")
                .map(|s| s.trim() == "allow")
                .unwrap_or(true);
        let mut exec_attrs = crate::lsm::open(&ctx.kernel.labels)?;
        // The init's root, opened through the host's /proc while still there: after the join,
        // the process takes exactly that root. setns(2) alone would give it the namespace's
        // root with whatever is mounted on top: the container's root after pivot_root, but with
        // --no-pivot (MS_MOVE + chroot) a container that detaches its root mount would have the
        // exec land in the host's tree underneath. (The init is alive: the pidfd pins it, and
        // the setns below fails if it died.)
        let init_root = std::fs::File::open(format!("/proc/{}/root", ctx.init_pid))
            .map_err(|e| ChildError::setup("open the container init's root", None, &e))?;
        if ctx.join_mount {
            nix::sched::setns(ctx.init.as_fd(), CloneFlags::CLONE_NEWNS).map_err(|e| {
                ChildError::setup(
                    "setns(mount namespace) with a pidfd of the container's init",
                    None,
                    e,
                )
            })?;
        }
        nix::unistd::fchdir(std::os::fd::AsRawFd::as_raw_fd(&init_root))
            .map_err(|e| ChildError::setup("fchdir to the container init's root", None, e))?;
        nix::unistd::chroot(".")
            .map_err(|e| ChildError::setup("chroot to the container init's root", None, e))?;
        nix::unistd::chdir("/").map_err(|e| ChildError::setup("chdir /", None, e))?;
        drop(init_root);
        let console = crate::init::make_terminal(ctx.process, &ctx.console, &ch)?
            .map(|slave| crate::init::pty_rdev(&slave))
            .transpose()?;
        crate::init::check_cwd(ctx.process.cwd())?;
        let exec = crate::init::prepare_exec(ctx.process)?;
        ch.send(&ToParent::Ready, &[])
            .map_err(|e| ChildError::Module(e.to_string()))?;
        if ctx.paused {
            // Moved into the frozen cgroup by the runtime meanwhile.
            match ch.recv::<ToChild>() {
                Ok((ToChild::Proceed, _)) => {}
                _ => std::process::exit(1),
            }
        }
        // In the container's cgroup by now (but for a paused container, where it cannot
        // run before `resume` anyway).
        if let Some(cpus) = &ctx.kernel.exec_cpu_affinity.last {
            crate::kernel::set_cpu_affinity(cpus, "process.execCPUAffinity.final")?;
        } else {
            crate::kernel::reset_cpu_affinity();
        }
        let launch = Launch {
            process: ctx.process,
            caps: ctx.caps,
            seccomp: ctx.seccomp,
            kernel: &ctx.kernel.process,
            keep_fds: ctx.keep_fds,
            console,
        };
        crate::init::launch_program(
            &launch,
            ctx.state_json,
            &exec,
            &mut exec_attrs,
            setgroups_allowed,
        )
    })();
    let e = match r {
        Err(e) => e,
        Ok(never) => match never {},
    };
    let _ = ch.send(&ToParent::Failed(e), &[]);
    std::process::exit(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container() -> Value {
        json!({
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]},
            "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024}],
            "noNewPrivileges": true,
            "apparmorProfile": "husk-default",
            "oomScoreAdj": 100
        })
    }

    #[test]
    fn flags_apply_over_the_container_s_process() {
        let p = exec_process(
            &container(),
            &ExecProcess::Args(ExecArgs {
                args: vec!["id".into(), "-u".into()],
                tty: true,
                cwd: Some("/tmp".into()),
                env: vec!["TERM=dumb".into(), "X=1".into()],
                user: Some("1000:1001".into()),
                additional_gids: vec![5, 6],
                caps: vec!["net_admin".into(), "CAP_KILL".into()],
                no_new_privs: false,
                apparmor: None,
                process_label: Some("system_u:system_r:t:s0".into()),
            }),
        )
        .unwrap();
        assert_eq!(p["args"], json!(["id", "-u"]));
        assert_eq!(p["terminal"], json!(true));
        assert_eq!(p["cwd"], json!("/tmp"));
        assert_eq!(p["env"], json!(["PATH=/bin", "TERM=dumb", "X=1"]));
        let in_place = exec_process(
            &container(),
            &ExecProcess::Args(ExecArgs {
                args: vec!["env".into()],
                env: vec!["PATH=/usr/bin".into()],
                ..Default::default()
            }),
        )
        .unwrap();
        assert_eq!(
            in_place["env"],
            json!(["PATH=/usr/bin", "TERM=xterm"]),
            "replaced in place"
        );
        assert_eq!(
            p["user"],
            json!({"uid": 1000, "gid": 1001, "additionalGids": [5, 6]})
        );
        for set in ["bounding", "effective", "permitted"] {
            assert_eq!(
                p["capabilities"][set],
                json!(["CAP_KILL", "CAP_NET_ADMIN"]),
                "{set}"
            );
        }
        assert_eq!(p["capabilities"]["ambient"], Value::Null);
        assert_eq!(p["noNewPrivileges"], json!(true));
        assert_eq!(p["apparmorProfile"], json!("husk-default"));
        assert_eq!(p["selinuxLabel"], json!("system_u:system_r:t:s0"));
    }

    #[test]
    fn a_process_file_is_the_whole_process_but_for_what_it_leaves_out() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.json");
        std::fs::write(
            &f,
            r#"{"args":["ls"],"cwd":"/","user":{"uid":5,"gid":5},"env":["A=1"],"rlimits":[],"apparmorProfile":"","capabilities":{"bounding":[]}}"#,
        )
        .unwrap();
        let p = exec_process(&container(), &ExecProcess::File(f)).unwrap();
        assert_eq!(p["args"], json!(["ls"]));
        assert_eq!(p["env"], json!(["A=1"]), "env is never merged");
        assert_eq!(p["user"], json!({"uid": 5, "gid": 5}));
        // Left out or empty: the container's.
        assert_eq!(p["rlimits"], container()["rlimits"]);
        assert_eq!(p["apparmorProfile"], json!("husk-default"));
        assert_eq!(p["noNewPrivileges"], json!(true));
        assert_eq!(p["oomScoreAdj"], json!(100));
        // Given (even with an empty set): the file's.
        assert_eq!(p["capabilities"], json!({"bounding": []}));
        assert_eq!(p["terminal"], Value::Null);
    }

    #[test]
    fn bad_flags_and_files_name_themselves() {
        let c = container();
        let args = |f: fn(&mut ExecArgs)| {
            let mut a = ExecArgs {
                args: vec!["true".into()],
                ..Default::default()
            };
            f(&mut a);
            exec_process(&c, &ExecProcess::Args(a))
                .unwrap_err()
                .to_string()
        };
        assert!(args(|a| a.args.clear()).contains("no command"));
        assert!(args(|a| a.user = Some("root".into())).contains("--user: \"root\""));
        assert!(args(|a| a.user = Some("1:x".into())).contains("--user"));
        assert!(args(|a| a.env = vec!["NOEQUALS".into()]).contains("--env: \"NOEQUALS\""));
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.json");
        std::fs::write(&f, "[1]").unwrap();
        let e = exec_process(&c, &ExecProcess::File(f.clone()))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--process") && e.contains("not a JSON object"),
            "{e}"
        );
        std::fs::write(&f, "{").unwrap();
        let e = exec_process(&c, &ExecProcess::File(f))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a JSON process object"), "{e}");
        let e = exec_process(&c, &ExecProcess::File(dir.path().join("none")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("--process") && e.contains("none"), "{e}");
    }
}
