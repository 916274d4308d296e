//! The kernel settings of the container's process, checked before anything is created and
//! applied by the init just before execve: `linux.personality`, `process.ioPriority`,
//! `process.scheduler`, `linux.memoryPolicy` (runtime-spec v1.3 config.md "Linux Process" and
//! config-linux.md), together with the other host-dependent checks of that part of the spec:
//! `process.execCPUAffinity`, `linux.intelRdt`, `linux.sysctl` ([`crate::sysctl`]) and the LSM
//! labels ([`crate::lsm`]). [`plan`] gathers them into one [`Settings`].
//!
//! Order in the init (after the startContainer hooks, which fork: a `SCHED_DEADLINE` process
//! may not fork, so the scheduler must come after them): I/O priority, scheduler, memory
//! policy, personality, LSM labels — all while the init is still root with its capabilities
//! (a real-time class or policy needs CAP_SYS_NICE) and before any seccomp filter, which need
//! not allow these calls. All four are kept across execve(2) (`man 2 execve`).
//!
//! `process.execCPUAffinity` is for processes started with `exec` ("not applicable to the
//! container's init process", config.md); husk-runtime has no `exec` yet, so it is checked and
//! left unapplied with a warning. The init's own CPU affinity is reset to every CPU its cpuset
//! allows, as runc 1.2+ does, so a runtime started under `taskset` does not pin the container.

use std::collections::BTreeSet;

use husk_sys::task::SchedAttr;
use oci_spec::runtime::{
    IOPriorityClass, LinuxPersonalityDomain, LinuxSchedulerPolicy, MemoryPolicyFlagType,
    MemoryPolicyModeType,
};

use crate::namespaces::Plan;
use crate::process::ChildError;
use crate::spec::Config;

/// The possible CPUs of the host (`man 7 cpuset`, "FORMATS": a list).
const CPU_POSSIBLE: &str = "/sys/devices/system/cpu/possible";
/// The possible NUMA memory nodes of the host.
const NODE_POSSIBLE: &str = "/sys/devices/system/node/possible";
/// Where the resctrl filesystem is mounted (Documentation/filesystems/resctrl.rst).
const RESCTRL: &str = "/sys/fs/resctrl";

/// The scheduler flags of runtime-spec v1.3 and their `SCHED_FLAG_*` bits
/// (include/uapi/linux/sched.h).
const SCHED_FLAGS: [(&str, u64); 7] = [
    ("SCHED_FLAG_RESET_ON_FORK", 0x01),
    ("SCHED_FLAG_RECLAIM", 0x02),
    ("SCHED_FLAG_DL_OVERRUN", 0x04),
    ("SCHED_FLAG_KEEP_POLICY", 0x08),
    ("SCHED_FLAG_KEEP_PARAMS", 0x10),
    ("SCHED_FLAG_UTIL_CLAMP_MIN", 0x20),
    ("SCHED_FLAG_UTIL_CLAMP_MAX", 0x40),
];

/// Spellings oci-spec 0.10 writes for two of them (a serde renaming slip); accepted so configs
/// written with that crate work.
const SCHED_FLAG_ALIASES: [(&str, &str); 2] = [
    ("SCHED_RESET_ON_FORK", "SCHED_FLAG_RESET_ON_FORK"),
    ("SCHED_FLAG_D_L_OVERRUN", "SCHED_FLAG_DL_OVERRUN"),
];

