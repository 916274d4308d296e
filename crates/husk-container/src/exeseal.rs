//! A read-only `/proc/self/exe` for every process of the runtime that enters a container
//! (the CVE-2019-5736 class).
//!
//! The container's init is forked from the runtime and runs the runtime's binary until it
//! execs the container's program. Until then its `/proc/PID/exe` is the host's binary: a
//! process of the container that can open it (a shared pid namespace, `process.args` of
//! `/proc/self/exe`, a later `exec`) holds a handle to a host file, and once no process runs
//! it any more (ETXTBSY ends), reopening that handle for writing through `/proc/self/fd/N`
//! rewrites the runtime for the host.
//!
//! So before it makes a container, the runtime re-executes itself from a sealed copy:
//! - **overlayfs** (runc 1.2's choice, no copy): a detached overlay mount made with
//!   fsopen(2)/fsmount(2), never attached anywhere, whose only layers are the binary's directory
//!   and an empty directory. An overlay with no upper layer is read-only at the superblock:
//!   opening any of its files for writing fails with EROFS, a remount cannot make it writable,
//!   and the lower file behind it cannot be reached through it. Needs CAP_SYS_ADMIN (root).
//! - **memfd** when overlayfs cannot be used: the binary copied into a memfd sealed against
//!   writes, growth and shrinking (`man 2 memfd_create`, `man 2 fcntl` "File Sealing"). Costs a
//!   copy of the binary on every start.
//!
//! After the re-exec, [`is_sealed`] holds for `/proc/self/exe` and [`ensure_sealed`] returns.
//! The cost on the start path is one execve(2) of the runtime and one overlay mount (about
//! 2 ms on this project's machines; see the README's benchmarks).
//!
//! Sources: `man 2 fsopen`, `man 2 fsmount`, `man 2 execveat`, `man 2 memfd_create`,
//! Documentation/filesystems/overlayfs.rst ("multiple lower layers" without an upper layer:
//! a read-only overlay), runc `libcontainer/exeseal`.

use std::ffi::{CString, OsString};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{AtFlags, OFlag, SealFlag};
use nix::sys::stat::Mode;

/// The empty directory under the overlay's binary layer (see [`ensure_sealed`]).
pub const EMPTY_LAYER: &str = "/run/husk-exe-seal";

/// Why the runtime could not re-execute itself from a sealed copy.
#[derive(Debug, thiserror::Error)]
pub enum ExeSealError {
    /// `/proc/self/exe` could not be opened or read.
    #[error("reading the runtime's own binary through /proc/self/exe failed: {0}")]
    SelfExe(#[source] std::io::Error),
    /// Neither the overlay nor the memfd copy could be made.
    #[error(
        "making a read-only copy of the runtime binary {binary} failed (overlayfs: {overlay}; \
         memfd: {memfd}); without it a container could rewrite the binary (CVE-2019-5736), so \
         nothing was created"
    )]
    Seal {
        /// The binary.
        binary: PathBuf,
        /// Why the overlay failed.
        overlay: String,
        /// Why the memfd copy failed.
        memfd: String,
    },
    /// The sealed copy was made but execveat(2) refused it.
    #[error("re-executing the runtime from its read-only copy (execveat) failed: {0}")]
    Exec(#[source] nix::Error),
}

