//! `husk run`: from the command line to a bundle, then the monitor that hands it to the runtime
//! and waits for the container's exit status.
//!
//! The steps, each owned by its module: check the options (`name`, `volume`, `user`,
//! `envvars`, `resources`), resolve SOURCE (`source`), unpack a tarball into the cache (`unpack`), take the
//! container's directory and write its record (`record`), make its root filesystem (`overlay`
//! or `hostroot`), write config.json (`bundle`), then become the *monitor* and call
//! `husk_container::container::run`. Every resource is a guard (the container directory, the
//! overlay mount), so an error at any step leaves nothing behind.
//!
//! Rootless ([`RunContext`], `rootless`): the data and state go to the user's own directories,
//! the container gets a user namespace mapping the user's ids, a tarball is unpacked through
//! that mapping, and the overlay is not mounted here but by the runtime inside the container's
//! namespaces (its `org.husk.rootfs.overlay` annotation).

use std::io::IsTerminal;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use husk_container::container::{self, ContainerError, CreateOptions, ExecFailure};

use crate::bundle::{self, BundleConfig, BundleError};
use crate::cli::{GlobalArgs, RunArgs};
use crate::envvars::{self, EnvError};
use crate::hostroot::{self, HostRootError};
use crate::name::{self, NameError};
use crate::network::{NetworkError, NetworkPlan};
use crate::overlay::{self, OverlayError, OverlayMount};
use crate::record::{
    now_rfc3339, ContainerDir, DataRoot, Record, RecordError, RecordSource, RecordStatus,
};
use crate::resources::{LiveHost, ResourceArgs, ResourceError, Resources};
use crate::rootless::{self, IdMapping, RootlessError};
use crate::security::{Security, SecurityArgs, SecurityError};
use crate::source::{self, Source, SourceError};
use crate::unpack::{RootfsCache, UnpackError, UnpackOptions};
use crate::user::{self, UserError};
use crate::volume::{self, VolumeError};

/// The command when none is given.
pub const DEFAULT_COMMAND: &str = "/bin/sh";

/// Docker's exit status when the container runtime (here: husk) failed.
pub const EXIT_HUSK_FAILED: i32 = 125;
/// The exit status when the command was found but cannot be executed.
pub const EXIT_NOT_EXECUTABLE: i32 = 126;
/// The exit status when the command was not found.
pub const EXIT_NOT_FOUND: i32 = 127;

