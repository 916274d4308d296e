//! The state directory of one container, `<root>/<id>/`, its lock and `state.json`.
//!
//! Layout of `<root>/<id>/` (root defaults to /run/husk, mode 0700):
//! - `state.json`: [`StateFile`], always replaced atomically (write `state.json.tmp`, fsync-free
//!   rename: /run is a tmpfs and a crash loses the container anyway);
//! - `config.json`: the bundle's config.json as it was at `create` (runtime-spec "lifecycle":
//!   later edits of the bundle must not affect the container), read by every later verb;
//! - `start.sock`: the unix socket the container's init listens on until `start` connects.
//!
//! The lock is `flock(2)` on the directory itself: exclusive for verbs that change the container,
//! so two `delete`s or a `start` racing a `kill` see one consistent state. Creating the
//! directory with `mkdir(2)` is what makes two concurrent `create ID` leave exactly one container.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

/// The lifecycle status of a container (runtime-spec "state", plus runc's `paused`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// `create` is still setting the container up (or died doing so).
    Creating,
    /// Set up; the init waits for `start` before it executes the user program.
    Created,
    /// The user program has been executed and its process is alive.
    Running,
    /// Frozen through the cgroup freezer (the cgroup issue).
    Paused,
    /// The container's process has exited (or is a zombie nobody reaps).
    Stopped,
}

impl Status {
    /// The spec's lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
    /// `start` is allowed only on a created container.
    pub fn can_start(self) -> bool {
        self == Status::Created
    }
    /// Signals can be sent to a created, running or paused container (runc's rule).
    pub fn can_kill(self) -> bool {
        matches!(self, Status::Created | Status::Running | Status::Paused)
    }
    /// `delete` without `--force` is allowed on a stopped container and (as runc and containerd
    /// expect, unlike the spec) on a created one.
    pub fn can_delete(self) -> bool {
        matches!(self, Status::Stopped | Status::Created | Status::Creating)
    }
}

/// The container's init process, identified by pid *and* start time so that a reused pid is
/// never taken for the container (`man 5 proc`, /proc/PID/stat field 22).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitProcess {
    /// The pid in the runtime's pid namespace.
    pub pid: i32,
    /// Field 22 of /proc/PID/stat (clock ticks since boot).
    pub start_time: u64,
}

/// Hooks progress, so that `delete` knows which hooks are still owed (poststop runs only for a
/// container whose createRuntime hooks started).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HooksProgress {
    /// createRuntime/prestart hooks have been started.
    pub create_runtime_started: bool,
}

/// What `state.json` holds: the spec's state plus every resource made so far, so that
/// `delete --force` can clean up a container whose `create` was killed half way.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StateFile {
    /// The container id.
    pub id: String,
    /// The status last recorded by a verb (the live status also looks at the process).
    pub status: Status,
    /// The absolute bundle path.
    pub bundle: PathBuf,
    /// The absolute rootfs path on the host.
    pub rootfs: PathBuf,
    /// When `create` began (RFC 3339, UTC, nanoseconds), as runc's `created`.
    pub created: String,
    /// The container's init, once it exists.
    pub init: Option<InitProcess>,
    /// The container's cgroup, once made.
    pub cgroup: Option<husk_cgroups::Cgroup>,
    /// Hook progress.
    #[serde(default)]
    pub hooks: HooksProgress,
    /// The config's annotations (echoed by `state`).
    #[serde(default)]
    pub annotations: std::collections::BTreeMap<String, String>,
    /// The uid that created the container (runc's `owner` is its user name; empty for root).
    #[serde(default)]
    pub owner: String,
    /// The host network interfaces moved into the container (`linux.netDevices`): where they
    /// came from, their host names, up state and addresses, each recorded before its move.
    /// husk's own field, not part of the spec's state; nothing moves them back at `delete`
    /// (runtime-spec: the runtime MUST NOT), it tells an operator what the container took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_devices: Option<crate::netdev::MovedDevices>,
}

/// Errors of the state directory.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// `create` of an id that is taken.
    #[error("container \"{0}\" already exists (delete it first, or pick another id)")]
    Exists(String),
    /// A verb on an id that has no state directory.
    #[error("container \"{0}\" does not exist")]
    NotFound(String),
    /// A file or directory operation failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// On which path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// state.json could not be parsed.
    #[error("state file {path} is corrupt ({source}); `delete --force` removes the container")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StateError + 'a {
    move |source| StateError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// An open, locked state directory.
#[derive(Debug)]
pub struct StateDir {
    dir: PathBuf,
    id: String,
    _lock: Flock<fs::File>,
}

