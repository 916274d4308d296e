//! The OCI lifecycle through the runc command line: create, start, state, kill, delete, run,
//! list, spec, --pid-file (runtime-tools validation: create, start, state, kill, killsig, delete,
//! pidfile, config_updates_without_affect).

#![allow(clippy::unwrap_used)] // tests may unwrap (project rules)

use std::fs;
use std::time::Duration;

use husk_tests::{cgroups, host, Bundle, Runtime};
use serde_json::json;

fn cmdline(pid: i64) -> String {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

#[test]
fn create_leaves_created_state_with_all_fields() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["sleep", "30"]);
    b.set("/annotations", json!({"org.husk.test": "lifecycle"}));
    rt.create(&b);
    let st = rt.state(&b.id);
    assert_eq!(st["id"], json!(b.id));
    assert_eq!(st["status"], "created");
    assert!(st["ociVersion"].as_str().unwrap().starts_with("1."), "{st}");
    let pid = st["pid"].as_i64().unwrap();
    assert!(
        pid > 0 && host::alive(pid as i32),
        "pid {pid} of a created container must live"
    );
    assert_eq!(st["bundle"], json!(b.path()));
    assert_eq!(st["annotations"]["org.husk.test"], "lifecycle");
    // runc's extra fields, which clients read.
    assert_eq!(st["rootfs"], json!(b.rootfs()));
    assert_eq!(st["owner"], "");
    let created = st["created"].as_str().unwrap();
    assert!(
        created.len() >= 20 && created.contains('T'),
        "created = {created:?}"
    );
    // Held before exec of the user program: the process is not `sleep` yet.
    assert!(
        !cmdline(pid).starts_with("sleep"),
        "exec happened before start: {}",
        cmdline(pid)
    );
}

#[test]
fn annotations_stay_in_state_through_the_lifecycle() {
    // runtime-spec runtime.md "State": `annotations` is the list of annotations of the
    // container's config, whatever its status. Keys with dots and slashes, an empty value and
    // non-ASCII text must come back exactly as written.
    let annotations = json!({
        "org.husk.test": "lifecycle",
        "io.kubernetes.cri/sandbox-id": "0123abcd",
        "org.husk.empty": "",
        "org.husk.text": "ünïcode \"quoted\" text"
    });
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["sleep", "30"]);
    b.set("/annotations", annotations.clone());
    rt.create(&b);
    assert_eq!(rt.state(&b.id)["annotations"], annotations);
    rt.start(&b.id).ok();
    assert_eq!(rt.state(&b.id)["status"], "running");
    assert_eq!(rt.state(&b.id)["annotations"], annotations);
    rt.kill(&b.id, "KILL").ok();
    rt.wait_status(&b.id, "stopped");
    assert_eq!(rt.state(&b.id)["annotations"], annotations);
    let list = rt.cmd(&["list", "--format", "json"]).ok();
    let list: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    let entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == json!(b.id))
        .unwrap()
        .clone();
    assert_eq!(entry["annotations"], annotations, "{list}");
    // A container without annotations has none in its state (the spec allows absent or {}).
    let plain = Bundle::busybox(&["sleep", "30"]);
    rt.create(&plain);
    let st = rt.state(&plain.id);
    let none = match st.get("annotations") {
        None => true,
        Some(a) => a.as_object().is_some_and(|m| m.is_empty()),
    };
    assert!(none, "{st}");
}

#[test]
fn start_execs_the_program_and_state_becomes_running() {
    let rt = Runtime::new();
    let b = Bundle::busybox(&["sleep", "30"]);
    rt.create(&b);
    let pid = rt.state(&b.id)["pid"].as_i64().unwrap();
    rt.start(&b.id).ok();
    assert_eq!(rt.status(&b.id), "running");
    assert_eq!(
        rt.state(&b.id)["pid"].as_i64().unwrap(),
        pid,
        "start must not change the pid"
    );
    assert_eq!(cmdline(pid), "sleep 30 ");
    // A second start fails: the container is no longer `created`.
    rt.start(&b.id).failed();
    assert_eq!(rt.status(&b.id), "running");
}

#[test]
fn transitions_created_running_stopped_deleted() {
    let rt = Runtime::new();
    let b = Bundle::busybox(&["sleep", "30"]);
    rt.create(&b);
    assert_eq!(rt.status(&b.id), "created");
    rt.start(&b.id).ok();
    assert_eq!(rt.status(&b.id), "running");
    rt.kill(&b.id, "KILL").ok();
    rt.wait_status(&b.id, "stopped");
    rt.delete(&b.id).ok();
    assert!(
        rt.try_state(&b.id).is_none(),
        "state must fail after delete"
    );
    assert!(
        !rt.root().join(&b.id).exists(),
        "state dir left after delete"
    );
    for dir in cgroups::container_dirs(&b.id) {
        assert!(!dir.exists(), "cgroup {} left after delete", dir.display());
    }
}

