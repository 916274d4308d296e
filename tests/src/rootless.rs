//! The unprivileged side of the rootless tests (issue 7): the test user, copies of the binaries
//! it can run, and commands that run as it.
//!
//! - [`user`]: the account `husk-rootless` made (idempotently, under a flock) by
//!   `tests/rootless-user.sh`, which is compiled into the harness so the v2 guest, which has no
//!   checkout, runs the same script: its uid and gid, home, XDG_RUNTIME_DIR and its
//!   /etc/subuid and /etc/subgid ranges.
//! - [`runtime_binary`], [`front_binary`], [`probe_binary`]: copies of husk-runtime, husk and
//!   the static probe in `<cache>/bin` (mode 0755 all the way), because the checkout may sit in
//!   a home directory other users cannot enter. A copy is named by the source's size and
//!   modification time, made under a temporary name and renamed into place, so concurrent test
//!   processes share it; copies older than a day of other builds are removed.
//! - [`TestUser::command`]: a `Command` that runs as the user: uid and gid set (std drops the
//!   supplementary groups when the caller is root), a login's environment (HOME, USER, LOGNAME,
//!   XDG_RUNTIME_DIR, PATH and nothing of the caller's), cwd its home.
//!
//! [`crate::Runtime::rootless`] and [`crate::Bundle::rootless_busybox`] build on these.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::{chown, MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use crate::rootfs;
use crate::runtime::{exec_timeout, Outcome};

/// The script that makes the user (also run by .ci/run).
const SCRIPT: &str = include_str!("../rootless-user.sh");

/// A range of subordinate ids (`/etc/subuid`, `/etc/subgid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    /// The first host id of the range.
    pub start: u32,
    /// How many ids.
    pub count: u32,
}

/// The unprivileged test user, as tests/rootless-user.sh reported it.
#[derive(Debug, Clone)]
pub struct TestUser {
    /// Its login name (`husk-rootless`).
    pub name: String,
    /// Its uid.
    pub uid: u32,
    /// Its primary gid.
    pub gid: u32,
    /// Its home directory.
    pub home: PathBuf,
    /// Its XDG_RUNTIME_DIR (`/run/user/UID`, 0700, its own).
    pub xdg_runtime_dir: PathBuf,
    /// Its range in /etc/subuid.
    pub subuid: IdRange,
    /// Its range in /etc/subgid.
    pub subgid: IdRange,
}

/// Parses the script's line `NAME UID GID HOME XDG SUBUID_START SUBUID_COUNT SUBGID_START
/// SUBGID_COUNT`.
fn parse(line: &str) -> Option<TestUser> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() != 9 {
        return None;
    }
    let n = |i: usize| f[i].parse::<u32>().ok();
    Some(TestUser {
        name: f[0].to_string(),
        uid: n(1)?,
        gid: n(2)?,
        home: PathBuf::from(f[3]),
        xdg_runtime_dir: PathBuf::from(f[4]),
        subuid: IdRange {
            start: n(5)?,
            count: n(6)?,
        },
        subgid: IdRange {
            start: n(7)?,
            count: n(8)?,
        },
    })
}

/// The test user, made on first use in this process (see the module doc).
pub fn user() -> &'static TestUser {
    static USER: OnceLock<TestUser> = OnceLock::new();
    USER.get_or_init(|| {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", SCRIPT, "rootless-user.sh"]);
        let out = exec_timeout(cmd, true, Duration::from_secs(120));
        assert!(
            out.status.success(),
            "tests/rootless-user.sh failed: {out:#?}"
        );
        let user = parse(out.stdout.trim())
            .unwrap_or_else(|| panic!("tests/rootless-user.sh printed no user line: {out:#?}"));
        assert!(
            user.uid != 0 && user.subuid.count > 0 && user.subgid.count > 0,
            "{user:?}"
        );
        user
    })
}

