//! Detection of the host's cgroup layout: which hierarchies exist, where they are mounted and
//! where this process sits in each, from /proc/self/mountinfo and /proc/self/cgroup
//! (proc(5), cgroups(7)), cross-checked with statfs(2) of /sys/fs/cgroup.

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::CgroupError;

const MOUNTINFO: &str = "/proc/self/mountinfo";
const PROC_SELF_CGROUP: &str = "/proc/self/cgroup";
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The three kinds of host (cgroups(7), "Cgroups version 1 and version 2").
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LayoutKind {
    /// Only v1 hierarchies are mounted.
    V1,
    /// v1 hierarchies plus a cgroup2 mount (usually /sys/fs/cgroup/unified); each controller is
    /// driven through the hierarchy it is bound to.
    Hybrid,
    /// Only cgroup2 (usually at /sys/fs/cgroup).
    Unified,
}

/// The cgroup version of one hierarchy.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CgroupVersion {
    /// A v1 hierarchy (fstype `cgroup`).
    V1,
    /// The unified hierarchy (fstype `cgroup2`).
    V2,
}

/// One mounted hierarchy this process belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hierarchy {
    /// v1 or v2.
    pub version: CgroupVersion,
    /// v1: the controllers bound to it, as /proc/self/cgroup lists them (`["cpu", "cpuacct"]`);
    /// empty for a named hierarchy without controllers and for v2 (whose controllers are in
    /// its `cgroup.controllers` file).
    pub controllers: Vec<String>,
    /// v1 named hierarchy: the `name=` option (`systemd`), else None.
    pub name: Option<String>,
    /// Where it is mounted (mountinfo field 5), prefixed with the root given to
    /// [`Layout::from_parts_at`].
    pub mount_point: PathBuf,
    /// The cgroup that the mount shows at its mount point (mountinfo field 4), e.g. `/`.
    pub mount_root: String,
    /// This process's cgroup in the hierarchy (the path field of /proc/self/cgroup).
    pub own_cgroup: String,
}

impl Hierarchy {
    /// The mount data for a `cgroup` mount of this hierarchy: `memory`, `cpu,cpuacct`,
    /// `name=systemd` for v1 (mount(8) options of fstype cgroup), empty for cgroup2.
    pub fn mount_data(&self) -> String {
        let mut parts = self.controllers.clone();
        if let Some(name) = &self.name {
            parts.push(format!("name={name}"));
        }
        parts.join(",")
    }

    /// Whether the v1 controller `controller` (e.g. `devices`) is bound to this hierarchy.
    pub fn has_controller(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

/// The cgroup hierarchies of the host as this process sees them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    hierarchies: Vec<Hierarchy>,
}

impl Layout {
    /// Detect the layout of the running host from /proc/self/mountinfo and /proc/self/cgroup.
    /// statfs(2) of /sys/fs/cgroup is a cross-check: when it is a cgroup2 filesystem the host is
    /// unified; a disagreement with mountinfo is logged.
    ///
    /// Errors: [`CgroupError::ReadProc`] when a /proc file cannot be read, a parse error naming
    /// the line, or [`CgroupError::NoHierarchy`].
    pub fn detect() -> Result<Layout, CgroupError> {
        let read = |path: &str| {
            std::fs::read_to_string(path).map_err(|source| CgroupError::ReadProc {
                path: PathBuf::from(path),
                source,
            })
        };
        let layout = Layout::from_parts(&read(MOUNTINFO)?, &read(PROC_SELF_CGROUP)?)?;
        match nix::sys::statfs::statfs(CGROUP_ROOT) {
            Ok(fs) => {
                let is_cgroup2 = fs.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC;
                if is_cgroup2 != (layout.kind() == LayoutKind::Unified) {
                    tracing::warn!(
                        "statfs({CGROUP_ROOT}) says cgroup2={is_cgroup2} but mountinfo gives a {:?} layout; using mountinfo",
                        layout.kind()
                    );
                }
            }
            Err(errno) => tracing::debug!("statfs({CGROUP_ROOT}): {errno}"),
        }
        tracing::debug!(kind = ?layout.kind(), hierarchies = layout.hierarchies.len(), "cgroup layout");
        Ok(layout)
    }

    /// Parse the given texts of /proc/self/mountinfo and /proc/self/cgroup (testable without
    /// root). Mount points are taken as they are; see [`Layout::from_parts_at`] for a temp dir.
    pub fn from_parts(mountinfo: &str, proc_self_cgroup: &str) -> Result<Layout, CgroupError> {
        Layout::from_parts_at(mountinfo, proc_self_cgroup, Path::new("/"))
    }

