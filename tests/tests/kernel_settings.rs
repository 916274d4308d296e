//! Process and kernel settings (runtime-spec v1.3 config.md "Linux Process" and config-linux.md):
//! `linux.sysctl`, `linux.personality`, `process.ioPriority`, `process.scheduler`,
//! `linux.memoryPolicy`, `process.execCPUAffinity`, `linux.intelRdt`, `process.selinuxLabel`,
//! `process.apparmorProfile`, and `process.rlimits` above what the runtime may raise. Each
//! setting is read back from inside the container; each refusal names the field and leaves
//! nothing behind.

#![allow(clippy::unwrap_used)] // tests may unwrap (project rules)

use std::path::Path;
use std::process::Command;

use husk_tests::{host_lacks, reference_lacks, runtime, Bundle, Outcome, Runtime};
use serde_json::json;

/// `create` must fail naming every one of `words`, and leave nothing behind.
fn refused(b: &Bundle, words: &[&str]) -> Outcome {
    let rt = Runtime::new();
    let o = rt.create_with(b, &b.id, &[]).failed();
    o.stderr_mentions(words);
    rt.assert_left_nothing(b);
    o
}

/// The value of a `Name:\tvalue` line of /proc/PID/status text.
fn status_field<'a>(status: &'a str, name: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in {status}"))
        .trim()
}

// --- linux.sysctl ---

#[test]
fn sysctls_of_private_namespaces_are_set_inside_only() {
    let rt = Runtime::new();
    let host_forward = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let host_shmmni = std::fs::read_to_string("/proc/sys/kernel/shmmni").unwrap();
    let want_forward = if host_forward.trim() == "1" { "0" } else { "1" };
    let mut b = Bundle::busybox(&[
        "cat",
        "/proc/sys/net/ipv4/ip_forward",
        "/proc/sys/kernel/shmmni",
        "/proc/sys/fs/mqueue/msg_max",
        "/proc/sys/net/ipv4/ip_unprivileged_port_start",
    ]);
    b.set(
        "/linux/sysctl",
        json!({
            "net.ipv4.ip_forward": want_forward,
            "kernel.shmmni": "1234",
            "fs.mqueue.msg_max": "17",
            // `/` separators, as sysctl(8) accepts them.
            "net/ipv4/ip_unprivileged_port_start": "555"
        }),
    );
    assert_eq!(rt.run_ok(&b), format!("{want_forward}\n1234\n17\n555\n"));
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        host_forward,
        "the host's net.ipv4.ip_forward changed"
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/shmmni").unwrap(),
        host_shmmni,
        "the host's kernel.shmmni changed"
    );
}

#[test]
fn kernel_hostname_sysctl_sets_the_container_s_hostname() {
    if reference_lacks("runc 1.1.5 refuses kernel.hostname in linux.sysctl even without hostname") {
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["hostname"]);
    b.remove("/hostname");
    b.set("/linux/sysctl", json!({"kernel.hostname": "from-sysctl"}));
    assert_eq!(rt.run_ok(&b), "from-sysctl\n");
}

#[test]
fn a_net_sysctl_without_a_network_namespace_is_refused() {
    let mut b = Bundle::busybox(&["true"]);
    b.namespaces(&["pid", "ipc", "uts", "mount"]);
    b.set("/linux/sysctl", json!({"net.ipv4.ip_forward": "1"}));
    let o = refused(&b, &["net.ipv4.ip_forward"]);
    if !reference_lacks("husk's message names the JSON path linux.sysctl.\"KEY\"") {
        o.stderr_mentions(&["linux.sysctl.\"net.ipv4.ip_forward\"", "network"]);
    }
}

#[test]
fn a_net_sysctl_in_the_host_network_namespace_joined_by_path_is_refused() {
    if reference_lacks("runc 1.1.5 compares only /proc/PID/ns paths, not the namespace itself") {
        return;
    }
    let mut b = Bundle::busybox(&["true"]);
    b.namespace("network", Some("/proc/self/ns/net"));
    b.set("/linux/sysctl", json!({"net.core.somaxconn": "256"}));
    refused(&b, &["linux.sysctl.\"net.core.somaxconn\"", "host's"]);
}

#[test]
fn an_ipc_sysctl_without_an_ipc_namespace_is_refused() {
    let mut b = Bundle::busybox(&["true"]);
    b.namespaces(&["pid", "network", "uts", "mount"]);
    b.set("/linux/sysctl", json!({"kernel.shmmax": "4096"}));
    refused(&b, &["kernel.shmmax"]);
}

