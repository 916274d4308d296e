//! One container's cgroup: its directory in every hierarchy of the host, created and removed
//! by husk, recorded in state.json (serde) so later verbs (kill --all, delete) reopen it.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

use crate::devices::{default_allowed, rules_from_spec};
use crate::error::CgroupError;
use crate::fs::{parse_pids, write_file};
use crate::layout::{CgroupVersion, Layout, LayoutKind};
use crate::path::{is_below, place, CgroupsPath};
use crate::resources::{self, Controller, Resources};
use crate::{v1, v2};

/// How long destroy() retries rmdir on EBUSY (the last processes are still exiting).
const RMDIR_TIMEOUT: Duration = Duration::from_secs(2);
/// How long kill_all(SIGKILL) waits for the cgroup to empty.
const KILL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a freeze may take before kill_all gives up freezing and signals anyway.
const FREEZE_TIMEOUT: Duration = Duration::from_secs(1);

/// The container's cgroup in one hierarchy.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct CgroupDir {
    version: CgroupVersion,
    controllers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    mount_point: PathBuf,
    cgroup_path: String,
    path: PathBuf,
    /// The directories create() made, shallowest first; the only ones destroy() removes.
    created: Vec<PathBuf>,
}

impl CgroupDir {
    /// v1 or v2.
    pub fn version(&self) -> CgroupVersion {
        self.version
    }

    /// The v1 controllers of the hierarchy (empty for v2 and for a named hierarchy).
    pub fn controllers(&self) -> &[String] {
        &self.controllers
    }

    /// The host directory of the container's cgroup, e.g.
    /// `/sys/fs/cgroup/memory/process_api/x/c1`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The cgroup path inside the hierarchy, as /proc/PID/cgroup shows it (`/process_api/x/c1`).
    pub fn cgroup_path(&self) -> &str {
        &self.cgroup_path
    }

    /// Whether create() made the container's own directory (false: it joined an existing
    /// cgroup, which destroy() leaves in place).
    pub fn created_leaf(&self) -> bool {
        self.created.last() == Some(&self.path)
    }
}

/// What the container's `cgroup` mount must show for one hierarchy (runtime-spec
/// config-linux.md, "cgroup mount"; runc mounts a tmpfs at the destination on v1 and one entry
/// per hierarchy under it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CgroupMount {
    /// The directory name under the mount destination (the host mount point's base name:
    /// `memory`, `cpu,cpuacct`, `systemd`, `unified`); empty on a pure v2 host, where the
    /// cgroup2 mount is the destination itself.
    pub name: String,
    /// `cgroup` (v1) or `cgroup2`.
    pub fstype: String,
    /// Mount data for a fresh mount in a cgroup namespace: `memory`, `cpu,cpuacct`,
    /// `name=systemd` for v1, empty for cgroup2.
    pub data: String,
    /// The host directory of the container's cgroup in that hierarchy (the bind-mount source
    /// without a cgroup namespace).
    pub host_path: PathBuf,
    /// Symlinks to make next to a co-mounted entry, each pointing to `name`: `cpu` and
    /// `cpuacct` for `cpu,cpuacct`.
    pub symlinks: Vec<String>,
}

/// One container's cgroup: its directory in every hierarchy of the layout.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Cgroup {
    kind: LayoutKind,
    dirs: Vec<CgroupDir>,
    /// Device rules are not applied (a rootless runtime: see [`Cgroup::without_device_rules`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    no_device_rules: bool,
}

impl Cgroup {
    /// The checks of `linux.resources` that do not depend on the host, made before anything
    /// is created: value ranges and shapes, each error naming the JSON field (see
    /// [`CgroupError::InvalidValue`]). Returns warnings to show the user (deprecated fields
    /// that are ignored: `memory.kernel`, `memory.kernelTCP`). `pids_limit` is the
    /// presence-aware `linux.resources.pids.limit` (oci-spec reads an absent limit as 0; the
    /// caller passes what the JSON said). See [`Layout::check_resources`] for what depends on
    /// the host.
    pub fn check(
        resources: &LinuxResources,
        pids_limit: Option<i64>,
    ) -> Result<Vec<String>, CgroupError> {
        resources::check(Resources {
            spec: resources,
            pids_limit,
        })
    }

    /// Create (mkdir -p) the container's cgroup in every hierarchy of `layout`.
    ///
    /// `cgroups_path` is `linux.cgroupsPath`: absolute is taken as given, below each
    /// hierarchy's mount root; relative goes below the runtime's own cgroup
    /// (/proc/self/cgroup) on v1 and below its parent on v2 (no-internal-process rule); None
    /// or "" is the relative path `id` (what runc 1.1 does with the cgroupfs driver). The
    /// systemd form `slice:prefix:name` and `..` components are refused.
    ///
    /// The directories it makes are recorded, and only those are removed by
    /// [`Cgroup::destroy`]: joining an existing cgroup (a pod's) works and leaves it in place
    /// on delete. (runc removes the container's own directory even when it pre-existed; husk
    /// does not, so a cgroup it did not make is never taken away from its owner.) A joined
    /// cgroup that already has processes is logged as a warning, as runc 1.1 does.
    ///
    /// On failure, what was made so far is removed again.
    pub fn create(
        layout: &Layout,
        cgroups_path: Option<&str>,
        id: &str,
    ) -> Result<Cgroup, CgroupError> {
        let cgroup = Cgroup::plan(layout, cgroups_path, id)?;
        cgroup.make()?;
        Ok(cgroup)
    }

