//! One entry of config.json `mounts`, made with the new mount API: a new filesystem through
//! fsopen/fsconfig/fsmount, a bind through open_tree(OPEN_TREE_CLONE), attributes through
//! mount_setattr, then move_mount onto an fd of the destination resolved inside the rootfs.
//! Also the `cgroup` mount type and the rules for /proc.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use husk_sys::mount::{self as sysmount, FsContext, MountAttr, MountAttrFlags};
use nix::fcntl::OFlag;
use oci_spec::runtime::Mount as SpecMount;

use super::options::{Attrs, Bind, MountOptions};
use super::resolve::{container_path, ensure, in_root, Kind};
use super::Rootfs;
use crate::process::ChildError;

/// A mount made read-only only after everything below it exists: a read-only tmpfs /dev still
/// gets its device nodes, devpts and shm mounts (runc issue 1658-style configs).
#[derive(Debug)]
pub struct DeferredReadOnly {
    /// The attached mount.
    pub mnt: OwnedFd,
    /// A tmpfs: make its superblock read-only too, as mount(2) with MS_RDONLY does (other
    /// filesystems of the container's own get theirs at creation, see [`own_superblock`]).
    pub superblock: bool,
    /// `mounts[i]`, for the error message.
    pub field: String,
}

impl DeferredReadOnly {
    /// Apply the read-only attribute (and superblock flag).
    ///
    /// # Errors
    /// The failing mount_setattr or fsconfig, naming the mount.
    pub fn apply(&self) -> Result<(), ChildError> {
        let attr = MountAttr {
            set: MountAttrFlags::MOUNT_ATTR_RDONLY,
            ..MountAttr::default()
        };
        sysmount::mount_setattr(&self.mnt, false, &attr).map_err(|e| {
            ChildError::setup("make read-only (mount_setattr)", Some(&self.field), e)
        })?;
        if self.superblock {
            let ctx = FsContext::pick(&self.mnt)
                .map_err(|e| ChildError::setup("fspick", Some(&self.field), e))?;
            ctx.set_flag("ro")
                .and_then(|()| ctx.reconfigure())
                .map_err(|e| fs_error(&self.field, "make the superblock read-only", &ctx, e))?;
        }
        Ok(())
    }
}

/// Whether a new mount of `fstype` gets a superblock of the container's own, so that `ro` may
/// make the superblock read-only too (as mount(2) with MS_RDONLY does): tmpfs, proc and devpts
/// make one per mount, sysfs one per network namespace (the container's when it has a new one).
/// mqueue's belongs to the ipc namespace from its creation, cgroup2's to the host: those get the
/// read-only mount attribute only.
fn own_superblock(r: &Rootfs<'_>, fstype: &str) -> bool {
    match fstype {
        "tmpfs" | "proc" | "devpts" => true,
        "sysfs" => r.new_netns,
        _ => false,
    }
}

/// What the mounts made so far leave for later steps.
#[derive(Debug, Default)]
pub struct Made {
    /// Read-only attributes to apply once everything below exists.
    pub deferred: Vec<DeferredReadOnly>,
    /// `st_dev` of the superblocks this config's mounts created (see [`own_superblock`]): the
    /// only ones a `remount` entry may reconfigure.
    pub superblocks: Vec<u64>,
}

/// An fsconfig failure with the kernel's own explanation.
fn fs_error(field: &str, step: &str, ctx: &FsContext, e: std::io::Error) -> ChildError {
    let why = ctx.messages();
    if why.is_empty() {
        ChildError::setup(step, Some(field), e)
    } else {
        ChildError::Config {
            field: field.to_string(),
            detail: format!("{step}: {e} (kernel: {why})"),
        }
    }
}

fn describe(i: usize, m: &SpecMount) -> String {
    format!(
        "mounts[{i}] ({} on {})",
        m.source()
            .as_ref()
            .map(|s| s.display().to_string())
            .unwrap_or_else(|| "-".into()),
        m.destination().display()
    )
}

fn step_err(
    i: usize,
    m: &SpecMount,
    step: &str,
    e: impl Into<crate::process::Errno>,
) -> ChildError {
    ChildError::setup(step, Some(&describe(i, m)), e)
}

/// The files below /proc that may be mounted over (lxcfs-style binds): runc's list.
const PROC_ALLOWED: &[&str] = &[
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
];

