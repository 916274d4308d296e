//! Driving the front end `husk` (`<workspace>/target/debug/husk`, built on first use like
//! [`crate::runtime::binary`]): every call gets its own `--data-root` and `--root` temp dirs
//! and `--cgroup-parent husk-test-<pid>`, so nothing outside temp dirs and the test cgroup
//! parent is touched. [`Husk::leaks`] lists what a finished `husk run` left behind.
//!
//! [`Husk::rootless`] runs `husk` as the unprivileged test user of [`crate::rootless`] (from a
//! copy it can read), with a data root and a runtime state root that user owns.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use tempfile::TempDir;

use crate::bundle::unique_id;
use crate::rootless::{self, TestUser};
use crate::runtime::{exec, exec_timeout, Outcome, Runtime};
use crate::{cgroups, host};

/// The `husk` binary: `$HUSK_FRONT`, else `<workspace>/target/debug/husk`, built if missing.
pub fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("HUSK_FRONT") {
            return PathBuf::from(p);
        }
        let ws = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let bin = ws.join("target/debug/husk");
        // Under `cargo test` ($CARGO set) the binary is always brought up to date (a no-op when
        // it is): `cargo test --workspace` builds the binaries' test harnesses, not the
        // binaries, so an older binary would otherwise be tested. Elsewhere (the v2 guest runs
        // the test binaries without cargo) it is only built when missing.
        if !bin.exists() || std::env::var_os("CARGO").is_some() {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let mut cmd = Command::new(cargo);
            cmd.args(["build", "-q", "-p", "husk", "--manifest-path"])
                .arg(ws.join("Cargo.toml"));
            let out = exec_timeout(cmd, true, Duration::from_secs(900));
            assert!(
                out.status.success() && bin.exists(),
                "cargo build -p husk failed (or set HUSK_FRONT): {out:#?}"
            );
        }
        bin
    })
}

/// One test's `husk`: a data root, and a [`Runtime`] whose `--root` husk shares (the runtime
/// also holds the test cgroup parent and makes the test process a subreaper).
#[derive(Debug)]
pub struct Husk {
    data: TempDir,
    /// The runtime sharing husk's `--root` (for `kill`, `state` while a container runs).
    pub rt: Runtime,
    user: Option<&'static TestUser>,
}

impl Default for Husk {
    fn default() -> Self {
        Self::new()
    }
}

impl Husk {
    /// Fresh temp dirs.
    pub fn new() -> Husk {
        Husk {
            data: tempfile::Builder::new()
                .prefix("husk-data-")
                .tempdir()
                .unwrap(),
            rt: Runtime::new(),
            user: None,
        }
    }

    /// `husk` as the rootless test user ([`crate::rootless::user`]): a data root it owns, the
    /// state root of [`Runtime::rootless`], and the command run as it with a login's
    /// environment.
    pub fn rootless() -> Husk {
        let user = rootless::user();
        Husk {
            data: user.tempdir("husk-data-"),
            rt: Runtime::rootless(),
            user: Some(user),
        }
    }

