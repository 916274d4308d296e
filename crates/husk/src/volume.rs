//! `-v/--volume HOST:CTR[:ro|rw]`: bind mounts of host paths into the container.
//!
//! HOST is a path (as for SOURCE: it contains `/` or starts with `.`; a bare word would be a
//! named volume, which husk does not have yet); it must exist and is canonicalised, so the
//! runtime binds exactly what the user saw. CTR is an absolute path inside the container,
//! without `..`, and not `/` itself.

use std::path::{Component, Path, PathBuf};

use oci_spec::runtime::Mount;

use crate::bundle::bind_mount;

/// Errors of `-v`.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// Not HOST:CTR or HOST:CTR:MODE.
    #[error("-v `{0}`: expected HOST:CTR or HOST:CTR:ro (or :rw)")]
    Syntax(String),
    /// MODE is not ro or rw.
    #[error("-v `{spec}`: unknown mode `{mode}`; use ro or rw")]
    Mode {
        /// The whole -v value.
        spec: String,
        /// The mode given.
        mode: String,
    },
    /// HOST is a bare word.
    #[error("-v `{spec}`: `{host}` is not a path, and named volumes are not supported yet (write ./{host} or an absolute path)")]
    NamedVolume {
        /// The whole -v value.
        spec: String,
        /// HOST as given.
        host: String,
    },
    /// CTR is relative, has `..`, or is `/`.
    #[error("-v `{spec}`: container path `{ctr}` must be absolute, not `/`, and without `..`")]
    ContainerPath {
        /// The whole -v value.
        spec: String,
        /// CTR as given.
        ctr: String,
    },
    /// HOST does not exist or cannot be canonicalised.
    #[error("-v `{spec}`: host path {}: {source} (it must exist)", host.display())]
    HostPath {
        /// The whole -v value.
        spec: String,
        /// HOST as given.
        host: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// A parsed `-v` before the host path is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeSpec {
    /// HOST as given.
    pub host: PathBuf,
    /// CTR, absolute.
    pub container: PathBuf,
    /// `:ro`.
    pub read_only: bool,
}

/// A `-v` whose host path exists (canonical).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// The canonical host path.
    pub host: PathBuf,
    /// The container path.
    pub container: PathBuf,
    /// `:ro`.
    pub read_only: bool,
}

/// Parses HOST:CTR[:ro|rw] (no filesystem access).
///
/// Errors: [`VolumeError::Syntax`], [`VolumeError::Mode`], [`VolumeError::NamedVolume`],
/// [`VolumeError::ContainerPath`].
pub fn parse(spec: &str) -> Result<VolumeSpec, VolumeError> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (host, ctr, mode) = match parts.as_slice() {
        [h, c] => (*h, *c, None),
        [h, c, m] => (*h, *c, Some(*m)),
        _ => return Err(VolumeError::Syntax(spec.to_owned())),
    };
    if host.is_empty() || ctr.is_empty() {
        return Err(VolumeError::Syntax(spec.to_owned()));
    }
    let read_only = match mode {
        None | Some("rw") => false,
        Some("ro") => true,
        Some(m) => {
            return Err(VolumeError::Mode {
                spec: spec.to_owned(),
                mode: m.to_owned(),
            })
        }
    };
    if !host.contains('/') && !host.starts_with('.') {
        return Err(VolumeError::NamedVolume {
            spec: spec.to_owned(),
            host: host.to_owned(),
        });
    }
    let container = Path::new(ctr);
    let bad = !container.is_absolute()
        || container.components().any(|c| c == Component::ParentDir)
        || container.components().all(|c| c == Component::RootDir);
    if bad {
        return Err(VolumeError::ContainerPath {
            spec: spec.to_owned(),
            ctr: ctr.to_owned(),
        });
    }
    Ok(VolumeSpec {
        host: PathBuf::from(host),
        container: container.to_owned(),
        read_only,
    })
}

/// [`parse`], then canonicalises HOST (which must exist).
///
/// Errors: those of [`parse`], and [`VolumeError::HostPath`].
pub fn resolve(spec: &str) -> Result<Volume, VolumeError> {
    let v = parse(spec)?;
    let host = v
        .host
        .canonicalize()
        .map_err(|source| VolumeError::HostPath {
            spec: spec.to_owned(),
            host: v.host.clone(),
            source,
        })?;
    Ok(Volume {
        host,
        container: v.container,
        read_only: v.read_only,
    })
}

impl Volume {
    /// The config.json mount: `rbind`, plus `ro` when asked.
    pub fn to_mount(&self) -> Mount {
        bind_mount(
            &self.host,
            &self.container.to_string_lossy(),
            self.read_only,
            &[],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_modes() {
        assert_eq!(
            parse("/a:/b").unwrap(),
            VolumeSpec {
                host: "/a".into(),
                container: "/b".into(),
                read_only: false
            }
        );
        assert!(parse("./a:/b:ro").unwrap().read_only);
        assert!(!parse("/a:/b:rw").unwrap().read_only);
    }

    #[test]
    fn refuses_bad_specs() {
        assert!(matches!(parse("/a"), Err(VolumeError::Syntax(_))));
        assert!(matches!(parse("/a:/b:ro:x"), Err(VolumeError::Syntax(_))));
        assert!(matches!(parse(":/b"), Err(VolumeError::Syntax(_))));
        assert!(matches!(parse("/a:/b:rx"), Err(VolumeError::Mode { mode, .. }) if mode == "rx"));
        assert!(
            matches!(parse("data:/b"), Err(VolumeError::NamedVolume { host, .. }) if host == "data")
        );
        for ctr in ["b", "/", "/x/../etc", "//"] {
            assert!(
                matches!(
                    parse(&format!("/a:{ctr}")),
                    Err(VolumeError::ContainerPath { .. })
                ),
                "{ctr}"
            );
        }
    }

    #[test]
    fn resolve_canonicalises_and_checks_existence() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, tmp.path().join("link")).unwrap();
        let v = resolve(&format!("{}/link:/data:ro", tmp.path().display())).unwrap();
        assert_eq!(v.host, real.canonicalize().unwrap());
        let m = serde_json::to_value(v.to_mount()).unwrap();
        assert_eq!(
            m,
            serde_json::json!({"destination": "/data", "type": "bind",
                "source": real.canonicalize().unwrap(), "options": ["rbind", "ro"]})
        );
        let err = resolve(&format!("{}/missing:/x", tmp.path().display())).unwrap_err();
        assert!(matches!(err, VolumeError::HostPath { .. }));
        assert!(err.to_string().contains("missing") && err.to_string().contains("must exist"));
    }
}
