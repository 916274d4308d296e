//! The v2 cpu controller (kernel Documentation/admin-guide/cgroup-v2.rst, "CPU"):
//! `cpu.weight`, `cpu.max` (`QUOTA PERIOD`, µs), `cpu.max.burst` (µs) and `cpu.idle`.

use std::path::Path;

use oci_spec::runtime::LinuxCpu;

use crate::convert::{cpu_max, shares_to_weight};
use crate::error::CgroupError;
use crate::fs::{read_file, set};

const F: &str = "linux.resources.cpu";

/// Apply `cpu` to the v2 cgroup `dir`: shares converted to cpu.weight
/// ([`shares_to_weight`]), quota and period to cpu.max ([`cpu_max`]; the one of the two not
/// given keeps the value cpu.max has now), burst to cpu.max.burst, idle to cpu.idle.
///
/// # Errors
/// [`CgroupError::Unsupported`] for realtimeRuntime/realtimePeriod (cgroup v2 has no
/// realtime group scheduling), [`CgroupError::Limit`], [`CgroupError::MissingFile`].
pub(crate) fn apply(dir: &Path, cpu: &LinuxCpu) -> Result<(), CgroupError> {
    for (name, set_) in [
        (
            "realtimeRuntime",
            cpu.realtime_runtime().is_some_and(|v| v != 0),
        ),
        (
            "realtimePeriod",
            cpu.realtime_period().is_some_and(|v| v != 0),
        ),
    ] {
        if set_ {
            return Err(CgroupError::Unsupported {
                field: format!("{F}.{name}"),
                reason: "cgroup v2 has no realtime group scheduling (cpu.rt_* exist only in v1); remove the field".to_owned(),
            });
        }
    }
    if let Some(weight) = cpu.shares().and_then(shares_to_weight) {
        set(
            dir,
            "cpu.weight",
            &weight.to_string(),
            &format!("{F}.shares"),
            "",
        )?;
    }
    let quota = cpu.quota().filter(|v| *v != 0);
    let period = cpu.period().filter(|v| *v != 0);
    if quota.is_some() || period.is_some() {
        // cpu.max holds both ("QUOTA PERIOD"): the one not given keeps the value in force
        // (runc #2456: `update --cpu-quota` alone keeps the period), as v1's separate files do.
        let current = read_file(&dir.join("cpu.max")).unwrap_or_default();
        let mut fields = current.split_whitespace();
        let current_quota = fields.next().unwrap_or("max").to_owned();
        let current_period = fields.next().and_then(|p| p.parse().ok());
        let value = match (quota, period) {
            (Some(_), _) => cpu_max(quota, period.or(current_period)),
            (None, Some(p)) => Some(format!("{current_quota} {p}")),
            (None, None) => None,
        };
        let field = if quota.is_some() { "quota" } else { "period" };
        if let Some(value) = value {
            set(dir, "cpu.max", &value, &format!("{F}.{field}"), "")?;
        }
    }
    if let Some(burst) = cpu.burst() {
        set(
            dir,
            "cpu.max.burst",
            &burst.to_string(),
            &format!("{F}.burst"),
            "cpu.max.burst needs Linux 5.14",
        )?;
    }
    crate::v1::cpu::idle(dir, cpu)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_quota_period_in_v2_terms() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        for f in ["cpu.weight", "cpu.max.burst", "cpu.idle"] {
            std::fs::write(d.join(f), "").unwrap();
        }
        std::fs::write(d.join("cpu.max"), "max 100000\n").unwrap();
        let read = |f: &str| std::fs::read_to_string(d.join(f)).unwrap();
        let cpu: LinuxCpu = serde_json::from_str(
            r#"{"shares":1024,"quota":50000,"period":200000,"burst":10,"idle":1}"#,
        )
        .unwrap();
        apply(d, &cpu).unwrap();
        assert_eq!(read("cpu.weight"), "100");
        assert_eq!(read("cpu.max"), "50000 200000");
        assert_eq!(read("cpu.max.burst"), "10");
        assert_eq!(read("cpu.idle"), "1");
        // A period alone keeps the quota.
        apply(d, &serde_json::from_str(r#"{"period":50000}"#).unwrap()).unwrap();
        assert_eq!(read("cpu.max"), "50000 50000");
        // A quota alone keeps the period (runc #2456).
        apply(d, &serde_json::from_str(r#"{"quota":-1}"#).unwrap()).unwrap();
        assert_eq!(read("cpu.max"), "max 50000");
        apply(d, &serde_json::from_str(r#"{"quota":20000}"#).unwrap()).unwrap();
        assert_eq!(read("cpu.max"), "20000 50000");
        let err = apply(
            d,
            &serde_json::from_str(r#"{"realtimeRuntime":950000}"#).unwrap(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("linux.resources.cpu.realtimeRuntime: cgroup v2 has no realtime"),
            "{err}"
        );
    }
}
