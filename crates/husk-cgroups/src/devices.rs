//! The device cgroup rule model shared by the v1 and v2 backends: `linux.resources.devices`
//! (runtime-spec config-linux.md, "Allowed Device List") validated into [`DeviceRule`]s, and
//! the default allow list every container gets.

use std::fmt;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use crate::error::CgroupError;

/// The device types a cgroup rule can name (the kernel's devices.allow syntax,
/// Documentation/admin-guide/cgroup-v1/devices.rst).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    /// `a`: every device, char and block.
    All,
    /// `c`: character devices.
    Char,
    /// `b`: block devices.
    Block,
}

/// One validated device cgroup rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceRule {
    /// Allow (devices.allow) or deny (devices.deny).
    pub allow: bool,
    /// Which kind of device.
    pub kind: DeviceKind,
    /// The major number; None is the wildcard `*`.
    pub major: Option<u64>,
    /// The minor number; None is the wildcard `*`.
    pub minor: Option<u64>,
    /// A non-empty subset of `rwm`, in that order.
    pub access: String,
}

impl DeviceRule {
    /// Whether this is the deny-everything rule (`a *:* rwm`, deny), which `runc spec` and
    /// most clients put first.
    pub fn is_deny_all(&self) -> bool {
        !self.allow && self.kind == DeviceKind::All && self.access == "rwm"
    }
}

/// `TYPE MAJOR:MINOR ACCESS`, the format of devices.allow, devices.deny and devices.list, with
/// `*` for a wildcard number.
impl fmt::Display for DeviceRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            DeviceKind::All => 'a',
            DeviceKind::Char => 'c',
            DeviceKind::Block => 'b',
        };
        let number = |n: Option<u64>| n.map_or_else(|| "*".to_owned(), |n| n.to_string());
        write!(
            f,
            "{kind} {}:{} {}",
            number(self.major),
            number(self.minor),
            self.access
        )
    }
}

/// The allow rules appended after the container's own rules, as runc 1.1 appends its
/// `specconv.AllowedDevices` (so users cannot take them away): mknod of any char and block
/// device, /dev/null, random, full, tty, zero, urandom, the pty slaves (136:*), /dev/ptmx
/// (5:2), tun/tap (10:200); plus /dev/console (5:1), which runc leaves out but the container
/// needs when husk creates it as a device node rather than a bind mount of the pty.
pub fn default_allowed() -> Vec<DeviceRule> {
    let mknod = |kind| DeviceRule {
        allow: true,
        kind,
        major: None,
        minor: None,
        access: "m".to_owned(),
    };
    let char_devices = [
        (1, Some(3)),    // /dev/null
        (1, Some(8)),    // /dev/random
        (1, Some(7)),    // /dev/full
        (5, Some(0)),    // /dev/tty
        (5, Some(1)),    // /dev/console
        (1, Some(5)),    // /dev/zero
        (1, Some(9)),    // /dev/urandom
        (136, None),     // /dev/pts/*
        (5, Some(2)),    // /dev/ptmx
        (10, Some(200)), // /dev/net/tun
    ];
    let mut rules = vec![mknod(DeviceKind::Char), mknod(DeviceKind::Block)];
    rules.extend(char_devices.iter().map(|&(major, minor)| DeviceRule {
        allow: true,
        kind: DeviceKind::Char,
        major: Some(major),
        minor,
        access: "rwm".to_owned(),
    }));
    rules
}

