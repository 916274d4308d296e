//! `husk run` as an unprivileged user (issue 7): the test user of [`husk_tests::rootless`]
//! (`husk-rootless`, with /etc/subuid and /etc/subgid ranges) runs the front end on a busybox
//! tarball, a rootfs directory it owns and the `host` source, and the tests assert what the
//! container sees (uid 0, the maps) and what the host sees: the cache's owners (root's files
//! the user's, uid N the user's subordinate uid N-1), the owner of what the container writes to
//! a volume, where the data and state go by default, and that nothing is left behind.
//!
//! [`Husk::rootless`] passes `--data-root` and `--root` directories the user owns (and
//! `--cgroup-parent husk-test-<pid>`, which the user cannot write: its containers run without
//! a cgroup, and limits are refused).

#![allow(clippy::unwrap_used)] // tests may unwrap (project rules)

use std::fs;
use std::os::unix::fs::{chown, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use husk_tests::front::Husk;
use husk_tests::rootless::{self, TestUser};
use husk_tests::runtime::exec;
use husk_tests::{reference_lacks, rootfs};

/// The front end is husk's own; the runc reference has none.
fn skip_under_runc() -> bool {
    reference_lacks("husk run (the front end; runc has none)")
}

/// Whether the container's mapping cannot hold the user's subordinate ranges here: husk maps
/// them only when newuidmap and newgidmap are on the user's $PATH (Debian `uidmap`).
fn lacks_helpers() -> bool {
    let missing = ["newuidmap", "newgidmap"].iter().any(|h| {
        !["/usr/local/bin", "/usr/bin", "/bin"]
            .iter()
            .any(|d| Path::new(d).join(h).exists())
    });
    husk_tests::host_lacks(
        missing,
        "newuidmap/newgidmap are not installed (Debian uidmap): husk maps only the user's own id",
    )
}

fn user() -> &'static TestUser {
    rootless::user()
}

/// The cache key suffix of the test user's mapping: container 0 is the user, 1..=count its
/// first subordinate range (see husk's `rootless::IdMapping::cache_key`).
fn mapping_key(u: &TestUser) -> String {
    format!(
        "u0.{}.1_1.{}.{}-g0.{}.1_1.{}.{}",
        u.uid, u.subuid.start, u.subuid.count, u.gid, u.subgid.start, u.subgid.count
    )
}

/// A busybox tree in a temp dir the test user can read, with entries owned by ids above 0
/// (`etc/owned-by-1` 1:1 mode 0600, busybox's /home/husk 1000:1000), a fifo `dev/fifo` and a
/// device node `dev/null-node`, then `extra`'s changes, tarred with GNU tar; returns (temp
/// dir, tarball).
fn owned_tarball(extra: impl FnOnce(&Path)) -> (tempfile::TempDir, PathBuf) {
    owned_tarball_with(extra, &[])
}

/// [`owned_tarball`] with more GNU tar options (`tar_options`, such as `--xattrs`).
fn owned_tarball_with(
    extra: impl FnOnce(&Path),
    tar_options: &[&str],
) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("husk-rl-src-")
        .tempdir()
        .unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let root = dir.path().join("root");
    fs::create_dir(&root).unwrap();
    rootfs::busybox_copy(&root);
    let one = root.join("etc/owned-by-1");
    fs::write(&one, "one\n").unwrap();
    fs::set_permissions(&one, fs::Permissions::from_mode(0o600)).unwrap();
    chown(&one, Some(1), Some(1)).unwrap();
    fs::create_dir_all(root.join("dev")).unwrap();
    nix::unistd::mkfifo(
        &root.join("dev/fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    nix::sys::stat::mknod(
        &root.join("dev/null-node"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, 3),
    )
    .unwrap();
    extra(&root);
    let ball = dir.path().join("rootfs.tar");
    let mut tar = Command::new("tar");
    tar.arg("--numeric-owner")
        .args(tar_options)
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&ball)
        .arg(".");
    let o = exec(tar, true);
    assert!(o.status.success(), "tar failed: {o:#?}");
    fs::set_permissions(&ball, fs::Permissions::from_mode(0o644)).unwrap();
    (dir, ball)
}

/// The sha256 of a file, as `sha256sum` prints it.
fn sha256(path: &Path) -> String {
    let o = exec(
        {
            let mut c = Command::new("sha256sum");
            c.arg(path);
            c
        },
        true,
    )
    .ok();
    o.stdout.split_whitespace().next().unwrap().to_string()
}