/// What is wrong with the process settings, found before anything is created.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// `linux.personality.flags` is not empty.
    #[error("linux.personality.flags[{index}] is {flag:?}: runtime-spec v1.3 defines no personality flags (only the domains LINUX and LINUX32); remove it")]
    PersonalityFlag {
        /// Index of the flag.
        index: usize,
        /// The flag as written.
        flag: String,
    },
    /// `process.ioPriority.priority` outside 0..=7.
    #[error("process.ioPriority.priority is {priority}: it must be 0 (highest) to 7 (lowest) (man 2 ioprio_set)")]
    IoPriority {
        /// The value as written.
        priority: i64,
    },
    /// A `process.scheduler` field the kernel would refuse.
    #[error("{field}: {problem} (man 2 sched_setattr)")]
    Scheduler {
        /// The JSON path, e.g. `process.scheduler.priority`.
        field: String,
        /// What is wrong and what to do.
        problem: String,
    },
    /// A `linux.memoryPolicy` field the kernel would refuse.
    #[error("{field}: {problem} (man 2 set_mempolicy)")]
    MemoryPolicy {
        /// The JSON path, e.g. `linux.memoryPolicy.nodes`.
        field: &'static str,
        /// What is wrong and what to do.
        problem: String,
    },
    /// A CPU list of `process.execCPUAffinity`.
    #[error("{field} is {value:?}: {problem}")]
    CpuList {
        /// The JSON path.
        field: &'static str,
        /// The value as written.
        value: String,
        /// What is wrong.
        problem: String,
    },
    /// `linux.intelRdt` on a host without a mounted resctrl filesystem.
    #[error("linux.intelRdt is set but no resctrl filesystem is mounted at {RESCTRL} (runtime-spec: the runtime MUST then fail); on a host with Intel RDT or AMD PQoS mount it (`mount -t resctrl resctrl {RESCTRL}`), or remove linux.intelRdt")]
    ResctrlMissing,
    /// `linux.intelRdt` on a host that has resctrl: not implemented yet.
    #[error("linux.intelRdt is set: husk does not implement Intel RDT (resctrl) groups yet; remove linux.intelRdt")]
    IntelRdtUnsupported,
    /// `linux.sysctl`.
    #[error(transparent)]
    Sysctl(#[from] crate::sysctl::SysctlError),
    /// `process.apparmorProfile`, `process.selinuxLabel`.
    #[error(transparent)]
    Lsm(#[from] crate::lsm::LsmError),
}

/// A NUMA memory policy ready for set_mempolicy(2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryPolicy {
    /// The mode with its `MPOL_F_*` flag bits.
    mode: libc::c_int,
    /// The node mask, one bit per node.
    nodemask: Vec<libc::c_ulong>,
    /// The config's `mode` and `nodes`, for messages.
    describe: String,
}

/// The per-process settings the init applies before execve (see the module doc).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessSettings {
    /// `linux.personality`: the persona for personality(2).
    pub personality: Option<libc::c_ulong>,
    /// `process.ioPriority`: class (1 RT, 2 BE, 3 IDLE) and level 0..=7.
    pub io_priority: Option<(u32, u32)>,
    /// `process.scheduler`.
    pub scheduler: Option<SchedAttr>,
    /// `linux.memoryPolicy`.
    pub memory_policy: Option<MemoryPolicy>,
}

/// Everything of this part of the spec that the children need, checked in the parent.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `linux.sysctl`, written by the intermediate.
    pub sysctls: Vec<crate::sysctl::Sysctl>,
    /// Applied by the init before execve.
    pub process: ProcessSettings,
    /// `process.apparmorProfile` / `process.selinuxLabel`.
    pub labels: Vec<crate::lsm::ExecLabel>,
    /// `linux.mountLabel`, when SELinux is enabled (the `context=` of the container's new
    /// tmpfs, mqueue and devpts mounts).
    pub mount_label: Option<String>,
    /// `process.execCPUAffinity`, applied by `exec` only.
    pub exec_cpu_affinity: ExecCpuAffinity,
}