/// Whether the file `f` cannot be written through any handle that reaches it: a file of a
/// read-only overlayfs that is attached nowhere in this mount namespace (the overlay
/// [`ensure_sealed`] makes: no upper layer, so no remount can make it writable, and no one
/// else can reach the mount), or a memfd sealed with F_SEAL_WRITE.
///
/// A binary on an ordinary read-only mount is not sealed: the host may remount that mount
/// read-write later, and a handle the container kept would then write the binary.
///
/// # Errors
/// The errno of fstatfs(2), fstatvfs(3), or reading /proc/thread-self/fdinfo and mountinfo.
pub fn is_sealed<F: AsFd>(f: F) -> nix::Result<bool> {
    let fs = nix::sys::statfs::fstatfs(&f)?;
    if fs.filesystem_type() == nix::sys::statfs::OVERLAYFS_SUPER_MAGIC {
        let vfs = nix::sys::statvfs::fstatvfs(&f)?;
        if !vfs.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY) {
            return Ok(false);
        }
        let errno =
            |e: std::io::Error| nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
        // The mount the fd was opened through, as /proc/thread-self/fdinfo says (statx's
        // STATX_MNT_ID of an overlay file can name the layer's internal mount instead).
        let fdinfo = format!("/proc/thread-self/fdinfo/{}", f.as_fd().as_raw_fd());
        let fdinfo = std::fs::read_to_string(fdinfo).map_err(errno)?;
        let id = fdinfo
            .lines()
            .find_map(|l| l.strip_prefix("mnt_id:"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .ok_or(nix::errno::Errno::EINVAL)?;
        let mountinfo = std::fs::read_to_string("/proc/thread-self/mountinfo").map_err(errno)?;
        let attached = mountinfo
            .lines()
            .any(|l| l.split(' ').next().and_then(|n| n.parse::<u64>().ok()) == Some(id));
        return Ok(!attached);
    }
    // F_GET_SEALS fails with EINVAL on anything but a memfd (or other shmem file).
    match nix::fcntl::fcntl(f.as_fd().as_raw_fd(), nix::fcntl::FcntlArg::F_GET_SEALS) {
        Ok(seals) => Ok(SealFlag::from_bits_truncate(seals).contains(SealFlag::F_SEAL_WRITE)),
        Err(nix::errno::Errno::EINVAL) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Returns when this process already runs from a sealed copy of its binary (see the module
/// docs); otherwise makes one and re-executes itself from it with the same arguments and
/// environment (fds without close-on-exec stay open), so it does not return.
///
/// The overlay's second layer (overlayfs needs two layers to run without an upper one) is
/// [`EMPTY_LAYER`], created (0700) when missing.
///
/// # Errors
/// [`ExeSealError`] when the binary cannot be read, no sealed copy can be made, or the
/// re-exec fails; the caller must then not create a container.
pub fn ensure_sealed() -> Result<(), ExeSealError> {
    let exe = File::open("/proc/self/exe").map_err(ExeSealError::SelfExe)?;
    if is_sealed(&exe).map_err(|e| ExeSealError::SelfExe(e.into()))? {
        return Ok(());
    }
    let binary = std::fs::read_link("/proc/self/exe").map_err(ExeSealError::SelfExe)?;
    let sealed = match overlay_copy(&binary, Path::new(EMPTY_LAYER)) {
        Ok(fd) => fd,
        Err(overlay) => {
            tracing::debug!("sealing the runtime binary with overlayfs failed: {overlay}");
            memfd_copy(&exe).map_err(|memfd| ExeSealError::Seal {
                binary: binary.clone(),
                overlay,
                memfd,
            })?
        }
    };
    drop(exe);
    let args = c_strings(std::env::args_os());
    let env = c_strings(
        std::env::vars_os().map(|(k, v)| [k, OsString::from("="), v].into_iter().collect()),
    );
    match nix::unistd::execveat(
        Some(sealed.as_raw_fd()),
        c"",
        &args,
        &env,
        AtFlags::AT_EMPTY_PATH,
    ) {
        Ok(never) => match never {},
        Err(e) => Err(ExeSealError::Exec(e)),
    }
}

/// Arguments or `KEY=VALUE` pairs as C strings (an interior NUL cannot come from the kernel's
/// argv/environ, so none is dropped in practice).
fn c_strings(items: impl Iterator<Item = OsString>) -> Vec<CString> {
    items
        .filter_map(|s| CString::new(s.as_bytes()).ok())
        .collect()
}

/// An O_PATH fd of `binary` seen through a detached, read-only overlay of its directory.
fn overlay_copy(binary: &Path, empty_dir: &Path) -> Result<OwnedFd, String> {
    let (Some(dir), Some(name)) = (binary.parent(), binary.file_name()) else {
        return Err(format!("{} has no directory", binary.display()));
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(empty_dir)
        .map_err(|e| format!("mkdir {}: {e}", empty_dir.display()))?;
    let ctx = husk_sys::mount::FsContext::new("overlay").map_err(|e| format!("fsopen: {e}"))?;
    // The binary's directory on top, so a file of the same name in the other layer cannot
    // shadow it. ':' and '\' in a layer path are escaped with '\' (overlayfs.rst).
    let escape = |p: &Path| {
        p.to_string_lossy()
            .replace('\\', "\\\\")
            .replace(':', "\\:")
    };
    let lower = format!("{}:{}", escape(dir), escape(empty_dir));
    ctx.set_string("lowerdir", &lower)
        .map_err(|e| format!("lowerdir={lower}: {e} {}", ctx.messages()))?;
    // Inode numbers do not matter here; without this the kernel may log about xino when the
    // layers are on different filesystems.
    let _ = ctx.set_string("xino", "off");
    ctx.create()
        .map_err(|e| format!("creating the overlay: {e} {}", ctx.messages()))?;
    let mnt = ctx
        .mount(
            husk_sys::mount::MountAttrFlags::MOUNT_ATTR_RDONLY
                | husk_sys::mount::MountAttrFlags::MOUNT_ATTR_NODEV
                | husk_sys::mount::MountAttrFlags::MOUNT_ATTR_NOSUID,
        )
        .map_err(|e| format!("fsmount: {e}"))?;
    let fd = husk_sys::openat(&mnt, name, OFlag::O_PATH | OFlag::O_NOFOLLOW, Mode::empty())
        .map_err(|e| format!("opening {} in the overlay: {e}", name.to_string_lossy()))?;
    match is_sealed(&fd) {
        Ok(true) => Ok(fd),
        Ok(false) => Err("the overlay is not read-only".into()),
        Err(e) => Err(format!("fstatfs: {e}")),
    }
}

/// A memfd holding a copy of `exe`, sealed against writing, growing and shrinking.
fn memfd_copy(exe: &File) -> Result<OwnedFd, String> {
    use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
    let base = MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING;
    // MFD_EXEC (Linux 6.3) keeps the copy executable where vm.memfd_noexec would default to
    // no-exec; older kernels refuse the flag with EINVAL.
    let fd = memfd_create(
        c"husk-runtime",
        base | MemFdCreateFlag::from_bits_retain(libc::MFD_EXEC),
    )
    .or_else(|_| memfd_create(c"husk-runtime", base))
    .map_err(|e| format!("memfd_create: {e}"))?;
    let mut dst = File::from(fd);
    // Plain reads and writes, not std::io::copy: that splices (copy_file_range falls back to
    // splice between filesystems), and pages a pipe still references make F_SEAL_WRITE fail
    // with EBUSY (`man 2 fcntl`), which happened under load.
    let mut src = exe;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("reading the binary: {e}")),
        };
        dst.write_all(&buf[..n])
            .map_err(|e| format!("writing the copy: {e}"))?;
    }
    let seals = SealFlag::F_SEAL_SEAL
        | SealFlag::F_SEAL_SHRINK
        | SealFlag::F_SEAL_GROW
        | SealFlag::F_SEAL_WRITE;
    nix::fcntl::fcntl(dst.as_raw_fd(), nix::fcntl::FcntlArg::F_ADD_SEALS(seals))
        .map_err(|e| format!("F_ADD_SEALS: {e}"))?;
    Ok(OwnedFd::from(dst))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_file_is_not_sealed() {
        let f = tempfile::tempfile().unwrap();
        assert!(!is_sealed(&f).unwrap());
    }

    #[test]
    fn the_memfd_copy_is_sealed_and_refuses_writes() {
        let exe = File::open("/proc/self/exe").unwrap();
        let fd = memfd_copy(&exe).unwrap();
        assert!(is_sealed(&fd).unwrap());
        assert_eq!(
            nix::unistd::write(&fd, b"x").unwrap_err(),
            nix::errno::Errno::EPERM
        );
        let len = |f: &dyn AsFd| {
            nix::sys::stat::fstat(f.as_fd().as_raw_fd())
                .unwrap()
                .st_size
        };
        assert_eq!(len(&fd), len(&exe));
    }

    #[test]
    fn an_attached_read_only_overlay_or_mount_is_not_sealed() {
        const NAME: &str = "exeseal::tests::an_attached_read_only_overlay_or_mount_is_not_sealed";
        if crate::capabilities::test_child::is_child(NAME) {
            // A private mount namespace of this child: nothing reaches the host's.
            use nix::mount::{mount, MsFlags};
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).unwrap();
            mount(
                None::<&str>,
                "/",
                None::<&str>,
                MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                None::<&str>,
            )
            .unwrap();
            let d = tempfile::tempdir().unwrap();
            let (a, b, over) = (d.path().join("a"), d.path().join("b"), d.path().join("o"));
            for p in [&a, &b, &over] {
                std::fs::create_dir(p).unwrap();
            }
            std::fs::write(a.join("bin"), "x").unwrap();
            let opts = format!("lowerdir={}:{}", a.display(), b.display());
            mount(
                Some("overlay"),
                &over,
                Some("overlay"),
                MsFlags::MS_RDONLY,
                Some(opts.as_str()),
            )
            .unwrap();
            let on_overlay = File::open(over.join("bin")).unwrap();
            let ro = d.path().join("ro");
            std::fs::create_dir(&ro).unwrap();
            mount(Some(&a), &ro, None::<&str>, MsFlags::MS_BIND, None::<&str>).unwrap();
            mount(
                None::<&str>,
                &ro,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
                None::<&str>,
            )
            .unwrap();
            let on_ro_bind = File::open(ro.join("bin")).unwrap();
            println!(
                "\nattached overlay sealed={} read-only bind sealed={}",
                is_sealed(&on_overlay).unwrap(),
                is_sealed(&on_ro_bind).unwrap()
            );
            return;
        }
        if !crate::capabilities::test_child::is_root(NAME) {
            return;
        }
        let out = crate::capabilities::test_child::run(NAME);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout
                .lines()
                .any(|l| l == "attached overlay sealed=false read-only bind sealed=false"),
            "{stdout}"
        );
    }

    #[test]
    fn the_overlay_copy_cannot_be_opened_for_writing() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("needs root (fsopen of overlayfs needs CAP_SYS_ADMIN); not run");
            return;
        }
        let empty = tempfile::tempdir().unwrap();
        let binary = std::env::current_exe().unwrap();
        let fd = overlay_copy(&binary, empty.path()).unwrap();
        assert!(is_sealed(&fd).unwrap());
        let reopened = std::fs::OpenOptions::new()
            .append(true)
            .open(format!("/proc/self/fd/{}", fd.as_raw_fd()));
        assert_eq!(
            reopened.unwrap_err().raw_os_error(),
            Some(libc::EROFS),
            "the binary seen through the overlay is writable"
        );
    }
}