#[test]
fn a_program_that_exits_leaves_the_container_stopped() {
    let rt = Runtime::new();
    let b = Bundle::busybox(&["sh", "-c", "echo out-$((40+2))"]);
    rt.create_start(&b);
    rt.wait_status(&b.id, "stopped");
    assert_eq!(rt.container_stdout(&b.id), "out-42\n");
    rt.delete(&b.id).ok();
}

#[test]
fn state_and_start_of_an_unknown_container_fail() {
    let rt = Runtime::new();
    rt.cmd(&["state", "husk-no-such"]).failed();
    rt.start("husk-no-such").failed();
    rt.kill("husk-no-such", "KILL").failed();
    rt.delete("husk-no-such").failed();
}

fn signal_catcher() -> Bundle {
    // sh is pid 1 of a new pid namespace: only signals it has a handler for reach it.
    Bundle::busybox(&[
        "sh",
        "-c",
        "for s in TERM USR1 USR2 HUP; do trap \"echo got-$s; exit 0\" $s; done; \
         echo ready; while true; do sleep 0.05; done",
    ])
}

fn wait_for_stdout(rt: &Runtime, id: &str, text: &str) {
    for _ in 0..400 {
        if rt.container_stdout(id).contains(text) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!(
        "container {id} never printed {text:?}: {:?}",
        rt.container_stdout(id)
    );
}

#[test]
fn kill_sends_sigterm_by_default() {
    let rt = Runtime::new();
    let b = signal_catcher();
    rt.create_start(&b);
    wait_for_stdout(&rt, &b.id, "ready");
    rt.cmd(&["kill", &b.id]).ok();
    wait_for_stdout(&rt, &b.id, "got-TERM");
    rt.wait_status(&b.id, "stopped");
}

#[test]
fn kill_takes_signal_names_and_numbers() {
    for (sig, seen) in [
        ("USR1", "got-USR1"),
        ("SIGUSR2", "got-USR2"),
        ("1", "got-HUP"),
    ] {
        let rt = Runtime::new();
        let b = signal_catcher();
        rt.create_start(&b);
        wait_for_stdout(&rt, &b.id, "ready");
        rt.kill(&b.id, sig).ok();
        wait_for_stdout(&rt, &b.id, seen);
        rt.wait_status(&b.id, "stopped");
    }
}

#[test]
fn kill_9_and_sigkill_stop_the_container() {
    for sig in ["9", "SIGKILL"] {
        let rt = Runtime::new();
        let b = Bundle::busybox(&["sleep", "30"]);
        rt.create_start(&b);
        rt.kill(&b.id, sig).ok();
        rt.wait_status(&b.id, "stopped");
    }
}

#[test]
fn kill_of_a_created_container_stops_it() {
    let rt = Runtime::new();
    let b = Bundle::busybox(&["sleep", "30"]);
    rt.create(&b);
    rt.kill(&b.id, "KILL").ok();
    rt.wait_status(&b.id, "stopped");
}

#[test]
fn kill_all_reaches_every_process() {
    let rt = Runtime::new();
    // Without a pid namespace, so --all is what reaches the background sleeps.
    let mut b = Bundle::busybox(&["sh", "-c", "sleep 30 & sleep 30 & echo $!; wait"]);
    b.namespaces(&["network", "ipc", "uts", "mount"]);
    rt.create_start(&b);
    wait_for_stdout(&rt, &b.id, "\n");
    let child: i32 = rt.container_stdout(&b.id).trim().parse().unwrap();
    assert!(host::alive(child));
    rt.cmd(&["kill", "--all", &b.id, "KILL"]).ok();
    rt.wait_status(&b.id, "stopped");
    for _ in 0..200 {
        if !host::alive(child) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("kill --all left pid {child} alive");
}

#[test]
fn delete_of_a_created_container_succeeds_as_runc_does() {
    // runtime-spec says delete of a non-stopped container is an error; runc (and containerd,
    // which relies on it) deletes a created one. A documented difference from the spec.
    let rt = Runtime::new();
    let b = Bundle::busybox(&["sleep", "30"]);
    rt.create(&b);
    let pid = rt.state(&b.id)["pid"].as_i64().unwrap() as i32;
    rt.delete(&b.id).ok();
    assert!(rt.try_state(&b.id).is_none());
    husk_tests::runtime::reap(pid);
    assert!(
        !host::alive(pid),
        "init {pid} of a deleted created container lives on"
    );
}

#[test]
fn delete_of_a_running_container_fails_without_force() {
    let rt = Runtime::new();
    let b = Bundle::busybox(&["sleep", "30"]);
    rt.create_start(&b);
    let pid = rt.state(&b.id)["pid"].as_i64().unwrap() as i32;
    rt.delete(&b.id).failed().stderr_mentions(&["running"]);
    assert_eq!(
        rt.status(&b.id),
        "running",
        "a refused delete must have no effect"
    );
    rt.cmd(&["delete", "--force", &b.id]).ok();
    assert!(rt.try_state(&b.id).is_none());
    husk_tests::runtime::reap(pid);
    assert!(!host::alive(pid), "delete --force left pid {pid} alive");
    for dir in cgroups::container_dirs(&b.id) {
        assert!(
            !dir.exists(),
            "cgroup {} left after delete --force",
            dir.display()
        );
    }
}

#[test]
fn kill_of_a_stopped_container_fails() {
    let rt = Runtime::new();
    let b = Bundle::busybox(&["true"]);
    rt.create_start(&b);
    rt.wait_status(&b.id, "stopped");
    rt.kill(&b.id, "KILL").failed();
    rt.delete(&b.id).ok();
}

#[test]
fn run_exits_with_the_container_status() {
    let rt = Runtime::new();
    let b = Bundle::busybox(&["true"]);
    assert_eq!(rt.run(&b).code(), Some(0));
    let b = Bundle::busybox(&["sh", "-c", "exit 3"]);
    assert_eq!(rt.run(&b).code(), Some(3));
    // Killed by SIGKILL: 128 + 9. Outside a pid namespace, where sh is not an init that
    // ignores signals it has no handler for.
    let mut b = Bundle::busybox(&["sh", "-c", "kill -9 $$"]);
    b.namespaces(&["mount", "ipc", "uts", "network"]);
    assert_eq!(rt.run(&b).code(), Some(137));
    // run deletes the container afterwards.
    assert!(rt.try_state(&b.id).is_none());
    assert!(!rt.root().join(&b.id).exists());
}

#[test]
fn run_passes_stdout_and_stderr_through() {
    let rt = Runtime::new();
    let b = Bundle::busybox(&["sh", "-c", "echo to-out; echo to-err >&2"]);
    let o = rt.run(&b).ok();
    assert_eq!(o.stdout, "to-out\n");
    assert!(o.stderr.contains("to-err\n"), "{o:?}");
}

#[test]
fn run_detach_leaves_it_running() {
    let rt = Runtime::new();
    let b = Bundle::busybox(&["sleep", "30"]);
    b.write();
    let dir = b.path().to_string_lossy().into_owned();
    // Stdio to files: the detached container keeps them open.
    let mut cmd = rt.command(&["run", "-d", "--bundle", &dir, &b.id], &b.id);
    cmd.stdout(fs::File::create(rt.stdio_path(&b.id, "out")).unwrap());
    cmd.stderr(fs::File::create(rt.stdio_path(&b.id, "err")).unwrap());
    let o = husk_tests::runtime::exec(cmd, false);
    assert!(
        o.status.success(),
        "{:?}",
        fs::read_to_string(rt.stdio_path(&b.id, "err"))
    );
    assert_eq!(rt.status(&b.id), "running");
    rt.cmd(&["delete", "--force", &b.id]).ok();
}

#[test]
fn list_shows_containers_as_json_and_quiet() {
    let rt = Runtime::new();
    let b1 = Bundle::busybox(&["sleep", "30"]);
    let b2 = Bundle::busybox(&["sleep", "30"]);
    rt.create(&b1);
    rt.create_start(&b2);
    let o = rt.cmd(&["list", "--format", "json"]).ok();
    let list: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    let find = |id: &str| list.iter().find(|c| c["id"] == id).unwrap().clone();
    assert_eq!(find(&b1.id)["status"], "created");
    assert_eq!(find(&b2.id)["status"], "running");
    assert_eq!(find(&b2.id)["bundle"], json!(b2.path()));
    assert!(find(&b2.id)["pid"].as_i64().unwrap() > 0);
    let q = rt.cmd(&["list", "--quiet"]).ok();
    let mut ids: Vec<&str> = q.stdout.lines().collect();
    ids.sort();
    let mut want = vec![b1.id.as_str(), b2.id.as_str()];
    want.sort();
    assert_eq!(ids, want);
    let table = rt.cmd(&["list"]).ok();
    assert!(table.stdout.starts_with("ID"), "{table:?}");
    assert!(table.stdout.contains(&b2.id));
}

#[test]
fn list_of_an_empty_root_is_an_empty_json_array_or_null() {
    let rt = Runtime::new();
    let o = rt.cmd(&["list", "--format", "json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    // runc prints `null`; an empty array means the same to every client.
    assert!(v.is_null() || v == json!([]), "{v}");
}

#[test]
fn pid_file_holds_the_container_pid() {
    let rt = Runtime::new();
    let b = Bundle::busybox(&["sleep", "30"]);
    let pid_file = rt.scratch().join("ctr.pid");
    rt.create_with(&b, &b.id, &["--pid-file", pid_file.to_str().unwrap()])
        .ok();
    let written = fs::read_to_string(&pid_file).unwrap();
    let pid = rt.state(&b.id)["pid"].as_i64().unwrap();
    assert_eq!(written.trim(), pid.to_string());
}

#[test]
fn later_edits_of_the_bundle_config_do_not_affect_the_container() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["sh", "-c", "echo original"]);
    rt.create(&b);
    b.args(&["sh", "-c", "echo edited"]);
    b.write();
    rt.start(&b.id).ok();
    rt.wait_status(&b.id, "stopped");
    assert_eq!(rt.container_stdout(&b.id), "original\n");
}

#[test]
fn spec_writes_runc_default_config_that_runs() {
    let rt = Runtime::new();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    // Run from a different cwd: --bundle names where to write.
    rt.cmd(&["spec", "--bundle", d]).ok();
    let cfg: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["process"]["terminal"], true);
    assert_eq!(cfg["process"]["args"], json!(["sh"]));
    assert_eq!(cfg["root"]["path"], "rootfs");
    let dests: Vec<&str> = cfg["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["destination"].as_str().unwrap())
        .collect();
    for d in [
        "/proc",
        "/dev",
        "/dev/pts",
        "/dev/shm",
        "/dev/mqueue",
        "/sys",
        "/sys/fs/cgroup",
    ] {
        assert!(dests.contains(&d), "default mounts lack {d}: {dests:?}");
    }
    let ns: Vec<&str> = cfg["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    for t in ["pid", "network", "ipc", "uts", "mount"] {
        assert!(ns.contains(&t), "default namespaces lack {t}: {ns:?}");
    }
    assert_eq!(cfg["process"]["rlimits"][0]["type"], "RLIMIT_NOFILE");
    assert!(cfg["linux"]["maskedPaths"].as_array().unwrap().len() >= 5);
    assert!(cfg["linux"]["readonlyPaths"].as_array().unwrap().len() >= 3);

    // `spec` then `run` in a terminal: ./rootfs a private busybox tree, the runtime's stdio a
    // pty. Only cgroupsPath changes, to keep the test's cgroup under the test parent.
    husk_tests::rootfs::busybox_copy(&dir.path().join("rootfs"));
    let id = husk_tests::bundle::unique_id();
    let mut cfg = cfg;
    cfg["linux"]["cgroupsPath"] = json!(cgroups::cgroups_path(&id));
    fs::write(dir.path().join("config.json"), cfg.to_string()).unwrap();
    let out = run_in_pty(&rt, dir.path(), &id, "echo tty-$((6*7)); tty; exit 5\n");
    assert!(out.0.contains("tty-42"), "pty output: {:?}", out.0);
    assert!(
        out.0.contains("/dev/pts/"),
        "process.terminal gives a pty: {:?}",
        out.0
    );
    assert_eq!(out.1, Some(5));
}

/// Runs `run` of the bundle at `dir` with the runtime's stdio on a new pty, types `input`, and
/// returns what appeared on the pty and the exit code.
fn run_in_pty(rt: &Runtime, dir: &std::path::Path, id: &str, input: &str) -> (String, Option<i32>) {
    use std::io::{Read, Write};
    use std::process::Stdio;
    let pty = nix::pty::openpty(None, None).unwrap();
    let mut cmd = rt.command(&["run", "--bundle", dir.to_str().unwrap(), id], id);
    cmd.stdin(Stdio::from(pty.slave.try_clone().unwrap()))
        .stdout(Stdio::from(pty.slave.try_clone().unwrap()))
        .stderr(Stdio::from(pty.slave));
    let mut child = husk_tests::runtime::spawn(&mut cmd);
    // The Command holds copies of the slave fds: drop it, or the master never reads EIO.
    drop(cmd);
    let mut master = fs::File::from(pty.master);
    let mut reader = master.try_clone().unwrap();
    let collected = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        // Reads until EIO: every slave fd is closed.
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&all).into_owned()
    });
    std::thread::sleep(Duration::from_millis(300));
    master.write_all(input.as_bytes()).unwrap();
    let status =
        husk_tests::runtime::wait_child(&mut child, Duration::from_secs(20), "run in a pty");
    drop(master);
    (collected.join().unwrap(), status.code())
}