#[test]
fn a_host_wide_sysctl_is_refused() {
    let mut b = Bundle::busybox(&["true"]);
    b.set("/linux/sysctl", json!({"vm.swappiness": "10"}));
    refused(&b, &["vm.swappiness"]);
}

#[test]
fn a_sysctl_key_climbing_out_of_its_namespace_is_refused() {
    if reference_lacks("runc 1.1.5 replaces dots only and would write the path as given") {
        return;
    }
    let mut b = Bundle::busybox(&["true"]);
    b.set(
        "/linux/sysctl",
        json!({"net/../kernel/core_pattern": "|/bin/false"}),
    );
    refused(&b, &["linux.sysctl.\"net/../kernel/core_pattern\""]);
}

#[test]
fn a_value_the_kernel_refuses_names_the_key_and_value() {
    let mut b = Bundle::busybox(&["true"]);
    b.set(
        "/linux/sysctl",
        json!({"net.ipv4.ip_forward": "not-a-number"}),
    );
    let o = refused(&b, &["ip_forward"]);
    if !reference_lacks("runc 1.1.5's message names neither the key nor the value") {
        o.stderr_mentions(&["linux.sysctl.\"net.ipv4.ip_forward\"", "not-a-number"]);
    }
}

#[test]
fn an_unknown_net_sysctl_names_the_key() {
    let mut b = Bundle::busybox(&["true"]);
    b.set("/linux/sysctl", json!({"net.ipv4.husk_no_such_knob": "1"}));
    refused(&b, &["husk_no_such_knob"]);
}

// --- linux.personality ---

#[test]
fn personality_linux32_makes_uname_report_i686() {
    if reference_lacks("runc 1.1.5 ignores linux.personality") {
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["uname", "-m"]);
    b.set("/linux/personality", json!({"domain": "LINUX32"}));
    assert_eq!(rt.run_ok(&b), "i686\n");
    let mut b = Bundle::busybox(&["uname", "-m"]);
    b.set("/linux/personality", json!({"domain": "LINUX"}));
    assert_eq!(rt.run_ok(&b), format!("{}\n", std::env::consts::ARCH));
}

#[test]
fn personality_flags_are_refused() {
    if reference_lacks("runc 1.1.5 predates linux.personality") {
        return;
    }
    let mut b = Bundle::busybox(&["true"]);
    b.set(
        "/linux/personality",
        json!({"domain": "LINUX", "flags": ["ADDR_NO_RANDOMIZE"]}),
    );
    refused(&b, &["linux.personality.flags[0]", "ADDR_NO_RANDOMIZE"]);
}

// --- process.ioPriority ---

#[test]
fn io_priority_is_the_container_process_s() {
    if reference_lacks("runc 1.1.5 predates process.ioPriority") {
        return;
    }
    let rt = Runtime::new();
    for (class, prio, want) in [
        ("IOPRIO_CLASS_BE", 6, "best-effort: prio 6"),
        ("IOPRIO_CLASS_RT", 2, "realtime: prio 2"),
        ("IOPRIO_CLASS_IDLE", 0, "idle"),
    ] {
        // ionice(1) without arguments prints its own class, inherited from the init.
        let mut b = Bundle::minbase(&["ionice"]);
        b.set(
            "/process/ioPriority",
            json!({"class": class, "priority": prio}),
        );
        assert_eq!(rt.run_ok(&b), format!("{want}\n"), "{class}");
    }
}

#[test]
fn an_io_priority_level_above_7_is_refused() {
    if reference_lacks("runc 1.1.5 predates process.ioPriority") {
        return;
    }
    let mut b = Bundle::busybox(&["true"]);
    b.set(
        "/process/ioPriority",
        json!({"class": "IOPRIO_CLASS_BE", "priority": 8}),
    );
    refused(&b, &["process.ioPriority.priority"]);
}

// --- process.scheduler ---

