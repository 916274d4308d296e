//! `linux.sysctl` (runtime-spec config-linux.md, "Sysctl"): which kernel parameters a container
//! may set, checked before anything is created, and writing them from inside the container's
//! namespaces.
//!
//! Only parameters that belong to a namespace are allowed, and only when the container has that
//! namespace to itself (new, or joined by a `path` that is not the host's): any other write would
//! change the host. The list is runc's (`libcontainer/configs/validate`):
//! - ipc namespace: `kernel.msgmax`, `kernel.msgmnb`, `kernel.msgmni`, `kernel.sem`,
//!   `kernel.shmall`, `kernel.shmmax`, `kernel.shmmni`, `kernel.shm_rmid_forced`, `fs.mqueue.*`;
//! - network namespace: `net.*`;
//! - uts namespace: `kernel.hostname`, `kernel.domainname`.
//!
//! Keys are written with `.` separators (`net.ipv4.ip_forward`) or, as sysctl(8) also accepts,
//! with `/` separators, in which case a `.` is part of a name (`net/ipv4/conf/eth0.100/forwarding`).
//!
//! The values are written by the intermediate process once it is in all of the container's
//! namespaces and before the container's root filesystem exists: a sysctl file resolves to the
//! namespace of the process that opens it, and the /proc it opens them through is the runtime's
//! own (checked to be procfs), walked with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
//! RESOLVE_NO_MAGICLINKS), so nothing the container controls can redirect a write.

use std::os::fd::AsRawFd;
use std::path::PathBuf;

use nix::fcntl::OFlag;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::namespaces::Plan;
use crate::process::ChildError;

/// The `kernel.*` parameters of the ipc namespace (runc's list).
const IPC_KERNEL_PARAMS: [&str; 8] = [
    "msgmax",
    "msgmnb",
    "msgmni",
    "sem",
    "shmall",
    "shmmax",
    "shmmni",
    "shm_rmid_forced",
];

/// What is wrong with `linux.sysctl`, found before anything is created.
#[derive(Debug, thiserror::Error)]
pub enum SysctlError {
    /// A key that is not a well-formed parameter name.
    #[error("linux.sysctl.{key:?}: {problem}; write the name as sysctl(8) does, e.g. \"net.ipv4.ip_forward\" or \"net/ipv4/conf/eth0.100/forwarding\"")]
    BadKey {
        /// The key as written.
        key: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A value that cannot be written (a NUL byte).
    #[error("linux.sysctl.{key:?}: the value {value:?} contains a NUL byte, which no kernel parameter accepts")]
    BadValue {
        /// The key.
        key: String,
        /// The value as written.
        value: String,
    },
    /// A parameter that belongs to no namespace: writing it would change the host.
    #[error("linux.sysctl.{key:?} is not a namespaced kernel parameter: setting it from a container would change the whole host; only kernel.msgmax, kernel.msgmnb, kernel.msgmni, kernel.sem, kernel.shmall, kernel.shmmax, kernel.shmmni, kernel.shm_rmid_forced, fs.mqueue.* (ipc namespace), net.* (network namespace), kernel.hostname and kernel.domainname (uts namespace) are allowed; remove it")]
    NotNamespaced {
        /// The key as written.
        key: String,
    },
    /// The namespace the parameter belongs to is the host's.
    #[error("linux.sysctl.{key:?} belongs to the {ns} namespace, but {why}: the write would change the host's; give the container its own (add {{\"type\": \"{ns}\"}} without a path to linux.namespaces) or remove the parameter")]
    HostNamespace {
        /// The key as written.
        key: String,
        /// The runtime-spec name of the namespace type.
        ns: &'static str,
        /// Why the namespace is the host's.
        why: String,
    },
    /// `kernel.hostname`/`kernel.domainname` disagree with `hostname`/`domainname`.
    #[error("linux.sysctl.{key:?} is {value:?} but {field} is {other:?}: both set the same name; keep one of them")]
    Conflict {
        /// The key.
        key: String,
        /// The sysctl's value.
        value: String,
        /// `hostname` or `domainname`.
        field: &'static str,
        /// That field's value.
        other: String,
    },
    /// A namespace file could not be examined.
    #[error(
        "linux.sysctl.{key:?}: cannot tell whether {path} is the host's {ns} namespace: {source}"
    )]
    Stat {
        /// The key.
        key: String,
        /// The namespace type.
        ns: &'static str,
        /// The file that could not be examined.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// One checked `linux.sysctl` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sysctl {
    /// The key as written in config.json (for messages).
    pub key: String,
    /// The file below /proc/sys, e.g. `net/ipv4/ip_forward`.
    pub path: PathBuf,
    /// The value to write, as written.
    pub value: String,
}

