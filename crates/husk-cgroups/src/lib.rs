//! husk-cgroups: the cgroup manager of husk containers on cgroup v1, hybrid and v2 hosts.
//!
//! - [`Layout`] detects the host's hierarchies at run time (/proc/self/mountinfo,
//!   /proc/self/cgroup, statfs of /sys/fs/cgroup); it is never assumed.
//! - [`Cgroup`] is one container's cgroup: its directory in every hierarchy, created from
//!   `linux.cgroupsPath` (runtime-spec config-linux.md), recorded in state.json, removed on
//!   delete. It is the manager: it moves processes in, applies and updates `linux.resources`
//!   (every controller through the hierarchy it is bound to on this host: a v1 hierarchy, or
//!   cgroup2), lists and signals its processes, and says what the container's `cgroup` mount
//!   shows. It freezes and thaws them ([`FreezerState`]), reads their usage ([`Stats`], the
//!   shape of runc's `events --stats`) and counts their OOM kills ([`OomWatch`]).
//! - [`convert`]: v1-style `linux.resources` values into cgroup v2 files (cpu.weight,
//!   memory.swap.max, cpu.max, io.weight), as current runc and crun convert them.
//! - `resources`: the host-independent checks of `linux.resources` and which controller each
//!   field needs.
//! - The per-controller logic lives in `v1/` and `v2/`, one file per controller, and every
//!   path is derived from the mount points in [`Layout`], so the logic is tested against a
//!   temp dir ([`Layout::from_parts_at`]).
//!
//! References: cgroups(7), kernel Documentation/admin-guide/cgroup-v1/ and cgroup-v2.rst.

// Tests may unwrap (project rule); the non-test build is still checked by clippy.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod cgroup;
pub mod convert;
mod devices;
mod error;
mod events;
mod freezer;
mod fs;
mod layout;
mod path;
mod resources;
mod stats;
mod v1;
mod v2;

#[cfg(test)]
mod root_tests;

pub use cgroup::{Cgroup, CgroupDir, CgroupMount};
pub use devices::{default_allowed, DeviceKind, DeviceRule};
pub use error::CgroupError;
pub use events::OomWatch;
pub use freezer::FreezerState;
pub use layout::{CgroupVersion, Hierarchy, Layout, LayoutKind};
pub use stats::{
    BlkioEntry, BlkioStats, CpuStats, CpuUsage, CpusetStats, HugetlbStats, IntelRdtStats,
    MemoryEntry, MemoryStats, PidsStats, Stats, Throttling,
};
