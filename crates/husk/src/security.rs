//! The security options of `husk run`, with Docker's syntax and meaning (docker run reference,
//! "Runtime privilege and Linux capabilities" and "Security configuration"): `--cap-add`,
//! `--cap-drop`, `--privileged` and `--security-opt no-new-privileges[=BOOL]` /
//! `seccomp=FILE|unconfined`. They change the defaults `husk run` applies: Docker's capability
//! set ([`crate::bundle::DEFAULT_CAPABILITIES`]), the default seccomp profile
//! ([`crate::seccomp_profile`]), the masked and read-only paths, and `noNewPrivileges` off (as
//! Podman: setuid programs in the image keep working unless it is asked for).
//!
//! Parsing is pure and unit tested; [`Security::from_args`] reads a `seccomp=FILE` profile.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::bundle::DEFAULT_CAPABILITIES;
use crate::seccomp_profile::{self, ProfileError};

/// Every capability the `caps` crate knows (capabilities(7), up to CAP_CHECKPOINT_RESTORE, 40),
/// as `CAP_` names in bit order: what `--privileged` and `--cap-add ALL` grant. A capability
/// this kernel or the runtime lacks is skipped by the runtime with a warning (runtime-spec
/// v1.1+).
pub fn all_capabilities() -> Vec<String> {
    let mut all: Vec<caps::Capability> = caps::all().into_iter().collect();
    all.sort_by_key(|c| c.index());
    all.iter().map(ToString::to_string).collect()
}

/// Errors of the security options; each names the option and what it accepts.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    /// A capability name that is not in capabilities(7).
    #[error("{flag} `{value}`: unknown capability; give a name from capabilities(7) with or without the CAP_ prefix (NET_ADMIN, cap_sys_ptrace), or ALL")]
    UnknownCapability {
        /// `--cap-add` or `--cap-drop`.
        flag: &'static str,
        /// The name as given.
        value: String,
    },
    /// A `--security-opt` husk does not know or does not support.
    #[error("--security-opt `{0}`: expected no-new-privileges[=true|false], seccomp=unconfined or seccomp=FILE (apparmor= and label= are not supported by husk run yet)")]
    UnknownOption(String),
    /// A `no-new-privileges=` value that is not a boolean.
    #[error("--security-opt `{0}`: no-new-privileges takes true or false")]
    NoNewPrivilegesValue(String),
    /// `seccomp=FILE`: the file could not be read or converted.
    #[error("--security-opt seccomp={}: {source}", path.display())]
    SeccompFile {
        /// The profile file.
        path: PathBuf,
        /// What was wrong with it.
        #[source]
        source: ProfileError,
    },
    /// The built-in profile did not convert (a bug in husk's data).
    #[error("husk's default seccomp profile: {0}")]
    DefaultProfile(#[source] ProfileError),
}

/// Where the seccomp profile comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeccompChoice {
    /// husk's default profile ([`crate::seccomp_profile::DEFAULT_PROFILE`]).
    Default,
    /// `seccomp=unconfined` (or `--privileged`): no filter.
    Unconfined,
    /// `seccomp=FILE`: a profile in the same format as the default one.
    File(PathBuf),
}

/// The security options as given on the command line.
#[derive(Debug, Default, Clone, Copy)]
pub struct SecurityArgs<'a> {
    /// `--cap-add`, in order.
    pub cap_add: &'a [String],
    /// `--cap-drop`, in order.
    pub cap_drop: &'a [String],
    /// `--privileged`.
    pub privileged: bool,
    /// `--security-opt`, in order.
    pub security_opt: &'a [String],
}

/// The security settings config.json gets.
#[derive(Debug, Clone, PartialEq)]
pub struct Security {
    /// `process.capabilities` bounding, effective and permitted (`CAP_` names, bit order).
    pub capabilities: Vec<String>,
    /// `--privileged`: no masked or read-only paths, every device allowed.
    pub privileged: bool,
    /// `process.noNewPrivileges`.
    pub no_new_privileges: bool,
    /// `linux.seccomp` (None: unconfined).
    pub seccomp: Option<Value>,
}

impl Default for Security {
    /// What `husk run` applies without options, but for the seccomp filter (see
    /// [`Security::from_args`], which adds the default profile).
    fn default() -> Self {
        Self {
            capabilities: DEFAULT_CAPABILITIES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            privileged: false,
            no_new_privileges: false,
            seccomp: None,
        }
    }
}

