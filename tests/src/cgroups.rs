//! The test cgroup parent: `husk-test-<pid>` made under the test process's own cgroup in every
//! hierarchy it is in (each v1 hierarchy, the named `systemd` one, and cgroup2), with
//! `pids.max` = 512 and `memory.limit_in_bytes` = 1 GiB on v1 (`pids.max`, `memory.max` on
//! cgroup2 when those controllers are enabled) so a runaway container cannot take the machine
//! down (`man 7 cgroups`).
//!
//! Containers get the RELATIVE `linux.cgroupsPath` `husk-test-<pid>/<id>`: a relative path is
//! placed under the runtime's own cgroup, which is the test process's (the runtime is its
//! child). The parent is reference counted: made when the first [`ParentGuard`] is taken and
//! removed when the last is dropped, so it does not outlive the test binary.

use std::fs;
use std::path::PathBuf;
use std::sync::Mutex;

/// One hierarchy the test process is in.
#[derive(Debug, Clone)]
pub struct Hierarchy {
    /// The controllers of a v1 hierarchy (`memory`, `cpu,cpuacct`, `name=systemd`), empty for
    /// cgroup2.
    pub controllers: Vec<String>,
    /// The directory of the test process's own cgroup in it.
    pub own_dir: PathBuf,
}

/// The hierarchies of the test process, from `/proc/self/cgroup` and `/proc/self/mountinfo`.
pub fn hierarchies() -> Vec<Hierarchy> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut mounts = Vec::new(); // (fstype, super options, mount root, mountpoint)
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(sep) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        let fstype = fields[sep + 1];
        if fstype == "cgroup" || fstype == "cgroup2" {
            mounts.push((
                fstype.to_string(),
                fields[sep + 3].to_string(),
                fields[3].to_string(),
                fields[4].to_string(),
            ));
        }
    }
    let mut out = Vec::new();
    for line in fs::read_to_string("/proc/self/cgroup").unwrap().lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = (parts.next(), parts.next().unwrap(), parts.next().unwrap());
        let controllers: Vec<String> = if ctrls.is_empty() {
            Vec::new()
        } else {
            ctrls.split(',').map(str::to_string).collect()
        };
        let mount = mounts.iter().find(|(fstype, opts, _, _)| {
            if controllers.is_empty() {
                fstype == "cgroup2"
            } else {
                let opts: Vec<&str> = opts.split(',').collect();
                fstype == "cgroup" && controllers.iter().all(|c| opts.contains(&c.as_str()))
            }
        });
        let Some((_, _, mount_root, mountpoint)) = mount else {
            continue;
        };
        let rel = path
            .strip_prefix(mount_root.as_str())
            .unwrap_or(path)
            .trim_start_matches('/');
        out.push(Hierarchy {
            controllers,
            own_dir: PathBuf::from(mountpoint).join(rel),
        });
    }
    out
}

/// The name of the parent cgroup of this test process.
pub fn parent_name() -> String {
    format!("husk-test-{}", std::process::id())
}

/// The relative `linux.cgroupsPath` for container `id`.
pub fn cgroups_path(id: &str) -> String {
    format!("{}/{id}", parent_name())
}

/// The directories a runtime makes for container `id` (one per hierarchy). A runtime may skip
/// hierarchies it does not manage; tests check that none of these exist after delete.
pub fn container_dirs(id: &str) -> Vec<PathBuf> {
    hierarchies()
        .into_iter()
        .map(|h| h.own_dir.join(cgroups_path(id)))
        .collect()
}

/// The directory of container `id`'s cgroup in the v1 hierarchy of `controller`, if mounted.
pub fn v1_dir(controller: &str, id: &str) -> Option<PathBuf> {
    hierarchies()
        .into_iter()
        .find(|h| h.controllers.iter().any(|c| c == controller))
        .map(|h| h.own_dir.join(cgroups_path(id)))
}

/// The directory of container `id`'s cgroup that holds `controller`'s files: its v1 hierarchy,
/// or on a pure cgroup v2 host (no v1 hierarchy has it) the cgroup2 directory.
pub fn dir_for(controller: &str, id: &str) -> Option<PathBuf> {
    v1_dir(controller, id).or_else(|| {
        hierarchies()
            .into_iter()
            .find(|h| h.controllers.is_empty())
            .map(|h| h.own_dir.join(cgroups_path(id)))
    })
}

/// Removes `husk-test-<pid>` parents (and their empty children) left by test processes that
/// died (killed test runs); only `rmdir`, which the kernel refuses for a cgroup with tasks.
fn remove_stale_parents() {
    for h in hierarchies() {
        let Ok(entries) = fs::read_dir(&h.own_dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(pid) = name.strip_prefix("husk-test-") else {
                continue;
            };
            if pid.parse::<u32>().is_err() || std::path::Path::new("/proc").join(pid).exists() {
                continue;
            }
            if let Ok(children) = fs::read_dir(e.path()) {
                for c in children.flatten() {
                    if c.path().is_dir() {
                        let _ = fs::remove_dir(c.path());
                    }
                }
            }
            let _ = fs::remove_dir(e.path());
        }
    }
}

static USERS: Mutex<usize> = Mutex::new(0);

/// Holds the test cgroup parent alive; see the module doc.
#[derive(Debug)]
pub struct ParentGuard(());

impl ParentGuard {
    /// Makes the parent in every hierarchy if this is the first live guard.
    pub fn acquire() -> ParentGuard {
        let mut users = USERS.lock().unwrap_or_else(|e| e.into_inner());
        if *users == 0 {
            remove_stale_parents();
            for h in hierarchies() {
                let dir = h.own_dir.join(parent_name());
                if let Err(e) = fs::create_dir(&dir) {
                    assert!(
                        e.kind() == std::io::ErrorKind::AlreadyExists,
                        "mkdir {}: {e}",
                        dir.display()
                    );
                }
                let has = |c: &str| h.controllers.iter().any(|x| x == c);
                if has("cpuset") {
                    // A v1 cpuset child starts with empty cpus/mems and refuses tasks.
                    for f in ["cpuset.cpus", "cpuset.mems"] {
                        let v = fs::read_to_string(h.own_dir.join(f)).unwrap();
                        fs::write(dir.join(f), v.trim()).unwrap();
                    }
                }
                if has("pids") {
                    fs::write(dir.join("pids.max"), "512").unwrap();
                }
                if has("memory") {
                    fs::write(dir.join("memory.limit_in_bytes"), "1073741824").unwrap();
                }
                if h.controllers.is_empty() {
                    // cgroup2: limits only where the controllers are enabled.
                    if dir.join("pids.max").exists() {
                        fs::write(dir.join("pids.max"), "512").unwrap();
                    }
                    if dir.join("memory.max").exists() {
                        fs::write(dir.join("memory.max"), "1073741824").unwrap();
                    }
                }
            }
        }
        *users += 1;
        ParentGuard(())
    }
}

impl Drop for ParentGuard {
    fn drop(&mut self) {
        let mut users = USERS.lock().unwrap_or_else(|e| e.into_inner());
        *users -= 1;
        if *users == 0 {
            remove_stale_parents();
            for h in hierarchies() {
                let dir = h.own_dir.join(parent_name());
                if let Err(e) = fs::remove_dir(&dir) {
                    if e.kind() != std::io::ErrorKind::NotFound {
                        // A container cgroup was left behind: the test that made it fails on
                        // its own leak check; say it here too, since this one outlives it.
                        eprintln!("LEAK: cannot remove {}: {e}", dir.display());
                    }
                }
            }
        }
    }
}
