//! Usage from a cgroup2 directory (kernel Documentation/admin-guide/cgroup-v2.rst: "CPU",
//! "Memory", "IO", "PID", "HugeTLB"), mapped onto runc's v1-shaped [`super::Stats`] as runc
//! maps it.

use std::collections::BTreeMap;
use std::path::Path;

use super::{
    hugetlb_sizes, parse_keyed, read_keyed_opt, read_opt, read_u64_opt, BlkioEntry, BlkioStats,
    CpuStats, HugetlbStats, MemoryStats, PidsStats,
};
use crate::cgroup::collect_pids;
use crate::error::CgroupError;

/// cpu.stat: usage_usec, user_usec, system_usec (always there) and nr_periods, nr_throttled,
/// throttled_usec (with the cpu controller), microseconds turned into nanoseconds.
pub(super) fn cpu(dir: &Path, out: &mut CpuStats) -> Result<(), CgroupError> {
    let Some(stat) = read_keyed_opt(dir, "cpu.stat")? else {
        return Ok(());
    };
    let get = |key: &str| stat.get(key).copied().unwrap_or(0);
    out.usage.total = get("usage_usec").saturating_mul(1000);
    out.usage.user = get("user_usec").saturating_mul(1000);
    out.usage.kernel = get("system_usec").saturating_mul(1000);
    out.throttling.periods = get("nr_periods");
    out.throttling.throttled_periods = get("nr_throttled");
    out.throttling.throttled_time = get("throttled_usec").saturating_mul(1000);
    Ok(())
}

/// memory.current/max/peak/events/stat and memory.swap.current/max. Nothing is read when
/// memory.current is missing (the memory controller is not enabled for the cgroup).
pub(super) fn memory(dir: &Path, out: &mut MemoryStats) -> Result<(), CgroupError> {
    let Some(usage) = read_u64_opt(dir, "memory.current")? else {
        return Ok(());
    };
    if let Some(raw) = read_keyed_opt(dir, "memory.stat")? {
        out.cache = raw.get("file").copied().unwrap_or(0);
        out.raw = raw;
    }
    out.usage.usage = usage;
    out.usage.limit = read_u64_opt(dir, "memory.max")?.unwrap_or(u64::MAX);
    // memory.peak: Linux 5.19.
    out.usage.max = read_u64_opt(dir, "memory.peak")?.unwrap_or(0);
    // The v1 failcnt counts the times usage hit the limit: memory.events `max`.
    out.usage.failcnt = read_keyed_opt(dir, "memory.events")?
        .and_then(|e| e.get("max").copied())
        .unwrap_or(0);
    // v1 reports memory+swap; v2's swap files count swap alone (and exist only with swap
    // accounting). runc adds memory to them for v1's meaning; so does husk.
    if let Some(swap) = read_u64_opt(dir, "memory.swap.current")? {
        let swap_limit = read_u64_opt(dir, "memory.swap.max")?.unwrap_or(u64::MAX);
        out.swap.usage = swap.saturating_add(usage);
        out.swap.limit = if swap_limit == u64::MAX {
            u64::MAX
        } else {
            swap_limit.saturating_add(out.usage.limit)
        };
    }
    Ok(())
}

/// pids.current and pids.max (`max` is reported as 0, runc's "no limit"). Without the pids
/// controller, the processes in cgroup.procs of the cgroup and its children are counted.
pub(super) fn pids(dir: &Path, out: &mut PidsStats) -> Result<(), CgroupError> {
    match read_u64_opt(dir, "pids.current")? {
        Some(current) => out.current = current,
        None => {
            let mut pids = Vec::new();
            collect_pids(dir, &mut pids)?;
            out.current = u64::try_from(pids.len()).unwrap_or(u64::MAX);
        }
    }
    out.limit = match read_u64_opt(dir, "pids.max")? {
        Some(u64::MAX) | None => 0,
        Some(limit) => limit,
    };
    Ok(())
}

/// io.stat, mapped as runc maps it onto v1's tables: rbytes/wbytes into
/// ioServiceBytesRecursive, rios/wios into ioServicedRecursive, as `Read`/`Write`.
pub(super) fn io(dir: &Path, out: &mut BlkioStats) -> Result<(), CgroupError> {
    if let Some(text) = read_opt(dir, "io.stat")? {
        *out = parse_io_stat(&dir.join("io.stat"), &text)?;
    }
    Ok(())
}