/// The canonical name of a `--cap-add`/`--cap-drop` value: `ALL`, or a `CAP_` name from
/// [`all_capabilities`] (case-insensitive, prefix optional).
///
/// Errors: [`SecurityError::UnknownCapability`] naming `flag`.
pub fn parse_capability(flag: &'static str, value: &str) -> Result<String, SecurityError> {
    let upper = value.trim().to_ascii_uppercase();
    if upper == "ALL" {
        return Ok(upper);
    }
    let name = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    if all_capabilities().contains(&name) {
        Ok(name)
    } else {
        Err(SecurityError::UnknownCapability {
            flag,
            value: value.to_owned(),
        })
    }
}

/// The capability set from `base` and the canonical `adds` and `drops`, with Docker's rules:
/// `--cap-add ALL` is every capability but the dropped ones; `--cap-drop ALL` keeps only the
/// added ones; otherwise `base` minus the drops plus the adds. The result is in bit order,
/// without duplicates.
pub fn capability_set(base: &[&str], adds: &[String], drops: &[String]) -> Vec<String> {
    let has = |list: &[String], c: &str| list.iter().any(|x| x == c);
    let keep = |c: &str| -> bool {
        if has(adds, "ALL") {
            !has(drops, c)
        } else if has(drops, "ALL") {
            has(adds, c)
        } else {
            (base.contains(&c) && !has(drops, c)) || has(adds, c)
        }
    };
    all_capabilities().into_iter().filter(|c| keep(c)).collect()
}

/// The parsed `--security-opt` values: `(no_new_privileges, seccomp)`. Docker's older
/// `key:value` form is accepted as well as `key=value`.
///
/// Errors: [`SecurityError::UnknownOption`], [`SecurityError::NoNewPrivilegesValue`].
pub fn parse_security_opts(opts: &[String]) -> Result<(bool, SeccompChoice), SecurityError> {
    let mut nnp = false;
    let mut seccomp = SeccompChoice::Default;
    for opt in opts {
        let (key, value) = match opt.split_once(['=', ':']) {
            Some((k, v)) => (k, Some(v)),
            None => (opt.as_str(), None),
        };
        match (key, value) {
            ("no-new-privileges", None) => nnp = true,
            ("no-new-privileges", Some(v)) => {
                nnp = match v.to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(SecurityError::NoNewPrivilegesValue(opt.clone())),
                }
            }
            ("seccomp", Some("unconfined")) => seccomp = SeccompChoice::Unconfined,
            ("seccomp", Some(path)) if !path.is_empty() => {
                seccomp = SeccompChoice::File(PathBuf::from(path));
            }
            _ => return Err(SecurityError::UnknownOption(opt.clone())),
        }
    }
    Ok((nnp, seccomp))
}

impl Security {
    /// Parses the options and builds the seccomp filter for the resulting capability set
    /// (reading a `seccomp=FILE` profile). `--privileged` starts from every capability
    /// (--cap-drop still applies) and turns seccomp off unless a `seccomp=FILE` is given, as
    /// Docker does.
    ///
    /// Errors: [`SecurityError`] naming the option.
    pub fn from_args(args: &SecurityArgs<'_>) -> Result<Self, SecurityError> {
        let adds = args
            .cap_add
            .iter()
            .map(|c| parse_capability("--cap-add", c))
            .collect::<Result<Vec<_>, _>>()?;
        let drops = args
            .cap_drop
            .iter()
            .map(|c| parse_capability("--cap-drop", c))
            .collect::<Result<Vec<_>, _>>()?;
        let all = all_capabilities();
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let base: &[&str] = if args.privileged {
            &all
        } else {
            &DEFAULT_CAPABILITIES
        };
        let capabilities = capability_set(base, &adds, &drops);
        let (no_new_privileges, choice) = parse_security_opts(args.security_opt)?;
        let seccomp = match choice {
            SeccompChoice::Unconfined => None,
            SeccompChoice::Default if args.privileged => None,
            SeccompChoice::Default => Some(
                seccomp_profile::default_profile(&capabilities)
                    .map_err(SecurityError::DefaultProfile)?,
            ),
            SeccompChoice::File(path) => Some(read_profile(&path, &capabilities)?),
        };
        Ok(Self {
            capabilities,
            privileged: args.privileged,
            no_new_privileges,
            seccomp,
        })
    }
}

