//! Which `linux.resources` fields husk can apply (issue 2: only `devices`), checked before any
//! cgroup is created, with the JSON field name of the first one it cannot.

use oci_spec::runtime::LinuxResources;

use crate::devices::rules_from_spec;
use crate::error::CgroupError;

/// The first set field of `linux.resources` other than `devices`, by its JSON name
/// (`linux.resources.memory.limit`, `linux.resources.unified["memory.high"]`).
///
/// oci-spec turns an absent `pids.limit` into 0, so the caller passes the presence-aware
/// value as `pids_limit`; the `pids` object itself is otherwise ignored.
pub(crate) fn first_unsupported(
    resources: &LinuxResources,
    pids_limit: Option<i64>,
) -> Option<String> {
    const PREFIX: &str = "linux.resources";
    if pids_limit.is_some() {
        return Some(format!("{PREFIX}.pids.limit"));
    }
    // Serialising gives the spec's JSON names, and oci-spec skips every absent field, so
    // this stays right when oci-spec grows fields.
    let value = serde_json::to_value(resources).ok()?;
    let object = value.as_object()?;
    for (key, field) in object {
        match key.as_str() {
            "devices" | "pids" => continue,
            _ => {}
        }
        match field {
            serde_json::Value::Object(inner) => {
                let is_map = matches!(key.as_str(), "unified" | "rdma");
                if let Some((name, _)) = inner.iter().find(|(_, v)| is_set(v)) {
                    return Some(if is_map {
                        format!("{PREFIX}.{key}[{name:?}]")
                    } else {
                        format!("{PREFIX}.{key}.{name}")
                    });
                }
            }
            serde_json::Value::Array(items) if !items.is_empty() => {
                return Some(format!("{PREFIX}.{key}"))
            }
            other if is_set(other) && !other.is_array() => return Some(format!("{PREFIX}.{key}")),
            _ => {}
        }
    }
    None
}

/// Whether a JSON value asks for something (empty arrays and null do not).
fn is_set(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Null => false,
        serde_json::Value::Array(items) => !items.is_empty(),
        _ => true,
    }
}

/// The whole check behind [`crate::Cgroup::check_supported`]: no unsupported field, and
/// well-formed device rules.
pub(crate) fn check_supported(
    resources: &LinuxResources,
    pids_limit: Option<i64>,
) -> Result<(), CgroupError> {
    if let Some(field) = first_unsupported(resources, pids_limit) {
        return Err(CgroupError::Unsupported { field });
    }
    if let Some(devices) = resources.devices() {
        rules_from_spec(devices)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resources(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn devices_only_is_supported() {
        let r = resources(r#"{"devices":[{"allow":false,"access":"rwm"}]}"#);
        assert!(check_supported(&r, None).is_ok());
        // Empty objects and lists ask for nothing.
        let r = resources(r#"{"memory":{},"hugepageLimits":[],"unified":{},"pids":{}}"#);
        assert!(
            check_supported(&r, None).is_ok(),
            "{:?}",
            first_unsupported(&r, None)
        );
    }

    #[test]
    fn every_other_field_is_refused_by_its_json_name() {
        let cases = [
            (
                r#"{"memory":{"limit":1048576}}"#,
                "linux.resources.memory.limit",
            ),
            (
                r#"{"memory":{"disableOOMKiller":true}}"#,
                "linux.resources.memory.disableOOMKiller",
            ),
            (r#"{"cpu":{"shares":1024}}"#, "linux.resources.cpu.shares"),
            (r#"{"cpu":{"cpus":"0-1"}}"#, "linux.resources.cpu.cpus"),
            (
                r#"{"blockIO":{"weight":100}}"#,
                "linux.resources.blockIO.weight",
            ),
            (
                r#"{"blockIO":{"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1}]}}"#,
                "linux.resources.blockIO.throttleReadBpsDevice",
            ),
            (
                r#"{"hugepageLimits":[{"pageSize":"2MB","limit":0}]}"#,
                "linux.resources.hugepageLimits",
            ),
            (
                r#"{"network":{"classID":1}}"#,
                "linux.resources.network.classID",
            ),
            (
                r#"{"rdma":{"mlx5_1":{"hcaHandles":3}}}"#,
                "linux.resources.rdma[\"mlx5_1\"]",
            ),
            (
                r#"{"unified":{"memory.high":"1G"}}"#,
                "linux.resources.unified[\"memory.high\"]",
            ),
        ];
        for (json, field) in cases {
            let err = check_supported(&resources(json), None).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("{field}: cgroup resource limits are not supported yet (only linux.resources.devices is); remove the field"),
                "{json}"
            );
        }
    }

    #[test]
    fn pids_limit_is_presence_aware() {
        // oci-spec reads {"pids":{}} as limit 0; only the caller knows it was absent.
        let r = resources(r#"{"pids":{}}"#);
        assert!(check_supported(&r, None).is_ok());
        let err = check_supported(&r, Some(0)).unwrap_err();
        assert!(
            err.to_string().starts_with("linux.resources.pids.limit:"),
            "{err}"
        );
    }

    #[test]
    fn malformed_device_rule_is_refused_before_create() {
        let r = resources(r#"{"devices":[{"allow":true,"type":"p"}]}"#);
        let err = check_supported(&r, None).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("linux.resources.devices[0].type"),
            "{err}"
        );
    }
}
