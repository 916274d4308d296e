//! The v1 blkio controller (kernel Documentation/admin-guide/cgroup-v1/blkio-controller.rst):
//! proportional weights (`blkio.weight`, `blkio.leaf_weight` of the CFQ scheduler, gone since
//! Linux 5.0; `blkio.bfq.weight` of BFQ) and throttling (`blkio.throttle.*_device`).

use std::path::Path;

use oci_spec::runtime::LinuxBlockIo;

use crate::error::CgroupError;
use crate::fs::{first_existing, set};

const F: &str = "linux.resources.blockIO";
const NO_WEIGHT: &str = "weights need the BFQ I/O scheduler (blkio.bfq.*) or, before Linux 5.0, CFQ (blkio.weight); see /sys/block/*/queue/scheduler";
const NO_LEAF: &str = "leaf weights existed only with the CFQ scheduler, removed in Linux 5.0";

/// Apply `blockIO` to the v1 blkio cgroup `dir`: weights to `blkio.weight` or
/// `blkio.bfq.weight` (whichever exists), per-device weights as `MAJOR:MINOR WEIGHT`, leaf
/// weights to the CFQ leaf files, throttles as `MAJOR:MINOR RATE` (bytes/s or IO/s; 0 removes
/// the limit). Zero weights are unset.
///
/// # Errors
/// [`CgroupError::MissingFile`] when no weight file exists (the field, and the scheduler
/// needed), [`CgroupError::Limit`] with the kernel's errno.
pub(crate) fn apply(dir: &Path, blkio: &LinuxBlockIo) -> Result<(), CgroupError> {
    let weight_file = || {
        first_existing(dir, &["blkio.weight", "blkio.bfq.weight"])
            .unwrap_or("blkio.weight or blkio.bfq.weight")
    };
    if let Some(w) = blkio.weight().filter(|w| *w != 0) {
        set(
            dir,
            weight_file(),
            &w.to_string(),
            &format!("{F}.weight"),
            NO_WEIGHT,
        )?;
    }
    if let Some(w) = blkio.leaf_weight().filter(|w| *w != 0) {
        set(
            dir,
            "blkio.leaf_weight",
            &w.to_string(),
            &format!("{F}.leafWeight"),
            NO_LEAF,
        )?;
    }
    for (i, d) in blkio.weight_device().iter().flatten().enumerate() {
        let device = format!("{}:{}", d.major(), d.minor());
        if let Some(w) = d.weight().filter(|w| *w != 0) {
            let file = first_existing(dir, &["blkio.weight_device", "blkio.bfq.weight_device"])
                .unwrap_or("blkio.weight_device or blkio.bfq.weight_device");
            set(
                dir,
                file,
                &format!("{device} {w}"),
                &format!("{F}.weightDevice[{i}].weight"),
                NO_WEIGHT,
            )?;
        }
        if let Some(w) = d.leaf_weight().filter(|w| *w != 0) {
            set(
                dir,
                "blkio.leaf_weight_device",
                &format!("{device} {w}"),
                &format!("{F}.weightDevice[{i}].leafWeight"),
                NO_LEAF,
            )?;
        }
    }
    for (name, file, list) in [
        (
            "throttleReadBpsDevice",
            "blkio.throttle.read_bps_device",
            blkio.throttle_read_bps_device(),
        ),
        (
            "throttleWriteBpsDevice",
            "blkio.throttle.write_bps_device",
            blkio.throttle_write_bps_device(),
        ),
        (
            "throttleReadIOPSDevice",
            "blkio.throttle.read_iops_device",
            blkio.throttle_read_iops_device(),
        ),
        (
            "throttleWriteIOPSDevice",
            "blkio.throttle.write_iops_device",
            blkio.throttle_write_iops_device(),
        ),
    ] {
        for (i, d) in list.iter().flatten().enumerate() {
            set(
                dir,
                file,
                &format!("{}:{} {}", d.major(), d.minor(), d.rate()),
                &format!("{F}.{name}[{i}]"),
                "the throttle files need CONFIG_BLK_DEV_THROTTLING",
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_go_to_the_file_that_exists_and_throttles_per_device() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        for f in [
            "blkio.bfq.weight",
            "blkio.bfq.weight_device",
            "blkio.throttle.read_bps_device",
            "blkio.throttle.write_iops_device",
        ] {
            std::fs::write(d.join(f), "").unwrap();
        }
        let b: LinuxBlockIo = serde_json::from_str(
            r#"{"weight":300,"weightDevice":[{"major":8,"minor":0,"weight":500}],
                "throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576}],
                "throttleWriteIOPSDevice":[{"major":8,"minor":16,"rate":100}]}"#,
        )
        .unwrap();
        apply(d, &b).unwrap();
        let read = |f: &str| std::fs::read_to_string(d.join(f)).unwrap();
        assert_eq!(read("blkio.bfq.weight"), "300");
        assert_eq!(read("blkio.bfq.weight_device"), "8:0 500");
        assert_eq!(read("blkio.throttle.read_bps_device"), "8:0 1048576");
        assert_eq!(read("blkio.throttle.write_iops_device"), "8:16 100");

        let err = apply(d, &serde_json::from_str(r#"{"leafWeight":100}"#).unwrap()).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "linux.resources.blockIO.leafWeight: this host has no blkio.leaf_weight"
            ),
            "{err}"
        );
        std::fs::remove_file(d.join("blkio.bfq.weight")).unwrap();
        let err = apply(d, &serde_json::from_str(r#"{"weight":100}"#).unwrap()).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "linux.resources.blockIO.weight: this host has no blkio.weight or blkio.bfq.weight"
            ),
            "{err}"
        );
    }
}
