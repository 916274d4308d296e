//! The corner cases of the root filesystem that mature runtimes learned the hard way (issue 3,
//! "Mounts and the root filesystem"): tmpfs modes, a read-only /dev that still gets its nodes,
//! the /proc rules, recursive and per-mount options through mount_setattr, remount, the
//! kernel's own reason for a refused filesystem option, devices that clash with the image or
//! sit behind a planted symlink, masked paths behind symlinks, user-namespace device binds.

#![allow(clippy::unwrap_used)] // tests may unwrap (project rules)

use std::fs;
use std::os::unix::fs::{symlink, FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use husk_tests::mountinfo::{at, parse_mountinfo};
use husk_tests::runtime::host_command;
use husk_tests::{host, host_lacks, reference_lacks, rootfs, Bundle, Runtime};
use serde_json::json;
use tempfile::TempDir;

/// A private, writable busybox rootfs (the cached one is shared and must stay untouched).
fn own_rootfs() -> (TempDir, PathBuf) {
    let t = tempfile::Builder::new()
        .prefix("husk-rootfs-")
        .tempdir()
        .unwrap();
    let root = t.path().join("rootfs");
    fs::create_dir(&root).unwrap();
    rootfs::busybox_copy(&root);
    (t, root)
}

/// Index in `mounts` of the entry for `dest`.
fn mount_index(b: &Bundle, dest: &str) -> usize {
    b.config["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .position(|m| m["destination"] == dest)
        .unwrap()
}

/// A tmpfs mounted on the host for the length of a test (unmounted on drop, even on failure).
struct HostTmpfs(PathBuf);

impl HostTmpfs {
    fn at(p: &Path) -> HostTmpfs {
        fs::create_dir_all(p).unwrap();
        host_command("mount", &["-t", "tmpfs", "husk-test", p.to_str().unwrap()]).ok();
        HostTmpfs(p.to_path_buf())
    }
}

impl Drop for HostTmpfs {
    fn drop(&mut self) {
        host_command("umount", &["-l", self.0.to_str().unwrap()]);
    }
}

#[test]
fn tmpfs_keeps_the_mode_of_the_directory_it_covers_and_mode_wins() {
    let rt = Runtime::new();
    let (_t, root) = own_rootfs();
    for (dir, mode) in [("srv", 0o3775), ("opt", 0o1750), ("media", 0o700)] {
        fs::create_dir_all(root.join(dir)).unwrap();
        fs::set_permissions(root.join(dir), fs::Permissions::from_mode(mode)).unwrap();
    }
    let mut b = Bundle::with_rootfs(
        &root,
        &[
            "sh",
            "-c",
            "stat -c %a /srv /opt /media /fresh; touch /srv/f /fresh/f && echo written",
        ],
    );
    b.mount("/srv", "tmpfs", "tmpfs", &["nosuid"]);
    b.mount("/opt", "tmpfs", "tmpfs", &[]);
    b.mount("/media", "tmpfs", "tmpfs", &["mode=755"]);
    // Not in the image: pushed directly (Bundle::mount insists on existing mountpoints).
    b.push(
        "/mounts",
        json!({"destination": "/fresh", "type": "tmpfs", "source": "tmpfs"}),
    );
    let out = rt.run_ok(&b);
    // setgid+setuid bits, sticky bit kept; an explicit mode= wins; a directory husk had to
    // create gets tmpfs's own default (1777).
    let explicit = if reference_lacks("runc 1.1.5 chmods over an explicit mode=") {
        "700"
    } else {
        "755"
    };
    assert_eq!(out, format!("3775\n1750\n{explicit}\n1777\nwritten\n"));
    // The image's directories were never chmod-ed.
    for (dir, mode) in [("srv", 0o3775), ("opt", 0o1750), ("media", 0o700)] {
        let m = fs::metadata(root.join(dir)).unwrap().permissions().mode() & 0o7777;
        assert_eq!(m, mode, "/{dir} on the host");
    }
}

#[test]
fn a_read_only_dev_tmpfs_still_gets_devices_devpts_and_shm() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&[
        "sh",
        "-c",
        "ls -l /dev/null /dev/zero; echo hi > /dev/null && echo null-ok; \
         touch /dev/x 2>/dev/null || echo dev-ro; cat /proc/self/mountinfo",
    ]);
    let i = mount_index(&b, "/dev");
    b.push(&format!("/mounts/{i}/options"), json!("ro"));
    let o = rt.run(&b);
    if reference_lacks("devices and devpts/shm mounts below a read-only /dev tmpfs") {
        return;
    }
    let out = o.ok().stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("crw-rw-rw-"), "{out}");
    assert!(lines[1].starts_with("crw-rw-rw-"), "{out}");
    assert_eq!(lines[2], "null-ok");
    assert_eq!(lines[3], "dev-ro");
    let m = parse_mountinfo(&lines[4..].join("\n"));
    let dev = at(&m, "/dev");
    assert!(dev.mount_options.contains(&"ro".into()), "{dev:?}");
    assert!(dev.super_options.contains(&"ro".into()), "{dev:?}");
    assert_eq!(at(&m, "/dev/pts").fstype, "devpts");
    assert_eq!(at(&m, "/dev/shm").fstype, "tmpfs");
    assert_eq!(at(&m, "/dev/mqueue").fstype, "mqueue");
}

