//! The container's root filesystem: propagation, the rootfs bind, the `mounts` of config.json,
//! devices, pivot_root (or MS_MOVE + chroot with `--no-pivot`), masked and read-only paths.
//!
//! Every destination is resolved *inside* the rootfs with openat2(RESOLVE_IN_ROOT) and mounted
//! through the resulting fd (`/proc/self/fd/N`), so an absolute symlink or `..` in the image can
//! never put a mount on the host (the class of CVE-2021-30465). Runs in the init, in the new
//! mount namespace, before pivot_root ([`prepare`]) and after it ([`finish`]).

use std::fs;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

use nix::fcntl::OFlag;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{Mode, SFlag};
use nix::unistd::{chdir, chroot, fchdir, pivot_root};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, Mount as SpecMount, Spec};

use crate::process::ChildError;

/// What the rootfs setup needs besides the spec.
#[derive(Debug)]
pub struct Rootfs<'a> {
    /// The config.
    pub spec: &'a Spec,
    /// The rootfs on the host (absolute, canonical).
    pub rootfs: PathBuf,
    /// The bundle (relative bind sources are relative to it).
    pub bundle: PathBuf,
    /// The container's cgroup as its `cgroup` mount must show it.
    pub cgroup_mounts: Vec<husk_cgroups::CgroupMount>,
    /// The container has its own user namespace (no mknod; locked mount flags).
    pub in_userns: bool,
    /// The container has its own network namespace (else sysfs must be read-only).
    pub new_netns: bool,
    /// `--no-pivot`.
    pub no_pivot: bool,
}

fn mount_err(
    i: usize,
    m: &SpecMount,
    step: &str,
    e: impl Into<crate::process::Errno>,
) -> ChildError {
    ChildError::setup(
        format!(
            "mounts[{i}]: {step} {} on {}",
            m.source()
                .as_ref()
                .map(|s| s.display().to_string())
                .unwrap_or_default(),
            m.destination().display()
        ),
        None,
        e,
    )
}

/// Options of one mount entry, split into flags, propagation and filesystem data.
#[derive(Debug, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags for mount(2).
    pub flags: MsFlags,
    /// Propagation changes applied after the mount, in order.
    pub propagation: Vec<MsFlags>,
    /// Filesystem-specific data ("mode=755,size=65536k").
    pub data: String,
    /// `bind` or `rbind` was given.
    pub bind: bool,
}

