//! Namespaces from `linux.namespaces`: new ones differ from the host's, absent ones are the
//! host's, joined ones (by `path`) are the target's; user namespace id maps; hostname,
//! domainname; the time namespace's offsets (runtime-tools validation: linux_ns_itype,
//! linux_ns_nopath, linux_ns_path, linux_ns_path_type, hostname, linux_uid_mappings).

#![allow(clippy::unwrap_used)] // tests may unwrap (project rules)

use std::collections::HashMap;

use husk_tests::{cgroups, host, host_lacks, reference_lacks, Bundle, Runtime};
use serde_json::json;

/// The spec's namespace type and its /proc/self/ns name.
const TYPES: &[(&str, &str)] = &[
    ("pid", "pid"),
    ("network", "net"),
    ("ipc", "ipc"),
    ("uts", "uts"),
    ("mount", "mnt"),
    ("cgroup", "cgroup"),
    ("user", "user"),
    ("time", "time"),
];

/// Runs `bundle` printing `name=link` for each /proc/self/ns entry.
fn container_ns(rt: &Runtime, b: &mut Bundle) -> HashMap<String, String> {
    // A hostname needs a new uts namespace (runtime-spec config-linux).
    let new_uts = b.config["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["type"] == "uts" && n.get("path").is_none());
    if !new_uts {
        b.remove("/hostname");
    }
    b.args(&[
        "sh",
        "-c",
        "for n in pid net ipc uts mnt cgroup user time; do \
         [ -e /proc/self/ns/$n ] && echo $n=$(readlink /proc/self/ns/$n); done",
    ]);
    rt.run_ok(b)
        .lines()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn id_maps(b: &mut Bundle) {
    let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.set("/linux/uidMappings", map.clone());
    b.set("/linux/gidMappings", map);
}

#[test]
fn each_new_namespace_differs_from_the_host() {
    for (typ, name) in TYPES {
        if host_lacks(!host::has_ns(name), &format!("{name} namespaces")) {
            continue;
        }
        if *typ == "time" && reference_lacks("time namespaces (runc 1.1.5 predates them)") {
            continue;
        }
        let rt = Runtime::new();
        let mut b = Bundle::busybox(&[]);
        // pid and mount keep /proc and the rootfs set up as usual; in a new user namespace
        // mqueue and sysfs can only be mounted from an ipc and a network namespace it owns
        // (`man 7 user_namespaces`).
        let mut base = vec!["pid", "mount"];
        if *typ == "user" {
            base.extend(["ipc", "network"]);
        }
        b.namespaces(&base);
        b.namespace(typ, None);
        if *typ == "user" {
            id_maps(&mut b);
        }
        let seen = container_ns(&rt, &mut b);
        assert_ne!(
            seen[*name],
            host::ns_link(name),
            "a new {typ} namespace must not be the host's"
        );
        // The ones not asked for stay the host's (linux_ns_nopath).
        for (other_typ, other) in TYPES {
            if !base.contains(other_typ) && other_typ != typ && seen.contains_key(*other) {
                assert_eq!(
                    seen[*other],
                    host::ns_link(other),
                    "{other} namespace not in the config must be the host's (with {typ})"
                );
            }
        }
    }
}

#[test]
fn all_eight_namespaces_at_once() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&[]);
    let mut types: Vec<&str> = TYPES.iter().map(|t| t.0).collect();
    if !host::has_ns("time") || reference_lacks("time namespaces (runc 1.1.5 predates them)") {
        types.retain(|t| *t != "time");
    }
    b.namespaces(&types);
    id_maps(&mut b);
    let seen = container_ns(&rt, &mut b);
    for (typ, name) in TYPES {
        if types.contains(typ) {
            assert_ne!(seen[*name], host::ns_link(name), "{typ}");
        }
    }
}

/// A started `sleep` container whose namespaces others join; returns its pid.
fn holder(rt: &Runtime, types: &[&str]) -> (Bundle, i64) {
    let mut b = Bundle::busybox(&["sleep", "60"]);
    b.namespaces(types);
    rt.create_start(&b);
    let pid = rt.state(&b.id)["pid"].as_i64().unwrap();
    (b, pid)
}

#[test]
fn namespaces_joined_by_path_are_the_target_s() {
    let rt = Runtime::new();
    let (_h, pid) = holder(&rt, &["pid", "mount", "network", "ipc", "uts", "cgroup"]);
    for (typ, name) in [
        ("network", "net"),
        ("ipc", "ipc"),
        ("uts", "uts"),
        ("pid", "pid"),
        ("cgroup", "cgroup"),
    ] {
        let mut b = Bundle::busybox(&[]);
        b.namespaces(&["mount", "pid"]);
        let path = format!("/proc/{pid}/ns/{name}");
        b.namespace(typ, Some(&path));
        let seen = container_ns(&rt, &mut b);
        let target = std::fs::read_link(&path)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert_eq!(seen[name], target, "joined {typ} namespace by path");
        assert_ne!(seen[name], host::ns_link(name));
    }
}

