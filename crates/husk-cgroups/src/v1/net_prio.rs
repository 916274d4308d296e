//! The v1 net_prio controller (kernel Documentation/admin-guide/cgroup-v1/net_prio.rst):
//! `net_prio.ifpriomap`, one `IFNAME PRIORITY` per write. cgroup v2 has no equivalent.

use std::path::Path;

use oci_spec::runtime::LinuxInterfacePriority;

use crate::error::CgroupError;
use crate::fs::set;

/// Write each `linux.resources.network.priorities[i]` to net_prio.ifpriomap.
///
/// # Errors
/// [`CgroupError::Limit`] with the kernel's errno (ENODEV is not returned for an unknown
/// interface: the kernel keeps the entry for when it appears).
pub(crate) fn apply(dir: &Path, priorities: &[LinuxInterfacePriority]) -> Result<(), CgroupError> {
    for (i, p) in priorities.iter().enumerate() {
        set(
            dir,
            "net_prio.ifpriomap",
            &format!("{} {}", p.name(), p.priority()),
            &format!("linux.resources.network.priorities[{i}]"),
            "",
        )?;
    }
    Ok(())
}