/// Errors of `husk run`; each module's error, plus the checks made here.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// --name.
    #[error(transparent)]
    Name(#[from] NameError),
    /// --hostname.
    #[error(
        "--hostname `{0}`: must be 1 to 64 bytes without NUL (HOST_NAME_MAX, man 2 sethostname)"
    )]
    Hostname(String),
    /// -w.
    #[error("-w `{0}`: the working directory must be an absolute path inside the container")]
    Workdir(String),
    /// -it with a stdin that is no terminal.
    #[error("-i -t: stdin is not a terminal; drop -t, or run husk from a terminal")]
    StdinNotTerminal,
    /// SOURCE.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The tarball cache.
    #[error(transparent)]
    Unpack(#[from] UnpackError),
    /// The container directory or record.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The overlay mount.
    #[error(transparent)]
    Overlay(#[from] OverlayError),
    /// The `host` root.
    #[error(transparent)]
    HostRoot(#[from] HostRootError),
    /// -v.
    #[error(transparent)]
    Volume(#[from] VolumeError),
    /// -u.
    #[error(transparent)]
    User(#[from] UserError),
    /// -e.
    #[error(transparent)]
    Env(#[from] EnvError),
    /// --memory, --cpus, --pids-limit, --device and the other resource options.
    #[error(transparent)]
    Resources(#[from] ResourceError),
    /// --cap-add, --cap-drop, --privileged, --security-opt.
    #[error(transparent)]
    Security(#[from] SecurityError),
    /// --network, -p (a helper's failure after create comes as [`RunError::Container`]).
    #[error(transparent)]
    Network(#[from] NetworkError),
    /// The container's /etc/resolv.conf (--network pasta, slirp4netns).
    #[error("writing {}: {source}", path.display())]
    ResolvConf {
        /// The file in the container's directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// config.json.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// The bundle's rootfs directory of the `host` source.
    #[error("creating {}: {source}", path.display())]
    RootfsDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Pointing stdin at /dev/null (no -i).
    #[error("redirecting stdin to /dev/null (no -i): {0}")]
    Stdin(#[source] std::io::Error),
    /// A --cgroup-parent that is empty, has `..` or is in systemd's slice:prefix:name form.
    #[error("--cgroup-parent {0:?}: give a cgroup path without `..` (e.g. husk or /husk)")]
    CgroupParent(String),
    /// Rootless: where husk's data and state go could not be decided.
    #[error(transparent)]
    Rootless(#[from] RootlessError),
    /// The data root holds a character overlayfs options cannot carry (the layers of every
    /// container live below it).
    #[error(
        "data root {}: the path contains `{ch}`, which overlayfs options cannot carry; choose \
         another with --data-root (or HUSK_DATA_ROOT, or XDG_DATA_HOME when rootless)",
        path.display()
    )]
    DataRootPath {
        /// The data root.
        path: PathBuf,
        /// The offending character.
        ch: char,
    },
    /// Rootless: -u names an id the container's user namespace does not map.
    #[error(
        "-u {user}: uid {uid} gid {gid} is not mapped in this rootless container ({mapping}); \
         ask for a range in /etc/subuid and /etc/subgid (man 5 subuid) with newuidmap and \
         newgidmap installed (Debian package uidmap), or run as a mapped id"
    )]
    UnmappedUser {
        /// -u as given.
        user: String,
        /// The resolved uid.
        uid: u32,
        /// The resolved gid.
        gid: u32,
        /// The mapping, described.
        mapping: String,
    },
    /// Rootless: the resource options need a cgroup the user cannot make (the runtime's
    /// refusal, with what to do about it in husk's terms).
    #[error(
        "container `{id}`: {source}; with husk run: give --cgroup-parent a cgroup in a cgroup v2 \
         subtree delegated to you, or drop the limit options (-m, --memory-swap, --cpus, -c, \
         --cpuset-cpus, --pids-limit, --blkio-weight)"
    )]
    RootlessLimits {
        /// The container id.
        id: String,
        /// The runtime's error.
        #[source]
        source: Box<ContainerError>,
    },
    /// The runtime's create/start/wait.
    #[error("container `{id}`: {source}")]
    Container {
        /// The container id.
        id: String,
        /// The runtime's error.
        #[source]
        source: Box<ContainerError>,
    },
}

impl RunError {
    /// The exit status of `husk run` for this error: 127 or 126 when the command could not be
    /// found or executed, 125 for every other failure of husk (Docker's convention).
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Container { source, .. } => match source.exec_failure() {
                Some(ExecFailure::NotFound) => EXIT_NOT_FOUND,
                Some(ExecFailure::NotExecutable) => EXIT_NOT_EXECUTABLE,
                None => EXIT_HUSK_FAILED,
            },
            _ => EXIT_HUSK_FAILED,
        }
    }

    /// The message for stderr: this error and its sources, `: `-separated, each source only
    /// if the message does not hold its text already (most variants print their source).
    pub fn message(&self) -> String {
        let mut msg = self.to_string();
        let mut source = std::error::Error::source(self);
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
}

/// The options of `husk run` checked, before anything is made on disk.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The container's name and id.
    pub name: String,
    /// Its hostname.
    pub hostname: String,
    /// `process.cwd`.
    pub cwd: String,
    /// `process.args`.
    pub args: Vec<String>,
    /// `process.env`.
    pub env: Vec<String>,
    /// The -v mounts.
    pub volumes: Vec<volume::Volume>,
    /// The resolved SOURCE.
    pub source: Source,
    /// The resource options and devices, checked against the host.
    pub resources: Resources,
    /// Capabilities, seccomp filter, noNewPrivileges, --privileged.
    pub security: Security,
    /// --network and -p.
    pub network: NetworkPlan,
}

impl Plan {
    /// Checks the options of `husk run` and resolves SOURCE and -v paths; `lookup` reads husk's
    /// own environment for `-e NAME`.
    ///
    /// Errors: [`RunError`] naming the option.
    pub fn new(args: &RunArgs, lookup: impl Fn(&str) -> Option<String>) -> Result<Self, RunError> {
        let name = match &args.name {
            Some(n) => name::validate(n)?.to_owned(),
            None => name::generate()?,
        };
        let hostname = args.hostname.clone().unwrap_or_else(|| name.clone());
        if hostname.is_empty() || hostname.len() > name::MAX_NAME_LEN || hostname.contains('\0') {
            return Err(RunError::Hostname(hostname));
        }
        let cwd = args.workdir.clone().unwrap_or_else(|| "/".to_owned());
        if !cwd.starts_with('/') {
            return Err(RunError::Workdir(cwd));
        }
        if args.interactive && args.tty && !std::io::stdin().is_terminal() {
            return Err(RunError::StdinNotTerminal);
        }
        let command = if args.command.is_empty() {
            vec![DEFAULT_COMMAND.to_owned()]
        } else {
            args.command.clone()
        };
        let env = envvars::container_env(&args.env, &hostname, args.tty, lookup)?;
        let volumes = args
            .volume
            .iter()
            .map(|v| volume::resolve(v))
            .collect::<Result<Vec<_>, _>>()?;
        let resources = Resources::from_args(&resource_args(args), &LiveHost)?;
        let security = Security::from_args(&SecurityArgs {
            cap_add: &args.cap_add,
            cap_drop: &args.cap_drop,
            privileged: args.privileged,
            security_opt: &args.security_opt,
        })?;
        let source = source::from_word(&args.source)?;
        let network = NetworkPlan::new(
            args.network,
            &args.publish,
            args.allow_host_loopback,
            std::env::var("PATH").ok().as_deref(),
        )?;
        Ok(Self {
            name,
            hostname,
            cwd,
            args: command,
            env,
            volumes,
            source,
            resources,
            security,
            network,
        })
    }
}

/// Where husk keeps its data and the runtime's state, and whether it runs rootless: root's
/// defaults (/var/lib/husk, /run/husk), or an unprivileged user's (their own data and runtime
/// directories, and an id mapping for their containers). `--data-root` (or $HUSK_DATA_ROOT)
/// and `--root` win either way.
#[derive(Debug, Clone)]
pub struct RunContext {
    /// The data root.
    pub data_root: PathBuf,
    /// The runtime's state root.
    pub state_root: PathBuf,
    /// Rootless: the mapping of the containers' user namespace (see `rootless`).
    pub id_mapping: Option<IdMapping>,
}

impl RunContext {
    /// Decides from `global` and whether husk runs rootless
    /// (`husk_container::rootless::is_rootless`: euid not 0, or in a user namespace).
    ///
    /// Errors: [`RunError::Rootless`] when rootless and no data or state directory can be
    /// found (XDG_RUNTIME_DIR unset and no --root).
    pub fn new(global: &GlobalArgs) -> Result<Self, RunError> {
        let ctx = Self::decide(global)?;
        // Checked before anything is unpacked into it.
        if let Some(ch) = ctx
            .data_root
            .to_string_lossy()
            .chars()
            .find(|c| matches!(c, ',' | ':' | '\\'))
        {
            return Err(RunError::DataRootPath {
                path: ctx.data_root,
                ch,
            });
        }
        Ok(ctx)
    }

    fn decide(global: &GlobalArgs) -> Result<Self, RunError> {
        if !husk_container::rootless::is_rootless() {
            return Ok(Self {
                data_root: global
                    .data_root
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(crate::cli::DEFAULT_DATA_ROOT)),
                state_root: global
                    .root
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(crate::cli::DEFAULT_STATE_ROOT)),
                id_mapping: None,
            });
        }
        // Root of a user namespace (an unprivileged system container) keeps root's data root,
        // as its state root stays /run/husk unless it is Podman-style rootless (`state_root`).
        let data_root = match &global.data_root {
            Some(d) => d.clone(),
            None if nix::unistd::geteuid().is_root()
                && husk_container::rootless::state_root(None)
                    .is_ok_and(|r| r == Path::new(husk_container::rootless::DEFAULT_ROOT)) =>
            {
                PathBuf::from(crate::cli::DEFAULT_DATA_ROOT)
            }
            None => rootless::data_root(|k| std::env::var(k).ok())?,
        };
        let state_root = husk_container::rootless::state_root(global.root.clone())
            .map_err(RootlessError::from)?;
        let id_mapping = IdMapping::current();
        tracing::debug!(mapping = %id_mapping.describe(), "rootless");
        Ok(Self {
            data_root,
            state_root,
            id_mapping: Some(id_mapping),
        })
    }
}

/// The resource options of `args`, as given.
fn resource_args(args: &RunArgs) -> ResourceArgs<'_> {
    ResourceArgs {
        memory: args.memory.as_deref(),
        memory_swap: args.memory_swap.as_deref(),
        cpus: args.cpus.as_deref(),
        cpu_shares: args.cpu_shares.as_deref(),
        cpuset_cpus: args.cpuset_cpus.as_deref(),
        pids_limit: args.pids_limit.as_deref(),
        blkio_weight: args.blkio_weight.as_deref(),
        devices: &args.devices,
    }
}

