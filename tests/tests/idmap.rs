//! Idmapped mounts (runtime-spec config.md: the `idmap`/`ridmap` options and a mount's
//! `uidMappings`/`gidMappings`; mount_setattr MOUNT_ATTR_IDMAP): ownership as the container sees
//! it through the mount, what its writes become on disk, recursion, and the refusals.

#![allow(clippy::unwrap_used)] // tests may unwrap (project rules)

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use husk_tests::runtime::host_command;
use husk_tests::{host_lacks, reference_lacks, Bundle, Runtime};
use serde_json::json;
use tempfile::TempDir;

/// The container's user namespace: 0..65536 ↔ 100000..165536.
fn with_userns(b: &mut Bundle) {
    b.namespace("user", None);
    let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.set("/linux/uidMappings", map.clone());
    b.set("/linux/gidMappings", map);
}

/// A source directory on a filesystem that supports idmapped mounts (ext4/xfs/btrfs, or tmpfs
/// from Linux 6.3), holding `f` owned by 1000:1000; `None` (said on stderr) when the test
/// machine's temp dir is on another filesystem.
fn source() -> Option<(TempDir, PathBuf)> {
    // Below the build directory: the checkout's own filesystem (ext4 on these machines).
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
    fs::create_dir_all(&base).unwrap();
    let t = tempfile::Builder::new()
        .prefix("husk-idmap-")
        .tempdir_in(&base)
        .unwrap();
    let st = nix::sys::statfs::statfs(t.path()).unwrap();
    let magic = st.filesystem_type().0 as i64;
    // EXT4_SUPER_MAGIC, XFS_SUPER_MAGIC, BTRFS_SUPER_MAGIC (man 2 statfs).
    let ok = [0xEF53_i64, 0x5846_5342, 0x9123_683E].contains(&magic);
    if host_lacks(!ok, "a build directory on ext4/xfs/btrfs (idmapped mounts)") {
        return None;
    }
    let dir = t.path().join("src");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("f"), "x").unwrap();
    nix::unistd::chown(
        &dir.join("f"),
        Some(nix::unistd::Uid::from_raw(1000)),
        Some(nix::unistd::Gid::from_raw(1000)),
    )
    .unwrap();
    Some((t, dir))
}

#[test]
fn a_mounts_own_mappings_translate_ownership_both_ways() {
    if reference_lacks("idmapped mounts (runc 1.2+)") {
        return;
    }
    let Some((_t, src)) = source() else { return };
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&[
        "sh",
        "-c",
        "stat -c %u:%g /mnt/f; touch /mnt/new && stat -c %u:%g /mnt/new",
    ]);
    with_userns(&mut b);
    b.mount("/mnt", "bind", src.to_str().unwrap(), &["rbind", "idmap"]);
    let i = b.config["mounts"].as_array().unwrap().len() - 1;
    let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.set(&format!("/mounts/{i}/uidMappings"), map.clone());
    b.set(&format!("/mounts/{i}/gidMappings"), map);
    // On-disk 1000 is seen as 1000 (not the overflow id 65534), and the container's root
    // writes files owned by 0 on disk.
    assert_eq!(rt.run_ok(&b), "1000:1000\n0:0\n");
    let md = fs::metadata(src.join("new")).unwrap();
    assert_eq!((md.uid(), md.gid()), (0, 0));
}

#[test]
fn idmap_without_mappings_takes_the_containers_user_namespace() {
    if reference_lacks("idmapped mounts (runc 1.2+)") {
        return;
    }
    let Some((_t, src)) = source() else { return };
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["stat", "-c", "%u:%g", "/mnt/f"]);
    with_userns(&mut b);
    b.mount(
        "/mnt",
        "bind",
        src.to_str().unwrap(),
        &["bind", "idmap", "ro"],
    );
    assert_eq!(rt.run_ok(&b), "1000:1000\n");
    // Without idmap the same file is unmapped in the container's user namespace.
    let mut b = Bundle::busybox(&["stat", "-c", "%u:%g", "/mnt/f"]);
    with_userns(&mut b);
    b.mount("/mnt", "bind", src.to_str().unwrap(), &["bind", "ro"]);
    assert_eq!(rt.run_ok(&b), "65534:65534\n");
}

#[test]
fn mappings_apply_without_a_user_namespace_too() {
    if reference_lacks("idmapped mounts (runc 1.2+)") {
        return;
    }
    let Some((_t, src)) = source() else { return };
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["stat", "-c", "%u:%g", "/mnt/f"]);
    b.mount("/mnt", "bind", src.to_str().unwrap(), &["bind", "idmap"]);
    let i = b.config["mounts"].as_array().unwrap().len() - 1;
    // On-disk 1000 ↔ 2000.
    let map = json!([{"containerID": 1000, "hostID": 2000, "size": 1}]);
    b.set(&format!("/mounts/{i}/uidMappings"), map.clone());
    b.set(&format!("/mounts/{i}/gidMappings"), map);
    assert_eq!(rt.run_ok(&b), "2000:2000\n");
}

