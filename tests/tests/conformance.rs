//! Conformance: one test per config.json field husk implements, each running the in-container
//! probe (tests/probe, see `husk_tests::probe`) in runc's default spec changed only in that
//! field, and asserting the exact value the process sees.
//!
//! To cover a new field: `let r = probe(&[SECTION...], |b| { b.set("/json/pointer", ...); });`
//! then assert on `r`. The probe already reports what the fields still being added need:
//! `linux.sysctl` (`probe(&["sysctl", "net.ipv4.ip_forward"], ...)`, `r["sysctl"][name]`),
//! `process.personality` (`personality`: `domain`, `flags`), `process.ioPriority` (`ioprio`:
//! `class`, `priority`), `process.scheduler` (`scheduler`: `policy`, `nice`, `priority`,
//! `flags`, `runtime`, `deadline`, `period`), `process.execCPUAffinity` (`affinity`), and a
//! net device's presence (`read /sys/class/net/NAME/ifindex`). Until then the tests below pin
//! what a config without them gets: the runtime caller's values.

#![allow(clippy::unwrap_used)] // tests may unwrap (project rules)

use std::fs;
use std::process::Command;

use husk_tests::probe::{self, has_option, mount, ns_kind};
use husk_tests::{cgroups, host, host_lacks, reference_lacks, Bundle, Outcome, Runtime};
use serde_json::{json, Value};

/// Runs `/husk-probe <args>` in runc's default bundle changed by `edit`; the probe's report.
fn probe(args: &[&str], edit: impl FnOnce(&mut Bundle)) -> Value {
    let rt = Runtime::new();
    let mut b = probe::bundle(args);
    edit(&mut b);
    probe::run(&rt, &b)
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

// --- process ---

#[test]
fn process_args() {
    // The probe answers exactly the sections its args name.
    let r = probe(&["cwd", "umask"], |_| {});
    let mut keys: Vec<&String> = r.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["cwd", "umask"]);
}

#[test]
fn process_user_uid_and_gid() {
    let r = probe(&["ids"], |b| {
        b.set("/process/user", json!({"uid": 1000, "gid": 1001}));
    });
    assert_eq!(
        r["ids"],
        json!({
            "uid": {"real": 1000, "effective": 1000, "saved": 1000, "fs": 1000},
            "gid": {"real": 1001, "effective": 1001, "saved": 1001, "fs": 1001},
            "groups": []
        })
    );
}

#[test]
fn process_user_additional_gids() {
    let r = probe(&["ids"], |b| {
        b.set(
            "/process/user",
            json!({"uid": 1000, "gid": 1000, "additionalGids": [2000, 3000, 5]}),
        );
    });
    // getgroups(2) returns the list as setgroups(2) stored it: the kernel sorts it.
    assert_eq!(r["ids"]["groups"], json!([5, 2000, 3000]));
    assert_eq!(r["ids"]["gid"]["effective"], 1000);
}

#[test]
fn process_user_umask() {
    let r = probe(&["umask"], |b| {
        b.set("/process/user/umask", json!(0o077));
    });
    assert_eq!(r["umask"], 0o077);
    // Unset: 0022, what runc sets.
    assert_eq!(probe(&["umask"], |_| {})["umask"], 0o022);
}

#[test]
fn process_cwd() {
    let r = probe(&["cwd"], |b| {
        b.set("/process/cwd", json!("/home/husk"));
    });
    assert_eq!(r["cwd"], "/home/husk");
}

#[test]
fn process_env() {
    let mut id = String::new();
    let r = probe(&["env"], |b| {
        b.env("FOO=foo value").env("EMPTY=");
        id = b.id.clone();
    });
    let mut env = strings(&r["env"]);
    env.sort_unstable();
    let marker = format!("HUSK_TEST_MARKER={id}");
    let mut want = vec![
        "EMPTY=",
        "FOO=foo value",
        // Not in the config: HOME from the container's /etc/passwd (runc does the same).
        "HOME=/root",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "TERM=xterm",
        marker.as_str(),
    ];
    want.sort_unstable();
    assert_eq!(env, want);
}