impl StateDir {
    /// Create `<root>/<id>/` (and `root`, mode 0700, if missing) and lock it. The id must
    /// already be valid ([`crate::id::validate`]).
    ///
    /// # Errors
    /// [`StateError::Exists`] when another container has the id; Io otherwise.
    pub fn create(root: &Path, id: &str) -> Result<StateDir, StateError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .map_err(io_err("cannot create state root", root))?;
        let dir = root.join(id);
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(StateError::Exists(id.to_string()))
            }
            Err(e) => return Err(io_err("cannot create state directory", &dir)(e)),
        }
        let lock = lock_dir(&dir)?;
        Ok(StateDir {
            dir,
            id: id.to_string(),
            _lock: lock,
        })
    }

    /// Open and lock the state directory of an existing container. Waits for the lock.
    ///
    /// # Errors
    /// [`StateError::NotFound`] when there is no such container (or it was deleted while we
    /// waited for the lock).
    pub fn open(root: &Path, id: &str) -> Result<StateDir, StateError> {
        StateDir::open_with(root, id, FlockArg::LockExclusive)
    }

    /// Like [`StateDir::open`] with a shared lock: for `exec`, which only reads the state, so
    /// that many execs go on at once while `delete`, `kill` and the other verbs that take the
    /// exclusive lock wait for them (and they for those).
    ///
    /// # Errors
    /// As [`StateDir::open`].
    pub fn open_shared(root: &Path, id: &str) -> Result<StateDir, StateError> {
        StateDir::open_with(root, id, FlockArg::LockShared)
    }

    fn open_with(root: &Path, id: &str, how: FlockArg) -> Result<StateDir, StateError> {
        let dir = root.join(id);
        let lock = match lock_dir_as(&dir, how) {
            Ok(l) => l,
            Err(StateError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                return Err(StateError::NotFound(id.to_string()))
            }
            Err(e) => return Err(e),
        };
        // A delete may have removed the directory while we waited: it is gone then. (A directory
        // without state.json is a create killed early: `delete --force` removes it.)
        // And if a new `create` made a directory of the same name since, our lock is on the
        // old one: compare the locked inode with the one the path names now.
        let same = match (fs::metadata(&dir), lock.metadata()) {
            (Ok(now), Ok(locked)) => {
                use std::os::unix::fs::MetadataExt;
                now.dev() == locked.dev() && now.ino() == locked.ino()
            }
            _ => false,
        };
        if !same {
            return Err(StateError::NotFound(id.to_string()));
        }
        Ok(StateDir {
            dir,
            id: id.to_string(),
            _lock: lock,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The fd that holds the lock. A forked child must close it (without unlocking: the lock
    /// belongs to the open file, shared with the parent) so that it cannot keep the container
    /// locked when the parent dies.
    pub fn lock_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self._lock.as_raw_fd()
    }

    /// The container id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// `<dir>/start.sock`, spelled through this process's fd of the directory
    /// (`/proc/self/fd/N/start.sock`): a unix socket path must fit in 108 bytes (`man 7 unix`),
    /// which `<root>/<id>/start.sock` does not for long roots or ids.
    pub fn start_socket(&self) -> PathBuf {
        use std::os::fd::AsRawFd;
        PathBuf::from(format!(
            "/proc/self/fd/{}/start.sock",
            self._lock.as_raw_fd()
        ))
    }

    /// Write the config.json snapshot.
    ///
    /// # Errors
    /// Io when the file cannot be written.
    pub fn write_config(&self, raw: &[u8]) -> Result<(), StateError> {
        write_atomic(&self.dir.join("config.json"), raw)
    }

    /// Read the config.json snapshot.
    ///
    /// # Errors
    /// Io when the file cannot be read.
    pub fn read_config(&self) -> Result<Vec<u8>, StateError> {
        let p = self.dir.join("config.json");
        fs::read(&p).map_err(io_err("cannot read config snapshot", &p))
    }

    /// Replace state.json atomically.
    ///
    /// # Errors
    /// Io when it cannot be written.
    pub fn write_state(&self, state: &StateFile) -> Result<(), StateError> {
        let p = self.dir.join("state.json");
        let bytes = serde_json::to_vec(state).map_err(|e| StateError::Corrupt {
            path: p.clone(),
            source: e,
        })?;
        write_atomic(&p, &bytes)
    }

    /// Read state.json.
    ///
    /// # Errors
    /// Io when missing or unreadable; Corrupt when not parsable.
    pub fn read_state(&self) -> Result<StateFile, StateError> {
        let p = self.dir.join("state.json");
        let bytes = fs::read(&p).map_err(io_err("cannot read state", &p))?;
        serde_json::from_slice(&bytes).map_err(|e| StateError::Corrupt { path: p, source: e })
    }

    /// Remove the directory and everything in it (the lock goes with it).
    ///
    /// # Errors
    /// Io when it cannot be removed.
    pub fn remove(self) -> Result<(), StateError> {
        fs::remove_dir_all(&self.dir).map_err(io_err("cannot remove state directory", &self.dir))
    }
}

fn lock_dir(dir: &Path) -> Result<Flock<fs::File>, StateError> {
    lock_dir_as(dir, FlockArg::LockExclusive)
}

fn lock_dir_as(dir: &Path, how: FlockArg) -> Result<Flock<fs::File>, StateError> {
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)
        .map_err(io_err("cannot open state directory", dir))?;
    Flock::lock(f, how)
        .map_err(|(_, e)| io_err("cannot lock state directory", dir)(io::Error::from(e)))
}

/// Write `bytes` to `path` atomically: a temp file beside it, then rename(2) over it.
///
/// # Errors
/// Io naming the path.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let res = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        fs::rename(&tmp, path)
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res.map_err(io_err("cannot write", path))
}