/// (uid, gid) of `path` on the host, not following a symlink.
fn owner(path: &Path) -> (u32, u32) {
    let m = fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (m.uid(), m.gid())
}

#[test]
fn a_tarball_is_unpacked_with_its_owners_in_the_users_mapped_range() {
    if skip_under_runc() || lacks_helpers() {
        return;
    }
    let u = user();
    let h = Husk::rootless();
    let (_src, ball) = owned_tarball(|_| {});
    let source = ball.to_str().unwrap();
    let out = h.run_ok(
        &[],
        source,
        &[
            "sh",
            "-c",
            "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; \
             stat -c '%u:%g %n' /bin/busybox /etc/owned-by-1 /home/husk; cat /etc/owned-by-1",
        ],
    );
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["0"], "{out}");
    assert_eq!(rows[1], ["0"], "{out}");
    let uid_map = [
        ["0".to_string(), u.uid.to_string(), "1".into()],
        [
            "1".into(),
            u.subuid.start.to_string(),
            u.subuid.count.to_string(),
        ],
    ];
    let gid_map = [
        ["0".to_string(), u.gid.to_string(), "1".into()],
        [
            "1".into(),
            u.subgid.start.to_string(),
            u.subgid.count.to_string(),
        ],
    ];
    assert_eq!(rows[2], uid_map[0], "{out}");
    assert_eq!(rows[3], uid_map[1], "{out}");
    assert_eq!(rows[4], gid_map[0], "{out}");
    assert_eq!(rows[5], gid_map[1], "{out}");
    // Inside, the tarball's own owners.
    assert_eq!(rows[6], ["0:0", "/bin/busybox"], "{out}");
    assert_eq!(rows[7], ["1:1", "/etc/owned-by-1"], "{out}");
    assert_eq!(rows[8], ["1000:1000", "/home/husk"], "{out}");
    assert_eq!(rows[9], ["one"], "{out}");

    // On the host, the cache entry is keyed by the digest and the mapping; root's files are
    // the user's, uid N is the (N-1)th subordinate id.
    let cache = h.data_root().join("rootfs");
    let key = format!("{}-{}", sha256(&ball), mapping_key(u));
    let tree = cache.join(&key);
    assert!(tree.is_dir(), "no cache entry {key}: {:?}", names(&cache));
    assert_eq!(owner(&tree.join("bin/busybox")), (u.uid, u.gid));
    assert_eq!(owner(&tree.join("bin/sh")), (u.uid, u.gid), "a symlink");
    assert_eq!(owner(&tree.join("etc/passwd")), (u.uid, u.gid));
    assert_eq!(
        owner(&tree.join("etc/owned-by-1")),
        (u.subuid.start, u.subgid.start)
    );
    assert_eq!(
        owner(&tree.join("home/husk")),
        (u.subuid.start + 999, u.subgid.start + 999)
    );
    assert_eq!(
        fs::metadata(tree.join("etc/owned-by-1")).unwrap().mode() & 0o7777,
        0o600
    );
    // A fifo is made; a device node cannot be without privilege and is skipped.
    assert!(fs::symlink_metadata(tree.join("dev/fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    assert!(!tree.join("dev/null-node").exists());

    // A second run reuses the entry (same inode, no second entry), and still sees the owners.
    let ino = fs::metadata(&tree).unwrap().ino();
    let out = h.run_ok(&[], source, &["stat", "-c", "%u", "/etc/owned-by-1"]);
    assert_eq!(out, "1\n");
    assert_eq!(fs::metadata(&tree).unwrap().ino(), ino);
    let entries: Vec<String> = names(&cache)
        .into_iter()
        .filter(|n| !n.ends_with(".lock"))
        .collect();
    assert_eq!(entries, [key], "one cache entry");
}

#[test]
fn xattrs_a_user_namespace_may_not_set_are_skipped_with_a_warning() {
    if skip_under_runc() || lacks_helpers() {
        return;
    }
    // The tarball's tree and the data root are temp dirs: user.* xattrs need a filesystem that
    // holds them (tmpfs only since Linux 6.6).
    let probe = tempfile::NamedTempFile::new().unwrap();
    if husk_tests::host_lacks(
        xattr::set(probe.path(), "user.husk-probe", b"1").is_err(),
        "user.* extended attributes on the temp dir's filesystem",
    ) {
        return;
    }
    let h = Husk::rootless();
    // As root on the host: a user.* and a trusted.* attribute on one file, the trusted one on a
    // second file too (warned about once), a user.* one on a directory.
    let (_src, ball) = owned_tarball_with(
        |root| {
            for (file, name, value) in [
                ("etc/passwd", "user.husk", "kept"),
                ("etc/passwd", "trusted.husk", "dropped"),
                ("etc/group", "trusted.husk", "dropped"),
                ("etc", "user.husk-dir", "kept too"),
            ] {
                xattr::set(root.join(file), name, value.as_bytes()).unwrap();
            }
            // A file capability (CAP_NET_RAW permitted and effective, VFS_CAP_REVISION_2).
            fs::write(root.join("bin/husk-fcap"), "#!/bin/sh\n").unwrap();
            xattr::set(
                root.join("bin/husk-fcap"),
                "security.capability",
                &FCAP_NET_RAW,
            )
            .unwrap();
        },
        &["--xattrs", "--xattrs-include=*"],
    );
    let name = Husk::name();
    let o = h.run(&name, &[], ball.to_str().unwrap(), &["echo", "ran"]);
    h.assert_clean(&name);
    assert_eq!((o.code(), o.stdout.as_str()), (Some(0), "ran\n"), "{o:#?}");
    let warnings: Vec<&str> = o
        .stderr
        .lines()
        .filter(|l| l.contains("trusted.husk"))
        .collect();
    assert_eq!(warnings.len(), 1, "one warning for trusted.husk: {o:#?}");
    assert!(
        warnings[0].contains("not set") && warnings[0].contains("user namespace"),
        "{o:#?}"
    );
    let cache = h.data_root().join("rootfs");
    let tree = cache.join(format!("{}-{}", sha256(&ball), mapping_key(user())));
    let get = |file: &str, name: &str| {
        xattr::get(tree.join(file), name)
            .unwrap()
            .map(|v| String::from_utf8_lossy(&v).into_owned())
    };
    assert_eq!(get("etc/passwd", "user.husk").as_deref(), Some("kept"));
    assert_eq!(get("etc", "user.husk-dir").as_deref(), Some("kept too"));
    assert_eq!(get("etc/passwd", "trusted.husk"), None);
    assert_eq!(get("etc/group", "trusted.husk"), None);
    // Root of the user namespace may set a file capability: the kernel stores it as a
    // namespaced (revision 3) one whose root is the user (linux/capability.h).
    let fcap = xattr::get(tree.join("bin/husk-fcap"), "security.capability")
        .unwrap()
        .expect("the file capability is kept");
    assert_eq!(fcap.len(), 24, "VFS_CAP_REVISION_3: {fcap:?}");
    assert_eq!(fcap[..4], [1, 0, 0, 3], "revision 3, effective: {fcap:?}");
    assert_eq!(fcap[4..8], FCAP_NET_RAW[4..8], "permitted: {fcap:?}");
    assert_eq!(fcap[20..24], user().uid.to_le_bytes(), "rootid: {fcap:?}");
}

/// A `security.capability` value: VFS_CAP_REVISION_2 with VFS_CAP_FLAGS_EFFECTIVE, CAP_NET_RAW
/// (bit 13) permitted, nothing inheritable (linux/capability.h, little-endian).
const FCAP_NET_RAW: [u8; 20] = [
    1, 0, 0, 2, // magic_etc
    0, 0x20, 0, 0, // permitted, low word
    0, 0, 0, 0, // inheritable, low word
    0, 0, 0, 0, // permitted, high word
    0, 0, 0, 0, // inheritable, high word
];

/// Sorted names in `dir`.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn an_entry_owned_outside_the_mapping_refuses_the_tarball_by_name() {
    if skip_under_runc() || lacks_helpers() {
        return;
    }
    let u = user();
    let h = Husk::rootless();
    let far = u.subuid.count + 10;
    let (_src, ball) = owned_tarball(|root| {
        let f = root.join("etc/far-away");
        fs::write(&f, "x").unwrap();
        chown(&f, Some(far), Some(0)).unwrap();
    });
    h.assert_refused(
        &[],
        ball.to_str().unwrap(),
        &["etc/far-away", &format!("uid {far}"), "/etc/subuid"],
    );
    // Nothing of it stays in the cache (the lock file may).
    let left: Vec<String> = names(&h.data_root().join("rootfs"))
        .into_iter()
        .filter(|n| !n.ends_with(".lock"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn what_the_container_writes_to_a_volume_belongs_to_the_user_or_its_subordinate_ids() {
    if skip_under_runc() || lacks_helpers() {
        return;
    }
    let u = user();
    let h = Husk::rootless();
    let (_src, ball) = owned_tarball(|_| {});
    let vol = u.tempdir("husk-rl-vol-");
    let v = format!("{}:/vol", vol.path().display());
    let out = h.run_ok(
        &["-v", &v],
        ball.to_str().unwrap(),
        &[
            "sh",
            "-c",
            "echo root > /vol/by-root; echo one > /vol/by-1; chown 1:1 /vol/by-1; \
             stat -c %u /vol/by-root",
        ],
    );
    assert_eq!(out, "0\n");
    assert_eq!(owner(&vol.path().join("by-root")), (u.uid, u.gid));
    assert_eq!(
        owner(&vol.path().join("by-1")),
        (u.subuid.start, u.subgid.start)
    );
    // As container uid 1 (-u), files are the first subordinate id's from the start.
    let out = h.run_ok(
        &["-u", "1:1", "-v", &v],
        ball.to_str().unwrap(),
        &[
            "sh",
            "-c",
            "id -u; mkdir /vol/d1 2>/dev/null && echo made || echo refused",
        ],
    );
    // The volume's root is the user's (container 0), mode 0755: uid 1 may not write to it.
    assert_eq!(out, "1\nrefused\n", "uid 1 wrote into a directory of uid 0");
    fs::set_permissions(vol.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let out = h.run_ok(
        &["-u", "1:1", "-v", &v],
        ball.to_str().unwrap(),
        &["sh", "-c", "mkdir /vol/d1 && echo made"],
    );
    assert_eq!(out, "made\n");
    assert_eq!(
        owner(&vol.path().join("d1")),
        (u.subuid.start, u.subgid.start)
    );
}

#[test]
fn a_directory_the_user_owns_is_root_inside_and_never_written() {
    if skip_under_runc() {
        return;
    }
    let u = user();
    let h = Husk::rootless();
    let src = u.tempdir("husk-rl-dir-");
    rootfs::busybox_copy(src.path());
    u.chown_tree(src.path());
    let out = h.run_ok(
        &[],
        src.path().to_str().unwrap(),
        &[
            "sh",
            "-c",
            "id -u; stat -c %u:%g /bin/busybox /etc/passwd; echo x > /created; rm /etc/group; \
             cat /created",
        ],
    );
    assert_eq!(out, "0\n0:0\n0:0\nx\n");
    assert!(!src.path().join("created").exists());
    assert!(src.path().join("etc/group").exists());
}

#[test]
fn files_of_subordinate_ids_in_the_upper_layer_are_removed_with_the_container() {
    if skip_under_runc() || lacks_helpers() {
        return;
    }
    let h = Husk::rootless();
    let (_src, ball) = owned_tarball(|_| {});
    // A directory only uid 1 may enter, with a file: the user cannot remove it directly.
    let name = Husk::name();
    let o = h
        .run(
            &name,
            &[],
            ball.to_str().unwrap(),
            &[
                "sh",
                "-c",
                "mkdir -p /private/deep && touch /private/deep/f && chown -R 1:1 /private && \
                 chmod 700 /private /private/deep && echo ok",
            ],
        )
        .ok();
    assert_eq!(o.stdout, "ok\n");
    h.assert_clean(&name);
    // --rm=false keeps the upper layer, owned as the container left it.
    let kept = Husk::name();
    let o = h.run(
        &kept,
        &["--rm=false"],
        ball.to_str().unwrap(),
        &["sh", "-c", "mkdir /private && chown 1:1 /private"],
    );
    assert_eq!(o.code(), Some(0), "{o:#?}");
    let dir = h.data_root().join("containers").join(&kept);
    let u = user();
    assert_eq!(
        owner(&dir.join("upper/private")),
        (u.subuid.start, u.subgid.start)
    );
    assert!(!dir.join("bundle").exists() && !dir.join("work").exists());
}

#[test]
fn the_host_source_runs_rootless() {
    if skip_under_runc() {
        return;
    }
    let h = Husk::rootless();
    let out = h.run_ok(
        &[],
        "host",
        &[
            "sh",
            "-c",
            "id -u; stat -c '%d %i' /usr/bin; touch /usr/husk-rl-write 2>/dev/null; echo rc=$?",
        ],
    );
    let md = fs::metadata("/usr/bin").unwrap();
    assert_eq!(
        out,
        format!("0\n{} {}\nrc=1\n", md.dev(), md.ino()),
        "uid 0, the host's /usr/bin, read-only"
    );
    assert!(!Path::new("/usr/husk-rl-write").exists());
}

#[test]
fn a_device_at_another_path_is_the_hosts_node_bound_there() {
    if skip_under_runc() {
        return;
    }
    let h = Husk::rootless();
    // mknod is not allowed in a user namespace: the host's /dev/zero is bound at /dev/myzero,
    // /dev/null at /dev/mynull.
    let out = h.run_ok(
        &[
            "--device",
            "/dev/zero:/dev/myzero",
            "--device",
            "/dev/null:/dev/mynull",
        ],
        "host",
        &[
            "sh",
            "-c",
            "stat -c '%t:%T' /dev/myzero /dev/mynull; head -c 3 /dev/myzero | od -An -tx1; \
             echo x > /dev/mynull; echo rc=$?",
        ],
    );
    assert_eq!(out, "1:5\n1:3\n 00 00 00\nrc=0\n");
}

#[test]
fn network_host_binds_the_hosts_sys() {
    if skip_under_runc() || lacks_helpers() {
        return;
    }
    let h = Husk::rootless();
    let (_src, ball) = owned_tarball(|_| {});
    let out = h.run_ok(
        &["--network", "host"],
        ball.to_str().unwrap(),
        &["sh", "-c", "id -u; ls /sys/class/net"],
    );
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("0"));
    let mut inside: Vec<&str> = lines.collect();
    inside.sort();
    let host = names(Path::new("/sys/class/net"));
    assert_eq!(inside, host, "the host's interfaces");
}

#[test]
fn limits_without_a_writable_cgroup_are_refused_and_leave_nothing() {
    if skip_under_runc() || lacks_helpers() {
        return;
    }
    let h = Husk::rootless();
    let (_src, ball) = owned_tarball(|_| {});
    h.assert_refused(
        &["-m", "64m"],
        ball.to_str().unwrap(),
        &["linux.resources", "cgroup", "--cgroup-parent", "-m"],
    );
    h.assert_refused(
        &["--pids-limit", "10"],
        ball.to_str().unwrap(),
        &["cgroup", "--pids-limit"],
    );
    // Without limits the same container runs.
    assert_eq!(
        h.run_ok(&[], ball.to_str().unwrap(), &["echo", "ok"]),
        "ok\n"
    );
}

#[test]
fn an_id_outside_the_mapping_is_refused_for_u() {
    if skip_under_runc() || lacks_helpers() {
        return;
    }
    let u = user();
    let h = Husk::rootless();
    let (_src, ball) = owned_tarball(|_| {});
    let far = (u.subuid.count + 1).to_string();
    h.assert_refused(
        &["-u", &far],
        ball.to_str().unwrap(),
        &[&format!("-u {far}"), "not mapped", "/etc/subuid"],
    );
}

/// `husk run` as the test user without --data-root and --root, with `env` set (and HOME and
/// XDG_RUNTIME_DIR as `TestUser::command` sets them unless `env` overrides them).
fn run_with_defaults(
    env: &[(&str, Option<&Path>)],
    source: &str,
    cmd: &[&str],
) -> husk_tests::Outcome {
    let mut c = user().command(rootless::front_binary());
    c.args(["run", "--name", &Husk::name(), source]).args(cmd);
    for (k, v) in env {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    exec(c, true)
}

#[test]
fn the_defaults_are_the_users_data_and_runtime_directories() {
    if skip_under_runc() || lacks_helpers() {
        return;
    }
    let u = user();
    let (_src, ball) = owned_tarball(|_| {});
    let source = ball.to_str().unwrap();
    let home = u.tempdir("husk-rl-home-");
    let data = u.tempdir("husk-rl-xdg-data-");
    let run = u.tempdir("husk-rl-xdg-run-");
    fs::set_permissions(run.path(), fs::Permissions::from_mode(0o700)).unwrap();

    // $XDG_DATA_HOME/husk and $XDG_RUNTIME_DIR/husk.
    let o = run_with_defaults(
        &[
            ("HOME", Some(home.path())),
            ("XDG_DATA_HOME", Some(data.path())),
            ("XDG_RUNTIME_DIR", Some(run.path())),
        ],
        source,
        &["id", "-u"],
    )
    .ok();
    assert_eq!(o.stdout, "0\n");
    let key = format!("{}-{}", sha256(&ball), mapping_key(u));
    assert!(data.path().join("husk/rootfs").join(&key).is_dir());
    assert_eq!(
        names(&data.path().join("husk/containers")),
        Vec::<String>::new()
    );
    // The runtime's state root was used, and --rm left no container state in it.
    assert_eq!(names(&run.path().join("husk")), Vec::<String>::new());
    assert!(names(home.path()).is_empty(), "nothing under HOME");

    // Without XDG_DATA_HOME: ~/.local/share/husk.
    run_with_defaults(
        &[
            ("HOME", Some(home.path())),
            ("XDG_DATA_HOME", None),
            ("XDG_RUNTIME_DIR", Some(run.path())),
        ],
        source,
        &["true"],
    )
    .ok();
    assert!(home
        .path()
        .join(".local/share/husk/rootfs")
        .join(&key)
        .is_dir());

    // Without XDG_RUNTIME_DIR and --root: refused, naming both.
    let o = run_with_defaults(
        &[("HOME", Some(home.path())), ("XDG_RUNTIME_DIR", None)],
        source,
        &["true"],
    );
    assert_eq!(o.code(), Some(125), "{o:#?}");
    o.stderr_mentions(&["rootless", "XDG_RUNTIME_DIR", "--root"]);
}

#[test]
fn without_the_helpers_only_the_users_own_id_is_mapped() {
    if skip_under_runc() {
        return;
    }
    let u = user();
    let h = Husk::rootless();
    // Without newuidmap/newgidmap on $PATH the container has id 0 only: a tarball owned by
    // root runs (devpts then has no gid=5), one with other owners is refused by entry.
    let (_src, root_only) = owned_tarball(|root| {
        chown(root.join("etc/owned-by-1"), Some(0), Some(0)).unwrap();
        chown(root.join("home/husk"), Some(0), Some(0)).unwrap();
    });
    let name = Husk::name();
    let mut c = h.command(
        &name,
        &[],
        root_only.to_str().unwrap(),
        &[
            "sh",
            "-c",
            "cat /proc/self/uid_map /proc/self/gid_map; id -u",
        ],
    );
    c.env("PATH", "/nonexistent");
    let o = exec(c, true).ok();
    h.assert_clean(&name);
    let rows: Vec<Vec<&str>> = o
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let (uid, gid) = (u.uid.to_string(), u.gid.to_string());
    assert_eq!(
        rows,
        [
            vec!["0", uid.as_str(), "1"],
            vec!["0", gid.as_str(), "1"],
            vec!["0"]
        ],
        "{o:#?}"
    );
    let key = format!("{}-u0.{}.1-g0.{}.1", sha256(&root_only), u.uid, u.gid);
    assert!(h.data_root().join("rootfs").join(&key).is_dir());

    let (_src, owned) = owned_tarball(|_| {});
    let name = Husk::name();
    let mut c = h.command(&name, &[], owned.to_str().unwrap(), &["true"]);
    c.env("PATH", "/nonexistent");
    let o = exec(c, true);
    assert_eq!(o.code(), Some(125), "{o:#?}");
    o.stderr_mentions(&["outside the ids", "/etc/subuid", "newuidmap"]);
    h.assert_clean(&name);
}

#[test]
fn a_killed_rootless_monitor_is_cleaned_up_by_the_next_run_of_that_name() {
    if skip_under_runc() || lacks_helpers() {
        return;
    }
    let h = Husk::rootless();
    let (_src, ball) = owned_tarball(|_| {});
    let source = ball.to_str().unwrap().to_owned();
    let name = Husk::name();
    // Registered, so that a parallel test's reap_orphans cannot take its exit status.
    let mut monitor = husk_tests::runtime::spawn(
        h.command(
            &name,
            &[],
            &source,
            &[
                "sh",
                "-c",
                "mkdir /p && chown 1:1 /p && chmod 700 /p && sleep 60",
            ],
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null()),
    );
    let record = h
        .data_root()
        .join("containers")
        .join(&name)
        .join("record.json");
    let upper_p = h.data_root().join("containers").join(&name).join("upper/p");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !(fs::read_to_string(&record).is_ok_and(|r| r.contains("\"running\""))
        && upper_p.exists())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the container never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    monitor.kill().unwrap();
    monitor.wait().unwrap();
    husk_tests::runtime::waited(&monitor);
    // The same name again: the stale container (its init still running, its upper layer
    // holding a directory of a subordinate id) is reclaimed, then this one runs.
    let o = h.run(&name, &[], &source, &["echo", "again"]);
    assert_eq!(o.code(), Some(0), "{o:#?}");
    assert_eq!(o.stdout.trim(), "again");
    h.assert_clean(&name);
}
