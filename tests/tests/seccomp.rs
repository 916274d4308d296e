//! `linux.seccomp` applied with libseccomp: a default action, a rule with SCMP_ACT_ERRNO and
//! errnoRet, loaded before or after the capabilities drop depending on noNewPrivileges
//! (runtime-spec config-linux.md "Seccomp"; runtime-tools validation: linux_seccomp).

#![allow(clippy::unwrap_used)] // tests may unwrap (project rules)

use husk_tests::{cgroups, host, reference_lacks, Bundle, Runtime};
use serde_json::{json, Value};

/// Allow everything except mkdir and mkdirat, which fail with EPERM (errno 1).
fn deny_mkdir() -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
        ]
    })
}

const SCRIPT: &str = "mkdir /tmp/x 2>&1; echo mkdir=$?; echo data > /tmp/f; cat /tmp/f; \
                      ls -d /tmp/x 2>/dev/null; grep Seccomp: /proc/self/status; id -u";

#[test]
fn an_errno_rule_fails_mkdir_with_eperm_and_nothing_else() {
    let rt = Runtime::new();
    // noNewPrivileges false needs the filter loaded while the process still has
    // CAP_SYS_ADMIN (before the drop to the user and its capabilities); true can load it
    // last. A non-root user makes the difference visible.
    for nnp in [true, false] {
        for uid in [0, 1000] {
            let mut b = Bundle::busybox(&["sh", "-c", SCRIPT]);
            b.set("/linux/seccomp", deny_mkdir());
            b.set("/process/noNewPrivileges", json!(nnp));
            b.set("/process/user", json!({"uid": uid, "gid": uid}));
            let o = rt.run(&b);
            let what = format!("noNewPrivileges {nnp}, uid {uid}");
            assert!(o.status.success(), "{what}: {o:#?}");
            let lines: Vec<&str> = o.stdout.lines().collect();
            assert!(
                lines[0].contains("Operation not permitted"),
                "{what}: mkdir must fail with EPERM: {}",
                o.stdout
            );
            assert_eq!(
                &lines[1..],
                ["mkdir=1", "data", "Seccomp:\t2", uid.to_string().as_str()],
                "{what}: {}",
                o.stdout
            );
        }
    }
}

#[test]
fn without_seccomp_mkdir_works_and_mode_is_0() {
    // The control: the same script without a filter, so the test above cannot pass by accident.
    let rt = Runtime::new();
    let b = Bundle::busybox(&["sh", "-c", SCRIPT]);
    let out = rt.run_ok(&b);
    assert_eq!(out, "mkdir=0\ndata\n/tmp/x\nSeccomp:\t0\n0\n");
}

#[test]
fn default_errno_ret_with_an_allow_default_is_refused() {
    if reference_lacks("linux.seccomp.defaultErrnoRet checks (runc 1.1.5 accepts it)") {
        return;
    }
    let rt = Runtime::new();
    let mut seccomp = deny_mkdir();
    seccomp["defaultErrnoRet"] = json!(38);
    let mut b = Bundle::busybox(&["true"]);
    b.set("/linux/seccomp", seccomp);
    rt.create_with(&b, &b.id, &[])
        .failed()
        .stderr_mentions(&["linux.seccomp.defaultErrnoRet"]);
    assert!(!rt.root().join(&b.id).exists(), "state dir left");
    for d in cgroups::container_dirs(&b.id) {
        assert!(!d.exists(), "cgroup {} left", d.display());
    }
    assert!(host::processes_mentioning(&[&format!("HUSK_TEST_MARKER={}", b.id)]).is_empty());
}

/// The agent's side of SCMP_ACT_NOTIFY: what came with the listener fd, and the syscalls it
/// answered.
struct AgentLog {
    state: Value,
    answered: Vec<String>,
}

