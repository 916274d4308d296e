//! The cgroup v2 backend: one file per controller, each writing `linux.resources` into the
//! container's cgroup2 directory, converted to v2 terms where v2 differs ([`crate::convert`]).
//! cpuset, pids and rdma have the same interface files in both versions; their one
//! implementation lives in `v1/` (cpuset.rs, pids.rs, rdma.rs) and serves both.

pub(crate) mod cpu;
pub(crate) mod devices;
pub(crate) mod hugetlb;
pub(crate) mod io;
pub(crate) mod memory;
pub(crate) mod unified;
