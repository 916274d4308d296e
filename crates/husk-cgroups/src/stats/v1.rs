//! Usage from cgroup v1 controllers (kernel Documentation/admin-guide/cgroup-v1/: cpuacct.rst,
//! cpusets.rst, memory.rst, pids.rst, blkio-controller.rst, hugetlb.rst; cpu.stat is
//! scheduler/sched-bwc.rst).

use std::collections::BTreeMap;
use std::path::Path;

use super::{
    hugetlb_sizes, parse_keyed, read_keyed_opt, read_opt, read_u64_opt, BlkioEntry, BlkioStats,
    CpuStats, CpusetStats, HugetlbStats, MemoryEntry, MemoryStats, PidsStats,
};
use crate::error::CgroupError;

/// cpu.stat of the cpu hierarchy and the cpuacct files of the cpuacct one (the same directory
/// where they are co-mounted). `clock_ticks` is USER_HZ, the unit of cpuacct.stat.
pub(super) fn cpu(
    cpu_dir: Option<&Path>,
    cpuacct_dir: Option<&Path>,
    clock_ticks: u64,
    out: &mut CpuStats,
) -> Result<(), CgroupError> {
    if let Some(stat) = cpu_dir
        .map(|d| read_keyed_opt(d, "cpu.stat"))
        .transpose()?
        .flatten()
    {
        out.throttling.periods = stat.get("nr_periods").copied().unwrap_or(0);
        out.throttling.throttled_periods = stat.get("nr_throttled").copied().unwrap_or(0);
        out.throttling.throttled_time = stat.get("throttled_time").copied().unwrap_or(0);
    }
    let Some(dir) = cpuacct_dir else {
        return Ok(());
    };
    out.usage.total = read_u64_opt(dir, "cpuacct.usage")?.unwrap_or(0);
    if let Some(text) = read_opt(dir, "cpuacct.usage_percpu")? {
        out.usage.percpu = parse_numbers(&dir.join("cpuacct.usage_percpu"), &text)?;
    }
    if let Some(stat) = read_keyed_opt(dir, "cpuacct.stat")? {
        let ns = |ticks: u64| ticks.saturating_mul(1_000_000_000) / clock_ticks.max(1);
        out.usage.user = ns(stat.get("user").copied().unwrap_or(0));
        out.usage.kernel = ns(stat.get("system").copied().unwrap_or(0));
    }
    if let Some(text) = read_opt(dir, "cpuacct.usage_all")? {
        let (user, kernel) = parse_usage_all(&dir.join("cpuacct.usage_all"), &text)?;
        out.usage.percpu_user = user;
        out.usage.percpu_kernel = kernel;
    }
    Ok(())
}

/// Whitespace-separated numbers (cpuacct.usage_percpu).
fn parse_numbers(path: &Path, text: &str) -> Result<Vec<u64>, CgroupError> {
    text.split_whitespace()
        .map(|n| {
            n.parse().map_err(|_| CgroupError::Parse {
                path: path.to_owned(),
                content: n.to_owned(),
            })
        })
        .collect()
}

/// cpuacct.usage_all: a `cpu user system` header, then one `CPU USER_NS SYSTEM_NS` line per
/// CPU. Returns (user, system) per CPU.
fn parse_usage_all(path: &Path, text: &str) -> Result<(Vec<u64>, Vec<u64>), CgroupError> {
    let (mut user, mut system) = (Vec::new(), Vec::new());
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let fields = parse_numbers(path, line)?;
        let [_, u, s] = fields[..] else {
            return Err(CgroupError::Parse {
                path: path.to_owned(),
                content: line.to_owned(),
            });
        };
        user.push(u);
        system.push(s);
    }
    Ok((user, system))
}

