//! Real clients drive the runtime (issue 6): Podman 4 through conmon, and containerd 1.6
//! through `ctr` and its `io.containerd.runc.v2` shim. Every scenario runs twice, with runc
//! (the reference) and with the runtime under test, asserts the real values each time (output,
//! exit status, cgroup files, host files) and then that both runs gave the same transcript.
//! The isolation (own state, config, cgroup parent, private mount namespaces) is described in
//! husk_tests::clients.

use std::fs;
use std::path::Path;
use std::time::Duration;

use husk_tests::cgroups;
use husk_tests::clients::{
    check, missing_program, podman_exec_failure_statuses, podman_tty_scenario, record,
    same_for_both, wait_for, Containerd, Podman, Transcript, IMAGE, RUNC,
};
use husk_tests::host_lacks;

/// True (after printing why) when Podman or what it needs is not installed.
fn no_podman() -> bool {
    let missing = missing_program(&["podman", "conmon", "unshare", "script", RUNC]);
    host_lacks(
        missing.is_some(),
        &format!(
            "Podman tests need {} (apt-get install podman runc)",
            missing.clone().unwrap_or_default()
        ),
    )
}

/// True (after printing why) when containerd or ctr is not installed.
fn no_containerd() -> bool {
    let missing = missing_program(&[
        "containerd",
        "ctr",
        "containerd-shim-runc-v2",
        "unshare",
        "script",
        RUNC,
    ]);
    host_lacks(
        missing.is_some(),
        &format!(
            "containerd tests need {} (apt-get install containerd runc)",
            missing.clone().unwrap_or_default()
        ),
    )
}

/// Whether the host is a pure cgroup v2 one (no v1 memory hierarchy).
fn v1_memory() -> bool {
    cgroups::hierarchies()
        .iter()
        .any(|h| h.controllers.iter().any(|c| c == "memory"))
}

// ---------------------------------------------------------------------------------------------
// Podman

#[test]
fn podman_run_output_and_exit_status() {
    if no_podman() {
        return;
    }
    same_for_both(|_, bin| {
        let p = Podman::new(bin);
        let mut t = Transcript::new();
        let out = record(&mut t, "echo", p.run(&[], &["echo", "hi"]));
        check(
            out.code() == Some(0) && out.stdout == "hi\n",
            "echo hi",
            &out,
            &p.calls(),
        );
        let out = record(&mut t, "exit 3", p.run(&[], &["sh", "-c", "exit 3"]));
        check(out.code() == Some(3), "sh -c 'exit 3'", &out, &p.calls());
        p.assert_clean();
        t
    });
}

#[test]
fn podman_run_with_a_terminal() {
    if no_podman() {
        return;
    }
    same_for_both(|_, bin| {
        let p = Podman::new(bin);
        podman_tty_scenario(
            &p,
            &Podman::run_args(&["run", "-it", "--rm"], &["sh", "-c", "tty; echo ok"]),
        )
    });
}

