//! Terminals (`man 7 pty`, `man 4 pts`): the container's pty, made by the init from the
//! container's own devpts; sending its master over a `--console-socket` (runc's protocol:
//! SCM_RIGHTS with the pty's name as payload); and, for a foreground `run`, proxying it to the
//! caller's terminal in raw mode with the window size forwarded.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::fcntl::OFlag;
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};

/// Errors of terminal handling.
#[derive(Debug, thiserror::Error)]
pub enum TtyError {
    /// The console socket could not be reached.
    #[error("--console-socket {path}: {source}")]
    ConsoleSocket {
        /// The socket path.
        path: std::path::PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A terminal operation failed.
    #[error("terminal: {step}: {source}")]
    Io {
        /// What was done.
        step: &'static str,
        /// The error.
        source: io::Error,
    },
}

fn e(step: &'static str) -> impl FnOnce(nix::Error) -> TtyError {
    move |err| TtyError::Io {
        step,
        source: err.into(),
    }
}

/// A new pty from the calling process's /dev/ptmx: `(master, slave, slave path)`.
///
/// # Errors
/// When /dev/ptmx (or /dev/pts) is missing or refuses.
pub fn open_pty() -> Result<(OwnedFd, OwnedFd, String), TtyError> {
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .map_err(e("open /dev/ptmx"))?;
    grantpt(&master).map_err(e("grantpt"))?;
    unlockpt(&master).map_err(e("unlockpt"))?;
    let name = ptsname_r(&master).map_err(e("ptsname"))?;
    // The slave through the master, never by its name (see husk_sys::pty_peer).
    let slave = husk_sys::pty_peer(&master).map_err(|source| TtyError::Io {
        step: "open the pty slave (TIOCGPTPEER)",
        source,
    })?;
    // PtyMaster has no conversion into OwnedFd: keep a duplicate and let it close its own.
    let master_fd = master
        .as_fd()
        .try_clone_to_owned()
        .map_err(|source| TtyError::Io {
            step: "dup the pty master",
            source,
        })?;
    Ok((master_fd, slave, name))
}

/// Make `slave` the caller's controlling terminal and its stdin, stdout and stderr. The caller
/// must be a session leader (the init calls setsid(2) first).
///
/// # Errors
/// TIOCSCTTY or dup2 failures.
pub fn become_console(slave: &OwnedFd, size: Option<husk_sys::WindowSize>) -> Result<(), TtyError> {
    husk_sys::set_controlling_terminal(slave).map_err(|source| TtyError::Io {
        step: "TIOCSCTTY",
        source,
    })?;
    if let Some(s) = size {
        husk_sys::set_window_size(slave, s).map_err(|source| TtyError::Io {
            step: "TIOCSWINSZ",
            source,
        })?;
    }
    for fd in 0..3 {
        nix::unistd::dup2(slave.as_raw_fd(), fd).map_err(e("dup2 the pty slave onto stdio"))?;
    }
    Ok(())
}

/// Connect to the `--console-socket` at `path`. The runtime does this on the host, before the
/// container's init switches its root (where the path would be looked up in the image).
///
/// # Errors
/// [`TtyError::ConsoleSocket`].
pub fn connect_console_socket(path: &Path) -> Result<ConsoleSocket, TtyError> {
    let sock = std::os::unix::net::UnixStream::connect(path).map_err(|source| {
        TtyError::ConsoleSocket {
            path: path.to_path_buf(),
            source,
        }
    })?;
    Ok(ConsoleSocket {
        sock,
        path: path.to_path_buf(),
    })
}

/// A connected `--console-socket`.
#[derive(Debug)]
pub struct ConsoleSocket {
    sock: std::os::unix::net::UnixStream,
    path: std::path::PathBuf,
}

impl ConsoleSocket {
    /// Send the pty master (runc's protocol: one message, the pty name as payload, the fd as
    /// SCM_RIGHTS).
    ///
    /// # Errors
    /// [`TtyError::ConsoleSocket`].
    pub fn send(&self, master: BorrowedFd<'_>, name: &str) -> Result<(), TtyError> {
        husk_sys::send_with_fds(&self.sock, name.as_bytes(), &[master]).map_err(|source| {
            TtyError::ConsoleSocket {
                path: self.path.clone(),
                source,
            }
        })
    }
}

/// The caller's terminal in raw mode until dropped (then restored).
#[derive(Debug)]
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// Put stdin in raw mode. None when stdin is not a terminal.
    pub fn enter() -> Option<RawMode> {
        let stdin = io::stdin();
        let saved = tcgetattr(stdin.as_fd()).ok()?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = tcsetattr(io::stdin().as_fd(), SetArg::TCSANOW, &self.saved);
    }
}

/// Copy the size of the caller's terminal (stdin) to `master`.
pub fn forward_window_size(master: BorrowedFd<'_>) {
    if let Ok(size) = husk_sys::get_window_size(io::stdin()) {
        let _ = husk_sys::set_window_size(master, size);
    }
}

/// One step of copying: read what is available from `from` and write all of it to `to`.
/// Returns false at end of file (or EIO: the other side of a pty closed).
pub fn pump(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> bool {
    let mut buf = [0u8; 8192];
    match nix::unistd::read(from.as_raw_fd(), &mut buf) {
        Ok(0) | Err(nix::Error::EIO) => false,
        Ok(n) => {
            let mut off = 0;
            while off < n {
                match nix::unistd::write(to, &buf[off..n]) {
                    Ok(w) => off += w,
                    Err(nix::Error::EINTR) | Err(nix::Error::EAGAIN) => continue,
                    Err(_) => return false,
                }
            }
            true
        }
        Err(nix::Error::EINTR) | Err(nix::Error::EAGAIN) => true,
        Err(_) => false,
    }
}
