//! `exec`: a new process in a running container, with runc 1.1's flags (runtime-tools
//! validation: exec, console). Every test runs under runc 1.1.5 too (`HUSK_RUNTIME=/usr/sbin/runc`),
//! except where it says why not.

#![allow(clippy::unwrap_used)] // tests may unwrap (project rules)

use std::fs;
use std::process::Stdio;
use std::time::Duration;

use husk_tests::console::{read_all, ConsoleSocket};
use husk_tests::runtime::{exec, spawn, wait_child};
use husk_tests::{cgroups, host, reference_lacks, Bundle, Outcome, Runtime};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use serde_json::json;

#[test]
fn exec_joins_every_namespace_and_the_cgroup_of_the_container() {
    let rt = Runtime::new();
    let husk = !reference_lacks("runc 1.1.5 has no time namespace: checked without it");
    let mut b = Bundle::busybox(&["sleep", "1000"]);
    let mut types = vec!["pid", "network", "ipc", "uts", "mount", "cgroup", "user"];
    if husk {
        types.push("time");
        b.set(
            "/linux/timeOffsets",
            json!({"boottime": {"secs": 86400, "nanosecs": 0}}),
        );
    }
    b.namespaces(&types);
    b.set(
        "/linux/uidMappings",
        json!([{"containerID": 0, "hostID": 0, "size": 65536}]),
    );
    b.set(
        "/linux/gidMappings",
        json!([{"containerID": 0, "hostID": 0, "size": 65536}]),
    );
    b.set("/hostname", json!("exec-ns"));
    let init = rt.running(&b);
    let pid = rt.exec_detached(&b.id, &[], &["sleep", "1000"]);
    let mut names = vec!["mnt", "pid", "net", "ipc", "uts", "cgroup", "user"];
    if husk {
        names.push("time");
    }
    assert_eq!(host::ns_links(pid, &names), host::ns_links(init, &names));
    for n in &names {
        assert_ne!(
            fs::read_link(format!("/proc/{pid}/ns/{n}")).unwrap(),
            fs::read_link(format!("/proc/self/ns/{n}")).unwrap(),
            "{n} is the host's"
        );
    }
    assert_eq!(
        fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap(),
        fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap()
    );
    // Seen from inside: a pid of the container's pid namespace, its hostname, its clock.
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let nspid = status.lines().find(|l| l.starts_with("NSpid:")).unwrap();
    assert_eq!(nspid.split_whitespace().count(), 3, "{nspid}");
    husk_tests::runtime::kill_reap(pid);
    let o = rt
        .exec_in(
            &b.id,
            &[],
            &[
                "sh",
                "-c",
                "hostname; cat /proc/self/stat; cat /proc/uptime",
            ],
        )
        .ok();
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines[0], "exec-ns");
    let inner_pid: i32 = lines[1].split(' ').next().unwrap().parse().unwrap();
    assert!(inner_pid > 1 && inner_pid < 100, "{}", lines[1]);
    if husk {
        let up: f64 = lines[2].split(' ').next().unwrap().parse().unwrap();
        assert!(
            up > 86400.0,
            "the time namespace's offset is missing: {}",
            lines[2]
        );
    }
}

