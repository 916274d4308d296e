//! The v1 cpu controller (kernel Documentation/scheduler/sched-bwc.rst, sched-rt-group.rst):
//! `cpu.shares`, `cpu.cfs_period_us`/`cpu.cfs_quota_us`/`cpu.cfs_burst_us` (µs),
//! `cpu.rt_period_us`/`cpu.rt_runtime_us` (µs) and `cpu.idle`.

use std::path::Path;

use oci_spec::runtime::LinuxCpu;

use crate::error::CgroupError;
use crate::fs::{read_u64, set};

const F: &str = "linux.resources.cpu";

/// Apply `cpu` to the v1 cpu cgroup `dir`. Zero shares, quota, period and realtime values
/// are unset; quota and realtimeRuntime -1 are unlimited.
///
/// The kernel clamps cpu.shares to 2..=262144 silently; the value is read back and a clamped
/// one is an error (runc does the same). The period is written before the quota; when the
/// kernel refuses that order (EINVAL: the old quota does not fit the new period) the quota
/// goes first. The realtime period is written before the runtime.
///
/// # Errors
/// [`CgroupError::Limit`] with the kernel's errno, [`CgroupError::InvalidValue`] for clamped
/// shares, [`CgroupError::MissingFile`] (no cpu.cfs_burst_us before Linux 5.14, no cpu.idle
/// before 5.15, no cpu.rt_* without CONFIG_RT_GROUP_SCHED).
pub(crate) fn apply(dir: &Path, cpu: &LinuxCpu) -> Result<(), CgroupError> {
    if let Some(shares) = cpu.shares().filter(|v| *v != 0) {
        set(
            dir,
            "cpu.shares",
            &shares.to_string(),
            &format!("{F}.shares"),
            "",
        )?;
        let path = dir.join("cpu.shares");
        let got = read_u64(&path)?;
        if got != shares {
            return Err(CgroupError::InvalidValue {
                field: format!("{F}.shares"),
                value: shares.to_string(),
                reason: format!(
                    "the kernel clamped it to {got} ({}); cpu shares are between 2 and 262144",
                    path.display()
                ),
            });
        }
    }
    let period = cpu.period().filter(|v| *v != 0);
    let quota = cpu.quota().filter(|v| *v != 0);
    let set_period = |p: u64| {
        set(
            dir,
            "cpu.cfs_period_us",
            &p.to_string(),
            &format!("{F}.period"),
            "",
        )
    };
    let set_quota = |q: i64| {
        set(
            dir,
            "cpu.cfs_quota_us",
            &q.to_string(),
            &format!("{F}.quota"),
            "",
        )
    };
    match (period, quota) {
        (Some(p), Some(q)) => match set_period(p) {
            Ok(()) => set_quota(q)?,
            Err(CgroupError::Limit { source, .. })
                if source.raw_os_error() == Some(libc::EINVAL) =>
            {
                set_quota(q)?;
                set_period(p)?;
            }
            Err(e) => return Err(e),
        },
        (Some(p), None) => set_period(p)?,
        (None, Some(q)) => set_quota(q)?,
        (None, None) => {}
    }
    if let Some(burst) = cpu.burst() {
        set(
            dir,
            "cpu.cfs_burst_us",
            &burst.to_string(),
            &format!("{F}.burst"),
            "cpu.cfs_burst_us needs Linux 5.14",
        )?;
    }
    const NO_RT: &str = "the cpu.rt_* files need a kernel built with CONFIG_RT_GROUP_SCHED";
    if let Some(p) = cpu.realtime_period().filter(|v| *v != 0) {
        set(
            dir,
            "cpu.rt_period_us",
            &p.to_string(),
            &format!("{F}.realtimePeriod"),
            NO_RT,
        )?;
    }
    if let Some(r) = cpu.realtime_runtime().filter(|v| *v != 0) {
        set(
            dir,
            "cpu.rt_runtime_us",
            &r.to_string(),
            &format!("{F}.realtimeRuntime"),
            NO_RT,
        )?;
    }
    idle(dir, cpu)
}

/// Write `linux.resources.cpu.idle` (0 or 1) to `cpu.idle`, the same file in v1 and v2
/// (SCHED_IDLE for the whole group, Linux 5.15).
///
/// # Errors
/// [`CgroupError::MissingFile`] before Linux 5.15, [`CgroupError::Limit`].
pub(crate) fn idle(dir: &Path, cpu: &LinuxCpu) -> Result<(), CgroupError> {
    if let Some(idle) = cpu.idle() {
        set(
            dir,
            "cpu.idle",
            &idle.to_string(),
            &format!("{F}.idle"),
            "cpu.idle needs Linux 5.15",
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_lands_in_its_file_and_clamped_shares_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        for f in [
            "cpu.shares",
            "cpu.cfs_period_us",
            "cpu.cfs_quota_us",
            "cpu.cfs_burst_us",
            "cpu.rt_period_us",
            "cpu.rt_runtime_us",
            "cpu.idle",
        ] {
            std::fs::write(d.join(f), "").unwrap();
        }
        let cpu: LinuxCpu = serde_json::from_str(
            r#"{"shares":512,"quota":50000,"period":100000,"burst":1000,
                "realtimePeriod":1000000,"realtimeRuntime":-1,"idle":0}"#,
        )
        .unwrap();
        apply(d, &cpu).unwrap();
        let read = |f: &str| std::fs::read_to_string(d.join(f)).unwrap();
        assert_eq!(read("cpu.shares"), "512");
        assert_eq!(read("cpu.cfs_quota_us"), "50000");
        assert_eq!(read("cpu.cfs_period_us"), "100000");
        assert_eq!(read("cpu.cfs_burst_us"), "1000");
        assert_eq!(read("cpu.rt_period_us"), "1000000");
        assert_eq!(read("cpu.rt_runtime_us"), "-1");
        assert_eq!(read("cpu.idle"), "0");

        // A plain file keeps what was written, so the clamp check passes here; the kernel's
        // clamping is checked in the end-to-end tests.
        std::fs::remove_file(d.join("cpu.cfs_burst_us")).unwrap();
        let err = apply(d, &serde_json::from_str(r#"{"burst":0}"#).unwrap()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("linux.resources.cpu.burst: this host has no cpu.cfs_burst_us"),
            "{err}"
        );
    }
}
