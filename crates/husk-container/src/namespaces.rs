//! Namespaces (`man 7 namespaces`): which ones the container gets new and which it joins through
//! `path`, the order the kernel needs (user first), uid/gid maps (`man 7 user_namespaces`) and
//! time offsets (`man 7 time_namespaces`).

use std::fs;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use nix::sched::{setns, unshare, CloneFlags};
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};

use crate::process::ChildError;

/// Errors found while planning namespaces in the parent (before anything is created).
#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    /// The same type twice in `linux.namespaces`.
    #[error(
        "linux.namespaces[{index}]: namespace type \"{ns}\" is listed twice; list each type once"
    )]
    Duplicate {
        /// Index of the second one.
        index: usize,
        /// The type.
        ns: String,
    },
    /// A `path` that cannot be opened or is not a namespace of that type.
    #[error("linux.namespaces[{index}].path {path}: {detail}")]
    BadPath {
        /// Index.
        index: usize,
        /// The path.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// Mappings without a new user namespace.
    #[error("linux.uidMappings/gidMappings are set but linux.namespaces has no new user namespace; add {{\"type\": \"user\"}} or remove the mappings")]
    MappingsWithoutUserns,
    /// A new user namespace without mappings.
    #[error("linux.namespaces has a new user namespace but linux.uidMappings or linux.gidMappings is empty; give both")]
    UsernsWithoutMappings,
}

/// The clone flag of a namespace type.
pub fn flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        // CLONE_NEWTIME (Linux 5.6) has the value of CSIGNAL's bit 7 and is not in nix 0.29.
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

/// The runtime-spec name of a namespace type, for messages (`LinuxNamespaceType`'s Display
/// gives the kernel's short names `mnt` and `net` instead).
pub fn name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mount",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "network",
        LinuxNamespaceType::Time => "time",
    }
}

/// A namespace to join, opened in the parent.
#[derive(Debug)]
pub struct Join {
    /// The type.
    pub ns: LinuxNamespaceType,
    /// The open namespace file.
    pub fd: OwnedFd,
    /// Its path (for messages).
    pub path: PathBuf,
}

/// What the intermediate must do with namespaces.
#[derive(Debug)]
pub struct Plan {
    /// Join a user namespace first (setns), before anything else.
    pub join_user: Option<Join>,
    /// Make a new user namespace first.
    pub new_user: bool,
    /// Namespaces to join after the user namespace.
    pub join: Vec<Join>,
    /// Namespaces to unshare after that, in one call (the user namespace excluded).
    pub unshare: CloneFlags,
    /// uid_map text ("inside outside count" lines).
    pub uid_map: String,
    /// gid_map text.
    pub gid_map: String,
}

impl Plan {
    /// Whether `t` is new (unshared) in this plan.
    pub fn is_new(&self, t: LinuxNamespaceType) -> bool {
        if t == LinuxNamespaceType::User {
            return self.new_user;
        }
        self.unshare.contains(flag(t))
    }
    /// Whether the container has a user namespace of its own, new or joined (then mknod is not
    /// allowed and devices are bind-mounted).
    pub fn in_userns(&self) -> bool {
        self.new_user || self.join_user.is_some()
    }
}

/// The lines of a uid_map or gid_map text as `(inside, outside, count)`, in order; a line that
/// is not three numbers is left out (`man 7 user_namespaces`).
pub(crate) fn map_lines(text: &str) -> Vec<(u64, u64, u64)> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<u64> = l
                .split_whitespace()
                .map(str::parse)
                .collect::<Result<_, _>>()
                .ok()?;
            match f.as_slice() {
                [a, b, c] => Some((*a, *b, *c)),
                _ => None,
            }
        })
        .collect()
}

