//! Reading and writing cgroup files, with errors that name the file and the value.

use std::io::Write;
use std::path::Path;

use crate::error::CgroupError;

/// Write `value` to the existing cgroup file `path` in one write(2) (cgroup files take one
/// value per write). The file is never created: a missing file means a missing controller.
pub(crate) fn write_file(path: &Path, value: &str) -> Result<(), CgroupError> {
    let error = |source| CgroupError::Write {
        path: path.to_owned(),
        value: value.to_owned(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(error)?;
    file.write_all(value.as_bytes()).map_err(error)
}

/// Read a cgroup file to a string.
pub(crate) fn read_file(path: &Path) -> Result<String, CgroupError> {
    std::fs::read_to_string(path).map_err(|source| CgroupError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Parse the pids of a cgroup.procs file (one decimal pid per line).
pub(crate) fn parse_pids(path: &Path, text: &str) -> Result<Vec<i32>, CgroupError> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.trim().parse().map_err(|_| CgroupError::Parse {
                path: path.to_owned(),
                content: l.to_owned(),
            })
        })
        .collect()
}
