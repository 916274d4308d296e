//! `husk run` as an unprivileged user (issue 7): where such a user's data and state go, the id
//! mapping of their containers, and running a step of husk itself inside a user namespace with
//! that mapping (unpacking a tarball with its owners, removing a container's files).
//!
//! The mapping ([`IdMapping::current`]): container id 0 is the user's own uid (gid), and, when
//! the user has an entry in /etc/subuid (/etc/subgid) and the setuid helper newuidmap
//! (newgidmap) is installed, container ids 1..=N are the user's first subordinate range of N
//! ids (`man 5 subuid`), as Podman maps a rootless container. Without either, the single
//! mapping of the user's own id, which an unprivileged process may write itself.
//!
//! [`in_user_namespace`] forks a child that unshares a user namespace, has its maps written
//! (by `husk_container::rootless::write_id_maps`: directly or through the helpers), becomes
//! uid and gid 0 there and runs a closure. As root of that namespace it may chown files to
//! every mapped id and override permissions on them, and nothing else: the files it makes
//! belong, on the host, to the ids the mapping names.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{Gid, Uid};

/// Errors of the rootless decisions and of running a step in a user namespace.
#[derive(Debug, thiserror::Error)]
pub enum RootlessError {
    /// Rootless, no --data-root, and neither XDG_DATA_HOME nor a home directory.
    #[error(
        "husk runs rootless (euid {0}) and finds no place for its data: set XDG_DATA_HOME or \
         HOME, or give --data-root DIR"
    )]
    NoDataHome(u32),
    /// The state root could not be decided (XDG_RUNTIME_DIR unset).
    #[error(transparent)]
    StateRoot(#[from] husk_container::rootless::RootlessError),
    /// The process has threads, so it cannot fork safely (a bug of husk).
    #[error("{what}: husk has {threads} threads and cannot fork a child for the user namespace")]
    Threads {
        /// The step.
        what: String,
        /// The thread count.
        threads: usize,
    },
    /// A pipe, fork or wait failed.
    #[error("{what}: {step}: {source}")]
    Sys {
        /// The step of husk (e.g. "unpacking /x.tar").
        what: String,
        /// The system call.
        step: &'static str,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The user namespace's maps could not be written.
    #[error("{what}: {source}")]
    Maps {
        /// The step.
        what: String,
        /// The runtime's error (names the helper and its message).
        #[source]
        source: husk_container::rootless::RootlessError,
    },
    /// The child failed; `message` is its own error.
    #[error("{message}")]
    Child {
        /// The child's error message.
        message: String,
    },
}

/// One line of a uid or gid map: `count` ids from `inside` in the container are `outside` on
/// the host (`man 7 user_namespaces`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    /// The first id in the container.
    pub inside: u32,
    /// The first id on the host.
    pub outside: u32,
    /// How many.
    pub count: u32,
}

/// The uid and gid maps of a rootless container: each starts at container id 0 and is
/// contiguous inside (0..[`IdMapping::uid_count`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdMapping {
    /// The uid map.
    pub uids: Vec<IdRange>,
    /// The gid map.
    pub gids: Vec<IdRange>,
}

/// The first range of `name` (or of the numeric `id`) in the text of /etc/subuid or
/// /etc/subgid (`name:start:count` lines, `man 5 subuid`); ranges of 0 ids are skipped.
pub fn subordinate_range(text: &str, name: Option<&str>, id: u32) -> Option<(u32, u32)> {
    let id = id.to_string();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.split(':');
            let (owner, start, count) = (f.next()?, f.next()?, f.next()?);
            let owned = Some(owner) == name || owner == id;
            let (start, count) = (start.parse().ok()?, count.parse::<u32>().ok()?);
            (owned && count > 0).then_some((start, count))
        })
        .next()
}

