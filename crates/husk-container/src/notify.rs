//! The sd_notify protocol through the runtime (`man 3 sd_notify`), as runc relays it: when the
//! runtime is started with `NOTIFY_SOCKET` (by systemd for a `Type=notify` unit, or by an
//! engine), the container gets a socket of its own to notify, and the runtime reports the
//! container ready to the caller's socket once the container's program says `READY=1`.
//!
//! - `create` (and `run`) with NOTIFY_SOCKET: the directory `<state dir>/notify` is made and
//!   bind-mounted read-only at [`CONTAINER_DIR`] in the container, and the program's env gets
//!   `NOTIFY_SOCKET=/run/notify/notify.sock`.
//! - `start` (and `run`) with NOTIFY_SOCKET: before the program starts, the runtime binds the
//!   datagram socket `notify.sock` there (mode 0777, so any user of the container may notify);
//!   then it waits for a datagram with a `READY=1` line (or for the init to exit) and sends
//!   `READY=1` and `MAINPID=<pid>` to the caller's socket: the init's pid for `start` and
//!   `run --detach`, which return only then; the runtime's own for a foreground `run`, which
//!   relays in the background while it waits for the container.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the notify directory is mounted in the container (runc's path).
pub const CONTAINER_DIR: &str = "/run/notify";
/// The socket's name in that directory.
pub const SOCKET_NAME: &str = "notify.sock";

/// Errors of the notify relay.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The container's notify directory or socket could not be made.
    #[error("NOTIFY_SOCKET: {what} {path}: {source}")]
    Setup {
        /// What was done.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The caller's socket refused the message.
    #[error(
        "NOTIFY_SOCKET {path}: sending READY=1 failed: {source}; is the socket still listening?"
    )]
    Send {
        /// The caller's socket.
        path: String,
        /// The error.
        source: io::Error,
    },
}

/// The caller's notify socket: `NOTIFY_SOCKET` from the runtime's environment when set and
/// not empty (a path, or `@name` for an abstract socket).
pub fn host_socket() -> Option<String> {
    std::env::var("NOTIFY_SOCKET")
        .ok()
        .filter(|s| !s.is_empty())
}

/// The container's notify directory under its state directory.
pub fn state_dir(container_state: &Path) -> PathBuf {
    container_state.join("notify")
}

/// At create: the mount entry (a read-only bind of `<state dir>/notify` at [`CONTAINER_DIR`])
/// and the env entry the container gets. `container_state` must be absolute.
pub fn mount_and_env(container_state: &Path) -> (oci_spec::runtime::Mount, String) {
    let mut m = oci_spec::runtime::Mount::default();
    m.set_destination(PathBuf::from(CONTAINER_DIR));
    m.set_typ(Some("bind".into()));
    m.set_source(Some(state_dir(container_state)));
    m.set_options(Some(
        ["bind", "nosuid", "noexec", "nodev", "ro"]
            .map(String::from)
            .to_vec(),
    ));
    (m, format!("NOTIFY_SOCKET={CONTAINER_DIR}/{SOCKET_NAME}"))
}

/// At create, before the container's mounts are made: `<state dir>/notify`, mode 0755.
///
/// # Errors
/// [`NotifyError::Setup`] when the directory cannot be made.
pub fn make_dir(container_state: &Path) -> Result<(), NotifyError> {
    let dir = state_dir(container_state);
    let err = |what| {
        let path = dir.clone();
        move |source| NotifyError::Setup { what, path, source }
    };
    std::fs::create_dir_all(&dir).map_err(err("mkdir"))?;
    std::fs::set_permissions(
        &dir,
        <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755),
    )
    .map_err(err("chmod"))
}

/// The container's bound notify socket (see the module doc).
#[derive(Debug)]
pub struct Relay {
    sock: UnixDatagram,
    host: String,
}