    /// [`Cgroup::create`] in two steps, so the caller can record the cgroup (state.json) before
    /// any directory exists: `plan` places the container's cgroup in every hierarchy and notes
    /// which directories are missing (those `make` will create and `destroy` will remove),
    /// touching nothing; a `delete --force` after a crash between the two removes whatever of
    /// them exists.
    ///
    /// # Errors
    /// A bad `cgroups_path` (see [`Cgroup::create`]).
    pub fn plan(
        layout: &Layout,
        cgroups_path: Option<&str>,
        id: &str,
    ) -> Result<Cgroup, CgroupError> {
        let path = CgroupsPath::parse(cgroups_path, id)?;
        let mut cgroup = Cgroup {
            no_device_rules: false,
            kind: layout.kind(),
            dirs: Vec::with_capacity(layout.hierarchies().len()),
        };
        for hierarchy in layout.hierarchies() {
            let placement = place(hierarchy, &path)?;
            let created = missing_dirs(&placement.dir, &hierarchy.mount_point);
            cgroup.dirs.push(CgroupDir {
                version: hierarchy.version,
                controllers: hierarchy.controllers.clone(),
                name: hierarchy.name.clone(),
                mount_point: hierarchy.mount_point.clone(),
                cgroup_path: placement.cgroup_path,
                path: placement.dir,
                created,
            });
        }
        Ok(cgroup)
    }

    /// The cgroups this process is in (its own, from /proc/self/cgroup), as a `Cgroup` that
    /// made no directory ([`Cgroup::destroy`] removes nothing) and applies no device rules.
    /// What a rootless container without a cgroup of its own sees at /sys/fs/cgroup: the
    /// cgroups it inherited from the runtime ([`Cgroup::mounts`]).
    ///
    /// # Errors
    /// The runtime's own cgroup lies outside the mounted part of a hierarchy.
    pub fn current(layout: &Layout) -> Result<Cgroup, CgroupError> {
        let mut cgroup = Cgroup {
            no_device_rules: true,
            kind: layout.kind(),
            dirs: Vec::with_capacity(layout.hierarchies().len()),
        };
        for hierarchy in layout.hierarchies() {
            // The own cgroup may be the hierarchy's root, which `place` (strictly below) refuses.
            let own = Path::new(&hierarchy.own_cgroup);
            let below = own
                .strip_prefix(&hierarchy.mount_root)
                .ok()
                .filter(|b| {
                    b.components()
                        .all(|c| matches!(c, std::path::Component::Normal(_)))
                })
                .ok_or_else(|| CgroupError::OwnCgroupOutsideMount {
                    mount_point: hierarchy.mount_point.clone(),
                    mount_root: hierarchy.mount_root.clone(),
                    own: hierarchy.own_cgroup.clone(),
                })?;
            cgroup.dirs.push(CgroupDir {
                version: hierarchy.version,
                controllers: hierarchy.controllers.clone(),
                name: hierarchy.name.clone(),
                mount_point: hierarchy.mount_point.clone(),
                cgroup_path: hierarchy.own_cgroup.clone(),
                path: hierarchy.mount_point.join(below),
                created: Vec::new(),
            });
        }
        Ok(cgroup)
    }

    /// The second step of [`Cgroup::create`]: make the directories [`Cgroup::plan`] found
    /// missing (cpuset ones get their parent's cpus and mems). On failure, what was made is
    /// removed again.
    ///
    /// # Errors
    /// Mkdir failures naming the path; a joined path that is a file.
    pub fn make(&self) -> Result<(), CgroupError> {
        for dir in &self.dirs {
            let mut made_now = Vec::new();
            let mut made = mkdir_p(&dir.path, &dir.mount_point, &mut made_now);
            if made.is_ok() && dir.controllers.iter().any(|c| c == "cpuset") {
                made = made_now
                    .iter()
                    .try_for_each(|d| v1::cpuset::inherit_from_parent(d));
            }
            if made.is_ok() && dir.version == CgroupVersion::V2 {
                enable_v2_controllers(&dir.path, &dir.mount_point);
            }
            if let Err(error) = made {
                if let Err(cleanup) = self.destroy() {
                    tracing::warn!("removing the partly created cgroup: {cleanup}");
                }
                return Err(error);
            }
        }
        let cgroup = self;
        if cgroup.dirs.iter().any(|d| !d.created_leaf()) {
            match cgroup.procs() {
                Ok(pids) if !pids.is_empty() => tracing::warn!(
                    "the container's cgroup already exists and has {} process(es); joining it",
                    pids.len()
                ),
                Ok(_) => {}
                Err(error) => tracing::debug!("reading the joined cgroup: {error}"),
            }
        }
        Ok(())
    }

    /// Whether the cgroup is the container's own in every hierarchy (create made it), as
    /// opposed to an existing one it joined (a pod's), whose other processes are not the
    /// container's to kill at delete.
    pub fn is_own(&self) -> bool {
        self.dirs.iter().all(CgroupDir::created_leaf)
    }

    /// The container's directory in each hierarchy.
    pub fn dirs(&self) -> &[CgroupDir] {
        &self.dirs
    }

    /// The kind of host the cgroup was made on.
    pub fn kind(&self) -> LayoutKind {
        self.kind
    }

    /// The container's cgroup2 directory, if the host has cgroup2 (for CLONE_INTO_CGROUP).
    pub fn unified_dir(&self) -> Option<&Path> {
        self.dir(CgroupVersion::V2, None).map(CgroupDir::path)
    }

    /// Move process `pid` into the container's cgroup in every hierarchy by writing it to
    /// cgroup.procs (cgroups(7), "Creating cgroups and moving processes"). Errors name the
    /// file (ESRCH when the process is gone).
    pub fn add_process(&self, pid: i32) -> Result<(), CgroupError> {
        self.check_paths()?;
        let value = pid.to_string();
        for dir in &self.dirs {
            write_file(&dir.path.join("cgroup.procs"), &value)?;
        }
        Ok(())
    }