/// `run -d`, then the verbs Podman runs on a live container without exec: inspect, pause,
/// unpause, kill, wait, stop, rm.
#[test]
fn podman_detached_lifecycle() {
    if no_podman() {
        return;
    }
    same_for_both(|_, bin| {
        let p = Podman::new(bin);
        let mut t = Transcript::new();
        let args = Podman::run_args(&["run", "-d", "--name", "c1"], &["sleep", "1000"]);
        let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = p.cmd(&args);
        check(out.status.success(), "run -d", &out, &p.calls());
        let id = out.stdout.trim().to_string();
        assert_eq!(id.len(), 64, "run -d prints the container id: {out:#?}");
        // The container's cgroup is below the test parent.
        let dir = cgroups::dir_for("pids", &format!("libpod-{id}")).unwrap();
        assert!(dir.is_dir(), "no cgroup {}", dir.display());

        let status = |t: &mut Transcript, label: &str| {
            let out = record(
                t,
                label,
                p.cmd(&["inspect", "-f", "{{.State.Status}}", "c1"]),
            );
            out.stdout.trim().to_string()
        };
        assert_eq!(status(&mut t, "inspect"), "running", "{}", p.calls());
        let out = record(&mut t, "pause", p.cmd(&["pause", "c1"]));
        check(out.status.success(), "pause", &out, &p.calls());
        assert_eq!(status(&mut t, "inspect paused"), "paused", "{}", p.calls());
        let out = record(&mut t, "unpause", p.cmd(&["unpause", "c1"]));
        check(out.status.success(), "unpause", &out, &p.calls());
        assert_eq!(
            status(&mut t, "inspect unpaused"),
            "running",
            "{}",
            p.calls()
        );
        let out = record(&mut t, "kill", p.cmd(&["kill", "c1"]));
        check(out.status.success(), "kill", &out, &p.calls());
        let out = record(&mut t, "wait", p.cmd(&["wait", "c1"]));
        check(
            out.stdout.trim() == "137",
            "wait after kill",
            &out,
            &p.calls(),
        );
        assert_eq!(status(&mut t, "inspect killed"), "exited", "{}", p.calls());
        let out = record(&mut t, "rm", p.cmd(&["rm", "c1"]));
        check(out.status.success(), "rm", &out, &p.calls());
        assert!(!dir.exists(), "{} outlived rm", dir.display());

        // stop: sleep as PID 1 ignores SIGTERM, so after 1 s Podman sends SIGKILL.
        args[3] = "c2";
        let out = p.cmd(&args);
        check(out.status.success(), "run -d c2", &out, &p.calls());
        let out = record(&mut t, "stop", p.cmd(&["stop", "-t", "1", "c2"]));
        check(out.status.success(), "stop -t 1", &out, &p.calls());
        let out = record(
            &mut t,
            "inspect stopped",
            p.cmd(&[
                "inspect",
                "-f",
                "{{.State.Status}} {{.State.ExitCode}}",
                "c2",
            ]),
        );
        check(
            out.stdout.trim() == "exited 137",
            "stopped",
            &out,
            &p.calls(),
        );
        record(&mut t, "rm c2", p.cmd(&["rm", "c2"])).ok();
        p.assert_clean();
        t
    });
}

