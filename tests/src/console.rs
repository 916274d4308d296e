//! The receiving end of runc's `--console-socket` protocol, as containerd's shim and conmon
//! run it: a unix socket the runtime connects to and sends the pty master over (SCM_RIGHTS,
//! the pty's name as payload).

use std::fs::File;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// A listening console socket; [`ConsoleSocket::master`] waits for the pty master.
pub struct ConsoleSocket {
    path: PathBuf,
    rx: mpsc::Receiver<(String, OwnedFd)>,
}

impl ConsoleSocket {
    /// Listen at `<dir>/console.sock`; one connection is accepted in the background.
    pub fn listen(dir: &Path) -> ConsoleSocket {
        let path = dir.join("console.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let Ok((conn, _)) = listener.accept() else {
                return;
            };
            let mut buf = [0u8; 4096];
            if let Ok((n, mut fds)) = husk_sys::recv_with_fds(&conn, &mut buf) {
                if let Some(fd) = fds.pop() {
                    let _ = tx.send((String::from_utf8_lossy(&buf[..n]).into_owned(), fd));
                }
            }
        });
        ConsoleSocket { path, rx }
    }

    /// The socket's path, for `--console-socket`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The pty's name and master, once sent (panics after 30 s).
    pub fn master(&self) -> (String, OwnedFd) {
        self.rx
            .recv_timeout(Duration::from_secs(30))
            .expect("nothing was sent over the console socket")
    }
}

/// Everything readable from a pty master until the slave side is closed by every process
/// (EIO), in a thread; joined by the caller.
pub fn read_all(master: OwnedFd) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut f = File::from(master);
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = f.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&all).into_owned()
    })
}
