//! The v1 devices controller: devices.deny / devices.allow (kernel
//! Documentation/admin-guide/cgroup-v1/devices.rst).

use std::path::Path;

use crate::devices::{default_allowed, DeviceKind, DeviceRule};
use crate::error::CgroupError;
use crate::fs::write_file;

/// Whether the v1 devices cgroup currently allows everything but its exceptions (blacklist)
/// or denies everything but its exceptions (whitelist).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    Whitelist,
    Blacklist,
}

/// The access letters of `a` that are also in `b`, in `rwm` order.
fn common(a: &str, b: &str) -> String {
    a.chars().filter(|c| b.contains(*c)).collect()
}

/// Whether number pattern `outer` (None: `*`) includes every number `inner` does.
fn includes(outer: Option<u64>, inner: Option<u64>) -> bool {
    outer.is_none() || outer == inner
}

/// Whether two number patterns share at least one number.
fn meets(a: Option<u64>, b: Option<u64>) -> bool {
    a.is_none() || b.is_none() || a == b
}

/// The writes that set the container's device rules, in order: `a` to devices.deny (a
/// whitelist that starts empty), then each rule of the spec to devices.allow or devices.deny,
/// then the default allow list. Each write is one rule because the kernel parses one rule per
/// write(2).
///
/// The kernel keeps a list of exceptions to the cgroup's behaviour, and a rule that goes
/// against the behaviour only takes access away from the exception with exactly its numbers
/// (devices.rst, "Hierarchy"): a deny of `c 1:* w` does not touch an allowed `c 1:3 rw`, and a
/// deny of `c 1:3 w` cannot cut a hole in an allowed `c 1:* rw`. So that the result is what
/// the rules say (the last matching rule wins, as on cgroup v2), a rule wider than earlier
/// exceptions is written once per exception it covers, with that exception's numbers; a rule
/// that would cut into a wider exception is refused (runc refuses it too).
///
/// # Errors
/// [`CgroupError::InvalidDeviceRule`] naming `linux.resources.devices[i]` for a hole in a
/// wildcard rule.
pub(crate) fn writes(rules: &[DeviceRule]) -> Result<Vec<(&'static str, String)>, CgroupError> {
    let file = |allow: bool| {
        if allow {
            "devices.allow"
        } else {
            "devices.deny"
        }
    };
    let defaults = default_allowed();
    let mut writes = vec![("devices.deny", "a".to_owned())];
    let mut behaviour = Behaviour::Whitelist;
    let mut exceptions: Vec<DeviceRule> = Vec::new();
    let numbered = rules
        .iter()
        .enumerate()
        .map(|(i, r)| (Some(i), r))
        .chain(defaults.iter().map(|r| (None, r)));
    for (index, rule) in numbered {
        if rule.kind == DeviceKind::All {
            // `a` resets: allow or deny everything, exceptions dropped (numbers and access
            // of an `a` rule are ignored by the kernel).
            behaviour = if rule.allow {
                Behaviour::Blacklist
            } else {
                Behaviour::Whitelist
            };
            exceptions.clear();
            writes.push((file(rule.allow), "a".to_owned()));
            continue;
        }
        let adds_exception = (behaviour == Behaviour::Whitelist) == rule.allow;
        if adds_exception {
            exceptions.push(rule.clone());
            writes.push((file(rule.allow), rule.to_string()));
            continue;
        }
        for e in exceptions.iter_mut().filter(|e| e.kind == rule.kind) {
            let overlap = common(&e.access, &rule.access);
            if overlap.is_empty() || !meets(e.major, rule.major) || !meets(e.minor, rule.minor) {
                continue;
            }
            let exact = e.major == rule.major && e.minor == rule.minor;
            let covers = includes(rule.major, e.major) && includes(rule.minor, e.minor);
            if !covers {
                return Err(CgroupError::InvalidDeviceRule {
                    field: match index {
                        Some(i) => format!("linux.resources.devices[{i}]"),
                        None => "linux.resources.devices (the default allow list after them)".to_owned(),
                    },
                    reason: "cgroup v1 cannot take part of an earlier rule with a wildcard number away (a hole in a wildcard rule, which runc refuses too); list the devices of the wider rule one by one, or use cgroup v2",
                });
            }
            if !exact {
                let mut narrow = e.clone();
                narrow.allow = rule.allow;
                narrow.access = overlap.clone();
                writes.push((file(rule.allow), narrow.to_string()));
            }
            e.access = e.access.chars().filter(|c| !overlap.contains(*c)).collect();
        }
        exceptions.retain(|e| !e.access.is_empty());
        writes.push((file(rule.allow), rule.to_string()));
    }
    Ok(writes)
}

