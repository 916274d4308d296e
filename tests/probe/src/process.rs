//! The process's own attributes: credentials, capabilities, seccomp and prctl state, rlimits,
//! umask, cwd, uts names, environment, ids, scheduling, I/O priority and CPU affinity.

use std::collections::BTreeMap;
use std::fs;

use nix::sys::resource::{getrlimit, Resource};
use nix::unistd::{Gid, Pid, Uid};
use serde_json::{json, Map, Value};

use crate::{errno_value, error, io_error};

/// The `Name:` lines of /proc/self/status (`man 5 proc_pid_status`), or the error as a value.
fn status_lines() -> Result<BTreeMap<String, String>, Value> {
    let text = fs::read_to_string("/proc/self/status").map_err(|e| io_error(&e))?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect())
}

/// Credentials: real, effective, saved and filesystem uid and gid (getresuid(2), setfsuid(2)
/// with an invalid id, which changes nothing and returns the current one), supplementary groups.
pub fn ids() -> Value {
    let (res_uid, res_gid) = match (nix::unistd::getresuid(), nix::unistd::getresgid()) {
        (Ok(u), Ok(g)) => (u, g),
        (Err(e), _) | (_, Err(e)) => return errno_value(e),
    };
    let fsuid = nix::unistd::setfsuid(Uid::from_raw(u32::MAX));
    let fsgid = nix::unistd::setfsgid(Gid::from_raw(u32::MAX));
    let groups = match nix::unistd::getgroups() {
        Ok(g) => json!(g.iter().map(|g| g.as_raw()).collect::<Vec<_>>()),
        Err(e) => errno_value(e),
    };
    json!({
        "uid": {"real": res_uid.real.as_raw(), "effective": res_uid.effective.as_raw(),
                "saved": res_uid.saved.as_raw(), "fs": fsuid.as_raw()},
        "gid": {"real": res_gid.real.as_raw(), "effective": res_gid.effective.as_raw(),
                "saved": res_gid.saved.as_raw(), "fs": fsgid.as_raw()},
        "groups": groups,
    })
}

/// The five capability sets from /proc/self/status, as sorted names (`CAP_KILL`); a bit the
/// `caps` crate has no name for is `CAP_<bit>`.
pub fn caps() -> Value {
    let status = match status_lines() {
        Ok(s) => s,
        Err(e) => return e,
    };
    let names: BTreeMap<u8, String> = caps::all()
        .into_iter()
        .map(|c| (c.index(), c.to_string()))
        .collect();
    let mut out = Map::new();
    for (set, key) in [
        ("inheritable", "CapInh"),
        ("permitted", "CapPrm"),
        ("effective", "CapEff"),
        ("bounding", "CapBnd"),
        ("ambient", "CapAmb"),
    ] {
        let value = match status.get(key).map(|h| u64::from_str_radix(h, 16)) {
            Some(Ok(mask)) => json!((0u8..64)
                .filter(|bit| mask & (1 << bit) != 0)
                .map(|bit| names
                    .get(&bit)
                    .cloned()
                    .unwrap_or_else(|| format!("CAP_{bit}")))
                .collect::<Vec<_>>()),
            _ => error(format!("no readable {key} in /proc/self/status")),
        };
        out.insert(set.to_string(), value);
    }
    Value::Object(out)
}

/// Seccomp mode (0 off, 1 strict, 2 filter) and the number of filters, from /proc/self/status.
pub fn seccomp() -> Value {
    let status = match status_lines() {
        Ok(s) => s,
        Err(e) => return e,
    };
    let num = |key: &str| match status.get(key).map(|v| v.parse::<u64>()) {
        Some(Ok(n)) => json!(n),
        _ => error(format!("no {key} in /proc/self/status")),
    };
    json!({"mode": num("Seccomp"), "filters": num("Seccomp_filters")})
}

/// /proc/self/status lines that do not vary between runs of the same config and are not in
/// another section: signal masks, speculation controls, allowed CPUs and memory nodes, umask.
pub fn status() -> Value {
    let status = match status_lines() {
        Ok(s) => s,
        Err(e) => return e,
    };
    let keys = [
        "SigBlk",
        "SigIgn",
        "NoNewPrivs",
        "Speculation_Store_Bypass",
        "SpeculationIndirectBranch",
        "Cpus_allowed_list",
        "Mems_allowed_list",
        "Umask",
        "CoreDumping",
        "THP_enabled",
    ];
    let mut out = Map::new();
    for key in keys {
        if let Some(v) = status.get(key) {
            out.insert(key.to_string(), json!(v));
        }
    }
    Value::Object(out)
}