/// Whether `program` is an executable file in one of the directories of `path` ($PATH).
fn in_path(program: &str, path: Option<&std::ffi::OsStr>) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = path else {
        return false;
    };
    std::env::split_paths(path).any(|dir| {
        dir.join(program)
            .metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

impl IdMapping {
    /// The single mapping of `uid` and `gid` to container id 0.
    pub fn single(uid: u32, gid: u32) -> Self {
        let one = |id| {
            vec![IdRange {
                inside: 0,
                outside: id,
                count: 1,
            }]
        };
        IdMapping {
            uids: one(uid),
            gids: one(gid),
        }
    }

    /// `uid`/`gid` as container id 0, then the subordinate range (start, count) of each, if
    /// any, as container ids 1..=count.
    pub fn with_ranges(
        uid: u32,
        gid: u32,
        subuid: Option<(u32, u32)>,
        subgid: Option<(u32, u32)>,
    ) -> Self {
        let mut m = Self::single(uid, gid);
        for (map, range) in [(&mut m.uids, subuid), (&mut m.gids, subgid)] {
            if let Some((start, count)) = range {
                map.push(IdRange {
                    inside: 1,
                    outside: start,
                    count,
                });
            }
        }
        m
    }

    /// The mapping of the calling user (effective uid and gid): their own ids, plus their first
    /// /etc/subuid and /etc/subgid ranges where they have one and newuidmap (newgidmap) is on
    /// $PATH (the runtime runs the helpers from there).
    pub fn current() -> Self {
        let (uid, gid) = (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        );
        let name = nix::unistd::User::from_uid(Uid::from_raw(uid))
            .ok()
            .flatten()
            .map(|u| u.name);
        let path = std::env::var_os("PATH");
        let range = |file: &str, helper: &str, id: u32| {
            if !in_path(helper, path.as_deref()) {
                tracing::debug!("{helper} is not on $PATH: mapping only the own id");
                return None;
            }
            let text = std::fs::read_to_string(file).ok()?;
            subordinate_range(&text, name.as_deref(), id)
        };
        Self::with_ranges(
            uid,
            gid,
            range("/etc/subuid", "newuidmap", uid),
            range("/etc/subgid", "newgidmap", gid),
        )
    }

    /// How many uids the container has (0..this).
    pub fn uid_count(&self) -> u64 {
        self.uids.iter().map(|r| u64::from(r.count)).sum()
    }

    /// How many gids the container has (0..this).
    pub fn gid_count(&self) -> u64 {
        self.gids.iter().map(|r| u64::from(r.count)).sum()
    }

    /// The host id of container id `inside` in `map`, if mapped.
    fn host_id(map: &[IdRange], inside: u32) -> Option<u32> {
        map.iter().find_map(|r| {
            let off = inside.checked_sub(r.inside)?;
            (off < r.count).then(|| r.outside + off)
        })
    }

    /// The host uid of container uid `inside`.
    pub fn host_uid(&self, inside: u32) -> Option<u32> {
        Self::host_id(&self.uids, inside)
    }

    /// The host gid of container gid `inside`.
    pub fn host_gid(&self, inside: u32) -> Option<u32> {
        Self::host_id(&self.gids, inside)
    }

    fn map_text(map: &[IdRange]) -> String {
        map.iter()
            .map(|r| format!("{} {} {}\n", r.inside, r.outside, r.count))
            .collect()
    }

    /// The uid map as /proc/PID/uid_map takes it ("inside outside count" lines).
    pub fn uid_map_text(&self) -> String {
        Self::map_text(&self.uids)
    }

    /// The gid map, as [`IdMapping::uid_map_text`].
    pub fn gid_map_text(&self) -> String {
        Self::map_text(&self.gids)
    }

    /// The mapping as a file-name-safe key for the tarball cache: `u0.1000.1_1.100000.65536-
    /// g0.1000.1_1.100000.65536` (no `,` or `:`, which overlayfs options cannot carry).
    pub fn cache_key(&self) -> String {
        let part = |map: &[IdRange]| {
            map.iter()
                .map(|r| format!("{}.{}.{}", r.inside, r.outside, r.count))
                .collect::<Vec<_>>()
                .join("_")
        };
        format!("u{}-g{}", part(&self.uids), part(&self.gids))
    }

    /// The mapping for people: `uids 0:1000:1 1:100000:65536, gids ...`.
    pub fn describe(&self) -> String {
        let part = |map: &[IdRange]| {
            map.iter()
                .map(|r| format!("{}:{}:{}", r.inside, r.outside, r.count))
                .collect::<Vec<_>>()
                .join(" ")
        };
        format!("uids {}, gids {}", part(&self.uids), part(&self.gids))
    }

    /// `linux.uidMappings` or `linux.gidMappings` of config.json.
    pub fn to_json(map: &[IdRange]) -> serde_json::Value {
        map.iter()
            .map(|r| serde_json::json!({"containerID": r.inside, "hostID": r.outside, "size": r.count}))
            .collect()
    }
}

/// The default data root of a rootless husk: `$XDG_DATA_HOME/husk` (an absolute
/// XDG_DATA_HOME; the XDG Base Directory spec ignores a relative one), else
/// `$HOME/.local/share/husk`, else the home directory of the passwd entry.
///
/// Errors: [`RootlessError::NoDataHome`].
pub fn data_root(env: impl Fn(&str) -> Option<String>) -> Result<PathBuf, RootlessError> {
    if let Some(x) = env("XDG_DATA_HOME").filter(|x| x.starts_with('/')) {
        return Ok(Path::new(&x).join("husk"));
    }
    let home = env("HOME").filter(|h| h.starts_with('/')).or_else(|| {
        nix::unistd::User::from_uid(nix::unistd::geteuid())
            .ok()
            .flatten()
            .map(|u| u.dir.to_string_lossy().into_owned())
            .filter(|h| h.starts_with('/'))
    });
    match home {
        Some(h) => Ok(Path::new(&h).join(".local/share/husk")),
        None => Err(RootlessError::NoDataHome(nix::unistd::geteuid().as_raw())),
    }
}

/// The number of threads of this process (/proc/self/status); 0 when unreadable.
fn thread_count() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Runs `f` in a child process that is uid and gid 0 of a new user namespace mapped by
/// `mapping`, and waits for it. `what` names the step in errors. The child's `Err` message
/// comes back as [`RootlessError::Child`]. husk must be single-threaded (it is; refused
/// otherwise).
///
/// Errors: [`RootlessError`].
pub fn in_user_namespace(
    mapping: &IdMapping,
    what: &str,
    f: impl FnOnce() -> Result<(), String>,
) -> Result<(), RootlessError> {
    use husk_sys::Forked;
    let sys = |step: &'static str| {
        let what = what.to_owned();
        move |e: nix::Error| RootlessError::Sys {
            what,
            step,
            source: e.into(),
        }
    };
    let threads = thread_count();
    if threads > 1 {
        return Err(RootlessError::Threads {
            what: what.to_owned(),
            threads,
        });
    }
    let cloexec = nix::fcntl::OFlag::O_CLOEXEC;
    // ready: the child has unshared; go: its maps are written; result: its error, if any.
    let (ready_r, ready_w) = nix::unistd::pipe2(cloexec).map_err(sys("pipe2"))?;
    let (go_r, go_w) = nix::unistd::pipe2(cloexec).map_err(sys("pipe2"))?;
    let (result_r, result_w) = nix::unistd::pipe2(cloexec).map_err(sys("pipe2"))?;
    let forked = husk_sys::fork().map_err(|source| RootlessError::Sys {
        what: what.to_owned(),
        step: "fork",
        source,
    })?;
    let child = match forked {
        Forked::Child => {
            drop((ready_r, go_w, result_r));
            let code = child_main(ready_w, go_r, result_w, f);
            std::process::exit(code);
        }
        Forked::Parent(pid) => pid,
    };
    drop((ready_w, go_r, result_w));
    let mut ready = std::fs::File::from(ready_r);
    let mut go = std::fs::File::from(go_w);
    let mut byte = [0u8; 1];
    let maps = match ready.read(&mut byte) {
        // The child unshared its user namespace: write its maps, then let it go on.
        Ok(1) => husk_container::rootless::write_id_maps(
            child.as_raw(),
            &mapping.uid_map_text(),
            &mapping.gid_map_text(),
        )
        .map_err(|source| RootlessError::Maps {
            what: what.to_owned(),
            source,
        })
        .and_then(|()| {
            go.write_all(b"g").map_err(|source| RootlessError::Sys {
                what: what.to_owned(),
                step: "write",
                source,
            })
        }),
        // It failed before: its message is on the result pipe.
        _ => Ok(()),
    };
    // On a failure above the child reads EOF on `go` and exits.
    drop(go);
    let mut message = String::new();
    let _ = std::fs::File::from(result_r).read_to_string(&mut message);
    let status = loop {
        match waitpid(child, None) {
            Err(nix::Error::EINTR) => continue,
            other => break other.map_err(sys("waitpid"))?,
        }
    };
    maps?;
    match status {
        WaitStatus::Exited(_, 0) if message.is_empty() => Ok(()),
        other => Err(RootlessError::Child {
            message: if message.is_empty() {
                format!("{what}: the user-namespace child ended with {other:?}")
            } else {
                message
            },
        }),
    }
}

/// The child of [`in_user_namespace`]; returns its exit status.
fn child_main(
    ready: std::os::fd::OwnedFd,
    go: std::os::fd::OwnedFd,
    result: std::os::fd::OwnedFd,
    f: impl FnOnce() -> Result<(), String>,
) -> i32 {
    let mut result = std::fs::File::from(result);
    let outcome = (|| {
        // Never outlive husk.
        nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
            .map_err(|e| format!("prctl(PR_SET_PDEATHSIG): {e}"))?;
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER).map_err(|e| {
            format!(
                "unshare(CLONE_NEWUSER): {e} (are unprivileged user namespaces allowed? see \
                 sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone and \
                 kernel.apparmor_restrict_unprivileged_userns)"
            )
        })?;
        std::fs::File::from(ready)
            .write_all(b"r")
            .map_err(|e| format!("signalling husk: {e}"))?;
        let mut byte = [0u8; 1];
        match std::fs::File::from(go).read(&mut byte) {
            Ok(1) => {}
            // husk could not write the maps and says why itself.
            _ => return Err(String::new()),
        }
        nix::unistd::setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
            .map_err(|e| format!("setresgid(0) in the user namespace: {e}"))?;
        nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0))
            .map_err(|e| format!("setresuid(0) in the user namespace: {e}"))?;
        // A panic must not unwind into the parent's code this process is a copy of.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
            .unwrap_or_else(|_| Err("husk panicked in the user-namespace child".into()))
    })();
    match outcome {
        Ok(()) => 0,
        Err(message) => {
            let _ = result.write_all(message.as_bytes());
            1
        }
    }
}

