//! `linux.resources` (runtime-spec config-linux.md, "Control groups"): the checks that do not
//! depend on the host, and which controller each field that is set needs, by its JSON name.
//!
//! Zero is "unset" where runc reads it so (memory limit/reservation/swap, cpu shares, quota,
//! period, realtime values, blkio weights); `-1` is "unlimited" where the spec allows it.

use oci_spec::runtime::LinuxResources;

use crate::devices::rules_from_spec;
use crate::error::CgroupError;

/// `linux.resources` together with the presence-aware `pids.limit`: oci-spec reads an absent
/// limit as 0, which runtime-spec v1.3 makes a real limit, so the caller passes what the JSON
/// said (None: absent; -1: unlimited; 0 and up: the limit).
#[derive(Clone, Copy, Debug)]
pub struct Resources<'a> {
    /// The parsed `linux.resources`.
    pub spec: &'a LinuxResources,
    /// `linux.resources.pids.limit` as written (None when absent).
    pub pids_limit: Option<i64>,
}

/// A controller as `linux.resources` uses them, in the order husk applies them (cpuset first,
/// as runc: the CPUs and nodes before the limits that depend on them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Controller {
    Cpuset,
    Memory,
    Cpu,
    Pids,
    Blkio,
    Hugetlb,
    NetCls,
    NetPrio,
    Rdma,
}

impl Controller {
    /// Every controller, in application order.
    pub(crate) const ALL: [Controller; 9] = [
        Controller::Cpuset,
        Controller::Memory,
        Controller::Cpu,
        Controller::Pids,
        Controller::Blkio,
        Controller::Hugetlb,
        Controller::NetCls,
        Controller::NetPrio,
        Controller::Rdma,
    ];

    /// Its name in cgroup v1 (/proc/self/cgroup, the mount option).
    pub(crate) fn v1(self) -> &'static str {
        match self {
            Controller::Cpuset => "cpuset",
            Controller::Memory => "memory",
            Controller::Cpu => "cpu",
            Controller::Pids => "pids",
            Controller::Blkio => "blkio",
            Controller::Hugetlb => "hugetlb",
            Controller::NetCls => "net_cls",
            Controller::NetPrio => "net_prio",
            Controller::Rdma => "rdma",
        }
    }

    /// Its name in cgroup v2 (cgroup.controllers); None for net_cls and net_prio, which v2
    /// does not have (cgroup-v2.rst, "Deprecated v1 Core Features").
    pub(crate) fn v2(self) -> Option<&'static str> {
        match self {
            Controller::Blkio => Some("io"),
            Controller::NetCls | Controller::NetPrio => None,
            other => Some(other.v1()),
        }
    }
}

const PREFIX: &str = "linux.resources";

/// The core interface files (`cgroup.*`, cgroup-v2.rst "Core Interface Files") a `unified` key
/// may write: the ones that limit the cgroup.
const UNIFIED_CORE_LIMITS: [&str; 3] = ["max.depth", "max.descendants", "pressure"];

