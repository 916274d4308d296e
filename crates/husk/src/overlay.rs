//! The per-container overlay mount: a shared read-only root filesystem (a directory SOURCE or a
//! cached tarball) as the lower layer, the container's own upper and work directories on top,
//! mounted at the bundle's rootfs (`Documentation/filesystems/overlayfs.rst` in the kernel).
//!
//! [`OverlayMount`] is a guard: dropping it unmounts, so the mount goes away on every path out
//! of `husk run`, errors included.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};

/// Errors of mounting and unmounting the overlay.
#[derive(Debug, thiserror::Error)]
pub enum OverlayError {
    /// A layer path holds a character overlayfs uses as a separator in its options.
    #[error(
        "overlay {layer} {}: the path contains `{ch}`, which overlayfs options cannot carry; \
         move the root filesystem to a path without `,`, `:` or `\\`",
        path.display()
    )]
    BadPath {
        /// `lowerdir`, `upperdir` or `workdir`.
        layer: &'static str,
        /// The path.
        path: PathBuf,
        /// The offending character.
        ch: char,
    },
    /// A directory for the overlay could not be made.
    #[error("creating overlay directory {}: {source}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// mount(2) failed.
    #[error(
        "mounting overlay on {} (lowerdir={}): {source} (does this kernel have overlayfs, and \
         is the data root on a filesystem that can hold an upper layer, e.g. not overlayfs?)",
        target.display(), lower.display()
    )]
    Mount {
        /// The mountpoint.
        target: PathBuf,
        /// The lower layer.
        lower: PathBuf,
        /// The errno.
        #[source]
        source: nix::Error,
    },
    /// umount2(2) failed.
    #[error("unmounting overlay {}: {source}", target.display())]
    Unmount {
        /// The mountpoint.
        target: PathBuf,
        /// The errno.
        #[source]
        source: nix::Error,
    },
}

/// A mounted overlay; unmounted (lazily, MNT_DETACH) when dropped.
#[derive(Debug)]
pub struct OverlayMount {
    target: PathBuf,
    mounted: bool,
}

/// The `mount -t overlay` option string for these layers.
///
/// Errors: [`OverlayError::BadPath`] for a path with `,` or `:` (overlayfs's separators) or
/// `\` (its escape character).
pub fn options(lower: &Path, upper: &Path, work: &Path) -> Result<String, OverlayError> {
    let mut parts = Vec::with_capacity(3);
    for (layer, path) in [("lowerdir", lower), ("upperdir", upper), ("workdir", work)] {
        let s = path.to_string_lossy();
        if let Some(ch) = s.chars().find(|c| matches!(c, ',' | ':' | '\\')) {
            return Err(OverlayError::BadPath {
                layer,
                path: path.to_owned(),
                ch,
            });
        }
        parts.push(format!("{layer}={s}"));
    }
    Ok(parts.join(","))
}

/// Rootless: the value of the runtime's `org.husk.rootfs.overlay` annotation for these layers,
/// which has the runtime mount the overlay inside the container's own user and mount namespace
/// (an unprivileged user cannot mount it in the host's). Makes `upper`, `work` and `target`
/// if missing, as [`OverlayMount::mount`] does; nothing is mounted here.
///
/// Errors: [`OverlayError::BadPath`], [`OverlayError::CreateDir`].
pub fn annotation(
    lower: &Path,
    upper: &Path,
    work: &Path,
    target: &Path,
) -> Result<String, OverlayError> {
    let value = options(lower, upper, work)?;
    for dir in [upper, work, target] {
        fs::create_dir_all(dir).map_err(|source| OverlayError::CreateDir {
            path: dir.to_owned(),
            source,
        })?;
    }
    Ok(value)
}

