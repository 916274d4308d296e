//! Rootless husk-runtime (issue 7), first slice: the decision that the runtime is rootless and
//! where its state goes. Runs the runtime as an unprivileged uid (65534, nobody) from a copy
//! every user can read (the checkout may sit in a home directory others cannot enter).

#![allow(clippy::unwrap_used)] // tests may unwrap (project rules)

use std::fs;
use std::os::unix::fs::{chown, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::process::Command;

use husk_tests::runtime::exec;
use husk_tests::{reference_lacks, Outcome};

const NOBODY: u32 = 65534;

/// `husk-runtime <args>` as uid/gid 65534 with `xdg` as XDG_RUNTIME_DIR (None: unset), from a
/// copy of the binary in `dir`.
fn as_nobody(dir: &std::path::Path, xdg: Option<&std::path::Path>, args: &[&str]) -> Outcome {
    let bin = dir.join("husk-runtime");
    if !bin.exists() {
        fs::copy(husk_tests::runtime::binary(), &bin).unwrap();
        fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut c = Command::new(&bin);
    c.args(args).uid(NOBODY).gid(NOBODY).current_dir(dir);
    c.env_remove("XDG_RUNTIME_DIR");
    if let Some(x) = xdg {
        c.env("XDG_RUNTIME_DIR", x);
    }
    exec(c, true)
}

#[test]
fn a_rootless_runtime_keeps_its_state_under_xdg_runtime_dir() {
    if reference_lacks("runc 1.1.5 names its own directory ($XDG_RUNTIME_DIR/runc)") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let xdg = dir.path().join("xdg");
    fs::create_dir(&xdg).unwrap();
    fs::set_permissions(&xdg, fs::Permissions::from_mode(0o700)).unwrap();
    chown(&xdg, Some(NOBODY), Some(NOBODY)).unwrap();
    // Without XDG_RUNTIME_DIR and --root: refused, saying what to set.
    let o = as_nobody(dir.path(), None, &["state", "x"]);
    assert_eq!(o.code(), Some(1), "{o:#?}");
    o.stderr_mentions(&["rootless", "XDG_RUNTIME_DIR", "--root"]);
    // With it: the state root is $XDG_RUNTIME_DIR/husk (an unknown container names it).
    let o = as_nobody(dir.path(), Some(&xdg), &["state", "x"]);
    assert_eq!(o.code(), Some(1), "{o:#?}");
    assert!(!o.stderr.contains("XDG_RUNTIME_DIR"), "{o:#?}");
    let o = as_nobody(dir.path(), Some(&xdg), &["list", "--format", "json"]).ok();
    assert!(matches!(o.stdout.trim(), "[]" | "null"), "{o:#?}");
    // --root wins; `spec --rootless` needs no state root at all.
    let own = dir.path().join("own-root");
    let o = as_nobody(
        dir.path(),
        None,
        &["--root", own.to_str().unwrap(), "list", "-q"],
    )
    .ok();
    assert_eq!(o.stdout, "");
    let bundle = dir.path().join("bundle");
    fs::create_dir(&bundle).unwrap();
    chown(&bundle, Some(NOBODY), Some(NOBODY)).unwrap();
    as_nobody(
        dir.path(),
        None,
        &["spec", "--rootless", "--bundle", bundle.to_str().unwrap()],
    )
    .ok();
    let cfg: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(bundle.join("config.json")).unwrap()).unwrap();
    assert!(cfg["linux"]["uidMappings"].is_array(), "{cfg}");
}