/// Refuse what would let an image redirect the container's view of /proc: anything but a
/// procfs at /proc (a new one, or a bind of the root of one: `proc_root`, what Podman's rootless
/// mode gives a container sharing the host's pid namespace, which runc allows too), and anything
/// but a procfs or runc's allow-list of files below it (the class of CVE-2019-16884 and
/// CVE-2019-19921). `at` is where the destination really is, its symlinks resolved inside the
/// root.
fn check_proc(
    i: usize,
    dest: &Path,
    typ: &str,
    o: &MountOptions,
    at: &Path,
    proc_root: bool,
) -> Result<(), ChildError> {
    let field = format!("mounts[{i}].destination {:?}", dest.display().to_string());
    if at == Path::new("/proc") {
        if (typ != "proc" || o.bind.is_some()) && !proc_root {
            return Err(ChildError::Config {
                field,
                detail: format!(
                    "resolves to /proc, where only a procfs (type \"proc\", or a bind of the \
                     root of one) may be mounted, not {}",
                    if o.bind.is_some() {
                        "a bind".to_string()
                    } else {
                        format!("type \"{typ}\"")
                    }
                ),
            });
        }
    } else if at.starts_with("/proc") && typ != "proc" {
        let s = at.to_string_lossy();
        if !PROC_ALLOWED.contains(&s.as_ref()) {
            return Err(ChildError::Config {
                field,
                detail: format!(
                    "resolves to {s}, inside /proc: only {} may be mounted over there",
                    PROC_ALLOWED.join(", ")
                ),
            });
        }
    }
    Ok(())
}

/// Where `rel` is as the container will see it, resolving the deepest part of it that exists
/// inside the root and appending the rest: the destination's place before anything is created.
fn resolve_existing(rootfs: &Path, root: &OwnedFd, rel: &Path) -> PathBuf {
    let mut base = rel.to_path_buf();
    let mut rest = Vec::new();
    loop {
        if let Ok(fd) = husk_sys::open_in_root(root, &base, OFlag::O_PATH) {
            if let Some(mut at) = container_path(rootfs, &fd) {
                for c in rest.iter().rev() {
                    at.push(c);
                }
                return at;
            }
        }
        match (base.file_name().map(|n| n.to_os_string()), base.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                base = parent.to_path_buf();
            }
            _ => return Path::new("/").join(rel),
        }
    }
}

/// The per-mount attributes of `a` as a mount_setattr argument; in a user namespace, flags the
/// kernel locked on the copied mount (already set on it: `current`) are never cleared, as runc
/// keeps them (clearing one is EPERM).
pub(super) fn setattr_of(
    a: &Attrs,
    current: MountAttrFlags,
    in_userns: bool,
) -> MountAttr<'static> {
    let mut clear = a.clear;
    if in_userns {
        clear.remove(current);
    }
    let mut set = a.set;
    if let Some(t) = a.atime {
        set |= t.attr();
        clear |= MountAttrFlags::MOUNT_ATTR__ATIME;
    }
    MountAttr {
        set,
        clear,
        ..MountAttr::default()
    }
}

/// A mount's `source` on the host: relative sources are relative to the bundle.
pub(super) fn source_on_host(m: &SpecMount, bundle: &Path) -> Option<PathBuf> {
    m.source().as_ref().map(|s| {
        if s.is_absolute() {
            s.clone()
        } else {
            bundle.join(s)
        }
    })
}

/// Apply a mount entry's attribute options to the mount `mnt`: those of the mount itself,
/// then the recursive `r*` ones (mount_setattr AT_RECURSIVE).
///
/// # Errors
/// The errno of mount_setattr(2).
pub(super) fn apply_attrs(mnt: &OwnedFd, o: &MountOptions, in_userns: bool) -> std::io::Result<()> {
    let current = current_attrs(mnt);
    for (attrs, recursive) in [(&o.attrs, false), (&o.rec_attrs, true)] {
        let a = setattr_of(attrs, current, in_userns);
        if !(a.set.is_empty() && a.clear.is_empty()) {
            sysmount::mount_setattr(mnt, recursive, &a)?;
        }
    }
    Ok(())
}