impl OverlayMount {
    /// Mounts `lower` (read-only, never written) under `upper` and `work` at `target`, making
    /// `upper`, `work` and `target` if missing. Each container needs its own `upper` and `work`.
    ///
    /// Errors: [`OverlayError::BadPath`], [`OverlayError::CreateDir`], [`OverlayError::Mount`].
    pub fn mount(
        lower: &Path,
        upper: &Path,
        work: &Path,
        target: &Path,
    ) -> Result<Self, OverlayError> {
        let data = options(lower, upper, work)?;
        for dir in [upper, work, target] {
            fs::create_dir_all(dir).map_err(|source| OverlayError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
        }
        mount(
            Some("overlay"),
            target,
            Some("overlay"),
            MsFlags::empty(),
            Some(data.as_str()),
        )
        .map_err(|source| OverlayError::Mount {
            target: target.to_owned(),
            lower: lower.to_owned(),
            source,
        })?;
        Ok(Self {
            target: target.to_owned(),
            mounted: true,
        })
    }

    /// The mountpoint.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Unmounts now and reports an error (drop only logs it).
    ///
    /// Errors: [`OverlayError::Unmount`].
    pub fn unmount(mut self) -> Result<(), OverlayError> {
        self.mounted = false;
        // MNT_DETACH: a process still holding a file in the container (a stray child of the
        // runtime) must not make husk fail; the kernel frees the mount once it is unused.
        umount2(&self.target, MntFlags::MNT_DETACH).map_err(|source| OverlayError::Unmount {
            target: self.target.clone(),
            source,
        })
    }
}

impl Drop for OverlayMount {
    fn drop(&mut self) {
        if self.mounted {
            if let Err(e) = umount2(&self.target, MntFlags::MNT_DETACH) {
                tracing::warn!(target = %self.target.display(), error = %e,
                    "could not unmount the container's overlay");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::need_root;

    #[test]
    fn options_string() {
        assert_eq!(
            options(Path::new("/l"), Path::new("/u"), Path::new("/w")).unwrap(),
            "lowerdir=/l,upperdir=/u,workdir=/w"
        );
        let err = options(Path::new("/a:b"), Path::new("/u"), Path::new("/w")).unwrap_err();
        assert!(matches!(
            err,
            OverlayError::BadPath {
                layer: "lowerdir",
                ch: ':',
                ..
            }
        ));
        assert!(matches!(
            options(Path::new("/l"), Path::new("/u"), Path::new("/w\\x")),
            Err(OverlayError::BadPath { ch: '\\', .. })
        ));
        let err = options(Path::new("/l"), Path::new("/u,x"), Path::new("/w")).unwrap_err();
        assert!(matches!(
            err,
            OverlayError::BadPath {
                layer: "upperdir",
                ch: ',',
                ..
            }
        ));
    }

    fn is_mountpoint(p: &Path) -> bool {
        let canonical = p.canonicalize().unwrap();
        fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .any(|l| l.split(' ').nth(4) == Some(canonical.to_str().unwrap()))
    }

    #[test]
    fn writes_go_to_upper_and_the_guard_unmounts() {
        if !need_root("writes_go_to_upper_and_the_guard_unmounts") {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let lower = tmp.path().join("lower");
        fs::create_dir_all(lower.join("etc")).unwrap();
        fs::write(lower.join("etc/hostname"), "lower\n").unwrap();
        let (upper, work, target) = (
            tmp.path().join("c/upper"),
            tmp.path().join("c/work"),
            tmp.path().join("c/bundle/rootfs"),
        );
        {
            let m = OverlayMount::mount(&lower, &upper, &work, &target).unwrap();
            assert!(is_mountpoint(m.target()));
            assert_eq!(
                fs::read_to_string(target.join("etc/hostname")).unwrap(),
                "lower\n"
            );
            fs::write(target.join("etc/hostname"), "changed\n").unwrap();
            fs::write(target.join("new"), "n").unwrap();
            fs::remove_file(target.join("etc/hostname")).unwrap();
            fs::write(target.join("etc/hostname"), "again\n").unwrap();
        }
        // Dropped: unmounted; the lower layer unchanged; the changes are in upper.
        assert!(!is_mountpoint(&target));
        assert!(fs::read_dir(&target).unwrap().next().is_none());
        assert_eq!(
            fs::read_to_string(lower.join("etc/hostname")).unwrap(),
            "lower\n"
        );
        assert!(!lower.join("new").exists());
        assert_eq!(
            fs::read_to_string(upper.join("etc/hostname")).unwrap(),
            "again\n"
        );
        assert_eq!(fs::read_to_string(upper.join("new")).unwrap(), "n");
    }

    #[test]
    fn explicit_unmount() {
        if !need_root("explicit_unmount") {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let lower = tmp.path().join("lower");
        fs::create_dir(&lower).unwrap();
        let target = tmp.path().join("t");
        let m = OverlayMount::mount(
            &lower,
            &tmp.path().join("u"),
            &tmp.path().join("w"),
            &target,
        )
        .unwrap();
        m.unmount().unwrap();
        assert!(!is_mountpoint(&target));
    }

    #[test]
    fn mount_error_names_the_paths() {
        if !need_root("mount_error_names_the_paths") {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("no-such-lower");
        let err = OverlayMount::mount(
            &missing,
            &tmp.path().join("u"),
            &tmp.path().join("w"),
            &tmp.path().join("t"),
        )
        .unwrap_err();
        assert!(matches!(err, OverlayError::Mount { .. }));
        assert!(err.to_string().contains("no-such-lower"), "{err}");
    }
}
