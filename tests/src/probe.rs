//! The in-container probe (`tests/probe`, package `husk-probe`): built static once per test
//! process, put at `/husk-probe` in a bundle's own small rootfs, run as the container's process;
//! its JSON report is what the conformance and differential tests assert on.
//!
//! The binary is `$HUSK_PROBE` when set (tests/v2vm.sh passes a prebuilt one into the guest,
//! which has no cargo), else `cargo build -p husk-probe --target <arch>-unknown-linux-gnu` with
//! `-C target-feature=+crt-static` into `target/husk-probe`. Its own target dir keeps those
//! RUSTFLAGS from invalidating the workspace's build, and cargo's lock on it serialises
//! concurrent test binaries (the second finds it fresh). `--target` is explicit so the flags
//! reach only the probe, never build scripts and proc macros (which cannot be static).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{json, Value};

use crate::bundle::Bundle;
use crate::rootfs;
use crate::runtime::{exec_timeout, Outcome, Runtime};

/// Where the probe is inside the container.
pub const PATH_IN_CONTAINER: &str = "/husk-probe";

/// The static probe binary (built on first use; see the module doc).
pub fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("HUSK_PROBE") {
            let p = PathBuf::from(p);
            assert!(p.is_file(), "HUSK_PROBE={} is not a file", p.display());
            return p;
        }
        let ws = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let target_dir = ws.join("target/husk-probe");
        let triple = format!("{}-unknown-linux-gnu", std::env::consts::ARCH);
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-q", "-p", "husk-probe", "--target", &triple])
            .arg("--target-dir")
            .arg(&target_dir)
            .arg("--manifest-path")
            .arg(ws.join("Cargo.toml"));
        // Static, so it runs in a rootfs without libc; no debug info (2 MB instead of 12 MB,
        // copied into every probe bundle). CARGO_ENCODED_RUSTFLAGS would take precedence.
        let mut flags = String::from("-C target-feature=+crt-static -C strip=debuginfo");
        if let Ok(user) = std::env::var("RUSTFLAGS") {
            flags = format!("{user} {flags}");
        }
        cmd.env("RUSTFLAGS", flags)
            .env_remove("CARGO_ENCODED_RUSTFLAGS");
        let out = exec_timeout(cmd, true, Duration::from_secs(900));
        let bin = target_dir.join(&triple).join("debug/husk-probe");
        assert!(
            out.status.success() && bin.is_file(),
            "building the static probe failed (glibc's static libc.a comes with libc6-dev; or \
             set HUSK_PROBE to a static husk-probe): {out:#?}"
        );
        bin
    })
}

/// Fills `root` with the probe's rootfs: the probe at [`PATH_IN_CONTAINER`], the busybox tree's
/// `/etc/passwd` and `/etc/group` (so HOME and user names resolve as with
/// [`Bundle::busybox`]) and its mountpoints ([`rootfs::MOUNTPOINTS`]). No shell, no libc.
pub fn populate(root: &Path) {
    for dir in rootfs::MOUNTPOINTS.iter().chain(&["/etc"]) {
        fs::create_dir_all(root.join(dir.trim_start_matches('/'))).unwrap();
    }
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    std::os::unix::fs::chown(
        root.join("home/husk"),
        Some(rootfs::TEST_UID),
        Some(rootfs::TEST_UID),
    )
    .unwrap();
    fs::write(root.join("etc/passwd"), rootfs::PASSWD).unwrap();
    fs::write(root.join("etc/group"), rootfs::GROUP).unwrap();
    let dest = root.join(PATH_IN_CONTAINER.trim_start_matches('/'));
    fs::copy(binary(), &dest).unwrap();
    fs::set_permissions(&dest, fs::Permissions::from_mode(0o755)).unwrap();
}

/// A bundle (runc's default spec, read-only root) whose process is `/husk-probe <args>`, in a
/// rootfs of its own made by [`populate`].
pub fn bundle(args: &[&str]) -> Bundle {
    let mut argv = vec![PATH_IN_CONTAINER];
    argv.extend_from_slice(args);
    Bundle::with_own_rootfs(populate, &argv)
}

/// Parses the probe's report out of a runtime's outcome, panicking with the whole outcome when
/// the command failed or its stdout is not one JSON object.
pub fn parse(outcome: &Outcome) -> Value {
    assert!(
        outcome.status.success(),
        "the probe's container failed: {outcome:#?}"
    );
    match serde_json::from_str::<Value>(outcome.stdout.trim()) {
        Ok(v @ Value::Object(_)) => v,
        _ => panic!("the probe's output is not a JSON object: {outcome:#?}"),
    }
}

/// Runs `bundle` in the foreground under `rt` and returns the probe's report.
pub fn run(rt: &Runtime, bundle: &Bundle) -> Value {
    parse(&rt.run(bundle))
}

/// The mounts of a report at `mount_point`, bottom to top (several when stacked).
pub fn mounts_at<'a>(report: &'a Value, mount_point: &str) -> Vec<&'a Value> {
    report["mounts"]
        .as_array()
        .unwrap_or_else(|| panic!("the report has no mounts: {report}"))
        .iter()
        .filter(|m| m["mount_point"] == mount_point)
        .collect()
}

/// The visible (topmost) mount at `mount_point`; panics listing the mount table when there is
/// none.
pub fn mount<'a>(report: &'a Value, mount_point: &str) -> &'a Value {
    mounts_at(report, mount_point)
        .last()
        .copied()
        .unwrap_or_else(|| {
            let points: Vec<&Value> = report["mounts"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| &m["mount_point"])
                .collect();
            panic!("no mount at {mount_point}; the container's mounts: {points:?}")
        })
}

/// Whether mount `m` (an entry of the report's `mounts`) has per-mount option `opt`.
pub fn has_option(m: &Value, opt: &str) -> bool {
    m["options"]
        .as_array()
        .is_some_and(|o| o.iter().any(|x| x == opt))
}

/// `"new"` when the report's namespace `ns` (a /proc/self/ns name) differs from the test
/// process's, `"host"` when it is the same one, else the report's value (an error).
pub fn ns_kind(report: &Value, ns: &str) -> Value {
    let seen = &report["ns"][ns];
    match seen.as_str() {
        Some(link) if fs::read_link(format!("/proc/self/ns/{ns}")).is_ok() => {
            if link == crate::host::ns_link(ns) {
                json!("host")
            } else {
                json!("new")
            }
        }
        _ => seen.clone(),
    }
}

/// The probe's report of the test process's own surroundings: it runs on the host as a child of
/// the test, so it sees what a runtime started by the test inherits (rlimits, scheduling, I/O
/// priority, affinity, personality), the baseline for fields a config leaves unset.
pub fn on_host(args: &[&str]) -> Value {
    let mut cmd = Command::new(binary());
    cmd.args(args);
    parse(&exec_timeout(cmd, true, Duration::from_secs(30)))
}