/// Apply `rules` to the devices cgroup at `dir`. Errors: a hole in a wildcard rule (see
/// [`writes`]); the file, the rule and the kernel's errno (EPERM when the parent cgroup does
/// not allow the device).
pub(crate) fn apply(dir: &Path, rules: &[DeviceRule]) -> Result<(), CgroupError> {
    for (file, value) in writes(rules)? {
        write_file(&dir.join(file), &value)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        allow: bool,
        kind: DeviceKind,
        major: Option<u64>,
        minor: Option<u64>,
        access: &str,
    ) -> DeviceRule {
        DeviceRule {
            allow,
            kind,
            major,
            minor,
            access: access.to_owned(),
        }
    }

    #[test]
    fn a_wider_deny_is_written_for_each_exception_it_covers() {
        let rules = [
            rule(true, DeviceKind::Char, Some(1), Some(3), "rw"),
            rule(true, DeviceKind::Char, Some(1), Some(5), "r"),
            rule(false, DeviceKind::Char, Some(1), None, "w"),
        ];
        let w = writes(&rules).unwrap();
        let denies: Vec<&str> = w
            .iter()
            .filter(|(f, _)| *f == "devices.deny")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(denies, ["a", "c 1:3 w", "c 1:* w"]);
    }

    #[test]
    fn a_hole_in_a_wildcard_rule_is_refused_by_field() {
        let rules = [
            rule(true, DeviceKind::Char, Some(1), None, "rw"),
            rule(false, DeviceKind::Char, Some(1), Some(3), "w"),
        ];
        let err = writes(&rules).unwrap_err().to_string();
        assert!(
            err.starts_with("linux.resources.devices[1]: cgroup v1 cannot"),
            "{err}"
        );
        // Disjoint access, or an exact match, is fine.
        let ok = [
            rule(true, DeviceKind::Char, Some(1), None, "r"),
            rule(false, DeviceKind::Char, Some(1), Some(3), "w"),
            rule(true, DeviceKind::Block, Some(8), Some(0), "rw"),
            rule(false, DeviceKind::Block, Some(8), Some(0), "w"),
        ];
        assert!(writes(&ok).is_ok());
        // After an allow-all, a deny is an exception and a narrower allow cannot cut it.
        let blacklist = [
            rule(true, DeviceKind::All, None, None, "rwm"),
            rule(false, DeviceKind::Block, None, None, "rwm"),
            rule(true, DeviceKind::Block, Some(8), Some(0), "r"),
        ];
        assert!(writes(&blacklist)
            .unwrap_err()
            .to_string()
            .starts_with("linux.resources.devices[2]:"));
    }

    #[test]
    fn deny_all_first_then_rules_then_defaults() {
        let rules = [DeviceRule {
            allow: false,
            kind: DeviceKind::Char,
            major: Some(10),
            minor: Some(200),
            access: "rwm".to_owned(),
        }];
        let w = writes(&rules).unwrap();
        assert_eq!(w[0], ("devices.deny", "a".to_owned()));
        assert_eq!(w[1], ("devices.deny", "c 10:200 rwm".to_owned()));
        assert_eq!(w[2], ("devices.allow", "c *:* m".to_owned()));
        assert_eq!(
            w.last().unwrap(),
            &("devices.allow", "c 10:200 rwm".to_owned())
        );
        assert_eq!(w.len(), 2 + default_allowed().len());
    }
}