/// Parse a list of ids in the kernel's list format (`man 7 cpuset`, "FORMATS"): `0-3,7`.
///
/// # Errors
/// A description of what is malformed (empty item, reversed range, not a number).
pub fn parse_id_list(list: &str) -> Result<BTreeSet<u32>, String> {
    let mut ids = BTreeSet::new();
    let list = list.trim();
    if list.is_empty() {
        return Ok(ids);
    }
    for item in list.split(',') {
        let num = |s: &str| {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("{item:?} is not a number or a range N-M"));
            }
            s.parse::<u32>().map_err(|_| format!("{s:?} is too large"))
        };
        let (lo, hi) = match item.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => {
                let n = num(item)?;
                (n, n)
            }
        };
        if lo > hi {
            return Err(format!("the range {item:?} runs backwards"));
        }
        if hi - lo > 1 << 16 {
            return Err(format!("the range {item:?} is larger than any host"));
        }
        ids.extend(lo..=hi);
    }
    Ok(ids)
}

/// The highest id of a sysfs "possible" list (`None` when the file cannot be read).
fn max_possible(path: &str) -> Option<u32> {
    let text = std::fs::read_to_string(path).ok()?;
    parse_id_list(&text).ok()?.last().copied()
}

/// Check and prepare every setting of this part of the spec (see the module doc). Returns the
/// settings and the warnings to log.
///
/// # Errors
/// [`KernelError`] naming the field of the first problem.
pub fn plan(config: &Config, plan: &Plan) -> Result<(Settings, Vec<String>), KernelError> {
    let spec = &config.spec;
    let mut warnings = Vec::new();
    let linux = spec.linux().as_ref();
    let process = spec.process().as_ref();
    let mut settings = Settings {
        sysctls: crate::sysctl::plan(spec, plan)?,
        labels: crate::lsm::plan(spec)?,
        ..Settings::default()
    };
    if let Some(p) = linux.and_then(|l| l.personality().as_ref()) {
        if let Some((index, flag)) = p.flags().iter().flatten().enumerate().next() {
            return Err(KernelError::PersonalityFlag {
                index,
                flag: flag.clone(),
            });
        }
        settings.process.personality = Some(match p.domain() {
            LinuxPersonalityDomain::PerLinux => husk_sys::task::PER_LINUX,
            LinuxPersonalityDomain::PerLinux32 => husk_sys::task::PER_LINUX32,
        });
    }
    if let Some(io) = process.and_then(|p| p.io_priority().as_ref()) {
        let level = u32::try_from(io.priority())
            .ok()
            .filter(|l| *l <= 7)
            .ok_or(KernelError::IoPriority {
                priority: io.priority(),
            })?;
        let class = match io.class() {
            IOPriorityClass::IoprioClassRt => 1,
            IOPriorityClass::IoprioClassBe => 2,
            IOPriorityClass::IoprioClassIdle => 3,
        };
        settings.process.io_priority = Some((class, level));
    }
    if let Some(s) = process.and_then(|p| p.scheduler().as_ref()) {
        settings.process.scheduler = Some(scheduler(s, config.scheduler_flags.as_deref())?);
    }
    if let Some(m) = linux.and_then(|l| l.memory_policy().as_ref()) {
        settings.process.memory_policy = Some(memory_policy(m)?);
    }
    if let Some(a) = process.and_then(|p| p.exec_cpu_affinity().as_ref()) {
        let max = max_possible(CPU_POSSIBLE);
        for (field, list) in [
            ("process.execCPUAffinity.initial", a.initial()),
            ("process.execCPUAffinity.final", a.cpu_affinity_final()),
        ] {
            let Some(list) = list else { continue };
            let bad = |problem: String| KernelError::CpuList {
                field,
                value: list.clone(),
                problem,
            };
            let cpus = parse_id_list(list).map_err(bad)?;
            if let (Some(max), Some(cpu)) = (max, cpus.iter().find(|c| Some(**c) > max)) {
                return Err(bad(format!(
                    "CPU {cpu} does not exist on this host (its CPUs are 0-{max})"
                )));
            }
            if field.ends_with("initial") {
                settings.exec_cpu_affinity.initial = Some(cpus);
            } else {
                settings.exec_cpu_affinity.last = Some(cpus);
            }
        }
        warnings.push(
            "process.execCPUAffinity is not applied to the container's init: it is for \
             processes started with `exec` (runtime-spec config.md)"
                .to_string(),
        );
    }
    if let Some(label) = linux
        .and_then(|l| l.mount_label().as_ref())
        .filter(|l| !l.is_empty())
    {
        if crate::lsm::selinux_enabled() {
            settings.mount_label = Some(label.clone());
        } else {
            // runc's behaviour, which the runtime-tools program linux_mount_label expects.
            warnings.push(
                "linux.mountLabel is ignored: SELinux is not enabled on this host".to_string(),
            );
        }
    }
    if linux.and_then(|l| l.intel_rdt().as_ref()).is_some() {
        let resctrl = nix::sys::statfs::statfs(RESCTRL).is_ok_and(|s| {
            s.filesystem_type()
                == nix::sys::statfs::FsType(libc::RDTGROUP_SUPER_MAGIC as libc::__fsword_t)
        });
        return Err(if resctrl {
            KernelError::IntelRdtUnsupported
        } else {
            KernelError::ResctrlMissing
        });
    }
    Ok((settings, warnings))
}

