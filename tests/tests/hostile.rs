//! Hostile images and configs: the public bug reports against runc, crun and youki replayed
//! against the runtime (CVE-2019-5736, CVE-2019-19921, CVE-2021-30465, CVE-2023-27561,
//! CVE-2024-21626, CVE-2025-31133, CVE-2025-52565, runc#3911-style tmpfs modes, planted
//! symlinks, /proc magic links, odd options, sysctl keys, labels, host-root and odd bundle
//! paths, unified cgroup keys, setuid binaries under noNewPrivileges, CVE-2022-29162
//! inheritable capabilities).
//!
//! Each test passes when the runtime behaves: nothing of the host is created, modified,
//! chmod-ed or mounted over; nothing is left behind (state, cgroups, processes, mounts); an
//! error names the field and what to do; the container sees what the config says. A test
//! marked `#[ignore = "BUG: ..."]` is a bug found and not fixed yet (see its comment).

#![allow(clippy::unwrap_used)] // tests may unwrap (project rules)

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use husk_tests::runtime::exec;
use husk_tests::{host, reference_lacks, rootfs, Bundle, Outcome, Runtime};
use serde_json::{json, Value};

/// A bundle whose rootfs is its own writable busybox copy (`root.readonly` false), so that
/// whatever a runtime creates "in the image" is the test's to look at and throw away.
fn own_bundle(args: &[&str]) -> Bundle {
    let mut b = Bundle::with_own_rootfs(rootfs::busybox_copy, args);
    b.set("/root/readonly", json!(false));
    b
}

/// Appends a mount entry and returns its index in `mounts`.
fn add_mount(b: &mut Bundle, m: Value) -> usize {
    b.push("/mounts", m);
    b.config["mounts"].as_array().unwrap().len() - 1
}

/// `run` of `b` with fd 7 of the runtime open on the host directory `dir`, as a careless caller
/// (a shim, a shell) might leave it.
fn run_with_fd7(rt: &Runtime, b: &Bundle, dir: &Path) -> Outcome {
    b.write();
    rt.adopt(&b.id);
    let bundle = b.path().to_str().unwrap();
    let inner = rt.command(&["run", "--bundle", bundle, &b.id], &b.id);
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("exec 7<\"$1\"; shift; exec \"$@\"")
        .arg("sh")
        .arg(dir)
        .arg(inner.get_program())
        .args(inner.get_args())
        .env("HUSK_TEST_MARKER", &b.id);
    exec(cmd, true)
}

/// A host directory with a marker file and a host program, for the leaked-fd tests.
fn host_dir_with_marker() -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix("husk-host-")
        .tempdir()
        .unwrap();
    fs::write(d.path().join("marker"), "HOST-SECRET\n").unwrap();
    fs::write(d.path().join("prog"), "#!/bin/sh\necho HOST-PROGRAM\n").unwrap();
    fs::set_permissions(d.path().join("prog"), fs::Permissions::from_mode(0o755)).unwrap();
    d
}

/// The names in a directory, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A tmpfs mounted on the host for the length of a test (unmounted on drop, even on failure).
struct HostTmpfs(PathBuf);

impl HostTmpfs {
    fn at(p: &Path, options: &str) -> HostTmpfs {
        fs::create_dir_all(p).unwrap();
        let st = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                options,
                "husk-hostile",
                p.to_str().unwrap(),
            ])
            .status()
            .unwrap();
        assert!(st.success(), "mount tmpfs at {}", p.display());
        HostTmpfs(p.to_path_buf())
    }

    /// The superblock options of the mount, from the test process's mountinfo.
    fn super_options(&self) -> String {
        let me = self.0.to_string_lossy().into_owned();
        let info = fs::read_to_string("/proc/self/mountinfo").unwrap();
        let line = info
            .lines()
            .find(|l| l.split(' ').nth(4) == Some(me.as_str()))
            .unwrap_or_else(|| panic!("{me} is not mounted"));
        line.rsplit(' ').next().unwrap().to_string()
    }
}

impl Drop for HostTmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Runs `run` of `b` with the runtime's stdio on a new pty (a terminal test must not depend
/// on the test runner having one); returns the pty output and the exit code.
fn run_in_pty(rt: &Runtime, b: &Bundle) -> (String, Option<i32>) {
    use std::process::Stdio;
    b.write();
    rt.adopt(&b.id);
    let pty = nix::pty::openpty(None, None).unwrap();
    let bundle = b.path().to_str().unwrap();
    let mut cmd = rt.command(&["run", "--bundle", bundle, &b.id], &b.id);
    cmd.stdin(Stdio::from(pty.slave.try_clone().unwrap()))
        .stdout(Stdio::from(pty.slave.try_clone().unwrap()))
        .stderr(Stdio::from(pty.slave));
    let mut child = husk_tests::runtime::spawn(&mut cmd);
    drop(cmd);
    let reader = husk_tests::console::read_all(pty.master);
    let st = husk_tests::runtime::wait_child(
        &mut child,
        std::time::Duration::from_secs(60),
        "run in a pty",
    );
    (reader.join().unwrap(), st.code())
}

