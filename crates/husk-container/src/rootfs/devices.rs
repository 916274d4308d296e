//! /dev: the devices of `linux.devices` and the runtime-spec's default devices, made with
//! mknodat(2) inside the rootfs, or, in a user namespace where mknod is not allowed, as a bind of
//! the host's node after checking it is the requested device; the /dev symlinks; and the
//! mountpoint of /dev/console when the container has a terminal.
//!
//! Nothing here follows a symlink the image planted at a device path: the parent directory is
//! resolved inside the root, and the last component is examined, removed and created with the
//! no-follow forms (fstatat AT_SYMLINK_NOFOLLOW, unlinkat, mknodat, O_NOFOLLOW).

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use husk_sys::mount as sysmount;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{Mode, SFlag};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};

use super::resolve::{ensure, in_root, Kind};
use super::Rootfs;
use crate::process::ChildError;

/// The devices every container gets (runtime-spec config-linux.md "Default Devices"; /dev/ptmx
/// is the symlink below, /dev/console the terminal's bind).
const DEFAULT_DEVICES: &[(&str, u64, u64)] = &[
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

/// One device node to make.
struct Node<'a> {
    /// `linux.devices[i]` or `default device /dev/null`, for messages.
    field: String,
    path: &'a Path,
    kind: SFlag,
    major: u64,
    minor: u64,
    mode: u32,
    uid: u32,
    gid: u32,
    /// A default device replaces whatever the image has there; a configured one that clashes
    /// with an existing file is an error (runtime-spec: the runtime MUST generate an error).
    replace: bool,
}

fn type_name(fmt: u32) -> &'static str {
    match fmt {
        libc::S_IFCHR => "a character device",
        libc::S_IFBLK => "a block device",
        libc::S_IFIFO => "a fifo",
        libc::S_IFDIR => "a directory",
        libc::S_IFLNK => "a symlink",
        libc::S_IFREG => "a regular file",
        libc::S_IFSOCK => "a socket",
        _ => "a file of unknown type",
    }
}

impl Node<'_> {
    fn rdev(&self) -> u64 {
        nix::sys::stat::makedev(self.major, self.minor)
    }

    /// Whether a stat result is this device (type, and for char/block devices the numbers).
    fn is(&self, st: &nix::sys::stat::FileStat) -> bool {
        let fmt = st.st_mode & libc::S_IFMT;
        fmt == self.kind.bits() && (self.kind == SFlag::S_IFIFO || st.st_rdev == self.rdev())
    }

    fn describe(&self) -> String {
        if self.kind == SFlag::S_IFIFO {
            "a fifo".into()
        } else {
            format!(
                "{} {}:{}",
                type_name(self.kind.bits()),
                self.major,
                self.minor
            )
        }
    }
}

/// Create every device, the /dev symlinks (fd, stdin, stdout, stderr, ptmx, core) and, with
/// `process.terminal`, the mountpoint of /dev/console.
///
/// # Errors
/// A [`ChildError`] naming the device: a clash with a file of the image, a host node that is
/// not the requested device (user namespace), or the failing syscall.
pub fn create(r: &Rootfs<'_>, root: &OwnedFd) -> Result<(), ChildError> {
    let dev = ensure(root, Path::new("dev"), Kind::Dir)
        .map_err(|e| ChildError::setup("create /dev", None, e))?;
    let configured: Vec<LinuxDevice> = r
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().clone())
        .unwrap_or_default();
    for (i, d) in configured.iter().enumerate() {
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
        make_node(
            r,
            root,
            &Node {
                field,
                path: d.path(),
                kind,
                major: d.major() as u64,
                minor: d.minor() as u64,
                mode: d.file_mode().unwrap_or(0o666),
                uid: d.uid().unwrap_or(0),
                gid: d.gid().unwrap_or(0),
                replace: false,
            },
        )?;
    }
    for (path, major, minor) in DEFAULT_DEVICES {
        let path = Path::new(path);
        if configured
            .iter()
            .any(|d| in_root(d.path()) == in_root(path))
        {
            continue;
        }
        make_node(
            r,
            root,
            &Node {
                field: format!("default device {}", path.display()),
                path,
                kind: SFlag::S_IFCHR,
                major: *major,
                minor: *minor,
                mode: 0o666,
                uid: 0,
                gid: 0,
                replace: true,
            },
        )?;
    }
    for (link, target, replace) in [
        ("fd", "/proc/self/fd", false),
        ("stdin", "/proc/self/fd/0", false),
        ("stdout", "/proc/self/fd/1", false),
        ("stderr", "/proc/self/fd/2", false),
        // The devpts mount's own ptmx: whatever the image has there is replaced.
        ("ptmx", "pts/ptmx", true),
    ] {
        symlink(&dev, link, target, replace)?;
    }
    if Path::new("/proc/kcore").exists() {
        symlink(&dev, "core", "/proc/kcore", false)?;
    }
    let terminal = r
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    if terminal {
        drop(console_mountpoint(&dev)?);
    }
    Ok(())
}

