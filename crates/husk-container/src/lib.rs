//! The husk container lifecycle library: everything between a bundle's config.json and a running,
//! isolated process, shared by the `husk-runtime` OCI runtime and the `husk` front end.
//!
//! Layout (one concern per module):
//! - [`spec`]: reading and validating config.json (runtime-spec v1.3), with the fields oci-spec's
//!   types would lose kept as husk needs them; [`spec_default`]: runc's default config.json.
//! - [`id`]: container id rules. [`state`]: the state directory, its lock and state.json.
//! - [`process`]: the process model (parent, intermediate, init) and the typed channel;
//!   [`init`]: what the intermediate and the init do.
//! - [`netdev`]: `linux.netDevices`, host interfaces moved into the container over rtnetlink.
//! - [`namespaces`], [`rootfs`], [`capabilities`], [`rlimits`], [`seccomp`], [`hooks`], [`tty`],
//!   [`sysctl`], [`lsm`]: one kernel concern each; [`kernel`]: the process's kernel settings
//!   (personality, I/O priority, scheduler, memory policy) and the checks of that spec part.
//! - [`container`]: the lifecycle verbs (create, start, state, kill, delete) on top of them;
//!   [`features`]: the runtime-spec features document (`husk-runtime features`);
//!   [`cgroup_verbs`]: runc's verbs on a container's cgroup (pause, resume, ps, events, update).

pub mod capabilities;
pub mod cgroup_verbs;
pub mod container;
pub mod exec;
pub mod exeseal;
pub mod features;
pub mod hooks;
pub mod id;
pub mod init;
pub mod kernel;
pub mod lsm;
pub mod namespaces;
pub mod netdev;
pub mod notify;
pub mod process;
pub mod rlimits;
pub mod rootfs;
pub mod rootless;
pub mod seccomp;
pub mod spec;
pub mod spec_default;
pub mod state;
pub mod sysctl;
pub mod tty;

pub use spec::OCI_VERSION;