/// A container ready for the runtime: its directory, its root filesystem (an overlay mount for
/// directory and tarball sources), config.json written. Dropping it unmounts and removes.
#[derive(Debug)]
pub struct Prepared {
    /// The overlay (dropped first: fields drop in declaration order).
    pub overlay: Option<OverlayMount>,
    /// The container's directory.
    pub dir: ContainerDir,
    /// The record, as written so far.
    pub record: Record,
    /// The bundle directory.
    pub bundle: PathBuf,
}

/// Makes everything `plan` needs on disk under `data`: unpacks a tarball (cached), takes the
/// container directory, writes the record, makes the rootfs and writes config.json.
/// `id_mapping` (rootless): the container gets a user namespace with it, the tarball is
/// unpacked through it, and the overlay is left to the runtime (its annotation).
///
/// Errors: [`RunError`]; nothing is left behind (but a complete cache entry).
pub fn prepare(
    plan: &Plan,
    args: &RunArgs,
    data: &DataRoot,
    id_mapping: Option<&IdMapping>,
) -> Result<Prepared, RunError> {
    // Unpack before taking the name: the cache key is needed for the record, and a refused
    // tarball then leaves no container directory.
    let (lower, record_source) = match &plan.source {
        Source::Host => (None, RecordSource::Host),
        Source::Directory(p) => (Some(p.clone()), RecordSource::Directory { path: p.clone() }),
        Source::Tarball(p, compression) => {
            let cache = RootfsCache::new(data.rootfs_cache());
            let opts = match id_mapping {
                Some(m) => UnpackOptions::rootless(m.clone()),
                None => UnpackOptions::default(),
            };
            let cached = cache.get_or_unpack(p, *compression, &opts)?;
            (
                Some(cached.path),
                RecordSource::Tarball {
                    path: p.clone(),
                    sha256: cached.sha256,
                    id_mapping: id_mapping.map(IdMapping::describe),
                },
            )
        }
    };
    let mut dir = ContainerDir::create(data, &plan.name)?;
    dir.remove_with_mapping(id_mapping.cloned());
    if !args.rm {
        dir.keep();
    }
    let paths = dir.paths().clone();
    let record = Record::new(&plan.name, record_source, plan.args.clone());
    record.write(&paths.record())?;

    let rootfs = paths.rootfs();
    let mut rootfs_overlay = None;
    let (overlay, mut mounts, etc_root) = match &lower {
        // Rootless: the runtime mounts it in the container's namespaces.
        Some(lower) if id_mapping.is_some() => {
            let value = overlay::annotation(lower, &paths.upper(), &paths.work(), &rootfs)?;
            rootfs_overlay = Some(value);
            (None, Vec::new(), lower.clone())
        }
        Some(lower) => {
            let m = OverlayMount::mount(lower, &paths.upper(), &paths.work(), &rootfs)?;
            (Some(m), Vec::new(), lower.clone())
        }
        None => {
            std::fs::create_dir(&rootfs).map_err(|source| RunError::RootfsDir {
                path: rootfs.clone(),
                source,
            })?;
            let mounts = hostroot::build(&rootfs, Path::new("/"), &plan.hostname)?;
            (None, mounts, rootfs.clone())
        }
    };
    if let Some(text) = plan
        .network
        .resolv_conf(&std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default())
    {
        let path = paths.dir.join("resolv.conf");
        std::fs::write(&path, text).map_err(|source| RunError::ResolvConf {
            path: path.clone(),
            source,
        })?;
        mounts.push(bundle::bind_mount(
            &path,
            "/etc/resolv.conf",
            false,
            &["nosuid", "nodev", "noexec"],
        ));
    }
    mounts.extend(plan.volumes.iter().map(volume::Volume::to_mount));
    let (uid, gid) = match &args.user {
        Some(text) => user::resolve(text, &user::parse(text)?, &etc_root)?,
        None => (0, 0),
    };
    if let (Some(m), Some(text)) = (id_mapping, &args.user) {
        if u64::from(uid) >= m.uid_count() || u64::from(gid) >= m.gid_count() {
            return Err(RunError::UnmappedUser {
                user: text.clone(),
                uid,
                gid,
                mapping: m.describe(),
            });
        }
    }
    let config = bundle::config(&BundleConfig {
        hostname: plan.hostname.clone(),
        args: plan.args.clone(),
        env: plan.env.clone(),
        cwd: plan.cwd.clone(),
        uid,
        gid,
        terminal: args.tty,
        network: args.network,
        readonly_root: args.read_only,
        extra_mounts: mounts,
        cgroups_path: cgroups_path(args.cgroup_parent.as_deref(), &plan.name)?,
        resources: plan.resources.clone(),
        security: plan.security.clone(),
        user_namespace: id_mapping.cloned(),
        rootfs_overlay,
    });
    let bundle_dir = paths.bundle();
    bundle::write_config(&bundle_dir, &config)?;
    Ok(Prepared {
        overlay,
        dir,
        record,
        bundle: bundle_dir,
    })
}

