//! `linux.cgroupsPath`: parsing (runtime-spec config-linux.md, "Cgroups path") and placement of
//! the container's cgroup in each hierarchy, the way runc's cgroupfs driver places it.

use std::path::{Component, Path, PathBuf};

use crate::error::CgroupError;
use crate::layout::{CgroupVersion, Hierarchy};

const FIELD: &str = "linux.cgroupsPath";

/// A parsed `linux.cgroupsPath`, as clean path components (no `.`, no empty, no `..`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CgroupsPath {
    /// `/a/b`: relative to each hierarchy's mount root.
    Absolute(Vec<String>),
    /// `a/b`, or no path (the container id): under the runtime's own cgroup (v1) or under its
    /// parent (v2).
    Relative(Vec<String>),
}

impl CgroupsPath {
    /// Parse `linux.cgroupsPath`. None or "" gives the default, the relative path `id` (runc
    /// 1.1 with the cgroupfs driver: `Name = id`, `Path = ""`, placed like a relative path).
    ///
    /// Errors: the systemd form `slice:prefix:name`; a `..` component; `/` alone (the
    /// hierarchy root itself cannot be a container's cgroup); an id that is not one path
    /// component.
    pub(crate) fn parse(cgroups_path: Option<&str>, id: &str) -> Result<CgroupsPath, CgroupError> {
        let path = match cgroups_path {
            Some(path) if !path.is_empty() => path,
            _ => {
                if id.is_empty() || id.contains('/') || id == "." || id == ".." {
                    return Err(CgroupError::InvalidPath {
                        field: "container id",
                        path: id.to_owned(),
                        reason: "the default cgroup is named after the id, which must be one non-empty path component",
                    });
                }
                return Ok(CgroupsPath::Relative(vec![id.to_owned()]));
            }
        };
        // runc's systemd driver reads "slice:prefix:name" (three fields, no slash in the
        // slice); a cgroupfs path never has that shape unless it is meant for systemd.
        if !path.starts_with('/') && path.split(':').count() == 3 {
            return Err(CgroupError::SystemdPath {
                path: path.to_owned(),
            });
        }
        let mut components = Vec::new();
        for component in Path::new(path).components() {
            match component {
                Component::Normal(c) => components.push(c.to_string_lossy().into_owned()),
                Component::RootDir | Component::CurDir => {}
                Component::ParentDir | Component::Prefix(_) => {
                    return Err(CgroupError::PathEscapes {
                        field: FIELD,
                        path: path.to_owned(),
                    })
                }
            }
        }
        if components.is_empty() {
            return Err(CgroupError::InvalidPath {
                field: FIELD,
                path: path.to_owned(),
                reason: "names the root of the cgroup hierarchy; give the container a cgroup of its own such as \"/husk/ID\"",
            });
        }
        Ok(if path.starts_with('/') {
            CgroupsPath::Absolute(components)
        } else {
            CgroupsPath::Relative(components)
        })
    }
}

/// Where the container's cgroup goes in one hierarchy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Placement {
    /// The cgroup path in the hierarchy (as /proc/PID/cgroup shows it), e.g. `/a/b`.
    pub(crate) cgroup_path: String,
    /// The directory on the host: the mount point joined with the part below the mount root.
    pub(crate) dir: PathBuf,
}

