//! Whether the runtime runs rootless, decided as runc decides it: the effective uid is not 0,
//! or the process is in a user namespace other than the initial one (as under Podman's rootless
//! mode, where the runtime is uid 0 of a namespace that maps the user's ids). A rootless
//! runtime keeps its state under `$XDG_RUNTIME_DIR/husk` instead of /run/husk.
//!
//! Also what a rootless runtime does differently:
//! - the uid/gid maps of a new user namespace are written by the runtime itself only when that
//!   is allowed without privilege (one line mapping the caller's own id, with setgroups denied
//!   first), else by the setuid helpers newuidmap/newgidmap (`man 1 newuidmap`), which check
//!   the ranges against /etc/subuid and /etc/subgid ([`write_id_maps`]);
//! - a cgroup the user may not create is skipped unless the config asks for limits
//!   ([`asks_for_limits`], [`no_cgroup_for_limits`]).

use std::path::PathBuf;
use std::process::Command;

use oci_spec::runtime::LinuxResources;

/// The default state root of a runtime that is not rootless.
pub const DEFAULT_ROOT: &str = "/run/husk";

/// Errors of the rootless decisions.
#[derive(Debug, thiserror::Error)]
pub enum RootlessError {
    /// Rootless, no `--root`, and no XDG_RUNTIME_DIR to put the state under.
    #[error(
        "running rootless (euid {euid}{userns}) without --root: set XDG_RUNTIME_DIR to an \
         absolute path (the state goes to $XDG_RUNTIME_DIR/husk; `su -` and `sudo -u` do not \
         set it: /run/user/$(id -u) where a login made it) or give --root DIR"
    )]
    NoRuntimeDir {
        /// The effective uid.
        euid: u32,
        /// ", in a user namespace" when that is why.
        userns: &'static str,
    },
    /// newuidmap or newgidmap is not installed.
    #[error(
        "the mapping {mappings} needs {helper} (it maps ids other than your own, which only the \
         setuid helper may do for an unprivileged user), and it is not found in PATH: install \
         it (Debian package uidmap) or add its directory to PATH, or map only your own id \
         (`husk-runtime spec --rootless` does)"
    )]
    NoHelper {
        /// newuidmap or newgidmap.
        helper: &'static str,
        /// The map, as "inside outside count" triples.
        mappings: String,
    },
    /// newuidmap or newgidmap refused the mapping (or failed).
    #[error(
        "{helper} refused the mapping {mappings} ({status}): {message}; the ranges must lie in \
         your entries of /etc/{file} (man 5 {file})"
    )]
    HelperRefused {
        /// newuidmap or newgidmap.
        helper: &'static str,
        /// The map.
        mappings: String,
        /// The helper's exit status.
        status: std::process::ExitStatus,
        /// What the helper printed on stderr.
        message: String,
        /// subuid or subgid.
        file: &'static str,
    },
    /// A direct write of a map (or of setgroups) failed.
    #[error("cannot write /proc/{pid}/{file} ({mappings}): {source}")]
    Write {
        /// The process whose namespace it is.
        pid: i32,
        /// uid_map, gid_map or setgroups.
        file: &'static str,
        /// What was written.
        mappings: String,
        /// The kernel's error.
        source: std::io::Error,
    },
}

/// Whether `uid_map` (the text of /proc/self/uid_map) is the initial user namespace's: the one
/// line `0 0 4294967295` (`man 7 user_namespaces`).
pub fn is_initial_uid_map(uid_map: &str) -> bool {
    crate::namespaces::map_lines(uid_map) == [(0, 0, 4_294_967_295)]
}

/// Whether the calling process is in a user namespace other than the initial one. An unreadable
/// /proc/self/uid_map counts as the initial namespace.
pub fn in_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map").is_ok_and(|m| !is_initial_uid_map(&m))
}

/// Whether the runtime is rootless: euid not 0, or in a non-initial user namespace.
pub fn is_rootless() -> bool {
    rootless_given(in_user_namespace())
}

/// [`is_rootless`] when [`in_user_namespace`] is already known (one read of
/// /proc/self/uid_map per create).
pub fn rootless_given(in_user_namespace: bool) -> bool {
    !nix::unistd::geteuid().is_root() || in_user_namespace
}