/// io.stat lines: `MAJ:MIN KEY=VALUE...`; keys other than rbytes, wbytes, rios and wios
/// (dbytes, dios, and the cost.* ones of io.cost) have no v1 table and are skipped.
fn parse_io_stat(path: &Path, text: &str) -> Result<BlkioStats, CgroupError> {
    let mut out = BlkioStats::default();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let bad = || CgroupError::Parse {
            path: path.to_owned(),
            content: line.to_owned(),
        };
        let mut fields = line.split_whitespace();
        let device = fields.next().ok_or_else(bad)?;
        let (major, minor) = device.split_once(':').ok_or_else(bad)?;
        let (major, minor): (u64, u64) = (
            major.parse().map_err(|_| bad())?,
            minor.parse().map_err(|_| bad())?,
        );
        for field in fields {
            let (key, value) = field.split_once('=').ok_or_else(bad)?;
            let (table, op) = match key {
                "rbytes" => (&mut out.io_service_bytes_recursive, "Read"),
                "wbytes" => (&mut out.io_service_bytes_recursive, "Write"),
                "rios" => (&mut out.io_serviced_recursive, "Read"),
                "wios" => (&mut out.io_serviced_recursive, "Write"),
                _ => continue,
            };
            table.push(BlkioEntry {
                major,
                minor,
                op: op.to_owned(),
                value: value.parse().map_err(|_| bad())?,
            });
        }
    }
    Ok(out)
}

/// hugetlb.SIZE.current and the `max` count of hugetlb.SIZE.events for every page size.
pub(super) fn hugetlb(
    dir: &Path,
    out: &mut BTreeMap<String, HugetlbStats>,
) -> Result<(), CgroupError> {
    for size in hugetlb_sizes(dir, ".current")? {
        let usage = read_u64_opt(dir, &format!("hugetlb.{size}.current"))?.unwrap_or(0);
        let failcnt = read_keyed_opt(dir, &format!("hugetlb.{size}.events"))?
            .and_then(|e| e.get("max").copied())
            .unwrap_or(0);
        out.insert(
            size,
            HugetlbStats {
                usage,
                max: 0,
                failcnt,
            },
        );
    }
    Ok(())
}

/// memory.events' `oom_kill` count; None when the key is absent.
pub(crate) fn oom_kills(text: &str, path: &Path) -> Result<Option<u64>, CgroupError> {
    Ok(parse_keyed(path, text)?.get("oom_kill").copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_stat_maps_onto_v1_tables() {
        let p = Path::new("io.stat");
        let s = parse_io_stat(
            p,
            "8:0 rbytes=90112 wbytes=0 rios=4 wios=0 dbytes=0 dios=0\n\
             253:0 rbytes=1 wbytes=2 rios=3 wios=4 cost.vrate=100.00\n",
        )
        .unwrap();
        assert_eq!(s.io_service_bytes_recursive.len(), 4);
        assert_eq!(s.io_serviced_recursive[3].value, 4);
        assert_eq!(s.io_serviced_recursive[3].major, 253);
        assert_eq!(s.io_serviced_recursive[3].op, "Write");
        assert!(s.sectors_recursive.is_empty());
        assert!(parse_io_stat(p, "8:0 rbytes\n").is_err());
        assert!(parse_io_stat(p, "sda rbytes=1\n").is_err());
        assert_eq!(parse_io_stat(p, "").unwrap(), BlkioStats::default());
    }

    #[test]
    fn hugetlb_sizes_skip_rsvd_files() {
        let tmp = tempfile::tempdir().unwrap();
        for (name, content) in [
            ("hugetlb.2MB.current", "0\n"),
            ("hugetlb.2MB.events", "max 0\n"),
            ("hugetlb.2MB.rsvd.current", "0\n"),
            ("hugetlb.1GB.current", "1073741824\n"),
            ("hugetlb.1GB.events", "max 1\n"),
        ] {
            std::fs::write(tmp.path().join(name), content).unwrap();
        }
        let mut out = BTreeMap::new();
        hugetlb(tmp.path(), &mut out).unwrap();
        assert_eq!(out.keys().collect::<Vec<_>>(), ["1GB", "2MB"]);
        assert_eq!(out["1GB"].usage, 1073741824);
        assert_eq!(out["1GB"].failcnt, 1);
    }
}