    /// The user `husk` runs as, when rootless.
    pub fn user(&self) -> Option<&'static TestUser> {
        self.user
    }

    /// The `--data-root`.
    pub fn data_root(&self) -> &Path {
        self.data.path()
    }

    /// The `--root` (the runtime state root).
    pub fn state_root(&self) -> &Path {
        self.rt.root()
    }

    /// A fresh container name (also its id and its cgroup's name).
    pub fn name() -> String {
        unique_id()
    }

    /// `husk --data-root D --root R run --cgroup-parent husk-test-<pid> --name NAME
    /// -e HUSK_TEST_MARKER=NAME <opts> <source> <cmd>`, as a `Command` not yet run.
    pub fn command(&self, name: &str, opts: &[&str], source: &str, cmd: &[&str]) -> Command {
        let mut c = match self.user {
            Some(user) => user.command(rootless::front_binary()),
            None => Command::new(binary()),
        };
        c.arg("--data-root")
            .arg(self.data.path())
            .arg("--root")
            .arg(self.rt.root())
            .arg("run")
            .arg("--cgroup-parent")
            .arg(cgroups::parent_name())
            .arg("--name")
            .arg(name)
            .arg("-e")
            .arg(format!("HUSK_TEST_MARKER={name}"))
            .args(opts)
            .arg(source)
            .args(cmd);
        c.env("HUSK_TEST_MARKER", name);
        c
    }

    /// Runs [`Husk::command`] with output captured.
    pub fn run(&self, name: &str, opts: &[&str], source: &str, cmd: &[&str]) -> Outcome {
        exec(self.command(name, opts, source, cmd), true)
    }

    /// Runs it, asserts exit 0 and that nothing is left; returns the container's stdout.
    pub fn run_ok(&self, opts: &[&str], source: &str, cmd: &[&str]) -> String {
        let name = Husk::name();
        let o = self.run(&name, opts, source, cmd).ok();
        self.assert_clean(&name);
        o.stdout
    }

    /// Runs `husk run OPTS SOURCE true` and asserts that husk itself refused it: exit 125
    /// (Docker's status for a failure of the tool), stderr naming every one of `words`, nothing
    /// left behind.
    pub fn assert_refused(&self, opts: &[&str], source: &str, words: &[&str]) {
        let name = Husk::name();
        let o = self.run(&name, opts, source, &["true"]);
        assert_eq!(o.code(), Some(125), "{opts:?} {source}: {o:#?}");
        o.stderr_mentions(words);
        self.assert_clean(&name);
    }

    /// What container `name` left behind after `husk run` returned (with `--rm`): its data dir,
    /// its runtime state dir, its cgroups, its processes, mounts under the data root. Empty
    /// when clean.
    pub fn leaks(&self, name: &str) -> Vec<String> {
        let mut left = Vec::new();
        let dir = self.data.path().join("containers").join(name);
        if dir.exists() {
            left.push(format!("data dir {}", dir.display()));
        }
        let st = self.rt.root().join(name);
        if st.exists() {
            left.push(format!("state dir {}", st.display()));
        }
        for d in cgroups::container_dirs(name) {
            if d.exists() {
                left.push(format!("cgroup {}", d.display()));
            }
        }
        let procs = host::processes_mentioning(&[&format!("HUSK_TEST_MARKER={name}")]);
        if !procs.is_empty() {
            left.push(format!("processes {procs:?}"));
        }
        for m in host::mounts_mentioning(self.data.path()) {
            left.push(format!("mount {m}"));
        }
        if self.user.is_some() {
            // Rootless, the overlay is mounted in the container's own mount namespace: look
            // in every process's.
            for m in mounts_in_any_namespace(self.data.path()) {
                left.push(format!("mount {m}"));
            }
        }
        left
    }

    /// Panics with the list unless container `name` left nothing (see [`Husk::leaks`]).
    pub fn assert_clean(&self, name: &str) {
        crate::runtime::reap_orphans();
        let left = self.leaks(name);
        assert!(left.is_empty(), "husk run {name} left: {left:#?}");
    }

    /// The record of a container kept with `--rm=false`.
    pub fn record(&self, name: &str) -> serde_json::Value {
        let p = self
            .data
            .path()
            .join("containers")
            .join(name)
            .join("record.json");
        let text =
            fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
        serde_json::from_str(&text).unwrap()
    }
}

/// `PID: line` for each line of every process's /proc/PID/mountinfo that mentions `needle`.
fn mounts_in_any_namespace(needle: &Path) -> Vec<String> {
    let needle = needle.to_string_lossy();
    let mut found = Vec::new();
    for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.parse::<i32>().is_err() {
            continue;
        }
        let text = fs::read_to_string(e.path().join("mountinfo")).unwrap_or_default();
        found.extend(
            text.lines()
                .filter(|l| l.contains(needle.as_ref()))
                .map(|l| format!("{name}: {l}")),
        );
    }
    found
}

impl Drop for Husk {
    fn drop(&mut self) {
        // A container kept with --rm=false leaves its overlay upper dir; a failed test may
        // leave mounts under the data root: detach them so the temp dir can go.
        for m in host::mounts_mentioning(self.data.path()) {
            if let Some(point) = m.split(' ').nth(4) {
                let _ = nix::mount::umount2(point, nix::mount::MntFlags::MNT_DETACH);
            }
        }
    }
}