    /// Apply `linux.resources` at create (husk does it once the init has set the container up,
    /// before the user program runs, so the runtime's own setup is not held to the limits):
    /// each controller is driven
    /// through the hierarchy it is bound to on this host (a v1 hierarchy that has it, else
    /// cgroup2 when the container's cgroup2 directory lists it in cgroup.controllers), in the
    /// order cpuset, memory, cpu, pids, blkio/io, hugetlb, net_cls, net_prio, rdma, devices,
    /// then `unified` (last, so its raw values win). Only fields that are set are written.
    ///
    /// Devices: the container always gets deny-all, its rules, then the default allow list
    /// (null, zero, full, random, urandom, tty, console, ptmx, pts and tun; runc 1.1's list
    /// plus console): v1 through devices.deny/devices.allow, v2 through a BPF_CGROUP_DEVICE
    /// program.
    ///
    /// Pure v2: the rules compiled into a BPF_CGROUP_DEVICE program attached to the
    /// container's cgroup directory; an update replaces the program husk attached before in
    /// one step (see `v2/devices.rs` for the semantics and the programs left alone).
    ///
    /// # Errors
    /// The first failure, naming the JSON field: a controller the host lacks
    /// ([`CgroupError::Unsupported`]), a file the controller lacks
    /// ([`CgroupError::MissingFile`]), a value the kernel refuses ([`CgroupError::Limit`] with
    /// the file, the value and the errno), a device program the kernel refuses
    /// ([`CgroupError::BpfLoad`] with the verifier log, [`CgroupError::BpfAttach`]). The
    /// caller removes the cgroup.
    pub fn apply(
        &self,
        resources: Option<&LinuxResources>,
        pids_limit: Option<i64>,
    ) -> Result<(), CgroupError> {
        let empty = LinuxResources::default();
        self.apply_resources(
            Resources {
                spec: resources.unwrap_or(&empty),
                pids_limit,
            },
            false,
        )
    }

    /// Change the limits of a running container (the `update` verb, runc's `update`):
    /// like [`Cgroup::apply`], for the fields set in `resources` only; the device rules are
    /// replaced only when `resources.devices` is given. `memory.checkBeforeUpdate` makes a
    /// memory limit below the current usage an error ([`CgroupError::BelowUsage`]).
    ///
    /// # Errors
    /// As [`Cgroup::apply`]; values already written stay written (the kernel has no
    /// transactions; runc behaves the same).
    pub fn update(
        &self,
        resources: &LinuxResources,
        pids_limit: Option<i64>,
    ) -> Result<(), CgroupError> {
        let request = Resources {
            spec: resources,
            pids_limit,
        };
        for warning in resources::check(request)? {
            tracing::warn!("{warning}");
        }
        self.apply_resources(request, true)
    }

    fn apply_resources(&self, r: Resources<'_>, update: bool) -> Result<(), CgroupError> {
        self.check_paths()?;
        let v2_available = self.v2_controllers()?;
        for (controller, field) in resources::needed(r) {
            let (version, dir) = self
                .target(controller, &v2_available)
                .ok_or_else(|| self.missing_controller(controller, field, &v2_available))?;
            let spec = r.spec;
            match (controller, version) {
                (Controller::Cpuset, _) => {
                    if let Some(cpu) = spec.cpu() {
                        v1::cpuset::apply(dir, cpu)?;
                    }
                }
                (Controller::Memory, CgroupVersion::V1) => {
                    if let Some(m) = spec.memory() {
                        v1::memory::apply(dir, m, update)?;
                    }
                }
                (Controller::Memory, CgroupVersion::V2) => {
                    if let Some(m) = spec.memory() {
                        v2::memory::apply(dir, m, update)?;
                    }
                }
                (Controller::Cpu, CgroupVersion::V1) => {
                    if let Some(cpu) = spec.cpu() {
                        v1::cpu::apply(dir, cpu)?;
                    }
                }
                (Controller::Cpu, CgroupVersion::V2) => {
                    if let Some(cpu) = spec.cpu() {
                        v2::cpu::apply(dir, cpu)?;
                    }
                }
                (Controller::Pids, _) => {
                    if let Some(limit) = r.pids_limit {
                        v1::pids::apply(dir, limit)?;
                    }
                }
                (Controller::Blkio, CgroupVersion::V1) => {
                    if let Some(b) = spec.block_io() {
                        v1::blkio::apply(dir, b)?;
                    }
                }
                (Controller::Blkio, CgroupVersion::V2) => {
                    if let Some(b) = spec.block_io() {
                        v2::io::apply(dir, b)?;
                    }
                }
                (Controller::Hugetlb, CgroupVersion::V1) => {
                    v1::hugetlb::apply(dir, spec.hugepage_limits().as_deref().unwrap_or(&[]))?;
                }
                (Controller::Hugetlb, CgroupVersion::V2) => {
                    v2::hugetlb::apply(dir, spec.hugepage_limits().as_deref().unwrap_or(&[]))?;
                }
                (Controller::NetCls, _) => {
                    if let Some(id) = spec.network().as_ref().and_then(|n| n.class_id()) {
                        v1::net_cls::apply(dir, id)?;
                    }
                }
                (Controller::NetPrio, _) => {
                    let priorities = spec
                        .network()
                        .as_ref()
                        .and_then(|n| n.priorities().as_ref());
                    v1::net_prio::apply(dir, priorities.map_or(&[], Vec::as_slice))?;
                }
                (Controller::Rdma, _) => {
                    if let Some(rdma) = spec.rdma() {
                        v1::rdma::apply(dir, rdma)?;
                    }
                }
            }
        }
        if !update || r.spec.devices().is_some() {
            self.apply_devices(r.spec)?;
        }
        if let Some(unified) = r.spec.unified().as_ref().filter(|u| !u.is_empty()) {
            let Some(dir) = self.dir(CgroupVersion::V2, None) else {
                return Err(CgroupError::Unsupported {
                    field: "linux.resources.unified".to_owned(),
                    reason: "this host has no cgroup2 hierarchy mounted; unified keys are cgroup v2 interface files".to_owned(),
                });
            };
            v2::unified::apply(&dir.path, unified, &v2_available)?;
        }
        Ok(())
    }

