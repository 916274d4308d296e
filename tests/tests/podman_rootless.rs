//! Rootless Podman drives the runtime (issue 7): Podman 4 as the unprivileged test user of
//! [`husk_tests::rootless`], through conmon, with `--runtime` set to runc (the reference) and
//! then to the runtime under test. Podman makes the user namespace itself (the user's id as 0,
//! its /etc/subuid and /etc/subgid ranges from 1) and runs the runtime in it as uid 0, so the
//! runtime is rootless by its "non-initial user namespace" rule; the containers get no user
//! namespace of their own (except with `--userns=keep-id`) and no cgroup (a cgroup v1 host
//! delegates none). Each scenario asserts the real values for each runtime and then that both
//! gave the same transcript. The isolation is described in husk_tests::clients
//! ([`Podman::rootless`]).

#![allow(clippy::unwrap_used)] // tests may unwrap (project rules)

use husk_tests::clients::{
    check, missing_program, podman_exec_failure_statuses, podman_tty_scenario, record,
    same_for_both_rootless, Podman, Transcript, RUNC,
};
use husk_tests::host_lacks;
use husk_tests::rootless::{self, host_uids};

/// True (after printing why) when rootless Podman or what it needs is not installed.
fn no_podman() -> bool {
    let missing = missing_program(&["podman", "conmon", "script", "newuidmap", "newgidmap", RUNC]);
    host_lacks(
        missing.is_some(),
        &format!(
            "rootless Podman tests need {} (apt-get install podman runc uidmap)",
            missing.clone().unwrap_or_default()
        ),
    )
}