#[test]
fn a_namespace_path_of_the_wrong_type_fails() {
    // linux_ns_path_type: the uts entry points at an ipc namespace, and so on.
    let rt = Runtime::new();
    for (typ, wrong) in [
        ("uts", "ipc"),
        ("ipc", "mnt"),
        ("network", "pid"),
        ("cgroup", "uts"),
    ] {
        let mut b = Bundle::busybox(&["true"]);
        b.remove("/hostname");
        let path = format!("/proc/{}/ns/{wrong}", std::process::id());
        b.namespace(typ, Some(&path));
        rt.create_with(&b, &b.id, &[]).failed();
        assert!(
            !rt.root().join(&b.id).exists(),
            "state dir left ({typ} -> {wrong})"
        );
        for d in cgroups::container_dirs(&b.id) {
            assert!(
                !d.exists(),
                "cgroup {} left ({typ} -> {wrong})",
                d.display()
            );
        }
    }
}

#[test]
fn a_namespace_path_that_does_not_exist_fails_naming_it() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["true"]);
    b.namespace("network", Some("/proc/husk-no-such/ns/net"));
    rt.create_with(&b, &b.id, &[])
        .failed()
        .stderr_mentions(&["/proc/husk-no-such/ns/net"]);
    assert!(!rt.root().join(&b.id).exists());
}

#[test]
fn user_namespace_single_range_map() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&[
        "sh",
        "-c",
        "cat /proc/self/uid_map /proc/self/gid_map; id -u",
    ]);
    b.namespace("user", None);
    id_maps(&mut b);
    let out = rt.run_ok(&b);
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["0", "100000", "65536"], "uid_map: {out}");
    assert_eq!(rows[1], ["0", "100000", "65536"], "gid_map: {out}");
    assert_eq!(rows[2], ["0"]);
}

#[test]
fn user_namespace_multiple_ranges_and_host_uid() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["sh", "-c", "cat /proc/self/uid_map; exec sleep 30"]);
    b.namespace("user", None);
    let map = json!([
        {"containerID": 0, "hostID": 200000, "size": 1000},
        {"containerID": 1000, "hostID": 231000, "size": 1}
    ]);
    b.set("/linux/uidMappings", map.clone());
    b.set("/linux/gidMappings", map);
    b.set("/process/user", json!({"uid": 1000, "gid": 1000}));
    rt.create_start(&b);
    let pid = rt.state(&b.id)["pid"].as_i64().unwrap();
    // On the host the process runs as the mapped uid.
    let mut host_uid = String::new();
    for _ in 0..200 {
        let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        host_uid = st
            .lines()
            .find(|l| l.starts_with("Uid:"))
            .unwrap()
            .to_string();
        if host_uid.contains("231000") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(host_uid, "Uid:\t231000\t231000\t231000\t231000");
    let map_out = rt.container_stdout(&b.id);
    let rows: Vec<Vec<&str>> = map_out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows, [["0", "200000", "1000"], ["1000", "231000", "1"]]);
}

#[test]
fn hostname_is_set_in_a_new_uts_namespace() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["hostname"]);
    b.set("/hostname", json!("husk-box"));
    assert_eq!(rt.run_ok(&b), "husk-box\n");
}

#[test]
fn hostname_without_a_uts_namespace_fails() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["true"]);
    b.namespaces(&["pid", "mount"]);
    b.set("/hostname", json!("husk-box"));
    rt.run(&b).failed().stderr_mentions(&["hostname"]);
}

#[test]
fn domainname_is_set() {
    if reference_lacks("linux domainname (runc 1.1.5 ignores the field)") {
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["cat", "/proc/sys/kernel/domainname"]);
    b.set("/domainname", json!("husk.test"));
    assert_eq!(rt.run_ok(&b), "husk.test\n");
}

#[test]
fn time_namespace_offsets() {
    if reference_lacks("time namespaces and linux.timeOffsets (runc 1.1.5 predates them)") {
        return;
    }
    if host_lacks(!host::has_ns("time"), "time namespaces (Linux >= 5.6)") {
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&[
        "sh",
        "-c",
        "cat /proc/self/timens_offsets; cat /proc/uptime",
    ]);
    b.namespace("time", None);
    b.set(
        "/linux/timeOffsets",
        json!({"monotonic": {"secs": 86400, "nanosecs": 0}, "boottime": {"secs": 1000000, "nanosecs": 0}}),
    );
    let host_uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let out = rt.run_ok(&b);
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(lines.contains(&vec!["monotonic", "86400", "0"]), "{out}");
    assert!(lines.contains(&vec!["boottime", "1000000", "0"]), "{out}");
    let uptime: f64 = lines.last().unwrap()[0].parse().unwrap();
    assert!(
        uptime >= host_uptime + 1_000_000.0 - 5.0,
        "uptime {uptime}, host {host_uptime}"
    );
}