/// The ids of every container under `root` (directories holding a state.json), sorted.
///
/// # Errors
/// Io when `root` exists but cannot be read (a missing root is an empty list).
pub fn list_ids(root: &Path) -> Result<Vec<String>, StateError> {
    let rd = match fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("cannot read state root", root)(e)),
    };
    let mut ids: Vec<String> = rd
        .filter_map(Result::ok)
        .filter(|e| e.path().join("state.json").exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    Ok(ids)
}

/// What /proc/PID/stat says of a process (`man 5 proc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Field 3: R, S, D, Z, T, ...
    pub state: char,
    /// Field 22: start time in clock ticks since boot.
    pub start_time: u64,
    /// Field 52 (Linux 3.5): the exit status in waitpid(2)'s form; meaningful for a zombie.
    pub exit_code: Option<i32>,
}

/// Read /proc/PID/stat. None when the process does not exist.
pub fn proc_stat(pid: i32) -> Option<ProcStat> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm may contain spaces and parentheses: the fields start after the last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let start_time = fields.get(19)?.parse().ok()?;
    let exit_code = fields.get(49).and_then(|f| f.parse().ok());
    Some(ProcStat {
        state,
        start_time,
        exit_code,
    })
}

impl InitProcess {
    /// Record `pid` with its current start time. None when it is already gone.
    pub fn of(pid: i32) -> Option<InitProcess> {
        proc_stat(pid).map(|s| InitProcess {
            pid,
            start_time: s.start_time,
        })
    }

    /// What became of this process, for an error message once [`InitProcess::is_alive`] says
    /// it is gone: "exited with status N" or "was killed by signal SIG" while its zombie is
    /// unreaped, else that it is gone (reaped) or that its pid is another process's now.
    pub fn fate(&self) -> String {
        match proc_stat(self.pid) {
            None => format!("(pid {}) is gone", self.pid),
            Some(s) if s.start_time != self.start_time => {
                format!(
                    "(pid {}) is gone; the pid is another process's now",
                    self.pid
                )
            }
            Some(ProcStat {
                exit_code: Some(w),
                state: 'Z' | 'X',
                ..
            }) if libc::WIFSIGNALED(w) => {
                let sig = nix::sys::signal::Signal::try_from(libc::WTERMSIG(w))
                    .map_or_else(|_| libc::WTERMSIG(w).to_string(), |s| s.to_string());
                format!("(pid {}) was killed by {sig}", self.pid)
            }
            // The kernel shows 0 to a reader without ptrace access to the process.
            Some(ProcStat {
                exit_code: Some(0),
                state: 'Z' | 'X',
                ..
            }) => format!(
                "(pid {}) exited (with status 0, or its status is not readable here)",
                self.pid
            ),
            Some(ProcStat {
                exit_code: Some(w),
                state: 'Z' | 'X',
                ..
            }) => format!(
                "(pid {}) exited with status {}",
                self.pid,
                libc::WEXITSTATUS(w)
            ),
            Some(s) => format!("(pid {}) is in state {}", self.pid, s.state),
        }
    }

    /// Whether this very process (same pid, same start time) is alive and not a zombie. A zombie
    /// counts as stopped: on hosts whose PID 1 does not reap, it may never go away.
    pub fn is_alive(&self) -> bool {
        match proc_stat(self.pid) {
            Some(s) => s.start_time == self.start_time && s.state != 'Z' && s.state != 'X',
            None => false,
        }
    }
}