fn scheduler(
    s: &oci_spec::runtime::Scheduler,
    flags: Option<&[String]>,
) -> Result<SchedAttr, KernelError> {
    let err = |field: &str, problem: String| KernelError::Scheduler {
        field: format!("process.scheduler.{field}"),
        problem,
    };
    let policy =
        match s.policy() {
            LinuxSchedulerPolicy::SchedOther => 0,
            LinuxSchedulerPolicy::SchedFifo => 1,
            LinuxSchedulerPolicy::SchedRr => 2,
            LinuxSchedulerPolicy::SchedBatch => 3,
            LinuxSchedulerPolicy::SchedIso => return Err(err(
                "policy",
                "SCHED_ISO is reserved but not implemented by Linux; use SCHED_FIFO, SCHED_RR, \
                 SCHED_OTHER, SCHED_BATCH, SCHED_IDLE or SCHED_DEADLINE"
                    .into(),
            )),
            LinuxSchedulerPolicy::SchedIdle => 5,
            LinuxSchedulerPolicy::SchedDeadline => 6,
        };
    let nice = s.nice().unwrap_or(0);
    if !(-20..=19).contains(&nice) {
        return Err(err(
            "nice",
            format!("{nice} is outside -20 (most favourable) to 19"),
        ));
    }
    let priority = s.priority().unwrap_or(0);
    let realtime = matches!(policy, 1 | 2);
    if realtime && !(1..=99).contains(&priority) {
        return Err(err(
            "priority",
            format!(
                "{priority}: SCHED_FIFO and SCHED_RR need a static priority of 1 to 99 \
                 (sched_get_priority_min/max)"
            ),
        ));
    }
    if !realtime && priority != 0 {
        return Err(err(
            "priority",
            format!("{priority}: only SCHED_FIFO and SCHED_RR take a static priority; use 0"),
        ));
    }
    let mut bits = 0;
    for (i, name) in flags.unwrap_or(&[]).iter().enumerate() {
        let spec_name = SCHED_FLAG_ALIASES
            .iter()
            .find(|(alias, _)| alias == name)
            .map_or(name.as_str(), |(_, n)| n);
        let Some((_, bit)) = SCHED_FLAGS.iter().find(|(n, _)| *n == spec_name) else {
            return Err(err(
                &format!("flags[{i}]"),
                format!(
                    "unknown flag {name:?}; runtime-spec v1.3 defines {}",
                    SCHED_FLAGS.map(|(n, _)| n).join(", ")
                ),
            ));
        };
        bits |= bit;
    }
    let (runtime, deadline, period) = (
        s.runtime().unwrap_or(0),
        s.deadline().unwrap_or(0),
        s.period().unwrap_or(0),
    );
    if policy == 6 {
        // The kernel's own checks (__checkparam_dl), so that each failure names its field.
        if deadline == 0 {
            return Err(err(
                "deadline",
                "SCHED_DEADLINE needs a deadline (ns) above 0".into(),
            ));
        }
        if runtime < 1024 {
            return Err(err(
                "runtime",
                format!("{runtime} ns: SCHED_DEADLINE needs a runtime of at least 1024 ns"),
            ));
        }
        if runtime > deadline {
            return Err(err(
                "runtime",
                format!("{runtime} ns is above the deadline {deadline} ns"),
            ));
        }
        if period != 0 && period < deadline {
            return Err(err(
                "period",
                format!("{period} ns is below the deadline {deadline} ns"),
            ));
        }
    }
    Ok(SchedAttr {
        policy,
        flags: bits,
        nice,
        priority: priority as u32,
        runtime,
        deadline,
        period,
    })
}