/// With `process.terminal`, the file the pty's bind covers at /dev/console (see the init's
/// terminal setup), made now: once the rootfs is set up, /dev may no longer be writable (a
/// read-only /dev tmpfs, the image's /dev under `root.readonly`), and runc makes it there too.
/// A symlink the image planted at /dev/console is removed, never followed (CVE-2025-52565);
/// any other file is left for the bind to cover.
///
/// Returns an O_PATH fd of the file (never of a symlink), for the bind.
///
/// # Errors
/// The failing stat, unlink or create, naming /dev/console.
pub fn console_mountpoint(dev: &OwnedFd) -> Result<OwnedFd, ChildError> {
    let err = |step: &str, e: nix::Error| ChildError::setup(step, Some("/dev/console"), e);
    let dfd = Some(dev.as_raw_fd());
    let create = match nix::sys::stat::fstatat(dfd, "console", AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFLNK => {
            nix::unistd::unlinkat(dfd, "console", nix::unistd::UnlinkatFlags::NoRemoveDir)
                .map_err(|e| err("remove the image's symlink at", e))?;
            true
        }
        Ok(_) => false,
        Err(nix::Error::ENOENT) => true,
        Err(e) => return Err(err("stat", e)),
    };
    if create {
        husk_sys::openat(
            dev,
            "console",
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW,
            Mode::from_bits_truncate(0o600),
        )
        .map_err(|e| ChildError::setup("create the mountpoint of", Some("/dev/console"), e))?;
    }
    husk_sys::openat(
        dev,
        "console",
        OFlag::O_PATH | OFlag::O_NOFOLLOW,
        Mode::empty(),
    )
    .map_err(|e| ChildError::setup("open the mountpoint of", Some("/dev/console"), e))
}

fn symlink(dev: &OwnedFd, link: &str, target: &str, replace: bool) -> Result<(), ChildError> {
    let err = |e| ChildError::setup("symlink", Some(&format!("/dev/{link} -> {target}")), e);
    if replace {
        match nix::fcntl::readlinkat(Some(dev.as_raw_fd()), link) {
            Ok(t) if t == target => return Ok(()),
            Err(nix::Error::ENOENT) => {}
            // Anything else (a node, a file, another link) goes; a directory stays and fails.
            _ => match nix::unistd::unlinkat(
                Some(dev.as_raw_fd()),
                link,
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            ) {
                Ok(()) | Err(nix::Error::ENOENT) => {}
                Err(e) => return Err(err(e)),
            },
        }
    }
    match nix::unistd::symlinkat(target, Some(dev.as_raw_fd()), link) {
        Ok(()) | Err(nix::Error::EEXIST) => Ok(()),
        Err(e) => Err(err(e)),
    }
}

