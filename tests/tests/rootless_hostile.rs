//! Attempts to gain host privileges from inside a rootless container (issue 7): the runtime run
//! by the unprivileged test user of [`husk_tests::rootless`] ([`Runtime::rootless`]), the
//! container's process root of its user namespace with every capability there, trying what a
//! hostile image would. Each attempt asserts the exact answer (the errno's message, the exit
//! status) and what the host sees afterwards (files, owners, mounts).
//!
//! The rootless suite (tests/tests/rootless.rs) covers three more: a setuid binary owned by
//! the container's root gives euid 0 inside and the user's uid on the host
//! (`a_setuid_binary_gives_root_of_the_container_never_of_the_host`), root's host files are
//! nobody's and stay unwritable and un-chown-able
//! (`root_owned_host_files_are_nobodys_inside_and_stay_unwritable`), and chown outside the
//! mapping is EINVAL (`chown_works_within_the_mapping_and_fails_with_einval_outside_it`).
//!
//! Each runs under runc 1.1.5 too (`HUSK_RUNTIME=/usr/sbin/runc`), with the same answers.

#![allow(clippy::unwrap_used)] // tests may unwrap (project rules)

use std::fs;
use std::os::unix::fs::{chown, MetadataExt, PermissionsExt};
use std::path::Path;

use husk_tests::rootless::{self, TestUser};
use husk_tests::runtime::exec;
use husk_tests::{host, host_lacks, Bundle, Outcome, Runtime};
use serde_json::json;

/// Every capability the caps crate knows (`man 7 capabilities`): the container's root has them
/// all, in its own user namespace.
fn all_caps() -> Vec<String> {
    caps::all().iter().map(ToString::to_string).collect()
}

/// A shell function `w FILE TEXT` (perl, of the Debian minbase rootfs): writes TEXT to FILE
/// with one write(2) and prints `written`, or the failing step and its errno's message.
const W: &str = "w() { perl -e 'open(my $f, \">\", $ARGV[0]) or die \"open: $!\\n\"; \
                 defined(syswrite($f, $ARGV[1])) or die \"write: $!\\n\"; print \"written\\n\"' \
                 \"$@\" 2>&1; }; ";

/// A rootless minbase bundle running `sh -c "<W><script>"` as root of the container with every
/// capability and no seccomp filter (nothing but the kernel's namespace rules stands in the
/// way).
fn hostile(script: &str) -> Bundle {
    let mut b = Bundle::rootless_minbase(&["sh", "-c", &format!("{W}{script}")]);
    b.caps(&all_caps().iter().map(String::as_str).collect::<Vec<_>>());
    b.remove("/linux/seccomp");
    b
}

/// The outcome's stdout, asserting the runtime and the script exited 0.
fn ran(o: Outcome) -> String {
    o.ok().stdout
}

/// A host bind mount of a directory onto itself, made read-only, so the copy of it in the
/// mount namespace the rootless runtime makes (owned by the user's namespace) has its
/// read-only flag locked (MNT_LOCK_READONLY, `man 7 mount_namespaces`); unmounted (lazily)
/// when dropped.
struct RoMount(std::path::PathBuf);

impl RoMount {
    fn new(dir: &Path) -> RoMount {
        use nix::mount::{mount, MsFlags};
        mount(Some(dir), dir, None::<&str>, MsFlags::MS_BIND, None::<&str>).unwrap();
        let m = RoMount(dir.to_path_buf());
        mount(
            None::<&str>,
            dir,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
            None::<&str>,
        )
        .unwrap();
        m
    }
}

impl Drop for RoMount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// `<dir>/rootfs`: a busybox tree owned by `u` (the container's root may write every file of
/// it, so only a mount flag can stop a write) with the mountpoints `more` under it.
fn users_busybox(u: &TestUser, dir: &Path, more: &[&str]) -> std::path::PathBuf {
    let rootfs = dir.join("rootfs");
    fs::create_dir(&rootfs).unwrap();
    husk_tests::rootfs::busybox_copy(&rootfs);
    for m in more {
        fs::create_dir_all(rootfs.join(m.trim_start_matches('/'))).unwrap();
    }
    u.chown_tree(&rootfs);
    rootfs
}

