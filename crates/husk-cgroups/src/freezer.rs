//! The cgroup freezer behind `pause`, `resume`, the `paused` status and the freeze around
//! `kill --all`: v1 `freezer.state` (kernel Documentation/admin-guide/cgroup-v1/
//! freezer-subsystem.rst) or v2 `cgroup.freeze` with the `frozen` key of `cgroup.events`
//! (cgroup-v2.rst, "Core Interface Files").

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::cgroup::Cgroup;
use crate::error::CgroupError;
use crate::fs::{read_file, write_file};
use crate::layout::CgroupVersion;

/// How long [`Cgroup::freeze`] waits for the kernel to say frozen. runc 1.1 gives up after
/// about the same time; a process in uninterruptible sleep (state D) can hold a freeze back.
const PAUSE_TIMEOUT: Duration = Duration::from_secs(5);

/// What the container's own cgroup asks of the freezer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreezerState {
    /// Not frozen (also: frozen only because an ancestor cgroup is, which is not the
    /// container's pause; runc reports the same).
    Thawed,
    /// Asked to freeze, not all processes frozen yet (v1 `FREEZING`; v2 `cgroup.freeze` 1 with
    /// `frozen 0` in cgroup.events).
    Freezing,
    /// Every process is frozen (v1 `FROZEN` with `freezer.self_freezing` 1; v2 `frozen 1`).
    Frozen,
}

/// The freezer files of one cgroup.
pub(crate) enum Freezer {
    /// v1: the freezer hierarchy's directory of the container.
    V1(PathBuf),
    /// v2: the container's cgroup2 directory.
    V2(PathBuf),
}

impl Freezer {
    /// The file whose content tells the state, for error messages.
    fn state_file(&self) -> PathBuf {
        match self {
            Freezer::V1(dir) => dir.join("freezer.state"),
            Freezer::V2(dir) => dir.join("cgroup.events"),
        }
    }

    /// The state the container's cgroup asks for (see [`FreezerState`]).
    pub(crate) fn state(&self) -> Result<FreezerState, CgroupError> {
        match self {
            Freezer::V1(dir) => {
                let state = read_file(&dir.join("freezer.state"))?;
                match state.trim() {
                    "THAWED" => Ok(FreezerState::Thawed),
                    "FREEZING" => Ok(FreezerState::Freezing),
                    "FROZEN" => {
                        // FROZEN is also what a cgroup shows when only an ancestor is frozen;
                        // freezer.self_freezing says whether it was this one (absent on very
                        // old kernels: then take FROZEN at its word).
                        let own = dir.join("freezer.self_freezing");
                        match std::fs::read_to_string(&own) {
                            Ok(s) if s.trim() == "0" => Ok(FreezerState::Thawed),
                            Ok(_) => Ok(FreezerState::Frozen),
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                                Ok(FreezerState::Frozen)
                            }
                            Err(source) => Err(CgroupError::Read { path: own, source }),
                        }
                    }
                    other => Err(CgroupError::Parse {
                        path: dir.join("freezer.state"),
                        content: other.to_owned(),
                    }),
                }
            }
            Freezer::V2(dir) => {
                let asked = read_file(&dir.join("cgroup.freeze"))?;
                if asked.trim() != "1" {
                    return Ok(FreezerState::Thawed);
                }
                if self.is_frozen()? {
                    Ok(FreezerState::Frozen)
                } else {
                    Ok(FreezerState::Freezing)
                }
            }
        }
    }

    /// Whether every process of the cgroup is frozen now, for whatever reason (the cgroup's
    /// own freeze or an ancestor's).
    pub(crate) fn is_frozen(&self) -> Result<bool, CgroupError> {
        match self {
            Freezer::V1(dir) => Ok(read_file(&dir.join("freezer.state"))?.trim() == "FROZEN"),
            Freezer::V2(dir) => Ok(read_file(&dir.join("cgroup.events"))?
                .lines()
                .any(|l| l.trim() == "frozen 1")),
        }
    }

    /// Freeze and wait until the kernel says frozen; false (after thawing again) when it does
    /// not get there within `timeout`.
    ///
    /// v1 FROZEN is written again on every round: a cgroup stuck in FREEZING (a task that
    /// was forking) retries the freeze on each write.
    pub(crate) fn freeze(&self, timeout: Duration) -> Result<bool, CgroupError> {
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_micros(100);
        loop {
            match self {
                Freezer::V1(dir) => write_file(&dir.join("freezer.state"), "FROZEN")?,
                Freezer::V2(dir) => write_file(&dir.join("cgroup.freeze"), "1")?,
            }
            if self.is_frozen()? {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                self.thaw()?;
                return Ok(false);
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(10));
        }
    }

    /// Thaw (v1 THAWED, v2 cgroup.freeze 0). The kernel wakes the processes; nothing to
    /// wait for.
    pub(crate) fn thaw(&self) -> Result<(), CgroupError> {
        match self {
            Freezer::V1(dir) => write_file(&dir.join("freezer.state"), "THAWED"),
            Freezer::V2(dir) => write_file(&dir.join("cgroup.freeze"), "0"),
        }
    }
}

