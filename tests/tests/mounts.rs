//! The root filesystem and the mounts as the container sees them in /proc/self/mountinfo:
//! root.path (absolute and relative), root.readonly, rootfsPropagation, pivot_root and
//! --no-pivot, the mounts list with options, maskedPaths, readonlyPaths, the default devices and
//! linux.devices (runtime-tools validation: mounts, linux_masked_paths, linux_readonly_paths,
//! linux_rootfs_propagation, linux_devices, default).

#![allow(clippy::unwrap_used)] // tests may unwrap (project rules)

use std::fs;

use husk_tests::{host, reference_lacks, rootfs, Bundle, Runtime};
use serde_json::json;

use husk_tests::mountinfo::{at, mounts_of, parse_mountinfo, MountLine};

#[test]
fn default_mounts_are_there_with_their_options() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&[]);
    let m = mounts_of(&rt, &mut b);
    assert_eq!(at(&m, "/proc").fstype, "proc");
    let dev = at(&m, "/dev");
    assert_eq!(dev.fstype, "tmpfs");
    assert!(dev.mount_options.contains(&"nosuid".into()), "{dev:?}");
    assert!(dev.super_options.contains(&"mode=755".into()), "{dev:?}");
    assert!(dev.super_options.contains(&"size=65536k".into()), "{dev:?}");
    let pts = at(&m, "/dev/pts");
    assert_eq!(pts.fstype, "devpts");
    assert!(pts.mount_options.contains(&"noexec".into()));
    assert!(
        pts.super_options.contains(&"ptmxmode=666".into()),
        "{pts:?}"
    );
    assert!(pts.super_options.contains(&"mode=620".into()), "{pts:?}");
    assert!(pts.super_options.contains(&"gid=5".into()), "{pts:?}");
    let shm = at(&m, "/dev/shm");
    assert_eq!(shm.fstype, "tmpfs");
    for o in ["nosuid", "noexec", "nodev"] {
        assert!(
            shm.mount_options.contains(&o.into()),
            "/dev/shm lacks {o}: {shm:?}"
        );
    }
    assert_eq!(at(&m, "/dev/mqueue").fstype, "mqueue");
    let sys = at(&m, "/sys");
    assert_eq!(sys.fstype, "sysfs");
    assert!(sys.mount_options.contains(&"ro".into()), "{sys:?}");
    // The cgroup mount: read-only, the container's own cgroup (on v1, one mount per hierarchy
    // under /sys/fs/cgroup; on v2 one cgroup2 mount).
    let cg: Vec<&MountLine> = m
        .iter()
        .filter(|l| l.mount_point.starts_with("/sys/fs/cgroup") && l.fstype.starts_with("cgroup"))
        .collect();
    assert!(!cg.is_empty(), "no cgroup mount: {m:#?}");
    for l in cg {
        assert!(
            l.mount_options.contains(&"ro".into()),
            "cgroup mount not ro: {l:?}"
        );
    }
}

#[test]
fn readonly_root_refuses_writes() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["sh", "-c", "touch /husk-probe 2>&1; echo rc=$?"]);
    let o = rt.run_ok(&b);
    assert!(
        o.contains("Read-only file system") && o.contains("rc=1"),
        "{o}"
    );
    let m = mounts_of(&rt, &mut b);
    assert!(at(&m, "/").mount_options.contains(&"ro".into()));
}

#[test]
fn writable_root_from_a_relative_root_path() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["sh", "-c", "echo hello > /written && cat /written"]);
    rootfs::busybox_copy(&b.path().join("rootfs"));
    b.set("/root", json!({"path": "rootfs", "readonly": false}));
    assert_eq!(rt.run_ok(&b), "hello\n");
    assert_eq!(
        fs::read_to_string(b.path().join("rootfs/written")).unwrap(),
        "hello\n"
    );
}

