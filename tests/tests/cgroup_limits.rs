//! `linux.resources` limits as the kernel sees them: the values read back from the container's
//! cgroup files (in the hierarchy each controller is bound to on this host: v1 here, cgroup2 in
//! the v2 guest, hugetlb on cgroup2 even here), a memory hog killed at its limit with the OOM
//! kill counted, a fork bomb stopped at pids.max, and clear errors for what the host lacks or
//! the kernel refuses.

#![allow(clippy::unwrap_used)] // tests may unwrap (project rules)

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use husk_tests::{cgroups, host_lacks, probe, reference_lacks, Bundle, Runtime};
use serde_json::json;

/// The directory of `id`'s cgroup that carries `v1_controller` (or its v2 name `v2`): its v1
/// hierarchy, else the cgroup2 directory.
fn dir(v1_controller: &str, id: &str) -> PathBuf {
    cgroups::dir_for(v1_controller, id).unwrap()
}

fn read(dir: &Path, file: &str) -> String {
    fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()))
        .trim()
        .to_owned()
}

/// Whether the host drives `controller` through cgroup v1 (else cgroup2).
fn on_v1(controller: &str) -> bool {
    cgroups::v1_dir(controller, "x").is_some()
}

/// Polls `check` for up to 10 s.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn memory_cpu_cpuset_and_pids_limits_land_in_the_kernels_files() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["sleep", "30"]);
    b.set(
        "/linux/resources/memory",
        json!({"limit": 67108864, "reservation": 33554432}),
    );
    b.set(
        "/linux/resources/cpu",
        json!({"shares": 512, "quota": 25000, "period": 100000, "cpus": "0", "mems": "0"}),
    );
    b.set("/linux/resources/pids", json!({"limit": 50}));
    rt.create(&b);
    let memory = dir("memory", &b.id);
    let cpu = dir("cpu", &b.id);
    assert_eq!(read(&dir("pids", &b.id), "pids.max"), "50");
    assert_eq!(read(&dir("cpuset", &b.id), "cpuset.cpus"), "0");
    assert_eq!(read(&dir("cpuset", &b.id), "cpuset.mems"), "0");
    if on_v1("memory") {
        assert_eq!(read(&memory, "memory.limit_in_bytes"), "67108864");
        assert_eq!(read(&memory, "memory.soft_limit_in_bytes"), "33554432");
        assert_eq!(read(&cpu, "cpu.shares"), "512");
        assert_eq!(read(&cpu, "cpu.cfs_quota_us"), "25000");
        assert_eq!(read(&cpu, "cpu.cfs_period_us"), "100000");
    } else {
        assert_eq!(read(&memory, "memory.max"), "67108864");
        assert_eq!(read(&memory, "memory.low"), "33554432");
        // runc 1.3.2+/crun 1.23+ curve: 512 shares -> 59 (runc 1.1.5's linear formula: 20).
        if !reference_lacks("runc 1.1.5 converts cpu shares to cpu.weight linearly") {
            assert_eq!(read(&cpu, "cpu.weight"), "59");
        }
        assert_eq!(read(&cpu, "cpu.max"), "25000 100000");
    }
    rt.delete(&b.id);
}

#[test]
fn swap_and_swappiness_follow_the_hosts_controller() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["sleep", "30"]);
    // memory+swap total 96 MiB over a 64 MiB limit.
    b.set(
        "/linux/resources/memory",
        json!({"limit": 67108864, "swap": 100663296, "swappiness": 10}),
    );
    let v1 = on_v1("memory");
    rt.create(&b);
    let memory = dir("memory", &b.id);
    if v1 {
        if memory.join("memory.memsw.limit_in_bytes").exists() {
            assert_eq!(read(&memory, "memory.memsw.limit_in_bytes"), "100663296");
        }
        assert_eq!(read(&memory, "memory.swappiness"), "10");
    } else if memory.join("memory.swap.max").exists() {
        // v2 limits swap alone: 96 MiB total - 64 MiB memory.
        assert_eq!(read(&memory, "memory.swap.max"), "33554432");
    }
    rt.delete(&b.id);
}

