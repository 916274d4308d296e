//! Regressions: each test is a bug an attack review found (fixed in "Fixes from an attack
//! review"), and fails on the old behaviour, named in its doc comment.
//!
//! Already covered elsewhere, so not repeated here: rootfsPropagation "shared" on / (mounts.rs
//! `rootfs_propagation_private_and_shared`), a failing poststop hook not stopping the next one
//! (hooks.rs `a_failing_poststop_hook_is_a_warning_and_the_rest_still_run`).

#![allow(clippy::unwrap_used)] // tests may unwrap (project rules)

use std::fs;
use std::os::unix::fs::symlink;
use std::process::Stdio;
use std::time::{Duration, Instant};

use husk_tests::runtime::{self, exec_timeout};
use husk_tests::{cgroups, host, reference_lacks, rootfs, Bundle, Runtime};
use serde_json::json;

/// Asserts container `id` left nothing: no state dir, no cgroup, no process.
fn assert_left_nothing(rt: &Runtime, id: &str) {
    runtime::reap_orphans();
    assert!(!rt.root().join(id).exists(), "state dir of {id} left");
    for d in cgroups::container_dirs(id) {
        assert!(!d.exists(), "cgroup {} left", d.display());
    }
    let procs = host::processes_mentioning(&[&format!("HUSK_TEST_MARKER={id}")]);
    assert!(procs.is_empty(), "processes of {id} left: {procs:?}");
}

/// Live processes whose command line contains `needle`.
fn processes_with_arg(needle: &str) -> Vec<i32> {
    let mut found = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if text.contains(needle) && host::alive(pid) {
            found.push(pid);
        }
    }
    found
}

/// Old behaviour: uid 4294967295 is (uid_t)-1, which setresuid(2) reads as "leave unchanged",
/// so the container ran as root.
#[test]
fn uid_4294967295_is_refused_naming_the_field() {
    if reference_lacks("the (uid_t)-1 check (runc 1.1.5 runs the process as root)") {
        return;
    }
    let rt = Runtime::new();
    for field in ["uid", "gid"] {
        let mut b = Bundle::busybox(&["id"]);
        b.set(&format!("/process/user/{field}"), json!(4294967295u32));
        rt.create_with(&b, &b.id, &[])
            .failed()
            .stderr_mentions(&[&format!("process.user.{field}")]);
        assert_left_nothing(&rt, &b.id);
    }
}

/// SIGKILLs the container init `pid` when dropped (also on a failed assertion), so a test that
/// stopped it cannot leave it stopped, holding what it holds.
struct KillInit(i32);

impl Drop for KillInit {
    fn drop(&mut self) {
        let comm = fs::read_to_string(format!("/proc/{}/comm", self.0)).unwrap_or_default();
        if comm.trim() == "husk:[2:INIT]" {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.0),
                nix::sys::signal::Signal::SIGKILL,
            );
            runtime::reap(self.0);
        }
    }
}

/// Old behaviour: the container init inherited the flock on the state dir that `create`
/// holds; with `create` killed (no unlock on SIGKILL), an init that was not at that moment
/// reading its channel to the parent (so never saw it close) held the lock for as long as it
/// lived, and `state` and `delete --force` hung on it. The createRuntime hook stops the init
/// (SIGSTOP, with the pid from its stdin) to hold it there, then sleeps.
#[test]
fn a_create_killed_half_way_can_be_stated_and_force_deleted() {
    if reference_lacks("husk's state lock (runc has no such lock)") {
        return;
    }
    let rt = Runtime::new();
    let pid_file = rt.scratch().join("init.pid");
    let mut b = Bundle::busybox(&["sleep", "30"]);
    let script = format!(
        "pid=$(tr -d ' \\n' | grep -o '\"pid\":[0-9]*' | cut -d: -f2); \
         kill -STOP $pid; echo $pid > {}; sleep 2.0417",
        pid_file.display()
    );
    b.hook(
        "createRuntime",
        json!({"path": "/bin/sh", "args": ["sh", "-c", script], "timeout": 20}),
    );
    b.write();
    rt.adopt(&b.id);
    let bundle = b.path().to_str().unwrap().to_string();
    let mut cmd = rt.command(&["create", "--bundle", &bundle, &b.id], &b.id);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = runtime::spawn(&mut cmd);
    let deadline = Instant::now() + Duration::from_secs(20);
    let pid = loop {
        if let Ok(p) = fs::read_to_string(&pid_file) {
            if let Ok(p) = p.trim().parse::<i32>() {
                break p;
            }
        }
        assert!(Instant::now() < deadline, "the hook never ran");
        std::thread::sleep(Duration::from_millis(20));
    };
    let _kill_init = KillInit(pid);
    std::thread::sleep(Duration::from_millis(500));
    child.kill().unwrap();
    runtime::wait_child(&mut child, Duration::from_secs(5), "killed create");

    let quick = Duration::from_secs(10);
    let t = Instant::now();
    let state = exec_timeout(rt.command(&["state", &b.id], &b.id), true, quick);
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "state took {:?}",
        t.elapsed()
    );
    // Whatever it reports (creating, or an error), it must answer.
    if state.status.success() {
        let v: serde_json::Value = serde_json::from_str(&state.stdout).unwrap();
        assert_eq!(v["id"], b.id.as_str(), "{state:#?}");
    }
    let t = Instant::now();
    exec_timeout(
        rt.command(&["delete", "--force", &b.id], &b.id),
        true,
        quick,
    )
    .ok();
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "delete took {:?}",
        t.elapsed()
    );
    runtime::reap(pid);
    assert!(!host::alive(pid), "delete --force left the init {pid}");
    assert!(rt.try_state(&b.id).is_none(), "state answers after delete");
    assert_left_nothing(&rt, &b.id);
    // The hook's sleep ends by itself (it belonged to the killed create).
    let deadline = Instant::now() + Duration::from_secs(5);
    while !processes_with_arg("sleep 2.0417").is_empty() {
        assert!(Instant::now() < deadline, "the hook's sleep outlived 2 s");
        std::thread::sleep(Duration::from_millis(50));
        runtime::reap_orphans();
    }
}

