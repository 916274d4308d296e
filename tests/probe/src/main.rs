//! husk-probe: the in-container probe of the end-to-end tests. It prints one JSON object saying
//! what the process it runs as sees of itself (ids, capabilities, limits, mounts, namespaces,
//! ...), so tests assert exact values and the differential test compares two runtimes field by
//! field. It changes nothing: every value is read, never set (`hugetlb` maps huge pages for a
//! moment, to see whether the kernel lets it).
//!
//! ```text
//! husk-probe all                       every section below
//! husk-probe ids caps mounts           only those sections
//! husk-probe stat /dev/null /dev/fuse  file type, mode, owner, device numbers (lstat)
//! husk-probe access / /proc/sys        access(2) R_OK, W_OK, X_OK of each path
//! husk-probe read /proc/self/cgroup    a file's content
//! husk-probe sysctl net.ipv4.ip_forward  /proc/sys/net/ipv4/ip_forward's content
//! husk-probe hugetlb 1 2               map (and unmap) 1, then 2 huge pages of 2 MiB
//! ```
//!
//! Sections and queries mix freely (`husk-probe all stat /dev/null`). The output's top-level keys
//! are the section names and `stat`, `access`, `read`, `sysctl`, `hugetlb` (objects keyed by argument). A
//! value the probe could not read is `{"error": "..."}` (an errno name when there is one), so one
//! missing file never hides the rest. Exit status: 0, 1 when stdout cannot be written, 2 for a bad command line, 3 on a panic.
//!
//! Built static (glibc's libc.a, `-C target-feature=+crt-static`) by the harness
//! (tests/src/probe.rs), so it runs in a root filesystem that has no libc at all.

// The probe asks the kernel for values that neither nix nor std wrap (personality(2) query,
// sched_getattr(2), ioprio_get(2)) and exports a C `main` (below): test code outside the
// runtime, whose `unsafe` rule (only in crates/husk-sys) is about the shipped binaries. Each
// block still names its invariant.
#![allow(unsafe_code)]
// No Rust `main`: std's start-up code would set SIGPIPE to SIG_IGN and open /dev/null on a
// closed fd 0, 1 or 2, hiding exactly the inherited state the probe reports (`status.SigIgn`,
// `fds`). glibc calls the C `main` below directly; std::env::args still works (std reads argv
// from glibc's init_array call on Linux). The unit tests keep libtest's own main.
#![cfg_attr(not(test), no_main)]

mod files;
mod process;

use std::io::Write;

use serde_json::{json, Map, Value};

