//! `tmpcopyup` (runtime-spec config.md, a MAY option that runc, crun and Podman use): a new
//! tmpfs starts with a copy of the directory it covers, so a tmpfs over an image's /var/cache
//! or /etc keeps the image's files.
//!
//! The copy walks the covered directory through fds only (openat, fstatat and readlinkat with
//! no-follow), so a symlink in the image is copied as a symlink, never followed.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{fstatat, Mode, SFlag};

/// Directory levels followed at the most (deeper trees are an error, not a stack overflow).
const MAX_DEPTH: u32 = 128;

/// Copy the contents of the directory `from` (any fd of it, O_PATH included) into the
/// directory `to` (the new tmpfs's root): files, directories, symlinks, device nodes and fifos
/// with their owner and mode; sockets are skipped. The modes of `to` itself are not touched.
///
/// # Errors
/// The first failing call, with the name being copied.
pub fn copy_dir<F: AsFd, T: AsFd>(from: F, to: T) -> io::Result<()> {
    copy_level(from.as_fd(), to.as_fd(), 0)
}

fn with_name(e: impl Into<io::Error>, name: &OsStr) -> io::Error {
    let e: io::Error = e.into();
    io::Error::new(e.kind(), format!("{}: {e}", name.to_string_lossy()))
}

fn copy_level(
    from: std::os::fd::BorrowedFd<'_>,
    to: std::os::fd::BorrowedFd<'_>,
    depth: u32,
) -> io::Result<()> {
    if depth > MAX_DEPTH {
        return Err(io::Error::from_raw_os_error(libc::ELOOP));
    }
    // An O_PATH fd cannot be read as a directory: reopen it (".", never a symlink).
    let dirfd = husk_sys::openat(
        from,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY,
        Mode::empty(),
    )?;
    // Dir owns (and closes) a duplicate; `dir` stays for the *at calls below.
    let dup = nix::unistd::dup(dirfd.as_raw_fd()).map_err(io::Error::from)?;
    let mut listing = nix::dir::Dir::from_fd(dup).map_err(io::Error::from)?;
    let names: Vec<std::ffi::OsString> = listing
        .iter()
        .filter_map(Result::ok)
        .map(|e| {
            use std::os::unix::ffi::OsStrExt;
            OsStr::from_bytes(e.file_name().to_bytes()).to_os_string()
        })
        .filter(|n| n != "." && n != "..")
        .collect();
    drop(listing);
    let dir = dirfd;
    let src = dir.as_raw_fd();
    for name in names {
        let st = fstatat(Some(src), name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
            .map_err(|e| with_name(e, &name))?;
        let mode = Mode::from_bits_truncate(st.st_mode & 0o7777);
        let kind = st.st_mode & libc::S_IFMT;
        let dst = Some(to.as_raw_fd());
        match kind {
            libc::S_IFDIR => {
                nix::sys::stat::mkdirat(dst, name.as_os_str(), Mode::from_bits_truncate(0o700))
                    .map_err(|e| with_name(e, &name))?;
                let sub_from = husk_sys::openat(
                    dir.as_fd(),
                    &name,
                    OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW,
                    Mode::empty(),
                )
                .map_err(|e| with_name(e, &name))?;
                let sub_to: OwnedFd = husk_sys::openat(
                    to,
                    &name,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW,
                    Mode::empty(),
                )
                .map_err(|e| with_name(e, &name))?;
                copy_level(sub_from.as_fd(), sub_to.as_fd(), depth + 1)?;
            }
            libc::S_IFREG => {
                // Non-blocking and checked after the open: a file of a shared volume swapped for a
                // fifo or a device between fstatat and open must neither hang nor be read.
                let input = husk_sys::openat(
                    dir.as_fd(),
                    &name,
                    OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_NOCTTY,
                    Mode::empty(),
                )
                .map_err(|e| with_name(e, &name))?;
                let now =
                    nix::sys::stat::fstat(input.as_raw_fd()).map_err(|e| with_name(e, &name))?;
                if now.st_mode & libc::S_IFMT != libc::S_IFREG
                    || (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino)
                {
                    return Err(with_name(
                        io::Error::other("changed while being copied"),
                        &name,
                    ));
                }
                let mut input = std::fs::File::from(input);
                let mut output = std::fs::File::from(
                    husk_sys::openat(
                        to,
                        &name,
                        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW,
                        Mode::from_bits_truncate(0o600),
                    )
                    .map_err(|e| with_name(e, &name))?,
                );
                io::copy(&mut input, &mut output).map_err(|e| with_name(e, &name))?;
            }
            libc::S_IFLNK => {
                let target = nix::fcntl::readlinkat(Some(src), name.as_os_str())
                    .map_err(|e| with_name(e, &name))?;
                nix::unistd::symlinkat(target.as_os_str(), dst, name.as_os_str())
                    .map_err(|e| with_name(e, &name))?;
            }
            libc::S_IFCHR | libc::S_IFBLK | libc::S_IFIFO => {
                nix::sys::stat::mknodat(
                    dst,
                    name.as_os_str(),
                    SFlag::from_bits_truncate(kind),
                    mode,
                    st.st_rdev,
                )
                .map_err(|e| with_name(e, &name))?;
            }
            // Sockets belong to a process that is not in the container.
            _ => continue,
        }
        nix::unistd::fchownat(
            dst,
            name.as_os_str(),
            Some(nix::unistd::Uid::from_raw(st.st_uid)),
            Some(nix::unistd::Gid::from_raw(st.st_gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| with_name(e, &name))?;
        if kind != libc::S_IFLNK {
            // After chown, which clears setuid/setgid bits.
            nix::sys::stat::fchmodat(
                dst,
                name.as_os_str(),
                mode,
                nix::sys::stat::FchmodatFlags::FollowSymlink,
            )
            .map_err(|e| with_name(e, &name))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};

    #[test]
    fn copies_files_dirs_and_symlinks_without_following_them() {
        let from = tempfile::tempdir().unwrap();
        let to = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), "host").unwrap();
        fs::create_dir(from.path().join("d")).unwrap();
        fs::write(from.path().join("d/f"), "data").unwrap();
        fs::set_permissions(from.path().join("d/f"), fs::Permissions::from_mode(0o4750)).unwrap();
        symlink(outside.path().join("secret"), from.path().join("link")).unwrap();
        let f: OwnedFd = fs::File::open(from.path()).unwrap().into();
        let t: OwnedFd = fs::File::open(to.path()).unwrap().into();
        copy_dir(&f, &t).unwrap();
        assert_eq!(fs::read_to_string(to.path().join("d/f")).unwrap(), "data");
        let md = fs::metadata(to.path().join("d/f")).unwrap();
        assert_eq!(md.mode() & 0o7777, 0o4750);
        assert_eq!(
            fs::read_link(to.path().join("link")).unwrap(),
            outside.path().join("secret")
        );
    }

    #[test]
    fn a_fifo_is_recreated_not_read() {
        let from = tempfile::tempdir().unwrap();
        let to = tempfile::tempdir().unwrap();
        nix::unistd::mkfifo(&from.path().join("pipe"), Mode::from_bits_truncate(0o640)).unwrap();
        let f: OwnedFd = fs::File::open(from.path()).unwrap().into();
        let t: OwnedFd = fs::File::open(to.path()).unwrap().into();
        // Would block for ever if the fifo were opened and read.
        copy_dir(&f, &t).unwrap();
        let md = fs::symlink_metadata(to.path().join("pipe")).unwrap();
        use std::os::unix::fs::FileTypeExt;
        assert!(md.file_type().is_fifo());
        assert_eq!(md.mode() & 0o7777, 0o640);
    }
}