fn memory_policy(m: &oci_spec::runtime::LinuxMemoryPolicy) -> Result<MemoryPolicy, KernelError> {
    let err = |field, problem: String| KernelError::MemoryPolicy { field, problem };
    let (mode, name) = match m.mode() {
        MemoryPolicyModeType::MpolDefault => (0, "MPOL_DEFAULT"),
        MemoryPolicyModeType::MpolPreferred => (1, "MPOL_PREFERRED"),
        MemoryPolicyModeType::MpolBind => (2, "MPOL_BIND"),
        MemoryPolicyModeType::MpolInterleave => (3, "MPOL_INTERLEAVE"),
        MemoryPolicyModeType::MpolLocal => (4, "MPOL_LOCAL"),
        MemoryPolicyModeType::MpolPreferredMany => (5, "MPOL_PREFERRED_MANY"),
        MemoryPolicyModeType::MpolWeightedInterleave => (6, "MPOL_WEIGHTED_INTERLEAVE"),
    };
    let text = m.nodes().clone().unwrap_or_default();
    let nodes = parse_id_list(&text)
        .map_err(|p| err("linux.memoryPolicy.nodes", format!("{text:?}: {p}")))?;
    match (mode, nodes.is_empty()) {
        (0 | 4, false) => {
            return Err(err(
                "linux.memoryPolicy.nodes",
                format!("{name} takes no nodes, found {text:?}; remove nodes"),
            ))
        }
        (2 | 3 | 5 | 6, true) => {
            return Err(err(
                "linux.memoryPolicy.nodes",
                format!("{name} needs at least one node (e.g. \"0-1\")"),
            ))
        }
        _ => {}
    }
    let max = max_possible(NODE_POSSIBLE);
    if let (Some(max), Some(node)) = (max, nodes.iter().find(|n| Some(**n) > max)) {
        return Err(err(
            "linux.memoryPolicy.nodes",
            format!("node {node} does not exist on this host (its nodes are 0-{max})"),
        ));
    }
    let mut flags = 0;
    let list = m.flags().as_deref().unwrap_or_default();
    for f in list {
        flags |= match f {
            MemoryPolicyFlagType::MpolFNumaBalancing => 1 << 13,
            MemoryPolicyFlagType::MpolFRelativeNodes => 1 << 14,
            MemoryPolicyFlagType::MpolFStaticNodes => 1 << 15,
        };
    }
    if flags & (3 << 14) == 3 << 14 {
        return Err(err(
            "linux.memoryPolicy.flags",
            "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other; keep one".into(),
        ));
    }
    if mode == 0 && flags != 0 {
        return Err(err(
            "linux.memoryPolicy.flags",
            "MPOL_DEFAULT takes no flags; remove them".into(),
        ));
    }
    let words = nodes.last().map_or(0, |n| *n as usize / 64 + 1);
    let mut nodemask = vec![0 as libc::c_ulong; words];
    for n in &nodes {
        nodemask[*n as usize / 64] |= 1 << (n % 64);
    }
    Ok(MemoryPolicy {
        mode: mode | flags,
        nodemask,
        describe: format!("{name}, nodes {text:?}"),
    })
}