#[test]
fn nothing_of_the_host_mount_tree_is_reachable() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&[]);
    let m = mounts_of(&rt, &mut b);
    let host_points: Vec<String> =
        parse_mountinfo(&fs::read_to_string("/proc/self/mountinfo").unwrap())
            .into_iter()
            .map(|l| l.mount_point)
            .filter(|p| {
                p != "/"
                    && !["/proc", "/sys", "/dev", "/tmp", "/run"]
                        .iter()
                        .any(|s| p.starts_with(s))
            })
            .collect();
    for l in &m {
        assert!(
            !host_points.contains(&l.mount_point),
            "host mount {} visible in the container: {m:#?}",
            l.mount_point
        );
    }
    // The rootfs is the only / and no old root lingers (pivot_root, old root detached).
    assert_eq!(
        m.iter().filter(|l| l.mount_point == "/").count(),
        1,
        "{m:#?}"
    );
    // The bundle's and rootfs's host paths do not show either.
    let root = rootfs::busybox().to_string_lossy().into_owned();
    assert!(m.iter().all(|l| !l.mount_point.starts_with(&root)));
}

#[test]
fn no_pivot_still_runs_in_the_rootfs() {
    let rt = Runtime::new();
    let b = Bundle::busybox(&[
        "sh",
        "-c",
        "ls /etc/passwd /bin/busybox && cat /etc/group | head -1",
    ]);
    let o = rt.run_with(&b, &["--no-pivot"]).ok();
    assert_eq!(o.stdout, "/bin/busybox\n/etc/passwd\nroot:x:0:\n");
}

#[test]
fn tmpfs_with_size_mode_and_flags() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&[]);
    b.mount(
        "/mnt",
        "tmpfs",
        "tmpfs",
        &["nosuid", "nodev", "noexec", "size=8m", "mode=700"],
    );
    let m = mounts_of(&rt, &mut b);
    let l = at(&m, "/mnt");
    assert_eq!(l.fstype, "tmpfs");
    for o in ["nosuid", "nodev", "noexec"] {
        assert!(l.mount_options.contains(&o.into()), "/mnt lacks {o}: {l:?}");
    }
    assert!(l.super_options.contains(&"size=8192k".into()), "{l:?}");
    assert!(l.super_options.contains(&"mode=700".into()), "{l:?}");
    // noexec is enforced.
    b.args(&[
        "sh",
        "-c",
        "cp /bin/busybox /mnt/bb && /mnt/bb true; echo rc=$?",
    ]);
    let out = rt.run_ok(&b);
    assert!(out.ends_with("rc=126\n"), "exec from a noexec tmpfs: {out}");
}

#[test]
fn mounts_are_made_in_order() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&[]);
    b.mount("/mnt", "tmpfs", "tmpfs", &["size=1m"]);
    // Lands on the first tmpfs only if mounts are made in order (/mnt/a does not exist in the
    // fresh tmpfs: the runtime creates it there, inside the container).
    b.mount("/mnt/a", "tmpfs", "tmpfs", &["size=2m"]);
    let m = mounts_of(&rt, &mut b);
    let i1 = m.iter().position(|l| l.mount_point == "/mnt").unwrap();
    let i2 = m.iter().position(|l| l.mount_point == "/mnt/a").unwrap();
    assert!(i1 < i2, "{m:#?}");
    assert!(at(&m, "/mnt/a")
        .super_options
        .contains(&"size=2048k".into()));
}

#[test]
fn bind_mounts_ro_and_rw() {
    let rt = Runtime::new();
    let ro = tempfile::tempdir().unwrap();
    let rw = tempfile::tempdir().unwrap();
    fs::write(ro.path().join("in"), "from host\n").unwrap();
    let mut b = Bundle::busybox(&[
        "sh",
        "-c",
        "cat /mnt/a/in; echo x > /mnt/a/new 2>/dev/null; echo ro_rc=$?; echo out > /mnt/b/made",
    ]);
    b.mount(
        "/mnt/a",
        "bind",
        ro.path().to_str().unwrap(),
        &["bind", "ro"],
    );
    b.mount(
        "/mnt/b",
        "bind",
        rw.path().to_str().unwrap(),
        &["rbind", "rw"],
    );
    assert_eq!(rt.run_ok(&b), "from host\nro_rc=1\n");
    assert_eq!(fs::read_to_string(rw.path().join("made")).unwrap(), "out\n");
    assert!(!ro.path().join("new").exists());
    let m = mounts_of(&rt, &mut b);
    assert!(at(&m, "/mnt/a").mount_options.contains(&"ro".into()));
    assert!(at(&m, "/mnt/b").mount_options.contains(&"rw".into()));
    // Nothing stays mounted on the host side.
    assert!(host::mounts_mentioning(ro.path()).is_empty());
    assert!(host::mounts_mentioning(rw.path()).is_empty());
}