    /// Like [`Layout::from_parts`], with every mount point placed under `root` (a temp dir in
    /// tests: `/sys/fs/cgroup/memory` becomes `ROOT/sys/fs/cgroup/memory`).
    ///
    /// Rules: a hierarchy is each non-empty line of /proc/self/cgroup; it is matched with a
    /// visible mount (one not hidden by a later mount over it or over a parent directory) of
    /// fstype `cgroup` whose super options hold all of its controllers (or its `name=`), or of
    /// fstype `cgroup2` for the `0::` line. When a hierarchy is mounted several times, the
    /// mount whose root contains this process's cgroup is preferred. Hierarchies without a
    /// visible mount are skipped (logged).
    pub fn from_parts_at(
        mountinfo: &str,
        proc_self_cgroup: &str,
        root: &Path,
    ) -> Result<Layout, CgroupError> {
        let mounts = parse_mountinfo(mountinfo)?;
        let visible: Vec<&Mount> = mounts
            .iter()
            .filter(|m| m.is_cgroup() && !is_shadowed(m, &mounts))
            .collect();
        let mut hierarchies = Vec::new();
        for entry in parse_proc_cgroup(proc_self_cgroup)? {
            let candidates: Vec<&&Mount> = visible.iter().filter(|m| entry.matches(m)).collect();
            let chosen = candidates
                .iter()
                .find(|m| is_within(&entry.path, &m.root))
                .or_else(|| candidates.first());
            let Some(mount) = chosen else {
                tracing::debug!(
                    "cgroup hierarchy {:?} of /proc/self/cgroup is not mounted; skipped",
                    entry.entries
                );
                continue;
            };
            let relative = mount
                .mount_point
                .strip_prefix("/")
                .unwrap_or(&mount.mount_point);
            hierarchies.push(Hierarchy {
                version: entry.version(),
                controllers: entry
                    .entries
                    .iter()
                    .filter(|e| !e.starts_with("name="))
                    .cloned()
                    .collect(),
                name: entry
                    .entries
                    .iter()
                    .find_map(|e| e.strip_prefix("name=").map(str::to_owned)),
                mount_point: root.join(relative),
                mount_root: mount.root.clone(),
                own_cgroup: entry.path.clone(),
            });
        }
        if hierarchies.is_empty() {
            return Err(CgroupError::NoHierarchy);
        }
        Ok(Layout { hierarchies })
    }

    /// V1, Hybrid or Unified, from which versions of hierarchy are mounted.
    pub fn kind(&self) -> LayoutKind {
        let v1 = self
            .hierarchies
            .iter()
            .any(|h| h.version == CgroupVersion::V1);
        let v2 = self
            .hierarchies
            .iter()
            .any(|h| h.version == CgroupVersion::V2);
        match (v1, v2) {
            (true, true) => LayoutKind::Hybrid,
            (false, true) => LayoutKind::Unified,
            _ => LayoutKind::V1,
        }
    }

    /// Every mounted hierarchy, in /proc/self/cgroup order.
    pub fn hierarchies(&self) -> &[Hierarchy] {
        &self.hierarchies
    }

    /// The v1 hierarchy the controller `controller` (e.g. `devices`) is bound to, if mounted.
    pub fn v1_hierarchy(&self, controller: &str) -> Option<&Hierarchy> {
        self.hierarchies
            .iter()
            .find(|h| h.version == CgroupVersion::V1 && h.has_controller(controller))
    }

