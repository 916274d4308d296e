//! The v2 memory controller (kernel Documentation/admin-guide/cgroup-v2.rst, "Memory"):
//! `memory.max`, `memory.swap.max` (swap alone, not memory plus swap), `memory.low`.

use std::path::Path;

use oci_spec::runtime::LinuxMemory;

use crate::convert::{swap_max, SwapMax};
use crate::error::CgroupError;
use crate::fs::{read_file, set};

const F: &str = "linux.resources.memory";

/// Apply `memory` to the v2 cgroup `dir`: limit to memory.max (-1: `max`), reservation to
/// memory.low, swap converted from the v1 memory+swap total to memory.swap.max
/// ([`swap_max`]). cgroup v2 has no per-cgroup swappiness, no OOM-killer switch and is always
/// hierarchical: `swappiness`, `disableOOMKiller` and `useHierarchy: false` are ignored with a
/// warning, as runc ignores them. With `update` and `checkBeforeUpdate`, a limit below
/// memory.current is refused; an `update` of swap alone converts it against the memory.max in
/// force.
///
/// # Errors
/// [`CgroupError::InvalidValue`] for a swap the conversion cannot express,
/// [`CgroupError::MissingFile`] (no memory.swap.max without swap accounting),
/// [`CgroupError::Limit`], [`CgroupError::BelowUsage`].
pub(crate) fn apply(dir: &Path, memory: &LinuxMemory, update: bool) -> Result<(), CgroupError> {
    let limit = memory.limit().filter(|v| *v != 0);
    if update {
        crate::v1::memory::check_before_update(dir, "memory.current", memory)?;
    }
    // `update` with a new swap total and no new limit: the total is over the limit in force
    // (runc #4357 does the same).
    let mut limit_for_swap = memory.limit();
    if update && limit.is_none() && memory.swap().is_some_and(|s| s > 0) {
        let current = read_file(&dir.join("memory.max"))?;
        limit_for_swap = current.trim().parse().ok();
    }
    let swap = swap_max(memory.swap(), limit_for_swap).map_err(|e| CgroupError::InvalidValue {
        field: format!("{F}.swap"),
        value: memory.swap().unwrap_or(0).to_string(),
        reason: e.to_string(),
    })?;
    if let Some(l) = limit {
        let value = if l < 0 {
            "max".to_owned()
        } else {
            l.to_string()
        };
        set(dir, "memory.max", &value, &format!("{F}.limit"), "")?;
    }
    match swap {
        // Unlimited swap where the host has no swap accounting is already the case.
        Some(SwapMax::Unlimited) if !dir.join("memory.swap.max").exists() => {}
        Some(s) => {
            let value = match s {
                SwapMax::Unlimited => "max".to_owned(),
                SwapMax::Bytes(b) => b.to_string(),
            };
            set(
                dir,
                "memory.swap.max",
                &value,
                &format!("{F}.swap"),
                "memory.swap.max exists only with swap accounting (CONFIG_MEMCG_SWAP)",
            )?;
        }
        None => {}
    }
    if let Some(r) = memory.reservation().filter(|v| *v != 0) {
        let value = if r < 0 {
            "max".to_owned()
        } else {
            r.to_string()
        };
        set(dir, "memory.low", &value, &format!("{F}.reservation"), "")?;
    }
    if memory.swappiness().is_some() {
        tracing::warn!("{F}.swappiness is ignored: cgroup v2 has no per-cgroup swappiness");
    }
    if memory.disable_oom_killer() == Some(true) {
        tracing::warn!(
            "{F}.disableOOMKiller is ignored: cgroup v2 cannot disable the OOM killer for a cgroup"
        );
    }
    if memory.use_hierarchy() == Some(false) {
        tracing::warn!("{F}.useHierarchy false is ignored: cgroup v2 is always hierarchical");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_swap_and_reservation_in_v2_terms() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        for f in ["memory.max", "memory.swap.max", "memory.low"] {
            std::fs::write(d.join(f), "").unwrap();
        }
        std::fs::write(d.join("memory.current"), "8192\n").unwrap();
        let m: LinuxMemory = serde_json::from_str(
            r#"{"limit":1048576,"swap":3145728,"reservation":524288,"swappiness":5}"#,
        )
        .unwrap();
        apply(d, &m, false).unwrap();
        let read = |f: &str| std::fs::read_to_string(d.join(f)).unwrap();
        assert_eq!(read("memory.max"), "1048576");
        assert_eq!(read("memory.swap.max"), "2097152");
        assert_eq!(read("memory.low"), "524288");
        apply(d, &serde_json::from_str(r#"{"limit":-1}"#).unwrap(), false).unwrap();
        assert_eq!(
            (read("memory.max"), read("memory.swap.max")),
            ("max".into(), "max".into())
        );
        let err = apply(
            d,
            &serde_json::from_str(r#"{"swap":1048576}"#).unwrap(),
            false,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("linux.resources.memory.swap 1048576:"),
            "{err}"
        );
        // update: swap alone is taken over the limit in force.
        std::fs::write(d.join("memory.max"), "1048576\n").unwrap();
        apply(
            d,
            &serde_json::from_str(r#"{"swap":4194304}"#).unwrap(),
            true,
        )
        .unwrap();
        assert_eq!(read("memory.swap.max"), "3145728");
        let low = serde_json::from_str(r#"{"limit":4096,"checkBeforeUpdate":true}"#).unwrap();
        assert!(matches!(
            apply(d, &low, true).unwrap_err(),
            CgroupError::BelowUsage { usage: 8192, .. }
        ));
    }
}