/// prctl(2) state: no_new_privs, dumpable, keepcaps, child subreaper, parent-death signal,
/// THP disable, timer slack (ns).
pub fn prctl() -> Value {
    use nix::sys::prctl as p;
    let v = |r: nix::Result<Value>| r.unwrap_or_else(errno_value);
    json!({
        "no_new_privs": v(p::get_no_new_privs().map(|b| json!(b))),
        "dumpable": v(p::get_dumpable().map(|b| json!(b))),
        "keepcaps": v(p::get_keepcaps().map(|b| json!(b))),
        "child_subreaper": v(p::get_child_subreaper().map(|b| json!(b))),
        "pdeathsig": v(p::get_pdeathsig().map(|s| json!(s.map(|s| s.as_str())))),
        "thp_disable": v(p::get_thp_disable().map(|b| json!(b))),
        "timerslack": v(p::get_timerslack().map(|n| json!(n))),
    })
}

/// Every rlimit (getrlimit(2)) by its config name: `{"soft": n, "hard": n}`, RLIM_INFINITY as
/// 18446744073709551615 like the config's own convention.
pub fn rlimits() -> Value {
    let all = [
        (Resource::RLIMIT_AS, "RLIMIT_AS"),
        (Resource::RLIMIT_CORE, "RLIMIT_CORE"),
        (Resource::RLIMIT_CPU, "RLIMIT_CPU"),
        (Resource::RLIMIT_DATA, "RLIMIT_DATA"),
        (Resource::RLIMIT_FSIZE, "RLIMIT_FSIZE"),
        (Resource::RLIMIT_LOCKS, "RLIMIT_LOCKS"),
        (Resource::RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK"),
        (Resource::RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE"),
        (Resource::RLIMIT_NICE, "RLIMIT_NICE"),
        (Resource::RLIMIT_NOFILE, "RLIMIT_NOFILE"),
        (Resource::RLIMIT_NPROC, "RLIMIT_NPROC"),
        (Resource::RLIMIT_RSS, "RLIMIT_RSS"),
        (Resource::RLIMIT_RTPRIO, "RLIMIT_RTPRIO"),
        (Resource::RLIMIT_RTTIME, "RLIMIT_RTTIME"),
        (Resource::RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING"),
        (Resource::RLIMIT_STACK, "RLIMIT_STACK"),
    ];
    let mut out = Map::new();
    for (resource, name) in all {
        let value = match getrlimit(resource) {
            Ok((soft, hard)) => json!({"soft": soft, "hard": hard}),
            Err(e) => errno_value(e),
        };
        out.insert(name.to_string(), value);
    }
    Value::Object(out)
}

/// The umask (umask(2) read by setting 0 and restoring it; the probe is single-threaded), as a
/// number like the config's `process.user.umask`.
pub fn umask() -> Value {
    use nix::sys::stat::{umask, Mode};
    let old = umask(Mode::empty());
    umask(old);
    json!(old.bits())
}

/// The working directory (getcwd(3)).
pub fn cwd() -> Value {
    match std::env::current_dir() {
        Ok(p) => json!(p.to_string_lossy()),
        Err(e) => io_error(&e),
    }
}

/// Host name and NIS domain name (uname(2)).
pub fn uts() -> Value {
    match nix::sys::utsname::uname() {
        Ok(u) => json!({
            "hostname": u.nodename().to_string_lossy(),
            "domainname": u.domainname().to_string_lossy(),
        }),
        Err(e) => errno_value(e),
    }
}

/// The environment, `KEY=VALUE` in the order the process got it.
pub fn env() -> Value {
    json!(std::env::vars_os()
        .map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy()))
        .collect::<Vec<_>>())
}

/// Process ids as the process's pid namespace numbers them: pid, ppid, process group, session.
pub fn pid() -> Value {
    json!({
        "pid": nix::unistd::getpid().as_raw(),
        "ppid": nix::unistd::getppid().as_raw(),
        "pgid": nix::unistd::getpgrp().as_raw(),
        "sid": nix::unistd::getsid(None).map(Pid::as_raw).map(|s| json!(s)).unwrap_or_else(errno_value),
    })
}

/// /proc/self/oom_score_adj as a number.
pub fn oom_score_adj() -> Value {
    match fs::read_to_string("/proc/self/oom_score_adj") {
        Ok(s) => s
            .trim()
            .parse::<i64>()
            .map(|n| json!(n))
            .unwrap_or_else(error),
        Err(e) => io_error(&e),
    }
}

/// The execution domain (personality(2) queried with 0xffffffff, which changes nothing):
/// `{"domain": "LINUX"|"LINUX32"|number, "flags": number}`.
pub fn personality() -> Value {
    // SAFETY: personality(0xffffffff) only returns the current persona (man 2 personality: the
    // value is not a valid persona, so the kernel leaves it unchanged); no memory is passed.
    let persona = unsafe { libc::personality(0xffff_ffff) };
    if persona == -1 {
        return errno_value(nix::errno::Errno::last());
    }
    // PER_MASK: the low byte is the domain, the rest are flags (linux/personality.h).
    let domain = persona & 0xff;
    let name = match domain {
        0 => json!("LINUX"),
        8 => json!("LINUX32"),
        n => json!(n),
    };
    json!({"domain": name, "flags": persona & !0xff})
}

/// Scheduling attributes (sched_getattr(2)): policy name, flags, nice, priority and the
/// SCHED_DEADLINE runtime/deadline/period in ns.
pub fn scheduler() -> Value {
    // SAFETY: sched_attr is plain integers, so all-zero is a valid value.
    let mut attr: libc::sched_attr = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::sched_attr>() as libc::c_uint;
    // SAFETY: `attr` is a live, writable sched_attr of `size` bytes, and the kernel writes at
    // most `size` bytes into it (man 2 sched_getattr); pid 0 is the calling thread.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_sched_getattr,
            0,
            &mut attr as *mut libc::sched_attr,
            size,
            0,
        )
    };
    if rc == -1 {
        return errno_value(nix::errno::Errno::last());
    }
    let policy = match attr.sched_policy {
        0 => json!("SCHED_OTHER"),
        1 => json!("SCHED_FIFO"),
        2 => json!("SCHED_RR"),
        3 => json!("SCHED_BATCH"),
        5 => json!("SCHED_IDLE"),
        6 => json!("SCHED_DEADLINE"),
        n => json!(n),
    };
    // linux/sched.h SCHED_FLAG_*, named as runtime-spec's process.scheduler.flags.
    let flag_names = [
        (0x01, "SCHED_FLAG_RESET_ON_FORK"),
        (0x02, "SCHED_FLAG_RECLAIM"),
        (0x04, "SCHED_FLAG_DL_OVERRUN"),
        (0x08, "SCHED_FLAG_KEEP_POLICY"),
        (0x10, "SCHED_FLAG_KEEP_PARAMS"),
        (0x20, "SCHED_FLAG_UTIL_CLAMP_MIN"),
        (0x40, "SCHED_FLAG_UTIL_CLAMP_MAX"),
    ];
    let flags: Vec<Value> = flag_names
        .iter()
        .filter(|(bit, _)| attr.sched_flags & bit != 0)
        .map(|(_, n)| json!(n))
        .collect();
    json!({
        "policy": policy,
        "flags": flags,
        "nice": attr.sched_nice,
        "priority": attr.sched_priority,
        "runtime": attr.sched_runtime,
        "deadline": attr.sched_deadline,
        "period": attr.sched_period,
    })
}