/// Turns this process into the container's monitor: named `husk:monitor` in `ps`
/// (prctl PR_SET_NAME, `man 2 prctl`), and without -i its stdin is /dev/null, so the container
/// inherits that instead of the caller's terminal.
///
/// Errors: [`RunError::Stdin`].
fn become_monitor(interactive: bool) -> Result<(), RunError> {
    if let Err(e) = nix::sys::prctl::set_name(c"husk:monitor") {
        // Only the name in ps is lost; not worth failing the container for.
        tracing::debug!(error = %e, "prctl(PR_SET_NAME) failed");
    }
    if !interactive {
        let null = std::fs::File::open("/dev/null").map_err(RunError::Stdin)?;
        nix::unistd::dup2(null.as_raw_fd(), libc::STDIN_FILENO)
            .map_err(|e| RunError::Stdin(e.into()))?;
    }
    Ok(())
}

/// Hands the prepared bundle to the runtime as the monitor and returns the command's exit status.
/// A network helper (`net`) attaches between create and start and is gone when this returns.
fn monitor(
    p: &mut Prepared,
    args: &RunArgs,
    net: &NetworkPlan,
    state_root: &Path,
) -> Result<i32, RunError> {
    become_monitor(args.interactive)?;
    p.record.status = RecordStatus::Running;
    p.record.started = Some(now_rfc3339());
    p.record.write(&p.dir.paths().record())?;
    let opts = CreateOptions {
        root: state_root.to_owned(),
        id: p.record.id.clone(),
        bundle: p.bundle.clone(),
        namespace_fds: net.needs_helper(),
        ..Default::default()
    };
    let net_dir = p.dir.paths().dir.join("net");
    container::run_with(&opts, |created| {
        net.attach(created.namespaces(), &net_dir)
            .map_err(|e| ContainerError::BeforeStart(Box::new(e)))
    })
    .map_err(|source| {
        let id = p.record.id.clone();
        let source = Box::new(source);
        match *source {
            ContainerError::Config {
                field: "linux.resources",
                ..
            } if husk_container::rootless::is_rootless() => RunError::RootlessLimits { id, source },
            _ => RunError::Container { id, source },
        }
    })
}