pub(crate) fn map_text(m: &[LinuxIdMapping]) -> String {
    m.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Plan the namespaces of `spec` in the parent: open every `path`, check duplicates and the
/// user namespace's mappings.
///
/// # Errors
/// [`NamespaceError`] naming the `linux.namespaces` entry.
pub fn plan(spec: &Spec) -> Result<Plan, NamespaceError> {
    let mut plan = Plan {
        join_user: None,
        new_user: false,
        join: Vec::new(),
        unshare: CloneFlags::empty(),
        uid_map: String::new(),
        gid_map: String::new(),
    };
    let Some(linux) = spec.linux() else {
        return Ok(plan);
    };
    let mut seen = Vec::new();
    for (index, ns) in linux.namespaces().iter().flatten().enumerate() {
        let t = ns.typ();
        if seen.contains(&t) {
            return Err(NamespaceError::Duplicate {
                index,
                ns: name(t).to_string(),
            });
        }
        seen.push(t);
        match ns.path() {
            None => {
                if t == LinuxNamespaceType::User {
                    plan.new_user = true;
                } else {
                    plan.unshare |= flag(t);
                }
            }
            Some(path) => {
                let bad = |detail: String| NamespaceError::BadPath {
                    index,
                    path: path.clone(),
                    detail,
                };
                let f = fs::File::open(path).map_err(|e| bad(format!("cannot open it: {e}")))?;
                check_ns_type(&f, t).map_err(bad)?;
                let j = Join {
                    ns: t,
                    fd: f.into(),
                    path: path.clone(),
                };
                if t == LinuxNamespaceType::User {
                    plan.join_user = Some(j);
                } else {
                    plan.join.push(j);
                }
            }
        }
    }
    let uids = linux.uid_mappings().as_deref().unwrap_or(&[]);
    let gids = linux.gid_mappings().as_deref().unwrap_or(&[]);
    if plan.new_user {
        if uids.is_empty() || gids.is_empty() {
            return Err(NamespaceError::UsernsWithoutMappings);
        }
        plan.uid_map = map_text(uids);
        plan.gid_map = map_text(gids);
    } else if !uids.is_empty() || !gids.is_empty() {
        return Err(NamespaceError::MappingsWithoutUserns);
    }
    Ok(plan)
}

/// A namespace file is a nsfs inode; its type is what /proc/self/ns/TYPE names. We compare the
/// link text's type word through ioctl-free means: the file's readlink under /proc/self/fd.
fn check_ns_type(f: &fs::File, t: LinuxNamespaceType) -> Result<(), String> {
    // NS_GET_NSTYPE asks the kernel itself, so a bind mount of a namespace file (what
    // `ip netns add` makes) is recognised as well as a /proc/PID/ns link.
    match husk_sys::ns_type(f) {
        Ok(got) if CloneFlags::from_bits_retain(got) == flag(t) => Ok(()),
        Ok(got) => {
            let is = [
                LinuxNamespaceType::Mount,
                LinuxNamespaceType::Cgroup,
                LinuxNamespaceType::Uts,
                LinuxNamespaceType::Ipc,
                LinuxNamespaceType::User,
                LinuxNamespaceType::Pid,
                LinuxNamespaceType::Network,
                LinuxNamespaceType::Time,
            ]
            .into_iter()
            .find(|k| flag(*k).bits() == got)
            .map_or("an unknown", name);
            Err(format!("is a {is} namespace, not a {} namespace", name(t)))
        }
        Err(_) => Err(format!(
            "is not a namespace file; give a /proc/PID/ns/{} path or a bind mount of one",
            match t {
                LinuxNamespaceType::Mount => "mnt",
                LinuxNamespaceType::Network => "net",
                other => name(other),
            }
        )),
    }
}

/// In the parent: write the maps of the child's new user namespace (`man 7 user_namespaces`,
/// "Defining user and group ID mappings"): directly with privilege, else through the setuid
/// helpers (see [`crate::rootless::write_id_maps`]).
///
/// # Errors
/// [`crate::rootless::RootlessError`] with the kernel's or the helper's refusal.
pub fn write_id_maps(pid: i32, plan: &Plan) -> Result<(), crate::rootless::RootlessError> {
    crate::rootless::write_id_maps(pid, &plan.uid_map, &plan.gid_map)
}

/// In the intermediate, step 1: enter or make the user namespace. For a new one the caller then
/// asks the parent to write the maps and becomes root in it with [`become_root`].
///
/// # Errors
/// The failing setns/unshare.
pub fn enter_user(plan: &Plan) -> Result<(), ChildError> {
    if let Some(j) = &plan.join_user {
        setns(j.fd.as_fd(), CloneFlags::CLONE_NEWUSER).map_err(|e| {
            ChildError::setup("setns(CLONE_NEWUSER)", Some(&j.path.to_string_lossy()), e)
        })?;
    } else if plan.new_user {
        unshare(CloneFlags::CLONE_NEWUSER)
            .map_err(|e| ChildError::setup("unshare(CLONE_NEWUSER)", None, e))?;
    }
    Ok(())
}

/// Become uid 0 / gid 0 of the (new or joined) user namespace, so that files the setup creates
/// belong to the container's root.
///
/// # Errors
/// setresgid/setresuid failures (0 is not mapped).
pub fn become_root() -> Result<(), ChildError> {
    use nix::unistd::{setresgid, setresuid, Gid, Uid};
    setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0)).map_err(|e| {
        ChildError::setup(
            "setresgid(0) in the user namespace (is gid 0 mapped?)",
            None,
            e,
        )
    })?;
    setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0)).map_err(|e| {
        ChildError::setup(
            "setresuid(0) in the user namespace (is uid 0 mapped?)",
            None,
            e,
        )
    })?;
    Ok(())
}

