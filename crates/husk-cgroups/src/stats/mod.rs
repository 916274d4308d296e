//! What a container's cgroup has used: [`Stats`], read per controller from the hierarchy the
//! controller is bound to on this host (a hybrid host has hugetlb on cgroup2 and the rest on
//! v1), serialised in the shape of runc's `events --stats` data (runc 1.1's `types.Stats`:
//! the same keys, the same omitted zero values), so clients that parse runc's output parse
//! husk's.
//!
//! The readers in [`v1`] and [`v2`] take a cgroup directory; their parsers take file contents
//! and are pure. A controller whose files do not exist (not mounted, not enabled in the
//! parent's cgroup.subtree_control, or too old a kernel) is reported as zeros, as runc does;
//! any other read or parse error is an error naming the file.

mod v1;
mod v2;

pub(crate) use v1::oom_kills as oom_kills_v1;
pub(crate) use v2::oom_kills as oom_kills_v2;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::cgroup::Cgroup;
use crate::error::CgroupError;
use crate::layout::CgroupVersion;

/// A container's cgroup usage: runc's `events --stats` `data` object.
#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// CPU time and CFS throttling.
    pub cpu: CpuStats,
    /// The v1 cpuset settings (zeros on cgroup v2, as runc 1.1 reports them).
    pub cpuset: CpusetStats,
    /// Memory usage, limits and the raw memory.stat.
    pub memory: MemoryStats,
    /// Task count and limit.
    pub pids: PidsStats,
    /// Block I/O counters.
    pub blkio: BlkioStats,
    /// Huge page usage by page size (`2MB`, `1GB`), as the cgroup file names spell it.
    pub hugetlb: BTreeMap<String, HugetlbStats>,
    /// Intel RDT: husk implements none, so always `{}`.
    pub intel_rdt: IntelRdtStats,
    /// Always `null`: runc 1.1 fills it only for networks set up through its Go API, never
    /// from a bundle, and husk reads no interface counters.
    pub network_interfaces: NetworkInterfaces,
}

/// runc's `cpu` object.
#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuStats {
    /// Time used.
    pub usage: CpuUsage,
    /// CFS bandwidth throttling.
    pub throttling: Throttling,
}

/// CPU time used, in nanoseconds.
#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuUsage {
    /// Total (v1 cpuacct.usage; v2 cpu.stat usage_usec × 1000).
    #[serde(skip_serializing_if = "is_zero")]
    pub total: u64,
    /// Per CPU (v1 cpuacct.usage_percpu; not on v2).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    /// Per CPU in kernel mode (v1 cpuacct.usage_all).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    /// Per CPU in user mode (v1 cpuacct.usage_all).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    /// In kernel mode (v1 cpuacct.stat `system`, in USER_HZ ticks converted; v2 system_usec).
    pub kernel: u64,
    /// In user mode (v1 cpuacct.stat `user`; v2 user_usec).
    pub user: u64,
}

/// CFS bandwidth throttling (cpu.stat).
#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct Throttling {
    /// Enforcement periods elapsed (`nr_periods`).
    #[serde(skip_serializing_if = "is_zero")]
    pub periods: u64,
    /// Periods in which the cgroup was throttled (`nr_throttled`).
    #[serde(rename = "throttledPeriods", skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    /// Time throttled, nanoseconds (v1 `throttled_time`; v2 `throttled_usec` × 1000).
    #[serde(rename = "throttledTime", skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

/// The v1 cpuset files (cgroup-v1/cpusets.rst).
#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct CpusetStats {
    /// cpuset.cpus, expanded.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    /// cpuset.cpu_exclusive.
    pub cpu_exclusive: u64,
    /// cpuset.mems, expanded.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
    /// cpuset.mem_hardwall.
    pub mem_hardwall: u64,
    /// cpuset.mem_exclusive.
    pub mem_exclusive: u64,
    /// cpuset.memory_migrate.
    pub memory_migrate: u64,
    /// cpuset.memory_spread_page.
    pub memory_spread_page: u64,
    /// cpuset.memory_spread_slab.
    pub memory_spread_slab: u64,
    /// cpuset.memory_pressure.
    pub memory_pressure: u64,
    /// cpuset.sched_load_balance.
    pub sched_load_balance: u64,
    /// cpuset.sched_relax_domain_level (-1: the system default).
    pub sched_relax_domain_level: i64,
}

