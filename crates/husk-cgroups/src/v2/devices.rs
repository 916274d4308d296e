//! Device rules on cgroup v2. v2 has no devices files: access is decided by a
//! BPF_CGROUP_DEVICE program attached to the cgroup (kernel Documentation/admin-guide/
//! cgroup-v2.rst, "Device controller"). husk does not load one yet (the cgroup issue adds
//! it), so only the rules that change nothing a container can reach are accepted: deny-all
//! and the rules of the default allow list. Everything else is refused rather than silently
//! not enforced.
//!
//! Known gap until the eBPF program exists: on a pure v2 host a container is not stopped by
//! the cgroup from opening a device node it can reach; what it can reach is only the nodes the
//! runtime creates in its /dev (the defaults and `linux.devices`), and without CAP_MKNOD it
//! cannot make new ones.

use crate::devices::{default_allowed, DeviceRule};
use crate::error::CgroupError;

/// Refuse the rules a v2 host could only enforce with the eBPF program.
/// Errors: [`CgroupError::DeviceRuleNeedsBpf`] naming `linux.resources.devices[i]`.
pub(crate) fn check(rules: &[DeviceRule]) -> Result<(), CgroupError> {
    let defaults = default_allowed();
    for (i, rule) in rules.iter().enumerate() {
        if !rule.is_deny_all() && !defaults.contains(rule) {
            return Err(CgroupError::DeviceRuleNeedsBpf {
                field: format!("linux.resources.devices[{i}]"),
                rule: format!("{} {rule}", if rule.allow { "allow" } else { "deny" }),
            });
        }
    }
    Ok(())
}

/// Check the rules, then skip them: deny-all plus the defaults is what the container's /dev
/// gives it anyway.
pub(crate) fn apply(rules: &[DeviceRule]) -> Result<(), CgroupError> {
    check(rules)?;
    tracing::debug!(
        rules = rules.len(),
        "cgroup v2: the default device rules are not loaded as an eBPF program yet; skipped"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::DeviceKind;

    #[test]
    fn default_rules_pass_and_others_are_refused() {
        let mut rules = vec![DeviceRule {
            allow: false,
            kind: DeviceKind::All,
            major: None,
            minor: None,
            access: "rwm".to_owned(),
        }];
        rules.extend(default_allowed());
        assert!(check(&rules).is_ok());
        rules.push(DeviceRule {
            allow: true,
            kind: DeviceKind::Block,
            major: Some(8),
            minor: Some(0),
            access: "rw".to_owned(),
        });
        let err = check(&rules).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "linux.resources.devices[{}] (allow b 8:0 rw)",
                rules.len() - 1
            )),
            "{text}"
        );
        assert!(text.contains("BPF_CGROUP_DEVICE"), "{text}");
    }
}