    /// This cgroup without device rules: [`Cgroup::apply`] and [`Cgroup::update`] leave the
    /// devices controller alone. For a rootless runtime, which may not load a
    /// BPF_CGROUP_DEVICE program (it needs CAP_BPF or CAP_SYS_ADMIN in the host's user
    /// namespace) nor write a delegated v1 devices.deny, and whose containers cannot make device
    /// nodes anyway (their devices are bind mounts of the host's, guarded by the host's
    /// permissions). runc does the same for rootless containers.
    pub fn without_device_rules(mut self) -> Self {
        self.no_device_rules = true;
        self
    }

    /// The device rules: deny-all, the container's rules, the default allow list.
    fn apply_devices(&self, spec: &LinuxResources) -> Result<(), CgroupError> {
        if self.no_device_rules {
            tracing::debug!("device rules skipped: the cgroup is a rootless container's");
            return Ok(());
        }
        let rules = match spec.devices() {
            Some(devices) => rules_from_spec(devices)?,
            None => Vec::new(),
        };
        if let Some(dir) = self.dir(CgroupVersion::V1, Some("devices")) {
            v1::devices::apply(&dir.path, &rules)
        } else if let Some(dir) = self.dir(CgroupVersion::V2, None) {
            v2::devices::apply(&dir.path, &rules)
        } else if rules
            .iter()
            .all(|r| r.is_deny_all() || default_allowed().contains(r))
        {
            tracing::debug!("no devices controller on this host; default device rules skipped");
            Ok(())
        } else {
            Err(CgroupError::NoDevicesController)
        }
    }

    /// The controllers of the container's cgroup2 directory (its cgroup.controllers), empty
    /// without cgroup2.
    fn v2_controllers(&self) -> Result<Vec<String>, CgroupError> {
        let Some(dir) = self.dir(CgroupVersion::V2, None) else {
            return Ok(Vec::new());
        };
        match std::fs::read_to_string(dir.path.join("cgroup.controllers")) {
            Ok(text) => Ok(text.split_whitespace().map(str::to_owned).collect()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Vec::new()),
            Err(source) => Err(CgroupError::Read {
                path: dir.path.join("cgroup.controllers"),
                source,
            }),
        }
    }

    /// Where `controller` is driven: the v1 hierarchy it is bound to, else cgroup2 when the
    /// container's cgroup2 directory has it.
    fn target(
        &self,
        controller: Controller,
        v2_available: &[String],
    ) -> Option<(CgroupVersion, &Path)> {
        if let Some(dir) = self.dir(CgroupVersion::V1, Some(controller.v1())) {
            return Some((CgroupVersion::V1, &dir.path));
        }
        let name = controller.v2()?;
        if !v2_available.iter().any(|c| c == name) {
            return None;
        }
        self.dir(CgroupVersion::V2, None)
            .map(|d| (CgroupVersion::V2, d.path.as_path()))
    }

    fn missing_controller(
        &self,
        controller: Controller,
        field: String,
        v2_available: &[String],
    ) -> CgroupError {
        let reason = match (controller.v2(), self.dir(CgroupVersion::V2, None)) {
            (None, _) if self.kind == LayoutKind::Unified => format!(
                "cgroup v2 has no {} controller (it exists only in cgroup v1); remove the field",
                controller.v1()
            ),
            (Some(name), Some(dir)) => format!(
                "the {} controller is not mounted as a v1 hierarchy and {name} is not in {} ({:?}): mount it, or enable it in the parent's cgroup.subtree_control (a parent with processes of its own cannot hand controllers down); remove the field otherwise",
                controller.v1(),
                dir.path.join("cgroup.controllers").display(),
                v2_available.join(" ")
            ),
            _ => format!(
                "the {} controller is not mounted on this host; mount it or remove the field",
                controller.v1()
            ),
        };
        CgroupError::Unsupported { field, reason }
    }

    /// Every pid in the cgroup and the cgroups below it (made by the container), sorted, read
    /// from cgroup.procs of one hierarchy (every process is in every hierarchy): the v2 one
    /// on a unified host, else the v1 freezer, pids, devices or memory one.
    pub fn procs(&self) -> Result<Vec<i32>, CgroupError> {
        self.check_paths()?;
        let Some(dir) = self.primary() else {
            return Ok(Vec::new());
        };
        let mut pids = Vec::new();
        collect_pids(&dir.path, &mut pids)?;
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }

    /// Send `signal` to every process of the cgroup (`kill --all`, `delete --force`).
    ///
    /// The cgroup is frozen while the pids are read and signalled (v1 freezer.state, v2
    /// cgroup.freeze) so a process cannot fork a child that escapes the signal; a cgroup that
    /// was frozen before stays frozen, except after SIGKILL (frozen processes only die once
    /// thawed). For SIGKILL on v2 with cgroup.kill (Linux 5.14) the kernel does it in one
    /// write. For SIGKILL, it then waits until the cgroup is empty, re-signalling stragglers,
    /// at most 5 s ([`CgroupError::KillTimeout`] with the pids left). A process that is
    /// already gone (ESRCH) is not an error.
    pub fn kill_all(&self, signal: Signal) -> Result<(), CgroupError> {
        self.check_paths()?;
        let Some(primary) = self.primary() else {
            return Ok(());
        };
        if signal == Signal::SIGKILL && self.kind == LayoutKind::Unified {
            let kill_file = primary.path.join("cgroup.kill");
            if kill_file.exists() {
                write_file(&kill_file, "1")?;
                // A frozen cgroup stays frozen after cgroup.kill: thawed, so that a joined
                // cgroup (kept at delete) does not freeze what joins it later.
                if let Some(f) = self.freezer() {
                    if let Err(e) = f.thaw() {
                        tracing::debug!("thawing after cgroup.kill: {e}");
                    }
                }
                return self.wait_empty(primary);
            }
        }
        let freezer = self.freezer();
        let was_frozen = match &freezer {
            Some(f) => f.is_frozen()?,
            None => false,
        };
        let frozen = match &freezer {
            Some(f) if !was_frozen => {
                let frozen = f.freeze(FREEZE_TIMEOUT).inspect_err(|_| {
                    // Never leave the cgroup half frozen on an error.
                    let _ = f.thaw();
                })?;
                if !frozen {
                    tracing::warn!(
                        "the cgroup did not freeze within {FREEZE_TIMEOUT:?}; signalling unfrozen"
                    );
                }
                frozen
            }
            _ => was_frozen,
        };
        let signalled = self.signal_each(primary, signal);
        if let Some(f) = &freezer {
            if frozen && (!was_frozen || signal == Signal::SIGKILL) {
                f.thaw()?;
            }
        }
        signalled?;
        if signal == Signal::SIGKILL {
            self.wait_empty(primary)?;
        }
        Ok(())
    }

