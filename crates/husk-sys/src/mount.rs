//! The new mount API (`fsopen`, `fsconfig`, `fsmount`, `fspick`, `open_tree`, `move_mount`:
//! Linux 5.2; `mount_setattr`: Linux 5.12; `MOUNT_ATTR_NOSYMFOLLOW`: 5.14): every mount is made
//! as a detached mount fd and attached onto an fd of its target, so no path is looked up twice.
//!
//! The fd-taking calls come from `rustix`; `mount_setattr(2)`, which rustix lacks, is the one
//! raw system call here.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

pub use rustix::mount::MountAttrFlags;
use rustix::mount::{FsMountFlags, FsOpenFlags, FsPickFlags, MoveMountFlags, OpenTreeFlags};

/// A mount's propagation type (`man 7 mount_namespaces`, "Shared subtrees").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    /// MS_SHARED: mount events go both ways within the peer group.
    Shared,
    /// MS_SLAVE: events come in from the master, none go out.
    Slave,
    /// MS_PRIVATE: no events either way.
    Private,
    /// MS_UNBINDABLE: private, and cannot be the source of a bind.
    Unbindable,
}

impl Propagation {
    fn ms_flag(self) -> u64 {
        match self {
            Propagation::Shared => libc::MS_SHARED,
            Propagation::Slave => libc::MS_SLAVE,
            Propagation::Private => libc::MS_PRIVATE,
            Propagation::Unbindable => libc::MS_UNBINDABLE,
        }
    }
}

/// What one `mount_setattr(2)` call changes.
#[derive(Debug, Clone, Copy)]
pub struct MountAttr<'a> {
    /// Attributes to set (`MOUNT_ATTR_*`).
    pub set: MountAttrFlags,
    /// Attributes to clear. To change the access-time mode, clear `MOUNT_ATTR__ATIME` and set the
    /// new mode.
    pub clear: MountAttrFlags,
    /// A new propagation type, if any.
    pub propagation: Option<Propagation>,
    /// With `MOUNT_ATTR_IDMAP` in `set`: the user namespace whose id mappings the mount gets.
    pub userns: Option<BorrowedFd<'a>>,
}

impl Default for MountAttr<'_> {
    fn default() -> Self {
        MountAttr {
            set: MountAttrFlags::empty(),
            clear: MountAttrFlags::empty(),
            propagation: None,
            userns: None,
        }
    }
}

/// `struct mount_attr` of `<linux/mount.h>` (MOUNT_ATTR_SIZE_VER0, 32 bytes).
#[repr(C)]
struct RawMountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// `mount_setattr(fd, "", AT_EMPTY_PATH [| AT_RECURSIVE], attr)` (`man 2 mount_setattr`, Linux
/// 5.12): change the attributes of the mount `fd` refers to (an `open_tree`/`fsmount` fd or an
/// O_PATH fd of a mount's root), and with `recursive` of every mount below it too.
///
/// # Errors
/// The errno of mount_setattr(2): EPERM for a flag locked by a less privileged user namespace,
/// EINVAL for an attribute the kernel does not know (NOSYMFOLLOW before 5.14) or an idmapping of
/// a filesystem that does not support it, ENOSYS before 5.12.
pub fn mount_setattr<F: AsFd>(fd: F, recursive: bool, attr: &MountAttr<'_>) -> io::Result<()> {
    let raw = RawMountAttr {
        attr_set: u64::from(attr.set.bits()),
        attr_clr: u64::from(attr.clear.bits()),
        propagation: attr.propagation.map(Propagation::ms_flag).unwrap_or(0),
        userns_fd: attr.userns.map(|f| f.as_raw_fd() as u64).unwrap_or(0),
    };
    let mut flags = libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: `raw` is a live, correctly laid out struct mount_attr whose size is passed with
    // it; the path is a NUL-terminated empty string; the kernel only reads both during the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_fd().as_raw_fd(),
            c"".as_ptr(),
            flags,
            &raw as *const RawMountAttr,
            std::mem::size_of::<RawMountAttr>(),
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether this kernel has `mount_setattr(2)` (Linux 5.12), and with it `MOUNT_ATTR_IDMAP`,
/// the attribute that makes an id-mapped mount (`man 2 mount_setattr`, "Creating an ID-mapped
/// mount"). Whether a given filesystem can be id-mapped is only known when its mount is.
///
/// The call is made with flags no kernel accepts, which it refuses with EINVAL before looking
/// at anything else (privileges included), so the probe changes nothing and works for any
/// user; where the call does not exist the answer is ENOSYS. Any other answer (EPERM from a
/// seccomp filter around the runtime) counts as absent: the runtime could not use it either.
pub fn has_mount_setattr() -> bool {
    let raw = RawMountAttr {
        attr_set: 0,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: the path is a NUL-terminated empty string and `raw` a live, correctly laid out
    // struct mount_attr whose size is passed with it; the kernel only reads them during the
    // call (and, given the invalid flags, reads neither); fd -1 refers to no file.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            -1,
            c"".as_ptr(),
            libc::c_uint::MAX,
            &raw as *const RawMountAttr,
            std::mem::size_of::<RawMountAttr>(),
        )
    };
    ret < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL)
}

