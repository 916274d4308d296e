//! The lifecycle verbs (create, start, state, kill, delete, run) on top of the process model.
//! (Interface stub: the bodies are being written.)

use std::path::PathBuf;

/// Why the container's program could not be executed (Docker's exit codes 127 and 126).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecFailure {
    /// `process.args[0]` was not found on the container's PATH (exit 127 in `husk run`).
    NotFound,
    /// It was found but is not executable (exit 126 in `husk run`).
    NotExecutable,
}

/// Errors of the lifecycle verbs.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// Not written yet.
    #[error("not implemented yet")]
    NotImplemented,
}

impl ContainerError {
    /// Whether this error means the user program could not be executed, and why.
    pub fn exec_failure(&self) -> Option<ExecFailure> {
        None
    }
}

/// Options of `create` and `run` (runc's flags).
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// The state root (`--root`, default /run/husk); the container's state is `<root>/<id>/`.
    pub root: PathBuf,
    /// The container id.
    pub id: String,
    /// The bundle directory holding config.json.
    pub bundle: PathBuf,
    /// `--pid-file`: where to write the init's pid (in the caller's pid namespace).
    pub pid_file: Option<PathBuf>,
    /// `--no-pivot`: MS_MOVE + chroot instead of pivot_root.
    pub no_pivot: bool,
    /// `--no-new-keyring`: keep the caller's session keyring.
    pub no_new_keyring: bool,
    /// `--console-socket`: where to send the pty master when `process.terminal` is true.
    pub console_socket: Option<PathBuf>,
}

/// `run` in the foreground: create, start, wait (forwarding signals; proxying the pty when
/// `process.terminal` is true), delete; returns the container's exit status (128+N when it
/// died of signal N).
pub fn run(_opts: &CreateOptions) -> Result<i32, ContainerError> {
    Err(ContainerError::NotImplemented)
}