#[test]
fn a_bind_source_that_does_not_exist_fails_naming_it() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["true"]);
    b.mount("/mnt/a", "bind", "/husk-no-such-source", &["bind"]);
    rt.run(&b)
        .failed()
        .stderr_mentions(&["/husk-no-such-source"]);
    assert!(!rt.root().join(&b.id).exists());
}

#[test]
fn rootfs_propagation_private_and_shared() {
    let rt = Runtime::new();
    let mut cases = vec![("private", false), ("slave", false)];
    if !reference_lacks("rootfsPropagation shared on / (runc 1.1.5 leaves / private)") {
        cases.push(("shared", true));
    }
    for (prop, shared) in cases {
        let mut b = Bundle::busybox(&["cat", "/proc/self/mountinfo"]);
        b.set("/linux/rootfsPropagation", json!(prop));
        let o = rt.run(&b);
        assert!(o.status.success(), "rootfsPropagation {prop}: {o:#?}");
        let m = parse_mountinfo(&o.stdout);
        let root = at(&m, "/");
        let is_shared = root.optional.iter().any(|t| t.starts_with("shared:"));
        assert_eq!(is_shared, shared, "rootfsPropagation {prop}: {root:?}");
    }
    if reference_lacks("rootfsPropagation unbindable (runc 1.1.5 fails to bind the rootfs)") {
        return;
    }
    let mut b = Bundle::busybox(&["cat", "/proc/self/mountinfo"]);
    b.set("/linux/rootfsPropagation", json!("unbindable"));
    let m = parse_mountinfo(&rt.run_ok(&b));
    let root = at(&m, "/");
    assert!(
        root.optional.iter().any(|t| t == "unbindable"),
        "rootfsPropagation unbindable: {root:?}"
    );
}

#[test]
fn masked_paths_are_masked() {
    let rt = Runtime::new();
    // The default masked paths this kernel has (e.g. /proc/kcore needs CONFIG_PROC_KCORE).
    let files: Vec<&str> = [
        "/proc/kcore",
        "/proc/keys",
        "/proc/timer_list",
        "/proc/sched_debug",
    ]
    .into_iter()
    .filter(|p| std::path::Path::new(p).is_file())
    .collect();
    assert!(
        !files.is_empty(),
        "none of the masked files exists on this host"
    );
    let mut script = String::new();
    for f in &files {
        script.push_str(&format!("echo {f}=$(cat {f} | wc -c); "));
    }
    script.push_str("echo /sys/firmware=$(ls -A /sys/firmware | wc -l)");
    let b = Bundle::busybox(&["sh", "-c", &script]);
    let out = rt.run_ok(&b);
    let want: String = files
        .iter()
        .chain(&["/sys/firmware"])
        .map(|f| format!("{f}=0\n"))
        .collect();
    assert_eq!(out, want, "masked files read empty, masked dirs list empty");
}

#[test]
fn readonly_paths_are_read_only() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&[
        "sh",
        "-c",
        "{ echo x > /proc/sys/kernel/hostname; } 2>&1; echo rc=$?",
    ]);
    let out = rt.run_ok(&b);
    assert!(
        out.contains("Read-only file system") && out.ends_with("rc=1\n"),
        "{out}"
    );
    let m = mounts_of(&rt, &mut b);
    for p in [
        "/proc/sys",
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/proc/sysrq-trigger",
    ] {
        // Only those this kernel has (a runtime skips a missing readonly path).
        if !std::path::Path::new(p).exists() {
            continue;
        }
        assert!(at(&m, p).mount_options.contains(&"ro".into()), "{p} not ro");
    }
}