/// The error of [`apply_attrs`] for `mounts[i]`: in a user namespace an EPERM is a flag the
/// kernel locked on the copied mount, which the message says.
fn attr_err(r: &Rootfs<'_>, i: usize, m: &SpecMount, e: std::io::Error) -> ChildError {
    if r.in_userns && e.raw_os_error() == Some(libc::EPERM) {
        return ChildError::Config {
            field: format!("mounts[{i}].options"),
            detail: format!(
                "{}: the kernel refuses to change a flag it locked on this mount in the \
                 container's user namespace (the source's access-time mode, ro, nosuid, nodev or \
                 noexec): drop that option",
                describe(i, m)
            ),
        };
    }
    step_err(i, m, "set the mount options (mount_setattr)", e)
}

/// The attributes a mount has now, from fstatvfs(2) of an fd of it.
fn current_attrs<F: AsFd>(fd: F) -> MountAttrFlags {
    use nix::sys::statvfs::FsFlags;
    let Ok(st) = nix::sys::statvfs::fstatvfs(&fd) else {
        return MountAttrFlags::empty();
    };
    let f = st.flags();
    let mut m = MountAttrFlags::empty();
    for (a, b) in [
        (FsFlags::ST_RDONLY, MountAttrFlags::MOUNT_ATTR_RDONLY),
        (FsFlags::ST_NOSUID, MountAttrFlags::MOUNT_ATTR_NOSUID),
        (FsFlags::ST_NODEV, MountAttrFlags::MOUNT_ATTR_NODEV),
        (FsFlags::ST_NOEXEC, MountAttrFlags::MOUNT_ATTR_NOEXEC),
        (
            FsFlags::ST_NODIRATIME,
            MountAttrFlags::MOUNT_ATTR_NODIRATIME,
        ),
    ] {
        if f.contains(a) {
            m |= b;
        }
    }
    m
}