/// Parse a mount's `options` (`man 8 mount`, "FILESYSTEM-INDEPENDENT MOUNT OPTIONS").
pub fn parse_options(options: &[String]) -> MountOptions {
    let mut o = MountOptions {
        flags: MsFlags::empty(),
        propagation: Vec::new(),
        data: String::new(),
        bind: false,
    };
    let mut data = Vec::new();
    for opt in options {
        let (clear, set) = match opt.as_str() {
            "defaults" => (false, MsFlags::empty()),
            "ro" => (false, MsFlags::MS_RDONLY),
            "rw" => (true, MsFlags::MS_RDONLY),
            "suid" => (true, MsFlags::MS_NOSUID),
            "nosuid" => (false, MsFlags::MS_NOSUID),
            "dev" => (true, MsFlags::MS_NODEV),
            "nodev" => (false, MsFlags::MS_NODEV),
            "exec" => (true, MsFlags::MS_NOEXEC),
            "noexec" => (false, MsFlags::MS_NOEXEC),
            "sync" => (false, MsFlags::MS_SYNCHRONOUS),
            "async" => (true, MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (false, MsFlags::MS_DIRSYNC),
            "remount" => (false, MsFlags::MS_REMOUNT),
            "mand" => (false, MsFlags::MS_MANDLOCK),
            "nomand" => (true, MsFlags::MS_MANDLOCK),
            "atime" => (true, MsFlags::MS_NOATIME),
            "noatime" => (false, MsFlags::MS_NOATIME),
            "diratime" => (true, MsFlags::MS_NODIRATIME),
            "nodiratime" => (false, MsFlags::MS_NODIRATIME),
            "relatime" => (false, MsFlags::MS_RELATIME),
            "norelatime" => (true, MsFlags::MS_RELATIME),
            "strictatime" => (false, MsFlags::MS_STRICTATIME),
            "nostrictatime" => (true, MsFlags::MS_STRICTATIME),
            "lazytime" => (false, MsFlags::MS_LAZYTIME),
            "nolazytime" => (true, MsFlags::MS_LAZYTIME),
            "silent" => (false, MsFlags::MS_SILENT),
            "loud" => (true, MsFlags::MS_SILENT),
            "bind" => {
                o.bind = true;
                (false, MsFlags::MS_BIND)
            }
            "rbind" => {
                o.bind = true;
                (false, MsFlags::MS_BIND | MsFlags::MS_REC)
            }
            p @ ("shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate"
            | "unbindable" | "runbindable") => {
                let rec = if p.starts_with('r') {
                    MsFlags::MS_REC
                } else {
                    MsFlags::empty()
                };
                let f = match p.trim_start_matches('r') {
                    "shared" => MsFlags::MS_SHARED,
                    "slave" => MsFlags::MS_SLAVE,
                    "private" => MsFlags::MS_PRIVATE,
                    _ => MsFlags::MS_UNBINDABLE,
                };
                o.propagation.push(f | rec);
                continue;
            }
            other => {
                data.push(other.to_string());
                continue;
            }
        };
        if clear {
            o.flags.remove(set);
        } else {
            o.flags.insert(set);
        }
    }
    o.data = data.join(",");
    o
}

/// A path of the container as a relative path below its root (`/a/../b` stays inside).
fn in_root(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// What to create when a mountpoint is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
}

/// Open `rel` inside the root `root` (O_PATH), creating it (and its missing parents as
/// directories) as `kind` when it does not exist. Never leaves the root.
fn ensure(root: &OwnedFd, rel: &Path, kind: Kind) -> std::io::Result<OwnedFd> {
    ensure_depth(root, rel, kind, 0)
}

/// Symlinks followed while creating one path at the most (the kernel's MAXSYMLINKS).
const MAX_SYMLINKS: u32 = 40;

fn ensure_depth(root: &OwnedFd, rel: &Path, kind: Kind, depth: u32) -> std::io::Result<OwnedFd> {
    if depth > MAX_SYMLINKS {
        return Err(std::io::Error::from_raw_os_error(libc::ELOOP));
    }
    let rel = in_root(rel);
    match husk_sys::open_in_root(root, &rel, OFlag::O_PATH) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
        other => return other,
    }
    let (parent, name) = match (rel.parent(), rel.file_name()) {
        (Some(p), Some(n)) => (p.to_path_buf(), n.to_os_string()),
        _ => return Err(std::io::Error::from_raw_os_error(libc::ENOENT)),
    };
    let pfd = ensure_depth(root, &parent, Kind::Dir, depth)?;
    let made = match kind {
        Kind::Dir => nix::sys::stat::mkdirat(
            Some(pfd.as_raw_fd()),
            name.as_os_str(),
            Mode::from_bits_truncate(0o755),
        )
        .map_err(std::io::Error::from),
        Kind::File => husk_sys::openat(
            &pfd,
            &name,
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW,
            Mode::from_bits_truncate(0o644),
        )
        .map(drop),
    };
    match made {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
            // A dangling symlink: create its target, resolved inside the root like the kernel
            // would resolve it there (absolute = from the container's /).
            if let Ok(target) = nix::fcntl::readlinkat(Some(pfd.as_raw_fd()), name.as_os_str()) {
                let target = PathBuf::from(target);
                let next = if target.is_absolute() {
                    target
                } else {
                    parent.join(target)
                };
                return ensure_depth(root, &next, kind, depth + 1);
            }
        }
        Err(e) => return Err(e),
    }
    husk_sys::open_in_root(root, &rel, OFlag::O_PATH)
}