/// One memory counter set, in bytes.
#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryEntry {
    /// The limit (v1 `*.limit_in_bytes`; v2 memory.max, `max` being 2^64-1).
    pub limit: u64,
    /// Current usage.
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// Peak usage (v1 `*.max_usage_in_bytes`; v2 memory.peak where the kernel has it).
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    /// How often the limit was hit (v1 `*.failcnt`; v2 the `max` count of memory.events).
    pub failcnt: u64,
}

/// runc's `memory` object.
#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryStats {
    /// Page cache (v1 memory.stat `cache`; v2 `file`).
    #[serde(skip_serializing_if = "is_zero")]
    pub cache: u64,
    /// Memory (v1 memory.*; v2 memory.current and memory.max).
    pub usage: MemoryEntry,
    /// Memory plus swap, as v1 counts it (v1 memory.memsw.*; v2 memory.swap.current plus
    /// memory.current, the limits added unless swap is unlimited, as runc reports them).
    pub swap: MemoryEntry,
    /// Kernel memory (v1 memory.kmem.*; zeros on v2).
    pub kernel: MemoryEntry,
    /// Kernel TCP buffers (v1 memory.kmem.tcp.*; zeros on v2).
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    /// memory.stat as it is, key by key.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

/// runc's `pids` object.
#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct PidsStats {
    /// Tasks (threads included) in the cgroup: pids.current, or where the pids controller is
    /// not available on v2, the processes listed in cgroup.procs.
    #[serde(skip_serializing_if = "is_zero")]
    pub current: u64,
    /// pids.max; 0 (omitted) when it is `max`.
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

/// One block I/O counter: device, operation, value.
#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct BlkioEntry {
    /// Device major number.
    #[serde(skip_serializing_if = "is_zero")]
    pub major: u64,
    /// Device minor number.
    #[serde(skip_serializing_if = "is_zero")]
    pub minor: u64,
    /// `Read`, `Write`, `Sync`, `Async`, `Discard`, `Total` (v1), or empty for a per-device
    /// value (sectors, time).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub op: String,
    /// The count (bytes, operations, nanoseconds or sectors, by table).
    #[serde(skip_serializing_if = "is_zero")]
    pub value: u64,
}

/// runc's `blkio` object: v1 blkio tables (BFQ, CFQ or throttle files, whichever the kernel
/// has, in runc's order of preference) or v2 io.stat mapped onto the first two.
#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct BlkioStats {
    /// Bytes transferred (v1 `*io_service_bytes_recursive`; v2 rbytes/wbytes).
    #[serde(
        rename = "ioServiceBytesRecursive",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    /// Operations (v1 `*io_serviced_recursive`; v2 rios/wios).
    #[serde(rename = "ioServicedRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
    /// Queued operations (v1 CFQ/BFQ debug files).
    #[serde(rename = "ioQueueRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_queued_recursive: Vec<BlkioEntry>,
    /// Service time, ns (v1 CFQ/BFQ).
    #[serde(
        rename = "ioServiceTimeRecursive",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub io_service_time_recursive: Vec<BlkioEntry>,
    /// Wait time, ns (v1 CFQ/BFQ).
    #[serde(rename = "ioWaitTimeRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_wait_time_recursive: Vec<BlkioEntry>,
    /// Merged requests (v1 CFQ/BFQ).
    #[serde(rename = "ioMergedRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_merged_recursive: Vec<BlkioEntry>,
    /// Disk time, ms (v1 CFQ/BFQ).
    #[serde(rename = "ioTimeRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_time_recursive: Vec<BlkioEntry>,
    /// Sectors (v1 CFQ/BFQ).
    #[serde(rename = "sectorsRecursive", skip_serializing_if = "Vec::is_empty")]
    pub sectors_recursive: Vec<BlkioEntry>,
}

/// Huge pages of one size, in bytes.
#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct HugetlbStats {
    /// Current usage (v1 `hugetlb.SIZE.usage_in_bytes`; v2 `hugetlb.SIZE.current`).
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// Peak usage (v1 `hugetlb.SIZE.max_usage_in_bytes`; v2 has no such file). Not the limit
    /// (`hugetlb.SIZE.max` on v2), which runc does not report either.
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    /// Allocations that failed at the limit (v1 `hugetlb.SIZE.failcnt`; v2 the `max` count of
    /// `hugetlb.SIZE.events`).
    pub failcnt: u64,
}

