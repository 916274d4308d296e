//! The v1 devices controller: devices.deny / devices.allow (kernel
//! Documentation/admin-guide/cgroup-v1/devices.rst).

use std::path::Path;

use crate::devices::{default_allowed, DeviceRule};
use crate::error::CgroupError;
use crate::fs::write_file;

/// The writes that set the container's device rules, in order: `a` to devices.deny (a
/// whitelist that starts empty), then each rule of the spec to devices.allow or devices.deny,
/// then the default allow list. Each write is one rule because the kernel parses one rule per
/// write(2).
pub(crate) fn writes(rules: &[DeviceRule]) -> Vec<(&'static str, String)> {
    let file = |rule: &DeviceRule| {
        if rule.allow {
            "devices.allow"
        } else {
            "devices.deny"
        }
    };
    let mut writes = vec![("devices.deny", "a".to_owned())];
    writes.extend(
        rules
            .iter()
            .chain(default_allowed().iter())
            .map(|rule| (file(rule), rule.to_string())),
    );
    writes
}

/// Apply `rules` to the devices cgroup at `dir`. Errors: the file, the rule and the kernel's
/// errno (EPERM when the parent cgroup does not allow the device).
pub(crate) fn apply(dir: &Path, rules: &[DeviceRule]) -> Result<(), CgroupError> {
    for (file, value) in writes(rules) {
        write_file(&dir.join(file), &value)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::DeviceKind;

    #[test]
    fn deny_all_first_then_rules_then_defaults() {
        let rules = [DeviceRule {
            allow: false,
            kind: DeviceKind::Char,
            major: Some(10),
            minor: Some(200),
            access: "rwm".to_owned(),
        }];
        let w = writes(&rules);
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