/// A filesystem context (`man 2 fsopen`): the superblock being configured, before `fsmount`
/// turns it into a detached mount. Errors of `fsconfig` come with the kernel's own message,
/// which [`FsContext::messages`] reads.
#[derive(Debug)]
pub struct FsContext(OwnedFd);

impl FsContext {
    /// `fsopen(fstype, FSOPEN_CLOEXEC)`: a context for a new superblock of `fstype` ("tmpfs",
    /// "proc", "cgroup2"...).
    ///
    /// # Errors
    /// ENODEV for a filesystem type the kernel does not know.
    pub fn new(fstype: &str) -> io::Result<FsContext> {
        Ok(FsContext(rustix::mount::fsopen(
            fstype,
            FsOpenFlags::FSOPEN_CLOEXEC,
        )?))
    }

    /// `fspick(mnt, "", FSPICK_EMPTY_PATH | FSPICK_CLOEXEC)`: a context for the superblock of
    /// the mount `mnt`, to change its parameters with [`FsContext::reconfigure`].
    ///
    /// # Errors
    /// The errno of fspick(2).
    pub fn pick<F: AsFd>(mnt: F) -> io::Result<FsContext> {
        Ok(FsContext(rustix::mount::fspick(
            mnt,
            "",
            FsPickFlags::FSPICK_EMPTY_PATH | FsPickFlags::FSPICK_CLOEXEC,
        )?))
    }

    /// `fsconfig(FSCONFIG_SET_FLAG, key)`: a parameter without a value ("ro", "newinstance").
    ///
    /// # Errors
    /// EINVAL when the filesystem rejects it ([`FsContext::messages`] says why).
    pub fn set_flag(&self, key: &str) -> io::Result<()> {
        Ok(rustix::mount::fsconfig_set_flag(&self.0, key)?)
    }

    /// `fsconfig(FSCONFIG_SET_STRING, key, value)`: "mode" = "1777", "source" = "tmpfs".
    ///
    /// # Errors
    /// EINVAL when the filesystem rejects it ([`FsContext::messages`] says why).
    pub fn set_string(&self, key: &str, value: &str) -> io::Result<()> {
        Ok(rustix::mount::fsconfig_set_string(&self.0, key, value)?)
    }

    /// `fsconfig(FSCONFIG_CMD_CREATE)`: create (or find) the superblock.
    ///
    /// # Errors
    /// The filesystem's error ([`FsContext::messages`] says why).
    pub fn create(&self) -> io::Result<()> {
        Ok(rustix::mount::fsconfig_create(&self.0)?)
    }

    /// `fsconfig(FSCONFIG_CMD_RECONFIGURE)`: apply the parameters set since [`FsContext::pick`].
    ///
    /// # Errors
    /// The filesystem's error ([`FsContext::messages`] says why).
    pub fn reconfigure(&self) -> io::Result<()> {
        Ok(rustix::mount::fsconfig_reconfigure(&self.0)?)
    }