impl TestUser {
    /// A `Command` running `program` as this user with a login's environment (see the module
    /// doc); callers add their own variables.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new(program);
        c.uid(self.uid).gid(self.gid);
        self.login_env(&mut c);
        c
    }

    /// Gives `c` this user's login environment (HOME, USER, LOGNAME, XDG_RUNTIME_DIR, PATH,
    /// and RUST_BACKTRACE when the caller has it; nothing else of the caller's) and its home
    /// as the cwd, without changing who runs it.
    pub fn login_env(&self, c: &mut Command) {
        c.env_clear()
            .env("HOME", &self.home)
            .env("USER", &self.name)
            .env("LOGNAME", &self.name)
            .env("XDG_RUNTIME_DIR", &self.xdg_runtime_dir)
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .current_dir(&self.home);
        if let Some(v) = std::env::var_os("RUST_BACKTRACE") {
            c.env("RUST_BACKTRACE", v);
        }
    }

    /// A `Command` running `program` as this user (like [`TestUser::command`]) from inside the
    /// cgroup whose `cgroup.procs` is `procs`: root's `sh` moves itself there, then execs
    /// util-linux `setpriv` to become the user. The way a login's processes start in a cgroup
    /// delegated to the user (see [`Delegation`]), which the user could not move them into.
    pub fn command_in_cgroup(&self, procs: &Path, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(
                "echo $$ > \"$0\" && u=$1 g=$2 && shift 2 && \
                 exec setpriv --reuid=\"$u\" --regid=\"$g\" --clear-groups -- \"$@\"",
            )
            .arg(procs)
            .arg(self.uid.to_string())
            .arg(self.gid.to_string())
            .arg(program.as_ref());
        self.login_env(&mut c);
        c
    }

    /// Runs `program args` as this user, output captured.
    pub fn run(&self, program: &str, args: &[&str]) -> Outcome {
        let mut c = self.command(program);
        c.args(args);
        exec_timeout(c, true, Duration::from_secs(60))
    }

    /// A temp dir owned by this user (mode 0755), removed (by root) when dropped.
    pub fn tempdir(&self, prefix: &str) -> tempfile::TempDir {
        let d = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
        fs::set_permissions(d.path(), fs::Permissions::from_mode(0o755)).unwrap();
        chown(d.path(), Some(self.uid), Some(self.gid)).unwrap();
        d
    }

    /// The single-id mappings of `husk-runtime spec --rootless`: container 0 is this user.
    pub fn single_mappings(&self) -> (serde_json::Value, serde_json::Value) {
        (
            serde_json::json!([{"containerID": 0, "hostID": self.uid, "size": 1}]),
            serde_json::json!([{"containerID": 0, "hostID": self.gid, "size": 1}]),
        )
    }

    /// Mappings through newuidmap/newgidmap: container 0 is this user, container ids 1 to
    /// 65536 its subordinate ranges (as Podman's rootless mode maps them).
    pub fn subid_mappings(&self) -> (serde_json::Value, serde_json::Value) {
        let size = |r: IdRange| r.count.min(65536);
        (
            serde_json::json!([
                {"containerID": 0, "hostID": self.uid, "size": 1},
                {"containerID": 1, "hostID": self.subuid.start, "size": size(self.subuid)}
            ]),
            serde_json::json!([
                {"containerID": 0, "hostID": self.gid, "size": 1},
                {"containerID": 1, "hostID": self.subgid.start, "size": size(self.subgid)}
            ]),
        )
    }

    /// Chowns `path` and everything below it (symlinks themselves) to this user.
    pub fn chown_tree(&self, path: &Path) {
        chown_tree(path, self.uid, self.gid);
    }
}

/// Chowns `path` and everything below it (not following symlinks) to `uid:gid`.
pub fn chown_tree(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).unwrap();
    let meta = fs::symlink_metadata(path).unwrap();
    if meta.is_dir() {
        for e in fs::read_dir(path).unwrap() {
            chown_tree(&e.unwrap().path(), uid, gid);
        }
    }
}

/// `<cache>/bin`, mode 0755.
fn bin_dir() -> PathBuf {
    let dir = rootfs::cache_dir().join("bin");
    fs::create_dir_all(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// A copy of `src` that every user can run (see the module doc), named `<name>-<size>-<mtime>`.
pub fn readable_copy(src: &Path, name: &str) -> PathBuf {
    let meta = fs::metadata(src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    let stamp = format!(
        "{name}-{:x}-{:x}{:09}",
        meta.len(),
        meta.mtime(),
        meta.mtime_nsec()
    );
    let dir = bin_dir();
    let dest = dir.join(&stamp);
    if !dest.exists() {
        let tmp = dir.join(format!(".{stamp}.{}", std::process::id()));
        fs::copy(src, &tmp).unwrap();
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)).unwrap();
        fs::rename(&tmp, &dest).unwrap();
    }
    // Copies of older builds, a day old, go.
    let day_ago = SystemTime::now() - Duration::from_secs(86400);
    for e in fs::read_dir(&dir).into_iter().flatten().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t < day_ago);
        if n != stamp && n.starts_with(&format!("{name}-")) && old {
            let _ = fs::remove_file(e.path());
        }
    }
    dest
}

/// husk-runtime (or `$HUSK_RUNTIME`), copied where the test user can run it.
pub fn runtime_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| readable_copy(crate::runtime::binary(), "husk-runtime"))
}

/// husk (or `$HUSK_FRONT`), copied where the test user can run it.
pub fn front_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| readable_copy(crate::front::binary(), "husk"))
}

/// The static probe, copied where the test user can read it.
pub fn probe_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| readable_copy(crate::probe::binary(), "husk-probe"))
}

/// The `Uid:` line of /proc/PID/status as (real, effective, saved, filesystem), seen from the
/// host.
pub fn host_uids(pid: i32) -> Option<[u32; 4]> {
    ids_of(pid, "Uid:")
}

