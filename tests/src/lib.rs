//! The end-to-end test harness: root filesystems built once per machine, OCI bundles, a runtime
//! driver with per-test `--root` and cleanup on drop, and the test cgroup parent.
//!
//! The runtime under test is `$HUSK_RUNTIME` (default: the workspace's
//! `target/debug/husk-runtime`). Setting `HUSK_RUNTIME=/usr/sbin/runc` checks the tests
//! themselves against runc 1.1.5 (Debian's), the reference for the runc command line; tests of
//! what runc lacks call [`reference_lacks`] and return early with the reason printed.
//!
//! Everything a test makes lives in its own temp dirs, its own cgroups below
//! `husk-test-<pid>` (see [`cgroups`]) and the namespaces its containers create.

// A test harness: a failed unwrap is a failed test with the value in the message, which is
// what the project's rules allow tests ("tests may unwrap").
#![allow(clippy::unwrap_used)]

pub mod bundle;
pub mod cgroups;
pub mod clients;
pub mod console;
pub mod diff;
pub mod front;
pub mod host;
pub mod mountinfo;
pub mod probe;
pub mod rootfs;
pub mod rootless;
pub mod runtime;

pub use bundle::Bundle;
pub use runtime::{Flavour, Outcome, Runtime};

/// Returns `true` (after printing why, on stderr) when the runtime under test is the runc
/// reference, which cannot be checked for `what` (a feature runc 1.1.5 predates, or
/// husk-specific behaviour). Tests call it first and `return` on `true`: the skip is visible in
/// `cargo test -- --nocapture` output and never silent.
pub fn reference_lacks(what: &str) -> bool {
    if runtime::flavour() == Flavour::Runc {
        eprintln!("NOT CHECKED under runc 1.1.5: {what}");
        true
    } else {
        false
    }
}

/// Returns `true` (after printing why) when the test cannot run on this host: `why` names the
/// missing kernel or host feature. Used instead of a silent skip.
pub fn host_lacks(missing: bool, why: &str) -> bool {
    if missing {
        eprintln!("NOT CHECKED on this host: {why}");
    }
    missing
}
