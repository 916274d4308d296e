//! Differential: the same bundles run under husk-runtime and under runc 1.1.5 (the reference,
//! /usr/sbin/runc), with the in-container probe reporting everything it sees (ids,
//! capabilities, /proc/self/status, rlimits, mountinfo, devices, namespaces, cgroup limits...).
//! The two reports are compared field by field (`husk_tests::diff`); a difference fails the test
//! unless [`KNOWN`] lists it, with its reason and its row in docs/known-differences.md.
//!
//! Only fields runc 1.1.5 implements are set here: it silently ignores what it does not know
//! (domainname, time namespaces, ioPriority, scheduler, ...), which the conformance tests cover.
//! `linux.resources` limits are compared by cgroup_limits.rs, whose assertions hold for both
//! runtimes. On a cgroup v2 host every bundle gets a cgroup namespace, so runc does not reset
//! the host's cgroup2 mount options (see `with_cgroup_namespace`).

#![allow(clippy::unwrap_used)] // tests may unwrap (project rules)

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use husk_tests::diff::{self, Hosts, Known};
use husk_tests::runtime::{self, Flavour};
use husk_tests::{host_lacks, probe, reference_lacks, Bundle, Runtime};
use serde_json::json;

/// The reference runtime.
const RUNC: &str = "/usr/sbin/runc";

/// Every known difference between husk and runc 1.1.5 that a bundle below shows (some only on
/// some hosts: runc keeps signal 32 ignored only when its caller had it ignored).
const KNOWN: &[Known] = &[
    Known {
        hosts: Hosts::Any,
        bundle: "*",
        path: "fds[0].target",
        reason: "runc run in the foreground relays stdio through pipes of its own; husk hands \
                 the container the caller's stdin (/dev/null here)",
        doc: "foreground `run` without a terminal",
    },
    Known {
        hosts: Hosts::Any,
        bundle: "*",
        path: "status.SigIgn",
        reason: "runc keeps signal 32 (glibc's SIGCANCEL) ignored when its caller had it ignored \
                 (glibc's posix_spawn does that); husk resets every signal to SIG_DFL",
        doc: "signals ignored by the runtime's caller",
    },
    Known {
        hosts: Hosts::CgroupV1,
        bundle: "*",
        path: "mounts.\"/sys/fs/cgroup\".*",
        reason: "the tmpfs under a read-only v1 cgroup mount is read-only in husk, read-write in \
                 runc",
        doc: "the tmpfs at /sys/fs/cgroup",
    },
    Known {
        hosts: Hosts::CgroupV1,
        bundle: "*",
        path: "mounts.\"/sys/fs/cgroup/unified\".*",
        reason: "on a hybrid host husk also mounts the container's cgroup2 (unified) directory; \
                 runc 1.1.5 only the v1 hierarchies",
        doc: "/sys/fs/cgroup/unified",
    },
    Known {
        hosts: Hosts::CgroupV2,
        bundle: "*",
        path: "mounts.\"/sys/fs/cgroup\".source",
        reason: "the source of the cgroup2 mount: husk writes `cgroup2`, runc `cgroup` (free \
                 text; nothing matches on it)",
        doc: "`source` of cgroup mounts",
    },
    Known {
        hosts: Hosts::Any,
        bundle: "*",
        path: "mounts.\"/\".options",
        reason: "a rootfs on a host mount with nosuid/nodev (the v2 guest's /tmp): husk's \
                 read-only remount keeps those flags, runc 1.1.5's drops them",
        doc: "`root.readonly` on a rootfs whose host mount has `nosuid`",
    },
    Known {
        hosts: Hosts::Any,
        bundle: "namespaces",
        path: "mounts.\"/sys/fs/cgroup/systemd\".source",
        reason: "in a new cgroup namespace runc names the source of the named systemd hierarchy \
                 `systemd`, husk `cgroup` (free text; nothing matches on it)",
        doc: "`source` of cgroup mounts",
    },
    Known {
        hosts: Hosts::Any,
        bundle: "mounts",
        path: "stat.\"/mnt/b\".mode",
        reason: "a tmpfs `mode=` over an existing directory: runc 1.1.5 chmods it back to the \
                 directory's mode (runc#3911, fixed in 1.1.8)",
        doc: "tmpfs with an explicit `mode=` over an existing directory",
    },
    Known {
        hosts: Hosts::Any,
        bundle: "mounts",
        path: "access.\"/mnt/b\".*",
        reason: "the same tmpfs: mode 0750 uid 1000 gid 2000 as asked (root without \
                 CAP_DAC_OVERRIDE may not enter), runc's 0755 lets anyone in",
        doc: "tmpfs with an explicit `mode=` over an existing directory",
    },
    Known {
        hosts: Hosts::Any,
        bundle: "mounts",
        path: "mounts.\"/run\".super_options",
        reason: "a read-only tmpfs: husk mounts it read-only; runc mounts it read-write and makes \
                 only the mount read-only (the same to the container)",
        doc: "`ro` tmpfs (a read-only /dev too)",
    },
    Known {
        hosts: Hosts::Any,
        bundle: "mounts",
        path: "mounts.\"/mnt/a\".options",
        reason: "a bind whose host source has nodev (the v2 guest's /tmp): husk's bind keeps \
                 the source's flags and adds the asked ones; runc 1.1.5's remount drops nodev",
        doc: "a bind of a source mounted `nodev`/`nosuid`/`noexec`",
    },
    Known {
        hosts: Hosts::Any,
        bundle: "userns",
        path: "stat.\"/dev/mqueue\".gid",
        reason: "in a new user namespace husk's init mounts mqueue as the container's root group; \
                 runc's as an unmapped gid (65534)",
        doc: "/dev/mqueue in a new user namespace",
    },
];