fn fd_path(fd: &OwnedFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// Mount flags the kernel locks on a mount copied into a less privileged user namespace; a
/// remount must repeat them or it fails with EPERM (`man 7 mount_namespaces`).
fn locked_flags(path: &str) -> MsFlags {
    let Ok(st) = nix::sys::statvfs::statvfs(path) else {
        return MsFlags::empty();
    };
    use nix::sys::statvfs::FsFlags;
    let f = st.flags();
    let mut m = MsFlags::empty();
    for (a, b) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
    ] {
        if f.contains(a) {
            m |= b;
        }
    }
    m
}

/// `linux.rootfsPropagation` as mount flags (None when unset).
fn root_propagation(spec: &Spec) -> Result<Option<MsFlags>, ChildError> {
    let Some(p) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().clone())
    else {
        return Ok(None);
    };
    Ok(Some(match p.as_str() {
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        other => {
            return Err(ChildError::Config {
                field: "linux.rootfsPropagation".into(),
                detail: format!(
                "\"{other}\" is not one of shared, slave, private, unbindable (or their r* forms)"
            ),
            })
        }
    }))
}

/// Before pivot_root: propagation, the rootfs bind, every mount, devices and /dev symlinks.
///
/// # Errors
/// A [`ChildError`] naming the mount entry, device or step.
pub fn prepare(r: &Rootfs<'_>) -> Result<(), ChildError> {
    // Keep host mount events from reaching the container and vice versa: runc's default is
    // rslave; linux.rootfsPropagation may ask for another.
    let prop = root_propagation(r.spec)?.unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC);
    // Shared propagation cannot stay on the mounts pivot_root works with: / is made rslave
    // (or the configured non-shared mode) now, and the configured mode is applied to the new /
    // after the root switch ([`finish`]), as runc does.
    let before = if prop.contains(MsFlags::MS_SHARED) {
        MsFlags::MS_SLAVE | MsFlags::MS_REC
    } else {
        prop
    };
    mount(None::<&str>, "/", None::<&str>, before, None::<&str>).map_err(|e| {
        ChildError::setup("set propagation of /", Some("linux.rootfsPropagation"), e)
    })?;
    // pivot_root needs the new root to be a mount point, and its parent mount must not be
    // shared; a private bind of the rootfs onto itself gives both.
    mount(
        Some(&r.rootfs),
        &r.rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| {
        ChildError::setup(
            "bind the rootfs onto itself",
            Some(&r.rootfs.to_string_lossy()),
            e,
        )
    })?;
    mount(
        None::<&str>,
        &r.rootfs,
        None::<&str>,
        MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| {
        ChildError::setup(
            "make the rootfs mount private",
            Some(&r.rootfs.to_string_lossy()),
            e,
        )
    })?;

    let root = husk_sys::open_in_root(
        fs::File::open("/").map_err(|e| ChildError::setup("open /", None, e))?,
        &r.rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY,
    )
    .map_err(|e| ChildError::setup("open the rootfs", Some(&r.rootfs.to_string_lossy()), e))?;

    let mut dev_is_bind = false;
    for (i, m) in r.spec.mounts().iter().flatten().enumerate() {
        let opts = parse_options(m.options().as_deref().unwrap_or(&[]));
        if in_root(m.destination()) == Path::new("dev") && opts.bind {
            dev_is_bind = true;
        }
        mount_one(r, &root, i, m, &opts)?;
    }
    if !dev_is_bind {
        create_devices(r, &root)?;
    }
    Ok(())
}