/// Split a key into the names of its /proc/sys path: on `/` when it has one (dots are then part
/// of names, as sysctl(8) reads them), on `.` otherwise.
fn components(key: &str) -> Result<Vec<&str>, SysctlError> {
    let bad = |problem| SysctlError::BadKey {
        key: key.to_owned(),
        problem,
    };
    if key.is_empty() {
        return Err(bad("the key is empty"));
    }
    if key.contains('\0') {
        return Err(bad("the key contains a NUL byte"));
    }
    let sep = if key.contains('/') { '/' } else { '.' };
    let parts: Vec<&str> = key.split(sep).collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(bad("the key has an empty name between separators"));
    }
    if parts.iter().any(|p| *p == "." || *p == "..") {
        return Err(bad("the key has a \".\" or \"..\" component"));
    }
    Ok(parts)
}

/// The namespace a parameter belongs to, by its path components; `None` for a host-wide one.
fn owner(parts: &[&str]) -> Option<LinuxNamespaceType> {
    match parts {
        ["kernel", name] if IPC_KERNEL_PARAMS.contains(name) => Some(LinuxNamespaceType::Ipc),
        ["kernel", "hostname" | "domainname"] => Some(LinuxNamespaceType::Uts),
        ["fs", "mqueue", _, ..] => Some(LinuxNamespaceType::Ipc),
        ["net", _, ..] => Some(LinuxNamespaceType::Network),
        _ => None,
    }
}

/// The name of a namespace type under /proc/PID/ns.
fn proc_ns_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Mount => "mnt",
        other => crate::namespaces::name(other),
    }
}

/// Whether the container's namespace of type `t` is its own. `Ok(Err(why))` when it is the
/// host's: not listed (inherited from the runtime), or joined through a path that is the same
/// nsfs inode as the runtime's or PID 1's namespace of that type.
fn private(
    plan: &Plan,
    t: LinuxNamespaceType,
    key: &str,
) -> Result<Result<(), String>, SysctlError> {
    if plan.is_new(t) {
        return Ok(Ok(()));
    }
    let ns = crate::namespaces::name(t);
    let Some(join) = plan.join.iter().find(|j| j.ns == t) else {
        return Ok(Err(format!(
            "linux.namespaces has no {ns} namespace, so the container shares the runtime's"
        )));
    };
    let stat_err = |path: String, source: std::io::Error| SysctlError::Stat {
        key: key.to_owned(),
        ns,
        path,
        source,
    };
    let joined = nix::sys::stat::fstat(join.fd.as_raw_fd())
        .map_err(|e| stat_err(join.path.display().to_string(), e.into()))?;
    for pid in ["1", "self"] {
        let host = format!("/proc/{pid}/ns/{}", proc_ns_name(t));
        let st = match nix::sys::stat::stat(host.as_str()) {
            Ok(st) => st,
            // PID 1 may be out of reach (another user's, a hardened /proc): the runtime's own
            // namespace is then the only comparison.
            Err(_) if pid == "1" => continue,
            Err(e) => return Err(stat_err(host, e.into())),
        };
        if (st.st_dev, st.st_ino) == (joined.st_dev, joined.st_ino) {
            return Ok(Err(format!(
                "the {ns} namespace joined through {} is the host's (the same as {host})",
                join.path.display()
            )));
        }
    }
    Ok(Ok(()))
}