impl StateFile {
    /// The live status: the recorded one, corrected by whether the init still lives.
    pub fn live_status(&self) -> Status {
        match (self.status, self.init) {
            (Status::Creating, _) => Status::Creating,
            (Status::Stopped, _) => Status::Stopped,
            (s, Some(init)) if init.is_alive() => {
                // runc's rule: a created or running container whose cgroup is frozen is
                // paused; `resume` brings back the status it had.
                if matches!(s, Status::Created | Status::Running) && is_frozen(self) {
                    Status::Paused
                } else {
                    s
                }
            }
            _ => Status::Stopped,
        }
    }

    /// The spec's state document (runtime-spec "state") with runc's extra fields.
    pub fn to_oci_json(&self) -> serde_json::Value {
        let status = self.live_status();
        let pid = match (status, self.init) {
            (Status::Stopped, _) | (_, None) => 0,
            (_, Some(i)) => i.pid,
        };
        let mut v = serde_json::json!({
            "ociVersion": crate::OCI_VERSION,
            "id": self.id,
            "pid": pid,
            "status": status.as_str(),
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": self.owner,
        });
        if !self.annotations.is_empty() {
            v["annotations"] = serde_json::json!(self.annotations);
        }
        v
    }
}

/// Whether the container's own cgroup is frozen (`pause`). A freezer that cannot be read (the
/// cgroup is gone) is not frozen.
fn is_frozen(state: &StateFile) -> bool {
    let Some(cgroup) = &state.cgroup else {
        return false;
    };
    match cgroup.freezer_state() {
        Ok(husk_cgroups::FreezerState::Frozen) => true,
        Ok(_) => false,
        Err(e) => {
            tracing::debug!("container {:?}: reading its freezer: {e}", state.id);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_twice_is_exists_and_open_missing_is_not_found() {
        let t = tempfile::tempdir().unwrap();
        let d = StateDir::create(t.path(), "a").unwrap();
        drop(d);
        assert!(matches!(
            StateDir::create(t.path(), "a"),
            Err(StateError::Exists(_))
        ));
        assert!(matches!(
            StateDir::open(t.path(), "b"),
            Err(StateError::NotFound(_))
        ));
    }

    #[test]
    fn state_round_trips_and_lists() {
        let t = tempfile::tempdir().unwrap();
        let d = StateDir::create(t.path(), "c1").unwrap();
        let st = StateFile {
            id: "c1".into(),
            status: Status::Created,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "2026-01-01T00:00:00Z".into(),
            init: InitProcess::of(std::process::id() as i32),
            cgroup: None,
            hooks: HooksProgress::default(),
            annotations: Default::default(),
            owner: String::new(),
            net_devices: None,
        };
        d.write_state(&st).unwrap();
        let back = d.read_state().unwrap();
        assert_eq!(back.init, st.init);
        assert_eq!(back.live_status(), Status::Created);
        assert_eq!(list_ids(t.path()).unwrap(), vec!["c1".to_string()]);
        let j = back.to_oci_json();
        assert_eq!(j["status"], "created");
        assert_eq!(j["pid"], std::process::id() as i32);
        assert!(j.get("annotations").is_none());
        d.remove().unwrap();
        assert!(list_ids(t.path()).unwrap().is_empty());
    }

    #[test]
    fn a_reused_pid_is_not_the_container() {
        let me = InitProcess::of(std::process::id() as i32).unwrap();
        assert!(me.is_alive());
        let other = InitProcess {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(!other.is_alive());
    }

    #[test]
    fn fate_says_how_an_init_ended() {
        // A zombie (not yet waited for) tells its status; once reaped, only that it is gone.
        let zombie = |cmd: &str| {
            let mut child = std::process::Command::new("sh")
                .args(["-c", cmd])
                .spawn()
                .unwrap();
            let pid = child.id() as i32;
            let init = InitProcess::of(pid).unwrap();
            while proc_stat(pid).is_some_and(|s| s.state != 'Z') {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            assert!(!init.is_alive());
            let fate = init.fate();
            child.wait().unwrap();
            (pid, fate, init.fate())
        };
        let (pid, fate, reaped) = zombie("exit 3");
        assert_eq!(fate, format!("(pid {pid}) exited with status 3"));
        assert_eq!(reaped, format!("(pid {pid}) is gone"));
        let (pid, fate, _) = zombie("kill -KILL $$");
        assert_eq!(fate, format!("(pid {pid}) was killed by SIGKILL"));
    }

    #[test]
    fn proc_stat_parses_comm_with_parens() {
        let s = proc_stat(std::process::id() as i32).unwrap();
        assert!(s.start_time > 0);
        assert!(proc_stat(i32::MAX).is_none());
    }
}