#[test]
fn proc_on_a_symlink_of_the_image_is_refused() {
    let rt = Runtime::new();
    let (_t, root) = own_rootfs();
    fs::remove_dir(root.join("proc")).unwrap();
    symlink("/tmp", root.join("proc")).unwrap();
    let b = Bundle::with_rootfs(&root, &["true"]);
    let o = rt.run(&b).failed();
    if reference_lacks("husk's message for a symlinked /proc") {
        return;
    }
    o.stderr_mentions(&["mounts[0].destination", "not a directory"]);
    assert!(!rt.root().join(&b.id).exists(), "state left");
    assert!(host::mounts_mentioning(&root).is_empty(), "mounts left");
}

#[test]
fn only_a_new_procfs_may_be_mounted_at_proc() {
    let rt = Runtime::new();
    let src = tempfile::tempdir().unwrap();
    let mut b = Bundle::busybox(&["true"]);
    b.push(
        "/mounts",
        json!({"destination": "/proc", "type": "bind", "source": src.path(), "options": ["rbind"]}),
    );
    let n = b.config["mounts"].as_array().unwrap().len() - 1;
    let o = rt.run(&b).failed();
    if reference_lacks("refusal of a bind over /proc") {
        return;
    }
    o.stderr_mentions(&[&format!("mounts[{n}].destination"), "/proc", "a bind"]);
}

/// A bind of the root of a procfs at /proc (what Podman's rootless mode gives `--pid host`)
/// is allowed, as runc allows it; a bind of a directory inside one is not.
#[test]
fn a_bind_of_the_root_of_a_procfs_may_be_mounted_at_proc() {
    let rt = Runtime::new();
    let me = std::process::id();
    let mut b = Bundle::busybox(&[
        "sh",
        "-c",
        &format!("test -d /proc/{me} && echo sees-the-host; stat -c %i /proc"),
    ]);
    b.remove_mount("/proc");
    b.push(
        "/mounts",
        json!({"destination": "/proc", "type": "bind", "source": "/proc",
               "options": ["rbind", "nosuid", "noexec", "nodev"]}),
    );
    assert_eq!(rt.run_ok(&b), "sees-the-host\n1\n");
    let mut b = Bundle::busybox(&["true"]);
    b.remove_mount("/proc");
    b.push(
        "/mounts",
        json!({"destination": "/proc", "type": "bind", "source": "/proc/sys", "options": ["rbind"]}),
    );
    let n = b.config["mounts"].as_array().unwrap().len() - 1;
    let o = rt.run(&b).failed();
    if reference_lacks("husk's message for a bind over /proc") {
        return;
    }
    o.stderr_mentions(&[&format!("mounts[{n}].destination"), "/proc", "a bind"]);
}

#[test]
fn below_proc_only_runcs_list_may_be_mounted_even_through_a_symlink() {
    let rt = Runtime::new();
    let host_file = tempfile::NamedTempFile::new().unwrap();
    fs::write(host_file.path(), "fake cpuinfo\n").unwrap();
    // Allowed: lxcfs-style files.
    let mut b = Bundle::busybox(&["cat", "/proc/cpuinfo"]);
    b.mount(
        "/proc/cpuinfo",
        "bind",
        host_file.path().to_str().unwrap(),
        &["bind", "ro"],
    );
    assert_eq!(rt.run_ok(&b), "fake cpuinfo\n");
    if reference_lacks("runc 1.1.5 resolves the symlink on the host side first") {
        return;
    }
    // Refused: anything else, also when reached through a symlink of the image.
    let (_t, root) = own_rootfs();
    symlink("/proc/sys/kernel", root.join("k")).unwrap();
    for dest in ["/proc/sys/kernel/hostname", "/k/hostname"] {
        let mut b = Bundle::with_rootfs(&root, &["true"]);
        b.push(
            "/mounts",
            json!({"destination": dest, "type": "bind", "source": host_file.path(),
                   "options": ["bind"]}),
        );
        let n = b.config["mounts"].as_array().unwrap().len() - 1;
        rt.run(&b).failed().stderr_mentions(&[
            &format!("mounts[{n}].destination"),
            "/proc/sys/kernel/hostname",
            "inside /proc",
        ]);
    }
}

