//! What the process sees through the filesystem: its mount table, namespaces, id maps, cgroup,
//! open fds, and the per-path queries (stat, access, read, sysctl).

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::io::AsRawFd;

use nix::unistd::AccessFlags;
use serde_json::{json, Value};

use crate::{errno_value, io_error};

/// Decodes mountinfo's octal escapes (`\040` for a space, `\011`, `\012`, `\134`; `man 5
/// proc_pid_mountinfo`).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let digits = std::str::from_utf8(&bytes[i + 1..i + 4]).unwrap_or("");
            if let Ok(n) = u8::from_str_radix(digits, 8) {
                out.push(n);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mount table (/proc/self/mountinfo), in order, each mount normalised to what does not
/// vary between runs: mount point, root within its filesystem, fs type, source, per-mount
/// options, superblock options, and propagation (`private`, or the optional fields' tags
/// without their peer-group numbers: `shared`, `master`, `propagate_from`, `unbindable`).
pub fn mounts() -> Value {
    let text = match fs::read_to_string("/proc/self/mountinfo") {
        Ok(t) => t,
        Err(e) => return io_error(&e),
    };
    let mut out = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(sep) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        if sep < 6 || fields.len() < sep + 4 {
            continue;
        }
        let propagation: Vec<&str> = fields[6..sep]
            .iter()
            .map(|f| f.split(':').next().unwrap_or(f))
            .collect();
        out.push(json!({
            "mount_point": unescape(fields[4]),
            "root": unescape(fields[3]),
            "fs_type": fields[sep + 1],
            "source": unescape(fields[sep + 2]),
            "options": fields[5].split(',').collect::<Vec<_>>(),
            "super_options": fields[sep + 3].split(',').collect::<Vec<_>>(),
            "propagation": if propagation.is_empty() {
                "private".to_string()
            } else {
                propagation.join(",")
            },
        }));
    }
    json!(out)
}

/// The namespace links of /proc/self/ns (`net:[4026531840]`): nsfs inode numbers are the same
/// seen from any namespace, so a test compares them with its own to tell new from shared.
pub fn ns() -> Value {
    let mut out = serde_json::Map::new();
    for ns in [
        "cgroup",
        "ipc",
        "mnt",
        "net",
        "pid",
        "pid_for_children",
        "time",
        "time_for_children",
        "user",
        "uts",
    ] {
        let value = match fs::read_link(format!("/proc/self/ns/{ns}")) {
            Ok(t) => json!(t.to_string_lossy()),
            Err(e) => io_error(&e),
        };
        out.insert(ns.to_string(), value);
    }
    Value::Object(out)
}

/// The user namespace's id maps (`[[inside, outside, count], ...]`) and setgroups setting.
pub fn idmap() -> Value {
    let map = |file: &str| match fs::read_to_string(format!("/proc/self/{file}")) {
        Ok(t) => json!(t
            .lines()
            .map(|l| l
                .split_whitespace()
                .filter_map(|n| n.parse::<u64>().ok())
                .collect::<Vec<_>>())
            .collect::<Vec<_>>()),
        Err(e) => io_error(&e),
    };
    json!({
        "uid_map": map("uid_map"),
        "gid_map": map("gid_map"),
        "setgroups": read("/proc/self/setgroups"),
    })
}

/// /proc/self/cgroup's lines (`hierarchy-ID:controllers:path`).
pub fn cgroup() -> Value {
    match fs::read_to_string("/proc/self/cgroup") {
        Ok(t) => json!(t.lines().collect::<Vec<_>>()),
        Err(e) => io_error(&e),
    }
}

/// The open file descriptors (without the one listing them) and what each refers to.
pub fn fds() -> Value {
    use nix::dir::Dir;
    use nix::fcntl::OFlag;
    use nix::sys::stat::Mode;
    let mut dir = match Dir::open(
        "/proc/self/fd",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(d) => d,
        Err(e) => return errno_value(e),
    };
    let own = dir.as_raw_fd();
    let mut fds: Vec<i32> = dir
        .iter()
        .flatten()
        .filter_map(|e| e.file_name().to_str().ok()?.parse::<i32>().ok())
        .filter(|fd| *fd != own)
        .collect();
    fds.sort_unstable();
    json!(fds
        .into_iter()
        .map(|fd| {
            let target = match fs::read_link(format!("/proc/self/fd/{fd}")) {
                Ok(t) => json!(t.to_string_lossy()),
                Err(e) => io_error(&e),
            };
            json!({"fd": fd, "target": target})
        })
        .collect::<Vec<_>>())
}

/// lstat(2) of `path`: type (`file`, `dir`, `symlink`, `char`, `block`, `fifo`, `socket`),
/// permission bits (`mode`, with setuid/setgid/sticky), owner, device numbers of a device
/// node, a symlink's target.
pub fn stat(path: &str) -> Value {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) => return io_error(&e),
    };
    let ft = meta.file_type();
    let kind = if ft.is_dir() {
        "dir"
    } else if ft.is_symlink() {
        "symlink"
    } else if ft.is_char_device() {
        "char"
    } else if ft.is_block_device() {
        "block"
    } else if ft.is_fifo() {
        "fifo"
    } else if ft.is_socket() {
        "socket"
    } else {
        "file"
    };
    let mut out = json!({
        "type": kind,
        "mode": meta.mode() & 0o7777,
        "uid": meta.uid(),
        "gid": meta.gid(),
    });
    if ft.is_char_device() || ft.is_block_device() {
        out["major"] = json!(nix::sys::stat::major(meta.rdev()));
        out["minor"] = json!(nix::sys::stat::minor(meta.rdev()));
    }
    if ft.is_symlink() {
        if let Ok(t) = fs::read_link(path) {
            out["target"] = json!(t.to_string_lossy());
        }
    }
    out
}

/// access(2) of `path` for reading, writing and executing: `"ok"` or the errno name
/// (`EROFS` for a read-only mount, `EACCES`, `ENOENT`).
pub fn access(path: &str) -> Value {
    let check = |mode: AccessFlags| match nix::unistd::access(path, mode) {
        Ok(()) => json!("ok"),
        Err(e) => json!(format!("{e:?}")),
    };
    json!({
        "read": check(AccessFlags::R_OK),
        "write": check(AccessFlags::W_OK),
        "execute": check(AccessFlags::X_OK),
    })
}

/// The content of `path` (lossy UTF-8, trailing newlines removed).
pub fn read(path: &str) -> Value {
    match fs::read(path) {
        Ok(bytes) => json!(String::from_utf8_lossy(&bytes).trim_end_matches('\n')),
        Err(e) => io_error(&e),
    }
}

/// The value of sysctl `name` (`net.ipv4.ip_forward`: /proc/sys/net/ipv4/ip_forward, as
/// sysctl(8) maps dots to slashes).
pub fn sysctl(name: &str) -> Value {
    read(&format!("/proc/sys/{}", name.replace('.', "/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_decodes_mountinfo_octal_escapes() {
        assert_eq!(unescape("/mnt/a\\040b"), "/mnt/a b");
        assert_eq!(unescape("/x\\134y\\011z"), "/x\\y\tz");
        // Not an escape: kept as is.
        assert_eq!(unescape("/a\\9"), "/a\\9");
        assert_eq!(unescape("/é\\"), "/é\\");
    }

    #[test]
    fn stat_reports_type_mode_owner_and_device_numbers() {
        let null = stat("/dev/null");
        assert_eq!(null["type"], "char");
        assert_eq!(null["major"], 1);
        assert_eq!(null["minor"], 3);
        assert_eq!(stat("/proc/self")["type"], "symlink");
    }
}