/// A section: a name on the command line and in the output, and what computes it.
type Section = (&'static str, fn() -> Value);

/// Every section, in output order; `all` selects them all.
const SECTIONS: &[Section] = &[
    ("ids", process::ids),
    ("caps", process::caps),
    ("seccomp", process::seccomp),
    ("status", process::status),
    ("prctl", process::prctl),
    ("rlimits", process::rlimits),
    ("umask", process::umask),
    ("cwd", process::cwd),
    ("uts", process::uts),
    ("env", process::env),
    ("pid", process::pid),
    ("oom_score_adj", process::oom_score_adj),
    ("personality", process::personality),
    ("scheduler", process::scheduler),
    ("ioprio", process::ioprio),
    ("affinity", process::affinity),
    ("mounts", files::mounts),
    ("ns", files::ns),
    ("idmap", files::idmap),
    ("cgroup", files::cgroup),
    ("fds", files::fds),
];

/// A query: a keyword followed by arguments (paths or sysctl names), each answered.
type Query = (&'static str, fn(&str) -> Value);

/// Every query keyword.
const QUERIES: &[Query] = &[
    ("stat", files::stat),
    ("access", files::access),
    ("read", files::read),
    ("sysctl", files::sysctl),
    ("hugetlb", process::hugetlb),
];

fn usage() -> String {
    let sections: Vec<&str> = SECTIONS.iter().map(|(n, _)| *n).collect();
    format!(
        "usage: husk-probe [all | SECTION | stat PATH... | access PATH... | read PATH... | \
         sysctl NAME... | hugetlb N...]...\nsections: {}",
        sections.join(" ")
    )
}

/// Parses the command line into the output object; `Err` is the message for a bad one.
fn probe(args: &[String]) -> Result<Map<String, Value>, String> {
    if args.is_empty() {
        return Err(usage());
    }
    let mut out = Map::new();
    let mut query: Option<&Query> = None;
    for arg in args {
        if arg == "all" {
            for (name, f) in SECTIONS {
                out.insert((*name).to_string(), f());
            }
            query = None;
        } else if let Some((name, f)) = SECTIONS.iter().find(|(n, _)| n == arg) {
            out.insert((*name).to_string(), f());
            query = None;
        } else if let Some(q) = QUERIES.iter().find(|(n, _)| n == arg) {
            out.entry(q.0).or_insert_with(|| json!({}));
            query = Some(q);
        } else if let Some((name, f)) = query {
            if let Some(Value::Object(answers)) = out.get_mut(*name) {
                answers.insert(arg.clone(), f(arg));
            }
        } else {
            return Err(format!("husk-probe: unknown section {arg:?}\n{}", usage()));
        }
    }
    Ok(out)
}

/// The C entry point glibc's start-up code calls (see the `no_main` note at the top).
#[cfg(not(test))]
#[no_mangle]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    // A panic must not unwind into C: report it as exit status 3.
    std::panic::catch_unwind(run).unwrap_or(3)
}

/// Prints the report for the command line; the exit status.
#[cfg_attr(test, allow(dead_code))]
fn run() -> libc::c_int {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match probe(&args) {
        Ok(out) => {
            let mut text = Value::Object(out).to_string();
            text.push('\n');
            let mut stdout = std::io::stdout().lock();
            if stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
                .is_err()
            {
                return 1;
            }
            0
        }
        Err(msg) => {
            eprintln!("{msg}");
            2
        }
    }
}

/// `{"error": ...}` for an I/O error: its errno name (`ENOENT`) when it has one.
fn io_error(e: &std::io::Error) -> Value {
    match e.raw_os_error() {
        Some(code) => errno_value(nix::errno::Errno::from_raw(code)),
        None => json!({"error": e.to_string()}),
    }
}

/// `{"error": "ENOENT"}` for an errno.
fn errno_value(e: nix::errno::Errno) -> Value {
    json!({"error": format!("{e:?}")})
}

/// `{"error": msg}`.
fn error(msg: impl std::fmt::Display) -> Value {
    json!({"error": msg.to_string()})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn sections_and_queries_mix() {
        let out = probe(&args(&[
            "umask",
            "stat",
            "/",
            "/nonexistent",
            "cwd",
            "sysctl",
        ]))
        .unwrap();
        // Sorted: serde_json keeps insertion order when another crate of the workspace turns on
        // its preserve_order feature.
        let mut keys: Vec<&String> = out.keys().collect();
        keys.sort();
        assert_eq!(keys, ["cwd", "stat", "sysctl", "umask"]);
        assert_eq!(out["stat"]["/"]["type"], "dir");
        assert_eq!(out["stat"]["/nonexistent"], json!({"error": "ENOENT"}));
        assert_eq!(out["sysctl"], json!({}));
    }

    #[test]
    fn a_bad_command_line_is_refused() {
        assert!(probe(&[]).is_err());
        let err = probe(&args(&["ids", "bogus"])).unwrap_err();
        assert!(err.contains("\"bogus\""), "{err}");
        // A query argument that names a section ends the query.
        let out = probe(&args(&["read", "/proc/self/comm", "umask"])).unwrap();
        assert_eq!(out["read"].as_object().unwrap().len(), 1);
        assert!(out["umask"].is_number());
    }

    #[test]
    fn all_has_every_section() {
        let out = probe(&args(&["all"])).unwrap();
        assert_eq!(out.len(), SECTIONS.len());
    }
}