/// `linux.cgroupsPath` for --cgroup-parent: PARENT/NAME, refusing `..` so the container's cgroup
/// cannot climb out of the parent's hierarchy.
fn cgroups_path(parent: Option<&str>, name: &str) -> Result<Option<String>, RunError> {
    let Some(parent) = parent else {
        return Ok(None);
    };
    if parent.is_empty() || parent.split('/').any(|c| c == "..") || parent.contains(':') {
        return Err(RunError::CgroupParent(parent.to_owned()));
    }
    Ok(Some(format!("{}/{name}", parent.trim_end_matches('/'))))
}

/// A container directory whose record says `created` or `running` but whose monitor is gone
/// (killed with SIGKILL: it could not clean up) is reclaimed: the runtime's container is
/// force-deleted, the overlay detached, the directory removed. Kept containers (`--rm=false`,
/// ended) and live ones are left alone; a failure here only leaves the name taken, which
/// `prepare` then reports.
fn reclaim_stale(data: &DataRoot, name: &str, state_root: &Path, id_mapping: Option<&IdMapping>) {
    let paths = data.container(name);
    let Ok(record) = Record::read(&paths.record()) else {
        return;
    };
    let live = matches!(record.status, RecordStatus::Created | RecordStatus::Running);
    if !live || record.monitor.is_none_or(|m| m.is_alive()) {
        return;
    }
    tracing::warn!("container `{name}`: its monitor is gone; cleaning up what it left");
    if let Err(e) = container::delete(state_root, &record.id, true) {
        tracing::warn!("container `{name}`: {e}");
        return;
    }
    let rootfs = paths.rootfs();
    let _ = nix::mount::umount2(&rootfs, nix::mount::MntFlags::MNT_DETACH);
    // Never delete through a mount (the lower layer would go with it).
    let dir = paths.dir.to_string_lossy().into_owned();
    let mounted = std::fs::read_to_string("/proc/self/mountinfo").map_or(true, |m| {
        m.lines()
            .any(|l| l.split(' ').nth(4).is_some_and(|p| p.starts_with(&dir)))
    });
    if !mounted {
        if let Err(e) = rootless::remove_tree(&paths.dir, id_mapping) {
            tracing::warn!("container `{name}`: removing {}: {e}", paths.dir.display());
        }
    }
}