/// Mount `mounts[i]` (or, with `idmapped`, attach the idmapped bind the runtime made for it).
/// Read-only tmpfs mounts and the superblocks created are recorded in `made_so_far` (see
/// [`Made`]).
///
/// # Errors
/// A [`ChildError`] naming the entry and the step: the source missing, the destination
/// resolving to /proc, an option the filesystem rejects (with the kernel's message).
pub fn mount_one(
    r: &Rootfs<'_>,
    root: &OwnedFd,
    i: usize,
    m: &SpecMount,
    o: &MountOptions,
    idmapped: Option<&super::idmap::Idmapped>,
    made_so_far: &mut Made,
) -> Result<(), ChildError> {
    let (idmapped, idmap_maps) = match idmapped {
        Some(super::idmap::Idmapped::Tree(t)) => (Some(t), None),
        Some(super::idmap::Idmapped::Maps { uid_map, gid_map }) => {
            (None, Some((uid_map.as_str(), gid_map.as_str())))
        }
        None => (None, None),
    };
    let typ = m
        .typ()
        .as_deref()
        .unwrap_or(if o.bind.is_some() { "bind" } else { "" });
    let dest = m.destination();
    if dest.as_os_str().is_empty() {
        return Err(ChildError::Config {
            field: format!("mounts[{i}].destination"),
            detail: "is empty".into(),
        });
    }
    if typ == "cgroup" && o.bind.is_none() {
        return mount_cgroup(r, root, i, m, o, &mut made_so_far.deferred);
    }
    let rel = in_root(dest);
    let source_host = source_on_host(m, &r.bundle);
    // A bind's source is cloned once, here, and its type read from the clone itself: a path
    // looked up twice could change type in between (a shared volume).
    let cloned = match (o.bind, &source_host, idmapped) {
        // A remount changes the mount already there: nothing to clone.
        _ if o.remount => None,
        (Some(bind), Some(src), None) => Some(
            sysmount::clone_tree(None, src, bind == Bind::Recursive, false).map_err(|e| {
                ChildError::Config {
                    field: format!("mounts[{i}].source"),
                    detail: format!("{}: {e} (bind: open_tree)", src.display()),
                }
            })?,
        ),
        (Some(_), None, None) => {
            return Err(ChildError::Config {
                field: format!("mounts[{i}].source"),
                detail: "a bind mount needs a source".into(),
            })
        }
        _ => None,
    };
    let kind = match cloned.as_ref().or(idmapped) {
        None => Kind::Dir,
        Some(fd) => {
            let st = nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(fd))
                .map_err(|e| step_err(i, m, "stat the bind source", e))?;
            if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
                Kind::Dir
            } else {
                Kind::File
            }
        }
    };
    // A bind of the root of a procfs (statfs type, inode 1), read from the clone itself.
    let proc_root = cloned.as_ref().is_some_and(|fd| {
        let is_proc = nix::sys::statfs::fstatfs(fd)
            .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC);
        is_proc
            && nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(fd))
                .is_ok_and(|st| st.st_ino == 1)
    });
    let stat_of = |flags: OFlag| {
        husk_sys::open_in_root(root, &rel, OFlag::O_PATH | flags)
            .ok()
            .and_then(|fd| nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(&fd)).ok())
    };
    // What is at the destination before husk touches it: the file itself (a symlink is not
    // followed), and what it resolves to inside the root (whose mode a tmpfs keeps).
    let existing_link = stat_of(OFlag::O_NOFOLLOW);
    let existing = stat_of(OFlag::empty());
    if matches!(typ, "proc" | "sysfs") {
        if let Some(st) = existing_link {
            if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
                return Err(ChildError::Config {
                    field: format!("mounts[{i}].destination"),
                    detail: format!(
                        "{} in the rootfs is not a directory (a symlink or a file): {typ} is \
                         only mounted on a real directory of the image",
                        dest.display()
                    ),
                });
            }
        }
    }
    // Checked before anything is created (on the deepest part that exists, resolved), and
    // again on the destination as created (a dangling symlink may have led elsewhere).
    check_proc(
        i,
        dest,
        typ,
        o,
        &resolve_existing(&r.rootfs, root, &rel),
        proc_root,
    )?;
    let target =
        ensure(root, dest, kind).map_err(|e| step_err(i, m, "create the mountpoint of", e))?;
    let at = container_path(&r.rootfs, &target).unwrap_or_else(|| Path::new("/").join(&rel));
    check_proc(i, dest, typ, o, &at, proc_root)?;
    if let Ok(st) = nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(&target)) {
        let is_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
        if is_dir != (kind == Kind::Dir) && !o.remount {
            let (what, there) = if kind == Kind::Dir {
                (
                    if o.bind.is_some() {
                        "the source is a directory"
                    } else {
                        "a filesystem is mounted on a directory"
                    },
                    "a file",
                )
            } else {
                ("the source is a file", "a directory")
            };
            return Err(ChildError::Config {
                field: format!("mounts[{i}].destination"),
                detail: format!(
                    "{what}, but {} in the rootfs is {there} ({}): change the destination or \
                     the source so both are directories or both are files",
                    dest.display(),
                    at.display()
                ),
            });
        }
    }

    if o.remount {
        return remount(r, i, m, o, &target, &made_so_far.superblocks);
    }
    if o.copy_up && (typ != "tmpfs" || o.bind.is_some()) {
        return Err(ChildError::Config {
            field: format!("mounts[{i}].options"),
            detail: "tmpcopyup is only for tmpfs mounts".into(),
        });
    }
    let field = format!("mounts[{i}]");
    let made;
    let mnt: &OwnedFd = if let Some(mnt) = idmapped {
        // Made (and given its options) by the runtime in the host's user namespace: idmap.rs.
        mnt
    } else if let Some(mnt) = cloned {
        apply_attrs(&mnt, o, r.in_userns).map_err(|e| attr_err(r, i, m, e))?;
        made = mnt;
        &made
    } else {
        let Some(fstype) = m.typ().as_deref() else {
            return Err(ChildError::Config {
                field: format!("mounts[{i}].type"),
                detail: "is missing: give the filesystem type (tmpfs, proc...), or bind/rbind \
                         in options for a bind"
                    .into(),
            });
        };
        let ctx = FsContext::new(fstype).map_err(|e| ChildError::Config {
            field: format!("mounts[{i}].type"),
            detail: format!("\"{fstype}\": {e} (not a filesystem type this kernel knows)"),
        })?;
        let source = m
            .source()
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|| fstype.to_string());
        let set =
            |step: &str, r: std::io::Result<()>| r.map_err(|e| fs_error(&field, step, &ctx, e));
        set("source", ctx.set_string("source", &source))?;
        for f in &o.sb_flags {
            set(&format!("option \"{f}\""), ctx.set_flag(f))?;
        }
        if fstype == "tmpfs" && o.data_value("mode").is_none() {
            // Keep the mode of the directory the tmpfs covers (setuid, setgid and sticky bits
            // included) through the mount option, never by chmod-ing anything.
            if let Some(st) = existing.filter(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR) {
                let mode = format!("{:o}", st.st_mode & 0o7777);
                set("option \"mode\"", ctx.set_string("mode", &mode))?;
            }
        }
        if let Some(label) = r
            .mount_label
            .as_ref()
            .filter(|_| matches!(fstype, "tmpfs" | "mqueue" | "devpts"))
        {
            // The SELinux context of every file of the new filesystem (runc's mountLabel).
            set(
                "linux.mountLabel (context=)",
                ctx.set_string("context", &format!("\"{label}\"")),
            )?;
        }
        for (k, v) in &o.data {
            match v {
                Some(v) => set(&format!("option \"{k}={v}\""), ctx.set_string(k, v))?,
                None => set(&format!("option \"{k}\""), ctx.set_flag(k))?,
            }
        }
        let mut attrs = o.attrs.set | o.rec_attrs.set;
        if let Some(t) = o.attrs.atime.or(o.rec_attrs.atime) {
            attrs |= t.attr();
        }
        if typ == "sysfs" && !r.new_netns {
            // sysfs of the host's network namespace shows the host's devices: read-only then.
            attrs |= MountAttrFlags::MOUNT_ATTR_RDONLY;
        }
        let ro = attrs.contains(MountAttrFlags::MOUNT_ATTR_RDONLY);
        // Only a tmpfs can have mountpoints and device nodes made inside it later (a read-only
        // /dev): its read-only attribute waits until they exist. Others are read-only at once.
        let defer = ro && fstype == "tmpfs";
        if ro && !defer && own_superblock(r, fstype) {
            set("option \"ro\"", ctx.set_flag("ro"))?;
        }
        set(&format!("create the {fstype} filesystem"), ctx.create())?;
        if defer {
            attrs.remove(MountAttrFlags::MOUNT_ATTR_RDONLY);
        }
        let mnt = ctx
            .mount(attrs)
            .map_err(|e| fs_error(&field, "fsmount", &ctx, e))?;
        if let Some((uid_map, gid_map)) = idmap_maps {
            // Made here, a child of the container's user namespace, so the init has
            // CAP_SYS_ADMIN over it as MOUNT_ATTR_IDMAP requires (see idmap.rs).
            let ns =
                super::idmap::userns_with(uid_map, gid_map).map_err(|e| ChildError::Config {
                    field: format!("mounts[{i}]"),
                    detail: format!("idmap: {e}"),
                })?;
            let a = MountAttr {
                set: MountAttrFlags::MOUNT_ATTR_IDMAP,
                userns: Some(ns.as_fd()),
                ..MountAttr::default()
            };
            sysmount::mount_setattr(&mnt, false, &a).map_err(|e| {
                let hint = if e.raw_os_error() == Some(libc::EINVAL) {
                    " (this filesystem type does not allow idmapped mounts on this kernel: \
                     tmpfs needs Linux 6.3)"
                } else {
                    ""
                };
                ChildError::Config {
                    field: format!("mounts[{i}]"),
                    detail: format!(
                        "idmap the {fstype} (mount_setattr MOUNT_ATTR_IDMAP): {e}{hint}"
                    ),
                }
            })?;
        }
        if o.copy_up {
            super::copyup::copy_dir(&target, &mnt).map_err(|e| {
                step_err(
                    i,
                    m,
                    "copy the covered directory into the tmpfs (tmpcopyup)",
                    e,
                )
            })?;
        }
        if defer {
            let dup = mnt
                .try_clone()
                .map_err(|e| step_err(i, m, "dup the mount fd", e))?;
            made_so_far.deferred.push(DeferredReadOnly {
                mnt: dup,
                superblock: true,
                field: describe(i, m),
            });
        }
        if own_superblock(r, fstype) {
            if let Ok(st) = nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(&mnt)) {
                made_so_far.superblocks.push(st.st_dev);
            }
        }
        made = mnt;
        &made
    };
    sysmount::attach(mnt, &target).map_err(|e| step_err(i, m, "attach (move_mount)", e))?;
    for (p, recursive) in &o.propagation {
        let a = MountAttr {
            propagation: Some(*p),
            ..MountAttr::default()
        };
        sysmount::mount_setattr(mnt, *recursive, &a)
            .map_err(|e| step_err(i, m, "set the propagation of", e))?;
    }
    Ok(())
}