#[test]
fn ridmap_maps_the_mounts_below_and_idmap_does_not() {
    if reference_lacks("idmapped mounts (runc 1.2+)") {
        return;
    }
    let Some((_t, src)) = source() else { return };
    let Some((_t2, other)) = source() else { return };
    let sub = src.join("sub");
    fs::create_dir(&sub).unwrap();
    host_command(
        "mount",
        &["--bind", other.to_str().unwrap(), sub.to_str().unwrap()],
    )
    .ok();
    struct Umount(PathBuf);
    impl Drop for Umount {
        fn drop(&mut self) {
            host_command("umount", &["-l", self.0.to_str().unwrap()]);
        }
    }
    let _u = Umount(sub.clone());
    let rt = Runtime::new();
    for (opt, want) in [("ridmap", "1000:1000\n"), ("idmap", "65534:65534\n")] {
        let mut b = Bundle::busybox(&["stat", "-c", "%u:%g", "/mnt/sub/f"]);
        with_userns(&mut b);
        b.mount("/mnt", "bind", src.to_str().unwrap(), &["rbind", opt]);
        assert_eq!(rt.run_ok(&b), want, "{opt}");
    }
}

#[test]
fn idmap_refusals_name_the_mount() {
    let rt = Runtime::new();
    let src = tempfile::tempdir().unwrap();
    // No mappings and no user namespace: the spec's MUST.
    let mut b = Bundle::busybox(&["true"]);
    b.mount(
        "/mnt",
        "bind",
        src.path().to_str().unwrap(),
        &["bind", "idmap"],
    );
    let i = b.config["mounts"].as_array().unwrap().len() - 1;
    if reference_lacks("idmap refusals (runc 1.1.5 ignores idmap)") {
        return;
    }
    rt.run(&b)
        .failed()
        .stderr_mentions(&[&format!("mounts[{i}]"), "user namespace"]);
    assert!(!rt.root().join(&b.id).exists());
    // uidMappings without gidMappings.
    let mut b = Bundle::busybox(&["true"]);
    b.mount(
        "/mnt",
        "bind",
        src.path().to_str().unwrap(),
        &["bind", "idmap"],
    );
    b.set(
        &format!("/mounts/{i}/uidMappings"),
        json!([{"containerID": 0, "hostID": 1000, "size": 1}]),
    );
    rt.run(&b)
        .failed()
        .stderr_mentions(&[&format!("mounts[{i}]"), "gidMappings"]);
    // ridmap on something that is not a bind.
    let mut b = Bundle::busybox(&["true"]);
    with_userns(&mut b);
    b.mount("/mnt", "tmpfs", "tmpfs", &["ridmap"]);
    rt.run(&b)
        .failed()
        .stderr_mentions(&[&format!("mounts[{i}]"), "rbind"]);
    // A filesystem the container mounts can only show ids its user namespace maps.
    let mut b = Bundle::busybox(&["true"]);
    with_userns(&mut b);
    b.mount("/mnt", "tmpfs", "tmpfs", &["idmap"]);
    let other = json!([{"containerID": 0, "hostID": 5000, "size": 1}]);
    b.set(&format!("/mounts/{i}/uidMappings"), other.clone());
    b.set(&format!("/mounts/{i}/gidMappings"), other);
    rt.run(&b)
        .failed()
        .stderr_mentions(&[&format!("mounts[{i}]"), "host id 5000", "not mapped"]);
    assert!(!rt.root().join(&b.id).exists());
}

/// Whether the running kernel is at least `major.minor`.
fn kernel_at_least(major: u32, minor: u32) -> bool {
    let release = nix::sys::utsname::uname().unwrap();
    let mut parts = release
        .release()
        .to_str()
        .unwrap()
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (major, minor)
}

#[test]
fn a_filesystem_the_container_mounts_is_idmapped_inside_its_user_namespace() {
    if reference_lacks("idmapped filesystems other than binds (runc 1.2 idmaps binds only)")
        || host_lacks(!kernel_at_least(6, 3), "idmapped tmpfs (Linux 6.3)")
    {
        return;
    }
    let rt = Runtime::new();
    // The tmpfs belongs to the container's user namespace (0..65536 -> 100000..); its own
    // mappings are in host ids: on-tmpfs uid 0 shows as host 100001 (container 1), gid 0 as
    // group host 100002 (container 2). A plain tmpfs beside it shows 0:0.
    let mut b = Bundle::busybox(&[
        "sh",
        "-c",
        "stat -c %u:%g /mnt/a /mnt/b; grep -c ' /mnt/a .*idmapped' /proc/self/mountinfo",
    ]);
    with_userns(&mut b);
    b.mount("/mnt/a", "tmpfs", "tmpfs", &["idmap"]);
    let i = b.config["mounts"].as_array().unwrap().len() - 1;
    b.set(
        &format!("/mounts/{i}/uidMappings"),
        json!([{"containerID": 0, "hostID": 100001, "size": 1}]),
    );
    b.set(
        &format!("/mounts/{i}/gidMappings"),
        json!([{"containerID": 0, "hostID": 100002, "size": 1}]),
    );
    b.mount("/mnt/b", "tmpfs", "tmpfs", &[]);
    assert_eq!(rt.run_ok(&b), "1:2\n0:0\n1\n");
    // idmap alone takes the container's own mappings: the identity, seen from inside.
    let mut b = Bundle::busybox(&["stat", "-c", "%u:%g", "/mnt/a"]);
    with_userns(&mut b);
    b.mount("/mnt/a", "tmpfs", "tmpfs", &["idmap"]);
    assert_eq!(rt.run_ok(&b), "0:0\n");
}