#[test]
fn recursive_read_only_reaches_submounts_and_plain_ro_does_not() {
    if reference_lacks("rro (runtime-spec v1.1, runc 1.1.5 predates it)") {
        return;
    }
    let rt = Runtime::new();
    let src = tempfile::tempdir().unwrap();
    let _sub = HostTmpfs::at(&src.path().join("sub"));
    let script = "touch /mnt/a 2>/dev/null && echo top-rw || echo top-ro; \
                  touch /mnt/sub/a 2>/dev/null && echo sub-rw || echo sub-ro";
    let mut b = Bundle::busybox(&["sh", "-c", script]);
    b.mount(
        "/mnt",
        "bind",
        src.path().to_str().unwrap(),
        &["rbind", "rro"],
    );
    assert_eq!(rt.run_ok(&b), "top-ro\nsub-ro\n");
    let mut b = Bundle::busybox(&["sh", "-c", script]);
    b.mount(
        "/mnt",
        "bind",
        src.path().to_str().unwrap(),
        &["rbind", "ro"],
    );
    assert_eq!(rt.run_ok(&b), "top-ro\nsub-rw\n");
    // Nothing was written on the host side of the read-only parts.
    assert!(!src.path().join("a").exists());
}

#[test]
fn access_time_symfollow_and_propagation_options_reach_the_mount() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&[
        "sh",
        "-c",
        "ln -s /etc/passwd /mnt/link; cat /mnt/link >/dev/null 2>&1 || echo nofollow; \
         cat /proc/self/mountinfo",
    ]);
    b.mount(
        "/mnt",
        "tmpfs",
        "tmpfs",
        &["noatime", "nodiratime", "nosymfollow", "shared"],
    );
    b.mount("/run", "tmpfs", "tmpfs", &["strictatime", "unbindable"]);
    let out = rt.run_ok(&b);
    if reference_lacks("nosymfollow (Linux 5.10) and per-mount propagation of runc 1.1.5") {
        return;
    }
    assert!(out.starts_with("nofollow\n"), "{out}");
    let m = parse_mountinfo(out.trim_start_matches("nofollow\n"));
    let mnt = at(&m, "/mnt");
    for o in ["noatime", "nodiratime", "nosymfollow"] {
        assert!(
            mnt.mount_options.contains(&o.into()),
            "/mnt lacks {o}: {mnt:?}"
        );
    }
    assert!(
        mnt.optional.iter().any(|f| f.starts_with("shared:")),
        "/mnt is not shared: {mnt:?}"
    );
    let opt = at(&m, "/run");
    assert!(
        !opt.mount_options
            .iter()
            .any(|o| o == "relatime" || o == "noatime"),
        "/run is not strictatime: {opt:?}"
    );
    assert!(opt.optional.iter().any(|f| f == "unbindable"), "{opt:?}");
}

#[test]
fn remount_changes_the_mount_already_there() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&[
        "sh",
        "-c",
        "touch /mnt/x 2>/dev/null && echo rw || echo ro; cat /proc/self/mountinfo",
    ]);
    b.mount("/mnt", "tmpfs", "tmpfs", &["size=1m"]);
    b.mount("/mnt", "tmpfs", "tmpfs", &["remount", "ro", "nosuid"]);
    let out = rt.run_ok(&b);
    let (first, rest) = out.split_once('\n').unwrap();
    assert_eq!(first, "ro");
    let m = parse_mountinfo(rest);
    let mnt = at(&m, "/mnt");
    assert!(mnt.mount_options.contains(&"nosuid".into()), "{mnt:?}");
    // Still the one tmpfs, with its size: remounted, not mounted again.
    assert_eq!(m.iter().filter(|l| l.mount_point == "/mnt").count(), 1);
    assert!(mnt.super_options.contains(&"size=1024k".into()), "{mnt:?}");
}