/// Place `path` in hierarchy `h`.
///
/// Absolute paths are taken below the mount root (runc: `filepath.Join(mountpoint, path)`).
/// Relative ones go below this process's cgroup on v1, and below its *parent* on v2: a v2
/// cgroup that holds processes cannot also hand controllers to children (the
/// no-internal-process rule, cgroups(7) "Cgroups v2 no internal processes rule"), and the
/// runtime's own cgroup holds the runtime (runc's fs2 `_defaultDirPath` does the same).
pub(crate) fn place(h: &Hierarchy, path: &CgroupsPath) -> Result<Placement, CgroupError> {
    let mount_root = Path::new(&h.mount_root);
    let (base, components) = match path {
        CgroupsPath::Absolute(c) => (mount_root.to_path_buf(), c),
        CgroupsPath::Relative(c) => {
            let own = Path::new(&h.own_cgroup);
            let base = match h.version {
                CgroupVersion::V1 => own,
                CgroupVersion::V2 => own.parent().unwrap_or(own),
            };
            (base.to_path_buf(), c)
        }
    };
    if base.components().any(|c| c == Component::ParentDir) {
        return Err(CgroupError::PathEscapes {
            field: "own cgroup (/proc/self/cgroup)",
            path: base.to_string_lossy().into_owned(),
        });
    }
    let below_mount =
        base.strip_prefix(mount_root)
            .map_err(|_| CgroupError::OwnCgroupOutsideMount {
                mount_point: h.mount_point.clone(),
                mount_root: h.mount_root.clone(),
                own: h.own_cgroup.clone(),
            })?;
    let mut dir = h.mount_point.join(below_mount);
    let mut cgroup_path = base;
    for component in components {
        dir.push(component);
        cgroup_path.push(component);
    }
    // Belt and braces: the components were cleaned at parse time, so this only fails if a
    // caller built a CgroupsPath by hand with a separator inside a component.
    if !is_below(&dir, &h.mount_point) {
        return Err(CgroupError::OutsideHierarchy {
            path: dir,
            mount_point: h.mount_point.clone(),
        });
    }
    Ok(Placement {
        cgroup_path: cgroup_path.to_string_lossy().into_owned(),
        dir,
    })
}

