//! Hooks: running the `hooks.*` programs of config.json (prestart, createRuntime,
//! createContainer, startContainer, poststart, poststop) with the container's state on stdin.
//!
//! Each hook runs to completion before the next (in config order), with exactly its `args`
//! (`args[0]` is `argv[0]`) and its `env` (nothing inherited), the state JSON on stdin and its
//! `timeout`. The run loop is single-threaded (poll(2) over the hook's three pipes, its exit
//! checked with waitpid WNOHANG) because createContainer and startContainer hooks run in the
//! container's init, where spawning threads is best avoided; a hook that never reads stdin or
//! writes a lot of output can neither block nor kill husk.
//!
//! What a failure means is the caller's policy (runtime-spec v1.3 `config.md#posix-platform-hooks`
//! and `runtime.md#lifecycle`): createRuntime, createContainer, startContainer, prestart and
//! poststart errors fail the operation; a poststop error is logged as a warning and the
//! deletion continues.
//!
//! Requirements on the calling process: SIGPIPE ignored (Rust binaries ignore it from the start;
//! a hook that exits without reading stdin then gives EPIPE, which is not an error), and its
//! current directory is the hooks' (the spec leaves it open; runc runs them in the bundle).
//!
//! Sources: runtime-spec `config.md` "POSIX-platform Hooks", `man 2 poll`, `man 2 waitpid`,
//! `man 7 pipe`.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use oci_spec::runtime::Hook;

/// At most this much of a hook's stdout and of its stderr is kept for messages; the rest is
/// read and dropped, so a chatty hook neither blocks on a full pipe nor fills memory.
const KEEP_OUTPUT: usize = 64 * 1024;

/// How many lines of the hook's stderr a failure message quotes.
const QUOTED_LINES: usize = 5;

/// The longest a poll waits before husk checks again whether the hook has exited (a hook whose
/// own children keep its stdout open gives no pipe event when it exits).
const MAX_POLL: Duration = Duration::from_millis(50);

/// Which list of `hooks` is run: the point in the lifecycle (runtime-spec `runtime.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    /// `hooks.prestart` (deprecated): after the container is created, before pivot_root, in
    /// the runtime namespace.
    Prestart,
    /// `hooks.createRuntime`: during create, after the namespaces exist, in the runtime
    /// namespace.
    CreateRuntime,
    /// `hooks.createContainer`: during create, in the container namespace, before pivot_root.
    CreateContainer,
    /// `hooks.startContainer`: during start, in the container, before the user program.
    StartContainer,
    /// `hooks.poststart`: after the user program started, in the runtime namespace.
    Poststart,
    /// `hooks.poststop`: after the container is deleted, in the runtime namespace.
    Poststop,
}

impl HookKind {
    /// Every kind, in lifecycle order.
    pub const ALL: [HookKind; 6] = [
        HookKind::Prestart,
        HookKind::CreateRuntime,
        HookKind::CreateContainer,
        HookKind::StartContainer,
        HookKind::Poststart,
        HookKind::Poststop,
    ];

    /// The list's JSON field name under `hooks`, e.g. `createRuntime`.
    pub fn field_name(self) -> &'static str {
        match self {
            HookKind::Prestart => "prestart",
            HookKind::CreateRuntime => "createRuntime",
            HookKind::CreateContainer => "createContainer",
            HookKind::StartContainer => "startContainer",
            HookKind::Poststart => "poststart",
            HookKind::Poststop => "poststop",
        }
    }

    /// The JSON path of the hook at `index`, e.g. `hooks.createRuntime[1]`.
    pub fn field(self, index: usize) -> String {
        format!("hooks.{}[{index}]", self.field_name())
    }
}

impl std::fmt::Display for HookKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "hooks.{}", self.field_name())
    }
}

