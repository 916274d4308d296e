//! The cgroup v2 backend: one file per controller. Issue 2 has only `devices`; the cgroup
//! issue adds memory, cpu, cpuset, pids, io, hugetlb, rdma, unified and freeze here.

pub(crate) mod devices;
