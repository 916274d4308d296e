//! The process model and the typed channel between its roles.
//!
//! Three roles, each named in `ps` with prctl(PR_SET_NAME):
//! - the **parent** (`husk-runtime create|run`): places the intermediate in the container's
//!   cgroup, writes its uid/gid maps, runs the runtime-side hooks, records the state;
//! - the **intermediate** (`husk:[1:INTER]`): joins (setns) and unshares the namespaces (user
//!   first), writes time offsets, then forks the init with CLONE_PARENT (a new pid or time
//!   namespace only applies to children) and exits;
//! - the **init** (`husk:[2:INIT]`): sets the rootfs up, reports `Ready`, waits on the start
//!   socket, switches to the configured user and executes the user program.
//!
//! Parent and children talk over a `SOCK_SEQPACKET` socketpair: one serde_json datagram per
//! message, fds attached with SCM_RIGHTS. Errors from a child come back as [`ChildError`], a
//! typed value, never as a bare string.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::container::ExecFailure;

/// Messages a child (intermediate or init) sends to the parent.
#[derive(Debug, Serialize, Deserialize)]
pub enum ToParent {
    /// The intermediate made its user namespace: write its uid/gid maps, then answer
    /// [`ToChild::IdMapsWritten`].
    IdMapRequest,
    /// The intermediate is in the container's network namespace (new or joined) and the
    /// config has `linux.netDevices`: move them in now, before sysctls naming them are written,
    /// then answer [`ToChild::Proceed`].
    NetNsReady,
    /// The intermediate made (or joined) the container's namespaces and the runtime asked for
    /// them (`CreateOptions::namespace_fds`): fds of its network namespace and, when the
    /// container has one, its user namespace are attached, in that order.
    Namespaces,
    /// The intermediate forked the init; its pid in the parent's pid namespace.
    InitPid(i32),
    /// The init has prepared the rootfs mounts: run createRuntime (and prestart) hooks, then
    /// answer [`ToChild::HooksDone`].
    CreateRuntimeHooks,
    /// The init made the container's terminal; its master fd is attached.
    PtyMaster,
    /// The init is set up and waits on the start socket.
    Ready,
    /// A child failed; it exits after sending this.
    Failed(ChildError),
}

/// Messages the parent sends to a child.
#[derive(Debug, Serialize, Deserialize)]
pub enum ToChild {
    /// The intermediate is in the container's cgroup: go on.
    Proceed,
    /// The uid/gid maps are written.
    IdMapsWritten,
    /// The createRuntime/prestart hooks succeeded; the state JSON for the hooks the init runs
    /// itself (createContainer, startContainer).
    HooksDone(String),
}

/// An error in a child, with what it was doing, on which path or field, and the errno.
#[derive(Debug, Clone, Serialize, Deserialize, thiserror::Error)]
pub enum ChildError {
    /// A system call of a setup step failed.
    #[error("{step}{}: {}", fmt_target(.target), fmt_errno(*.errno))]
    Setup {
        /// What was being done ("unshare(CLONE_NEWNET)", "mount proc", ...).
        step: String,
        /// The path or config field concerned, if any.
        target: Option<String>,
        /// The errno.
        errno: i32,
    },
    /// A config value the kernel or the container's filesystem refuses.
    #[error("{field}: {detail}")]
    Config {
        /// The config.json field (e.g. `mounts[2].destination`).
        field: String,
        /// What is wrong and what to do.
        detail: String,
    },
    /// The user program cannot be executed.
    #[error("process.args[0] {path:?}: {}", match .failure { ExecFailure::NotFound => "executable file not found in the container's $PATH or filesystem (for a script or a dynamic binary: or its #! interpreter or ELF loader)", ExecFailure::NotExecutable => "permission denied: not an executable file (check its mode and type)" })]
    Exec {
        /// args[0] as given.
        path: String,
        /// Why.
        failure: ExecFailure,
    },
    /// A step implemented by another module failed (hooks, capabilities, rlimits, seccomp);
    /// the message is that module's typed error, formatted in the child.
    #[error("{0}")]
    Module(String),
}

fn fmt_target(t: &Option<String>) -> String {
    t.as_ref().map(|t| format!(" {t}")).unwrap_or_default()
}

fn fmt_errno(errno: i32) -> String {
    io::Error::from_raw_os_error(errno).to_string()
}

impl ChildError {
    /// A failed system call during `step` on `target`.
    pub fn setup(step: impl Into<String>, target: Option<&str>, err: impl Into<Errno>) -> Self {
        ChildError::Setup {
            step: step.into(),
            target: target.map(str::to_string),
            errno: err.into().0,
        }
    }
}