/// The five sets of the probe's report, as name lists.
fn cap_sets(r: &Value) -> [Vec<&str>; 5] {
    [
        "bounding",
        "effective",
        "permitted",
        "inheritable",
        "ambient",
    ]
    .map(|set| strings(&r["caps"][set]))
}

#[test]
fn process_capabilities_bounding() {
    let bounding = vec!["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"];
    let kill = vec!["CAP_KILL"];
    for nnp in [true, false] {
        let r = probe(&["caps"], |b| {
            b.caps(&["CAP_KILL"]);
            b.set("/process/capabilities/bounding", json!(bounding));
            b.set("/process/noNewPrivileges", json!(nnp));
        });
        // For uid 0, execve(2) raises permitted and effective to the bounding set (root's file
        // sets count as full), except under no_new_privs, which lets execve grant nothing
        // (`man 7 capabilities`, "Capabilities and execution of programs by root").
        let raised = if nnp { kill.clone() } else { bounding.clone() };
        assert_eq!(
            cap_sets(&r),
            [
                bounding.clone(),
                raised.clone(),
                raised,
                kill.clone(),
                kill.clone()
            ],
            "noNewPrivileges {nnp}"
        );
    }
}

#[test]
fn process_capabilities_inheritable() {
    let r = probe(&["caps"], |b| {
        b.caps(&["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"]);
        b.set("/process/capabilities/ambient", json!([]));
        b.set(
            "/process/capabilities/inheritable",
            json!(["CAP_CHOWN", "CAP_NET_RAW"]),
        );
        b.set("/process/user", json!({"uid": 1000, "gid": 1000}));
    });
    // A non-root program without file capabilities keeps only the ambient set after execve(2);
    // inheritable and bounding stay as set.
    assert_eq!(
        cap_sets(&r),
        [
            vec!["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
            vec![],
            vec![],
            vec!["CAP_CHOWN", "CAP_NET_RAW"],
            vec![]
        ]
    );
}

#[test]
fn process_capabilities_ambient() {
    let r = probe(&["caps"], |b| {
        b.caps(&["CAP_CHOWN", "CAP_KILL"]);
        b.set("/process/capabilities/ambient", json!(["CAP_KILL"]));
        b.set("/process/user", json!({"uid": 1000, "gid": 1000}));
    });
    // Ambient capabilities become permitted and effective across execve(2) for a non-root user.
    let both = vec!["CAP_CHOWN", "CAP_KILL"];
    assert_eq!(
        cap_sets(&r),
        [
            both.clone(),
            vec!["CAP_KILL"],
            vec!["CAP_KILL"],
            both,
            vec!["CAP_KILL"]
        ]
    );
}

#[test]
fn process_capabilities_effective_and_permitted() {
    let r = probe(&["caps"], |b| {
        b.caps(&["CAP_CHOWN", "CAP_KILL"]);
        b.set("/process/capabilities/ambient", json!([]));
        b.set("/process/capabilities/inheritable", json!([]));
        b.set("/process/user", json!({"uid": 1000, "gid": 1000}));
    });
    // Permitted and effective are what the runtime holds until execve(2); a non-root program
    // without file capabilities or ambient ones starts with none.
    assert_eq!(
        cap_sets(&r),
        [
            vec!["CAP_CHOWN", "CAP_KILL"],
            vec![],
            vec![],
            vec![],
            vec![]
        ]
    );
}

#[test]
fn process_no_new_privileges() {
    for (nnp, status) in [(true, "1"), (false, "0")] {
        let r = probe(&["prctl", "status"], |b| {
            b.set("/process/noNewPrivileges", json!(nnp));
        });
        assert_eq!(r["prctl"]["no_new_privs"], nnp);
        assert_eq!(r["status"]["NoNewPrivs"], status);
    }
}

#[test]
fn process_rlimits() {
    let r = probe(&["rlimits"], |b| {
        b.set(
            "/process/rlimits",
            json!([
                {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1000},
                {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
                {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400},
                {"type": "RLIMIT_MSGQUEUE", "soft": 4096, "hard": 8192}
            ]),
        );
    });
    let mut want = probe::on_host(&["rlimits"])["rlimits"].clone();
    for (name, soft, hard) in [
        ("RLIMIT_NOFILE", 512, 1000),
        ("RLIMIT_CORE", 0, 0),
        ("RLIMIT_NPROC", 300, 400),
        ("RLIMIT_MSGQUEUE", 4096, 8192),
    ] {
        want[name] = json!({"soft": soft, "hard": hard});
    }
    // Those not in the config are the runtime's caller's, unchanged.
    assert_eq!(r["rlimits"], want);
}

#[test]
fn process_oom_score_adj() {
    let r = probe(&["oom_score_adj"], |b| {
        b.set("/process/oomScoreAdj", json!(523));
    });
    assert_eq!(r["oom_score_adj"], 523);
    // Unset: inherited from the runtime's caller.
    let host = probe::on_host(&["oom_score_adj"]);
    assert_eq!(
        probe(&["oom_score_adj"], |_| {})["oom_score_adj"],
        host["oom_score_adj"]
    );
}

#[test]
fn process_fields_not_set_keep_the_caller_s_values() {
    // personality, ioPriority, scheduler and execCPUAffinity are absent from runc's default
    // spec: the process keeps what the runtime's caller had.
    let sections = ["personality", "ioprio", "scheduler", "affinity"];
    let host = probe::on_host(&sections);
    let r = probe(&sections, |_| {});
    for s in sections {
        assert_eq!(r[s], host[s], "{s}");
    }
}

#[test]
fn process_starts_with_only_stdio_open() {
    let r = probe(&["fds"], |_| {});
    let fds: Vec<&Value> = r["fds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &f["fd"])
        .collect();
    assert_eq!(fds, [0, 1, 2], "{}", r["fds"]);
}

#[test]
fn process_is_pid_1_and_leads_its_session() {
    let r = probe(&["pid"], |_| {});
    assert_eq!(r["pid"], json!({"pid": 1, "ppid": 0, "pgid": 1, "sid": 1}));
}

/// Runs `bundle` with `<runtime> run` started from sh with SIGHUP (1), SIGUSR1 (10), SIGRTMIN+2
/// (36) and SIGRTMAX (64) ignored: ignored signals survive execve(2), so a runtime that does not
/// reset them hands them on to the container. (Numbers, not names: busybox's and dash's `trap`
/// know no real-time signal names.)
fn run_with_ignored_signals(rt: &Runtime, b: &Bundle) -> Outcome {
    b.write();
    rt.adopt(&b.id);
    let dir = b.path().to_string_lossy().into_owned();
    let inner = rt.command(&["run", "--bundle", &dir, &b.id], &b.id);
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "trap '' 1 10 36 64; exec \"$@\"", "sh"])
        .arg(inner.get_program())
        .args(inner.get_args())
        .env("HUSK_TEST_MARKER", &b.id);
    husk_tests::runtime::exec(cmd, true)
}

#[test]
fn process_starts_with_default_signal_dispositions() {
    if reference_lacks(
        "reset of inherited ignored signals (runc 1.1.5 leaves signal 32 ignored when its caller had it ignored)",
    ) {
        return;
    }
    let rt = Runtime::new();
    let b = probe::bundle(&["status"]);
    let r = probe::parse(&run_with_ignored_signals(&rt, &b));
    assert_eq!(r["status"]["SigIgn"], "0000000000000000");
    assert_eq!(r["status"]["SigBlk"], "0000000000000000");
}

// --- root, hostname, domainname ---

#[test]
fn root_readonly() {
    for (readonly, opt, write) in [(true, "ro", "EROFS"), (false, "rw", "ok")] {
        let r = probe(&["mounts", "access", "/"], |b| {
            b.set("/root/readonly", json!(readonly));
        });
        let root = mount(&r, "/");
        assert!(has_option(root, opt), "root.readonly {readonly}: {root}");
        assert_eq!(r["access"]["/"]["write"], write, "root.readonly {readonly}");
    }
}

#[test]
fn hostname() {
    let r = probe(&["uts"], |b| {
        b.set("/hostname", json!("probe-host"));
    });
    assert_eq!(r["uts"]["hostname"], "probe-host");
}

#[test]
fn domainname() {
    if reference_lacks("linux domainname (runc 1.1.5 ignores the field)") {
        return;
    }
    let r = probe(&["uts"], |b| {
        b.set("/domainname", json!("probe.example"));
    });
    assert_eq!(
        r["uts"],
        json!({"hostname": "runc", "domainname": "probe.example"})
    );
}

// --- mounts ---

#[test]
fn mounts_runc_default_set() {
    let r = probe(&["mounts"], |_| {});
    let want = [
        ("/proc", "proc", "proc", vec!["rw", "relatime"], vec!["rw"]),
        (
            "/dev",
            "tmpfs",
            "tmpfs",
            vec!["rw", "nosuid"],
            vec!["rw", "size=65536k", "mode=755"],
        ),
        (
            "/dev/pts",
            "devpts",
            "devpts",
            vec!["rw", "nosuid", "noexec", "relatime"],
            vec!["rw", "gid=5", "mode=620", "ptmxmode=666"],
        ),
        (
            "/dev/shm",
            "tmpfs",
            "shm",
            vec!["rw", "nosuid", "nodev", "noexec", "relatime"],
            vec!["rw", "size=65536k"],
        ),
        (
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            vec!["rw", "nosuid", "nodev", "noexec", "relatime"],
            vec!["rw"],
        ),
        (
            "/sys",
            "sysfs",
            "sysfs",
            vec!["ro", "nosuid", "nodev", "noexec", "relatime"],
            vec!["ro"],
        ),
    ];
    for (point, fs_type, source, options, super_options) in want {
        let m = mount(&r, point);
        assert_eq!(m["fs_type"], fs_type, "{point}: {m}");
        assert_eq!(m["source"], source, "{point}: {m}");
        assert_eq!(strings(&m["options"]), options, "{point}: {m}");
        // The kernel may add defaults of its own to a superblock (tmpfs's inode64).
        let supers = strings(&m["super_options"]);
        for o in &super_options {
            assert!(supers.contains(o), "{point} lacks super option {o}: {m}");
        }
        assert_eq!(m["propagation"], "private", "{point}: {m}");
    }
}

#[test]
fn mounts_bind_ro_and_rw() {
    let ro = tempfile::tempdir().unwrap();
    let rw = tempfile::tempdir().unwrap();
    fs::write(ro.path().join("in"), "from host\n").unwrap();
    let r = probe(
        &["mounts", "read", "/mnt/a/in", "access", "/mnt/a", "/mnt/b"],
        |b| {
            b.mount(
                "/mnt/a",
                "bind",
                ro.path().to_str().unwrap(),
                &["bind", "ro"],
            );
            b.mount(
                "/mnt/b",
                "bind",
                rw.path().to_str().unwrap(),
                &["rbind", "rw"],
            );
        },
    );
    assert_eq!(r["read"]["/mnt/a/in"], "from host");
    assert_eq!(r["access"]["/mnt/a"]["write"], "EROFS");
    assert_eq!(r["access"]["/mnt/b"]["write"], "ok");
    let a = mount(&r, "/mnt/a");
    assert!(has_option(a, "ro"), "{a}");
    let b = mount(&r, "/mnt/b");
    assert!(has_option(b, "rw"), "{b}");
    // A bind mount shows the source directory as its root within the source's filesystem.
    for (m, dir) in [(a, ro.path()), (b, rw.path())] {
        let root = m["root"].as_str().unwrap();
        assert!(dir.to_str().unwrap().ends_with(root), "{m} from {dir:?}");
    }
}

#[test]
fn mounts_tmpfs_with_options() {
    let r = probe(&["mounts", "stat", "/mnt/b"], |b| {
        b.mount(
            "/mnt/b",
            "tmpfs",
            "husk-tmp",
            &[
                "nosuid", "nodev", "noexec", "mode=750", "size=1m", "uid=1000", "gid=2000",
            ],
        );
    });
    let m = mount(&r, "/mnt/b");
    assert_eq!(m["fs_type"], "tmpfs");
    assert_eq!(m["source"], "husk-tmp");
    assert_eq!(
        strings(&m["options"]),
        ["rw", "nosuid", "nodev", "noexec", "relatime"]
    );
    let supers = strings(&m["super_options"]);
    for o in ["rw", "size=1024k", "mode=750", "uid=1000", "gid=2000"] {
        assert!(supers.contains(&o), "lacks {o}: {m}");
    }
    if !reference_lacks("a tmpfs mode= over an existing directory (runc 1.1.5 chmods it back)") {
        assert_eq!(
            r["stat"]["/mnt/b"],
            json!({"type": "dir", "mode": 0o750, "uid": 1000, "gid": 2000})
        );
    }
}

#[test]
fn mounts_flags_nosuid_nodev_noexec_ro_and_atime() {
    let r = probe(&["mounts"], |b| {
        b.mount(
            "/mnt/a",
            "tmpfs",
            "tmpfs",
            &["ro", "nosuid", "nodev", "noexec", "noatime"],
        );
        b.mount(
            "/mnt/b",
            "tmpfs",
            "tmpfs",
            &["strictatime", "dev", "suid", "exec"],
        );
    });
    assert_eq!(
        strings(&mount(&r, "/mnt/a")["options"]),
        ["ro", "nosuid", "nodev", "noexec", "noatime"]
    );
    // strictatime shows as no atime option at all.
    assert_eq!(strings(&mount(&r, "/mnt/b")["options"]), ["rw"]);
}

#[test]
fn linux_rootfs_propagation() {
    let mut cases = vec![("private", "private")];
    if !reference_lacks("rootfsPropagation shared on / (runc 1.1.5 leaves / private)") {
        cases.push(("shared", "shared"));
    }
    for (prop, want) in cases {
        let r = probe(&["mounts"], |b| {
            b.set("/linux/rootfsPropagation", json!(prop));
        });
        assert_eq!(
            mount(&r, "/")["propagation"],
            want,
            "rootfsPropagation {prop}"
        );
    }
}

/// The masked and read-only paths of runc's default spec that this kernel has (a runtime skips
/// a missing one).
fn existing(paths: &[&'static str]) -> Vec<&'static str> {
    paths
        .iter()
        .copied()
        .filter(|p| std::path::Path::new(p).exists())
        .collect()
}

#[test]
fn linux_masked_paths() {
    let files = existing(&[
        "/proc/kcore",
        "/proc/keys",
        "/proc/timer_list",
        "/proc/sched_debug",
    ]);
    let dirs = existing(&["/proc/acpi", "/proc/scsi", "/sys/firmware"]);
    assert!(
        !files.is_empty() && !dirs.is_empty(),
        "no masked path exists here"
    );
    let mut args = vec!["mounts", "stat"];
    args.extend(&files);
    args.extend(&dirs);
    args.push("read");
    args.extend(&files);
    let r = probe(&args, |_| {});
    // A masked file is /dev/null bound over it; a masked directory an empty read-only tmpfs.
    for f in files {
        assert_eq!(
            r["stat"][f],
            json!({"type": "char", "mode": 0o666, "uid": 0, "gid": 0, "major": 1, "minor": 3}),
            "{f}"
        );
        assert_eq!(r["read"][f], "", "{f}");
    }
    for d in dirs {
        let m = mount(&r, d);
        assert_eq!(m["fs_type"], "tmpfs", "{d}: {m}");
        assert!(has_option(m, "ro"), "{d}: {m}");
        assert_eq!(r["stat"][d]["type"], "dir", "{d}");
    }
}

#[test]
fn linux_readonly_paths() {
    let paths = existing(&[
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/proc/sys",
        "/proc/sysrq-trigger",
    ]);
    let mut args = vec!["mounts", "access", "/proc/sys/kernel/hostname"];
    args.extend(&paths);
    let r = probe(&args, |_| {});
    for p in paths {
        let m = mount(&r, p);
        assert_eq!(m["fs_type"], "proc", "{p}: {m}");
        assert!(has_option(m, "ro"), "{p}: {m}");
    }
    // A file root may write (0644, owned by root): refused by the read-only mount alone. The
    // rest of /proc stays as it was.
    assert_eq!(r["access"]["/proc/sys/kernel/hostname"]["write"], "EROFS");
    assert_eq!(mount(&r, "/proc")["options"][0], "rw");
}

// --- devices ---

#[test]
fn linux_devices() {
    let r = probe(&["stat", "/dev/husk-null", "/dev/husk-loop"], |b| {
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
    });
    assert_eq!(
        r["stat"]["/dev/husk-null"],
        json!({"type": "char", "major": 1, "minor": 3, "mode": 0o640, "uid": 1000, "gid": 2000})
    );
    assert_eq!(
        r["stat"]["/dev/husk-loop"],
        json!({"type": "block", "major": 7, "minor": 200, "mode": 0o600, "uid": 0, "gid": 6})
    );
}

#[test]
fn default_devices_and_dev_symlinks() {
    let nodes = [
        ("/dev/null", 1, 3),
        ("/dev/zero", 1, 5),
        ("/dev/full", 1, 7),
        ("/dev/random", 1, 8),
        ("/dev/urandom", 1, 9),
        ("/dev/tty", 5, 0),
    ];
    let links = [
        ("/dev/ptmx", "pts/ptmx"),
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ];
    let mut args = vec!["stat"];
    args.extend(nodes.iter().map(|n| n.0));
    args.extend(links.iter().map(|l| l.0));
    let r = probe(&args, |_| {});
    for (path, major, minor) in nodes {
        assert_eq!(
            r["stat"][path],
            json!({"type": "char", "major": major, "minor": minor, "mode": 0o666, "uid": 0, "gid": 0}),
            "{path}"
        );
    }
    for (path, target) in links {
        assert_eq!(r["stat"][path]["type"], "symlink", "{path}");
        assert_eq!(r["stat"][path]["target"], target, "{path}");
    }
}

// --- namespaces, id maps ---

#[test]
fn loopback_is_up_in_a_new_network_namespace() {
    let r = probe(&["ns", "read", "/sys/class/net/lo/flags"], |_| {});
    assert_eq!(ns_kind(&r, "net"), "new");
    // IFF_UP | IFF_LOOPBACK (linux/if.h); runc 1.1.5 brings it up too.
    assert_eq!(r["read"]["/sys/class/net/lo/flags"], "0x9");
}

#[test]
fn linux_namespaces() {
    let kinds = |r: &Value| -> Vec<(String, Value)> {
        ["cgroup", "ipc", "mnt", "net", "pid", "user", "uts", "time"]
            .iter()
            .filter(|ns| host::has_ns(ns))
            .map(|ns| (ns.to_string(), ns_kind(r, ns)))
            .collect()
    };
    let want = |new: &[&str]| -> Vec<(String, Value)> {
        ["cgroup", "ipc", "mnt", "net", "pid", "user", "uts", "time"]
            .iter()
            .filter(|ns| host::has_ns(ns))
            .map(|ns| {
                let kind = if new.contains(ns) { "new" } else { "host" };
                (ns.to_string(), json!(kind))
            })
            .collect()
    };
    // runc's default: pid, network, ipc, uts, mount.
    let r = probe(&["ns"], |_| {});
    assert_eq!(kinds(&r), want(&["ipc", "mnt", "net", "pid", "uts"]));
    // Without network and ipc, with cgroup.
    let r = probe(&["ns"], |b| {
        b.namespaces(&["pid", "mount", "uts", "cgroup"]);
    });
    assert_eq!(kinds(&r), want(&["cgroup", "mnt", "pid", "uts"]));
    // pid_for_children follows pid.
    assert_eq!(r["ns"]["pid_for_children"], r["ns"]["pid"]);
}

#[test]
fn linux_uid_and_gid_mappings() {
    let r = probe(&["idmap", "ids", "ns"], |b| {
        b.namespace("user", None);
        b.set(
            "/linux/uidMappings",
            json!([{"containerID": 0, "hostID": 100000, "size": 65536}]),
        );
        b.set(
            "/linux/gidMappings",
            json!([{"containerID": 0, "hostID": 200000, "size": 1000},
                   {"containerID": 1000, "hostID": 300000, "size": 10}]),
        );
    });
    assert_eq!(r["idmap"]["uid_map"], json!([[0, 100000, 65536]]));
    assert_eq!(
        r["idmap"]["gid_map"],
        json!([[0, 200000, 1000], [1000, 300000, 10]])
    );
    assert_eq!(ns_kind(&r, "user"), "new");
    assert_eq!(r["ids"]["uid"]["effective"], 0);
    assert_eq!(r["ids"]["gid"]["effective"], 0);
}

#[test]
fn linux_time_offsets() {
    if reference_lacks("time namespaces and linux.timeOffsets (runc 1.1.5 predates them)") {
        return;
    }
    if host_lacks(!host::has_ns("time"), "time namespaces (Linux >= 5.6)") {
        return;
    }
    let r = probe(&["read", "/proc/self/timens_offsets"], |b| {
        b.namespace("time", None);
        b.set(
            "/linux/timeOffsets",
            json!({"monotonic": {"secs": 86400, "nanosecs": 5}, "boottime": {"secs": -3, "nanosecs": 0}}),
        );
    });
    let offsets: Vec<Vec<&str>> = r["read"]["/proc/self/timens_offsets"]
        .as_str()
        .unwrap()
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        offsets,
        [["monotonic", "86400", "5"], ["boottime", "-3", "0"]]
    );
}

// --- seccomp, cgroups ---

#[test]
fn linux_seccomp() {
    let r = probe(&["seccomp", "cwd", "umask"], |b| {
        b.set(
            "/linux/seccomp",
            json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 95}]
            }),
        );
    });
    assert_eq!(r["seccomp"], json!({"mode": 2, "filters": 1}));
    // getcwd fails with errnoRet (EOPNOTSUPP); other calls work.
    assert_eq!(r["cwd"], json!({"error": "EOPNOTSUPP"}));
    assert_eq!(r["umask"], 0o022);
    // No profile: no filter.
    assert_eq!(
        probe(&["seccomp"], |_| {})["seccomp"],
        json!({"mode": 0, "filters": 0})
    );
}