#[test]
fn default_devices_exist_and_work() {
    let rt = Runtime::new();
    let b = Bundle::busybox(&[
        "sh",
        "-c",
        "for d in null zero full random urandom tty; do stat -c \"$d %F %t:%T\" /dev/$d; done; \
         for l in fd stdin stdout stderr ptmx; do echo $l=$(readlink /dev/$l); done; \
         echo x > /dev/null && echo null-ok; head -c 5 /dev/zero | wc -c; \
         echo x > /dev/full 2>/dev/null || echo full-enospc; \
         test -d /dev/pts && test -d /dev/shm && echo dirs-ok",
    ]);
    let out = rt.run_ok(&b);
    let lines: Vec<&str> = out.lines().collect();
    // (name, major:minor in hex) from the kernel's devices.txt.
    let want = [
        "null character special file 1:3",
        "zero character special file 1:5",
        "full character special file 1:7",
        "random character special file 1:8",
        "urandom character special file 1:9",
        "tty character special file 5:0",
    ];
    assert_eq!(lines[..6], want, "{out}");
    assert_eq!(lines[6], "fd=/proc/self/fd");
    assert_eq!(lines[7], "stdin=/proc/self/fd/0");
    assert_eq!(lines[8], "stdout=/proc/self/fd/1");
    assert_eq!(lines[9], "stderr=/proc/self/fd/2");
    assert_eq!(lines[10], "ptmx=pts/ptmx");
    assert_eq!(
        lines[11..],
        ["null-ok", "5", "full-enospc", "dirs-ok"],
        "{out}"
    );
}

#[test]
fn linux_devices_are_created_with_mode_and_owner() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["stat", "-c", "%F %t:%T %a %u:%g", "/dev/husk-null"]);
    b.push(
        "/linux/devices",
        json!({"path": "/dev/husk-null", "type": "c", "major": 1, "minor": 3,
               "fileMode": 0o640, "uid": 1000, "gid": 2000}),
    );
    assert_eq!(rt.run_ok(&b), "character special file 1:3 640 1000:2000\n");
}

/// husk's extension annotation `org.husk.rootfs.overlay`: config.json whose root.path is an
/// empty directory and whose annotation names `lower` and an upper and work directory in
/// `layers`; the annotation's value.
fn overlay_annotation(b: &mut Bundle, lower: &std::path::Path, layers: &std::path::Path) -> String {
    let (upper, work) = (layers.join("upper"), layers.join("work"));
    fs::create_dir_all(&upper).unwrap();
    fs::create_dir_all(&work).unwrap();
    let value = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        upper.display(),
        work.display()
    );
    b.set("/root/readonly", json!(false));
    b.set("/annotations/org.husk.rootfs.overlay", json!(value));
    value
}

#[test]
fn the_overlay_annotation_mounts_the_rootfs_inside_the_containers_user_namespace() {
    if reference_lacks("org.husk.rootfs.overlay is husk's own annotation") {
        return;
    }
    let rt = Runtime::new();
    let layers = tempfile::tempdir().unwrap();
    let lower = layers.path().join("lower");
    fs::create_dir(&lower).unwrap();
    rootfs::busybox_copy(&lower);
    // The container's root is host uid 100000: the layers are its.
    let mut b = Bundle::with_own_rootfs(
        |_| {},
        &[
            "sh",
            "-c",
            "echo new > /new; rm /etc/group; ls /etc; grep ' / / ' /proc/self/mountinfo",
        ],
    );
    b.namespace("user", None);
    let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.set("/linux/uidMappings", map.clone());
    b.set("/linux/gidMappings", map);
    overlay_annotation(&mut b, &lower, layers.path());
    husk_tests::rootless::chown_tree(layers.path(), 100000, 100000);
    husk_tests::rootless::chown_tree(b.rootfs(), 100000, 100000);
    let out = rt.run_ok(&b);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("passwd"), "{out}");
    let root = lines.next().unwrap();
    assert!(
        root.contains(" - overlay ") && root.contains(&format!("lowerdir={}", lower.display())),
        "{out}"
    );
    // In a user namespace the overlay keeps its metadata in user.* xattrs.
    assert!(root.contains("userxattr"), "{out}");
    // The writes went to the upper layer; the lower layer and the host's view of root.path
    // are untouched.
    let upper = layers.path().join("upper");
    assert_eq!(fs::read_to_string(upper.join("new")).unwrap(), "new\n");
    assert!(lower.join("etc/group").exists() && !lower.join("new").exists());
    assert_eq!(fs::read_dir(b.rootfs()).unwrap().count(), 0);
    assert!(!host::mounts_mentioning(layers.path())
        .iter()
        .any(|m| m.contains("overlay")));
}