/// The state root: `given` (`--root`) when set; otherwise `$XDG_RUNTIME_DIR/husk` when runc
/// would honour XDG_RUNTIME_DIR (set to an absolute path, and the effective uid is not 0, or
/// it is 0 in a non-initial user namespace and USER is not `root`: Podman's rootless mode,
/// not root inside an unprivileged system container), else /run/husk. A relative
/// XDG_RUNTIME_DIR counts as unset (the XDG Base Directory spec).
///
/// # Errors
/// [`RootlessError::NoRuntimeDir`] when the effective uid is not 0, no `--root` is given and
/// XDG_RUNTIME_DIR is unset, empty or relative.
pub fn state_root(given: Option<PathBuf>) -> Result<PathBuf, RootlessError> {
    if let Some(root) = given {
        return Ok(root);
    }
    let xdg = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute());
    let euid = nix::unistd::geteuid();
    let honour = if !euid.is_root() {
        true
    } else {
        in_user_namespace() && std::env::var("USER").map_or(true, |u| u != "root")
    };
    match (honour, xdg) {
        (true, Some(dir)) => Ok(dir.join("husk")),
        (false, _) | (true, None) if euid.is_root() => Ok(PathBuf::from(DEFAULT_ROOT)),
        _ => Err(RootlessError::NoRuntimeDir {
            euid: euid.as_raw(),
            userns: if in_user_namespace() {
                ", in a user namespace"
            } else {
                ""
            },
        }),
    }
}

/// Whether `resources` (with `pids_limit`, the pids limit of `linux.resources.pids`) asks for
/// anything only a cgroup can do. Device rules do not count: a rootless container cannot make
/// device nodes (its devices are bind mounts of the host's, which the host's own permissions
/// guard), so without a cgroup they have nothing left to refuse.
pub fn asks_for_limits(resources: Option<&LinuxResources>, pids_limit: Option<i64>) -> bool {
    if pids_limit.is_some() {
        return true;
    }
    let Some(r) = resources else {
        return false;
    };
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(r) else {
        return true;
    };
    fields
        .iter()
        .any(|(k, v)| k != "devices" && !v.is_null() && v != &serde_json::json!({}))
}

/// The message of a rootless create whose config asks for limits that no cgroup can hold,
/// given the error of making the cgroup.
pub fn no_cgroup_for_limits(error: &dyn std::fmt::Display) -> String {
    format!(
        "asks for limits, which need a cgroup, and husk-runtime runs rootless (euid {}) and \
         cannot make one ({error}); give the user a delegated cgroup v2 subtree (systemd: a \
         user session or Delegate=yes; or a directory root chowns to it) and set \
         linux.cgroupsPath inside it, or remove the limits (a cgroup v1 host cannot delegate)",
        nix::unistd::geteuid()
    )
}

/// Whether this process may write any mapping of ids of its own user namespace: it has
/// CAP_SETUID and CAP_SETGID there (root, or uid 0 of Podman's rootless namespace).
fn may_write_any_map() -> bool {
    use caps::{has_cap, CapSet, Capability};
    has_cap(None, CapSet::Effective, Capability::CAP_SETUID).unwrap_or(false)
        && has_cap(None, CapSet::Effective, Capability::CAP_SETGID).unwrap_or(false)
}

/// Whether `map` ("inside outside count" lines) is the one mapping an unprivileged process may
/// write itself: a single line mapping only `own` (`man 7 user_namespaces`, "Defining user and
/// group ID mappings").
fn maps_only(map: &str, own: u32) -> bool {
    matches!(crate::namespaces::map_lines(map).as_slice(), [(_, o, 1)] if *o == u64::from(own))
}