#[test]
fn a_refused_filesystem_option_names_the_mount_and_the_kernels_reason() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["true"]);
    b.mount("/mnt", "tmpfs", "tmpfs", &["mode=not-octal"]);
    let n = mount_index(&b, "/mnt");
    let o = rt.run(&b).failed();
    if reference_lacks("the kernel's fs_context message (runc uses mount(2))") {
        return;
    }
    o.stderr_mentions(&[&format!("mounts[{n}]"), "mode=not-octal", "Bad value"]);
    assert!(!rt.root().join(&b.id).exists(), "state left");
}

#[test]
fn a_device_that_clashes_with_a_file_of_the_image_is_refused() {
    if reference_lacks("runtime-spec: a clash with an existing file MUST be an error") {
        return;
    }
    let rt = Runtime::new();
    let (_t, root) = own_rootfs();
    fs::write(root.join("dev/fuse"), "not a device").unwrap();
    let mut b = Bundle::with_rootfs(&root, &["true"]);
    b.remove_mount("/dev");
    b.set("/root/readonly", json!(false));
    b.set(
        "/linux/devices",
        json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]),
    );
    rt.run(&b).failed().stderr_mentions(&[
        "linux.devices[0]",
        "/dev/fuse",
        "a regular file",
        "10:229",
    ]);
    assert_eq!(
        fs::read_to_string(root.join("dev/fuse")).unwrap(),
        "not a device"
    );
    // The same device already in the image is fine, and gets the configured mode.
    fs::remove_file(root.join("dev/fuse")).unwrap();
    host_command(
        "mknod",
        &[root.join("dev/fuse").to_str().unwrap(), "c", "10", "229"],
    )
    .ok();
    b.set(
        "/linux/devices",
        json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 384}]),
    );
    b.args(&["stat", "-c", "%a %t:%T", "/dev/fuse"]);
    assert_eq!(rt.run_ok(&b), "600 a:e5\n");
}

#[test]
fn symlinks_planted_at_device_paths_never_touch_the_host() {
    let rt = Runtime::new();
    let (_t, root) = own_rootfs();
    let victim_dir = tempfile::tempdir().unwrap();
    let victim = victim_dir.path().join("victim");
    fs::write(&victim, "precious").unwrap();
    fs::set_permissions(&victim, fs::Permissions::from_mode(0o600)).unwrap();
    // Absolute and climbing relative links to the host file, at default and configured device
    // paths of an image whose /dev is its own directory.
    symlink(&victim, root.join("dev/null")).unwrap();
    symlink(
        format!("../../../../../../..{}", victim.display()),
        root.join("dev/zero"),
    )
    .unwrap();
    symlink(&victim, root.join("dev/kmsg")).unwrap();
    let mut b = Bundle::with_rootfs(&root, &["sh", "-c", "ls -l /dev/null /dev/zero"]);
    b.set("/root/readonly", json!(false));
    b.remove_mount("/dev");
    let out = rt.run(&b);
    if !reference_lacks("runc 1.1.5's handling of planted device symlinks") {
        let out = out.ok().stdout;
        assert!(
            out.lines().all(|l| l.starts_with("crw-rw-rw-")),
            "default devices replaced the links: {out}"
        );
    }
    // A configured device at a planted link is a clash, never a write through it.
    b.set(
        "/linux/devices",
        json!([{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11}]),
    );
    let o = rt.run(&b);
    if !reference_lacks("runc 1.1.5's handling of planted device symlinks") {
        o.failed()
            .stderr_mentions(&["linux.devices[0]", "/dev/kmsg", "a symlink"]);
    }
    let md = fs::symlink_metadata(&victim).unwrap();
    assert!(md.file_type().is_file(), "the host file was replaced");
    assert_eq!(md.permissions().mode() & 0o7777, 0o600);
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
    assert!(!md.file_type().is_char_device());
}