impl Cgroup {
    /// The container's freezer: the v1 freezer hierarchy when mounted, else cgroup2's
    /// cgroup.freeze when the kernel has it (Linux 5.2).
    pub(crate) fn freezer(&self) -> Option<Freezer> {
        if let Some(dir) = self.dir(CgroupVersion::V1, Some("freezer")) {
            return Some(Freezer::V1(dir.path().to_owned()));
        }
        let dir = self.dir(CgroupVersion::V2, None)?;
        dir.path()
            .join("cgroup.freeze")
            .exists()
            .then(|| Freezer::V2(dir.path().to_owned()))
    }

    /// `pause`: freeze every process of the container (runc's `pause`). Waits until the kernel
    /// says frozen, at most 5 s; a cgroup that does not get there is thawed again and
    /// [`CgroupError::FreezeTimeout`] names the state file. Freezing a frozen cgroup is fine.
    ///
    /// # Errors
    /// [`CgroupError::NoFreezer`]; a cgroup file that cannot be written or read (named).
    pub fn freeze(&self) -> Result<(), CgroupError> {
        self.check_paths()?;
        let freezer = self.freezer().ok_or_else(|| self.no_freezer())?;
        if freezer.freeze(PAUSE_TIMEOUT)? {
            return Ok(());
        }
        let path = freezer.state_file();
        let state = std::fs::read_to_string(&path)
            .map(|s| s.trim().replace('\n', ", "))
            .unwrap_or_default();
        Err(CgroupError::FreezeTimeout {
            path,
            state,
            timeout: PAUSE_TIMEOUT,
        })
    }

    /// `resume`: thaw the container's processes (runc's `resume`). Thawing a thawed cgroup is
    /// fine.
    ///
    /// # Errors
    /// [`CgroupError::NoFreezer`]; the freezer file cannot be written (named).
    pub fn thaw(&self) -> Result<(), CgroupError> {
        self.check_paths()?;
        self.freezer().ok_or_else(|| self.no_freezer())?.thaw()
    }

    /// What the container's cgroup asks of the freezer ([`FreezerState`]); `Thawed` when the
    /// host has no freezer for it (nothing can have frozen it).
    ///
    /// # Errors
    /// The freezer files cannot be read (e.g. the cgroup is gone).
    pub fn freezer_state(&self) -> Result<FreezerState, CgroupError> {
        self.check_paths()?;
        match self.freezer() {
            Some(freezer) => freezer.state(),
            None => Ok(FreezerState::Thawed),
        }
    }