    /// The cgroup2 hierarchy, if mounted.
    pub fn unified(&self) -> Option<&Hierarchy> {
        self.hierarchies
            .iter()
            .find(|h| h.version == CgroupVersion::V2)
    }
}

/// One line of /proc/self/mountinfo, reduced to what cgroup detection needs.
#[derive(Debug)]
struct Mount {
    id: u32,
    parent: u32,
    root: String,
    mount_point: PathBuf,
    fstype: String,
    super_options: Vec<String>,
}

impl Mount {
    fn is_cgroup(&self) -> bool {
        self.fstype == "cgroup" || self.fstype == "cgroup2"
    }
}

/// Parse mountinfo (proc(5)): `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE
/// SOURCE SUPEROPTS`; ROOT and MOUNTPOINT have spaces, tabs, newlines and backslashes octal
/// escaped.
fn parse_mountinfo(text: &str) -> Result<Vec<Mount>, CgroupError> {
    let mut mounts = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason| CgroupError::MountInfo {
            line: index + 1,
            reason,
        };
        let fields: Vec<&str> = line.split(' ').collect();
        let separator = fields
            .iter()
            .position(|f| *f == "-")
            .ok_or_else(|| bad("no ` - ` separator"))?;
        if separator < 6 || fields.len() < separator + 4 {
            return Err(bad("too few fields"));
        }
        mounts.push(Mount {
            id: fields[0]
                .parse()
                .map_err(|_| bad("mount ID is not a number"))?,
            parent: fields[1]
                .parse()
                .map_err(|_| bad("parent ID is not a number"))?,
            root: unescape(fields[3]),
            mount_point: PathBuf::from(unescape(fields[4])),
            fstype: fields[separator + 1].to_owned(),
            super_options: fields[separator + 3]
                .split(',')
                .map(str::to_owned)
                .collect(),
        });
    }
    Ok(mounts)
}

/// Undo the `\ooo` octal escapes the kernel uses in mountinfo paths.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let digits = &bytes[i + 1..i + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let value = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                if let Ok(value) = u8::try_from(value) {
                    out.push(value);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `m` is hidden: another mount stacked on the same mount point above it, or a mount
/// over one of its parent directories that is not one of its ancestors in the mount tree.
fn is_shadowed(m: &Mount, all: &[Mount]) -> bool {
    all.iter().any(|n| {
        if n.id == m.id {
            return false;
        }
        if n.mount_point == m.mount_point {
            is_mount_ancestor(m.id, n, all)
        } else if m.mount_point.starts_with(&n.mount_point) {
            !is_mount_ancestor(n.id, m, all)
        } else {
            false
        }
    })
}

/// Whether the mount with id `ancestor` is on the parent chain of `m`.
fn is_mount_ancestor(ancestor: u32, m: &Mount, all: &[Mount]) -> bool {
    let mut current = m.parent;
    // Bounded by the number of mounts so a malformed (cyclic) mountinfo cannot loop forever.
    for _ in 0..=all.len() {
        if current == ancestor {
            return true;
        }
        match all.iter().find(|p| p.id == current) {
            Some(parent) if parent.parent != parent.id => current = parent.parent,
            _ => return false,
        }
    }
    false
}

/// Whether the cgroup path `path` is `root` or below it.
fn is_within(path: &str, root: &str) -> bool {
    Path::new(path).starts_with(Path::new(root))
}

/// One line of /proc/self/cgroup (cgroups(7)): `ID:CONTROLLERS:PATH`.
#[derive(Debug)]
struct ProcCgroupEntry {
    hierarchy_id: u32,
    entries: Vec<String>,
    path: String,
}

impl ProcCgroupEntry {
    fn version(&self) -> CgroupVersion {
        if self.hierarchy_id == 0 && self.entries.is_empty() {
            CgroupVersion::V2
        } else {
            CgroupVersion::V1
        }
    }

    fn matches(&self, mount: &Mount) -> bool {
        match self.version() {
            CgroupVersion::V2 => mount.fstype == "cgroup2",
            CgroupVersion::V1 => {
                mount.fstype == "cgroup"
                    && self
                        .entries
                        .iter()
                        .all(|e| mount.super_options.iter().any(|o| o == e))
            }
        }
    }
}

fn parse_proc_cgroup(text: &str) -> Result<Vec<ProcCgroupEntry>, CgroupError> {
    let mut entries = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason| CgroupError::ProcCgroup {
            line: index + 1,
            reason,
        };
        // The path may itself contain ':', so split at the first two only.
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("fewer than three ':'-separated fields"));
        };
        let hierarchy_id = id
            .parse()
            .map_err(|_| bad("hierarchy ID is not a number"))?;
        if !path.starts_with('/') {
            return Err(bad("the cgroup path is not absolute"));
        }
        if Path::new(path)
            .components()
            .any(|c| c == Component::ParentDir)
        {
            return Err(bad("the cgroup path has a `..` component"));
        }
        entries.push(ProcCgroupEntry {
            hierarchy_id,
            entries: controllers
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect(),
            path: path.to_owned(),
        });
    }
    Ok(entries)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// This project's development host (hybrid), `cat /proc/self/mountinfo`.
    pub(crate) const HYBRID_MOUNTINFO: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,size=12335016k,nr_inodes=3083754,mode=755