/// In the intermediate, step 2: join the other namespaces, then unshare the new ones (all but
/// the cgroup namespace: see [`enter_cgroup`]). The mount
/// namespace is joined last among the joins, since setns into it changes the root and cwd.
///
/// # Errors
/// The failing setns/unshare.
pub fn join_others(plan: &Plan) -> Result<(), ChildError> {
    let mut joins: Vec<&Join> = plan.join.iter().collect();
    joins.sort_by_key(|j| j.ns == LinuxNamespaceType::Mount);
    for j in joins {
        setns(j.fd.as_fd(), flag(j.ns)).map_err(|e| {
            ChildError::setup(
                format!("setns({} namespace)", name(j.ns)),
                Some(&j.path.to_string_lossy()),
                e,
            )
        })?;
    }
    Ok(())
}

/// In the intermediate, after the joins and the user namespace: unshare the new namespaces
/// (all but the cgroup namespace: see [`enter_cgroup`]), owned by the container's user
/// namespace when it has one.
///
/// # Errors
/// The failing unshare.
pub fn unshare_others(plan: &Plan) -> Result<(), ChildError> {
    let now = plan.unshare - CloneFlags::CLONE_NEWCGROUP;
    if !now.is_empty() {
        unshare(now).map_err(|e| ChildError::setup(format!("unshare({now:?})"), None, e))?;
    }
    Ok(())
}

/// In the intermediate, step 3, once it is in the container's cgroup: the new cgroup namespace,
/// whose root is the cgroup the caller is in at unshare(2) (`man 7 cgroup_namespaces`).
///
/// # Errors
/// The failing unshare.
pub fn enter_cgroup(plan: &Plan) -> Result<(), ChildError> {
    if plan.unshare.contains(CloneFlags::CLONE_NEWCGROUP) {
        unshare(CloneFlags::CLONE_NEWCGROUP)
            .map_err(|e| ChildError::setup("unshare(CLONE_NEWCGROUP)", None, e))?;
    }
    Ok(())
}