/// Removes the directory tree `dir` as the root of a user namespace mapped by `mapping` (the
/// files a rootless container made belong to its mapped ids, which the user may not remove
/// directly), or directly when `mapping` is None or the tree is gone. When the user namespace
/// cannot be set up (a thread of the runtime still running, a helper refusing), the removal is
/// tried directly, which suffices unless the container left files of its other ids.
///
/// Errors: the removal's error, as text.
pub fn remove_tree(dir: &Path, mapping: Option<&IdMapping>) -> Result<(), String> {
    let direct = || match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.to_string()),
        _ => Ok(()),
    };
    match mapping {
        Some(m) if dir.symlink_metadata().is_ok() => {
            match in_user_namespace(m, &format!("removing {}", dir.display()), direct) {
                Err(e @ RootlessError::Child { .. }) => Err(e.to_string()),
                Err(e) => direct().map_err(|direct| format!("{e}; directly: {direct}")),
                Ok(()) => Ok(()),
            }
        }
        _ => direct(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUBUID: &str = "\
# comment
alice:100000:65536
bob:165536:65536
1003:231072:1000
bob:300000:10
carol:400000:0
";

    #[test]
    fn first_range_by_name_or_uid() {
        assert_eq!(
            subordinate_range(SUBUID, Some("bob"), 1002),
            Some((165536, 65536))
        );
        assert_eq!(
            subordinate_range(SUBUID, Some("dave"), 1003),
            Some((231072, 1000))
        );
        assert_eq!(subordinate_range(SUBUID, Some("carol"), 1004), None);
        assert_eq!(subordinate_range(SUBUID, None, 1005), None);
        assert_eq!(
            subordinate_range("garbage\nalice:x:1\n", Some("alice"), 1),
            None
        );
    }

    #[test]
    fn mapping_with_and_without_ranges() {
        let m = IdMapping::with_ranges(1000, 1001, Some((100000, 65536)), None);
        assert_eq!(m.uid_map_text(), "0 1000 1\n1 100000 65536\n");
        assert_eq!(m.gid_map_text(), "0 1001 1\n");
        assert_eq!((m.uid_count(), m.gid_count()), (65537, 1));
        assert_eq!(m.host_uid(0), Some(1000));
        assert_eq!(m.host_uid(1), Some(100000));
        assert_eq!(m.host_uid(65536), Some(165535));
        assert_eq!(m.host_uid(65537), None);
        assert_eq!(m.host_gid(1), None);
        assert_eq!(m.cache_key(), "u0.1000.1_1.100000.65536-g0.1001.1");
        assert_eq!(m.describe(), "uids 0:1000:1 1:100000:65536, gids 0:1001:1");
        assert_eq!(
            IdMapping::to_json(&m.uids),
            serde_json::json!([
                {"containerID": 0, "hostID": 1000, "size": 1},
                {"containerID": 1, "hostID": 100000, "size": 65536}
            ])
        );
        assert_eq!(
            IdMapping::single(5, 6),
            IdMapping::with_ranges(5, 6, None, None)
        );
    }

    #[test]
    fn data_root_follows_xdg_then_home() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(
            data_root(env(&[("XDG_DATA_HOME", "/x/data"), ("HOME", "/h")])).unwrap(),
            PathBuf::from("/x/data/husk")
        );
        assert_eq!(
            data_root(env(&[("XDG_DATA_HOME", "rel"), ("HOME", "/h")])).unwrap(),
            PathBuf::from("/h/.local/share/husk")
        );
        assert_eq!(
            data_root(env(&[("HOME", "/h")])).unwrap(),
            PathBuf::from("/h/.local/share/husk")
        );
    }

    #[test]
    fn helpers_are_looked_up_on_path() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("newuidmap");
        std::fs::write(&p, "").unwrap();
        let path = std::ffi::OsString::from(format!("/nonexistent:{}", tmp.path().display()));
        assert!(!in_path("newuidmap", Some(&path)));
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(in_path("newuidmap", Some(&path)));
        assert!(!in_path("newgidmap", Some(&path)));
        assert!(!in_path("newuidmap", None));
    }
}
