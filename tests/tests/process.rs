//! The container process as it sees itself: args on PATH, cwd, env, user and groups, HOME,
//! umask, rlimits, noNewPrivileges, oomScoreAdj, the five capability sets, the session
//! (runtime-tools validation: process, process_user, process_capabilities, process_rlimits).

#![allow(clippy::unwrap_used)] // tests may unwrap (project rules)

use husk_tests::{reference_lacks, Bundle, Runtime};
use serde_json::json;

/// The value of a `Name:\tvalue` line of /proc/self/status as printed by the container.
fn status_field<'a>(status: &'a str, name: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in {status}"))
        .trim()
}

#[test]
fn args_cwd_and_env_reach_the_process() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&[
        "sh",
        "-c",
        "pwd; echo \"$FOO|$BAR\"; echo \"$0\" \"$1\"",
        "a0",
        "a1",
    ]);
    b.set("/process/cwd", json!("/tmp"));
    b.env("FOO=foo value").env("BAR=");
    assert_eq!(rt.run_ok(&b), "/tmp\nfoo value|\na0 a1\n");
}

#[test]
fn env_is_exactly_the_config_plus_home() {
    let rt = Runtime::new();
    let b = Bundle::busybox(&["env"]);
    let out = rt.run_ok(&b);
    let mut vars: Vec<&str> = out.lines().collect();
    vars.sort();
    let marker = format!("HUSK_TEST_MARKER={}", b.id);
    let mut want = vec![
        "HOME=/root",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "TERM=xterm",
        marker.as_str(),
    ];
    want.sort();
    assert_eq!(
        vars, want,
        "nothing of the runtime's environment may leak in"
    );
}

#[test]
fn args_are_looked_up_on_the_container_path() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["echo", "found"]);
    b.set("/process/env", json!(["PATH=/bin"]));
    assert_eq!(rt.run_ok(&b), "found\n");
}

#[test]
fn a_missing_executable_fails_create_naming_it() {
    let rt = Runtime::new();
    let b = Bundle::busybox(&["husk-no-such-program"]);
    rt.create_with(&b, &b.id, &[])
        .failed()
        .stderr_mentions(&["husk-no-such-program"]);
    assert!(
        !rt.root().join(&b.id).exists(),
        "state dir left after a failed create"
    );
}

#[test]
fn user_uid_gid_and_additional_gids() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["cat", "/proc/self/status"]);
    b.set(
        "/process/user",
        json!({"uid": 1000, "gid": 1000, "additionalGids": [2000, 3000]}),
    );
    let st = rt.run_ok(&b);
    assert_eq!(status_field(&st, "Uid"), "1000\t1000\t1000\t1000");
    assert_eq!(status_field(&st, "Gid"), "1000\t1000\t1000\t1000");
    assert_eq!(status_field(&st, "Groups"), "2000 3000");
}

#[test]
fn root_user_has_no_supplementary_groups_by_default() {
    let rt = Runtime::new();
    let b = Bundle::busybox(&["cat", "/proc/self/status"]);
    let st = rt.run_ok(&b);
    assert_eq!(status_field(&st, "Uid"), "0\t0\t0\t0");
    assert_eq!(status_field(&st, "Groups"), "");
}

#[test]
fn home_comes_from_the_container_passwd() {
    let rt = Runtime::new();
    for (uid, home) in [(1000, "/home/husk"), (0, "/root"), (4242, "/")] {
        let mut b = Bundle::busybox(&["sh", "-c", "echo $HOME"]);
        b.set("/process/user", json!({"uid": uid, "gid": uid}));
        assert_eq!(rt.run_ok(&b), format!("{home}\n"), "uid {uid}");
    }
    // An explicit HOME wins.
    let mut b = Bundle::busybox(&["sh", "-c", "echo $HOME"]);
    b.env("HOME=/elsewhere");
    assert_eq!(rt.run_ok(&b), "/elsewhere\n");
}

#[test]
fn umask_is_applied() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["sh", "-c", "umask; touch /tmp/f; stat -c %a /tmp/f"]);
    b.set("/process/user/umask", json!(0o077));
    assert_eq!(rt.run_ok(&b), "0077\n600\n");
}

#[test]
fn rlimits_are_applied() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["cat", "/proc/self/limits"]);
    b.set(
        "/process/rlimits",
        json!([
            {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1000},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
            {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400}
        ]),
    );
    let limits = rt.run_ok(&b);
    let line = |name: &str| -> Vec<String> {
        let l = limits.lines().find(|l| l.starts_with(name)).unwrap();
        l[name.len()..]
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(line("Max open files")[..2], ["512", "1000"]);
    assert_eq!(line("Max core file size")[..2], ["0", "0"]);
    assert_eq!(line("Max processes")[..2], ["300", "400"]);
}

#[test]
fn an_rlimit_above_the_hard_limit_fails_naming_it() {
    // This host has no CAP_SYS_RESOURCE: nobody can raise a hard limit above the current one.
    let hard = std::fs::read_to_string("/proc/self/limits")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .split_whitespace()
        .nth(4)
        .unwrap()
        .parse::<u64>()
        .unwrap();
    let caps = std::fs::read_to_string("/proc/self/status").unwrap();
    let bnd = u64::from_str_radix(status_field(&caps, "CapBnd"), 16).unwrap();
    if husk_tests::host_lacks(
        bnd & (1 << 24) != 0,
        "CAP_SYS_RESOURCE is in the bounding set",
    ) {
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["true"]);
    b.set(
        "/process/rlimits",
        json!([{"type": "RLIMIT_NOFILE", "soft": hard + 1000, "hard": hard + 1000}]),
    );
    rt.run(&b).failed().stderr_mentions(&["rlimit"]);
}