/// The I/O priority (ioprio_get(2), IOPRIO_WHO_PROCESS of the caller): class name and level.
pub fn ioprio() -> Value {
    // linux/ioprio.h: IOPRIO_WHO_PROCESS; the class is above bit 13, the data below.
    const IOPRIO_WHO_PROCESS: libc::c_long = 1;
    // SAFETY: ioprio_get takes two integers and passes no memory (man 2 ioprio_get).
    let rc = unsafe { libc::syscall(libc::SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0) };
    if rc == -1 {
        return errno_value(nix::errno::Errno::last());
    }
    let class = match rc >> 13 {
        0 => json!("IOPRIO_CLASS_NONE"),
        1 => json!("IOPRIO_CLASS_RT"),
        2 => json!("IOPRIO_CLASS_BE"),
        3 => json!("IOPRIO_CLASS_IDLE"),
        n => json!(n),
    };
    json!({"class": class, "priority": rc & 0x1fff})
}

/// The CPUs the process may run on (sched_getaffinity(2)), ascending.
pub fn affinity() -> Value {
    use nix::sched::{sched_getaffinity, CpuSet};
    match sched_getaffinity(Pid::from_raw(0)) {
        Ok(set) => json!((0..CpuSet::count())
            .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
            .collect::<Vec<_>>()),
        Err(e) => errno_value(e),
    }
}

/// 2 MiB, the huge page size `hugetlb` maps.
const HUGE_PAGE: usize = 2 * 1024 * 1024;

/// `hugetlb N`: map N 2 MiB huge pages (private, anonymous, MAP_HUGETLB), write to each, unmap:
/// `{"ok": true}`, or the errno of mmap(2) (ENOMEM when the hugetlb cgroup's reservation limit,
/// `hugetlb.2MB.rsvd.max`, or the host's pool says no). The one query that does something: it
/// is how a test sees the kernel enforce `linux.resources.hugepageLimits`.
pub fn hugetlb(count: &str) -> Value {
    let Some(len) = count
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(HUGE_PAGE))
    else {
        return json!({"error": "not a page count"});
    };
    // SAFETY: a fresh anonymous private mapping at an address the kernel picks; no existing
    // memory is touched.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_HUGETLB,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return errno_value(nix::errno::Errno::last());
    }
    for page in (0..len).step_by(HUGE_PAGE) {
        // SAFETY: `page` is inside the `len` bytes just mapped read-write.
        unsafe { p.cast::<u8>().add(page).write_volatile(1) };
    }
    // SAFETY: exactly the mapping made above, not used after.
    unsafe { libc::munmap(p, len) };
    json!({"ok": true})
}