#[test]
fn the_exit_status_is_the_process_s_own_and_255_when_exec_fails() {
    let rt = Runtime::new();
    let b = Bundle::busybox(&["sleep", "1000"]);
    rt.running(&b);
    let ok = rt.exec_in(&b.id, &[], &["sh", "-c", "echo out; echo err >&2; exit 7"]);
    assert_eq!(ok.code(), Some(7), "{ok:#?}");
    assert_eq!(ok.stdout, "out\n");
    assert!(ok.stderr.contains("err"), "{ok:#?}");
    let killed = rt.exec_in(&b.id, &[], &["sh", "-c", "kill -9 $$"]);
    assert_eq!(killed.code(), Some(137), "{killed:#?}");
    let missing = rt.exec_in(&b.id, &[], &["no-such-program"]);
    assert_eq!(missing.code(), Some(255), "{missing:#?}");
    missing.stderr_mentions(&["no-such-program", "executable file not found"]);
    let not_exec = rt.exec_in(&b.id, &[], &["/etc/passwd"]);
    assert_eq!(not_exec.code(), Some(255), "{not_exec:#?}");
    not_exec.stderr_mentions(&["permission denied"]);
    rt.kill(&b.id, "KILL").ok();
    rt.wait_status(&b.id, "stopped");
    let stopped = rt.exec_in(&b.id, &[], &["true"]);
    assert_eq!(stopped.code(), Some(255), "{stopped:#?}");
    stopped.stderr_mentions(&["stopped"]);
    let unknown = rt.exec_in("no-such-container", &[], &["true"]);
    assert_eq!(unknown.code(), Some(255), "{unknown:#?}");
}

#[test]
fn the_flags_change_the_container_s_process() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["sleep", "1000"]);
    b.set("/process/noNewPrivileges", json!(false));
    rt.running(&b);
    let show = "id -u; id -g; id -G; pwd; echo A=$A; env | grep -c ^TERM=; echo TERM=$TERM; \
                ulimit -n; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status";
    let o = rt
        .exec_in(
            &b.id,
            &[
                "-u",
                "1000:1001",
                "-g",
                "5",
                "-g",
                "7",
                "--cwd",
                "/tmp",
                "-e",
                "A=1",
                "-e",
                "TERM=dumb",
            ],
            &["sh", "-c", show],
        )
        .ok();
    assert_eq!(
        o.stdout.lines().collect::<Vec<_>>(),
        [
            "1000",
            "1001",
            "1001 5 7",
            "/tmp",
            "A=1",
            "1",
            "TERM=dumb",
            "1024",
            "CapEff:\t0000000000000000",
            "NoNewPrivs:\t0"
        ]
    );
    // As root, with a capability added and no_new_privs asked for.
    let o = rt
        .exec_in(
            &b.id,
            &["--cap", "CAP_SYS_ADMIN", "--no-new-privs"],
            &[
                "sh",
                "-c",
                "grep -E '^(CapEff|NoNewPrivs)' /proc/self/status",
            ],
        )
        .ok();
    assert_eq!(o.stdout, "CapEff:\t0000000020200420\nNoNewPrivs:\t1\n");
    let o = rt.exec_in(&b.id, &["-u", "root"], &["true"]);
    assert_ne!(o.code(), Some(0), "{o:#?}");
}

#[test]
fn a_process_file_is_the_whole_process_but_for_what_it_leaves_out() {
    let rt = Runtime::new();
    let b = Bundle::busybox(&["sleep", "1000"]);
    rt.running(&b);
    let f = rt.scratch().join("process.json");
    fs::write(
        &f,
        json!({
            "args": ["sh", "-c", "env | sort; ulimit -n; grep CapEff /proc/self/status; id -u; pwd"],
            "env": ["PATH=/bin", "FROM=file"],
            "cwd": "/tmp",
            "user": {"uid": 2, "gid": 2},
            "terminal": false
        })
        .to_string(),
    )
    .unwrap();
    let o = rt
        .exec_in(&b.id, &["--process", f.to_str().unwrap()], &[])
        .ok();
    let lines: Vec<&str> = o.stdout.lines().collect();
    // The file's env only (never merged with the container's), then what it left out: the
    // container's rlimits and capabilities (uid 2 keeps none of them effective).
    assert!(lines.contains(&"FROM=file"), "{lines:?}");
    assert!(!lines.iter().any(|l| l.starts_with("TERM=")), "{lines:?}");
    let tail = &lines[lines.len() - 4..];
    assert_eq!(tail[1..], ["CapEff:\t0000000000000000", "2", "/tmp"]);
    if !reference_lacks("runc 1.1.5 leaves a process file without rlimits with its own") {
        assert_eq!(tail[0], "1024");
    }
}