/// The block device the host's / is mounted from (`/dev/...` in /proc/self/mountinfo), if it
/// is one.
fn host_root_device() -> Option<String> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines()
        .find(|l| l.split_whitespace().nth(4) == Some("/"))
        .and_then(|l| l.split(" - ").nth(1))
        .and_then(|rest| rest.split_whitespace().nth(1))
        .filter(|src| {
            fs::metadata(src).is_ok_and(|m| {
                use std::os::unix::fs::FileTypeExt;
                m.file_type().is_block_device()
            })
        })
        .map(str::to_string)
}

/// A writable sysfs file of the host's root (the container will try to write its current
/// value back), if this kernel has one of the usual ones.
fn host_sysfs_knob() -> Option<&'static str> {
    [
        "/sys/kernel/rcu_expedited",
        "/sys/kernel/profiling",
        "/sys/kernel/mm/transparent_hugepage/enabled",
    ]
    .into_iter()
    .find(|p| fs::metadata(p).is_ok_and(|m| m.uid() == 0 && m.mode() & 0o200 != 0))
}

/// Lines of `text`.
fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

#[test]
fn the_id_maps_and_setgroups_stay_as_the_runtime_wrote_them() {
    let rt = Runtime::rootless();
    let u = rootless::user();
    // Root of the container with every capability: the maps are written once (by the
    // runtime), setgroups stays denied (it must, for an unprivileged gid map), and the init's
    // maps are the same files.
    let b = hostile(
        "cat /proc/self/setgroups; w /proc/self/uid_map '0 0 1'; w /proc/self/gid_map '0 0 1'; \
         w /proc/self/setgroups allow; w /proc/1/uid_map '0 0 4294967295'; \
         w /proc/1/gid_map '1 0 1'; cat /proc/self/uid_map /proc/self/gid_map",
    );
    let out = ran(rt.run(&b));
    let l = lines(&out);
    assert_eq!(
        l[..6],
        [
            "deny",
            "write: Operation not permitted",
            "write: Operation not permitted",
            "write: Operation not permitted",
            "write: Operation not permitted",
            "write: Operation not permitted",
        ],
        "{out}"
    );
    let maps: Vec<Vec<&str>> = l[6..]
        .iter()
        .map(|r| r.split_whitespace().collect())
        .collect();
    let (uid, gid) = (u.uid.to_string(), u.gid.to_string());
    assert_eq!(
        maps,
        [["0", uid.as_str(), "1"], ["0", gid.as_str(), "1"]],
        "{out}"
    );
    rt.assert_left_nothing(&b);
}

#[test]
fn the_hosts_user_namespace_cannot_be_entered_even_through_a_leaked_fd() {
    let rt = Runtime::rootless();
    // The user's shell opens its own user namespace (the host's initial one) as fd 3 and the
    // runtime passes it on (--preserve-fds 1): setns(2) into it needs CAP_SYS_ADMIN there,
    // which no capability of the container's namespace is.
    let b = hostile(
        "readlink /proc/self/fd/3 /proc/self/ns/user; \
         nsenter --user=/proc/self/fd/3 true 2>&1; echo rc=$?; \
         nsenter --user=/proc/self/fd/3 --preserve-credentials true 2>&1; echo rc=$?",
    );
    b.write();
    rt.adopt(&b.id);
    let mut c = rootless::user().command("sh");
    c.arg("-c")
        .arg(
            "exec 3</proc/self/ns/user && exec \"$0\" --root \"$1\" run --preserve-fds 1 \
             --bundle \"$2\" \"$3\"",
        )
        .arg(rootless::runtime_binary())
        .arg(rt.root())
        .arg(b.path())
        .arg(&b.id)
        .env("HUSK_TEST_MARKER", &b.id);
    let out = ran(exec(c, true));
    let l = lines(&out);
    assert_eq!(l[0], host::ns_link("user"), "fd 3 is the host's: {out}");
    assert_ne!(l[1], host::ns_link("user"), "{out}");
    let refused = "nsenter: reassociate to namespace 'ns/user' failed: Operation not permitted";
    assert_eq!(l[2..], [refused, "rc=1", refused, "rc=1"], "{out}");
    rt.assert_left_nothing(&b);
}