#[test]
fn masked_and_read_only_paths_behind_symlinks_of_the_image() {
    let rt = Runtime::new();
    let (_t, root) = own_rootfs();
    fs::create_dir_all(root.join("srv/secret")).unwrap();
    fs::write(root.join("srv/secret/key"), "k").unwrap();
    fs::write(root.join("srv/token"), "t").unwrap();
    symlink("/srv/secret", root.join("srv/dirlink")).unwrap();
    symlink("../srv/token", root.join("etc/tokenlink")).unwrap();
    let mut b = Bundle::with_rootfs(
        &root,
        &[
            "sh",
            "-c",
            "ls -A /srv/secret | wc -l; cat /srv/token | wc -c; \
             touch /srv/secret/x 2>/dev/null || echo masked-ro; cat /proc/self/mountinfo",
        ],
    );
    b.set(
        "/linux/maskedPaths",
        json!(["/srv/dirlink", "/etc/tokenlink", "/nope"]),
    );
    b.set("/linux/readonlyPaths", json!(["/proc/sys", "/missing"]));
    let out = rt.run_ok(&b);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0].trim(), "0", "masked directory is empty: {out}");
    assert_eq!(
        lines[1].trim(),
        "0",
        "masked file reads as /dev/null: {out}"
    );
    assert_eq!(lines[2], "masked-ro");
    let m = parse_mountinfo(&lines[3..].join("\n"));
    let secret = at(&m, "/srv/secret");
    assert_eq!(secret.fstype, "tmpfs");
    assert!(secret.mount_options.contains(&"ro".into()), "{secret:?}");
    assert!(at(&m, "/proc/sys").mount_options.contains(&"ro".into()));
}

#[test]
fn devices_in_a_user_namespace_are_binds_of_the_hosts_nodes() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&[
        "sh",
        "-c",
        "ls -l /dev/null /dev/fuse | cut -c1; echo x > /dev/null && echo ok",
    ]);
    b.namespace("user", None);
    let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.set("/linux/uidMappings", map.clone());
    b.set("/linux/gidMappings", map);
    let fuse = Path::new("/dev/fuse");
    if host_lacks(!fuse.exists(), "/dev/fuse (the device the test binds)") {
        return;
    }
    b.set(
        "/linux/devices",
        json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]),
    );
    assert_eq!(rt.run_ok(&b), "c\nc\nok\n");
    // A host node that is not the requested device cannot stand in for it.
    b.set(
        "/linux/devices",
        json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 230}]),
    );
    if reference_lacks("verification of the host node bound in a user namespace") {
        return;
    }
    rt.run(&b)
        .failed()
        .stderr_mentions(&["linux.devices[0]", "/dev/fuse", "10:230"]);
}

#[test]
fn tmpcopyup_starts_the_tmpfs_with_a_copy_of_the_directory() {
    let rt = Runtime::new();
    let (_t, root) = own_rootfs();
    let srv = root.join("srv");
    fs::create_dir_all(srv.join("sub")).unwrap();
    fs::write(srv.join("sub/conf"), "image\n").unwrap();
    fs::set_permissions(srv.join("sub/conf"), fs::Permissions::from_mode(0o640)).unwrap();
    symlink("/etc/passwd", srv.join("link")).unwrap();
    let mut b = Bundle::with_rootfs(
        &root,
        &[
            "sh",
            "-c",
            "cat /srv/sub/conf; stat -c %a /srv/sub/conf; readlink /srv/link; \
             echo new > /srv/sub/conf; stat -f -c %T /srv",
        ],
    );
    b.mount("/srv", "tmpfs", "tmpfs", &["tmpcopyup", "nosuid"]);
    let out = rt.run_ok(&b);
    assert_eq!(out, "image\n640\n/etc/passwd\ntmpfs\n");
    // The container wrote to its tmpfs copy, not to the image.
    assert_eq!(fs::read_to_string(srv.join("sub/conf")).unwrap(), "image\n");
}

#[test]
fn mount_label_without_selinux_is_ignored_with_a_warning() {
    if host_lacks(
        Path::new("/sys/fs/selinux/enforce").exists(),
        "a host without SELinux (this one has it: the label would be applied)",
    ) {
        return;
    }
    if reference_lacks("runc 1.1.5 passes context= to the mounts and fails with EINVAL") {
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["echo", "ran"]);
    b.set(
        "/linux/mountLabel",
        json!("system_u:object_r:container_file_t:s0:c1,c2"),
    );
    let o = rt.run(&b).ok();
    assert_eq!(o.stdout, "ran\n");
    o.stderr_mentions(&["linux.mountLabel", "ignored", "SELinux"]);
}