/// `run <head> --network none IMAGE <command>` as arguments of [`Podman::cmd`].
fn run_args(head: &[&str], command: &[&str]) -> Vec<String> {
    Podman::rootless_run_args(head, command)
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The lines of an uid_map/gid_map, each as its three numbers.
fn map_rows(text: &str) -> Vec<[u64; 3]> {
    text.lines()
        .map(|l| {
            let v: Vec<u64> = l.split_whitespace().map(|n| n.parse().unwrap()).collect();
            [v[0], v[1], v[2]]
        })
        .collect()
}

#[test]
fn rootless_podman_run_is_root_inside_podmans_user_namespace() {
    if no_podman() {
        return;
    }
    let u = rootless::user();
    same_for_both_rootless(|_, bin| {
        let p = Podman::rootless(bin);
        let mut t = Transcript::new();
        let out = record(
            &mut t,
            "id",
            p.cmd(&strs(&run_args(&["run", "--rm"], &["id"]))),
        );
        check(
            out.code() == Some(0) && out.stdout == "uid=0(root) gid=0(root)\n",
            "run --rm id",
            &out,
            &p.calls(),
        );
        // Podman's mapping, seen from the container (which shares Podman's namespace): the
        // user is 0, the subordinate ranges follow from 1.
        let out = record(
            &mut t,
            "maps",
            p.cmd(&strs(&run_args(
                &["run", "--rm"],
                &[
                    "sh",
                    "-c",
                    "cat /proc/self/uid_map; echo; cat /proc/self/gid_map",
                ],
            ))),
        );
        let (uid_map, gid_map) = out.stdout.split_once("\n\n").unwrap_or_default();
        check(
            out.code() == Some(0)
                && map_rows(uid_map)
                    == [
                        [0, u.uid.into(), 1],
                        [1, u.subuid.start.into(), u.subuid.count.into()],
                    ]
                && map_rows(gid_map)
                    == [
                        [0, u.gid.into(), 1],
                        [1, u.subgid.start.into(), u.subgid.count.into()],
                    ],
            "uid_map and gid_map inside",
            &out,
            &p.calls(),
        );
        let out = record(
            &mut t,
            "exit 3",
            p.cmd(&strs(&run_args(&["run", "--rm"], &["sh", "-c", "exit 3"]))),
        );
        check(out.code() == Some(3), "sh -c 'exit 3'", &out, &p.calls());
        // The runtime's default devices: the host's nodes, bound in (mknod is not allowed in
        // Podman's namespace).
        let out = record(
            &mut t,
            "devices",
            p.cmd(&strs(&run_args(
                &["run", "--rm"],
                &[
                    "sh",
                    "-c",
                    "stat -c '%t:%T %u' /dev/null /dev/zero; echo x > /dev/null && echo null-ok",
                ],
            ))),
        );
        check(
            out.code() == Some(0) && out.stdout == "1:3 65534\n1:5 65534\nnull-ok\n",
            "/dev/null and /dev/zero",
            &out,
            &p.calls(),
        );
        p.assert_clean();
        t
    });
}

#[test]
fn rootless_podman_run_with_a_terminal() {
    if no_podman() {
        return;
    }
    same_for_both_rootless(|_, bin| {
        let p = Podman::rootless(bin);
        podman_tty_scenario(
            &p,
            &run_args(&["run", "-it", "--rm"], &["sh", "-c", "tty; echo ok"]),
        )
    });
}

/// `run -d`, what the host sees of the container's process, `stop` (a SIGTERM the container
/// handles), `wait`, `rm`.
#[test]
fn rootless_podman_detached_stop_and_rm() {
    if no_podman() {
        return;
    }
    let u = rootless::user();
    same_for_both_rootless(|_, bin| {
        let p = Podman::rootless(bin);
        let mut t = Transcript::new();
        let args = run_args(
            &["run", "-d", "--name", "c1"],
            &[
                "sh",
                "-c",
                "trap 'echo got TERM; exit 3' TERM; echo up; while :; do sleep 0.1; done",
            ],
        );
        let out = p.cmd(&strs(&args));
        check(out.status.success(), "run -d", &out, &p.calls());
        assert_eq!(
            out.stdout.trim().len(),
            64,
            "run -d prints the id: {out:#?}"
        );
        let out = record(
            &mut t,
            "inspect",
            p.cmd(&["inspect", "-f", "{{.State.Status}}", "c1"]),
        );
        check(out.stdout.trim() == "running", "running", &out, &p.calls());
        // Podman shares the host's pid namespace: State.Pid is the host's pid of the
        // container's init, whose every uid is the user's (the container's root).
        let out = p.cmd(&["inspect", "-f", "{{.State.Pid}}", "c1"]);
        let pid: i32 = out.stdout.trim().parse().unwrap_or(0);
        check(pid > 1, "State.Pid", &out, &p.calls());
        assert_eq!(host_uids(pid), Some([u.uid; 4]), "{}", p.calls());
        let out = record(&mut t, "stop", p.cmd(&["stop", "-t", "10", "c1"]));
        check(out.status.success(), "stop", &out, &p.calls());
        let out = record(&mut t, "wait", p.cmd(&["wait", "c1"]));
        check(
            out.stdout.trim() == "3",
            "wait after stop",
            &out,
            &p.calls(),
        );
        let out = record(&mut t, "logs", p.cmd(&["logs", "c1"]));
        check(
            out.stdout == "up\ngot TERM\n",
            "the trap ran",
            &out,
            &p.calls(),
        );
        let out = record(&mut t, "rm", p.cmd(&["rm", "c1"]));
        check(out.status.success(), "rm", &out, &p.calls());
        let out = record(&mut t, "ps -a", p.cmd(&["ps", "-a", "-q"]));
        check(out.stdout.is_empty(), "no container left", &out, &p.calls());
        p.assert_clean();
        t
    });
}

/// `podman exec` in a detached rootless container: the user, other users, exit statuses, a
/// terminal, and the 127/126 of a missing or non-executable program.
#[test]
fn rootless_podman_exec() {
    if no_podman() {
        return;
    }
    same_for_both_rootless(|_, bin| {
        let p = Podman::rootless(bin);
        let mut t = Transcript::new();
        let out = p.cmd(&strs(&run_args(
            &["run", "-d", "--name", "c1"],
            &["sleep", "1000"],
        )));
        check(out.status.success(), "run -d", &out, &p.calls());
        let out = record(&mut t, "exec id", p.cmd(&["exec", "c1", "id"]));
        check(
            out.stdout == "uid=0(root) gid=0(root)\n",
            "exec id",
            &out,
            &p.calls(),
        );
        // The exec'd process is in the init's pid namespace (PID 1 is the sleep).
        let out = record(
            &mut t,
            "exec pid 1",
            p.cmd(&["exec", "c1", "cat", "/proc/1/cmdline"]),
        );
        check(
            out.stdout == "sleep\x001000\x00",
            "/proc/1 is the init",
            &out,
            &p.calls(),
        );
        let out = record(
            &mut t,
            "exec --user",
            p.cmd(&[
                "exec",
                "--user",
                "1000:1000",
                "c1",
                "sh",
                "-c",
                "id -u; id -g",
            ]),
        );
        check(
            out.stdout == "1000\n1000\n",
            "exec --user 1000:1000",
            &out,
            &p.calls(),
        );
        let out = record(
            &mut t,
            "exec exit 5",
            p.cmd(&["exec", "c1", "sh", "-c", "exit 5"]),
        );
        check(out.code() == Some(5), "exec exit 5", &out, &p.calls());
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
        podman_exec_failure_statuses(&p, &mut t);
        record(&mut t, "rm -f", p.cmd(&["rm", "-f", "-t", "0", "c1"])).ok();
        p.assert_clean();
        t
    });
}

/// `--userns=keep-id`: Podman asks the runtime for a user namespace of the container's own
/// inside Podman's, in which the user's uid is itself (the runtime writes the maps directly:
/// it is root with every capability in Podman's namespace).
#[test]
fn rootless_podman_keep_id_is_the_users_uid_inside() {
    if no_podman() {
        return;
    }
    let u = rootless::user();
    if host_lacks(
        u.uid >= u.subuid.count,
        "--userns=keep-id needs the user's uid below its subordinate range's size",
    ) {
        return;
    }
    same_for_both_rootless(|_, bin| {
        let p = Podman::rootless(bin);
        let mut t = Transcript::new();
        let out = record(
            &mut t,
            "keep-id",
            p.cmd(&strs(&run_args(
                &["run", "--rm", "--userns=keep-id"],
                &["sh", "-c", "id -u; id -g; cat /proc/self/uid_map"],
            ))),
        );
        let (uid, gid) = (u64::from(u.uid), u64::from(u.gid));
        let want_ids = format!("{uid}\n{gid}\n");
        let map = out.stdout.strip_prefix(&want_ids).unwrap_or_default();
        // In Podman's namespace the user is 0 and its subordinate ids 1..=count: the
        // container's uid U is Podman's 0, below it Podman's 1..=U, above it the rest.
        check(
            out.code() == Some(0)
                && out.stdout.starts_with(&want_ids)
                && map_rows(map)
                    == [
                        [0, 1, uid],
                        [uid, 0, 1],
                        [uid + 1, uid + 1, u64::from(u.subuid.count) - uid],
                    ],
            "keep-id: the user's ids and the nested map",
            &out,
            &p.calls(),
        );
        p.assert_clean();
        t
    });
}

/// `--pid host` (Podman binds the host's /proc: a bind of the root of a procfs at /proc) and
/// `--privileged` (Podman binds every host device over the runtime's default ones and grants
/// every capability of its namespace).
#[test]
fn rootless_podman_pid_host_and_privileged() {
    if no_podman() {
        return;
    }
    let me = std::process::id();
    same_for_both_rootless(|_, bin| {
        let p = Podman::rootless(bin);
        let mut t = Transcript::new();
        let script = format!(
            "awk '$5 == \"/proc\" {{ print $4, $9 }}' /proc/self/mountinfo; \
             test -d /proc/{me} && echo sees-the-test-process"
        );
        let out = record(
            &mut t,
            "--pid host",
            p.cmd(&strs(&run_args(
                &["run", "--rm", "--pid", "host"],
                &["sh", "-c", &script],
            ))),
        );
        check(
            out.code() == Some(0) && out.stdout == "/ proc\nsees-the-test-process\n",
            "--pid host: the host's procfs at /proc",
            &out,
            &p.calls(),
        );
        let out = record(
            &mut t,
            "--privileged",
            p.cmd(&strs(&run_args(
                &["run", "--rm", "--privileged"],
                &[
                    "sh",
                    "-c",
                    "grep -E '^Cap(Eff|Bnd)' /proc/self/status | cut -f2 | uniq | wc -l; \
                     stat -c '%t:%T' /dev/null; echo x > /dev/null && echo null-ok; \
                     mount -t tmpfs t /mnt && echo mounted",
                ],
            ))),
        );
        check(
            out.code() == Some(0) && out.stdout == "1\n1:3\nnull-ok\nmounted\n",
            "--privileged: every capability, the host's /dev/null, mount works",
            &out,
            &p.calls(),
        );
        p.assert_clean();
        t
    });
}