#[test]
fn detached_exec_writes_its_pid_file_and_leaves_the_process_running() {
    let rt = Runtime::new();
    let b = Bundle::busybox(&["sleep", "1000"]);
    rt.running(&b);
    let pid = rt.exec_detached(&b.id, &[], &["sleep", "999"]);
    assert!(host::alive(pid), "the exec'd process is gone");
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert_eq!(cmdline, b"sleep\x00999\x00");
    // The runtime has exited: the process's parent is the caller's subreaper (this test).
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let ppid: u32 = stat
        .rsplit(") ")
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(ppid, std::process::id());
    // Its own process in the container, seen by `ps`.
    let o = rt.exec_in(&b.id, &[], &["ps", "-o", "args"]).ok();
    assert!(o.stdout.contains("sleep 999"), "{o:#?}");
    husk_tests::runtime::kill_reap(pid);
    // --tty with --detach needs a console socket.
    let o = rt.exec_in(&b.id, &["-d", "-t"], &["true"]);
    assert_eq!(o.code(), Some(255), "{o:#?}");
    o.stderr_mentions(&["console socket"]);
}

/// `sh -c 'exec RUNTIME --root R ARGS 3<FILE'`, so the runtime gets FILE as fd 3, with `env`
/// set before it (`$$` is the runtime's pid after exec).
fn with_fd3(rt: &Runtime, env: &str, args: &str, file: &std::path::Path) -> Outcome {
    let script = format!(
        "{env} exec {} --root {} {args} 3<{}",
        husk_tests::runtime::binary().display(),
        rt.root().display(),
        file.display()
    );
    let mut c = std::process::Command::new("sh");
    c.args(["-c", &script]);
    exec(c, true)
}

#[test]
fn preserved_and_socket_activation_fds_reach_the_program() {
    let rt = Runtime::new();
    let data = rt.scratch().join("fd3.txt");
    fs::write(&data, "through fd 3\n").unwrap();
    // exec --preserve-fds 1.
    let b = Bundle::busybox(&["sleep", "1000"]);
    rt.running(&b);
    let o = with_fd3(
        &rt,
        "",
        &format!("exec --preserve-fds 1 {} cat /proc/self/fd/3", b.id),
        &data,
    );
    assert_eq!(
        (o.code(), o.stdout.as_str()),
        (Some(0), "through fd 3\n"),
        "{o:#?}"
    );
    // Without the flag the fd stays out.
    let o = with_fd3(&rt, "", &format!("exec {} ls /proc/self/fd/3", b.id), &data);
    assert_ne!(
        o.code(),
        Some(0),
        "fd 3 leaked into the exec'd process: {o:#?}"
    );
    // run --preserve-fds 1, and LISTEN_FDS=1 with LISTEN_PID the runtime's.
    let r = Bundle::busybox(&["sh", "-c", "echo LISTEN=$LISTEN_FDS/$LISTEN_PID; cat <&3"]);
    r.write();
    rt.adopt(&r.id);
    let o = with_fd3(
        &rt,
        "LISTEN_FDS=1 LISTEN_PID=$$",
        &format!("run --bundle {} {}", r.path().display(), r.id),
        &data,
    );
    assert_eq!(
        (o.code(), o.stdout.as_str()),
        (Some(0), "LISTEN=1/1\nthrough fd 3\n"),
        "{o:#?}"
    );
    let r2 = Bundle::busybox(&["sh", "-c", "echo LISTEN=$LISTEN_FDS; cat <&3"]);
    r2.write();
    rt.adopt(&r2.id);
    let o = with_fd3(
        &rt,
        "",
        &format!(
            "run --preserve-fds 1 --bundle {} {}",
            r2.path().display(),
            r2.id
        ),
        &data,
    );
    assert_eq!(
        (o.code(), o.stdout.as_str()),
        (Some(0), "LISTEN=\nthrough fd 3\n"),
        "{o:#?}"
    );
    if reference_lacks("runc 1.1.5 fails with EBADF only when it forks, with another message") {
        return;
    }
    let o = with_fd3(
        &rt,
        "",
        &format!("exec --preserve-fds 2 {} true", b.id),
        &data,
    );
    assert_eq!(o.code(), Some(255), "{o:#?}");
    o.stderr_mentions(&["fd 4 is not open", "--preserve-fds"]);
}

