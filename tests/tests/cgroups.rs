//! The container's own cgroup: made from `linux.cgroupsPath` in every hierarchy the host has,
//! holding the container's processes, device rules applied (v1: deny all, then the allow
//! list; v2: an eBPF device program), removed on delete. The other limits are in
//! cgroup_limits.rs.

#![allow(clippy::unwrap_used)] // tests may unwrap (project rules)

use std::fs;

use husk_tests::{cgroups, reference_lacks, Bundle, Runtime};
use serde_json::json;

#[test]
fn the_container_is_in_its_own_cgroup_in_every_hierarchy() {
    let rt = Runtime::new();
    let b = Bundle::busybox(&["sleep", "30"]);
    rt.create(&b);
    let pid = rt.state(&b.id)["pid"].as_i64().unwrap();
    let want = cgroups::cgroups_path(&b.id);
    let own = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for line in own.lines() {
        let path = line.splitn(3, ':').nth(2).unwrap();
        // The v1 controllers and the named systemd hierarchy; cgroup2 ("0::") only where the
        // runtime manages it (on a hybrid host it may stay at the root).
        if !line.starts_with("0::") {
            assert!(path.ends_with(&want), "{line}: not in {want}");
        }
    }
    let pids_dir = cgroups::dir_for("pids", &b.id).unwrap();
    let procs = fs::read_to_string(pids_dir.join("cgroup.procs")).unwrap();
    assert!(procs.lines().any(|p| p == pid.to_string()), "{procs}");
    rt.cmd(&["delete", "--force", &b.id]).ok();
    for d in cgroups::container_dirs(&b.id) {
        assert!(!d.exists(), "cgroup {} left after delete", d.display());
    }
}

#[test]
fn the_container_sees_its_cgroup_through_the_cgroup_mount() {
    let rt = Runtime::new();
    // With a cgroup namespace, /proc/self/cgroup shows the container's cgroup as its root.
    let mut b = Bundle::busybox(&[
        "sh",
        "-c",
        // v1/hybrid: the pids hierarchy's directory; pure v2: the cgroup2 mount itself.
        "cat /proc/self/cgroup; cat /sys/fs/cgroup/pids/cgroup.procs 2>/dev/null || cat /sys/fs/cgroup/cgroup.procs",
    ]);
    b.namespace("cgroup", None);
    let out = rt.run_ok(&b);
    let pids_line = out
        .lines()
        .find(|l| l.contains(":pids:"))
        .or_else(|| out.lines().find(|l| l.starts_with("0::")))
        .unwrap();
    assert!(pids_line.ends_with(":/"), "{out}");
    // The mounted pids cgroup is the container's own: it lists the container's processes
    // (pid 1, the shell, and cat), not the host's.
    let procs: Vec<&str> = out
        .lines()
        .filter(|l| l.chars().all(|c| c.is_ascii_digit()))
        .collect();
    assert!(procs.contains(&"1"), "{out}");
    assert!(procs.len() <= 3, "{out}");
}