impl ProcessSettings {
    /// In the init, after the startContainer hooks and before seccomp, the capability drop and
    /// the user switch: apply the settings (see the module doc for the order).
    ///
    /// # Errors
    /// [`ChildError`] naming the field and the kernel's refusal.
    pub fn apply(&self) -> Result<(), ChildError> {
        let detail =
            |what: String, e: std::io::Error, hint: &str| format!("{what} failed: {e}{hint}");
        if let Some((class, level)) = self.io_priority {
            husk_sys::task::ioprio_set(class, level).map_err(|e| ChildError::Config {
                field: "process.ioPriority".into(),
                detail: detail(
                    format!("ioprio_set(class {class}, level {level})"),
                    e,
                    if class == 1 {
                        "; the real-time class needs CAP_SYS_ADMIN or CAP_SYS_NICE in the initial user namespace"
                    } else {
                        ""
                    },
                ),
            })?;
        }
        if let Some(attr) = &self.scheduler {
            husk_sys::task::sched_setattr(attr).map_err(|e| {
                let hint = match (e.raw_os_error(), attr.policy) {
                    (Some(libc::EPERM), 1 | 2) => "; a real-time policy needs CAP_SYS_NICE in the initial user namespace and, where cgroup v1 real-time group scheduling is on, a cpu.rt_runtime_us budget for the container's cgroup",
                    (Some(libc::EPERM), 6) => "; SCHED_DEADLINE needs CAP_SYS_NICE in the initial user namespace and a root-domain bandwidth",
                    (Some(libc::EBUSY), 6) => "; the deadline bandwidth (runtime/period) does not fit the CPUs' admission limit",
                    (Some(libc::EPERM), _) => "; a nice value below the current one needs CAP_SYS_NICE",
                    _ => "",
                };
                ChildError::Config {
                    field: "process.scheduler".into(),
                    detail: detail(
                        format!(
                            "sched_setattr({}, nice {}, priority {}, flags {:#x})",
                            policy_name(attr.policy),
                            attr.nice,
                            attr.priority,
                            attr.flags
                        ),
                        e,
                        hint,
                    ),
                }
            })?;
        }
        if let Some(m) = &self.memory_policy {
            husk_sys::task::set_mempolicy(m.mode, &m.nodemask).map_err(|e| ChildError::Config {
                field: "linux.memoryPolicy".into(),
                detail: detail(
                    format!("set_mempolicy({})", m.describe),
                    e,
                    "; the nodes must be online memory nodes allowed by the container's cpuset (cpuset.mems)",
                ),
            })?;
        }
        if let Some(persona) = self.personality {
            husk_sys::task::personality(persona).map_err(|e| {
                ChildError::setup(
                    format!("personality({persona:#x})"),
                    Some("linux.personality.domain"),
                    &e,
                )
            })?;
        }
        Ok(())
    }
}

/// The `SCHED_*` name of a policy number, for messages.
fn policy_name(policy: u32) -> &'static str {
    match policy {
        0 => "SCHED_OTHER",
        1 => "SCHED_FIFO",
        2 => "SCHED_RR",
        3 => "SCHED_BATCH",
        5 => "SCHED_IDLE",
        6 => "SCHED_DEADLINE",
        _ => "an unknown policy",
    }
}

/// `process.execCPUAffinity` of an `exec`, parsed: CPU numbers.
#[derive(Debug, Clone, Default)]
pub struct ExecCpuAffinity {
    /// `initial`: the CPUs of the exec's process before it joins the container's cgroup.
    pub initial: Option<BTreeSet<u32>>,
    /// `final`: its CPUs once in the cgroup, up to execve.
    pub last: Option<BTreeSet<u32>>,
}