/// Differences that are husk bugs, not choices, waiting for their fix (named in `reason`). They
/// are printed, not failed on; an entry that no longer matches anything fails the test, so it
/// is removed with the fix.
const OPEN: &[Known] = &[];

/// The one list of known differences, built in so the test binary also runs where the source
/// tree is not (tests/v2vm.sh).
const KNOWN_DIFFERENCES_MD: &str = include_str!("../../docs/known-differences.md");

/// What every bundle asks the probe: all sections plus the queries below.
fn probe_args() -> Vec<&'static str> {
    let mut args = vec!["all", "stat"];
    args.extend([
        "/",
        "/dev",
        "/dev/null",
        "/dev/zero",
        "/dev/full",
        "/dev/random",
        "/dev/urandom",
        "/dev/tty",
        "/dev/console",
        "/dev/ptmx",
        "/dev/pts/ptmx",
        "/dev/fd",
        "/dev/stdin",
        "/dev/stdout",
        "/dev/stderr",
        "/dev/shm",
        "/dev/mqueue",
        "/dev/husk-null",
        "/dev/husk-loop",
        "/proc/kcore",
        "/proc/keys",
        "/proc/timer_list",
        "/proc/acpi",
        "/sys/firmware",
        "/mnt/a",
        "/mnt/b",
        "/run",
        "/tmp",
    ]);
    args.push("access");
    args.extend([
        "/",
        "/proc/sys/kernel/hostname",
        "/mnt/a",
        "/mnt/b",
        "/run",
        "/tmp",
    ]);
    args.push("read");
    args.extend([
        "/sys/class/net/lo/flags",
        "/mnt/a/in",
        // v1 and v2 files: the ones the host does not have are the same error on both sides.
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
        "/sys/fs/cgroup/pids/pids.max",
        "/sys/fs/cgroup/cpu/cpu.shares",
        "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/pids.max",
        "/sys/fs/cgroup/cpu.max",
    ]);
    args.push("sysctl");
    args.extend(["net.ipv4.ip_forward", "kernel.shmmax", "net.core.somaxconn"]);
    args
}

