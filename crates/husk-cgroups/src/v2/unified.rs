//! `linux.resources.unified` (runtime-spec config-linux.md, "Unified"): raw cgroup v2
//! interface files and values, written after every other resource so they take precedence.

use std::collections::HashMap;
use std::path::Path;

use crate::error::CgroupError;
use crate::fs::set;
use crate::resources::sorted_keys;

/// Write each `key: value` to the file `key` of the v2 cgroup `dir`. `available` is the
/// controllers the cgroup has (its cgroup.controllers): a key whose controller (the part
/// before the first dot) is neither `cgroup` nor available is refused, naming the key, as is
/// a key with no such file.
///
/// # Errors
/// [`CgroupError::Unsupported`], [`CgroupError::MissingFile`], [`CgroupError::Limit`].
pub(crate) fn apply(
    dir: &Path,
    unified: &HashMap<String, String>,
    available: &[String],
) -> Result<(), CgroupError> {
    for key in sorted_keys(unified) {
        let field = format!("linux.resources.unified[{key:?}]");
        // Checked by resources::check already; again here because the key becomes a path.
        if key.contains('/') || key.starts_with('.') || !key.contains('.') {
            return Err(CgroupError::InvalidValue {
                field,
                value: key.to_owned(),
                reason: "a unified key is the name of a cgroup v2 interface file".to_owned(),
            });
        }
        let controller = key.split('.').next().unwrap_or(key);
        if controller != "cgroup" && !available.iter().any(|c| c == controller) {
            return Err(CgroupError::Unsupported {
                field,
                reason: format!(
                    "the {controller} controller is not available in the container's cgroup v2 directory {} (cgroup.controllers: {:?}); on a hybrid host it may be bound to a v1 hierarchy: use the v1 field of linux.resources instead",
                    dir.display(),
                    available.join(" ")
                ),
            });
        }
        set(
            dir,
            key,
            &unified[key],
            &field,
            "the key must name an existing cgroup v2 interface file",
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_against_controllers_and_files() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        std::fs::write(d.join("memory.high"), "").unwrap();
        let available = vec!["memory".to_owned(), "pids".to_owned()];
        let map = |k: &str, v: &str| HashMap::from([(k.to_owned(), v.to_owned())]);
        apply(d, &map("memory.high", "1048576"), &available).unwrap();
        assert_eq!(
            std::fs::read_to_string(d.join("memory.high")).unwrap(),
            "1048576"
        );
        let err = apply(d, &map("hugetlb.2MB.max", "0"), &available).unwrap_err();
        assert!(err.to_string().starts_with("linux.resources.unified[\"hugetlb.2MB.max\"]: the hugetlb controller is not available"), "{err}");
        let err = apply(d, &map("pids.nope", "1"), &available).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("linux.resources.unified[\"pids.nope\"]: this host has no pids.nope"),
            "{err}"
        );
    }
}