/// `husk run`: prepares the container, runs it in the foreground as its monitor, records the
/// outcome, cleans up; returns the command's exit status.
///
/// Errors: [`RunError`]; map it to an exit status with [`RunError::exit_code`].
pub fn run(global: &GlobalArgs, args: &RunArgs) -> Result<i32, RunError> {
    let plan = Plan::new(args, |k| std::env::var(k).ok())?;
    let ctx = RunContext::new(global)?;
    let data = DataRoot::new(&ctx.data_root);
    let mapping = ctx.id_mapping.as_ref();
    reclaim_stale(&data, &plan.name, &ctx.state_root, mapping);
    let mut prepared = prepare(&plan, args, &data, mapping)?;
    let result = monitor(&mut prepared, args, &plan.network, &ctx.state_root);
    let record_path = prepared.dir.paths().record();
    let Prepared {
        overlay,
        dir,
        mut record,
        ..
    } = prepared;
    if let Some(m) = overlay {
        if let Err(e) = m.unmount() {
            tracing::warn!(error = %e, "leaving the container's overlay mounted");
        }
    }
    record.finished = Some(now_rfc3339());
    match &result {
        Ok(code) => {
            record.status = RecordStatus::Exited;
            record.exit_status = Some(*code);
        }
        Err(e) => {
            record.status = RecordStatus::Failed;
            record.exit_status = Some(e.exit_code());
            record.error = Some(e.to_string());
        }
    }
    if !args.rm {
        if let Err(e) = record.write(&record_path) {
            tracing::warn!(error = %e, "could not write the final record");
        }
    }
    drop(dir);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use crate::testutil::{busybox_rootfs, need_root, tar_dir};
    use crate::unpack;
    use clap::Parser;
    use serde_json::Value;

    fn cli(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("husk").chain(args.iter().copied())).unwrap()
    }

    fn run_args(c: &Cli) -> &RunArgs {
        match &c.command {
            Command::Run(r) => r,
        }
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn plan_defaults_and_errors() {
        let c = cli(&["run", "host"]);
        let p = Plan::new(run_args(&c), no_env).unwrap();
        assert!(p.name.starts_with("husk-"));
        assert_eq!(p.hostname, p.name);
        assert_eq!(p.args, ["/bin/sh"]);
        assert_eq!(p.cwd, "/");
        assert_eq!(p.source, Source::Host);

        let c = cli(&[
            "run",
            "--name",
            "x",
            "--hostname",
            "h",
            "-w",
            "/tmp",
            "host",
            "id",
            "-u",
        ]);
        let p = Plan::new(run_args(&c), no_env).unwrap();
        assert_eq!((p.name.as_str(), p.hostname.as_str()), ("x", "h"));
        assert_eq!(p.args, ["id", "-u"]);
        assert!(p.env.contains(&"HOSTNAME=h".to_owned()));

        let bad = |args: &[&str]| Plan::new(run_args(&cli(args)), no_env).unwrap_err();
        assert!(matches!(
            bad(&["run", "-w", "tmp", "host"]),
            RunError::Workdir(_)
        ));
        assert!(matches!(
            bad(&["run", "--name", "a/b", "host"]),
            RunError::Name(_)
        ));
        assert!(matches!(bad(&["run", "alpine"]), RunError::Source(_)));
        assert!(matches!(
            bad(&["run", "-v", "/nonexistent-husk:/x", "host"]),
            RunError::Volume(_)
        ));
        assert!(matches!(
            bad(&["run", "-e", "=x", "host"]),
            RunError::Env(_)
        ));
        assert_eq!(bad(&["run", "alpine"]).exit_code(), EXIT_HUSK_FAILED);
    }

    #[test]
    fn cgroup_parent_becomes_parent_slash_name() {
        assert_eq!(cgroups_path(None, "c").unwrap(), None);
        assert_eq!(
            cgroups_path(Some("husk/"), "c").unwrap().as_deref(),
            Some("husk/c")
        );
        assert_eq!(
            cgroups_path(Some("/a/b"), "c").unwrap().as_deref(),
            Some("/a/b/c")
        );
        for bad in ["", "a/../..", "..", "system.slice:husk:x"] {
            assert!(
                matches!(cgroups_path(Some(bad), "c"), Err(RunError::CgroupParent(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn exit_codes_of_container_errors() {
        let exec = |failure| RunError::Container {
            id: "x".into(),
            source: Box::new(ContainerError::Child(
                husk_container::process::ChildError::Exec {
                    path: "nope".into(),
                    failure,
                },
            )),
        };
        assert_eq!(exec(ExecFailure::NotFound).exit_code(), 127);
        assert_eq!(exec(ExecFailure::NotExecutable).exit_code(), 126);
        let e = RunError::Container {
            id: "x".into(),
            source: Box::new(ContainerError::StuckProcess("x".into())),
        };
        assert_eq!(e.exit_code(), EXIT_HUSK_FAILED);
        assert_eq!(
            e.message(),
            "container `x`: container \"x\" did not stop within 10 s of SIGKILL"
        );
        let e = RunError::Record(RecordError::Write {
            path: "/d/r.json".into(),
            source: std::io::Error::from_raw_os_error(libc::ENOSPC),
        });
        assert_eq!(
            e.message(),
            "writing the container record /d/r.json: No space left on device (os error 28)"
        );
    }

    fn read_config(p: &Prepared) -> Value {
        serde_json::from_slice(&std::fs::read(p.bundle.join("config.json")).unwrap()).unwrap()
    }

    #[test]
    fn prepare_host_source() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataRoot::new(tmp.path().join("data"));
        let c = cli(&[
            "run",
            "--name",
            "hostbox",
            "-u",
            "nobody",
            "--read-only",
            "--network",
            "host",
            "-v",
            "/tmp:/mnt/tmp:ro",
            "host",
            "ls",
            "/",
        ]);
        let plan = Plan::new(run_args(&c), no_env).unwrap();
        let p = prepare(&plan, run_args(&c), &data, None).unwrap();
        assert!(p.overlay.is_none());
        let v = read_config(&p);
        assert_eq!(v["hostname"], "hostbox");
        assert_eq!(v["process"]["args"], serde_json::json!(["ls", "/"]));
        assert_eq!(
            v["process"]["user"],
            serde_json::json!({"uid": 65534, "gid": 65534})
        );
        assert_eq!(v["root"]["readonly"], true);
        let mounts = v["mounts"].as_array().unwrap();
        let usr = mounts.iter().find(|m| m["destination"] == "/usr").unwrap();
        assert_eq!(
            usr["options"],
            serde_json::json!(["rbind", "ro", "nosuid", "nodev"])
        );
        let last = mounts.last().unwrap();
        assert_eq!(last["destination"], "/mnt/tmp");
        assert_eq!(last["options"], serde_json::json!(["rbind", "ro"]));
        let rec = Record::read(&p.dir.paths().record()).unwrap();
        assert_eq!(rec.status, RecordStatus::Created);
        assert_eq!(rec.source, RecordSource::Host);
        assert_eq!(
            std::fs::read_to_string(p.bundle.join("rootfs/etc/hostname")).unwrap(),
            "hostbox\n"
        );
        let dir = p.dir.paths().dir.clone();
        drop(p);
        assert!(!dir.exists());
    }

    /// `husk run` until the runtime call (which the lead is writing): it fails with 125 and
    /// leaves neither a container directory nor a mount; with --rm=false the record says so.
    #[test]
    fn run_on_a_tarball_up_to_the_runtime() {
        if !need_root("run_on_a_tarball_up_to_the_runtime") {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        if !busybox_rootfs(&src) {
            return;
        }
        let tarball = tmp.path().join("bb.tar");
        tar_dir(&src, &tarball);
        let data_root = tmp.path().join("data");
        let state_root = tmp.path().join("state");
        let tb = tarball.to_str().unwrap();
        let (d, s) = (data_root.to_str().unwrap(), state_root.to_str().unwrap());

        // Prepare only: the overlay is mounted and the container writes to its upper layer.
        let c = cli(&[
            "--data-root",
            d,
            "--root",
            s,
            "run",
            "--name",
            "t1",
            "-u",
            "alice",
            tb,
        ]);
        let plan = Plan::new(run_args(&c), no_env).unwrap();
        let data = DataRoot::new(&data_root);
        let p = prepare(&plan, run_args(&c), &data, None).unwrap();
        let rootfs = p.bundle.join("rootfs");
        assert!(rootfs.join("bin/busybox").is_file());
        std::fs::write(rootfs.join("written"), "x").unwrap();
        let RecordSource::Tarball { sha256, .. } = &p.record.source else {
            panic!("{:?}", p.record.source)
        };
        let lower = data.rootfs_cache().join(sha256);
        assert_eq!(sha256, &unpack::sha256_file(&tarball).unwrap());
        assert!(!lower.join("written").exists());
        assert_eq!(
            read_config(&p)["process"]["user"],
            serde_json::json!({"uid": 1000, "gid": 1001})
        );
        drop(p);
        assert!(!data.container("t1").dir.exists());
        assert!(std::fs::read_dir(&rootfs).is_err());

        // The whole verb, --rm=false: the exit status is recorded, the overlay is gone. The
        // container's cgroup goes under a test parent (made and removed by the runtime).
        let cgroup_parent = format!("husk-test-unit-{}", std::process::id());
        let c = cli(&[
            "--data-root",
            d,
            "--root",
            s,
            "run",
            "--cgroup-parent",
            &cgroup_parent,
            "--rm=false",
            "--name",
            "t2",
            tb,
            "/bin/sh",
            "-c",
            "echo kept > /kept; exit 7",
        ]);
        assert_eq!(run(&c.global, run_args(&c)).unwrap(), 7);
        let paths = data.container("t2");
        let rec = Record::read(&paths.record()).unwrap();
        assert_eq!(rec.status, RecordStatus::Exited);
        assert_eq!(rec.exit_status, Some(7));
        assert!(rec.started.is_some() && rec.finished.is_some());
        assert!(!paths.bundle().exists() && !paths.work().exists());
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(
            !mountinfo.contains(tmp.path().to_str().unwrap()),
            "{mountinfo}"
        );

        // The default --rm: nothing at all remains of the container.
        let c = cli(&[
            "--data-root",
            d,
            "--root",
            s,
            "run",
            "--cgroup-parent",
            &cgroup_parent,
            "-i",
            "--name",
            "t3",
            tb,
            "/nonexistent-command",
        ]);
        assert_eq!(run(&c.global, run_args(&c)).unwrap_err().exit_code(), 127);
        assert!(!data.container("t3").dir.exists());
    }

    #[test]
    fn a_refused_tarball_leaves_no_container() {
        let tmp = tempfile::tempdir().unwrap();
        let mut b = tar::Builder::new(Vec::new());
        crate::testutil::raw_entry(&mut b, tar::EntryType::Regular, b"../evil", None, b"x");
        let tarball = tmp.path().join("evil.tar");
        std::fs::write(&tarball, b.into_inner().unwrap()).unwrap();
        let d = tmp.path().join("data");
        let c = cli(&[
            "--data-root",
            d.to_str().unwrap(),
            "run",
            "--name",
            "e",
            tarball.to_str().unwrap(),
        ]);
        let err = run(&c.global, run_args(&c)).unwrap_err();
        assert!(
            matches!(err, RunError::Unpack(UnpackError::ParentDirEntry { .. })),
            "{err}"
        );
        assert!(!DataRoot::new(&d).container("e").dir.exists());
        assert!(!tmp.path().join("evil").exists());
    }
}
