//! husk's extension annotation `org.husk.rootfs.overlay`: an overlay filesystem the init mounts
//! at `root.path` inside the container's mount namespace, before anything else of the rootfs
//! setup, instead of binding `root.path` onto itself.
//!
//! Its value uses overlayfs's own option syntax with exactly three keys, each an absolute host
//! path: `lowerdir=/a,upperdir=/b,workdir=/c` (`Documentation/filesystems/overlayfs.rst`). The
//! `husk` front end writes it for a rootless container: an unprivileged user cannot mount an
//! overlay in the host's mount namespace, but may in a mount namespace its own user namespace
//! owns (Linux 5.11). In a container with a user namespace the overlay is mounted with
//! `userxattr` (overlayfs keeps its metadata in `user.overlay.*` xattrs; `trusted.*` needs
//! privilege in the initial user namespace). The mount lives and dies with the container's
//! mount namespace: the host sees `root.path` as the empty directory it is.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use husk_sys::mount::{FsContext, MountAttrFlags};
use oci_spec::runtime::Spec;

use crate::process::ChildError;

/// The annotation's key.
pub const ANNOTATION: &str = "org.husk.rootfs.overlay";

/// The layers the annotation names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layers {
    /// `lowerdir`: the read-only layer.
    pub lower: PathBuf,
    /// `upperdir`: where the container's changes go.
    pub upper: PathBuf,
    /// `workdir`: overlayfs's scratch directory, on the same filesystem as `upper`.
    pub work: PathBuf,
}

/// Parses the annotation's value. `None` when the config does not carry the annotation.
///
/// # Errors
/// A message saying what is wrong with the value (for [`crate::spec::SpecError`] and
/// [`ChildError::Config`]).
pub fn from_spec(spec: &Spec) -> Result<Option<Layers>, String> {
    let Some(value) = spec.annotations().as_ref().and_then(|a| a.get(ANNOTATION)) else {
        return Ok(None);
    };
    parse(value).map(Some)
}

/// Parses `lowerdir=/a,upperdir=/b,workdir=/c` (in any order).
///
/// # Errors
/// A message naming the key or part that is wrong.
pub fn parse(value: &str) -> Result<Layers, String> {
    let (mut lower, mut upper, mut work) = (None, None, None);
    for part in value.split(',') {
        let Some((key, path)) = part.split_once('=') else {
            return Err(format!("`{part}` is not KEY=PATH"));
        };
        let slot = match key {
            "lowerdir" => &mut lower,
            "upperdir" => &mut upper,
            "workdir" => &mut work,
            other => {
                return Err(format!(
                    "unknown key `{other}` (only lowerdir, upperdir and workdir)"
                ))
            }
        };
        if slot.is_some() {
            return Err(format!("`{key}` is given twice"));
        }
        if !path.starts_with('/') {
            return Err(format!("{key} `{path}` is not an absolute path"));
        }
        if let Some(ch) = path.chars().find(|c| matches!(c, ':' | '\\' | '\0')) {
            return Err(format!(
                "{key} `{path}` contains {ch:?}, which overlayfs options cannot carry (one \
                 lower directory only)"
            ));
        }
        *slot = Some(PathBuf::from(path));
    }
    match (lower, upper, work) {
        (Some(lower), Some(upper), Some(work)) => Ok(Layers { lower, upper, work }),
        _ => Err("lowerdir, upperdir and workdir are all required".into()),
    }
}

/// Mounts the overlay of `layers` as a detached mount (fsopen/fsconfig/fsmount), with
/// `userxattr` when `in_userns`; `rootfs` names the target in errors.
///
/// # Errors
/// A [`ChildError`] with the kernel's explanation when it has one.
pub fn mount(layers: &Layers, in_userns: bool, rootfs: &Path) -> Result<OwnedFd, ChildError> {
    let field = format!("annotations.\"{ANNOTATION}\" (on {})", rootfs.display());
    let ctx = FsContext::new("overlay")
        .map_err(|e| ChildError::setup("fsopen overlay for", Some(&field), e))?;
    let fail = |step: &str, e: std::io::Error| {
        let why = ctx.messages();
        let hint = if in_userns {
            "; an overlay in a user namespace needs Linux 5.11 and layers the container's root \
             may read and write"
        } else {
            ""
        };
        ChildError::Config {
            field: field.clone(),
            detail: if why.is_empty() {
                format!("{step}: {e}{hint}")
            } else {
                format!("{step}: {e} (kernel: {why}){hint}")
            },
        }
    };
    for (key, path) in [
        ("lowerdir", &layers.lower),
        ("upperdir", &layers.upper),
        ("workdir", &layers.work),
    ] {
        ctx.set_string(key, &path.to_string_lossy())
            .map_err(|e| fail(&format!("{key} {}", path.display()), e))?;
    }
    if in_userns {
        ctx.set_flag("userxattr")
            .map_err(|e| fail("option userxattr", e))?;
    }
    ctx.create()
        .map_err(|e| fail("create the overlay filesystem", e))?;
    ctx.mount(MountAttrFlags::empty())
        .map_err(|e| fail("fsmount the overlay", e))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn three_absolute_layers_in_any_order() {
        assert_eq!(
            parse("upperdir=/u,lowerdir=/l,workdir=/w").unwrap(),
            Layers {
                lower: "/l".into(),
                upper: "/u".into(),
                work: "/w".into()
            }
        );
    }

    #[test]
    fn malformed_values_say_what_is_wrong() {
        for (value, says) in [
            ("lowerdir=/l,upperdir=/u", "all required"),
            ("lowerdir=/l,upperdir=/u,workdir=w", "not an absolute path"),
            (
                "lowerdir=/a:/b,upperdir=/u,workdir=/w",
                "one lower directory",
            ),
            ("lowerdir=/l,lowerdir=/m,upperdir=/u,workdir=/w", "twice"),
            (
                "lowerdir=/l,upperdir=/u,workdir=/w,index=on",
                "unknown key `index`",
            ),
            ("lowerdir=/l,upperdir=/u,workdir=/w,", "is not KEY=PATH"),
            ("", "is not KEY=PATH"),
        ] {
            let err = parse(value).unwrap_err();
            assert!(err.contains(says), "{value}: {err}");
        }
    }
}
