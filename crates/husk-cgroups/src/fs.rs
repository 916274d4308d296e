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
    // O_TRUNC as runc: cgroupfs ignores it, and a plain file (unit tests) then holds exactly
    // the last value.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
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

/// Write the `linux.resources` value `value` to `dir/file`. Errors name the JSON field `field`:
/// [`CgroupError::MissingFile`] (with `hint`) when the file does not exist,
/// [`CgroupError::Limit`] with the kernel's errno when the write is refused.
pub(crate) fn set(
    dir: &Path,
    file: &str,
    value: &str,
    field: &str,
    hint: &'static str,
) -> Result<(), CgroupError> {
    let path = dir.join(file);
    let mut handle = match std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
    {
        Ok(handle) => handle,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(CgroupError::MissingFile {
                field: field.to_owned(),
                file: file.to_owned(),
                dir: dir.to_owned(),
                hint: if hint.is_empty() {
                    "this kernel's controller has no such file"
                } else {
                    hint
                },
            })
        }
        Err(source) => {
            return Err(CgroupError::Limit {
                field: field.to_owned(),
                path,
                value: value.to_owned(),
                source,
            })
        }
    };
    tracing::debug!("{}: {value}", path.display());
    handle
        .write_all(value.as_bytes())
        .map_err(|source| CgroupError::Limit {
            field: field.to_owned(),
            path,
            value: value.to_owned(),
            source,
        })
}

/// The first of `files` that exists in `dir` (for knobs named differently by kernel version
/// or I/O scheduler: `blkio.weight` or `blkio.bfq.weight`).
pub(crate) fn first_existing<'a>(dir: &Path, files: &[&'a str]) -> Option<&'a str> {
    files.iter().copied().find(|f| dir.join(f).exists())
}

/// Read a cgroup file holding one unsigned number (`memory.usage_in_bytes`, `memory.current`).
pub(crate) fn read_u64(path: &Path) -> Result<u64, CgroupError> {
    let text = read_file(path)?;
    text.trim().parse().map_err(|_| CgroupError::Parse {
        path: path.to_owned(),
        content: text.trim().to_owned(),
    })
}
