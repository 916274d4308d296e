//! Seccomp profiles in the Docker/Podman profile format (containers-common `seccomp.json`,
//! moby `profiles/seccomp`), turned into runtime-spec `linux.seccomp` (config-linux.md,
//! "Seccomp") for one container.
//!
//! The format adds to the spec's `syscalls` entries a `comment` and the conditions
//! `includes` / `excludes`: `caps` (a group is included when the container's capability set
//! holds every capability of `includes.caps` and none of `excludes.caps`), `arches` (Go
//! architecture names: `amd64`, `arm64`, ...; compared with this host's) and `minKernel`
//! (`MAJOR.MINOR`; compared with uname's release). `archMap` lists, per main architecture, the
//! sub-architectures whose system calls the filter also covers (x86 and x32 on x86_64).
//!
//! husk's default profile ([`DEFAULT_PROFILE`], `seccomp_default.json`) has the rules of Podman's
//! default profile (containers-common `seccomp.json`, as in containers/container-libs
//! `common/pkg/seccomp/seccomp.json`), regrouped by purpose and kept as reviewed data: every group
//! carries a `comment` saying why it is allowed or denied. Like Podman's, a system call no group
//! names fails with ENOSYS (38), so programs take it for a call this kernel lacks and fall back
//! (io_uring users to plain I/O, statmount users to /proc/self/mountinfo); the calls denied on
//! purpose fail with EPERM (1), some only without the capability that governs them (CAP_SYS_ADMIN
//! for sethostname and quotactl, CAP_SYS_MODULE, CAP_SYS_TIME, ...). Mounts, unshare, clone's
//! namespace flags, setns, keyctl and ptrace are left to the kernel's own capability checks, as
//! in Podman. A unit
//! test converts it and Debian's containers-common (`/usr/share/containers/seccomp.json`) for the
//! same container and compares the rules name by name.

use std::io;

use serde::Deserialize;
use serde_json::{json, Map, Value};

/// husk's default profile (`seccomp_default.json`, Podman's rules): a system call no group names
/// fails with ENOSYS (38); the calls denied on purpose fail with EPERM (1).
pub const DEFAULT_PROFILE: &str = include_str!("seccomp_default.json");

/// Errors of reading or converting a profile.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be read.
    #[error("{0}")]
    Read(#[source] io::Error),
    /// Not a profile: bad JSON or a missing/mistyped field.
    #[error(
        "not a seccomp profile (Docker/Podman format, e.g. containers-common seccomp.json): {0}"
    )]
    Parse(#[source] serde_json::Error),
    /// A `syscalls` entry without names.
    #[error("syscalls[{0}] has no `names`")]
    NoNames(usize),
    /// A `minKernel` that is not `MAJOR.MINOR`.
    #[error("syscalls[{index}]: minKernel `{value}` is not MAJOR.MINOR (e.g. 4.8)")]
    MinKernel {
        /// The entry.
        index: usize,
        /// The value as given.
        value: String,
    },
}

/// A profile in the Docker/Podman format.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// `defaultAction` (an `SCMP_ACT_` name).
    pub default_action: String,
    /// `defaultErrnoRet`.
    #[serde(default)]
    pub default_errno_ret: Option<u32>,
    /// `architectures`, used when there is no `archMap`.
    #[serde(default)]
    pub architectures: Option<Vec<String>>,
    /// `archMap`: main architecture and its sub-architectures.
    #[serde(default)]
    pub arch_map: Option<Vec<ArchMap>>,
    /// `flags` (`SECCOMP_FILTER_FLAG_` names).
    #[serde(default)]
    pub flags: Option<Vec<String>>,
    /// The groups of system calls.
    #[serde(default)]
    pub syscalls: Vec<Group>,
}

/// One `archMap` entry.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMap {
    /// The main architecture (`SCMP_ARCH_X86_64`).
    pub architecture: String,
    /// Its sub-architectures (may be null).
    #[serde(default)]
    pub sub_architectures: Option<Vec<String>>,
}

