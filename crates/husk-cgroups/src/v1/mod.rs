//! The cgroup v1 backend: one file per controller, each writing `linux.resources` into the
//! container's directory of the hierarchy that controller is bound to.

pub(crate) mod blkio;
pub(crate) mod cpu;
pub(crate) mod cpuset;
pub(crate) mod devices;
pub(crate) mod hugetlb;
pub(crate) mod memory;
pub(crate) mod net_cls;
pub(crate) mod net_prio;
pub(crate) mod pids;
pub(crate) mod rdma;