/// The `Gid:` line of /proc/PID/status, like [`host_uids`].
pub fn host_gids(pid: i32) -> Option<[u32; 4]> {
    ids_of(pid, "Gid:")
}

fn ids_of(pid: i32, key: &str) -> Option<[u32; 4]> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let v: Vec<u32> = line[key.len()..]
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    v.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scripts_line_is_parsed() {
        let u = parse("husk-rootless 1002 1003 /home/h /run/user/1002 165536 65536 200000 1000\n")
            .unwrap();
        assert_eq!((u.uid, u.gid), (1002, 1003));
        assert_eq!(u.xdg_runtime_dir, PathBuf::from("/run/user/1002"));
        assert_eq!(
            u.subgid,
            IdRange {
                start: 200000,
                count: 1000
            }
        );
        assert!(parse("husk-rootless 1002 1002 /h /x 1 2 3").is_none());
    }
}

/// A cgroup v2 subtree delegated to the test user, as a system manager delegates one to a login:
/// `<test cgroup parent>/rl-deleg-<n>` (the parent of [`crate::cgroups`], which it keeps alive)
/// with `controllers` enabled for its children, owned by the user with its `cgroup.procs`,
/// `cgroup.subtree_control` and `cgroup.threads`; and a leaf `runtime` in it (root's) for the
/// runtime's own processes, since a cgroup with enabled controllers may hold none. The user's
/// runtime can then make container cgroups under it, set their limits and move processes
/// between them. Removed when dropped (after the runtime that used it).
#[derive(Debug)]
pub struct Delegation {
    dir: PathBuf,
    rel: String,
    _parent: crate::cgroups::ParentGuard,
}

impl Delegation {
    /// Prepares the delegation for `user`; `None` (after saying why on stderr) where the host
    /// is not pure cgroup v2 or lacks one of `controllers`.
    pub fn prepare(user: &TestUser, controllers: &[&str]) -> Option<Delegation> {
        let hs = crate::cgroups::hierarchies();
        if hs.iter().any(|h| !h.controllers.is_empty()) {
            eprintln!("no delegation: cgroup v1 hierarchies are mounted (not a pure v2 host)");
            return None;
        }
        let own = hs.into_iter().find(|h| h.controllers.is_empty())?.own_dir;
        let self_path = fs::read_to_string("/proc/self/cgroup")
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("0::").map(str::to_string))?;
        let parent_guard = crate::cgroups::ParentGuard::acquire();
        let parent = own.join(crate::cgroups::parent_name());
        let have = fs::read_to_string(parent.join("cgroup.controllers")).unwrap_or_default();
        if let Some(c) = controllers
            .iter()
            .find(|c| !have.split_whitespace().any(|h| h == **c))
        {
            eprintln!(
                "no delegation: the {c} controller is not available in {}",
                parent.display()
            );
            return None;
        }
        let enable: Vec<String> = controllers.iter().map(|c| format!("+{c}")).collect();
        let enable = enable.join(" ");
        fs::write(parent.join("cgroup.subtree_control"), &enable).unwrap();
        let name = format!("rl-deleg-{}", crate::bundle::unique_id());
        let dir = parent.join(&name);
        fs::create_dir(&dir).unwrap();
        let d = Delegation {
            rel: format!(
                "{}/{}/{name}",
                self_path.trim_end_matches('/'),
                crate::cgroups::parent_name()
            ),
            dir,
            _parent: parent_guard,
        };
        fs::write(d.dir.join("cgroup.subtree_control"), &enable).unwrap();
        for f in [
            "",
            "cgroup.procs",
            "cgroup.subtree_control",
            "cgroup.threads",
        ] {
            chown(d.dir.join(f), Some(user.uid), Some(user.gid)).unwrap();
        }
        fs::create_dir(d.dir.join("runtime")).unwrap();
        Some(d)
    }

    /// The delegated cgroup's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The absolute `linux.cgroupsPath` of a container cgroup `leaf` below the delegation.
    pub fn cgroups_path(&self, leaf: &str) -> String {
        format!("{}/{leaf}", self.rel)
    }

    /// The `cgroup.procs` of the leaf where the runtime's processes run
    /// ([`crate::Runtime::rootless_in_cgroup`]).
    pub fn runtime_procs(&self) -> PathBuf {
        self.dir.join("runtime/cgroup.procs")
    }
}

impl Drop for Delegation {
    fn drop(&mut self) {
        if let Ok(entries) = fs::read_dir(&self.dir) {
            for e in entries.flatten() {
                if e.path().is_dir() {
                    let _ = fs::remove_dir(e.path());
                }
            }
        }
        if let Err(e) = fs::remove_dir(&self.dir) {
            eprintln!("LEAK: cannot remove {}: {e}", self.dir.display());
        }
    }
}