/// What is wrong with a hook, or how running it failed. `field` is the hook's JSON path, e.g.
/// `hooks.createRuntime[1]`.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// `path` is not absolute (the spec requires an absolute path).
    #[error("{field}.path: {} is not an absolute path; give the hook's full path", path.display())]
    RelativePath {
        /// The hook's field.
        field: String,
        /// The path given.
        path: PathBuf,
    },
    /// `timeout` is zero or negative (the spec requires it to be greater than zero).
    #[error("{field}.timeout: {timeout} is not a number of seconds greater than zero")]
    BadTimeout {
        /// The hook's field.
        field: String,
        /// The timeout given.
        timeout: i64,
    },
    /// An `env` entry is not `KEY=value`.
    #[error("{field}.env[{index}]: {entry:?} is not of the form KEY=value")]
    BadEnv {
        /// The hook's field.
        field: String,
        /// Index in `env`.
        index: usize,
        /// The entry.
        entry: String,
    },
    /// The hook could not be started (execve failed: missing file, not executable, ...).
    #[error("{field}: starting {} failed: {source}", path.display())]
    Spawn {
        /// The hook's field.
        field: String,
        /// The hook's path.
        path: PathBuf,
        /// The error of fork/execve.
        source: std::io::Error,
    },
    /// Talking to the running hook (pipes, poll, waitpid) failed.
    #[error("{field}: running {} failed: {source}", path.display())]
    Io {
        /// The hook's field.
        field: String,
        /// The hook's path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The hook ran longer than its `timeout`; it was killed (SIGKILL) and reaped.
    #[error(
        "{field}: {} did not finish within its timeout of {seconds} s and was killed",
        path.display()
    )]
    TimedOut {
        /// The hook's field.
        field: String,
        /// The hook's path.
        path: PathBuf,
        /// The timeout in seconds.
        seconds: u64,
    },
    /// The hook exited with a non-zero status or was killed by a signal.
    #[error("{field}: {} {status}; {output}", path.display())]
    Failed {
        /// The hook's field.
        field: String,
        /// The hook's path.
        path: PathBuf,
        /// How it ended, e.g. `exited with status 3`, `was killed by signal 9`.
        status: String,
        /// The first lines of its stderr (or of its stdout when stderr was empty).
        output: String,
    },
}

/// Checks every hook of one list without running any: absolute `path`, `timeout` greater than
/// zero, `env` entries of the form `KEY=value` (runtime-spec `config.md` "POSIX-platform Hooks").
/// The parent calls it for every list before creating anything, so that a hook run later by
/// the init cannot fail for a config reason.
///
/// # Errors
/// [`HookError::RelativePath`], [`HookError::BadTimeout`] or [`HookError::BadEnv`] naming the
/// field, e.g. `hooks.poststop[0].timeout`.
pub fn check(hooks: &[Hook], kind: HookKind) -> Result<(), HookError> {
    for (index, hook) in hooks.iter().enumerate() {
        check_one(hook, &kind.field(index))?;
    }
    Ok(())
}

fn check_one(hook: &Hook, field: &str) -> Result<(), HookError> {
    if !hook.path().is_absolute() {
        return Err(HookError::RelativePath {
            field: field.to_string(),
            path: hook.path().clone(),
        });
    }
    if let Some(timeout) = hook.timeout() {
        if timeout <= 0 {
            return Err(HookError::BadTimeout {
                field: field.to_string(),
                timeout,
            });
        }
    }
    for (index, entry) in hook.env().iter().flatten().enumerate() {
        let key = entry.split_once('=').map(|(k, _)| k).unwrap_or_default();
        if key.is_empty() {
            return Err(HookError::BadEnv {
                field: field.to_string(),
                index,
                entry: entry.clone(),
            });
        }
    }
    Ok(())
}