/// The cpuset files.
pub(super) fn cpuset(dir: &Path, out: &mut CpusetStats) -> Result<(), CgroupError> {
    if let Some(text) = read_opt(dir, "cpuset.cpus")? {
        out.cpus = parse_cpu_list(&dir.join("cpuset.cpus"), &text)?;
    }
    if let Some(text) = read_opt(dir, "cpuset.mems")? {
        out.mems = parse_cpu_list(&dir.join("cpuset.mems"), &text)?;
    }
    let flag = |name: &str| read_u64_opt(dir, name).map(Option::unwrap_or_default);
    out.cpu_exclusive = flag("cpuset.cpu_exclusive")?;
    out.mem_hardwall = flag("cpuset.mem_hardwall")?;
    out.mem_exclusive = flag("cpuset.mem_exclusive")?;
    out.memory_migrate = flag("cpuset.memory_migrate")?;
    out.memory_spread_page = flag("cpuset.memory_spread_page")?;
    out.memory_spread_slab = flag("cpuset.memory_spread_slab")?;
    out.memory_pressure = flag("cpuset.memory_pressure")?;
    out.sched_load_balance = flag("cpuset.sched_load_balance")?;
    if let Some(text) = read_opt(dir, "cpuset.sched_relax_domain_level")? {
        out.sched_relax_domain_level = text.trim().parse().map_err(|_| CgroupError::Parse {
            path: dir.join("cpuset.sched_relax_domain_level"),
            content: text.trim().to_owned(),
        })?;
    }
    Ok(())
}

/// A cpuset list (`0-3,8,10-11`, cpuset(7) "List format"), expanded.
fn parse_cpu_list(path: &Path, text: &str) -> Result<Vec<u16>, CgroupError> {
    let bad = |part: &str| CgroupError::Parse {
        path: path.to_owned(),
        content: part.to_owned(),
    };
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (
                a.parse::<u16>().map_err(|_| bad(part))?,
                b.parse::<u16>().map_err(|_| bad(part))?,
            ),
            None => {
                let n = part.parse::<u16>().map_err(|_| bad(part))?;
                (n, n)
            }
        };
        if first > last {
            return Err(bad(part));
        }
        out.extend(first..=last);
    }
    Ok(out)
}

/// memory.stat and the four counter sets runc reports: memory.*, memory.memsw.* (memory plus
/// swap; only with swap accounting), memory.kmem.* and memory.kmem.tcp.*. A set whose files
/// do not exist stays at zero.
pub(super) fn memory(dir: &Path, out: &mut MemoryStats) -> Result<(), CgroupError> {
    if let Some(raw) = read_keyed_opt(dir, "memory.stat")? {
        out.cache = raw.get("cache").copied().unwrap_or(0);
        out.raw = raw;
    }
    out.usage = memory_entry(dir, "memory")?;
    out.swap = memory_entry(dir, "memory.memsw")?;
    out.kernel = memory_entry(dir, "memory.kmem")?;
    out.kernel_tcp = memory_entry(dir, "memory.kmem.tcp")?;
    Ok(())
}

fn memory_entry(dir: &Path, prefix: &str) -> Result<MemoryEntry, CgroupError> {
    let read =
        |name: &str| read_u64_opt(dir, &format!("{prefix}.{name}")).map(Option::unwrap_or_default);
    Ok(MemoryEntry {
        limit: read("limit_in_bytes")?,
        usage: read("usage_in_bytes")?,
        max: read("max_usage_in_bytes")?,
        failcnt: read("failcnt")?,
    })
}

/// pids.current and pids.max (`max` is reported as 0, runc's "no limit").
pub(super) fn pids(dir: &Path, out: &mut PidsStats) -> Result<(), CgroupError> {
    out.current = read_u64_opt(dir, "pids.current")?.unwrap_or(0);
    out.limit = match read_u64_opt(dir, "pids.max")? {
        Some(u64::MAX) | None => 0,
        Some(limit) => limit,
    };
    Ok(())
}

/// Which blkio file fills which table.
type BlkioTable = fn(&mut BlkioStats) -> &mut Vec<BlkioEntry>;

