//! The cpuset controller: `cpuset.cpus` and `cpuset.mems` (the same files in v1 and v2;
//! kernel Documentation/admin-guide/cgroup-v1/cpusets.rst, cgroup-v2.rst "Cpuset").
//!
//! The v1 creation quirk: a new v1 cpuset cgroup
//! starts with empty cpuset.cpus and cpuset.mems (unless the parent has
//! cgroup.clone_children), and a process cannot join it (ENOSPC) until both are set
//! (kernel Documentation/admin-guide/cgroup-v1/cpusets.rst). runc copies the parent's values
//! into each directory it makes; so does husk.

use std::path::Path;

use oci_spec::runtime::LinuxCpu;

use crate::error::CgroupError;
use crate::fs::{read_file, set, write_file};

/// Write `linux.resources.cpu.cpus` and `.mems` (kernel list syntax, `0-3,5`) to `dir`; an
/// empty string is unset.
///
/// # Errors
/// [`CgroupError::Limit`] with the kernel's errno (EINVAL for a CPU or node the parent
/// cgroup does not have).
pub(crate) fn apply(dir: &Path, cpu: &LinuxCpu) -> Result<(), CgroupError> {
    for (file, field, value) in [
        ("cpuset.cpus", "linux.resources.cpu.cpus", cpu.cpus()),
        ("cpuset.mems", "linux.resources.cpu.mems", cpu.mems()),
    ] {
        // An empty list would leave the cgroup without CPUs or nodes: "" means unset, as in
        // runc.
        if let Some(value) = value.as_deref().filter(|v| !v.trim().is_empty()) {
            set(dir, file, value, field, "")?;
        }
    }
    Ok(())
}

/// Copy cpuset.cpus and cpuset.mems from the parent of `dir` when they are empty in `dir`.
/// Call on each new directory, shallowest first.
pub(crate) fn inherit_from_parent(dir: &Path) -> Result<(), CgroupError> {
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let own = dir.join(file);
        // A hierarchy mounted with `noprefix` names the files cpus and mems; nothing to copy
        // then (those mounts are from before cgroup.clone_children existed).
        let current = match std::fs::read_to_string(&own) {
            Ok(current) => current,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::debug!("{} does not exist; not inherited", own.display());
                continue;
            }
            Err(source) => return Err(CgroupError::Read { path: own, source }),
        };
        if !current.trim().is_empty() {
            continue;
        }
        let value = read_file(&parent.join(file))?;
        let value = value.trim();
        if !value.is_empty() {
            write_file(&own, value)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_written_and_empty_ones_are_unset() {
        let tmp = tempfile::tempdir().unwrap();
        for f in ["cpuset.cpus", "cpuset.mems"] {
            std::fs::write(tmp.path().join(f), "0-1").unwrap();
        }
        let cpu: LinuxCpu = serde_json::from_str(r#"{"cpus":"1","mems":""}"#).unwrap();
        apply(tmp.path(), &cpu).unwrap();
        let read = |f: &str| std::fs::read_to_string(tmp.path().join(f)).unwrap();
        assert_eq!(
            (read("cpuset.cpus"), read("cpuset.mems")),
            ("1".into(), "0-1".into())
        );
    }

    #[test]
    fn empty_values_are_copied_and_set_ones_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let child = tmp.path().join("c");
        std::fs::create_dir(&child).unwrap();
        std::fs::write(tmp.path().join("cpuset.cpus"), "0-1\n").unwrap();
        std::fs::write(tmp.path().join("cpuset.mems"), "0\n").unwrap();
        std::fs::write(child.join("cpuset.cpus"), "\n").unwrap();
        std::fs::write(child.join("cpuset.mems"), "1\n").unwrap();
        inherit_from_parent(&child).unwrap();
        assert_eq!(
            std::fs::read_to_string(child.join("cpuset.cpus")).unwrap(),
            "0-1"
        );
        assert_eq!(
            std::fs::read_to_string(child.join("cpuset.mems")).unwrap(),
            "1\n"
        );
    }
}
