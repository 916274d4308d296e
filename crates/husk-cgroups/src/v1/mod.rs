//! The cgroup v1 backend: one file per controller. Issue 2 has only `devices`; the cgroup
//! issue adds memory, cpu, cpuset, pids, blkio, hugetlb, net_cls, net_prio and freezer here.

pub(crate) mod cpuset;
pub(crate) mod devices;