/// A `remount` entry: change the mount already at the destination (attributes, and for a
/// filesystem's own options a reconfiguration of its superblock).
fn remount(
    r: &Rootfs<'_>,
    i: usize,
    m: &SpecMount,
    o: &MountOptions,
    target: &OwnedFd,
    own: &[u64],
) -> Result<(), ChildError> {
    let field = format!("mounts[{i}]");
    let mnt = sysmount::open_mount(Some(target.as_fd()), Path::new(""))
        .map_err(|e| step_err(i, m, "open the mount to remount", e))?;
    if o.bind.is_none() && (!o.data.is_empty() || !o.sb_flags.is_empty()) {
        // Reconfiguring a superblock reaches every mount of it: only one this config made
        // may be (never the host filesystem under the rootfs, a bind source's, or cgroup2).
        let dev = nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(&mnt))
            .map(|st| st.st_dev)
            .map_err(|e| step_err(i, m, "stat the mount to remount", e))?;
        if !own.contains(&dev) {
            return Err(ChildError::Config {
                field: format!("mounts[{i}].options"),
                detail: format!(
                    "remount with filesystem options ({}) changes a filesystem, and the one at \
                     {} was not made by this config (it may be the host's): remount only \
                     attributes (ro, nosuid...) there, or mount a new filesystem first",
                    o.data
                        .iter()
                        .map(|(k, v)| v.as_ref().map_or(k.clone(), |v| format!("{k}={v}")))
                        .chain(o.sb_flags.iter().map(|f| f.to_string()))
                        .collect::<Vec<_>>()
                        .join(","),
                    m.destination().display()
                ),
            });
        }
        let ctx = FsContext::pick(&mnt).map_err(|e| step_err(i, m, "fspick", e))?;
        for f in &o.sb_flags {
            ctx.set_flag(f)
                .map_err(|e| fs_error(&field, &format!("option \"{f}\""), &ctx, e))?;
        }
        for (k, v) in &o.data {
            match v {
                Some(v) => ctx.set_string(k, v),
                None => ctx.set_flag(k),
            }
            .map_err(|e| fs_error(&field, &format!("option \"{k}\""), &ctx, e))?;
        }
        ctx.reconfigure()
            .map_err(|e| fs_error(&field, "remount (reconfigure)", &ctx, e))?;
    }
    apply_attrs(&mnt, o, r.in_userns).map_err(|e| attr_err(r, i, m, e))?;
    Ok(())
}

