//! Driving the runtime under test through its runc command line: one [`Runtime`] per test, with
//! its own `--root` temp dir, that force-deletes every container it created when dropped (also
//! on panic), reaps their processes and removes the temp dirs.
//!
//! The test process is a child subreaper (`PR_SET_CHILD_SUBREAPER`, `man 2 prctl`): a container
//! init outlives `create`, is reparented to the test process and would stay a zombie (this
//! machine's PID 1 does not reap). The harness reaps exactly the pids it learnt from `state`,
//! never `waitpid(-1)`, which would steal the statuses of other threads' `Command`s.
//!
//! [`Runtime::rootless`] drives a copy of the binary as the unprivileged test user of
//! [`crate::rootless`], with a `--root` and a scratch dir that user owns; its cleanup runs as
//! that user too.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use serde_json::Value;
use tempfile::TempDir;

use crate::bundle::Bundle;
use crate::cgroups::ParentGuard;
use crate::rootless::{self, TestUser};

/// How long one runtime command may take before the test fails (and the command is killed).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// Which runtime the tests drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// husk-runtime.
    Husk,
    /// runc (the reference; `--version` starts with "runc").
    Runc,
}

/// The runtime binary: `$HUSK_RUNTIME`, else `<workspace>/target/debug/husk-runtime`.
pub fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("HUSK_RUNTIME") {
            return PathBuf::from(p);
        }
        // tests/ is one level below the workspace root.
        let ws = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let bin = ws.join("target/debug/husk-runtime");
        // Under `cargo test` ($CARGO set) the binary is always brought up to date (a no-op when
        // it is): `cargo test --workspace` builds the binaries' test harnesses, not the
        // binaries, so an older binary would otherwise be tested. Elsewhere (the v2 guest runs
        // the test binaries without cargo) it is only built when missing.
        if !bin.exists() || std::env::var_os("CARGO").is_some() {
            // Once per test process (cargo sets $CARGO for the tests it runs).
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let mut cmd = Command::new(cargo);
            cmd.args(["build", "-q", "-p", "husk-runtime", "--manifest-path"])
                .arg(ws.join("Cargo.toml"));
            let out = exec_timeout(cmd, true, Duration::from_secs(900));
            assert!(
                out.status.success() && bin.exists(),
                "cargo build -p husk-runtime failed (or set HUSK_RUNTIME): {out:#?}"
            );
        }
        bin
    })
}

/// The flavour of [`binary`], from its `--version` output.
pub fn flavour() -> Flavour {
    static FLAVOUR: OnceLock<Flavour> = OnceLock::new();
    *FLAVOUR.get_or_init(|| {
        let out = Command::new(binary()).arg("--version").output();
        match out {
            Ok(o) if String::from_utf8_lossy(&o.stdout).starts_with("runc") => Flavour::Runc,
            _ => Flavour::Husk,
        }
    })
}

fn init_process() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        nix::sys::prctl::set_child_subreaper(true).unwrap();
    });
}

/// What a runtime command did.
#[derive(Debug)]
pub struct Outcome {
    /// The exit status.
    pub status: ExitStatus,
    /// Its stdout (the container's too, for `run` in the foreground).
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
}

impl Outcome {
    /// The exit code (`None` when killed by a signal).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Panics with the whole outcome unless the command exited 0.
    pub fn ok(self) -> Outcome {
        assert!(self.status.success(), "expected success, got {self:#?}");
        self
    }

    /// Panics unless the command failed; returns the outcome for more checks.
    pub fn failed(self) -> Outcome {
        assert!(
            !self.status.success(),
            "expected a non-zero exit, got {self:#?}"
        );
        self
    }

    /// Panics unless stderr mentions every one of `words` (case-insensitive).
    pub fn stderr_mentions(&self, words: &[&str]) -> &Self {
        let err = self.stderr.to_lowercase();
        for w in words {
            assert!(
                err.contains(&w.to_lowercase()),
                "stderr does not mention {w:?}: {self:#?}"
            );
        }
        self
    }
}

/// Pids of the children spawned through [`spawn`] that have not been waited for: the orphan
/// reaper leaves them to their `Child`. Held across spawn so a child cannot exit unlisted.
static SPAWNED: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Spawns `cmd`, registering its pid so [`reap_orphans`] never steals its exit status. Call
/// [`waited`] once it has been waited for.
pub fn spawn(cmd: &mut Command) -> Child {
    let mut spawned = SPAWNED.lock().unwrap_or_else(|e| e.into_inner());
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    spawned.push(child.id());
    child
}