#[test]
fn the_overlay_annotation_is_refused_without_a_user_namespace() {
    if reference_lacks("org.husk.rootfs.overlay is husk's own annotation") {
        return;
    }
    // With real root's privilege the layers could be any host directory: lowerdir=/ would
    // make the host's root the container's.
    let rt = Runtime::new();
    let layers = tempfile::tempdir().unwrap();
    let mut b = Bundle::with_own_rootfs(|_| {}, &["cat", "/etc/hostname"]);
    overlay_annotation(&mut b, std::path::Path::new("/"), layers.path());
    let o = rt.run(&b);
    assert_eq!(o.code(), Some(1), "{o:#?}");
    o.stderr_mentions(&["org.husk.rootfs.overlay", "user namespace"]);
    assert_eq!(o.stdout, "");
    rt.assert_left_nothing(&b);
    assert!(!host::mounts_mentioning(layers.path())
        .iter()
        .any(|m| m.contains("overlay")));
}

#[test]
fn the_overlay_annotation_works_rootless_with_userxattr() {
    if reference_lacks("org.husk.rootfs.overlay is husk's own annotation") {
        return;
    }
    let user = husk_tests::rootless::user();
    let rt = Runtime::rootless();
    let layers = user.tempdir("husk-overlay-");
    let lower = layers.path().join("lower");
    fs::create_dir(&lower).unwrap();
    rootfs::busybox_copy(&lower);
    user.chown_tree(layers.path());
    let mut b = Bundle::rootless_busybox(&[
        "sh",
        "-c",
        "id -u; echo new > /new; mkdir /d && chown 1:1 /d && grep ' / / ' /proc/self/mountinfo",
    ]);
    b.subid_mappings();
    b.caps(&["CAP_CHOWN"]);
    let rootfs = b.path().join("rootfs");
    fs::create_dir(&rootfs).unwrap();
    user.chown_tree(&rootfs);
    b.set("/root/path", json!(rootfs));
    overlay_annotation(&mut b, &lower, layers.path());
    user.chown_tree(layers.path());
    let out = rt.run_ok(&b);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("0"), "{out}");
    assert!(lines.next().unwrap().contains("userxattr"), "{out}");
    let upper = layers.path().join("upper");
    use std::os::unix::fs::MetadataExt;
    let new = fs::metadata(upper.join("new")).unwrap();
    assert_eq!((new.uid(), new.gid()), (user.uid, user.gid));
    let d = fs::metadata(upper.join("d")).unwrap();
    assert_eq!((d.uid(), d.gid()), (user.subuid.start, user.subgid.start));
}

#[test]
fn a_malformed_overlay_annotation_is_refused_at_create() {
    if reference_lacks("org.husk.rootfs.overlay is husk's own annotation") {
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::with_own_rootfs(|_| {}, &["true"]);
    b.set(
        "/annotations/org.husk.rootfs.overlay",
        json!("lowerdir=relative,upperdir=/u,workdir=/w"),
    );
    let o = rt.run(&b);
    assert_eq!(o.code(), Some(1), "{o:#?}");
    o.stderr_mentions(&["org.husk.rootfs.overlay", "lowerdir", "absolute"]);
    rt.assert_left_nothing(&b);
}