/// One group of system calls.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// `names`.
    #[serde(default)]
    pub names: Vec<String>,
    /// `name` (the profile format's older single-name form).
    #[serde(default)]
    pub name: Option<String>,
    /// `action`.
    pub action: String,
    /// `errnoRet`.
    #[serde(default)]
    pub errno_ret: Option<u32>,
    /// `args`, passed through as the spec's `args`.
    #[serde(default)]
    pub args: Option<Vec<Value>>,
    /// Why the group is there (not used).
    #[serde(default)]
    pub comment: Option<String>,
    /// Conditions for including the group.
    #[serde(default)]
    pub includes: Condition,
    /// Conditions for leaving it out.
    #[serde(default)]
    pub excludes: Condition,
}

/// `includes` / `excludes`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Capabilities (`CAP_` names).
    #[serde(default)]
    pub caps: Vec<String>,
    /// Go architecture names.
    #[serde(default)]
    pub arches: Vec<String>,
    /// `MAJOR.MINOR`.
    #[serde(default)]
    pub min_kernel: Option<String>,
}

/// The host a profile is converted for.
#[derive(Debug, Clone)]
pub struct Host {
    /// libseccomp's name of the architecture (`SCMP_ARCH_X86_64`).
    pub scmp_arch: &'static str,
    /// Go's name of it, as the profile's `arches` use (`amd64`).
    pub go_arch: &'static str,
    /// The kernel's (major, minor).
    pub kernel: (u32, u32),
}

impl Host {
    /// This machine: the architecture husk was built for and uname(2)'s release.
    pub fn live() -> Self {
        let (scmp_arch, go_arch) = match std::env::consts::ARCH {
            "x86" => ("SCMP_ARCH_X86", "386"),
            "aarch64" => ("SCMP_ARCH_AARCH64", "arm64"),
            "arm" => ("SCMP_ARCH_ARM", "arm"),
            "s390x" => ("SCMP_ARCH_S390X", "s390x"),
            "powerpc64" if cfg!(target_endian = "little") => ("SCMP_ARCH_PPC64LE", "ppc64le"),
            "powerpc64" => ("SCMP_ARCH_PPC64", "ppc64"),
            "riscv64" => ("SCMP_ARCH_RISCV64", "riscv64"),
            "loongarch64" => ("SCMP_ARCH_LOONGARCH64", "loong64"),
            _ => ("SCMP_ARCH_X86_64", "amd64"),
        };
        let kernel = nix::sys::utsname::uname()
            .ok()
            .and_then(|u| parse_version(&u.release().to_string_lossy()))
            .unwrap_or((0, 0));
        Self {
            scmp_arch,
            go_arch,
            kernel,
        }
    }
}

