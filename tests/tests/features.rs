//! `features` (runtime-spec v1.3 features.md and features-linux.md; runc 1.1+ has the same
//! verb): the JSON document on stdout, read back and checked against the host and against what
//! runc 1.1.5 (the reference, /usr/sbin/runc) prints for the parts both implement.

#![allow(clippy::unwrap_used)] // tests may unwrap (project rules)

use std::path::Path;

use husk_tests::{host_lacks, reference_lacks, Runtime};
use serde_json::Value;

const RUNC: &str = "/usr/sbin/runc";

/// `<runtime> features`, parsed.
fn features(rt: &Runtime) -> Value {
    let o = rt.cmd(&["features"]).ok();
    assert_eq!(o.stderr, "", "nothing on stderr");
    serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", o.stdout))
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

/// Whether this kernel is Linux `major.minor` or later (uname -r).
fn kernel_at_least(major: u32, minor: u32) -> bool {
    let release = nix::sys::utsname::uname().unwrap();
    let release = release.release().to_string_lossy();
    let mut parts = release
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (ma, mi) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (ma, mi) >= (major, minor)
}

#[test]
fn the_document_names_what_both_runtimes_implement() {
    let rt = Runtime::new();
    let d = features(&rt);
    assert_eq!(d["ociVersionMin"], "1.0.0");
    assert_eq!(
        strings(&d["hooks"]),
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop"
        ]
    );
    let options = strings(&d["mountOptions"]);
    for o in [
        "ro",
        "rro",
        "nosymfollow",
        "rnosymfollow",
        "rbind",
        "rslave",
        "strictatime",
    ] {
        assert!(options.contains(&o), "mountOptions lacks {o}: {options:?}");
    }
    let namespaces = strings(&d["linux"]["namespaces"]);
    for ns in ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"] {
        assert!(
            namespaces.contains(&ns),
            "namespaces lacks {ns}: {namespaces:?}"
        );
    }
    let caps = strings(&d["linux"]["capabilities"]);
    assert_eq!(caps.len(), 41, "{caps:?}");
    assert_eq!(caps[0], "CAP_CHOWN");
    assert_eq!(caps[21], "CAP_SYS_ADMIN");
    assert_eq!(caps[40], "CAP_CHECKPOINT_RESTORE");
    let seccomp = &d["linux"]["seccomp"];
    assert_eq!(seccomp["enabled"], true);
    let actions = strings(&seccomp["actions"]);
    for a in [
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_LOG",
    ] {
        assert!(actions.contains(&a), "actions lacks {a}: {actions:?}");
    }
    assert_eq!(strings(&seccomp["operators"]).len(), 7);
    let archs = strings(&seccomp["archs"]);
    for a in ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"] {
        assert!(archs.contains(&a), "archs lacks {a}: {archs:?}");
    }
    let libseccomp = d["annotations"]["io.github.seccomp.libseccomp.version"]
        .as_str()
        .unwrap();
    assert!(
        libseccomp.split('.').all(|n| n.parse::<u32>().is_ok()) && libseccomp.starts_with("2."),
        "{libseccomp}"
    );
}