/// The kernel's own verdict on the device rules, on v1 (devices.allow/deny) and on v2 (the eBPF
/// program). The nodes have numbers no driver has (char majors 60-63 are for local and
/// experimental use, Documentation/admin-guide/devices.txt): opening one fails with EPERM when
/// the device cgroup denies it and ENXIO when it allows it, so the result is the cgroup's alone.
#[test]
fn device_rules_are_applied() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&[
        "sh",
        "-c",
        r#"for d in deny allow wild later; do
            r=$( (true < /dev/husk-$d) 2>&1 ); w=$( (true > /dev/husk-$d) 2>&1 )
            echo "$d r: ${r##*: }"; echo "$d w: ${w##*: }"
        done
        head -c1 /dev/zero >/dev/null && echo zero-ok
        echo ok > /dev/null && echo null-ok; exec sleep 30"#,
    ]);
    for (name, major, minor) in [
        ("deny", 60, 0),
        ("allow", 60, 1),
        ("wild", 61, 3),
        ("later", 62, 7),
    ] {
        b.push(
            "/linux/devices",
            json!({"path": format!("/dev/husk-{name}"), "type": "c", "major": major, "minor": minor, "fileMode": 0o666}),
        );
    }
    for rule in [
        json!({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}),
        // read only
        json!({"allow": true, "type": "c", "major": 60, "minor": 1, "access": "r"}),
        // a wildcard minor
        json!({"allow": true, "type": "c", "major": 61, "access": "rw"}),
        // a deny of one bit after the allow
        json!({"allow": true, "type": "c", "major": 62, "minor": 7, "access": "rw"}),
        json!({"allow": false, "type": "c", "major": 62, "minor": 7, "access": "w"}),
    ] {
        b.push("/linux/resources/devices", rule);
    }
    rt.create_start(&b);
    for _ in 0..300 {
        if rt.container_stdout(&b.id).contains("null-ok") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let out = rt.container_stdout(&b.id);
    let perm = "Operation not permitted";
    let nxio = "No such device or address";
    let verdicts: Vec<&str> = out.lines().filter(|l| l.contains(": ")).collect();
    assert_eq!(
        verdicts,
        [
            format!("deny r: {perm}"),
            format!("deny w: {perm}"),
            format!("allow r: {nxio}"),
            format!("allow w: {perm}"),
            format!("wild r: {nxio}"),
            format!("wild w: {nxio}"),
            format!("later r: {nxio}"),
            format!("later w: {perm}"),
        ],
        "{out}"
    );
    assert!(out.contains("zero-ok") && out.contains("null-ok"), "{out}");
    if let Some(dir) = cgroups::v1_dir("devices", &b.id) {
        let list = fs::read_to_string(dir.join("devices.list")).unwrap();
        assert!(
            !list.lines().any(|l| l == "a *:* rwm"),
            "deny-all not applied: {list}"
        );
        for rule in ["c 1:3 rwm", "c 60:1 r", "c 61:* rw", "c 62:7 r"] {
            assert!(list.lines().any(|l| l == rule), "{rule} not in {list}");
        }
        assert!(!list.lines().any(|l| l.starts_with("c 60:0 ")), "{list}");
    }
}

#[test]
fn kill_all_and_delete_force_reach_every_process_of_the_cgroup() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["sh", "-c", "sleep 30 & sleep 30 & wait"]);
    // No pid namespace: killing pid 1 alone would leave the sleeps.
    b.namespaces(&["mount", "ipc", "uts", "network"]);
    rt.create_start(&b);
    let dir = cgroups::dir_for("pids", &b.id).unwrap();
    for _ in 0..300 {
        if fs::read_to_string(dir.join("cgroup.procs"))
            .unwrap()
            .lines()
            .count()
            >= 3
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    rt.cmd(&["delete", "--force", &b.id]).ok();
    for d in cgroups::container_dirs(&b.id) {
        assert!(
            !d.exists(),
            "cgroup {} left: its processes survived",
            d.display()
        );
    }
}

#[test]
fn a_second_container_joins_an_existing_cgroup_and_its_delete_leaves_it() {
    if reference_lacks(
        "runc 1.1.5 removes a joined cgroup at delete (see docs/known-differences.md)",
    ) {
        return;
    }
    let rt = Runtime::new();
    // The first container makes the cgroup (a pod's, say) and keeps running in it.
    let first = Bundle::busybox(&["sleep", "30"]);
    rt.create(&first);
    let pod_path = cgroups::cgroups_path(&first.id);
    let mut second = Bundle::busybox(&["sleep", "30"]);
    second.set("/linux/cgroupsPath", json!(pod_path));
    let out = rt.create_with(&second, &second.id, &[]).ok();
    out.stderr_mentions(&["already exists", "joining"]);
    let dir = cgroups::dir_for("pids", &first.id).unwrap();
    let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap();
    for b in [&first, &second] {
        let pid = rt.state(&b.id)["pid"].as_i64().unwrap().to_string();
        assert!(procs.lines().any(|p| p == pid), "{} not in {procs}", b.id);
    }
    // Deleting the joiner keeps the cgroup (and the first container's process in it)...
    rt.delete(&second.id).ok();
    assert!(
        dir.is_dir(),
        "the joined cgroup was removed with the joiner"
    );
    let pid = rt.state(&first.id)["pid"].as_i64().unwrap().to_string();
    let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap();
    assert!(procs.lines().any(|p| p == pid), "{procs}");
    // ...and deleting its maker removes it.
    rt.delete(&first.id).ok();
    for d in cgroups::container_dirs(&first.id) {
        assert!(!d.exists(), "cgroup {} left after delete", d.display());
    }
}