#[test]
fn device_nodes_cannot_be_made_even_with_cap_mknod() {
    let rt = Runtime::rootless();
    let u = rootless::user();
    let dir = u.tempdir("husk-rl-mknod-");
    let mut b = hostile(
        "mknod /tmp/null c 1 3 2>&1; echo rc=$?; mknod /tmp/disk b 8 0 2>&1; echo rc=$?; \
         mknod /mnt/null c 1 3 2>&1; echo rc=$?; mknod /mnt/fifo p && echo fifo-ok",
    );
    b.mount(
        "/mnt",
        "bind",
        dir.path().to_str().unwrap(),
        &["bind", "rw"],
    );
    assert_eq!(
        ran(rt.run(&b)),
        "mknod: /tmp/null: Operation not permitted\nrc=1\n\
         mknod: /tmp/disk: Operation not permitted\nrc=1\n\
         mknod: /mnt/null: Operation not permitted\nrc=1\nfifo-ok\n"
    );
    // On the host: only the fifo (the user may make those), the user's.
    let names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["fifo"]);
    let m = fs::symlink_metadata(dir.path().join("fifo")).unwrap();
    assert_eq!((m.uid(), m.gid()), (u.uid, u.gid));
    rt.assert_left_nothing(&b);
}

#[test]
fn host_block_devices_sysfs_and_kernel_settings_stay_out_of_reach() {
    let Some(disk) = host_root_device() else {
        host_lacks(true, "the host's / is not mounted from a block device");
        return;
    };
    let Some(knob) = host_sysfs_knob() else {
        host_lacks(true, "no root-writable sysfs file of the usual ones");
        return;
    };
    let rt = Runtime::rootless();
    // The host's disk bound in (the runtime, as the user, may bind a node it cannot open);
    // then every way root of the container could reach the host's kernel or disk.
    let denied = "mount: /mnt: permission denied.\n       dmesg(1) may have more information \
                  after failed mount system call.";
    let mut b = hostile(&format!(
        "head -c1 /dev/hostdisk 2>&1; echo rc=$?; \
         mount -t ext4 -o ro /dev/hostdisk /mnt 2>&1; echo rc=$?; \
         mount -t sysfs sysfs /mnt 2>&1; echo rc=$?; \
         mount -o remount,bind,rw /sys && w {knob} \"$(cat {knob})\"; \
         w /proc/sys/vm/drop_caches 1; \
         mount -o remount,bind,rw /proc/sys && w /proc/sys/vm/drop_caches 1; \
         mount -t proc proc /mnt && w /mnt/sys/vm/drop_caches 1; echo end"
    ));
    b.mount("/dev/hostdisk", "bind", &disk, &["bind"]);
    let out = ran(rt.run(&b));
    let want = format!(
        "head: cannot open '/dev/hostdisk' for reading: Permission denied\nrc=1\n\
         {denied}\nrc=32\n{denied}\nrc=32\n\
         open: Permission denied\n\
         open: Read-only file system\n\
         open: Permission denied\n\
         open: Permission denied\nend\n"
    );
    assert_eq!(out, want);
    rt.assert_left_nothing(&b);
}

#[test]
fn a_read_only_host_mount_stays_read_only_for_the_containers_root() {
    let rt = Runtime::rootless();
    let u = rootless::user();
    let d = u.tempdir("husk-rl-locked-");
    let rootfs = users_busybox(u, d.path(), &["/mnt/vol"]);
    let vol = d.path().join("vol");
    fs::create_dir(&vol).unwrap();
    u.chown_tree(&vol);
    // Both read-only on the host: the rootfs (root.readonly) and a volume the config asks
    // read-write for.
    let _locked = (RoMount::new(&rootfs), RoMount::new(&vol));
    let script = "mount -o remount,rw / 2>&1; echo rc=$?; mount -o remount,bind,rw / 2>&1; \
                  echo rc=$?; touch /planted 2>&1; echo rc=$?; \
                  mount -o remount,bind,rw /mnt/vol 2>&1; echo rc=$?; \
                  touch /mnt/vol/planted 2>&1; echo rc=$?";
    let mut b = Bundle::rootless_with_rootfs(&rootfs, &["sh", "-c", script]);
    b.caps(&all_caps().iter().map(String::as_str).collect::<Vec<_>>());
    b.remove("/linux/seccomp");
    b.mount("/mnt/vol", "bind", vol.to_str().unwrap(), &["bind", "rw"]);
    let refused = "mount: permission denied (are you root?)";
    assert_eq!(
        ran(rt.run(&b)),
        format!(
            "{refused}\nrc=1\n{refused}\nrc=1\ntouch: /planted: Read-only file system\nrc=1\n\
             {refused}\nrc=1\ntouch: /mnt/vol/planted: Read-only file system\nrc=1\n"
        )
    );
    assert!(!rootfs.join("planted").exists() && !vol.join("planted").exists());
    rt.assert_left_nothing(&b);

    // The contrast: a root the runtime made read-only from a writable host directory is not
    // locked; its root may remount it (the files are the user's own).
    let d2 = u.tempdir("husk-rl-unlocked-");
    let rootfs2 = users_busybox(u, d2.path(), &[]);
    let mut b = Bundle::rootless_with_rootfs(
        &rootfs2,
        &[
            "sh",
            "-c",
            "touch /planted 2>&1; mount -o remount,bind,rw / && touch /planted && echo planted",
        ],
    );
    b.caps(&all_caps().iter().map(String::as_str).collect::<Vec<_>>());
    b.remove("/linux/seccomp");
    assert_eq!(
        ran(rt.run(&b)),
        "touch: /planted: Read-only file system\nplanted\n"
    );
    let m = fs::symlink_metadata(rootfs2.join("planted")).unwrap();
    assert_eq!((m.uid(), m.gid()), (u.uid, u.gid));
}

