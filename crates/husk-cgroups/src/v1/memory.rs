//! The v1 memory controller (kernel Documentation/admin-guide/cgroup-v1/memory.rst):
//! `memory.limit_in_bytes`, `memory.memsw.limit_in_bytes` (memory plus swap, which is what
//! runtime-spec's `memory.swap` means), `memory.soft_limit_in_bytes`, `memory.swappiness`,
//! `memory.oom_control` and `memory.use_hierarchy`.

use std::path::Path;

use oci_spec::runtime::LinuxMemory;

use crate::error::CgroupError;
use crate::fs::{read_u64, set};

const F: &str = "linux.resources.memory";
const NO_SWAP_ACCOUNTING: &str =
    "the memsw files exist only with swap accounting: CONFIG_MEMCG_SWAP and swapaccount=1";

/// Apply `memory` to the v1 memory cgroup `dir`. Zero sizes are unset; -1 is unlimited.
///
/// Limit and swap are written in the order the kernel accepts (memory.limit_in_bytes may
/// never exceed memory.memsw.limit_in_bytes): swap first when it grows past the current
/// limit or becomes unlimited, else the limit first (runc does the same). When `update` and
/// `checkBeforeUpdate` are set, a limit below memory.usage_in_bytes is refused.
///
/// # Errors
/// [`CgroupError::Limit`] with the kernel's errno, [`CgroupError::MissingFile`] (no swap
/// accounting), [`CgroupError::BelowUsage`].
pub(crate) fn apply(dir: &Path, memory: &LinuxMemory, update: bool) -> Result<(), CgroupError> {
    let limit = memory.limit().filter(|v| *v != 0);
    let mut swap = memory.swap().filter(|v| *v != 0);
    if update {
        check_before_update(dir, "memory.usage_in_bytes", memory)?;
    }
    // An unlimited memory with swap unset is unlimited swap too (runc's rule), but only where
    // the host accounts swap: otherwise there is nothing to lift.
    if limit == Some(-1) && swap.is_none() && dir.join("memory.memsw.limit_in_bytes").exists() {
        swap = Some(-1);
    }
    let set_limit = |v: i64| {
        set(
            dir,
            "memory.limit_in_bytes",
            &v.to_string(),
            &format!("{F}.limit"),
            "",
        )
    };
    let set_swap = |v: i64| {
        set(
            dir,
            "memory.memsw.limit_in_bytes",
            &v.to_string(),
            &format!("{F}.swap"),
            NO_SWAP_ACCOUNTING,
        )
    };
    match (limit, swap) {
        (Some(l), Some(s)) => {
            let current = read_u64(&dir.join("memory.limit_in_bytes"))?;
            let swap_first = s == -1 || (s > 0 && s as u64 > current) || l == -1;
            if swap_first {
                set_swap(s)?;
                set_limit(l)?;
            } else {
                set_limit(l)?;
                set_swap(s)?;
            }
        }
        (Some(l), None) => set_limit(l)?,
        (None, Some(s)) => set_swap(s)?,
        (None, None) => {}
    }
    if let Some(r) = memory.reservation().filter(|v| *v != 0) {
        set(
            dir,
            "memory.soft_limit_in_bytes",
            &r.to_string(),
            &format!("{F}.reservation"),
            "",
        )?;
    }
    if let Some(s) = memory.swappiness() {
        set(
            dir,
            "memory.swappiness",
            &s.to_string(),
            &format!("{F}.swappiness"),
            "",
        )?;
    }
    if let Some(disable) = memory.disable_oom_killer() {
        set(
            dir,
            "memory.oom_control",
            if disable { "1" } else { "0" },
            &format!("{F}.disableOOMKiller"),
            "",
        )?;
    }
    if let Some(hierarchy) = memory.use_hierarchy() {
        set(
            dir,
            "memory.use_hierarchy",
            if hierarchy { "1" } else { "0" },
            &format!("{F}.useHierarchy"),
            "",
        )?;
    }
    Ok(())
}