#[test]
fn a_memory_hog_is_killed_at_the_limit_and_the_oom_kill_is_counted() {
    let rt = Runtime::new();
    // dd fills a 64 MiB buffer from /dev/zero: far more than the 16 MiB limit.
    let mut b = Bundle::busybox(&[
        "sh",
        "-c",
        "dd if=/dev/zero of=/dev/null bs=64M count=1 && echo survived",
    ]);
    b.set(
        "/linux/resources/memory",
        json!({"limit": 16777216, "swap": 16777216}),
    );
    rt.create_start(&b);
    rt.wait_status(&b.id, "stopped");
    let memory = dir("memory", &b.id);
    let kills = if on_v1("memory") {
        // memory.oom_control: "oom_kill_disable 0\nunder_oom 0\noom_kill N" (Linux 4.13+).
        read(&memory, "memory.oom_control")
    } else {
        read(&memory, "memory.events")
    };
    let count: u64 = kills
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .unwrap_or_else(|| panic!("no oom_kill line: {kills}"))
        .parse()
        .unwrap();
    assert!(count >= 1, "{kills}");
    assert!(!rt.container_stdout(&b.id).contains("survived"));
    rt.delete(&b.id);
}

#[test]
fn a_fork_bomb_stops_at_pids_max() {
    let rt = Runtime::new();
    // The inner shell forks until fork(2) fails, which makes ash give up and exit; the outer
    // one (pid 1) then reports without forking.
    let mut b = Bundle::busybox(&[
        "sh",
        "-c",
        "sh -c 'while true; do sleep 30 & done' 2>/dev/null; echo bomb-stopped; exec sleep 30",
    ]);
    b.set("/linux/resources/pids", json!({"limit": 10}));
    rt.create_start(&b);
    eventually("the fork bomb to hit the limit", || {
        rt.container_stdout(&b.id).contains("bomb-stopped")
    });
    let pids = dir("pids", &b.id);
    assert_eq!(read(&pids, "pids.max"), "10");
    // pid 1 and the sleeps; the bomb itself has exited.
    let current: u64 = read(&pids, "pids.current").parse().unwrap();
    assert!((2..=10).contains(&current), "pids.current {current}");
    // The kernel counts each refused fork in pids.events ("max N").
    let events = read(&pids, "pids.events");
    let refused: u64 = events
        .lines()
        .find_map(|l| l.strip_prefix("max "))
        .unwrap_or_else(|| panic!("pids.events: {events}"))
        .parse()
        .unwrap();
    assert!(refused >= 1, "{events}");
    rt.cmd(&["delete", "--force", &b.id]).ok();
}

#[test]
fn a_pids_limit_of_zero_is_a_real_limit() {
    if reference_lacks(
        "runc 1.1.5 reads pids.limit 0 as unset (runtime-spec v1.3 makes it a limit)",
    ) {
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["sh", "-c", "true & wait && echo forked"]);
    b.set("/linux/resources/pids", json!({"limit": 0}));
    let out = rt.run(&b);
    assert!(!out.stdout.contains("forked"), "{out:#?}");
    assert!(out.stderr.contains("can't fork"), "{out:#?}");
    rt.assert_left_nothing(&b);
}

#[test]
fn hugetlb_is_driven_through_the_hierarchy_it_is_bound_to() {
    if reference_lacks(
        "runc 1.1.5 cannot set hugetlb on a hybrid host (it is bound to cgroup2 there)",
    ) {
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["sleep", "30"]);
    b.set(
        "/linux/resources/hugepageLimits",
        json!([{"pageSize": "2MB", "limit": 4194304}]),
    );
    rt.create(&b);
    let hugetlb = dir("hugetlb", &b.id);
    let file = if on_v1("hugetlb") {
        "hugetlb.2MB.limit_in_bytes"
    } else {
        "hugetlb.2MB.max"
    };
    assert_eq!(read(&hugetlb, file), "4194304");
    rt.delete(&b.id);
}

