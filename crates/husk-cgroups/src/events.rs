//! OOM kills of a container's cgroup, for `events` (runc emits `{"type":"oom"}` for each).
//!
//! The counter is the kernel's `oom_kill`: v1 memory.oom_control (Linux 4.13), v2
//! memory.events. Watching is by reading it again: on v2 the wait is a poll(2) for POLLPRI on
//! memory.events, which the kernel raises when the file changes (cgroup-v2.rst: "a value
//! change in this file generates a file modified event"), so an OOM kill is seen at once; v1
//! has no such notification for memory.oom_control (its eventfd interface,
//! cgroup.event_control, is deprecated), so there the wait is a sleep and an OOM kill is seen
//! at the next read. runc uses the eventfd on v1 and inotify on v2.

use std::fs::File;
use std::io::{ErrorKind, Read, Seek};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::cgroup::Cgroup;
use crate::error::CgroupError;
use crate::layout::CgroupVersion;
use crate::stats;

/// A watch on the OOM-kill counter of a container's cgroup; see the module doc.
#[derive(Debug)]
pub struct OomWatch {
    source: Option<Source>,
    last: u64,
}

#[derive(Debug)]
enum Source {
    /// v1 memory.oom_control.
    V1(PathBuf),
    /// v2 memory.events, kept open for poll(2).
    V2 { path: PathBuf, file: File },
}

impl Cgroup {
    /// Start watching the OOM kills of the container's memory cgroup (v1 when the host has a v1
    /// memory hierarchy, else cgroup2). Kills before this call are not reported. Without a
    /// memory controller for the cgroup there is nothing to watch and [`OomWatch::wait`] only
    /// waits.
    ///
    /// # Errors
    /// The counter file exists but cannot be read or parsed (named).
    pub fn oom_watch(&self) -> Result<OomWatch, CgroupError> {
        self.check_paths()?;
        let source = if let Some(dir) = self.dir(CgroupVersion::V1, Some("memory")) {
            Some(Source::V1(dir.path().join("memory.oom_control")))
        } else if let Some(dir) = self.dir(CgroupVersion::V2, None) {
            let path = dir.path().join("memory.events");
            match File::open(&path) {
                Ok(file) => Some(Source::V2 { path, file }),
                Err(e) if e.kind() == ErrorKind::NotFound => None,
                Err(source) => return Err(CgroupError::Read { path, source }),
            }
        } else {
            None
        };
        let mut watch = OomWatch { source, last: 0 };
        watch.last = watch.read()?.unwrap_or(0);
        Ok(watch)
    }
}

impl OomWatch {
    /// Wait up to `timeout` (v2: less when memory.events changes) and return how many OOM
    /// kills happened since the last call: `Some(0)` for none, `None` once the counter is gone
    /// (the cgroup was removed) or was never there.
    ///
    /// # Errors
    /// The counter cannot be read or parsed (named).
    pub fn wait(&mut self, timeout: Duration) -> Result<Option<u64>, CgroupError> {
        match &self.source {
            Some(Source::V2 { file, .. }) => {
                let millis = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
                let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLPRI)];
                // EINTR and the like only end the wait early.
                let _ = poll(&mut fds, PollTimeout::from(millis));
            }
            Some(Source::V1(_)) | None => std::thread::sleep(timeout),
        }
        if self.source.is_none() {
            return Ok(None);
        }
        let Some(now) = self.read()? else {
            return Ok(None);
        };
        let new = now.saturating_sub(self.last);
        self.last = now;
        Ok(Some(new))
    }

    /// The counter now; None when the file (or the key) is gone.
    fn read(&mut self) -> Result<Option<u64>, CgroupError> {
        let (path, text) = match &mut self.source {
            None => return Ok(None),
            Some(Source::V1(path)) => match std::fs::read_to_string(&*path) {
                Ok(text) => (path.clone(), text),
                Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
                Err(source) => {
                    return Err(CgroupError::Read {
                        path: path.clone(),
                        source,
                    })
                }
            },
            Some(Source::V2 { path, file }) => {
                // Reading from the start again also re-arms the POLLPRI notification.
                let mut text = String::new();
                let read = file.rewind().and_then(|()| file.read_to_string(&mut text));
                match read {
                    Ok(_) => (path.clone(), text),
                    // A removed cgroup's open file reads ENODEV.
                    Err(e) if e.raw_os_error() == Some(libc::ENODEV) => return Ok(None),
                    Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
                    Err(source) => {
                        return Err(CgroupError::Read {
                            path: path.clone(),
                            source,
                        })
                    }
                }
            }
        };
        match &self.source {
            Some(Source::V1(_)) => stats::oom_kills_v1(&text, &path),
            _ => stats::oom_kills_v2(&text, &path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::tests::{UNIFIED_MOUNTINFO, V1_CGROUP, V1_MOUNTINFO};
    use crate::layout::Layout;

    #[test]
    fn v1_counts_new_kills_and_ends_when_the_cgroup_goes() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::from_parts_at(V1_MOUNTINFO, V1_CGROUP, tmp.path()).unwrap();
        for h in layout.hierarchies() {
            std::fs::create_dir_all(&h.mount_point).unwrap();
        }
        let cg = Cgroup::create(&layout, Some("/c1"), "c1").unwrap();
        let file = cg
            .dir(CgroupVersion::V1, Some("memory"))
            .unwrap()
            .path()
            .join("memory.oom_control");
        std::fs::write(&file, "oom_kill_disable 0\nunder_oom 0\noom_kill 4\n").unwrap();
        let mut watch = cg.oom_watch().unwrap();
        assert_eq!(watch.wait(Duration::ZERO).unwrap(), Some(0));
        std::fs::write(&file, "oom_kill_disable 0\nunder_oom 0\noom_kill 6\n").unwrap();
        assert_eq!(watch.wait(Duration::ZERO).unwrap(), Some(2));
        assert_eq!(watch.wait(Duration::ZERO).unwrap(), Some(0));
        std::fs::write(&file, "oom_kill 6 x\n").unwrap();
        assert!(watch.wait(Duration::ZERO).is_err());
        std::fs::remove_file(&file).unwrap();
        cg.destroy().unwrap();
        assert_eq!(watch.wait(Duration::ZERO).unwrap(), None);
    }

    #[test]
    fn v2_reads_memory_events_and_without_it_only_waits() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::from_parts_at(UNIFIED_MOUNTINFO, "0::/\n", tmp.path()).unwrap();
        std::fs::create_dir_all(&layout.hierarchies()[0].mount_point).unwrap();
        let cg = Cgroup::create(&layout, None, "c1").unwrap();
        let mut watch = cg.oom_watch().unwrap();
        assert_eq!(watch.wait(Duration::ZERO).unwrap(), None);
        let file = cg.unified_dir().unwrap().join("memory.events");
        std::fs::write(&file, "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n").unwrap();
        let mut watch = cg.oom_watch().unwrap();
        // Rewritten in place, as the kernel does (the watch keeps the file open).
        std::fs::write(&file, "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\n").unwrap();
        assert_eq!(watch.wait(Duration::ZERO).unwrap(), Some(1));
    }
}