/// Unregisters a child of [`spawn`] after it has been waited for.
pub fn waited(child: &Child) {
    let mut spawned = SPAWNED.lock().unwrap_or_else(|e| e.into_inner());
    spawned.retain(|p| *p != child.id());
}

/// Reaps every zombie child of the test process that is not a registered `Command` child: the
/// container processes reparented to it (it is a child subreaper). Left unreaped they would
/// pass to this machine's PID 1, which never reaps them.
pub fn reap_orphans() {
    let spawned = SPAWNED.lock().unwrap_or_else(|e| e.into_inner());
    let me = std::process::id().to_string();
    let Ok(dir) = fs::read_dir("/proc") else {
        return;
    };
    for entry in dir.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if spawned.contains(&pid) {
            continue;
        }
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the `(comm)`: state, ppid, ... (`man 5 proc`).
        let rest: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, r)| r.split_whitespace().collect())
            .unwrap_or_default();
        if rest.len() > 1 && rest[0] == "Z" && rest[1] == me {
            let _ = waitpid(Pid::from_raw(pid as i32), Some(WaitPidFlag::WNOHANG));
        }
    }
}

/// Runs the host program `prog` with `args` (mount, ip, mknod...), registered so that
/// [`reap_orphans`] in a parallel test cannot steal its exit status; its outcome, captured.
pub fn host_command(prog: &str, args: &[&str]) -> Outcome {
    let mut cmd = Command::new(prog);
    cmd.args(args);
    exec(cmd, true)
}

/// Runs `cmd` with [`COMMAND_TIMEOUT`], collecting stdout and stderr (pipes unless already
/// set).
pub fn exec(cmd: Command, capture: bool) -> Outcome {
    exec_timeout(cmd, capture, COMMAND_TIMEOUT)
}

/// Runs `cmd` with a timeout (killing it and panicking when exceeded), collecting stdout and
/// stderr (pipes when `capture`, else whatever the caller set).
pub fn exec_timeout(mut cmd: Command, capture: bool, timeout: Duration) -> Outcome {
    cmd.stdin(Stdio::null());
    if capture {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let mut child = spawn(&mut cmd);
    // Readers feed channels so a pipe a descendant keeps open (a container that outlived its
    // runtime command) cannot hang the test: after the command exits they get 5 s more.
    let reader = |r: Option<Box<dyn Read + Send>>| {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut s = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut s);
            }
            let _ = tx.send(String::from_utf8_lossy(&s).into_owned());
        });
        rx
    };
    let out = reader(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let err = reader(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let status = wait_child(&mut child, timeout, &format!("{cmd:?}"));
    let collect = |rx: mpsc::Receiver<String>| {
        rx.recv_timeout(Duration::from_secs(5))
            .unwrap_or_else(|_| "<still held open by a process the command left running>".into())
    };
    Outcome {
        status,
        stdout: collect(out),
        stderr: collect(err),
    }
}

/// Waits for a child of [`spawn`] up to `timeout`; kills it and panics (naming `what`) when it
/// takes longer.
pub fn wait_child(child: &mut Child, timeout: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_micros(200);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            waited(child);
            return st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            waited(child);
            panic!("{what} did not finish in {timeout:?}");
        }
        thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}

/// One test's runtime: the binary, a `--root` temp dir, the containers made through it.
#[derive(Debug)]
pub struct Runtime {
    bin: PathBuf,
    root: TempDir,
    /// Scratch space of the test (container stdio files, hook outputs).
    scratch: TempDir,
    made: Mutex<Vec<(String, Option<i32>)>>,
    /// The user the runtime runs as ([`Runtime::rootless`]); `None`: the test process's root.
    user: Option<&'static TestUser>,
    /// The `cgroup.procs` every command starts in ([`Runtime::rootless_in_cgroup`]).
    cgroup_procs: Option<PathBuf>,
    _cgroups: ParentGuard,
}

impl Default for Runtime {
    fn default() -> Self {
        Self::new()
    }
}

