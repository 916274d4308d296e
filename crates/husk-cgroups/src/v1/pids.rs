//! The pids controller (kernel Documentation/admin-guide/cgroup-v1/pids.rst and cgroup-v2.rst
//! "PID"): `pids.max`, the same file in v1 and v2.

use std::path::Path;

use crate::error::CgroupError;
use crate::fs::set;

/// Write `linux.resources.pids.limit` to `dir/pids.max`, as runtime-spec v1.3 defines it: -1
/// is `max` (unlimited), 0 and positive values are real limits (0: no new task can start).
/// The caller has refused values below -1.
///
/// # Errors
/// [`CgroupError::Limit`] with the kernel's errno.
pub(crate) fn apply(dir: &Path, limit: i64) -> Result<(), CgroupError> {
    let value = if limit < 0 {
        "max".to_owned()
    } else {
        limit.to_string()
    };
    set(dir, "pids.max", &value, "linux.resources.pids.limit", "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minus_one_is_max_and_zero_is_zero() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("pids.max");
        std::fs::write(&f, "").unwrap();
        for (limit, want) in [(-1, "max"), (0, "0"), (64, "64")] {
            apply(tmp.path(), limit).unwrap();
            assert_eq!(std::fs::read_to_string(&f).unwrap(), want);
        }
    }
}