/// The bundles compared, by name: runc's default spec and one per group of fields.
fn bundles(bind_src: &Path) -> Vec<(&'static str, Bundle)> {
    let args = probe_args();
    let mut out = Vec::new();

    out.push(("default", probe::bundle(&args)));

    let mut b = probe::bundle(&args);
    b.set(
        "/process/user",
        json!({"uid": 1000, "gid": 1000, "additionalGids": [2000, 5], "umask": 0o027}),
    );
    b.set("/process/cwd", json!("/home/husk"));
    b.env("FOO=bar").env("EMPTY=");
    b.caps(&["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"]);
    b.set("/process/capabilities/ambient", json!(["CAP_NET_RAW"]));
    b.set(
        "/process/capabilities/inheritable",
        json!(["CAP_NET_RAW", "CAP_KILL"]),
    );
    b.set("/process/noNewPrivileges", json!(false));
    b.set(
        "/process/rlimits",
        json!([
            {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1000},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
            {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400}
        ]),
    );
    b.set("/process/oomScoreAdj", json!(300));
    out.push(("user", b));

    let mut b = probe::bundle(&args);
    b.caps(&["CAP_SYS_ADMIN", "CAP_KILL"]);
    b.set(
        "/process/capabilities/bounding",
        json!(["CAP_SYS_ADMIN", "CAP_KILL", "CAP_CHOWN", "CAP_DAC_OVERRIDE"]),
    );
    b.set("/process/noNewPrivileges", json!(false));
    b.set("/root/readonly", json!(false));
    out.push(("root", b));

    let mut b = probe::bundle(&args);
    b.mount(
        "/mnt/a",
        "bind",
        bind_src.to_str().unwrap(),
        &["bind", "ro", "nosuid"],
    );
    b.mount(
        "/mnt/b",
        "tmpfs",
        "husk-tmp",
        &[
            "nosuid", "nodev", "noexec", "mode=750", "size=1m", "uid=1000", "gid=2000",
        ],
    );
    b.mount("/run", "tmpfs", "tmpfs", &["ro", "noatime"]);
    b.mount("/tmp", "tmpfs", "tmpfs", &["nosuid", "nodev", "mode=1777"]);
    b.push(
        "/linux/devices",
        json!({"path": "/dev/husk-null", "type": "c", "major": 1, "minor": 3,
               "fileMode": 0o640, "uid": 1000, "gid": 2000}),
    );
    b.push(
        "/linux/devices",
        json!({"path": "/dev/husk-loop", "type": "b", "major": 7, "minor": 200,
               "fileMode": 0o600, "uid": 0, "gid": 6}),
    );
    b.push("/linux/maskedPaths", json!("/mnt/a/in"));
    b.push("/linux/readonlyPaths", json!("/tmp"));
    b.set("/linux/rootfsPropagation", json!("slave"));
    out.push(("mounts", b));

    let mut b = probe::bundle(&args);
    b.set(
        "/linux/seccomp",
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [
                {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 95},
                {"names": ["personality"], "action": "SCMP_ACT_ERRNO"}
            ]
        }),
    );
    out.push(("seccomp", b));

    let mut b = probe::bundle(&args);
    b.namespaces(&["pid", "mount", "uts", "cgroup"]);
    b.set("/hostname", json!("husk-diff"));
    out.push(("namespaces", b));

    let mut b = probe::bundle(&args);
    b.namespace("user", None);
    let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.set("/linux/uidMappings", map.clone());
    b.set("/linux/gidMappings", map);
    out.push(("userns", b));

    for (_, b) in &mut out {
        with_cgroup_namespace(b);
    }
    out
}