/// The free 2 MiB huge pages of the host (`HugePages_Free` of /proc/meminfo).
fn free_huge_pages() -> u64 {
    fs::read_to_string("/proc/meminfo")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("HugePages_Free:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn the_kernel_enforces_a_hugetlb_limit() {
    if reference_lacks(
        "runc 1.1.5 cannot set hugetlb on a hybrid host (it is bound to cgroup2 there)",
    ) {
        return;
    }
    if host_lacks(
        free_huge_pages() < 2,
        "fewer than 2 free 2 MiB huge pages (tests/v2vm.sh reserves them in the v2 guest)",
    ) {
        return;
    }
    let rt = Runtime::new();
    // One page fits the 2 MiB limit, two do not: the reservation (hugetlb.2MB.rsvd.max, or
    // the fault on kernels without it) is refused by the container's hugetlb cgroup.
    let mut b = probe::bundle(&["hugetlb", "1", "2"]);
    b.set(
        "/linux/resources/hugepageLimits",
        json!([{"pageSize": "2MB", "limit": 2097152}]),
    );
    let report = probe::run(&rt, &b);
    assert_eq!(report["hugetlb"]["1"], json!({"ok": true}), "{report}");
    assert_eq!(
        report["hugetlb"]["2"],
        json!({"error": "ENOMEM"}),
        "{report}"
    );
}

#[test]
fn a_value_the_kernel_refuses_fails_create_naming_field_file_and_errno() {
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["true"]);
    b.set("/linux/resources/cpu", json!({"cpus": "4096"}));
    let out = rt.create_with(&b, &b.id, &[]).failed();
    if !reference_lacks("runc 1.1.5 names the file but not the config field") {
        out.stderr_mentions(&[
            "linux.resources.cpu.cpus",
            "cpuset.cpus",
            "4096",
            "os error",
        ]);
    }
    rt.assert_left_nothing(&b);
}

#[test]
fn a_controller_the_host_lacks_is_an_error_naming_the_field() {
    if reference_lacks("runc 1.1.5 silently skips limits of unmounted controllers") {
        return;
    }
    if host_lacks(
        on_v1("net_cls"),
        "net_cls is mounted here, so a classID is applied rather than refused",
    ) {
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["true"]);
    b.set("/linux/resources/network", json!({"classID": 1048577}));
    rt.create_with(&b, &b.id, &[])
        .failed()
        .stderr_mentions(&["linux.resources.network.classID", "net_cls"]);
    rt.assert_left_nothing(&b);

    // blkio/io: no leaf weights on Linux 6.x (CFQ is gone; v2 never had them).
    let mut b = Bundle::busybox(&["true"]);
    b.set("/linux/resources/blockIO", json!({"leafWeight": 500}));
    rt.create_with(&b, &b.id, &[])
        .failed()
        .stderr_mentions(&["linux.resources.blockIO.leafWeight", "leaf"]);
    rt.assert_left_nothing(&b);
}

#[test]
fn deprecated_kernel_memory_is_ignored_with_a_warning() {
    if reference_lacks("runc 1.1.5 ignores it too, with a warning worded differently") {
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["true"]);
    b.set(
        "/linux/resources/memory",
        json!({"kernel": 16777216, "kernelTCP": 16777216}),
    );
    let out = rt.create_with(&b, &b.id, &[]).ok();
    out.stderr_mentions(&["linux.resources.memory.kernel is deprecated", "ignored"]);
    if on_v1("memory") {
        let memory = dir("memory", &b.id);
        assert_ne!(read(&memory, "memory.kmem.limit_in_bytes"), "16777216");
    }
    rt.delete(&b.id);
}

#[test]
fn on_cgroup_v2_the_container_is_born_in_its_cgroup() {
    if reference_lacks("runc 1.1.5 moves its init with a cgroup.procs write") {
        return;
    }
    if host_lacks(
        on_v1("memory"),
        "clone3(CLONE_INTO_CGROUP) is used on pure cgroup v2 hosts (tests/v2vm.sh runs this)",
    ) {
        return;
    }
    let rt = Runtime::new();
    let b = Bundle::busybox(&["cat", "/proc/self/cgroup"]);
    let out = rt.run_with(&b, &["--debug"]).ok();
    assert!(
        !out.stderr.contains("CLONE_INTO_CGROUP"),
        "fell back to a cgroup.procs write: {}",
        out.stderr
    );
    assert_eq!(
        out.stdout.trim(),
        format!("0::/{}", cgroups::cgroups_path(&b.id))
    );
}