#[test]
fn husk_reports_v1_3_and_this_host() {
    if reference_lacks("runc 1.1.5's document is runtime-spec 1.0.2 (no time namespace, idmap, memoryPolicy, netDevices, knownFlags) and says true for AppArmor and SELinux on any host") {
        return;
    }
    let rt = Runtime::new();
    let d = features(&rt);
    assert_eq!(d["ociVersionMax"], "1.3.0");
    assert_eq!(
        strings(&d["linux"]["namespaces"]),
        ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"]
    );
    let options = strings(&d["mountOptions"]);
    assert!(options.contains(&"idmap") && options.contains(&"ridmap"));
    assert!(options.contains(&"tmpcopyup"));
    // Passed to the filesystem as data, not given a meaning by husk.
    for o in ["acl", "iversion"] {
        assert!(!options.contains(&o), "{o} listed");
    }
    let l = &d["linux"];
    let seccomp = &l["seccomp"];
    assert!(strings(&seccomp["actions"]).contains(&"SCMP_ACT_NOTIFY"));
    let supported = strings(&seccomp["supportedFlags"]);
    // libseccomp 2.5 and Linux 4.17+ support all three.
    for f in [
        "SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_LOG",
    ] {
        assert!(supported.contains(&f), "{f}: {supported:?}");
    }
    assert!(strings(&seccomp["knownFlags"]).contains(&"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"));
    // Linux 6.0+ (this host's kernel version, read independently).
    let release = nix::sys::utsname::uname().unwrap();
    let release = release.release().to_string_lossy().into_owned();
    let mut v = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let (major, minor) = (v.next().unwrap_or(0), v.next().unwrap_or(0));
    assert_eq!(
        supported.contains(&"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"),
        (major, minor) >= (6, 0),
        "kernel {release}: {supported:?}"
    );

    // The host's own answers, read here independently.
    let apparmor = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y");
    assert_eq!(l["apparmor"]["enabled"], apparmor);
    let selinux = Path::new("/sys/fs/selinux/enforce").exists();
    assert_eq!(l["selinux"]["enabled"], selinux);
    if !host_lacks(
        !kernel_at_least(5, 12),
        "mount_setattr(2), which id-mapped mounts need, is Linux 5.12",
    ) {
        assert_eq!(l["mountExtensions"]["idmap"]["enabled"], true);
    }
    assert_eq!(l["cgroup"]["v1"], true);
    assert_eq!(l["cgroup"]["v2"], true);
    assert_eq!(l["cgroup"]["systemd"], false);
    assert_eq!(l["cgroup"]["rdma"], true);
    assert_eq!(l["intelRdt"]["enabled"], false);
    assert_eq!(l["netDevices"]["enabled"], true);
    assert_eq!(strings(&l["memoryPolicy"]["modes"]).len(), 7);
    assert_eq!(
        strings(&l["memoryPolicy"]["flags"]),
        [
            "MPOL_F_NUMA_BALANCING",
            "MPOL_F_RELATIVE_NODES",
            "MPOL_F_STATIC_NODES"
        ]
    );
    assert_eq!(
        d["annotations"]["org.husk.version"],
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(
        d["potentiallyUnsafeConfigAnnotations"],
        serde_json::json!(["org.husk.rootfs.overlay"])
    );
}

/// husk's lists against runc 1.1.5's for what both implement: the same hooks, capabilities,
/// operators and libseccomp; runc's mount options except the ones husk hands to the
/// filesystem as data; runc's seccomp actions except SCMP_ACT_NOTIFY.
#[test]
fn the_shared_parts_match_runc() {
    if reference_lacks("this test compares husk-runtime's document with runc's") {
        return;
    }
    if host_lacks(!Path::new(RUNC).exists(), "runc 1.1.5 at /usr/sbin/runc") {
        return;
    }
    let husk = features(&Runtime::new());
    let runc = features(&Runtime::with_binary(Path::new(RUNC)));
    for path in [
        "/hooks",
        "/linux/capabilities",
        "/linux/seccomp/operators",
        "/annotations/io.github.seccomp.libseccomp.version",
    ] {
        assert_eq!(husk.pointer(path), runc.pointer(path), "{path}");
    }
    let husk_options = strings(&husk["mountOptions"]);
    for o in strings(&runc["mountOptions"]) {
        let as_data = ["acl", "noacl", "iversion", "noiversion"].contains(&o);
        assert_eq!(husk_options.contains(&o), !as_data, "mount option {o}");
    }
    let husk_actions = strings(&husk["linux"]["seccomp"]["actions"]);
    for a in strings(&runc["linux"]["seccomp"]["actions"]) {
        assert!(husk_actions.contains(&a), "action {a}");
    }
    let husk_archs = strings(&husk["linux"]["seccomp"]["archs"]);
    for a in strings(&runc["linux"]["seccomp"]["archs"]) {
        assert!(husk_archs.contains(&a), "arch {a}");
    }
}

#[test]
fn an_argument_is_refused() {
    let rt = Runtime::new();
    let o = rt.cmd(&["features", "extra"]).failed();
    // runc prints its usage on stdout, husk-runtime on stderr: neither prints the document.
    assert!(!o.stdout.contains("ociVersionMin"), "{o:#?}");
    o.stderr_mentions(&["argument"]);
}
