//! Idmapped mounts (`idmap`, `ridmap`, a mount's `uidMappings`/`gidMappings`; runtime-spec
//! config.md; `man 2 mount_setattr`, MOUNT_ATTR_IDMAP, Linux 5.12).
//!
//! They are made by the runtime itself, in the host's namespaces, before the container's
//! processes exist: MOUNT_ATTR_IDMAP needs CAP_SYS_ADMIN over the user namespace that carries
//! the mappings, which the container's init (inside its own user namespace) does not have. The
//! source is cloned with open_tree(OPEN_TREE_CLONE), given the mappings of a user namespace made
//! for them (a short-lived child that unshares CLONE_NEWUSER and whose maps the runtime writes),
//! and its other options; the init inherits the detached mount's fd across fork and attaches it
//! at the destination ([`super::mount::mount_one`]).
//!
//! Rootless, the mappings' user namespace gets its maps through newuidmap/newgidmap like the
//! container's own, and only filesystems mounted inside the runtime's user namespace can be
//! idmapped (the kernel wants CAP_SYS_ADMIN in the filesystem's user namespace): a host
//! filesystem is refused with that reason.
//!
//! A filesystem the container mounts itself (a tmpfs with `idmap` or mappings of its own) is
//! idmapped by the init instead, inside the container's user namespace, which owns that
//! filesystem: the kernel also wants CAP_SYS_ADMIN in the user namespace carrying the
//! mappings, so the init makes that one as a child of its own, with the mappings' host ids
//! translated into the container's ids ([`Idmapped::Maps`]). This works rootless too; the
//! filesystem type must allow idmapped mounts (tmpfs since Linux 6.3).

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use husk_sys::mount::{self as sysmount, MountAttr, MountAttrFlags};
use oci_spec::runtime::Spec;

use super::options::{self, Bind};
use crate::namespaces::{map_text, Plan};