/// Whether `dir` is strictly below `root`, lexically, with no `..` anywhere.
pub(crate) fn is_below(dir: &Path, root: &Path) -> bool {
    dir != root && dir.starts_with(root) && !dir.components().any(|c| c == Component::ParentDir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::tests::{
        HYBRID_CGROUP, HYBRID_MOUNTINFO, UNIFIED_CGROUP, UNIFIED_MOUNTINFO,
    };
    use crate::layout::Layout;

    fn parts(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parse_forms() {
        assert_eq!(
            CgroupsPath::parse(None, "c1").unwrap(),
            CgroupsPath::Relative(parts(&["c1"]))
        );
        assert_eq!(
            CgroupsPath::parse(Some(""), "c1").unwrap(),
            CgroupsPath::Relative(parts(&["c1"]))
        );
        assert_eq!(
            CgroupsPath::parse(Some("/pod//./c1/"), "x").unwrap(),
            CgroupsPath::Absolute(parts(&["pod", "c1"]))
        );
        assert_eq!(
            CgroupsPath::parse(Some("a/b"), "x").unwrap(),
            CgroupsPath::Relative(parts(&["a", "b"]))
        );
    }

    #[test]
    fn parse_refusals() {
        for bad in ["/a/../../etc", "..", "a/.."] {
            let err = CgroupsPath::parse(Some(bad), "x").unwrap_err();
            assert!(
                matches!(err, CgroupError::PathEscapes { .. }),
                "{bad}: {err}"
            );
            assert!(err.to_string().starts_with("linux.cgroupsPath"), "{err}");
        }
        let err = CgroupsPath::parse(Some("system.slice:docker:abc"), "x").unwrap_err();
        assert!(matches!(err, CgroupError::SystemdPath { .. }), "{err}");
        assert!(err.to_string().contains("slice:prefix:name"), "{err}");
        let err = CgroupsPath::parse(Some("/"), "x").unwrap_err();
        assert!(
            err.to_string().contains("root of the cgroup hierarchy"),
            "{err}"
        );
        assert!(CgroupsPath::parse(None, "..").is_err());
        assert!(CgroupsPath::parse(None, "a/b").is_err());
        // An absolute path with colons is an ordinary cgroupfs path.
        assert!(CgroupsPath::parse(Some("/a:b:c"), "x").is_ok());
    }

    #[test]
    fn relative_goes_under_own_cgroup_on_v1() {
        let layout = Layout::from_parts(HYBRID_MOUNTINFO, HYBRID_CGROUP).unwrap();
        let memory = layout.v1_hierarchy("memory").unwrap();
        let p = place(memory, &CgroupsPath::parse(None, "c1").unwrap()).unwrap();
        assert_eq!(
            p.dir,
            Path::new("/sys/fs/cgroup/memory/process_api/c2a49703b5cc3feb4a47476fec3ba167/c1")
        );
        assert_eq!(
            p.cgroup_path,
            "/process_api/c2a49703b5cc3feb4a47476fec3ba167/c1"
        );
        let pids = layout.v1_hierarchy("pids").unwrap();
        let p = place(pids, &CgroupsPath::parse(None, "c1").unwrap()).unwrap();
        assert_eq!(p.dir, Path::new("/sys/fs/cgroup/pids/c1"));
        // The unified hierarchy of a hybrid host: own cgroup is the root, whose parent is
        // itself.
        let unified = layout.unified().unwrap();
        let p = place(unified, &CgroupsPath::parse(None, "c1").unwrap()).unwrap();
        assert_eq!(p.dir, Path::new("/sys/fs/cgroup/unified/c1"));
    }

    #[test]
    fn relative_goes_under_parent_of_own_cgroup_on_v2() {
        let layout = Layout::from_parts(UNIFIED_MOUNTINFO, UNIFIED_CGROUP).unwrap();
        let h = &layout.hierarchies()[0];
        let p = place(h, &CgroupsPath::parse(Some("husk/c1"), "x").unwrap()).unwrap();
        assert_eq!(
            p.dir,
            Path::new("/sys/fs/cgroup/user.slice/user-1000.slice/husk/c1")
        );
        assert_eq!(p.cgroup_path, "/user.slice/user-1000.slice/husk/c1");
    }

    #[test]
    fn absolute_is_below_the_mount_root() {
        let mountinfo = "\
1 0 0:1 / / rw - ext4 /dev/root rw
2 1 0:2 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
";
        let layout = Layout::from_parts(mountinfo, "3:memory:/docker/abc/inner\n").unwrap();
        let h = layout.v1_hierarchy("memory").unwrap();
        let p = place(h, &CgroupsPath::parse(Some("/pod/c1"), "x").unwrap()).unwrap();
        assert_eq!(p.dir, Path::new("/sys/fs/cgroup/memory/pod/c1"));
        assert_eq!(p.cgroup_path, "/docker/abc/pod/c1");
        let p = place(h, &CgroupsPath::parse(Some("c1"), "x").unwrap()).unwrap();
        assert_eq!(p.dir, Path::new("/sys/fs/cgroup/memory/inner/c1"));
    }

    #[test]
    fn own_cgroup_outside_the_mount_is_refused_for_relative_paths() {
        let mountinfo = "\
1 0 0:1 / / rw - ext4 /dev/root rw
2 1 0:2 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
";
        let layout = Layout::from_parts(mountinfo, "3:memory:/elsewhere\n").unwrap();
        let h = layout.v1_hierarchy("memory").unwrap();
        let err = place(h, &CgroupsPath::parse(None, "c1").unwrap()).unwrap_err();
        assert!(
            matches!(err, CgroupError::OwnCgroupOutsideMount { .. }),
            "{err}"
        );
        // An absolute path still works.
        assert!(place(h, &CgroupsPath::parse(Some("/c1"), "x").unwrap()).is_ok());
    }

    #[test]
    fn is_below_is_strict_and_lexical() {
        let root = Path::new("/sys/fs/cgroup/pids");
        assert!(is_below(Path::new("/sys/fs/cgroup/pids/a"), root));
        assert!(!is_below(root, root));
        assert!(!is_below(Path::new("/sys/fs/cgroup/pids/../memory"), root));
        assert!(!is_below(Path::new("/sys/fs/cgroup/pidsx"), root));
    }
}