    fn no_freezer(&self) -> CgroupError {
        let path = self
            .dir(CgroupVersion::V2, None)
            .or_else(|| self.dirs().first())
            .map(|d| d.path().to_owned())
            .unwrap_or_else(|| Path::new("/sys/fs/cgroup").to_owned());
        CgroupError::NoFreezer { path }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::tests::{HYBRID_CGROUP, HYBRID_MOUNTINFO, UNIFIED_MOUNTINFO};
    use crate::layout::Layout;

    fn cgroup(mountinfo: &str, proc_cgroup: &str) -> (tempfile::TempDir, Cgroup) {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::from_parts_at(mountinfo, proc_cgroup, tmp.path()).unwrap();
        for h in layout.hierarchies() {
            std::fs::create_dir_all(&h.mount_point).unwrap();
        }
        let cg = Cgroup::create(&layout, Some("/c1"), "c1").unwrap();
        (tmp, cg)
    }

    #[test]
    fn v1_states_and_the_ancestor_case() {
        let (_tmp, cg) = cgroup(HYBRID_MOUNTINFO, HYBRID_CGROUP);
        let dir = cg.dir(CgroupVersion::V1, Some("freezer")).unwrap().path();
        let state = dir.join("freezer.state");
        std::fs::write(&state, "THAWED\n").unwrap();
        assert_eq!(cg.freezer_state().unwrap(), FreezerState::Thawed);
        std::fs::write(&state, "FREEZING\n").unwrap();
        assert_eq!(cg.freezer_state().unwrap(), FreezerState::Freezing);
        std::fs::write(&state, "FROZEN\n").unwrap();
        assert_eq!(cg.freezer_state().unwrap(), FreezerState::Frozen);
        std::fs::write(dir.join("freezer.self_freezing"), "0\n").unwrap();
        assert_eq!(cg.freezer_state().unwrap(), FreezerState::Thawed);
        std::fs::write(dir.join("freezer.self_freezing"), "1\n").unwrap();
        assert_eq!(cg.freezer_state().unwrap(), FreezerState::Frozen);
        std::fs::write(&state, "MELTING\n").unwrap();
        let err = cg.freezer_state().unwrap_err();
        assert!(err.to_string().contains("freezer.state"), "{err}");
        // A plain file takes the write as the kernel would and reads back FROZEN.
        std::fs::write(&state, "").unwrap();
        cg.freeze().unwrap();
        assert_eq!(std::fs::read_to_string(&state).unwrap(), "FROZEN");
        cg.thaw().unwrap();
        assert_eq!(std::fs::read_to_string(&state).unwrap(), "THAWED");
    }

    #[test]
    fn v2_freeze_that_never_completes_is_thawed_and_named() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::from_parts_at(UNIFIED_MOUNTINFO, "0::/\n", tmp.path()).unwrap();
        std::fs::create_dir_all(&layout.hierarchies()[0].mount_point).unwrap();
        let cg = Cgroup::create(&layout, None, "c1").unwrap();
        // No cgroup.freeze (a kernel before 5.2): no freezer.
        assert_eq!(cg.freezer_state().unwrap(), FreezerState::Thawed);
        assert!(matches!(cg.freeze(), Err(CgroupError::NoFreezer { .. })));
        let dir = cg.unified_dir().unwrap().to_owned();
        std::fs::write(dir.join("cgroup.freeze"), "0\n").unwrap();
        std::fs::write(dir.join("cgroup.events"), "populated 1\nfrozen 0\n").unwrap();
        assert_eq!(cg.freezer_state().unwrap(), FreezerState::Thawed);
        std::fs::write(dir.join("cgroup.freeze"), "1\n").unwrap();
        assert_eq!(cg.freezer_state().unwrap(), FreezerState::Freezing);
        std::fs::write(dir.join("cgroup.events"), "populated 1\nfrozen 1\n").unwrap();
        assert_eq!(cg.freezer_state().unwrap(), FreezerState::Frozen);
        // The kernel never says frozen here: the bounded wait ends, the cgroup is thawed.
        std::fs::write(dir.join("cgroup.events"), "populated 1\nfrozen 0\n").unwrap();
        let freezer = cg.freezer().unwrap();
        assert!(!freezer.freeze(Duration::from_millis(20)).unwrap());
        assert_eq!(
            std::fs::read_to_string(dir.join("cgroup.freeze"))
                .unwrap()
                .trim(),
            "0"
        );
    }
}