/// Check `linux.sysctl` against the namespace plan, before anything is created. Returns the
/// entries in key order (writes are then reproducible).
///
/// # Errors
/// [`SysctlError`] naming `linux.sysctl."KEY"`: a malformed key, a NUL in a value, a parameter
/// outside the namespaced list, a namespace that is the host's, a `kernel.hostname` or
/// `kernel.domainname` that contradicts `hostname` or `domainname`.
pub fn plan(spec: &Spec, plan: &Plan) -> Result<Vec<Sysctl>, SysctlError> {
    let Some(map) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(Vec::new());
    };
    let mut entries: Vec<(&String, &String)> = map.iter().collect();
    entries.sort();
    let mut out = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        let parts = components(key)?;
        let Some(t) = owner(&parts) else {
            return Err(SysctlError::NotNamespaced { key: key.clone() });
        };
        if let Err(why) = private(plan, t, key)? {
            return Err(SysctlError::HostNamespace {
                key: key.clone(),
                ns: crate::namespaces::name(t),
                why,
            });
        }
        if value.contains('\0') {
            return Err(SysctlError::BadValue {
                key: key.clone(),
                value: value.clone(),
            });
        }
        let same_as = match parts.as_slice() {
            ["kernel", "hostname"] => Some(("hostname", spec.hostname())),
            ["kernel", "domainname"] => Some(("domainname", spec.domainname())),
            _ => None,
        };
        if let Some((field, Some(other))) = same_as {
            if !other.is_empty() && other != value.trim_end_matches('\n') {
                return Err(SysctlError::Conflict {
                    key: key.clone(),
                    value: value.clone(),
                    field,
                    other: other.clone(),
                });
            }
        }
        out.push(Sysctl {
            key: key.clone(),
            path: parts.iter().collect(),
            value: value.clone(),
        });
    }
    Ok(out)
}

/// In the intermediate, once it is in all of the container's namespaces: write each parameter
/// through the runtime's /proc/sys (see the module doc for why this is safe).
///
/// # Errors
/// [`ChildError::Config`] naming `linux.sysctl."KEY"`, the value and the kernel's refusal (no
/// such parameter, an invalid value, no permission in a user namespace).
pub fn write(sysctls: &[Sysctl]) -> Result<(), ChildError> {
    if sysctls.is_empty() {
        return Ok(());
    }
    // std opens with O_CLOEXEC; a directory opens read-only like any file.
    let dir = std::fs::File::open("/proc/sys")
        .map_err(|e| ChildError::setup("open", Some("/proc/sys"), &e))?;
    let is_proc = nix::sys::statfs::fstatfs(&dir)
        .map(|s| s.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC)
        .unwrap_or(false);
    if !is_proc {
        return Err(ChildError::Config {
            field: "linux.sysctl".into(),
            detail: "the runtime's /proc/sys is not a procfs: mount proc on /proc".into(),
        });
    }
    for s in sysctls {
        let fail = |what: &str, errno: nix::Error| {
            ChildError::Config {
            field: format!("linux.sysctl.{:?}", s.key),
            detail: format!(
                "{what} {:?} to /proc/sys/{} failed: {}; {}",
                s.value,
                s.path.display(),
                std::io::Error::from(errno),
                match errno {
                    nix::Error::ENOENT => "the kernel has no such parameter in the container's namespace (see `sysctl -a` in a container)",
                    nix::Error::EINVAL | nix::Error::ERANGE => "the kernel refuses this value for this parameter",
                    nix::Error::EACCES | nix::Error::EPERM => "the parameter is not writable from the container's namespaces (in a user namespace the kernel allows only some)",
                    nix::Error::ELOOP | nix::Error::EXDEV => "the path leaves /proc/sys or crosses a symlink",
                    _ => "check the parameter and its value",
                }
            ),
        }
        };
        let file = husk_sys::open_beneath(&dir, &s.path, OFlag::O_WRONLY)
            .map_err(|e| fail("writing", errno_of(&e)))?;
        // One write(2): the kernel parses a sysctl value from a single write.
        match nix::unistd::write(&file, s.value.as_bytes()) {
            Ok(n) if n == s.value.len() => {}
            Ok(_) => return Err(fail("a short write of", nix::Error::EIO)),
            Err(e) => return Err(fail("writing", e)),
        }
    }
    Ok(())
}

