//! The v2 io controller (kernel Documentation/admin-guide/cgroup-v2.rst, "IO"): `io.bfq.weight`
//! (BFQ scheduler, 1..=1000, also `MAJOR:MINOR WEIGHT`) or `io.weight` (1..=10000), and
//! `io.max` (`MAJOR:MINOR rbps=N wbps=N riops=N wiops=N`).

use std::path::Path;

use oci_spec::runtime::LinuxBlockIo;

use crate::convert::blkio_weight_to_io_weight;
use crate::error::CgroupError;
use crate::fs::set;

const F: &str = "linux.resources.blockIO";

/// Apply `blockIO` to the v2 cgroup `dir`. A weight goes to io.bfq.weight as it is when that
/// file exists (BFQ), else to io.weight converted ([`blkio_weight_to_io_weight`]); per-device
/// weights likewise as `MAJOR:MINOR WEIGHT`. Each throttle is one io.max line; a rate of 0 is
/// `max` (no limit), as 0 removes a v1 throttle.
///
/// # Errors
/// [`CgroupError::Unsupported`] for leafWeight (cgroup v2 has none),
/// [`CgroupError::MissingFile`], [`CgroupError::Limit`].
pub(crate) fn apply(dir: &Path, blkio: &LinuxBlockIo) -> Result<(), CgroupError> {
    let leaf = blkio.leaf_weight().is_some_and(|w| w != 0)
        || blkio
            .weight_device()
            .iter()
            .flatten()
            .any(|d| d.leaf_weight().is_some_and(|w| w != 0));
    if leaf {
        return Err(CgroupError::Unsupported {
            field: format!("{F}.leafWeight"),
            reason:
                "cgroup v2 has no leaf weights (they were a CFQ feature of v1); remove the field"
                    .to_owned(),
        });
    }
    let bfq = dir.join("io.bfq.weight").exists();
    let (file, convert): (&str, fn(u16) -> Option<u64>) = if bfq {
        ("io.bfq.weight", |w| (w != 0).then_some(u64::from(w)))
    } else {
        ("io.weight", blkio_weight_to_io_weight)
    };
    const NO_WEIGHT: &str =
        "io.weight needs the io.cost controller enabled, io.bfq.weight the BFQ scheduler";
    if let Some(w) = blkio.weight().and_then(convert) {
        set(dir, file, &w.to_string(), &format!("{F}.weight"), NO_WEIGHT)?;
    }
    for (i, d) in blkio.weight_device().iter().flatten().enumerate() {
        if let Some(w) = d.weight().and_then(convert) {
            set(
                dir,
                file,
                &format!("{}:{} {w}", d.major(), d.minor()),
                &format!("{F}.weightDevice[{i}].weight"),
                NO_WEIGHT,
            )?;
        }
    }
    for (name, key, list) in [
        (
            "throttleReadBpsDevice",
            "rbps",
            blkio.throttle_read_bps_device(),
        ),
        (
            "throttleWriteBpsDevice",
            "wbps",
            blkio.throttle_write_bps_device(),
        ),
        (
            "throttleReadIOPSDevice",
            "riops",
            blkio.throttle_read_iops_device(),
        ),
        (
            "throttleWriteIOPSDevice",
            "wiops",
            blkio.throttle_write_iops_device(),
        ),
    ] {
        for (i, d) in list.iter().flatten().enumerate() {
            let rate = if d.rate() == 0 {
                "max".to_owned()
            } else {
                d.rate().to_string()
            };
            set(
                dir,
                "io.max",
                &format!("{}:{} {key}={rate}", d.major(), d.minor()),
                &format!("{F}.{name}[{i}]"),
                "",
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_is_converted_for_io_weight_and_kept_for_bfq() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        for f in ["io.weight", "io.max"] {
            std::fs::write(d.join(f), "").unwrap();
        }
        let read = |f: &str| std::fs::read_to_string(d.join(f)).unwrap();
        let b: LinuxBlockIo = serde_json::from_str(
            r#"{"weight":1000,"throttleWriteBpsDevice":[{"major":8,"minor":0,"rate":0}]}"#,
        )
        .unwrap();
        apply(d, &b).unwrap();
        assert_eq!(read("io.weight"), "10000");
        assert_eq!(read("io.max"), "8:0 wbps=max");
        std::fs::write(d.join("io.bfq.weight"), "").unwrap();
        apply(d, &serde_json::from_str(r#"{"weight":500}"#).unwrap()).unwrap();
        assert_eq!(read("io.bfq.weight"), "500");
        let err = apply(d, &serde_json::from_str(r#"{"leafWeight":500}"#).unwrap()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("linux.resources.blockIO.leafWeight: cgroup v2 has no leaf"),
            "{err}"
        );
    }
}