/// `podman exec` in a detached container: output, exit status, a terminal.
#[test]
fn podman_exec() {
    if no_podman() {
        return;
    }
    same_for_both(|_, bin| {
        let p = Podman::new(bin);
        let mut t = Transcript::new();
        let args = Podman::run_args(&["run", "-d", "--name", "c1"], &["sleep", "1000"]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = p.cmd(&args);
        check(out.status.success(), "run -d", &out, &p.calls());
        let id = out.stdout.trim().to_string();

        let out = p.cmd(&["exec", "c1", "cat", "/etc/hostname"]);
        check(
            out.code() == Some(0) && out.stdout.trim() == &id[..12],
            "exec cat /etc/hostname (the short id)",
            &out,
            &p.calls(),
        );
        // The id differs from run to run: the transcript keeps that it was the id.
        t.push(("exec hostname".into(), out.code(), "<short id>".into()));
        let out = record(
            &mut t,
            "exec exit 5",
            p.cmd(&["exec", "c1", "sh", "-c", "exit 5"]),
        );
        check(
            out.code() == Some(5),
            "exec sh -c 'exit 5'",
            &out,
            &p.calls(),
        );
        let out = record(
            &mut t,
            "exec -it",
            p.cmd_pty(&["exec", "-it", "c1", "sh", "-c", "tty; echo ok"]),
        );
        check(
            out.code() == Some(0)
                && out.stdout.starts_with("/dev/pts/")
                && out.stdout.ends_with("\nok\n"),
            "exec -it",
            &out,
            &p.calls(),
        );
        let out = record(
            &mut t,
            "exec --user",
            p.cmd(&["exec", "--user", "1000:1000", "c1", "id", "-u"]),
        );
        check(out.stdout.trim() == "1000", "exec --user", &out, &p.calls());
        podman_exec_failure_statuses(&p, &mut t);
        record(&mut t, "rm -f", p.cmd(&["rm", "-f", "-t", "0", "c1"])).ok();
        p.assert_clean();
        t
    });
}

/// Resource limits Podman turns into `linux.resources`, seen from inside the container.
#[test]
fn podman_resources_and_capabilities() {
    if no_podman() {
        return;
    }
    same_for_both(|_, bin| {
        let p = Podman::new(bin);
        let mut t = Transcript::new();
        let file = if v1_memory() {
            "/sys/fs/cgroup/memory/memory.limit_in_bytes"
        } else {
            "/sys/fs/cgroup/memory.max"
        };
        let out = record(
            &mut t,
            "memory",
            p.run(&["--memory", "64m"], &["cat", file]),
        );
        check(
            out.stdout.trim() == "67108864",
            "--memory 64m",
            &out,
            &p.calls(),
        );
        let file = if v1_memory() {
            "/sys/fs/cgroup/pids/pids.max"
        } else {
            "/sys/fs/cgroup/pids.max"
        };
        let out = record(
            &mut t,
            "pids",
            p.run(&["--pids-limit", "50"], &["cat", file]),
        );
        check(
            out.stdout.trim() == "50",
            "--pids-limit 50",
            &out,
            &p.calls(),
        );
        let out = record(
            &mut t,
            "cap-drop",
            p.run(
                &["--cap-drop", "ALL"],
                &["grep", "CapEff", "/proc/self/status"],
            ),
        );
        check(
            out.stdout.trim() == "CapEff:\t0000000000000000",
            "--cap-drop ALL",
            &out,
            &p.calls(),
        );
        p.assert_clean();
        t
    });
}

/// seccomp (none, and a profile file of the test's own), a read-only root, a bind mount.
#[test]
fn podman_security_and_volumes() {
    if no_podman() {
        return;
    }
    same_for_both(|_, bin| {
        let p = Podman::new(bin);
        let mut t = Transcript::new();
        let out = record(
            &mut t,
            "unconfined",
            p.run(
                &["--security-opt", "seccomp=unconfined"],
                &["grep", "Seccomp:", "/proc/self/status"],
            ),
        );
        check(
            out.stdout.trim() == "Seccomp:\t0",
            "seccomp=unconfined",
            &out,
            &p.calls(),
        );
        let profile = p.dir().join("deny-mkdir.json");
        fs::write(
            &profile,
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}"#,
        )
        .unwrap();
        let opt = format!("seccomp={}", profile.display());
        let out = record(
            &mut t,
            "profile",
            p.run(
                &["--security-opt", &opt],
                &[
                    "sh",
                    "-c",
                    "grep Seccomp: /proc/self/status; mkdir /tmp/x || echo denied",
                ],
            ),
        );
        check(
            out.stdout == "Seccomp:\t2\ndenied\n" && out.stderr.contains("Operation not permitted"),
            "a profile denying mkdir with EPERM",
            &out,
            &p.calls(),
        );
        let out = record(
            &mut t,
            "read-only",
            p.run(&["--read-only"], &["touch", "/x"]),
        );
        check(
            out.code() == Some(1) && out.stderr.contains("Read-only file system"),
            "--read-only",
            &out,
            &p.calls(),
        );
        let host = p.dir().join("hostdir");
        fs::create_dir(&host).unwrap();
        let volume = format!("{}:/data", host.display());
        let out = record(
            &mut t,
            "volume",
            p.run(&["-v", &volume], &["sh", "-c", "echo written > /data/f"]),
        );
        check(out.code() == Some(0), "-v", &out, &p.calls());
        assert_eq!(fs::read_to_string(host.join("f")).unwrap(), "written\n");
        p.assert_clean();
        t
    });
}

/// `--preserve-fds` (Podman's `run --preserve-fds N` and systemd socket activation, where
/// Podman sees `LISTEN_FDS` and passes the fds on with `--preserve-fds` and `LISTEN_FDS`,
/// `LISTEN_PID=1` in the container's environment).
#[test]
fn podman_preserve_fds() {
    if no_podman() {
        return;
    }
    same_for_both(|_, bin| {
        let p = Podman::new(bin);
        let mut t = Transcript::new();
        let file = p.dir().join("fd3.txt");
        fs::write(&file, "fd-three\n").unwrap();
        let flags = Podman::run_flags();
        let mut args: Vec<&str> = vec!["run", "--rm"];
        args.extend(flags.iter().map(String::as_str));
        args.extend(["--preserve-fds", "1", IMAGE, "sh", "-c", "cat <&3"]);
        let out = record(
            &mut t,
            "--preserve-fds 1",
            p.cmd_with_fd3(&file, false, &args),
        );
        check(
            out.code() == Some(0) && out.stdout == "fd-three\n",
            "run --preserve-fds 1",
            &out,
            &p.calls(),
        );
        let mut args: Vec<&str> = vec!["run", "--rm"];
        args.extend(flags.iter().map(String::as_str));
        args.extend([IMAGE, "sh", "-c", "echo $LISTEN_FDS $LISTEN_PID; cat <&3"]);
        let out = record(&mut t, "LISTEN_FDS", p.cmd_with_fd3(&file, true, &args));
        check(
            out.code() == Some(0) && out.stdout == "1 1\nfd-three\n",
            "socket activation (LISTEN_FDS=1)",
            &out,
            &p.calls(),
        );
        p.assert_clean();
        t
    });
}