fn mount_one(
    r: &Rootfs<'_>,
    root: &OwnedFd,
    i: usize,
    m: &SpecMount,
    o: &MountOptions,
) -> Result<(), ChildError> {
    let typ = m
        .typ()
        .as_deref()
        .unwrap_or(if o.bind { "bind" } else { "" });
    let dest = m.destination();
    if dest.as_os_str().is_empty() {
        return Err(ChildError::Config {
            field: format!("mounts[{i}].destination"),
            detail: "is empty".into(),
        });
    }
    if typ == "cgroup" {
        return mount_cgroup(r, root, i, m, o);
    }
    let source_host = m.source().as_ref().map(|s| {
        if s.is_absolute() {
            s.clone()
        } else {
            r.bundle.join(s)
        }
    });
    let kind = if o.bind {
        let src = source_host.as_ref().ok_or_else(|| ChildError::Config {
            field: format!("mounts[{i}].source"),
            detail: "a bind mount needs a source".into(),
        })?;
        match fs::metadata(src) {
            Ok(md) if md.is_dir() => Kind::Dir,
            Ok(_) => Kind::File,
            Err(e) => {
                return Err(ChildError::Config {
                    field: format!("mounts[{i}].source"),
                    detail: format!("{}: {e}", src.display()),
                })
            }
        }
    } else {
        Kind::Dir
    };
    if typ == "proc" || typ == "sysfs" {
        // /proc and /sys must be real directories of the image, not symlinks to somewhere
        // else: a symlinked /proc would let the image redirect where procfs lands.
        let rel = in_root(dest);
        if let Ok(fd) = husk_sys::open_in_root(root, &rel, OFlag::O_PATH | OFlag::O_NOFOLLOW) {
            if let Ok(md) = fs::metadata(fd_path(&fd)) {
                if !md.is_dir() {
                    return Err(ChildError::Config {
                        field: format!("mounts[{i}].destination"),
                        detail: format!("{} in the rootfs is not a directory; {typ} can only be mounted on a directory", dest.display()),
                    });
                }
            }
        }
    }
    let target =
        ensure(root, dest, kind).map_err(|e| mount_err(i, m, "create the mountpoint for", e))?;
    let tpath = fd_path(&target);
    let mut flags = o.flags;
    if typ == "sysfs" && !r.new_netns {
        // sysfs of the host's network namespace shows the host's devices: read-only then.
        flags |= MsFlags::MS_RDONLY;
    }
    let data = (!o.data.is_empty()).then_some(o.data.as_str());
    if o.bind {
        let src = source_host.as_deref();
        mount(
            src,
            tpath.as_str(),
            None::<&str>,
            MsFlags::MS_BIND | (flags & MsFlags::MS_REC),
            None::<&str>,
        )
        .map_err(|e| mount_err(i, m, "bind", e))?;
        // The fd still names the covered directory: reopen to reach the new mount.
        let target = husk_sys::open_in_root(root, in_root(dest), OFlag::O_PATH)
            .map_err(|e| mount_err(i, m, "reopen", e))?;
        let tpath = fd_path(&target);
        let extra = flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
        if !extra.is_empty() {
            // A bind mount ignores all flags but MS_REC: apply ro, nosuid, ... with a remount,
            // keeping the flags the kernel locked on the source.
            let locked = if r.in_userns {
                locked_flags(&tpath) & !MsFlags::MS_RDONLY
            } else {
                MsFlags::empty()
            };
            mount(
                None::<&str>,
                tpath.as_str(),
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | extra | locked,
                None::<&str>,
            )
            .map_err(|e| mount_err(i, m, "remount (options) the bind", e))?;
        }
    } else {
        let fstype = m.typ().as_deref().unwrap_or("none");
        let src = m
            .source()
            .as_ref()
            .map(|p| p.as_path())
            .unwrap_or(Path::new(fstype));
        mount(Some(src), tpath.as_str(), Some(fstype), flags, data)
            .map_err(|e| mount_err(i, m, &format!("mount {fstype}"), e))?;
    }
    let target = husk_sys::open_in_root(root, in_root(dest), OFlag::O_PATH)
        .map_err(|e| mount_err(i, m, "reopen", e))?;
    let tpath = fd_path(&target);
    for p in &o.propagation {
        mount(None::<&str>, tpath.as_str(), None::<&str>, *p, None::<&str>)
            .map_err(|e| mount_err(i, m, "set propagation of", e))?;
    }
    Ok(())
}