#[test]
fn scheduler_policy_nice_and_flags_reach_the_process() {
    if reference_lacks("runc 1.1.5 predates process.scheduler") {
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::minbase(&["sh", "-c", "chrt -p $$; nice"]);
    b.set(
        "/process/scheduler",
        json!({"policy": "SCHED_BATCH", "nice": 7}),
    );
    assert_eq!(
        rt.run_ok(&b),
        "pid 1's current scheduling policy: SCHED_BATCH\n\
         pid 1's current scheduling priority: 0\n7\n"
    );
    let mut b = Bundle::minbase(&["sh", "-c", "chrt -p $$"]);
    b.set(
        "/process/scheduler",
        json!({"policy": "SCHED_IDLE", "flags": ["SCHED_FLAG_RESET_ON_FORK"]}),
    );
    assert_eq!(
        rt.run_ok(&b),
        "pid 1's current scheduling policy: SCHED_IDLE|SCHED_RESET_ON_FORK\n\
         pid 1's current scheduling priority: 0\n"
    );
}

#[test]
fn a_real_time_priority_is_checked_by_field() {
    if reference_lacks("runc 1.1.5 predates process.scheduler") {
        return;
    }
    let mut b = Bundle::busybox(&["true"]);
    b.set(
        "/process/scheduler",
        json!({"policy": "SCHED_FIFO", "priority": 100}),
    );
    refused(&b, &["process.scheduler.priority"]);
    let mut b = Bundle::busybox(&["true"]);
    b.set(
        "/process/scheduler",
        json!({"policy": "SCHED_DEADLINE", "runtime": 2000000, "deadline": 1000000}),
    );
    refused(&b, &["process.scheduler.runtime"]);
    let mut b = Bundle::busybox(&["true"]);
    b.set(
        "/process/scheduler",
        json!({"policy": "SCHED_OTHER", "flags": ["SCHED_FLAG_HUSK"]}),
    );
    refused(&b, &["process.scheduler.flags[0]", "SCHED_FLAG_HUSK"]);
}

#[test]
fn sched_fifo_runs_or_fails_at_start_naming_the_scheduler() {
    if reference_lacks("runc 1.1.5 predates process.scheduler") {
        return;
    }
    // With cgroup v1 real-time group scheduling (this host) a new cpu cgroup has no
    // cpu.rt_runtime_us budget and the kernel refuses SCHED_FIFO; without it, it runs.
    let rt = Runtime::new();
    let mut b = Bundle::minbase(&["sh", "-c", "chrt -p $$"]);
    b.set(
        "/process/scheduler",
        json!({"policy": "SCHED_FIFO", "priority": 10}),
    );
    let o = rt.run(&b);
    if o.status.success() {
        assert_eq!(
            o.stdout,
            "pid 1's current scheduling policy: SCHED_FIFO\n\
             pid 1's current scheduling priority: 10\n"
        );
    } else {
        o.stderr_mentions(&["process.scheduler", "sched_setattr", "rt_runtime_us"]);
        rt.assert_left_nothing(&b);
    }
}

// --- linux.memoryPolicy ---

#[test]
fn memory_policy_is_the_process_s_task_policy() {
    if reference_lacks("runc 1.1.5 predates linux.memoryPolicy") {
        return;
    }
    if host_lacks(
        !Path::new("/sys/devices/system/node/node0").exists(),
        "a NUMA-enabled kernel (CONFIG_NUMA)",
    ) {
        return;
    }
    let rt = Runtime::new();
    // numa_maps shows the task's policy for mappings without one of their own (Linux 6.x).
    for (policy, want) in [
        (json!({"mode": "MPOL_BIND", "nodes": "0"}), "bind:0"),
        (
            json!({"mode": "MPOL_INTERLEAVE", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]}),
            "interleave=static:0",
        ),
        (json!({"mode": "MPOL_PREFERRED", "nodes": "0"}), "prefer:0"),
    ] {
        let mut b = Bundle::busybox(&["cat", "/proc/self/numa_maps"]);
        b.set("/linux/memoryPolicy", policy.clone());
        let maps = rt.run_ok(&b);
        let first = maps.lines().next().unwrap_or_default();
        assert_eq!(
            first.split_whitespace().nth(1),
            Some(want),
            "{policy}: {maps}"
        );
    }
    let b = Bundle::busybox(&["cat", "/proc/self/numa_maps"]);
    let maps = rt.run_ok(&b);
    assert_eq!(
        maps.lines().next().unwrap().split_whitespace().nth(1),
        Some("default")
    );
}

#[test]
fn memory_policy_nodes_are_checked() {
    if reference_lacks("runc 1.1.5 predates linux.memoryPolicy") {
        return;
    }
    for (policy, words) in [
        (
            json!({"mode": "MPOL_BIND"}),
            &["linux.memoryPolicy.nodes"][..],
        ),
        (
            json!({"mode": "MPOL_BIND", "nodes": "0-"}),
            &["linux.memoryPolicy.nodes", "0-"][..],
        ),
        (
            json!({"mode": "MPOL_BIND", "nodes": "999"}),
            &["linux.memoryPolicy.nodes", "999"][..],
        ),
        (
            json!({"mode": "MPOL_DEFAULT", "nodes": "0"}),
            &["linux.memoryPolicy.nodes"][..],
        ),
    ] {
        let mut b = Bundle::busybox(&["true"]);
        b.set("/linux/memoryPolicy", policy);
        refused(&b, words);
    }
}

