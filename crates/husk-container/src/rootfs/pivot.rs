//! The root switch: pivot_root(2) into the rootfs and detach the old root, or with
//! `--no-pivot` MS_MOVE + chroot(2) for roots pivot_root cannot leave (a ramfs initramfs).

use std::fs;
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::unistd::{chdir, chroot, fchdir, pivot_root};

use super::Rootfs;
use crate::process::ChildError;

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
    // Bytes, not a String: a mount point need not be UTF-8.
    let Ok(info) = fs::read("/proc/self/mountinfo") else {
        return;
    };
    let mut points: Vec<PathBuf> = info
        .split(|b| *b == b'\n')
        .filter_map(|l| l.split(|b| *b == b' ').nth(4))
        .map(|p| PathBuf::from(unescape_mountinfo(p)))
        .filter(|p| !p.starts_with(rootfs) && !rootfs.starts_with(p))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for p in points {
        let _ = umount2(&p, MntFlags::MNT_DETACH);
    }
}

/// A mount point as /proc/PID/mountinfo writes it, unescaped: the kernel writes space, tab,
/// newline and backslash as `\040`, `\011`, `\012`, `\134` (`man 5 proc`, show_mountinfo's
/// mangle). Bytes, as a path may not be UTF-8.
fn unescape_mountinfo(b: &[u8]) -> std::ffi::OsString {
    use std::os::unix::ffi::OsStringExt;
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = i + 3 < b.len()
            && b[i] == b'\\'
            && (b'0'..=b'3').contains(&b[i + 1])
            && b[i + 2..i + 4].iter().all(|c| (b'0'..=b'7').contains(c));
        if octal {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    std::ffi::OsString::from_vec(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(
            unescape_mountinfo(b"/a\\040b\\011c\\012d\\134e"),
            std::ffi::OsString::from("/a b\tc\nd\\e")
        );
        assert_eq!(
            unescape_mountinfo(b"/plain\\"),
            std::ffi::OsString::from("/plain\\")
        );
        assert_eq!(
            unescape_mountinfo(b"/x\\999"),
            std::ffi::OsString::from("/x\\999")
        );
    }
}