// ---------------------------------------------------------------------------------------------
// containerd

/// `ctr run <flags> <extra> IMAGE <id> <command>` arguments.
fn ctr_run_args(
    c: &Containerd,
    name: &str,
    bin: &Path,
    id: &str,
    extra: &[&str],
    command: &[&str],
) -> Vec<String> {
    let mut args = vec!["run".to_string()];
    args.extend(c.run_flags(name, bin, id));
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push(IMAGE.into());
    args.push(id.into());
    args.extend(command.iter().map(|s| s.to_string()));
    args
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn containerd_run_output_exit_status_and_terminal() {
    if no_containerd() {
        return;
    }
    let c = Containerd::start();
    same_for_both(|name, bin| {
        let mut t = Transcript::new();
        let id = format!("run-{name}");
        let args = ctr_run_args(&c, name, bin, &id, &["--rm"], &["echo", "hi"]);
        let out = record(&mut t, "echo", c.ctr(&strs(&args)));
        check(
            out.code() == Some(0) && out.stdout == "hi\n",
            "ctr run echo hi",
            &out,
            &c.calls(name),
        );
        let args = ctr_run_args(&c, name, bin, &id, &["--rm"], &["sh", "-c", "exit 3"]);
        let out = record(&mut t, "exit 3", c.ctr(&strs(&args)));
        check(
            out.code() == Some(3),
            "ctr run exit 3",
            &out,
            &c.calls(name),
        );
        let args = ctr_run_args(
            &c,
            name,
            bin,
            &id,
            &["--rm", "--tty"],
            &["sh", "-c", "tty; echo ok"],
        );
        let out = record(&mut t, "tty", c.ctr_pty(&strs(&args)));
        check(
            out.code() == Some(0) && out.stdout == "/dev/pts/0\nok\n",
            "ctr run --tty",
            &out,
            &c.calls(name),
        );
        c.assert_clean();
        t
    });
}

/// A detached task with a memory limit: its cgroup below the test parent, pause/resume,
/// metrics (read by the shim from the cgroup), ps, kill --all, delete.
#[test]
fn containerd_task_lifecycle_and_metrics() {
    if no_containerd() {
        return;
    }
    let c = Containerd::start();
    same_for_both(|name, bin| {
        let mut t = Transcript::new();
        let id = format!("life-{name}");
        let args = ctr_run_args(
            &c,
            name,
            bin,
            &id,
            &["--detach", "--memory-limit", "67108864"],
            &["sh", "-c", "sleep 1000 & exec sleep 1000"],
        );
        let out = c.ctr(&strs(&args));
        check(out.status.success(), "ctr run -d", &out, &c.calls(name));
        let task_status = |t: &mut Transcript, label: &str| {
            let out = c.ctr(&["task", "ls"]);
            let line = out
                .stdout
                .lines()
                .find(|l| l.split_whitespace().next() == Some(id.as_str()))
                .map(|l| l.split_whitespace().last().unwrap_or("").to_string())
                .unwrap_or_default();
            t.push((label.to_string(), out.code(), line.clone()));
            line
        };
        assert_eq!(task_status(&mut t, "ls"), "RUNNING", "{}", c.calls(name));
        // The cgroup is the test's: husk-test-<pid>/<id> below the test process's own.
        let mem = cgroups::dir_for("memory", &id).unwrap();
        let limit_file = if v1_memory() {
            "memory.limit_in_bytes"
        } else {
            "memory.max"
        };
        assert_eq!(
            fs::read_to_string(mem.join(limit_file))
                .unwrap_or_default()
                .trim(),
            "67108864",
            "{}: {}",
            mem.display(),
            c.calls(name)
        );
        let out = record(&mut t, "pause", c.ctr(&["task", "pause", &id]));
        check(out.status.success(), "task pause", &out, &c.calls(name));
        assert_eq!(
            task_status(&mut t, "ls paused"),
            "PAUSED",
            "{}",
            c.calls(name)
        );
        let out = record(&mut t, "resume", c.ctr(&["task", "resume", &id]));
        check(out.status.success(), "task resume", &out, &c.calls(name));
        assert_eq!(
            task_status(&mut t, "ls resumed"),
            "RUNNING",
            "{}",
            c.calls(name)
        );

        let out = c.ctr(&["task", "metrics", &id]);
        check(
            out.status.success()
                && out.stdout.contains("pids.current")
                && out.stdout.contains("67108864"),
            "task metrics (pids and the memory limit)",
            &out,
            &c.calls(name),
        );
        // The metric names (values differ from run to run).
        let names: Vec<&str> = out
            .stdout
            .lines()
            .skip_while(|l| !l.starts_with("METRIC"))
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        t.push(("metric names".into(), out.code(), names.join(" ")));

        // `task ps` (the runtime's `ps --format json`): the init and its background sleep.
        let out = c.ctr(&["task", "ps", &id]);
        let pids = out
            .stdout
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .count();
        check(pids == 2, "task ps lists 2 processes", &out, &c.calls(name));
        t.push(("ps".into(), out.code(), format!("{pids} processes")));
        // `kill --all`: every process of the container's cgroup.
        let out = record(
            &mut t,
            "kill --all",
            c.ctr(&["task", "kill", "--all", "--signal", "SIGKILL", &id]),
        );
        check(
            out.status.success(),
            "task kill --all",
            &out,
            &c.calls(name),
        );
        let stopped = wait_for(Duration::from_secs(10), || {
            let out = c.ctr(&["task", "ls"]);
            out.stdout
                .lines()
                .any(|l| l.starts_with(id.as_str()) && l.trim_end().ends_with("STOPPED"))
        });
        assert!(stopped, "task not STOPPED after kill: {}", c.calls(name));
        task_status(&mut t, "ls killed");
        let out = record(&mut t, "task delete", c.ctr(&["task", "delete", &id]));
        check(out.status.success(), "task delete", &out, &c.calls(name));
        let out = record(
            &mut t,
            "container delete",
            c.ctr(&["container", "delete", &id]),
        );
        check(
            out.status.success(),
            "container delete",
            &out,
            &c.calls(name),
        );
        assert!(!mem.exists(), "{} outlived delete", mem.display());
        c.assert_clean();
        t
    });
}

/// `ctr task exec`: output, exit status, a terminal.
#[test]
fn containerd_task_exec() {
    if no_containerd() {
        return;
    }
    let c = Containerd::start();
    same_for_both(|name, bin| {
        let mut t = Transcript::new();
        let id = format!("exec-{name}");
        let args = ctr_run_args(&c, name, bin, &id, &["--detach"], &["sleep", "1000"]);
        let out = c.ctr(&strs(&args));
        check(out.status.success(), "ctr run -d", &out, &c.calls(name));
        let fifo = c.fifo_dir();
        let out = record(
            &mut t,
            "exec",
            c.ctr(&[
                "task",
                "exec",
                "--fifo-dir",
                &fifo,
                "--exec-id",
                "e1",
                &id,
                "sh",
                "-c",
                "echo in-exec; exit 6",
            ]),
        );
        check(
            out.code() == Some(6) && out.stdout == "in-exec\n",
            "task exec",
            &out,
            &format!("{}\nruntime log:\n{}", c.calls(name), c.runtime_log(&id)),
        );
        let out = record(
            &mut t,
            "exec --tty",
            c.ctr_pty(&[
                "task",
                "exec",
                "--tty",
                "--fifo-dir",
                &fifo,
                "--exec-id",
                "e2",
                &id,
                "sh",
                "-c",
                "tty; echo ok",
            ]),
        );
        check(
            out.code() == Some(0)
                && out.stdout.starts_with("/dev/pts/")
                && out.stdout.ends_with("\nok\n"),
            "task exec --tty",
            &out,
            &format!("{}\nruntime log:\n{}", c.calls(name), c.runtime_log(&id)),
        );
        c.remove_all();
        c.assert_clean();
        t
    });
}
