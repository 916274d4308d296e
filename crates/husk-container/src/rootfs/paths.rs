//! `linux.maskedPaths` and `linux.readonlyPaths`, resolved inside the rootfs (symlinks of the
//! image followed inside it, as runc follows them after pivot_root) and mounted through fds.
//! Paths that do not exist are skipped (runtime-spec config-linux.md).

use std::os::fd::OwnedFd;
use std::path::Path;

use husk_sys::mount::{self as sysmount, FsContext, MountAttr, MountAttrFlags};
use nix::fcntl::OFlag;

use super::resolve::in_root;
use crate::process::ChildError;

/// The fd of `p` inside the root, or `None` when it does not exist.
fn open(root: &OwnedFd, field: &str, p: &str) -> Result<Option<OwnedFd>, ChildError> {
    match husk_sys::open_in_root(root, in_root(Path::new(p)), OFlag::O_PATH) {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR)) => Ok(None),
        Err(e) => Err(ChildError::setup("open", Some(&format!("{field} {p}")), e)),
    }
}

/// Mask `p`: a directory gets an empty read-only tmpfs, anything else a bind of the container's
/// /dev/null, used only after checking the cloned mount is the character device 1:3 (a
/// /dev/null replaced by a file would otherwise expose that file's content). Not the host's:
/// its devtmpfs would show in the container's mountinfo with the host's memory size.
///
/// # Errors
/// The failing step, naming `linux.maskedPaths[i]` and the path.
pub fn mask(root: &OwnedFd, i: usize, p: &str) -> Result<(), ChildError> {
    let field = format!("linux.maskedPaths[{i}]");
    let target = format!("{field} {p}");
    let Some(fd) = open(root, &field, p)? else {
        return Ok(());
    };
    let st = nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(&fd))
        .map_err(|e| ChildError::setup("stat", Some(&target), e))?;
    let mnt = if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        let ctx = FsContext::new("tmpfs")
            .map_err(|e| ChildError::setup("fsopen tmpfs for", Some(&target), e))?;
        ctx.set_string("source", "tmpfs")
            .and_then(|()| ctx.set_flag("ro"))
            .and_then(|()| ctx.create())
            .map_err(|e| ChildError::setup("create the masking tmpfs for", Some(&target), e))?;
        ctx.mount(MountAttrFlags::MOUNT_ATTR_RDONLY)
            .map_err(|e| ChildError::setup("fsmount the masking tmpfs for", Some(&target), e))?
    } else {
        // The container's own /dev/null (made by devices::create, or the one of a /dev bind),
        // never followed through a symlink, and checked below on the clone itself.
        let null = husk_sys::open_in_root(root, "dev/null", OFlag::O_PATH | OFlag::O_NOFOLLOW)
            .and_then(|fd| {
                sysmount::clone_tree(
                    Some(std::os::fd::AsFd::as_fd(&fd)),
                    Path::new(""),
                    false,
                    true,
                )
            })
            .map_err(|e| {
                ChildError::setup("clone the container's /dev/null for", Some(&target), e)
            })?;
        let nst = nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(&null))
            .map_err(|e| ChildError::setup("stat /dev/null for", Some(&target), e))?;
        if nst.st_mode & libc::S_IFMT != libc::S_IFCHR
            || nst.st_rdev != nix::sys::stat::makedev(1, 3)
        {
            return Err(ChildError::Config {
                field,
                detail: "the container's /dev/null is not the character device 1:3: refusing to \
                         mask with it (check the /dev mount or linux.devices)"
                    .into(),
            });
        }
        null
    };
    sysmount::attach(&mnt, &fd).map_err(|e| ChildError::setup("mask", Some(&target), e))
}

/// Make `p` read-only: a recursive bind of itself with every mount below it read-only too.
///
/// # Errors
/// The failing step, naming `linux.readonlyPaths[i]` and the path.
pub fn readonly(root: &OwnedFd, i: usize, p: &str) -> Result<(), ChildError> {
    let field = format!("linux.readonlyPaths[{i}]");
    let target = format!("{field} {p}");
    let Some(fd) = open(root, &field, p)? else {
        return Ok(());
    };
    let mnt = sysmount::clone_tree(
        Some(std::os::fd::AsFd::as_fd(&fd)),
        Path::new(""),
        true,
        true,
    )
    .map_err(|e| ChildError::setup("bind", Some(&target), e))?;
    let ro = MountAttr {
        set: MountAttrFlags::MOUNT_ATTR_RDONLY,
        ..MountAttr::default()
    };
    sysmount::mount_setattr(&mnt, true, &ro)
        .map_err(|e| ChildError::setup("make read-only (mount_setattr)", Some(&target), e))?;
    sysmount::attach(&mnt, &fd).map_err(|e| ChildError::setup("attach", Some(&target), e))
}
