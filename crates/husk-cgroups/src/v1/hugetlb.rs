//! The v1 hugetlb controller (kernel Documentation/admin-guide/cgroup-v1/hugetlb.rst):
//! `hugetlb.<size>.limit_in_bytes` per page size.

use std::path::Path;

use oci_spec::runtime::LinuxHugepageLimit;

use crate::error::CgroupError;
use crate::fs::set;

/// The hint for a page size with no file: the host does not support that size.
pub(crate) const NO_SIZE: &str = "the kernel has hugetlb files only for the page sizes the CPU supports (ls /sys/kernel/mm/hugepages)";

/// Write each limit (bytes; -1 unlimited) to `hugetlb.<pageSize>.limit_in_bytes`.
///
/// # Errors
/// [`CgroupError::MissingFile`] for a page size the host lacks, [`CgroupError::Limit`].
pub(crate) fn apply(dir: &Path, limits: &[LinuxHugepageLimit]) -> Result<(), CgroupError> {
    for (i, h) in limits.iter().enumerate() {
        set(
            dir,
            &format!("hugetlb.{}.limit_in_bytes", h.page_size()),
            &h.limit().to_string(),
            &format!("linux.resources.hugepageLimits[{i}]"),
            NO_SIZE,
        )?;
    }
    Ok(())
}
