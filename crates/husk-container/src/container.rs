//! The lifecycle verbs (runtime-spec "Operations"): create, start, state, kill, delete, and the
//! foreground `run` that chains them. Each verb locks the container's state directory, checks the
//! live status (`can_start`, `can_kill`, `can_delete`) and only then acts.

use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use oci_spec::runtime::{Hook, LinuxNamespaceType};
use tracing::{debug, warn};

use crate::hooks::{self, HookKind};
use crate::init::{self, ChildContext, ConsoleTarget};
use crate::netdev::{MovedDevice, MovedDevices, NetDevice, NetDeviceMover};
use crate::process::{Channel, ChannelError, ChildError, ToChild, ToParent};
use crate::rootfs::Rootfs;
use crate::spec::Config;
use crate::state::{self, HooksProgress, InitProcess, StateDir, StateFile, Status};

/// Why the container's program could not be executed (Docker's exit codes 127 and 126).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ExecFailure {
    /// `process.args[0]` was not found on the container's PATH (exit 127 in `husk run`).
    NotFound,
    /// It was found but is not executable (exit 126 in `husk run`).
    NotExecutable,
}

/// Errors of the lifecycle verbs.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// A bad container id.
    #[error(transparent)]
    Id(#[from] crate::id::IdError),
    /// A bad config.json.
    #[error(transparent)]
    Spec(#[from] crate::spec::SpecError),
    /// The state directory.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// cgroups.
    #[error(transparent)]
    Cgroup(#[from] husk_cgroups::CgroupError),
    /// Namespaces.
    #[error(transparent)]
    Namespace(#[from] crate::namespaces::NamespaceError),
    /// process.rlimits.
    #[error(transparent)]
    Rlimit(#[from] crate::rlimits::RlimitError),
    /// linux.seccomp.
    #[error(transparent)]
    Seccomp(#[from] crate::seccomp::SeccompError),
    /// linux.sysctl, personality, memoryPolicy, intelRdt; process.ioPriority, scheduler,
    /// execCPUAffinity, apparmorProfile, selinuxLabel.
    #[error(transparent)]
    Kernel(#[from] crate::kernel::KernelError),
    /// An idmapped mount.
    #[error(transparent)]
    Idmap(#[from] crate::rootfs::idmap::IdmapError),
    /// linux.netDevices.
    #[error(transparent)]
    NetDev(#[from] crate::netdev::NetDevError),
    /// A hook failed.
    #[error(transparent)]
    Hook(#[from] crate::hooks::HookError),
    /// The container's setup failed in a child.
    #[error("container setup failed: {0}")]
    Child(#[from] ChildError),
    /// The channel to a child broke.
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// A terminal problem.
    #[error(transparent)]
    Tty(#[from] crate::tty::TtyError),
    /// A verb not allowed in the container's status.
    #[error("cannot {verb} container \"{id}\": it is {status}{hint}", status = .status.as_str())]
    WrongStatus {
        /// The verb.
        verb: &'static str,
        /// The container.
        id: String,
        /// Its live status.
        status: Status,
        /// What to do instead.
        hint: &'static str,
    },
    /// `start` of a created container whose init is gone: it died while waiting for `start`
    /// (killed, or the OOM killer).
    #[error(
        "cannot start container \"{id}\": it is stopped: its init {fate} while it waited for \
         start{hint}"
    )]
    InitGone {
        /// The container.
        id: String,
        /// What became of the init ([`InitProcess::fate`]).
        fate: String,
        /// What to do (nothing for a foreground `run`, which deletes it).
        hint: &'static str,
    },
    /// A config the runtime refuses before it creates anything.
    #[error("{field}: {detail}")]
    Config {
        /// The config field.
        field: &'static str,
        /// What is wrong and what to do.
        detail: String,
    },
    /// A system call of the runtime itself failed.
    #[error("{what}: {source}")]
    Io {
        /// What was done, with the path.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// What differs when rootless: the id maps written through newuidmap/newgidmap.
    #[error(transparent)]
    Rootless(#[from] crate::rootless::RootlessError),
    /// The sd_notify relay (NOTIFY_SOCKET).
    #[error(transparent)]
    Notify(#[from] crate::notify::NotifyError),
    /// The container process did not stop in time.
    #[error("container \"{0}\" did not stop within 10 s of SIGKILL")]
    StuckProcess(String),
    /// The step the caller of [`run_with`] takes between create and start failed (e.g. the
    /// front end's network helper); its own error.
    #[error(transparent)]
    BeforeStart(Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl ContainerError {
    /// Whether this error means the user program could not be executed, and why.
    pub fn exec_failure(&self) -> Option<ExecFailure> {
        match self {
            ContainerError::Child(ChildError::Exec { failure, .. }) => Some(*failure),
            _ => None,
        }
    }
}

pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ContainerError {
    let what = what.into();
    move |source| ContainerError::Io { what, source }
}

/// Options of `create` and `run` (runc's flags).
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// The state root (`--root`, default /run/husk); the container's state is `<root>/<id>/`.
    pub root: PathBuf,
    /// The container id.
    pub id: String,
    /// The bundle directory holding config.json.
    pub bundle: PathBuf,
    /// `--pid-file`: where to write the init's pid (in the caller's pid namespace).
    pub pid_file: Option<PathBuf>,
    /// `--no-pivot`: MS_MOVE + chroot instead of pivot_root.
    pub no_pivot: bool,
    /// `--no-new-keyring`: keep the caller's session keyring.
    pub no_new_keyring: bool,
    /// `--console-socket`: where to send the pty master when `process.terminal` is true.
    pub console_socket: Option<PathBuf>,
    /// Socket activation (`sd_listen_fds(3)`): the caller's LISTEN_FDS when its LISTEN_PID is
    /// the runtime. Fds 3 to 3+listen_fds-1 reach the program, whose env gets
    /// `LISTEN_FDS=<n>` and `LISTEN_PID=1`, as runc does.
    pub listen_fds: u32,
    /// `--preserve-fds N`: the N fds after the listen fds also reach the program.
    pub preserve_fds: u32,
    /// Keep fds of the container's network namespace (and of its user namespace, when it has
    /// one of its own) in [`Created::namespaces`], for a caller that connects the container's
    /// network between create and start (`husk run --network pasta`). They come from the
    /// intermediate itself: the waiting init is not dumpable, so a runtime without
    /// CAP_SYS_PTRACE could not open its /proc/PID/ns files.
    pub namespace_fds: bool,
}

/// A created container whose state directory the caller still holds locked.
#[derive(Debug)]
pub struct Created {
    dir: StateDir,
    state: StateFile,
    config: Config,
    /// The pty master, when a foreground `run` asked for the terminal.
    pub pty_master: Option<OwnedFd>,
    namespaces: Option<NamespaceFds>,
}

impl Created {
    /// The init's pid.
    pub fn pid(&self) -> i32 {
        self.state.init.map(|i| i.pid).unwrap_or(0)
    }

    /// The container's namespaces, when [`CreateOptions::namespace_fds`] asked for them.
    pub fn namespaces(&self) -> Option<&NamespaceFds> {
        self.namespaces.as_ref()
    }
}

/// Open fds of a created container's namespaces (see [`CreateOptions::namespace_fds`]).
#[derive(Debug)]
pub struct NamespaceFds {
    /// Its network namespace.
    pub net: OwnedFd,
    /// Its user namespace; `None` when the container runs in the runtime's own.
    pub user: Option<OwnedFd>,
}

/// runc's `owner` column of `list`: the name of the user owning the state directory (its uid
/// when the user has no name). `state` leaves `owner` empty, as runc does. (/etc/passwd is read
/// directly rather than through getpwuid(3) and NSS.)
fn owner_name(uid: u32) -> String {
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines().find_map(|l| {
                let mut f = l.split(':');
                let name = f.next()?;
                (f.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_string())
            })
        })
        .unwrap_or_else(|| uid.to_string())
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn hook_list(config: &Config, kind: HookKind) -> Vec<Hook> {
    let Some(h) = config.spec.hooks().as_ref() else {
        return Vec::new();
    };
    let v = match kind {
        HookKind::Prestart => h.prestart(),
        HookKind::CreateRuntime => h.create_runtime(),
        HookKind::CreateContainer => h.create_container(),
        HookKind::StartContainer => h.start_container(),
        HookKind::Poststart => h.poststart(),
        HookKind::Poststop => h.poststop(),
    };
    v.clone().unwrap_or_default()
}

pub(crate) fn state_json(state: &StateFile, status: Status) -> Vec<u8> {
    let mut v = state.to_oci_json();
    v["status"] = serde_json::json!(status.as_str());
    if let Some(i) = state.init {
        v["pid"] = serde_json::json!(i.pid);
    }
    serde_json::to_vec(&v).unwrap_or_default()
}

/// Undoes a half-made container when `create` fails: moves the network interfaces it moved
/// back to the host, kills the children, removes the cgroup and the state directory. Disarmed
/// once the container is `created`.
struct CreateGuard {
    dir: Option<StateDir>,
    cgroup: Option<husk_cgroups::Cgroup>,
    pids: Vec<Pid>,
    /// The namespaces of the interfaces moved so far, and those interfaces.
    net_devices: Option<(NetDeviceMover, Vec<MovedDevice>)>,
}

impl CreateGuard {
    fn disarm(mut self) -> StateDir {
        self.cgroup = None;
        self.pids.clear();
        self.net_devices = None;
        self.dir
            .take()
            .expect("the guard holds the state dir until disarmed")
    }
}

impl Drop for CreateGuard {
    fn drop(&mut self) {
        // Interfaces first: the mover's fd keeps the container's network namespace (and a
        // virtual interface, which would die with it) alive, and the processes that could use
        // them are still stopped at a setup step.
        if let Some((mut mover, moved)) = self.net_devices.take() {
            move_back_all(&mut mover, &moved);
        }
        for pid in &self.pids {
            let _ = kill(*pid, Signal::SIGKILL);
            let _ = waitpid(*pid, None);
        }
        if let Some(cg) = &self.cgroup {
            // Only a cgroup of the container's own: a joined one holds others' processes.
            if cg.is_own() {
                let _ = cg.kill_all(Signal::SIGKILL);
            }
            if let Err(e) = cg.destroy() {
                warn!("cleaning up after a failed create: {e}");
            }
        }
        if let Some(dir) = self.dir.take() {
            let _ = dir.remove();
        }
    }
}

/// `create`: set the container up and leave its init waiting for `start`. `console` says where
/// the pty master goes when `process.terminal` is true.
///
/// # Errors
/// Any [`ContainerError`]; nothing is left behind (no state dir, cgroup or process).
pub fn create(opts: &CreateOptions, foreground: bool) -> Result<Created, ContainerError> {
    crate::id::validate(&opts.id)?;
    let bundle = std::fs::canonicalize(&opts.bundle)
        .map_err(io(format!("bundle {}", opts.bundle.display())))?;
    let (mut config, raw) = Config::load(&bundle)?;
    for w in &config.warnings {
        warn!("{w}");
    }
    if opts.listen_fds > 0 {
        // In the program's environment only, not in the snapshot: `exec` does not pass them.
        if let Some(p) = config.spec.process_mut() {
            let mut env = p.env().clone().unwrap_or_default();
            env.retain(|e| !e.starts_with("LISTEN_FDS=") && !e.starts_with("LISTEN_PID="));
            env.push(format!("LISTEN_FDS={}", opts.listen_fds));
            env.push("LISTEN_PID=1".into());
            p.set_env(Some(env));
        }
    }
    // sd_notify through the runtime (see the notify module): the container's notify
    // directory, bind-mounted, and its NOTIFY_SOCKET.
    let notify = crate::notify::host_socket().is_some();
    if notify {
        let state = std::path::absolute(opts.root.join(&opts.id))
            .map_err(io(format!("--root {}", opts.root.display())))?;
        let (mount, env) = crate::notify::mount_and_env(&state);
        let mut mounts = config.spec.mounts().clone().unwrap_or_default();
        mounts.push(mount);
        config.spec.set_mounts(Some(mounts));
        if let Some(p) = config.spec.process_mut() {
            let mut all = p.env().clone().unwrap_or_default();
            all.retain(|e| !e.starts_with("NOTIFY_SOCKET="));
            all.push(env);
            p.set_env(Some(all));
        }
    }
    let spec = &config.spec;
    let process = spec.process().as_ref().ok_or(ContainerError::Config {
        field: "process",
        detail: "is missing".into(),
    })?;
    let plan = crate::namespaces::plan(spec)?;
    if !plan.is_new(LinuxNamespaceType::Mount) {
        return Err(ContainerError::Config {
            field: "linux.namespaces",
            detail: "husk needs a new mount namespace (add {\"type\": \"mount\"}): without one the container's mounts would land on the host".into(),
        });
    }
    if plan.new_user
        && !process
            .user()
            .additional_gids()
            .as_deref()
            .unwrap_or_default()
            .is_empty()
        && crate::rootless::denies_setgroups(&plan.gid_map)
    {
        return Err(ContainerError::Config {
            field: "process.user.additionalGids",
            detail: "cannot be set: the gid map is the caller's own gid alone, which an \
                     unprivileged runtime may only write with setgroups(2) denied; map a range \
                     of /etc/subgid (through newgidmap) or drop them"
                .into(),
        });
    }
    let terminal = process.terminal().unwrap_or(false);
    let console = match (terminal, foreground, &opts.console_socket) {
        (false, _, _) => ConsoleTarget::None,
        (true, _, Some(p)) => ConsoleTarget::Socket(crate::tty::connect_console_socket(p)?),
        (true, true, None) => ConsoleTarget::Parent,
        (true, false, None) => {
            return Err(ContainerError::Config {
                field: "process.terminal",
                detail: "is true, which needs --console-socket with create (or use run)".into(),
            })
        }
    };
    let linux = spec.linux().as_ref();
    let resources = linux.and_then(|l| l.resources().as_ref());
    if let Some(r) = resources {
        for w in husk_cgroups::Cgroup::check(r, config.pids_limit)? {
            warn!("{w}");
        }
    }
    crate::rlimits::check(process.rlimits().as_deref().unwrap_or(&[]))?;
    let c = config.capabilities.clone().unwrap_or_default();
    let (caps, cap_warnings) = crate::capabilities::resolve(
        c.bounding.as_deref(),
        c.effective.as_deref(),
        c.inheritable.as_deref(),
        c.permitted.as_deref(),
        c.ambient.as_deref(),
        plan.in_userns(),
    );
    for w in cap_warnings {
        warn!("{w}");
    }
    let mut seccomp = linux
        .and_then(|l| l.seccomp().as_ref())
        .map(crate::seccomp::compile_cached)
        .transpose()?;
    // The init sends the notify fd over this connection once it has loaded the filter (it has
    // left the host's mount namespace by then).
    if let Some(s) = &mut seccomp {
        s.connect_listener()?;
    }
    let (kernel, kernel_warnings) = crate::kernel::plan(&config, &plan)?;
    for w in kernel_warnings {
        warn!("{w}");
    }
    let rootfs = config.rootfs(&bundle)?;
    let layout = husk_cgroups::Layout::detect()?;
    if let Some(r) = resources {
        layout.check_resources(r, config.pids_limit)?;
    }
    for kind in HookKind::ALL {
        hooks::check(&hook_list(&config, kind), kind)?;
    }
    let net_devices = crate::netdev::check(spec, &plan)?;

    // From here on, everything made is recorded and undone on failure.
    let dir = StateDir::create(&opts.root, &opts.id)?;
    let mut guard = CreateGuard {
        dir: Some(dir),
        cgroup: None,
        pids: Vec::new(),
        net_devices: None,
    };
    let dir = guard.dir.as_ref().expect("set above");
    dir.write_config(&raw)?;
    if notify {
        crate::notify::make_dir(dir.path())?;
    }
    let mut st = StateFile {
        id: opts.id.clone(),
        status: Status::Creating,
        bundle: bundle.clone(),
        rootfs: rootfs.clone(),
        created: now_rfc3339(),
        init: None,
        cgroup: None,
        hooks: HooksProgress::default(),
        annotations: spec
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        owner: String::new(),
        net_devices: None,
    };
    dir.write_state(&st)?;
    // Recorded before it is made: a create killed in between leaves nothing delete --force
    // does not know of.
    let runtime_in_userns = crate::rootless::in_user_namespace();
    let rootless = crate::rootless::rootless_given(runtime_in_userns);
    let mut cgroup = husk_cgroups::Cgroup::plan(
        &layout,
        linux
            .and_then(|l| l.cgroups_path().as_ref())
            .map(|p| p.to_string_lossy())
            .as_deref(),
        &opts.id,
    )?;
    if rootless {
        cgroup = cgroup.without_device_rules();
    }
    st.cgroup = Some(cgroup.clone());
    dir.write_state(&st)?;
    guard.cgroup = Some(cgroup.clone());
    let cgroup = match cgroup.make() {
        Ok(()) => Some(cgroup),
        // Rootless (runc's rule): a cgroup the user may not create is no error unless the
        // config asks for limits, which only a cgroup can hold.
        Err(error) if rootless => {
            if crate::rootless::asks_for_limits(resources, config.pids_limit) {
                return Err(ContainerError::Config {
                    field: "linux.resources",
                    detail: crate::rootless::no_cgroup_for_limits(&error),
                });
            }
            debug!("rootless: running without a cgroup of its own: {error}");
            guard.cgroup = None;
            st.cgroup = None;
            dir.write_state(&st)?;
            None
        }
        Err(error) => return Err(error.into()),
    };
    // Without a cgroup of its own, the container's /sys/fs/cgroup shows the cgroups it
    // inherits from the runtime (as runc's does).
    let cgroup_mounts = match &cgroup {
        Some(c) => c.mounts(),
        // Where even that cannot be placed (the runtime's own cgroup outside the mounted part
        // of a hierarchy, as in a cgroup namespace), an empty /sys/fs/cgroup.
        None => husk_cgroups::Cgroup::current(&layout)
            .map(|c| c.mounts())
            .unwrap_or_else(|e| {
                debug!("no cgroup to show at /sys/fs/cgroup: {e}");
                Vec::new()
            }),
    };

    let listener = UnixListener::bind(dir.start_socket())
        .map_err(io(format!("bind {}", dir.start_socket().display())))?;
    let hooks_sync = [
        HookKind::Prestart,
        HookKind::CreateRuntime,
        HookKind::CreateContainer,
        HookKind::StartContainer,
    ]
    .into_iter()
    .any(|k| !hook_list(&config, k).is_empty())
        // The agent at linux.seccomp.listenerPath gets the state, which the init learns there.
        || seccomp.as_ref().is_some_and(|s| s.has_listener());
    // Idmapped binds are made here, by the runtime in the host's user namespace (see
    // rootfs::idmap); the init inherits their fds across fork.
    let idmapped = crate::rootfs::idmap::prepare(spec, &bundle, &plan)?;
    let ctx = ChildContext {
        spec,
        id: &opts.id,
        plan: &plan,
        idmapped: &idmapped,
        rootfs: Rootfs {
            spec,
            rootfs: rootfs.clone(),
            bundle: bundle.clone(),
            cgroup_mounts,
            // Under Podman's rootless mode the runtime itself runs in a user namespace and the
            // config asks for none: mknod is refused there too (runc checks both).
            in_userns: plan.in_userns() || runtime_in_userns,
            new_netns: plan.is_new(LinuxNamespaceType::Network),
            no_pivot: opts.no_pivot,
            mount_label: kernel.mount_label.clone(),
        },
        caps: &caps,
        seccomp: seccomp.as_ref(),
        kernel: &kernel,
        start_listener: &listener,
        console,
        no_new_keyring: opts.no_new_keyring,
        hooks_sync,
        keep_fds: opts.listen_fds + opts.preserve_fds,
        send_namespaces: opts.namespace_fds,
    };
    let lock_fd = guard.dir.as_ref().expect("held").lock_fd();
    let (mut parent_ch, child_ch) = Channel::pair().map_err(io("socketpair"))?;
    // On a pure cgroup v2 host the intermediate is born in the container's cgroup (clone3 with
    // CLONE_INTO_CGROUP, Linux 5.7): no migration, and not a moment outside it. Elsewhere, or
    // when the kernel refuses, it is forked and moved in by a cgroup.procs write below.
    let cgroup_dir = match cgroup
        .as_ref()
        .and_then(|c| Some((c.unified_dir()?, c.kind())))
    {
        Some((dir, husk_cgroups::LayoutKind::Unified)) => std::fs::File::open(dir)
            .map_err(|e| debug!("opening {} for CLONE_INTO_CGROUP: {e}", dir.display()))
            .ok(),
        _ => None,
    };
    let (forked, born_in_cgroup) = fork_in_cgroup(cgroup_dir.as_ref());
    drop(cgroup_dir);
    let inter = match forked.map_err(io("fork the intermediate process"))? {
        husk_sys::Forked::Child => {
            drop(parent_ch);
            // The children never return (they exec or exit without unwinding), so the parent's
            // copy of the lock's File is never dropped here: closing its fd is the only close.
            // Without it a `create` killed by SIGKILL would leave the lock held by the init.
            let _ = nix::unistd::close(lock_fd);
            // A panic must not unwind out of the child into create()'s frames: the child's
            // copy of the CreateGuard would remove the parent's state dir and cgroup. (Release
            // builds abort on panic anyway; debug builds and library callers may unwind.)
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                init::intermediate(&ctx, child_ch)
            }));
            std::process::abort()
        }
        husk_sys::Forked::Parent(pid) => pid,
    };
    drop(child_ch);
    guard.pids.push(inter);
    parent_ch.set_peer("intermediate");
    if plan.new_user {
        // The maps first: the intermediate waits for them before it makes the other
        // namespaces, which it then does while we move it into its cgroup.
        match parent_ch.recv::<ToParent>()? {
            (ToParent::IdMapRequest, _) => {
                crate::namespaces::write_id_maps(inter.as_raw(), &plan)?;
                parent_ch.send(&ToChild::IdMapsWritten, &[])?;
            }
            (ToParent::Failed(e), _) => return Err(e.into()),
            (other, _) => {
                return Err(ChannelError::Protocol("intermediate", format!("{other:?}")).into())
            }
        }
    }
    let mut namespaces = None;
    if opts.namespace_fds {
        match parent_ch.recv::<ToParent>()? {
            (ToParent::Namespaces, fds) => {
                let mut fds = fds.into_iter();
                let net = fds.next().ok_or_else(|| {
                    ChannelError::Protocol("intermediate", "Namespaces without fds".into())
                })?;
                namespaces = Some(NamespaceFds {
                    net,
                    user: fds.next(),
                });
            }
            (ToParent::Failed(e), _) => return Err(e.into()),
            (other, _) => {
                return Err(ChannelError::Protocol("intermediate", format!("{other:?}")).into())
            }
        }
    }
    if !net_devices.is_empty() {
        // The intermediate is in the container's network namespace: bring the interfaces in
        // before it writes the sysctls (which may name them) and long before `start`.
        match parent_ch.recv::<ToParent>()? {
            (ToParent::NetNsReady, _) => {
                move_net_devices(&mut guard, &mut st, &net_devices, inter.as_raw())?
            }
            (ToParent::Failed(e), _) => return Err(e.into()),
            (other, _) => {
                return Err(ChannelError::Protocol("intermediate", format!("{other:?}")).into())
            }
        }
    }
    if let (false, Some(cgroup)) = (born_in_cgroup, &cgroup) {
        cgroup.add_process(inter.as_raw())?;
    }
    send_proceed(&parent_ch)?;

    let mut pty_master = None;
    // linux.resources are applied once the init exists and has set the container up, before
    // the hooks and long before the user program (as runc does at procHooks/procReady): the
    // runtime's own processes are not held to the container's limits (a pids.limit of 0 would
    // stop the init from being cloned, a small memory limit could kill the setup), while every
    // process of the container is.
    let mut resources_applied = false;
    let mut apply_resources = || -> Result<(), ContainerError> {
        if let (false, Some(cgroup)) = (resources_applied, &cgroup) {
            cgroup.apply(resources, config.pids_limit)?;
            resources_applied = true;
        }
        Ok(())
    };
    loop {
        let (msg, mut fds) = parent_ch.recv::<ToParent>()?;
        match msg {
            ToParent::IdMapRequest | ToParent::NetNsReady | ToParent::Namespaces => {
                return Err(
                    ChannelError::Protocol("intermediate", format!("{msg:?} out of turn")).into(),
                )
            }
            ToParent::InitPid(pid) => {
                let _ = waitpid(inter, None);
                guard.pids.retain(|p| *p != inter);
                guard.pids.push(Pid::from_raw(pid));
                st.init = InitProcess::of(pid);
                if st.init.is_none() {
                    return Err(ChannelError::Closed("init").into());
                }
                // Written by the parent: the init may be non-dumpable in a user namespace,
                // which would make its own /proc/self/oom_score_adj unwritable to it.
                if let Some(adj) = process.oom_score_adj() {
                    std::fs::write(format!("/proc/{pid}/oom_score_adj"), adj.to_string()).map_err(
                        io(format!(
                            "process.oomScoreAdj: write /proc/{pid}/oom_score_adj"
                        )),
                    )?;
                }
                guard.dir.as_ref().expect("held").write_state(&st)?;
                parent_ch.set_peer("init");
            }
            ToParent::CreateRuntimeHooks => {
                apply_resources()?;
                st.hooks.create_runtime_started = true;
                guard.dir.as_ref().expect("held").write_state(&st)?;
                let sj = state_json(&st, Status::Creating);
                hooks::run(
                    &hook_list(&config, HookKind::Prestart),
                    HookKind::Prestart,
                    &sj,
                )?;
                hooks::run(
                    &hook_list(&config, HookKind::CreateRuntime),
                    HookKind::CreateRuntime,
                    &sj,
                )?;
                parent_ch.send(
                    &ToChild::HooksDone(String::from_utf8_lossy(&sj).into_owned()),
                    &[],
                )?;
            }
            ToParent::PtyMaster => pty_master = fds.pop(),
            ToParent::Ready => {
                apply_resources()?;
                break;
            }
            ToParent::Failed(e) => return Err(e.into()),
        }
    }
    drop(listener);
    st.status = Status::Created;
    let dir = guard.dir.as_ref().expect("held");
    dir.write_state(&st)?;
    if let Some(p) = &opts.pid_file {
        state::write_atomic(
            p,
            st.init.map(|i| i.pid).unwrap_or(0).to_string().as_bytes(),
        )?;
    }
    debug!(id = %opts.id, pid = st.init.map(|i| i.pid), "created");
    let dir = guard.disarm();
    Ok(Created {
        dir,
        state: st,
        config,
        pty_master,
        namespaces,
    })
}

/// Send [`ToChild::Proceed`] to an intermediate. When that fails, the intermediate failed
/// already and its reason is queued on the channel: that reason is the error.
pub(crate) fn send_proceed(ch: &Channel) -> Result<(), ContainerError> {
    if let Err(e) = ch.send(&ToChild::Proceed, &[]) {
        return Err(match ch.recv::<ToParent>() {
            Ok((ToParent::Failed(c), _)) => c.into(),
            _ => e.into(),
        });
    }
    Ok(())
}

/// Fork, the child born in the cgroup v2 directory `dir` when given (clone3 with
/// CLONE_INTO_CGROUP, Linux 5.7), else (or when the kernel refuses) a plain fork. Returns the
/// fork's result and whether the child was born in the cgroup (if not, the caller moves it).
pub(crate) fn fork_in_cgroup(
    dir: Option<&std::fs::File>,
) -> (std::io::Result<husk_sys::Forked>, bool) {
    match dir {
        Some(d) => match husk_sys::fork_into_cgroup(d.as_fd()) {
            Ok(forked) => (Ok(forked), true),
            Err(e) => {
                debug!("clone3(CLONE_INTO_CGROUP): {e}; forking and moving the process instead");
                (husk_sys::fork(), false)
            }
        },
        None => (husk_sys::fork(), false),
    }
}

/// Move the checked `linux.netDevices` entries into the network namespace of process `pid`,
/// recording each in state.json before its move and in the guard, which moves them back if
/// `create` fails from here on.
fn move_net_devices(
    guard: &mut CreateGuard,
    st: &mut StateFile,
    devices: &[NetDevice],
    pid: i32,
) -> Result<(), ContainerError> {
    let mover = NetDeviceMover::open(pid)?;
    st.net_devices = Some(MovedDevices {
        host_netns: mover.host_netns_id()?,
        devices: Vec::new(),
    });
    let (mover, moved) = guard.net_devices.insert((mover, Vec::new()));
    for device in devices {
        let mut record = mover.prepare(device)?;
        moved.push(record.clone());
        if let Some(m) = st.net_devices.as_mut() {
            m.devices.push(record.clone());
        }
        guard.dir.as_ref().expect("held").write_state(st)?;
        let result = mover.move_in(&mut record);
        // The kernel's pick for a `%d` template, kept even when a later step failed.
        if let Some(last) = moved.last_mut() {
            *last = record.clone();
        }
        if let Some(last) = st.net_devices.as_mut().and_then(|m| m.devices.last_mut()) {
            *last = record.clone();
        }
        result?;
        debug!(
            host = %record.host_name,
            name = %record.name,
            "moved a network interface into the container"
        );
    }
    guard.dir.as_ref().expect("held").write_state(st)?;
    Ok(())
}

/// Move every interface of `moved` back to the host, last moved first; failures are warnings
/// (this runs while cleaning up after another error).
fn move_back_all(mover: &mut NetDeviceMover, moved: &[MovedDevice]) {
    for device in moved.iter().rev() {
        if let Err(e) = mover.move_back(device) {
            warn!("moving a network interface back after a failed create: {e}");
        }
    }
}

/// Load a container for a verb: lock its directory, read state and config snapshot.
pub(crate) fn load(root: &Path, id: &str) -> Result<(StateDir, StateFile, Config), ContainerError> {
    crate::id::validate(id)?;
    let dir = StateDir::open(root, id)?;
    let st = dir.read_state()?;
    let config = Config::from_snapshot(&dir.read_config()?)?;
    Ok((dir, st, config))
}

/// `start` of a created container whose directory the caller holds locked. With
/// `foreground` (a foreground `run`), the sd_notify relay runs in the background and reports
/// the runtime as the main pid; otherwise `start` returns once the container is ready.
fn start_locked(
    dir: &StateDir,
    st: &mut StateFile,
    config: &Config,
    foreground: bool,
) -> Result<(), ContainerError> {
    let status = st.live_status();
    if let (Status::Created, Status::Stopped, Some(init)) = (st.status, status, st.init) {
        return Err(ContainerError::InitGone {
            id: st.id.clone(),
            fate: init.fate(),
            hint: if foreground {
                ""
            } else {
                "; delete it and create it again"
            },
        });
    }
    if !status.can_start() {
        return Err(ContainerError::WrongStatus {
            verb: "start",
            id: st.id.clone(),
            status,
            hint: "; only a created container can be started",
        });
    }
    // Bound before the program can notify.
    let relay = crate::notify::bind(dir.path())?;
    let sock = dir.start_socket();
    let mut conn =
        UnixStream::connect(&sock).map_err(io(format!("connect to {}", sock.display())))?;
    std::io::Write::write_all(&mut conn, b"s").map_err(io("signal the container's init"))?;
    let mut reply = Vec::new();
    let _ = conn.read_to_end(&mut reply);
    let _ = std::fs::remove_file(&sock);
    if !reply.is_empty() {
        st.status = Status::Stopped;
        dir.write_state(st)?;
        let e: ChildError = serde_json::from_slice(&reply)
            .unwrap_or_else(|_| ChildError::Module(String::from_utf8_lossy(&reply).into_owned()));
        return Err(e.into());
    }
    st.status = Status::Running;
    dir.write_state(st)?;
    if let Err(e) = hooks::run(
        &hook_list(config, HookKind::Poststart),
        HookKind::Poststart,
        &state_json(st, Status::Running),
    ) {
        // runtime-spec v1.3: a failing poststart hook fails start; the container is stopped
        // and the rest happens at delete.
        if let Some(i) = st.init {
            let _ = kill(Pid::from_raw(i.pid), Signal::SIGKILL);
        }
        return Err(e.into());
    }
    if let (Some(relay), Some(init)) = (relay, st.init) {
        if foreground {
            let me = std::process::id() as i32;
            std::thread::spawn(move || {
                if let Err(e) = relay.wait_ready(me, || init.is_alive()) {
                    warn!("{e}");
                }
            });
        } else {
            relay.wait_ready(init.pid, || init.is_alive())?;
        }
    }
    Ok(())
}

/// `start ID`: let the created container's init execute the user program; returns once it has
/// (and the poststart hooks ran).
///
/// # Errors
/// WrongStatus when not created; InitGone when its init died while waiting; the init's error
/// when exec failed.
pub fn start(root: &Path, id: &str) -> Result<(), ContainerError> {
    let (dir, mut st, config) = load(root, id)?;
    start_locked(&dir, &mut st, &config, false)
}

/// `state ID`: the state document (runtime-spec "State" with runc's extra fields).
///
/// # Errors
/// NotFound for an unknown id.
pub fn state(root: &Path, id: &str) -> Result<serde_json::Value, ContainerError> {
    crate::id::validate(id)?;
    let dir = StateDir::open(root, id)?;
    Ok(dir.read_state()?.to_oci_json())
}

/// Every container's state document under `root`, by id.
///
/// # Errors
/// Io when the root cannot be read.
pub fn list(root: &Path) -> Result<Vec<serde_json::Value>, ContainerError> {
    let mut out = Vec::new();
    for id in state::list_ids(root)? {
        // Read without the lock: state.json is replaced atomically, and a `create` in progress
        // must not stall `list`.
        let p = root.join(&id).join("state.json");
        if let Ok(bytes) = std::fs::read(&p) {
            if let Ok(st) = serde_json::from_slice::<StateFile>(&bytes) {
                let mut v = st.to_oci_json();
                if let Ok(md) = std::fs::metadata(root.join(&id)) {
                    v["owner"] =
                        serde_json::json!(owner_name(std::os::unix::fs::MetadataExt::uid(&md)));
                }
                out.push(v);
            }
        }
    }
    Ok(out)
}

/// Parse a signal as runc does: `KILL`, `SIGKILL` or `9`; `0` is None (no signal: only a check
/// that the process exists, as kill(2) does).
///
/// # Errors
/// A message naming the signal.
pub fn parse_signal(s: &str) -> Result<Option<Signal>, ContainerError> {
    let bad = || ContainerError::Config {
        field: "signal",
        detail: format!("\"{s}\" is not a signal name (e.g. TERM, SIGKILL) or number"),
    };
    if let Ok(n) = s.parse::<i32>() {
        // 0 sends nothing and only checks that the process exists (kill(2)).
        if n == 0 {
            return Ok(None);
        }
        return Signal::try_from(n).map(Some).map_err(|_| bad());
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    name.parse::<Signal>().map(Some).map_err(|_| bad())
}

/// `kill ID SIGNAL [--all]`, as runc 1.1 does it: the init of a created, running or paused
/// container gets the signal; with `--all` every process of the cgroup does, also those left
/// in a stopped container's cgroup (without a pid namespace children can outlive the init);
/// a rootless container without a cgroup signals its init's pid namespace instead.
/// A paused container stays frozen (the signal is delivered at `resume`), except for SIGKILL,
/// after which it is thawed so the processes die.
///
/// # Errors
/// WrongStatus on a stopped container without `--all`, or a container still being created.
pub fn kill_container(
    root: &Path,
    id: &str,
    signal: Option<Signal>,
    all: bool,
) -> Result<(), ContainerError> {
    let (_dir, st, _config) = load(root, id)?;
    let status = st.live_status();
    if let (true, Some(sig), Some(cg)) = (all, signal, &st.cgroup) {
        if status.can_kill() {
            cg.kill_all(sig)?;
            return Ok(());
        }
        if status == Status::Stopped {
            // Nothing to do once the cgroup is gone (runc: the same).
            if cg.dirs().iter().any(|d| d.path().exists()) {
                cg.kill_all(sig)?;
            }
            return Ok(());
        }
    }
    if let (true, Some(sig), None, Some(init), true) =
        (all, signal, &st.cgroup, st.init, status.can_kill())
    {
        // Rootless without a cgroup: every process of the init's pid namespace (the init, then
        // the others, so none is missed while the init reaps them).
        for pid in crate::cgroup_verbs::pid_ns_members(init.pid) {
            match kill(Pid::from_raw(pid), sig) {
                Ok(()) | Err(nix::Error::ESRCH) => {}
                Err(e) => return Err(io(format!("kill {pid}"))(e.into())),
            }
        }
        return Ok(());
    }
    if !status.can_kill() {
        return Err(ContainerError::WrongStatus {
            verb: "kill",
            id: id.into(),
            status,
            hint: "; the container is not running",
        });
    }
    if let Some(i) = st.init {
        kill(Pid::from_raw(i.pid), signal).map_err(|e| io(format!("kill {}", i.pid))(e.into()))?;
        if status == Status::Paused && signal == Some(Signal::SIGKILL) {
            // A frozen process dies only once thawed.
            if let Some(cg) = &st.cgroup {
                cg.thaw()?;
            }
        }
    }
    Ok(())
}

/// Wait until the init (pid + start time) is gone or a zombie, up to `timeout`.
fn wait_gone(init: &InitProcess, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_micros(200);
    loop {
        // Reap it if it is our own child (foreground run); ECHILD otherwise.
        let _ = waitpid(Pid::from_raw(init.pid), Some(WaitPidFlag::WNOHANG));
        if !init.is_alive() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// `delete ID [--force]`: a stopped or created container is deleted (a created one's init is
/// killed, as runc does); a running one only with `force` (SIGKILL to every process, wait).
/// Then poststop hooks (failures are warnings), the cgroup and the state directory go.
///
/// # Errors
/// WrongStatus for a running container without force; StuckProcess.
pub fn delete(root: &Path, id: &str, force: bool) -> Result<(), ContainerError> {
    let (dir, st, config) = match load(root, id) {
        Ok(x) => x,
        // A half-written create (no config yet, or a corrupt state) is still removable by force.
        Err(ContainerError::State(state::StateError::Corrupt { .. }))
        | Err(ContainerError::State(state::StateError::Io { .. }))
            if force =>
        {
            let dir = StateDir::open(root, id)?;
            return dir.remove().map_err(Into::into);
        }
        // As runc: `delete --force` of a container that does not exist succeeds (engines call
        // it to make sure a container is gone).
        Err(ContainerError::State(state::StateError::NotFound(_))) if force => return Ok(()),
        Err(e) => return Err(e),
    };
    let status = st.live_status();
    if !status.can_delete() && !force {
        return Err(ContainerError::WrongStatus {
            verb: "delete",
            id: id.into(),
            status,
            hint: "; stop it first or use --force",
        });
    }
    destroy(dir, st, &config)
}

fn destroy(dir: StateDir, st: StateFile, config: &Config) -> Result<(), ContainerError> {
    // Every process of the container's own cgroup dies with it; in a joined cgroup (a pod's)
    // the other processes belong to others, so only the init is killed (and with it, in a
    // pid namespace of its own, the rest of the container).
    match &st.cgroup {
        Some(cg) if cg.is_own() => {
            let _ = cg.kill_all(Signal::SIGKILL);
        }
        Some(_) => debug!("{}: joined cgroup; only the init is killed", st.id),
        None => {}
    }
    if let Some(i) = st.init {
        if i.is_alive() {
            let _ = kill(Pid::from_raw(i.pid), Signal::SIGKILL);
            if !wait_gone(&i, Duration::from_secs(10)) {
                return Err(ContainerError::StuckProcess(st.id.clone()));
            }
        } else {
            let _ = waitpid(Pid::from_raw(i.pid), Some(WaitPidFlag::WNOHANG));
        }
    }
    if st.hooks.create_runtime_started || st.status != Status::Creating {
        // runtime-spec: a failing poststop hook is a warning; the remaining hooks still run.
        let sj = state_json(&st, Status::Stopped);
        for hook in hook_list(config, HookKind::Poststop) {
            if let Err(e) = hooks::run(std::slice::from_ref(&hook), HookKind::Poststop, &sj) {
                warn!("{e}");
            }
        }
    }
    if let Some(cg) = &st.cgroup {
        cg.destroy()?;
    }
    dir.remove()?;
    Ok(())
}

/// Signals a foreground `run` forwards to the container's init (all that a terminal or a
/// supervisor sends; SIGCHLD and SIGWINCH are handled by `run` itself).
pub(crate) const FORWARDED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGALRM,
    Signal::SIGCONT,
    Signal::SIGTSTP,
    Signal::SIGTTIN,
    Signal::SIGTTOU,
    Signal::SIGPIPE,
];

/// `run` in the foreground: create, start, wait (forwarding signals; proxying the pty when
/// `process.terminal` is true), delete; returns the container's exit status (128+N when it
/// died of signal N).
///
/// # Errors
/// Any error of create or start (then nothing is left behind).
pub fn run(opts: &CreateOptions) -> Result<i32, ContainerError> {
    run_with(opts, |_| Ok(()))
}

/// [`run`] with a step of the caller between create and start: `before_start` gets the created
/// container (its init waits for `start`; [`Created::namespaces`] when
/// [`CreateOptions::namespace_fds`] is set) and returns something the container's life depends
/// on, such as a network helper attached to its network namespace (`husk run --network pasta`).
/// That value is dropped once the container is gone (deleted), or at once when the step fails,
/// which deletes the container (its error is [`ContainerError::BeforeStart`]). Signals sent
/// meanwhile reach the program once it starts.
///
/// # Errors
/// Any error of create, `before_start` or start (then nothing is left behind).
pub fn run_with<G>(
    opts: &CreateOptions,
    before_start: impl FnOnce(&Created) -> Result<G, ContainerError>,
) -> Result<i32, ContainerError> {
    let created = create(opts, true)?;
    let pid = Pid::from_raw(created.pid());
    // Block the signals we handle before the program starts, so none is lost; the init was
    // forked before and keeps its own mask.
    let mask = foreground_mask();
    let old_mask = mask
        .thread_swap_mask(nix::sys::signal::SigmaskHow::SIG_BLOCK)
        .map_err(|e| io("sigprocmask")(e.into()))?;
    let sfd = foreground_signal_fd(&mask);
    let result = (|| {
        let fail = |created: Created, e: ContainerError| {
            let _ = destroy(created.dir, created.state, &created.config);
            Err(e)
        };
        let sfd = match sfd {
            Ok(sfd) => sfd,
            Err(e) => return fail(created, e),
        };
        // Dropped when this closure returns: after the container is deleted.
        let _attached = match before_start(&created) {
            Ok(g) => g,
            Err(e) => return fail(created, e),
        };
        let Created {
            dir,
            mut state,
            config,
            pty_master,
            namespaces,
        } = created;
        drop(namespaces);
        let raw = pty_master
            .as_ref()
            .and_then(|_| crate::tty::RawMode::enter());
        if let Some(m) = &pty_master {
            crate::tty::forward_window_size(m.as_fd());
        }
        if let Err(e) = start_locked(&dir, &mut state, &config, true) {
            drop(raw);
            let _ = destroy(dir, state, &config);
            return Err(e);
        }
        // Unlock while waiting, so `state`, `kill` and `list` work on the running container.
        let id = state.id.clone();
        drop(dir);
        let status = wait_foreground(pid, &sfd, pty_master.as_ref());
        drop(raw);
        // The program's status is the answer from here on: a container someone else deleted
        // meanwhile, or a cleanup that fails, is a warning, not a lost exit status.
        match load(&opts.root, &id) {
            Ok((dir, st, config)) => {
                if let Err(e) = destroy(dir, st, &config) {
                    warn!("container \"{id}\": cleaning up after it exited: {e}");
                }
            }
            Err(ContainerError::State(state::StateError::NotFound(_))) => {}
            Err(e) => warn!("container \"{id}\": cleaning up after it exited: {e}"),
        }
        Ok(status)
    })();
    let _ = old_mask.thread_set_mask();
    result
}

/// The signals a foreground `run` or `exec` handles: SIGCHLD, SIGWINCH and [`FORWARDED`].
pub(crate) fn foreground_mask() -> nix::sys::signal::SigSet {
    let mut mask = nix::sys::signal::SigSet::empty();
    mask.add(Signal::SIGCHLD);
    mask.add(Signal::SIGWINCH);
    for s in FORWARDED {
        mask.add(*s);
    }
    mask
}

/// A signalfd for `mask` (blocked by the caller), close-on-exec and non-blocking: in a
/// multi-threaded caller another thread may take the signal between poll(2) and read(2),
/// which would then block for ever.
pub(crate) fn foreground_signal_fd(
    mask: &nix::sys::signal::SigSet,
) -> Result<nix::sys::signalfd::SignalFd, ContainerError> {
    nix::sys::signalfd::SignalFd::with_flags(
        mask,
        nix::sys::signalfd::SfdFlags::SFD_CLOEXEC | nix::sys::signalfd::SfdFlags::SFD_NONBLOCK,
    )
    .map_err(|e| io("signalfd")(e.into()))
}

fn exit_code(ws: WaitStatus) -> Option<i32> {
    match ws {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

/// Wait for the init, forwarding signals, proxying the pty. Returns its exit status.
pub(crate) fn wait_foreground(
    pid: Pid,
    sfd: &nix::sys::signalfd::SignalFd,
    pty: Option<&OwnedFd>,
) -> i32 {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut stdin_open = pty.is_some();
    let mut pty_open = pty.is_some();
    // The init's exit is seen through a pidfd: SIGCHLD may go to another thread of a
    // multi-threaded caller (husk's own tests), where this thread's signalfd never sees it.
    let pidfd = husk_sys::pidfd_open(pid).ok();
    loop {
        let ws = waitpid(pid, Some(WaitPidFlag::WNOHANG));
        if ws == Err(nix::Error::ECHILD) {
            // Reaped by someone else (or SIGCHLD ignored by our caller): the status is gone.
            warn!("the container's process was reaped by someone else; its exit status is unknown");
            return 255;
        }
        if let Ok(ws) = ws {
            if let Some(code) = exit_code(ws) {
                if let Some(m) = pty {
                    // Drain what the program wrote before it exited.
                    let _ = nix::fcntl::fcntl(
                        std::os::fd::AsRawFd::as_raw_fd(m),
                        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
                    );
                    while crate::tty::pump(m.as_fd(), stdout.as_fd()) {
                        let mut probe = [PollFd::new(m.as_fd(), PollFlags::POLLIN)];
                        if poll(&mut probe, PollTimeout::ZERO).unwrap_or(0) == 0 {
                            break;
                        }
                    }
                }
                return code;
            }
        }
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        if let Some(p) = &pidfd {
            fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
        }
        let first_pty = fds.len();
        if let Some(m) = pty {
            if pty_open {
                fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
            }
            if stdin_open {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            }
        }
        if poll(&mut fds, PollTimeout::NONE).is_err() {
            continue;
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        if ready[0] {
            if let Ok(Some(info)) = sfd.read_signal() {
                let sig = Signal::try_from(info.ssi_signo as i32).ok();
                match sig {
                    Some(Signal::SIGCHLD) | None => {}
                    Some(Signal::SIGWINCH) => {
                        if let Some(m) = pty {
                            crate::tty::forward_window_size(m.as_fd());
                        }
                    }
                    Some(s) => {
                        let _ = kill(pid, s);
                    }
                }
            }
        }
        if let Some(m) = pty {
            let mut i = first_pty;
            if pty_open {
                if ready[i] && !crate::tty::pump(m.as_fd(), stdout.as_fd()) {
                    pty_open = false;
                }
                i += 1;
            }
            if stdin_open
                && ready.get(i).copied().unwrap_or(false)
                && !crate::tty::pump(stdin.as_fd(), m.as_fd())
            {
                stdin_open = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_like_runc() {
        assert_eq!(parse_signal("KILL").unwrap(), Some(Signal::SIGKILL));
        assert_eq!(parse_signal("SIGTERM").unwrap(), Some(Signal::SIGTERM));
        assert_eq!(parse_signal("9").unwrap(), Some(Signal::SIGKILL));
        assert_eq!(parse_signal("usr1").unwrap(), Some(Signal::SIGUSR1));
        assert_eq!(parse_signal("0").unwrap(), None);
        assert!(parse_signal("NOPE")
            .unwrap_err()
            .to_string()
            .contains("\"NOPE\""));
        assert!(parse_signal("99").is_err());
    }
}