/// A `cgroup` mount: a tmpfs with one read-only bind per hierarchy of the container's own
/// cgroup (v1 and hybrid), or the container's cgroup2 directory itself (v2). Every bind is
/// nosuid, nodev, noexec; read-only when the entry says `ro`.
fn mount_cgroup(
    r: &Rootfs<'_>,
    root: &OwnedFd,
    i: usize,
    m: &SpecMount,
    o: &MountOptions,
    deferred: &mut Vec<DeferredReadOnly>,
) -> Result<(), ChildError> {
    let target = ensure(root, m.destination(), Kind::Dir)
        .map_err(|e| step_err(i, m, "create the mountpoint of", e))?;
    let at = container_path(&r.rootfs, &target)
        .unwrap_or_else(|| Path::new("/").join(in_root(m.destination())));
    check_proc(i, m.destination(), "cgroup", o, &at, false)?;
    let ro = o.read_only();
    let mut bind_attrs = MountAttrFlags::MOUNT_ATTR_NOSUID
        | MountAttrFlags::MOUNT_ATTR_NODEV
        | MountAttrFlags::MOUNT_ATTR_NOEXEC;
    if ro {
        bind_attrs |= MountAttrFlags::MOUNT_ATTR_RDONLY;
    }
    let bind = |src: &PathBuf, onto: &OwnedFd| -> Result<(), ChildError> {
        let what = format!("bind cgroup {}", src.display());
        let mnt =
            sysmount::clone_tree(None, src, true, true).map_err(|e| step_err(i, m, &what, e))?;
        let a = MountAttr {
            set: bind_attrs,
            ..MountAttr::default()
        };
        sysmount::mount_setattr(&mnt, true, &a).map_err(|e| step_err(i, m, &what, e))?;
        sysmount::attach(&mnt, onto).map_err(|e| step_err(i, m, &what, e))
    };
    if let [only] = r.cgroup_mounts.as_slice() {
        if only.fstype == "cgroup2" && only.name.is_empty() {
            return bind(&only.host_path, &target);
        }
    }
    let ctx = FsContext::new("tmpfs").map_err(|e| step_err(i, m, "fsopen tmpfs for", e))?;
    ctx.set_string("source", "tmpfs")
        .and_then(|()| ctx.set_string("mode", "755"))
        .and_then(|()| ctx.create())
        .map_err(|e| fs_error(&format!("mounts[{i}]"), "tmpfs for cgroup", &ctx, e))?;
    let tmpfs = ctx
        .mount(
            MountAttrFlags::MOUNT_ATTR_NOSUID
                | MountAttrFlags::MOUNT_ATTR_NODEV
                | MountAttrFlags::MOUNT_ATTR_NOEXEC,
        )
        .map_err(|e| step_err(i, m, "fsmount tmpfs for", e))?;
    sysmount::attach(&tmpfs, &target).map_err(|e| step_err(i, m, "attach (move_mount)", e))?;
    for cm in &r.cgroup_mounts {
        let dir = ensure(&tmpfs, Path::new(&cm.name), Kind::Dir)
            .map_err(|e| step_err(i, m, &format!("mkdir {}", cm.name), e))?;
        bind(&cm.host_path, &dir)?;
        for link in &cm.symlinks {
            match nix::unistd::symlinkat(
                cm.name.as_str(),
                Some(std::os::fd::AsRawFd::as_raw_fd(&tmpfs)),
                link.as_str(),
            ) {
                Ok(()) | Err(nix::Error::EEXIST) => {}
                Err(e) => return Err(step_err(i, m, &format!("symlink {link}"), e)),
            }
        }
    }
    if ro {
        deferred.push(DeferredReadOnly {
            mnt: tmpfs,
            superblock: true,
            field: describe(i, m),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::options::parse;

    #[test]
    fn only_procfs_at_proc_and_only_the_allow_list_below() {
        let none = parse(&[]);
        let bind = parse(&["bind".to_string()]);
        assert!(check_proc(
            0,
            Path::new("/proc"),
            "proc",
            &none,
            Path::new("/proc"),
            false
        )
        .is_ok());
        assert!(check_proc(
            0,
            Path::new("/proc"),
            "tmpfs",
            &none,
            Path::new("/proc"),
            false
        )
        .is_err());
        assert!(check_proc(
            0,
            Path::new("/proc"),
            "proc",
            &bind,
            Path::new("/proc"),
            false
        )
        .is_err());
        // A bind of the root of a procfs is allowed at /proc, and only there.
        assert!(check_proc(
            0,
            Path::new("/proc"),
            "bind",
            &bind,
            Path::new("/proc"),
            true
        )
        .is_ok());
        assert!(check_proc(
            0,
            Path::new("/proc/cpuinfo"),
            "bind",
            &bind,
            Path::new("/proc/cpuinfo"),
            false
        )
        .is_ok());
        assert!(check_proc(
            0,
            Path::new("/proc/sys/kernel/ns_last_pid"),
            "bind",
            &bind,
            Path::new("/proc/sys/kernel/ns_last_pid"),
            false
        )
        .is_ok());
        let e = check_proc(
            3,
            Path::new("/proc/self/attr"),
            "bind",
            &bind,
            Path::new("/proc/self/attr"),
            false,
        )
        .unwrap_err();
        assert!(e.to_string().contains("mounts[3].destination"), "{e}");
        assert!(check_proc(
            0,
            Path::new("/procfs"),
            "tmpfs",
            &none,
            Path::new("/procfs"),
            false
        )
        .is_ok());
    }

    #[test]
    fn locked_flags_are_not_cleared_in_a_user_namespace() {
        let o = parse(&["rw".to_string(), "suid".to_string(), "noatime".to_string()]);
        let current = MountAttrFlags::MOUNT_ATTR_RDONLY;
        let a = setattr_of(&o.attrs, current, true);
        assert_eq!(
            a.clear,
            MountAttrFlags::MOUNT_ATTR_NOSUID | MountAttrFlags::MOUNT_ATTR__ATIME
        );
        assert_eq!(a.set, MountAttrFlags::MOUNT_ATTR_NOATIME);
        let a = setattr_of(&o.attrs, current, false);
        assert!(a.clear.contains(MountAttrFlags::MOUNT_ATTR_RDONLY));
    }
}
