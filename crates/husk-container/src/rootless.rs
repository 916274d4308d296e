//! Whether the runtime runs rootless, decided as runc decides it: the effective uid is not 0,
//! or the process is in a user namespace other than the initial one (as under Podman's rootless
//! mode, where the runtime is uid 0 of a namespace that maps the user's ids). A rootless
//! runtime keeps its state under `$XDG_RUNTIME_DIR/husk` instead of /run/husk.

use std::path::PathBuf;

/// The default state root of a runtime that is not rootless.
pub const DEFAULT_ROOT: &str = "/run/husk";

/// Errors of the rootless decisions.
#[derive(Debug, thiserror::Error)]
pub enum RootlessError {
    /// Rootless, no `--root`, and no XDG_RUNTIME_DIR to put the state under.
    #[error(
        "running rootless (euid {euid}{userns}) without --root: set XDG_RUNTIME_DIR (the state \
         goes to $XDG_RUNTIME_DIR/husk) or give --root DIR"
    )]
    NoRuntimeDir {
        /// The effective uid.
        euid: u32,
        /// ", in a user namespace" when that is why.
        userns: &'static str,
    },
}

/// Whether `uid_map` (the text of /proc/self/uid_map) is the initial user namespace's: the one
/// line `0 0 4294967295` (`man 7 user_namespaces`).
pub fn is_initial_uid_map(uid_map: &str) -> bool {
    let lines: Vec<Vec<&str>> = uid_map
        .lines()
        .map(|l| l.split_whitespace().collect())
        .filter(|f: &Vec<&str>| !f.is_empty())
        .collect();
    lines.len() == 1 && lines[0] == ["0", "0", "4294967295"]
}

/// Whether the calling process is in a user namespace other than the initial one. An unreadable
/// /proc/self/uid_map counts as the initial namespace.
pub fn in_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map").is_ok_and(|m| !is_initial_uid_map(&m))
}

/// Whether the runtime is rootless: euid not 0, or in a non-initial user namespace.
pub fn is_rootless() -> bool {
    !nix::unistd::geteuid().is_root() || in_user_namespace()
}

/// The state root: `given` (`--root`) when set; otherwise /run/husk, or
/// `$XDG_RUNTIME_DIR/husk` when rootless.
///
/// # Errors
/// [`RootlessError::NoRuntimeDir`] when rootless without `--root` and XDG_RUNTIME_DIR is unset
/// or empty.
pub fn state_root(given: Option<PathBuf>) -> Result<PathBuf, RootlessError> {
    if let Some(root) = given {
        return Ok(root);
    }
    if !is_rootless() {
        return Ok(PathBuf::from(DEFAULT_ROOT));
    }
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => Ok(PathBuf::from(dir).join("husk")),
        None => Err(RootlessError::NoRuntimeDir {
            euid: nix::unistd::geteuid().as_raw(),
            userns: if in_user_namespace() {
                ", in a user namespace"
            } else {
                ""
            },
        }),
    }
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
    fn a_given_root_always_wins() {
        assert_eq!(
            state_root(Some(PathBuf::from("/tmp/r"))).unwrap(),
            PathBuf::from("/tmp/r")
        );
    }
}