/// runc's `intel_rdt` object; husk has no Intel RDT support, so it is always `{}`.
#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct IntelRdtStats {}

/// runc's `network_interfaces`, always `null` (see [`Stats::network_interfaces`]).
#[derive(Serialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetworkInterfaces;

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl Cgroup {
    /// Read the container's usage from every controller the host has, each from the
    /// hierarchy it is bound to: v1 where a v1 hierarchy has it, else cgroup2 (see the module
    /// doc for what is read and what is left at zero).
    ///
    /// # Errors
    /// A cgroup file that exists but cannot be read or does not parse (named).
    pub fn stats(&self) -> Result<Stats, CgroupError> {
        self.check_paths()?;
        let mut stats = Stats::default();
        let v1 = |controller: &str| {
            self.dir(CgroupVersion::V1, Some(controller))
                .map(|d| d.path())
        };
        let unified = self.dir(CgroupVersion::V2, None).map(|d| d.path());

        let (cpu, cpuacct) = (v1("cpu"), v1("cpuacct"));
        if cpu.is_some() || cpuacct.is_some() {
            v1::cpu(cpu, cpuacct, clock_ticks(), &mut stats.cpu)?;
        } else if let Some(dir) = unified {
            v2::cpu(dir, &mut stats.cpu)?;
        }
        if let Some(dir) = v1("cpuset") {
            v1::cpuset(dir, &mut stats.cpuset)?;
        }
        if let Some(dir) = v1("memory") {
            v1::memory(dir, &mut stats.memory)?;
        } else if let Some(dir) = unified {
            v2::memory(dir, &mut stats.memory)?;
        }
        if let Some(dir) = v1("pids") {
            v1::pids(dir, &mut stats.pids)?;
        } else if let Some(dir) = unified {
            v2::pids(dir, &mut stats.pids)?;
        }
        if let Some(dir) = v1("blkio") {
            v1::blkio(dir, &mut stats.blkio)?;
        } else if let Some(dir) = unified {
            v2::io(dir, &mut stats.blkio)?;
        }
        if let Some(dir) = v1("hugetlb") {
            v1::hugetlb(dir, &mut stats.hugetlb)?;
        } else if let Some(dir) = unified {
            v2::hugetlb(dir, &mut stats.hugetlb)?;
        }
        Ok(stats)
    }
}

/// USER_HZ, the unit of v1 cpuacct.stat (sysconf(3) `_SC_CLK_TCK`; 100 where it cannot be
/// asked, its value on every Linux architecture).
fn clock_ticks() -> u64 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
        Ok(Some(ticks)) if ticks > 0 => ticks.unsigned_abs(),
        _ => 100,
    }
}

/// The content of `dir/name`, or None when the file does not exist.
fn read_opt(dir: &Path, name: &str) -> Result<Option<String>, CgroupError> {
    let path = dir.join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CgroupError::Read { path, source }),
    }
}

/// `dir/name` holding one number (`max` read as 2^64-1); None when the file does not exist.
fn read_u64_opt(dir: &Path, name: &str) -> Result<Option<u64>, CgroupError> {
    read_opt(dir, name)?
        .map(|text| parse_u64(&dir.join(name), &text))
        .transpose()
}

/// `dir/name` as flat keyed lines; None when the file does not exist.
fn read_keyed_opt(dir: &Path, name: &str) -> Result<Option<BTreeMap<String, u64>>, CgroupError> {
    read_opt(dir, name)?
        .map(|text| parse_keyed(&dir.join(name), &text))
        .transpose()
}

/// One unsigned number; `max` (cgroup v2's "no limit") is 2^64-1, as runc reads it.
fn parse_u64(path: &Path, text: &str) -> Result<u64, CgroupError> {
    let value = text.trim();
    if value == "max" {
        return Ok(u64::MAX);
    }
    value.parse().map_err(|_| CgroupError::Parse {
        path: path.to_owned(),
        content: value.to_owned(),
    })
}

