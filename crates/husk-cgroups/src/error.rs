//! The crate's error type: every failure names the file, directory or config field involved.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while detecting, creating, driving or removing a container's
/// cgroups. Each variant names the path or the `config.json` field (runtime-spec JSON names).
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A kernel-provided file (/proc/self/mountinfo, /proc/self/cgroup) could not be read.
    #[error("reading {path}: {source}")]
    ReadProc {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A line of /proc/self/mountinfo does not have the shape of proc(5).
    #[error("/proc/self/mountinfo line {line}: {reason} (see proc(5), /proc/pid/mountinfo)")]
    MountInfo {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A line of /proc/self/cgroup does not have the `ID:CONTROLLERS:PATH` shape of cgroups(7).
    #[error(
        "/proc/self/cgroup line {line}: {reason} (expected ID:CONTROLLERS:PATH, see cgroups(7))"
    )]
    ProcCgroup {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Neither a cgroup v1 nor a cgroup2 hierarchy this process belongs to is mounted.
    #[error("no cgroup hierarchy is mounted (none of the hierarchies in /proc/self/cgroup appears in /proc/self/mountinfo); mount cgroup2 at /sys/fs/cgroup or the v1 controllers under it")]
    NoHierarchy,
    /// `linux.cgroupsPath` uses the systemd driver's `slice:prefix:name` form.
    #[error("linux.cgroupsPath {path:?}: the systemd form slice:prefix:name needs the systemd cgroup driver, which husk does not have yet; use a cgroupfs path such as \"/husk/ID\" or leave it empty")]
    SystemdPath {
        /// The value from config.json.
        path: String,
    },
    /// A cgroup path has a `..` component, which could leave its hierarchy.
    #[error("{field} {path:?}: `..` components are refused, a cgroup path must stay inside its hierarchy")]
    PathEscapes {
        /// Where the path came from (`linux.cgroupsPath`, `container id`, or a kernel file).
        field: &'static str,
        /// The offending path.
        path: String,
    },
    /// A cgroup path is unusable for another reason.
    #[error("{field} {path:?}: {reason}")]
    InvalidPath {
        /// Where the path came from.
        field: &'static str,
        /// The offending path.
        path: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The runtime's own cgroup (from /proc/self/cgroup) is outside the part of the hierarchy
    /// that is mounted, so a relative `linux.cgroupsPath` cannot be placed under it.
    #[error("the runtime's own cgroup {own:?} is not below the root {mount_root:?} of the hierarchy mounted at {mount_point}; use an absolute linux.cgroupsPath")]
    OwnCgroupOutsideMount {
        /// The mount point of the hierarchy.
        mount_point: PathBuf,
        /// The root of that mount (mountinfo field 4).
        mount_root: String,
        /// The runtime's own cgroup in that hierarchy.
        own: String,
    },
    /// mkdir of a cgroup directory failed.
    #[error("creating cgroup directory {path}: {source}")]
    Mkdir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Writing a value to a cgroup file failed (the kernel refused it or the file is missing).
    #[error("writing {value:?} to {path}: {source}")]
    Write {
        /// The cgroup file.
        path: PathBuf,
        /// The value written.
        value: String,
        /// The I/O error (the kernel's errno).
        #[source]
        source: io::Error,
    },
    /// Reading a cgroup file failed.
    #[error("reading {path}: {source}")]
    Read {
        /// The cgroup file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A cgroup file holds something that is not what the kernel documents.
    #[error("{path}: unexpected content {content:?}")]
    Parse {
        /// The cgroup file.
        path: PathBuf,
        /// The part that did not parse.
        content: String,
    },
    /// A `linux.resources` value that is invalid whatever the host (a negative size other
    /// than -1, swappiness above 100, a weight out of range...).
    #[error("{field} {value}: {reason}")]
    InvalidValue {
        /// The JSON field, e.g. `linux.resources.memory.swappiness`.
        field: String,
        /// The value as given.
        value: String,
        /// What is accepted.
        reason: String,
    },
    /// A `linux.resources` field this host cannot apply: its controller is not mounted (v1)
    /// or not available in the container's cgroup (v2), or the hierarchy it is bound to has no
    /// such setting.
    #[error("{field}: {reason}")]
    Unsupported {
        /// The JSON field, e.g. `linux.resources.network.classID`.
        field: String,
        /// Why, naming the controller or file missing and what to do.
        reason: String,
    },
    /// The file that carries a `linux.resources` field does not exist in the container's
    /// cgroup (the controller lacks that knob on this kernel or I/O scheduler).
    #[error("{field}: this host has no {file} in the container's cgroup {dir} ({hint}); remove the field")]
    MissingFile {
        /// The JSON field.
        field: String,
        /// The file (or the alternatives tried, `blkio.weight or blkio.bfq.weight`).
        file: String,
        /// The container's cgroup directory.
        dir: PathBuf,
        /// Why it may be missing.
        hint: &'static str,
    },
    /// The kernel refused a `linux.resources` value.
    #[error("{field}: the kernel refused {value:?} in {path}: {source}")]
    Limit {
        /// The JSON field.
        field: String,
        /// The cgroup file written.
        path: PathBuf,
        /// The value written.
        value: String,
        /// The kernel's errno.
        #[source]
        source: io::Error,
    },
    /// `memory.checkBeforeUpdate`: the new limit is below what the container uses now.
    #[error("{field} {limit}: below the container's current memory usage {usage} bytes ({path}), refused because memory.checkBeforeUpdate is true")]
    BelowUsage {
        /// The JSON field (`linux.resources.memory.limit`).
        field: String,
        /// The new limit (bytes).
        limit: i64,
        /// The current usage (bytes).
        usage: u64,
        /// The usage file read.
        path: PathBuf,
    },
    /// A `linux.resources.devices[i]` entry is malformed.
    #[error("{field}: {reason}")]
    InvalidDeviceRule {
        /// The JSON field, e.g. `linux.resources.devices[2].access`.
        field: String,
        /// What is wrong, with the accepted values.
        reason: &'static str,
    },
    /// The kernel refused the cgroup v2 device program husk made from the device rules
    /// (bpf(2) BPF_PROG_LOAD of a BPF_PROG_TYPE_CGROUP_DEVICE program).
    #[error("linux.resources.devices: loading the cgroup v2 device program (bpf BPF_PROG_LOAD) failed: {source} (EPERM: the runtime needs CAP_BPF or CAP_SYS_ADMIN, and before Linux 5.11 enough RLIMIT_MEMLOCK; E2BIG: more device rules than this kernel's verifier takes, about 8000 on Linux 5.2 and later); verifier log: {log:?}")]
    BpfLoad {
        /// The last lines of what the kernel's verifier wrote (empty when it refused before
        /// verifying).
        log: String,
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// Attaching the device program to the container's cgroup2 directory failed, or a step
    /// before it (opening the directory, listing its programs).
    #[error("attaching the cgroup v2 device program to {path} ({step}): {source}")]
    BpfAttach {
        /// The cgroup directory.
        path: PathBuf,
        /// The step: the bpf(2) command or "opening the directory".
        step: &'static str,
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// Device rules were given but the host has no devices controller at all.
    #[error("linux.resources.devices: the host has neither a v1 devices hierarchy nor cgroup2 mounted, so device rules cannot be applied")]
    NoDevicesController,
    /// kill(2) of a cgroup member failed with something else than ESRCH.
    #[error("sending {signal} to pid {pid} of cgroup {path}: {source}")]
    Signal {
        /// The cgroup directory.
        path: PathBuf,
        /// The process.
        pid: i32,
        /// The signal.
        signal: nix::sys::signal::Signal,
        /// The errno.
        #[source]
        source: nix::Error,
    },
    /// Processes were still in the cgroup after SIGKILL and the bounded wait.
    #[error("cgroup {path} still has processes {pids:?} after SIGKILL; they may be stuck in the kernel (state D), retry later")]
    KillTimeout {
        /// The cgroup directory that was read.
        path: PathBuf,
        /// The pids still listed in cgroup.procs.
        pids: Vec<i32>,
    },
    /// A cgroup directory husk created could not be removed in the bounded time.
    #[error("removing cgroup directory {path}: still busy after retrying ({source}); processes {pids:?} are still in it, kill them and run delete again")]
    Busy {
        /// The directory.
        path: PathBuf,
        /// The pids found in it when giving up.
        pids: Vec<i32>,
        /// The last rmdir error.
        #[source]
        source: io::Error,
    },
    /// rmdir of a cgroup directory failed for another reason than EBUSY.
    #[error("removing cgroup directory {path}: {source}")]
    Rmdir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A recorded cgroup directory (from state.json) is not inside its hierarchy's mount point.
    #[error("recorded cgroup directory {path} is not below its hierarchy {mount_point}; refusing to touch it (state.json damaged?)")]
    OutsideHierarchy {
        /// The recorded directory.
        path: PathBuf,
        /// The hierarchy's mount point.
        mount_point: PathBuf,
    },
    /// `pause`: the cgroup did not reach the frozen state in the bounded wait; it was thawed
    /// again so the container keeps running.
    #[error("the container's cgroup did not freeze within {timeout:?}: {path} still says {state:?} (a process may be in uninterruptible sleep, state D); it was thawed again, retry later")]
    FreezeTimeout {
        /// The file that tells the state (v1 freezer.state, v2 cgroup.events).
        path: PathBuf,
        /// What it said last.
        state: String,
        /// The bound.
        timeout: std::time::Duration,
    },
    /// `pause`/`resume` where the container's cgroup has no freezer.
    #[error("the container's cgroup has no freezer: no v1 freezer hierarchy is mounted and {path} has no cgroup.freeze (cgroup2 has it from Linux 5.2); pause and resume need one of them")]
    NoFreezer {
        /// The container's cgroup2 directory, or the first of its directories when there is
        /// none.
        path: PathBuf,
    },
}