#[test]
fn linux_cgroups_path() {
    let mut id = String::new();
    let r = probe(&["cgroup"], |b| id = b.id.clone());
    let lines = strings(&r["cgroup"]);
    let path = format!("/{}", cgroups::cgroups_path(&id));
    // The memory controller's line on v1 (`N:memory:/...`), the unified line on v2 (`0::/...`):
    // relative to the test process's own cgroup there.
    let own = |pick: &dyn Fn(&str) -> bool| -> Option<String> {
        fs::read_to_string("/proc/self/cgroup")
            .unwrap()
            .lines()
            .find(|l| pick(l))
            .map(|l| {
                l.rsplit(':')
                    .next()
                    .unwrap()
                    .trim_end_matches('/')
                    .to_string()
            })
    };
    let is_memory = |l: &str| {
        l.split(':')
            .nth(1)
            .is_some_and(|c| c.split(',').any(|c| c == "memory"))
    };
    let is_unified = |l: &str| l.starts_with("0::");
    let pick: &dyn Fn(&str) -> bool = if own(&is_memory).is_some() {
        &is_memory
    } else {
        &is_unified
    };
    let want = format!("{}{path}", own(pick).unwrap());
    let seen = lines
        .iter()
        .find(|l| pick(l))
        .unwrap_or_else(|| panic!("{lines:?}"));
    assert_eq!(seen.rsplit(':').next().unwrap(), want, "{lines:?}");
}