impl Runtime {
    /// A runtime with a fresh `--root`; sets up the subreaper and the test cgroup parent.
    pub fn new() -> Runtime {
        Runtime::with_binary(binary())
    }

    /// Like [`Runtime::new`] but driving `bin` whatever `$HUSK_RUNTIME` says: the differential
    /// test runs one bundle under husk-runtime and under runc.
    pub fn with_binary(bin: &Path) -> Runtime {
        init_process();
        Runtime {
            bin: bin.to_path_buf(),
            root: tempfile::Builder::new()
                .prefix("husk-root-")
                .tempdir()
                .unwrap(),
            scratch: tempfile::Builder::new()
                .prefix("husk-scratch-")
                .tempdir()
                .unwrap(),
            made: Mutex::new(Vec::new()),
            user: None,
            cgroup_procs: None,
            _cgroups: ParentGuard::acquire(),
        }
    }

    /// A rootless runtime: a copy of the binary every user can run ([`rootless::runtime_binary`])
    /// run as the test user ([`rootless::user`]), with a `--root` (0700) and a scratch dir
    /// (0755) that user owns. Every command, the cleanup's `delete --force` included, runs as
    /// the user.
    pub fn rootless() -> Runtime {
        let user = rootless::user();
        let mut rt = Runtime::with_binary(rootless::runtime_binary());
        for (dir, mode) in [(rt.root.path(), 0o700), (rt.scratch.path(), 0o755)] {
            std::os::unix::fs::chown(dir, Some(user.uid), Some(user.gid)).unwrap();
            fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
        }
        rt.user = Some(user);
        rt
    }

    /// Like [`Runtime::rootless`], but every command starts in the cgroup whose `cgroup.procs`
    /// is `procs` (a leaf of a [`rootless::Delegation`]; see [`TestUser::command_in_cgroup`]).
    pub fn rootless_in_cgroup(procs: &Path) -> Runtime {
        let mut rt = Runtime::rootless();
        rt.cgroup_procs = Some(procs.to_path_buf());
        rt
    }