// --- process.execCPUAffinity and the init's CPU affinity ---

/// `run` of `b` through `taskset -c 0` (the runtime pinned to CPU 0).
fn run_pinned(rt: &Runtime, b: &Bundle) -> Outcome {
    b.write();
    rt.adopt(&b.id);
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", "0"])
        .arg(runtime::binary())
        .arg("--root")
        .arg(rt.root())
        .args(["run", "--bundle"])
        .arg(b.path())
        .arg(&b.id)
        .env("HUSK_TEST_MARKER", &b.id);
    runtime::exec(cmd, true)
}

#[test]
fn the_init_runs_on_every_cpu_of_its_cpuset_even_from_a_pinned_runtime() {
    if reference_lacks("runc 1.1.5 passes its own affinity on (runc 1.2 resets it)") {
        return;
    }
    let all = status_field(
        &std::fs::read_to_string("/proc/self/status").unwrap(),
        "Cpus_allowed_list",
    )
    .to_string();
    if host_lacks(!all.contains(['-', ',']), "more than one CPU") {
        return;
    }
    let rt = Runtime::new();
    let b = Bundle::busybox(&["cat", "/proc/self/status"]);
    let o = run_pinned(&rt, &b).ok();
    assert_eq!(status_field(&o.stdout, "Cpus_allowed_list"), all);
}

#[test]
fn exec_cpu_affinity_does_not_apply_to_the_init() {
    // runtime-spec config.md: "This setting is not applicable to the container's init process."
    let all = status_field(
        &std::fs::read_to_string("/proc/self/status").unwrap(),
        "Cpus_allowed_list",
    )
    .to_string();
    if host_lacks(!all.contains(['-', ',']), "more than one CPU") {
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["cat", "/proc/self/status"]);
    b.set(
        "/process/execCPUAffinity",
        json!({"initial": "0", "final": "0"}),
    );
    let o = rt.run(&b).ok();
    assert_eq!(status_field(&o.stdout, "Cpus_allowed_list"), all);
    if !reference_lacks("runc 1.1.5 ignores execCPUAffinity silently") {
        o.stderr_mentions(&["process.execCPUAffinity"]);
    }
}

#[test]
fn exec_cpu_affinity_with_a_missing_cpu_is_refused() {
    if reference_lacks("runc 1.1.5 predates process.execCPUAffinity") {
        return;
    }
    let mut b = Bundle::busybox(&["true"]);
    b.set("/process/execCPUAffinity", json!({"final": "4000"}));
    refused(&b, &["process.execCPUAffinity.final", "4000"]);
}

// --- linux.intelRdt, LSM labels ---

#[test]
fn intel_rdt_without_resctrl_is_refused() {
    let mounted = nix::sys::statfs::statfs("/sys/fs/resctrl").is_ok_and(|s| {
        s.filesystem_type().0 == 0x7655821 // RDTGROUP_SUPER_MAGIC
    });
    if host_lacks(mounted, "a host without resctrl (this one has it mounted)") {
        return;
    }
    if reference_lacks("runc 1.1.5 ignores linux.intelRdt when resctrl is missing") {
        return;
    }
    let mut b = Bundle::busybox(&["true"]);
    b.set("/linux/intelRdt", json!({"closID": "husk-test"}));
    refused(&b, &["linux.intelRdt", "/sys/fs/resctrl"]);
}

#[test]
fn selinux_label_without_selinux_is_refused() {
    if host_lacks(
        Path::new("/sys/fs/selinux/enforce").exists(),
        "a host without SELinux",
    ) {
        return;
    }
    let mut b = Bundle::busybox(&["true"]);
    b.set(
        "/process/selinuxLabel",
        json!("system_u:system_r:container_t:s0:c1,c2"),
    );
    let o = refused(&b, &["selinux"]);
    if !reference_lacks("runc 1.1.5 does not name the field") {
        o.stderr_mentions(&["process.selinuxLabel"]);
    }
}

fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y")
}

#[test]
fn apparmor_profile_without_apparmor_is_refused() {
    if host_lacks(apparmor_enabled(), "a host without AppArmor") {
        return;
    }
    let mut b = Bundle::busybox(&["true"]);
    b.set("/process/apparmorProfile", json!("husk-test-profile"));
    let o = refused(&b, &["apparmor"]);
    if !reference_lacks("runc 1.1.5 does not name the field") {
        o.stderr_mentions(&["process.apparmorProfile", "husk-test-profile"]);
    }
}