/// An errno, from nix or io errors.
#[derive(Debug, Clone, Copy)]
pub struct Errno(pub i32);

impl From<nix::Error> for Errno {
    fn from(e: nix::Error) -> Self {
        Errno(e as i32)
    }
}

impl From<io::Error> for Errno {
    fn from(e: io::Error) -> Self {
        Errno(e.raw_os_error().unwrap_or(libc::EIO))
    }
}

impl From<&io::Error> for Errno {
    fn from(e: &io::Error) -> Self {
        Errno(e.raw_os_error().unwrap_or(libc::EIO))
    }
}

/// Errors of the channel itself.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The peer closed its end (it exited or was killed).
    #[error("the {0} process exited unexpectedly during container setup")]
    Closed(&'static str),
    /// sendmsg/recvmsg failed.
    #[error("channel to the {0} process: {1}")]
    Io(&'static str, io::Error),
    /// A datagram that is not a message of the protocol.
    #[error("channel to the {0} process: unexpected message: {1}")]
    Protocol(&'static str, String),
}

/// One end of the parent/child channel.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
    peer: &'static str,
}

/// The largest message (a config-sized error message fits comfortably).
const MAX_MESSAGE: usize = 64 * 1024;

impl Channel {
    /// A connected pair (close-on-exec): `(parent end, child end)`.
    ///
    /// # Errors
    /// socketpair(2)'s errno.
    pub fn pair() -> io::Result<(Channel, Channel)> {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(io::Error::from)?;
        Ok((
            Channel {
                fd: a,
                peer: "container",
            },
            Channel {
                fd: b,
                peer: "runtime",
            },
        ))
    }

    /// Name the peer in error messages ("intermediate", "init").
    pub fn set_peer(&mut self, peer: &'static str) {
        self.peer = peer;
    }

    /// Send a message with fds.
    ///
    /// # Errors
    /// Io, or Closed when the peer is gone.
    pub fn send<T: Serialize>(&self, msg: &T, fds: &[BorrowedFd<'_>]) -> Result<(), ChannelError> {
        let bytes = serde_json::to_vec(msg)
            .map_err(|e| ChannelError::Protocol(self.peer, e.to_string()))?;
        husk_sys::send_with_fds(&self.fd, &bytes, fds).map_err(|e| {
            if e.raw_os_error() == Some(libc::EPIPE) || e.raw_os_error() == Some(libc::ECONNRESET) {
                ChannelError::Closed(self.peer)
            } else {
                ChannelError::Io(self.peer, e)
            }
        })
    }

    /// Receive one message and the fds that came with it.
    ///
    /// # Errors
    /// Closed at end of file; Protocol for a datagram that does not parse as `T`.
    pub fn recv<T: DeserializeOwned>(&self) -> Result<(T, Vec<OwnedFd>), ChannelError> {
        let mut buf = vec![0u8; MAX_MESSAGE];
        loop {
            match husk_sys::recv_with_fds(&self.fd, &mut buf) {
                Ok((0, _)) => return Err(ChannelError::Closed(self.peer)),
                Ok((n, fds)) => {
                    let msg = serde_json::from_slice(&buf[..n]).map_err(|e| {
                        ChannelError::Protocol(
                            self.peer,
                            format!("{e}: {}", String::from_utf8_lossy(&buf[..n.min(200)])),
                        )
                    })?;
                    return Ok((msg, fds));
                }
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => {
                    return Err(ChannelError::Closed(self.peer))
                }
                Err(e) => return Err(ChannelError::Io(self.peer, e)),
            }
        }
    }
}

impl AsFd for Channel {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Name the calling process (what `ps` and /proc/PID/comm show), at most 15 bytes.
pub fn set_role_name(name: &std::ffi::CStr) {
    // Naming is cosmetic: a failure must not fail the container.
    let _ = nix::sys::prctl::set_name(name);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_with_errors_typed() {
        let (a, b) = Channel::pair().unwrap();
        let err = ChildError::setup("mount proc", Some("/proc"), nix::Error::EPERM);
        b.send(&ToParent::Failed(err), &[]).unwrap();
        let (m, fds): (ToParent, _) = a.recv().unwrap();
        assert!(fds.is_empty());
        match m {
            ToParent::Failed(e) => assert_eq!(
                e.to_string(),
                "mount proc /proc: Operation not permitted (os error 1)"
            ),
            other => panic!("unexpected {other:?}"),
        }
        drop(b);
        assert!(matches!(a.recv::<ToParent>(), Err(ChannelError::Closed(_))));
    }
}