/// The controllers the set fields of `r` need, each with the JSON name of its first set field
/// (for the error when the host lacks it), in [`Controller::ALL`] order. `devices` and
/// `unified` are not listed: they are checked on their own.
pub(crate) fn needed(r: Resources<'_>) -> Vec<(Controller, String)> {
    let mut out: Vec<(Controller, String)> = Vec::new();
    let mut need = |c: Controller, field: String| {
        if !out.iter().any(|(have, _)| *have == c) {
            out.push((c, field));
        }
    };
    if let Some(cpu) = r.spec.cpu() {
        if let Some(f) = first_set(&[
            (
                "cpus",
                cpu.cpus().as_ref().is_some_and(|c| !c.trim().is_empty()),
            ),
            (
                "mems",
                cpu.mems().as_ref().is_some_and(|m| !m.trim().is_empty()),
            ),
        ]) {
            need(Controller::Cpuset, format!("{PREFIX}.cpu.{f}"));
        }
    }
    if let Some(m) = r.spec.memory() {
        if let Some(f) = first_set(&[
            ("limit", m.limit().is_some_and(|v| v != 0)),
            ("reservation", m.reservation().is_some_and(|v| v != 0)),
            ("swap", m.swap().is_some_and(|v| v != 0)),
            ("swappiness", m.swappiness().is_some()),
            ("disableOOMKiller", m.disable_oom_killer().is_some()),
            ("useHierarchy", m.use_hierarchy().is_some()),
        ]) {
            need(Controller::Memory, format!("{PREFIX}.memory.{f}"));
        }
    }
    if let Some(cpu) = r.spec.cpu() {
        if let Some(f) = first_set(&[
            ("shares", cpu.shares().is_some_and(|v| v != 0)),
            ("quota", cpu.quota().is_some_and(|v| v != 0)),
            ("period", cpu.period().is_some_and(|v| v != 0)),
            ("burst", cpu.burst().is_some()),
            (
                "realtimeRuntime",
                cpu.realtime_runtime().is_some_and(|v| v != 0),
            ),
            (
                "realtimePeriod",
                cpu.realtime_period().is_some_and(|v| v != 0),
            ),
            ("idle", cpu.idle().is_some()),
        ]) {
            need(Controller::Cpu, format!("{PREFIX}.cpu.{f}"));
        }
    }
    if r.pids_limit.is_some() {
        need(Controller::Pids, format!("{PREFIX}.pids.limit"));
    }
    if let Some(b) = r.spec.block_io() {
        let non_empty = |v: &Option<Vec<_>>| v.as_ref().is_some_and(|v: &Vec<_>| !v.is_empty());
        if let Some(f) = first_set(&[
            ("weight", b.weight().is_some_and(|v| v != 0)),
            ("leafWeight", b.leaf_weight().is_some_and(|v| v != 0)),
            (
                "weightDevice",
                b.weight_device().as_ref().is_some_and(|v| !v.is_empty()),
            ),
            (
                "throttleReadBpsDevice",
                non_empty(b.throttle_read_bps_device()),
            ),
            (
                "throttleWriteBpsDevice",
                non_empty(b.throttle_write_bps_device()),
            ),
            (
                "throttleReadIOPSDevice",
                non_empty(b.throttle_read_iops_device()),
            ),
            (
                "throttleWriteIOPSDevice",
                non_empty(b.throttle_write_iops_device()),
            ),
        ]) {
            need(Controller::Blkio, format!("{PREFIX}.blockIO.{f}"));
        }
    }
    if r.spec
        .hugepage_limits()
        .as_ref()
        .is_some_and(|h| !h.is_empty())
    {
        need(Controller::Hugetlb, format!("{PREFIX}.hugepageLimits"));
    }
    if let Some(n) = r.spec.network() {
        if n.class_id().is_some() {
            need(Controller::NetCls, format!("{PREFIX}.network.classID"));
        }
        if n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
            need(Controller::NetPrio, format!("{PREFIX}.network.priorities"));
        }
    }
    if let Some(rdma) = r.spec.rdma() {
        if let Some(device) = sorted_keys(rdma).first() {
            need(Controller::Rdma, format!("{PREFIX}.rdma[{device:?}]"));
        }
    }
    out.sort_by_key(|(c, _)| Controller::ALL.iter().position(|x| x == c));
    out
}