/// At start, when the container was created with a notify directory and the runtime has
/// NOTIFY_SOCKET: bind the container's socket. None when either is missing.
///
/// # Errors
/// [`NotifyError::Setup`] when the socket cannot be bound.
pub fn bind(container_state: &Path) -> Result<Option<Relay>, NotifyError> {
    let dir = state_dir(container_state);
    let Some(host) = host_socket() else {
        return Ok(None);
    };
    if !dir.is_dir() {
        return Ok(None);
    }
    let path = dir.join(SOCKET_NAME);
    let _ = std::fs::remove_file(&path);
    let err = |what| {
        let path = path.clone();
        move |source| NotifyError::Setup { what, path, source }
    };
    let sock = UnixDatagram::bind(&path).map_err(err("bind"))?;
    std::fs::set_permissions(
        &path,
        <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o777),
    )
    .map_err(err("chmod"))?;
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .map_err(err("set a timeout on"))?;
    Ok(Some(Relay { sock, host }))
}

/// Whether `datagram` (newline-separated assignments) says `READY=1`.
fn says_ready(datagram: &[u8]) -> bool {
    datagram.split(|b| *b == b'\n').any(|l| l == b"READY=1")
}

impl Relay {
    /// Wait for `READY=1` from the container while `alive()` holds, then send `READY=1` and
    /// `MAINPID=<main_pid>` to the caller's socket. Returns without sending when the
    /// container's init exits first.
    ///
    /// # Errors
    /// [`NotifyError::Send`] when the caller's socket refuses the message.
    pub fn wait_ready(&self, main_pid: i32, alive: impl Fn() -> bool) -> Result<(), NotifyError> {
        let mut buf = vec![0u8; 4096];
        loop {
            match self.sock.recv(&mut buf) {
                Ok(n) if says_ready(&buf[..n]) => break,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) =>
                {
                    if !alive() {
                        return Ok(());
                    }
                }
                Err(_) => return Ok(()),
            }
        }
        let msg = format!("READY=1\nMAINPID={main_pid}\n");
        let send = |source| NotifyError::Send {
            path: self.host.clone(),
            source,
        };
        let out = UnixDatagram::unbound().map_err(send)?;
        match self.host.strip_prefix('@') {
            Some(name) => {
                use std::os::linux::net::SocketAddrExt;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
                    .map_err(send)?;
                out.send_to_addr(msg.as_bytes(), &addr).map_err(send)?;
            }
            None => {
                out.send_to(msg.as_bytes(), &self.host).map_err(send)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_is_a_line_of_its_own() {
        assert!(says_ready(b"READY=1"));
        assert!(says_ready(b"STATUS=up\nREADY=1\n"));
        assert!(!says_ready(b"READY=0"));
        assert!(!says_ready(b"STATUS=READY=1"));
    }

    #[test]
    fn the_relay_waits_for_ready_and_reports_the_main_pid() {
        let t = tempfile::tempdir().unwrap();
        let host = t.path().join("host.sock");
        let listener = UnixDatagram::bind(&host).unwrap();
        std::env::set_var("NOTIFY_SOCKET", &host);
        let state = t.path().join("state");
        std::fs::create_dir(&state).unwrap();
        let (mount, env) = mount_and_env(&state);
        make_dir(&state).unwrap();
        assert_eq!(mount.destination(), Path::new("/run/notify"));
        assert_eq!(env, "NOTIFY_SOCKET=/run/notify/notify.sock");
        let relay = bind(&state).unwrap().unwrap();
        std::env::remove_var("NOTIFY_SOCKET");
        let sender = UnixDatagram::unbound().unwrap();
        let inner = state_dir(&state).join(SOCKET_NAME);
        sender.send_to(b"STATUS=starting", &inner).unwrap();
        sender.send_to(b"STATUS=up\nREADY=1", &inner).unwrap();
        relay.wait_ready(42, || true).unwrap();
        let mut buf = [0u8; 100];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\nMAINPID=42\n");
        // A container that dies first: nothing is sent.
        relay.wait_ready(43, || false).unwrap();
        listener.set_nonblocking(true).unwrap();
        assert!(listener.recv(&mut buf).is_err());
    }
}