/// Write `linux.timeOffsets` to /proc/self/timens_offsets, which the kernel accepts only before
/// the first process enters the new time namespace (`man 7 time_namespaces`).
///
/// # Errors
/// A clock name other than monotonic/boottime, or the kernel's refusal.
pub fn write_time_offsets(spec: &Spec) -> Result<(), ChildError> {
    let Some(offsets) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().as_ref())
    else {
        return Ok(());
    };
    let mut text = String::new();
    let mut clocks: Vec<_> = offsets.iter().collect();
    clocks.sort_by(|a, b| a.0.cmp(b.0));
    for (clock, off) in clocks {
        if clock != "monotonic" && clock != "boottime" {
            return Err(ChildError::Config {
                field: format!("linux.timeOffsets.{clock}"),
                detail: "only the clocks \"monotonic\" and \"boottime\" have offsets".into(),
            });
        }
        text.push_str(&format!(
            "{clock} {} {}\n",
            off.secs().unwrap_or(0),
            off.nanosecs().unwrap_or(0)
        ));
    }
    fs::write("/proc/self/timens_offsets", text).map_err(|e| {
        ChildError::setup(
            "write /proc/self/timens_offsets",
            Some("linux.timeOffsets"),
            e,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> Spec {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn plan_splits_new_and_joined_and_catches_duplicates() {
        let s = spec(
            serde_json::json!({"ociVersion":"1.0.2","linux":{"namespaces":[
            {"type":"pid"},{"type":"network","path":"/proc/self/ns/net"},{"type":"mount"}]}}),
        );
        let p = plan(&s).unwrap();
        assert!(p
            .unshare
            .contains(CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS));
        assert!(!p.unshare.contains(CloneFlags::CLONE_NEWNET));
        assert_eq!(p.join.len(), 1);
        assert!(!p.in_userns());

        let dup = spec(
            serde_json::json!({"ociVersion":"1.0.2","linux":{"namespaces":[{"type":"pid"},{"type":"pid"}]}}),
        );
        let e = plan(&dup).unwrap_err().to_string();
        assert!(
            e.contains("linux.namespaces[1]") && e.contains("pid"),
            "{e}"
        );
    }

    #[test]
    fn a_path_of_the_wrong_type_is_refused() {
        let s = spec(
            serde_json::json!({"ociVersion":"1.0.2","linux":{"namespaces":[{"type":"uts","path":"/proc/self/ns/net"}]}}),
        );
        let e = plan(&s).unwrap_err().to_string();
        assert!(
            e.contains("linux.namespaces[0].path") && e.contains("network namespace, not a uts"),
            "{e}"
        );
        let s = spec(
            serde_json::json!({"ociVersion":"1.0.2","linux":{"namespaces":[{"type":"uts","path":"/etc/hostname"}]}}),
        );
        assert!(plan(&s)
            .unwrap_err()
            .to_string()
            .contains("not a namespace file"));
    }

    #[test]
    fn user_namespace_needs_mappings_and_maps_are_formatted() {
        let s = spec(
            serde_json::json!({"ociVersion":"1.0.2","linux":{"namespaces":[{"type":"user"}]}}),
        );
        assert!(matches!(
            plan(&s),
            Err(NamespaceError::UsernsWithoutMappings)
        ));
        let s = spec(
            serde_json::json!({"ociVersion":"1.0.2","linux":{"namespaces":[{"type":"user"}],
            "uidMappings":[{"containerID":0,"hostID":100000,"size":65536}],
            "gidMappings":[{"containerID":0,"hostID":100000,"size":1},{"containerID":1,"hostID":200001,"size":10}]}}),
        );
        let p = plan(&s).unwrap();
        assert_eq!(p.uid_map, "0 100000 65536\n");
        assert_eq!(p.gid_map, "0 100000 1\n1 200001 10\n");
        let s = spec(
            serde_json::json!({"ociVersion":"1.0.2","linux":{"uidMappings":[{"containerID":0,"hostID":1,"size":1}]}}),
        );
        assert!(matches!(
            plan(&s),
            Err(NamespaceError::MappingsWithoutUserns)
        ));
    }
}