/// Runs the hooks of one list in order, each with `state_json` (the container's state, as
/// `husk-runtime state` prints it) on its stdin, and stops at the first that fails.
///
/// Each hook is executed with `path`, `args` (`args[0]` as `argv[0]`, the rest as arguments; absent
/// args mean `argv = [path]`), exactly `env` (an empty environment when absent) and, if set,
/// `timeout` seconds, after which it is killed with SIGKILL and reaped. Its stdout and stderr
/// are read (the first 64 KiB of each kept for messages); the hook's children are not waited
/// for.
///
/// # Errors
/// What [`check`] reports (checked for the whole list before the first hook runs);
/// [`HookError::Spawn`], [`HookError::TimedOut`], [`HookError::Failed`] (with the exit status
/// and the first lines of stderr) or [`HookError::Io`] for the failing hook.
pub fn run(hooks: &[Hook], kind: HookKind, state_json: &[u8]) -> Result<(), HookError> {
    check(hooks, kind)?;
    for (index, hook) in hooks.iter().enumerate() {
        run_one(hook, &kind.field(index), state_json)?;
    }
    Ok(())
}

fn run_one(hook: &Hook, field: &str, state_json: &[u8]) -> Result<(), HookError> {
    let path = hook.path();
    let mut cmd = Command::new(path);
    if let Some((argv0, rest)) = hook.args().as_deref().and_then(<[String]>::split_first) {
        cmd.arg0(argv0).args(rest);
    }
    cmd.env_clear();
    for entry in hook.env().iter().flatten() {
        // check_one made sure of the '='.
        if let Some((key, value)) = entry.split_once('=') {
            cmd.env(key, value);
        }
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Its own process group, so that a timeout kills what the hook started too.
    cmd.process_group(0);
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|source| HookError::Spawn {
        field: field.to_string(),
        path: path.clone(),
        source,
    })?;
    // timeout > 0 (check_one).
    let timeout = hook.timeout().map(|s| s.unsigned_abs());
    let deadline = timeout.map(|s| started + Duration::from_secs(s));
    let io_err = |source| HookError::Io {
        field: field.to_string(),
        path: path.clone(),
        source,
    };
    match supervise(&mut child, state_json, deadline) {
        Ok(Some(outcome)) => judge(outcome, field, path),
        Ok(None) => {
            kill_and_reap(&mut child);
            Err(HookError::TimedOut {
                field: field.to_string(),
                path: path.clone(),
                seconds: timeout.unwrap_or_default(),
            })
        }
        Err(e) => {
            kill_and_reap(&mut child);
            Err(io_err(e))
        }
    }
}

/// SIGKILL and waitpid: no zombie is left behind whatever happened.
fn kill_and_reap(child: &mut Child) {
    // The whole process group (the hook leads it): a hook that started children and then
    // hung or timed out takes them along. kill fails only if all already exited; wait then
    // reaps the hook either way.
    let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
    let _ = child.kill();
    if let Err(e) = child.wait() {
        tracing::warn!("reaping hook pid {} failed: {e}", child.id());
    }
}

/// How a hook ended and what it wrote.
struct Outcome {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

fn judge(outcome: Outcome, field: &str, path: &Path) -> Result<(), HookError> {
    if outcome.status.success() {
        if !outcome.stdout.is_empty() {
            tracing::debug!(
                "{field}: stdout: {}",
                String::from_utf8_lossy(&outcome.stdout)
            );
        }
        return Ok(());
    }
    let status = match (outcome.status.code(), outcome.status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => match nix::sys::signal::Signal::try_from(sig) {
            Ok(s) => format!("was killed by signal {sig} ({s})"),
            Err(_) => format!("was killed by signal {sig}"),
        },
        (None, None) => format!("ended with {}", outcome.status),
    };
    let output = match (first_lines(&outcome.stderr), first_lines(&outcome.stdout)) {
        (Some(err), _) => format!("stderr: {err}"),
        (None, Some(out)) => format!("no stderr; stdout: {out}"),
        (None, None) => "it wrote nothing on stderr or stdout".to_string(),
    };
    Err(HookError::Failed {
        field: field.to_string(),
        path: path.to_path_buf(),
        status,
        output,
    })
}

/// The first [`QUOTED_LINES`] non-empty lines of `bytes`, joined with " | "; `None` if there are
/// none.
fn first_lines(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .take(QUOTED_LINES)
        .collect();
    (!lines.is_empty()).then(|| lines.join(" | "))
}

fn set_nonblocking(fd: &impl AsRawFd) -> std::io::Result<()> {
    let flags = fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL)?;
    let flags = OFlag::from_bits_retain(flags) | OFlag::O_NONBLOCK;
    fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(flags))?;
    Ok(())
}

