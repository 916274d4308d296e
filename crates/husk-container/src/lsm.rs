//! Linux security module labels of the container's process: `process.apparmorProfile` and
//! `process.selinuxLabel` (runtime-spec config.md, "Linux Process").
//!
//! A label is requested for the next execve(2) by writing it to the process's own
//! `attr/…/exec` file in /proc. That file is opened by the init *before* the container's root
//! filesystem is mounted, through the runtime's own /proc (checked to be procfs), and written
//! just before execve: a /proc the container's image or mounts control can never receive the
//! label instead (runc's CVE-2019-16884, where a fake /proc made the AppArmor profile a no-op).
//!
//! A label for a security module the host does not run is an error before anything is created:
//! the container would otherwise run without the confinement its config asks for.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use oci_spec::runtime::Spec;

use crate::process::ChildError;

/// Where the kernel says whether AppArmor is enabled (`Y`).
const APPARMOR_ENABLED: &str = "/sys/module/apparmor/parameters/enabled";
/// Present when SELinux is enabled (selinuxfs mounted).
const SELINUX_ENFORCE: &str = "/sys/fs/selinux/enforce";

/// A label the host cannot apply, found before anything is created.
#[derive(Debug, thiserror::Error)]
pub enum LsmError {
    /// `process.apparmorProfile` on a host without AppArmor.
    #[error("process.apparmorProfile is {profile:?} but AppArmor is not enabled on this host ({APPARMOR_ENABLED} does not say Y): the container would run unconfined; remove process.apparmorProfile or run on a host with AppArmor")]
    AppArmorDisabled {
        /// The profile asked for.
        profile: String,
    },
    /// `process.selinuxLabel` on a host without SELinux.
    #[error("process.selinuxLabel is {label:?} but SELinux is not enabled on this host ({SELINUX_ENFORCE} does not exist): the container would run without its label; remove process.selinuxLabel or run on a host with SELinux")]
    SelinuxDisabled {
        /// The label asked for.
        label: String,
    },
}

/// A label to apply at the container's execve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecLabel {
    /// An AppArmor profile name.
    AppArmor(String),
    /// An SELinux process context.
    Selinux(String),
}

impl ExecLabel {
    /// The config field it comes from.
    fn field(&self) -> &'static str {
        match self {
            ExecLabel::AppArmor(_) => "process.apparmorProfile",
            ExecLabel::Selinux(_) => "process.selinuxLabel",
        }
    }
}

/// Whether AppArmor is enabled on this host (`man 7 apparmor`; runc's `apparmor.IsEnabled`):
/// whether `process.apparmorProfile` can be honoured. Also read by `husk-runtime features`.
pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string(APPARMOR_ENABLED).is_ok_and(|s| s.trim() == "Y")
}

/// Whether SELinux is enabled on this host (selinuxfs is mounted): whether
/// `process.selinuxLabel` and `linux.mountLabel` can be honoured. Also read by `husk-runtime features`.
pub fn selinux_enabled() -> bool {
    Path::new(SELINUX_ENFORCE).exists()
}

/// The labels `spec` asks for, checked against the host's security modules. Empty strings mean
/// "no label", as in runc.
///
/// # Errors
/// [`LsmError`] when a label names a security module the host does not run.
pub fn plan(spec: &Spec) -> Result<Vec<ExecLabel>, LsmError> {
    let Some(process) = spec.process().as_ref() else {
        return Ok(Vec::new());
    };
    let mut labels = Vec::new();
    if let Some(profile) = process
        .apparmor_profile()
        .as_ref()
        .filter(|p| !p.is_empty())
    {
        if !apparmor_enabled() {
            return Err(LsmError::AppArmorDisabled {
                profile: profile.clone(),
            });
        }
        labels.push(ExecLabel::AppArmor(profile.clone()));
    }
    if let Some(label) = process.selinux_label().as_ref().filter(|l| !l.is_empty()) {
        if !selinux_enabled() {
            return Err(LsmError::SelinuxDisabled {
                label: label.clone(),
            });
        }
        labels.push(ExecLabel::Selinux(label.clone()));
    }
    Ok(labels)
}

/// An `attr/…/exec` file opened before the root switch, with the label to write to it.
#[derive(Debug)]
pub struct ExecAttr {
    label: ExecLabel,
    file: File,
}