/// sched_setaffinity(2) of the calling thread to `cpus` (CPU numbers). The kernel intersects
/// it with the cgroup's cpuset.
///
/// # Errors
/// [`ChildError::Setup`] naming the field, with sched_setaffinity's errno (EINVAL when none
/// of the CPUs is allowed).
pub fn set_cpu_affinity(cpus: &BTreeSet<u32>, field: &str) -> Result<(), ChildError> {
    let mut set = nix::sched::CpuSet::new();
    for cpu in cpus {
        set.set(*cpu as usize)
            .map_err(|e| ChildError::setup("sched_setaffinity", Some(field), e))?;
    }
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
        .map_err(|e| ChildError::setup("sched_setaffinity", Some(field), e))
}

/// In the intermediate, once it is in the container's cgroup: let the container run on every
/// CPU its cpuset allows, whatever affinity the runtime was started with (runc 1.2+ does the
/// same). The kernel intersects the request with the cpuset. Best effort: a failure leaves the
/// inherited affinity, which still works.
pub fn reset_cpu_affinity() {
    let mut all = nix::sched::CpuSet::new();
    for cpu in 0..nix::sched::CpuSet::count() {
        let _ = all.set(cpu);
    }
    let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &all);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    fn config(json: serde_json::Value) -> Config {
        let mut base = serde_json::json!({
            "ociVersion": "1.3.0",
            "root": {"path": "rootfs"},
            "process": {"user": {"uid": 0, "gid": 0}, "cwd": "/", "args": ["sh"]},
            "linux": {"namespaces": [{"type": "mount"}]}
        });
        for (k, v) in json.as_object().unwrap() {
            let (section, field) = k.split_once('.').unwrap();
            base[section][field] = v.clone();
        }
        Config::from_json(&serde_json::to_vec(&base).unwrap()).unwrap()
    }

    fn planned(json: serde_json::Value) -> Result<(Settings, Vec<String>), KernelError> {
        let c = config(json);
        let p = crate::namespaces::plan(&c.spec).unwrap();
        plan(&c, &p)
    }

    fn refused(json: serde_json::Value, field: &str) {
        match planned(json.clone()) {
            Ok(_) => panic!("accepted: {json}"),
            Err(e) => assert!(e.to_string().contains(field), "{field} not named: {e}"),
        }
    }

    #[test]
    fn id_lists_parse_like_the_kernel() {
        assert_eq!(
            parse_id_list("0-3,7")
                .unwrap()
                .into_iter()
                .collect::<Vec<_>>(),
            [0, 1, 2, 3, 7]
        );
        assert_eq!(parse_id_list("5\n").unwrap().len(), 1);
        assert!(parse_id_list("").unwrap().is_empty());
        for bad in ["3-1", "a", "1,,2", "1-", "-1", " 1 - 2"] {
            assert!(parse_id_list(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn personality_domain_and_no_flags() {
        let (s, _) =
            planned(serde_json::json!({"linux.personality": {"domain": "LINUX32"}})).unwrap();
        assert_eq!(s.process.personality, Some(husk_sys::task::PER_LINUX32));
        refused(
            serde_json::json!({"linux.personality": {"domain": "LINUX", "flags": ["ADDR_NO_RANDOMIZE"]}}),
            "linux.personality.flags[0]",
        );
    }

    #[test]
    fn io_priority_levels() {
        let (s, _) = planned(
            serde_json::json!({"process.ioPriority": {"class": "IOPRIO_CLASS_IDLE", "priority": 7}}),
        )
        .unwrap();
        assert_eq!(s.process.io_priority, Some((3, 7)));
        for bad in [8, -1] {
            refused(
                serde_json::json!({"process.ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": bad}}),
                "process.ioPriority.priority",
            );
        }
    }

    #[test]
    fn scheduler_fields_are_checked_and_named() {
        let (s, _) = planned(serde_json::json!({"process.scheduler": {
            "policy": "SCHED_BATCH", "nice": 5,
            "flags": ["SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_DL_OVERRUN"]}}))
        .unwrap();
        let attr = s.process.scheduler.unwrap();
        assert_eq!((attr.policy, attr.nice, attr.flags), (3, 5, 0x05));
        for (sched, field) in [
            (
                serde_json::json!({"policy": "SCHED_FIFO"}),
                "process.scheduler.priority",
            ),
            (
                serde_json::json!({"policy": "SCHED_OTHER", "priority": 3}),
                "process.scheduler.priority",
            ),
            (
                serde_json::json!({"policy": "SCHED_OTHER", "nice": 20}),
                "process.scheduler.nice",
            ),
            (
                serde_json::json!({"policy": "SCHED_ISO"}),
                "process.scheduler.policy",
            ),
            (
                serde_json::json!({"policy": "SCHED_OTHER", "flags": ["SCHED_FLAG_NOPE"]}),
                "process.scheduler.flags[0]",
            ),
            (
                serde_json::json!({"policy": "SCHED_DEADLINE", "runtime": 2000, "deadline": 1000}),
                "process.scheduler.runtime",
            ),
            (
                serde_json::json!({"policy": "SCHED_DEADLINE", "runtime": 2000}),
                "process.scheduler.deadline",
            ),
            (
                serde_json::json!({"policy": "SCHED_DEADLINE", "runtime": 2000, "deadline": 5000, "period": 4000}),
                "process.scheduler.period",
            ),
        ] {
            refused(serde_json::json!({"process.scheduler": sched}), field);
        }
    }

    #[test]
    fn memory_policy_modes_nodes_and_flags() {
        let (s, _) = planned(serde_json::json!({"linux.memoryPolicy": {
            "mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]}}))
        .unwrap();
        let m = s.process.memory_policy.unwrap();
        assert_eq!((m.mode, m.nodemask.as_slice()), (2 | 1 << 15, &[1][..]));
        let (s, _) =
            planned(serde_json::json!({"linux.memoryPolicy": {"mode": "MPOL_LOCAL"}})).unwrap();
        assert_eq!(
            s.process.memory_policy.unwrap().nodemask,
            Vec::<libc::c_ulong>::new()
        );
        for (m, field) in [
            (
                serde_json::json!({"mode": "MPOL_BIND"}),
                "linux.memoryPolicy.nodes",
            ),
            (
                serde_json::json!({"mode": "MPOL_DEFAULT", "nodes": "0"}),
                "linux.memoryPolicy.nodes",
            ),
            (
                serde_json::json!({"mode": "MPOL_BIND", "nodes": "0-x"}),
                "linux.memoryPolicy.nodes",
            ),
            (
                serde_json::json!({"mode": "MPOL_BIND", "nodes": "4000"}),
                "linux.memoryPolicy.nodes",
            ),
            (
                serde_json::json!({"mode": "MPOL_BIND", "nodes": "0",
                "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"]}),
                "linux.memoryPolicy.flags",
            ),
        ] {
            refused(serde_json::json!({"linux.memoryPolicy": m}), field);
        }
    }

    #[test]
    fn exec_cpu_affinity_is_checked_then_left_with_a_warning() {
        let (_, w) =
            planned(serde_json::json!({"process.execCPUAffinity": {"initial": "0", "final": "0"}}))
                .unwrap();
        assert!(
            w.iter().any(|w| w.contains("process.execCPUAffinity")),
            "{w:?}"
        );
        refused(
            serde_json::json!({"process.execCPUAffinity": {"final": "100000"}}),
            "process.execCPUAffinity.final",
        );
    }

    #[test]
    fn intel_rdt_needs_resctrl() {
        let mounted = nix::sys::statfs::statfs(RESCTRL).is_ok();
        refused(
            serde_json::json!({"linux.intelRdt": {"closID": "x"}}),
            if mounted { "linux.intelRdt" } else { "resctrl" },
        );
    }
}