/// Errors of making idmapped mounts.
#[derive(Debug, thiserror::Error)]
pub enum IdmapError {
    /// One mount could not be made.
    #[error("mounts[{index}] (idmapped bind of {source_path}): {step}: {source}{hint}")]
    Mount {
        /// The index in `mounts`.
        index: usize,
        /// The bind source on the host.
        source_path: String,
        /// What was being done.
        step: &'static str,
        /// The error.
        source: std::io::Error,
        /// What to do, when known.
        hint: &'static str,
    },
    /// The mappings of a filesystem the container mounts cannot be given in its ids.
    #[error("mounts[{index}] (idmapped filesystem): {problem}")]
    InContainer {
        /// The index in `mounts`.
        index: usize,
        /// What is wrong and what to do.
        problem: String,
    },
    /// The maps of the user namespace carrying the mappings could not be written.
    #[error("write the maps of the user namespace for idmapped mounts: {0}")]
    Maps(#[from] crate::rootless::RootlessError),
    /// The user namespace carrying the mappings could not be made.
    #[error("create the user namespace for idmapped mounts: {step}: {source}")]
    Userns {
        /// What was being done.
        step: &'static str,
        /// The error.
        source: std::io::Error,
    },
}

/// What the init gets for an idmapped entry of `mounts`.
#[derive(Debug)]
pub enum Idmapped {
    /// A bind: the detached idmapped mount the runtime made, to attach in its place.
    Tree(OwnedFd),
    /// A filesystem the init mounts: the mappings ("inside outside count" lines, the outside
    /// ids the container's own) of the user namespace it makes for the idmap.
    Maps {
        /// uid_map text.
        uid_map: String,
        /// gid_map text.
        gid_map: String,
    },
}

/// For each entry of `mounts`, what makes it idmapped (see [`Idmapped`]), or `None` for an
/// entry that is not idmapped. Checked beforehand by the spec validation (`ridmap` for binds
/// only, mappings paired, a user namespace when the mount has no mappings of its own).
///
/// # Errors
/// [`IdmapError`] naming the mount: the source missing, a filesystem without idmap support
/// (EINVAL), a kernel before 5.12 (ENOSYS), a rootless runtime asked to idmap a host
/// filesystem, a mapping of a filesystem the container mounts whose host ids the container's
/// user namespace does not map.
pub fn prepare(
    spec: &Spec,
    bundle: &Path,
    plan: &Plan,
) -> Result<Vec<Option<Idmapped>>, IdmapError> {
    let mut out = Vec::new();
    let mut userns: HashMap<(String, String), OwnedFd> = HashMap::new();
    for (index, m) in spec.mounts().iter().flatten().enumerate() {
        let o = options::parse(m.options().as_deref().unwrap_or(&[]));
        let uid = m.uid_mappings().as_deref().unwrap_or_default();
        let gid = m.gid_mappings().as_deref().unwrap_or_default();
        if o.idmap.is_none() && uid.is_empty() {
            out.push(None);
            continue;
        }
        if o.bind.is_none() {
            out.push(Some(in_container_maps(index, uid, gid, plan)?));
            continue;
        }
        let src = super::mount::source_on_host(m, bundle).unwrap_or_default();
        let err = |step, hint, source| IdmapError::Mount {
            index,
            source_path: src.display().to_string(),
            step,
            source,
            hint,
        };
        // Without CAP_SYS_ADMIN (an unprivileged user's runtime) no filesystem it can bind is
        // one it may idmap: every one belongs to a user namespace it has no privilege in.
        if !caps::has_cap(
            None,
            caps::CapSet::Effective,
            caps::Capability::CAP_SYS_ADMIN,
        )
        .unwrap_or(false)
        {
            return Err(err(
                "refused",
                ROOTLESS_HINT,
                std::io::Error::from_raw_os_error(libc::EPERM),
            ));
        }
        // The mount's own mappings, else the container's: those of its new user namespace,
        // or the joined one itself.
        let joined;
        let ns: std::os::fd::BorrowedFd<'_> = if !uid.is_empty() {
            let key = (map_text(uid), map_text(gid));
            if !userns.contains_key(&key) {
                let fd = userns_with(&key.0, &key.1)?;
                userns.insert(key.clone(), fd);
            }
            userns[&key].as_fd()
        } else if let Some(j) = &plan.join_user {
            joined = j.fd.as_fd();
            joined
        } else {
            let key = (plan.uid_map.clone(), plan.gid_map.clone());
            if !userns.contains_key(&key) {
                let fd = userns_with(&key.0, &key.1)?;
                userns.insert(key.clone(), fd);
            }
            userns[&key].as_fd()
        };
        let tree = sysmount::clone_tree(None, &src, o.bind == Some(Bind::Recursive), false)
            .map_err(|e| err("open_tree", "", e))?;
        let idmap = MountAttr {
            set: MountAttrFlags::MOUNT_ATTR_IDMAP,
            userns: Some(ns),
            ..MountAttr::default()
        };
        sysmount::mount_setattr(&tree, o.idmap == Some(true), &idmap).map_err(|e| {
            let hint = match e.raw_os_error() {
                Some(libc::EINVAL) => {
                    " (the source's filesystem does not support idmapped mounts, or the source \
                     is already idmapped: use a bind without idmap)"
                }
                Some(libc::ENOSYS) => " (idmapped mounts need Linux 5.12 or later)",
                Some(libc::EPERM) if crate::rootless::is_rootless() => ROOTLESS_HINT,
                _ => "",
            };
            err("mount_setattr(MOUNT_ATTR_IDMAP)", hint, e)
        })?;
        super::mount::apply_attrs(&tree, &o, false)
            .map_err(|e| err("mount_setattr (options)", "", e))?;
        out.push(Some(Idmapped::Tree(tree)));
    }
    Ok(out)
}