/// Reads and converts the profile at `path` for `capabilities`.
fn read_profile(path: &Path, capabilities: &[String]) -> Result<Value, SecurityError> {
    let err = |source| SecurityError::SeccompFile {
        path: path.to_owned(),
        source,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(ProfileError::Read(e)))?;
    seccomp_profile::convert_text(&text, capabilities).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_owned()).collect()
    }

    #[test]
    fn capability_names_like_docker() {
        assert_eq!(
            parse_capability("--cap-add", "net_admin").unwrap(),
            "CAP_NET_ADMIN"
        );
        assert_eq!(
            parse_capability("--cap-add", "CAP_SYS_PTRACE").unwrap(),
            "CAP_SYS_PTRACE"
        );
        assert_eq!(
            parse_capability("--cap-add", "Cap_Sys_Admin").unwrap(),
            "CAP_SYS_ADMIN"
        );
        assert_eq!(parse_capability("--cap-drop", "all").unwrap(), "ALL");
        let e = parse_capability("--cap-drop", "NET_WIZARD").unwrap_err();
        assert!(e.to_string().starts_with("--cap-drop `NET_WIZARD`"), "{e}");
        assert!(parse_capability("--cap-add", "").is_err());
        assert!(parse_capability("--cap-add", "CAP_").is_err());
    }

    #[test]
    fn capability_set_rules() {
        let d = &DEFAULT_CAPABILITIES;
        let set = capability_set(d, &s(&["CAP_SYS_ADMIN"]), &s(&["CAP_NET_RAW"]));
        assert!(set.contains(&"CAP_SYS_ADMIN".into()));
        assert!(!set.contains(&"CAP_NET_RAW".into()));
        assert_eq!(set.len(), 14);
        assert_eq!(
            capability_set(d, &s(&["CAP_KILL"]), &s(&["ALL"])),
            ["CAP_KILL"]
        );
        assert!(capability_set(d, &[], &s(&["ALL"])).is_empty());
        let all_but = capability_set(d, &s(&["ALL"]), &s(&["CAP_BPF"]));
        assert_eq!(all_but.len(), 40);
        assert!(!all_but.contains(&"CAP_BPF".into()));
        // Duplicates collapse; bit order.
        let dup = capability_set(&[], &s(&["CAP_KILL", "CAP_CHOWN", "CAP_KILL"]), &[]);
        assert_eq!(dup, ["CAP_CHOWN", "CAP_KILL"]);
    }

    #[test]
    fn security_opts() {
        assert_eq!(
            parse_security_opts(&[]).unwrap(),
            (false, SeccompChoice::Default)
        );
        assert!(parse_security_opts(&s(&["no-new-privileges"])).unwrap().0);
        assert!(
            parse_security_opts(&s(&["no-new-privileges=true"]))
                .unwrap()
                .0
        );
        assert!(
            parse_security_opts(&s(&["no-new-privileges:true"]))
                .unwrap()
                .0
        );
        assert!(
            !parse_security_opts(&s(&["no-new-privileges", "no-new-privileges=false"]))
                .unwrap()
                .0
        );
        assert!(parse_security_opts(&s(&["no-new-privileges=yes"])).is_err());
        assert_eq!(
            parse_security_opts(&s(&["seccomp=unconfined"])).unwrap().1,
            SeccompChoice::Unconfined
        );
        assert_eq!(
            parse_security_opts(&s(&["seccomp=/p.json"])).unwrap().1,
            SeccompChoice::File("/p.json".into())
        );
        for bad in [
            "seccomp",
            "seccomp=",
            "apparmor=unconfined",
            "label=disable",
            "x",
        ] {
            let e = parse_security_opts(&s(&[bad])).unwrap_err();
            assert!(e.to_string().contains(&format!("`{bad}`")), "{e}");
        }
    }

    #[test]
    fn defaults_and_privileged() {
        let d = Security::from_args(&SecurityArgs::default()).unwrap();
        assert_eq!(d.capabilities.len(), 14);
        assert!(!d.no_new_privileges && !d.privileged);
        let f = d.seccomp.unwrap();
        assert_eq!(f["defaultAction"], "SCMP_ACT_ERRNO");

        let p = Security::from_args(&SecurityArgs {
            privileged: true,
            ..SecurityArgs::default()
        })
        .unwrap();
        assert_eq!(p.capabilities.len(), all_capabilities().len());
        assert!(p.seccomp.is_none() && p.privileged);

        let drop = s(&["sys_admin"]);
        let p = Security::from_args(&SecurityArgs {
            privileged: true,
            cap_drop: &drop,
            ..SecurityArgs::default()
        })
        .unwrap();
        assert_eq!(p.capabilities.len(), all_capabilities().len() - 1);
    }

    #[test]
    fn seccomp_file_errors_name_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("none.json");
        let opt = s(&[&format!("seccomp={}", missing.display())]);
        let e = Security::from_args(&SecurityArgs {
            security_opt: &opt,
            ..SecurityArgs::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("none.json"), "{e}");
        let bad = tmp.path().join("bad.json");
        std::fs::write(&bad, "{").unwrap();
        let opt = s(&[&format!("seccomp={}", bad.display())]);
        assert!(Security::from_args(&SecurityArgs {
            security_opt: &opt,
            ..SecurityArgs::default()
        })
        .is_err());
    }
}