/// Validate `linux.resources.devices` into rules, in order.
///
/// Defaults as the spec gives them: an absent `type` is `a`, absent `major`/`minor` (or -1,
/// which runc writes) is `*`, an absent `access` is `rwm`. Errors name the field:
/// `linux.resources.devices[i].type` for `u`/`p` (not valid in a cgroup rule),
/// `.major`/`.minor` below -1, `.access` empty or with letters other than r, w, m.
pub fn rules_from_spec(devices: &[LinuxDeviceCgroup]) -> Result<Vec<DeviceRule>, CgroupError> {
    devices
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let field = |name: &str| format!("linux.resources.devices[{i}].{name}");
            let kind = match d.typ().unwrap_or(LinuxDeviceType::A) {
                LinuxDeviceType::A => DeviceKind::All,
                LinuxDeviceType::C => DeviceKind::Char,
                LinuxDeviceType::B => DeviceKind::Block,
                LinuxDeviceType::U | LinuxDeviceType::P => {
                    return Err(CgroupError::InvalidDeviceRule {
                        field: field("type"),
                        reason: "a device cgroup rule's type is \"a\", \"c\" or \"b\"",
                    })
                }
            };
            let number = |value: Option<i64>, name: &str| match value {
                None | Some(-1) => Ok(None),
                Some(n) => u64::try_from(n)
                    .map(Some)
                    .map_err(|_| CgroupError::InvalidDeviceRule {
                        field: field(name),
                        reason: "a device number is 0 or more, or -1 (or absent) for any",
                    }),
            };
            let major = number(d.major(), "major")?;
            let minor = number(d.minor(), "minor")?;
            let access = match d.access().as_deref() {
                None => "rwm".to_owned(),
                Some(access) => normalise_access(access).ok_or_else(|| {
                    CgroupError::InvalidDeviceRule {
                        field: field("access"),
                        reason: "access is a non-empty combination of r (read), w (write) and m (mknod)",
                    }
                })?,
            };
            Ok(DeviceRule {
                allow: d.allow(),
                kind,
                major,
                minor,
                access,
            })
        })
        .collect()
}

/// `"mr"` -> `"rm"`; None when empty or with another letter.
fn normalise_access(access: &str) -> Option<String> {
    if access.is_empty() || !access.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
        return None;
    }
    Some(
        ['r', 'w', 'm']
            .iter()
            .filter(|c| access.contains(**c))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceCgroupBuilder;

    #[test]
    fn rule_formatting() {
        let rules = rules_from_spec(&[
            LinuxDeviceCgroupBuilder::default()
                .allow(false)
                .access("rwm")
                .build()
                .unwrap(),
            LinuxDeviceCgroupBuilder::default()
                .allow(true)
                .typ(LinuxDeviceType::C)
                .major(1)
                .minor(3)
                .access("wr")
                .build()
                .unwrap(),
            LinuxDeviceCgroupBuilder::default()
                .allow(true)
                .typ(LinuxDeviceType::B)
                .major(8)
                .minor(-1)
                .access("m")
                .build()
                .unwrap(),
            LinuxDeviceCgroupBuilder::default()
                .allow(false)
                .typ(LinuxDeviceType::C)
                .build()
                .unwrap(),
        ])
        .unwrap();
        let text: Vec<String> = rules.iter().map(ToString::to_string).collect();
        assert_eq!(text, ["a *:* rwm", "c 1:3 rw", "b 8:* m", "c *:* rwm"]);
        assert!(rules[0].is_deny_all());
        assert!(!rules[3].is_deny_all());
        assert!(rules[1].allow);
    }

    #[test]
    fn default_list_matches_runc_plus_console() {
        let text: Vec<String> = default_allowed().iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "c *:* m",
                "b *:* m",
                "c 1:3 rwm",
                "c 1:8 rwm",
                "c 1:7 rwm",
                "c 5:0 rwm",
                "c 5:1 rwm",
                "c 1:5 rwm",
                "c 1:9 rwm",
                "c 136:* rwm",
                "c 5:2 rwm",
                "c 10:200 rwm",
            ]
        );
        assert!(default_allowed().iter().all(|r| r.allow));
    }

    #[test]
    fn bad_rules_name_the_field() {
        let cases = [
            (
                LinuxDeviceCgroupBuilder::default()
                    .typ(LinuxDeviceType::U)
                    .build()
                    .unwrap(),
                "linux.resources.devices[0].type",
            ),
            (
                LinuxDeviceCgroupBuilder::default()
                    .major(-2)
                    .build()
                    .unwrap(),
                "linux.resources.devices[0].major",
            ),
            (
                LinuxDeviceCgroupBuilder::default()
                    .minor(-5)
                    .build()
                    .unwrap(),
                "linux.resources.devices[0].minor",
            ),
            (
                LinuxDeviceCgroupBuilder::default()
                    .access("rwx")
                    .build()
                    .unwrap(),
                "linux.resources.devices[0].access",
            ),
            (
                LinuxDeviceCgroupBuilder::default()
                    .access("")
                    .build()
                    .unwrap(),
                "linux.resources.devices[0].access",
            ),
        ];
        for (rule, field) in cases {
            let err = rules_from_spec(&[rule]).unwrap_err();
            assert!(err.to_string().starts_with(field), "{field}: {err}");
        }
    }
}