#[test]
fn another_users_host_directories_stay_closed() {
    let rt = Runtime::rootless();
    let u = rootless::user();
    // Owned by 4242 (neither the user nor one of its subordinate ids): nobody inside.
    let d = u.tempdir("husk-rl-other-");
    let (open, private) = (d.path().join("open"), d.path().join("private"));
    for (dir, mode) in [(&open, 0o755), (&private, 0o700)] {
        fs::create_dir(dir).unwrap();
        fs::write(dir.join("f"), "theirs\n").unwrap();
        fs::set_permissions(dir, fs::Permissions::from_mode(mode)).unwrap();
        chown(dir, Some(4242), Some(4242)).unwrap();
        chown(dir.join("f"), Some(4242), Some(4242)).unwrap();
    }
    let mut b = hostile(
        "stat -c '%u:%g %a' /opt /srv; cat /opt/f; \
         w /opt/f mine; touch /opt/new 2>&1; echo rc=$?; \
         rm -f /opt/f 2>&1; echo rc=$?; chmod 777 /opt 2>&1; echo rc=$?; \
         chown 0:0 /opt/f 2>&1; echo rc=$?; ls /srv 2>&1; echo rc=$?; \
         cat /srv/f 2>&1; echo rc=$?",
    );
    b.mount("/opt", "bind", open.to_str().unwrap(), &["bind", "rw"]);
    b.mount("/srv", "bind", private.to_str().unwrap(), &["bind", "rw"]);
    assert_eq!(
        ran(rt.run(&b)),
        "65534:65534 755\n65534:65534 700\ntheirs\n\
         open: Permission denied\n\
         touch: cannot touch '/opt/new': Permission denied\nrc=1\n\
         rm: cannot remove '/opt/f': Permission denied\nrc=1\n\
         chmod: changing permissions of '/opt': Operation not permitted\nrc=1\n\
         chown: changing ownership of '/opt/f': Operation not permitted\nrc=1\n\
         ls: cannot open directory '/srv': Permission denied\nrc=2\n\
         cat: /srv/f: Permission denied\nrc=1\n"
    );
    for dir in [&open, &private] {
        assert_eq!(fs::read_to_string(dir.join("f")).unwrap(), "theirs\n");
        let m = fs::metadata(dir).unwrap();
        assert_eq!((m.uid(), m.gid()), (4242, 4242));
        assert_eq!(fs::read_dir(dir).unwrap().count(), 1);
    }
    assert_eq!(fs::metadata(&open).unwrap().mode() & 0o7777, 0o755);
    rt.assert_left_nothing(&b);
}

#[test]
fn mounts_made_inside_never_reach_the_host() {
    let rt = Runtime::rootless();
    let u = rootless::user();
    // Shared propagation asked for everywhere: the container's mount namespace is owned by
    // the user's namespace, so what it mounts never propagates back to the host's.
    let dir = u.tempdir("husk-rl-prop-");
    let mut b = hostile(
        "mount -t tmpfs planted /mnt && echo x > /mnt/f && mount --make-rshared / && \
         mount -t tmpfs planted2 /mnt && echo mounted",
    );
    b.mount(
        "/mnt",
        "bind",
        dir.path().to_str().unwrap(),
        &["rbind", "rw", "rshared"],
    );
    b.set("/linux/rootfsPropagation", json!("shared"));
    assert_eq!(ran(rt.run(&b)), "mounted\n");
    assert_eq!(
        host::mounts_mentioning(Path::new("planted")),
        Vec::<String>::new()
    );
    assert_eq!(host::mounts_mentioning(dir.path()), Vec::<String>::new());
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    rt.assert_left_nothing(&b);
}