    /// `fsmount(ctx, FSMOUNT_CLOEXEC, attrs)`: a detached mount of the created superblock with
    /// the per-mount attributes `attrs`.
    ///
    /// # Errors
    /// The errno of fsmount(2).
    pub fn mount(&self, attrs: MountAttrFlags) -> io::Result<OwnedFd> {
        Ok(rustix::mount::fsmount(
            &self.0,
            FsMountFlags::FSMOUNT_CLOEXEC,
            attrs,
        )?)
    }

    /// The messages the kernel logged on this context ("e tmpfs: Bad value for 'mode'"), joined
    /// with "; ", without their one-letter level prefix; empty when there are none.
    pub fn messages(&self) -> String {
        let mut out = Vec::new();
        let mut buf = [0u8; 1024];
        // Each read(2) returns one message; ENODATA when the log is empty.
        while let Ok(n) = rustix::io::read(&self.0, &mut buf) {
            if n == 0 {
                break;
            }
            let msg = String::from_utf8_lossy(&buf[..n]);
            let msg = msg.trim_end();
            out.push(msg.get(2..).unwrap_or(msg).to_string());
        }
        out.join("; ")
    }
}

/// `open_tree(dir, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC [| AT_RECURSIVE])` (Linux 5.2): a
/// detached copy of the mount at `path` (relative to `dir`, the current directory when
/// `dir` is `None`, or `dir` itself when `path` is empty), with the mounts below it when `recursive` (a bind and an rbind). Symlinks in `path`
/// are followed unless `nofollow`.
///
/// # Errors
/// The errno of open_tree(2) (ENOENT, EINVAL for an unbindable mount).
pub fn clone_tree(
    dir: Option<BorrowedFd<'_>>,
    path: &std::path::Path,
    recursive: bool,
    nofollow: bool,
) -> io::Result<OwnedFd> {
    let mut flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
    if recursive {
        flags |= OpenTreeFlags::AT_RECURSIVE;
    }
    if nofollow {
        flags |= OpenTreeFlags::AT_SYMLINK_NOFOLLOW;
    }
    if path.as_os_str().is_empty() {
        flags |= OpenTreeFlags::AT_EMPTY_PATH;
    }
    let dir = dir.unwrap_or(rustix::fs::CWD);
    Ok(rustix::mount::open_tree(dir, path, flags)?)
}

/// `open_tree(dir, path, OPEN_TREE_CLOEXEC)` without cloning: an O_PATH-like fd of the mount
/// (tree) at `path` (relative to `dir`, or the current directory) as it is attached now, for [`mount_setattr`] or [`FsContext::pick`].
///
/// # Errors
/// The errno of open_tree(2).
pub fn open_mount(dir: Option<BorrowedFd<'_>>, path: &std::path::Path) -> io::Result<OwnedFd> {
    let mut flags = OpenTreeFlags::OPEN_TREE_CLOEXEC;
    if path.as_os_str().is_empty() {
        flags |= OpenTreeFlags::AT_EMPTY_PATH;
    }
    let dir = dir.unwrap_or(rustix::fs::CWD);
    Ok(rustix::mount::open_tree(dir, path, flags)?)
}

/// `move_mount(mnt, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)`: attach
/// the detached mount `mnt` on the file or directory `target` (an O_PATH fd), which is never
/// looked up again by name.
///
/// # Errors
/// The errno of move_mount(2) (ENOTDIR/EISDIR when a file meets a directory).
pub fn attach<M: AsFd, T: AsFd>(mnt: M, target: T) -> io::Result<()> {
    Ok(rustix::mount::move_mount(
        mnt,
        "",
        target,
        "",
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_mount_attr_is_the_kernels_ver0_size() {
        // MOUNT_ATTR_SIZE_VER0 in <linux/mount.h>.
        assert_eq!(std::mem::size_of::<RawMountAttr>(), 32);
    }

    #[test]
    fn this_kernel_has_mount_setattr() {
        // The README requires Linux 5.12; every kernel this project is tested on has it.
        assert!(has_mount_setattr());
    }

    #[test]
    fn fs_context_reports_the_kernels_message() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("NOT CHECKED: fsopen needs CAP_SYS_ADMIN (run as root)");
            return;
        }
        let ctx = FsContext::new("tmpfs").unwrap();
        let e = ctx.set_string("mode", "not-octal").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
        assert!(ctx.messages().contains("mode"), "{}", ctx.messages());
    }
}