#[test]
fn sysfs_is_read_only_with_the_hosts_network_namespace() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["cat", "/proc/self/mountinfo"]);
    let namespaces: Vec<serde_json::Value> = b.config["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] != "network")
        .cloned()
        .collect();
    b.set("/linux/namespaces", json!(namespaces));
    let i = mount_index(&b, "/sys");
    b.set(
        &format!("/mounts/{i}/options"),
        json!(["nosuid", "noexec", "nodev"]),
    );
    let m = parse_mountinfo(&rt.run_ok(&b));
    let sys = at(&m, "/sys");
    if reference_lacks("runc 1.1.5 mounts sysfs as configured") {
        return;
    }
    assert!(sys.mount_options.contains(&"ro".into()), "{sys:?}");
    // The superblock is the host's: it stays read-write for the host.
    assert!(sys.super_options.contains(&"rw".into()), "{sys:?}");
}

#[test]
fn dangling_and_relative_destinations_stay_inside_the_rootfs() {
    let rt = Runtime::new();
    let (_t, root) = own_rootfs();
    symlink("/srv/data", root.join("data")).unwrap();
    symlink("../../../../../../srv/more", root.join("more")).unwrap();
    let mut b = Bundle::with_rootfs(
        &root,
        &["sh", "-c", "stat -f -c %T /srv/data /srv/more /rel"],
    );
    for dest in ["/data", "/more", "rel"] {
        b.push(
            "/mounts",
            json!({"destination": dest, "type": "tmpfs", "source": "tmpfs"}),
        );
    }
    assert_eq!(rt.run_ok(&b), "tmpfs\ntmpfs\ntmpfs\n");
    // Made in the rootfs, never on the host.
    assert!(root.join("srv/data").is_dir() && root.join("srv/more").is_dir());
    assert!(root.join("rel").is_dir());
    assert!(!Path::new("/srv/more").exists());
}

#[test]
fn a_planted_dev_ptmx_is_replaced_by_the_devpts_link() {
    let rt = Runtime::new();
    let (_t, root) = own_rootfs();
    fs::write(root.join("dev/ptmx"), "planted").unwrap();
    let mut b = Bundle::with_rootfs(&root, &["readlink", "/dev/ptmx"]);
    b.remove_mount("/dev");
    b.set("/root/readonly", json!(false));
    // runc's default /dev/pts, /dev/shm and /dev/mqueue mounts stay: their mountpoints are
    // made in the image's /dev.
    assert_eq!(rt.run_ok(&b), "pts/ptmx\n");
}

#[test]
fn a_read_only_dev_in_a_user_namespace_still_gets_its_devices() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&[
        "sh",
        "-c",
        "ls -l /dev/null | cut -c1; echo x > /dev/null && echo null-ok; \
         touch /dev/x 2>/dev/null || echo dev-ro",
    ]);
    b.namespace("user", None);
    let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.set("/linux/uidMappings", map.clone());
    b.set("/linux/gidMappings", map);
    let i = mount_index(&b, "/dev");
    b.push(&format!("/mounts/{i}/options"), json!("ro"));
    let o = rt.run(&b);
    if reference_lacks("devices below a read-only /dev tmpfs") {
        return;
    }
    assert_eq!(o.ok().stdout, "c\nnull-ok\ndev-ro\n");
}

#[test]
fn a_rootfs_on_a_shared_mount_leaves_nothing_on_the_host_whatever_the_propagation() {
    // The host's / is private here: the shared subtree is made in a private mount namespace of
    // the test's own (unshare -m), with the rootfs on a shared bind, and the runtime run there.
    let rt = Runtime::new();
    let (t, root) = own_rootfs();
    let holder = t.path().to_str().unwrap().to_string();
    for prop in [
        "private",
        "slave",
        "rprivate",
        "rslave",
        "shared",
        "unbindable",
    ] {
        let mut b = Bundle::with_rootfs(&root, &["echo", "ran"]);
        b.set("/linux/rootfsPropagation", json!(prop));
        b.write();
        let script = format!(
            "mount --make-rprivate / && mount --bind {holder} {holder} && \
             mount --make-shared {holder} && {rt} --root {root} run --bundle {bundle} {id} && \
             grep -c ' {holder}' /proc/self/mountinfo",
            rt = husk_tests::runtime::binary().display(),
            root = rt.root().display(),
            bundle = b.path().display(),
            id = b.id,
        );
        let o = host_command("unshare", &["-m", "sh", "-c", &script]);
        if prop == "unbindable" && reference_lacks("rootfsPropagation unbindable") {
            continue;
        }
        // Only the test's own bind of the holder: nothing the container mounted is left.
        assert_eq!(o.stdout, "ran\n1\n", "rootfsPropagation {prop}: {o:#?}");
    }
}