#[test]
fn a_terminal_is_made_in_the_container_and_sent_to_the_console_socket() {
    let rt = Runtime::new();
    let b = Bundle::busybox(&["sleep", "1000"]);
    rt.running(&b);
    let sock = ConsoleSocket::listen(rt.scratch());
    let f = rt.scratch().join("process.json");
    fs::write(
        &f,
        json!({
            "args": ["sh", "-c", "tty; stat -c '%u %g %a' $(tty); stty size; ls -l /proc/self/fd/0"],
            "env": ["PATH=/bin"],
            "cwd": "/",
            "user": {"uid": 1000, "gid": 1000},
            "terminal": true,
            "consoleSize": {"height": 33, "width": 101}
        })
        .to_string(),
    )
    .unwrap();
    let pid = rt.exec_detached(
        &b.id,
        &[
            "--process",
            f.to_str().unwrap(),
            "--console-socket",
            sock.path().to_str().unwrap(),
        ],
        &[],
    );
    let (name, master) = sock.master();
    let out = read_all(master).join().unwrap();
    let _ = waitpid(Pid::from_raw(pid), None);
    let lines: Vec<&str> = out.lines().map(|l| l.trim_end_matches('\r')).collect();
    // The container's devpts: its first pty.
    assert_eq!(lines[0], "/dev/pts/0", "{out:?}");
    // The payload names the pty (husk: the slave's path; runc 1.1.5: "/dev/ptmx").
    assert!(name.starts_with("/dev/"), "{name:?}");
    // Owned by the process's user, group tty (5) and mode 620 from the devpts options.
    assert_eq!(lines[1], "1000 5 620", "{out:?}");
    assert_eq!(lines[2], "33 101", "{out:?}");
    assert!(lines[3].ends_with("/dev/pts/0"), "{out:?}");
}

#[test]
fn exec_t_in_the_foreground_proxies_the_terminal() {
    let rt = Runtime::new();
    let b = Bundle::busybox(&["sleep", "1000"]);
    rt.running(&b);
    let pty = nix::pty::openpty(None, None).unwrap();
    let mut cmd = rt.command(
        &["exec", "-t", &b.id, "sh", "-c", "tty; echo in-tty; exit 4"],
        &b.id,
    );
    cmd.stdin(Stdio::from(pty.slave.try_clone().unwrap()))
        .stdout(Stdio::from(pty.slave.try_clone().unwrap()))
        .stderr(Stdio::from(pty.slave));
    let mut child = spawn(&mut cmd);
    drop(cmd);
    let reader = husk_tests::console::read_all(pty.master);
    let st = wait_child(&mut child, Duration::from_secs(60), "exec -t in a pty");
    husk_tests::runtime::waited(&child);
    let out = reader.join().unwrap();
    assert_eq!(st.code(), Some(4), "{out}");
    assert!(
        out.contains("/dev/pts/0") && out.contains("in-tty"),
        "{out:?}"
    );
}

