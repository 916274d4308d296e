//! Paths of the container resolved inside its rootfs: openat2(RESOLVE_IN_ROOT), creating missing
//! mountpoints with the type of their source, following dangling symlinks inside the root.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

/// A path of the container as a relative path below its root (`/a/../b` stays inside; a
/// relative destination is relative to `/`).
pub fn in_root(p: &Path) -> PathBuf {
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
pub enum Kind {
    /// A directory (0755).
    Dir,
    /// An empty regular file (0644), for a file bind.
    File,
}

/// Symlinks followed while creating one path at the most (the kernel's MAXSYMLINKS).
const MAX_SYMLINKS: u32 = 40;

/// Open `path` inside the root `root` (O_PATH), creating it (and its missing parents as
/// directories) as `kind` when it does not exist. Never leaves the root: absolute symlinks
/// are relative to it, `..` stops at it, and a dangling symlink's target is created inside it.
///
/// # Errors
/// The errno of the failing openat2/mkdirat/openat (ENOTDIR, ELOOP, EROFS...).
pub fn ensure<F: AsFd>(root: F, path: &Path, kind: Kind) -> std::io::Result<OwnedFd> {
    ensure_depth(root.as_fd(), path, kind, 0)
}

fn ensure_depth(
    root: std::os::fd::BorrowedFd<'_>,
    path: &Path,
    kind: Kind,
    depth: u32,
) -> std::io::Result<OwnedFd> {
    if depth > MAX_SYMLINKS {
        return Err(std::io::Error::from_raw_os_error(libc::ELOOP));
    }
    let rel = in_root(path);
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

/// Where `fd` (inside the rootfs `rootfs`) is as the container will see it: `/proc/cpuinfo`
/// for `<rootfs>/proc/cpuinfo`, with every symlink of the configured path already resolved.
/// `None` when the kernel's name for it is not below the rootfs (cannot happen for an fd from
/// [`ensure`]).
pub fn container_path(rootfs: &Path, fd: &OwnedFd) -> Option<PathBuf> {
    let host = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()?;
    let rel = host.strip_prefix(rootfs).ok()?;
    Some(Path::new("/").join(rel))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

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

    #[test]
    fn container_path_resolves_symlinks_of_the_image() {
        let t = tempfile::tempdir().unwrap();
        let rootfs = t.path().canonicalize().unwrap();
        fs::create_dir_all(rootfs.join("proc")).unwrap();
        std::os::unix::fs::symlink("/proc", rootfs.join("p")).unwrap();
        let root: OwnedFd = fs::File::open(&rootfs).unwrap().into();
        let fd = ensure(&root, Path::new("/p/cpuinfo"), Kind::File).unwrap();
        assert_eq!(
            container_path(&rootfs, &fd),
            Some(PathBuf::from("/proc/cpuinfo"))
        );
    }
}