/// A seccomp agent on `listener`: takes the first connection, receives the notify fd and the
/// container process state, then answers every notification until the container is gone
/// (POLLHUP): mkdir fails with EREMOTEIO (121), getppid returns 4242.
fn agent(listener: std::os::unix::net::UnixListener) -> Result<AgentLog, String> {
    use libseccomp::{ScmpNotifReq, ScmpNotifResp, ScmpNotifRespFlags, ScmpSyscall};
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::{AsFd, AsRawFd};

    let (conn, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
    let mut buf = vec![0u8; 1 << 16];
    let (len, mut fds) =
        husk_sys::recv_with_fds(&conn, &mut buf).map_err(|e| format!("recvmsg: {e}"))?;
    if fds.len() != 1 {
        return Err(format!(
            "{} fds came with {:?}, not 1",
            fds.len(),
            String::from_utf8_lossy(&buf[..len])
        ));
    }
    let notify = fds.remove(0);
    let state: Value =
        serde_json::from_slice(&buf[..len]).map_err(|e| format!("state JSON: {e}"))?;
    let mkdir = [
        ScmpSyscall::from_name("mkdir").unwrap(),
        ScmpSyscall::from_name("mkdirat").unwrap(),
    ];
    let getppid = ScmpSyscall::from_name("getppid").unwrap();
    let mut answered = Vec::new();
    loop {
        let mut pfd = [PollFd::new(notify.as_fd(), PollFlags::POLLIN)];
        poll(&mut pfd, PollTimeout::NONE).map_err(|e| format!("poll: {e}"))?;
        let rev = pfd[0].revents().unwrap_or(PollFlags::empty());
        if !rev.contains(PollFlags::POLLIN) {
            break; // POLLHUP: no process uses the filter any more.
        }
        let req = ScmpNotifReq::receive(notify.as_raw_fd())
            .map_err(|e| format!("seccomp_notify_receive: {e}"))?;
        let resp = if mkdir.contains(&req.data.syscall) {
            answered.push("mkdir".to_string());
            ScmpNotifResp::new_error(req.id, -libc::EREMOTEIO, ScmpNotifRespFlags::empty())
        } else if req.data.syscall == getppid {
            answered.push("getppid".to_string());
            ScmpNotifResp::new_val(req.id, 4242, ScmpNotifRespFlags::empty())
        } else {
            return Err(format!("unexpected notification: {:?}", req.data));
        };
        // An error here is ENOENT: the process died meanwhile.
        let _ = resp.respond(notify.as_raw_fd());
    }
    Ok(AgentLog { state, answered })
}

#[test]
fn notify_sends_the_listener_fd_and_state_to_the_agent_which_answers() {
    let rt = Runtime::new();
    // The third case loads the exported program with seccomp(2) and
    // SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux 6.0+).
    for (nnp, wkr) in [(true, false), (false, false), (true, true), (false, true)] {
        if !nnp
            && reference_lacks(
                "SCMP_ACT_NOTIFY without noNewPrivileges (runc 1.1.5's init panics with a nil \
                 pointer in StartInitialization)",
            )
        {
            continue;
        }
        if wkr && reference_lacks("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (runc 1.1.5 predates it)")
        {
            continue;
        }
        let what = format!("noNewPrivileges {nnp}, WAIT_KILLABLE_RECV {wkr}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let thread = std::thread::spawn(move || agent(listener));
        let mut b = Bundle::busybox(&[
            "sh",
            "-c",
            "mkdir /tmp/x 2>&1; echo mkdir=$?; echo ppid=$PPID",
        ]);
        b.set(
            "/linux/seccomp",
            json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                "listenerPath": path,
                "listenerMetadata": "husk-test-metadata",
                "syscalls": [
                    {"names": ["mkdir", "mkdirat", "getppid"], "action": "SCMP_ACT_NOTIFY"}
                ]
            }),
        );
        if wkr {
            b.set(
                "/linux/seccomp/flags",
                json!([
                    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
                    "SECCOMP_FILTER_FLAG_LOG"
                ]),
            );
        }
        b.set("/process/noNewPrivileges", json!(nnp));
        b.set("/process/user", json!({"uid": 1000, "gid": 1000}));
        let o = rt.run(&b);
        // If the runtime never connected, this connection ends the agent's accept (it then
        // fails on the missing fd) instead of leaving the test waiting.
        let _unblock = std::os::unix::net::UnixStream::connect(&path);
        let log = thread.join().unwrap();
        assert!(o.status.success(), "{what}: {o:#?}");
        let log = log.unwrap_or_else(|e| panic!("{what}: agent: {e}; {o:#?}"));
        assert_eq!(
            o.stdout,
            "mkdir: can't create directory '/tmp/x': Remote I/O error\nmkdir=1\nppid=4242\n",
            "{what}"
        );
        for want in ["getppid", "mkdir"] {
            assert!(
                log.answered.iter().any(|a| a == want),
                "{what}: {:?}",
                log.answered
            );
        }
        let s = &log.state;
        assert_eq!(s["fds"], json!(["seccompFd"]), "{what}: {s}");
        assert_eq!(s["metadata"], "husk-test-metadata", "{what}: {s}");
        assert_eq!(s["state"]["id"], b.id.as_str(), "{what}: {s}");
        assert!(s["pid"].as_i64().unwrap_or(0) > 0, "{what}: {s}");
        assert_eq!(s["pid"], s["state"]["pid"], "{what}: {s}");
        assert_eq!(s["ociVersion"], s["state"]["ociVersion"], "{what}: {s}");
        assert!(
            s["ociVersion"]
                .as_str()
                .is_some_and(|v| v.starts_with("1.")),
            "{s}"
        );
        // husk sends it once `start` has begun, before the user program runs; runc during
        // create.
        assert!(
            ["created", "creating"].contains(&s["state"]["status"].as_str().unwrap_or("")),
            "{what}: {s}"
        );
        assert_eq!(
            s["state"]["bundle"],
            b.path().to_str().unwrap(),
            "{what}: {s}"
        );
    }
}

#[test]
fn a_listener_path_nothing_listens_on_is_refused_and_nothing_is_left() {
    if reference_lacks("a listenerPath check at create (runc connects only when sending)") {
        return;
    }
    let rt = Runtime::new();
    let dir = tempfile::tempdir().unwrap();
    let mut b = Bundle::busybox(&["true"]);
    b.set(
        "/linux/seccomp",
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": dir.path().join("nobody.sock"),
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
        }),
    );
    rt.create_with(&b, &b.id, &[])
        .failed()
        .stderr_mentions(&["linux.seccomp.listenerPath", "nobody.sock"]);
    assert!(!rt.root().join(&b.id).exists(), "state dir left");
    for d in cgroups::container_dirs(&b.id) {
        assert!(!d.exists(), "cgroup {} left", d.display());
    }
}