// ---------------------------------------------------------------------------------------------
// CVE-2024-21626: a working directory (or program) reached through an fd of the runtime.

#[test]
fn cwd_through_an_fd_left_open_by_the_caller_never_reaches_the_host() {
    let rt = Runtime::new();
    let host_dir = host_dir_with_marker();
    let before = listing(host_dir.path());
    // Reading: the container must not see the host directory as its cwd.
    let mut b = own_bundle(&["sh", "-c", "ls; cat marker; cat ../../../../etc/hostname"]);
    b.set("/process/cwd", json!("/proc/self/fd/7"));
    let o = run_with_fd7(&rt, &b, host_dir.path());
    assert!(
        !o.stdout.contains("HOST-SECRET") && !o.stdout.contains("marker"),
        "the container's cwd was the host directory: {o:#?}"
    );
    // Writing: a cwd below the fd must not be created there, nor anything written through it.
    let mut b = own_bundle(&["sh", "-c", "touch pwned"]);
    b.set(
        "/process/cwd",
        json!("/proc/self/fd/7/made-by-the-container"),
    );
    let o = run_with_fd7(&rt, &b, host_dir.path());
    assert_eq!(
        listing(host_dir.path()),
        before,
        "the host directory changed: {o:#?}"
    );
}

#[test]
fn a_program_named_through_an_fd_left_open_by_the_caller_is_not_run() {
    let rt = Runtime::new();
    let host_dir = host_dir_with_marker();
    let b = own_bundle(&["/proc/self/fd/7/prog"]);
    let o = run_with_fd7(&rt, &b, host_dir.path());
    assert!(
        !o.stdout.contains("HOST-PROGRAM"),
        "a host program ran in the container: {o:#?}"
    );
    assert!(!o.status.success(), "{o:#?}");
}

#[test]
fn a_cwd_through_a_proc_magic_link_is_refused_by_name() {
    let rt = Runtime::new();
    let mut b = own_bundle(&["pwd"]);
    b.set("/process/cwd", json!("/proc/1/cwd"));
    let o = rt.run(&b);
    if reference_lacks("runc 1.1.5 follows /proc/1/cwd (to the container's own /)") {
        return;
    }
    o.failed()
        .stderr_mentions(&["process.cwd", "/proc/1/cwd", "magic link"]);
    rt.assert_left_nothing(&b);
}

// ---------------------------------------------------------------------------------------------
// The root filesystem itself.

#[test]
fn a_rootfs_that_is_the_host_root_is_refused_before_anything_is_made() {
    let rt = Runtime::new();
    let tag = format!("husk-hostile-{}", std::process::id());
    let dest = PathBuf::from(format!("/{tag}-dest"));
    let cwd = PathBuf::from(format!("/{tag}-cwd"));
    for root_path in ["/", "hostroot", "../../../../../../../.."] {
        let mut b = Bundle::busybox(&["true"]);
        symlink("/", b.path().join("hostroot")).unwrap();
        b.set("/root/path", json!(root_path));
        b.set("/process/cwd", json!(cwd));
        b.push(
            "/mounts",
            json!({"destination": dest, "type": "tmpfs", "source": "tmpfs"}),
        );
        let o = rt.run(&b);
        let made: Vec<&PathBuf> = [&dest, &cwd].into_iter().filter(|p| p.exists()).collect();
        for p in &made {
            let _ = fs::remove_dir(p);
        }
        assert!(made.is_empty(), "{made:?} made on the host: {o:#?}");
        let o = o.failed();
        if !reference_lacks("husk's refusal of a rootfs that is the host's /") {
            o.stderr_mentions(&["root.path", "host"]);
        }
        rt.assert_left_nothing(&b);
    }
}

#[test]
fn a_rootfs_that_is_a_symlink_runs_in_its_target() {
    if reference_lacks("runc 1.1.5 refuses a root.path that is a symlink") {
        return;
    }
    let rt = Runtime::new();
    let b0 = own_bundle(&["true"]);
    let mut b = Bundle::busybox(&["sh", "-c", "cat /etc/marker"]);
    fs::write(b0.rootfs().join("etc/marker"), "in-the-target\n").unwrap();
    symlink(b0.rootfs(), b.path().join("rootlink")).unwrap();
    b.set("/root/path", json!("rootlink"));
    assert_eq!(rt.run_ok(&b), "in-the-target\n");
}