/// Writes the uid and gid maps of the user namespace of process `pid` (a child that has just
/// unshared it). `uid_map` and `gid_map` are "inside outside count" lines.
///
/// - With CAP_SETUID and CAP_SETGID (root): written directly.
/// - Unprivileged, each map one line of the caller's own id: written directly, with "deny"
///   written to /proc/PID/setgroups before the gid map, as the kernel requires.
/// - Otherwise through newuidmap and newgidmap, which check the ranges against /etc/subuid and
///   /etc/subgid (newgidmap denies setgroups itself where the kernel requires it).
///
/// # Errors
/// [`RootlessError::Write`] with the kernel's refusal, [`RootlessError::NoHelper`] when a
/// helper is needed but missing, [`RootlessError::HelperRefused`] with the helper's message.
pub fn write_id_maps(pid: i32, uid_map: &str, gid_map: &str) -> Result<(), RootlessError> {
    let write = |file: &'static str, text: &str| {
        std::fs::write(format!("/proc/{pid}/{file}"), text.as_bytes()).map_err(|source| {
            RootlessError::Write {
                pid,
                file,
                mappings: text.trim().replace('\n', ", "),
                source,
            }
        })
    };
    if may_write_any_map() {
        write("uid_map", uid_map)?;
        return write("gid_map", gid_map);
    }
    let (euid, egid) = (
        nix::unistd::geteuid().as_raw(),
        nix::unistd::getegid().as_raw(),
    );
    if maps_only(uid_map, euid) {
        write("uid_map", uid_map)?;
    } else {
        run_helper("newuidmap", "subuid", pid, uid_map)?;
    }
    if maps_only(gid_map, egid) {
        write("setgroups", "deny")?;
        write("gid_map", gid_map)
    } else {
        run_helper("newgidmap", "subgid", pid, gid_map)
    }
}

/// Whether [`write_id_maps`] would deny setgroups(2) in a namespace with this `gid_map`: an
/// unprivileged runtime writing a single mapping of its own gid itself. Its container cannot
/// set `process.user.additionalGids` (it keeps the groups the runtime had).
pub fn denies_setgroups(gid_map: &str) -> bool {
    !may_write_any_map() && maps_only(gid_map, nix::unistd::getegid().as_raw())
}

/// `HELPER PID inside outside count...` (`man 1 newuidmap`), its stderr kept for the error.
fn run_helper(
    helper: &'static str,
    file: &'static str,
    pid: i32,
    map: &str,
) -> Result<(), RootlessError> {
    let mappings = map.trim().replace('\n', ", ");
    let out = Command::new(helper)
        .arg(pid.to_string())
        .args(map.split_whitespace())
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => RootlessError::NoHelper {
                helper,
                mappings: mappings.clone(),
            },
            _ => RootlessError::HelperRefused {
                helper,
                mappings: mappings.clone(),
                status: std::process::ExitStatus::default(),
                message: format!("cannot run it: {e}"),
                file,
            },
        })?;
    if out.status.success() {
        return Ok(());
    }
    Err(RootlessError::HelperRefused {
        helper,
        mappings,
        status: out.status,
        message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_full_identity_map_is_the_initial_namespace() {
        assert!(is_initial_uid_map("         0          0 4294967295\n"));
        assert!(!is_initial_uid_map("0 1000 1\n"));
        assert!(!is_initial_uid_map("0 0 4294967295\n1 1 1\n"));
        assert!(!is_initial_uid_map("0 100000 65536\n"));
        assert!(!is_initial_uid_map(""));
    }

    #[test]
    fn only_a_single_line_of_the_own_id_is_written_without_helpers() {
        assert!(maps_only("0 1000 1\n", 1000));
        assert!(maps_only("  0   1000   1", 1000));
        assert!(!maps_only("0 1000 2\n", 1000));
        assert!(!maps_only("0 1001 1\n", 1000));
        assert!(!maps_only("0 1000 1\n1 100000 65536\n", 1000));
        assert!(!maps_only("", 1000));
    }

    #[test]
    fn limits_are_anything_but_device_rules() {
        use oci_spec::runtime::{
            LinuxDeviceCgroupBuilder, LinuxMemoryBuilder, LinuxResourcesBuilder,
        };
        assert!(!asks_for_limits(None, None));
        assert!(asks_for_limits(None, Some(10)));
        let devices = LinuxResourcesBuilder::default()
            .devices(vec![LinuxDeviceCgroupBuilder::default()
                .allow(false)
                .build()
                .unwrap()])
            .build()
            .unwrap();
        assert!(!asks_for_limits(Some(&devices), None));
        let memory = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(1 << 20)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        assert!(asks_for_limits(Some(&memory), None));
        assert!(!asks_for_limits(Some(&LinuxResources::default()), None));
    }

    #[test]
    fn a_given_root_always_wins() {
        assert_eq!(
            state_root(Some(PathBuf::from("/tmp/r"))).unwrap(),
            PathBuf::from("/tmp/r")
        );
    }
}