#[test]
fn no_new_privileges_true_and_false() {
    let rt = Runtime::new();
    for (nnp, want) in [(true, "1"), (false, "0")] {
        let mut b = Bundle::busybox(&["cat", "/proc/self/status"]);
        b.set("/process/noNewPrivileges", json!(nnp));
        assert_eq!(status_field(&rt.run_ok(&b), "NoNewPrivs"), want);
    }
}

#[test]
fn oom_score_adj_is_set() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["cat", "/proc/self/oom_score_adj"]);
    b.set("/process/oomScoreAdj", json!(523));
    assert_eq!(rt.run_ok(&b), "523\n");
}

fn cap_mask(bits: &[u32]) -> String {
    format!("{:016x}", bits.iter().fold(0u64, |m, b| m | (1 << b)))
}

#[test]
fn default_capabilities_are_runc_s_three() {
    let rt = Runtime::new();
    let b = Bundle::busybox(&["cat", "/proc/self/status"]);
    let st = rt.run_ok(&b);
    // CAP_KILL 5, CAP_NET_BIND_SERVICE 10, CAP_AUDIT_WRITE 29 (linux/capability.h).
    let want = cap_mask(&[5, 10, 29]);
    assert_eq!(status_field(&st, "CapBnd"), want);
    assert_eq!(status_field(&st, "CapEff"), want);
    assert_eq!(status_field(&st, "CapPrm"), want);
}

#[test]
fn all_five_capability_sets_for_a_non_root_user() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["cat", "/proc/self/status"]);
    b.caps(&["CAP_CHOWN", "CAP_NET_RAW"]);
    b.set("/process/user", json!({"uid": 1000, "gid": 1000}));
    let st = rt.run_ok(&b);
    // CAP_CHOWN 0, CAP_NET_RAW 13; ambient makes them effective after exec as uid 1000.
    let want = cap_mask(&[0, 13]);
    for set in ["CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb"] {
        assert_eq!(status_field(&st, set), want, "{set}");
    }
}

#[test]
fn a_non_root_user_without_ambient_caps_has_none_effective() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["cat", "/proc/self/status"]);
    b.caps(&["CAP_CHOWN"]);
    b.set("/process/capabilities/ambient", json!([]));
    b.set("/process/capabilities/inheritable", json!([]));
    b.set("/process/user", json!({"uid": 1000, "gid": 1000}));
    let st = rt.run_ok(&b);
    assert_eq!(status_field(&st, "CapEff"), cap_mask(&[]));
    assert_eq!(status_field(&st, "CapBnd"), cap_mask(&[0]));
}

#[test]
fn an_unknown_capability_is_a_warning_naming_it() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["cat", "/proc/self/status"]);
    b.caps(&["CAP_KILL", "CAP_HUSK_BOGUS"]);
    let o = rt.run(&b).ok();
    o.stderr_mentions(&["CAP_HUSK_BOGUS"]);
    assert_eq!(status_field(&o.stdout, "CapBnd"), cap_mask(&[5]));
}

#[test]
fn the_process_gets_its_own_session() {
    let rt = Runtime::new();
    let b = Bundle::busybox(&["sh", "-c", "read -r l < /proc/$$/stat; echo $l"]);
    let out = rt.run_ok(&b);
    let after: Vec<&str> = out.rsplit_once(')').unwrap().1.split_whitespace().collect();
    // /proc/PID/stat: pid (comm) state ppid pgrp session ... (`man 5 proc`).
    let pid = out.split_whitespace().next().unwrap();
    assert_eq!(
        after[3], pid,
        "session id must be the process's own pid (setsid): {out}"
    );
}

#[test]
fn minbase_id_resolves_names_from_its_etc_files() {
    let rt = Runtime::new();
    let mut b = Bundle::minbase(&["id"]);
    b.set(
        "/process/user",
        json!({"uid": 65534, "gid": 65534, "additionalGids": [4, 100]}),
    );
    let out = rt.run_ok(&b);
    for part in [
        "uid=65534(nobody)",
        "gid=65534(nogroup)",
        "4(adm)",
        "100(users)",
    ] {
        assert!(out.contains(part), "id printed {out:?}, lacks {part}");
    }
}

#[test]
fn minbase_is_debian_bookworm_with_root_home() {
    let rt = Runtime::new();
    let b = Bundle::minbase(&[
        "sh",
        "-c",
        "cat /etc/debian_version; echo $HOME; ls /usr/bin/dpkg",
    ]);
    let out = rt.run_ok(&b);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("12."), "debian_version {:?}", lines[0]);
    assert_eq!(lines[1], "/root");
    assert_eq!(lines[2], "/usr/bin/dpkg");
}

#[test]
fn a_capability_the_runtime_lacks_is_a_warning_and_the_rest_is_applied() {
    if reference_lacks("runc 1.1.5 fails create when a capability is not in its own bounding set") {
        return;
    }
    let own_bounding = std::fs::read_to_string("/proc/self/status").unwrap();
    // CAP_SYS_RESOURCE is bit 24.
    let has_sys_resource =
        u64::from_str_radix(status_field(&own_bounding, "CapBnd"), 16).unwrap() & (1 << 24) != 0;
    if husk_tests::host_lacks(
        has_sys_resource,
        "CAP_SYS_RESOURCE is in this host's bounding set, so it can be granted",
    ) {
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["cat", "/proc/self/status"]);
    b.caps(&["CAP_KILL", "CAP_SYS_RESOURCE"]);
    let o = rt.run(&b).ok();
    o.stderr_mentions(&["CAP_SYS_RESOURCE", "bounding set", "starts without it"]);
    assert_eq!(status_field(&o.stdout, "CapBnd"), cap_mask(&[5]));
    assert_eq!(status_field(&o.stdout, "CapEff"), cap_mask(&[5]));
}