/// On a cgroup v2 host, gives `b` a new cgroup namespace: without one runc 1.1.5 mounts a new
/// cgroup2 instance from the initial namespace, which resets the host's own cgroup2 mount
/// options (nsdelegate, memory_recursiveprot; runc#5258), and a test must not change the host.
fn with_cgroup_namespace(b: &mut Bundle) {
    if Hosts::CgroupV2.here() {
        b.namespace("cgroup", None);
    }
}

#[test]
fn husk_and_runc_see_the_same_container() {
    if reference_lacks("the differential test compares husk-runtime with runc itself") {
        return;
    }
    if host_lacks(
        !Path::new(RUNC).exists(),
        "runc 1.1.5 at /usr/sbin/runc (apt-get install runc)",
    ) {
        return;
    }
    assert_eq!(runtime::flavour(), Flavour::Husk);
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("in"), "from host\n").unwrap();
    let husk = Runtime::new();
    let runc = Runtime::with_binary(Path::new(RUNC));
    let mut unlisted = String::new();
    let mut known_seen = vec![0; KNOWN.len()];
    let mut open_seen = vec![false; OPEN.len()];
    for (name, bundle) in bundles(src.path()) {
        let h = probe::run(&husk, &bundle);
        let r = probe::run(&runc, &bundle);
        for d in diff::differences(&h, &r) {
            if let Some(i) = KNOWN.iter().position(|k| k.covers(name, &d.path)) {
                let k = &KNOWN[i];
                known_seen[i] += 1;
                eprintln!("known difference, bundle {name}: {d}\n    ({})", k.reason);
            } else if let Some(i) = OPEN.iter().position(|k| k.covers(name, &d.path)) {
                open_seen[i] = true;
                eprintln!("OPEN BUG, bundle {name}: {d}\n    ({})", OPEN[i].reason);
            } else {
                writeln!(unlisted, "bundle {name}: {d}").unwrap();
            }
        }
    }
    for (k, seen) in OPEN.iter().zip(open_seen) {
        if !seen {
            writeln!(
                unlisted,
                "OPEN entry {:?} of bundle {} matched nothing: fixed? remove it from OPEN",
                k.path, k.bundle
            )
            .unwrap();
        }
    }
    // Per entry, so one that no longer matches on any host can be spotted and removed.
    for (k, n) in KNOWN.iter().zip(&known_seen) {
        if k.hosts.here() {
            eprintln!("KNOWN {} {:?}: {n} differences", k.bundle, k.path);
        }
    }
    for k in KNOWN {
        if !KNOWN_DIFFERENCES_MD
            .lines()
            .any(|l| l.starts_with('|') && l.contains(k.doc))
        {
            writeln!(
                unlisted,
                "KNOWN entry {:?} ({}) has no row in docs/known-differences.md containing {:?}",
                k.path, k.reason, k.doc
            )
            .unwrap();
        }
    }
    assert!(
        unlisted.is_empty(),
        "husk and runc 1.1.5 differ in fields not listed in KNOWN (tests/tests/differential.rs) \
         and docs/known-differences.md:\n{unlisted}"
    );
}

/// The normalisation must not hide what the runtimes set: two different configs differ.
#[test]
fn the_diff_sees_a_changed_field() {
    if host_lacks(
        !Path::new(RUNC).exists(),
        "runc 1.1.5 at /usr/sbin/runc (apt-get install runc)",
    ) {
        return;
    }
    let rt = Runtime::with_binary(Path::new(RUNC));
    let mut a = probe::bundle(&["umask", "ns"]);
    with_cgroup_namespace(&mut a);
    let a = probe::run(&rt, &a);
    let mut b = probe::bundle(&["umask", "ns"]);
    b.set("/process/user/umask", json!(0o077));
    b.namespaces(&["pid", "mount", "uts"]);
    with_cgroup_namespace(&mut b);
    let b = probe::run(&rt, &b);
    let paths: Vec<String> = diff::differences(&a, &b)
        .into_iter()
        .map(|d| d.path)
        .collect();
    assert_eq!(paths, ["ns.ipc", "ns.net", "umask"]);
}