    /// Remove the directories create() made, deepest first, in every hierarchy. The
    /// container's own directory loses its sub-cgroups (made by the container) first. rmdir
    /// is retried on EBUSY for up to 2 s (processes still exiting); then
    /// [`CgroupError::Busy`] names the directory and its pids. A directory create() made above
    /// the container's own (e.g. `pod` of `/pod/c1`) that now holds another container's
    /// cgroup is left in place. Already-removed directories are fine (idempotent); every
    /// hierarchy is tried and the first error returned.
    pub fn destroy(&self) -> Result<(), CgroupError> {
        self.check_paths()?;
        let deadline = Instant::now() + RMDIR_TIMEOUT;
        let mut first_error = None;
        for dir in &self.dirs {
            if let Err(error) = remove_created(dir, deadline) {
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// What the container's `cgroup` mount must show: one entry per hierarchy (see
    /// [`CgroupMount`]).
    pub fn mounts(&self) -> Vec<CgroupMount> {
        self.dirs
            .iter()
            .map(|dir| {
                let name = if dir.version == CgroupVersion::V2 && self.kind == LayoutKind::Unified {
                    String::new()
                } else {
                    dir.mount_point
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                };
                let symlinks = if name.contains(',') {
                    name.split(',').map(str::to_owned).collect()
                } else {
                    Vec::new()
                };
                let mut data = dir.controllers.clone();
                if let Some(n) = &dir.name {
                    data.push(format!("name={n}"));
                }
                CgroupMount {
                    name,
                    fstype: match dir.version {
                        CgroupVersion::V1 => "cgroup".to_owned(),
                        CgroupVersion::V2 => "cgroup2".to_owned(),
                    },
                    data: data.join(","),
                    host_path: dir.path.clone(),
                    symlinks,
                }
            })
            .collect()
    }

    /// Every recorded directory (they come back from state.json) must be below its
    /// hierarchy's mount point before any verb touches it.
    pub(crate) fn check_paths(&self) -> Result<(), CgroupError> {
        for dir in &self.dirs {
            if let Some(bad) = std::iter::once(&dir.path)
                .chain(&dir.created)
                .find(|p| !is_below(p, &dir.mount_point))
            {
                return Err(CgroupError::OutsideHierarchy {
                    path: bad.clone(),
                    mount_point: dir.mount_point.clone(),
                });
            }
        }
        Ok(())
    }

    pub(crate) fn dir(
        &self,
        version: CgroupVersion,
        controller: Option<&str>,
    ) -> Option<&CgroupDir> {
        self.dirs.iter().find(|d| {
            d.version == version
                && controller
                    .iter()
                    .all(|c| d.controllers.iter().any(|x| x == c))
        })
    }

    /// The hierarchy to read pids from.
    fn primary(&self) -> Option<&CgroupDir> {
        if self.kind == LayoutKind::Unified {
            return self.dir(CgroupVersion::V2, None);
        }
        ["freezer", "pids", "devices", "memory"]
            .iter()
            .find_map(|c| self.dir(CgroupVersion::V1, Some(c)))
            .or_else(|| self.dirs.first())
    }

    fn signal_each(&self, primary: &CgroupDir, signal: Signal) -> Result<(), CgroupError> {
        for pid in self.procs()? {
            match nix::sys::signal::kill(Pid::from_raw(pid), signal) {
                Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
                Err(source) => {
                    return Err(CgroupError::Signal {
                        path: primary.path.clone(),
                        pid,
                        signal,
                        source,
                    })
                }
            }
        }
        Ok(())
    }

    fn wait_empty(&self, primary: &CgroupDir) -> Result<(), CgroupError> {
        let deadline = Instant::now() + KILL_TIMEOUT;
        let mut pause = Duration::from_millis(1);
        loop {
            let pids = self.procs()?;
            if pids.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(CgroupError::KillTimeout {
                    path: primary.path.clone(),
                    pids,
                });
            }
            // A process forked between the read and the signal is caught here.
            self.signal_each(primary, Signal::SIGKILL)?;
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }
}

impl Layout {
    /// The part of the `linux.resources` check that depends on the host, made before anything
    /// is created: every controller a set field needs is mounted (a v1 hierarchy, or listed in
    /// the cgroup2 root's cgroup.controllers), `unified` keys name controllers that are on
    /// cgroup2 here; device rules v1 cannot express (a hole in a wildcard rule) on a v1
    /// devices hierarchy, device numbers the eBPF device program cannot hold (above 2^32-1) on a
    /// pure v2 host, are refused ([`CgroupError::InvalidDeviceRule`]). Call after
    /// [`Cgroup::check`].
    ///
    /// # Errors
    /// [`CgroupError::Unsupported`] naming the first field the host cannot apply.
    pub fn check_resources(
        &self,
        resources: &LinuxResources,
        pids_limit: Option<i64>,
    ) -> Result<(), CgroupError> {
        let request = Resources {
            spec: resources,
            pids_limit,
        };
        let v2_root = self.v2_root_controllers();
        for (controller, field) in resources::needed(request) {
            let on_v1 = self.v1_hierarchy(controller.v1()).is_some();
            let on_v2 = controller
                .v2()
                .is_some_and(|name| v2_root.iter().any(|c| c == name));
            if !on_v1 && !on_v2 {
                let reason = match controller.v2() {
                    None if self.kind() == LayoutKind::Unified => format!(
                        "cgroup v2 has no {} controller (it exists only in cgroup v1); remove the field",
                        controller.v1()
                    ),
                    _ => format!(
                        "the {} controller is not mounted on this host (no v1 hierarchy has it{}); mount it or remove the field",
                        controller.v1(),
                        if self.unified().is_some() { ", and the cgroup2 root's cgroup.controllers does not list it" } else { "" }
                    ),
                };
                return Err(CgroupError::Unsupported { field, reason });
            }
        }
        if let Some(unified) = resources.unified().as_ref().filter(|u| !u.is_empty()) {
            if self.unified().is_none() {
                return Err(CgroupError::Unsupported {
                    field: "linux.resources.unified".to_owned(),
                    reason: "this host has no cgroup2 hierarchy mounted; unified keys are cgroup v2 interface files".to_owned(),
                });
            }
            for key in resources::sorted_keys(unified) {
                let controller = key.split('.').next().unwrap_or(key);
                if controller != "cgroup" && !v2_root.iter().any(|c| c == controller) {
                    let bound = if self.v1_hierarchy(controller).is_some() {
                        " (on this hybrid host it is bound to a v1 hierarchy: use the v1 field of linux.resources instead)"
                    } else {
                        ""
                    };
                    return Err(CgroupError::Unsupported {
                        field: format!("linux.resources.unified[{key:?}]"),
                        reason: format!("the {controller} controller is not available on cgroup2 here{bound}; remove the key"),
                    });
                }
            }
        }
        let Some(devices) = resources.devices() else {
            return Ok(());
        };
        let rules = rules_from_spec(devices)?;
        if self.v1_hierarchy("devices").is_some() {
            // A hole in a wildcard rule, which v1 cannot express.
            v1::devices::writes(&rules)?;
        } else if self.unified().is_some() {
            v2::devices::check(&rules)?;
        }
        Ok(())
    }
}

impl Layout {
    /// The controllers the cgroup2 root offers (cgroup.controllers at its mount point), empty
    /// without cgroup2 or when the file cannot be read.
    fn v2_root_controllers(&self) -> Vec<String> {
        self.unified()
            .and_then(|h| std::fs::read_to_string(h.mount_point.join("cgroup.controllers")).ok())
            .map(|t| t.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default()
    }
}

/// Hand every controller down from the cgroup2 root to `dir`: in each ancestor from `root`
/// (the mount point) to `dir`'s parent, write `+NAME` to cgroup.subtree_control for each
/// controller its cgroup.controllers lists and its subtree_control lacks (runc enables all of
/// them the same way, so `update` and `events --stats` find every controller later). A refusal
/// (EBUSY: the ancestor has processes of its own, cgroup v2's no-internal-process rule) is
/// logged; a limit that needs the missing controller then fails naming its field.
fn enable_v2_controllers(dir: &Path, root: &Path) {
    let Ok(below) = dir.strip_prefix(root) else {
        return;
    };
    let mut ancestor = root.to_path_buf();
    let components: Vec<_> = below.components().collect();
    for (i, component) in components.iter().enumerate() {
        let available = match std::fs::read_to_string(ancestor.join("cgroup.controllers")) {
            Ok(text) => text,
            Err(e) => {
                tracing::debug!("{}: {e}", ancestor.join("cgroup.controllers").display());
                return;
            }
        };
        let control = ancestor.join("cgroup.subtree_control");
        let enabled = std::fs::read_to_string(&control).unwrap_or_default();
        for name in available.split_whitespace() {
            if enabled.split_whitespace().any(|e| e == name) {
                continue;
            }
            if let Err(e) = write_file(&control, &format!("+{name}")) {
                tracing::debug!("enabling {name}: {e}");
            }
        }
        if i + 1 == components.len() {
            break;
        }
        ancestor.push(component);
    }
}

/// The directories from `root` (exclusive) down to `dir` that do not exist, top-down: what
/// [`mkdir_p`] would create.
fn missing_dirs(dir: &Path, root: &Path) -> Vec<PathBuf> {
    let mut missing = Vec::new();
    let mut d = dir;
    while d != root && is_below(d, root) && !d.exists() {
        missing.push(d.to_owned());
        match d.parent() {
            Some(p) => d = p,
            None => break,
        }
    }
    missing.reverse();
    missing
}

/// mkdir -p of `dir` below `root` (which must exist), recording each directory made,
/// shallowest first. A directory that appears concurrently counts as pre-existing.
fn mkdir_p(dir: &Path, root: &Path, created: &mut Vec<PathBuf>) -> Result<(), CgroupError> {
    let error = |source| CgroupError::Mkdir {
        path: dir.to_owned(),
        source,
    };
    // The mount point is the hierarchy: never made here (that would make a plain directory
    // on whatever is below a missing mount).
    if dir == root {
        return if root.is_dir() {
            Ok(())
        } else {
            Err(error(std::io::Error::from(ErrorKind::NotFound)))
        };
    }
    match std::fs::create_dir(dir) {
        Ok(()) => {
            created.push(dir.to_owned());
            Ok(())
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            // A cgroup file (cgroupsPath "x/cgroup.procs") is not a cgroup to join.
            if dir.is_dir() {
                Ok(())
            } else {
                Err(error(e))
            }
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {
            match dir.parent() {
                Some(parent) if parent == root || is_below(parent, root) => {
                    mkdir_p(parent, root, created)?
                }
                _ => return Err(error(e)),
            }
            match std::fs::create_dir(dir) {
                Ok(()) => {
                    created.push(dir.to_owned());
                    Ok(())
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
                Err(e) => Err(error(e)),
            }
        }
        Err(e) => Err(error(e)),
    }
}

/// The pids of `dir`'s cgroup.procs and of every cgroup below it; a cgroup removed while
/// walking is skipped.
pub(crate) fn collect_pids(dir: &Path, pids: &mut Vec<i32>) -> Result<(), CgroupError> {
    let procs = dir.join("cgroup.procs");
    match std::fs::read_to_string(&procs) {
        Ok(text) => pids.extend(parse_pids(&procs, &text)?),
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(CgroupError::Read {
                path: procs,
                source,
            })
        }
    }
    for child in sub_cgroups(dir)? {
        collect_pids(&child, pids)?;
    }
    Ok(())
}

/// The child cgroups (subdirectories) of `dir`; none when `dir` is gone.
fn sub_cgroups(dir: &Path) -> Result<Vec<PathBuf>, CgroupError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(CgroupError::Read {
                path: dir.to_owned(),
                source,
            })
        }
    };
    Ok(entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect())
}

fn remove_created(dir: &CgroupDir, deadline: Instant) -> Result<(), CgroupError> {
    for created in dir.created.iter().rev() {
        if !is_below(created, &dir.mount_point) {
            return Err(CgroupError::OutsideHierarchy {
                path: created.clone(),
                mount_point: dir.mount_point.clone(),
            });
        }
        if *created == dir.path {
            remove_tree(created, deadline)?;
            continue;
        }
        // A parent create() made: gone already, removed now, or kept because another
        // container's cgroup lives in it now (then its own parents stay too).
        match std::fs::remove_dir(created) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) if is_busy(&e) => {
                tracing::debug!("keeping {}: {e}", created.display());
                return Ok(());
            }
            Err(source) => {
                return Err(CgroupError::Rmdir {
                    path: created.clone(),
                    source,
                })
            }
        }
    }
    Ok(())
}

