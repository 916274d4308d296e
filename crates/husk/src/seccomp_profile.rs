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
//! husk's default profile ([`DEFAULT_PROFILE`], `seccomp_default.json`) is the allow list of
//! Docker's default profile (moby `profiles/seccomp/default.json`, from which containers-common's
//! is derived), regrouped by purpose and kept as reviewed data: every group carries a `comment`
//! saying why it is allowed. Like Docker's, it denies with EPERM and makes mount, unshare,
//! setns, ptrace (before 4.8) and the like depend on the capability that governs them.

use std::io;

use serde::Deserialize;
use serde_json::{json, Map, Value};

/// husk's default profile (`seccomp_default.json`): everything not listed fails with EPERM.
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

    /// Every name the filter allows without arguments.
    fn allowed(v: &Value) -> Vec<String> {
        v["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["action"] == "SCMP_ACT_ALLOW" && r.get("args").is_none())
            .flat_map(|r| r["names"].as_array().unwrap().iter())
            .map(|n| n.as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn default_profile_is_reviewed_data() {
        let raw: Value = serde_json::from_str(DEFAULT_PROFILE).unwrap();
        assert_eq!(raw["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(raw["defaultErrnoRet"], 1, "EPERM");
        for (i, g) in raw["syscalls"].as_array().unwrap().iter().enumerate() {
            let c = g["comment"].as_str().unwrap_or_default();
            assert!(c.len() > 10, "group {i} needs a comment saying why");
        }
    }

    #[test]
    fn default_profile_without_extra_caps() {
        let v = default_for(&crate::bundle::DEFAULT_CAPABILITIES, &AMD64);
        assert_eq!(v["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(v["defaultErrnoRet"], 1);
        assert_eq!(
            v["architectures"],
            json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
        );
        let a = allowed(&v);
        for ok in [
            "read",
            "write",
            "execve",
            "openat",
            "arch_prctl",
            "chroot",
            "ptrace",
        ] {
            assert!(a.iter().any(|n| n == ok), "{ok} allowed");
        }
        for denied in [
            "mount",
            "unshare",
            "setns",
            "keyctl",
            "add_key",
            "bpf",
            "reboot",
            "clone",
            "kexec_load",
            "init_module",
            "open_by_handle_at",
            "s390_runtime_instr",
        ] {
            assert!(!a.iter().any(|n| n == denied), "{denied} denied");
        }
        // clone only without namespace flags; clone3 gets ENOSYS so libc falls back to clone.
        let rules = v["syscalls"].as_array().unwrap();
        let clone = rules
            .iter()
            .find(|r| r["names"] == json!(["clone"]))
            .unwrap();
        assert_eq!(clone["args"][0]["op"], "SCMP_CMP_MASKED_EQ");
        let clone3 = rules
            .iter()
            .find(|r| r["names"] == json!(["clone3"]))
            .unwrap();
        assert_eq!(clone3["errnoRet"], 38);
        // The spec parses it.
        let _: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(v).unwrap();
    }

    #[test]
    fn capability_groups_follow_the_capability_set() {
        let v = default_for(&["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"], &AMD64);
        let a = allowed(&v);
        for ok in [
            "mount",
            "umount2",
            "unshare",
            "setns",
            "clone",
            "kcmp",
            "process_vm_readv",
        ] {
            assert!(a.iter().any(|n| n == ok), "{ok} allowed with the cap");
        }
        let rules = v["syscalls"].as_array().unwrap();
        assert!(
            !rules.iter().any(|r| r["names"] == json!(["clone3"])),
            "no clone3 ENOSYS with CAP_SYS_ADMIN"
        );
        assert!(!a.iter().any(|n| n == "chroot"), "no CAP_SYS_CHROOT");
    }

    #[test]
    fn arch_and_kernel_conditions() {
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
        let a = allowed(&v);
        assert!(a.iter().any(|n| n == "set_tls"));
        assert!(!a.iter().any(|n| n == "arch_prctl"));
        assert!(!a.iter().any(|n| n == "ptrace"), "minKernel 4.8");
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
