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