/// The pid of `pid` (of the caller's pid namespace) in the pid namespace of the procfs mounted
/// at /proc: the `Pid:` line of a pidfd's fdinfo is given in the procfs instance's namespace
/// (`man 2 pidfd_open`, `man 5 proc`, /proc/PID/fdinfo).
fn proc_pid(pid: nix::unistd::Pid) -> std::io::Result<i32> {
    let fd = husk_sys::pidfd_open(pid)?;
    let info = std::fs::read_to_string(format!(
        "/proc/self/fdinfo/{}",
        std::os::fd::AsRawFd::as_raw_fd(&fd)
    ))?;
    info.lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| std::io::Error::other("no Pid line in the pidfd's fdinfo"))
}

/// The maps of the user namespace the init makes to idmap a filesystem it mounts itself
/// (`mounts[index]`, with its own `uid`/`gid` mappings or, when empty, the container's): the
/// host ids translated into the container's ids, since that namespace is a child of the
/// container's. Without a new user namespace the container's ids are the host's.
fn in_container_maps(
    index: usize,
    uid: &[oci_spec::runtime::LinuxIdMapping],
    gid: &[oci_spec::runtime::LinuxIdMapping],
    plan: &Plan,
) -> Result<Idmapped, IdmapError> {
    if plan.join_user.is_some() {
        return Err(IdmapError::InContainer {
            index,
            problem: "the container joins a user namespace, whose mappings husk does not know: \
                      idmap only binds there"
                .into(),
        });
    }
    let (uid_map, gid_map) = if uid.is_empty() {
        (plan.uid_map.clone(), plan.gid_map.clone())
    } else {
        (map_text(uid), map_text(gid))
    };
    if !plan.new_user {
        return Ok(Idmapped::Maps { uid_map, gid_map });
    }
    let translate = |what: &str, map: &str, container: &str| {
        to_container_ids(map, container).map_err(|id| IdmapError::InContainer {
            index,
            problem: format!(
                "{what}: host id {id} is not mapped in the container's user namespace ({}); a \
                 filesystem the container mounts can only show ids the container has",
                container.trim().replace('\n', ", ")
            ),
        })
    };
    Ok(Idmapped::Maps {
        uid_map: translate("uidMappings", &uid_map, &plan.uid_map)?,
        gid_map: translate("gidMappings", &gid_map, &plan.gid_map)?,
    })
}

/// `map` ("inside outside count" lines, outside = host ids) with each outside range rewritten
/// in the ids of the namespace whose map is `container` (same format), split where the
/// container's lines split it. Err: the first host id `container` does not map.
fn to_container_ids(map: &str, container: &str) -> Result<String, u64> {
    let ctr = crate::namespaces::map_lines(container);
    let mut out = String::new();
    for (inside, outside, count) in crate::namespaces::map_lines(map) {
        let mut done = 0;
        while done < count {
            let host = outside + done;
            let Some(&(c_in, c_out, c_count)) =
                ctr.iter().find(|(_, o, n)| (*o..o + n).contains(&host))
            else {
                return Err(host);
            };
            let n = (count - done).min(c_out + c_count - host);
            out.push_str(&format!(
                "{} {} {}\n",
                inside + done,
                c_in + (host - c_out),
                n
            ));
            done += n;
        }
    }
    Ok(out)
}

/// Why a rootless runtime cannot idmap a host filesystem.
const ROOTLESS_HINT: &str = " (husk-runtime runs rootless: only a filesystem mounted inside its \
    own user namespace can be idmapped, such as the tmpfs or overlay of a rootless Podman; a \
    host filesystem needs CAP_SYS_ADMIN in the host's user namespace: use a bind without \
    idmap, or run as root)";