#[test]
fn exec_into_a_paused_container_needs_ignore_paused() {
    let rt = Runtime::new();
    let b = Bundle::busybox(&["sleep", "1000"]);
    rt.running(&b);
    rt.cmd(&["pause", &b.id]).ok();
    if reference_lacks("runc 1.1.5 hangs in `exec --ignore-paused` until resume") {
        rt.cmd(&["resume", &b.id]).ok();
        return;
    }
    let o = rt.exec_in(&b.id, &[], &["true"]);
    assert_eq!(o.code(), Some(255), "{o:#?}");
    o.stderr_mentions(&["paused"]);
    let pid = rt.exec_detached(&b.id, &["--ignore-paused"], &["sleep", "998"]);
    // Frozen with the rest of the container until resume.
    let state = |pid: i32| {
        fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap()
            .rsplit(") ")
            .next()
            .unwrap()
            .chars()
            .next()
            .unwrap()
    };
    let cg = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let init = rt.state(&b.id)["pid"].as_i64().unwrap();
    assert_eq!(
        cg,
        fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap()
    );
    // The program has not started yet: the process waits, frozen, just before its execve.
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert_ne!(cmdline, b"sleep\x00998\x00");
    rt.cmd(&["resume", &b.id]).ok();
    let mut started = false;
    for _ in 0..250 {
        if fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default() == b"sleep\x00998\x00" {
            started = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(started, "the process never ran after resume");
    assert_ne!(state(pid), 'Z');
    husk_tests::runtime::kill_reap(pid);
}

#[test]
fn exec_gets_the_container_s_seccomp_filter() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["sleep", "1000"]);
    b.set(
        "/linux/seccomp",
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
        }),
    );
    rt.running(&b);
    let o = rt.exec_in(&b.id, &[], &["mkdir", "/tmp/x"]);
    assert_eq!(o.code(), Some(1), "{o:#?}");
    o.stderr_mentions(&["not permitted"]);
    let o = rt
        .exec_in(&b.id, &[], &["grep", "Seccomp:", "/proc/self/status"])
        .ok();
    assert_eq!(o.stdout, "Seccomp:\t2\n");
}