25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24683792k
26 24 0:24 / /dev/pts rw,relatime - devpts devpts rw,mode=600,ptmxmode=000
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    pub(crate) const HYBRID_CGROUP: &str = "\
9:name=systemd:/
8:pids:/
7:blkio:/
6:freezer:/
5:devices:/
4:memory:/process_api/c2a49703b5cc3feb4a47476fec3ba167
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
";

    /// A Debian 12 systemd host (pure cgroup v2).
    pub(crate) const UNIFIED_MOUNTINFO: &str = "\
21 26 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
22 26 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
26 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw,errors=remount-ro
27 21 0:6 / /sys/kernel/security rw,nosuid,nodev,noexec,relatime shared:8 - securityfs securityfs rw
29 21 0:25 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
30 21 0:26 / /sys/fs/pstore rw,nosuid,nodev,noexec,relatime shared:10 - pstore pstore rw
";
    pub(crate) const UNIFIED_CGROUP: &str = "0::/user.slice/user-1000.slice/session-3.scope\n";

    /// A CentOS 7 host (pure v1, co-mounted controllers, no cgroup2).
    pub(crate) const V1_MOUNTINFO: &str = "\
18 61 0:17 / /sys rw,nosuid,nodev,noexec,relatime shared:6 - sysfs sysfs rw
19 61 0:3 / /proc rw,nosuid,nodev,noexec,relatime shared:5 - proc proc rw
24 18 0:20 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:8 - tmpfs tmpfs ro,mode=755
25 24 0:21 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd
28 24 0:24 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,cpu,cpuacct
29 24 0:25 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,net_cls,net_prio
30 24 0:26 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,memory
31 24 0:27 / /sys/fs/cgroup/devices rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,devices
32 24 0:28 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,pids
33 24 0:29 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,freezer
61 1 253:0 / / rw,relatime shared:1 - xfs /dev/mapper/centos-root rw,attr2,inode64,noquota
";
    pub(crate) const V1_CGROUP: &str = "\
11:freezer:/
10:pids:/user.slice
9:devices:/user.slice
8:memory:/
7:net_prio,net_cls:/
4:cpuacct,cpu:/user.slice
1:name=systemd:/user.slice/user-1000.slice/session-1.scope
";

    #[test]
    fn hybrid_host_has_every_v1_controller_and_the_unified_mount() {
        let layout = Layout::from_parts(HYBRID_MOUNTINFO, HYBRID_CGROUP).unwrap();
        assert_eq!(layout.kind(), LayoutKind::Hybrid);
        assert_eq!(layout.hierarchies().len(), 10);
        let memory = layout.v1_hierarchy("memory").unwrap();
        assert_eq!(memory.mount_point, Path::new("/sys/fs/cgroup/memory"));
        assert_eq!(
            memory.own_cgroup,
            "/process_api/c2a49703b5cc3feb4a47476fec3ba167"
        );
        assert_eq!(memory.mount_root, "/");
        let systemd = &layout.hierarchies()[0];
        assert_eq!(systemd.name.as_deref(), Some("systemd"));
        assert!(systemd.controllers.is_empty());
        assert_eq!(systemd.mount_data(), "name=systemd");
        let unified = layout.unified().unwrap();
        assert_eq!(unified.mount_point, Path::new("/sys/fs/cgroup/unified"));
        assert_eq!(unified.own_cgroup, "/");
        assert_eq!(unified.mount_data(), "");
        assert!(layout.v1_hierarchy("hugetlb").is_none());
    }

    #[test]
    fn unified_host_has_one_hierarchy() {
        let layout = Layout::from_parts(UNIFIED_MOUNTINFO, UNIFIED_CGROUP).unwrap();
        assert_eq!(layout.kind(), LayoutKind::Unified);
        assert_eq!(layout.hierarchies().len(), 1);
        let h = &layout.hierarchies()[0];
        assert_eq!(h.version, CgroupVersion::V2);
        assert_eq!(h.mount_point, Path::new("/sys/fs/cgroup"));
        assert_eq!(h.own_cgroup, "/user.slice/user-1000.slice/session-3.scope");
    }

    #[test]
    fn v1_host_with_comounted_controllers() {
        let layout = Layout::from_parts(V1_MOUNTINFO, V1_CGROUP).unwrap();
        assert_eq!(layout.kind(), LayoutKind::V1);
        // freezer, pids, devices, memory, net_prio+net_cls, cpuacct+cpu, systemd
        assert_eq!(layout.hierarchies().len(), 7);
        let cpu = layout.v1_hierarchy("cpu").unwrap();
        assert_eq!(cpu.mount_point, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(cpu.controllers, vec!["cpuacct", "cpu"]);
        assert_eq!(cpu.own_cgroup, "/user.slice");
        let systemd = layout.hierarchies().last().unwrap();
        assert_eq!(systemd.name.as_deref(), Some("systemd"));
        assert_eq!(systemd.mount_point, Path::new("/sys/fs/cgroup/systemd"));
        assert!(layout.unified().is_none());
    }

    #[test]
    fn root_prefix_moves_every_mount_point() {
        let layout =
            Layout::from_parts_at(HYBRID_MOUNTINFO, HYBRID_CGROUP, Path::new("/tmp/x")).unwrap();
        assert_eq!(
            layout.v1_hierarchy("pids").unwrap().mount_point,
            Path::new("/tmp/x/sys/fs/cgroup/pids")
        );
    }

    #[test]
    fn cgroup2_mounted_over_the_v1_tmpfs_hides_the_v1_mounts() {
        // What crun's workaround on this host does: cgroup2 mounted on /sys/fs/cgroup in a
        // private mount namespace, on top of the tmpfs that holds the v1 mounts.
        let mountinfo = format!(
            "{HYBRID_MOUNTINFO}90 31 0:38 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw\n"
        );
        let layout = Layout::from_parts(&mountinfo, HYBRID_CGROUP).unwrap();
        assert_eq!(layout.kind(), LayoutKind::Unified);
        assert_eq!(
            layout.unified().unwrap().mount_point,
            Path::new("/sys/fs/cgroup")
        );
    }

    #[test]
    fn escaped_mount_point_and_mount_root_of_a_container() {
        let mountinfo = "\
1 0 0:1 / / rw - ext4 /dev/root rw
2 1 0:2 /docker/abc /sys/fs/cgroup/my\\040memory rw - cgroup cgroup rw,memory
";
        let layout = Layout::from_parts(mountinfo, "3:memory:/docker/abc/inner\n").unwrap();
        let h = layout.v1_hierarchy("memory").unwrap();
        assert_eq!(h.mount_point, Path::new("/sys/fs/cgroup/my memory"));
        assert_eq!(h.mount_root, "/docker/abc");
    }

    #[test]
    fn mount_containing_own_cgroup_is_preferred() {
        let mountinfo = "\
1 0 0:1 / / rw - ext4 /dev/root rw
2 1 0:2 /other /mnt/a rw - cgroup cgroup rw,pids
3 1 0:2 / /mnt/b rw - cgroup cgroup rw,pids
";
        let layout = Layout::from_parts(mountinfo, "3:pids:/mine\n").unwrap();
        assert_eq!(
            layout.v1_hierarchy("pids").unwrap().mount_point,
            Path::new("/mnt/b")
        );
    }

    #[test]
    fn unmounted_hierarchy_is_skipped_and_none_mounted_is_an_error() {
        let layout = Layout::from_parts(HYBRID_MOUNTINFO, "12:rdma:/\n8:pids:/\n").unwrap();
        assert_eq!(layout.hierarchies().len(), 1);
        let err = Layout::from_parts("1 0 0:1 / / rw - ext4 /dev/root rw\n", "0::/\n").unwrap_err();
        assert!(matches!(err, CgroupError::NoHierarchy), "{err}");
    }

    #[test]
    fn malformed_lines_name_their_line() {
        let err = Layout::from_parts("1 0 0:1 / / rw ext4\n", "0::/\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "/proc/self/mountinfo line 1: no ` - ` separator (see proc(5), /proc/pid/mountinfo)"
        );
        let err = Layout::from_parts(UNIFIED_MOUNTINFO, "0::/\nx:pids\n").unwrap_err();
        assert!(
            err.to_string().starts_with("/proc/self/cgroup line 2:"),
            "{err}"
        );
        let err = Layout::from_parts(UNIFIED_MOUNTINFO, "0::/a/../b\n").unwrap_err();
        assert!(err.to_string().contains("`..`"), "{err}");
    }

    #[test]
    fn unescape_handles_octal_and_plain_backslash() {
        assert_eq!(unescape("a\\040b\\011c"), "a b\tc");
        assert_eq!(unescape("a\\b"), "a\\b");
        assert_eq!(unescape("end\\04"), "end\\04");
    }
}