/// A user namespace whose uid_map and gid_map are `uid_map` and `gid_map` ("inside outside
/// count" lines): a child process unshares CLONE_NEWUSER, the runtime writes its maps and keeps
/// an fd of the namespace, and the child is killed and reaped.
pub(crate) fn userns_with(uid_map: &str, gid_map: &str) -> Result<OwnedFd, IdmapError> {
    let e = |step| move |source: std::io::Error| IdmapError::Userns { step, source };
    let (ready_r, ready_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|x| e("pipe")(x.into()))?;
    let parent = nix::unistd::getpid();
    let pid = match husk_sys::fork().map_err(e("fork"))? {
        husk_sys::Forked::Child => {
            // Only system calls here (the caller may have threads). If the runtime dies, so
            // does this child; if it died before the prctl, the child sees a new parent.
            drop(ready_r);
            let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
            if nix::unistd::getppid() != parent {
                std::process::exit(1);
            }
            // Forked from the init, which is non-dumpable: its /proc files would belong to the
            // host's root, and the init could not open this child's uid_map for writing. So it
            // is made dumpable, after it let go of every fd but the pipe and stdio: a process of
            // the container root's host uid could otherwise reach the init's fds (its channel
            // to the runtime, detached mounts) through this child's /proc/PID/fd.
            let keep = std::os::fd::AsRawFd::as_raw_fd(&ready_w);
            for fd in 3..keep {
                let _ = nix::unistd::close(fd);
            }
            let after = u32::try_from(keep).map_or(u32::MAX, |k| k.saturating_add(1));
            if husk_sys::close_from(after).is_err() {
                std::process::exit(1);
            }
            let _ = nix::sys::prctl::set_dumpable(true);
            // 0, or the errno of unshare, for the parent's message.
            let errno = match nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER) {
                Ok(()) => 0,
                Err(err) => err as i32,
            };
            let _ = nix::unistd::write(&ready_w, &errno.to_ne_bytes());
            loop {
                nix::unistd::pause();
            }
        }
        husk_sys::Forked::Parent(pid) => pid,
    };
    // Killed and reaped however this function returns.
    struct Reap(nix::unistd::Pid);
    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = nix::sys::signal::kill(self.0, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(self.0, None);
        }
    }
    let _reap = Reap(pid);
    drop(ready_w);
    let mut word = [0u8; 4];
    let n = nix::unistd::read(std::os::fd::AsRawFd::as_raw_fd(&ready_r), &mut word)
        .map_err(|x| e("wait for the child")(x.into()))?;
    let errno = if n == 4 {
        i32::from_ne_bytes(word)
    } else {
        libc::ECHILD
    };
    if errno != 0 {
        return Err(IdmapError::Userns {
            step: "unshare(CLONE_NEWUSER) in the helper process",
            source: std::io::Error::from_raw_os_error(errno),
        });
    }
    // The child's pid as /proc shows it: the init calls this in its new pid namespace while
    // /proc is still the host's.
    let pid = proc_pid(pid).map_err(e("find the helper in /proc"))?;
    // Directly with privilege, else through newuidmap/newgidmap (a rootless runtime).
    crate::rootless::write_id_maps(pid, uid_map, gid_map)?;
    let f = std::fs::File::open(format!("/proc/{pid}/ns/user")).map_err(e("open ns/user"))?;
    Ok(f.into())
}

#[cfg(test)]
mod tests {
    use super::to_container_ids;

    #[test]
    fn host_ids_become_the_containers_split_at_its_lines() {
        let container = "0 1000 1\n1 100000 65536\n";
        assert_eq!(
            to_container_ids("0 100000 1\n", container).unwrap(),
            "0 1 1\n"
        );
        assert_eq!(
            to_container_ids("0 1000 1\n", container).unwrap(),
            "0 0 1\n"
        );
        // One range over both lines of the container's map.
        assert_eq!(
            to_container_ids("5 1000 3\n", "0 1000 1\n1 1001 10\n").unwrap(),
            "5 0 1\n6 1 2\n"
        );
        assert_eq!(to_container_ids("0 5000 1\n", container), Err(5000));
        assert_eq!(to_container_ids("0 100000 65537\n", container), Err(165536));
    }
}
