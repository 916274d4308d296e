//! husk-sys: the one crate of husk allowed to use `unsafe`. Each function is a thin wrapper over
//! one system call that `nix` does not offer safely (or at all), named after its man page, taking
//! and returning owned, typed values. Every `unsafe` block states the invariant that makes it
//! sound. Everything else in husk calls `nix` directly.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use nix::unistd::Pid;

pub mod bpf;
pub mod mount;
pub mod seccomp;
pub mod spawn;
pub mod task;

/// What a process-creating call returned, in the process that sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forked {
    /// In the parent (or, for [`clone_parent`], the caller): the new process's pid.
    Parent(Pid),
    /// In the new process.
    Child,
}

/// `fork(2)`.
///
/// Callers must be single-threaded: after a fork of a multi-threaded process only
/// async-signal-safe functions may be used in the child. husk's runtime never starts threads
/// before it forks.
///
/// # Errors
/// The errno of fork(2) (EAGAIN at a pids limit, ENOMEM).
pub fn fork() -> io::Result<Forked> {
    // SAFETY: husk forks only from single-threaded processes (documented above), so the child
    // may keep using the allocator and std; nix's fork has no other precondition.
    match unsafe { nix::unistd::fork() }.map_err(io::Error::from)? {
        nix::unistd::ForkResult::Parent { child } => Ok(Forked::Parent(child)),
        nix::unistd::ForkResult::Child => Ok(Forked::Child),
    }
}

/// `clone(2)` with `CLONE_PARENT | SIGCHLD` and no new stack: like fork(2), but the new process
/// is a child of the *caller's parent*. The intermediate process uses it so that the container's
/// init (which must be forked after unshare of a pid or time namespace) is the runtime's own
/// child, which `run` can wait for.
///
/// Same single-thread precondition as [`fork`].
///
/// # Errors
/// The errno of clone(2); EINVAL when the caller is the init of a pid namespace.
pub fn clone_parent() -> io::Result<Forked> {
    let flags = (libc::CLONE_PARENT as libc::c_ulong) | (libc::SIGCHLD as libc::c_ulong);
    // SAFETY: with a null stack pointer clone(2) duplicates the caller's stack copy-on-write,
    // exactly like fork(2); the caller is single-threaded (documented precondition), and the
    // remaining arguments (parent_tid, child_tid, tls) are unused without the matching flags.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_int>(),
            std::ptr::null_mut::<libc::c_int>(),
            0 as libc::c_ulong,
        )
    };
    match ret {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(Pid::from_raw(pid as libc::pid_t))),
    }
}

/// `CLONE_INTO_CGROUP` of linux/sched.h: a bit above 32, which libc's `c_int` constant cannot
/// hold.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// The kernel's `struct clone_args` up to `cgroup` (CLONE_ARGS_SIZE_VER2, 88 bytes): every
/// field is a 64-bit value (`__aligned_u64`), see `man 2 clone3`.
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// `clone3(2)` with `CLONE_INTO_CGROUP` (Linux 5.7): like [`fork`], but the child starts in the
/// cgroup v2 directory open at `cgroup`, so no later write to cgroup.procs is needed (and the
/// child never runs outside its cgroup). No new stack: the child continues on a copy-on-write
/// copy of the caller's, as with fork(2).
///
/// Same single-thread precondition as [`fork`].
///
/// # Errors
/// The errno of clone3(2): ENOSYS before Linux 5.3, E2BIG/EINVAL when the kernel does not know
/// CLONE_INTO_CGROUP (before 5.7), EOPNOTSUPP or EBUSY for a cgroup that cannot take
/// processes (a v1 directory, a domain cgroup with controllers enabled for its children). The
/// caller falls back to fork and a cgroup.procs write.
pub fn fork_into_cgroup(cgroup: BorrowedFd<'_>) -> io::Result<Forked> {
    let args = CloneArgs {
        flags: CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup.as_raw_fd() as u64,
        ..CloneArgs::default()
    };
    // With stack 0 the child runs on a copy-on-write copy of the caller's stack, as with
    // fork(2); no flag makes the kernel write through the pidfd/tid pointers, which are 0.
    // SAFETY: `args` is a live, initialised clone_args of the size passed, only read by the
    // kernel; the caller is single-threaded (documented precondition), so forking is sound.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            std::ptr::addr_of!(args),
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match ret {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(Pid::from_raw(pid as libc::pid_t))),
    }
}

