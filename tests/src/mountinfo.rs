//! /proc/PID/mountinfo as tests read it from inside a container.

use crate::{Bundle, Runtime};

/// A mountinfo line split into the fields tests use (`man 5 proc`, /proc/PID/mountinfo).
#[derive(Debug)]
pub struct MountLine {
    /// Field 5: where it is mounted.
    pub mount_point: String,
    /// Field 6: per-mount options.
    pub mount_options: Vec<String>,
    /// The optional fields (`shared:N`, `master:N`).
    pub optional: Vec<String>,
    /// The filesystem type.
    pub fstype: String,
    /// The superblock options.
    pub super_options: Vec<String>,
}

/// Parses /proc/PID/mountinfo text.
pub fn parse_mountinfo(text: &str) -> Vec<MountLine> {
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let sep = f.iter().position(|x| *x == "-").unwrap();
            MountLine {
                mount_point: f[4].to_string(),
                mount_options: f[5].split(',').map(str::to_string).collect(),
                optional: f[6..sep].iter().map(|s| s.to_string()).collect(),
                fstype: f[sep + 1].to_string(),
                super_options: f[sep + 3].split(',').map(str::to_string).collect(),
            }
        })
        .collect()
}

/// The container's mountinfo, from `cat /proc/self/mountinfo` in `b`.
pub fn mounts_of(rt: &Runtime, b: &mut Bundle) -> Vec<MountLine> {
    b.args(&["cat", "/proc/self/mountinfo"]);
    parse_mountinfo(&rt.run_ok(b))
}

/// The last mountinfo line for `point` (the one on top).
pub fn at<'a>(mounts: &'a [MountLine], point: &str) -> &'a MountLine {
    mounts
        .iter()
        .rev()
        .find(|m| m.mount_point == point)
        .unwrap_or_else(|| panic!("no mount at {point}: {mounts:#?}"))
}