/// A `cgroup` mount: a tmpfs with one read-only bind per hierarchy of the container's own cgroup
/// (v1 and hybrid), or the container's cgroup2 directory itself (v2).
fn mount_cgroup(
    r: &Rootfs<'_>,
    root: &OwnedFd,
    i: usize,
    m: &SpecMount,
    o: &MountOptions,
) -> Result<(), ChildError> {
    let target = ensure(root, m.destination(), Kind::Dir)
        .map_err(|e| mount_err(i, m, "create the mountpoint for", e))?;
    let tpath = fd_path(&target);
    let ro = o.flags.contains(MsFlags::MS_RDONLY);
    let bind_flags = MsFlags::MS_NOSUID
        | MsFlags::MS_NODEV
        | MsFlags::MS_NOEXEC
        | if ro {
            MsFlags::MS_RDONLY
        } else {
            MsFlags::empty()
        };
    // Mount on the fd, then remount through a fresh lookup (the fd names the covered dir).
    let bind = |src: &Path, dir: &OwnedFd, rel: &Path| -> Result<(), ChildError> {
        let fd = husk_sys::open_in_root(dir, rel, OFlag::O_PATH)
            .map_err(|e| mount_err(i, m, "open", e))?;
        mount(
            Some(src),
            fd_path(&fd).as_str(),
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(|e| mount_err(i, m, &format!("bind cgroup {}", src.display()), e))?;
        let fd = husk_sys::open_in_root(dir, rel, OFlag::O_PATH)
            .map_err(|e| mount_err(i, m, "reopen", e))?;
        mount(
            None::<&str>,
            fd_path(&fd).as_str(),
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | bind_flags,
            None::<&str>,
        )
        .map_err(|e| mount_err(i, m, "remount read-only cgroup", e))
    };
    let single_v2 = r.cgroup_mounts.len() == 1
        && r.cgroup_mounts[0].fstype == "cgroup2"
        && r.cgroup_mounts[0].name.is_empty();
    if single_v2 {
        return bind(
            &r.cgroup_mounts[0].host_path,
            root,
            &in_root(m.destination()),
        );
    }
    mount(
        Some("tmpfs"),
        tpath.as_str(),
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("mode=755"),
    )
    .map_err(|e| mount_err(i, m, "mount tmpfs for", e))?;
    let cg_root = husk_sys::open_in_root(
        root,
        in_root(m.destination()),
        OFlag::O_PATH | OFlag::O_DIRECTORY,
    )
    .map_err(|e| mount_err(i, m, "open", e))?;
    for cm in &r.cgroup_mounts {
        ensure(&cg_root, Path::new(&cm.name), Kind::Dir)
            .map_err(|e| mount_err(i, m, &format!("mkdir {}", cm.name), e))?;
        bind(&cm.host_path, &cg_root, Path::new(&cm.name))?;
        for link in &cm.symlinks {
            match nix::unistd::symlinkat(cm.name.as_str(), Some(cg_root.as_raw_fd()), link.as_str())
            {
                Ok(()) | Err(nix::Error::EEXIST) => {}
                Err(e) => return Err(mount_err(i, m, &format!("symlink {link}"), e)),
            }
        }
    }
    if ro {
        let fd = husk_sys::open_in_root(root, in_root(m.destination()), OFlag::O_PATH)
            .map_err(|e| mount_err(i, m, "reopen", e))?;
        mount(
            None::<&str>,
            fd_path(&fd).as_str(),
            None::<&str>,
            MsFlags::MS_REMOUNT
                | MsFlags::MS_RDONLY
                | MsFlags::MS_NOSUID
                | MsFlags::MS_NODEV
                | MsFlags::MS_NOEXEC,
            Some("mode=755"),
        )
        .map_err(|e| mount_err(i, m, "remount read-only tmpfs", e))?;
    }
    Ok(())
}

/// The devices every container gets (runtime-spec "Default Devices").
fn default_devices() -> Vec<(&'static str, u64, u64)> {
    vec![
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ]
}

fn create_devices(r: &Rootfs<'_>, root: &OwnedFd) -> Result<(), ChildError> {
    let dev = ensure(root, Path::new("dev"), Kind::Dir)
        .map_err(|e| ChildError::setup("create /dev", None, e))?;
    let _ = fs::metadata(fd_path(&dev)).map_err(|e| ChildError::setup("stat /dev", None, e))?;
    let dev_dir = husk_sys::open_in_root(root, "dev", OFlag::O_PATH | OFlag::O_DIRECTORY)
        .map_err(|e| ChildError::setup("open /dev", None, e))?;
    for (name, major, minor) in default_devices() {
        make_node(
            r,
            root,
            &dev_dir,
            Path::new("/dev").join(name).as_path(),
            SFlag::S_IFCHR,
            major,
            minor,
            0o666,
            0,
            0,
        )
        .map_err(|e| ChildError::setup("create device", Some(&format!("/dev/{name}")), e))?;
    }
    for (i, d) in r
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().clone())
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        create_device(r, root, &dev_dir, i, d)?;
    }
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ] {
        match nix::unistd::symlinkat(target, Some(dev_dir.as_raw_fd()), link) {
            Ok(()) | Err(nix::Error::EEXIST) => {}
            Err(e) => {
                return Err(ChildError::setup(
                    "symlink",
                    Some(&format!("/dev/{link} -> {target}")),
                    e,
                ))
            }
        }
    }
    if Path::new("/proc/kcore").exists() {
        let _ = nix::unistd::symlinkat("/proc/kcore", Some(dev_dir.as_raw_fd()), "core");
    }
    Ok(())
}

