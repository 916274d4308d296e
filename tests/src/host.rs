//! Facts about the host side that tests compare the container's view with: namespace links,
//! mounts, processes.

use std::fs;
use std::path::Path;

/// The target of `/proc/self/ns/<ns>` of the test process, e.g. `uts:[4026531838]`.
pub fn ns_link(ns: &str) -> String {
    fs::read_link(format!("/proc/self/ns/{ns}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Whether the kernel has namespace type `ns` (e.g. `time` needs Linux 5.6).
pub fn has_ns(ns: &str) -> bool {
    Path::new("/proc/self/ns").join(ns).exists()
}

/// Lines of the test process's mountinfo that mention `needle` (a temp dir path): a runtime
/// must leave none behind in the host's mount namespace.
pub fn mounts_mentioning(needle: &Path) -> Vec<String> {
    let needle = needle.to_string_lossy();
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(needle.as_ref()))
        .map(str::to_string)
        .collect()
}

/// Whether a process `pid` exists and is not a zombie (`man 5 proc`, /proc/PID/stat field 3).
pub fn alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let after = stat
                .rsplit_once(')')
                .map(|(_, a)| a.trim_start())
                .unwrap_or("");
            !after.starts_with('Z') && !after.starts_with('X')
        }
        Err(_) => false,
    }
}

/// The pids of live processes whose environment or command line contains any of `needles`
/// (the `HUSK_TEST_MARKER=<id>` the harness puts in the runtime's and the container's
/// environment, the test's `--root` path, which runc's init carries as
/// `_LIBCONTAINER_STATEDIR`): a failed create must leave none.
pub fn processes_mentioning(needles: &[&str]) -> Vec<i32> {
    let mut found = Vec::new();
    let Ok(dir) = fs::read_dir("/proc") else {
        return found;
    };
    for entry in dir.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let mut text = fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        text.extend(fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default());
        let text = String::from_utf8_lossy(&text);
        if needles.iter().any(|n| text.contains(n)) && alive(pid) {
            found.push(pid);
        }
    }
    found
}

/// The /proc/PID/ns/NAME links of `pid`, one per name (an unreadable one as `NAME: error`).
pub fn ns_links(pid: i32, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|n| {
            fs::read_link(format!("/proc/{pid}/ns/{n}"))
                .map(|l| l.to_string_lossy().into_owned())
                .unwrap_or_else(|e| format!("{n}: {e}"))
        })
        .collect()
}