/// rmdir `dir` and every cgroup below it, deepest first, retrying EBUSY until `deadline`.
pub(crate) fn remove_tree(dir: &Path, deadline: Instant) -> Result<(), CgroupError> {
    for child in sub_cgroups(dir)? {
        remove_tree(&child, deadline)?;
    }
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) if is_busy(&e) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(source) if is_busy(&source) => {
                let mut pids = Vec::new();
                // Best effort: the pids are for the message only.
                let _ = collect_pids(dir, &mut pids);
                return Err(CgroupError::Busy {
                    path: dir.to_owned(),
                    pids,
                    source,
                });
            }
            Err(source) => {
                return Err(CgroupError::Rmdir {
                    path: dir.to_owned(),
                    source,
                })
            }
        }
    }
}

/// rmdir(2) of a cgroup with processes or children fails with EBUSY (cgroupfs) or
/// ENOTEMPTY (a plain directory, as in the temp-dir tests).
fn is_busy(error: &std::io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EBUSY) | Some(libc::ENOTEMPTY)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::tests::{HYBRID_CGROUP, HYBRID_MOUNTINFO, V1_CGROUP, V1_MOUNTINFO};

    /// A hybrid layout rebased into a temp dir, with every mount point made.
    fn temp_layout(mountinfo: &str, cgroup: &str) -> (tempfile::TempDir, Layout) {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::from_parts_at(mountinfo, cgroup, tmp.path()).unwrap();
        for h in layout.hierarchies() {
            std::fs::create_dir_all(&h.mount_point).unwrap();
        }
        (tmp, layout)
    }

    #[test]
    fn create_records_what_it_made_and_destroy_removes_only_that() {
        let (_tmp, layout) = temp_layout(HYBRID_MOUNTINFO, HYBRID_CGROUP);
        let memory = layout.v1_hierarchy("memory").unwrap().mount_point.clone();
        // The runtime's own memory cgroup exists; nothing else does.
        let own = memory.join("process_api/c2a49703b5cc3feb4a47476fec3ba167");
        std::fs::create_dir_all(&own).unwrap();
        let cg = Cgroup::create(&layout, Some("pod/c1"), "c1").unwrap();
        assert_eq!(cg.dirs().len(), 10);
        let mem = cg.dir(CgroupVersion::V1, Some("memory")).unwrap();
        assert_eq!(mem.path(), own.join("pod/c1"));
        assert_eq!(mem.created, vec![own.join("pod"), own.join("pod/c1")]);
        assert!(mem.created_leaf());
        for d in cg.dirs() {
            assert!(d.path().is_dir(), "{}", d.path().display());
        }
        // A cgroup the container made inside its own is removed with it.
        std::fs::create_dir(own.join("pod/c1/inner")).unwrap();
        cg.destroy().unwrap();
        assert!(!own.join("pod").exists());
        assert!(own.is_dir(), "a directory husk did not make is kept");
        // Idempotent.
        cg.destroy().unwrap();
    }

    #[test]
    fn plan_touches_nothing_and_a_crash_before_make_is_cleaned_up() {
        let (_tmp, layout) = temp_layout(V1_MOUNTINFO, V1_CGROUP);
        let planned = Cgroup::plan(&layout, Some("/pod/c1"), "c1").unwrap();
        for d in planned.dirs() {
            assert!(!d.path().exists(), "{} made by plan", d.path().display());
            assert!(d.created_leaf());
        }
        // A record of the plan (state.json) survives a crash half way through make: destroy
        // removes what exists of it and ignores the rest.
        let back: Cgroup = serde_json::from_str(&serde_json::to_string(&planned).unwrap()).unwrap();
        std::fs::create_dir_all(back.dirs()[0].path()).unwrap();
        back.destroy().unwrap();
        assert!(!back.dirs()[0].path().exists());
        assert!(
            !back.dirs()[0].path().parent().unwrap().exists(),
            "the planned parent /pod stays"
        );
        planned.make().unwrap();
        assert!(planned.dirs().iter().all(|d| d.path().is_dir()));
        planned.destroy().unwrap();
        assert!(planned.dirs().iter().all(|d| !d.path().exists()));
    }

    #[test]
    fn joined_cgroup_is_kept_and_shared_parent_is_kept() {
        let (_tmp, layout) = temp_layout(V1_MOUNTINFO, V1_CGROUP);
        let first = Cgroup::create(&layout, Some("/pod/c1"), "c1").unwrap();
        let joined = Cgroup::create(&layout, Some("/pod/c1"), "c2").unwrap();
        assert!(joined.dirs().iter().all(|d| d.created.is_empty()));
        joined.destroy().unwrap();
        assert!(first.dirs().iter().all(|d| d.path().is_dir()));
        // A sibling made later in the parent `first` created keeps that parent alive.
        let sibling = Cgroup::create(&layout, Some("/pod/c2"), "c2").unwrap();
        first.destroy().unwrap();
        for (a, b) in first.dirs().iter().zip(sibling.dirs()) {
            assert!(!a.path().exists());
            assert!(b.path().is_dir());
        }
        sibling.destroy().unwrap();
        for d in sibling.dirs() {
            assert!(
                d.path().parent().unwrap().is_dir(),
                "pod was not made by sibling"
            );
        }
    }

    #[test]
    fn failed_create_removes_what_it_made() {
        let (_tmp, layout) = temp_layout(HYBRID_MOUNTINFO, HYBRID_CGROUP);
        // The unified mount point is missing: mkdir there fails after the v1 ones succeeded.
        let unified = layout.unified().unwrap().mount_point.clone();
        std::fs::remove_dir(&unified).unwrap();
        let err = Cgroup::create(&layout, Some("/c1"), "c1").unwrap_err();
        assert!(
            matches!(&err, CgroupError::Mkdir { path, .. } if path.starts_with(&unified)),
            "{err}"
        );
        for h in layout
            .hierarchies()
            .iter()
            .filter(|h| h.version == CgroupVersion::V1)
        {
            assert!(
                !h.mount_point.join("c1").exists(),
                "{}",
                h.mount_point.display()
            );
        }
    }

    #[test]
    fn bad_paths_create_nothing() {
        let (_tmp, layout) = temp_layout(V1_MOUNTINFO, V1_CGROUP);
        for bad in ["/a/../../b", "system.slice:husk:c1"] {
            assert!(Cgroup::create(&layout, Some(bad), "c1").is_err(), "{bad}");
        }
        for h in layout.hierarchies() {
            assert_eq!(std::fs::read_dir(&h.mount_point).unwrap().count(), 0);
        }
    }

    #[test]
    fn a_cgroup_file_is_not_joined() {
        let (_tmp, layout) = temp_layout(V1_MOUNTINFO, V1_CGROUP);
        for h in layout.hierarchies() {
            std::fs::write(h.mount_point.join("cgroup.procs"), "").unwrap();
        }
        let err = Cgroup::create(&layout, Some("/cgroup.procs"), "c1").unwrap_err();
        assert!(matches!(err, CgroupError::Mkdir { .. }), "{err}");
    }

    #[test]
    fn mounts_for_comounted_named_and_unified() {
        let (_tmp, layout) = temp_layout(V1_MOUNTINFO, V1_CGROUP);
        let cg = Cgroup::create(&layout, Some("/c1"), "c1").unwrap();
        let mounts = cg.mounts();
        let cpu = mounts.iter().find(|m| m.name == "cpu,cpuacct").unwrap();
        assert_eq!(cpu.fstype, "cgroup");
        assert_eq!(cpu.data, "cpuacct,cpu");
        assert_eq!(cpu.symlinks, vec!["cpu", "cpuacct"]);
        assert!(cpu.host_path.ends_with("sys/fs/cgroup/cpu,cpuacct/c1"));
        let systemd = mounts.iter().find(|m| m.name == "systemd").unwrap();
        assert_eq!(systemd.data, "name=systemd");
        assert!(systemd.symlinks.is_empty());
        cg.destroy().unwrap();

        let (_tmp, layout) = temp_layout(HYBRID_MOUNTINFO, HYBRID_CGROUP);
        let cg = Cgroup::create(&layout, Some("/c1"), "c1").unwrap();
        let unified = cg
            .mounts()
            .into_iter()
            .find(|m| m.fstype == "cgroup2")
            .unwrap();
        assert_eq!(
            (unified.name.as_str(), unified.data.as_str()),
            ("unified", "")
        );
        cg.destroy().unwrap();

        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::from_parts_at(
            crate::layout::tests::UNIFIED_MOUNTINFO,
            "0::/\n",
            tmp.path(),
        )
        .unwrap();
        std::fs::create_dir_all(&layout.hierarchies()[0].mount_point).unwrap();
        let cg = Cgroup::create(&layout, None, "c1").unwrap();
        let mounts = cg.mounts();
        assert_eq!(mounts.len(), 1);
        assert_eq!(mounts[0].name, "");
        assert_eq!(mounts[0].fstype, "cgroup2");
        assert_eq!(mounts[0].host_path, tmp.path().join("sys/fs/cgroup/c1"));
        cg.destroy().unwrap();
    }

    #[test]
    fn state_json_round_trip() {
        let (_tmp, layout) = temp_layout(HYBRID_MOUNTINFO, HYBRID_CGROUP);
        let cg = Cgroup::create(&layout, Some("/c1"), "c1").unwrap();
        let json = serde_json::to_string(&cg).unwrap();
        let back: Cgroup = serde_json::from_str(&json).unwrap();
        assert_eq!(back, cg);
        back.destroy().unwrap();
        assert!(cg.dirs().iter().all(|d| !d.path().exists()));
    }

    #[test]
    fn tampered_state_is_not_followed_out_of_the_hierarchy() {
        let (tmp, layout) = temp_layout(V1_MOUNTINFO, V1_CGROUP);
        let mut cg = Cgroup::create(&layout, Some("/c1"), "c1").unwrap();
        let outside = tmp.path().join("precious");
        std::fs::create_dir(&outside).unwrap();
        cg.dirs[0].created = vec![outside.clone()];
        let err = cg.destroy().unwrap_err();
        assert!(matches!(err, CgroupError::OutsideHierarchy { .. }), "{err}");
        assert!(outside.is_dir());
        cg.dirs[0].created.clear();
        cg.dirs[0].path = cg.dirs[0].mount_point.join("../../../../precious");
        let err = cg.add_process(1).unwrap_err();
        assert!(matches!(err, CgroupError::OutsideHierarchy { .. }), "{err}");
        assert!(cg.procs().is_err());
    }
}
