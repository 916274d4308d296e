//! The rdma controller (kernel Documentation/admin-guide/cgroup-v1/rdma.rst and cgroup-v2.rst
//! "RDMA"): `rdma.max`, the same file and syntax in v1 and v2.

use std::collections::HashMap;
use std::path::Path;

use oci_spec::runtime::LinuxRdma;

use crate::error::CgroupError;
use crate::fs::set;
use crate::resources::sorted_keys;

/// Write each device's limits to rdma.max as `DEVICE hca_handle=N hca_object=M` (a limit
/// left out stays as it is).
///
/// # Errors
/// [`CgroupError::Limit`] with the kernel's errno (ENODEV for a device the host lacks).
pub(crate) fn apply(dir: &Path, rdma: &HashMap<String, LinuxRdma>) -> Result<(), CgroupError> {
    for device in sorted_keys(rdma) {
        let limits = &rdma[device];
        let mut line = device.to_owned();
        if let Some(h) = limits.hca_handles() {
            line.push_str(&format!(" hca_handle={h}"));
        }
        if let Some(o) = limits.hca_objects() {
            line.push_str(&format!(" hca_object={o}"));
        }
        if line == device {
            continue;
        }
        set(
            dir,
            "rdma.max",
            &line,
            &format!("linux.resources.rdma[{device:?}]"),
            "",
        )?;
    }
    Ok(())
}