/// `setdomainname(2)`: the NIS domain name of the caller's UTS namespace.
///
/// # Errors
/// EINVAL when longer than 64 bytes, EPERM without CAP_SYS_ADMIN in the UTS namespace's owner.
pub fn setdomainname(name: &str) -> io::Result<()> {
    // SAFETY: the pointer and length describe `name`'s live, initialised bytes; the kernel only
    // reads them.
    let ret = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
    if ret == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `keyctl(KEYCTL_JOIN_SESSION_KEYRING, name)` (`man 2 keyctl`): give the caller a new session
/// keyring called `name`, so containers do not share the caller's keys.
///
/// # Errors
/// The errno of keyctl(2); ENOSYS/EACCES where keyrings are unavailable.
pub fn join_session_keyring(name: &CStr) -> io::Result<()> {
    // SAFETY: `name` is a valid NUL-terminated string that outlives the call; the remaining
    // variadic arguments are ignored by this keyctl operation.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            1 as libc::c_long, /* KEYCTL_JOIN_SESSION_KEYRING */
            name.as_ptr(),
            0 as libc::c_long,
            0 as libc::c_long,
            0 as libc::c_long,
        )
    };
    if ret == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `close_range(first, ~0, CLOSE_RANGE_CLOEXEC)` (`man 2 close_range`, Linux 5.11): mark every fd
/// from `first` up close-on-exec, so nothing of the runtime leaks into the container's program.
///
/// # Errors
/// The errno of close_range(2) (ENOSYS on kernels before 5.9/5.11).
pub fn cloexec_from(first: u32) -> io::Result<()> {
    // SAFETY: close_range only changes fd flags; it dereferences no memory of ours.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC as libc::c_uint,
        )
    };
    if ret == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `close_range(first, ~0, 0)` (`man 2 close_range`, Linux 5.9): close every fd from `first` up.
/// The runtime calls it first thing: an fd its caller left open (a directory, say) would
/// otherwise stay open in the container's init until execve(2), where a `process.cwd` or
/// `process.args[0]` of `/proc/self/fd/N/...` reaches it (CVE-2024-21626).
///
/// # Errors
/// The errno of close_range(2) (ENOSYS before Linux 5.9).
pub fn close_from(first: u32) -> io::Result<()> {
    // SAFETY: closing fds dereferences no memory of ours; it runs at the start of main, before
    // any fd above `first` is owned by a Rust object that would close it again.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            0 as libc::c_uint,
        )
    };
    if ret == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `ioctl(fd, TIOCSCTTY, 0)` (`man 2 ioctl_tty`): make the terminal `fd` the controlling terminal