fn first_set(fields: &[(&'static str, bool)]) -> Option<&'static str> {
    fields.iter().find(|(_, set)| *set).map(|(name, _)| *name)
}

/// The keys of a map, sorted (so errors and writes do not depend on hash order).
pub(crate) fn sorted_keys<V>(map: &std::collections::HashMap<String, V>) -> Vec<&str> {
    let mut keys: Vec<&str> = map.keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

fn invalid(field: String, value: impl ToString, reason: &str) -> CgroupError {
    CgroupError::InvalidValue {
        field,
        value: value.to_string(),
        reason: reason.to_owned(),
    }
}

/// `-1` (unlimited) or `>= 0`.
fn check_limit(field: &str, value: Option<i64>) -> Result<(), CgroupError> {
    match value {
        Some(v) if v < -1 => Err(invalid(
            format!("{PREFIX}.{field}"),
            v,
            "only -1 (unlimited) or a value >= 0 is valid",
        )),
        _ => Ok(()),
    }
}

/// A blkio weight: 0 (unset) or 10..=1000 (runtime-spec, blkio-controller.rst).
fn check_weight(field: String, value: Option<u16>) -> Result<(), CgroupError> {
    match value {
        Some(w) if w != 0 && !(10..=1000).contains(&w) => Err(invalid(
            field,
            w,
            "a blkio weight is between 10 and 1000 (0 leaves it unset)",
        )),
        _ => Ok(()),
    }
}

/// A device number of a blkio rule (`major` or `minor`): not negative.
fn check_device(field: &str, major: i64, minor: i64) -> Result<(), CgroupError> {
    if major < 0 || minor < 0 {
        return Err(invalid(
            field.to_owned(),
            format!("{major}:{minor}"),
            "major and minor must be >= 0 (see ls -l /dev/BLOCKDEVICE)",
        ));
    }
    Ok(())
}

/// Whether `size` is a hugepage size as the kernel names its hugetlb files: digits and one
/// of KB, MB, GB (`2MB`, `1GB`, `64KB`).
pub(crate) fn is_page_size(size: &str) -> bool {
    ["KB", "MB", "GB"].iter().any(|unit| {
        size.strip_suffix(unit)
            .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// The checks of `linux.resources` that do not depend on the host, made before anything is
/// created. Returns the warnings to show (deprecated fields that are ignored).
///
/// # Errors
/// [`CgroupError::InvalidValue`] naming the JSON field: negative sizes other than -1,
/// `memory.swap` below `memory.limit` (swap is the memory+swap total of v1), swappiness above
/// 100, blkio weights outside 10..=1000, negative device numbers, a hugepage size not like
/// `2MB`, a pids limit below -1, a `unified` key that is not a plain file name; malformed
/// device rules ([`CgroupError::InvalidDeviceRule`]).
pub(crate) fn check(r: Resources<'_>) -> Result<Vec<String>, CgroupError> {
    let mut warnings = Vec::new();
    if let Some(m) = r.spec.memory() {
        check_limit("memory.limit", m.limit())?;
        check_limit("memory.reservation", m.reservation())?;
        check_limit("memory.swap", m.swap())?;
        if let (Some(swap), Some(limit)) = (m.swap(), m.limit()) {
            if swap > 0 && limit == -1 {
                return Err(invalid(
                    format!("{PREFIX}.memory.swap"),
                    swap,
                    "is a memory+swap total, which cannot be finite with memory.limit -1 (unlimited); set a memory limit, or swap -1",
                ));
            }
            if swap > 0 && limit > 0 && swap < limit {
                return Err(invalid(
                    format!("{PREFIX}.memory.swap"),
                    swap,
                    &format!("is below memory.limit {limit}: swap is the memory+swap total (cgroup v1 memsw semantics), so it must be at least the limit, or -1 for unlimited"),
                ));
            }
        }
        if let Some(s) = m.swappiness() {
            if s > 100 {
                return Err(invalid(
                    format!("{PREFIX}.memory.swappiness"),
                    s,
                    "swappiness is between 0 and 100",
                ));
            }
        }
        for (name, value) in [("kernel", m.kernel()), ("kernelTCP", m.kernel_tcp())] {
            if value.is_some() {
                warnings.push(format!(
                    "{PREFIX}.memory.{name} is deprecated by runtime-spec and ignored (kernel memory is accounted with the rest of memory since Linux 5.4 and the v1 kmem limit files do nothing on Linux 6.x)"
                ));
            }
        }
    }
    if let Some(cpu) = r.spec.cpu() {
        check_limit("cpu.quota", cpu.quota())?;
        check_limit("cpu.realtimeRuntime", cpu.realtime_runtime())?;
        if let Some(idle) = cpu.idle() {
            if !(0..=1).contains(&idle) {
                return Err(invalid(
                    format!("{PREFIX}.cpu.idle"),
                    idle,
                    "cpu.idle is 0 or 1",
                ));
            }
        }
    }
    if let Some(limit) = r.pids_limit {
        if limit < -1 {
            return Err(invalid(
                format!("{PREFIX}.pids.limit"),
                limit,
                "only -1 (unlimited) or a limit >= 0 is valid (runtime-spec v1.3: 0 is a real limit)",
            ));
        }
    }
    if let Some(b) = r.spec.block_io() {
        check_weight(format!("{PREFIX}.blockIO.weight"), b.weight())?;
        check_weight(format!("{PREFIX}.blockIO.leafWeight"), b.leaf_weight())?;
        for (i, d) in b.weight_device().iter().flatten().enumerate() {
            let field = format!("{PREFIX}.blockIO.weightDevice[{i}]");
            check_device(&field, d.major(), d.minor())?;
            check_weight(format!("{field}.weight"), d.weight())?;
            check_weight(format!("{field}.leafWeight"), d.leaf_weight())?;
        }
        for (name, list) in [
            ("throttleReadBpsDevice", b.throttle_read_bps_device()),
            ("throttleWriteBpsDevice", b.throttle_write_bps_device()),
            ("throttleReadIOPSDevice", b.throttle_read_iops_device()),
            ("throttleWriteIOPSDevice", b.throttle_write_iops_device()),
        ] {
            for (i, d) in list.iter().flatten().enumerate() {
                check_device(
                    &format!("{PREFIX}.blockIO.{name}[{i}]"),
                    d.major(),
                    d.minor(),
                )?;
            }
        }
    }
    for (i, h) in r.spec.hugepage_limits().iter().flatten().enumerate() {
        if !is_page_size(h.page_size()) {
            return Err(invalid(
                format!("{PREFIX}.hugepageLimits[{i}].pageSize"),
                format!("{:?}", h.page_size()),
                "a page size is a number and KB, MB or GB, as in the kernel's hugetlb.<size>.* file names (\"2MB\", \"1GB\")",
            ));
        }
        check_limit(&format!("hugepageLimits[{i}].limit"), Some(h.limit()))?;
    }
    if let Some(rdma) = r.spec.rdma() {
        for device in sorted_keys(rdma) {
            if device.is_empty() || device.contains(char::is_whitespace) {
                return Err(invalid(
                    format!("{PREFIX}.rdma"),
                    format!("{device:?}"),
                    "an rdma device name (as in rdma.max) is one word",
                ));
            }
        }
    }
    if let Some(unified) = r.spec.unified() {
        for key in sorted_keys(unified) {
            if key.contains('/') || !key.contains('.') || key.starts_with('.') {
                return Err(invalid(
                    format!("{PREFIX}.unified"),
                    format!("{key:?}"),
                    "a unified key is the name of a cgroup v2 interface file such as \"memory.high\"",
                ));
            }
            // The core files move processes (cgroup.procs would pull any host process into the
            // container's cgroup), kill them, freeze them or change what the cgroup is: none
            // is a limit. Only the core files that are limits are accepted.
            if let Some(core) = key.strip_prefix("cgroup.") {
                if !UNIFIED_CORE_LIMITS.contains(&core) {
                    return Err(invalid(
                        format!("{PREFIX}.unified"),
                        format!("{key:?}"),
                        "of the core cgroup.* files only cgroup.max.depth, cgroup.max.descendants and cgroup.pressure are limits; the others move, kill or freeze processes or change the cgroup's type and are not accepted",
                    ));
                }
            }
        }
    }
    if let Some(priorities) = r
        .spec
        .network()
        .as_ref()
        .and_then(|n| n.priorities().as_ref())
    {
        for (i, p) in priorities.iter().enumerate() {
            let name = p.name();
            // IFNAMSIZ is 16 with the NUL; one word, as net_prio.ifpriomap parses it.
            if name.is_empty()
                || name.len() > 15
                || name.contains(|c: char| c.is_whitespace() || c == '/')
            {
                return Err(invalid(
                    format!("{PREFIX}.network.priorities[{i}].name"),
                    format!("{name:?}"),
                    "an interface name is 1 to 15 bytes without spaces or '/'",
                ));
            }
        }
    }
    if let Some(devices) = r.spec.devices() {
        rules_from_spec(devices)?;
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    fn check_json(json: &str, pids_limit: Option<i64>) -> Result<Vec<String>, CgroupError> {
        let s = spec(json);
        check(Resources {
            spec: &s,
            pids_limit,
        })
    }

    #[test]
    fn needed_names_the_first_field_of_each_controller_in_order() {
        let s = spec(
            r#"{"network":{"priorities":[{"name":"eth0","priority":1}]},
                "memory":{"swappiness":10,"limit":1048576},
                "cpu":{"shares":0,"mems":"0","quota":1000},
                "blockIO":{"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1}]},
                "hugepageLimits":[{"pageSize":"2MB","limit":0}],
                "rdma":{"mlx5_1":{"hcaHandles":3},"a":{}}}"#,
        );
        let got = needed(Resources {
            spec: &s,
            pids_limit: Some(0),
        });
        let names: Vec<(&str, &str)> = got.iter().map(|(c, f)| (c.v1(), f.as_str())).collect();
        assert_eq!(
            names,
            [
                ("cpuset", "linux.resources.cpu.mems"),
                ("memory", "linux.resources.memory.limit"),
                ("cpu", "linux.resources.cpu.quota"),
                ("pids", "linux.resources.pids.limit"),
                ("blkio", "linux.resources.blockIO.throttleReadBpsDevice"),
                ("hugetlb", "linux.resources.hugepageLimits"),
                ("net_prio", "linux.resources.network.priorities"),
                ("rdma", "linux.resources.rdma[\"a\"]"),
            ]
        );
    }

    #[test]
    fn zero_and_empty_need_nothing() {
        let s = spec(
            r#"{"memory":{"limit":0,"swap":0},"cpu":{"shares":0,"quota":0,"period":0},
                "blockIO":{"weight":0,"weightDevice":[]},"hugepageLimits":[],"rdma":{},"pids":{}}"#,
        );
        assert!(needed(Resources {
            spec: &s,
            pids_limit: None
        })
        .is_empty());
    }

    #[test]
    fn bad_values_are_refused_by_field() {
        let cases = [
            (
                r#"{"memory":{"limit":-2}}"#,
                "linux.resources.memory.limit -2:",
            ),
            (
                r#"{"memory":{"limit":2097152,"swap":1048576}}"#,
                "linux.resources.memory.swap 1048576: is below memory.limit 2097152",
            ),
            (
                r#"{"memory":{"swappiness":101}}"#,
                "linux.resources.memory.swappiness 101:",
            ),
            (
                r#"{"memory":{"limit":-1,"swap":1048576}}"#,
                "linux.resources.memory.swap 1048576: is a memory+swap total",
            ),
            (r#"{"cpu":{"quota":-5}}"#, "linux.resources.cpu.quota -5:"),
            (r#"{"cpu":{"idle":2}}"#, "linux.resources.cpu.idle 2:"),
            (
                r#"{"blockIO":{"weight":5}}"#,
                "linux.resources.blockIO.weight 5:",
            ),
            (
                r#"{"blockIO":{"weightDevice":[{"major":8,"minor":0,"leafWeight":2000}]}}"#,
                "linux.resources.blockIO.weightDevice[0].leafWeight 2000:",
            ),
            (
                r#"{"blockIO":{"throttleWriteIOPSDevice":[{"major":-1,"minor":0,"rate":1}]}}"#,
                "linux.resources.blockIO.throttleWriteIOPSDevice[0] -1:0:",
            ),
            (
                r#"{"hugepageLimits":[{"pageSize":"2M","limit":1}]}"#,
                "linux.resources.hugepageLimits[0].pageSize \"2M\":",
            ),
            (
                r#"{"unified":{"../memory.max":"1"}}"#,
                "linux.resources.unified \"../memory.max\":",
            ),
            (
                r#"{"unified":{"cgroup.procs":"1"}}"#,
                "linux.resources.unified \"cgroup.procs\":",
            ),
            (
                r#"{"unified":{"cgroup.subtree_control":"+memory"}}"#,
                "linux.resources.unified \"cgroup.subtree_control\":",
            ),
            (
                r#"{"network":{"priorities":[{"name":"eth0 5\nlo","priority":1}]}}"#,
                "linux.resources.network.priorities[0].name \"eth0 5\\nlo\":",
            ),
            (
                r#"{"devices":[{"allow":true,"type":"p"}]}"#,
                "linux.resources.devices[0].type",
            ),
        ];
        for (json, start) in cases {
            let err = check_json(json, None).unwrap_err().to_string();
            assert!(err.starts_with(start), "{json}: {err}");
        }
        let err = check_json("{}", Some(-2)).unwrap_err().to_string();
        assert!(err.starts_with("linux.resources.pids.limit -2:"), "{err}");
    }

    #[test]
    fn good_values_pass_and_deprecated_ones_warn() {
        for pids in [None, Some(-1), Some(0), Some(100)] {
            assert!(check_json("{}", pids).unwrap().is_empty());
        }
        assert!(check_json(
            r#"{"unified":{"cgroup.max.depth":"3","memory.high":"1M"},
                "network":{"priorities":[{"name":"eth0","priority":1}]}}"#,
            None
        )
        .is_ok());
        let warnings = check_json(
            r#"{"memory":{"limit":-1,"swap":-1,"kernel":1048576,"kernelTCP":1048576},
                "cpu":{"quota":-1,"idle":1},"blockIO":{"weight":10},
                "hugepageLimits":[{"pageSize":"1GB","limit":-1}]}"#,
            None,
        )
        .unwrap();
        assert_eq!(warnings.len(), 2);
        assert!(warnings[0].starts_with("linux.resources.memory.kernel is deprecated"));
        assert!(warnings[1].starts_with("linux.resources.memory.kernelTCP is deprecated"));
    }

    #[test]
    fn page_sizes() {
        for good in ["2MB", "1GB", "64KB", "16GB"] {
            assert!(is_page_size(good), "{good}");
        }
        for bad in ["", "MB", "2M", "2mb", "2 MB", "x2MB", "2MB/"] {
            assert!(!is_page_size(bad), "{bad}");
        }
    }
}