/// Flat keyed lines, `KEY VALUE` (cgroup-v2.rst "Interface Files" format; v1 memory.stat,
/// cpu.stat and cpuacct.stat have the same shape).
fn parse_keyed(path: &Path, text: &str) -> Result<BTreeMap<String, u64>, CgroupError> {
    let mut map = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let bad = || CgroupError::Parse {
            path: path.to_owned(),
            content: line.to_owned(),
        };
        let mut fields = line.split_whitespace();
        let (Some(key), Some(value), None) = (fields.next(), fields.next(), fields.next()) else {
            return Err(bad());
        };
        map.insert(key.to_owned(), value.parse().map_err(|_| bad())?);
    }
    Ok(map)
}

/// The page sizes of the hugetlb files in `dir` whose names are `hugetlb.SIZE.SUFFIX`
/// (`2MB` from `hugetlb.2MB.current`); the `rsvd` files of the same size are not sizes.
fn hugetlb_sizes(dir: &Path, suffix: &str) -> Result<Vec<String>, CgroupError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(CgroupError::Read {
                path: dir.to_owned(),
                source,
            })
        }
    };
    let mut sizes: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let size = name.strip_prefix("hugetlb.")?.strip_suffix(suffix)?;
            (!size.is_empty() && !size.contains('.')).then(|| size.to_owned())
        })
        .collect();
    sizes.sort();
    Ok(sizes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::tests::{HYBRID_CGROUP, HYBRID_MOUNTINFO, UNIFIED_MOUNTINFO};
    use crate::layout::Layout;

    #[test]
    fn keyed_and_numbers() {
        let p = Path::new("/x/memory.events");
        let map = parse_keyed(p, "low 0\nhigh 3\n\nmax 12\noom 1\noom_kill 1\n").unwrap();
        assert_eq!(map["max"], 12);
        assert_eq!(map["oom_kill"], 1);
        let err = parse_keyed(p, "low 0\nhigh three\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "/x/memory.events: unexpected content \"high three\""
        );
        assert!(parse_keyed(p, "a 1 2\n").is_err());
        assert_eq!(parse_u64(p, "max\n").unwrap(), u64::MAX);
        assert_eq!(parse_u64(p, " 42\n").unwrap(), 42);
        assert!(parse_u64(p, "-1").is_err());
    }

    #[test]
    fn serialises_to_runcs_shape_with_zeros_omitted() {
        let stats = Stats::default();
        let v = serde_json::to_value(&stats).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "cpu": {"usage": {"kernel": 0, "user": 0}, "throttling": {}},
                "cpuset": {"cpu_exclusive": 0, "mem_hardwall": 0, "mem_exclusive": 0,
                    "memory_migrate": 0, "memory_spread_page": 0, "memory_spread_slab": 0,
                    "memory_pressure": 0, "sched_load_balance": 0, "sched_relax_domain_level": 0},
                "memory": {"usage": {"limit": 0, "failcnt": 0}, "swap": {"limit": 0, "failcnt": 0},
                    "kernel": {"limit": 0, "failcnt": 0}, "kernelTCP": {"limit": 0, "failcnt": 0}},
                "pids": {},
                "blkio": {},
                "hugetlb": {},
                "intel_rdt": {},
                "network_interfaces": null
            })
        );
        // Key order is runc's (Go encodes struct fields in declaration order).
        let text = serde_json::to_string(&stats).unwrap();
        let keys = [
            "\"cpu\"",
            "\"cpuset\"",
            "\"memory\"",
            "\"pids\"",
            "\"blkio\"",
            "\"hugetlb\"",
            "\"intel_rdt\"",
            "\"network_interfaces\"",
        ];
        let positions: Vec<usize> = keys.iter().map(|k| text.find(k).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
    }

    /// A hybrid host's cgroup for c1 in a temp dir, with v1 fixture files as this project's
    /// development host (Linux 6.18) shows them for a busybox `sh` with two `sleep`s.
    #[test]
    fn hybrid_host_reads_v1_controllers_and_hugetlb_from_cgroup2() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::from_parts_at(HYBRID_MOUNTINFO, HYBRID_CGROUP, tmp.path()).unwrap();
        for h in layout.hierarchies() {
            std::fs::create_dir_all(&h.mount_point).unwrap();
        }
        let memory_root = layout.v1_hierarchy("memory").unwrap().mount_point.clone();
        std::fs::create_dir_all(memory_root.join("process_api/c2a49703b5cc3feb4a47476fec3ba167"))
            .unwrap();
        let cg = Cgroup::create(&layout, Some("/c1"), "c1").unwrap();
        let dir = |c: &str| {
            cg.dir(CgroupVersion::V1, Some(c))
                .unwrap()
                .path()
                .to_owned()
        };
        let put = |d: &Path, files: &[(&str, &str)]| {
            for (name, content) in files {
                std::fs::write(d.join(name), content).unwrap();
            }
        };
        put(
            &dir("cpu"),
            &[(
                "cpu.stat",
                "nr_periods 4\nnr_throttled 1\nthrottled_time 5000\n",
            )],
        );
        put(
            &dir("cpuacct"),
            &[
                ("cpuacct.usage", "18593576\n"),
                ("cpuacct.usage_percpu", "3651946 14941630 \n"),
                ("cpuacct.stat", "user 0\nsystem 1\n"),
                (
                    "cpuacct.usage_all",
                    "cpu user system\n0 0 4000000\n1 0 16000000\n",
                ),
            ],
        );
        put(
            &dir("cpuset"),
            &[
                ("cpuset.cpus", "0-1\n"),
                ("cpuset.mems", "0\n"),
                ("cpuset.cpu_exclusive", "0\n"),
                ("cpuset.sched_load_balance", "1\n"),
                ("cpuset.sched_relax_domain_level", "-1\n"),
            ],
        );
        put(
            &dir("memory"),
            &[
                ("memory.stat", "cache 0\nrss 167936\ntotal_rss 167936\n"),
                ("memory.usage_in_bytes", "643072\n"),
                ("memory.max_usage_in_bytes", "2781184\n"),
                ("memory.failcnt", "0\n"),
                ("memory.limit_in_bytes", "9223372036854771712\n"),
                ("memory.kmem.usage_in_bytes", "413696\n"),
                ("memory.kmem.max_usage_in_bytes", "761856\n"),
                ("memory.kmem.failcnt", "0\n"),
                ("memory.kmem.limit_in_bytes", "9223372036854771712\n"),
            ],
        );
        put(
            &dir("pids"),
            &[("pids.current", "3\n"), ("pids.max", "max\n")],
        );
        put(
            &dir("blkio"),
            &[
                (
                    "blkio.throttle.io_service_bytes_recursive",
                    "8:0 Read 4096\n8:0 Write 0\n8:0 Total 4096\nTotal 4096\n",
                ),
                (
                    "blkio.throttle.io_serviced_recursive",
                    "8:0 Read 1\n8:0 Write 0\n8:0 Total 1\nTotal 1\n",
                ),
            ],
        );
        let unified = cg.unified_dir().unwrap().to_owned();
        put(
            &unified,
            &[
                ("hugetlb.2MB.current", "2097152\n"),
                ("hugetlb.2MB.max", "max\n"),
                ("hugetlb.2MB.events", "max 2\n"),
                ("hugetlb.2MB.rsvd.current", "0\n"),
                // cgroup2's own cpu.stat must not be read: cpu is a v1 controller here.
                ("cpu.stat", "usage_usec 1\nuser_usec 1\nsystem_usec 0\n"),
            ],
        );

        let stats = cg.stats().unwrap();
        let v = serde_json::to_value(&stats).unwrap();
        assert_eq!(
            v["cpu"],
            serde_json::json!({
                "usage": {"total": 18593576, "percpu": [3651946, 14941630],
                    "percpu_kernel": [4000000, 16000000], "percpu_user": [0, 0],
                    "kernel": 1_000_000_000 / clock_ticks(), "user": 0},
                "throttling": {"periods": 4, "throttledPeriods": 1, "throttledTime": 5000}
            })
        );
        assert_eq!(v["cpuset"]["cpus"], serde_json::json!([0, 1]));
        assert_eq!(v["cpuset"]["mems"], serde_json::json!([0]));
        assert_eq!(v["cpuset"]["sched_load_balance"], 1);
        assert_eq!(v["cpuset"]["sched_relax_domain_level"], -1);
        assert_eq!(
            v["memory"],
            serde_json::json!({
                "usage": {"limit": 9223372036854771712u64, "usage": 643072, "max": 2781184, "failcnt": 0},
                // No memsw files (no swap accounting): zeros, as runc.
                "swap": {"limit": 0, "failcnt": 0},
                "kernel": {"limit": 9223372036854771712u64, "usage": 413696, "max": 761856, "failcnt": 0},
                "kernelTCP": {"limit": 0, "failcnt": 0},
                "raw": {"cache": 0, "rss": 167936, "total_rss": 167936}
            })
        );
        assert_eq!(v["pids"], serde_json::json!({"current": 3}));
        assert_eq!(
            v["blkio"],
            serde_json::json!({
                "ioServiceBytesRecursive": [
                    {"major": 8, "op": "Read", "value": 4096},
                    {"major": 8, "op": "Write"},
                    {"major": 8, "op": "Total", "value": 4096}],
                "ioServicedRecursive": [
                    {"major": 8, "op": "Read", "value": 1},
                    {"major": 8, "op": "Write"},
                    {"major": 8, "op": "Total", "value": 1}]
            })
        );
        assert_eq!(
            v["hugetlb"],
            serde_json::json!({"2MB": {"usage": 2097152, "failcnt": 2}})
        );
    }

    #[test]
    fn unified_host_reads_everything_from_cgroup2() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::from_parts_at(UNIFIED_MOUNTINFO, "0::/\n", tmp.path()).unwrap();
        std::fs::create_dir_all(&layout.hierarchies()[0].mount_point).unwrap();
        let cg = Cgroup::create(&layout, None, "c1").unwrap();
        let dir = cg.unified_dir().unwrap().to_owned();
        for (name, content) in [
            (
                "cpu.stat",
                "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 10\nnr_throttled 2\nthrottled_usec 7\n",
            ),
            ("memory.current", "4096000\n"),
            ("memory.max", "268435456\n"),
            ("memory.peak", "5000000\n"),
            (
                "memory.events",
                "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n",
            ),
            ("memory.stat", "anon 100\nfile 8192\n"),
            ("memory.swap.current", "0\n"),
            ("memory.swap.max", "max\n"),
            ("pids.current", "2\n"),
            ("pids.max", "100\n"),
            (
                "io.stat",
                "8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0\n",
            ),
        ] {
            std::fs::write(dir.join(name), content).unwrap();
        }
        let v = serde_json::to_value(cg.stats().unwrap()).unwrap();
        assert_eq!(
            v["cpu"],
            serde_json::json!({
                "usage": {"total": 1_500_000, "kernel": 500_000, "user": 1_000_000},
                "throttling": {"periods": 10, "throttledPeriods": 2, "throttledTime": 7000}
            })
        );
        assert_eq!(
            v["memory"],
            serde_json::json!({
                "cache": 8192,
                "usage": {"limit": 268435456, "usage": 4096000, "max": 5000000, "failcnt": 3},
                "swap": {"limit": u64::MAX, "usage": 4096000, "failcnt": 0},
                "kernel": {"limit": 0, "failcnt": 0},
                "kernelTCP": {"limit": 0, "failcnt": 0},
                "raw": {"anon": 100, "file": 8192}
            })
        );
        assert_eq!(v["pids"], serde_json::json!({"current": 2, "limit": 100}));
        assert_eq!(
            v["blkio"],
            serde_json::json!({
                "ioServiceBytesRecursive": [
                    {"major": 8, "minor": 16, "op": "Read", "value": 1459200},
                    {"major": 8, "minor": 16, "op": "Write", "value": 314773504}],
                "ioServicedRecursive": [
                    {"major": 8, "minor": 16, "op": "Read", "value": 192},
                    {"major": 8, "minor": 16, "op": "Write", "value": 353}]
            })
        );
        // cpuset is not read on v2 (runc 1.1 neither): the v1 zero values.
        assert!(v["cpuset"].get("cpus").is_none());

        // Without the pids controller (not in the parent's subtree_control) the processes of
        // cgroup.procs are counted; a memory controller that is not enabled gives zeros.
        for f in ["pids.current", "pids.max", "memory.current", "memory.stat"] {
            std::fs::remove_file(dir.join(f)).unwrap();
        }
        std::fs::write(dir.join("cgroup.procs"), "10\n11\n12\n").unwrap();
        let v = serde_json::to_value(cg.stats().unwrap()).unwrap();
        assert_eq!(v["pids"], serde_json::json!({"current": 3}));
        assert_eq!(
            v["memory"]["usage"],
            serde_json::json!({"limit": 0, "failcnt": 0})
        );
    }
}