#[test]
fn a_bundle_path_with_spaces_and_a_newline_works() {
    let rt = Runtime::new();
    let parent = tempfile::Builder::new()
        .prefix("husk-odd-")
        .tempdir()
        .unwrap();
    let odd = parent.path().join("a bundle\nwith a newline");
    fs::create_dir(&odd).unwrap();
    rootfs::busybox_copy(&odd.join("rootfs"));
    // Same config as a harness bundle, written into the odd directory.
    let b = Bundle::busybox(&["echo", "ran"]);
    let mut config = b.config.clone();
    config["root"]["path"] = json!("rootfs");
    config["root"]["readonly"] = json!(false);
    fs::write(odd.join("config.json"), config.to_string()).unwrap();
    rt.adopt(&b.id);
    let odd_s = odd.to_str().unwrap();
    let run = exec(rt.command(&["run", "--bundle", odd_s, &b.id], &b.id), true).ok();
    assert_eq!(run.stdout, "ran\n");
    exec(
        rt.command(&["create", "--bundle", odd_s, &b.id], &b.id),
        true,
    )
    .ok();
    assert_eq!(rt.state(&b.id)["bundle"], json!(odd_s));
    rt.delete(&b.id).ok();
    assert!(host::mounts_mentioning(&odd).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Mount destinations and sources.

#[test]
fn a_symlink_in_an_earlier_volume_cannot_redirect_a_later_mount() {
    // CVE-2021-30465 without the race: the later mount's destination goes through a symlink a
    // shared volume holds, pointing at an absolute host path.
    let rt = Runtime::new();
    let volume = tempfile::tempdir().unwrap();
    let victim = tempfile::tempdir().unwrap();
    symlink(victim.path(), volume.path().join("x")).unwrap();
    let mut b = own_bundle(&[
        "sh",
        "-c",
        "touch /mnt/a/x/sub/file && echo wrote; grep ' /mnt/a' /proc/self/mountinfo | wc -l",
    ]);
    add_mount(
        &mut b,
        json!({"destination": "/mnt/a", "type": "bind", "source": volume.path(),
               "options": ["rbind"]}),
    );
    add_mount(
        &mut b,
        json!({"destination": "/mnt/a/x/sub", "type": "tmpfs", "source": "tmpfs"}),
    );
    let out = rt.run_ok(&b);
    assert!(out.starts_with("wrote\n"), "{out}");
    assert!(
        listing(victim.path()).is_empty(),
        "something was made in the host directory"
    );
    // The symlink was resolved inside the rootfs: the tmpfs covers the rootfs's own copy.
    let inside = b
        .rootfs()
        .join(victim.path().strip_prefix("/").unwrap())
        .join("sub");
    assert!(inside.is_dir(), "{} missing", inside.display());
    assert!(listing(&inside).is_empty(), "the file went to the image");
}

#[test]
fn dotdot_and_relative_destinations_stay_inside_the_rootfs() {
    let rt = Runtime::new();
    let victim = tempfile::tempdir().unwrap();
    let climbing = format!("/../../../../../..{}/sub", victim.path().display());
    let mut b = own_bundle(&["true"]);
    add_mount(
        &mut b,
        json!({"destination": climbing, "type": "tmpfs", "source": "tmpfs"}),
    );
    add_mount(
        &mut b,
        json!({"destination": "../../../rel", "type": "tmpfs", "source": "tmpfs"}),
    );
    rt.run_ok(&b);
    assert!(listing(victim.path()).is_empty(), "made on the host");
    assert!(b
        .rootfs()
        .join(victim.path().strip_prefix("/").unwrap())
        .join("sub")
        .is_dir());
    assert!(b.rootfs().join("rel").is_dir());
}

#[test]
fn a_destination_through_a_proc_magic_link_is_refused() {
    // /proc/self/cwd of the init is the runtime's cwd on the host until pivot_root.
    let rt = Runtime::new();
    let host_cwd = tempfile::tempdir().unwrap();
    let mut b = own_bundle(&["true"]);
    let n = add_mount(
        &mut b,
        json!({"destination": "/proc/self/cwd/made-here", "type": "tmpfs", "source": "tmpfs"}),
    );
    b.write();
    rt.adopt(&b.id);
    let bundle = b.path().to_str().unwrap();
    let mut cmd = rt.command(&["run", "--bundle", bundle, &b.id], &b.id);
    cmd.current_dir(host_cwd.path());
    let o = exec(cmd, true);
    assert!(
        listing(host_cwd.path()).is_empty(),
        "made on the host: {o:#?}"
    );
    if !reference_lacks("runc 1.1.5 resolves /proc/self/cwd lexically inside the rootfs") {
        o.failed()
            .stderr_mentions(&[&format!("mounts[{n}]"), "/proc/self/cwd"]);
        rt.assert_left_nothing(&b);
    }
}

#[test]
fn proc_on_a_symlink_planted_in_an_earlier_volume_is_refused() {
    // CVE-2019-19921 / CVE-2023-27561: a volume's `proc` entry swapped for a symlink.
    let rt = Runtime::new();
    let volume = tempfile::tempdir().unwrap();
    symlink("/tmp", volume.path().join("proc")).unwrap();
    let mut b = own_bundle(&["true"]);
    add_mount(
        &mut b,
        json!({"destination": "/mnt/a", "type": "bind", "source": volume.path(),
               "options": ["rbind"]}),
    );
    let n = add_mount(
        &mut b,
        json!({"destination": "/mnt/a/proc", "type": "proc", "source": "proc"}),
    );
    let o = rt.run(&b).failed();
    if !reference_lacks("husk's message for proc on a symlink") {
        o.stderr_mentions(&[&format!("mounts[{n}].destination"), "not a directory"]);
    }
    rt.assert_left_nothing(&b);
    assert_eq!(
        fs::read_link(volume.path().join("proc")).unwrap(),
        Path::new("/tmp")
    );
}

#[test]
fn bind_sources_that_are_a_fifo_a_socket_and_a_symlink() {
    let rt = Runtime::new();
    let src = tempfile::tempdir().unwrap();
    let fifo = src.path().join("fifo");
    let st = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(st.success());
    let sock = src.path().join("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let dir = src.path().join("dir");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("f"), "").unwrap();
    symlink(&dir, src.path().join("dirlink")).unwrap();
    let mut b = own_bundle(&[
        "sh",
        "-c",
        "stat -c %F /mnt/fifo /mnt/sock /mnt/dirlink; ls /mnt/dirlink",
    ]);
    for (name, path) in [
        ("fifo", fifo.clone()),
        ("sock", sock.clone()),
        ("dirlink", src.path().join("dirlink")),
    ] {
        add_mount(
            &mut b,
            json!({"destination": format!("/mnt/{name}"), "type": "bind", "source": path,
                   "options": ["bind"]}),
        );
    }
    assert_eq!(
        rt.run_ok(&b),
        "fifo\nsocket\ndirectory\nf\n",
        "each source keeps its type"
    );
}

#[test]
fn huge_and_duplicated_options_reach_the_mount() {
    let rt = Runtime::new();
    let mut opts: Vec<String> = Vec::new();
    for _ in 0..2000 {
        opts.push("nosuid".into());
        opts.push("size=1m".into());
        opts.push("mode=700".into());
    }
    opts.push("size=2m".into());
    let mut b = Bundle::busybox(&["sh", "-c", "grep ' /mnt ' /proc/self/mountinfo"]);
    b.mount("/mnt", "tmpfs", "tmpfs", &[]);
    let n = b.config["mounts"].as_array().unwrap().len() - 1;
    b.set(&format!("/mounts/{n}/options"), json!(opts));
    let o = rt.run(&b);
    if reference_lacks("runc 1.1.5 joins options into one page of mount(2) data") {
        return;
    }
    let line = o.ok().stdout;
    assert!(line.contains(" rw,nosuid"), "{line}");
    assert!(line.contains("size=2048k"), "{line}");
    assert!(line.contains("mode=700"), "{line}");
}

#[test]
fn options_with_an_empty_name_or_a_bad_value_are_refused_by_name() {
    if reference_lacks("runc 1.1.5 passes `=` to the kernel as data, which takes it") {
        return;
    }
    let rt = Runtime::new();
    for opt in ["=", "=x", "", "mode=755,uid=0", "source=/etc"] {
        let mut b = Bundle::busybox(&["true"]);
        b.mount("/mnt", "tmpfs", "tmpfs", &[opt]);
        let n = b.config["mounts"].as_array().unwrap().len() - 1;
        rt.run(&b)
            .failed()
            .stderr_mentions(&[&format!("mounts[{n}]"), &format!("\"{opt}\"")]);
        rt.assert_left_nothing(&b);
    }
}

// ---------------------------------------------------------------------------------------------
// /dev: masks with a replaced /dev/null, /dev/console.

#[test]
fn masking_with_a_dev_null_that_is_not_the_device_is_refused() {
    // CVE-2025-31133: a /dev (here a bind of a shared directory) whose `null` is a symlink to
    // a writable /proc file, or a plain file.
    let rt = Runtime::new();
    let dev = tempfile::tempdir().unwrap();
    for plant in ["symlink", "file"] {
        let null = dev.path().join("null");
        let _ = fs::remove_file(&null);
        if plant == "symlink" {
            symlink("/proc/sys/kernel/core_pattern", &null).unwrap();
        } else {
            fs::write(&null, "secret").unwrap();
        }
        let mut b = Bundle::busybox(&["sh", "-c", "stat -c %F /proc/kcore"]);
        let mounts: Vec<Value> = b.config["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| !m["destination"].as_str().unwrap().starts_with("/dev"))
            .cloned()
            .collect();
        b.set("/mounts", json!(mounts));
        add_mount(
            &mut b,
            json!({"destination": "/dev", "type": "bind", "source": dev.path(),
                   "options": ["rbind"]}),
        );
        let o = rt.run(&b);
        if reference_lacks("the CVE-2025-31133 fix (runc 1.1.5 binds whatever /dev/null is)") {
            return;
        }
        o.failed()
            .stderr_mentions(&["linux.maskedPaths", "/dev/null", "1:3"]);
        rt.assert_left_nothing(&b);
    }
    assert!(fs::symlink_metadata(dev.path().join("null"))
        .unwrap()
        .is_file());
}

#[test]
fn a_terminal_with_a_read_only_dev_gets_its_console() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["sh", "-c", "stat -c '%F %t' /dev/console; tty"]);
    b.set("/process/terminal", json!(true));
    let dev = b.config["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .position(|m| m["destination"] == "/dev")
        .unwrap();
    b.push(&format!("/mounts/{dev}/options"), json!("ro"));
    let (out, code) = run_in_pty(&rt, &b);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("character special file 88"),
        "/dev/console is not the pty (major 136 = 0x88): {out}"
    );
    assert!(out.contains("/dev/pts/"), "{out}");
}

#[test]
fn a_console_symlink_planted_by_the_image_is_never_followed() {
    // CVE-2025-52565: the image's /dev/console points at a file of its own.
    if reference_lacks("the CVE-2025-52565 fix (runc 1.1.5 binds the pty over the link's target)") {
        return;
    }
    let rt = Runtime::new();
    let mut b = own_bundle(&["sh", "-c", "stat -c %F /dev/console /etc/passwd"]);
    b.remove_mount("/dev");
    b.set("/process/terminal", json!(true));
    symlink("/etc/passwd", b.rootfs().join("dev/console")).unwrap();
    let (out, code) = run_in_pty(&rt, &b);
    assert_eq!(code, Some(0), "{out}");
    // The runtime's own warnings share the pty.
    let lines: Vec<&str> = out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.contains("warning"))
        .collect();
    assert_eq!(lines, ["character special file", "regular file"], "{out}");
    assert_eq!(
        fs::read_to_string(b.rootfs().join("etc/passwd")).unwrap(),
        rootfs::PASSWD
    );
}

// ---------------------------------------------------------------------------------------------
// Kernel settings and labels.

#[test]
fn sysctl_keys_that_climb_or_hide_a_separator_are_refused() {
    let rt = Runtime::new();
    let before = fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    for key in [
        "net/ipv4/../../kernel/core_pattern",
        "net.ipv4.conf.all/../../../../kernel/core_pattern",
        "net/ipv4/conf/lo/../../../../kernel/core_pattern",
        "net/./ipv4/ip_forward",
        "net//ipv4/ip_forward",
        "/net/ipv4/ip_forward",
    ] {
        let mut b = Bundle::busybox(&["true"]);
        b.set("/linux/sysctl", json!({ key: "|/bin/false" }));
        let o = rt.run(&b).failed();
        if !reference_lacks("husk's sysctl key messages") {
            o.stderr_mentions(&["linux.sysctl", key]);
        }
        rt.assert_left_nothing(&b);
    }
    assert_eq!(
        fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(),
        before
    );
}

#[test]
fn setgroups_is_decided_before_the_image_can_fake_proc() {
    // Without a proc mount at /proc, /proc/self/setgroups after pivot_root is the image's file:
    // "deny" there must not make the init skip setgroups (and so additionalGids).
    let rt = Runtime::new();
    let mut b = Bundle::with_own_rootfs(
        |r| {
            rootfs::busybox_copy(r);
            fs::create_dir_all(r.join("proc/self")).unwrap();
            fs::write(r.join("proc/self/setgroups"), "deny\n").unwrap();
            fs::create_dir_all(r.join("hostproc")).unwrap();
        },
        &["sh", "-c", "grep Groups /hostproc/self/status"],
    );
    b.set("/mounts/0/destination", json!("/hostproc"));
    b.namespace("user", None);
    let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.set("/linux/uidMappings", map.clone());
    b.set("/linux/gidMappings", map);
    b.set("/process/user/additionalGids", json!([5]));
    let o = rt.run(&b);
    if reference_lacks("runc 1.1.5 also reads /proc/self/setgroups after pivot_root") {
        return;
    }
    assert_eq!(o.ok().stdout.trim(), "Groups:\t5");
}

// ---------------------------------------------------------------------------------------------
// Bugs found and not fixed here (rootfs/mount.rs and rootfs/options.rs are being rewritten):
// each test says what the right behaviour is.

#[test]
fn tmpfs_over_a_symlinked_directory_keeps_the_target_s_mode() {
    // runc#3911 family. mount.rs takes the mode from `existing`, the destination opened with
    // O_NOFOLLOW: for a symlink it is the link, so no mode= is passed and a 0700 directory is
    // covered by a world-writable 1777 tmpfs. runc 1.1.5 gives 700.
    let rt = Runtime::new();
    let mut b = own_bundle(&["stat", "-c", "%a", "/srv/"]);
    fs::create_dir_all(b.rootfs().join("opt/private")).unwrap();
    fs::set_permissions(
        b.rootfs().join("opt/private"),
        fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    symlink("/opt/private", b.rootfs().join("srv")).unwrap();
    add_mount(
        &mut b,
        json!({"destination": "/srv", "type": "tmpfs", "source": "tmpfs"}),
    );
    assert_eq!(rt.run_ok(&b), "700\n");
}

#[test]
fn a_refused_destination_below_proc_is_not_created_first() {
    // mount_one calls ensure() (mkdir of every missing component) before check_proc(): the
    // refused /proc/evil/deep stays in the image. runc checks before creating.
    let rt = Runtime::new();
    let mut b = own_bundle(&["true"]);
    let mounts = b.config["mounts"].as_array().unwrap().clone();
    let mut first = vec![json!({"destination": "/proc/evil/deep", "type": "tmpfs",
                                "source": "tmpfs"})];
    first.extend(mounts);
    b.set("/mounts", json!(first));
    rt.run(&b)
        .failed()
        .stderr_mentions(&["mounts[0].destination", "inside /proc"]);
    assert!(
        !b.rootfs().join("proc/evil").exists(),
        "the refused destination was created in the image"
    );
    rt.assert_left_nothing(&b);
}

#[test]
fn remount_never_reconfigures_a_superblock_of_the_host() {
    // A `remount` entry with filesystem options at / reaches fspick() on the rootfs bind, whose
    // superblock is the host filesystem holding the rootfs: `size=2m,sync` shrinks and syncs
    // the host's tmpfs (runc 1.1.5 does the same through MS_REMOUNT). Only a superblock the
    // container made (tmpfs, proc, devpts, sysfs of its own netns) may be reconfigured.
    let rt = Runtime::new();
    let holder = tempfile::Builder::new()
        .prefix("husk-hostfs-")
        .tempdir()
        .unwrap();
    let hostfs = HostTmpfs::at(&holder.path().join("fs"), "size=64m");
    let before = hostfs.super_options();
    let root = hostfs.0.join("rootfs");
    fs::create_dir(&root).unwrap();
    rootfs::busybox_copy(&root);
    let mut b = Bundle::with_rootfs(&root, &["true"]);
    b.set("/root/readonly", json!(false));
    let n = add_mount(
        &mut b,
        json!({"destination": "/", "type": "none", "source": "none",
               "options": ["remount", "size=2m", "sync"]}),
    );
    let o = rt.run(&b);
    assert_eq!(
        hostfs.super_options(),
        before,
        "host superblock changed: {o:#?}"
    );
    o.failed()
        .stderr_mentions(&[&format!("mounts[{n}]"), "remount"]);
}

#[test]
fn a_flag_option_with_a_value_is_refused() {
    // `ro=0`, `rw=1` are not options of mount(8); parse() passes them to fsconfig as data,
    // where the VFS matches the key alone: `ro=0` makes the tmpfs superblock read-only (the
    // opposite of what it says) and the mount attributes stay rw. Refuse them by name.
    let rt = Runtime::new();
    for opt in ["ro=0", "rw=1"] {
        let mut b = Bundle::busybox(&["true"]);
        b.mount("/mnt", "tmpfs", "tmpfs", &[opt]);
        let n = b.config["mounts"].as_array().unwrap().len() - 1;
        rt.run(&b)
            .failed()
            .stderr_mentions(&[&format!("mounts[{n}]"), opt]);
        rt.assert_left_nothing(&b);
    }
}

#[test]
fn a_directory_bound_onto_a_file_says_so() {
    // move_mount(2) answers EINVAL; the message should say the source is a directory and the
    // destination a file (runc: "not a directory").
    let rt = Runtime::new();
    let src = tempfile::tempdir().unwrap();
    let mut b = own_bundle(&["true"]);
    let n = add_mount(
        &mut b,
        json!({"destination": "/etc/passwd", "type": "bind", "source": src.path(),
               "options": ["bind"]}),
    );
    rt.run(&b).failed().stderr_mentions(&[
        &format!("mounts[{n}]"),
        "/etc/passwd",
        "directory",
        "file",
    ]);
    rt.assert_left_nothing(&b);
}

/// `linux.resources.unified` writes raw cgroup v2 files: `cgroup.procs` there would pull any
/// host process (here a sleeper of the test's; pid 1 in an attack) into the container's cgroup,
/// where the container's limits, freezer and `kill --all` reach it.
#[test]
fn a_unified_key_cannot_pull_a_host_process_into_the_container() {
    if reference_lacks("runc 1.1.5 writes any unified key it is given") {
        return;
    }
    let rt = Runtime::new();
    let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = sleeper.id().to_string();
    let before = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let mut b = Bundle::busybox(&["true"]);
    b.set("/linux/resources/unified", json!({"cgroup.procs": pid}));
    let out = rt.create_with(&b, &b.id, &[]);
    let after = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    out.failed()
        .stderr_mentions(&["linux.resources.unified", "cgroup.procs"]);
    assert_eq!(before, after, "the host process was moved");
    rt.assert_left_nothing(&b);
}

/// A setuid-root binary in the image, run by a non-root user: with `noNewPrivileges` the exec
/// must not raise the effective uid (prctl(2) PR_SET_NO_NEW_PRIVS); without it, it does (the
/// control, which shows the binary really is setuid here).
#[test]
fn a_setuid_binary_gains_nothing_under_no_new_privileges() {
    let rt = Runtime::new();
    let euid = |no_new_privs: bool| {
        let mut b = husk_tests::probe::bundle(&["ids", "caps"]);
        let probe = b
            .rootfs()
            .join(husk_tests::probe::PATH_IN_CONTAINER.trim_start_matches('/'));
        std::os::unix::fs::chown(&probe, Some(0), Some(0)).unwrap();
        fs::set_permissions(&probe, fs::Permissions::from_mode(0o4755)).unwrap();
        b.set("/process/user", json!({"uid": 1000, "gid": 1000}));
        b.set("/process/noNewPrivileges", json!(no_new_privs));
        let report = husk_tests::probe::run(&rt, &b);
        (
            report["ids"]["uid"]["effective"].as_u64().unwrap(),
            report["ids"]["uid"]["real"].as_u64().unwrap(),
        )
    };
    assert_eq!(
        euid(true),
        (1000, 1000),
        "setuid honoured under noNewPrivileges"
    );
    // The control needs the bundle on a filesystem that honours setuid (the v2 guest's /tmp is
    // mounted nosuid).
    let tmp = std::env::temp_dir();
    let nosuid = nix::sys::statvfs::statvfs(&tmp)
        .unwrap()
        .flags()
        .contains(nix::sys::statvfs::FsFlags::ST_NOSUID);
    if husk_tests::host_lacks(
        nosuid,
        "the temp dir is mounted nosuid, so the setuid control cannot run here",
    ) {
        return;
    }
    assert_eq!(
        euid(false),
        (0, 1000),
        "the control: setuid works without it"
    );
}

/// CVE-2022-29162: a container must not start with inheritable capabilities it was not given,
/// or a file with inheritable file capabilities run by a non-root user would gain them.
#[test]
fn no_inheritable_or_ambient_capabilities_unless_configured() {
    let rt = Runtime::new();
    let mut b = husk_tests::probe::bundle(&["caps"]);
    b.set(
        "/process/capabilities",
        json!({"bounding": ["CAP_CHOWN", "CAP_KILL"], "effective": ["CAP_CHOWN", "CAP_KILL"],
               "permitted": ["CAP_CHOWN", "CAP_KILL"]}),
    );
    let report = husk_tests::probe::run(&rt, &b);
    for set in ["inheritable", "ambient"] {
        assert_eq!(report["caps"][set], json!([]), "{set}: {report}");
    }
    assert_eq!(
        report["caps"]["effective"],
        json!(["CAP_CHOWN", "CAP_KILL"]),
        "{report}"
    );
}

/// CVE-2019-5736: a container that can see another container's init before that init runs its
/// program (here: no pid namespace, CAP_SYS_PTRACE) opens the init's /proc/PID/exe, which is
/// the runtime's binary until execve; it waits for the init to exec, then reopens the handle
/// for writing through /proc/self/fd/3. The runtime binary must stay as it was: husk's init
/// runs from a read-only overlay copy (crates/husk-container/src/exeseal.rs), so the write
/// fails with EROFS.
#[test]
fn a_container_cannot_rewrite_the_runtime_through_another_init_s_exe() {
    // The victim runs from a copy of the runtime binary: a regression rewrites the copy, not
    // the binary the other tests use.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("husk-runtime");
    fs::copy(husk_tests::runtime::binary(), &copy).unwrap();
    let before = fs::read(&copy).unwrap();
    let victim_rt = Runtime::with_binary(&copy);
    let victim = Bundle::busybox(&["true"]);
    victim_rt.create(&victim);
    let pid = victim_rt.state(&victim.id)["pid"].as_i64().unwrap();

    let shared = tempfile::tempdir().unwrap();
    let rt = Runtime::new();
    let script = format!(
        "exec 3</proc/{pid}/exe || exit 3; echo >/mnt/opened; \
         while [ ! -e /mnt/go ]; do sleep 0.1; done; \
         echo pwned 2>/mnt/err >>/proc/self/fd/3; echo $? >/mnt/rc"
    );
    let mut attacker = Bundle::busybox(&["sh", "-c", &script]);
    attacker
        .namespaces(&["mount", "uts", "ipc", "network"])
        .caps(&["CAP_SYS_PTRACE", "CAP_DAC_OVERRIDE"])
        .mount(
            "/mnt",
            "bind",
            &shared.path().to_string_lossy(),
            &["rbind", "rw"],
        );
    rt.create_start(&attacker);
    let opened = shared.path().join("opened");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !opened.exists() {
        assert!(
            std::time::Instant::now() < deadline && rt.status(&attacker.id) == "running",
            "the attacker could not open /proc/{pid}/exe: {}",
            fs::read_to_string(rt.stdio_path(&attacker.id, "err")).unwrap_or_default()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // The victim runs its program: its init no longer runs the runtime binary.
    victim_rt.start(&victim.id).ok();
    victim_rt.wait_status(&victim.id, "stopped");
    fs::write(shared.path().join("go"), "").unwrap();
    rt.wait_status(&attacker.id, "stopped");
    let rc = fs::read_to_string(shared.path().join("rc")).unwrap();
    let err = fs::read_to_string(shared.path().join("err")).unwrap();
    assert_ne!(rc.trim(), "0", "the write through the init's exe succeeded");
    assert!(
        fs::read(&copy).unwrap() == before,
        "the runtime binary was modified"
    );
    if husk_tests::runtime::flavour() == husk_tests::runtime::Flavour::Husk {
        assert!(err.contains("Read-only file system"), "{err}");
    }
}

/// The image plants its device paths as symlinks: /dev/null to a host file by absolute path,
/// /dev/zero climbing out with `..`, /dev/tty into the image's own /etc; the config has no /dev
/// mount, so the runtime makes the nodes in the image's own /dev. Nothing is followed: the
/// links are replaced by the devices and the files they pointed at are untouched. A
/// `linux.devices` path planted as a symlink (to a host directory) is refused by field.
#[test]
fn device_symlinks_planted_by_the_image_are_never_followed() {
    let host = host_dir_with_marker();
    let marker = host.path().join("marker");
    let bundle = |fuse_link: bool| {
        let mut b = own_bundle(&[
            "sh",
            "-c",
            "stat -c '%n %F %t:%T' /dev/null /dev/zero /dev/tty /dev/husk-fuse",
        ]);
        b.remove_mount("/dev");
        b.push(
            "/linux/devices",
            json!({"path": "/dev/husk-fuse", "type": "c", "major": 10, "minor": 229}),
        );
        b.push(
            "/linux/resources/devices",
            json!({"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rwm"}),
        );
        let dev = b.rootfs().join("dev");
        let climb = format!("../../../../../../../../..{}", marker.display());
        let mut links = vec![
            ("null", marker.to_str().unwrap().to_owned()),
            ("zero", climb),
            ("tty", "../etc/passwd".to_owned()),
        ];
        if fuse_link {
            links.push(("husk-fuse", host.path().to_str().unwrap().to_owned()));
        }
        for (name, target) in links {
            let _ = fs::remove_file(dev.join(name));
            symlink(target, dev.join(name)).unwrap();
        }
        b
    };
    let untouched = |b: &Bundle| {
        assert_eq!(fs::read_to_string(&marker).unwrap(), "HOST-SECRET\n");
        assert_eq!(listing(host.path()), ["marker", "prog"]);
        assert_eq!(
            fs::read_to_string(b.rootfs().join("etc/passwd")).unwrap(),
            rootfs::PASSWD
        );
    };
    let rt = Runtime::new();
    let b = bundle(false);
    let out = rt.run_ok(&b);
    untouched(&b);
    if reference_lacks(
        "replacing the links (runc 1.1.5 keeps what the image has at a default device path)",
    ) {
        return;
    }
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "/dev/null character special file 1:3",
            "/dev/zero character special file 1:5",
            "/dev/tty character special file 5:0",
            "/dev/husk-fuse character special file a:e5",
        ],
        "{out}"
    );

    let b = bundle(true);
    let o = rt.run(&b);
    untouched(&b);
    o.failed()
        .stderr_mentions(&["linux.devices[0]", "/dev/husk-fuse", "symlink"]);
    rt.assert_left_nothing(&b);
}