#[test]
fn apparmor_profile_is_applied_at_exec() {
    if host_lacks(!apparmor_enabled(), "AppArmor (test it in the v2 guest)") {
        return;
    }
    // `unconfined` always exists; a profile that is not loaded fails at start naming it.
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&["cat", "/proc/self/attr/current"]);
    b.set("/process/apparmorProfile", json!("unconfined"));
    assert_eq!(rt.run_ok(&b).trim(), "unconfined");
    let mut b = Bundle::busybox(&["true"]);
    b.set("/process/apparmorProfile", json!("husk-no-such-profile"));
    rt.run(&b)
        .failed()
        .stderr_mentions(&["husk-no-such-profile"]);
}

/// A profile this test loads into the kernel for its own container and unloads afterwards.
struct LoadedProfile(std::path::PathBuf);

impl Drop for LoadedProfile {
    fn drop(&mut self) {
        let _ = Command::new("apparmor_parser")
            .arg("-R")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn an_apparmor_profile_confines_the_container_s_program() {
    if host_lacks(!apparmor_enabled(), "AppArmor (test it in the v2 guest)") {
        return;
    }
    let parser = Command::new("apparmor_parser").arg("--version").output();
    if host_lacks(
        !parser.is_ok_and(|o| o.status.success()),
        "apparmor_parser (Debian package apparmor) to load a profile",
    ) {
        return;
    }
    // Everything allowed but reading /etc/passwd.
    let dir = tempfile::tempdir().unwrap();
    let name = format!("husk-test-{}", husk_tests::bundle::unique_id());
    let file = dir.path().join("profile");
    std::fs::write(
        &file,
        format!(
            "profile {name} flags=(attach_disconnected) {{\n  file,\n  capability,\n  \
             network,\n  signal,\n  unix,\n  deny /etc/passwd r,\n}}\n"
        ),
    )
    .unwrap();
    let loaded = Command::new("apparmor_parser")
        .arg("-r")
        .arg(&file)
        .output()
        .unwrap();
    assert!(loaded.status.success(), "{loaded:?}");
    let _unload = LoadedProfile(file);
    let rt = Runtime::new();
    let mut b = Bundle::busybox(&[
        "sh",
        "-c",
        "cat /proc/self/attr/current; cat /etc/passwd >/dev/null || echo denied",
    ]);
    b.set("/process/apparmorProfile", json!(name));
    let out = rt.run_ok(&b);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [format!("{name} (enforce)").as_str(), "denied"],
        "{out}"
    );
    // An exec'd process gets the container's profile, or the one --apparmor names.
    let mut running = Bundle::busybox(&["sleep", "1000"]);
    running.set("/process/apparmorProfile", json!(name));
    rt.create_start(&running);
    let show = [
        "sh",
        "-c",
        "cat /proc/self/attr/current; cat /etc/passwd >/dev/null || echo denied",
    ];
    let mut args = vec!["exec", running.id.as_str()];
    args.extend(show);
    let out = rt.cmd(&args).ok().stdout;
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [format!("{name} (enforce)").as_str(), "denied"],
        "{out}"
    );
    let mut args = vec!["exec", "--apparmor", "unconfined", running.id.as_str()];
    args.extend(show);
    let out = rt.cmd(&args).ok().stdout;
    assert_eq!(out.lines().next(), Some("unconfined"), "{out}");
}

// --- process.rlimits ---

#[test]
fn an_rlimit_above_the_runtime_s_hard_limit_is_refused_by_name() {
    let caps = std::fs::read_to_string("/proc/self/status").unwrap();
    let bnd = u64::from_str_radix(status_field(&caps, "CapBnd"), 16).unwrap();
    if host_lacks(
        bnd & (1 << 24) != 0,
        "a host without CAP_SYS_RESOURCE in the bounding set",
    ) {
        return;
    }
    let hard = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .unwrap()
        .1;
    let mut b = Bundle::busybox(&["true"]);
    b.set(
        "/process/rlimits",
        json!([{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": hard + 1}]),
    );
    let o = refused(&b, &["rlimit"]);
    if !reference_lacks("runc 1.1.5 names the rlimit by number (\"type 7\")") {
        o.stderr_mentions(&[
            "process.rlimits[0]",
            "RLIMIT_NOFILE",
            &(hard + 1).to_string(),
        ]);
    }
}