fn create_device(
    r: &Rootfs<'_>,
    root: &OwnedFd,
    dev_dir: &OwnedFd,
    i: usize,
    d: &LinuxDevice,
) -> Result<(), ChildError> {
    let field = format!("linux.devices[{i}]");
    let kind = match d.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
        LinuxDeviceType::B => SFlag::S_IFBLK,
        LinuxDeviceType::P => SFlag::S_IFIFO,
        LinuxDeviceType::A => {
            return Err(ChildError::Config {
                field: format!("{field}.type"),
                detail: "\"a\" is only valid in linux.resources.devices".into(),
            })
        }
    };
    let mode = d.file_mode().unwrap_or(0o666);
    make_node(
        r,
        root,
        dev_dir,
        d.path(),
        kind,
        d.major() as u64,
        d.minor() as u64,
        mode,
        d.uid().unwrap_or(0),
        d.gid().unwrap_or(0),
    )
    .map_err(|e| {
        ChildError::setup(
            "create device",
            Some(&format!("{field} {}", d.path().display())),
            e,
        )
    })
}

#[allow(clippy::too_many_arguments)]
fn make_node(
    r: &Rootfs<'_>,
    root: &OwnedFd,
    _dev_dir: &OwnedFd,
    path: &Path,
    kind: SFlag,
    major: u64,
    minor: u64,
    mode: u32,
    uid: u32,
    gid: u32,
) -> std::io::Result<()> {
    let rel = in_root(path);
    let parent = ensure(root, rel.parent().unwrap_or(Path::new("")), Kind::Dir)?;
    let name = rel
        .file_name()
        .ok_or_else(|| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    if r.in_userns {
        // mknod is not allowed in a user namespace: bind-mount the host's node at the same
        // path instead.
        let host = Path::new("/").join(&rel);
        let f = ensure(root, &rel, Kind::File)?;
        return mount(
            Some(&host),
            fd_path(&f).as_str(),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(Into::into);
    }
    // A node (or a planted symlink) already there is replaced: unlinkat does not follow links.
    match nix::unistd::unlinkat(
        Some(parent.as_raw_fd()),
        name,
        nix::unistd::UnlinkatFlags::NoRemoveDir,
    ) {
        Ok(()) | Err(nix::Error::ENOENT) => {}
        Err(e) => return Err(e.into()),
    }
    let perm = Mode::from_bits_truncate(mode & 0o7777);
    nix::sys::stat::mknodat(
        Some(parent.as_raw_fd()),
        name,
        kind,
        perm,
        nix::sys::stat::makedev(major, minor),
    )?;
    nix::unistd::fchownat(
        Some(parent.as_raw_fd()),
        name,
        Some(nix::unistd::Uid::from_raw(uid)),
        Some(nix::unistd::Gid::from_raw(gid)),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )?;
    Ok(())
}

/// Switch the root: pivot_root(2) into the rootfs and detach the old root, or with `--no-pivot`
/// MS_MOVE the rootfs onto / and chroot(2) (after detaching every other mount, so nothing of the
/// host's tree stays reachable).
///
/// # Errors
/// The failing step.
pub fn switch_root(r: &Rootfs<'_>) -> Result<(), ChildError> {
    let rootfs = r.rootfs.as_path();
    if r.no_pivot {
        detach_outside(rootfs);
        chdir(rootfs).map_err(|e| {
            ChildError::setup("chdir to the rootfs", Some(&rootfs.to_string_lossy()), e)
        })?;
        mount(
            Some(rootfs),
            "/",
            None::<&str>,
            MsFlags::MS_MOVE,
            None::<&str>,
        )
        .map_err(|e| ChildError::setup("move the rootfs onto / (--no-pivot)", None, e))?;
        chroot(".").map_err(|e| ChildError::setup("chroot (--no-pivot)", None, e))?;
        chdir("/").map_err(|e| ChildError::setup("chdir /", None, e))?;
        return Ok(());
    }
    let old = fs::File::open("/").map_err(|e| ChildError::setup("open /", None, e))?;
    let new = fs::File::open(rootfs)
        .map_err(|e| ChildError::setup("open the rootfs", Some(&rootfs.to_string_lossy()), e))?;
    fchdir(new.as_fd().as_raw_fd())
        .map_err(|e| ChildError::setup("fchdir to the rootfs", None, e))?;
    // pivot_root(".", ".") stacks the old root under the new one at "."; it is then unmounted
    // from there without needing a directory for it in the image (runc's trick).
    pivot_root(".", ".").map_err(|e| {
        ChildError::setup(
            "pivot_root (try --no-pivot on a ramfs root)",
            Some(&rootfs.to_string_lossy()),
            e,
        )
    })?;
    fchdir(old.as_fd().as_raw_fd())
        .map_err(|e| ChildError::setup("fchdir to the old root", None, e))?;
    // Make the old root a slave so its unmount does not propagate to the host.
    mount(
        None::<&str>,
        ".",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| ChildError::setup("make the old root rslave", None, e))?;
    umount2(".", MntFlags::MNT_DETACH)
        .map_err(|e| ChildError::setup("detach the old root", None, e))?;
    chdir("/").map_err(|e| ChildError::setup("chdir /", None, e))?;
    Ok(())
}

/// For `--no-pivot`: detach every mount that is neither the rootfs, below it, nor one of its
/// ancestors, deepest first, so the host's tree is gone from this mount namespace.
fn detach_outside(rootfs: &Path) {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let mut points: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(p.replace("\\040", " ")))
        .filter(|p| !p.starts_with(rootfs) && !rootfs.starts_with(p))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for p in points {
        let _ = umount2(&p, MntFlags::MNT_DETACH);
    }
}

/// After the root switch: masked paths, read-only paths, then a read-only root.
///
/// # Errors
/// The failing step, naming the path.
pub fn finish(r: &Rootfs<'_>) -> Result<(), ChildError> {
    if let Some(p) = root_propagation(r.spec)? {
        if p.contains(MsFlags::MS_SHARED) {
            mount(None::<&str>, "/", None::<&str>, p, None::<&str>).map_err(|e| {
                ChildError::setup("set propagation of /", Some("linux.rootfsPropagation"), e)
            })?;
        }
    }
    let linux = r.spec.linux().as_ref();
    for p in linux
        .and_then(|l| l.masked_paths().as_ref())
        .into_iter()
        .flatten()
    {
        mask(p)
            .map_err(|e| ChildError::setup("mask", Some(&format!("linux.maskedPaths {p}")), e))?;
    }
    for p in linux
        .and_then(|l| l.readonly_paths().as_ref())
        .into_iter()
        .flatten()
    {
        readonly(p).map_err(|e| {
            ChildError::setup(
                "make read-only",
                Some(&format!("linux.readonlyPaths {p}")),
                e,
            )
        })?;
    }
    if r.spec
        .root()
        .as_ref()
        .and_then(|root| root.readonly())
        .unwrap_or(false)
    {
        let locked = locked_flags("/");
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | locked,
            None::<&str>,
        )
        .map_err(|e| ChildError::setup("remount / read-only", Some("root.readonly"), e))?;
    }
    Ok(())
}