/// An output pipe being drained: keeps the first [`KEEP_OUTPUT`] bytes.
struct Drain<R> {
    pipe: Option<R>,
    kept: Vec<u8>,
}

impl<R: Read> Drain<R> {
    /// Reads what is there without blocking; closes the pipe at end of file.
    fn read_available(&mut self) -> std::io::Result<()> {
        let Some(pipe) = self.pipe.as_mut() else {
            return Ok(());
        };
        let mut buf = [0u8; 16 * 1024];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => {
                    self.pipe = None;
                    return Ok(());
                }
                Ok(n) => {
                    let room = KEEP_OUTPUT.saturating_sub(self.kept.len());
                    self.kept.extend_from_slice(&buf[..n.min(room)]);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Feeds `input` to the child's stdin and drains its stdout and stderr until it exits.
/// Returns `None` when `deadline` passed first (the child still runs).
fn supervise(
    child: &mut Child,
    input: &[u8],
    deadline: Option<Instant>,
) -> std::io::Result<Option<Outcome>> {
    let mut stdin = child.stdin.take();
    let mut out = Drain {
        pipe: child.stdout.take(),
        kept: Vec::new(),
    };
    let mut err = Drain {
        pipe: child.stderr.take(),
        kept: Vec::new(),
    };
    for fd in stdin.iter() {
        set_nonblocking(fd)?;
    }
    for fd in out.pipe.iter() {
        set_nonblocking(fd)?;
    }
    for fd in err.pipe.iter() {
        set_nonblocking(fd)?;
    }
    let mut written = 0;
    // Sleep between exit checks once every pipe is closed: short at first (a hook usually
    // exits right after closing its output), longer later.
    let mut backoff = Duration::from_micros(100);
    loop {
        if written == input.len() {
            // Closing stdin is the hook's end of file.
            stdin = None;
        }
        if let Some(status) = child.try_wait()? {
            out.read_available()?;
            err.read_available()?;
            return Ok(Some(Outcome {
                status,
                stdout: out.kept,
                stderr: err.kept,
            }));
        }
        let now = Instant::now();
        let left = match deadline {
            Some(d) if d <= now => return Ok(None),
            Some(d) => (d - now).min(MAX_POLL),
            None => MAX_POLL,
        };
        let (mut want_in, mut want_out, mut want_err) = (false, false, false);
        {
            let mut fds = Vec::with_capacity(3);
            if let Some(s) = &stdin {
                fds.push(PollFd::new(s.as_fd(), PollFlags::POLLOUT));
                want_in = true;
            }
            if let Some(p) = &out.pipe {
                fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
                want_out = true;
            }
            if let Some(p) = &err.pipe {
                fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
                want_err = true;
            }
            if fds.is_empty() {
                std::thread::sleep(backoff.min(left));
                backoff = (backoff * 2).min(MAX_POLL);
                continue;
            }
            // Round up, so a wait shorter than 1 ms does not become a busy loop.
            let ms = u16::try_from(left.as_millis() + 1).unwrap_or(u16::MAX);
            match poll(&mut fds, PollTimeout::from(ms)) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        // Whatever poll said, try every open pipe: each is non-blocking.
        if want_in {
            if let Some(s) = stdin.as_mut() {
                match s.write(&input[written..]) {
                    Ok(n) => written += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    // The hook closed its stdin (or exited) without reading it all: its choice.
                    Err(e) if e.kind() == ErrorKind::BrokenPipe => written = input.len(),
                    Err(e) => return Err(e),
                }
            }
        }
        if want_out {
            out.read_available()?;
        }
        if want_err {
            err.read_available()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hook running `script` with /bin/sh -c (the script is an argument, not an executable
    /// file: writing and executing a fresh file races with other tests' forks, ETXTBSY).
    fn sh(script: &str, env: &[&str], timeout: Option<i64>) -> Hook {
        let mut h: Hook = serde_json::from_value(serde_json::json!({
            "path": "/bin/sh",
            "args": ["hook-sh", "-c", script, "hook-name"],
            "env": env,
        }))
        .unwrap();
        h.set_timeout(timeout);
        h
    }

    fn state() -> Vec<u8> {
        br#"{"ociVersion":"1.3.0","id":"c1","status":"creating","pid":42,"bundle":"/b"}"#.to_vec()
    }

    #[test]
    fn field_names_are_the_json_names() {
        assert_eq!(HookKind::CreateRuntime.field(1), "hooks.createRuntime[1]");
        assert_eq!(HookKind::StartContainer.to_string(), "hooks.startContainer");
        assert_eq!(HookKind::Prestart.field_name(), "prestart");
        assert_eq!(HookKind::Poststop.field(0), "hooks.poststop[0]");
    }

    #[test]
    fn stdin_args_and_env_reach_the_hook() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        let script = format!(
            "cat > {d}/stdin; tr '\\0' '\\n' < /proc/$$/cmdline > {d}/argv; \
             tr '\\0' '\\n' < /proc/$$/environ > {d}/environ"
        );
        let hook = sh(&script, &["A=1", "B=two words", "EMPTY="], None);
        run(&[hook], HookKind::CreateRuntime, &state()).unwrap();
        assert_eq!(std::fs::read(dir.path().join("stdin")).unwrap(), state());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("argv")).unwrap(),
            format!("hook-sh\n-c\n{script}\nhook-name\n")
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("environ")).unwrap(),
            "A=1\nB=two words\nEMPTY=\n"
        );
    }

    #[test]
    fn absent_args_and_env_mean_argv_path_and_empty_environment() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        // /bin/sh without arguments runs the commands on its stdin: here the "state".
        let script = format!(
            "tr '\\0' '\\n' < /proc/$$/cmdline > {d}/argv; \
             tr '\\0' '\\n' < /proc/$$/environ > {d}/environ"
        );
        let first: Hook = serde_json::from_value(serde_json::json!({"path": "/bin/sh"})).unwrap();
        run(&[first], HookKind::Poststart, script.as_bytes()).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("argv")).unwrap(),
            "/bin/sh\n"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("environ")).unwrap(),
            ""
        );
    }

    #[test]
    fn a_hook_that_ignores_a_large_stdin_neither_hangs_nor_fails() {
        // 1 MiB: far more than a pipe holds (64 KiB).
        let big = vec![b'x'; 1 << 20];
        let started = Instant::now();
        run(&[sh("exit 0", &[], Some(10))], HookKind::Prestart, &big).unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn lots_of_output_does_not_deadlock() {
        let dir = tempfile::tempdir().unwrap();
        let count = dir.path().join("count");
        // Reads all of stdin, then writes 4 MiB to stdout and to stderr.
        let script = format!(
            "wc -c > {}; head -c 4194304 /dev/zero; head -c 4194304 /dev/zero >&2",
            count.display()
        );
        let big = vec![b'{'; 300_000];
        run(
            &[sh(&script, &[], Some(20))],
            HookKind::CreateContainer,
            &big,
        )
        .unwrap();
        assert_eq!(std::fs::read_to_string(&count).unwrap().trim(), "300000");
    }

    #[test]
    fn timeout_kills_and_reaps_the_hook() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let script = format!("echo $$ > {}; exec sleep 30", pidfile.display());
        let started = Instant::now();
        let e = run(
            &[sh(&script, &[], Some(1))],
            HookKind::StartContainer,
            b"{}",
        )
        .unwrap_err();
        let took = started.elapsed();
        assert!(matches!(e, HookError::TimedOut { seconds: 1, .. }), "{e}");
        assert_eq!(
            e.to_string(),
            "hooks.startContainer[0]: /bin/sh did not finish within its timeout of 1 s and was \
             killed"
        );
        assert!(
            took >= Duration::from_secs(1) && took < Duration::from_secs(5),
            "{took:?}"
        );
        // Killed and reaped: no process (not even a zombie) with that pid is our child.
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let r = nix::sys::wait::waitpid(
            nix::unistd::Pid::from_raw(pid),
            Some(nix::sys::wait::WaitPidFlag::WNOHANG),
        );
        assert_eq!(r, Err(nix::errno::Errno::ECHILD));
    }

    #[test]
    fn failure_names_field_path_status_and_stderr() {
        let dir = tempfile::tempdir().unwrap();
        let not_run = dir.path().join("not-run");
        let ok = sh("exit 0", &[], None);
        let fail = sh(
            "echo 'first problem' >&2; echo 'second problem' >&2; echo out; exit 3",
            &[],
            None,
        );
        let later = sh(&format!("touch {}", not_run.display()), &[], None);
        let e = run(&[ok, fail, later], HookKind::CreateRuntime, b"{}").unwrap_err();
        assert_eq!(
            e.to_string(),
            "hooks.createRuntime[1]: /bin/sh exited with status 3; stderr: first problem | \
             second problem"
        );
        assert!(!not_run.exists(), "a hook after the failing one ran");
    }

    #[test]
    fn killed_hook_and_stdout_only_failure() {
        let e = run(&[sh("kill -9 $$", &[], None)], HookKind::Poststop, b"{}").unwrap_err();
        assert_eq!(
            e.to_string(),
            "hooks.poststop[0]: /bin/sh was killed by signal 9 (SIGKILL); it wrote nothing on \
             stderr or stdout"
        );
        let e = run(
            &[sh("echo only-out; exit 1", &[], None)],
            HookKind::Poststop,
            b"{}",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "hooks.poststop[0]: /bin/sh exited with status 1; no stderr; stdout: only-out"
        );
    }

    #[test]
    fn missing_program_is_a_spawn_error() {
        let h: Hook =
            serde_json::from_value(serde_json::json!({"path": "/nonexistent/hook"})).unwrap();
        let e = run(&[h], HookKind::Prestart, b"{}").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("hooks.prestart[0]: starting /nonexistent/hook failed: No such file"),
            "{e}"
        );
    }

    #[test]
    fn check_refuses_bad_fields_before_running_anything() {
        let dir = tempfile::tempdir().unwrap();
        let ran = dir.path().join("ran");
        let first = sh(&format!("touch {}", ran.display()), &[], None);
        let rel: Hook = serde_json::from_value(serde_json::json!({"path": "bin/hook"})).unwrap();
        let e = run(&[first.clone(), rel], HookKind::CreateRuntime, b"{}").unwrap_err();
        assert_eq!(
            e.to_string(),
            "hooks.createRuntime[1].path: bin/hook is not an absolute path; give the hook's \
             full path"
        );
        assert!(!ran.exists());
        let e = check(&[sh("true", &[], Some(0))], HookKind::Poststart).unwrap_err();
        assert_eq!(
            e.to_string(),
            "hooks.poststart[0].timeout: 0 is not a number of seconds greater than zero"
        );
        let e = check(
            &[sh("true", &["A=1", "NOEQUALS"], None)],
            HookKind::Poststart,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "hooks.poststart[0].env[1]: \"NOEQUALS\" is not of the form KEY=value"
        );
        check(&[first], HookKind::Poststart).unwrap();
    }
}