/// of the caller, which must be a session leader without one.
///
/// # Errors
/// EPERM when the caller is not a session leader or the tty belongs to another session.
pub fn set_controlling_terminal<F: AsFd>(fd: F) -> io::Result<()> {
    // SAFETY: TIOCSCTTY takes an int argument by value; no memory is passed.
    let ret = unsafe { libc::ioctl(fd.as_fd().as_raw_fd(), libc::TIOCSCTTY, 0 as libc::c_int) };
    if ret == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)` (`man 2 ioctl_tty`, Linux 4.13):
/// open the slave of the pty `master` without looking its /dev/pts path up, so a mount or
/// symlink placed at that path cannot substitute another file (CVE-2025-52565's class).
///
/// # Errors
/// ENOTTY when `master` is not a pty master.
pub fn pty_peer<F: AsFd>(master: F) -> io::Result<std::os::fd::OwnedFd> {
    const TIOCGPTPEER: libc::c_ulong = 0x5441; // _IO('T', 0x41)
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: TIOCGPTPEER takes the open flags as an int by value and returns a new fd; no
    // memory is passed.
    let ret = unsafe { libc::ioctl(master.as_fd().as_raw_fd(), TIOCGPTPEER, flags) };
    if ret == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a new fd that nothing else owns.
    Ok(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(ret) })
}

/// A terminal's size in character cells (`struct winsize`, `man 2 ioctl_tty`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WindowSize {
    /// Rows (lines).
    pub rows: u16,
    /// Columns.
    pub cols: u16,
}

/// `ioctl(fd, TIOCGWINSZ)`: the size of the terminal `fd`.
///
/// # Errors
/// ENOTTY when `fd` is not a terminal.
pub fn get_window_size<F: AsFd>(fd: F) -> io::Result<WindowSize> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `struct winsize` to the pointer, which points to a live,
    // properly aligned local of that type.
    let ret = unsafe { libc::ioctl(fd.as_fd().as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    if ret == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(WindowSize {
        rows: ws.ws_row,
        cols: ws.ws_col,
    })
}

/// `ioctl(fd, TIOCSWINSZ)`: set the size of the terminal `fd` (the kernel sends SIGWINCH to its
/// foreground process group).
///
/// # Errors
/// ENOTTY when `fd` is not a terminal.
pub fn set_window_size<F: AsFd>(fd: F, size: WindowSize) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: size.rows,
        ws_col: size.cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one `struct winsize` from the pointer, a live local of that type.
    let ret = unsafe { libc::ioctl(fd.as_fd().as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    if ret == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Bring the network interface `name` up (`SIOCGIFFLAGS` then `SIOCSIFFLAGS` with `IFF_UP`,
/// `man 7 netdevice`) in the caller's network namespace; husk uses it for `lo` in a new one.
///
/// # Errors
/// ENODEV when there is no such interface, EPERM without CAP_NET_ADMIN, EINVAL for a name of 16
/// bytes or more.
pub fn set_link_up(name: &str) -> io::Result<()> {
    if name.len() >= libc::IFNAMSIZ {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let sock = nix::sys::socket::socket(
        nix::sys::socket::AddressFamily::Inet,
        nix::sys::socket::SockType::Datagram,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(io::Error::from)?;
    // SAFETY: `ifreq` is a plain C struct (integers and unions of integers) for which all-zero
    // bytes are a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads the NUL-terminated name (the struct was zeroed and the name is
    // shorter than IFNAMSIZ) and writes the flags into the same live, aligned struct.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) } == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: SIOCGIFFLAGS just initialised the `ifru_flags` member of the union.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: as for SIOCGIFFLAGS: the kernel reads the live struct.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Send `bytes` as one datagram on the unix socket `sock`, with `fds` attached as SCM_RIGHTS
/// (`man 7 unix`).
///
/// # Errors
/// The errno of sendmsg(2) (EPIPE when the peer is gone).
pub fn send_with_fds<S: AsFd>(
    sock: S,
    bytes: &[u8],
    fds: &[std::os::fd::BorrowedFd<'_>],
) -> io::Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let raw: Vec<std::os::fd::RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
    let iov = [io::IoSlice::new(bytes)];
    let cmsgs = if raw.is_empty() {
        vec![]
    } else {
        vec![ControlMessage::ScmRights(&raw)]
    };
    sendmsg::<()>(
        sock.as_fd().as_raw_fd(),
        &iov,
        &cmsgs,
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .map_err(io::Error::from)?;
    Ok(())
}

/// The most fds one [`recv_with_fds`] accepts.
pub const MAX_FDS: usize = 8;

/// Receive one datagram from the unix socket `sock` into `buf`, taking ownership of the fds that
/// came with it (received close-on-exec). Returns the datagram's length (0 at end of file).
///
/// # Errors
/// The errno of recvmsg(2); EMSGSIZE when the datagram or its fds were truncated.
pub fn recv_with_fds<S: AsFd>(
    sock: S,
    buf: &mut [u8],
) -> io::Result<(usize, Vec<std::os::fd::OwnedFd>)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::FromRawFd;
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; MAX_FDS]);
    let mut iov = [io::IoSliceMut::new(buf)];
    let msg = recvmsg::<()>(
        sock.as_fd().as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(io::Error::from)?;
    let mut fds = Vec::new();
    for c in msg.cmsgs().map_err(io::Error::from)? {
        if let ControlMessageOwned::ScmRights(raw) = c {
            for fd in raw {
                // SAFETY: the kernel just installed this fd in our table for this message (SCM_RIGHTS);
                // nothing else in the process knows of it, so taking sole ownership is sound.
                fds.push(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    if msg
        .flags
        .intersects(MsgFlags::MSG_TRUNC | MsgFlags::MSG_CTRUNC)
    {
        return Err(io::Error::from_raw_os_error(libc::EMSGSIZE));
    }
    Ok((msg.bytes, fds))
}

/// `openat2(root, path, flags | O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` (`man 2
/// openat2`, Linux 5.6): open `path` as if `root` were `/` — absolute symlinks and `..` cannot
/// leave it — so a path inside a container's rootfs can never resolve to a host file.
///
/// # Errors
/// The errno of openat2(2) (ENOENT, ELOOP, EXDEV...); EAGAIN only after 128 tries that each
/// raced with a mount or rename.
pub fn open_in_root<F: AsFd, P: AsRef<std::path::Path>>(
    root: F,
    path: P,
    flags: nix::fcntl::OFlag,
) -> io::Result<std::os::fd::OwnedFd> {
    use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
    let how = OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let rel = path.as_ref().strip_prefix("/").unwrap_or(path.as_ref());
    let rel = if rel.as_os_str().is_empty() {
        std::path::Path::new(".")
    } else {
        rel
    };
    openat2_retrying(root.as_fd(), rel, how)
}

/// How many times an openat2(2) that fails with EAGAIN is tried again (see
/// [`openat2_retrying`]).
const OPENAT2_EAGAIN_TRIES: usize = 128;

/// openat2(2), tried again when it fails with EAGAIN: with RESOLVE_IN_ROOT or RESOLVE_BENEATH
/// the kernel returns EAGAIN when a rename or a mount anywhere on the system raced with a `..`
/// in the walk, because it then cannot prove the walk stayed inside (`man 2 openat2`: "the
/// caller may choose to retry"). Other containers being set up cause exactly that.
fn openat2_retrying(
    dir: BorrowedFd<'_>,
    path: &std::path::Path,
    how: nix::fcntl::OpenHow,
) -> io::Result<std::os::fd::OwnedFd> {
    let mut tries = 0;
    let fd = loop {
        match nix::fcntl::openat2(dir.as_raw_fd(), path, how) {
            Err(nix::errno::Errno::EAGAIN) if tries + 1 < OPENAT2_EAGAIN_TRIES => tries += 1,
            r => break r.map_err(io::Error::from)?,
        }
    };
    // SAFETY: openat2 returned a new fd that nothing else owns.
    Ok(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

/// `openat2(dir, path, flags | O_CLOEXEC, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
/// RESOLVE_NO_MAGICLINKS)` (`man 2 openat2`, Linux 5.6): open `path` (relative) strictly below
/// `dir`, following no symlink of any kind, so that neither `..` nor a link can redirect the
/// open elsewhere (e.g. a sysctl write away from /proc/sys).
///
/// # Errors
/// The errno of openat2(2): EXDEV when the path would leave `dir`, ELOOP at a symlink, ENOENT;
/// EAGAIN only after 128 tries that each raced with a mount or rename.
pub fn open_beneath<F: AsFd, P: AsRef<std::path::Path>>(
    dir: F,
    path: P,
    flags: nix::fcntl::OFlag,
) -> io::Result<std::os::fd::OwnedFd> {
    use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
    let how = OpenHow::new().flags(flags | OFlag::O_CLOEXEC).resolve(
        ResolveFlag::RESOLVE_BENEATH
            | ResolveFlag::RESOLVE_NO_SYMLINKS
            | ResolveFlag::RESOLVE_NO_MAGICLINKS,
    );
    openat2_retrying(dir.as_fd(), path.as_ref(), how)
}

/// `openat(dir, path, flags | O_CLOEXEC, mode)` (`man 2 openat`), returning an owned fd.
///
/// # Errors
/// The errno of openat(2).
pub fn openat<F: AsFd, P: AsRef<std::path::Path>>(
    dir: F,
    path: P,
    flags: nix::fcntl::OFlag,
    mode: nix::sys::stat::Mode,
) -> io::Result<std::os::fd::OwnedFd> {
    let fd = nix::fcntl::openat(
        Some(dir.as_fd().as_raw_fd()),
        path.as_ref(),
        flags | nix::fcntl::OFlag::O_CLOEXEC,
        mode,
    )
    .map_err(io::Error::from)?;
    // SAFETY: openat returned a new fd that nothing else owns.
    Ok(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

/// Reset every signal's disposition to SIG_DFL and unblock all signals (`man 7 signal`). The
/// container's init calls it just before execve(2): ignored signals survive exec, and Rust's
/// runtime ignores SIGPIPE, which the container's program must not inherit. Every signal from 1
/// to SIGRTMAX is reset, real-time ones included, and also 32 and 33: glibc reserves them for
/// itself and its sigaction(3) refuses them, but a caller started through glibc's
/// posix_spawn(3) has them ignored (it sets its internal signals to SIG_IGN in the child), so
/// the raw rt_sigaction(2) call is used.
pub fn reset_signals() {
    // The kernel's struct sigaction, all zero: SIG_DFL, no flags, no restorer, an empty mask,
    // whatever the architecture's field order. 32 bytes cover x86_64's and aarch64's.
    let dfl = [0u64; 4];
    for sig in 1..=libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // 8 is the kernel's sizeof(sigset_t) (_NSIG / 8); a failure (EINVAL) leaves nothing
        // half-set and is ignored.
        // SAFETY: `dfl` is live, all-zero (SIG_DFL) and as large as struct sigaction; the old
        // action pointer is NULL, so the kernel only reads.
        let _ = unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                dfl.as_ptr(),
                std::ptr::null_mut::<libc::c_void>(),
                8usize,
            )
        };
    }
    let _ = nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::empty()),
        None,
    );
}