// Both run after the root switch, so a symlink is followed inside the container's root, as
// runc does; a path that does not resolve (a dangling symlink too) is skipped, as the spec says.
fn mask(p: &str) -> nix::Result<()> {
    let md = match fs::metadata(p) {
        Ok(md) => md,
        Err(_) => return Ok(()),
    };
    if md.is_dir() {
        return mount(
            Some("tmpfs"),
            p,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            None::<&str>,
        );
    }
    // Only a real /dev/null (character device 1:3) may be used to cover files.
    let null = fs::metadata("/dev/null").map_err(|_| nix::Error::ENOENT)?;
    if !null.file_type().is_char_device() || null.rdev() != nix::sys::stat::makedev(1, 3) {
        return Err(nix::Error::EPERM);
    }
    mount(
        Some("/dev/null"),
        p,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
}

fn readonly(p: &str) -> nix::Result<()> {
    if fs::metadata(p).is_err() {
        return Ok(());
    }
    mount(
        Some(p),
        p,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )?;
    let locked = locked_flags(p);
    mount(
        None::<&str>,
        p,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_REC | locked,
        None::<&str>,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn options_split_into_flags_propagation_and_data() {
        let o = parse_options(&s(&[
            "nosuid",
            "noexec",
            "nodev",
            "mode=755",
            "size=65536k",
            "rslave",
            "ro",
        ]));
        assert_eq!(
            o.flags,
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV | MsFlags::MS_RDONLY
        );
        assert_eq!(o.propagation, vec![MsFlags::MS_SLAVE | MsFlags::MS_REC]);
        assert_eq!(o.data, "mode=755,size=65536k");
        assert!(!o.bind);
        let o = parse_options(&s(&["rbind", "ro", "rw"]));
        assert!(o.bind);
        assert_eq!(o.flags, MsFlags::MS_BIND | MsFlags::MS_REC);
    }

    #[test]
    fn in_root_never_climbs_out() {
        assert_eq!(in_root(Path::new("/../../etc/x")), PathBuf::from("etc/x"));
        assert_eq!(in_root(Path::new("a/./b/../c")), PathBuf::from("a/c"));
    }

    #[test]
    fn ensure_creates_inside_the_root_through_symlinks() {
        let t = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), t.path().join("evil")).unwrap();
        let root: OwnedFd = fs::File::open(t.path()).unwrap().into();
        ensure(&root, Path::new("/evil/sub/file"), Kind::File).unwrap();
        // The absolute symlink was resolved inside the root: nothing appeared outside.
        assert!(fs::read_dir(outside.path()).unwrap().next().is_none());
        assert!(t
            .path()
            .join(outside.path().strip_prefix("/").unwrap())
            .join("sub/file")
            .is_file());
    }
}