/// Old behaviour: masked paths were looked at with lstat, so a dangling symlink failed the
/// mount (create failed) and a symlink to a directory was masked as a file.
#[test]
fn masked_symlinks_dangling_and_to_a_directory() {
    let rt = Runtime::new();
    let root = tempfile::tempdir().unwrap();
    rootfs::busybox_copy(root.path());
    fs::write(root.path().join("mnt/a/secret"), "secret\n").unwrap();
    symlink("/husk-no-such-target", root.path().join("dangling")).unwrap();
    // Absolute: followed inside the container's root, never the host's.
    symlink("/mnt/a", root.path().join("to-dir")).unwrap();
    let mut b = Bundle::with_rootfs(
        root.path(),
        &[
            "sh",
            "-c",
            "ls -A /mnt/a; echo ---; grep ' /mnt/a ' /proc/self/mountinfo; touch /mnt/a/w 2>&1; echo rc=$?",
        ],
    );
    b.set("/linux/maskedPaths", json!(["/dangling", "/to-dir"]));
    let o = rt.run(&b);
    assert!(o.status.success(), "{o:#?}");
    let (ls, rest) = o.stdout.split_once("---\n").unwrap();
    assert_eq!(ls, "", "the directory is not masked: {}", o.stdout);
    let line = rest.lines().next().unwrap_or("");
    let fields: Vec<&str> = line.split(' ').collect();
    let sep = fields.iter().position(|f| *f == "-").unwrap();
    assert_eq!(fields[sep + 1], "tmpfs", "{line}");
    assert!(
        fields[5].split(',').any(|o| o == "ro"),
        "mask not read-only: {line}"
    );
    assert!(
        rest.contains("Read-only file system") && rest.ends_with("rc=1\n"),
        "{}",
        o.stdout
    );
    // The host's side is untouched.
    assert!(root.path().join("mnt/a/secret").exists());
    assert!(fs::symlink_metadata(root.path().join("dangling"))
        .unwrap()
        .file_type()
        .is_symlink());
}

/// Old behaviour: a hook past its timeout was killed alone; what it had started (here two
/// `sleep 100.123`s) lived on, outside any cgroup the runtime cleans.
#[test]
fn a_timed_out_hook_takes_its_children_along() {
    let rt = Runtime::new();
    let arg = format!("100.{}", std::process::id());
    let mut b = Bundle::busybox(&["sleep", "30"]);
    b.hook(
        "createRuntime",
        json!({"path": "/bin/sh",
               "args": ["sh", "-c", format!("sleep {arg} & sleep {arg}")],
               "timeout": 1}),
    );
    let t = Instant::now();
    rt.create_with(&b, &b.id, &[])
        .failed()
        .stderr_mentions(&["timeout"]);
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert_left_nothing(&rt, &b.id);
    // killpg is asynchronous only up to the reap; give the kernel a moment.
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        runtime::reap_orphans();
        let left = processes_with_arg(&format!("sleep {arg}"));
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the hook's children survived it: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Old behaviour: signal 0 (the existence check of kill(2)) was refused as an unknown signal.
#[test]
fn kill_0_succeeds_on_a_running_container_and_fails_on_a_stopped_one() {
    let rt = Runtime::new();
    let b = Bundle::busybox(&["sleep", "30"]);
    rt.create_start(&b);
    rt.kill(&b.id, "0").ok();
    assert_eq!(rt.status(&b.id), "running", "signal 0 must not kill");
    rt.kill(&b.id, "KILL").ok();
    rt.wait_status(&b.id, "stopped");
    rt.kill(&b.id, "0").failed();
    rt.delete(&b.id).ok();
    assert_left_nothing(&rt, &b.id);
}