/// The blkio tables in runc's order of preference: the BFQ debug files, the BFQ ones, the CFQ
/// ones, the throttle `_recursive` ones, the plain throttle ones. The first group whose first
/// file exists and has entries is used; a later file of that group missing is an error.
const BLKIO_GROUPS: &[&[(&str, BlkioTable)]] = &[
    &[
        ("blkio.bfq.sectors_recursive", |s| &mut s.sectors_recursive),
        ("blkio.bfq.io_service_time_recursive", |s| {
            &mut s.io_service_time_recursive
        }),
        ("blkio.bfq.io_wait_time_recursive", |s| {
            &mut s.io_wait_time_recursive
        }),
        ("blkio.bfq.io_merged_recursive", |s| {
            &mut s.io_merged_recursive
        }),
        ("blkio.bfq.io_queued_recursive", |s| {
            &mut s.io_queued_recursive
        }),
        ("blkio.bfq.time_recursive", |s| &mut s.io_time_recursive),
        ("blkio.bfq.io_serviced_recursive", |s| {
            &mut s.io_serviced_recursive
        }),
        ("blkio.bfq.io_service_bytes_recursive", |s| {
            &mut s.io_service_bytes_recursive
        }),
    ],
    &[
        ("blkio.bfq.io_serviced_recursive", |s| {
            &mut s.io_serviced_recursive
        }),
        ("blkio.bfq.io_service_bytes_recursive", |s| {
            &mut s.io_service_bytes_recursive
        }),
    ],
    &[
        ("blkio.sectors_recursive", |s| &mut s.sectors_recursive),
        ("blkio.io_service_time_recursive", |s| {
            &mut s.io_service_time_recursive
        }),
        ("blkio.io_wait_time_recursive", |s| {
            &mut s.io_wait_time_recursive
        }),
        ("blkio.io_merged_recursive", |s| &mut s.io_merged_recursive),
        ("blkio.io_queued_recursive", |s| &mut s.io_queued_recursive),
        ("blkio.time_recursive", |s| &mut s.io_time_recursive),
        ("blkio.io_serviced_recursive", |s| {
            &mut s.io_serviced_recursive
        }),
        ("blkio.io_service_bytes_recursive", |s| {
            &mut s.io_service_bytes_recursive
        }),
    ],
    &[
        ("blkio.throttle.io_serviced_recursive", |s| {
            &mut s.io_serviced_recursive
        }),
        ("blkio.throttle.io_service_bytes_recursive", |s| {
            &mut s.io_service_bytes_recursive
        }),
    ],
    &[
        ("blkio.throttle.io_serviced", |s| {
            &mut s.io_serviced_recursive
        }),
        ("blkio.throttle.io_service_bytes", |s| {
            &mut s.io_service_bytes_recursive
        }),
    ],
];

/// The blkio tables (see [`BLKIO_GROUPS`]).
pub(super) fn blkio(dir: &Path, out: &mut BlkioStats) -> Result<(), CgroupError> {
    'groups: for group in BLKIO_GROUPS {
        let mut found = BlkioStats::default();
        for (index, (name, table)) in group.iter().enumerate() {
            let entries = match read_opt(dir, name)? {
                Some(text) => parse_blkio(&dir.join(name), &text)?,
                None if index == 0 => continue 'groups,
                None => {
                    return Err(CgroupError::Read {
                        path: dir.join(name),
                        source: std::io::ErrorKind::NotFound.into(),
                    })
                }
            };
            if index == 0 && entries.is_empty() {
                continue 'groups;
            }
            *table(&mut found) = entries;
        }
        *out = found;
        return Ok(());
    }
    Ok(())
}

/// A v1 blkio table: `MAJ:MIN OP VALUE` or `MAJ:MIN VALUE` lines; the closing `Total N` line
/// (the sum over devices) is skipped.
fn parse_blkio(path: &Path, text: &str) -> Result<Vec<BlkioEntry>, CgroupError> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let bad = || CgroupError::Parse {
            path: path.to_owned(),
            content: line.to_owned(),
        };
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (device, op, value) = match fields[..] {
            ["Total", _] => continue,
            [device, value] => (device, "", value),
            [device, op, value] => (device, op, value),
            _ => return Err(bad()),
        };
        let (major, minor) = device.split_once(':').ok_or_else(bad)?;
        out.push(BlkioEntry {
            major: major.parse().map_err(|_| bad())?,
            minor: minor.parse().map_err(|_| bad())?,
            op: op.to_owned(),
            value: value.parse().map_err(|_| bad())?,
        });
    }
    Ok(out)
}

