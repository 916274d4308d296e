//! `husk`: the front end people type. `husk run [OPTIONS] SOURCE [COMMAND [ARG...]]` runs a root
//! filesystem directory, a rootfs tarball or the host's own programs as an isolated container
//! in the foreground, and exits with the command's status.
//!
//! Modules, one concern each: [`cli`] (arguments), [`source`] (the SOURCE grammar), [`unpack`]
//! (tarballs and their cache), [`overlay`] (the per-container overlay), [`hostroot`] (the `host`
//! source), [`bundle`] (config.json), [`volume`], [`user`], [`envvars`], [`name`],
//! [`resources`] (option parsing), [`network`] (--network, -p and the pasta/slirp4netns
//! helpers), [`security`] (capabilities, seccomp, no_new_privs;
//! the default profile in [`seccomp_profile`]), [`record`] (husk's record of each container and
//! the data root's layout), [`rootless`] (an unprivileged user's id mapping, data root and
//! steps run in a user namespace), [`run`] (the verb and the monitor role). main.rs only
//! parses, dispatches and maps errors to exit statuses.

// Tests may unwrap (the project's rule); production code may not.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod bundle;
pub mod cli;
pub mod envvars;
pub mod hostroot;
pub mod name;
pub mod network;
pub mod overlay;
pub mod record;
pub mod resources;
pub mod rootless;
pub mod run;
pub mod seccomp_profile;
pub mod security;
pub mod source;
#[cfg(test)]
mod testutil;
pub mod unpack;
pub mod user;
pub mod volume;