#[test]
fn exec_with_cgroup_joins_a_sub_cgroup_of_the_container() {
    let rt = Runtime::new();
    let b = Bundle::busybox(&["sleep", "1000"]);
    rt.running(&b);
    let dirs = cgroups::container_dirs(&b.id);
    for d in &dirs {
        fs::create_dir(d.join("sub")).unwrap();
        // A v1 cpuset cgroup starts with no CPUs and no memory nodes: it takes no process.
        // (On v2 the controller is not enabled below the container: nothing to copy.)
        let v1 = !d.join("cgroup.controllers").exists();
        for f in ["cpuset.cpus", "cpuset.mems"].iter().filter(|_| v1) {
            if let Ok(v) = fs::read_to_string(d.join(f)) {
                fs::write(d.join("sub").join(f), v.trim()).unwrap();
            }
        }
    }
    let pid = rt.exec_detached(&b.id, &["--cgroup", "sub"], &["sleep", "997"]);
    let cg = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let own = cgroups::cgroups_path(&b.id);
    let in_sub = cg
        .lines()
        .filter(|l| l.ends_with(&format!("{own}/sub")))
        .count();
    assert_eq!(in_sub, dirs.len(), "{cg}");
    husk_tests::runtime::kill_reap(pid);
    for d in &dirs {
        // Emptied by the reap; the runtime removes only what it made.
        for _ in 0..100 {
            if fs::remove_dir(d.join("sub")).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let o = rt.exec_in(&b.id, &["--cgroup", "missing"], &["true"]);
    assert_eq!(o.code(), Some(255), "{o:#?}");
}

#[test]
fn a_hundred_parallel_execs_leave_nothing_behind() {
    let rt = Runtime::new();
    let b = Bundle::busybox(&["sleep", "1000"]);
    let init = rt.running(&b);
    let mounts_before = fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .count();
    let t0 = std::time::Instant::now();
    let outs: Vec<Outcome> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..100)
            .map(|i| {
                let rt = &rt;
                let id = b.id.clone();
                s.spawn(move || {
                    let echo = format!("echo exec-{i}");
                    let c = rt.command(&["exec", &id, "sh", "-c", &echo], &id);
                    // 100 debug builds at once take a minute and more in the emulated v2
                    // guest (about 1 s on this host): a generous bound, not a timing check.
                    husk_tests::runtime::exec_timeout(c, true, Duration::from_secs(600))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    eprintln!("100 parallel execs took {:?}", t0.elapsed());
    for (i, o) in outs.iter().enumerate() {
        assert_eq!(
            (o.code(), o.stdout.as_str()),
            (Some(0), format!("exec-{i}\n").as_str()),
            "{o:#?}"
        );
    }
    // Only the init is left in the container's cgroup, and in its pid namespace.
    for d in cgroups::container_dirs(&b.id) {
        let procs = fs::read_to_string(d.join("cgroup.procs")).unwrap();
        assert_eq!(procs.trim(), init.to_string(), "{}", d.display());
    }
    let o = rt.exec_in(&b.id, &[], &["ps", "-o", "pid"]).ok();
    assert_eq!(o.stdout.lines().count(), 3, "{}", o.stdout);
    assert_eq!(
        fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .count(),
        mounts_before
    );
}

/// A minbase container whose program sleeps `delay`, then says READY=1 to $NOTIFY_SOCKET (with
/// perl, which minbase has) and sleeps on.
fn notifying_bundle(delay: &str) -> Bundle {
    let script = format!(
        "use IO::Socket::UNIX; select(undef, undef, undef, {delay}); \
         my $s = IO::Socket::UNIX->new(Type => SOCK_DGRAM(), Peer => $ENV{{NOTIFY_SOCKET}}) \
         or die \"connect $ENV{{NOTIFY_SOCKET}}: $!\"; \
         $s->send(\"READY=1\\n\") or die \"send: $!\"; sleep 1000"
    );
    let mut b = Bundle::minbase(&["perl", "-e", &script]);
    // An ordinary user of the container notifies too.
    b.set("/process/user", json!({"uid": 1000, "gid": 1000}));
    b
}

#[test]
fn run_detach_and_start_report_ready_through_notify_socket() {
    use std::os::unix::net::UnixDatagram;
    let rt = Runtime::new();
    let host = rt.scratch().join("notify.sock");
    let listener = UnixDatagram::bind(&host).unwrap();
    listener
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    // run --detach returns only once the program said READY=1.
    let b = notifying_bundle("1.0");
    b.write();
    rt.adopt(&b.id);
    let bundle = b.path().to_str().unwrap().to_string();
    let mut c = rt.command(&["run", "-d", "--bundle", &bundle, &b.id], &b.id);
    c.env("NOTIFY_SOCKET", &host)
        .stdout(Stdio::null())
        .stderr(fs::File::create(rt.stdio_path(&b.id, "err")).unwrap());
    let t0 = std::time::Instant::now();
    let o = exec(c, false);
    assert!(
        o.status.success(),
        "{}",
        fs::read_to_string(rt.stdio_path(&b.id, "err")).unwrap()
    );
    assert!(
        t0.elapsed() >= Duration::from_millis(900),
        "run -d returned before READY=1: {:?}",
        t0.elapsed()
    );
    let pid = rt.state(&b.id)["pid"].as_i64().unwrap();
    // READY=1 and MAINPID, in one datagram or two (runc 1.1.5 sends two).
    let messages = |listener: &UnixDatagram| {
        let mut all = String::new();
        let mut buf = [0u8; 512];
        while !all.contains("MAINPID=") {
            let n = listener.recv(&mut buf).unwrap();
            all.push_str(&String::from_utf8_lossy(&buf[..n]));
            all.push('\n');
        }
        all
    };
    let msg = messages(&listener);
    assert!(msg.lines().any(|l| l == "READY=1"), "{msg:?}");
    assert!(
        msg.lines().any(|l| l == format!("MAINPID={pid}")),
        "{msg:?}"
    );
    // create, then start with NOTIFY_SOCKET: the same.
    let b2 = notifying_bundle("0.3");
    b2.write();
    rt.adopt(&b2.id);
    let bundle2 = b2.path().to_str().unwrap().to_string();
    let mut c = rt.command(&["create", "--bundle", &bundle2, &b2.id], &b2.id);
    c.env("NOTIFY_SOCKET", &host)
        .stdout(Stdio::null())
        .stderr(fs::File::create(rt.stdio_path(&b2.id, "err")).unwrap());
    assert!(exec(c, false).status.success());
    let mut c = rt.command(&["start", &b2.id], &b2.id);
    c.env("NOTIFY_SOCKET", &host);
    let o = exec(c, true);
    assert!(o.status.success(), "{o:#?}");
    let pid2 = rt.state(&b2.id)["pid"].as_i64().unwrap();
    let msg = messages(&listener);
    assert!(
        msg.lines().any(|l| l == format!("MAINPID={pid2}")),
        "{msg:?}"
    );
}

#[test]
fn exec_cpu_affinity_is_applied_to_the_exec_d_process() {
    let rt = Runtime::new();
    if reference_lacks("runc 1.1.5 predates process.execCPUAffinity") {
        return;
    }
    let cpus = fs::read_to_string("/sys/devices/system/cpu/possible").unwrap();
    if husk_tests::host_lacks(cpus.trim() == "0", "execCPUAffinity needs two CPUs") {
        return;
    }
    let b = Bundle::busybox(&["sleep", "1000"]);
    rt.running(&b);
    let f = rt.scratch().join("process.json");
    fs::write(
        &f,
        json!({
            "args": ["grep", "Cpus_allowed_list", "/proc/self/status"],
            "cwd": "/",
            "user": {"uid": 0, "gid": 0},
            "execCPUAffinity": {"initial": "0", "final": "1"}
        })
        .to_string(),
    )
    .unwrap();
    let o = rt
        .exec_in(&b.id, &["--process", f.to_str().unwrap()], &[])
        .ok();
    assert_eq!(o.stdout, "Cpus_allowed_list:\t1\n");
    // Without it, every CPU of the container's cpuset, whatever the runtime's own affinity.
    let script = format!(
        "exec taskset -c 0 {} --root {} exec {} grep Cpus_allowed_list /proc/self/status",
        husk_tests::runtime::binary().display(),
        rt.root().display(),
        b.id
    );
    let mut c = std::process::Command::new("sh");
    c.args(["-c", &script]);
    let o = exec(c, true);
    assert_eq!(
        o.stdout,
        format!("Cpus_allowed_list:\t{}\n", cpus.trim()),
        "{o:#?}"
    );
}

#[test]
fn an_image_s_passwd_fifo_does_not_hang_exec() {
    let rt = Runtime::new();
    if reference_lacks("husk's own guard: runc 1.1.5 opens the image's /etc/passwd as it is") {
        return;
    }
    let mut b = Bundle::with_own_rootfs(
        |root| {
            husk_tests::rootfs::busybox_copy(root);
            let passwd = root.join("etc/passwd");
            let _ = fs::remove_file(&passwd);
            nix::unistd::mkfifo(&passwd, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
        },
        &["sleep", "1000"],
    );
    b.set("/process/env", json!(["PATH=/bin"]));
    rt.running(&b);
    let o = rt
        .exec_in(&b.id, &[], &["sh", "-c", "echo HOME=$HOME"])
        .ok();
    assert_eq!(o.stdout, "HOME=/\n");
}

#[test]
fn a_terminal_with_create_needs_a_console_socket() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["sh"]);
    b.set("/process/terminal", json!(true));
    let o = rt.create_with(&b, &b.id.clone(), &[]).failed();
    o.stderr_mentions(&["console"]);
    rt.assert_left_nothing(&b);
    // With one, the init's stdio is the pty whose master the socket got.
    let sock = ConsoleSocket::listen(rt.scratch());
    let mut b = Bundle::busybox(&["sh", "-c", "tty; stty size"]);
    b.set("/process/terminal", json!(true));
    b.set("/process/consoleSize", json!({"height": 20, "width": 70}));
    rt.create_with(
        &b,
        &b.id.clone(),
        &["--console-socket", sock.path().to_str().unwrap()],
    )
    .ok();
    let (_, master) = sock.master();
    let out = read_all(master);
    rt.start(&b.id).ok();
    let out = out.join().unwrap();
    assert_eq!(
        out.lines()
            .map(|l| l.trim_end_matches('\r'))
            .collect::<Vec<_>>(),
        ["/dev/pts/0", "20 70"]
    );
}

#[test]
fn the_caller_s_terminal_is_never_given_to_the_container_s_user() {
    use std::os::unix::fs::MetadataExt;
    let rt = Runtime::new();
    let b = Bundle::busybox(&["sleep", "1000"]);
    rt.running(&b);
    let pty = nix::pty::openpty(None, None).unwrap();
    let name = fs::read_link(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&pty.slave)
    ))
    .unwrap();
    let mut cmd = rt.command(&["exec", "-u", "1000", &b.id, "true"], &b.id);
    cmd.stdin(Stdio::from(pty.slave.try_clone().unwrap()))
        .stdout(Stdio::from(pty.slave.try_clone().unwrap()))
        .stderr(Stdio::from(pty.slave));
    let mut child = spawn(&mut cmd);
    drop(cmd);
    let st = wait_child(&mut child, Duration::from_secs(60), "exec -u 1000 on a pty");
    husk_tests::runtime::waited(&child);
    assert_eq!(st.code(), Some(0));
    assert_eq!(
        fs::metadata(&name).unwrap().uid(),
        0,
        "{} was chowned",
        name.display()
    );
    drop(pty.master);
}

#[test]
fn everything_after_the_id_is_the_command_and_counts_are_bounded() {
    let rt = Runtime::new();
    let b = Bundle::busybox(&["sleep", "1000"]);
    rt.running(&b);
    // As runc: `--cwd` after the id is the program's name, not an option.
    let o = rt.exec_in(&b.id, &[], &["--cwd", "/tmp", "pwd"]);
    assert_eq!(o.code(), Some(255), "{o:#?}");
    o.stderr_mentions(&["--cwd"]);
    let o = rt.exec_in(&b.id, &[], &["echo", "-n", "-e", "x"]).ok();
    assert_eq!(o.stdout, "x");
    let o = rt.exec_in(&b.id, &["--preserve-fds", "4294967295"], &["true"]);
    assert_eq!(o.code(), Some(255), "{o:#?}");
}

#[test]
fn exec_stays_in_the_container_s_root_after_it_detached_its_root_mount() {
    let rt = Runtime::new();
    if reference_lacks("runc 1.1.5 lands in the host's tree (a known difference)") {
        return;
    }
    let mut b = Bundle::with_own_rootfs(
        |root| {
            husk_tests::rootfs::busybox_copy(root);
            fs::write(root.join("marker"), "the container's root\n").unwrap();
        },
        &[
            "sh",
            "-c",
            "umount -l / && echo detached > /dev/null; sleep 1000",
        ],
    );
    b.set("/root/readonly", json!(false));
    b.caps(&["CAP_SYS_ADMIN", "CAP_KILL"]);
    rt.create_with(&b, &b.id.clone(), &["--no-pivot"]).ok();
    rt.start(&b.id).ok();
    std::thread::sleep(Duration::from_millis(300));
    let o = rt.exec_in(&b.id, &[], &["cat", "/marker"]).ok();
    assert_eq!(o.stdout, "the container's root\n");
}