/// hugetlb.SIZE.usage_in_bytes, .max_usage_in_bytes and .failcnt for every page size.
pub(super) fn hugetlb(
    dir: &Path,
    out: &mut BTreeMap<String, HugetlbStats>,
) -> Result<(), CgroupError> {
    for size in hugetlb_sizes(dir, ".usage_in_bytes")? {
        let read = |name: &str| {
            read_u64_opt(dir, &format!("hugetlb.{size}.{name}")).map(Option::unwrap_or_default)
        };
        let stats = HugetlbStats {
            usage: read("usage_in_bytes")?,
            max: read("max_usage_in_bytes")?,
            failcnt: read("failcnt")?,
        };
        out.insert(size, stats);
    }
    Ok(())
}

/// memory.oom_control's `oom_kill` count (Linux 4.13); None when the file or key is absent.
pub(crate) fn oom_kills(text: &str, path: &Path) -> Result<Option<u64>, CgroupError> {
    Ok(parse_keyed(path, text)?.get("oom_kill").copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        let p = Path::new("cpuset.cpus");
        assert_eq!(parse_cpu_list(p, "0-1\n").unwrap(), vec![0, 1]);
        assert_eq!(
            parse_cpu_list(p, "0-2,5,7-8\n").unwrap(),
            vec![0, 1, 2, 5, 7, 8]
        );
        assert!(parse_cpu_list(p, "\n").unwrap().is_empty());
        assert!(parse_cpu_list(p, "3-1").is_err());
        assert!(parse_cpu_list(p, "a").is_err());
    }

    #[test]
    fn usage_all_and_percpu() {
        let p = Path::new("cpuacct.usage_all");
        let (user, system) =
            parse_usage_all(p, "cpu user system\n0 10 4000000\n1 20 16000000\n").unwrap();
        assert_eq!(user, vec![10, 20]);
        assert_eq!(system, vec![4000000, 16000000]);
        assert!(parse_usage_all(p, "cpu user system\n0 1\n").is_err());
        assert_eq!(
            parse_numbers(p, "3651946 14941630 \n").unwrap(),
            vec![3651946, 14941630]
        );
    }

    #[test]
    fn blkio_lines() {
        let p = Path::new("blkio.sectors_recursive");
        let entries = parse_blkio(p, "8:0 2048\n253:1 16\n").unwrap();
        assert_eq!(
            entries[1],
            BlkioEntry {
                major: 253,
                minor: 1,
                op: String::new(),
                value: 16
            }
        );
        assert!(parse_blkio(p, "Total 0\n").unwrap().is_empty());
        assert!(parse_blkio(p, "8-0 Read 1\n").is_err());
        assert!(parse_blkio(p, "8:0 Read 1 2\n").is_err());
    }

    #[test]
    fn blkio_takes_the_first_group_with_entries() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        // This host's blkio (no BFQ, no CFQ): only the throttle files, empty for a container
        // that did no I/O: every table stays empty, as runc reports it.
        std::fs::write(
            dir.join("blkio.throttle.io_serviced_recursive"),
            "Total 0\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("blkio.throttle.io_service_bytes_recursive"),
            "Total 0\n",
        )
        .unwrap();
        let mut out = BlkioStats::default();
        blkio(dir, &mut out).unwrap();
        assert_eq!(out, BlkioStats::default());
        // BFQ files with entries win over the throttle ones.
        std::fs::write(
            dir.join("blkio.bfq.io_serviced_recursive"),
            "8:0 Read 3\nTotal 3\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("blkio.bfq.io_service_bytes_recursive"),
            "8:0 Read 12288\n",
        )
        .unwrap();
        blkio(dir, &mut out).unwrap();
        assert_eq!(out.io_serviced_recursive[0].value, 3);
        assert_eq!(out.io_service_bytes_recursive[0].value, 12288);
        // A group whose first file exists but a later one does not is an error naming it.
        std::fs::remove_file(dir.join("blkio.bfq.io_service_bytes_recursive")).unwrap();
        let err = blkio(dir, &mut out).unwrap_err();
        assert!(
            err.to_string()
                .contains("blkio.bfq.io_service_bytes_recursive"),
            "{err}"
        );
    }

    #[test]
    fn oom_control() {
        let p = Path::new("memory.oom_control");
        assert_eq!(
            oom_kills("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n", p).unwrap(),
            Some(2)
        );
        assert_eq!(
            oom_kills("oom_kill_disable 0\nunder_oom 0\n", p).unwrap(),
            None
        );
    }
}