    /// The user this runtime runs as, when rootless.
    pub fn user(&self) -> Option<&'static TestUser> {
        self.user
    }

    /// The `--root` directory.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// The scratch directory of this test.
    pub fn scratch(&self) -> &Path {
        self.scratch.path()
    }

    /// A `Command` for `<runtime> --root <root> <args>`, with `HUSK_TEST_MARKER=<marker>` in
    /// its environment so every process it forks can be found (see
    /// [`crate::host::processes_mentioning`]).
    pub fn command(&self, args: &[&str], marker: &str) -> Command {
        let mut cmd = match (self.user, &self.cgroup_procs) {
            (Some(user), Some(procs)) => user.command_in_cgroup(procs, &self.bin),
            (Some(user), None) => user.command(&self.bin),
            (None, _) => Command::new(&self.bin),
        };
        cmd.arg("--root").arg(self.root.path()).args(args);
        cmd.env("HUSK_TEST_MARKER", marker);
        cmd
    }

    /// Runs `<runtime> --root <root> <args>` and captures its output.
    pub fn cmd(&self, args: &[&str]) -> Outcome {
        exec(self.command(args, "none"), true)
    }

    /// Adds container `id` to the ones this runtime force-deletes when dropped (for tests that
    /// run `create` themselves, e.g. to kill it half way).
    pub fn adopt(&self, id: &str) {
        self.remember(id);
    }

    fn remember(&self, id: &str) {
        let mut made = self.made.lock().unwrap_or_else(|e| e.into_inner());
        if !made.iter().any(|(i, _)| i == id) {
            made.push((id.to_string(), None));
        }
    }

    fn remember_pid(&self, id: &str, pid: i32) {
        let mut made = self.made.lock().unwrap_or_else(|e| e.into_inner());
        for entry in made.iter_mut() {
            if entry.0 == id {
                entry.1 = Some(pid);
            }
        }
    }

    /// The file that receives the stdout (`.out`) or stderr (`.err`) of detached container `id`
    /// and of the runtime command that made it.
    pub fn stdio_path(&self, id: &str, ext: &str) -> PathBuf {
        // Bad-id tests pass ids like "a/b" and "..".
        let name = id.replace('/', "%2F").replace('.', "%2E");
        self.scratch.path().join(format!("{name}.{ext}"))
    }

    /// What detached container `id` wrote to stdout so far.
    pub fn container_stdout(&self, id: &str) -> String {
        fs::read_to_string(self.stdio_path(id, "out")).unwrap_or_default()
    }

    /// Writes the bundle's config and runs `create <extra> <id> --bundle <dir>` (id from the
    /// bundle). Stdio go to files (the container keeps them open, so pipes would never reach
    /// EOF): the outcome's stdout/stderr are those files' contents when create returned.
    pub fn create_with(&self, bundle: &Bundle, id: &str, extra: &[&str]) -> Outcome {
        bundle.write();
        self.create_as_is(bundle, id, extra)
    }

    /// Like [`Runtime::create_with`] but with the bundle's config.json as it is on disk (or
    /// missing): for the bad-input tests.
    pub fn create_as_is(&self, bundle: &Bundle, id: &str, extra: &[&str]) -> Outcome {
        self.remember(id);
        let mut args = vec!["create"];
        args.extend_from_slice(extra);
        let bundle_dir = bundle.path().to_string_lossy().into_owned();
        args.extend_from_slice(&["--bundle", &bundle_dir, id]);
        let mut cmd = self.command(&args, id);
        let out = File::create(self.stdio_path(id, "out")).unwrap();
        let err = File::create(self.stdio_path(id, "err")).unwrap();
        cmd.stdout(out).stderr(err);
        let o = exec(cmd, false);
        let outcome = Outcome {
            status: o.status,
            stdout: fs::read_to_string(self.stdio_path(id, "out")).unwrap_or_default(),
            stderr: fs::read_to_string(self.stdio_path(id, "err")).unwrap_or_default(),
        };
        if outcome.status.success() {
            if let Some(pid) = self.try_state(id).and_then(|s| s["pid"].as_i64()) {
                self.remember_pid(id, pid as i32);
            }
        }
        outcome
    }

    /// `create` of the bundle's container, which must succeed.
    pub fn create(&self, bundle: &Bundle) -> Outcome {
        self.create_with(bundle, &bundle.id, &[]).ok()
    }

    /// `start <id>`.
    pub fn start(&self, id: &str) -> Outcome {
        self.cmd(&["start", id])
    }

    /// `create` then `start`, both of which must succeed.
    pub fn create_start(&self, bundle: &Bundle) {
        self.create(bundle);
        self.start(&bundle.id).ok();
    }

    /// `run <extra> --bundle <dir> <id>` in the foreground, output captured (the container's
    /// stdout and stderr are the runtime's).
    pub fn run_with(&self, bundle: &Bundle, extra: &[&str]) -> Outcome {
        bundle.write();
        self.remember(&bundle.id);
        let bundle_dir = bundle.path().to_string_lossy().into_owned();
        let mut args = vec!["run"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--bundle", &bundle_dir, &bundle.id]);
        exec(self.command(&args, &bundle.id), true)
    }

    /// `run` in the foreground.
    pub fn run(&self, bundle: &Bundle) -> Outcome {
        self.run_with(bundle, &[])
    }

    /// `run` in the foreground; panics unless it exits 0; returns the container's stdout.
    pub fn run_ok(&self, bundle: &Bundle) -> String {
        self.run(bundle).ok().stdout
    }

    /// Asserts that the (failed or deleted) container of `b` left nothing behind: no state dir
    /// under --root, no `state` answer, no cgroup, no process of it or of this root, no mount
    /// mentioning the bundle on the host.
    pub fn assert_left_nothing(&self, b: &Bundle) {
        let id = &b.id;
        assert!(
            !self.root().join(id).exists(),
            "state dir of {id} left under --root"
        );
        assert!(self.try_state(id).is_none(), "state {id} still answers");
        for d in crate::cgroups::container_dirs(id) {
            assert!(!d.exists(), "cgroup {} left", d.display());
        }
        assert!(
            crate::host::processes_mentioning(&[
                &format!("HUSK_TEST_MARKER={id}"),
                self.root().to_str().unwrap()
            ])
            .is_empty(),
            "processes of {id} left"
        );
        assert!(
            crate::host::mounts_mentioning(b.path()).is_empty(),
            "mounts of the bundle left on the host"
        );
    }

    /// `state <id>` parsed, or `None` when the command fails.
    pub fn try_state(&self, id: &str) -> Option<Value> {
        let o = self.cmd(&["state", id]);
        if !o.status.success() {
            return None;
        }
        Some(
            serde_json::from_str(&o.stdout)
                .unwrap_or_else(|e| panic!("state output is not JSON ({e}): {o:#?}")),
        )
    }

    /// `state <id>`, which must succeed.
    pub fn state(&self, id: &str) -> Value {
        self.try_state(id)
            .unwrap_or_else(|| panic!("state {id} failed: {:#?}", self.cmd(&["state", id])))
    }

    /// The `status` field of `state <id>`.
    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"].as_str().unwrap().to_string()
    }

    /// Waits (up to 10 s) until `state <id>` says `status`. An exited init stays a zombie of
    /// the test process until cleanup reaps it; runtimes count a zombie as stopped.
    pub fn wait_status(&self, id: &str, status: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let now = self.status(id);
            if now == status {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "container {id} still {now:?}, expected {status:?}"
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// `kill <id> <signal>`.
    pub fn kill(&self, id: &str, signal: &str) -> Outcome {
        self.cmd(&["kill", id, signal])
    }

    /// `delete <id>`.
    pub fn delete(&self, id: &str) -> Outcome {
        self.cmd(&["delete", id])
    }

    /// Force-deletes everything this runtime made, and every container still in its root
    /// (others sharing it made them), and reaps the inits.
    fn cleanup(&self) {
        let made = std::mem::take(&mut *self.made.lock().unwrap_or_else(|e| e.into_inner()));
        for (id, pid) in made {
            if self.root.path().join(&id).exists() || self.try_state(&id).is_some() {
                let _ = exec(self.command(&["delete", "--force", &id], &id), true);
            }
            if let Some(pid) = pid {
                reap(pid);
            }
        }
        // Containers others made in this root (the husk front end shares it): a monitor a
        // failed test killed leaves its container running, which must not outlive the test.
        for entry in fs::read_dir(self.root.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                let id = entry.file_name().to_string_lossy().into_owned();
                let _ = exec(self.command(&["delete", "--force", &id], &id), true);
            }
        }
        reap_orphans();
    }
}