fn errno_of(e: &std::io::Error) -> nix::Error {
    nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    fn spec(linux: serde_json::Value) -> Spec {
        serde_json::from_value(serde_json::json!({"ociVersion": "1.3.0", "linux": linux})).unwrap()
    }

    fn planned(linux: serde_json::Value) -> Result<Vec<Sysctl>, SysctlError> {
        let s = spec(linux);
        let p = crate::namespaces::plan(&s).unwrap();
        plan(&s, &p)
    }

    #[test]
    fn keys_split_on_dots_or_slashes() {
        assert_eq!(
            components("net.ipv4.ip_forward").unwrap(),
            ["net", "ipv4", "ip_forward"]
        );
        assert_eq!(
            components("net/ipv4/conf/eth0.100/forwarding").unwrap(),
            ["net", "ipv4", "conf", "eth0.100", "forwarding"]
        );
        for bad in [
            "",
            "net..ipv4",
            "net/../kernel/core_pattern",
            "/net/ipv4",
            "net.ipv4.",
        ] {
            assert!(
                matches!(components(bad), Err(SysctlError::BadKey { .. })),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn namespaced_parameters_are_recognised() {
        let t = |k: &str| owner(&components(k).unwrap());
        assert_eq!(t("kernel.shmmax"), Some(LinuxNamespaceType::Ipc));
        assert_eq!(t("kernel.shm_rmid_forced"), Some(LinuxNamespaceType::Ipc));
        assert_eq!(t("fs.mqueue.msg_max"), Some(LinuxNamespaceType::Ipc));
        assert_eq!(t("net.core.somaxconn"), Some(LinuxNamespaceType::Network));
        assert_eq!(t("kernel.hostname"), Some(LinuxNamespaceType::Uts));
        for host in [
            "kernel.core_pattern",
            "vm.swappiness",
            "fs.file-max",
            "net",
            "fs.mqueue",
        ] {
            assert_eq!(t(host), None, "{host}");
        }
    }

    #[test]
    fn a_parameter_needs_its_namespace_private() {
        let ok = planned(serde_json::json!({
            "namespaces": [{"type": "network"}, {"type": "ipc"}],
            "sysctl": {"net.ipv4.ip_forward": "1", "kernel.shmmax": "4096"}
        }))
        .unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[0].key, "kernel.shmmax");
        assert_eq!(ok[1].path, PathBuf::from("net/ipv4/ip_forward"));

        let e = planned(serde_json::json!({
            "namespaces": [{"type": "ipc"}],
            "sysctl": {"net.ipv4.ip_forward": "1"}
        }))
        .unwrap_err();
        assert!(matches!(
            e,
            SysctlError::HostNamespace { ns: "network", .. }
        ));
        assert!(
            e.to_string()
                .contains("linux.sysctl.\"net.ipv4.ip_forward\""),
            "{e}"
        );

        // Joining the runtime's own namespace by path is the host's too.
        let e = planned(serde_json::json!({
            "namespaces": [{"type": "network", "path": "/proc/self/ns/net"}],
            "sysctl": {"net.core.somaxconn": "256"}
        }))
        .unwrap_err();
        assert!(e.to_string().contains("is the host's"), "{e}");

        let e = planned(serde_json::json!({
            "namespaces": [{"type": "network"}],
            "sysctl": {"vm.swappiness": "10"}
        }))
        .unwrap_err();
        assert!(matches!(e, SysctlError::NotNamespaced { .. }), "{e}");
    }

    #[test]
    fn hostname_and_kernel_hostname_must_agree() {
        let s: Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.3.0", "hostname": "a",
            "linux": {"namespaces": [{"type": "uts"}], "sysctl": {"kernel.hostname": "b"}}
        }))
        .unwrap();
        let p = crate::namespaces::plan(&s).unwrap();
        assert!(matches!(plan(&s, &p), Err(SysctlError::Conflict { .. })));
    }
}