/// In the init, before any mount of the container: open the exec attribute file of each label
/// in the runtime's /proc.
///
/// # Errors
/// [`ChildError`] naming the field when the file cannot be opened or /proc is not procfs.
pub fn open(labels: &[ExecLabel]) -> Result<Vec<ExecAttr>, ChildError> {
    let mut out = Vec::with_capacity(labels.len());
    for label in labels {
        // AppArmor has its own directory since Linux 5.8 (LSM stacking); the shared attr/exec
        // is the older interface. SELinux uses the shared one.
        let candidates: &[&str] = match label {
            ExecLabel::AppArmor(_) => &[
                "/proc/thread-self/attr/apparmor/exec",
                "/proc/thread-self/attr/exec",
            ],
            ExecLabel::Selinux(_) => &["/proc/thread-self/attr/exec"],
        };
        let mut last = None;
        let mut opened = None;
        for path in candidates {
            match std::fs::OpenOptions::new().write(true).open(path) {
                Ok(f) => {
                    opened = Some((f, *path));
                    break;
                }
                Err(e) => last = Some((e, *path)),
            }
        }
        let (file, path) = match (opened, last) {
            (Some(found), _) => found,
            (None, Some((e, path))) => {
                return Err(ChildError::setup(
                    "open",
                    Some(&format!("{path} ({})", label.field())),
                    &e,
                ))
            }
            (None, None) => continue,
        };
        let is_proc = nix::sys::statfs::fstatfs(&file)
            .map(|s| s.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC)
            .unwrap_or(false);
        if !is_proc {
            return Err(ChildError::Config {
                field: label.field().into(),
                detail: format!("{path} is not on a procfs: mount proc on the runtime's /proc"),
            });
        }
        out.push(ExecAttr {
            label: label.clone(),
            file,
        });
    }
    Ok(out)
}

/// In the init, just before execve and while still privileged: ask for each label at the next
/// execve. AppArmor takes `exec PROFILE` (`aa_change_onexec(3)`), SELinux the context itself.
///
/// # Errors
/// [`ChildError::Config`] naming the field and the label the kernel refused (e.g. an AppArmor
/// profile that is not loaded).
pub fn apply(attrs: &mut [ExecAttr]) -> Result<(), ChildError> {
    for a in attrs {
        let (text, name) = match &a.label {
            ExecLabel::AppArmor(p) => (format!("exec {p}"), p),
            ExecLabel::Selinux(l) => (l.clone(), l),
        };
        a.file
            .write_all(text.as_bytes())
            .map_err(|e| ChildError::Config {
                field: a.label.field().into(),
                detail: format!(
                    "the kernel refused {name:?}: {e}{}",
                    match (&a.label, e.raw_os_error()) {
                        (ExecLabel::AppArmor(_), Some(libc::ENOENT)) =>
                            "; is the profile loaded (see /sys/kernel/security/apparmor/profiles)?",
                        _ => "",
                    }
                ),
            })?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn empty_labels_ask_for_nothing_and_missing_modules_are_errors() {
        let spec = |process: serde_json::Value| -> Spec {
            serde_json::from_value(serde_json::json!({"ociVersion": "1.3.0", "process": process}))
                .unwrap()
        };
        let base = serde_json::json!({"user": {"uid": 0, "gid": 0}, "cwd": "/", "args": ["sh"]});
        let mut p = base.clone();
        p["apparmorProfile"] = "".into();
        p["selinuxLabel"] = "".into();
        assert!(plan(&spec(p)).unwrap().is_empty());

        let mut p = base.clone();
        p["apparmorProfile"] = "husk-test".into();
        match plan(&spec(p)) {
            Ok(l) => assert!(apparmor_enabled() && l == [ExecLabel::AppArmor("husk-test".into())]),
            Err(e) => {
                assert!(!apparmor_enabled());
                assert!(e.to_string().contains("process.apparmorProfile"), "{e}");
            }
        }
        let mut p = base;
        p["selinuxLabel"] = "system_u:system_r:container_t:s0".into();
        match plan(&spec(p)) {
            Ok(_) => assert!(selinux_enabled()),
            Err(e) => {
                assert!(!selinux_enabled());
                assert!(e.to_string().contains("process.selinuxLabel"), "{e}");
            }
        }
    }
}
