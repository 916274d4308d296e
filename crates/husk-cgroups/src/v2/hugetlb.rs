//! The v2 hugetlb controller (kernel Documentation/admin-guide/cgroup-v2.rst, "HugeTLB"):
//! `hugetlb.<size>.max` and, since Linux 5.7, `hugetlb.<size>.rsvd.max` for reservations.

use std::path::Path;

use oci_spec::runtime::LinuxHugepageLimit;

use crate::error::CgroupError;
use crate::fs::set;
use crate::v1::hugetlb::NO_SIZE;

/// Write each limit (bytes; -1 is `max`) to `hugetlb.<pageSize>.max`, and to
/// `hugetlb.<pageSize>.rsvd.max` where it exists, so reserved-but-unfaulted pages count too
/// (runc 1.2+ does the same).
///
/// # Errors
/// [`CgroupError::MissingFile`] for a page size the host lacks, [`CgroupError::Limit`].
pub(crate) fn apply(dir: &Path, limits: &[LinuxHugepageLimit]) -> Result<(), CgroupError> {
    for (i, h) in limits.iter().enumerate() {
        let value = if h.limit() < 0 {
            "max".to_owned()
        } else {
            h.limit().to_string()
        };
        let field = format!("linux.resources.hugepageLimits[{i}]");
        set(
            dir,
            &format!("hugetlb.{}.max", h.page_size()),
            &value,
            &field,
            NO_SIZE,
        )?;
        let rsvd = format!("hugetlb.{}.rsvd.max", h.page_size());
        if dir.join(&rsvd).exists() {
            set(dir, &rsvd, &value, &field, NO_SIZE)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_and_rsvd_max() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        for f in ["hugetlb.2MB.max", "hugetlb.2MB.rsvd.max"] {
            std::fs::write(d.join(f), "").unwrap();
        }
        let limits: Vec<LinuxHugepageLimit> =
            serde_json::from_str(r#"[{"pageSize":"2MB","limit":4194304}]"#).unwrap();
        apply(d, &limits).unwrap();
        for f in ["hugetlb.2MB.max", "hugetlb.2MB.rsvd.max"] {
            assert_eq!(std::fs::read_to_string(d.join(f)).unwrap(), "4194304");
        }
        let limits: Vec<LinuxHugepageLimit> =
            serde_json::from_str(r#"[{"pageSize":"1GB","limit":-1}]"#).unwrap();
        let err = apply(d, &limits).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("linux.resources.hugepageLimits[0]: this host has no hugetlb.1GB.max"),
            "{err}"
        );
    }
}
