//! What `std::process::Command` cannot do without `pre_exec`: give the child chosen fds at chosen
//! numbers (`dup2(2)`), and have it killed when its parent dies (`PR_SET_PDEATHSIG`,
//! `man 2 PR_SET_PDEATHSIG`). `husk run` uses both for its network helpers (pasta,
//! slirp4netns), which get the container's namespaces as fds and must never outlive it.

use std::io;
use std::os::fd::RawFd;
use std::process::Command;

/// Makes the child of `cmd` get each `(fd, target)` pair's `fd` as fd number `target`, without
/// close-on-exec; every other fd stays as `Command` leaves it (close-on-exec fds are closed).
/// The fds must stay open until `cmd.spawn()` returns (a closed one makes the spawn fail with
/// EBADF). The targets must differ from each other and from 0, 1 and 2.
///
/// In the child the fds are first duplicated above every target (close-on-exec), then put in
/// place with dup2(2), so a source that sits on another pair's target is never overwritten
/// before it is used.
pub fn pass_fds(cmd: &mut Command, fds: &[(RawFd, RawFd)]) {
    let pairs: Vec<(RawFd, RawFd)> = fds.to_vec();
    let above = pairs.iter().map(|&(_, t)| t).max().unwrap_or(2) + 1;
    // Filled in the child without allocating (only async-signal-safe calls after fork(2)).
    let mut staged: Vec<RawFd> = vec![-1; pairs.len()];
    let hook = move || -> io::Result<()> {
        for (slot, &(fd, _)) in staged.iter_mut().zip(&pairs) {
            // SAFETY: fcntl(F_DUPFD_CLOEXEC) takes integers only and touches no memory of ours.
            let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, above) };
            if dup == -1 {
                return Err(io::Error::last_os_error());
            }
            *slot = dup;
        }
        for (&dup, &(_, target)) in staged.iter().zip(&pairs) {
            // SAFETY: dup2 takes integers only; `target` is not an fd any Rust object of the
            // child owns (the caller's documented precondition), and the child execs next.
            if unsafe { libc::dup2(dup, target) } == -1 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    };
    // SAFETY: the hook runs in the forked child before execve and only calls fcntl(2) and
    // dup2(2), which are async-signal-safe, writing into memory allocated before the fork.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(cmd, hook);
    }
}

/// Makes the child of `cmd` receive SIGKILL when the thread that spawned it exits (the whole
/// process, in a single-threaded caller), so a helper never outlives a parent killed by SIGKILL.
/// A parent that is gone already by the time the child sets this makes the spawn fail.
///
/// The flag is cleared when the child executes a set-user-ID program or changes its
/// credentials in a way that drops capabilities (`man 2 PR_SET_PDEATHSIG`).
pub fn kill_with_parent(cmd: &mut Command) {
    let parent = std::process::id() as libc::pid_t;
    let hook = move || -> io::Result<()> {
        // SAFETY: prctl(PR_SET_PDEATHSIG, sig) takes integers only.
        if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) } == -1 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: getppid has no arguments and cannot fail.
        if unsafe { libc::getppid() } != parent {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
        Ok(())
    };
    // SAFETY: the hook runs in the forked child before execve and only calls prctl(2) and
    // getppid(2), which are async-signal-safe.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(cmd, hook);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::AsRawFd;

    #[test]
    fn fds_arrive_at_their_numbers_even_when_crossed() {
        // Two pipes whose write ends go to fds 4 and 3 of the child: the child writes its fd
        // number into each, so a swapped or lost fd shows.
        let pipe = || {
            let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
            (std::fs::File::from(r), w)
        };
        let (mut r1, w1) = pipe();
        let (mut r2, w2) = pipe();
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", "echo four >&4; echo three >&3"]);
        pass_fds(&mut cmd, &[(w1.as_raw_fd(), 4), (w2.as_raw_fd(), 3)]);
        kill_with_parent(&mut cmd);
        let status = cmd.status().unwrap();
        assert!(status.success());
        drop((w1, w2));
        let (mut a, mut b) = (String::new(), String::new());
        r1.read_to_string(&mut a).unwrap();
        r2.read_to_string(&mut b).unwrap();
        assert_eq!((a.as_str(), b.as_str()), ("four\n", "three\n"));
    }

    #[test]
    fn a_closed_fd_fails_the_spawn() {
        let mut cmd = Command::new("/bin/true");
        pass_fds(&mut cmd, &[(1000, 3)]);
        let err = cmd.status().unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EBADF));
    }
}
