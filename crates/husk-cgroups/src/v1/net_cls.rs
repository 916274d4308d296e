//! The v1 net_cls controller (kernel Documentation/admin-guide/cgroup-v1/net_cls.rst):
//! `net_cls.classid`, the tc class id of the container's packets. cgroup v2 has no equivalent.

use std::path::Path;

use crate::error::CgroupError;
use crate::fs::set;

/// Write `linux.resources.network.classID` (0xAAAABBBB: tc major:minor) to net_cls.classid.
///
/// # Errors
/// [`CgroupError::Limit`] with the kernel's errno.
pub(crate) fn apply(dir: &Path, class_id: u32) -> Result<(), CgroupError> {
    set(
        dir,
        "net_cls.classid",
        &class_id.to_string(),
        "linux.resources.network.classID",
        "",
    )
}