/// `memory.checkBeforeUpdate` at `update`: a new limit below the usage in `usage_file`
/// (`memory.usage_in_bytes` on v1, `memory.current` on v2) is refused.
///
/// # Errors
/// [`CgroupError::BelowUsage`]; a read error of the usage file.
pub(crate) fn check_before_update(
    dir: &Path,
    usage_file: &str,
    memory: &LinuxMemory,
) -> Result<(), CgroupError> {
    if memory.check_before_update() != Some(true) {
        return Ok(());
    }
    let Some(limit) = memory.limit().filter(|l| *l > 0) else {
        return Ok(());
    };
    let path = dir.join(usage_file);
    let usage = read_u64(&path)?;
    if (limit as u64) < usage {
        return Err(CgroupError::BelowUsage {
            field: format!("{F}.limit"),
            limit,
            usage,
            path,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory(json: &str) -> LinuxMemory {
        serde_json::from_str(json).unwrap()
    }

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        for (f, v) in files {
            std::fs::write(tmp.path().join(f), v).unwrap();
        }
        tmp
    }

    fn read(dir: &Path, f: &str) -> String {
        std::fs::read_to_string(dir.join(f)).unwrap()
    }

    const FILES: [(&str, &str); 6] = [
        ("memory.limit_in_bytes", "9223372036854771712\n"),
        ("memory.memsw.limit_in_bytes", "9223372036854771712\n"),
        ("memory.soft_limit_in_bytes", ""),
        ("memory.swappiness", ""),
        ("memory.oom_control", ""),
        ("memory.usage_in_bytes", "4096\n"),
    ];

    #[test]
    fn every_field_lands_in_its_file() {
        let tmp = dir_with(&FILES);
        let m = memory(
            r#"{"limit":1048576,"swap":2097152,"reservation":524288,"swappiness":10,
                "disableOOMKiller":true,"kernel":1,"kernelTCP":1}"#,
        );
        apply(tmp.path(), &m, false).unwrap();
        let d = tmp.path();
        assert_eq!(read(d, "memory.limit_in_bytes"), "1048576");
        assert_eq!(read(d, "memory.memsw.limit_in_bytes"), "2097152");
        assert_eq!(read(d, "memory.soft_limit_in_bytes"), "524288");
        assert_eq!(read(d, "memory.swappiness"), "10");
        assert_eq!(read(d, "memory.oom_control"), "1");
        assert!(!d.join("memory.kmem.limit_in_bytes").exists());
    }

    #[test]
    fn unlimited_memory_lifts_swap_and_swap_without_accounting_is_named() {
        let tmp = dir_with(&FILES);
        apply(tmp.path(), &memory(r#"{"limit":-1}"#), false).unwrap();
        assert_eq!(read(tmp.path(), "memory.limit_in_bytes"), "-1");
        assert_eq!(read(tmp.path(), "memory.memsw.limit_in_bytes"), "-1");

        let tmp = dir_with(&FILES[..1]);
        apply(tmp.path(), &memory(r#"{"limit":-1}"#), false).unwrap();
        let err = apply(tmp.path(), &memory(r#"{"swap":-1}"#), false).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(
                "linux.resources.memory.swap: this host has no memory.memsw.limit_in_bytes"
            ),
            "{text}"
        );
    }

    #[test]
    fn check_before_update_compares_with_usage() {
        let tmp = dir_with(&FILES);
        let m = memory(r#"{"limit":1024,"checkBeforeUpdate":true}"#);
        // At create there is nothing to compare with.
        apply(tmp.path(), &m, false).unwrap();
        let err = apply(tmp.path(), &m, true).unwrap_err();
        assert!(
            matches!(
                err,
                CgroupError::BelowUsage {
                    limit: 1024,
                    usage: 4096,
                    ..
                }
            ),
            "{err}"
        );
        apply(
            tmp.path(),
            &memory(r#"{"limit":8192,"checkBeforeUpdate":true}"#),
            true,
        )
        .unwrap();
        assert_eq!(read(tmp.path(), "memory.limit_in_bytes"), "8192");
    }
}