fn make_node(r: &Rootfs<'_>, root: &OwnedFd, n: &Node<'_>) -> Result<(), ChildError> {
    let target = format!("{} {}", n.field, n.path.display());
    let err = |step: &str, e: nix::Error| ChildError::setup(step, Some(&target), e);
    let rel = in_root(n.path);
    let (Some(parent), Some(name)) = (rel.parent(), rel.file_name()) else {
        return Err(ChildError::Config {
            field: format!("{}.path", n.field),
            detail: format!("{} is not a path below /", n.path.display()),
        });
    };
    let dir = ensure(root, parent, Kind::Dir)
        .map_err(|e| ChildError::setup("create the directory of", Some(&target), e))?;
    let dfd = Some(dir.as_raw_fd());
    // A mount of the config already there (Podman's rootless mode binds the host's /dev/null
    // and, with --privileged, every host device at its path): in a user namespace the host's
    // node is bound on top of it, as runc does.
    let mut mounted = false;
    match nix::sys::stat::fstatat(dfd, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) if n.is(&st) && !n.replace && !r.in_userns => {
            // The image already has this very device: give it the configured owner and mode.
            // Never following a symlink: a shared volume could swap the node for one between
            // the fstatat above and this call.
            nix::sys::stat::fchmodat(
                dfd,
                name,
                Mode::from_bits_truncate(n.mode & 0o7777),
                nix::sys::stat::FchmodatFlags::NoFollowSymlink,
            )
            .map_err(|e| err("chmod", e))?;
            return chown(dfd, name, n).map_err(|e| err("chown", e));
        }
        Ok(st) if !n.replace && !n.is(&st) => {
            return Err(ChildError::Config {
                field: n.field.clone(),
                detail: format!(
                    "{} exists in the rootfs as {}, not the requested {}: remove it from the \
                     image or change the device",
                    n.path.display(),
                    type_name(st.st_mode & libc::S_IFMT),
                    n.describe()
                ),
            });
        }
        Ok(_) => match nix::unistd::unlinkat(dfd, name, nix::unistd::UnlinkatFlags::NoRemoveDir) {
            // unlinkat never follows a symlink: a planted link is removed, not its target.
            Ok(()) | Err(nix::Error::ENOENT) => {}
            Err(nix::Error::EBUSY) if r.in_userns => mounted = true,
            Err(e) => return Err(err("remove the image's file at", e)),
        },
        Err(nix::Error::ENOENT) => {}
        Err(e) => return Err(err("stat", e)),
    }
    if r.in_userns {
        return bind_host_node(&dir, name, &rel, n, &target, mounted);
    }
    nix::sys::stat::mknodat(
        dfd,
        name,
        n.kind,
        Mode::from_bits_truncate(n.mode & 0o7777),
        n.rdev(),
    )
    .map_err(|e| err("mknod", e))?;
    chown(dfd, name, n).map_err(|e| err("chown", e))
}

fn chown(dfd: Option<std::os::fd::RawFd>, name: &std::ffi::OsStr, n: &Node<'_>) -> nix::Result<()> {
    nix::unistd::fchownat(
        dfd,
        name,
        Some(nix::unistd::Uid::from_raw(n.uid)),
        Some(nix::unistd::Gid::from_raw(n.gid)),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
}

/// In a user namespace mknod is EPERM: bind the host's node at the same path instead, after
/// checking (on the cloned mount itself, so nothing can change in between) that it is the
/// requested device. `mounted`: a mount is already at `name`, the bind goes on top of it.
fn bind_host_node(
    dir: &OwnedFd,
    name: &std::ffi::OsStr,
    rel: &Path,
    n: &Node<'_>,
    target: &str,
    mounted: bool,
) -> Result<(), ChildError> {
    let host = Path::new("/").join(rel);
    let mnt = sysmount::clone_tree(None, &host, false, true).map_err(|e| ChildError::Config {
        field: n.field.clone(),
        detail: format!(
            "cannot bind the host's {} into the container's user namespace (mknod is not \
                 allowed there): {e}",
            host.display()
        ),
    })?;
    let st = nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(&mnt))
        .map_err(|e| ChildError::setup("stat", Some(target), e))?;
    if !n.is(&st) {
        return Err(ChildError::Config {
            field: n.field.clone(),
            detail: format!(
                "the host's {} is {}, not the requested {}: it cannot stand in for the device \
                 in a user namespace",
                host.display(),
                type_name(st.st_mode & libc::S_IFMT),
                n.describe()
            ),
        });
    }
    let created = if mounted {
        Ok(())
    } else {
        husk_sys::openat(
            dir,
            name,
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW,
            Mode::from_bits_truncate(0o644),
        )
        .map(drop)
    };
    let spot = created
        .and_then(|()| {
            husk_sys::openat(dir, name, OFlag::O_PATH | OFlag::O_NOFOLLOW, Mode::empty())
        })
        .map_err(|e| ChildError::setup("create the mountpoint of", Some(target), e))?;
    sysmount::attach(&mnt, &spot).map_err(|e| ChildError::setup("bind", Some(target), e))
}