/// `MAJOR.MINOR` from the start of a kernel release or a `minKernel` ("6.1.0-18-amd64").
pub fn parse_version(s: &str) -> Option<(u32, u32)> {
    let mut it = s.split(|c: char| !c.is_ascii_digit());
    let major = it.next()?.parse().ok()?;
    let minor = it.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

/// The default profile as `linux.seccomp` for a container with `capabilities`, on this host.
///
/// Errors: [`ProfileError`] (only if husk's own data were broken; a unit test converts it).
pub fn default_profile(capabilities: &[String]) -> Result<Value, ProfileError> {
    convert_text(DEFAULT_PROFILE, capabilities)
}

/// Parses `text` as a profile and converts it for `capabilities` on this host.
///
/// Errors: [`ProfileError`].
pub fn convert_text(text: &str, capabilities: &[String]) -> Result<Value, ProfileError> {
    let profile: Profile = serde_json::from_str(text).map_err(ProfileError::Parse)?;
    convert(&profile, capabilities, &Host::live())
}

/// `profile` as `linux.seccomp` for a container with `capabilities` on `host`: the groups whose
/// conditions hold, each as a spec `syscalls` entry (names, action, errnoRet, args), and the
/// host's architecture with its sub-architectures.
///
/// Errors: [`ProfileError::NoNames`], [`ProfileError::MinKernel`].
pub fn convert(
    profile: &Profile,
    capabilities: &[String],
    host: &Host,
) -> Result<Value, ProfileError> {
    let has_cap = |c: &String| capabilities.contains(c);
    let mut syscalls = Vec::new();
    for (index, g) in profile.syscalls.iter().enumerate() {
        let mut names = g.names.clone();
        names.extend(g.name.clone());
        if names.is_empty() {
            return Err(ProfileError::NoNames(index));
        }
        let min_kernel = |c: &Condition| -> Result<Option<(u32, u32)>, ProfileError> {
            c.min_kernel
                .as_ref()
                .map(|v| {
                    parse_version(v).ok_or_else(|| ProfileError::MinKernel {
                        index,
                        value: v.clone(),
                    })
                })
                .transpose()
        };
        let inc = &g.includes;
        let exc = &g.excludes;
        let included = inc.caps.iter().all(has_cap)
            && (inc.arches.is_empty() || inc.arches.iter().any(|a| a == host.go_arch))
            && min_kernel(inc)?.is_none_or(|k| host.kernel >= k);
        let excluded = exc.caps.iter().any(has_cap)
            || exc.arches.iter().any(|a| a == host.go_arch)
            || min_kernel(exc)?.is_some_and(|k| host.kernel >= k);
        if !included || excluded {
            continue;
        }
        let mut rule = Map::new();
        rule.insert("names".into(), json!(names));
        rule.insert("action".into(), json!(g.action));
        if let Some(e) = g.errno_ret {
            rule.insert("errnoRet".into(), json!(e));
        }
        if let Some(a) = &g.args {
            if !a.is_empty() {
                rule.insert("args".into(), json!(a));
            }
        }
        syscalls.push(Value::Object(rule));
    }
    let mut out = Map::new();
    out.insert("defaultAction".into(), json!(profile.default_action));
    if let Some(e) = profile.default_errno_ret {
        out.insert("defaultErrnoRet".into(), json!(e));
    }
    let architectures = match &profile.arch_map {
        Some(map) => map
            .iter()
            .find(|m| m.architecture == host.scmp_arch)
            .map(|m| {
                std::iter::once(m.architecture.clone())
                    .chain(m.sub_architectures.iter().flatten().cloned())
                    .collect::<Vec<_>>()
            }),
        None => profile.architectures.clone(),
    };
    if let Some(a) = architectures {
        out.insert("architectures".into(), json!(a));
    }
    if let Some(f) = &profile.flags {
        out.insert("flags".into(), json!(f));
    }
    out.insert("syscalls".into(), Value::Array(syscalls));
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    const AMD64: Host = Host {
        scmp_arch: "SCMP_ARCH_X86_64",
        go_arch: "amd64",
        kernel: (6, 1),
    };

    fn caps(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_owned()).collect()
    }

    fn default_for(c: &[&str], host: &Host) -> Value {
        let p: Profile = serde_json::from_str(DEFAULT_PROFILE).unwrap();
        convert(&p, &caps(c), host).unwrap()
    }

    /// The rules for `name` in a converted profile, in order, as (action, errnoRet, args).
    fn rules(v: &Value, name: &str) -> Vec<(String, Option<u64>, Value)> {
        v["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["names"].as_array().unwrap().iter().any(|n| n == name))
            .map(|r| {
                (
                    r["action"].as_str().unwrap().to_owned(),
                    r.get("errnoRet").and_then(Value::as_u64),
                    r.get("args").cloned().unwrap_or(json!([])),
                )
            })
            .collect()
    }

    fn allow() -> (String, Option<u64>, Value) {
        ("SCMP_ACT_ALLOW".to_owned(), None, json!([]))
    }

    fn eperm() -> (String, Option<u64>, Value) {
        ("SCMP_ACT_ERRNO".to_owned(), Some(1), json!([]))
    }

    /// A rule on socket(2)'s argument `index` with `op` and `value`.
    fn socket_rule(
        action: &str,
        errno: Option<u64>,
        args: &[(u64, &str, u64)],
    ) -> (String, Option<u64>, Value) {
        let args = args
            .iter()
            .map(|(i, op, v)| json!({"index": i, "value": v, "valueTwo": 0, "op": op}))
            .collect::<Vec<_>>();
        (action.to_owned(), errno, Value::Array(args))
    }

    #[test]
    fn default_profile_is_reviewed_data() {
        let raw: Value = serde_json::from_str(DEFAULT_PROFILE).unwrap();
        assert_eq!(raw["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(raw["defaultErrnoRet"], 38, "ENOSYS, as Podman");
        for (i, g) in raw["syscalls"].as_array().unwrap().iter().enumerate() {
            let c = g["comment"].as_str().unwrap_or_default();
            assert!(c.len() > 10, "group {i} needs a comment saying why");
        }
    }

    #[test]
    fn default_profile_without_extra_caps() {
        let v = default_for(&crate::bundle::DEFAULT_CAPABILITIES, &AMD64);
        assert_eq!(v["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(v["defaultErrnoRet"], 38);
        assert_eq!(
            v["architectures"],
            json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
        );
        // Allowed without a condition, the kernel's own checks decide (as in Podman).
        for ok in [
            "read",
            "write",
            "execve",
            "openat",
            "arch_prctl",
            "chroot",
            "ptrace",
            "clone",
            "clone3",
            "mount",
            "umount2",
            "unshare",
            "pivot_root",
            "keyctl",
            "reboot",
            "futex_waitv",
            "fchmodat2",
        ] {
            assert_eq!(rules(&v, ok), [allow()], "{ok}");
        }
        // Denied with EPERM: always, or for want of the capability.
        for denied in [
            "kexec_load",
            "swapon",
            "userfaultfd",
            "vmsplice",
            "cachestat",
            "syscall",
            "init_module",
            "open_by_handle_at",
            "bpf",
            "perf_event_open",
            "sethostname",
            "quotactl_fd",
            "settimeofday",
            "acct",
            "kcmp",
            "iopl",
            "vhangup",
        ] {
            assert_eq!(rules(&v, denied), [eperm()], "{denied}");
        }
        // setns: Podman lists it unconditionally and in the CAP_SYS_ADMIN EPERM group; the
        // allow comes first, which is the rule libseccomp keeps.
        assert_eq!(rules(&v, "setns"), [allow(), eperm()]);
        // Not named at all: the default action, ENOSYS.
        for unlisted in [
            "io_uring_setup",
            "add_key",
            "request_key",
            "statmount",
            "listmount",
            "mseal",
            "s390_runtime_instr",
            "set_tls",
            "sigaction",
            "readdir",
        ] {
            assert_eq!(rules(&v, unlisted), [], "{unlisted}");
        }
        // CAP_AUDIT_WRITE is in Docker's set: every socket but AF_VSOCK (40) and AF_ALG (38).
        assert_eq!(
            rules(&v, "socket"),
            [
                socket_rule("SCMP_ACT_ERRNO", Some(1), &[(0, "SCMP_CMP_EQ", 40)]),
                socket_rule("SCMP_ACT_ERRNO", Some(1), &[(0, "SCMP_CMP_EQ", 38)]),
                socket_rule("SCMP_ACT_ALLOW", None, &[(0, "SCMP_CMP_NE", 40)]),
            ]
        );
        let personas: Vec<u64> = rules(&v, "personality")
            .iter()
            .map(|(a, e, args)| {
                assert_eq!((a.as_str(), *e), ("SCMP_ACT_ALLOW", None));
                assert_eq!(args[0]["op"], "SCMP_CMP_EQ");
                args[0]["value"].as_u64().unwrap()
            })
            .collect();
        assert_eq!(personas, [0, 8, 0x20000, 0x20008, 0xffff_ffff]);
        // The spec parses it.
        let _: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(v).unwrap();
    }

    #[test]
    fn capability_groups_follow_the_capability_set() {
        let v = default_for(&["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"], &AMD64);
        for ok in [
            "sethostname",
            "quotactl",
            "lookup_dcookie",
            "bpf",
            "perf_event_open",
            "kcmp",
            "process_madvise",
        ] {
            assert_eq!(rules(&v, ok), [allow()], "{ok} with the cap");
        }
        assert_eq!(rules(&v, "setns"), [allow(), allow()]);
        assert_eq!(rules(&v, "chroot"), [eperm()], "no CAP_SYS_CHROOT");
        // Without CAP_AUDIT_WRITE: audit netlink sockets get EINVAL (22).
        assert_eq!(
            rules(&v, "socket"),
            [
                socket_rule("SCMP_ACT_ERRNO", Some(1), &[(0, "SCMP_CMP_EQ", 40)]),
                socket_rule("SCMP_ACT_ERRNO", Some(1), &[(0, "SCMP_CMP_EQ", 38)]),
                socket_rule(
                    "SCMP_ACT_ERRNO",
                    Some(22),
                    &[(0, "SCMP_CMP_EQ", 16), (2, "SCMP_CMP_EQ", 9)]
                ),
                socket_rule(
                    "SCMP_ACT_ALLOW",
                    None,
                    &[(0, "SCMP_CMP_EQ", 16), (2, "SCMP_CMP_NE", 9)]
                ),
                socket_rule("SCMP_ACT_ALLOW", None, &[(0, "SCMP_CMP_NE", 16)]),
            ]
        );
        // CAP_BPF and CAP_PERFMON grant their call without CAP_SYS_ADMIN.
        let v = default_for(&["CAP_BPF", "CAP_PERFMON"], &AMD64);
        assert_eq!(rules(&v, "bpf"), [allow()]);
        assert_eq!(rules(&v, "perf_event_open"), [allow()]);
        assert_eq!(rules(&v, "sethostname"), [eperm()]);
    }

    #[test]
    fn arch_conditions() {
        let arm = Host {
            scmp_arch: "SCMP_ARCH_AARCH64",
            go_arch: "arm64",
            kernel: (4, 4),
        };
        let v = default_for(&[], &arm);
        assert_eq!(
            v["architectures"],
            json!(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"])
        );
        assert_eq!(rules(&v, "set_tls"), [allow()]);
        assert_eq!(rules(&v, "arch_prctl"), []);
        assert_eq!(rules(&v, "modify_ldt"), []);
        // Podman's archMap has no riscv64 entry: no `architectures`, the native one only.
        let riscv = Host {
            scmp_arch: "SCMP_ARCH_RISCV64",
            go_arch: "riscv64",
            kernel: (6, 1),
        };
        let v = default_for(&[], &riscv);
        assert!(v.get("architectures").is_none(), "{}", v["architectures"]);
        assert_eq!(rules(&v, "riscv_flush_icache"), [allow()]);
        assert_eq!(rules(&v, "set_tls"), []);
    }

    #[test]
    fn min_kernel_conditions() {
        // The default profile has none (Podman's has none); the format has them.
        assert!(!DEFAULT_PROFILE.contains("minKernel"));
        let text = r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
            {"names":["ptrace"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"4.8"}},
            {"names":["kcmp"],"action":"SCMP_ACT_ALLOW","excludes":{"minKernel":"5.10"}}]}"#;
        let p: Profile = serde_json::from_str(text).unwrap();
        let old = Host {
            kernel: (4, 4),
            ..AMD64
        };
        let v = convert(&p, &[], &old).unwrap();
        assert_eq!(
            (rules(&v, "ptrace"), rules(&v, "kcmp")),
            (vec![], vec![allow()])
        );
        let v = convert(&p, &[], &AMD64).unwrap();
        assert_eq!(
            (rules(&v, "ptrace"), rules(&v, "kcmp")),
            (vec![allow()], vec![])
        );
    }

    /// Where husk's default (Podman's current profile) and Debian's containers-common 0.50.1
    /// differ, because Podman's profile changed after that release; each entry says how.
    const CHANGED_SINCE_0_50_1: &[(&str, &str)] = &[
        (
            "fchmodat2",
            "allowed since (Linux 6.6 call; unlisted in 0.50.1: ENOSYS)",
        ),
        ("futex_wait", "allowed since (Linux 6.7 futex2 call)"),
        ("futex_wake", "allowed since (Linux 6.7 futex2 call)"),
        ("futex_requeue", "allowed since (Linux 6.7 futex2 call)"),
        ("futex_waitv", "allowed since (Linux 5.16 futex2 call)"),
        (
            "fanotify_init",
            "moved from the CAP_SYS_ADMIN groups to the unconditional allow",
        ),
        (
            "quotactl_fd",
            "added to the CAP_SYS_ADMIN groups (EPERM without it)",
        ),
        ("cachestat", "added to the EPERM list (Linux 6.5 call)"),
        (
            "map_shadow_stack",
            "added to the EPERM list (Linux 6.6 call)",
        ),
        (
            "io_pgetevents_time64",
            "added to the EPERM list beside io_pgetevents",
        ),
        ("syscall", "moved from the allow list to the EPERM list"),
        (
            "swapcontext",
            "moved from the EPERM list to the ppc64le group (a powerpc call)",
        ),
        ("readdir", "dropped from the allow list (ENOSYS now)"),
        ("sigaction", "dropped from the allow list (ENOSYS now)"),
        ("sigpending", "dropped from the allow list (ENOSYS now)"),
        ("sigsuspend", "dropped from the allow list (ENOSYS now)"),
        ("timerfd", "dropped from the allow list (ENOSYS now)"),
        (
            "socket",
            "AF_VSOCK and AF_ALG now EPERM; the netlink allow rule is now limited to AF_NETLINK",
        ),
    ];

    /// Each name's rules, in order, as (action, errnoRet, args).
    fn by_name(v: &Value) -> std::collections::BTreeMap<String, Vec<Value>> {
        let mut out = std::collections::BTreeMap::<String, Vec<Value>>::new();
        for r in v["syscalls"].as_array().unwrap() {
            let rule = json!([
                r["action"],
                r.get("errnoRet"),
                r.get("args").cloned().unwrap_or(json!([]))
            ]);
            for n in r["names"].as_array().unwrap() {
                out.entry(n.as_str().unwrap().to_owned())
                    .or_default()
                    .push(rule.clone());
            }
        }
        out
    }

    #[test]
    fn same_rules_as_debians_containers_common() {
        const PATH: &str = "/usr/share/containers/seccomp.json";
        let text = std::fs::read_to_string(PATH).unwrap_or_else(|e| {
            panic!(
                "{PATH}: {e}: the comparison with Podman's profile needs Debian's \
                 containers-common: apt-get install golang-github-containers-common"
            )
        });
        let theirs: Profile = serde_json::from_str(&text).unwrap();
        let ours: Profile = serde_json::from_str(DEFAULT_PROFILE).unwrap();
        let host = Host::live();
        let docker = caps(&crate::bundle::DEFAULT_CAPABILITIES);
        let mut with_admin = docker.clone();
        with_admin.push("CAP_SYS_ADMIN".to_owned());
        let mut differing = std::collections::BTreeSet::new();
        for set in [&docker, &with_admin] {
            let t = convert(&theirs, set, &host).unwrap();
            let o = convert(&ours, set, &host).unwrap();
            for key in ["defaultAction", "defaultErrnoRet", "architectures"] {
                assert_eq!(o.get(key), t.get(key), "{key}");
            }
            let (t, o) = (by_name(&t), by_name(&o));
            for name in t.keys().chain(o.keys()) {
                if t.get(name) == o.get(name) {
                    continue;
                }
                assert!(
                    CHANGED_SINCE_0_50_1.iter().any(|(n, _)| n == name),
                    "{name}: husk {:?}, containers-common 0.50.1 {:?} (caps {set:?})",
                    o.get(name),
                    t.get(name)
                );
                differing.insert(name.clone());
            }
        }
        // The list holds only real differences (it must not go stale when Debian updates).
        for (name, why) in CHANGED_SINCE_0_50_1 {
            assert!(
                differing.contains(*name),
                "{name} ({why}) no longer differs"
            );
        }
    }

    #[test]
    fn versions_and_errors() {
        assert_eq!(parse_version("6.1.0-18-amd64"), Some((6, 1)));
        assert_eq!(parse_version("4.8"), Some((4, 8)));
        assert_eq!(parse_version("5"), Some((5, 0)));
        assert_eq!(parse_version("x"), None);
        let p: Profile = serde_json::from_str(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"action":"SCMP_ACT_ERRNO"}]}"#,
        )
        .unwrap();
        assert!(matches!(
            convert(&p, &[], &AMD64),
            Err(ProfileError::NoNames(0))
        ));
        assert!(matches!(
            convert_text("[]", &[]),
            Err(ProfileError::Parse(_))
        ));
        // No archMap: `architectures` passes through; a single `name` counts.
        let v = convert_text(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
                "syscalls":[{"name":"keyctl","action":"SCMP_ACT_ERRNO","errnoRet":1}]}"#,
            &[],
        )
        .unwrap();
        assert_eq!(v["architectures"], json!(["SCMP_ARCH_X86_64"]));
        assert_eq!(
            v["syscalls"],
            json!([{"names": ["keyctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}])
        );
    }
}