/// `pidfd_open(pid, 0)` (`man 2 pidfd_open`, Linux 5.3): an fd that becomes readable when the
/// process `pid` exits, so a waiter can poll(2) for it without depending on which thread SIGCHLD
/// is delivered to.
///
/// # Errors
/// ESRCH when there is no such process.
pub fn pidfd_open(pid: Pid) -> io::Result<std::os::fd::OwnedFd> {
    // SAFETY: pidfd_open takes two integers and returns a new fd or -1; no memory is passed.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0 as libc::c_uint) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = ret as libc::c_int;
    // SAFETY: the kernel returned a new fd (close-on-exec) that nothing else owns.
    let owned = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    Ok(owned)
}

/// `ioctl(fd, NS_GET_NSTYPE)` (`man 2 ioctl_ns`, Linux 4.11): the CLONE_NEW* flag of the
/// namespace the nsfs file `fd` refers to (a /proc/PID/ns link or a bind mount of one).
///
/// # Errors
/// ENOTTY when `fd` is not a namespace file.
pub fn ns_type<F: AsFd>(fd: F) -> io::Result<libc::c_int> {
    // _IO(0xb7, 0x3)
    const NS_GET_NSTYPE: libc::c_ulong = 0xb703;
    // SAFETY: NS_GET_NSTYPE takes no argument and returns the type; no memory is passed.
    let ret = unsafe { libc::ioctl(fd.as_fd().as_raw_fd(), NS_GET_NSTYPE) };
    if ret == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(ret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_size_of_a_non_tty_is_enotty() {
        let f = std::fs::File::open("/dev/null").unwrap();
        let err = get_window_size(&f).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOTTY));
    }

    #[test]
    fn set_link_up_rejects_long_names() {
        let err = set_link_up("a-name-longer-than-ifnamsiz").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
    }

    #[test]
    fn set_link_up_of_a_missing_device_is_enodev() {
        let err = set_link_up("husknonexist0").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENODEV));
    }

    #[test]
    fn fds_pass_over_a_socketpair() {
        use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
        use std::io::Read;
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        let f = std::fs::File::open("/proc/self/stat").unwrap();
        send_with_fds(&a, b"hello", &[f.as_fd()]).unwrap();
        let mut buf = [0u8; 16];
        let (n, fds) = recv_with_fds(&b, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"hello");
        assert_eq!(fds.len(), 1);
        let mut got = String::new();
        std::fs::File::from(fds.into_iter().next().unwrap())
            .read_to_string(&mut got)
            .unwrap();
        assert!(got.starts_with(&std::process::id().to_string()));
    }

    #[test]
    fn open_in_root_cannot_climb_out() {
        let t = std::env::temp_dir().join(format!("husk-sys-test-{}", std::process::id()));
        std::fs::create_dir_all(t.join("etc")).unwrap();
        std::fs::write(t.join("etc/hostname"), "inside").unwrap();
        let _ = std::fs::remove_file(t.join("link"));
        std::os::unix::fs::symlink("/etc/hostname", t.join("link")).unwrap();
        let root = std::fs::File::open(&t).unwrap();
        let f = open_in_root(&root, "/link", nix::fcntl::OFlag::O_RDONLY).unwrap();
        let mut s = String::new();
        use std::io::Read;
        std::fs::File::from(f).read_to_string(&mut s).unwrap();
        assert_eq!(s, "inside");
        let f = open_in_root(&root, "../../../etc/hostname", nix::fcntl::OFlag::O_RDONLY).unwrap();
        let mut s = String::new();
        std::fs::File::from(f).read_to_string(&mut s).unwrap();
        assert_eq!(s, "inside");
        std::fs::remove_dir_all(&t).unwrap();
    }

    #[test]
    fn open_beneath_follows_no_link_and_stays_below() {
        let t = std::env::temp_dir().join(format!("husk-sys-beneath-{}", std::process::id()));
        std::fs::create_dir_all(t.join("a")).unwrap();
        std::fs::write(t.join("a/f"), "x").unwrap();
        let _ = std::fs::remove_file(t.join("a/l"));
        std::os::unix::fs::symlink("f", t.join("a/l")).unwrap();
        let dir = std::fs::File::open(&t).unwrap();
        open_beneath(&dir, "a/f", nix::fcntl::OFlag::O_RDONLY).unwrap();
        let e = open_beneath(&dir, "a/l", nix::fcntl::OFlag::O_RDONLY).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP));
        let e = open_beneath(&dir, "a/../../etc", nix::fcntl::OFlag::O_RDONLY).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EXDEV));
        std::fs::remove_dir_all(&t).unwrap();
    }

    #[test]
    fn cloexec_from_high_fd_succeeds() {
        cloexec_from(100_000).unwrap();
    }
}