/// Kills and reaps a detached exec'd process (reparented to the test process, a subreaper).
pub fn kill_reap(pid: i32) {
    let _ = nix::sys::signal::kill(Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
    let _ = waitpid(Pid::from_raw(pid), None);
}

/// Waits up to 5 s for `pid` (a container init reparented to the test process) to exit, and
/// reaps it. A pid that is not our child (ECHILD) is done with.
pub fn reap(pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) if Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(5));
            }
            _ => return,
        }
    }
}

impl Runtime {
    /// `create` + `start` of `b`; the init's host pid.
    pub fn running(&self, b: &Bundle) -> i32 {
        self.create_start(b);
        self.state(&b.id)["pid"].as_i64().unwrap() as i32
    }

    /// `exec <flags> <id> <cmd...>` in the foreground, output captured.
    pub fn exec_in(&self, id: &str, flags: &[&str], cmd: &[&str]) -> Outcome {
        let mut args = vec!["exec"];
        args.extend_from_slice(flags);
        args.push(id);
        args.extend_from_slice(cmd);
        self.cmd(&args)
    }

    /// `exec -d --pid-file F <flags> <id> <cmd...>` with stdio on /dev/null; the process's
    /// host pid, from the pid file (written whole: no partial number).
    pub fn exec_detached(&self, id: &str, flags: &[&str], cmd: &[&str]) -> i32 {
        let pid_file = self
            .scratch()
            .join(format!("exec-{}.pid", crate::bundle::unique_id()));
        let pf = pid_file.to_str().unwrap().to_string();
        let mut args = vec!["exec", "-d", "--pid-file", &pf];
        args.extend_from_slice(flags);
        args.push(id);
        args.extend_from_slice(cmd);
        let mut c = self.command(&args, id);
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let o = exec(c, true);
        assert!(o.status.success(), "exec -d failed: {o:#?}");
        let text = fs::read_to_string(&pid_file).unwrap();
        assert!(
            !text.ends_with('\n') || text.trim().parse::<i32>().is_ok(),
            "{text:?}"
        );
        text.trim().parse().unwrap()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.cleanup();
    }
}
